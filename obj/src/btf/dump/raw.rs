//! The raw listing, in bpftool's format (`bpftool btf dump file F format raw`): one line
//! per type, `[id] KIND 'name' fields...`, then one indented line per member, value,
//! parameter or section entry.

use std::fmt::Write as _;

use super::super::types::{Composite, EnumDef, Type, TypeKind};
use super::super::{Btf, BtfError, Linkage, TypeId, VarSecinfo};

fn name_or_anon(name: &str) -> &str {
    if name.is_empty() { "(anon)" } else { name }
}

fn linkage(l: Linkage) -> String {
    match l {
        Linkage::Static => "static".into(),
        Linkage::Global => "global".into(),
        Linkage::Extern => "extern".into(),
        Linkage::Unknown(n) => format!("unknown({n})"),
    }
}

/// One type's lines, without a trailing newline.
///
/// # Errors
/// A bad name or id in the type or, for DATASEC entries, in the variables it lists.
pub fn type_lines(btf: &Btf, id: TypeId, t: &Type) -> Result<String, BtfError> {
    let mut s = format!(
        "[{}] {} '{}'",
        id.0,
        t.kind.kind().name(),
        name_or_anon(&t.name)
    );
    match &t.kind {
        TypeKind::Int {
            size,
            encoding,
            offset,
            bits,
        } => {
            let enc = match encoding {
                0 => "(none)",
                1 => "SIGNED",
                2 => "CHAR",
                4 => "BOOL",
                _ => "(unknown)",
            };
            let _ = write!(
                s,
                " size={size} bits_offset={offset} nr_bits={bits} encoding={enc}"
            );
        }
        TypeKind::Ptr(to)
        | TypeKind::Typedef(to)
        | TypeKind::Volatile(to)
        | TypeKind::Const(to)
        | TypeKind::Restrict(to) => {
            let _ = write!(s, " type_id={}", to.0);
        }
        TypeKind::TypeTag { target, .. } => {
            let _ = write!(s, " type_id={}", target.0);
        }
        TypeKind::Array {
            elem,
            index,
            nelems,
        } => {
            let _ = write!(
                s,
                " type_id={} index_type_id={} nr_elems={nelems}",
                elem.0, index.0
            );
        }
        TypeKind::Struct(c) | TypeKind::Union(c) => composite_lines(&mut s, c),
        TypeKind::Enum(e) => enum_lines(&mut s, e, false),
        TypeKind::Enum64(e) => enum_lines(&mut s, e, true),
        TypeKind::Fwd { is_union } => {
            let _ = write!(
                s,
                " fwd_kind={}",
                if *is_union { "union" } else { "struct" }
            );
        }
        TypeKind::Func { proto, linkage: l } => {
            let _ = write!(s, " type_id={} linkage={}", proto.0, linkage(*l));
        }
        TypeKind::FuncProto { ret, params } => {
            let _ = write!(s, " ret_type_id={} vlen={}", ret.0, params.len());
            for p in params {
                let _ = write!(s, "\n\t'{}' type_id={}", name_or_anon(&p.name), p.ty.0);
            }
        }
        TypeKind::Var { ty, linkage: l } => {
            let _ = write!(s, " type_id={}, linkage={}", ty.0, linkage(*l));
        }
        TypeKind::Datasec { size, vars } => datasec_lines(&mut s, btf, *size, vars)?,
        TypeKind::Float { size } => {
            let _ = write!(s, " size={size}");
        }
        TypeKind::DeclTag {
            target, component, ..
        } => {
            let _ = write!(s, " type_id={} component_idx={component}", target.0);
        }
    }
    Ok(s)
}

/// A struct's or union's size, then a line per member.
fn composite_lines(s: &mut String, c: &Composite) {
    let _ = write!(s, " size={} vlen={}", c.size, c.members.len());
    for m in &c.members {
        let _ = write!(
            s,
            "\n\t'{}' type_id={} bits_offset={}",
            name_or_anon(&m.name),
            m.ty.0,
            m.bit_offset
        );
        if m.bitfield_size != 0 {
            let _ = write!(s, " bitfield_size={}", m.bitfield_size);
        }
    }
}

/// An enum's encoding and size, then a line per value, shown as bpftool shows them.
fn enum_lines(s: &mut String, e: &EnumDef, is64: bool) {
    let enc = if e.signed { "SIGNED" } else { "UNSIGNED" };
    let _ = write!(s, " encoding={enc} size={} vlen={}", e.size, e.values.len());
    for (n, v) in &e.values {
        let shown = match (is64, e.signed) {
            (false, true) => (*v as u32 as i32).to_string(),
            (false, false) => (*v as u32).to_string(),
            (true, true) => format!("{}LL", *v as i64),
            (true, false) => format!("{v}ULL"),
        };
        let _ = write!(s, "\n\t'{n}' val={shown}");
    }
}

/// A DATASEC's size, then a line per entry naming the variable it places.
fn datasec_lines(
    s: &mut String,
    btf: &Btf,
    size: u32,
    vars: &[VarSecinfo],
) -> Result<(), BtfError> {
    let _ = write!(s, " size={size} vlen={}", vars.len());
    for v in vars {
        let var = btf.type_by_id(v.type_id)?;
        let _ = write!(
            s,
            "\n\ttype_id={} offset={} size={} ({} '{}')",
            v.type_id.0,
            v.offset,
            v.size,
            var.kind().name(),
            name_or_anon(var.name()?)
        );
    }
    Ok(())
}

/// The whole listing (this blob's types, not a split base's), one line per type plus
/// its entries, each ending in a newline.
///
/// # Errors
/// The first type with a bad name or id.
pub fn dump(btf: &Btf) -> Result<String, BtfError> {
    let mut out = String::new();
    for id in btf.ids() {
        let t = btf.type_by_id(id)?.decode()?;
        out.push_str(&type_lines(btf, id, &t)?);
        out.push('\n');
    }
    Ok(out)
}
