//! Open + load of every testdata object and every object of Debian's xdp-tools, by each
//! peer. Each peer loads the same programs: those oxbpf loads on this kernel (trampoline
//! programs cannot load here at all), the rest left unloaded (libbpf's autoload off; aya
//! only loads what it is asked to).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oxbpf_loader::Object;
use oxbpf_loader::load::LoadOptions;
use oxbpf_loader::prelude::*;

use crate::{Goal, Row, median, timed};

const REPS: usize = 7;
const XDP_TOOLS: &str = "/usr/lib/x86_64-linux-gnu/bpf";

/// Every object measured, testdata first.
pub fn objects() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in [crate::repo().join("testdata"), PathBuf::from(XDP_TOOLS)] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut here: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                n.ends_with(".o") && !n.ends_with(".bpfeb.o")
            })
            .collect();
        here.sort();
        v.extend(here);
    }
    v
}

/// The programs oxbpf loads from `path` on this kernel, with their sections.
fn loadable(path: &Path) -> Option<Vec<(String, String)>> {
    let obj = Object::open(path).ok()?;
    let sections: HashMap<String, String> = obj
        .programs
        .iter()
        .map(|p| (p.name().to_string(), p.section().to_string()))
        .collect();
    let l = obj
        .load(&LoadOptions {
            keep_going: true,
            pin_root: "/sys/fs/bpf".into(),
            ..Default::default()
        })
        .ok()?;
    crate::clear_pins();
    let names: Vec<(String, String)> = l
        .programs
        .iter()
        .map(|p| {
            let n = p.name().to_string();
            let s = sections.get(&n).cloned().unwrap_or_default();
            (n, s)
        })
        .collect();
    (!names.is_empty()).then_some(names)
}

