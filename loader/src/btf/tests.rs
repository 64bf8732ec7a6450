use super::*;

/// Builds BTF blobs for tests, type by type, in either byte order.
pub(crate) struct BtfBuilder {
    endian: Endian,
    types: Vec<u8>,
    strings: Vec<u8>,
    count: u32,
}

impl BtfBuilder {
    pub(crate) fn new(endian: Endian) -> Self {
        BtfBuilder {
            endian,
            types: Vec::new(),
            strings: vec![0],
            count: 0,
        }
    }

    fn u32(&mut self, v: u32) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.types.extend_from_slice(&b);
    }

    pub(crate) fn name(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    /// Appends a type header and returns its id.
    pub(crate) fn ty(
        &mut self,
        name: &str,
        kind: Kind,
        vlen: u32,
        kflag: bool,
        size_or_type: u32,
    ) -> u32 {
        let n = self.name(name);
        self.u32(n);
        self.u32((kind as u32) << 24 | vlen | (u32::from(kflag) << 31));
        self.u32(size_or_type);
        self.count += 1;
        self.count
    }

    pub(crate) fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let id = self.ty(name, Kind::Int, 0, false, size);
        self.u32((u32::from(signed) << 24) | (size * 8));
        id
    }

    pub(crate) fn ptr(&mut self, to: u32) -> u32 {
        self.ty("", Kind::Ptr, 0, false, to)
    }

    pub(crate) fn typedef(&mut self, name: &str, to: u32) -> u32 {
        self.ty(name, Kind::Typedef, 0, false, to)
    }

    pub(crate) fn array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
        let id = self.ty("", Kind::Array, 0, false, 0);
        self.u32(elem);
        self.u32(index);
        self.u32(nelems);
        id
    }

    /// A struct with `(name, type, bit offset)` members.
    pub(crate) fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let id = self.ty(name, Kind::Struct, members.len() as u32, false, size);
        for &(m, t, off) in members {
            let n = self.name(m);
            self.u32(n);
            self.u32(t);
            self.u32(off);
        }
        id
    }

    pub(crate) fn var(&mut self, name: &str, ty: u32, linkage: u32) -> u32 {
        let id = self.ty(name, Kind::Var, 0, false, ty);
        self.u32(linkage);
        id
    }

    /// A DATASEC with `(var type, offset, size)` entries.
    pub(crate) fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let id = self.ty(name, Kind::Datasec, vars.len() as u32, false, size);
        for &(t, off, sz) in vars {
            self.u32(t);
            self.u32(off);
            self.u32(sz);
        }
        id
    }

    pub(crate) fn enumeration(&mut self, name: &str, values: &[(&str, i32)]) -> u32 {
        let id = self.ty(name, Kind::Enum, values.len() as u32, false, 4);
        for &(n, v) in values {
            let n = self.name(n);
            self.u32(n);
            self.u32(v as u32);
        }
        id
    }

    /// Raw extra words after the last type (to build malformed records).
    pub(crate) fn raw_word(&mut self, v: u32) {
        self.u32(v);
    }

    pub(crate) fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let w16 = |v: u16| match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        let w32 = |v: u32| match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        out.extend_from_slice(&w16(raw::MAGIC));
        out.push(raw::VERSION);
        out.push(0);
        out.extend_from_slice(&w32(24));
        out.extend_from_slice(&w32(0));
        out.extend_from_slice(&w32(self.types.len() as u32));
        out.extend_from_slice(&w32(self.types.len() as u32));
        out.extend_from_slice(&w32(self.strings.len() as u32));
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

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
