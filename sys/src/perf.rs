//! `perf_event_open(2)` and its ioctls, for the attachments that go through perf events:
//! tracepoints, kprobes and uprobes (as PMU events), and software events for
//! perf_event programs. Also the tracepoint ids tracefs publishes, read even when
//! tracefs is not mounted.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::SysError;
use crate::fd::ensure_high_fd;

/// `PERF_TYPE_SOFTWARE`.
pub const TYPE_SOFTWARE: u32 = 1;
/// `PERF_TYPE_TRACEPOINT`.
pub const TYPE_TRACEPOINT: u32 = 2;
/// `PERF_COUNT_SW_CPU_CLOCK`.
pub const COUNT_SW_CPU_CLOCK: u64 = 0;
/// `PERF_SAMPLE_RAW`.
pub const SAMPLE_RAW: u64 = 1 << 10;

/// `struct perf_event_attr` (`PERF_ATTR_SIZE_VER8`, 136 bytes); the bitfield word after
/// `read_format` is `flags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct PerfEventAttr {
    /// `PERF_TYPE_*`, or a dynamic PMU's type (kprobe, uprobe).
    pub type_: u32,
    /// `sizeof(struct perf_event_attr)`.
    pub size: u32,
    /// Event within the type: a tracepoint id, a software counter, a probe's flags.
    pub config: u64,
    /// `sample_period` or `sample_freq`.
    pub sample_period: u64,
    /// `PERF_SAMPLE_*`.
    pub sample_type: u64,
    /// `PERF_FORMAT_*`.
    pub read_format: u64,
    /// The bitfields: bit 0 `disabled`, bit 10 `freq`, ...
    pub flags: u64,
    /// `wakeup_events` or `wakeup_watermark`.
    pub wakeup_events: u32,
    /// Breakpoint type.
    pub bp_type: u32,
    /// `config1`: for probe PMUs, the address of the function or path name.
    pub config1: u64,
    /// `config2`: for probe PMUs, the offset.
    pub config2: u64,
    /// `branch_sample_type`.
    pub branch_sample_type: u64,
    /// `sample_regs_user`.
    pub sample_regs_user: u64,
    /// `sample_stack_user`.
    pub sample_stack_user: u32,
    /// `clockid`.
    pub clockid: i32,
    /// `sample_regs_intr`.
    pub sample_regs_intr: u64,
    /// `aux_watermark`.
    pub aux_watermark: u32,
    /// `sample_max_stack`.
    pub sample_max_stack: u16,
    /// Reserved.
    pub _reserved_2: u16,
    /// `aux_sample_size`.
    pub aux_sample_size: u32,
    /// Reserved.
    pub _reserved_3: u32,
    /// `sig_data`.
    pub sig_data: u64,
    /// `config3`.
    pub config3: u64,
}

/// `disabled` in [`PerfEventAttr::flags`].
pub const FLAG_DISABLED: u64 = 1;

impl PerfEventAttr {
    /// An attr of `type_` and `config`, with the size filled in.
    pub fn new(type_: u32, config: u64) -> PerfEventAttr {
        PerfEventAttr {
            type_,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config,
            ..Default::default()
        }
    }
}

/// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`.
///
/// # Errors
/// `ENOENT`/`EINVAL` for an event the kernel does not have, `EACCES`/`EPERM` without
/// `CAP_PERFMON`.
pub fn perf_event_open(attr: &PerfEventAttr, pid: i32, cpu: i32) -> Result<OwnedFd, SysError> {
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
    let mut attr = *attr;
    let started = std::time::Instant::now();
    // SAFETY: `attr` is a live perf_event_attr of the size it declares; the pointers in
    // config1 (probe PMUs) are the caller's, alive for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &raw mut attr,
            pid as libc::c_long,
            cpu as libc::c_long,
            -1 as libc::c_long,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    let result = if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        i32::try_from(ret)
            .map_err(|_| io::Error::from_raw_os_error(libc::EBADF))
            .and_then(ensure_high_fd)
    };
    log::trace!(
        "perf_event_open(type {}, config {:#x}) = {result:?}",
        attr.type_,
        attr.config
    );
    let shown = result.as_ref().map_err(crate::trace::errno_text);
    crate::trace::push_other(
        "perf_event_open",
        || {
            let what = match attr.type_ {
                2 => "tracepoint".to_string(),
                1 => "software".to_string(),
                t => format!("PMU {t}"),
            };
            format!("type={what} config={:#x} pid={pid} cpu={cpu}", attr.config)
        },
        started,
        &shown,
        |fd| format!("fd {}", fd.as_raw_fd()),
    );
    result.map_err(|e| SysError::new("perf_event_open", e))
}

