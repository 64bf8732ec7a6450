//! BTF and `.BTF.ext` of one input into the output (libbpf's `linker_append_btf` and
//! `linker_append_btf_ext`), and the type checks symbol resolution makes
//! (`glob_sym_btf_matches`, `map_defs_match`).

use oxbpf_uapi::Endian;

use super::input::Input;
use super::symbols::is_non_static;
use super::{LinkError, Linker, Shndx, Underlying};
use crate::btf::ext::FuncInfo;
use crate::btf::types::{Type, TypeKind};
use crate::btf::{Btf, Linkage, TypeId, VarSecinfo};
use crate::object::MapSpec;

/// How deep type comparisons and size computations follow references.
const MAX_DEPTH: usize = 64;

/// Type `id` of `types` (`None` for void and ids out of range).
fn type_at(types: &[Type], id: TypeId) -> Option<&Type> {
    (id.0 as usize).checked_sub(1).and_then(|i| types.get(i))
}

/// The type a VAR or FUNC stands on: its variable type or prototype.
fn underlying(k: &TypeKind) -> Option<TypeId> {
    match k {
        TypeKind::Var { ty, .. } => Some(*ty),
        TypeKind::Func { proto, .. } => Some(*proto),
        _ => None,
    }
}

fn set_underlying(k: &mut TypeKind, to: TypeId) {
    match k {
        TypeKind::Var { ty, .. } => *ty = to,
        TypeKind::Func { proto, .. } => *proto = to,
        _ => {}
    }
}

impl Linker {
    /// Appends `input`'s types with ids remapped. A global VAR or FUNC is kept once, by
    /// the first input naming it; when a later input's definition wins, the shared
    /// VAR or FUNC takes that input's underlying type. DATASECs are not copied: their
    /// entries join the output section's, to be written at the end.
    pub(super) fn append_btf(&mut self, input: &mut Input<'_>) -> Result<(), LinkError> {
        if input.btf.is_none() {
            return Ok(());
        }
        let start = self.types.len();
        for (idx, t) in input.types.iter().enumerate() {
            let id = idx + 1;
            if matches!(t.kind, TypeKind::Datasec { .. }) {
                continue;
            }
            let mut glob = None;
            if is_non_static(&t.kind) {
                // One without a global symbol belongs to a section left out (a second
                // `license`): dropped, as libbpf drops it.
                let Some(g) = self.global(&t.name) else {
                    continue;
                };
                let g_ref = &mut self.globals[g];
                if g_ref.underlying == Underlying::Request {
                    g_ref.underlying = Underlying::Pending(underlying(&t.kind).unwrap_or_default());
                }
                if let Some(existing) = g_ref.btf_id {
                    input.type_map[id] = existing.0;
                    continue;
                }
                glob = Some(g);
            }
            self.types.push(t.clone());
            let new = self.types.len() as u32;
            input.type_map[id] = new;
            if let Some(g) = glob {
                self.globals[g].btf_id = Some(TypeId(new));
            }
        }
        for t in &mut self.types[start..] {
            for r in t.kind.refs_mut() {
                let new = input.type_map.get(r.0 as usize).copied().unwrap_or(0);
                if new == 0 && r.0 != 0 {
                    return Err(LinkError::Btf {
                        file: input.file.clone(),
                        source: crate::btf::BtfError::BadTypeId {
                            from: TypeId(0),
                            to: *r,
                            last: TypeId(input.types.len() as u32),
                        },
                    });
                }
                *r = TypeId(new);
            }
        }
        self.settle_underlying(input);
        self.append_datasecs(input)?;
        log::debug!(
            "link: {}: {} of its {} BTF types appended",
            input.file,
            self.types.len() - start,
            input.types.len()
        );
        Ok(())
    }

    /// Points each shared VAR or FUNC whose definition this input gave at this input's
    /// (remapped) underlying type.
    fn settle_underlying(&mut self, input: &Input<'_>) {
        for g in &mut self.globals {
            let Underlying::Pending(src) = g.underlying else {
                continue;
            };
            let new = TypeId(input.type_map.get(src.0 as usize).copied().unwrap_or(0));
            g.underlying = Underlying::Done(new);
            if let Some(t) = g
                .btf_id
                .and_then(|id| (id.0 as usize).checked_sub(1))
                .and_then(|i| self.types.get_mut(i))
            {
                set_underlying(&mut t.kind, new);
            }
        }
    }

