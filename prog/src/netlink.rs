//! The netlink family: XDP and tc attachment over rtnetlink, what `ip link set dev X
//! xdp ...` and `tc filter add dev X ingress bpf da ...` do, and the listing of what an
//! interface has attached ([`net_attachments`], [`xdp_query`]). These attachments belong
//! to the interface, not to a process.
//!
//! [`Program::attach_xdp_netlink`](crate::Program::attach_xdp_netlink) and
//! [`Program::attach_tc_netlink`](crate::Program::attach_tc_netlink) (beside the other
//! XDP and tc methods in `attach/`) wrap the requests made here in a [`Link`](crate::Link),
//! which removes exactly what it added when dropped: the XDP program only if it is still
//! ours, the tc filter by its handle and priority, the clsact qdisc only if we created it
//! and no filter is left on it. This module builds no `Link` itself, so `link` can call
//! its `detach_xdp` and `detach_tc` without the two depending on each other.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use oxbpf_sys::netlink::{self, Message, NetlinkError, Socket};

use crate::iface::{TcDirection, XdpMode};

const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;
const IFLA_XDP_EXPECTED_FD: u16 = 8;
const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1;
const XDP_FLAGS_REPLACE: u32 = 1 << 4;

const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;
const TC_H_CLSACT: u32 = 0xffff_fff1;
const TC_H_INGRESS: u32 = 0xffff_fff2;
const TC_H_EGRESS: u32 = 0xffff_fff3;

/// Which XDP programs an interface has, per mode (kernel ids; 0 for none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpState {
    /// `XDP_ATTACHED_*`: 0 none, 1 driver, 2 generic (skb), 3 offloaded, 4 several.
    pub attached: u8,
    /// The program when one mode is in use.
    pub prog_id: u32,
    /// Driver mode.
    pub drv_prog_id: u32,
    /// Generic mode.
    pub skb_prog_id: u32,
    /// Offloaded.
    pub hw_prog_id: u32,
}

impl XdpState {
    /// The mode in words, as `ip link` shows it.
    pub fn mode_name(&self) -> &'static str {
        match self.attached {
            0 => "none",
            1 => "driver",
            2 => "generic (skb)",
            3 => "offloaded (hw)",
            _ => "several modes",
        }
    }
}

/// The XDP programs of interface `ifindex` (`RTM_GETLINK`).
///
/// # Errors
/// No such interface; the socket cannot be opened.
pub fn xdp_query(ifindex: u32) -> Result<XdpState, NetlinkError> {
    let mut sock = socket()?;
    let mut msg = Message::new(netlink::RTM_GETLINK, 0, &netlink::ifinfomsg(ifindex));
    let replies = sock.request("RTM_GETLINK", &mut msg)?;
    let mut state = XdpState::default();
    for r in replies
        .iter()
        .filter(|r| r.msg_type == netlink::RTM_NEWLINK)
    {
        let bad = |e| truncated("RTM_GETLINK", e);
        for a in r.attrs_after(16).map_err(bad)? {
            if a.kind != IFLA_XDP {
                continue;
            }
            for x in netlink::attrs(a.payload) {
                let bad = |e| truncated("RTM_GETLINK", e);
                match x.kind {
                    IFLA_XDP_ATTACHED => state.attached = x.u8().map_err(bad)?,
                    IFLA_XDP_PROG_ID => state.prog_id = x.u32().map_err(bad)?,
                    IFLA_XDP_DRV_PROG_ID => state.drv_prog_id = x.u32().map_err(bad)?,
                    IFLA_XDP_SKB_PROG_ID => state.skb_prog_id = x.u32().map_err(bad)?,
                    IFLA_XDP_HW_PROG_ID => state.hw_prog_id = x.u32().map_err(bad)?,
                    _ => {}
                }
            }
        }
    }
    Ok(state)
}

/// A reply attribute too short for its value: the kernel's answer is malformed.
fn truncated(call: &'static str, e: oxbpf_sys::uapi::bytes::ShortRead) -> NetlinkError {
    NetlinkError {
        call,
        message: Some(format!("truncated attribute: {e}")),
        source: std::io::Error::from(std::io::ErrorKind::InvalidData),
    }
}

