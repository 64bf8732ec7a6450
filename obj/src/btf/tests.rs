use super::*;

use super::builder::BtfBuilder;

fn sample(endian: Endian) -> Vec<u8> {
    let mut b = BtfBuilder::new(endian);
    let int = b.int("int", 4, true); // 1
    let u64_ = b.int("unsigned long long", 8, false); // 2
    let arr = b.array(int, int, 4); // 3: int[4]
    let s = b.strukt(
        "pair",
        24,
        &[("a", int, 0), ("b", u64_, 64), ("c", arr, 128)],
    ); // 4
    let td = b.typedef("pair_t", s); // 5
    let p = b.ptr(td); // 6
    let v = b.var("the_pair", td, 1); // 7
    b.datasec(".data", 24, &[(v, 0, 24)]); // 8
    b.enumeration("color", &[("RED", 0), ("BLUE", -1)]); // 9
    let _ = p;
    b.build()
}

#[test]
fn parses_both_byte_orders_alike() {
    for endian in [Endian::Little, Endian::Big] {
        let btf = Btf::parse(sample(endian)).unwrap();
        assert_eq!(btf.endian(), endian);
        assert_eq!(btf.last_id(), TypeId(9));
        let s = btf.type_by_id(TypeId(4)).unwrap();
        assert_eq!(
            (s.kind(), s.name().unwrap(), s.size()),
            (Kind::Struct, "pair", 24)
        );
        let members: Vec<_> = s.members().unwrap().map(Result::unwrap).collect();
        assert_eq!(members.len(), 3);
        assert_eq!((members[1].name, members[1].bit_offset), ("b", 64));
        assert_eq!(btf.size_of(TypeId(3)).unwrap(), 16);
        assert_eq!(btf.size_of(TypeId(5)).unwrap(), 24);
        assert_eq!(btf.size_of(TypeId(6)).unwrap(), 8);
        assert_eq!(btf.size_of(TypeId(7)).unwrap(), 24);
        assert_eq!(
            btf.skip_mods_and_typedefs(TypeId(5)).unwrap().id(),
            TypeId(4)
        );
        let e: Vec<_> = btf
            .type_by_id(TypeId(9))
            .unwrap()
            .enumerators()
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(e[1].name, "BLUE");
        assert_eq!(e[1].value as u32 as i32, -1);
        let v = btf.type_by_id(TypeId(7)).unwrap();
        assert_eq!(v.linkage().unwrap(), Linkage::Global);
        let ds = btf.find_by_name_kind(".data", Kind::Datasec).unwrap();
        let vars: Vec<_> = ds.datasec_vars().unwrap().map(Result::unwrap).collect();
        assert_eq!(
            vars,
            vec![VarSecinfo {
                type_id: TypeId(7),
                offset: 0,
                size: 24
            }]
        );
    }
}

#[test]
fn bad_magic_and_short_input_are_errors() {
    assert_eq!(
        Btf::parse(vec![]).unwrap_err(),
        BtfError::NotBtf("shorter than the 24-byte header")
    );
    let mut b = sample(Endian::Little);
    b[0] = 0;
    assert!(matches!(Btf::parse(b).unwrap_err(), BtfError::NotBtf(_)));
    let mut b = sample(Endian::Little);
    b[2] = 2;
    assert_eq!(Btf::parse(b).unwrap_err(), BtfError::Version(2));
}

