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