fn socket() -> Result<Socket, NetlinkError> {
    Socket::route().map_err(|e| NetlinkError {
        call: "socket(AF_NETLINK)",
        message: None,
        source: e.source,
    })
}

/// Sets (or, with `fd` -1, removes) the XDP program of `ifindex`.
fn set_xdp(ifindex: u32, fd: i32, flags: u32, expected: Option<i32>) -> Result<(), NetlinkError> {
    let mut sock = socket()?;
    let mut msg = Message::new(netlink::RTM_SETLINK, 0, &netlink::ifinfomsg(ifindex));
    msg.begin_nest(IFLA_XDP)
        .attr(IFLA_XDP_FD, &fd.to_ne_bytes())
        .attr_u32(IFLA_XDP_FLAGS, flags);
    if let Some(e) = expected {
        msg.attr(IFLA_XDP_EXPECTED_FD, &e.to_ne_bytes());
    }
    msg.end_nest();
    sock.request("RTM_SETLINK", &mut msg).map(|_| ())
}

/// Removes our XDP program from `ifindex`: only if it is still the one attached in
/// that mode (`XDP_FLAGS_REPLACE` with the expected fd, 5.7+; plain removal before).
pub(crate) fn detach_xdp(
    ifindex: u32,
    mode_flags: u32,
    prog: &OwnedFd,
) -> Result<(), NetlinkError> {
    match set_xdp(
        ifindex,
        -1,
        mode_flags | XDP_FLAGS_REPLACE,
        Some(prog.as_raw_fd()),
    ) {
        Err(e) if e.errno() == Some(libc::EINVAL) => set_xdp(ifindex, -1, mode_flags, None),
        r => r,
    }
}

/// Removes our tc filter, and the clsact qdisc if we added it and it has no filter left;
/// returns whether the qdisc went too.
pub(crate) fn detach_tc(t: &TcFilter) -> Result<bool, NetlinkError> {
    let mut sock = socket()?;
    let mut msg = Message::new(
        netlink::RTM_DELTFILTER,
        0,
        &netlink::tcmsg(t.ifindex, t.handle, t.parent, t.info()),
    );
    msg.attr_str(TCA_KIND, "bpf");
    sock.request("RTM_DELTFILTER", &mut msg)?;
    if t.created_qdisc && !has_filters(&mut sock, t.ifindex)? {
        delete_clsact(&mut sock, t.ifindex)?;
        return Ok(true);
    }
    Ok(false)
}

fn delete_clsact(sock: &mut Socket, ifindex: u32) -> Result<(), NetlinkError> {
    let mut msg = Message::new(
        netlink::RTM_DELQDISC,
        0,
        &netlink::tcmsg(ifindex, 0xffff_0000, TC_H_CLSACT, 0),
    );
    msg.attr_str(TCA_KIND, "clsact");
    sock.request("RTM_DELQDISC", &mut msg)?;
    clsact_record::removed(ifindex);
    log::debug!("removed the clsact qdisc of ifindex {ifindex} we had added");
    Ok(())
}

/// Which clsact qdiscs oxbpf added: a netlink attachment outlives a killed process,
/// and so does the qdisc added for it, which no kernel record marks as ours. A file
/// per qdisc under [`clsact_record::DIR`] (named by network namespace and ifindex)
/// says so until oxbpf removes the qdisc; where it cannot be written, the qdisc is
/// simply not known as ours.
pub mod clsact_record {
    use std::path::PathBuf;

    /// Where the records are: a tmpfs on most systems, so they go with a reboot, as
    /// qdiscs do.
    pub const DIR: &str = "/run/oxbpf/clsact";

