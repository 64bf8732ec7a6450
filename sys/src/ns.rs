//! Namespaces of one's own: where oxbpf mounts tracefs or a bpffs without changing the
//! machine's mounts, and where tests make network devices without touching its network.

use std::io;

/// Moves the calling thread into new namespaces (`flags`: `CLONE_NEWNS`,
/// `CLONE_NEWNET`...). A new mount namespace is made private all the way down first
/// thing, so mounts made in it never propagate back to the machine's.
///
/// Only the two system calls: safe between `fork` and `exec` (no allocation, no lock).
///
/// # Errors
/// The `unshare` or `mount` errno (`EPERM` without `CAP_SYS_ADMIN`).
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare(2) takes no pointer.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::CLONE_NEWNS != 0 {
        // SAFETY: mount(2) with NUL-terminated constant strings and no data.
        let rc = unsafe {
            libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
