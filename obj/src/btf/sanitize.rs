//! Sanitization: rewriting BTF kinds an older kernel does not know into forms it
//! accepts, so one object loads on old and new kernels.
//!
//! Each rewrite is a named option, set when a feature probe (`loader::probe`) finds the
//! running kernel lacks the feature; the rewrites are libbpf's
//! (`bpf_object__sanitize_btf`, src/libbpf.c). Type ids never change: every rewritten
//! type keeps its place and its record size, so references from other types,
//! func_info and CO-RE records stay valid.

use super::types::{Composite, EnumDef, MemberDef, ParamDef, Type, TypeKind};
use super::{Linkage, TypeId, VarSecinfo};

/// What the kernel's BTF checker lacks. `Default` (all false) means it has everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SanitizeOptions {
    /// No `BTF_KIND_FUNC`/`FUNC_PROTO` (before Linux 5.0): FUNC becomes TYPEDEF,
    /// FUNC_PROTO becomes an ENUM with one value per parameter (unnamed ones named
    /// `argN`, since the kernel requires enumerator names).
    pub no_func: bool,
    /// No global function linkage (before 5.6): global FUNCs become static.
    pub no_func_global: bool,
    /// No `VAR`/`DATASEC` (before 5.2): VAR becomes a 1-byte INT, DATASEC a STRUCT with a
    /// member per variable and `.`/`?` in its name replaced by `_`.
    pub no_datasec: bool,
    /// No DATASEC names starting with `?` (before 6.5): the `?` becomes `_`.
    pub no_qmark_datasec: bool,
    /// No `BTF_KIND_FLOAT` (before 5.13): FLOAT becomes an anonymous empty STRUCT of the
    /// same size.
    pub no_float: bool,
    /// No `BTF_KIND_DECL_TAG` (before 5.16): DECL_TAG becomes a 1-byte INT.
    pub no_decl_tag: bool,
    /// No `BTF_KIND_TYPE_TAG` (before 5.17): TYPE_TAG becomes CONST.
    pub no_type_tag: bool,
    /// No `BTF_KIND_ENUM64` or signed enums (before 6.0): ENUM64 becomes a UNION of
    /// `enum64_placeholder` members; ENUMs lose their signed flag.
    pub no_enum64: bool,
}

impl SanitizeOptions {
    /// Whether any rewrite is needed.
    pub fn any(&self) -> bool {
        *self != SanitizeOptions::default()
    }
}

/// A 1-byte unsigned INT: what libbpf puts in place of VARs and DECL_TAGs ("4 would be
/// too big for a 1-byte variable").
fn placeholder_int() -> TypeKind {
    TypeKind::Int {
        size: 1,
        encoding: 0,
        offset: 0,
        bits: 8,
    }
}

/// Rewrites `types` in place as `opts` says (element `i` is type `i + 1`). May append
/// one type (the `enum64_placeholder` INT).
pub fn sanitize(types: &mut Vec<Type>, opts: &SanitizeOptions) {
    if !opts.any() {
        return;
    }
    let mut placeholder: Option<TypeId> = None;
    // A kernel without FUNC (before 5.0) or DATASEC (5.2) has no DECL_TAG (5.16) either,
    // and a tag on a function parameter or a variable is invalid once the function is a
    // TYPEDEF or the variable an INT: the tags go too.
    let no_decl_tag = opts.no_decl_tag || opts.no_func || opts.no_datasec;
    for i in 0..types.len() {
        let kind = types[i].kind.clone();
        let new = match kind {
            TypeKind::Var { .. } if opts.no_datasec => Some(placeholder_int()),
            TypeKind::DeclTag { .. } if no_decl_tag => Some(placeholder_int()),
            TypeKind::Datasec { size, vars } if opts.no_datasec => {
                types[i].name = types[i].name.replace(['.', '?'], "_");
                Some(datasec_as_struct(types, size, &vars))
            }
            TypeKind::Datasec { .. } if opts.no_qmark_datasec && types[i].name.starts_with('?') => {
                types[i].name.replace_range(0..1, "_");
                None
            }
            // The kernel requires enumerator names where prototypes may have none
            // (`int (void *)`); libbpf leaves them empty and the load fails. Name them.
            TypeKind::FuncProto { params, .. } if opts.no_func => Some(func_proto_as_enum(params)),
            TypeKind::Func { proto, .. } if opts.no_func => Some(TypeKind::Typedef(proto)),
            TypeKind::Func {
                proto,
                linkage: Linkage::Global,
            } if opts.no_func_global => Some(TypeKind::Func {
                proto,
                linkage: Linkage::Static,
            }),
            TypeKind::Float { size } if opts.no_float => {
                types[i].name.clear();
                Some(TypeKind::Struct(Composite {
                    size,
                    bitfield_encoding: false,
                    members: Vec::new(),
                }))
            }
            TypeKind::TypeTag { target, .. } if opts.no_type_tag => {
                types[i].name.clear();
                Some(TypeKind::Const(target))
            }
            TypeKind::Enum(e) if opts.no_enum64 && e.signed => {
                Some(TypeKind::Enum(EnumDef { signed: false, ..e }))
            }
            TypeKind::Enum64(e) if opts.no_enum64 => {
                let id = *placeholder.get_or_insert_with(|| {
                    types.push(Type {
                        name: "enum64_placeholder".into(),
                        kind: placeholder_int(),
                    });
                    TypeId(types.len() as u32)
                });
                Some(enum64_as_union(e, id))
            }
            _ => None,
        };
        if let Some(k) = new {
            types[i].kind = k;
        }
    }
}

