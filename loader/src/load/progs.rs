//! Loading programs: linking each, finding a tracing program's attach target, and
//! `BPF_PROG_LOAD` with the verifier's log on failure.
//!
//! Like libbpf, the first attempt asks for no log (cheapest); a refused program is
//! loaded again with a log buffer, grown until the whole log fits, so the error can
//! show it. Poisoned CO-RE instructions and missing kfuncs in the log are translated
//! back into what failed and why.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use oxbpf_prog::Program;
use oxbpf_sys::SysError;
use oxbpf_sys::bpf::{self, ProgLoadData};
use oxbpf_sys::caps;
use oxbpf_sys::uapi::helpers::helper_name;
use oxbpf_sys::uapi::{AttachType, Insn, ProgLoadAttr, ProgType, prog_flags};

use super::{LoadError, Loader, ProgramFailure, ProgramRejected};
use crate::btf::Kind;
use crate::core::CoreOutcome;
use crate::core::patch::POISON_IMM;
use crate::modules::{KernelBtf, ModuleFds};
use crate::object::{Object, ProgramSpec};
use crate::reloc::{LinkedProgram, POISON_KFUNC_BASE, POISON_MAP_BASE, Resolver, link_program};
use crate::section::flags;

const LOG_START: usize = 1 << 20;
const LOG_MAX: usize = 256 << 20;

/// An error and its causes on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut c = e.source();
    while let Some(x) = c {
        s = format!("{s}: {x}");
        c = x.source();
    }
    s
}

/// The BTF id of a tracing program's attach target (libbpf `find_attach_btf_id`): the
/// function itself for fentry/fexit/fmod_ret, the `btf_trace_<name>` typedef for
/// tp_btf, `bpf_lsm_<hook>` for LSM, `bpf_iter_<name>` for iterators; in vmlinux, else
/// in a module (or only in the module a `MODULE:FUNC` target names), whose BTF fd is
/// returned for `attach_btf_obj_fd`.
fn attach_btf_id(
    p: &ProgramSpec,
    kernel: Option<&mut KernelBtf>,
    fds: &mut ModuleFds,
) -> Result<(u32, Option<i32>), LoadError> {
    let prog = p.name().to_string();
    let target = p
        .attach_target
        .clone()
        .ok_or_else(|| LoadError::AttachTarget {
            prog: prog.clone(),
            why: format!("section `{}` names no attach target", p.section()),
        })?;
    let kernel = kernel.ok_or_else(|| LoadError::AttachTarget {
        prog: prog.clone(),
        why: "the kernel's BTF is not available".into(),
    })?;
    // `fentry/MODULE:FUNC` names the module to look in.
    let (module, target) = match target.split_once(':') {
        Some((m, f)) => (Some(m.to_string()), f.to_string()),
        None => (None, target),
    };
    let (name, kind, what) = match (p.prog_type, p.expected_attach_type) {
        (Some(ProgType::TRACING), Some(AttachType::TRACE_RAW_TP)) => {
            (format!("btf_trace_{target}"), Kind::Typedef, "tracepoint")
        }
        (Some(ProgType::TRACING), Some(AttachType::TRACE_ITER)) => {
            (format!("bpf_iter_{target}"), Kind::Func, "iterator")
        }
        (Some(ProgType::LSM), _) => (format!("bpf_lsm_{target}"), Kind::Func, "LSM hook"),
        (Some(ProgType::EXT), _) => {
            return Err(LoadError::AttachTarget {
                prog,
                why: "freplace programs need a target program, which this loader cannot take yet"
                    .into(),
            });
        }
        _ => (target.clone(), Kind::Func, "function"),
    };
    let found = kernel
        .find(&name, kind, module.as_deref())
        .ok_or_else(|| LoadError::AttachTarget {
            prog: prog.clone(),
            why: match &module {
                Some(m) => format!(
                    "module {m} has no {what} `{target}` to attach to (looked for {} `{name}` in its BTF; is the module loaded?)",
                    kind.name().to_ascii_lowercase()
                ),
                None => format!(
                    "the kernel has no {what} `{target}` to attach to (looked for {} `{name}` in its BTF)",
                    kind.name().to_ascii_lowercase()
                ),
            },
        })?;
    let obj_fd = match &found.module {
        Some(m) => {
            let fd = fds.fd(m).map_err(|e| LoadError::AttachTarget {
                prog,
                why: format!("{e}"),
            })?;
            log::debug!("attach target `{name}` is in module {m}");
            Some(fd.as_raw_fd())
        }
        None => None,
    };
    Ok((found.id.0, obj_fd))
}

