//! The static binary for small boxes: `scripts/build-static.sh` builds it, and it loads
//! an object in an empty root — a directory holding only the binary and the object, no
//! shared libraries, no /proc, no /sys — where the ordinary (dynamic) build cannot even
//! start.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_static_binary_loads_an_object_in_an_empty_root() {
    let test = "the_static_binary_loads_an_object_in_an_empty_root";
    if !oxbpf_sys::gate::require_bpf(test) {
        return;
    }
    let out = Command::new("sh")
        .arg("scripts/build-static.sh")
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build-static.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = repo().join(String::from_utf8_lossy(&out.stdout).trim());
    // No program interpreter: nothing to load at start.
    let elf = std::fs::read(&binary).unwrap();
    assert!(
        !elf.windows(b"ld-linux".len()).any(|w| w == b"ld-linux")
            && !elf.windows(b"ld-musl".len()).any(|w| w == b"ld-musl"),
        "{} names a dynamic loader",
        binary.display()
    );
    let root = std::env::temp_dir().join(format!("oxbpf-empty-root-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(&binary, root.join("oxbpf")).unwrap();
    std::fs::copy(
        repo().join("testdata/minimal.bpf.o"),
        root.join("minimal.bpf.o"),
    )
    .unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_oxbpf"), root.join("oxbpf-dynamic")).unwrap();
    let in_root = |args: &[&str]| {
        Command::new("chroot")
            .arg(&root)
            .args(args)
            .output()
            .unwrap()
    };
    let entries: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        entries.len(),
        3,
        "the root holds only the binaries and the object"
    );
    let loaded = in_root(&["/oxbpf", "load", "/minimal.bpf.o"]);
    let dynamic = in_root(&["/oxbpf-dynamic", "--version"]);
    std::fs::remove_dir_all(&root).unwrap();
    let text = String::from_utf8_lossy(&loaded.stdout);
    assert!(
        loaded.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(
        text.starts_with("/minimal.bpf.o: loaded 1 program and 2 maps"),
        "{text}"
    );
    // The same root really is empty: a dynamically linked oxbpf finds no loader there.
    assert!(!dynamic.status.success());
}
