//! BTF, the BPF Type Format: the type information clang puts in an object's `.BTF`
//! section and the kernel exposes in `/sys/kernel/btf/vmlinux` and, for modules, in
//! `/sys/kernel/btf/<module>` as *split* BTF on top of vmlinux.
//!
//! [`Btf::parse`] checks the header and walks the type section once, checking that every
//! record fits and has a known kind, and remembering where every eighth type starts.
//! Nothing else is decoded up front: [`Btf::type_by_id`] returns a [`BtfType`] view that
//! reads its fields from the bytes when asked, and every name offset and type id is
//! checked at that access. Malformed input therefore gives an error naming the type id,
//! never a panic or an out-of-bounds read. The kernel's BTF is mapped rather than copied
//! where the kernel allows ([`Btf::from_sysfs`]), and the name index is built once, on
//! first use ([`Btf::find`]). All of this keeps parsing the kernel's 5 MB of BTF cheap.
//!
//! For rewriting, [`types`] decodes a whole blob into plain owned values and [`encode`]
//! writes them back; [`ext`] reads `.BTF.ext`; [`fixup`] and [`sanitize`] prepare an
//! object's BTF for the kernel; [`dump`] prints BTF as bpftool does, raw or as C.
//!
//! Format reference: <https://docs.kernel.org/bpf/btf.html>.

pub mod dump;
pub mod encode;
pub mod ext;
pub mod fixup;
pub mod format;
mod index;
pub mod raw;
pub mod sanitize;
pub mod types;
mod view;

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use oxbpf_uapi::Endian;
use oxbpf_uapi::bytes::{Bytes, ShortRead};

pub use raw::Kind;
pub use view::{Array, BtfType, Enumerator, Linkage, Member, Param, VarSecinfo};

use index::NameIndex;

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
    /// A header field lies past the end of the blob.
    #[error("header: {short}")]
    Header {
        /// The read that did not fit.
        short: ShortRead,
    },
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
    #[error(
        "type {id}: name offset {off} is outside the string section or not NUL-terminated UTF-8"
    )]
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
    /// A type has more members, values or parameters than a BTF record can hold.
    #[error("type {0}: more than 65535 members, values or parameters")]
    TooLarge(TypeId),
    /// A field of a type record lies past the record's end.
    #[error("type {id}: field read past the end of its record ({short})")]
    ShortRecord {
        /// The type.
        id: TypeId,
        /// The read that did not fit.
        short: ShortRead,
    },
    /// Split BTF does not fit its base.
    #[error("split BTF: {0}")]
    Split(&'static str),
    /// The blob could not be read from a file.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error, as text (so the error stays `Clone`).
        message: String,
    },
}

/// How deep [`Btf::skip_mods_and_typedefs`] and [`Btf::size_of`] follow references
/// before giving up (libbpf's `MAX_RESOLVE_DEPTH` is 32 too, `src/btf.c`).
pub const MAX_RESOLVE_DEPTH: usize = 32;

/// Every `CHECKPOINT`th type's offset is kept; the rest are found by walking forward.
/// Eight keeps the kernel's 126k types to 63 KB of index, and costs at most seven short
/// record skips per lookup.
const CHECKPOINT: u32 = 8;

/// Where a blob's bytes live: owned, or borrowed from whatever holds them for as long
/// as the value lives (a read-only mapping of the kernel's BTF, which the loader makes).
enum Storage {
    Owned(Vec<u8>),
    Shared(Box<dyn AsRef<[u8]> + Send + Sync>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Owned(v) => v,
            Storage::Shared(m) => (**m).as_ref(),
        }
    }
}

/// A parsed BTF blob: the bytes, their byte order, and where types start.
pub struct Btf {
    data: Storage,
    endian: Endian,
    /// Range of the type section in the bytes.
    types: Range<usize>,
    /// Range of the string section in the bytes.
    strings: Range<usize>,
    /// Offset in the type section of types `first_id + k * CHECKPOINT`.
    checkpoints: Vec<u32>,
    /// Number of types in this blob.
    count: u32,
    /// The base of split BTF (vmlinux, for a module).
    base: Option<Arc<Btf>>,
    /// Id of this blob's first type: 1, or the base's last id + 1.
    first_id: u32,
    /// String offsets below this belong to the base.
    first_str: u32,
    /// How many named functions and variables there are (counted while parsing).
    named_symbols: u32,
    /// Types other than functions and variables by essential name (CO-RE candidates,
    /// struct and enum lookups), filled by the parse walk.
    type_names: Arc<NameIndex>,
    /// FUNCs and VARs by name, built on first lookup (attach targets, kfuncs, ksyms):
    /// they are four in five of the kernel's names, and most loads never ask for one.
    symbol_names: OnceLock<NameIndex>,
}

impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("endian", &self.endian)
            .field("first_id", &self.first_id)
            .field("types", &self.count)
            .field("string_bytes", &self.strings.len())
            .field("split", &self.base.is_some())
            .finish()
    }
}

impl Clone for Btf {
    fn clone(&self) -> Btf {
        Btf {
            data: Storage::Owned(self.as_bytes().to_vec()),
            endian: self.endian,
            types: self.types.clone(),
            strings: self.strings.clone(),
            checkpoints: self.checkpoints.clone(),
            count: self.count,
            base: self.base.clone(),
            first_id: self.first_id,
            first_str: self.first_str,
            named_symbols: self.named_symbols,
            type_names: self.type_names.clone(),
            symbol_names: OnceLock::new(),
        }
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
        Btf::from_storage(Storage::Owned(data), None)
    }

    /// Parses split BTF (a kernel module's) on top of `base` (vmlinux): its type ids
    /// continue after the base's, and its string offsets after the base's strings.
    ///
    /// # Errors
    /// As [`Btf::parse`], and [`BtfError::Split`] when the blob's byte order differs
    /// from the base's.
    pub fn parse_split(data: Vec<u8>, base: Arc<Btf>) -> Result<Btf, BtfError> {
        Btf::from_storage(Storage::Owned(data), Some(base))
    }

    /// Parses a blob whose bytes another value holds (a memory mapping), without
    /// copying them; `base` as for [`Btf::parse_split`].
    ///
    /// # Errors
    /// As [`Btf::parse`] and [`Btf::parse_split`].
    pub fn parse_shared(
        data: Box<dyn AsRef<[u8]> + Send + Sync>,
        base: Option<Arc<Btf>>,
    ) -> Result<Btf, BtfError> {
        Btf::from_storage(Storage::Shared(data), base)
    }

    fn from_storage(data: Storage, base: Option<Arc<Btf>>) -> Result<Btf, BtfError> {
        let bytes = data.bytes();
        let header = parse_header(bytes)?;
        let start = u64::from(header.hdr_len);
        let section = |what, off: u32, len: u32| {
            let s = start + u64::from(off);
            let e = s + u64::from(len);
            if e > bytes.len() as u64 {
                Err(BtfError::OutOfBounds {
                    what,
                    off: s,
                    len: u64::from(len),
                    total: bytes.len(),
                })
            } else {
                Ok(s as usize..e as usize)
            }
        };
        let types = section("type section", header.type_off, header.type_len)?;
        let strings = section("string section", header.str_off, header.str_len)?;
        let s = &bytes[strings.clone()];
        // The format requires the string section to end with a NUL, so every offset
        // inside it starts a terminated string; base BTF also starts with the empty name
        // (split BTF's strings continue the base's and may start anywhere).
        if base.is_none() && s.first() != Some(&0) {
            return Err(BtfError::Strings("does not start with an empty string"));
        }
        if !s.is_empty() && s.last() != Some(&0) {
            return Err(BtfError::Strings("does not end with a NUL"));
        }
        let (first_id, first_str) = match &base {
            None => (1, 0),
            Some(b) => {
                if b.endian != header.endian {
                    return Err(BtfError::Split("byte order differs from the base BTF"));
                }
                (b.last_id().0 + 1, b.first_str + b.strings.len() as u32)
            }
        };
        let walk = Walk {
            types: &bytes[types.clone()],
            strings: &bytes[strings.clone()],
            first_id,
            first_str,
            base: base.as_deref(),
        };
        let w = match header.endian {
            Endian::Little => walk.run::<false>()?,
            Endian::Big => walk.run::<true>()?,
        };
        let (checkpoints, count) = (w.checkpoints, w.count);
        log::debug!(
            "BTF: {count} types from id {first_id}, {} bytes of strings, {}",
            strings.len(),
            header.endian
        );
        Ok(Btf {
            data,
            endian: header.endian,
            types,
            strings,
            checkpoints,
            count,
            base,
            first_id,
            first_str,
            named_symbols: w.named_symbols,
            type_names: Arc::new(w.type_names),
            symbol_names: OnceLock::new(),
        })
    }

