//! [`Link`]: one attachment of a program, undone when the `Link` is dropped.
//!
//! The kernel has several attachment mechanisms, and a `Link` hides which one was used:
//!
//! | mechanism | held | undone by |
//! |---|---|---|
//! | bpf_link (`BPF_LINK_CREATE`, `BPF_RAW_TRACEPOINT_OPEN`) | the link fd | closing it (a pinned link stays) |
//! | perf event + bpf_link | both fds | closing the link, then the event |
//! | perf event + `PERF_EVENT_IOC_SET_BPF` | the event fd | disabling and closing it |
//! | `SO_ATTACH_BPF` | a duplicate of the socket fd | `SO_DETACH_BPF` |
//! | `BPF_PROG_ATTACH` | duplicates of target and program fds | `BPF_PROG_DETACH` |
//! | struct_ops map update (plain `.struct_ops`) | a duplicate of the map fd | deleting element 0 |
//! | several at once (USDT: a uprobe_multi link or a perf event per site) | each, and what they use (USDT spec ids) | undoing each, then giving that back |

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use oxbpf_sys::SysError;
use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{AttachType, LinkInfo, ProgAttachAttr};

/// How an attachment is held, and so how it is undone.
#[derive(Debug)]
pub(crate) enum Held {
    /// A bpf_link.
    Bpf(OwnedFd),
    /// A perf event with the program attached through a bpf_link.
    PerfLink {
        /// The link (closed first).
        link: OwnedFd,
        /// The event.
        event: OwnedFd,
    },
    /// A perf event with the program set by ioctl.
    PerfIoctl(OwnedFd),
    /// A socket with a filter attached.
    Socket(OwnedFd),
    /// A `BPF_PROG_ATTACH` attachment.
    ProgAttach {
        /// Cgroup, map or netns.
        target: OwnedFd,
        /// The program (kept open so detach names it).
        prog: OwnedFd,
        /// The attach type.
        attach_type: AttachType,
    },
    /// An XDP program set on an interface over netlink.
    NetlinkXdp {
        /// The interface.
        ifindex: u32,
        /// Its mode flags.
        mode_flags: u32,
        /// The program (so detaching removes only ours).
        prog: OwnedFd,
    },
    /// A cls_bpf filter added over netlink.
    NetlinkTc(crate::netlink::TcFilter),
    /// A plain struct_ops map registered by its update: unregistered by deleting its
    /// element 0.
    StructOpsMap(oxbpf_sys::bpf::MapFd),
    /// A kprobe or uprobe event created through tracefs (`kprobe_events`,
    /// `uprobe_events`) with the program on its perf event; the event is removed after
    /// the perf event is closed.
    TracefsProbe {
        /// The perf event attachment (undone first: an open event keeps the probe busy).
        perf: Box<Held>,
        /// The control file the probe was written to.
        control: &'static str,
        /// `GROUP/NAME` of the probe event.
        event: String,
    },
    /// Several attachments made as one (a USDT program's uprobes), and what they use
    /// that is given back once they are all undone (the USDT spec ids), dropped then.
    Several {
        /// The attachments.
        parts: Vec<Held>,
        /// Dropped after them.
        then: Box<dyn std::fmt::Debug + Send + Sync>,
    },
    /// Already detached or handed over.
    None,
}

/// Why undoing an attachment failed.
#[derive(Debug, thiserror::Error)]
pub enum DetachError {
    /// A `bpf()`, ioctl or socket call.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// A netlink request.
    #[error(transparent)]
    Netlink(#[from] oxbpf_sys::netlink::NetlinkError),
    /// Removing a tracefs probe event.
    #[error("remove probe event {event} through tracefs {control}")]
    Tracefs {
        /// The control file.
        control: &'static str,
        /// `GROUP/NAME`.
        event: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// An attachment of a program; dropping it detaches the program (unless it is a pinned
/// bpf_link, which the bpffs keeps).
#[derive(Debug)]
pub struct Link {
    pub(crate) held: Held,
    /// What was attached where, for messages and listings (`raw_tp sys_enter`).
    pub(crate) what: String,
}

/// A link operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The kernel refused.
    #[error("{what}: {op}")]
    Sys {
        /// The attachment.
        what: String,
        /// What was attempted.
        op: &'static str,
        /// The kernel's answer.
        #[source]
        source: SysError,
    },
    /// Detaching failed.
    #[error("{what}: detach")]
    Detach {
        /// The attachment.
        what: String,
        /// Why.
        #[source]
        source: DetachError,
    },
    /// Only a struct_ops link's struct can be replaced this way.
    #[error("{0}: not a struct_ops link, so there is no struct to replace")]
    NotUpdatable(String),
    /// Only bpf_links can be pinned.
    #[error("{0}: only bpf_link attachments can be pinned; this one is held another way")]
    NotPinnable(String),
    /// The path cannot be passed to the kernel.
    #[error("{0}: the pin path contains a NUL byte")]
    Path(String),
}

impl Link {
    pub(crate) fn new(held: Held, what: String) -> Link {
        log::debug!("attached: {what}");
        Link { held, what }
    }

    /// The attachment, no longer undone by this `Link` (for attachments made of several).
    pub(crate) fn into_held(mut self) -> Held {
        std::mem::replace(&mut self.held, Held::None)
    }

    /// What was attached where.
    pub fn describe(&self) -> &str {
        &self.what
    }

    /// The bpf_link's fd, if this attachment is one.
    pub fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.held {
            Held::Bpf(fd) | Held::PerfLink { link: fd, .. } => Some(fd.as_fd()),
            // Not a tracefs probe's perf link: pinned, it would keep the probe event
            // busy after this process removes it.
            _ => None,
        }
    }

    /// The kernel's description of the bpf_link (kind, id, program id), if this is one.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn info(&self) -> Result<Option<LinkInfo>, LinkError> {
        match self.link_fd() {
            Some(fd) => bpf::link_info(fd)
                .map(Some)
                .map_err(|e| self.sys("link info", e)),
            None => Ok(None),
        }
    }

