//! libbpf-bootstrap's "minimal", user-space side, with the oxbpf library: load
//! `minimal.bpf.o` with this process's PID in `my_pid`, attach its tracepoint from the
//! section name, write a few lines, and print what the program said through
//! `bpf_printk` (the trace pipe). Run from `testdata/` as root:
//! `cargo run -q -p oxbpf --example minimal`.

use std::io::Write as _;
use std::time::{Duration, Instant};

use oxbpf::maps::events::poll;
use oxbpf::prelude::*;
use oxbpf::program::AutoAttach;
use oxbpf::program::tracefs::TracePipe;
use oxbpf::{LoadOptions, Object};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut obj = Object::open("minimal.bpf.o")?;
    let pid = std::process::id() as i32;
    obj.set_global("my_pid", &pid.to_ne_bytes())?;
    let loaded = obj.load(&LoadOptions::default())?;
    let prog = loaded.program("handle_tp").ok_or("no handle_tp")?;
    let AutoAttach::Attached(link) = prog.attach_auto()? else {
        return Err("handle_tp's section names no tracepoint".into());
    };
    println!("attached: {}", link.describe());
    let pipe = TracePipe::open()?;
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut seen = 0;
    while Instant::now() < deadline && seen < 3 {
        // Each write(2) of ours fires the tracepoint.
        writeln!(std::io::stderr(), "a write from pid {pid}")?;
        poll(&[std::os::fd::AsFd::as_fd(&pipe)], 100)?;
        for line in String::from_utf8_lossy(&pipe.read_available()?).lines() {
            if let Some((_, msg)) = line.split_once("bpf_trace_printk: ") {
                println!("printk: {msg}");
                seen += 1;
            }
        }
    }
    // Dropping the link detaches the program; dropping `loaded` unloads it.
    drop(link);
    println!("detached");
    Ok(())
}
