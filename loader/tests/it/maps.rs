//! Maps from user space: the ring buffer and perf buffer consumers against a program
//! that writes a known sequence.

use std::os::fd::{AsFd, AsRawFd};

use oxbpf_loader::Object;
use oxbpf_loader::load::LoadOptions;
use oxbpf_loader::prelude::*;
use oxbpf_maps::perfbuf::{PerfBuf, PerfRecord};
use oxbpf_maps::ringbuf::RingBuf;
use oxbpf_sys::gate;

/// The record `emit` writes for sequence number `n`: `n` then copies of it, 8 to 40
/// bytes long.
fn expected(n: u64) -> Vec<u8> {
    let words = 1 + (n % 5) as usize;
    (0..words).flat_map(|_| n.to_ne_bytes()).collect()
}

/// Keeps the calling thread on the CPU it runs on now.
fn pin_to_this_cpu() {
    // SAFETY: sched_getcpu takes no arguments; CPU_ZERO/CPU_SET write the local set,
    // and sched_setaffinity reads it for the calling thread (pid 0).
    unsafe {
        let cpu = libc::sched_getcpu();
        assert!(
            cpu >= 0,
            "sched_getcpu: {}",
            std::io::Error::last_os_error()
        );
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu as usize, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(
            rc,
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
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
    let mut rb = RingBuf::new(rb_map).unwrap();
    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap();
    // Two pages per CPU: a batch of records fills most of it, so records wrap often.
    let mut pb = PerfBuf::new(l.map("pb").unwrap(), cpus, 2).unwrap();
    let frame = vec![0u8; 64];
    // Records go to the perf ring of the CPU the test run happens on: keep this thread
    // on one CPU, or two rings hold parts of the sequence and their order is lost.
    pin_to_this_cpu();
    let (mut ring_next, mut perf_next) = (1u64, 1u64);
    for _batch in 0..50 {
        for _ in 0..100 {
            emit.test_run(&frame, &[]).unwrap();
        }
        rb.consume(|r| {
            assert_eq!(r, expected(ring_next).as_slice(), "ring record {ring_next}");
            ring_next += 1;
        })
        .unwrap();
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
    let mut pb = PerfBuf::new(l.map("pb").unwrap(), cpus, 1).unwrap();
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

use oxbpf_maps::{Map, MapError};
use oxbpf_sys::uapi::{MapCreateAttr, MapType, map_flags};

fn create(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32, flags: u32) -> Map {
    let mut attr = MapCreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        map_flags: flags,
        ..Default::default()
    };
    attr.set_name("oxbpf_test");
    Map::from_fd(oxbpf_sys::bpf::map_create(&attr).unwrap()).unwrap()
}

fn errno(e: &MapError) -> Option<i32> {
    match e {
        MapError::Sys { source, .. } => source.errno(),
        _ => None,
    }
}

#[test]
fn hash_map_operations() {
    let _serial = crate::serial();
    if !gate::require_bpf("hash_map_operations") {
        return;
    }
    let m = create(MapType::HASH, 4, 8, 64, 0);
    m.set(&1u32, &10u64, 0).unwrap();
    assert_eq!(m.get::<u32, u64>(&1).unwrap(), Some(10));
    // NOEXIST on a present key, EXIST on an absent one.
    assert_eq!(
        errno(&m.set(&1u32, &11u64, 1).unwrap_err()),
        Some(libc::EEXIST)
    );
    assert_eq!(
        errno(&m.set(&2u32, &20u64, 2).unwrap_err()),
        Some(libc::ENOENT)
    );
    m.set(&1u32, &11u64, 2).unwrap();
    assert_eq!(m.get::<u32, u64>(&1).unwrap(), Some(11));
    // Sizes are checked before any syscall.
    let err = m.get::<u64, u64>(&1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "map `oxbpf_test`: key is 8 bytes, the map's is 4"
    );
    let err = m.update(&1u32.to_ne_bytes(), &[0; 4], 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "map `oxbpf_test`: value is 4 bytes, the map's is 8"
    );
    // Batch update, then batch lookup in small batches, equal to key-by-key reading.
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (100u32..150)
        .map(|k| {
            (
                k.to_ne_bytes().to_vec(),
                u64::from(k * 2).to_ne_bytes().to_vec(),
            )
        })
        .collect();
    m.update_all(&entries, 0).unwrap();
    let mut batched = m.entries(7).unwrap();
    let mut one_by_one: Vec<_> = m
        .keys()
        .unwrap()
        .into_iter()
        .map(|k| {
            let v = m.lookup(&k).unwrap().unwrap();
            (k, v)
        })
        .collect();
    batched.sort();
    one_by_one.sort();
    assert_eq!(batched.len(), 51);
    assert_eq!(batched, one_by_one);
    // Lookup-and-delete (hash maps have it since 5.14), batch delete.
    if crate::kernel_since(5, 14) {
        assert_eq!(
            m.lookup_and_delete(&100u32.to_ne_bytes()).unwrap(),
            Some(200u64.to_ne_bytes().to_vec())
        );
    } else {
        let err = m.lookup_and_delete(&100u32.to_ne_bytes()).unwrap_err();
        assert_eq!(errno(&err), Some(oxbpf_sys::ENOTSUPP));
        assert!(
            crate::chain(&err).ends_with(
                "not supported by this kernel for this kind of object (ENOTSUPP, errno 524)"
            ),
            "{}",
            crate::chain(&err)
        );
        m.delete(&100u32.to_ne_bytes()).unwrap();
    }
    assert_eq!(m.lookup(&100u32.to_ne_bytes()).unwrap(), None);
    let keys: Vec<Vec<u8>> = (101u32..150).map(|k| k.to_ne_bytes().to_vec()).collect();
    m.delete_all(&keys).unwrap();
    assert_eq!(m.keys().unwrap(), vec![1u32.to_ne_bytes().to_vec()]);
    m.delete(&1u32.to_ne_bytes()).unwrap();
    assert_eq!(
        errno(&m.delete(&1u32.to_ne_bytes()).unwrap_err()),
        Some(libc::ENOENT)
    );
    assert!(m.entries(16).unwrap().is_empty());
}

#[test]
fn array_and_per_cpu_maps() {
    let _serial = crate::serial();
    if !gate::require_bpf("array_and_per_cpu_maps") {
        return;
    }
    let a = create(MapType::ARRAY, 4, 4, 8, 0);
    a.set(&3u32, &33u32, 0).unwrap();
    let all = a.entries(3).unwrap();
    assert_eq!(all.len(), 8, "arrays have every index");
    assert_eq!(
        all[3],
        (3u32.to_ne_bytes().to_vec(), 33u32.to_ne_bytes().to_vec())
    );
    assert_eq!(
        errno(&a.delete(&3u32.to_ne_bytes()).unwrap_err()),
        Some(libc::EINVAL)
    );

    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap() as usize;
    for t in [MapType::PERCPU_ARRAY, MapType::PERCPU_HASH] {
        // 4-byte values, each CPU's padded to 8.
        let p = create(t, 4, 4, 8, 0);
        assert_eq!(p.user_value_size().unwrap(), 8 * cpus);
        let mut v = vec![0u8; 8 * cpus];
        for cpu in 0..cpus {
            v[cpu * 8..cpu * 8 + 4].copy_from_slice(&(cpu as u32 + 1).to_ne_bytes());
        }
        p.update(&1u32.to_ne_bytes(), &v, 0).unwrap();
        assert_eq!(
            p.lookup(&1u32.to_ne_bytes()).unwrap(),
            Some(v.clone()),
            "{t}"
        );
        let err = p.update(&1u32.to_ne_bytes(), &[0; 4], 0).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("value is 4 bytes, the map's is {}", 8 * cpus)),
            "{err}"
        );
        assert!(
            p.entries(4)
                .unwrap()
                .iter()
                .any(|(k, val)| k == &1u32.to_ne_bytes() && val == &v)
        );
    }
}

#[test]
fn lru_lpm_queue_stack_and_map_in_map() {
    let _serial = crate::serial();
    if !gate::require_bpf("lru_lpm_queue_stack_and_map_in_map") {
        return;
    }
    // LRU: a full map evicts the least recently used key to make room.
    let lru = create(MapType::LRU_HASH, 4, 4, 64, map_flags::NO_COMMON_LRU);
    for k in 0u32..1000 {
        lru.set(&k, &k, 0).unwrap();
    }
    let kept = lru.keys().unwrap().len();
    assert!(kept <= 64 && kept > 0, "{kept}");
    assert_eq!(
        lru.get::<u32, u32>(&999).unwrap(),
        Some(999),
        "the newest is kept"
    );

    // LPM trie: the longest matching prefix wins.
    let lpm = create(MapType::LPM_TRIE, 8, 4, 16, map_flags::NO_PREALLOC);
    let key = |len: u32, ip: [u8; 4]| {
        let mut k = len.to_ne_bytes().to_vec();
        k.extend_from_slice(&ip);
        k
    };
    lpm.update(&key(8, [10, 0, 0, 0]), &1u32.to_ne_bytes(), 0)
        .unwrap();
    lpm.update(&key(24, [10, 1, 2, 0]), &2u32.to_ne_bytes(), 0)
        .unwrap();
    let at = |ip| {
        lpm.lookup(&key(32, ip))
            .unwrap()
            .map(|v| u32::from_ne_bytes(v[..4].try_into().unwrap()))
    };
    assert_eq!(at([10, 1, 2, 3]), Some(2));
    assert_eq!(at([10, 9, 9, 9]), Some(1));
    assert_eq!(at([11, 0, 0, 1]), None);

    // Queue: first in, first out; stack: last in, first out; both refuse when full.
    let q = create(MapType::QUEUE, 0, 4, 3, 0);
    let s = create(MapType::STACK, 0, 4, 3, 0);
    for v in 1u32..=3 {
        q.push(&v.to_ne_bytes()).unwrap();
        s.push(&v.to_ne_bytes()).unwrap();
    }
    assert_eq!(
        errno(&q.push(&4u32.to_ne_bytes()).unwrap_err()),
        Some(libc::E2BIG)
    );
    assert_eq!(q.peek().unwrap(), Some(1u32.to_ne_bytes().to_vec()));
    let drain = |m: &Map| {
        std::iter::from_fn(|| m.pop().unwrap())
            .map(|v| v[0])
            .collect::<Vec<_>>()
    };
    assert_eq!(drain(&q), [1, 2, 3]);
    assert_eq!(drain(&s), [3, 2, 1]);
    assert_eq!(q.pop().unwrap(), None, "empty");

    // Array of maps: a slot holds an inner map, set by fd, read back as its id.
    let inner = create(MapType::ARRAY, 4, 4, 1, 0);
    let mut attr = MapCreateAttr {
        map_type: MapType::ARRAY_OF_MAPS,
        key_size: 4,
        value_size: 4,
        max_entries: 2,
        inner_map_fd: inner.as_fd().as_raw_fd() as u32,
        ..Default::default()
    };
    attr.set_name("oxbpf_outer");
    let outer = Map::from_fd(oxbpf_sys::bpf::map_create(&attr).unwrap()).unwrap();
    outer
        .set(&0u32, &(inner.as_fd().as_raw_fd() as u32), 0)
        .unwrap();
    assert_eq!(
        outer.get::<u32, u32>(&0).unwrap(),
        Some(inner.id().unwrap())
    );
    assert_eq!(outer.get::<u32, u32>(&1).unwrap(), None);
}

#[test]
fn several_ring_buffers_are_read_through_one_epoll() {
    use oxbpf_maps::ringbuf::RingBufs;
    let _serial = crate::serial();
    if !gate::require_bpf("several_ring_buffers_are_read_through_one_epoll") {
        return;
    }
    // Two loads of events.bpf.o: two ring buffers, each fed by its own program.
    let load = || {
        Object::open(crate::testdata("events.bpf.o"))
            .unwrap()
            .load(&LoadOptions::default())
            .unwrap()
    };
    let (a, b) = (load(), load());
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    {
        let mut rings = RingBufs::new().unwrap();
        for (l, got) in [(&a, &mut got_a), (&b, &mut got_b)] {
            let m = l.map("rb").unwrap();
            rings
                .add(m, |r: &[u8]| {
                    got.push(u64::from_ne_bytes(r[..8].try_into().unwrap()));
                })
                .unwrap();
        }
        // Nothing written yet: the wait times out with nothing handled.
        assert_eq!(rings.poll(10).unwrap(), 0);
        for _ in 0..3 {
            a.program("emit")
                .unwrap()
                .test_run(&[0u8; 64], &[])
                .unwrap();
        }
        for _ in 0..5 {
            b.program("emit")
                .unwrap()
                .test_run(&[0u8; 64], &[])
                .unwrap();
        }
        let mut handled = 0;
        while handled < 8 {
            let n = rings.poll(1000).unwrap();
            assert!(n > 0, "records were written but the wait timed out");
            handled += n;
        }
        assert_eq!(handled, 8);
        assert_eq!(rings.consume().unwrap(), 0, "nothing is read twice");
    }
    assert_eq!(got_a, [1, 2, 3]);
    assert_eq!(got_b, [1, 2, 3, 4, 5]);
}

#[test]
fn an_arena_holds_a_list_a_program_built_and_user_space_walks_it() {
    let _serial = crate::serial();
    let test = "maps::an_arena_holds_a_list_a_program_built_and_user_space_walks_it";
    if !oxbpf_sys::gate::require_bpf(test) {
        return;
    }
    let obj = oxbpf_loader::Object::open(crate::testdata("arena.bpf.o")).unwrap();
    let l = match obj.load(&oxbpf_loader::load::LoadOptions::default()) {
        Ok(l) => l,
        Err(e) => {
            // Kernels before 6.9 lack the arena kfuncs (refused at the extern, first);
            // this machine's has them but refuses arena maps: each said so.
            let why = crate::chain(&e);
            let no_kfunc = why.contains(
                "extern `bpf_arena_alloc_pages`: the kernel has no function of that name",
            );
            assert!(
                why.contains("this kernel refuses arena maps")
                    || (no_kfunc && !crate::kernel_since(6, 9)),
                "{why}"
            );
            // The matrix's kernels with BPF trampolines (a full JIT) from 6.9 on have them.
            assert!(
                !(crate::attach::expected("trampolines") && crate::kernel_since(6, 9)),
                "{why}"
            );
            eprintln!("{test}: nothing to run here: {why}");
            return;
        }
    };
    let get = |name: &str| {
        let v = l
            .global(name)
            .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
        let mut b = [0u8; 8];
        b[..v.len()].copy_from_slice(&v);
        i64::from_ne_bytes(b)
    };
    let arena = l.arena().expect("the arena is mapped");
    // Where map_extra put it, with the __arena globals' initial values copied in.
    assert_eq!(arena.address(), 1 << 44);
    assert_eq!((get("total"), get("count"), get("head")), (1000, 10, 0));
    // User space writes an __arena global in place; the program reads it.
    l.set_global("count", &12i32.to_ne_bytes()).unwrap();
    let run = l.program("build_list").unwrap().test_run(&[], &[]).unwrap();
    assert_eq!(run.retval, 0, "the arena had no page to give");
    assert_eq!(get("built"), 12);
    assert_eq!(get("total"), 1000 + (1..=12).sum::<i64>());
    // The list the program linked, walked through the same pointers from user space.
    let word = |addr: u64| {
        let off = usize::try_from(addr).unwrap() - arena.address();
        u64::from_ne_bytes(arena.read(off, 8).unwrap().try_into().unwrap())
    };
    let mut values = Vec::new();
    let mut at = get("head") as u64;
    while at != 0 {
        values.push(word(at + 8));
        at = word(at);
    }
    assert_eq!(values, (1..=12).rev().collect::<Vec<u64>>());
}

#[test]
fn typed_maps_check_their_types_and_sizes_then_work_on_rust_values() {
    use oxbpf_maps::typed::{Array, HashMap, PerCpuArray};
    let _serial = crate::serial();
    if !oxbpf_sys::gate::require_bpf(
        "typed_maps_check_their_types_and_sizes_then_work_on_rust_values",
    ) {
        return;
    }
    // bootstrap's exec_start: pid_t -> u64.
    let l = oxbpf_loader::Object::open(crate::testdata("bootstrap.bpf.o"))
        .unwrap()
        .load(&oxbpf_loader::load::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let map = l.map("exec_start").unwrap();
    let starts: HashMap<'_, i32, u64> = HashMap::new(map).unwrap();
    starts.insert(&7, &70, 0).unwrap();
    starts.insert(&8, &80, 0).unwrap();
    assert_eq!(starts.get(&7).unwrap(), Some(70));
    assert_eq!(starts.get(&9).unwrap(), None);
    let mut all = starts.iter().unwrap();
    all.sort_unstable();
    assert_eq!(all, [(7, 70), (8, 80)]);
    starts.remove(&7).unwrap();
    assert_eq!(starts.keys().unwrap(), [8]);
    // Sizes and types are checked, naming the map's and the Rust type's.
    // (exec_start is `__type(key, pid_t)`, `__type(value, u64)`: its BTF types are named.)
    let e = HashMap::<'_, u64, u64>::new(map).unwrap_err().to_string();
    assert_eq!(
        e,
        "map `exec_start` as a typed map: key type `pid_t` (BTF) is 4 bytes, u64 is 8"
    );
    let e = HashMap::<'_, i32, u32>::new(map).unwrap_err().to_string();
    assert_eq!(
        e,
        "map `exec_start` as a typed map: value type `u64` (BTF) is 8 bytes, u32 is 4"
    );
    let e = Array::<'_, u64>::new(map).unwrap_err().to_string();
    assert_eq!(e, "map `exec_start` is a hash, not an array");

    // sockex1's my_map: an array of 256 longs; maps_btf's percpu_counts: per-CPU u64s.
    let l = oxbpf_loader::Object::open(crate::testdata("sockex1.bpf.o"))
        .unwrap()
        .load(&oxbpf_loader::load::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let counts: Array<'_, i64> = Array::new(l.map("my_map").unwrap()).unwrap();
    assert_eq!(counts.len(), 256);
    counts.set(6, &-5).unwrap();
    assert_eq!((counts.get(6).unwrap(), counts.get(17).unwrap()), (-5, 0));
    assert!(
        counts
            .get(256)
            .unwrap_err()
            .to_string()
            .contains("index 256 is past its 256 elements")
    );
    let mut obj = oxbpf_loader::Object::open(crate::testdata("maps_btf.bpf.o")).unwrap();
    obj.load_only::<&str>(&[]).unwrap();
    // (pinned_counts is pinned by name, jump_table names programs: not wanted here.)
    for m in crate::newer_maps("maps_btf.bpf.o")
        .into_iter()
        .chain(["pinned_counts".to_string(), "jump_table".to_string()])
    {
        obj.map_mut(&m).unwrap().autocreate = false;
    }
    let l = obj
        .load(&oxbpf_loader::load::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let percpu: PerCpuArray<'_, u64> = PerCpuArray::new(l.map("percpu_counts").unwrap()).unwrap();
    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap() as usize;
    assert_eq!(percpu.get(0).unwrap(), vec![0u64; cpus]);
    assert_eq!(percpu.sum(0, |a, b| a + b).unwrap(), Some(0));
    // lpm_map: u64 keys (prefix length + 4 address bytes) to u32; queue of u32.
    use oxbpf_maps::typed::{LpmKey, LpmTrie, Queue};
    let routes: LpmTrie<'_, [u8; 4], u32> = LpmTrie::new(l.map("lpm_map").unwrap()).unwrap();
    routes
        .insert(
            &LpmKey {
                prefix_len: 8,
                addr: [10, 0, 0, 0],
            },
            &1,
        )
        .unwrap();
    routes
        .insert(
            &LpmKey {
                prefix_len: 24,
                addr: [10, 1, 2, 0],
            },
            &2,
        )
        .unwrap();
    assert_eq!(routes.longest_match(&[10, 1, 2, 3]).unwrap(), Some(2));
    assert_eq!(routes.longest_match(&[10, 9, 9, 9]).unwrap(), Some(1));
    assert_eq!(routes.longest_match(&[192, 168, 0, 1]).unwrap(), None);
    let e = LpmTrie::<'_, [u8; 16], u32>::new(l.map("lpm_map").unwrap()).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "key type `struct lpm_key` (BTF) is 8 bytes, a prefix length with [u8; 16] is 20"
        ),
        "{e}"
    );
    let queue: Queue<'_, u32> = Queue::new(l.map("queue").unwrap()).unwrap();
    queue.push(&5).unwrap();
    queue.push(&6).unwrap();
    assert_eq!(
        (queue.peek().unwrap(), queue.pop().unwrap()),
        (Some(5), Some(5))
    );
    assert_eq!(
        (queue.pop().unwrap(), queue.pop().unwrap()),
        (Some(6), None)
    );
    let e = Queue::<'_, u64>::new(l.map("queue").unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "map `queue` as a typed map: its values are 4 bytes, and u64 is 8"
    );

    // maps_btf's jump_table (tail_a, tail_b in its slots) and outer (inner_a, inner_b).
    use oxbpf_maps::typed::{MapOfMaps, ProgArray};
    use std::os::fd::AsFd as _;
    let mut obj = oxbpf_loader::Object::open(crate::testdata("maps_btf.bpf.o")).unwrap();
    obj.load_only(&["tail_a", "tail_b"]).unwrap();
    for m in crate::newer_maps("maps_btf.bpf.o")
        .into_iter()
        .chain(["pinned_counts".to_string()])
    {
        obj.map_mut(&m).unwrap().autocreate = false;
    }
    let l = obj
        .load(&oxbpf_loader::load::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let (a, b) = (l.program("tail_a").unwrap(), l.program("tail_b").unwrap());
    let jumps = ProgArray::new(l.map("jump_table").unwrap()).unwrap();
    assert_eq!(jumps.program_id(0).unwrap(), Some(a.id().unwrap()));
    jumps.set(0, b.as_fd()).unwrap();
    assert_eq!(jumps.program_id(0).unwrap(), Some(b.id().unwrap()));
    jumps.clear(1).unwrap();
    assert_eq!(jumps.program_id(1).unwrap(), None);
    let outer: MapOfMaps<'_, u32> = MapOfMaps::new(l.map("outer").unwrap()).unwrap();
    let (ia, ib) = (l.map("inner_a").unwrap(), l.map("inner_b").unwrap());
    assert_eq!(outer.map_id(&0).unwrap(), Some(ia.id().unwrap()));
    outer.set(&0, ib.as_fd()).unwrap();
    assert_eq!(outer.map_id(&0).unwrap(), Some(ib.id().unwrap()));
    assert!(
        ProgArray::new(ia)
            .unwrap_err()
            .to_string()
            .contains("not a program array")
    );
}

/// `testdata/maps_more.bpf.c`'s `struct locked_value`: a `bpf_spin_lock` (a u32), the
/// padding the C compiler puts after it, then the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct LockedValue {
    lock: u32,
    pad: u32,
    count: u64,
}

/// maps_more.bpf.o loaded with no program, only its maps (those of types this kernel has).
fn maps_more_maps() -> oxbpf_loader::load::Loaded {
    let mut obj = crate::skip_maps(
        Object::open(crate::testdata("maps_more.bpf.o")).unwrap(),
        &crate::newer_maps("maps_more.bpf.o"),
    );
    obj.load_only::<&str>(&[]).unwrap();
    obj.load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)))
}

