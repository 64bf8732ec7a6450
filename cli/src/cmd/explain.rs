//! `oxbpf explain OBJ`: the whole path from a `.bpf.o` to programs running in the
//! kernel, told stage by stage with the data behind each step — what the ELF file
//! holds, the BTF it carries, each CO-RE relocation (what it asked for, what it matched
//! in the kernel's BTF, the instruction before and after), the other relocations, every
//! `bpf()` call with its arguments and the kernel's answer, and what the verifier said.
//! `--dry-run` stops before the kernel: nothing is created, so no privilege is needed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use oxbpf_loader::Object;
use oxbpf_loader::btf::Btf;
use oxbpf_loader::core::{CoreOutcome, CoreTargets, relocate_object};
use oxbpf_loader::load::{LoadError, LoadOptions};
use oxbpf_loader::object::MapDefSource;
use oxbpf_loader::object::{Function, RelocKind, SectionKind};
use oxbpf_loader::prelude::*;
use oxbpf_loader::uapi::disasm::insn_text;

use crate::CliError;
use crate::json::Json;

/// What `oxbpf explain` was asked.
#[derive(Debug)]
pub struct ExplainArgs {
    /// The object file (`*.bpf.o`).
    pub object: PathBuf,
    /// Only this program (and what it uses).
    pub prog: Option<String>,
    /// Do everything but the kernel calls (no privileges needed): show what would be
    /// sent.
    pub dry_run: bool,
    /// Resolve CO-RE against this BTF instead of the running kernel's.
    pub btf: Option<PathBuf>,
    /// Maps not to create (libbpf's autocreate off).
    pub skip_maps: Vec<String>,
    /// Verifier log detail: 1 its verdict and statistics, 2 every instruction it
    /// checked with the register state, source lines interleaved.
    pub log_level: u32,
    /// Print JSON for tools instead of text for people.
    pub json: bool,
    /// After the load, attach each program and detach it again, recording those
    /// calls: where to attach what the section cannot say.
    pub attach: Option<crate::cmd::run::AttachArgs>,
}

/// One stage of the story.
struct Stage {
    title: &'static str,
    lines: Vec<String>,
}

impl Stage {
    fn new(title: &'static str) -> Stage {
        Stage {
            title,
            lines: Vec::new(),
        }
    }

    fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }
}

/// Runs `explain`; the bool is whether the load (if attempted) succeeded.
pub fn run(args: &ExplainArgs) -> Result<(String, bool), CliError> {
    let obj = Object::open(&args.object)?;
    if let Some(p) = &args.prog {
        if !obj.programs.iter().any(|x| x.name() == p) {
            let names: Vec<&str> = obj.programs.iter().map(|x| x.name()).collect();
            return Err(format!(
                "{}: no program `{p}`; it has {}",
                args.object.display(),
                names.join(", ")
            )
            .into());
        }
    }
    let selected = |name: &str| args.prog.as_deref().is_none_or(|p| p == name);
    let mut stages = vec![elf_stage(&obj, &args.object), btf_stage(&obj)];
    stages.push(core_stage(&obj, args, &selected)?);
    stages.push(reloc_stage(&obj, &selected));
    let ok = if args.dry_run {
        stages.push(dry_run_stage(&obj, &selected));
        true
    } else {
        let (kernel, verifier, attach, ok) = kernel_stages(obj, args);
        stages.push(kernel);
        stages.push(verifier);
        stages.extend(attach);
        ok
    };
    let out = if args.json {
        Json::Array(
            stages
                .iter()
                .map(|s| {
                    Json::object().with("stage", s.title).with(
                        "lines",
                        Json::Array(s.lines.iter().map(|l| Json::from(l.as_str())).collect()),
                    )
                })
                .collect(),
        )
        .to_string()
            + "\n"
    } else {
        let mut s = String::new();
        for (i, st) in stages.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", i + 1, st.title);
            for l in &st.lines {
                let _ = writeln!(s, "   {l}");
            }
            s.push('\n');
        }
        s
    };
    Ok((out, ok))
}

