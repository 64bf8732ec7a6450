//! Attaching a [`Program`]: one method per kind of hook, each returning a [`Link`], and
//! one file per attach family.
//!
//! | file | programs | kernel mechanism |
//! |---|---|---|
//! | `xdp.rs` | XDP | XDP bpf_link; rtnetlink `IFLA_XDP` ([`crate::netlink`]) |
//! | `tc.rs` | tc (`sched_cls`) | TCX bpf_link; cls_bpf filter on clsact over rtnetlink |
//! | `socket.rs` | socket filters | `SO_ATTACH_BPF` |
//! | `tracepoint.rs` | tracepoints, raw tracepoints, perf events | perf event + perf bpf_link or `PERF_EVENT_IOC_SET_BPF`; `BPF_RAW_TRACEPOINT_OPEN` |
//! | `kprobe.rs` | kprobes, kprobe.multi | kprobe PMU or tracefs perf event; kprobe_multi bpf_link |
//! | `uprobe.rs` | uprobes, uprobe.multi | uprobe PMU or tracefs perf event; uprobe_multi bpf_link |
//! | `usdt/` | USDT probes (programs built with `usdt.bpf.h`) | the binary's `.note.stapsdt`; specs in the object's maps; uprobe_multi bpf_link or a uprobe perf event per site |
//! | `probe_event.rs` | (shared by kprobe and uprobe) | tracefs `kprobe_events`/`uprobe_events` |
//! | `tracing.rs` | tp_btf, fentry/fexit/fmod_ret, lsm | bpf_link over a BPF trampoline; `BPF_RAW_TRACEPOINT_OPEN` |
//! | `cgroup.rs` | cgroup, netns, sockmap hooks | bpf_link or `BPF_PROG_ATTACH` |
//! | `iter.rs` | iterators | `trace_iter` bpf_link, `BPF_ITER_CREATE` |
//! | `struct_ops.rs` | struct_ops maps (their programs fill a kernel struct) | the map update; `BPF_STRUCT_OPS` bpf_link for `.struct_ops.link` |
//!
//! Here: auto-attach ([`Program::attach_auto`], from the `SEC()` name) and what every
//! family shares (the error with its hint, the kernel version check).
//!
//! Where the kernel has a bpf_link for the hook, that is used, and the older mechanism
//! is the fallback (logged at debug level): perf events get `PERF_EVENT_IOC_SET_BPF`,
//! cgroups `BPF_PROG_ATTACH`, tracing programs `BPF_RAW_TRACEPOINT_OPEN`.
//!
//! These files use `link`, `netlink` and `iface`; none of those uses `attach`.

mod cgroup;
mod iter;
mod kprobe;
mod probe_event;
mod socket;
mod struct_ops;
mod tc;
mod tracepoint;
mod tracing;
mod uprobe;
pub mod usdt;
mod xdp;

use oxbpf_sys::SysError;
use oxbpf_sys::uapi::{AttachType, ProgType};

pub use self::probe_event::ProbeMode;
pub use self::uprobe::ProbeTarget;
pub use crate::iface::{TcDirection, XdpMode};
use crate::link::Link;
use crate::{Program, ProgramError};

impl Program {
    fn attach_error(&self, what: &str, op: &'static str, source: SysError) -> ProgramError {
        ProgramError::Attach {
            prog: self.name.clone(),
            what: what.to_string(),
            op,
            hint: hint(self.prog_type, op, &source),
            source,
        }
    }

    fn netlink_error(&self, what: &str, refused: crate::netlink::Refused) -> ProgramError {
        ProgramError::Netlink {
            prog: self.name.clone(),
            what: what.to_string(),
            hint: refused.hint,
            source: refused.source,
        }
    }
}