/// What the log says, translated: which poisoned relocation, left-out map or missing
/// kfunc was hit, which feature this kernel lacks, or what its refusal means.
fn explain(
    log: &str,
    linked: &LinkedProgram,
    core: &[CoreOutcome],
    obj: &Object,
    p: &ProgramSpec,
    errno: Option<i32>,
) -> Option<String> {
    poisoned_core(log, linked, core)
        .or_else(|| unknown_to_this_kernel(log, linked))
        .or_else(|| poisoned_map_or_kfunc(log, obj))
        .or_else(|| needs_perfmon(log, p))
        .or_else(|| known_log_line(log, obj))
        .or_else(|| refusal_without_log(log, p, errno))
}

/// An instruction a failed CO-RE relocation poisoned, and why it failed.
fn poisoned_core(log: &str, linked: &LinkedProgram, core: &[CoreOutcome]) -> Option<String> {
    // The verifier prints the failing instruction as `N: (85) call unknown#ID`.
    let failing = |id: i64| -> Option<usize> {
        let needle = format!("unknown#{id}");
        log.lines()
            .filter(|l| l.contains(&needle))
            .find_map(|l| l.split(':').next()?.trim().parse().ok())
    };
    if log.contains(&format!("unknown#{POISON_IMM}")) {
        if let Some(insn) = failing(i64::from(POISON_IMM)) {
            let (place, off) = linked.locate(insn)?;
            let o = core
                .iter()
                .find(|o| o.function == place.name && o.insn == off)?;
            return Some(format!(
                "insn {insn}: CO-RE relocation `{}` ({}) failed: {}",
                o.local,
                o.kind,
                o.failure
                    .as_deref()
                    .or(o.no_match.as_deref())
                    .unwrap_or("no match in the kernel's types")
            ));
        }
        return Some("it reaches an instruction a failed CO-RE relocation poisoned".into());
    }
    None
}

/// A callback or exception callback the verifier of this kernel does not know.
fn unknown_to_this_kernel(log: &str, linked: &LinkedProgram) -> Option<String> {
    // Before 5.13 an ld_imm64 of a function (BPF_PSEUDO_FUNC) is not a subprogram
    // to the verifier, so the func_info the callback brings does not add up.
    if log.contains("number of funcs in func_info doesn't match number of subprogs")
        && linked.insns.iter().any(|i| {
            i.code == oxbpf_sys::uapi::insn::LD_IMM64 && i.src() == oxbpf_sys::uapi::pseudo::FUNC
        })
    {
        return Some(
            "it passes a function by address (a callback, BPF_PSEUDO_FUNC), which this kernel does not know (Linux 5.13)"
                .into(),
        );
    }
    // Before 6.7 the verifier does not know exception callbacks: the one appended for
    // the program's exception_callback decl tag is a function nothing calls, which it
    // does not count as a subprogram either (libbpf appends it the same way).
    if log.contains("number of funcs in func_info doesn't match number of subprogs") {
        if let Some((_, what)) = linked
            .applied
            .iter()
            .find(|(_, what)| what.starts_with("exception callback"))
        {
            return Some(format!(
                "its {} (an exception_callback decl tag), which kernels before Linux 6.7 do not know",
                what.trim_end_matches(" appended")
            ));
        }
    }
    None
}

