//! Edits of an opened object before it is loaded: what libbpf does with
//! `bpf_map__set_max_entries`, `bpf_map__set_autocreate`, `bpf_program__set_type`,
//! `bpf_program__set_autoload` and a skeleton's `rodata->var = ...`, done here on the
//! spec itself. Loading borrows the spec, so an edited spec can be loaded again.
//!
//! An edit naming a map, program or variable the object lacks is an error that lists
//! the names it has: a typo must not be silently ignored.

use crate::object::{MapSpec, Object, ProgramSpec};

/// An edit the object cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// No map of that name (the object's maps are listed).
    #[error("{object}: no map `{name}`; its maps: {}", list(known))]
    NoSuchMap {
        /// The object.
        object: String,
        /// The name asked for.
        name: String,
        /// The maps it has.
        known: Vec<String>,
    },
    /// No program of that name (the object's programs are listed).
    #[error("{object}: no program `{name}`; its programs: {}", list(known))]
    NoSuchProgram {
        /// The object.
        object: String,
        /// The name asked for.
        name: String,
        /// The programs it has.
        known: Vec<String>,
    },
    /// No global variable of that name in `.data`, `.rodata`, `.bss` (or their
    /// `.name` variants).
    #[error("{object}: no global variable `{name}`; its globals: {}", list(known))]
    NoSuchGlobal {
        /// The object.
        object: String,
        /// The name asked for.
        name: String,
        /// The variables it has.
        known: Vec<String>,
    },
    /// A value of another size than the variable's.
    #[error("global variable `{name}` is {size} bytes, the value given is {given}")]
    GlobalSize {
        /// The variable.
        name: String,
        /// Its size.
        size: u64,
        /// The value's.
        given: usize,
    },
    /// The variable lies outside its section (a malformed object).
    #[error("global variable `{name}` at {offset}+{size} lies outside {section}")]
    GlobalOutside {
        /// The variable.
        name: String,
        /// Its section.
        section: String,
        /// Its offset.
        offset: u64,
        /// Its size.
        size: u64,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

impl Object {
    /// The map named `name`, to edit before load (`max_entries`, `value_size`,
    /// `autocreate`, ...).
    ///
    /// # Errors
    /// [`EditError::NoSuchMap`], listing the maps the object has.
    pub fn map_mut(&mut self, name: &str) -> Result<&mut MapSpec, EditError> {
        match self.maps.iter().position(|m| m.name == name) {
            Some(i) => Ok(&mut self.maps[i]),
            None => Err(EditError::NoSuchMap {
                object: self.name.clone(),
                name: name.to_string(),
                known: self.maps.iter().map(|m| m.name.clone()).collect(),
            }),
        }
    }

    /// The program named `name`, to edit before load (`prog_type`, `autoload`, ...).
    ///
    /// # Errors
    /// [`EditError::NoSuchProgram`], listing the programs the object has.
    pub fn program_mut(&mut self, name: &str) -> Result<&mut ProgramSpec, EditError> {
        match self.programs.iter().position(|p| p.name() == name) {
            Some(i) => Ok(&mut self.programs[i]),
            None => Err(self.no_such_program(name)),
        }
    }

    fn no_such_program(&self, name: &str) -> EditError {
        EditError::NoSuchProgram {
            object: self.name.clone(),
            name: name.to_string(),
            known: self.programs.iter().map(|p| p.name().to_string()).collect(),
        }
    }

    /// Loads exactly the programs named (`?` sections included) and no other: each
    /// program's `autoload` becomes whether it is named.
    ///
    /// # Errors
    /// [`EditError::NoSuchProgram`] for the first name the object lacks; nothing is
    /// changed then.
    pub fn load_only<S: AsRef<str>>(&mut self, names: &[S]) -> Result<(), EditError> {
        if let Some(n) = names
            .iter()
            .find(|n| !self.programs.iter().any(|p| p.name() == n.as_ref()))
        {
            return Err(self.no_such_program(n.as_ref()));
        }
        for p in &mut self.programs {
            p.autoload = names.iter().any(|n| n.as_ref() == p.name());
        }
        Ok(())
    }

    /// Sets the initial value of global variable `name` (`.rodata`, `.data`, `.bss`):
    /// what a libbpf skeleton's `skel->rodata->name = value` does before load. `value`
    /// is the variable's bytes in the object's byte order
    /// ([`crate::globals::encode_global`] makes them from text).
    ///
    /// # Errors
    /// No such variable, or a value of another size.
    pub fn set_global(&mut self, name: &str, value: &[u8]) -> Result<(), EditError> {
        let Some((section, symbol)) = self.data.iter_mut().find_map(|d| {
            let s = d.symbols.iter().find(|s| s.name == name)?.clone();
            Some((d, s))
        }) else {
            return Err(EditError::NoSuchGlobal {
                object: self.name.clone(),
                name: name.to_string(),
                known: self
                    .data
                    .iter()
                    .flat_map(|d| d.symbols.iter().map(|s| s.name.clone()))
                    .collect(),
            });
        };
        if value.len() as u64 != symbol.size {
            return Err(EditError::GlobalSize {
                name: name.to_string(),
                size: symbol.size,
                given: value.len(),
            });
        }
        let outside = || EditError::GlobalOutside {
            name: name.to_string(),
            section: section.name.clone(),
            offset: symbol.offset,
            size: symbol.size,
        };
        let start = usize::try_from(symbol.offset).map_err(|_| outside())?;
        let end = start.checked_add(value.len()).ok_or_else(outside)?;
        if end as u64 > section.size {
            return Err(outside());
        }
        // `.bss` has no bytes in the file: it becomes explicit zeroes once one of its
        // variables is set.
        if section.bytes.len() < end {
            let size = usize::try_from(section.size).map_err(|_| outside())?;
            section.bytes.resize(size, 0);
        }
        section.bytes[start..end].copy_from_slice(value);
        log::debug!("global `{name}` in {} set to {value:02x?}", section.name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bootstrap() -> Object {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/bootstrap.bpf.o");
        let bytes = std::fs::read(path).unwrap();
        Object::parse("bootstrap.bpf.o", &bytes).unwrap()
    }

    #[test]
    fn edits_naming_what_the_object_lacks_are_errors_listing_what_it_has() {
        let mut obj = bootstrap();
        let e = obj.map_mut("nosuch").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bootstrap.bpf.o: no map `nosuch`; its maps: exec_start, rb"
        );
        let e = obj.program_mut("nosuch").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("bootstrap.bpf.o: no program `nosuch`; its programs: "),
            "{e}"
        );
        let e = obj.load_only(&["handle_exec", "nosuch"]).unwrap_err();
        assert!(matches!(e, EditError::NoSuchProgram { ref name, .. } if name == "nosuch"));
        assert!(
            obj.programs.iter().all(|p| p.autoload),
            "a failed edit changes nothing"
        );
        let e = obj.set_global("nosuch", &[0; 8]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bootstrap.bpf.o: no global variable `nosuch`; its globals: min_duration_ns, unused_event"
        );
    }

    #[test]
    fn edits_change_the_spec() {
        let mut obj = bootstrap();
        obj.map_mut("rb").unwrap().max_entries = 4096;
        assert_eq!(
            obj.maps
                .iter()
                .find(|m| m.name == "rb")
                .unwrap()
                .max_entries,
            4096
        );
        obj.load_only(&["handle_exit"]).unwrap();
        let on: Vec<&str> = obj
            .programs
            .iter()
            .filter(|p| p.autoload)
            .map(|p| p.name())
            .collect();
        assert_eq!(on, ["handle_exit"]);
        let e = obj.set_global("min_duration_ns", &[1; 4]).unwrap_err();
        assert_eq!(
            e,
            EditError::GlobalSize {
                name: "min_duration_ns".into(),
                size: 8,
                given: 4
            }
        );
        obj.set_global("min_duration_ns", &7u64.to_ne_bytes())
            .unwrap();
        let rodata = obj.data.iter().find(|d| d.name == ".rodata").unwrap();
        assert_eq!(rodata.bytes[..8], 7u64.to_ne_bytes());
    }
}
