//! CO-RE, "compile once, run everywhere": rewriting field offsets, sizes, existence
//! checks, type ids and enum values that clang computed against the object's own
//! (local) BTF, so they hold for the target kernel's BTF.
//!
//! The algorithm is libbpf's (`bpf_core_calc_relo_insn`, src/relo_core.c @ d04d3b1),
//! written anew here, in four named steps:
//! 1. [`spec::parse_spec`]: the record's access string, read against the local type,
//!    becomes a spec — named fields, array indices, a bit offset.
//! 2. Candidates: every target type of the same kind whose *essential* name (before a
//!    `___flavor`) equals the local type's. The kernel's vmlinux is searched first and
//!    module BTFs only when it has none, as libbpf does; a user-given BTF replaces both.
//!    Candidate lists are cached per local type.
//! 3. [`matching::spec_match`] against each candidate, with libbpf's compatibility rules;
//!    [`calc::calc_relo`] for each match. All matching candidates must agree on the
//!    value, or the relocation is ambiguous and fails. No match means the instruction is
//!    poisoned: a call the verifier refuses only if it is reachable, so code guarded by
//!    `bpf_core_field_exists()` still loads.
//! 4. [`patch::patch_insn`] writes the value, checking first that the instruction holds
//!    what the compiler computed.
//!
//! Steps 1–3 never touch an instruction; nothing here makes a syscall.

pub mod calc;
pub mod matching;
pub mod patch;
pub mod spec;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use oxbpf_uapi::Endian;

use crate::btf::ext::{BtfExt, BtfExtError, CoreReloRecord};
use crate::btf::{Btf, BtfError, Kind, TypeId, essential_name};
use crate::object::{Function, Object};

pub use calc::CoreFixup;
pub use spec::CoreSpec;

/// `enum bpf_core_relo_kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CoreReloKind {
    /// Byte offset of a field.
    FieldByteOffset = 0,
    /// Size of a field in bytes.
    FieldByteSize = 1,
    /// Whether a field exists (1 or 0).
    FieldExists = 2,
    /// Whether a field is signed.
    FieldSigned = 3,
    /// Left shift to extract a bitfield from a 64-bit register.
    FieldLshiftU64 = 4,
    /// Right shift to extract a bitfield.
    FieldRshiftU64 = 5,
    /// The local BTF type id.
    TypeIdLocal = 6,
    /// The target BTF type id.
    TypeIdTarget = 7,
    /// Whether the type exists in the target.
    TypeExists = 8,
    /// Size of the type in the target.
    TypeSize = 9,
    /// Whether an enumerator exists.
    EnumvalExists = 10,
    /// An enumerator's value in the target.
    EnumvalValue = 11,
    /// Whether the type matches the target's under the stricter type-matches rules.
    TypeMatches = 12,
}

impl CoreReloKind {
    /// The kind for a raw value.
    pub fn from_raw(v: u32) -> Option<CoreReloKind> {
        use CoreReloKind::*;
        Some(match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    /// Field relocations.
    pub fn is_field_based(self) -> bool {
        (self as u32) <= 5
    }

    /// Type relocations.
    pub fn is_type_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::TypeIdLocal
                | CoreReloKind::TypeIdTarget
                | CoreReloKind::TypeExists
                | CoreReloKind::TypeSize
                | CoreReloKind::TypeMatches
        )
    }

    /// Enum value relocations.
    pub fn is_enumval_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }

    /// libbpf's short name (`byte_off`, `field_exists`, `type_matches`...).
    pub fn name(self) -> &'static str {
        use CoreReloKind::*;
        match self {
            FieldByteOffset => "byte_off",
            FieldByteSize => "byte_sz",
            FieldExists => "field_exists",
            FieldSigned => "signed",
            FieldLshiftU64 => "lshift_u64",
            FieldRshiftU64 => "rshift_u64",
            TypeIdLocal => "local_type_id",
            TypeIdTarget => "target_type_id",
            TypeExists => "type_exists",
            TypeSize => "type_size",
            EnumvalExists => "enumval_exists",
            EnumvalValue => "enumval_value",
            TypeMatches => "type_matches",
        }
    }
}

