//! The consumer of `BPF_MAP_TYPE_PERF_EVENT_ARRAY` maps used for output: one perf ring
//! per CPU (`oxbpf_sys::perfbuf::PerfRing`), each event's fd stored in the map at its
//! CPU's index, so `bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, ...)` lands in
//! the ring of the CPU the program ran on (libbpf `perf_buffer__new`).
//!
//! Records between a ring's tail and head are a `perf_event_header` (type, misc, size)
//! and a body: a sample carries a `u32` size and the program's bytes; a lost record says
//! how many samples the kernel had to drop because the consumer was slow. A record may
//! wrap around the end of the data area: it is copied out whole before the callback
//! sees it.

use std::os::fd::{AsFd, BorrowedFd};

use oxbpf_sys::perfbuf::PerfRing;
use oxbpf_sys::uapi::MapType;

use crate::{Map, MapError};

/// `PERF_RECORD_LOST`: `{ header; u64 id; u64 lost; }`.
const PERF_RECORD_LOST: u32 = 2;
/// `PERF_RECORD_SAMPLE` with `PERF_SAMPLE_RAW`: `{ header; u32 size; u8 data[size]; }`.
const PERF_RECORD_SAMPLE: u32 = 9;
/// `sizeof(struct perf_event_header)`.
const HEADER: usize = 8;

/// What a perf ring delivered.
#[derive(Debug, PartialEq, Eq)]
pub enum PerfRecord<'a> {
    /// A sample: the bytes the program passed to `bpf_perf_event_output`.
    Sample {
        /// The CPU whose ring it came from.
        cpu: u32,
        /// The bytes (the kernel pads them to 8 with the size header; trailing padding
        /// is included).
        data: &'a [u8],
    },
    /// The kernel dropped this many samples on `cpu`: the consumer fell behind.
    Lost {
        /// The CPU.
        cpu: u32,
        /// How many.
        count: u64,
    },
}

/// Perf rings for every possible CPU, wired into a perf event array map.
#[derive(Debug)]
pub struct PerfBuf {
    rings: Vec<PerfRing>,
    scratch: Vec<u8>,
}

impl PerfBuf {
    /// Opens a ring of `pages` data pages (a power of two) for each of `cpus` CPUs (an
    /// offline CPU gets none) and stores each ring's event fd in `map`, a perf event
    /// array, at the CPU's index.
    ///
    /// # Errors
    /// `map` is not a perf event array ([`MapError::WrongType`]), `pages` not a power of
    /// two (`EINVAL`), both before any call; `perf_event_open`, `mmap` or the map update
    /// failed.
    #[doc(alias = "perf_buffer__new")]
    pub fn new(map: &Map, cpus: u32, pages: usize) -> Result<PerfBuf, MapError> {
        if map.map_type() != MapType::PERF_EVENT_ARRAY {
            return Err(MapError::WrongType {
                map: map.name().into(),
                got: map.map_type(),
                want: "a perf event array",
            });
        }
        let sys = |source| MapError::Sys {
            map: map.name().into(),
            op: "open a perf ring",
            source,
        };
        if !pages.is_power_of_two() {
            return Err(sys(oxbpf_sys::SysError::new(
                "perf buffer",
                std::io::Error::from_raw_os_error(libc::EINVAL),
            )));
        }
        let mut rings = Vec::new();
        for cpu in 0..cpus {
            let Some(ring) = PerfRing::open(cpu, pages).map_err(sys)? else {
                continue;
            };
            let fd = std::os::fd::AsRawFd::as_raw_fd(&ring.as_fd()) as u32;
            map.update(&cpu.to_ne_bytes(), &fd.to_ne_bytes(), 0)?;
            rings.push(ring);
        }
        Ok(PerfBuf {
            rings,
            scratch: Vec::new(),
        })
    }

    /// The rings' fds, to poll for readiness.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.rings.iter().map(AsFd::as_fd).collect()
    }

    /// Calls `f` with every record now in every ring, oldest first within a ring, and
    /// returns how many it saw. Records of other types are skipped; a record whose size
    /// is impossible skips the rest of its ring.
    #[doc(alias = "perf_buffer__consume")]
    pub fn consume(&mut self, mut f: impl FnMut(PerfRecord<'_>)) -> usize {
        let mut n = 0;
        for ring in &mut self.rings {
            n += consume_ring(ring, &mut self.scratch, &mut f);
        }
        n
    }
}