    /// Each DATASEC entry of `input` into its output section's list, offsets re-based;
    /// a global listed again (an extern and its definition) is kept once, its size
    /// that of the type it now has.
    fn append_datasecs(&mut self, input: &Input<'_>) -> Result<(), LinkError> {
        for sec in input.sections.iter().skip(1) {
            let (Some(ds), Some(dst), false) = (sec.datasec, sec.dst, sec.skipped) else {
                continue;
            };
            self.sections[dst].has_btf = true;
            let TypeKind::Datasec { vars, .. } = &input.types[ds].kind else {
                continue;
            };
            for v in vars {
                let new = input
                    .type_map
                    .get(v.type_id.0 as usize)
                    .copied()
                    .unwrap_or(0);
                let Some(t) = type_at(&self.types, TypeId(new)) else {
                    return Err(input.section_err(
                        &sec.name,
                        format!(
                            "DATASEC entry {} names a type the linker dropped",
                            v.type_id
                        ),
                    ));
                };
                let mut glob = None;
                if is_non_static(&t.kind) {
                    let g = self.global(&t.name).ok_or_else(|| {
                        input.symbol_err(
                            &t.name,
                            format!("in the DATASEC of `{}`, with no global symbol", sec.name),
                        )
                    })?;
                    if self.globals[g].section != Some(dst) {
                        let other = self.globals[g]
                            .section
                            .map_or("no section", |s| self.sections[s].name.as_str());
                        return Err(input.symbol_err(
                            &t.name,
                            format!("in section `{}` here, in {other} elsewhere", sec.name),
                        ));
                    }
                    glob = Some(g);
                }
                if let Some(vi) = glob.and_then(|g| self.globals[g].var_index) {
                    if matches!(t.kind, TypeKind::Func { .. }) {
                        continue;
                    }
                    let under = underlying(&t.kind).unwrap_or_default();
                    let size = resolve_size(&self.types, under, 0)
                        .map_err(|e| input.symbol_err(&t.name, e))?;
                    if let Some(var) = self.sections[dst].vars.get_mut(vi) {
                        var.size = size;
                    }
                    continue;
                }
                let offset = u32::try_from(sec.dst_off + u64::from(v.offset)).map_err(|_| {
                    LinkError::Output(format!("section `{}` is larger than 4 GiB", sec.name))
                })?;
                let vars = &mut self.sections[dst].vars;
                vars.push(VarSecinfo {
                    type_id: TypeId(new),
                    offset,
                    size: v.size,
                });
                if let Some(g) = glob {
                    self.globals[g].var_index = Some(vars.len() - 1);
                }
            }
        }
        Ok(())
    }

    /// Global variables' DATASEC offsets from their symbols, so that a weak definition
    /// overridden by a strong one is not where the entry points (what libbpf's loader,
    /// and the next link, would fix from the symbol table).
    pub(super) fn settle_datasec_offsets(&mut self) {
        for g in &self.globals {
            let (Some(vi), Some(sec)) = (g.var_index, g.section) else {
                continue;
            };
            let sym = &self.symbols[g.symbol];
            if sym.shndx != Shndx::Section(sec) {
                continue;
            }
            let is_var = g
                .btf_id
                .and_then(|id| type_at(&self.types, id))
                .is_some_and(|t| {
                    matches!(
                        t.kind,
                        TypeKind::Var {
                            linkage: Linkage::Global,
                            ..
                        }
                    )
                });
            if let (true, Some(var), Ok(off)) = (
                is_var,
                self.sections[sec].vars.get_mut(vi),
                u32::try_from(sym.value),
            ) {
                var.offset = off;
            }
        }
    }

