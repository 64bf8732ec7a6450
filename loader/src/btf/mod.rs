//! BTF, the BPF Type Format: the type information clang puts in an object's `.BTF`
//! section and the kernel exposes in `/sys/kernel/btf/vmlinux`.
//!
//! [`Btf::parse`] checks the header and walks the type section once, recording where
//! each type starts and checking that every record fits and has a known kind. Nothing
//! else is decoded up front: [`Btf::type_by_id`] returns a [`BtfType`] view that reads
//! its fields from the bytes when asked, and every name offset and type id is checked at
//! that access. Malformed input therefore gives an error naming the type id, never a
//! panic or an out-of-bounds read. This keeps parsing the kernel's 5 MB of BTF cheap.
//!
//! Format reference: <https://docs.kernel.org/bpf/btf.html>.

pub mod raw;

use std::fmt;

use oxbpf_sys::uapi::Endian;

pub use raw::Kind;

/// A BTF type id. Id 0 is `void`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u32);

impl fmt::Display for TypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.0)
    }
}

/// What is wrong with a BTF blob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BtfError {
    /// The blob is shorter than the header, or the magic is wrong.
    #[error("not BTF: {0}")]
    NotBtf(&'static str),
    /// The header's version is not 1.
    #[error("unsupported BTF version {0}")]
    Version(u8),
    /// A header field points outside the blob.
    #[error("header: {what} (offset {off}, length {len}) is outside the {total}-byte blob")]
    OutOfBounds {
        /// Which area: "type section", "string section", "header".
        what: &'static str,
        /// Start, from the blob's start.
        off: u64,
        /// Length.
        len: u64,
        /// Blob length.
        total: usize,
    },
    /// The string section is malformed.
    #[error("string section: {0}")]
    Strings(&'static str),
    /// A type record runs past the end of the type section.
    #[error("type {id}: record at offset {off} runs past the end of the type section")]
    Truncated {
        /// The type's id.
        id: TypeId,
        /// Its offset in the type section.
        off: usize,
    },
    /// A type has a kind number the format does not define.
    #[error("type {id}: unknown kind {kind}")]
    UnknownKind {
        /// The type's id.
        id: TypeId,
        /// The raw kind number.
        kind: u32,
    },
    /// A name offset is outside the string section or not NUL-terminated.
    #[error("type {id}: name offset {off} is outside the string section or not NUL-terminated")]
    BadName {
        /// The type that holds the name (or `[0]` for other records).
        id: TypeId,
        /// The offset.
        off: u32,
    },
    /// A type id points past the last type.
    #[error("type {from}: refers to type {to}, but the last type is {last}")]
    BadTypeId {
        /// The referring type (`[0]` for references from elsewhere).
        from: TypeId,
        /// The id it names.
        to: TypeId,
        /// The last valid id.
        last: TypeId,
    },
    /// A type was used as something it is not.
    #[error("type {id}: expected {expected}, found {found}")]
    WrongKind {
        /// The type.
        id: TypeId,
        /// What the caller needed.
        expected: &'static str,
        /// What the type is.
        found: &'static str,
    },
    /// Following typedefs, qualifiers, pointers or arrays came back to where it started
    /// or went deeper than any real type does.
    #[error(
        "type {0}: reference loop (or a chain deeper than 32) through typedefs, qualifiers or arrays"
    )]
    Loop(TypeId),
    /// A type has no size (void, a function, a forward declaration).
    #[error("type {id}: {kind} has no size")]
    NoSize {
        /// The type.
        id: TypeId,
        /// Its kind's name.
        kind: &'static str,
    },
    /// A size computation overflowed.
    #[error("type {0}: size overflows")]
    SizeOverflow(TypeId),
}

/// How deep [`Btf::resolve`] and [`Btf::size_of`] follow references before giving up
/// (libbpf's `MAX_RESOLVE_DEPTH` is 32 too, `src/btf.c`).
const MAX_RESOLVE_DEPTH: usize = 32;