    /// This network namespace's inode: ifindexes are per namespace.
    fn netns() -> Option<u64> {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.ino())
    }

    fn path(ifindex: u32) -> Option<PathBuf> {
        Some(PathBuf::from(format!("{DIR}/{}-{ifindex}", netns()?)))
    }

    /// Records that oxbpf added the clsact qdisc of `ifindex`.
    pub(crate) fn made(ifindex: u32) {
        let Some(p) = path(ifindex) else { return };
        let written = std::fs::create_dir_all(DIR).and_then(|()| std::fs::write(&p, b""));
        if let Err(e) = written {
            log::debug!(
                "cannot record the clsact qdisc we added at {}: {e}",
                p.display()
            );
        }
    }

    /// Forgets the record of `ifindex`'s qdisc (it was removed).
    pub(crate) fn removed(ifindex: u32) {
        if let Some(p) = path(ifindex) {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Whether oxbpf recorded adding the clsact qdisc of `ifindex`.
    pub fn is_ours(ifindex: u32) -> bool {
        path(ifindex).is_some_and(|p| p.exists())
    }
}

/// Whether `ifindex` has a clsact qdisc (`RTM_GETQDISC` dump).
fn has_clsact(sock: &mut Socket, ifindex: u32) -> Result<bool, NetlinkError> {
    let mut msg = Message::new(
        netlink::RTM_GETQDISC,
        netlink::F_DUMP,
        &netlink::tcmsg(0, 0, 0, 0),
    );
    for r in sock
        .request("RTM_GETQDISC", &mut msg)?
        .iter()
        .filter(|r| r.msg_type == netlink::RTM_NEWQDISC)
    {
        let bad = |e| truncated("RTM_GETQDISC", e);
        if r.u32_at(4).map_err(bad)? != ifindex {
            continue;
        }
        if r.attrs_after(20)
            .map_err(bad)?
            .iter()
            .any(|a| a.kind == TCA_KIND && a.str() == "clsact")
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A clsact qdisc oxbpf added and nothing removed (its process was killed): what
/// `oxbpf net list` shows and `oxbpf net detach IFACE --clsact` removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftClsact {
    /// The interface.
    pub ifindex: u32,
    /// Whether filters are still on it (remove those first).
    pub has_filters: bool,
}

/// The clsact qdiscs of `ifindexes` that oxbpf added and that are still there; records
/// of qdiscs gone (removed by someone else, the interface deleted) are dropped.
///
/// # Errors
/// The netlink dumps fail.
pub fn clsact_left(ifindexes: &[u32]) -> Result<Vec<LeftClsact>, NetlinkError> {
    let mut sock = socket()?;
    let mut out = Vec::new();
    for &ifindex in ifindexes {
        if !clsact_record::is_ours(ifindex) {
            continue;
        }
        if !has_clsact(&mut sock, ifindex)? {
            clsact_record::removed(ifindex);
            continue;
        }
        out.push(LeftClsact {
            ifindex,
            has_filters: has_filters(&mut sock, ifindex)?,
        });
    }
    Ok(out)
}

/// Why a clsact qdisc is not removed.
#[derive(Debug, thiserror::Error)]
pub enum ClsactError {
    /// oxbpf has no record of adding it.
    #[error(
        "oxbpf did not add the clsact qdisc of ifindex {0} (no record in {dir}): another tool may use it; `tc qdisc del dev IFACE clsact` removes it with every filter on it",
        dir = clsact_record::DIR
    )]
    NotOurs(u32),
    /// There is none.
    #[error("ifindex {0} has no clsact qdisc")]
    Missing(u32),
    /// Filters are on it.
    #[error(
        "the clsact qdisc of ifindex {0} still has filters: remove them first (`oxbpf net list` shows them)"
    )]
    InUse(u32),
    /// The kernel refused.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
}

/// Removes the clsact qdisc of `ifindex` if oxbpf added it and no filter is on it.
///
/// # Errors
/// [`ClsactError`] says why it stays.
pub fn remove_clsact(ifindex: u32) -> Result<(), ClsactError> {
    let mut sock = socket()?;
    if !has_clsact(&mut sock, ifindex)? {
        clsact_record::removed(ifindex);
        return Err(ClsactError::Missing(ifindex));
    }
    if !clsact_record::is_ours(ifindex) {
        return Err(ClsactError::NotOurs(ifindex));
    }
    if has_filters(&mut sock, ifindex)? {
        return Err(ClsactError::InUse(ifindex));
    }
    delete_clsact(&mut sock, ifindex)?;
    Ok(())
}

