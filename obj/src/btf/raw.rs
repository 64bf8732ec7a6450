//! The on-disk BTF layout (`include/uapi/linux/btf.h`): header, kind numbers and the
//! size of each kind's record. Decoding into the model happens in `types.rs`.

use oxbpf_uapi::Endian;
use oxbpf_uapi::bytes::Bytes;

/// `BTF_MAGIC`, read as a `u16` in the blob's own byte order.
pub const MAGIC: u16 = 0xeb9f;
/// The only BTF version there is.
pub const VERSION: u8 = 1;
/// `struct btf_header` without optional trailing fields.
pub const HEADER_LEN: usize = 24;
/// `struct btf_type`: name_off, info, size/type.
pub const TYPE_LEN: usize = 12;

/// A BTF kind (`BTF_KIND_*`), the bits 24..29 of a type's `info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[expect(
    missing_docs,
    reason = "each variant is the BTF_KIND_ of the same name"
)]
pub enum Kind {
    Void = 0,
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

impl Kind {
    /// The kind for a raw kind number, if it is one the format defines.
    pub fn from_raw(k: u32) -> Option<Kind> {
        use Kind::*;
        Some(match k {
            0 => Void,
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            _ => return None,
        })
    }

    /// The name bpftool prints (`STRUCT`, `FUNC_PROTO`, ...).
    pub fn name(self) -> &'static str {
        use Kind::*;
        match self {
            Void => "VOID",
            Int => "INT",
            Ptr => "PTR",
            Array => "ARRAY",
            Struct => "STRUCT",
            Union => "UNION",
            Enum => "ENUM",
            Fwd => "FWD",
            Typedef => "TYPEDEF",
            Volatile => "VOLATILE",
            Const => "CONST",
            Restrict => "RESTRICT",
            Func => "FUNC",
            FuncProto => "FUNC_PROTO",
            Var => "VAR",
            Datasec => "DATASEC",
            Float => "FLOAT",
            DeclTag => "DECL_TAG",
            TypeTag => "TYPE_TAG",
            Enum64 => "ENUM64",
        }
    }

    /// Bytes that follow the 12-byte `struct btf_type` for a type of this kind with
    /// `vlen` entries. Computed in u64 so a hostile vlen cannot overflow.
    pub fn extra_len(self, vlen: u32) -> u64 {
        use Kind::*;
        let vlen = u64::from(vlen);
        match self {
            Int | Var | DeclTag => 4,
            Array => 12,
            Struct | Union | Datasec | Enum64 => 12 * vlen,
            Enum | FuncProto => 8 * vlen,
            Void | Ptr | Fwd | Typedef | Volatile | Const | Restrict | Func | Float | TypeTag => 0,
        }
    }
}

/// The fields of `struct btf_header` the parser uses, offsets relative to the end of the
/// header as the format defines them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Byte order of the blob, from the magic.
    pub endian: Endian,
    /// `hdr_len`.
    pub hdr_len: u32,
    /// `type_off`.
    pub type_off: u32,
    /// `type_len`.
    pub type_len: u32,
    /// `str_off`.
    pub str_off: u32,
    /// `str_len`.
    pub str_len: u32,
}

/// The fixed part of one type record, read from the type section.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record<'a> {
    pub(crate) name_off: u32,
    pub(crate) info: u32,
    pub(crate) kind: Kind,
    pub(crate) size_or_type: u32,
    /// The bytes after the 12-byte `struct btf_type`, as many as the kind has.
    pub(crate) extra: &'a [u8],
}

impl Record<'_> {
    /// The record's whole length in the type section.
    pub(crate) fn len(&self) -> usize {
        TYPE_LEN + self.extra.len()
    }
}

/// Reads the record at `off` of the type section `t`, or why it cannot (the caller
/// names the type id in its error).
pub(crate) fn record(t: Bytes<'_>, off: usize) -> Result<Record<'_>, RecordError> {
    let info = t.u32(off + 4).map_err(|_| RecordError::Short)?;
    let raw_kind = (info >> 24) & 0x1f;
    let kind = Kind::from_raw(raw_kind).ok_or(RecordError::UnknownKind(raw_kind))?;
    let start = off + TYPE_LEN;
    // A length no usize holds (32-bit hosts) cannot fit the input either: the slice
    // read below fails on it.
    let extra_len = usize::try_from(kind.extra_len(info & 0xffff)).unwrap_or(usize::MAX);
    Ok(Record {
        name_off: t.u32(off).map_err(|_| RecordError::Short)?,
        info,
        kind,
        size_or_type: t.u32(off + 8).map_err(|_| RecordError::Short)?,
        extra: t.slice(start, extra_len).map_err(|_| RecordError::Short)?,
    })
}

/// Why [`record`] could not read a record.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RecordError {
    /// The record runs past the end of the type section.
    Short,
    /// Its kind number is not one the format defines.
    UnknownKind(u32),
}
