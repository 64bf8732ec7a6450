//! The kernel side of loading: everything here makes `bpf()` calls through
//! `oxbpf-sys`. The stages before it (ELF, BTF, CO-RE, relocation) are pure.
//!
//! [`Object::load`] reads as a table of contents, in libbpf's order
//! (`bpf_object_prepare` and `bpf_object_load`):
//!
//! 1. the kernel's BTF (if CO-RE, externs or tracing programs need it) and its features;
//! 2. CO-RE: every relocation computed against the kernel (or `--btf`) and applied;
//! 3. the object's BTF: fixed up, sanitized for this kernel, loaded (optional: a load
//!    that fails is logged and the rest goes on without BTF, as libbpf does);
//! 4. externs: `.kconfig` values, ksyms and kfuncs resolved;
//! 5. maps: created (inner map templates first), pinned or reused from a pin, global
//!    data written and `.rodata` frozen;
//! 6. programs: linked, relocated, loaded with the verifier's log on failure (and, for
//!    instructions CO-RE poisoned, the reason in words);
//! 7. prog arrays and maps of maps filled with their initial values.
//!
//! [`Loader::load`] is that list, one method per stage; the `Loader` carries what each
//! stage found to the next. Loading borrows the [`Object`]: the spec (edited or not)
//! can be loaded again. Every fd opened belongs to a value that closes it on drop, so a
//! failure part-way leaves nothing open.

mod maps;
mod progs;
mod struct_ops;
mod token;
mod usdt;

use crate::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use oxbpf_maps::Map;
use oxbpf_prog::Program;
use oxbpf_sys::SysError;
use oxbpf_sys::uapi::Endian;

use crate::btf::Btf;
use crate::btf::ext::BtfExtError;
use crate::btf::fixup::{FixupError, KconfigSlot, kconfig_layout};
use crate::btf::types::Type;
use crate::core::{CoreError, CoreOutcome, CoreTargets};
use crate::externs::{ExternError, Kallsyms, KernelConfig, KernelFacts};
use crate::modules::{KernelBtf, ModuleFds};
use crate::object::{ExternKind, Object};
use crate::probe::{BtfFeatures, ProbeError, btf_features};
use crate::reloc::{RelocError, Resolver};

#[cfg(feature = "testing")]
pub use self::maps::PIN_WINDOW_HOOK;
pub use self::maps::{Unset, max_entries_at_load, ringbuf_size};
use crate::btf_load;
pub use crate::btf_load::BtfLoadError;

/// How to load: choices about the kernel side. What to load — which programs, map
/// sizes, program types, initial values of globals — is an edit of the [`Object`]
/// before load ([`Object::map_mut`], [`Object::program_mut`], [`Object::load_only`],
/// [`Object::set_global`]).
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Target BTF for CO-RE instead of the running kernel's (libbpf's
    /// `btf_custom_path`): raw BTF or an ELF with `.BTF`, e.g. from btfhub.
    pub core_btf: Option<Arc<Btf>>,
    /// Directory under which `LIBBPF_PIN_BY_NAME` maps are pinned.
    pub pin_root: PathBuf,
    /// Load every program that can load and report each one that cannot, instead of
    /// stopping at the first failure.
    pub keep_going: bool,
    /// Verifier log level for successful loads (0: no log kept).
    pub log_level: u32,
    /// A bpffs mounted with `delegate_*` options to make a BPF token from, carried by
    /// every map, program and BTF load and feature probe (libbpf's `bpf_token_path`):
    /// how a process in a user namespace loads. `None`: the path in
    /// `LIBBPF_BPF_TOKEN_PATH` if set, else `/sys/fs/bpf` if it delegates anything
    /// (silently without a token otherwise); an empty path: no token.
    pub bpf_token_path: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            core_btf: None,
            pin_root: PathBuf::from("/sys/fs/bpf"),
            keep_going: false,
            log_level: 0,
            bpf_token_path: None,
        }
    }
}

