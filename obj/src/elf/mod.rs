//! From ELF bytes to an [`Object`]: sections, symbols and relocation tables, read with
//! the `object` crate's low-level ELF API and checked before use.
//!
//! The steps mirror libbpf's `bpf_object__elf_collect` and friends:
//! 1. the header: ELF64, `EM_BPF`, `ET_REL`, either byte order;
//! 2. every section, classified by name and type ([`SectionKind`]);
//! 3. `license`, `version`, `.BTF` (parsed), `.BTF.ext` (kept as bytes);
//! 4. functions: each `STT_FUNC` symbol in a code section; those in program sections
//!    with global binding are programs, the rest subprograms;
//! 5. global data sections and their variables;
//! 6. maps: BTF-defined in `.maps`, legacy in `maps`;
//! 7. externs: undefined global symbols, typed by the object's BTF;
//! 8. relocations of code sections, each classified ([`RelocKind`]), and `.rel.maps`,
//!    the initial contents of map-in-maps and prog arrays.

mod error;
mod maps;
mod struct_ops;

use std::collections::HashMap;

use object::elf;
use object::read::elf::{FileHeader, Rel as _, SectionHeader, SectionTable, Sym as _, SymbolTable};
use object::{Endianness, ReadRef as _};
use oxbpf_uapi::bytes::Bytes;
use oxbpf_uapi::{Endian, Insn, MapType, pseudo};

pub use error::{ElfError, ElfErrorKind};
pub(crate) use maps::btf_map_def;

use crate::btf::ext::{BtfExt, BtfExtError};
use crate::btf::{Btf, BtfError, BtfType, Kind, Linkage, TypeId};
use crate::object::*;
use crate::section::match_section;

type Header = elf::FileHeader64<Endianness>;

/// A symbol, decoded once.
#[derive(Debug, Clone)]
pub(crate) struct Symbol {
    pub name: String,
    /// Section header index; `None` for undefined and absolute symbols.
    pub section: Option<usize>,
    pub value: u64,
    pub size: u64,
    pub kind: u8,
    pub bind: u8,
    pub hidden: bool,
}

impl Symbol {
    fn is_global(&self) -> bool {
        self.bind == elf::STB_GLOBAL.0 || self.bind == elf::STB_WEAK.0
    }
}

/// One section's header fields and bytes.
struct Section<'d> {
    name: String,
    kind: SectionKind,
    sh_type: u32,
    size: u64,
    /// File contents; empty for `SHT_NOBITS`.
    bytes: &'d [u8],
    /// For relocation sections, the section they patch.
    target: Option<usize>,
}

/// Parsing state: the file's sections and symbols, and the error context.
pub(crate) struct Reader<'d> {
    file: String,
    endian: Endianness,
    sections: Vec<Section<'d>>,
    pub(crate) symbols: Vec<Symbol>,
    pub(crate) btf: Option<Btf>,
}

impl Reader<'_> {
    fn err(&self, kind: ElfErrorKind) -> ElfError {
        ElfError {
            file: self.file.clone(),
            kind,
        }
    }

    fn section_name(&self, index: usize) -> &str {
        self.sections.get(index).map_or("?", |s| s.name.as_str())
    }

    /// The `u32` at `off` of `b`, which lies in section `section`.
    fn u32_at(&self, section: &str, b: &[u8], off: usize) -> Result<u32, ElfError> {
        Bytes::new(b, self.our_endian()).u32(off).map_err(|short| {
            self.err(ElfErrorKind::Short {
                section: section.to_string(),
                short,
            })
        })
    }

    fn our_endian(&self) -> Endian {
        if self.endian == Endianness::Big {
            Endian::Big
        } else {
            Endian::Little
        }
    }
}

impl Object {
    /// Parses the bytes of a file named `name`: a BPF object, or a program that embeds
    /// exactly one (a libbpf skeleton, as every libbpf-tools binary does), whose object
    /// is then used.
    ///
    /// # Errors
    /// As [`Object::parse`]; a program embedding no object, or several, is
    /// [`ElfErrorKind::WrongMachine`] saying how many it has.
    pub fn parse_file_bytes(name: &str, data: &[u8]) -> Result<Object, ElfError> {
        match Object::parse(name, data) {
            Err(ElfError {
                kind: ElfErrorKind::WrongMachine { machine, .. },
                ..
            }) => {
                let found = crate::embedded::find_objects(data);
                match found.as_slice() {
                    [(offset, bytes)] => {
                        log::info!(
                            "{name}: not a BPF object, but it embeds one (a libbpf skeleton) at offset {offset:#x}, {} bytes: using it",
                            bytes.len()
                        );
                        Object::parse(name, bytes)
                    }
                    _ => Err(ElfError {
                        file: name.to_string(),
                        kind: ElfErrorKind::WrongMachine {
                            machine,
                            embedded: found.len(),
                        },
                    }),
                }
            }
            other => other,
        }
    }