#[test]
fn typed_maps_check_sizes_against_the_btf_types_and_read_under_the_spin_lock() {
    use oxbpf_maps::typed::{Array, HashMap, Queue};
    use oxbpf_maps::{MapBtfType, MapBtfTypes};
    let _serial = crate::serial();
    if !gate::require_bpf(
        "typed_maps_check_sizes_against_the_btf_types_and_read_under_the_spin_lock",
    ) {
        return;
    }
    let l = maps_more_maps();
    let locked = l.map("locked").unwrap();
    // The loader keeps the BTF types the map was created with (`__type(...)`).
    assert_eq!(
        locked.btf_types(),
        &MapBtfTypes {
            key: Some(MapBtfType {
                name: "u32".into(),
                size: 4
            }),
            value: Some(MapBtfType {
                name: "struct locked_value".into(),
                size: 16
            }),
        }
    );
    // A stack has no BTF types (the kernel refuses them for it, as libbpf knows).
    assert_eq!(
        l.map("value_stack").unwrap().btf_types(),
        &MapBtfTypes::default()
    );
    // A Rust type of another size than the BTF type: the error names both.
    let e = HashMap::<'_, u32, u64>::new(locked)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "map `locked` as a typed map: value type `struct locked_value` (BTF) is 16 bytes, u64 is 8"
    );
    let e = HashMap::<'_, u16, LockedValue>::new(locked)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "map `locked` as a typed map: key type `u32` (BTF) is 4 bytes, u16 is 2"
    );
    let e = Array::<'_, u32>::new(l.map("on_node_zero").unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "map `on_node_zero` as a typed map: value type `u64` (BTF) is 8 bytes, u32 is 4"
    );
    // A map without BTF types is checked against its sizes, as before.
    let e = Queue::<'_, u32>::new(l.map("value_stack").unwrap()).unwrap_err();
    assert_eq!(e.to_string(), "map `value_stack` is a stack, not a queue");

    // BPF_F_LOCK: written and read under the value's spin lock (the kernel copies all
    // but the lock itself, which reads as zero).
    let values: HashMap<'_, u32, LockedValue> = HashMap::new(locked).unwrap();
    let v = LockedValue {
        lock: 0,
        pad: 0,
        count: 42,
    };
    values.insert_locked(&1, &v, 0).unwrap();
    assert_eq!(values.get_locked(&1).unwrap(), Some(v));
    assert_eq!(values.get_locked(&2).unwrap(), None);
    let v2 = LockedValue { count: 43, ..v };
    values.insert_locked(&1, &v2, 2 /* BPF_EXIST */).unwrap();
    assert_eq!(values.get(&1).unwrap(), Some(v2));
    // A value without a spin lock cannot be read under one: the kernel says EINVAL.
    let counts: Array<'_, u64> = Array::new(l.map("on_node_zero").unwrap()).unwrap();
    let e = counts.get_locked(0).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EINVAL), "{e}");
}

