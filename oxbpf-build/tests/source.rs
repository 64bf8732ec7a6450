//! The build-script path from a C source: clang compiles it, the skeleton comes from
//! the object it made. Needs clang-19 and the libbpf headers (`.ci/run` installs them).

use std::path::Path;

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

#[test]
fn a_source_compiled_by_clang_gives_the_skeleton_of_its_object() {
    let out = std::env::temp_dir().join(format!("oxbpf-build-source-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let skel = oxbpf_build::Source::new(testdata("bootstrap.bpf.c"))
        .clang("clang-19")
        .args(&[
            "-I",
            testdata("include").to_str().unwrap(),
            "-D__TARGET_ARCH_x86",
        ])
        .compile_to(&out)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = skel.types(&["event"]).generate().unwrap();
    assert!(text.contains("pub mod bootstrap {"));
    assert!(text.contains("pub struct event {"));
    assert!(out.join("bootstrap.bpf.o").exists());

    // A source clang refuses: its message is in the error.
    std::fs::write(out.join("broken.bpf.c"), "int x = ;\n").unwrap();
    let e = oxbpf_build::Source::new(out.join("broken.bpf.c"))
        .clang("clang-19")
        .compile_to(&out)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("broken.bpf.c") && e.contains("expected expression"),
        "{e}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}
