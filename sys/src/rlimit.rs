//! The locked-memory limit. Before Linux 5.11, BPF maps and programs were charged
//! against `RLIMIT_MEMLOCK`, whose default (64 KiB) is too small for most objects; the
//! kernel then answers `EPERM`. Since 5.11 memory is charged to the cgroup and the
//! limit does not apply. libbpf and aya raise the limit when they see that `EPERM`.

use std::io;

/// Raises `RLIMIT_MEMLOCK` to infinity (needs `CAP_SYS_RESOURCE` to go above the hard
/// limit).
///
/// # Errors
/// The `setrlimit` error.
pub fn raise_memlock() -> io::Result<()> {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass, which lives for the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } != 0 {
        return Err(io::Error::last_os_error());
    }
    log::debug!("raised RLIMIT_MEMLOCK to infinity");
    Ok(())
}
