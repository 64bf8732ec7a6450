//! Attaching programs to real hooks and watching them work: each test loads
//! `attach.bpf.o` with `target_tgid` set to this process, attaches, makes the events
//! happen, reads the counters in .bss, then drops the links and checks that the events
//! are no longer counted (nothing of ours stays attached).

use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command;

use oxbpf_loader::Object;
use oxbpf_loader::load::{LoadOptions, Loaded};
use oxbpf_loader::object::DataSection;
use oxbpf_loader::prelude::*;
use oxbpf_prog::{ProbeTarget, ProgramError, TcDirection, XdpMode};
use oxbpf_sys::gate;
use oxbpf_sys::uapi::AttachType;

/// attach.bpf.o with only `programs` loaded and `target_tgid` = this process.
pub(crate) fn load(programs: &[&str]) -> (Loaded, Vec<DataSection>) {
    let mut obj = Object::open(crate::testdata("attach.bpf.o")).unwrap();
    let layout = obj.data.clone();
    obj.load_only(programs).unwrap();
    obj.set_global("target_tgid", &(std::process::id() as i32).to_ne_bytes())
        .unwrap();
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    (l, layout)
}

/// A `__u64`/`int` counter in .bss.
fn counter(l: &Loaded, layout: &[DataSection], name: &str) -> u64 {
    let sym = layout
        .iter()
        .flat_map(|d| d.symbols.iter())
        .find(|s| s.name == name)
        .unwrap();
    let bss = l.maps.iter().find(|m| m.name().ends_with(".bss")).unwrap();
    let v = bss.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    let at = sym.offset as usize;
    match sym.size {
        8 => u64::from_ne_bytes(v[at..at + 8].try_into().unwrap()),
        4 => u64::from(u32::from_ne_bytes(v[at..at + 4].try_into().unwrap())),
        n => panic!("{name}: size {n}"),
    }
}

fn getppid_times(n: usize) {
    for _ in 0..n {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
}

#[test]
fn tracepoint_raw_tracepoint_and_tp_btf_see_this_process_syscalls() {
    let _serial = crate::serial();
    if !gate::require_bpf("tracepoint_raw_tracepoint_and_tp_btf_see_this_process_syscalls") {
        return;
    }
    let (l, layout) = load(&["on_getppid", "on_sys_enter", "on_sys_enter_btf"]);
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
    let btf = l
        .program("on_sys_enter_btf")
        .unwrap()
        .attach_traced()
        .unwrap();
    assert_eq!(
        tp.describe(),
        "on_getppid on tracepoint syscalls/sys_enter_getppid"
    );
    // The tracepoint went through a perf bpf_link where the kernel has them (5.15),
    // else PERF_EVENT_IOC_SET_BPF (no link to ask about); the others are bpf_links.
    assert_eq!(tp.info().unwrap().is_some(), crate::kernel_since(5, 15));
    for link in [&raw, &btf] {
        let info = link.info().unwrap().unwrap();
        assert!(info.id > 0 && info.prog_id > 0, "{}", link.describe());
    }
    getppid_times(5);
    assert_eq!(counter(&l, &layout, "tp_calls"), 5);
    assert_eq!(counter(&l, &layout, "raw_tp_calls"), 5);
    assert_eq!(counter(&l, &layout, "tp_btf_calls"), 5);
    drop((tp, raw));
    btf.detach().unwrap();
    getppid_times(3);
    assert_eq!(counter(&l, &layout, "tp_calls"), 5, "detached");
    assert_eq!(counter(&l, &layout, "raw_tp_calls"), 5, "detached");
    assert_eq!(counter(&l, &layout, "tp_btf_calls"), 5, "detached");

    // Unknown hooks are named.
    let err = l
        .program("on_getppid")
        .unwrap()
        .attach_tracepoint("syscalls", "oxbpf_no_such_tp")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the kernel has no tracepoint syscalls/oxbpf_no_such_tp"),
        "{err}"
    );
    let err = l
        .program("on_sys_enter")
        .unwrap()
        .attach_raw_tracepoint("oxbpf_no_such_tp")
        .unwrap_err();
    assert_eq!(
        crate::chain(&err),
        "program `on_sys_enter`: cannot attach to raw tracepoint oxbpf_no_such_tp: BPF_RAW_TRACEPOINT_OPEN failed: No such file or directory (os error 2)"
    );
}

/// The function the uprobe tests probe, in this test binary.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn oxbpf_uprobe_target(x: i32) -> i32 {
    std::hint::black_box(x) * 2
}

#[test]
fn uprobe_and_uretprobe_see_calls_in_this_binary() {
    let _serial = crate::serial();
    if !gate::require_bpf("uprobe_and_uretprobe_see_calls_in_this_binary") {
        return;
    }
    let (l, layout) = load(&["on_call", "on_return"]);
    let exe = std::env::current_exe().unwrap();
    let target = ProbeTarget::Symbol("oxbpf_uprobe_target".into(), 0);
    let entry = l
        .program("on_call")
        .unwrap()
        .attach_uprobe(&exe, &target, None, false)
        .unwrap();
    let ret = l
        .program("on_return")
        .unwrap()
        .attach_uprobe(&exe, &target, Some(std::process::id() as i32), true)
        .unwrap();
    for _ in 0..3 {
        assert_eq!(oxbpf_uprobe_target(std::hint::black_box(21)), 42);
    }
    assert_eq!(counter(&l, &layout, "uprobe_calls"), 3);
    assert_eq!(counter(&l, &layout, "uprobe_arg"), 21);
    assert_eq!(counter(&l, &layout, "uretprobe_calls"), 3);
    assert_eq!(counter(&l, &layout, "uretprobe_ret"), 42);
    drop((entry, ret));
    oxbpf_uprobe_target(1);
    assert_eq!(counter(&l, &layout, "uprobe_calls"), 3, "detached");

    let err = l
        .program("on_call")
        .unwrap()
        .attach_uprobe(
            &exe,
            &ProbeTarget::Symbol("oxbpf_no_such_fn".into(), 0),
            None,
            false,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("has no function `oxbpf_no_such_fn` in its symbol tables"),
        "{err}"
    );
}

/// Whether the run says this kernel has `feature` (`OXBPF_EXPECT_FEATURES`, set by
/// scripts/kernel-matrix.sh for the kernels it boots): then "unsupported" is a failure,
/// not an answer.
pub(crate) fn expected(feature: &str) -> bool {
    std::env::var("OXBPF_EXPECT_FEATURES").is_ok_and(|v| v.split_whitespace().any(|f| f == feature))
}

/// Whether this kernel can make kprobes at all (PMU or tracefs `kprobe_events`).
fn kernel_has_kprobes() -> bool {
    oxbpf_sys::perf::pmu_type("kprobe").is_some()
        || oxbpf_sys::perf::read_tracefs("kprobe_events").is_ok()
}

/// The getppid syscall's entry point, what the kprobe programs hook (testdata's
/// include/arch.h: `GETPPID_ENTRY`).
#[cfg(target_arch = "x86_64")]
pub(crate) const GETPPID_ENTRY: &str = "__x64_sys_getppid";
#[cfg(target_arch = "aarch64")]
pub(crate) const GETPPID_ENTRY: &str = "__arm64_sys_getppid";

/// The functions attach.bpf.o's kprobe.multi section matches (include/arch.h:
/// `GETPPID_BODY_GLOB`): the syscall's body on x86_64 (ftrace cannot hook its entry
/// wrapper), its one function on arm64.
#[cfg(target_arch = "x86_64")]
const GETPPID_BODY_GLOB: &str = "__do_sys_getpp?d";
#[cfg(target_arch = "aarch64")]
const GETPPID_BODY_GLOB: &str = "__arm64_sys_getpp?d";

