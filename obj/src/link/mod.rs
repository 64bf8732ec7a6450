//! Static linking: several clang-built `.bpf.o` files into one relocatable BPF object,
//! as `bpftool gen object` (libbpf's `bpf_linker`) makes it.
//!
//! Pure like the rest of this crate: `(name, bytes)` in, bytes out. The steps read beside
//! libbpf's `linker.c` (`bpf_linker__add_file`, then `bpf_linker__finalize`), one module
//! each:
//! 1. [`input`]: read one object and check it (`linker_load_obj_file` and its sanity
//!    checks), then fix its BTF (`linker_fixup_btf`: DATASEC sizes, global variables'
//!    offsets from their symbols, "ephemeral" sections such as `.kconfig` that BTF
//!    names and the ELF lacks);
//! 2. [`symbols`]: append its sections to those of the same name, aligned
//!    (`linker_append_sec_data`), resolve its symbols against those seen so far
//!    (`linker_append_elf_sym`: strong beats weak, a definition beats an extern, two
//!    strong definitions are an error, visibility only tightens), and append its
//!    relocations re-based (`linker_append_elf_relos`);
//! 3. [`btf`]: append its BTF types with ids remapped, sharing one VAR or FUNC per
//!    global symbol, its DATASEC entries into the merged sections
//!    (`linker_append_btf`), and its `.BTF.ext` records re-based
//!    (`linker_append_btf_ext`);
//! 4. [`write`]: once every input is in, the merged DATASECs, `.BTF`, `.BTF.ext` and the
//!    ELF file itself (`bpf_linker__finalize`).
//!
//! Differences from libbpf, each on purpose: BTF is not deduplicated (`btf__dedup`):
//! types repeated across inputs stay repeated, which the kernel and both loaders
//! accept; the output's layout (section, symbol and string order) is canonical, so
//! that linking a linked object gives it back byte for byte (libbpf reaches that only
//! from the second relink on); a global variable's DATASEC offset follows its winning
//! definition (libbpf leaves a weak loser's offset for the loader to fix from the
//! symbol); `STV_INTERNAL` is taken as stricter than `STV_HIDDEN` rather than refused.

mod btf;
mod input;
mod symbols;
mod write;

use oxbpf_uapi::Endian;

use crate::btf::ext::{BtfExtError, FuncInfo};
use crate::btf::types::Type;
use crate::btf::{BtfError, TypeId, VarSecinfo};

use input::Input;

/// ELF constants as plain numbers (the `object` crate wraps them in newtypes).
mod c {
    use object::elf;
    pub const SHT_PROGBITS: u32 = elf::SHT_PROGBITS.0;
    pub const SHT_NOBITS: u32 = elf::SHT_NOBITS.0;
    pub const SHT_REL: u32 = elf::SHT_REL.0;
    pub const SHT_STRTAB: u32 = elf::SHT_STRTAB.0;
    pub const SHT_SYMTAB: u32 = elf::SHT_SYMTAB.0;
    pub const SHF_EXECINSTR: u64 = elf::SHF_EXECINSTR.0;
    pub const SHF_STRINGS: u64 = elf::SHF_STRINGS.0;
    pub const STB_LOCAL: u8 = elf::STB_LOCAL.0;
    pub const STB_GLOBAL: u8 = elf::STB_GLOBAL.0;
    pub const STB_WEAK: u8 = elf::STB_WEAK.0;
    pub const STT_NOTYPE: u8 = elf::STT_NOTYPE.0;
    pub const STT_OBJECT: u8 = elf::STT_OBJECT.0;
    pub const STT_SECTION: u8 = elf::STT_SECTION.0;
    pub const STV_DEFAULT: u8 = elf::STV_DEFAULT.0;
    pub const SHN_UNDEF: u16 = elf::SHN_UNDEF.0;
    pub const SHN_LORESERVE: u16 = elf::SHN_LORESERVE;
    pub const SHN_XINDEX: u16 = elf::SHN_XINDEX.0;
    pub const EM_BPF: u16 = elf::EM_BPF.0;
    pub const ET_REL: u16 = elf::ET_REL.0;
    pub const ELFCLASS64: u8 = elf::ELFCLASS64.0;
    pub const ELFDATA2MSB: u8 = elf::ELFDATA2MSB.0;
    pub const ELFDATA2LSB: u8 = elf::ELFDATA2LSB.0;
    pub const EV_CURRENT: u8 = elf::EV_CURRENT.0;
    pub const ELFMAG: [u8; 4] = elf::ELFMAG;
}

