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
use std::os::fd::BorrowedFd;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
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
    /// The map's id, held in [`CONSUMERS`] while this value lives (none for
    /// [`RingBuf::from_raw`]).
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
// through `&mut self`, and the rest is read with atomic loads.
unsafe impl Send for RingBuf {}

use crate::bpf::MapFd;
use crate::mmap::shared as map;
use crate::uapi::MapType;
use std::os::fd::AsFd;

impl RingBuf {
    /// Maps the ring buffer map `map` (its data size is its `max_entries`) to consume
    /// its records; one consumer per ring in a process.
    ///
    /// # Errors
    /// `map` is not a ring buffer (`InvalidInput`); it already has a consumer in this
    /// process (`EBUSY`); the `mmap` error.
    pub fn new(map: &MapFd) -> io::Result<RingBuf> {
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
        // a record the consumer position has not passed; this is its only consumer in
        // the process (registered above, released on drop).
        let ring = unsafe { RingBuf::from_raw(map.as_fd(), map.max_entries()) };
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
    /// advance its consumer position meanwhile. A ring buffer map of that
    /// `max_entries` with no other consumer is; [`RingBuf::new`] checks those.
    ///
    /// # Errors
    /// A size that is not a power of two; the `mmap` error.
    pub unsafe fn from_raw(fd: BorrowedFd<'_>, size: u32) -> io::Result<RingBuf> {
        let size = size as usize;
        if !size.is_power_of_two() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let page = crate::mmap::page_size();
        let consumer = map(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = match map(fd, page + 2 * size, libc::PROT_READ, page) {
            Ok(p) => p,
            Err(e) => {
                // The mapping made just above, unmapped exactly once.
                crate::mmap::unmap(consumer, page);
                return Err(e);
            }
        };
        Ok(RingBuf {
            consumer,
            producer,
            page,
            size,
            id: None,
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
            // Records start at multiples of 8; any other consumer position means the
            // consumer page was overwritten, and reading a header there would be a
            // misaligned atomic load.
            if cons % 8 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "ring buffer consumer position {cons} is not a multiple of 8: the ring is corrupt"
                    ),
                ));
            }
            let off = (cons as usize) & (self.size - 1);
            // SAFETY: the data area starts one page after the producer page and is
            // mapped twice (2 * size bytes), so [off, off + HEADER) is inside it; `off`
            // is a multiple of 8, so the header is aligned for a u32.
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

fn release(id: u32) {
    CONSUMERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .retain(|&held| held != id);
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            release(id);
        }
        // Both mappings were made in `from_raw` with these lengths; unmapped once.
        crate::mmap::unmap(self.consumer, self.page);
        crate::mmap::unmap(self.producer, self.page + 2 * self.size);
    }
}

/// A consumer's handler for one ring buffer's records.
type Handler<'a> = Box<dyn FnMut(&[u8]) + 'a>;

/// Several ring buffers read through one epoll instance, each with its own handler
/// (libbpf's `ring_buffer__new`/`__add`/`__poll`). The epoll fd is exposed so the set
/// can itself sit in a larger event loop.
pub struct RingBufs<'a> {
    epoll: Epoll,
    rings: Vec<(RingBuf, Handler<'a>)>,
}

impl std::fmt::Debug for RingBufs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBufs")
            .field("epoll", &self.epoll)
            .field("rings", &self.rings.len())
            .finish()
    }
}