/// Opens and loads `only` with oxbpf; `loaded` is called before everything is dropped.
pub fn oxbpf_load(path: &Path, only: &[String], loaded: &mut dyn FnMut()) -> Result<(), String> {
    let mut obj = Object::open(path).map_err(|e| e.to_string())?;
    obj.load_only(only).map_err(|e| e.to_string())?;
    let l = obj
        .load(&LoadOptions {
            pin_root: "/sys/fs/bpf".into(),
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    loaded();
    drop(l);
    Ok(())
}

/// The part of a section name after its kind (`tp_btf/sys_enter` → `sys_enter`).
fn target(section: &str) -> &str {
    section.split_once('/').map_or("", |(_, t)| t)
}

/// Opens and loads `only` with aya; `loaded` is called before everything is dropped.
pub fn aya_load(
    path: &Path,
    only: &[(String, String)],
    loaded: &mut dyn FnMut(),
) -> Result<(), String> {
    use aya::programs::Program as P;
    let mut ebpf = aya::EbpfLoader::new()
        .load_file(path)
        .map_err(|e| format!("aya open: {e}"))?;
    let mut btf = None;
    for (name, section) in only {
        let prog = ebpf
            .program_mut(name)
            .ok_or_else(|| format!("aya has no program {name}"))?;
        let mut vmlinux = || -> Result<aya::Btf, String> {
            match btf.take() {
                Some(b) => Ok(b),
                None => aya::Btf::from_sys_fs().map_err(|e| e.to_string()),
            }
        };
        let r = match prog {
            P::KProbe(p) => p.load(),
            P::UProbe(p) => p.load(),
            P::TracePoint(p) => p.load(),
            P::SocketFilter(p) => p.load(),
            P::Xdp(p) => p.load(),
            P::SkMsg(p) => p.load(),
            P::SkSkb(p) => p.load(),
            P::CgroupSockAddr(p) => p.load(),
            P::SockOps(p) => p.load(),
            P::SchedClassifier(p) => p.load(),
            P::CgroupSkb(p) => p.load(),
            P::CgroupSysctl(p) => p.load(),
            P::CgroupSockopt(p) => p.load(),
            P::PerfEvent(p) => p.load(),
            P::RawTracePoint(p) => p.load(),
            P::FlowDissector(p) => p.load(),
            P::SkLookup(p) => p.load(),
            P::SkReuseport(p) => p.load(),
            P::CgroupSock(p) => p.load(),
            P::CgroupDevice(p) => p.load(),
            P::BtfTracePoint(p) => {
                let b = vmlinux()?;
                let r = p.load(target(section), &b);
                btf = Some(b);
                r
            }
            P::Iter(p) => {
                let b = vmlinux()?;
                let r = p.load(target(section), &b);
                btf = Some(b);
                r
            }
            other => {
                return Err(format!(
                    "{name}: aya program kind {other:?} not loaded here"
                ));
            }
        };
        r.map_err(|e| format!("aya load {name}: {e}"))?;
    }
    loaded();
    drop(ebpf);
    Ok(())
}

/// Median wall, user and system ms of `REPS` loads, or the first error.
fn measure(mut f: impl FnMut() -> Result<(), String>) -> Result<[f64; 3], String> {
    // One warm-up: page cache, lazily built kernel state.
    f()?;
    crate::clear_pins();
    let mut w = Vec::new();
    let mut u = Vec::new();
    let mut s = Vec::new();
    for _ in 0..REPS {
        let (r, [wall, user, sys]) = timed(&mut f);
        crate::clear_pins();
        r?;
        w.push(wall);
        u.push(user);
        s.push(sys);
    }
    Ok([median(&mut w), median(&mut u), median(&mut s)])
}

/// The load rows: one per object (wall ms) and the totals.
pub fn run() -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let mut totals = [[0.0f64; 3]; 3]; // [peer][wall, user, sys]
    let mut common = 0;
    let mut objs = 0;
    for path in objects() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let Some(progs) = loadable(&path) else {
            rows.push(
                Row::new(format!("load {name}"), "ms", [None, None, None])
                    .note("no program loads on this kernel"),
            );
            continue;
        };
        objs += 1;
        let names: Vec<String> = progs.iter().map(|(n, _)| n.clone()).collect();
        let ox = measure(|| oxbpf_load(&path, &names, &mut || ()));
        let lb = measure(|| crate::libbpf::open_load_close(&path, &names, &mut || ()));
        let ay = measure(|| aya_load(&path, &progs, &mut || ()));
        let mut notes = Vec::new();
        for (peer, r) in [("oxbpf", &ox), ("libbpf", &lb), ("aya", &ay)] {
            if let Err(e) = r {
                notes.push(format!("{peer}: {}", e.lines().next().unwrap_or(e)));
            }
        }
        if let (Ok(o), Ok(l), Ok(a)) = (&ox, &lb, &ay) {
            common += 1;
            for (t, v) in totals.iter_mut().zip([o, l, a]) {
                for i in 0..3 {
                    t[i] += v[i];
                }
            }
        }
        let fig = |r: &Result<[f64; 3], String>| r.as_ref().ok().map(|v| v[0]);
        rows.push(
            Row::new(
                format!("load {name} ({} programs)", names.len()),
                "ms",
                [fig(&ox), fig(&lb), fig(&ay)],
            )
            .note(notes.join("; ")),
        );
    }
    let note = format!("{common} of {objs} objects that every peer loads");
    let tot = |i: usize| [Some(totals[0][i]), Some(totals[1][i]), Some(totals[2][i])];
    rows.push(Row::new("load, total wall time", "ms", tot(0)).note(note.clone()));
    rows.push(
        Row::new("load, loader's own share (user CPU)", "ms", tot(1))
            .goal(Goal::AtMostTimesLibbpf(0.5))
            .note(note.clone()),
    );
    rows.push(
        Row::new("load, kernel's share (system CPU)", "ms", tot(2))
            .note("verifier, map and BTF creation: no loader can change it"),
    );
    Ok(rows)
}
