//! Map definitions: BTF-defined maps in `.maps` and legacy `struct bpf_map_def`s in
//! `maps`, plus the initial slots of map-in-maps and prog arrays from `.rel.maps`.
//!
//! A BTF map is a variable whose type is a struct of "field markers", written with the
//! macros of libbpf's `bpf_helpers.h` (libbpf `parse_btf_map_def`):
//! - `__uint(name, N)` is `int (*name)[N]`: the value is the array length;
//! - `__ulong(name, N)` (libbpf 1.2+) is an anonymous enum whose single value is N;
//! - `__type(name, T)` is `typeof(T) *name`: the pointee is the key or value type, and
//!   its size the key or value size;
//! - `__array(values, T)` is `typeof(T) *values[]`: the inner map template (a struct of
//!   markers) for maps of maps, or a function prototype for prog arrays.
//!
//! The section's bytes are zero; only BTF and the symbol table say anything.

use object::elf;
use oxbpf_uapi::MapType;

use super::{ElfError, ElfErrorKind, Reader};
use crate::btf::{Btf, BtfError, Kind, TypeId};
use crate::object::{Function, MapDefSource, MapInitValue, MapSpec, Pinning, SectionKind};

/// `sizeof(struct bpf_map_def)`: type, key_size, value_size, max_entries, map_flags.
const LEGACY_MAP_DEF_SIZE: u64 = 20;

