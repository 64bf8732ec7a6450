//! Fix-up of an object's BTF before `BPF_BTF_LOAD`: what clang leaves for the loader to
//! fill in, done as libbpf does (`btf_fixup_datasec`, the BTF edits of
//! `bpf_object__collect_externs`, and `mark_btf_static`), so the kernel accepts it.
//!
//! 1. Data sections: clang leaves each DATASEC's size and its variables' offsets at zero.
//!    The size comes from the ELF section and each offset from the variable's symbol.
//!    Variables with hidden visibility become static. Entries are sorted by offset
//!    (the kernel requires increasing, non-overlapping entries).
//! 2. `.kconfig`: extern variables become allocated globals laid out in the `.kconfig`
//!    map: sorted by descending alignment, then ascending size, then name.
//! 3. `.ksyms`: extern variables become 4-byte allocated `int`s; extern functions
//!    (kfuncs) are replaced in the DATASEC by a `dummy_ksym` variable and made global,
//!    with unnamed parameters named `dummy_ksym` (the kernel checks that global
//!    functions' parameters are named).
//! 4. Hidden global functions (`__hidden`) become static, so the verifier checks them
//!    with their callers rather than on their own.
//!
//! Nothing here talks to the kernel; [`super::sanitize`] then adapts to what the running
//! kernel supports.

use std::collections::HashMap;

use super::types::{Type, TypeKind};
use super::{Kind, Linkage, TypeId};

/// Why the fix-up failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FixupError {
    /// A DATASEC names a section the ELF file does not have (or that is empty).
    #[error("DATASEC `{0}`: no ELF section of that name to take its size from")]
    NoSection(String),
    /// A DATASEC variable has no ELF symbol.
    #[error("DATASEC `{section}`: variable `{var}` has no ELF symbol")]
    NoSymbol {
        /// The DATASEC.
        section: String,
        /// The variable.
        var: String,
    },
    /// A DATASEC entry is not a VAR (or a FUNC in `.ksyms`).
    #[error("DATASEC `{section}`: entry {id} is a {found}, not a VAR")]
    NotVar {
        /// The DATASEC.
        section: String,
        /// The entry's type id.
        id: TypeId,
        /// Its kind.
        found: &'static str,
    },
    /// A type id is out of range.
    #[error("type {0} does not exist")]
    BadId(TypeId),
    /// A `.kconfig` variable has no size the loader can compute.
    #[error(".kconfig: extern `{0}` has a type without a size")]
    KconfigSize(String),
}

/// Where each data symbol lives, from the ELF file.
#[derive(Debug, Clone, Default)]
pub struct ElfInfo {
    /// Section sizes by name.
    pub section_sizes: HashMap<String, u64>,
    /// `(section, symbol) -> (offset, hidden)`.
    pub symbols: HashMap<(String, String), (u64, bool)>,
    /// Global functions with hidden visibility.
    pub hidden_functions: Vec<String>,
}

/// One `.kconfig` extern's place in the `.kconfig` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KconfigSlot {
    /// The extern's name (`CONFIG_BPF_SYSCALL`, `LINUX_KERNEL_VERSION`, ...).
    pub name: String,
    /// Its VAR type id.
    pub var: TypeId,
    /// Offset in the map value.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

fn get(types: &[Type], id: TypeId) -> Result<&Type, FixupError> {
    id.0.checked_sub(1)
        .and_then(|i| types.get(i as usize))
        .ok_or(FixupError::BadId(id))
}

/// Size and alignment of a type in the owned model (enough for `.kconfig` values:
/// integers, enums, booleans, char arrays, through typedefs and qualifiers).
fn size_align(types: &[Type], mut id: TypeId) -> Option<(u32, u32)> {
    let mut factor = 1u32;
    for _ in 0..super::MAX_RESOLVE_DEPTH {
        let t = get(types, id).ok()?;
        match &t.kind {
            TypeKind::Int { size, .. } | TypeKind::Float { size } => {
                return Some((size.checked_mul(factor)?, (*size).clamp(1, 8)));
            }
            TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                return Some((e.size.checked_mul(factor)?, e.size.clamp(1, 8)));
            }
            TypeKind::Ptr(_) => return Some((8u32.checked_mul(factor)?, 8)),
            TypeKind::Typedef(t)
            | TypeKind::Const(t)
            | TypeKind::Volatile(t)
            | TypeKind::Restrict(t)
            | TypeKind::TypeTag { target: t, .. } => id = *t,
            TypeKind::Array { elem, nelems, .. } => {
                factor = factor.checked_mul(*nelems)?;
                id = *elem;
            }
            _ => return None,
        }
    }
    None
}