/// A use of a map left out, or a call of a `__weak` kfunc this kernel lacks.
fn poisoned_map_or_kfunc(log: &str, obj: &Object) -> Option<String> {
    for (i, m) in obj.maps.iter().enumerate() {
        if log.contains(&format!(
            "unknown#{}",
            i64::from(POISON_MAP_BASE) + i as i64
        )) {
            return Some(format!(
                "it uses map `{}`, which was not created (its autocreate was turned off before load)",
                m.name
            ));
        }
    }
    for (i, e) in obj.externs.iter().enumerate() {
        if e.kind != crate::object::ExternKind::Kfunc {
            continue;
        }
        if log.contains(&format!(
            "unknown#{}",
            i64::from(POISON_KFUNC_BASE)
                + crate::reloc::libbpf_extern_index(&obj.externs, i) as i64
        )) {
            return Some(format!(
                "it calls kfunc `{}`, which this kernel does not have (declared __weak, but the call is reachable)",
                e.name
            ));
        }
    }
    None
}

/// Log lines whose meaning needs saying: license, inlined functions, ksyms, helpers.
fn known_log_line(log: &str, obj: &Object) -> Option<String> {
    if log.contains("cannot call GPL-restricted function from non-GPL compatible program") {
        return Some(format!(
            "the object's license is {}, and the kernel lets only GPL-compatible programs (\"GPL\", \"Dual BSD/GPL\", \"Dual MIT/GPL\"...) call GPL-only helpers such as bpf_trace_printk",
            if obj.license.is_empty() {
                "missing (no `license` section)".to_string()
            } else {
                format!("\"{}\"", obj.license)
            }
        ));
    }
    if let Some(func) = log.lines().find_map(|l| {
        l.trim()
            .strip_prefix("The address of function ")?
            .strip_suffix(" cannot be found")
    }) {
        return Some(format!(
            "the kernel's BTF describes {func}, but it has no address (the compiler inlined or dropped it in this build); attach to another function"
        ));
    }
    if log.contains("failed to find the address for kernel symbol") {
        return Some(
            "the kernel resolves typed __ksym variables through kallsyms, and this one lists no data symbols there (built without CONFIG_KALLSYMS_ALL)"
                .into(),
        );
    }
    // A helper id the verifier does not know: newer than this kernel.
    if let Some(id) = log
        .lines()
        .find_map(|l| l.trim().strip_prefix("invalid func unknown#"))
        .and_then(|n| n.trim().parse::<i32>().ok())
    {
        return Some(match helper_name(id) {
            Some(name) => {
                format!("this kernel has no helper {name} (#{id}); it came in a newer Linux")
            }
            None => format!("helper #{id} is not a BPF helper any kernel defines"),
        });
    }
    None
}

/// The base helpers the kernel offers a program only when its loader holds
/// `CAP_PERFMON` (`bpf_base_func_proto`, kernel/bpf/helpers.c): a network program
/// calling one is refused as if the helper did not exist for its type.
const PERFMON_HELPERS: &[&str] = &[
    "bpf_trace_printk",
    "bpf_trace_vprintk",
    "bpf_get_current_task",
    "bpf_get_current_task_btf",
    "bpf_get_current_comm",
    "bpf_probe_read_user",
    "bpf_probe_read_kernel",
    "bpf_probe_read_user_str",
    "bpf_probe_read_kernel_str",
    "bpf_copy_from_user",
    "bpf_copy_from_user_task",
    "bpf_snprintf",
    "bpf_snprintf_btf",
    "bpf_task_pt_regs",
    "bpf_per_cpu_ptr",
    "bpf_this_cpu_ptr",
];

