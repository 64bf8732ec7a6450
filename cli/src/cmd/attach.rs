//! `oxbpf attach OBJ --pin DIR` and `oxbpf detach DIR`: attachments that outlive the
//! command. `attach` loads, attaches like `run`, and pins each bpf_link (and the
//! programs and maps) in a bpffs directory; the pins keep everything alive after oxbpf
//! exits. `detach` takes the directory down again: each pinned link is detached
//! (`BPF_LINK_DETACH`, so even a link someone else also holds lets go) and every pin is
//! removed.

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use oxbpf_loader::Object;
use oxbpf_loader::inventory::{self, InventoryError, Pinned};
use oxbpf_loader::load::pin_name;
use oxbpf_loader::prelude::*;
use oxbpf_loader::uapi::link_type_name;

use crate::CliError;
use crate::cmd::load::{pin_all, prepare};
use crate::cmd::run::{RunArgs, attach};

/// Runs `attach`.
pub fn run(args: &RunArgs) -> Result<(String, bool), CliError> {
    let Some(dir) = args.load.pin.clone() else {
        return Err("--pin DIR is required: the pinned links are what keep the programs attached after oxbpf exits".into());
    };
    if args.attach.netlink {
        return Err(
            "netlink attachments cannot be pinned; drop --netlink to use XDP and TCX links".into(),
        );
    }
    crate::cmd::run::check_iface(&args.attach)?;
    let mut obj = Object::open(&args.load.object)?;
    let opts = prepare(&args.load, &mut obj)?;
    let loaded = obj
        .load(&opts)
        .map_err(crate::cmd::load::load_error(&args.load.object))?;
    // Only once something loaded: a refused load leaves no directory behind.
    let created_dir = crate::cmd::load::ensure_pin_dir(&dir)?;
    let mut out = String::new();
    for f in &loaded.failures {
        let _ = writeln!(out, "not loaded: {}", crate::error_chain(&f.error));
    }
    // Each link pinned so far: removed again if any attachment fails.
    let mut link_pins = Vec::new();
    let mut attach_failed = false;
    for p in &loaded.programs {
        if p.prog_type() == oxbpf_loader::uapi::ProgType::SOCKET_FILTER {
            attach_failed = true;
            let _ = writeln!(
                out,
                "{}: a socket filter lives and dies with its socket; use `oxbpf run`",
                p.name()
            );
            continue;
        }
        match attach(&loaded, p, &args.attach) {
            Ok(Some(a)) => {
                let path = dir.join(format!("{}_link", pin_name(p.name())));
                match a.link.pin(&path) {
                    Ok(()) => {
                        let _ = writeln!(
                            out,
                            "attached: {}; link pinned at {}",
                            a.link.describe(),
                            path.display()
                        );
                        link_pins.push(path);
                    }
                    Err(e) => {
                        attach_failed = true;
                        let _ = writeln!(
                            out,
                            "{}: attached, but {}; detached again",
                            p.name(),
                            crate::error_chain(&e)
                        );
                    }
                }
            }
            Ok(None) => {}
            Err(why) => {
                attach_failed = true;
                let _ = writeln!(out, "{}: {why}", p.name());
            }
        }
    }
    for v in &loaded.struct_ops {
        match register_pinned(&loaded, v, &dir, &mut out) {
            Some(path) => link_pins.push(path),
            None => attach_failed = true,
        }
    }
    if attach_failed {
        // All or nothing: what was pinned is unpinned, so the programs go away with
        // this process, and a directory made for them is removed.
        for path in &link_pins {
            if let Err(e) = std::fs::remove_file(path) {
                let _ = writeln!(out, "{}: {e}", path.display());
            }
        }
        if created_dir {
            let _ = std::fs::remove_dir(&dir);
        }
        let _ = writeln!(
            out,
            "not attached: nothing is left pinned in {}",
            dir.display()
        );
        return Ok((out, false));
    }
    for (kind, name, path) in pin_all(&args.load, &loaded)? {
        let _ = writeln!(out, "pinned {kind} `{name}` at {}", path.display());
    }
    let _ = writeln!(out, "Remove with: oxbpf detach {}", dir.display());
    Ok((out, loaded.failures.is_empty()))
}

