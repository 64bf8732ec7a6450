//! [`BtfType`]: one type, read from the blob's bytes when a field is asked for.

use std::fmt;

use oxbpf_uapi::bytes::Bytes;

use super::{Btf, BtfError, Kind, TypeId};

/// One type, read from the blob on demand.
#[derive(Clone, Copy)]
pub struct BtfType<'a> {
    pub(super) btf: &'a Btf,
    pub(super) id: TypeId,
    pub(super) kind: Kind,
    pub(super) name_off: u32,
    pub(super) info: u32,
    pub(super) size_or_type: u32,
    pub(super) extra: &'a [u8],
}

impl fmt::Debug for BtfType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} '{}'",
            self.id,
            self.kind.name(),
            // Debug output only: a bad name shows as such, it is not a value.
            self.name().unwrap_or("<bad name>")
        )
    }
}

/// A struct or union member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// Its name ("" for anonymous members).
    pub name: &'a str,
    /// Its type.
    pub type_id: TypeId,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield size in bits, or 0 for a whole-type member.
    pub bitfield_size: u32,
}

/// An array's element and index types and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Array {
    /// Element type.
    pub elem_type: TypeId,
    /// Index type.
    pub index_type: TypeId,
    /// Number of elements.
    pub nelems: u32,
}

/// A variable in a DATASEC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The VAR (or FUNC, for `.ksyms` kfuncs) type.
    pub type_id: TypeId,
    /// Offset within the section.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// A function parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// Its name ("" when unnamed).
    pub name: &'a str,
    /// Its type.
    pub type_id: TypeId,
}

/// An enumerator, widened to 64 bits for both ENUM and ENUM64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enumerator<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its value, as the raw 64 bits (sign-extend for signed 32-bit enums).
    pub value: u64,
}

/// Linkage of a FUNC or VAR (`BTF_FUNC_*`, `BTF_VAR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linkage {
    /// Visible in this object only.
    Static,
    /// Defined here and visible to others.
    Global,
    /// Declared here, defined elsewhere (kernel, kconfig, another object).
    Extern,
    /// A value the format does not define.
    Unknown(u32),
}

impl Linkage {
    /// The raw value (`BTF_FUNC_*` / `BTF_VAR_*`).
    pub fn raw(self) -> u32 {
        match self {
            Linkage::Static => 0,
            Linkage::Global => 1,
            Linkage::Extern => 2,
            Linkage::Unknown(n) => n,
        }
    }

    pub(super) fn from_raw(v: u32) -> Linkage {
        match v {
            0 => Linkage::Static,
            1 => Linkage::Global,
            2 => Linkage::Extern,
            n => Linkage::Unknown(n),
        }
    }
}

impl<'a> BtfType<'a> {
    /// Its id.
    pub fn id(&self) -> TypeId {
        self.id
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Its name ("" for anonymous types).
    ///
    /// # Errors
    /// [`BtfError::BadName`] when the name offset is bad.
    pub fn name(&self) -> Result<&'a str, BtfError> {
        self.btf.str_for(self.id, self.name_off)
    }

    /// `vlen`: number of members, enumerators, parameters or section entries.
    pub fn vlen(&self) -> u32 {
        self.info & 0xffff
    }

    /// `kind_flag`: bitfield encoding for structs, forward kind for FWD, signedness for
    /// enums, attribute tags for DECL_TAG/TYPE_TAG.
    pub fn kind_flag(&self) -> bool {
        self.info >> 31 != 0
    }

    /// The `size` field for kinds that have one (INT, STRUCT, UNION, ENUM, ENUM64,
    /// FLOAT, DATASEC).
    pub fn size(&self) -> u32 {
        self.size_or_type
    }

    /// The referenced type of PTR, TYPEDEF, qualifiers, FUNC, VAR, DECL_TAG, TYPE_TAG
    /// and the return type of FUNC_PROTO.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`] for kinds without one; [`BtfError::BadTypeId`].
    pub fn ref_type(&self) -> Result<TypeId, BtfError> {
        match self.kind {
            Kind::Ptr
            | Kind::Typedef
            | Kind::Volatile
            | Kind::Const
            | Kind::Restrict
            | Kind::Func
            | Kind::FuncProto
            | Kind::Var
            | Kind::DeclTag
            | Kind::TypeTag => self.btf.check_id(self.id, TypeId(self.size_or_type)),
            k => Err(self.wrong("a type that refers to another", k)),
        }
    }

    fn wrong(&self, expected: &'static str, found: Kind) -> BtfError {
        BtfError::WrongKind {
            id: self.id,
            expected,
            found: found.name(),
        }
    }

    /// The `i`th 32-bit word after the 12-byte record header.
    fn word(&self, i: usize) -> Result<u32, BtfError> {
        Bytes::new(self.extra, self.btf.endian)
            .u32(i * 4)
            .map_err(|short| BtfError::ShortRecord { id: self.id, short })
    }

