use std::fmt;

use oxbpf_uapi::bytes::ShortRead;

use crate::btf::BtfError;

/// Why an object file could not be parsed. Shows as `FILE: what is wrong`, naming the
/// section, symbol, offset or map involved.
#[derive(Debug)]
pub struct ElfError {
    /// The file (or name given to [`Object::parse`](crate::Object::parse)).
    pub file: String,
    /// What is wrong.
    pub kind: ElfErrorKind,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.kind)
    }
}

// The kind is part of this error's own message, so its *cause* (not the kind itself)
// is the next link of the chain; otherwise a chain printer would show the kind twice.
impl std::error::Error for ElfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

/// The ways an object file can be malformed or unsupported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElfErrorKind {
    /// The file could not be read.
    #[error("cannot read the file")]
    Io(#[source] std::io::Error),
    /// Not an ELF file at all.
    #[error("not an ELF file ({0})")]
    NotElf(&'static str),
    /// The file ends before a part its headers place in it: a copy cut short.
    #[error(
        "truncated: the file is {size} bytes, but its {what} is at bytes {from}..{to} (was it cut short while copied or downloaded?)"
    )]
    Truncated {
        /// The file's size.
        size: u64,
        /// The part that lies past the end ("section header table", "section `xdp`").
        what: String,
        /// Where that part starts.
        from: u64,
        /// Where it ends.
        to: u64,
    },
    /// ELF structure is broken (from the ELF reader).
    #[error("malformed ELF: {0}")]
    Malformed(String),
    /// An ELF for a CPU rather than for BPF.
    #[error(
        "ELF machine is {machine}, not BPF (EM_BPF = 247){}",
        if *embedded > 1 {
            format!(": it embeds {embedded} BPF objects; write them out with `oxbpf extract` and pick one")
        } else {
            ": build BPF objects with clang --target=bpf".to_string()
        }
    )]
    WrongMachine {
        /// `e_machine`.
        machine: u16,
        /// How many BPF objects the file embeds (a program built with skeletons).
        embedded: usize,
    },
    /// An executable or shared object rather than a `.o`.
    #[error(
        "ELF type is {0}, not a relocatable object (ET_REL = 1): BPF objects are the .o files of clang -c"
    )]
    NotRelocatable(u16),
    /// The symbol table is missing (stripped objects cannot be loaded: programs and maps
    /// are found through their symbols).
    #[error("no symbol table (.symtab); was the object stripped?")]
    NoSymtab,
    /// A section is malformed.
    #[error("section `{section}`: {what}")]
    Section {
        /// Section name.
        section: String,
        /// What is wrong.
        what: String,
    },
    /// A fixed-size field lies past the end of its section.
    #[error("section `{section}`: {short}")]
    Short {
        /// Section name.
        section: String,
        /// The read that did not fit.
        short: ShortRead,
    },
    /// A symbol points outside the section it belongs to.
    #[error(
        "section `{section}`: symbol `{symbol}` (offset {offset}, size {size}) lies outside the section ({section_size} bytes)"
    )]
    SymbolOutOfSection {
        /// Section name.
        section: String,
        /// Symbol name.
        symbol: String,
        /// `st_value`.
        offset: u64,
        /// `st_size`.
        size: u64,
        /// Section size.
        section_size: u64,
    },
    /// A relocation does not point at the start of an instruction.
    #[error(
        "section `{section}`: relocation #{index} at offset {offset} is not on an instruction boundary (8 bytes)"
    )]
    RelocMisaligned {
        /// Section patched.
        section: String,
        /// Index of the relocation in its table.
        index: usize,
        /// `r_offset`.
        offset: u64,
    },
    /// A relocation is malformed or names something the loader cannot relocate.
    #[error("section `{section}`: relocation #{index} at insn #{insn} (symbol `{symbol}`): {what}")]
    BadReloc {
        /// Section patched.
        section: String,
        /// Index of the relocation in its table.
        index: usize,
        /// Instruction index within the section.
        insn: u64,
        /// Symbol named by the relocation.
        symbol: String,
        /// What is wrong.
        what: String,
    },
    /// A legacy `struct bpf_map_def` of a size the loader does not know.
    #[error(
        "section `maps`: map `{map}` definition is {size} bytes; expected at least 20 (struct bpf_map_def) and a multiple of 4"
    )]
    LegacyMapSize {
        /// Map name.
        map: String,
        /// Its size.
        size: u64,
    },
    /// A map definition is malformed.
    #[error("map `{map}`: {what}")]
    Map {
        /// Map name.
        map: String,
        /// What is wrong.
        what: String,
    },
    /// `.BTF` is malformed and the object needs it (for `.maps`).
    #[error("invalid .BTF section")]
    Btf(#[source] BtfError),
    /// A map definition's BTF is malformed.
    #[error("map `{map}`: invalid BTF")]
    MapBtf {
        /// Map name.
        map: String,
        /// The BTF problem.
        #[source]
        source: BtfError,
    },
}
