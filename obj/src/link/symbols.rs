//! Sections, symbols and relocations of one input into the output (libbpf's
//! `linker_append_sec_data`, `linker_append_elf_syms` and `linker_append_elf_relos`).

use super::c;
use oxbpf_uapi::Endian;

use super::input::{InSection, InSymbol, Input, STV_HIDDEN, STV_INTERNAL};
use super::{GlobalSymbol, LinkError, Linker, OutSection, OutSymbol, Shndx, Underlying};
use crate::btf::Linkage;
use crate::btf::types::TypeKind;

/// `BPF_JMP | BPF_CALL`.
const CALL: u8 = 0x85;
/// libbpf 1.7's section of `goto *` jump tables, whose symbols stay local to the file.
const JUMPTABLES: &str = ".jumptables";

/// How strict a visibility is: a symbol takes the strictest any input gives it.
fn strictness(visibility: u8) -> u8 {
    match visibility {
        STV_HIDDEN => 1,
        STV_INTERNAL => 2,
        _ => 0,
    }
}

impl OutSection {
    /// An empty output section shaped like `src` (libbpf's `init_sec`).
    fn shaped_like(src: &InSection<'_>) -> OutSection {
        OutSection {
            name: src.name.clone(),
            sh_type: src.sh_type,
            flags: src.flags,
            align: src.align,
            entsize: src.entsize,
            ephemeral: src.ephemeral,
            ..OutSection::default()
        }
    }

    /// Appends `src`'s bytes at the next offset both alignments allow and returns that
    /// offset (libbpf's `extend_sec`). An ephemeral section brings nothing; a real one
    /// makes an ephemeral output section real.
    fn extend(&mut self, src: &InSection<'_>) -> Result<u64, LinkError> {
        if src.ephemeral {
            return Ok(0);
        }
        if self.ephemeral {
            let name = std::mem::take(&mut self.name);
            let (vars, has_btf, ext) = (
                std::mem::take(&mut self.vars),
                self.has_btf,
                std::mem::take(&mut self.ext),
            );
            *self = OutSection {
                vars,
                has_btf,
                ext,
                ..OutSection::shaped_like(src)
            };
            self.name = name;
        }
        let align = self.align.max(1).max(src.align);
        let start = self.size.div_ceil(align).checked_mul(align);
        let end = start.and_then(|s| s.checked_add(src.size));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(LinkError::Output(format!(
                "section `{}` grows past 2^64 bytes",
                self.name
            )));
        };
        if src.sh_type != c::SHT_NOBITS {
            let (start_us, end_us) = (usize::try_from(start), usize::try_from(end));
            let (Ok(start_us), Ok(end_us)) = (start_us, end_us) else {
                return Err(LinkError::Output(format!(
                    "section `{}` is too large",
                    self.name
                )));
            };
            self.data.resize(start_us, 0);
            self.data.extend_from_slice(src.data);
            self.data.resize(end_us, 0);
        }
        self.size = end;
        self.align = align;
        Ok(start)
    }
}

impl Linker {
    /// Every code and data section of `input` onto the output section of its name
    /// (libbpf's `linker_append_sec_data`). `license` and `version` are kept once, and
    /// must then be the same in every input.
    pub(super) fn append_sections(&mut self, input: &mut Input<'_>) -> Result<(), LinkError> {
        for i in 1..input.sections.len() {
            let src = &input.sections[i];
            let is_data = !src.skipped
                && (src.ephemeral
                    || src.sh_type == c::SHT_PROGBITS
                    || src.sh_type == c::SHT_NOBITS);
            if !is_data {
                continue;
            }
            let dst = match self.section_by_name(&src.name) {
                None => {
                    self.sections.push(OutSection::shaped_like(src));
                    self.sections.len() - 1
                }
                Some(d) => {
                    self.check_sections_match(input, d, src)?;
                    if src.name == "license" || src.name == "version" {
                        let out = &self.sections[d];
                        if out.size != src.size || out.data != src.data {
                            return Err(input.section_err(&src.name, format!("differs from the `{}` of the inputs before it; it must be the same in all", src.name)));
                        }
                        let src = &mut input.sections[i];
                        src.skipped = true;
                        src.dst = Some(d);
                        continue;
                    }
                    d
                }
            };
            let off = self.sections[dst].extend(&input.sections[i])?;
            let src = &mut input.sections[i];
            src.dst = Some(dst);
            src.dst_off = off;
            log::debug!(
                "link: {}: section `{}` ({} bytes) at offset {off} of the output's",
                input.file,
                src.name,
                src.size
            );
        }
        Ok(())
    }

