//! Kernel tests of the raw `bpf()` layer: they create real maps and load real programs.
//! Each starts at the gate: without CAP_BPF it is skipped with its reason, and under
//! `CI=true` a skip fails.

mod bpf;
mod perf;

/// Every test of this binary takes this lock first: tests that count the process's fds
/// need no other test opening or closing one meanwhile.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
