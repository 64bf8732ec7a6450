//! Compiles src/bpf/bootstrap.bpf.c with clang and generates its skeleton, as libbpf-rs's
//! examples do (`CLANG` names the compiler; libbpf-cargo's default is `clang`).

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "src/bpf/bootstrap.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set for build scripts"))
        .join("bootstrap.skel.rs");
    SkeletonBuilder::new()
        .source(SRC)
        .clang(env::var("CLANG").unwrap_or_else(|_| "clang".into()))
        // vmlinux.h sits beside the source (libbpf-rs's examples take it from the
        // `vmlinux` crate, a git dependency).
        .clang_args(["-Isrc/bpf"])
        .build_and_generate(&out)
        .unwrap();
    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-env-changed=CLANG");
}