    /// Sections of one name must be of one kind (libbpf's `secs_match`).
    fn check_sections_match(
        &self,
        input: &Input<'_>,
        dst: usize,
        src: &InSection<'_>,
    ) -> Result<(), LinkError> {
        let out = &self.sections[dst];
        if out.ephemeral || src.ephemeral {
            return Ok(());
        }
        let what = if out.sh_type != src.sh_type {
            "type"
        } else if out.flags != src.flags {
            "flags"
        } else if out.entsize != src.entsize {
            "entry size"
        } else {
            return Ok(());
        };
        Err(input.section_err(
            &src.name,
            format!("its {what} differs from the section of that name in the inputs before it"),
        ))
    }

    /// Every symbol of `input`, resolved against the globals seen so far.
    pub(super) fn append_symbols(&mut self, input: &mut Input<'_>) -> Result<(), LinkError> {
        for i in 1..input.symbols.len() {
            self.append_symbol(input, i)?;
        }
        Ok(())
    }

    /// One symbol (libbpf's `linker_append_elf_sym`): a local one is added as is; a
    /// global, weak or extern one is matched by name with the globals seen so far.
    fn append_symbol(&mut self, input: &mut Input<'_>, i: usize) -> Result<(), LinkError> {
        let sym = input.symbols[i].clone();
        let is_extern = sym.shndx == c::SHN_UNDEF;
        let mut src_sec = None;
        let mut dst_sec = None;
        let mut local = sym.bind() == c::STB_LOCAL;
        if is_extern {
            if input.btf.is_none() {
                return Err(input.symbol_err(
                    &sym.name,
                    "an extern, and the object has no .BTF to say what it is".into(),
                ));
            }
        } else if sym.shndx < c::SHN_LORESERVE {
            let sec = &input.sections[usize::from(sym.shndx)];
            let Some(dst) = sec.dst.filter(|_| !sec.skipped) else {
                return Ok(()); // in a section the output does not take (DWARF, a second `license`)
            };
            if let (c::STT_SECTION, Some(existing)) =
                (sym.kind(), self.sections[dst].section_symbol)
            {
                input.sym_map[i] = existing;
                return Ok(());
            }
            src_sec = Some(usize::from(sym.shndx));
            dst_sec = Some(dst);
            local |= sec.name == JUMPTABLES;
        }
        if local {
            input.sym_map[i] = self.add_symbol(input, &sym, src_sec, dst_sec, None);
            return Ok(());
        }
        let (datasec, btf_id) = find_global_btf(input, &sym)?;
        if let (true, Some(ds)) = (is_extern, datasec) {
            let sec_name = input.types[ds].name.clone();
            if sec_name != ".extern" {
                let src = input.section_by_name(&sec_name).ok_or_else(|| {
                    input.symbol_err(
                        &sym.name,
                        format!("its BTF puts it in section `{sec_name}`, which the object lacks"),
                    )
                })?;
                dst_sec = input.sections[src].dst;
            }
        }
        match self.global(&sym.name) {
            Some(g) => self.resolve(input, i, &sym, g, btf_id, src_sec, dst_sec),
            None => {
                input.sym_map[i] = self.add_symbol(input, &sym, src_sec, dst_sec, Some(btf_id));
                Ok(())
            }
        }
    }

