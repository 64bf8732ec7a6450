//! libbpf-bootstrap's "bootstrap" user space with aya: set `min_duration_ns` (`-d MS`),
//! load the clang-built object, attach both tracepoints, print each exec and exit event
//! from the ring buffer until Ctrl-C.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use aya::maps::RingBuf;
use aya::programs::TracePoint;
use aya::{include_bytes_aligned, EbpfLoader};
use tokio::io::unix::AsyncFd;
use tokio::signal;

/// `struct event` of bootstrap.bpf.c (`#[repr(C)]` puts the padding after `exit_code`).
#[repr(C)]
#[derive(Clone, Copy)]
struct Event {
    pid: i32,
    ppid: i32,
    exit_code: u32,
    duration_ns: u64,
    comm: [u8; 16],
    filename: [u8; 127],
    exit_event: bool,
}

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

/// A NUL-terminated C string field as text.
fn c_str(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn handle_event(data: &[u8]) {
    if data.len() < size_of::<Event>() {
        return;
    }
    // SAFETY: the record holds a whole `struct event`, written by the program
    // (`exit_event` is 0 or 1).
    let e = unsafe { data.as_ptr().cast::<Event>().read_unaligned() };
    let ts = time_of_day();
    if e.exit_event {
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

#[tokio::main]
async fn main() -> Result<()> {
    let min_duration_ns = min_duration_ns()?;
    let mut ebpf = EbpfLoader::new()
        .override_global("min_duration_ns", &min_duration_ns, true)
        .load(include_bytes_aligned!("bootstrap.bpf.o"))?;
    for (name, tracepoint) in [
        ("handle_exec", "sched_process_exec"),
        ("handle_exit", "sched_process_exit"),
    ] {
        let program: &mut TracePoint = ebpf.program_mut(name).unwrap().try_into()?;
        program.load()?;
        program.attach("sched", tracepoint)?;
    }

    let ring = RingBuf::try_from(ebpf.take_map("rb").unwrap())?;
    let mut ring = AsyncFd::new(ring)?;
    let ctrl_c = signal::ctrl_c();
    tokio::pin!(ctrl_c);
    println!(
        "{:<8} {:<5} {:<16} {:<7} {:<7} FILENAME/EXIT CODE",
        "TIME", "EVENT", "COMM", "PID", "PPID"
    );
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            guard = ring.readable_mut() => {
                let mut guard = guard?;
                let ring = guard.get_inner_mut();
                while let Some(item) = ring.next() {
                    handle_event(&item);
                }
                guard.clear_ready();
            }
        }
    }
    Ok(())
}
