//! Ring buffer consumers: a program fills a 64 MiB ring with 1,000,000 16-byte records
//! (BPF_PROG_TEST_RUN, repeat count), then each consumer is timed reading them all,
//! its callback adding up each record's first word. The consumer objects are made
//! before the clock starts; only reading is timed. oxbpf is measured twice in each
//! round: untyped (byte slices) and typed (`typed::RingBuf<Record>`, each record read
//! as a `#[repr(C)]` struct), to show the typed layer costs nothing.

use std::os::fd::AsFd;
use std::time::Instant;

use oxbpf_loader::Object;
use oxbpf_loader::load::LoadOptions;
use oxbpf_loader::prelude::*;
use oxbpf_sys::bpf::{self, TestRunData};

use crate::{Goal, Row, median};

const RECORDS: u32 = 1_000_000;
const ROUNDS: usize = 8;

/// `ring.bpf.c`'s record: a sequence number and a constant.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Record {
    seq: u64,
    magic: u64,
}

/// The sum of the sequence numbers 1..=n, what every consumer must add up to per fill
/// (plus the fill's starting offset).
fn expected_sum(first: u64, n: u64) -> u64 {
    (first..first + n).sum()
}

/// The ring rows.
pub fn run() -> Result<Vec<Row>, String> {
    let path = crate::repo().join("bench/bpf/ring.bpf.o");
    let l = Object::open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .load(&LoadOptions::default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let prog = l.program("produce").ok_or("no program `produce`")?;
    let rb = l.map("rb").ok_or("no map `rb`")?;
    let frame = [0u8; 64];
    let mut next = 1u64;
    let mut fill = || -> Result<u64, String> {
        let data = TestRunData {
            data_in: &frame,
            ..Default::default()
        };
        bpf::prog_test_run(prog.as_fd(), data, RECORDS, 0).map_err(|e| e.to_string())?;
        let first = next;
        next += u64::from(RECORDS);
        Ok(expected_sum(first, u64::from(RECORDS)))
    };
    let check = |peer: &str, (n, sum): (u64, u64), want: u64| -> Result<(), String> {
        if n != u64::from(RECORDS) || sum != want {
            return Err(format!(
                "{peer} read {n} records summing to {sum}; expected {RECORDS} summing to {want}"
            ));
        }
        Ok(())
    };
    let mut rates: [Vec<f64>; 3] = Default::default();
    let mut typed_rates = Vec::new();
    let untyped_read = |fill: &mut dyn FnMut() -> Result<u64, String>| -> Result<f64, String> {
        let mut ring = oxbpf_maps::ringbuf::RingBuf::new(rb).map_err(|e| e.to_string())?;
        let want = fill()?;
        let (mut n, mut sum) = (0u64, 0u64);
        let t = Instant::now();
        ring.consume(|r| {
            n += 1;
            sum = sum.wrapping_add(u64::from_ne_bytes(r[..8].try_into().unwrap_or([0; 8])));
        })
        .map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        check("oxbpf", (n, sum), want)?;
        Ok(f64::from(RECORDS) / secs)
    };
    let typed_read = |fill: &mut dyn FnMut() -> Result<u64, String>| -> Result<f64, String> {
        let mut ring = oxbpf_maps::typed::RingBuf::<Record>::new(rb).map_err(|e| e.to_string())?;
        let want = fill()?;
        let (mut n, mut sum) = (0u64, 0u64);
        let t = Instant::now();
        ring.consume(|r| {
            n += 1;
            sum = sum.wrapping_add(r.seq);
        })
        .map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        check("oxbpf (typed)", (n, sum), want)?;
        Ok(f64::from(RECORDS) / secs)
    };
    for round in 0..ROUNDS {
        // oxbpf, untyped and typed taking turns going first (neither gains from the
        // order).
        if round % 2 == 0 {
            rates[0].push(untyped_read(&mut fill)?);
            typed_rates.push(typed_read(&mut fill)?);
        } else {
            typed_rates.push(typed_read(&mut fill)?);
            rates[0].push(untyped_read(&mut fill)?);
        }

        // libbpf
        let want = fill()?;
        let mut t = None;
        let got = crate::libbpf::ring_consume(rb.as_fd(), || t = Some(Instant::now()))?;
        let secs = t.map_or(f64::NAN, |t| t.elapsed().as_secs_f64());
        check("libbpf", got, want)?;
        rates[1].push(f64::from(RECORDS) / secs);

        // aya
        let fd = rb.as_fd().try_clone_to_owned().map_err(|e| e.to_string())?;
        let data = aya::maps::MapData::from_fd(fd).map_err(|e| e.to_string())?;
        let map = aya::maps::Map::from_map_data(data).map_err(|e| e.to_string())?;
        let mut ring = aya::maps::RingBuf::try_from(map).map_err(|e| e.to_string())?;
        let want = fill()?;
        let (mut n, mut sum) = (0u64, 0u64);
        let t = Instant::now();
        while let Some(item) = ring.next() {
            n += 1;
            sum = sum.wrapping_add(u64::from_ne_bytes(item[..8].try_into().unwrap_or([0; 8])));
        }
        let secs = t.elapsed().as_secs_f64();
        check("aya", (n, sum), want)?;
        rates[2].push(f64::from(RECORDS) / secs);
    }
    let [o, l, a] = rates.map(|mut r| Some(median(&mut r)));
    let mut row = Row::new(
        "ring buffer: records consumed per second (16-byte records)",
        "rec/s",
        [o, l, a],
    )
    .goal(Goal::AtLeastLibbpf);
    row.higher_is_better = true;
    let typed = median(&mut typed_rates);
    let mut typed_row = Row::new(
        "ring buffer, typed: the same read as `typed::RingBuf<Record>` (records as a `#[repr(C)]` struct)",
        "rec/s",
        [Some(typed), l, a],
    )
    .goal(Goal::AtLeastLibbpf)
    .note(format!(
        "peers' figures are the row above's (same rounds); typed/untyped oxbpf: {:.2}×",
        typed / o.unwrap_or(f64::NAN)
    ));
    typed_row.higher_is_better = true;
    Ok(vec![row, typed_row])
}