impl fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a CO-RE relocation could not be computed or applied. (A relocation with no
/// matching target is not an error: it is poisoned; see [`CoreOutcome::failure`].)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The access string does not fit the local type.
    #[error("access string \"{access}\": {why}")]
    BadSpec {
        /// The access string.
        access: String,
        /// What is wrong.
        why: String,
    },
    /// The local BTF is inconsistent with the record.
    #[error("local type {0} does not have what the record refers to")]
    BadLocal(TypeId),
    /// A record names a relocation kind this loader does not know.
    #[error("unknown CO-RE relocation kind {0}")]
    UnknownKind(u32),
    /// The relocation cannot be applied to what it points at.
    #[error("{0}")]
    Unsupported(String),
    /// Anonymous local types have no name to find candidates by.
    #[error("relocation of an anonymous type: there is no name to look up in the target")]
    Anonymous,
    /// Two matching candidates give different answers.
    #[error(
        "ambiguous: candidates `{first}` and `{second}` resolve to different values ({a} vs {b})"
    )]
    Ambiguous {
        /// The first matching candidate.
        first: String,
        /// The one that disagrees.
        second: String,
        /// The first's value.
        a: String,
        /// The second's value.
        b: String,
    },
    /// Types nest deeper than any real ones.
    #[error("types nest too deeply (or refer to themselves)")]
    TooDeep,
    /// An offset does not fit in 32 bits.
    #[error("an offset overflows")]
    Overflow,
    /// Malformed BTF.
    #[error("malformed BTF")]
    Btf(#[source] BtfError),
    /// Malformed `.BTF.ext`.
    #[error("malformed .BTF.ext")]
    BtfExt(#[source] BtfExtError),
    /// The object has CO-RE records but no BTF.
    #[error("the object has CO-RE relocations but no .BTF")]
    NoBtf,
    /// A relocation failed; says where.
    #[error(
        "program `{function}` ({section}): CO-RE relocation #{index} ({kind}) at insn #{insn} for `{spec}`"
    )]
    At {
        /// Function name.
        function: String,
        /// Section.
        section: String,
        /// Index of the record within its section.
        index: usize,
        /// Instruction index within the function.
        insn: usize,
        /// Relocation kind.
        kind: String,
        /// The local spec, in words.
        spec: String,
        /// What went wrong.
        #[source]
        source: Box<CoreError>,
    },
    /// Patching found an instruction that does not fit the record.
    #[error(transparent)]
    Patch(#[from] patch::PatchError),
}

/// Module BTFs read on demand: given vmlinux's BTF, returns each module's name and BTF
/// (split on it). The loader supplies one that reads `/sys/kernel/btf`.
pub type ModuleSource = Arc<dyn Fn(&Arc<Btf>) -> Vec<(String, Arc<Btf>)> + Send + Sync>;

/// Where CO-RE looks for target types.
#[derive(Clone)]
pub struct CoreTargets {
    /// Target BTFs in search order: the first is vmlinux (or the user's BTF).
    btfs: Vec<(String, Arc<Btf>)>,
    /// Module BTFs not read yet (searched only when the first BTF has no candidate).
    pending_modules: Option<ModuleSource>,
    /// A user-given BTF: no module search (libbpf's `btf_custom_path` does the same).
    custom: bool,
}

impl fmt::Debug for CoreTargets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreTargets")
            .field(
                "btfs",
                &self.btfs.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("pending_modules", &self.pending_modules.is_some())
            .field("custom", &self.custom)
            .finish()
    }
}

impl CoreTargets {
    /// One BTF the user names (`--btf PATH`): raw BTF or an ELF with `.BTF`.
    pub fn custom(name: impl Into<String>, btf: Arc<Btf>) -> CoreTargets {
        CoreTargets {
            btfs: vec![(name.into(), btf)],
            pending_modules: None,
            custom: true,
        }
    }

    /// A kernel: its vmlinux BTF, and its modules' BTFs from `modules`, read only if a
    /// relocation finds no candidate in vmlinux.
    pub fn kernel(vmlinux: Arc<Btf>, modules: Option<ModuleSource>) -> CoreTargets {
        CoreTargets {
            btfs: vec![("vmlinux".into(), vmlinux)],
            pending_modules: modules,
            custom: false,
        }
    }

