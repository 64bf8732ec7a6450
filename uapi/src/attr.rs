//! Attr structs: one per `bpf()` command, each a prefix of `union bpf_attr`.
//!
//! Every field is spelled out, with explicit padding where C would insert some, so a
//! zeroed struct has no uninitialised bytes: the kernel rejects non-zero bytes it does
//! not know (`bpf_check_uarg_tail_zero`), and garbage in padding has been seen to land in
//! a later field. Sizes and offsets are checked against the kernel header in the tests.

use super::{AttachType, MapType, ProgType};

/// `BPF_OBJ_NAME_LEN`: map and program names hold 15 bytes and a NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;

/// Copies `name` into a kernel object name: at most 15 bytes, NUL-terminated, cut on a
/// byte boundary as libbpf does (names are ASCII in practice; the kernel checks).
fn obj_name(name: &str) -> [u8; BPF_OBJ_NAME_LEN] {
    let mut out = [0u8; BPF_OBJ_NAME_LEN];
    let n = name.len().min(BPF_OBJ_NAME_LEN - 1);
    out[..n].copy_from_slice(&name.as_bytes()[..n]);
    out
}

/// `BPF_MAP_CREATE` attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MapCreateAttr {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub map_flags: u32,
    /// Template map fd for maps of maps.
    pub inner_map_fd: u32,
    /// NUMA node, used with `BPF_F_NUMA_NODE`.
    pub numa_node: u32,
    /// NUL-terminated name, 15 bytes at most.
    pub map_name: [u8; BPF_OBJ_NAME_LEN],
    /// Offload target interface.
    pub map_ifindex: u32,
    /// fd of the BTF that describes key and value.
    pub btf_fd: u32,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// BTF type id of a struct_ops value in vmlinux.
    pub btf_vmlinux_value_type_id: u32,
    /// Type-specific extra (bloom filter hash count, arena address).
    pub map_extra: u64,
    /// BTF object fd for `btf_vmlinux_value_type_id` in a module.
    pub value_type_btf_obj_fd: i32,
    /// BPF token fd, with `BPF_F_TOKEN_FD`.
    pub map_token_fd: i32,
}

impl MapCreateAttr {
    /// Sets the name, cut to the kernel's 15 bytes.
    pub fn set_name(&mut self, name: &str) {
        self.map_name = obj_name(name);
    }
}

/// `BPF_PROG_LOAD` attributes.
///
/// Pointer fields are `u64` addresses, as in the UAPI; the wrapper in
/// `oxbpf_sys::bpf::prog_load` fills them from slices it borrows for the call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ProgLoadAttr {
    /// The program type.
    pub prog_type: ProgType,
    /// Number of 8-byte instruction slots.
    pub insn_cnt: u32,
    /// Address of the instructions.
    pub insns: u64,
    /// Address of the NUL-terminated license string.
    pub license: u64,
    /// Verifier log level (0 = no log, 1 = on failure detail, 2 = everything).
    pub log_level: u32,
    /// Size of the log buffer.
    pub log_size: u32,
    /// Address of the log buffer.
    pub log_buf: u64,
    /// Kernel version, checked for kprobes before 5.0.
    pub kern_version: u32,
    /// `BPF_F_*` program flags.
    pub prog_flags: u32,
    /// NUL-terminated name, 15 bytes at most.
    pub prog_name: [u8; BPF_OBJ_NAME_LEN],
    /// Offload target interface.
    pub prog_ifindex: u32,
    /// The expected attach type (checked at attach time by the kernel).
    pub expected_attach_type: AttachType,
    /// fd of the program's BTF (for func_info/line_info).
    pub prog_btf_fd: u32,
    /// Size of one func_info record.
    pub func_info_rec_size: u32,
    /// Address of the func_info records.
    pub func_info: u64,
    /// Number of func_info records.
    pub func_info_cnt: u32,
    /// Size of one line_info record.
    pub line_info_rec_size: u32,
    /// Address of the line_info records.
    pub line_info: u64,
    /// Number of line_info records.
    pub line_info_cnt: u32,
    /// BTF id of the attach target (fentry/fexit/lsm/tp_btf/iter/freplace).
    pub attach_btf_id: u32,
    /// fd of the target program (freplace) or of the module BTF holding the target.
    pub attach_btf_obj_fd: u32,
    /// Number of CO-RE relocations for the kernel to apply.
    pub core_relo_cnt: u32,
    /// Address of the fd array (module kfuncs, `BPF_PSEUDO_MAP_IDX`).
    pub fd_array: u64,
    /// Address of the CO-RE relocation records.
    pub core_relos: u64,
    /// Size of one CO-RE relocation record.
    pub core_relo_rec_size: u32,
    /// Set by the kernel: the log size it needed (6.4+).
    pub log_true_size: u32,
    /// BPF token fd, with `BPF_F_TOKEN_FD`.
    pub prog_token_fd: i32,
    /// Number of fds in `fd_array` (6.14+).
    pub fd_array_cnt: u32,
}

