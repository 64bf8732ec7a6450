//! From an object's functions to the instruction stream of one program, ready for
//! `BPF_PROG_LOAD` (libbpf `bpf_object__relocate` and `bpf_object__reloc_code`).
//!
//! 1. **Link.** The program's own instructions come first; every function it calls
//!    (or passes as a callback, as `bpf_loop` takes one) is appended once, after them,
//!    depth first in instruction order as libbpf does, so the layout (and the program
//!    tag) is libbpf's. Calls to static functions of the same section carry no ELF
//!    relocation and are followed by their `imm`. Call and function-address immediates
//!    become instruction distances within the new stream.
//! 2. **Resolve.** `ld_imm64` of a map becomes `BPF_PSEUDO_MAP_FD` with the map's fd;
//!    of global data, `BPF_PSEUDO_MAP_VALUE` with the data map's fd and the offset; of a
//!    `.kconfig` extern, the `.kconfig` map's value at the extern's slot; of a typed
//!    `__ksym`, `BPF_PSEUDO_BTF_ID`; of a typeless one, its address. A kfunc call
//!    becomes `BPF_PSEUDO_KFUNC_CALL` with the kernel's BTF id; an unresolved weak kfunc
//!    becomes a call the verifier refuses only if reached.
//! 3. **Rebase** func_info and line_info: each appended function's records move with
//!    it, as instruction indices (the kernel's unit) rather than the bytes of `.BTF.ext`.
//!
//! Pure: fds and kernel ids come in through [`Resolver`]; no syscalls here.

use oxbpf_uapi::{Insn, pseudo};

use crate::btf::TypeId;
use crate::btf::ext::BtfExt;
use crate::object::{Function, Object, RelocKind};

/// libbpf's base for poisoned loads of maps that were not created:
/// `call 2001000000 + map index`, in both slots of the `ld_imm64`.
pub const POISON_MAP_BASE: i32 = 2_001_000_000;

/// libbpf's base for poisoned calls to weak kfuncs that are not in the kernel:
/// `call 2002000000 + extern index` ([`libbpf_extern_index`]).
pub const POISON_KFUNC_BASE: i32 = 2_002_000_000;

/// The index libbpf gives extern `ext` (its place in `obj->externs` after
/// `cmp_externs` sorted them: `.kconfig` externs first, then ksyms and kfuncs by name),
/// which poisoned kfunc calls carry, so the instruction is libbpf's.
pub fn libbpf_extern_index(externs: &[crate::object::Extern], ext: usize) -> usize {
    use crate::object::ExternKind;
    let Some(e) = externs.get(ext) else {
        return ext;
    };
    let kconfig = |k: ExternKind| matches!(k, ExternKind::Kconfig | ExternKind::Unknown);
    if kconfig(e.kind) {
        return ext;
    }
    externs.iter().filter(|x| kconfig(x.kind)).count()
        + externs
            .iter()
            .filter(|x| !kconfig(x.kind) && x.name.as_bytes() < e.name.as_bytes())
            .count()
}

/// How an extern resolved against the running kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternValue {
    /// A `.kconfig` value: at this offset of the `.kconfig` map's value.
    Kconfig {
        /// Offset in the map value.
        offset: u32,
    },
    /// A typed `__ksym` variable: its BTF id, and the fd of the BTF object holding it
    /// (0 for vmlinux).
    KsymBtf {
        /// BTF id of the VAR.
        btf_id: TypeId,
        /// Module BTF fd, 0 for vmlinux.
        btf_fd: i32,
    },
    /// A typeless `__ksym`: its address from `/proc/kallsyms` (0 for a missing weak one).
    KsymAddr(u64),
    /// A kfunc: its BTF id, and where its BTF object is: its index in the program's
    /// fd_array (for calls) and its fd (for an ld_imm64 of its address); 0 for vmlinux.
    Kfunc {
        /// BTF id of the FUNC.
        btf_id: TypeId,
        /// `fd_array` index of the module BTF, 0 for vmlinux.
        fd_index: i16,
        /// Fd of the module BTF, 0 for vmlinux.
        btf_fd: i32,
    },
    /// A weak extern the kernel does not have.
    Missing,
}

/// The kernel-side facts relocation needs: fds of the maps created for the object and
/// how each extern resolved.
#[derive(Debug, Default, Clone)]
pub struct Resolver {
    /// Fd of each map of `Object::maps`, by index.
    pub map_fds: Vec<i32>,
    /// Fd of the data map of each `Object::data` section, by index.
    pub data_fds: Vec<i32>,
    /// Fd of the `.kconfig` map, if the object has `.kconfig` externs.
    pub kconfig_fd: Option<i32>,
    /// Resolution of each extern of `Object::externs`, by index.
    pub externs: Vec<ExternValue>,
    /// The kernel reads BTF decl tags (5.16): only then are exception callbacks
    /// (`exception_callback:NAME` tags) appended to their programs, as libbpf does.
    pub decl_tags: bool,
    /// Where `.addr_space.1` starts in the arena: 0, or on kernels that take any
    /// ld_imm64 offset its last pages (libbpf 1.7's `arena_data_off`).
    pub arena_offset: u64,
}

