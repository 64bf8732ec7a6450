//! BTF against the real kernel and against outside tools:
//! - feature probes, checked against the kernel version;
//! - every testdata object's BTF, fixed up and sanitized, loads with `BPF_BTF_LOAD`
//!   (and still loads with each downgrade for older kernels applied);
//! - a refused blob gives the kernel's log in the error;
//! - `btf dump` raw output equals bpftool's, for testdata and for vmlinux;
//! - the C dump of vmlinux compiles with clang-19, reproduces every struct's size and
//!   member offsets, and the testdata CO-RE programs build against it.

use std::path::PathBuf;
use std::process::Command;

use oxbpf_loader::Object;
use oxbpf_loader::btf::encode::encode;
use oxbpf_loader::btf::sanitize::SanitizeOptions;
use oxbpf_loader::btf::types::{Type, TypeKind, decode_all};
use oxbpf_loader::btf::{Btf, dump};
use oxbpf_loader::btf_load::{BtfLoadError, load_object_btf, load_raw};
use oxbpf_loader::load::LoadOptions;
use oxbpf_loader::prelude::*;
use oxbpf_loader::probe::btf_features;
use oxbpf_sys::gate;
use oxbpf_sys::uapi::Endian;
use oxbpf_sys::version::KernelVersion;

fn objects() -> Vec<PathBuf> {
    crate::testdata_objects()
}

#[test]
fn btf_feature_probes_agree_with_the_kernel_version() {
    let _serial = crate::serial();
    if !gate::require_bpf("btf_feature_probes_agree_with_the_kernel_version") {
        return;
    }
    let f = btf_features().unwrap();
    let test = "btf_feature_probes_agree_with_the_kernel_version";
    // Each probe that says "no" on a kernel that has the feature fails the test.
    gate::require_feature(test, "BTF FUNC", f.func, KernelVersion::new(5, 0, 0));
    gate::require_feature(test, "BTF DATASEC", f.datasec, KernelVersion::new(5, 2, 0));
    gate::require_feature(
        test,
        "BTF global FUNC linkage",
        f.func_global,
        KernelVersion::new(5, 6, 0),
    );
    gate::require_feature(test, "BTF FLOAT", f.float, KernelVersion::new(5, 13, 0));
    gate::require_feature(
        test,
        "BTF DECL_TAG",
        f.decl_tag,
        KernelVersion::new(5, 16, 0),
    );
    gate::require_feature(
        test,
        "BTF TYPE_TAG",
        f.type_tag,
        KernelVersion::new(5, 17, 0),
    );
    gate::require_feature(test, "BTF ENUM64", f.enum64, KernelVersion::new(6, 0, 0));
    gate::require_feature(
        test,
        "BTF DATASEC named ?",
        f.qmark_datasec,
        KernelVersion::new(6, 5, 0),
    );
    // The second call is answered from the cache.
    assert_eq!(btf_features().unwrap(), f);
}

#[test]
fn every_testdata_objects_btf_loads_into_the_kernel() {
    let _serial = crate::serial();
    if !gate::require_bpf("every_testdata_objects_btf_loads_into_the_kernel") {
        return;
    }
    let opts = btf_features().unwrap().sanitize_options();
    for path in objects() {
        let obj = Object::open(&path).unwrap();
        let btf = obj.btf.as_ref().unwrap();
        if let Err(e) = load_object_btf(btf, &obj, &opts) {
            panic!("{}: {}", path.display(), crate::chain(&e));
        }
    }
}