    /// Pins the bpf_link at `path` in a bpffs: the attachment then outlives this process
    /// until the pin is removed.
    ///
    /// # Errors
    /// Not a bpf_link; the kernel's errno (no bpffs there, the name exists).
    pub fn pin(&self, path: &Path) -> Result<(), LinkError> {
        use std::os::unix::ffi::OsStrExt as _;
        let fd = self
            .link_fd()
            .ok_or_else(|| LinkError::NotPinnable(self.what.clone()))?;
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| LinkError::Path(self.what.clone()))?;
        bpf::obj_pin(fd, &c).map_err(|e| self.sys("pin", e))
    }

    /// Detaches now, reporting a failure that dropping would only log.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn detach(mut self) -> Result<(), LinkError> {
        let held = std::mem::replace(&mut self.held, Held::None);
        undo(held).map_err(|source| LinkError::Detach {
            what: self.what.clone(),
            source,
        })
    }

    fn sys(&self, op: &'static str, source: SysError) -> LinkError {
        LinkError::Sys {
            what: self.what.clone(),
            op,
            source,
        }
    }
}

/// Undoes an attachment. Closing fds cannot fail in a way we could act on.
fn undo(held: Held) -> Result<(), DetachError> {
    match held {
        Held::Bpf(fd) => drop(fd),
        Held::PerfLink { link, event } => {
            drop(link);
            drop(event);
        }
        Held::PerfIoctl(event) => {
            let r = oxbpf_sys::perf::disable(event.as_fd());
            drop(event);
            r?;
        }
        Held::Socket(sock) => bpf_sock_detach(sock.as_fd())?,
        Held::ProgAttach {
            target,
            prog,
            attach_type,
        } => {
            bpf::prog_detach(&ProgAttachAttr {
                target_fd: raw(target.as_fd()),
                attach_bpf_fd: raw(prog.as_fd()),
                attach_type,
                ..Default::default()
            })?;
        }
        Held::NetlinkXdp {
            ifindex,
            mode_flags,
            prog,
        } => crate::netlink::detach_xdp(ifindex, mode_flags, &prog)?,
        Held::NetlinkTc(filter) => {
            crate::netlink::detach_tc(&filter)?;
        }
        Held::StructOpsMap(map) => bpf::map_delete_elem(&map, &0u32.to_ne_bytes())?,
        Held::TracefsProbe {
            perf,
            control,
            event,
        } => {
            let first = undo(*perf);
            oxbpf_sys::perf::write_tracefs(control, &format!("-:{event}\n")).map_err(|source| {
                DetachError::Tracefs {
                    control,
                    event: event.clone(),
                    source,
                }
            })?;
            log::debug!("removed probe event {event} from tracefs {control}");
            first?;
        }
        Held::Several { parts, then } => {
            let mut first = Ok(());
            for part in parts {
                let r = undo(part);
                if first.is_ok() {
                    first = r;
                }
            }
            drop(then);
            first?;
        }
        Held::None => {}
    }
    Ok(())
}

fn bpf_sock_detach(sock: BorrowedFd<'_>) -> Result<(), SysError> {
    match oxbpf_sys::sock::detach_bpf(sock) {
        // Detached already (another filter replaced ours and was removed): fine.
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

pub(crate) fn raw(fd: BorrowedFd<'_>) -> u32 {
    use std::os::fd::AsRawFd as _;
    fd.as_raw_fd() as u32
}

impl Drop for Link {
    fn drop(&mut self) {
        let held = std::mem::replace(&mut self.held, Held::None);
        if matches!(held, Held::None) {
            return;
        }
        let pinned_or_link = matches!(held, Held::Bpf(_));
        match undo(held) {
            Ok(()) if !pinned_or_link => log::debug!("detached: {}", self.what),
            Ok(()) => log::debug!("closed link: {}", self.what),
            Err(e) => log::warn!("{}: detach failed: {e}", self.what),
        }
    }
}
