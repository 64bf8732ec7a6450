//! BTF types as `#[repr(C)]` Rust types that are plain old data (`bytemuck::Pod`): the
//! layout the BPF program uses, byte for byte, checked by compile-time assertions of
//! every size and field offset against the BTF.
//!
//! How C maps to Rust here:
//! - integers by size and sign; `char` is `u8` (text, readable with `c_str`), `bool` is
//!   `u8` (any byte is a valid `u8`; not every byte is a valid `bool`); pointers are
//!   `u64` (an address in another address space); floats are `f32`/`f64`;
//! - typedefs and modifiers resolve to what they name (a C `u64` must not become a Rust
//!   alias shadowing `u64`); a typedef of an anonymous struct names the struct;
//! - structs keep their members at their offsets: the compiler's padding becomes
//!   `__pad_N` byte arrays (so there is no uninitialised byte), a struct whose members
//!   are not naturally aligned becomes `repr(C, packed)`;
//! - bitfields: the bytes holding a run of them become one `__bitfield_N` array, each
//!   named bitfield a getter and a `set_` method;
//! - unions become a byte array with the union's alignment, each member a getter and a
//!   `set_` method (a Rust `union` is not `Pod`);
//! - enums become a `#[repr(transparent)]` newtype of their integer with one constant
//!   per enumerator (a Rust `enum` cannot hold the values C lets a program store);
//! - anonymous types are named after where they are used (`outer__field`), two types
//!   of one name get `_2`, `_3`.
//!
//! A type that cannot be laid out (a forward declaration used by value, an integer of
//! an odd size) becomes a byte array of its size with a comment saying why.

use std::collections::HashMap;
use std::fmt::Write as _;

use oxbpf_obj::btf::TypeId;
use oxbpf_obj::btf::types::{Composite, EnumDef, Type, TypeKind};

use crate::names::{Scope, ident, type_ident};

/// How deep a chain of typedefs, modifiers and arrays may go before the BTF is taken to
/// loop.
const MAX_DEPTH: usize = 64;

/// A Rust type for a BTF type: how to write it, and its C size and alignment.
#[derive(Clone, Debug)]
pub struct RustType {
    /// The type as written in the generated module (`u64`, `[u8; 16]`, `event`).
    pub text: String,
    /// Size in bytes.
    pub size: u64,
    /// Alignment in bytes, as Rust will give it (1 for packed structs).
    pub align: u64,
    /// Whether the type is signed (integers and enums; for bitfield getters).
    pub signed: bool,
    /// For an enum, the integer its newtype wraps.
    pub enum_int: Option<&'static str>,
}

/// Where an anonymous type is used, to name it.
#[derive(Clone, Debug)]
pub struct NameHint(pub String);

/// Generates Rust definitions for the BTF types asked for and every type they hold by
/// value.
#[derive(Debug)]
pub struct TypeGen<'a> {
    types: &'a [Type],
    /// Rust names given to composite and enum types.
    names: HashMap<u32, String>,
    scope: Scope,
    /// Types named and waiting to be written, in the order they were first used.
    queue: Vec<u32>,
    /// Layouts computed, by type id: whether packed, and the alignment.
    layouts: HashMap<u32, (bool, u64)>,
    out: String,
}

impl<'a> TypeGen<'a> {
    /// A generator over decoded BTF (`types[i]` is type id `i + 1`); `reserved` names
    /// are kept for the caller's own types in the same module.
    pub fn new(types: &'a [Type], reserved: &[&str]) -> TypeGen<'a> {
        let mut scope = Scope::default();
        for r in reserved {
            scope.claim(r);
        }
        TypeGen {
            types,
            names: HashMap::new(),
            scope,
            queue: Vec::new(),
            layouts: HashMap::new(),
            out: String::new(),
        }
    }

    fn get(&self, id: TypeId) -> Result<&'a Type, String> {
        let types = self.types;
        id.0.checked_sub(1)
            .and_then(|i| types.get(i as usize))
            .ok_or_else(|| format!("type id {} is not in the BTF", id.0))
    }