/// The perf ioctls (include/uapi/linux/perf_event.h), through nix's request encoding
/// (its macros define public unsafe functions: kept in a private module).
mod ioc {
    nix::ioctl_none!(enable, b'$', 0);
    nix::ioctl_none!(disable, b'$', 1);
    nix::ioctl_write_int!(set_bpf, b'$', 8);
}

/// Which perf ioctl, with its integer argument.
#[derive(Clone, Copy)]
enum PerfIoctl {
    Enable,
    Disable,
    SetBpf(i32),
}

fn ioctl(fd: BorrowedFd<'_>, name: &'static str, op: PerfIoctl) -> Result<(), SysError> {
    let started = std::time::Instant::now();
    let raw = fd.as_raw_fd();
    // SAFETY: these perf ioctls take an integer argument (or none), no pointer; `fd` is
    // open for the call.
    let result = unsafe {
        match op {
            PerfIoctl::Enable => ioc::enable(raw),
            PerfIoctl::Disable => ioc::disable(raw),
            PerfIoctl::SetBpf(prog) => ioc::set_bpf(raw, prog as nix::sys::ioctl::ioctl_param_type),
        }
    }
    .map(|_| ())
    .map_err(io::Error::from);
    let arg = match op {
        PerfIoctl::SetBpf(prog) => prog,
        _ => 0,
    };
    crate::trace::push_other(
        name,
        || format!("perf fd {raw} arg {arg}"),
        started,
        &result.as_ref().map_err(crate::trace::errno_text),
        |()| "0".into(),
    );
    result.map_err(|e| SysError::new(name, e))
}

/// `PERF_EVENT_IOC_SET_BPF`: runs `prog` on each event (the pre-bpf_link attachment).
///
/// # Errors
/// `EEXIST` when a program is attached already; `EINVAL` for a mismatched type.
pub fn set_bpf(event: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), SysError> {
    ioctl(
        event,
        "PERF_EVENT_IOC_SET_BPF",
        PerfIoctl::SetBpf(prog.as_raw_fd()),
    )
}

/// `PERF_EVENT_IOC_ENABLE`.
///
/// # Errors
/// The kernel's errno.
pub fn enable(event: BorrowedFd<'_>) -> Result<(), SysError> {
    ioctl(event, "PERF_EVENT_IOC_ENABLE", PerfIoctl::Enable)
}

/// `PERF_EVENT_IOC_DISABLE`.
///
/// # Errors
/// The kernel's errno.
pub fn disable(event: BorrowedFd<'_>) -> Result<(), SysError> {
    ioctl(event, "PERF_EVENT_IOC_DISABLE", PerfIoctl::Disable)
}