impl Reader<'_> {
    /// Maps from the legacy `maps` section, one per symbol.
    pub(super) fn legacy_maps(&self, warnings: &mut Vec<String>) -> Result<Vec<MapSpec>, ElfError> {
        let Some(index) = self
            .sections
            .iter()
            .position(|s| s.kind == SectionKind::LegacyMaps)
        else {
            return Ok(Vec::new());
        };
        let sec = &self.sections[index];
        let syms: Vec<_> = self
            .symbols
            .iter()
            .filter(|s| {
                s.section == Some(index) && s.kind != elf::STT_SECTION.0 && !s.name.is_empty()
            })
            .collect();
        let mut maps = Vec::new();
        for sym in &syms {
            // Old compilers left st_size 0; libbpf 0.x then split the section evenly.
            let size = if sym.size != 0 {
                sym.size
            } else {
                sec.size / syms.len() as u64
            };
            if size < LEGACY_MAP_DEF_SIZE || size % 4 != 0 {
                return Err(self.err(ElfErrorKind::LegacyMapSize {
                    map: sym.name.clone(),
                    size,
                }));
            }
            let sized = super::Symbol {
                size,
                ..(*sym).clone()
            };
            self.check_in_section(&sized, index)?;
            let def = &sec.bytes[sym.value as usize..(sym.value + size) as usize];
            let word = |i: usize| self.u32_at(&sec.name, def, i * 4);
            if def[LEGACY_MAP_DEF_SIZE as usize..].iter().any(|&b| b != 0) {
                // iproute2's `struct bpf_elf_map` and samples/bpf's longer definition
                // put ids, pinning or NUMA nodes there; their meaning differs by tool.
                warnings.push(format!(
                    "map `{}`: legacy definition has {} extra non-zero bytes after struct bpf_map_def; they are ignored",
                    sym.name,
                    size - LEGACY_MAP_DEF_SIZE
                ));
            }
            maps.push(MapSpec {
                section_index: index,
                section_offset: sym.value,
                map_type: MapType(word(0)?),
                key_size: word(1)?,
                value_size: word(2)?,
                max_entries: word(3)?,
                map_flags: word(4)?,
                ..MapSpec::new(&sym.name, MapDefSource::Legacy)
            });
        }
        crate::sort::sort_by_key(&mut maps, |m| m.section_offset);
        Ok(maps)
    }

    /// Maps from `.maps`, in DATASEC order, and for each the byte offset of its `values`
    /// member (for `.rel.maps`).
    pub(super) fn btf_maps(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<MapSpec>, Vec<Option<u64>>), ElfError> {
        let Some(index) = self
            .sections
            .iter()
            .position(|s| s.kind == SectionKind::Maps)
        else {
            return Ok((Vec::new(), Vec::new()));
        };
        let btf = self.btf.as_ref().ok_or_else(|| {
            self.err(ElfErrorKind::Section {
                section: ".maps".into(),
                what: "BTF-defined maps need a .BTF section, and there is none".into(),
            })
        })?;
        let datasec = btf
            .find_by_name_kind(".maps", Kind::Datasec)
            .ok_or_else(|| {
                self.err(ElfErrorKind::Section {
                    section: ".maps".into(),
                    what: "no DATASEC `.maps` in .BTF".into(),
                })
            })?;
        let vars = datasec
            .datasec_vars()
            .map_err(|e| self.err(ElfErrorKind::Btf(e)))?;
        let mut maps = Vec::new();
        let mut values_offsets = Vec::new();
        for v in vars {
            let v = v.map_err(|e| self.err(ElfErrorKind::Btf(e)))?;
            let var = btf
                .type_by_id(v.type_id)
                .map_err(|e| self.err(ElfErrorKind::Btf(e)))?;
            let name = var
                .name()
                .map_err(|e| self.err(ElfErrorKind::Btf(e)))?
                .to_string();
            if var.kind() != Kind::Var {
                return Err(self.map_err(
                    &name,
                    format!(
                        "DATASEC `.maps` entry is a {}, not a VAR",
                        var.kind().name()
                    ),
                ));
            }
            // clang leaves DATASEC offsets of .maps at zero; the symbol has the truth
            // (libbpf fixes the DATASEC from the symbol table before reading it).
            let sym = self
                .symbols
                .iter()
                .find(|s| s.section == Some(index) && s.name == name)
                .ok_or_else(|| self.map_err(&name, "has BTF but no symbol in `.maps`".into()))?;
            let sized = super::Symbol {
                size: u64::from(v.size).max(sym.size),
                ..sym.clone()
            };
            self.check_in_section(&sized, index)?;
            let def_type = var.ref_type().map_err(|e| self.map_btf_err(&name, e))?;
            let (mut spec, values) = parse_btf_map_def(btf, &name, def_type, warnings)
                .map_err(|e| self.map_def_err(e))?;
            spec.section_index = index;
            spec.section_offset = sym.value;
            if let Some((_, ValuesDecl::InnerMap(inner))) = &values {
                spec.inner = Some(inner.clone());
            }
            values_offsets.push(values.map(|(off, _)| off));
            maps.push(spec);
        }
        Ok((maps, values_offsets))
    }

    /// Initial contents of map-in-maps and prog arrays: each `.rel.maps` entry points
    /// into some map's `values` array and names the map or program for that slot
    /// (libbpf `bpf_object__collect_map_relos`).
    pub(super) fn map_init_relocations(
        &self,
        maps: &mut [MapSpec],
        values_offsets: &[Option<u64>],
        functions: &[(Function, bool)],
    ) -> Result<(), ElfError> {
        let Some(maps_index) = self
            .sections
            .iter()
            .position(|s| s.kind == SectionKind::Maps)
        else {
            return Ok(());
        };
        let Some(rel_sec) = self.sections.iter().find(|s| s.target == Some(maps_index)) else {
            return Ok(());
        };
        // A map without a symbol of its name covers no offset of `.maps`.
        let var_sizes: Vec<Option<u64>> = maps
            .iter()
            .map(|m| {
                self.symbols
                    .iter()
                    .find(|s| s.section == Some(maps_index) && s.name == m.name)
                    .map(|s| s.size)
            })
            .collect();
        for (index, (offset, sym_index)) in self.rel_entries(rel_sec)?.into_iter().enumerate() {
            let bad = |symbol: &str, what: String| {
                self.err(ElfErrorKind::BadReloc {
                    section: ".maps".into(),
                    index,
                    insn: offset / 8,
                    symbol: symbol.into(),
                    what,
                })
            };
            let sym = self
                .symbols
                .get(sym_index as usize)
                .ok_or_else(|| bad("?", format!("symbol #{sym_index} does not exist")))?;
            let (m, slot) =
                slot_of(maps, &var_sizes, values_offsets, offset).map_err(|w| bad(&sym.name, w))?;
            let value =
                slot_value(&maps[m], sym, maps_index, functions).map_err(|w| bad(&sym.name, w))?;
            maps[m].init.push((slot as u32, value));
        }
        for m in maps.iter_mut() {
            crate::sort::sort_by_key(&mut m.init, |(slot, _)| u64::from(*slot));
        }
        Ok(())
    }

    fn map_err(&self, map: &str, what: String) -> ElfError {
        self.err(ElfErrorKind::Map {
            map: map.to_string(),
            what,
        })
    }

    fn map_btf_err(&self, map: &str, source: BtfError) -> ElfError {
        self.err(ElfErrorKind::MapBtf {
            map: map.to_string(),
            source,
        })
    }

    fn map_def_err(&self, e: MapDefError) -> ElfError {
        match e {
            MapDefError::Btf(map, source) => self.map_btf_err(&map, source),
            MapDefError::Def(map, what) => self.map_err(&map, what),
        }
    }
}

