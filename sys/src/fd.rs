//! File descriptor hygiene.
//!
//! The BPF UAPI treats fd 0 as "no fd" in several attr fields (for example
//! `inner_map_fd`, `prog_btf_fd`), so a BPF object that happens to get fd 0 — possible
//! when a process starts with stdin closed — would be silently misread. libbpf's
//! `ensure_good_fd` and cilium's `NewFD` move such descriptors above 2; so do we, for
//! 0, 1 and 2 alike, so a closed stdout never receives a map.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of `raw` (a fresh descriptor the kernel just returned) and makes sure
/// it is 3 or above, duplicating it with `F_DUPFD_CLOEXEC` if not.
///
/// # Errors
/// The `fcntl` error if the duplicate cannot be made; `raw` is closed in that case too.
pub fn ensure_high_fd(raw: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: `raw` was just returned by a successful syscall that created it and nothing
    // else owns it; from here on the OwnedFd closes it exactly once.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if raw > 2 {
        return Ok(fd);
    }
    let dup = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: `dup` is a new descriptor created by the fcntl above and owned by nobody.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
    // `fd` (the low descriptor) is dropped and closed here.
}

/// The number of descriptors this process has open, from `/proc/self/fd`. Leak tests
/// compare it before and after an operation.
///
/// # Errors
/// If `/proc/self/fd` cannot be read.
pub fn open_fd_count() -> io::Result<usize> {
    // The directory handle itself is one of the entries while we read it; count it out.
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}