#[test]
fn typed_lru_hash_maps_and_stacks_take_only_their_kind() {
    use oxbpf_maps::typed::{HashMap, LruHashMap, Queue, Stack};
    let _serial = crate::serial();
    if !gate::require_bpf("typed_lru_hash_maps_and_stacks_take_only_their_kind") {
        return;
    }
    let mut obj = Object::open(crate::testdata("maps_btf.bpf.o")).unwrap();
    obj.load_only::<&str>(&[]).unwrap();
    let l = crate::skip_maps(
        obj,
        &[
            crate::newer_maps("maps_btf.bpf.o"),
            vec!["pinned_counts".into(), "jump_table".into()],
        ]
        .concat(),
    )
    .load(&LoadOptions::default())
    .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    // lru_map: __u64 -> __u32, 128 entries; an LRU map evicts rather than refuse.
    let lru: LruHashMap<'_, u64, u32> = LruHashMap::new(l.map("lru_map").unwrap()).unwrap();
    for k in 0..1000u64 {
        lru.insert(&k, &(k as u32), 0).unwrap();
    }
    let kept = lru.keys().unwrap();
    assert!(!kept.is_empty() && kept.len() <= 128, "{}", kept.len());
    assert_eq!(lru.get(&999).unwrap(), Some(999), "the newest is kept");
    // A hash map view takes an LRU map too (as aya's does); an LRU view only LRU maps.
    assert!(HashMap::<'_, u64, u32>::new(l.map("lru_map").unwrap()).is_ok());
    let e = LruHashMap::<'_, u32, u64>::new(l.map("hash_map").unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "map `hash_map` is a hash, not an LRU hash map"
    );

    // maps_more's value_stack: u64, 8 deep; last in, first out.
    let l = maps_more_maps();
    let stack: Stack<'_, u64> = Stack::new(l.map("value_stack").unwrap()).unwrap();
    for v in [1u64, 2, 3] {
        stack.push(&v).unwrap();
    }
    assert_eq!(stack.peek().unwrap(), Some(3));
    let popped: Vec<u64> = std::iter::from_fn(|| stack.pop().unwrap()).collect();
    assert_eq!(popped, [3, 2, 1]);
    let e = Stack::<'_, u32>::new(l.map("value_stack").unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "map `value_stack` as a typed map: its values are 8 bytes, and u32 is 4"
    );
    let e = Stack::<'_, u64>::new(l.map("locked").unwrap()).unwrap_err();
    assert_eq!(e.to_string(), "map `locked` is a hash, not a stack");
    assert!(Queue::<'_, u64>::new(l.map("value_stack").unwrap()).is_err());
}