fn has_filters(sock: &mut Socket, ifindex: u32) -> Result<bool, NetlinkError> {
    for parent in [TC_H_INGRESS, TC_H_EGRESS] {
        let mut msg = Message::new(
            netlink::RTM_GETTFILTER,
            netlink::F_DUMP,
            &netlink::tcmsg(ifindex, 0, parent, 0),
        );
        if !sock.request("RTM_GETTFILTER", &mut msg)?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A cls_bpf filter we added.
#[derive(Debug, Clone)]
pub(crate) struct TcFilter {
    pub(crate) ifindex: u32,
    pub(crate) parent: u32,
    pub(crate) handle: u32,
    pub(crate) priority: u16,
    pub(crate) created_qdisc: bool,
}

impl TcFilter {
    /// `tcm_info`: priority in the high half, protocol (`ETH_P_ALL`, network order) low.
    fn info(&self) -> u32 {
        (u32::from(self.priority) << 16) | u32::from((libc::ETH_P_ALL as u16).to_be())
    }
}

/// A netlink request the kernel refused, with a sentence for the usual reasons.
#[derive(Debug)]
pub(crate) struct Refused {
    /// The kernel's answer, with its own message.
    pub(crate) source: NetlinkError,
    /// What the refusal means here.
    pub(crate) hint: Option<String>,
}

impl From<NetlinkError> for Refused {
    fn from(source: NetlinkError) -> Refused {
        Refused {
            hint: not_permitted(&source),
            source,
        }
    }
}

/// What an `EPERM` from rtnetlink means for this process: changing an interface (its XDP
/// program, its tc filters) needs `CAP_NET_ADMIN` in its network namespace's user
/// namespace, and `CAP_SYS_ADMIN` does not stand in for it there. `None` for another
/// errno, or when this process holds it.
pub fn not_permitted(e: &NetlinkError) -> Option<String> {
    use oxbpf_sys::caps::{self, Cap};
    let eff = caps::effective()?;
    (e.errno() == Some(libc::EPERM) && eff & (1 << Cap::NET_ADMIN.0) == 0).then(|| {
        format!(
            "changing an interface over rtnetlink needs {0} (this process lacks {0})",
            Cap::NET_ADMIN
        )
    })
}

/// Sets `prog` as the XDP program of interface `ifindex` in `mode`, as `ip link set dev
/// X xdp` does; with `replace`, a program already there (in that mode) is replaced,
/// else its presence is refused. Detach with [`detach_xdp`].
pub(crate) fn add_xdp(
    ifindex: u32,
    prog: BorrowedFd<'_>,
    mode: XdpMode,
    replace: bool,
) -> Result<(), Refused> {
    let flags = mode.flags()
        | if replace {
            0
        } else {
            XDP_FLAGS_UPDATE_IF_NOEXIST
        };
    set_xdp(ifindex, prog.as_raw_fd(), flags, None).map_err(|e| {
        let hint = match e.errno() {
            Some(libc::EBUSY | libc::EEXIST) => Some(match xdp_query(ifindex) {
                Ok(s) if s.attached != 0 => format!(
                    "program {} is already attached in {} mode; replace it or choose another mode",
                    s.prog_id.max(s.drv_prog_id).max(s.skb_prog_id),
                    s.mode_name()
                ),
                _ => "another program is attached already".into(),
            }),
            Some(libc::EOPNOTSUPP) => Some(format!("the device does not support {mode:?} mode")),
            Some(libc::ENODEV) => Some("there is no such interface".into()),
            _ => not_permitted(&e),
        };
        Refused { source: e, hint }
    })
}

/// Adds `prog` (named `name`) as a direct-action cls_bpf filter at `priority` on
/// interface `ifindex`, adding a clsact qdisc if there is none (`tc qdisc add dev X
/// clsact; tc filter add dev X ingress prio P handle 1 bpf da fd F`). Returns the
/// filter, to remove with [`detach_tc`].
pub(crate) fn add_tc_filter(
    ifindex: u32,
    prog: BorrowedFd<'_>,
    name: &str,
    direction: TcDirection,
    priority: u16,
) -> Result<TcFilter, Refused> {
    let mut sock = socket()?;
    let mut qdisc = Message::new(
        netlink::RTM_NEWQDISC,
        netlink::F_CREATE | netlink::F_EXCL,
        &netlink::tcmsg(ifindex, 0xffff_0000, TC_H_CLSACT, 0),
    );
    qdisc.attr_str(TCA_KIND, "clsact");
    let created_qdisc = match sock.request("RTM_NEWQDISC", &mut qdisc) {
        Ok(_) => {
            clsact_record::made(ifindex);
            true
        }
        Err(e) if e.errno() == Some(libc::EEXIST) => false,
        Err(e) => return Err(e.into()),
    };
    let filter = TcFilter {
        ifindex,
        parent: match direction {
            TcDirection::Ingress => TC_H_INGRESS,
            TcDirection::Egress => TC_H_EGRESS,
        },
        handle: 1,
        priority,
        created_qdisc,
    };
    let mut msg = Message::new(
        netlink::RTM_NEWTFILTER,
        netlink::F_CREATE | netlink::F_EXCL,
        &netlink::tcmsg(ifindex, filter.handle, filter.parent, filter.info()),
    );
    msg.attr_str(TCA_KIND, "bpf")
        .begin_nest(TCA_OPTIONS)
        .attr_u32(TCA_BPF_FD, prog.as_raw_fd() as u32)
        .attr_str(TCA_BPF_NAME, name)
        .attr_u32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT)
        .end_nest();
    if let Err(e) = sock.request("RTM_NEWTFILTER", &mut msg) {
        let hint = (e.errno() == Some(libc::EEXIST))
            .then(|| {
                format!(
                    "a filter with priority {priority} is there already; choose another priority"
                )
            })
            .or_else(|| not_permitted(&e));
        if created_qdisc {
            let _ = delete_clsact(&mut sock, ifindex);
        }
        return Err(Refused { source: e, hint });
    }
    Ok(filter)
}

const IFLA_IFNAME: u16 = 3;
const TCA_BPF_ID: u16 = 11;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_FLAGS_HW_MODE: u32 = 1 << 3;

/// Where a program is attached on an interface over netlink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetHook {
    /// XDP in this mode (`skb`, `drv`, `hw`).
    Xdp(XdpMode),
    /// A cls_bpf filter of the clsact qdisc.
    Tc {
        /// Ingress or egress.
        direction: TcDirection,
        /// Its priority.
        priority: u16,
        /// Its handle.
        handle: u32,
    },
}

