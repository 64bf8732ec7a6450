//! Feature probes: tiny loads that ask the running kernel what it supports, each run
//! once per process and cached (libbpf `src/features.c` does the same).
//!
//! - BTF features: each probe loads a few types of one kind; the kernel accepting them
//!   means it knows the kind. The answers become the [`SanitizeOptions`] the BTF stage
//!   applies.
//! - Map types, program types and helpers (per program type): a one-element map, a
//!   two-instruction program, a program calling the helper. Used to explain refusals
//!   in words and to adapt programs to older kernels.

use std::sync::OnceLock;

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use oxbpf_sys::bpf::ProgLoadData;
use oxbpf_sys::uapi::{
    AttachType, Endian, Insn, MapCreateAttr, MapType, ProgLoadAttr, ProgType, map_flags,
};

use crate::btf::encode::encode;
use crate::btf::sanitize::SanitizeOptions;
use crate::btf::types::{EnumDef, ParamDef, Type, TypeKind};
use crate::btf::{Linkage, TypeId, VarSecinfo};
use crate::btf_load::BtfLoadError;

/// What the kernel's BTF checker accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfFeatures {
    /// `BTF_KIND_FUNC` and `FUNC_PROTO` (Linux 5.0).
    pub func: bool,
    /// Global function linkage (5.6).
    pub func_global: bool,
    /// `VAR` and `DATASEC` (5.2).
    pub datasec: bool,
    /// DATASEC names starting with `?` (6.5).
    pub qmark_datasec: bool,
    /// `FLOAT` (5.13).
    pub float: bool,
    /// `DECL_TAG` (5.16).
    pub decl_tag: bool,
    /// `TYPE_TAG` (5.17).
    pub type_tag: bool,
    /// `ENUM64` and signed enums (6.0).
    pub enum64: bool,
}

impl BtfFeatures {
    /// The rewrites a kernel with these features needs.
    pub fn sanitize_options(&self) -> SanitizeOptions {
        SanitizeOptions {
            no_func: !self.func,
            no_func_global: !self.func_global,
            no_datasec: !self.datasec,
            no_qmark_datasec: !self.qmark_datasec,
            no_float: !self.float,
            no_decl_tag: !self.decl_tag,
            no_type_tag: !self.type_tag,
            no_enum64: !self.enum64,
        }
    }
}

