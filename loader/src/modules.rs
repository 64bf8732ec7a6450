//! Kernel modules' BTF: kfuncs, typed `__ksym` variables and tracing attach targets
//! that live in a module rather than in vmlinux (nf_conntrack's kfuncs, a filesystem's
//! functions for fentry). libbpf's rules:
//!
//! - vmlinux is searched first; modules only for a name vmlinux lacks;
//! - an attach target may name its module, `fentry/MODULE:FUNC`, and is then searched
//!   there only;
//! - the kernel is told which BTF object holds the id: for a kfunc call, through an
//!   index into the program's `fd_array` (index 0 stands for vmlinux); for a typed ksym,
//!   through the BTF fd in the second half of its `ld_imm64`; for an attach target,
//!   through `attach_btf_obj_fd`.
//!
//! Module BTF comes from `/sys/kernel/btf/<module>` (split BTF on vmlinux); the fd the
//! kernel needs is found by walking the kernel's BTF objects for the one of that name.

use crate::prelude::*;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use oxbpf_sys::SysError;
use oxbpf_sys::bpf::{self, IdKind};

use crate::btf::{Btf, Kind, TypeId};

/// The modules with BTF under `/sys/kernel/btf`, sorted. Without that directory there
/// is no module BTF to search (libbpf skips modules the same way): empty, and said.
pub fn module_names() -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir("/sys/kernel/btf") {
        Ok(d) => d
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n != "vmlinux")
            .collect(),
        Err(e) => {
            log::debug!("/sys/kernel/btf: {e}; no module BTF to search");
            Vec::new()
        }
    };
    names.sort_unstable();
    names
}

/// CO-RE targets for the running kernel: vmlinux, and the modules' BTF from
/// `/sys/kernel/btf`, read only if a relocation finds no candidate in vmlinux. A module
/// whose BTF is missing or corrupt is skipped with a warning (cilium learned this the
/// hard way: a broken module must not break every load).
pub fn running_kernel_targets(vmlinux: Arc<Btf>) -> crate::core::CoreTargets {
    let modules: crate::core::ModuleSource = Arc::new(|base: &Arc<Btf>| {
        module_names()
            .into_iter()
            .filter_map(|m| match Btf::from_sysfs_module(&m, base.clone()) {
                Ok(b) => Some((m, Arc::new(b))),
                Err(e) => {
                    log::warn!("CO-RE: skipping module {m}: {e}");
                    None
                }
            })
            .collect()
    });
    crate::core::CoreTargets::kernel(vmlinux, Some(modules))
}

/// The BTF of the kernel's loaded modules.
#[derive(Debug, Clone, Default)]
pub struct ModuleBtfs {
    list: Vec<(String, Arc<Btf>)>,
}

impl ModuleBtfs {
    /// Every module under `/sys/kernel/btf`, parsed on `vmlinux`. A module whose BTF
    /// does not parse is skipped with a warning: one broken module must not stop loads
    /// that never use it.
    pub fn read(vmlinux: &Arc<Btf>) -> ModuleBtfs {
        let mut list = Vec::new();
        for n in module_names() {
            match Btf::from_sysfs_module(&n, vmlinux.clone()) {
                Ok(b) => list.push((n, Arc::new(b))),
                Err(e) => log::warn!("module {n}: skipping its BTF: {e}"),
            }
        }
        log::debug!("read the BTF of {} kernel modules", list.len());
        ModuleBtfs { list }
    }

    /// Modules whose BTF the caller has read (for tests, or another machine's kernel).
    pub fn from_list(list: Vec<(String, Arc<Btf>)>) -> ModuleBtfs {
        ModuleBtfs { list }
    }