impl ProgLoadAttr {
    /// Sets the name, cut to the kernel's 15 bytes.
    pub fn set_name(&mut self, name: &str) {
        self.prog_name = obj_name(name);
    }
}

/// `BPF_BTF_LOAD` attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct BtfLoadAttr {
    /// Address of the BTF blob.
    pub btf: u64,
    /// Address of the log buffer.
    pub btf_log_buf: u64,
    /// Size of the blob.
    pub btf_size: u32,
    /// Size of the log buffer.
    pub btf_log_size: u32,
    /// Log level (0 = none, 1 = errors and what led to them).
    pub btf_log_level: u32,
    /// Set by the kernel: the log size it needed (6.4+).
    pub btf_log_true_size: u32,
    /// `BPF_F_TOKEN_FD` and friends.
    pub btf_flags: u32,
    /// BPF token fd.
    pub btf_token_fd: i32,
}

/// `BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM`, `BPF_MAP_GET_NEXT_KEY`, `BPF_MAP_FREEZE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MapElemAttr {
    /// The map.
    pub map_fd: u32,
    /// Explicit padding before the 8-aligned key address.
    pub _pad: u32,
    /// Address of the key.
    pub key: u64,
    /// Address of the value (or of the next key).
    pub value: u64,
    /// `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`.
    pub flags: u64,
}

/// `BPF_OBJ_PIN` and `BPF_OBJ_GET`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ObjAttr {
    /// Address of the NUL-terminated path.
    pub pathname: u64,
    /// The object to pin (PIN only).
    pub bpf_fd: u32,
    /// `BPF_F_RDONLY`/`BPF_F_WRONLY` for GET.
    pub file_flags: u32,
    /// Directory fd for relative paths with `BPF_F_PATH_FD`.
    pub path_fd: i32,
    /// Explicit padding to the struct's alignment.
    pub _pad: u32,
}

/// `BPF_OBJ_GET_INFO_BY_FD`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct InfoAttr {
    /// The object.
    pub bpf_fd: u32,
    /// Size of the info buffer; the kernel writes how much it filled.
    pub info_len: u32,
    /// Address of the info buffer.
    pub info: u64,
}

/// `BPF_*_GET_NEXT_ID` and `BPF_*_GET_FD_BY_ID`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IdAttr {
    /// The id to start after (NEXT_ID) or to open (FD_BY_ID).
    pub start_id: u32,
    /// Set by the kernel: the next id.
    pub next_id: u32,
    /// Open flags for FD_BY_ID.
    pub open_flags: u32,
}

/// `BPF_PROG_TEST_RUN`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct TestRunAttr {
    /// The program.
    pub prog_fd: u32,
    /// Set by the kernel: the program's return value.
    pub retval: u32,
    /// Input packet size.
    pub data_size_in: u32,
    /// Output packet buffer size; set by the kernel to what it wrote.
    pub data_size_out: u32,
    /// Address of the input packet.
    pub data_in: u64,
    /// Address of the output packet buffer.
    pub data_out: u64,
    /// Times to run.
    pub repeat: u32,
    /// Set by the kernel: average run time in ns.
    pub duration: u32,
    /// Input context size.
    pub ctx_size_in: u32,
    /// Output context buffer size.
    pub ctx_size_out: u32,
    /// Address of the input context.
    pub ctx_in: u64,
    /// Address of the output context buffer.
    pub ctx_out: u64,
    /// `BPF_F_TEST_RUN_ON_CPU`, `BPF_F_TEST_XDP_LIVE_FRAMES`.
    pub flags: u32,
    /// CPU to run on, with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
    /// Batch size for live XDP frames.
    pub batch_size: u32,
    /// Explicit padding to the struct's alignment.
    pub _pad: u32,
}

