use std::os::fd::AsRawFd;

use oxbpf_sys::bpf::{self, ProgLoadData};
use oxbpf_sys::fd::open_fd_count;
use oxbpf_sys::gate::require_bpf;
use oxbpf_sys::uapi::{Insn, MapCreateAttr, MapType, ProgLoadAttr, ProgType};

/// `r0 = 0; exit`: the smallest program the verifier accepts.
fn return_zero() -> [Insn; 2] {
    [Insn::new(0xb7, 0, 0, 0, 0), Insn::new(0x95, 0, 0, 0, 0)]
}

#[test]
fn creates_an_array_map() {
    let _serial = crate::serial();
    if !require_bpf("creates_an_array_map") {
        return;
    }
    let before = open_fd_count().unwrap();
    let mut attr = MapCreateAttr {
        map_type: MapType::ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        ..Default::default()
    };
    attr.set_name("oxbpf_test_map");
    let fd = bpf::map_create(&attr).unwrap();
    assert!(fd.as_raw_fd() > 2, "map fd {} is below 3", fd.as_raw_fd());
    assert_eq!(open_fd_count().unwrap(), before + 1);
    drop(fd);
    assert_eq!(open_fd_count().unwrap(), before);
}

#[test]
fn refuses_a_map_definition_with_einval() {
    let _serial = crate::serial();
    if !require_bpf("refuses_a_map_definition_with_einval") {
        return;
    }
    // An array map needs a 4-byte key.
    let attr = MapCreateAttr {
        map_type: MapType::ARRAY,
        key_size: 3,
        value_size: 8,
        max_entries: 4,
        ..Default::default()
    };
    let err = bpf::map_create(&attr).unwrap_err();
    assert_eq!(err.errno(), Some(libc::EINVAL));
    assert_eq!(err.to_string(), "BPF_MAP_CREATE failed");
}

#[test]
fn loads_a_trivial_socket_filter() {
    let _serial = crate::serial();
    if !require_bpf("loads_a_trivial_socket_filter") {
        return;
    }
    let insns = return_zero();
    let mut attr = ProgLoadAttr {
        prog_type: ProgType::SOCKET_FILTER,
        log_level: 1,
        ..Default::default()
    };
    attr.set_name("oxbpf_trivial");
    let mut log = vec![0u8; 4096];
    let data = ProgLoadData {
        insns: &insns,
        license: c"GPL",
        log: &mut log,
        func_info: &[],
        line_info: &[],
        fd_array: &[],
    };
    let fd = bpf::prog_load(&attr, data).unwrap();
    assert!(fd.as_raw_fd() > 2);
    // With log_level 1 the verifier reports what it checked.
    let text =
        String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned();
    assert!(text.contains("processed 2 insns"), "verifier log: {text:?}");
}

#[test]
fn rejected_program_returns_the_verifier_log() {
    let _serial = crate::serial();
    if !require_bpf("rejected_program_returns_the_verifier_log") {
        return;
    }
    // No exit: the verifier must refuse to fall off the end.
    let insns = [Insn::new(0xb7, 0, 0, 0, 0)];
    let attr = ProgLoadAttr {
        prog_type: ProgType::SOCKET_FILTER,
        log_level: 1,
        ..Default::default()
    };
    let mut log = vec![0u8; 4096];
    let before = open_fd_count().unwrap();
    let data = ProgLoadData {
        insns: &insns,
        license: c"GPL",
        log: &mut log,
        func_info: &[],
        line_info: &[],
        fd_array: &[],
    };
    let err = bpf::prog_load(&attr, data).unwrap_err();
    assert_eq!(err.errno(), Some(libc::EINVAL));
    let text =
        String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned();
    assert!(
        text.contains("last insn is not an exit or jmp"),
        "verifier log: {text:?}"
    );
    assert_eq!(open_fd_count().unwrap(), before);
}

/// A hash map of 4-byte keys and 8-byte values, its sizes bound to its fd.
fn hash_map(name: &str) -> bpf::MapFd {
    let mut attr = MapCreateAttr {
        map_type: MapType::HASH,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        ..Default::default()
    };
    attr.set_name(name);
    bpf::MapFd::create(&attr).unwrap()
}

/// The buffer-size refusal inside a `SysError`, if that is what it is.
fn buffer_size(e: &oxbpf_sys::SysError) -> Option<&bpf::BufferSize> {
    e.source.get_ref()?.downcast_ref::<bpf::BufferSize>()
}

#[test]
fn a_short_buffer_is_refused_before_the_syscall() {
    let _serial = crate::serial();
    if !require_bpf("a_short_buffer_is_refused_before_the_syscall") {
        return;
    }
    let map = hash_map("oxbpf_short");
    let key = 1u32.to_ne_bytes();
    bpf::map_update_elem(&map, &key, &7u64.to_ne_bytes(), 0).unwrap();
    // The recording sees every bpf() call this thread makes: none may happen.
    let (results, calls) = oxbpf_sys::trace::recording(|| {
        let mut short = [0u8; 4];
        let mut long = [0u8; 16];
        [
            bpf::map_lookup_elem(&map, &key, &mut short, 0),
            bpf::map_lookup_elem(&map, &key, &mut long, 0),
            bpf::map_lookup_and_delete_elem(&map, &key, &mut short, 0),
            bpf::map_update_elem(&map, &key, &[0u8; 4], 0),
            bpf::map_lookup_elem(&map, &key[..2], &mut [0u8; 8], 0),
            bpf::map_delete_elem(&map, &[0u8; 8]),
            bpf::map_get_next_key(&map, None, &mut [0u8; 2]),
        ]
    });
    assert!(calls.is_empty(), "the kernel was called: {calls:?}");
    for r in results {
        let e = r.unwrap_err();
        // No errno: the refusal is ours, not the kernel's.
        assert_eq!(e.errno(), None, "{e}: {}", e.source);
        assert!(buffer_size(&e).is_some(), "{e}: {}", e.source);
    }
    let mut short = [0u8; 4];
    let e = bpf::map_lookup_elem(&map, &key, &mut short, 0).unwrap_err();
    assert_eq!(
        e.source.to_string(),
        "value buffer is 4 bytes, the map needs 8"
    );
    assert_eq!(short, [0; 4]);
    // The right size still works.
    let mut value = [0u8; 8];
    bpf::map_lookup_elem(&map, &key, &mut value, 0).unwrap();
    assert_eq!(u64::from_ne_bytes(value), 7);
}

