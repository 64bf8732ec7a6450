//! The memory of a `BPF_MAP_TYPE_RINGBUF`, mapped into this process (the layout of the
//! kernel's `kernel/bpf/ringbuf.c`):
//!
//! - page 0, mapped read-write: the consumer position, which user space advances;
//! - page 1, read-only: the producer position, which the kernel advances;
//! - from page 2, read-only: the data area, mapped twice in a row so a record that
//!   wraps around the end reads as one contiguous slice.
//!
//! Positions are byte counters that only grow; `pos & (size - 1)` is the offset in the
//! data area. Each record starts with an 8-byte header whose first word is its length,
//! with a BUSY bit while the program is still writing it and a DISCARD bit if it gave
//! it up; the next record starts at the next multiple of 8.
//!
//! This module owns the mappings and walks the records ([`RingBufMemory::drain`]):
//! what may be handed out as a slice depends on that walk (only a committed record at
//! the consumer position), so it stays beside the memory, in one tight loop. The
//! consumer API (a ring per map with its type checked, several rings in one epoll set,
//! errors naming the map) is `oxbpf_maps::ringbuf`'s.
//!
//! What makes the slices sound: the kernel writes a record's bytes only between
//! reserving it (when the producer position passes it, with BUSY set) and committing
//! it (BUSY cleared), and reuses its memory only once the consumer position has passed
//! it. So a slice is handed out only for the record at the consumer position once its
//! header says it is committed, and the consumer position moves past it only after the
//! callback that borrowed it has returned.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::bpf::MapFd;
use crate::mmap::shared as map;
use crate::uapi::MapType;

/// `BPF_RINGBUF_BUSY_BIT`: the record is still being written.
pub const BUSY: u32 = 1 << 31;
/// `BPF_RINGBUF_DISCARD_BIT`: the program gave the record up.
pub const DISCARD: u32 = 1 << 30;
/// `BPF_RINGBUF_HDR_SZ`: the header before each record's data.
pub const HEADER: usize = 8;

/// The mappings of one ring buffer map, read by one consumer: the consumer and
/// producer positions and the (double-mapped) data area, with bounds-checked access.
#[derive(Debug)]
pub struct RingBufMemory {
    consumer: *mut u8,
    producer: *mut u8,
    /// The data area: `producer` plus one page, `2 * size` bytes (mapped twice).
    data: *const u8,
    page: usize,
    size: usize,
    /// The map's id, held in [`CONSUMERS`] while this value lives (none for
    /// [`RingBufMemory::from_raw`]).
    id: Option<u32>,
}

/// The ids of the ring buffer maps this process consumes. Records are handed out as
/// slices of the mapping, which the kernel may reuse as soon as the consumer position
/// passes them: a second consumer of the same ring in this process could advance it
/// while a slice is still borrowed, so there is one consumer per ring. (Another
/// process consuming the same ring is outside what a type can guard, as writes through
/// `/proc/self/mem` are.)
static CONSUMERS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

// SAFETY: the mappings are owned by this value; the consumer position is written only
// through `&mut self`, and the rest is read with atomic loads or through slices of
// committed records.
unsafe impl Send for RingBufMemory {}