    /// Parses an object from memory. `name` is used in messages.
    ///
    /// # Errors
    /// [`ElfError`] when the bytes are not a well-formed BPF object: not ELF, not
    /// `EM_BPF`, truncated tables, symbols or relocations outside their sections, map
    /// definitions of the wrong shape, malformed BTF where maps need it.
    pub fn parse(name: &str, data: &[u8]) -> Result<Object, ElfError> {
        let err = |kind| ElfError {
            file: name.to_string(),
            kind,
        };
        let size = data.len() as u64;
        let header = Header::parse(data).map_err(|e| {
            let magic_ok = data.get(..4) == Some(&elf::ELFMAG[..]);
            let header_size = std::mem::size_of::<Header>() as u64;
            err(if magic_ok && size < header_size {
                ElfErrorKind::Truncated {
                    size,
                    what: "ELF header".into(),
                    from: 0,
                    to: header_size,
                }
            } else if magic_ok {
                ElfErrorKind::Malformed(e.to_string())
            } else {
                ElfErrorKind::NotElf(if data.len() < 4 {
                    "too short"
                } else {
                    "bad magic"
                })
            })
        })?;
        let endian = header
            .endian()
            .map_err(|e| err(ElfErrorKind::Malformed(e.to_string())))?;
        let machine = header.e_machine(endian).0;
        // libbpf also accepts EM_NONE, which very old LLVM wrote.
        if machine != elf::EM_BPF.0 && machine != elf::EM_NONE.0 {
            return Err(err(ElfErrorKind::WrongMachine {
                machine,
                embedded: 0,
            }));
        }
        let e_type = header.e_type(endian).0;
        if e_type != elf::ET_REL.0 {
            return Err(err(ElfErrorKind::NotRelocatable(e_type)));
        }
        // The reader's error for a table past the end names no sizes: say them.
        let shoff = header.e_shoff(endian);
        let table_size = u64::from(header.e_shnum(endian)) * u64::from(header.e_shentsize(endian));
        if shoff.saturating_add(table_size) > size {
            return Err(err(ElfErrorKind::Truncated {
                size,
                what: "section header table".into(),
                from: shoff,
                to: shoff.saturating_add(table_size),
            }));
        }
        let table = header
            .sections(endian, data)
            .map_err(|e| err(ElfErrorKind::Malformed(e.to_string())))?;
        let symtab = table
            .symbols(endian, data, elf::SHT_SYMTAB)
            .map_err(|e| err(ElfErrorKind::Malformed(e.to_string())))?;
        if symtab.is_empty() {
            return Err(err(ElfErrorKind::NoSymtab));
        }

        let sections = read_sections(&table, endian, data).map_err(err)?;
        let symbols = read_symbols(&symtab, endian, &sections).map_err(err)?;

        Reader {
            file: name.to_string(),
            endian,
            sections,
            symbols,
            btf: None,
        }
        .build()
    }
}

/// Every section: name, kind, contents (empty for `SHT_NOBITS`), the section a
/// relocation section patches.
fn read_sections<'d>(
    table: &SectionTable<'d, Header>,
    endian: Endianness,
    data: &'d [u8],
) -> Result<Vec<Section<'d>>, ElfErrorKind> {
    let mut sections = Vec::with_capacity(table.len());
    for (index, sh) in table.enumerate() {
        let raw_name = table
            .section_name(endian, sh)
            .map_err(|e| ElfErrorKind::Malformed(e.to_string()))?;
        let sec_name = String::from_utf8_lossy(raw_name).into_owned();
        let sh_type = sh.sh_type(endian).0;
        let bytes = sh.data(endian, data).map_err(|_| {
            let (from, len) = (sh.sh_offset(endian), sh.sh_size(endian));
            let to = from.saturating_add(len);
            let size = data.len() as u64;
            // Past the end, but plausibly where a whole file would have it: cut short.
            if from <= size && to > size {
                ElfErrorKind::Truncated {
                    size,
                    what: format!("section `{sec_name}`"),
                    from,
                    to,
                }
            } else {
                ElfErrorKind::Section {
                    section: sec_name.clone(),
                    what: format!(
                        "data at bytes {from}..{to} lies outside the file ({size} bytes)"
                    ),
                }
            }
        })?;
        let flags = sh.sh_flags(endian).0;
        let target = (sh_type == elf::SHT_REL.0 || sh_type == elf::SHT_RELA.0)
            .then(|| sh.sh_info(endian) as usize);
        let kind = classify_section(index.0, &sec_name, sh_type, flags);
        sections.push(Section {
            name: sec_name,
            kind,
            sh_type,
            size: sh.sh_size(endian),
            bytes,
            target,
        });
    }

    Ok(sections)
}

