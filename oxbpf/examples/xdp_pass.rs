//! XDP's "hello world", user-space side, with the oxbpf library: load `xdp_pass.bpf.o`,
//! attach it to the interface given as argument in generic (skb) mode through a
//! bpf_link, and print what it says through `bpf_printk` (the trace pipe) for a few
//! seconds or until Ctrl-C; the link goes with the process. Run from `testdata/` as
//! root: `cargo run -q -p oxbpf --example xdp_pass -- IFACE --seconds 5`.

use std::os::fd::AsFd as _;
use std::time::Instant;

use oxbpf::maps::events::{TermSignals, poll};
use oxbpf::prelude::*;
use oxbpf::program::XdpMode;
use oxbpf::program::tracefs::TracePipe;
use oxbpf::{LoadOptions, Object};

#[path = "common/args.rs"]
mod args;

const USAGE: &str = "usage: xdp_pass IFACE [--seconds N]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (iface, run_for) = args::iface_and_seconds(USAGE)?;
    let ifindex = oxbpf::program::iface::ifindex(&iface)
        .map_err(|e| format!("interface {iface:?}: {}", e.source))?;
    let signals = TermSignals::new()?;
    // Opened before attaching, and emptied: what it holds now is from before us.
    let pipe = TracePipe::open()?;
    poll(&[pipe.as_fd()], 100)?;
    pipe.read_available()?;
    let loaded = Object::open("xdp_pass.bpf.o")?.load(&LoadOptions::default())?;
    let prog = loaded.program("xdp_pass").ok_or("no xdp_pass")?;
    let link = prog.attach_xdp(ifindex, XdpMode::Skb)?;
    println!("attached: {}", link.describe());
    let deadline = Instant::now() + run_for;
    let mut pending = String::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let wait = left.as_micros().div_ceil(1000).min(500) as i32;
        poll(&[signals.as_fd(), pipe.as_fd()], wait)?;
        if signals.take().is_some() {
            break;
        }
        // Lines can arrive in pieces: print only whole ones.
        pending.push_str(&String::from_utf8_lossy(&pipe.read_available()?));
        while let Some(nl) = pending.find('\n') {
            let line: String = pending.drain(..=nl).collect();
            if let Some((_, msg)) = line.split_once("bpf_trace_printk: ") {
                println!("printk: {}", msg.trim_end());
            }
        }
    }
    // Closing the link's fd detaches the program from the interface.
    drop(link);
    println!("detached");
    Ok(())
}
