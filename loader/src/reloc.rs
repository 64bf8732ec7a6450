//! From an object's functions to the instruction stream of one program, ready for
//! `BPF_PROG_LOAD` (libbpf `bpf_object__relocate` and `bpf_object__reloc_code`).
//!
//! 1. **Link.** The program's own instructions come first; every function it calls
//!    (or passes as a callback, as `bpf_loop` takes one) is appended once, after them,
//!    and so on for what those call. Call and function-address immediates become
//!    instruction distances within the new stream.
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

use std::collections::HashMap;

use oxbpf_sys::uapi::{Insn, pseudo};

use crate::btf::TypeId;
use crate::btf::ext::BtfExt;
use crate::object::{Function, Object, RelocKind};

/// libbpf's base for poisoned loads of maps that were not created:
/// `call 2001000000 + map index`, in both slots of the `ld_imm64`.
pub const POISON_MAP_BASE: i32 = 2_001_000_000;

/// libbpf's base for poisoned calls to weak kfuncs that are not in the kernel:
/// `call 2002000000 + extern index`.
pub const POISON_KFUNC_BASE: i32 = 2_002_000_000;

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
    /// A kfunc: its BTF id, and its index in the program's fd_array (0 for vmlinux).
    Kfunc {
        /// BTF id of the FUNC.
        btf_id: TypeId,
        /// `fd_array` index of the module BTF, 0 for vmlinux.
        fd_index: i16,
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
}

