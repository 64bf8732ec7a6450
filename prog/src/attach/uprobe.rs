//! Uprobes: a program on the entry (uprobe) or return (uretprobe) of a function in a
//! binary or library, found by its file offset (`symbols.rs`).
//!
//! A perf event on the uprobe PMU (4.17), or a probe event written to tracefs
//! `uprobe_events` on kernels without it (`probe_event.rs`), with the program put on
//! the event as on any perf event (`tracepoint.rs`). `uprobe.multi` programs go on many
//! functions of a file at once with one uprobe_multi bpf_link (6.6).

use std::ffi::CString;
use std::os::fd::AsFd;

use oxbpf_sys::bpf;
use oxbpf_sys::perf::{self, PerfEventAttr};
use oxbpf_sys::uapi::AttachType;

use super::kernel_since;
use super::probe_event::{ProbeMode, TracefsProbe, TracefsProbeError, probe_retprobe_bit};
use crate::link::{Held, Link};
use crate::{Program, ProgramError};

/// A probe's target in a binary: a symbol (resolved through the ELF symbol tables) or a
/// file offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeTarget {
    /// A function by name, plus an offset into it.
    Symbol(String, u64),
    /// A file offset.
    Offset(u64),
}

impl Program {
    /// Attaches a uprobe (or uretprobe) program to `target` in the binary or library at
    /// `path` (a bare library name such as `libc.so.6` is looked up in the standard
    /// directories), for process `pid` (or every process with `None`), through the
    /// uprobe PMU, or a tracefs probe event on kernels without it.
    ///
    /// # Errors
    /// The symbol is not in the file; the kernel's errno.
    pub fn attach_uprobe(
        &self,
        path: &std::path::Path,
        target: &ProbeTarget,
        pid: Option<i32>,
        retprobe: bool,
    ) -> Result<Link, ProgramError> {
        self.attach_uprobe_with(path, target, pid, retprobe, ProbeMode::Auto)
    }