#[test]
fn header_lengths_past_the_end_are_errors() {
    let mut b = sample(Endian::Little);
    // str_len (header bytes 20..24) far past the end.
    b[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = Btf::parse(b).unwrap_err();
    assert!(
        matches!(
            err,
            BtfError::OutOfBounds {
                what: "string section",
                ..
            }
        ),
        "{err}"
    );
    let mut b = sample(Endian::Little);
    b[4..8].copy_from_slice(&1000u32.to_le_bytes());
    assert!(matches!(
        Btf::parse(b).unwrap_err(),
        BtfError::OutOfBounds { what: "header", .. }
    ));
}

#[test]
fn truncated_record_and_huge_vlen_name_the_type() {
    let mut b = BtfBuilder::new(Endian::Little);
    b.int("int", 4, true);
    // A struct claiming 0xffff members with none present.
    b.ty("big", Kind::Struct, 0xffff, false, 8);
    let err = Btf::parse(b.build()).unwrap_err();
    assert_eq!(
        err,
        BtfError::Truncated {
            id: TypeId(2),
            off: 16
        }
    );
    assert_eq!(
        err.to_string(),
        "type [2]: record at offset 16 runs past the end of the type section"
    );
}

#[test]
fn unknown_kind_is_an_error() {
    let mut b = BtfBuilder::new(Endian::Little);
    b.int("int", 4, true);
    b.raw_word(0);
    b.raw_word(25 << 24);
    b.raw_word(0);
    assert_eq!(
        Btf::parse(b.build()).unwrap_err(),
        BtfError::UnknownKind {
            id: TypeId(2),
            kind: 25
        }
    );
}

#[test]
fn bad_name_and_type_ids_are_errors_at_access() {
    let mut b = BtfBuilder::new(Endian::Little);
    b.ptr(77); // 1: points past the end
    b.ty("", Kind::Typedef, 0, false, 0); // 2
    let mut bytes = b.build();
    // Give type 2 a name offset far outside the string section.
    let name_off_at = 24 + 12;
    bytes[name_off_at..name_off_at + 4].copy_from_slice(&5000u32.to_le_bytes());
    let btf = Btf::parse(bytes).unwrap();
    let err = btf.type_by_id(TypeId(1)).unwrap().ref_type().unwrap_err();
    assert_eq!(
        err,
        BtfError::BadTypeId {
            from: TypeId(1),
            to: TypeId(77),
            last: TypeId(2)
        }
    );
    assert_eq!(
        btf.type_by_id(TypeId(2)).unwrap().name().unwrap_err(),
        BtfError::BadName {
            id: TypeId(2),
            off: 5000
        }
    );
    assert!(matches!(
        btf.type_by_id(TypeId(3)).unwrap_err(),
        BtfError::BadTypeId { .. }
    ));
}

#[test]
fn typedef_loops_and_array_size_overflow_are_errors() {
    let mut b = BtfBuilder::new(Endian::Little);
    b.typedef("a", 2); // 1 -> 2
    b.typedef("b", 1); // 2 -> 1
    let int = b.int("int", 4, true); // 3
    let a1 = b.array(int, int, u32::MAX); // 4
    b.array(a1, int, u32::MAX); // 5
    let btf = Btf::parse(b.build()).unwrap();
    assert!(matches!(
        btf.skip_mods_and_typedefs(TypeId(1)).unwrap_err(),
        BtfError::Loop(_)
    ));
    assert!(matches!(
        btf.size_of(TypeId(1)).unwrap_err(),
        BtfError::Loop(_)
    ));
    assert_eq!(btf.size_of(TypeId(4)).unwrap(), 4 * u64::from(u32::MAX));
    assert!(matches!(
        btf.size_of(TypeId(5)).unwrap_err(),
        BtfError::SizeOverflow(_)
    ));
}

#[test]
fn strings_must_be_nul_delimited() {
    let mut bytes = sample(Endian::Little);
    let last = bytes.len() - 1;
    bytes[last] = b'x';
    assert_eq!(
        Btf::parse(bytes).unwrap_err(),
        BtfError::Strings("does not end with a NUL")
    );
}

#[test]
fn split_btf_continues_ids_and_strings_of_its_base() {
    let mut base = BtfBuilder::new(Endian::Little);
    let int = base.int("int", 4, true); // 1
    base.strukt("task_struct", 8, &[("pid", int, 0)]); // 2
    let base_bytes = base.build();
    let base = std::sync::Arc::new(Btf::parse(base_bytes).unwrap());
    let base_str_len = base.strings.len() as u32;

    let mut split = BtfBuilder::split(Endian::Little, 2, base_str_len);
    // A module struct whose member is the base's int, and a pointer to a base struct.
    let m = split.strukt("module_thing", 4, &[("count", 1, 0)]); // 3
    let p = split.ptr(2); // 4
    assert_eq!((m, p), (3, 4));
    let btf = Btf::parse_split(split.build(), base.clone()).unwrap();
    assert_eq!(btf.first_id(), TypeId(3));
    assert_eq!(btf.last_id(), TypeId(4));
    assert_eq!(btf.ids().collect::<Vec<_>>(), [TypeId(3), TypeId(4)]);
    // Base types and names are reachable through the split BTF.
    assert_eq!(btf.type_by_id(TypeId(1)).unwrap().name().unwrap(), "int");
    let thing = btf.type_by_id(TypeId(3)).unwrap();
    assert_eq!(thing.name().unwrap(), "module_thing");
    assert_eq!(
        thing.members().unwrap().next().unwrap().unwrap().name,
        "count"
    );
    assert_eq!(
        btf.skip_mods_and_typedefs(btf.type_by_id(TypeId(4)).unwrap().ref_type().unwrap())
            .unwrap()
            .name()
            .unwrap(),
        "task_struct"
    );
    assert_eq!(btf.size_of(TypeId(3)).unwrap(), 4);
    // Lookups search the base first, then the module.
    assert_eq!(btf.find("task_struct", Kind::Struct), Some(TypeId(2)));
    assert_eq!(btf.find("module_thing", Kind::Struct), Some(TypeId(3)));
    assert_eq!(btf.find_by_essential_name("module_thing"), [TypeId(3)]);
    assert!(matches!(
        btf.type_by_id(TypeId(5)).unwrap_err(),
        BtfError::BadTypeId { .. }
    ));
    // A split blob of the other byte order cannot sit on this base.
    let other = BtfBuilder::split(Endian::Big, 2, base_str_len).build();
    assert_eq!(
        Btf::parse_split(other, base).unwrap_err(),
        BtfError::Split("byte order differs from the base BTF")
    );
}

#[test]
fn name_index_finds_by_kind_and_by_essential_name() {
    let mut b = BtfBuilder::new(Endian::Little);
    let int = b.int("int", 4, true); // 1
    b.strukt("task_struct", 8, &[("pid", int, 0)]); // 2
    b.strukt("task_struct___old", 8, &[("state", int, 0)]); // 3
    b.typedef("task_struct", 2); // 4: same name, other kind
    b.var("counter", int, 1); // 5
    let btf = Btf::parse(b.build()).unwrap();
    assert_eq!(btf.find("task_struct", Kind::Struct), Some(TypeId(2)));
    assert_eq!(btf.find("task_struct", Kind::Typedef), Some(TypeId(4)));
    assert_eq!(btf.find("task_struct___old", Kind::Struct), Some(TypeId(3)));
    assert_eq!(btf.find("task_struct", Kind::Union), None);
    assert_eq!(btf.find("counter", Kind::Var), Some(TypeId(5)));
    assert_eq!(btf.find("nothing", Kind::Var), None);
    assert_eq!(
        btf.find_by_essential_name("task_struct"),
        [TypeId(2), TypeId(3), TypeId(4)]
    );
    assert_eq!(essential_name("task_struct___old"), "task_struct");
}

#[test]
fn alignment_follows_the_c_layout() {
    let mut b = BtfBuilder::new(Endian::Little);
    let c = b.int("char", 1, true); // 1
    let l = b.int("long", 8, true); // 2
    b.strukt("natural", 16, &[("a", c, 0), ("b", l, 64)]); // 3
    b.strukt("packed", 9, &[("a", c, 0), ("b", l, 8)]); // 4
    b.array(l, c, 2); // 5
    let btf = Btf::parse(b.build()).unwrap();
    assert_eq!(btf.align_of(TypeId(3)).unwrap(), 8);
    assert_eq!(btf.align_of(TypeId(4)).unwrap(), 1);
    assert_eq!(btf.align_of(TypeId(5)).unwrap(), 8);
    assert_eq!(btf.size_of(TypeId(5)).unwrap(), 16);
}

fn testdata_objects() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    v.sort();
    v
}