    /// `.BTF.ext` records of `input` into its sections' lists: instruction offsets
    /// re-based, type ids remapped, strings taken as text.
    pub(super) fn append_btf_ext(&mut self, input: &Input<'_>) -> Result<(), LinkError> {
        let Some(ext) = &input.ext else { return Ok(()) };
        let btf = input
            .btf
            .as_ref()
            .ok_or_else(|| input.err(".BTF.ext without .BTF".into()))?;
        let string = |off: u32, what: &str, sec: &str| {
            btf.str_at(off).map(str::to_string).map_err(|e| {
                input.section_err(".BTF.ext", format!("{what} of section `{sec}`: {e}"))
            })
        };
        for area in &ext.func_info {
            let (dst, base) =
                self.ext_target(input, &area.section, "func_info", ext.func_info_rec_size)?;
            for r in &area.records {
                let rec = FuncInfo {
                    insn_off: rebase(input, r.insn_off, base)?,
                    type_id: remap(input, r.type_id)?,
                };
                self.sections[dst].ext.func_info.push(rec);
            }
        }
        for area in &ext.line_info {
            let (dst, base) =
                self.ext_target(input, &area.section, "line_info", ext.line_info_rec_size)?;
            for r in &area.records {
                let rec = (
                    rebase(input, r.insn_off, base)?,
                    string(r.file_name_off, "a line_info file name", &area.section)?,
                    string(r.line_off, "a line_info source line", &area.section)?,
                    r.line_col,
                );
                self.sections[dst].ext.line_info.push(rec);
            }
        }
        for area in &ext.core_relos {
            let (dst, base) =
                self.ext_target(input, &area.section, "core_relo", ext.core_relo_rec_size)?;
            for r in &area.records {
                let rec = (
                    rebase(input, r.insn_off, base)?,
                    remap(input, r.type_id)?,
                    string(r.access_str_off, "a CO-RE access string", &area.section)?,
                    r.kind,
                );
                self.sections[dst].ext.core_relos.push(rec);
            }
        }
        Ok(())
    }

    /// The output section and base offset for `.BTF.ext` records of input section
    /// `name`, checking that every input uses one record size.
    fn ext_target(
        &mut self,
        input: &Input<'_>,
        name: &str,
        area: &str,
        rec_size: u32,
    ) -> Result<(usize, u64), LinkError> {
        let src = input
            .section_by_name(name)
            .and_then(|i| input.sections.get(i))
            .filter(|s| s.dst.is_some())
            .ok_or_else(|| {
                input.section_err(
                    ".BTF.ext",
                    format!("{area} records for section `{name}`, which the object lacks"),
                )
            })?;
        let dst = src.dst.unwrap_or_default();
        let ext = &mut self.sections[dst].ext;
        let size = match area {
            "func_info" => &mut ext.func_rec_size,
            "line_info" => &mut ext.line_rec_size,
            _ => &mut ext.core_rec_size,
        };
        if *size == 0 {
            *size = rec_size;
        }
        if *size != rec_size {
            return Err(input.section_err(".BTF.ext", format!("{area} records of {rec_size} bytes for `{name}`, where the inputs before it have {} bytes", *size)));
        }
        Ok((dst, src.dst_off))
    }

    /// Whether global `g`'s type (from earlier inputs) and `input`'s `btf_id` describe
    /// the same thing (libbpf's `glob_syms_match`): for maps in `.maps`, the same
    /// definition; otherwise types of the same shape.
    pub(super) fn check_global_types(
        &self,
        input: &Input<'_>,
        g: usize,
        btf_id: TypeId,
    ) -> Result<(), LinkError> {
        let glob = &self.globals[g];
        let name = &glob.name;
        let err = |what: String| input.symbol_err(name, what);
        let Some(out_id) = glob.btf_id else {
            return Err(err(
                "the input that declared it first has no BTF for it".into()
            ));
        };
        let src = input.type_at(btf_id.0).map(|t| &t.kind);
        if !matches!(src, Some(TypeKind::Var { .. } | TypeKind::Func { .. })) {
            return Err(err(format!(
                "BTF type {btf_id} is neither a VAR nor a FUNC; only those can be global"
            )));
        }
        let in_maps = glob
            .section
            .is_some_and(|s| self.sections[s].name == ".maps");
        let found = if in_maps {
            self.check_map_defs(input, out_id, btf_id)
        } else {
            types_match(
                Side(&self.types),
                out_id,
                Side(&input.types),
                btf_id,
                true,
                0,
            )
        };
        found.map_err(|why| {
            err(format!(
                "does not match its declaration in {}: {why}",
                glob.file
            ))
        })
    }

