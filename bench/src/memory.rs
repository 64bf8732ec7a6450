//! Peak memory of a process that loads one CO-RE object (testdata/core.bpf.o, against
//! the running kernel's BTF), measured from outside with `wait4`.

use std::path::Path;

use crate::{Goal, Row, median};

const OBJECT: &str = "testdata/core.bpf.o";

/// Child mode `load PEER|none`: load the CO-RE object's programs once (`none`: do
/// nothing, the baseline of this binary).
pub fn child(args: &[&str]) -> Result<(), String> {
    let path = crate::repo().join(OBJECT);
    let mut report = || ();
    let r = match args.first().copied() {
        Some("none") => Ok(()),
        Some("oxbpf") => crate::load::oxbpf_load(&path, &all_programs(), &mut report),
        // The program names are fixed here so no peer pays for finding them.
        Some("libbpf") => {
            crate::libbpf::open_load_close(Path::new(&path), &all_programs(), &mut report)
        }
        Some("aya") => crate::load::aya_load(&path, &core_programs(), &mut report),
        other => Err(format!("unknown peer {other:?}")),
    };
    // The peak resident set less the file-backed pages (code, libraries) now mapped:
    // what the loader allocated at its peak (file pages only grow, so this is the
    // peak's anonymous part or a little less).
    r?;
    let st = status();
    println!(
        "{}",
        st("VmHWM:").saturating_sub(st("RssFile:") + st("RssShmem:"))
    );
    Ok(())
}

/// core.bpf.o's programs and sections, fixed so no peer pays for finding them.
fn core_programs() -> Vec<(String, String)> {
    CORE_PROGRAMS
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
}

fn all_programs() -> Vec<String> {
    CORE_PROGRAMS.iter().map(|(n, _)| n.to_string()).collect()
}

/// From `oxbpf inspect testdata/core.bpf.o`.
const CORE_PROGRAMS: &[(&str, &str)] = &[
    ("core_read_task", "raw_tp/sys_enter"),
    ("core_bitfield_btf", "tp_btf/sys_enter"),
];

/// A reader of this process's `/proc/self/status` fields, in KiB.
fn status() -> impl Fn(&str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    move |field| {
        text.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Median peak resident set (from outside) and its part not backed by files (as the
/// child reports it), KiB.
fn peak(peer: &str) -> Result<(f64, f64), String> {
    let (mut rss, mut anon) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (out, kib) = crate::child(&["--child", "load", peer])?;
        rss.push(kib as f64);
        anon.push(
            out.trim()
                .parse::<f64>()
                .map_err(|e| format!("{peer}: {e}: {out}"))?,
        );
    }
    Ok((median(&mut rss), median(&mut anon)))
}

/// The memory rows.
pub fn run() -> Result<Vec<Row>, String> {
    let (base, base_anon) = peak("none")?;
    let mut failed = Vec::new();
    let mut fig = |peer: &str| match peak(peer) {
        Ok(v) => Some(v),
        Err(e) => {
            failed.push(format!("{peer}: {}", e.lines().next().unwrap_or(&e)));
            None
        }
    };
    let both = [fig("oxbpf"), fig("libbpf"), fig("aya")];
    let figs = both.map(|f| f.map(|v| v.0));
    let above = figs.map(|f| f.map(|v| v - base));
    let anon = both.map(|f| f.map(|v| v.1 - base_anon));
    let failed = failed.join("; ");
    Ok(vec![
        Row::new("peak resident set, load core.bpf.o (CO-RE)", "KiB", figs)
            .goal(Goal::AtMostTimesLibbpf(0.8))
            .note(format!(
                "the same binary doing nothing peaks at {base:.0} KiB{}{failed}",
                if failed.is_empty() { "" } else { "; " }
            )),
        Row::new("the same, above the do-nothing baseline", "KiB", above).note(
            "includes the code pages each loader runs (the kernel maps them 64 KiB at a time)",
        ),
        Row::new(
            "peak memory not backed by files (heap, stacks), above the baseline",
            "KiB",
            anon,
        )
        .note("what the loader allocates: VmHWM − RssFile − RssShmem, read by the child at exit"),
    ])
}
