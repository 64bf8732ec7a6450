//! `oxbpf-conformance`: loads every program of a corpus of real objects with oxbpf and
//! with libbpf, and compares per program the verdict (loaded or refused) and, where both
//! load, the program tag — the kernel's hash of the instructions it was given — plus the
//! instructions it kept, the maps used and the func/line info counts. A differing tag
//! is a failure even when both load: the same code must reach the kernel.
//!
//! Each object is loaded by two child processes (one per loader), each in a private
//! mount namespace with a bpffs of its own, under a timeout, so a panic, hang or fd
//! leak is recorded against the object instead of ending the run.
//!
//! ```text
//! oxbpf-conformance check [--jobs N] [--timeout S] [--expected FILE] [--results FILE]
//!                         [--report FILE] CORPUS...
//! ```
//! CORPUS: `testdata`, `debian` (libbpf-tools, xdp-tools, cilium/ebpf's test objects),
//! `selftests` (what `scripts/selftests-corpus.sh` built), or paths of objects,
//! directories of them, or programs with embedded objects. `oxbpf-conformance link`
//! links objects with libbpf's linker, for the corpus; `oxbpf-conformance check-linked`
//! compares it with oxbpf's linker (see `linked.rs`).

mod compare;
mod corpus;
mod facts;
mod libbpf;
mod linked;
mod outcome;
mod oxbpf;
mod report;
mod sizing;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::outcome::ObjectRun;

const USAGE: &str = "usage: oxbpf-conformance check [--jobs N] [--timeout SECONDS] [--expected FILE] [--results FILE] [--report FILE] CORPUS...
CORPUS: testdata | debian | selftests | an object, a directory of objects, or a program with embedded objects
       oxbpf-conformance link OUT.o IN.o... (libbpf 1.7's static linker, as `bpftool gen object`)
       oxbpf-conformance check-linked [--expected FILE] NAME IN.o... (libbpf's link loaded by libbpf vs oxbpf's by oxbpf)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("one") if args.len() == 3 => child(&args[1], Path::new(&args[2])),
        Some("link") if args.len() >= 3 => {
            let inputs: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
            match libbpf::link(Path::new(&args[1]), &inputs) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("oxbpf-conformance link: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("check-linked") => match linked::check_linked(&args[1..]) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("oxbpf-conformance: {e}");
                ExitCode::from(2)
            }
        },
        Some("check") => match check(&args[1..]) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("oxbpf-conformance: {e}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The child: loads one object with one loader, in a mount namespace of its own with a
/// fresh bpffs (pinned maps of one load never meet another's), and prints the run.
fn child(loader: &str, path: &Path) -> ExitCode {
    if let Err(e) = private_bpffs() {
        eprintln!("cannot make a private bpffs: {e}");
        return ExitCode::from(3);
    }
    let before = oxbpf_sys::fd::open_fd_count().unwrap_or(0);
    let mut run = match loader {
        "libbpf" => libbpf::run(path),
        "oxbpf" => oxbpf::run(path),
        _ => {
            eprintln!("unknown loader {loader}");
            return ExitCode::from(2);
        }
    };
    let after = oxbpf_sys::fd::open_fd_count().unwrap_or(0);
    run.leaked_fds = after as isize - before as isize;
    print!("{}", run.to_lines());
    ExitCode::SUCCESS
}

fn private_bpffs() -> std::io::Result<()> {
    oxbpf_sys::ns::unshare(libc::CLONE_NEWNS)?;
    // SAFETY: mount(2) with NUL-terminated constant strings and no data.
    let rc = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            c"/sys/fs/bpf".as_ptr(),
            c"bpf".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// How one child ended.
#[derive(Clone, Debug)]
pub struct ChildEnd {
    /// The run, if the child finished and its output parsed.
    pub run: Result<ObjectRun, String>,
    /// Wall time.
    pub elapsed: Duration,
}

pub fn run_child(loader: &str, object: &Path, timeout: Duration) -> ChildEnd {
    let started = Instant::now();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return ChildEnd {
                run: Err(format!("current_exe: {e}")),
                elapsed: started.elapsed(),
            };
        }
    };
    let mut child = match Command::new(exe)
        .arg("one")
        .arg(loader)
        .arg(object)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return ChildEnd {
                run: Err(format!("spawn: {e}")),
                elapsed: started.elapsed(),
            };
        }
    };
    // Read both pipes while waiting, so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("timed out after {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(format!("wait: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let last_err = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    let run = match status {
        Err(e) => Err(e),
        Ok(s) if !s.success() => Err(format!("{loader} child ended with {s}: {last_err}")),
        Ok(_) => ObjectRun::from_lines(&out),
    };
    ChildEnd {
        run,
        elapsed: started.elapsed(),
    }
}