/// Why loading failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The object was built for the other byte order.
    #[error(
        "the object is {object}, but this kernel runs {kernel} programs; rebuild it for this machine (clang --target=bpf picks the host's byte order)"
    )]
    ForeignEndian {
        /// The object's byte order.
        object: oxbpf_sys::uapi::Endian,
        /// The kernel's.
        kernel: oxbpf_sys::uapi::Endian,
    },
    /// Feature probing failed.
    #[error("cannot probe the kernel")]
    Probe(#[source] ProbeError),
    /// The kernel refuses this process any `bpf()` call that loads something (the first,
    /// a BTF load, needs `CAP_BPF`). The message says what this process lacks.
    #[error("not permitted: {}", not_permitted())]
    NoPrivileges(#[source] ProbeError),
    /// The kernel refuses `bpf()` in this user namespace, and no BPF token was given.
    #[error(
        "not permitted: this process runs in a user namespace, where the kernel takes bpf() only with a BPF token (Linux 6.9+): have a privileged process mount a bpffs with delegate_cmds, delegate_maps, delegate_progs and delegate_attachs for this namespace, and give its path (LoadOptions::bpf_token_path or LIBBPF_BPF_TOKEN_PATH)"
    )]
    NoToken(#[source] ProbeError),
    /// The BPF token asked for cannot be made.
    #[error("BPF token from {path}: {why}")]
    Token {
        /// The bpffs path.
        path: String,
        /// What failed.
        why: String,
    },
    /// The kernel's BTF is needed and cannot be read.
    #[error("the kernel's BTF is needed ({why}) and cannot be read")]
    KernelBtf {
        /// What needs it.
        why: String,
        /// The problem.
        #[source]
        source: crate::btf::BtfError,
    },
    /// `.BTF.ext` is malformed.
    #[error("invalid .BTF.ext")]
    BtfExt(#[source] BtfExtError),
    /// A CO-RE relocation failed.
    #[error("CO-RE")]
    Core(#[source] CoreError),
    /// The object's BTF cannot be fixed up for the kernel.
    #[error("BTF fix-up")]
    Fixup(#[source] FixupError),
    /// An extern cannot be resolved (the error names it).
    #[error(transparent)]
    Extern(ExternError),
    /// A global variable the user set does not exist or has another size.
    #[error("global variable `{name}`: {why}")]
    Global {
        /// The variable.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A struct_ops map could not be registered with the kernel.
    #[error("struct_ops map `{map}`: registering")]
    Register {
        /// The map.
        map: String,
        /// The kernel's refusal.
        #[source]
        source: oxbpf_prog::LinkError,
    },
    /// A USDT program could not be attached (the error names the program and probe).
    #[error(transparent)]
    Usdt(Box<oxbpf_prog::ProgramError>),
    /// A struct_ops map's value cannot be built for this kernel.
    #[error("struct_ops map `{map}`: {why}")]
    StructOps {
        /// The map.
        map: String,
        /// What does not fit.
        why: String,
    },
    /// A map could not be created.
    #[error("map `{map}`: {error}: {}{}", error.source, hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    MapCreate {
        /// The map.
        map: String,
        /// The kernel's answer (its text is part of the message).
        error: SysError,
        /// A likely cause, when one can be named.
        hint: Option<String>,
        /// The size the object left unset, when that is why.
        unset: Option<maps::Unset>,
    },
    /// A map operation after creation failed (initial data, freeze, slots).
    #[error("map `{map}`: {what}")]
    MapSetup {
        /// The map.
        map: String,
        /// What was being done.
        what: String,
        /// The failure.
        #[source]
        source: oxbpf_maps::MapError,
    },
    /// The arena cannot be mapped into this process or filled with its globals.
    #[error("arena map `{map}`: {why}")]
    Arena {
        /// The map.
        map: String,
        /// What failed.
        why: String,
    },
    /// An initial slot of a prog array or map of maps cannot be filled.
    #[error("map `{map}`: slot {slot} {why}")]
    Slot {
        /// The map.
        map: String,
        /// The slot.
        slot: u32,
        /// What is wrong.
        why: String,
    },
    /// Pinning, or reusing a pinned map, failed.
    #[error("map `{map}`: pinned at {path}: {why}")]
    Pin {
        /// The map.
        map: String,
        /// The pin path.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// Linking or relocating a program failed.
    #[error("relocation")]
    Reloc(#[source] RelocError),
    /// A program's section gives no type and none was set.
    #[error(
        "program `{prog}`: section `{section}` matches no SEC() pattern; set its type before load (`obj.program_mut(\"{prog}\")?.prog_type = Some(ProgType::XDP)`)"
    )]
    NoType {
        /// The program.
        prog: String,
        /// Its section.
        section: String,
    },
    /// A tracing program's attach target is not in the kernel.
    #[error("program `{prog}`: {why}")]
    AttachTarget {
        /// The program.
        prog: String,
        /// What was looked for.
        why: String,
    },
    /// A program needs CO-RE relocations and there is no BTF to resolve them against.
    #[error(transparent)]
    NoCoreTarget(Box<NoCoreTarget>),
    /// The kernel refused the program (boxed: the verifier's log makes it large).
    #[error(transparent)]
    Program(Box<ProgramRejected>),
    /// With `keep_going`, every selected program failed.
    #[error("no program loaded: {}", .0.iter().map(|f| crate::load::progs::chain(&f.error)).collect::<Vec<_>>().join("; "))]
    NothingLoaded(Vec<ProgramFailure>),
}

/// A program reaches a CO-RE relocation and no BTF can be had to resolve it against.
#[derive(Debug, thiserror::Error)]
#[error(
    "program `{prog}`: CO-RE relocation `{relocation}` ({kind}) at insn #{insn} of `{function}` needs the kernel's BTF, which cannot be read ({why}); without it the program would read the wrong fields, so it is not loaded. Give this kernel's BTF (LoadOptions::core_btf), e.g. from a BTF archive such as btfhub, or run a kernel built with CONFIG_DEBUG_INFO_BTF"
)]
pub struct NoCoreTarget {
    /// The program.
    pub prog: String,
    /// The function holding the first relocation it reaches.
    pub function: String,
    /// Its instruction, within the function.
    pub insn: usize,
    /// The relocation's local spec (`struct task_struct.real_parent`).
    pub relocation: String,
    /// Its kind (`byte_off`).
    pub kind: String,
    /// Why the kernel's BTF cannot be read.
    pub why: String,
}

/// The text of [`LoadError::NoPrivileges`]: `BPF_BTF_LOAD`, the first call, needs
/// `CAP_BPF`; the message says whether this process lacks it (read when shown).
fn not_permitted() -> String {
    use oxbpf_sys::caps::{self, Cap};
    match caps::effective() {
        Some(eff) => match caps::describe(&[Cap::BPF], eff) {
            Some(needs) => format!(
                "loading {needs}, or CAP_SYS_ADMIN before Linux 5.8; tracing programs need CAP_PERFMON too, network programs CAP_NET_ADMIN"
            ),
            None => "the kernel refuses this process BPF objects although it holds CAP_BPF: a security module (lockdown, SELinux, a BPF LSM) may forbid it".into(),
        },
        None => "loading needs CAP_BPF (or CAP_SYS_ADMIN before Linux 5.8), and CAP_PERFMON for tracing programs; run as root".into(),
    }
}

/// The kernel refused a program; `log` is the verifier's explanation.
#[derive(Debug, thiserror::Error)]
#[error("program `{prog}` ({section}): {summary}{}", explanation.as_deref().map(|e| format!("; {e}")).unwrap_or_default())]
pub struct ProgramRejected {
    /// The program.
    pub prog: String,
    /// Its section.
    pub section: String,
    /// One line: errno and the log's last line.
    pub summary: String,
    /// What oxbpf can tell about the cause (a poisoned CO-RE relocation, a missing
    /// kfunc, missing privileges...).
    pub explanation: Option<String>,
    /// The full verifier log.
    pub log: String,
    /// The kernel's answer (its text is part of the summary).
    pub error: SysError,
}

/// A program that did not load, with `keep_going`.
#[derive(Debug)]
pub struct ProgramFailure {
    /// The program.
    pub name: String,
    /// Why.
    pub error: LoadError,
}

/// What loading produced.
#[derive(Debug)]
pub struct Loaded {
    /// Maps: the object's, then one per global data section, then `.kconfig`.
    pub maps: Vec<Map>,
    /// Loaded programs.
    pub programs: Vec<Program>,
    /// Programs that failed, with `keep_going`.
    pub failures: Vec<ProgramFailure>,
    /// Every CO-RE relocation and what it resolved to.
    pub core: Vec<CoreOutcome>,
    /// Verifier logs kept (by program name), when a log level was asked for.
    pub logs: HashMap<String, String>,
    /// The object's BTF in the kernel, if it loaded.
    pub btf_fd: Option<OwnedFd>,
    /// Where each global variable lives.
    pub globals: Vec<GlobalSlot>,
    /// Each struct_ops map's value, ready for registering.
    pub struct_ops: Vec<StructOpsValue>,
    /// Each map's shared mapping, made on the first global variable access (`None`
    /// where the map cannot be mapped: the map syscalls are used instead).
    pub(crate) mapped: Vec<std::sync::OnceLock<Option<oxbpf_sys::mmap::MapMemory>>>,
    /// The value `LINUX_HAS_BPF_COOKIE` was given: how USDT programs find their specs.
    pub(crate) has_bpf_cookie: bool,
    /// The object's USDT maps and spec ids, made by the first USDT attachment.
    pub(crate) usdt: std::sync::OnceLock<oxbpf_prog::attach::usdt::UsdtMaps>,
}

/// A struct_ops map's value as the kernel takes it (the `bpf_struct_ops_<name>`
/// wrapper, with the program fds at the function pointers): what registering it sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructOpsValue {
    /// The map (in [`Loaded::maps`]).
    pub map: String,
    /// Registered through a bpf_link (`.struct_ops.link`) rather than by the update.
    pub link: bool,
    /// The value.
    pub value: Vec<u8>,
}