/// A verifier refusal that holds only for a loader without `CAP_PERFMON`: the verifier
/// lets such a loader neither combine or compare pointers nor leak them into maps
/// (`allow_ptr_leaks`, "... prohibited", "leaks addr"), and the kernel hides the
/// [`PERFMON_HELPERS`] from it. A network program computing `data_end - data` meets
/// the first; one calling `bpf_printk` the second.
fn needs_perfmon(log: &str, p: &ProgramSpec) -> Option<String> {
    let t = p.prog_type?;
    let last = last_line(log)?;
    let pointer_rule = last.contains(" pointer prohibited")
        || last.contains("pointer comparison prohibited")
        || last.contains("prohibited for !root")
        || last.contains("leaks addr");
    let helper = last
        .strip_prefix("program of this type cannot use helper ")
        .and_then(|h| h.split('#').next())
        .filter(|h| PERFMON_HELPERS.contains(h));
    if !pointer_rule && helper.is_none() {
        return None;
    }
    let mut needed = caps::needed_to_load(t).to_vec();
    if !needed.contains(&caps::Cap::PERFMON) {
        needed.push(caps::Cap::PERFMON);
    }
    let needs = caps::missing(&needed)?;
    Some(match helper {
        Some(h) => format!(
            "the kernel offers {h} to {t} programs only when the loader holds CAP_PERFMON: this program {needs}"
        ),
        None => format!(
            "the verifier allows that only when the loader holds CAP_PERFMON: this program {needs}"
        ),
    })
}

/// A refusal the log does not explain: an unsupported type or flag, privileges.
fn refusal_without_log(log: &str, p: &ProgramSpec, errno: Option<i32>) -> Option<String> {
    if let Some(t) = p.prog_type
        && errno == Some(libc::EINVAL)
        && crate::probe::prog_type_supported(t) == Some(false)
    {
        return Some(format!("this kernel does not support {t} programs"));
    }
    // BPF_F_XDP_HAS_FRAGS came in 5.18; before, the unknown flag is a bare EINVAL.
    if p.section_flags() & flags::XDP_FRAGS != 0
        && errno == Some(libc::EINVAL)
        && log.trim().is_empty()
        && oxbpf_sys::version::KernelVersion::current()
            .is_some_and(|v| (v.major, v.minor) < (5, 18))
    {
        return Some(
            "xdp.frags programs (BPF_F_XDP_HAS_FRAGS, multi-buffer packets) need Linux 5.18".into(),
        );
    }
    match errno {
        Some(libc::EPERM) if log.trim().is_empty() => Some(not_permitted(p)),
        Some(libc::E2BIG) => Some("the program is too large for this kernel".into()),
        _ => None,
    }
}

/// Why the kernel answered `EPERM` with no verifier log. `bpf_prog_load` checks the
/// capabilities of the program's type before the verifier runs, so that is the first
/// suspect: the message names the ones this process lacks. Holding them all, a tracing
/// program is refused that way where the kernel cannot build a trampoline; other
/// refusals come from a security module.
fn not_permitted(p: &ProgramSpec) -> String {
    let Some(t) = p.prog_type else {
        return "loading programs needs CAP_BPF (or CAP_SYS_ADMIN before Linux 5.8), and CAP_PERFMON for tracing; run as root".into();
    };
    let needed = caps::needed_to_load(t);
    if let Some(needs) = caps::missing(needed) {
        return format!("loading {t} programs {needs}");
    }
    match t {
        ProgType::TRACING | ProgType::LSM | ProgType::EXT => format!(
            "the kernel refused it with no verifier log: it cannot build BPF trampolines for {} programs (BPF JIT or ftrace direct calls missing), or the target cannot be traced",
            p.section_def
                .map_or("tracing", |d| d.pattern.trim_end_matches(['+', '/']))
        ),
        _ => format!(
            "the kernel refused it although this process holds {}, which it checks for {t} programs: a security module (lockdown, SELinux, a BPF LSM) may forbid it",
            needed
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// Loads one linked program; retries with a growing log on refusal.
fn load_one(
    attr: &ProgLoadAttr,
    linked: &LinkedProgram,
    license: &CString,
    fd_array: &[i32],
    log_level: u32,
) -> (Result<OwnedFd, SysError>, String) {
    let fi = linked.func_info_bytes();
    let li = linked.line_info_bytes();
    let mut attr = *attr;
    let attempt = |attr: &ProgLoadAttr, log: &mut [u8]| {
        bpf::prog_load(
            attr,
            ProgLoadData {
                insns: &linked.insns,
                license,
                log,
                func_info: &fi,
                line_info: &li,
                fd_array,
            },
        )
    };
    // First attempt: the log only if one was asked for.
    let mut log = vec![0u8; if log_level > 0 { LOG_START } else { 0 }];
    attr.log_level = log_level;
    let mut first = attempt(&attr, &mut log);
    // Before 5.11 programs are charged to RLIMIT_MEMLOCK (64 KiB by default): EPERM
    // once it is used up. Raise it and try again, as libbpf does.
    if matches!(&first, Err(e) if e.errno() == Some(libc::EPERM))
        && oxbpf_sys::rlimit::raise_memlock().is_ok()
    {
        first = attempt(&attr, &mut log);
    }
    let text = |log: &[u8]| {
        String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(log.len())])
            .into_owned()
    };
    match first {
        Ok(fd) => return (Ok(fd), text(&log)),
        Err(e) if log_level > 0 && e.errno() != Some(libc::ENOSPC) => return (Err(e), text(&log)),
        Err(_) => {}
    }
    // Refused: again with a log, grown until it fits.
    let mut size = LOG_START;
    attr.log_level = log_level.max(1);
    loop {
        let mut log = vec![0u8; size];
        match attempt(&attr, &mut log) {
            Ok(fd) => return (Ok(fd), text(&log)),
            Err(e) if e.errno() == Some(libc::ENOSPC) && size < LOG_MAX => size *= 4,
            Err(e) => return (Err(e), text(&log)),
        }
    }
}

/// The last non-empty line of a log, for one-line messages.
fn last_line(log: &str) -> Option<&str> {
    log.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("processed "))
}