/// What the ELF file holds: its sections, then what they define.
fn elf_stage(obj: &Object, path: &std::path::Path) -> Stage {
    let mut st = Stage::new("ELF: what the file holds");
    st.say(format!(
        "{}: a relocatable ELF object for BPF, {}, license \"{}\", {} sections",
        path.display(),
        obj.endian,
        obj.license,
        obj.sections.len()
    ));
    let name_of = |i: usize| {
        obj.sections
            .iter()
            .find(|s| s.index == i)
            .map_or("?", |s| s.name.as_str())
    };
    let debug: Vec<&str> = obj
        .sections
        .iter()
        .filter(|s| s.kind == SectionKind::Debug)
        .map(|s| s.name.as_str())
        .collect();
    let is_debug = |i: usize| {
        obj.sections
            .iter()
            .any(|s| s.index == i && s.kind == SectionKind::Debug)
    };
    for s in obj
        .sections
        .iter()
        .filter(|s| s.index != 0 && s.kind != SectionKind::Debug && !s.target.is_some_and(is_debug))
    {
        let mut what = s.kind.describe().to_string();
        if let Some(t) = s.target {
            let _ = write!(what, " for {}", name_of(t));
        }
        st.say(format!(
            "[{:>2}] {:<32} {:>6} B  {what}",
            s.index, s.name, s.size
        ));
    }
    if !debug.is_empty() {
        st.say(format!(
            "     ({} DWARF sections and their relocations, not needed for loading: {})",
            debug.len(),
            debug.join(" ")
        ));
    }
    say_definitions(&mut st, obj);
    st
}

/// The programs, subprograms, maps, global data and externs the sections define.
fn say_definitions(st: &mut Stage, obj: &Object) {
    st.say(format!(
        "Programs: {} (each a global function in a code section; the section name says its type):",
        obj.programs.len()
    ));
    for p in &obj.programs {
        let ty = p
            .prog_type
            .map_or("unknown type".to_string(), |t| t.to_string());
        let attach = p
            .expected_attach_type
            .map_or(String::new(), |a| format!(", attach type {a}"));
        let target = p
            .attach_target
            .as_deref()
            .map_or(String::new(), |t| format!(", target {t}"));
        st.say(format!(
            "  {} in `{}`: {ty}{attach}{target}, {} instructions",
            p.name(),
            p.section(),
            p.function.insns.len()
        ));
    }
    if !obj.subprograms.is_empty() {
        let names: Vec<&str> = obj.subprograms.iter().map(|f| f.name.as_str()).collect();
        st.say(format!(
            "Subprograms (copied into each program that calls them): {}",
            names.join(", ")
        ));
    }
    st.say(format!("Maps: {}", obj.maps.len()));
    for m in &obj.maps {
        st.say(format!(
            "  {}: {} map, key {} B, value {} B, {} entries ({})",
            m.name,
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            match m.source {
                MapDefSource::Btf => "defined by BTF in .maps".to_string(),
                MapDefSource::Legacy => "a legacy struct bpf_map_def in maps".to_string(),
                MapDefSource::Inner => "an inner map template".to_string(),
                MapDefSource::StructOps => m.struct_ops.as_ref().map_or_else(String::new, |ops| {
                    format!(
                        "a struct {} variable{}, registered with the kernel as a struct_ops map",
                        ops.type_name,
                        if ops.link {
                            " in .struct_ops.link"
                        } else {
                            " in .struct_ops"
                        }
                    )
                }),
            }
        ));
        for p in m.struct_ops.iter().flat_map(|ops| &ops.programs) {
            st.say(format!(
                "    .{} (byte {}) = program `{}`",
                p.member, p.offset, p.program
            ));
        }
    }
    for d in &obj.data {
        let vars: Vec<String> = d
            .symbols
            .iter()
            .map(|v| format!("{}@{}", v.name, v.offset))
            .collect();
        st.say(format!(
            "Global data {} ({} B) becomes a one-entry array map{}: {}",
            d.name,
            d.size,
            if d.name.starts_with(".rodata") {
                ", frozen after it is filled"
            } else {
                ""
            },
            if vars.is_empty() {
                "no named variables".to_string()
            } else {
                vars.join(", ")
            }
        ));
    }
    if let Some(a) = &obj.arena {
        let vars: Vec<String> = a
            .symbols
            .iter()
            .map(|v| format!("{}@{}", v.name, v.offset))
            .collect();
        st.say(format!(
            "__arena globals in {} ({} B) live in the arena map, copied into its last pages once it is mapped (its first pages on kernels that limit ld_imm64 offsets, before 6.15): {}",
            a.name,
            a.size,
            vars.join(", ")
        ));
    }
    for e in &obj.externs {
        st.say(format!(
            "Extern {}: {:?}{}, resolved by the loader",
            e.name,
            e.kind,
            if e.weak {
                " (weak: may be missing)"
            } else {
                ""
            }
        ));
    }
}

