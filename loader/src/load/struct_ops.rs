//! struct_ops maps at load, as libbpf prepares them (`bpf_map__init_kern_struct_ops`):
//! the kernel's value for each map is built from the object's by member name — the
//! object may declare fewer members, or in another order — inside the kernel's
//! `bpf_struct_ops_<name>` wrapper; each program a function pointer names is loaded for
//! that kernel struct (`attach_btf_id`) and member (`expected_attach_type`), and its fd
//! goes into the value once it has loaded. Registering the value with the kernel (the
//! map update, or a link for `.struct_ops.link`) is attaching, not loading.

use std::collections::HashMap;
use std::os::fd::AsRawFd as _;

use oxbpf_maps::Map;
use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{MapCreateAttr, MapType, map_flags};

use super::LoadError;
use crate::btf::{Btf, BtfType, Kind, TypeId, essential_name};
use crate::modules::{KernelBtf, ModuleFds};
use crate::object::{MapSpec, Object, StructOpsSpec};

/// `BPF_F_VTYPE_BTF_OBJ_FD`: `value_type_btf_obj_fd` names the module BTF of the value
/// type.
const VTYPE_BTF_OBJ_FD: u32 = 1 << 15;

/// One struct_ops map's kernel side.
#[derive(Debug)]
pub(super) struct KernStructOps {
    /// Its index in `Object::maps`.
    pub map: usize,
    /// `bpf_struct_ops_<name>` in the kernel's BTF: the map's value type.
    pub vtype_id: TypeId,
    /// The BTF object of a module that defines it (`None`: vmlinux).
    pub module_fd: Option<i32>,
    /// The kernel's value: data members copied, function pointers filled with program
    /// fds once the programs have loaded.
    pub value: Vec<u8>,
    /// Where each program's fd goes in `value`, by program name.
    pub funcs: Vec<(usize, String)>,
}

/// What a struct_ops program is loaded for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ProgTarget {
    /// The kernel struct (`tcp_congestion_ops`).
    pub kern_type_id: TypeId,
    /// The member's index in it.
    pub member: u32,
    /// The module BTF object of the struct, if not vmlinux.
    pub module_fd: Option<i32>,
}

/// The kernel side of every struct_ops map to create, and the target of each program
/// they name.
pub(super) fn prepare(
    obj: &Object,
    kernel: &mut KernelBtf,
    fds: &mut ModuleFds,
) -> Result<(Vec<KernStructOps>, HashMap<String, ProgTarget>), LoadError> {
    let mut plans = Vec::new();
    let mut targets: HashMap<String, ProgTarget> = HashMap::new();
    for (index, m) in obj.maps.iter().enumerate() {
        let Some(ops) = m.struct_ops.as_deref().filter(|_| m.autocreate) else {
            continue;
        };
        let local = obj
            .btf
            .as_ref()
            .ok_or_else(|| err(m, "the object has no BTF".into()))?;
        let plan = kern_value(m, ops, local, kernel, fds, index, &mut targets)?;
        plans.push(plan);
    }
    Ok((plans, targets))
}

fn err(m: &MapSpec, why: String) -> LoadError {
    LoadError::StructOps {
        map: m.name.clone(),
        why,
    }
}

/// The kernel's struct and its wrapper for `ops`, in vmlinux or a module.
fn kern_value(
    m: &MapSpec,
    ops: &StructOpsSpec,
    local: &Btf,
    kernel: &mut KernelBtf,
    fds: &mut ModuleFds,
    index: usize,
    targets: &mut HashMap<String, ProgTarget>,
) -> Result<KernStructOps, LoadError> {
    let tname = essential_name(&ops.type_name);
    let wrapper = format!("bpf_struct_ops_{tname}");
    let found = kernel.find(&wrapper, Kind::Struct, None).ok_or_else(|| {
        err(
            m,
            format!(
                "the kernel has no struct_ops type for struct {tname} (no struct {wrapper} in its BTF): this kernel cannot take it{}",
                missing_feature(tname)
            ),
        )
    })?;
    let kbtf = found.btf.clone();
    let module_fd = match &found.module {
        Some(name) => Some(
            fds.fd(name)
                .map_err(|e| err(m, format!("module {name}: {e}")))?
                .as_raw_fd(),
        ),
        None => None,
    };
    let btf_err = |e: crate::btf::BtfError| err(m, e.to_string());
    let kern_type_id = kbtf
        .find(tname, Kind::Struct)
        .ok_or_else(|| err(m, format!("struct {tname} is not in the kernel's BTF")))?;
    let vtype = kbtf.type_by_id(found.id).map_err(btf_err)?;
    let data_off = vtype
        .members()
        .map_err(btf_err)?
        .filter_map(Result::ok)
        .find(|mem| mem.type_id == kern_type_id)
        .map(|mem| (mem.bit_offset / 8) as usize)
        .ok_or_else(|| err(m, format!("struct {wrapper} holds no struct {tname}")))?;
    let mut plan = KernStructOps {
        map: index,
        vtype_id: found.id,
        module_fd,
        value: vec![0; vtype.size() as usize],
        funcs: Vec::new(),
    };
    let filling = Filling {
        m,
        ops,
        local,
        kbtf: &kbtf,
        tname,
        kern_type_id,
        data_off,
        module_fd,
    };
    let ltype = local.type_by_id(ops.type_id).map_err(btf_err)?;
    for (i, lm) in ltype.members().map_err(btf_err)?.enumerate() {
        filling.member(i, lm.map_err(btf_err)?, &mut plan, targets)?;
    }
    Ok(plan)
}

