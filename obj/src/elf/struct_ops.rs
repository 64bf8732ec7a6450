//! `.struct_ops` and `.struct_ops.link` sections, as libbpf reads them
//! (`init_struct_ops_maps`, `bpf_object__collect_st_ops_relos`): each variable is a
//! `BPF_MAP_TYPE_STRUCT_OPS` map named after it, whose value is a struct the kernel
//! knows (`tcp_congestion_ops`, `sched_ext_ops`). The variable's bytes are the data
//! members' initial values; each relocation inside it sets a function-pointer member
//! to a program of a `SEC("struct_ops/...")` section.

use oxbpf_uapi::{MapType, ProgType, map_flags};

use super::{ElfError, ElfErrorKind, Reader, SectionKind};
use crate::btf::{Btf, BtfType, Kind};
use crate::object::{Function, MapDefSource, MapSpec, ProgramSpec, StructOpsMember, StructOpsSpec};

impl Reader<'_> {
    /// The struct_ops maps of every `.struct_ops*` section, in section then variable
    /// order (after every other map, as libbpf adds them), with the programs their
    /// relocations name.
    pub(super) fn struct_ops_maps(
        &self,
        functions: &[(Function, bool)],
    ) -> Result<Vec<MapSpec>, ElfError> {
        let mut maps = Vec::new();
        for (index, sec) in self.sections.iter().enumerate() {
            if sec.kind != SectionKind::StructOps {
                continue;
            }
            let first = maps.len();
            self.struct_ops_vars(index, &mut maps)?;
            self.struct_ops_relocations(index, &mut maps[first..], functions)?;
        }
        Ok(maps)
    }

    fn st_ops_err(&self, section: &str, what: String) -> ElfError {
        self.err(ElfErrorKind::Section {
            section: section.into(),
            what,
        })
    }

    /// One map per VAR of the section's DATASEC.
    fn struct_ops_vars(&self, index: usize, maps: &mut Vec<MapSpec>) -> Result<(), ElfError> {
        let sec = &self.sections[index];
        let name = sec.name.as_str();
        let btf = self.btf.as_ref().ok_or_else(|| {
            self.st_ops_err(
                name,
                "struct_ops maps need a .BTF section, and there is none".into(),
            )
        })?;
        let btf_err = |e| self.err(ElfErrorKind::Btf(e));
        let datasec = btf
            .find_by_name_kind(name, Kind::Datasec)
            .ok_or_else(|| self.st_ops_err(name, format!("no DATASEC `{name}` in .BTF")))?;
        for v in datasec.datasec_vars().map_err(btf_err)? {
            let v = v.map_err(btf_err)?;
            let var = btf.type_by_id(v.type_id).map_err(btf_err)?;
            let var_name = var.name().map_err(btf_err)?.to_string();
            let ty = struct_of(btf, var)
                .map_err(|what| self.st_ops_err(name, format!("variable `{var_name}`: {what}")))?;
            let type_name = ty.name().map_err(btf_err)?.to_string();
            // The symbol has the variable's offset (the DATASEC's may still be 0 before
            // libbpf's fix-up, which reads it from the symbol too).
            let sym = self
                .symbols
                .iter()
                .find(|s| s.section == Some(index) && s.name == var_name)
                .ok_or_else(|| {
                    self.st_ops_err(name, format!("variable `{var_name}` has no symbol"))
                })?;
            let size = ty.size();
            let data = usize::try_from(sym.value)
                .ok()
                .and_then(|at| sec.bytes.get(at..at.checked_add(size as usize)?))
                .ok_or_else(|| {
                    self.st_ops_err(
                        name,
                        format!(
                            "variable `{var_name}` ({size} bytes at {}) lies beyond the section's end",
                            sym.value
                        ),
                    )
                })?;
            log::debug!(
                "{name}: struct_ops map `{var_name}` fills struct {type_name} ({size} bytes)"
            );
            let link = name.trim_start_matches('?') == ".struct_ops.link";
            maps.push(MapSpec {
                section_index: index,
                section_offset: sym.value,
                map_type: MapType::STRUCT_OPS,
                key_size: 4,
                value_size: size,
                max_entries: 1,
                map_flags: if link { map_flags::LINK } else { 0 },
                value_type: Some(ty.id()),
                // `SEC("?.struct_ops")`: not created unless asked for, as `?` programs.
                autocreate: !name.starts_with('?'),
                struct_ops: Some(Box::new(StructOpsSpec {
                    type_name,
                    type_id: ty.id(),
                    data: data.to_vec(),
                    programs: Vec::new(),
                    link,
                })),
                ..MapSpec::new(&var_name, MapDefSource::StructOps)
            });
        }
        Ok(())
    }

    /// Each relocation of the section sets a function-pointer member of the map it
    /// falls in to the program its symbol names.
    fn struct_ops_relocations(
        &self,
        index: usize,
        maps: &mut [MapSpec],
        functions: &[(Function, bool)],
    ) -> Result<(), ElfError> {
        let Some(rel_sec) = self.sections.iter().find(|s| s.target == Some(index)) else {
            return Ok(());
        };
        let section = self.sections[index].name.as_str();
        let btf = self.btf.as_ref().ok_or_else(|| {
            self.st_ops_err(section, "struct_ops maps need a .BTF section".into())
        })?;
        for (n, (offset, sym_index)) in self.rel_entries(rel_sec)?.into_iter().enumerate() {
            let bad = |what: String| {
                self.st_ops_err(
                    section,
                    format!("relocation #{n} at offset {offset}: {what}"),
                )
            };
            let sym = self
                .symbols
                .get(sym_index as usize)
                .ok_or_else(|| bad(format!("symbol #{sym_index} does not exist")))?;
            let map = maps
                .iter_mut()
                .find(|m| {
                    m.section_offset <= offset
                        && offset - m.section_offset < u64::from(m.value_size)
                })
                .ok_or_else(|| bad("falls in no struct_ops variable".into()))?;
            let moff = u32::try_from(offset - map.section_offset)
                .map_err(|_| bad("offset too large".into()))?;
            let program = program_at(sym, functions).map_err(&bad)?;
            let st = map
                .struct_ops
                .as_mut()
                .ok_or_else(|| bad("its map is not a struct_ops map".into()))?;
            let ty = btf
                .type_by_id(st.type_id)
                .map_err(|e| self.err(ElfErrorKind::Btf(e)))?;
            let (member_index, member) = member_at(btf, ty, moff)
                .map_err(|w| bad(format!("struct {}, map `{}`: {w}", st.type_name, map.name)))?;
            log::debug!("{section}: `{}`.{member} = program `{program}`", map.name);
            st.programs.push(StructOpsMember {
                member,
                index: member_index,
                offset: moff,
                program,
            });
        }
        for m in maps.iter_mut() {
            if let Some(st) = &mut m.struct_ops {
                crate::sort::sort_by_key(&mut st.programs, |p| p.index as u64);
            }
        }
        Ok(())
    }
}