fn btf_stage(obj: &Object) -> Stage {
    let mut st = Stage::new("BTF: the types the object carries");
    let Some(btf) = &obj.btf else {
        st.say(
            "no .BTF section: no CO-RE, no BTF-defined maps, no source lines in the verifier's log",
        );
        return st;
    };
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for id in btf.ids() {
        if let Ok(t) = btf.type_by_id(id) {
            *kinds.entry(t.kind().name()).or_insert(0) += 1;
        }
    }
    let counts: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    st.say(format!("{} types: {}", btf.last_id().0, counts.join(", ")));
    st.say("The loader fixes it up (DATASEC sizes and offsets, extern variables), removes what this kernel cannot parse, and loads it with BPF_BTF_LOAD; programs and maps then refer to it by fd.");
    match &obj.btf_ext {
        Some(ext) => match ext {
            Ok(ext) => {
                let n = |v: usize| v;
                let funcs: usize = ext.func_info.iter().map(|s| s.records.len()).sum();
                let lines: usize = ext.line_info.iter().map(|s| s.records.len()).sum();
                let core: usize = ext.core_relos.iter().map(|s| s.records.len()).sum();
                st.say(format!(
                    ".BTF.ext: {} func_info records (the BTF function of each function), {} line_info records (source lines for the verifier's log), {} CO-RE relocations",
                    n(funcs),
                    lines,
                    core
                ));
            }
            Err(e) => st.say(format!(".BTF.ext cannot be read: {e}")),
        },
        None => st.say("no .BTF.ext: no source lines and no CO-RE relocations"),
    }
    st
}

fn core_stage(
    obj: &Object,
    args: &ExplainArgs,
    selected: &dyn Fn(&str) -> bool,
) -> Result<Stage, CliError> {
    let mut st = Stage::new("CO-RE: field offsets and type facts, fitted to the target kernel");
    let has = obj.has_core_relocations();
    if !has {
        st.say("no CO-RE relocations: the code is loaded as compiled");
        return Ok(st);
    }
    let (name, btf) = match &args.btf {
        Some(p) => (
            p.display().to_string(),
            Btf::from_file(p).map_err(|e| format!("--btf {}: {e}", p.display()))?,
        ),
        None => (
            "vmlinux (/sys/kernel/btf/vmlinux)".to_string(),
            Btf::from_sysfs().map_err(|e| format!("the running kernel's BTF: {e}"))?,
        ),
    };
    st.say(format!(
        "target: {name}, {} types; each relocation names a local type and an access path, finds the same-named types there, and rewrites the instruction",
        btf.last_id().0
    ));
    let btf = Arc::new(btf);
    let targets = match &args.btf {
        Some(_) => CoreTargets::custom(name, btf),
        None => oxbpf_loader::modules::running_kernel_targets(btf),
    };
    let before = obj.clone();
    let mut after = obj.clone();
    let outcomes = match relocate_object(&mut after, targets) {
        Ok(o) => o,
        Err(e) => {
            st.say(format!("relocation failed: {}", crate::error_chain(&e)));
            return Ok(st);
        }
    };
    for o in outcomes.iter().filter(|o| selected(&o.function)) {
        st.say(describe_outcome(o));
        let insn = |obj: &Object| {
            function(obj, &o.function)
                .and_then(|f| {
                    insn_text(&f.insns, o.insn)
                        .map(|t| format!("({:02x}) {t}", f.insns[o.insn].code))
                })
                .unwrap_or_default()
        };
        let (b, mut a) = (insn(&before), insn(&after));
        if o.fixup.poison {
            a.push_str(
                "  (the poison call 0xbad2310: the verifier rejects it if this path is reached)",
            );
        }
        if b == a {
            st.say(format!("    insn {}: {b}  (unchanged)", o.insn));
        } else {
            st.say(format!("    insn {}: {b}  →  {a}", o.insn));
        }
    }
    Ok(st)
}

fn describe_outcome(o: &CoreOutcome) -> String {
    let res = match (&o.failure, o.fixup.poison) {
        (Some(why), _) => format!(
            "UNRESOLVED: {why}; the instruction is poisoned and fails verification if reached"
        ),
        (None, true) => "UNRESOLVED".into(),
        (None, false) => match &o.target {
            Some(t) => format!("matched {t}: {} → {}", o.fixup.orig, o.fixup.new),
            None => format!(
                "no match (an answer for this kind): {} → {}",
                o.fixup.orig, o.fixup.new
            ),
        },
    };
    format!(
        "{}+{}: {} {} (access {}): {res}",
        o.function, o.insn, o.kind, o.local, o.access
    )
}

