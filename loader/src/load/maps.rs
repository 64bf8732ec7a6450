//! Creating an object's maps: BTF and legacy definitions (inner map templates first),
//! pinned maps reused or pinned, one array map per global data section with its initial
//! contents (`.rodata` frozen), the `.kconfig` map, and the initial slots of prog arrays
//! and maps of maps.

use std::error::Error as _;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use oxbpf_maps::{Map, MapBtfType, MapBtfTypes};
use oxbpf_prog::Program;
use oxbpf_sys::SysError;
use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{MapCreateAttr, MapType, map_flags};

use super::{LoadError, LoadOptions, data_map_name, object_name};
use crate::btf::types::{Type, TypeKind};
use crate::btf::{Kind, Linkage};
use crate::object::{DataKind, MapInitValue, MapSpec, Object, Pinning};

/// Maps created for an object.
pub(super) struct Made {
    /// One per `Object::maps` entry (`None` for maps the user chose not to create).
    pub object_maps: Vec<Option<Map>>,
    /// One per `Object::data` entry (`None` for empty sections).
    pub data_maps: Vec<Option<Map>>,
    /// The `.kconfig` map.
    pub kconfig: Option<Map>,
    /// The arena, mapped right after the map is made: before any program loads, as a
    /// program's arena pointers are relative to where user space maps it.
    pub arena: Option<Arena>,
}

/// The object's arena map, mapped into this process.
pub(super) struct Arena {
    /// Its index in [`Made::object_maps`].
    pub index: usize,
    /// Where the `__arena` globals of `.addr_space.1` start in it.
    pub offset: u64,
    /// The mapping.
    pub memory: oxbpf_sys::mmap::MapMemory,
}

pub(super) fn raw_fd(m: &Map) -> i32 {
    m.as_fd().as_raw_fd()
}

/// The fd of a map, or -1 for one not created (instructions loading it are poisoned).
pub(super) fn fd_or_none(m: &Option<Map>) -> i32 {
    m.as_ref().map_or(-1, raw_fd)
}

/// A ring buffer's size as the kernel wants it: a power-of-2 multiple of the page size.
/// libbpf (`adjust_ringbuf_sz`) rounds any other size up to the next such multiple, at
/// open and when the user sets one; 0 stays 0 (the kernel's refusal is the message), and
/// a size no such multiple fits in 32 bits is passed on for the kernel to refuse.
pub fn ringbuf_size(size: u32, page: u32) -> u32 {
    // (`page` is a parameter so the rule can be tested for every page size.)
    if size == 0 || page == 0 || (size % page == 0 && (size / page).is_power_of_two()) {
        return size;
    }
    let mut mul: u32 = 1;
    while let Some(bytes) = mul.checked_mul(page) {
        if bytes > size {
            return bytes;
        }
        match mul.checked_mul(2) {
            Some(m) => mul = m,
            None => break,
        }
    }
    size
}

/// The `max_entries` a map of `map_type` declared with `size` is created with on this
/// machine: ring buffers rounded up as [`ringbuf_size`] says, others as declared.
pub fn max_entries_at_load(map_type: MapType, size: u32) -> u32 {
    if matches!(map_type, MapType::RINGBUF | MapType::USER_RINGBUF) {
        let page = u32::try_from(oxbpf_sys::mmap::page_size()).unwrap_or(u32::MAX);
        ringbuf_size(size, page)
    } else {
        size
    }
}

