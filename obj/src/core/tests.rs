//! Every relocation kind, against pairs of local and target BTF built here: fields moved,
//! renamed with flavors, removed; bitfields moved and resized; arrays resized; nested
//! anonymous structs; enum values changed; ambiguous candidates; type-matches cases.

use std::sync::Arc;

use oxbpf_uapi::Endian;

use super::*;
use crate::btf::builder::BtfBuilder;
use crate::btf::ext::CoreReloRecord;

/// One relocation: the local BTF (with its access string), root type and kind.
struct Case {
    local: Btf,
    root: u32,
    access_off: u32,
    kind: CoreReloKind,
}

/// Builds a local BTF with `f`, adding `access` to its strings.
fn local(access: &str, kind: CoreReloKind, f: impl FnOnce(&mut BtfBuilder) -> u32) -> Case {
    let mut b = BtfBuilder::new(Endian::Little);
    let root = f(&mut b);
    let access_off = b.name(access);
    Case {
        local: b.btf().unwrap(),
        root,
        access_off,
        kind,
    }
}

fn target(f: impl FnOnce(&mut BtfBuilder)) -> Arc<Btf> {
    let mut b = BtfBuilder::new(Endian::Little);
    f(&mut b);
    Arc::new(b.btf().unwrap())
}

impl Case {
    fn resolve(&self, targ: &Arc<Btf>) -> Result<Resolution, CoreError> {
        let rec = CoreReloRecord {
            insn_off: 0,
            type_id: TypeId(self.root),
            access_str_off: self.access_off,
            kind: self.kind as u32,
        };
        Relocator::new(
            &self.local,
            CoreTargets::custom("target", targ.clone()),
            Endian::Little,
        )
        .resolve(&rec)
    }

    fn value(&self, targ: &Arc<Btf>) -> u64 {
        let r = self.resolve(targ).unwrap();
        assert!(!r.fixup.poison, "poisoned: {:?}", r.no_match);
        r.fixup.new
    }

    fn orig(&self, targ: &Arc<Btf>) -> u64 {
        self.resolve(targ).unwrap().fixup.orig
    }

    fn poisoned(&self, targ: &Arc<Btf>) -> String {
        let r = self.resolve(targ).unwrap();
        assert!(r.fixup.poison, "not poisoned: {:?}", r.fixup);
        r.no_match.unwrap_or_default()
    }
}

/// `struct S { int a; int b; }` (local).
fn s_ab(b: &mut BtfBuilder) -> u32 {
    let int = b.int("int", 4, true);
    b.strukt("S", 8, &[("a", int, 0), ("b", int, 32)])
}

use CoreReloKind::*;

#[test]
fn field_byte_offset_follows_a_moved_field() {
    let c = local("0:1", FieldByteOffset, s_ab);
    let t = target(|b| {
        let int = b.int("int", 4, true);
        b.strukt("S", 12, &[("x", int, 0), ("a", int, 32), ("b", int, 64)]);
    });
    assert_eq!(c.orig(&t), 4);
    assert_eq!(c.value(&t), 8);
}

#[test]
fn flavors_match_by_essential_name_both_ways() {
    // Local `S___old` finds target `S`; local `S` finds target `S___v2`.
    let c = local("0:0", FieldByteOffset, |b| {
        let int = b.int("int", 4, true);
        b.strukt("S___old", 4, &[("a", int, 0)])
    });
    let t = target(|b| {
        let int = b.int("int", 4, true);
        b.strukt("S", 8, &[("z", int, 0), ("a", int, 32)]);
    });
    assert_eq!(c.value(&t), 4);
    let c = local("0:1", FieldByteOffset, s_ab);
    let t = target(|b| {
        let int = b.int("int", 4, true);
        b.strukt("S___v2", 8, &[("b", int, 0), ("a", int, 32)]);
    });
    assert_eq!(c.value(&t), 0);
}

#[test]
fn a_removed_field_poisons_but_exists_says_zero() {
    let t = target(|b| {
        let int = b.int("int", 4, true);
        b.strukt("S", 4, &[("a", int, 0)]);
    });
    let c = local("0:1", FieldByteOffset, s_ab);
    assert_eq!(c.poisoned(&t), "no field `b` in target struct S");
    let c = local("0:1", FieldExists, s_ab);
    let r = c.resolve(&t).unwrap();
    assert_eq!((r.fixup.orig, r.fixup.new, r.fixup.poison), (1, 0, false));
    let c = local("0:0", FieldExists, s_ab);
    assert_eq!(c.value(&t), 1);
}

