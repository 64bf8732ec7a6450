//! Cgroups and the other hooks an fd names: a cgroup (`cgroup_skb`, `cgroup/sock`,
//! `sockops`, `cgroup/sysctl`...), a network namespace (`sk_lookup`, `flow_dissector`), a
//! sockmap (`sk_msg`, `sk_skb`).
//!
//! A bpf_link (`BPF_LINK_CREATE`) where the kernel has one for the attach type, else
//! `BPF_PROG_ATTACH` (with `BPF_F_ALLOW_MULTI` where the hook allows several), which the
//! [`Link`] undoes with `BPF_PROG_DETACH`.

use std::os::fd::{AsFd, BorrowedFd};

use oxbpf_sys::SysError;
use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{AttachType, LinkCreateAttr, ProgAttachAttr, ProgType};

use crate::link::{Held, Link, raw};
use crate::{Program, ProgramError};

impl Program {
    /// Attaches to `target` (a cgroup, a netns for sk_lookup and flow dissector, ...)
    /// with `attach_type` through a bpf_link, or `BPF_PROG_ATTACH` (with
    /// `BPF_F_ALLOW_MULTI`) on kernels without one for it.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn attach_to_fd(
        &self,
        target: BorrowedFd<'_>,
        attach_type: AttachType,
        what: &str,
    ) -> Result<Link, ProgramError> {
        let attr = LinkCreateAttr::new(raw(self.fd.as_fd()), raw(target), attach_type);
        match bpf::link_create(&attr) {
            Ok(fd) => {
                return Ok(Link::new(
                    Held::Bpf(fd),
                    format!("{} on {what} ({attach_type})", self.name),
                ));
            }
            Err(e) if e.errno() == Some(libc::EINVAL) && self.prog_type != ProgType::SK_LOOKUP => {
                log::debug!(
                    "{}: no bpf_link for {attach_type} ({e}); using BPF_PROG_ATTACH",
                    self.name
                );
            }
            Err(e) => return Err(self.attach_error(what, "BPF_LINK_CREATE", e)),
        }
        const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
        let flags = if self.prog_type == ProgType::SK_MSG || self.prog_type == ProgType::SK_SKB {
            0
        } else {
            BPF_F_ALLOW_MULTI
        };
        bpf::prog_attach(&ProgAttachAttr {
            target_fd: raw(target),
            attach_bpf_fd: raw(self.fd.as_fd()),
            attach_type,
            attach_flags: flags,
            ..Default::default()
        })
        .map_err(|e| self.attach_error(what, "BPF_PROG_ATTACH", e))?;
        let dup = |fd: BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .map_err(|e| self.attach_error(what, "dup", SysError::new("dup", e)))
        };
        Ok(Link::new(
            Held::ProgAttach {
                target: dup(target)?,
                prog: dup(self.fd.as_fd())?,
                attach_type,
            },
            format!("{} on {what} ({attach_type})", self.name),
        ))
    }
}
