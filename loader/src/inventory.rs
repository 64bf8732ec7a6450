//! What the kernel holds, as bpftool lists it: every program, map, link and BTF object
//! by id (`BPF_*_GET_NEXT_ID`, `BPF_*_GET_FD_BY_ID`, `BPF_OBJ_GET_INFO_BY_FD`), and
//! what a bpffs pin holds (`BPF_OBJ_GET`). Listing needs `CAP_SYS_ADMIN`.
//!
//! Objects come and go while they are listed: one gone between its id and its fd is
//! [`InventoryError::NoSuchId`], which a listing skips.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use oxbpf_maps::Map;
use oxbpf_sys::SysError;
use oxbpf_sys::bpf::{self, ObjKind};
use oxbpf_sys::uapi::{LinkInfo, MapInfo, ProgInfo};

pub use oxbpf_sys::bpf::IdKind;

use crate::btf::Btf;

/// Why the kernel's objects could not be listed or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// No object of that kind and id (or it went away meanwhile).
    #[error("no {kind} with id {id}")]
    NoSuchId {
        /// "program", "map", "link", "BTF object".
        kind: &'static str,
        /// The id.
        id: u32,
    },
    /// The kernel lists objects only to `CAP_SYS_ADMIN`.
    #[error("listing what is loaded needs CAP_SYS_ADMIN (run as root)")]
    NoPrivileges(#[source] SysError),
    /// A path that is not a pinned BPF object.
    #[error("{path}: not a pinned BPF object")]
    NotPinned {
        /// The path.
        path: String,
        /// The kernel's answer.
        #[source]
        source: SysError,
    },
    /// The BTF object's bytes do not parse.
    #[error("BTF object {id}")]
    Btf {
        /// Its id.
        id: u32,
        /// Why.
        #[source]
        source: crate::btf::BtfError,
    },
    /// A map could not be opened as a map handle.
    #[error(transparent)]
    Map(#[from] oxbpf_maps::MapError),
    /// Another refusal of the kernel.
    #[error(transparent)]
    Sys(SysError),
}

impl From<SysError> for InventoryError {
    fn from(e: SysError) -> InventoryError {
        if e.errno() == Some(libc::EPERM) {
            InventoryError::NoPrivileges(e)
        } else {
            InventoryError::Sys(e)
        }
    }
}

fn noun(kind: IdKind) -> &'static str {
    match kind {
        IdKind::Prog => "program",
        IdKind::Map => "map",
        IdKind::Link => "link",
        IdKind::Btf => "BTF object",
    }
}

/// Every live id of `kind`, ascending.
///
/// # Errors
/// No privileges; another refusal.
pub fn ids(kind: IdKind) -> Result<Vec<u32>, InventoryError> {
    let mut out = Vec::new();
    let mut id = 0;
    while let Some(next) = bpf::get_next_id(kind, id)? {
        out.push(next);
        id = next;
    }
    Ok(out)
}

/// An fd of object `id` of `kind`.
///
/// # Errors
/// [`InventoryError::NoSuchId`] when there is none (or no more).
pub fn open(kind: IdKind, id: u32) -> Result<OwnedFd, InventoryError> {
    bpf::get_fd_by_id(kind, id).map_err(|e| match e.errno() {
        Some(libc::ENOENT) => InventoryError::NoSuchId {
            kind: noun(kind),
            id,
        },
        _ => e.into(),
    })
}

/// A program as the kernel describes it, with the maps it uses.
#[derive(Clone, Debug)]
pub struct ProgramDesc {
    /// `BPF_OBJ_GET_INFO_BY_FD`'s answer.
    pub info: ProgInfo,
    /// Ids of the maps it uses.
    pub map_ids: Vec<u32>,
}

/// Describes the program open at `fd`.
///
/// # Errors
/// The kernel's refusal (the fd is no program).
pub fn describe_program(fd: BorrowedFd<'_>) -> Result<ProgramDesc, InventoryError> {
    Ok(ProgramDesc {
        info: bpf::prog_info(fd)?,
        map_ids: bpf::prog_map_ids(fd)?,
    })
}

/// Program `id`, described.
///
/// # Errors
/// No such program; the kernel's refusal.
pub fn program(id: u32) -> Result<ProgramDesc, InventoryError> {
    describe_program(open(IdKind::Prog, id)?.as_fd())
}

/// Map `id`, described.
///
/// # Errors
/// No such map; the kernel's refusal.
pub fn map_info(id: u32) -> Result<MapInfo, InventoryError> {
    Ok(bpf::map_info(open(IdKind::Map, id)?.as_fd())?)
}

/// Map `id` as a handle for its elements.
///
/// # Errors
/// No such map; the kernel's refusal.
pub fn map(id: u32) -> Result<Map, InventoryError> {
    Ok(Map::from_fd(open(IdKind::Map, id)?)?)
}

/// Link `id`, described.
///
/// # Errors
/// No such link; the kernel's refusal.
pub fn link_info(id: u32) -> Result<LinkInfo, InventoryError> {
    Ok(bpf::link_info(open(IdKind::Link, id)?.as_fd())?)
}

/// An XDP link: what `net list` matches with the XDP programs netlink reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetLink {
    /// The link's id.
    pub id: u32,
    /// Its program's id.
    pub prog_id: u32,
    /// The interface, by its index in the link's network namespace (which the kernel
    /// does not report: match it with the program id too).
    pub ifindex: u32,
}

