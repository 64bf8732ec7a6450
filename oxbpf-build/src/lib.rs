//! # oxbpf-build
//!
//! Rust skeletons of BPF objects, as `bpftool gen skeleton` writes C ones and
//! libbpf-cargo Rust ones — from the object's BTF and model alone, in pure Rust: no C
//! compiler, no libbpf, no bpftool when the object is already built.
//!
//! A skeleton is one Rust module per object with
//! - `#[repr(C)]` types for every struct, union and enum the object's global variables,
//!   map keys and values use (and any named with [`Skeleton::types`], such as a ring
//!   buffer's record), each with compile-time assertions of its size and field offsets
//!   against the BTF;
//! - `OpenSkel`, whose `rodata`/`data`/`bss` fields are the object's global variables as
//!   one typed struct per section, set before load;
//! - `Skel`, the loaded object: `skel.maps()` and `skel.progs()` by name (maps typed by
//!   their BTF key and value), `skel.bss()` and the others reading and writing each
//!   variable in the kernel's memory (mapped into the process where the kernel allows),
//!   `skel.attach()` attaching every program its `SEC()` names a target for;
//! - the object itself, embedded with `include_bytes!`: the binary needs no file.
//!
//! ## From a build script
//!
//! ```no_run
//! // build.rs, in `fn main()`:
//! let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
//! oxbpf_build::Skeleton::new("src/bpf/bootstrap.bpf.o")
//!     .types(&["event"])
//!     .generate_to(&out)
//!     .unwrap();
//! println!("cargo::rerun-if-changed=src/bpf/bootstrap.bpf.o");
//! ```
//!
//! ```ignore
//! // main.rs: the module `bootstrap`
//! include!(concat!(env!("OUT_DIR"), "/bootstrap.skel.rs"));
//!
//! let mut open = bootstrap::OpenSkel::open()?;
//! open.rodata.min_duration_ns = 100_000_000;
//! let mut skel = open.load()?;
//! skel.attach()?;
//! ```
//!
//! Given the C source instead, [`Source`] compiles it with clang first (as
//! libbpf-cargo does): `Source::new("src/bpf/bootstrap.bpf.c").compile_to(&out)?`
//! returns the object's [`Skeleton`].
//!
//! From the command line: `oxbpf gen skeleton bootstrap.bpf.o > bootstrap_skel.rs`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod names;
mod rust_types;
mod skel;

use std::path::{Path, PathBuf};

pub use names::{ident, type_ident};

/// Why a skeleton could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The object file could not be read.
    #[error("{}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (in the message: the error is this one's own).
        error: std::io::Error,
    },
    /// The object could not be parsed.
    #[error(transparent)]
    Object(#[from] oxbpf_obj::ElfError),
    /// The object's BTF could not be read or a type could not be written.
    #[error("{object}: {why}")]
    Types {
        /// The object.
        object: String,
        /// What is wrong, naming the type or variable.
        why: String,
    },
    /// Compiling a source with clang failed (the message holds clang's).
    #[error("{}: {why}", source_file.display())]
    Compile {
        /// The C source.
        source_file: PathBuf,
        /// What clang said, or why it could not run.
        why: String,
    },
    /// Writing the skeleton failed.
    #[error("{}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why (in the message).
        error: std::io::Error,
    },
}

/// A skeleton to generate for one object.
#[derive(Clone, Debug)]
#[must_use]
pub struct Skeleton {
    object: PathBuf,
    name: Option<String>,
    embed: Option<String>,
    types: Vec<String>,
}

/// A `.bpf.c` source to compile with clang before generating its skeleton, as
/// libbpf-cargo's `SkeletonBuilder` does: for projects that build their BPF side in the
/// same `cargo build`. (With an object already built, [`Skeleton::new`] needs no C
/// compiler.)
#[derive(Clone, Debug)]
#[must_use]
pub struct Source {
    source: PathBuf,
    clang: String,
    args: Vec<String>,
}

impl Source {
    /// The source at `source`, compiled by `clang` (override with [`Source::clang`] or
    /// the `CLANG` environment variable) with `-O2 -g --target=bpf` (libbpf's flags:
    /// `-g` makes the BTF the skeleton is generated from).
    pub fn new(source: impl AsRef<Path>) -> Source {
        Source {
            source: source.as_ref().to_path_buf(),
            clang: std::env::var("CLANG").unwrap_or_else(|_| "clang".into()),
            args: Vec::new(),
        }
    }

    /// The clang to run (`clang-19`, a path).
    pub fn clang(mut self, clang: &str) -> Source {
        self.clang = clang.to_string();
        self
    }

