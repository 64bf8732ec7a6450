//! oxbpf's benchmarks. Speed is measured here, never asserted in tests.
//!
//! `cargo run --release -p oxbpf-bench -- btf` measures parsing and indexing the running
//! kernel's BTF (`/sys/kernel/btf/vmlinux`): wall time as the median and minimum of many
//! runs in one process, and memory as the growth of a fresh process's resident set (each
//! memory figure comes from a child process that does only that one thing).
//!
//! The goal (issue "BTF"): parse and name index in at most half the time libbpf takes to
//! parse, growing the process by at most 1 MiB. The side-by-side runs with libbpf and aya
//! belong to the benchmark issue and are added here with it.

use std::process::{Command, ExitCode};
use std::time::Instant;

use oxbpf_loader::btf::{Btf, Kind};

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Child mode: parse once and report the growth of the resident set.
fn child_btf_memory() -> ExitCode {
    let (before, _) = rss_kib();
    let btf = match Btf::from_sysfs() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read vmlinux BTF: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Use the index so nothing is optimised away.
    let found = btf.find("task_struct", Kind::Struct).is_some();
    let (after, peak) = rss_kib();
    println!(
        "{} {} {}",
        after.saturating_sub(before),
        peak.saturating_sub(before),
        found
    );
    ExitCode::SUCCESS
}

fn bench_btf() -> ExitCode {
    const RUNS: usize = 200;
    let mut times = Vec::with_capacity(RUNS);
    let mut types = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let btf = match Btf::from_sysfs() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("cannot read vmlinux BTF: {e}");
                return ExitCode::FAILURE;
            }
        };
        let hit = btf.find("task_struct", Kind::Struct);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        types = btf.last_id().0;
        assert!(hit.is_some());
    }
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let med = median(&mut times);

    let exe = std::env::current_exe().expect("own path");
    let mut grow = Vec::new();
    let mut peak = Vec::new();
    for _ in 0..5 {
        let out = Command::new(&exe)
            .arg("--child-btf-memory")
            .output()
            .expect("run child");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut f = text
            .split_whitespace()
            .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
        grow.push(f.next().unwrap_or(f64::NAN));
        peak.push(f.next().unwrap_or(f64::NAN));
    }
    println!("vmlinux BTF: {types} types");
    println!("{:<44} {:>10} {:>10}", "measurement", "median", "min");
    println!(
        "{:<44} {:>8.3}ms {:>8.3}ms",
        "oxbpf parse + type-name index (mapped file)", med, min
    );
    println!(
        "{:<44} {:>7.0}KiB",
        "oxbpf resident set growth (fresh process)",
        median(&mut grow)
    );
    println!(
        "{:<44} {:>7.0}KiB",
        "oxbpf peak resident set growth",
        median(&mut peak)
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--child-btf-memory") => child_btf_memory(),
        Some("btf") | None => bench_btf(),
        Some(other) => {
            eprintln!("unknown benchmark `{other}`; available: btf");
            ExitCode::FAILURE
        }
    }
}