    /// Two declarations of one map must agree on everything (libbpf's
    /// `map_defs_match`; an extern map declaration must be complete).
    fn check_map_defs(
        &self,
        input: &Input<'_>,
        out_id: TypeId,
        in_id: TypeId,
    ) -> Result<(), String> {
        let endian = self.endian.unwrap_or(Endian::Little);
        let out_btf = crate::btf::encode::encode(&self.types, endian)
            .map_err(|e| e.to_string())
            .and_then(|b| Btf::parse(b).map_err(|e| e.to_string()))?;
        let def = |btf: &Btf, types: &[Type], id: TypeId| -> Result<MapSpec, String> {
            let t = type_at(types, id).ok_or("no such type")?;
            let TypeKind::Var { ty, .. } = t.kind else {
                return Err(format!("its BTF type {id} is not a VAR"));
            };
            crate::elf::btf_map_def(btf, &t.name, ty)
        };
        let in_btf = input.btf.as_ref().ok_or("no .BTF")?;
        let a = def(&out_btf, &self.types, out_id)?;
        let b = def(in_btf, &input.types, in_id)?;
        maps_match(&a, Side(&self.types), &b, Side(&input.types))
    }
}

fn rebase(input: &Input<'_>, insn_off: u32, base: u64) -> Result<u32, LinkError> {
    u32::try_from(u64::from(insn_off) + base)
        .map_err(|_| input.section_err(".BTF.ext", "an instruction offset past 4 GiB".into()))
}

fn remap(input: &Input<'_>, id: TypeId) -> Result<TypeId, LinkError> {
    match input.type_map.get(id.0 as usize) {
        Some(&new) if new != 0 || id.0 == 0 => Ok(TypeId(new)),
        _ => Err(input.section_err(
            ".BTF.ext",
            format!("a record names type {id}, which the object's BTF lacks"),
        )),
    }
}

/// One side of a comparison: a list of types.
#[derive(Clone, Copy)]
struct Side<'a>(&'a [Type]);

impl<'a> Side<'a> {
    /// Follows typedefs and modifiers (libbpf's `skip_mods_and_typedefs`); `None` is void.
    fn skip(self, mut id: TypeId) -> Result<(TypeId, Option<&'a Type>), String> {
        for _ in 0..MAX_DEPTH {
            let Some(t) = type_at(self.0, id) else {
                return if id.0 == 0 {
                    Ok((id, None))
                } else {
                    Err(format!("type {id} does not exist"))
                };
            };
            match t.kind {
                TypeKind::Typedef(n)
                | TypeKind::Volatile(n)
                | TypeKind::Const(n)
                | TypeKind::Restrict(n)
                | TypeKind::TypeTag { target: n, .. } => id = n,
                _ => return Ok((id, Some(t))),
            }
        }
        Err(format!("type {id}: typedefs and modifiers nest too deep"))
    }
}

fn kind_name(t: Option<&Type>) -> &'static str {
    t.map_or("VOID", |t| t.kind.kind().name())
}

