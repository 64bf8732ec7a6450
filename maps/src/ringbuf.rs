//! The consumer of `BPF_MAP_TYPE_RINGBUF` maps (Linux 5.8+): the protocol of the
//! kernel's `kernel/bpf/ringbuf.c`, which libbpf's `ring_buffer__poll` also follows;
//! the walk over the mapped memory is `oxbpf_sys::ringbuf`'s (the slices it hands out
//! are sound only as it walks), the API here.
//!
//! From the consumer position to the producer position lie records, each an 8-byte
//! header (its length, with a BUSY bit while the program is still writing it and a
//! DISCARD bit if it gave it up) and its data; the next record starts at the next
//! multiple of 8. The consumer hands each committed record to its callback, skips
//! discarded ones, stops at a busy one until the next call, and moves the consumer
//! position past each record it is done with, so the kernel can reuse the space.
//!
//! ```no_run
//! # fn main() -> Result<(), oxbpf_maps::MapError> {
//! # let map: oxbpf_maps::Map = todo!();
//! let mut ring = oxbpf_maps::ringbuf::RingBuf::new(&map)?;
//! ring.consume(|record| println!("{} bytes", record.len()))?;
//! # Ok(()) }
//! ```

use std::os::fd::{AsFd, BorrowedFd};

use oxbpf_sys::events::EpollSet;
use oxbpf_sys::ringbuf::{RingBufMemory, RingError};
use oxbpf_sys::uapi::MapType;

use crate::{Map, MapError};

/// A ring buffer map's consumer: one per ring in a process.
#[derive(Debug)]
pub struct RingBuf {
    mem: RingBufMemory,
    name: String,
}

impl RingBuf {
    /// Maps the ring buffer `map` to consume its records.
    ///
    /// # Errors
    /// `map` is not a ring buffer ([`MapError::WrongType`]); it already has a consumer
    /// in this process, or cannot be mapped ([`MapError::Mmap`]).
    #[doc(alias = "ring_buffer__new")]
    pub fn new(map: &Map) -> Result<RingBuf, MapError> {
        if map.map_type() != MapType::RINGBUF {
            return Err(MapError::WrongType {
                map: map.name().into(),
                got: map.map_type(),
                want: "a ring buffer",
            });
        }
        let mem = RingBufMemory::new(map.map_fd()).map_err(|e| MapError::Mmap {
            map: map.name().into(),
            why: if e.raw_os_error() == Some(libc::EBUSY) {
                "it already has a consumer in this process".into()
            } else {
                e.to_string()
            },
        })?;
        Ok(RingBuf::from_memory(map.name(), mem))
    }

    /// A consumer of ring memory mapped some other way (a memfd laid out as a ring, in
    /// tests and fuzzing: `RingBufMemory::fake`); `name` names it in errors.
    pub fn from_memory(name: &str, mem: RingBufMemory) -> RingBuf {
        RingBuf {
            mem,
            name: name.into(),
        }
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `f` with each record committed since the last call, in order, and returns
    /// how many it saw. Discarded records are skipped; a record still being written
    /// stops the walk until the next call.
    ///
    /// # Errors
    /// A consumer position that is not a multiple of 8, or a header claiming a record
    /// longer than the ring: the ring is corrupt, and reading stops there
    /// ([`MapError::Corrupt`]).
    #[doc(alias = "ring_buffer__consume")]
    pub fn consume(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize, MapError> {
        let mut n = 0;
        let walked = self.mem.drain(|record| {
            if let Some(data) = record {
                f(data);
                n += 1;
            }
        });
        match walked {
            Ok(()) => Ok(n),
            Err(e) => Err(self.corrupt(e)),
        }
    }

    #[cold]
    fn corrupt(&self, e: RingError) -> MapError {
        MapError::Corrupt {
            map: self.name.clone(),
            why: match e {
                RingError::Misaligned { pos } => format!(
                    "ring buffer consumer position {pos} is not a multiple of 8: the ring is corrupt"
                ),
                RingError::TooLong { pos, len } => format!(
                    "ring buffer record at position {pos} claims {len} bytes, more than the {}-byte ring holds",
                    self.mem.size()
                ),
            },
        }
    }
}

/// A consumer's handler for one ring buffer's records.
type Handler<'a> = Box<dyn FnMut(&[u8]) + 'a>;

/// Several ring buffers read through one epoll instance, each with its own handler
/// (libbpf's `ring_buffer__new`/`__add`/`__poll`). The epoll fd is exposed so the set
/// can itself sit in a larger event loop.
pub struct RingBufs<'a> {
    epoll: EpollSet,
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
    /// `epoll_create1` failed ([`MapError::Wait`]).
    pub fn new() -> Result<RingBufs<'a>, MapError> {
        Ok(RingBufs {
            epoll: EpollSet::new().map_err(MapError::Wait)?,
            rings: Vec::new(),
        })
    }

