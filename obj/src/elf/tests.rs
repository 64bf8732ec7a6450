//! The ELF stage on the committed testdata objects, and on those objects corrupted in
//! each way the bad-input list names.

use super::*;
use oxbpf_uapi::{AttachType, MapType, ProgType};

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

fn open(name: &str) -> Object {
    Object::open(testdata(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap()
}

fn prog<'a>(obj: &'a Object, name: &str) -> &'a ProgramSpec {
    obj.programs
        .iter()
        .find(|p| p.name() == name)
        .unwrap_or_else(|| panic!("no program {name}"))
}

fn map<'a>(obj: &'a Object, name: &str) -> &'a MapSpec {
    obj.maps
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no map {name}"))
}

fn kinds(f: &Function) -> Vec<&'static str> {
    f.relocs.iter().map(|r| r.kind.label()).collect()
}

#[test]
fn every_testdata_object_parses() {
    let dir = std::fs::read_dir(testdata("")).unwrap();
    let mut n = 0;
    for entry in dir {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "o") {
            let obj = Object::open(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!obj.programs.is_empty(), "{}: no programs", obj.name);
            assert!(obj.btf.is_some(), "{}: no BTF", obj.name);
            assert!(obj.warnings.is_empty(), "{}: {:?}", obj.name, obj.warnings);
            n += 1;
        }
    }
    assert!(n >= 15, "only {n} objects found");
}

#[test]
fn xdp_pass_has_one_program_and_the_printk_format_in_rodata() {
    let obj = open("xdp_pass.bpf.o");
    assert_eq!(obj.license, "GPL");
    assert_eq!(obj.endian, Endian::Little);
    let p = prog(&obj, "xdp_pass");
    assert_eq!(p.prog_type, Some(ProgType::XDP));
    assert_eq!(p.expected_attach_type, Some(AttachType::XDP));
    assert!(p.autoload);
    assert_eq!(kinds(&p.function), ["data"]);
    assert_eq!(obj.data.len(), 1);
    assert_eq!(obj.data[0].kind, DataKind::Rodata);
    assert!(
        obj.data[0]
            .bytes
            .starts_with(b"xdp_pass: packet of %d bytes")
    );
}

#[test]
fn sockex1_socket_filter_uses_ld_abs_and_an_array() {
    let obj = open("sockex1.bpf.o");
    let p = prog(&obj, "bpf_prog1");
    assert_eq!(p.prog_type, Some(ProgType::SOCKET_FILTER));
    // LD_ABS | BPF_B: the classic packet load the kernel still accepts in socket filters.
    assert!(
        p.function.insns.iter().any(|i| i.code == 0x30),
        "no LD_ABS byte load"
    );
    let m = map(&obj, "my_map");
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (MapType::ARRAY, 4, 8, 256)
    );
    assert_eq!(p.function.relocs[0].kind, RelocKind::Map { map: 0 });
}

#[test]
fn legacy_bpf_map_def_is_read_from_maps_section() {
    let obj = open("xdp_stats_legacy.bpf.o");
    let m = map(&obj, "xdp_stats_map");
    assert_eq!(m.source, MapDefSource::Legacy);
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (MapType::PERCPU_ARRAY, 4, 16, 5)
    );
    assert_eq!(obj.programs.len(), 2);
    for p in &obj.programs {
        assert_eq!(kinds(&p.function), ["map"]);
    }
}

#[test]
fn minimal_tracepoint_has_target_and_bss_pid() {
    let obj = open("minimal.bpf.o");
    let p = prog(&obj, "handle_tp");
    assert_eq!(p.prog_type, Some(ProgType::TRACEPOINT));
    assert_eq!(p.attach_target.as_deref(), Some("syscalls/sys_enter_write"));
    let bss = obj.data.iter().find(|d| d.kind == DataKind::Bss).unwrap();
    assert_eq!(bss.symbols[0].name, "my_pid");
    assert_eq!(obj.license, "Dual BSD/GPL");
}

