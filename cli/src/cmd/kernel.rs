//! `oxbpf prog list|show` and `oxbpf map list|show`: what is loaded in the kernel, by
//! walking the kernel-wide ids (`BPF_*_GET_NEXT_ID`), opening each
//! (`BPF_*_GET_FD_BY_ID`) and asking for its description (`BPF_OBJ_GET_INFO_BY_FD`),
//! as bpftool does. Listing needs `CAP_SYS_ADMIN`.

use std::fmt::Write as _;

use oxbpf_loader::inventory::{self, IdKind, InventoryError, ProgramDesc};
use oxbpf_loader::uapi::{MapInfo, link_type_name, name_str};

use crate::CliError;
use crate::json::Json;
use crate::table::Table;

/// A program as the kernel describes it, with the maps it uses.
pub type ProgDesc = ProgramDesc;

/// The 8-byte program tag as bpftool prints it.
pub fn tag_hex(tag: &[u8; 8]) -> String {
    tag.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn joined(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Table header for programs.
pub const PROG_HEADER: &[&str] = &[
    "ID", "TYPE", "NAME", "TAG", "XLATED", "JITED", "MAPS", "BTF",
];

/// One table row for a program.
pub fn prog_row(d: &ProgDesc) -> Vec<String> {
    let i = &d.info;
    vec![
        i.id.to_string(),
        i.prog_type.to_string(),
        name_str(&i.name),
        tag_hex(&i.tag),
        format!("{}B", i.xlated_prog_len),
        format!("{}B", i.jited_prog_len),
        joined(&d.map_ids),
        if i.btf_id == 0 {
            "-".into()
        } else {
            i.btf_id.to_string()
        },
    ]
}

/// A program as JSON (bpftool's key names where they exist).
pub fn prog_json(d: &ProgDesc) -> Json {
    let i = &d.info;
    Json::object()
        .with("id", i.id)
        .with("type", i.prog_type.to_string())
        .with("name", name_str(&i.name))
        .with("tag", tag_hex(&i.tag))
        .with("gpl_compatible", i.gpl_compatible & 1 != 0)
        .with("loaded_at", loaded_at(i.load_time))
        .with("uid", i.created_by_uid)
        .with("bytes_xlated", i.xlated_prog_len)
        .with("jited", i.jited_prog_len != 0)
        .with("bytes_jited", i.jited_prog_len)
        .with("verified_insns", i.verified_insns)
        .with("map_ids", d.map_ids.clone())
        .with("btf_id", (i.btf_id != 0).then_some(i.btf_id))
        .with(
            "attach_btf_id",
            (i.attach_btf_id != 0).then_some(i.attach_btf_id),
        )
}

/// Table header for maps.
pub const MAP_HEADER: &[&str] = &[
    "ID",
    "TYPE",
    "NAME",
    "KEY",
    "VALUE",
    "MAX_ENTRIES",
    "FLAGS",
    "BTF",
];

/// One table row for a map.
pub fn map_row(i: &MapInfo) -> Vec<String> {
    vec![
        i.id.to_string(),
        i.map_type.to_string(),
        name_str(&i.name),
        format!("{}B", i.key_size),
        format!("{}B", i.value_size),
        i.max_entries.to_string(),
        format!("{:#x}", i.map_flags),
        if i.btf_id == 0 {
            "-".into()
        } else {
            i.btf_id.to_string()
        },
    ]
}

/// A map as JSON.
pub fn map_json(i: &MapInfo) -> Json {
    Json::object()
        .with("id", i.id)
        .with("type", i.map_type.to_string())
        .with("name", name_str(&i.name))
        .with("flags", i.map_flags)
        .with("bytes_key", i.key_size)
        .with("bytes_value", i.value_size)
        .with("max_entries", i.max_entries)
        .with("map_extra", i.map_extra)
        .with("btf_id", (i.btf_id != 0).then_some(i.btf_id))
        .with(
            "btf_key_type_id",
            (i.btf_key_type_id != 0).then_some(i.btf_key_type_id),
        )
        .with(
            "btf_value_type_id",
            (i.btf_value_type_id != 0).then_some(i.btf_value_type_id),
        )
}

/// `load_time` (nanoseconds since boot) as a UTC date, using the boot time from
/// `/proc/stat` (`btime`); the raw value if that cannot be read.
fn loaded_at(load_time_ns: u64) -> String {
    let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    match btime {
        Some(b) => utc(b + load_time_ns / 1_000_000_000),
        None => format!("{}s after boot", load_time_ns / 1_000_000_000),
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (days to civil date, proleptic
/// Gregorian).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn render(
    header: &[&'static str],
    rows: Vec<Vec<String>>,
    json: Vec<Json>,
    as_json: bool,
) -> String {
    if as_json {
        return format!("{}\n", Json::Array(json));
    }
    let mut t = Table::new(header);
    for r in rows {
        t.row(r);
    }
    t.render()
}

/// `oxbpf prog list` (every program) or `oxbpf prog show ID`.
pub fn progs(only: Option<Vec<u32>>, json: bool) -> Result<String, CliError> {
    listing(IdKind::Prog, PROG_HEADER, only, json, |id| {
        let d = inventory::program(id)?;
        Ok((prog_row(&d), prog_json(&d)))
    })
}

/// `oxbpf map list` (every map) or `oxbpf map show ID`.
pub fn maps(only: Option<Vec<u32>>, json: bool) -> Result<String, CliError> {
    listing(IdKind::Map, MAP_HEADER, only, json, |id| {
        let info = inventory::map_info(id)?;
        Ok((map_row(&info), map_json(&info)))
    })
}

/// Table header for links.
pub const LINK_HEADER: &[&str] = &["ID", "TYPE", "PROG"];

/// `oxbpf link list` (every bpf_link) or `oxbpf link show ID`.
pub fn links(only: Option<u32>, json: bool) -> Result<String, CliError> {
    listing(
        IdKind::Link,
        LINK_HEADER,
        only.map(|id| vec![id]),
        json,
        |id| {
            let i = inventory::link_info(id)?;
            let row = vec![
                i.id.to_string(),
                link_type_name(i.link_type).to_string(),
                i.prog_id.to_string(),
            ];
            let obj = Json::object()
                .with("id", i.id)
                .with("type", link_type_name(i.link_type))
                .with("prog_id", i.prog_id);
            Ok((row, obj))
        },
    )
}

/// Lists every object of `kind` (or the one with id `only`) as a table or JSON, each
/// described by `describe` from its id.
fn listing(
    kind: IdKind,
    header: &[&'static str],
    only: Option<Vec<u32>>,
    json: bool,
    describe: impl Fn(u32) -> Result<(Vec<String>, Json), InventoryError>,
) -> Result<String, CliError> {
    let one = only.as_ref().is_some_and(|o| o.len() == 1);
    let list = match &only {
        Some(ids) => ids.clone(),
        None => inventory::ids(kind)?,
    };
    let (mut rows, mut objs) = (Vec::new(), Vec::new());
    for id in list {
        let (row, obj) = match describe(id) {
            Ok(d) => d,
            // Gone since it was listed.
            Err(InventoryError::NoSuchId { .. }) if only.is_none() => continue,
            Err(e) => return Err(e.into()),
        };
        rows.push(row);
        objs.push(obj);
    }
    if one && json {
        return Ok(format!("{}\n", objs.pop().unwrap_or(Json::Null)));
    }
    Ok(render(header, rows, objs, json))
}

/// `oxbpf link detach ID`: the link's program stops at once (`BPF_LINK_DETACH`), even
/// while a process or a pin still holds the link.
pub fn detach_link(id: u32) -> Result<String, CliError> {
    let info = inventory::detach_link(id).map_err(|e| match &e {
        inventory::InventoryError::Sys(s) if s.errno() == Some(libc::EOPNOTSUPP) || s.errno() == Some(libc::EINVAL) => {
            format!("{}: this kind of link cannot be detached on its own; it goes when the process or pin holding it lets go", crate::error_chain(&e))
        }
        _ => crate::error_chain(&e),
    })?;
    Ok(format!(
        "detached {} link {} (program {})\n",
        link_type_name(info.link_type),
        info.id,
        info.prog_id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_civil() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_301_999), "2026-11-21T22:59:59Z");
    }

    #[test]
    fn tags_print_as_hex() {
        assert_eq!(
            tag_hex(&[0xde, 0xad, 0, 1, 2, 3, 4, 0xff]),
            "dead0001020304ff"
        );
    }
}
