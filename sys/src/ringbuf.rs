//! Reading a `BPF_MAP_TYPE_RINGBUF` from user space, through its memory maps (the
//! protocol of the kernel's `kernel/bpf/ringbuf.c`, which libbpf's `ring_buffer__poll`
//! also follows):
//!
//! - page 0, mapped read-write: the consumer position, which user space advances;
//! - page 1, read-only: the producer position, which the kernel advances;
//! - from page 2, read-only: the data area, mapped twice in a row so a record that
//!   wraps around the end reads as one contiguous slice.
//!
//! Each record starts with an 8-byte header: its length (with a BUSY bit while the
//! program is still writing it and a DISCARD bit if it gave it up) and an offset the
//! kernel uses; data follows, and the next record starts at the next multiple of 8.
//! Positions are byte counters that only grow; `pos & (size - 1)` is the offset.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

const BUSY: u32 = 1 << 31;
const DISCARD: u32 = 1 << 30;
const HEADER: usize = 8;

/// A mapped ring buffer, read by one consumer.
#[derive(Debug)]
pub struct RingBuf {
    consumer: *mut u8,
    producer: *mut u8,
    page: usize,
    size: usize,
}

// SAFETY: the mappings are owned by this value; the consumer position is written only
// through `&mut self`, and the rest is read with atomic loads.
unsafe impl Send for RingBuf {}

fn map(fd: BorrowedFd<'_>, len: usize, prot: i32, offset: usize) -> io::Result<*mut u8> {
    // SAFETY: a new shared mapping of the map's fd; it touches no existing memory.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            offset as libc::off_t,
        )
    };
    if ptr == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(ptr.cast())
    }
}

impl RingBuf {
    /// Maps the ring buffer map `fd`, whose `max_entries` (the data size, a power of two
    /// multiple of the page size) is `size`.
    ///
    /// # Errors
    /// A size that is not a power of two; the `mmap` error.
    pub fn new(fd: BorrowedFd<'_>, size: u32) -> io::Result<RingBuf> {
        let size = size as usize;
        if !size.is_power_of_two() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: sysconf has no memory effects.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let consumer = map(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = match map(fd, page + 2 * size, libc::PROT_READ, page) {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: unmaps the mapping made just above, exactly once.
                unsafe { libc::munmap(consumer.cast(), page) };
                return Err(e);
            }
        };
        Ok(RingBuf {
            consumer,
            producer,
            page,
            size,
        })
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: the consumer page is mapped read-write for the life of `self` and its
        // first 8 bytes are the kernel's u64 consumer position, 8-aligned (page start).
        unsafe { &*self.consumer.cast::<AtomicU64>() }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: as above, for the producer page (read-only: loads only).
        unsafe { &*self.producer.cast::<AtomicU64>() }
    }

    /// Calls `f` with each record committed since the last call, in order, and returns
    /// how many it saw. Discarded records are skipped; a record still being written
    /// stops the walk until the next call.
    ///
    /// # Errors
    /// A header claiming a record longer than the ring: the ring is corrupt (or not a
    /// ring buffer), and reading stops there rather than run past the mapping.
    pub fn consume(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize, io::Error> {
        let mut n = 0;
        let mut cons = self.consumer_pos().load(Ordering::Acquire);
        loop {
            let prod = self.producer_pos().load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            let off = (cons as usize) & (self.size - 1);
            // SAFETY: the data area starts one page after the producer page and is
            // mapped twice (2 * size bytes), so [off, off + HEADER) is inside it.
            let header = unsafe {
                &*self
                    .producer
                    .add(self.page + off)
                    .cast::<std::sync::atomic::AtomicU32>()
            };
            let len = header.load(Ordering::Acquire);
            if len & BUSY != 0 {
                break;
            }
            let data_len = (len & !(BUSY | DISCARD)) as usize;
            if data_len > self.size - HEADER {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "ring buffer record at position {cons} claims {data_len} bytes, more than the {}-byte ring holds",
                        self.size
                    ),
                ));
            }
            if len & DISCARD == 0 {
                // SAFETY: the record lies within the double mapping (off < size and
                // data_len <= size), and the kernel no longer writes it (BUSY clear).
                let data = unsafe {
                    std::slice::from_raw_parts(
                        self.producer.add(self.page + off + HEADER),
                        data_len,
                    )
                };
                f(data);
                n += 1;
            }
            cons += ((HEADER + data_len + 7) & !7) as u64;
            self.consumer_pos().store(cons, Ordering::Release);
        }
        Ok(n)
    }
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        // SAFETY: both mappings were made in `new` with these lengths and are unmapped
        // exactly once.
        unsafe {
            libc::munmap(self.consumer.cast(), self.page);
            libc::munmap(self.producer.cast(), self.page + 2 * self.size);
        }
    }
}
