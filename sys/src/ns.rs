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
    use nix::mount::{MsFlags, mount};
    use nix::sched::CloneFlags;
    // nix passes short paths through a buffer on the stack: no allocation either.
    nix::sched::unshare(CloneFlags::from_bits_retain(flags))?;
    if flags & libc::CLONE_NEWNS != 0 {
        mount(
            Some("none"),
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )?;
    }
    Ok(())
}