    /// A kernel's BTF and its modules' BTFs, already read (split BTF on `vmlinux`):
    /// for a kernel other than the running one, such as a btfhub archive with modules.
    /// Modules are searched only for types vmlinux lacks, as for the running kernel.
    pub fn with_modules(vmlinux: Arc<Btf>, modules: Vec<(String, Arc<Btf>)>) -> CoreTargets {
        let mut btfs = vec![("vmlinux".to_string(), vmlinux)];
        btfs.extend(modules);
        CoreTargets {
            btfs,
            pending_modules: None,
            custom: false,
        }
    }

    /// The name of target `i` (`vmlinux`, a module, or the user's path).
    pub fn name(&self, i: usize) -> &str {
        self.btfs.get(i).map_or("?", |(n, _)| n.as_str())
    }

    /// Target BTF `i`.
    pub fn btf(&self, i: usize) -> Option<&Btf> {
        self.btfs.get(i).map(|(_, b)| b.as_ref())
    }

    /// Reads the kernel's module BTFs, once, for a module candidate search.
    fn load_modules(&mut self) {
        if self.custom {
            return;
        }
        if let Some(source) = self.pending_modules.take() {
            let base = self.btfs[0].1.clone();
            self.btfs.extend(source(&base));
        }
    }
}

/// A candidate: target BTF index and type id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Index into the targets.
    pub target: usize,
    /// The type.
    pub id: TypeId,
}

/// The result of one relocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreOutcome {
    /// Section of the instruction.
    pub section: String,
    /// Function containing it.
    pub function: String,
    /// Index of the record within its section.
    pub index: usize,
    /// Instruction index within the function.
    pub insn: usize,
    /// The relocation kind.
    pub kind: CoreReloKind,
    /// The local spec in words (`struct task_struct.pid`).
    pub local: String,
    /// The access string (`0:1:2`).
    pub access: String,
    /// What it matched: target name and spec in words (`vmlinux: struct task_struct.pid`).
    pub target: Option<String>,
    /// The computed values.
    pub fixup: CoreFixup,
    /// Why no target matched, when none did. For existence and type-match checks that
    /// is an answer (the value is 0); otherwise the relocation failed.
    pub no_match: Option<String>,
    /// Why it did not resolve (the instruction is then poisoned).
    pub failure: Option<String>,
    /// What patching did (`off 16 -> 2392`), when patched.
    pub patched: Option<String>,
}

impl CoreOutcome {
    /// Whether the relocation was never applied (no target BTF could be had): the
    /// instruction still holds what the compiler computed for its own headers.
    pub fn unapplied(&self) -> bool {
        self.patched.is_none()
    }

    /// A one-line summary, as logged and as `oxbpf check` prints it.
    pub fn summary(&self) -> String {
        let res = match (&self.failure, self.fixup.poison) {
            (Some(why), _) => format!("unresolved: {why}"),
            (None, true) => "unresolved".into(),
            (None, false) => format!("{} -> {}", self.fixup.orig, self.fixup.new),
        };
        format!(
            "{}+{} {} {} ({}) => {}{}",
            self.function,
            self.insn,
            self.kind,
            self.local,
            self.access,
            self.target
                .as_deref()
                .map_or(String::new(), |t| format!("{t}: ")),
            res
        )
    }
}

/// Resolves relocations against targets, with a candidate cache per local type.
pub struct Relocator<'a> {
    local: &'a Btf,
    targets: CoreTargets,
    endian: Endian,
    cache: HashMap<TypeId, Vec<Candidate>>,
}

impl fmt::Debug for Relocator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relocator")
            .field("targets", &self.targets.btfs.len())
            .field("cached", &self.cache.len())
            .finish()
    }
}

/// The result of resolving one record, before patching.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// The local spec.
    pub local_spec: CoreSpec,
    /// The chosen target and its spec.
    pub target: Option<(usize, CoreSpec)>,
    /// The value to write.
    pub fixup: CoreFixup,
    /// Why no candidate matched (when none did).
    pub no_match: Option<String>,
}

