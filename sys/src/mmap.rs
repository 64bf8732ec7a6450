//! Memory maps: read-only maps of kernel BTF files, and shared maps of BPF array maps
//! created with `BPF_F_MMAPABLE` (global data), read and written in place.
//!
//! `/sys/kernel/btf/vmlinux` is about 5 MB. Since Linux 6.16 sysfs lets it be mapped
//! read-only, which avoids copying it into the heap (libbpf does the same). Only files
//! the kernel itself serves and never changes are mapped: a regular file could be
//! truncated by another process while mapped, turning reads into SIGBUS, so everything
//! else is read into memory instead.

use std::fs::File;
use std::io;
use std::num::NonZeroUsize;
use std::path::Path;

use nix::sys::mman::{MapFlags, ProtFlags, mmap};

/// The size of a memory page: the unit of every mapping, and of ring buffer sizes.
pub fn page_size() -> usize {
    use nix::unistd::{SysconfVar, sysconf};
    // POSIX requires _SC_PAGESIZE to be supported, and Linux always answers it.
    sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(4096)
}

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
        let len = NonZeroUsize::new(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "empty file"))?;
        // SAFETY: a fresh read-only private mapping of `len` bytes of an open file; no
        // existing memory is affected. The kernel never changes or truncates sysfs BTF.
        let ptr = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ,
                MapFlags::MAP_PRIVATE,
                &file,
                0,
            )
        }?;
        Ok(Mmap {
            ptr: ptr.as_ptr().cast::<u8>().cast_const(),
            len: len.get(),
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
        unmap(self.ptr.cast_mut(), self.len);
    }
}

/// A shared mapping of an mmapable BPF array map's values (`BPF_F_MMAPABLE`, 5.5+):
/// what user space writes here the programs see at once, and the other way round,
/// with no syscall and no read-modify-write of the whole value.
///
/// The programs may write this memory at any moment, so it is never handed out as a
/// Rust slice: bytes are copied in and out with volatile accesses.
#[derive(Debug)]
pub struct MapMemory {
    ptr: *mut u8,
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is owned by this value and only reached through volatile copies;
// concurrent access from several threads is what the memory is for (as with the BPF
// programs), with no Rust references into it.
unsafe impl Send for MapMemory {}
// SAFETY: as above.
unsafe impl Sync for MapMemory {}

impl MapMemory {
    /// Maps the first `len` bytes of the values of the array map `map` (the kernel
    /// rounds the mapping to whole pages), writable or read-only (a frozen map, such as
    /// `.rodata`, refuses writable mappings).
    ///
    /// # Errors
    /// The map is not mmapable (`EINVAL`/`ENOTSUPP`), or is frozen and `writable` was
    /// asked (`EPERM`).
    pub fn map(
        map: std::os::fd::BorrowedFd<'_>,
        len: usize,
        writable: bool,
    ) -> io::Result<MapMemory> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        Ok(MapMemory {
            ptr: shared(map, len, prot, 0)?,
            len,
            writable,
        })
    }

    /// Maps a BPF arena (`BPF_MAP_TYPE_ARENA`, 6.9): all `len` bytes of it, shared
    /// and writable, at `address` when the map was created with one (its `map_extra`;
    /// programs and user space then see the same addresses), else where the kernel
    /// picks — and the first mapping fixes where the programs' pointers point. Unlike
    /// libbpf's `MAP_FIXED`, an address already in use is an error (`EEXIST`), not
    /// silently replaced.
    ///
    /// # Errors
    /// The kernel refuses (`EEXIST`: something is mapped there; `EINVAL`/`EBUSY`: a
    /// size or address the arena does not have).
    pub fn map_arena(
        map: std::os::fd::BorrowedFd<'_>,
        len: usize,
        address: u64,
    ) -> io::Result<MapMemory> {
        let size =
            NonZeroUsize::new(len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let at =
            usize::try_from(address).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let flags = if at == 0 {
            MapFlags::MAP_SHARED
        } else {
            MapFlags::MAP_SHARED | MapFlags::MAP_FIXED_NOREPLACE
        };
        // SAFETY: a new shared mapping of the arena; with an address, MAP_FIXED_NOREPLACE
        // fails rather than replace anything mapped there, so no existing memory is
        // affected.
        let ptr = unsafe {
            mmap(
                NonZeroUsize::new(at),
                size,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                flags,
                map,
                0,
            )
        }?;
        if at != 0 && ptr.as_ptr() as usize != at {
            // Kernels before 4.17 take MAP_FIXED_NOREPLACE as a hint only.
            unmap(ptr.as_ptr().cast(), len);
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        Ok(MapMemory {
            ptr: ptr.as_ptr().cast(),
            len,
            writable: true,
        })
    }

    /// The address the mapping starts at in this process: for an arena, what the
    /// programs' pointers into it are relative to.
    pub fn address(&self) -> usize {
        self.ptr as usize
    }

    /// The mapped length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: a zero length is refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `len` bytes at `offset` out of the map.
    ///
    /// # Errors
    /// The range is outside the mapping.
    pub fn read(&self, offset: usize, len: usize) -> io::Result<Vec<u8>> {
        self.check(offset, len)?;
        Ok((0..len)
            // SAFETY: in bounds (checked above) of a live readable mapping; volatile
            // because a BPF program may write the byte concurrently.
            .map(|i| unsafe { self.ptr.add(offset + i).read_volatile() })
            .collect())
    }

    /// Copies `data` into the map at `offset`.
    ///
    /// # Errors
    /// A read-only mapping (`EPERM`); the range is outside the mapping.
    pub fn write(&self, offset: usize, data: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        self.check(offset, data.len())?;
        for (i, b) in data.iter().enumerate() {
            // SAFETY: in bounds (checked above) of a live writable mapping; volatile
            // because a BPF program may read the byte concurrently.
            unsafe { self.ptr.add(offset + i).write_volatile(*b) };
        }
        Ok(())
    }

    fn check(&self, offset: usize, len: usize) -> io::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(io::Error::from_raw_os_error(libc::ERANGE)),
        }
    }
}

impl Drop for MapMemory {
    fn drop(&mut self) {
        // No references into it exist: all access is by copy.
        unmap(self.ptr, self.len);
    }
}

/// A new shared mapping of `len` bytes of `fd` from `offset` (BPF maps: arrays, ring
/// buffers; perf rings); the caller unmaps it with [`unmap`].
pub(crate) fn shared(
    fd: std::os::fd::BorrowedFd<'_>,
    len: usize,
    prot: i32,
    offset: usize,
) -> io::Result<*mut u8> {
    let len = NonZeroUsize::new(len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let offset =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a new shared mapping of the fd at an address the kernel picks; it touches
    // no existing memory.
    let ptr = unsafe {
        mmap(
            None,
            len,
            ProtFlags::from_bits_retain(prot),
            MapFlags::MAP_SHARED,
            fd,
            offset,
        )
    }?;
    Ok(ptr.as_ptr().cast())
}

/// Unmaps a mapping made by this module (`Mmap`, `MapMemory`, [`shared`]): called once,
/// by the owner of the mapping as it goes, with the pointer and length it was made with.
pub(crate) fn unmap(ptr: *mut u8, len: usize) {
    let Some(ptr) = std::ptr::NonNull::new(ptr.cast::<libc::c_void>()) else {
        return;
    };
    // SAFETY: `ptr` and `len` are those of a mapping this crate made, and its owner is
    // dropping it: no reference into it outlives this call.
    let _ = unsafe { nix::sys::mman::munmap(ptr, len) };
}