    /// The Rust type for type `id`, naming (and queueing for definition) the structs,
    /// unions and enums it is or holds; `hint` names it if it is anonymous.
    ///
    /// # Errors
    /// A sentence: the type cannot be a Rust value (void, a function, a forward
    /// declaration, an integer of an odd size).
    pub fn rust_type(&mut self, id: TypeId, hint: &NameHint) -> Result<RustType, String> {
        self.rust_type_depth(id, hint, 0)
    }

    fn rust_type_depth(
        &mut self,
        id: TypeId,
        hint: &NameHint,
        depth: usize,
    ) -> Result<RustType, String> {
        if depth > MAX_DEPTH {
            return Err(format!("type id {} nests too deep (a loop?)", id.0));
        }
        if id.0 == 0 {
            return Err("void has no value".into());
        }
        let t = self.get(id)?;
        let plain = |text: &str, size: u64, signed: bool| RustType {
            text: text.into(),
            size,
            align: size.max(1),
            signed,
            enum_int: None,
        };
        match &t.kind {
            TypeKind::Int { size, encoding, .. } => {
                let signed = encoding & 1 != 0;
                // C `char` is text whatever its sign on this target.
                let text = if *size == 1 && (encoding & 6 != 0 || t.name == "char") {
                    "u8"
                } else {
                    int_text(*size, signed)
                        .ok_or_else(|| format!("`{}` is a {size}-byte integer", t.name))?
                };
                Ok(plain(text, u64::from(*size), signed && text != "u8"))
            }
            TypeKind::Float { size } => match size {
                4 => Ok(plain("f32", 4, true)),
                8 => Ok(plain("f64", 8, true)),
                16 => Ok(plain("u128", 16, false)),
                _ => Err(format!("`{}` is a {size}-byte float", t.name)),
            },
            TypeKind::Ptr(_) => Ok(plain("u64", 8, false)),
            TypeKind::Typedef(target)
            | TypeKind::Volatile(target)
            | TypeKind::Const(target)
            | TypeKind::Restrict(target)
            | TypeKind::TypeTag { target, .. } => {
                // A typedef names its anonymous struct (`typedef struct {...} cfg_t`).
                let hint = match &t.kind {
                    TypeKind::Typedef(_) if !t.name.is_empty() => NameHint(t.name.clone()),
                    _ => hint.clone(),
                };
                self.rust_type_depth(*target, &hint, depth + 1)
            }
            TypeKind::Array { elem, nelems, .. } => {
                let e = self.rust_type_depth(*elem, hint, depth + 1)?;
                Ok(RustType {
                    text: format!("[{}; {nelems}]", e.text),
                    size: e.size * u64::from(*nelems),
                    align: e.align,
                    signed: e.signed,
                    enum_int: None,
                })
            }
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                let name = self.name_of(id, &t.name, hint);
                let (_, align) = self.layout(id, depth)?;
                Ok(RustType {
                    text: name,
                    size: u64::from(c.size),
                    align,
                    signed: false,
                    enum_int: None,
                })
            }
            TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                let int = int_text(e.size, e.signed)
                    .ok_or_else(|| format!("enum `{}` is {} bytes", t.name, e.size))?;
                let name = self.name_of(id, &t.name, hint);
                Ok(RustType {
                    text: name,
                    size: u64::from(e.size),
                    align: u64::from(e.size),
                    signed: e.signed,
                    enum_int: Some(int),
                })
            }
            TypeKind::Fwd { .. } => Err(format!(
                "`{}` is only declared in the object's BTF, not defined",
                t.name
            )),
            other => Err(format!("a {} has no value", other.kind().name())),
        }
    }

    /// Generates the struct, union or enum a pointer of type `id` points to (through
    /// typedefs and modifiers on both sides), if it is one: a global `const struct
    /// event *unused` is how a program puts a record type into its BTF.
    pub fn pointee(&mut self, id: TypeId) {
        let Some(ptr) = self.skip_mods(id) else {
            return;
        };
        let Ok(TypeKind::Ptr(target)) = self.get(ptr).map(|t| &t.kind) else {
            return;
        };
        let Some(target) = self.skip_mods(*target) else {
            return;
        };
        if let Ok(t) = self.get(target) {
            if !t.name.is_empty()
                && matches!(
                    t.kind,
                    TypeKind::Struct(_)
                        | TypeKind::Union(_)
                        | TypeKind::Enum(_)
                        | TypeKind::Enum64(_)
                )
            {
                let _ = self.rust_type(target, &NameHint(t.name.clone()));
            }
        }
    }

    /// `id` with typedefs and modifiers skipped.
    fn skip_mods(&self, mut id: TypeId) -> Option<TypeId> {
        for _ in 0..MAX_DEPTH {
            match &self.get(id).ok()?.kind {
                TypeKind::Typedef(t)
                | TypeKind::Volatile(t)
                | TypeKind::Const(t)
                | TypeKind::Restrict(t)
                | TypeKind::TypeTag { target: t, .. } => id = *t,
                _ => return Some(id),
            }
        }
        None
    }

    /// The Rust name of composite or enum `id`, given on first use.
    fn name_of(&mut self, id: TypeId, name: &str, hint: &NameHint) -> String {
        if let Some(n) = self.names.get(&id.0) {
            return n.clone();
        }
        let base = if name.is_empty() {
            type_ident(&hint.0)
        } else {
            type_ident(name)
        };
        let n = self.scope.claim(&base);
        self.names.insert(id.0, n.clone());
        self.queue.push(id.0);
        n
    }

    /// Whether composite `id` must be packed, and its alignment in Rust.
    fn layout(&mut self, id: TypeId, depth: usize) -> Result<(bool, u64), String> {
        if let Some(l) = self.layouts.get(&id.0) {
            return Ok(*l);
        }
        if depth > MAX_DEPTH {
            return Err(format!("type id {} nests too deep (a loop?)", id.0));
        }
        let t = self.get(id)?;
        let c = match &t.kind {
            TypeKind::Struct(c) | TypeKind::Union(c) => c,
            _ => return Err(format!("type id {} is not a struct or union", id.0)),
        };
        let mut packed = false;
        let mut align = 1u64;
        for m in &c.members {
            if m.bitfield_size != 0 {
                continue;
            }
            let Ok((_, member_align)) = self.size_align(m.ty, depth + 1) else {
                continue; // becomes bytes, alignment 1
            };
            align = align.max(member_align);
            if u64::from(m.bit_offset) % (8 * member_align) != 0 {
                packed = true;
            }
        }
        if u64::from(c.size) % align != 0 {
            packed = true;
        }
        let l = if packed { (true, 1) } else { (false, align) };
        self.layouts.insert(id.0, l);
        Ok(l)
    }

    /// Writes the definitions of every type queued so far and of those they hold,
    /// returning the module text.
    ///
    /// # Errors
    /// The first type that cannot be written, with why.
    pub fn finish(mut self) -> Result<String, String> {
        let mut next = 0;
        while next < self.queue.len() {
            let id = TypeId(self.queue[next]);
            next += 1;
            self.define(id)?;
        }
        Ok(self.out)
    }

    fn define(&mut self, id: TypeId) -> Result<(), String> {
        let t = self.get(id)?;
        let name = self.names.get(&id.0).cloned().unwrap_or_default();
        match &t.kind {
            TypeKind::Struct(c) => self.define_struct(id, &name, &t.name, c),
            TypeKind::Union(c) => self.define_union(id, &name, &t.name, c),
            TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                self.define_enum(&name, &t.name, e);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn c_name(kind: &str, name: &str) -> String {
        if name.is_empty() {
            format!("an anonymous {kind}")
        } else {
            format!("`{kind} {name}`")
        }
    }

    fn define_struct(
        &mut self,
        id: TypeId,
        name: &str,
        c_name: &str,
        c: &Composite,
    ) -> Result<(), String> {
        let (packed, _) = self.layout(id, 0)?;
        let fields = self.struct_fields(name, c)?;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "/// {} of the object's BTF (type id {}), {} bytes.",
            Self::c_name("struct", c_name),
            id.0,
            c.size
        );
        write_pod_header(&mut o, if packed { "C, packed" } else { "C" });
        let _ = writeln!(o, "pub struct {name} {{");
        for f in &fields.fields {
            match &f.note {
                Some(why) => {
                    let _ = writeln!(o, "    /// {why}");
                }
                None => {
                    let _ = writeln!(o, "    /// `{}`.", f.c_name);
                }
            }
            let _ = writeln!(o, "    pub {}: {},", f.name, f.ty);
        }
        let _ = writeln!(o, "}}");
        write_default(&mut o, name);
        write_asserts(&mut o, name, u64::from(c.size), &fields.fields);
        if !fields.bitfields.is_empty() {
            let _ = writeln!(o, "impl {name} {{");
            for b in &fields.bitfields {
                write_bitfield_accessors(&mut o, b);
            }
            let _ = writeln!(o, "}}");
        }
        self.out.push_str(&o);
        self.out.push('\n');
        Ok(())
    }

    /// The fields of a struct: members at their offsets, padding and bitfield bytes
    /// spelled out.
    fn struct_fields(&mut self, owner: &str, c: &Composite) -> Result<Fields, String> {
        let mut scope = Scope::default();
        let mut out = Fields::default();
        let mut cur = 0u64; // bytes laid out so far
        let mut members = c.members.iter().enumerate().peekable();
        while let Some((index, m)) = members.next() {
            let bit = u64::from(m.bit_offset);
            if m.bitfield_size != 0 || self.is_legacy_bitfield(m.ty) {
                // A run of bitfields: the bytes from the first one's to the last one's.
                let start = bit / 8;
                let mut end = (bit + u64::from(self.bit_width(m.ty, m.bitfield_size)?)).div_ceil(8);
                let mut run = vec![(index, m)];
                while let Some((i, n)) = members.peek().copied() {
                    if n.bitfield_size == 0 && !self.is_legacy_bitfield(n.ty) {
                        break;
                    }
                    let nbit = u64::from(n.bit_offset);
                    end = end.max(
                        (nbit + u64::from(self.bit_width(n.ty, n.bitfield_size)?)).div_ceil(8),
                    );
                    run.push((i, n));
                    members.next();
                }
                if start < cur {
                    return Err(format!(
                        "`{owner}`: bitfield `{}` overlaps the member before it",
                        m.name
                    ));
                }
                pad(&mut out.fields, &mut scope, cur, start);
                let field = scope.claim(&format!("__bitfield_{start}"));
                out.fields.push(Field {
                    c_name: String::new(),
                    name: field.clone(),
                    ty: format!("[u8; {}]", end - start),
                    offset: start,
                    note: Some(
                        "Bytes holding bitfields: read and set them with their methods.".into(),
                    ),
                });
                for (_, b) in run {
                    if b.name.is_empty() {
                        continue; // unnamed bitfields are padding
                    }
                    let base = self.rust_type(b.ty, &NameHint(format!("{owner}__{}", b.name)))?;
                    out.bitfields.push(Bitfield {
                        field: field.clone(),
                        name: ident(&b.name),
                        shift: u64::from(b.bit_offset) - start * 8,
                        width: self.bit_width(b.ty, b.bitfield_size)?,
                        ty: base,
                    });
                }
                cur = end;
                continue;
            }
            if bit % 8 != 0 {
                return Err(format!(
                    "`{owner}`: member `{}` is not at a whole byte",
                    m.name
                ));
            }
            let offset = bit / 8;
            if offset < cur {
                return Err(format!(
                    "`{owner}`: member `{}` at byte {offset} overlaps the member before it",
                    m.name
                ));
            }
            pad(&mut out.fields, &mut scope, cur, offset);
            let field_name = if m.name.is_empty() {
                scope.claim(&format!("__anon_{index}"))
            } else {
                scope.claim(&ident(&m.name))
            };
            let hint = NameHint(format!(
                "{owner}__{}",
                field_name.trim_start_matches("r#").trim_start_matches('_')
            ));
            let (ty, size, note) = match self.rust_type(m.ty, &hint) {
                Ok(t) => (t.text, t.size, None),
                Err(why) => {
                    let (size, _) = self
                        .size_align(m.ty, 0)
                        .map_err(|e| format!("`{owner}`: {e}"))?;
                    (
                        format!("[u8; {size}]"),
                        size,
                        Some(format!("Bytes: {why}.")),
                    )
                }
            };
            out.fields.push(Field {
                c_name: m.name.clone(),
                name: field_name,
                ty,
                offset,
                note,
            });
            cur = offset + size;
        }
        if u64::from(c.size) < cur {
            return Err(format!(
                "`{owner}`: members end at byte {cur}, past its size {}",
                c.size
            ));
        }
        pad(&mut out.fields, &mut scope, cur, u64::from(c.size));
        Ok(out)
    }

    /// An integer member whose BTF INT has fewer bits than bytes (old-style bitfield
    /// encoding, without `kind_flag`).
    fn is_legacy_bitfield(&self, id: TypeId) -> bool {
        matches!(self.get(id).map(|t| &t.kind),
            Ok(TypeKind::Int { size, bits, offset, .. }) if u32::from(*bits) != size * 8 || *offset != 0)
    }

    fn bit_width(&self, id: TypeId, bitfield_size: u32) -> Result<u32, String> {
        if bitfield_size != 0 {
            return Ok(bitfield_size);
        }
        match self.get(id).map(|t| &t.kind)? {
            TypeKind::Int { bits, .. } => Ok(u32::from(*bits)),
            _ => Err(format!("type id {} is not a bitfield", id.0)),
        }
    }

    /// The size and Rust alignment of type `id`, naming nothing: what layouts are
    /// computed from. A type Rust cannot hold is a byte array (alignment 1).
    fn size_align(&mut self, id: TypeId, depth: usize) -> Result<(u64, u64), String> {
        if depth > MAX_DEPTH {
            return Err(format!("type id {} nests too deep (a loop?)", id.0));
        }
        let t = self.get(id)?;
        let scalar = |size: u32| (u64::from(size), u64::from(size).clamp(1, 16));
        match &t.kind {
            TypeKind::Int { size, .. } | TypeKind::Float { size } => Ok(scalar(*size)),
            TypeKind::Enum(e) | TypeKind::Enum64(e) => Ok(scalar(e.size)),
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                let (_, align) = self.layout(id, depth + 1)?;
                Ok((u64::from(c.size), align))
            }
            TypeKind::Ptr(_) => Ok((8, 8)),
            TypeKind::Array { elem, nelems, .. } => {
                let (size, align) = self.size_align(*elem, depth + 1)?;
                Ok((size * u64::from(*nelems), align))
            }
            TypeKind::Typedef(t)
            | TypeKind::Volatile(t)
            | TypeKind::Const(t)
            | TypeKind::Restrict(t)
            | TypeKind::TypeTag { target: t, .. } => self.size_align(*t, depth + 1),
            _ => Err(format!("type id {} ({}) has no size", id.0, t.name)),
        }
    }

    fn define_union(
        &mut self,
        id: TypeId,
        name: &str,
        c_name: &str,
        c: &Composite,
    ) -> Result<(), String> {
        let (packed, align) = self.layout(id, 0)?;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "/// {} of the object's BTF (type id {}), {} bytes: its bytes, each member",
            Self::c_name("union", c_name),
            id.0,
            c.size
        );
        let _ = writeln!(o, "/// read and set through its methods.");
        // The alignment comes from an empty array of an integer that wide, not from
        // `repr(align)`: a packed struct may hold the former, never the latter.
        let align_ty = match align {
            _ if packed => None,
            2 => Some("u16"),
            4 => Some("u32"),
            8 => Some("u64"),
            16 => Some("u128"),
            _ => None,
        };
        write_pod_header(&mut o, "C");
        let _ = writeln!(o, "pub struct {name} {{");
        let _ = writeln!(o, "    /// The union's bytes.");
        let _ = writeln!(o, "    pub bytes: [u8; {}],", c.size);
        if let Some(t) = align_ty {
            let _ = writeln!(
                o,
                "    /// Gives the union its C alignment ({align}); holds nothing."
            );
            let _ = writeln!(o, "    pub __align: [{t}; 0],");
        }
        let _ = writeln!(o, "}}");
        write_default(&mut o, name);
        let field = Field {
            c_name: String::new(),
            name: "bytes".into(),
            ty: String::new(),
            offset: 0,
            note: None,
        };
        write_asserts(
            &mut o,
            name,
            u64::from(c.size),
            std::slice::from_ref(&field),
        );
        if align_ty.is_some() {
            let _ = writeln!(
                o,
                "const _: () = assert!(::core::mem::align_of::<{name}>() == {align});"
            );
        }
        let mut methods = Scope::default();
        methods.claim("bytes");
        let mut body = String::new();
        for (index, m) in c.members.iter().enumerate() {
            let member = if m.name.is_empty() {
                format!("__anon_{index}")
            } else {
                ident(&m.name)
            };
            let hint = NameHint(format!(
                "{name}__{}",
                member.trim_start_matches("r#").trim_start_matches('_')
            ));
            if m.bitfield_size != 0 || self.is_legacy_bitfield(m.ty) {
                let ty = self.rust_type(m.ty, &hint)?;
                write_bitfield_accessors(
                    &mut body,
                    &Bitfield {
                        field: "bytes".into(),
                        name: methods.claim(&member),
                        shift: u64::from(m.bit_offset),
                        width: self.bit_width(m.ty, m.bitfield_size)?,
                        ty,
                    },
                );
                continue;
            }
            let Ok(ty) = self.rust_type(m.ty, &hint) else {
                continue; // no Rust value: the bytes are there
            };
            if m.bit_offset % 8 != 0 {
                continue;
            }
            let start = u64::from(m.bit_offset) / 8;
            let getter = methods.claim(&member);
            let setter = methods.claim(&format!("set_{}", member.trim_start_matches("r#")));
            let _ = writeln!(
                body,
                "    /// Member `{}` (bytes {start}..{}).",
                m.name,
                start + ty.size
            );
            let _ = writeln!(body, "    pub fn {getter}(&self) -> {} {{", ty.text);
            let _ = writeln!(
                body,
                "        oxbpf::skel::bytemuck::pod_read_unaligned(&self.bytes[{start}..{}])",
                start + ty.size
            );
            let _ = writeln!(body, "    }}");
            let _ = writeln!(body, "    /// Sets member `{}`.", m.name);
            let _ = writeln!(
                body,
                "    pub fn {setter}(&mut self, value: {}) {{",
                ty.text
            );
            let _ = writeln!(
                body,
                "        self.bytes[{start}..{}].copy_from_slice(oxbpf::skel::bytemuck::bytes_of(&value));",
                start + ty.size
            );
            let _ = writeln!(body, "    }}");
        }
        if !body.is_empty() {
            let _ = writeln!(o, "impl {name} {{\n{body}}}");
        }
        self.out.push_str(&o);
        self.out.push('\n');
        Ok(())
    }

    fn define_enum(&mut self, name: &str, c_name: &str, e: &EnumDef) {
        let int = int_text(e.size, e.signed).unwrap_or("u32");
        let mut o = String::new();
        let _ = writeln!(
            o,
            "/// {} of the object's BTF: any {int} the program stores, with a constant per enumerator.",
            Self::c_name("enum", c_name),
        );
        write_pod_header(&mut o, "transparent");
        let _ = writeln!(o, "pub struct {name}(pub {int});");
        write_default(&mut o, name);
        let mut consts = Scope::default();
        let mut names = Vec::new();
        let _ = writeln!(o, "impl {name} {{");
        for (n, v) in &e.values {
            let konst = consts.claim(&ident(n));
            let value = enum_value(*v, e.size, e.signed);
            let _ = writeln!(o, "    /// `{n}`.");
            let _ = writeln!(o, "    pub const {konst}: {name} = {name}({value});");
            names.push((konst, n.clone()));
        }
        let _ = writeln!(o, "    /// The enumerator's name, if the value is one.");
        let _ = writeln!(o, "    pub fn name(self) -> Option<&'static str> {{");
        let _ = writeln!(o, "        match self {{");
        let mut seen = std::collections::HashSet::new();
        for (konst, n) in &names {
            // Two enumerators of one value: the first names it.
            if seen.insert(konst.clone()) {
                let _ = writeln!(o, "            {name}::{konst} => Some({n:?}),");
            }
        }
        let _ = writeln!(o, "            _ => None,");
        let _ = writeln!(o, "        }}");
        let _ = writeln!(o, "    }}");
        let _ = writeln!(o, "}}");
        let _ = writeln!(
            o,
            "const _: () = assert!(::core::mem::size_of::<{name}>() == {});",
            e.size
        );
        self.out.push_str(&o);
        self.out.push('\n');
    }
}

