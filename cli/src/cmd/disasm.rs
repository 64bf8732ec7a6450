//! `oxbpf disasm OBJ [--prog NAME]`: every function's instructions in the verifier's
//! syntax, with source lines and what each relocation and CO-RE record will do there.

use std::fmt::Write as _;
use std::path::Path;

use oxbpf_loader::Object;
use oxbpf_loader::disasm::{Listing, listings};
use oxbpf_loader::prelude::*;

use crate::CliError;
use crate::json::Json;

/// Where the notes column starts, so listings line up like objdump's.
const NOTE_COLUMN: usize = 44;

/// Runs `disasm`.
pub fn run(path: &Path, prog: Option<&str>, json: bool) -> Result<String, CliError> {
    let obj = Object::open(path)?;
    let all = listings(&obj, prog);
    if all.is_empty() {
        let names: Vec<&str> = obj
            .programs
            .iter()
            .map(|p| p.name())
            .chain(obj.subprograms.iter().map(|f| f.name.as_str()))
            .collect();
        return Err(match prog {
            Some(p) => format!(
                "{}: no function `{p}`; it has {}",
                path.display(),
                names.join(", ")
            ),
            None => format!("{}: no code", path.display()),
        }
        .into());
    }
    Ok(if json {
        Json::Array(all.iter().map(to_json).collect()).to_string() + "\n"
    } else {
        all.iter().map(to_text).collect::<Vec<_>>().join("\n")
    })
}

/// One function as text.
pub fn to_text(l: &Listing) -> String {
    let slots: usize = l.lines.last().map_or(0, |x| x.insn + 1);
    let mut s = format!(
        "{} ({}, section {}), {} instructions\n",
        l.name,
        if l.program { "program" } else { "subprogram" },
        l.section,
        slots.max(l.lines.len())
    );
    for line in &l.lines {
        if let Some(src) = &line.source {
            let _ = writeln!(s, "; {src}");
        }
        let insn = format!("{:>5}: ({:02x}) {}", line.insn, line.code, line.text);
        if line.notes.is_empty() {
            let _ = writeln!(s, "{insn}");
        } else {
            let _ = writeln!(
                s,
                "{insn:<width$} ; {}",
                line.notes.join("; "),
                width = NOTE_COLUMN
            );
        }
    }
    s
}

fn to_json(l: &Listing) -> Json {
    Json::object()
        .with("name", l.name.as_str())
        .with("section", l.section.as_str())
        .with("program", l.program)
        .with(
            "instructions",
            Json::Array(
                l.lines
                    .iter()
                    .map(|x| {
                        Json::object()
                            .with("insn", x.insn)
                            .with("code", u64::from(x.code))
                            .with("text", x.text.as_str())
                            .with("source", x.source.clone().map_or(Json::Null, Json::from))
                            .with(
                                "notes",
                                Json::Array(
                                    x.notes.iter().map(|n| Json::from(n.as_str())).collect(),
                                ),
                            )
                    })
                    .collect(),
            ),
        )
}
