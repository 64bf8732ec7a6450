//! Feature probes: tiny loads that ask the running kernel what it supports, each run
//! once per process and cached (libbpf `src/features.c` does the same).
//!
//! Only BTF features so far: each probe loads a few types of one kind; the kernel
//! accepting them means it knows the kind. The answers become the
//! [`SanitizeOptions`] the BTF stage applies.

use std::sync::OnceLock;

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use oxbpf_sys::uapi::{Endian, MapCreateAttr, MapType, map_flags};

use crate::btf::encode::encode;
use crate::btf::sanitize::SanitizeOptions;
use crate::btf::types::{EnumDef, ParamDef, Type, TypeKind};
use crate::btf::{Linkage, TypeId, VarSecinfo};
use crate::load::btf::BtfLoadError;

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
    if let Some(v) = CACHE
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|m| m.get(&t.0).copied()))
    {
        return v;
    }
    let answer = probe_map_type(t);
    if let Ok(mut c) = CACHE.lock() {
        c.get_or_insert_with(HashMap::new).insert(t.0, answer);
    }
    log::debug!("probe: map type {t}: {answer:?}");
    answer
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
        _ => return None,
    }
    match oxbpf_sys::bpf::map_create(&a) {
        Ok(_) => Some(true),
        Err(e) if e.errno() == Some(libc::EINVAL) => Some(false),
        Err(_) => None,
    }
}
