//! C names as Rust identifiers: BTF names are C's (`type`, `match` and `self` are fine
//! there), map and section names may hold `.`, anonymous types have none.

use std::collections::HashSet;

/// Rust's keywords, strict and reserved, in every edition: each becomes a raw
/// identifier (`r#type`).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers: these get a `_` appended.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Type names a local item would shadow (a `struct u32` in the BTF must not turn every
/// other `u32` of the module into it).
const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64",
];

/// `name` as a Rust identifier: characters other than ASCII letters, digits and `_`
/// become `_`, a leading digit gets a `_` before it, keywords become raw identifiers
/// (or get a `_` where Rust allows no raw form), an empty name is `_anon`.
pub fn ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        return "_anon".into();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if NOT_RAW.contains(&s.as_str()) {
        s.push('_');
    } else if KEYWORDS.contains(&s.as_str()) {
        s.insert_str(0, "r#");
    }
    s
}

/// `name` as a Rust type name: as [`ident`], and never a primitive type's name.
pub fn type_ident(name: &str) -> String {
    let s = ident(name);
    if PRIMITIVES.contains(&s.as_str()) {
        format!("{s}_")
    } else {
        s
    }
}

/// Names given out in one scope (a module's types, a struct's fields): a name taken
/// already gets `_2`, `_3`... in the order asked, so the output is the same each run.
#[derive(Debug, Default)]
pub struct Scope {
    taken: HashSet<String>,
}

impl Scope {
    /// `base` (already an identifier), or the first free `base_N`.
    pub fn claim(&mut self, base: &str) -> String {
        if self.taken.insert(base.to_string()) {
            return base.to_string();
        }
        // A raw identifier with a suffix is no longer a keyword.
        let stem = base.strip_prefix("r#").unwrap_or(base);
        (2..)
            .map(|n| format!("{stem}_{n}"))
            .find(|candidate| self.taken.insert(candidate.clone()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_names_become_identifiers_rust_accepts() {
        assert_eq!(ident("pid"), "pid");
        assert_eq!(ident("type"), "r#type");
        assert_eq!(ident("match"), "r#match");
        assert_eq!(ident("self"), "self_");
        assert_eq!(ident("Self"), "Self_");
        assert_eq!(ident(".rodata"), "_rodata");
        assert_eq!(ident("data.foo"), "data_foo");
        assert_eq!(ident("3d"), "_3d");
        assert_eq!(ident(""), "_anon");
        assert_eq!(type_ident("u32"), "u32_");
        assert_eq!(type_ident("event"), "event");
    }

    #[test]
    fn a_name_taken_twice_gets_a_number() {
        let mut scope = Scope::default();
        assert_eq!(scope.claim("config"), "config");
        assert_eq!(scope.claim("config"), "config_2");
        assert_eq!(scope.claim("config_2"), "config_2_2");
        assert_eq!(scope.claim("r#type"), "r#type");
        assert_eq!(scope.claim("r#type"), "type_2");
    }
}
