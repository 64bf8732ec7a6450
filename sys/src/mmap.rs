//! Read-only memory maps of kernel BTF files.
//!
//! `/sys/kernel/btf/vmlinux` is about 5 MB. Since Linux 6.16 sysfs lets it be mapped
//! read-only, which avoids copying it into the heap (libbpf does the same). Only files
//! the kernel itself serves and never changes are mapped: a regular file could be
//! truncated by another process while mapped, turning reads into SIGBUS, so everything
//! else is read into memory instead.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// A read-only, private mapping of a whole file.
#[derive(Debug)]
pub struct Mmap {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value; sharing `&[u8]` views of
// immutable memory across threads is sound.
unsafe impl Send for Mmap {}
// SAFETY: as above: no interior mutability.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps a file under `/sys/kernel/btf/`.
    ///
    /// # Errors
    /// `InvalidInput` for paths elsewhere; the `open`/`mmap` error otherwise (older
    /// kernels refuse to map sysfs BTF: read the file instead).
    pub fn sysfs_btf(path: &Path) -> io::Result<Mmap> {
        if !path.starts_with("/sys/kernel/btf/") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only /sys/kernel/btf files are mapped",
            ));
        }
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty file"));
        }
        // SAFETY: a fresh read-only private mapping of `len` bytes of an open file; no
        // existing memory is affected. The kernel never changes or truncates sysfs BTF.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: ptr as *const u8,
            len,
        })
    }
}

impl std::ops::Deref for Mmap {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl AsRef<[u8]> for Mmap {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping this value created; no views outlive it.
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.len);
        }
    }
}
