//! The owned model of BTF: every type decoded into plain values, names as strings.
//!
//! Used where BTF is rewritten (fix-up, sanitization) or printed in full (dumps); the
//! lazy [`BtfType`](super::BtfType) view serves lookups. [`decode_all`] checks every
//! name and type id of a blob, so a decoded `Vec<Type>` can be trusted.

use super::{Btf, BtfError, BtfType, Kind, Linkage, TypeId, VarSecinfo};

/// One type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type {
    /// Its name ("" for anonymous types).
    pub name: String,
    /// What it is.
    pub kind: TypeKind,
}

/// A struct or union member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberDef {
    /// Name ("" for anonymous members).
    pub name: String,
    /// Type.
    pub ty: TypeId,
    /// Offset in bits from the start of the struct.
    pub bit_offset: u32,
    /// Bitfield width in bits, 0 for a plain member.
    pub bitfield_size: u32,
}

/// A struct or union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composite {
    /// Size in bytes.
    pub size: u32,
    /// `kind_flag`: members encode bitfield sizes in their offsets.
    pub bitfield_encoding: bool,
    /// Members in order.
    pub members: Vec<MemberDef>,
}

/// An enum (32- or 64-bit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumDef {
    /// Size in bytes.
    pub size: u32,
    /// `kind_flag`: values are signed (since Linux 6.0).
    pub signed: bool,
    /// Enumerators with their raw values (sign-extend ENUM values when `signed`).
    pub values: Vec<(String, u64)>,
}

/// A function parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamDef {
    /// Name ("" when unnamed).
    pub name: String,
    /// Type (void for the `...` of a variadic prototype).
    pub ty: TypeId,
}

/// The kinds of type, with their data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[expect(missing_docs, reason = "fields are the BTF fields of the same name")]
pub enum TypeKind {
    /// An integer: size in bytes, encoding bits (1 signed, 2 char, 4 bool), and the
    /// legacy bitfield offset and width.
    Int {
        size: u32,
        encoding: u8,
        offset: u8,
        bits: u8,
    },
    Ptr(TypeId),
    Array {
        elem: TypeId,
        index: TypeId,
        nelems: u32,
    },
    Struct(Composite),
    Union(Composite),
    Enum(EnumDef),
    Enum64(EnumDef),
    /// A forward declaration of a struct, or of a union when `is_union`.
    Fwd {
        is_union: bool,
    },
    Typedef(TypeId),
    Volatile(TypeId),
    Const(TypeId),
    Restrict(TypeId),
    Func {
        proto: TypeId,
        linkage: Linkage,
    },
    FuncProto {
        ret: TypeId,
        params: Vec<ParamDef>,
    },
    Var {
        ty: TypeId,
        linkage: Linkage,
    },
    Datasec {
        size: u32,
        vars: Vec<VarSecinfo>,
    },
    Float {
        size: u32,
    },
    /// A `btf_decl_tag` on a type, or on member/parameter `component` (-1 for none);
    /// `attr` is the kind_flag (the tag is an attribute).
    DeclTag {
        target: TypeId,
        component: i32,
        attr: bool,
    },
    /// A `btf_type_tag`; `attr` as for DeclTag.
    TypeTag {
        target: TypeId,
        attr: bool,
    },
}

impl TypeKind {
    /// The BTF kind.
    pub fn kind(&self) -> Kind {
        match self {
            TypeKind::Int { .. } => Kind::Int,
            TypeKind::Ptr(_) => Kind::Ptr,
            TypeKind::Array { .. } => Kind::Array,
            TypeKind::Struct(_) => Kind::Struct,
            TypeKind::Union(_) => Kind::Union,
            TypeKind::Enum(_) => Kind::Enum,
            TypeKind::Enum64(_) => Kind::Enum64,
            TypeKind::Fwd { .. } => Kind::Fwd,
            TypeKind::Typedef(_) => Kind::Typedef,
            TypeKind::Volatile(_) => Kind::Volatile,
            TypeKind::Const(_) => Kind::Const,
            TypeKind::Restrict(_) => Kind::Restrict,
            TypeKind::Func { .. } => Kind::Func,
            TypeKind::FuncProto { .. } => Kind::FuncProto,
            TypeKind::Var { .. } => Kind::Var,
            TypeKind::Datasec { .. } => Kind::Datasec,
            TypeKind::Float { .. } => Kind::Float,
            TypeKind::DeclTag { .. } => Kind::DeclTag,
            TypeKind::TypeTag { .. } => Kind::TypeTag,
        }
    }

