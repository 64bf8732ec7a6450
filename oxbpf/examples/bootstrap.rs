//! libbpf-bootstrap's "bootstrap", user-space side, on a skeleton generated from the
//! object (`oxbpf gen skeleton testdata/bootstrap.bpf.o --type event >
//! skel/bootstrap_skel.rs`; a build script would use `oxbpf_build::Skeleton`): set the
//! `.rodata` option, load, attach both tracepoints, run `/bin/true`, and print the exec
//! and exit events the programs send through the ring buffer, as typed records. The
//! object is embedded. Run as root: `cargo run -q -p oxbpf --example bootstrap`.

use std::time::{Duration, Instant};

use oxbpf::maps::ringbuf::RingBuf;
use oxbpf::maps::typed::{c_str, record};

include!("skel/bootstrap_skel.rs");
use bootstrap::types::event;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut open = bootstrap::OpenSkel::open()?;
    open.rodata.min_duration_ns = 0;
    let mut skel = open.load()?;
    skel.attach()?;
    for link in &skel.links {
        println!("attached: {}", link.describe());
    }
    let mut ring = RingBuf::new(skel.maps()?.rb)?;
    std::process::Command::new("/bin/true").status()?;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut done = false;
    while Instant::now() < deadline && !done {
        ring.consume(|r| {
            let Some(e) = record::<event>(r) else { return };
            let comm = c_str(&e.comm);
            if comm != "true" {
                return; // other processes on the machine
            }
            if e.exit_event != 0 {
                let ms = e.duration_ns / 1_000_000;
                println!(
                    "EXIT {comm} pid {} ppid {} exit code {} after {ms} ms",
                    e.pid, e.ppid, e.exit_code
                );
                done = true;
            } else {
                println!(
                    "EXEC {comm} pid {} ppid {} {}",
                    e.pid,
                    e.ppid,
                    c_str(&e.filename)
                );
            }
        })?;
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(skel);
    println!("detached");
    Ok(())
}
