//! Integration tests of the loader against outside oracles and (later) the kernel.

mod attach;
mod btf;
mod core_relo;
mod fuzz_regressions;
mod leaks;
mod load;
mod maps;
mod oracle;

/// Every test of this binary takes this lock first: tests that count the process's fds
/// need no other test opening or closing one meanwhile.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A file (or, with `""`, the directory) of the repository's testdata.
fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

/// An error and all its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut c = e.source();
    while let Some(x) = c {
        s = format!("{s}: {x}");
        c = x.source();
    }
    s
}

/// testdata programs this kernel refuses: they need BPF trampolines, which it lacks
/// (EPERM with an empty verifier log).
const NEEDS_TRAMPOLINES: [&str; 5] = [
    "fentry_unlinkat",
    "fexit_unlinkat",
    "fmod_file_open",
    "fentry_sleepable",
    "lsm_file_open",
];

/// Loads `obj` with `keep_going`; every program that fails must be one that needs BPF
/// trampolines (and may load on a kernel that has them).
fn load_all_but_trampolines(
    what: &str,
    obj: oxbpf_loader::Object,
    opts: oxbpf_loader::load::LoadOptions,
) -> oxbpf_loader::load::Loaded {
    let opts = oxbpf_loader::load::LoadOptions {
        keep_going: true,
        ..opts
    };
    let loaded = obj
        .load(&opts)
        .unwrap_or_else(|e| panic!("{what}: {}", chain(&e)));
    for f in &loaded.failures {
        assert!(
            NEEDS_TRAMPOLINES.contains(&f.name.as_str()),
            "{what}: `{}` failed: {}",
            f.name,
            chain(&f.error)
        );
    }
    loaded
}

/// Runs test `test` again, in a child process under `unshare ARGS` after the shell
/// commands `setup`, and checks that it passed there. Returns `true` in that inner run
/// (the caller then does the work inside the new namespaces) and `false` in the outer
/// one. The machine's own mounts and network never change. `OXBPF_TEST_DIR` is passed
/// down: the outer run's temporary directory for the test.
fn rerun_unshared(test: &str, unshare: &[&str], setup: &str) -> bool {
    if std::env::var_os("OXBPF_TEST_INNER").is_some() {
        return true;
    }
    let dir = std::env::var("OXBPF_TEST_DIR").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join(format!("oxbpf-bpffs-{}", std::process::id()))
            .display()
            .to_string()
    });
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "set -e\n{setup}\nexec '{}' --exact '{test}' --nocapture --test-threads 1",
        exe.display()
    );
    let out = std::process::Command::new("unshare")
        .args(unshare)
        .args(["sh", "-c", &script])
        .env("OXBPF_TEST_INNER", "1")
        .env("OXBPF_TEST_DIR", &dir)
        .output()
        .expect("unshare (util-linux) is needed for namespace tests");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{test} under unshare {unshare:?} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{test} did not run inside the namespace:\n{stdout}\n{stderr}"
    );
    false
}
