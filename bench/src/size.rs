//! Binary sizes, each built by this run: the stripped static `oxbpf` CLI; the smallest
//! useful static loader (open an object, load its programs) with each peer — oxbpf and
//! aya from `bench/minimal`, built alike by `scripts/build-static.sh` (musl where the
//! Rust target can be had, else glibc with `crt-static`; the `small` profile: size
//! optimization, fat LTO, stripped, abort on panic), libbpf from
//! `bench/minimal/libbpf_min.c` (gcc -Os -static against Debian's libbpf.a, libelf.a and
//! libz.a, which are built for glibc); and bpftool with the shared libraries it needs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Goal, Row};

fn size_kib(p: &Path) -> Result<f64, String> {
    std::fs::metadata(p)
        .map(|m| m.len() as f64 / 1024.0)
        .map_err(|e| format!("{}: {e}", p.display()))
}

fn exec(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Builds the static Rust binaries the way the README says to (scripts/build-static.sh:
/// musl where the target can be had, the `small` profile; `options` before cargo's, e.g.
/// `--build-std`); returns their directory.
fn build_rust(options: &[&str]) -> Result<PathBuf, String> {
    let repo = crate::repo();
    let out = Command::new("sh")
        .arg("scripts/build-static.sh")
        .args(options)
        .args(["-p", "oxbpf-bench-minimal"])
        .current_dir(&repo)
        .output()
        .map_err(|e| format!("scripts/build-static.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/build-static.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let cli = repo.join(String::from_utf8_lossy(&out.stdout).trim());
    cli.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("no directory in {}", cli.display()))
}

fn build_libbpf_min() -> Result<PathBuf, String> {
    let out = std::env::temp_dir().join("oxbpf-bench-libbpf-min");
    let src = crate::repo().join("bench/minimal/libbpf_min.c");
    exec(
        Command::new("gcc")
            .args(["-Os", "-static", "-s", "-o"])
            .arg(&out)
            .arg(&src)
            .args(["-lbpf", "-lelf", "-lz"]),
    )?;
    Ok(out)
}

/// bpftool and every shared library `ldd` lists for it.
fn bpftool_kib() -> Result<f64, String> {
    let bpftool = ["/usr/sbin/bpftool", "/usr/bin/bpftool"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or("bpftool is not installed (apt-get install bpftool)")?;
    let out = Command::new("ldd")
        .arg(bpftool)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let mut total = size_kib(bpftool)?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // `libelf.so.1 => /lib/x86_64-linux-gnu/libelf.so.1 (0x...)`, or the loader.
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(Path::new);
        if let Some(p) = path {
            let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            total += size_kib(&real)?;
        }
    }
    Ok(total)
}

/// The size rows: stable Rust's precompiled standard library (`--stable-std`), then
/// (when a nightly toolchain can be had) the standard library rebuilt for size, what
/// the script builds by default, aya's loader alike.
pub fn run() -> Result<Vec<Row>, String> {
    let dir = build_rust(&["--stable-std"])?;
    let cli = size_kib(&dir.join("oxbpf"))?;
    let ox_min = size_kib(&dir.join("oxbpf-min"))?;
    let aya_min = size_kib(&dir.join("aya-min"))?;
    let lb_min = size_kib(&build_libbpf_min()?)?;
    let bpftool = bpftool_kib()?;
    let mut rows = vec![
        Row::new(
            "binary: minimal static loader (open + load an object)",
            "KiB",
            [Some(ox_min), Some(lb_min), Some(aya_min)],
        )
        .goal(Goal::AtMost(800.0))
        .note("static and stripped; Rust ones with musl when available, libbpf with glibc (Debian's static libbpf)"),
        Row::new(
            "binary: full CLI (static oxbpf; bpftool + its shared libraries)",
            "KiB",
            [Some(cli), Some(bpftool), None],
        )
        // Issue 20 moved the goal from 1200 KiB to 1.5 MiB (clap; still half of bpftool).
        .goal(Goal::AtMost(1536.0))
        .note("libbpf column: bpftool, which also needs iproute2 for tc/XDP"),
    ];
    match build_rust(&["--build-std"]) {
        Ok(dir) => {
            rows.push(
                Row::new(
                    "binary: minimal static loader, std rebuilt for size (`--build-std`, nightly)",
                    "KiB",
                    [
                        Some(size_kib(&dir.join("oxbpf-min"))?),
                        Some(lb_min),
                        Some(size_kib(&dir.join("aya-min"))?),
                    ],
                )
                .goal(Goal::AtMost(800.0))
                .note("scripts/build-static.sh --build-std: -Zbuild-std with std's optimize_for_size; panics still print their message"),
            );
            rows.push(
                Row::new(
                    "binary: full CLI, std rebuilt for size (`--build-std`, nightly)",
                    "KiB",
                    [Some(size_kib(&dir.join("oxbpf"))?), Some(bpftool), None],
                )
                .goal(Goal::AtMost(1536.0))
                .note("as above"),
            );
        }
        Err(e) => eprintln!("size: no --build-std rows: {e}"),
    }
    Ok(rows)
}
