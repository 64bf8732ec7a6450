//! Loading objects into the running kernel, and running what can run with
//! `BPF_PROG_TEST_RUN` to check the effect on maps: the main job, end to end.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use oxbpf_loader::Object;
use oxbpf_loader::load::{LoadError, LoadOptions, Loaded, ProgramRejected};
use oxbpf_loader::prelude::*;
use oxbpf_sys::fd::open_fd_count;
use oxbpf_sys::gate;

fn load(name: &str, opts: &LoadOptions) -> Loaded {
    load_spec(name, &open(name), opts)
}

/// Testdata object `name`, opened.
fn open(name: &str) -> Object {
    Object::open(crate::testdata(name)).unwrap()
}

/// `obj` (testdata object `name`, maybe edited) loaded.
fn load_spec(name: &str, obj: &Object, opts: &LoadOptions) -> Loaded {
    obj.load(opts)
        .unwrap_or_else(|e| panic!("{name}: {}", crate::chain(&e)))
}

/// An Ethernet + IPv4 frame with the given IP protocol and payload.
fn packet(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 14 + 20];
    p[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    let total = (20 + payload.len()) as u16;
    p[16..18].copy_from_slice(&total.to_be_bytes());
    p[22] = 64;
    p[23] = proto;
    p[26..30].copy_from_slice(&[10, 0, 0, 1]);
    p[30..34].copy_from_slice(&[10, 0, 0, 2]);
    p.extend_from_slice(payload);
    p
}

/// What a socket filter must be given to see `frame` whole: test runs of socket
/// filters pull the Ethernet header off before the program runs (a real `AF_PACKET`
/// socket does not), so the header goes in twice.
fn for_socket_filter(frame: &[u8]) -> Vec<u8> {
    let mut p = frame[..14].to_vec();
    p.extend_from_slice(frame);
    p
}

/// A TCP segment (20-byte header) carrying `payload`.
fn tcp(payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&12345u16.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[12] = 5 << 4;
    t.extend_from_slice(payload);
    packet(6, &t)
}

fn u32_at(v: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(v[off..off + 4].try_into().unwrap())
}

fn u64_at(v: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(v[off..off + 8].try_into().unwrap())
}

/// The bytes of the global data map of `section` in a loaded object.
fn data(l: &Loaded, section: &str) -> Vec<u8> {
    let m = l
        .maps
        .iter()
        .find(|m| m.name().ends_with(section))
        .unwrap_or_else(|| panic!("no map for {section}"));
    m.lookup(&0u32.to_ne_bytes()).unwrap().unwrap()
}

/// A global variable's bytes, by name, through the object's symbol table.
fn global(obj: &Object, l: &Loaded, name: &str) -> Vec<u8> {
    let sec = obj
        .data
        .iter()
        .find(|d| d.symbols.iter().any(|s| s.name == name))
        .unwrap();
    let sym = sec.symbols.iter().find(|s| s.name == name).unwrap();
    data(l, &sec.name)[sym.offset as usize..(sym.offset + sym.size) as usize].to_vec()
}

#[test]
fn every_testdata_object_loads_except_what_this_kernel_refuses() {
    let _serial = crate::serial();
    if !gate::require_bpf("every_testdata_object_loads_except_what_this_kernel_refuses") {
        return;
    }
    for path in crate::testdata_objects() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "maps_btf.bpf.o" {
            continue; // maps_btf pins a map: tested with a bpffs below
        }
        // Kernels without arenas or sched_ext refuse the whole object (its one map):
        // each has its own test, which checks the refusal where the kernel lacks it.
        if name == "arena.bpf.o" || name == "sched_ext.bpf.o" {
            continue;
        }
        let obj = Object::open(&path).unwrap();
        let autoload: Vec<String> = obj
            .programs
            .iter()
            .filter(|p| p.autoload && p.prog_type.is_some())
            .map(|p| p.name().to_string())
            .collect();
        let obj = crate::skip_maps(crate::only(obj, &autoload), &crate::newer_maps(&name));
        // A struct_ops program loads only for a struct_ops map that is created.
        let expected = autoload
            .iter()
            .filter(|p| {
                let users: Vec<bool> = obj
                    .maps
                    .iter()
                    .filter(|m| {
                        m.struct_ops
                            .as_ref()
                            .is_some_and(|st| st.programs.iter().any(|s| &s.program == *p))
                    })
                    .map(|m| m.autocreate)
                    .collect();
                users.is_empty() || users.contains(&true)
            })
            .count();
        let loaded = crate::load_all_but_trampolines(&name, obj, LoadOptions::default());
        assert_eq!(
            loaded.programs.len() + loaded.failures.len(),
            expected,
            "{name}"
        );
    }
}

#[test]
fn fentry_fexit_fmod_ret_and_lsm_fail_naming_program_and_cause() {
    let _serial = crate::serial();
    if !gate::require_bpf("fentry_fexit_fmod_ret_and_lsm_fail_naming_program_and_cause") {
        return;
    }
    for (prog, kind) in [
        ("fentry_unlinkat", "fentry"),
        ("fexit_unlinkat", "fexit"),
        ("fmod_file_open", "fmod_ret"),
        ("lsm_file_open", "lsm"),
    ] {
        let obj = crate::only(open("progtypes_trace.bpf.o"), &[prog]);
        match obj.load(&LoadOptions::default()) {
            // A kernel with BPF trampolines loads them: nothing to explain.
            Ok(l) => assert_eq!(l.programs.len(), 1),
            Err(e) => {
                let msg = crate::chain(&e);
                let LoadError::Program(rejected) = &e else {
                    panic!("{msg}")
                };
                let ProgramRejected {
                    prog: p,
                    error,
                    explanation,
                    ..
                } = &**rejected;
                assert_eq!(p, prog);
                assert_eq!(error.errno(), Some(libc::EPERM), "{msg}");
                let why = explanation.as_deref().unwrap_or_default();
                assert!(why.contains("trampolines") && why.contains(kind), "{msg}");
                assert!(msg.starts_with(&format!("program `{prog}` (")), "{msg}");
            }
        }
    }
}

#[test]
fn classic_socket_filter_counts_bytes_per_protocol() {
    let _serial = crate::serial();
    if !gate::require_bpf("classic_socket_filter_counts_bytes_per_protocol") {
        return;
    }
    let l = load("sockex1.bpf.o", &LoadOptions::default());
    let prog = l.program("bpf_prog1").unwrap();
    // sockex1 counts only outgoing packets, which a test run cannot produce (its skb is
    // always received): attach to a packet socket on loopback and send real datagrams.
    let sock = oxbpf_sys::sock::open_raw_sock("lo").unwrap();
    let _link = prog.attach_socket(sock.as_fd()).unwrap();
    let counts = l.map("my_map").unwrap();
    let udp_bytes = || u64_at(&counts.lookup(&17u32.to_ne_bytes()).unwrap().unwrap(), 0);
    let before = udp_bytes();
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        tx.send_to(&[0u8; 100], rx.local_addr().unwrap()).unwrap();
    }
    // Each outgoing frame on lo: Ethernet 14 + IPv4 20 + UDP 8 + 100 bytes of payload.
    let mut grown = 0;
    for _ in 0..100 {
        grown = udp_bytes() - before;
        if grown >= 3 * 142 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(grown >= 3 * 142, "UDP bytes counted: {grown}");
}

#[test]
fn http_filter_keeps_only_get_and_post() {
    let _serial = crate::serial();
    if !gate::require_bpf("http_filter_keeps_only_get_and_post") {
        return;
    }
    let l = load("http_filter.bpf.o", &LoadOptions::default());
    let prog = l.program("http_filter").unwrap();
    let keep = |payload: &[u8]| {
        prog.test_run(&for_socket_filter(&tcp(payload)), &[])
            .unwrap()
            .retval as i32
    };
    assert_eq!(keep(b"GET / HTTP/1.1\r\n"), -1);
    assert_eq!(keep(b"POST /form HTTP/1.1\r\n"), -1);
    assert_eq!(keep(b"HTTP/1.1 200 OK\r\n"), 0);
    assert_eq!(
        prog.test_run(&for_socket_filter(&packet(17, b"GET / HTTP/1.1")), &[])
            .unwrap()
            .retval,
        0,
        "UDP is dropped"
    );
}

#[test]
fn xdp_programs_return_their_verdicts_and_count() {
    let _serial = crate::serial();
    if !gate::require_bpf("xdp_programs_return_their_verdicts_and_count") {
        return;
    }
    const XDP_DROP: u32 = 1;
    const XDP_PASS: u32 = 2;
    let l = load("xdp_pass.bpf.o", &LoadOptions::default());
    assert_eq!(
        l.program("xdp_pass")
            .unwrap()
            .test_run(&packet(17, &[0; 8]), &[])
            .unwrap()
            .retval,
        XDP_PASS
    );

    // The legacy bpf_map_def per-CPU stats: one packet counted, summed over CPUs.
    let l = load("xdp_stats_legacy.bpf.o", &LoadOptions::default());
    let pkt = packet(6, &[0; 20]);
    assert_eq!(
        l.program("xdp_stats_pass")
            .unwrap()
            .test_run(&pkt, &[])
            .unwrap()
            .retval,
        XDP_PASS
    );
    assert_eq!(
        l.program("xdp_stats_drop")
            .unwrap()
            .test_run(&pkt, &[])
            .unwrap()
            .retval,
        XDP_DROP
    );
    let stats = l.map("xdp_stats_map").unwrap();
    let per_cpu = stats.lookup(&XDP_PASS.to_ne_bytes()).unwrap().unwrap();
    let (mut packets, mut bytes) = (0, 0);
    for cpu in per_cpu.chunks(16) {
        packets += u64_at(cpu, 0);
        bytes += u64_at(cpu, 8);
    }
    assert_eq!((packets, bytes), (1, pkt.len() as u64));
}

