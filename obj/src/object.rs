//! The object model: what a `.bpf.o` contains, as plain data.
//!
//! [`Object::parse`](crate::Object::parse) fills it from the ELF file without touching
//! the kernel, and gives the same result on every machine (cilium's "spec first, live
//! object second"): it can be printed (`oxbpf inspect`), compared and edited before
//! anything is loaded.

use crate::btf::ext::{BtfExt, BtfExtError};
use crate::btf::fixup::ElfInfo;
use oxbpf_uapi::{AttachType, Endian, Insn, MapType, ProgType};

use crate::btf::{Btf, TypeId};
use crate::section::SectionDef;

/// A parsed BPF object file.
#[derive(Debug, Clone)]
pub struct Object {
    /// A name for messages: the file path, or what the caller passed.
    pub name: String,
    /// Byte order of the object.
    pub endian: Endian,
    /// The `license` section ("GPL", "Dual BSD/GPL", ...); empty when absent.
    pub license: String,
    /// The `version` section (kernel version for kprobes before 5.0), if present.
    pub kern_version: Option<u32>,
    /// Every ELF section, with what it is for.
    pub sections: Vec<SectionInfo>,
    /// Entry points: functions in program sections.
    pub programs: Vec<ProgramSpec>,
    /// Callable functions that are not entry points: everything in `.text`, and static
    /// functions in program sections.
    pub subprograms: Vec<Function>,
    /// Maps declared in `.maps` (BTF) or `maps` (legacy `struct bpf_map_def`).
    pub maps: Vec<MapSpec>,
    /// Global data sections: `.data`, `.rodata`, `.bss` and their `.name` variants.
    pub data: Vec<DataSection>,
    /// `.addr_space.1`: the `__arena` global variables, which live in the object's
    /// arena map (its initial contents are copied into the arena at load, as libbpf
    /// does: at its end, or its start on older kernels) rather than a map of their own.
    pub arena: Option<DataSection>,
    /// Symbols the object uses but does not define.
    pub externs: Vec<Extern>,
    /// Every named data symbol (variables, maps, the license) with where it lives: what
    /// the BTF fix-up needs to fill in DATASEC offsets.
    pub symbols: Vec<SymbolSpec>,
    /// The object's `.BTF`, parsed, if present and valid.
    pub btf: Option<Btf>,
    /// The object's `.BTF.ext` (func_info, line_info, CO-RE relocations), parsed once
    /// at open: `None` when there is none (or, without `.BTF`, one without CO-RE
    /// relocations, which only loses source lines); an error when it cannot be read,
    /// which refuses the load (its CO-RE relocations would be unknown) and which
    /// `inspect` shows.
    pub btf_ext: Option<Result<BtfExt, BtfExtError>>,
    /// Problems that did not stop parsing (e.g. malformed BTF in an object that does not
    /// need it), for `inspect` and the log.
    pub warnings: Vec<String>,
}

/// What an ELF section is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// Code with one or more programs.
    Program,
    /// `.text`: subprograms only.
    Text,
    /// `.maps`: BTF-defined maps.
    Maps,
    /// `maps`: legacy `struct bpf_map_def` maps.
    LegacyMaps,
    /// `.data` or `.data.*`.
    Data,
    /// `.rodata` or `.rodata.*`.
    Rodata,
    /// `.bss` or `.bss.*`.
    Bss,
    /// `license`.
    License,
    /// `version`.
    Version,
    /// `.BTF`.
    Btf,
    /// `.BTF.ext`.
    BtfExt,
    /// `.struct_ops`, `.struct_ops.link` (and their `?` forms): struct_ops map values.
    StructOps,
    /// `.addr_space.1`: `__arena` global variables, kept in the arena map.
    Arena,
    /// Relocations for another section (`.rel<name>`).
    Relocations,
    /// `.symtab`.
    Symbols,
    /// String tables.
    Strings,
    /// DWARF debug information.
    Debug,
    /// Anything else (`.llvm_addrsig`, unknown data).
    Other,
}

impl SectionKind {
    /// A few words on what the section is for.
    pub fn describe(self) -> &'static str {
        match self {
            SectionKind::Program => "program code",
            SectionKind::Text => "subprograms (.text)",
            SectionKind::Maps => "BTF-defined maps",
            SectionKind::LegacyMaps => "legacy map definitions (struct bpf_map_def)",
            SectionKind::Data => "global data",
            SectionKind::Rodata => "read-only global data",
            SectionKind::Bss => "zero-initialised global data",
            SectionKind::License => "license string",
            SectionKind::Version => "kernel version",
            SectionKind::Btf => "BTF type information",
            SectionKind::BtfExt => "BTF.ext: func/line info and CO-RE relocations",
            SectionKind::StructOps => {
                "struct_ops maps: kernel structs of function pointers to programs"
            }
            SectionKind::Arena => "__arena global variables, kept in the arena map",
            SectionKind::Relocations => "relocations",
            SectionKind::Symbols => "symbol table",
            SectionKind::Strings => "string table",
            SectionKind::Debug => "DWARF debug information",
            SectionKind::Other => "other",
        }
    }
}

