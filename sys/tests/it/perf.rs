//! perf_event_open and tracefs, on the real kernel.

use oxbpf_sys::gate;
use oxbpf_sys::perf;

fn mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

#[test]
fn tracepoint_ids_are_read_without_changing_the_machines_mounts() {
    let _serial = crate::serial();
    if !gate::require_bpf("tracepoint_ids_are_read_without_changing_the_machines_mounts") {
        return;
    }
    let before = mounts();
    let id = perf::tracepoint_id("syscalls", "sys_enter_write").unwrap();
    assert!(id > 0);
    // The same id twice, and another tracepoint has another id.
    assert_eq!(
        perf::tracepoint_id("syscalls", "sys_enter_write").unwrap(),
        id
    );
    assert_ne!(perf::tracepoint_id("sched", "sched_switch").unwrap(), id);
    let err = perf::tracepoint_id("syscalls", "oxbpf_no_such_event").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    assert!(perf::tracepoint_id("../..", "x").is_err());
    assert_eq!(mounts(), before, "our mounts did not change");
}

#[test]
fn a_tracepoint_perf_event_opens() {
    let _serial = crate::serial();
    if !gate::require_bpf("a_tracepoint_perf_event_opens") {
        return;
    }
    let id = perf::tracepoint_id("syscalls", "sys_enter_write").unwrap();
    let mut attr = perf::PerfEventAttr::new(perf::TYPE_TRACEPOINT, id);
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    attr.sample_type = perf::SAMPLE_RAW;
    let fd = perf::perf_event_open(&attr, -1, 0).unwrap();
    drop(fd);
    // An id no tracepoint has.
    let bad = perf::PerfEventAttr::new(perf::TYPE_TRACEPOINT, u64::from(u32::MAX));
    assert!(perf::perf_event_open(&bad, -1, 0).is_err());
}