impl Resolver {
    /// Fds that stand for maps never created (100 + index for maps, 200 + index for
    /// data sections, 300 for `.kconfig`) and every extern missing: for linking an
    /// object without the kernel (tests, fuzzing: the `testing` feature).
    #[cfg(any(test, feature = "testing"))]
    pub fn stand_in(obj: &Object) -> Resolver {
        Resolver {
            map_fds: (0..obj.maps.len() as i32).map(|i| 100 + i).collect(),
            data_fds: (0..obj.data.len() as i32).map(|i| 200 + i).collect(),
            kconfig_fd: Some(300),
            externs: vec![ExternValue::Missing; obj.externs.len()],
            decl_tags: true,
            arena_offset: 0,
        }
    }
}

/// Why a program could not be linked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelocError {
    /// A call or function address points into no known function, or into the middle of
    /// one.
    #[error(
        "program `{prog}`: insn #{insn} refers to section #{section} insn #{target}, which is not the start of a function"
    )]
    BadTarget {
        /// The program being linked.
        prog: String,
        /// Instruction index in the linked program.
        insn: usize,
        /// Target section.
        section: usize,
        /// Target instruction.
        target: usize,
    },
    /// A relocation refers to something the resolver has no fd or value for.
    #[error("program `{prog}`: insn #{insn}: {what}")]
    Unresolved {
        /// The program being linked.
        prog: String,
        /// Instruction index in the linked program.
        insn: usize,
        /// What is missing.
        what: String,
    },
    /// The linked program is too large for instruction offsets.
    #[error("program `{0}` is too large to link")]
    TooLarge(String),
}

/// A func_info record for the kernel: instruction index and BTF FUNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfoRec {
    /// Instruction index in the linked program.
    pub insn_off: u32,
    /// The FUNC's BTF id.
    pub type_id: u32,
}

/// A line_info record for the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfoRec {
    /// Instruction index in the linked program.
    pub insn_off: u32,
    /// BTF string offset of the file name.
    pub file_name_off: u32,
    /// BTF string offset of the source line.
    pub line_off: u32,
    /// `line << 10 | column`.
    pub line_col: u32,
}

/// Where one function landed in a linked program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The function's name.
    pub name: String,
    /// Its section.
    pub section: String,
    /// Its section's header index.
    pub section_index: usize,
    /// Its first instruction in its section.
    pub insn_offset: usize,
    /// First instruction in the linked program.
    pub start: usize,
    /// Number of instructions.
    pub len: usize,
}

impl Placement {
    fn of(f: &Function, start: usize) -> Placement {
        Placement {
            name: f.name.clone(),
            section: f.section.clone(),
            section_index: f.section_index,
            insn_offset: f.insn_offset,
            start,
            len: f.insns.len(),
        }
    }
}

/// A program ready for `BPF_PROG_LOAD`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedProgram {
    /// The instructions.
    pub insns: Vec<Insn>,
    /// The program's function first, then each appended one.
    pub placements: Vec<Placement>,
    /// func_info, one per function, by instruction index.
    pub func_info: Vec<FuncInfoRec>,
    /// line_info, by instruction index.
    pub line_info: Vec<LineInfoRec>,
    /// Each relocation applied: linked instruction index and a description, for logs.
    pub applied: Vec<(usize, String)>,
}

impl LinkedProgram {
    /// func_info as the kernel reads it (8 bytes per record, native order).
    pub fn func_info_bytes(&self) -> Vec<u8> {
        self.func_info
            .iter()
            .flat_map(|r| [r.insn_off.to_ne_bytes(), r.type_id.to_ne_bytes()].concat())
            .collect()
    }

    /// line_info as the kernel reads it (16 bytes per record, native order).
    pub fn line_info_bytes(&self) -> Vec<u8> {
        self.line_info
            .iter()
            .flat_map(|r| {
                [
                    r.insn_off.to_ne_bytes(),
                    r.file_name_off.to_ne_bytes(),
                    r.line_off.to_ne_bytes(),
                    r.line_col.to_ne_bytes(),
                ]
                .concat()
            })
            .collect()
    }

    /// The function and in-function index of linked instruction `insn`.
    pub fn locate(&self, insn: usize) -> Option<(&Placement, usize)> {
        self.placements
            .iter()
            .find(|p| (p.start..p.start + p.len).contains(&insn))
            .map(|p| (p, insn - p.start))
    }
}

/// Every function of the object (programs and subprograms), for call resolution.
fn all_functions(obj: &Object) -> Vec<&Function> {
    obj.programs
        .iter()
        .map(|p| &p.function)
        .chain(obj.subprograms.iter())
        .collect()
}