/// `BPF_LINK_CREATE`. The tail is a union that differs by link kind; it is kept as six
/// words, filled by the constructors below with the layout of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct LinkCreateAttr {
    /// The program (or the map, for struct_ops links).
    pub prog_fd: u32,
    /// The target: a cgroup or netns fd, an ifindex for XDP/TCX, a perf event fd, a
    /// program fd for freplace, 0 for tracing.
    pub target_fd: u32,
    /// `enum bpf_attach_type`.
    pub attach_type: AttachType,
    /// Link flags (`BPF_F_*` of the kind).
    pub flags: u32,
    /// The kind-specific union (`target_btf_id`, `perf_event`, `tracing`, `tcx`, ...).
    pub extra: [u64; 6],
}

impl LinkCreateAttr {
    /// A link of `prog` to `target` with no kind-specific fields.
    pub fn new(prog_fd: u32, target_fd: u32, attach_type: AttachType) -> LinkCreateAttr {
        LinkCreateAttr {
            prog_fd,
            target_fd,
            attach_type,
            ..Default::default()
        }
    }

    /// `uprobe_multi`: the path, `cnt` offsets (and optional per-offset reference
    /// counter offsets and cookies, 0 for none) as addresses the caller keeps alive,
    /// `BPF_F_UPROBE_MULTI_RETURN` in `flags`, and a pid filter (0 for every process).
    #[must_use]
    #[expect(
        clippy::too_many_arguments,
        reason = "the kernel's uprobe_multi fields, one argument each"
    )]
    pub fn with_uprobe_multi(
        mut self,
        path: u64,
        offsets: u64,
        ref_ctr_offsets: u64,
        cookies: u64,
        cnt: u32,
        flags: u32,
        pid: u32,
    ) -> LinkCreateAttr {
        let pair = |a: u32, b: u32| {
            let mut w = [0u8; 8];
            w[..4].copy_from_slice(&a.to_ne_bytes());
            w[4..].copy_from_slice(&b.to_ne_bytes());
            u64::from_ne_bytes(w)
        };
        self.extra[0] = path;
        self.extra[1] = offsets;
        self.extra[2] = ref_ctr_offsets;
        self.extra[3] = cookies;
        self.extra[4] = pair(cnt, flags);
        self.extra[5] = pair(pid, 0);
        self
    }

    /// `perf_event`: the BPF cookie the program reads with `bpf_get_attach_cookie()`
    /// (5.15).
    #[must_use]
    pub fn with_perf_cookie(mut self, cookie: u64) -> LinkCreateAttr {
        self.extra[0] = cookie;
        self
    }

    /// `kprobe_multi`: `flags` (`BPF_F_KPROBE_MULTI_RETURN`), `cnt`, and arrays the
    /// caller keeps alive: symbol name pointers or addresses (one of the two), and
    /// optional per-function cookies.
    #[must_use]
    pub fn with_kprobe_multi(
        mut self,
        flags: u32,
        cnt: u32,
        syms: u64,
        addrs: u64,
        cookies: u64,
    ) -> LinkCreateAttr {
        let mut w = [0u8; 8];
        w[..4].copy_from_slice(&flags.to_ne_bytes());
        w[4..].copy_from_slice(&cnt.to_ne_bytes());
        self.extra[0] = u64::from_ne_bytes(w);
        self.extra[1] = syms;
        self.extra[2] = addrs;
        self.extra[3] = cookies;
        self
    }
}

/// `BPF_MAP_LOOKUP_BATCH`, `..._AND_DELETE_BATCH`, `BPF_MAP_UPDATE_BATCH`,
/// `BPF_MAP_DELETE_BATCH`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MapBatchAttr {
    /// Address of the position to continue from (0 to start).
    pub in_batch: u64,
    /// Address where the kernel writes the position to continue from.
    pub out_batch: u64,
    /// Address of the keys.
    pub keys: u64,
    /// Address of the values.
    pub values: u64,
    /// In: how many fit; out: how many were done.
    pub count: u32,
    /// The map.
    pub map_fd: u32,
    /// Per-element flags (`BPF_F_LOCK`, `BPF_NOEXIST`...).
    pub elem_flags: u64,
    /// Flags (none defined).
    pub flags: u64,
}

/// `BPF_RAW_TRACEPOINT_OPEN`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RawTracepointAttr {
    /// Address of the tracepoint's name, or 0 for a tp_btf/fentry/... program, whose
    /// target is in the program.
    pub name: u64,
    /// The program.
    pub prog_fd: u32,
    /// Explicit padding.
    pub _pad: u32,
}

