//! BPF programs after load: the `Program` handle, attachment for every kind (XDP over
//! netlink or bpf_link, socket filters, tracepoints, kprobes, uprobes, cgroups, tc, ...),
//! `Link`s that detach on drop unless pinned, and `BPF_PROG_TEST_RUN`.
//!
//! Where it sits: beside `oxbpf-maps`, on top of `oxbpf-sys`; `oxbpf-loader` hands out
//! the programs it loaded. This crate is laid out now so the workspace has its final
//! shape; its contents arrive with the attach issue.
#![forbid(unsafe_code)]