#[test]
fn a_missing_type_names_what_was_looked_for() {
    let t = target(|b| {
        b.int("int", 4, true);
    });
    let c = local("0:1", FieldByteOffset, s_ab);
    assert_eq!(c.poisoned(&t), "no struct named `S` in target");
    let c = local("0", TypeExists, s_ab);
    assert_eq!(c.value(&t), 0);
    let c = local("0", TypeSize, s_ab);
    assert_eq!(c.value(&t), 0);
}

#[test]
fn field_size_and_signedness() {
    let c = local("0:1", FieldByteSize, s_ab);
    let t = target(|b| {
        let int = b.int("int", 4, true);
        let u64_ = b.int("unsigned long", 8, false);
        b.strukt("S", 16, &[("a", int, 0), ("b", u64_, 64)]);
    });
    assert_eq!((c.orig(&t), c.value(&t)), (4, 8));
    let c = local("0:1", FieldSigned, s_ab);
    assert_eq!((c.orig(&t), c.value(&t)), (1, 0));
}

#[test]
fn bitfields_moved_and_resized() {
    // Local: u32 flags with `f` at bits 3..5; target: `f` at bits 10..15 of the second u32.
    let case = |kind| {
        local("0:1", kind, |b| {
            let u32_ = b.int("unsigned int", 4, false);
            b.bitfield_struct("B", 4, &[("x", u32_, 0, 3), ("f", u32_, 3, 2)])
        })
    };
    let t = target(|b| {
        let u32_ = b.int("unsigned int", 4, false);
        b.bitfield_struct("B", 8, &[("pad", u32_, 0, 32), ("f", u32_, 42, 5)]);
    });
    assert_eq!(case(FieldByteOffset).value(&t), 4);
    assert_eq!(case(FieldByteSize).value(&t), 4);
    // Little-endian: shift left past the bits above, right to drop those below.
    assert_eq!(case(FieldLshiftU64).value(&t), 64 - (42 + 5 - 32));
    assert_eq!(case(FieldRshiftU64).value(&t), 64 - 5);
    assert_eq!(case(FieldSigned).value(&t), 0);
    assert_eq!(case(FieldLshiftU64).orig(&t), 64 - 5);
    assert!(
        !case(FieldByteOffset).resolve(&t).unwrap().fixup.validate,
        "bitfield offsets are not validated"
    );
}

#[test]
fn a_bitfield_straddling_its_unit_grows_the_load() {
    // 6 bits at bit 29 of a u32 need an 8-byte load from offset 0.
    let c = local("0:0", FieldByteSize, |b| {
        let u32_ = b.int("unsigned int", 4, false);
        b.bitfield_struct("B", 4, &[("f", u32_, 0, 6)])
    });
    let t = target(|b| {
        let u32_ = b.int("unsigned int", 4, false);
        b.bitfield_struct("B", 8, &[("f", u32_, 29, 6)]);
    });
    assert_eq!(c.value(&t), 8);
}

#[test]
fn arrays_resized_and_indexed() {
    // `&s->arr[2]`: access 0:0:2 into int arr[4].
    let case = |kind| {
        local("0:0:2", kind, |b| {
            let int = b.int("int", 4, true);
            let arr = b.array(int, int, 4);
            b.strukt("A", 16, &[("arr", arr, 0)])
        })
    };
    let bigger = target(|b| {
        let int = b.int("int", 4, true);
        let arr = b.array(int, int, 8);
        b.strukt("A", 40, &[("n", int, 0), ("arr", arr, 64)]);
    });
    assert_eq!(case(FieldByteOffset).value(&bigger), 8 + 2 * 4);
    assert_eq!(case(FieldByteSize).value(&bigger), 4);
    let smaller = target(|b| {
        let int = b.int("int", 4, true);
        let arr = b.array(int, int, 2);
        b.strukt("A", 8, &[("arr", arr, 0)]);
    });
    assert_eq!(
        case(FieldByteOffset).poisoned(&smaller),
        "index 2 is past the end of the target array of 2"
    );
    // Element accessors support only offset and size.
    let err = case(FieldSigned).resolve(&bigger).unwrap_err();
    assert!(matches!(err, CoreError::Unsupported(_)), "{err}");
}

