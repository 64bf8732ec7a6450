//! Integration tests of the loader against outside oracles and (later) the kernel.

mod btf;
mod core_relo;
mod oracle;

/// Every test of this binary takes this lock first: tests that count the process's fds
/// need no other test opening or closing one meanwhile.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
