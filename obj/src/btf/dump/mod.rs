//! BTF printed for people: [`raw`] lists every type as `bpftool btf dump` does, [`c`]
//! writes a C header (`vmlinux.h`) that clang compiles.

pub mod c;
pub mod raw;
