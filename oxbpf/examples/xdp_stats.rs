//! The xdp-tutorial's per-action counters, user-space side, with the oxbpf library: load
//! only `xdp_stats_pass` from `xdp_stats_legacy.bpf.o` (its map is a legacy
//! `struct bpf_map_def` in SEC("maps")), attach it to the interface given as argument
//! over netlink (as `ip link set dev IFACE xdp obj …` does), let packets through for a
//! few seconds or until Ctrl-C, detach, and print the packets and bytes counted for
//! each XDP action, summed over the CPUs. Run from `testdata/` as root:
//! `cargo run -q -p oxbpf --example xdp_stats -- IFACE --seconds 5`.

use std::os::fd::AsFd as _;
use std::time::Instant;

use oxbpf::maps::events::{TermSignals, poll};
use oxbpf::maps::typed::PerCpuArray;
use oxbpf::prelude::*;
use oxbpf::program::XdpMode;
use oxbpf::{LoadOptions, Object};

#[path = "common/args.rs"]
mod args;

const USAGE: &str = "usage: xdp_stats IFACE [--seconds N]";

/// The map's keys: `enum xdp_action`.
const ACTIONS: [&str; 5] = [
    "XDP_ABORTED",
    "XDP_DROP",
    "XDP_PASS",
    "XDP_TX",
    "XDP_REDIRECT",
];

/// `struct datarec` of the program: what each CPU counted for one XDP action.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Datarec {
    rx_packets: u64,
    rx_bytes: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (iface, run_for) = args::iface_and_seconds(USAGE)?;
    let ifindex = oxbpf::program::iface::ifindex(&iface)
        .map_err(|e| format!("interface {iface:?}: {}", e.source))?;
    // Before attaching: on Ctrl-C the loop ends and the program is taken off the
    // interface (a netlink attachment, unlike a bpf_link, outlives the process).
    let signals = TermSignals::new()?;
    let mut obj = Object::open("xdp_stats_legacy.bpf.o")?;
    obj.load_only(&["xdp_stats_pass"])?;
    let loaded = obj.load(&LoadOptions::default())?;
    let prog = loaded
        .program("xdp_stats_pass")
        .ok_or("no xdp_stats_pass")?;
    let link = prog.attach_xdp_netlink(ifindex, XdpMode::Auto, false)?;
    println!("attached: {}", link.describe());
    let deadline = Instant::now() + run_for;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        poll(
            &[signals.as_fd()],
            left.as_micros().div_ceil(1000).min(500) as i32,
        )?;
        if signals.take().is_some() {
            break;
        }
    }
    // Removes our program from the interface (and only ours).
    link.detach()?;
    println!("detached");
    let stats =
        PerCpuArray::<Datarec>::new(loaded.map("xdp_stats_map").ok_or("no map xdp_stats_map")?)?;
    for (key, action) in (0u32..).zip(ACTIONS) {
        let (packets, bytes) = stats
            .get(key)?
            .iter()
            .fold((0, 0), |(p, b), cpu| (p + cpu.rx_packets, b + cpu.rx_bytes));
        if packets > 0 {
            println!("{action}: {packets} packets, {bytes} bytes");
        }
    }
    Ok(())
}