#[test]
fn subprograms_callbacks_and_global_data_work() {
    let _serial = crate::serial();
    if !gate::require_bpf("subprograms_callbacks_and_global_data_work") {
        return;
    }
    let mut obj = multi_prog();
    // Like libbpf, a program whose section names no type stops the load, saying how
    // to give it one.
    let err = obj.load(&LoadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "program `mystery_prog`: section `mystery/unknown_kind` matches no SEC() pattern; set its type before load (`obj.program_mut(\"mystery_prog\")?.prog_type = Some(ProgType::XDP)`)"
    );
    type_mystery(&mut obj);
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    // `?tc` is not loaded unless asked.
    assert!(l.program("tc_optional").is_none());
    assert!(l.program("mystery_prog").is_some());
    let pkt = packet(6, &[0; 20]);
    // static_scale(1) + global_bump(2) > 0 → XDP_PASS; bss_hits counts global_bump calls.
    assert_eq!(
        l.program("xdp_first")
            .unwrap()
            .test_run(&pkt, &[])
            .unwrap()
            .retval,
        2
    );
    // bpf_loop adds 0..9 = 45 → XDP_PASS.
    if crate::kernel_since(5, 17) {
        assert_eq!(
            l.program("xdp_second")
                .unwrap()
                .test_run(&pkt, &[])
                .unwrap()
                .retval,
            2
        );
    } else {
        // Before 5.17 there is no bpf_loop, and before 5.13 no callbacks at all: each
        // is said plainly.
        let err = crate::only(obj.clone(), &["xdp_second"])
            .load(&LoadOptions::default())
            .unwrap_err();
        let want = if crate::kernel_since(5, 13) {
            "this kernel has no helper bpf_loop"
        } else {
            "it passes a function by address (a callback, BPF_PSEUDO_FUNC), which this kernel does not know (Linux 5.13)"
        };
        assert!(err.to_string().contains(want), "{err}");
    }
    assert_eq!(
        l.program("tc_first")
            .unwrap()
            .test_run(&pkt, &[])
            .unwrap()
            .retval,
        0
    );
    assert_eq!(u32_at(&global(&obj, &l, "bss_hits"), 0), 2);
    // static_bss_total got 2 (xdp_first) + static_scale(3) = 3*7+4 = 25 (tc_first).
    assert_eq!(u32_at(&data(&l, ".bss"), 4), 2 + 25);
    // .rodata is frozen: user space cannot change it any more.
    let ro = l
        .maps
        .iter()
        .find(|m| m.name().ends_with(".rodata"))
        .unwrap();
    assert!(ro.update(&0u32.to_ne_bytes(), &[0; 4], 0).is_err());

    // Asking for the `?` program loads it too.
    obj.load_only(&["tc_optional", "mystery_prog"]).unwrap();
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    assert_eq!(l.programs.len(), 2);
}

/// multi_prog.bpf.o; before Linux 5.17 (no bpf_loop) set to leave out `xdp_second`,
/// which calls it.
fn multi_prog() -> Object {
    let obj = open("multi_prog.bpf.o");
    if crate::kernel_since(5, 17) {
        obj
    } else {
        crate::only(obj, &["xdp_first", "tc_first", "tc_second", "mystery_prog"])
    }
}

/// Gives multi_prog.bpf.o's `mystery/unknown_kind` program a type.
fn type_mystery(obj: &mut Object) {
    obj.program_mut("mystery_prog").unwrap().prog_type =
        Some(oxbpf_sys::uapi::ProgType::SOCKET_FILTER);
}

/// [`multi_prog`] with its `mystery/unknown_kind` program given a type.
fn with_mystery_typed() -> Object {
    let mut obj = multi_prog();
    type_mystery(&mut obj);
    obj
}

#[test]
fn rodata_config_set_before_load_is_what_the_program_sees() {
    let _serial = crate::serial();
    if !gate::require_bpf("rodata_config_set_before_load_is_what_the_program_sees") {
        return;
    }
    let mut obj = with_mystery_typed();
    obj.set_global("rodata_limit", &100i32.to_ne_bytes())
        .unwrap();
    obj.set_global("bss_hits", &40u32.to_ne_bytes()).unwrap();
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    assert_eq!(u32_at(&global(&obj, &l, "rodata_limit"), 0), 100);
    l.program("tc_first")
        .unwrap()
        .test_run(&packet(6, &[0; 20]), &[])
        .unwrap();
    // static_scale(3) = 3 * 100 + 4, added by global_bump to the static total.
    assert_eq!(u32_at(&data(&l, ".bss"), 4), 304);
    assert_eq!(u32_at(&global(&obj, &l, "bss_hits"), 0), 41);
    let err = obj.set_global("rodata_limit", &[1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "global variable `rodata_limit` is 4 bytes, the value given is 1"
    );
    let err = obj.set_global("nope", &[1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no global variable `nope`; its globals: data_counter, rodata_limit, foo_value, bar_value, bss_hits, static_bss_total",
            obj.name
        )
    );
}

#[test]
fn core_program_reads_this_tasks_pid_and_comm() {
    let _serial = crate::serial();
    if !gate::require_bpf("core_program_reads_this_tasks_pid_and_comm") {
        return;
    }
    let mut obj = open("core.bpf.o");
    // bpf_get_current_task_btf, which the tp_btf program calls, came in 5.11.
    if !crate::kernel_since(5, 11) {
        let err = obj.load(&LoadOptions::default()).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "this kernel has no helper bpf_get_current_task_btf (#158); it came in a newer Linux"
            ),
            "{err}"
        );
        obj.load_only(&["core_read_task"]).unwrap();
    }
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    // raw_tp programs run in the calling task when test-run; sys_enter takes (regs, id).
    l.program("core_read_task")
        .unwrap()
        .test_run(&[], &[0u8; 16])
        .unwrap();
    let tid = std::fs::read_link("/proc/thread-self").unwrap();
    let tid: i32 = tid.file_name().unwrap().to_string_lossy().parse().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap();
    let g = |n: &str| global(&obj, &l, n);
    assert_eq!(
        u32_at(&g("core_pid"), 0) as i32,
        tid,
        "task->pid is the thread id"
    );
    assert_eq!(u32_at(&g("core_tgid"), 0), std::process::id());
    assert_eq!(
        u32_at(&g("core_ppid"), 0),
        std::os::unix::process::parent_id()
    );
    let read = g("core_comm");
    let read = String::from_utf8_lossy(&read[..read.iter().position(|&b| b == 0).unwrap_or(16)])
        .to_string();
    assert_eq!(read, comm.trim_end());
    assert_eq!(u32_at(&g("task_comm_size"), 0), 16);
    // task_struct's `state` became `__state` in 5.14.
    let renamed = crate::kernel_since(5, 14);
    assert_eq!(u32_at(&g("has_state_field"), 0), u32::from(!renamed));
    assert_eq!(u32_at(&g("has_new_state_field"), 0), u32::from(renamed));
    assert_eq!(u32_at(&g("has_missing_type"), 0), 0);
    assert_eq!(u32_at(&g("pidtype_pgid"), 0), 2);
    assert_eq!(u32_at(&g("tgid_enum_exists"), 0), 1);
    assert_eq!(u32_at(&g("list_head_matches"), 0), 1);
    assert_eq!(u32_at(&g("sys_enter_matches"), 0), 0);
    assert!(l.core.iter().all(|o| o.failure.is_none()));
}

#[test]
fn core_poisoned_relocation_is_explained_when_reached() {
    let _serial = crate::serial();
    if !gate::require_bpf("core_poisoned_relocation_is_explained_when_reached") {
        return;
    }
    // Against old_kernel.btf, `tgid` does not exist: the read of it is poisoned, and it
    // is reachable, so the verifier refuses — and the error says why in words.
    let btf = oxbpf_loader::btf::Btf::from_file(&crate::testdata("btf/old_kernel.btf")).unwrap();
    let opts = LoadOptions {
        core_btf: Some(std::sync::Arc::new(btf)),
        ..Default::default()
    };
    let err = crate::only(open("core.bpf.o"), &["core_read_task"])
        .load(&opts)
        .unwrap_err();
    let msg = crate::chain(&err);
    let LoadError::Program(rejected) = &err else {
        panic!("{msg}")
    };
    let ProgramRejected {
        explanation, log, ..
    } = &**rejected;
    assert!(log.contains("unknown#195896080"), "{log}");
    let why = explanation.as_deref().unwrap_or_default();
    assert!(why.contains("CO-RE relocation `struct task_struct.tgid` (byte_off) failed: no field `tgid` in target struct task_struct"), "{msg}");
    assert!(why.starts_with("insn "), "{why}");
}

