//! `bpf(2)`: one function per command.
//!
//! Each wrapper takes the command's own attr struct, passes exactly its size, and turns
//! a failure into a [`SysError`] naming the command. Every call is logged at trace level
//! with its result, which is what `oxbpf explain` shows as "an strace for BPF".

use std::io;
use std::os::fd::OwnedFd;

use crate::SysError;
use crate::fd::ensure_high_fd;
use crate::uapi::{
    AttachType, BtfInfo, BtfLoadAttr, Cmd, IdAttr, InfoAttr, Insn, LinkCreateAttr, LinkFdAttr,
    LinkInfo, LinkUpdateAttr, MapBatchAttr, MapCreateAttr, MapElemAttr, MapInfo, MapType, ObjAttr,
    ProgAttachAttr, ProgBindMapAttr, ProgInfo, ProgLoadAttr, ProgQueryAttr, RawTracepointAttr,
    TestRunAttr, TokenCreateAttr,
};
use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

mod sealed {
    /// Implemented only for the attr structs below: nothing outside this module can
    /// make another type a [`BpfAttr`](super::BpfAttr).
    pub trait Sealed {}
}

/// An attr struct of `bpf()`: one of the `#[repr(C)]` mirrors of `union bpf_attr` in
/// [`crate::uapi`], and nothing else (the trait is sealed). Each is plain old data with
/// every byte initialised (explicit padding fields), which is what lets [`sys_bpf`]
/// hand it to the kernel and show it to the trace as bytes.
pub trait BpfAttr: sealed::Sealed + Copy {}

macro_rules! bpf_attrs {
    ($($t:ty),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl BpfAttr for $t {}
    )*};
}

bpf_attrs!(
    MapCreateAttr,
    ProgLoadAttr,
    BtfLoadAttr,
    MapElemAttr,
    ObjAttr,
    InfoAttr,
    IdAttr,
    TestRunAttr,
    LinkCreateAttr,
    MapBatchAttr,
    RawTracepointAttr,
    ProgBindMapAttr,
    LinkFdAttr,
    LinkUpdateAttr,
    TokenCreateAttr,
    ProgAttachAttr,
    ProgQueryAttr,
);

/// Issues `bpf(cmd, attr, sizeof(*attr))` and returns the kernel's non-negative answer.
///
/// # Safety
/// `attr` must be the attr struct of `cmd`, and every address stored in it must point to
/// memory that is valid, for the access the kernel makes, until this call returns.
unsafe fn sys_bpf<A: BpfAttr>(
    cmd: Cmd,
    name: &'static str,
    attr: &mut A,
) -> io::Result<libc::c_long> {
    let size = std::mem::size_of::<A>();
    let started = std::time::Instant::now();
    // SAFETY: `attr` is a live, exclusively borrowed struct of `size` bytes; the caller
    // guarantees the addresses inside it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut A as *mut libc::c_void,
            size as libc::c_long,
        )
    };
    let result = if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    };
    if crate::trace::active() {
        // SAFETY: `A` is one of the sealed attr structs: plain-old-data `repr(C)` structs
        // of integers with explicit padding, so viewing one as its `size` bytes reads
        // initialized memory only.
        let bytes = unsafe { std::slice::from_raw_parts((attr as *const A).cast::<u8>(), size) };
        crate::trace::push(cmd, name, bytes, started, &result);
    }
    result
}

/// Runs a command that returns a new file descriptor.
///
/// # Safety
/// As [`sys_bpf`].
unsafe fn bpf_fd<A: BpfAttr>(
    cmd: Cmd,
    name: &'static str,
    attr: &mut A,
) -> Result<OwnedFd, SysError> {
    // SAFETY: forwarded from the caller.
    let result = unsafe { sys_bpf(cmd, name, attr) };
    let result = result.and_then(|raw| {
        let raw = i32::try_from(raw).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        ensure_high_fd(raw)
    });
    match &result {
        Ok(fd) => log::trace!("bpf({name}) = fd {fd:?}"),
        Err(e) => log::trace!("bpf({name}) = {e}"),
    }
    result.map_err(|e| SysError::new(name, e))
}

/// `BPF_MAP_CREATE`: creates a map; the kernel returns its fd.
///
/// # Errors
/// The kernel's errno: `EINVAL` for a definition it refuses, `EPERM` without `CAP_BPF`,
/// `ENOMEM` or `EPERM` for memlock limits on kernels before 5.11.
pub fn map_create(attr: &MapCreateAttr) -> Result<OwnedFd, SysError> {
    let mut attr = *attr;
    if let Some(token) = current_token() {
        attr.map_flags |= TOKEN_FD_FLAG;
        attr.map_token_fd = token;
    }
    // SAFETY: MapCreateAttr holds no addresses.
    unsafe { bpf_fd(Cmd::MapCreate, "BPF_MAP_CREATE", &mut attr) }
}

thread_local! {
    /// The BPF token this thread's `BPF_MAP_CREATE`, `BPF_PROG_LOAD` and `BPF_BTF_LOAD`
    /// carry, set by [`with_token`].
    static TOKEN: std::cell::Cell<Option<i32>> = const { std::cell::Cell::new(None) };
}

/// `BPF_F_TOKEN_FD`: the attr's token field holds a BPF token (6.9).
const TOKEN_FD_FLAG: u32 = 1 << 16;

fn current_token() -> Option<i32> {
    TOKEN.with(std::cell::Cell::get)
}

