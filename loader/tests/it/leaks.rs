//! Nothing leaks: every failing attach leaves the process with the fds it had, and a
//! long loop of load, attach, detach and drop keeps the fd count and the resident set
//! flat. (Failing loads are covered in `load::failed_loads_close_every_fd_they_opened`.)

use std::os::fd::AsFd;
use std::path::Path;

use oxbpf_prog::{ProbeMode, ProbeTarget, TcDirection, XdpMode};
use oxbpf_sys::fd::open_fd_count;
use oxbpf_sys::gate;
use oxbpf_sys::uapi::AttachType;

/// attach.bpf.o with only `programs`, as the attach tests load it.
fn attach_obj(programs: &[&str]) -> oxbpf_loader::load::Loaded {
    crate::attach::load(programs).0
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn every_failing_attach_closes_what_it_opened() {
    let _serial = crate::serial();
    if !gate::require_bpf("every_failing_attach_closes_what_it_opened") {
        return;
    }
    let l = attach_obj(&[
        "on_getppid",
        "on_sys_enter",
        "on_call",
        "on_kcall",
        "on_kmulti",
        "xdp_count",
        "tc_count",
        "on_sock_create",
    ]);
    let p = |n: &str| l.program(n).unwrap();
    let before = open_fd_count().unwrap();
    let exe = std::env::current_exe().unwrap();
    let not_a_cgroup = std::fs::File::open("/proc/self/status").unwrap();
    let failures: Vec<(&str, bool)> = vec![
        (
            "unknown tracepoint",
            p("on_getppid")
                .attach_tracepoint("syscalls", "oxbpf_nope")
                .is_err(),
        ),
        (
            "unknown raw tracepoint",
            p("on_sys_enter")
                .attach_raw_tracepoint("oxbpf_nope")
                .is_err(),
        ),
        (
            "unknown uprobe symbol",
            p("on_call")
                .attach_uprobe(
                    &exe,
                    &ProbeTarget::Symbol("oxbpf_nope".into(), 0),
                    None,
                    false,
                )
                .is_err(),
        ),
        (
            "uprobe on a missing file",
            p("on_call")
                .attach_uprobe(
                    Path::new("/nonexistent/bin"),
                    &ProbeTarget::Offset(0),
                    None,
                    false,
                )
                .is_err(),
        ),
        (
            "tracefs uprobe on a missing file",
            p("on_call")
                .attach_uprobe_with(
                    Path::new("/nonexistent/bin"),
                    &ProbeTarget::Offset(0),
                    None,
                    false,
                    ProbeMode::Tracefs,
                )
                .is_err(),
        ),
        (
            "kprobe",
            p("on_kcall")
                .attach_kprobe("oxbpf_no_such_function", 0, false)
                .is_err(),
        ),
        (
            "kprobe_multi",
            p("on_kmulti")
                .attach_kprobe_multi("oxbpf_nope_*", false)
                .is_err(),
        ),
        (
            "XDP on a missing interface",
            p("xdp_count").attach_xdp(999_999, XdpMode::Skb).is_err(),
        ),
        (
            "XDP over netlink on a missing interface",
            p("xdp_count")
                .attach_xdp_netlink(999_999, XdpMode::Skb, false)
                .is_err(),
        ),
        (
            "TCX on a missing interface",
            p("tc_count")
                .attach_tcx(999_999, TcDirection::Ingress)
                .is_err(),
        ),
        (
            "tc over netlink on a missing interface",
            p("tc_count")
                .attach_tc_netlink(999_999, TcDirection::Ingress, 1)
                .is_err(),
        ),
        (
            "cgroup program on a file that is no cgroup",
            p("on_sock_create")
                .attach_to_fd(
                    not_a_cgroup.as_fd(),
                    AttachType::CGROUP_INET_SOCK_CREATE,
                    "a file",
                )
                .is_err(),
        ),
    ];
    drop(not_a_cgroup);
    for (what, failed) in &failures {
        assert!(failed, "{what}: attached, expected a refusal");
    }
    assert_eq!(
        open_fd_count().unwrap(),
        before,
        "an fd leaked on a failing attach"
    );
}

#[test]
fn a_long_loop_of_load_attach_detach_and_drop_stays_flat() {
    let _serial = crate::serial();
    if !gate::require_bpf("a_long_loop_of_load_attach_detach_and_drop_stays_flat") {
        return;
    }
    let round = || {
        let l = attach_obj(&["on_getppid", "on_sys_enter"]);
        let tp = l
            .program("on_getppid")
            .unwrap()
            .attach_tracepoint("syscalls", "sys_enter_getppid")
            .unwrap();
        let raw = l
            .program("on_sys_enter")
            .unwrap()
            .attach_raw_tracepoint("sys_enter")
            .unwrap();
        std::hint::black_box(std::os::unix::process::parent_id());
        tp.detach().unwrap();
        drop(raw);
        drop(l);
    };
    // Warm up: caches (feature probes, the tracefs id lookups) fill once.
    for _ in 0..20 {
        round();
    }
    // Two windows of rounds: a leak grows the resident set in both; the allocator
    // taking a new chunk of memory once (seen in a guest kernel's run, after other
    // tests) grows it in one.
    let fds = open_fd_count().unwrap();
    let mut grown = Vec::new();
    for _ in 0..2 {
        let rss = rss_kib();
        for _ in 0..60 {
            round();
        }
        grown.push(rss_kib().saturating_sub(rss));
    }
    assert_eq!(open_fd_count().unwrap(), fds, "fds grew over 120 rounds");
    assert!(
        grown.iter().min().is_some_and(|&g| g < 600),
        "the resident set grew by {grown:?} KiB in two windows of 60 rounds"
    );
}
