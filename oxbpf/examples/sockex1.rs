//! The kernel's `samples/bpf/sockex1`, user-space side, with the oxbpf library: load
//! `sockex1.bpf.o`, attach its socket filter to a raw packet socket bound to the
//! interface given as argument (`SO_ATTACH_BPF`), and print every second the bytes the
//! filter counted per IP protocol in `my_map` (an array indexed by protocol number),
//! for a few seconds or until Ctrl-C. Run from `testdata/` as root:
//! `cargo run -q -p oxbpf --example sockex1 -- lo --seconds 5`.

use std::os::fd::AsFd as _;
use std::time::{Duration, Instant};

use oxbpf::maps::events::{TermSignals, poll};
use oxbpf::maps::typed::Array;
use oxbpf::prelude::*;
use oxbpf::{LoadOptions, Object};

#[path = "common/args.rs"]
mod args;

const USAGE: &str = "usage: sockex1 IFACE [--seconds N]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (iface, run_for) = args::iface_and_seconds(USAGE)?;
    let signals = TermSignals::new()?;
    let loaded = Object::open("sockex1.bpf.o")?.load(&LoadOptions::default())?;
    let prog = loaded.program("bpf_prog1").ok_or("no bpf_prog1")?;
    // An AF_PACKET socket seeing every packet on the interface, as samples/bpf's
    // open_raw_sock() makes; the filter runs on each one (and keeps none).
    let sock = oxbpf::program::socket::open_raw_sock(&iface)
        .map_err(|e| format!("raw socket on {iface:?}: {}: {}", e.call, e.source))?;
    let link = prog.attach_socket(sock.as_fd())?;
    println!("attached: {}", link.describe());
    // Bytes per IP protocol number, counted by the filter.
    let counts = Array::<u64>::new(loaded.map("my_map").ok_or("no map my_map")?)?;
    let bytes = |proto: i32| counts.get(proto as u32);
    // A line each second, and one at the end.
    let start = Instant::now();
    let mut shown = Duration::ZERO;
    while shown < run_for {
        shown = (shown + Duration::from_secs(1)).min(run_for);
        let wait = (start + shown).saturating_duration_since(Instant::now());
        poll(&[signals.as_fd()], wait.as_micros().div_ceil(1000) as i32)?;
        if signals.take().is_some() {
            break;
        }
        println!(
            "TCP {} UDP {} ICMP {} bytes",
            bytes(libc::IPPROTO_TCP)?,
            bytes(libc::IPPROTO_UDP)?,
            bytes(libc::IPPROTO_ICMP)?
        );
    }
    // Detaches the filter (SO_DETACH_BPF); `sock` closes after it.
    drop(link);
    println!("detached");
    Ok(())
}
