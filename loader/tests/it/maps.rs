//! Maps from user space: the ring buffer and perf buffer consumers against a program
//! that writes a known sequence.

use std::os::fd::AsFd;

use oxbpf_loader::Object;
use oxbpf_loader::load::LoadOptions;
use oxbpf_sys::gate;
use oxbpf_sys::perfbuf::{PerfBuf, PerfRecord};
use oxbpf_sys::ringbuf::RingBuf;

/// The record `emit` writes for sequence number `n`: `n` then copies of it, 8 to 40
/// bytes long.
fn expected(n: u64) -> Vec<u8> {
    let words = 1 + (n % 5) as usize;
    (0..words).flat_map(|_| n.to_ne_bytes()).collect()
}

#[test]
fn ring_and_perf_buffers_deliver_every_record_of_a_sequence_in_order() {
    let _serial = crate::serial();
    if !gate::require_bpf("ring_and_perf_buffers_deliver_every_record_of_a_sequence_in_order") {
        return;
    }
    let l = Object::open(crate::testdata("events.bpf.o"))
        .unwrap()
        .load(&LoadOptions::default())
        .unwrap();
    let emit = l.program("emit").unwrap();
    let rb_map = l.map("rb").unwrap();
    let mut rb = RingBuf::new(rb_map.as_fd(), rb_map.max_entries()).unwrap();
    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap();
    // Two pages per CPU: a batch of records fills most of it, so records wrap often.
    let mut pb = PerfBuf::new(l.map("pb").unwrap().as_fd(), cpus, 2).unwrap();
    let frame = vec![0u8; 64];
    let (mut ring_next, mut perf_next) = (1u64, 1u64);
    for _batch in 0..50 {
        for _ in 0..100 {
            emit.test_run(&frame, &[]).unwrap();
        }
        rb.consume(|r| {
            assert_eq!(r, expected(ring_next).as_slice(), "ring record {ring_next}");
            ring_next += 1;
        });
        pb.consume(|r| match r {
            PerfRecord::Sample { data, .. } => {
                // Samples are padded so the size word and data fill 8-byte units.
                let want = expected(perf_next);
                assert_eq!(
                    &data[..want.len()],
                    want.as_slice(),
                    "perf record {perf_next}"
                );
                perf_next += 1;
            }
            PerfRecord::Lost { count, cpu } => panic!("perf buffer lost {count} on CPU {cpu}"),
        });
    }
    assert_eq!(ring_next - 1, 5000, "every ring record, once");
    assert_eq!(perf_next - 1, 5000, "every perf record, once");
}

#[test]
fn a_slow_perf_consumer_is_told_what_it_lost() {
    let _serial = crate::serial();
    if !gate::require_bpf("a_slow_perf_consumer_is_told_what_it_lost") {
        return;
    }
    let l = Object::open(crate::testdata("events.bpf.o"))
        .unwrap()
        .load(&LoadOptions::default())
        .unwrap();
    let emit = l.program("emit").unwrap();
    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap();
    // One page per CPU, and 500 records before the first read: most cannot fit.
    let mut pb = PerfBuf::new(l.map("pb").unwrap().as_fd(), cpus, 1).unwrap();
    for _ in 0..500 {
        emit.test_run(&[0u8; 64], &[]).unwrap();
    }
    let (mut got, mut lost) = (0u64, 0u64);
    let mut tally = |r: PerfRecord<'_>| match r {
        PerfRecord::Sample { .. } => got += 1,
        PerfRecord::Lost { count, .. } => lost += count,
    };
    pb.consume(&mut tally);
    // The kernel reports a loss with the next record it can write, once there is room.
    emit.test_run(&[0u8; 64], &[]).unwrap();
    pb.consume(&mut tally);
    assert!(lost > 0, "nothing reported lost");
    assert_eq!(got + lost, 501, "received {got}, lost {lost}");
}