/// The create attributes of a spec, with the user's overrides and the kernel-dependent
/// defaults applied.
fn attr_for(spec: &MapSpec, btf_fd: Option<&OwnedFd>) -> Result<MapCreateAttr, LoadError> {
    let mut a = MapCreateAttr {
        map_type: spec.map_type,
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: spec.max_entries,
        map_flags: spec.map_flags,
        numa_node: spec.numa_node,
        map_extra: spec.map_extra,
        ..Default::default()
    };
    a.set_name(&spec.name);
    if a.map_type == MapType::PERF_EVENT_ARRAY && a.max_entries == 0 {
        // One ring per possible CPU (libbpf does the same).
        a.max_entries = oxbpf_sys::cpu::possible_cpus().map_err(|e| LoadError::MapCreate {
            map: spec.name.clone(),
            error: SysError::new("reading /sys/devices/system/cpu/possible", e),
            hint: None,
            unset: None,
        })?;
        log::debug!(
            "map `{}`: perf event array sized to {} possible CPUs",
            spec.name,
            a.max_entries
        );
    }
    {
        let size = max_entries_at_load(a.map_type, a.max_entries);
        if size != a.max_entries {
            log::debug!(
                "map `{}`: ring buffer of {} bytes rounded up to {size}, a power-of-2 multiple of the page size",
                spec.name,
                a.max_entries
            );
            a.max_entries = size;
        }
    }
    if let (Some(fd), Some(v)) = (
        btf_fd,
        spec.value_type.filter(|_| takes_btf_types(a.map_type)),
    ) {
        a.btf_fd = fd.as_raw_fd() as u32;
        a.btf_value_type_id = v.0;
        a.btf_key_type_id = spec.key_type.map_or(0, |k| k.0);
    }
    Ok(a)
}

/// Whether the kernel accepts BTF key/value types for maps of this type. Those whose
/// values are fds, indexes or raw records refuse them (ENOTSUPP, after tens of
/// milliseconds of setting up and tearing down the map), so, like libbpf, their type
/// ids are never passed.
fn takes_btf_types(t: MapType) -> bool {
    !matches!(
        t,
        MapType::PERF_EVENT_ARRAY
            | MapType::CGROUP_ARRAY
            | MapType::STACK_TRACE
            | MapType::ARRAY_OF_MAPS
            | MapType::HASH_OF_MAPS
            | MapType::PROG_ARRAY
            | MapType::SOCKMAP
            | MapType::SOCKHASH
            | MapType::QUEUE
            | MapType::STACK
            | MapType::DEVMAP
            | MapType::DEVMAP_HASH
            | MapType::CPUMAP
            | MapType::XSKMAP
            | MapType::RINGBUF
            | MapType::USER_RINGBUF
    )
}

/// Why the kernel may have refused map `name`, in words.
/// A size the object leaves to its loader, which the kernel refuses as 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unset {
    /// `max_entries` (libbpf-tools set hash map sizes from their options).
    MaxEntries,
    /// The value size of a stack-trace map: the stack depth.
    StackDepth,
    /// Another map's value size.
    ValueSize,
}

impl Unset {
    /// The spec edit that sets it.
    fn edit(self, map: &str) -> String {
        match self {
            Unset::MaxEntries => format!("obj.map_mut(\"{map}\")?.max_entries = N"),
            Unset::StackDepth => format!("obj.map_mut(\"{map}\")?.value_size = 1016"),
            Unset::ValueSize => format!("obj.map_mut(\"{map}\")?.value_size = N"),
        }
    }

    /// Which size, if any, a refusal is about.
    fn of(attr: &MapCreateAttr, e: &SysError) -> Option<Unset> {
        if e.errno() != Some(libc::EINVAL) {
            return None;
        }
        if attr.max_entries == 0 {
            Some(Unset::MaxEntries)
        } else if attr.value_size == 0 && attr.map_type == MapType::STACK_TRACE {
            Some(Unset::StackDepth)
        } else if attr.value_size == 0
            && !matches!(attr.map_type, MapType::RINGBUF | MapType::USER_RINGBUF)
        {
            Some(Unset::ValueSize)
        } else {
            None
        }
    }
}