/// parse -> decode -> encode -> parse -> decode gives the same types, in the blob's own
/// byte order and in the other one.
fn assert_round_trip(btf: &Btf, what: &str) {
    let types = types::decode_all(btf).unwrap_or_else(|e| panic!("{what}: {e}"));
    for endian in [Endian::Little, Endian::Big] {
        let bytes = encode::encode(&types, endian).unwrap();
        let again = Btf::parse(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(again.endian(), endian);
        assert_eq!(
            types::decode_all(&again).unwrap(),
            types,
            "{what}: round trip through {endian} differs"
        );
    }
}

#[test]
fn every_testdata_objects_btf_round_trips() {
    for path in testdata_objects() {
        let obj = crate::Object::open(&path).unwrap();
        assert_round_trip(obj.btf.as_ref().unwrap(), &path.display().to_string());
    }
}

#[test]
fn the_running_kernels_btf_round_trips() {
    let path = std::path::Path::new("/sys/kernel/btf/vmlinux");
    if !path.exists() {
        // Not a privilege question: a kernel without BTF cannot be tested here.
        // Under CI a skip is a failure, as for every kernel test (oxbpf_sys::gate).
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and this kernel has no /sys/kernel/btf/vmlinux"
        );
        eprintln!(
            "skipping the_running_kernels_btf_round_trips: this kernel has no /sys/kernel/btf/vmlinux"
        );
        return;
    }
    let btf = Btf::from_sysfs().unwrap();
    assert!(btf.last_id().0 > 10_000);
    assert!(btf.find("task_struct", Kind::Struct).is_some());
    assert!(btf.find("do_unlinkat", Kind::Func).is_some());
    assert_round_trip(&btf, "vmlinux");
}