/// Every XDP link in the kernel, those of other network namespaces too.
///
/// # Errors
/// Listing the links is refused.
pub fn xdp_links() -> Result<Vec<NetLink>, InventoryError> {
    const XDP: u32 = 6;
    let mut out = Vec::new();
    for id in ids(IdKind::Link)? {
        let fd = match open(IdKind::Link, id) {
            Ok(fd) => fd,
            Err(InventoryError::NoSuchId { .. }) => continue, // gone meanwhile
            Err(e) => return Err(e),
        };
        let head = bpf::link_info(fd.as_fd())?;
        if head.link_type != XDP {
            continue;
        }
        let (head, ifindex, _) = bpf::link_net_target(fd.as_fd())?;
        out.push(NetLink {
            id: head.id,
            prog_id: head.prog_id,
            ifindex,
        });
    }
    Ok(out)
}

/// A program on an interface's TCX hook (6.6+), as `BPF_PROG_QUERY` reports it for this
/// network namespace's interface `ifindex`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcxAttachment {
    /// `TCX_INGRESS` or `TCX_EGRESS`.
    pub attach_type: crate::uapi::AttachType,
    /// The program's id.
    pub prog_id: u32,
    /// The link holding it (0: attached without a link).
    pub link_id: u32,
}

/// The programs on interface `ifindex`'s TCX hooks, both directions; none on a kernel
/// without TCX (the query answers `EINVAL` there).
///
/// # Errors
/// The kernel's refusal (`EPERM` without `CAP_NET_ADMIN`, `ENODEV`).
pub fn tcx_attachments(ifindex: u32) -> Result<Vec<TcxAttachment>, InventoryError> {
    use crate::uapi::AttachType;
    let mut out = Vec::new();
    for attach_type in [AttachType::TCX_INGRESS, AttachType::TCX_EGRESS] {
        let found = match bpf::query_ifindex(ifindex, attach_type) {
            Ok(f) => f,
            Err(e) if e.errno() == Some(libc::EINVAL) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        out.extend(found.into_iter().map(|(prog_id, link_id)| TcxAttachment {
            attach_type,
            prog_id,
            link_id,
        }));
    }
    Ok(out)
}

/// Detaches link `id` (`BPF_LINK_DETACH`): its program stops running, whoever holds
/// the link (a process, a pin); the holders keep an empty link until they let go.
///
/// # Errors
/// No such link; a kind of link that cannot be detached this way (`EINVAL`,
/// `EOPNOTSUPP`).
pub fn detach_link(id: u32) -> Result<LinkInfo, InventoryError> {
    let fd = open(IdKind::Link, id)?;
    let info = bpf::link_info(fd.as_fd())?;
    bpf::link_detach(fd.as_fd())?;
    Ok(info)
}

/// BTF object `id` (a map's or a program's types), parsed.
///
/// # Errors
/// No such object; the kernel's refusal; bytes that do not parse.
pub fn btf(id: u32) -> Result<Btf, InventoryError> {
    let bytes = bpf::btf_data(open(IdKind::Btf, id)?.as_fd())?;
    Btf::parse(bytes).map_err(|source| InventoryError::Btf { id, source })
}

/// The kernel id of the BTF object open at `fd`.
///
/// # Errors
/// The kernel's refusal.
pub fn btf_id(fd: BorrowedFd<'_>) -> Result<u32, InventoryError> {
    Ok(bpf::btf_info_id(fd)?)
}

/// What a bpffs pin holds.
#[derive(Debug)]
pub enum Pinned {
    /// A program.
    Program(ProgramDesc),
    /// A map.
    Map(MapInfo),
    /// A link, open (see [`PinnedLink::detach`]).
    Link(PinnedLink),
    /// Another BPF object (BTF).
    Other,
}

/// A pinned link, open.
#[derive(Debug)]
pub struct PinnedLink {
    fd: OwnedFd,
    /// What the kernel says of it.
    pub info: LinkInfo,
}

impl PinnedLink {
    /// Detaches the link's program from its hook (`BPF_LINK_DETACH`), whoever else
    /// holds the link.
    ///
    /// # Errors
    /// The kernel's refusal: some link kinds cannot be detached this way; removing the
    /// pin still drops them once nobody else holds them.
    pub fn detach(&self) -> Result<(), InventoryError> {
        Ok(bpf::link_detach(self.fd.as_fd())?)
    }
}

/// What is pinned at `path`.
///
/// # Errors
/// [`InventoryError::NotPinned`] for a path that holds no BPF object (bpffs's own
/// files, anything outside a bpffs); the kernel's refusal to describe it.
pub fn pinned(path: &Path) -> Result<Pinned, InventoryError> {
    let not_pinned = |source| InventoryError::NotPinned {
        path: path.display().to_string(),
        source,
    };
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        not_pinned(SysError::new(
            "BPF_OBJ_GET",
            std::io::Error::from_raw_os_error(libc::EINVAL),
        ))
    })?;
    let fd = bpf::obj_get(&c, 0).map_err(not_pinned)?;
    Ok(match bpf::obj_kind(fd.as_fd()) {
        Some(ObjKind::Link) => {
            let info = bpf::link_info(fd.as_fd())?;
            Pinned::Link(PinnedLink { fd, info })
        }
        Some(ObjKind::Prog) => Pinned::Program(describe_program(fd.as_fd())?),
        Some(ObjKind::Map) => Pinned::Map(bpf::map_info(fd.as_fd())?),
        _ => Pinned::Other,
    })
}