    /// The module that defines `name` as a `kind`, and its id there: in `module` only
    /// when given, else in every module in name order. Only a module's own types count,
    /// not the vmlinux types its split BTF reaches.
    pub fn find(
        &self,
        name: &str,
        kind: Kind,
        module: Option<&str>,
    ) -> Option<(&str, &Arc<Btf>, TypeId)> {
        self.list
            .iter()
            .filter(|(m, _)| module.is_none_or(|want| want == m))
            .find_map(|(m, btf)| {
                let id = btf.find(name, kind)?;
                (id.0 >= btf.first_id().0).then_some((m.as_str(), btf, id))
            })
    }
}

/// Where kernel names are looked up: vmlinux, then the modules (read on first need).
#[derive(Debug)]
pub struct KernelBtf {
    /// The kernel's own BTF.
    pub vmlinux: Arc<Btf>,
    modules: Option<ModuleBtfs>,
}

/// A kernel name found: the module holding it (`None` for vmlinux), the BTF to read
/// its type in, and its id.
#[derive(Debug, Clone)]
pub struct Found {
    /// The module, or `None` for vmlinux.
    pub module: Option<String>,
    /// The BTF the id belongs to (a module's split BTF reaches vmlinux's types too).
    pub btf: Arc<Btf>,
    /// The id.
    pub id: TypeId,
}

impl KernelBtf {
    /// The running kernel: `vmlinux`, with module BTF read from sysfs when needed.
    pub fn new(vmlinux: Arc<Btf>) -> KernelBtf {
        KernelBtf {
            vmlinux,
            modules: None,
        }
    }

    /// A kernel whose modules' BTF the caller has read.
    pub fn with_modules(vmlinux: Arc<Btf>, modules: ModuleBtfs) -> KernelBtf {
        KernelBtf {
            vmlinux,
            modules: Some(modules),
        }
    }

    /// Finds `name` as a `kind`: in `module` only when one is named, else in vmlinux
    /// and then in the modules.
    pub fn find(&mut self, name: &str, kind: Kind, module: Option<&str>) -> Option<Found> {
        if module.is_none() {
            if let Some(id) = self.vmlinux.find(name, kind) {
                return Some(Found {
                    module: None,
                    btf: self.vmlinux.clone(),
                    id,
                });
            }
        }
        let vmlinux = &self.vmlinux;
        let modules = self
            .modules
            .get_or_insert_with(|| ModuleBtfs::read(vmlinux));
        modules.find(name, kind, module).map(|(m, btf, id)| Found {
            module: Some(m.to_string()),
            btf: btf.clone(),
            id,
        })
    }
}

/// The module BTF fds a load needs, opened once each, in `fd_array` order.
#[derive(Debug, Default)]
pub struct ModuleFds {
    fds: Vec<(String, OwnedFd)>,
}

impl ModuleFds {
    /// The `fd_array` index of `module`'s BTF (1 for the first module opened; 0 is
    /// vmlinux), opening it on first use.
    ///
    /// # Errors
    /// The module's BTF is not among the kernel's BTF objects (unloaded meanwhile), or a
    /// `bpf()` call failed.
    pub fn index_of(&mut self, module: &str) -> Result<i16, ModuleFdError> {
        if let Some(i) = self.fds.iter().position(|(m, _)| m == module) {
            return i16::try_from(i + 1).map_err(|_| ModuleFdError::TooMany);
        }
        let fd = open_module_btf(module)?;
        log::debug!("module {module}: BTF fd {} for the load", fd.as_raw_fd());
        self.fds.push((module.to_string(), fd));
        i16::try_from(self.fds.len()).map_err(|_| ModuleFdError::TooMany)
    }

    /// The fd of `module`'s BTF, opening it on first use.
    ///
    /// # Errors
    /// As [`ModuleFds::index_of`].
    pub fn fd(&mut self, module: &str) -> Result<BorrowedFd<'_>, ModuleFdError> {
        self.index_of(module)?;
        self.fds
            .iter()
            .find(|(m, _)| m == module)
            .map(|(_, fd)| fd.as_fd())
            .ok_or_else(|| ModuleFdError::NotFound(module.to_string()))
    }

    /// The `fd_array` for `BPF_PROG_LOAD`: empty when no module is involved, else
    /// vmlinux's slot (0) and then each module's fd.
    pub fn fd_array(&self) -> Vec<i32> {
        if self.fds.is_empty() {
            return Vec::new();
        }
        std::iter::once(0)
            .chain(self.fds.iter().map(|(_, fd)| fd.as_raw_fd()))
            .collect()
    }
}