#[test]
fn kprobes_count_calls_in_every_mode_or_say_plainly_there_are_none() {
    use oxbpf_prog::ProbeMode;
    let _serial = crate::serial();
    if !gate::require_bpf("kprobes_count_calls_in_every_mode_or_say_plainly_there_are_none") {
        return;
    }
    let (l, layout) = load(&["on_kcall", "on_kreturn"]);
    let has_pmu = oxbpf_sys::perf::pmu_type("kprobe").is_some();
    for mode in [ProbeMode::Auto, ProbeMode::Pmu, ProbeMode::Tracefs] {
        let attach = |prog: &str, ret: bool| {
            l.program(prog)
                .unwrap()
                .attach_kprobe_with(GETPPID_ENTRY, 0, ret, mode)
        };
        assert!(
            kernel_has_kprobes() || !expected("kprobes"),
            "this kernel should have kprobes"
        );
        if !kernel_has_kprobes() || (mode == ProbeMode::Pmu && !has_pmu) {
            let e = attach("on_kcall", false).unwrap_err();
            assert!(matches!(e, ProgramError::Unsupported { .. }), "{e}");
            let why = match mode {
                ProbeMode::Auto => {
                    "no kprobe PMU in /sys/bus/event_source/devices, no kprobe_events in tracefs"
                }
                ProbeMode::Pmu => "no kprobe PMU in /sys/bus/event_source/devices",
                ProbeMode::Tracefs => "no kprobe_events in tracefs",
            };
            assert_eq!(
                e.to_string(),
                format!(
                    "program `on_kcall`: cannot attach to kprobe {GETPPID_ENTRY}: this kernel has no kprobes ({why}; built without CONFIG_KPROBES?)"
                ),
                "{mode:?}"
            );
            continue;
        }
        let before = (
            counter(&l, &layout, "kprobe_calls"),
            counter(&l, &layout, "kretprobe_calls"),
        );
        let entry =
            attach("on_kcall", false).unwrap_or_else(|e| panic!("{mode:?}: {}", crate::chain(&e)));
        let ret =
            attach("on_kreturn", true).unwrap_or_else(|e| panic!("{mode:?}: {}", crate::chain(&e)));
        getppid_times(3);
        assert_eq!(
            counter(&l, &layout, "kprobe_calls"),
            before.0 + 3,
            "{mode:?}"
        );
        assert_eq!(
            counter(&l, &layout, "kretprobe_calls"),
            before.1 + 3,
            "{mode:?}"
        );
        if mode == ProbeMode::Tracefs {
            assert!(entry.describe().ends_with("(tracefs probe event)"));
            let ours = format!("oxbpf_{}_", std::process::id());
            assert!(probe_events("kprobe_events").contains(&ours));
        }
        drop((entry, ret));
        getppid_times(1);
        assert_eq!(
            counter(&l, &layout, "kprobe_calls"),
            before.0 + 3,
            "{mode:?} detached"
        );
        assert!(!probe_events("kprobe_events").contains(&format!("oxbpf_{}_", std::process::id())));
    }
    // An unknown function is named.
    if kernel_has_kprobes() {
        let e = l
            .program("on_kcall")
            .unwrap()
            .attach_kprobe("oxbpf_no_such_function", 0, false)
            .unwrap_err();
        assert!(e.to_string().contains("oxbpf_no_such_function"), "{e}");
    }
}

#[test]
fn ksyscall_and_kretsyscall_find_the_syscalls_function_and_count_its_calls() {
    let _serial = crate::serial();
    let test = "ksyscall_and_kretsyscall_find_the_syscalls_function_and_count_its_calls";
    if !gate::require_bpf(test) {
        return;
    }
    let (l, layout) = load(&["on_ksyscall", "on_kretsyscall"]);
    for (prog, kind, count) in [
        ("on_ksyscall", "kprobe", "ksyscall_calls"),
        ("on_kretsyscall", "kretprobe", "kretsyscall_calls"),
    ] {
        // From the section, ksyscall/getppid: the architecture's wrapper function.
        match l.program(prog).unwrap().attach_auto() {
            Ok(oxbpf_prog::AutoAttach::Attached(link)) => {
                assert_eq!(link.describe(), format!("{prog} on {kind} {GETPPID_ENTRY}"));
                let before = counter(&l, &layout, count);
                getppid_times(3);
                assert_eq!(counter(&l, &layout, count), before + 3, "{prog}");
                drop(link);
                getppid_times(1);
                assert_eq!(counter(&l, &layout, count), before + 3, "{prog} detached");
            }
            Ok(other) => panic!("{prog}: {other:?}"),
            Err(e) => {
                assert!(
                    !kernel_has_kprobes() && !expected("kprobes"),
                    "{prog}: {}",
                    crate::chain(&e)
                );
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!(
                        "program `{prog}`: cannot attach to {kind} {GETPPID_ENTRY}: this kernel has no kprobes"
                    )),
                    "{text}"
                );
            }
        }
    }
}

#[test]
fn kprobe_multi_counts_calls_or_says_why_not() {
    let _serial = crate::serial();
    if !gate::require_bpf("kprobe_multi_counts_calls_or_says_why_not") {
        return;
    }
    let (l, layout) = load(&["on_kmulti"]);
    // From the section: kprobe.multi/GETPPID_BODY_GLOB.
    match l.program("on_kmulti").unwrap().attach_auto() {
        Ok(oxbpf_prog::AutoAttach::Attached(link)) => {
            assert_eq!(
                link.describe(),
                format!("on_kmulti on kprobe.multi {GETPPID_BODY_GLOB} (1 functions)")
            );
            getppid_times(3);
            assert_eq!(counter(&l, &layout, "kmulti_calls"), 3);
            drop(link);
            getppid_times(1);
            assert_eq!(counter(&l, &layout, "kmulti_calls"), 3, "detached");
        }
        Ok(other) => panic!("{other:?}"),
        Err(e) => {
            assert!(!expected("kprobe_multi"), "{}", crate::chain(&e));
            // Kernels without fprobe (this machine's) refuse the link; say so.
            assert!(
                matches!(e, ProgramError::Unsupported { .. }),
                "{}",
                crate::chain(&e)
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "program `on_kmulti`: cannot attach to kprobe.multi {GETPPID_BODY_GLOB}: this kernel has no kprobe_multi links (5.18+ built with CONFIG_FPROBE)"
                )
            );
        }
    }
    let e = l
        .program("on_kmulti")
        .unwrap()
        .attach_kprobe_multi("oxbpf_no_such_fn_*", false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "program `on_kmulti`: cannot attach to kprobe.multi oxbpf_no_such_fn_*: no kernel function matches `oxbpf_no_such_fn_*`"
    );
}

/// The probe events tracefs lists in `control` (empty if it cannot be read).
fn probe_events(control: &str) -> String {
    oxbpf_sys::perf::read_tracefs(control)
        .map(|t| String::from_utf8_lossy(&t).into_owned())
        .unwrap_or_default()
}

