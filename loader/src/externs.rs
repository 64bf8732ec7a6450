//! Resolving an object's externs against the running kernel (libbpf
//! `bpf_object__resolve_externs`):
//! - `.kconfig`: `LINUX_KERNEL_VERSION`, `LINUX_HAS_BPF_COOKIE`,
//!   `LINUX_HAS_SYSCALL_WRAPPER`, and `CONFIG_*` values from `/boot/config-$(uname -r)`
//!   or `/proc/config.gz` (inflated here, no zlib), written into the `.kconfig` map's
//!   value at the slots the BTF fix-up laid out;
//! - typed `__ksym` variables: their BTF id in vmlinux, after checking the types agree;
//! - typeless `__ksym`: their address from `/proc/kallsyms`;
//! - kfuncs: their BTF id in vmlinux, after checking the prototypes agree.
//!
//! Weak externs the kernel lacks resolve to zero (kfuncs to a poisoned call).
//! Reads files only; no `bpf()` calls.

use std::collections::HashMap;

use crate::btf::fixup::KconfigSlot;
use crate::btf::types::{Type, TypeKind};
use crate::btf::{Btf, Kind, TypeId};
use crate::core::matching::types_are_compat;
use crate::modules::{KernelBtf, ModuleFds};
use crate::object::{Extern, ExternKind, Object};
use crate::reloc::ExternValue;
use std::os::fd::AsRawFd as _;

/// Why an extern could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExternError {
    /// No kernel configuration could be read.
    #[error(
        "extern `{name}`: cannot read the kernel configuration ({why}); tried /boot/config-{release} and /proc/config.gz"
    )]
    NoConfig {
        /// The extern that needed it.
        name: String,
        /// What went wrong.
        why: String,
        /// `uname -r`.
        release: String,
    },
    /// A non-weak `CONFIG_*` is not in the configuration.
    #[error("extern `{0}`: not set in the kernel configuration (declare it __weak to accept that)")]
    NotInConfig(String),
    /// A configuration value does not fit the extern's type.
    #[error("extern `{name}`: kernel config value {value:?} does not fit its type ({why})")]
    BadValue {
        /// The extern.
        name: String,
        /// The value from the config.
        value: String,
        /// Why.
        why: String,
    },
    /// A `.kconfig` extern of a type libbpf does not support.
    #[error(
        "extern `{0}`: .kconfig externs must be bool, char, tristate, an integer or a char array"
    )]
    BadType(String),
    /// An unknown `LINUX_*` extern.
    #[error(
        "extern `{0}`: not a value libbpf defines (LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER)"
    )]
    UnknownLinux(String),
    /// A non-weak ksym or kfunc is not in the kernel.
    #[error("extern `{name}`: the kernel has no {what} of that name")]
    NotInKernel {
        /// The extern.
        name: String,
        /// "variable" or "function".
        what: &'static str,
    },
    /// The kernel's type differs from the declared one.
    #[error("extern `{name}`: the kernel's type does not match the declaration ({why})")]
    TypeMismatch {
        /// The extern.
        name: String,
        /// Why.
        why: String,
    },
    /// An extern of a kind the object's BTF does not explain.
    #[error(
        "extern `{0}`: used but defined nowhere in this object, and not marked __kconfig or __ksym; define it, or link the object that does (bpftool gen object)"
    )]
    Unknown(String),
    /// The extern is in a module whose BTF the kernel no longer lists.
    #[error("extern `{name}`: {why}")]
    Module {
        /// The extern.
        name: String,
        /// Why the module's BTF could not be had.
        why: String,
    },
    /// The kernel's BTF is needed and missing.
    #[error("extern `{0}`: resolving it needs the kernel's BTF (/sys/kernel/btf/vmlinux)")]
    NoKernelBtf(String),
}

/// The kernel configuration, as `CONFIG_NAME -> value` (`y`, `m`, `n`, a number, or a
/// quoted string).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    values: HashMap<String, String>,
}