#[test]
fn every_truncation_of_a_real_blob_is_an_error_or_a_shorter_blob() {
    let obj = crate::Object::open(&testdata_objects()[0]).unwrap();
    let bytes = obj.btf.unwrap().as_bytes().to_vec();
    for len in 0..bytes.len() {
        if let Ok(btf) = Btf::parse(bytes[..len].to_vec()) {
            // Whatever parses must decode without panicking.
            let _ = types::decode_all(&btf);
        }
    }
}

// ---- .BTF.ext ----

fn object(name: &str) -> crate::Object {
    crate::Object::open(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .join(name),
    )
    .unwrap()
}

#[test]
fn btf_ext_of_a_core_object_has_records_per_program_section() {
    let obj = object("core.bpf.o");
    let btf = obj.btf.as_ref().unwrap();
    let _ = btf;
    let ext = obj.ext().unwrap();
    assert_eq!(
        (
            ext.func_info_rec_size,
            ext.line_info_rec_size,
            ext.core_relo_rec_size
        ),
        (8, 16, 16)
    );
    let sections: Vec<_> = ext.func_info.iter().map(|s| s.section.as_str()).collect();
    assert_eq!(sections, ["raw_tp/sys_enter", "tp_btf/sys_enter"]);
    assert_eq!(ext.core_relos_for("raw_tp/sys_enter").len(), 18);
    assert_eq!(ext.core_relos_for("tp_btf/sys_enter").len(), 7);
    assert_eq!(ext.line_info_for("raw_tp/sys_enter").len(), 26);
    // The func_info of a program names its BTF FUNC, at its first instruction.
    let fi = ext.func_info_for("raw_tp/sys_enter")[0];
    assert_eq!(fi.insn_off, 0);
    let f = btf.type_by_id(fi.type_id).unwrap();
    assert_eq!(
        (f.kind(), f.name().unwrap()),
        (Kind::Func, "core_read_task")
    );
    // Line info points at this file and a real line of it.
    let li = ext.line_info_for("raw_tp/sys_enter")[0];
    assert!(
        btf.str_at(li.file_name_off)
            .unwrap()
            .ends_with("core.bpf.c")
    );
    assert!(li.line() > 0);
    // Each CO-RE record has an access string such as "0:1".
    for r in ext.core_relos_for("raw_tp/sys_enter") {
        let access = btf.str_at(r.access_str_off).unwrap();
        assert!(
            !access.is_empty() && access.split(':').all(|p| p.parse::<u32>().is_ok()),
            "{access}"
        );
        assert!(r.kind <= 12);
    }
    assert!(ext.func_info_for("no such section").is_empty());
}

/// A `.BTF.ext` with one func_info block whose records are `rec_size` bytes.
fn ext_blob(rec_size: u32, records: &[[u32; 2]], sec_name_off: u32) -> Vec<u8> {
    let mut area = rec_size.to_le_bytes().to_vec();
    area.extend_from_slice(&sec_name_off.to_le_bytes());
    area.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for r in records {
        area.extend_from_slice(&r[0].to_le_bytes());
        area.extend_from_slice(&r[1].to_le_bytes());
        area.resize(area.len() + rec_size as usize - 8, 0xaa); // unknown newer fields
    }
    let mut out = Vec::new();
    out.extend_from_slice(&raw::MAGIC.to_le_bytes());
    out.push(1);
    out.push(0);
    for v in [
        32u32,
        0,
        area.len() as u32,
        area.len() as u32,
        0,
        area.len() as u32,
        0,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&area);
    out
}

