//! `struct bpf_map_info` and `struct bpf_prog_info`, as `BPF_OBJ_GET_INFO_BY_FD` fills
//! them. Offsets checked against the kernel header in the tests.

use super::{MapType, ProgType};

/// `struct bpf_map_info`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MapInfo {
    /// Map type.
    pub map_type: MapType,
    /// Kernel-wide id.
    pub id: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Flags.
    pub map_flags: u32,
    /// Name (NUL-padded).
    pub name: [u8; 16],
    /// Offload interface.
    pub ifindex: u32,
    /// struct_ops value type in vmlinux.
    pub btf_vmlinux_value_type_id: u32,
    /// Offload netns device.
    pub netns_dev: u64,
    /// Offload netns inode.
    pub netns_ino: u64,
    /// Id of its BTF.
    pub btf_id: u32,
    /// BTF key type.
    pub btf_key_type_id: u32,
    /// BTF value type.
    pub btf_value_type_id: u32,
    /// BTF id of vmlinux for struct_ops.
    pub btf_vmlinux_id: u32,
    /// Type-specific extra.
    pub map_extra: u64,
}

/// `struct bpf_prog_info` (the fields up to `attach_btf_id`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ProgInfo {
    /// Program type.
    pub prog_type: ProgType,
    /// Kernel-wide id.
    pub id: u32,
    /// SHA-1 prefix of the instructions.
    pub tag: [u8; 8],
    /// JIT image length.
    pub jited_prog_len: u32,
    /// Translated instructions length.
    pub xlated_prog_len: u32,
    /// Buffer for the JIT image.
    pub jited_prog_insns: u64,
    /// Buffer for the translated instructions.
    pub xlated_prog_insns: u64,
    /// Load time (ns since boot).
    pub load_time: u64,
    /// Loader uid.
    pub created_by_uid: u32,
    /// Number of maps used.
    pub nr_map_ids: u32,
    /// Buffer for map ids.
    pub map_ids: u64,
    /// Name.
    pub name: [u8; 16],
    /// Offload interface.
    pub ifindex: u32,
    /// `gpl_compatible:1` bitfield (and padding).
    pub gpl_compatible: u32,
    /// Offload netns device.
    pub netns_dev: u64,
    /// Offload netns inode.
    pub netns_ino: u64,
    /// JIT symbols count.
    pub nr_jited_ksyms: u32,
    /// JIT function lengths count.
    pub nr_jited_func_lens: u32,
    /// Buffer for JIT symbols.
    pub jited_ksyms: u64,
    /// Buffer for JIT function lengths.
    pub jited_func_lens: u64,
    /// Id of its BTF.
    pub btf_id: u32,
    /// func_info record size.
    pub func_info_rec_size: u32,
    /// Buffer for func_info.
    pub func_info: u64,
    /// func_info count.
    pub nr_func_info: u32,
    /// line_info count.
    pub nr_line_info: u32,
    /// Buffer for line_info.
    pub line_info: u64,
    /// Buffer for JIT line info.
    pub jited_line_info: u64,
    /// JIT line info count.
    pub nr_jited_line_info: u32,
    /// line_info record size.
    pub line_info_rec_size: u32,
    /// JIT line info record size.
    pub jited_line_info_rec_size: u32,
    /// Program tags count.
    pub nr_prog_tags: u32,
    /// Buffer for program tags.
    pub prog_tags: u64,
    /// Run time with stats enabled.
    pub run_time_ns: u64,
    /// Run count with stats enabled.
    pub run_cnt: u64,
    /// Recursion misses.
    pub recursion_misses: u64,
    /// Instructions the verifier processed.
    pub verified_insns: u32,
    /// BTF object id of the attach target.
    pub attach_btf_obj_id: u32,
    /// BTF id of the attach target.
    pub attach_btf_id: u32,
    /// Padding to the kernel's size.
    pub _pad: u32,
}

/// `struct bpf_btf_info`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct BtfInfo {
    /// Buffer for the raw BTF.
    pub btf: u64,
    /// Size of the raw BTF.
    pub btf_size: u32,
    /// Kernel-wide id.
    pub id: u32,
    /// Buffer for the name.
    pub name: u64,
    /// Name buffer length.
    pub name_len: u32,
    /// Whether this is vmlinux or module BTF.
    pub kernel_btf: u32,
}

/// The head of `struct bpf_link_info`: what every link kind reports (the kind-specific
/// union after it is not read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct LinkInfo {
    /// `enum bpf_link_type`.
    pub link_type: u32,
    /// Kernel-wide id.
    pub id: u32,
    /// The attached program's id.
    pub prog_id: u32,
    /// Padding to the union's alignment.
    pub _pad: u32,
}

/// The name of a `enum bpf_link_type` value, as bpftool prints it.
pub fn link_type_name(t: u32) -> &'static str {
    const NAMES: [&str; 15] = [
        "unspec",
        "raw_tracepoint",
        "tracing",
        "cgroup",
        "iter",
        "netns",
        "xdp",
        "perf_event",
        "kprobe_multi",
        "struct_ops",
        "netfilter",
        "tcx",
        "uprobe_multi",
        "netkit",
        "sockmap",
    ];
    NAMES.get(t as usize).copied().unwrap_or("unknown")
}

/// A NUL-padded kernel name as a string.
pub fn name_str(name: &[u8]) -> String {
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    String::from_utf8_lossy(&name[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn map_info_matches_kernel_layout() {
        assert_eq!(offset_of!(MapInfo, name), 24);
        assert_eq!(offset_of!(MapInfo, netns_dev), 48);
        assert_eq!(offset_of!(MapInfo, btf_id), 64);
        assert_eq!(offset_of!(MapInfo, btf_value_type_id), 72);
        assert_eq!(offset_of!(MapInfo, map_extra), 80);
        assert_eq!(size_of::<MapInfo>(), 88);
    }

    #[test]
    fn btf_info_matches_kernel_layout() {
        assert_eq!(offset_of!(BtfInfo, id), 12);
        assert_eq!(offset_of!(BtfInfo, kernel_btf), 28);
        assert_eq!(size_of::<BtfInfo>(), 32);
    }

    #[test]
    fn prog_info_matches_kernel_layout() {
        assert_eq!(offset_of!(ProgInfo, tag), 8);
        assert_eq!(offset_of!(ProgInfo, map_ids), 56);
        assert_eq!(offset_of!(ProgInfo, name), 64);
        assert_eq!(offset_of!(ProgInfo, netns_dev), 88);
        assert_eq!(offset_of!(ProgInfo, btf_id), 128);
        assert_eq!(offset_of!(ProgInfo, line_info), 152);
        assert_eq!(offset_of!(ProgInfo, prog_tags), 184);
        assert_eq!(offset_of!(ProgInfo, verified_insns), 216);
        assert_eq!(offset_of!(ProgInfo, attach_btf_id), 224);
        assert_eq!(size_of::<ProgInfo>(), 232);
    }
}
