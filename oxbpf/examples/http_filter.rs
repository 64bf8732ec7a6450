//! The HTTP request filter, user-space side, with the oxbpf library: load
//! `http_filter.bpf.o`, attach its socket filter to a raw packet socket bound to the
//! interface given as argument (`SO_ATTACH_BPF`), and read that socket: it receives only
//! the packets the filter keeps (TCP whose payload starts with `GET ` or `POST`). Prints
//! each one's addresses and request line, for a few seconds or until Ctrl-C. Run from
//! `testdata/` as root: `cargo run -q -p oxbpf --example http_filter -- lo --seconds 5`.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd as _, OwnedFd};
use std::time::Instant;

use oxbpf::maps::events::{TermSignals, poll};
use oxbpf::prelude::*;
use oxbpf::{LoadOptions, Object};

#[path = "common/args.rs"]
mod args;

const USAGE: &str = "usage: http_filter IFACE [--seconds N]";

/// `SRC:PORT → DST:PORT: REQUEST LINE` for an Ethernet + IPv4 + TCP packet, or `None`
/// when it is not one (the filter checked, but the bytes come from the kernel: trust
/// no offset).
fn request(p: &[u8]) -> Option<String> {
    let ip = p.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let addr = |o: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = ip.get(o..o + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    let tcp = ip.get(ihl..)?;
    let port = |o: usize| Some(u16::from_be_bytes([*tcp.get(o)?, *tcp.get(o + 1)?]));
    let payload = tcp.get(usize::from(tcp.get(12)? >> 4) * 4..)?;
    let line = payload.split(|&b| b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some(format!(
        "{}:{} → {}:{}: {}",
        addr(12)?,
        port(0)?,
        addr(16)?,
        port(2)?,
        String::from_utf8_lossy(line)
    ))
}

/// The next packet waiting on `sock`, or `None` when there is none.
fn receive<'b>(sock: &OwnedFd, buf: &'b mut [u8]) -> io::Result<Option<&'b [u8]>> {
    match oxbpf::program::socket::recv_nowait(sock.as_fd(), buf) {
        Ok(n) => Ok(Some(&buf[..n.min(buf.len())])),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (iface, run_for) = args::iface_and_seconds(USAGE)?;
    let signals = TermSignals::new()?;
    let loaded = Object::open("http_filter.bpf.o")?.load(&LoadOptions::default())?;
    let prog = loaded.program("http_filter").ok_or("no http_filter")?;
    let sock = oxbpf::program::socket::open_raw_sock(&iface)
        .map_err(|e| format!("raw socket on {iface:?}: {}: {}", e.call, e.source))?;
    let link = prog.attach_socket(sock.as_fd())?;
    println!("attached: {}", link.describe());
    // What arrived between bind and attach went unfiltered: drop it.
    let mut buf = vec![0u8; 65536];
    while receive(&sock, &mut buf)?.is_some() {}
    let deadline = Instant::now() + run_for;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        poll(
            &[signals.as_fd(), sock.as_fd()],
            left.as_micros().div_ceil(1000).min(500) as i32,
        )?;
        if signals.take().is_some() {
            break;
        }
        // Everything waiting: "nothing more" (EAGAIN) ends the batch.
        while let Some(packet) = receive(&sock, &mut buf)? {
            match request(packet) {
                Some(r) => println!("{r}"),
                None => println!("{} bytes that are not TCP over IPv4", packet.len()),
            }
        }
    }
    drop(link);
    println!("detached");
    Ok(())
}