/// A global variable of the loaded object: its data map (an index into
/// [`Loaded::maps`]) and its place in the map's single value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalSlot {
    /// The variable.
    pub name: String,
    /// Its section (`.bss`, `.data`, `.rodata`, `.data.foo`).
    pub section: String,
    /// Its map, by index into `Loaded::maps`.
    pub map: usize,
    /// Byte offset in the map's value.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

impl Loaded {
    /// The map named `name` (data maps are named as the kernel shows them, e.g.
    /// `minimal.bss`; see [`data_map_name`]).
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps.iter().find(|m| m.name() == name)
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name() == name)
    }

    /// Registers struct_ops map `name` with the kernel (the TCP congestion control,
    /// the scheduler... becomes usable): its value written, and for a
    /// `.struct_ops.link` map a bpf_link made. Dropping the [`oxbpf_prog::Link`]
    /// unregisters it (a pinned link stays).
    ///
    /// # Errors
    /// No struct_ops map of that name was loaded; the kernel refuses (`EBUSY`: a struct
    /// of that name is registered already; no BPF trampolines on this kernel).
    #[doc(alias = "bpf_map__attach_struct_ops")]
    pub fn register_struct_ops(&self, name: &str) -> Result<oxbpf_prog::Link, LoadError> {
        let (Some(v), Some(map)) = (
            self.struct_ops.iter().find(|v| v.map == name),
            self.map(name),
        ) else {
            return Err(LoadError::StructOps {
                map: name.to_string(),
                why: "no struct_ops map of that name was loaded".into(),
            });
        };
        oxbpf_prog::Link::register_struct_ops(map.map_fd(), &v.value, v.link, name).map_err(
            |source| LoadError::Register {
                map: name.to_string(),
                source,
            },
        )
    }

    /// Makes the struct_ops link `link` register struct_ops map `name` of this object
    /// instead of the struct it registers now (libbpf's `bpf_link__update_map`): the
    /// kernel switches from one to the other with no gap.
    ///
    /// # Errors
    /// No `.struct_ops.link` map of that name was loaded; `link` is not a struct_ops
    /// link; the kernel refuses (another struct type; a congestion control of another
    /// name).
    #[doc(alias = "bpf_link__update_map")]
    pub fn update_struct_ops(
        &self,
        link: &mut oxbpf_prog::Link,
        name: &str,
    ) -> Result<(), LoadError> {
        let (Some(v), Some(map)) = (
            self.struct_ops.iter().find(|v| v.map == name && v.link),
            self.map(name),
        ) else {
            return Err(LoadError::StructOps {
                map: name.to_string(),
                why: "no .struct_ops.link map of that name was loaded (only link maps can replace a link's struct)".into(),
            });
        };
        link.update_struct_ops(map.map_fd(), &v.value, name)
            .map_err(|source| LoadError::Register {
                map: name.to_string(),
                source,
            })
    }

    /// The object's arena as this process maps it: the programs' arena pointers are
    /// addresses in it ([`oxbpf_sys::mmap::MapMemory::address`] is where it starts),
    /// read and written with volatile copies. `None` without an arena map. Its
    /// `__arena` globals are also [`Loaded::global`]s by name.
    pub fn arena(&self) -> Option<&oxbpf_sys::mmap::MapMemory> {
        self.maps
            .iter()
            .position(|m| m.map_type() == oxbpf_sys::uapi::MapType::ARENA)
            .and_then(|i| self.mapped.get(i)?.get()?.as_ref())
    }

    fn slot(&self, name: &str) -> Result<(&GlobalSlot, &Map), LoadError> {
        let slot = self
            .globals
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| LoadError::Global {
                name: name.to_string(),
                why: "no such global variable".into(),
            })?;
        let map = self.maps.get(slot.map).ok_or_else(|| LoadError::Global {
            name: name.to_string(),
            why: "its data map is gone".into(),
        })?;
        Ok((slot, map))
    }

    /// The shared mapping of the data map holding `slot`, made on first use; `None`
    /// for maps that are not mmapable (kernels before 5.5).
    fn memory(&self, slot: &GlobalSlot) -> Option<&oxbpf_sys::mmap::MapMemory> {
        let map = self.maps.get(slot.map)?;
        self.mapped
            .get(slot.map)?
            .get_or_init(|| {
                let writable = !slot.section.starts_with(".rodata");
                match map.mmap(writable) {
                    Ok(m) => {
                        log::debug!("{}: mapped into memory for global variables", map.name());
                        Some(m)
                    }
                    Err(e) => {
                        log::debug!("{e}; global variables go through map lookups and updates");
                        None
                    }
                }
            })
            .as_ref()
    }

    fn global_error(name: &str, e: &oxbpf_maps::MapError) -> LoadError {
        LoadError::Global {
            name: name.to_string(),
            why: crate::load::progs::chain(e),
        }
    }

    /// The current bytes of global variable `name` (what the programs see now).
    ///
    /// # Errors
    /// No such variable; the map cannot be read.
    pub fn global(&self, name: &str) -> Result<Vec<u8>, LoadError> {
        let (slot, map) = self.slot(name)?;
        if let Some(mem) = self.memory(slot) {
            return mem
                .read(slot.offset, slot.size)
                .map_err(|e| LoadError::Global {
                    name: name.to_string(),
                    why: format!("reading the mapped map: {e}"),
                });
        }
        let value = Self::section_value(name, slot, map)?;
        Ok(value[slot.offset..slot.offset + slot.size].to_vec())
    }

    /// Global variable `name` as a `T` (its size checked against the variable's, from
    /// the object): read in place where its data map is mapped into this process.
    ///
    /// # Errors
    /// No such variable; `T` of another size (the error names both); the map cannot
    /// be read.
    pub fn read_global<T: bytemuck::Pod>(&self, name: &str) -> Result<T, LoadError> {
        self.check_global_size::<T>(name)?;
        Ok(bytemuck::pod_read_unaligned(&self.global(name)?))
    }

    /// Writes global variable `name` from a `T`: in place where mapped, so the programs
    /// see it at once and the other variables are untouched.
    ///
    /// # Errors
    /// As [`Loaded::set_global`]; `T` of another size.
    pub fn write_global<T: bytemuck::Pod>(&self, name: &str, value: &T) -> Result<(), LoadError> {
        self.check_global_size::<T>(name)?;
        self.set_global(name, bytemuck::bytes_of(value))
    }

    /// Whether global variable `name` is read and written as memory (its data map is
    /// mmapable and mapped), rather than through map lookups and updates.
    pub fn global_in_memory(&self, name: &str) -> bool {
        self.slot(name)
            .is_ok_and(|(slot, _)| self.memory(slot).is_some())
    }

    fn check_global_size<T>(&self, name: &str) -> Result<(), LoadError> {
        let (slot, _) = self.slot(name)?;
        if slot.size == size_of::<T>() {
            return Ok(());
        }
        Err(LoadError::Global {
            name: name.to_string(),
            why: format!(
                "is {} bytes, and {} is {}",
                slot.size,
                std::any::type_name::<T>(),
                size_of::<T>()
            ),
        })
    }

    /// The one value of a data map, checked to hold `slot`: the kernel made the map
    /// with the section's size, so anything else is an error, not a default.
    fn section_value(name: &str, slot: &GlobalSlot, map: &Map) -> Result<Vec<u8>, LoadError> {
        let value = map
            .lookup(&0u32.to_ne_bytes())
            .map_err(|e| Self::global_error(name, &e))?
            .ok_or_else(|| LoadError::Global {
                name: name.to_string(),
                why: format!("its data map `{}` has no element 0", map.name()),
            })?;
        if value.len() < slot.offset + slot.size {
            return Err(LoadError::Global {
                name: name.to_string(),
                why: format!(
                    "lies at {}+{} beyond the {} bytes of its data map `{}`",
                    slot.offset,
                    slot.size,
                    value.len(),
                    map.name()
                ),
            });
        }
        Ok(value)
    }

    /// Sets global variable `name` while the programs run (`.bss`, `.data`; `.rodata`
    /// is frozen after load and refuses).
    ///
    /// # Errors
    /// No such variable; a value of another size; the map refuses (read-only).
    pub fn set_global(&self, name: &str, value: &[u8]) -> Result<(), LoadError> {
        let (slot, map) = self.slot(name)?;
        if value.len() != slot.size {
            return Err(LoadError::Global {
                name: name.to_string(),
                why: format!("is {} bytes, the value given is {}", slot.size, value.len()),
            });
        }
        if slot.section.starts_with(".rodata") {
            return Err(LoadError::Global {
                name: name.to_string(),
                why: format!(
                    "is in {}, which is read-only once loaded; set it before load",
                    slot.section
                ),
            });
        }
        if let Some(mem) = self.memory(slot) {
            // In place: only this variable's bytes change, even while programs write
            // the others.
            return mem
                .write(slot.offset, value)
                .map_err(|e| LoadError::Global {
                    name: name.to_string(),
                    why: format!("writing the mapped map: {e}"),
                });
        }
        // Read-modify-write of the section's one value: other variables keep theirs
        // (unless a program changes them between the two calls).
        let mut whole = Self::section_value(name, slot, map)?;
        whole[slot.offset..slot.offset + slot.size].copy_from_slice(value);
        map.update(&0u32.to_ne_bytes(), &whole, 0)
            .map_err(|e| Self::global_error(name, &e))
    }
}

