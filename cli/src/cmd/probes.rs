//! `oxbpf probes list|clean`: the kprobe and uprobe events oxbpf created through tracefs
//! (on kernels without the probe PMUs, or with `ProbeMode::Tracefs`). A detached probe
//! removes its event; a killed process cannot, and its events stay in `kprobe_events`
//! and `uprobe_events` (named `oxbpf_PID_…`) until removed. `list` shows each with
//! whether its process is alive; `clean` removes those whose process is gone.

use std::fmt::Write as _;

use oxbpf_prog::tracefs::{read_tracefs, write_tracefs};

use crate::CliError;
use crate::json::Json;

/// One probe event of ours.
struct Event {
    control: &'static str,
    /// `GROUP/NAME`.
    name: String,
    /// The probe point (`do_unlinkat`, `/bin/true:0x1234`).
    point: String,
    pid: u32,
}

impl Event {
    fn alive(&self) -> bool {
        std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// Our events in the tracefs control files: lines `p:GROUP/oxbpf_PID_… POINT`.
fn ours() -> Vec<Event> {
    let mut out = Vec::new();
    for control in ["kprobe_events", "uprobe_events"] {
        let Ok(text) = read_tracefs(control) else {
            continue;
        };
        for line in String::from_utf8_lossy(&text).lines() {
            let mut f = line.split_whitespace();
            let (Some(head), Some(point)) = (f.next(), f.next()) else {
                continue;
            };
            let Some((_, name)) = head.split_once(':') else {
                continue;
            };
            let event = name.rsplit('/').next().unwrap_or("");
            let Some(pid) = event
                .strip_prefix("oxbpf_")
                .and_then(|r| r.split('_').next())
                .and_then(|p| p.parse().ok())
            else {
                continue;
            };
            out.push(Event {
                control,
                name: name.to_string(),
                point: point.to_string(),
                pid,
            });
        }
    }
    out
}

/// Runs `probes list`.
pub fn list(json: bool) -> Result<String, CliError> {
    let all = ours();
    if json {
        let items = all
            .iter()
            .map(|e| {
                Json::object()
                    .with("kind", e.control.trim_end_matches("_events"))
                    .with("name", e.name.as_str())
                    .with("point", e.point.as_str())
                    .with("pid", e.pid)
                    .with("running", e.alive())
            })
            .collect();
        return Ok(format!("{}\n", Json::Array(items)));
    }
    if all.is_empty() {
        return Ok("no probe event of oxbpf's in tracefs\n".into());
    }
    let mut s = String::new();
    for e in &all {
        let _ = writeln!(
            s,
            "{} {} on {} (process {}{})",
            e.control.trim_end_matches("_events"),
            e.name,
            e.point,
            e.pid,
            if e.alive() {
                ", running"
            } else {
                ", gone: left behind; `oxbpf probes clean` removes it"
            }
        );
    }
    Ok(s)
}

/// Runs `probes clean`: removes the events whose process is gone.
pub fn clean() -> Result<String, CliError> {
    let mut s = String::new();
    for e in ours().iter().filter(|e| !e.alive()) {
        write_tracefs(e.control, &format!("-:{}\n", e.name))
            .map_err(|err| format!("removing {} from {}: {err}", e.name, e.control))?;
        let _ = writeln!(s, "removed {} ({} of process {})", e.name, e.point, e.pid);
    }
    if s.is_empty() {
        s.push_str("nothing left behind\n");
    }
    Ok(s)
}
