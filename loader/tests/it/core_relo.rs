//! CO-RE on the committed testdata objects against real BTF: the running kernel's
//! (values checked against the kernel's own BTF) and testdata/btf/old_kernel.btf.
//! Loading and running the relocated programs is tested with the load stage.

use std::sync::Arc;

use oxbpf_loader::Object;
use oxbpf_loader::btf::{Btf, Kind};
use oxbpf_loader::core::{CoreOutcome, CoreReloKind, CoreTargets, relocate_object};
use oxbpf_loader::prelude::*;

/// Byte offset of `field` in the kernel's `struct name`, read straight from its BTF.
fn member_offset(btf: &Btf, name: &str, field: &str) -> u64 {
    let t = btf.find_by_name_kind(name, Kind::Struct).unwrap();
    let m = t
        .members()
        .unwrap()
        .map(Result::unwrap)
        .find(|m| m.name == field)
        .unwrap();
    u64::from(m.bit_offset / 8)
}

fn find<'a>(
    outs: &'a [CoreOutcome],
    function: &str,
    kind: CoreReloKind,
    local: &str,
) -> &'a CoreOutcome {
    outs.iter()
        .find(|o| o.function == function && o.kind == kind && o.local == local)
        .unwrap_or_else(|| panic!("no {kind} relocation of {local} in {function}"))
}

#[test]
fn core_object_relocates_against_the_running_kernel() {
    let _serial = crate::serial();
    let vmlinux = Arc::new(Btf::from_sysfs().unwrap());
    let mut obj = Object::open(crate::testdata("core.bpf.o")).unwrap();
    let before = obj.programs[0].function.insns.clone();
    let outs = relocate_object(
        &mut obj,
        oxbpf_loader::modules::running_kernel_targets(vmlinux.clone()),
    )
    .unwrap();
    assert_eq!(outs.len(), 25);
    assert!(
        outs.iter().all(|o| o.failure.is_none()),
        "{:#?}",
        outs.iter()
            .filter(|o| o.failure.is_some())
            .collect::<Vec<_>>()
    );
    for field in ["pid", "tgid", "real_parent", "comm"] {
        let o = find(
            &outs,
            "core_read_task",
            CoreReloKind::FieldByteOffset,
            &format!("struct task_struct.{field}"),
        );
        assert_eq!(
            o.fixup.new,
            member_offset(&vmlinux, "task_struct", field),
            "{field}"
        );
    }
    // `state` became `__state` in 5.14: the flavored check says which one is here.
    let renamed = crate::kernel_since(5, 14);
    let old = find(
        &outs,
        "core_read_task",
        CoreReloKind::FieldExists,
        "struct task_struct___old.state",
    );
    assert_eq!(
        (old.fixup.new, old.fixup.poison),
        (u64::from(!renamed), false)
    );
    let new = find(
        &outs,
        "core_read_task",
        CoreReloKind::FieldExists,
        "struct task_struct.__state",
    );
    assert_eq!(new.fixup.new, u64::from(renamed));
    assert_eq!(
        find(
            &outs,
            "core_read_task",
            CoreReloKind::TypeExists,
            "struct oxbpf_no_such_type"
        )
        .fixup
        .new,
        0
    );
    assert_eq!(
        find(
            &outs,
            "core_read_task",
            CoreReloKind::EnumvalValue,
            "enum pid_type::PIDTYPE_PGID"
        )
        .fixup
        .new,
        2
    );
    assert_eq!(
        find(
            &outs,
            "core_read_task",
            CoreReloKind::TypeMatches,
            "struct list_head"
        )
        .fixup
        .new,
        1
    );
    // The instructions changed where the kernel's layout differs from the local one.
    let after = &obj.programs[0].function.insns;
    assert_ne!(&before, after);
    let pid = find(
        &outs,
        "core_read_task",
        CoreReloKind::FieldByteOffset,
        "struct task_struct.pid",
    );
    assert_eq!(after[pid.insn].imm as u64, pid.fixup.new);
}

#[test]
fn core_object_relocates_against_an_older_layout() {
    let _serial = crate::serial();
    let old = Arc::new(Btf::from_file(&crate::testdata("btf/old_kernel.btf")).unwrap());
    let mut obj = Object::open(crate::testdata("core.bpf.o")).unwrap();
    let outs = relocate_object(&mut obj, CoreTargets::custom("old_kernel.btf", old)).unwrap();
    let pid = find(
        &outs,
        "core_read_task",
        CoreReloKind::FieldByteOffset,
        "struct task_struct.pid",
    );
    assert_eq!(pid.fixup.new, 56);
    assert_eq!(
        pid.target.as_deref(),
        Some("old_kernel.btf: struct task_struct.pid")
    );
    // tgid does not exist there: the instruction is poisoned, and the outcome says why.
    let tgid = find(
        &outs,
        "core_read_task",
        CoreReloKind::FieldByteOffset,
        "struct task_struct.tgid",
    );
    assert!(tgid.fixup.poison);
    assert_eq!(
        tgid.failure.as_deref(),
        Some("no field `tgid` in target struct task_struct")
    );
    let insn = obj.programs[0].function.insns[tgid.insn];
    assert_eq!(
        (insn.code, insn.imm),
        (0x85, oxbpf_loader::core::patch::POISON_IMM)
    );
    // The flavored struct finds `state`; the enum lost PIDTYPE_TGID and PGID moved.
    assert_eq!(
        find(
            &outs,
            "core_read_task",
            CoreReloKind::FieldExists,
            "struct task_struct___old.state"
        )
        .fixup
        .new,
        1
    );
    assert_eq!(
        find(
            &outs,
            "core_read_task",
            CoreReloKind::EnumvalExists,
            "enum pid_type::PIDTYPE_TGID"
        )
        .fixup
        .new,
        0
    );
    assert_eq!(
        find(
            &outs,
            "core_read_task",
            CoreReloKind::EnumvalValue,
            "enum pid_type::PIDTYPE_PGID"
        )
        .fixup
        .new,
        1
    );
    // The bitfield moved: 1 bit at bit 198, loaded as 4 bytes from byte 24.
    let lshift = find(
        &outs,
        "core_bitfield_btf",
        CoreReloKind::FieldLshiftU64,
        "struct task_struct.sched_contributes_to_load",
    );
    assert_eq!(lshift.fixup.new, 64 - (198 + 1 - 24 * 8));
}

#[test]
fn every_testdata_object_relocates_against_the_running_kernel() {
    let _serial = crate::serial();
    let vmlinux = Arc::new(Btf::from_sysfs().unwrap());
    for path in crate::testdata_objects() {
        // A sched_ext scheduler reads sched_ext's types, which a kernel without it lacks
        // (attach::a_sched_ext_scheduler_… checks the refusal there).
        if path.ends_with("sched_ext.bpf.o")
            && vmlinux
                .find_by_name_kind("scx_exit_info", oxbpf_loader::btf::Kind::Struct)
                .is_none()
        {
            continue;
        }
        let mut obj = Object::open(&path).unwrap();
        let outs = relocate_object(
            &mut obj,
            oxbpf_loader::modules::running_kernel_targets(vmlinux.clone()),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for o in &outs {
            assert!(o.failure.is_none(), "{}: {}", path.display(), o.summary());
        }
    }
}
