//! The memory of a perf ring for BPF output: one `PERF_COUNT_SW_BPF_OUTPUT` event per
//! CPU, whose fd a perf event array map holds at that CPU's index, so that
//! `bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, ...)` lands in the ring of the
//! CPU the program ran on (libbpf `perf_buffer__new`).
//!
//! A ring is a metadata page (`struct perf_event_mmap_page`: `data_head` advanced by the
//! kernel, `data_tail` by the reader) followed by a power-of-two number of data pages.
//! The kernel writes only between `data_head` and `data_tail` plus the ring's size, so
//! the bytes between tail and head are stable until the tail moves: [`PerfRing::read`]
//! copies only from there, and [`PerfRing::set_tail`] only moves the tail forward, up
//! to the head.
//!
//! This module owns the event and its mapping; the records (`perf_event_header`,
//! samples, lost counts) are parsed by `oxbpf_maps::perfbuf`, in safe Rust.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::SysError;
use crate::perf::{self, PerfEventAttr};

const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// Offsets of `data_head` and `data_tail` in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;

/// One CPU's perf ring for BPF output: the event and its shared mapping.
#[derive(Debug)]
pub struct PerfRing {
    cpu: u32,
    event: OwnedFd,
    base: *mut u8,
    page: usize,
    size: usize,
}

// SAFETY: the mapping is owned by this value; the tail is written only through
// `&mut self`, the head read with atomic loads, and data copied out of the part of the
// ring the kernel does not write.
unsafe impl Send for PerfRing {}

impl PerfRing {
    /// Opens a BPF output event on `cpu` with a ring of `pages` data pages (a power of
    /// two), maps it read-write (so the kernel honours the tail) and enables it. `None`
    /// when the CPU is possible but offline: no sample can come from it.
    ///
    /// # Errors
    /// `pages` is not a power of two (`EINVAL`, before any call); `perf_event_open`,
    /// `mmap` or the enable failed.
    pub fn open(cpu: u32, pages: usize) -> Result<Option<PerfRing>, SysError> {
        let einval = || SysError::new("perf ring", io::Error::from_raw_os_error(libc::EINVAL));
        if !pages.is_power_of_two() {
            return Err(einval());
        }
        let page = crate::mmap::page_size();
        let size = page.checked_mul(pages).ok_or_else(einval)?;
        let len = size.checked_add(page).ok_or_else(einval)?;
        let cpu_arg = i32::try_from(cpu).map_err(|_| einval())?;
        let mut attr = PerfEventAttr::new(perf::TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT);
        attr.sample_type = perf::SAMPLE_RAW;
        attr.sample_period = 1;
        attr.wakeup_events = 1;
        let event = match perf::perf_event_open(&attr, -1, cpu_arg) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENODEV) => return Ok(None),
            Err(e) => return Err(e),
        };
        let base = crate::mmap::shared(event.as_fd(), len, libc::PROT_READ | libc::PROT_WRITE, 0)
            .map_err(|e| SysError::new("mmap(perf ring)", e))?;
        let ring = PerfRing {
            cpu,
            event,
            base,
            page,
            size,
        };
        perf::enable(ring.event.as_fd())?;
        Ok(Some(ring))
    }

    /// The CPU whose samples land here.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }

    /// The size of the data area in bytes (a power of two).
    pub fn size(&self) -> usize {
        self.size
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: the metadata page is mapped for the life of the ring; `off` is one of
        // the 8-aligned u64 fields of perf_event_mmap_page (DATA_HEAD, DATA_TAIL).
        unsafe { &*self.base.add(off).cast::<AtomicU64>() }
    }

    /// `data_head`: the end of what the kernel has written, an acquire load (the bytes
    /// before it may be read).
    pub fn head(&self) -> u64 {
        self.word(DATA_HEAD).load(Ordering::Acquire)
    }

    /// `data_tail`: the end of what has been read.
    pub fn tail(&self) -> u64 {
        self.word(DATA_TAIL).load(Ordering::Relaxed)
    }

    /// Moves `data_tail` to `pos`, a release store: the kernel may then write over
    /// what is before it.
    ///
    /// # Errors
    /// `pos` before the tail or past the head (`ERANGE`): the tail only moves over
    /// what the kernel has written.
    pub fn set_tail(&mut self, pos: u64) -> io::Result<()> {
        if pos < self.tail() || pos > self.head() {
            return Err(io::Error::from_raw_os_error(libc::ERANGE));
        }
        self.word(DATA_TAIL).store(pos, Ordering::Release);
        Ok(())
    }

    /// Copies the `out.len()` bytes at position `pos` into `out`, the part past the end
    /// of the data area from its start.
    ///
    /// # Errors
    /// Bytes outside what the kernel has written and the tail has not passed
    /// (`ERANGE`): the kernel may be writing them.
    pub fn read(&self, pos: u64, out: &mut [u8]) -> io::Result<()> {
        let range = || io::Error::from_raw_os_error(libc::ERANGE);
        let (tail, head) = (self.tail(), self.head());
        let end = pos.checked_add(out.len() as u64).ok_or_else(range)?;
        if pos < tail || end > head || head - tail > self.size as u64 {
            return Err(range());
        }
        let at = (pos as usize) & (self.size - 1);
        // `out.len() <= head - tail <= size`, so the two parts fit the data area.
        let first = out.len().min(self.size - at);
        let (a, b) = out.split_at_mut(first);
        // SAFETY: [at, at + first) and [0, b.len()) lie in the data area (one page after
        // the metadata page, `size` bytes), between the tail and the head, which the
        // kernel does not write; `out` is ours and cannot overlap the mapping.
        unsafe {
            let data = self.base.add(self.page);
            std::ptr::copy_nonoverlapping(data.add(at), a.as_mut_ptr(), a.len());
            std::ptr::copy_nonoverlapping(data, b.as_mut_ptr(), b.len());
        }
        Ok(())
    }
}

impl AsFd for PerfRing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.event.as_fd()
    }
}

impl Drop for PerfRing {
    fn drop(&mut self) {
        // The map may still hold the event: stop it producing into a ring nobody reads.
        let _ = perf::disable(self.event.as_fd());
        // This ring's mapping, made in `open`, unmapped exactly once.
        crate::mmap::unmap(self.base, self.page + self.size);
    }
}
