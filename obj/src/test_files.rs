//! Files for the unit tests only: the library takes bytes, the tests read testdata and
//! the running kernel's BTF with these.

use crate::btf::{Btf, BtfError};
use crate::{ElfError, ElfErrorKind, Object};

impl Object {
    /// Reads and parses a file (tests only).
    pub(crate) fn open(path: impl AsRef<std::path::Path>) -> Result<Object, ElfError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let data = std::fs::read(path).map_err(|e| ElfError {
            file: name.clone(),
            kind: ElfErrorKind::Io(e),
        })?;
        Object::parse_file_bytes(&name, &data)
    }
}

impl Btf {
    /// The running kernel's BTF, read (tests only).
    pub(crate) fn from_sysfs() -> Result<Btf, BtfError> {
        let path = "/sys/kernel/btf/vmlinux";
        let data = std::fs::read(path).map_err(|e| BtfError::Io {
            path: path.into(),
            message: e.to_string(),
        })?;
        Btf::parse(data)
    }
}
