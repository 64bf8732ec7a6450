//! The command line, run as a user runs it: `oxbpf inspect` on every testdata object
//! against committed golden output (text and JSON) and on every object Debian's
//! xdp-tools installs; `btf dump`; `check`.
//!
//! After an intended change of output, rerun with `OXBPF_BLESS=1` to rewrite the golden
//! files, and review the diff.

use oxbpf_loader::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn oxbpf(args: &[&str], cwd: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn objects(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".o"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn check_golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("OXBPF_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with OXBPF_BLESS=1", path.display()));
    assert!(
        expected == actual,
        "`oxbpf inspect` output for {name} changed; rerun with OXBPF_BLESS=1 to update tests/golden.\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn inspect_matches_golden_output_for_every_testdata_object() {
    let dir = testdata();
    let objs = objects(&dir);
    assert!(objs.len() >= 15, "only {} objects in testdata", objs.len());
    for obj in objs {
        let (ok, text, err) = oxbpf(&["inspect", &obj], &dir);
        assert!(ok, "inspect {obj} failed: {err}");
        check_golden(&format!("{obj}.txt"), &text);
        let (ok, json, err) = oxbpf(&["inspect", "--json", &obj], &dir);
        assert!(ok, "inspect --json {obj} failed: {err}");
        assert!(
            json.starts_with("{\n  \"file\": ") && json.ends_with("}\n"),
            "{obj}: {json}"
        );
        check_golden(&format!("{obj}.json"), &json);
    }
}

#[test]
fn disasm_matches_golden_output_for_every_testdata_object() {
    let dir = testdata();
    for obj in objects(&dir) {
        let (ok, text, err) = oxbpf(&["disasm", &obj], &dir);
        assert!(ok, "disasm {obj} failed: {err}");
        check_golden(&format!("{obj}.disasm.txt"), &text);
    }
    let (ok, json, err) = oxbpf(
        &[
            "disasm",
            "--json",
            "--prog",
            "handle_exit",
            "bootstrap.bpf.o",
        ],
        &dir,
    );
    assert!(ok, "{err}");
    check_golden("bootstrap.bpf.o.handle_exit.disasm.json", &json);
    // A name the object does not have is named, with the ones it has.
    let (ok, _, err) = oxbpf(&["disasm", "--prog", "nope", "sockex1.bpf.o"], &dir);
    assert!(!ok);
    assert!(
        err.contains("sockex1.bpf.o: no function `nope`; it has bpf_prog1"),
        "{err}"
    );
}

#[test]
fn explain_dry_run_matches_golden_output_for_every_testdata_object() {
    // CO-RE against a fixed BTF file, so the output is the same on every kernel.
    let dir = testdata();
    for obj in objects(&dir) {
        let (ok, text, err) = oxbpf(
            &["explain", "--dry-run", "--btf", "btf/old_kernel.btf", &obj],
            &dir,
        );
        assert!(ok, "explain {obj} failed: {err}");
        for stage in [
            "1. ELF",
            "2. BTF",
            "3. CO-RE",
            "4. Relocations",
            "5. Kernel",
        ] {
            assert!(text.contains(stage), "{obj}: no {stage}:\n{text}");
        }
        check_golden(&format!("{obj}.explain.txt"), &text);
    }
    let (ok, json, err) = oxbpf(
        &[
            "explain",
            "--dry-run",
            "--json",
            "--btf",
            "btf/old_kernel.btf",
            "core.bpf.o",
        ],
        &dir,
    );
    assert!(ok, "{err}");
    check_golden("core.bpf.o.explain.json", &json);
}

#[test]
fn explain_records_every_bpf_call_and_the_verifiers_verdict() {
    if !can_load("explain_records_every_bpf_call_and_the_verifiers_verdict") {
        return;
    }
    let dir = testdata();
    let (ok, text, err) = oxbpf(&["explain", "sockex1.bpf.o"], &dir);
    assert!(ok, "{err}\n{text}");
    for want in [
        "— feature probes",
        "bpf(BPF_BTF_LOAD, btf_size=",
        "bpf(BPF_MAP_CREATE, map_type=array key_size=4 value_size=8 max_entries=256 map_flags=0x0 name=\"my_map\" btf_fd=",
        "bpf(BPF_PROG_LOAD, prog_type=socket_filter insn_cnt=15 name=\"bpf_prog1\" log_level=1 prog_btf_fd=",
        "bpf_prog1: accepted — processed ",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("BPF_PROG_LOAD") && l.contains(") = fd ")),
        "{text}"
    );
    // A refusal: the kernel's errno, the verifier's words, the source line.
    let (ok, text, _) = oxbpf(
        &["explain", "refused.bpf.o", "--prog", "future_helper"],
        &dir,
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains("name=\"future_helper\" log_level=1"),
        "{text}"
    );
    assert!(text.contains(") = EINVAL (Invalid argument"), "{text}");
    assert!(text.contains("REJECTED: program `future_helper` (?socket): the verifier rejected it: invalid func unknown#4242"), "{text}");
    assert!(
        text.contains("at source line: asm volatile(\"call 4242\""),
        "{text}"
    );
    // A map left out: its load is poisoned, and the program that reaches it names it.
    let (ok, text, _) = oxbpf(
        &[
            "explain",
            "maps_more.bpf.o",
            "--prog",
            "xdp_redirects",
            "--skip-map",
            "dev_map",
        ],
        &dir,
    );
    assert!(!ok, "{text}");
    assert!(
        text.contains("it uses map `dev_map`, which was not created (its autocreate was turned off before load)"),
        "{text}"
    );
}

#[test]
fn explain_attach_records_perf_event_open_setsockopt_and_netlink() {
    if !can_load("explain_attach_records_perf_event_open_setsockopt_and_netlink") {
        return;
    }
    let dir = testdata();
    // A tracepoint: a perf event, and a perf bpf_link on it.
    let (ok, text, err) = oxbpf(
        &[
            "explain",
            "attach.bpf.o",
            "--prog",
            "on_getppid",
            "--attach",
        ],
        &dir,
    );
    assert!(ok, "{err}\n{text}");
    let attach = text
        .split("Attach: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    for want in [
        "on_getppid: attached — on_getppid on tracepoint syscalls/sys_enter_getppid",
        "read(tracefs events/syscalls/sys_enter_getppid/id) = ",
        "perf_event_open(type=tracepoint config=",
        "bpf(BPF_LINK_CREATE, prog_fd=",
        "attach_type=perf_event",
        "on_getppid: detached by closing its link",
    ] {
        assert!(attach.contains(want), "no `{want}` in:\n{attach}");
    }
    // A socket filter and XDP over netlink, on loopback of a network namespace of
    // their own; and a socket filter with nowhere to go says so, and fails.
    let bin = env!("CARGO_BIN_EXE_oxbpf");
    let out = std::process::Command::new("unshare")
        .args(["--net", "sh", "-c"])
        .arg(format!(
            "'{bin}' explain sockex1.bpf.o --attach --iface lo; \
             '{bin}' explain xdp_pass.bpf.o --attach --iface lo --netlink --xdp-mode skb; \
             '{bin}' explain sockex1.bpf.o --attach; echo \"status $?\""
        ))
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut at = 0;
    for want in [
        "setsockopt(fd ",
        ", SOL_SOCKET, SO_ATTACH_BPF, ",
        ") = 0",
        "bpf_prog1: detached:",
        ", SOL_SOCKET, SO_DETACH_BPF, 0) = 0",
        "xdp_pass: attached — xdp_pass on XDP on lo (skb mode, netlink)",
        "RTM_SETLINK(rtnetlink, ifindex 1, ",
        ") = ack",
        "xdp_pass: detached:",
        "RTM_SETLINK(rtnetlink, ifindex 1, ",
        "bpf_prog1: NOT ATTACHED: needs a socket (or an interface to open one on): give --iface",
        "status 1",
    ] {
        let found = text[at..]
            .find(want)
            .unwrap_or_else(|| panic!("no `{want}` after byte {at} in:\n{text}"));
        at += found + want.len();
    }
}

#[test]
fn inspect_works_on_every_xdp_tools_object() {
    let dir = Path::new("/usr/lib/x86_64-linux-gnu/bpf");
    let objs = objects(dir);
    if objs.is_empty() {
        oxbpf_sys::gate::skip(
            "inspect_works_on_every_xdp_tools_object",
            "xdp-tools is not installed (apt-get install xdp-tools)",
        );
        return;
    }
    for obj in objs {
        let (ok, text, err) = oxbpf(&["inspect", &obj], dir);
        assert!(ok, "inspect {obj} failed: {err}");
        assert!(text.contains("Programs ("), "{obj}: {text}");
        assert!(!text.contains("warning:"), "{obj}: {text}");
    }
}

