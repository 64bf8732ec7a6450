//! BTF as a C header: what `bpftool btf dump file /sys/kernel/btf/vmlinux format c`
//! writes, the `vmlinux.h` CO-RE programs include.
//!
//! Two passes, as libbpf's `btf_dump.c` does them (written anew here):
//! 1. **Order.** A depth-first walk puts every named struct, union, enum and typedef
//!    after the types it needs *by value*. A pointer only needs the pointee declared, so
//!    walking through a pointer does not require the pointee's definition; those get a
//!    forward declaration (`struct foo;`) when first used.
//! 2. **Emit.** Each definition in that order. Anonymous structs, unions and enums are
//!    written inline where they are used. Member layout is reproduced exactly: where a
//!    member sits later than C's natural alignment would put it, unnamed bitfields
//!    (`long: 64;`) fill the gap; structs whose members are not naturally aligned get
//!    `__attribute__((packed))`; enums of 1, 2 or 8 bytes get a `mode` attribute.
//!
//! Names that appear twice in one C namespace (struct/union/enum tags; typedefs and
//! enumerators) get `___2`, `___3`... after the first, like bpftool. Functions,
//! variables and data sections are not written. The whole is wrapped in the
//! `preserve_access_index` pragma so every struct access in a program that includes it
//! becomes a CO-RE relocation.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::super::types::{Composite, EnumDef, ParamDef, Type, TypeKind, decode_all};
use super::super::{Btf, BtfError, TypeId};

/// How deep a declarator may nest (pointer to array of pointers to functions...) before
/// the BTF is taken to be looping.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    No,
    Visiting,
    Done,
}

struct Dumper<'a> {
    types: &'a [Type],
    /// Resolved C names (with `___N` for duplicates), per type id; enumerator names per
    /// enum id.
    names: HashMap<u32, String>,
    enumerator_names: HashMap<u32, Vec<String>>,
    /// Types some other type refers to (unreferenced anonymous types are written at top
    /// level so their contents are not lost).
    referenced: Vec<bool>,
    order: Vec<Order>,
    queue: Vec<u32>,
    /// Struct/union tags declared (forward or by their definition starting).
    declared: Vec<bool>,
    /// Typedefs, enums and composites whose definition has been written.
    defined: Vec<bool>,
    /// `size_align` results: nested structs would otherwise be measured again at every
    /// level, exponentially in hostile BTF.
    layout: std::cell::RefCell<Vec<Option<(u64, u64)>>>,
    out: String,
}

fn tabs(n: usize) -> String {
    "\t".repeat(n)
}

fn join(base: &str, inner: &str) -> String {
    if inner.is_empty() {
        base.to_string()
    } else {
        format!("{base} {inner}")
    }
}

/// Wraps a declarator that starts with `*` in parentheses before a postfix `[]`/`()`.
fn wrap(inner: &str) -> String {
    if inner.starts_with('*') {
        format!("({inner})")
    } else {
        inner.to_string()
    }
}

impl<'a> Dumper<'a> {
    fn new(types: &'a [Type]) -> Dumper<'a> {
        let n = types.len() + 1;
        let mut d = Dumper {
            types,
            names: HashMap::new(),
            enumerator_names: HashMap::new(),
            referenced: vec![false; n],
            order: vec![Order::No; n],
            queue: Vec::new(),
            declared: vec![false; n],
            defined: vec![false; n],
            layout: std::cell::RefCell::new(vec![None; n]),
            out: String::new(),
        };
        d.resolve_names();
        d.mark_referenced();
        d
    }

    fn get(&self, id: u32) -> Option<&'a Type> {
        id.checked_sub(1).and_then(|i| self.types.get(i as usize))
    }