fn function<'a>(obj: &'a Object, name: &str) -> Option<&'a Function> {
    obj.programs
        .iter()
        .map(|p| &p.function)
        .chain(&obj.subprograms)
        .find(|f| f.name == name)
}

fn reloc_stage(obj: &Object, selected: &dyn Fn(&str) -> bool) -> Stage {
    let mut st = Stage::new("Relocations: what the loader writes into the code");
    let mut any = false;
    let functions = obj
        .programs
        .iter()
        .map(|p| &p.function)
        .filter(|f| selected(&f.name))
        .chain(&obj.subprograms);
    for f in functions {
        for r in &f.relocs {
            any = true;
            let text = insn_text(&f.insns, r.insn).unwrap_or_default();
            let what = match r.kind {
                RelocKind::Map { map } => format!(
                    "the fd of map `{}` (src_reg BPF_PSEUDO_MAP_FD)",
                    obj.maps
                        .get(map)
                        .map_or(r.symbol.as_str(), |m| m.name.as_str())
                ),
                RelocKind::Data { data, offset } => {
                    let d = obj.data.get(data);
                    let var = d
                        .and_then(|d| d.symbols.iter().find(|s| s.offset == offset))
                        .map_or(String::new(), |v| format!("`{}`, ", v.name));
                    format!(
                        "{var}offset {offset} in the {} map (BPF_PSEUDO_MAP_VALUE: fd and offset)",
                        d.map_or("?", |d| d.name.as_str())
                    )
                }
                RelocKind::Arena { map, offset } => {
                    let var = obj
                        .arena
                        .as_ref()
                        .and_then(|d| d.symbols.iter().find(|s| s.offset == offset))
                        .map_or(String::new(), |v| format!("`{}`, ", v.name));
                    format!(
                        "{var}offset {offset} in arena map `{}` (BPF_PSEUDO_MAP_VALUE: the arena's fd and the offset; the program casts it to a kernel address)",
                        obj.maps.get(map).map_or("?", |m| m.name.as_str())
                    )
                }
                RelocKind::Call { .. } => format!(
                    "a call of subprogram `{}`: it is appended to the program and the call's offset set",
                    r.symbol
                ),
                RelocKind::FuncAddr { .. } => {
                    format!("the address of callback `{}` (BPF_PSEUDO_FUNC)", r.symbol)
                }
                RelocKind::ExternVar { ext } => {
                    let e = obj.externs.get(ext);
                    format!(
                        "extern `{}`: {}",
                        e.map_or(r.symbol.as_str(), |e| e.name.as_str()),
                        match e.map(|e| e.kind) {
                            Some(oxbpf_loader::object::ExternKind::Kconfig) =>
                                "its value, read from the kernel's config, in the .kconfig map",
                            _ => "the kernel symbol's BTF id or address",
                        }
                    )
                }
                RelocKind::ExternCall { ext } => format!(
                    "kfunc `{}`: its BTF id in the kernel (BPF_PSEUDO_KFUNC_CALL)",
                    obj.externs
                        .get(ext)
                        .map_or(r.symbol.as_str(), |e| e.name.as_str())
                ),
            };
            st.say(format!(
                "{}+{}: ({:02x}) {text}  ←  {what}",
                f.name, r.insn, f.insns[r.insn].code
            ));
        }
    }
    if !any {
        st.say("none: the code refers to no map, global, subprogram or extern");
    }
    st
}