impl Resolver {
    /// Fds that stand for maps never created (100 + index for maps, 200 + index for
    /// data sections, 300 for `.kconfig`) and every extern missing: for linking an
    /// object without the kernel (tests, fuzzing).
    pub fn stand_in(obj: &Object) -> Resolver {
        Resolver {
            map_fds: (0..obj.maps.len() as i32).map(|i| 100 + i).collect(),
            data_fds: (0..obj.data.len() as i32).map(|i| 200 + i).collect(),
            kconfig_fd: Some(300),
            externs: vec![ExternValue::Missing; obj.externs.len()],
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
    /// First instruction in the linked program.
    pub start: usize,
    /// Number of instructions.
    pub len: usize,
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
    let main = &obj.programs[prog_index].function;
    let prog = main.name.clone();
    let mut insns = main.insns.clone();
    let mut placements = vec![Placement {
        name: main.name.clone(),
        section: main.section.clone(),
        start: 0,
        len: main.insns.len(),
    }];
    // (section index, function start) -> start in the linked program.
    let mut placed: HashMap<(usize, usize), usize> = HashMap::new();
    placed.insert((main.section_index, main.insn_offset), 0);
    let mut queue: Vec<(&Function, usize)> = vec![(main, 0)];
    let mut applied = Vec::new();

    while let Some((f, base)) = queue.pop() {
        for r in &f.relocs {
            let at = base + r.insn;
            // An ld_imm64 needs its second slot inside the same function: one cut off at
            // the function's end would patch the next function's first instruction.
            let wide = !matches!(
                r.kind,
                RelocKind::Call { .. } | RelocKind::ExternCall { .. }
            );
            if r.insn >= f.insns.len() || (wide && r.insn + 1 >= f.insns.len()) {
                return Err(unresolved(
                    &prog,
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
            match r.kind {
                RelocKind::Call {
                    section_index,
                    insn,
                }
                | RelocKind::FuncAddr {
                    section_index,
                    insn,
                } => {
                    let callee = funcs
                        .iter()
                        .find(|c| c.section_index == section_index && c.insn_offset == insn)
                        .ok_or(RelocError::BadTarget {
                            prog: prog.clone(),
                            insn: at,
                            section: section_index,
                            target: insn,
                        })?;
                    let start = match placed.get(&(section_index, insn)) {
                        Some(&s) => s,
                        None => {
                            let s = insns.len();
                            insns.extend_from_slice(&callee.insns);
                            placed.insert((section_index, insn), s);
                            placements.push(Placement {
                                name: callee.name.clone(),
                                section: callee.section.clone(),
                                start: s,
                                len: callee.insns.len(),
                            });
                            queue.push((callee, s));
                            s
                        }
                    };
                    let rel = i32::try_from(start as i64 - at as i64 - 1)
                        .map_err(|_| RelocError::TooLarge(prog.clone()))?;
                    insns[at].imm = rel;
                    if matches!(r.kind, RelocKind::FuncAddr { .. }) {
                        insns[at].set_src(pseudo::FUNC);
                        insns[at + 1].imm = 0;
                        applied.push((
                            at,
                            format!("ld_imm64 of `{}`: BPF_PSEUDO_FUNC {rel:+}", callee.name),
                        ));
                    } else {
                        insns[at].set_src(pseudo::CALL);
                        applied.push((at, format!("call `{}`: {rel:+}", callee.name)));
                    }
                }
                RelocKind::Map { map } => {
                    let fd = *resolver.map_fds.get(map).ok_or_else(|| {
                        unresolved(&prog, at, format!("no fd for map `{}`", r.symbol))
                    })?;
                    if fd < 0 {
                        let poison = Insn::new(
                            oxbpf_sys::uapi::insn::CALL,
                            0,
                            0,
                            0,
                            POISON_MAP_BASE + map as i32,
                        );
                        insns[at] = poison;
                        insns[at + 1] = poison;
                        applied.push((at, format!("map `{}`: not created, poisoned", r.symbol)));
                        continue;
                    }
                    insns[at].set_src(pseudo::MAP_FD);
                    insns[at].imm = fd;
                    insns[at + 1].imm = 0;
                    applied.push((at, format!("map `{}`: BPF_PSEUDO_MAP_FD fd {fd}", r.symbol)));
                }
                RelocKind::Data { data, offset } => {
                    let fd = *resolver.data_fds.get(data).ok_or_else(|| {
                        unresolved(
                            &prog,
                            at,
                            format!("no map for data section of `{}`", r.symbol),
                        )
                    })?;
                    insns[at].set_src(pseudo::MAP_VALUE);
                    insns[at].imm = fd;
                    insns[at + 1].imm = offset as i32;
                    applied.push((
                        at,
                        format!("`{}`: BPF_PSEUDO_MAP_VALUE fd {fd} + {offset}", r.symbol),
                    ));
                }
                RelocKind::ExternVar { ext } => {
                    let v = resolver.externs.get(ext).ok_or_else(|| {
                        unresolved(&prog, at, format!("extern `{}` not resolved", r.symbol))
                    })?;
                    match *v {
                        ExternValue::Kconfig { offset } => {
                            let fd = resolver
                                .kconfig_fd
                                .ok_or_else(|| unresolved(&prog, at, "no .kconfig map".into()))?;
                            insns[at].set_src(pseudo::MAP_VALUE);
                            insns[at].imm = fd;
                            insns[at + 1].imm = offset as i32;
                            applied
                                .push((at, format!("kconfig `{}`: .kconfig + {offset}", r.symbol)));
                        }
                        ExternValue::KsymBtf { btf_id, btf_fd } => {
                            insns[at].set_src(pseudo::BTF_ID);
                            insns[at].imm = btf_id.0 as i32;
                            insns[at + 1].imm = btf_fd;
                            applied.push((
                                at,
                                format!("ksym `{}`: BPF_PSEUDO_BTF_ID {}", r.symbol, btf_id.0),
                            ));
                        }
                        ExternValue::KsymAddr(addr) => {
                            insns[at].set_src(0);
                            insns[at].imm = addr as u32 as i32;
                            insns[at + 1].imm = (addr >> 32) as u32 as i32;
                            applied.push((at, format!("ksym `{}`: address {addr:#x}", r.symbol)));
                        }
                        ExternValue::Missing => {
                            // A weak variable the kernel lacks reads as zero.
                            insns[at].set_src(0);
                            insns[at].imm = 0;
                            insns[at + 1].imm = 0;
                            applied.push((at, format!("weak extern `{}`: absent, 0", r.symbol)));
                        }
                        ExternValue::Kfunc { .. } => {
                            return Err(unresolved(
                                &prog,
                                at,
                                format!("kfunc `{}` used as a variable", r.symbol),
                            ));
                        }
                    }
                }
                RelocKind::ExternCall { ext } => {
                    let v = resolver.externs.get(ext).ok_or_else(|| {
                        unresolved(&prog, at, format!("kfunc `{}` not resolved", r.symbol))
                    })?;
                    match *v {
                        ExternValue::Kfunc { btf_id, fd_index } => {
                            insns[at].set_src(pseudo::KFUNC_CALL);
                            insns[at].imm = btf_id.0 as i32;
                            insns[at].off = fd_index;
                            applied.push((
                                at,
                                format!("kfunc `{}`: BPF_PSEUDO_KFUNC_CALL {}", r.symbol, btf_id.0),
                            ));
                        }
                        ExternValue::Missing => {
                            insns[at] = Insn::new(
                                oxbpf_sys::uapi::insn::CALL,
                                0,
                                0,
                                0,
                                POISON_KFUNC_BASE + ext as i32,
                            );
                            applied
                                .push((at, format!("weak kfunc `{}`: absent, poisoned", r.symbol)));
                        }
                        _ => {
                            return Err(unresolved(
                                &prog,
                                at,
                                format!("`{}` called but is not a kfunc", r.symbol),
                            ));
                        }
                    }
                }
            }
        }
    }
    let (func_info, line_info) = match ext {
        Some(ext) => rebase_ext(ext, &placements, &funcs, obj),
        None => (Vec::new(), Vec::new()),
    };
    u32::try_from(insns.len()).map_err(|_| RelocError::TooLarge(prog.clone()))?;
    Ok(LinkedProgram {
        insns,
        placements,
        func_info,
        line_info,
        applied,
    })
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
    obj: &Object,
) -> (Vec<FuncInfoRec>, Vec<LineInfoRec>) {
    let _ = obj;
    let mut fi = Vec::new();
    let mut li = Vec::new();
    for p in placements {
        let Some(f) = funcs
            .iter()
            .find(|f| f.name == p.name && f.section == p.section)
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
        let ext = BtfExt::parse(obj.btf_ext.as_ref().unwrap(), obj.btf.as_ref().unwrap()).unwrap();
        let idx = obj
            .programs
            .iter()
            .position(|p| p.name() == "tc_first")
            .unwrap();
        let linked = link_program(&obj, idx, &resolver(&obj), Some(&ext)).unwrap();
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
        // The other kfunc is "missing" here: poisoned with libbpf's distinct id.
        let release = obj
            .externs
            .iter()
            .position(|e| e.name == "bpf_task_release")
            .unwrap() as i32;
        assert!(
            linked
                .insns
                .iter()
                .any(|i| i.is_call() && i.imm == POISON_KFUNC_BASE + release)
        );
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