/// Runs `f` with every map creation, program load and BTF load this thread makes
/// carrying `token` (as libbpf passes `obj->token_fd` to each, feature probes
/// included): what a process without `CAP_BPF` in the initial user namespace needs,
/// where a bpffs delegates those commands to its user namespace. `None` runs `f` with
/// no token. The previous setting is restored after.
pub fn with_token<R>(token: Option<BorrowedFd<'_>>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<i32>);
    impl Drop for Restore {
        fn drop(&mut self) {
            TOKEN.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(TOKEN.with(|t| t.replace(token.map(|fd| fd.as_raw_fd()))));
    f()
}

/// `BPF_TOKEN_CREATE` (6.9): a BPF token from `bpffs`, a bpffs mounted with
/// `delegate_cmds`, `delegate_maps`, `delegate_progs` and `delegate_attachs`: it
/// carries, for its user namespace, the commands and types those allow.
///
/// # Errors
/// `ENOENT` when the bpffs delegates nothing; `EINVAL` before 6.9 or for an fd that is
/// not a bpffs; `EPERM` without `CAP_BPF` in the bpffs's user namespace.
pub fn token_create(bpffs: BorrowedFd<'_>) -> Result<OwnedFd, SysError> {
    let mut attr = TokenCreateAttr {
        flags: 0,
        bpffs_fd: fd_u32(bpffs),
    };
    // SAFETY: no addresses.
    unsafe { bpf_fd(Cmd::TokenCreate, "BPF_TOKEN_CREATE", &mut attr) }
}

/// What `BPF_PROG_LOAD` reads through the addresses in its attr: borrowed for the call,
/// so the addresses cannot dangle.
#[derive(Debug)]
pub struct ProgLoadData<'a> {
    /// The instructions, native byte order.
    pub insns: &'a [Insn],
    /// NUL-terminated license.
    pub license: &'a std::ffi::CStr,
    /// Buffer for the verifier log; empty for none.
    pub log: &'a mut [u8],
    /// func_info records (`func_info_rec_size` each), or empty.
    pub func_info: &'a [u8],
    /// line_info records (`line_info_rec_size` each), or empty.
    pub line_info: &'a [u8],
    /// fds for kfuncs in modules and `BPF_PSEUDO_MAP_IDX`, or empty.
    pub fd_array: &'a [i32],
}

/// `BPF_PROG_LOAD`: verifies and loads a program; the kernel returns its fd.
///
/// The address and count fields of `attr` are filled from `data`; the rest is used as
/// given. With a non-empty `data.log`, the verifier writes its log there (its
/// `log_level` must then be non-zero).
///
/// # Errors
/// The kernel's errno: `EACCES`/`EINVAL` when the verifier rejects the program (the log
/// says why), `ENOSPC` when the log did not fit, `EPERM` without privileges.
pub fn prog_load(attr: &ProgLoadAttr, data: ProgLoadData<'_>) -> Result<OwnedFd, SysError> {
    const CALL: &str = "BPF_PROG_LOAD";
    let mut attr = *attr;
    if let Some(token) = current_token() {
        attr.prog_flags |= TOKEN_FD_FLAG;
        attr.prog_token_fd = token;
    }
    let len = |n: usize| u32::try_from(n).map_err(|_| too_big(CALL));
    attr.insns = data.insns.as_ptr() as u64;
    attr.insn_cnt = len(data.insns.len())?;
    attr.license = data.license.as_ptr() as u64;
    if data.log.is_empty() {
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
    } else {
        attr.log_buf = data.log.as_mut_ptr() as u64;
        attr.log_size = len(data.log.len())?;
    }
    // Every address field is set here, from `data`, or cleared: none is taken from the
    // caller's attr, so none can point anywhere but into the slices borrowed below.
    (attr.func_info, attr.func_info_cnt) = (0, 0);
    if !data.func_info.is_empty() && attr.func_info_rec_size != 0 {
        attr.func_info = data.func_info.as_ptr() as u64;
        attr.func_info_cnt = len(data.func_info.len() / attr.func_info_rec_size as usize)?;
    }
    (attr.line_info, attr.line_info_cnt) = (0, 0);
    if !data.line_info.is_empty() && attr.line_info_rec_size != 0 {
        attr.line_info = data.line_info.as_ptr() as u64;
        attr.line_info_cnt = len(data.line_info.len() / attr.line_info_rec_size as usize)?;
    }
    // Kernel-side CO-RE (the light skeleton's) is not used: oxbpf relocates itself.
    (attr.core_relos, attr.core_relo_cnt) = (0, 0);
    // `fd_array_cnt` (6.13) makes the kernel read that many fds from `fd_array`.
    if attr.fd_array_cnt as usize > data.fd_array.len() {
        return Err(SysError::new(
            CALL,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                BufferSize {
                    what: "fd_array",
                    got: data.fd_array.len(),
                    want: attr.fd_array_cnt as usize,
                },
            ),
        ));
    }
    attr.fd_array = if data.fd_array.is_empty() {
        0
    } else {
        data.fd_array.as_ptr() as u64
    };
    // SAFETY: every address in `attr` comes from a slice in `data`, which outlives the
    // call; counts and sizes were set from the same slices, and every other address
    // field is 0. The log buffer is borrowed mutably, so the kernel's writes alias
    // nothing.
    unsafe { bpf_fd(Cmd::ProgLoad, CALL, &mut attr) }
}

/// `BPF_BTF_LOAD`: checks and loads a BTF blob; the kernel returns its fd.
///
/// With a non-empty `log`, the kernel's BTF checker writes its log there at level 1.
///
/// # Errors
/// The kernel's errno: `EINVAL` for BTF it refuses (the log says which type and why),
/// `ENOSPC` when the log did not fit, `EPERM` without privileges.
pub fn btf_load(btf: &[u8], log: &mut [u8]) -> Result<OwnedFd, SysError> {
    let mut attr = BtfLoadAttr {
        btf: btf.as_ptr() as u64,
        btf_size: u32::try_from(btf.len()).map_err(|_| too_big("BPF_BTF_LOAD"))?,
        ..Default::default()
    };
    if let Some(token) = current_token() {
        attr.btf_flags |= TOKEN_FD_FLAG;
        attr.btf_token_fd = token;
    }
    if !log.is_empty() {
        attr.btf_log_buf = log.as_mut_ptr() as u64;
        attr.btf_log_size = u32::try_from(log.len()).map_err(|_| too_big("BPF_BTF_LOAD"))?;
        attr.btf_log_level = 1;
    }
    // SAFETY: `btf` and `log` outlive the call; the sizes are theirs; the log is borrowed
    // mutably, so the kernel's writes alias nothing.
    unsafe { bpf_fd(Cmd::BtfLoad, "BPF_BTF_LOAD", &mut attr) }
}

/// Runs a command that returns 0 on success.
///
/// # Safety
/// As [`sys_bpf`].
unsafe fn bpf_unit<A: BpfAttr>(cmd: Cmd, name: &'static str, attr: &mut A) -> Result<(), SysError> {
    // SAFETY: forwarded from the caller.
    let result = unsafe { sys_bpf(cmd, name, attr) };
    if let Err(e) = &result {
        log::trace!("bpf({name}) = {e}");
    }
    result.map(|_| ()).map_err(|e| SysError::new(name, e))
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    // Descriptors are non-negative by construction.
    fd.as_raw_fd() as u32
}

/// A map's fd bound to the sizes the kernel holds for it: the only way to reach the
/// element commands, which copy as many bytes as the *map* says (key size, value size,
/// per-CPU values, batch counts) to and from the buffers given. Every buffer is checked
/// against these sizes before the call, so a short one is an error, never a write
/// past its end.
///
/// The sizes cannot be made up: [`MapFd::create`] takes them from the definition the
/// kernel accepted (`bpf_map_init_from_attr` copies `key_size` and `value_size` as
/// given), and [`MapFd::from_fd`] reads them back with `BPF_OBJ_GET_INFO_BY_FD` after
/// checking that the fd is a map at all. The fd is owned, so it names the same map for
/// the value's whole life.
#[derive(Debug)]
pub struct MapFd {
    fd: OwnedFd,
    map_type: MapType,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: [u8; 16],
    /// Bytes of one value as the element commands copy it (`bpf_map_value_size`).
    value_len: usize,
}

/// What the kernel copies for one value of a map (`bpf_map_value_size` in
/// kernel/bpf/syscall.c): per-CPU maps one value per possible CPU, each rounded up to 8
/// bytes; maps of fds an id (4 bytes, their `value_size` anyway); the rest `value_size`.
fn value_len(map_type: MapType, value_size: u32) -> io::Result<usize> {
    match map_type {
        MapType::PERCPU_ARRAY
        | MapType::PERCPU_HASH
        | MapType::LRU_PERCPU_HASH
        | MapType::PERCPU_CGROUP_STORAGE => {
            let cpus = crate::cpu::possible_cpus()?;
            (value_size as usize)
                .div_ceil(8)
                .checked_mul(8 * cpus as usize)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::E2BIG))
        }
        MapType::PROG_ARRAY
        | MapType::PERF_EVENT_ARRAY
        | MapType::CGROUP_ARRAY
        | MapType::ARRAY_OF_MAPS
        | MapType::HASH_OF_MAPS => Ok(4),
        _ => Ok(value_size as usize),
    }
}

impl MapFd {
    /// `BPF_MAP_CREATE`, keeping the sizes the kernel accepted.
    ///
    /// # Errors
    /// As [`map_create`]; the possible CPUs cannot be read (per-CPU maps).
    pub fn create(attr: &MapCreateAttr) -> Result<MapFd, SysError> {
        let fd = map_create(attr)?;
        MapFd::bind(
            fd,
            attr.map_type,
            attr.key_size,
            attr.value_size,
            attr.max_entries,
            attr.map_flags,
            attr.map_name,
        )
        .map_err(|e| SysError::new("BPF_MAP_CREATE", e))
    }