fn hint(name: &str, attr: &MapCreateAttr, e: &SysError) -> Option<String> {
    let map_type = attr.map_type;
    match e.errno() {
        // Arenas are refused with EPERM by kernels that cannot run them (no JIT
        // support), privileged or not: say so rather than blame the privileges.
        Some(libc::EPERM | libc::EOPNOTSUPP | libc::EINVAL)
            if map_type == MapType::ARENA && oxbpf_sys::caps::can_bpf() =>
        {
            Some(
                "this kernel refuses arena maps (they need Linux 6.9 or later and a BPF JIT that supports them, x86_64 or arm64; this process holds CAP_BPF)"
                    .into(),
            )
        }
        // The capabilities the kernel checks for the type, where this process lacks one.
        Some(libc::EPERM) => Some(
            oxbpf_sys::caps::missing(oxbpf_sys::caps::needed_to_create(map_type))
                .map(|needs| format!("creating {map_type} maps {needs}"))
                .unwrap_or_else(|| {
                    "creating maps needs CAP_BPF (or CAP_SYS_ADMIN before Linux 5.8); run as root"
                        .into()
                }),
        ),
        Some(libc::EINVAL) if crate::probe::map_type_supported(map_type) == Some(false) => {
            Some(format!("this kernel does not support {map_type} maps"))
        }
        // Objects often leave a size for the tool that loads them to set at run time
        // (libbpf-tools set stack-trace and hash map sizes from their options).
        Some(libc::EINVAL) => Some(match Unset::of(attr, e) {
            Some(u @ Unset::MaxEntries) => format!(
                "its max_entries is 0: the object leaves the size to the tool that loads it; set one before load (`{}`)",
                u.edit(name)
            ),
            Some(u @ Unset::StackDepth) => format!(
                "its value size is 0: the object leaves the stack depth to the tool that loads it; set one before load (`{}`: 1016 keeps 127 frames of 8 bytes)",
                u.edit(name)
            ),
            Some(u @ Unset::ValueSize) => format!(
                "its value size is 0: the object leaves it to the tool that loads it; set one before load (`{}`)",
                u.edit(name)
            ),
            None => "the kernel refused the definition (sizes, flags or max_entries)".into(),
        }),
        _ => None,
    }
}

/// Creates a map, retrying as libbpf does: without BTF ids if the kernel refuses them,
/// and with a raised memlock limit on `EPERM` (kernels before 5.11 charge maps to it).
fn create(name: &str, attr: &MapCreateAttr) -> Result<bpf::MapFd, LoadError> {
    let first = match bpf::MapFd::create(attr) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let mut attr = *attr;
    let mut err = first;
    if err.errno() == Some(libc::EPERM) && oxbpf_sys::rlimit::raise_memlock().is_ok() {
        match bpf::MapFd::create(&attr) {
            Ok(fd) => return Ok(fd),
            Err(e) => err = e,
        }
    }
    // libbpf retries without BTF on any refusal: some map types (sockmap, before 6.x)
    // reject BTF key/value types with ENOTSUPP rather than EINVAL.
    if attr.btf_fd != 0 && err.errno() != Some(libc::EPERM) {
        log::debug!(
            "map `{name}`: refused with BTF ({err}: {}); retrying without",
            err.source
        );
        attr.btf_fd = 0;
        attr.btf_key_type_id = 0;
        attr.btf_value_type_id = 0;
        match bpf::MapFd::create(&attr) {
            Ok(fd) => return Ok(fd),
            Err(e) => err = e,
        }
    }
    Err(LoadError::MapCreate {
        map: name.to_string(),
        hint: hint(name, &attr, &err),
        unset: Unset::of(&attr, &err),
        error: err,
    })
}

fn wrap(fd: bpf::MapFd, name: &str) -> Map {
    Map::from_map_fd(fd).with_name(name)
}

/// Called with the pin path between "nothing is pinned there" and the pin: the window
/// in which a concurrent loader of the same object can pin first. Tests set it to make
/// that race happen for certain; nothing else should.
#[cfg(feature = "testing")]
pub static PIN_WINDOW_HOOK: std::sync::Mutex<Option<fn(&Path)>> = std::sync::Mutex::new(None);

/// Reuses a compatible map pinned at `path`, if one is.
fn reuse_pinned(
    spec: &MapSpec,
    attr: &MapCreateAttr,
    path: &Path,
) -> Result<Option<Map>, LoadError> {
    use std::os::unix::ffi::OsStrExt as _;
    let pin_err = |why: String| LoadError::Pin {
        map: spec.name.clone(),
        path: path.display().to_string(),
        why,
    };
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| pin_err("path contains a NUL byte".into()))?;
    let fd = match bpf::obj_get(&c, 0) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(pin_err(format!("cannot open it: {}", e.source))),
    };
    let (fd, info) =
        bpf::MapFd::from_fd(fd).map_err(|e| pin_err(format!("not a map ({})", e.source)))?;
    // libbpf's map_is_reuse_compat: type, sizes, capacity and flags must all agree.
    let mismatch = [
        ("type", info.map_type.0, attr.map_type.0),
        ("key size", info.key_size, attr.key_size),
        ("value size", info.value_size, attr.value_size),
        ("max_entries", info.max_entries, attr.max_entries),
        ("flags", info.map_flags, attr.map_flags),
    ]
    .into_iter()
    .find(|(_, have, want)| have != want);
    if let Some((what, have, want)) = mismatch {
        return Err(pin_err(format!(
            "the pinned map is incompatible: its {what} is {have}, the object's is {want}"
        )));
    }
    log::debug!(
        "map `{}`: reusing the map pinned at {}",
        spec.name,
        path.display()
    );
    Ok(Some(Map::from_map_fd(fd).with_name(&spec.name)))
}