    /// Adds ring buffer map `map`, whose records go to `handler`.
    ///
    /// # Errors
    /// As [`RingBuf::new`]; `epoll_ctl` failed ([`MapError::Wait`]).
    #[doc(alias = "ring_buffer__add")]
    pub fn add(&mut self, map: &Map, handler: impl FnMut(&[u8]) + 'a) -> Result<(), MapError> {
        let ring = RingBuf::new(map)?;
        self.epoll
            .add(map.as_fd(), self.rings.len() as u64)
            .map_err(MapError::Wait)?;
        self.rings.push((ring, Box::new(handler)));
        Ok(())
    }

    /// Waits up to `timeout_ms` (-1: until something arrives) for records in any of
    /// the rings, then hands each ready ring's records to its handler. Returns how many
    /// records were handled (0 on timeout or a signal).
    ///
    /// # Errors
    /// `epoll_wait` failed ([`MapError::Wait`]); a ring is corrupt (see
    /// [`RingBuf::consume`]).
    #[doc(alias = "ring_buffer__poll")]
    pub fn poll(&mut self, timeout_ms: i32) -> Result<usize, MapError> {
        let ready = self
            .epoll
            .wait(timeout_ms, self.rings.len())
            .map_err(MapError::Wait)?;
        let mut total = 0;
        for key in ready {
            if let Some((ring, handler)) = usize::try_from(key)
                .ok()
                .and_then(|i| self.rings.get_mut(i))
            {
                total += ring.consume(&mut **handler)?;
            }
        }
        Ok(total)
    }

    /// Hands every ring's pending records to its handler without waiting.
    ///
    /// # Errors
    /// A ring is corrupt.
    #[doc(alias = "ring_buffer__consume")]
    pub fn consume(&mut self) -> Result<usize, MapError> {
        let mut total = 0;
        for (ring, handler) in &mut self.rings {
            total += ring.consume(&mut **handler)?;
        }
        Ok(total)
    }
}

impl AsFd for RingBufs<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

impl std::os::fd::AsRawFd for RingBufs<'_> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.epoll.as_fd().as_raw_fd()
    }
}

/// A [`RingBufs`] set awaited in a tokio runtime (the `tokio` feature), as aya's
/// `AsyncFd`-based ring buffers are: the set's epoll fd sits in tokio's reactor, and
/// each [`AsyncRingBufs::next`] waits until a ring has records, then hands them to
/// their handlers, without copying them.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct AsyncRingBufs<'a> {
    set: tokio::io::unix::AsyncFd<RingBufs<'a>>,
}