    /// A new output symbol for `sym` (and a global entry for it unless local).
    fn add_symbol(
        &mut self,
        input: &Input<'_>,
        sym: &InSymbol,
        src_sec: Option<usize>,
        dst_sec: Option<usize>,
        global: Option<crate::btf::TypeId>,
    ) -> usize {
        let is_extern = sym.shndx == c::SHN_UNDEF;
        let shndx = match dst_sec {
            Some(d) if !is_extern => Shndx::Section(d),
            _ => Shndx::Raw(sym.shndx),
        };
        let base = src_sec.map_or(0, |s| input.sections[s].dst_off);
        let is_section = sym.kind() == c::STT_SECTION;
        let index = self.symbols.len();
        self.symbols.push(OutSymbol {
            name: sym.name.clone(),
            info: sym.info,
            other: sym.other,
            shndx,
            value: if is_section { 0 } else { base + sym.value },
            size: sym.size,
        });
        if let (true, Some(d)) = (is_section, dst_sec) {
            self.sections[d].section_symbol = Some(index);
        }
        if global.is_some() {
            self.globals.push(GlobalSymbol {
                name: sym.name.clone(),
                symbol: index,
                section: dst_sec,
                btf_id: None,
                underlying: Underlying::Request,
                var_index: None,
                is_extern,
                is_weak: sym.bind() == c::STB_WEAK,
                file: input.file.clone(),
            });
        }
        index
    }