/// What auto-attach did with a program.
#[derive(Debug)]
pub enum AutoAttach {
    /// Attached where its section says.
    Attached(Link),
    /// Its section does not say where (XDP, tc, cgroup, socket programs, or a probe
    /// without a target): the caller must.
    NeedsTarget(&'static str),
}

impl Program {
    /// Attaches where the program's `SEC()` name says, as libbpf's skeletons do:
    /// `tp/CATEGORY/NAME`, `raw_tp/NAME`, `tp_btf/NAME`, `fentry/FUNC` and the other
    /// trampoline kinds, `lsm/HOOK`, `iter/KIND`, `kprobe/FUNC[+OFF]`, `kretprobe/FUNC`,
    /// `ksyscall/NAME`, `kretsyscall/NAME`, `uprobe/PATH:FUNC[+OFF]`,
    /// `uretprobe/PATH:FUNC`. Programs whose section cannot
    /// name a target (XDP, tc, cgroup, socket filters, perf events) are returned as
    /// [`AutoAttach::NeedsTarget`] with what they need.
    ///
    /// # Errors
    /// As the attach method used.
    pub fn attach_auto(&self) -> Result<AutoAttach, ProgramError> {
        let target = self.attach_target.clone().unwrap_or_default();
        let section = self.section.trim_start_matches('?');
        let ret = section.starts_with("kretprobe")
            || section.starts_with("uretprobe")
            || section.starts_with("kretsyscall");
        if section == "usdt" || section.starts_with("usdt/") || section.starts_with("usdt.s") {
            return Ok(AutoAttach::NeedsTarget(
                "its object's USDT maps (attach it with Loaded::attach_usdt)",
            ));
        }
        let link = match self.prog_type {
            ProgType::TRACEPOINT => match target.split_once('/') {
                Some((category, name)) => self.attach_tracepoint(category, name)?,
                None => return Ok(AutoAttach::NeedsTarget("a tracepoint (category/name)")),
            },
            ProgType::RAW_TRACEPOINT | ProgType::RAW_TRACEPOINT_WRITABLE if !target.is_empty() => {
                self.attach_raw_tracepoint(&target)?
            }
            ProgType::TRACING if self.expected_attach_type == Some(AttachType::TRACE_ITER) => {
                self.attach_iter()?
            }
            ProgType::TRACING | ProgType::LSM => self.attach_traced()?,
            ProgType::KPROBE
                if self.expected_attach_type == Some(AttachType::TRACE_KPROBE_MULTI) =>
            {
                if target.is_empty() {
                    return Ok(AutoAttach::NeedsTarget(
                        "a kernel function pattern (kprobe.multi/PATTERN)",
                    ));
                }
                self.attach_kprobe_multi(&target, ret)?
            }
            ProgType::KPROBE
                if self.expected_attach_type == Some(AttachType::TRACE_UPROBE_MULTI) =>
            {
                let Some((path, pattern)) = target.rsplit_once(':') else {
                    return Ok(AutoAttach::NeedsTarget(
                        "a binary and a function pattern (uprobe.multi/PATH:PATTERN)",
                    ));
                };
                self.attach_uprobe_multi(std::path::Path::new(path), pattern, None, ret)?
            }
            ProgType::KPROBE
                if section.starts_with("ksyscall") || section.starts_with("kretsyscall") =>
            {
                if target.is_empty() {
                    return Ok(AutoAttach::NeedsTarget("a system call (ksyscall/NAME)"));
                }
                self.attach_ksyscall(&target, ret)?
            }
            ProgType::KPROBE
                if section.starts_with("uprobe") || section.starts_with("uretprobe") =>
            {
                let Some((path, func)) = target.rsplit_once(':') else {
                    return Ok(AutoAttach::NeedsTarget(
                        "a binary and function (uprobe/PATH:FUNC)",
                    ));
                };
                let (func, off) = split_offset(func);
                let probe = match func.parse::<u64>().ok().or_else(|| {
                    func.strip_prefix("0x")
                        .and_then(|h| u64::from_str_radix(h, 16).ok())
                }) {
                    Some(addr) => ProbeTarget::Offset(addr + off),
                    None => ProbeTarget::Symbol(func.to_string(), off),
                };
                self.attach_uprobe(std::path::Path::new(path), &probe, None, ret)?
            }
            ProgType::KPROBE if !target.is_empty() => {
                let (func, off) = split_offset(&target);
                self.attach_kprobe(func, off, ret)?
            }
            ProgType::KPROBE => return Ok(AutoAttach::NeedsTarget("a kernel function")),
            ProgType::XDP => return Ok(AutoAttach::NeedsTarget("an interface")),
            ProgType::SCHED_CLS | ProgType::SCHED_ACT => {
                return Ok(AutoAttach::NeedsTarget("an interface"));
            }
            ProgType::SOCKET_FILTER => {
                return Ok(AutoAttach::NeedsTarget(
                    "a socket (or an interface to open one on)",
                ));
            }
            t if t.is_cgroup() => return Ok(AutoAttach::NeedsTarget("a cgroup")),
            ProgType::PERF_EVENT => return Ok(AutoAttach::NeedsTarget("a perf event")),
            _ => return Ok(AutoAttach::NeedsTarget("a target this loader cannot guess")),
        };
        Ok(AutoAttach::Attached(link))
    }
}

/// `func+0x10` or `func+16` → (`func`, 16).
fn split_offset(s: &str) -> (&str, u64) {
    match s.split_once('+') {
        Some((f, off)) => {
            let off = off
                .strip_prefix("0x")
                .map_or_else(|| off.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
                .unwrap_or(0);
            (f, off)
        }
        None => (s, 0),
    }
}

/// A sentence for the common refusals.
fn hint(prog_type: ProgType, op: &str, e: &SysError) -> Option<String> {
    let errno = e.errno()?;
    Some(match errno {
        libc::EPERM if op == "BPF_LINK_CREATE" && matches!(prog_type, ProgType::TRACING | ProgType::LSM | ProgType::EXT) => {
            "the kernel cannot build BPF trampolines (no BPF JIT or ftrace direct calls)".into()
        }
        // ENOTSUPP (kernel-internal, 524): the JIT builds trampolines, but hooking a kernel
        // function needs ftrace direct calls, which arm64 gained in Linux 6.4.
        oxbpf_sys::ENOTSUPP if op == "BPF_LINK_CREATE" && matches!(prog_type, ProgType::TRACING | ProgType::LSM) => {
            "this kernel builds BPF trampolines but cannot attach them to kernel functions: it has no ftrace direct calls (CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS; arm64 has them from Linux 6.4)".into()
        }
        libc::EPERM | libc::EACCES => return Some(not_permitted(prog_type, op)),
        libc::EBUSY | libc::EEXIST => "another program is attached there already; detach it first or attach with a mode that allows several".into(),
        libc::EOPNOTSUPP => "the device or kernel does not support this attachment mode".into(),
        libc::ENODEV => "there is no such interface".into(),
        libc::EINVAL if op == "BPF_LINK_CREATE" => format!("the kernel refused this attachment for {prog_type} programs (wrong program type for the hook, or a kernel too old for this link)"),
        _ => return None,
    })
}

/// The `op` of an attach error from opening a perf event on the uprobe PMU, which the
/// kernel guards more strictly than the others.
pub(crate) const UPROBE_PMU_OPEN: &str = "perf_event_open (uprobe PMU)";

/// An `EPERM` or `EACCES`: the capability this process lacks for the step, named.
/// The perf event of a tracepoint or kprobe needs `CAP_PERFMON` (or a
/// `kernel.perf_event_paranoid` low enough); one on the uprobe PMU `CAP_SYS_ADMIN`
/// (since the kernel fix "perf: Require CAP_SYS_ADMIN for uprobes", also in stable
/// kernels; `CAP_PERFMON` before); a `bpf()` attach, what
/// `oxbpf_sys::caps::needed_to_attach` says.
fn not_permitted(prog_type: ProgType, op: &str) -> String {
    use oxbpf_sys::caps::{self, Cap};
    let named = match op {
        UPROBE_PMU_OPEN => caps::missing(&[Cap::SYS_ADMIN]).map(|needs| {
            format!("opening a uprobe perf event {needs} (older kernels took CAP_PERFMON)")
        }),
        "perf_event_open" => caps::missing(&[Cap::PERFMON]).map(|needs| {
            let paranoid = oxbpf_sys::perf::perf_event_paranoid()
                .map(|p| format!(" (kernel.perf_event_paranoid is {p})"))
                .unwrap_or_default();
            format!("opening its perf event {needs}{paranoid}")
        }),
        _ => caps::missing(caps::needed_to_attach(prog_type))
            .map(|needs| format!("attaching {prog_type} programs {needs}")),
    };
    named.unwrap_or_else(|| {
        "attaching needs root (CAP_BPF with CAP_PERFMON or CAP_NET_ADMIN for the hook)".into()
    })
}

/// Whether the running kernel is at least `major.minor`: to tell "too old for this
/// link type" from other refusals, which all come back as `EINVAL`.
fn kernel_since(major: u32, minor: u32) -> bool {
    oxbpf_sys::version::KernelVersion::current()
        .is_some_and(|v| (v.major, v.minor) >= (major, minor))
}