/// Why a module's BTF fd could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ModuleFdError {
    /// The kernel lists no BTF object of that name.
    #[error("module {0}: the kernel lists no BTF object of that name (was it unloaded?)")]
    NotFound(String),
    /// The kernel gives its BTF objects no names (before 5.11, which also had no module
    /// BTF).
    #[error(
        "module {0}: this kernel does not name its BTF objects (Linux 5.11), so none can be found by name"
    )]
    Unnamed(String),
    /// More modules than an instruction's offset can index.
    #[error("more module BTFs than fd_array can index")]
    TooMany,
    /// A `bpf()` call failed.
    #[error("module BTF lookup")]
    Sys(#[source] SysError),
}

/// Opens the kernel's BTF object of module `name`: walks every BTF id and asks each
/// kernel BTF object its name.
fn open_module_btf(name: &str) -> Result<OwnedFd, ModuleFdError> {
    let mut id = 0;
    // Before 5.11 the kernel names no BTF object (and fills no name): then say that.
    let mut any_named = false;
    while let Some(next) = bpf::get_next_id(IdKind::Btf, id).map_err(ModuleFdError::Sys)? {
        id = next;
        let fd = match bpf::get_fd_by_id(IdKind::Btf, id) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENOENT) => continue, // gone meanwhile
            Err(e) => return Err(ModuleFdError::Sys(e)),
        };
        // E2BIG: the kernel does not know bpf_btf_info's name fields.
        let (_, found, kernel) = bpf::btf_info_named(fd.as_fd()).map_err(|e| {
            if e.errno() == Some(libc::E2BIG) {
                ModuleFdError::Unnamed(name.to_string())
            } else {
                ModuleFdError::Sys(e)
            }
        })?;
        any_named |= !found.is_empty();
        if kernel && found == name {
            return Ok(fd);
        }
    }
    if !any_named {
        return Err(ModuleFdError::Unnamed(name.to_string()));
    }
    Err(ModuleFdError::NotFound(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::builder::BtfBuilder;
    use oxbpf_sys::uapi::Endian;

    #[test]
    fn finds_a_modules_own_types_and_honours_a_named_module() {
        let mut base = BtfBuilder::new(Endian::Little);
        let int = base.int("int", 4, true); // 1
        let proto = base.func_proto(int, &[]); // 2
        base.ty("shared_fn", Kind::Func, 0, false, proto); // 3: FUNC in vmlinux
        let vmlinux = Arc::new(base.btf().unwrap());
        let split = |fname: &str| {
            let mut m = BtfBuilder::split(Endian::Little, 3, vmlinux.string_section().len() as u32);
            m.ty(fname, Kind::Func, 1, false, 2); // 4: a global FUNC of the module
            Arc::new(Btf::parse_split(m.build(), vmlinux.clone()).unwrap())
        };
        let mods = ModuleBtfs::from_list(vec![
            ("mod_a".into(), split("a_kfunc")),
            ("mod_b".into(), split("b_kfunc")),
        ]);
        let found = |n: &str, m: Option<&str>| {
            mods.find(n, Kind::Func, m)
                .map(|(m, _, id)| (m.to_string(), id.0))
        };
        assert_eq!(found("b_kfunc", None), Some(("mod_b".into(), 4)));
        assert_eq!(found("a_kfunc", Some("mod_a")), Some(("mod_a".into(), 4)));
        assert_eq!(found("a_kfunc", Some("mod_b")), None);
        // vmlinux's own function is reachable through a split BTF, but is not the
        // module's.
        assert_eq!(found("shared_fn", None), None);
        assert_eq!(ModuleFds::default().fd_array(), Vec::<i32>::new());
    }
}