#[test]
fn uprobes_through_tracefs_probe_events_count_and_are_removed() {
    use oxbpf_prog::ProbeMode;
    let _serial = crate::serial();
    if !gate::require_bpf("uprobes_through_tracefs_probe_events_count_and_are_removed") {
        return;
    }
    let (l, layout) = load(&["on_call", "on_return"]);
    let exe = std::env::current_exe().unwrap();
    let target = ProbeTarget::Symbol("oxbpf_uprobe_target".into(), 0);
    let mine = format!("oxbpf_{}_", std::process::id());
    let attach = |prog: &str, ret: bool| {
        l.program(prog)
            .unwrap()
            .attach_uprobe_with(
                &exe,
                &target,
                Some(std::process::id() as i32),
                ret,
                ProbeMode::Tracefs,
            )
            .unwrap_or_else(|e| panic!("{}", crate::chain(&e)))
    };
    let entry = attach("on_call", false);
    let ret = attach("on_return", true);
    assert!(
        entry.describe().ends_with("(tracefs probe event)"),
        "{}",
        entry.describe()
    );
    let listed = probe_events("uprobe_events");
    assert_eq!(listed.matches(&mine).count(), 2, "{listed}");
    assert!(
        listed.contains(&format!("p:uprobes/{mine}oxbpf_uprobe_target_")),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("r:uprobes/{mine}oxbpf_uprobe_target_")),
        "{listed}"
    );
    for _ in 0..3 {
        assert_eq!(oxbpf_uprobe_target(std::hint::black_box(21)), 42);
    }
    assert_eq!(counter(&l, &layout, "uprobe_calls"), 3);
    assert_eq!(counter(&l, &layout, "uprobe_arg"), 21);
    assert_eq!(counter(&l, &layout, "uretprobe_calls"), 3);
    assert_eq!(counter(&l, &layout, "uretprobe_ret"), 42);
    entry.detach().unwrap();
    drop(ret);
    oxbpf_uprobe_target(1);
    assert_eq!(counter(&l, &layout, "uprobe_calls"), 3, "detached");
    let listed = probe_events("uprobe_events");
    assert!(
        !listed.contains(&mine),
        "probe events left behind: {listed}"
    );
}

#[test]
fn perf_event_program_samples_this_process() {
    let _serial = crate::serial();
    if !gate::require_bpf("perf_event_program_samples_this_process") {
        return;
    }
    use oxbpf_sys::perf;
    let (l, layout) = load(&["on_sample"]);
    // cpu-clock of this process, every 1 ms of CPU time.
    let mut attr = perf::PerfEventAttr::new(perf::TYPE_SOFTWARE, perf::COUNT_SW_CPU_CLOCK);
    attr.sample_period = 1_000_000;
    let event = perf::perf_event_open(&attr, 0, -1).unwrap();
    let link = l
        .program("on_sample")
        .unwrap()
        .attach_perf_event(event, "cpu-clock")
        .unwrap();
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed() < std::time::Duration::from_millis(100) {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    drop(link);
    let samples = counter(&l, &layout, "perf_samples");
    assert!(samples >= 10, "{samples} samples in 100 ms of CPU");
}

#[test]
fn a_task_iterator_lists_this_process() {
    let _serial = crate::serial();
    if !gate::require_bpf("a_task_iterator_lists_this_process") {
        return;
    }
    let (l, _) = load(&["list_tasks"]);
    let link = l.program("list_tasks").unwrap().attach_iter().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut link.open_iter().unwrap(), &mut out).unwrap();
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(out, format!("{} {}\n", std::process::id(), comm.trim_end()));
}