    /// Assigns C names, suffixing repeats within a namespace with `___N`.
    fn resolve_names(&mut self) {
        let mut tags: HashMap<&str, u32> = HashMap::new();
        let mut idents: HashMap<&str, u32> = HashMap::new();
        let unique = |map: &mut HashMap<&'a str, u32>, name: &'a str| -> String {
            let n = map.entry(name).or_insert(0);
            *n += 1;
            if *n == 1 {
                name.to_string()
            } else {
                format!("{name}___{n}")
            }
        };
        // Forward declarations take the name of a definition of the same tag if there
        // is one, without counting as a second use.
        let defined_tags: std::collections::HashSet<&str> = self
            .types
            .iter()
            .filter(|t| {
                matches!(t.kind, TypeKind::Struct(_) | TypeKind::Union(_)) && !t.name.is_empty()
            })
            .map(|t| t.name.as_str())
            .collect();
        for (i, t) in self.types.iter().enumerate() {
            let id = i as u32 + 1;
            match &t.kind {
                TypeKind::Struct(_)
                | TypeKind::Union(_)
                | TypeKind::Enum(_)
                | TypeKind::Enum64(_)
                    if !t.name.is_empty() =>
                {
                    let n = unique(&mut tags, &t.name);
                    self.names.insert(id, n);
                }
                TypeKind::Fwd { .. } if !t.name.is_empty() => {
                    let n = if defined_tags.contains(t.name.as_str()) {
                        t.name.clone()
                    } else {
                        unique(&mut tags, &t.name)
                    };
                    self.names.insert(id, n);
                }
                TypeKind::Typedef(_) => {
                    let n = unique(&mut idents, &t.name);
                    self.names.insert(id, n);
                }
                _ => {}
            }
            if let TypeKind::Enum(e) | TypeKind::Enum64(e) = &t.kind {
                let names = e
                    .values
                    .iter()
                    .map(|(n, _)| unique(&mut idents, n))
                    .collect();
                self.enumerator_names.insert(id, names);
            }
        }
    }

    fn mark_referenced(&mut self) {
        for t in self.types {
            let mut k = t.kind.clone();
            for r in k.refs_mut() {
                if let Some(slot) = self.referenced.get_mut(r.0 as usize) {
                    *slot = true;
                }
            }
        }
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(&id).map_or("", String::as_str)
    }

    // ---- Pass 1: order ----