fn dry_run_stage(obj: &Object, selected: &dyn Fn(&str) -> bool) -> Stage {
    let mut st = Stage::new("Kernel: what a load would send (--dry-run: nothing sent)");
    st.say("bpf(BPF_BTF_LOAD, …) × a few: feature probes, small BTF blobs the kernel accepts or refuses, to learn what it parses");
    if obj.btf.is_some() {
        st.say("bpf(BPF_BTF_LOAD, the object's fixed-up BTF)");
    }
    for m in &obj.maps {
        if let Some(ops) = m.struct_ops.as_ref().filter(|_| m.autocreate) {
            st.say(format!(
                "bpf(BPF_MAP_CREATE, map_type=struct_ops key_size=4 max_entries=1 name=\"{}\", its value the kernel's struct bpf_struct_ops_{}: the object's members copied by name, each program's fd at its function pointer once loaded)",
                m.name, ops.type_name
            ));
            continue;
        }
        st.say(format!(
            "bpf(BPF_MAP_CREATE, map_type={} key_size={} value_size={} max_entries={} name=\"{}\")",
            m.map_type,
            m.key_size,
            m.value_size,
            oxbpf_loader::load::max_entries_at_load(m.map_type, m.max_entries),
            m.name
        ));
    }
    for d in &obj.data {
        st.say(format!(
            "bpf(BPF_MAP_CREATE, map_type=array max_entries=1 value_size={} for {}){}",
            d.size,
            d.name,
            if d.name.starts_with(".rodata") {
                ", then BPF_MAP_UPDATE_ELEM and BPF_MAP_FREEZE"
            } else if d.kind == oxbpf_loader::object::DataKind::Bss {
                ""
            } else {
                ", then BPF_MAP_UPDATE_ELEM"
            }
        ));
    }
    for p in obj.programs.iter().filter(|p| selected(p.name())) {
        st.say(format!(
            "bpf(BPF_PROG_LOAD, prog_type={} name=\"{}\" with its subprograms appended) — the verifier checks every path",
            p.prog_type.map_or("?".to_string(), |t| t.to_string()),
            p.name()
        ));
        if p.section_flags() & oxbpf_loader::section::flags::USDT != 0 {
            st.say(format!(
                "  {} is a USDT program: loaded for uprobe_multi links where the kernel has them (6.6); attaching it ({}) reads the binary's .note.stapsdt, writes where each argument is into __bpf_usdt_specs (BPF_MAP_UPDATE_ELEM, one spec per distinct argument text), then puts a uprobe on every site: one uprobe_multi link (BPF_LINK_CREATE) or a perf event per site, the spec id as its BPF cookie (before 5.15: in __bpf_usdt_ip_to_spec_id by address)",
                p.name(),
                p.attach_target
                    .as_deref()
                    .map_or("a probe the caller names: Loaded::attach_usdt".to_string(), |t| format!("{t}, as `run` does")),
            ));
        }
    }
    for m in obj.maps.iter().filter(|m| m.autocreate) {
        if let Some(ops) = &m.struct_ops {
            st.say(format!(
                "registering struct_ops map {} (by `run` and `attach`, not at load): BPF_MAP_UPDATE_ELEM of element 0 with the struct {} value{}",
                m.name,
                ops.type_name,
                if ops.link {
                    ", then BPF_LINK_CREATE (attach type struct_ops): the link unregisters it when closed"
                } else {
                    ": the update registers it, deleting the element unregisters it"
                }
            ));
        }
    }
    st
}

/// Loads for real, recording every `bpf()` call; returns the kernel and verifier
/// stages, the attach stage if asked for, and whether everything loaded (and attached).
fn kernel_stages(mut obj: Object, args: &ExplainArgs) -> (Stage, Stage, Option<Stage>, bool) {
    let mut kernel = Stage::new("Kernel: every bpf() call made, and the kernel's answer");
    let mut verifier = Stage::new("Verifier: what it said about each program");
    let core_btf = args
        .btf
        .as_ref()
        .and_then(|p| Btf::from_file(p).ok())
        .map(Arc::new);
    let opts = LoadOptions {
        keep_going: true,
        log_level: args.log_level.clamp(1, 2),
        core_btf,
        ..Default::default()
    };
    let edits = args
        .prog
        .as_ref()
        .map_or(Ok(()), |p| obj.load_only(&[p]))
        .and_then(|()| {
            args.skip_maps
                .iter()
                .try_for_each(|m| obj.map_mut(m).map(|m| m.autocreate = false))
        });
    if let Err(e) = edits {
        verifier.say(format!("not loaded: {e}"));
        return (kernel, verifier, None, false);
    }
    for p in obj.programs.iter().filter(|p| p.section().starts_with('?')) {
        if args.prog.as_deref() != Some(p.name()) {
            verifier.say(format!(
                "{}: not loaded: its section `{}` starts with `?` (not loaded unless asked for: --prog {})",
                p.name(),
                p.section(),
                p.name()
            ));
        }
    }
    let (result, calls) = oxbpf_loader::trace::recording(|| obj.load(&opts));
    say_calls(&mut kernel, &calls);
    let mut attach_stage = None;
    let ok = match result {
        Ok(l) => {
            for p in &l.programs {
                let log = l.logs.get(p.name()).map_or("", String::as_str);
                let last = log
                    .lines()
                    .rev()
                    .find(|x| x.starts_with("processed"))
                    .unwrap_or("accepted");
                verifier.say(format!("{}: accepted — {last}", p.name()));
            }
            for f in &l.failures {
                rejected(&mut verifier, &f.error);
            }
            kernel.say(format!(
                "loaded {} programs and {} maps; they are freed when this process exits (oxbpf load --pin keeps them)",
                l.programs.len(),
                l.maps.len()
            ));
            let mut attached = true;
            if let Some(where_) = &args.attach {
                let (st, all) = attach_stage_for(&l, where_);
                attach_stage = Some(st);
                attached = all;
            }
            l.failures.is_empty() && attached
        }
        Err(e) => {
            rejected(&mut verifier, &e);
            false
        }
    };
    (kernel, verifier, attach_stage, ok)
}

