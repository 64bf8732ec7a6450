//! Constants and `#[repr(C)]` mirrors of `include/uapi/linux/bpf.h` (Linux 6.18, with
//! the attach types added since that libbpf already knows), instructions and their
//! disassembly, helper names. Types and constants only: nothing here calls the kernel
//! (no libc), so the pure object crate uses all of it; `oxbpf-sys` re-exports it as
//! `oxbpf_sys::uapi` and makes the calls. One CPU hint ([`hint::prefetch`]) lives here
//! too, for the same reason.
#![deny(missing_docs)]

mod attr;
pub mod bytes;
pub mod disasm;
pub mod helpers;
pub mod hint;
mod info;
pub mod insn;
mod kinds;

pub use attr::{
    BPF_OBJ_NAME_LEN, BtfLoadAttr, IdAttr, InfoAttr, LinkCreateAttr, LinkFdAttr, LinkUpdateAttr,
    MapBatchAttr, MapCreateAttr, MapElemAttr, ObjAttr, ProgAttachAttr, ProgBindMapAttr,
    ProgLoadAttr, ProgQueryAttr, RawTracepointAttr, TestRunAttr, TokenCreateAttr,
};
pub use info::{BtfInfo, LinkInfo, MapInfo, ProgInfo, link_type_name, name_str};
pub use insn::{Endian, Insn};
pub use kinds::{AttachType, MapType, ProgType};

/// `enum bpf_cmd`: the first argument of `bpf(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
#[expect(
    missing_docs,
    reason = "each variant is the kernel command of the same name"
)]
pub enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ObjPin = 6,
    ObjGet = 7,
    ProgAttach = 8,
    ProgDetach = 9,
    ProgTestRun = 10,
    ProgGetNextId = 11,
    MapGetNextId = 12,
    ProgGetFdById = 13,
    MapGetFdById = 14,
    ObjGetInfoByFd = 15,
    ProgQuery = 16,
    RawTracepointOpen = 17,
    BtfLoad = 18,
    BtfGetFdById = 19,
    TaskFdQuery = 20,
    MapLookupAndDeleteElem = 21,
    MapFreeze = 22,
    BtfGetNextId = 23,
    MapLookupBatch = 24,
    MapLookupAndDeleteBatch = 25,
    MapUpdateBatch = 26,
    MapDeleteBatch = 27,
    LinkCreate = 28,
    LinkUpdate = 29,
    LinkGetFdById = 30,
    LinkGetNextId = 31,
    EnableStats = 32,
    IterCreate = 33,
    LinkDetach = 34,
    ProgBindMap = 35,
    TokenCreate = 36,
}

/// `map_flags` bits for `BPF_MAP_CREATE` (`BPF_F_*`).
pub mod map_flags {
    /// Do not preallocate hash map elements (required for LPM tries).
    pub const NO_PREALLOC: u32 = 1 << 0;
    /// Do not use a common LRU list for LRU hash maps.
    pub const NO_COMMON_LRU: u32 = 1 << 1;
    /// Use the NUMA node in `numa_node`.
    pub const NUMA_NODE: u32 = 1 << 2;
    /// User space may only read the map.
    pub const RDONLY: u32 = 1 << 3;
    /// User space may only write the map.
    pub const WRONLY: u32 = 1 << 4;
    /// Stack trace maps store build ids.
    pub const STACK_BUILD_ID: u32 = 1 << 5;
    /// Zero-initialize hash map values.
    pub const ZERO_SEED: u32 = 1 << 6;
    /// Programs may only read the map.
    pub const RDONLY_PROG: u32 = 1 << 7;
    /// Programs may only write the map.
    pub const WRONLY_PROG: u32 = 1 << 8;
    /// Clone the map when the socket is cloned (sk_storage).
    pub const CLONE: u32 = 1 << 9;
    /// The map may be mmap()ed (arrays, since 5.5).
    pub const MMAPABLE: u32 = 1 << 10;
    /// Preserve elements of a map-in-map inner map.
    pub const PRESERVE_ELEMS: u32 = 1 << 11;
    /// Inner maps of this map may have different max_entries.
    pub const INNER_MAP: u32 = 1 << 12;
    /// `BPF_F_LINK`: a struct_ops map registered through a bpf_link (`BPF_LINK_CREATE`),
    /// not by its update alone.
    pub const LINK: u32 = 1 << 13;
    /// The map is created with a BPF token.
    pub const TOKEN_FD: u32 = 1 << 16;
}

/// `prog_flags` bits for `BPF_PROG_LOAD` (`BPF_F_*`).
pub mod prog_flags {
    /// Verify with strict alignment checks.
    pub const STRICT_ALIGNMENT: u32 = 1 << 0;
    /// Allow any alignment (test only).
    pub const ANY_ALIGNMENT: u32 = 1 << 1;
    /// Randomize upper halves of 32-bit registers (test only).
    pub const TEST_RND_HI32: u32 = 1 << 2;
    /// Verifier state freq test.
    pub const TEST_STATE_FREQ: u32 = 1 << 3;
    /// The program may sleep (`*.s` sections).
    pub const SLEEPABLE: u32 = 1 << 4;
    /// The XDP program understands multi-buffer packets (`xdp.frags`).
    pub const XDP_HAS_FRAGS: u32 = 1 << 5;
    /// Loaded for use as an XDP devmap/cpumap program.
    pub const XDP_DEV_BOUND_ONLY: u32 = 1 << 6;
}

/// `src_reg` values that mark special instructions (`BPF_PSEUDO_*`).
pub mod pseudo {
    /// ld_imm64: imm is a map fd.
    pub const MAP_FD: u8 = 1;
    /// ld_imm64: imm is a map fd, the second imm an offset into its value.
    pub const MAP_VALUE: u8 = 2;
    /// ld_imm64: imm is a BTF id of a kernel variable.
    pub const BTF_ID: u8 = 3;
    /// ld_imm64: imm is the instruction offset of a function (callbacks).
    pub const FUNC: u8 = 4;
    /// ld_imm64: imm is an index into fd_array, a map.
    pub const MAP_IDX: u8 = 5;
    /// ld_imm64: imm is an index into fd_array, an offset into the value.
    pub const MAP_IDX_VALUE: u8 = 6;
    /// call: imm is the relative offset of a BPF function.
    pub const CALL: u8 = 1;
    /// call: imm is the BTF id of a kernel function (kfunc).
    pub const KFUNC_CALL: u8 = 2;
}

/// Program license the kernel checks for GPL-only helpers.
pub const LICENSE_GPL: &str = "GPL";