impl<'a> Relocator<'a> {
    /// A relocator for an object whose BTF is `local` and whose byte order is `endian`.
    pub fn new(local: &'a Btf, targets: CoreTargets, endian: Endian) -> Relocator<'a> {
        Relocator {
            local,
            targets,
            endian,
            cache: HashMap::new(),
        }
    }

    /// The targets (with any module BTFs parsed so far).
    pub fn targets(&self) -> &CoreTargets {
        &self.targets
    }

    /// Candidates for local type `id` (libbpf `bpf_core_find_cands`): a compatible kind
    /// (the same, or ENUM and ENUM64 either way), the same essential name; vmlinux (or
    /// the user's BTF) first, modules only if it has none.
    fn candidates(&mut self, id: TypeId) -> Result<Vec<Candidate>, CoreError> {
        if let Some(c) = self.cache.get(&id) {
            return Ok(c.clone());
        }
        let local_t = self.local.type_by_id(id)?;
        let name = local_t.name()?;
        if name.is_empty() {
            return Err(CoreError::Anonymous);
        }
        let ess = essential_name(name);
        let kind = local_t.kind();
        let search = |targets: &CoreTargets, i: usize, own_only: bool| -> Vec<Candidate> {
            let Some(btf) = targets.btf(i) else {
                return Vec::new();
            };
            btf.find_by_essential_name(ess)
                .into_iter()
                .filter(|t| !own_only || t.0 >= btf.first_id().0)
                .filter(|t| {
                    btf.type_by_id(*t)
                        .is_ok_and(|t| matching::kind_core_compat(t.kind(), kind))
                })
                .map(|t| Candidate { target: i, id: t })
                .collect()
        };
        let mut cands = search(&self.targets, 0, false);
        if cands.is_empty() && !self.targets.custom {
            self.targets.load_modules();
            for i in 1..self.targets.btfs.len() {
                cands.extend(search(&self.targets, i, true));
            }
        }
        log::trace!(
            "CO-RE: {} candidates for local {} `{ess}`",
            cands.len(),
            kind.name()
        );
        self.cache.insert(id, cands.clone());
        Ok(cands)
    }

    /// Resolves one record: spec, candidates, match, value (no patching).
    ///
    /// # Errors
    /// Malformed records or BTF, unsupported relocations, ambiguity.
    pub fn resolve(&mut self, rec: &CoreReloRecord) -> Result<Resolution, CoreError> {
        let kind = CoreReloKind::from_raw(rec.kind).ok_or(CoreError::UnknownKind(rec.kind))?;
        let access = self.local.str_at(rec.access_str_off)?;
        let local_spec = spec::parse_spec(self.local, rec.type_id, access, kind)?;
        if kind == CoreReloKind::TypeIdLocal {
            let id = u64::from(local_spec.root_type_id.0);
            let fixup = CoreFixup {
                orig: id,
                new: id,
                validate: false,
                ..Default::default()
            };
            return Ok(Resolution {
                local_spec,
                target: None,
                fixup,
                no_match: None,
            });
        }
        let cands = self.candidates(rec.type_id)?;
        let mut chosen: Option<(usize, CoreSpec, CoreFixup)> = None;
        let mut kept = Vec::new();
        let mut first_failure = None;
        for c in &cands {
            let targ = self
                .targets
                .btf(c.target)
                .ok_or(CoreError::BadLocal(c.id))?;
            let tspec = match matching::spec_match(self.local, &local_spec, targ, c.id)? {
                Ok(s) => s,
                Err(why) => {
                    first_failure.get_or_insert(why);
                    continue;
                }
            };
            let fix =
                calc::calc_relo((self.local, &local_spec), Some((targ, &tspec)), self.endian)?;
            match &chosen {
                None => chosen = Some((c.target, tspec, fix)),
                Some((t0, s0, f0)) => {
                    if s0.bit_offset != tspec.bit_offset
                        || f0.poison != fix.poison
                        || f0.new != fix.new
                    {
                        let t0b = self.targets.btf(*t0).unwrap_or(targ);
                        return Err(CoreError::Ambiguous {
                            first: s0.describe(t0b),
                            second: tspec.describe(targ),
                            a: format!("{}", f0.new),
                            b: format!("{}", fix.new),
                        });
                    }
                }
            }
            kept.push(*c);
        }
        // Later relocations against the same local type only consider candidates that
        // matched here (libbpf prunes its cache the same way).
        if !kept.is_empty() {
            self.cache.insert(rec.type_id, kept);
        }
        Ok(match chosen {
            Some((t, tspec, fixup)) => Resolution {
                local_spec,
                target: Some((t, tspec)),
                fixup,
                no_match: None,
            },
            None => {
                let fixup = calc::calc_relo((self.local, &local_spec), None, self.endian)?;
                let no_match = if cands.is_empty() {
                    let lt = self.local.type_by_id(rec.type_id)?;
                    Some(format!(
                        "no {} named `{}` in {}",
                        kind_word(lt.kind()),
                        essential_name(lt.name()?),
                        self.targets.name(0)
                    ))
                } else {
                    first_failure
                };
                Resolution {
                    local_spec,
                    target: None,
                    fixup,
                    no_match,
                }
            }
        })
    }
}

fn kind_word(k: Kind) -> &'static str {
    match k {
        Kind::Struct => "struct",
        Kind::Union => "union",
        Kind::Enum | Kind::Enum64 => "enum",
        Kind::Typedef => "typedef",
        Kind::Int => "integer type",
        Kind::Fwd => "forward declaration",
        _ => "type",
    }
}