#[test]
fn flexible_array_members_accept_any_index() {
    let c = local("0:1:5", FieldByteOffset, |b| {
        let int = b.int("int", 4, true);
        let flex = b.array(int, int, 0);
        b.strukt("F", 4, &[("n", int, 0), ("data", flex, 32)])
    });
    let t = target(|b| {
        let int = b.int("int", 4, true);
        let flex = b.array(int, int, 0);
        b.strukt("F", 8, &[("n", int, 0), ("m", int, 32), ("data", flex, 64)]);
    });
    assert_eq!(c.value(&t), 8 + 5 * 4);
}

#[test]
fn fields_inside_nested_anonymous_structs_and_unions() {
    // Local: S { int a; int b; }. Target: S { int x; union { long l; struct { int pad; int b; }; }; int a; }
    let c = local("0:1", FieldByteOffset, s_ab);
    let t = target(|b| {
        let int = b.int("int", 4, true);
        let long = b.int("long", 8, true);
        let inner = b.strukt("", 8, &[("pad", int, 0), ("b", int, 32)]);
        let u = b.union("", 8, &[("l", long), ("", inner)]);
        b.strukt("S", 24, &[("x", int, 0), ("", u, 64), ("a", int, 128)]);
    });
    let r = c.resolve(&t).unwrap();
    assert_eq!(r.fixup.new, 12);
    let (_, spec) = r.target.unwrap();
    assert_eq!(spec.raw_string(), "0:1:1:1");
    // And from the local side: the accessed field is in an anonymous struct.
    let c = local("0:1:0", FieldByteOffset, |b| {
        let int = b.int("int", 4, true);
        let anon = b.strukt("", 4, &[("deep", int, 0)]);
        b.strukt("N", 8, &[("x", int, 0), ("", anon, 32)])
    });
    let t = target(|b| {
        let int = b.int("int", 4, true);
        b.strukt("N", 12, &[("x", int, 0), ("y", int, 32), ("deep", int, 64)]);
    });
    assert_eq!(c.value(&t), 8);
}

#[test]
fn pointers_to_pointers_and_incompatible_fields() {
    // A field that is a pointer locally and an int in the target does not match.
    let c = local("0:0", FieldByteOffset, |b| {
        let int = b.int("int", 4, true);
        let p = b.ptr(int);
        b.strukt("P", 8, &[("p", p, 0)])
    });
    let t = target(|b| {
        let long = b.int("long", 8, true);
        b.strukt("P", 8, &[("p", long, 0)]);
    });
    let why = c.poisoned(&t);
    assert!(
        why.starts_with("field `p`: local ptr <anon> and target int long are not compatible"),
        "{why}"
    );
}

#[test]
fn load_size_changes_keep_unsigned_and_pointers_but_poison_signed() {
    let c = local("0:0", FieldByteOffset, |b| {
        let u = b.int("unsigned int", 4, false);
        b.strukt("W", 4, &[("v", u, 0)])
    });
    let wider_unsigned = target(|b| {
        let u = b.int("unsigned long", 8, false);
        b.strukt("W", 8, &[("v", u, 0)]);
    });
    let f = c.resolve(&wider_unsigned).unwrap().fixup;
    assert_eq!((f.orig_sz, f.new_sz, f.fail_memsz_adjust), (4, 8, false));
    let wider_signed = target(|b| {
        let s = b.int("long", 8, true);
        b.strukt("W", 8, &[("v", s, 0)]);
    });
    assert!(c.resolve(&wider_signed).unwrap().fixup.fail_memsz_adjust);
}

#[test]
fn enum_values_changed_and_removed() {
    let case = |kind, access| {
        local(access, kind, |b| {
            b.enumeration("E", &[("A", 0), ("B", 1), ("C", 2)])
        })
    };
    let t = target(|b| {
        b.enumeration("E", &[("C", 7), ("A", 3)]);
    });
    assert_eq!(case(EnumvalValue, "0").value(&t), 3);
    assert_eq!(case(EnumvalValue, "2").value(&t), 7);
    assert_eq!(case(EnumvalExists, "1").value(&t), 0);
    assert_eq!(case(EnumvalExists, "0").value(&t), 1);
    assert_eq!(
        case(EnumvalValue, "1").poisoned(&t),
        "no enumerator `B` in target enum E"
    );
    // An enum64 target: the 64-bit value.
    let t64 = target(|b| {
        b.enum64("E", &[("A", 1 << 40)]);
    });
    // ENUM locally and ENUM64 in the target are compatible kinds (libbpf
    // `btf_kind_core_compat`): the 32-bit local enum finds the 64-bit one...
    assert_eq!(case(EnumvalValue, "0").value(&t64), 1 << 40);
    assert_eq!(case(EnumvalExists, "0").value(&t64), 1);
    assert_eq!(case(EnumvalExists, "1").value(&t64), 0);
    // ...and so does a local ENUM64, of course.
    let c = local("0", EnumvalValue, |b| b.enum64("E", &[("A", 5)]));
    assert_eq!(c.value(&t64), 1 << 40);
    // A local ENUM64 finds a target ENUM too.
    let c = local("1", EnumvalValue, |b| {
        b.enum64("E", &[("A", 5), ("C", 1 << 33)])
    });
    assert_eq!(c.orig(&t), 1 << 33);
    assert_eq!(c.value(&t), 7);
    // Existence and size of the type itself, across the two kinds.
    let c = local("0", TypeExists, |b| b.enumeration("E", &[("A", 0)]));
    assert_eq!(c.value(&t64), 1);
    let c = local("0", TypeSize, |b| b.enumeration("E", &[("A", 0)]));
    assert_eq!(c.value(&t64), 8);
}

