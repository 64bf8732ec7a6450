//! libbpf-bootstrap's "bootstrap" again, its ring buffer awaited in a tokio runtime
//! (the `tokio` feature): the same events as `bootstrap`, read by an async task. Run
//! from `testdata/` as root: `cargo run -q -p oxbpf --example bootstrap_async`.

use std::cell::Cell;
use std::time::Duration;

use oxbpf::maps::ringbuf::{AsyncRingBufs, RingBufs};
use oxbpf::maps::typed::{c_str, record};
use oxbpf::prelude::*;
use oxbpf::program::AutoAttach;
use oxbpf::{LoadOptions, Object};

/// `struct event` of bootstrap.bpf.c (see the `bootstrap` example).
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Event {
    pid: i32,
    ppid: i32,
    exit_code: u32,
    _pad: u32,
    duration_ns: u64,
    comm: [u8; 16],
    filename: [u8; 127],
    exit_event: u8,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut obj = Object::open("bootstrap.bpf.o")?;
    obj.set_global("min_duration_ns", bytemuck::bytes_of(&0u64))?;
    let loaded = obj.load(&LoadOptions::default())?;
    let mut links = Vec::new();
    for p in &loaded.programs {
        if let AutoAttach::Attached(link) = p.attach_auto()? {
            println!("attached: {}", link.describe());
            links.push(link);
        }
    }
    let done = Cell::new(false);
    let mut set = RingBufs::new()?;
    set.add(loaded.map("rb").ok_or("no map rb")?, |r: &[u8]| {
        let Some(e) = record::<Event>(r) else { return };
        let comm = c_str(&e.comm);
        if comm != "true" {
            return; // other processes on the machine
        }
        if e.exit_event != 0 {
            println!("EXIT {comm} pid {} exit code {}", e.pid, e.exit_code);
            done.set(true);
        } else {
            println!("EXEC {comm} pid {} {}", e.pid, c_str(&e.filename));
        }
    })?;
    let mut events = AsyncRingBufs::new(set)?;
    // The process to trace, run while the consumer awaits its events.
    let mut child = std::process::Command::new("/bin/true").spawn()?;
    tokio::time::timeout(Duration::from_secs(2), async {
        while !done.get() {
            events.next().await?;
        }
        Ok::<(), oxbpf::maps::MapError>(())
    })
    .await??;
    child.wait()?;
    drop(links);
    println!("detached");
    Ok(())
}
