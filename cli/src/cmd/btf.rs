//! `oxbpf btf dump FILE|vmlinux [--format raw|c]`: BTF for people.
//!
//! `raw` lists every type as `bpftool btf dump` does; `c` writes a header clang compiles
//! (`oxbpf btf dump vmlinux --format c > vmlinux.h`, the first step of every CO-RE
//! tutorial, with no bpftool). FILE is raw BTF or an ELF object with `.BTF`; `vmlinux`
//! is the running kernel's; a file under `/sys/kernel/btf/` other than vmlinux is a
//! module's split BTF and is read on top of vmlinux.

use std::path::Path;
use std::sync::Arc;

use oxbpf_loader::btf::{Btf, dump};
use oxbpf_loader::prelude::*;

use crate::CliError;
use crate::json::Json;

/// Output format of `btf dump`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One line per type, as bpftool prints them.
    #[default]
    Raw,
    /// A C header.
    C,
}

/// Opens what the user named: `vmlinux`, a module's sysfs file, or a file.
pub fn open(source: &str) -> Result<Btf, CliError> {
    if source == "vmlinux" {
        return Ok(Btf::from_sysfs()?);
    }
    let path = Path::new(source);
    if let Ok(rest) = path.strip_prefix("/sys/kernel/btf") {
        let module = rest.to_string_lossy();
        if module == "vmlinux" {
            return Ok(Btf::from_sysfs()?);
        }
        let base = Arc::new(Btf::from_sysfs()?);
        return Ok(Btf::from_sysfs_module(&module, base)?);
    }
    Ok(Btf::from_file(path)?)
}

/// Runs `btf dump`; `json` for the raw listing as JSON (`bpftool btf dump -j`'s shape:
/// `{"types": [{"id", "kind", "name", fields..., "members"|"values"|"params"|"vars"}]}`).
pub fn dump(source: &str, format: Format, json: bool) -> Result<String, CliError> {
    let btf = open(source)?;
    Ok(match (format, json) {
        (Format::Raw, false) => dump::raw::dump(&btf)?,
        (Format::Raw, true) => format!("{}\n", raw_json(&dump::raw::dump(&btf)?)?),
        (Format::C, false) => dump::c::dump(&btf)?,
        (Format::C, true) => return Err("--json: the C header is C; use --format raw".into()),
    })
}

/// A `k=v` token's value: an integer where it reads as one, else the text.
fn value(v: &str) -> Json {
    v.parse::<i128>().map_or_else(|_| Json::from(v), Json::Int)
}

/// The `k=v` tokens of `text` as object fields (a trailing comma dropped).
fn fields(mut obj: Json, text: &str) -> Json {
    for tok in text.split_whitespace() {
        if let Some((k, v)) = tok.trim_end_matches(',').split_once('=') {
            obj = obj.with(k, value(v));
        }
    }
    obj
}

/// `'NAME' rest` split, or `None` if `line` does not start with a quoted name.
fn quoted(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('\'')?;
    let end = rest.find('\'')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// The raw listing (one `[ID] KIND 'NAME' k=v...` line per type, tab-indented lines for
/// its members, values, parameters or variables) as JSON, field by field.
fn raw_json(text: &str) -> Result<Json, CliError> {
    let mut types: Vec<(Json, String, Vec<Json>)> = Vec::new();
    for line in text.lines() {
        if let Some(inner) = line.strip_prefix('\t') {
            let Some((_, _, items)) = types.last_mut() else {
                return Err(format!("raw BTF listing: `{line}` before any type").into());
            };
            let item = match quoted(inner) {
                Some((name, rest)) => fields(Json::object().with("name", name), rest),
                // A DATASEC entry: `type_id=N offset=N size=N (VAR 'name')`.
                None => {
                    let (kv, var) = inner.split_once(" (").unwrap_or((inner, ""));
                    let obj = fields(Json::object(), kv);
                    match var.split_once(' ').and_then(|(_, n)| quoted(n)) {
                        Some((name, _)) => obj.with("name", name),
                        None => obj,
                    }
                }
            };
            items.push(item);
            continue;
        }
        let bad = || format!("raw BTF listing: unexpected line `{line}`");
        let (id, rest) = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .ok_or_else(bad)?;
        let (kind, rest) = rest.split_once(' ').ok_or_else(bad)?;
        let (name, rest) = quoted(rest).ok_or_else(bad)?;
        let obj = Json::object()
            .with("id", value(id))
            .with("kind", kind)
            .with("name", name);
        types.push((fields(obj, rest), kind.to_string(), Vec::new()));
    }
    Ok(Json::object().with(
        "types",
        Json::Array(
            types
                .into_iter()
                .map(|(obj, kind, items)| {
                    let list = match kind.as_str() {
                        "STRUCT" | "UNION" => "members",
                        "ENUM" | "ENUM64" => "values",
                        "FUNC_PROTO" => "params",
                        "DATASEC" => "vars",
                        _ => return obj,
                    };
                    obj.with(list, Json::Array(items))
                })
                .collect(),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_listing_becomes_json_field_by_field() {
        let text = "[1] INT 'unsigned int' size=4 bits_offset=0 nr_bits=32 encoding=(none)\n\
                    [2] STRUCT 's' size=8 vlen=1\n\
                    \t'a' type_id=1 bits_offset=0 bitfield_size=3\n\
                    [3] VAR 'v' type_id=1, linkage=global\n\
                    [4] DATASEC '.bss' size=4 vlen=1\n\
                    \ttype_id=3 offset=0 size=4 (VAR 'v')\n\
                    [5] ENUM 'e' encoding=SIGNED size=4 vlen=1\n\
                    \t'A' val=-1\n";
        let j = raw_json(text).unwrap().to_string();
        let compact: String = j.split_whitespace().collect::<Vec<_>>().join(" ");
        for want in [
            r#"{ "id": 1, "kind": "INT", "name": "unsigned int", "size": 4, "bits_offset": 0, "nr_bits": 32, "encoding": "(none)" }"#,
            r#""members": [ { "name": "a", "type_id": 1, "bits_offset": 0, "bitfield_size": 3 } ]"#,
            r#"{ "id": 3, "kind": "VAR", "name": "v", "type_id": 1, "linkage": "global" }"#,
            r#""vars": [ { "type_id": 3, "offset": 0, "size": 4, "name": "v" } ]"#,
            r#""values": [ { "name": "A", "val": -1 } ]"#,
        ] {
            assert!(compact.contains(want), "{want} in {compact}");
        }
        assert!(raw_json("garbage").is_err());
    }
}