/// A DATASEC for kernels before 5.2: a struct with a member per variable, named after
/// it, at the variable's offset.
fn datasec_as_struct(types: &[Type], size: u32, vars: &[VarSecinfo]) -> TypeKind {
    let members = vars
        .iter()
        .map(|v| MemberDef {
            // `types` were decoded with every id checked, so a variable's id names a
            // type here; only id 0 (void, never a variable's) has no name.
            name: v
                .type_id
                .0
                .checked_sub(1)
                .and_then(|j| types.get(j as usize))
                .map_or(String::new(), |t| t.name.clone()),
            ty: v.type_id,
            bit_offset: v.offset * 8,
            bitfield_size: 0,
        })
        .collect();
    TypeKind::Struct(Composite {
        size,
        bitfield_encoding: false,
        members,
    })
}

/// A FUNC_PROTO for kernels before 5.0: an enum with a value per parameter. The kernel
/// requires enumerator names where prototypes may have none (`int (void *)`); libbpf
/// leaves them empty and the load fails. Name them.
fn func_proto_as_enum(params: Vec<ParamDef>) -> TypeKind {
    TypeKind::Enum(EnumDef {
        size: 4,
        signed: false,
        values: params
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let name = if p.name.is_empty() {
                    format!("arg{i}")
                } else {
                    p.name
                };
                (name, u64::from(p.ty.0))
            })
            .collect(),
    })
}