    /// The byte order of the blob.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The raw bytes, as parsed (this blob's only, for split BTF).
    pub fn as_bytes(&self) -> &[u8] {
        self.data.bytes()
    }

    /// This blob's string section.
    pub fn string_section(&self) -> &[u8] {
        &self.as_bytes()[self.strings.clone()]
    }

    /// The base BTF of split BTF.
    pub fn base(&self) -> Option<&Arc<Btf>> {
        self.base.as_ref()
    }

    /// Id of this blob's first type (1 unless split).
    pub fn first_id(&self) -> TypeId {
        TypeId(self.first_id)
    }

    /// The highest type id (types are numbered up to here; 0 is void).
    pub fn last_id(&self) -> TypeId {
        TypeId(self.first_id + self.count - 1)
    }

    /// Every type id of this blob (not the base's), in order.
    pub fn ids(&self) -> impl Iterator<Item = TypeId> + use<> {
        (self.first_id..self.first_id + self.count).map(TypeId)
    }

    /// The string at `off` (offsets below the split point are the base's).
    ///
    /// # Errors
    /// [`BtfError::BadName`] (reported for type `[0]`) if `off` is outside the section
    /// or the bytes are not UTF-8.
    pub fn str_at(&self, off: u32) -> Result<&str, BtfError> {
        self.str_for(TypeId(0), off)
    }

    pub(crate) fn str_for(&self, id: TypeId, off: u32) -> Result<&str, BtfError> {
        if off < self.first_str {
            return match &self.base {
                Some(b) => b.str_for(id, off),
                None => Err(BtfError::BadName { id, off }),
            };
        }
        let s = &self.as_bytes()[self.strings.clone()];
        let bad = || BtfError::BadName { id, off };
        let tail = s.get((off - self.first_str) as usize..).ok_or_else(bad)?;
        let end = tail.iter().position(|&b| b == 0).ok_or_else(bad)?;
        std::str::from_utf8(&tail[..end]).map_err(|_| bad())
    }

    /// The string section from `off` to its end (the name at `off` is the prefix up to
    /// the first NUL), for hashing without UTF-8 checks; the base's for low offsets.
    /// `None` when out of range.
    fn name_tail(&self, off: u32) -> Option<&[u8]> {
        match off.checked_sub(self.first_str) {
            Some(rel) => self.as_bytes()[self.strings.clone()].get(rel as usize..),
            None => self.base.as_ref()?.name_tail(off),
        }
    }

    /// Checks that `to`, referenced from type `from`, names a type (or void).
    ///
    /// # Errors
    /// [`BtfError::BadTypeId`] when it does not.
    pub fn check_id(&self, from: TypeId, to: TypeId) -> Result<TypeId, BtfError> {
        if to.0 <= self.last_id().0 {
            Ok(to)
        } else {
            Err(BtfError::BadTypeId {
                from,
                to,
                last: self.last_id(),
            })
        }
    }