/// Applies every CO-RE relocation of `obj` to its programs' and subprograms'
/// instructions. Returns one outcome per record (for logs, `explain` and `check`).
///
/// # Errors
/// The first relocation that cannot be computed or applied, naming the program, the
/// instruction and the spec.
pub fn relocate_object(
    obj: &mut Object,
    targets: CoreTargets,
) -> Result<Vec<CoreOutcome>, CoreError> {
    relocate_programs(obj, targets, None)
}

/// As [`relocate_object`], but only the relocations of the programs `only` names (by
/// index) and of the subprograms, as libbpf relocates only the programs it will load
/// (a relocation that cannot be computed in a program left out is no error). Records in
/// code no function owns (a weak function overridden at link time) are skipped, as
/// libbpf skips them.
///
/// The object's BTF and parsed `.BTF.ext`, if it has one; an error when its `.BTF.ext`
/// could not be read (its relocations are unknown).
/// (The fields are taken apart so that the programs can be patched meanwhile.)
fn parsed_ext<'o>(
    btf: &'o Option<Btf>,
    ext: &'o Option<Result<BtfExt, BtfExtError>>,
) -> Result<Option<(&'o Btf, &'o BtfExt)>, CoreError> {
    let Some(ext) = ext else {
        return Ok(None);
    };
    let ext = ext.as_ref().map_err(|e| CoreError::BtfExt(e.clone()))?;
    let btf = btf.as_ref().ok_or(CoreError::BtfExt(BtfExtError::NoBtf))?;
    Ok(Some((btf, ext)))
}

