//! Kprobes: a program on the entry (kprobe) or return (kretprobe) of a kernel function.
//!
//! A perf event on the kprobe PMU (4.17), or a probe event written to tracefs
//! `kprobe_events` on kernels without it (`probe_event.rs`), with the program put on
//! the event as on any perf event (`tracepoint.rs`). `kprobe.multi` programs go on many
//! functions at once with one kprobe_multi bpf_link (5.18, `CONFIG_FPROBE`).

use std::ffi::CString;
use std::os::fd::AsFd;

use oxbpf_sys::bpf;
use oxbpf_sys::perf::{self, PerfEventAttr};
use oxbpf_sys::uapi::AttachType;

use super::kernel_since;
use super::probe_event::{ProbeMode, TracefsProbe, TracefsProbeError, probe_retprobe_bit};
use crate::link::{Held, Link};
use crate::{Program, ProgramError};

impl Program {
    /// Attaches a kprobe (or, with `retprobe`, a kretprobe) program to kernel function
    /// `func` (+`offset`), through the kprobe PMU, or a tracefs probe event on kernels
    /// without it.
    ///
    /// # Errors
    /// A kernel without kprobes says so; the kernel's errno otherwise (`ENOENT` for an
    /// unknown function).
    pub fn attach_kprobe(
        &self,
        func: &str,
        offset: u64,
        retprobe: bool,
    ) -> Result<Link, ProgramError> {
        self.attach_kprobe_with(func, offset, retprobe, ProbeMode::Auto)
    }

    /// [`Program::attach_kprobe`] with the way the probe is created chosen.
    ///
    /// # Errors
    /// As [`Program::attach_kprobe`]; with [`ProbeMode::Pmu`], a kernel without the
    /// kprobe PMU.
    pub fn attach_kprobe_with(
        &self,
        func: &str,
        offset: u64,
        retprobe: bool,
        mode: ProbeMode,
    ) -> Result<Link, ProgramError> {
        let kind = if retprobe { "kretprobe" } else { "kprobe" };
        let what = if offset == 0 {
            format!("{kind} {func}")
        } else {
            format!("{kind} {func}+{offset:#x}")
        };
        let no_kprobes = |why: &str| ProgramError::Unsupported {
            prog: self.name.clone(),
            what: what.clone(),
            why: format!("this kernel has no kprobes ({why}; built without CONFIG_KPROBES?)"),
        };
        let pmu = perf::pmu_type("kprobe");
        let pmu = match (mode, pmu) {
            (ProbeMode::Tracefs, _) | (ProbeMode::Auto, None) => {
                if mode == ProbeMode::Auto {
                    log::debug!("{}: no kprobe PMU; trying tracefs kprobe_events", self.name);
                }
                let def = if offset == 0 {
                    func.to_string()
                } else {
                    format!("{func}+{offset}")
                };
                return self
                    .attach_tracefs_probe(
                        &TracefsProbe {
                            control: "kprobe_events",
                            group: "kprobes",
                            label: func,
                            def: &def,
                            retprobe,
                            pid: None,
                        },
                        &what,
                    )
                    .map_err(|e| match e {
                        TracefsProbeError::NoControlFile => no_kprobes(if mode == ProbeMode::Auto {
                            "no kprobe PMU in /sys/bus/event_source/devices, no kprobe_events in tracefs"
                        } else {
                            "no kprobe_events in tracefs"
                        }),
                        TracefsProbeError::Program(e) => e,
                    });
            }
            (ProbeMode::Pmu | ProbeMode::Auto, Some(pmu)) => pmu,
            (ProbeMode::Pmu, None) => {
                return Err(no_kprobes("no kprobe PMU in /sys/bus/event_source/devices"));
            }
        };
        let c = CString::new(func).map_err(|_| ProgramError::Path {
            prog: self.name.clone(),
            path: func.to_string(),
        })?;
        let mut attr = PerfEventAttr::new(
            pmu,
            if retprobe {
                probe_retprobe_bit("kprobe")
            } else {
                0
            },
        );
        attr.config1 = c.as_ptr() as u64;
        attr.config2 = offset;
        let event = perf::perf_event_open(&attr, -1, 0)
            .map_err(|e| self.attach_error(&what, "perf_event_open", e))?;
        self.attach_perf_event(event, &what)
    }