#[cfg(feature = "tokio")]
impl<'a> AsyncRingBufs<'a> {
    /// `set` in the current tokio runtime's reactor.
    ///
    /// # Errors
    /// Outside a runtime with I/O enabled; the registration failed ([`MapError::Wait`]).
    #[expect(
        deprecated,
        reason = "tokio 1.54 deprecates the safe registration for types whose fd may change or close; RingBufs owns its epoll fd for its whole life and always returns that one, the condition the unsafe `register_with_interest` asks for, which this crate (no unsafe) cannot call"
    )]
    pub fn new(set: RingBufs<'a>) -> Result<AsyncRingBufs<'a>, MapError> {
        Ok(AsyncRingBufs {
            set: tokio::io::unix::AsyncFd::with_interest(set, tokio::io::Interest::READABLE)
                .map_err(MapError::Wait)?,
        })
    }

    /// Waits until some ring has records and hands them to their handlers; returns how
    /// many were handled (at least one).
    ///
    /// # Errors
    /// The reactor failed ([`MapError::Wait`]); a ring is corrupt.
    pub async fn next(&mut self) -> Result<usize, MapError> {
        loop {
            let mut ready = self.set.readable_mut().await.map_err(MapError::Wait)?;
            let n = ready.get_inner_mut().consume()?;
            if n > 0 {
                return Ok(n);
            }
            // Nothing (yet): forget this readiness, then look once more, so records
            // that came between the look and the forgetting still wake us.
            ready.clear_ready();
            let n = ready.get_inner_mut().consume()?;
            if n > 0 {
                return Ok(n);
            }
        }
    }

    /// The set, for adding rings or polling it directly.
    pub fn get_mut(&mut self) -> &mut RingBufs<'a> {
        self.set.get_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_sys::ringbuf::{BUSY, DISCARD};

    /// A consumer of a memfd laid out as a ring of `size` bytes.
    fn ring(size: usize, cons: u64, prod: u64, data: &[u8]) -> RingBuf {
        let mem = RingBufMemory::fake(size as u32, cons, prod, data).unwrap();
        RingBuf::from_memory("test", mem)
    }

    /// A record: header (length word, then the kernel's offset word) and data, padded
    /// to 8.
    fn record(header: u32, data: &[u8]) -> Vec<u8> {
        let mut r = header.to_ne_bytes().to_vec();
        r.extend_from_slice(&[0; 4]);
        r.extend_from_slice(data);
        r.resize(r.len().next_multiple_of(8), 0);
        r
    }

    #[test]
    fn committed_records_are_read_in_order_and_discarded_ones_skipped() {
        let mut data = record(3, b"one");
        data.extend(record(DISCARD | 5, b"gone!"));
        data.extend(record(9, b"three9876"));
        let end = data.len() as u64;
        let mut rb = ring(4096, 0, end, &data);
        let mut got = Vec::new();
        assert_eq!(rb.consume(|r| got.push(r.to_vec())).unwrap(), 2);
        assert_eq!(got, [b"one".to_vec(), b"three9876".to_vec()]);
        // Each record is read once.
        assert_eq!(rb.consume(|_| panic!("read twice")).unwrap(), 0);
    }

    #[test]
    fn a_record_that_wraps_around_the_end_reads_whole() {
        let size = 4096;
        let mut data = vec![0u8; size];
        data[size - 8..size - 4].copy_from_slice(&12u32.to_ne_bytes());
        data[..12].copy_from_slice(b"wrapped data");
        let pos = (size - 8) as u64;
        let mut rb = ring(size, pos, pos + 24, &data);
        let mut got = Vec::new();
        assert_eq!(rb.consume(|r| got.push(r.to_vec())).unwrap(), 1);
        assert_eq!(got, [b"wrapped data".to_vec()]);
    }

    #[test]
    fn a_corrupt_header_is_an_error_not_a_hang() {
        // A committed record claiming more than the whole ring.
        let mut rb = ring(4096, 0, 64, &record(8192, &[]));
        let err = rb.consume(|_| panic!("no record is valid")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "map `test`: ring buffer record at position 0 claims 8192 bytes, more than the 4096-byte ring holds"
        );
    }

    #[test]
    fn a_misaligned_consumer_position_is_an_error() {
        // Found by the ringbuf_parse fuzz target (fuzz/regressions/ringbuf_parse).
        let mut rb = ring(4096, 26, 64, &record(16, &[0; 16]));
        let err = rb.consume(|_| panic!("no record")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "map `test`: ring buffer consumer position 26 is not a multiple of 8: the ring is corrupt"
        );
    }

    #[test]
    fn a_busy_record_stops_the_walk_until_it_is_committed() {
        let mut data = record(BUSY | 16, &[1; 16]);
        data.extend(record(4, b"next"));
        let mut rb = ring(4096, 0, data.len() as u64, &data);
        assert_eq!(rb.consume(|_| panic!("still busy")).unwrap(), 0);
    }
}