/// Why objects could not be linked. Every variant names the input file and what in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// Nothing to link.
    #[error("no input objects to link")]
    NoInputs,
    /// An input is not a BPF object the linker can read.
    #[error("{file}: {what}")]
    Malformed {
        /// The input.
        file: String,
        /// What is wrong.
        what: String,
    },
    /// A section of an input is malformed, or cannot be merged with the section of the
    /// same name from earlier inputs.
    #[error("{file}: section `{section}`: {what}")]
    Section {
        /// The input.
        file: String,
        /// The section.
        section: String,
        /// What is wrong.
        what: String,
    },
    /// A symbol of an input cannot be resolved or merged.
    #[error("{file}: symbol `{symbol}`: {what}")]
    Symbol {
        /// The input.
        file: String,
        /// The symbol.
        symbol: String,
        /// What is wrong.
        what: String,
    },
    /// Two inputs define the same global symbol and neither definition is `__weak`.
    #[error(
        "symbol `{symbol}` is defined in both {first} and {second}; at most one definition may be strong (mark the others __weak, or declare them extern)"
    )]
    Conflict {
        /// The symbol.
        symbol: String,
        /// The input of the first strong definition.
        first: String,
        /// The input of the second.
        second: String,
    },
    /// An input's `.BTF` is malformed.
    #[error("{file}: .BTF is malformed")]
    Btf {
        /// The input.
        file: String,
        /// What is wrong with it.
        #[source]
        source: BtfError,
    },
    /// An input's `.BTF.ext` is malformed.
    #[error("{file}: .BTF.ext is malformed")]
    BtfExt {
        /// The input.
        file: String,
        /// What is wrong with it.
        #[source]
        source: BtfExtError,
    },
    /// The merged output cannot be written (a type with too many members, a section
    /// past 4 GiB).
    #[error("output: {0}")]
    Output(String),
}

/// Links BPF objects into one relocatable BPF object (`bpftool gen object OUT IN...`).
/// `inputs` are `(name, bytes)`; names are used in messages only.
///
/// # Errors
/// [`LinkError`] naming the input, section and symbol at fault.
pub fn link(inputs: &[(&str, &[u8])]) -> Result<Vec<u8>, LinkError> {
    if inputs.is_empty() {
        return Err(LinkError::NoInputs);
    }
    let mut linker = Linker {
        symbols: vec![OutSymbol {
            name: String::new(),
            info: 0,
            other: 0,
            shndx: Shndx::Raw(0),
            value: 0,
            size: 0,
        }],
        ..Linker::default()
    };
    for (name, bytes) in inputs {
        linker.add(name, bytes)?;
    }
    linker.finish()
}

/// A section of the output, filled input by input (libbpf's `struct dst_sec`).
#[derive(Debug, Default)]
struct OutSection {
    name: String,
    sh_type: u32,
    flags: u64,
    align: u64,
    entsize: u64,
    /// The bytes (none for `SHT_NOBITS`).
    data: Vec<u8>,
    size: u64,
    /// Named by BTF but absent from the ELF (`.kconfig`, `.ksyms`, a `.maps` holding
    /// only externs): no ELF section unless a later input gives it contents.
    ephemeral: bool,
    /// For a relocation section: the output section it patches.
    rel_target: Option<usize>,
    /// Its one `STT_SECTION` symbol.
    section_symbol: Option<usize>,
    /// Some input described it with a DATASEC, so the output has one for it.
    has_btf: bool,
    /// The DATASEC's entries (output type ids).
    vars: Vec<VarSecinfo>,
    ext: ExtRecords,
}

