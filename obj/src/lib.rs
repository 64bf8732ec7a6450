//! BPF objects as values: a clang-built `.bpf.o` read into an [`Object`], its BTF and
//! `.BTF.ext`, the `SEC()` table, CO-RE against target BTFs given as values, linking
//! and relocation into the instructions `BPF_PROG_LOAD` takes, disassembly.
//!
//! Where it sits (see `DESIGN.md`): the pure stages. Bytes in, values out: no file is
//! opened, no system call made, no libc in the dependency tree, so everything here runs
//! anywhere, unprivileged, with the same answer on every machine. `oxbpf-loader` reads
//! files and the kernel's BTF, and loads what these stages produce.
//!
//! ```
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/minimal.bpf.o"))?;
//! let obj = oxbpf_obj::Object::parse("minimal.bpf.o", &bytes)?;
//! for p in &obj.programs {
//!     println!("{} in {}: {} instructions", p.name(), p.section(), p.function.insns.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod btf;
pub mod core;
pub mod disasm;
pub mod edit;
mod elf;
pub mod embedded;
pub mod globals;
pub mod link;
pub mod object;
pub mod reloc;
pub mod section;
mod sort;

pub use edit::EditError;
pub use elf::{ElfError, ElfErrorKind, btf_section};
pub use object::Object;
pub use sort::sort_by_key;

#[cfg(test)]
mod test_files;
