//! Access specs: what a CO-RE record's access string means in terms of types, fields
//! and array indices (libbpf `bpf_core_parse_spec`).
//!
//! clang writes each relocated access as a root type and a colon-separated list of
//! indices. For
//!
//! ```c
//! struct sample { int unimportant; struct { int x; int y; int a[7]; }; };
//! struct sample *s = ...;
//! int *p = &s->a[3];      // access string "0:1:2:3"
//! ```
//!
//! the *raw* spec is `[0, 1, 2, 3]`: `s[0]`, member 1 (the anonymous struct), its
//! member 2 (`a`), element 3. The *high-level* spec keeps only the points that carry
//! meaning across kernels: the initial `s[0]`, the named field `a`, the index `[3]`;
//! anonymous members only add to the bit offset. Matching against a target type walks
//! the high-level spec, finding each named field wherever it now lives.

use super::{CoreError, CoreReloKind};
use crate::btf::{Btf, BtfError, BtfType, Kind, TypeId};

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`: the longest access string accepted.
pub const MAX_SPEC_LEN: usize = 64;

/// One high-level step: a named field of a struct/union, or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accessor {
    /// The struct/union holding the field, or the array's element type.
    pub type_id: TypeId,
    /// Member index, or array index (for enum relocations, the enumerator index).
    pub idx: u32,
    /// The field's (or enumerator's) name; `None` for array indices.
    pub name: Option<String>,
}

/// A parsed access string, against one BTF (local or a candidate target).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreSpec {
    /// The type the access starts from.
    pub root_type_id: TypeId,
    /// What kind of relocation this is a spec for.
    pub kind: CoreReloKind,
    /// High-level accessors (named fields and array indices).
    pub accessors: Vec<Accessor>,
    /// Raw spec: one index per access-string element (target specs include the
    /// anonymous members traversed).
    pub raw: Vec<u32>,
    /// Offset of the accessed field from the start of the root, in bits.
    pub bit_offset: u32,
}

impl CoreSpec {
    pub(super) fn empty(root_type_id: TypeId, kind: CoreReloKind) -> CoreSpec {
        CoreSpec {
            root_type_id,
            kind,
            accessors: Vec::new(),
            raw: Vec::new(),
            bit_offset: 0,
        }
    }

    /// C-like text: `struct task_struct.real_parent` or `enum pid_type::PIDTYPE_PGID`.
    pub fn describe(&self, btf: &Btf) -> String {
        let root = btf.type_by_id(self.root_type_id).ok();
        let mut s = match &root {
            Some(t) => {
                let name = t.name().unwrap_or("?");
                let name = if name.is_empty() { "<anon>" } else { name };
                match t.kind() {
                    Kind::Struct => format!("struct {name}"),
                    Kind::Union => format!("union {name}"),
                    Kind::Enum | Kind::Enum64 => format!("enum {name}"),
                    Kind::Typedef => name.to_string(),
                    k => format!("{} {name}", k.name().to_ascii_lowercase()),
                }
            }
            None => format!("type {}", self.root_type_id),
        };
        if self.kind.is_enumval_based() {
            if let Some(a) = self.accessors.first() {
                s.push_str("::");
                s.push_str(a.name.as_deref().unwrap_or("?"));
            }
        } else if self.kind.is_field_based() {
            for (i, a) in self.accessors.iter().enumerate() {
                match &a.name {
                    Some(n) => {
                        s.push('.');
                        s.push_str(n);
                    }
                    None if i > 0 || a.idx > 0 => s.push_str(&format!("[{}]", a.idx)),
                    None => {}
                }
            }
        }
        s
    }

    /// The raw indices as an access string, `0:1:2`.
    pub fn raw_string(&self) -> String {
        self.raw
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// Whether `arr`, reached through accessor `acc`, is a flexible array member (`T x[]`
/// as the last field of a struct), whose indices may exceed its declared length.
pub(super) fn is_flex_arr(btf: &Btf, acc: Option<&Accessor>, nelems: u32) -> bool {
    let Some(acc) = acc else { return false };
    if acc.name.is_none() || nelems > 0 {
        return false;
    }
    btf.type_by_id(acc.type_id)
        .is_ok_and(|t| acc.idx + 1 == t.vlen())
}

/// Parses the access string of a record against the local (object's) BTF.
///
/// # Errors
/// [`CoreError::BadSpec`] for a malformed access string or one that does not fit the
/// type; BTF errors for bad ids.
pub fn parse_spec(
    btf: &Btf,
    root: TypeId,
    access: &str,
    kind: CoreReloKind,
) -> Result<CoreSpec, CoreError> {
    let bad = |why: &str| CoreError::BadSpec {
        access: access.to_string(),
        why: why.to_string(),
    };
    if access.is_empty() || access.starts_with(':') {
        return Err(bad("empty access string"));
    }
    let mut spec = CoreSpec::empty(root, kind);
    if kind.is_type_based() {
        return if access == "0" {
            Ok(spec)
        } else {
            Err(bad("type relocations take the access string \"0\""))
        };
    }
    for part in access.split(':') {
        if spec.raw.len() == MAX_SPEC_LEN {
            return Err(bad("longer than 64 accesses"));
        }
        let idx: u32 = part.parse().map_err(|_| bad("not a list of numbers"))?;
        spec.raw.push(idx);
    }
    let t = btf.skip_mods_and_typedefs(root)?;
    let mut id = t.id();
    let first = spec.raw[0];
    spec.accessors.push(Accessor {
        type_id: id,
        idx: first,
        name: None,
    });

    if kind.is_enumval_based() {
        let name = enumerator_name(&t, &spec.raw, bad)?;
        spec.accessors[0].name = Some(name);
        return Ok(spec);
    }

    let size = btf.size_of(id)?;
    spec.bit_offset = bits(u64::from(first) * size * 8, access)?;
    for i in 1..spec.raw.len() {
        let t = btf.skip_mods_and_typedefs(id)?;
        id = t.id();
        let idx = spec.raw[i];
        match t.kind() {
            Kind::Struct | Kind::Union => {
                let m = t
                    .members()?
                    .nth(idx as usize)
                    .ok_or_else(|| bad("member index out of range"))??;
                spec.bit_offset =
                    bits(u64::from(spec.bit_offset) + u64::from(m.bit_offset), access)?;
                if !m.name.is_empty() {
                    spec.accessors.push(Accessor {
                        type_id: id,
                        idx,
                        name: Some(m.name.to_string()),
                    });
                }
                id = m.type_id;
            }
            Kind::Array => {
                let a = t.array()?;
                let elem = btf.skip_mods_and_typedefs(a.elem_type)?.id();
                if !is_flex_arr(btf, spec.accessors.last(), a.nelems) && idx >= a.nelems {
                    return Err(bad("array index out of range"));
                }
                spec.accessors.push(Accessor {
                    type_id: elem,
                    idx,
                    name: None,
                });
                let size = btf.size_of(elem)?;
                spec.bit_offset = bits(
                    u64::from(spec.bit_offset) + u64::from(idx) * size * 8,
                    access,
                )?;
                id = elem;
            }
            k => {
                return Err(bad(&format!(
                    "access {i} lands in a {}, which has no members or elements",
                    k.name()
                )));
            }
        }
    }
    Ok(spec)
}

/// The enumerator an enum value relocation names: the access string is one index into
/// the enum's values; `bad` makes the error for one that is not.
fn enumerator_name(
    t: &BtfType<'_>,
    raw: &[u32],
    bad: impl Fn(&str) -> CoreError,
) -> Result<String, CoreError> {
    let (&[first], Kind::Enum | Kind::Enum64) = (raw, t.kind()) else {
        return Err(bad(
            "enum value relocations need an enum and one enumerator index",
        ));
    };
    if first >= t.vlen() {
        return Err(bad(
            "enum value relocations need an enum and one enumerator index",
        ));
    }
    let e = t
        .enumerators()?
        .nth(first as usize)
        .ok_or_else(|| bad("enumerator index out of range"))??;
    Ok(e.name.to_string())
}

fn bits(v: u64, access: &str) -> Result<u32, CoreError> {
    u32::try_from(v).map_err(|_| CoreError::BadSpec {
        access: access.to_string(),
        why: "offset overflows".into(),
    })
}

impl From<BtfError> for CoreError {
    fn from(e: BtfError) -> CoreError {
        CoreError::Btf(e)
    }
}