/// The `.kconfig` layout (libbpf `cmp_externs` order, then packed by alignment).
///
/// # Errors
/// [`FixupError::KconfigSize`] for an extern whose type has no size.
pub fn kconfig_layout(types: &[Type]) -> Result<Vec<KconfigSlot>, FixupError> {
    let Some(sec) = types
        .iter()
        .find(|t| t.name == ".kconfig" && t.kind.kind() == Kind::Datasec)
    else {
        return Ok(Vec::new());
    };
    let TypeKind::Datasec { vars, .. } = &sec.kind else {
        return Ok(Vec::new());
    };
    let mut items = Vec::new();
    for v in vars {
        let var = get(types, v.type_id)?;
        let TypeKind::Var { ty, .. } = var.kind else {
            return Err(FixupError::NotVar {
                section: ".kconfig".into(),
                id: v.type_id,
                found: var.kind.kind().name(),
            });
        };
        let (size, align) =
            size_align(types, ty).ok_or_else(|| FixupError::KconfigSize(var.name.clone()))?;
        items.push((align, size, var.name.clone(), v.type_id));
    }
    // Descending alignment, then ascending size, then name (libbpf cmp_externs).
    items.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut off = 0u32;
    let mut out = Vec::new();
    for (align, size, name, var) in items {
        let offset = off.div_ceil(align) * align;
        off = offset + size;
        out.push(KconfigSlot {
            name,
            var,
            offset,
            size,
        });
    }
    Ok(out)
}

/// Applies the fix-up to `types` (element `i` is type `i + 1`).
///
/// # Errors
/// [`FixupError`] naming the DATASEC and variable that cannot be placed.
pub fn fixup(types: &mut Vec<Type>, elf: &ElfInfo) -> Result<(), FixupError> {
    let kconfig = kconfig_layout(types)?;
    fixup_ksyms(types)?;
    for i in 0..types.len() {
        let TypeKind::Datasec { vars, size } = &types[i].kind else {
            continue;
        };
        let sec_name = types[i].name.clone();
        let mut vars = vars.clone();
        let mut size = *size;
        let mut static_vars = Vec::new();
        if sec_name == ".kconfig" {
            for v in &mut vars {
                if let Some(slot) = kconfig.iter().find(|s| s.var == v.type_id) {
                    v.offset = slot.offset;
                    v.size = slot.size;
                }
            }
            size = kconfig.iter().map(|s| s.offset + s.size).max().unwrap_or(0);
            for v in &vars {
                set_var_linkage(types, v.type_id, Linkage::Global);
            }
        } else if sec_name != ".ksyms" {
            let fix_offsets = size == 0;
            if fix_offsets {
                size = elf
                    .section_sizes
                    .get(&sec_name)
                    .copied()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| FixupError::NoSection(sec_name.clone()))?
                    as u32;
            }
            for v in &mut vars {
                let var = get(types, v.type_id)?;
                if var.kind.kind() != Kind::Var {
                    return Err(FixupError::NotVar {
                        section: sec_name.clone(),
                        id: v.type_id,
                        found: var.kind.kind().name(),
                    });
                }
                let (offset, hidden) = *elf
                    .symbols
                    .get(&(sec_name.clone(), var.name.clone()))
                    .ok_or_else(|| FixupError::NoSymbol {
                        section: sec_name.clone(),
                        var: var.name.clone(),
                    })?;
                if fix_offsets {
                    v.offset = offset as u32;
                }
                if hidden {
                    static_vars.push(v.type_id);
                }
            }
            log::debug!(
                "BTF fix-up: DATASEC `{sec_name}`: size {size}, {} variables placed",
                vars.len()
            );
        }
        for id in static_vars {
            set_var_linkage(types, id, Linkage::Static);
        }
        crate::sort::sort_by_key(&mut vars, |v| u64::from(v.offset));
        types[i].kind = TypeKind::Datasec { size, vars };
    }
    for name in &elf.hidden_functions {
        for t in types.iter_mut() {
            if t.name == *name {
                if let TypeKind::Func { linkage, .. } = &mut t.kind {
                    log::debug!("BTF fix-up: hidden function `{name}` made static");
                    *linkage = Linkage::Static;
                }
            }
        }
    }
    Ok(())
}

