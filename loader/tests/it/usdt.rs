//! USDT: the probes of a small C program (`testdata/usdt/`, `<sys/sdt.h>`), built here
//! with the system's C compiler, traced by `testdata/usdt.bpf.o` (libbpf's
//! `usdt.bpf.h`). The program must receive the values the C program passed, wherever
//! its compiler put them: registers and constants (`-O2`), the stack (`-O0`).

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use oxbpf_loader::Object;
use oxbpf_loader::load::{LoadOptions, Loaded};
use oxbpf_loader::prelude::*;
use oxbpf_prog::attach::usdt::UsdtTarget;
use oxbpf_sys::gate;

/// The traced binary: `OXBPF_USDT_TARGET` when set (the kernel matrix builds one
/// statically, the guests have no compiler), else built from testdata/usdt/ with
/// `cc` and `flags` into `dir`. `None` (skipped, a failure under CI) without a compiler
/// or `<sys/sdt.h>`.
pub(crate) fn usdt_target(test: &str, dir: &Path, flags: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OXBPF_USDT_TARGET") {
        return Some(PathBuf::from(p));
    }
    let out = dir.join("usdt_target");
    let src = crate::testdata("usdt");
    let built = Command::new("cc")
        .args(flags)
        .arg(src.join("target.c"))
        .arg(src.join("semaphore.c"))
        .arg("-o")
        .arg(&out)
        .output();
    match built {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => {
            gate::skip(
                test,
                &format!(
                    "cannot build the USDT target (apt-get install systemtap-sdt-dev for <sys/sdt.h>): {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
            );
            None
        }
        Err(e) => {
            gate::skip(
                test,
                &format!("no C compiler (cc) to build the USDT target: {e}"),
            );
            None
        }
    }
}

/// The target running, fed numbers on stdin, answering a line per number.
pub(crate) struct Target {
    child: Child,
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
}

