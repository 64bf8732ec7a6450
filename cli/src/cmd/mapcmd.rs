//! `oxbpf map dump|lookup|update|delete|pin MAP ...`: a map in the kernel from the
//! command line, like `bpftool map`. MAP is a kernel id (`42`), a pinned path
//! (`/sys/fs/bpf/counts`) or a map name (an error listing them when several have it). Keys and values are
//! shown by their BTF types where the map has them (`{ pid = 12, comm = "bash" }`) and
//! as hex bytes besides; they are given as text read by the same types (`42`,
//! `RUNNING`, `bash`) or as hex bytes (`--key-hex "2a 00 00 00"`).

use std::fmt::Write as _;

use std::path::Path;

use oxbpf_loader::btf::format::{Value, decode};
use oxbpf_loader::btf::{Btf, TypeId};
use oxbpf_loader::globals::encode_typed;
use oxbpf_loader::inventory;
use oxbpf_loader::uapi::{Endian, MapInfo, MapType, name_str};
use oxbpf_maps::Map;

use crate::CliError;
use crate::cmd::lookup::{Spec, map_ids};
use crate::json::Json;

/// Opens the map `spec` names (`ID`, `id ID`, `name NAME`, `pinned PATH`, or a bare
/// name or path), with its info. Several maps of one name are an error listing them,
/// never a guess.
fn open(spec: &[String]) -> Result<(Map, MapInfo), CliError> {
    let parsed = Spec::parse(spec)?;
    let map = match &parsed {
        Spec::Pinned(path) => Map::from_pin(path)?,
        _ => match map_ids(&parsed)?.as_slice() {
            [id] => inventory::map(*id)?,
            many => {
                let listed: Vec<String> = many
                    .iter()
                    .filter_map(|id| inventory::map_info(*id).ok())
                    .map(|i| format!("id {} ({}, {} entries)", i.id, i.map_type, i.max_entries))
                    .collect();
                return Err(format!(
                    "{} maps are named `{}`: {}; give the id (or a pinned path) of the one you mean",
                    many.len(),
                    spec.last().map_or("", String::as_str),
                    listed.join(", ")
                )
                .into());
            }
        },
    };
    let info = map.info()?;
    Ok((map, info))
}

/// The map's BTF, if it has one of its own.
fn map_btf(info: &MapInfo) -> Option<Btf> {
    if info.btf_id == 0 || info.btf_vmlinux_value_type_id != 0 {
        return None;
    }
    inventory::btf(info.btf_id).ok()
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_hex(s: &str) -> Result<Vec<u8>, CliError> {
    s.split_whitespace()
        .flat_map(|w| {
            let w = w.strip_prefix("0x").unwrap_or(w);
            if w.len() > 2 {
                w.as_bytes()
                    .chunks(2)
                    .map(|c| std::str::from_utf8(c).unwrap_or("zz").to_string())
                    .collect::<Vec<_>>()
            } else {
                vec![w.to_string()]
            }
        })
        .map(|b| u8::from_str_radix(&b, 16).map_err(|_| format!("`{b}` is not a hex byte").into()))
        .collect()
}

/// What is known to format a map's keys and values.
pub(crate) struct Types {
    btf: Option<Btf>,
    key: Option<TypeId>,
    value: Option<TypeId>,
}

impl Types {
    pub(crate) fn of(info: &MapInfo) -> Types {
        let btf = map_btf(info);
        let id = |t: u32| (t != 0 && btf.is_some()).then_some(TypeId(t));
        Types {
            key: id(info.btf_key_type_id),
            value: id(info.btf_value_type_id),
            btf,
        }
    }

    fn show(&self, id: Option<TypeId>, bytes: &[u8]) -> Option<Value> {
        decode(self.btf.as_ref()?, id?, bytes, Endian::NATIVE).ok()
    }
}

/// A key or value as text: typed if possible, with the hex beside.
fn describe(v: Option<Value>, bytes: &[u8]) -> String {
    match v {
        Some(v) => format!("{v}  ({})", hex(bytes)),
        None => hex(bytes),
    }
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::Int(i) => Json::Int(*i),
        Value::Uint(u) => i128::try_from(*u).map_or_else(|_| Json::Str(u.to_string()), Json::Int),
        Value::Bool(b) => Json::Bool(*b),
        Value::Char(c) => Json::Int(i128::from(*c)),
        Value::Str(s) | Value::Enum(s) => Json::Str(s.clone()),
        Value::Float(f) => Json::Str(f.to_string()),
        Value::Ptr(p) => Json::Str(format!("{p:#x}")),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Struct(fields) => Json::Object(
            fields
                .iter()
                .map(|(n, v)| (n.clone(), to_json(v)))
                .collect(),
        ),
        Value::Bytes(b) => Json::Str(hex(b)),
    }
}