#[test]
fn typed_maps_iterate_update_and_delete_in_batches() {
    use oxbpf_maps::typed::{Array, HashMap, PerCpuHashMap};
    let _serial = crate::serial();
    if !gate::require_bpf("typed_maps_iterate_update_and_delete_in_batches") {
        return;
    }
    // u32 -> u64, 10,000 entries (no BTF: checked against the map's sizes).
    let m = create(MapType::HASH, 4, 8, 10_000, 0);
    let h: HashMap<'_, u32, u64> = HashMap::new(&m).unwrap();
    let entries: Vec<(u32, u64)> = (0..5000u32).map(|k| (k, u64::from(k) * 3)).collect();
    h.insert_batch(&entries, 0).unwrap();
    // The iterator reads 64 at a time; every entry once.
    let mut got: Vec<(u32, u64)> = h.batch_iter(64).collect::<Result<_, _>>().unwrap();
    got.sort_unstable();
    assert_eq!(got, entries);
    // It stops reading when the caller stops.
    assert_eq!(h.batch_iter(64).take(10).count(), 10);
    let (mut n, mut sum) = (0, 0u64);
    assert_eq!(
        h.for_each(1000, |_, v| {
            n += 1;
            sum += v;
        })
        .unwrap(),
        5000
    );
    assert_eq!((n, sum), (5000, (0..5000u64).map(|k| k * 3).sum()));
    // A batch update takes no flag but BPF_F_LOCK (kernel/bpf/syscall.c,
    // generic_map_update_batch): BPF_NOEXIST is refused whole.
    let e = h.insert_batch(&entries[..2], 1).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EINVAL), "{e}");
    // Remove the even keys in one batch; take one more.
    let even: Vec<u32> = (0..5000).step_by(2).collect();
    h.remove_batch(&even).unwrap();
    // Lookup-and-delete on hash maps arrived in 5.14; before, the kernel refuses it.
    if crate::kernel_since(5, 14) {
        assert_eq!(h.take(&1).unwrap(), Some(3));
        assert_eq!(h.take(&1).unwrap(), None);
    } else {
        let e = crate::chain(&h.take(&1).unwrap_err());
        assert!(e.contains("BPF_MAP_LOOKUP_AND_DELETE_ELEM"), "{e}");
        h.remove(&1).unwrap();
    }
    let mut left: Vec<u32> = h.batch_iter(4096).map(|e| e.unwrap().0).collect();
    left.sort_unstable();
    assert_eq!(left, (3..5000).step_by(2).collect::<Vec<u32>>());
    // An empty map: nothing, and no error.
    let empty = create(MapType::HASH, 4, 8, 16, 0);
    let empty: HashMap<'_, u32, u64> = HashMap::new(&empty).unwrap();
    assert_eq!(empty.batch_iter(8).count(), 0);

    // An LPM trie has no batch lookup: the walk goes key by key, lazily too.
    let lpm = create(MapType::LPM_TRIE, 8, 4, 16, map_flags::NO_PREALLOC);
    for (len, v) in [(8u32, 1u32), (16, 2), (24, 3)] {
        let mut k = len.to_ne_bytes().to_vec();
        k.extend_from_slice(&[10, 1, 2, 0]);
        lpm.update(&k, &v.to_ne_bytes(), 0).unwrap();
    }
    let mut walk = lpm.batches(64);
    let mut values = Vec::new();
    while walk.next_batch().unwrap() > 0 {
        values.extend(walk.iter().map(|(_, v)| v[0]));
    }
    values.sort_unstable();
    assert_eq!(values, [1, 2, 3]);

    // An array: every index, in order.
    let a = create(MapType::ARRAY, 4, 8, 100, 0);
    let a: Array<'_, u64> = Array::new(&a).unwrap();
    a.set(7, &70).unwrap();
    let all: Vec<(u32, u64)> = a.batch_iter(16).collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 100);
    assert!(all.iter().enumerate().all(|(i, &(k, _))| k as usize == i));
    assert_eq!(all[7], (7, 70));

    // A per-CPU hash map: each key with its value on each possible CPU.
    let p = create(MapType::PERCPU_HASH, 4, 8, 16, 0);
    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap() as usize;
    let per_cpu: Vec<u8> = (0..cpus as u64)
        .flat_map(|c| (c + 10).to_ne_bytes())
        .collect();
    p.update(&5u32.to_ne_bytes(), &per_cpu, 0).unwrap();
    let p: PerCpuHashMap<'_, u32, u64> = PerCpuHashMap::new(&p).unwrap();
    let all: Vec<(u32, Vec<u64>)> = p.batch_iter(4).collect::<Result<_, _>>().unwrap();
    assert_eq!(all, [(5, (10..10 + cpus as u64).collect::<Vec<_>>())]);
}