fn create_spec(
    spec: &MapSpec,
    opts: &LoadOptions,
    btf_fd: Option<&OwnedFd>,
) -> Result<Map, LoadError> {
    let mut attr = attr_for(spec, btf_fd)?;
    let pin_path = match spec.pinning {
        Pinning::ByName => Some(opts.pin_root.join(super::pin_name(&spec.name))),
        Pinning::None => None,
        Pinning::Other(n) => {
            return Err(LoadError::Pin {
                map: spec.name.clone(),
                path: opts.pin_root.display().to_string(),
                why: format!("unknown pinning mode {n} (only LIBBPF_PIN_BY_NAME is defined)"),
            });
        }
    };
    if let Some(path) = &pin_path {
        if let Some(m) = reuse_pinned(spec, &attr, path)? {
            return Ok(m);
        }
    }
    // A map of maps needs a template of its inner map at creation; the template is
    // closed right after (libbpf does the same).
    let _template = match &spec.inner {
        Some(inner) => {
            let inner_attr = attr_for(inner, btf_fd)?;
            let fd = create(&inner.name, &inner_attr)?;
            attr.inner_map_fd = fd.as_fd().as_raw_fd() as u32;
            Some(fd)
        }
        None => None,
    };
    let fd = create(&spec.name, &attr)?;
    log::debug!(
        "map `{}`: created {} (key {}, value {}, max_entries {}, flags {:#x})",
        spec.name,
        attr.map_type,
        attr.key_size,
        attr.value_size,
        attr.max_entries,
        attr.map_flags
    );
    let map = wrap(fd, &spec.name);
    if let Some(path) = &pin_path {
        #[cfg(feature = "testing")]
        {
            // Copied out, so the lock is not held while the hook waits.
            let hook = *PIN_WINDOW_HOOK
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(hook) = hook {
                hook(path);
            }
        }
        if let Some(dir) = path.parent() {
            oxbpf_sys::bpffs::prepare_pin_dir(dir).map_err(|e| LoadError::Pin {
                map: spec.name.clone(),
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
        }
        let pinned = map.pin(path);
        // Another process loading the same object pinned its map between our look and
        // our pin: use that one (if compatible), so both share it as they would have
        // had they not raced.
        let lost_race = matches!(&pinned, Err(oxbpf_maps::MapError::Sys { source, .. })
            if source.errno() == Some(libc::EEXIST));
        if lost_race {
            if let Some(theirs) = reuse_pinned(spec, &attr, path)? {
                log::debug!(
                    "map `{}`: another process pinned {} first; sharing its map",
                    spec.name,
                    path.display()
                );
                return Ok(theirs);
            }
        }
        pinned.map_err(|e| LoadError::Pin {
            map: spec.name.clone(),
            path: path.display().to_string(),
            why: format!(
                "cannot pin ({})",
                e.source()
                    .map_or_else(String::new, crate::load::progs::chain),
            ),
        })?;
        log::debug!("map `{}`: pinned at {}", spec.name, path.display());
    }
    Ok(map)
}

/// The BTF key and value types map `spec` was created with (as [`attr_for`] passes
/// them), named and sized for typed views to check and name; a type whose size is not
/// the map's (the user resized the map, so it was created without them) is left out.
fn btf_types(obj: &Object, spec: &MapSpec, map: &Map, loaded_btf: bool) -> MapBtfTypes {
    let Some(btf) = obj
        .btf
        .as_ref()
        .filter(|_| loaded_btf && spec.value_type.is_some() && takes_btf_types(spec.map_type))
    else {
        return MapBtfTypes::default();
    };
    let describe = |id: Option<crate::btf::TypeId>, map_size: u32| {
        let id = id?;
        let size = u32::try_from(btf.size_of(id).ok()?).ok()?;
        (size == map_size).then(|| MapBtfType {
            name: c_type_name(btf, id, 0),
            size,
        })
    };
    MapBtfTypes {
        key: describe(spec.key_type, map.key_size()),
        value: describe(spec.value_type, map.value_size()),
    }
}

/// A BTF type as C spells it (`struct stats`, `pid_t`, `char[16]`, `u8 *`), for
/// messages; qualifiers are left out.
fn c_type_name(btf: &crate::btf::Btf, id: crate::btf::TypeId, depth: u32) -> String {
    let Ok(t) = btf.type_by_id(id) else {
        return format!("type {id}");
    };
    let name = t.name().unwrap_or("");
    let named = |what: &str| {
        if name.is_empty() {
            format!("anonymous {what}")
        } else {
            format!("{what} {name}")
        }
    };
    // Deeper than any C type is spelled: a loop in bad BTF.
    if depth > 16 {
        return "...".into();
    }
    match t.kind() {
        Kind::Void => "void".into(),
        Kind::Struct => named("struct"),
        Kind::Union => named("union"),
        Kind::Enum | Kind::Enum64 => named("enum"),
        Kind::Fwd => named(if t.kind_flag() { "union" } else { "struct" }),
        Kind::Ptr => match t.ref_type() {
            Ok(to) => format!("{} *", c_type_name(btf, to, depth + 1)),
            Err(_) => "void *".into(),
        },
        Kind::Array => match t.array() {
            Ok(a) => format!("{}[{}]", c_type_name(btf, a.elem_type, depth + 1), a.nelems),
            Err(_) => "array".into(),
        },
        Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => match t.ref_type() {
            Ok(to) => c_type_name(btf, to, depth + 1),
            Err(_) => format!("type {id}"),
        },
        _ if !name.is_empty() => name.to_string(),
        k => format!("anonymous {}", k.name().to_ascii_lowercase()),
    }
}

fn datasec_id(types: Option<&[Type]>, name: &str) -> Option<u32> {
    types?
        .iter()
        .position(|t| t.name == name && matches!(t.kind, TypeKind::Datasec { .. }))
        .map(|i| i as u32 + 1)
}

/// Whether the section's DATASEC in the object's BTF has a variable that is neither
/// static nor hidden:
/// libbpf (`map_is_mmapable`) makes a data map `BPF_F_MMAPABLE` only then, since only
/// such variables are reached from user space (a skeleton's globals). Without BTF, no.
fn has_global_var(obj: &Object, section: &str) -> bool {
    let Some(btf) = &obj.btf else { return false };
    let Some(sec) = btf.find_by_name_kind(section, Kind::Datasec) else {
        return false;
    };
    let Ok(vars) = sec.datasec_vars() else {
        return false;
    };
    // libbpf decides after its BTF fix-up, which makes variables of hidden visibility
    // (`__hidden`, the selftests' `private()`) static: read the ELF symbol too.
    let hidden = |name: &str| {
        obj.symbols
            .iter()
            .any(|s| s.section == section && s.name == name && s.hidden)
    };
    vars.flatten().any(|v| {
        btf.type_by_id(v.type_id).is_ok_and(|t| {
            t.kind() == Kind::Var
                && t.linkage().is_ok_and(|l| l != Linkage::Static)
                && !t.name().is_ok_and(hidden)
        })
    })
}

/// An array map of one element holding a data section, as libbpf makes them.
fn create_data_map(
    obj: &Object,
    section: &str,
    size: u64,
    read_only: bool,
    init: Option<&[u8]>,
    types: Option<&[Type]>,
    btf_fd: Option<&OwnedFd>,
) -> Result<Map, LoadError> {
    let name = data_map_name(&object_name(&obj.name), section);
    let value_size = u32::try_from(size).map_err(|_| LoadError::Global {
        name: section.into(),
        why: "section larger than 4 GiB".into(),
    })?;
    let mmapable = has_global_var(obj, section);
    let mut attr = MapCreateAttr {
        map_type: MapType::ARRAY,
        key_size: 4,
        value_size,
        max_entries: 1,
        map_flags: if mmapable { map_flags::MMAPABLE } else { 0 }
            | if read_only { map_flags::RDONLY_PROG } else { 0 },
        ..Default::default()
    };
    attr.set_name(&name);
    if let (Some(fd), Some(id)) = (btf_fd, datasec_id(types, section)) {
        attr.btf_fd = fd.as_raw_fd() as u32;
        attr.btf_value_type_id = id;
    }
    let fd = match create(&name, &attr) {
        Ok(fd) => fd,
        // Array mmap arrived in 5.5; without it, global data still works.
        Err(LoadError::MapCreate { error, .. })
            if mmapable && error.errno() == Some(libc::EINVAL) =>
        {
            attr.map_flags &= !map_flags::MMAPABLE;
            create(&name, &attr)?
        }
        Err(e) => return Err(e),
    };
    let map = wrap(fd, &name);
    if let Some(bytes) = init {
        let mut value = bytes.to_vec();
        value.resize(value_size as usize, 0);
        map.update(&0u32.to_ne_bytes(), &value, 0)
            .map_err(|source| LoadError::MapSetup {
                map: name.clone(),
                what: "writing the initial data".into(),
                source,
            })?;
    }
    if read_only {
        map.freeze().map_err(|source| LoadError::MapSetup {
            map: name.clone(),
            what: "freezing it".into(),
            source,
        })?;
    }
    log::debug!(
        "map `{name}`: global data of {section}, {size} bytes{}",
        if read_only { ", frozen" } else { "" }
    );
    Ok(map)
}

/// Creates every map of the object and its global data maps.
pub(super) fn create_all(
    obj: &Object,
    opts: &LoadOptions,
    types: Option<&[Type]>,
    btf_fd: Option<&OwnedFd>,
    struct_ops: &[super::struct_ops::KernStructOps],
) -> Result<Made, LoadError> {
    let mut object_maps = Vec::with_capacity(obj.maps.len());
    for (index, spec) in obj.maps.iter().enumerate() {
        if let Some(plan) = struct_ops.iter().find(|p| p.map == index) {
            object_maps.push(Some(super::struct_ops::create(spec, plan, btf_fd)?));
            continue;
        }
        if !spec.autocreate {
            log::debug!(
                "map `{}`: not created, as asked; instructions that load it are poisoned",
                spec.name
            );
            object_maps.push(None);
            continue;
        }
        let map = create_spec(spec, opts, btf_fd)?;
        let types = btf_types(obj, spec, &map, btf_fd.is_some());
        object_maps.push(Some(map.with_btf_types(types)));
    }
    let arena = map_arena(obj, &object_maps)?;
    let mut data_maps = Vec::with_capacity(obj.data.len());
    for d in &obj.data {
        if d.size == 0 {
            data_maps.push(None);
            continue;
        }
        let read_only = d.kind == DataKind::Rodata;
        // .bss starts zeroed; write it only if the user set a variable in it.
        let init = (d.kind != DataKind::Bss || !d.bytes.is_empty()).then_some(d.bytes.as_slice());
        data_maps.push(Some(create_data_map(
            obj, &d.name, d.size, read_only, init, types, btf_fd,
        )?));
    }
    Ok(Made {
        object_maps,
        data_maps,
        kconfig: None,
        arena,
    })
}

/// Maps the object's arena into this process (at its `map_extra` address, if it has
/// one) and copies the `__arena` globals of `.addr_space.1` into it, as libbpf's
/// `bpf_object__create_maps` does: at its end where the kernel takes ld_imm64 offsets
/// of any size (libbpf 1.7: a stray NULL pointer then finds no data), else at its start.
fn map_arena(obj: &Object, made: &[Option<Map>]) -> Result<Option<Arena>, LoadError> {
    let Some((index, spec, map)) = obj.maps.iter().enumerate().find_map(|(i, spec)| {
        let map = made.get(i)?.as_ref()?;
        (spec.map_type == MapType::ARENA).then_some((i, spec, map))
    }) else {
        return Ok(None);
    };
    let setup = |why: String| LoadError::Arena {
        map: spec.name.clone(),
        why,
    };
    let page = oxbpf_sys::mmap::page_size();
    let len = (map.max_entries() as usize)
        .checked_mul(page)
        .ok_or_else(|| setup(format!("{} pages do not fit in memory", map.max_entries())))?;
    let data = obj.arena.as_ref().map_or(&[][..], |a| a.bytes.as_slice());
    let size = obj.arena.as_ref().map_or(0, |a| a.size as usize);
    let pages = size.next_multiple_of(page);
    if pages > len {
        return Err(setup(format!(
            "its {} pages cannot hold the {size} bytes of __arena globals in .addr_space.1",
            map.max_entries(),
        )));
    }
    let offset = if crate::probe::ldimm64_full_range_offsets() {
        len - pages
    } else {
        0
    };
    let memory =
        oxbpf_sys::mmap::MapMemory::map_arena(map.as_fd(), len, spec.map_extra).map_err(|e| {
            setup(format!(
                "mapping its {len} bytes at {:#x}: {e}{}",
                spec.map_extra,
                if e.raw_os_error() == Some(libc::EEXIST) {
                    " (something else is mapped there in this process)"
                } else {
                    ""
                }
            ))
        })?;
    memory
        .write(offset, data)
        .map_err(|e| setup(format!("copying the __arena globals into it: {e}")))?;
    log::debug!(
        "map `{}`: arena mapped at {:#x} ({len} bytes), {size} bytes of __arena globals at offset {offset:#x}",
        spec.name,
        memory.address(),
    );
    Ok(Some(Arena {
        index,
        offset: offset as u64,
        memory,
    }))
}

/// The `.kconfig` map: read-only for programs and frozen, like `.rodata`.
pub(super) fn create_kconfig(
    obj: &Object,
    value: Vec<u8>,
    types: Option<&[Type]>,
    btf_fd: Option<&OwnedFd>,
) -> Result<Map, LoadError> {
    create_data_map(
        obj,
        ".kconfig",
        value.len() as u64,
        true,
        Some(&value),
        types,
        btf_fd,
    )
}

/// Binds every read-only data map (`.rodata`, `.rodata.*`) to every loaded program, as
/// libbpf does after each load (`BPF_PROG_BIND_MAP`, Linux 5.10): tools that read a
/// program's metadata (bpftool's `bpf_metadata_*` variables) find it through the maps
/// the program holds, used or not. Like libbpf, a refusal (an older kernel) is not an
/// error.
pub(super) fn bind_rodata(obj: &Object, made: &Made, programs: &[Program]) {
    let rodata: Vec<&Map> = obj
        .data
        .iter()
        .zip(&made.data_maps)
        .filter(|(d, _)| d.kind == DataKind::Rodata)
        .filter_map(|(_, m)| m.as_ref())
        .collect();
    for prog in programs {
        for map in &rodata {
            match bpf::prog_bind_map(prog.as_fd(), map.as_fd()) {
                Ok(()) => log::debug!("program `{}`: bound to map `{}`", prog.name(), map.name()),
                Err(e) => {
                    log::debug!(
                        "program `{}`: map `{}` not bound: {e}",
                        prog.name(),
                        map.name()
                    );
                }
            }
        }
    }
}

/// Initial slots: maps of maps get their inner maps, prog arrays their programs. A slot
/// naming a program that was not loaded is an error, as in libbpf
/// (`init_prog_array_slots`) — except a program that failed under `keep_going`, whose
/// failure is already reported.
pub(super) fn fill_slots(
    obj: &Object,
    made: &Made,
    programs: &[Program],
    failed: &[&str],
) -> Result<(), LoadError> {
    for (spec, map) in obj.maps.iter().zip(&made.object_maps) {
        let Some(map) = map else { continue };
        for (slot, value) in &spec.init {
            let fd = match value {
                MapInitValue::Map(name) => {
                    let i = obj
                        .maps
                        .iter()
                        .position(|m| &m.name == name)
                        .ok_or_else(|| LoadError::Slot {
                            map: spec.name.clone(),
                            slot: *slot,
                            why: format!("names unknown map `{name}`"),
                        })?;
                    made.object_maps[i]
                        .as_ref()
                        .map(raw_fd)
                        .ok_or_else(|| LoadError::Slot {
                            map: spec.name.clone(),
                            slot: *slot,
                            why: format!("names map `{name}`, which was not created"),
                        })?
                }
                MapInitValue::Program(name) => match programs.iter().find(|p| p.name() == name) {
                    Some(p) => p.as_fd().as_raw_fd(),
                    None if failed.contains(&name.as_str()) => {
                        log::debug!(
                            "map `{}`: slot {slot} left empty: program `{name}` failed to load",
                            spec.name
                        );
                        continue;
                    }
                    None => {
                        return Err(LoadError::Slot {
                            map: spec.name.clone(),
                            slot: *slot,
                            why: format!(
                                "names program `{name}`, which is not loaded; load it too, or leave the map out"
                            ),
                        });
                    }
                },
            };
            map.update(&slot.to_ne_bytes(), &(fd as u32).to_ne_bytes(), 0)
                .map_err(|source| LoadError::MapSetup {
                    map: spec.name.clone(),
                    what: format!("setting slot {slot}"),
                    source,
                })?;
            log::debug!("map `{}`: slot {slot} = {value:?}", spec.name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_and_record_maps_are_created_without_btf_types_as_libbpf_does() {
        for t in [
            MapType::SOCKMAP,
            MapType::DEVMAP,
            MapType::PROG_ARRAY,
            MapType::RINGBUF,
            MapType::PERF_EVENT_ARRAY,
            MapType::HASH_OF_MAPS,
        ] {
            assert!(!takes_btf_types(t), "{t}");
        }
        // Storage maps need them; plain maps and spin-lock values use them.
        for t in [
            MapType::HASH,
            MapType::ARRAY,
            MapType::TASK_STORAGE,
            MapType::SK_STORAGE,
        ] {
            assert!(takes_btf_types(t), "{t}");
        }
    }

    #[test]
    fn map_key_and_value_types_are_named_as_c_spells_them() {
        use crate::btf::TypeId;
        use crate::btf::builder::BtfBuilder;
        let mut b = BtfBuilder::new(oxbpf_sys::uapi::Endian::Little);
        let int = b.int("int", 4, true);
        let pid = b.typedef("pid_t", int);
        let chr = b.int("char", 1, true);
        let comm = b.array(chr, int, 16);
        let stats = b.strukt("stats", 16, &[("n", int, 0)]);
        let anon = b.strukt("", 4, &[("n", int, 0)]);
        let ptr = b.ptr(stats);
        let konst = b.ty("", Kind::Const, 0, false, pid);
        let btf = b.btf().unwrap();
        let name = |id| c_type_name(&btf, TypeId(id), 0);
        assert_eq!(name(pid), "pid_t");
        assert_eq!(name(comm), "char[16]");
        assert_eq!(name(stats), "struct stats");
        assert_eq!(name(anon), "anonymous struct");
        assert_eq!(name(ptr), "struct stats *");
        assert_eq!(name(konst), "pid_t", "qualifiers are left out");
        assert_eq!(name(99), "type [99]", "a bad id is named, not a panic");
    }

    #[test]
    fn ring_buffer_sizes_round_up_to_power_of_two_pages_as_libbpf_does() {
        let page = 4096;
        // Already a power-of-2 multiple: unchanged.
        for ok in [4096, 8192, 16384, 1 << 24, 1 << 31] {
            assert_eq!(ringbuf_size(ok, page), ok);
        }
        // Anything else: the next power-of-2 multiple above it.
        assert_eq!(ringbuf_size(8, page), 4096);
        assert_eq!(ringbuf_size(1000, page), 4096);
        assert_eq!(ringbuf_size(4097, page), 8192);
        assert_eq!(ringbuf_size(3 * 4096, page), 16384);
        assert_eq!(ringbuf_size(10240, page), 16384);
        assert_eq!(ringbuf_size(256 * 1024 + 1, page), 512 * 1024);
        // 0 is left for the kernel to refuse; so is a size no multiple fits above.
        assert_eq!(ringbuf_size(0, page), 0);
        assert_eq!(ringbuf_size(u32::MAX, page), u32::MAX);
        assert_eq!(ringbuf_size((1 << 31) + 1, page), (1 << 31) + 1);
        // Other page sizes (arm64 kernels with 16 or 64 KiB pages).
        assert_eq!(ringbuf_size(4096, 65536), 65536);
        assert_eq!(ringbuf_size(3 * 65536, 65536), 4 * 65536);
    }
}