fn set_var_linkage(types: &mut [Type], id: TypeId, to: Linkage) {
    if let Some(t) = id.0.checked_sub(1).and_then(|i| types.get_mut(i as usize)) {
        if let TypeKind::Var { linkage, .. } = &mut t.kind {
            *linkage = to;
        }
    }
}

/// libbpf `find_int_btf_id`: the first 32-bit integer; one is added if there is none.
fn int_type_id(types: &mut Vec<Type>) -> TypeId {
    match types
        .iter()
        .position(|t| matches!(t.kind, TypeKind::Int { bits: 32, .. }))
    {
        Some(i) => TypeId(i as u32 + 1),
        None => {
            types.push(Type {
                name: "int".into(),
                kind: TypeKind::Int {
                    size: 4,
                    encoding: 1,
                    offset: 0,
                    bits: 32,
                },
            });
            TypeId(types.len() as u32)
        }
    }
}

/// A kfunc's unnamed parameters get a name, which the kernel requires of a FUNC's
/// prototype (libbpf names them `dummy_ksym` too). Prototype 0 (void) has none.
fn name_kfunc_params(types: &mut [Type], proto: TypeId) -> Result<(), FixupError> {
    let Some(p) = proto.0.checked_sub(1) else {
        return Ok(());
    };
    let p = types.get_mut(p as usize).ok_or(FixupError::BadId(proto))?;
    if let TypeKind::FuncProto { params, .. } = &mut p.kind {
        for param in params
            .iter_mut()
            .filter(|p| p.ty.0 != 0 && p.name.is_empty())
        {
            param.name = "dummy_ksym".into();
        }
    }
    Ok(())
}

/// Step 3: `.ksyms` externs become 4-byte allocated ints; kfuncs give way to a dummy
/// variable.
fn fixup_ksyms(types: &mut Vec<Type>) -> Result<(), FixupError> {
    let Some(sec_idx) = types
        .iter()
        .position(|t| t.name == ".ksyms" && t.kind.kind() == Kind::Datasec)
    else {
        return Ok(());
    };
    let TypeKind::Datasec { vars, .. } = types[sec_idx].kind.clone() else {
        return Ok(());
    };
    let int_id = int_type_id(types);
    let mut has_func = false;
    for v in &vars {
        has_func |= get(types, v.type_id)?.kind.kind() == Kind::Func;
    }
    let dummy = if has_func {
        types.push(Type {
            name: "dummy_ksym".into(),
            kind: TypeKind::Var {
                ty: int_id,
                linkage: Linkage::Global,
            },
        });
        Some(TypeId(types.len() as u32))
    } else {
        None
    };
    let mut new_vars = Vec::with_capacity(vars.len());
    for (i, v) in vars.iter().enumerate() {
        let off = (i * 4) as u32;
        let idx = v
            .type_id
            .0
            .checked_sub(1)
            .ok_or(FixupError::BadId(v.type_id))? as usize;
        let mut entry = *v;
        match types.get(idx).map(|t| t.kind.clone()) {
            Some(TypeKind::Func { proto, .. }) => {
                types[idx].kind = TypeKind::Func {
                    proto,
                    linkage: Linkage::Global,
                };
                name_kfunc_params(types, proto)?;
                // With a kfunc in the section there is a dummy variable to point at.
                entry.type_id = dummy.unwrap_or(int_id);
            }
            Some(TypeKind::Var { .. }) => {
                types[idx].kind = TypeKind::Var {
                    ty: int_id,
                    linkage: Linkage::Global,
                };
            }
            Some(other) => {
                return Err(FixupError::NotVar {
                    section: ".ksyms".into(),
                    id: v.type_id,
                    found: other.kind().name(),
                });
            }
            None => return Err(FixupError::BadId(v.type_id)),
        }
        entry.offset = off;
        entry.size = 4;
        new_vars.push(entry);
    }
    let size = (new_vars.len() * 4) as u32;
    log::debug!(
        "BTF fix-up: DATASEC `.ksyms`: {} externs as 4-byte ints",
        new_vars.len()
    );
    types[sec_idx].kind = TypeKind::Datasec {
        size,
        vars: new_vars,
    };
    Ok(())
}
