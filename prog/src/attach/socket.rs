//! Socket filters: a program on one socket, set with `setsockopt(SO_ATTACH_BPF)`.
//!
//! There is no bpf_link for it: the [`Link`] holds a duplicate of the socket and undoes
//! the attachment with `SO_DETACH_BPF`.

use std::os::fd::{AsFd, BorrowedFd};

use oxbpf_sys::SysError;

use crate::link::{Held, Link};
use crate::{Program, ProgramError};

impl Program {
    /// Attaches a socket filter to `sock` (`SO_ATTACH_BPF`). The link holds a duplicate
    /// of the socket and detaches the filter when dropped.
    ///
    /// # Errors
    /// The kernel's errno (`EINVAL` for a program that is not a socket filter).
    pub fn attach_socket(&self, sock: BorrowedFd<'_>) -> Result<Link, ProgramError> {
        let what = "socket filter";
        let dup = sock
            .try_clone_to_owned()
            .map_err(|e| self.attach_error(what, "dup", SysError::new("dup", e)))?;
        oxbpf_sys::sock::attach_bpf(dup.as_fd(), self.fd.as_fd())
            .map_err(|e| self.attach_error(what, "SO_ATTACH_BPF", e))?;
        Ok(Link::new(
            Held::Socket(dup),
            format!("{} on a socket", self.name),
        ))
    }
}