fn small_btf() -> Btf {
    let mut b = BtfBuilder::new(Endian::Little);
    b.int("xdp", 4, true); // the name doubles as a section name
    Btf::parse(b.build()).unwrap()
}

#[test]
fn btf_ext_records_larger_than_known_are_read_by_their_prefix() {
    let btf = small_btf();
    let data = ext_blob(12, &[[0, 1], [16, 1]], 1);
    let ext = ext::BtfExt::parse(&data, &btf).unwrap();
    assert_eq!(ext.func_info_rec_size, 12);
    assert_eq!(
        ext.func_info_for("xdp"),
        [
            ext::FuncInfo {
                insn_off: 0,
                type_id: TypeId(1)
            },
            ext::FuncInfo {
                insn_off: 16,
                type_id: TypeId(1)
            }
        ]
    );
}

#[test]
fn malformed_btf_ext_is_an_error() {
    use ext::{BtfExt, BtfExtError};
    let btf = small_btf();
    assert_eq!(
        BtfExt::parse(&[0; 4], &btf).unwrap_err(),
        BtfExtError::NotBtfExt("shorter than the header")
    );
    let mut bad_magic = ext_blob(8, &[[0, 1]], 1);
    bad_magic[0] = 0;
    assert_eq!(
        BtfExt::parse(&bad_magic, &btf).unwrap_err(),
        BtfExtError::NotBtfExt("bad magic (expected 0xeb9f)")
    );
    assert_eq!(
        BtfExt::parse(&ext_blob(4, &[], 1), &btf).unwrap_err(),
        BtfExtError::RecordSize {
            area: "func_info",
            size: 4,
            min: 8
        }
    );
    // A block claiming more records than there are bytes.
    let mut truncated = ext_blob(8, &[[0, 1]], 1);
    let count_at = 32 + 8;
    truncated[count_at..count_at + 4].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(
        BtfExt::parse(&truncated, &btf).unwrap_err(),
        BtfExtError::Truncated {
            area: "func_info",
            off: 4,
            count: 1000
        }
    );
    // func_info_len past the end of the section.
    let mut oob = ext_blob(8, &[[0, 1]], 1);
    oob[12..16].copy_from_slice(&9999u32.to_le_bytes());
    assert!(matches!(
        BtfExt::parse(&oob, &btf).unwrap_err(),
        BtfExtError::OutOfBounds {
            area: "func_info",
            ..
        }
    ));
    // A section name outside the string table.
    let err = BtfExt::parse(&ext_blob(8, &[[0, 1]], 5000), &btf).unwrap_err();
    assert!(
        matches!(
            err,
            BtfExtError::Name {
                area: "func_info",
                ..
            }
        ),
        "{err}"
    );
}

// ---- fix-up ----

fn fixed(name: &str) -> (crate::Object, Vec<types::Type>) {
    let obj = object(name);
    let mut t = types::decode_all(obj.btf.as_ref().unwrap()).unwrap();
    fixup::fixup(&mut t, &fixup::ElfInfo::from_object(&obj)).unwrap();
    (obj, t)
}

fn datasec<'a>(t: &'a [types::Type], name: &str) -> (u32, &'a [VarSecinfo]) {
    let ds = t
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no DATASEC {name}"));
    let types::TypeKind::Datasec { size, vars } = &ds.kind else {
        panic!("{name} is not a DATASEC")
    };
    (*size, vars)
}

#[test]
fn fixup_sizes_datasecs_and_places_variables_from_symbols() {
    let (_, t) = fixed("multi_prog.bpf.o");
    let (size, vars) = datasec(&t, ".bss");
    assert_eq!(size, 8);
    assert_eq!(
        vars.iter().map(|v| (v.offset, v.size)).collect::<Vec<_>>(),
        [(0, 4), (4, 4)]
    );
    assert_eq!(datasec(&t, ".rodata.bar").0, 4);
    // .maps: clang leaves every offset 0; afterwards they are the symbols' and sorted.
    let (obj, t) = fixed("maps_btf.bpf.o");
    let (size, vars) = datasec(&t, ".maps");
    assert_eq!(
        u64::from(size),
        obj.sections
            .iter()
            .find(|s| s.name == ".maps")
            .unwrap()
            .size
    );
    let offsets: Vec<u32> = vars.iter().map(|v| v.offset).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    for v in vars {
        let name = &t[v.type_id.0 as usize - 1].name;
        assert_eq!(
            u64::from(v.offset),
            obj.maps
                .iter()
                .find(|m| &m.name == name)
                .unwrap()
                .section_offset
        );
    }
}

