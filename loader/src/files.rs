//! Objects and BTF from files: what the pure crate (`oxbpf-obj`) leaves to its caller.
//! `Object::open(path)` and `Btf::from_file(path)` read as before once these traits are
//! in scope (`use oxbpf_loader::{ObjectFile as _, BtfFile as _}`); the kernel's own BTF
//! is mapped rather than copied where the kernel allows it.

use std::path::Path;
use std::sync::Arc;

use oxbpf_obj::btf::{Btf, BtfError};
use oxbpf_obj::{ElfError, ElfErrorKind, Object};
use oxbpf_sys::mmap::Mmap;

/// Opening an object file.
pub trait ObjectFile: Sized {
    /// Reads and parses an object file (or a program embedding one: a libbpf
    /// skeleton).
    ///
    /// # Errors
    /// [`ElfError`] naming the file when it cannot be read or is malformed.
    fn open(path: impl AsRef<Path>) -> Result<Self, ElfError>;
}

impl ObjectFile for Object {
    fn open(path: impl AsRef<Path>) -> Result<Object, ElfError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let data = std::fs::read(path).map_err(|e| ElfError {
            file: name.clone(),
            kind: ElfErrorKind::Io(e),
        })?;
        Object::parse_file_bytes(&name, &data)
    }
}

/// Reading BTF from files: a BTF file of any kernel, and the running kernel's.
pub trait BtfFile: Sized {
    /// Reads a BTF file: raw BTF, or an ELF object with a `.BTF` section.
    ///
    /// # Errors
    /// [`BtfError::Io`] if the file cannot be read; parse errors otherwise.
    fn from_file(path: &Path) -> Result<Self, BtfError>;

    /// The running kernel's BTF: `/sys/kernel/btf/vmlinux`, mapped when the kernel
    /// allows it (6.16+), read otherwise.
    ///
    /// # Errors
    /// [`BtfError::Io`] when the kernel has no BTF (built without
    /// `CONFIG_DEBUG_INFO_BTF`); parse errors for a corrupt file.
    fn from_sysfs() -> Result<Self, BtfError>;

    /// A module's BTF from `/sys/kernel/btf/<module>`, on top of `vmlinux`.
    ///
    /// # Errors
    /// As [`BtfFile::from_sysfs`].
    fn from_sysfs_module(module: &str, vmlinux: Arc<Btf>) -> Result<Self, BtfError>;
}

impl BtfFile for Btf {
    fn from_file(path: &Path) -> Result<Btf, BtfError> {
        let data = std::fs::read(path).map_err(|e| io_err(path, &e))?;
        if data.starts_with(b"\x7fELF") {
            let bytes = oxbpf_obj::btf_section(&data)
                .ok_or(BtfError::NotBtf("ELF file without a .BTF section"))?;
            return Btf::parse(bytes.to_vec());
        }
        Btf::parse(data)
    }

    fn from_sysfs() -> Result<Btf, BtfError> {
        from_sysfs_path(Path::new("/sys/kernel/btf/vmlinux"), None)
    }

    fn from_sysfs_module(module: &str, vmlinux: Arc<Btf>) -> Result<Btf, BtfError> {
        from_sysfs_path(&Path::new("/sys/kernel/btf").join(module), Some(vmlinux))
    }
}

fn from_sysfs_path(path: &Path, base: Option<Arc<Btf>>) -> Result<Btf, BtfError> {
    match Mmap::sysfs_btf(path) {
        Ok(m) => Btf::parse_shared(Box::new(m), base),
        Err(e) => {
            log::debug!("BTF: cannot map {} ({e}); reading it", path.display());
            let data = std::fs::read(path).map_err(|e| io_err(path, &e))?;
            match base {
                Some(b) => Btf::parse_split(data, b),
                None => Btf::parse(data),
            }
        }
    }
}

fn io_err(path: &Path, e: &std::io::Error) -> BtfError {
    BtfError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}