/// `BPF_F_RDONLY`: the map cannot be written through the bpf() syscall.
const BPF_F_RDONLY: u32 = 1 << 3;

fn is_per_cpu(t: MapType) -> bool {
    matches!(
        t,
        MapType::PERCPU_HASH
            | MapType::PERCPU_ARRAY
            | MapType::LRU_PERCPU_HASH
            | MapType::PERCPU_CGROUP_STORAGE
    )
}

/// One entry in one line, typed where the map's BTF allows (hex otherwise), as `run`
/// shows a map when it ends: `KEY => VALUE`, a per-CPU value as `[CPU0, CPU1, ...]`.
pub(crate) fn entry_line(types: &Types, info: &MapInfo, key: &[u8], value: &[u8]) -> String {
    let shown = |id, b: &[u8]| types.show(id, b).map_or_else(|| hex(b), |v| v.to_string());
    let vsize = info.value_size as usize;
    let value = if is_per_cpu(info.map_type) {
        let stride = vsize.div_ceil(8) * 8;
        let cpus: Vec<String> = value
            .chunks(stride)
            .map(|c| shown(types.value, &c[..vsize.min(c.len())]))
            .collect();
        format!("[{}]", cpus.join(", "))
    } else {
        shown(types.value, value)
    };
    // An array's key is its index, whether or not the BTF says so (internal maps and
    // legacy definitions carry no key type).
    let index = matches!(info.map_type, MapType::ARRAY | MapType::PERCPU_ARRAY)
        .then(|| <[u8; 4]>::try_from(key).ok())
        .flatten()
        .filter(|_| types.key.is_none());
    match index {
        Some(i) => format!("{} => {value}", u32::from_ne_bytes(i)),
        None => format!("{} => {value}", shown(types.key, key)),
    }
}

/// One entry as text or JSON.
fn entry(types: &Types, info: &MapInfo, key: &[u8], value: &[u8], json: bool) -> (String, Json) {
    let vsize = info.value_size as usize;
    let values: Vec<&[u8]> = if is_per_cpu(info.map_type) {
        let stride = vsize.div_ceil(8) * 8;
        value
            .chunks(stride)
            .map(|c| &c[..vsize.min(c.len())])
            .collect()
    } else {
        vec![value]
    };
    let kv = types.show(types.key, key);
    let mut text = format!("key: {}\n", describe(kv.clone(), key));
    let mut jvalues = Vec::new();
    for (cpu, v) in values.iter().enumerate() {
        let vv = types.show(types.value, v);
        if values.len() > 1 {
            let _ = writeln!(text, "  cpu {cpu}: {}", describe(vv.clone(), v));
        } else {
            let _ = writeln!(text, "value: {}", describe(vv.clone(), v));
        }
        if json {
            jvalues.push(
                Json::object()
                    .with("hex", hex(v))
                    .with("formatted", vv.as_ref().map_or(Json::Null, to_json)),
            );
        }
    }
    let j = Json::object()
        .with(
            "key",
            Json::object()
                .with("hex", hex(key))
                .with("formatted", kv.as_ref().map_or(Json::Null, to_json)),
        )
        .with(
            "value",
            if jvalues.len() == 1 {
                jvalues.pop().unwrap_or(Json::Null)
            } else {
                Json::Array(jvalues)
            },
        );
    (text, j)
}

/// `oxbpf map dump MAP`.
pub fn dump(spec: &[String], json: bool) -> Result<String, CliError> {
    let (map, info) = open(spec)?;
    if matches!(info.map_type, MapType::RINGBUF | MapType::USER_RINGBUF) {
        // Records go through it; none is kept by key (bpftool dumps nothing either).
        if json {
            return Ok("[]\n".into());
        }
        return Ok(format!(
            "{} `{}` (id {}) has no elements to dump: its records pass through it to a reader; `oxbpf run OBJECT` prints them as they arrive\n",
            info.map_type,
            name_str(&info.name),
            info.id
        ));
    }
    let types = Types::of(&info);
    let mut text = String::new();
    let mut all = Vec::new();
    let keys = if info.key_size == 0 {
        // Queues, stacks: what a lookup shows is the head.
        vec![Vec::new()]
    } else {
        map.keys()?
    };
    for k in keys {
        let Some(v) = map.lookup(&k)? else { continue };
        let (t, j) = entry(&types, &info, &k, &v, json);
        text.push_str(&t);
        all.push(j);
    }
    if json {
        return Ok(format!("{}\n", Json::Array(all)));
    }
    let _ = writeln!(
        text,
        "{} entr{} in {} map `{}` (id {})",
        all.len(),
        if all.len() == 1 { "y" } else { "ies" },
        info.map_type,
        name_str(&info.name),
        info.id
    );
    Ok(text)
}

