//! One input object, read and checked before anything of it reaches the output
//! (libbpf's `linker_load_obj_file`, `linker_sanity_check_elf*`,
//! `linker_sanity_check_btf*` and `linker_fixup_btf`).

use super::c;
use object::Endianness;
use object::read::elf::{FileHeader, SectionHeader, Sym as _};
use oxbpf_uapi::Endian;
use oxbpf_uapi::bytes::Bytes;

use super::LinkError;
use crate::btf::ext::BtfExt;
use crate::btf::types::{Type, TypeKind, decode_all};
use crate::btf::{Btf, Linkage};

type Header = object::elf::FileHeader64<Endianness>;

/// `SHT_LLVM_ADDRSIG`: clang's address-significance table, which the linker drops.
const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;
/// Relocation types a BPF object may use (libbpf's check): `R_BPF_64_64`,
/// `R_BPF_64_ABS64`, `R_BPF_64_ABS32`, `R_BPF_64_32`.
const RELOC_TYPES: [u32; 4] = [1, 2, 3, 10];
/// The largest section alignment taken: BPF sections align to 8, and padding to a
/// larger one is memory a crafted file could make the linker allocate.
const MAX_ALIGN: u64 = 4096;
/// `STV_INTERNAL`, `STV_HIDDEN`.
pub(super) const STV_INTERNAL: u8 = 1;
pub(super) const STV_HIDDEN: u8 = 2;
/// `.BTF` names for sections the ELF does not have and that stay so: clang puts
/// unannotated extern variables there, and the linker resolves them itself.
const EXTERN_DATASEC: &str = ".extern";

/// A section of an input (libbpf's `struct src_sec`).
#[derive(Debug)]
pub(super) struct InSection<'d> {
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    pub align: u64,
    pub entsize: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    /// The bytes (empty for `SHT_NOBITS` and ephemeral sections).
    pub data: &'d [u8],
    /// Not carried to the output: string tables, DWARF, `.BTF`, `.BTF.ext`, an empty
    /// `.text`, a `license` identical to one already in.
    pub skipped: bool,
    /// Only in BTF (a DATASEC such as `.kconfig`): no ELF section behind it.
    pub ephemeral: bool,
    /// The output section it went to.
    pub dst: Option<usize>,
    /// Where its bytes start in that output section.
    pub dst_off: u64,
    /// Its DATASEC in the input's BTF (index into `types`).
    pub datasec: Option<usize>,
}

/// A symbol of an input, raw.
#[derive(Debug, Clone)]
pub(super) struct InSymbol {
    pub name: String,
    pub info: u8,
    pub other: u8,
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
}

impl InSymbol {
    pub fn bind(&self) -> u8 {
        self.info >> 4
    }
    pub fn kind(&self) -> u8 {
        self.info & 0xf
    }
    pub fn visibility(&self) -> u8 {
        self.other & 0x3
    }
}

/// One input object.
#[derive(Debug)]
pub(super) struct Input<'d> {
    pub file: String,
    pub endian: Endian,
    /// Indexed by ELF section index; ephemeral sections follow the ELF's.
    pub sections: Vec<InSection<'d>>,
    pub symbols: Vec<InSymbol>,
    /// The parsed `.BTF`, for the strings `.BTF.ext` refers to.
    pub btf: Option<Btf>,
    /// Its types, decoded: type `i + 1` is `types[i]`.
    pub types: Vec<Type>,
    pub ext: Option<BtfExt>,
    /// Input symbol index → output symbol index (0: not carried over).
    pub sym_map: Vec<usize>,
    /// Input type id → output type id (0: not carried over).
    pub type_map: Vec<u32>,
}

impl<'d> Input<'d> {
    pub fn err(&self, what: String) -> LinkError {
        LinkError::Malformed {
            file: self.file.clone(),
            what,
        }
    }

    pub fn section_err(&self, section: &str, what: String) -> LinkError {
        LinkError::Section {
            file: self.file.clone(),
            section: section.to_string(),
            what,
        }
    }