/// The map definition a `.maps` variable of struct type `def_type` declares, for the
/// static linker's check that two declarations of one map agree (libbpf's
/// `map_defs_match` re-parses both with `parse_btf_map_def` the same way).
pub(crate) fn btf_map_def(btf: &Btf, name: &str, def_type: TypeId) -> Result<MapSpec, String> {
    let mut warnings = Vec::new();
    let (mut spec, values) =
        parse_btf_map_def(btf, name, def_type, &mut warnings).map_err(|e| match e {
            MapDefError::Btf(_, e) => e.to_string(),
            MapDefError::Def(_, what) => what,
        })?;
    if let Some((_, ValuesDecl::InnerMap(inner))) = values {
        spec.inner = Some(inner);
    }
    Ok(spec)
}

enum MapDefError {
    Btf(String, BtfError),
    Def(String, String),
}

/// What a `values` member declares.
enum ValuesDecl {
    InnerMap(Box<MapSpec>),
    Programs,
}

/// Reads one map definition struct (libbpf `parse_btf_map_def`). Returns the spec and,
/// when there is a `values` member, its byte offset and what it declares.
fn parse_btf_map_def(
    btf: &Btf,
    name: &str,
    def_type: TypeId,
    warnings: &mut Vec<String>,
) -> Result<(MapSpec, Option<(u64, ValuesDecl)>), MapDefError> {
    let berr = |e| MapDefError::Btf(name.to_string(), e);
    let derr = |w: String| MapDefError::Def(name.to_string(), w);
    let def = btf.skip_mods_and_typedefs(def_type).map_err(berr)?;
    if def.kind() != Kind::Struct {
        return Err(derr(format!(
            "definition is a {}, expected a struct of __uint/__type fields",
            def.kind().name()
        )));
    }
    let mut spec = MapSpec::new(name, MapDefSource::Btf);
    let mut values = None;
    let members: Vec<_> = def
        .members()
        .map_err(berr)?
        .collect::<Result<_, _>>()
        .map_err(berr)?;
    let mut key_size = None;
    let mut value_size = None;
    for (i, m) in members.iter().enumerate() {
        let field = |what: &str| format!("field `{}`: {what}", m.name);
        match m.name {
            "type" => {
                spec.map_type =
                    MapType(field_int(btf, m.type_id).map_err(|e| derr(field(&e)))? as u32)
            }
            "max_entries" => {
                spec.max_entries = field_int(btf, m.type_id).map_err(|e| derr(field(&e)))? as u32
            }
            "map_flags" => {
                spec.map_flags = field_int(btf, m.type_id).map_err(|e| derr(field(&e)))? as u32
            }
            "numa_node" => {
                spec.numa_node = field_int(btf, m.type_id).map_err(|e| derr(field(&e)))? as u32
            }
            "map_extra" => {
                spec.map_extra = field_int(btf, m.type_id).map_err(|e| derr(field(&e)))?
            }
            "pinning" => {
                spec.pinning = match field_int(btf, m.type_id).map_err(|e| derr(field(&e)))? {
                    0 => Pinning::None,
                    1 => Pinning::ByName,
                    n => Pinning::Other(n as u32),
                }
            }
            "key_size" => set_size(
                &mut key_size,
                field_int(btf, m.type_id).map_err(|e| derr(field(&e)))?,
                name,
                "key",
            )?,
            "value_size" => set_size(
                &mut value_size,
                field_int(btf, m.type_id).map_err(|e| derr(field(&e)))?,
                name,
                "value",
            )?,
            "key" | "value" => {
                let (ty, size) = field_type(btf, m.type_id).map_err(|e| derr(field(&e)))?;
                if m.name == "key" {
                    set_size(&mut key_size, size, name, "key")?;
                    spec.key_type = Some(ty);
                } else {
                    set_size(&mut value_size, size, name, "value")?;
                    spec.value_type = Some(ty);
                }
            }
            "values" => {
                if i + 1 != members.len() {
                    return Err(derr("`values` must be the last field".into()));
                }
                let decl = values_decl(btf, name, m.type_id, spec.map_type, warnings)?;
                // A map-in-map or prog array stores fds: 4-byte values (libbpf).
                set_size(&mut value_size, 4, name, "value")?;
                values = Some((u64::from(m.bit_offset / 8), decl));
            }
            other => {
                log::debug!("map `{name}`: ignoring unknown field `{other}`");
                warnings.push(format!("map `{name}`: unknown field `{other}` ignored"));
            }
        }
    }
    // No key or value field means size 0, as libbpf leaves `def->key_size` and
    // `value_size` when `parse_btf_map_def` meets neither (ring buffers, arenas).
    spec.key_size = key_size.unwrap_or(0) as u32;
    spec.value_size = value_size.unwrap_or(0) as u32;
    Ok((spec, values))
}