/// A BPF program attached to an interface: what `ip link` and `tc filter show` list.
/// XDP programs attached through a bpf_link show here too (the interface reports them
/// alike); tc filters are always netlink ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetAttachment {
    /// The interface.
    pub ifindex: u32,
    /// Its name.
    pub ifname: String,
    /// The hook.
    pub hook: NetHook,
    /// The program's kernel id.
    pub prog_id: u32,
    /// The name tc records for a filter (`tc_count.bpf.o:[tc]`-like), empty for XDP.
    pub name: String,
}

/// The interfaces of this network namespace, `(ifindex, name)` (`RTM_GETLINK` dump;
/// `/sys/class/net` shows the namespace sysfs was mounted in, not always this one).
///
/// # Errors
/// The netlink socket cannot be opened or the dump fails.
pub fn interfaces() -> Result<Vec<(u32, String)>, NetlinkError> {
    let mut sock = socket()?;
    let mut msg = Message::new(
        netlink::RTM_GETLINK,
        netlink::F_DUMP,
        &netlink::ifinfomsg(0),
    );
    let mut out = Vec::new();
    for r in sock
        .request("RTM_GETLINK", &mut msg)?
        .iter()
        .filter(|r| r.msg_type == netlink::RTM_NEWLINK)
    {
        let bad = |e| truncated("RTM_GETLINK", e);
        let ifindex = r.u32_at(4).map_err(bad)?;
        let name = r
            .attrs_after(16)
            .map_err(bad)?
            .iter()
            .find(|a| a.kind == IFLA_IFNAME)
            .map_or_else(|| format!("ifindex {ifindex}"), |a| a.str());
        out.push((ifindex, name));
    }
    Ok(out)
}