/// An ENUM64 for kernels before 6.0: a union of placeholder INTs (`placeholder`), one
/// member per enumerator, of the enum's size (libbpf `bpf_object__sanitize_btf`).
fn enum64_as_union(e: EnumDef, placeholder: TypeId) -> TypeKind {
    let members = e
        .values
        .into_iter()
        .map(|(name, _)| MemberDef {
            name,
            ty: placeholder,
            bit_offset: 0,
            bitfield_size: 0,
        })
        .collect();
    TypeKind::Union(Composite {
        size: e.size,
        bitfield_encoding: false,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::VarSecinfo;
    use crate::btf::types::ParamDef;

    fn t(name: &str, kind: TypeKind) -> Type {
        Type {
            name: name.into(),
            kind,
        }
    }

    fn int() -> Type {
        t(
            "int",
            TypeKind::Int {
                size: 4,
                encoding: 1,
                offset: 0,
                bits: 32,
            },
        )
    }

    #[test]
    fn default_options_change_nothing() {
        let mut types = vec![int(), t("f", TypeKind::Float { size: 8 })];
        let before = types.clone();
        sanitize(&mut types, &SanitizeOptions::default());
        assert_eq!(types, before);
    }

    #[test]
    fn no_func_turns_func_into_typedef_and_proto_into_enum() {
        let mut types = vec![
            int(),
            t(
                "",
                TypeKind::FuncProto {
                    ret: TypeId(1),
                    params: vec![
                        ParamDef {
                            name: "x".into(),
                            ty: TypeId(1),
                        },
                        ParamDef {
                            name: String::new(),
                            ty: TypeId(1),
                        },
                    ],
                },
            ),
            t(
                "main",
                TypeKind::Func {
                    proto: TypeId(2),
                    linkage: Linkage::Global,
                },
            ),
        ];
        sanitize(
            &mut types,
            &SanitizeOptions {
                no_func: true,
                ..Default::default()
            },
        );
        assert_eq!(
            types[1].kind,
            TypeKind::Enum(EnumDef {
                size: 4,
                signed: false,
                values: vec![("x".into(), 1), ("arg1".into(), 1)]
            })
        );
        assert_eq!(types[2].kind, TypeKind::Typedef(TypeId(2)));
    }

    #[test]
    fn no_func_global_makes_global_functions_static() {
        let mut types = vec![
            int(),
            t(
                "",
                TypeKind::FuncProto {
                    ret: TypeId(1),
                    params: vec![],
                },
            ),
            t(
                "g",
                TypeKind::Func {
                    proto: TypeId(2),
                    linkage: Linkage::Global,
                },
            ),
            t(
                "s",
                TypeKind::Func {
                    proto: TypeId(2),
                    linkage: Linkage::Static,
                },
            ),
        ];
        sanitize(
            &mut types,
            &SanitizeOptions {
                no_func_global: true,
                ..Default::default()
            },
        );
        assert_eq!(
            types[2].kind,
            TypeKind::Func {
                proto: TypeId(2),
                linkage: Linkage::Static
            }
        );
        assert_eq!(
            types[3].kind,
            TypeKind::Func {
                proto: TypeId(2),
                linkage: Linkage::Static
            }
        );
    }

    #[test]
    fn no_datasec_turns_vars_into_ints_and_datasec_into_struct() {
        let mut types = vec![
            int(),
            t(
                "counter",
                TypeKind::Var {
                    ty: TypeId(1),
                    linkage: Linkage::Global,
                },
            ),
            t(
                ".data.foo",
                TypeKind::Datasec {
                    size: 8,
                    vars: vec![VarSecinfo {
                        type_id: TypeId(2),
                        offset: 4,
                        size: 4,
                    }],
                },
            ),
        ];
        sanitize(
            &mut types,
            &SanitizeOptions {
                no_datasec: true,
                ..Default::default()
            },
        );
        assert_eq!(
            types[1].kind,
            TypeKind::Int {
                size: 1,
                encoding: 0,
                offset: 0,
                bits: 8
            }
        );
        assert_eq!(types[2].name, "_data_foo");
        assert_eq!(
            types[2].kind,
            TypeKind::Struct(Composite {
                size: 8,
                bitfield_encoding: false,
                members: vec![MemberDef {
                    name: "counter".into(),
                    ty: TypeId(2),
                    bit_offset: 32,
                    bitfield_size: 0
                }],
            })
        );
    }

    #[test]
    fn no_qmark_datasec_renames_the_prefix() {
        let mut types = vec![t(
            "?.data",
            TypeKind::Datasec {
                size: 0,
                vars: vec![],
            },
        )];
        sanitize(
            &mut types,
            &SanitizeOptions {
                no_qmark_datasec: true,
                ..Default::default()
            },
        );
        assert_eq!(types[0].name, "_.data");
    }

    #[test]
    fn no_float_becomes_anonymous_empty_struct_of_same_size() {
        let mut types = vec![t("double", TypeKind::Float { size: 8 })];
        sanitize(
            &mut types,
            &SanitizeOptions {
                no_float: true,
                ..Default::default()
            },
        );
        assert_eq!(
            types[0],
            t(
                "",
                TypeKind::Struct(Composite {
                    size: 8,
                    bitfield_encoding: false,
                    members: vec![]
                })
            )
        );
    }

    #[test]
    fn no_decl_tag_becomes_one_byte_int() {
        let mut types = vec![
            int(),
            t(
                "tag",
                TypeKind::DeclTag {
                    target: TypeId(1),
                    component: -1,
                    attr: false,
                },
            ),
        ];
        sanitize(
            &mut types,
            &SanitizeOptions {
                no_decl_tag: true,
                ..Default::default()
            },
        );
        assert_eq!(
            types[1].kind,
            TypeKind::Int {
                size: 1,
                encoding: 0,
                offset: 0,
                bits: 8
            }
        );
    }

    #[test]
    fn no_type_tag_becomes_anonymous_const() {
        let mut types = vec![
            int(),
            t(
                "user",
                TypeKind::TypeTag {
                    target: TypeId(1),
                    attr: false,
                },
            ),
        ];
        sanitize(
            &mut types,
            &SanitizeOptions {
                no_type_tag: true,
                ..Default::default()
            },
        );
        assert_eq!(types[1], t("", TypeKind::Const(TypeId(1))));
    }

    #[test]
    fn no_enum64_turns_enum64_into_union_and_unsigns_enums() {
        let mut types = vec![
            t(
                "big",
                TypeKind::Enum64(EnumDef {
                    size: 8,
                    signed: false,
                    values: vec![("A".into(), 1 << 40), ("B".into(), 2)],
                }),
            ),
            t(
                "neg",
                TypeKind::Enum(EnumDef {
                    size: 4,
                    signed: true,
                    values: vec![("M".into(), u64::from(u32::MAX))],
                }),
            ),
        ];
        sanitize(
            &mut types,
            &SanitizeOptions {
                no_enum64: true,
                ..Default::default()
            },
        );
        assert_eq!(types.len(), 3);
        assert_eq!(types[2].name, "enum64_placeholder");
        let TypeKind::Union(u) = &types[0].kind else {
            panic!("{:?}", types[0])
        };
        assert_eq!(u.size, 8);
        assert_eq!(
            u.members
                .iter()
                .map(|m| (m.name.as_str(), m.ty))
                .collect::<Vec<_>>(),
            [("A", TypeId(3)), ("B", TypeId(3))]
        );
        assert_eq!(
            types[1].kind,
            TypeKind::Enum(EnumDef {
                size: 4,
                signed: false,
                values: vec![("M".into(), u64::from(u32::MAX))]
            })
        );
    }
}
