//! `oxbpf btf dump FILE|vmlinux [--format raw|c]`: BTF for people.
//!
//! `raw` lists every type as `bpftool btf dump` does; `c` writes a header clang compiles
//! (`oxbpf btf dump vmlinux --format c > vmlinux.h`, the first step of every CO-RE
//! tutorial, with no bpftool). FILE is raw BTF or an ELF object with `.BTF`; `vmlinux`
//! is the running kernel's; a file under `/sys/kernel/btf/` other than vmlinux is a
//! module's split BTF and is read on top of vmlinux.

use std::path::Path;
use std::sync::Arc;

use oxbpf_loader::btf::{Btf, dump};
use oxbpf_loader::prelude::*;

use crate::CliError;

/// Output format of `btf dump`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One line per type, as bpftool prints them.
    #[default]
    Raw,
    /// A C header.
    C,
}

/// Opens what the user named: `vmlinux`, a module's sysfs file, or a file.
pub fn open(source: &str) -> Result<Btf, CliError> {
    if source == "vmlinux" {
        return Ok(Btf::from_sysfs()?);
    }
    let path = Path::new(source);
    if let Ok(rest) = path.strip_prefix("/sys/kernel/btf") {
        let module = rest.to_string_lossy();
        if module == "vmlinux" {
            return Ok(Btf::from_sysfs()?);
        }
        let base = Arc::new(Btf::from_sysfs()?);
        return Ok(Btf::from_sysfs_module(&module, base)?);
    }
    Ok(Btf::from_file(path)?)
}

/// Runs `btf dump`.
pub fn dump(source: &str, format: Format) -> Result<String, CliError> {
    let btf = open(source)?;
    Ok(match format {
        Format::Raw => dump::raw::dump(&btf)?,
        Format::C => dump::c::dump(&btf)?,
    })
}
