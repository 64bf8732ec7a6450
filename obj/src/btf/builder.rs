//! A builder of BTF blobs, type by type, in either byte order — including malformed
//! ones, since it writes raw records: for tests (here and in the crates above), fuzz
//! seeds and tools that need a small BTF.

use oxbpf_uapi::Endian;

use super::{Kind, raw};

/// Builds BTF blobs type by type, in either byte order.
#[derive(Debug)]
pub struct BtfBuilder {
    endian: Endian,
    types: Vec<u8>,
    strings: Vec<u8>,
    count: u32,
    /// For split BTF: the base's string section length.
    first_str: u32,
}

impl BtfBuilder {
    /// An empty blob (ids and string offsets start at 1).
    pub fn new(endian: Endian) -> Self {
        BtfBuilder {
            endian,
            types: Vec::new(),
            strings: vec![0],
            count: 0,
            first_str: 0,
        }
    }

    /// Split BTF on top of a base with `base_types` types and `base_strings` bytes of
    /// strings: ids and string offsets continue after the base's.
    pub fn split(endian: Endian, base_types: u32, base_strings: u32) -> Self {
        BtfBuilder {
            endian,
            types: Vec::new(),
            strings: Vec::new(),
            count: base_types,
            first_str: base_strings,
        }
    }

    fn u32(&mut self, v: u32) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.types.extend_from_slice(&b);
    }

    /// Adds `s` to the string section; returns its offset.
    pub fn name(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.first_str + self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    /// Appends a type header and returns its id.
    pub fn ty(&mut self, name: &str, kind: Kind, vlen: u32, kflag: bool, size_or_type: u32) -> u32 {
        let n = self.name(name);
        self.u32(n);
        self.u32((kind as u32) << 24 | vlen | (u32::from(kflag) << 31));
        self.u32(size_or_type);
        self.count += 1;
        self.count
    }

    /// An INT of `size` bytes; returns its id.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let id = self.ty(name, Kind::Int, 0, false, size);
        self.u32((u32::from(signed) << 24) | (size * 8));
        id
    }

    /// A PTR to type `to`; returns its id.
    pub fn ptr(&mut self, to: u32) -> u32 {
        self.ty("", Kind::Ptr, 0, false, to)
    }

    /// A TYPEDEF of type `to`; returns its id.
    pub fn typedef(&mut self, name: &str, to: u32) -> u32 {
        self.ty(name, Kind::Typedef, 0, false, to)
    }

    /// An ARRAY of `nelems` `elem`s indexed by `index`; returns its id.
    pub fn array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
        let id = self.ty("", Kind::Array, 0, false, 0);
        self.u32(elem);
        self.u32(index);
        self.u32(nelems);
        id
    }

    /// A struct with `(name, type, bit offset)` members.
    pub fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let id = self.ty(name, Kind::Struct, members.len() as u32, false, size);
        for &(m, t, off) in members {
            let n = self.name(m);
            self.u32(n);
            self.u32(t);
            self.u32(off);
        }
        id
    }

    /// A VAR of type `ty` with raw `linkage`; returns its id.
    pub fn var(&mut self, name: &str, ty: u32, linkage: u32) -> u32 {
        let id = self.ty(name, Kind::Var, 0, false, ty);
        self.u32(linkage);
        id
    }

    /// A DATASEC with `(var type, offset, size)` entries.
    pub fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let id = self.ty(name, Kind::Datasec, vars.len() as u32, false, size);
        for &(t, off, sz) in vars {
            self.u32(t);
            self.u32(off);
            self.u32(sz);
        }
        id
    }

    /// A 4-byte ENUM with `(name, value)` entries; returns its id.
    pub fn enumeration(&mut self, name: &str, values: &[(&str, i32)]) -> u32 {
        let id = self.ty(name, Kind::Enum, values.len() as u32, false, 4);
        for &(n, v) in values {
            let n = self.name(n);
            self.u32(n);
            self.u32(v as u32);
        }
        id
    }

    /// Raw extra words after the last type (to build malformed records).
    pub fn raw_word(&mut self, v: u32) {
        self.u32(v);
    }

    /// The blob: header, types, strings.
    pub fn build(&self) -> Vec<u8> {
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

impl BtfBuilder {
    /// A union with `(name, type)` members, all at offset 0.
    pub fn union(&mut self, name: &str, size: u32, members: &[(&str, u32)]) -> u32 {
        let id = self.ty(name, Kind::Union, members.len() as u32, false, size);
        for &(m, t) in members {
            let n = self.name(m);
            self.raw_word(n);
            self.raw_word(t);
            self.raw_word(0);
        }
        id
    }

    /// A struct using bitfield encoding: `(name, type, bit offset, bitfield size)`.
    pub fn bitfield_struct(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, u32, u32, u32)],
    ) -> u32 {
        let id = self.ty(name, Kind::Struct, members.len() as u32, true, size);
        for &(m, t, off, bits) in members {
            let n = self.name(m);
            self.raw_word(n);
            self.raw_word(t);
            self.raw_word((bits << 24) | off);
        }
        id
    }

    /// An ENUM64 with `(name, value)` entries.
    pub fn enum64(&mut self, name: &str, values: &[(&str, u64)]) -> u32 {
        let id = self.ty(name, Kind::Enum64, values.len() as u32, false, 8);
        for &(n, v) in values {
            let n = self.name(n);
            self.raw_word(n);
            self.raw_word(v as u32);
            self.raw_word((v >> 32) as u32);
        }
        id
    }

    /// A forward declaration (`union` when `is_union`).
    pub fn fwd(&mut self, name: &str, is_union: bool) -> u32 {
        self.ty(name, Kind::Fwd, 0, is_union, 0)
    }

    /// A function prototype with `(name, type)` parameters.
    pub fn func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.ty("", Kind::FuncProto, params.len() as u32, false, ret);
        for &(n, t) in params {
            let n = self.name(n);
            self.raw_word(n);
            self.raw_word(t);
        }
        id
    }

    /// Parses what was built.
    ///
    /// # Errors
    /// What [`super::Btf::parse`] finds wrong (the builder writes malformed records
    /// when asked to).
    pub fn btf(&self) -> Result<super::Btf, super::BtfError> {
        super::Btf::parse(self.build())
    }
}