/// `BPF_PROG_BIND_MAP`: ties a map to a loaded program that does not reference it, so
/// it lives as long as the program (libbpf binds `.rodata` for tools that read a
/// program's metadata through its maps).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ProgBindMapAttr {
    /// The program.
    pub prog_fd: u32,
    /// The map.
    pub map_fd: u32,
    /// Flags (none defined).
    pub flags: u32,
}

/// `BPF_LINK_DETACH`, `BPF_ITER_CREATE` (both start with a link fd).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct LinkFdAttr {
    /// The link.
    pub link_fd: u32,
    /// Flags (none defined).
    pub flags: u32,
}

/// `BPF_PROG_QUERY`: the programs (and, for TCX and netkit, 6.6+, the links) attached
/// at a hook: a cgroup (`target` its fd) or an interface (`target` its ifindex).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ProgQueryAttr {
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    /// `enum bpf_attach_type` of the hook.
    pub attach_type: u32,
    /// `BPF_F_QUERY_EFFECTIVE` and the like.
    pub query_flags: u32,
    /// Out: the hook's attach flags.
    pub attach_flags: u32,
    /// Out: address of `count` program ids.
    pub prog_ids: u64,
    /// In: how many ids the arrays hold; out: how many are attached.
    pub count: u32,
    /// Padding.
    pub _pad: u32,
    /// Out: address of `count` per-program attach flags (or 0).
    pub prog_attach_flags: u64,
    /// Out: address of `count` link ids (0 where a program is attached without one).
    pub link_ids: u64,
    /// Out: address of `count` per-link attach flags (or 0).
    pub link_attach_flags: u64,
    /// Out: the hook's revision.
    pub revision: u64,
}

/// `BPF_TOKEN_CREATE` (6.9): a token from a bpffs mounted with `delegate_*` options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct TokenCreateAttr {
    /// No flags are defined.
    pub flags: u32,
    /// An fd of the bpffs (its root directory, or an `fsmount` fd).
    pub bpffs_fd: u32,
}

/// `BPF_LINK_UPDATE`: a link's program (or a struct_ops link's map) replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct LinkUpdateAttr {
    /// The link.
    pub link_fd: u32,
    /// The new program, or for a struct_ops link the new map.
    pub new_fd: u32,
    /// `BPF_F_REPLACE`: replace only if the link holds `old_fd`.
    pub flags: u32,
    /// The program (or map) expected in the link, with `BPF_F_REPLACE`.
    pub old_fd: u32,
}