/// What filling one map's kernel value needs: the object's struct and the kernel's.
struct Filling<'a> {
    m: &'a MapSpec,
    ops: &'a StructOpsSpec,
    local: &'a Btf,
    kbtf: &'a Btf,
    tname: &'a str,
    kern_type_id: TypeId,
    /// Where the kernel struct starts in the wrapper.
    data_off: usize,
    module_fd: Option<i32>,
}

impl Filling<'_> {
    /// Member `i` of the object's struct into the kernel value: its bytes copied to the
    /// kernel member of the same name, or its program recorded for that member.
    fn member(
        &self,
        i: usize,
        lm: crate::btf::Member<'_>,
        plan: &mut KernStructOps,
        targets: &mut HashMap<String, ProgTarget>,
    ) -> Result<(), LoadError> {
        let (m, tname, kbtf) = (self.m, self.tname, self.kbtf);
        let btf_err = |e: crate::btf::BtfError| err(m, e.to_string());
        let ktype = kbtf.type_by_id(self.kern_type_id).map_err(btf_err)?;
        let moff = (lm.bit_offset / 8) as usize;
        let msize = self.local.size_of(lm.type_id).map_err(btf_err)? as usize;
        let bytes = self
            .ops
            .data
            .get(moff..moff + msize)
            .ok_or_else(|| err(m, format!("member `{}` lies beyond the value", lm.name)))?;
        let program = self
            .ops
            .programs
            .iter()
            .find(|p| p.index == i)
            .map(|p| &p.program);
        let Some((kidx, km)) = kern_member(ktype, lm.name).map_err(btf_err)? else {
            if bytes.iter().any(|&b| b != 0) {
                return Err(err(
                    m,
                    format!("the kernel's struct {tname} has no member `{}`", lm.name),
                ));
            }
            // A zero (or program) member the kernel lacks is left out, as libbpf does;
            // its program is then not this map's.
            log::info!(
                "struct_ops {}: member {} not in the kernel's struct {tname}; skipped, as it is zero",
                m.name,
                lm.name
            );
            return Ok(());
        };
        if lm.bitfield_size != 0 || km.bitfield_size != 0 {
            return Err(err(
                m,
                format!("bitfield member `{}` is not supported", lm.name),
            ));
        }
        let kern_at = self.data_off + (km.bit_offset / 8) as usize;
        let lt = self
            .local
            .skip_mods_and_typedefs(lm.type_id)
            .map_err(btf_err)?;
        let kt = kbtf.skip_mods_and_typedefs(km.type_id).map_err(btf_err)?;
        if lt.kind() != kt.kind() {
            return Err(err(
                m,
                format!(
                    "member `{}` is a {} here and a {} in the kernel",
                    lm.name,
                    lt.kind().name(),
                    kt.kind().name()
                ),
            ));
        }
        if lt.kind() == Kind::Ptr {
            let Some(program) = program else {
                return Ok(());
            };
            if !kbtf.is_func_ptr(km.type_id).map_err(btf_err)? {
                return Err(err(
                    m,
                    format!(
                        "the kernel's member `{}` is not a function pointer",
                        lm.name
                    ),
                ));
            }
            return self.program(program, lm.name, kidx, kern_at, plan, targets);
        }
        let ksize = kbtf.size_of(km.type_id).map_err(btf_err)? as usize;
        if ksize != msize {
            return Err(err(
                m,
                format!(
                    "member `{}` is {msize} bytes here and {ksize} in the kernel",
                    lm.name
                ),
            ));
        }
        plan.value
            .get_mut(kern_at..kern_at + msize)
            .ok_or_else(|| {
                err(
                    m,
                    format!("member `{}` lies beyond the kernel value", lm.name),
                )
            })?
            .copy_from_slice(bytes);
        Ok(())
    }

    /// A function-pointer member set to `program`: what the program is loaded for, and
    /// where its fd goes. A program may fill the same member of the same struct in
    /// several maps, nothing else (libbpf: "invalid reuse of prog").
    fn program(
        &self,
        program: &str,
        member: &str,
        kidx: u32,
        kern_at: usize,
        plan: &mut KernStructOps,
        targets: &mut HashMap<String, ProgTarget>,
    ) -> Result<(), LoadError> {
        let target = ProgTarget {
            kern_type_id: self.kern_type_id,
            member: kidx,
            module_fd: self.module_fd,
        };
        if let Some(old) = targets.insert(program.to_string(), target) {
            if old != target {
                return Err(err(
                    self.m,
                    format!(
                        "program `{program}` fills member `{member}` here and another member or struct elsewhere (libbpf: invalid reuse of prog)"
                    ),
                ));
            }
        }
        log::debug!(
            "struct_ops {}: .{member} = program `{program}` (kernel member #{kidx}, value +{kern_at})",
            self.m.name
        );
        plan.funcs.push((kern_at, program.to_string()));
        Ok(())
    }
}