/// Links program `prog_index` of `obj` and resolves its relocations.
///
/// # Errors
/// Calls into the middle of functions, relocations the resolver cannot satisfy,
/// programs too large for 32-bit offsets.
pub fn link_program(
    obj: &Object,
    prog_index: usize,
    resolver: &Resolver,
    ext: Option<&BtfExt>,
) -> Result<LinkedProgram, RelocError> {
    let funcs = all_functions(obj);
    let main = obj
        .programs
        .get(prog_index)
        .map(|p| &p.function)
        .ok_or_else(|| unresolved(&format!("#{prog_index}"), 0, "no such program".into()))?;
    let prog = main.name.clone();
    let exception_cb = if resolver.decl_tags {
        exception_callback(obj, &prog)
            .map_err(|why| unresolved(&prog, 0, why))?
            .map(|name| {
                obj.subprograms
                    .iter()
                    .find(|f| f.name == name)
                    .ok_or_else(|| {
                        unresolved(&prog, 0, format!("cannot find exception callback `{name}`"))
                    })
            })
            .transpose()?
    } else {
        None
    };
    if let Some(cb) = exception_cb.filter(|cb| !cb.global || cb.hidden) {
        return Err(unresolved(
            &prog,
            0,
            format!(
                "exception callback `{}` must be a global function, not static or __hidden",
                cb.name
            ),
        ));
    }
    let mut linked = link_calls(main, exception_cb, &funcs)?;
    for p in linked.placements.clone() {
        let Some(f) = funcs
            .iter()
            .find(|f| f.section_index == p.section_index && f.insn_offset == p.insn_offset)
        else {
            continue;
        };
        for r in &f.relocs {
            resolve(obj, &prog, f, p.start, r, resolver, &mut linked)?;
        }
    }
    let (func_info, line_info) = match ext {
        Some(ext) => rebase_ext(ext, &linked.placements, &funcs),
        None => (Vec::new(), Vec::new()),
    };
    u32::try_from(linked.insns.len()).map_err(|_| RelocError::TooLarge(prog.clone()))?;
    Ok(LinkedProgram {
        insns: linked.insns,
        placements: linked.placements,
        func_info,
        line_info,
        applied: linked.applied,
    })
}

/// A program while it is being linked.
struct Linking {
    insns: Vec<Insn>,
    placements: Vec<Placement>,
    applied: Vec<(usize, String)>,
}

/// Whether `insn` is a BPF-to-BPF call (libbpf `insn_is_subprog_call`).
fn is_subprog_call(insn: &Insn) -> bool {
    insn.is_call() && insn.src() == pseudo::CALL && insn.dst() == 0 && insn.off == 0
}

/// Whether `insn` loads a function's address (libbpf `insn_is_pseudo_func`).
fn is_pseudo_func(insn: &Insn) -> bool {
    insn.is_ld_imm64() && insn.src() == pseudo::FUNC
}

/// Step 1, in libbpf's order (`bpf_object__reloc_code`): the instructions of each
/// function are walked in order; the first call (or callback address) to a function not
/// yet in the program appends it and walks it at once, depth first, before the walk
/// goes on. The layout — and so the program tag — is the one libbpf produces.
///
/// A call with an ELF relocation targets what the relocation names. A call without one
/// is a call to a static function of the same section, which clang leaves unrelocated:
/// its `imm` counts from the call's own place in the section (`sec_insn_off + insn_idx
/// + imm + 1`). A function address always carries a relocation.
fn link_calls<'a>(
    main: &'a Function,
    exception_cb: Option<&'a Function>,
    funcs: &[&'a Function],
) -> Result<Linking, RelocError> {
    let prog = main.name.clone();
    let mut l = Linking {
        insns: main.insns.clone(),
        placements: vec![Placement::of(main, 0)],
        applied: Vec::new(),
    };
    // (function, its start in the program, next instruction to look at).
    let mut stack: Vec<(&Function, usize, usize)> = vec![(main, 0, 0)];
    let mut exception_cb = exception_cb;
    loop {
        let Some(top) = stack.last_mut() else {
            // Nothing calls an exception callback (the verifier forbids it), so once
            // the program and what it calls are in, libbpf appends it, then walks it.
            let Some(cb) = exception_cb.take() else { break };
            if l.start_of(cb.section_index, cb.insn_offset).is_none() {
                let s = l.append(cb, &mut stack);
                l.applied
                    .push((s, format!("exception callback `{}` appended", cb.name)));
            }
            continue;
        };
        let (f, base, idx) = (top.0, top.1, top.2);
        if idx >= f.insns.len() {
            stack.pop();
            continue;
        }
        top.2 += 1;
        let insn = f.insns[idx];
        let reloc = f.relocs.iter().find(|r| r.insn == idx);
        // clang leaves a function address as a plain ld_imm64 with a relocation; libbpf
        // marks those BPF_PSEUDO_FUNC before linking.
        let addr = is_pseudo_func(&insn)
            || insn.is_ld_imm64()
                && reloc.is_some_and(|r| matches!(r.kind, RelocKind::FuncAddr { .. }));
        if !addr && !is_subprog_call(&insn) {
            continue;
        }
        let site = CallSite {
            prog: &prog,
            f,
            idx,
            at: base + idx,
            addr,
            reloc,
        };
        let Some((section, target)) = site.target()? else {
            continue;
        };
        let callee = funcs
            .iter()
            .find(|c| c.section_index == section && c.insn_offset == target)
            .ok_or(RelocError::BadTarget {
                prog: prog.clone(),
                insn: site.at,
                section,
                target,
            })?;
        let start = match l.start_of(section, target) {
            Some(start) => start,
            None => l.append(callee, &mut stack),
        };
        site.link(&mut l, callee, start)?;
    }
    Ok(l)
}

