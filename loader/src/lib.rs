//! The kernel side of oxbpf: read objects and the kernel's BTF from files, probe what
//! the kernel has, resolve externs, create maps and load programs.
//!
//! Where it sits (see `DESIGN.md`): on top of `oxbpf-obj`, the pure stages (ELF, BTF,
//! CO-RE, linking), re-exported here so one import reaches both; [`files`] opens
//! objects and BTF files, [`load`] makes the `bpf()` calls through `oxbpf-sys`.
//!
//! ```no_run
//! use oxbpf_loader::ObjectFile as _;
//! let obj = oxbpf_loader::Object::open("testdata/minimal.bpf.o")?;
//! for p in &obj.programs {
//!     println!("{} in {}: {} instructions", p.name(), p.section(), p.function.insns.len());
//! }
//! # Ok::<(), oxbpf_loader::ElfError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod btf_load;
pub mod externs;
pub mod files;
pub mod inflate;
pub mod inventory;
pub mod load;
pub mod modules;
pub mod probe;

/// The `bpf()` calls a load makes, as they happen: stage marks and each call with its
/// arguments and the kernel's answer (`oxbpf explain` prints them).
pub mod trace {
    pub use oxbpf_sys::trace::{Call, mark, recording};
}

/// Which capabilities this process holds, and which ones the kernel checks for each
/// program and map type: for naming the missing one when a step is refused.
pub use oxbpf_sys::caps;

/// Whether a directory can hold pins (a bpffs), and creating one's missing directories
/// there: for pin directories given by the user.
pub use oxbpf_sys::bpffs;

/// The kernel's ABI types (`ProgType`, `MapType`, `bpf_prog_info`...), as the loader
/// and the kernel exchange them.
pub use oxbpf_sys::uapi;

pub use files::{BtfFile, ObjectFile};
pub use oxbpf_obj::{
    EditError, ElfError, ElfErrorKind, Object, btf, core, disasm, embedded, globals, link, object,
    reloc, section,
};

/// The traits that let `Object::open`, `Btf::from_file`/`from_sysfs` and `object.load()`
/// read as methods: `use oxbpf_loader::prelude::*;`.
pub mod prelude {
    pub use crate::files::{BtfFile as _, ObjectFile as _};
    pub use crate::load::ObjectLoad as _;
}