#[test]
fn every_downgrade_for_older_kernels_still_loads() {
    let _serial = crate::serial();
    if !gate::require_bpf("every_downgrade_for_older_kernels_still_loads") {
        return;
    }
    let one = |f: fn(&mut SanitizeOptions)| {
        let mut o = SanitizeOptions::default();
        f(&mut o);
        o
    };
    let cases = [
        ("no_func", one(|o| o.no_func = true)),
        ("no_func_global", one(|o| o.no_func_global = true)),
        ("no_datasec", one(|o| o.no_datasec = true)),
        ("no_qmark_datasec", one(|o| o.no_qmark_datasec = true)),
        ("no_float", one(|o| o.no_float = true)),
        ("no_decl_tag", one(|o| o.no_decl_tag = true)),
        ("no_type_tag", one(|o| o.no_type_tag = true)),
        ("no_enum64", one(|o| o.no_enum64 = true)),
        (
            "all of them",
            SanitizeOptions {
                no_func: true,
                no_func_global: true,
                no_datasec: true,
                no_qmark_datasec: true,
                no_float: true,
                no_decl_tag: true,
                no_type_tag: true,
                no_enum64: true,
            },
        ),
    ];
    // Each downgrade on top of what this kernel itself needs (5.10 takes no TYPE_TAG
    // whichever case is tried).
    let here = btf_features().unwrap().sanitize_options();
    let with_here = |o: &SanitizeOptions| SanitizeOptions {
        no_func: o.no_func || here.no_func,
        no_func_global: o.no_func_global || here.no_func_global,
        no_datasec: o.no_datasec || here.no_datasec,
        no_qmark_datasec: o.no_qmark_datasec || here.no_qmark_datasec,
        no_float: o.no_float || here.no_float,
        no_decl_tag: o.no_decl_tag || here.no_decl_tag,
        no_type_tag: o.no_type_tag || here.no_type_tag,
        no_enum64: o.no_enum64 || here.no_enum64,
    };
    for path in objects() {
        let obj = Object::open(&path).unwrap();
        for (name, opts) in &cases {
            let opts = &with_here(opts);
            if let Err(e) = load_object_btf(obj.btf.as_ref().unwrap(), &obj, opts) {
                panic!("{} with {name}: {}", path.display(), crate::chain(&e));
            }
        }
    }
}

#[test]
fn refused_btf_reports_the_kernels_log() {
    let _serial = crate::serial();
    if !gate::require_bpf("refused_btf_reports_the_kernels_log") {
        return;
    }
    // A pointer to a type that does not exist: the kernel's checker refuses it and says
    // which type is wrong.
    let types = [Type {
        name: String::new(),
        kind: TypeKind::Ptr(oxbpf_loader::btf::TypeId(7)),
    }];
    let bytes = encode(&types, Endian::NATIVE).unwrap();
    let before = oxbpf_sys::fd::open_fd_count().unwrap();
    let err = load_raw(&bytes).unwrap_err();
    let BtfLoadError::Kernel { source, log } = &err else {
        panic!("{err}")
    };
    assert_eq!(source.errno(), Some(libc::EINVAL));
    assert!(
        log.contains("[1] PTR") && log.contains("Invalid type_id"),
        "log: {log}"
    );
    assert!(
        err.to_string()
            .starts_with("the kernel refused the BTF (kernel log: "),
        "{err}"
    );
    assert_eq!(oxbpf_sys::fd::open_fd_count().unwrap(), before);
}

