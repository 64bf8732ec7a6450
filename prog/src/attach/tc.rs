//! tc: a `sched_cls` program on an interface's ingress or egress.
//!
//! Two mechanisms: a TCX bpf_link (`BPF_LINK_CREATE` with `tcx_ingress`/`tcx_egress`,
//! 6.6), after the programs already there; or, on any kernel, a direct-action cls_bpf
//! filter on a clsact qdisc added over rtnetlink (the requests in [`crate::netlink`]),
//! which the [`Link`] removes when dropped, with the qdisc if it added it.

use std::os::fd::AsFd;

use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{AttachType, LinkCreateAttr};

use super::kernel_since;
use crate::iface::TcDirection;
use crate::link::{Held, Link, raw};
use crate::{Program, ProgramError};

impl Program {
    /// Attaches a tc program to interface `ifindex` with a TCX link (6.6), after the
    /// programs already there.
    ///
    /// # Errors
    /// `EINVAL` on kernels without TCX.
    pub fn attach_tcx(&self, ifindex: u32, direction: TcDirection) -> Result<Link, ProgramError> {
        let (attach_type, dir) = match direction {
            TcDirection::Ingress => (AttachType::TCX_INGRESS, "ingress"),
            TcDirection::Egress => (AttachType::TCX_EGRESS, "egress"),
        };
        let what = format!("TCX {dir} of {}", oxbpf_sys::sock::ifname(ifindex));
        let attr = LinkCreateAttr::new(raw(self.fd.as_fd()), ifindex, attach_type);
        let fd = bpf::link_create(&attr).map_err(|e| {
            if e.errno() == Some(libc::EINVAL) && !kernel_since(6, 6) {
                return ProgramError::Unsupported {
                    prog: self.name.clone(),
                    what: what.clone(),
                    why: "this kernel has no TCX links (6.6+); attach through a clsact qdisc over netlink instead (Program::attach_tc_netlink)".into(),
                };
            }
            self.attach_error(&what, "BPF_LINK_CREATE", e)
        })?;
        Ok(Link::new(Held::Bpf(fd), format!("{} on {what}", self.name)))
    }

    /// Attaches a tc program as a direct-action cls_bpf filter at `priority` on
    /// interface `ifindex`, adding a clsact qdisc if there is none (`tc qdisc add dev X
    /// clsact; tc filter add dev X ingress prio P handle 1 bpf da fd F`).
    ///
    /// # Errors
    /// A filter with that priority exists; the kernel's refusal.
    pub fn attach_tc_netlink(
        &self,
        ifindex: u32,
        direction: TcDirection,
        priority: u16,
    ) -> Result<Link, ProgramError> {
        let dir = match direction {
            TcDirection::Ingress => "ingress",
            TcDirection::Egress => "egress",
        };
        let what = format!(
            "tc {dir} of {} (priority {priority})",
            oxbpf_sys::sock::ifname(ifindex)
        );
        let filter = crate::netlink::add_tc_filter(
            ifindex,
            self.fd.as_fd(),
            &self.name,
            direction,
            priority,
        )
        .map_err(|r| self.netlink_error(&what, r))?;
        Ok(Link::new(
            Held::NetlinkTc(filter),
            format!("{} on {what}", self.name),
        ))
    }
}
