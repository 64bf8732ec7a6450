//! `bpf(2)`: one function per command.
//!
//! Each wrapper takes the command's own attr struct, passes exactly its size, and turns
//! a failure into a [`SysError`] naming the command. Every call is logged at trace level
//! with its result, which is what `oxbpf explain` shows as "an strace for BPF".

use std::io;
use std::os::fd::OwnedFd;

use crate::SysError;
use crate::fd::ensure_high_fd;
use crate::uapi::{BtfLoadAttr, Cmd, Insn, MapCreateAttr, ProgLoadAttr};

/// Issues `bpf(cmd, attr, sizeof(*attr))` and returns the kernel's non-negative answer.
///
/// # Safety
/// `attr` must be the attr struct of `cmd`, and every address stored in it must point to
/// memory that is valid, for the access the kernel makes, until this call returns.
unsafe fn sys_bpf<A>(cmd: Cmd, attr: &mut A) -> io::Result<libc::c_long> {
    let size = std::mem::size_of::<A>();
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
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Runs a command that returns a new file descriptor.
///
/// # Safety
/// As [`sys_bpf`].
unsafe fn bpf_fd<A>(cmd: Cmd, name: &'static str, attr: &mut A) -> Result<OwnedFd, SysError> {
    // SAFETY: forwarded from the caller.
    let result = unsafe { sys_bpf(cmd, attr) };
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
    // SAFETY: MapCreateAttr holds no addresses.
    unsafe { bpf_fd(Cmd::MapCreate, "BPF_MAP_CREATE", &mut attr) }
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
    let mut attr = *attr;
    attr.insns = data.insns.as_ptr() as u64;
    attr.insn_cnt = u32::try_from(data.insns.len()).map_err(|_| too_big("BPF_PROG_LOAD"))?;
    attr.license = data.license.as_ptr() as u64;
    if data.log.is_empty() {
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
    } else {
        attr.log_buf = data.log.as_mut_ptr() as u64;
        attr.log_size = u32::try_from(data.log.len()).map_err(|_| too_big("BPF_PROG_LOAD"))?;
    }
    if !data.func_info.is_empty() && attr.func_info_rec_size != 0 {
        attr.func_info = data.func_info.as_ptr() as u64;
        attr.func_info_cnt = (data.func_info.len() / attr.func_info_rec_size as usize) as u32;
    }
    if !data.line_info.is_empty() && attr.line_info_rec_size != 0 {
        attr.line_info = data.line_info.as_ptr() as u64;
        attr.line_info_cnt = (data.line_info.len() / attr.line_info_rec_size as usize) as u32;
    }
    if !data.fd_array.is_empty() {
        attr.fd_array = data.fd_array.as_ptr() as u64;
    }
    // SAFETY: every address in `attr` comes from a slice in `data`, which outlives the
    // call; counts and sizes were set from the same slices. The log buffer is borrowed
    // mutably, so the kernel's writes alias nothing.
    unsafe { bpf_fd(Cmd::ProgLoad, "BPF_PROG_LOAD", &mut attr) }
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
    if !log.is_empty() {
        attr.btf_log_buf = log.as_mut_ptr() as u64;
        attr.btf_log_size = u32::try_from(log.len()).map_err(|_| too_big("BPF_BTF_LOAD"))?;
        attr.btf_log_level = 1;
    }
    // SAFETY: `btf` and `log` outlive the call; the sizes are theirs; the log is borrowed
    // mutably, so the kernel's writes alias nothing.
    unsafe { bpf_fd(Cmd::BtfLoad, "BPF_BTF_LOAD", &mut attr) }
}

fn too_big(call: &'static str) -> SysError {
    SysError::new(call, io::Error::from_raw_os_error(libc::E2BIG))
}