/// # Errors
/// As [`relocate_object`].
pub fn relocate_programs(
    obj: &mut Object,
    targets: CoreTargets,
    only: Option<&[usize]>,
) -> Result<Vec<CoreOutcome>, CoreError> {
    let Some((btf, ext)) = parsed_ext(&obj.btf, &obj.btf_ext)? else {
        return Ok(Vec::new());
    };
    if ext.core_relos.is_empty() {
        return Ok(Vec::new());
    }
    let mut relocator = Relocator::new(btf, targets, obj.endian);
    let mut outcomes = Vec::new();
    let mut functions: Vec<&mut Function> = obj
        .programs
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| only.is_none_or(|o| o.contains(i)))
        .map(|(_, p)| &mut p.function)
        .chain(obj.subprograms.iter_mut())
        .collect();
    for sec in &ext.core_relos {
        for (index, rec) in sec.records.iter().enumerate() {
            let insn_abs = (rec.insn_off / 8) as usize;
            let Some(f) = functions.iter_mut().find(|f| {
                f.section == sec.section
                    && (f.insn_offset..f.insn_offset + f.insns.len()).contains(&insn_abs)
            }) else {
                log::debug!(
                    "CO-RE: section `{}`: record #{index} at insn #{insn_abs} is in no program to load (one left out, or a weak function overridden at link time); skipped",
                    sec.section
                );
                continue;
            };
            let insn = insn_abs - f.insn_offset;
            let kind_name = CoreReloKind::from_raw(rec.kind)
                .map_or_else(|| rec.kind.to_string(), |k| k.to_string());
            let at = |source: CoreError, spec: String| CoreError::At {
                function: f.name.clone(),
                section: sec.section.clone(),
                index,
                insn,
                kind: kind_name.clone(),
                spec,
                source: Box::new(source),
            };
            let res = relocator
                .resolve(rec)
                .map_err(|e| at(e, access_of(btf, rec)))?;
            let local = res.local_spec.describe(btf);
            let patched = patch::patch_insn(&mut f.insns, insn, &res.fixup)
                .map_err(|e| at(CoreError::Patch(e), local.clone()))?;
            let target = res.target.as_ref().map(|(t, s)| {
                let tb = relocator.targets().btf(*t).unwrap_or(btf);
                format!("{}: {}", relocator.targets().name(*t), s.describe(tb))
            });
            let outcome = CoreOutcome {
                section: sec.section.clone(),
                function: f.name.clone(),
                index,
                insn,
                kind: res.local_spec.kind,
                local,
                access: btf.str_at(rec.access_str_off).unwrap_or("?").to_string(),
                target,
                fixup: res.fixup,
                // Existence and match checks that come out 0 are answers, not failures.
                failure: if res.fixup.poison {
                    res.no_match.clone()
                } else {
                    None
                },
                no_match: res.no_match,
                patched: Some(patched.to_string()),
            };
            log::debug!("CO-RE: {}", outcome.summary());
            outcomes.push(outcome);
        }
    }
    Ok(outcomes)
}

/// Every CO-RE relocation of the object, described from the object's own BTF alone,
/// each marked as failing for `why`: what the loader reports when no target BTF can be
/// had. No instruction is touched; a program that needs one of these must not load
/// (its instructions hold offsets for the compiler's headers, not for this kernel).
///
/// # Errors
/// Malformed `.BTF.ext`.
pub fn unresolvable(obj: &Object, why: &str) -> Result<Vec<CoreOutcome>, CoreError> {
    let Some((btf, ext)) = parsed_ext(&obj.btf, &obj.btf_ext)? else {
        return Ok(Vec::new());
    };
    let functions: Vec<&Function> = obj
        .programs
        .iter()
        .map(|p| &p.function)
        .chain(obj.subprograms.iter())
        .collect();
    let mut out = Vec::new();
    for sec in &ext.core_relos {
        for (index, rec) in sec.records.iter().enumerate() {
            let insn_abs = (rec.insn_off / 8) as usize;
            let Some(f) = functions.iter().find(|f| {
                f.section == sec.section
                    && (f.insn_offset..f.insn_offset + f.insns.len()).contains(&insn_abs)
            }) else {
                continue;
            };
            let kind = CoreReloKind::from_raw(rec.kind).ok_or(CoreError::UnknownKind(rec.kind))?;
            let access = btf.str_at(rec.access_str_off).unwrap_or("?").to_string();
            let local = spec::parse_spec(btf, rec.type_id, &access, kind)
                .map_or_else(|_| access_of(btf, rec), |s| s.describe(btf));
            out.push(CoreOutcome {
                section: sec.section.clone(),
                function: f.name.clone(),
                index,
                insn: insn_abs - f.insn_offset,
                kind,
                local,
                access,
                target: None,
                fixup: CoreFixup::default(),
                no_match: None,
                failure: Some(why.to_string()),
                patched: None,
            });
        }
    }
    Ok(out)
}

fn access_of(btf: &Btf, rec: &CoreReloRecord) -> String {
    format!(
        "type {} + \"{}\"",
        rec.type_id,
        btf.str_at(rec.access_str_off).unwrap_or("?")
    )
}

impl From<BtfExtError> for CoreError {
    fn from(e: BtfExtError) -> CoreError {
        CoreError::BtfExt(e)
    }
}

#[cfg(test)]
mod tests;