/// The file name under which a map or program called `name` is pinned: bpffs refuses
/// names with a `.` (reserved for its own files), so, like libbpf, each becomes `_`
/// (`minimal.bss` is pinned as `minimal_bss`).
pub fn pin_name(name: &str) -> String {
    name.replace('.', "_")
}

/// The kernel name of the array map holding global data section `section` of an object
/// named `object` (libbpf `internal_map_name`): up to 8 characters of the object's name
/// and the section name (`.rodata`, `.bss`...); custom sections such as `.data.foo`
/// keep their own name. Characters the kernel refuses become `_`.
pub fn data_map_name(object: &str, section: &str) -> String {
    const LEN: usize = oxbpf_sys::uapi::BPF_OBJ_NAME_LEN;
    let sfx_len = section.len().clamp(7, LEN - 1);
    let pfx_len = if section.get(1..).is_some_and(|s| s.contains('.')) {
        0
    } else {
        (LEN - sfx_len - 1).min(object.len())
    };
    let name: String = object
        .chars()
        .take(pfx_len)
        .chain(section.chars().take(sfx_len))
        .collect();
    name.chars()
        .take(LEN - 1)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The object's name as libbpf forms it (`bpf_object__new`): the file name without its
/// directory, cut to 15 bytes (`BPF_OBJ_NAME_LEN - 1`), then at its first `.` —
/// `minimal.bpf.o` is `minimal`. Data map names start with it.
pub fn object_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let mut end = base.len().min(oxbpf_sys::uapi::BPF_OBJ_NAME_LEN - 1);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &base[..end];
    cut.split('.').next().unwrap_or(cut).to_string()
}