#[test]
fn typed_ring_and_perf_buffers_hand_out_records_as_rust_values() {
    use oxbpf_maps::typed::{PerfEvent, PerfEventArray, RingBuf};
    let _serial = crate::serial();
    if !gate::require_bpf("typed_ring_and_perf_buffers_hand_out_records_as_rust_values") {
        return;
    }
    let l = Object::open(crate::testdata("events.bpf.o"))
        .unwrap()
        .load(&LoadOptions::default())
        .unwrap();
    let emit = l.program("emit").unwrap();
    // Each record starts with its sequence number (8 to 40 bytes, see `expected`).
    let mut seqs: RingBuf<u64> = RingBuf::new(l.map("rb").unwrap()).unwrap();
    let mut samples: PerfEventArray<u64> = PerfEventArray::new(l.map("pb").unwrap(), 2).unwrap();
    // Nothing yet: the wait times out with nothing handed over.
    assert_eq!(seqs.poll(10, |_| panic!("no record yet")).unwrap(), 0);
    pin_to_this_cpu();
    for _ in 0..20 {
        emit.test_run(&[0u8; 64], &[]).unwrap();
    }
    let mut got = Vec::new();
    assert_eq!(seqs.poll(1000, |s| got.push(s)).unwrap(), 20);
    assert_eq!(got, (1..=20).collect::<Vec<u64>>());
    let mut sampled = Vec::new();
    samples
        .poll(1000, |e| match e {
            PerfEvent::Sample { value, .. } => sampled.push(value),
            PerfEvent::Lost { count, .. } => panic!("lost {count}"),
        })
        .unwrap();
    assert_eq!(sampled, (1..=20).collect::<Vec<u64>>());
    drop(seqs);
    // Records shorter than the type (sequence numbers divisible by 5 are 8 bytes, not
    // 16) are counted, not handed over.
    let mut pairs: RingBuf<[u64; 2]> = RingBuf::new(l.map("rb").unwrap()).unwrap();
    for _ in 0..10 {
        emit.test_run(&[0u8; 64], &[]).unwrap();
    }
    let mut firsts = Vec::new();
    assert_eq!(pairs.consume(|[s, _]| firsts.push(s)).unwrap(), 8);
    assert_eq!(firsts, [21, 22, 23, 24, 26, 27, 28, 29]);
    assert_eq!(pairs.short_records(), 2);
    // Map types are checked.
    let e = RingBuf::<u64>::new(l.map("pb").unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "map `pb` is a perf_event_array, not a ring buffer"
    );
    let e = PerfEventArray::<u64>::new(l.map("rb").unwrap(), 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "map `rb` is a ringbuf, not a perf event array"
    );
}