fn consume_ring(
    ring: &mut PerfRing,
    scratch: &mut Vec<u8>,
    f: &mut impl FnMut(PerfRecord<'_>),
) -> usize {
    let head = ring.head();
    let mut tail = ring.tail();
    let cpu = ring.cpu();
    let mut n = 0;
    while tail < head {
        let mut header = [0u8; HEADER];
        if ring.read(tail, &mut header).is_err() {
            log::warn!("perf ring of CPU {cpu}: a record header past the head; skipped");
            tail = head;
            break;
        }
        let [t0, t1, t2, t3, _, _, s0, s1] = header;
        let kind = u32::from_ne_bytes([t0, t1, t2, t3]);
        let size = usize::from(u16::from_ne_bytes([s0, s1]));
        scratch.resize(size, 0);
        if size < HEADER || ring.read(tail, scratch).is_err() {
            // Corrupt: skip what is there rather than loop or read what the kernel
            // may be writing.
            log::warn!("perf ring of CPU {cpu}: a record of {size} bytes at {tail}; skipped");
            tail = head;
            break;
        }
        match kind {
            PERF_RECORD_SAMPLE => {
                if let Some(raw) = scratch.get(8..12) {
                    let raw = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
                    let end = raw.saturating_add(12).min(size);
                    f(PerfRecord::Sample {
                        cpu,
                        data: &scratch[12..end],
                    });
                    n += 1;
                }
            }
            PERF_RECORD_LOST => {
                if let Some(count) = scratch.get(16..24) {
                    let mut c = [0u8; 8];
                    c.copy_from_slice(count);
                    f(PerfRecord::Lost {
                        cpu,
                        count: u64::from_ne_bytes(c),
                    });
                    n += 1;
                }
            }
            _ => {}
        }
        tail += size as u64;
    }
    if let Err(e) = ring.set_tail(tail) {
        log::warn!("perf ring of CPU {cpu}: tail {tail}: {e}");
    }
    n
}

/// A [`PerfBuf`] awaited in a tokio runtime (the `tokio` feature): its rings' fds in one
/// epoll set, that set in tokio's reactor; [`AsyncPerfBuf::next`] waits until a ring
/// has records, then hands every ring's records (and losses) to `f`.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct AsyncPerfBuf {
    epoll: tokio::io::unix::AsyncFd<Epoll>,
    buf: PerfBuf,
}

/// The epoll set of a perf buffer's rings, owned for its whole life.
#[cfg(feature = "tokio")]
#[derive(Debug)]
struct Epoll(oxbpf_sys::events::EpollSet);

#[cfg(feature = "tokio")]
impl std::os::fd::AsRawFd for Epoll {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

#[cfg(feature = "tokio")]
impl AsyncPerfBuf {
    /// `buf`, its rings watched by the current tokio runtime's reactor.
    ///
    /// # Errors
    /// `epoll_create1`/`epoll_ctl` failed, or the registration ([`MapError::Wait`]).
    #[expect(
        deprecated,
        reason = "tokio 1.54 deprecates the safe registration for types whose fd may change or close; the epoll set is owned here for its whole life and always returns that fd, the condition the unsafe `register_with_interest` asks for, which this crate (no unsafe) cannot call"
    )]
    pub fn new(buf: PerfBuf) -> Result<AsyncPerfBuf, MapError> {
        let set = oxbpf_sys::events::EpollSet::new().map_err(MapError::Wait)?;
        for (i, fd) in buf.fds().into_iter().enumerate() {
            set.add(fd, i as u64).map_err(MapError::Wait)?;
        }
        Ok(AsyncPerfBuf {
            epoll: tokio::io::unix::AsyncFd::with_interest(
                Epoll(set),
                tokio::io::Interest::READABLE,
            )
            .map_err(MapError::Wait)?,
            buf,
        })
    }

    /// Waits until a ring has records, hands every record now in the rings to `f`,
    /// and returns how many (at least one).
    ///
    /// # Errors
    /// The reactor failed ([`MapError::Wait`]).
    pub async fn next(&mut self, mut f: impl FnMut(PerfRecord<'_>)) -> Result<usize, MapError> {
        loop {
            let mut ready = self.epoll.readable_mut().await.map_err(MapError::Wait)?;
            let n = self.buf.consume(&mut f);
            if n > 0 {
                return Ok(n);
            }
            // As AsyncRingBufs::next: forget the readiness, then look once more.
            ready.clear_ready();
            let n = self.buf.consume(&mut f);
            if n > 0 {
                return Ok(n);
            }
        }
    }
}