    /// Binds an fd to the map it refers to, whose definition is read from the kernel
    /// (`BPF_OBJ_GET_INFO_BY_FD`); returns the definition too.
    ///
    /// # Errors
    /// `EINVAL` when `fd` is not a map (told by its anonymous inode, since the info
    /// command fills whatever struct it is given); the kernel's errno.
    pub fn from_fd(fd: OwnedFd) -> Result<(MapFd, MapInfo), SysError> {
        expect_kind(fd.as_fd(), ObjKind::Map, "BPF_OBJ_GET_INFO_BY_FD")?;
        let info = map_info(fd.as_fd())?;
        let map = MapFd::bind(
            fd,
            info.map_type,
            info.key_size,
            info.value_size,
            info.max_entries,
            info.map_flags,
            info.name,
        )
        .map_err(|e| SysError::new("BPF_OBJ_GET_INFO_BY_FD", e))?;
        Ok((map, info))
    }

    fn bind(
        fd: OwnedFd,
        map_type: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        map_flags: u32,
        name: [u8; 16],
    ) -> io::Result<MapFd> {
        Ok(MapFd {
            value_len: value_len(map_type, value_size)?,
            fd,
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags,
            name,
        })
    }

    /// Another handle on the same map (`F_DUPFD_CLOEXEC`).
    ///
    /// # Errors
    /// The `fcntl` error.
    pub fn try_clone(&self) -> io::Result<MapFd> {
        Ok(MapFd {
            fd: self.fd.try_clone()?,
            ..*self
        })
    }

