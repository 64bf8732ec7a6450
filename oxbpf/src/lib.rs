//! # oxbpf
//!
//! Load eBPF objects built for libbpf — `*.bpf.o` files from clang, libbpf-tools,
//! xdp-tools, sched_ext, the kernel's selftests — from Rust, without libbpf, libelf or a
//! C toolchain: oxbpf reads the ELF and BTF itself, applies CO-RE relocations against the
//! running kernel, creates the maps, loads the programs with the instructions libbpf
//! would send (same program tags), and attaches them.
//!
//! ## The five steps of an application
//!
//! ```no_run
//! use oxbpf::prelude::*;
//! use oxbpf::{LoadOptions, Object};
//!
//! # fn main() -> Result<(), oxbpf::Error> {
//! // 1. Open: the object as a value (programs, maps, globals), nothing sent yet.
//! let mut obj = Object::open("minimal.bpf.o")?;
//! // 2. Edit before load: `const volatile` settings, map sizes, which programs.
//! obj.set_global("my_pid", &(std::process::id() as i32).to_ne_bytes())?;
//! // 3. Load: maps created, programs relocated and verified.
//! let loaded = obj.load(&LoadOptions::default())?;
//! // 4. Attach: where the program's SEC() name says (or to an interface, cgroup, ...).
//! let prog = loaded.program("handle_tp").expect("the object has it");
//! let _link = match prog.attach_auto()? {
//!     oxbpf::program::AutoAttach::Attached(link) => link,
//!     oxbpf::program::AutoAttach::NeedsTarget(what) => panic!("needs {what}"),
//! };
//! // 5. Read what the programs did: maps, globals, ring buffers.
//! println!("{:?}", loaded.global("my_pid")?);
//! # Ok(()) }
//! // Dropping the link detaches the program; dropping `loaded` closes everything.
//! ```
//!
//! ## Where things are
//!
//! | module | what |
//! |---|---|
//! | crate root | [`Object`] (the object as a value), [`LoadOptions`], [`Loaded`] (what a load made), [`Program`], [`Link`], [`Map`], [`Error`] |
//! | [`load`] | loading: options, the loaded object, its errors; struct_ops registration, USDT attachment, global variables |
//! | [`program`] | programs and attaching them to every kind of hook, [`Link`]s that detach on drop or stay pinned |
//! | [`maps`] | maps (lookup, update, iteration, batches, pinning), ring and perf buffers, polling |
//! | [`object`], [`btf`], [`section`], [`core`], [`link`](mod@link) | the object model, BTF, the `SEC()` table, CO-RE, static linking: pure, no system call |
//! | [`inventory`] | what is loaded in the kernel (by id, by pin) |
//! | [`skel`] | what the skeletons `oxbpf gen skeleton` and `oxbpf-build` generate call |
//! | [`uapi`] | the kernel's ABI types: `ProgType`, `MapType`, `AttachType`, ... |
//!
//! The crate is a facade over oxbpf's layered crates (`oxbpf-obj`, `-sys`, `-maps`,
//! `-prog`, `-loader`), whose items it re-exports: one dependency for an application.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use oxbpf_loader::load::{LoadError, LoadOptions, Loaded};
pub use oxbpf_loader::{ElfError, Object};
pub use oxbpf_maps::{Map, MapError};
pub use oxbpf_prog::{Link, LinkError, Program, ProgramError};

/// Loading: [`LoadOptions`], [`Loaded`] and its errors, struct_ops registration, USDT
/// attachment ([`Loaded::attach_usdt`]), global variables ([`Loaded::global`]).
pub mod load {
    pub use oxbpf_loader::load::*;
}

/// Programs and attaching them: one method per kind of hook on [`Program`], each
/// returning a [`Link`]; auto-attach from the `SEC()` name
/// ([`Program::attach_auto`]); USDT
/// ([`attach::usdt`](crate::program::attach::usdt)); raw sockets and tracefs for the kinds that use them.
pub mod program {
    pub use oxbpf_prog::*;
}

/// Maps: the untyped [`Map`] (lookup, update, delete, iteration, batch
/// operations, pinning), [`ringbuf::RingBuf`](crate::maps::ringbuf::RingBuf) and [`perfbuf::PerfBuf`](crate::maps::perfbuf::PerfBuf) consumers, and
/// [`events::poll`](crate::maps::events::poll) to wait on several at once.
pub mod maps {
    pub use oxbpf_maps::*;
}

pub use oxbpf_loader::{btf, core, embedded, inventory, link, object, section, uapi};

pub mod skel;

/// The traits that make `Object::open`, `object.load()` and `Btf::from_sysfs()` read as
/// methods: `use oxbpf::prelude::*;`.
pub mod prelude {
    pub use oxbpf_loader::prelude::*;
}

/// Any error of oxbpf, so an application can use `?` across opening, loading, attaching
/// and reading maps. Each variant keeps the error of the step, with its source chain,
/// boxed: the steps' errors are large, and `Result<T, Error>` stays two words (what
/// clippy's `result_large_err` asks of every function returning it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening or parsing an object.
    #[error(transparent)]
    Object(Box<ElfError>),
    /// Loading an object, or a step on the loaded object (globals, registration).
    #[error(transparent)]
    Load(Box<LoadError>),
    /// Attaching a program, or another program operation.
    #[error(transparent)]
    Program(Box<ProgramError>),
    /// Detaching, pinning or updating a link.
    #[error(transparent)]
    Link(Box<LinkError>),
    /// A map operation.
    #[error(transparent)]
    Map(Box<MapError>),
    /// An edit of the object before load (`set_global`, `map_mut`, ...).
    #[error(transparent)]
    Edit(Box<oxbpf_loader::EditError>),
    /// A generated skeleton does not fit the object or what the load made (a map or
    /// program left out before load).
    #[error("skeleton: {0}")]
    Skeleton(String),
}

/// `From` each step's error, boxing it.
macro_rules! boxed_from {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Error {
                Error::$variant(Box::new(e))
            }
        }
    )*};
}

boxed_from!(
    Object(ElfError),
    Load(LoadError),
    Program(ProgramError),
    Link(LinkError),
    Map(MapError),
    Edit(oxbpf_loader::EditError),
);

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_is_small_enough_to_return_everywhere() {
        assert!(size_of::<super::Error>() <= 3 * size_of::<usize>());
    }
}
