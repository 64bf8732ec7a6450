//! Matching a local spec against a candidate target type, with libbpf's compatibility
//! rules (`bpf_core_spec_match`, `bpf_core_match_member`, `bpf_core_fields_are_compat`,
//! `__bpf_core_types_are_compat`, `__bpf_core_types_match` in src/relo_core.c @ d04d3b1).
//!
//! Every function returns `Ok(Err(reason))` for "does not match", so a failed
//! relocation can say why in words, and `Err` only for malformed BTF.

use super::spec::{Accessor, CoreSpec, MAX_SPEC_LEN, is_flex_arr};
use super::{CoreError, CoreReloKind};
use crate::btf::{Btf, BtfType, Kind, MAX_RESOLVE_DEPTH, TypeId, essential_name};

/// "Does not match, because...".
pub type Verdict<T> = Result<Result<T, String>, CoreError>;

fn is_composite(k: Kind) -> bool {
    matches!(k, Kind::Struct | Kind::Union)
}

fn is_any_enum(k: Kind) -> bool {
    matches!(k, Kind::Enum | Kind::Enum64)
}

/// libbpf `btf_kind_core_compat`: same kind, or enum vs enum64.
pub(crate) fn kind_core_compat(a: Kind, b: Kind) -> bool {
    a == b || (is_any_enum(a) && is_any_enum(b))
}

fn describe(t: &BtfType<'_>) -> String {
    let name = t.name().unwrap_or("?");
    format!(
        "{} {}",
        t.kind().name().to_ascii_lowercase(),
        if name.is_empty() { "<anon>" } else { name }
    )
}

/// The INT's legacy bitfield offset (0 for every modern integer).
fn int_offset(t: &BtfType<'_>) -> u8 {
    t.int().map_or(0, |(_, off, _)| off)
}

/// Whether a local and a target type can stand for each other in a type relocation
/// (TYPE_EXISTS, TYPE_SIZE, TYPE_ID_TARGET): the root kinds agree, and through pointers,
/// arrays and function prototypes the shapes agree; struct contents are not compared.
pub fn types_are_compat(
    local: &Btf,
    local_id: TypeId,
    targ: &Btf,
    targ_id: TypeId,
    level: u32,
) -> Verdict<()> {
    let (lt, tt) = (local.type_by_id(local_id)?, targ.type_by_id(targ_id)?);
    if !kind_core_compat(lt.kind(), tt.kind()) {
        return Ok(Err(format!(
            "{} is not compatible with {}",
            describe(&lt),
            describe(&tt)
        )));
    }
    let (mut lid, mut tid) = (local_id, targ_id);
    for _ in 0..MAX_RESOLVE_DEPTH {
        let lt = local.skip_mods_and_typedefs(lid)?;
        let tt = targ.skip_mods_and_typedefs(tid)?;
        if !kind_core_compat(lt.kind(), tt.kind()) {
            return Ok(Err(format!(
                "{} is not compatible with {}",
                describe(&lt),
                describe(&tt)
            )));
        }
        match lt.kind() {
            Kind::Void | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Fwd => {
                return Ok(Ok(()));
            }
            Kind::Int => {
                return Ok(if int_offset(&lt) == 0 && int_offset(&tt) == 0 {
                    Ok(())
                } else {
                    Err("bitfield-style integers are not relocatable".into())
                });
            }
            Kind::Ptr => (lid, tid) = (lt.ref_type()?, tt.ref_type()?),
            Kind::Array => (lid, tid) = (lt.array()?.elem_type, tt.array()?.elem_type),
            Kind::FuncProto => {
                let lp: Vec<_> = lt.params()?.collect::<Result<_, _>>()?;
                let tp: Vec<_> = tt.params()?.collect::<Result<_, _>>()?;
                if lp.len() != tp.len() {
                    return Ok(Err(format!(
                        "functions take {} and {} parameters",
                        lp.len(),
                        tp.len()
                    )));
                }
                if level == 0 {
                    return Err(CoreError::TooDeep);
                }
                for (l, t) in lp.iter().zip(&tp) {
                    let l = local.skip_mods_and_typedefs(l.type_id)?.id();
                    let t = targ.skip_mods_and_typedefs(t.type_id)?.id();
                    if let Err(why) = types_are_compat(local, l, targ, t, level - 1)? {
                        return Ok(Err(why));
                    }
                }
                (lid, tid) = (lt.ref_type()?, tt.ref_type()?);
            }
            k => return Ok(Err(format!("{} types are not relocatable", k.name()))),
        }
    }
    Err(CoreError::TooDeep)
}