/// Why probing failed (as opposed to finding a feature missing).
#[derive(Debug, thiserror::Error)]
#[error("cannot probe the kernel's BTF support")]
pub struct ProbeError(#[source] BtfLoadError);

impl ProbeError {
    /// The kernel said `EPERM`: this process may not use `bpf()` at all.
    pub fn is_permission_denied(&self) -> bool {
        matches!(&self.0, BtfLoadError::Kernel { source, .. } if source.errno() == Some(libc::EPERM))
    }
}

fn int() -> Type {
    Type {
        name: "int".into(),
        kind: TypeKind::Int {
            size: 4,
            encoding: 1,
            offset: 0,
            bits: 32,
        },
    }
}

/// Whether the kernel accepts `types`. Refusals are "no"; a missing privilege is an
/// error, because then nothing can be learned.
fn accepts(what: &str, types: &[Type]) -> Result<bool, ProbeError> {
    let bytes = encode(types, Endian::NATIVE).map_err(|e| ProbeError(BtfLoadError::Decode(e)))?;
    let ok = match oxbpf_sys::bpf::btf_load(&bytes, &mut []) {
        Ok(_fd) => true,
        Err(e) if e.errno() == Some(libc::EPERM) => {
            return Err(ProbeError(BtfLoadError::Kernel {
                source: e,
                log: String::new(),
            }));
        }
        Err(_) => false,
    };
    log::debug!(
        "probe: BTF {what}: {}",
        if ok { "supported" } else { "not supported" }
    );
    Ok(ok)
}

fn func(linkage: Linkage) -> Vec<Type> {
    vec![
        int(),
        Type {
            name: String::new(),
            kind: TypeKind::FuncProto {
                ret: TypeId(1),
                params: vec![ParamDef {
                    name: "a".into(),
                    ty: TypeId(1),
                }],
            },
        },
        Type {
            name: "f".into(),
            kind: TypeKind::Func {
                proto: TypeId(2),
                linkage,
            },
        },
    ]
}

fn datasec(name: &str) -> Vec<Type> {
    vec![
        int(),
        Type {
            name: "a".into(),
            kind: TypeKind::Var {
                ty: TypeId(1),
                linkage: Linkage::Global,
            },
        },
        Type {
            name: name.into(),
            kind: TypeKind::Datasec {
                size: 4,
                vars: vec![VarSecinfo {
                    type_id: TypeId(2),
                    offset: 0,
                    size: 4,
                }],
            },
        },
    ]
}

/// Probes every BTF feature (once per process; later calls return the cached answer).
///
/// # Errors
/// [`ProbeError`] when the kernel refuses even to be asked (no `CAP_BPF`).
pub fn btf_features() -> Result<BtfFeatures, ProbeError> {
    static CACHE: OnceLock<BtfFeatures> = OnceLock::new();
    if let Some(f) = CACHE.get() {
        return Ok(*f);
    }
    let f = BtfFeatures {
        func: accepts("FUNC", &func(Linkage::Static))?,
        func_global: accepts("global FUNC", &func(Linkage::Global))?,
        datasec: accepts("DATASEC", &datasec(".data"))?,
        qmark_datasec: accepts("DATASEC named ?.data", &datasec("?.data"))?,
        float: accepts(
            "FLOAT",
            &[Type {
                name: "float".into(),
                kind: TypeKind::Float { size: 4 },
            }],
        )?,
        decl_tag: accepts(
            "DECL_TAG",
            &[
                int(),
                Type {
                    name: "a".into(),
                    kind: TypeKind::Var {
                        ty: TypeId(1),
                        linkage: Linkage::Global,
                    },
                },
                Type {
                    name: "tag".into(),
                    kind: TypeKind::DeclTag {
                        target: TypeId(2),
                        component: -1,
                        attr: false,
                    },
                },
            ],
        )?,
        type_tag: accepts(
            "TYPE_TAG",
            &[
                int(),
                Type {
                    name: "tag".into(),
                    kind: TypeKind::TypeTag {
                        target: TypeId(1),
                        attr: false,
                    },
                },
                Type {
                    name: String::new(),
                    kind: TypeKind::Ptr(TypeId(2)),
                },
            ],
        )?,
        enum64: accepts(
            "ENUM64",
            &[Type {
                name: "e".into(),
                kind: TypeKind::Enum64(EnumDef {
                    size: 8,
                    signed: false,
                    values: vec![("A".into(), 1 << 40)],
                }),
            }],
        )?,
    };
    Ok(*CACHE.get_or_init(|| f))
}

/// Whether the kernel supports maps of type `t` (libbpf `libbpf_probe_bpf_map_type`):
/// creates a one-element map of that type, with the sizes the type requires. `None`
/// when the type cannot be probed this way (storage maps need BTF) or the probe itself
/// fails for another reason (no privileges). Cached per type.
pub fn map_type_supported(t: MapType) -> Option<bool> {
    static CACHE: Mutex<Option<HashMap<u32, Option<bool>>>> = Mutex::new(None);
    cached(&CACHE, t.0, || {
        let answer = probe_map_type(t);
        log::debug!("probe: map type {t}: {answer:?}");
        answer
    })
}

fn probe_map_type(t: MapType) -> Option<bool> {
    let mut a = MapCreateAttr {
        map_type: t,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..Default::default()
    };
    let _inner;
    match t {
        MapType::LPM_TRIE => {
            a.key_size = 8;
            a.map_flags = map_flags::NO_PREALLOC;
        }
        MapType::RINGBUF | MapType::USER_RINGBUF => {
            a.key_size = 0;
            a.value_size = 0;
            a.max_entries = 4096;
        }
        MapType::STACK_TRACE => a.value_size = 8,
        MapType::QUEUE | MapType::STACK | MapType::BLOOM_FILTER => a.key_size = 0,
        MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS => {
            let inner = MapCreateAttr {
                map_type: MapType::ARRAY,
                key_size: 4,
                value_size: 4,
                max_entries: 1,
                ..Default::default()
            };
            let fd = oxbpf_sys::bpf::map_create(&inner).ok()?;
            a.inner_map_fd = fd.as_raw_fd() as u32;
            _inner = fd;
        }
        MapType::HASH
        | MapType::ARRAY
        | MapType::PROG_ARRAY
        | MapType::PERF_EVENT_ARRAY
        | MapType::PERCPU_HASH
        | MapType::PERCPU_ARRAY
        | MapType::CGROUP_ARRAY
        | MapType::LRU_HASH
        | MapType::LRU_PERCPU_HASH
        | MapType::DEVMAP
        | MapType::DEVMAP_HASH
        | MapType::SOCKMAP
        | MapType::SOCKHASH
        | MapType::CPUMAP
        | MapType::XSKMAP
        | MapType::REUSEPORT_SOCKARRAY => {
            if t == MapType::REUSEPORT_SOCKARRAY {
                a.value_size = 8;
            }
        }
        // Local storage needs BTF for its key and value (libbpf probes them the same
        // way): one `int` for both, no preallocation, no size.
        MapType::SK_STORAGE
        | MapType::INODE_STORAGE
        | MapType::TASK_STORAGE
        | MapType::CGRP_STORAGE => {
            let bytes = encode(&[int()], Endian::NATIVE).ok()?;
            let fd = oxbpf_sys::bpf::btf_load(&bytes, &mut []).ok()?;
            a.max_entries = 0;
            a.map_flags = map_flags::NO_PREALLOC;
            a.btf_fd = fd.as_raw_fd() as u32;
            a.btf_key_type_id = 1;
            a.btf_value_type_id = 1;
            _inner = fd;
        }
        _ => return None,
    }
    match oxbpf_sys::bpf::map_create(&a) {
        Ok(_) => Some(true),
        Err(e) if e.errno() == Some(libc::EINVAL) => Some(false),
        Err(_) => None,
    }
}

/// How to load a minimal program of type `t` (libbpf `probe_prog_load`): the attach
/// type, flags or version it needs, and for types whose probe cannot fully succeed, the
/// errno and log line that still prove the kernel knows the type.
struct ProgProbe {
    attr: ProgLoadAttr,
    /// `(errno, log text)` that counts as "supported".
    expected_failure: Option<(i32, &'static str)>,
}

fn prog_probe(t: ProgType) -> ProgProbe {
    let mut attr = ProgLoadAttr {
        prog_type: t,
        ..Default::default()
    };
    let mut expected_failure = None;
    match t {
        ProgType::CGROUP_SOCK_ADDR => attr.expected_attach_type = AttachType::CGROUP_INET4_CONNECT,
        ProgType::CGROUP_SOCKOPT => attr.expected_attach_type = AttachType::CGROUP_GETSOCKOPT,
        ProgType::SK_LOOKUP => attr.expected_attach_type = AttachType::SK_LOOKUP,
        ProgType::LIRC_MODE2 => attr.expected_attach_type = AttachType::LIRC_MODE2,
        ProgType::NETFILTER => attr.expected_attach_type = AttachType::NETFILTER,
        ProgType::KPROBE => {
            attr.kern_version =
                oxbpf_sys::version::KernelVersion::current().map_or(0, |v| v.code());
        }
        ProgType::SYSCALL => attr.prog_flags = oxbpf_sys::uapi::prog_flags::SLEEPABLE,
        // Tracing and LSM programs need a real attach target; BTF id 1 is never a
        // function, and a kernel that knows the type says exactly that.
        ProgType::TRACING | ProgType::LSM => {
            attr.expected_attach_type = if t == ProgType::TRACING {
                AttachType::TRACE_FENTRY
            } else {
                AttachType::LSM_MAC
            };
            attr.attach_btf_id = 1;
            expected_failure = Some((libc::EINVAL, "attach_btf_id 1 is not a function"));
        }
        ProgType::EXT => {
            attr.attach_btf_id = 1;
            expected_failure = Some((libc::EINVAL, "Cannot replace kernel functions"));
        }
        // ENOTSUPP (524): known, but only loadable for a struct_ops map.
        ProgType::STRUCT_OPS => expected_failure = Some((524, "")),
        _ => {}
    }
    ProgProbe {
        attr,
        expected_failure,
    }
}

/// Loads `insns` as a probe of type `t`; returns the errno (0 when it loaded) and log.
fn probe_load(t: ProgType, insns: &[Insn]) -> Option<(i32, String)> {
    let probe = prog_probe(t);
    let mut attr = probe.attr;
    let mut log = vec![0u8; 4096];
    attr.log_level = 1;
    let data = ProgLoadData {
        insns,
        license: c"GPL",
        log: &mut log,
        func_info: &[],
        line_info: &[],
        fd_array: &[],
    };
    let errno = match oxbpf_sys::bpf::prog_load(&attr, data) {
        Ok(_fd) => 0,
        // No privileges: nothing can be learned. (With them, EPERM is an answer: this
        // kernel refuses tracing programs without BPF trampolines that way.)
        Err(e)
            if e.errno() == Some(libc::EPERM)
                && (probe.expected_failure.is_none() || !oxbpf_sys::caps::can_bpf()) =>
        {
            return None;
        }
        Err(e) => e.errno().unwrap_or(-1),
    };
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    Some((errno, String::from_utf8_lossy(&log[..end]).into_owned()))
}

/// Whether the verifier takes any offset in an `ld_imm64` of a map value, as it does
/// since it stopped limiting direct offsets into arenas (libbpf
/// `probe_ldimm64_full_range_off`): an offset of 1 GiB into a 1-byte array must be
/// refused as an invalid access, not as too large an offset. libbpf 1.7 then places an
/// object's `__arena` globals at the end of its arena rather than at its start, and so
/// does oxbpf. Once per process.
pub fn ldimm64_full_range_offsets() -> bool {
    static CACHE: OnceLock<bool> = OnceLock::new();
    *CACHE.get_or_init(|| {
        let array = MapCreateAttr {
            map_type: MapType::ARRAY,
            key_size: 4,
            value_size: 1,
            max_entries: 1,
            ..Default::default()
        };
        let Ok(map) = oxbpf_sys::bpf::map_create(&array) else {
            return false;
        };
        let insns = [
            Insn::new(
                oxbpf_sys::uapi::insn::LD_IMM64,
                1,
                oxbpf_sys::uapi::pseudo::MAP_VALUE,
                0,
                map.as_raw_fd(),
            ),
            Insn::new(0, 0, 0, 0, 1 << 30),
            EXIT_0[1],
        ];
        let answer = probe_load(ProgType::SOCKET_FILTER, &insns).is_some_and(|(errno, log)| {
            errno != 0
                && !log.contains("direct value offset of")
                && log.contains("invalid access to map value pointer")
        });
        log::debug!("probe: ld_imm64 map value offsets of any size: {answer}");
        answer
    })
}

const EXIT_0: [Insn; 2] = [
    Insn::new(0xb7, 0, 0, 0, 0), // r0 = 0
    Insn::new(0x95, 0, 0, 0, 0), // exit
];

/// Whether the kernel supports programs of type `t` (libbpf
/// `libbpf_probe_bpf_prog_type`): loads `r0 = 0; exit` with what the type needs.
/// `None` when it cannot tell (no privileges). Cached per type.
pub fn prog_type_supported(t: ProgType) -> Option<bool> {
    static CACHE: Mutex<Option<HashMap<u32, Option<bool>>>> = Mutex::new(None);
    cached(&CACHE, t.0, || {
        let (errno, log) = probe_load(t, &EXIT_0)?;
        let ok = errno == 0
            || prog_probe(t)
                .expected_failure
                .is_some_and(|(e, msg)| errno == e && log.contains(msg));
        log::debug!("probe: program type {t}: {ok}");
        Some(ok)
    })
}

/// Whether programs of type `t` may call helper `helper` (libbpf
/// `libbpf_probe_bpf_helper`): loads `call helper; r0 = 0; exit`. The verifier names an
/// unknown or forbidden helper ("invalid func", "unknown func", "program of this type
/// cannot use helper"); any other outcome, even a refusal about the helper's arguments,
/// means the call itself is allowed. `None` when it cannot tell (no privileges, or a
/// type whose programs need an attach target). Cached per pair.
pub fn helper_supported(t: ProgType, helper: i32) -> Option<bool> {
    static CACHE: Mutex<Option<HashMap<u32, Option<bool>>>> = Mutex::new(None);
    if matches!(
        t,
        ProgType::TRACING | ProgType::LSM | ProgType::EXT | ProgType::STRUCT_OPS
    ) {
        return None;
    }
    let key = t.0 << 16 | (helper as u32 & 0xffff);
    cached(&CACHE, key, || {
        let insns = [Insn::new(0x85, 0, 0, 0, helper), EXIT_0[0], EXIT_0[1]];
        let (_, log) = probe_load(t, &insns)?;
        let ok = !(log.contains("invalid func ")
            || log.contains("unknown func ")
            || log.contains("program of this type cannot use helper "));
        log::debug!("probe: helper {helper} in {t} programs: {ok}");
        Some(ok)
    })
}

/// Looks `key` up in `cache`, computing and storing it on a miss.
fn cached(
    cache: &Mutex<Option<HashMap<u32, Option<bool>>>>,
    key: u32,
    compute: impl FnOnce() -> Option<bool>,
) -> Option<bool> {
    if let Some(v) = cache
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|m| m.get(&key).copied()))
    {
        return v;
    }
    let answer = compute();
    if let Ok(mut c) = cache.lock() {
        c.get_or_insert_with(HashMap::new).insert(key, answer);
    }
    answer
}

