//! Where pins can go: `BPF_OBJ_PIN` works only on a bpffs, and fails with a bare
//! `ENOENT` or `EPERM` otherwise. [`prepare_pin_dir`] checks the directory first so the
//! error says which of the two it is, and creates the missing directories of a path
//! under a bpffs (as libbpf creates a pin path's parent directory), never elsewhere.

use std::io;
use std::path::{Path, PathBuf};

/// `BPF_FS_MAGIC` of `include/uapi/linux/magic.h`: `statfs`'s type of a bpffs.
const BPF_FS_MAGIC: u64 = 0xcafe_4a11;

/// A directory that cannot hold pins.
#[derive(Debug, thiserror::Error)]
pub enum PinDirError {
    /// The directory exists on another file system.
    #[error(
        "{shown} is not on a bpffs: mount one there (mount -t bpf bpf {shown}){or}",
        shown = .0.display(),
        or = if .0.starts_with("/sys/fs/bpf") { "" } else { " or choose a directory under one (/sys/fs/bpf)" }
    )]
    NotBpffs(PathBuf),
    /// The directory is missing and the part of its path that exists is no bpffs.
    #[error(
        "{} does not exist, and {} is not a bpffs to create it in: mount one (mount -t bpf bpf DIR) or choose a directory under one (/sys/fs/bpf)",
        dir.display(),
        existing.display()
    )]
    Missing {
        /// The directory asked for.
        dir: PathBuf,
        /// Its nearest ancestor that exists.
        existing: PathBuf,
    },
    /// The directory could not be read or created.
    #[error("{}: {source}", dir.display())]
    Io {
        /// The directory asked for.
        dir: PathBuf,
        /// What the file system answered.
        source: io::Error,
    },
}

/// Whether `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> io::Result<bool> {
    let fs = nix::sys::statfs::statfs(path).map_err(io::Error::from)?;
    #[allow(
        clippy::useless_conversion,
        clippy::unnecessary_cast,
        reason = "the field's integer type differs between libcs and architectures"
    )]
    let magic = fs.filesystem_type().0 as u64;
    Ok(magic == BPF_FS_MAGIC)
}

/// Makes `dir` ready to hold pins: it must be on a bpffs; if it is missing and the
/// part of its path that exists is a bpffs, the missing directories are created
/// (mode 0700, as libbpf does). Returns whether anything was created.
///
/// # Errors
/// [`PinDirError`] says what is wrong, and what to mount.
pub fn prepare_pin_dir(dir: &Path) -> Result<bool, PinDirError> {
    let io_err = |source| PinDirError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    if dir.exists() {
        return match is_bpffs(dir).map_err(io_err)? {
            true => Ok(false),
            false => Err(PinDirError::NotBpffs(dir.to_path_buf())),
        };
    }
    let existing = dir
        .ancestors()
        .skip(1)
        .find(|a| a.as_os_str().is_empty() || a.exists())
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .unwrap_or(Path::new("/"));
    if !is_bpffs(existing).map_err(io_err)? {
        return Err(PinDirError::Missing {
            dir: dir.to_path_buf(),
            existing: existing.to_path_buf(),
        });
    }
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err)?;
    log::debug!("created {} for pins", dir.display());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_off_bpffs_is_refused_and_nothing_is_created() {
        let tmp = std::env::temp_dir().join(format!("oxbpf-pin-dir-{}", std::process::id()));
        let err = prepare_pin_dir(&tmp.join("a/b")).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{}/a/b does not exist, and {} is not a bpffs to create it in",
                tmp.display(),
                std::env::temp_dir().display()
            )),
            "{err}"
        );
        assert!(!tmp.exists());
        let here = std::env::temp_dir();
        assert!(
            prepare_pin_dir(&here)
                .unwrap_err()
                .to_string()
                .contains("is not on a bpffs: mount one there (mount -t bpf bpf"),
        );
    }
}