/// The map whose `values` array holds `.maps` offset `offset`, and the slot there.
fn slot_of(
    maps: &[MapSpec],
    var_sizes: &[Option<u64>],
    values_offsets: &[Option<u64>],
    offset: u64,
) -> Result<(usize, u64), String> {
    let m = maps
        .iter()
        .enumerate()
        .position(|(i, m)| {
            var_sizes[i]
                .is_some_and(|size| (m.section_offset..m.section_offset + size).contains(&offset))
        })
        .ok_or_else(|| format!("offset {offset} is inside no map"))?;
    let map = &maps[m];
    let values_off = values_offsets
        .get(m)
        .copied()
        .flatten()
        .ok_or_else(|| format!("map `{}` has no `values` member to initialise", map.name))?;
    let rel = offset - map.section_offset;
    if rel < values_off || (rel - values_off) % 8 != 0 {
        return Err(format!(
            "offset {offset} is not a slot of `{}`'s values",
            map.name
        ));
    }
    let slot = (rel - values_off) / 8;
    if map.max_entries != 0 && slot >= u64::from(map.max_entries) {
        return Err(format!(
            "slot {slot} is past max_entries {} of `{}`",
            map.max_entries, map.name
        ));
    }
    Ok((m, slot))
}

/// What a slot of `map` holds when `sym` fills it: a map (map-in-map) or a program
/// (prog array).
fn slot_value(
    map: &MapSpec,
    sym: &super::Symbol,
    maps_index: usize,
    functions: &[(Function, bool)],
) -> Result<MapInitValue, String> {
    match map.map_type {
        MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS => {
            if sym.section != Some(maps_index) {
                return Err(format!("slots of map-in-map `{}` must name maps", map.name));
            }
            Ok(MapInitValue::Map(sym.name.clone()))
        }
        MapType::PROG_ARRAY => {
            let is_program = functions.iter().any(|(f, p)| *p && f.name == sym.name);
            if sym.kind != elf::STT_FUNC.0 || !is_program {
                return Err(format!(
                    "slots of prog array `{}` must name programs",
                    map.name
                ));
            }
            Ok(MapInitValue::Program(sym.name.clone()))
        }
        t => Err(format!(
            "map `{}` of type {t} cannot have initial values",
            map.name
        )),
    }
}

fn set_size(slot: &mut Option<u64>, size: u64, map: &str, what: &str) -> Result<(), MapDefError> {
    if size > u64::from(u32::MAX) {
        return Err(MapDefError::Def(
            map.into(),
            format!("{what} size {size} is too large"),
        ));
    }
    match *slot {
        Some(old) if old != size => Err(MapDefError::Def(
            map.into(),
            format!("conflicting {what} sizes: {old} from one field, {size} from another"),
        )),
        _ => {
            *slot = Some(size);
            Ok(())
        }
    }
}