/// `.BTF.ext` records of one output section, type ids in the output's BTF and strings
/// as text (the output's string table is built at the end).
#[derive(Debug, Default)]
struct ExtRecords {
    func_info: Vec<FuncInfo>,
    func_rec_size: u32,
    /// `(insn_off, file name, source line, line << 10 | column)`.
    line_info: Vec<(u32, String, String, u32)>,
    line_rec_size: u32,
    /// `(insn_off, type id, access string, kind)`.
    core_relos: Vec<(u32, TypeId, String, u32)>,
    core_rec_size: u32,
}

/// Where an output symbol is: a section of the output, or a raw `st_shndx`
/// (`SHN_UNDEF` for externs, `SHN_ABS` for the file symbol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shndx {
    Section(usize),
    Raw(u16),
}

/// A symbol of the output.
#[derive(Debug, Clone)]
struct OutSymbol {
    name: String,
    info: u8,
    other: u8,
    shndx: Shndx,
    value: u64,
    size: u64,
}

/// What the type a global VAR or FUNC points at (its FUNC_PROTO, its variable type)
/// should become once the current input's BTF is appended (libbpf's
/// `underlying_btf_id`: 0, negative or positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Underlying {
    /// The current input's definition won: take its type.
    Request,
    /// The current input's type id, to remap once its types are appended.
    Pending(TypeId),
    /// Settled, in the output's ids.
    Done(TypeId),
}

/// A global (or weak, or extern) symbol seen so far (libbpf's `struct glob_sym`).
#[derive(Debug, Clone)]
struct GlobalSymbol {
    name: String,
    /// Its index in the output's symbols.
    symbol: usize,
    /// The output section it is in (ephemeral ones included); `None` for externs
    /// outside any DATASEC (functions, `.extern` variables).
    section: Option<usize>,
    /// Its VAR or FUNC in the output's BTF, once that input's BTF is appended.
    btf_id: Option<TypeId>,
    underlying: Underlying,
    /// Its entry in its section's DATASEC.
    var_index: Option<usize>,
    is_extern: bool,
    is_weak: bool,
    /// The input that defined it (or first declared it), for messages.
    file: String,
}

/// The linker's state between inputs (libbpf's `struct bpf_linker`).
#[derive(Debug, Default)]
struct Linker {
    endian: Option<Endian>,
    sections: Vec<OutSection>,
    /// Index 0 is the null symbol.
    symbols: Vec<OutSymbol>,
    globals: Vec<GlobalSymbol>,
    /// The output's BTF types: type `i + 1` is `types[i]`. DATASECs come at the end.
    types: Vec<Type>,
}

impl Linker {
    /// One input, through every stage (libbpf's `bpf_linker_add_file`).
    fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), LinkError> {
        let mut input = Input::read(name, bytes)?;
        self.check_endian(&input)?;
        input.fixup_btf()?;
        self.append_sections(&mut input)?;
        self.append_symbols(&mut input)?;
        self.append_relocations(&input)?;
        self.append_btf(&mut input)?;
        self.append_btf_ext(&input)?;
        log::debug!(
            "link: added {name}: now {} sections, {} symbols ({} global), {} BTF types",
            self.sections.len(),
            self.symbols.len(),
            self.globals.len(),
            self.types.len()
        );
        Ok(())
    }

    /// The output's byte order is the first input's; every other must match.
    fn check_endian(&mut self, input: &Input<'_>) -> Result<(), LinkError> {
        match self.endian {
            None => self.endian = Some(input.endian),
            Some(e) if e != input.endian => {
                return Err(LinkError::Malformed {
                    file: input.file.clone(),
                    what: format!(
                        "its byte order ({:?}-endian) differs from the first input's",
                        input.endian
                    ),
                });
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn global(&self, name: &str) -> Option<usize> {
        self.globals.iter().position(|g| g.name == name)
    }

    fn section_by_name(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// The whole output (libbpf's `bpf_linker__finalize`).
    fn finish(mut self) -> Result<Vec<u8>, LinkError> {
        self.settle_datasec_offsets();
        write::write(&self)
    }
}

#[cfg(test)]
mod tests;
