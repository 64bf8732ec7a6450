//! Tracepoints, raw tracepoints and perf events.
//!
//! A tracepoint (`tp/CATEGORY/NAME`) is a perf event opened with `perf_event_open` on
//! the tracepoint's id from tracefs; a raw tracepoint (`raw_tp/NAME`) is a bpf_link from
//! `BPF_RAW_TRACEPOINT_OPEN`. A program goes on any perf event (these, and the kprobe and
//! uprobe events of `kprobe.rs` and `uprobe.rs`) through a perf bpf_link (5.15), or
//! `PERF_EVENT_IOC_SET_BPF` and `PERF_EVENT_IOC_ENABLE` on older kernels.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

use oxbpf_sys::SysError;
use oxbpf_sys::bpf;
use oxbpf_sys::perf::{self, PerfEventAttr};
use oxbpf_sys::uapi::{AttachType, LinkCreateAttr};

use crate::link::{Held, Link, raw};
use crate::{Program, ProgramError};

impl Program {
    /// Attaches to tracepoint `category/name` (`syscalls/sys_enter_write`): its id from
    /// tracefs, a perf event for it, and the program on that event.
    ///
    /// # Errors
    /// No such tracepoint; the kernel's errno.
    pub fn attach_tracepoint(&self, category: &str, name: &str) -> Result<Link, ProgramError> {
        let what = format!("tracepoint {category}/{name}");
        let id = perf::tracepoint_id(category, name).map_err(|e| {
            let hint = match e.raw_os_error() {
                Some(libc::ENOENT) => Some(format!(
                    "the kernel has no tracepoint {category}/{name} (see tracefs events/)"
                )),
                Some(libc::EACCES | libc::EPERM) => perf::tracefs_refusal(false),
                _ => None,
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
}