    /// [`Program::attach_uprobe`] with the way the probe is created chosen.
    ///
    /// # Errors
    /// As [`Program::attach_uprobe`].
    pub fn attach_uprobe_with(
        &self,
        path: &std::path::Path,
        target: &ProbeTarget,
        pid: Option<i32>,
        retprobe: bool,
        mode: ProbeMode,
    ) -> Result<Link, ProgramError> {
        use std::os::unix::ffi::OsStrExt as _;
        let kind = if retprobe { "uretprobe" } else { "uprobe" };
        // A bare library name (`libc.so.6`) is found in the standard directories, for
        // the symbol lookup and for the kernel alike.
        let resolved = crate::symbols::resolve_library(path);
        let path = resolved.as_path();
        let offset = match target {
            ProbeTarget::Offset(o) => *o,
            ProbeTarget::Symbol(sym, add) => {
                crate::symbols::file_offset(path, sym).map_err(|why| ProgramError::Unsupported {
                    prog: self.name.clone(),
                    what: format!("{kind} {}:{sym}", path.display()),
                    why,
                })? + add
            }
        };
        let what = match target {
            ProbeTarget::Symbol(sym, 0) => format!("{kind} {}:{sym}", path.display()),
            _ => format!("{kind} {}:{offset:#x}", path.display()),
        };
        let no_uprobes = |why: &str| ProgramError::Unsupported {
            prog: self.name.clone(),
            what: what.clone(),
            why: format!("this kernel has no uprobes ({why}; built without CONFIG_UPROBE_EVENTS?)"),
        };
        let pmu = match (mode, perf::pmu_type("uprobe")) {
            (ProbeMode::Tracefs, _) | (ProbeMode::Auto, None) => {
                let label = match target {
                    ProbeTarget::Symbol(sym, _) => sym.clone(),
                    ProbeTarget::Offset(o) => format!("{o:x}"),
                };
                if path.as_os_str().as_bytes().contains(&b' ') {
                    return Err(ProgramError::Path {
                        prog: self.name.clone(),
                        path: path.display().to_string(),
                    });
                }
                let def = format!("{}:{offset:#x}", path.display());
                return self
                    .attach_tracefs_probe(
                        &TracefsProbe {
                            control: "uprobe_events",
                            group: "uprobes",
                            label: &label,
                            def: &def,
                            retprobe,
                            pid,
                        },
                        &what,
                    )
                    .map_err(|e| match e {
                        TracefsProbeError::NoControlFile => {
                            no_uprobes("no uprobe_events in tracefs")
                        }
                        TracefsProbeError::Program(e) => e,
                    });
            }
            (ProbeMode::Pmu | ProbeMode::Auto, Some(pmu)) => pmu,
            (ProbeMode::Pmu, None) => {
                return Err(no_uprobes("no uprobe PMU in /sys/bus/event_source/devices"));
            }
        };
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| ProgramError::Path {
            prog: self.name.clone(),
            path: path.display().to_string(),
        })?;
        let mut attr = PerfEventAttr::new(
            pmu,
            if retprobe {
                probe_retprobe_bit("uprobe")
            } else {
                0
            },
        );
        attr.config1 = c.as_ptr() as u64;
        attr.config2 = offset;
        let (pid, cpu) = match pid {
            Some(p) => (p, -1),
            None => (-1, 0),
        };
        let event = perf::perf_event_open(&attr, pid, cpu)
            .map_err(|e| self.attach_error(&what, super::UPROBE_PMU_OPEN, e))?;
        self.attach_perf_event(event, &what)
    }

    /// Attaches a `uprobe.multi` program (loaded with the `trace_uprobe_multi` attach
    /// type) to every function of the file at `path` whose name matches the glob
    /// `pattern`, with one uprobe_multi link (6.6).
    ///
    /// # Errors
    /// No function matches; the kernel's errno (`EINVAL` before 6.6).
    pub fn attach_uprobe_multi(
        &self,
        path: &std::path::Path,
        pattern: &str,
        pid: Option<i32>,
        retprobe: bool,
    ) -> Result<Link, ProgramError> {
        use std::os::unix::ffi::OsStrExt as _;
        const BPF_F_UPROBE_MULTI_RETURN: u32 = 1;
        let kind = if retprobe {
            "uretprobe.multi"
        } else {
            "uprobe.multi"
        };
        let resolved = crate::symbols::resolve_library(path);
        let what = format!("{kind} {}:{pattern}", resolved.display());
        let found = crate::symbols::file_offsets_matching(&resolved, pattern).map_err(|why| {
            ProgramError::Unsupported {
                prog: self.name.clone(),
                what: what.clone(),
                why,
            }
        })?;
        let offsets: Vec<u64> = found.iter().map(|(_, o)| *o).collect();
        let c = CString::new(resolved.as_os_str().as_bytes()).map_err(|_| ProgramError::Path {
            prog: self.name.clone(),
            path: resolved.display().to_string(),
        })?;
        let fd = bpf::link_create_uprobe_multi(
            self.fd.as_fd(),
            AttachType::TRACE_UPROBE_MULTI,
            &c,
            &bpf::UprobeSites {
                offsets: &offsets,
                ..Default::default()
            },
            if retprobe {
                BPF_F_UPROBE_MULTI_RETURN
            } else {
                0
            },
            pid.map_or(0, |p| p as u32),
        )
        .map_err(|e| {
            if e.errno() == Some(libc::EINVAL) && !kernel_since(6, 6) {
                return ProgramError::Unsupported {
                    prog: self.name.clone(),
                    what: what.clone(),
                    why: "this kernel has no uprobe_multi links (6.6+)".into(),
                };
            }
            self.attach_error(&what, "BPF_LINK_CREATE", e)
        })?;
        Ok(Link::new(
            Held::Bpf(fd),
            format!("{} on {what} ({} functions)", self.name, found.len()),
        ))
    }
}