#[test]
fn ring_buffer_records_of_a_tracepoint_program_reach_an_async_consumer() {
    use oxbpf_loader::load::LoadOptions;
    use oxbpf_maps::ringbuf::{AsyncRingBufs, RingBufs};
    let _serial = crate::serial();
    if !oxbpf_sys::gate::require_bpf(
        "ring_buffer_records_of_a_tracepoint_program_reach_an_async_consumer",
    ) {
        return;
    }
    // bootstrap: an exec event (comm at offset 24, 16 bytes) through its ring buffer.
    let mut obj = oxbpf_loader::Object::open(crate::testdata("bootstrap.bpf.o")).unwrap();
    obj.set_global("min_duration_ns", &0u64.to_ne_bytes())
        .unwrap();
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let _link = l
        .program("handle_exec")
        .unwrap()
        .attach_tracepoint("sched", "sched_process_exec")
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    runtime.block_on(async {
        let mut set = RingBufs::new().unwrap();
        set.add(l.map("rb").unwrap(), |r: &[u8]| {
            let comm = &r[24..40];
            let end = comm.iter().position(|&b| b == 0).unwrap_or(16);
            seen.borrow_mut()
                .push(String::from_utf8_lossy(&comm[..end]).into_owned());
        })
        .unwrap();
        let mut events = AsyncRingBufs::new(set).unwrap();
        // The exec happens while the consumer waits.
        let child = std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::process::Command::new("/bin/true").status().unwrap()
        });
        let waited = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while !seen.borrow().iter().any(|c| c == "true") {
                events.next().await.unwrap();
            }
        })
        .await;
        child.join().unwrap();
        assert!(
            waited.is_ok(),
            "no exec event within 5 s: {:?}",
            seen.borrow()
        );
    });
}