/// Whether a local field's type and a target field's type are compatible for a field
/// relocation: any two structs/unions, any two pointers or floats, enums and forward
/// declarations of the same (flavor-less) name, integers of any size, arrays of
/// compatible elements.
pub fn fields_are_compat(
    local: &Btf,
    local_id: TypeId,
    targ: &Btf,
    targ_id: TypeId,
) -> Verdict<()> {
    let (mut lid, mut tid) = (local_id, targ_id);
    for _ in 0..MAX_RESOLVE_DEPTH {
        let lt = local.skip_mods_and_typedefs(lid)?;
        let tt = targ.skip_mods_and_typedefs(tid)?;
        if is_composite(lt.kind()) && is_composite(tt.kind()) {
            return Ok(Ok(()));
        }
        let mismatch = || {
            format!(
                "local {} and target {} are not compatible",
                describe(&lt),
                describe(&tt)
            )
        };
        if !kind_core_compat(lt.kind(), tt.kind()) {
            return Ok(Err(mismatch()));
        }
        match lt.kind() {
            Kind::Ptr | Kind::Float => return Ok(Ok(())),
            Kind::Fwd | Kind::Enum | Kind::Enum64 => {
                let (ln, tn) = (essential_name(lt.name()?), essential_name(tt.name()?));
                return Ok(if ln.is_empty() || tn.is_empty() || ln == tn {
                    Ok(())
                } else {
                    Err(mismatch())
                });
            }
            Kind::Int => {
                return Ok(if int_offset(&lt) == 0 && int_offset(&tt) == 0 {
                    Ok(())
                } else {
                    Err(mismatch())
                });
            }
            Kind::Array => (lid, tid) = (lt.array()?.elem_type, tt.array()?.elem_type),
            _ => return Ok(Err(mismatch())),
        }
    }
    Err(CoreError::TooDeep)
}

/// Finds the target member named like the local accessor's member, searching anonymous
/// structs and unions recursively, and appends it to `spec`. Returns the member's type.
fn match_member(
    local: &Btf,
    acc: &Accessor,
    targ: &Btf,
    targ_id: TypeId,
    spec: &mut CoreSpec,
    depth: usize,
) -> Verdict<TypeId> {
    if depth > MAX_RESOLVE_DEPTH {
        return Err(CoreError::TooDeep);
    }
    let tt = targ.skip_mods_and_typedefs(targ_id)?;
    let local_name = acc.name.as_deref().unwrap_or("");
    if !is_composite(tt.kind()) {
        return Ok(Err(format!(
            "no field `{local_name}`: target {} is not a struct or union",
            describe(&tt)
        )));
    }
    let lt = local.type_by_id(acc.type_id)?;
    let local_member = lt
        .members()?
        .nth(acc.idx as usize)
        .ok_or(CoreError::BadLocal(acc.type_id))??;
    for (i, m) in tt.members()?.enumerate() {
        let m = m?;
        if spec.raw.len() == MAX_SPEC_LEN {
            return Err(CoreError::TooDeep);
        }
        spec.bit_offset = spec
            .bit_offset
            .checked_add(m.bit_offset)
            .ok_or(CoreError::Overflow)?;
        spec.raw.push(i as u32);
        if m.name.is_empty() {
            // An embedded anonymous struct/union: the field may be inside.
            if let Ok(found) = match_member(local, acc, targ, m.type_id, spec, depth + 1)? {
                return Ok(Ok(found));
            }
        } else if m.name == local_name {
            spec.accessors.push(Accessor {
                type_id: tt.id(),
                idx: i as u32,
                name: Some(m.name.to_string()),
            });
            return Ok(
                match fields_are_compat(local, local_member.type_id, targ, m.type_id)? {
                    Ok(()) => Ok(m.type_id),
                    Err(why) => {
                        spec.accessors.pop();
                        Err(format!("field `{local_name}`: {why}"))
                    }
                },
            );
        }
        spec.bit_offset -= m.bit_offset;
        spec.raw.pop();
    }
    Ok(Err(format!(
        "no field `{local_name}` in target {}",
        describe(&tt)
    )))
}

