//! `oxbpf inspect OBJ [--json]`: the object model, printed.
//!
//! The first page of the walkthrough: what clang put in the file, as the loader
//! understands it, before anything touches the kernel.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use oxbpf_loader::Object;
use oxbpf_loader::btf::ext::ExtSection;
use oxbpf_loader::object::{
    DataKind, ExternKind, Function, MapDefSource, MapInitValue, MapSpec, Pinning, ProgramSpec,
    Reloc,
};
use oxbpf_loader::prelude::*;
use oxbpf_loader::uapi::map_flags;

use crate::CliError;
use crate::json::Json;
use crate::table::Table;

/// Runs the command: parses `path` and renders it.
pub fn run(path: &Path, json: bool) -> Result<String, CliError> {
    let obj = Object::open(path)?;
    Ok(if json {
        to_json(&obj).to_string() + "\n"
    } else {
        to_text(&obj)
    })
}

/// Relocation counts by kind, in a stable order.
fn reloc_counts<'a>(relocs: impl IntoIterator<Item = &'a Reloc>) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for r in relocs {
        *counts.entry(r.kind.label()).or_insert(0) += 1;
    }
    counts
}

fn counts_text(counts: &BTreeMap<&'static str, usize>) -> String {
    if counts.is_empty() {
        return "-".into();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn counts_json(counts: &BTreeMap<&'static str, usize>) -> Json {
    Json::Object(
        counts
            .iter()
            .map(|(k, n)| (k.to_string(), Json::from(*n)))
            .collect(),
    )
}

fn all_relocs(obj: &Object) -> impl Iterator<Item = &Reloc> {
    obj.programs
        .iter()
        .flat_map(|p| &p.function.relocs)
        .chain(obj.subprograms.iter().flat_map(|f| &f.relocs))
}

/// The names of the `BPF_F_*` map flags set in `flags`, and any unknown bits in hex.
pub fn map_flag_names(flags: u32) -> Vec<String> {
    const NAMES: &[(u32, &str)] = &[
        (map_flags::NO_PREALLOC, "no_prealloc"),
        (map_flags::NO_COMMON_LRU, "no_common_lru"),
        (map_flags::NUMA_NODE, "numa_node"),
        (map_flags::RDONLY, "rdonly"),
        (map_flags::WRONLY, "wronly"),
        (map_flags::STACK_BUILD_ID, "stack_build_id"),
        (map_flags::ZERO_SEED, "zero_seed"),
        (map_flags::RDONLY_PROG, "rdonly_prog"),
        (map_flags::WRONLY_PROG, "wronly_prog"),
        (map_flags::CLONE, "clone"),
        (map_flags::MMAPABLE, "mmapable"),
        (map_flags::PRESERVE_ELEMS, "preserve_elems"),
        (map_flags::INNER_MAP, "inner_map"),
        (map_flags::LINK, "link"),
        (map_flags::TOKEN_FD, "token_fd"),
    ];
    let mut out: Vec<String> = NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let known = NAMES.iter().fold(0, |acc, (bit, _)| acc | bit);
    if flags & !known != 0 {
        out.push(format!("{:#x}", flags & !known));
    }
    out
}

fn pinning_label(p: Pinning) -> String {
    match p {
        Pinning::None => "-".into(),
        Pinning::ByName => "by_name".into(),
        Pinning::Other(n) => format!("unknown({n})"),
    }
}

fn source_label(s: MapDefSource) -> &'static str {
    match s {
        MapDefSource::Btf => "btf",
        MapDefSource::Legacy => "legacy",
        MapDefSource::Inner => "inner",
        MapDefSource::StructOps => "struct_ops",
    }
}

fn data_kind_label(k: DataKind) -> &'static str {
    match k {
        DataKind::Data => "data",
        DataKind::Rodata => "rodata",
        DataKind::Bss => "bss",
        DataKind::Arena => "arena",
    }
}

fn prog_notes(p: &ProgramSpec) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if !p.autoload {
        notes.push("not autoloaded (`?` section)");
    }
    if p.sleepable() {
        notes.push("sleepable");
    }
    if p.section_flags() & oxbpf_loader::section::flags::XDP_FRAGS != 0 {
        notes.push("xdp frags");
    }
    if p.section_flags() & oxbpf_loader::section::flags::USDT != 0 {
        notes.push("USDT: a uprobe on each site of the probe, its arguments per __bpf_usdt_specs");
    }
    if p.legacy_section {
        notes.push("section matched by libbpf 0.x prefix rules");
    }
    if p.prog_type.is_none() {
        notes.push("unknown section: type must be set before load");
    }
    notes
}