    /// Orders `id`; returns whether it is now *defined* ahead of whatever asked (a
    /// "strong" reference, libbpf's term), as opposed to only needing a declaration.
    fn order(&mut self, id: u32, through_ptr: bool, depth: usize) -> Result<bool, BtfError> {
        if depth > MAX_DEPTH {
            return Err(BtfError::Loop(TypeId(id)));
        }
        let Some(t) = self.get(id) else {
            return Ok(true);
        };
        match &t.kind {
            TypeKind::Int { .. } | TypeKind::Float { .. } => Ok(true),
            TypeKind::Ptr(to) => {
                self.order(to.0, true, depth + 1)?;
                Ok(true)
            }
            TypeKind::Array { elem, .. } => self.order(elem.0, through_ptr, depth + 1),
            TypeKind::Const(to)
            | TypeKind::Volatile(to)
            | TypeKind::Restrict(to)
            | TypeKind::TypeTag { target: to, .. } => self.order(to.0, through_ptr, depth + 1),
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                let named = !t.name.is_empty();
                match self.order[id as usize] {
                    Order::Done => return Ok(true),
                    // A struct that contains itself by value is not valid C; stop here.
                    Order::Visiting => return Ok(false),
                    Order::No => {}
                }
                if named && through_ptr {
                    return Ok(false);
                }
                self.order[id as usize] = Order::Visiting;
                for m in &c.members {
                    self.order(m.ty.0, false, depth + 1)?;
                }
                self.order[id as usize] = Order::Done;
                // Anonymous ones are written inline where used (unused ones, never).
                if named {
                    self.queue.push(id);
                }
                Ok(true)
            }
            TypeKind::Enum(_) | TypeKind::Enum64(_) | TypeKind::Fwd { .. } => {
                if self.order[id as usize] == Order::No {
                    self.order[id as usize] = Order::Done;
                    if !t.name.is_empty() || !self.referenced[id as usize] {
                        self.queue.push(id);
                    }
                }
                Ok(true)
            }
            TypeKind::Typedef(to) => {
                match self.order[id as usize] {
                    Order::Done => return Ok(true),
                    Order::Visiting => return Ok(false),
                    Order::No => {}
                }
                self.order[id as usize] = Order::Visiting;
                let strong = self.order(to.0, through_ptr, depth + 1)?;
                if through_ptr && !strong {
                    // Like a struct reached through a pointer: declared when used, and
                    // queued properly if something later needs it by value.
                    self.order[id as usize] = Order::No;
                    return Ok(false);
                }
                self.order[id as usize] = Order::Done;
                self.queue.push(id);
                Ok(true)
            }
            TypeKind::FuncProto { ret, params } => {
                self.order(ret.0, through_ptr, depth + 1)?;
                for p in params {
                    self.order(p.ty.0, through_ptr, depth + 1)?;
                }
                Ok(true)
            }
            TypeKind::Func { .. }
            | TypeKind::Var { .. }
            | TypeKind::Datasec { .. }
            | TypeKind::DeclTag { .. } => Ok(true),
        }
    }

    // ---- Pass 2: emit ----

    /// Makes sure the struct/union tag `id` (or a FWD) is declared before the current
    /// top-level definition.
    fn ensure_tag(&mut self, id: u32) {
        if self.declared[id as usize] {
            return;
        }
        self.declared[id as usize] = true;
        let Some(t) = self.get(id) else { return };
        let kw = match t.kind {
            TypeKind::Union(_) | TypeKind::Fwd { is_union: true } => "union",
            _ => "struct",
        };
        let line = format!("{kw} {};\n\n", self.name(id));
        self.out.push_str(&line);
    }

    /// Writes a typedef's definition now, if it has not been written.
    fn ensure_typedef(&mut self, id: u32, depth: usize) -> Result<(), BtfError> {
        if self.defined[id as usize] {
            return Ok(());
        }
        self.defined[id as usize] = true;
        // A compiler built-in (`void *` for clang's BPF target, something else for the
        // GCC that built the kernel): redefining it is an error (libbpf skips it too).
        if self.name(id) == "__builtin_va_list" {
            return Ok(());
        }
        let Some(Type {
            kind: TypeKind::Typedef(to),
            ..
        }) = self.get(id)
        else {
            return Ok(());
        };
        let name = self.name(id).to_string();
        let decl = self.decl(to.0, &name, 0, depth + 1)?;
        let _ = write!(self.out, "typedef {decl};\n\n");
        Ok(())
    }

    /// The C declaration of a value of type `id` whose declarator so far is `inner` (a
    /// name, `*name`, `name[4]`...; empty for an abstract declarator).
    fn decl(
        &mut self,
        id: u32,
        inner: &str,
        indent: usize,
        depth: usize,
    ) -> Result<String, BtfError> {
        if depth > MAX_DEPTH {
            return Err(BtfError::Loop(TypeId(id)));
        }
        if id == 0 {
            return Ok(join("void", inner));
        }
        // The types were decoded with every id checked; an id past them is still an
        // error, not `void`.
        let t = self.get(id).ok_or(BtfError::BadTypeId {
            from: TypeId(0),
            to: TypeId(id),
            last: TypeId(self.types.len() as u32),
        })?;
        Ok(match &t.kind {
            TypeKind::Int { .. } | TypeKind::Float { .. } => join(&t.name, inner),
            TypeKind::Ptr(to) => self.decl(to.0, &format!("*{inner}"), indent, depth + 1)?,
            TypeKind::Array { elem, nelems, .. } => self.decl(
                elem.0,
                &format!("{}[{nelems}]", wrap(inner)),
                indent,
                depth + 1,
            )?,
            TypeKind::FuncProto { ret, params } => {
                self.proto_decl(ret.0, params, inner, indent, depth)?
            }
            TypeKind::Const(to) | TypeKind::Volatile(to) | TypeKind::Restrict(to) => {
                self.qualified_decl(t, to.0, inner, indent, depth)?
            }
            TypeKind::TypeTag { target, .. } => self.decl(target.0, inner, indent, depth + 1)?,
            TypeKind::Typedef(_) => {
                self.ensure_typedef(id, depth)?;
                join(self.name(id), inner)
            }
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                let kw = if matches!(t.kind, TypeKind::Union(_)) {
                    "union"
                } else {
                    "struct"
                };
                if t.name.is_empty() {
                    let body = self.composite(id, kw, "", c, indent, depth + 1)?;
                    join(&body, inner)
                } else {
                    self.ensure_tag(id);
                    join(&format!("{kw} {}", self.name(id)), inner)
                }
            }
            TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                if t.name.is_empty() {
                    join(&self.enumeration(id, "", e, indent), inner)
                } else {
                    join(&format!("enum {}", self.name(id)), inner)
                }
            }
            TypeKind::Fwd { is_union } => {
                self.ensure_tag(id);
                join(
                    &format!(
                        "{} {}",
                        if *is_union { "union" } else { "struct" },
                        self.name(id)
                    ),
                    inner,
                )
            }
            TypeKind::Func { proto, .. } => self.decl(proto.0, inner, indent, depth + 1)?,
            TypeKind::Var { ty, .. } => self.decl(ty.0, inner, indent, depth + 1)?,
            TypeKind::Datasec { .. } | TypeKind::DeclTag { .. } => join("void", inner),
        })
    }

    /// A function prototype returning `ret`: `ret (inner)(params)`, a last parameter of
    /// type void being `...`.
    fn proto_decl(
        &mut self,
        ret: u32,
        params: &[ParamDef],
        inner: &str,
        indent: usize,
        depth: usize,
    ) -> Result<String, BtfError> {
        let mut ps = Vec::new();
        for (i, p) in params.iter().enumerate() {
            if p.ty.0 == 0 && i + 1 == params.len() {
                ps.push("...".to_string());
            } else {
                ps.push(self.decl(p.ty.0, "", indent, depth + 1)?);
            }
        }
        let ps = if ps.is_empty() {
            "void".to_string()
        } else {
            ps.join(", ")
        };
        self.decl(ret, &format!("{}({ps})", wrap(inner)), indent, depth + 1)
    }

    /// `const`, `volatile` or `restrict` (`t`) on type `to`, placed where C wants it.
    fn qualified_decl(
        &mut self,
        t: &Type,
        to: u32,
        inner: &str,
        indent: usize,
        depth: usize,
    ) -> Result<String, BtfError> {
        let q = match t.kind {
            TypeKind::Const(_) => "const",
            TypeKind::Volatile(_) => "volatile",
            _ => "restrict",
        };
        let same = self
            .get(to)
            .is_some_and(|n| std::mem::discriminant(&n.kind) == std::mem::discriminant(&t.kind));
        Ok(if same {
            // `const const char`: a repeated qualifier means nothing more.
            self.decl(to, inner, indent, depth + 1)?
        } else if self.skips_to_ptr(to) {
            // A qualified pointer: the qualifier goes after the `*`.
            self.decl(to, &join(q, inner), indent, depth + 1)?
        } else if matches!(
            self.get(to).map(|t| &t.kind),
            Some(TypeKind::FuncProto { .. })
        ) {
            // C has no qualified function types; drop the qualifier.
            self.decl(to, inner, indent, depth + 1)?
        } else {
            // `const` on an array applies to its elements, which may say so
            // already (`const` array of `const char`).
            let d = self.decl(to, inner, indent, depth + 1)?;
            if d.starts_with(q) && d[q.len()..].starts_with(' ') {
                d
            } else {
                format!("{q} {d}")
            }
        })
    }

    fn skips_to_ptr(&self, mut id: u32) -> bool {
        for _ in 0..MAX_DEPTH {
            match self.get(id).map(|t| &t.kind) {
                Some(TypeKind::Ptr(_)) => return true,
                Some(
                    TypeKind::Const(to)
                    | TypeKind::Volatile(to)
                    | TypeKind::Restrict(to)
                    | TypeKind::TypeTag { target: to, .. },
                ) => id = to.0,
                _ => return false,
            }
        }
        false
    }

    /// Size and natural alignment in bytes of a type as clang lays it out for BPF.
    fn size_align(&self, id: u32, depth: usize) -> (u64, u64) {
        if depth > MAX_DEPTH {
            return (0, 1);
        }
        if let Some(Some(v)) = self.layout.borrow().get(id as usize) {
            return *v;
        }
        let v = self.size_align_uncached(id, depth);
        if let Some(slot) = self.layout.borrow_mut().get_mut(id as usize) {
            *slot = Some(v);
        }
        v
    }

    fn size_align_uncached(&self, id: u32, depth: usize) -> (u64, u64) {
        let Some(t) = self.get(id) else { return (0, 1) };
        match &t.kind {
            TypeKind::Int { size, .. } | TypeKind::Float { size } => {
                (u64::from(*size), u64::from(*size).clamp(1, 16))
            }
            TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                (u64::from(e.size), u64::from(e.size).clamp(1, 8))
            }
            TypeKind::Ptr(_) => (8, 8),
            TypeKind::Array { elem, nelems, .. } => {
                let (s, a) = self.size_align(elem.0, depth + 1);
                (s.saturating_mul(u64::from(*nelems)), a)
            }
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                let (_, align) = self.composite_layout(c, depth + 1);
                (u64::from(c.size), align)
            }
            TypeKind::Typedef(to)
            | TypeKind::Const(to)
            | TypeKind::Volatile(to)
            | TypeKind::Restrict(to)
            | TypeKind::TypeTag { target: to, .. } => self.size_align(to.0, depth + 1),
            _ => (0, 1),
        }
    }

    /// `(packed, alignment)` of a struct/union as written: packed when a member is not at
    /// its natural alignment or the size is not a multiple of the alignment (libbpf
    /// `btf_is_struct_packed`).
    fn composite_layout(&self, c: &Composite, depth: usize) -> (bool, u64) {
        let mut align = 1;
        for m in &c.members {
            let (_, a) = self.size_align(m.ty.0, depth + 1);
            if self.bitfield_bits(m.ty.0, m.bitfield_size) == 0
                && u64::from(m.bit_offset) % a.saturating_mul(8).max(1) != 0
            {
                return (true, 1);
            }
            align = align.max(a);
        }
        if u64::from(c.size) % align != 0 {
            (true, 1)
        } else {
            (false, align)
        }
    }

    /// The bitfield width of a member: its declared size, or for old-style BTF an INT
    /// narrower than its storage.
    fn bitfield_bits(&self, ty: u32, bitfield_size: u32) -> u32 {
        if bitfield_size != 0 {
            return bitfield_size;
        }
        let mut id = ty;
        for _ in 0..MAX_DEPTH {
            match self.get(id).map(|t| &t.kind) {
                Some(TypeKind::Int { size, bits, .. })
                    if u64::from(*bits) != u64::from(*size) * 8 && *bits != 0 =>
                {
                    return u32::from(*bits);
                }
                Some(TypeKind::Typedef(to) | TypeKind::Const(to) | TypeKind::Volatile(to)) => {
                    id = to.0
                }
                _ => return 0,
            }
        }
        0
    }

    /// Unnamed bitfields that move the layout from bit `from` to bit `to`, each fitting
    /// in its own naturally aligned storage unit.
    fn padding(out: &mut String, mut from: u64, to: u64, indent: usize) {
        // Gaps of more than 64 longs (cacheline- or page-aligned members can leave a few
        // hundred bytes) are filled with one byte array instead of thousands of lines:
        // BTF can claim gigabyte gaps, and the header must stay proportional to it.
        const MAX_LINES_BITS: u64 = 64 * 64;
        if to - from > MAX_LINES_BITS {
            let start = from.div_ceil(64) * 64;
            let end = to / 64 * 64;
            Self::padding(out, from, start, indent);
            let _ = writeln!(
                out,
                "{}char __pad_{}[{}];",
                tabs(indent),
                start / 8,
                (end - start) / 8
            );
            from = end;
        }
        while from < to {
            let left = to - from;
            let (ty, bits) = [("long", 64u64), ("int", 32), ("short", 16), ("char", 8)]
                .into_iter()
                .find(|(_, b)| from % b == 0 && left >= *b)
                // Not on a byte boundary, or less than a byte left: finish this byte.
                .unwrap_or(("char", (8 - from % 8).min(left)));
            let _ = writeln!(out, "{}{ty}: {bits};", tabs(indent));
            from += bits;
        }
    }

    /// A struct or union body, `kw name {...}` with attributes, without the `;`.
    fn composite(
        &mut self,
        id: u32,
        kw: &str,
        name: &str,
        c: &Composite,
        indent: usize,
        depth: usize,
    ) -> Result<String, BtfError> {
        let (packed, align) = self.composite_layout(c, depth);
        let is_union = kw == "union";
        let mut s = if name.is_empty() {
            format!("{kw} {{\n")
        } else {
            format!("{kw} {name} {{\n")
        };
        let mut cur: u64 = 0; // end of the layout so far, in bits
        for m in &c.members {
            let bits = self.bitfield_bits(m.ty.0, m.bitfield_size);
            let off = u64::from(m.bit_offset);
            if !is_union {
                let (size, a) = self.size_align(m.ty.0, depth + 1);
                let natural = if bits > 0 {
                    // A bitfield goes where it fits in a unit of its type's size.
                    let unit = (size * 8).max(8);
                    if cur / unit != (cur + u64::from(bits) - 1) / unit {
                        cur.div_ceil(unit) * unit
                    } else {
                        cur
                    }
                } else if packed {
                    cur.div_ceil(8) * 8
                } else {
                    cur.div_ceil(a * 8) * a * 8
                };
                if off > natural {
                    Self::padding(&mut s, cur, off, indent + 1);
                }
            }
            let field = if bits > 0 {
                format!(
                    "{}: {bits}",
                    self.decl(m.ty.0, &m.name, indent + 1, depth + 1)?
                )
            } else {
                self.decl(m.ty.0, &m.name, indent + 1, depth + 1)?
            };
            let _ = writeln!(s, "{}{field};", tabs(indent + 1));
            let end = if bits > 0 {
                off + u64::from(bits)
            } else {
                off + self.size_align(m.ty.0, depth + 1).0 * 8
            };
            cur = if is_union { cur.max(end) } else { end };
        }
        // Trailing padding the compiler would not add by itself.
        let natural_end = cur.div_ceil(align * 8) * align * 8;
        if u64::from(c.size) * 8 > natural_end {
            Self::padding(&mut s, cur, u64::from(c.size) * 8, indent + 1);
        }
        let _ = write!(s, "{}}}", tabs(indent));
        if packed {
            s.push_str(" __attribute__((packed))");
        }
        let _ = id;
        Ok(s)
    }

    fn enumeration(&self, id: u32, name: &str, e: &EnumDef, indent: usize) -> String {
        let mut s = if name.is_empty() {
            "enum {\n".to_string()
        } else {
            format!("enum {name} {{\n")
        };
        let names = self.enumerator_names.get(&id);
        let is64 = e.size == 8 || e.values.iter().any(|(_, v)| *v > u64::from(u32::MAX));
        for (i, (raw_name, v)) in e.values.iter().enumerate() {
            let n = names
                .and_then(|ns| ns.get(i))
                .map_or(raw_name.as_str(), String::as_str);
            let value = match (e.signed, is64 && matches!(e.size, 8)) {
                (true, false) => (*v as u32 as i32).to_string(),
                (false, false) => (*v as u32).to_string(),
                (true, true) => {
                    let x = *v as i64;
                    if i32::try_from(x).is_ok() {
                        x.to_string()
                    } else {
                        format!("{x}LL")
                    }
                }
                (false, true) => {
                    if *v <= i32::MAX as u64 {
                        v.to_string()
                    } else {
                        format!("{v}ULL")
                    }
                }
            };
            let _ = writeln!(s, "{}{n} = {value},", tabs(indent + 1));
        }
        let _ = write!(s, "{}}}", tabs(indent));
        // Enums are int-sized unless told otherwise.
        match e.size {
            1 => s.push_str(" __attribute__((mode(byte)))"),
            2 => s.push_str(" __attribute__((mode(HI)))"),
            8 => s.push_str(" __attribute__((mode(word)))"),
            _ => {}
        }
        s
    }

    /// Writes the top-level definition of a queued type.
    fn emit(&mut self, id: u32) -> Result<(), BtfError> {
        let Some(t) = self.get(id) else { return Ok(()) };
        match &t.kind {
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                if self.defined[id as usize] {
                    return Ok(());
                }
                self.defined[id as usize] = true;
                // The definition declares the tag: references to itself need no
                // forward declaration.
                self.declared[id as usize] = true;
                let kw = if matches!(t.kind, TypeKind::Union(_)) {
                    "union"
                } else {
                    "struct"
                };
                let name = self.name(id).to_string();
                let body = self.composite(id, kw, &name, c, 0, 0)?;
                let _ = write!(self.out, "{body};\n\n");
            }
            TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                if self.defined[id as usize] {
                    return Ok(());
                }
                self.defined[id as usize] = true;
                let body = self.enumeration(id, self.name(id), e, 0);
                let _ = write!(self.out, "{body};\n\n");
            }
            TypeKind::Fwd { .. } => self.ensure_tag(id),
            TypeKind::Typedef(_) => self.ensure_typedef(id, 0)?,
            _ => {}
        }
        Ok(())
    }
}