/// Matches `local_spec` against candidate `targ_id`, producing the target spec.
pub fn spec_match(
    local: &Btf,
    local_spec: &CoreSpec,
    targ: &Btf,
    targ_id: TypeId,
) -> Verdict<CoreSpec> {
    let mut spec = CoreSpec::empty(targ_id, local_spec.kind);
    if local_spec.kind.is_type_based() {
        let verdict = if local_spec.kind == CoreReloKind::TypeMatches {
            types_match(local, local_spec.root_type_id, targ, targ_id, false, 32)?
        } else {
            types_are_compat(local, local_spec.root_type_id, targ, targ_id, 32)?
        };
        return Ok(verdict.map(|()| spec));
    }
    let local_acc = &local_spec.accessors[0];
    if local_spec.kind.is_enumval_based() {
        let tt = targ.skip_mods_and_typedefs(targ_id)?;
        if !is_any_enum(tt.kind()) {
            return Ok(Err(format!("target {} is not an enum", describe(&tt))));
        }
        let want = essential_name(local_acc.name.as_deref().unwrap_or(""));
        for (i, e) in tt.enumerators()?.enumerate() {
            let e = e?;
            if essential_name(e.name) == want {
                spec.accessors.push(Accessor {
                    type_id: tt.id(),
                    idx: i as u32,
                    name: Some(e.name.to_string()),
                });
                spec.raw.push(i as u32);
                return Ok(Ok(spec));
            }
        }
        return Ok(Err(format!(
            "no enumerator `{want}` in target {}",
            describe(&tt)
        )));
    }
    let mut targ_id = targ_id;
    for (i, acc) in local_spec.accessors.iter().enumerate() {
        let tt = targ.skip_mods_and_typedefs(targ_id)?;
        targ_id = tt.id();
        if acc.name.is_some() {
            match match_member(local, acc, targ, targ_id, &mut spec, 0)? {
                Ok(next) => targ_id = next,
                Err(why) => return Ok(Err(why)),
            }
            continue;
        }
        // An array index (or, first, the index applied to the root pointer).
        if i > 0 {
            if tt.kind() != Kind::Array {
                return Ok(Err(format!("target {} is not an array", describe(&tt))));
            }
            let a = tt.array()?;
            if !is_flex_arr(targ, spec.accessors.last(), a.nelems) && acc.idx >= a.nelems {
                return Ok(Err(format!(
                    "index {} is past the end of the target array of {}",
                    acc.idx, a.nelems
                )));
            }
            targ_id = targ.skip_mods_and_typedefs(a.elem_type)?.id();
        }
        if spec.raw.len() == MAX_SPEC_LEN {
            return Err(CoreError::TooDeep);
        }
        spec.accessors.push(Accessor {
            type_id: targ_id,
            idx: acc.idx,
            name: None,
        });
        spec.raw.push(acc.idx);
        let size = targ.size_of(targ_id)?;
        let add = u64::from(acc.idx) * size * 8;
        spec.bit_offset =
            u32::try_from(u64::from(spec.bit_offset) + add).map_err(|_| CoreError::Overflow)?;
    }
    Ok(Ok(spec))
}

/// libbpf `bpf_core_names_match`: flavor-less names equal, or both anonymous.
fn names_match(local: &str, targ: &str) -> bool {
    if targ.is_empty() {
        return local.is_empty();
    }
    essential_name(local) == essential_name(targ)
}

