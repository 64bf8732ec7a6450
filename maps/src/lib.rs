//! BPF maps from user space: the `Map` handle (an fd plus its definition), typed and
//! raw element operations, per-CPU values, batch operations, iteration, pinning, and the
//! ring buffer and perf buffer consumers.
//!
//! Where it sits: beside `oxbpf-prog`, on top of `oxbpf-sys`; `oxbpf-loader` hands out
//! maps it created. This crate is laid out now so the workspace has its final shape;
//! its contents arrive with the maps issue. Until then, maps are created and used through
//! `oxbpf_sys::bpf` directly.
#![forbid(unsafe_code)]