#[test]
fn kconfig_externs_hold_the_running_kernels_values() {
    let _serial = crate::serial();
    if !gate::require_bpf("kconfig_externs_hold_the_running_kernels_values") {
        return;
    }
    let l = load("externs.bpf.o", &LoadOptions::default());
    let kconfig = l
        .maps
        .iter()
        .find(|m| m.name().ends_with(".kconfig"))
        .unwrap();
    let v = kconfig.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    let version = oxbpf_sys::version::KernelVersion::current().unwrap().code();
    // Layout (fix-up order): CONFIG_IPV6 @0, LINUX_KERNEL_VERSION @4, then the bools.
    assert_eq!(u32_at(&v, 4), version);
    assert_eq!(v[8], 1, "CONFIG_BPF_SYSCALL=y");
    assert_eq!(v[9], 0, "weak CONFIG_OXBPF_NO_SUCH_OPTION");
    // The kernel's config decides IPV6: y (1) or m (2).
    let ipv6 = u32_at(&v, 0);
    assert!(ipv6 == 1 || ipv6 == 2, "{ipv6}");
    // Programs cannot write .kconfig, and it is frozen for user space too.
    assert!(kconfig.update(&0u32.to_ne_bytes(), &v, 0).is_err());
    // The weak kfuncs: called where the kernel has them (bpf_task_from_pid: 6.2), and
    // where it does not, the program that calls them fails saying so.
    let kfuncs = crate::only(open("externs.bpf.o"), &["kfunc_fork"]).load(&LoadOptions::default());
    if crate::kernel_since(6, 2) {
        kfuncs.unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    } else {
        let err = kfuncs.unwrap_err().to_string();
        assert!(
            err.ends_with("it calls kfunc `bpf_task_from_pid`, which this kernel does not have (declared __weak, but the call is reachable)"),
            "{err}"
        );
    }
    // Kfunc addresses (bpf_ksym_exists; a program may take one since 6.4): the kernel's
    // BTF id for one it has, 0 for a weak one it lacks; run on a fork.
    if crate::kernel_since(6, 4) {
        let l = load_spec(
            "externs.bpf.o",
            &crate::only(open("externs.bpf.o"), &["kfunc_exists"]),
            &LoadOptions::default(),
        );
        let link = l.program("kfunc_exists").unwrap().attach_traced().unwrap();
        std::process::Command::new("true").status().unwrap();
        drop(link);
        assert_eq!(u32_at(&l.global("seen_kfunc_exists").unwrap(), 0), 1);
        assert_eq!(
            u32_at(&l.global("seen_missing_kfunc_exists").unwrap(), 0),
            0
        );
    }
}

/// clang emits no ELF relocation for a call between static functions of one section:
/// the call's `imm` is the distance in the section. Each function leaves its own mark in
/// the result, so a call linked to another function gives another number (issue 16: a
/// loader that kept the section's distance loaded a program calling the wrong
/// function, or one the verifier refused).
#[test]
fn static_functions_called_without_relocations_are_the_ones_the_source_names() {
    let _serial = crate::serial();
    if !gate::require_bpf(
        "static_functions_called_without_relocations_are_the_ones_the_source_names",
    ) {
        return;
    }
    let mut progs = vec![
        "calls_in_text",
        "calls_from_another_section",
        "layout_a",
        "layout_b",
        "layout_c",
    ];
    // bpf_loop arrived in 5.17, exception callbacks in 6.7.
    let callbacks = crate::kernel_since(5, 17);
    if callbacks {
        progs.push("callback_in_text");
    }
    let exceptions = crate::kernel_since(6, 7);
    if exceptions {
        progs.push("with_exception_callback");
    }
    let l = load_spec(
        "static_calls.bpf.o",
        &crate::only(open("static_calls.bpf.o"), &progs),
        &LoadOptions::default(),
    );
    let frame = packet(17, &[0; 8]);
    for p in &l.programs {
        p.test_run(&frame, &[])
            .unwrap_or_else(|e| panic!("{}: {}", p.name(), crate::chain(&e)));
    }
    // Its hidden variable's section is not mmapable (as libbpf decides), yet readable.
    let hidden = l.map(".data.hidden").unwrap().info().unwrap();
    assert_eq!(hidden.map_flags & 0x400, 0, "BPF_F_MMAPABLE");
    assert_eq!(u32_at(&l.global("calls_seen").unwrap(), 0), 2);
    let results = l.global("results").unwrap();
    let got: Vec<i32> = results
        .chunks(4)
        .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    // sub3(x) = 1000x + 3, sub5(x) = 1000x + 5, sub2(x) = sub5(x) * 10 + 2,
    // sub4(x) = sub3(x) * 10 + 4, chain(x) = sub2(x) + sub4(x), looped(4) = 1+2+3+4.
    let expect = [
        10_052,
        20_034,
        30_052 + 30_034,
        50_034,
        10_052 + 10_034,
        if callbacks { 10 } else { 0 },
        if exceptions { 7003 } else { 0 },
    ];
    assert_eq!(got, expect);
    // Globals and statics mixed: one(x) = 100x + 1, five(v) = 100 one(v) + 5,
    // two(y) = 100 five(y) + 2, three(z) = 100 (z + one(4)) + 3,
    // four(w) = 100 (three(w) + one(6)) + 4. (The loader before this fix loaded layout_b
    // calling another function — the verifier accepted it — and refused layout_c.)
    let layouts: Vec<i32> = l
        .global("layouts")
        .unwrap()
        .chunks(4)
        .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(layouts, [101 + 40_303, 3_010_502 + 40_503, 4_140_404 + 801]);
}