/// One ELF section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionInfo {
    /// Section header index.
    pub index: usize,
    /// Name.
    pub name: String,
    /// What it is for.
    pub kind: SectionKind,
    /// Size in bytes (`sh_size`; for `.bss` this is not in the file).
    pub size: u64,
    /// For relocation sections: the index of the section they patch.
    pub target: Option<usize>,
}

/// A function: a named range of instructions in a code section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Symbol name.
    pub name: String,
    /// Section name.
    pub section: String,
    /// Section header index.
    pub section_index: usize,
    /// Index of the first instruction within the section (byte offset / 8).
    pub insn_offset: usize,
    /// The instructions, decoded to the running machine's layout.
    pub insns: Vec<Insn>,
    /// The relocations that patch these instructions.
    pub relocs: Vec<Reloc>,
    /// Global (or weak) binding; static functions are `false`.
    pub global: bool,
    /// `__hidden` visibility: global for the linker, static for the verifier.
    pub hidden: bool,
}

/// A program: an entry point and what its section name says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The code.
    pub function: Function,
    /// Program type; `None` when no `SEC()` pattern matches the section and the user has
    /// not chosen one.
    pub prog_type: Option<ProgType>,
    /// Expected attach type for `BPF_PROG_LOAD`.
    pub expected_attach_type: Option<AttachType>,
    /// What the section name says to attach to: `syscalls/sys_enter_write`,
    /// `do_unlinkat`, `task`, `/usr/lib/libc.so.6:malloc`...
    pub attach_target: Option<String>,
    /// The `SEC()` table entry that matched.
    pub section_def: Option<&'static SectionDef>,
    /// False for sections starting with `?`: loaded only when asked for.
    pub autoload: bool,
    /// Matched only by libbpf 0.x's looser prefix rules.
    pub legacy_section: bool,
}

/// (Here, not in `btf::fixup`, so that BTF knows nothing of the object model.)
impl ElfInfo {
    /// Collects what the BTF fix-up needs from a parsed object.
    pub fn from_object(obj: &Object) -> ElfInfo {
        let section_sizes = obj
            .sections
            .iter()
            .map(|s| (s.name.clone(), s.size))
            .collect();
        let symbols = obj
            .symbols
            .iter()
            .map(|s| ((s.section.clone(), s.name.clone()), (s.offset, s.hidden)))
            .collect();
        let hidden_functions = obj
            .programs
            .iter()
            .map(|p| &p.function)
            .chain(&obj.subprograms)
            .filter(|f| f.global && f.hidden)
            .map(|f| f.name.clone())
            .collect();
        ElfInfo {
            section_sizes,
            symbols,
            hidden_functions,
        }
    }
}

impl Object {
    /// The parsed `.BTF.ext`, when the object has a readable one.
    pub fn ext(&self) -> Option<&BtfExt> {
        self.btf_ext.as_ref()?.as_ref().ok()
    }

    /// The struct_ops maps one of whose function pointers names program `name`.
    pub fn struct_ops_maps_naming<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a MapSpec> + 'a {
        self.maps.iter().filter(move |m| {
            m.struct_ops
                .as_ref()
                .is_some_and(|st| st.programs.iter().any(|p| p.program == name))
        })
    }

    /// Whether a load loads `program`: its `autoload`, except that a struct_ops
    /// program some struct_ops map names loads when one of those maps is created, and
    /// only then (libbpf's `bpf_object_adjust_struct_ops_autoload`).
    pub fn loads(&self, program: &ProgramSpec) -> bool {
        let mut maps = self.struct_ops_maps_naming(program.name()).peekable();
        if maps.peek().is_none() {
            program.autoload
        } else {
            maps.any(|m| m.autocreate)
        }
    }

    /// Whether the object has CO-RE relocations (or a `.BTF.ext` too broken to say:
    /// then loading refuses with the reason).
    pub fn has_core_relocations(&self) -> bool {
        self.btf_ext
            .as_ref()
            .is_some_and(|e| e.as_ref().map_or(true, BtfExt::has_core_relocations))
    }
}

impl ProgramSpec {
    /// The program's name (its symbol).
    pub fn name(&self) -> &str {
        &self.function.name
    }

    /// The section it lives in.
    pub fn section(&self) -> &str {
        &self.function.section
    }

    /// `SEC()` flags of the matched entry (`section::flags`).
    pub fn section_flags(&self) -> u32 {
        self.section_def.map_or(0, |d| d.flags)
    }

