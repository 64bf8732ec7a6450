//! BPF iterators (`iter/KIND`): a bpf_link of attach type `trace_iter` (5.8).
//!
//! Each `BPF_ITER_CREATE` on the link gives a new file; reading it runs the program over
//! the iterator's objects once.

use std::os::fd::AsFd;

use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{AttachType, LinkCreateAttr};

use crate::link::{Held, Link, raw};
use crate::{Program, ProgramError};

impl Program {
    /// Attaches an iterator program; read its output with [`Link::open_iter`].
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn attach_iter(&self) -> Result<Link, ProgramError> {
        let attr = LinkCreateAttr::new(raw(self.fd.as_fd()), 0, AttachType::TRACE_ITER);
        let fd = bpf::link_create(&attr)
            .map_err(|e| self.attach_error("an iterator", "BPF_LINK_CREATE", e))?;
        Ok(Link::new(
            Held::Bpf(fd),
            format!("{} as an iterator", self.name),
        ))
    }
}

impl Link {
    /// A new reader of an iterator link's output: each one runs the iterator over its
    /// objects once (read it to the end).
    ///
    /// # Errors
    /// Not an iterator link; the kernel's errno.
    pub fn open_iter(&self) -> Result<std::fs::File, crate::link::LinkError> {
        let fd = self
            .link_fd()
            .ok_or_else(|| crate::link::LinkError::NotPinnable(self.describe().to_string()))?;
        bpf::iter_create(fd)
            .map(std::fs::File::from)
            .map_err(|source| crate::link::LinkError::Sys {
                what: self.describe().to_string(),
                op: "BPF_ITER_CREATE",
                source,
            })
    }
}