#[test]
fn bootstrap_has_hash_ringbuf_and_rodata_config() {
    let obj = open("bootstrap.bpf.o");
    assert_eq!(map(&obj, "exec_start").map_type, MapType::HASH);
    assert!(map(&obj, "exec_start").key_type.is_some());
    assert_eq!(
        (map(&obj, "rb").map_type, map(&obj, "rb").max_entries),
        (MapType::RINGBUF, 256 * 1024)
    );
    let ro = obj.data.iter().find(|d| d.name == ".rodata").unwrap();
    assert_eq!(ro.symbols[0].name, "min_duration_ns");
    assert_eq!(
        prog(&obj, "handle_exec").attach_target.as_deref(),
        Some("sched/sched_process_exec")
    );
    assert_eq!(
        prog(&obj, "handle_exit").attach_target.as_deref(),
        Some("sched/sched_process_exit")
    );
    assert!(obj.btf_ext.is_some());
}

#[test]
fn multi_prog_sections_subprograms_and_data() {
    let obj = open("multi_prog.bpf.o");
    let in_xdp: Vec<_> = obj
        .programs
        .iter()
        .filter(|p| p.section() == "xdp")
        .map(|p| p.name())
        .collect();
    assert_eq!(in_xdp, ["xdp_first", "xdp_second"]);
    let in_tc: Vec<_> = obj
        .programs
        .iter()
        .filter(|p| p.section() == "tc")
        .map(|p| p.name())
        .collect();
    assert_eq!(in_tc, ["tc_first", "tc_second"]);
    let subs: Vec<_> = obj
        .subprograms
        .iter()
        .map(|f| (f.name.as_str(), f.global))
        .collect();
    assert_eq!(
        subs,
        [
            ("global_bump", true),
            ("static_scale", false),
            ("loop_step", false)
        ]
    );

    // Calls resolve to the callee's first instruction in .text, whether the relocation
    // names the function (global) or the section (static).
    let text = obj.subprograms[0].section_index;
    let start = |n: &str| {
        obj.subprograms
            .iter()
            .find(|f| f.name == n)
            .unwrap()
            .insn_offset
    };
    let calls: Vec<_> = prog(&obj, "xdp_first")
        .function
        .relocs
        .iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        calls,
        [
            RelocKind::Call {
                section_index: text,
                insn: start("static_scale")
            },
            RelocKind::Call {
                section_index: text,
                insn: start("global_bump")
            },
        ]
    );
    // bpf_loop's callback is an ld_imm64 of a function address.
    assert_eq!(
        prog(&obj, "xdp_second").function.relocs[0].kind,
        RelocKind::FuncAddr {
            section_index: text,
            insn: start("loop_step")
        }
    );

    let names: Vec<_> = obj.data.iter().map(|d| (d.name.as_str(), d.kind)).collect();
    assert_eq!(
        names,
        [
            (".data", DataKind::Data),
            (".rodata", DataKind::Rodata),
            (".data.foo", DataKind::Data),
            (".rodata.bar", DataKind::Rodata),
            (".bss", DataKind::Bss),
        ]
    );
    // The static variable is reached through the section symbol plus an offset.
    let bss = obj.data.iter().position(|d| d.name == ".bss").unwrap();
    let bump = &obj.subprograms[0];
    assert!(bump.relocs.iter().any(|r| r.kind
        == RelocKind::Data {
            data: bss,
            offset: 4
        }
        && r.symbol == ".bss"));
    assert_eq!(obj.data[0].bytes, 5i32.to_le_bytes());

    let optional = prog(&obj, "tc_optional");
    assert!(!optional.autoload);
    assert_eq!(optional.prog_type, Some(ProgType::SCHED_CLS));
    let mystery = prog(&obj, "mystery_prog");
    assert_eq!((mystery.prog_type, mystery.section_def), (None, None));
}

