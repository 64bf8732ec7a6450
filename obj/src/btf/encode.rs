//! Writing BTF: the owned model back to bytes, in either byte order, with each distinct
//! string stored once. Type ids are positions: element `i` becomes type `i + 1`.

use std::collections::HashMap;

use oxbpf_uapi::Endian;

use super::types::{Composite, EnumDef, Type, TypeKind};
use super::{BtfError, Kind, TypeId, raw};

struct Writer<'a> {
    endian: Endian,
    types: Vec<u8>,
    strings: Vec<u8>,
    offsets: HashMap<&'a str, u32>,
}

impl<'a> Writer<'a> {
    fn u32(&mut self, v: u32) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.types.extend_from_slice(&b);
    }

    fn str(&mut self, s: &'a str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        if let Some(&off) = self.offsets.get(s) {
            return off;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.offsets.insert(s, off);
        off
    }

    fn head(
        &mut self,
        id: TypeId,
        name: &'a str,
        kind: Kind,
        vlen: usize,
        kflag: bool,
        size_or_type: u32,
    ) -> Result<(), BtfError> {
        let vlen = u32::try_from(vlen)
            .ok()
            .filter(|v| *v <= 0xffff)
            .ok_or(BtfError::TooLarge(id))?;
        let name_off = self.str(name);
        self.u32(name_off);
        self.u32(((kind as u32) << 24) | vlen | (u32::from(kflag) << 31));
        self.u32(size_or_type);
        Ok(())
    }

    fn composite(
        &mut self,
        id: TypeId,
        name: &'a str,
        kind: Kind,
        c: &'a Composite,
    ) -> Result<(), BtfError> {
        self.head(id, name, kind, c.members.len(), c.bitfield_encoding, c.size)?;
        for m in &c.members {
            let n = self.str(&m.name);
            self.u32(n);
            self.u32(m.ty.0);
            self.u32(if c.bitfield_encoding {
                (m.bitfield_size << 24) | (m.bit_offset & 0xff_ffff)
            } else {
                m.bit_offset
            });
        }
        Ok(())
    }

    fn enumeration(
        &mut self,
        id: TypeId,
        name: &'a str,
        kind: Kind,
        e: &'a EnumDef,
    ) -> Result<(), BtfError> {
        self.head(id, name, kind, e.values.len(), e.signed, e.size)?;
        for (n, v) in &e.values {
            let n = self.str(n);
            self.u32(n);
            self.u32(*v as u32);
            if kind == Kind::Enum64 {
                self.u32((*v >> 32) as u32);
            }
        }
        Ok(())
    }
}

/// Encodes `types` as a BTF blob in `endian` byte order.
///
/// # Errors
/// [`BtfError::TooLarge`] when a type has more entries than a record can count.
pub fn encode(types: &[Type], endian: Endian) -> Result<Vec<u8>, BtfError> {
    encode_with_strings(types, endian, &[0])
}

/// Encodes `types` with `strings` (an existing string section, starting with NUL) kept
/// as the start of the new one: every offset into it stays valid, and new names are
/// appended. An object's func_info and line_info, and CO-RE access strings, refer to its
/// string section by offset, so the BTF given to the kernel must keep them where they
/// were (libbpf edits BTF in place for the same reason).
///
/// # Errors
/// [`BtfError::TooLarge`] when a type has more entries than a record can count.
pub fn encode_with_strings<'a>(
    types: &'a [Type],
    endian: Endian,
    strings: &'a [u8],
) -> Result<Vec<u8>, BtfError> {
    let mut w = Writer::with_strings(endian, strings);
    for (i, t) in types.iter().enumerate() {
        w.ty(TypeId(i as u32 + 1), t)?;
    }
    Ok(w.finish())
}