/// Which bpf_link kinds the kernel can create (libbpf probes the same ones it relies
/// on). Each probe loads a minimal program of the kind's type and asks for a link to a
/// target that cannot exist: a kernel that knows the kind fails looking the target up
/// (`EBADF`, `ENODEV`); one that does not refuses the attach type (`EINVAL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkKinds {
    /// cgroup links (5.7).
    pub cgroup: bool,
    /// XDP links (5.9).
    pub xdp: bool,
    /// perf event links: tracepoints, kprobes, uprobes (5.15).
    pub perf_event: bool,
    /// netns links: sk_lookup, flow dissector (5.8 / 5.9).
    pub netns: bool,
    /// TCX links (6.6).
    pub tcx: bool,
    /// sockmap links (6.10).
    pub sockmap: bool,
    /// netkit links (6.7).
    pub netkit: bool,
}

/// Probes every [`LinkKinds`] kind (once per process). `None` without privileges.
pub fn link_kinds() -> Option<LinkKinds> {
    static CACHE: OnceLock<Option<LinkKinds>> = OnceLock::new();
    *CACHE.get_or_init(|| {
        let kinds = LinkKinds {
            cgroup: link_kind(
                ProgType::CGROUP_SKB,
                AttachType::CGROUP_INET_INGRESS,
                u32::MAX,
            )?,
            // Loopback (ifindex 1 in every namespace) in offload mode, which it cannot
            // do: a kernel with XDP links says EOPNOTSUPP, and nothing is attached.
            xdp: link_kind(ProgType::XDP, AttachType::XDP, 1)?,
            perf_event: link_kind(ProgType::TRACEPOINT, AttachType::PERF_EVENT, u32::MAX)?,
            netns: link_kind(ProgType::SK_LOOKUP, AttachType::SK_LOOKUP, u32::MAX)?,
            tcx: link_kind(
                ProgType::SCHED_CLS,
                AttachType::TCX_INGRESS,
                i32::MAX as u32,
            )?,
            sockmap: link_kind(ProgType::SK_MSG, AttachType::SK_MSG_VERDICT, u32::MAX)?,
            // Loopback is not a netkit device: refused, but only after the kind is known.
            netkit: link_kind(ProgType::SCHED_CLS, AttachType::NETKIT_PRIMARY, 1)?,
        };
        log::debug!("probe: bpf_link kinds {kinds:?}");
        Some(kinds)
    })
}