#[test]
fn big_endian_objects_give_the_same_model() {
    for name in ["multi_prog", "maps_btf"] {
        let le = open(&format!("{name}.bpf.o"));
        let be = open(&format!("{name}.bpfeb.o"));
        assert_eq!(be.endian, Endian::Big);
        // Instructions may legitimately differ (clang merges stores of constants into
        // wider ones, whose immediates depend on byte order); everything else may not.
        let strip = |f: &Function| Function {
            insns: Vec::new(),
            ..f.clone()
        };
        let progs = |o: &Object| {
            o.programs
                .iter()
                .map(|p| {
                    (
                        strip(&p.function),
                        p.function.insns.len(),
                        p.prog_type,
                        p.attach_target.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(progs(&le), progs(&be), "{name}: programs differ");
        let subs = |o: &Object| {
            o.subprograms
                .iter()
                .map(|f| (strip(f), f.insns.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(subs(&le), subs(&be), "{name}: subprograms differ");
        assert_eq!(le.maps, be.maps, "{name}: maps differ");
        assert_eq!(le.externs, be.externs);
        let le_data: Vec<_> = le
            .data
            .iter()
            .map(|d| (&d.name, d.size, &d.symbols))
            .collect();
        let be_data: Vec<_> = be
            .data
            .iter()
            .map(|d| (&d.name, d.size, &d.symbols))
            .collect();
        assert_eq!(le_data, be_data);
    }
}

#[test]
fn externs_are_typed_by_btf() {
    let obj = open("externs.bpf.o");
    let get = |n: &str| {
        obj.externs
            .iter()
            .find(|e| e.name == n)
            .unwrap_or_else(|| panic!("no extern {n}"))
    };
    assert_eq!(get("LINUX_KERNEL_VERSION").kind, ExternKind::Kconfig);
    assert_eq!(get("CONFIG_BPF_SYSCALL").kind, ExternKind::Kconfig);
    assert_eq!(get("CONFIG_IPV6").kind, ExternKind::Kconfig);
    assert_eq!(get("LINUX_HAS_BPF_COOKIE").kind, ExternKind::Kconfig);
    let weak = get("CONFIG_OXBPF_NO_SUCH_OPTION");
    assert!(weak.weak);
    assert!(!get("CONFIG_IPV6").weak);
    assert_eq!(get("bpf_prog_active").kind, ExternKind::Ksym);
    assert_eq!(get("schedule").kind, ExternKind::KsymTypeless);
    let absent = get("oxbpf_no_such_symbol");
    assert!(absent.weak && absent.kind == ExternKind::KsymTypeless);
    assert_eq!(get("bpf_task_from_pid").kind, ExternKind::Kfunc);
    assert!(get("bpf_task_from_pid").weak && get("bpf_prog_active").weak);
    assert_eq!(get("bpf_task_release").kind, ExternKind::Kfunc);
    let p = prog(&obj, "externs_fork");
    assert_eq!(p.prog_type, Some(ProgType::TRACING));
    assert_eq!(p.attach_target.as_deref(), Some("sched_process_fork"));
    assert_eq!(
        kinds(&p.function)
            .iter()
            .filter(|k| **k == "extern")
            .count(),
        7
    );
    let k = prog(&obj, "kfunc_fork");
    assert!(!k.autoload);
    assert_eq!(
        kinds(&k.function).iter().filter(|k| **k == "kfunc").count(),
        2
    );
}

#[test]
fn btf_maps_of_every_shape() {
    let obj = open("maps_btf.bpf.o");
    let lpm = map(&obj, "lpm_map");
    assert_eq!(
        (lpm.map_type, lpm.map_flags, lpm.key_size),
        (MapType::LPM_TRIE, 1, 8)
    );
    assert_eq!(map(&obj, "bloom").map_extra, 3);
    assert_eq!(map(&obj, "pinned_counts").pinning, Pinning::ByName);
    let perf = map(&obj, "perf_events");
    assert_eq!(
        (
            perf.map_type,
            perf.max_entries,
            perf.key_size,
            perf.value_size
        ),
        (MapType::PERF_EVENT_ARRAY, 0, 4, 4)
    );
    let stacks = map(&obj, "stacks");
    assert_eq!(
        (stacks.map_type, stacks.value_size),
        (MapType::STACK_TRACE, 127 * 8)
    );

    let outer = map(&obj, "outer");
    let inner = outer.inner.as_deref().unwrap();
    assert_eq!(
        (inner.name.as_str(), inner.map_type, inner.max_entries),
        ("outer.inner", MapType::ARRAY, 1)
    );
    assert_eq!(outer.value_size, 4);
    assert_eq!(
        outer.init,
        [
            (0, MapInitValue::Map("inner_a".into())),
            (1, MapInitValue::Map("inner_b".into()))
        ]
    );

    let jt = map(&obj, "jump_table");
    assert_eq!(jt.map_type, MapType::PROG_ARRAY);
    assert_eq!(
        jt.init,
        [
            (0, MapInitValue::Program("tail_a".into())),
            (1, MapInitValue::Program("tail_b".into()))
        ]
    );

    // Each map reference names the map it loads.
    let p = prog(&obj, "xdp_maps");
    for r in &p.function.relocs {
        let RelocKind::Map { map } = r.kind else {
            panic!("{r:?}")
        };
        assert_eq!(obj.maps[map].name, r.symbol);
    }
}

#[test]
fn program_kinds_from_section_names() {
    let trace = open("progtypes_trace.bpf.o");
    let cases = [
        (
            "fentry_unlinkat",
            ProgType::TRACING,
            Some(AttachType::TRACE_FENTRY),
            Some("vfs_unlink"),
        ),
        (
            "fexit_unlinkat",
            ProgType::TRACING,
            Some(AttachType::TRACE_FEXIT),
            Some("vfs_unlink"),
        ),
        (
            "fmod_file_open",
            ProgType::TRACING,
            Some(AttachType::MODIFY_RETURN),
            Some("security_file_open"),
        ),
        (
            "tp_btf_switch",
            ProgType::TRACING,
            Some(AttachType::TRACE_RAW_TP),
            Some("sched_switch"),
        ),
        (
            "raw_tp_switch",
            ProgType::RAW_TRACEPOINT,
            None,
            Some("sched_switch"),
        ),
        (
            "lsm_file_open",
            ProgType::LSM,
            Some(AttachType::LSM_MAC),
            Some("file_open"),
        ),
        (
            "iter_tasks",
            ProgType::TRACING,
            Some(AttachType::TRACE_ITER),
            Some("task"),
        ),
        (
            "kprobe_unlinkat",
            ProgType::KPROBE,
            None,
            Some("vfs_unlink"),
        ),
        (
            "uprobe_target",
            ProgType::KPROBE,
            None,
            Some("/proc/self/exe:oxbpf_uprobe_target"),
        ),
        ("perf_sample", ProgType::PERF_EVENT, None, None),
    ];
    for (name, t, a, target) in cases {
        let p = prog(&trace, name);
        assert_eq!(
            (
                p.prog_type,
                p.expected_attach_type,
                p.attach_target.as_deref()
            ),
            (Some(t), a, target),
            "{name}"
        );
    }
    assert!(prog(&trace, "fentry_sleepable").sleepable());
    assert!(!prog(&trace, "fentry_unlinkat").sleepable());

    let net = open("progtypes_net.bpf.o");
    let cases = [
        (
            "cgroup_egress",
            ProgType::CGROUP_SKB,
            Some(AttachType::CGROUP_INET_EGRESS),
        ),
        ("tc_pass", ProgType::SCHED_CLS, None),
        (
            "tcx_ingress_pass",
            ProgType::SCHED_CLS,
            Some(AttachType::TCX_INGRESS),
        ),
        (
            "msg_verdict",
            ProgType::SK_MSG,
            Some(AttachType::SK_MSG_VERDICT),
        ),
        (
            "skb_verdict",
            ProgType::SK_SKB,
            Some(AttachType::SK_SKB_STREAM_VERDICT),
        ),
        (
            "connect4_allow",
            ProgType::CGROUP_SOCK_ADDR,
            Some(AttachType::CGROUP_INET4_CONNECT),
        ),
        (
            "lookup_pass",
            ProgType::SK_LOOKUP,
            Some(AttachType::SK_LOOKUP),
        ),
        (
            "dissect",
            ProgType::FLOW_DISSECTOR,
            Some(AttachType::FLOW_DISSECTOR),
        ),
        ("xdp_frags_pass", ProgType::XDP, Some(AttachType::XDP)),
    ];
    for (name, t, a) in cases {
        let p = prog(&net, name);
        assert_eq!(
            (p.prog_type, p.expected_attach_type),
            (Some(t), a),
            "{name}"
        );
    }
    assert!(prog(&net, "xdp_frags_pass").section_flags() & crate::section::flags::XDP_FRAGS != 0);
}

// ---- Bad input: each corruption gives an error naming the file and the problem. ----

/// File offsets of ELF structures in a (little-endian) testdata object, found with the
/// `object` crate so the tests corrupt exactly the field they mean to.
struct Layout {
    shoff: usize,
    sections: Vec<(String, usize, usize)>, // name, sh_offset, sh_size
    symtab_off: usize,
    symbols: Vec<String>,
}

fn layout(data: &[u8]) -> Layout {
    let h = Header::parse(data).unwrap();
    let e = h.endian().unwrap();
    let t = h.sections(e, data).unwrap();
    let sections = t
        .iter()
        .map(|s| {
            let name = String::from_utf8_lossy(t.section_name(e, s).unwrap()).into_owned();
            (name, s.sh_offset(e) as usize, s.sh_size(e) as usize)
        })
        .collect::<Vec<_>>();
    let symtab_off = sections.iter().find(|s| s.0 == ".symtab").unwrap().1;
    let st = t.symbols(e, data, elf::SHT_SYMTAB).unwrap();
    let symbols = st
        .iter()
        .map(|s| String::from_utf8_lossy(st.symbol_name(e, s).unwrap()).into_owned())
        .collect();
    Layout {
        shoff: h.e_shoff(e) as usize,
        sections,
        symtab_off,
        symbols,
    }
}

impl Layout {
    fn sym(&self, name: &str) -> usize {
        let i = self.symbols.iter().position(|s| s == name).unwrap();
        self.symtab_off + i * 24
    }

    fn section(&self, name: &str) -> (usize, usize) {
        let s = self.sections.iter().find(|s| s.0 == name).unwrap();
        (s.1, s.2)
    }
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn parse_err(name: &str, data: &[u8]) -> String {
    match Object::parse(name, data) {
        Ok(_) => panic!("{name}: corrupted object parsed"),
        Err(e) => {
            let mut s = e.to_string();
            let mut c = std::error::Error::source(&e);
            while let Some(cause) = c {
                s = format!("{s}: {cause}");
                c = cause.source();
            }
            s
        }
    }
}

#[test]
fn truncated_files_are_errors_never_panics() {
    let data = bytes("multi_prog.bpf.o");
    for len in 0..data.len() {
        let _ = Object::parse("cut.o", &data[..len]);
    }
    // A cut file says how big it is and what its headers place past the end.
    let l = layout(&data);
    let table_end = l.shoff + 64 * l.sections.len();
    assert_eq!(
        parse_err("cut.o", &data[..100]),
        format!(
            "cut.o: truncated: the file is 100 bytes, but its section header table is at bytes {}..{table_end} (was it cut short while copied or downloaded?)",
            l.shoff
        )
    );
    assert_eq!(
        parse_err("cut.o", &data[..30]),
        "cut.o: truncated: the file is 30 bytes, but its ELF header is at bytes 0..64 (was it cut short while copied or downloaded?)"
    );
    assert_eq!(
        parse_err("empty.o", &[]),
        "empty.o: not an ELF file (too short)"
    );
}

#[test]
fn non_elf_file_is_an_error() {
    let err = parse_err("notes.txt", b"this is not an object file at all");
    assert_eq!(err, "notes.txt: not an ELF file (bad magic)");
}

#[test]
fn elf_for_another_machine_is_an_error() {
    let mut data = bytes("xdp_pass.bpf.o");
    data[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    let err = parse_err("x86.o", &data);
    assert_eq!(
        err,
        "x86.o: ELF machine is 62, not BPF (EM_BPF = 247): build BPF objects with clang --target=bpf"
    );
}

#[test]
fn executable_rather_than_object_is_an_error() {
    let mut data = bytes("xdp_pass.bpf.o");
    data[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    assert!(parse_err("exe.o", &data).contains("not a relocatable object"));
}

#[test]
fn section_header_table_past_the_end_is_an_error() {
    let mut data = bytes("xdp_pass.bpf.o");
    let len = data.len() as u64;
    put_u64(&mut data, 0x28, len + 64); // e_shoff
    let err = parse_err("shoff.o", &data);
    assert!(
        err.starts_with(&format!(
            "shoff.o: truncated: the file is {len} bytes, but its section header table is at bytes {}..",
            len + 64
        )),
        "{err}"
    );
}

#[test]
fn section_data_past_the_end_is_an_error() {
    let mut data = bytes("xdp_pass.bpf.o");
    let l = layout(&data);
    // sh_offset of the `xdp` section (a header is 64 bytes; sh_offset at +24).
    let xdp = l.sections.iter().position(|s| s.0 == "xdp").unwrap();
    let len = data.len() as u64;
    put_u64(&mut data, l.shoff + 64 * xdp + 24, len);
    let err = parse_err("secdata.o", &data);
    assert!(
        err.starts_with(&format!(
            "secdata.o: truncated: the file is {len} bytes, but its section `xdp` is at bytes {len}.."
        )),
        "{err}"
    );
    put_u64(&mut data, l.shoff + 64 * xdp + 24, len + 1);
    let err = parse_err("secdata.o", &data);
    assert!(
        err.starts_with(&format!(
            "secdata.o: section `xdp`: data at bytes {}..",
            len + 1
        )) && err.ends_with(&format!("lies outside the file ({len} bytes)")),
        "{err}"
    );
}

#[test]
fn symbol_pointing_outside_its_section_is_an_error() {
    let mut data = bytes("multi_prog.bpf.o");
    let l = layout(&data);
    put_u64(&mut data, l.sym("xdp_second") + 8, 0x1000); // st_value
    let err = parse_err("sym.o", &data);
    assert_eq!(
        err,
        "sym.o: section `xdp`: symbol `xdp_second` (offset 4096, size 120) lies outside the section (224 bytes)"
    );

    // A data variable too.
    let mut data = bytes("multi_prog.bpf.o");
    put_u64(&mut data, l.sym("bss_hits") + 16, 100); // st_size
    let err = parse_err("var.o", &data);
    assert!(
        err.contains("symbol `bss_hits` (offset 0, size 100) lies outside the section (8 bytes)"),
        "{err}"
    );
}

#[test]
fn relocation_off_an_instruction_boundary_is_an_error() {
    let mut data = bytes("multi_prog.bpf.o");
    let l = layout(&data);
    let (rel, _) = l.section(".relxdp");
    put_u64(&mut data, rel, 0x12); // r_offset of the first entry
    let err = parse_err("rel.o", &data);
    assert_eq!(
        err,
        "rel.o: section `xdp`: relocation #0 at offset 18 is not on an instruction boundary (8 bytes)"
    );
}

#[test]
fn relocation_past_the_section_end_or_on_a_plain_instruction_is_an_error() {
    let mut data = bytes("multi_prog.bpf.o");
    let l = layout(&data);
    let (rel, _) = l.section(".relxdp");
    put_u64(&mut data, rel, 0x1000);
    let err = parse_err("rel.o", &data);
    assert!(
        err.contains("relocation #0 at insn #512") && err.contains("past the end of the section"),
        "{err}"
    );

    let mut data = bytes("multi_prog.bpf.o");
    put_u64(&mut data, rel, 0); // insn 0 of xdp_first is not a call or ld_imm64
    let err = parse_err("rel.o", &data);
    assert!(err.contains("is neither an ld_imm64 nor a call"), "{err}");
}

#[test]
fn legacy_map_definition_of_unexpected_size_is_an_error() {
    let mut data = bytes("xdp_stats_legacy.bpf.o");
    let l = layout(&data);
    put_u64(&mut data, l.sym("xdp_stats_map") + 16, 12); // st_size
    let err = parse_err("legacy.o", &data);
    assert_eq!(
        err,
        "legacy.o: section `maps`: map `xdp_stats_map` definition is 12 bytes; expected at least 20 (struct bpf_map_def) and a multiple of 4"
    );
}

#[test]
fn corrupted_btf_is_an_error_when_maps_need_it() {
    let mut data = bytes("sockex1.bpf.o");
    let l = layout(&data);
    let (btf, _) = l.section(".BTF");
    data[btf] = 0; // break the magic
    let err = parse_err("btf.o", &data);
    assert_eq!(
        err,
        "btf.o: invalid .BTF section: not BTF: bad magic (expected 0xeb9f)"
    );

    // Without BTF maps, the object still parses and says what it ignored.
    let mut data = bytes("http_filter.bpf.o");
    let l = layout(&data);
    let (btf, _) = l.section(".BTF");
    data[btf] = 0;
    let obj = Object::parse("nomaps.o", &data).unwrap();
    assert!(obj.btf.is_none());
    assert_eq!(
        obj.warnings,
        [
            "invalid .BTF ignored: not BTF: bad magic (expected 0xeb9f)",
            // It has no CO-RE relocations: only source lines are lost.
            ".BTF.ext ignored: no valid .BTF to read it with"
        ]
    );
    assert!(obj.btf_ext.is_none());
}

#[test]
fn random_corruption_never_panics() {
    // A fixed-seed xorshift: the same corruptions on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for name in [
        "multi_prog.bpf.o",
        "maps_btf.bpf.o",
        "externs.bpf.o",
        "xdp_stats_legacy.bpf.o",
    ] {
        let original = bytes(name);
        for _ in 0..400 {
            let mut data = original.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() as usize) % data.len();
                data[at] = next() as u8;
            }
            let _ = Object::parse(name, &data);
        }
    }
}

/// `core.bpf.o` (CO-RE relocations, no `.maps`) with the bytes of `section` changed.
fn core_with(section: &str, edit: impl FnOnce(&mut [u8])) -> Object {
    let mut data = bytes("core.bpf.o");
    let file = object::read::File::parse(&*data).unwrap();
    let (offset, size) = object::read::Object::section_by_name(&file, section)
        .and_then(|s| object::read::ObjectSection::file_range(&s))
        .unwrap();
    let range = offset as usize..(offset + size) as usize;
    edit(&mut data[range]);
    Object::parse("core.bpf.o", &data).unwrap()
}

#[test]
fn btf_ext_is_parsed_once_at_open_and_an_unreadable_one_refuses_co_re() {
    let obj = open("core.bpf.o");
    let ext = obj.ext().expect("parsed at open");
    assert!(ext.has_core_relocations() && obj.has_core_relocations());

    // A .BTF.ext whose header points past its end: kept as the error, said in the
    // warnings, and CO-RE refuses with it.
    let obj = core_with(".BTF.ext", |b| {
        b[4..8].copy_from_slice(&u32::MAX.to_le_bytes())
    });
    assert!(matches!(obj.btf_ext, Some(Err(_))), "{:?}", obj.btf_ext);
    assert!(obj.has_core_relocations(), "unreadable: it may have some");
    assert!(
        obj.warnings
            .iter()
            .any(|w| w.starts_with("invalid .BTF.ext: ")),
        "{:?}",
        obj.warnings
    );
    let err = crate::core::relocate_object(
        &mut obj.clone(),
        crate::core::CoreTargets::custom(
            "itself",
            std::sync::Arc::new(open("core.bpf.o").btf.unwrap()),
        ),
    )
    .unwrap_err();
    assert!(matches!(err, crate::core::CoreError::BtfExt(_)), "{err}");

    // No valid .BTF to read its CO-RE relocations with: an error, never nothing.
    let obj = core_with(".BTF", |b| b[..2].copy_from_slice(&[0, 0]));
    assert!(obj.btf.is_none());
    assert_eq!(obj.btf_ext, Some(Err(crate::btf::ext::BtfExtError::NoBtf)));
    let err = crate::core::unresolvable(&obj, "no kernel BTF").unwrap_err();
    assert_eq!(
        err.to_string(),
        crate::core::CoreError::BtfExt(crate::btf::ext::BtfExtError::NoBtf).to_string()
    );
}

#[test]
fn struct_ops_variables_are_maps_whose_members_name_programs() {
    let obj = open("struct_ops.bpf.o");
    let st_maps: Vec<&MapSpec> = obj.maps.iter().filter(|m| m.struct_ops.is_some()).collect();
    assert_eq!(st_maps.len(), 2);
    let (link, plain) = (map(&obj, "oxcc"), map(&obj, "oxcc_plain"));
    for m in [link, plain] {
        assert_eq!(m.map_type, MapType::STRUCT_OPS);
        assert_eq!((m.key_size, m.value_size, m.max_entries), (4, 56, 1));
        assert_eq!(m.source, MapDefSource::StructOps);
        assert!(m.autocreate);
    }
    assert_eq!(link.map_flags, oxbpf_uapi::map_flags::LINK);
    assert_eq!(plain.map_flags, 0);
    let st = link.struct_ops.as_ref().unwrap();
    assert_eq!(st.type_name, "tcp_congestion_ops");
    assert!(st.link);
    // The data members' bytes as compiled: `name` first, in the object's own layout.
    assert_eq!(&st.data[..5], b"oxcc\0");
    let members: Vec<(&str, usize, u32, &str)> = st
        .programs
        .iter()
        .map(|p| (p.member.as_str(), p.index, p.offset, p.program.as_str()))
        .collect();
    assert_eq!(
        members,
        [
            ("ssthresh", 1, 16, "oxcc_ssthresh"),
            ("cong_avoid", 2, 24, "oxcc_cong_avoid"),
            ("undo_cwnd", 3, 32, "oxcc_undo_cwnd"),
            ("init", 4, 40, "oxcc_init"),
        ]
    );
    let plain_st = plain.struct_ops.as_ref().unwrap();
    assert!(!plain_st.link);
    assert_eq!(plain_st.programs.len(), 3, "no init in the plain one");
    assert_eq!(&plain_st.data[..11], b"oxcc_plain\0");
    // After the object's other maps (none here), as libbpf orders them.
    assert_eq!(
        obj.sections
            .iter()
            .filter(|s| s.kind == SectionKind::StructOps)
            .count(),
        2
    );
}

#[test]
fn a_struct_ops_relocation_into_a_data_member_is_refused() {
    // Point the relocation of `oxcc.ssthresh` at a symbol that is no program: the
    // `name` member's offset holds no function pointer.
    let mut data = bytes("struct_ops.bpf.o");
    let l = layout(&data);
    let (rel, _) = l.section(".rel.struct_ops.link");
    // The first entry's r_offset (16: `ssthresh`) becomes 0 (`name`, a char array).
    put_u64(&mut data, rel, 0);
    let err = parse_err("st.o", &data);
    assert!(
        err.contains("member `name` is not a function pointer, so it cannot name a program"),
        "{err}"
    );
}

#[test]
fn arena_globals_are_kept_for_the_arena_map_and_their_relocations_point_into_it() {
    let obj = open("arena.bpf.o");
    // .addr_space.1 is not a data map of its own: its variables live in the arena.
    assert!(obj.data.is_empty());
    let arena = obj.arena.as_ref().unwrap();
    assert_eq!(
        (arena.name.as_str(), arena.kind, arena.size),
        (".addr_space.1", DataKind::Arena, 28)
    );
    let at = |name: &str| {
        arena
            .symbols
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .offset
    };
    assert_eq!(&arena.bytes[..8], 1000i64.to_le_bytes());
    assert_eq!(&arena.bytes[8..12], 10i32.to_le_bytes());
    let map = obj.maps.iter().position(|m| m.name == "arena").unwrap();
    assert_eq!(obj.maps[map].map_type, oxbpf_uapi::MapType::ARENA);
    assert_eq!(obj.maps[map].map_extra, 1 << 44);
    let relocs = &prog(&obj, "build_list").function.relocs;
    for var in ["count", "head", "total", "built"] {
        assert!(
            relocs.iter().any(|r| r.symbol == var
                && r.kind
                    == RelocKind::Arena {
                        map,
                        offset: at(var)
                    }),
            "{var}: {relocs:?}"
        );
    }
}
