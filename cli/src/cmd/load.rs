//! `oxbpf load OBJ`: the main job. Opens the object, applies what the user adjusts
//! (`--set`, `--max-entries`, `--value-size`, `--type`, `--only`), loads every map and
//! program into the kernel, and reports their kernel ids — then, if asked, pins them so
//! they outlive this process (`--pin`, `--pin-maps`), as `bpftool prog loadall` does.

use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxbpf_loader::Object;
use oxbpf_loader::btf::Btf;
use oxbpf_loader::globals::encode_global;
use oxbpf_loader::load::{LoadError, LoadOptions, Loaded, pin_name};
use oxbpf_loader::prelude::*;
use oxbpf_loader::uapi::ProgType;

use crate::CliError;
use crate::cmd::kernel::{self, MAP_HEADER, PROG_HEADER};
use crate::json::Json;
use crate::table::Table;

/// What the user asked `load` to do (the command line, as `args` parses it).
#[derive(Debug, Default)]
pub struct LoadArgs {
    /// The object file (`*.bpf.o`).
    pub object: PathBuf,
    /// Target BTF for CO-RE instead of the running kernel's: raw BTF (e.g. from
    /// btfhub) or an ELF with `.BTF`.
    pub btf: Option<PathBuf>,
    /// Pin every map under DIR (a bpffs); `LIBBPF_PIN_BY_NAME` maps are pinned and
    /// reused there instead of under /sys/fs/bpf.
    pub pin_maps: Option<PathBuf>,
    /// Pin every program under DIR (a bpffs), so it stays loaded after oxbpf exits.
    pub pin: Option<PathBuf>,
    /// A delegating bpffs to make a BPF token from (`LoadOptions::bpf_token_path`).
    pub token: Option<PathBuf>,
    /// Set a global variable before load, typically a `const volatile` setting in
    /// `.rodata`: an integer, bool, enumerator name or string, by its BTF type.
    pub set: Vec<String>,
    /// Set a map's max_entries.
    pub max_entries: Vec<String>,
    /// Maps not to create (libbpf's autocreate off).
    pub skip_maps: Vec<String>,
    /// Set a map's value size (e.g. stack-trace maps an object leaves at 0).
    pub value_size: Vec<String>,
    /// Give a program a type, for a section name no SEC() pattern knows.
    pub prog_types: Vec<String>,
    /// Load only this program (repeat for several); `?`-sections load only when named.
    pub only: Vec<String>,
    /// Load every program that can load and report each one that cannot.
    pub keep_going: bool,
    /// Print the verifier log of each program that loads (1: basic, 2: every
    /// instruction). Failures always print theirs.
    pub log_level: u32,
    /// Print JSON for tools instead of text for people.
    pub json: bool,
}

/// `NAME=VALUE` split at the first `=`.
fn split<'a>(flag: &str, s: &'a str) -> Result<(&'a str, &'a str), CliError> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("--{flag} {s}: expected NAME=VALUE").into())
}

fn number(flag: &str, s: &str, v: &str) -> Result<u32, CliError> {
    v.parse()
        .map_err(|_| format!("--{flag} {s}: `{v}` is not a number").into())
}

/// Applies what `args` edits in the object (`--set`, `--max-entries`, `--value-size`,
/// `--skip-map`, `--type`, `--only`) to `obj`, and returns the load options. A name the
/// object lacks is an error listing the names it has.
pub(crate) fn prepare(args: &LoadArgs, obj: &mut Object) -> Result<LoadOptions, CliError> {
    let mut opts = LoadOptions::default();
    if let Some(path) = &args.btf {
        opts.core_btf = Some(Arc::new(Btf::from_file(path)?));
    }
    if let Some(dir) = &args.pin_maps {
        opts.pin_root.clone_from(dir);
    }
    opts.bpf_token_path.clone_from(&args.token);
    for s in &args.set {
        let (name, text) = split("set", s)?;
        let value = encode_global(obj, name, text)?;
        obj.set_global(name, &value)
            .map_err(|e| format!("--set {s}: {e}"))?;
    }
    for s in &args.max_entries {
        let (name, v) = split("max-entries", s)?;
        let n = number("max-entries", s, v)?;
        obj.map_mut(name)
            .map_err(|e| format!("--max-entries {s}: {e}"))?
            .max_entries = n;
    }
    for s in &args.value_size {
        let (name, v) = split("value-size", s)?;
        let n = number("value-size", s, v)?;
        obj.map_mut(name)
            .map_err(|e| format!("--value-size {s}: {e}"))?
            .value_size = n;
    }
    for name in &args.skip_maps {
        obj.map_mut(name)
            .map_err(|e| format!("--skip-map {name}: {e}"))?
            .autocreate = false;
    }
    for s in &args.prog_types {
        let (prog, ty) = split("type", s)?;
        let t = ProgType::from_name(ty).ok_or_else(|| {
            let known: Vec<&str> = ProgType::ALL.iter().filter_map(|t| t.name()).collect();
            format!(
                "--type {s}: `{ty}` is not a program type; one of: {}",
                known.join(", ")
            )
        })?;
        obj.program_mut(prog)
            .map_err(|e| format!("--type {s}: {e}"))?
            .prog_type = Some(t);
    }
    if !args.only.is_empty() {
        obj.load_only(&args.only)
            .map_err(|e| format!("--only: {e}"))?;
    }
    opts.keep_going = args.keep_going;
    opts.log_level = args.log_level;
    Ok(opts)
}