    /// INT: `(encoding, bit offset, bits)`; encoding bit 0 is signed, 1 char, 2 bool.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`] for other kinds.
    pub fn int(&self) -> Result<(u8, u8, u8), BtfError> {
        if self.kind != Kind::Int {
            return Err(self.wrong("INT", self.kind));
        }
        let v = self.word(0)?;
        Ok(((v >> 24) as u8 & 0x0f, (v >> 16) as u8, v as u8))
    }

    /// ARRAY: element type, index type and length.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`]; [`BtfError::BadTypeId`] for either type.
    pub fn array(&self) -> Result<Array, BtfError> {
        if self.kind != Kind::Array {
            return Err(self.wrong("ARRAY", self.kind));
        }
        Ok(Array {
            elem_type: self.btf.check_id(self.id, TypeId(self.word(0)?))?,
            index_type: self.btf.check_id(self.id, TypeId(self.word(1)?))?,
            nelems: self.word(2)?,
        })
    }

    /// STRUCT/UNION members, decoded one at a time.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`] for other kinds; each item fails on a bad name or id.
    pub fn members(
        &self,
    ) -> Result<impl Iterator<Item = Result<Member<'a>, BtfError>> + 'a, BtfError> {
        if !matches!(self.kind, Kind::Struct | Kind::Union) {
            return Err(self.wrong("STRUCT or UNION", self.kind));
        }
        let t = *self;
        Ok((0..self.vlen() as usize).map(move |i| {
            let off = t.word(i * 3 + 2)?;
            let (bit_offset, bitfield_size) = if t.kind_flag() {
                (off & 0xff_ffff, off >> 24)
            } else {
                (off, 0)
            };
            Ok(Member {
                name: t.btf.str_for(t.id, t.word(i * 3)?)?,
                type_id: t.btf.check_id(t.id, TypeId(t.word(i * 3 + 1)?))?,
                bit_offset,
                bitfield_size,
            })
        }))
    }

    /// DATASEC entries.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`]; each item fails on a bad id.
    pub fn datasec_vars(
        &self,
    ) -> Result<impl Iterator<Item = Result<VarSecinfo, BtfError>> + 'a, BtfError> {
        if self.kind != Kind::Datasec {
            return Err(self.wrong("DATASEC", self.kind));
        }
        let t = *self;
        Ok((0..self.vlen() as usize).map(move |i| {
            Ok(VarSecinfo {
                type_id: t.btf.check_id(t.id, TypeId(t.word(i * 3)?))?,
                offset: t.word(i * 3 + 1)?,
                size: t.word(i * 3 + 2)?,
            })
        }))
    }

    /// FUNC_PROTO parameters.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`]; each item fails on a bad name or id.
    pub fn params(
        &self,
    ) -> Result<impl Iterator<Item = Result<Param<'a>, BtfError>> + 'a, BtfError> {
        if self.kind != Kind::FuncProto {
            return Err(self.wrong("FUNC_PROTO", self.kind));
        }
        let t = *self;
        Ok((0..self.vlen() as usize).map(move |i| {
            Ok(Param {
                name: t.btf.str_for(t.id, t.word(i * 2)?)?,
                type_id: t.btf.check_id(t.id, TypeId(t.word(i * 2 + 1)?))?,
            })
        }))
    }

    /// ENUM/ENUM64 enumerators.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`]; each item fails on a bad name.
    pub fn enumerators(
        &self,
    ) -> Result<impl Iterator<Item = Result<Enumerator<'a>, BtfError>> + 'a, BtfError> {
        let stride = match self.kind {
            Kind::Enum => 2,
            Kind::Enum64 => 3,
            k => return Err(self.wrong("ENUM or ENUM64", k)),
        };
        let t = *self;
        Ok((0..self.vlen() as usize).map(move |i| {
            let lo = t.word(i * stride + 1)?;
            let value = if stride == 3 {
                u64::from(t.word(i * 3 + 2)?) << 32 | u64::from(lo)
            } else {
                u64::from(lo)
            };
            Ok(Enumerator {
                name: t.btf.str_for(t.id, t.word(i * stride)?)?,
                value,
            })
        }))
    }

    /// Linkage of a FUNC (kept in `vlen`) or VAR (kept in the extra word).
    ///
    /// # Errors
    /// [`BtfError::WrongKind`] for other kinds.
    pub fn linkage(&self) -> Result<Linkage, BtfError> {
        match self.kind {
            Kind::Func => Ok(Linkage::from_raw(self.vlen())),
            Kind::Var => Ok(Linkage::from_raw(self.word(0)?)),
            k => Err(self.wrong("FUNC or VAR", k)),
        }
    }

    /// DECL_TAG: the member or parameter index it annotates, -1 for the whole type.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`] for other kinds.
    pub fn decl_tag_component(&self) -> Result<i32, BtfError> {
        match self.kind {
            Kind::DeclTag => Ok(self.word(0)? as i32),
            k => Err(self.wrong("DECL_TAG", k)),
        }
    }
}