impl KernelConfig {
    /// Parses a `.config` file as libbpf reads one (`bpf_object__read_kconfig_file`):
    /// only lines that start with `CONFIG_` and have a `=` count, the first of two
    /// lines for one option wins, and `# CONFIG_X is not set` sets nothing (a strong
    /// extern of such an option is then an error, a weak one reads 0).
    pub fn parse(text: &str) -> KernelConfig {
        let mut values = HashMap::new();
        for line in text.lines() {
            if let Some((k, v)) = line
                .split_once('=')
                .filter(|(k, _)| k.starts_with("CONFIG_"))
            {
                values.entry(k.to_string()).or_insert_with(|| v.to_string());
            }
        }
        KernelConfig { values }
    }

    /// Reads the running kernel's configuration: `/boot/config-$(uname -r)`, else
    /// `/proc/config.gz`.
    ///
    /// # Errors
    /// A description of what was tried.
    pub fn load() -> Result<KernelConfig, String> {
        let release = release();
        if let Ok(text) = std::fs::read_to_string(format!("/boot/config-{release}")) {
            return Ok(KernelConfig::parse(&text));
        }
        let gz = std::fs::read("/proc/config.gz").map_err(|e| format!("/proc/config.gz: {e}"))?;
        let text =
            crate::inflate::gunzip(&gz, 32 << 20).map_err(|e| format!("/proc/config.gz: {e}"))?;
        log::debug!(
            "kconfig: read /proc/config.gz ({} bytes inflated)",
            text.len()
        );
        Ok(KernelConfig::parse(&String::from_utf8_lossy(&text)))
    }

    /// The value of `name`, if the configuration mentions it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// The running kernel's release (`?` when /proc cannot say).
fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "?".into(), |s| s.trim().to_string())
}

/// How a `.kconfig` extern's type stores its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KcfgType {
    Bool,
    Char,
    Tristate,
    Int { size: u32, signed: bool },
    CharArray(u32),
}

fn get(types: &[Type], id: TypeId) -> Option<&Type> {
    id.0.checked_sub(1).and_then(|i| types.get(i as usize))
}

/// `id` with typedefs and qualifiers (const, volatile, restrict, type tags) peeled
/// off, as libbpf's `skip_mods_and_typedefs`.
fn skip_mods_and_typedefs(types: &[Type], mut id: TypeId) -> Option<&Type> {
    for _ in 0..crate::btf::MAX_RESOLVE_DEPTH {
        let t = get(types, id)?;
        match &t.kind {
            TypeKind::Typedef(to)
            | TypeKind::Const(to)
            | TypeKind::Volatile(to)
            | TypeKind::Restrict(to)
            | TypeKind::TypeTag { target: to, .. } => id = *to,
            _ => return Some(t),
        }
    }
    None
}