/// `#[repr(...)]` and the derives every generated type has.
pub(crate) fn write_pod_header(o: &mut String, repr: &str) {
    let _ = writeln!(o, "#[repr({repr})]");
    let _ = writeln!(
        o,
        "#[derive(Clone, Copy, Debug, PartialEq, oxbpf::skel::bytemuck::Pod, oxbpf::skel::bytemuck::Zeroable)]"
    );
    let _ = writeln!(o, "#[bytemuck(crate = \"oxbpf::skel::bytemuck\")]");
}

/// `Default` as all zeroes (derive(Default) stops at arrays of 32).
fn write_default(o: &mut String, name: &str) {
    let _ = writeln!(
        o,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        oxbpf::skel::bytemuck::Zeroable::zeroed()\n    }}\n}}"
    );
}

/// The compile-time checks of the layout against the BTF: the size, and each field's
/// offset.
fn write_asserts(o: &mut String, name: &str, size: u64, fields: &[Field]) {
    let _ = writeln!(o, "const _: () = {{");
    let _ = writeln!(
        o,
        "    assert!(::core::mem::size_of::<{name}>() == {size});"
    );
    for f in fields {
        let _ = writeln!(
            o,
            "    assert!(::core::mem::offset_of!({name}, {}) == {});",
            f.name, f.offset
        );
    }
    let _ = writeln!(o, "}};");
}