    /// `sym` of `input` meets global `g` of an earlier input: externs take the
    /// definition, weak gives way to strong, two strong definitions are an error, and
    /// the types must agree.
    #[expect(
        clippy::too_many_arguments,
        reason = "libbpf's linker_append_elf_sym state, in one place"
    )]
    fn resolve(
        &mut self,
        input: &mut Input<'_>,
        i: usize,
        sym: &InSymbol,
        g: usize,
        btf_id: crate::btf::TypeId,
        src_sec: Option<usize>,
        dst_sec: Option<usize>,
    ) -> Result<(), LinkError> {
        let is_extern = sym.shndx == c::SHN_UNDEF;
        let is_weak = sym.bind() == c::STB_WEAK;
        input.sym_map[i] = self.globals[g].symbol;
        let glob = &self.globals[g];
        if !is_extern && !glob.is_extern && !glob.is_weak && !is_weak {
            return Err(LinkError::Conflict {
                symbol: sym.name.clone(),
                first: glob.file.clone(),
                second: input.file.clone(),
            });
        }
        self.check_global_types(input, g, btf_id)?;
        let out = &mut self.symbols[self.globals[g].symbol];
        // A strong declaration makes the symbol strong, even an extern one (libbpf).
        if sym.bind() == c::STB_GLOBAL {
            out.info = (c::STB_GLOBAL << 4) | (out.info & 0xf);
            self.globals[g].is_weak = false;
        }
        if strictness(sym.visibility()) > strictness(out.other & 3) {
            out.other = (out.other & !3) | sym.visibility();
        }
        if is_extern || (!self.globals[g].is_extern && is_weak) {
            return Ok(());
        }
        let (Some(src), Some(dst)) = (src_sec, dst_sec) else {
            return Err(input.symbol_err(
                &sym.name,
                "a global definition outside any section the output takes".into(),
            ));
        };
        // This definition wins: the symbol moves to it.
        out.info = (out.info & 0xf0) | sym.kind();
        out.shndx = Shndx::Section(dst);
        out.value = input.sections[src].dst_off + sym.value;
        out.size = sym.size;
        let glob = &mut self.globals[g];
        glob.section = Some(dst);
        glob.is_extern = false;
        glob.is_weak = is_weak;
        glob.file = input.file.clone();
        glob.underlying = Underlying::Request;
        log::debug!(
            "link: `{}` resolved to the definition in {}",
            sym.name,
            input.file
        );
        if let Some(out_id) = glob.btf_id {
            self.complete_extern_btf(input, out_id, btf_id);
        }
        Ok(())
    }

    /// An extern's VAR or FUNC becomes a definition's: global linkage, and the
    /// parameter names extern prototypes lack (libbpf's `complete_extern_btf_info`).
    fn complete_extern_btf(
        &mut self,
        input: &Input<'_>,
        out_id: crate::btf::TypeId,
        src_id: crate::btf::TypeId,
    ) {
        let Some(out) = (out_id.0 as usize).checked_sub(1) else {
            return;
        };
        let proto = match self.types.get_mut(out).map(|t| &mut t.kind) {
            Some(TypeKind::Var { linkage, .. }) => {
                *linkage = Linkage::Global;
                return;
            }
            Some(TypeKind::Func { linkage, proto }) => {
                *linkage = Linkage::Global;
                *proto
            }
            _ => return,
        };
        let src_proto = match input.type_at(src_id.0).map(|t| &t.kind) {
            Some(TypeKind::Func { proto, .. }) => input.type_at(proto.0),
            _ => None,
        };
        let (Some(TypeKind::FuncProto { params: src, .. }), Some(dst)) = (
            src_proto.map(|t| &t.kind),
            (proto.0 as usize)
                .checked_sub(1)
                .and_then(|p| self.types.get_mut(p)),
        ) else {
            return;
        };
        if let TypeKind::FuncProto { params, .. } = &mut dst.kind {
            for (d, s) in params.iter_mut().zip(src) {
                if !s.name.is_empty() {
                    d.name.clone_from(&s.name);
                }
            }
        }
    }

    /// Every relocation section of `input` onto the output's of its name, with offsets
    /// re-based and symbols renumbered (libbpf's `linker_append_elf_relos`). An
    /// instruction relocated against a section symbol also moves by where its section
    /// landed: an `ld_imm64` by the byte offset, a call by the instruction count.
    pub(super) fn append_relocations(&mut self, input: &Input<'_>) -> Result<(), LinkError> {
        for src in input.sections.iter().skip(1) {
            if src.sh_type != c::SHT_REL || src.skipped || src.ephemeral {
                continue;
            }
            let target = &input.sections[src.info as usize];
            if target.skipped {
                continue;
            }
            let Some(target_dst) = target.dst else {
                return Err(input.section_err(
                    &src.name,
                    format!("patches `{}`, which the output does not take", target.name),
                ));
            };
            let dst = match self.section_by_name(&src.name) {
                None => {
                    self.sections.push(OutSection::shaped_like(src));
                    self.sections.len() - 1
                }
                Some(d) => {
                    self.check_sections_match(input, d, src)?;
                    d
                }
            };
            self.sections[dst].rel_target = Some(target_dst);
            let base = self.sections[dst].extend(src)? as usize;
            for (j, (offset, sym, kind)) in input.relocations(src)?.into_iter().enumerate() {
                self.append_relocation(input, src, dst, base + j * 16, (offset, sym, kind))?;
            }
            log::debug!(
                "link: {}: {} relocations of `{}` appended",
                input.file,
                src.size / 16,
                target.name
            );
        }
        Ok(())
    }

    fn append_relocation(
        &mut self,
        input: &Input<'_>,
        src: &InSection<'_>,
        dst: usize,
        at: usize,
        (offset, sym, kind): (u64, u32, u32),
    ) -> Result<(), LinkError> {
        let endian = input.endian;
        let target = &input.sections[src.info as usize];
        let target_dst = target.dst.unwrap_or(0);
        let in_sym = &input.symbols[sym as usize];
        let out_sym = input.sym_map[sym as usize];
        if out_sym == 0 {
            return Err(input.section_err(&src.name, format!("a relocation names symbol `{}`, which is in a section the output does not take", in_sym.name)));
        }
        let new_offset = offset + target.dst_off;
        let entry = &mut self.sections[dst].data[at..at + 16];
        put_u64(endian, &mut entry[..8], new_offset);
        put_u64(
            endian,
            &mut entry[8..],
            (u64::from(out_sym as u32) << 32) | u64::from(kind),
        );
        if in_sym.kind() != c::STT_SECTION {
            return Ok(());
        }
        if target.flags & c::SHF_EXECINSTR == 0 {
            return Err(input.section_err(&src.name, format!("a relocation against section symbol `{}` in non-code section `{}` (not supported, as in libbpf)", in_sym.name, target.name)));
        }
        let moved = input
            .sections
            .get(usize::from(in_sym.shndx))
            .map_or(0, |s| s.dst_off);
        let code = &mut self.sections[target_dst].data;
        let insn = usize::try_from(new_offset)
            .ok()
            .and_then(|o| code.get_mut(o..o + 8))
            .ok_or_else(|| {
                input.section_err(
                    &src.name,
                    format!(
                        "relocation at offset {offset} is past the end of `{}`",
                        target.name
                    ),
                )
            })?;
        let delta = if insn[0] == CALL { moved / 8 } else { moved };
        let imm = get_i32(endian, &insn[4..8]);
        let imm = i64::from(imm) + delta as i64;
        let imm = i32::try_from(imm).map_err(|_| {
            input.section_err(&src.name, format!("relocation at offset {offset}: the instruction's immediate overflows once `{}` moves by {moved} bytes", in_sym.name))
        })?;
        insn[4..8].copy_from_slice(&match endian {
            Endian::Little => imm.to_le_bytes(),
            Endian::Big => imm.to_be_bytes(),
        });
        Ok(())
    }
}