    /// Every type id this type refers to, for rewriting ids.
    pub fn refs_mut(&mut self) -> Vec<&mut TypeId> {
        match self {
            TypeKind::Int { .. }
            | TypeKind::Enum(_)
            | TypeKind::Enum64(_)
            | TypeKind::Fwd { .. }
            | TypeKind::Float { .. } => Vec::new(),
            TypeKind::Ptr(t)
            | TypeKind::Typedef(t)
            | TypeKind::Volatile(t)
            | TypeKind::Const(t)
            | TypeKind::Restrict(t)
            | TypeKind::Func { proto: t, .. }
            | TypeKind::Var { ty: t, .. }
            | TypeKind::DeclTag { target: t, .. }
            | TypeKind::TypeTag { target: t, .. } => vec![t],
            TypeKind::Array { elem, index, .. } => vec![elem, index],
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                c.members.iter_mut().map(|m| &mut m.ty).collect()
            }
            TypeKind::FuncProto { ret, params } => std::iter::once(ret)
                .chain(params.iter_mut().map(|p| &mut p.ty))
                .collect(),
            TypeKind::Datasec { vars, .. } => vars.iter_mut().map(|v| &mut v.type_id).collect(),
        }
    }
}

impl BtfType<'_> {
    /// Decodes this type completely, checking every name and referenced id.
    ///
    /// # Errors
    /// The first bad name or type id, naming this type.
    pub fn decode(&self) -> Result<Type, BtfError> {
        let name = self.name()?.to_string();
        let kind = match self.kind() {
            Kind::Void => {
                return Err(BtfError::WrongKind {
                    id: self.id(),
                    expected: "a type",
                    found: "VOID",
                });
            }
            Kind::Int => {
                let (encoding, offset, bits) = self.int()?;
                TypeKind::Int {
                    size: self.size(),
                    encoding,
                    offset,
                    bits,
                }
            }
            Kind::Ptr => TypeKind::Ptr(self.ref_type()?),
            Kind::Array => {
                let a = self.array()?;
                TypeKind::Array {
                    elem: a.elem_type,
                    index: a.index_type,
                    nelems: a.nelems,
                }
            }
            Kind::Struct => TypeKind::Struct(self.decode_composite()?),
            Kind::Union => TypeKind::Union(self.decode_composite()?),
            Kind::Enum => TypeKind::Enum(self.decode_enum()?),
            Kind::Enum64 => TypeKind::Enum64(self.decode_enum()?),
            Kind::Fwd => TypeKind::Fwd {
                is_union: self.kind_flag(),
            },
            Kind::Typedef => TypeKind::Typedef(self.ref_type()?),
            Kind::Volatile => TypeKind::Volatile(self.ref_type()?),
            Kind::Const => TypeKind::Const(self.ref_type()?),
            Kind::Restrict => TypeKind::Restrict(self.ref_type()?),
            Kind::Func => TypeKind::Func {
                proto: self.ref_type()?,
                linkage: self.linkage()?,
            },
            Kind::FuncProto => {
                let params = self.decode_params()?;
                TypeKind::FuncProto {
                    ret: self.ref_type()?,
                    params,
                }
            }
            Kind::Var => TypeKind::Var {
                ty: self.ref_type()?,
                linkage: self.linkage()?,
            },
            Kind::Datasec => TypeKind::Datasec {
                size: self.size(),
                vars: self.datasec_vars()?.collect::<Result<_, _>>()?,
            },
            Kind::Float => TypeKind::Float { size: self.size() },
            Kind::DeclTag => TypeKind::DeclTag {
                target: self.ref_type()?,
                component: self.decl_tag_component()?,
                attr: self.kind_flag(),
            },
            Kind::TypeTag => TypeKind::TypeTag {
                target: self.ref_type()?,
                attr: self.kind_flag(),
            },
        };
        Ok(Type { name, kind })
    }
}

impl BtfType<'_> {
    fn decode_composite(&self) -> Result<Composite, BtfError> {
        let members = self
            .members()?
            .map(|m| {
                m.map(|m| MemberDef {
                    name: m.name.to_string(),
                    ty: m.type_id,
                    bit_offset: m.bit_offset,
                    bitfield_size: m.bitfield_size,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Composite {
            size: self.size(),
            bitfield_encoding: self.kind_flag(),
            members,
        })
    }

    fn decode_enum(&self) -> Result<EnumDef, BtfError> {
        let values = self
            .enumerators()?
            .map(|e| e.map(|e| (e.name.to_string(), e.value)))
            .collect::<Result<_, _>>()?;
        Ok(EnumDef {
            size: self.size(),
            signed: self.kind_flag(),
            values,
        })
    }

    fn decode_params(&self) -> Result<Vec<ParamDef>, BtfError> {
        self.params()?
            .map(|p| {
                p.map(|p| ParamDef {
                    name: p.name.to_string(),
                    ty: p.type_id,
                })
            })
            .collect()
    }
}

/// Decodes every type of `btf` (this blob's, not a split base's), in id order: element
/// `i` is type `btf.first_id() + i`.
///
/// # Errors
/// The first type with a bad name or id.
pub fn decode_all(btf: &Btf) -> Result<Vec<Type>, BtfError> {
    btf.ids().map(|id| btf.type_by_id(id)?.decode()).collect()
}