/// A parsed BTF blob: the bytes, their byte order, and where each type starts.
#[derive(Clone)]
pub struct Btf {
    data: Vec<u8>,
    endian: Endian,
    /// Range of the type section in `data`.
    types: std::ops::Range<usize>,
    /// Range of the string section in `data`.
    strings: std::ops::Range<usize>,
    /// Offset in the type section of type id `i + 1`.
    offsets: Vec<u32>,
}

impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("endian", &self.endian)
            .field("types", &self.offsets.len())
            .field("string_bytes", &self.strings.len())
            .finish()
    }
}

impl Btf {
    /// Parses a BTF blob (the contents of `.BTF`, or a raw file such as
    /// `/sys/kernel/btf/vmlinux`) in either byte order.
    ///
    /// # Errors
    /// A [`BtfError`] for a bad header, a string section that does not start and end
    /// with NUL, or a type record that is truncated or of unknown kind.
    pub fn parse(data: Vec<u8>) -> Result<Btf, BtfError> {
        let header = parse_header(&data)?;
        let base = u64::from(header.hdr_len);
        let section = |what, off: u32, len: u32| {
            let start = base + u64::from(off);
            let end = start + u64::from(len);
            if end > data.len() as u64 {
                Err(BtfError::OutOfBounds {
                    what,
                    off: start,
                    len: u64::from(len),
                    total: data.len(),
                })
            } else {
                Ok(start as usize..end as usize)
            }
        };
        let types = section("type section", header.type_off, header.type_len)?;
        let strings = section("string section", header.str_off, header.str_len)?;
        let s = &data[strings.clone()];
        // The format requires the string section to start with the empty name and end
        // with a NUL, so every offset inside it starts a terminated string.
        if s.first() != Some(&0) {
            return Err(BtfError::Strings("does not start with an empty string"));
        }
        if s.last() != Some(&0) {
            return Err(BtfError::Strings("does not end with a NUL"));
        }

        let offsets = index_types(&data[types.clone()], header.endian)?;
        log::debug!(
            "BTF: {} types, {} bytes of strings, {}",
            offsets.len(),
            strings.len(),
            header.endian
        );
        Ok(Btf {
            data,
            endian: header.endian,
            types,
            strings,
            offsets,
        })
    }

    /// The byte order of the blob.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The raw bytes, as parsed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// The highest type id (types are numbered 1..=last; 0 is void).
    pub fn last_id(&self) -> TypeId {
        TypeId(self.offsets.len() as u32)
    }

    /// Every type id except void, in order.
    pub fn ids(&self) -> impl Iterator<Item = TypeId> + use<> {
        (1..=self.offsets.len() as u32).map(TypeId)
    }

    /// The string at `off` in the string section.
    ///
    /// # Errors
    /// [`BtfError::BadName`] (reported for type `[0]`) if `off` is outside the section
    /// or the bytes are not UTF-8.
    pub fn str_at(&self, off: u32) -> Result<&str, BtfError> {
        self.str_for(TypeId(0), off)
    }

    fn str_for(&self, id: TypeId, off: u32) -> Result<&str, BtfError> {
        let s = &self.data[self.strings.clone()];
        let bad = BtfError::BadName { id, off };
        let tail = s.get(off as usize..).ok_or(bad.clone())?;
        let end = tail.iter().position(|&b| b == 0).ok_or(bad.clone())?;
        std::str::from_utf8(&tail[..end]).map_err(|_| bad)
    }

    /// Checks that `to`, referenced from type `from`, names a type (or void).
    ///
    /// # Errors
    /// [`BtfError::BadTypeId`] when it does not.
    pub fn check_id(&self, from: TypeId, to: TypeId) -> Result<TypeId, BtfError> {
        if to.0 as usize <= self.offsets.len() {
            Ok(to)
        } else {
            Err(BtfError::BadTypeId {
                from,
                to,
                last: self.last_id(),
            })
        }
    }