    /// Whether it loads with `BPF_F_SLEEPABLE`.
    pub fn sleepable(&self) -> bool {
        self.section_flags() & crate::section::flags::SLEEPABLE != 0
    }
}

/// A relocation: an instruction the loader must patch, and with what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloc {
    /// Index of the instruction within its function.
    pub insn: usize,
    /// The symbol the relocation names.
    pub symbol: String,
    /// What the instruction refers to.
    pub kind: RelocKind,
}

/// What a relocated instruction refers to (libbpf's `RELO_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocKind {
    /// `ld_imm64` of a map: becomes the map's fd (index into [`Object::maps`]).
    Map {
        /// Index into `Object::maps`.
        map: usize,
    },
    /// `ld_imm64` of an address in global data: becomes the data map's fd and offset.
    Data {
        /// Index into `Object::data`.
        data: usize,
        /// Byte offset within the section.
        offset: u64,
    },
    /// `ld_imm64` of an `__arena` global variable: becomes the arena map's fd and the
    /// variable's offset in the arena (`BPF_PSEUDO_MAP_VALUE`).
    Arena {
        /// Index into `Object::maps` of the arena map.
        map: usize,
        /// Byte offset within `.addr_space.1`, which is the offset in the arena.
        offset: u64,
    },
    /// `call` of another BPF function (`BPF_PSEUDO_CALL`).
    Call {
        /// Section header index of the callee.
        section_index: usize,
        /// Instruction index of the callee within that section.
        insn: usize,
    },
    /// `ld_imm64` of a function's address (a callback, `BPF_PSEUDO_FUNC`).
    FuncAddr {
        /// Section header index of the function.
        section_index: usize,
        /// Instruction index of the function within that section.
        insn: usize,
    },
    /// `ld_imm64` of an extern variable (`.kconfig` value or `__ksym` address).
    ExternVar {
        /// Index into `Object::externs`.
        ext: usize,
    },
    /// `call` of an extern function (a kfunc).
    ExternCall {
        /// Index into `Object::externs`.
        ext: usize,
    },
}

impl RelocKind {
    /// A short name for listings and counts.
    pub fn label(&self) -> &'static str {
        match self {
            RelocKind::Map { .. } => "map",
            RelocKind::Data { .. } => "data",
            RelocKind::Arena { .. } => "arena",
            RelocKind::Call { .. } => "call",
            RelocKind::FuncAddr { .. } => "func_addr",
            RelocKind::ExternVar { .. } => "extern",
            RelocKind::ExternCall { .. } => "kfunc",
        }
    }
}

/// Where a map definition came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapDefSource {
    /// A BTF-described variable in `.maps` (libbpf 0.3+).
    Btf,
    /// A `struct bpf_map_def` in `maps` (legacy; libbpf 1.0 dropped these).
    Legacy,
    /// An inner map template described by `__array(values, ...)`.
    Inner,
    /// A variable of `.struct_ops` or `.struct_ops.link`: a `BPF_MAP_TYPE_STRUCT_OPS`
    /// whose value is a kernel struct ([`MapSpec::struct_ops`]).
    StructOps,
}

/// What a struct_ops map holds (libbpf's `struct bpf_struct_ops`): the kernel struct it
/// fills, its data members' initial bytes and the program behind each function-pointer
/// member the object sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructOpsSpec {
    /// The struct's name (`tcp_congestion_ops`, `sched_ext_ops`): the kernel type of the
    /// same name is the one filled, inside its `bpf_struct_ops_<name>` wrapper.
    pub type_name: String,
    /// The struct in the object's BTF.
    pub type_id: TypeId,
    /// The variable's bytes as compiled (data members; function pointers are zero).
    pub data: Vec<u8>,
    /// The function-pointer members set to programs, by member order.
    pub programs: Vec<StructOpsMember>,
    /// From `.struct_ops.link`: registered through a bpf_link (`BPF_F_LINK`), not by
    /// the map update alone.
    pub link: bool,
}

/// A function-pointer member of a struct_ops value set to a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructOpsMember {
    /// The member (`cong_avoid`).
    pub member: String,
    /// Its index among the object's struct members.
    pub index: usize,
    /// Its byte offset in the value.
    pub offset: u32,
    /// The program (a `SEC("struct_ops/...")` function).
    pub program: String,
}

/// `pinning` of a BTF map (`enum libbpf_pin_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinning {
    /// Not pinned.
    None,
    /// Pinned under the pin root by its name (`LIBBPF_PIN_BY_NAME`).
    ByName,
    /// A value libbpf does not define.
    Other(u32),
}

/// What a slot of a map-in-map or prog array is initialised with (`.values = {...}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapInitValue {
    /// Another map of this object, by name.
    Map(String),
    /// A program of this object, by name.
    Program(String),
}

