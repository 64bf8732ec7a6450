//! Attaching a [`Program`]: one method per kind of hook, each returning a [`Link`].
//!
//! Where the kernel has a bpf_link for the hook, that is used, and the older mechanism
//! is the fallback (logged at debug level): perf events get `PERF_EVENT_IOC_SET_BPF`,
//! cgroups `BPF_PROG_ATTACH`, tracing programs `BPF_RAW_TRACEPOINT_OPEN`.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use oxbpf_sys::SysError;
use oxbpf_sys::bpf;
use oxbpf_sys::perf::{self, PerfEventAttr};
use oxbpf_sys::uapi::{AttachType, LinkCreateAttr, ProgAttachAttr, ProgType};

pub use crate::iface::{TcDirection, XdpMode};
use crate::link::{Held, Link, raw};
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

/// How a kprobe or uprobe is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProbeMode {
    /// The probe PMU where the kernel has it (4.17+), otherwise a tracefs probe event.
    #[default]
    Auto,
    /// The probe PMU only (`perf_event_open` on the `kprobe`/`uprobe` PMU).
    Pmu,
    /// A probe event written to tracefs `kprobe_events`/`uprobe_events` (removed again
    /// on detach), opened as a tracepoint: what kernels before 4.17 offer.
    Tracefs,
}

