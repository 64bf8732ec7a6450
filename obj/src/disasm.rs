//! Listings of an object's code: each instruction in the verifier's syntax
//! ([`oxbpf_uapi::disasm`]), with what the object says about it — the source line
//! (BTF line_info), what a relocation will put there (a map, a global variable, a
//! subprogram, an extern, a kfunc) and what a CO-RE relocation asks for
//! (`field_byte_offset struct task_struct.pid`). This is `llvm-objdump -d -S` that
//! knows maps, helpers by name, CO-RE and kfuncs.

use oxbpf_uapi::disasm::{insn_slots, insn_text};

use crate::btf::Btf;
use crate::btf::ext::BtfExt;
use crate::core::CoreReloKind;
use crate::core::spec::parse_spec;
use crate::object::{Function, Object, RelocKind};

/// One function's listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The function.
    pub name: String,
    /// Its section.
    pub section: String,
    /// Whether it is a program (an entry point) rather than a subprogram.
    pub program: bool,
    /// Its instructions, in order (an `ld_imm64` is one line for its two slots).
    pub lines: Vec<Line>,
}

/// One instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Index of the instruction's first slot within the function.
    pub insn: usize,
    /// Its opcode byte, as the verifier prints it (`(bf)`).
    pub code: u8,
    /// The instruction in verifier syntax.
    pub text: String,
    /// The source line that starts here (`int bpf_prog1(...) @ sockex1.bpf.c:23`).
    pub source: Option<String>,
    /// What relocations say about it (`map my_map`, `CO-RE field_byte_offset ...`).
    pub notes: Vec<String>,
}

/// Every function of `obj` (programs first, then subprograms), or only those named in
/// `only`, listed.
pub fn listings(obj: &Object, only: Option<&str>) -> Vec<Listing> {
    let ext = obj.ext();
    let functions = obj
        .programs
        .iter()
        .map(|p| (&p.function, true))
        .chain(obj.subprograms.iter().map(|f| (f, false)));
    functions
        .filter(|(f, _)| only.is_none_or(|n| f.name == n))
        .map(|(f, program)| listing(obj, f, program, ext))
        .collect()
}

fn listing(obj: &Object, f: &Function, program: bool, ext: Option<&BtfExt>) -> Listing {
    let btf = obj.btf.as_ref();
    let here = |insn_off: u32| {
        (insn_off / 8)
            .checked_sub(f.insn_offset as u32)
            .map(|i| i as usize)
    };
    let mut lines = Vec::new();
    // Like the verifier, a source line is shown where it starts, not again for each
    // record clang emits while the same line goes on.
    let mut last_line: Option<(u32, u32)> = None;
    let mut i = 0;
    while i < f.insns.len() {
        let mut notes: Vec<String> = f
            .relocs
            .iter()
            .filter(|r| r.insn == i)
            .map(|r| reloc_note(obj, r.kind, &r.symbol))
            .collect();
        let mut source = None;
        if let (Some(ext), Some(btf)) = (ext, btf) {
            for rec in ext.core_relos_for(&f.section) {
                if here(rec.insn_off) == Some(i) {
                    notes.push(core_note(btf, rec));
                }
            }
            source = ext
                .line_info_for(&f.section)
                .iter()
                .find(|l| here(l.insn_off) == Some(i))
                .filter(|l| {
                    let key = (l.file_name_off, l.line_col >> 10);
                    let new = last_line != Some(key);
                    last_line = Some(key);
                    new
                })
                .map(|l| {
                    let text = btf.str_at(l.line_off).unwrap_or("").trim();
                    let file = btf.str_at(l.file_name_off).unwrap_or("?");
                    let file = file.rsplit('/').next().unwrap_or(file);
                    format!("{text} @ {file}:{}", l.line())
                });
        }
        lines.push(Line {
            insn: i,
            code: f.insns[i].code,
            text: insn_text(&f.insns, i).unwrap_or_default(),
            source,
            notes,
        });
        i += insn_slots(&f.insns, i);
    }
    Listing {
        name: f.name.clone(),
        section: f.section.clone(),
        program,
        lines,
    }
}

/// What a relocation will put into the instruction.
fn reloc_note(obj: &Object, kind: RelocKind, symbol: &str) -> String {
    let function_at = |section_index: usize, insn: usize| {
        obj.programs
            .iter()
            .map(|p| &p.function)
            .chain(&obj.subprograms)
            .find(|f| f.section_index == section_index && f.insn_offset == insn)
            .map_or_else(
                || format!("insn {insn} of section {section_index}"),
                |f| f.name.clone(),
            )
    };
    match kind {
        RelocKind::Map { map } => format!(
            "map {}",
            obj.maps.get(map).map_or(symbol, |m| m.name.as_str())
        ),
        RelocKind::Data { data, offset } => match obj.data.get(data) {
            Some(d) => match d.symbols.iter().find(|s| s.offset == offset) {
                Some(v) => format!("&{} ({} + {offset})", v.name, d.name),
                None => format!("{} + {offset}", d.name),
            },
            None => format!("data {symbol} + {offset}"),
        },
        RelocKind::Arena { offset, .. } => match obj
            .arena
            .as_ref()
            .and_then(|d| d.symbols.iter().find(|s| s.offset == offset))
        {
            Some(v) => format!("&{} (arena + {offset})", v.name),
            None => format!("arena + {offset}"),
        },
        RelocKind::Call {
            section_index,
            insn,
        } => {
            format!("call {}", function_at(section_index, insn))
        }
        RelocKind::FuncAddr {
            section_index,
            insn,
        } => {
            format!("&{} (callback)", function_at(section_index, insn))
        }
        RelocKind::ExternVar { ext } => format!(
            "extern {}",
            obj.externs.get(ext).map_or(symbol, |e| e.name.as_str())
        ),
        RelocKind::ExternCall { ext } => format!(
            "kfunc {}",
            obj.externs.get(ext).map_or(symbol, |e| e.name.as_str())
        ),
    }
}

/// What a CO-RE record asks for, in words.
fn core_note(btf: &Btf, rec: &crate::btf::ext::CoreReloRecord) -> String {
    let access = btf.str_at(rec.access_str_off).unwrap_or("?");
    let Some(kind) = CoreReloKind::from_raw(rec.kind) else {
        return format!(
            "CO-RE kind {} on type {} \"{access}\"",
            rec.kind, rec.type_id
        );
    };
    match parse_spec(btf, rec.type_id, access, kind) {
        Ok(spec) => format!("CO-RE {kind}: {}", spec.describe(btf)),
        Err(e) => format!("CO-RE {kind}: type {} \"{access}\" ({e})", rec.type_id),
    }
}