    /// This blob's type section.
    fn type_section(&self) -> Bytes<'_> {
        Bytes::new(&self.as_bytes()[self.types.clone()], self.endian)
    }

    /// The record of type `id` at `off` of the type section.
    fn record_at(&self, id: TypeId, off: usize) -> Result<raw::Record<'_>, BtfError> {
        raw::record(self.type_section(), off).map_err(|e| match e {
            raw::RecordError::Short => BtfError::Truncated { id, off },
            raw::RecordError::UnknownKind(kind) => BtfError::UnknownKind { id, kind },
        })
    }

    /// Offset in the type section of type `id` (of this blob): from the checkpoint
    /// before it, skipping records.
    fn offset_of(&self, id: u32) -> Result<usize, BtfError> {
        let rel = id - self.first_id;
        let checkpoint = self.checkpoints.get((rel / CHECKPOINT) as usize);
        let mut off = checkpoint.copied().ok_or(BtfError::BadTypeId {
            from: TypeId(0),
            to: TypeId(id),
            last: self.last_id(),
        })? as usize;
        for k in 0..rel % CHECKPOINT {
            let skipped = TypeId(id - rel % CHECKPOINT + k);
            off += self.record_at(skipped, off)?.len();
        }
        Ok(off)
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
        if id.0 < self.first_id {
            return match &self.base {
                Some(b) => b.type_by_id(id),
                None => Err(BtfError::BadTypeId {
                    from: TypeId(0),
                    to: id,
                    last: self.last_id(),
                }),
            };
        }
        if id.0 > self.last_id().0 {
            return Err(BtfError::BadTypeId {
                from: TypeId(0),
                to: id,
                last: self.last_id(),
            });
        }
        let off = self.offset_of(id.0)?;
        let r = self.record_at(id, off)?;
        Ok(BtfType {
            btf: self,
            id,
            kind: r.kind,
            name_off: r.name_off,
            info: r.info,
            size_or_type: r.size_or_type,
            extra: r.extra,
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

    /// Whether type `id` is a function pointer: past modifiers and typedefs a PTR, and
    /// past those again a FUNC_PROTO (a struct_ops member a program can fill).
    ///
    /// # Errors
    /// Bad ids, loops.
    pub fn is_func_ptr(&self, id: TypeId) -> Result<bool, BtfError> {
        let t = self.skip_mods_and_typedefs(id)?;
        if t.kind() != Kind::Ptr {
            return Ok(false);
        }
        Ok(self.skip_mods_and_typedefs(t.ref_type()?)?.kind() == Kind::FuncProto)
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
                | Kind::Datasec => u64::from(t.size()),
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
                        .ok_or(BtfError::SizeOverflow(t.id()))?;
                    id = a.elem_type;
                    continue;
                }
                k => return Err(BtfError::NoSize { id, kind: k.name() }),
            };
            return size.checked_mul(factor).ok_or(BtfError::SizeOverflow(id));
        }
        Err(BtfError::Loop(id))
    }

    /// Alignment in bytes of a value of type `id`, as clang lays it out for BPF
    /// (libbpf `btf__align_of`): scalars align to their size (at most 8), arrays to their
    /// element, structs to their most aligned member, or 1 when packed.
    ///
    /// # Errors
    /// Bad ids, loops, types without a layout.
    pub fn align_of(&self, id: TypeId) -> Result<u64, BtfError> {
        // Memoized per call: a struct with two members of a struct with two members of...
        // would otherwise cost 2^depth.
        self.align_of_depth(id, 0, &mut std::collections::HashMap::new())
    }

    fn align_of_depth(
        &self,
        id: TypeId,
        depth: usize,
        memo: &mut std::collections::HashMap<TypeId, u64>,
    ) -> Result<u64, BtfError> {
        if depth > MAX_RESOLVE_DEPTH {
            return Err(BtfError::Loop(id));
        }
        if let Some(a) = memo.get(&id) {
            return Ok(*a);
        }
        let a = self.align_uncached(id, depth, memo)?;
        memo.insert(id, a);
        Ok(a)
    }

    fn align_uncached(
        &self,
        id: TypeId,
        depth: usize,
        memo: &mut std::collections::HashMap<TypeId, u64>,
    ) -> Result<u64, BtfError> {
        let t = self.type_by_id(id)?;
        match t.kind() {
            Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float => {
                Ok(u64::from(t.size()).clamp(1, 8))
            }
            Kind::Ptr => Ok(8),
            Kind::Typedef
            | Kind::Volatile
            | Kind::Const
            | Kind::Restrict
            | Kind::TypeTag
            | Kind::Var => self.align_of_depth(t.ref_type()?, depth + 1, memo),
            Kind::Array => self.align_of_depth(t.array()?.elem_type, depth + 1, memo),
            Kind::Struct | Kind::Union => {
                let mut align = 1;
                for m in t.members()? {
                    let m = m?;
                    let a = self.align_of_depth(m.type_id, depth + 1, memo)?;
                    // A member at an offset its type's alignment does not divide means
                    // the struct is packed.
                    if m.bitfield_size == 0 && u64::from(m.bit_offset) % (a * 8) != 0 {
                        return Ok(1);
                    }
                    align = align.max(a);
                }
                // So does a size that is not a multiple of the natural alignment.
                if u64::from(t.size()) % align != 0 {
                    Ok(1)
                } else {
                    Ok(align)
                }
            }
            k => Err(BtfError::NoSize { id, kind: k.name() }),
        }
    }

    /// Builds the function and variable name index now (the type index is built while
    /// parsing; this one on the first lookup of a FUNC or VAR).
    pub fn build_symbol_index(&self) {
        let _ = self.symbol_names();
    }

    fn type_names(&self) -> &NameIndex {
        &self.type_names
    }

    fn symbol_names(&self) -> &NameIndex {
        self.symbol_names
            .get_or_init(|| NameIndex::build(self, self.named_symbols, is_symbol_kind))
    }

    /// The first type of `kind` named `name`, searching the base first for split BTF.
    pub fn find(&self, name: &str, kind: Kind) -> Option<TypeId> {
        if let Some(b) = &self.base {
            if let Some(id) = b.find(name, kind) {
                return Some(id);
            }
        }
        let index = if is_symbol_kind(kind) {
            self.symbol_names()
        } else {
            self.type_names()
        };
        index.find(name, |id| {
            self.type_by_id(id)
                .is_ok_and(|t| t.kind() == kind && t.name().is_ok_and(|n| n == name))
        })
    }

    /// The first type of `kind` named `name`, as a view.
    pub fn find_by_name_kind(&self, name: &str, kind: Kind) -> Option<BtfType<'_>> {
        self.find(name, kind)
            .and_then(|id| self.type_by_id(id).ok())
    }

    /// Every type other than a function or variable (base first, then this blob) whose
    /// *essential* name — the part before a `___` flavor suffix, as CO-RE compares
    /// names — is `essential`.
    pub fn find_by_essential_name(&self, essential: &str) -> Vec<TypeId> {
        let mut out = self
            .base
            .as_ref()
            .map_or_else(Vec::new, |b| b.find_by_essential_name(essential));
        self.type_names().find_all(self, essential, &mut out);
        out
    }
}

