//! Any bytes as the contents of a ring buffer's data pages, with any consumer and
//! producer positions: the consumer must stop (record past the producer, busy record,
//! or a corrupt length or position as an error) without reading outside its mapping or
//! looping forever. The ring is a memfd laid out like a ring buffer map's mappings
//! (`RingBufMemory::fake`), read by `oxbpf_maps::ringbuf::RingBuf`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxbpf_maps::ringbuf::RingBuf;
use oxbpf_sys::ringbuf::RingBufMemory;

const SIZE: u32 = 4096;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let cons = u64::from_le_bytes(data[..8].try_into().unwrap()) % (u64::from(SIZE) * 8);
    let prod = u64::from_le_bytes(data[8..16].try_into().unwrap()) % (u64::from(SIZE) * 8);
    let Ok(mem) = RingBufMemory::fake(SIZE, cons, prod, &data[16..]) else {
        return;
    };
    let mut ring = RingBuf::from_memory("fuzz", mem);
    let mut total = 0usize;
    let _ = ring.consume(|r| total += r.len());
});
