//! XDP: a program on an interface's receive path, run before the stack sees the packet.
//!
//! Two mechanisms: an XDP bpf_link (`BPF_LINK_CREATE` with the ifindex, 5.9), detached
//! when the link closes; and rtnetlink (`RTM_SETLINK` with `IFLA_XDP`, the requests in
//! [`crate::netlink`]), an attachment that belongs to the interface and that the
//! [`Link`] removes when dropped, only if the program there is still ours.

use std::os::fd::AsFd;

use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{AttachType, LinkCreateAttr};

use crate::iface::XdpMode;
use crate::link::{Held, Link, raw};
use crate::{Program, ProgramError};

impl Program {
    /// Attaches an XDP program to interface `ifindex` through an XDP bpf_link (5.9).
    ///
    /// # Errors
    /// `EBUSY` when a program is attached already; `EOPNOTSUPP` for a mode the driver
    /// lacks.
    pub fn attach_xdp(&self, ifindex: u32, mode: XdpMode) -> Result<Link, ProgramError> {
        let what = format!(
            "XDP on {} ({} mode)",
            oxbpf_sys::sock::ifname(ifindex),
            mode.name()
        );
        let mut attr = LinkCreateAttr::new(raw(self.fd.as_fd()), ifindex, AttachType::XDP);
        attr.flags = mode.flags();
        let fd =
            bpf::link_create(&attr).map_err(|e| self.attach_error(&what, "BPF_LINK_CREATE", e))?;
        Ok(Link::new(Held::Bpf(fd), format!("{} on {what}", self.name)))
    }

    /// Attaches an XDP program to interface `ifindex` over netlink, in `mode`, as
    /// `ip link set dev X xdp` does; with `replace`, a program already there (in that
    /// mode) is replaced, else its presence is an error.
    ///
    /// # Errors
    /// A sentence for the usual refusals (another program attached, a mode the driver
    /// lacks), with the kernel's own message.
    pub fn attach_xdp_netlink(
        &self,
        ifindex: u32,
        mode: XdpMode,
        replace: bool,
    ) -> Result<Link, ProgramError> {
        let what = format!(
            "XDP on {} ({} mode, netlink)",
            oxbpf_sys::sock::ifname(ifindex),
            mode.name()
        );
        crate::netlink::add_xdp(ifindex, self.fd.as_fd(), mode, replace)
            .map_err(|r| self.netlink_error(&what, r))?;
        let dup = self
            .fd
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| ProgramError::Unsupported {
                prog: self.name.clone(),
                what: what.clone(),
                why: format!("cannot keep the program's fd: {e}"),
            })?;
        Ok(Link::new(
            Held::NetlinkXdp {
                ifindex,
                mode_flags: mode.flags(),
                prog: dup,
            },
            format!("{} on {what}", self.name),
        ))
    }
}