/// The BTF VAR or FUNC describing global `sym`, and the DATASEC listing it if any
/// (libbpf's `find_glob_sym_btf`): a DATASEC entry wins over a free-floating one, two
/// different entries are ambiguous.
fn find_global_btf(
    input: &Input<'_>,
    sym: &InSymbol,
) -> Result<(Option<usize>, crate::btf::TypeId), LinkError> {
    if input.btf.is_none() {
        return Err(input.symbol_err(
            &sym.name,
            "a global symbol, and the object has no .BTF to describe it".into(),
        ));
    }
    let mut free = None;
    for (idx, t) in input.types.iter().enumerate() {
        if is_non_static(&t.kind) {
            if t.name == sym.name {
                free = Some(crate::btf::TypeId(idx as u32 + 1));
            }
            continue;
        }
        let TypeKind::Datasec { vars, .. } = &t.kind else {
            continue;
        };
        for v in vars {
            let Some(vt) = input.type_at(v.type_id.0) else {
                continue;
            };
            if vt.name != sym.name || is_static(&vt.kind) {
                continue;
            }
            if free.is_some_and(|f| f != v.type_id) {
                return Err(input.symbol_err(
                    &sym.name,
                    format!(
                        "BTF is ambiguous: types {} and {} both describe it",
                        free.unwrap_or_default(),
                        v.type_id
                    ),
                ));
            }
            return Ok((Some(idx), v.type_id));
        }
    }
    free.map(|f| (None, f)).ok_or_else(|| {
        input.symbol_err(
            &sym.name,
            "no BTF VAR or FUNC describes this global symbol".into(),
        )
    })
}

/// A global or extern VAR or FUNC (libbpf's `btf_is_non_static`).
pub(super) fn is_non_static(k: &TypeKind) -> bool {
    matches!(k, TypeKind::Var { linkage, .. } | TypeKind::Func { linkage, .. } if *linkage != Linkage::Static)
}

fn is_static(k: &TypeKind) -> bool {
    matches!(
        k,
        TypeKind::Var {
            linkage: Linkage::Static,
            ..
        } | TypeKind::Func {
            linkage: Linkage::Static,
            ..
        }
    )
}

pub(super) fn put_u64(endian: Endian, out: &mut [u8], v: u64) {
    out.copy_from_slice(&match endian {
        Endian::Little => v.to_le_bytes(),
        Endian::Big => v.to_be_bytes(),
    });
}

fn get_i32(endian: Endian, b: &[u8]) -> i32 {
    let a = [b[0], b[1], b[2], b[3]];
    match endian {
        Endian::Little => i32::from_le_bytes(a),
        Endian::Big => i32::from_be_bytes(a),
    }
}