/// One object's two runs.
#[derive(Debug)]
pub struct ObjectResult {
    /// The object.
    pub path: PathBuf,
    /// libbpf's run.
    pub libbpf: ChildEnd,
    /// oxbpf's run.
    pub oxbpf: ChildEnd,
}

struct Options {
    jobs: usize,
    timeout: Duration,
    expected: Option<PathBuf>,
    results: Option<PathBuf>,
    report: Option<PathBuf>,
    corpora: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        jobs: std::thread::available_parallelism().map_or(2, usize::from),
        timeout: Duration::from_secs(300),
        expected: None,
        results: None,
        report: None,
        corpora: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs {what}\n{USAGE}"))
        };
        match a.as_str() {
            "--jobs" => o.jobs = value("a number")?.parse().map_err(|_| "--jobs N")?,
            "--timeout" => {
                o.timeout = Duration::from_secs(
                    value("seconds")?.parse().map_err(|_| "--timeout SECONDS")?,
                );
            }
            "--expected" => o.expected = Some(value("a file")?.into()),
            "--results" => o.results = Some(value("a file")?.into()),
            "--report" => o.report = Some(value("a file")?.into()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}\n{USAGE}")),
            s => o.corpora.push(s.to_string()),
        }
    }
    if o.corpora.is_empty() {
        return Err(USAGE.into());
    }
    Ok(o)
}

/// Runs the check; `Ok(true)` when every difference is an expected one.
fn check(args: &[String]) -> Result<bool, String> {
    let opts = parse(args)?;
    let scratch = corpus::Scratch::new()?;
    // (corpus, object), in corpus order.
    let mut objects: Vec<(usize, PathBuf)> = Vec::new();
    for (i, c) in opts.corpora.iter().enumerate() {
        let found = corpus::objects(c, &scratch)?;
        if found.is_empty() {
            return Err(format!("no objects found in {c}"));
        }
        objects.extend(found.into_iter().map(|p| (i, p)));
    }
    let expected = match &opts.expected {
        Some(p) => compare::Expected::read(p)?,
        None => compare::Expected::default(),
    };
    eprintln!(
        "{} objects, {} jobs, {} s timeout per load",
        objects.len(),
        opts.jobs,
        opts.timeout.as_secs()
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, ObjectResult)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((corpus, path)) = objects.get(i) else {
                        break;
                    };
                    let libbpf = run_child("libbpf", path, opts.timeout);
                    let oxbpf = run_child("oxbpf", path, opts.timeout);
                    let r = ObjectResult {
                        path: path.clone(),
                        libbpf,
                        oxbpf,
                    };
                    eprintln!(
                        "[{}/{}] {} {}",
                        i + 1,
                        objects.len(),
                        display_name(path),
                        compare::one_line_summary(&r, &expected)
                    );
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((*corpus, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by(|a, b| (a.0, &a.1.path).cmp(&(b.0, &b.1.path)));
    let elapsed = started.elapsed();
    let mut sections = Vec::new();
    for (i, name) in opts.corpora.iter().enumerate() {
        let mine: Vec<ObjectResult> = results
            .iter()
            .filter(|(c, _)| *c == i)
            .map(|(_, r)| ObjectResult {
                path: r.path.clone(),
                libbpf: r.libbpf.clone(),
                oxbpf: r.oxbpf.clone(),
            })
            .collect();
        sections.push(report::Section {
            corpus: name.clone(),
            comparison: compare::compare_all(&mine, &expected),
            notes: corpus::notes(name),
        });
    }
    print!("{}", report::summary(&sections, elapsed));
    if let Some(p) = &opts.results {
        std::fs::write(p, report::results_tsv(&sections))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    if let Some(p) = &opts.report {
        std::fs::write(p, report::markdown(&sections, elapsed))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(sections.iter().all(|s| s.comparison.unexpected() == 0))
}

/// An object's name for the tables: its file name (and, for an object extracted from
/// a program, that program's).
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}