    /// A view of type `id`.
    ///
    /// # Errors
    /// [`BtfError::BadTypeId`] if there is no such type.
    pub fn type_by_id(&self, id: TypeId) -> Result<BtfType<'_>, BtfError> {
        if id.0 == 0 {
            return Ok(BtfType {
                btf: self,
                id,
                kind: Kind::Void,
                name_off: 0,
                info: 0,
                size_or_type: 0,
                extra: &[],
            });
        }
        let off = *self
            .offsets
            .get(id.0 as usize - 1)
            .ok_or(BtfError::BadTypeId {
                from: TypeId(0),
                to: id,
                last: self.last_id(),
            })? as usize;
        let t = &self.data[self.types.clone()];
        // index_types checked that the whole record, extra bytes included, fits.
        let rd = |o: usize| raw::read_u32(t, off + o, self.endian).unwrap_or(0);
        let info = rd(4);
        let kind = Kind::from_raw((info >> 24) & 0x1f).unwrap_or(Kind::Void);
        let extra_len = kind.extra_len(info & 0xffff) as usize;
        let start = off + raw::TYPE_LEN;
        Ok(BtfType {
            btf: self,
            id,
            kind,
            name_off: rd(0),
            info,
            size_or_type: rd(8),
            extra: t.get(start..start + extra_len).unwrap_or(&[]),
        })
    }

    /// Follows typedefs and qualifiers (`const`, `volatile`, `restrict`, type tags) to the
    /// type they name.
    ///
    /// # Errors
    /// A bad id on the way, or a loop.
    pub fn skip_mods_and_typedefs(&self, mut id: TypeId) -> Result<BtfType<'_>, BtfError> {
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.type_by_id(id)?;
            match t.kind() {
                Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                    id = t.ref_type()?;
                }
                _ => return Ok(t),
            }
        }
        Err(BtfError::Loop(id))
    }

    /// Size in bytes of a value of type `id`, as the C compiler lays it out.
    ///
    /// # Errors
    /// Types without a size (void, functions, forward declarations), bad ids, loops.
    pub fn size_of(&self, id: TypeId) -> Result<u64, BtfError> {
        let mut id = id;
        let mut factor: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.type_by_id(id)?;
            let size = match t.kind() {
                Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Float
                | Kind::Datasec => u64::from(t.size_or_type),
                // BPF is a 64-bit target: pointers are 8 bytes on both byte orders.
                Kind::Ptr => 8,
                Kind::Typedef
                | Kind::Volatile
                | Kind::Const
                | Kind::Restrict
                | Kind::TypeTag
                | Kind::Var => {
                    id = t.ref_type()?;
                    continue;
                }
                Kind::Array => {
                    let a = t.array()?;
                    factor = factor
                        .checked_mul(u64::from(a.nelems))
                        .ok_or(BtfError::SizeOverflow(t.id))?;
                    id = a.elem_type;
                    continue;
                }
                k => return Err(BtfError::NoSize { id, kind: k.name() }),
            };
            return size.checked_mul(factor).ok_or(BtfError::SizeOverflow(id));
        }
        Err(BtfError::Loop(id))
    }

    /// The first type of `kind` named `name`.
    ///
    /// This scans every type; for repeated lookups in large BTF (the kernel's) an index
    /// is built by the BTF stage of the loader.
    pub fn find_by_name_kind(&self, name: &str, kind: Kind) -> Option<BtfType<'_>> {
        self.ids()
            .filter_map(|id| self.type_by_id(id).ok())
            .find(|t| t.kind() == kind && t.name().is_ok_and(|n| n == name))
    }
}

fn parse_header(data: &[u8]) -> Result<raw::Header, BtfError> {
    if data.len() < raw::HEADER_LEN {
        return Err(BtfError::NotBtf("shorter than the 24-byte header"));
    }
    let endian = match [data[0], data[1]] {
        [0x9f, 0xeb] => Endian::Little,
        [0xeb, 0x9f] => Endian::Big,
        _ => return Err(BtfError::NotBtf("bad magic (expected 0xeb9f)")),
    };
    if data[2] != raw::VERSION {
        return Err(BtfError::Version(data[2]));
    }
    let rd = |off| raw::read_u32(data, off, endian).unwrap_or(0);
    let hdr_len = rd(4);
    if (hdr_len as usize) < raw::HEADER_LEN || hdr_len as usize > data.len() {
        return Err(BtfError::OutOfBounds {
            what: "header",
            off: 0,
            len: u64::from(hdr_len),
            total: data.len(),
        });
    }
    Ok(raw::Header {
        endian,
        hdr_len,
        type_off: rd(8),
        type_len: rd(12),
        str_off: rd(16),
        str_len: rd(20),
    })
}

