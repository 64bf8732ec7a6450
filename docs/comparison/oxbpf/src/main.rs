//! libbpf-bootstrap's "bootstrap" user space with oxbpf: set `min_duration_ns` (`-d MS`),
//! load the clang-built object through its generated skeleton, attach both tracepoints, print each exec and exit event
//! from the ring buffer until Ctrl-C (or SIGTERM).

use std::error::Error;
use std::time::{SystemTime, UNIX_EPOCH};

use oxbpf::maps::events::TermSignals;
use oxbpf::maps::ringbuf::RingBufs;
use oxbpf::maps::typed::{c_str, record};

include!(concat!(env!("OUT_DIR"), "/bootstrap.skel.rs"));
use bootstrap::types::event;

/// `-d MS`: report only processes that lived at least MS milliseconds.
fn min_duration_ns() -> Result<u64, Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(0),
        [flag, ms] if flag == "-d" => Ok(ms.parse::<u64>()? * 1_000_000),
        _ => Err("usage: bootstrap [-d MIN-DURATION-MS]".into()),
    }
}

/// The time of day as HH:MM:SS (UTC).
fn time_of_day() -> String {
    let s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60)
}

fn handle_event(data: &[u8]) {
    let Some(e) = record::<event>(data) else {
        return;
    };
    let ts = time_of_day();
    if e.exit_event != 0 {
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
}

fn main() -> Result<(), Box<dyn Error>> {
    let min_duration_ns = min_duration_ns()?;
    let term = TermSignals::new()?; // SIGINT and SIGTERM, read from an fd

    let mut open = bootstrap::OpenSkel::open()?; // the object, embedded
    open.rodata.min_duration_ns = min_duration_ns;
    let mut skel = open.load()?;
    skel.attach()?;

    let mut rings = RingBufs::new()?;
    rings.add(skel.maps()?.rb, handle_event)?;
    println!(
        "{:<8} {:<5} {:<16} {:<7} {:<7} FILENAME/EXIT CODE",
        "TIME", "EVENT", "COMM", "PID", "PPID"
    );
    while term.take().is_none() {
        rings.poll(100)?;
    }
    Ok(())
}
