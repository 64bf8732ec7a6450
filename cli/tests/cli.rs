//! The command line, run as a user runs it: `oxbpf inspect` on every testdata object
//! against committed golden output (text and JSON) and on every object Debian's
//! xdp-tools installs; `btf dump`; `check`.
//!
//! After an intended change of output, rerun with `OXBPF_BLESS=1` to rewrite the golden
//! files, and review the diff.

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