fn bpftool() -> Option<PathBuf> {
    ["bpftool", "/usr/sbin/bpftool"]
        .iter()
        .map(PathBuf::from)
        .find(|p| {
            Command::new(p)
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn raw_dump_equals_bpftools_for_testdata_and_vmlinux() {
    let _serial = crate::serial();
    let test = "raw_dump_equals_bpftools_for_testdata_and_vmlinux";
    let Some(bpftool) = bpftool() else {
        gate::skip(test, "bpftool not found (apt-get install bpftool)");
        return;
    };
    let mut files: Vec<PathBuf> = objects();
    files.push("/sys/kernel/btf/vmlinux".into());
    for file in files {
        let ours = dump::raw::dump(&Btf::from_file(&file).unwrap()).unwrap();
        let out = Command::new(&bpftool)
            .args(["btf", "dump", "file"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "bpftool failed on {}", file.display());
        let theirs = String::from_utf8(out.stdout).unwrap();
        if ours != theirs {
            let line = ours
                .lines()
                .zip(theirs.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{}: raw dump differs from bpftool's at line {}:\n  ours:    {:?}\n  bpftool: {:?}",
                file.display(),
                line + 1,
                ours.lines().nth(line),
                theirs.lines().nth(line)
            );
        }
    }
}

fn clang() -> Option<&'static str> {
    Command::new("clang-19")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some("clang-19")
}

/// `_Static_assert`s for the size of every uniquely named struct and union and the
/// offset of each of their named, byte-aligned, non-bitfield members.
fn layout_asserts(btf: &Btf, types: &[Type]) -> String {
    let mut count = std::collections::HashMap::new();
    for t in types {
        if matches!(
            t.kind,
            TypeKind::Struct(_)
                | TypeKind::Union(_)
                | TypeKind::Enum(_)
                | TypeKind::Enum64(_)
                | TypeKind::Fwd { .. }
        ) && !t.name.is_empty()
        {
            *count.entry(t.name.as_str()).or_insert(0) += 1;
        }
    }
    let mut out = String::from("#define OFF(t, m) __builtin_offsetof(t, m)\n");
    for (i, t) in types.iter().enumerate() {
        let (kw, c) = match &t.kind {
            TypeKind::Struct(c) => ("struct", c),
            TypeKind::Union(c) => ("union", c),
            _ => continue,
        };
        if t.name.is_empty() || count[t.name.as_str()] != 1 {
            continue;
        }
        // va_list is a 24-byte struct array on x86-64 but `void *` for the BPF target:
        // no header can give both the kernel's layout (bpftool's cannot either).
        let dump = dump::raw::type_lines(btf, oxbpf_loader::btf::TypeId(i as u32 + 1), t).unwrap();
        let uses_va_list = c.members.iter().any(|m| {
            let mut id = m.ty.0;
            for _ in 0..8 {
                match types.get(id as usize - 1).map(|t| (&t.name, &t.kind)) {
                    Some((n, _))
                        if n == "va_list" || n == "__builtin_va_list" || n == "__gnuc_va_list" =>
                    {
                        return true;
                    }
                    Some((
                        _,
                        TypeKind::Typedef(to)
                        | TypeKind::Array { elem: to, .. }
                        | TypeKind::Const(to),
                    )) if to.0 != 0 => id = to.0,
                    _ => return false,
                }
            }
            false
        });
        if uses_va_list || dump.is_empty() {
            continue;
        }
        let name = format!("{kw} {}", t.name);
        out.push_str(&format!(
            "_Static_assert(sizeof({name}) == {}, \"size of {name}\");\n",
            c.size
        ));
        for m in &c.members {
            if m.name.is_empty() || m.bitfield_size != 0 || m.bit_offset % 8 != 0 {
                continue;
            }
            let is_int_bitfield = matches!(types.get(m.ty.0 as usize - 1).map(|t| &t.kind), Some(TypeKind::Int { size, bits, .. }) if u32::from(*bits) != size * 8);
            if is_int_bitfield {
                continue;
            }
            out.push_str(&format!(
                "_Static_assert(OFF({name}, {}) == {}, \"{name}.{}\");\n",
                m.name,
                m.bit_offset / 8,
                m.name
            ));
        }
    }
    out
}

#[test]
fn c_dump_of_vmlinux_compiles_and_keeps_every_layout() {
    let _serial = crate::serial();
    let test = "c_dump_of_vmlinux_compiles_and_keeps_every_layout";
    let Some(clang) = clang() else {
        gate::skip(test, "clang-19 not found (apt-get install clang-19)");
        return;
    };
    let btf = Btf::from_sysfs().unwrap();
    let types = decode_all(&btf).unwrap();
    let header = dump::c::dump(&btf).unwrap();
    let dir = std::env::temp_dir().join(format!("oxbpf-cdump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vmlinux.h"), &header).unwrap();
    let asserts = layout_asserts(&btf, &types);
    let n = asserts.lines().count();
    assert!(n > 10_000, "only {n} layout checks");
    std::fs::write(
        dir.join("layout.c"),
        format!("#include \"vmlinux.h\"\n{asserts}"),
    )
    .unwrap();
    let out = Command::new(clang)
        .args([
            "--target=bpf",
            "-O2",
            "-Werror",
            "-c",
            "layout.c",
            "-o",
            "layout.o",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "vmlinux.h from `btf dump --format c` failed {n} layout checks:\n{}",
        &stderr[..stderr.len().min(4000)]
    );

    // The CO-RE programs of testdata, built against the real kernel's types instead of
    // testdata/include/vmlinux.h, compile; their BTF then loads (as root).
    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .map_or("x86_64-linux-gnu".to_string(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        });
    for src in [
        "core",
        "bootstrap",
        "connect",
        "externs",
        "progtypes_trace",
        "demo",
    ] {
        let obj = dir.join(format!("{src}.bpf.o"));
        let out = Command::new(clang)
            .args([
                "--target=bpf",
                "-O2",
                "-g",
                "-Wall",
                "-Werror",
                "-D__TARGET_ARCH_x86",
            ])
            .arg("-I")
            .arg(&dir)
            .arg("-I")
            .arg(crate::testdata("").join("include"))
            .arg(format!("-I/usr/include/{multiarch}"))
            .arg("-c")
            .arg(crate::testdata("").join(format!("{src}.bpf.c")))
            .arg("-o")
            .arg(&obj)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{src}.bpf.c against the dumped vmlinux.h: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let parsed = Object::open(&obj).unwrap();
        assert!(!parsed.programs.is_empty());
        if oxbpf_sys::caps::can_bpf() {
            let opts = btf_features().unwrap().sanitize_options();
            if let Err(e) = load_object_btf(parsed.btf.as_ref().unwrap(), &parsed, &opts) {
                panic!("{src} built against the dump: {}", crate::chain(&e));
            }
            loads_and_reads_this_task(src, parsed);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An object built against the dumped vmlinux.h loads whole (but for what this kernel
/// refuses: programs that need BPF trampolines), and a CO-RE program in it reads this
/// thread's pid right.
fn loads_and_reads_this_task(src: &str, obj: Object) {
    let layout = obj.data.clone();
    let what = format!("{src} built against the dump");
    let loaded = crate::load_all_but_trampolines(&what, obj, LoadOptions::default());
    let (prog, var) = match src {
        "core" => ("core_read_task", "core_pid"),
        "demo" => ("whoami", "who_pid"),
        _ => return,
    };
    loaded
        .program(prog)
        .unwrap()
        .test_run(&[], &[0u8; 16])
        .unwrap();
    let sym = layout
        .iter()
        .flat_map(|d| d.symbols.iter())
        .find(|s| s.name == var)
        .unwrap();
    let bss = loaded
        .maps
        .iter()
        .find(|m| m.name().ends_with(".bss"))
        .unwrap();
    let v = bss.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    let at = sym.offset as usize;
    let pid = i32::from_ne_bytes(v[at..at + 4].try_into().unwrap());
    let tid: i32 = std::fs::read_link("/proc/thread-self")
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .parse()
        .unwrap();
    assert_eq!(pid, tid, "{src}: {prog} read the wrong pid");
}

#[test]
fn c_dump_of_every_testdata_object_compiles() {
    let _serial = crate::serial();
    let Some(clang) = clang() else {
        gate::skip(
            "c_dump_of_every_testdata_object_compiles",
            "clang-19 not found (apt-get install clang-19)",
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("oxbpf-cdump-obj-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for path in objects() {
        let btf = Btf::from_file(&path).unwrap();
        let header = dump::c::dump(&btf).unwrap();
        let c = dir.join("t.c");
        std::fs::write(&c, format!("{header}\nint oxbpf_dump_check;\n")).unwrap();
        let out = Command::new(clang)
            .args(["--target=bpf", "-Werror", "-c"])
            .arg(&c)
            .arg("-o")
            .arg(dir.join("t.o"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