/// Whether type `a` of one side and `b` of the other have the same shape (libbpf's
/// `glob_sym_btf_matches`): same kinds and names, same sizes of scalars, same members
/// of structs when `exact` (a pointer only needs the pointee's kind and name, and a
/// forward declaration matches a struct or union of its name), same prototypes.
fn types_match(
    sa: Side<'_>,
    a: TypeId,
    sb: Side<'_>,
    b: TypeId,
    mut exact: bool,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("types nest too deep to compare".into());
    }
    let (_, ta) = sa.skip(a)?;
    let (_, tb) = sb.skip(b)?;
    let (Some(ta), Some(tb)) = (ta, tb) else {
        return if ta.is_none() && tb.is_none() {
            Ok(())
        } else {
            Err(format!(
                "incompatible BTF kinds {} and {}",
                kind_name(ta),
                kind_name(tb)
            ))
        };
    };
    let fwd = |t: &Type| matches!(t.kind, TypeKind::Fwd { .. });
    if !exact && fwd(ta) != fwd(tb) {
        return fwd_matches(ta, tb);
    }
    kinds_and_names_match(ta, tb)?;
    let next = |x: TypeId, y: TypeId, exact: bool| types_match(sa, x, sb, y, exact, depth + 1);
    match (&ta.kind, &tb.kind) {
        (TypeKind::Fwd { .. }, _) => Ok(()),
        (TypeKind::Int { size: x, .. }, TypeKind::Int { size: y, .. })
        | (TypeKind::Float { size: x }, TypeKind::Float { size: y }) => sizes(ta, *x, *y),
        (TypeKind::Enum(x) | TypeKind::Enum64(x), TypeKind::Enum(y) | TypeKind::Enum64(y)) => {
            sizes(ta, x.size, y.size)
        }
        (TypeKind::Ptr(x), TypeKind::Ptr(y)) => {
            exact = false;
            next(*x, *y, exact)
        }
        (TypeKind::Array { elem: x, .. }, TypeKind::Array { elem: y, .. }) => next(*x, *y, exact),
        (
            TypeKind::Func {
                proto: x,
                linkage: lx,
            },
            TypeKind::Func {
                proto: y,
                linkage: ly,
            },
        )
        | (TypeKind::Var { ty: x, linkage: lx }, TypeKind::Var { ty: y, linkage: ly }) => {
            if (*lx == Linkage::Static) != (*ly == Linkage::Static) {
                return Err(format!("incompatible linkage of `{}`", ta.name));
            }
            next(*x, *y, exact)
        }
        (TypeKind::Struct(x) | TypeKind::Union(x), TypeKind::Struct(y) | TypeKind::Union(y)) => {
            if !exact {
                return Ok(());
            }
            members_match(&ta.name, x, y, |m, n| next(m, n, exact))
        }
        (
            TypeKind::FuncProto { ret: x, params: px },
            TypeKind::FuncProto { ret: y, params: py },
        ) => {
            if px.len() != py.len() {
                return Err(format!("{} parameters here, {} there", px.len(), py.len()));
            }
            for (p, q) in px.iter().zip(py) {
                next(p.ty, q.ty, exact)?;
            }
            next(*x, *y, exact)
        }
        _ => Err(format!("unsupported BTF kind {}", kind_name(Some(ta)))),
    }
}

/// The first test of [`types_match`]: the same kind, and for named kinds the same name.
fn kinds_and_names_match(ta: &Type, tb: &Type) -> Result<(), String> {
    if ta.kind.kind() != tb.kind.kind() {
        return Err(format!(
            "incompatible BTF kinds {} and {}",
            kind_name(Some(ta)),
            kind_name(Some(tb))
        ));
    }
    let named = matches!(
        ta.kind,
        TypeKind::Struct(_)
            | TypeKind::Union(_)
            | TypeKind::Enum(_)
            | TypeKind::Enum64(_)
            | TypeKind::Fwd { .. }
            | TypeKind::Func { .. }
            | TypeKind::Var { .. }
    );
    if named && ta.name != tb.name {
        return Err(format!(
            "incompatible {} names `{}` and `{}`",
            kind_name(Some(ta)),
            ta.name,
            tb.name
        ));
    }
    Ok(())
}

/// Members of two structs (or unions) named `name`: same names and offsets, types
/// matched by `next`.
fn members_match(
    name: &str,
    x: &crate::btf::types::Composite,
    y: &crate::btf::types::Composite,
    mut next: impl FnMut(TypeId, TypeId) -> Result<(), String>,
) -> Result<(), String> {
    if x.members.len() != y.members.len() {
        return Err(format!(
            "`{name}` has {} members in one and {} in the other",
            x.members.len(),
            y.members.len()
        ));
    }
    for (i, (m, n)) in x.members.iter().zip(&y.members).enumerate() {
        if m.name != n.name || m.bit_offset != n.bit_offset {
            return Err(format!(
                "member #{i} of `{name}` differs (`{}` and `{}`)",
                m.name, n.name
            ));
        }
        next(m.ty, n.ty)?;
    }
    Ok(())
}