/// The type number of a dynamic PMU (`kprobe`, `uprobe`) from sysfs, if the kernel has
/// it.
pub fn pmu_type(pmu: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/bus/event_source/devices/{pmu}/type"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Where tracefs is usually mounted.
const TRACEFS_MOUNTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Reads a tracefs file (`events/syscalls/sys_enter_write/id`). From a mounted tracefs
/// if there is one; otherwise a short-lived child process mounts tracefs in a mount
/// namespace of its own and reads it there, so the machine's mounts never change (this
/// needs `CAP_SYS_ADMIN`).
///
/// # Errors
/// The file does not exist (no such tracepoint), or tracefs cannot be reached.
pub fn read_tracefs(relative: &str) -> io::Result<Vec<u8>> {
    for root in TRACEFS_MOUNTS {
        if std::path::Path::new(root).join("events").is_dir() {
            return std::fs::read(std::path::Path::new(root).join(relative));
        }
    }
    read_tracefs_privately(relative)
}

/// What a refused tracefs access (`EACCES`, `EPERM`) means for this process, naming the
/// capability it lacks; `None` if it holds what the access needs (or procfs cannot
/// tell). [`read_tracefs`] and [`write_tracefs`] use a mounted tracefs, which is open to
/// root only (`drwx------`): `CAP_DAC_READ_SEARCH` reads it, `CAP_DAC_OVERRIDE` writes
/// it. Without one they mount tracefs privately, which needs `CAP_SYS_ADMIN`.
pub fn tracefs_refusal(write: bool) -> Option<String> {
    use crate::caps::{self, Cap};
    let eff = caps::effective()?;
    let mounted = std::fs::read_to_string("/proc/self/mounts")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                let (at, fstype) = (f.nth(1)?, f.next()?);
                (fstype == "tracefs" && TRACEFS_MOUNTS.contains(&at)).then(|| at.to_string())
            })
        });
    let (dac, verb) = if write {
        (Cap::DAC_OVERRIDE, "writing")
    } else {
        (Cap::DAC_READ_SEARCH, "reading")
    };
    let mount = caps::describe(&[Cap::SYS_ADMIN], eff)?;
    Some(match mounted {
        Some(at) => {
            caps::describe(&[dac], eff)?;
            format!(
                "{verb} tracefs needs {dac} (the tracefs at {at} is open to root only) or {} (to mount one privately); this process has neither",
                Cap::SYS_ADMIN
            )
        }
        None => format!("no tracefs is mounted, and mounting one privately {mount}"),
    })
}

/// `kernel.perf_event_paranoid`: who may open which perf events without `CAP_PERFMON`.
pub fn perf_event_paranoid() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The child-process path of [`read_tracefs`].
fn read_tracefs_privately(relative: &str) -> io::Result<Vec<u8>> {
    let (rd, pid) = stream_tracefs(relative)?;
    let mut out = Vec::new();
    let read = io::Read::read_to_end(&mut std::fs::File::from(rd), &mut out);
    let waited = wait_child(pid);
    read?;
    waited.map(|()| out)
}

/// Starts a child process that mounts tracefs in a mount namespace of its own and
/// copies the file `relative` of it into a pipe, until the file ends or the pipe's
/// reader goes away. Returns the read end and the child's pid (the caller reaps it).
/// For files that never end (`trace_pipe`), kill the child when done.
///
/// # Errors
/// `pipe2` or `fork` failed.
pub fn stream_tracefs(relative: &str) -> io::Result<(OwnedFd, libc::pid_t)> {
    let path = private_path(relative)?;
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let pid = fork_tracefs_child(
        &path,
        TracefsOp::Read {
            out: wr.as_raw_fd(),
        },
    );
    // The parent's copy of the write end closes here; on failure the read end too.
    drop(wr);
    Ok((rd, pid?))
}

/// Appends `line` to a tracefs control file (`kprobe_events`, `uprobe_events`) in one
/// `write()`, as those files require. Through a mounted tracefs if there is one;
/// otherwise in a short-lived child with a private tracefs mount, as [`read_tracefs`].
/// The probes such a write creates or removes are global to the kernel, whichever
/// mount they were written through.
///
/// # Errors
/// The kernel's errno for the write (`ENOENT`: no such file, so no such feature;
/// `EINVAL`/`ENOENT` from the probe parser: an unknown function or a bad line).
pub fn write_tracefs(relative: &str, line: &str) -> io::Result<()> {
    for root in TRACEFS_MOUNTS {
        let root = std::path::Path::new(root);
        if root.join("events").is_dir() {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(root.join(relative))?;
            let n = io::Write::write(&mut f, line.as_bytes())?;
            return if n == line.len() {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(libc::EIO))
            };
        }
    }
    let path = private_path(relative)?;
    let pid = fork_tracefs_child(
        &path,
        TracefsOp::Write {
            data: line.as_ptr(),
            len: line.len(),
        },
    )?;
    wait_child(pid)
}

/// The path of `relative` under the private tracefs mount point.
fn private_path(relative: &str) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(format!("{PRIVATE_TRACEFS}/{relative}"))
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Where a child mounts its private tracefs.
const PRIVATE_TRACEFS: &str = "/sys/kernel/tracing";