#[test]
fn inspect_reports_bad_files_with_their_name_and_exit_status_1() {
    let tmp = std::env::temp_dir().join(format!("oxbpf-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("notes.txt"), "not an object").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(["inspect", "notes.txt"])
        .current_dir(&tmp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "oxbpf: error: notes.txt: not an ELF file (bad magic)\n"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(["inspect", "missing.o"])
        .current_dir(&tmp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("oxbpf: error: missing.o: cannot read the file: No such file or directory"),
        "{err}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn verbose_flag_logs_what_the_elf_stage_found() {
    let (ok, _, err) = oxbpf(&["-v", "inspect", "multi_prog.bpf.o"], &testdata());
    assert!(ok);
    assert!(
        err.contains(
            "debug: program `tc_second`: section `tc`, type sched_cls, 10 insns, 1 relocations"
        ),
        "{err}"
    );
    assert!(err.contains("matches no SEC() pattern"), "{err}");
}

#[test]
fn btf_dump_prints_raw_types_and_c_headers() {
    let (ok, raw, err) = oxbpf(&["btf", "dump", "multi_prog.bpf.o"], &testdata());
    assert!(ok, "{err}");
    assert!(
        raw.starts_with("[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n"),
        "{raw}"
    );
    assert!(
        raw.contains("] DATASEC '.bss' size=0 vlen=2\n\ttype_id="),
        "{raw}"
    );
    let (ok, c, err) = oxbpf(
        &["btf", "dump", "--format", "c", "maps_btf.bpf.o"],
        &testdata(),
    );
    assert!(ok, "{err}");
    assert!(c.starts_with("#ifndef __VMLINUX_H__\n"), "{c}");
    assert!(
        c.contains("struct lpm_key {\n\t__u32 prefixlen;\n\t__u32 addr;\n};\n"),
        "{c}"
    );
    let (ok, _, err) = oxbpf(&["btf", "dump", "no-such-file"], &testdata());
    assert!(!ok);
    assert!(
        err.starts_with("oxbpf: error: cannot read no-such-file: "),
        "{err}"
    );
}

#[test]
fn btf_dump_of_the_running_kernel() {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        oxbpf_sys::gate::skip(
            "btf_dump_of_the_running_kernel",
            "this kernel has no /sys/kernel/btf/vmlinux",
        );
        return;
    }
    let (ok, c, err) = oxbpf(&["btf", "dump", "vmlinux", "--format", "c"], &testdata());
    assert!(ok, "{err}");
    assert!(c.contains("\nstruct task_struct {\n"));
    assert!(c.ends_with("#endif /* __VMLINUX_H__ */\n"));
}

#[test]
fn check_reports_every_relocation_per_btf_and_fails_when_one_is_unresolved() {
    let dir = testdata();
    let out = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(["check", "core.bpf.o", "--btf", "btf/old_kernel.btf"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("core.bpf.o against btf/old_kernel.btf: 25 CO-RE relocations, 24 resolved, 1 unresolved\n"), "{text}");
    assert!(
        text.contains("UNRESOLVED: no field `tgid` in target struct task_struct"),
        "{text}"
    );
    assert!(
        text.contains(
            "struct task_struct___old.state                = 1  (struct task_struct.state)"
        ),
        "{text}"
    );

    // Against the running kernel everything resolves: exit status 0.
    if Path::new("/sys/kernel/btf/vmlinux").exists() {
        let (ok, text, err) = oxbpf(&["check", "core.bpf.o", "--btf", "vmlinux"], &dir);
        assert!(ok, "{text}{err}");
        assert!(
            text.starts_with("core.bpf.o against vmlinux: 25 CO-RE relocations, 25 resolved\n"),
            "{text}"
        );
    }

    // Both at once, as JSON.
    let out = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args([
            "check",
            "--json",
            "bootstrap.bpf.o",
            "--btf",
            "btf/old_kernel.btf",
            "--btf",
            "core.bpf.o",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(json.contains("\"all_resolved\": false"), "{json}");
    assert!(json.contains("\"btf\": \"btf/old_kernel.btf\""), "{json}");
    // bootstrap reads task->real_parent->tgid: old_kernel.btf has no tgid.
    assert!(
        json.contains("\"failure\": \"no field `tgid` in target struct task_struct\""),
        "{json}"
    );
}

#[test]
fn check_of_an_object_without_core_relocations_passes() {
    let (ok, text, err) = oxbpf(
        &["check", "xdp_pass.bpf.o", "--btf", "btf/old_kernel.btf"],
        &testdata(),
    );
    assert!(ok, "{err}");
    assert_eq!(
        text,
        "xdp_pass.bpf.o against btf/old_kernel.btf: 0 CO-RE relocations, 0 resolved\n"
    );
}

/// The kernel-test gate: false (after saying why) when this process cannot load BPF.
fn can_load(test: &str) -> bool {
    oxbpf_sys::gate::require_bpf(test)
}

#[test]
fn demo_loads_runs_and_checks_the_built_in_example() {
    if !can_load("demo_loads_runs_and_checks_the_built_in_example") {
        return;
    }
    let (ok, text, err) = oxbpf(&["demo"], &testdata());
    assert!(ok, "{text}{err}");
    assert!(
        text.contains("/proc agrees: the CO-RE offsets were right for this kernel"),
        "{text}"
    );
    assert!(
        text.contains("UDP to port 9 → drop")
            && text.contains("packets_per_proto now holds TCP: 1, UDP: 2"),
        "{text}"
    );
    assert!(text.contains("Every check held."), "{text}");
}

#[test]
fn load_prints_kernel_ids_and_reports_what_did_not_load() {
    if !can_load("load_prints_kernel_ids_and_reports_what_did_not_load") {
        return;
    }
    let dir = testdata();
    let (ok, text, err) = oxbpf(&["load", "sockex1.bpf.o"], &dir);
    assert!(ok, "{text}{err}");
    assert!(
        text.starts_with("sockex1.bpf.o: loaded 1 program and 1 map, BTF id "),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("bpf_prog1"))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(cells[0].parse::<u32>().is_ok(), "{row}");
    assert_eq!(cells[1], "socket_filter", "{row}");
    assert!(
        text.lines()
            .any(|l| l.contains("my_map") && l.contains("array") && l.contains("256")),
        "{text}"
    );

    // A chosen log level prints the verifier's log of programs that load.
    let (ok, text, err) = oxbpf(&["load", "sockex1.bpf.o", "--log-level", "2"], &dir);
    assert!(ok, "{err}");
    let log = text
        .split("verifier log of `bpf_prog1`\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        log.contains("processed ") && log.contains("call bpf_map_lookup_elem#1"),
        "{text}"
    );

    // A section nobody knows stops the load, saying how to type it; --type does.
    let (ok, _, err) = oxbpf(&["load", "multi_prog.bpf.o"], &dir);
    assert!(!ok);
    assert!(
        err.contains("set its type before load")
            && err.contains("[with oxbpf: --type mystery_prog=TYPE, e.g. xdp]"),
        "{err}"
    );
    let (ok, text, err) = oxbpf(
        &[
            "load",
            "multi_prog.bpf.o",
            "--type",
            "mystery_prog=socket_filter",
            "--set",
            "rodata_limit=-3",
            "--json",
        ],
        &dir,
    );
    assert!(ok, "{err}");
    assert!(text.contains("\"name\": \"mystery_prog\""), "{text}");

    // --keep-going loads what can load; the rest is listed and the status is 1.
    let (ok, text, err) = oxbpf(&["load", "progtypes_trace.bpf.o", "--keep-going"], &dir);
    assert!(!ok, "{text}");
    assert!(err.is_empty(), "{err}");
    let not_loaded = text
        .split("\nnot loaded\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        not_loaded.contains("program `fentry_unlinkat` (fentry/vfs_unlink): BPF_PROG_LOAD failed: Operation not permitted"),
        "{text}"
    );
    assert!(text.contains("tp_btf_switch"), "{text}");

    // --skip-map leaves a map out: fine where no program reaches it, named where one does.
    let (ok, text, err) = oxbpf(
        &[
            "load",
            "maps_more.bpf.o",
            "--only",
            "msg_redirect",
            "--skip-map",
            "dev_map",
        ],
        &dir,
    );
    assert!(ok, "{err}");
    assert!(!text.contains("dev_map"), "{text}");
    let (ok, _, err) = oxbpf(
        &[
            "load",
            "maps_more.bpf.o",
            "--only",
            "xdp_redirects",
            "--skip-map",
            "dev_map",
        ],
        &dir,
    );
    assert!(!ok);
    assert!(
        err.contains("it uses map `dev_map`, which was not created (its autocreate was turned off before load)"),
        "{err}"
    );
}

#[test]
fn load_explains_bad_arguments() {
    let dir = testdata();
    let cases: [(&[&str], &str); 10] = [
        (
            &["load", "multi_prog.bpf.o", "--set", "rodata_limit=abc"],
            "global variable `rodata_limit`: `abc` is not a number",
        ),
        (
            &[
                "load",
                "core.bpf.o",
                "--set",
                "core_comm=a_name_longer_than_15",
            ],
            "global variable `core_comm`: holds at most 15 characters and a NUL",
        ),
        (
            &["load", "multi_prog.bpf.o", "--set", "no_such_var=1"],
            "global variable `no_such_var`: no such global variable",
        ),
        (
            &["load", "multi_prog.bpf.o", "--max-entries", "64"],
            "--max-entries 64: expected NAME=VALUE",
        ),
        // An edit naming what the object lacks is refused, listing what it has.
        (
            &["load", "xdp_pass.bpf.o", "--max-entries", "nosuch=5"],
            "--max-entries nosuch=5: xdp_pass.bpf.o: no map `nosuch`; its maps: none",
        ),
        (
            &["load", "bootstrap.bpf.o", "--value-size", "nosuch=4"],
            "--value-size nosuch=4: bootstrap.bpf.o: no map `nosuch`; its maps: exec_start, rb",
        ),
        (
            &["load", "bootstrap.bpf.o", "--skip-map", "nosuch"],
            "--skip-map nosuch: bootstrap.bpf.o: no map `nosuch`; its maps: exec_start, rb",
        ),
        (
            &["load", "xdp_pass.bpf.o", "--type", "nosuch=xdp"],
            "--type nosuch=xdp: xdp_pass.bpf.o: no program `nosuch`; its programs: xdp_pass",
        ),
        (
            &["load", "xdp_pass.bpf.o", "--only", "nosuch"],
            "--only: xdp_pass.bpf.o: no program `nosuch`; its programs: xdp_pass",
        ),
        (
            &[
                "load",
                "multi_prog.bpf.o",
                "--type",
                "mystery_prog=nonsense",
            ],
            "--type mystery_prog=nonsense: `nonsense` is not a program type; one of: unspec, socket_filter",
        ),
    ];
    for (args, want) in cases {
        let (ok, _, err) = oxbpf(args, &dir);
        assert!(!ok, "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_rejected_program_shows_the_verifier_log_and_the_cause() {
    if !can_load("a_rejected_program_shows_the_verifier_log_and_the_cause") {
        return;
    }
    let (ok, _, err) = oxbpf(
        &[
            "load",
            "core.bpf.o",
            "--btf",
            "btf/old_kernel.btf",
            "--only",
            "core_read_task",
        ],
        &testdata(),
    );
    assert!(!ok);
    let mut lines = err.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("oxbpf: error: program `core_read_task` (raw_tp/sys_enter): the verifier rejected it: invalid func unknown#195896080; insn "),
        "{err}"
    );
    assert!(
        first.ends_with("CO-RE relocation `struct task_struct.tgid` (byte_off) failed: no field `tgid` in target struct task_struct"),
        "{err}"
    );
    assert_eq!(
        lines.next(),
        Some("    verifier log of `core_read_task`:"),
        "{err}"
    );
    assert!(
        err.contains("      13: (85) call unknown#195896080"),
        "{err}"
    );
}

/// Every command that loads refuses a CO-RE program when the kernel's BTF cannot be
/// read (here hidden under a tmpfs, in the test's own mount namespace), with the same
/// sentence, and exits 1; `check` and `explain` say they cannot read it either.
#[test]
fn without_the_kernels_btf_every_command_refuses_co_re_programs() {
    if !can_load("without_the_kernels_btf_every_command_refuses_co_re_programs") {
        return;
    }
    let out = in_private_bpffs(
        r#"
mount -t tmpfs none /sys/kernel/btf
set +e
for cmd in "load bootstrap.bpf.o" "run bootstrap.bpf.o --duration 1" "attach bootstrap.bpf.o --pin $PIN/b" \
           "explain bootstrap.bpf.o" "check bootstrap.bpf.o" "demo" "load minimal.bpf.o"; do
    echo "== $cmd"
    "$OXBPF" $cmd > out.$$ 2>&1
    echo "exit $?"
    head -c 800 out.$$; echo
done
rm -f out.$$
echo "== ls"
ls "$PIN"
"#,
    );
    // The output of the command whose line starts with `cmd`.
    let section = |cmd: &str| {
        out.split(&format!("== {cmd}"))
            .nth(1)
            .and_then(|s| s.split_once('\n'))
            .and_then(|(_, s)| s.split("\n== ").next())
            .unwrap_or_else(|| panic!("no output for {cmd}:\n{out}"))
            .to_string()
    };
    let refusal = "oxbpf: error: program `handle_exec`: CO-RE relocation `struct task_struct.real_parent` (byte_off) at insn #30 of `handle_exec` needs the kernel's BTF, which cannot be read (cannot read /sys/kernel/btf/vmlinux: No such file or directory";
    for cmd in [
        "load bootstrap.bpf.o",
        "run bootstrap.bpf.o --duration 1",
        "attach bootstrap.bpf.o --pin",
    ] {
        let s = section(cmd);
        assert!(
            s.starts_with("exit 1\n") && s.contains(refusal),
            "{cmd}:\n{s}"
        );
    }
    let demo = section("demo");
    assert!(
        demo.starts_with("exit 1\n")
            && demo.contains("program `whoami`: CO-RE relocation `struct task_struct.pid`")
            && demo.contains("--btf PATH")
            && !demo.contains("needs root"),
        "{demo}"
    );
    for cmd in ["explain bootstrap.bpf.o", "check bootstrap.bpf.o"] {
        let s = section(cmd);
        assert!(
            s.starts_with("exit 1\n")
                && s.contains("cannot read /sys/kernel/btf/vmlinux: No such file or directory"),
            "{cmd}:\n{s}"
        );
    }
    // No CO-RE in it: it loads.
    let minimal = section("load minimal.bpf.o");
    assert!(minimal.starts_with("exit 0\n"), "{minimal}");
    // The refused attach left nothing pinned, not even its directory.
    assert_eq!(section("ls").trim(), "maps.debug\nprogs.debug", "{out}");
}

/// Runs `script` (sh) in a private mount namespace with a bpffs mounted at `$PIN`, and
/// `$OXBPF` the binary under test; returns its stdout. The machine's mounts never change.
fn in_private_bpffs(script: &str) -> String {
    // One directory per call: tests run in parallel.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pin = std::env::temp_dir().join(format!("oxbpf-cli-bpffs-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&pin).unwrap();
    let full = format!("set -e\nmount -t bpf bpf \"$PIN\"\n{script}");
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &full])
        .env("PIN", &pin)
        .env("OXBPF", env!("CARGO_BIN_EXE_oxbpf"))
        .current_dir(testdata())
        .output()
        .expect("unshare (util-linux) is needed");
    let _ = std::fs::remove_dir(&pin);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_failed_attach_or_run_stops_at_once_and_leaves_nothing_pinned() {
    if !can_load("a_failed_attach_or_run_stops_at_once_and_leaves_nothing_pinned") {
        return;
    }
    // Each command's output and exit status; `timeout` ends a run that would wait for
    // Ctrl-C (exit 124), which is the defect.
    let out = in_private_bpffs(
        r#"
set +e
for cmd in "attach xdp_pass.bpf.o --iface nosuch0 --pin $PIN/a" "attach xdp_pass.bpf.o --pin $PIN/b" \
           "run xdp_pass.bpf.o --iface nosuch0" "run xdp_pass.bpf.o" \
           "load maps_btf.bpf.o --pin-maps $PIN/c/d" "load bootstrap.bpf.o --pin-maps $PIN/../nosuch/e"; do
    echo "== $cmd"
    timeout 10 "$OXBPF" $cmd > out.$$ 2>&1
    echo "exit $?"
    grep -v '^  ' out.$$ | head -c 1000; echo
done
rm -f out.$$
echo "== ls"
ls "$PIN"
echo "== ls c/d"
ls "$PIN/c/d"
"#,
    );
    // The output of the command whose line is `cmd`, or else starts with it.
    let section = |cmd: &str| {
        let chunks: Vec<(&str, &str)> = out
            .split("== ")
            .filter_map(|c| c.split_once('\n'))
            .collect();
        chunks
            .iter()
            .find(|(c, _)| *c == cmd)
            .or_else(|| chunks.iter().find(|(c, _)| c.starts_with(cmd)))
            .map(|(_, s)| s.to_string())
            .unwrap_or_else(|| panic!("no output for {cmd}:\n{out}"))
    };
    for (cmd, why) in [
        (
            "attach xdp_pass.bpf.o --iface nosuch0",
            "oxbpf: error: --iface nosuch0: no such interface",
        ),
        (
            "attach xdp_pass.bpf.o --pin",
            "xdp_pass: needs an interface: give --iface\nnot attached: nothing is left pinned in ",
        ),
        (
            "run xdp_pass.bpf.o --iface nosuch0",
            "oxbpf: error: --iface nosuch0: no such interface",
        ),
        (
            "run xdp_pass.bpf.o",
            "oxbpf: error: nothing attached: xdp_pass.bpf.o has no program that could be attached here",
        ),
        (
            "load bootstrap.bpf.o --pin-maps",
            "/../nosuch/e does not exist, and /tmp/oxbpf-cli-bpffs-",
        ),
    ] {
        let s = section(cmd);
        assert!(s.starts_with("exit 1\n") && s.contains(why), "{cmd}:\n{s}");
    }
    // The failed attaches pinned nothing, nor left their directories; a pin-by-name
    // map's missing directories were made inside the bpffs.
    assert_eq!(section("ls").trim(), "c\nmaps.debug\nprogs.debug", "{out}");
    assert!(
        section("load maps_btf.bpf.o").starts_with("exit 0\n"),
        "{out}"
    );
    assert!(
        section("ls c/d").lines().any(|l| l == "pinned_counts"),
        "{out}"
    );
}

#[test]
fn map_dump_of_a_ring_buffer_and_update_of_a_frozen_map_say_why() {
    if !can_load("map_dump_of_a_ring_buffer_and_update_of_a_frozen_map_say_why") {
        return;
    }
    let out = in_private_bpffs(
        r#"
"$OXBPF" load bootstrap.bpf.o --pin-maps "$PIN" > /dev/null
set +e
echo "== dump"
"$OXBPF" map dump "$PIN/rb" 2>&1; echo "exit $?"
echo "== json"
"$OXBPF" map dump "$PIN/rb" --json 2>&1; echo "exit $?"
echo "== rodata"
"$OXBPF" map update "$PIN/bootstra_rodata" --key 0 --value-hex "01 00 00 00 00 00 00 00" 2>&1; echo "exit $?"
echo "== bss"
"$OXBPF" map update "$PIN/bootstra_bss" --key 0 --value-hex "01 00 00 00 00 00 00 00" 2>&1; echo "exit $?"
"#,
    );
    let section = |name: &str| {
        out.split(&format!("== {name}\n"))
            .nth(1)
            .and_then(|s| s.split("\n== ").next())
            .map(|s| format!("{}\n", s.trim_end()))
            .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
    };
    let dump = section("dump");
    assert!(
        dump.contains("ringbuf `rb` (id ")
            && dump.contains(") has no elements to dump: its records pass through it to a reader; `oxbpf run OBJECT` prints them as they arrive")
            && dump.ends_with("exit 0\n"),
        "{dump}"
    );
    assert_eq!(section("json"), "[]\nexit 0\n");
    let rodata = section("rodata");
    assert!(
        rodata.contains("BPF_MAP_UPDATE_ELEM failed: Operation not permitted (os error 1): the map is frozen (BPF_MAP_FREEZE)")
            && rodata.contains("(`oxbpf load OBJ --set VAR=VALUE`)")
            && rodata.ends_with("exit 1\n"),
        "{rodata}"
    );
    assert_eq!(section("bss"), "updated key 00 00 00 00\nexit 0\n");
}

/// `bootstrap.bpf.o` with one edit of the bytes of its section `name`, written
/// to a temporary file; returns its path.
fn corrupted_bootstrap(file: &str, name: &str, edit: impl Fn(&mut [u8])) -> PathBuf {
    let mut data = std::fs::read(testdata().join("bootstrap.bpf.o")).unwrap();
    let elf = goblin::elf::Elf::parse(&data).unwrap();
    let sh = elf
        .section_headers
        .iter()
        .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(name))
        .unwrap();
    let range = sh.file_range().unwrap();
    edit(&mut data[range]);
    let path = std::env::temp_dir().join(format!("{}-{file}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn errors_in_an_objects_btf_and_co_re_records_name_the_file() {
    if !can_load("errors_in_an_objects_btf_and_co_re_records_name_the_file") {
        return;
    }
    // The DATASEC of `.bss` renamed `.bsq`: no section gives its size.
    let datasec = corrupted_bootstrap("datasec.bpf.o", ".BTF", |btf| {
        let at = btf.windows(5).position(|w| w == b".bss\0").unwrap();
        btf[at + 3] = b'q';
    });
    // The first CO-RE record's type id past the last type.
    let core = corrupted_bootstrap("core.bpf.o", ".BTF.ext", |ext| {
        let u32_at = |o: usize| u32::from_ne_bytes(ext[o..o + 4].try_into().unwrap()) as usize;
        let (hdr_len, core_off) = (u32_at(4), u32_at(24));
        // rec_size, then the first block's sec_name_off and num_info, then the record:
        // insn_off, type_id.
        let type_id = hdr_len + core_off + 4 + 8 + 4;
        ext[type_id..type_id + 4].copy_from_slice(&0x7fff_ffffu32.to_ne_bytes());
    });
    let (ok, _, err) = oxbpf(&["load", datasec.to_str().unwrap()], &testdata());
    assert!(!ok);
    assert!(
        err.starts_with(&format!(
            "oxbpf: error: {}: BTF fix-up: DATASEC `.bsq`: no ELF section of that name",
            datasec.display()
        )),
        "{err}"
    );
    let (ok, _, err) = oxbpf(&["load", core.to_str().unwrap()], &testdata());
    assert!(!ok);
    assert!(
        err.starts_with(&format!(
            "oxbpf: error: {}: CO-RE: program `handle_exec` (tp/sched/sched_process_exec): CO-RE relocation #0",
            core.display()
        )) && err.contains("malformed BTF"),
        "{err}"
    );
    let _ = std::fs::remove_file(datasec);
    let _ = std::fs::remove_file(core);
}

#[test]
fn a_tracepoint_in_a_chroot_without_tracefs_says_what_to_mount() {
    if !can_load("a_tracepoint_in_a_chroot_without_tracefs_says_what_to_mount") {
        return;
    }
    // A chroot of the machine's /usr (bind-mounted, in a private mount namespace): its
    // root is no mount point, so oxbpf cannot make a mount namespace private there to
    // mount tracefs of its own.
    let script = r#"set -e
root=$(mktemp -d)
mkdir -p "$root/usr" "$root/proc"
ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"; ln -s usr/bin "$root/bin"
mount --bind /usr "$root/usr"
mount -t proc proc "$root/proc"
cp "$OXBPF" "$root/oxbpf"; cp minimal.bpf.o "$root/"
set +e
chroot "$root" /oxbpf run /minimal.bpf.o --duration 1 2>&1; echo "rc=$?"
# Unmounted before anything is removed, and nothing removed recursively.
umount "$root/proc" "$root/usr"
rm -f "$root/oxbpf" "$root/minimal.bpf.o" "$root/lib" "$root/lib64" "$root/bin"
rmdir "$root/usr" "$root/proc" "$root"
"#;
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("OXBPF", env!("CARGO_BIN_EXE_oxbpf"))
        .current_dir(testdata())
        .output()
        .expect("unshare (util-linux) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("handle_tp: program `handle_tp`: cannot attach to tracepoint syscalls/sys_enter_write: tracefs failed: no tracefs is mounted and oxbpf cannot mount one of its own: / is not a mount point here (a chroot?), so a private mount namespace cannot be made; mount one where it runs: mount -t tracefs nodev /sys/kernel/tracing")
            && text.contains("rc=1"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn extract_to_a_missing_directory_says_so() {
    let (ok, _, err) = oxbpf(
        &["extract", "--out", "/nonexistent/dir", "bootstrap.bpf.o"],
        &testdata(),
    );
    assert!(!ok);
    assert_eq!(
        err.trim_end(),
        "oxbpf: error: --out /nonexistent/dir: no such directory (create it first; without --out, objects go to the current directory)"
    );
}

#[test]
fn demo_without_proc_says_what_it_cannot_check() {
    if !can_load("demo_without_proc_says_what_it_cannot_check") {
        return;
    }
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs none /proc && \"$OXBPF\" demo 2>&1; echo \"rc=$?\"")
        .env("OXBPF", env!("CARGO_BIN_EXE_oxbpf"))
        .output()
        .expect("unshare (util-linux) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("oxbpf: error: the programs ran, but their results cannot be checked: /proc/thread-self: No such file or directory (os error 2) (is /proc mounted? `mount -t proc proc /proc`)")
            && text.contains("rc=1"),
        "{text}"
    );
}

#[test]
fn lookups_by_name_tag_and_pin_show_every_match_and_a_shared_map_name_is_listed() {
    if !can_load("lookups_by_name_tag_and_pin_show_every_match_and_a_shared_map_name_is_listed") {
        return;
    }
    // Two loads of one object, kept by their pins: two maps named `exec_start`.
    let out = in_private_bpffs(
        r#"
for n in 1 2; do
  "$OXBPF" load bootstrap.bpf.o --pin "$PIN/$n" --pin-maps "$PIN/$n" |
    awk '$2 == "hash" && $3 == "exec_start" { print "ours " $1 } $3 == "handle_exec" { print "prog " $1 }'
done
echo "== dump"
set +e
"$OXBPF" map dump exec_start 2>&1; echo "rc=$?"
echo "== show"
"$OXBPF" map show name exec_start
echo "== progs"
"$OXBPF" prog show name handle_exec
"$OXBPF" prog show tag 5c812d10a09b7dc9
"$OXBPF" prog show pinned "$PIN/1/handle_exec" 2>&1
"#,
    );
    let ours: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("ours "))
        .collect();
    assert_eq!(ours.len(), 2, "{out}");
    let dump = out.split("== dump").nth(1).unwrap_or_default();
    assert!(
        dump.contains(" maps are named `exec_start`: ")
            && dump.contains("; give the id (or a pinned path) of the one you mean")
            && dump.contains("rc=1"),
        "{out}"
    );
    let section = |name: &str| {
        out.split(&format!("== {name}\n"))
            .nth(1)
            .and_then(|s| s.split("\n== ").next())
            .unwrap_or_default()
            .to_string()
    };
    let show = section("show");
    for id in ours {
        assert!(
            dump.contains(&format!("id {id} (hash, 8192 entries)")),
            "{out}"
        );
        // `map show name` shows every one.
        assert!(
            show.lines()
                .any(|l| l.split_whitespace().next() == Some(id)),
            "{out}"
        );
    }
    // Programs by name and by tag: both of ours (one program, one tag); by pin: the one
    // pinned there.
    let progs: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("prog "))
        .collect();
    assert_eq!(progs.len(), 2, "{out}");
    let shown = section("progs");
    for id in &progs {
        assert_eq!(
            shown
                .lines()
                .filter(|l| l.split_whitespace().next() == Some(id))
                .count(),
            if *id == progs[0] { 3 } else { 2 },
            "{out}"
        );
    }
}

#[test]
fn with_json_an_error_is_json_on_stdout() {
    let out = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(["inspect", "nosuch.bpf.o", "--json"])
        .current_dir(testdata())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\n  \"error\": \"nosuch.bpf.o: cannot read the file: No such file or directory (os error 2)\"\n}\n"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without --json: text on stderr, as before.
    let (ok, stdout, err) = oxbpf(&["inspect", "nosuch.bpf.o"], &testdata());
    assert!(!ok && stdout.is_empty());
    assert!(
        err.starts_with("oxbpf: error: nosuch.bpf.o: cannot read the file"),
        "{err}"
    );
}

#[test]
fn btf_dump_json_has_every_type_of_the_raw_listing() {
    for source in ["btf_kinds.bpf.o", "core.bpf.o", "bootstrap.bpf.o"] {
        let (ok, raw, err) = oxbpf(&["btf", "dump", source], &testdata());
        assert!(ok, "{err}");
        let (ok, json, err) = oxbpf(&["btf", "dump", source, "--json"], &testdata());
        assert!(ok, "{err}");
        let types = raw.lines().filter(|l| l.starts_with('[')).count();
        assert!(types > 5, "{raw}");
        assert_eq!(json.matches("\"id\": ").count(), types, "{source}: {json}");
        assert_eq!(json.matches("\"kind\": ").count(), types, "{source}");
        let entries = raw.lines().filter(|l| l.starts_with('\t')).count();
        assert_eq!(
            json.matches("\"name\": ").count() - types,
            entries,
            "{source}: every member, value, parameter and variable is named"
        );
    }
}

#[test]
fn completions_for_bash_zsh_and_fish_follow_the_command_table() {
    let (ok, bash, err) = oxbpf(&["completions", "bash"], &testdata());
    assert!(ok, "{err}");
    // Completed by bash itself, as a user's Tab would.
    let script = format!(
        r#"{bash}
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMPREPLY=(); _oxbpf; echo "${{COMPREPLY[*]}}"; }}
t oxbpf ma
t oxbpf map d
t oxbpf load x.o --pi
t oxbpf net detach veth0 --cl
t oxbpf prog show name --js
"#
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let got = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        [
            "map",
            "dump delete",
            "--pin-maps --pin",
            "--clsact",
            "--json"
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, zsh, _) = oxbpf(&["completions", "zsh"], &testdata());
    assert!(ok && zsh.contains("bashcompinit") && zsh.contains("complete -F _oxbpf oxbpf"));
    let (ok, fish, _) = oxbpf(&["completions", "fish"], &testdata());
    assert!(ok);
    assert!(
        fish.contains("complete -c oxbpf -n \"test (__oxbpf_path) = 'map'\" -a dump -d "),
        "{fish}"
    );
    assert!(
        fish.contains(
            "complete -c oxbpf -n \"string match -q -- 'load*' (__oxbpf_path)\" -l pin -r -F -d "
        ),
        "{fish}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'tcsh'") && err.contains("bash, zsh, fish"),
        "{err}"
    );
}

#[test]
fn concurrent_loads_share_a_pinned_by_name_map() {
    if !can_load("concurrent_loads_share_a_pinned_by_name_map") {
        return;
    }
    // Eight loads of the same object at once, each pinning (or reusing) its
    // LIBBPF_PIN_BY_NAME map under /sys/fs/bpf (a private bpffs here): every one must
    // succeed and all must use one map.
    let out = in_private_bpffs(
        r#"
mount -t bpf bpf /sys/fs/bpf
dir=$(mktemp -d)
pids=""
for i in 1 2 3 4 5 6 7 8; do
  "$OXBPF" load maps_btf.bpf.o > "$dir/out.$i" 2>&1 &
  pids="$pids $!"
done
fail=0
for p in $pids; do wait "$p" || fail=1; done
cat "$dir"/out.*
rm -r "$dir"
echo "== pins"
ls /sys/fs/bpf
echo "failed=$fail"
"#,
    );
    assert!(out.contains("failed=0"), "{out}");
    let ids: std::collections::BTreeSet<&str> = out
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("pinned_counts"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "the loads used different maps: {ids:?}\n{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.split_whitespace().nth(2) == Some("pinned_counts"))
            .count(),
        8,
        "{out}"
    );
    let pins = out.split("== pins").nth(1).unwrap_or_default();
    assert!(pins.lines().any(|l| l.trim() == "pinned_counts"), "{out}");
}

#[test]
fn pinned_objects_outlive_oxbpf_and_show_in_prog_and_map_listings() {
    if !can_load("pinned_objects_outlive_oxbpf_and_show_in_prog_and_map_listings") {
        return;
    }
    let out = in_private_bpffs(
        r#"
out=$(mktemp)
"$OXBPF" load demo.bpf.o --pin "$PIN" --pin-maps "$PIN" > "$out" || { cat "$out"; rm "$out"; exit 1; }
cat "$out"
# Ids from the load's own table: other processes may hold programs of these names.
id=$(awk '$2 == "raw_tracepoint" && $3 == "whoami" { print $1 }' "$out")
map=$(awk '$2 == "hash" && $3 == "packets_per_pro" { print $1 }' "$out")
rm "$out"
ls "$PIN"
echo "== show $id"
"$OXBPF" prog show "$id" --json
echo "== maps $map"
"$OXBPF" map list
"$OXBPF" map list --json > /dev/null
rm "$PIN/whoami" "$PIN/count_and_filter" "$PIN"/packets_per_proto "$PIN"/demo_rodata "$PIN"/demo_bss
for i in $(seq 1 100); do
    if ! "$OXBPF" prog show "$id" 2> gone.$$; then break; fi
    sleep 0.1
done
echo "== gone"; cat gone.$$; rm gone.$$
"#,
    );
    assert!(out.contains("pinned program `whoami` at "), "{out}");
    assert!(out.contains("pinned map `packets_per_proto` at "), "{out}");
    let ls: Vec<&str> = out.lines().collect();
    for f in [
        "count_and_filter",
        "whoami",
        "packets_per_proto",
        "demo_rodata",
        "demo_bss",
    ] {
        assert!(ls.contains(&f), "{f} not pinned:\n{out}");
    }
    let show = out.split("== show ").nth(1).unwrap_or_default();
    let id = show.lines().next().unwrap_or_default();
    assert!(id.parse::<u32>().is_ok(), "{out}");
    assert!(show.contains(&format!("\"id\": {id},")), "{out}");
    assert!(show.contains("\"type\": \"raw_tracepoint\""), "{out}");
    assert!(show.contains("\"name\": \"whoami\""), "{out}");
    let maps = out.split("== maps ").nth(1).unwrap_or_default();
    let map = maps.lines().next().unwrap_or_default();
    assert!(map.parse::<u32>().is_ok(), "{out}");
    assert!(
        maps.lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(map)
                && l.contains("hash")
                && l.contains("packets_per_pro")),
        "{out}"
    );
    let gone = out.split("== gone").nth(1).unwrap_or_default();
    assert!(gone.contains(&format!("no program with id {id}")), "{out}");
}

/// The oxbpf binary and some testdata objects, copied into a directory uid 65534
/// (nobody) can read, to run there as nobody with exactly the capabilities given:
/// ambient (so they survive the exec of a non-root program), and a bounding set with
/// no others. The directory goes when this does. docs/privileges.md lists what each
/// command needs; these tests are where its rows are verified.
struct AsNobody {
    dir: PathBuf,
}

impl AsNobody {
    fn new(test: &str, objects: &[&str]) -> AsNobody {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("oxbpf-nobody-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mode = |p: &Path, m| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        };
        mode(&dir, 0o755);
        // Copied by cp, not by this process: a write descriptor of ours on the copy could
        // be inherited by a child another test forks at that moment, and exec of the
        // copy would then fail with ETXTBSY until that child execs in turn.
        let copied = Command::new("cp")
            .arg(env!("CARGO_BIN_EXE_oxbpf"))
            .arg(dir.join("oxbpf"))
            .status()
            .expect("cp");
        assert!(copied.success());
        mode(&dir.join("oxbpf"), 0o755);
        for o in objects {
            std::fs::copy(testdata().join(o), dir.join(o)).unwrap();
            mode(&dir.join(o), 0o644);
        }
        AsNobody { dir }
    }

    /// The `setpriv` command line (as words) that runs `oxbpf` as nobody holding `caps`
    /// (setpriv's names: `bpf`, `perfmon`, `net_admin`...) and no other capability.
    fn argv(&self, caps: &[&str]) -> Vec<String> {
        let set: String = std::iter::once("-all".to_string())
            .chain(caps.iter().map(|c| format!("+{c}")))
            .collect::<Vec<_>>()
            .join(",");
        vec![
            "setpriv".into(),
            "--reuid=65534".into(),
            "--regid=65534".into(),
            "--clear-groups".into(),
            format!("--inh-caps={set}"),
            format!("--ambient-caps={set}"),
            format!("--bounding-set={set}"),
            self.dir.join("oxbpf").display().to_string(),
        ]
    }

    /// Runs `oxbpf ARGS` as nobody with `caps`, in the copies' directory: (success,
    /// stdout, stderr). Without setpriv (util-linux) the test fails, CI or not.
    fn run(&self, caps: &[&str], args: &[&str]) -> (bool, String, String) {
        let argv = self.argv(caps);
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("setpriv (util-linux) is needed");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    /// The shell words of [`AsNobody::run`], for scripts that prepare a namespace as
    /// root first; prints `rc=N` after the output.
    fn shell(&self, caps: &[&str], args: &str) -> String {
        format!("{} {args} 2>&1; echo \"rc=$?\"", self.argv(caps).join(" "))
    }

    /// Runs `script` (sh, as root) in the copies' directory inside new namespaces
    /// (`unshare` flags such as `--net`, `--mount`): the machine's interfaces and mounts
    /// never change. Returns its output.
    fn script(&self, unshare: &[&str], script: &str) -> String {
        let out = Command::new("unshare")
            .args(unshare)
            .args(["sh", "-c", script])
            .current_dir(&self.dir)
            .output()
            .expect("unshare (util-linux) is needed");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }
}

impl Drop for AsNobody {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What each part of `AsNobody::script` output printed: the text between `== name`
/// and the next `== `.
fn section<'a>(text: &'a str, name: &str) -> &'a str {
    let from = text
        .find(&format!("== {name}\n"))
        .map(|i| i + name.len() + 4)
        .unwrap_or_else(|| panic!("no section {name} in:\n{text}"));
    let rest = &text[from..];
    &rest[..rest.find("\n== ").map_or(rest.len(), |i| i + 1)]
}

/// Dropping to nobody needs root (CAP_SETUID and the capabilities to hand on).
fn can_drop_privileges(test: &str) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    can_load(test)
        && (std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
            || oxbpf_sys::gate::skip(test, "needs root to run oxbpf as another user"))
}

#[test]
fn without_privileges_the_error_says_which_capability() {
    if !can_drop_privileges("without_privileges_the_error_says_which_capability") {
        return;
    }
    let nobody = AsNobody::new("none", &["sockex1.bpf.o"]);
    let (ok, _, err) = nobody.run(&[], &["load", "sockex1.bpf.o"]);
    assert!(!ok);
    assert!(
        err.starts_with(
            "oxbpf: error: not permitted: loading needs CAP_BPF (this process lacks CAP_BPF), or CAP_SYS_ADMIN before Linux 5.8"
        ),
        "{err}"
    );
    let (ok, _, err) = nobody.run(&[], &["prog", "list"]);
    assert!(!ok);
    assert!(
        err.contains("listing what is loaded needs CAP_SYS_ADMIN"),
        "{err}"
    );
    let (ok, _, err) = nobody.run(&[], &["demo"]);
    assert!(!ok);
    assert!(
        err.contains("(the object was read; loading it into the kernel needs root)"),
        "{err}"
    );
}

#[test]
fn least_privilege_tracing_objects_load_with_cap_bpf_and_cap_perfmon_only() {
    if !can_drop_privileges(
        "least_privilege_tracing_objects_load_with_cap_bpf_and_cap_perfmon_only",
    ) {
        return;
    }
    let nobody = AsNobody::new("load", &["minimal.bpf.o"]);
    // A tracepoint program and its two global data maps: exactly CAP_BPF + CAP_PERFMON.
    let (ok, out, err) = nobody.run(&["bpf", "perfmon"], &["load", "minimal.bpf.o"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("minimal.bpf.o: loaded 1 program and 2 maps"),
        "{out}"
    );
    // Without CAP_PERFMON the maps are created, and the program's load names what is
    // missing.
    let (ok, _, err) = nobody.run(&["bpf"], &["load", "minimal.bpf.o"]);
    assert!(!ok);
    assert!(
        err.contains("program `handle_tp` (tp/syscalls/sys_enter_write): BPF_PROG_LOAD failed: Operation not permitted (os error 1); loading tracepoint programs needs CAP_BPF and CAP_PERFMON (this process has CAP_BPF but not CAP_PERFMON)"),
        "{err}"
    );
    // Without CAP_BPF nothing loads.
    let (ok, _, err) = nobody.run(&["perfmon"], &["load", "minimal.bpf.o"]);
    assert!(!ok);
    assert!(
        err.contains("not permitted: loading needs CAP_BPF (this process lacks CAP_BPF)"),
        "{err}"
    );
    // Listing by id is CAP_SYS_ADMIN's, whatever else is held.
    let (ok, _, err) = nobody.run(&["bpf", "perfmon", "net_admin"], &["prog", "list"]);
    assert!(!ok && err.contains("needs CAP_SYS_ADMIN"), "{err}");
    let (ok, out, err) = nobody.run(&["sys_admin"], &["prog", "list"]);
    assert!(ok && out.starts_with("  ID  "), "{out}{err}");
}

#[test]
fn least_privilege_run_attaches_tracing_programs_with_cap_bpf_and_cap_perfmon() {
    let _pipe = trace_pipe_lock();
    if !can_drop_privileges(
        "least_privilege_run_attaches_tracing_programs_with_cap_bpf_and_cap_perfmon",
    ) {
        return;
    }
    let nobody = AsNobody::new("run", &["attach.bpf.o", "minimal.bpf.o"]);
    // A raw tracepoint needs no tracefs: CAP_BPF + CAP_PERFMON is all.
    let (ok, out, err) = nobody.run(
        &["bpf", "perfmon"],
        &[
            "run",
            "attach.bpf.o",
            "--only",
            "on_sys_enter",
            "--duration",
            "1",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("attached: on_sys_enter on raw tracepoint sys_enter\n")
            && out.contains("1 attached")
            && out.contains("detached 1"),
        "{out}"
    );
    // bpf_printk lines come through tracefs too (see below): without access, `run` says
    // which capability it lacks instead of showing none.
    assert!(
        out.contains("bpf_printk output unavailable: cannot open the trace pipe: ")
            && out.contains("CAP_SYS_ADMIN"),
        "{out}"
    );
    // A tracepoint's perf event is opened on the id tracefs publishes. tracefs mounted
    // as systemd mounts it (here in a private mount namespace) is open to root only:
    // reading it takes CAP_DAC_READ_SEARCH, and the error says so; with it, the
    // tracepoint attaches (perf_event_open itself is allowed by CAP_PERFMON).
    let tp = "run minimal.bpf.o --duration 1";
    let script = format!(
        "set -e\nmount -t tracefs nodev /sys/kernel/tracing\nset +e\n\
         echo '== perfmon'; {}\n\
         echo '== dac_read_search'; {}\n",
        nobody.shell(&["bpf", "perfmon"], tp),
        nobody.shell(&["bpf", "perfmon", "dac_read_search"], tp),
    );
    let out = nobody.script(&["--mount", "--propagation", "private"], &script);
    let refused = section(&out, "perfmon");
    assert!(
        refused.contains("handle_tp: program `handle_tp`: cannot attach to tracepoint syscalls/sys_enter_write (reading tracefs needs CAP_DAC_READ_SEARCH (the tracefs at /sys/kernel/tracing is open to root only) or CAP_SYS_ADMIN (to mount one privately); this process has neither)")
            && refused.contains("oxbpf: error: nothing attached: minimal.bpf.o has no program that could be attached here")
            && refused.contains("rc=1"),
        "{out}"
    );
    let attached = section(&out, "dac_read_search");
    assert!(
        // (A `bpf_printk output unavailable` line may come between: the trace pipe is
        // one reader's at a time, and another test may hold it.)
        attached.contains("attached: handle_tp on tracepoint syscalls/sys_enter_write\n")
            && attached.contains("\n1 attached")
            && attached.contains("detached 1")
            && attached.contains("rc=0"),
        "{out}"
    );
}

#[test]
fn least_privilege_network_programs_need_cap_net_admin_to_load_and_attach() {
    let _pipe = trace_pipe_lock();
    if !can_drop_privileges(
        "least_privilege_network_programs_need_cap_net_admin_to_load_and_attach",
    ) {
        return;
    }
    let nobody = AsNobody::new("net", &["attach.bpf.o", "xdp_pass.bpf.o", "sockex1.bpf.o"]);
    let xdp_tc = "run attach.bpf.o --only xdp_count --only tc_count --iface veth0 --duration 1";
    // A veth pair in a network namespace of the test's own, made as root; then each
    // case as nobody.
    let script = format!(
        "set -e\nip link add veth0 type veth peer name veth1\nip link set veth0 up\nip link set veth1 up\nset +e\n\
         echo '== no net_admin'; {}\n\
         echo '== links'; {}\n\
         echo '== netlink'; {}\n\
         echo '== xdp_pass no perfmon'; {}\n\
         echo '== xdp_pass'; {}\n\
         echo '== socket no net_raw'; {}\n\
         echo '== socket'; {}\n\
         ./oxbpf run attach.bpf.o --only xdp_count --iface veth1 --netlink --xdp-mode skb > left 2>&1 &\n\
         p=$!; for i in $(seq 100); do grep -q '1 attached' left && break; sleep 0.05; done\n\
         kill -KILL $p; wait $p; rm left\n\
         echo '== net detach no net_admin'; {}\n\
         echo '== net detach'; {}\n",
        nobody.shell(&["bpf", "perfmon"], xdp_tc),
        nobody.shell(&["bpf", "net_admin"], xdp_tc),
        nobody.shell(&["bpf", "net_admin"], &format!("{xdp_tc} --netlink")),
        nobody.shell(&["bpf", "net_admin"], "load xdp_pass.bpf.o"),
        nobody.shell(&["bpf", "net_admin", "perfmon"], "load xdp_pass.bpf.o"),
        nobody.shell(&["bpf"], "run sockex1.bpf.o --iface veth0 --duration 1"),
        nobody.shell(
            &["bpf", "net_raw"],
            "run sockex1.bpf.o --iface veth0 --duration 1"
        ),
        nobody.shell(&[], "net detach veth1 --xdp --xdp-mode skb"),
        nobody.shell(&["net_admin"], "net detach veth1 --xdp --xdp-mode skb"),
    );
    let out = nobody.script(&["--net"], &script);
    // XDP and tc programs do not even load without CAP_NET_ADMIN.
    let s = section(&out, "no net_admin");
    assert!(
        s.contains("program `xdp_count` (xdp): BPF_PROG_LOAD failed: Operation not permitted (os error 1); loading xdp programs needs CAP_BPF and CAP_NET_ADMIN (this process has CAP_BPF but not CAP_NET_ADMIN)")
            && s.contains("rc=1"),
        "{out}"
    );
    // With it they load and attach: bpf_links, and over rtnetlink.
    let s = section(&out, "links");
    assert!(
        s.contains("attached: xdp_count on XDP on veth0 (auto mode)\n")
            && s.contains("attached: tc_count on TCX ingress of veth0\n")
            && s.contains("detached 2")
            && s.contains("rc=0"),
        "{out}"
    );
    let s = section(&out, "netlink");
    assert!(
        s.contains("attached: xdp_count on XDP on veth0 (auto mode, netlink)\n")
            && s.contains("attached: tc_count on tc ingress of veth0 (priority 1)\n")
            && s.contains("detached 2")
            && s.contains("rc=0"),
        "{out}"
    );
    // xdp_pass subtracts packet pointers and calls bpf_printk: the verifier allows
    // both only to a loader with CAP_PERFMON.
    let s = section(&out, "xdp_pass no perfmon");
    assert!(
        s.contains("R3 pointer -= pointer prohibited; the verifier allows that only when the loader holds CAP_PERFMON: this program needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (this process has CAP_BPF and CAP_NET_ADMIN but not CAP_PERFMON)")
            && s.contains("rc=1"),
        "{out}"
    );
    let s = section(&out, "xdp_pass");
    assert!(
        s.starts_with("xdp_pass.bpf.o: loaded 1 program") && s.contains("rc=0"),
        "{out}"
    );
    // A socket filter loads with CAP_BPF; its raw socket needs CAP_NET_RAW.
    let s = section(&out, "socket no net_raw");
    assert!(
        s.contains("bpf_prog1: socket(AF_PACKET) failed: Operation not permitted (os error 1); a raw socket needs CAP_NET_RAW (this process lacks CAP_NET_RAW)"),
        "{out}"
    );
    let s = section(&out, "socket");
    assert!(
        s.contains("attached: bpf_prog1 on a socket\n")
            && s.contains("1 attached")
            && s.contains("rc=0"),
        "{out}"
    );
    // What a killed process left on an interface goes with CAP_NET_ADMIN alone
    // (rtnetlink's check), and without it the error says so.
    let s = section(&out, "net detach no net_admin");
    assert!(
        s.contains("RTM_SETLINK failed: Operation not permitted (os error 1) (changing an interface over rtnetlink needs CAP_NET_ADMIN (this process lacks CAP_NET_ADMIN))")
            && s.contains("rc=1"),
        "{out}"
    );
    let s = section(&out, "net detach");
    assert!(
        s.contains("removed xdp (skb mode) from veth1") && s.contains("rc=0"),
        "{out}"
    );
}

#[test]
fn extract_writes_out_embedded_objects_and_inspect_reads_through_them() {
    let dir = std::env::temp_dir().join(format!("oxbpf-extract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A stand-in for a program built with a skeleton: its own ELF header, then the
    // object among other bytes.
    let object = std::fs::read(testdata().join("minimal.bpf.o")).unwrap();
    let own = std::fs::read(env!("CARGO_BIN_EXE_oxbpf")).unwrap();
    let mut tool = own[..4096].to_vec();
    tool.extend_from_slice(&object);
    tool.extend_from_slice(b"after the object");
    std::fs::write(dir.join("minimal-tool"), &tool).unwrap();

    let (ok, text, err) = oxbpf(&["extract", "minimal-tool", "--out", "."], &dir);
    assert!(ok, "{err}");
    assert_eq!(
        text,
        format!(
            "./minimal-tool.bpf.o: {} bytes from offset 0x1000; programs handle_tp\n",
            object.len()
        )
    );
    assert_eq!(
        std::fs::read(dir.join("minimal-tool.bpf.o")).unwrap(),
        object
    );

    // inspect (and load, check) take the program itself.
    let (ok, text, err) = oxbpf(&["inspect", "minimal-tool"], &dir);
    assert!(ok, "{err}");
    assert!(text.contains("handle_tp"), "{text}");

    // Two objects: inspect cannot pick, and says what to do.
    tool.extend_from_slice(&object);
    std::fs::write(dir.join("two-tool"), &tool).unwrap();
    let (ok, _, err) = oxbpf(&["inspect", "two-tool"], &dir);
    assert!(!ok);
    assert!(
        err.contains("it embeds 2 BPF objects; write them out with `oxbpf extract` and pick one"),
        "{err}"
    );
    let (ok, text, _) = oxbpf(&["extract", "two-tool", "--out", "."], &dir);
    assert!(ok && text.lines().count() == 2, "{text}");
    assert!(dir.join("two-tool-2.bpf.o").exists());

    // oxbpf itself carries the demo's object.
    let (ok, text, err) = oxbpf(&["extract", env!("CARGO_BIN_EXE_oxbpf")], &dir);
    assert!(ok, "{err}");
    assert!(
        text.starts_with("./oxbpf.bpf.o: ")
            && text.ends_with("programs whoami, count_and_filter\n"),
        "{text}"
    );
    let (ok, _, err) = oxbpf(&["extract", "minimal-tool.bpf.o.missing"], &dir);
    assert!(!ok && err.contains("minimal-tool.bpf.o.missing: "), "{err}");
    let readme = testdata().join("README.md");
    let (ok, _, err) = oxbpf(&["extract", readme.to_str().unwrap()], &dir);
    assert!(!ok);
    assert!(err.ends_with("README.md: embeds no BPF object\n"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// veth0 here (10.9.0.1), veth1 in a second namespace `peer` (10.9.0.2): datagrams
/// to 10.9.0.2 cross the pair, and ARP and ICMP replies come back into veth0. For
/// scripts run under `unshare --net --mount`.
const PEER_VETH: &str = "mount -t tmpfs tmpfs /run
ip netns add peer
ip link add veth0 type veth peer name veth1 netns peer
ip addr add 10.9.0.1/24 dev veth0
ip link set veth0 up
ip -n peer addr add 10.9.0.2/24 dev veth1
ip -n peer link set veth1 up
";

/// `oxbpf run` tests take this lock: each run reads the kernel's trace pipe, and a line
/// read by one reader is gone for the others.
static TRACE_PIPE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn trace_pipe_lock() -> std::sync::MutexGuard<'static, ()> {
    TRACE_PIPE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads `child`'s stdout line by line until a line contains `marker`; returns the
/// lines read so far.
fn read_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    marker: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains(marker);
        seen.push(line);
        if done {
            return seen;
        }
    }
    panic!("no `{marker}` in:\n{}", seen.join("\n"));
}

#[test]
fn run_prints_ring_buffer_events_and_detaches_on_ctrl_c() {
    let _pipe = trace_pipe_lock();
    if !can_load("run_prints_ring_buffer_events_and_detaches_on_ctrl_c") {
        return;
    }
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        // The duration only ends a run whose output this test never sees the end of.
        .args(["run", "bootstrap.bpf.o", "--duration", "30"])
        .current_dir(testdata())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = read_until(&mut lines, "2 attached; running for 30 s");
    let ours = prog_ids_held_by(child.id());
    assert_eq!(ours.len(), 2, "{ours:?}");
    for _ in 0..3 {
        Command::new("/bin/true").status().unwrap();
    }
    // Records are typed by the object's `struct event`.
    seen.extend(read_until(&mut lines, r#"filename = "/bin/true""#));
    // SAFETY: sends SIGINT to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    seen.extend(lines.map(Result::unwrap));
    let status = child.wait().unwrap();
    let text = seen.join("\n");
    assert!(status.success(), "{text}");
    assert!(
        text.contains("attached: handle_exec on tracepoint sched/sched_process_exec"),
        "{text}"
    );
    assert!(
        text.contains(
            "records of rb printed as struct event (guessed from its name; --event-type to choose)"
        ),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("ring rb: { pid = ")
            && l.contains(r#"comm = "true", filename = "/bin/true", exit_event = false }"#)),
        "{text}"
    );
    assert!(
        text.contains("signal 2: stopping") && text.contains("detached 2"),
        "{text}"
    );
    // The programs went away with the process (by id: other processes may have
    // programs of these names).
    for _ in 0..50 {
        if ours.iter().all(|id| !prog_exists(*id)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("programs {ours:?} are still loaded after oxbpf run ended");
}

/// The ids of the BPF programs process `pid` holds descriptors of (its fdinfo's
/// `prog_id` lines): what a test started, whatever else the machine runs.
fn prog_ids_held_by(pid: u32) -> std::collections::BTreeSet<u32> {
    let mut ids = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .unwrap()
        .flatten()
    {
        let Ok(info) = std::fs::read_to_string(e.path()) else {
            continue; // closed meanwhile
        };
        ids.extend(info.lines().filter_map(|l| {
            l.strip_prefix("prog_id:")
                .and_then(|v| v.trim().parse::<u32>().ok())
        }));
    }
    ids
}

/// Whether a program of kernel id `id` is still loaded.
fn prog_exists(id: u32) -> bool {
    oxbpf(&["prog", "show", &id.to_string()], &testdata()).0
}

#[test]
fn run_refuses_an_event_type_the_object_does_not_define() {
    // Checked before anything is loaded: no privileges needed.
    let (ok, out, err) = oxbpf(
        &["run", "bootstrap.bpf.o", "--event-type", "rb=struct nosuch"],
        &testdata(),
    );
    assert!(!ok, "{out}{err}");
    assert!(
        err.contains(
            "--event-type struct nosuch: the object's BTF has no struct or union `nosuch`"
        ),
        "{err}"
    );
}

#[test]
fn run_prints_bpf_printk_lines() {
    let _pipe = trace_pipe_lock();
    if !can_load("run_prints_bpf_printk_lines") {
        return;
    }
    // minimal.bpf.o prints on write(2) by the pid in my_pid: a background shell that
    // writes six times. (Not oxbpf's own: each line it prints would fire the program
    // again.)
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(for i in 1 2 3 4 5 6; do sleep 0.25; echo $i; done) > /dev/null & w=$!; echo \"writer $w\"; exec '{}' run minimal.bpf.o --set my_pid=$w --duration 2",
            env!("CARGO_BIN_EXE_oxbpf")
        ))
        .current_dir(testdata())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // Lines of other programs printing on the machine may come between: count ours.
    let writer = text
        .lines()
        .find_map(|l| l.strip_prefix("writer "))
        .unwrap_or_else(|| panic!("{text}"));
    // Six writes, the first ones perhaps before the attach (a loaded machine).
    let n = text
        .matches(&format!("]: BPF triggered from PID {writer}."))
        .count();
    assert!((2..=6).contains(&n), "{text}");
    assert!(text.contains("detached 1"), "{text}");
}

#[test]
fn run_attaches_xdp_and_socket_filters_to_an_interface_and_leaves_nothing() {
    let _pipe = trace_pipe_lock();
    if !can_load("run_attaches_xdp_and_socket_filters_to_an_interface_and_leaves_nothing") {
        return;
    }
    // veth0 here, veth1 in a second namespace: datagrams cross the pair, and ARP and
    // ICMP port-unreachable replies come back.
    let script = format!(
        r#"set -e
xdp_out=$(mktemp); sock_out=$(mktemp)
{PEER_VETH}'{bin}' run xdp_stats_legacy.bpf.o --only xdp_stats_pass --iface veth0 --netlink --duration 3 > "$xdp_out" &
x=$!
'{bin}' run sockex1.bpf.o --iface veth0 --duration 3 > "$sock_out" &
s=$!
sleep 1
bash -c 'for i in 1 2 3; do echo hi > /dev/udp/10.9.0.2/9; sleep 0.2; done'
wait $x $s
echo "== xdp"; cat "$xdp_out"; echo "== sock"; cat "$sock_out"; rm "$xdp_out" "$sock_out"
echo "== after"; ip link show veth0
"#,
        bin = env!("CARGO_BIN_EXE_oxbpf")
    );
    let out = Command::new("unshare")
        .args(["--net", "--mount", "sh", "-c", &script])
        .current_dir(testdata())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xdp = text.split("== xdp").nth(1).unwrap_or_default();
    assert!(
        xdp.contains("attached: xdp_stats_pass on XDP on veth0 (auto mode, netlink)"),
        "{text}"
    );
    // xdp_stats_map: per-CPU {packets, bytes} by action; XDP_PASS (2) counted the replies.
    assert!(
        xdp.contains("map xdp_stats_map:") && xdp.lines().any(|l| l.starts_with("  2 => [")),
        "{text}"
    );
    let sock = text.split("== sock").nth(1).unwrap_or_default();
    // sockex1 counts outgoing bytes per IP protocol: UDP (17) from the datagrams, shown
    // typed by the map's BTF (`__u32` keys, `long` values).
    assert!(
        sock.contains("map my_map:") && sock.lines().any(|l| l.starts_with("  17 => ")),
        "{text}"
    );
    let after = text.split("== after").nth(1).unwrap_or_default();
    assert!(!after.contains("xdp"), "XDP left attached:\n{text}");
}

#[test]
fn attach_pins_links_that_outlive_oxbpf_and_detach_removes_them() {
    if !can_load("attach_pins_links_that_outlive_oxbpf_and_detach_removes_them") {
        return;
    }
    let out = in_private_bpffs(
        r#"
"$OXBPF" attach bootstrap.bpf.o --pin "$PIN"
echo "== links"
"$OXBPF" link list --json
"$OXBPF" prog list
echo "== detach"
"$OXBPF" detach "$PIN"
echo "== after"
"$OXBPF" link list
ls "$PIN"
"#,
    );
    let (attach, rest) = out.split_once("== links").unwrap();
    assert!(
        attach.contains(
            "attached: handle_exec on tracepoint sched/sched_process_exec; link pinned at "
        ),
        "{out}"
    );
    let (links, rest) = rest.split_once("== detach").unwrap();
    let (detach, after) = rest.split_once("== after").unwrap();
    assert_eq!(detach.matches("removed ").count(), 4, "{out}");
    // Our links, by the ids detach names (other processes may hold links and programs
    // of the same names): both were alive after oxbpf exited, and are gone after.
    let ours: Vec<&str> = detach
        .split("perf_event link ")
        .skip(1)
        .filter_map(|s| s.split_whitespace().next())
        .map(|id| id.trim_end_matches(','))
        .collect();
    assert_eq!(ours.len(), 2, "{out}");
    for id in ours {
        assert!(
            links.contains(&format!("\"id\": {id},")),
            "link {id} was not alive after attach: {out}"
        );
        assert!(
            !after
                .lines()
                .any(|l| l.split_whitespace().next() == Some(id)),
            "link {id} is still there: {out}"
        );
    }
    // The pin directory holds only bpffs's own files.
    assert!(
        after
            .lines()
            .rev()
            .take(2)
            .all(|l| l == "maps.debug" || l == "progs.debug"),
        "{out}"
    );
}

#[test]
fn run_prints_perf_and_ring_buffer_records() {
    let _pipe = trace_pipe_lock();
    if !can_load("run_prints_perf_and_ring_buffer_records") {
        return;
    }
    // events.bpf.o emits numbered records from XDP on veth0; the peer in a second
    // namespace answers the datagrams (ARP, ICMP port unreachable).
    let script = format!(
        r#"set -e
{PEER_VETH}'{bin}' run events.bpf.o --iface veth0 --duration 2 &
x=$!
sleep 1
bash -c 'for i in 1 2 3; do echo hi > /dev/udp/10.9.0.2/9; sleep 0.1; done'
wait $x
"#,
        bin = env!("CARGO_BIN_EXE_oxbpf")
    );
    let out = Command::new("unshare")
        .args(["--net", "--mount", "sh", "-c", &script])
        .current_dir(testdata())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Record 1: the number 1 and one copy of it (8 + (1 % 5) * 8 = 16 bytes).
    let one = "01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00";
    assert!(text.contains(&format!("ring rb: {one}")), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("perf pb (cpu ") && l.contains(&format!("): {one}"))),
        "{text}"
    );
    assert!(text.contains("detached 1"), "{text}");
}

#[test]
fn map_commands_dump_typed_values_and_change_entries() {
    if !can_load("map_commands_dump_typed_values_and_change_entries") {
        return;
    }
    let out = in_private_bpffs(
        r#"
"$OXBPF" load maps_more.bpf.o --pin-maps "$PIN" > /dev/null
"$OXBPF" load core.bpf.o --pin-maps "$PIN" > /dev/null
echo "== update"
"$OXBPF" map update "$PIN/percpu_hash" --key 7 --value 99
"$OXBPF" map update percpu_hash --key 8 --value-hex "01 00 00 00 00 00 00 00"
echo "== dump"
"$OXBPF" map dump "$PIN/percpu_hash"
echo "== json"
"$OXBPF" map lookup "$PIN/percpu_hash" --key 7 --json
echo "== bss"
"$OXBPF" map dump "$PIN/core_bss"
echo "== delete"
"$OXBPF" map delete "$PIN/percpu_hash" --key 7
"$OXBPF" map lookup "$PIN/percpu_hash" --key 7 2>&1 || true
"$OXBPF" map update "$PIN/core_bss" --key 0 --value 1 2>&1 || true
"$OXBPF" map update "$PIN/core_bss" --key 0 --value-hex "01 02" 2>&1 || true
"$OXBPF" map dump oxbpf_no_such_map 2>&1 || true
"#,
    );
    let part = |name: &str| {
        out.split(&format!("== {name}\n"))
            .nth(1)
            .unwrap_or_default()
            .split("\n== ")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert!(part("update").contains("updated key 07 00 00 00"), "{out}");
    let dump = part("dump");
    // Per-CPU: one value per CPU, typed by BTF (u32 key, u64 value).
    assert!(
        dump.contains("key: 7  (07 00 00 00)\n  cpu 0: 99  (63 00 00 00 00 00 00 00)"),
        "{out}"
    );
    assert!(
        dump.contains("key: 8  (08 00 00 00)\n  cpu 0: 1  (01 00 00 00 00 00 00 00)"),
        "{out}"
    );
    assert!(
        dump.contains("2 entries in percpu_hash map `percpu_hash`"),
        "{out}"
    );
    let json = part("json");
    assert!(
        json.contains("\"formatted\": 7") && json.contains("\"formatted\": 99"),
        "{out}"
    );
    // Global data: the variables of .bss by name.
    assert!(
        part("bss")
            .contains("value: { core_pid = 0, core_tgid = 0, core_ppid = 0, core_comm = \"\""),
        "{out}"
    );
    let delete = part("delete");
    assert!(delete.contains("deleted key 07 00 00 00"), "{out}");
    assert!(
        delete.contains("oxbpf: error: no entry for key 07 00 00 00"),
        "{out}"
    );
    // A value typed text cannot express, and raw bytes of the wrong size.
    assert!(
        delete.contains("value `1`: is datasec .bss; only integers, bools, enums and char arrays can be set from text"),
        "{out}"
    );
    assert!(
        delete.contains("value is 2 bytes, the map's is 72"),
        "{out}"
    );
    assert!(delete.contains("no map named `oxbpf_no_such_map`"), "{out}");
}

/// Runs `oxbpf run attach.bpf.o` with an XDP program, a tc program and a tracepoint on
/// a veth (over netlink, or through bpf_links), sends it `signal` once all three are
/// attached, and returns what it printed, then `oxbpf net list`, then whether any of
/// the three programs is still loaded.
fn killed_run(signal: &str, netlink: bool) -> String {
    let script = format!(
        r#"
ip link add veth0 type veth peer name veth1
ip link set veth0 up
ip link set veth1 up
out=$(mktemp)
"$OXBPF" run attach.bpf.o --only xdp_count --only tc_count --only on_getppid --iface veth1 {mode} > "$out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "3 attached" "$out" && break; sleep 0.05; done
# Our programs, by id (other processes may load programs of these names): the ones
# the run holds descriptors of.
ids=$(cat /proc/$pid/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {{ print $2 }}' | sort -u)
echo "programs: $(echo $ids | wc -w)"
# The ids of ours still loaded; fails when there is none.
ours() {{
  n=0
  for id in $ids; do "$OXBPF" prog show "$id" 2>/dev/null | tail -n +2 | grep . && n=1; done
  [ $n = 1 ]
}}
kill -{signal} $pid
wait $pid || true
cat "$out"
rm "$out"
echo "== net"
"$OXBPF" net list
echo "== progs"
# The kernel frees a program a deleted tc filter held in deferred work: wait for it.
for i in $(seq 60); do
  ours >/dev/null || break
  sleep 0.05
done
ours || echo "none of ours"
"#,
        mode = if netlink { "--netlink" } else { "" }
    );
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .env("OXBPF", env!("CARGO_BIN_EXE_oxbpf"))
        .current_dir(testdata())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_leaves_nothing_after_sigint_or_sigterm_and_says_what_sigkill_left() {
    let _pipe = trace_pipe_lock();
    if !can_load("run_leaves_nothing_after_sigint_or_sigterm_and_says_what_sigkill_left") {
        return;
    }
    for netlink in [false, true] {
        for signal in ["INT", "TERM"] {
            let out = killed_run(signal, netlink);
            let ctx = format!("SIG{signal}, netlink {netlink}:\n{out}");
            assert!(out.contains("3 attached"), "{ctx}");
            assert!(out.contains("programs: 3"), "{ctx}");
            assert!(out.contains("detached 3"), "{ctx}");
            assert!(
                out.contains("no BPF program is attached to an interface"),
                "{ctx}"
            );
            assert!(out.contains("none of ours"), "{ctx}");
        }
    }
    // SIGKILL: the process cannot clean up. bpf_links die with it...
    let out = killed_run("KILL", false);
    assert!(
        out.contains("3 attached") && !out.contains("detached"),
        "{out}"
    );
    assert!(
        out.contains("no BPF program is attached to an interface"),
        "{out}"
    );
    assert!(out.contains("none of ours"), "{out}");
    // ...netlink attachments belong to the interface and stay; `oxbpf net list` shows
    // them with the command that removes each (the tracepoint's perf link is gone).
    let out = killed_run("KILL", true);
    let net = out
        .split("== net")
        .nth(1)
        .and_then(|s| s.split("== progs").next())
        .unwrap_or_default();
    assert!(
        net.lines()
            .any(|l| l.contains("xdp_count")
                && l.contains("oxbpf net detach veth1 --xdp --xdp-mode ")),
        "{out}"
    );
    assert!(
        net.lines().any(|l| l.contains("tc_count")
            && l.contains("oxbpf net detach veth1 --tc ingress --priority 1 --handle 0x1")),
        "{out}"
    );
    let progs = out.split("== progs").nth(1).unwrap_or_default();
    assert!(!progs.contains("on_getppid"), "{out}");
}

#[test]
fn net_list_shows_links_and_the_clsact_qdisc_a_killed_run_left() {
    let _pipe = trace_pipe_lock();
    if !can_load("net_list_shows_links_and_the_clsact_qdisc_a_killed_run_left") {
        return;
    }
    let script = r#"
ip link add veth0 type veth peer name veth1
ip link set veth0 up
ip link set veth1 up
out=$(mktemp)
# XDP and TCX through bpf_links.
"$OXBPF" run attach.bpf.o --only xdp_count --only tc_count --iface veth1 --duration 20 > "$out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "2 attached" "$out" && break; sleep 0.05; done
echo "== links"
"$OXBPF" net list
kill -INT $pid; wait $pid
# A tc filter over netlink, on a clsact qdisc oxbpf adds, then SIGKILL.
"$OXBPF" run attach.bpf.o --only tc_count --iface veth1 --netlink --duration 20 > "$out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "1 attached" "$out" && break; sleep 0.05; done
kill -KILL $pid; wait $pid
rm "$out"
echo "== killed"
"$OXBPF" net list
echo "== detach"
"$OXBPF" net detach veth1 --tc ingress --priority 1 --handle 0x1
echo "== after"
"$OXBPF" net list
tc qdisc show dev veth1
"#;
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", script])
        .env("OXBPF", env!("CARGO_BIN_EXE_oxbpf"))
        .current_dir(testdata())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let section = |name: &str| {
        out.split(&format!("== {name}\n"))
            .nth(1)
            .and_then(|s| s.split("\n== ").next())
            .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
            .to_string()
    };
    let links = section("links");
    // Each link's row names it and the command that detaches it.
    let link_row = |hook: &str, prog: &str| {
        links.lines().find_map(|l| {
            let at = l.find(hook)?;
            let id = l[at + hook.len()..].split_whitespace().next()?;
            (l.contains(prog) && l.contains(&format!("oxbpf link detach {id} (or remove its pin)")))
                .then_some(())
        })
    };
    assert!(
        link_row(") through link ", "xdp_count").is_some()
            && link_row("tcx ingress through link ", "tc_count").is_some(),
        "{out}"
    );
    assert!(
        section("killed")
            .lines()
            .any(|l| l.contains("veth1") && l.contains("clsact qdisc oxbpf added (filters on it)")),
        "{out}"
    );
    assert_eq!(
        section("detach").trim(),
        "removed tc ingress priority 1 handle 0x1 from veth1, and the clsact qdisc oxbpf had added (no filter left on it)",
        "{out}"
    );
    let after = section("after");
    assert!(
        after.contains("no BPF program is attached to an interface") && !after.contains("clsact"),
        "{out}"
    );
}

#[test]
fn link_detach_and_net_detach_clsact_remove_what_net_list_offers() {
    let _pipe = trace_pipe_lock();
    if !can_load("link_detach_and_net_detach_clsact_remove_what_net_list_offers") {
        return;
    }
    let script = r#"
ip link add veth0 type veth peer name veth1
ip link set veth0 up
ip link set veth1 up
out=$(mktemp)
"$OXBPF" run attach.bpf.o --only xdp_count --iface veth1 --duration 20 > "$out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "1 attached" "$out" && break; sleep 0.05; done
id=$("$OXBPF" net list | awk '/through link/ { for (i = 1; i <= NF; i++) if ($i == "link") { print $(i + 1); exit } }')
echo "== link detach $id"
"$OXBPF" link detach "$id"
"$OXBPF" net list
kill -INT $pid; wait $pid
# A filter over netlink on a clsact qdisc oxbpf adds; SIGKILL; the filter removed by tc.
"$OXBPF" run attach.bpf.o --only tc_count --iface veth1 --netlink --duration 20 > "$out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "1 attached" "$out" && break; sleep 0.05; done
kill -KILL $pid; wait $pid
rm "$out"
tc filter del dev veth1 ingress
echo "== empty"
"$OXBPF" net list
echo "== clsact"
"$OXBPF" net detach veth1 --clsact
tc qdisc show dev veth1
echo "== theirs"
tc qdisc add dev veth0 clsact
"$OXBPF" net detach veth0 --clsact 2>&1; echo "rc=$?"
"#;
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", script])
        .env("OXBPF", env!("CARGO_BIN_EXE_oxbpf"))
        .current_dir(testdata())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let section = |name: &str| {
        out.split(&format!("== {name}"))
            .nth(1)
            .and_then(|s| s.split("\n== ").next())
            .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
            .to_string()
    };
    let detach = section("link detach ");
    let id = detach.lines().next().unwrap_or_default().trim();
    assert!(id.parse::<u32>().is_ok(), "{out}");
    assert!(
        detach.contains(&format!("detached xdp link {id} (program "))
            && detach.contains("no BPF program is attached to an interface"),
        "{out}"
    );
    assert!(
        section("empty").lines().any(|l| l.contains("veth1")
            && l.contains("clsact qdisc oxbpf added (empty)")
            && l.contains("oxbpf net detach veth1 --clsact")),
        "{out}"
    );
    let clsact = section("clsact");
    assert!(
        clsact.contains("removed the clsact qdisc oxbpf had added to veth1")
            && !clsact.contains("qdisc clsact"),
        "{out}"
    );
    let theirs = section("theirs");
    assert!(
        theirs.contains("oxbpf did not add the clsact qdisc of veth0 (no record in /run/oxbpf/clsact): another tool may use it; `tc qdisc del dev veth0 clsact` removes it")
            && theirs.contains("rc=1"),
        "{out}"
    );
}

/// The function the leftover-probe test probes, in this test binary.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn oxbpf_cli_probe_target() -> i32 {
    std::hint::black_box(7)
}

#[test]
fn probe_events_a_killed_process_left_are_listed_and_cleaned() {
    let test = "probe_events_a_killed_process_left_are_listed_and_cleaned";
    if std::env::var_os("OXBPF_LEFTOVER_HELPER").is_some() {
        // The child: a uprobe through a tracefs event, then death without cleanup.
        let mut obj = oxbpf_loader::Object::open(testdata().join("attach.bpf.o")).unwrap();
        obj.load_only(&["on_call"]).unwrap();
        let l = obj
            .load(&oxbpf_loader::load::LoadOptions::default())
            .unwrap();
        let exe = std::env::current_exe().unwrap();
        let link = l
            .program("on_call")
            .unwrap()
            .attach_uprobe_with(
                &exe,
                &oxbpf_prog::ProbeTarget::Symbol("oxbpf_cli_probe_target".into(), 0),
                None,
                false,
                oxbpf_prog::ProbeMode::Tracefs,
            )
            .unwrap();
        oxbpf_cli_probe_target();
        std::mem::forget(link);
        std::process::abort();
    }
    if !can_load(test) {
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env("OXBPF_LEFTOVER_HELPER", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(!child.wait().unwrap().success(), "the helper aborts");
    let ours = format!("uprobes/oxbpf_{pid}_oxbpf_cli_probe_target_");
    let (ok, list, err) = oxbpf(&["probes", "list"], &testdata());
    assert!(ok, "{err}");
    assert!(
        list.lines()
            .any(|l| l.starts_with(&format!("uprobe {ours}"))
                && l.ends_with(&format!(
                    "(process {pid}, gone: left behind; `oxbpf probes clean` removes it)"
                ))),
        "{list}"
    );
    let (ok, listed, err) = oxbpf(&["probes", "list", "--json"], &testdata());
    assert!(ok, "{err}");
    assert!(
        listed.starts_with('[')
            && listed.contains(&format!("\"pid\": {pid},"))
            && listed.contains("\"running\": false")
            && listed.contains(&format!("\"name\": \"{ours}")),
        "{listed}"
    );
    let (ok, cleaned, err) = oxbpf(&["probes", "clean"], &testdata());
    assert!(ok, "{err}");
    assert!(cleaned.contains(&format!("removed {ours}")), "{cleaned}");
    let (_, list, _) = oxbpf(&["probes", "list"], &testdata());
    assert!(!list.contains(&ours), "{list}");
}

#[test]
fn run_registers_struct_ops_maps_until_it_stops() {
    let _pipe = trace_pipe_lock();
    if !can_load("run_registers_struct_ops_maps_until_it_stops") {
        return;
    }
    let (ok, text, err) = oxbpf(&["run", "struct_ops.bpf.o", "--duration", "1"], &testdata());
    // Kernels before 6.4 have no link maps: see attach::a_struct_ops_congestion_….
    let new_enough = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|r| {
            let mut it = r.trim().split(['.', '-']).map(|n| n.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .is_some_and(|v| v >= (6, 4));
    if !new_enough {
        return;
    }
    assert!(ok, "{text}{err}");
    assert!(
        text.contains("attached: struct_ops map oxcc registered through a link")
            && text.contains("attached: struct_ops map oxcc_plain registered")
            && text.contains("detached 2"),
        "{text}"
    );
    // Unregistered at the end: both names are free again.
    let (ok, text, err) = oxbpf(
        &["run", "struct_ops.bpf.o", "--duration", "0.2"],
        &testdata(),
    );
    assert!(ok && text.contains("detached 2"), "{text}{err}");
}

#[test]
fn attach_pins_a_struct_ops_link_that_stays_registered_until_detach() {
    // The congestion control names are the machine's: one struct_ops test at a time.
    let _pipe = trace_pipe_lock();
    if !can_load("attach_pins_a_struct_ops_link_that_stays_registered_until_detach") {
        return;
    }
    let available = "/proc/sys/net/ipv4/tcp_available_congestion_control";
    let out = in_private_bpffs(&format!(
        r#"
"$OXBPF" attach struct_ops.bpf.o --pin "$PIN" || echo "attach failed"
echo "== after the failed attach"
cat {available}
ls "$PIN"
echo "== attach"
"$OXBPF" attach struct_ops.bpf.o --skip-map oxcc_plain --pin "$PIN"
echo "== registered"
cat {available}
echo "== detach"
"$OXBPF" detach "$PIN"
echo "== after"
cat {available}
"#
    ));
    if out.contains("need Linux 6.4") {
        return; // link maps: see attach::a_struct_ops_congestion_control_…
    }
    // With a map that cannot stay registered, the attach fails as a whole: the other
    // is unregistered again and nothing stays pinned.
    let (failed, rest) = out.split_once("== after the failed attach").unwrap();
    assert!(
        failed.contains("attached: struct_ops map oxcc registered through a link; link pinned at ")
            && failed
                .contains("struct_ops map oxcc_plain: a plain .struct_ops map has no link to pin")
            && failed.contains("not attached: nothing is left pinned in ")
            && failed.contains("attach failed"),
        "{out}"
    );
    let (left, rest) = rest.split_once("== attach").unwrap();
    assert!(
        !left.split_whitespace().any(|cc| cc == "oxcc")
            && left.lines().skip(2).collect::<Vec<_>>() == ["maps.debug", "progs.debug"],
        "the failed attach left something:\n{out}"
    );
    let (attach, rest) = rest.split_once("== registered").unwrap();
    assert!(
        attach.contains("attached: struct_ops map oxcc registered through a link; link pinned at ")
            && !attach.contains("oxcc_plain"),
        "{out}"
    );
    let (registered, rest) = rest.split_once("== detach").unwrap();
    assert!(
        registered.split_whitespace().any(|cc| cc == "oxcc"),
        "oxcc is not registered after oxbpf exited:\n{out}"
    );
    let (detach, after) = rest.split_once("== after").unwrap();
    assert!(
        detach.contains("removed ") && detach.contains("struct_ops link"),
        "{out}"
    );
    assert!(
        !after.split_whitespace().any(|cc| cc == "oxcc"),
        "oxcc is still registered after detach:\n{out}"
    );
}

#[test]
fn run_attaches_usdt_programs_from_their_section() {
    use std::io::{BufRead as _, Write as _};
    const TEST: &str = "run_attaches_usdt_programs_from_their_section";
    if !can_load(TEST) {
        return;
    }
    // on_ready's section names ./usdt_target: oxbpf runs where the target is built.
    let dir = std::env::temp_dir().join(format!("oxbpf-cli-usdt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let usdt = testdata().join("usdt");
    let built = Command::new("cc")
        .arg("-O2")
        .args([usdt.join("target.c"), usdt.join("semaphore.c")])
        .arg("-o")
        .arg(dir.join("usdt_target"))
        .output();
    if !built.as_ref().is_ok_and(|o| o.status.success()) {
        oxbpf_sys::gate::skip(
            TEST,
            &format!("cannot build the USDT target (cc, systemtap-sdt-dev): {built:?}"),
        );
        return;
    }
    let object = testdata().join("usdt.bpf.o");
    let run = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args([
            "run",
            object.to_str().unwrap(),
            "--only",
            "on_ready",
            "--duration",
            "3",
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut target = Command::new(dir.join("usdt_target"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = target.stdin.take().unwrap();
    let mut answers = std::io::BufReader::new(target.stdout.take().unwrap()).lines();
    assert_eq!(answers.next().unwrap().unwrap(), "started");
    // Fire until the probe shows enabled (oxbpf attached), then twice more.
    let mut enabled = 0;
    for n in 0..100 {
        writeln!(input, "{n}").unwrap();
        input.flush().unwrap();
        if answers.next().unwrap().unwrap() == "ready enabled" {
            enabled += 1;
            if enabled == 3 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(input);
    let _ = target.wait();
    let out = run.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(enabled, 3, "{text}");
    assert!(
        out.status.success()
            && text.contains("attached: on_ready on usdt ./usdt_target:oxbpf:ready (1 sites)")
            && text.contains("detached 1"),
        "{text}"
    );
}

#[test]
fn link_writes_one_object_from_two_and_fails_with_a_sentence_and_status_1() {
    let dir = std::env::temp_dir().join(format!("oxbpf-cli-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = |n: &str| testdata().join("link").join(n).display().to_string();
    let out = dir.join("linked.bpf.o").display().to_string();
    let (ok, stdout, stderr) = oxbpf(
        &["link", &out, &input("link1.bpf.o"), &input("link2.bpf.o")],
        &dir,
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("linked from 2 objects"), "{stdout}");
    let (ok, stdout, stderr) = oxbpf(&["inspect", &out], &dir);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("entry1") && stdout.contains("entry2"),
        "{stdout}"
    );
    // Two strong definitions of the same globals: exit 1, the symbol and both files named.
    let bad = dir.join("bad.bpf.o").display().to_string();
    let (ok, _, stderr) = oxbpf(
        &["link", &bad, &input("link2.bpf.o"), &input("link2.bpf.o")],
        &dir,
    );
    assert!(!ok);
    assert!(
        stderr.contains("is defined in both") && stderr.contains("link2.bpf.o"),
        "{stderr}"
    );
    assert!(!Path::new(&bad).exists(), "nothing written on failure");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gen_skeleton_writes_the_examples_skeletons_as_committed() {
    // The examples include skeletons made by this command: regenerating each gives the
    // same text, so the committed files are current.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../oxbpf/examples/skel");
    for (file, object, record) in [
        ("bootstrap_skel.rs", "bootstrap.bpf.o", "event"),
        ("connect_skel.rs", "connect.bpf.o", "connect_event"),
    ] {
        let path = format!("../../../testdata/{object}");
        let (ok, out, err) = oxbpf(&["gen", "skeleton", &path, "--type", record], &dir);
        assert!(ok, "{err}");
        let committed = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            out == committed,
            "oxbpf/examples/skel/{file} is stale: regenerate it there with \
             `oxbpf gen skeleton {path} --type {record} > {file}`"
        );
        assert!(out.contains(&format!("pub struct {record} {{")));
        assert!(out.contains(&format!("include_bytes!(\"{path}\")")));
    }
}

#[test]
fn gen_skeleton_names_what_it_cannot_find() {
    let (ok, _, err) = oxbpf(
        &["gen", "skeleton", "bootstrap.bpf.o", "--type", "nosuch"],
        &testdata(),
    );
    assert!(!ok);
    assert_eq!(
        err.trim(),
        "oxbpf: error: bootstrap.bpf.o: no struct, union, enum or typedef `nosuch` in its BTF"
    );
    let (ok, _, err) = oxbpf(&["gen", "skeleton", "nosuch.bpf.o"], &testdata());
    assert!(!ok);
    assert_eq!(
        err.trim(),
        "oxbpf: error: nosuch.bpf.o: No such file or directory (os error 2)"
    );
    // --name and --embed are written as given.
    let (ok, out, err) = oxbpf(
        &[
            "gen",
            "skeleton",
            "minimal.bpf.o",
            "--name",
            "my-tool",
            "--embed",
            "obj/minimal.bpf.o",
        ],
        &testdata(),
    );
    assert!(ok, "{err}");
    assert!(out.contains("pub mod my_tool {"));
    assert!(out.contains("include_bytes!(\"obj/minimal.bpf.o\")"));
}
