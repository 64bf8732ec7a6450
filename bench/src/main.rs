//! oxbpf's benchmarks, side by side with libbpf (libbpf-sys, built from its bundled
//! source) and aya, in one run on one machine. Speed is measured here, never asserted
//! in tests.
//!
//! `sudo cargo run --release -p oxbpf-bench` runs every measurement and prints one
//! table (medians over repeated runs, ratios oxbpf/peer); `-- --write FILE` also writes
//! it as Markdown with the machine described, which is how `bench/RESULTS.md` is made.
//! `-- btf|load|memory|ring|dump|size` runs one group.
//!
//! Methods:
//! - times are wall-clock medians; "user CPU" is the process's user time over the same
//!   runs (getrusage): the loader's own work, since everything the kernel does — the
//!   verifier, map creation, BTF checks, file reads — is system time;
//! - memory is measured on a child process that does only the one thing: its peak
//!   resident set from outside, as GNU time reports it (`ru_maxrss`), or its resident
//!   growth across the operation as it reports it itself;
//! - every peer runs in the same process image, so baselines are equal.

mod btf;
mod dump;
mod libbpf;
mod load;
mod memory;
mod ring;
mod size;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

/// A measured figure for each peer (`None`: the peer cannot do it, with the reason in
/// the row's note).
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub what: String,
    /// Unit of the figures.
    pub unit: &'static str,
    /// oxbpf, libbpf, aya.
    pub figures: [Option<f64>; 3],
    /// Whether more is better (records/s) rather than less (ms, KiB).
    pub higher_is_better: bool,
    /// A remark (what a missing figure means).
    pub note: String,
    /// The goal this row is held to, if any.
    pub goal: Option<Goal>,
}

/// A goal for oxbpf's figure.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// At most this many times libbpf's figure.
    AtMostTimesLibbpf(f64),
    /// At least libbpf's figure (rates).
    AtLeastLibbpf,
    /// At most this much, in the row's unit.
    AtMost(f64),
}

impl Goal {
    fn describe(self, unit: &str) -> String {
        match self {
            Goal::AtMostTimesLibbpf(r) => format!("≤ {r}× libbpf"),
            Goal::AtLeastLibbpf => "≥ libbpf".into(),
            Goal::AtMost(v) => format!("≤ {v} {unit}"),
        }
    }

    fn met(self, [o, l, _]: [Option<f64>; 3]) -> Option<bool> {
        let o = o?;
        Some(match self {
            Goal::AtMostTimesLibbpf(r) => o <= r * l?,
            Goal::AtLeastLibbpf => o >= l?,
            Goal::AtMost(v) => o <= v,
        })
    }
}

impl Row {
    fn new(what: impl Into<String>, unit: &'static str, figures: [Option<f64>; 3]) -> Row {
        Row {
            what: what.into(),
            unit,
            figures,
            higher_is_better: false,
            note: String::new(),
            goal: None,
        }
    }

    fn goal(mut self, goal: Goal) -> Row {
        self.goal = Some(goal);
        self
    }

    fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }
}

/// The median of `v` (NaN when empty).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// User and system CPU time of this process so far, in ms.
pub fn cpu_ms() -> (f64, f64) {
    // SAFETY: `ru` is a live, writable rusage for getrusage to fill.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &raw mut ru);
        ru
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    (ms(ru.ru_utime), ms(ru.ru_stime))
}

/// Wall, user and system time of one call of `f`, in ms.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, [f64; 3]) {
    let (u0, s0) = cpu_ms();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed().as_secs_f64() * 1e3;
    let (u1, s1) = cpu_ms();
    (out, [wall, u1 - u0, s1 - s0])
}

/// `VmRSS` of this process, KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs this binary with `args` under GNU time and returns its stdout and peak
/// resident set in KiB (`ru_maxrss`, measured from outside; through a small `time`
/// process, since a child forked straight from this large one would inherit its
/// high-water mark until exec).
pub fn child(args: &[&str]) -> Result<(String, u64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "maxrss %M"])
        .arg(exe)
        .args(args)
        .output()
        .map_err(|e| format!("/usr/bin/time (apt-get install time): {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("child {args:?} failed: {}", stdout.trim()));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("maxrss "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no peak memory from /usr/bin/time: {stderr}"))?;
    Ok((stdout, kib))
}