/// The kernel struct's member named `name`: its index and description.
fn kern_member<'a>(
    ktype: BtfType<'a>,
    name: &str,
) -> Result<Option<(u32, crate::btf::Member<'a>)>, crate::btf::BtfError> {
    for (i, km) in ktype.members()?.enumerate() {
        let km = km?;
        if km.name == name {
            return Ok(Some((i as u32, km)));
        }
    }
    Ok(None)
}

/// Creates a struct_ops map: its value type is the kernel's wrapper, named by
/// `btf_vmlinux_value_type_id` (libbpf leaves `btf_value_type_id` at 0 for these).
pub(super) fn create(
    spec: &MapSpec,
    plan: &KernStructOps,
    btf_fd: Option<&std::os::fd::OwnedFd>,
) -> Result<Map, LoadError> {
    let mut attr = MapCreateAttr {
        map_type: MapType::STRUCT_OPS,
        key_size: spec.key_size,
        value_size: plan.value.len() as u32,
        max_entries: spec.max_entries,
        map_flags: spec.map_flags,
        btf_vmlinux_value_type_id: plan.vtype_id.0,
        ..Default::default()
    };
    attr.set_name(&spec.name);
    if let Some(fd) = btf_fd {
        attr.btf_fd = fd.as_raw_fd() as u32;
    }
    if let Some(fd) = plan.module_fd {
        attr.value_type_btf_obj_fd = fd;
        attr.map_flags |= VTYPE_BTF_OBJ_FD;
    }
    let fd = bpf::MapFd::create(&attr).map_err(|error| {
        // `.struct_ops.link` maps (BPF_F_LINK) came in Linux 6.4; before, the flag is
        // a bare EINVAL.
        let link_too_new = spec.map_flags & map_flags::LINK != 0
            && error.errno() == Some(libc::EINVAL)
            && oxbpf_sys::version::KernelVersion::current()
                .is_some_and(|v| (v.major, v.minor) < (6, 4));
        LoadError::MapCreate {
            map: spec.name.clone(),
            hint: link_too_new.then(|| {
                "struct_ops maps registered through links (.struct_ops.link, BPF_F_LINK) need Linux 6.4; declare it in .struct_ops for older kernels".to_string()
            }),
            unset: None,
            error,
        }
    })?;
    log::debug!(
        "map `{}`: struct_ops map created (value {} bytes, kernel type id {})",
        spec.name,
        attr.value_size,
        plan.vtype_id.0
    );
    Ok(Map::from_map_fd(fd).with_name(&spec.name))
}

/// What a kernel lacking struct_ops type `name` was most likely built without, for the
/// kinds people load.
fn missing_feature(name: &str) -> &'static str {
    match name {
        "sched_ext_ops" => {
            " (sched_ext schedulers need a kernel built with CONFIG_SCHED_CLASS_EXT, 6.12 on)"
        }
        "tcp_congestion_ops" => {
            " (TCP congestion controls need CONFIG_BPF_JIT and CONFIG_INET, 5.6 on)"
        }
        "hid_bpf_ops" => " (HID-BPF needs CONFIG_HID_BPF, 6.11 on)",
        "Qdisc_ops" => " (BPF qdiscs need CONFIG_NET_SCH_BPF, 6.16 on)",
        _ => "",
    }
}