fn write_bitfield_accessors(o: &mut String, b: &Bitfield) {
    let (field, shift, width, ty) = (&b.field, b.shift, b.width, &b.ty.text);
    let name = &b.name;
    let bare = name.trim_start_matches("r#");
    let signed = b.ty.signed;
    let read = format!("oxbpf::skel::bitfield(&self.{field}, {shift}, {width}, {signed})");
    let (get, raw) = match b.ty.enum_int {
        Some(int) => (format!("{ty}({read} as {int})"), "value.0 as u64"),
        None => (format!("{read} as {ty}"), "value as u64"),
    };
    let _ = writeln!(o, "    /// Bitfield `{bare}` ({width} bits).");
    let _ = writeln!(
        o,
        "    pub fn {name}(&self) -> {ty} {{\n        {get}\n    }}"
    );
    let _ = writeln!(o, "    /// Sets bitfield `{bare}` (its low {width} bits).");
    let _ = writeln!(o, "    pub fn set_{bare}(&mut self, value: {ty}) {{");
    let _ = writeln!(
        o,
        "        oxbpf::skel::set_bitfield(&mut self.{field}, {shift}, {width}, {raw});\n    }}"
    );
}

fn pad(fields: &mut Vec<Field>, scope: &mut Scope, from: u64, to: u64) {
    if to > from {
        fields.push(Field {
            c_name: String::new(),
            name: scope.claim(&format!("__pad_{from}")),
            ty: format!("[u8; {}]", to - from),
            offset: from,
            note: Some("Padding the C compiler put here.".into()),
        });
    }
}