/// A map definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// Map name (the variable's).
    pub name: String,
    /// Where the definition came from.
    pub source: MapDefSource,
    /// Section header index of `.maps` / `maps` (0 for inner templates).
    pub section_index: usize,
    /// Offset of the definition within that section.
    pub section_offset: u64,
    /// Map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity (0 is allowed for perf event arrays, sized to the CPUs at load).
    pub max_entries: u32,
    /// `BPF_F_*` flags.
    pub map_flags: u32,
    /// NUMA node (`numa_node` field).
    pub numa_node: u32,
    /// Type-specific extra (`map_extra`).
    pub map_extra: u64,
    /// Pinning mode.
    pub pinning: Pinning,
    /// BTF type of the key, when declared with `__type(key, ...)`.
    pub key_type: Option<TypeId>,
    /// BTF type of the value, when declared with `__type(value, ...)`.
    pub value_type: Option<TypeId>,
    /// The inner map template of an array/hash of maps.
    pub inner: Option<Box<MapSpec>>,
    /// Initial slots of a map-in-map or prog array, `(index, value)`.
    pub init: Vec<(u32, MapInitValue)>,
    /// Created at load (libbpf's `bpf_map__set_autocreate`). A map left out is for a
    /// map type the kernel lacks: each instruction that loads it is poisoned, so a
    /// program fails only if the verifier reaches such a use, and then says which map.
    pub autocreate: bool,
    /// For a struct_ops map (`.struct_ops` sections): the kernel struct it fills and the
    /// programs behind its function pointers.
    pub struct_ops: Option<Box<StructOpsSpec>>,
}

impl MapSpec {
    /// A definition with only a name and source: every number zero, no BTF types, not
    /// pinned. The parsers fill in what the object declares.
    pub fn new(name: &str, source: MapDefSource) -> MapSpec {
        MapSpec {
            name: name.to_string(),
            source,
            section_index: 0,
            section_offset: 0,
            map_type: MapType::UNSPEC,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            map_flags: 0,
            numa_node: 0,
            map_extra: 0,
            pinning: Pinning::None,
            key_type: None,
            value_type: None,
            inner: None,
            init: Vec::new(),
            autocreate: true,
            struct_ops: None,
        }
    }
}

/// The kinds of global data section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// `.data*`: initialised, writable.
    Data,
    /// `.rodata*`: initialised, frozen after load.
    Rodata,
    /// `.bss*`: zero-initialised, writable.
    Bss,
    /// `.addr_space.1`: `__arena` variables, initialised, in the arena map
    /// ([`Object::arena`]; never one of [`Object::data`]).
    Arena,
}

/// A variable in a data section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSymbol {
    /// Name.
    pub name: String,
    /// Offset within the section.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Global binding (settable from user space by name, like skeleton fields).
    pub global: bool,
}

/// A global data section, which becomes one array map at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSection {
    /// Section name (`.data`, `.rodata.bar`, ...).
    pub name: String,
    /// Section header index.
    pub section_index: usize,
    /// Data, rodata or bss.
    pub kind: DataKind,
    /// Size in bytes.
    pub size: u64,
    /// Initial contents (empty for `.bss`).
    pub bytes: Vec<u8>,
    /// The variables in it, by offset.
    pub symbols: Vec<DataSymbol>,
}

/// A defined data symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolSpec {
    /// Name.
    pub name: String,
    /// The section it is in.
    pub section: String,
    /// Offset within the section.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Global or weak binding.
    pub global: bool,
    /// Hidden or internal visibility: global to the linker, static to the kernel.
    pub hidden: bool,
}

/// What an extern symbol is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    /// A `.kconfig` value (`CONFIG_*`, `LINUX_KERNEL_VERSION`, ...).
    Kconfig,
    /// A `__ksym` kernel variable with a BTF type.
    Ksym,
    /// A `__ksym` kernel variable declared `void`: only its address is known.
    KsymTypeless,
    /// A `__ksym` kernel function called from BPF.
    Kfunc,
    /// The object's BTF does not say.
    Unknown,
}

impl ExternKind {
    /// A short name for listings.
    pub fn label(self) -> &'static str {
        match self {
            ExternKind::Kconfig => "kconfig",
            ExternKind::Ksym => "ksym",
            ExternKind::KsymTypeless => "ksym (typeless)",
            ExternKind::Kfunc => "kfunc",
            ExternKind::Unknown => "unknown",
        }
    }
}

/// A symbol the object uses but does not define.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extern {
    /// Name.
    pub name: String,
    /// Kind, from the object's BTF.
    pub kind: ExternKind,
    /// Weak: may be missing; resolves to zero.
    pub weak: bool,
    /// Its VAR or FUNC in the object's BTF.
    pub btf_id: Option<TypeId>,
}
