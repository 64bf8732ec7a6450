//! The kernel side of loading: everything here makes `bpf()` calls through
//! `oxbpf-sys`. The stages before it (ELF, BTF, CO-RE, relocation) are pure.

pub mod btf;