/// Probe events this process has created through tracefs, to make each name unique.
static TRACEFS_PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

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

    /// Attaches a socket filter to `sock` (`SO_ATTACH_BPF`). The link holds a duplicate
    /// of the socket and detaches the filter when dropped.
    ///
    /// # Errors
    /// The kernel's errno (`EINVAL` for a program that is not a socket filter).
    pub fn attach_socket(&self, sock: BorrowedFd<'_>) -> Result<Link, ProgramError> {
        let what = "socket filter";
        let dup = sock
            .try_clone_to_owned()
            .map_err(|e| self.attach_error(what, "dup", SysError::new("dup", e)))?;
        oxbpf_sys::sock::attach_bpf(dup.as_fd(), self.fd.as_fd())
            .map_err(|e| self.attach_error(what, "SO_ATTACH_BPF", e))?;
        Ok(Link::new(
            Held::Socket(dup),
            format!("{} on a socket", self.name),
        ))
    }

    /// Attaches a raw_tp program to raw tracepoint `name` (`sys_enter`, `sched_switch`).
    ///
    /// # Errors
    /// `ENOENT` for an unknown tracepoint.
    pub fn attach_raw_tracepoint(&self, name: &str) -> Result<Link, ProgramError> {
        let what = format!("raw tracepoint {name}");
        let c = CString::new(name).map_err(|_| ProgramError::Path {
            prog: self.name.clone(),
            path: name.to_string(),
        })?;
        let fd = bpf::raw_tracepoint_open(Some(&c), self.fd.as_fd())
            .map_err(|e| self.attach_error(&what, "BPF_RAW_TRACEPOINT_OPEN", e))?;
        Ok(Link::new(Held::Bpf(fd), format!("{} on {what}", self.name)))
    }

    /// Attaches a program whose target was fixed at load (tp_btf, fentry, fexit,
    /// fmod_ret, lsm): `BPF_LINK_CREATE`, or `BPF_RAW_TRACEPOINT_OPEN` on kernels before
    /// 5.11 that link only that way.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn attach_traced(&self) -> Result<Link, ProgramError> {
        let attach_type = self.expected_attach_type.unwrap_or_default();
        let what = format!("its {attach_type} target");
        let attr = LinkCreateAttr::new(raw(self.fd.as_fd()), 0, attach_type);
        let fd = match bpf::link_create(&attr) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::EINVAL) => {
                log::debug!(
                    "{}: BPF_LINK_CREATE refused ({e}); trying BPF_RAW_TRACEPOINT_OPEN",
                    self.name
                );
                bpf::raw_tracepoint_open(None, self.fd.as_fd())
                    .map_err(|e| self.attach_error(&what, "BPF_RAW_TRACEPOINT_OPEN", e))?
            }
            Err(e) => return Err(self.attach_error(&what, "BPF_LINK_CREATE", e)),
        };
        Ok(Link::new(Held::Bpf(fd), format!("{} on {what}", self.name)))
    }

    /// Attaches to the perf event `event` (a tracepoint, probe or software event opened
    /// with `perf_event_open`): a perf bpf_link where the kernel has them (5.15),
    /// `PERF_EVENT_IOC_SET_BPF` otherwise. The link owns the event.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn attach_perf_event(&self, event: OwnedFd, what: &str) -> Result<Link, ProgramError> {
        let attr = LinkCreateAttr::new(
            raw(self.fd.as_fd()),
            raw(event.as_fd()),
            AttachType::PERF_EVENT,
        );
        match bpf::link_create(&attr) {
            Ok(link) => {
                return Ok(Link::new(
                    Held::PerfLink { link, event },
                    format!("{} on {what}", self.name),
                ));
            }
            Err(e) if e.errno() == Some(libc::EINVAL) => {
                log::debug!(
                    "{}: no perf bpf_link ({e}); using PERF_EVENT_IOC_SET_BPF",
                    self.name
                );
            }
            Err(e) => return Err(self.attach_error(what, "BPF_LINK_CREATE", e)),
        }
        perf::set_bpf(event.as_fd(), self.fd.as_fd())
            .map_err(|e| self.attach_error(what, "PERF_EVENT_IOC_SET_BPF", e))?;
        perf::enable(event.as_fd())
            .map_err(|e| self.attach_error(what, "PERF_EVENT_IOC_ENABLE", e))?;
        Ok(Link::new(
            Held::PerfIoctl(event),
            format!("{} on {what}", self.name),
        ))
    }

    /// Attaches to tracepoint `category/name` (`syscalls/sys_enter_write`): its id from
    /// tracefs, a perf event for it, and the program on that event.
    ///
    /// # Errors
    /// No such tracepoint; the kernel's errno.
    pub fn attach_tracepoint(&self, category: &str, name: &str) -> Result<Link, ProgramError> {
        let what = format!("tracepoint {category}/{name}");
        let id = perf::tracepoint_id(category, name).map_err(|e| {
            let hint = if e.raw_os_error() == Some(libc::ENOENT) {
                Some(format!(
                    "the kernel has no tracepoint {category}/{name} (see tracefs events/)"
                ))
            } else {
                None
            };
            ProgramError::Attach {
                prog: self.name.clone(),
                what: what.clone(),
                op: "read the tracepoint id from tracefs",
                hint,
                source: SysError::new("tracefs", e),
            }
        })?;
        let mut attr = PerfEventAttr::new(perf::TYPE_TRACEPOINT, id);
        attr.sample_period = 1;
        attr.wakeup_events = 1;
        let event = perf::perf_event_open(&attr, -1, 0)
            .map_err(|e| self.attach_error(&what, "perf_event_open", e))?;
        self.attach_perf_event(event, &what)
    }

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

    /// Creates probe event `def` (`func+off` for kprobes, `PATH:0xOFF` for uprobes) by
    /// writing it to tracefs `control`, opens it as a tracepoint and attaches the
    /// program; the returned link removes the event again.
    fn attach_tracefs_probe(
        &self,
        probe: &TracefsProbe<'_>,
        what: &str,
    ) -> Result<Link, TracefsProbeError> {
        let TracefsProbe {
            control,
            group,
            label,
            def,
            retprobe,
            pid,
        } = *probe;
        let n = TRACEFS_PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = tracefs_probe_name(label, n);
        let event = format!("{group}/{name}");
        let line = format!("{}:{event} {def}\n", if retprobe { 'r' } else { 'p' });
        log::debug!(
            "{}: writing {:?} to tracefs {control}",
            self.name,
            line.trim_end()
        );
        if let Err(e) = perf::write_tracefs(control, &line) {
            if e.raw_os_error() == Some(libc::ENOENT) && perf::read_tracefs(control).is_err() {
                return Err(TracefsProbeError::NoControlFile);
            }
            return Err(TracefsProbeError::Program(ProgramError::Attach {
                prog: self.name.clone(),
                what: what.to_string(),
                op: "create the probe event through tracefs",
                hint: Some(format!(
                    "the kernel refused `{}` in {control} (no such function or address?)",
                    line.trim_end()
                )),
                source: SysError::new("tracefs", e),
            }));
        }
        let remove = || {
            if let Err(e) = perf::write_tracefs(control, &format!("-:{event}\n")) {
                log::warn!("{}: could not remove probe event {event}: {e}", self.name);
            }
        };
        let id = match perf::read_tracefs(&format!("events/{event}/id")).and_then(|t| {
            String::from_utf8_lossy(&t)
                .trim()
                .parse::<u64>()
                .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
        }) {
            Ok(id) => id,
            Err(e) => {
                remove();
                return Err(TracefsProbeError::Program(ProgramError::Attach {
                    prog: self.name.clone(),
                    what: what.to_string(),
                    op: "read the probe event's id from tracefs",
                    hint: None,
                    source: SysError::new("tracefs", e),
                }));
            }
        };
        let mut attr = PerfEventAttr::new(perf::TYPE_TRACEPOINT, id);
        attr.sample_period = 1;
        attr.wakeup_events = 1;
        let (pid, cpu) = match pid {
            Some(p) => (p, -1),
            None => (-1, 0),
        };
        let attached = perf::perf_event_open(&attr, pid, cpu)
            .map_err(|e| self.attach_error(what, "perf_event_open", e))
            .and_then(|fd| self.attach_perf_event(fd, what));
        match attached {
            Ok(mut link) => {
                let perf = std::mem::replace(&mut link.held, Held::None);
                link.held = Held::TracefsProbe {
                    perf: Box::new(perf),
                    control,
                    event,
                };
                link.what.push_str(" (tracefs probe event)");
                Ok(link)
            }
            Err(e) => {
                remove();
                Err(TracefsProbeError::Program(e))
            }
        }
    }

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
            .map_err(|e| self.attach_error(&what, "perf_event_open", e))?;
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
            &offsets,
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

    /// Attaches an iterator program; read its output with [`Link::open_iter`].
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn attach_iter(&self) -> Result<Link, ProgramError> {
        let attr = LinkCreateAttr::new(raw(self.fd.as_fd()), 0, AttachType::TRACE_ITER);
        let fd = bpf::link_create(&attr)
            .map_err(|e| self.attach_error("an iterator", "BPF_LINK_CREATE", e))?;
        Ok(Link::new(
            Held::Bpf(fd),
            format!("{} as an iterator", self.name),
        ))
    }

    /// Attaches to `target` (a cgroup, a netns for sk_lookup and flow dissector, ...)
    /// with `attach_type` through a bpf_link, or `BPF_PROG_ATTACH` (with
    /// `BPF_F_ALLOW_MULTI`) on kernels without one for it.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn attach_to_fd(
        &self,
        target: BorrowedFd<'_>,
        attach_type: AttachType,
        what: &str,
    ) -> Result<Link, ProgramError> {
        let attr = LinkCreateAttr::new(raw(self.fd.as_fd()), raw(target), attach_type);
        match bpf::link_create(&attr) {
            Ok(fd) => {
                return Ok(Link::new(
                    Held::Bpf(fd),
                    format!("{} on {what} ({attach_type})", self.name),
                ));
            }
            Err(e) if e.errno() == Some(libc::EINVAL) && self.prog_type != ProgType::SK_LOOKUP => {
                log::debug!(
                    "{}: no bpf_link for {attach_type} ({e}); using BPF_PROG_ATTACH",
                    self.name
                );
            }
            Err(e) => return Err(self.attach_error(what, "BPF_LINK_CREATE", e)),
        }
        const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
        let flags = if self.prog_type == ProgType::SK_MSG || self.prog_type == ProgType::SK_SKB {
            0
        } else {
            BPF_F_ALLOW_MULTI
        };
        bpf::prog_attach(&ProgAttachAttr {
            target_fd: raw(target),
            attach_bpf_fd: raw(self.fd.as_fd()),
            attach_type,
            attach_flags: flags,
            ..Default::default()
        })
        .map_err(|e| self.attach_error(what, "BPF_PROG_ATTACH", e))?;
        let dup = |fd: BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .map_err(|e| self.attach_error(what, "dup", SysError::new("dup", e)))
        };
        Ok(Link::new(
            Held::ProgAttach {
                target: dup(target)?,
                prog: dup(self.fd.as_fd())?,
                attach_type,
            },
            format!("{} on {what} ({attach_type})", self.name),
        ))
    }

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

    /// Attaches a tc program to interface `ifindex` with a TCX link (6.6), after the
    /// programs already there.
    ///
    /// # Errors
    /// `EINVAL` on kernels without TCX.
    pub fn attach_tcx(&self, ifindex: u32, direction: TcDirection) -> Result<Link, ProgramError> {
        let (attach_type, dir) = match direction {
            TcDirection::Ingress => (AttachType::TCX_INGRESS, "ingress"),
            TcDirection::Egress => (AttachType::TCX_EGRESS, "egress"),
        };
        let what = format!("TCX {dir} of {}", oxbpf_sys::sock::ifname(ifindex));
        let attr = LinkCreateAttr::new(raw(self.fd.as_fd()), ifindex, attach_type);
        let fd = bpf::link_create(&attr).map_err(|e| {
            if e.errno() == Some(libc::EINVAL) && !kernel_since(6, 6) {
                return ProgramError::Unsupported {
                    prog: self.name.clone(),
                    what: what.clone(),
                    why: "this kernel has no TCX links (6.6+); attach through a clsact qdisc over netlink instead (Program::attach_tc_netlink)".into(),
                };
            }
            self.attach_error(&what, "BPF_LINK_CREATE", e)
        })?;
        Ok(Link::new(Held::Bpf(fd), format!("{} on {what}", self.name)))
    }
}