impl Linking {
    /// Where the function at `insn_offset` of `section_index` starts in the program,
    /// if it is in already.
    fn start_of(&self, section_index: usize, insn_offset: usize) -> Option<usize> {
        self.placements
            .iter()
            .find(|p| p.section_index == section_index && p.insn_offset == insn_offset)
            .map(|p| p.start)
    }

    /// Appends `f` to the program and pushes it to be walked next; returns its start.
    fn append<'a>(
        &mut self,
        f: &'a Function,
        stack: &mut Vec<(&'a Function, usize, usize)>,
    ) -> usize {
        let s = self.insns.len();
        self.insns.extend_from_slice(&f.insns);
        self.placements.push(Placement::of(f, s));
        stack.push((f, s, 0));
        s
    }
}

/// A call or function address met by [`link_calls`]: instruction `idx` of `f`, at `at`
/// in the program.
struct CallSite<'a> {
    prog: &'a str,
    f: &'a Function,
    idx: usize,
    at: usize,
    /// A function address (ld_imm64), not a call.
    addr: bool,
    reloc: Option<&'a crate::object::Reloc>,
}

impl CallSite<'_> {
    fn what(&self) -> &'static str {
        if self.addr {
            "function address"
        } else {
            "call"
        }
    }

    /// The `(section, instruction)` the site targets, from its relocation or, for a
    /// call clang left unrelocated, from its `imm`; `None` for a kfunc call (resolved
    /// with the other externs).
    fn target(&self) -> Result<Option<(usize, usize)>, RelocError> {
        let (f, idx) = (self.f, self.idx);
        if self.addr && idx + 1 >= f.insns.len() {
            return Err(unresolved(
                self.prog,
                self.at,
                format!(
                    "the function address at instruction {idx} of `{}` ({} instructions) is cut off by the function's end",
                    f.name,
                    f.insns.len()
                ),
            ));
        }
        match self.reloc.map(|r| (&r.kind, r.symbol.as_str())) {
            Some((RelocKind::ExternCall { .. }, _)) => Ok(None),
            Some((
                RelocKind::Call {
                    section_index,
                    insn,
                }
                | RelocKind::FuncAddr {
                    section_index,
                    insn,
                },
                _,
            )) => Ok(Some((*section_index, *insn))),
            Some((_, symbol)) => Err(unresolved(
                self.prog,
                self.at,
                format!(
                    "the {} at instruction {idx} of `{}` carries a relocation for `{symbol}`, which is not a function",
                    self.what(),
                    f.name,
                ),
            )),
            None if self.addr => Err(unresolved(
                self.prog,
                self.at,
                format!(
                    "the function address at instruction {idx} of `{}` has no relocation",
                    f.name
                ),
            )),
            None => {
                let target = (f.insn_offset + idx + 1) as i64 + i64::from(f.insns[idx].imm);
                let target = usize::try_from(target).map_err(|_| RelocError::BadTarget {
                    prog: self.prog.to_string(),
                    insn: self.at,
                    section: f.section_index,
                    target: 0,
                })?;
                Ok(Some((f.section_index, target)))
            }
        }
    }

    /// Points the site at `callee`, placed at `start`.
    fn link(&self, l: &mut Linking, callee: &Function, start: usize) -> Result<(), RelocError> {
        let at = self.at;
        let rel = i32::try_from(start as i64 - at as i64 - 1)
            .map_err(|_| RelocError::TooLarge(self.prog.to_string()))?;
        l.insns[at].imm = rel;
        let how = if self.reloc.is_some() {
            ""
        } else {
            " (no ELF relocation: same section)"
        };
        if self.addr {
            l.insns[at].set_src(pseudo::FUNC);
            l.insns[at + 1].imm = 0;
            l.applied.push((
                at,
                format!(
                    "ld_imm64 of `{}`: BPF_PSEUDO_FUNC {rel:+}{how}",
                    callee.name
                ),
            ));
        } else {
            l.applied
                .push((at, format!("call `{}`: {rel:+}{how}", callee.name)));
        }
        Ok(())
    }
}

/// The exception callback of program `prog` (libbpf `bpf_prog_assign_exc_cb`): the
/// function named by an `exception_callback:NAME` decl tag on the program's BTF FUNC.
/// Every such tag must sit on a global function; two on one program name none (the
/// verifier then complains, not the loader).
fn exception_callback(obj: &Object, prog: &str) -> Result<Option<String>, String> {
    const PREFIX: &str = "exception_callback:";
    let Some(btf) = &obj.btf else { return Ok(None) };
    let mut found: Option<String> = None;
    for id in btf.ids() {
        let Ok(t) = btf.type_by_id(id) else { continue };
        if t.kind() != crate::btf::Kind::DeclTag || t.decl_tag_component() != Ok(-1) {
            continue;
        }
        let Some(name) = t.name().ok().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let target = t
            .ref_type()
            .and_then(|r| btf.type_by_id(r))
            .map_err(|e| format!("exception_callback decl tag [{}]: {e}", id.0))?;
        if target.kind() != crate::btf::Kind::Func
            || target.linkage() != Ok(crate::btf::Linkage::Global)
        {
            return Err(format!(
                "exception_callback:{name} decl tag [{}] is not on a global function (a program)",
                id.0
            ));
        }
        if target.name().ok() != Some(prog) {
            continue;
        }
        if found.is_some() {
            return Ok(None);
        }
        if name.is_empty() {
            return Err("exception_callback: decl tag names no function".into());
        }
        found = Some(name.to_string());
    }
    Ok(found)
}