#[test]
fn fixup_lays_out_kconfig_and_turns_ksyms_into_ints() {
    let (_, t) = fixed("externs.bpf.o");
    let layout = fixup::kconfig_layout(&t).unwrap();
    let slots: Vec<_> = layout
        .iter()
        .map(|s| (s.name.as_str(), s.offset, s.size))
        .collect();
    // Descending alignment (u32, enum: 4; bool: 1), then size, then name.
    assert_eq!(
        slots,
        [
            ("CONFIG_IPV6", 0, 4),
            ("LINUX_KERNEL_VERSION", 4, 4),
            ("CONFIG_BPF_SYSCALL", 8, 1),
            ("CONFIG_OXBPF_NO_SUCH_OPTION", 9, 1),
            ("LINUX_HAS_BPF_COOKIE", 10, 1),
        ]
    );
    let (size, vars) = datasec(&t, ".kconfig");
    assert_eq!(size, 11);
    for v in vars {
        let var = &t[v.type_id.0 as usize - 1];
        let types::TypeKind::Var { linkage, .. } = var.kind else {
            panic!()
        };
        assert_eq!(linkage, Linkage::Global, "{}", var.name);
        assert_eq!(
            v.offset,
            layout.iter().find(|s| s.name == var.name).unwrap().offset
        );
    }
    // .ksyms: every entry a 4-byte int variable; kfuncs replaced by `dummy_ksym`.
    let (size, vars) = datasec(&t, ".ksyms");
    assert_eq!(size, 4 * vars.len() as u32);
    let names: Vec<&str> = vars
        .iter()
        .map(|v| t[v.type_id.0 as usize - 1].name.as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "dummy_ksym").count(),
        3,
        "{names:?}"
    );
    for v in vars {
        let types::TypeKind::Var { ty, linkage } = t[v.type_id.0 as usize - 1].kind else {
            panic!()
        };
        assert_eq!(linkage, Linkage::Global);
        assert!(matches!(
            t[ty.0 as usize - 1].kind,
            types::TypeKind::Int { bits: 32, .. }
        ));
    }
    let kfunc = t.iter().find(|t| t.name == "bpf_task_from_pid").unwrap();
    assert!(matches!(
        kfunc.kind,
        types::TypeKind::Func {
            linkage: Linkage::Global,
            ..
        }
    ));
}

#[test]
fn fixup_names_the_variable_it_cannot_place() {
    let obj = object("multi_prog.bpf.o");
    let mut t = types::decode_all(obj.btf.as_ref().unwrap()).unwrap();
    let mut elf = fixup::ElfInfo::from_object(&obj);
    elf.symbols.retain(|(_, name), _| name != "bss_hits");
    assert_eq!(
        fixup::fixup(&mut t, &elf).unwrap_err(),
        fixup::FixupError::NoSymbol {
            section: ".bss".into(),
            var: "bss_hits".into()
        }
    );
    let mut elf = fixup::ElfInfo::from_object(&obj);
    elf.section_sizes.remove(".data.foo");
    assert_eq!(
        fixup::fixup(&mut t, &elf).unwrap_err(),
        fixup::FixupError::NoSection(".data.foo".into())
    );
}

#[test]
fn fixup_makes_hidden_functions_and_variables_static() {
    let obj = object("multi_prog.bpf.o");
    let mut t = types::decode_all(obj.btf.as_ref().unwrap()).unwrap();
    let mut elf = fixup::ElfInfo::from_object(&obj);
    elf.hidden_functions.push("global_bump".into());
    for v in elf
        .symbols
        .iter_mut()
        .filter(|((_, n), _)| n == "data_counter")
    {
        v.1.1 = true;
    }
    fixup::fixup(&mut t, &elf).unwrap();
    let f = t.iter().find(|t| t.name == "global_bump").unwrap();
    assert!(matches!(
        f.kind,
        types::TypeKind::Func {
            linkage: Linkage::Static,
            ..
        }
    ));
    let v = t.iter().find(|t| t.name == "data_counter").unwrap();
    assert!(matches!(
        v.kind,
        types::TypeKind::Var {
            linkage: Linkage::Static,
            ..
        }
    ));
}