/// The result of `load`: what to print, and whether every selected program loaded.
pub struct Report {
    /// Text or JSON.
    pub output: String,
    /// No program failed.
    pub all_loaded: bool,
}

/// Runs `load`.
pub fn run(args: &LoadArgs) -> Result<Report, CliError> {
    let mut obj = Object::open(&args.object)?;
    let opts = prepare(args, &mut obj)?;
    let loaded = obj.load(&opts).map_err(load_error(&args.object))?;
    let pins = pin_all(args, &loaded)?;
    let output = if args.json {
        format!("{}\n", to_json(&args.object, &loaded, &pins)?)
    } else {
        to_text(&args.object, &loaded, &pins, args)?
    };
    Ok(Report {
        output,
        all_loaded: loaded.failures.is_empty(),
    })
}

/// A load error as the user sees it: a verifier rejection carries the whole log, as the
/// failing instruction and the state before it are what explains it; an error in the
/// object's own BTF or CO-RE records names the file, which the error cannot know.
pub(crate) fn load_error(object: &Path) -> impl Fn(LoadError) -> CliError + '_ {
    move |e| {
        let line = crate::error_chain(&e);
        match &e {
            LoadError::Program(r) if !r.log.is_empty() => {
                format!("{line}\n{}", indented_log(&r.prog, &r.log)).into()
            }
            LoadError::Fixup(_) | LoadError::BtfExt(_) | LoadError::Core(_) => {
                format!("{}: {line}", object.display()).into()
            }
            _ => Box::new(e),
        }
    }
}

fn indented_log(prog: &str, log: &str) -> String {
    let mut out = format!("    verifier log of `{prog}`:\n");
    for l in log.lines() {
        let _ = writeln!(out, "      {l}");
    }
    out
}

/// Makes a pin directory ready: on a bpffs, created there if missing (as libbpf and
/// bpftool do); anywhere else the error says what to mount. Returns whether it was
/// created.
pub(crate) fn ensure_pin_dir(dir: &Path) -> Result<bool, CliError> {
    Ok(oxbpf_loader::bpffs::prepare_pin_dir(dir)?)
}

/// Pins programs and maps where asked; returns `(kind, name, path)` for each pin.
pub(crate) fn pin_all(
    args: &LoadArgs,
    l: &Loaded,
) -> Result<Vec<(&'static str, String, PathBuf)>, CliError> {
    let mut pins = Vec::new();
    for dir in [&args.pin, &args.pin_maps].into_iter().flatten() {
        ensure_pin_dir(dir)?;
    }
    let pin_error = |path: &Path, e: &(dyn std::error::Error + 'static)| -> CliError {
        format!("{}: {}", path.display(), crate::error_chain(e)).into()
    };
    if let Some(dir) = &args.pin {
        for p in &l.programs {
            let path = dir.join(pin_name(p.name()));
            p.pin(&path).map_err(|e| pin_error(&path, &e))?;
            log::debug!("pinned program `{}` at {}", p.name(), path.display());
            pins.push(("program", p.name().to_string(), path));
        }
    }
    if let Some(dir) = &args.pin_maps {
        for m in &l.maps {
            let path = dir.join(pin_name(m.name()));
            if path.exists() {
                continue; // a LIBBPF_PIN_BY_NAME map, pinned (or reused) by the load
            }
            m.pin(&path).map_err(|e| pin_error(&path, &e))?;
            log::debug!("pinned map `{}` at {}", m.name(), path.display());
            pins.push(("map", m.name().to_string(), path));
        }
    }
    Ok(pins)
}