impl RingBufMemory {
    /// Maps the ring buffer map `map` (its data size is its `max_entries`); one
    /// consumer per ring in a process.
    ///
    /// # Errors
    /// `map` is not a ring buffer (`InvalidInput`); it already has a consumer in this
    /// process (`EBUSY`); the `mmap` error.
    pub fn new(map: &MapFd) -> io::Result<RingBufMemory> {
        if map.map_type() != MapType::RINGBUF {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("map is a {}, not a ring buffer", map.map_type()),
            ));
        }
        let id = crate::bpf::map_info(map.as_fd()).map_err(|e| e.source)?.id;
        {
            let mut held = CONSUMERS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if held.contains(&id) {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            held.push(id);
        }
        // SAFETY: `map` is a ring buffer map (checked above) whose data size is its
        // max_entries, which the kernel lays out as `from_raw` needs and never writes
        // a committed record the consumer position has not passed; this is its only
        // consumer in the process (registered above, released on drop).
        let ring = unsafe { RingBufMemory::from_raw(map.as_fd(), map.max_entries()) };
        match ring {
            Ok(mut ring) => {
                ring.id = Some(id);
                Ok(ring)
            }
            Err(e) => {
                release(id);
                Err(e)
            }
        }
    }

    /// Maps `fd` as a ring buffer of data size `size` (a power of two).
    ///
    /// # Safety
    /// `fd` must be laid out as a ring buffer map of data size `size`: a consumer page
    /// that may be mapped read-write, then a producer page and the data area twice,
    /// `2 * page + 2 * size` bytes in all, neither truncated nor written (but for the
    /// producer's side of the protocol) while the value lives; and nothing else may
    /// write its consumer position meanwhile. A ring buffer map of that
    /// `max_entries` with no other consumer is; [`RingBufMemory::new`] checks those.
    ///
    /// # Errors
    /// A size that is not a power of two, or smaller than a header; the `mmap` error.
    unsafe fn from_raw(fd: BorrowedFd<'_>, size: u32) -> io::Result<RingBufMemory> {
        let size = size as usize;
        if !size.is_power_of_two() || size < HEADER {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let page = crate::mmap::page_size();
        let len = size
            .checked_mul(2)
            .and_then(|d| d.checked_add(page))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let consumer = map(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = match map(fd, len, libc::PROT_READ, page) {
            Ok(p) => p,
            Err(e) => {
                // The mapping made just above, unmapped exactly once.
                crate::mmap::unmap(consumer, page);
                return Err(e);
            }
        };
        // SAFETY: the producer mapping is `page + 2 * size` bytes long.
        let data = unsafe { producer.add(page) }.cast_const();
        Ok(RingBufMemory {
            consumer,
            producer,
            data,
            page,
            size,
            id: None,
        })
    }

    /// A ring of data size `size` over a memfd of its own, laid out as the kernel lays
    /// out a ring buffer map (consumer page, producer page, then the data area twice):
    /// positions `consumer` and `producer`, and `data` in the data area (zeros after
    /// it). For the tests and fuzz targets of the consumer; sound because nothing else
    /// holds the memfd.
    ///
    /// # Errors
    /// `size` is not a power of two of at least 8 (`EINVAL`); `memfd_create`, the
    /// write or the `mmap` failed.
    #[cfg(any(test, feature = "testing"))]
    pub fn fake(size: u32, consumer: u64, producer: u64, data: &[u8]) -> io::Result<RingBufMemory> {
        use nix::sys::memfd::{MFdFlags, memfd_create};
        let len = size as usize;
        if !len.is_power_of_two() || len < HEADER {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let page = crate::mmap::page_size();
        let fd = memfd_create(c"ring", MFdFlags::MFD_CLOEXEC)?;
        let mut bytes = vec![0u8; 2 * page + 2 * len];
        bytes[..8].copy_from_slice(&consumer.to_ne_bytes());
        bytes[page..page + 8].copy_from_slice(&producer.to_ne_bytes());
        let n = data.len().min(len);
        bytes[2 * page..2 * page + n].copy_from_slice(&data[..n]);
        bytes[2 * page + len..2 * page + len + n].copy_from_slice(&data[..n]);
        std::io::Write::write_all(&mut std::fs::File::from(fd.try_clone()?), &bytes)?;
        // SAFETY: the memfd was laid out as a ring of `size` just above, and nothing
        // else holds it (its fds close as this returns; the mappings keep it), so
        // nothing writes or truncates it while it is mapped.
        unsafe { RingBufMemory::from_raw(fd.as_fd(), size) }
    }

    /// The size of the data area in bytes (a power of two, the map's `max_entries`).
    pub fn size(&self) -> usize {
        self.size
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

    /// Walks the records committed since the last call, in order, handing each to
    /// `f` (its data, or `None` for one the program discarded), and moves the consumer
    /// position past each as soon as `f` returns, so the kernel can reuse the space:
    /// the protocol of the kernel's `kernel/bpf/ringbuf.c`, as libbpf's
    /// `ringbuf_process_ring` follows it. Stops at the producer position, or at a
    /// record still being written (BUSY) until the next call.
    ///
    /// The walk is here, beside the memory, because what may be handed out as a slice
    /// depends on it: only a committed record at the consumer position, which the
    /// kernel does not write again until that position passes it (and it cannot while
    /// the slice is borrowed by `f`).
    ///
    /// # Errors
    /// [`RingError`]: a consumer position that is not a multiple of 8, or a header
    /// claiming a record longer than the ring. The walk stops there rather than read
    /// outside the mapping.
    pub fn drain(&mut self, mut f: impl FnMut(Option<&[u8]>)) -> Result<(), RingError> {
        let mut cons = self.consumer_pos().load(Ordering::Acquire);
        let mut prod = self.producer_pos().load(Ordering::Acquire);
        loop {
            // The producer position is loaded again only once the records it showed
            // are read.
            if cons >= prod {
                prod = self.producer_pos().load(Ordering::Acquire);
                if cons >= prod {
                    return Ok(());
                }
            }
            // Records start at multiples of 8; any other consumer position means the
            // consumer page was overwritten, and a header there would be misaligned.
            if cons % 8 != 0 {
                return Err(RingError::Misaligned { pos: cons });
            }
            let off = (cons as usize) & (self.size - 1);
            // SAFETY: `off < size` and a multiple of 8 (`size` is a power of two of at
            // least 8), so [off, off + 4) lies in the data area and is aligned for a
            // u32 (the area starts at a page).
            let header = unsafe { &*self.data.add(off).cast::<AtomicU32>() };
            let word = header.load(Ordering::Acquire);
            if word & BUSY != 0 {
                return Ok(());
            }
            let len = (word & !(BUSY | DISCARD)) as usize;
            if len > self.size - HEADER {
                return Err(RingError::TooLong { pos: cons, len });
            }
            if word & DISCARD == 0 {
                // SAFETY: `off < size` and `HEADER + len <= size`, so the bytes lie in
                // the data area mapped twice (2 * size bytes); BUSY is clear, so the
                // kernel has finished them and does not write them again until the
                // consumer position (stored only below, after `f`) passes them.
                f(Some(unsafe {
                    std::slice::from_raw_parts(self.data.add(off + HEADER), len)
                }));
            } else {
                f(None);
            }
            cons += ((HEADER + len + 7) & !7) as u64;
            self.consumer_pos().store(cons, Ordering::Release);
        }
    }
}

/// Why the walk of a ring buffer stopped short: the ring is corrupt (or the memory is
/// not a ring buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The consumer position is not a multiple of 8.
    Misaligned {
        /// The position.
        pos: u64,
    },
    /// A header claims more bytes than the ring holds.
    TooLong {
        /// The record's position.
        pos: u64,
        /// The length it claims.
        len: usize,
    },
}

fn release(id: u32) {
    CONSUMERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .retain(|&held| held != id);
}

impl Drop for RingBufMemory {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            release(id);
        }
        // Both mappings were made in `from_raw` with these lengths; unmapped once.
        crate::mmap::unmap(self.consumer, self.page);
        crate::mmap::unmap(self.producer, self.page + 2 * self.size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(size: usize, cons: u64, prod: u64, data: &[u8]) -> RingBufMemory {
        RingBufMemory::fake(size as u32, cons, prod, data).unwrap()
    }

    fn record(len: u32, data: &[u8]) -> Vec<u8> {
        let mut r = len.to_ne_bytes().to_vec();
        r.extend_from_slice(&[0; 4]);
        r.extend_from_slice(data);
        r.resize(r.len().next_multiple_of(8), 0);
        r
    }

    /// What `drain` hands out: each record's data, `None` for a discarded one.
    fn drained(mem: &mut RingBufMemory) -> (Vec<Option<Vec<u8>>>, Result<(), RingError>) {
        let mut seen = Vec::new();
        let r = mem.drain(|d| seen.push(d.map(<[u8]>::to_vec)));
        (seen, r)
    }

    #[test]
    fn committed_records_are_handed_out_and_passed() {
        let mut data = record(5, b"hello");
        data.extend(record(DISCARD | 2, b"no"));
        data.extend(record(1, b"!"));
        let mut mem = ring(4096, 0, data.len() as u64, &data);
        assert_eq!(mem.size(), 4096);
        let (seen, r) = drained(&mut mem);
        assert_eq!(r, Ok(()));
        assert_eq!(seen, [Some(b"hello".to_vec()), None, Some(b"!".to_vec())]);
        assert_eq!(mem.consumer_pos().load(Ordering::Relaxed), 48);
        // Nothing more until the producer moves.
        assert_eq!(drained(&mut mem), (vec![], Ok(())));
    }

    #[test]
    fn a_record_that_wraps_reads_as_one_slice() {
        let size = 4096;
        let mut data = vec![0u8; size];
        // A 16-byte record at offset 4088: header at the end, data from the start.
        data[size - 8..size - 4].copy_from_slice(&16u32.to_ne_bytes());
        data[..16].copy_from_slice(b"0123456789abcdef");
        let pos = (size - 8) as u64;
        let mut mem = ring(size, pos, pos + 24, &data);
        let (seen, r) = drained(&mut mem);
        assert_eq!(
            (seen, r),
            (vec![Some(b"0123456789abcdef".to_vec())], Ok(()))
        );
        assert_eq!(mem.consumer_pos().load(Ordering::Relaxed), pos + 24);
    }

    #[test]
    fn a_busy_record_stops_the_walk_and_a_corrupt_ring_is_an_error() {
        let mut mem = ring(4096, 0, 64, &record(BUSY | 16, &[1; 16]));
        assert_eq!(drained(&mut mem), (vec![], Ok(())));
        assert_eq!(mem.consumer_pos().load(Ordering::Relaxed), 0);
        let mut mem = ring(4096, 0, 64, &record(8192, &[]));
        assert_eq!(
            drained(&mut mem).1,
            Err(RingError::TooLong { pos: 0, len: 8192 })
        );
        let mut mem = ring(4096, 26, 64, &[]);
        assert_eq!(drained(&mut mem).1, Err(RingError::Misaligned { pos: 26 }));
    }

    #[test]
    fn a_size_that_is_not_a_power_of_two_is_refused() {
        for size in [3000, 4] {
            let err = RingBufMemory::fake(size, 0, 0, &[]).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        }
    }
}
