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
    use nix::sys::resource::{RLIM_INFINITY, Resource, setrlimit};
    setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY)?;
    log::debug!("raised RLIMIT_MEMLOCK to infinity");
    Ok(())
}
