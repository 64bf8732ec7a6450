//! Parse (and, for oxbpf, name-index) the running kernel's BTF: time in this process,
//! resident growth in a child that does only that.

use oxbpf_loader::prelude::*;
use std::time::Instant;

use crate::{Goal, Row, median};

const RUNS: usize = 100;

fn oxbpf_once() -> Result<u32, String> {
    let btf = oxbpf_loader::btf::Btf::from_sysfs().map_err(|e| e.to_string())?;
    // The first name lookup builds the type-name index.
    let hit = btf.find("task_struct", oxbpf_loader::btf::Kind::Struct);
    std::hint::black_box(hit);
    Ok(btf.last_id().0)
}

fn libbpf_once(find: bool) -> Result<u32, String> {
    crate::libbpf::parse_vmlinux_btf(find.then_some(c"task_struct"))
}

fn aya_once() -> Result<u32, String> {
    let btf = aya::Btf::from_sys_fs().map_err(|e| e.to_string())?;
    std::hint::black_box(&btf);
    Ok(0)
}

/// Median ms of each operation, run in interleaved rounds (one of each per round), so
/// a slow spell of the machine weighs on every peer alike.
fn time_interleaved<const N: usize>(
    ops: &mut [&mut dyn FnMut() -> Result<u32, String>; N],
) -> Result<[f64; N], String> {
    let mut t: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(RUNS));
    for _ in 0..RUNS {
        for (op, times) in ops.iter_mut().zip(t.iter_mut()) {
            let s = Instant::now();
            op()?;
            times.push(s.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(t.map(|mut v| median(&mut v)))
}

/// Child mode `btf PEER`: parse once, print the resident growth in KiB.
pub fn child(args: &[&str]) -> Result<(), String> {
    let before = crate::rss_kib();
    let keep: Box<dyn std::any::Any> = match args.first().copied() {
        Some("oxbpf") => {
            let btf = oxbpf_loader::btf::Btf::from_sysfs().map_err(|e| e.to_string())?;
            std::hint::black_box(btf.find("task_struct", oxbpf_loader::btf::Kind::Struct));
            Box::new(btf)
        }
        Some("aya") => Box::new(aya::Btf::from_sys_fs().map_err(|e| e.to_string())?),
        Some("libbpf") => {
            // Kept alive while measuring: btf__free only after the reading.
            // SAFETY: no arguments; returns a new object or null.
            let btf = unsafe { libbpf_sys::btf__load_vmlinux_btf() };
            if btf.is_null() {
                return Err("btf__load_vmlinux_btf failed".into());
            }
            let grown = crate::rss_kib().saturating_sub(before);
            // SAFETY: frees the object parsed above, once.
            unsafe { libbpf_sys::btf__free(btf) };
            println!("{grown}");
            return Ok(());
        }
        other => return Err(format!("unknown peer {other:?}")),
    };
    println!("{}", crate::rss_kib().saturating_sub(before));
    drop(keep);
    Ok(())
}

fn growth(peer: &str) -> Result<f64, String> {
    let mut v = Vec::new();
    for _ in 0..5 {
        let (out, _) = crate::child(&["--child", "btf", peer])?;
        v.push(
            out.trim()
                .parse::<f64>()
                .map_err(|e| format!("{peer}: {e}: {out}"))?,
        );
    }
    Ok(median(&mut v))
}

/// The BTF rows.
pub fn run() -> Result<Vec<Row>, String> {
    let types = oxbpf_once()?;
    let [ox, lb, lb_find, ay] = time_interleaved(&mut [
        &mut oxbpf_once,
        &mut || libbpf_once(false),
        &mut || libbpf_once(true),
        &mut aya_once,
    ])?;
    Ok(vec![
        Row::new(
            format!("vmlinux BTF ({types} types): parse + name index (oxbpf) / parse (peers)"),
            "ms",
            [Some(ox), Some(lb), Some(ay)],
        )
        .goal(Goal::AtMostTimesLibbpf(0.5))
        .note(
            "median of 100 rounds, each peer once per round (caches as cold as in a fresh loader)",
        ),
        Row::new(
            "vmlinux BTF: parse + first lookup of a struct by name",
            "ms",
            [Some(ox), Some(lb_find), None],
        )
        .note("libbpf's lookup is a linear scan; aya has no public by-name lookup"),
        Row::new(
            "vmlinux BTF: resident set growth (fresh process)",
            "KiB",
            [
                Some(growth("oxbpf")?),
                Some(growth("libbpf")?),
                Some(growth("aya")?),
            ],
        )
        .goal(Goal::AtMost(1024.0)),
    ])
}
