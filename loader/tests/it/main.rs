//! Integration tests of the loader against outside oracles and (later) the kernel.

use oxbpf_loader::prelude::*;
mod attach;
mod btf;
mod core_relo;
mod fuzz_regressions;
mod inventory;
mod leaks;
mod link;
mod load;
mod maps;
mod oracle;
mod token;
mod usdt;

/// Every test of this binary takes this lock first: tests that count the process's fds
/// need no other test opening or closing one meanwhile.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A file (or, with `""`, the directory) of the repository's testdata; for an object
/// whose code depends on the architecture, the build for the one these tests run on
/// (testdata/build.sh: `arm64/NAME.bpf.o` beside the x86_64 `NAME.bpf.o`).
fn testdata(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    if cfg!(target_arch = "aarch64") && !name.is_empty() {
        let arm64 = dir.join("arm64").join(name);
        if arm64.exists() {
            return arm64;
        }
    }
    dir.join(name)
}

/// Every top-level `*.bpf.o` of testdata, sorted, each the build for this architecture
/// (see [`testdata`]).
fn testdata_objects() -> Vec<std::path::PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir(testdata(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bpf.o"))
        .collect();
    names.sort();
    names.iter().map(|n| testdata(n)).collect()
}

/// An error and all its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut c = e.source();
    while let Some(x) = c {
        s = format!("{s}: {x}");
        c = x.source();
    }
    s
}

/// Whether the running kernel is at least `major.minor`: what tests expect of a feature
/// follows the mainline release it arrived in (the kernels the matrix boots are Debian's
/// builds of mainline stable releases).
fn kernel_since(major: u32, minor: u32) -> bool {
    oxbpf_sys::version::KernelVersion::current()
        .is_some_and(|v| (v.major, v.minor) >= (major, minor))
}

/// `obj` set to load exactly the programs named ([`oxbpf_loader::Object::load_only`]).
fn only<S: AsRef<str>>(mut obj: oxbpf_loader::Object, names: &[S]) -> oxbpf_loader::Object {
    obj.load_only(names)
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    obj
}

/// `obj` set not to create the maps named (libbpf's `bpf_map__set_autocreate(map,
/// false)`): each instruction that loads one is poisoned.
fn skip_maps<S: AsRef<str>>(mut obj: oxbpf_loader::Object, names: &[S]) -> oxbpf_loader::Object {
    for name in names {
        obj.map_mut(name.as_ref())
            .unwrap_or_else(|e| panic!("{}", chain(&e)))
            .autocreate = false;
    }
    obj
}

/// The maps of testdata object `object` of a type newer than this kernel, for
/// [`skip_maps`] (what a tool does with libbpf's autocreate).
fn newer_maps(object: &str) -> Vec<String> {
    let newer: &[(&str, (u32, u32))] = match object {
        "maps_btf.bpf.o" => &[("bloom", (5, 16))],
        "maps_more.bpf.o" => &[
            ("task_store", (5, 11)),
            ("cgrp_store", (6, 2)),
            ("odd_user_ring", (6, 1)),
        ],
        // struct_ops maps through links (BPF_F_LINK) came in 6.4; kfunc calls from
        // struct_ops programs (the tcp_reno_* ones here) in 5.13.
        "struct_ops.bpf.o" => &[("oxcc", (6, 4)), ("oxcc_plain", (5, 13))],
        _ => &[],
    };
    newer
        .iter()
        .filter(|(_, (major, minor))| !kernel_since(*major, *minor))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// testdata programs this kernel refuses: they need BPF trampolines, which it lacks
/// (EPERM with an empty verifier log).
const NEEDS_TRAMPOLINES: [&str; 5] = [
    "fentry_unlinkat",
    "fexit_unlinkat",
    "fmod_file_open",
    "fentry_sleepable",
    "lsm_file_open",
];

/// testdata programs older kernels refuse: the release that has what each needs, and
/// what the refusal must say (one of).
const NEWER_THAN_SOME_KERNELS: [(&str, (u32, u32), &[&str]); 6] = [
    (
        "xdp_frags_pass",
        (5, 18),
        &["xdp.frags programs (BPF_F_XDP_HAS_FRAGS, multi-buffer packets) need Linux 5.18"],
    ),
    (
        "core_bitfield_btf",
        (5, 11),
        &["this kernel has no helper bpf_get_current_task_btf"],
    ),
    (
        "xdp_second",
        (5, 17),
        &[
            "this kernel has no helper bpf_loop",
            "it passes a function by address (a callback, BPF_PSEUDO_FUNC), which this kernel does not know",
        ],
    ),
    (
        "callback_in_text",
        (5, 17),
        &[
            "this kernel has no helper bpf_loop",
            "it passes a function by address (a callback, BPF_PSEUDO_FUNC), which this kernel does not know",
        ],
    ),
    (
        "with_exception_callback",
        (6, 7),
        &["(an exception_callback decl tag), which kernels before Linux 6.7 do not know"],
    ),
    (
        "storage_on_fork",
        (5, 11),
        &["it uses map `task_store`, which was not created"],
    ),
];

/// Loads `obj` with `keep_going`; every program that fails must be one that needs BPF
/// trampolines (and may load on a kernel that has them), or one newer than this kernel
/// that says why.
fn load_all_but_trampolines(
    what: &str,
    obj: oxbpf_loader::Object,
    opts: oxbpf_loader::load::LoadOptions,
) -> oxbpf_loader::load::Loaded {
    let opts = oxbpf_loader::load::LoadOptions {
        keep_going: true,
        ..opts
    };
    let loaded = obj
        .load(&opts)
        .unwrap_or_else(|e| panic!("{what}: {}", chain(&e)));
    for f in &loaded.failures {
        let why = chain(&f.error);
        if let Some((_, since, says)) = NEWER_THAN_SOME_KERNELS
            .iter()
            .find(|(name, ..)| *name == f.name)
        {
            assert!(
                !kernel_since(since.0, since.1) && says.iter().any(|s| why.contains(s)),
                "{what}: `{}` failed: {why}",
                f.name
            );
            continue;
        }
        // Sleepable fentry needs the target on the error-injection list as well: without
        // it, the kernel refuses the target (or, 5.10, has no BTF for syscall entries).
        let no_error_injection = || {
            oxbpf_loader::externs::KernelConfig::load()
                .is_ok_and(|c| c.get("CONFIG_FUNCTION_ERROR_INJECTION") != Some("y"))
        };
        if f.name == "fentry_sleepable"
            && (why.ends_with("is not sleepable")
                || why.contains(&format!(
                    "the kernel has no function `{}`",
                    attach::GETPPID_ENTRY
                )))
        {
            assert!(no_error_injection(), "{what}: {why}");
            continue;
        }
        assert!(
            NEEDS_TRAMPOLINES.contains(&f.name.as_str()) && !attach::expected("trampolines"),
            "{what}: `{}` failed: {}",
            f.name,
            chain(&f.error)
        );
    }
    loaded
}

/// Runs test `test` again, in a child process in new namespaces (`flags`: `CLONE_NEWNET`,
/// `CLONE_NEWNS`, made with unshare(2) between fork and exec, so no `unshare` tool is
/// needed — the kernel-matrix guests have only busybox), and checks that it passed there.
/// Returns `true` in that inner run, after `setup` (the caller then does the work inside
/// the new namespaces) and `false` in the outer one. A new mount namespace is made
/// private first, so the machine's own mounts and network never change.
/// `OXBPF_TEST_DIR` is passed down: the outer run's temporary directory for the test.
fn rerun_unshared(test: &str, flags: libc::c_int, setup: impl FnOnce()) -> bool {
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os("OXBPF_TEST_INNER").is_some() {
        setup();
        return true;
    }
    let dir = std::env::var("OXBPF_TEST_DIR").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join(format!("oxbpf-bpffs-{}", std::process::id()))
            .display()
            .to_string()
    });
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env("OXBPF_TEST_INNER", "1")
        .env("OXBPF_TEST_DIR", &dir);
    // SAFETY: between fork and exec the child makes only the unshare(2) and mount(2)
    // system calls: nothing that allocates or takes a lock.
    unsafe { cmd.pre_exec(move || oxbpf_sys::ns::unshare(flags)) };
    let out = cmd.output().expect("re-running the test in new namespaces");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{test} in new namespaces ({flags:#x}) failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{test} did not run inside the namespace:\n{stdout}\n{stderr}"
    );
    false
}