    /// More arguments for clang (`-I` directories, `-D__TARGET_ARCH_x86`).
    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Source {
        self.args
            .extend(args.iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Compiles the source to `DIR/NAME.bpf.o` (NAME: the source's file name up to its
    /// first `.`), returning the skeleton of that object.
    ///
    /// # Errors
    /// clang cannot be run, or fails (its messages in the error).
    pub fn compile_to(&self, dir: impl AsRef<Path>) -> Result<Skeleton, BuildError> {
        let err = |why: String| BuildError::Compile {
            source_file: self.source.clone(),
            why,
        };
        let object = dir
            .as_ref()
            .join(format!("{}.bpf.o", file_stem(&self.source)));
        let out = std::process::Command::new(&self.clang)
            .args(["-O2", "-g", "--target=bpf", "-c"])
            .args(&self.args)
            .arg(&self.source)
            .arg("-o")
            .arg(&object)
            .output()
            .map_err(|e| err(format!("running {}: {e}", self.clang)))?;
        if !out.status.success() {
            return Err(err(format!(
                "{} failed ({}):\n{}",
                self.clang,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            )));
        }
        Ok(Skeleton::new(object))
    }
}

impl Skeleton {
    /// The skeleton of the object at `object` (a `.bpf.o` built by clang, or linked by
    /// `oxbpf link`).
    pub fn new(object: impl AsRef<Path>) -> Skeleton {
        Skeleton {
            object: object.as_ref().to_path_buf(),
            name: None,
            embed: None,
            types: Vec::new(),
        }
    }

    /// The module's name (default: the object's file name up to its first `.`, as
    /// libbpf names objects: `bootstrap.bpf.o` is `bootstrap`).
    pub fn name(mut self, name: &str) -> Skeleton {
        self.name = Some(name.to_string());
        self
    }

    /// The path `include_bytes!` embeds, as written in the generated file (relative
    /// paths are relative to the file that `include!`s the skeleton; default: the
    /// object's absolute path, right for a build script's `OUT_DIR`).
    pub fn embed_path(mut self, path: &str) -> Skeleton {
        self.embed = Some(path.to_string());
        self
    }

    /// Named structs, unions or enums of the object's BTF to generate as well, though
    /// no global variable or map uses them: a ring buffer's record type, for example
    /// (`event` or `struct event`).
    pub fn types<S: AsRef<str>>(mut self, names: &[S]) -> Skeleton {
        self.types
            .extend(names.iter().map(|n| n.as_ref().to_string()));
        self
    }

    /// The skeleton's Rust source.
    ///
    /// # Errors
    /// The object cannot be read or parsed; its BTF is malformed; a type asked for with
    /// [`Skeleton::types`] is not in it.
    pub fn generate(&self) -> Result<String, BuildError> {
        let bytes = std::fs::read(&self.object).map_err(|error| BuildError::Read {
            path: self.object.clone(),
            error,
        })?;
        let file = self.object.display().to_string();
        let object = oxbpf_obj::Object::parse(&file, &bytes)?;
        let embed = match &self.embed {
            Some(e) => e.clone(),
            None => std::path::absolute(&self.object)
                .map_err(|error| BuildError::Read {
                    path: self.object.clone(),
                    error,
                })?
                .display()
                .to_string(),
        };
        let base = self
            .object
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = self.name.clone().unwrap_or_else(|| file_stem(&self.object));
        skel::generate(&skel::Input {
            object: &object,
            file_name: &base,
            module: &name,
            embed: &embed,
            extra_types: &self.types,
        })
        .map_err(|why| BuildError::Types { object: file, why })
    }

    /// Writes the skeleton to `DIR/NAME.skel.rs` and returns that path.
    ///
    /// # Errors
    /// As [`Skeleton::generate`]; the file cannot be written.
    pub fn generate_to(&self, dir: impl AsRef<Path>) -> Result<PathBuf, BuildError> {
        let text = self.generate()?;
        let name = self.name.clone().unwrap_or_else(|| file_stem(&self.object));
        let path = dir.as_ref().join(format!("{name}.skel.rs"));
        std::fs::write(&path, text).map_err(|error| BuildError::Write {
            path: path.clone(),
            error,
        })?;
        Ok(path)
    }
}

/// A file's name up to its first `.`, as libbpf names objects (`bootstrap.bpf.o` is
/// `bootstrap`).
fn file_stem(path: &Path) -> String {
    path.file_name()
        .map(|n| {
            let n = n.to_string_lossy();
            n.split('.').next().unwrap_or_default().to_string()
        })
        .unwrap_or_default()
}