    /// The map type.
    pub fn map_type(&self) -> MapType {
        self.map_type
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> u32 {
        self.key_size
    }

    /// Value size in bytes (of one CPU's value for per-CPU maps).
    pub fn value_size(&self) -> u32 {
        self.value_size
    }

    /// Bytes of one whole value as lookups and updates copy it: for per-CPU maps one
    /// value per possible CPU, each rounded up to 8 bytes.
    pub fn value_len(&self) -> usize {
        self.value_len
    }

    /// Capacity.
    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    /// The flags it was created with.
    pub fn map_flags(&self) -> u32 {
        self.map_flags
    }

    /// The kernel's name for it (at most 15 bytes).
    pub fn name(&self) -> String {
        crate::uapi::name_str(&self.name)
    }

    fn raw(&self) -> u32 {
        fd_u32(self.fd.as_fd())
    }

    /// Checks a buffer the kernel copies `want` bytes of: exactly that size.
    fn exact(
        call: &'static str,
        what: &'static str,
        got: usize,
        want: usize,
    ) -> Result<(), SysError> {
        if got == want {
            Ok(())
        } else {
            Err(BufferSize::error(call, what, got, want))
        }
    }

    /// Checks a buffer the kernel copies up to `want` bytes of: at least that size.
    fn at_least(
        call: &'static str,
        what: &'static str,
        got: usize,
        want: Option<usize>,
    ) -> Result<(), SysError> {
        match want {
            Some(want) if got >= want => Ok(()),
            Some(want) => Err(BufferSize::error(call, what, got, want)),
            None => Err(BufferSize::error(call, what, got, usize::MAX)),
        }
    }

    /// The length of a batch position: hash maps keep a u32 bucket, the generic batch
    /// code a key (kernel/bpf/hashtab.c, `generic_map_lookup_batch`).
    fn batch_pos_len(&self) -> usize {
        (self.key_size as usize).max(4)
    }
}

impl AsFd for MapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<MapFd> for OwnedFd {
    fn from(map: MapFd) -> OwnedFd {
        map.fd
    }
}

/// A buffer of the wrong size for a map, refused before the kernel was called: the
/// [`SysError`] it comes in has no errno.
#[derive(Debug, thiserror::Error)]
#[error("{what} buffer is {got} bytes, the map needs {}", if *.want == usize::MAX { "more than fits in memory".to_string() } else { format!("{}", .want) })]
pub struct BufferSize {
    /// "key", "value", "keys", "values", "batch position".
    pub what: &'static str,
    /// The buffer's length.
    pub got: usize,
    /// What the map needs (`usize::MAX`: more than can be addressed).
    pub want: usize,
}

impl BufferSize {
    fn error(call: &'static str, what: &'static str, got: usize, want: usize) -> SysError {
        SysError::new(
            call,
            io::Error::new(io::ErrorKind::InvalidInput, BufferSize { what, got, want }),
        )
    }
}

/// `BPF_MAP_UPDATE_ELEM`: sets `key` to `value` (`flags`: `BPF_ANY` 0, `BPF_NOEXIST` 1,
/// `BPF_EXIST` 2, `BPF_F_LOCK` 4).
///
/// # Errors
/// A key or value not of the map's sizes ([`BufferSize`], before any call); the
/// kernel's errno (`E2BIG` when full, `EEXIST`/`ENOENT` against the flags, ...).
pub fn map_update_elem(map: &MapFd, key: &[u8], value: &[u8], flags: u64) -> Result<(), SysError> {
    const CALL: &str = "BPF_MAP_UPDATE_ELEM";
    MapFd::exact(CALL, "key", key.len(), map.key_size as usize)?;
    MapFd::exact(CALL, "value", value.len(), map.value_len)?;
    let mut attr = MapElemAttr {
        map_fd: map.raw(),
        key: addr(key),
        value: value.as_ptr() as u64,
        flags,
        ..Default::default()
    };
    // SAFETY: key and value are live for the call and exactly the sizes the kernel
    // reads for this map (checked above); the kernel only reads them.
    unsafe { bpf_unit(Cmd::MapUpdateElem, CALL, &mut attr) }
}

/// The address of a key for the kernel: 0 for an empty one, since maps without keys
/// (queue, stack, bloom filter) refuse any non-null key pointer with `EINVAL`.
fn addr(key: &[u8]) -> u64 {
    if key.is_empty() {
        0
    } else {
        key.as_ptr() as u64
    }
}

/// `BPF_MAP_LOOKUP_ELEM`: copies the value of `key` into `value`, which must be
/// [`MapFd::value_len`] bytes.
///
/// # Errors
/// Buffers not of the map's sizes ([`BufferSize`], before any call); `ENOENT` when the
/// key is absent; other errnos from the kernel.
pub fn map_lookup_elem(
    map: &MapFd,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> Result<(), SysError> {
    const CALL: &str = "BPF_MAP_LOOKUP_ELEM";
    MapFd::exact(CALL, "key", key.len(), map.key_size as usize)?;
    MapFd::exact(CALL, "value", value.len(), map.value_len)?;
    let mut attr = MapElemAttr {
        map_fd: map.raw(),
        key: addr(key),
        value: value.as_mut_ptr() as u64,
        flags,
        ..Default::default()
    };
    // SAFETY: key is read and value written by the kernel, both live and exclusively
    // borrowed for the call, and of the sizes it copies for this map (checked above).
    unsafe { bpf_unit(Cmd::MapLookupElem, CALL, &mut attr) }
}

/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: copies the value of `key` out and removes it
/// (queue/stack pop with an empty key; hash maps since 5.14).
///
/// # Errors
/// Buffers not of the map's sizes ([`BufferSize`], before any call); `ENOENT` when
/// absent or empty; `EINVAL`/`ENOTSUPP` for map types without it.
pub fn map_lookup_and_delete_elem(
    map: &MapFd,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> Result<(), SysError> {
    const CALL: &str = "BPF_MAP_LOOKUP_AND_DELETE_ELEM";
    MapFd::exact(CALL, "key", key.len(), map.key_size as usize)?;
    MapFd::exact(CALL, "value", value.len(), map.value_len)?;
    let mut attr = MapElemAttr {
        map_fd: map.raw(),
        key: addr(key),
        value: value.as_mut_ptr() as u64,
        flags,
        ..Default::default()
    };
    // SAFETY: key is read and value written, both live and exclusively borrowed for
    // the call, and of the sizes the kernel copies for this map (checked above).
    unsafe { bpf_unit(Cmd::MapLookupAndDeleteElem, CALL, &mut attr) }
}

/// The buffers of a batch operation, borrowed for the call.
#[derive(Debug)]
pub struct Batch<'a> {
    /// Keys: room for `count` keys.
    pub keys: &'a mut [u8],
    /// Values: room for `count` values of [`MapFd::value_len`].
    pub values: &'a mut [u8],
    /// Where to continue from (`None` to start), as the kernel wrote it to `out_batch`.
    pub in_batch: Option<&'a [u8]>,
    /// Where the kernel writes the position to continue from: the key size, at least 4.
    pub out_batch: &'a mut [u8],
}

/// `BPF_MAP_LOOKUP_BATCH`: up to `count` entries from the position in `b.in_batch`;
/// returns how many.
///
/// # Errors
/// Buffers too small for `count` entries or for a position ([`BufferSize`], before any
/// call, with a count of 0). With how many entries it still copied: `ENOENT` when the
/// map ended (that last count is valid), `EINVAL`/`ENOTSUPP` for maps without batch
/// support.
pub fn map_lookup_batch(map: &MapFd, b: Batch<'_>, count: u32) -> Result<u32, (SysError, u32)> {
    const CALL: &str = "BPF_MAP_LOOKUP_BATCH";
    let n = count as usize;
    let pos = map.batch_pos_len();
    let checks = || {
        MapFd::at_least(
            CALL,
            "keys",
            b.keys.len(),
            n.checked_mul(map.key_size as usize),
        )?;
        MapFd::at_least(CALL, "values", b.values.len(), n.checked_mul(map.value_len))?;
        MapFd::at_least(CALL, "batch position", b.out_batch.len(), Some(pos))?;
        if let Some(p) = b.in_batch {
            MapFd::at_least(CALL, "batch position", p.len(), Some(pos))?;
        }
        Ok(())
    };
    checks().map_err(|e| (e, 0))?;
    let mut attr = MapBatchAttr {
        in_batch: b.in_batch.map_or(0, |x| x.as_ptr() as u64),
        out_batch: b.out_batch.as_mut_ptr() as u64,
        keys: b.keys.as_mut_ptr() as u64,
        values: b.values.as_mut_ptr() as u64,
        count,
        map_fd: map.raw(),
        ..Default::default()
    };
    // SAFETY: every address is a slice in `b`, live and exclusively borrowed (inputs
    // only read), and checked above to hold `count` keys and values and a position of
    // this map: the most the kernel copies.
    unsafe { batch(Cmd::MapLookupBatch, CALL, &mut attr) }
}

/// Runs a batch command; the count the kernel wrote back comes with success and
/// failure alike (a batch may stop part-way).
///
/// # Safety
/// As [`sys_bpf`].
unsafe fn batch(
    cmd: Cmd,
    name: &'static str,
    attr: &mut MapBatchAttr,
) -> Result<u32, (SysError, u32)> {
    // SAFETY: forwarded from the caller.
    match unsafe { bpf_unit(cmd, name, attr) } {
        Ok(()) => Ok(attr.count),
        Err(e) => Err((e, attr.count)),
    }
}

/// `BPF_MAP_UPDATE_BATCH`: sets `count` entries; returns how many were set.
///
/// # Errors
/// Buffers too small for `count` entries ([`BufferSize`], before any call, with a
/// count of 0); the kernel's errno, with how many were set before it.
pub fn map_update_batch(
    map: &MapFd,
    keys: &[u8],
    values: &[u8],
    count: u32,
    elem_flags: u64,
) -> Result<u32, (SysError, u32)> {
    const CALL: &str = "BPF_MAP_UPDATE_BATCH";
    let n = count as usize;
    MapFd::at_least(
        CALL,
        "keys",
        keys.len(),
        n.checked_mul(map.key_size as usize),
    )
    .and_then(|()| MapFd::at_least(CALL, "values", values.len(), n.checked_mul(map.value_len)))
    .map_err(|e| (e, 0))?;
    let mut attr = MapBatchAttr {
        keys: keys.as_ptr() as u64,
        values: values.as_ptr() as u64,
        count,
        map_fd: map.raw(),
        elem_flags,
        ..Default::default()
    };
    // SAFETY: keys and values are live slices the kernel only reads, checked above to
    // hold `count` entries of this map.
    unsafe { batch(Cmd::MapUpdateBatch, CALL, &mut attr) }
}

/// `BPF_MAP_DELETE_BATCH`: removes `count` keys; returns how many were removed.
///
/// # Errors
/// `keys` too small for `count` keys ([`BufferSize`], before any call, with a count of
/// 0); the kernel's errno (`ENOENT` for an absent key), with how many went before it.
pub fn map_delete_batch(map: &MapFd, keys: &[u8], count: u32) -> Result<u32, (SysError, u32)> {
    const CALL: &str = "BPF_MAP_DELETE_BATCH";
    let n = count as usize;
    MapFd::at_least(
        CALL,
        "keys",
        keys.len(),
        n.checked_mul(map.key_size as usize),
    )
    .map_err(|e| (e, 0))?;
    let mut attr = MapBatchAttr {
        keys: keys.as_ptr() as u64,
        count,
        map_fd: map.raw(),
        ..Default::default()
    };
    // SAFETY: keys is a live slice the kernel only reads, checked above to hold
    // `count` keys of this map.
    unsafe { batch(Cmd::MapDeleteBatch, CALL, &mut attr) }
}

/// `BPF_MAP_DELETE_ELEM`.
///
/// # Errors
/// A key not of the map's size ([`BufferSize`], before any call); `ENOENT` when the
/// key is absent.
pub fn map_delete_elem(map: &MapFd, key: &[u8]) -> Result<(), SysError> {
    const CALL: &str = "BPF_MAP_DELETE_ELEM";
    MapFd::exact(CALL, "key", key.len(), map.key_size as usize)?;
    let mut attr = MapElemAttr {
        map_fd: map.raw(),
        key: addr(key),
        ..Default::default()
    };
    // SAFETY: key is live for the call, of the map's key size, and only read.
    unsafe { bpf_unit(Cmd::MapDeleteElem, CALL, &mut attr) }
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key when `key` is `None`).
///
/// # Errors
/// Buffers not of the map's key size ([`BufferSize`], before any call); `ENOENT` after
/// the last key.
pub fn map_get_next_key(map: &MapFd, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), SysError> {
    const CALL: &str = "BPF_MAP_GET_NEXT_KEY";
    let ks = map.key_size as usize;
    if let Some(k) = key {
        MapFd::exact(CALL, "key", k.len(), ks)?;
    }
    MapFd::exact(CALL, "next key", next.len(), ks)?;
    let mut attr = MapElemAttr {
        map_fd: map.raw(),
        key: key.map_or(0, |k| k.as_ptr() as u64),
        value: next.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: key (if any) is read and next written, both live for the call and of the
    // map's key size (checked above).
    unsafe { bpf_unit(Cmd::MapGetNextKey, CALL, &mut attr) }
}

/// `BPF_MAP_FREEZE`: no more writes from user space (programs can still write unless
/// the map was created with `BPF_F_RDONLY_PROG`).
///
/// # Errors
/// The kernel's errno (`EBUSY` if writable mmaps exist).
pub fn map_freeze(map: BorrowedFd<'_>) -> Result<(), SysError> {
    let mut attr = MapElemAttr {
        map_fd: fd_u32(map),
        ..Default::default()
    };
    // SAFETY: no addresses.
    unsafe { bpf_unit(Cmd::MapFreeze, "BPF_MAP_FREEZE", &mut attr) }
}

/// `BPF_OBJ_PIN`: pins a map, program or link at `path` in a bpffs.
///
/// # Errors
/// `ENOENT` when the directory does not exist, `EPERM` outside a bpffs, `EEXIST`.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &CStr) -> Result<(), SysError> {
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as u64,
        bpf_fd: fd_u32(fd),
        ..Default::default()
    };
    // SAFETY: the path is a live NUL-terminated string, only read.
    unsafe { bpf_unit(Cmd::ObjPin, "BPF_OBJ_PIN", &mut attr) }
}

/// `BPF_OBJ_GET`: opens a pinned object.
///
/// # Errors
/// `ENOENT` when nothing is pinned there.
pub fn obj_get(path: &CStr, file_flags: u32) -> Result<OwnedFd, SysError> {
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as u64,
        file_flags,
        ..Default::default()
    };
    // SAFETY: the path is a live NUL-terminated string, only read.
    unsafe { bpf_fd(Cmd::ObjGet, "BPF_OBJ_GET", &mut attr) }
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info`, whose size says how much to fill; older kernels
/// fill less and leave the rest zero. Returns how many bytes the kernel filled.
///
/// # Safety
/// `T` must be one of the kernel's `struct bpf_*_info` mirrors, plain old data whose
/// every field accepts any bits, and every address inside it must be valid for what
/// the kernel writes there (zero addresses are never written).
unsafe fn obj_info<T>(fd: BorrowedFd<'_>, info: &mut T) -> Result<u32, SysError> {
    let mut attr = InfoAttr {
        bpf_fd: fd_u32(fd),
        info_len: std::mem::size_of::<T>() as u32,
        info: info as *mut T as u64,
    };
    // SAFETY: info is exclusively borrowed and info_len is its size; see the contract.
    unsafe { bpf_unit(Cmd::ObjGetInfoByFd, "BPF_OBJ_GET_INFO_BY_FD", &mut attr)? };
    Ok(attr.info_len)
}

/// The kernel's description of a map.
///
/// # Errors
/// `EINVAL` if `fd` is not a map.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<MapInfo, SysError> {
    let mut info = MapInfo::default();
    // SAFETY: MapInfo mirrors struct bpf_map_info and holds no addresses.
    unsafe { obj_info(fd, &mut info)? };
    Ok(info)
}

/// The kernel's description of a program (without the variable-length arrays).
///
/// # Errors
/// `EINVAL` if `fd` is not a program.
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<ProgInfo, SysError> {
    let mut info = ProgInfo::default();
    // SAFETY: ProgInfo mirrors struct bpf_prog_info; all its buffer addresses are zero,
    // so the kernel writes only the struct itself.
    unsafe { obj_info(fd, &mut info)? };
    Ok(info)
}

/// The raw BTF of the BTF object open at `fd` (as `BPF_BTF_LOAD` was given it, or the
/// kernel's own): a first call learns the size, a second fills a buffer of it.
///
/// # Errors
/// `InvalidInput` (before any call) if `fd` is not BTF.
pub fn btf_data(fd: BorrowedFd<'_>) -> Result<Vec<u8>, SysError> {
    expect_kind(fd, ObjKind::Btf, "BPF_OBJ_GET_INFO_BY_FD")?;
    let mut info = BtfInfo::default();
    // SAFETY: no buffer addresses: the kernel writes only the struct.
    unsafe { obj_info(fd, &mut info)? };
    let mut data = vec![0u8; info.btf_size as usize];
    let mut info = BtfInfo {
        btf: data.as_mut_ptr() as u64,
        btf_size: data.len() as u32,
        ..Default::default()
    };
    // SAFETY: the only address is `data`, live, exclusively borrowed and `btf_size`
    // bytes long, which bounds the kernel's write.
    unsafe { obj_info(fd, &mut info)? };
    data.truncate(info.btf_size as usize);
    Ok(data)
}

/// The kernel-wide id of the BTF object open at `fd`.
///
/// # Errors
/// `EINVAL` if `fd` is not BTF.
pub fn btf_info_id(fd: BorrowedFd<'_>) -> Result<u32, SysError> {
    let mut info = BtfInfo::default();
    // SAFETY: BtfInfo mirrors struct bpf_btf_info; its buffer addresses are zero, so the
    // kernel writes only the struct itself.
    unsafe { obj_info(fd, &mut info)? };
    Ok(info.id)
}

/// A BTF object's kernel-wide id, name (`vmlinux`, a module's name, or empty for
/// BTF a program loaded) and whether it is the kernel's own (vmlinux or a module).
///
/// # Errors
/// `InvalidInput` (before any call) if `fd` is not BTF.
pub fn btf_info_named(fd: BorrowedFd<'_>) -> Result<(u32, String, bool), SysError> {
    expect_kind(fd, ObjKind::Btf, "BPF_OBJ_GET_INFO_BY_FD")?;
    let mut name = [0u8; 64];
    let mut info = BtfInfo {
        name: name.as_mut_ptr() as u64,
        name_len: name.len() as u32,
        ..Default::default()
    };
    // SAFETY: the only address given is `name`, live, exclusively borrowed and
    // `name_len` bytes long, which bounds what the kernel writes there.
    unsafe { obj_info(fd, &mut info)? };
    Ok((info.id, crate::uapi::name_str(&name), info.kernel_btf != 0))
}

/// The kernel's description of a link: kind, id and program.
///
/// # Errors
/// `EINVAL` if `fd` is not a link.
pub fn link_info(fd: BorrowedFd<'_>) -> Result<LinkInfo, SysError> {
    let mut info = LinkInfo::default();
    // SAFETY: LinkInfo is the head of struct bpf_link_info and holds no addresses; the
    // kernel writes at most info_len bytes.
    unsafe { obj_info(fd, &mut info)? };
    Ok(info)
}

/// `struct bpf_link_info` up to the interface of an XDP, TCX or netkit link: the head,
/// then the union's `ifindex` and (TCX, netkit) `attach_type`. The rest of the union is
/// left out; the kernel fills what fits.
#[repr(C)]
#[derive(Default)]
struct NetLinkInfo {
    head: LinkInfo,
    ifindex: u32,
    attach_type: u32,
}

/// The interface an XDP, TCX or netkit link holds its program on, and (TCX, netkit)
/// its attach type: `(head, ifindex, attach_type)`. For other kinds of link the two
/// numbers mean other things: check `head.link_type` first.
///
/// # Errors
/// `EINVAL` if `fd` is not a link.
pub fn link_net_target(fd: BorrowedFd<'_>) -> Result<(LinkInfo, u32, u32), SysError> {
    let mut info = NetLinkInfo::default();
    // SAFETY: NetLinkInfo mirrors the start of struct bpf_link_info; none of the words
    // the kernel reads as addresses (in other kinds' union members) is non-zero, and
    // a zero address is never written.
    unsafe { obj_info(fd, &mut info)? };
    Ok((info.head, info.ifindex, info.attach_type))
}

/// The ids of the maps a program uses: a first call learns how many, a second fills a
/// buffer of that size (a map added in between is simply not listed).
///
/// # Errors
/// `InvalidInput` (before any call) if `fd` is not a program.
pub fn prog_map_ids(fd: BorrowedFd<'_>) -> Result<Vec<u32>, SysError> {
    expect_kind(fd, ObjKind::Prog, "BPF_OBJ_GET_INFO_BY_FD")?;
    let count = prog_info(fd)?.nr_map_ids;
    let mut ids = vec![0u32; count as usize];
    if ids.is_empty() {
        return Ok(ids);
    }
    let mut info = ProgInfo {
        nr_map_ids: count,
        map_ids: ids.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: the only address given is `ids`, live, exclusively borrowed and holding
    // `nr_map_ids` u32s, which is all the kernel writes there.
    unsafe { obj_info(fd, &mut info)? };
    ids.truncate(info.nr_map_ids.min(count) as usize);
    Ok(ids)
}

/// The program's instructions as the kernel keeps them after verification
/// (`xlated_prog_insns`, what `bpftool prog dump xlated` shows), raw: map references
/// read back as map ids. A first call learns the length, a second fills a buffer of it.
///
/// # Errors
/// `InvalidInput` (before any call) if `fd` is not a program; `EPERM` where the kernel
/// hides raw dumps.
pub fn prog_xlated(fd: BorrowedFd<'_>) -> Result<Vec<u8>, SysError> {
    expect_kind(fd, ObjKind::Prog, "BPF_OBJ_GET_INFO_BY_FD")?;
    let len = prog_info(fd)?.xlated_prog_len;
    let mut buf = vec![0u8; len as usize];
    if buf.is_empty() {
        return Ok(buf);
    }
    let mut info = ProgInfo {
        xlated_prog_len: len,
        xlated_prog_insns: buf.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: the only address given is `buf`, live, exclusively borrowed and
    // `xlated_prog_len` bytes long, which bounds the kernel's write.
    unsafe { obj_info(fd, &mut info)? };
    buf.truncate(info.xlated_prog_len.min(len) as usize);
    Ok(buf)
}

/// The object kinds with kernel-wide ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// Programs.
    Prog,
    /// Maps.
    Map,
    /// BTF objects.
    Btf,
    /// Links.
    Link,
}

/// `BPF_{PROG,MAP,BTF,LINK}_GET_NEXT_ID`: the first id after `start`, or `None` at the end.
///
/// # Errors
/// The kernel's errno other than the `ENOENT` that ends the list.
pub fn get_next_id(kind: IdKind, start: u32) -> Result<Option<u32>, SysError> {
    let (cmd, name) = match kind {
        IdKind::Prog => (Cmd::ProgGetNextId, "BPF_PROG_GET_NEXT_ID"),
        IdKind::Map => (Cmd::MapGetNextId, "BPF_MAP_GET_NEXT_ID"),
        IdKind::Btf => (Cmd::BtfGetNextId, "BPF_BTF_GET_NEXT_ID"),
        IdKind::Link => (Cmd::LinkGetNextId, "BPF_LINK_GET_NEXT_ID"),
    };
    let mut attr = IdAttr {
        start_id: start,
        ..Default::default()
    };
    // SAFETY: no addresses.
    match unsafe { bpf_unit(cmd, name, &mut attr) } {
        Ok(()) => Ok(Some(attr.next_id)),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `BPF_{PROG,MAP,BTF,LINK}_GET_FD_BY_ID`: opens an object by id.
///
/// # Errors
/// `ENOENT` when no object has that id.
pub fn get_fd_by_id(kind: IdKind, id: u32) -> Result<OwnedFd, SysError> {
    let (cmd, name) = match kind {
        IdKind::Prog => (Cmd::ProgGetFdById, "BPF_PROG_GET_FD_BY_ID"),
        IdKind::Map => (Cmd::MapGetFdById, "BPF_MAP_GET_FD_BY_ID"),
        IdKind::Btf => (Cmd::BtfGetFdById, "BPF_BTF_GET_FD_BY_ID"),
        IdKind::Link => (Cmd::LinkGetFdById, "BPF_LINK_GET_FD_BY_ID"),
    };
    let mut attr = IdAttr {
        start_id: id,
        ..Default::default()
    };
    // SAFETY: no addresses.
    unsafe { bpf_fd(cmd, name, &mut attr) }
}

/// What `BPF_PROG_TEST_RUN` reads and writes, borrowed for the call.
#[derive(Debug, Default)]
pub struct TestRunData<'a> {
    /// Input packet (may be empty).
    pub data_in: &'a [u8],
    /// Output packet buffer (may be empty).
    pub data_out: &'a mut [u8],
    /// Input context (may be empty).
    pub ctx_in: &'a [u8],
    /// Output context buffer (may be empty).
    pub ctx_out: &'a mut [u8],
}

/// The kernel's answers to a test run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value.
    pub retval: u32,
    /// Average duration per run, ns.
    pub duration: u32,
    /// Bytes written to the output packet.
    pub data_size_out: u32,
    /// Bytes written to the output context.
    pub ctx_size_out: u32,
}

/// `BPF_PROG_TEST_RUN`: runs a program once (or `repeat` times) in the caller's context.
///
/// # Errors
/// `ENOTSUPP`/`EINVAL` for program types the kernel cannot test-run, others.
pub fn prog_test_run(
    prog: BorrowedFd<'_>,
    data: TestRunData<'_>,
    repeat: u32,
    flags: u32,
) -> Result<TestRunResult, SysError> {
    let len = |n: usize| u32::try_from(n).map_err(|_| too_big("BPF_PROG_TEST_RUN"));
    let mut attr = TestRunAttr {
        prog_fd: fd_u32(prog),
        data_size_in: len(data.data_in.len())?,
        data_size_out: len(data.data_out.len())?,
        data_in: if data.data_in.is_empty() {
            0
        } else {
            data.data_in.as_ptr() as u64
        },
        data_out: if data.data_out.is_empty() {
            0
        } else {
            data.data_out.as_mut_ptr() as u64
        },
        repeat,
        ctx_size_in: len(data.ctx_in.len())?,
        ctx_size_out: len(data.ctx_out.len())?,
        ctx_in: if data.ctx_in.is_empty() {
            0
        } else {
            data.ctx_in.as_ptr() as u64
        },
        ctx_out: if data.ctx_out.is_empty() {
            0
        } else {
            data.ctx_out.as_mut_ptr() as u64
        },
        flags,
        ..Default::default()
    };
    // SAFETY: every address comes from a slice in `data`, live and (for outputs)
    // exclusively borrowed for the call; sizes are the slices' lengths.
    unsafe { bpf_unit(Cmd::ProgTestRun, "BPF_PROG_TEST_RUN", &mut attr)? };
    Ok(TestRunResult {
        retval: attr.retval,
        duration: attr.duration,
        data_size_out: attr.data_size_out,
        ctx_size_out: attr.ctx_size_out,
    })
}

fn too_big(call: &'static str) -> SysError {
    SysError::new(call, io::Error::from_raw_os_error(libc::E2BIG))
}

/// Whether the kind-specific part of `BPF_LINK_CREATE` (`extra`) holds only integers
/// (ids, fds, cookies, flags) for `attach_type`, so any value the caller puts there is
/// harmless. Elsewhere the kernel reads addresses from it (`iter_info`, the arrays and
/// path of kprobe_multi/uprobe_multi, and whatever a later kernel adds), and `extra`
/// must be zero: those links are made by [`link_create_kprobe_multi`] and
/// [`link_create_uprobe_multi`] from slices.
fn extra_holds_integers(attach_type: AttachType) -> bool {
    matches!(
        attach_type,
        // perf_event.bpf_cookie; tracing.target_btf_id and cookie (fentry, fexit,
        // fmod_ret, lsm, tp_btf, raw_tp); tcx and netkit relative_fd/id and
        // expected_revision; netfilter pf, hooknum, priority, flags.
        AttachType::PERF_EVENT
            | AttachType::TRACE_RAW_TP
            | AttachType::TRACE_FENTRY
            | AttachType::TRACE_FEXIT
            | AttachType::MODIFY_RETURN
            | AttachType::LSM_MAC
            | AttachType::LSM_CGROUP
            | AttachType::TCX_INGRESS
            | AttachType::TCX_EGRESS
            | AttachType::NETKIT_PRIMARY
            | AttachType::NETKIT_PEER
            | AttachType::NETFILTER
    )
}

/// `BPF_LINK_CREATE`: attaches a program through a bpf_link; the kernel returns the
/// link's fd, and closing its last reference detaches (unless pinned).
///
/// `attr.extra` (the kind-specific union) may be non-zero only for attach types whose
/// fields there are integers; for the others the kernel would read addresses from it.
///
/// # Errors
/// `InvalidInput` (before any call) for a non-zero `extra` of another attach type.
/// `EINVAL` for an attach type the kernel or the program does not support; others by
/// kind (`EBADF` for a bad target fd, `ENODEV` for a bad ifindex, `EBUSY` when taken).
pub fn link_create(attr: &LinkCreateAttr) -> Result<OwnedFd, SysError> {
    if attr.extra != [0; 6] && !extra_holds_integers(attr.attach_type) {
        return Err(SysError::new(
            "BPF_LINK_CREATE",
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the kind-specific fields of a {} link may hold addresses: use its own function",
                    attr.attach_type
                ),
            ),
        ));
    }
    let mut attr = *attr;
    // SAFETY: `extra` is zero, or holds only integers for this attach type (checked
    // above); the other fields are integers.
    unsafe { bpf_fd(Cmd::LinkCreate, "BPF_LINK_CREATE", &mut attr) }
}

/// `BPF_LINK_CREATE` of a kprobe_multi link (5.18): `prog` on every kernel function
/// in `syms`, with `flags` (`BPF_F_KPROBE_MULTI_RETURN`) and `attach_type`
/// (`trace_kprobe_multi`, or `trace_kprobe_session`).
///
/// # Errors
/// More names than a u32 counts; the kernel's errno (`EOPNOTSUPP` without
/// `CONFIG_FPROBE`, `EINVAL` before 5.18, `ESRCH`/`ENOENT` for an unknown function).
pub fn link_create_kprobe_multi(
    prog: BorrowedFd<'_>,
    attach_type: AttachType,
    syms: &[&CStr],
    flags: u32,
) -> Result<OwnedFd, SysError> {
    const CALL: &str = "BPF_LINK_CREATE";
    let ptrs: Vec<u64> = syms.iter().map(|s| s.as_ptr() as u64).collect();
    let cnt = u32::try_from(ptrs.len()).map_err(|_| too_big(CALL))?;
    let mut attr = LinkCreateAttr::new(fd_u32(prog), 0, attach_type).with_kprobe_multi(
        flags,
        cnt,
        ptrs.as_ptr() as u64,
        0,
        0,
    );
    // SAFETY: the only addresses are `ptrs` (`cnt` u64s) and the NUL-terminated names
    // it points to, all borrowed for the call and only read.
    unsafe { bpf_fd(Cmd::LinkCreate, CALL, &mut attr) }
}

/// Where a uprobe_multi link puts its program: file offsets, and per offset (or none at
/// all, as empty slices) the semaphore's file offset the kernel counts attachments in
/// (USDT semaphores) and the BPF cookie the program reads back.
#[derive(Clone, Copy, Debug, Default)]
pub struct UprobeSites<'a> {
    /// File offsets of the probed instructions.
    pub offsets: &'a [u64],
    /// Reference counter (semaphore) file offsets, one per offset, or empty.
    pub ref_ctr_offsets: &'a [u64],
    /// BPF cookies, one per offset, or empty.
    pub cookies: &'a [u64],
}

/// `BPF_LINK_CREATE` of a uprobe_multi link (6.6): `prog` at each of `sites` in the
/// file at `path`, with `flags` (`BPF_F_UPROBE_MULTI_RETURN`), for process `pid` only
/// (0: every process), as `attach_type` (`trace_uprobe_multi` or
/// `trace_uprobe_session`).
///
/// # Errors
/// More offsets than a u32 counts, or per-offset arrays of another length (`EINVAL`);
/// the kernel's errno (`EINVAL` before 6.6, `EBADF` for a path that is not a regular
/// file, ...).
pub fn link_create_uprobe_multi(
    prog: BorrowedFd<'_>,
    attach_type: AttachType,
    path: &CStr,
    sites: &UprobeSites<'_>,
    flags: u32,
    pid: u32,
) -> Result<OwnedFd, SysError> {
    const CALL: &str = "BPF_LINK_CREATE";
    let n = sites.offsets.len();
    let cnt = u32::try_from(n).map_err(|_| too_big(CALL))?;
    let array = |a: &[u64]| -> Result<u64, SysError> {
        match a.len() {
            0 => Ok(0),
            l if l == n => Ok(a.as_ptr() as u64),
            _ => Err(SysError::new(
                CALL,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "uprobe_multi: {} per-offset values for {n} offsets",
                        a.len()
                    ),
                ),
            )),
        }
    };
    let mut attr = LinkCreateAttr::new(fd_u32(prog), 0, attach_type).with_uprobe_multi(
        path.as_ptr() as u64,
        sites.offsets.as_ptr() as u64,
        array(sites.ref_ctr_offsets)?,
        array(sites.cookies)?,
        cnt,
        flags,
        pid,
    );
    // SAFETY: the only addresses are the NUL-terminated `path` and the arrays of
    // `sites` (each empty, passed as 0, or `cnt` u64s), borrowed for the call and only
    // read.
    unsafe { bpf_fd(Cmd::LinkCreate, CALL, &mut attr) }
}

/// `BPF_RAW_TRACEPOINT_OPEN`: attaches a raw_tp program to tracepoint `name`, or (with
/// `None`) a tp_btf/fentry/fexit/fmod_ret/lsm program to the target it was loaded for.
/// The fd returned is a link.
///
/// # Errors
/// `ENOENT` for an unknown tracepoint; `EINVAL` for a program of another type.
pub fn raw_tracepoint_open(name: Option<&CStr>, prog: BorrowedFd<'_>) -> Result<OwnedFd, SysError> {
    let mut attr = RawTracepointAttr {
        name: name.map_or(0, |n| n.as_ptr() as u64),
        prog_fd: fd_u32(prog),
        _pad: 0,
    };
    // SAFETY: `name` (if any) is a live NUL-terminated string the kernel only reads.
    unsafe { bpf_fd(Cmd::RawTracepointOpen, "BPF_RAW_TRACEPOINT_OPEN", &mut attr) }
}

/// `BPF_PROG_QUERY` of an interface's hook (`attach_type` `TCX_INGRESS` or
/// `TCX_EGRESS`): `(program id, link id)` for each program attached there, link id 0
/// for one attached without a link. A first call learns how many, a second fills
/// arrays of that size.
///
/// # Errors
/// `EINVAL` on kernels without TCX (before 6.6); `ENODEV` for no such interface.
pub fn query_ifindex(ifindex: u32, attach_type: AttachType) -> Result<Vec<(u32, u32)>, SysError> {
    let mut attr = ProgQueryAttr {
        target: ifindex,
        attach_type: attach_type.0,
        ..Default::default()
    };
    // SAFETY: no addresses: the kernel only reports the count.
    unsafe { bpf_unit(Cmd::ProgQuery, "BPF_PROG_QUERY", &mut attr)? };
    let count = attr.count;
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut progs = vec![0u32; count as usize];
    let mut links = vec![0u32; count as usize];
    let mut attr = ProgQueryAttr {
        target: ifindex,
        attach_type: attach_type.0,
        prog_ids: progs.as_mut_ptr() as u64,
        link_ids: links.as_mut_ptr() as u64,
        count,
        ..Default::default()
    };
    // SAFETY: both arrays are live, exclusively borrowed and hold `count` u32s, which
    // bounds what the kernel writes (it fails with ENOSPC rather than write more).
    unsafe { bpf_unit(Cmd::ProgQuery, "BPF_PROG_QUERY", &mut attr)? };
    let n = attr.count.min(count) as usize;
    Ok(progs.into_iter().zip(links).take(n).collect())
}

/// `BPF_LINK_DETACH`: detaches a link's program, leaving the link fd valid but empty
/// (how a pinned link is forcibly detached).
///
/// # Errors
/// `EINVAL` for a link kind that cannot be detached this way.
pub fn link_detach(link: BorrowedFd<'_>) -> Result<(), SysError> {
    let mut attr = LinkFdAttr {
        link_fd: fd_u32(link),
        flags: 0,
    };
    // SAFETY: no addresses.
    unsafe { bpf_unit(Cmd::LinkDetach, "BPF_LINK_DETACH", &mut attr) }
}

/// `BPF_LINK_UPDATE`: puts `new` (a program, or for a struct_ops link a struct_ops map)
/// in `link` in place of what it holds; with `old`, only if the link holds that
/// (`BPF_F_REPLACE`).
///
/// # Errors
/// `EINVAL` for a link kind that cannot be updated or a replacement of another kind
/// (for struct_ops, another struct type or a map without `BPF_F_LINK`); `EPERM` when
/// `old` is not what the link holds; what the kernel's subsystem refuses (a TCP
/// congestion control of another name).
pub fn link_update(
    link: BorrowedFd<'_>,
    new: BorrowedFd<'_>,
    old: Option<BorrowedFd<'_>>,
) -> Result<(), SysError> {
    const BPF_F_REPLACE: u32 = 1 << 2;
    let mut attr = LinkUpdateAttr {
        link_fd: fd_u32(link),
        new_fd: fd_u32(new),
        flags: if old.is_some() { BPF_F_REPLACE } else { 0 },
        old_fd: old.map_or(0, fd_u32),
    };
    // SAFETY: no addresses.
    unsafe { bpf_unit(Cmd::LinkUpdate, "BPF_LINK_UPDATE", &mut attr) }
}

/// `BPF_PROG_BIND_MAP`: keeps `map` alive with `prog` though no instruction of it
/// refers to the map (Linux 5.10).
///
/// # Errors
/// `EINVAL` on kernels without the command; `EBADF` for fds of another kind.
pub fn prog_bind_map(prog: BorrowedFd<'_>, map: BorrowedFd<'_>) -> Result<(), SysError> {
    let mut attr = ProgBindMapAttr {
        prog_fd: fd_u32(prog),
        map_fd: fd_u32(map),
        flags: 0,
    };
    // SAFETY: no addresses.
    unsafe { bpf_unit(Cmd::ProgBindMap, "BPF_PROG_BIND_MAP", &mut attr) }
}

/// `BPF_ITER_CREATE`: a new readable fd for an iterator link; each one runs the
/// iterator program once over its objects as it is read.
///
/// # Errors
/// `EINVAL` if `link` is not an iterator link.
pub fn iter_create(link: BorrowedFd<'_>) -> Result<OwnedFd, SysError> {
    let mut attr = LinkFdAttr {
        link_fd: fd_u32(link),
        flags: 0,
    };
    // SAFETY: no addresses.
    unsafe { bpf_fd(Cmd::IterCreate, "BPF_ITER_CREATE", &mut attr) }
}

/// `BPF_PROG_ATTACH`: the older attachment (cgroups, sockmaps, flow dissector), which
/// stays until detached explicitly.
///
/// # Errors
/// `EINVAL`, `EEXIST`/`EPERM` per attach flags, `EBADF`.
pub fn prog_attach(attr: &ProgAttachAttr) -> Result<(), SysError> {
    let mut attr = *attr;
    // SAFETY: no addresses.
    unsafe { bpf_unit(Cmd::ProgAttach, "BPF_PROG_ATTACH", &mut attr) }
}

/// `BPF_PROG_DETACH`.
///
/// # Errors
/// `ENOENT` when that program is not attached there.
pub fn prog_detach(attr: &ProgAttachAttr) -> Result<(), SysError> {
    let mut attr = *attr;
    // SAFETY: no addresses.
    unsafe { bpf_unit(Cmd::ProgDetach, "BPF_PROG_DETACH", &mut attr) }
}

/// What kind of BPF object an fd refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjKind {
    /// A program.
    Prog,
    /// A map.
    Map,
    /// A bpf_link.
    Link,
    /// BTF.
    Btf,
}

/// The kind of BPF object `fd` is, from the name of its anonymous inode
/// (`anon_inode:bpf-prog`...); `None` for anything else. (`BPF_OBJ_GET_INFO_BY_FD`
/// cannot tell: it fills whichever info struct it is given.)
pub fn obj_kind(fd: BorrowedFd<'_>) -> Option<ObjKind> {
    let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
    match target.to_str()? {
        "anon_inode:bpf-prog" => Some(ObjKind::Prog),
        "anon_inode:bpf-map" => Some(ObjKind::Map),
        "anon_inode:bpf_link" | "anon_inode:bpf-link" => Some(ObjKind::Link),
        "anon_inode:btf" => Some(ObjKind::Btf),
        _ => None,
    }
}

/// Checks that `fd` is a BPF object of `kind` before a command whose meaning depends on
/// it (`BPF_OBJ_GET_INFO_BY_FD` fills, and follows the addresses in, whichever info
/// struct the fd's kind has, whatever it was given).
///
/// By the name of its anonymous inode ([`obj_kind`]). Where `/proc` is not mounted (a
/// bare chroot), programs and BTF are still told apart by the size of the info the
/// kernel fills in an oversized zeroed buffer (no addresses, so harmless for any kind):
/// `struct bpf_prog_info` is over 200 bytes on every kernel with BTF, `bpf_btf_info`
/// 32, and maps (88+) and links (64+) lie between.
fn expect_kind(fd: BorrowedFd<'_>, kind: ObjKind, call: &'static str) -> Result<(), SysError> {
    let known = match obj_kind(fd) {
        Some(k) => k == kind,
        None if !std::path::Path::new("/proc/self/fd").exists() => {
            let mut probe = ProgInfo::default();
            // SAFETY: every address in `probe` is zero: the kernel writes the struct only.
            let len = unsafe { obj_info(fd, &mut probe)? } as usize;
            match kind {
                ObjKind::Prog => len >= 160,
                ObjKind::Btf => len <= 48,
                ObjKind::Map | ObjKind::Link => false,
            }
        }
        None => false,
    };
    if known {
        Ok(())
    } else {
        Err(SysError::new(
            call,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("fd {} is not a BPF {kind:?}", fd.as_raw_fd()),
            ),
        ))
    }
}
