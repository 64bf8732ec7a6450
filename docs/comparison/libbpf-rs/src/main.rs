//! libbpf-bootstrap's "bootstrap" user space with libbpf-rs: set `min_duration_ns`
//! (`-d MS`), load, attach both tracepoints, print each exec and exit event from the ring
//! buffer until Ctrl-C. Built on the skeleton libbpf-cargo generates in build.rs.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{ErrorKind, RingBufferBuilder};
use plain::Plain;

mod bootstrap {
    include!(concat!(env!("OUT_DIR"), "/bootstrap.skel.rs"));
}
use bootstrap::*;

// SAFETY: `event` is C data written whole by the BPF program (as libbpf-rs's examples
// declare their events `Plain`).
unsafe impl Plain for types::event {}

/// `-d MS`: report only processes that lived at least MS milliseconds.
fn min_duration_ns() -> Result<u64> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(0),
        [flag, ms] if flag == "-d" => Ok(ms.parse::<u64>()? * 1_000_000),
        _ => bail!("usage: bootstrap [-d MIN-DURATION-MS]"),
    }
}

/// The time of day as HH:MM:SS (UTC).
fn time_of_day() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60)
}

/// A NUL-terminated C string field (`[i8; N]` in the skeleton) as text.
fn c_str(field: &[i8]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn handle_event(data: &[u8]) -> i32 {
    let Ok(e) = plain::from_bytes::<types::event>(data) else {
        return 0;
    };
    let ts = time_of_day();
    // SAFETY: the program sets `exit_event` in every record (the skeleton types a C
    // `bool` as `MaybeUninit<bool>`).
    if unsafe { e.exit_event.assume_init() } {
        let ms = match e.duration_ns {
            0 => String::new(),
            ns => format!(" ({}ms)", ns / 1_000_000),
        };
        let (comm, pid, ppid) = (c_str(&e.comm), e.pid, e.ppid);
        println!(
            "{ts:<8} EXIT  {comm:<16} {pid:<7} {ppid:<7} [{}]{ms}",
            e.exit_code
        );
    } else {
        let (comm, pid, ppid) = (c_str(&e.comm), e.pid, e.ppid);
        println!(
            "{ts:<8} EXEC  {comm:<16} {pid:<7} {ppid:<7} {}",
            c_str(&e.filename)
        );
    }
    0
}

fn main() -> Result<()> {
    let min_duration_ns = min_duration_ns()?;
    let running = Arc::new(AtomicBool::new(true));
    let r = running.clone();
    ctrlc::set_handler(move || r.store(false, Ordering::SeqCst))?;

    let mut open_object = MaybeUninit::uninit();
    let mut open_skel = BootstrapSkelBuilder::default().open(&mut open_object)?;
    let rodata = open_skel
        .maps
        .rodata_data
        .as_deref_mut()
        .expect("`rodata` is memory mapped");
    rodata.min_duration_ns = min_duration_ns;
    let mut skel = open_skel.load()?;
    skel.attach()?;

    let mut builder = RingBufferBuilder::new();
    builder.add(&skel.maps.rb, handle_event)?;
    let ringbuf = builder.build()?;
    println!(
        "{:<8} {:<5} {:<16} {:<7} {:<7} FILENAME/EXIT CODE",
        "TIME", "EVENT", "COMM", "PID", "PPID"
    );
    while running.load(Ordering::SeqCst) {
        match ringbuf.poll(Duration::from_millis(100)) {
            Err(e) if e.kind() == ErrorKind::Interrupted => break,
            other => other?,
        }
    }
    Ok(())
}