/// Writes the types of `btf` as a C header.
///
/// # Errors
/// A bad name or type id anywhere in the BTF, or a reference loop.
pub fn dump(btf: &Btf) -> Result<String, BtfError> {
    let types = decode_all(btf)?;
    dump_types(&types)
}

/// Writes `types` (element `i` is type `i + 1`) as a C header.
///
/// # Errors
/// A reference loop deeper than any real declarator.
pub fn dump_types(types: &[Type]) -> Result<String, BtfError> {
    let mut d = Dumper::new(types);
    for id in 1..=types.len() as u32 {
        d.order(id, false, 0)?;
    }
    // The pragma makes every struct access CO-RE; clang warns about it when there is
    // no struct or union for it to apply to, so it is left out then.
    let records = types
        .iter()
        .any(|t| matches!(t.kind, TypeKind::Struct(_) | TypeKind::Union(_)));
    d.out
        .push_str("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n");
    if records {
        d.out.push_str(
            "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n\
             #pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n\
             #endif\n\n",
        );
    }
    let queue = std::mem::take(&mut d.queue);
    for id in queue {
        d.emit(id)?;
    }
    if records {
        d.out.push_str(
            "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n",
        );
    }
    d.out.push_str("#endif /* __VMLINUX_H__ */\n");
    Ok(d.out)
}