impl Target {
    pub(crate) fn start(path: &Path) -> Target {
        let mut child = Command::new(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let input = child.stdin.take();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "started");
        Target {
            child,
            input,
            output,
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Fires the probes with `n`; returns the target's answer (`ready enabled`).
    pub(crate) fn fire(&mut self, n: i32) -> String {
        let input = self.input.as_mut().unwrap();
        writeln!(input, "{n}").unwrap();
        input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        line.trim().to_string()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

fn global(l: &Loaded, name: &str) -> i64 {
    let v = l
        .global(name)
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    i64::from_ne_bytes(v.try_into().unwrap())
}

/// usdt.bpf.c built with Debian's libbpf 1.1 headers (16-byte argument specs) and with
/// libbpf 1.7's usdt.bpf.h (24-byte ones).
const OBJECTS: [&str; 2] = ["usdt.bpf.o", "usdt_libbpf17.bpf.o"];

fn load() -> Loaded {
    load_object(OBJECTS[0])
}

fn load_object(name: &str) -> Loaded {
    Object::open(crate::testdata(name))
        .unwrap()
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)))
}

#[test]
fn usdt_programs_receive_the_probe_arguments_wherever_the_compiler_put_them() {
    const TEST: &str = "usdt_programs_receive_the_probe_arguments_wherever_the_compiler_put_them";
    let _serial = crate::serial();
    if !gate::require_bpf(TEST) {
        return;
    }
    let dir = tempfile_dir();
    // Registers and constants in a position-independent executable; the stack in a
    // fixed-address one.
    let builds = [&["-O2"][..], &["-O0", "-no-pie"][..]];
    for (object, flags) in OBJECTS
        .iter()
        .flat_map(|o| builds.iter().map(move |f| (o, f)))
    {
        let flags = (object, flags);
        let Some(path) = usdt_target(TEST, &dir, flags.1) else {
            return;
        };
        let l = load_object(object);
        let mut target = Target::start(&path);
        let hello = UsdtTarget {
            path: &path,
            provider: "oxbpf",
            name: "hello",
            pid: None,
            cookie: 0xc00c1e,
        };
        let ready = UsdtTarget {
            name: "ready",
            pid: Some(target.pid()),
            cookie: 0,
            ..hello
        };
        let on_hello = l
            .attach_usdt("on_hello", &hello)
            .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
        assert!(
            on_hello.describe().ends_with("(2 sites)"),
            "{}",
            on_hello.describe()
        );
        let on_ready = l
            .attach_usdt("on_ready", &ready)
            .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
        // The semaphore counts the attached uprobe: the target sees the probe enabled.
        assert_eq!(target.fire(5), "ready enabled", "{flags:?}");
        // Site one passes (5, -5 * 1000000007, -5), site two the constants (7, -8, 9).
        assert_eq!(global(&l, "hello_hits"), 2, "{flags:?}");
        assert_eq!(global(&l, "hello_sum_a"), 5 + 7, "{flags:?}");
        assert_eq!(global(&l, "hello_sum_b"), -5_000_000_035 - 8, "{flags:?}");
        assert_eq!(global(&l, "hello_sum_c"), -5 + 9, "{flags:?}");
        assert_eq!(global(&l, "hello_sum_args"), 3 + 3, "{flags:?}");
        assert_eq!(global(&l, "hello_cookie"), 0xc00c1e, "{flags:?}");
        assert_eq!(
            (global(&l, "ready_hits"), global(&l, "ready_last")),
            (1, 5),
            "{flags:?}"
        );
        // Detached: nothing counts, and the semaphore is back to zero.
        drop((on_hello, on_ready));
        assert_eq!(target.fire(6), "ready disabled", "{flags:?}");
        assert_eq!(global(&l, "hello_hits"), 2, "{flags:?}");
        assert_eq!(global(&l, "ready_hits"), 1, "{flags:?}");
        // The spec ids were given back: attaching again reuses them.
        let again = l.attach_usdt("on_hello", &hello).unwrap();
        assert_eq!(target.fire(1), "ready disabled");
        drop(again);
        assert_eq!(global(&l, "hello_hits"), 4, "{flags:?}");
    }
}

#[test]
fn usdt_attach_errors_name_the_probe_and_what_is_missing() {
    const TEST: &str = "usdt_attach_errors_name_the_probe_and_what_is_missing";
    let _serial = crate::serial();
    if !gate::require_bpf(TEST) {
        return;
    }
    let dir = tempfile_dir();
    let Some(path) = usdt_target(TEST, &dir, &["-O2"]) else {
        return;
    };
    let l = load();
    let missing = UsdtTarget {
        path: &path,
        provider: "oxbpf",
        name: "nosuch",
        pid: None,
        cookie: 0,
    };
    let e = crate::chain(&l.attach_usdt("on_hello", &missing).unwrap_err());
    assert!(
        e.contains(
            "usdt_target:oxbpf:nosuch: no such probe; the binary has: oxbpf:hello, oxbpf:ready"
        ),
        "{e}"
    );
    let no_notes = UsdtTarget {
        path: Path::new("/proc/self/exe"),
        ..missing
    };
    let e = crate::chain(&l.attach_usdt("on_hello", &no_notes).unwrap_err());
    assert!(
        e.contains("has no USDT probes (no .note.stapsdt section)"),
        "{e}"
    );
    // An object built without usdt.bpf.h has no USDT maps to fill.
    let other = Object::open(crate::testdata("attach.bpf.o"))
        .unwrap()
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let hello = UsdtTarget {
        name: "hello",
        ..missing
    };
    let e = crate::chain(&other.attach_usdt("on_call", &hello).unwrap_err());
    assert!(e.contains("was it built with libbpf's usdt.bpf.h"), "{e}");
}

/// A fresh directory for one test's builds, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> TempDir {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("oxbpf-usdt-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

#[test]
fn libbpf_tools_javagc_attaches_to_the_hotspot_probes_and_reports_each_collection() {
    const TEST: &str =
        "libbpf_tools_javagc_attaches_to_the_hotspot_probes_and_reports_each_collection";
    let _serial = crate::serial();
    if !gate::require_bpf(TEST) {
        return;
    }
    // The object inside Debian's libbpf-tools javagc, loaded as its tool loads it.
    let Ok(tool) = std::fs::read("/usr/sbin/javagc") else {
        gate::skip(TEST, "no /usr/sbin/javagc (apt-get install libbpf-tools)");
        return;
    };
    let found = oxbpf_loader::embedded::find_objects(&tool);
    let (_, bytes) = found.first().expect("javagc carries its object");
    let l = Object::parse("javagc.bpf.o", bytes)
        .unwrap()
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    // A stand-in JVM with HotSpot's four probes.
    let dir = tempfile_dir();
    let jvm = dir.join("java");
    let src = crate::testdata("usdt/hotspot.c");
    let built = Command::new("cc")
        .arg("-O2")
        .arg(&src)
        .arg("-o")
        .arg(&jvm)
        .output();
    if !built.as_ref().is_ok_and(|o| o.status.success()) {
        gate::skip(
            TEST,
            &format!(
                "cannot build {} (cc, systemtap-sdt-dev): {built:?}",
                src.display()
            ),
        );
        return;
    }
    let mut child = Command::new(&jvm)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    output.read_line(&mut line).unwrap();
    let pid = child.id() as i32;
    // As javagc's main() attaches them, to the one process.
    let links: Vec<_> = [
        ("handle_gc_start", "gc__begin"),
        ("handle_gc_end", "gc__end"),
        ("handle_mem_pool_gc_start", "mem__pool__gc__begin"),
        ("handle_mem_pool_gc_end", "mem__pool__gc__end"),
    ]
    .iter()
    .map(|(prog, probe)| {
        let target = UsdtTarget {
            path: &jvm,
            provider: "hotspot",
            name: probe,
            pid: Some(pid),
            cookie: 0,
        };
        l.attach_usdt(prog, &target)
            .unwrap_or_else(|e| panic!("{}", crate::chain(&e)))
    })
    .collect();
    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap();
    let mut events =
        oxbpf_maps::perfbuf::PerfBuf::new(l.map("perf_map").unwrap(), cpus, 2).unwrap();
    for n in 0..3 {
        writeln!(input, "{n}").unwrap();
        input.flush().unwrap();
        line.clear();
        output.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "collected");
    }
    drop(links);
    drop(input);
    let _ = child.wait();
    // struct data_t { __u32 cpu; __u32 pid; __u64 ts; }: one per collection (gc and
    // memory pool), ts the pause in ns (about 2 ms here).
    let mut pauses = Vec::new();
    events.consume(|r| {
        if let oxbpf_maps::perfbuf::PerfRecord::Sample { data, .. } = r {
            let at = |o: usize| u32::from_ne_bytes(data[o..o + 4].try_into().unwrap());
            assert_eq!(at(4) as i32, pid);
            pauses.push(u64::from_ne_bytes(data[8..16].try_into().unwrap()));
        }
    });
    assert_eq!(pauses.len(), 6, "{pauses:?}");
    assert!(pauses.iter().all(|&ns| ns >= 1_000_000), "{pauses:?}");
}