#[test]
fn perf_buffer_records_reach_an_async_consumer() {
    use oxbpf_maps::perfbuf::{AsyncPerfBuf, PerfBuf, PerfRecord};
    let _serial = crate::serial();
    if !gate::require_bpf("perf_buffer_records_reach_an_async_consumer") {
        return;
    }
    let l = Object::open(crate::testdata("events.bpf.o"))
        .unwrap()
        .load(&LoadOptions::default())
        .unwrap();
    let emit = l.program("emit").unwrap();
    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    let mut samples = 0;
    std::thread::scope(|s| {
        // Three records, sent while the consumer waits.
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            for _ in 0..3 {
                emit.test_run(&[0u8; 64], &[]).unwrap();
            }
        });
        runtime.block_on(async {
            let mut events =
                AsyncPerfBuf::new(PerfBuf::new(l.map("pb").unwrap(), cpus, 2).unwrap()).unwrap();
            let waited = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                while samples < 3 {
                    events
                        .next(|r| {
                            if let PerfRecord::Sample { .. } = r {
                                samples += 1;
                            }
                        })
                        .await
                        .unwrap();
                }
            })
            .await;
            assert!(waited.is_ok(), "{samples} of 3 records within 5 s");
        });
    });
    assert_eq!(samples, 3);
}
