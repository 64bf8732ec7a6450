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