/// A key or value from the command line: typed text, or hex.
fn bytes(
    types: &Types,
    id: Option<TypeId>,
    text: Option<&str>,
    hex_text: Option<&str>,
    size: u32,
    what: &str,
) -> Result<Vec<u8>, CliError> {
    match (text, hex_text) {
        (_, Some(h)) => parse_hex(h),
        (Some(t), None) => encode_typed(types.btf.as_ref(), id, t, size as usize, Endian::NATIVE)
            .map_err(|e| format!("{what} `{t}`: {e}").into()),
        (None, None) => Err(format!("give the {what} (--{what} or --{what}-hex)").into()),
    }
}

/// `oxbpf map lookup MAP --key K`.
pub fn lookup(
    spec: &[String],
    key: Option<&str>,
    key_hex: Option<&str>,
    json: bool,
) -> Result<String, CliError> {
    let (map, info) = open(spec)?;
    let types = Types::of(&info);
    let k = bytes(&types, types.key, key, key_hex, info.key_size, "key")?;
    match map.lookup(&k)? {
        Some(v) => {
            let (t, j) = entry(&types, &info, &k, &v, json);
            Ok(if json { format!("{j}\n") } else { t })
        }
        None => Err(format!("no entry for key {}", hex(&k)).into()),
    }
}

/// `oxbpf map update MAP --key K --value V [--flags any|noexist|exist]`.
#[allow(
    clippy::too_many_arguments,
    reason = "the command line's fields, passed once"
)]
pub fn update(
    spec: &[String],
    key: Option<&str>,
    key_hex: Option<&str>,
    value: Option<&str>,
    value_hex: Option<&str>,
    flags: &str,
) -> Result<String, CliError> {
    let (map, info) = open(spec)?;
    let types = Types::of(&info);
    let k = bytes(&types, types.key, key, key_hex, info.key_size, "key")?;
    let mut v = bytes(
        &types,
        types.value,
        value,
        value_hex,
        info.value_size,
        "value",
    )?;
    if is_per_cpu(info.map_type) && v.len() == info.value_size as usize {
        // One value given: every CPU gets it, each in its 8-byte aligned slot.
        let stride = v.len().div_ceil(8) * 8;
        v.resize(stride, 0);
        v = v.repeat(oxbpf_maps::possible_cpus()? as usize);
    }
    let flags = match flags {
        "any" => 0,
        "noexist" => 1,
        "exist" => 2,
        f => return Err(format!("--flags {f}: one of any, noexist, exist").into()),
    };
    let eperm = |e: &oxbpf_maps::MapError| matches!(e, oxbpf_maps::MapError::Sys { source, .. } if source.errno() == Some(libc::EPERM));
    match map.update(&k, &v, flags) {
        Ok(()) => Ok(format!("updated key {}\n", hex(&k))),
        Err(e) if eperm(&e) && info.map_flags & BPF_F_RDONLY != 0 => Err(format!(
            "{}: the map is read-only from user space (created with BPF_F_RDONLY)",
            crate::error_chain(&e),
        )
        .into()),
        // Root may update any map but a frozen one: `.rodata` and `.kconfig` are
        // frozen at load so the verifier can trust their values.
        Err(e) if eperm(&e) => Err(format!(
            "{}: the map is frozen (BPF_MAP_FREEZE): a loader freezes `.rodata` and `.kconfig` once their values are set, and the programs were verified with them; set a `.rodata` value before load (`oxbpf load OBJ --set VAR=VALUE`)",
            crate::error_chain(&e),
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// `oxbpf map delete MAP --key K`.
pub fn delete(
    spec: &[String],
    key: Option<&str>,
    key_hex: Option<&str>,
) -> Result<String, CliError> {
    let (map, info) = open(spec)?;
    let types = Types::of(&info);
    let k = bytes(&types, types.key, key, key_hex, info.key_size, "key")?;
    map.delete(&k)?;
    Ok(format!("deleted key {}\n", hex(&k)))
}

/// `oxbpf map pin MAP PATH`.
pub fn pin(spec: &[String], path: &Path) -> Result<String, CliError> {
    let (map, info) = open(spec)?;
    map.pin(path)?;
    Ok(format!("pinned map {} at {}\n", info.id, path.display()))
}