impl Program {
    fn netlink_error(&self, what: &str, refused: crate::netlink::Refused) -> ProgramError {
        ProgramError::Netlink {
            prog: self.name.clone(),
            what: what.to_string(),
            hint: refused.hint,
            source: refused.source,
        }
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

    /// Attaches a tc program as a direct-action cls_bpf filter at `priority` on
    /// interface `ifindex`, adding a clsact qdisc if there is none (`tc qdisc add dev X
    /// clsact; tc filter add dev X ingress prio P handle 1 bpf da fd F`).
    ///
    /// # Errors
    /// A filter with that priority exists; the kernel's refusal.
    pub fn attach_tc_netlink(
        &self,
        ifindex: u32,
        direction: TcDirection,
        priority: u16,
    ) -> Result<Link, ProgramError> {
        let dir = match direction {
            TcDirection::Ingress => "ingress",
            TcDirection::Egress => "egress",
        };
        let what = format!(
            "tc {dir} of {} (priority {priority})",
            oxbpf_sys::sock::ifname(ifindex)
        );
        let filter = crate::netlink::add_tc_filter(
            ifindex,
            self.fd.as_fd(),
            &self.name,
            direction,
            priority,
        )
        .map_err(|r| self.netlink_error(&what, r))?;
        Ok(Link::new(
            Held::NetlinkTc(filter),
            format!("{} on {what}", self.name),
        ))
    }
}

/// A probe event to create through tracefs.
#[derive(Clone, Copy)]
struct TracefsProbe<'a> {
    /// `kprobe_events` or `uprobe_events`.
    control: &'static str,
    /// The event group (`kprobes`, `uprobes`: the kernel's defaults).
    group: &'a str,
    /// What the event name says it probes (the function).
    label: &'a str,
    /// The probe point: `func+off` or `PATH:0xOFF`.
    def: &'a str,
    /// A return probe.
    retprobe: bool,
    /// The process to count in (uprobes), or every process.
    pid: Option<i32>,
}