#[test]
fn a_batch_buffer_too_small_for_the_count_is_refused_before_the_syscall() {
    let _serial = crate::serial();
    if !require_bpf("a_batch_buffer_too_small_for_the_count_is_refused_before_the_syscall") {
        return;
    }
    let map = hash_map("oxbpf_batch");
    let (results, calls) = oxbpf_sys::trace::recording(|| {
        // Room for 2 entries, a count of 10.
        let (mut keys, mut values, mut pos) = ([0u8; 8], [0u8; 16], [0u8; 4]);
        let lookup = bpf::map_lookup_batch(
            &map,
            bpf::Batch {
                keys: &mut keys,
                values: &mut values,
                in_batch: None,
                out_batch: &mut pos,
            },
            10,
        );
        // Enough entries, a position shorter than the kernel writes.
        let (mut keys, mut values, mut pos) = ([0u8; 8], [0u8; 16], [0u8; 2]);
        let short_pos = bpf::map_lookup_batch(
            &map,
            bpf::Batch {
                keys: &mut keys,
                values: &mut values,
                in_batch: None,
                out_batch: &mut pos,
            },
            2,
        );
        let update = bpf::map_update_batch(&map, &[0u8; 40], &[0u8; 16], 10, 0);
        let delete = bpf::map_delete_batch(&map, &[0u8; 8], 10);
        // A count whose buffers cannot even be addressed.
        let huge = bpf::map_update_batch(&map, &[], &[], u32::MAX, 0);
        [lookup, short_pos, update, delete, huge]
    });
    assert!(calls.is_empty(), "the kernel was called: {calls:?}");
    for r in results {
        let (e, n) = r.unwrap_err();
        assert_eq!(n, 0);
        assert_eq!(e.errno(), None, "{e}: {}", e.source);
        assert!(buffer_size(&e).is_some(), "{e}: {}", e.source);
    }
}

#[test]
fn per_cpu_values_are_sized_for_every_possible_cpu() {
    let _serial = crate::serial();
    if !require_bpf("per_cpu_values_are_sized_for_every_possible_cpu") {
        return;
    }
    let attr = MapCreateAttr {
        map_type: MapType::PERCPU_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..Default::default()
    };
    let map = bpf::MapFd::create(&attr).unwrap();
    let cpus = oxbpf_sys::cpu::possible_cpus().unwrap() as usize;
    assert_eq!(map.value_len(), 8 * cpus);
    let key = 0u32.to_ne_bytes();
    // One CPU's value is what the map was declared with, and far too short.
    let (r, calls) =
        oxbpf_sys::trace::recording(|| bpf::map_lookup_elem(&map, &key, &mut [0u8; 4], 0));
    assert!(calls.is_empty());
    assert!(buffer_size(&r.unwrap_err()).is_some());
    let mut all = vec![0u8; map.value_len()];
    bpf::map_lookup_elem(&map, &key, &mut all, 0).unwrap();
}

#[test]
fn only_a_map_binds_to_map_sizes() {
    let _serial = crate::serial();
    if !require_bpf("only_a_map_binds_to_map_sizes") {
        return;
    }
    let before = open_fd_count().unwrap();
    let insns = return_zero();
    let attr = ProgLoadAttr {
        prog_type: ProgType::SOCKET_FILTER,
        ..Default::default()
    };
    let data = ProgLoadData {
        insns: &insns,
        license: c"GPL",
        log: &mut [],
        func_info: &[],
        line_info: &[],
        fd_array: &[],
    };
    let prog = bpf::prog_load(&attr, data).unwrap();
    // A program's info would read as a map's with made-up sizes.
    let e = bpf::MapFd::from_fd(prog).unwrap_err();
    assert_eq!(e.errno(), None);
    // The fd given is closed with the error, not leaked.
    assert_eq!(open_fd_count().unwrap(), before);
    let (map, info) = bpf::MapFd::from_fd(hash_map("oxbpf_bind").into()).unwrap();
    assert_eq!((map.key_size(), map.value_len()), (4, 8));
    assert_eq!(info.max_entries, 16);
    assert_eq!(map.name(), "oxbpf_bind");
}

#[test]
fn a_link_with_addresses_goes_through_its_own_function() {
    let _serial = crate::serial();
    if !require_bpf("a_link_with_addresses_goes_through_its_own_function") {
        return;
    }
    use oxbpf_sys::uapi::{AttachType, LinkCreateAttr};
    // Addresses the kernel would follow, made up: refused before the call.
    let attr = LinkCreateAttr::new(3, 0, AttachType::TRACE_KPROBE_MULTI).with_kprobe_multi(
        0,
        1000,
        0xdead_beef,
        0,
        0,
    );
    let (r, calls) = oxbpf_sys::trace::recording(|| bpf::link_create(&attr));
    assert!(calls.is_empty());
    let e = r.unwrap_err();
    assert_eq!(e.errno(), None);
    assert_eq!(e.source.kind(), std::io::ErrorKind::InvalidInput);
}