/// Waits for a tracefs child; its exit status is 0 or the errno of the step that failed.
fn wait_child(pid: libc::pid_t) -> io::Result<()> {
    use nix::sys::wait::{WaitStatus, waitpid};
    let code = match waitpid(nix::unistd::Pid::from_raw(pid), None)? {
        WaitStatus::Exited(_, code) => code,
        _ => libc::EIO,
    };
    match code {
        0 => Ok(()),
        e => {
            Err(SetupStep::decode(e)
                .map_or_else(|| io::Error::from_raw_os_error(e), io::Error::other))
        }
    }
}

/// The mount steps of a tracefs child, as exit codes: the step's base plus the errno
/// (every errno these calls return is below [`SetupStep::SPAN`]; the others exit with
/// the bare errno, which stays below the first base).
#[derive(Clone, Copy, Debug, PartialEq)]
enum SetupStep {
    /// Making the new mount namespace private (`mount("/", MS_REC | MS_PRIVATE)`).
    MakePrivate = 150,
    /// Mounting tracefs at [`PRIVATE_TRACEFS`].
    MountTracefs = 200,
}

impl SetupStep {
    const SPAN: i32 = 50;

    fn decode(code: i32) -> Option<PrivateTracefsError> {
        let step = match code {
            150..200 => SetupStep::MakePrivate,
            200..250 => SetupStep::MountTracefs,
            _ => return None,
        };
        Some(PrivateTracefsError {
            step,
            source: io::Error::from_raw_os_error(code - step as i32),
        })
    }
}

/// No tracefs is mounted and none could be mounted privately; says what to mount.
#[derive(Debug)]
pub struct PrivateTracefsError {
    step: SetupStep,
    source: io::Error,
}

impl std::fmt::Display for PrivateTracefsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = match (self.step, self.source.raw_os_error()) {
            (SetupStep::MakePrivate, Some(libc::EINVAL)) => {
                "/ is not a mount point here (a chroot?), so a private mount namespace cannot be made".to_string()
            }
            (SetupStep::MakePrivate, _) => {
                format!("making a private mount namespace failed: {}", self.source)
            }
            (SetupStep::MountTracefs, Some(libc::ENOENT)) => {
                format!("{PRIVATE_TRACEFS} does not exist here (a chroot without /sys?)")
            }
            (SetupStep::MountTracefs, _) => format!(
                "mounting tracefs at {PRIVATE_TRACEFS} failed: {}",
                self.source
            ),
        };
        write!(
            f,
            "no tracefs is mounted and oxbpf cannot mount one of its own: {why}; mount one where it runs: mount -t tracefs nodev {PRIVATE_TRACEFS}"
        )
    }
}

impl std::error::Error for PrivateTracefsError {}

/// What a tracefs child does with its file.
#[derive(Clone, Copy)]
enum TracefsOp {
    /// Copy the file into this pipe write end until it ends.
    Read { out: i32 },
    /// Write these bytes (owned by the parent, valid in the child's copy) in one call.
    Write { data: *const u8, len: usize },
}

/// Forks a child that mounts tracefs privately and performs `op` on `path`.
fn fork_tracefs_child(path: &CStr, op: TracefsOp) -> io::Result<libc::pid_t> {
    // Everything the child touches is prepared before the fork: between fork and _exit
    // it may only make system calls (the parent may have other threads holding locks).
    let target = c"/sys/kernel/tracing";
    let parent = nix::unistd::getpid().as_raw();
    // SAFETY: fork; the child below only makes raw system calls on memory prepared
    // before the fork and ends with _exit, never returning into Rust code.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: child side, see above; every pointer is to memory allocated before
        // the fork, which the child's copy of the address space still holds.
        unsafe { child_tracefs(target, path, op, parent) }
    }
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid)
}