/// Walks the type section once, checking that every record fits and has a known kind,
/// and returns the offset of each.
fn index_types(t: &[u8], endian: Endian) -> Result<Vec<u32>, BtfError> {
    let mut offsets = Vec::new();
    let mut off = 0usize;
    while off < t.len() {
        let id = TypeId(offsets.len() as u32 + 1);
        let info = raw::read_u32(t, off + 4, endian).ok_or(BtfError::Truncated { id, off })?;
        if off + raw::TYPE_LEN > t.len() {
            return Err(BtfError::Truncated { id, off });
        }
        let raw_kind = (info >> 24) & 0x1f;
        let kind = Kind::from_raw(raw_kind).filter(|k| *k != Kind::Void);
        let kind = kind.ok_or(BtfError::UnknownKind { id, kind: raw_kind })?;
        let end = (off + raw::TYPE_LEN) as u64 + kind.extra_len(info & 0xffff);
        if end > t.len() as u64 {
            return Err(BtfError::Truncated { id, off });
        }
        offsets.push(off as u32);
        off = end as usize;
    }
    Ok(offsets)
}

/// One type, read from the blob on demand.
#[derive(Clone, Copy)]
pub struct BtfType<'a> {
    btf: &'a Btf,
    id: TypeId,
    kind: Kind,
    name_off: u32,
    info: u32,
    size_or_type: u32,
    extra: &'a [u8],
}

impl fmt::Debug for BtfType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} '{}'",
            self.id,
            self.kind.name(),
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
    fn from_raw(v: u32) -> Linkage {
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

    fn word(&self, i: usize) -> u32 {
        raw::read_u32(self.extra, i * 4, self.btf.endian).unwrap_or(0)
    }

    /// INT: `(encoding, bit offset, bits)`; encoding bit 0 is signed, 1 char, 2 bool.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`] for other kinds.
    pub fn int(&self) -> Result<(u8, u8, u8), BtfError> {
        if self.kind != Kind::Int {
            return Err(self.wrong("INT", self.kind));
        }
        let v = self.word(0);
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
            elem_type: self.btf.check_id(self.id, TypeId(self.word(0)))?,
            index_type: self.btf.check_id(self.id, TypeId(self.word(1)))?,
            nelems: self.word(2),
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
            let off = t.word(i * 3 + 2);
            let (bit_offset, bitfield_size) = if t.kind_flag() {
                (off & 0xff_ffff, off >> 24)
            } else {
                (off, 0)
            };
            Ok(Member {
                name: t.btf.str_for(t.id, t.word(i * 3))?,
                type_id: t.btf.check_id(t.id, TypeId(t.word(i * 3 + 1)))?,
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
                type_id: t.btf.check_id(t.id, TypeId(t.word(i * 3)))?,
                offset: t.word(i * 3 + 1),
                size: t.word(i * 3 + 2),
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
                name: t.btf.str_for(t.id, t.word(i * 2))?,
                type_id: t.btf.check_id(t.id, TypeId(t.word(i * 2 + 1)))?,
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
            let lo = t.word(i * stride + 1);
            let value = if stride == 3 {
                u64::from(t.word(i * 3 + 2)) << 32 | u64::from(lo)
            } else {
                u64::from(lo)
            };
            Ok(Enumerator {
                name: t.btf.str_for(t.id, t.word(i * stride))?,
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
            Kind::Var => Ok(Linkage::from_raw(self.word(0))),
            k => Err(self.wrong("FUNC or VAR", k)),
        }
    }

    /// DECL_TAG: the member or parameter index it annotates, -1 for the whole type.
    ///
    /// # Errors
    /// [`BtfError::WrongKind`] for other kinds.
    pub fn decl_tag_component(&self) -> Result<i32, BtfError> {
        match self.kind {
            Kind::DeclTag => Ok(self.word(0) as i32),
            k => Err(self.wrong("DECL_TAG", k)),
        }
    }
}

#[cfg(test)]
mod tests;