/// Step 2: one relocation of function `f`, placed at `base` (calls were linked in step 1).
fn resolve(
    obj: &Object,
    prog: &str,
    f: &Function,
    base: usize,
    r: &crate::object::Reloc,
    resolver: &Resolver,
    l: &mut Linking,
) -> Result<(), RelocError> {
    let at = base + r.insn;
    check_in_function(prog, f, r, at)?;
    let insns = &mut l.insns[..];
    let applied = match r.kind {
        // Linked in step 1.
        RelocKind::Call { .. } | RelocKind::FuncAddr { .. } => return Ok(()),
        RelocKind::Map { map } => {
            let fd = *resolver
                .map_fds
                .get(map)
                .ok_or_else(|| unresolved(prog, at, format!("no fd for map `{}`", r.symbol)))?;
            map_fd(insns, at, map, fd, &r.symbol)
        }
        RelocKind::Data { data, offset } => {
            let fd = *resolver.data_fds.get(data).ok_or_else(|| {
                unresolved(
                    prog,
                    at,
                    format!("no map for data section of `{}`", r.symbol),
                )
            })?;
            insns[at].set_src(pseudo::MAP_VALUE);
            insns[at].imm = fd;
            insns[at + 1].imm = offset as i32;
            format!("`{}`: BPF_PSEUDO_MAP_VALUE fd {fd} + {offset}", r.symbol)
        }
        RelocKind::Arena { map, offset } => {
            let fd = *resolver.map_fds.get(map).ok_or_else(|| {
                unresolved(prog, at, format!("no fd for the arena of `{}`", r.symbol))
            })?;
            if fd < 0 {
                // The arena map is not created: the instruction is poisoned as any
                // reference to it (libbpf's RELO_DATA on a map without autocreate).
                map_fd(insns, at, map, fd, &r.symbol)
            } else {
                let offset = resolver.arena_offset + offset;
                insns[at].set_src(pseudo::MAP_VALUE);
                insns[at].imm = fd;
                insns[at + 1].imm = offset as i32;
                format!(
                    "`{}`: BPF_PSEUDO_MAP_VALUE arena fd {fd} + {offset}",
                    r.symbol
                )
            }
        }
        RelocKind::ExternVar { ext } => {
            let v = resolver.externs.get(ext).ok_or_else(|| {
                unresolved(prog, at, format!("extern `{}` not resolved", r.symbol))
            })?;
            let kconfig_fd = || {
                resolver
                    .kconfig_fd
                    .ok_or_else(|| unresolved(prog, at, "no .kconfig map".into()))
            };
            extern_var(insns, at, v, &r.symbol, kconfig_fd)?
        }
        RelocKind::ExternCall { ext } => {
            let v = resolver.externs.get(ext).ok_or_else(|| {
                unresolved(prog, at, format!("kfunc `{}` not resolved", r.symbol))
            })?;
            let poison_index = || libbpf_extern_index(&obj.externs, ext);
            extern_call(insns, at, v, &r.symbol, poison_index).ok_or_else(|| {
                unresolved(
                    prog,
                    at,
                    format!("`{}` called but is not a kfunc", r.symbol),
                )
            })?
        }
    };
    l.applied.push((at, applied));
    Ok(())
}

/// An ld_imm64 needs its second slot inside the same function: one cut off at the
/// function's end would patch the next function's first instruction.
fn check_in_function(
    prog: &str,
    f: &Function,
    r: &crate::object::Reloc,
    at: usize,
) -> Result<(), RelocError> {
    let wide = !matches!(
        r.kind,
        RelocKind::Call { .. } | RelocKind::ExternCall { .. }
    );
    if r.insn >= f.insns.len() || (wide && r.insn + 1 >= f.insns.len()) {
        return Err(unresolved(
            prog,
            at,
            format!(
                "relocation for `{}` at instruction {} of `{}` ({} instructions): the instruction is cut off by the function's end",
                r.symbol,
                r.insn,
                f.name,
                f.insns.len()
            ),
        ));
    }
    Ok(())
}

/// A map reference: `BPF_PSEUDO_MAP_FD`, or the poison call for a map not created.
fn map_fd(insns: &mut [Insn], at: usize, map: usize, fd: i32, symbol: &str) -> String {
    if fd < 0 {
        let poison = Insn::new(
            oxbpf_uapi::insn::CALL,
            0,
            0,
            0,
            POISON_MAP_BASE + map as i32,
        );
        insns[at] = poison;
        insns[at + 1] = poison;
        return format!("map `{symbol}`: not created, poisoned");
    }
    insns[at].set_src(pseudo::MAP_FD);
    insns[at].imm = fd;
    insns[at + 1].imm = 0;
    format!("map `{symbol}`: BPF_PSEUDO_MAP_FD fd {fd}")
}