fn sizes(t: &Type, x: u32, y: u32) -> Result<(), String> {
    if x == y {
        Ok(())
    } else {
        Err(format!(
            "incompatible {} `{}` sizes {x} and {y}",
            kind_name(Some(t)),
            t.name
        ))
    }
}

/// A forward declaration against a concrete type: same name, and a struct for a struct
/// declaration, a union for a union one.
fn fwd_matches(a: &Type, b: &Type) -> Result<(), String> {
    if a.name != b.name {
        return Err(format!(
            "incompatible forward declaration names `{}` and `{}`",
            a.name, b.name
        ));
    }
    let (f, c) = if matches!(a.kind, TypeKind::Fwd { .. }) {
        (a, b)
    } else {
        (b, a)
    };
    match (&f.kind, &c.kind) {
        (TypeKind::Fwd { is_union: true }, TypeKind::Union(_))
        | (TypeKind::Fwd { is_union: false }, TypeKind::Struct(_)) => Ok(()),
        _ => Err(format!(
            "forward declaration of `{}` against a {}",
            f.name,
            kind_name(Some(c))
        )),
    }
}

/// Two map definitions, field by field (libbpf's `map_defs_match`).
fn maps_match(a: &MapSpec, sa: Side<'_>, b: &MapSpec, sb: Side<'_>) -> Result<(), String> {
    let mismatch = |what: &str| Err(format!("map `{}`: {what} mismatch", a.name));
    if a.map_type != b.map_type {
        return mismatch("type");
    }
    if a.key_size != b.key_size || a.key_type.is_some() != b.key_type.is_some() {
        return mismatch("key size");
    }
    if let (Some(x), Some(y)) = (a.key_type, b.key_type) {
        types_match(sa, x, sb, y, true, 0).or_else(|_| mismatch("key type"))?;
    }
    if a.value_size != b.value_size || a.value_type.is_some() != b.value_type.is_some() {
        return mismatch("value size");
    }
    if let (Some(x), Some(y)) = (a.value_type, b.value_type) {
        types_match(sa, x, sb, y, true, 0).or_else(|_| mismatch("value type"))?;
    }
    for (what, x, y) in [
        ("max_entries", a.max_entries, b.max_entries),
        ("map_flags", a.map_flags, b.map_flags),
        ("numa_node", a.numa_node, b.numa_node),
    ] {
        if x != y {
            return mismatch(what);
        }
    }
    if a.pinning != b.pinning {
        return mismatch("pinning");
    }
    match (&a.inner, &b.inner) {
        (None, None) => Ok(()),
        (Some(x), Some(y)) => maps_match(x, sa, y, sb),
        _ => mismatch("inner map"),
    }
}

/// The size of type `id` (libbpf's `btf__resolve_size`).
fn resolve_size(types: &[Type], id: TypeId, depth: usize) -> Result<u32, String> {
    if depth > MAX_DEPTH {
        return Err(format!("type {id}: nests too deep to size"));
    }
    let t = type_at(types, id).ok_or_else(|| format!("type {id} has no size"))?;
    match &t.kind {
        TypeKind::Int { size, .. } | TypeKind::Float { size } | TypeKind::Datasec { size, .. } => {
            Ok(*size)
        }
        TypeKind::Enum(e) | TypeKind::Enum64(e) => Ok(e.size),
        TypeKind::Struct(c) | TypeKind::Union(c) => Ok(c.size),
        TypeKind::Ptr(_) => Ok(8),
        TypeKind::Array { elem, nelems, .. } => resolve_size(types, *elem, depth + 1)?
            .checked_mul(*nelems)
            .ok_or_else(|| format!("type {id}: array size overflows")),
        TypeKind::Typedef(n)
        | TypeKind::Volatile(n)
        | TypeKind::Const(n)
        | TypeKind::Restrict(n)
        | TypeKind::TypeTag { target: n, .. }
        | TypeKind::Var { ty: n, .. }
        | TypeKind::DeclTag { target: n, .. } => resolve_size(types, *n, depth + 1),
        _ => Err(format!("type {id} ({}) has no size", kind_name(Some(t)))),
    }
}
