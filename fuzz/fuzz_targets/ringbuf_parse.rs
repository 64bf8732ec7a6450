//! Any bytes as the contents of a ring buffer's data pages, with any producer
//! position: the consumer must stop (record past the producer, busy record, or a
//! corrupt length as an error) without reading outside its mapping or looping forever.
//! The ring is a memfd laid out like a ring buffer map's mappings.
#![no_main]

use std::io::Write as _;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use libfuzzer_sys::fuzz_target;
use oxbpf_sys::ringbuf::RingBuf;

const SIZE: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let cons = u64::from_le_bytes(data[..8].try_into().unwrap()) % (SIZE as u64 * 8);
    let prod = u64::from_le_bytes(data[8..16].try_into().unwrap()) % (SIZE as u64 * 8);
    // SAFETY: creates a new fd from a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"ring".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return;
    }
    // SAFETY: `fd` is new and owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let page = 4096;
    let mut bytes = vec![0u8; 2 * page + 2 * SIZE];
    bytes[..8].copy_from_slice(&cons.to_ne_bytes());
    bytes[page..page + 8].copy_from_slice(&prod.to_ne_bytes());
    let body = &data[16..];
    // The data area is mapped twice in a row by the kernel: the same bytes twice here.
    for k in 0..SIZE {
        let b = body.get(k).copied().unwrap_or(0);
        bytes[2 * page + k] = b;
        bytes[2 * page + SIZE + k] = b;
    }
    let mut file = std::fs::File::from(fd.try_clone().unwrap());
    if file.write_all(&bytes).is_err() {
        return;
    }
    // SAFETY: a memfd laid out as a ring of SIZE that nothing writes or truncates while
    // it is mapped.
    let Ok(mut ring) = (unsafe { RingBuf::from_raw(fd.as_fd(), SIZE as u32) }) else {
        return;
    };
    let mut total = 0usize;
    let _ = ring.consume(|r| total += r.len());
});
