//! oxbpf's side: the same steps as the libbpf side, through `oxbpf-loader`.

use std::os::fd::AsFd as _;
use std::path::Path;

use oxbpf_loader::Object;
use oxbpf_loader::load::{LoadError, LoadOptions, Loaded};
use oxbpf_loader::prelude::*;

use crate::outcome::{ObjectRun, ProgRow, Verdict};
use crate::{facts, sizing};

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut c = e.source();
    while let Some(x) = c {
        s = format!("{s}: {x}");
        c = x.source();
    }
    s.replace(['\n', '\t'], " ")
}

/// The stage a refusal happened at.
fn stage_of(e: &LoadError) -> &'static str {
    match e {
        LoadError::MapCreate { .. } | LoadError::MapSetup { .. } | LoadError::Pin { .. } => "maps",
        LoadError::Extern(_) => "externs",
        LoadError::Core(_) | LoadError::Reloc(_) => "relocation",
        LoadError::AttachTarget { .. } => "attach target",
        LoadError::Program(_) => "verifier",
        LoadError::NoType { .. } | LoadError::ForeignEndian { .. } => "open",
        _ => "load",
    }
}

/// Sizes the maps of `obj` as their user space would before load (the same rule as
/// the libbpf side, [`sizing`]).
fn size_maps(obj: &mut Object) {
    for m in &mut obj.maps {
        if m.max_entries == 0 && sizing::needs_size(m.map_type.0) {
            m.max_entries = sizing::DEFAULT_ENTRIES;
        }
        if m.map_type.0 == sizing::STACK_TRACE && m.value_size == 0 {
            m.value_size = sizing::STACK_VALUE_SIZE;
        }
    }
}

/// The maps a load created, as the kernel describes them, sorted.
fn created_maps(l: &Loaded) -> Vec<String> {
    let mut maps: Vec<String> = l
        .maps
        .iter()
        .map(|m| facts::map(m.as_fd()).unwrap_or_else(|e| format!("?{e}")))
        .collect();
    maps.sort();
    maps
}

/// The facts of program `name` of a load.
fn facts_of(l: &Loaded, name: &str) -> Verdict {
    match l.program(name) {
        Some(prog) => {
            facts::of(prog.as_fd()).map_or_else(|e| Verdict::refused("info", &e), Verdict::Loaded)
        }
        None => Verdict::refused("load", "oxbpf loaded the object but not this program"),
    }
}

/// Loads `path` with oxbpf: all its autoload programs at once, then each program that
/// did not load that way on its own (and each `?` program on its own).
pub fn run(path: &Path) -> ObjectRun {
    let mut run = ObjectRun::default();
    let mut obj = match Object::open(path) {
        Ok(o) => o,
        Err(e) => {
            run.open_error = Some(chain(&e));
            return run;
        }
    };
    size_maps(&mut obj);
    let opts = LoadOptions::default();
    let whole = obj.load(&opts);
    for p in &obj.programs {
        let verdict = match &whole {
            Ok(l) if p.autoload => Some(match l.program(p.name()) {
                Some(prog) => facts::of(prog.as_fd())
                    .map_or_else(|e| Verdict::refused("info", &e), Verdict::Loaded),
                None => Verdict::refused("load", "oxbpf loaded the object but not this program"),
            }),
            _ => None,
        };
        run.programs.push(ProgRow {
            name: p.name().to_string(),
            section: p.section().to_string(),
            autoload: p.autoload,
            verdict,
        });
    }
    if let Ok(l) = &whole {
        run.maps = created_maps(l);
    }
    run.whole = Some(whole.map(drop).map_err(|e| chain(&e)));

    for i in 0..run.programs.len() {
        if run.programs[i].verdict.is_some() {
            continue;
        }
        let name = run.programs[i].name.clone();
        let mut one = obj.clone();
        if let Err(e) = one.load_only(&[&name]) {
            run.programs[i].verdict = Some(Verdict::refused("open", &e.to_string()));
            continue;
        }
        let verdict = match one.load(&opts) {
            Ok(l) if run.maps.is_empty() => {
                run.maps = created_maps(&l);
                facts_of(&l, &name)
            }
            Ok(l) => facts_of(&l, &name),
            Err(e) => Verdict::refused(stage_of(&e), &chain(&e)),
        };
        run.programs[i].verdict = Some(verdict);
    }
    run
}
