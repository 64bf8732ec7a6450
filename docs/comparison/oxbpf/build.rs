//! The skeleton of the object, from its BTF: `struct event` and the rest typed.
fn main() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    oxbpf_build::Skeleton::new("src/bootstrap.bpf.o")
        .types(&["event"])
        .generate_to(out)
        .expect("a skeleton");
    println!("cargo::rerun-if-changed=src/bootstrap.bpf.o");
}