/// The object as people read it: a line about the object, then a table per part.
fn to_text(obj: &Object) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: BPF object, {}, license {:?}{}",
        obj.name,
        obj.endian,
        obj.license,
        obj.kern_version
            .map_or(String::new(), |v| format!(", kernel version {v:#x}"))
    );

    programs_text(obj, &mut out);
    subprograms_text(obj, &mut out);
    maps_text(obj, &mut out);
    data_text(obj, &mut out);
    externs_text(obj, &mut out);
    summary_text(obj, &mut out);
    out
}

/// The programs, with what their sections say.
fn programs_text(obj: &Object, out: &mut String) {
    let _ = writeln!(out, "\nPrograms ({}):", obj.programs.len());
    if !obj.programs.is_empty() {
        let mut t = Table::new(&[
            "NAME",
            "SECTION",
            "TYPE",
            "ATTACH TYPE",
            "TARGET",
            "INSNS",
            "RELOCATIONS",
            "NOTES",
        ]);
        for p in &obj.programs {
            t.row(vec![
                p.name().into(),
                p.section().into(),
                p.prog_type.map_or("-".into(), |t| t.to_string()),
                p.expected_attach_type.map_or("-".into(), |t| t.to_string()),
                p.attach_target.clone().unwrap_or_else(|| "-".into()),
                p.function.insns.len().to_string(),
                counts_text(&reloc_counts(&p.function.relocs)),
                prog_notes(p).join("; "),
            ]);
        }
        out.push_str(&t.render());
    }
}

/// The functions that are not entry points.
fn subprograms_text(obj: &Object, out: &mut String) {
    if !obj.subprograms.is_empty() {
        let _ = writeln!(out, "\nSubprograms ({}):", obj.subprograms.len());
        let mut t = Table::new(&["NAME", "SECTION", "LINKAGE", "INSNS", "RELOCATIONS"]);
        for f in &obj.subprograms {
            t.row(vec![
                f.name.clone(),
                f.section.clone(),
                linkage(f).into(),
                f.insns.len().to_string(),
                counts_text(&reloc_counts(&f.relocs)),
            ]);
        }
        out.push_str(&t.render());
    }
}

/// The maps, inner map templates under their outer map.
fn maps_text(obj: &Object, out: &mut String) {
    let _ = writeln!(out, "\nMaps ({}):", obj.maps.len());
    if !obj.maps.is_empty() {
        let mut t = Table::new(&[
            "NAME",
            "TYPE",
            "KEY",
            "VALUE",
            "MAX ENTRIES",
            "FLAGS",
            "PINNING",
            "DEFINED IN",
            "NOTES",
        ]);
        for m in &obj.maps {
            t.row(map_row(m));
            if let Some(inner) = &m.inner {
                let mut row = map_row(inner);
                row[0] = format!("  ↳ {}", inner.name);
                t.row(row);
            }
        }
        out.push_str(&t.render());
    }
}

