//! The object model against independent tools: `llvm-objdump-19 -h/-t` for sections and
//! symbols and `bpftool btf dump` for BTF-defined maps. For every testdata object, and
//! every object Debian's xdp-tools package installs, oxbpf must list the same programs,
//! maps and data sections those tools show.
//!
//! The tools come from the `llvm-19` and `bpftool` packages (`.ci/run` installs them).
//! Without them the test is skipped with its reason; under `CI=true` that is a failure.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use oxbpf_loader::Object;
use oxbpf_loader::object::{MapDefSource, SectionKind};
use oxbpf_loader::prelude::*;
use oxbpf_sys::gate;

fn tool(names: &[&str]) -> Option<PathBuf> {
    names.iter().map(PathBuf::from).find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn run(tool: &Path, args: &[&str], file: &Path) -> String {
    let out = Command::new(tool).args(args).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?} {}: {}",
        tool.display(),
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the tools say an object contains.
#[derive(Debug, Default, PartialEq, Eq)]
struct Listing {
    program_sections: BTreeSet<String>,
    programs: BTreeSet<(String, String)>,
    btf_maps: BTreeSet<String>,
    legacy_maps: BTreeSet<String>,
    data_sections: BTreeSet<String>,
}

fn is_data_section(name: &str) -> bool {
    [".data", ".rodata", ".bss"]
        .iter()
        .any(|p| name == *p || name.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
}

fn from_tools(objdump: &Path, bpftool: &Path, file: &Path) -> Listing {
    let mut l = Listing::default();
    // `llvm-objdump -h`: "Idx Name Size VMA Type", TEXT marks code sections.
    for line in run(objdump, &["-h"], file).lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 4 || cols[0].parse::<u32>().is_err() {
            continue;
        }
        let (name, kind) = (cols[1], cols.get(4).copied().unwrap_or(""));
        if kind == "TEXT" && name != ".text" {
            l.program_sections.insert(name.to_string());
        }
        if is_data_section(name) {
            l.data_sections.insert(name.to_string());
        }
    }
    // `llvm-objdump -t`: "VALUE FLAGS SECTION\tSIZE NAME"; programs are global (`g`)
    // functions (`F`) in program sections; legacy maps are the symbols in `maps`.
    for line in run(objdump, &["-t"], file).lines() {
        let Some((left, right)) = line.split_once('\t') else {
            continue;
        };
        let Some(section) = left.split_whitespace().last() else {
            continue;
        };
        let Some(name) = right.split_whitespace().nth(1) else {
            continue;
        };
        let flags = &left[17.min(left.len())..];
        if flags.starts_with('g') && flags.contains('F') && l.program_sections.contains(section) {
            l.programs.insert((section.to_string(), name.to_string()));
        }
        if section == "maps" && (flags.contains('O') || flags.starts_with('g')) {
            l.legacy_maps.insert(name.to_string());
        }
    }
    // `bpftool btf dump`: the VARs listed under DATASEC '.maps'.
    let mut in_maps = false;
    for line in run(bpftool, &["btf", "dump", "file"], file).lines() {
        if line.starts_with('[') {
            in_maps = line.contains("DATASEC '.maps'");
        } else if in_maps {
            if let Some(name) = line
                .split("(VAR '")
                .nth(1)
                .and_then(|r| r.strip_suffix("')"))
            {
                l.btf_maps.insert(name.to_string());
            }
        }
    }
    l
}

fn from_oxbpf(obj: &Object) -> Listing {
    Listing {
        program_sections: obj
            .sections
            .iter()
            .filter(|s| s.kind == SectionKind::Program)
            .map(|s| s.name.clone())
            .collect(),
        programs: obj
            .programs
            .iter()
            .map(|p| (p.section().to_string(), p.name().to_string()))
            .collect(),
        btf_maps: obj
            .maps
            .iter()
            .filter(|m| m.source == MapDefSource::Btf)
            .map(|m| m.name.clone())
            .collect(),
        legacy_maps: obj
            .maps
            .iter()
            .filter(|m| m.source == MapDefSource::Legacy)
            .map(|m| m.name.clone())
            .collect(),
        data_sections: obj.data.iter().map(|d| d.name.clone()).collect(),
    }
}

fn objects_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "o"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn check_dir(test: &str, dir: &Path) -> usize {
    let Some(objdump) = tool(&["llvm-objdump-19"]) else {
        gate::skip(test, "llvm-objdump-19 not found (apt-get install llvm-19)");
        return 0;
    };
    let Some(bpftool) = tool(&["bpftool", "/usr/sbin/bpftool"]) else {
        gate::skip(test, "bpftool not found (apt-get install bpftool)");
        return 0;
    };
    let files = objects_in(dir);
    for file in &files {
        let obj = Object::open(file).unwrap_or_else(|e| panic!("{e}"));
        let ours = from_oxbpf(&obj);
        let theirs = from_tools(&objdump, &bpftool, file);
        assert_eq!(
            ours,
            theirs,
            "{}: oxbpf (left) and llvm-objdump/bpftool (right) disagree",
            file.display()
        );
        assert!(!ours.programs.is_empty(), "{}: no programs", file.display());
        check_disasm(&objdump, file, &obj);
    }
    files.len()
}

/// `oxbpf disasm`'s listing against `llvm-objdump -d`: per function, the same
/// instruction indexes and opcodes, the same helper ids on calls and the same jump
/// offsets.
fn check_disasm(objdump: &Path, file: &Path, obj: &Object) {
    use std::collections::HashMap;
    // "<name>:" starts a function; "      17:\t55 01 2b 00 ...\tif r1 != 0x0 goto +0x2b".
    let functions: std::collections::HashSet<&str> = obj
        .programs
        .iter()
        .map(|p| p.name())
        .chain(obj.subprograms.iter().map(|f| f.name.as_str()))
        .collect();
    let mut theirs: HashMap<String, Vec<(usize, Vec<u8>)>> = HashMap::new();
    let mut current = None;
    for line in run(objdump, &["-d"], file).lines() {
        // Labels of basic blocks (`<LBB11_22>:`) continue the function they are in.
        if let Some((_, name)) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")) {
            if functions.contains(name) {
                current = Some(name.to_string());
            }
            continue;
        }
        let (Some(f), Some((idx, rest))) = (&current, line.trim_start().split_once(":\t")) else {
            continue;
        };
        let Ok(idx) = idx.parse::<usize>() else {
            continue;
        };
        let bytes: Vec<u8> = rest
            .split('\t')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|b| u8::from_str_radix(b, 16).ok())
            .collect();
        theirs.entry(f.clone()).or_default().push((idx, bytes));
    }
    let big = obj.endian == oxbpf_sys::uapi::Endian::Big;
    for l in oxbpf_loader::disasm::listings(obj, None) {
        let want = theirs
            .get(&l.name)
            .unwrap_or_else(|| panic!("{}: llvm-objdump has no <{}>", file.display(), l.name));
        let ours: Vec<usize> = l.lines.iter().map(|x| x.insn).collect();
        let their_idx: Vec<usize> = want.iter().map(|(i, _)| *i).collect();
        // objdump numbers slots from the section start; ours from the function start.
        let base = their_idx.first().copied().unwrap_or(0);
        let their_rel: Vec<usize> = their_idx.iter().map(|i| i - base).collect();
        assert_eq!(
            ours,
            their_rel,
            "{} {}: instruction indexes",
            file.display(),
            l.name
        );
        for (x, (_, bytes)) in l.lines.iter().zip(want) {
            let ctx = format!("{} {} insn {}: {}", file.display(), l.name, x.insn, x.text);
            assert_eq!(x.code, bytes[0], "{ctx}: opcode");
            let word = |at: usize, n: usize| -> i64 {
                let b = &bytes[at..at + n];
                let mut v: i64 = 0;
                for (k, byte) in b.iter().enumerate() {
                    let shift = if big { 8 * (n - 1 - k) } else { 8 * k };
                    v |= i64::from(*byte) << shift;
                }
                // Sign-extend from n bytes.
                let bits = 64 - 8 * n as u32;
                (v << bits) >> bits
            };
            let src = if big { bytes[1] & 0x0f } else { bytes[1] >> 4 };
            if x.code == 0x85 && src == 0 {
                assert!(
                    x.text.ends_with(&format!("#{}", word(4, 4))),
                    "{ctx}: helper id"
                );
            }
            let class = x.code & 7;
            if (class == 5 || class == 6) && !matches!(x.code & 0xf0, 0x80 | 0x90) && x.code != 0x06
            {
                let off = word(2, 2);
                assert!(
                    x.text.ends_with(&format!("pc{off:+}")),
                    "{ctx}: jump offset {off}"
                );
            }
        }
    }
}

#[test]
fn testdata_objects_match_llvm_objdump_and_bpftool() {
    let _serial = crate::serial();
    let dir = crate::testdata("");
    let n = check_dir("testdata_objects_match_llvm_objdump_and_bpftool", &dir);
    if n > 0 {
        assert!(n >= 15, "expected at least 15 testdata objects, found {n}");
    }
}

#[test]
fn xdp_tools_objects_match_llvm_objdump_and_bpftool() {
    let _serial = crate::serial();
    let test = "xdp_tools_objects_match_llvm_objdump_and_bpftool";
    let dir = Path::new("/usr/lib/x86_64-linux-gnu/bpf");
    if objects_in(dir).is_empty() {
        gate::skip(
            test,
            "no objects in /usr/lib/x86_64-linux-gnu/bpf (apt-get install xdp-tools)",
        );
        return;
    }
    check_dir(test, dir);
}