impl<'a> RingBufs<'a> {
    /// An empty set.
    ///
    /// # Errors
    /// `epoll_create1` failed.
    pub fn new() -> io::Result<RingBufs<'a>> {
        Ok(RingBufs {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            rings: Vec::new(),
        })
    }

    /// Adds ring buffer map `map`, whose records go to `handler`.
    ///
    /// # Errors
    /// As [`RingBuf::new`]; `epoll_ctl` failed.
    pub fn add(&mut self, map: &MapFd, handler: impl FnMut(&[u8]) + 'a) -> io::Result<()> {
        let ring = RingBuf::new(map)?;
        let fd = map.as_fd();
        self.epoll.add(
            fd,
            EpollEvent::new(EpollFlags::EPOLLIN, self.rings.len() as u64),
        )?;
        self.rings.push((ring, Box::new(handler)));
        Ok(())
    }

    /// Waits up to `timeout_ms` (-1: until something arrives) for records in any of
    /// the rings, then hands each ready ring's records to its handler. Returns how many
    /// records were handled (0 on timeout or a signal).
    ///
    /// # Errors
    /// `epoll_wait` failed; a ring is corrupt (see [`RingBuf::consume`]).
    pub fn poll(&mut self, timeout_ms: i32) -> io::Result<usize> {
        let mut events = [EpollEvent::empty(); 16];
        let max = events.len().min(self.rings.len().max(1));
        let timeout = EpollTimeout::try_from(timeout_ms)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let n = match self.epoll.wait(&mut events[..max], timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut total = 0;
        for ev in &events[..n] {
            let index = ev.data() as usize;
            if let Some((ring, handler)) = self.rings.get_mut(index) {
                total += ring.consume(&mut **handler)?;
            }
        }
        Ok(total)
    }

    /// Hands every ring's pending records to its handler without waiting.
    ///
    /// # Errors
    /// A ring is corrupt.
    pub fn consume(&mut self) -> io::Result<usize> {
        let mut total = 0;
        for (ring, handler) in &mut self.rings {
            total += ring.consume(&mut **handler)?;
        }
        Ok(total)
    }
}

impl std::os::fd::AsFd for RingBufs<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, OwnedFd};

    /// A memfd laid out as a ring buffer map's mappings: consumer page, producer page,
    /// then the data area twice (what the kernel maps twice in a row).
    fn fake_ring(size: usize, producer_pos: u64, first_header: u32) -> OwnedFd {
        let page = crate::mmap::page_size();
        use nix::sys::memfd::{MFdFlags, memfd_create};
        let fd = memfd_create(c"ring", MFdFlags::MFD_CLOEXEC).unwrap();
        let mut file = std::fs::File::from(fd.try_clone().unwrap());
        let mut bytes = vec![0u8; 2 * page + 2 * size];
        bytes[page..page + 8].copy_from_slice(&producer_pos.to_ne_bytes());
        bytes[2 * page..2 * page + 4].copy_from_slice(&first_header.to_ne_bytes());
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        fd
    }

    #[test]
    fn a_corrupt_header_is_an_error_not_a_hang() {
        let size = 4096;
        // A committed record claiming more than the whole ring.
        let fd = fake_ring(size, 64, 8192);
        // SAFETY: a memfd laid out as a ring of `size` (fake_ring) that nothing writes or
        // truncates while it is mapped.
        let mut ring = unsafe { RingBuf::from_raw(fd.as_fd(), size as u32) }.unwrap();
        let err = ring.consume(|_| panic!("no record is valid")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ring buffer record at position 0 claims 8192 bytes, more than the 4096-byte ring holds"
        );
    }

    #[test]
    fn a_misaligned_consumer_position_is_an_error() {
        // Found by the ringbuf_parse fuzz target (fuzz/regressions/ringbuf_parse).
        let size = 4096;
        let fd = fake_ring(size, 64, 16);
        // SAFETY: a memfd laid out as a ring of `size` (fake_ring) that nothing writes or
        // truncates while it is mapped.
        let mut ring = unsafe { RingBuf::from_raw(fd.as_fd(), size as u32) }.unwrap();
        ring.consumer_pos().store(26, Ordering::Release);
        let err = ring.consume(|_| panic!("no record")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ring buffer consumer position 26 is not a multiple of 8: the ring is corrupt"
        );
    }

    #[test]
    fn a_busy_record_stops_the_walk_until_it_is_committed() {
        let size = 4096;
        let fd = fake_ring(size, 64, BUSY | 16);
        // SAFETY: a memfd laid out as a ring of `size` (fake_ring) that nothing writes or
        // truncates while it is mapped.
        let mut ring = unsafe { RingBuf::from_raw(fd.as_fd(), size as u32) }.unwrap();
        assert_eq!(ring.consume(|_| panic!("still busy")).unwrap(), 0);
    }

    #[test]
    fn a_size_that_is_not_a_power_of_two_is_refused() {
        let fd = fake_ring(4096, 0, 0);
        // SAFETY: refused before anything is mapped.
        let err = unsafe { RingBuf::from_raw(fd.as_fd(), 3000) }.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