/// Loading an object into the kernel (see the [module docs](self) for the steps).
pub trait ObjectLoad {
    /// Loads the object: its maps, then its programs. The object is only borrowed: the
    /// same (edited) spec can be loaded again.
    ///
    /// # Errors
    /// The first failure (or, with `keep_going`, every program failing), naming the map,
    /// program, instruction or extern. Everything opened so far is closed.
    fn load(&self, opts: &LoadOptions) -> Result<Loaded, LoadError>;
}

impl ObjectLoad for Object {
    fn load(&self, opts: &LoadOptions) -> Result<Loaded, LoadError> {
        Loader::check(self)?;
        let token = token::prepare(opts)?;
        oxbpf_sys::bpf::with_token(token.as_ref().map(std::os::fd::AsFd::as_fd), || {
            Loader::new(self, opts)?.load()
        })
    }
}

/// One load under way, holding what each stage found for the next (as cilium/ebpf's
/// `collectionLoader` does). Every fd it holds closes when it is dropped, so a stage
/// that fails leaves nothing open.
struct Loader<'s> {
    /// The object: the spec as given, copied the first time CO-RE patches it (the
    /// caller's spec keeps the instructions as compiled).
    obj: Cow<'s, Object>,
    opts: &'s LoadOptions,
    /// What the kernel's BTF checker accepts (probed once per process).
    features: BtfFeatures,
    /// Indexes of the programs to load.
    selected: Vec<usize>,
    /// The running kernel's BTF, when CO-RE, externs or tracing programs need it.
    vmlinux: Option<Arc<Btf>>,
    /// Why the kernel's BTF cannot be read, when only CO-RE needed it.
    no_kernel_btf: Option<String>,
    /// Every CO-RE relocation and what it resolved to.
    core: Vec<CoreOutcome>,
    /// The object's BTF as sent to the kernel (fixed up, sanitized).
    types: Option<Vec<Type>>,
    /// That BTF in the kernel, if it loaded.
    btf_fd: Option<OwnedFd>,
    /// Where each `.kconfig` extern lives in the `.kconfig` map.
    kconfig_layout: Vec<KconfigSlot>,
    /// Kernel names (kfuncs, ksyms, attach targets) are looked up in vmlinux, then in
    /// modules.
    kernel: Option<KernelBtf>,
    /// The module BTF fds found, open until every program is loaded.
    module_fds: ModuleFds,
    /// The kernel side of each struct_ops map to create.
    struct_ops: Vec<struct_ops::KernStructOps>,
    /// What each struct_ops program is loaded for.
    struct_ops_targets: HashMap<String, struct_ops::ProgTarget>,
}

impl<'s> Loader<'s> {
    /// What can be told of the object before any system call: a byte order this kernel
    /// runs, and a `.BTF.ext` that could be read.
    fn check(spec: &Object) -> Result<(), LoadError> {
        // The kernel runs instructions in its own byte order; a big-endian build cannot
        // run on a little-endian machine (libbpf refuses it the same way).
        if spec.endian != Endian::NATIVE {
            return Err(LoadError::ForeignEndian {
                object: spec.endian,
                kernel: Endian::NATIVE,
            });
        }
        // A `.BTF.ext` that could not be read hides the CO-RE relocations: the programs
        // cannot be loaded as compiled.
        if let Some(Err(e)) = &spec.btf_ext {
            return Err(LoadError::BtfExt(e.clone()));
        }
        Ok(())
    }