/// The struct a struct_ops variable has as its type, past modifiers and typedefs.
fn struct_of<'b>(btf: &'b Btf, var: BtfType<'b>) -> Result<BtfType<'b>, String> {
    if var.kind() != Kind::Var {
        return Err(format!("is a {}, not a VAR", var.kind().name()));
    }
    let ty = var
        .ref_type()
        .and_then(|t| btf.skip_mods_and_typedefs(t))
        .map_err(|e| e.to_string())?;
    match ty.name() {
        Ok("") => Err("its type is an anonymous struct, which no kernel struct can match".into()),
        Ok(_) if ty.kind() == Kind::Struct => Ok(ty),
        Ok(n) => Err(format!(
            "its type `{n}` is a {}, not a struct",
            ty.kind().name()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The member at byte `moff` of struct `ty`, which must be a function pointer: its
/// index and name.
fn member_at(btf: &Btf, ty: BtfType<'_>, moff: u32) -> Result<(usize, String), String> {
    let members = ty.members().map_err(|e| e.to_string())?;
    for (i, m) in members.enumerate() {
        let m = m.map_err(|e| e.to_string())?;
        if m.bitfield_size != 0 || m.bit_offset != moff * 8 {
            continue;
        }
        if !btf.is_func_ptr(m.type_id).map_err(|e| e.to_string())? {
            return Err(format!(
                "member `{}` is not a function pointer, so it cannot name a program",
                m.name
            ));
        }
        return Ok((i, m.name.to_string()));
    }
    Err(format!("no member starts at byte {moff}"))
}

/// The program a relocation's symbol names: an entry point at that instruction of
/// that section, of type struct_ops.
fn program_at(sym: &super::Symbol, functions: &[(Function, bool)]) -> Result<String, String> {
    let section = sym
        .section
        .ok_or_else(|| format!("`{}` is not a function of this object", sym.name))?;
    if sym.value % 8 != 0 {
        return Err(format!(
            "`{}` points at byte {}, not an instruction",
            sym.name, sym.value
        ));
    }
    let insn = (sym.value / 8) as usize;
    let (f, _) = functions
        .iter()
        .find(|(f, is_program)| *is_program && f.section_index == section && f.insn_offset == insn)
        .ok_or_else(|| {
            format!(
                "`{}` is no program (struct_ops members name SEC(\"struct_ops/...\") programs)",
                sym.name
            )
        })?;
    Ok(f.name.clone())
}

/// libbpf's check that a program a struct_ops member names is a struct_ops program
/// (`prog %s is not struct_ops BPF program`), once the programs have their types.
pub(super) fn check_program_types(
    maps: &[MapSpec],
    programs: &[ProgramSpec],
) -> Result<(), String> {
    for m in maps {
        let Some(st) = &m.struct_ops else { continue };
        for p in &st.programs {
            let prog = programs.iter().find(|q| q.name() == p.program);
            if prog.and_then(|q| q.prog_type) != Some(ProgType::STRUCT_OPS) {
                return Err(format!(
                    "struct_ops map `{}`: member `{}` names program `{}`, which is not a struct_ops program",
                    m.name, p.member, p.program
                ));
            }
        }
    }
    Ok(())
}
