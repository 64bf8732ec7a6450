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
//! This module owns the mappings and gives sound, checked access to them:
//! [`RingBufMemory`]. The consumer protocol (walking the records, stopping at a busy
//! one, skipping discarded ones, what is an error) is `oxbpf_maps::ringbuf`'s, in safe
//! Rust.
//!
//! What makes the slices sound: the kernel writes a record's bytes only between
//! reserving it (when the producer position passes it, with BUSY set) and committing
//! it (BUSY cleared), and reuses its memory only once the consumer position has passed
//! it. So a slice is handed out only for the record at the consumer position, once the
//! producer has passed it and its header says it is committed; the consumer position
//! moves only through `&mut self`, so no slice outlives the record, and only to the end
//! of that record, so it stays at a record start. That is why this module knows the
//! header's bits and the 8-byte rounding too: it checks what the consumer in
//! `oxbpf-maps` computes.

use std::cell::Cell;
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
    /// The consumer position: read from the page when mapped, then moved only by
    /// [`RingBufMemory::set_consumer`] (which stores it to the page too).
    cons: u64,
    /// The producer position last loaded.
    prod_seen: Cell<u64>,
    /// The end of the committed record at the consumer position (header, data and
    /// padding to 8), once seen: the kernel no longer writes up to there until the
    /// consumer position passes it. Not above `cons` while unknown. What the checks of
    /// `sample` and `set_consumer` use, so that they load nothing the consumer has not
    /// loaded already.
    committed_end: Cell<u64>,
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
// committed records. (Not `Sync`: the remembered positions are `Cell`s.)
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
        let mut ring = RingBufMemory {
            consumer,
            producer,
            data,
            page,
            size,
            cons: 0,
            prod_seen: Cell::new(0),
            committed_end: Cell::new(0),
            id: None,
        };
        ring.cons = ring.consumer_pos().load(Ordering::Acquire);
        Ok(ring)
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

    /// The consumer position: where the next record to read starts. (This value alone
    /// moves it, so it is the position it last stored, or read when it was mapped.)
    pub fn consumer(&self) -> u64 {
        self.cons
    }

    /// The producer position: the end of the last record reserved (records before it
    /// may still be busy). An acquire load: headers it has passed may be read.
    pub fn producer(&self) -> u64 {
        let prod = self.producer_pos().load(Ordering::Acquire);
        self.prod_seen.set(prod);
        prod
    }

    /// The first word of the record header at position `pos` (length and BUSY/DISCARD
    /// bits), an acquire load: once BUSY is clear, the record's data is there. `None`
    /// for a position that is not a multiple of 8 (no header starts there).
    pub fn header_at(&self, pos: u64) -> Option<u32> {
        if pos % 8 != 0 {
            return None;
        }
        let off = (pos as usize) & (self.size - 1);
        // SAFETY: `off` is below `size` and a multiple of 8 (`size` is a power of two
        // of at least 8), so [off, off + 4) lies in the data area, and is aligned for
        // a u32 (the area starts at a page).
        let header = unsafe { &*self.data.add(off).cast::<AtomicU32>() };
        let word = header.load(Ordering::Acquire);
        if pos == self.cons {
            self.note_committed(word);
        }
        Some(word)
    }

    /// Remembers the end of the record at the consumer position if `word`, its
    /// header loaded after `prod_seen`, says it is committed: a header the producer
    /// had passed was written by the reservation, and BUSY clear means the data is
    /// complete and stays so until the consumer position passes the record.
    fn note_committed(&self, word: u32) {
        let reserved = self
            .prod_seen
            .get()
            .checked_sub(self.cons)
            .is_some_and(|ahead| ahead >= HEADER as u64);
        let len = (word & !(BUSY | DISCARD)) as usize;
        if reserved && word & BUSY == 0 && len <= self.size - HEADER {
            // At most `size` past `cons`, which is a multiple of 8 (header_at).
            let end = self.cons.checked_add(((HEADER + len + 7) & !7) as u64);
            self.committed_end.set(end.unwrap_or(0));
        }
    }

    /// The end of the committed record at the consumer position, if it is: from what
    /// the consumer loaded, else loaded here.
    fn committed_end(&self) -> Option<u64> {
        if self.committed_end.get() <= self.cons {
            // The producer first (acquire), then the header (header_at notes it).
            self.producer();
            self.header_at(self.cons)?;
        }
        let end = self.committed_end.get();
        (end > self.cons).then_some(end)
    }

    /// `len` bytes of the data of the record at position `pos`, contiguous even when
    /// the record wraps around the end of the data area. `None` unless `pos` is the
    /// consumer position, the record there is committed, and `len` is at most its
    /// length with padding: the kernel does not write those bytes until the consumer
    /// position moves past them, which it cannot while the slice is borrowed.
    pub fn sample(&self, pos: u64, len: usize) -> Option<&[u8]> {
        // committed_end() > cons == pos.
        if pos != self.cons || len as u64 > (self.committed_end()? - pos).saturating_sub(8) {
            return None;
        }
        let off = (pos as usize) & (self.size - 1);
        // SAFETY: `off < size` and `HEADER + len <= size` (note_committed), so the
        // bytes lie within the data area mapped twice (2 * size bytes); the kernel does
        // not write them while the record is committed and the consumer position
        // (moved only through `&mut self`) is at it.
        Some(unsafe { std::slice::from_raw_parts(self.data.add(off + HEADER), len) })
    }

    /// Moves the consumer position to `pos`, a release store: the kernel may reuse the
    /// memory before it. `pos` must be the consumer position (nothing moves) or the end
    /// of the committed record there: its position plus header and length rounded up
    /// to 8.
    ///
    /// # Errors
    /// Any other position (`InvalidInput`): the record at the consumer position is not
    /// committed, or `pos` is not its end. The position is left as it was.
    pub fn set_consumer(&mut self, pos: u64) -> io::Result<()> {
        if pos == self.cons {
            return Ok(());
        }
        if self.committed_end() != Some(pos) {
            return Err(self.not_a_record_end(pos));
        }
        // `committed_end` is now `cons`: unknown for the next record.
        self.cons = pos;
        self.consumer_pos().store(pos, Ordering::Release);
        Ok(())
    }

    #[cold]
    fn not_a_record_end(&self, pos: u64) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "ring buffer consumer position {pos} is not the end of a committed record at {}",
                self.cons
            ),
        )
    }
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

    #[test]
    fn a_committed_record_is_sampled_then_passed() {
        let mut mem = ring(4096, 0, 16, &record(5, b"hello"));
        assert_eq!(mem.size(), 4096);
        assert_eq!(mem.header_at(0), Some(5));
        assert_eq!(mem.sample(0, 5), Some(&b"hello"[..]));
        assert_eq!(mem.sample(0, 3), Some(&b"hel"[..]));
        // Its padding is the record's too; past it, or off the consumer position, no.
        assert_eq!(mem.sample(0, 8), Some(&b"hello\0\0\0"[..]));
        assert_eq!(mem.sample(0, 9), None);
        assert_eq!(mem.sample(8, 1), None);
        // Only to the record's end, rounded to 8.
        assert!(mem.set_consumer(13).is_err());
        assert!(mem.set_consumer(24).is_err());
        mem.set_consumer(16).unwrap();
        assert_eq!(mem.consumer(), 16);
        // Nothing committed past the producer.
        assert_eq!(mem.sample(16, 0), None);
        assert!(mem.set_consumer(24).is_err());
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
        assert_eq!(mem.sample(pos, 16), Some(&b"0123456789abcdef"[..]));
        mem.set_consumer(pos + 24).unwrap();
    }

    #[test]
    fn busy_and_oversized_records_are_not_handed_out() {
        let mut mem = ring(4096, 0, 64, &record(BUSY | 16, &[1; 16]));
        assert_eq!(mem.sample(0, 0), None);
        assert!(mem.set_consumer(24).is_err());
        let mut mem = ring(4096, 0, 64, &record(8192, &[]));
        assert_eq!(mem.sample(0, 0), None);
        assert!(mem.set_consumer(8200).is_err());
        // A discarded record is committed: it may be passed.
        let mut mem = ring(4096, 0, 64, &record(DISCARD | 4, &[2; 4]));
        mem.set_consumer(16).unwrap();
    }

    #[test]
    fn a_misaligned_position_has_no_header() {
        let mem = ring(4096, 26, 64, &[]);
        assert_eq!(mem.header_at(26), None);
        assert_eq!(mem.sample(26, 0), None);
        // Any position is masked into the data area.
        assert_eq!(mem.header_at(u64::MAX - 7), Some(0));
    }

    #[test]
    fn a_size_that_is_not_a_power_of_two_is_refused() {
        for size in [3000, 4] {
            let err = RingBufMemory::fake(size, 0, 0, &[]).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        }
    }
}