    pub fn symbol_err(&self, symbol: &str, what: String) -> LinkError {
        LinkError::Symbol {
            file: self.file.clone(),
            symbol: symbol.to_string(),
            what,
        }
    }

    /// Reads and checks an object: ELF64, `ET_REL`, `EM_BPF`, one symbol table, only
    /// section types a BPF object has.
    pub fn read(file: &str, data: &'d [u8]) -> Result<Input<'d>, LinkError> {
        let err = |what: String| LinkError::Malformed {
            file: file.to_string(),
            what,
        };
        let header =
            Header::parse(data).map_err(|e| err(format!("not a 64-bit ELF file ({e})")))?;
        let endianness = header
            .endian()
            .map_err(|e| err(format!("ELF byte order: {e}")))?;
        let (machine, e_type) = (header.e_machine(endianness).0, header.e_type(endianness).0);
        if machine != c::EM_BPF || e_type != c::ET_REL {
            return Err(err(format!(
                "not a relocatable BPF object (e_machine {machine}, e_type {e_type}; expected EM_BPF {} and ET_REL {})",
                c::EM_BPF,
                c::ET_REL
            )));
        }
        let table = header
            .sections(endianness, data)
            .map_err(|e| err(format!("section headers: {e}")))?;
        let mut input = Input {
            file: file.to_string(),
            endian: if endianness == Endianness::Big {
                Endian::Big
            } else {
                Endian::Little
            },
            sections: Vec::with_capacity(table.len()),
            symbols: Vec::new(),
            btf: None,
            types: Vec::new(),
            ext: None,
            sym_map: Vec::new(),
            type_map: Vec::new(),
        };
        for (index, sh) in table.enumerate() {
            let name = table
                .section_name(endianness, sh)
                .map_err(|e| err(format!("section #{}: name: {e}", index.0)))?;
            let name = String::from_utf8_lossy(name).into_owned();
            let bytes = sh
                .data(endianness, data)
                .map_err(|_| err(format!("section `{name}`: its data lies outside the file")))?;
            input.sections.push(InSection {
                name,
                sh_type: sh.sh_type(endianness).0,
                flags: sh.sh_flags(endianness).0,
                align: sh.sh_addralign(endianness),
                entsize: sh.sh_entsize(endianness),
                size: sh.sh_size(endianness),
                link: sh.sh_link(endianness),
                info: sh.sh_info(endianness),
                data: bytes,
                skipped: false,
                ephemeral: false,
                dst: None,
                dst_off: 0,
                datasec: None,
            });
        }
        let symtab = input.classify_sections()?;
        input.read_symbols(&table, endianness, data, symtab)?;
        input.check_sections(symtab)?;
        input.read_btf()?;
        log::debug!(
            "link: {file}: {} sections, {} symbols, {} BTF types, .BTF.ext {}",
            input.sections.len(),
            input.symbols.len(),
            input.types.len(),
            if input.ext.is_some() {
                "present"
            } else {
                "absent"
            }
        );
        Ok(input)
    }

    /// Marks what the output does not take, and finds the one symbol table.
    fn classify_sections(&mut self) -> Result<usize, LinkError> {
        let mut symtab = None;
        for index in 1..self.sections.len() {
            let s = &self.sections[index];
            let (name, sh_type) = (s.name.clone(), s.sh_type);
            if name.is_empty() {
                return Err(self.err(format!("section #{index} has an empty name")));
            }
            let rel_of = name.strip_prefix(".rel");
            let ignored = sh_type == c::SHT_STRTAB
                || sh_type == SHT_LLVM_ADDRSIG
                || (sh_type == c::SHT_PROGBITS && s.size == 0 && name == ".text")
                || name.starts_with(".debug_")
                || rel_of
                    .is_some_and(|t| t.starts_with(".debug_") || t == ".BTF" || t == ".BTF.ext")
                || name == ".BTF"
                || name == ".BTF.ext";
            if ignored {
                self.sections[index].skipped = true;
                continue;
            }
            match sh_type {
                c::SHT_SYMTAB if symtab.is_some() => {
                    return Err(self.err("more than one symbol table".into()));
                }
                c::SHT_SYMTAB => symtab = Some(index),
                c::SHT_PROGBITS | c::SHT_NOBITS | c::SHT_REL => {}
                other => {
                    return Err(
                        self.section_err(&name, format!("unsupported section type {other:#x}"))
                    );
                }
            }
        }
        symtab.ok_or_else(|| self.err("no symbol table".into()))
    }

    /// Every symbol, checked as libbpf's `linker_sanity_check_elf_symtab` does.
    fn read_symbols(
        &mut self,
        table: &object::read::elf::SectionTable<'d, Header>,
        endianness: Endianness,
        data: &'d [u8],
        symtab: usize,
    ) -> Result<(), LinkError> {
        let st = &self.sections[symtab];
        if st.entsize != 24 || st.size % 24 != 0 {
            return Err(
                self.section_err(&st.name.clone(), "symbol entries are not 24 bytes".into())
            );
        }
        let syms = table
            .symbol_table_by_index(endianness, data, object::SectionIndex(symtab))
            .map_err(|e| self.err(format!("symbol table: {e}")))?;
        for (i, sym) in syms.symbols().iter().enumerate() {
            let name = syms
                .symbol_name(endianness, sym)
                .map_err(|e| self.err(format!("symbol #{i}: name: {e}")))?;
            self.symbols.push(InSymbol {
                name: String::from_utf8_lossy(name).into_owned(),
                info: sym.st_info().0,
                other: sym.st_other().0,
                shndx: sym.st_shndx(endianness).0,
                value: sym.st_value(endianness),
                size: sym.st_size(endianness),
            });
        }
        for (i, s) in self.symbols.iter().enumerate() {
            self.check_symbol(i, s)?;
        }
        self.sym_map = vec![0; self.symbols.len()];
        Ok(())
    }

    fn check_symbol(&self, i: usize, s: &InSymbol) -> Result<(), LinkError> {
        let bad = |what: &str| self.symbol_err(&s.name, format!("symbol #{i}: {what}"));
        if i == 0 {
            if s.info != 0 || s.other != 0 || s.shndx != 0 || s.value != 0 || s.size != 0 {
                return Err(bad("the null symbol is not all zero"));
            }
            return Ok(());
        }
        let bind = s.bind();
        if ![c::STB_LOCAL, c::STB_GLOBAL, c::STB_WEAK].contains(&bind) {
            return Err(bad(&format!("unsupported binding {bind}")));
        }
        if ![c::STV_DEFAULT, STV_HIDDEN, STV_INTERNAL].contains(&s.visibility()) {
            return Err(bad(&format!("unsupported visibility {}", s.visibility())));
        }
        if s.shndx == c::SHN_UNDEF {
            if s.kind() != c::STT_NOTYPE || bind == c::STB_LOCAL || s.value != 0 || s.size != 0 {
                return Err(bad(
                    "an undefined symbol must be a global or weak NOTYPE of value and size 0",
                ));
            }
            return Ok(());
        }
        if s.shndx == c::SHN_XINDEX {
            return Err(bad("extended section indexes are not supported"));
        }
        if s.shndx < c::SHN_LORESERVE && usize::from(s.shndx) >= self.sections.len() {
            return Err(bad(&format!("section #{} does not exist", s.shndx)));
        }
        if s.kind() == c::STT_SECTION && s.value != 0 {
            return Err(bad("a section symbol with a non-zero value"));
        }
        Ok(())
    }

    /// Alignment, code sizes and relocation tables (libbpf's `linker_sanity_check_elf`
    /// and `linker_sanity_check_elf_relos`).
    fn check_sections(&self, symtab: usize) -> Result<(), LinkError> {
        for s in self.sections.iter().skip(1) {
            if s.name.starts_with(".debug_") {
                continue;
            }
            if s.align != 0 && !s.align.is_power_of_two() {
                return Err(self.section_err(
                    &s.name,
                    format!("alignment {} is not a power of two", s.align),
                ));
            }
            if s.align > MAX_ALIGN {
                return Err(self.section_err(
                    &s.name,
                    format!(
                        "alignment {} is larger than the {MAX_ALIGN} the linker pads to",
                        s.align
                    ),
                ));
            }
            if s.sh_type == c::SHT_PROGBITS && s.flags & c::SHF_EXECINSTR != 0 && s.size % 8 != 0 {
                return Err(self.section_err(
                    &s.name,
                    format!("code of {} bytes is not whole instructions", s.size),
                ));
            }
            if s.sh_type == c::SHT_REL && !s.skipped {
                self.check_relocations(s, symtab)?;
            }
        }
        Ok(())
    }

    fn check_relocations(&self, s: &InSection<'_>, symtab: usize) -> Result<(), LinkError> {
        let bad = |what: String| self.section_err(&s.name, what);
        if s.entsize != 16 || s.size % 16 != 0 || s.data.len() as u64 != s.size {
            return Err(bad("relocation entries are not 16 bytes".into()));
        }
        if s.link as usize != symtab {
            return Err(bad(format!("sh_link #{} is not the symbol table", s.link)));
        }
        let target = self
            .sections
            .get(s.info as usize)
            .filter(|_| s.info != 0)
            .ok_or_else(|| bad(format!("patches section #{}, which does not exist", s.info)))?;
        if s.name.strip_prefix(".rel") != Some(target.name.as_str()) {
            return Err(bad(format!(
                "is not named `.rel` + the name of the section it patches (`{}`)",
                target.name
            )));
        }
        if target.skipped {
            return Ok(());
        }
        if target.sh_type != c::SHT_PROGBITS && target.sh_type != c::SHT_NOBITS {
            return Err(bad(format!(
                "patches `{}`, which holds neither code nor data",
                target.name
            )));
        }
        let exec = target.flags & c::SHF_EXECINSTR != 0;
        for (i, (offset, sym, kind)) in self.relocations(s)?.into_iter().enumerate() {
            if !RELOC_TYPES.contains(&kind) {
                return Err(bad(format!("relocation #{i} has unsupported type {kind}")));
            }
            if sym == 0 || sym as usize >= self.symbols.len() {
                return Err(bad(format!(
                    "relocation #{i} names symbol #{sym}, which does not exist"
                )));
            }
            let width = if exec { 8 } else { 4 };
            if exec && offset % 8 != 0 {
                return Err(bad(format!(
                    "relocation #{i} at offset {offset} is not on an instruction"
                )));
            }
            if offset
                .checked_add(width)
                .is_none_or(|end| end > target.size)
            {
                return Err(bad(format!(
                    "relocation #{i} at offset {offset} is past the end of `{}` ({} bytes)",
                    target.name, target.size
                )));
            }
        }
        Ok(())
    }

    /// `(r_offset, r_sym, r_type)` of every entry of a REL section.
    pub fn relocations(&self, s: &InSection<'_>) -> Result<Vec<(u64, u32, u32)>, LinkError> {
        let b = Bytes::new(s.data, self.endian);
        (0..s.data.len() / 16)
            .map(|i| {
                let (off, info) = (b.u64(i * 16), b.u64(i * 16 + 8));
                match (off, info) {
                    (Ok(off), Ok(info)) => Ok((off, (info >> 32) as u32, info as u32)),
                    _ => Err(self.section_err(&s.name, format!("relocation #{i} is cut short"))),
                }
            })
            .collect()
    }

    /// `.BTF` parsed and decoded (which checks every type id and name, as libbpf's
    /// `linker_sanity_check_btf` does), and `.BTF.ext`, which needs it.
    fn read_btf(&mut self) -> Result<(), LinkError> {
        let find = |name: &str| {
            self.sections
                .iter()
                .find(|s| s.name == name && s.sh_type == c::SHT_PROGBITS)
        };
        let btf_bytes = find(".BTF").map(|s| s.data);
        let ext_bytes = find(".BTF.ext").map(|s| s.data);
        let btf_err = |source| LinkError::Btf {
            file: self.file.clone(),
            source,
        };
        if let Some(bytes) = btf_bytes {
            let btf = Btf::parse(bytes.to_vec()).map_err(btf_err)?;
            self.types = decode_all(&btf).map_err(btf_err)?;
            self.btf = Some(btf);
        }
        if let Some(bytes) = ext_bytes {
            let btf = self
                .btf
                .as_ref()
                .ok_or_else(|| self.err(".BTF.ext without .BTF".into()))?;
            let ext = BtfExt::parse(bytes, btf).map_err(|source| LinkError::BtfExt {
                file: self.file.clone(),
                source,
            })?;
            self.ext = Some(ext);
        }
        self.type_map = vec![0; self.types.len() + 1];
        Ok(())
    }

    /// The section named `name` (ephemeral ones included), by index.
    pub fn section_by_name(&self, name: &str) -> Option<usize> {
        (1..self.sections.len()).find(|&i| self.sections[i].name == name)
    }

    /// Makes DATASECs agree with the ELF (libbpf's `linker_fixup_btf`): each takes its
    /// section's size, each allocated global variable the offset of its symbol; a
    /// DATASEC without an ELF section (`.kconfig`, `.ksyms`) gets an ephemeral section
    /// to gather its externs, except `.extern`, whose externs the linker resolves.
    pub fn fixup_btf(&mut self) -> Result<(), LinkError> {
        for t in 0..self.types.len() {
            let TypeKind::Datasec { .. } = &self.types[t].kind else {
                continue;
            };
            let name = self.types[t].name.clone();
            let sec = match self.section_by_name(&name) {
                Some(i) => i,
                None if name == EXTERN_DATASEC => continue,
                None => {
                    self.sections.push(InSection {
                        name: name.clone(),
                        sh_type: c::SHT_NOBITS,
                        flags: 0,
                        align: 1,
                        entsize: 0,
                        size: 0,
                        link: 0,
                        info: 0,
                        data: &[],
                        skipped: false,
                        ephemeral: true,
                        dst: None,
                        dst_off: 0,
                        datasec: None,
                    });
                    self.sections.len() - 1
                }
            };
            self.sections[sec].datasec = Some(t);
            let ephemeral = self.sections[sec].ephemeral;
            let sec_size = self.sections[sec].size;
            let offsets = self.var_offsets(t, sec)?;
            if let TypeKind::Datasec { size, vars } = &mut self.types[t].kind {
                if !ephemeral {
                    *size = u32::try_from(sec_size).map_err(|_| {
                        LinkError::Output(format!("section `{name}` is larger than 4 GiB"))
                    })?;
                }
                for (v, off) in vars.iter_mut().zip(offsets) {
                    if let Some(off) = off {
                        v.offset = off;
                    }
                }
            }
        }
        Ok(())
    }

    /// For each entry of DATASEC `t` (for section `sec`): the offset of its symbol when
    /// it is an allocated global variable, else `None` (kept as is).
    fn var_offsets(&self, t: usize, sec: usize) -> Result<Vec<Option<u32>>, LinkError> {
        let TypeKind::Datasec { vars, .. } = &self.types[t].kind else {
            return Ok(Vec::new());
        };
        let sec_name = &self.sections[sec].name;
        vars.iter()
            .map(|v| {
                let Some(var) = self.type_at(v.type_id.0) else {
                    return Ok(None);
                };
                let TypeKind::Var { linkage: Linkage::Global, .. } = var.kind else {
                    return Ok(None);
                };
                let sym = self
                    .symbols
                    .iter()
                    .find(|s| usize::from(s.shndx) == sec && s.kind() == c::STT_OBJECT && s.name == var.name)
                    .filter(|_| !self.sections[sec].ephemeral)
                    .ok_or_else(|| self.symbol_err(&var.name, format!("a global variable of `{sec_name}` in BTF, with no symbol in that section")))?;
                u32::try_from(sym.value)
                    .map(Some)
                    .map_err(|_| self.symbol_err(&var.name, "offset past 4 GiB".into()))
            })
            .collect()
    }

    /// Type `id` of the input (`None` for void and ids out of range).
    pub fn type_at(&self, id: u32) -> Option<&Type> {
        (id as usize).checked_sub(1).and_then(|i| self.types.get(i))
    }
}