    /// Checks that this kernel can take the object at all: the privileges and BTF
    /// features the first probe finds.
    fn new(spec: &'s Object, opts: &'s LoadOptions) -> Result<Loader<'s>, LoadError> {
        oxbpf_sys::trace::mark(
            "feature probes: which BTF kinds this kernel parses (once per process)",
        );
        let features = btf_features().map_err(|e| {
            if e.is_permission_denied() && oxbpf_sys::caps::in_user_namespace() {
                LoadError::NoToken(e)
            } else if e.is_permission_denied() {
                LoadError::NoPrivileges(e)
            } else {
                LoadError::Probe(e)
            }
        })?;
        Ok(Loader {
            obj: Cow::Borrowed(spec),
            opts,
            features,
            selected: Vec::new(),
            vmlinux: None,
            no_kernel_btf: None,
            core: Vec::new(),
            types: None,
            btf_fd: None,
            kconfig_layout: Vec::new(),
            kernel: None,
            module_fds: ModuleFds::default(),
            struct_ops: Vec::new(),
            struct_ops_targets: HashMap::new(),
        })
    }

    /// The stages, in libbpf's order (`bpf_object_prepare`, `bpf_object_load`).
    fn load(mut self) -> Result<Loaded, LoadError> {
        self.select_programs();
        self.find_kernel_btf()?;
        self.prepare_struct_ops()?;
        self.relocate_core()?;
        self.load_object_btf()?;
        let externs = self.resolve_externs()?;
        oxbpf_sys::trace::mark("maps, then global data (filled, .rodata frozen)");
        let mut made = maps::create_all(
            &self.obj,
            self.opts,
            self.types.as_deref(),
            self.btf_fd.as_ref(),
            &self.struct_ops,
        )?;
        made.kconfig = self.create_kconfig_map()?;
        let resolver = Resolver {
            map_fds: made.object_maps.iter().map(maps::fd_or_none).collect(),
            data_fds: made.data_maps.iter().map(maps::fd_or_none).collect(),
            kconfig_fd: made.kconfig.as_ref().map(maps::raw_fd),
            externs,
            decl_tags: self.features.decl_tag,
            arena_offset: made.arena.as_ref().map_or(0, |a| a.offset),
        };
        oxbpf_sys::trace::mark(
            "programs, with their relocations applied (and any probe a program needs)",
        );
        let programs = self.load_programs(&resolver)?;
        let struct_ops = self.struct_ops_values(&programs.programs)?;
        maps::bind_rodata(&self.obj, &made, &programs.programs);
        let failed: Vec<&str> = programs.failures.iter().map(|f| f.name.as_str()).collect();
        maps::fill_slots(&self.obj, &made, &programs.programs, &failed)?;
        let mut loaded = self.finish(made, programs);
        loaded.struct_ops = struct_ops;
        Ok(loaded)
    }

    /// The kernel's value of each struct_ops map (`bpf_map__init_kern_struct_ops`), and
    /// what each struct_ops program is loaded for; a struct_ops program that no created
    /// map uses after that is left out, as libbpf leaves it.
    fn prepare_struct_ops(&mut self) -> Result<(), LoadError> {
        let obj = &*self.obj;
        if !obj
            .maps
            .iter()
            .any(|m| m.autocreate && m.struct_ops.is_some())
        {
            return Ok(());
        }
        let kernel = self.kernel.as_mut().ok_or_else(|| LoadError::KernelBtf {
            why: "struct_ops maps fill kernel structs".into(),
            source: crate::btf::BtfError::NotBtf("no kernel BTF was read"),
        })?;
        let (plans, targets) = struct_ops::prepare(obj, kernel, &mut self.module_fds)?;
        self.selected.retain(|&i| {
            let p = &obj.programs[i];
            p.prog_type != Some(oxbpf_sys::uapi::ProgType::STRUCT_OPS)
                || targets.contains_key(p.name())
                || obj.struct_ops_maps_naming(p.name()).next().is_none()
        });
        self.struct_ops = plans;
        self.struct_ops_targets = targets;
        Ok(())
    }

    /// Each struct_ops map's kernel value with its programs' fds in place, ready for
    /// registering (the map update, or a link).
    fn struct_ops_values(&self, programs: &[Program]) -> Result<Vec<StructOpsValue>, LoadError> {
        use std::os::fd::{AsFd as _, AsRawFd as _};
        let mut out = Vec::new();
        for plan in &self.struct_ops {
            let spec = &self.obj.maps[plan.map];
            let mut value = plan.value.clone();
            for (at, name) in &plan.funcs {
                let Some(p) = programs.iter().find(|p| p.name() == name) else {
                    return Err(LoadError::StructOps {
                        map: spec.name.clone(),
                        why: format!("program `{name}` did not load"),
                    });
                };
                let fd = i64::from(p.as_fd().as_raw_fd());
                value[*at..*at + 8].copy_from_slice(&fd.to_ne_bytes());
            }
            out.push(StructOpsValue {
                map: spec.name.clone(),
                link: spec.struct_ops.as_ref().is_some_and(|st| st.link),
                value,
            });
        }
        Ok(out)
    }

    /// The programs to load: those [`Object::loads`] says a load loads.
    fn select_programs(&mut self) {
        let obj = &*self.obj;
        self.selected = (0..obj.programs.len())
            .filter(|&i| obj.loads(&obj.programs[i]))
            .collect();
    }

    /// The running kernel's BTF, when CO-RE, ksyms, kfuncs or a tracing program's
    /// attach target need it; or, when only CO-RE needs it and it cannot be read, why
    /// not (the programs with CO-RE relocations are then refused, the others load).
    fn find_kernel_btf(&mut self) -> Result<(), LoadError> {
        let obj = &*self.obj;
        let has_core = self.opts.core_btf.is_none() && obj.has_core_relocations();
        let has_ksyms = obj
            .externs
            .iter()
            .any(|e| matches!(e.kind, ExternKind::Ksym | ExternKind::Kfunc));
        let has_cookie = obj
            .externs
            .iter()
            .any(|e| e.name == "LINUX_HAS_BPF_COOKIE" || e.name == "LINUX_HAS_SYSCALL_WRAPPER");
        // Tracing programs attach by BTF id; struct_ops maps fill kernel structs.
        let tracing = self
            .selected
            .iter()
            .any(|&i| obj.programs[i].section_flags() & crate::section::flags::ATTACH_BTF != 0)
            || obj
                .maps
                .iter()
                .any(|m| m.autocreate && m.struct_ops.is_some());
        if !(has_core || has_ksyms || has_cookie || tracing) {
            return Ok(());
        }
        match Btf::from_sysfs() {
            Ok(b) => self.vmlinux = Some(Arc::new(b)),
            // CO-RE alone may find nothing to relocate; only fail when something needs it.
            Err(source) if has_ksyms || tracing => {
                return Err(LoadError::KernelBtf {
                    why: if tracing {
                        "tracing programs attach by BTF id".into()
                    } else {
                        "ksyms and kfuncs".into()
                    },
                    source,
                });
            }
            Err(e) if has_core => {
                log::debug!(
                    "cannot read the kernel's BTF ({e}); programs with CO-RE relocations cannot load"
                );
                self.no_kernel_btf = Some(crate::load::progs::chain(&e));
            }
            Err(e) => log::debug!("cannot read the kernel's BTF ({e}); nothing here needs it"),
        }
        self.kernel = self.vmlinux.clone().map(KernelBtf::new);
        Ok(())
    }

    /// CO-RE, against the user's BTF or the running kernel's. With neither, nothing is
    /// relocated and every program that reaches a relocation is refused when it is
    /// linked (libbpf refuses the whole object): never loaded as compiled.
    fn relocate_core(&mut self) -> Result<(), LoadError> {
        let targets = match (&self.opts.core_btf, &self.vmlinux) {
            (Some(b), _) => Some(CoreTargets::custom("custom BTF", b.clone())),
            (None, Some(v)) => Some(crate::modules::running_kernel_targets(v.clone())),
            (None, None) => None,
        };
        self.core = match (targets, &self.no_kernel_btf) {
            (Some(t), _) if self.obj.has_core_relocations() => {
                crate::core::relocate_programs(self.obj.to_mut(), t, Some(&self.selected))
                    .map_err(LoadError::Core)?
            }
            (None, Some(why)) => {
                crate::core::unresolvable(&self.obj, why).map_err(LoadError::Core)?
            }
            _ => Vec::new(),
        };
        Ok(())
    }

    /// The object's BTF, fixed up and sanitized, and loaded into the kernel. A kernel
    /// refusal is not fatal (libbpf: "BTF is optional, ignoring"): maps and programs
    /// then load without BTF.
    fn load_object_btf(&mut self) -> Result<(), LoadError> {
        let obj = &*self.obj;
        oxbpf_sys::trace::mark("the object's BTF, fixed up and sanitized");
        let Some(btf) = &obj.btf else {
            return Ok(());
        };
        let types = match btf_load::prepare(btf, obj, &self.features.sanitize_options()) {
            Ok(t) => t,
            Err(BtfLoadError::Fixup(e)) => return Err(LoadError::Fixup(e)),
            Err(e) => {
                log::warn!("{}: ignoring the object's BTF: {e}", obj.name);
                return Ok(());
            }
        };
        let bytes =
            crate::btf::encode::encode_with_strings(&types, Endian::NATIVE, btf.string_section());
        match bytes
            .map_err(BtfLoadError::Decode)
            .and_then(|b| btf_load::load_raw(&b))
        {
            Ok(fd) => self.btf_fd = Some(fd),
            Err(e) => log::warn!(
                "{}: the kernel refused the object's BTF; going on without it: {e}",
                obj.name
            ),
        }
        self.kconfig_layout = kconfig_layout(&types).map_err(LoadError::Fixup)?;
        self.types = Some(types);
        Ok(())
    }

    /// `.kconfig` values, ksyms and kfuncs resolved (kallsyms read only if a typeless
    /// ksym needs it).
    fn resolve_externs(&mut self) -> Result<Vec<crate::reloc::ExternValue>, LoadError> {
        let obj = &*self.obj;
        let mut kallsyms_cache: Option<Rc<Kallsyms>> = None;
        let mut kallsyms = || {
            if kallsyms_cache.is_none() {
                let wanted: Vec<&str> = obj
                    .externs
                    .iter()
                    .filter(|e| e.kind == ExternKind::KsymTypeless)
                    .map(|e| e.name.as_str())
                    .collect();
                kallsyms_cache = Kallsyms::load(&wanted).ok().map(Rc::new);
            }
            kallsyms_cache.clone()
        };
        crate::externs::resolve(
            obj,
            obj.btf.as_ref(),
            &self.kconfig_layout,
            self.kernel.as_mut(),
            &mut self.module_fds,
            &mut kallsyms,
        )
        .map_err(LoadError::Extern)
    }

    /// The `.kconfig` map, holding what this kernel's configuration says of each
    /// `.kconfig` extern.
    fn create_kconfig_map(&self) -> Result<Option<Map>, LoadError> {
        if self.kconfig_layout.is_empty() {
            return Ok(None);
        }
        let facts = KernelFacts::detect(self.vmlinux.as_deref());
        let value = crate::externs::kconfig_value(
            &self.obj,
            self.types.as_deref().unwrap_or(&[]),
            &self.kconfig_layout,
            &facts,
            &mut KernelConfig::load,
        )
        .map_err(LoadError::Extern)?;
        maps::create_kconfig(
            &self.obj,
            value,
            self.types.as_deref(),
            self.btf_fd.as_ref(),
        )
        .map(Some)
    }

    /// Everything loaded, with where each global variable lives for reading and
    /// writing it after load.
    fn finish(self, made: maps::Made, programs: progs::ProgramsLoaded) -> Loaded {
        // The arena's place among the maps created (those not created are skipped).
        let arena = made.arena.map(|a| {
            let at = made.object_maps[..a.index].iter().flatten().count();
            (at, a.offset, a.memory)
        });
        let mut maps: Vec<Map> = made.object_maps.into_iter().flatten().collect();
        let mut globals = Vec::new();
        if let (Some((at, start, _)), Some(section)) = (&arena, &self.obj.arena) {
            globals.extend(section.symbols.iter().map(|sym| GlobalSlot {
                name: sym.name.clone(),
                section: section.name.clone(),
                map: *at,
                offset: (start + sym.offset) as usize,
                size: sym.size as usize,
            }));
        }
        let mut index = maps.len();
        for (section, map) in self.obj.data.iter().zip(&made.data_maps) {
            if map.is_some() {
                globals.extend(section.symbols.iter().map(|sym| GlobalSlot {
                    name: sym.name.clone(),
                    section: section.name.clone(),
                    map: index,
                    offset: sym.offset as usize,
                    size: sym.size as usize,
                }));
                index += 1;
            }
        }
        maps.extend(made.data_maps.into_iter().flatten());
        maps.extend(made.kconfig);
        // Only USDT attachments ask (the answer reads the kernel's BTF).
        let has_bpf_cookie = maps.iter().any(|m| m.name() == usdt::SPECS_MAP)
            && KernelFacts::detect(self.vmlinux.as_deref()).has_bpf_cookie;
        let mapped: Vec<std::sync::OnceLock<Option<oxbpf_sys::mmap::MapMemory>>> =
            maps.iter().map(|_| std::sync::OnceLock::new()).collect();
        if let Some((at, _, memory)) = arena {
            if let Some(slot) = mapped.get(at) {
                let _ = slot.set(Some(memory));
            }
        }
        Loaded {
            has_bpf_cookie,
            usdt: std::sync::OnceLock::new(),
            mapped,
            maps,
            programs: programs.programs,
            failures: programs.failures,
            core: self.core,
            logs: programs.logs,
            btf_fd: self.btf_fd,
            globals,
            struct_ops: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_btf_ext_refuses_the_load_before_any_syscall() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/core.bpf.o");
        let mut obj = Object::parse("core.bpf.o", &std::fs::read(path).unwrap()).unwrap();
        obj.btf_ext = Some(Err(BtfExtError::NoBtf));
        let (result, calls) = oxbpf_sys::trace::recording(|| obj.load(&LoadOptions::default()));
        let err = result.unwrap_err();
        assert!(
            matches!(err, LoadError::BtfExt(BtfExtError::NoBtf)),
            "{err}"
        );
        assert!(calls.iter().all(|c| c.command.is_empty()), "{calls:?}");
    }

    #[test]
    fn data_map_names_follow_libbpf() {
        // The object name: up to 15 bytes of the file name, then up to its first dot.
        assert_eq!(object_name("testdata/minimal.bpf.o"), "minimal");
        assert_eq!(object_name("demo.bpf.o"), "demo");
        assert_eq!(object_name("a.b.c"), "a");
        assert_eq!(object_name("execsnoop"), "execsnoop");
        assert_eq!(
            object_name("/x/a_very_long_object_name.bpf.o"),
            "a_very_long_obj"
        );
        assert_eq!(object_name("abcdefghijklmn.o"), "abcdefghijklmn");
        assert_eq!(object_name("abcdefghijklmno.o"), "abcdefghijklmno");
        // Then 7 characters are kept for the section (more when it is longer).
        assert_eq!(data_map_name("minimal", ".bss"), "minimal.bss");
        assert_eq!(data_map_name("demo", ".rodata"), "demo.rodata");
        assert_eq!(data_map_name("attach", ".bss"), "attach.bss");
        assert_eq!(data_map_name("multi_prog", ".rodata"), "multi_pr.rodata");
        assert_eq!(data_map_name("multi_prog", ".bss"), "multi_pr.bss");
        assert_eq!(data_map_name("multi_prog", ".kconfig"), "multi_p.kconfig");
        assert_eq!(data_map_name("a", ".data"), "a.data");
        assert_eq!(data_map_name("", ".data"), ".data");
        // Custom sections keep their own name, cut to 15 characters.
        assert_eq!(data_map_name("multi_prog", ".data.foo"), ".data.foo");
        assert_eq!(
            data_map_name("x", ".rodata.a_very_long_section_name"),
            ".rodata.a_very_"
        );
        assert_eq!(data_map_name("x", ".rodata.str1.1"), ".rodata.str1.1");
        // Characters the kernel refuses become `_`.
        assert_eq!(data_map_name("we-ird", ".bss"), "we_ird.bss");
    }
}
