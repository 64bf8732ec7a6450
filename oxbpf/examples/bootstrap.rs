//! libbpf-bootstrap's "bootstrap", user-space side, with the oxbpf library: set the
//! `.rodata` option `min_duration_ns`, load, attach both tracepoints, run `/bin/true`,
//! and print the exec and exit events the programs send through the ring buffer. Run
//! from `testdata/` as root: `cargo run -q -p oxbpf --example bootstrap`.

use std::time::{Duration, Instant};

use oxbpf::maps::ringbuf::RingBuf;
use oxbpf::maps::typed::{c_str, record};
use oxbpf::prelude::*;
use oxbpf::program::AutoAttach;
use oxbpf::{LoadOptions, Object};

/// `struct event` of bootstrap.bpf.c, as the program lays it out (the C compiler's
/// padding after `exit_code` spelled out, so the struct is plain old data).
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    let rb_map = loaded.map("rb").ok_or("no map rb")?;
    let mut ring = RingBuf::new(rb_map)?;
    std::process::Command::new("/bin/true").status()?;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut done = false;
    while Instant::now() < deadline && !done {
        ring.consume(|r| {
            let Some(e) = record::<Event>(r) else { return };
            let comm = c_str(&e.comm);
            if comm != "true" {
                return; // other processes on the machine
            }
            if e.exit_event != 0 {
                println!(
                    "EXIT {} pid {} ppid {} exit code {} after {} ms",
                    comm,
                    e.pid,
                    e.ppid,
                    e.exit_code,
                    e.duration_ns / 1_000_000
                );
                done = true;
            } else {
                println!(
                    "EXEC {} pid {} ppid {} {}",
                    comm,
                    e.pid,
                    e.ppid,
                    c_str(&e.filename)
                );
            }
        })?;
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(links);
    println!("detached");
    Ok(())
}