/// `BPF_PROG_ATTACH` and `BPF_PROG_DETACH`: the attachments that are not links
/// (cgroups before 5.7, sockmap programs, flow dissector, lirc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ProgAttachAttr {
    /// The cgroup, map or netns.
    pub target_fd: u32,
    /// The program.
    pub attach_bpf_fd: u32,
    /// `enum bpf_attach_type`.
    pub attach_type: AttachType,
    /// `BPF_F_ALLOW_OVERRIDE`, `BPF_F_ALLOW_MULTI`, `BPF_F_REPLACE`.
    pub attach_flags: u32,
    /// The program to replace, with `BPF_F_REPLACE`.
    pub replace_bpf_fd: u32,
    /// Explicit padding.
    pub _pad: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    // Offsets as printed by `offsetof(union bpf_attr, field)` compiled against the
    // kernel's include/uapi/linux/bpf.h; fields after `core_relo_rec_size` from the
    // 6.4 (log_true_size), 6.9 (tokens) and 6.14 (fd_array_cnt) headers.
    #[test]
    fn map_create_matches_kernel_layout() {
        assert_eq!(offset_of!(MapCreateAttr, key_size), 4);
        assert_eq!(offset_of!(MapCreateAttr, inner_map_fd), 20);
        assert_eq!(offset_of!(MapCreateAttr, numa_node), 24);
        assert_eq!(offset_of!(MapCreateAttr, map_name), 28);
        assert_eq!(offset_of!(MapCreateAttr, map_ifindex), 44);
        assert_eq!(offset_of!(MapCreateAttr, btf_fd), 48);
        assert_eq!(offset_of!(MapCreateAttr, btf_vmlinux_value_type_id), 60);
        assert_eq!(offset_of!(MapCreateAttr, map_extra), 64);
        assert_eq!(offset_of!(MapCreateAttr, value_type_btf_obj_fd), 72);
        assert_eq!(offset_of!(MapCreateAttr, map_token_fd), 76);
        assert_eq!(size_of::<MapCreateAttr>(), 80);
    }

    #[test]
    fn map_batch_matches_kernel_layout() {
        assert_eq!(offset_of!(MapBatchAttr, count), 32);
        assert_eq!(offset_of!(MapBatchAttr, map_fd), 36);
        assert_eq!(offset_of!(MapBatchAttr, flags), 48);
        assert_eq!(size_of::<MapBatchAttr>(), 56);
    }

    #[test]
    fn link_attrs_match_kernel_layout() {
        assert_eq!(offset_of!(LinkCreateAttr, attach_type), 8);
        assert_eq!(offset_of!(LinkCreateAttr, flags), 12);
        assert_eq!(offset_of!(LinkCreateAttr, extra), 16);
        assert_eq!(size_of::<LinkCreateAttr>(), 64);
        assert_eq!(offset_of!(RawTracepointAttr, prog_fd), 8);
        assert_eq!(offset_of!(ProgAttachAttr, replace_bpf_fd), 16);
    }

    #[test]
    fn prog_load_matches_kernel_layout() {
        assert_eq!(offset_of!(ProgLoadAttr, insns), 8);
        assert_eq!(offset_of!(ProgLoadAttr, license), 16);
        assert_eq!(offset_of!(ProgLoadAttr, log_level), 24);
        assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(offset_of!(ProgLoadAttr, kern_version), 40);
        assert_eq!(offset_of!(ProgLoadAttr, prog_flags), 44);
        assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(offset_of!(ProgLoadAttr, prog_ifindex), 64);
        assert_eq!(offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(offset_of!(ProgLoadAttr, prog_btf_fd), 72);
        assert_eq!(offset_of!(ProgLoadAttr, func_info), 80);
        assert_eq!(offset_of!(ProgLoadAttr, func_info_cnt), 88);
        assert_eq!(offset_of!(ProgLoadAttr, line_info), 96);
        assert_eq!(offset_of!(ProgLoadAttr, line_info_cnt), 104);
        assert_eq!(offset_of!(ProgLoadAttr, attach_btf_id), 108);
        assert_eq!(offset_of!(ProgLoadAttr, attach_btf_obj_fd), 112);
        assert_eq!(offset_of!(ProgLoadAttr, core_relo_cnt), 116);
        assert_eq!(offset_of!(ProgLoadAttr, fd_array), 120);
        assert_eq!(offset_of!(ProgLoadAttr, core_relos), 128);
        assert_eq!(offset_of!(ProgLoadAttr, core_relo_rec_size), 136);
        assert_eq!(offset_of!(ProgLoadAttr, log_true_size), 140);
        assert_eq!(offset_of!(ProgLoadAttr, prog_token_fd), 144);
        assert_eq!(offset_of!(ProgLoadAttr, fd_array_cnt), 148);
        assert_eq!(size_of::<ProgLoadAttr>(), 152);
    }

    #[test]
    fn btf_load_matches_kernel_layout() {
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_buf), 8);
        assert_eq!(offset_of!(BtfLoadAttr, btf_size), 16);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_size), 20);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_level), 24);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_true_size), 28);
        assert_eq!(offset_of!(BtfLoadAttr, btf_flags), 32);
        assert_eq!(offset_of!(BtfLoadAttr, btf_token_fd), 36);
        assert_eq!(size_of::<BtfLoadAttr>(), 40);
    }

    #[test]
    fn small_attrs_match_kernel_layout() {
        assert_eq!(offset_of!(MapElemAttr, key), 8);
        assert_eq!(offset_of!(MapElemAttr, value), 16);
        assert_eq!(offset_of!(MapElemAttr, flags), 24);
        assert_eq!(offset_of!(ObjAttr, bpf_fd), 8);
        assert_eq!(offset_of!(ObjAttr, file_flags), 12);
        assert_eq!(offset_of!(InfoAttr, info), 8);
        assert_eq!(offset_of!(IdAttr, open_flags), 8);
        assert_eq!(offset_of!(TestRunAttr, data_in), 16);
        assert_eq!(offset_of!(TestRunAttr, repeat), 32);
        assert_eq!(offset_of!(TestRunAttr, ctx_in), 48);
        assert_eq!(offset_of!(TestRunAttr, flags), 64);
        assert_eq!(offset_of!(TestRunAttr, batch_size), 72);
    }

    #[test]
    fn names_are_cut_to_fifteen_bytes() {
        let mut a = MapCreateAttr::default();
        a.set_name("a_rather_long_map_name");
        assert_eq!(&a.map_name, b"a_rather_long_m\0");
    }
}