#[test]
fn maps_of_every_shape_with_initial_slots_and_pins() {
    let _serial = crate::serial();
    if !gate::require_bpf("maps_of_every_shape_with_initial_slots_and_pins") {
        return;
    }
    in_private_bpffs(
        "load::maps_of_every_shape_with_initial_slots_and_pins",
        |pin_root| {
            let opts = LoadOptions {
                pin_root: pin_root.to_path_buf(),
                ..Default::default()
            };
            let skipped = crate::newer_maps("maps_btf.bpf.o");
            let spec = crate::skip_maps(open("maps_btf.bpf.o"), &skipped);
            // A stack trace map left without a value size (the stack depth), as
            // libbpf-tools leave it to their user space: like libbpf, oxbpf sends no
            // guess; the kernel refuses it, and the error says what to set.
            let mut no_depth = spec.clone();
            no_depth.map_mut("stacks").unwrap().value_size = 0;
            let err = no_depth.load(&opts).unwrap_err().to_string();
            assert!(
                err.starts_with("map `stacks`: BPF_MAP_CREATE failed: Invalid argument")
                    && err.contains("(`obj.map_mut(\"stacks\")?.value_size = 1016`: 1016 keeps 127 frames of 8 bytes)"),
                "{err}"
            );
            // A prog array's initial slot naming a program left out is an error, as in
            // libbpf (which fails with EBADF on the slot).
            let err = crate::only(spec.clone(), &["xdp_maps"])
                .load(&opts)
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                "map `jump_table`: slot 0 names program `tail_a`, which is not loaded; load it too, or leave the map out"
            );
            let l = load_spec("maps_btf.bpf.o", &spec, &opts);
            assert_eq!(l.maps.len(), 14 - skipped.len());
            assert_eq!(l.map("stacks").unwrap().value_size(), 127 * 8);
            // What a tool sets before load: sizes and capacities.
            let mut sized = spec.clone();
            sized.map_mut("stacks").unwrap().value_size = 32 * 8;
            sized.map_mut("hash_map").unwrap().max_entries = 7;
            let s = load_spec("maps_btf.bpf.o", &sized, &opts);
            let info = s.map("stacks").unwrap().info().unwrap();
            assert_eq!(info.value_size, 32 * 8);
            assert_eq!(s.map("hash_map").unwrap().info().unwrap().max_entries, 7);
            drop(s);
            let prog = l.program("xdp_maps").unwrap();
            // Key 0 everywhere: tail call to jump_table[0] = tail_a, which passes.
            assert_eq!(prog.test_run(&packet(6, &[0; 20]), &[]).unwrap().retval, 2);
            let hash = l.map("hash_map").unwrap();
            assert_eq!(
                u64_at(&hash.lookup(&0u32.to_ne_bytes()).unwrap().unwrap(), 0),
                1
            );
            // outer[0] was initialised to inner_a: the program incremented inner_a[0].
            assert_eq!(
                u32_at(
                    &l.map("inner_a")
                        .unwrap()
                        .lookup(&0u32.to_ne_bytes())
                        .unwrap()
                        .unwrap(),
                    0
                ),
                1
            );
            assert_eq!(
                u32_at(
                    &l.map("inner_b")
                        .unwrap()
                        .lookup(&0u32.to_ne_bytes())
                        .unwrap()
                        .unwrap(),
                    0
                ),
                0
            );
            // Every run wrote its key to the ring buffer; each record is read once.
            let ring = l.map("ring").unwrap();
            let mut rb = oxbpf_maps::ringbuf::RingBuf::new(ring).unwrap();
            let mut records = Vec::new();
            assert_eq!(rb.consume(|r| records.push(r.to_vec())).unwrap(), 1);
            assert_eq!(records, [vec![0u8; 4]]);
            for _ in 0..3 {
                prog.test_run(&packet(6, &[0; 20]), &[]).unwrap();
            }
            assert_eq!(rb.consume(|r| assert_eq!(r, [0u8; 4])).unwrap(), 3);
            assert_eq!(rb.consume(|_| {}).unwrap(), 0);
            drop(rb);
            // The perf event array: one ring per CPU, each sample in its CPU's ring.
            use oxbpf_maps::perfbuf::{PerfBuf, PerfRecord};
            let perf = l.map("perf_events").unwrap();
            let cpus = oxbpf_sys::cpu::possible_cpus().unwrap();
            let mut pb = PerfBuf::new(perf, cpus, 8).unwrap();
            for _ in 0..3 {
                prog.test_run(&packet(6, &[0; 20]), &[]).unwrap();
            }
            let mut samples = Vec::new();
            pb.consume(|r| match r {
                PerfRecord::Sample { data, .. } => samples.push(data.to_vec()),
                PerfRecord::Lost { count, .. } => panic!("lost {count}"),
            });
            assert_eq!(samples, vec![vec![0u8; 4]; 3]);
            assert_eq!(pb.consume(|_| {}), 0);
            drop(pb);
            // The perf event array was sized to the possible CPUs.
            assert_eq!(
                l.map("perf_events").unwrap().max_entries(),
                oxbpf_sys::cpu::possible_cpus().unwrap()
            );
            // The queue got one element.
            assert_eq!(
                l.map("queue").unwrap().map_type(),
                oxbpf_sys::uapi::MapType::QUEUE
            );
            // The pinned map is in the bpffs, and a second load reuses it.
            let pinned = pin_root.join("pinned_counts");
            assert!(pinned.exists());
            l.map("pinned_counts")
                .unwrap()
                .update(&7u32.to_ne_bytes(), &9u32.to_ne_bytes(), 0)
                .unwrap();
            let again = load_spec("maps_btf.bpf.o", &spec, &opts);
            let v = again
                .map("pinned_counts")
                .unwrap()
                .lookup(&7u32.to_ne_bytes())
                .unwrap()
                .unwrap();
            assert_eq!(u32_at(&v, 0), 9, "the second load reused the pinned map");
            // A pinned map of another shape is refused, naming what differs.
            drop((l, again));
            std::fs::remove_file(&pinned).unwrap();
            let other = oxbpf_sys::uapi::MapCreateAttr {
                map_type: oxbpf_sys::uapi::MapType::HASH,
                key_size: 4,
                value_size: 8,
                max_entries: 16,
                ..Default::default()
            };
            let fd = oxbpf_sys::bpf::map_create(&other).unwrap();
            let c = std::ffi::CString::new(pinned.to_str().unwrap()).unwrap();
            oxbpf_sys::bpf::obj_pin(fd.as_fd(), &c).unwrap();
            let err = spec.load(&opts).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "map `pinned_counts`: pinned at {}: the pinned map is incompatible: its value size is 8, the object's is 4",
                    pinned.display()
                )
            );
        },
    );
}

#[test]
fn xdp_tools_objects_load_except_xdpdumps_placeholder() {
    let _serial = crate::serial();
    if !gate::require_bpf("xdp_tools_objects_load_except_xdpdumps_placeholder") {
        return;
    }
    let dir = Path::new("/usr/lib/x86_64-linux-gnu/bpf");
    if !dir.exists() {
        gate::skip(
            "xdp_tools_objects_load_except_xdpdumps_placeholder",
            "xdp-tools is not installed (apt-get install xdp-tools)",
        );
        return;
    }
    in_private_bpffs(
        "load::xdp_tools_objects_load_except_xdpdumps_placeholder",
        |pin_root| {
            let mut n = 0;
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let obj = Object::open(&path).unwrap();
                let opts = LoadOptions {
                    pin_root: pin_root.to_path_buf(),
                    keep_going: true,
                    ..Default::default()
                };
                let result = obj.load(&opts);
                if path.ends_with("xdpdump_bpf.o") {
                    let msg = crate::chain(&result.unwrap_err());
                    assert!(msg.contains("program `trace_on_entry`: the kernel has no function `func` to attach to"), "{msg}");
                    assert!(msg.contains("program `trace_on_exit`: the kernel has no function `func` to attach to"), "{msg}");
                } else {
                    let l = result
                        .unwrap_or_else(|e| panic!("{}: {}", path.display(), crate::chain(&e)));
                    assert!(
                        l.failures.is_empty() && !l.programs.is_empty(),
                        "{}",
                        path.display()
                    );
                }
                n += 1;
            }
            assert!(n >= 10);
        },
    );
}

#[test]
fn a_pin_lost_to_a_concurrent_load_is_shared_not_an_error() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let _serial = crate::serial();
    if !gate::require_bpf("a_pin_lost_to_a_concurrent_load_is_shared_not_an_error") {
        return;
    }
    static IN_WINDOW: AtomicBool = AtomicBool::new(false);
    static OTHER_DONE: AtomicBool = AtomicBool::new(false);
    static FIRST: AtomicBool = AtomicBool::new(true);
    // The first load to reach the window (A) waits there until the other (B) has
    // created and pinned its map: A then finds the path taken.
    fn hold_the_first(_: &Path) {
        if FIRST.swap(false, Ordering::SeqCst) {
            IN_WINDOW.store(true, Ordering::SeqCst);
            while !OTHER_DONE.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
    in_private_bpffs(
        "load::a_pin_lost_to_a_concurrent_load_is_shared_not_an_error",
        |pin_root| {
            let opts = LoadOptions {
                pin_root: pin_root.to_path_buf(),
                ..Default::default()
            };
            let spec = crate::skip_maps(
                // (tail_a and tail_b fill jump_table's initial slots.)
                crate::only(open("maps_btf.bpf.o"), &["stack_user", "tail_a", "tail_b"]),
                &crate::newer_maps("maps_btf.bpf.o"),
            );
            *oxbpf_loader::load::PIN_WINDOW_HOOK.lock().unwrap() = Some(hold_the_first);
            let (a_spec, a_opts) = (spec.clone(), opts.clone());
            let a = std::thread::spawn(move || a_spec.load(&a_opts));
            while !IN_WINDOW.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let b = load_spec("maps_btf.bpf.o", &spec, &opts);
            OTHER_DONE.store(true, Ordering::SeqCst);
            let a = a
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("the load that lost the race: {}", crate::chain(&e)));
            *oxbpf_loader::load::PIN_WINDOW_HOOK.lock().unwrap() = None;
            let id = |l: &Loaded| l.map("pinned_counts").unwrap().info().unwrap().id;
            let c =
                std::ffi::CString::new(pin_root.join("pinned_counts").to_str().unwrap()).unwrap();
            let pinned = oxbpf_sys::bpf::obj_get(&c, 0).unwrap();
            let pinned_id = oxbpf_sys::bpf::map_info(pinned.as_fd()).unwrap().id;
            assert_eq!(id(&b), pinned_id, "the winner pinned its map");
            assert_eq!(id(&a), pinned_id, "the loser shares the winner's map");
        },
    );
}