/// Registers a `.struct_ops.link` map and pins its link, so the struct stays registered
/// after oxbpf exits (as `bpftool struct_ops register` does); `oxbpf detach` removes
/// it. A plain `.struct_ops` map has no link to pin: it is refused, saying so. Returns
/// the pin's path, or `None` if it failed.
fn register_pinned(
    loaded: &oxbpf_loader::load::Loaded,
    v: &oxbpf_loader::load::StructOpsValue,
    dir: &Path,
    out: &mut String,
) -> Option<PathBuf> {
    if !v.link {
        let _ = writeln!(
            out,
            "struct_ops map {}: a plain .struct_ops map has no link to pin, so it cannot stay registered after oxbpf exits; declare it in .struct_ops.link, or use `oxbpf run`",
            v.map
        );
        return None;
    }
    let link = match loaded.register_struct_ops(&v.map) {
        Ok(link) => link,
        Err(e) => {
            let _ = writeln!(out, "{}", crate::error_chain(&e));
            return None;
        }
    };
    let path = dir.join(format!("{}_link", pin_name(&v.map)));
    match link.pin(&path) {
        Ok(()) => {
            let _ = writeln!(
                out,
                "attached: {}; link pinned at {}",
                link.describe(),
                path.display()
            );
            Some(path)
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "struct_ops map {}: registered, but {}; unregistered again",
                v.map,
                crate::error_chain(&e)
            );
            None
        }
    }
}

/// Runs `detach`: every pin in `dir` (not recursive).
pub fn detach(dir: &Path) -> Result<(String, bool), CliError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort_unstable();
    let mut out = String::new();
    let mut ok = true;
    // Links first, so programs stop running before anything else goes.
    let is_link = |p: &PathBuf| {
        p.file_name()
            .is_some_and(|n| n.as_bytes().ends_with(b"_link"))
    };
    let (links, others): (Vec<PathBuf>, Vec<PathBuf>) = entries.into_iter().partition(is_link);
    for path in links.into_iter().chain(others) {
        // A bpffs root holds the kernel's own iterators; they are not ours to remove.
        if path
            .file_name()
            .is_some_and(|n| n == "maps.debug" || n == "progs.debug")
        {
            continue;
        }
        let pinned = match inventory::pinned(&path) {
            Ok(p) => p,
            Err(InventoryError::NotPinned { source, .. }) => {
                // bpffs's own files (maps.debug, progs.debug at its root) and others.
                let _ = writeln!(
                    out,
                    "skipped {}: not a pinned BPF object ({})",
                    path.display(),
                    source.source
                );
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let what = match &pinned {
            Pinned::Link(link) => {
                if let Err(e) = link.detach() {
                    // Some kinds cannot be detached this way; removing the pin still
                    // drops them once no one else holds them.
                    log::debug!("{}: {}", path.display(), crate::error_chain(&e));
                }
                format!(
                    "{} link {}, program {}",
                    link_type_name(link.info.link_type),
                    link.info.id,
                    link.info.prog_id
                )
            }
            Pinned::Program(d) => format!(
                "program {} `{}`",
                d.info.id,
                oxbpf_loader::uapi::name_str(&d.info.name)
            ),
            Pinned::Map(i) => format!("map {} `{}`", i.id, oxbpf_loader::uapi::name_str(&i.name)),
            Pinned::Other => "BPF object".into(),
        };
        drop(pinned);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                let _ = writeln!(out, "removed {} ({what})", path.display());
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "{}: {e}", path.display());
            }
        }
    }
    Ok((out, ok))
}