fn int_text(size: u32, signed: bool) -> Option<&'static str> {
    Some(match (size, signed) {
        (1, true) => "i8",
        (1, false) => "u8",
        (2, true) => "i16",
        (2, false) => "u16",
        (4, true) => "i32",
        (4, false) => "u32",
        (8, true) => "i64",
        (8, false) => "u64",
        (16, true) => "i128",
        (16, false) => "u128",
        _ => return None,
    })
}

/// An enumerator's value as a literal of the enum's integer type.
fn enum_value(v: u64, size: u32, signed: bool) -> String {
    let bits = size * 8;
    if signed {
        // Sign-extend from the enum's width.
        let shift = 64 - bits;
        let s = ((v << shift) as i64) >> shift;
        s.to_string()
    } else if bits < 64 {
        (v & ((1u64 << bits) - 1)).to_string()
    } else {
        v.to_string()
    }
}

#[derive(Debug, Default)]
struct Fields {
    fields: Vec<Field>,
    bitfields: Vec<Bitfield>,
}

#[derive(Debug)]
struct Field {
    /// The C member's name.
    c_name: String,
    name: String,
    ty: String,
    offset: u64,
    note: Option<String>,
}

#[derive(Debug)]
struct Bitfield {
    /// The byte-array field holding it.
    field: String,
    name: String,
    /// Bit position in that array (little-endian numbering).
    shift: u64,
    width: u32,
    ty: RustType,
}
