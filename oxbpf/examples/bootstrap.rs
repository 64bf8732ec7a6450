//! libbpf-bootstrap's "bootstrap", user-space side, with the oxbpf library: set the
//! `.rodata` option `min_duration_ns`, load, attach both tracepoints, run `/bin/true`,
//! and print the exec and exit events the programs send through the ring buffer. Run
//! from `testdata/` as root: `cargo run -q -p oxbpf --example bootstrap`.

use std::time::{Duration, Instant};

use oxbpf::maps::ringbuf::RingBuf;
use oxbpf::prelude::*;
use oxbpf::program::AutoAttach;
use oxbpf::{LoadOptions, Object};

/// `struct event` of bootstrap.bpf.c, read field by field from a record.
struct Event {
    pid: i32,
    ppid: i32,
    exit_code: u32,
    duration_ns: u64,
    comm: String,
    filename: String,
    exit_event: bool,
}

impl Event {
    fn parse(r: &[u8]) -> Option<Event> {
        let u32_at = |o: usize| {
            r.get(o..o + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_ne_bytes)
        };
        let text = |o: usize, n: usize| {
            let b = r.get(o..o + n).unwrap_or(&[]);
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        };
        Some(Event {
            pid: u32_at(0)? as i32,
            ppid: u32_at(4)? as i32,
            exit_code: u32_at(8)?,
            duration_ns: r.get(16..24)?.try_into().ok().map(u64::from_ne_bytes)?,
            comm: text(24, 16),
            filename: text(40, 127),
            exit_event: *r.get(167)? != 0,
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut obj = Object::open("bootstrap.bpf.o")?;
    obj.set_global("min_duration_ns", &0u64.to_ne_bytes())?;
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
            let Some(e) = Event::parse(r) else { return };
            if e.comm != "true" {
                return; // other processes on the machine
            }
            if e.exit_event {
                println!(
                    "EXIT {} pid {} ppid {} exit code {} after {} ms",
                    e.comm,
                    e.pid,
                    e.ppid,
                    e.exit_code,
                    e.duration_ns / 1_000_000
                );
                done = true;
            } else {
                println!(
                    "EXEC {} pid {} ppid {} {}",
                    e.comm, e.pid, e.ppid, e.filename
                );
            }
        })?;
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(links);
    println!("detached");
    Ok(())
}