fn to_text(
    object: &Path,
    l: &Loaded,
    pins: &[(&'static str, String, PathBuf)],
    args: &LoadArgs,
) -> Result<String, CliError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: loaded {} program{} and {} map{}{}",
        object.display(),
        l.programs.len(),
        if l.programs.len() == 1 { "" } else { "s" },
        l.maps.len(),
        if l.maps.len() == 1 { "" } else { "s" },
        match &l.btf_fd {
            Some(fd) => format!(", BTF id {}", btf_id(fd.as_fd())),
            None => String::new(),
        }
    );
    let applied = l.core.iter().filter(|o| !o.unapplied()).count();
    if applied > 0 {
        let poisoned = l.core.iter().filter(|o| o.fixup.poison).count();
        let _ = writeln!(
            out,
            "CO-RE: {} relocation{} applied{}",
            applied,
            if applied == 1 { "" } else { "s" },
            if poisoned == 0 {
                String::new()
            } else {
                format!(", {poisoned} poisoned (their code must not be reached)")
            }
        );
    }
    out.push_str("\nprograms\n");
    let mut t = Table::new(PROG_HEADER);
    for p in &l.programs {
        t.row(kernel::prog_row(
            &oxbpf_loader::inventory::describe_program(p.as_fd())?,
        ));
    }
    out.push_str(&t.render());
    out.push_str("\nmaps\n");
    let mut t = Table::new(MAP_HEADER);
    for m in &l.maps {
        t.row(kernel::map_row(&m.info()?));
    }
    out.push_str(&t.render());
    if !l.failures.is_empty() {
        out.push_str("\nnot loaded\n");
        for f in &l.failures {
            let _ = writeln!(out, "  {}", crate::error_chain(&f.error));
            if let LoadError::Program(r) = &f.error
                && !r.log.is_empty()
            {
                let _ = write!(out, "{}", indented_log(&r.prog, &r.log));
            }
        }
    }
    if args.log_level > 0 {
        // (Owned names: `Vec<String>` shares its sort with the rest of the binary.)
        let mut names: Vec<String> = l.logs.keys().cloned().collect();
        names.sort_unstable();
        for name in names {
            let _ = write!(out, "\nverifier log of `{name}`\n{}", l.logs[&name]);
        }
    }
    if pins.is_empty() {
        out.push_str(
            "\nNothing is pinned, so the kernel frees these when oxbpf exits; --pin DIR and\n--pin-maps DIR (in a bpffs) keep them.\n",
        );
    } else {
        out.push('\n');
        for (kind, name, path) in pins {
            let _ = writeln!(out, "pinned {kind} `{name}` at {}", path.display());
        }
    }
    Ok(out)
}

fn btf_id(fd: std::os::fd::BorrowedFd<'_>) -> String {
    oxbpf_loader::inventory::btf_id(fd).map_or_else(|_| "?".into(), |id| id.to_string())
}

fn to_json(
    object: &Path,
    l: &Loaded,
    pins: &[(&'static str, String, PathBuf)],
) -> Result<Json, CliError> {
    let mut progs = Vec::new();
    for p in &l.programs {
        progs.push(kernel::prog_json(
            &oxbpf_loader::inventory::describe_program(p.as_fd())?,
        ));
    }
    let mut maps = Vec::new();
    for m in &l.maps {
        maps.push(kernel::map_json(&m.info()?));
    }
    let failures: Vec<Json> = l
        .failures
        .iter()
        .map(|f| {
            Json::object()
                .with("name", f.name.as_str())
                .with("error", crate::error_chain(&f.error))
        })
        .collect();
    let pins: Vec<Json> = pins
        .iter()
        .map(|(kind, name, path)| {
            Json::object()
                .with("kind", *kind)
                .with("name", name.as_str())
                .with("path", path.display().to_string())
        })
        .collect();
    Ok(Json::object()
        .with("object", object.display().to_string())
        .with(
            "btf_id",
            l.btf_fd
                .as_ref()
                .and_then(|fd| oxbpf_loader::inventory::btf_id(fd.as_fd()).ok()),
        )
        .with(
            "core_relocations",
            l.core.iter().filter(|o| !o.unapplied()).count(),
        )
        .with("programs", Json::Array(progs))
        .with("maps", Json::Array(maps))
        .with("failures", Json::Array(failures))
        .with("pins", Json::Array(pins)))
}