    /// Attaches a `ksyscall` (or, with `retprobe`, `kretsyscall`) program to system call
    /// `name` (`openat`), as libbpf does: a kprobe on the kernel function that
    /// implements it, the architecture's wrapper (`__x64_sys_openat`,
    /// `__arm64_sys_openat`…) on kernels that have syscall wrappers (4.17+ on x86_64
    /// and arm64), `sys_openat` on others.
    ///
    /// # Errors
    /// As [`Program::attach_kprobe`].
    pub fn attach_ksyscall(&self, name: &str, retprobe: bool) -> Result<Link, ProgramError> {
        let func = syscall_function(name);
        log::debug!(
            "program `{}`: syscall {name} is kernel function {func}",
            self.name
        );
        self.attach_kprobe(&func, 0, retprobe)
    }

    /// Attaches a `kprobe.multi` program (loaded with the `trace_kprobe_multi` attach
    /// type) to every kernel function whose name matches the glob `pattern` (or the one
    /// function it names), with one kprobe_multi link (5.18, `CONFIG_FPROBE`).
    ///
    /// # Errors
    /// No function matches; the kernel's errno.
    pub fn attach_kprobe_multi(&self, pattern: &str, retprobe: bool) -> Result<Link, ProgramError> {
        const BPF_F_KPROBE_MULTI_RETURN: u32 = 1;
        let kind = if retprobe {
            "kretprobe.multi"
        } else {
            "kprobe.multi"
        };
        let what = format!("{kind} {pattern}");
        let unsupported = |why: String| ProgramError::Unsupported {
            prog: self.name.clone(),
            what: what.clone(),
            why,
        };
        let funcs = if pattern.contains(['*', '?']) {
            crate::symbols::kernel_functions_matching(pattern).map_err(unsupported)?
        } else {
            vec![pattern.to_string()]
        };
        if funcs.is_empty() {
            return Err(unsupported(format!(
                "no kernel function matches `{pattern}`"
            )));
        }
        let names: Vec<CString> = funcs
            .iter()
            .map(|f| CString::new(f.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|_| ProgramError::Path {
                prog: self.name.clone(),
                path: pattern.to_string(),
            })?;
        let syms: Vec<&std::ffi::CStr> = names.iter().map(CString::as_c_str).collect();
        log::debug!("{}: {kind} on {} functions", self.name, syms.len());
        let fd = bpf::link_create_kprobe_multi(
            self.fd.as_fd(),
            AttachType::TRACE_KPROBE_MULTI,
            &syms,
            if retprobe {
                BPF_F_KPROBE_MULTI_RETURN
            } else {
                0
            },
        )
        .map_err(|e| {
            // Built without fprobe: EOPNOTSUPP. Older than the link type: EINVAL.
            if e.errno() == Some(libc::EOPNOTSUPP)
                || (e.errno() == Some(libc::EINVAL) && !kernel_since(5, 18))
            {
                return unsupported(
                    "this kernel has no kprobe_multi links (5.18+ built with CONFIG_FPROBE)".into(),
                );
            }
            self.attach_error(&what, "BPF_LINK_CREATE", e)
        })?;
        Ok(Link::new(
            Held::Bpf(fd),
            format!("{} on {what} ({} functions)", self.name, funcs.len()),
        ))
    }
}

/// The kernel function that implements system call `name`: the wrapper when the
/// running kernel has one for `bpf` (libbpf's `FEAT_SYSCALL_WRAPPER` probe, made here
/// by looking the function up rather than by creating a probe on it), else
/// `sys_NAME`.
fn syscall_function(name: &str) -> String {
    if let Some(prefix) = oxbpf_sys::arch::syscall_wrapper_prefix() {
        let wrapper = format!("{prefix}_sys_bpf");
        match crate::symbols::kernel_functions_matching(&wrapper) {
            Ok(found) if !found.is_empty() => return format!("{prefix}_sys_{name}"),
            Ok(_) => log::debug!("no kernel function {wrapper}: no syscall wrappers"),
            Err(e) => log::debug!("cannot look for {wrapper} ({e}): assuming no syscall wrappers"),
        }
    }
    format!("sys_{name}")
}
