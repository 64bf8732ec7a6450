//! What both loaders are told before load, as the objects' own user space would: maps
//! left at `max_entries` 0 get 10240 entries, and stack trace maps without a value size
//! get 127 frames — what libbpf-tools' user space sets.

/// The size given.
pub const DEFAULT_ENTRIES: u32 = 10240;

/// The value size of a stack trace map left at 0: 127 frames of 8 bytes (libbpf-tools'
/// `perf_max_stack_depth`).
pub const STACK_VALUE_SIZE: u32 = 127 * 8;

/// `BPF_MAP_TYPE_STACK_TRACE`.
pub const STACK_TRACE: u32 = 7;

/// Whether a map of kernel type `ty` left at 0 entries needs a size from user space:
/// not perf event arrays (the loader sizes them by CPU count), not local and cgroup
/// storages (the kernel wants 0), not struct_ops maps (one entry, set by the loader).
pub fn needs_size(ty: u32) -> bool {
    const PERF_EVENT_ARRAY: u32 = 4;
    const CGROUP_STORAGE: u32 = 19;
    const PERCPU_CGROUP_STORAGE: u32 = 21;
    const SK_STORAGE: u32 = 24;
    const STRUCT_OPS: u32 = 26;
    const INODE_STORAGE: u32 = 28;
    const TASK_STORAGE: u32 = 29;
    const CGRP_STORAGE: u32 = 32;
    !matches!(
        ty,
        PERF_EVENT_ARRAY
            | CGROUP_STORAGE
            | PERCPU_CGROUP_STORAGE
            | SK_STORAGE
            | STRUCT_OPS
            | INODE_STORAGE
            | TASK_STORAGE
            | CGRP_STORAGE
    )
}
