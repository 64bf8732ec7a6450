//! Integration tests of the loader against outside oracles and (later) the kernel.

mod btf;
mod core_relo;
mod fuzz_regressions;
mod load;
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
