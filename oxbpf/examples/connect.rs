//! The connect(2) tracer, user-space side, on its generated skeleton: load
//! `connect.bpf.o` (embedded), attach its tracepoint from the section name, and print each
//! `struct connect_event` the program sends through the ring buffer (who called
//! `connect()`, on which fd, to which address), for a few seconds or until Ctrl-C. Run
//! as root: `cargo run -q -p oxbpf --example connect -- --seconds 5`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd as _;
use std::time::Instant;

use oxbpf::maps::events::{TermSignals, poll};
use oxbpf::maps::ringbuf::RingBuf;
use oxbpf::maps::typed::{c_str, record};

#[path = "common/args.rs"]
mod args;

// `oxbpf gen skeleton connect.bpf.o --type connect_event`: the object embedded, and
// `struct connect_event` as the program lays it out.
include!("skel/connect_skel.rs");
use connect::types::connect_event;

impl connect_event {
    /// The address as `connect()` was given it, as far as the 14 bytes of `sa_data`
    /// (after the family) tell.
    fn address(&self) -> String {
        let a = &self.addr;
        let port = u16::from_be_bytes([a[0], a[1]]);
        match i32::from(self.family) {
            libc::AF_INET => format!("{}:{port}", Ipv4Addr::new(a[2], a[3], a[4], a[5])),
            // sockaddr_in6: port, flow info, then only the first 8 of the 16 address
            // bytes fit in `sa_data`.
            libc::AF_INET6 => {
                let mut ip = [0u8; 16];
                ip[..8].copy_from_slice(&a[6..14]);
                format!("[{}…]:{port}", Ipv6Addr::from(ip))
            }
            libc::AF_UNIX => {
                let end = a.iter().position(|&c| c == 0).unwrap_or(a.len());
                format!("unix {}…", String::from_utf8_lossy(&a[..end]))
            }
            0 => "(no address readable)".into(),
            f => format!("family {f}"),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_, run_for) = args::parse("usage: connect [--seconds N]", false)?;
    // Ctrl-C and SIGTERM arrive through an fd, so the loop below ends cleanly.
    let signals = TermSignals::new()?;
    let mut skel = connect::OpenSkel::open()?.load()?;
    skel.attach()?;
    for link in &skel.links {
        println!("attached: {}", link.describe());
    }
    let events = skel.maps()?.events;
    let mut ring = RingBuf::new(events)?;
    let deadline = Instant::now() + run_for;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        // The ring buffer's fd is readable when records are waiting.
        let wait = left.as_micros().div_ceil(1000).min(500) as i32;
        poll(&[signals.as_fd(), events.as_fd()], wait)?;
        if signals.take().is_some() {
            break;
        }
        ring.consume(|r| match record::<connect_event>(r) {
            Some(e) => println!(
                "{} (pid {}) fd {} → {}",
                c_str(&e.comm),
                e.pid,
                e.fd,
                e.address()
            ),
            None => println!("a record of {} bytes, too short for an event", r.len()),
        })?;
    }
    drop(ring);
    drop(skel);
    println!("detached");
    Ok(())
}
