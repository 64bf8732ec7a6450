//! What kprobes and uprobes share: how the probe is created ([`ProbeMode`]), the probe
//! PMUs' return-probe bit, and the tracefs probe events of kernels without those PMUs.
//!
//! A tracefs probe event is a line written to `kprobe_events` or `uprobe_events`
//! (`p:GROUP/NAME DEF`), opened as a tracepoint perf event with the program on it
//! (`tracepoint.rs`); the [`Link`] closes the event, then removes the probe event by
//! writing `-:GROUP/NAME`.

use oxbpf_sys::SysError;
use oxbpf_sys::perf::{self, PerfEventAttr};

use crate::link::{Held, Link};
use crate::{Program, ProgramError};

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

impl Program {
    /// Creates probe event `def` (`func+off` for kprobes, `PATH:0xOFF` for uprobes) by
    /// writing it to tracefs `control`, opens it as a tracepoint and attaches the
    /// program; the returned link removes the event again.
    pub(super) fn attach_tracefs_probe(
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
                hint: match e.raw_os_error() {
                    Some(libc::EACCES | libc::EPERM) => perf::tracefs_refusal(true),
                    _ => None,
                }
                .or_else(|| {
                    Some(format!(
                        "the kernel refused `{}` in {control} (no such function or address?)",
                        line.trim_end()
                    ))
                }),
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
}

/// Probe events this process has created through tracefs, to make each name unique.
static TRACEFS_PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A probe event to create through tracefs.
#[derive(Clone, Copy)]
pub(super) struct TracefsProbe<'a> {
    /// `kprobe_events` or `uprobe_events`.
    pub(super) control: &'static str,
    /// The event group (`kprobes`, `uprobes`: the kernel's defaults).
    pub(super) group: &'a str,
    /// What the event name says it probes (the function).
    pub(super) label: &'a str,
    /// The probe point: `func+off` or `PATH:0xOFF`.
    pub(super) def: &'a str,
    /// A return probe.
    pub(super) retprobe: bool,
    /// The process to count in (uprobes), or every process.
    pub(super) pid: Option<i32>,
}

/// Why a tracefs probe event could not be used.
pub(super) enum TracefsProbeError {
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

/// The `config` bit that makes a probe PMU event a return probe, from the PMU's format
/// (`config:0` on every kernel so far).
pub(super) fn probe_retprobe_bit(pmu: &str) -> u64 {
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