/// Loads `return 0` with `attr`, without BTF or a log: what the link probes attach.
fn load_exit_0(attr: &ProgLoadAttr) -> Result<std::os::fd::OwnedFd, oxbpf_sys::SysError> {
    let data = ProgLoadData {
        insns: &EXIT_0,
        license: c"GPL",
        log: &mut [],
        func_info: &[],
        line_info: &[],
        fd_array: &[],
    };
    oxbpf_sys::bpf::prog_load(attr, data)
}

/// Whether a link of `attach_type` for a `prog_type` program can be created, by
/// aiming one at `bad_target` (an fd or ifindex that does not exist).
fn link_kind(prog_type: ProgType, attach_type: AttachType, bad_target: u32) -> Option<bool> {
    let mut attr = prog_probe(prog_type).attr;
    // The program must be loaded for this attach type where the kernel checks it.
    if matches!(
        prog_type,
        ProgType::SK_LOOKUP | ProgType::CGROUP_SKB | ProgType::SCHED_CLS
    ) {
        attr.expected_attach_type = attach_type;
    }
    let prog = match load_exit_0(&attr) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Some(libc::EPERM) => return None,
        // The program type itself is missing: so is its link.
        Err(_) => return Some(false),
    };
    let mut link =
        oxbpf_sys::uapi::LinkCreateAttr::new(prog.as_raw_fd() as u32, bad_target, attach_type);
    if attach_type == AttachType::XDP {
        link.flags = 1 << 3; // XDP_FLAGS_HW_MODE
    }
    let answer = oxbpf_sys::bpf::link_create(&link);
    log::trace!("probe: link {attach_type}: {answer:?}");
    Some(match answer {
        Ok(_fd) => true,
        Err(e) => e.errno() != Some(libc::EINVAL),
    })
}