#[test]
fn a_socket_filter_on_a_raw_socket_counts_loopback_bytes_until_detached() {
    let _serial = crate::serial();
    if !gate::require_bpf("a_socket_filter_on_a_raw_socket_counts_loopback_bytes_until_detached") {
        return;
    }
    let l = Object::open(crate::testdata("sockex1.bpf.o"))
        .unwrap()
        .load(&LoadOptions::default())
        .unwrap();
    let sock = oxbpf_sys::sock::open_raw_sock("lo").unwrap();
    let link = l
        .program("bpf_prog1")
        .unwrap()
        .attach_socket(sock.as_fd())
        .unwrap();
    let counts = l.map("my_map").unwrap();
    let udp = || {
        u64::from_ne_bytes(
            counts.lookup(&17u32.to_ne_bytes()).unwrap().unwrap()[..8]
                .try_into()
                .unwrap(),
        )
    };
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |n| {
        for _ in 0..n {
            tx.send_to(&[0u8; 100], rx.local_addr().unwrap()).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    send(2);
    let seen = udp();
    assert!(seen >= 2 * 142, "{seen}");
    drop(link);
    send(2);
    assert_eq!(
        udp(),
        seen,
        "detached: the socket sees no more through the filter"
    );
}

#[test]
fn cgroup_programs_see_what_a_process_in_the_cgroup_does() {
    let _serial = crate::serial();
    if !gate::require_bpf("cgroup_programs_see_what_a_process_in_the_cgroup_does") {
        return;
    }
    let root = Path::new("/sys/fs/cgroup/unified");
    let root = if root.join("cgroup.procs").exists() {
        root
    } else {
        Path::new("/sys/fs/cgroup")
    };
    let cg = root.join(format!("oxbpf-test-{}", std::process::id()));
    std::fs::create_dir(&cg).unwrap();
    let programs = [
        "on_egress",
        "on_sock_create",
        "on_connect4",
        "on_sysctl",
        "on_device",
        "on_setsockopt",
        "on_getsockopt",
    ];
    let (l, layout) = load(&programs);
    let dir = std::fs::File::open(&cg).unwrap();
    let links: Vec<_> = programs
        .iter()
        .map(|name| {
            let p = l.program(name).unwrap();
            // The attach type comes from the section: cgroup/connect4, cgroup/dev...
            p.attach_to_fd(dir.as_fd(), p.expected_attach_type().unwrap(), "a cgroup")
                .unwrap_or_else(|e| panic!("{name}: {}", crate::chain(&e)))
        })
        .collect();
    // A process of its own (this test binary again, running `cgroup_child_does_its_part`)
    // moves itself into the cgroup and does what the programs count.
    // A receiver, so no "port unreachable" makes the later sends fail.
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "attach::cgroup_child_does_its_part",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env("OXBPF_CGROUP_CHILD", cg.join("cgroup.procs"))
        .env("OXBPF_CGROUP_PEER", rx.local_addr().unwrap().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |n| counter(&l, &layout, n);
    let seen = [
        count("egress_packets"),
        count("sock_creates"),
        count("connect4_calls"),
        count("sysctl_reads"),
        count("device_opens"),
        count("setsockopt_calls"),
        count("getsockopt_calls"),
    ];
    drop(links);
    std::fs::remove_dir(&cg).unwrap();
    assert_eq!(seen[0], 3, "three datagrams left: {seen:?}");
    assert_eq!(seen[1], 2, "two sockets created: {seen:?}");
    assert_eq!(seen[2], 1, "one connect: {seen:?}");
    assert!(seen[3] >= 1, "the sysctl read: {seen:?}");
    assert!(seen[4] >= 1, "the device opens: {seen:?}");
    assert_eq!(seen[5], 2, "two SO_RCVBUF sets: {seen:?}");
    assert_eq!(seen[6], 2, "two SO_RCVBUF reads: {seen:?}");
}

/// Not a test of its own: the process that `cgroup_programs_see_what_a_process_in_the_cgroup_does`
/// starts with `OXBPF_CGROUP_CHILD` set. It moves itself into that cgroup, then creates
/// and connects a UDP socket and sends on it three times, reads a sysctl, opens a
/// device, and on a second socket sets and reads back SO_RCVBUF twice.
#[test]
fn cgroup_child_does_its_part() {
    use std::os::fd::AsRawFd as _;
    let Some(procs) = std::env::var_os("OXBPF_CGROUP_CHILD") else {
        return;
    };
    std::fs::write(procs, std::process::id().to_string()).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(std::env::var("OXBPF_CGROUP_PEER").unwrap())
        .unwrap();
    for _ in 0..3 {
        udp.send(b"hi\n").unwrap();
    }
    std::fs::read("/proc/sys/kernel/ostype").unwrap();
    let mut byte = [0u8; 1];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/zero").unwrap(), &mut byte).unwrap();
    let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..2 {
        let size: libc::c_int = 4096;
        let mut got: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: set/getsockopt on a live socket with an int of the right size.
        unsafe {
            assert_eq!(
                libc::setsockopt(
                    other.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    (&raw const size).cast(),
                    len
                ),
                0
            );
            assert_eq!(
                libc::getsockopt(
                    other.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    (&raw mut got).cast(),
                    &raw mut len
                ),
                0
            );
        }
    }
}

/// Sends `n` Ethernet frames out of interface `ifname` through a raw packet socket;
/// returns how many the device took (a tc egress drop refuses them with `ENOBUFS`).
fn send_frames(ifname: &str, n: usize) -> usize {
    use std::os::fd::AsRawFd as _;
    let sock = oxbpf_sys::sock::open_raw_sock(ifname).unwrap();
    let mut frame = vec![0xffu8; 6]; // broadcast
    frame.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame.extend_from_slice(&0x88b5u16.to_be_bytes()); // local experimental ethertype
    frame.resize(60, 0);
    let mut taken = 0;
    for _ in 0..n {
        // SAFETY: a plain send of a live buffer on a bound packet socket.
        let sent = unsafe { libc::send(sock.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if sent == frame.len() as isize {
            taken += 1;
        } else {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}");
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    taken
}

/// rtnetlink's answers about interface `ifname`, read by the test itself — not through
/// the library under test, and not with iproute2, which the kernel-matrix guests lack.
fn rtnl(msg_type: u16, flags: u16, header: &[u8]) -> Vec<oxbpf_sys::netlink::Reply> {
    use oxbpf_sys::netlink::{Message, Socket};
    let mut msg = Message::new(msg_type, flags, header);
    Socket::route()
        .unwrap()
        .request("rtnl", &mut msg)
        .unwrap_or_default()
}

/// The XDP program attached to `ifname` (`prog/xdp id N` in `ip link show`), 0 for none.
fn xdp_prog_id(ifname: &str) -> u32 {
    use oxbpf_sys::netlink::{self, attrs};
    const IFLA_XDP: u16 = 43;
    const IFLA_XDP_PROG_ID: u16 = 4;
    let ifindex = oxbpf_sys::sock::ifindex(ifname).unwrap();
    let replies = rtnl(netlink::RTM_GETLINK, 0, &netlink::ifinfomsg(ifindex));
    let link = replies
        .iter()
        .find(|r| r.msg_type == netlink::RTM_NEWLINK)
        .unwrap();
    attrs(&link.body[16..])
        .iter()
        .filter(|a| a.kind == IFLA_XDP)
        .flat_map(|a| attrs(a.payload))
        .find(|a| a.kind == IFLA_XDP_PROG_ID)
        .map_or(0, |a| a.u32().unwrap())
}

/// The kinds of the qdiscs on `ifname` (`tc qdisc show dev IFNAME`).
fn qdisc_kinds(ifname: &str) -> Vec<String> {
    use oxbpf_sys::netlink::{self, attrs};
    const RTM_GETQDISC: u16 = 38;
    const TCA_KIND: u16 = 1;
    let ifindex = oxbpf_sys::sock::ifindex(ifname).unwrap();
    rtnl(RTM_GETQDISC, netlink::F_DUMP, &netlink::tcmsg(0, 0, 0, 0))
        .iter()
        .filter(|r| r.msg_type == netlink::RTM_NEWQDISC && r.body[4..8] == ifindex.to_ne_bytes())
        .filter_map(|r| {
            attrs(&r.body[20..])
                .iter()
                .find(|a| a.kind == TCA_KIND)
                .map(|a| a.str())
        })
        .collect()
}

/// The BPF filters on `ifname`'s clsact hook `direction` (`tc filter show dev IFNAME
/// ingress`): each program's name and whether it is in direct-action mode.
fn bpf_filters(ifname: &str, direction: TcDirection) -> Vec<(String, bool)> {
    use oxbpf_sys::netlink::{self, attrs};
    const TCA_OPTIONS: u16 = 2;
    const TCA_BPF_NAME: u16 = 7;
    const TCA_BPF_FLAGS: u16 = 8;
    let ifindex = oxbpf_sys::sock::ifindex(ifname).unwrap();
    let parent = match direction {
        TcDirection::Ingress => 0xffff_fff2,
        TcDirection::Egress => 0xffff_fff3,
    };
    rtnl(
        netlink::RTM_GETTFILTER,
        netlink::F_DUMP,
        &netlink::tcmsg(ifindex, 0, parent, 0),
    )
    .iter()
    .filter(|r| r.msg_type == netlink::RTM_NEWTFILTER)
    .filter_map(|r| {
        let options = attrs(&r.body[20..])
            .into_iter()
            .find(|a| a.kind == TCA_OPTIONS)?;
        let options = attrs(options.payload);
        let name = options.iter().find(|a| a.kind == TCA_BPF_NAME)?.str();
        let direct = options
            .iter()
            .find(|a| a.kind == TCA_BPF_FLAGS)
            .is_some_and(|a| a.u32().unwrap() & 1 != 0);
        Some((name, direct))
    })
    .collect()
}

/// A veth pair, veth0 <-> veth1, up, without IPv6 (so the kernel sends nothing of its own).
#[test]
fn xdp_links_in_driver_and_skb_mode_on_veth() {
    let _serial = crate::serial();
    let test = "attach::xdp_links_in_driver_and_skb_mode_on_veth";
    if !gate::require_bpf(test)
        || !crate::rerun_unshared(
            test,
            libc::CLONE_NEWNET | libc::CLONE_NEWNS,
            crate::veth_pair,
        )
    {
        return;
    }
    let (l, layout) = load(&["xdp_count", "xdp_drop"]);
    let veth1 = oxbpf_sys::sock::ifindex("veth1").unwrap();
    let count = l.program("xdp_count").unwrap();
    let link = count.attach_xdp(veth1, XdpMode::Drv).unwrap();
    let id = link.info().unwrap().unwrap().prog_id;
    assert_eq!(xdp_prog_id("veth1"), id);
    send_frames("veth0", 5);
    assert_eq!(counter(&l, &layout, "xdp_packets"), 5);
    // A second program on the same interface is refused while the link holds it.
    let err = l
        .program("xdp_drop")
        .unwrap()
        .attach_xdp(veth1, XdpMode::Drv)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("another program is attached there already"),
        "{err}"
    );
    drop(link);
    assert_eq!(xdp_prog_id("veth1"), 0);
    send_frames("veth0", 2);
    assert_eq!(counter(&l, &layout, "xdp_packets"), 5, "detached");
    // Generic (skb) mode works on any device.
    let link = count.attach_xdp(veth1, XdpMode::Skb).unwrap();
    assert_eq!(xdp_prog_id("veth1"), link.info().unwrap().unwrap().prog_id);
    send_frames("veth0", 3);
    assert_eq!(counter(&l, &layout, "xdp_packets"), 8);
    drop(link);
}

#[test]
fn tcx_links_count_and_drop_on_veth() {
    let _serial = crate::serial();
    let test = "attach::tcx_links_count_and_drop_on_veth";
    if !gate::require_bpf(test)
        || !crate::rerun_unshared(
            test,
            libc::CLONE_NEWNET | libc::CLONE_NEWNS,
            crate::veth_pair,
        )
    {
        return;
    }
    let (l, layout) = load(&["tc_count", "tc_drop"]);
    let veth0 = oxbpf_sys::sock::ifindex("veth0").unwrap();
    let veth1 = oxbpf_sys::sock::ifindex("veth1").unwrap();
    let count = l
        .program("tc_count")
        .unwrap()
        .attach_tcx(veth1, TcDirection::Ingress);
    if !crate::kernel_since(6, 6) {
        assert_eq!(
            count.unwrap_err().to_string(),
            "program `tc_count`: cannot attach to TCX ingress of veth1: this kernel has no TCX links (6.6+); attach through a clsact qdisc over netlink instead (Program::attach_tc_netlink)"
        );
        return;
    }
    let count = count.unwrap();
    send_frames("veth0", 4);
    assert_eq!(counter(&l, &layout, "tc_packets"), 4);
    // Dropping at veth0's egress: nothing reaches veth1 any more.
    let drop_link = l
        .program("tc_drop")
        .unwrap()
        .attach_tcx(veth0, TcDirection::Egress)
        .unwrap();
    assert_eq!(
        send_frames("veth0", 3),
        0,
        "veth0 refuses what its egress drops"
    );
    assert_eq!(counter(&l, &layout, "tc_packets"), 4, "dropped on egress");
    drop(drop_link);
    send_frames("veth0", 1);
    assert_eq!(
        counter(&l, &layout, "tc_packets"),
        5,
        "the drop program is gone"
    );
    drop(count);
    send_frames("veth0", 1);
    assert_eq!(counter(&l, &layout, "tc_packets"), 5, "detached");
}

#[test]
fn xdp_over_netlink_attaches_replaces_and_removes_only_its_own() {
    let _serial = crate::serial();
    let test = "attach::xdp_over_netlink_attaches_replaces_and_removes_only_its_own";
    if !gate::require_bpf(test)
        || !crate::rerun_unshared(
            test,
            libc::CLONE_NEWNET | libc::CLONE_NEWNS,
            crate::veth_pair,
        )
    {
        return;
    }
    use oxbpf_prog::netlink::xdp_query;
    let (l, layout) = load(&["xdp_count", "xdp_drop"]);
    let veth1 = oxbpf_sys::sock::ifindex("veth1").unwrap();
    let count = l.program("xdp_count").unwrap();
    let drop_prog = l.program("xdp_drop").unwrap();
    let link = count
        .attach_xdp_netlink(veth1, XdpMode::Drv, false)
        .unwrap();
    let state = xdp_query(veth1).unwrap();
    assert_eq!(
        (state.attached, state.prog_id),
        (1, count.id().unwrap()),
        "{state:?}"
    );
    assert_eq!(xdp_prog_id("veth1"), state.prog_id);
    send_frames("veth0", 4);
    assert_eq!(counter(&l, &layout, "xdp_packets"), 4);

    // Taken: the error says by whom and in which mode.
    let err = drop_prog
        .attach_xdp_netlink(veth1, XdpMode::Drv, false)
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "program {} is already attached in driver mode; replace it or choose another mode",
            state.prog_id
        )),
        "{err}"
    );
    // Generic mode beside driver mode: the kernel's own sentence comes through.
    let err = drop_prog
        .attach_xdp_netlink(veth1, XdpMode::Skb, false)
        .unwrap_err();
    assert!(
        crate::chain(&err).contains("Native and generic XDP can't be active at the same time"),
        "{}",
        crate::chain(&err)
    );
    // Replacing is asked for explicitly.
    let replaced = drop_prog
        .attach_xdp_netlink(veth1, XdpMode::Drv, true)
        .unwrap();
    assert_eq!(xdp_query(veth1).unwrap().prog_id, drop_prog.id().unwrap());
    send_frames("veth0", 3);
    assert_eq!(
        counter(&l, &layout, "xdp_packets"),
        4,
        "the drop program runs now"
    );
    // The first link's program is no longer there: dropping it leaves the other alone.
    drop(link);
    assert_eq!(xdp_query(veth1).unwrap().prog_id, drop_prog.id().unwrap());
    drop(replaced);
    assert_eq!(xdp_query(veth1).unwrap().attached, 0);
    assert_eq!(xdp_prog_id("veth1"), 0);
}

#[test]
fn tc_filters_over_netlink_add_and_remove_their_qdisc() {
    let _serial = crate::serial();
    let test = "attach::tc_filters_over_netlink_add_and_remove_their_qdisc";
    if !gate::require_bpf(test)
        || !crate::rerun_unshared(
            test,
            libc::CLONE_NEWNET | libc::CLONE_NEWNS,
            crate::veth_pair,
        )
    {
        return;
    }
    let (l, layout) = load(&["tc_count", "tc_drop"]);
    let veth0 = oxbpf_sys::sock::ifindex("veth0").unwrap();
    let veth1 = oxbpf_sys::sock::ifindex("veth1").unwrap();
    let count = l
        .program("tc_count")
        .unwrap()
        .attach_tc_netlink(veth1, TcDirection::Ingress, 1)
        .unwrap();
    assert!(qdisc_kinds("veth1").contains(&"clsact".to_string()));
    let filters = bpf_filters("veth1", TcDirection::Ingress);
    assert!(
        filters.len() == 1 && filters[0].0.starts_with("tc_count") && filters[0].1,
        "{filters:?}"
    );
    send_frames("veth0", 3);
    assert_eq!(counter(&l, &layout, "tc_packets"), 3);
    // The same priority twice is refused, saying so.
    let err = l
        .program("tc_drop")
        .unwrap()
        .attach_tc_netlink(veth1, TcDirection::Ingress, 1)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("a filter with priority 1 is there already"),
        "{err}"
    );
    // A drop filter on veth0's egress: nothing leaves.
    let dropper = l
        .program("tc_drop")
        .unwrap()
        .attach_tc_netlink(veth0, TcDirection::Egress, 1)
        .unwrap();
    assert_eq!(send_frames("veth0", 2), 0);
    drop(dropper);
    assert!(
        !qdisc_kinds("veth0").contains(&"clsact".to_string()),
        "our qdisc is gone"
    );
    drop(count);
    assert!(bpf_filters("veth1", TcDirection::Ingress).is_empty());
    assert!(!qdisc_kinds("veth1").contains(&"clsact".to_string()));
    send_frames("veth0", 1);
    assert_eq!(counter(&l, &layout, "tc_packets"), 3, "detached");
}

#[test]
fn auto_attach_follows_the_section_names() {
    let _serial = crate::serial();
    if !gate::require_bpf("auto_attach_follows_the_section_names") {
        return;
    }
    use oxbpf_prog::AutoAttach;
    let mut obj = Object::open(crate::testdata("progtypes_trace.bpf.o")).unwrap();
    let layout = obj.data.clone();
    obj.load_only(&[
        "tp_btf_switch",
        "raw_tp_switch",
        "iter_tasks",
        "uprobe_target",
        "kprobe_unlinkat",
        "perf_sample",
    ])
    .unwrap();
    let l = obj.load(&LoadOptions::default()).unwrap();
    let mut links = Vec::new();
    for name in [
        "tp_btf_switch",
        "raw_tp_switch",
        "iter_tasks",
        "uprobe_target",
    ] {
        match l.program(name).unwrap().attach_auto() {
            Ok(AutoAttach::Attached(link)) => links.push(link),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(
        links.iter().map(|l| l.describe()).collect::<Vec<_>>(),
        [
            "tp_btf_switch on its trace_raw_tp target",
            "raw_tp_switch on raw tracepoint sched_switch",
            "iter_tasks as an iterator",
            "uprobe_target on uprobe /proc/self/exe:oxbpf_uprobe_target",
        ]
    );
    oxbpf_uprobe_target(5);
    std::thread::sleep(std::time::Duration::from_millis(20)); // a few context switches
    assert_eq!(counter(&l, &layout, "uprobe_calls"), 1);
    assert!(counter(&l, &layout, "tp_btf_calls") > 0);
    assert!(counter(&l, &layout, "raw_tp_calls") > 0);
    // Hooks a section cannot name.
    assert!(matches!(
        l.program("perf_sample").unwrap().attach_auto().unwrap(),
        AutoAttach::NeedsTarget("a perf event")
    ));
    // A kprobe where the kernel has none fails plainly (and attaches where it has).
    if oxbpf_sys::perf::pmu_type("kprobe").is_none() {
        let err = l
            .program("kprobe_unlinkat")
            .unwrap()
            .attach_auto()
            .unwrap_err();
        assert!(
            err.to_string().contains("this kernel has no kprobes"),
            "{err}"
        );
    }
}

#[test]
fn sockmap_programs_and_sk_lookup_attach_and_detach() {
    let _serial = crate::serial();
    let test = "attach::sockmap_programs_and_sk_lookup_attach_and_detach";
    if !gate::require_bpf(test)
        || !crate::rerun_unshared(test, libc::CLONE_NEWNET, || {
            crate::link_up(&mut oxbpf_sys::netlink::Socket::route().unwrap(), "lo");
        })
    {
        return;
    }
    let mut obj = Object::open(crate::testdata("progtypes_net.bpf.o")).unwrap();
    obj.load_only(&[
        "msg_verdict",
        "skb_verdict",
        "lookup_pass",
        "connect4_allow",
    ])
    .unwrap();
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let map = l.map("sock_map").unwrap();
    let msg = l
        .program("msg_verdict")
        .unwrap()
        .attach_to_fd(map.as_fd(), AttachType::SK_MSG_VERDICT, "sock_map")
        .unwrap();
    let skb = l
        .program("skb_verdict")
        .unwrap()
        .attach_to_fd(map.as_fd(), AttachType::SK_SKB_STREAM_VERDICT, "sock_map")
        .unwrap();
    // This network namespace (a fresh one: the machine's is not touched).
    let netns = std::fs::File::open("/proc/self/ns/net").unwrap();
    let lookup = l
        .program("lookup_pass")
        .unwrap()
        .attach_to_fd(netns.as_fd(), AttachType::SK_LOOKUP, "this netns")
        .unwrap();
    assert!(lookup.info().unwrap().is_some(), "sk_lookup is a bpf_link");
    // The program passes every lookup: a TCP connection on loopback still works.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
    drop((client, server));
    for link in [msg, skb, lookup] {
        let what = link.describe().to_string();
        link.detach().unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

#[test]
fn uprobes_on_a_shared_library_with_a_pid_filter() {
    let _serial = crate::serial();
    if !gate::require_bpf("uprobes_on_a_shared_library_with_a_pid_filter") {
        return;
    }
    // The probed calls are this process's own getpid(2) through glibc's libc.so.6: a
    // static build (the one the kernel matrix boots) has no shared libc to probe.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    if !maps.contains("/libc.so.6") {
        gate::skip(
            "uprobes_on_a_shared_library_with_a_pid_filter",
            "this test binary is statically linked: no libc.so.6 to probe",
        );
        return;
    }
    let (l, layout) = load(&["on_call"]);
    let prog = l.program("on_call").unwrap();
    let getpid = ProbeTarget::Symbol("getpid".into(), 0);
    // Only another process: our own calls are not seen.
    let mut other = Command::new("sleep").arg("5").spawn().unwrap();
    let link = prog
        .attach_uprobe(
            Path::new("libc.so.6"),
            &getpid,
            Some(other.id() as i32),
            false,
        )
        .unwrap();
    assert!(
        link.describe().contains("/libc.so.6:getpid"),
        "{}",
        link.describe()
    );
    for _ in 0..3 {
        // SAFETY: getpid has no preconditions.
        std::hint::black_box(unsafe { libc::getpid() });
    }
    assert_eq!(
        counter(&l, &layout, "uprobe_calls"),
        0,
        "filtered to the other pid"
    );
    drop(link);
    let _ = other.kill();
    let _ = other.wait();
    // Every process: ours counts (the program keeps only target_tgid's calls).
    let link = prog
        .attach_uprobe(Path::new("libc.so.6"), &getpid, None, false)
        .unwrap();
    for _ in 0..3 {
        // SAFETY: as above.
        std::hint::black_box(unsafe { libc::getpid() });
    }
    drop(link);
    assert_eq!(counter(&l, &layout, "uprobe_calls"), 3);
}

/// Two functions for the uprobe.multi test, matched by `oxbpf_multi_target_*`.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn oxbpf_multi_target_a(x: i32) -> i32 {
    std::hint::black_box(x) + 1
}

/// See [`oxbpf_multi_target_a`].
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn oxbpf_multi_target_b(x: i32) -> i32 {
    std::hint::black_box(x) + 2
}

#[test]
fn uprobe_multi_attaches_to_every_function_a_pattern_matches() {
    let _serial = crate::serial();
    if !gate::require_bpf("uprobe_multi_attaches_to_every_function_a_pattern_matches") {
        return;
    }
    use oxbpf_prog::AutoAttach;
    let (l, layout) = load(&["on_multi"]);
    let prog = l.program("on_multi").unwrap();
    assert_eq!(
        prog.expected_attach_type(),
        Some(AttachType::TRACE_UPROBE_MULTI)
    );
    // From the section: uprobe.multi//proc/self/exe:oxbpf_multi_target_*.
    if !crate::kernel_since(6, 6) {
        let err = prog.attach_auto().unwrap_err();
        assert_eq!(
            err.to_string(),
            "program `on_multi`: cannot attach to uprobe.multi /proc/self/exe:oxbpf_multi_target_*: this kernel has no uprobe_multi links (6.6+)"
        );
        return;
    }
    let AutoAttach::Attached(link) = prog.attach_auto().unwrap() else {
        panic!("not attached")
    };
    assert!(
        link.describe().ends_with("(2 functions)"),
        "{}",
        link.describe()
    );
    oxbpf_multi_target_a(1);
    oxbpf_multi_target_b(1);
    oxbpf_multi_target_a(1);
    assert_eq!(counter(&l, &layout, "multi_calls"), 3);
    drop(link);
    oxbpf_multi_target_b(1);
    assert_eq!(counter(&l, &layout, "multi_calls"), 3, "detached");
    let err = prog
        .attach_uprobe_multi(
            &std::env::current_exe().unwrap(),
            "oxbpf_nothing_*",
            None,
            false,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("has no function matching `oxbpf_nothing_*`"),
        "{err}"
    );
}

#[test]
fn fentry_fexit_and_lsm_count_calls_where_the_kernel_has_trampolines() {
    let _serial = crate::serial();
    let test = "attach::fentry_fexit_and_lsm_count_calls_where_the_kernel_has_trampolines";
    if !gate::require_bpf(test) {
        return;
    }
    let mut obj = Object::open(crate::testdata("progtypes_trace.bpf.o")).unwrap();
    let layout = obj.data.clone();
    obj.load_only(&[
        "fentry_unlinkat",
        "fexit_unlinkat",
        "lsm_file_open",
        "kprobe_unlinkat",
    ])
    .unwrap();
    let l = match obj.load(&LoadOptions {
        keep_going: true,
        ..Default::default()
    }) {
        Ok(l) => l,
        Err(e) => panic!("{}", crate::chain(&e)),
    };
    let loaded: Vec<&str> = l.programs.iter().map(|p| p.name()).collect();
    if !loaded.contains(&"fentry_unlinkat") {
        // No BPF trampolines (this machine): the load said so plainly
        // (load::fentry_fexit_fmod_ret_and_lsm_fail_naming_program_and_cause checks the
        // sentence); nothing to count.
        let why: Vec<String> = l.failures.iter().map(|f| crate::chain(&f.error)).collect();
        assert!(why.iter().any(|w| w.contains("trampolines")), "{why:?}");
        assert!(!expected("trampolines"), "{why:?}");
        eprintln!("{test}: nothing to count here: {}", why.join("; "));
        return;
    }
    let mut links = Vec::new();
    for p in &l.programs {
        match p.attach_auto() {
            Ok(oxbpf_prog::AutoAttach::Attached(link)) => links.push(link),
            Ok(other) => panic!("{}: {other:?}", p.name()),
            // Trampolines for BPF programs but not for kernel functions (arm64 before
            // 6.4, no ftrace direct calls): loads, then the attach says so.
            Err(e) if p.name() == "fentry_unlinkat" && !expected("trampolines") => {
                let why = crate::chain(&e);
                assert!(
                    why.contains("cannot attach them to kernel functions"),
                    "{why}"
                );
                eprintln!("{test}: nothing to count here: {why}");
                return;
            }
            // LSM programs need `bpf` among the active LSMs (lsm=...,bpf at boot).
            Err(e) if p.name() == "lsm_file_open" && !expected("bpf_lsm") => {
                let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
                assert!(
                    !lsms.contains("bpf"),
                    "lsm attach failed with bpf active ({lsms}): {e}"
                );
                eprintln!("{test}: lsm_file_open not attached: the bpf LSM is not active ({lsms})");
            }
            Err(e)
                if p.name() == "kprobe_unlinkat"
                    && oxbpf_sys::perf::pmu_type("kprobe").is_none() =>
            {
                drop(e);
            }
            Err(e) => panic!("{}: {}", p.name(), crate::chain(&e)),
        }
    }
    let before = |n: &str| counter(&l, &layout, n);
    let (fe, fx, ls) = (
        before("fentry_calls"),
        before("fexit_calls"),
        before("lsm_calls"),
    );
    let dir = std::env::temp_dir();
    for i in 0..3 {
        let f = dir.join(format!("oxbpf-trampoline-{}-{i}", std::process::id()));
        std::fs::write(&f, b"x").unwrap();
        let _ = std::fs::read(&f).unwrap();
        std::fs::remove_file(&f).unwrap();
    }
    assert!(before("fentry_calls") >= fe + 3, "fentry saw the unlinks");
    assert!(before("fexit_calls") >= fx + 3, "fexit saw the unlinks");
    if links
        .iter()
        .any(|k| k.describe().starts_with("lsm_file_open"))
    {
        assert!(before("lsm_calls") >= ls + 3, "lsm saw the opens");
    }
    drop(links);
}

#[test]
fn a_struct_ops_congestion_control_registers_and_carries_a_tcp_connection() {
    let _serial = crate::serial();
    let test = "attach::a_struct_ops_congestion_control_registers_and_carries_a_tcp_connection";
    if !gate::require_bpf(test)
        || !crate::rerun_unshared(test, libc::CLONE_NEWNET, || {
            crate::link_up(&mut oxbpf_sys::netlink::Socket::route().unwrap(), "lo");
        })
    {
        return;
    }
    // Before 6.4 no link maps, before 5.13 no kfunc calls from struct_ops programs.
    if !crate::kernel_since(5, 13) {
        eprintln!("{test}: this kernel's struct_ops programs cannot call kfuncs (5.13)");
        return;
    }
    let (map, cc) = if crate::kernel_since(6, 4) {
        ("oxcc", "oxcc")
    } else {
        ("oxcc_plain", "oxcc_plain")
    };
    let mut obj = Object::open(crate::testdata("struct_ops.bpf.o")).unwrap();
    for other in ["oxcc", "oxcc_plain"].into_iter().filter(|m| *m != map) {
        obj.map_mut(other).unwrap().autocreate = false;
    }
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let link = match l.register_struct_ops(map) {
        Ok(link) => link,
        Err(e) => {
            // No BPF trampolines (this machine): refused, and said so.
            let why = crate::chain(&e);
            assert!(
                why.starts_with(&format!("struct_ops map `{map}`: registering: struct_ops map {map}: register (update element 0)")),
                "{why}"
            );
            assert!(!expected("trampolines"), "{why}");
            eprintln!("{test}: nothing to run here: {why}");
            return;
        }
    };
    // The congestion control is the kernel's now: a connection over loopback uses it.
    transfer_with_congestion(cc, 4 << 20);
    let count = |name: &str| {
        let v = l.global(name).unwrap();
        u64::from_ne_bytes(v[..8].try_into().unwrap())
    };
    assert!(count("cong_avoid_calls") > 0, "cong_avoid never ran");
    if map == "oxcc" {
        assert!(count("init_calls") > 0, "init never ran");
    }
    // Unregistered: the name is gone.
    link.detach().unwrap();
    // SAFETY: a plain socket(2), closed right after.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    let set = set_congestion(fd, cc);
    // SAFETY: `fd` is ours and used no more.
    unsafe { libc::close(fd) };
    assert_eq!(set, Err(libc::ENOENT), "{cc} is still registered");
}

/// A TCP connection to `addr` whose congestion control is set to `cc` before it
/// connects (so the kernel calls its `init` too).
fn connect_with_congestion(addr: std::net::SocketAddr, cc: &str) -> std::net::TcpStream {
    use std::os::fd::FromRawFd as _;
    let std::net::SocketAddr::V4(v4) = addr else {
        panic!("{addr}")
    };
    // SAFETY: a plain socket(2); the fd is owned by the TcpStream made below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    set_congestion(fd, cc).unwrap_or_else(|e| panic!("TCP_CONGESTION {cc}: errno {e}"));
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(v4.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the size given.
    let r = unsafe {
        libc::connect(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a connected TCP socket this function owns.
    unsafe { std::net::TcpStream::from_raw_fd(fd) }
}

/// `setsockopt(TCP_CONGESTION, cc)`: the errno on failure.
fn set_congestion(fd: i32, cc: &str) -> Result<(), i32> {
    // SAFETY: `cc` is a byte string of the length given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            cc.as_ptr().cast(),
            cc.len() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

/// `/sys/kernel/sched_ext/state` once it reads `want` (the kernel enables and disables
/// a scheduler from a worker: give it a moment), or what it read last.
fn sched_ext_state(want: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = std::fs::read_to_string("/sys/kernel/sched_ext/state")
            .unwrap_or_default()
            .trim()
            .to_string();
        if last == want {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    last
}

/// Work for the scheduler: threads that compute and sleep in turn, all joined.
fn sched_ext_workload() {
    let threads: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut x = i as u64;
                for _ in 0..20 {
                    for _ in 0..100_000 {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                x
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_sched_ext_scheduler_schedules_while_registered_and_the_kernel_takes_over_after() {
    let _serial = crate::serial();
    let test =
        "attach::a_sched_ext_scheduler_schedules_while_registered_and_the_kernel_takes_over_after";
    if !gate::require_bpf(test) {
        return;
    }
    let obj = Object::open(crate::testdata("sched_ext.bpf.o")).unwrap();
    let l = match obj.load(&LoadOptions::default()) {
        Ok(l) => l,
        Err(e) => {
            // A kernel without sched_ext (this machine): refused, saying what it lacks.
            let why = crate::chain(&e);
            assert!(
                why.contains("no struct bpf_struct_ops_sched_ext_ops in its BTF")
                    && why.contains("CONFIG_SCHED_CLASS_EXT"),
                "{why}"
            );
            assert!(!expected("sched_ext"), "{why}");
            eprintln!("{test}: nothing to run here: {why}");
            return;
        }
    };
    let global = |name: &str| i64::from_ne_bytes(l.global(name).unwrap().try_into().unwrap());
    assert_eq!(
        sched_ext_state("disabled"),
        "disabled",
        "another scheduler runs"
    );
    let link = l
        .register_struct_ops("oxsimple")
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    assert_eq!(sched_ext_state("enabled"), "enabled");
    assert_eq!(
        std::fs::read_to_string("/sys/kernel/sched_ext/root/ops")
            .unwrap_or_default()
            .trim(),
        "oxsimple"
    );
    sched_ext_workload();
    assert!(
        global("enqueued") + global("local_inserts") > 0,
        "no task went through oxsimple"
    );
    assert!(global("dispatched") > 0 || global("local_inserts") > 0);
    assert_eq!(global("exit_kind"), -1, "exited early");
    drop(link);
    assert_eq!(sched_ext_state("disabled"), "disabled");
    // exit() saw why: SCX_EXIT_UNREG (64), the struct unregistered by user space.
    assert_eq!(global("exit_kind"), 64);
    sched_ext_workload();

    // The same through the command line, where the kernel matrix put it: `oxbpf run`
    // until SIGINT, as a user runs a scheduler.
    let Some(cli) = std::env::var_os("OXBPF_CLI") else {
        return;
    };
    let mut run = std::process::Command::new(cli)
        .args(["run", crate::testdata("sched_ext.bpf.o").to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(run.stdout.take().unwrap());
    let mut text = String::new();
    while !text.contains("Ctrl-C to stop") {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut out, &mut line).unwrap() == 0 {
            break;
        }
        text.push_str(&line);
    }
    assert!(
        text.contains("attached: struct_ops map oxsimple registered through a link"),
        "{text}"
    );
    assert_eq!(sched_ext_state("enabled"), "enabled", "{text}");
    sched_ext_workload();
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(run.id() as i32, libc::SIGINT) }, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(run.wait().unwrap().success(), "{text}{rest}");
    assert!(rest.contains("detached 1"), "{rest}");
    assert_eq!(sched_ext_state("disabled"), "disabled");
}

/// Sends `bytes` over loopback on a TCP connection using congestion control `cc`, and
/// checks that all of them arrived.
fn transfer_with_congestion(cc: &str, bytes: usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut all).unwrap();
        all.len()
    });
    let mut stream = connect_with_congestion(addr, cc);
    let data = vec![7u8; bytes];
    std::io::Write::write_all(&mut stream, &data).unwrap();
    drop(stream);
    assert_eq!(server.join().unwrap(), data.len());
}

#[test]
fn a_struct_ops_link_switches_to_another_map_with_no_gap() {
    let _serial = crate::serial();
    let test = "attach::a_struct_ops_link_switches_to_another_map_with_no_gap";
    if !gate::require_bpf(test)
        || !crate::rerun_unshared(test, libc::CLONE_NEWNET, || {
            crate::link_up(&mut oxbpf_sys::netlink::Socket::route().unwrap(), "lo");
        })
    {
        return;
    }
    // struct_ops links came in 6.4.
    if !crate::kernel_since(6, 4) {
        eprintln!("{test}: no struct_ops links before 6.4");
        return;
    }
    // The object twice: two `oxcc` link maps, each with its own programs and counters.
    let load = || {
        let mut obj = Object::open(crate::testdata("struct_ops.bpf.o")).unwrap();
        obj.map_mut("oxcc_plain").unwrap().autocreate = false;
        obj.load(&LoadOptions::default())
            .unwrap_or_else(|e| panic!("{}", crate::chain(&e)))
    };
    let (first, second) = (load(), load());
    let count = |l: &Loaded| {
        u64::from_ne_bytes(
            l.global("cong_avoid_calls").unwrap()[..8]
                .try_into()
                .unwrap(),
        )
    };
    let mut link = match first.register_struct_ops("oxcc") {
        Ok(link) => link,
        Err(e) => {
            let why = crate::chain(&e);
            assert!(!expected("trampolines"), "{why}");
            eprintln!("{test}: nothing to run here: {why}");
            return;
        }
    };
    transfer_with_congestion("oxcc", 1 << 20);
    let before = count(&first);
    assert!(before > 0 && count(&second) == 0);
    second
        .update_struct_ops(&mut link, "oxcc")
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    assert_eq!(
        link.describe(),
        "struct_ops map oxcc registered through a link"
    );
    // The second map's programs run now; the first's no more.
    transfer_with_congestion("oxcc", 1 << 20);
    assert!(count(&second) > 0, "the second map's cong_avoid never ran");
    assert_eq!(
        count(&first),
        before,
        "the first map's cong_avoid still runs"
    );
    // Only link maps can take a link's place.
    let e = crate::chain(
        &first
            .update_struct_ops(&mut link, "oxcc_plain")
            .unwrap_err(),
    );
    assert!(e.contains("no .struct_ops.link map of that name"), "{e}");
    drop(link);
}

#[test]
fn globals_are_memory_read_and_written_while_the_program_runs() {
    let _serial = crate::serial();
    if !gate::require_bpf("globals_are_memory_read_and_written_while_the_program_runs") {
        return;
    }
    let (l, _) = load(&["on_getppid"]);
    // .bss is mmapable (5.5+): the counter is this process's memory, shared.
    assert!(l.global_in_memory("tp_calls") || !crate::kernel_since(5, 5));
    let _link = l
        .program("on_getppid")
        .unwrap()
        .attach_tracepoint("syscalls", "sys_enter_getppid")
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    getppid_times(2);
    assert_eq!(l.read_global::<u64>("tp_calls").unwrap(), 2);
    // Written while attached: the program goes on counting from there.
    l.write_global("tp_calls", &100u64).unwrap();
    getppid_times(3);
    assert_eq!(l.read_global::<u64>("tp_calls").unwrap(), 103);
    // The size is the variable's: a u32 does not read a __u64.
    let e = crate::chain(&l.read_global::<u32>("tp_calls").unwrap_err());
    assert_eq!(e, "global variable `tp_calls`: is 8 bytes, and u32 is 4");
    // .rodata is frozen once loaded: read, not written.
    assert_eq!(
        l.read_global::<i32>("target_tgid").unwrap(),
        std::process::id() as i32
    );
    assert!(
        crate::chain(&l.write_global("target_tgid", &0i32).unwrap_err())
            .contains("read-only once loaded")
    );
}