/// An extern variable's ld_imm64: a `.kconfig` value, a ksym's BTF id or address, a
/// kfunc's address, or 0 for a weak one the kernel lacks.
fn extern_var(
    insns: &mut [Insn],
    at: usize,
    v: &ExternValue,
    symbol: &str,
    kconfig_fd: impl FnOnce() -> Result<i32, RelocError>,
) -> Result<String, RelocError> {
    Ok(match *v {
        ExternValue::Kconfig { offset } => {
            let fd = kconfig_fd()?;
            insns[at].set_src(pseudo::MAP_VALUE);
            insns[at].imm = fd;
            insns[at + 1].imm = offset as i32;
            format!("kconfig `{symbol}`: .kconfig + {offset}")
        }
        ExternValue::KsymBtf { btf_id, btf_fd } => {
            insns[at].set_src(pseudo::BTF_ID);
            insns[at].imm = btf_id.0 as i32;
            insns[at + 1].imm = btf_fd;
            format!("ksym `{symbol}`: BPF_PSEUDO_BTF_ID {}", btf_id.0)
        }
        ExternValue::KsymAddr(addr) => {
            insns[at].set_src(0);
            insns[at].imm = addr as u32 as i32;
            insns[at + 1].imm = (addr >> 32) as u32 as i32;
            format!("ksym `{symbol}`: address {addr:#x}")
        }
        ExternValue::Missing => {
            // A weak variable or kfunc the kernel lacks reads as zero (its
            // address: `bpf_ksym_exists(kfunc)` is then false).
            insns[at].set_src(0);
            insns[at].imm = 0;
            insns[at + 1].imm = 0;
            format!("weak extern `{symbol}`: absent, 0")
        }
        // A kfunc's address (`&kfunc`, `bpf_ksym_exists(kfunc)`): its BTF id, as
        // for a typed ksym (libbpf `bpf_object__relocate_data`).
        ExternValue::Kfunc { btf_id, btf_fd, .. } => {
            insns[at].set_src(pseudo::BTF_ID);
            insns[at].imm = btf_id.0 as i32;
            insns[at + 1].imm = btf_fd;
            format!(
                "address of kfunc `{symbol}`: BPF_PSEUDO_BTF_ID {}",
                btf_id.0
            )
        }
    })
}

/// A kfunc call: `BPF_PSEUDO_KFUNC_CALL`, or the poison call for a weak kfunc the
/// kernel lacks. `None` when the extern is not a kfunc.
fn extern_call(
    insns: &mut [Insn],
    at: usize,
    v: &ExternValue,
    symbol: &str,
    poison_index: impl FnOnce() -> usize,
) -> Option<String> {
    match *v {
        ExternValue::Kfunc {
            btf_id, fd_index, ..
        } => {
            insns[at].set_src(pseudo::KFUNC_CALL);
            insns[at].imm = btf_id.0 as i32;
            insns[at].off = fd_index;
            Some(format!(
                "kfunc `{symbol}`: BPF_PSEUDO_KFUNC_CALL {}",
                btf_id.0
            ))
        }
        ExternValue::Missing => {
            insns[at] = Insn::new(
                oxbpf_uapi::insn::CALL,
                0,
                0,
                0,
                POISON_KFUNC_BASE + poison_index() as i32,
            );
            Some(format!("weak kfunc `{symbol}`: absent, poisoned"))
        }
        _ => None,
    }
}

fn unresolved(prog: &str, insn: usize, what: String) -> RelocError {
    RelocError::Unresolved {
        prog: prog.to_string(),
        insn,
        what,
    }
}