/// Gives this process a mount namespace of its own with a bpffs at /sys/fs/bpf, where
/// objects with pinned maps (xdp-tools) pin them; the machine's mounts are untouched.
fn private_bpffs() -> Result<(), String> {
    // SAFETY: unshare and mount with NUL-terminated constant strings; the process is
    // still single-threaded here.
    unsafe {
        oxbpf_sys::ns::unshare(libc::CLONE_NEWNS)
            .map_err(|e| format!("a private mount namespace: {e}"))?;
        if libc::mount(
            c"bpf".as_ptr(),
            c"/sys/fs/bpf".as_ptr(),
            c"bpf".as_ptr(),
            0,
            std::ptr::null(),
        ) != 0
        {
            return Err(format!("mount bpffs: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Removes everything pinned in the private bpffs, so each load starts from nothing.
pub fn clear_pins() {
    fn clear(dir: &std::path::Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                clear(&p);
                let _ = std::fs::remove_dir(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    clear(std::path::Path::new("/sys/fs/bpf"));
}

/// The repository's root (the bench runs from anywhere).
pub fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

fn fmt_fig(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_nan() => "n/a".into(),
        Some(v) if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
        None => "—".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() && b.is_finite() => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

/// The table as Markdown.
fn markdown(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| measurement | unit | oxbpf | libbpf | aya | oxbpf/libbpf | oxbpf/aya | goal | note |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        let [o, l, a] = r.figures;
        let _ = writeln!(
            s,
            "| {} | {}{} | {} | {} | {} | {} | {} | {} | {} |",
            r.what,
            r.unit,
            if r.higher_is_better { " ↑" } else { "" },
            fmt_fig(o),
            fmt_fig(l),
            fmt_fig(a),
            ratio(o, l),
            ratio(o, a),
            r.goal.map_or(String::new(), |g| format!(
                "{} {}",
                g.describe(r.unit),
                match g.met(r.figures) {
                    Some(true) => "✓ met",
                    Some(false) => "✗ not met",
                    None => "?",
                }
            )),
            r.note
        );
    }
    s
}

/// What machine the figures come from.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map_or(0, |k| k / 1024 / 1024);
    format!(
        "Linux {} · {} · {} CPUs · {} GiB · libbpf {} (libbpf-sys) · aya 0.14",
        release.trim(),
        cpu,
        std::thread::available_parallelism().map_or(0, usize::from),
        mem,
        libbpf_version(),
    )
}

fn libbpf_version() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(libbpf_sys::libbpf_version_string()) }
        .to_string_lossy()
        .into_owned()
}

fn run(groups: &[&str]) -> Result<Vec<Row>, String> {
    let all = groups.is_empty();
    let want = |g: &str| all || groups.contains(&g);
    let mut rows = Vec::new();
    if want("btf") {
        eprintln!("· vmlinux BTF");
        rows.extend(btf::run()?);
    }
    if want("load") {
        eprintln!("· open + load of every object");
        rows.extend(load::run()?);
    }
    if want("memory") {
        eprintln!("· peak memory of one CO-RE load");
        rows.extend(memory::run()?);
    }
    if want("ring") {
        eprintln!("· ring buffer consumers");
        rows.extend(ring::run()?);
    }
    if want("dump") {
        eprintln!("· 1,000,000-entry hash map dump");
        rows.extend(dump::run()?);
    }
    if want("size") {
        eprintln!("· binary sizes");
        rows.extend(size::run()?);
    }
    Ok(rows)
}

fn main() -> ExitCode {
    libbpf::silence();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Child modes: one operation, for measurements from outside.
    if args.first().map(String::as_str) == Some("--child") {
        let a: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
        let r = match a.first().copied() {
            Some("btf") => btf::child(&a[1..]),
            Some("load") => memory::child(&a[1..]),
            other => Err(format!("unknown child mode {other:?}")),
        };
        return match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut write = None;
    let mut groups = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--write" => write = it.next().cloned(),
            g @ ("btf" | "load" | "memory" | "ring" | "dump" | "size") => groups.push(g),
            other => {
                eprintln!(
                    "unknown argument `{other}`; groups: btf load memory ring dump size; --write FILE"
                );
                return ExitCode::FAILURE;
            }
        }
    }
    if let Err(e) = private_bpffs() {
        eprintln!("the benchmarks need root (CAP_SYS_ADMIN, CAP_BPF): {e}");
        return ExitCode::FAILURE;
    }
    let rows = match run(&groups) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let table = markdown(&rows);
    let machine = machine();
    println!("{machine}\n\n{table}");
    if let Some(path) = write {
        let date = std::process::Command::new("date")
            .arg("+%Y-%m-%d")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        // Sections after the table (`## ...`: comparisons across changes, written by
        // hand) are kept.
        let kept = std::fs::read_to_string(&path)
            .ok()
            .and_then(|old| old.find("\n## ").map(|at| old[at..].to_string()))
            .unwrap_or_default();
        let text = format!(
            "# Benchmark results\n\nMade by `sudo bench/run.sh` (`cargo run --release -p oxbpf-bench -- --write bench/RESULTS.md`) on {date}.\nMachine: {machine}.\n\nRatios are oxbpf/peer: below 1× oxbpf takes less (time, memory, size); for ↑ rows (rates) above 1× oxbpf is faster.\nMethods are in `bench/src/main.rs` and beside each measurement.\n\n{table}{kept}"
        );
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