/// In the forked child: new mount namespace, private propagation, tracefs, then `op`;
/// exit with 0 or the failing errno.
///
/// # Safety
/// Only in a freshly forked child; never returns.
///
/// Raw libc calls only (fork itself too): between fork and `_exit` nothing may allocate
/// or take a lock, which nix's wrappers do not promise.
unsafe fn child_tracefs(target: &CStr, path: &CStr, op: TracefsOp, parent: libc::pid_t) -> ! {
    // SAFETY: raw system calls on the NUL-terminated strings and the buffers given;
    // errno is read right after the failing call.
    unsafe {
        let fail = || libc::_exit(*libc::__errno_location());
        // The child must neither outlive its parent (a killed `oxbpf run` would leave a
        // trace_pipe reader behind) nor keep the parent's programs, maps and links
        // alive through the descriptors fork copied: die with the parent, and close
        // every descriptor but the pipe it writes to.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(libc::ESRCH);
        }
        let keep = match op {
            TracefsOp::Read { out } => out,
            TracefsOp::Write { .. } => -1,
        };
        close_all_but(keep);
        // The two mount steps exit with codes of their own (see `SetupStep`), so the
        // parent can say which failed.
        let fail_at = |step: SetupStep| {
            let errno = *libc::__errno_location();
            libc::_exit(if errno < SetupStep::SPAN {
                step as i32 + errno
            } else {
                errno
            })
        };
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            fail();
        }
        if libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            fail_at(SetupStep::MakePrivate);
        }
        if libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        ) != 0
        {
            fail_at(SetupStep::MountTracefs);
        }
        match op {
            TracefsOp::Read { out } => {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    fail();
                }
                let mut buf = [0u8; 4096];
                loop {
                    let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                    if n < 0 {
                        fail();
                    }
                    if n == 0 {
                        break;
                    }
                    if libc::write(out, buf.as_ptr().cast(), n as usize) != n {
                        fail();
                    }
                }
            }
            TracefsOp::Write { data, len } => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_WRONLY | libc::O_APPEND | libc::O_CLOEXEC,
                );
                if fd < 0 {
                    fail();
                }
                let n = libc::write(fd, data.cast(), len);
                if n < 0 {
                    fail();
                }
                if n as usize != len {
                    libc::_exit(libc::EIO);
                }
            }
        }
        libc::_exit(0)
    }
}

/// Closes every descriptor above stderr except `keep` (-1: none), with `close_range`
/// where the kernel has it (5.9) and one `close` per descriptor otherwise.
///
/// # Safety
/// Only in a freshly forked child: it closes descriptors other code may own.
unsafe fn close_all_but(keep: i32) {
    // SAFETY: raw system calls on integers.
    unsafe {
        let range = |first: u32, last: u32| {
            if first > last {
                return true;
            }
            libc::syscall(libc::SYS_close_range, first, last, 0) == 0
        };
        let ok = if keep >= 3 {
            range(3, keep as u32 - 1) && range(keep as u32 + 1, u32::MAX)
        } else {
            range(3, u32::MAX)
        };
        if !ok {
            for fd in 3..65_536 {
                if fd != keep {
                    libc::close(fd);
                }
            }
        }
    }
}

/// The id of tracepoint `category/name` (`syscalls/sys_enter_write`), from tracefs.
/// Ids of the kernel's own tracepoints never change while it runs, so each is read
/// once per process (reading may mean forking a child to mount tracefs).
///
/// # Errors
/// No such tracepoint (`ENOENT`), or tracefs is unreachable.
pub fn tracepoint_id(category: &str, name: &str) -> io::Result<u64> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static IDS: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    if category.contains(['/', '.']) || name.contains(['/', '.']) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let key = format!("{category}/{name}");
    let ids = IDS.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(id) = ids.lock().ok().and_then(|m| m.get(&key).copied()) {
        return Ok(id);
    }
    let started = std::time::Instant::now();
    let path = format!("events/{key}/id");
    let id = read_tracefs(&path).and_then(|text| {
        String::from_utf8_lossy(&text)
            .trim()
            .parse::<u64>()
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
    });
    // The id perf_event_open takes as `config` (tracefs is read in a private mount).
    crate::trace::push_other(
        "read",
        || format!("tracefs {path}"),
        started,
        &id.as_ref().map_err(crate::trace::errno_text),
        |id| format!("{id} ({id:#x})"),
    );
    let id = id?;
    if let Ok(mut m) = ids.lock() {
        m.insert(key, id);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn perf_event_attr_matches_kernel_layout() {
        assert_eq!(offset_of!(PerfEventAttr, flags), 40);
        assert_eq!(offset_of!(PerfEventAttr, config1), 56);
        assert_eq!(offset_of!(PerfEventAttr, config2), 64);
        assert_eq!(offset_of!(PerfEventAttr, sample_regs_intr), 96);
        assert_eq!(offset_of!(PerfEventAttr, config3), 128);
        assert_eq!(size_of::<PerfEventAttr>(), 136);
    }
}