/// Every symbol of `.symtab`; section symbols take their section's name.
fn read_symbols(
    symtab: &SymbolTable<'_, Header>,
    endian: Endianness,
    sections: &[Section<'_>],
) -> Result<Vec<Symbol>, ElfErrorKind> {
    let mut symbols = Vec::with_capacity(symtab.len());
    for (index, sym) in symtab.enumerate() {
        let raw = symtab
            .symbol_name(endian, sym)
            .map_err(|e| ElfErrorKind::Malformed(e.to_string()))?;
        let section = symtab
            .symbol_section(endian, sym, index)
            .map_err(|e| ElfErrorKind::Malformed(e.to_string()))?;
        let kind = sym.st_type().0;
        let section = section.map(|s| s.0);
        let mut sym_name = String::from_utf8_lossy(raw).into_owned();
        if kind == elf::STT_SECTION.0 && sym_name.is_empty() {
            // Section symbols are unnamed; relocations against them read better
            // with the section's name.
            if let Some(s) = section.and_then(|i| sections.get(i)) {
                sym_name = s.name.clone();
            }
        }
        symbols.push(Symbol {
                name: sym_name,
                section,
                value: sym.st_value(endian),
                size: sym.st_size(endian),
                kind,
                bind: sym.st_bind().0,
                hidden: matches!(sym.st_visibility().0, v if v == elf::STV_HIDDEN.0 || v == elf::STV_INTERNAL.0),
            });
    }

    Ok(symbols)
}

/// The bytes of the `.BTF` section of an ELF file, if it has one (for tools that take
/// "raw BTF or an object": `oxbpf btf dump FILE`).
pub fn btf_section(data: &[u8]) -> Option<&[u8]> {
    let header = Header::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let table = header.sections(endian, data).ok()?;
    let (_, sh) = table
        .enumerate()
        .find(|(_, sh)| table.section_name(endian, sh).is_ok_and(|n| n == b".BTF"))?;
    sh.data(endian, data).ok()
}

/// Splits functions into programs (typed by their section's `SEC()` pattern) and the
/// subprograms they may call.
fn programs_and_subprograms(functions: Vec<(Function, bool)>) -> (Vec<ProgramSpec>, Vec<Function>) {
    let mut programs = Vec::new();
    let mut subprograms = Vec::new();
    for (function, is_program) in functions {
        if !is_program {
            subprograms.push(function);
            continue;
        }
        let m = match_section(&function.section);
        let def = m.def;
        if def.is_none() {
            log::debug!(
                "program `{}`: section `{}` matches no SEC() pattern; type left unspecified",
                function.name,
                function.section
            );
        }
        programs.push(ProgramSpec {
            prog_type: def.map(|d| d.prog_type),
            expected_attach_type: def.and_then(|d| d.attach_type),
            attach_target: m.target.map(str::to_string),
            section_def: def,
            autoload: m.autoload,
            legacy_section: m.legacy,
            function,
        });
    }
    for p in &programs {
        log::debug!(
            "program `{}`: section `{}`, type {}, {} insns, {} relocations",
            p.name(),
            p.section(),
            p.prog_type
                .map_or("unspecified".to_string(), |t| t.to_string()),
            p.function.insns.len(),
            p.function.relocs.len()
        );
    }

    (programs, subprograms)
}

/// Decides what a section is for from its name, type and flags.
fn classify_section(index: usize, name: &str, sh_type: u32, flags: u64) -> SectionKind {
    let is = |p: &str| {
        name == p
            || name
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    if index == 0 {
        SectionKind::Other
    } else if sh_type == elf::SHT_REL.0 || sh_type == elf::SHT_RELA.0 {
        SectionKind::Relocations
    } else if sh_type == elf::SHT_SYMTAB.0 {
        SectionKind::Symbols
    } else if sh_type == elf::SHT_STRTAB.0 {
        SectionKind::Strings
    } else if sh_type == elf::SHT_PROGBITS.0 && flags & elf::SHF_EXECINSTR.0 != 0 {
        if name == ".text" {
            SectionKind::Text
        } else {
            SectionKind::Program
        }
    } else if name == ".maps" {
        SectionKind::Maps
    } else if name == "maps" {
        SectionKind::LegacyMaps
    } else if matches!(
        name,
        ".struct_ops" | ".struct_ops.link" | "?.struct_ops" | "?.struct_ops.link"
    ) {
        // libbpf's four names (`?`: not created unless asked for).
        SectionKind::StructOps
    } else if name == ".addr_space.1" {
        // libbpf's ARENA_SEC: clang puts `__attribute__((address_space(1)))` globals here.
        SectionKind::Arena
    } else if name == "license" {
        SectionKind::License
    } else if name == "version" {
        SectionKind::Version
    } else if name == ".BTF" {
        SectionKind::Btf
    } else if name == ".BTF.ext" {
        SectionKind::BtfExt
    } else if name.starts_with(".debug_") {
        SectionKind::Debug
    } else if is(".rodata") {
        SectionKind::Rodata
    } else if is(".data") {
        SectionKind::Data
    } else if is(".bss") {
        SectionKind::Bss
    } else {
        SectionKind::Other
    }
}

impl<'d> Reader<'d> {
    fn build(mut self) -> Result<Object, ElfError> {
        let mut warnings = Vec::new();

        let license = self.license()?;
        let kern_version = self.kern_version()?;

        let btf_ext = self.read_btf(&mut warnings)?;
        let btf_ext = self.parse_btf_ext(btf_ext, &mut warnings);

        let code = self.decode_code_sections()?;
        let mut functions = self.functions(&code)?;
        self.warn_code_without_functions(&functions, &mut warnings);
        let mut data = self.data_sections()?;
        let arena = data
            .iter()
            .position(|d| d.kind == DataKind::Arena)
            .map(|i| data.remove(i));
        let mut maps = self.legacy_maps(&mut warnings)?;
        let (btf_maps, values_offsets) = self.btf_maps(&mut warnings)?;
        let first_btf_map = maps.len();
        maps.extend(btf_maps);
        let arena_map = self.arena_map(&maps, arena.as_ref())?;
        let externs = self.externs()?;
        let symbols = self.data_symbols();

        self.code_relocations(
            &code,
            &mut functions,
            &Targets {
                maps: &maps,
                data: &data,
                arena: arena.as_ref().zip(arena_map),
                externs: &externs,
            },
        )?;
        self.map_init_relocations(&mut maps[first_btf_map..], &values_offsets, &functions)?;
        maps.extend(self.struct_ops_maps(&functions)?);

        let (programs, subprograms) = programs_and_subprograms(functions);
        struct_ops::check_program_types(&maps, &programs).map_err(|what| {
            self.err(ElfErrorKind::Section {
                section: ".struct_ops".into(),
                what,
            })
        })?;

        let sections = self
            .sections
            .iter()
            .enumerate()
            .map(|(index, s)| SectionInfo {
                index,
                name: s.name.clone(),
                kind: s.kind,
                size: s.size,
                target: s.target,
            })
            .collect();

        Ok(Object {
            name: self.file.clone(),
            endian: self.our_endian(),
            license,
            kern_version,
            sections,
            programs,
            subprograms,
            maps,
            data,
            arena,
            externs,
            symbols,
            btf: self.btf.take(),
            btf_ext,
            warnings,
        })
    }

    /// Parses `.BTF` (an invalid one is an error only when `.maps` needs it) and returns
    /// the bytes of `.BTF.ext`, which the object keeps as they are.
    fn read_btf(&mut self, warnings: &mut Vec<String>) -> Result<Option<Vec<u8>>, ElfError> {
        let has_maps = self.sections.iter().any(|s| s.kind == SectionKind::Maps);
        let mut btf_ext = None;
        for s in &self.sections {
            match s.kind {
                SectionKind::Btf if self.btf.is_none() => match Btf::parse(s.bytes.to_vec()) {
                    Ok(b) => self.btf = Some(b),
                    Err(e) if has_maps => return Err(self.err(ElfErrorKind::Btf(e))),
                    Err(e) => {
                        log::warn!("{}: ignoring invalid .BTF: {e}", self.file);
                        warnings.push(format!("invalid .BTF ignored: {e}"));
                    }
                },
                SectionKind::BtfExt => btf_ext = Some(s.bytes.to_vec()),
                _ => {}
            }
        }

        Ok(btf_ext)
    }

    /// `.BTF.ext`, parsed once with the object's BTF. Without a valid `.BTF` it cannot
    /// be read: an error when it holds CO-RE relocations (the load must not go on as
    /// compiled), else dropped with a warning (only source lines are lost), as libbpf
    /// drops it.
    fn parse_btf_ext(
        &self,
        raw: Option<Vec<u8>>,
        warnings: &mut Vec<String>,
    ) -> Option<Result<BtfExt, BtfExtError>> {
        let raw = raw?;
        let Some(btf) = &self.btf else {
            if BtfExt::has_core_relos(&raw) {
                return Some(Err(BtfExtError::NoBtf));
            }
            warnings.push(".BTF.ext ignored: no valid .BTF to read it with".into());
            return None;
        };
        let parsed = BtfExt::parse(&raw, btf);
        if let Err(e) = &parsed {
            log::warn!("{}: invalid .BTF.ext: {e}", self.file);
            warnings.push(format!("invalid .BTF.ext: {e}"));
        }
        Some(parsed)
    }

    /// A program section with code but no function symbols is ignored, with a warning.
    fn warn_code_without_functions(
        &self,
        functions: &[(Function, bool)],
        warnings: &mut Vec<String>,
    ) {
        for (index, s) in self.sections.iter().enumerate() {
            if s.kind == SectionKind::Program
                && !functions.iter().any(|(f, _)| f.section_index == index)
                && s.size > 0
            {
                warnings.push(format!(
                    "section `{}` has code but no function symbols; it is ignored",
                    s.name
                ));
            }
        }
    }

    fn license(&self) -> Result<String, ElfError> {
        let Some(s) = self
            .sections
            .iter()
            .find(|s| s.kind == SectionKind::License)
        else {
            return Ok(String::new());
        };
        let end = s
            .bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(s.bytes.len());
        Ok(String::from_utf8_lossy(&s.bytes[..end]).into_owned())
    }

    fn kern_version(&self) -> Result<Option<u32>, ElfError> {
        let Some(s) = self
            .sections
            .iter()
            .find(|s| s.kind == SectionKind::Version)
        else {
            return Ok(None);
        };
        if s.bytes.len() != 4 {
            return Err(self.err(ElfErrorKind::Section {
                section: s.name.clone(),
                what: format!(
                    "is {} bytes; the kernel version is a 4-byte integer",
                    s.bytes.len()
                ),
            }));
        }
        self.u32_at(&s.name, s.bytes, 0).map(Some)
    }

    /// Decodes every code section into instructions, keyed by section index.
    fn decode_code_sections(&self) -> Result<HashMap<usize, Vec<Insn>>, ElfError> {
        let endian = self.our_endian();
        let mut code = HashMap::new();
        for (index, s) in self.sections.iter().enumerate() {
            if !matches!(s.kind, SectionKind::Program | SectionKind::Text) {
                continue;
            }
            if s.bytes.len() % Insn::SIZE != 0 {
                return Err(self.err(ElfErrorKind::Section {
                    section: s.name.clone(),
                    what: format!(
                        "size {} is not a multiple of the 8-byte instruction size",
                        s.bytes.len()
                    ),
                }));
            }
            let insns = s
                .bytes
                .chunks_exact(Insn::SIZE)
                .map(|c| Insn::decode([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]], endian))
                .collect();
            code.insert(index, insns);
        }
        Ok(code)
    }

    /// Checks that a symbol's `[value, value + size)` lies inside its section.
    fn check_in_section(&self, sym: &Symbol, section: usize) -> Result<(), ElfError> {
        let sec = &self.sections[section];
        let end = sym.value.checked_add(sym.size);
        if end.is_none_or(|e| e > sec.size) {
            return Err(self.err(ElfErrorKind::SymbolOutOfSection {
                section: sec.name.clone(),
                symbol: sym.name.clone(),
                offset: sym.value,
                size: sym.size,
                section_size: sec.size,
            }));
        }
        Ok(())
    }

    /// Every function symbol in a code section, with whether it is a program.
    fn functions(
        &self,
        code: &HashMap<usize, Vec<Insn>>,
    ) -> Result<Vec<(Function, bool)>, ElfError> {
        let mut out = Vec::new();
        for sym in &self.symbols {
            let Some(section) = sym.section else { continue };
            let Some(insns) = code.get(&section) else {
                continue;
            };
            if sym.kind != elf::STT_FUNC.0 {
                continue;
            }
            let sec = &self.sections[section];
            self.check_in_section(sym, section)?;
            if sym.value % 8 != 0 || sym.size % 8 != 0 || sym.size == 0 {
                return Err(self.err(ElfErrorKind::Section {
                    section: sec.name.clone(),
                    what: format!(
                        "function `{}` at offset {} with size {} is not a whole number of instructions",
                        sym.name, sym.value, sym.size
                    ),
                }));
            }
            let start = (sym.value / 8) as usize;
            let end = start + (sym.size / 8) as usize;
            let is_program = sec.kind == SectionKind::Program && sym.is_global();
            if sec.kind == SectionKind::Program && !sym.is_global() {
                log::debug!(
                    "section `{}`: static function `{}` is a subprogram, not a program",
                    sec.name,
                    sym.name
                );
            }
            out.push((
                Function {
                    name: sym.name.clone(),
                    section: sec.name.clone(),
                    section_index: section,
                    insn_offset: start,
                    insns: insns[start..end].to_vec(),
                    relocs: Vec::new(),
                    global: sym.is_global(),
                    hidden: sym.hidden,
                },
                is_program,
            ));
        }
        // Section order, then address: the order libbpf lists programs in.
        // (Two stable passes: address, then section.)
        crate::sort::sort_by_key(&mut out, |(f, _)| f.insn_offset as u64);
        crate::sort::sort_by_key(&mut out, |(f, _)| f.section_index as u64);
        Ok(out)
    }

    fn data_sections(&self) -> Result<Vec<DataSection>, ElfError> {
        let mut out = Vec::new();
        for (index, s) in self.sections.iter().enumerate() {
            let kind = match s.kind {
                SectionKind::Data => DataKind::Data,
                SectionKind::Rodata => DataKind::Rodata,
                SectionKind::Bss => DataKind::Bss,
                SectionKind::Arena => DataKind::Arena,
                _ => continue,
            };
            let mut symbols = Vec::new();
            for sym in &self.symbols {
                if sym.section != Some(index)
                    || sym.kind == elf::STT_SECTION.0
                    || sym.name.is_empty()
                {
                    continue;
                }
                self.check_in_section(sym, index)?;
                symbols.push(DataSymbol {
                    name: sym.name.clone(),
                    offset: sym.value,
                    size: sym.size,
                    global: sym.is_global(),
                });
            }
            crate::sort::sort_by_key(&mut symbols, |d| d.offset);
            let bytes = if s.sh_type == elf::SHT_NOBITS.0 {
                Vec::new()
            } else {
                s.bytes.to_vec()
            };
            out.push(DataSection {
                name: s.name.clone(),
                section_index: index,
                kind,
                size: s.size,
                bytes,
                symbols,
            });
        }
        Ok(out)
    }

    /// Named object symbols outside code sections.
    fn data_symbols(&self) -> Vec<SymbolSpec> {
        self.symbols
            .iter()
            .filter(|s| {
                !s.name.is_empty()
                    && s.kind != elf::STT_SECTION.0
                    && s.kind != elf::STT_FILE.0
                    && s.kind != elf::STT_FUNC.0
            })
            .filter_map(|s| {
                let sec = self.sections.get(s.section?)?;
                Some(SymbolSpec {
                    name: s.name.clone(),
                    section: sec.name.clone(),
                    offset: s.value,
                    size: s.size,
                    global: s.is_global(),
                    hidden: s.hidden,
                })
            })
            .collect()
    }

    /// Undefined global symbols, typed through the object's BTF as libbpf's
    /// `bpf_object__collect_externs` does: the VAR or FUNC of the same name with extern
    /// linkage, and the DATASEC (`.kconfig` or `.ksyms`) that lists it.
    fn externs(&self) -> Result<Vec<Extern>, ElfError> {
        let btf_err = |e| self.err(ElfErrorKind::Btf(e));
        let mut in_sec: HashMap<TypeId, &str> = HashMap::new();
        let mut extern_types = HashMap::new();
        if let Some(btf) = &self.btf {
            for sec_name in [".kconfig", ".ksyms"] {
                if let Some(ds) = btf.find_by_name_kind(sec_name, Kind::Datasec) {
                    for v in ds.datasec_vars().map_err(btf_err)? {
                        in_sec.insert(v.map_err(btf_err)?.type_id, sec_name);
                    }
                }
            }
            // The first VAR or FUNC of each name with extern linkage, as libbpf's
            // `find_extern_btf_id` takes it.
            for id in btf.ids() {
                let t = btf.type_by_id(id).map_err(btf_err)?;
                if matches!(t.kind(), Kind::Var | Kind::Func)
                    && t.linkage().map_err(btf_err)? == Linkage::Extern
                {
                    extern_types.entry(t.name().map_err(btf_err)?).or_insert(t);
                }
            }
        }
        let mut out = Vec::new();
        for sym in &self.symbols {
            if sym.section.is_some() || !sym.is_global() || sym.name.is_empty() {
                continue;
            }
            if sym.kind == elf::STT_FILE.0 || sym.kind == elf::STT_SECTION.0 {
                continue;
            }
            let (kind, btf_id) = match (&self.btf, extern_types.get(sym.name.as_str())) {
                (Some(btf), Some(t)) => {
                    let kind = match (t.kind(), in_sec.get(&t.id()).copied()) {
                        (Kind::Func, _) => ExternKind::Kfunc,
                        (_, Some(".kconfig")) => ExternKind::Kconfig,
                        (_, Some(".ksyms")) => ksym_kind(btf, t).map_err(btf_err)?,
                        _ => ExternKind::Unknown,
                    };
                    (kind, Some(t.id()))
                }
                _ => (ExternKind::Unknown, None),
            };
            out.push(Extern {
                name: sym.name.clone(),
                kind,
                weak: sym.bind == elf::STB_WEAK.0,
                btf_id,
            });
        }
        Ok(out)
    }

    /// Classifies every relocation of every code section and attaches it to the function
    /// that contains the instruction (libbpf `bpf_program__record_reloc`).
    /// The object's arena map, as libbpf requires it: at most one `BPF_MAP_TYPE_ARENA`
    /// map, and one whenever `.addr_space.1` holds `__arena` globals.
    fn arena_map(
        &self,
        maps: &[MapSpec],
        arena: Option<&DataSection>,
    ) -> Result<Option<usize>, ElfError> {
        let mut found = maps
            .iter()
            .enumerate()
            .filter(|(_, m)| m.map_type == MapType::ARENA);
        let first = found.next();
        if let (Some((_, a)), Some((_, b))) = (first, found.next()) {
            return Err(self.err(ElfErrorKind::Section {
                section: ".maps".into(),
                what: format!(
                    "maps `{}` and `{}` are both arenas; an object has at most one (libbpf's rule: `__arena` globals go in it)",
                    a.name, b.name
                ),
            }));
        }
        if arena.is_some() && first.is_none() {
            return Err(self.err(ElfErrorKind::Section {
                section: ".addr_space.1".into(),
                what: "it holds __arena global variables, but no BPF_MAP_TYPE_ARENA map is declared in .maps to hold them".into(),
            }));
        }
        Ok(first.map(|(i, _)| i))
    }

    fn code_relocations(
        &self,
        code: &HashMap<usize, Vec<Insn>>,
        functions: &mut [(Function, bool)],
        targets: &Targets<'_>,
    ) -> Result<(), ElfError> {
        for rel_sec in &self.sections {
            let Some(target) = rel_sec.target else {
                continue;
            };
            let Some(insns) = code.get(&target) else {
                continue;
            };
            let sec_name = self.section_name(target).to_string();
            if rel_sec.sh_type != elf::SHT_REL.0 {
                return Err(self.err(ElfErrorKind::Section {
                    section: rel_sec.name.clone(),
                    what: "RELA relocations for code; BPF objects use REL".into(),
                }));
            }
            let rels = self.rel_entries(rel_sec)?;
            for (index, (offset, sym_index)) in rels.into_iter().enumerate() {
                if offset % 8 != 0 {
                    return Err(self.err(ElfErrorKind::RelocMisaligned {
                        section: sec_name.clone(),
                        index,
                        offset,
                    }));
                }
                let insn_idx = offset / 8;
                let bad = |symbol: &str, what: String| {
                    self.err(ElfErrorKind::BadReloc {
                        section: sec_name.clone(),
                        index,
                        insn: insn_idx,
                        symbol: symbol.to_string(),
                        what,
                    })
                };
                let insn = *insns.get(insn_idx as usize).ok_or_else(|| {
                    bad(
                        "?",
                        format!("offset {offset} is past the end of the section"),
                    )
                })?;
                let sym = self.symbols.get(sym_index as usize).ok_or_else(|| {
                    bad(
                        "?",
                        format!("symbol #{sym_index} is past the end of the symbol table"),
                    )
                })?;
                // Code no function symbol covers is a `__weak` function another object
                // overrode when `bpftool gen object` linked them: it is never part of a
                // program, so its relocations do not matter (libbpf skips them too).
                let Some((function, _)) = functions.iter_mut().find(|(f, _)| {
                    f.section_index == target
                        && (f.insn_offset..f.insn_offset + f.insns.len())
                            .contains(&(insn_idx as usize))
                }) else {
                    log::debug!(
                        "section `{sec_name}`: relocation #{index} for `{}` at insn #{insn_idx}: no function contains it (an overridden weak function); skipped",
                        sym.name
                    );
                    continue;
                };
                let kind = self
                    .classify_reloc(insn, insns, insn_idx as usize, sym, targets)
                    .map_err(|w| bad(&sym.name, w))?;
                log::trace!(
                    "section `{sec_name}`: insn #{insn_idx} in `{}`: {} `{}`",
                    function.name,
                    kind.label(),
                    sym.name
                );
                function.relocs.push(Reloc {
                    insn: insn_idx as usize - function.insn_offset,
                    symbol: sym.name.clone(),
                    kind,
                });
            }
        }
        Ok(())
    }

    /// `(r_offset, r_sym)` of every entry of a REL section.
    fn rel_entries(&self, rel_sec: &Section<'d>) -> Result<Vec<(u64, u32)>, ElfError> {
        let entry = std::mem::size_of::<elf::Rel64<Endianness>>();
        if rel_sec.bytes.len() % entry != 0 {
            return Err(self.err(ElfErrorKind::Section {
                section: rel_sec.name.clone(),
                what: format!(
                    "size {} is not a multiple of the {entry}-byte relocation entry",
                    rel_sec.bytes.len()
                ),
            }));
        }
        let rels: &[elf::Rel64<Endianness>] = rel_sec
            .bytes
            .read_slice_at(0, rel_sec.bytes.len() / entry)
            .map_err(|()| self.err(ElfErrorKind::Malformed("relocation table".into())))?;
        Ok(rels
            .iter()
            .map(|r| (r.r_offset(self.endian), r.r_sym(self.endian)))
            .collect())
    }

    fn classify_reloc(
        &self,
        insn: Insn,
        insns: &[Insn],
        insn_idx: usize,
        sym: &Symbol,
        targets: &Targets<'_>,
    ) -> Result<RelocKind, String> {
        let Targets {
            maps,
            data,
            arena,
            externs,
        } = *targets;
        let is_ld64 = insn.is_ld_imm64();
        if !is_ld64 && !insn.is_call() {
            return Err(format!(
                "instruction (opcode {:#04x}) is neither an ld_imm64 nor a call",
                insn.code
            ));
        }
        if is_ld64 && insn_idx + 1 >= insns.len() {
            return Err("ld_imm64 is cut off by the end of the section".into());
        }
        let Some(section) = sym.section else {
            // libbpf checks for externs first: a kfunc call carries BPF_PSEUDO_CALL too.
            let ext = externs
                .iter()
                .position(|e| e.name == sym.name)
                .ok_or_else(|| "refers to an undefined symbol that is not an extern".to_string())?;
            return Ok(if insn.is_call() {
                RelocKind::ExternCall { ext }
            } else {
                RelocKind::ExternVar { ext }
            });
        };
        let target = self
            .sections
            .get(section)
            .ok_or_else(|| format!("symbol's section #{section} does not exist"))?;
        let is_section_sym = sym.kind == elf::STT_SECTION.0;
        match target.kind {
            SectionKind::Program | SectionKind::Text => code_target(insn, sym, section, target),
            SectionKind::Maps | SectionKind::LegacyMaps if is_ld64 => {
                let off = if is_section_sym {
                    i64::from(insn.imm) as u64
                } else {
                    sym.value
                };
                maps.iter()
                    .position(|m| m.section_index == section && m.section_offset == off)
                    .map(|map| RelocKind::Map { map })
                    .ok_or_else(|| {
                        format!("no map is defined at offset {off} of `{}`", target.name)
                    })
            }
            SectionKind::Arena if is_ld64 => {
                // An arena map exists: checked at open (`arena_map`).
                let (_, map) = arena.ok_or("no ARENA map holds `.addr_space.1`")?;
                let offset = sym.value as i64 + i64::from(insn.imm);
                if offset < 0 || offset as u64 > target.size {
                    return Err(format!(
                        "offset {offset} is outside `{}` ({} bytes)",
                        target.name, target.size
                    ));
                }
                Ok(RelocKind::Arena {
                    map,
                    offset: offset as u64,
                })
            }
            SectionKind::Data | SectionKind::Rodata | SectionKind::Bss if is_ld64 => {
                let d = data
                    .iter()
                    .position(|d| d.section_index == section)
                    .ok_or("data section not found")?;
                let offset = sym.value as i64 + i64::from(insn.imm);
                if offset < 0 || offset as u64 > target.size {
                    return Err(format!(
                        "offset {offset} is outside `{}` ({} bytes)",
                        target.name, target.size
                    ));
                }
                Ok(RelocKind::Data {
                    data: d,
                    offset: offset as u64,
                })
            }
            _ => Err(format!(
                "refers to section `{}` ({}), which the loader cannot relocate against",
                target.name,
                target.kind.describe()
            )),
        }
    }
}

/// What code relocations can point at.
#[derive(Clone, Copy)]
struct Targets<'a> {
    maps: &'a [MapSpec],
    data: &'a [DataSection],
    /// `.addr_space.1` and the index of the arena map holding it.
    arena: Option<(&'a DataSection, usize)>,
    externs: &'a [Extern],
}

/// A `.ksyms` VAR: typeless (`extern const void sym __ksym`) when its type is void.
fn ksym_kind(btf: &Btf, var: &BtfType<'_>) -> Result<ExternKind, BtfError> {
    let ty = btf.skip_mods_and_typedefs(var.ref_type()?)?;
    Ok(if ty.kind() == Kind::Void {
        ExternKind::KsymTypeless
    } else {
        ExternKind::Ksym
    })
}

/// A call or function address into code: the instruction it targets (libbpf
/// `bpf_program__record_reloc`'s BPF-to-BPF cases).
fn code_target(
    insn: Insn,
    sym: &Symbol,
    section: usize,
    target: &Section<'_>,
) -> Result<RelocKind, String> {
    if insn.is_call() {
        if insn.src() != pseudo::CALL {
            return Err(format!(
                "call to `{}` is not a BPF-to-BPF call (src_reg {})",
                sym.name,
                insn.src()
            ));
        }
        if sym.value % 8 != 0 {
            return Err(format!(
                "call target offset {} is not on an instruction boundary",
                sym.value
            ));
        }
        // The callee is `imm + 1` instructions past the symbol (for a
        // function symbol clang writes imm = -1).
        let callee = (sym.value / 8) as i64 + i64::from(insn.imm) + 1;
        return check_callee(callee, target).map(|insn| RelocKind::Call {
            section_index: section,
            insn,
        });
    }
    let off = sym.value as i64 + i64::from(insn.imm);
    if off % 8 != 0 {
        return Err(format!(
            "function address offset {off} is not on an instruction boundary"
        ));
    }
    check_callee(off / 8, target).map(|insn| RelocKind::FuncAddr {
        section_index: section,
        insn,
    })
}

fn check_callee(callee: i64, target: &Section<'_>) -> Result<usize, String> {
    let len = (target.size / 8) as i64;
    if callee < 0 || callee >= len {
        Err(format!(
            "target instruction #{callee} is outside `{}` ({len} instructions)",
            target.name
        ))
    } else {
        Ok(callee as usize)
    }
}

#[cfg(test)]
mod tests;