#[test]
fn negative_32_bit_enum_values_are_sign_extended_as_libbpf_does() {
    // libbpf reads a 32-bit enumerator as the __s32 of struct btf_enum and widens it
    // with its sign, locally (the value clang wrote) and in the target.
    let c = local("0", EnumvalValue, |b| b.enumeration("E", &[("A", -101)]));
    let t = target(|b| {
        b.enumeration("E", &[("A", -7)]);
    });
    assert_eq!(c.orig(&t), (-101i64) as u64);
    assert_eq!(c.value(&t), (-7i64) as u64);
    // An unsigned enumerator with the top bit set reads the same way.
    let t = target(|b| {
        b.enumeration("E", &[("A", 0x8000_0000u32 as i32)]);
    });
    assert_eq!(c.value(&t), 0xffff_ffff_8000_0000);
    // A target ENUM64 keeps its 64-bit value.
    let t = target(|b| {
        b.enum64("E", &[("A", 0xffff_ffff)]);
    });
    assert_eq!(c.value(&t), 0xffff_ffff);
    // The instructions clang emits for a negative enumerator accept the patch: an ALU
    // immediate of -101 and an ld_imm64 of 0xffff_ffff_ffff_ff9b.
    let fix = CoreFixup {
        orig: (-101i64) as u64,
        new: (-7i64) as u64,
        validate: true,
        ..Default::default()
    };
    let mut alu = vec![oxbpf_uapi::Insn::new(0xb7, 1, 0, 0, -101)];
    patch::patch_insn(&mut alu, 0, &fix).unwrap();
    assert_eq!(alu[0].imm, -7);
    let mut ld = vec![
        oxbpf_uapi::Insn::new(0x18, 1, 0, 0, -101),
        oxbpf_uapi::Insn::new(0, 0, 0, 0, -1),
    ];
    patch::patch_insn(&mut ld, 0, &fix).unwrap();
    assert_eq!((ld[0].imm, ld[1].imm), (-7, -1));
}