#[test]
fn cycles_through_arrays_and_pointers_end_in_an_error() {
    let mut b = BtfBuilder::new(Endian::Little);
    let int = b.int("int", 4, true); // 1
    b.array(2, int, 3); // 2: an array of itself
    b.ptr(3); // 3: a pointer to itself
    b.typedef("loop_t", 5); // 4
    b.ty("", Kind::Const, 0, false, 4); // 5: const loop_t, back to 4
    let btf = Btf::parse(b.build()).unwrap();
    assert_eq!(
        btf.size_of(TypeId(2)).unwrap_err(),
        BtfError::Loop(TypeId(2))
    );
    assert_eq!(btf.size_of(TypeId(3)).unwrap(), 8); // a pointer's size needs no pointee
    assert!(matches!(
        btf.align_of(TypeId(2)).unwrap_err(),
        BtfError::Loop(_)
    ));
    assert!(matches!(
        btf.skip_mods_and_typedefs(TypeId(4)).unwrap_err(),
        BtfError::Loop(_)
    ));
    // The dumpers stop too, with the same error.
    let types = types::decode_all(&btf).unwrap();
    assert!(matches!(
        dump::c::dump_types(&types).unwrap_err(),
        BtfError::Loop(_)
    ));
    assert!(dump::raw::dump(&btf).is_ok());
}

#[test]
fn the_header_alone_says_whether_an_object_has_core_relocations() {
    // Every testdata object: the header's answer agrees with a full parse, so only
    // objects with CO-RE relocations make a load read the kernel's BTF.
    let mut with = 0;
    for path in testdata_objects() {
        let obj = crate::Object::open(&path).unwrap();
        let Some(parsed) = obj.ext() else {
            continue;
        };
        let bytes = std::fs::read(&path).unwrap();
        let file = object::read::File::parse(&*bytes).unwrap();
        let raw = object::read::Object::section_by_name(&file, ".BTF.ext")
            .and_then(|s| object::read::ObjectSection::data(&s).ok())
            .unwrap();
        let has = parsed.has_core_relocations();
        assert_eq!(ext::BtfExt::has_core_relos(raw), has, "{}", path.display());
        assert_eq!(obj.has_core_relocations(), has, "{}", path.display());
        with += usize::from(has);
    }
    assert!(with >= 3, "core, bootstrap and demo use CO-RE");
    assert!(
        ext::BtfExt::has_core_relos(b"garbage"),
        "malformed: let the parse say"
    );
}

#[test]
fn a_type_record_cut_anywhere_is_a_short_read_never_a_zero() {
    let mut b = BtfBuilder::new(Endian::Little);
    let int = b.int("int", 4, true); // 1
    b.array(int, int, 4); // 2: 12 + 12 bytes
    let bytes = b.build();
    let btf = Btf::parse(bytes.clone()).unwrap();
    let types = &bytes[btf.types.clone()];
    let array_at = 16; // INT's record is 12 + 4 bytes
    let whole = raw::record(Bytes::new(types, Endian::Little), array_at).unwrap();
    assert_eq!((whole.kind, whole.len()), (Kind::Array, 24));
    for cut in array_at..array_at + 24 {
        let short = Bytes::new(&types[..cut], Endian::Little);
        assert!(
            matches!(raw::record(short, array_at), Err(raw::RecordError::Short)),
            "cut at {cut}"
        );
    }
}

#[test]
fn out_of_range_type_ids_name_the_id_and_the_last_one() {
    let btf = Btf::parse(sample(Endian::Big)).unwrap();
    let err = btf.type_by_id(TypeId(u32::MAX)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "type [0]: refers to type [{}], but the last type is [9]",
            u32::MAX
        )
    );
    let mut b = BtfBuilder::new(Endian::Little);
    let int = b.int("int", 4, true);
    b.array(int, 42, 4); // index type past the end
    let btf = Btf::parse(b.build()).unwrap();
    assert_eq!(
        btf.type_by_id(TypeId(2)).unwrap().array().unwrap_err(),
        BtfError::BadTypeId {
            from: TypeId(2),
            to: TypeId(42),
            last: TypeId(2)
        }
    );
}
