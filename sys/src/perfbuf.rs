//! Reading a `BPF_MAP_TYPE_PERF_EVENT_ARRAY` from user space: one perf ring per CPU,
//! each a `PERF_COUNT_SW_BPF_OUTPUT` event whose fd is stored in the map at that CPU's
//! index, so `bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, ...)` lands in the
//! ring of the CPU the program ran on (libbpf `perf_buffer__new`).
//!
//! A ring is a metadata page (`struct perf_event_mmap_page`: `data_head` advanced by the
//! kernel, `data_tail` by us) followed by a power-of-two number of data pages. Records
//! are a `perf_event_header` (type, misc, size) and a body; a sample carries a `u32`
//! size and the program's bytes; a lost record says how many samples the kernel had to
//! drop because we were slow. A record may wrap around the end of the data area: it is
//! copied out whole before the callback sees it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::SysError;
use crate::bpf::MapFd;
use crate::perf::{self, PerfEventAttr};
use crate::uapi::MapType;

const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
const PERF_RECORD_LOST: u32 = 2;
const PERF_RECORD_SAMPLE: u32 = 9;
/// Offsets of `data_head`, `data_tail`, `data_offset` and `data_size` in
/// `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;

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

/// One CPU's ring.
#[derive(Debug)]
struct Ring {
    cpu: u32,
    event: OwnedFd,
    base: *mut u8,
    page: usize,
    size: usize,
}

// SAFETY: each mapping is owned by its Ring; the tail is written only through &mut.
unsafe impl Send for Ring {}

/// Perf rings for every possible CPU, wired into a perf event array map.
#[derive(Debug)]
pub struct PerfBuf {
    rings: Vec<Ring>,
    scratch: Vec<u8>,
}

impl PerfBuf {
    /// Opens a ring of `pages` data pages (a power of two) for each of `cpus` CPUs and
    /// stores each ring's event fd in `map`, a perf event array, at the CPU's index.
    ///
    /// # Errors
    /// `map` not a perf event array, `pages` not a power of two (`EINVAL`, before any
    /// call); `perf_event_open`, `mmap` or the map update failed.
    pub fn new(map: &MapFd, cpus: u32, pages: usize) -> Result<PerfBuf, SysError> {
        if map.map_type() != MapType::PERF_EVENT_ARRAY {
            return Err(SysError::new(
                "perf buffer",
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("map is a {}, not a perf event array", map.map_type()),
                ),
            ));
        }
        if !pages.is_power_of_two() {
            return Err(SysError::new(
                "perf buffer",
                io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        let page = crate::mmap::page_size();
        let mut rings = Vec::new();
        for cpu in 0..cpus {
            let mut attr = PerfEventAttr::new(perf::TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT);
            attr.sample_type = perf::SAMPLE_RAW;
            attr.sample_period = 1;
            attr.wakeup_events = 1;
            let event = match perf::perf_event_open(&attr, -1, cpu as i32) {
                Ok(fd) => fd,
                // A possible CPU that is offline has no ring; samples cannot come from it.
                Err(e) if e.errno() == Some(libc::ENODEV) => continue,
                Err(e) => return Err(e),
            };
            let len = page * (pages + 1);
            let base =
                crate::mmap::shared(event.as_fd(), len, libc::PROT_READ | libc::PROT_WRITE, 0)
                    .map_err(|e| SysError::new("mmap(perf ring)", e))?;
            let ring = Ring {
                cpu,
                event,
                base,
                page,
                size: page * pages,
            };
            perf::enable(ring.event.as_fd())?;
            crate::bpf::map_update_elem(
                map,
                &cpu.to_ne_bytes(),
                &(ring.event.as_raw_fd() as u32).to_ne_bytes(),
                0,
            )?;
            rings.push(ring);
        }
        Ok(PerfBuf {
            rings,
            scratch: Vec::new(),
        })
    }

    /// The rings' fds, to poll for readiness.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.rings.iter().map(|r| r.event.as_fd()).collect()
    }

    /// Calls `f` with every record now in every ring, oldest first within a ring, and
    /// returns how many it saw.
    pub fn consume(&mut self, mut f: impl FnMut(PerfRecord<'_>)) -> usize {
        let mut n = 0;
        for ring in &mut self.rings {
            n += ring.consume(&mut self.scratch, &mut f);
        }
        n
    }
}

impl Ring {
    fn word(&self, off: usize) -> &AtomicU64 {
        // SAFETY: the metadata page is mapped for the life of the ring; `off` is one of
        // the 8-aligned u64 fields of perf_event_mmap_page.
        unsafe { &*self.base.add(off).cast::<AtomicU64>() }
    }

    /// Copies `len` bytes at data-area offset `at` (wrapping) into `out`.
    fn copy(&self, at: usize, len: usize, out: &mut Vec<u8>) {
        out.clear();
        let data = self.page;
        let first = len.min(self.size - at);
        // SAFETY: [at, at+first) and [0, len-first) lie in the data area, which the
        // kernel does not write between data_tail and data_head.
        unsafe {
            out.extend_from_slice(std::slice::from_raw_parts(self.base.add(data + at), first));
            out.extend_from_slice(std::slice::from_raw_parts(self.base.add(data), len - first));
        }
    }

    fn consume(&mut self, scratch: &mut Vec<u8>, f: &mut impl FnMut(PerfRecord<'_>)) -> usize {
        let head = self.word(DATA_HEAD).load(Ordering::Acquire);
        let mut tail = self.word(DATA_TAIL).load(Ordering::Relaxed);
        let mut n = 0;
        while tail < head {
            let at = (tail as usize) & (self.size - 1);
            self.copy(at, 8, scratch);
            let kind = u32::from_ne_bytes(scratch[0..4].try_into().unwrap_or_default());
            let size = usize::from(u16::from_ne_bytes([scratch[6], scratch[7]]));
            if size < 8 || size > self.size {
                // Corrupt: skip what is there rather than loop or read past the ring.
                tail = head;
                break;
            }
            self.copy(at, size, scratch);
            match kind {
                PERF_RECORD_SAMPLE if size >= 12 => {
                    let raw =
                        u32::from_ne_bytes(scratch[8..12].try_into().unwrap_or_default()) as usize;
                    let end = (12 + raw).min(size);
                    f(PerfRecord::Sample {
                        cpu: self.cpu,
                        data: &scratch[12..end],
                    });
                    n += 1;
                }
                PERF_RECORD_LOST if size >= 24 => {
                    let count = u64::from_ne_bytes(scratch[16..24].try_into().unwrap_or_default());
                    f(PerfRecord::Lost {
                        cpu: self.cpu,
                        count,
                    });
                    n += 1;
                }
                _ => {}
            }
            tail += size as u64;
        }
        self.word(DATA_TAIL).store(tail, Ordering::Release);
        n
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let _ = perf::disable(self.event.as_fd());
        // This ring's mapping, made in `PerfBuf::new`, unmapped exactly once.
        crate::mmap::unmap(self.base, self.page + self.size);
    }
}