#[test]
fn failed_loads_close_every_fd_they_opened() {
    let _serial = crate::serial();
    if !gate::require_bpf("failed_loads_close_every_fd_they_opened") {
        return;
    }
    let before = open_fd_count().unwrap();
    // Fails in program load, after maps were created: a tracepoint program loaded as
    // XDP, which may not call its helpers (bpf_get_current_pid_tgid), on every kernel.
    // (progtypes_trace.bpf.o was used, until a kernel loaded all of it: arm64 7.3.)
    let mut obj = open("bootstrap.bpf.o");
    obj.program_mut("handle_exec").unwrap().prog_type = Some(oxbpf_sys::uapi::ProgType::XDP);
    let err = obj.load(&LoadOptions::default()).unwrap_err();
    assert!(
        crate::chain(&err).contains("program `handle_exec`"),
        "{}",
        crate::chain(&err)
    );
    // Fails in map creation, after the first map: a ring buffer of no size.
    let mut obj = open("bootstrap.bpf.o");
    obj.map_mut("rb").unwrap().max_entries = 0;
    let err = obj.load(&LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("map `rb`: BPF_MAP_CREATE failed: Invalid argument"),
        "{err}"
    );
    // Fails in relocation against a BTF without the needed fields, after BTF load.
    let btf = oxbpf_loader::btf::Btf::from_file(&crate::testdata("btf/old_kernel.btf")).unwrap();
    let opts = LoadOptions {
        core_btf: Some(std::sync::Arc::new(btf)),
        ..Default::default()
    };
    assert!(
        Object::open(crate::testdata("core.bpf.o"))
            .unwrap()
            .load(&opts)
            .is_err()
    );
    // Fails pinning a map, after creating the maps before it.
    let err = crate::skip_maps(open("maps_btf.bpf.o"), &crate::newer_maps("maps_btf.bpf.o"))
        .load(&LoadOptions {
            pin_root: "/nonexistent".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent does not exist, and / is not a bpffs to create it in"),
        "{err}"
    );
    // Successful loads, dropped.
    drop(load("sockex1.bpf.o", &LoadOptions::default()));
    drop(load("xdp_stats_legacy.bpf.o", &LoadOptions::default()).programs);
    assert_eq!(open_fd_count().unwrap(), before);
}

/// Runs `f` with a bpffs mounted in a private mount namespace: the test re-runs itself
/// under `unshare --mount`, and the inner run mounts a bpffs on a temporary directory,
/// so the machine's own mounts never change.
fn in_private_bpffs(test: &str, f: impl FnOnce(&Path)) {
    let dir = std::env::temp_dir().join(format!("oxbpf-bpffs-{}", std::process::id()));
    let inside = std::env::var_os("OXBPF_TEST_INNER").is_some();
    if !inside {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mount_bpffs = || {
        // The inner run: the parent's pid names the directory.
        let dir = std::ffi::CString::new(std::env::var("OXBPF_TEST_DIR").unwrap()).unwrap();
        // SAFETY: mount(2) with NUL-terminated strings and no data.
        let rc = unsafe {
            libc::mount(
                c"bpf".as_ptr(),
                dir.as_ptr(),
                c"bpf".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(
            rc,
            0,
            "mounting a bpffs: {}",
            std::io::Error::last_os_error()
        );
    };
    if crate::rerun_unshared(test, libc::CLONE_NEWNS, mount_bpffs) {
        f(Path::new(&std::env::var("OXBPF_TEST_DIR").unwrap()));
        return;
    }
    let _ = std::fs::remove_dir(&dir);
}

/// A box without the kernel's BTF (no CONFIG_DEBUG_INFO_BTF, a chroot, a container
/// without /sys): programs with CO-RE relocations are refused, naming the first, never
/// loaded as compiled; programs without any load; a BTF given instead is used.
#[test]
fn without_the_kernels_btf_co_re_programs_are_refused_and_the_others_load() {
    let _serial = crate::serial();
    if !gate::require_bpf("without_the_kernels_btf_co_re_programs_are_refused_and_the_others_load")
    {
        return;
    }
    in_private_bpffs(
        "load::without_the_kernels_btf_co_re_programs_are_refused_and_the_others_load",
        |pin_root| {
            // Kept for the last step, then hidden under an empty tmpfs (this mount
            // namespace is the test's own).
            let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
            // SAFETY: mount(2) with NUL-terminated constant strings and no data.
            let rc = unsafe {
                libc::mount(
                    c"none".as_ptr(),
                    c"/sys/kernel/btf".as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null(),
                )
            };
            assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
            assert!(!Path::new("/sys/kernel/btf/vmlinux").exists());

            let before = open_fd_count().unwrap();
            let err = Object::open(crate::testdata("bootstrap.bpf.o"))
                .unwrap()
                .load(&LoadOptions::default())
                .unwrap_err();
            let LoadError::NoCoreTarget(n) = &err else {
                panic!("{}", crate::chain(&err));
            };
            assert_eq!(
                (
                    n.prog.as_str(),
                    n.function.as_str(),
                    n.relocation.as_str(),
                    n.kind.as_str()
                ),
                (
                    "handle_exec",
                    "handle_exec",
                    "struct task_struct.real_parent",
                    "byte_off"
                )
            );
            let msg = err.to_string();
            assert!(
                msg.contains("needs the kernel's BTF, which cannot be read (cannot read /sys/kernel/btf/vmlinux")
                    && msg.contains("Give this kernel's BTF (LoadOptions::core_btf)"),
                "{msg}"
            );
            assert_eq!(open_fd_count().unwrap(), before, "fds left by the refusal");

            // No CO-RE at all: loads as before.
            load("minimal.bpf.o", &LoadOptions::default());

            // One object, both kinds: the program with CO-RE is refused, the rest load.
            let l = load_spec(
                "maps_btf.bpf.o",
                &crate::skip_maps(open("maps_btf.bpf.o"), &crate::newer_maps("maps_btf.bpf.o")),
                &LoadOptions {
                    pin_root: pin_root.to_path_buf(),
                    keep_going: true,
                    ..Default::default()
                },
            );
            let mut loaded: Vec<&str> = l.programs.iter().map(|p| p.name()).collect();
            loaded.sort();
            assert_eq!(loaded, ["stack_user", "tail_a", "tail_b"]);
            assert_eq!(l.failures.len(), 1);
            assert_eq!(l.failures[0].name, "xdp_maps");
            assert!(
                matches!(&l.failures[0].error, LoadError::NoCoreTarget(n)
                    if n.relocation == "enum bpf_map_type::BPF_MAP_TYPE_BLOOM_FILTER"),
                "{}",
                crate::chain(&l.failures[0].error)
            );
            assert!(l.core.iter().all(|o| o.unapplied()));
            drop(l);

            // The kernel's BTF given another way: every relocation applied.
            let btf = oxbpf_loader::btf::Btf::parse(vmlinux).unwrap();
            let l = load(
                "bootstrap.bpf.o",
                &LoadOptions {
                    core_btf: Some(std::sync::Arc::new(btf)),
                    ..Default::default()
                },
            );
            assert!(!l.core.is_empty() && l.core.iter().all(|o| !o.unapplied()));
        },
    );
}

#[test]
fn an_object_of_the_other_byte_order_is_refused_before_anything_is_created() {
    let _serial = crate::serial();
    let before = open_fd_count().unwrap();
    let obj = Object::open(crate::testdata("multi_prog.bpfeb.o")).unwrap();
    let err = obj.load(&LoadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the object is big-endian, but this kernel runs little-endian programs; rebuild it for this machine (clang --target=bpf picks the host's byte order)"
    );
    assert_eq!(open_fd_count().unwrap(), before);
}

/// Why a program of an object built elsewhere may fail here, when the failure is this
/// kernel's (or the object's) and not oxbpf's: no BPF trampolines; an attach target
/// the kernel lacks (renamed, or a placeholder the tool sets at run time); a CO-RE
/// relocation against a field this kernel renamed, reached without a guard (libbpf
/// fails the same way). `None` for anything else.
fn explained_here(e: &LoadError) -> Option<&'static str> {
    match e {
        LoadError::Program(r)
            if r.explanation
                .as_deref()
                .is_some_and(|x| x.contains("trampolines")) =>
        {
            Some("needs BPF trampolines")
        }
        LoadError::Program(r)
            if r.explanation
                .as_deref()
                .is_some_and(|x| x.contains(": CO-RE relocation `")) =>
        {
            Some("CO-RE field this kernel renamed")
        }
        LoadError::AttachTarget { why, .. } if why.starts_with("the kernel has no function") => {
            Some("attach target not in this kernel")
        }
        LoadError::Program(r)
            if r.explanation
                .as_deref()
                .is_some_and(|x| x.contains("but it has no address")) =>
        {
            Some("attach target inlined in this kernel")
        }
        _ => None,
    }
}

/// The files a Debian package installed, from dpkg's list (empty if not installed).
fn package_files(package: &str) -> Vec<PathBuf> {
    std::fs::read_to_string(format!("/var/lib/dpkg/info/{package}.list"))
        .map(|l| {
            l.lines()
                .map(PathBuf::from)
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn libbpf_tools_objects_embedded_in_their_binaries_load() {
    let _serial = crate::serial();
    let test = "libbpf_tools_objects_embedded_in_their_binaries_load";
    if !gate::require_bpf(test) {
        return;
    }
    let tools: Vec<PathBuf> = package_files("libbpf-tools")
        .into_iter()
        .filter(|p| p.starts_with("/usr/sbin"))
        .collect();
    if tools.is_empty() {
        gate::skip(
            test,
            "libbpf-tools is not installed (apt-get install libbpf-tools)",
        );
        return;
    }
    let (mut whole, mut partial, mut explained) = (0, 0, Vec::new());
    for tool in &tools {
        let data = std::fs::read(tool).unwrap();
        let found = oxbpf_loader::embedded::find_objects(&data);
        assert_eq!(found.len(), 1, "{}: one skeleton object", tool.display());
        let name = tool.file_name().unwrap().to_string_lossy().to_string();
        let mut obj = Object::parse(&name, found[0].1).unwrap();
        for m in &mut obj.maps {
            // What the tools' user space does first: size the maps it leaves at 0
            // (libbpf-tools use 10240 entries).
            if m.max_entries == 0 && m.map_type != oxbpf_sys::uapi::MapType::PERF_EVENT_ARRAY {
                m.max_entries = 10240;
            }
            // And the stack depth of their stack trace maps (127 frames by default).
            if m.map_type == oxbpf_sys::uapi::MapType::STACK_TRACE && m.value_size == 0 {
                m.value_size = 127 * 8;
            }
        }
        let n = obj.programs.len();
        let opts = LoadOptions {
            keep_going: true,
            ..Default::default()
        };
        let failures: Vec<LoadError> = match obj.load(&opts) {
            Ok(l) if l.failures.is_empty() => {
                assert_eq!(l.programs.len(), n, "{name}");
                whole += 1;
                continue;
            }
            Ok(l) => {
                partial += 1;
                l.failures.into_iter().map(|f| f.error).collect()
            }
            Err(LoadError::NothingLoaded(f)) => f.into_iter().map(|f| f.error).collect(),
            // A lone failing program is reported as itself.
            Err(e) => vec![e],
        };
        for e in failures {
            let why = explained_here(&e).unwrap_or_else(|| panic!("{name}: {}", crate::chain(&e)));
            explained.push(format!("{name}: {why}"));
        }
    }
    eprintln!(
        "libbpf-tools: {whole} of {} load whole, {partial} in part; explained failures:",
        tools.len()
    );
    explained.dedup();
    for e in &explained {
        eprintln!("  {e}");
    }
    assert!(
        tools.len() >= 50 && whole >= 35,
        "{whole} of {}",
        tools.len()
    );
}

#[test]
fn cilium_ebpf_test_objects_load_or_fail_for_their_stated_reason() {
    let _serial = crate::serial();
    let test = "cilium_ebpf_test_objects_load_or_fail_for_their_stated_reason";
    if !gate::require_bpf(test) {
        return;
    }
    let objects: Vec<PathBuf> = package_files("golang-github-cilium-ebpf-dev")
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with("-el.elf"))
        .collect();
    if objects.is_empty() {
        gate::skip(test, "golang-github-cilium-ebpf-dev is not installed");
        return;
    }
    // Objects cilium/ebpf's own tests expect to fail, and what we say.
    let expected: [(&str, &str); 9] = [
        (
            "relocs-el.elf",
            // The rest of the sentence depends on the kernel: "no field `_1` in target
            // struct s" where some struct of the kernel is named `s` (6.18), "no struct
            // named `s` in vmlinux" where none is.
            "program `fields` (socket_filter/fields): the verifier rejected it: invalid func unknown#195896080; insn 3: CO-RE relocation `struct s._1` (byte_off) failed: no ",
        ),
        (
            "relocs_read-el.elf",
            "CO-RE relocation `struct s.a` (byte_off) failed: no ",
        ),
        (
            "freplace-el.elf",
            "program `replacement`: freplace programs need a target program",
        ),
        (
            "fwd_decl-el.elf",
            "extern `fwd`: used but defined nowhere in this object",
        ),
        (
            "loader-el.elf",
            "extern `MY_CONST`: used but defined nowhere in this object",
        ),
        (
            "loader-clang-9-el.elf",
            "extern `MY_CONST`: used but defined nowhere in this object",
        ),
        (
            "loader-clang-14-el.elf",
            "extern `MY_CONST`: used but defined nowhere in this object",
        ),
        // Built by clang 7, whose functions have no size: what no function covers is
        // skipped, as libbpf skips it, and the rest fails as the others do.
        (
            "loader-clang-7-el.elf",
            "extern `MY_CONST`: used but defined nowhere in this object",
        ),
        (
            "strings-el.elf",
            "the object's license is \"MIT\", and the kernel lets only GPL-compatible programs",
        ),
    ];
    let mut loaded = 0;
    for path in &objects {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let obj = Object::open(path).unwrap_or_else(|e| panic!("{name}: {}", crate::chain(&e)));
        let result = obj.load(&LoadOptions {
            keep_going: true,
            ..Default::default()
        });
        let messages: Vec<String> = match &result {
            Ok(l) => l.failures.iter().map(|f| crate::chain(&f.error)).collect(),
            Err(e) => vec![crate::chain(e)],
        };
        // A bpf_loop callback (BPF_PSEUDO_FUNC) needs 5.13.
        if name == "subprog_reloc-el.elf" && !crate::kernel_since(5, 13) {
            assert!(
                messages.len() == 1
                    && messages[0].ends_with("it passes a function by address (a callback, BPF_PSEUDO_FUNC), which this kernel does not know (Linux 5.13)"),
                "{name}: {messages:?}"
            );
            continue;
        }
        match expected.iter().find(|(n, _)| *n == name) {
            Some((_, want)) => assert!(
                messages.len() == 1 && messages[0].contains(want),
                "{name}: {messages:?}"
            ),
            None => {
                assert!(messages.is_empty(), "{name}: {messages:?}");
                loaded += 1;
            }
        }
    }
    assert!(loaded >= 8, "{loaded}");
}

#[test]
fn btf_kinds_the_kernel_lacks_are_rewritten_and_the_program_runs() {
    let _serial = crate::serial();
    if !gate::require_bpf("btf_kinds_the_kernel_lacks_are_rewritten_and_the_program_runs") {
        return;
    }
    // DECL_TAG, TYPE_TAG, ENUM64, a signed enum and FLOAT: 5.10 has none of them, 6.1
    // all but the `?` DATASEC rename. Whatever this kernel lacks is rewritten before
    // BPF_BTF_LOAD; the object must load and its program run the same.
    let missing = oxbpf_loader::probe::btf_features()
        .unwrap()
        .sanitize_options();
    assert_eq!(missing.no_decl_tag, !crate::kernel_since(5, 16));
    assert_eq!(missing.no_type_tag, !crate::kernel_since(5, 17));
    assert_eq!(missing.no_enum64, !crate::kernel_since(6, 0));
    assert_eq!(missing.no_float, !crate::kernel_since(5, 13));
    let obj = Object::open(crate::testdata("btf_kinds.bpf.o")).unwrap();
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let ret = l
        .program("kinds")
        .unwrap()
        .test_run(&packet(6, &[0; 20]), &[])
        .unwrap()
        .retval;
    assert_eq!(ret, 2, "XDP_PASS");
    let seen = global(&obj, &l, "seen");
    assert_eq!(u32_at(&seen, 0), 2, "add_one(1)");
    assert_eq!(u64_at(&seen, 24), 0x1_0000_0000, "the enum64 value");
    assert_eq!(u32_at(&seen, 32) as i32, -1, "the signed enum value");
}

#[test]
fn a_map_left_out_poisons_its_uses_and_is_named_when_one_is_reached() {
    let _serial = crate::serial();
    if !gate::require_bpf("a_map_left_out_poisons_its_uses_and_is_named_when_one_is_reached") {
        return;
    }
    let before = open_fd_count().unwrap();
    let mut obj = crate::only(
        crate::skip_maps(
            open("maps_more.bpf.o"),
            &crate::newer_maps("maps_more.bpf.o"),
        ),
        &["xdp_redirects", "msg_redirect"],
    );
    let skip = |names: &[&str]| crate::skip_maps(obj.clone(), names);
    // A map no program uses: everything loads without it.
    let l = skip(&["locked"]).load(&LoadOptions::default()).unwrap();
    assert!(l.map("locked").is_none() && l.map("dev_map").is_some());
    assert_eq!(l.programs.len(), 2);
    drop(l);
    // A map the verifier reaches a use of: that program fails, naming the map.
    let err = skip(&["dev_map"])
        .load(&LoadOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "program `xdp_redirects` (xdp): the verifier rejected it: invalid func unknown#2001000006; it uses map `dev_map`, which was not created (its autocreate was turned off before load)"
    );
    let err = obj.map_mut("nope").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no map `nope`; its maps: percpu_hash, lru_percpu_hash, value_stack, hash_of_maps, on_node_zero, a_map_with_a_very_long_name, dev_map, dev_hash, cpu_map, xsk_map, sk_store, cgroups, sock_hash, sock_map, task_store, inode_store, cgrp_store, odd_ring, odd_user_ring, locked",
            obj.name
        )
    );
    assert_eq!(open_fd_count().unwrap(), before);
}

#[test]
fn every_other_map_type_is_created_and_used() {
    let _serial = crate::serial();
    if !gate::require_bpf("every_other_map_type_is_created_and_used") {
        return;
    }
    use oxbpf_sys::uapi::MapType;
    // Map types newer than this kernel are left out (libbpf's autocreate off); the
    // programs that use them then fail, saying which map they lack.
    let newer = crate::newer_maps("maps_more.bpf.o");
    let l = crate::skip_maps(open("maps_more.bpf.o"), &newer)
        .load(&LoadOptions {
            keep_going: true,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let failed: Vec<String> = l.failures.iter().map(|f| crate::chain(&f.error)).collect();
    if newer.contains(&"task_store".to_string()) {
        assert!(
            failed.len() == 1
                && failed[0].contains("`storage_on_fork`")
                && failed[0].contains("it uses map `task_store`, which was not created"),
            "{failed:?}"
        );
    } else {
        assert!(failed.is_empty(), "{failed:?}");
    }
    let expect = [
        ("percpu_hash", MapType::PERCPU_HASH),
        ("lru_percpu_hash", MapType::LRU_PERCPU_HASH),
        ("value_stack", MapType::STACK),
        ("hash_of_maps", MapType::HASH_OF_MAPS),
        ("cgroups", MapType::CGROUP_ARRAY),
        ("task_store", MapType::TASK_STORAGE),
        ("sk_store", MapType::SK_STORAGE),
        ("inode_store", MapType::INODE_STORAGE),
        ("cgrp_store", MapType::CGRP_STORAGE),
        ("sock_map", MapType::SOCKMAP),
        ("sock_hash", MapType::SOCKHASH),
        ("dev_map", MapType::DEVMAP),
        ("dev_hash", MapType::DEVMAP_HASH),
        ("cpu_map", MapType::CPUMAP),
        ("xsk_map", MapType::XSKMAP),
    ];
    for (name, t) in expect {
        if newer.iter().any(|n| n == name) {
            assert!(l.map(name).is_none(), "{name} was not to be created");
            continue;
        }
        let m = l.map(name).unwrap_or_else(|| panic!("no map {name}"));
        let info = m.info().unwrap();
        assert_eq!(info.map_type, t, "{name}");
        if matches!(
            name,
            "task_store" | "sk_store" | "inode_store" | "cgrp_store"
        ) {
            assert_ne!(info.btf_value_type_id, 0, "{name}: storage maps need BTF");
            assert_eq!(info.map_flags & 1, 1, "{name}: BPF_F_NO_PREALLOC");
        }
    }
    // Ring buffers of 1000 and 8 bytes: rounded up to one page, as libbpf does (the
    // kernel wants a power-of-2 multiple of the page size).
    let page = oxbpf_sys::mmap::page_size() as u32;
    for name in ["odd_ring", "odd_user_ring"] {
        if newer.iter().any(|n| n == name) {
            continue;
        }
        let info = l.map(name).unwrap().info().unwrap();
        assert_eq!(info.max_entries, page, "{name}");
    }
    // The kernel keeps 15 bytes of a name; the handle keeps the object's.
    let long = l.map("a_map_with_a_very_long_name").unwrap();
    assert_eq!(
        oxbpf_sys::uapi::name_str(&long.info().unwrap().name),
        "a_map_with_a_ve"
    );
    assert_eq!(
        l.map("on_node_zero").unwrap().info().unwrap().map_flags & 4,
        4,
        "BPF_F_NUMA_NODE"
    );
    assert_eq!(l.programs.len(), 5 - failed.len());

    // Empty xskmap: bpf_redirect_map falls back to its flags, XDP_PASS.
    let ret = l
        .program("xdp_redirects")
        .unwrap()
        .test_run(&packet(6, &[0; 20]), &[])
        .unwrap()
        .retval;
    assert_eq!(ret, 2);
    let per_cpu = l
        .map("percpu_hash")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(per_cpu.chunks(8).map(|c| u64_at(c, 0)).sum::<u64>(), 1);
    let top = l.map("value_stack").unwrap().lookup(&[]).unwrap().unwrap();
    assert_eq!(u64_at(&top, 0), 1, "peek at the stack");
    // A value with a bpf_spin_lock: written and read under the lock (BPF_F_LOCK).
    let locked = l.map("locked").unwrap();
    let mut v = vec![0u8; 16];
    v[8..].copy_from_slice(&5u64.to_ne_bytes());
    locked
        .update(&1u32.to_ne_bytes(), &v, oxbpf_maps::F_LOCK)
        .unwrap();
    let got = locked.lookup_locked(&1u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(u64_at(&got, 8), 5);
    let ctr = l
        .map("a_map_with_a_very_long_name")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(u64_at(&ctr, 0), 1);
}

#[test]
fn program_type_and_helper_probes_agree_with_this_kernel() {
    let _serial = crate::serial();
    if !gate::require_bpf("program_type_and_helper_probes_agree_with_this_kernel") {
        return;
    }
    use oxbpf_loader::probe::{helper_supported, map_type_supported, prog_type_supported};
    use oxbpf_sys::uapi::helpers::helper_id;
    use oxbpf_sys::uapi::{MapType, ProgType};
    // Each type is there exactly from the release that brought it.
    for (t, since) in [
        (ProgType::SOCKET_FILTER, (3, 19)),
        (ProgType::KPROBE, (4, 1)),
        (ProgType::SCHED_CLS, (4, 1)),
        (ProgType::TRACEPOINT, (4, 7)),
        (ProgType::XDP, (4, 8)),
        (ProgType::PERF_EVENT, (4, 9)),
        (ProgType::CGROUP_SKB, (4, 10)),
        (ProgType::CGROUP_SOCK_ADDR, (4, 17)),
        (ProgType::SK_MSG, (4, 17)),
        (ProgType::RAW_TRACEPOINT, (4, 17)),
        (ProgType::CGROUP_SOCKOPT, (5, 3)),
        (ProgType::STRUCT_OPS, (5, 6)),
        (ProgType::SK_LOOKUP, (5, 9)),
        (ProgType::SYSCALL, (5, 14)),
        (ProgType::NETFILTER, (6, 4)),
    ] {
        let here = crate::kernel_since(since.0, since.1);
        assert_eq!(
            prog_type_supported(t),
            Some(here),
            "{t} (Linux {}.{})",
            since.0,
            since.1
        );
    }
    // Map types, the local storages (probed with BTF) among them.
    for (t, since) in [
        (MapType::HASH, (3, 19)),
        (MapType::LPM_TRIE, (4, 11)),
        (MapType::DEVMAP_HASH, (5, 4)),
        (MapType::SK_STORAGE, (5, 2)),
        (MapType::INODE_STORAGE, (5, 10)),
        (MapType::TASK_STORAGE, (5, 11)),
        (MapType::RINGBUF, (5, 8)),
        (MapType::BLOOM_FILTER, (5, 16)),
        (MapType::USER_RINGBUF, (6, 1)),
        (MapType::CGRP_STORAGE, (6, 2)),
    ] {
        let here = crate::kernel_since(since.0, since.1);
        assert_eq!(
            map_type_supported(t),
            Some(here),
            "{t} (Linux {}.{})",
            since.0,
            since.1
        );
    }
    // Tracing programs: supported exactly when an fentry program loads (this kernel
    // refuses them with EPERM: no BPF trampolines).
    let fentry = crate::only(open("progtypes_trace.bpf.o"), &["fentry_unlinkat"])
        .load(&LoadOptions::default());
    assert_eq!(prog_type_supported(ProgType::TRACING), Some(fentry.is_ok()));
    assert_eq!(prog_type_supported(ProgType::UNSPEC), Some(false));
    assert_eq!(prog_type_supported(ProgType(4242)), Some(false));

    let h = |n: &str| helper_id(n).unwrap();
    assert_eq!(
        helper_supported(ProgType::SOCKET_FILTER, h("map_lookup_elem")),
        Some(true)
    );
    assert_eq!(
        helper_supported(ProgType::XDP, h("redirect_map")),
        Some(true)
    );
    assert_eq!(
        helper_supported(ProgType::KPROBE, h("probe_read_kernel")),
        Some(true)
    );
    // Helpers of other program types, and ids no kernel has.
    assert_eq!(
        helper_supported(ProgType::SOCKET_FILTER, h("xdp_adjust_head")),
        Some(false)
    );
    assert_eq!(
        helper_supported(ProgType::CGROUP_SKB, h("skb_under_cgroup")),
        Some(false)
    );
    assert_eq!(helper_supported(ProgType::XDP, 4242), Some(false));
    // Types that need an attach target cannot be asked.
    assert_eq!(helper_supported(ProgType::TRACING, 1), None);
    // Every bpf_link kind from the release that brought it; netkit only when built in
    // (the probe must agree with the kernel's configuration).
    let config = oxbpf_loader::externs::KernelConfig::load().unwrap();
    let netkit = config.get("CONFIG_NETKIT") == Some("y");
    let kinds = oxbpf_loader::probe::link_kinds().unwrap();
    assert_eq!(
        kinds,
        oxbpf_loader::probe::LinkKinds {
            cgroup: crate::kernel_since(5, 7),
            xdp: crate::kernel_since(5, 9),
            perf_event: crate::kernel_since(5, 15),
            netns: crate::kernel_since(5, 8),
            tcx: crate::kernel_since(6, 6),
            sockmap: crate::kernel_since(6, 10),
            netkit,
        }
    );
}

#[test]
fn a_helper_this_kernel_lacks_is_named() {
    let _serial = crate::serial();
    if !gate::require_bpf("a_helper_this_kernel_lacks_is_named") {
        return;
    }
    let obj = Object::open(crate::testdata("refused.bpf.o")).unwrap();
    // Nothing in it loads unless asked.
    let none = obj.load(&LoadOptions::default()).unwrap();
    assert!(none.programs.is_empty() && none.failures.is_empty());
    let err = crate::only(obj, &["future_helper"])
        .load(&LoadOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "program `future_helper` (?socket): the verifier rejected it: invalid func unknown#4242; helper #4242 is not a BPF helper any kernel defines"
    );
}

#[test]
fn an_attach_target_in_a_named_module_is_looked_for_there() {
    let _serial = crate::serial();
    if !gate::require_bpf("an_attach_target_in_a_named_module_is_looked_for_there") {
        return;
    }
    let err = crate::only(open("refused.bpf.o"), &["in_absent_module"])
        .load(&LoadOptions::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "program `in_absent_module`: module oxbpf_no_such_module has no function `oxbpf_func` to attach to (looked for func `oxbpf_func` in its BTF; is the module loaded?)"
    );
}

#[test]
fn kernel_btf_objects_are_found_by_name_for_fd_array() {
    let _serial = crate::serial();
    if !gate::require_bpf("kernel_btf_objects_are_found_by_name_for_fd_array") {
        return;
    }
    use oxbpf_loader::modules::{ModuleFdError, ModuleFds};
    let before = open_fd_count().unwrap();
    if !crate::kernel_since(5, 11) {
        // BTF objects have names (and modules BTF) since 5.11: before, none is found,
        // and none is needed (kfuncs, the reason for fd_array, came in 5.13).
        let err = ModuleFds::default().index_of("vmlinux").unwrap_err();
        assert_eq!(
            err.to_string(),
            "module vmlinux: this kernel does not name its BTF objects (Linux 5.11), so none can be found by name"
        );
        assert_eq!(open_fd_count().unwrap(), before);
        return;
    }
    {
        let mut fds = ModuleFds::default();
        // vmlinux is found by the same walk as modules.
        assert_eq!(fds.index_of("vmlinux").unwrap(), 1);
        assert_eq!(fds.index_of("vmlinux").unwrap(), 1, "opened once");
        let array = fds.fd_array();
        assert_eq!((array.len(), array[0]), (2, 0));
        let fd = fds.fd("vmlinux").unwrap();
        let (id, name, kernel) = oxbpf_sys::bpf::btf_info_named(fd).unwrap();
        assert!(
            id > 0 && kernel && name == "vmlinux",
            "{id} {name} {kernel}"
        );
        let err = fds.index_of("no_such_module").unwrap_err();
        assert!(matches!(err, ModuleFdError::NotFound(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "module no_such_module: the kernel lists no BTF object of that name (was it unloaded?)"
        );
    }
    assert_eq!(
        open_fd_count().unwrap(),
        before,
        "every BTF fd opened by the walk is closed"
    );
}

#[test]
fn globals_are_read_and_written_by_name_while_programs_run() {
    let _serial = crate::serial();
    if !gate::require_bpf("globals_are_read_and_written_by_name_while_programs_run") {
        return;
    }
    let l = with_mystery_typed().load(&LoadOptions::default()).unwrap();
    let bpf_map_mappings = || {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .matches("anon_inode:bpf-map")
            .count()
    };
    let before = bpf_map_mappings();
    assert_eq!(l.global("rodata_limit").unwrap(), 7i32.to_ne_bytes());
    assert_eq!(l.global("bss_hits").unwrap(), 0u32.to_ne_bytes());
    l.set_global("bss_hits", &40u32.to_ne_bytes()).unwrap();
    // xdp_first calls global_bump, which counts in bss_hits.
    l.program("xdp_first")
        .unwrap()
        .test_run(&packet(6, &[0; 20]), &[])
        .unwrap();
    assert_eq!(l.global("bss_hits").unwrap(), 41u32.to_ne_bytes());
    // Read and written in place: .rodata and .bss are each mapped once, on first use.
    assert_eq!(bpf_map_mappings(), before + 2);
    assert_eq!(
        l.map("multi_pr.bss")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap()
            .unwrap()[..4],
        41u32.to_ne_bytes(),
        "the map itself holds what was written through the mapping"
    );
    assert_eq!(
        l.set_global("rodata_limit", &1i32.to_ne_bytes())
            .unwrap_err()
            .to_string(),
        "global variable `rodata_limit`: is in .rodata, which is read-only once loaded; set it before load"
    );
    assert_eq!(
        l.set_global("bss_hits", &[1]).unwrap_err().to_string(),
        "global variable `bss_hits`: is 4 bytes, the value given is 1"
    );
    assert_eq!(
        l.global("nope").unwrap_err().to_string(),
        "global variable `nope`: no such global variable"
    );
    drop(l);
    assert_eq!(bpf_map_mappings(), before, "unmapped with the maps");
}

#[test]
fn struct_ops_maps_get_the_kernels_value_and_their_programs_load_for_its_members() {
    let _serial = crate::serial();
    if !gate::require_bpf(
        "struct_ops_maps_get_the_kernels_value_and_their_programs_load_for_its_members",
    ) {
        return;
    }
    use oxbpf_loader::btf::{Btf, Kind};
    let obj = open("struct_ops.bpf.o");
    if !crate::kernel_since(6, 4) {
        // The link map is refused, saying why; the plain one needs kfunc calls from
        // struct_ops programs (5.13).
        let err = obj.load(&LoadOptions::default()).unwrap_err().to_string();
        assert!(
            err.starts_with("map `oxcc`: BPF_MAP_CREATE failed: Invalid argument")
                && err.contains("(.struct_ops.link, BPF_F_LINK) need Linux 6.4"),
            "{err}"
        );
        if crate::kernel_since(5, 13) {
            let plain = crate::skip_maps(obj, &["oxcc"]);
            let l = load_spec("struct_ops.bpf.o", &plain, &LoadOptions::default());
            assert_eq!(l.programs.len(), 3, "oxcc_init is only oxcc's");
            assert_eq!(l.struct_ops.len(), 1);
        }
        return;
    }
    let l = load_spec("struct_ops.bpf.o", &obj, &LoadOptions::default());
    assert_eq!(l.programs.len(), 4);
    // The value is the kernel's wrapper, bpf_struct_ops_tcp_congestion_ops.
    let vmlinux = Btf::from_sysfs().unwrap();
    let wrapper = vmlinux
        .type_by_id(
            vmlinux
                .find("bpf_struct_ops_tcp_congestion_ops", Kind::Struct)
                .unwrap(),
        )
        .unwrap();
    let kstruct_id = vmlinux.find("tcp_congestion_ops", Kind::Struct).unwrap();
    let data_off = wrapper
        .members()
        .unwrap()
        .map(Result::unwrap)
        .find(|m| m.type_id == kstruct_id)
        .unwrap()
        .bit_offset as usize
        / 8;
    let kstruct = vmlinux.type_by_id(kstruct_id).unwrap();
    let member = |name: &str| {
        let (i, m) = kstruct
            .members()
            .unwrap()
            .map(Result::unwrap)
            .enumerate()
            .find(|(_, m)| m.name == name)
            .unwrap();
        (i as u32, data_off + m.bit_offset as usize / 8)
    };
    for name in ["oxcc", "oxcc_plain"] {
        let map = l.map(name).unwrap();
        assert_eq!(map.map_type(), oxbpf_sys::uapi::MapType::STRUCT_OPS);
        assert_eq!(map.value_size(), wrapper.size());
        let info = map.info().unwrap();
        assert_eq!(info.btf_vmlinux_value_type_id, wrapper.id().0, "{name}");
    }
    let value = |name: &str| &l.struct_ops.iter().find(|v| v.map == name).unwrap().value;
    // Data members by name, in the kernel's layout; program fds at the pointers.
    let (_, name_at) = member("name");
    assert_eq!(&value("oxcc")[name_at..name_at + 5], b"oxcc\0");
    assert_eq!(&value("oxcc_plain")[name_at..name_at + 11], b"oxcc_plain\0");
    assert!(l.struct_ops.iter().find(|v| v.map == "oxcc").unwrap().link);
    for (prog, field) in [
        ("oxcc_init", "init"),
        ("oxcc_cong_avoid", "cong_avoid"),
        ("oxcc_ssthresh", "ssthresh"),
        ("oxcc_undo_cwnd", "undo_cwnd"),
    ] {
        let p = l.program(prog).unwrap();
        let (_, at) = member(field);
        let fd = i64::from(std::os::fd::AsRawFd::as_raw_fd(&p.as_fd()));
        assert_eq!(value("oxcc")[at..at + 8], fd.to_ne_bytes(), "{prog}");
        // Loaded for the kernel struct and that member (libbpf's attach_btf_id and
        // expected_attach_type for struct_ops).
        let info = p.info().unwrap();
        assert_eq!(info.attach_btf_id, kstruct_id.0, "{prog}");
    }
    // `init` is not set in oxcc_plain: zero there.
    let (_, init_at) = member("init");
    assert_eq!(value("oxcc_plain")[init_at..init_at + 8], [0; 8]);
    drop(l);
    // Both maps left out: their programs are not loaded either (libbpf's autoload rule
    // for struct_ops programs), and the rest of the object loads.
    let l = load_spec(
        "struct_ops.bpf.o",
        &crate::skip_maps(obj, &["oxcc", "oxcc_plain"]),
        &LoadOptions::default(),
    );
    assert!(l.programs.is_empty() && l.struct_ops.is_empty());
    assert!(l.map("struct_o.bss").is_some());
}