/// The global data sections and their variables.
fn data_text(obj: &Object, out: &mut String) {
    if !obj.data.is_empty() || obj.arena.is_some() {
        let n = obj.data.len();
        let _ = writeln!(
            out,
            "\nGlobal data ({n} section{}, one array map each at load{}):",
            if n == 1 { "" } else { "s" },
            if obj.arena.is_some() {
                "; .addr_space.1 in the arena map"
            } else {
                ""
            }
        );
        let mut t = Table::new(&["SECTION", "KIND", "SIZE", "VARIABLES"]);
        for d in obj.data.iter().chain(&obj.arena) {
            let vars = d
                .symbols
                .iter()
                .map(|s| {
                    format!(
                        "{}@{}[{}]{}",
                        s.name,
                        s.offset,
                        s.size,
                        if s.global { "" } else { " (static)" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            t.row(vec![
                d.name.clone(),
                data_kind_label(d.kind).into(),
                d.size.to_string(),
                if vars.is_empty() { "-".into() } else { vars },
            ]);
        }
        out.push_str(&t.render());
    }
}

/// The externs.
fn externs_text(obj: &Object, out: &mut String) {
    if !obj.externs.is_empty() {
        let _ = writeln!(out, "\nExterns ({}):", obj.externs.len());
        let mut t = Table::new(&["NAME", "KIND", "WEAK"]);
        for e in &obj.externs {
            t.row(vec![
                e.name.clone(),
                e.kind.label().into(),
                if e.weak { "weak".into() } else { "-".into() },
            ]);
        }
        out.push_str(&t.render());
    }
}

/// Relocation counts, BTF and `.BTF.ext` sizes, and the parse's warnings.
fn summary_text(obj: &Object, out: &mut String) {
    let counts = reloc_counts(all_relocs(obj));
    let total: usize = counts.values().sum();
    let _ = writeln!(
        out,
        "\nRelocations: {total}{}",
        if total > 0 {
            format!(" ({})", counts_text(&counts))
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "BTF: {}; BTF.ext: {}",
        obj.btf
            .as_ref()
            .map_or("none".into(), |b| format!("{} types", b.last_id().0)),
        match ext_counts(obj) {
            None => "none".to_string(),
            Some(Ok((f, l, c))) => format!("func_info {f}, line_info {l}, CO-RE relocations {c}"),
            Some(Err(e)) => format!("invalid ({e})"),
        }
    );
    for w in &obj.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
}

/// Record counts of `.BTF.ext`: func_info, line_info, CO-RE relocations.
fn ext_counts(obj: &Object) -> Option<Result<(usize, usize, usize), String>> {
    Some(
        obj.btf_ext
            .as_ref()?
            .as_ref()
            .map(|e| {
                (
                    count(&e.func_info),
                    count(&e.line_info),
                    count(&e.core_relos),
                )
            })
            .map_err(|e| e.to_string()),
    )
}

fn count<T>(sections: &[ExtSection<T>]) -> usize {
    sections.iter().map(|s| s.records.len()).sum()
}

fn linkage(f: &Function) -> &'static str {
    match (f.global, f.hidden) {
        (true, true) => "global (hidden)",
        (true, false) => "global",
        (false, _) => "static",
    }
}

fn map_row(m: &MapSpec) -> Vec<String> {
    let flags = map_flag_names(m.map_flags);
    let mut notes = Vec::new();
    if !m.init.is_empty() {
        let slots = m
            .init
            .iter()
            .map(|(slot, v)| match v {
                MapInitValue::Map(n) | MapInitValue::Program(n) => format!("[{slot}]={n}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        notes.push(format!("initial values {slots}"));
    }
    if let Some(st) = &m.struct_ops {
        let members: Vec<String> = st
            .programs
            .iter()
            .map(|p| format!("{}={}", p.member, p.program))
            .collect();
        notes.push(format!(
            "struct {}{}: {}",
            st.type_name,
            if st.link { ", through a link" } else { "" },
            if members.is_empty() {
                "no program".into()
            } else {
                members.join(" ")
            }
        ));
    }
    match m.name.as_str() {
        "__bpf_usdt_specs" => notes.push(format!(
            "usdt.bpf.h: where each USDT argument is, per probe site, written at attach ({})",
            match m.value_size {
                208 => "libbpf 1.6 layout",
                304 => "libbpf 1.7 layout, with scale-index-base arguments",
                _ => "a layout oxbpf does not know",
            }
        )),
        "__bpf_usdt_ip_to_spec_id" => notes.push(
            "usdt.bpf.h: probe address → spec, on kernels without BPF cookies (before 5.15)".into(),
        ),
        _ => {}
    }
    if m.map_extra != 0 && m.map_type == oxbpf_loader::uapi::MapType::ARENA {
        notes.push(format!("mapped at {:#x} (map_extra)", m.map_extra));
    } else if m.map_extra != 0 {
        notes.push(format!("map_extra {}", m.map_extra));
    }
    if m.numa_node != 0 {
        notes.push(format!("numa node {}", m.numa_node));
    }
    let at_load = oxbpf_loader::load::max_entries_at_load(m.map_type, m.max_entries);
    if at_load != m.max_entries {
        notes.push(format!(
            "created with {at_load} entries: the next power-of-2 number of pages, as libbpf rounds"
        ));
    }
    vec![
        m.name.clone(),
        m.map_type.to_string(),
        m.key_size.to_string(),
        m.value_size.to_string(),
        m.max_entries.to_string(),
        if flags.is_empty() {
            "-".into()
        } else {
            flags.join("|")
        },
        pinning_label(m.pinning),
        source_label(m.source).into(),
        notes.join("; "),
    ]
}

fn function_json(f: &Function) -> Json {
    Json::object()
        .with("name", f.name.as_str())
        .with("section", f.section.as_str())
        .with("insn_offset", f.insn_offset)
        .with("insns", f.insns.len())
        .with("global", f.global)
        .with("hidden", f.hidden)
        .with("relocations", counts_json(&reloc_counts(&f.relocs)))
}

fn map_json(m: &MapSpec) -> Json {
    let init: Vec<Json> = m
        .init
        .iter()
        .map(|(slot, v)| match v {
            MapInitValue::Map(n) => Json::object().with("slot", *slot).with("map", n.as_str()),
            MapInitValue::Program(n) => Json::object()
                .with("slot", *slot)
                .with("program", n.as_str()),
        })
        .collect();
    Json::object()
        .with("name", m.name.as_str())
        .with("type", m.map_type.to_string())
        .with("key_size", m.key_size)
        .with("value_size", m.value_size)
        .with("max_entries", m.max_entries)
        .with("flags", m.map_flags)
        .with("flag_names", map_flag_names(m.map_flags))
        .with("numa_node", m.numa_node)
        .with("map_extra", m.map_extra)
        .with(
            "pinning",
            match m.pinning {
                Pinning::None => Json::Null,
                Pinning::ByName => "by_name".into(),
                Pinning::Other(n) => n.into(),
            },
        )
        .with("source", source_label(m.source))
        .with("key_btf_type", m.key_type.map(|t| t.0))
        .with("value_btf_type", m.value_type.map(|t| t.0))
        .with(
            "inner",
            m.inner.as_ref().map_or(Json::Null, |i| map_json(i)),
        )
        .with("init", Json::Array(init))
        .with(
            "struct_ops",
            m.struct_ops.as_ref().map_or(Json::Null, |st| {
                Json::object()
                    .with("type", st.type_name.as_str())
                    .with("link", st.link)
                    .with(
                        "members",
                        Json::Array(
                            st.programs
                                .iter()
                                .map(|p| {
                                    Json::object()
                                        .with("member", p.member.as_str())
                                        .with("offset", p.offset)
                                        .with("program", p.program.as_str())
                                })
                                .collect(),
                        ),
                    )
            }),
        )
}

fn to_json(obj: &Object) -> Json {
    let programs: Vec<Json> = obj
        .programs
        .iter()
        .map(|p| {
            Json::object()
                .with("name", p.name())
                .with("section", p.section())
                .with("type", p.prog_type.map(|t| t.to_string()))
                .with(
                    "expected_attach_type",
                    p.expected_attach_type.map(|t| t.to_string()),
                )
                .with("attach_target", p.attach_target.clone())
                .with("insns", p.function.insns.len())
                .with("autoload", p.autoload)
                .with("sleepable", p.sleepable())
                .with("legacy_section", p.legacy_section)
                .with(
                    "relocations",
                    counts_json(&reloc_counts(&p.function.relocs)),
                )
        })
        .collect();
    let data: Vec<Json> = obj
        .data
        .iter()
        .chain(&obj.arena)
        .map(|d| {
            let vars: Vec<Json> = d
                .symbols
                .iter()
                .map(|s| {
                    Json::object()
                        .with("name", s.name.as_str())
                        .with("offset", s.offset)
                        .with("size", s.size)
                        .with("global", s.global)
                })
                .collect();
            Json::object()
                .with("name", d.name.as_str())
                .with("kind", data_kind_label(d.kind))
                .with("size", d.size)
                .with("variables", Json::Array(vars))
        })
        .collect();
    let externs: Vec<Json> = obj
        .externs
        .iter()
        .map(|e| {
            Json::object()
                .with("name", e.name.as_str())
                .with(
                    "kind",
                    match e.kind {
                        ExternKind::KsymTypeless => "ksym_typeless",
                        k => k.label(),
                    },
                )
                .with("weak", e.weak)
        })
        .collect();
    let counts = reloc_counts(all_relocs(obj));
    let total: usize = counts.values().sum();
    Json::object()
        .with("file", obj.name.as_str())
        .with(
            "endian",
            if obj.endian == oxbpf_loader::uapi::Endian::Big {
                "big"
            } else {
                "little"
            },
        )
        .with("license", obj.license.as_str())
        .with("kern_version", obj.kern_version)
        .with("programs", Json::Array(programs))
        .with(
            "subprograms",
            Json::Array(obj.subprograms.iter().map(function_json).collect()),
        )
        .with("maps", Json::Array(obj.maps.iter().map(map_json).collect()))
        .with("data", Json::Array(data))
        .with("externs", Json::Array(externs))
        .with("relocations", counts_json(&counts).with("total", total))
        .with("btf_types", obj.btf.as_ref().map(|b| b.last_id().0))
        .with(
            "btf_ext",
            match ext_counts(obj) {
                Some(Ok((f, l, c))) => Json::object()
                    .with("func_info", f)
                    .with("line_info", l)
                    .with("core_relos", c),
                Some(Err(e)) => Json::object().with("error", e),
                None => Json::Null,
            },
        )
        .with("warnings", obj.warnings.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_cover_known_and_unknown_bits() {
        assert_eq!(map_flag_names(0), Vec::<String>::new());
        assert_eq!(
            map_flag_names(map_flags::NO_PREALLOC | map_flags::MMAPABLE),
            vec!["no_prealloc", "mmapable"]
        );
        assert_eq!(map_flag_names(1 << 30), vec!["0x40000000"]);
    }
}