/// `bpf_probe_read_{user,kernel}` and their `_str` forms (helpers 112 to 115, Linux
/// 5.5) become `bpf_probe_read`/`bpf_probe_read_str` on kernels without them, as libbpf
/// does: the old helpers read kernel and user memory alike where that works. Returns
/// how many calls were rewritten.
fn adapt_probe_reads(insns: &mut [Insn], prog_type: ProgType, prog: &str) -> usize {
    if !insns.iter().any(is_new_probe_read) {
        return 0;
    }
    // Probed with a kprobe program, as libbpf does, for the types that cannot be probed
    // without an attach target.
    let probe_type = match prog_type {
        ProgType::TRACING | ProgType::LSM | ProgType::EXT => ProgType::KPROBE,
        t => t,
    };
    if crate::probe::helper_supported(probe_type, 113) != Some(false) {
        return 0;
    }
    rewrite_probe_reads(insns, prog)
}

fn is_new_probe_read(i: &Insn) -> bool {
    i.is_call() && i.src() == 0 && (112..=115).contains(&i.imm)
}

fn rewrite_probe_reads(insns: &mut [Insn], prog: &str) -> usize {
    let mut n = 0;
    for (at, insn) in insns.iter_mut().enumerate() {
        if is_new_probe_read(insn) {
            // 112 probe_read_user, 113 probe_read_kernel -> 4 probe_read;
            // 114 and 115, their _str forms -> 45 probe_read_str.
            let new = if insn.imm <= 113 { 4 } else { 45 };
            log::debug!(
                "program `{prog}`: insn {at}: this kernel has no {}; calling {} instead",
                helper_name(insn.imm).unwrap_or_default(),
                helper_name(new).unwrap_or_default()
            );
            insn.imm = new;
            n += 1;
        }
    }
    n
}

/// The programs that loaded, and with `keep_going` those that did not.
pub(super) struct ProgramsLoaded {
    pub programs: Vec<Program>,
    pub failures: Vec<ProgramFailure>,
    /// Verifier logs kept (by program name), when a log level was asked for.
    pub logs: HashMap<String, String>,
}