impl<'a> Writer<'a> {
    /// A writer whose string section starts as `strings`, every name in it indexed.
    fn with_strings(endian: Endian, strings: &'a [u8]) -> Writer<'a> {
        let mut offsets = HashMap::new();
        let mut at = 0usize;
        for piece in strings.split(|&b| b == 0) {
            if let Ok(s) = std::str::from_utf8(piece) {
                if !s.is_empty() {
                    offsets.entry(s).or_insert(at as u32);
                }
            }
            at += piece.len() + 1;
        }
        let mut initial = strings.to_vec();
        if initial.first() != Some(&0) {
            initial.insert(0, 0);
            offsets.values_mut().for_each(|o| *o += 1);
        }
        if initial.last() != Some(&0) {
            initial.push(0);
        }
        Writer {
            endian,
            types: Vec::new(),
            strings: initial,
            offsets,
        }
    }

    /// Type `id`'s record: its header, then what its kind has after it.
    fn ty(&mut self, id: TypeId, t: &'a Type) -> Result<(), BtfError> {
        let w = self;
        let name = t.name.as_str();
        match &t.kind {
            TypeKind::Int {
                size,
                encoding,
                offset,
                bits,
            } => {
                w.head(id, name, Kind::Int, 0, false, *size)?;
                w.u32((u32::from(*encoding) << 24) | (u32::from(*offset) << 16) | u32::from(*bits));
            }
            TypeKind::Ptr(t) => w.head(id, name, Kind::Ptr, 0, false, t.0)?,
            TypeKind::Array {
                elem,
                index,
                nelems,
            } => {
                w.head(id, name, Kind::Array, 0, false, 0)?;
                w.u32(elem.0);
                w.u32(index.0);
                w.u32(*nelems);
            }
            TypeKind::Struct(c) => w.composite(id, name, Kind::Struct, c)?,
            TypeKind::Union(c) => w.composite(id, name, Kind::Union, c)?,
            TypeKind::Enum(e) => w.enumeration(id, name, Kind::Enum, e)?,
            TypeKind::Enum64(e) => w.enumeration(id, name, Kind::Enum64, e)?,
            TypeKind::Fwd { is_union } => w.head(id, name, Kind::Fwd, 0, *is_union, 0)?,
            TypeKind::Typedef(t) => w.head(id, name, Kind::Typedef, 0, false, t.0)?,
            TypeKind::Volatile(t) => w.head(id, name, Kind::Volatile, 0, false, t.0)?,
            TypeKind::Const(t) => w.head(id, name, Kind::Const, 0, false, t.0)?,
            TypeKind::Restrict(t) => w.head(id, name, Kind::Restrict, 0, false, t.0)?,
            TypeKind::Func { proto, linkage } => {
                w.head(id, name, Kind::Func, linkage.raw() as usize, false, proto.0)?
            }
            TypeKind::FuncProto { ret, params } => {
                w.head(id, name, Kind::FuncProto, params.len(), false, ret.0)?;
                for p in params {
                    let n = w.str(&p.name);
                    w.u32(n);
                    w.u32(p.ty.0);
                }
            }
            TypeKind::Var { ty, linkage } => {
                w.head(id, name, Kind::Var, 0, false, ty.0)?;
                w.u32(linkage.raw());
            }
            TypeKind::Datasec { size, vars } => {
                w.head(id, name, Kind::Datasec, vars.len(), false, *size)?;
                for v in vars {
                    w.u32(v.type_id.0);
                    w.u32(v.offset);
                    w.u32(v.size);
                }
            }
            TypeKind::Float { size } => w.head(id, name, Kind::Float, 0, false, *size)?,
            TypeKind::DeclTag {
                target,
                component,
                attr,
            } => {
                w.head(id, name, Kind::DeclTag, 0, *attr, target.0)?;
                w.u32(*component as u32);
            }
            TypeKind::TypeTag { target, attr } => {
                w.head(id, name, Kind::TypeTag, 0, *attr, target.0)?
            }
        }
        Ok(())
    }

    /// The blob: header, type section, string section.
    fn finish(mut self) -> Vec<u8> {
        let endian = self.endian;
        let w = &mut self;
        let (types, strings) = (std::mem::take(&mut w.types), std::mem::take(&mut w.strings));
        // The header, written with the same byte-order-aware writer.
        let magic = match endian {
            Endian::Little => raw::MAGIC.to_le_bytes(),
            Endian::Big => raw::MAGIC.to_be_bytes(),
        };
        w.types.extend_from_slice(&magic);
        w.types.push(raw::VERSION);
        w.types.push(0); // flags
        let type_len = types.len() as u32;
        for v in [
            raw::HEADER_LEN as u32,
            0,
            type_len,
            type_len,
            strings.len() as u32,
        ] {
            w.u32(v); // hdr_len, type_off, type_len, str_off, str_len
        }
        let mut out = std::mem::take(&mut w.types);
        out.reserve(types.len() + strings.len());
        out.extend_from_slice(&types);
        out.extend_from_slice(&strings);
        out
    }
}