/// FUNCs and VARs have their own name index (see [`Btf::find`]).
fn is_symbol_kind(k: Kind) -> bool {
    matches!(k, Kind::Func | Kind::Var)
}

/// The name without a `___flavor` suffix, as CO-RE compares names (libbpf
/// `bpf_core_essential_name_len`): `task_struct___old` is `task_struct`.
pub fn essential_name(name: &str) -> &str {
    // The cut is always just after an ASCII byte, so it is a char boundary.
    &name[..index::essential_len(name.as_bytes())]
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
    let b = Bytes::new(data, endian);
    let rd = |off| b.u32(off).map_err(|short| BtfError::Header { short });
    let hdr_len = rd(4)?;
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
        type_off: rd(8)?,
        type_len: rd(12)?,
        str_off: rd(16)?,
        str_len: rd(20)?,
    })
}

/// The parse walk over the type section.
struct Walk<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    first_id: u32,
    first_str: u32,
    base: Option<&'a Btf>,
}

/// What the walk found.
struct WalkResult {
    checkpoints: Vec<u32>,
    count: u32,
    named_symbols: u32,
    type_names: NameIndex,
}

/// Bytes after the 12-byte header of each kind: `(fixed, per vlen entry)`, indexed by
/// the raw kind; `None` for kinds the format does not define (0 is void, never stored).
const RECORD_EXTRA: [Option<(u8, u8)>; 32] = {
    let mut t = [None; 32];
    let mut k = 1;
    while k < 20 {
        t[k] = Some(match k {
            1 | 14 | 17 => (4, 0),      // INT, VAR, DECL_TAG
            3 => (12, 0),               // ARRAY
            4 | 5 | 15 | 19 => (0, 12), // STRUCT, UNION, DATASEC, ENUM64
            6 | 13 => (0, 8),           // ENUM, FUNC_PROTO
            _ => (0, 0),
        });
        k += 1;
    }
    t
};