/// The stricter relation of `bpf_core_type_matches()` (libbpf `__bpf_core_types_match`):
/// after typedefs and qualifiers, kinds agree (a struct or union behind a pointer may
/// match a forward declaration; enum matches enum64), integers have the same size and
/// signedness, arrays the same length, every local struct member and enumerator has a
/// namesake in the target, and function prototypes agree parameter by parameter.
pub fn types_match(
    local: &Btf,
    local_id: TypeId,
    targ: &Btf,
    targ_id: TypeId,
    behind_ptr: bool,
    level: u32,
) -> Verdict<()> {
    if level == 0 {
        return Err(CoreError::TooDeep);
    }
    let (mut lid, mut tid, mut behind_ptr) = (local_id, targ_id, behind_ptr);
    for _ in 0..MAX_RESOLVE_DEPTH {
        let lt = local.skip_mods_and_typedefs(lid)?;
        let tt = targ.skip_mods_and_typedefs(tid)?;
        let no = |what: &str| {
            Ok(Err(format!(
                "{} does not match {}: {what}",
                describe(&lt),
                describe(&tt)
            )))
        };
        if !names_match(lt.name()?, tt.name()?) {
            return no("names differ");
        }
        let (lk, tk) = (lt.kind(), tt.kind());
        let answer = |mismatch: Option<String>| match mismatch {
            None => Ok(Ok(())),
            Some(what) => no(&what),
        };
        match lk {
            Kind::Void => return answer((tk != Kind::Void).then(|| "kinds differ".into())),
            Kind::Fwd => {
                let ok = fwd_matches(&lt, &tt, behind_ptr);
                return answer((!ok).then(|| "forward declarations differ".into()));
            }
            Kind::Enum | Kind::Enum64 => return answer(enums_match(&lt, &tt)?),
            Kind::Struct | Kind::Union => {
                let m = composites_match(local, &lt, targ, &tt, behind_ptr, level)?;
                return answer(m);
            }
            Kind::Int => {
                if tk != Kind::Int {
                    return no("kinds differ");
                }
                let signed = |t: &BtfType<'_>| -> Result<u8, CoreError> { Ok(t.int()?.0 & 1) };
                return if lt.size() == tt.size() && signed(&lt)? == signed(&tt)? {
                    Ok(Ok(()))
                } else {
                    no("size or signedness differ")
                };
            }
            Kind::Ptr => {
                if tk != Kind::Ptr {
                    return no("kinds differ");
                }
                behind_ptr = true;
                (lid, tid) = (lt.ref_type()?, tt.ref_type()?);
            }
            Kind::Array => {
                if tk != Kind::Array {
                    return no("kinds differ");
                }
                let (la, ta) = (lt.array()?, tt.array()?);
                if la.nelems != ta.nelems {
                    return no("array lengths differ");
                }
                (lid, tid) = (la.elem_type, ta.elem_type);
            }
            Kind::FuncProto => {
                if tk != Kind::FuncProto {
                    return no("kinds differ");
                }
                let lp: Vec<_> = lt.params()?.collect::<Result<_, _>>()?;
                let tp: Vec<_> = tt.params()?.collect::<Result<_, _>>()?;
                if lp.len() != tp.len() {
                    return no("parameter counts differ");
                }
                for (l, t) in lp.iter().zip(&tp) {
                    if let Err(why) =
                        types_match(local, l.type_id, targ, t.type_id, behind_ptr, level - 1)?
                    {
                        return Ok(Err(why));
                    }
                }
                (lid, tid) = (lt.ref_type()?, tt.ref_type()?);
            }
            k => return Ok(Err(format!("{} types cannot be matched", k.name()))),
        }
    }
    Err(CoreError::TooDeep)
}

/// Forward declarations: a FWD matches a FWD of the same flavor; behind a pointer, also
/// the struct or union it declares.
fn fwd_matches(lt: &BtfType<'_>, tt: &BtfType<'_>, behind_ptr: bool) -> bool {
    let (lf, tk) = (lt.kind_flag(), tt.kind());
    if behind_ptr && tk != Kind::Fwd {
        (tk == Kind::Struct && !lf) || (tk == Kind::Union && lf)
    } else {
        tk == Kind::Fwd && lf == tt.kind_flag()
    }
}

/// Enums (32 or 64-bit alike): the same size, and every local enumerator has a
/// namesake in the target. What differs, or `None`.
fn enums_match(lt: &BtfType<'_>, tt: &BtfType<'_>) -> Result<Option<String>, CoreError> {
    if !is_any_enum(tt.kind()) {
        return Ok(Some("kinds differ".into()));
    }
    if lt.size() != tt.size() {
        return Ok(Some("sizes differ".into()));
    }
    let targ_names: Vec<String> = tt
        .enumerators()?
        .map(|e| e.map(|e| e.name.to_string()))
        .collect::<Result<_, _>>()?;
    for e in lt.enumerators()? {
        let e = e?;
        if !targ_names.iter().any(|t| names_match(e.name, t)) {
            return Ok(Some(format!("no enumerator `{}`", e.name)));
        }
    }
    Ok(None)
}

/// Structs and unions: behind a pointer the kinds alone (or a forward declaration);
/// otherwise every local member has a namesake in the target whose type matches.
fn composites_match(
    local: &Btf,
    lt: &BtfType<'_>,
    targ: &Btf,
    tt: &BtfType<'_>,
    behind_ptr: bool,
    level: u32,
) -> Result<Option<String>, CoreError> {
    let (lk, tk) = (lt.kind(), tt.kind());
    if behind_ptr {
        let ok = lk == tk || (tk == Kind::Fwd && (lk == Kind::Union) == tt.kind_flag());
        return Ok((!ok).then(|| "kinds differ".into()));
    }
    if lk != tk {
        return Ok(Some("kinds differ".into()));
    }
    let targ_members: Vec<_> = tt.members()?.collect::<Result<_, _>>()?;
    for lm in lt.members()? {
        let lm = lm?;
        let mut matched = false;
        for tm in targ_members
            .iter()
            .filter(|tm| names_match(lm.name, tm.name))
        {
            if types_match(local, lm.type_id, targ, tm.type_id, behind_ptr, level - 1)?.is_ok() {
                matched = true;
                break;
            }
        }
        if !matched {
            return Ok(Some(format!("no matching member `{}`", lm.name)));
        }
    }
    Ok(None)
}