/// Why a tracefs probe event could not be used.
enum TracefsProbeError {
    /// The control file does not exist: the kernel lacks this kind of probe.
    NoControlFile,
    /// Anything else, already explained.
    Program(ProgramError),
}

/// A probe event name the kernel accepts (letters, digits, `_`; at most 63 bytes) and
/// that says who made it: `oxbpf_PID_LABEL_N`, so leftovers of a killed process can be
/// told apart and removed.
fn tracefs_probe_name(label: &str, n: u32) -> String {
    let clean: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let pid = std::process::id();
    let head = format!("oxbpf_{pid}_");
    let tail = format!("_{n}");
    let room = 63usize.saturating_sub(head.len() + tail.len());
    let clean = &clean[clean.len().saturating_sub(room)..];
    format!("{head}{clean}{tail}")
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
    /// `uprobe/PATH:FUNC[+OFF]`, `uretprobe/PATH:FUNC`. Programs whose section cannot
    /// name a target (XDP, tc, cgroup, socket filters, perf events) are returned as
    /// [`AutoAttach::NeedsTarget`] with what they need.
    ///
    /// # Errors
    /// As the attach method used.
    pub fn attach_auto(&self) -> Result<AutoAttach, ProgramError> {
        let target = self.attach_target.clone().unwrap_or_default();
        let section = self.section.trim_start_matches('?');
        let ret = section.starts_with("kretprobe") || section.starts_with("uretprobe");
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

impl Link {
    /// A new reader of an iterator link's output: each one runs the iterator over its
    /// objects once (read it to the end).
    ///
    /// # Errors
    /// Not an iterator link; the kernel's errno.
    pub fn open_iter(&self) -> Result<std::fs::File, crate::link::LinkError> {
        let fd = self
            .link_fd()
            .ok_or_else(|| crate::link::LinkError::NotPinnable(self.describe().to_string()))?;
        bpf::iter_create(fd)
            .map(std::fs::File::from)
            .map_err(|source| crate::link::LinkError::Sys {
                what: self.describe().to_string(),
                op: "BPF_ITER_CREATE",
                source,
            })
    }
}

/// The `config` bit that makes a probe PMU event a return probe, from the PMU's format
/// (`config:0` on every kernel so far).
fn probe_retprobe_bit(pmu: &str) -> u64 {
    std::fs::read_to_string(format!(
        "/sys/bus/event_source/devices/{pmu}/format/retprobe"
    ))
    .ok()
    .and_then(|s| {
        s.trim()
            .strip_prefix("config:")
            .and_then(|b| b.parse::<u32>().ok())
    })
    .map_or(1, |bit| 1u64 << bit)
}

/// A sentence for the common refusals.
fn hint(prog_type: ProgType, op: &str, e: &SysError) -> Option<String> {
    let errno = e.errno()?;
    Some(match errno {
        libc::EPERM if op == "BPF_LINK_CREATE" && matches!(prog_type, ProgType::TRACING | ProgType::LSM | ProgType::EXT) => {
            "the kernel cannot build BPF trampolines (no BPF JIT or ftrace direct calls)".into()
        }
        libc::EPERM | libc::EACCES => "attaching needs root (CAP_BPF with CAP_PERFMON or CAP_NET_ADMIN for the hook)".into(),
        libc::EBUSY | libc::EEXIST => "another program is attached there already; detach it first or attach with a mode that allows several".into(),
        libc::EOPNOTSUPP => "the device or kernel does not support this attachment mode".into(),
        libc::ENODEV => "there is no such interface".into(),
        libc::EINVAL if op == "BPF_LINK_CREATE" => format!("the kernel refused this attachment for {prog_type} programs (wrong program type for the hook, or a kernel too old for this link)"),
        _ => return None,
    })
}

/// Whether the running kernel is at least `major.minor`: to tell "too old for this
/// link type" from other refusals, which all come back as `EINVAL`.
fn kernel_since(major: u32, minor: u32) -> bool {
    oxbpf_sys::version::KernelVersion::current()
        .is_some_and(|v| (v.major, v.minor) >= (major, minor))
}