/// Creates the veth pair `veth0`–`veth1` in this (new) network namespace over rtnetlink,
/// IPv6 off (no router solicitations in the counts), both up, and loopback up.
fn veth_pair() {
    use oxbpf_sys::netlink::{self, Message, Socket};
    const IFLA_IFNAME: u16 = 3;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_INFO_KIND: u16 = 1;
    const IFLA_INFO_DATA: u16 = 2;
    const VETH_INFO_PEER: u16 = 1;
    let mut sock = Socket::route().unwrap();
    // VETH_INFO_PEER holds an ifinfomsg and the peer's own attributes.
    let mut peer = netlink::ifinfomsg(0).to_vec();
    let name = b"veth1\0";
    peer.extend_from_slice(&(4 + name.len() as u16).to_ne_bytes());
    peer.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
    peer.extend_from_slice(name);
    peer.resize(peer.len().next_multiple_of(4), 0);
    let mut msg = Message::new(
        netlink::RTM_NEWLINK,
        netlink::F_CREATE | netlink::F_EXCL,
        &netlink::ifinfomsg(0),
    );
    msg.attr_str(IFLA_IFNAME, "veth0")
        .begin_nest(IFLA_LINKINFO)
        .attr_str(IFLA_INFO_KIND, "veth")
        .begin_nest(IFLA_INFO_DATA)
        .attr(VETH_INFO_PEER, &peer)
        .end_nest()
        .end_nest();
    sock.request("RTM_NEWLINK veth", &mut msg)
        .unwrap_or_else(|e| panic!("creating veth0-veth1: {}", chain(&e)));
    for ifname in ["veth0", "veth1"] {
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"),
            "1",
        );
    }
    for ifname in ["lo", "veth0", "veth1"] {
        link_up(&mut sock, ifname);
    }
}

/// Sets interface `ifname` up (`RTM_NEWLINK` with `IFF_UP` in flags and change mask).
fn link_up(sock: &mut oxbpf_sys::netlink::Socket, ifname: &str) {
    use oxbpf_sys::netlink::{self, Message};
    let ifindex = oxbpf_sys::sock::ifindex(ifname).unwrap();
    let mut header = netlink::ifinfomsg(ifindex);
    header[8..12].copy_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
    header[12..16].copy_from_slice(&(libc::IFF_UP as u32).to_ne_bytes());
    let mut msg = Message::new(netlink::RTM_NEWLINK, 0, &header);
    sock.request("RTM_NEWLINK up", &mut msg)
        .unwrap_or_else(|e| panic!("setting {ifname} up: {}", chain(&e)));
}
