//! Kernel tests of the raw `bpf()` layer: they create real maps and load real programs.
//! Each starts at the gate: without CAP_BPF it is skipped with its reason, and under
//! `CI=true` a skip fails.

mod bpf;
