//! Dumping a hash map of 1,000,000 entries (u32 keys, u64 values): each peer reads
//! every entry and adds up the values. oxbpf and libbpf read in batches of 4096
//! (`BPF_MAP_LOOKUP_BATCH`); aya has no batch lookup and walks the keys. oxbpf is
//! measured untyped (`Map::for_each_entry`, byte slices) and typed (the iterator of
//! `typed::HashMap<u32, u64>::batch_iter`) in each round.

use std::os::fd::AsFd;
use std::time::Instant;

use oxbpf_maps::Map;
use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{MapCreateAttr, MapType};

use crate::{Goal, Row, median};

const ENTRIES: u32 = 1_000_000;
const BATCH: u32 = 4096;
const ROUNDS: usize = 21;

fn create() -> Result<Map, String> {
    let mut attr = MapCreateAttr {
        map_type: MapType::HASH,
        key_size: 4,
        value_size: 8,
        max_entries: ENTRIES,
        ..Default::default()
    };
    attr.map_name[..10].copy_from_slice(b"bench_dump");
    let fd = bpf::map_create(&attr).map_err(|e| e.to_string())?;
    let map = Map::from_fd(fd).map_err(|e| e.to_string())?;
    // Keys 0..N with value = key, in update batches.
    const CHUNK: u32 = 50_000;
    for start in (0..ENTRIES).step_by(CHUNK as usize) {
        let n = CHUNK.min(ENTRIES - start);
        let keys: Vec<u8> = (start..start + n).flat_map(u32::to_ne_bytes).collect();
        let values: Vec<u8> = (start..start + n)
            .flat_map(|k| u64::from(k).to_ne_bytes())
            .collect();
        bpf::map_update_batch(map.map_fd(), &keys, &values, n, 0)
            .map_err(|(e, _)| format!("filling the map: {e}"))?;
    }
    Ok(map)
}

/// The dump rows.
pub fn run() -> Result<Vec<Row>, String> {
    let map = create()?;
    let want = (0..u64::from(ENTRIES)).sum::<u64>();
    let check = |peer: &str, n: u64, sum: u64| -> Result<(), String> {
        if n != u64::from(ENTRIES) || sum != want {
            return Err(format!("{peer} read {n} entries summing to {sum}"));
        }
        Ok(())
    };
    let mut ms: [Vec<f64>; 3] = Default::default();
    let mut typed_ms = Vec::new();
    let typed = oxbpf_maps::typed::HashMap::<'_, u32, u64>::new(&map).map_err(|e| e.to_string())?;
    let untyped_dump = || -> Result<f64, String> {
        let t = Instant::now();
        let mut sum = 0u64;
        let n = map
            .for_each_entry(BATCH, |_, v| {
                sum = sum.wrapping_add(u64::from_ne_bytes(v.try_into().unwrap_or([0; 8])));
            })
            .map_err(|e| e.to_string())?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        check("oxbpf", n as u64, sum)?;
        Ok(ms)
    };
    let typed_dump = || -> Result<f64, String> {
        let t = Instant::now();
        let (mut n, mut sum) = (0u64, 0u64);
        for entry in typed.batch_iter(BATCH) {
            let (_, v) = entry.map_err(|e| e.to_string())?;
            n += 1;
            sum = sum.wrapping_add(v);
        }
        let ms = t.elapsed().as_secs_f64() * 1e3;
        check("oxbpf (typed)", n, sum)?;
        Ok(ms)
    };
    for round in 0..ROUNDS {
        // Untyped and typed take turns going first, so neither gains from the order.
        if round % 2 == 0 {
            ms[0].push(untyped_dump()?);
            typed_ms.push(typed_dump()?);
        } else {
            typed_ms.push(typed_dump()?);
            ms[0].push(untyped_dump()?);
        }

        let t = Instant::now();
        let (n, sum) = crate::libbpf::dump_batch(map.as_fd(), BATCH)?;
        ms[1].push(t.elapsed().as_secs_f64() * 1e3);
        check("libbpf", n, sum)?;

        // aya walks 2,000,000 syscalls: two rounds are enough for a median.
        if round < 2 {
            let fd = map
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| e.to_string())?;
            let data = aya::maps::MapData::from_fd(fd).map_err(|e| e.to_string())?;
            let m = aya::maps::Map::from_map_data(data).map_err(|e| e.to_string())?;
            let hash = aya::maps::HashMap::<_, u32, u64>::try_from(m).map_err(|e| e.to_string())?;
            let t = Instant::now();
            let (mut n, mut sum) = (0u64, 0u64);
            for kv in hash.iter() {
                let (_, v) = kv.map_err(|e| e.to_string())?;
                n += 1;
                sum = sum.wrapping_add(v);
            }
            ms[2].push(t.elapsed().as_secs_f64() * 1e3);
            check("aya", n, sum)?;
        }
    }
    let [o, l, a] = ms.map(|mut v| Some(median(&mut v)));
    let typed = median(&mut typed_ms);
    Ok(vec![
        Row::new("dump a 1,000,000-entry hash map", "ms", [o, l, a])
            .goal(Goal::AtMostTimesLibbpf(1.0))
            .note("batches of 4096 (aya: key by key, it has no batch lookup)"),
        Row::new(
            "dump a 1,000,000-entry hash map, typed: `typed::HashMap<u32, u64>::batch_iter`",
            "ms",
            [Some(typed), l, a],
        )
        .goal(Goal::AtMostTimesLibbpf(1.0))
        .note(format!(
            "peers' figures are the row above's (same rounds; aya's is its typed HashMap); typed/untyped oxbpf: {:.2}×",
            typed / o.unwrap_or(f64::NAN)
        )),
    ])
}
