//! Naming a program or map in the kernel as bpftool does: `ID` or `id ID`, `name NAME`,
//! `tag TAG` (programs), `pinned PATH`, or a bare name or pinned path. A name or tag
//! several objects share names them all: the caller lists them, never picks one.

use std::path::PathBuf;

use oxbpf_loader::inventory::{self, IdKind, InventoryError, Pinned};
use oxbpf_loader::uapi::name_str;

use crate::CliError;
use crate::cmd::kernel::tag_hex;

/// What the user named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    /// `ID`, `id ID`.
    Id(u32),
    /// `name NAME`, or a bare word.
    Name(String),
    /// `tag TAG` (programs).
    Tag(String),
    /// `pinned PATH`, or a bare absolute path.
    Pinned(PathBuf),
}

impl Spec {
    /// Reads `words` (one or two).
    pub fn parse(words: &[String]) -> Result<Spec, CliError> {
        Ok(match words {
            [k, v] if k == "id" => {
                Spec::Id(v.parse().map_err(|_| format!("id {v}: not a number"))?)
            }
            [k, v] if k == "name" => Spec::Name(v.clone()),
            [k, v] if k == "tag" => Spec::Tag(v.to_ascii_lowercase()),
            [k, v] if k == "pinned" => Spec::Pinned(v.into()),
            [w] => match w.parse() {
                Ok(id) => Spec::Id(id),
                Err(_) if w.starts_with('/') => Spec::Pinned(w.into()),
                Err(_) => Spec::Name(w.clone()),
            },
            _ => {
                return Err(format!(
                    "`{}`: give ID, id ID, name NAME, tag TAG or pinned PATH",
                    words.join(" ")
                )
                .into());
            }
        })
    }
}

/// Whether the kernel's (15-character) name `have` is what the user wrote.
fn name_matches(have: &str, want: &str) -> bool {
    have == want || (want.len() > 15 && have.len() == 15 && want.starts_with(have))
}

/// The ids of every object of `kind` `keep` accepts (objects gone meanwhile skipped).
fn matching<T>(
    kind: IdKind,
    describe: impl Fn(u32) -> Result<T, InventoryError>,
    keep: impl Fn(&T) -> bool,
) -> Result<Vec<u32>, CliError> {
    let mut out = Vec::new();
    for id in inventory::ids(kind)? {
        match describe(id) {
            Ok(d) if keep(&d) => out.push(id),
            Ok(_) | Err(InventoryError::NoSuchId { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The programs `spec` names (at least one).
pub fn prog_ids(spec: &Spec) -> Result<Vec<u32>, CliError> {
    let ids = match spec {
        Spec::Id(id) => return Ok(vec![*id]),
        Spec::Pinned(path) => match inventory::pinned(path)? {
            Pinned::Program(d) => return Ok(vec![d.info.id]),
            _ => return Err(format!("{}: not a pinned program", path.display()).into()),
        },
        Spec::Name(name) => matching(IdKind::Prog, inventory::program, |d| {
            name_matches(&name_str(&d.info.name), name)
        })?,
        Spec::Tag(tag) => matching(IdKind::Prog, inventory::program, |d| {
            tag_hex(&d.info.tag) == *tag
        })?,
    };
    if ids.is_empty() {
        return Err(match spec {
            Spec::Tag(t) => format!("no program with tag {t}"),
            Spec::Name(n) => {
                format!("no program named `{n}` (names are cut to 15 characters by the kernel)")
            }
            _ => unreachable!("handled above"),
        }
        .into());
    }
    Ok(ids)
}

/// The maps `spec` names (at least one).
pub fn map_ids(spec: &Spec) -> Result<Vec<u32>, CliError> {
    let ids = match spec {
        Spec::Id(id) => return Ok(vec![*id]),
        Spec::Pinned(path) => match inventory::pinned(path)? {
            Pinned::Map(i) => return Ok(vec![i.id]),
            _ => return Err(format!("{}: not a pinned map", path.display()).into()),
        },
        Spec::Tag(_) => return Err("maps have no tag: give id, name or pinned".into()),
        Spec::Name(name) => matching(IdKind::Map, inventory::map_info, |i| {
            name_matches(&name_str(&i.name), name)
        })?,
    };
    if ids.is_empty() {
        if let Spec::Name(n) = spec {
            return Err(format!(
                "no map named `{n}` (names are cut to 15 characters by the kernel)"
            )
            .into());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn every_form_bpftool_takes_is_read() {
        assert_eq!(Spec::parse(&words(&["42"])).unwrap(), Spec::Id(42));
        assert_eq!(Spec::parse(&words(&["id", "42"])).unwrap(), Spec::Id(42));
        assert_eq!(
            Spec::parse(&words(&["name", "42"])).unwrap(),
            Spec::Name("42".into())
        );
        assert_eq!(
            Spec::parse(&words(&["tag", "5C812D10A09B7DC9"])).unwrap(),
            Spec::Tag("5c812d10a09b7dc9".into())
        );
        assert_eq!(
            Spec::parse(&words(&["pinned", "x"])).unwrap(),
            Spec::Pinned("x".into())
        );
        assert_eq!(
            Spec::parse(&words(&["/sys/fs/bpf/m"])).unwrap(),
            Spec::Pinned("/sys/fs/bpf/m".into())
        );
        assert_eq!(
            Spec::parse(&words(&["counts"])).unwrap(),
            Spec::Name("counts".into())
        );
        assert_eq!(
            Spec::parse(&words(&["id", "x"])).unwrap_err().to_string(),
            "id x: not a number"
        );
        assert!(Spec::parse(&words(&["a", "b", "c"])).is_err());
        assert!(name_matches("packets_per_pro", "packets_per_proto"));
        assert!(!name_matches("packets", "packets_per_proto"));
    }
}