/// What a `.kconfig` extern's type is (libbpf `find_kcfg_type`): typedefs and
/// qualifiers are peeled off the type, and off a char array's element type too
/// (`extern const char CONFIG_STR[8]` has a `const char` element).
fn kcfg_type(types: &[Type], var: TypeId, name: &str) -> Result<KcfgType, ExternError> {
    let bad = || ExternError::BadType(name.to_string());
    let TypeKind::Var { ty, .. } = get(types, var).ok_or_else(bad)?.kind else {
        return Err(bad());
    };
    let t = skip_mods_and_typedefs(types, ty).ok_or_else(bad)?;
    match &t.kind {
        TypeKind::Int { size, encoding, .. } => Ok(if encoding & 4 != 0 {
            if *size != 1 {
                return Err(bad());
            }
            KcfgType::Bool
        } else if *size == 1 {
            // Any one-byte integer is a char to libbpf: it takes y/n/m or a number.
            KcfgType::Char
        } else if !size.is_power_of_two() || *size > 8 {
            return Err(bad());
        } else {
            KcfgType::Int {
                size: *size,
                signed: encoding & 1 != 0,
            }
        }),
        TypeKind::Enum(e) if t.name == "libbpf_tristate" && e.size == 4 => Ok(KcfgType::Tristate),
        TypeKind::Enum64(_) if t.name == "libbpf_tristate" => Ok(KcfgType::Tristate),
        TypeKind::Array { elem, nelems, .. } if *nelems > 0 => {
            match skip_mods_and_typedefs(types, *elem).map(|e| &e.kind) {
                Some(TypeKind::Int {
                    size: 1, encoding, ..
                }) if encoding & 4 == 0 => Ok(KcfgType::CharArray(*nelems)),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// Facts about the running kernel `LINUX_*` externs stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFacts {
    /// `LINUX_VERSION_CODE`.
    pub version_code: u32,
    /// The kernel has `bpf_get_attach_cookie()`.
    pub has_bpf_cookie: bool,
    /// Syscalls go through `__<arch>_sys_*` wrappers.
    pub has_syscall_wrapper: bool,
}

impl KernelFacts {
    /// Reads them from the kernel version and its BTF.
    pub fn detect(vmlinux: Option<&Btf>) -> KernelFacts {
        let version_code = oxbpf_sys::version::KernelVersion::current().map_or(0, |v| v.code());
        let has_bpf_cookie = vmlinux.is_some_and(|b| {
            b.find_by_name_kind("bpf_func_id", Kind::Enum)
                .is_some_and(|e| {
                    e.enumerators().is_ok_and(|mut it| {
                        it.any(|v| v.is_ok_and(|v| v.name == "BPF_FUNC_get_attach_cookie"))
                    })
                })
        });
        let has_syscall_wrapper = oxbpf_sys::arch::syscall_wrapper_prefix().is_some_and(|prefix| {
            vmlinux.is_some_and(|b| b.find(&format!("{prefix}_sys_bpf"), Kind::Func).is_some())
        });
        KernelFacts {
            version_code,
            has_bpf_cookie,
            has_syscall_wrapper,
        }
    }
}

/// A number as C's `strtoull(v, &end, 0)` reads it, the whole string: decimal, `0x` hex
/// or `0` octal, after an optional sign (a `-` wraps, as in C). `None` if anything is
/// left over or the number does not fit 64 bits.
fn parse_u64(v: &str) -> Option<u64> {
    let v = v.trim_start();
    let (neg, v) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let (radix, digits) = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        (16, h)
    } else if v.len() > 1 && v.starts_with('0') {
        (8, &v[1..])
    } else {
        (10, v)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let n = u64::from_str_radix(digits, radix).ok()?;
    Some(if neg { n.wrapping_neg() } else { n })
}

/// libbpf `is_kcfg_value_in_range`: whether `v` fits an integer of `size` bytes,
/// signed ones checked in wrapping arithmetic as libbpf does.
fn kcfg_value_in_range(v: u64, size: u32, signed: bool) -> bool {
    let bits = size * 8;
    if bits >= 64 {
        return true;
    }
    if signed {
        v.wrapping_add(1 << (bits - 1)) < (1 << bits)
    } else {
        v >> bits == 0
    }
}

/// Builds the value of the `.kconfig` map: every slot of `layout` filled from the kernel
/// configuration and facts. `config` is read only if some `CONFIG_*` extern needs it.
///
/// # Errors
/// A missing non-weak option, a value that does not fit, an unsupported type.
pub fn kconfig_value(
    obj: &Object,
    types: &[Type],
    layout: &[KconfigSlot],
    facts: &KernelFacts,
    config: &mut dyn FnMut() -> Result<KernelConfig, String>,
) -> Result<Vec<u8>, ExternError> {
    let size = layout.iter().map(|s| s.offset + s.size).max().unwrap_or(0) as usize;
    let mut out = vec![0u8; size];
    let mut cfg: Option<KernelConfig> = None;
    for slot in layout {
        let weak = obj.externs.iter().any(|e| e.name == slot.name && e.weak);
        let ty = kcfg_type(types, slot.var, &slot.name)?;
        let name = slot.name.as_str();
        let value = if let Some(rest) = name.strip_prefix("LINUX_") {
            linux_fact(rest, facts).ok_or_else(|| ExternError::UnknownLinux(name.to_string()))
        } else {
            config_option(name, &mut cfg, config)
        };
        let value = match value {
            Ok(v) => v,
            Err(why) if weak => {
                log::debug!("kconfig: {name} is weak and has no value here ({why}): 0");
                continue;
            }
            Err(e) => return Err(e),
        };
        let dst = &mut out[slot.offset as usize..(slot.offset + slot.size) as usize];
        write_kconfig(dst, ty, name, &value)?;
        log::debug!("kconfig: {name} = {value} at .kconfig+{}", slot.offset);
    }
    Ok(out)
}

/// The value of a `LINUX_*` extern libbpf defines (`rest` is the name after `LINUX_`).
fn linux_fact(rest: &str, facts: &KernelFacts) -> Option<String> {
    let yes_no = |b: bool| if b { "y" } else { "n" }.to_string();
    match rest {
        "KERNEL_VERSION" => Some(facts.version_code.to_string()),
        "HAS_BPF_COOKIE" => Some(yes_no(facts.has_bpf_cookie)),
        "HAS_SYSCALL_WRAPPER" => Some(yes_no(facts.has_syscall_wrapper)),
        _ => None,
    }
}

/// The text of a `CONFIG_*` option in this kernel's configuration, read on first need.
fn config_option(
    name: &str,
    cfg: &mut Option<KernelConfig>,
    config: &mut dyn FnMut() -> Result<KernelConfig, String>,
) -> Result<String, ExternError> {
    if cfg.is_none() {
        *cfg = Some(config().map_err(|why| ExternError::NoConfig {
            name: name.into(),
            why,
            release: release(),
        })?);
    }
    cfg.as_ref()
        .and_then(|c| c.get(name))
        .map(str::to_string)
        .ok_or_else(|| ExternError::NotInConfig(name.to_string()))
}

/// Writes `value`, a config line's value, into `dst` as `ty`: libbpf's reading
/// (`bpf_object__process_kconfig_line`), where the first character picks y/n/m, a
/// quoted string, or a number.
fn write_kconfig(dst: &mut [u8], ty: KcfgType, name: &str, value: &str) -> Result<(), ExternError> {
    let bad = |why: &str| ExternError::BadValue {
        name: name.into(),
        value: value.to_string(),
        why: why.into(),
    };
    match value.as_bytes().first() {
        Some(&c @ (b'y' | b'n' | b'm')) => match ty {
            KcfgType::Bool if c == b'm' => {
                return Err(bad("`m` implies a tristate or char type, not bool"));
            }
            KcfgType::Bool => dst[0] = u8::from(c == b'y'),
            KcfgType::Tristate => {
                let v: u32 = match c {
                    b'y' => 1,
                    b'm' => 2,
                    _ => 0,
                };
                let n = dst.len().min(4);
                dst[..n].copy_from_slice(&v.to_ne_bytes()[..n]);
            }
            KcfgType::Char => dst[0] = c,
            _ => return Err(bad("y, n or m implies a bool, tristate or char type")),
        },
        Some(b'"') => {
            let KcfgType::CharArray(len) = ty else {
                return Err(bad("a quoted string implies a char array type"));
            };
            let s = value
                .get(1..value.len() - 1)
                .filter(|_| value.len() >= 2 && value.ends_with('"'))
                .ok_or_else(|| bad("an unterminated string"))?;
            let n = s.len().min(len.saturating_sub(1) as usize);
            if n < s.len() {
                log::warn!("kconfig: {name}: string of {} bytes cut to {n}", s.len());
            }
            dst[..n].copy_from_slice(&s.as_bytes()[..n]);
        }
        _ => {
            let size = match ty {
                KcfgType::Int { size, .. } => size,
                KcfgType::Char => 1,
                _ => return Err(bad("a number implies an integer type")),
            };
            let signed = matches!(ty, KcfgType::Int { signed: true, .. });
            let v = parse_u64(value).ok_or_else(|| bad("not a valid integer"))?;
            if !kcfg_value_in_range(v, size, signed) {
                return Err(bad(&format!("does not fit in {size} bytes")));
            }
            let width = (size as usize).min(dst.len());
            dst[..width].copy_from_slice(&v.to_ne_bytes()[..width]);
        }
    }
    Ok(())
}

/// Addresses of kernel symbols from `/proc/kallsyms` (zero without privilege).
#[derive(Debug, Default)]
pub struct Kallsyms {
    addrs: HashMap<String, u64>,
}

impl Kallsyms {
    /// Reads `/proc/kallsyms`, keeping the addresses of the symbols named in `wanted`
    /// only: the file lists some 200,000 symbols, and indexing them all would cost
    /// more than the load it serves.
    ///
    /// # Errors
    /// The read error.
    pub fn load(wanted: &[&str]) -> std::io::Result<Kallsyms> {
        let text = std::fs::read_to_string("/proc/kallsyms")?;
        Ok(Kallsyms::parse(&text, wanted))
    }

    /// The addresses of `wanted` in kallsyms text (`ADDR TYPE NAME [MODULE]` lines).
    fn parse(text: &str, wanted: &[&str]) -> Kallsyms {
        let wanted: std::collections::HashSet<&str> = wanted.iter().copied().collect();
        let mut addrs = HashMap::new();
        for line in text.lines() {
            // The name is the third field; a fourth means a module symbol, which is no
            // kernel global.
            let Some((addr, rest)) = line.split_once(' ') else {
                continue;
            };
            let Some((_kind, name)) = rest.split_once(' ') else {
                continue;
            };
            if name.contains([' ', '\t']) || !wanted.contains(name) {
                continue;
            }
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                addrs.entry(name.to_string()).or_insert(a);
            }
        }
        Kallsyms { addrs }
    }

    /// The address of `name`.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.addrs.get(name).copied()
    }
}

/// Resolves every extern of `obj` (`.kconfig` ones against `kconfig` slots; the rest
/// against vmlinux and kallsyms). `local` is the object's (fixed-up) BTF types, for
/// type checks. Returns one value per `obj.externs` entry.
///
/// # Errors
/// Non-weak externs the kernel lacks, or whose type differs.
pub fn resolve(
    obj: &Object,
    local: Option<&Btf>,
    layout: &[KconfigSlot],
    mut kernel: Option<&mut KernelBtf>,
    fds: &mut ModuleFds,
    kallsyms: &mut dyn FnMut() -> Option<std::rc::Rc<Kallsyms>>,
) -> Result<Vec<ExternValue>, ExternError> {
    let mut out = Vec::with_capacity(obj.externs.len());
    for e in &obj.externs {
        let value = match e.kind {
            ExternKind::Kconfig => {
                let slot = layout
                    .iter()
                    .find(|s| s.name == e.name)
                    .ok_or_else(|| ExternError::Unknown(e.name.clone()))?;
                ExternValue::Kconfig {
                    offset: slot.offset,
                }
            }
            ExternKind::KsymTypeless => match kallsyms().and_then(|k| k.get(&e.name)) {
                Some(a) => ExternValue::KsymAddr(a),
                None => missing(e, "symbol")?,
            },
            ExternKind::Ksym | ExternKind::Kfunc => {
                let search = kernel
                    .as_deref_mut()
                    .ok_or_else(|| ExternError::NoKernelBtf(e.name.clone()))?;
                resolve_btf_extern(e, local, search, fds)?
            }
            ExternKind::Unknown => return Err(ExternError::Unknown(e.name.clone())),
        };
        log::debug!("extern `{}` ({}): {value:?}", e.name, e.kind.label());
        out.push(value);
    }
    Ok(out)
}

/// An extern the kernel lacks: absent if weak, else an error.
fn missing(e: &Extern, what: &'static str) -> Result<ExternValue, ExternError> {
    if e.weak {
        log::debug!("extern `{}`: weak and absent from the kernel", e.name);
        Ok(ExternValue::Missing)
    } else {
        Err(ExternError::NotInKernel {
            name: e.name.clone(),
            what,
        })
    }
}

/// A ksym variable or kfunc found by name in vmlinux or a module BTF, its declared
/// type checked against the kernel's.
fn resolve_btf_extern(
    e: &Extern,
    local: Option<&Btf>,
    search: &mut KernelBtf,
    fds: &mut ModuleFds,
) -> Result<ExternValue, ExternError> {
    let is_func = e.kind == ExternKind::Kfunc;
    // A kfunc is looked up by its essential name (`bpf_task_acquire___one` is
    // `bpf_task_acquire` with a flavor), a variable by its own, as libbpf.
    let name = if is_func {
        crate::btf::essential_name(&e.name)
    } else {
        &e.name
    };
    let Some(found) = search.find(name, if is_func { Kind::Func } else { Kind::Var }, None) else {
        return missing(e, if is_func { "function" } else { "variable" });
    };
    if let (Some(local), Some(lid)) = (local, e.btf_id) {
        if let Err(why) = types_agree(local, lid, &found.btf, found.id) {
            // A weak kfunc the kernel has with another prototype counts as absent
            // (libbpf: a flavor that does not fit).
            if is_func && e.weak {
                log::debug!(
                    "extern `{}`: weak, and the kernel's `{name}` does not fit its prototype ({why}): absent",
                    e.name
                );
                return Ok(ExternValue::Missing);
            }
            return Err(ExternError::TypeMismatch {
                name: e.name.clone(),
                why,
            });
        }
    }
    // In a module: the kernel learns which BTF object through fd_array (kfuncs) or
    // the ld_imm64's second half (variables).
    let module_err = |err: crate::modules::ModuleFdError| ExternError::Module {
        name: e.name.clone(),
        why: match std::error::Error::source(&err) {
            Some(s) => format!("{err}: {s}"),
            None => err.to_string(),
        },
    };
    let btf_fd = match &found.module {
        Some(m) => fds.fd(m).map_err(module_err)?.as_raw_fd(),
        None => 0,
    };
    if !is_func {
        return Ok(ExternValue::KsymBtf {
            btf_id: found.id,
            btf_fd,
        });
    }
    let fd_index = match &found.module {
        Some(m) => fds.index_of(m).map_err(module_err)?,
        None => 0,
    };
    Ok(ExternValue::Kfunc {
        btf_id: found.id,
        fd_index,
        btf_fd,
    })
}

/// Whether an extern's declared type (`lid` in the object's BTF) and the kernel's
/// (`kid`) agree, by the CO-RE compatibility rules libbpf checks them with.
fn types_agree(local: &Btf, lid: TypeId, kernel: &Btf, kid: TypeId) -> Result<(), String> {
    let lt = local.type_by_id(lid).and_then(|t| t.ref_type());
    let kt = kernel.type_by_id(kid).and_then(|t| t.ref_type());
    let (Ok(lt), Ok(kt)) = (lt, kt) else {
        return Ok(());
    };
    let lt = local
        .skip_mods_and_typedefs(lt)
        .map_err(|e| e.to_string())?
        .id();
    let kt = kernel
        .skip_mods_and_typedefs(kt)
        .map_err(|e| e.to_string())?
        .id();
    types_are_compat(local, lt, kernel, kt, 32).map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn kallsyms_keeps_only_the_wanted_kernel_symbols() {
        let text = "ffffffff81000000 T _stext\n\
                    ffffffff82000010 D bpf_prog_active\n\
                    ffffffffc0001000 d bpf_prog_active\t[some_module]\n\
                    ffffffff82000020 B init_task\n\
                    ffffffff82000030 b init_task\n";
        let k = Kallsyms::parse(text, &["bpf_prog_active", "init_task", "absent"]);
        assert_eq!(k.get("bpf_prog_active"), Some(0xffff_ffff_8200_0010));
        // The first of two same-named symbols, as before.
        assert_eq!(k.get("init_task"), Some(0xffff_ffff_8200_0020));
        assert_eq!(k.get("_stext"), None, "not asked for");
        assert_eq!(k.get("absent"), None);
    }

    #[test]
    fn parses_a_kernel_config() {
        let c = KernelConfig::parse(
            "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_D=\"str\"\nCONFIG_E=0x10\nOTHER=1\nCONFIG_A=n\n",
        );
        assert_eq!(c.get("CONFIG_A"), Some("y"), "the first line wins");
        assert_eq!(c.get("CONFIG_B"), None, "not set is not a value");
        assert_eq!(c.get("CONFIG_C"), Some("m"));
        assert_eq!(c.get("CONFIG_D"), Some("\"str\""));
        assert_eq!(c.get("CONFIG_E"), Some("0x10"));
        assert_eq!(c.get("OTHER"), None);
    }

    #[test]
    fn numbers_read_as_strtoull_reads_them() {
        assert_eq!(parse_u64("0x10"), Some(16));
        assert_eq!(parse_u64("0X1f"), Some(31));
        assert_eq!(parse_u64("010"), Some(8));
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64("-3"), Some(3u64.wrapping_neg()));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        for bad in ["", "12a", "0x", "08", "--1", "1 "] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
        // Range checks in libbpf's wrapping arithmetic.
        assert!(kcfg_value_in_range(255, 1, false));
        assert!(!kcfg_value_in_range(256, 1, false));
        assert!(kcfg_value_in_range(3u64.wrapping_neg(), 1, true));
        assert!(!kcfg_value_in_range(128, 1, true));
        assert!(kcfg_value_in_range(127, 1, true));
        assert!(!kcfg_value_in_range(129u64.wrapping_neg(), 1, true));
        assert!(kcfg_value_in_range(u64::MAX, 8, false));
    }

    #[test]
    fn kconfig_types_peel_qualifiers_and_typedefs_as_libbpf_does() {
        use crate::btf::types::Type;
        let ty = |name: &str, kind| Type {
            name: name.into(),
            kind,
        };
        let int = |size, encoding| TypeKind::Int {
            size,
            encoding,
            offset: 0,
            bits: size as u8 * 8,
        };
        let types = vec![
            ty("char", int(1, 2)),              // 1
            ty("", TypeKind::Const(TypeId(1))), // 2 const char
            ty("int", int(4, 1)),               // 3
            ty(
                "",
                TypeKind::Array {
                    elem: TypeId(2),
                    index: TypeId(3),
                    nelems: 8,
                },
            ), // 4
            ty(
                "CONFIG_STR",
                TypeKind::Var {
                    ty: TypeId(4),
                    linkage: crate::btf::Linkage::Extern,
                },
            ), // 5
            ty("u8", TypeKind::Typedef(TypeId(7))), // 6
            ty("unsigned char", int(1, 0)),     // 7
            ty("", TypeKind::Volatile(TypeId(6))), // 8
            ty(
                "",
                TypeKind::Array {
                    elem: TypeId(8),
                    index: TypeId(3),
                    nelems: 4,
                },
            ), // 9
            ty(
                "CONFIG_U8S",
                TypeKind::Var {
                    ty: TypeId(9),
                    linkage: crate::btf::Linkage::Extern,
                },
            ), // 10
            ty(
                "CONFIG_U8",
                TypeKind::Var {
                    ty: TypeId(6),
                    linkage: crate::btf::Linkage::Extern,
                },
            ), // 11
            ty(
                "",
                TypeKind::Array {
                    elem: TypeId(3),
                    index: TypeId(3),
                    nelems: 4,
                },
            ), // 12
            ty(
                "CONFIG_INTS",
                TypeKind::Var {
                    ty: TypeId(12),
                    linkage: crate::btf::Linkage::Extern,
                },
            ), // 13
            ty("int3", int(3, 1)),              // 14
            ty(
                "CONFIG_ODD",
                TypeKind::Var {
                    ty: TypeId(14),
                    linkage: crate::btf::Linkage::Extern,
                },
            ), // 15
        ];
        // `extern const char CONFIG_STR[8]`: a const element is still a char.
        assert_eq!(
            kcfg_type(&types, TypeId(5), "CONFIG_STR").unwrap(),
            KcfgType::CharArray(8)
        );
        // A typedef'd, volatile one-byte element too; and a lone u8 is a char to libbpf.
        assert_eq!(
            kcfg_type(&types, TypeId(10), "CONFIG_U8S").unwrap(),
            KcfgType::CharArray(4)
        );
        assert_eq!(
            kcfg_type(&types, TypeId(11), "CONFIG_U8").unwrap(),
            KcfgType::Char
        );
        // Arrays of anything else, and integers of odd sizes, are not kconfig types.
        assert!(kcfg_type(&types, TypeId(13), "CONFIG_INTS").is_err());
        assert!(kcfg_type(&types, TypeId(15), "CONFIG_ODD").is_err());
    }

    #[test]
    fn kconfig_values_from_a_config_and_facts() {
        let obj = Object::open(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/externs.bpf.o"),
        )
        .unwrap();
        let mut types = crate::btf::types::decode_all(obj.btf.as_ref().unwrap()).unwrap();
        crate::btf::fixup::fixup(&mut types, &crate::btf::fixup::ElfInfo::from_object(&obj))
            .unwrap();
        let layout = crate::btf::fixup::kconfig_layout(&types).unwrap();
        let facts = KernelFacts {
            version_code: 0x0006_122c,
            has_bpf_cookie: true,
            has_syscall_wrapper: true,
        };
        let mut config = || Ok(KernelConfig::parse("CONFIG_BPF_SYSCALL=y\nCONFIG_IPV6=m\n"));
        let v = kconfig_value(&obj, &types, &layout, &facts, &mut config).unwrap();
        let at = |n: &str| layout.iter().find(|s| s.name == n).unwrap().offset as usize;
        assert_eq!(
            u32::from_ne_bytes(v[at("LINUX_KERNEL_VERSION")..][..4].try_into().unwrap()),
            0x0006_122c
        );
        assert_eq!(v[at("CONFIG_BPF_SYSCALL")], 1);
        assert_eq!(
            u32::from_ne_bytes(v[at("CONFIG_IPV6")..][..4].try_into().unwrap()),
            2
        );
        assert_eq!(v[at("CONFIG_OXBPF_NO_SUCH_OPTION")], 0);
        assert_eq!(v[at("LINUX_HAS_BPF_COOKIE")], 1);
        // A missing non-weak option is an error naming it.
        let mut empty = || Ok(KernelConfig::parse(""));
        let err = kconfig_value(&obj, &types, &layout, &facts, &mut empty).unwrap_err();
        assert!(
            matches!(err, ExternError::NotInConfig(ref n) if n == "CONFIG_BPF_SYSCALL" || n == "CONFIG_IPV6"),
            "{err}"
        );
        // A bool set to m does not fit.
        let mut m = || Ok(KernelConfig::parse("CONFIG_BPF_SYSCALL=m\nCONFIG_IPV6=y\n"));
        let err = kconfig_value(&obj, &types, &layout, &facts, &mut m).unwrap_err();
        assert!(matches!(err, ExternError::BadValue { .. }), "{err}");
    }
}
