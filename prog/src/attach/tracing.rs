//! Tracing and LSM programs whose target was fixed at load: `tp_btf`, `fentry`, `fexit`,
//! `fmod_ret`, `lsm`.
//!
//! A bpf_link from `BPF_LINK_CREATE` (the kernel builds a BPF trampoline for fentry,
//! fexit, fmod_ret and lsm), or `BPF_RAW_TRACEPOINT_OPEN` on kernels before 5.11, which
//! link these programs only that way.

use std::os::fd::AsFd;

use oxbpf_sys::bpf;
use oxbpf_sys::uapi::LinkCreateAttr;

use crate::link::{Held, Link, raw};
use crate::{Program, ProgramError};

impl Program {
    /// Attaches a program whose target was fixed at load (tp_btf, fentry, fexit,
    /// fmod_ret, lsm): `BPF_LINK_CREATE`, or `BPF_RAW_TRACEPOINT_OPEN` on kernels before
    /// 5.11 that link only that way.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn attach_traced(&self) -> Result<Link, ProgramError> {
        let attach_type = self.expected_attach_type.unwrap_or_default();
        let what = format!("its {attach_type} target");
        let attr = LinkCreateAttr::new(raw(self.fd.as_fd()), 0, attach_type);
        let fd = match bpf::link_create(&attr) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::EINVAL) => {
                log::debug!(
                    "{}: BPF_LINK_CREATE refused ({e}); trying BPF_RAW_TRACEPOINT_OPEN",
                    self.name
                );
                bpf::raw_tracepoint_open(None, self.fd.as_fd())
                    .map_err(|e| self.attach_error(&what, "BPF_RAW_TRACEPOINT_OPEN", e))?
            }
            Err(e) => return Err(self.attach_error(&what, "BPF_LINK_CREATE", e)),
        };
        Ok(Link::new(Held::Bpf(fd), format!("{} on {what}", self.name)))
    }
}