/// func_info and line_info of every placed function, moved to its place.
fn rebase_ext(
    ext: &BtfExt,
    placements: &[Placement],
    funcs: &[&Function],
) -> (Vec<FuncInfoRec>, Vec<LineInfoRec>) {
    let mut fi = Vec::new();
    let mut li = Vec::new();
    for p in placements {
        let Some(f) = funcs
            .iter()
            .find(|f| f.section_index == p.section_index && f.insn_offset == p.insn_offset)
        else {
            continue;
        };
        let range = f.insn_offset..f.insn_offset + f.insns.len();
        let moved = |byte_off: u32| {
            let idx = (byte_off / 8) as usize;
            range
                .contains(&idx)
                .then(|| (p.start + idx - f.insn_offset) as u32)
        };
        for r in ext.func_info_for(&f.section) {
            if let Some(insn_off) = moved(r.insn_off) {
                fi.push(FuncInfoRec {
                    insn_off,
                    type_id: r.type_id.0,
                });
            }
        }
        for r in ext.line_info_for(&f.section) {
            if let Some(insn_off) = moved(r.insn_off) {
                li.push(LineInfoRec {
                    insn_off,
                    file_name_off: r.file_name_off,
                    line_off: r.line_off,
                    line_col: r.line_col,
                });
            }
        }
    }
    crate::sort::sort_by_key(&mut fi, |r| u64::from(r.insn_off));
    crate::sort::sort_by_key(&mut li, |r| u64::from(r.insn_off));
    (fi, li)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> Object {
        Object::open(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata")
                .join(name),
        )
        .unwrap()
    }

    fn resolver(obj: &Object) -> Resolver {
        Resolver::stand_in(obj)
    }

    #[test]
    fn links_called_functions_once_and_fixes_call_offsets() {
        let obj = testdata("multi_prog.bpf.o");
        let ext = obj.ext().unwrap();
        let idx = obj
            .programs
            .iter()
            .position(|p| p.name() == "tc_first")
            .unwrap();
        let linked = link_program(&obj, idx, &resolver(&obj), Some(ext)).unwrap();
        let names: Vec<_> = linked.placements.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names[0], "tc_first");
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"static_scale") && names.contains(&"global_bump"));
        // Every BPF-to-BPF call lands on the first instruction of a placed function.
        for (i, insn) in linked.insns.iter().enumerate() {
            if insn.is_call() && insn.src() == pseudo::CALL {
                let target = (i as i64 + 1 + i64::from(insn.imm)) as usize;
                assert!(
                    linked.placements.iter().any(|p| p.start == target),
                    "call at {i} to {target}"
                );
            }
        }
        // One func_info per function, at its start; the first at 0.
        let starts: Vec<u32> = linked.placements.iter().map(|p| p.start as u32).collect();
        let mut fi: Vec<u32> = linked.func_info.iter().map(|r| r.insn_off).collect();
        fi.sort();
        let mut expect = starts.clone();
        expect.sort();
        assert_eq!(fi, expect);
        assert!(!linked.line_info.is_empty());
        assert_eq!(linked.func_info_bytes().len(), 8 * linked.func_info.len());
    }

    #[test]
    fn callbacks_become_pseudo_func_and_data_becomes_map_value() {
        let obj = testdata("multi_prog.bpf.o");
        let idx = obj
            .programs
            .iter()
            .position(|p| p.name() == "xdp_second")
            .unwrap();
        let linked = link_program(&obj, idx, &resolver(&obj), None).unwrap();
        let ld = linked
            .insns
            .iter()
            .position(|i| i.is_ld_imm64() && i.src() == pseudo::FUNC)
            .unwrap();
        let target = (ld as i64 + 1 + i64::from(linked.insns[ld].imm)) as usize;
        assert_eq!(linked.locate(target).unwrap().0.name, "loop_step");

        let idx = obj
            .programs
            .iter()
            .position(|p| p.name() == "xdp_first")
            .unwrap();
        let linked = link_program(&obj, idx, &resolver(&obj), None).unwrap();
        let bss = obj.data.iter().position(|d| d.name == ".bss").unwrap() as i32;
        let values: Vec<(i32, i32)> = linked
            .insns
            .windows(2)
            .filter(|w| w[0].is_ld_imm64() && w[0].src() == pseudo::MAP_VALUE)
            .map(|w| (w[0].imm, w[1].imm))
            .collect();
        // bss_hits at .bss+0 and static_bss_total at .bss+4.
        assert!(
            values.contains(&(200 + bss, 0)) && values.contains(&(200 + bss, 4)),
            "{values:?}"
        );
    }

    #[test]
    fn maps_and_kfuncs_and_weak_externs() {
        let obj = testdata("maps_btf.bpf.o");
        let idx = obj
            .programs
            .iter()
            .position(|p| p.name() == "xdp_maps")
            .unwrap();
        let linked = link_program(&obj, idx, &resolver(&obj), None).unwrap();
        let fds: Vec<i32> = linked
            .insns
            .iter()
            .filter(|i| i.is_ld_imm64() && i.src() == pseudo::MAP_FD)
            .map(|i| i.imm)
            .collect();
        assert_eq!(fds.len(), 12);
        assert!(
            fds.iter()
                .all(|fd| (100..100 + obj.maps.len() as i32).contains(fd))
        );

        let obj = testdata("externs.bpf.o");
        let mut r = resolver(&obj);
        let kfunc = obj
            .externs
            .iter()
            .position(|e| e.name == "bpf_task_from_pid")
            .unwrap();
        r.externs[kfunc] = ExternValue::Kfunc {
            btf_id: TypeId(4242),
            fd_index: 0,
            btf_fd: 0,
        };
        let kfunc_fork = obj
            .programs
            .iter()
            .position(|p| p.name() == "kfunc_fork")
            .unwrap();
        let linked = link_program(&obj, kfunc_fork, &r, None).unwrap();
        let calls: Vec<&Insn> = linked
            .insns
            .iter()
            .filter(|i| i.is_call() && i.src() == pseudo::KFUNC_CALL)
            .collect();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].imm, 4242);
        // Its address (`bpf_ksym_exists`) is its BTF id; a missing one's is 0.
        let exists = obj
            .programs
            .iter()
            .position(|p| p.name() == "kfunc_exists")
            .unwrap();
        let addresses = link_program(&obj, exists, &r, None).unwrap();
        let loads: Vec<(u8, i32, i32)> = addresses
            .insns
            .windows(2)
            .filter(|w| {
                w[0].is_ld_imm64()
                    && (w[0].src() == pseudo::BTF_ID || w[0].imm == 0 && w[0].src() == 0)
            })
            .map(|w| (w[0].src(), w[0].imm, w[1].imm))
            .collect();
        assert!(loads.contains(&(pseudo::BTF_ID, 4242, 0)), "{loads:?}");
        assert!(loads.contains(&(0, 0, 0)), "{loads:?}");
        // The other kfunc is "missing" here: poisoned with libbpf's distinct id, its
        // index in libbpf's sorted externs: the 5 `.kconfig` ones, then by name
        // bpf_prog_active, bpf_task_from_pid, bpf_task_release (7).
        let release = obj
            .externs
            .iter()
            .position(|e| e.name == "bpf_task_release")
            .unwrap();
        assert_eq!(libbpf_extern_index(&obj.externs, release), 7);
        let release = 7;
        assert!(
            linked
                .insns
                .iter()
                .any(|i| i.is_call() && i.imm == POISON_KFUNC_BASE + release)
        );
    }

    /// Which functions each placed function calls in the linked program, by name.
    fn calls(linked: &LinkedProgram) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, insn) in linked.insns.iter().enumerate() {
            let call = insn.is_call() && insn.src() == pseudo::CALL;
            let addr = insn.is_ld_imm64() && insn.src() == pseudo::FUNC;
            if call || addr {
                let target = (i as i64 + 1 + i64::from(insn.imm)) as usize;
                let from = linked.locate(i).unwrap().0.name.clone();
                let (to, off) = linked.locate(target).unwrap();
                assert_eq!(off, 0, "{from} calls into the middle of {}", to.name);
                out.push((from, to.name.clone()));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn static_calls_without_relocations_reach_the_function_the_source_names() {
        let obj = testdata("static_calls.bpf.o");
        // No ELF relocation on the calls between the static functions of .text.
        let text: Vec<&Function> = obj
            .subprograms
            .iter()
            .filter(|f| f.section == ".text")
            .collect();
        let sub2 = text.iter().find(|f| f.name == "sub2").unwrap();
        assert!(sub2.relocs.is_empty(), "{:?}", sub2.relocs);
        let link = |name: &str| {
            let idx = obj.programs.iter().position(|p| p.name() == name).unwrap();
            link_program(&obj, idx, &Resolver::stand_in(&obj), None).unwrap()
        };
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            let mut v: Vec<_> = v
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            v.sort();
            v
        };
        let l = link("calls_in_text");
        assert_eq!(
            calls(&l),
            pairs(&[
                ("calls_in_text", "sub2"),
                ("calls_in_text", "sub4"),
                ("calls_in_text", "chain"),
                ("chain", "sub2"),
                ("chain", "sub4"),
                ("sub2", "sub5"),
                ("sub4", "sub3"),
            ])
        );
        // libbpf's layout: depth first, in instruction order.
        let order: Vec<&str> = l.placements.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            order,
            ["calls_in_text", "sub2", "sub5", "sub4", "sub3", "chain"]
        );
        assert_eq!(
            calls(&link("calls_from_another_section")),
            pairs(&[
                ("calls_from_another_section", "sub4"),
                ("calls_from_another_section", "chain"),
                ("chain", "sub2"),
                ("chain", "sub4"),
                ("sub2", "sub5"),
                ("sub4", "sub3"),
            ])
        );
        assert_eq!(
            calls(&link("callback_in_text")),
            pairs(&[("callback_in_text", "looped"), ("looped", "add_index")])
        );
        // Globals (relocated calls) and statics (not) mixed, one declared before it is
        // defined.
        assert_eq!(
            calls(&link("layout_b")),
            pairs(&[
                ("five", "one"),
                ("layout_b", "three"),
                ("layout_b", "two"),
                ("three", "one"),
                ("two", "five"),
            ])
        );
        assert_eq!(
            calls(&link("layout_c")),
            pairs(&[
                ("four", "one"),
                ("four", "three"),
                ("layout_c", "four"),
                ("layout_c", "one"),
                ("three", "one"),
            ])
        );
        // The exception callback its decl tag names comes last, though nothing calls it.
        let l = link("with_exception_callback");
        let order: Vec<&str> = l.placements.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(order, ["with_exception_callback", "sub3", "exception_cb"]);
        // ...and not where the kernel reads no decl tags (libbpf does the same).
        let idx = obj
            .programs
            .iter()
            .position(|p| p.name() == "with_exception_callback")
            .unwrap();
        let mut old_kernel = Resolver::stand_in(&obj);
        old_kernel.decl_tags = false;
        let l = link_program(&obj, idx, &old_kernel, None).unwrap();
        assert_eq!(l.placements.len(), 2);
    }

    #[test]
    fn missing_fds_are_errors_naming_the_instruction() {
        let obj = testdata("sockex1.bpf.o");
        let err = link_program(&obj, 0, &Resolver::default(), None).unwrap_err();
        assert!(matches!(err, RelocError::Unresolved { .. }), "{err}");
        assert!(
            err.to_string().starts_with("program `bpf_prog1`: insn #"),
            "{err}"
        );
    }
}
