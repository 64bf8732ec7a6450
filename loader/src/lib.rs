//! The library's front door: read a clang-built BPF object, then (in later stages)
//! relocate and load it. `Object::open(path)?` gives the pure model of the object.
//!
//! Where it sits (see `DESIGN.md`): `elf` turns bytes into an [`Object`]; `btf` parses
//! type information; `section` is libbpf's `SEC()` table. These stages are pure: they
//! never make a syscall, run unprivileged, and give the same answer on every machine.
//! Only the load stage talks to the kernel, through `oxbpf-sys`.
//!
//! ```no_run
//! let obj = oxbpf_loader::Object::open("testdata/minimal.bpf.o")?;
//! for p in &obj.programs {
//!     println!("{} in {}: {} instructions", p.name(), p.section(), p.function.insns.len());
//! }
//! # Ok::<(), oxbpf_loader::ElfError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod btf;
pub mod core;
pub mod disasm;
mod elf;
pub mod embedded;
pub mod externs;
pub mod globals;
pub mod inflate;
pub mod load;
pub mod modules;
pub mod object;
pub mod probe;
pub mod reloc;
pub mod section;
mod sort;

pub use elf::{ElfError, ElfErrorKind};
pub use object::Object;
