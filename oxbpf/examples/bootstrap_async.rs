//! libbpf-bootstrap's "bootstrap" again, on the same generated skeleton, its ring
//! buffer awaited in a tokio runtime (the `tokio` feature): the same events as
//! `bootstrap`, read by an async task. Run as root:
//! `cargo run -q -p oxbpf --example bootstrap_async`.

use std::cell::Cell;
use std::time::Duration;

use oxbpf::maps::ringbuf::{AsyncRingBufs, RingBufs};
use oxbpf::maps::typed::{c_str, record};

include!("skel/bootstrap_skel.rs");
use bootstrap::types::event;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut skel = bootstrap::OpenSkel::open()?.load()?;
    skel.attach()?;
    for link in &skel.links {
        println!("attached: {}", link.describe());
    }
    let done = Cell::new(false);
    let mut set = RingBufs::new()?;
    set.add(skel.maps()?.rb, |r: &[u8]| {
        let Some(e) = record::<event>(r) else { return };
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
    drop(events);
    drop(skel);
    println!("detached");
    Ok(())
}