#[test]
fn ambiguous_candidates_are_an_error_and_agreeing_ones_are_not() {
    let c = local("0:1", FieldByteOffset, s_ab);
    let disagree = target(|b| {
        let int = b.int("int", 4, true);
        b.strukt("S___a", 8, &[("a", int, 0), ("b", int, 32)]);
        b.strukt(
            "S___b",
            12,
            &[("a", int, 0), ("x", int, 32), ("b", int, 64)],
        );
    });
    let err = c.resolve(&disagree).unwrap_err();
    assert!(matches!(err, CoreError::Ambiguous { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "ambiguous: candidates `struct S___a.b` and `struct S___b.b` resolve to different values (4 vs 8)"
    );
    let agree = target(|b| {
        let int = b.int("int", 4, true);
        b.strukt("S___a", 8, &[("a", int, 0), ("b", int, 32)]);
        b.strukt("S___b", 8, &[("a", int, 0), ("b", int, 32)]);
    });
    assert_eq!(c.value(&agree), 4);
}

#[test]
fn type_ids_sizes_and_existence() {
    let t = target(|b| {
        b.int("char", 1, true);
        let int = b.int("int", 4, true);
        b.strukt("S", 16, &[("a", int, 0), ("b", int, 32)]);
    });
    let c = local("0", TypeIdTarget, s_ab);
    let r = c.resolve(&t).unwrap();
    assert_eq!((r.fixup.orig, r.fixup.new, r.fixup.validate), (2, 3, false));
    let c = local("0", TypeIdLocal, s_ab);
    assert_eq!(c.value(&t), 2);
    assert_eq!(local("0", TypeSize, s_ab).value(&t), 16);
    assert_eq!(local("0", TypeExists, s_ab).value(&t), 1);
    // Type relocations take only "0".
    let err = local("0:1", TypeSize, s_ab).resolve(&t).unwrap_err();
    assert!(matches!(err, CoreError::BadSpec { .. }), "{err}");
}

#[test]
fn type_matches_is_stricter_than_type_exists() {
    let local_s = |b: &mut BtfBuilder| {
        let u = b.int("unsigned int", 4, false);
        let fwd_target = b.fwd("opaque", false);
        let p = b.ptr(fwd_target);
        b.strukt("M", 16, &[("n", u, 0), ("p", p, 64)])
    };
    let exists = local("0", TypeExists, local_s);
    let matches = local("0", TypeMatches, local_s);
    // Extra target members, a full struct where the local has a forward declaration
    // behind a pointer: still a match.
    let more = target(|b| {
        let u = b.int("unsigned int", 4, false);
        let opaque = b.strukt("opaque", 4, &[("x", u, 0)]);
        let p = b.ptr(opaque);
        b.strukt("M", 24, &[("extra", u, 0), ("n", u, 32), ("p", p, 64)]);
    });
    assert_eq!((exists.value(&more), matches.value(&more)), (1, 1));
    // Signedness of a member differs: exists, but does not match.
    let signed = target(|b| {
        let i = b.int("unsigned int", 4, true);
        let opaque = b.fwd("opaque", false);
        let p = b.ptr(opaque);
        b.strukt("M", 16, &[("n", i, 0), ("p", p, 64)]);
    });
    assert_eq!((exists.value(&signed), matches.value(&signed)), (1, 0));
    // A member missing in the target: no match.
    let missing = target(|b| {
        let u = b.int("unsigned int", 4, false);
        b.strukt("M", 4, &[("n", u, 0)]);
    });
    assert_eq!(matches.value(&missing), 0);
    let r = matches.resolve(&missing).unwrap();
    assert!(r.no_match.unwrap().contains("no matching member `p`"));
    // Integer names are compared too (libbpf's rule), so "unsigned" vs "unsigned int"
    // does not match even at the same size and signedness.
    let renamed = target(|b| {
        let u = b.int("unsigned", 4, false);
        let opaque = b.fwd("opaque", false);
        let p = b.ptr(opaque);
        b.strukt("M", 16, &[("n", u, 0), ("p", p, 64)]);
    });
    assert_eq!(matches.value(&renamed), 0);
}

#[test]
fn function_prototypes_compare_parameter_by_parameter() {
    let local_fn = |b: &mut BtfBuilder| {
        let int = b.int("int", 4, true);
        let proto = b.func_proto(int, &[("a", int), ("b", int)]);
        let p = b.ptr(proto);
        b.typedef("cb_t", p)
    };
    let two = target(|b| {
        let int = b.int("int", 4, true);
        let proto = b.func_proto(int, &[("x", int), ("y", int)]);
        let p = b.ptr(proto);
        b.typedef("cb_t", p);
    });
    let one = target(|b| {
        let int = b.int("int", 4, true);
        let proto = b.func_proto(int, &[("x", int)]);
        let p = b.ptr(proto);
        b.typedef("cb_t", p);
    });
    assert_eq!(local("0", TypeExists, local_fn).value(&two), 1);
    assert_eq!(local("0", TypeExists, local_fn).value(&one), 0);
    assert_eq!(local("0", TypeMatches, local_fn).value(&two), 1);
    assert_eq!(local("0", TypeMatches, local_fn).value(&one), 0);
}

#[test]
fn anonymous_roots_and_bad_access_strings_are_errors() {
    let t = target(|b| {
        b.int("int", 4, true);
    });
    let c = local("0:0", FieldByteOffset, |b| {
        let int = b.int("int", 4, true);
        b.strukt("", 4, &[("a", int, 0)])
    });
    assert_eq!(c.resolve(&t).unwrap_err(), CoreError::Anonymous);
    for bad in ["", ":1", "0:x", "0:9"] {
        let c = local(bad, FieldByteOffset, s_ab);
        assert!(
            matches!(c.resolve(&t).unwrap_err(), CoreError::BadSpec { .. }),
            "{bad}"
        );
    }
    let c = Case {
        kind: FieldByteOffset,
        ..local("0", FieldByteOffset, s_ab)
    };
    let rec = CoreReloRecord {
        insn_off: 0,
        type_id: TypeId(c.root),
        access_str_off: c.access_off,
        kind: 13,
    };
    let err = Relocator::new(
        &c.local,
        CoreTargets::custom("t", t.clone()),
        Endian::Little,
    )
    .resolve(&rec)
    .unwrap_err();
    assert_eq!(err, CoreError::UnknownKind(13));
}

#[test]
fn big_endian_objects_shift_bitfields_from_the_other_end() {
    let mut b = BtfBuilder::new(Endian::Big);
    let u32_ = b.int("unsigned int", 4, false);
    let root = b.bitfield_struct("B", 4, &[("x", u32_, 0, 3), ("f", u32_, 3, 2)]);
    let access_off = b.name("0:1");
    let local = b.btf().unwrap();
    let rec = CoreReloRecord {
        insn_off: 0,
        type_id: TypeId(root),
        access_str_off: access_off,
        kind: FieldLshiftU64 as u32,
    };
    let t = target(|b| {
        let u32_ = b.int("unsigned int", 4, false);
        b.bitfield_struct("B", 4, &[("f", u32_, 10, 5)]);
    });
    let r = Relocator::new(&local, CoreTargets::custom("t", t), Endian::Big)
        .resolve(&rec)
        .unwrap();
    // (8 - byte_sz) * 8 + (bit_off - byte_off * 8) = 32 + 10
    assert_eq!(r.fixup.new, 42);
}

#[test]
fn candidate_lists_are_cached_and_pruned() {
    let c = local("0:1", FieldByteOffset, s_ab);
    let t = target(|b| {
        let int = b.int("int", 4, true);
        b.strukt("S", 8, &[("a", int, 0), ("b", int, 32)]);
        b.strukt("S___nob", 4, &[("a", int, 0)]);
    });
    let mut r = Relocator::new(&c.local, CoreTargets::custom("t", t), Endian::Little);
    let rec = CoreReloRecord {
        insn_off: 0,
        type_id: TypeId(c.root),
        access_str_off: c.access_off,
        kind: FieldByteOffset as u32,
    };
    assert_eq!(r.candidates(TypeId(c.root)).unwrap().len(), 2);
    assert_eq!(r.resolve(&rec).unwrap().fixup.new, 4);
    // The flavor without `b` did not match, so it is dropped for later relocations.
    assert_eq!(
        r.candidates(TypeId(c.root)).unwrap(),
        [Candidate {
            target: 0,
            id: TypeId(2)
        }]
    );
}

#[test]
fn module_btf_is_searched_only_for_types_vmlinux_lacks() {
    // vmlinux: int (1), struct S { int a; int b; } (2).
    let mut base = BtfBuilder::new(Endian::Little);
    let int = base.int("int", 4, true);
    base.strukt("S", 8, &[("a", int, 0), ("b", int, 32)]);
    let vmlinux = Arc::new(base.btf().unwrap());
    // A module (split on vmlinux): struct mod_thing { int pad; int count; } (3), and its
    // own struct S with another layout, which must not be considered.
    let mut m = BtfBuilder::split(Endian::Little, 2, vmlinux.string_section().len() as u32);
    m.strukt("mod_thing", 8, &[("pad", 1, 0), ("count", 1, 32)]);
    m.strukt("S", 16, &[("b", 1, 96)]);
    let module = Arc::new(Btf::parse_split(m.build(), vmlinux.clone()).unwrap());
    let targets =
        || CoreTargets::with_modules(vmlinux.clone(), vec![("thing_mod".into(), module.clone())]);
    let resolve = |case: &Case| {
        let rec = CoreReloRecord {
            insn_off: 0,
            type_id: TypeId(case.root),
            access_str_off: case.access_off,
            kind: case.kind as u32,
        };
        let mut r = Relocator::new(&case.local, targets(), Endian::Little);
        let res = r.resolve(&rec).unwrap();
        let (target, _) = res.target.clone().unwrap();
        (r.targets().name(target).to_string(), res.fixup.new)
    };
    // Local: struct mod_thing { int count; }, reading count.
    let thing = local("0:0", FieldByteOffset, |b| {
        let int = b.int("int", 4, true);
        b.strukt("mod_thing", 4, &[("count", int, 0)])
    });
    assert_eq!(resolve(&thing), ("thing_mod".to_string(), 4));
    // S is in vmlinux: the module's S is never a candidate (it would disagree).
    let s_b = local("0:1", FieldByteOffset, s_ab);
    assert_eq!(resolve(&s_b), ("vmlinux".to_string(), 4));
}