/// `__uint(name, N)` (pointer to an array of N) or `__ulong(name, N)` (an enum with the
/// single value N).
fn field_int(btf: &Btf, ty: TypeId) -> Result<u64, String> {
    let t = btf.skip_mods_and_typedefs(ty).map_err(|e| e.to_string())?;
    match t.kind() {
        Kind::Ptr => {
            let arr = btf
                .type_by_id(t.ref_type().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            if arr.kind() != Kind::Array {
                return Err(format!(
                    "expected a pointer to an array (__uint), found a pointer to {}",
                    arr.kind().name()
                ));
            }
            Ok(u64::from(arr.array().map_err(|e| e.to_string())?.nelems))
        }
        Kind::Enum | Kind::Enum64 if t.vlen() == 1 => {
            let e = t
                .enumerators()
                .map_err(|e| e.to_string())?
                .next()
                .ok_or("empty enum")?;
            Ok(e.map_err(|e| e.to_string())?.value)
        }
        k => Err(format!(
            "expected __uint() or __ulong() (a pointer to an array, or an enum), found {}",
            k.name()
        )),
    }
}

/// `__type(name, T)`: returns T and its size.
fn field_type(btf: &Btf, ty: TypeId) -> Result<(TypeId, u64), String> {
    let t = btf.skip_mods_and_typedefs(ty).map_err(|e| e.to_string())?;
    if t.kind() != Kind::Ptr {
        return Err(format!(
            "expected __type() (a pointer), found {}",
            t.kind().name()
        ));
    }
    let pointee = t.ref_type().map_err(|e| e.to_string())?;
    let size = btf.size_of(pointee).map_err(|e| e.to_string())?;
    Ok((pointee, size))
}

/// `__array(values, T)`: an array of pointers to T, where T is an inner map definition
/// (maps of maps) or a function prototype (prog arrays).
fn values_decl(
    btf: &Btf,
    name: &str,
    ty: TypeId,
    map_type: MapType,
    warnings: &mut Vec<String>,
) -> Result<ValuesDecl, MapDefError> {
    let derr = |w: String| MapDefError::Def(name.to_string(), w);
    let berr = |e| MapDefError::Btf(name.to_string(), e);
    let arr = btf.skip_mods_and_typedefs(ty).map_err(berr)?;
    if arr.kind() != Kind::Array {
        return Err(derr(format!(
            "field `values`: expected __array() (an array), found {}",
            arr.kind().name()
        )));
    }
    let elem = btf
        .skip_mods_and_typedefs(arr.array().map_err(berr)?.elem_type)
        .map_err(berr)?;
    if elem.kind() != Kind::Ptr {
        return Err(derr(format!(
            "field `values`: expected an array of pointers, found an array of {}",
            elem.kind().name()
        )));
    }
    let target_id = elem.ref_type().map_err(berr)?;
    let target = btf.skip_mods_and_typedefs(target_id).map_err(berr)?;
    match map_type {
        MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS => {
            if target.kind() != Kind::Struct {
                return Err(derr(format!(
                    "field `values`: inner map must be a struct definition, found {}",
                    target.kind().name()
                )));
            }
            let inner_name = format!("{name}.inner");
            let (mut inner, inner_values) =
                parse_btf_map_def(btf, &inner_name, target_id, warnings)?;
            if inner_values.is_some() {
                return Err(derr(
                    "inner map definitions cannot themselves have `values`".into(),
                ));
            }
            inner.source = MapDefSource::Inner;
            Ok(ValuesDecl::InnerMap(Box::new(inner)))
        }
        MapType::PROG_ARRAY => {
            if target.kind() != Kind::FuncProto {
                return Err(derr(format!(
                    "field `values`: prog array values must be functions, found {}",
                    target.kind().name()
                )));
            }
            Ok(ValuesDecl::Programs)
        }
        t => Err(derr(format!(
            "field `values` is only for maps of maps and prog arrays, not {t}"
        ))),
    }
}