impl Loader<'_> {
    /// Loads every selected program; with `keep_going`, failures are collected instead
    /// of ending the load.
    pub(super) fn load_programs(
        &mut self,
        resolver: &Resolver,
    ) -> Result<ProgramsLoaded, LoadError> {
        let mut out = ProgramsLoaded {
            programs: Vec::new(),
            failures: Vec::new(),
            logs: HashMap::new(),
        };
        for i in self.selected.clone() {
            match self.load_program(i, resolver) {
                Ok((prog, log)) => {
                    if self.opts.log_level > 0 {
                        out.logs.insert(prog.name().to_string(), log);
                    }
                    out.programs.push(prog);
                }
                Err(e) if self.opts.keep_going => {
                    // Reported in `Loaded::failures`, which the caller shows as it likes.
                    log::debug!("keep going after: {}", chain(&e));
                    out.failures.push(ProgramFailure {
                        name: self.obj.programs[i].name().to_string(),
                        error: e,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        if out.programs.is_empty() && !out.failures.is_empty() {
            // Nothing loaded: a single failure is reported as itself.
            if out.failures.len() == 1 {
                return Err(out.failures.remove(0).error);
            }
            return Err(LoadError::NothingLoaded(out.failures));
        }
        Ok(out)
    }

    /// Links program `index`, builds its `BPF_PROG_LOAD` attributes and loads it.
    fn load_program(
        &mut self,
        index: usize,
        resolver: &Resolver,
    ) -> Result<(Program, String), LoadError> {
        let obj = &*self.obj;
        let p = &obj.programs[index];
        let prog_type = p.prog_type.ok_or_else(|| LoadError::NoType {
            prog: p.name().to_string(),
            section: p.section().to_string(),
        })?;
        let ext = if self.btf_fd.is_some() {
            obj.ext()
        } else {
            None
        };
        let mut linked = link_program(obj, index, resolver, ext).map_err(LoadError::Reloc)?;
        refuse_unrelocated_core(p, &linked, &self.core)?;
        adapt_probe_reads(&mut linked.insns, prog_type, p.name());
        for (insn, what) in &linked.applied {
            log::trace!("program `{}`: insn {insn}: {what}", p.name());
        }
        let mut attr = load_attr(
            obj,
            p,
            prog_type,
            &linked,
            self.btf_fd.as_ref(),
            self.kernel.as_mut(),
            &mut self.module_fds,
        )?;
        if prog_type == ProgType::STRUCT_OPS {
            // The kernel struct and member it fills (libbpf: "isn't referenced anywhere"
            // for one no struct_ops map names).
            let t = self.struct_ops_targets.get(p.name()).ok_or_else(|| {
                LoadError::AttachTarget {
                    prog: p.name().to_string(),
                    why: "a SEC(\"struct_ops\") program no struct_ops map names: nothing to load it for".into(),
                }
            })?;
            attr.attach_btf_id = t.kern_type_id.0;
            attr.expected_attach_type = AttachType(t.member);
            if let Some(fd) = t.module_fd {
                attr.attach_btf_obj_fd = fd as u32;
            }
        }
        // The kernel reads the license as a C string; an object without one is not GPL.
        let license = CString::new(obj.license.replace('\0', "")).unwrap_or_default();
        // Module BTFs of kfuncs (and of nothing else yet) by index; index 0 is vmlinux.
        let fd_array = self.module_fds.fd_array();
        let (result, log) = load_one(&attr, &linked, &license, &fd_array, self.opts.log_level);
        match result {
            Ok(fd) => {
                log::debug!(
                    "program `{}`: loaded ({} insns, {prog_type})",
                    p.name(),
                    linked.insns.len()
                );
                Ok((
                    Program::new(fd, p.name(), prog_type, expected_attach_type(p))
                        .with_section(p.section(), p.attach_target.as_deref()),
                    log,
                ))
            }
            Err(error) => Err(rejected(&log, &linked, &self.core, obj, p, error)),
        }
    }
}

/// A CO-RE relocation left as compiled (no BTF to resolve it against) in any function
/// of this program: refused, naming the first.
fn refuse_unrelocated_core(
    p: &ProgramSpec,
    linked: &LinkedProgram,
    core: &[CoreOutcome],
) -> Result<(), LoadError> {
    let Some(o) = core.iter().find(|o| {
        o.unapplied()
            && linked
                .placements
                .iter()
                .any(|pl| pl.name == o.function && pl.section == o.section)
    }) else {
        return Ok(());
    };
    Err(LoadError::NoCoreTarget(Box::new(super::NoCoreTarget {
        prog: p.name().to_string(),
        function: o.function.clone(),
        insn: o.insn,
        relocation: o.local.clone(),
        kind: o.kind.to_string(),
        why: o.failure.clone().unwrap_or_default(),
    })))
}

/// The attach type a program is loaded for: its section's, except that USDT programs
/// are loaded for uprobe_multi links where the kernel has them, as libbpf does
/// (`libbpf_prepare_prog_load`).
fn expected_attach_type(p: &ProgramSpec) -> Option<AttachType> {
    if p.section_flags() & flags::USDT != 0 && crate::probe::uprobe_multi_links() {
        Some(AttachType::TRACE_UPROBE_MULTI)
    } else {
        p.expected_attach_type
    }
}

/// The `BPF_PROG_LOAD` attributes of a linked program (without the buffers, which
/// [`load_one`] adds).
fn load_attr(
    obj: &Object,
    p: &ProgramSpec,
    prog_type: ProgType,
    linked: &LinkedProgram,
    btf_fd: Option<&OwnedFd>,
    kernel: Option<&mut KernelBtf>,
    fds: &mut ModuleFds,
) -> Result<ProgLoadAttr, LoadError> {
    let mut attr = ProgLoadAttr {
        prog_type,
        expected_attach_type: expected_attach_type(p).unwrap_or_default(),
        kern_version: obj.kern_version.unwrap_or_else(|| {
            oxbpf_sys::version::KernelVersion::current().map_or(0, |v| v.code())
        }),
        ..Default::default()
    };
    attr.set_name(p.name());
    if p.sleepable() {
        attr.prog_flags |= prog_flags::SLEEPABLE;
    }
    if p.section_flags() & flags::XDP_FRAGS != 0 {
        attr.prog_flags |= prog_flags::XDP_HAS_FRAGS;
    }
    if p.section_flags() & flags::ATTACH_BTF != 0 {
        let (id, obj_fd) = attach_btf_id(p, kernel, fds)?;
        attr.attach_btf_id = id;
        if let Some(fd) = obj_fd {
            attr.attach_btf_obj_fd = fd as u32;
        }
    }
    if let Some(fd) = btf_fd {
        attr.prog_btf_fd = fd.as_raw_fd() as u32;
        if !linked.func_info.is_empty() {
            attr.func_info_rec_size = 8;
            attr.line_info_rec_size = 16;
        }
    }
    Ok(attr)
}

/// The error for a program the kernel refused: the log's last line, and what oxbpf can
/// tell of the cause.
fn rejected(
    log: &str,
    linked: &LinkedProgram,
    core: &[CoreOutcome],
    obj: &Object,
    p: &ProgramSpec,
    error: SysError,
) -> LoadError {
    let explanation = explain(log, linked, core, obj, p, error.errno());
    let summary = match last_line(log) {
        Some(l) => format!("the verifier rejected it: {l}"),
        None => format!("{}: {}", error, error.source),
    };
    LoadError::Program(Box::new(ProgramRejected {
        prog: p.name().to_string(),
        section: p.section().to_string(),
        summary,
        explanation,
        log: log.to_string(),
        error,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_probe_reads_become_the_old_helpers() {
        let call = |id| Insn::new(0x85, 0, 0, 0, id);
        let mut insns = vec![
            call(112),
            call(113),
            call(114),
            call(115),
            call(1),
            // A call to a subprogram (src 1) with the same number is not a helper.
            Insn::new(0x85, 0, 1, 0, 113),
        ];
        assert_eq!(rewrite_probe_reads(&mut insns, "p"), 4);
        let imms: Vec<i32> = insns.iter().map(|i| i.imm).collect();
        assert_eq!(imms, [4, 4, 45, 45, 1, 113]);
    }
}