/// Every recorded call, one line each (stage marks as headings).
fn say_calls(st: &mut Stage, calls: &[oxbpf_loader::trace::Call]) {
    for c in calls {
        if c.command.is_empty() {
            st.say(format!("— {}", c.args));
        } else if c.command.starts_with("BPF_") {
            st.say(format!(
                "bpf({}{}{}) = {}  [{} µs]",
                c.command,
                if c.args.is_empty() { "" } else { ", " },
                c.args,
                c.result,
                c.micros
            ));
        } else {
            st.say(format!(
                "{}({}) = {}  [{} µs]",
                c.command, c.args, c.result, c.micros
            ));
        }
    }
}

/// Attaches each loaded program as `run` would, then detaches it, recording every
/// call of both; returns the stage and whether every program attached.
fn attach_stage_for(
    l: &oxbpf_loader::load::Loaded,
    where_: &crate::cmd::run::AttachArgs,
) -> (Stage, bool) {
    let mut st = Stage::new(
        "Attach: the calls that hook each program into the kernel, then the ones that unhook it",
    );
    let mut all = true;
    for p in &l.programs {
        let (result, calls) =
            oxbpf_loader::trace::recording(|| crate::cmd::run::attach(l, p, where_));
        match &result {
            Ok(Some(a)) => st.say(format!("{}: attached — {}", p.name(), a.link.describe())),
            Ok(None) if p.prog_type() == oxbpf_loader::uapi::ProgType::STRUCT_OPS => {
                st.say(format!(
                    "{}: runs when the kernel calls its struct_ops map's member (registered below)",
                    p.name()
                ))
            }
            Ok(None) => st.say(format!("{}: nothing to attach", p.name())),
            Err(e) => {
                all = false;
                st.say(format!("{}: NOT ATTACHED: {e}", p.name()));
            }
        }
        say_calls(&mut st, &calls);
        if !matches!(result, Ok(Some(_))) {
            continue;
        }
        let ((), calls) = oxbpf_loader::trace::recording(|| drop(result));
        if !calls.is_empty() {
            st.say(format!("{}: detached:", p.name()));
            say_calls(&mut st, &calls);
        } else {
            st.say(format!(
                "{}: detached by closing its link (the kernel detaches a bpf_link, or a perf event, when its last fd closes)",
                p.name()
            ));
        }
    }
    for v in &l.struct_ops {
        let (result, calls) = oxbpf_loader::trace::recording(|| l.register_struct_ops(&v.map));
        match &result {
            Ok(link) => st.say(format!("struct_ops map {}: {}", v.map, link.describe())),
            Err(e) => {
                all = false;
                st.say(format!(
                    "struct_ops map {}: NOT REGISTERED: {}",
                    v.map,
                    crate::error_chain(e)
                ));
            }
        }
        say_calls(&mut st, &calls);
        if let Ok(link) = result {
            let ((), calls) = oxbpf_loader::trace::recording(|| drop(link));
            if calls.is_empty() {
                st.say(format!(
                    "struct_ops map {}: unregistered by closing its link",
                    v.map
                ));
            } else {
                st.say(format!("struct_ops map {}: unregistered:", v.map));
                say_calls(&mut st, &calls);
            }
        }
    }
    (st, all)
}

/// A refusal, with the verifier's last words and the source line it points at.
fn rejected(st: &mut Stage, e: &LoadError) {
    st.say(format!("REJECTED: {}", crate::error_chain(e)));
    if let LoadError::Program(r) = e {
        let lines: Vec<&str> = r.log.lines().collect();
        // The last source line the log shows is where the failing path was.
        if let Some(src) = lines.iter().rev().find(|l| l.starts_with("; ")) {
            st.say(format!(
                "  at source line: {}",
                src.trim_start_matches("; ")
            ));
        }
        for l in lines.iter().skip(lines.len().saturating_sub(12)) {
            st.say(format!("  | {l}"));
        }
    }
}