impl Walk<'_> {
    /// Checks that every record fits and has a known kind, keeps every
    /// `CHECKPOINT`th offset, counts named functions/variables, and indexes the names
    /// of all other named types. Generic over the byte order so the hot loop has no
    /// branch on it.
    fn run<const BIG: bool>(&self) -> Result<WalkResult, BtfError> {
        let t = self.types;
        // Not `Bytes`: its byte order is a value, this loop's a constant (no branch per
        // read in the hottest loop of a kernel BTF parse). Still checked: `None` past
        // the end, which the caller turns into `Truncated`.
        let rd = |o: usize| -> Option<u32> {
            let b: [u8; 4] = t.get(o..o.checked_add(4)?)?.try_into().ok()?;
            Some(if BIG {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        // No record is shorter than 12 bytes: an upper bound that avoids regrowing.
        let mut checkpoints = Vec::with_capacity(t.len() / raw::TYPE_LEN / CHECKPOINT as usize + 1);
        // The kernel's BTF has one named non-function per 8 types, or per 200 bytes of
        // type section; start a little under that (the table doubles when it must) so
        // the table stays as small, and as cache-friendly, as it can.
        let mut type_names = NameIndex::with_capacity(t.len() / 288);
        // Named types whose names were prefetched and are yet to be hashed, in a ring.
        const PENDING: usize = 16;
        let mut pending = [(0u32, 0u32); PENDING];
        let mut pending_n = 0usize;
        let mut named_symbols = 0u32;
        let mut off = 0usize;
        let mut n: u32 = 0;
        while off < t.len() {
            let id = TypeId(self.first_id + n);
            if t.len() - off < raw::TYPE_LEN {
                return Err(BtfError::Truncated { id, off });
            }
            let (Some(name_off), Some(info)) = (rd(off), rd(off + 4)) else {
                return Err(BtfError::Truncated { id, off });
            };
            let raw_kind = (info >> 24) & 0x1f;
            // Not `ok_or(error)`: the error would be built and dropped for every type.
            let Some((fixed, per)) = RECORD_EXTRA[raw_kind as usize] else {
                return Err(BtfError::UnknownKind { id, kind: raw_kind });
            };
            let len =
                raw::TYPE_LEN as u64 + u64::from(fixed) + u64::from(per) * u64::from(info & 0xffff);
            if len > (t.len() - off) as u64 {
                return Err(BtfError::Truncated { id, off });
            }
            if n % CHECKPOINT == 0 {
                checkpoints.push(off as u32);
            }
            if name_off != 0 {
                // FUNC (12) and VAR (14) go to the symbol index, built on demand.
                if raw_kind == 12 || raw_kind == 14 {
                    named_symbols += 1;
                } else {
                    // Names sit all over the string section: each read would be a cache
                    // miss. Ask for the name now and hash it a few types later, when it
                    // has arrived, so the misses overlap instead of adding up.
                    if let Some(tail) = self.name_tail(name_off) {
                        oxbpf_uapi::hint::prefetch(tail);
                    }
                    let slot = &mut pending[pending_n % PENDING];
                    if pending_n >= PENDING {
                        self.index_name(&mut type_names, *slot);
                    }
                    *slot = (id.0, name_off);
                    pending_n += 1;
                }
            }
            let Some(next) = n.checked_add(1) else {
                return Err(BtfError::Truncated { id, off });
            };
            n = next;
            off += len as usize;
        }
        // The names still in the ring, oldest first (the index keeps id order per name).
        for k in pending_n.saturating_sub(PENDING)..pending_n {
            self.index_name(&mut type_names, pending[k % PENDING]);
        }
        if n == 0 {
            // An empty blob still needs a checkpoint slot for offset_of's arithmetic,
            // which it never reaches since last_id < first_id.
            checkpoints.push(0);
        }
        Ok(WalkResult {
            checkpoints,
            count: n,
            named_symbols,
            type_names,
        })
    }

    /// Adds type `id` under the essential name at string offset `name_off`.
    fn index_name(&self, index: &mut NameIndex, (id, name_off): (u32, u32)) {
        if let Some(h) = self.name_tail(name_off).and_then(index::hash_essential) {
            index.insert(id, h);
        }
    }

    fn name_tail(&self, off: u32) -> Option<&[u8]> {
        match off.checked_sub(self.first_str) {
            Some(rel) => self.strings.get(rel as usize..),
            None => self.base?.name_tail(off),
        }
    }
}

pub mod builder;
#[cfg(test)]
mod tests;