/// Whether the kernel has uprobe_multi links with working process filtering (libbpf
/// `probe_uprobe_multi_link`, once per process): a `trace_uprobe_multi` program aimed
/// at `/` must fail with `EBADF` (the kind exists), and again with pid -1 with `EINVAL`
/// (the PID check of 6.7+ comes first). libbpf then loads USDT programs for
/// uprobe_multi links, so oxbpf does too: same attach type, same program.
pub fn uprobe_multi_links() -> bool {
    static CACHE: OnceLock<bool> = OnceLock::new();
    *CACHE.get_or_init(|| {
        let mut attr = prog_probe(ProgType::KPROBE).attr;
        attr.expected_attach_type = AttachType::TRACE_UPROBE_MULTI;
        let Ok(prog) = load_exit_0(&attr) else {
            return false;
        };
        let offset: u64 = 0;
        let attempt = |pid: u32| {
            // The path and offset outlive the call, which is all the kernel reads them in.
            oxbpf_sys::bpf::link_create_uprobe_multi(
                std::os::fd::AsFd::as_fd(&prog),
                AttachType::TRACE_UPROBE_MULTI,
                c"/",
                &oxbpf_sys::bpf::UprobeSites {
                    offsets: std::slice::from_ref(&offset),
                    ..Default::default()
                },
                0,
                pid,
            )
            .err()
            .and_then(|e| e.errno())
        };
        let answer = attempt(0) == Some(libc::EBADF) && attempt(u32::MAX) == Some(libc::EINVAL);
        log::debug!("probe: uprobe_multi links with PID filtering: {answer}");
        answer
    })
}