/// Every BPF program attached to an interface of this network namespace (`RTM_GETLINK`
/// and `RTM_GETTFILTER` dumps).
///
/// # Errors
/// The netlink socket cannot be opened or a dump fails.
pub fn net_attachments() -> Result<Vec<NetAttachment>, NetlinkError> {
    let mut sock = socket()?;
    let mut msg = Message::new(
        netlink::RTM_GETLINK,
        netlink::F_DUMP,
        &netlink::ifinfomsg(0),
    );
    let links = sock.request("RTM_GETLINK", &mut msg)?;
    let mut out = Vec::new();
    for r in links.iter().filter(|r| r.msg_type == netlink::RTM_NEWLINK) {
        let bad = |e| truncated("RTM_GETLINK", e);
        let ifindex = r.u32_at(4).map_err(bad)?;
        let attrs = r.attrs_after(16).map_err(bad)?;
        let ifname = attrs
            .iter()
            .find(|a| a.kind == IFLA_IFNAME)
            .map_or_else(|| format!("ifindex {ifindex}"), |a| a.str());
        for a in attrs.iter().filter(|a| a.kind == IFLA_XDP) {
            for x in netlink::attrs(a.payload) {
                let mode = match x.kind {
                    IFLA_XDP_DRV_PROG_ID => XdpMode::Drv,
                    IFLA_XDP_SKB_PROG_ID => XdpMode::Skb,
                    IFLA_XDP_HW_PROG_ID => XdpMode::Hw,
                    _ => continue,
                };
                let prog_id = x.u32().map_err(|e| truncated("RTM_GETLINK", e))?;
                if prog_id != 0 {
                    out.push(NetAttachment {
                        ifindex,
                        ifname: ifname.clone(),
                        hook: NetHook::Xdp(mode),
                        prog_id,
                        name: String::new(),
                    });
                }
            }
        }
        for (direction, parent) in [
            (TcDirection::Ingress, TC_H_INGRESS),
            (TcDirection::Egress, TC_H_EGRESS),
        ] {
            let mut msg = Message::new(
                netlink::RTM_GETTFILTER,
                netlink::F_DUMP,
                &netlink::tcmsg(ifindex, 0, parent, 0),
            );
            // No clsact qdisc: no filters (EINVAL), not an error.
            let Ok(filters) = sock.request("RTM_GETTFILTER", &mut msg) else {
                continue;
            };
            for f in filters
                .iter()
                .filter(|f| f.msg_type == netlink::RTM_NEWTFILTER)
            {
                let bad = |e| truncated("RTM_GETTFILTER", e);
                let (handle, info) = (f.u32_at(8).map_err(bad)?, f.u32_at(16).map_err(bad)?);
                let mut prog_id = 0;
                let mut name = String::new();
                for a in f.attrs_after(20).map_err(bad)? {
                    if a.kind == TCA_OPTIONS {
                        for o in netlink::attrs(a.payload) {
                            match o.kind {
                                TCA_BPF_ID => {
                                    prog_id =
                                        o.u32().map_err(|e| truncated("RTM_GETTFILTER", e))?;
                                }
                                TCA_BPF_NAME => name = o.str(),
                                _ => {}
                            }
                        }
                    }
                }
                // The dump lists each priority's chain head (handle 0) too: skip those.
                if prog_id != 0 && handle != 0 {
                    out.push(NetAttachment {
                        ifindex,
                        ifname: ifname.clone(),
                        hook: NetHook::Tc {
                            direction,
                            priority: (info >> 16) as u16,
                            handle,
                        },
                        prog_id,
                        name,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Removes an attachment found by [`net_attachments`] (one a killed process left
/// behind, say): the XDP program of that mode, or the tc filter with that priority and
/// handle. The clsact qdisc stays if other filters use it or oxbpf did not add it.
///
/// Returns whether a clsact qdisc oxbpf had added went with the filter.
///
/// # Errors
/// The kernel's refusal (no such attachment).
pub fn net_detach(ifindex: u32, hook: &NetHook) -> Result<bool, NetlinkError> {
    match hook {
        NetHook::Xdp(mode) => {
            let flags = match mode {
                XdpMode::Skb => XDP_FLAGS_SKB_MODE,
                XdpMode::Drv => XDP_FLAGS_DRV_MODE,
                XdpMode::Hw => XDP_FLAGS_HW_MODE,
                XdpMode::Auto => 0,
            };
            set_xdp(ifindex, -1, flags, None).map(|()| false)
        }
        NetHook::Tc {
            direction,
            priority,
            handle,
        } => detach_tc(&TcFilter {
            ifindex,
            parent: match direction {
                TcDirection::Ingress => TC_H_INGRESS,
                TcDirection::Egress => TC_H_EGRESS,
            },
            handle: *handle,
            priority: *priority,
            // A qdisc oxbpf added goes with its last filter, as after a clean detach.
            created_qdisc: clsact_record::is_ours(ifindex),
        }),
    }
}
