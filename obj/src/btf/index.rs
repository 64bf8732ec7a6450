//! The name index: type ids by *essential* name (the part before a `___` flavor), in one
//! open-addressing table of `u32`s.
//!
//! Keying by essential name serves both exact lookups (`find`: the chain of a name holds
//! every flavor of it, filtered by the caller) and CO-RE candidate search, which matches
//! `task_struct___old` against `task_struct`. The table stores only ids — names are read
//! back from the blob on a probe. Each `Btf` keeps two: one for types, filled while the
//! type section is first walked, and one for functions and variables, built on first
//! use; the kernel's 15k named types cost 256 KB.

use super::{Btf, Kind, TypeId, essential_name};

/// An open-addressing table of `(type id, name hash)`; id 0 marks an empty slot.
pub(super) struct NameIndex {
    slots: Vec<(u32, u32)>,
    len: usize,
}

/// FNV-1a (32 bits) of the essential part of the NUL-terminated name at the start of
/// `s`, in one pass: while hashing, remember the hash just before each run of exactly
/// three underscores that has a non-underscore on both sides; the last such run is
/// where the flavor suffix starts (see [`essential_len`]). Returns `None` when `s` has
/// no NUL (a name running off the string section).
pub(super) fn hash_essential(s: &[u8]) -> Option<u32> {
    const BASIS: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let mut h = BASIS;
    let mut before_run = BASIS;
    let mut run = 0u32;
    let mut cut = None;
    for (i, &b) in s.iter().enumerate() {
        if b == 0 {
            return Some(cut.unwrap_or(h));
        }
        if b == b'_' {
            if run == 0 {
                before_run = h;
            }
            run += 1;
        } else {
            // A run of exactly three, not at the start: `X___Y`.
            if run == 3 && i > 3 {
                cut = Some(before_run);
            }
            run = 0;
        }
        h ^= u32::from(b);
        h = h.wrapping_mul(PRIME);
    }
    None
}

/// The same hash for a name given without its NUL.
fn hash_name(name: &str) -> u32 {
    let mut buf = Vec::with_capacity(name.len() + 1);
    buf.extend_from_slice(name.as_bytes());
    buf.push(0);
    // Not a read of input: `buf` ends with the NUL just pushed, so the hash is `Some`.
    hash_essential(&buf).unwrap_or(0)
}

/// Length of the essential part of `name` (libbpf `bpf_core_essential_name_len`): cut
/// at the last `X___Y` where neither X nor Y is an underscore, keeping X.
pub(super) fn essential_len(name: &[u8]) -> usize {
    let n = name.len();
    if n >= 5 {
        for i in (0..=n - 5).rev() {
            if name[i] != b'_' && &name[i + 1..i + 4] == b"___" && name[i + 4] != b'_' {
                return i + 1;
            }
        }
    }
    n
}

impl NameIndex {
    /// An empty index sized for about `n` names.
    pub(super) fn with_capacity(n: usize) -> NameIndex {
        NameIndex {
            slots: vec![(0, 0); (n * 2).max(16).next_power_of_two()],
            len: 0,
        }
    }

    /// Adds `id` under `hash`, doubling the table when it would be over half full.
    pub(super) fn insert(&mut self, id: u32, hash: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            let bigger = vec![(0, 0); self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, bigger);
            for (id, hash) in old.into_iter().filter(|(id, _)| *id != 0) {
                self.place(id, hash);
            }
        }
        self.place(id, hash);
        self.len += 1;
    }

    fn place(&mut self, id: u32, hash: u32) {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].0 != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = (id, hash);
    }

    /// Indexes the named types of `btf` whose kind `wanted` accepts, with one walk over
    /// the type section; `expected` (counted at parse time) sizes the table.
    pub(super) fn build(btf: &Btf, expected: u32, wanted: fn(Kind) -> bool) -> NameIndex {
        let mut index = NameIndex::with_capacity(expected as usize);
        let mut off = 0usize;
        for id in btf.first_id..btf.first_id + btf.count {
            let r = match btf.record_at(TypeId(id), off) {
                Ok(r) => r,
                Err(e) => {
                    // The parse walk checked every record's extent and kind, so a parsed
                    // `Btf` never gets here; if it did, the types after `id` stay out of
                    // the index (their lookups fail) and the reason is logged.
                    log::error!("BTF name index stops: {e}");
                    break;
                }
            };
            off += r.len();
            if r.name_off == 0 || !wanted(r.kind) {
                continue;
            }
            if let Some(h) = btf.name_tail(r.name_off).and_then(hash_essential) {
                index.insert(id, h);
            }
        }
        index
    }

    /// Ids in the chain of `hash`, in probe order.
    fn chain(&self, hash: u32) -> impl Iterator<Item = TypeId> + '_ {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        std::iter::from_fn(move || {
            loop {
                let (id, h) = self.slots[i];
                if id == 0 {
                    return None;
                }
                i = (i + 1) & mask;
                if h == hash {
                    return Some(TypeId(id));
                }
            }
        })
    }

    /// The first id under `name`'s essential name that `pred` accepts.
    pub(super) fn find(&self, name: &str, pred: impl Fn(TypeId) -> bool) -> Option<TypeId> {
        self.chain(hash_name(essential_name(name)))
            .find(|id| pred(*id))
    }

    /// Appends every id whose essential name is `ess`, in id order.
    pub(super) fn find_all(&self, btf: &Btf, ess: &str, out: &mut Vec<TypeId>) {
        let start = out.len();
        for id in self.chain(hash_name(ess)) {
            if btf
                .type_by_id(id)
                .is_ok_and(|t| t.name().is_ok_and(|n| essential_name(n) == ess))
            {
                out.push(id);
            }
        }
        out[start..].sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn essential(name: &[u8]) -> &[u8] {
        &name[..essential_len(name)]
    }

    #[test]
    fn essential_cuts_at_the_last_triple_underscore() {
        assert_eq!(essential(b"task_struct___old"), b"task_struct");
        assert_eq!(essential(b"a___b___c"), b"a___b");
        assert_eq!(essential(b"plain"), b"plain");
        assert_eq!(essential(b"___x"), b"___x");
        assert_eq!(essential(b"a____b"), b"a____b");
        assert_eq!(essential(b"a___"), b"a___");
        assert_eq!(essential_name("task_struct___old"), "task_struct");
        assert_eq!(essential_name("___x"), "___x");
    }

    #[test]
    fn one_pass_hash_agrees_with_hashing_the_essential_name() {
        for name in [
            "task_struct___old",
            "a___b___c",
            "plain",
            "___x",
            "a____b",
            "a___",
            "x___y_",
            "_a___b",
            "",
            "a_b___c__d",
        ] {
            let ess = &name[..essential_len(name.as_bytes())];
            let mut plain = ess.as_bytes().to_vec();
            plain.push(0);
            // Hashing the essential part alone: no cut can be found inside it.
            let mut h: u32 = 0x811c_9dc5;
            for &b in ess.as_bytes() {
                h ^= u32::from(b);
                h = h.wrapping_mul(0x0100_0193);
            }
            let mut full = name.as_bytes().to_vec();
            full.push(0);
            assert_eq!(hash_essential(&full), Some(h), "{name}");
        }
        assert_eq!(hash_essential(b"no nul"), None);
    }
}
