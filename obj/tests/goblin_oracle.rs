//! The object model against an independent ELF reader, goblin: for every testdata
//! object and the objects of Debian's xdp-tools and libbpf-tools, the sections (index,
//! name, size), the functions (section, offset, size), the data symbols, the externs
//! and every relocation in code that a function owns (instruction, symbol) that oxbpf
//! reads must be what goblin reads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use goblin::elf::{Elf, section_header, sym};
use oxbpf_obj::Object;

fn testdata() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(out.len() >= 20, "testdata objects: {}", out.len());
    out
}

/// The files a Debian package installed (from dpkg's list); under CI the package must
/// be there (`.ci/run` installs it).
fn package_files(package: &str) -> Vec<PathBuf> {
    match std::fs::read_to_string(format!("/var/lib/dpkg/info/{package}.list")) {
        Ok(list) => list
            .lines()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect(),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{package} is not installed ({e}), and CI=true"
            );
            eprintln!("skipping {package}'s objects: not installed");
            Vec::new()
        }
    }
}

fn debian_objects() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for p in package_files("xdp-tools")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
    {
        out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
    }
    for p in package_files("libbpf-tools")
        .into_iter()
        .filter(|p| p.starts_with("/usr/sbin"))
    {
        let data = std::fs::read(&p).unwrap();
        for (i, (_, bytes)) in oxbpf_obj::embedded::find_objects(&data).iter().enumerate() {
            out.push((format!("{} #{i}", p.display()), bytes.to_vec()));
        }
    }
    out
}

/// Compares one object; returns how many relocations were compared.
fn compare(name: &str, data: &[u8]) -> usize {
    let obj = Object::parse(name, data).unwrap_or_else(|e| panic!("{name}: {e}"));
    let elf = Elf::parse(data).unwrap_or_else(|e| panic!("{name}: goblin: {e}"));
    let sec_name = |i: usize| {
        elf.section_headers
            .get(i)
            .and_then(|s| elf.shdr_strtab.get_at(s.sh_name))
            .unwrap_or("")
            .to_string()
    };

    // Sections: every one, the null section too, in order.
    let ours: Vec<(usize, String, u64)> = obj
        .sections
        .iter()
        .map(|s| (s.index, s.name.clone(), s.size))
        .collect();
    let theirs: Vec<(usize, String, u64)> = elf
        .section_headers
        .iter()
        .enumerate()
        .map(|(i, s)| (i, sec_name(i), s.sh_size))
        .collect();
    assert_eq!(ours, theirs, "{name}: sections");

    let code: BTreeSet<usize> = elf
        .section_headers
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.sh_type == section_header::SHT_PROGBITS
                && s.sh_flags & u64::from(section_header::SHF_EXECINSTR) != 0
        })
        .map(|(i, _)| i)
        .collect();
    let name_of = |s: &sym::Sym| elf.strtab.get_at(s.st_name).unwrap_or("").to_string();

    // Functions: every FUNC symbol in a code section.
    let mut ours: Vec<(String, usize, u64, u64)> = obj
        .programs
        .iter()
        .map(|p| &p.function)
        .chain(&obj.subprograms)
        .map(|f| {
            (
                f.name.clone(),
                f.section_index,
                f.insn_offset as u64 * 8,
                f.insns.len() as u64 * 8,
            )
        })
        .collect();
    let mut theirs: Vec<(String, usize, u64, u64)> = elf
        .syms
        .iter()
        .filter(|s| s.st_type() == sym::STT_FUNC && code.contains(&s.st_shndx))
        .map(|s| (name_of(&s), s.st_shndx, s.st_value, s.st_size))
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "{name}: functions");

    // Data symbols: named, not functions, sections or files, in a section.
    let mut ours: Vec<(String, String, u64, u64)> = obj
        .symbols
        .iter()
        .map(|s| (s.name.clone(), s.section.clone(), s.offset, s.size))
        .collect();
    let mut theirs: Vec<(String, String, u64, u64)> = elf
        .syms
        .iter()
        .filter(|s| {
            !matches!(
                s.st_type(),
                sym::STT_FUNC | sym::STT_SECTION | sym::STT_FILE
            ) && s.st_shndx != 0
                && (s.st_shndx as u32) < section_header::SHN_LORESERVE
                && !name_of(s).is_empty()
        })
        .map(|s| (name_of(&s), sec_name(s.st_shndx), s.st_value, s.st_size))
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "{name}: data symbols");

    // Externs: undefined global or weak symbols with a name.
    let mut ours: Vec<String> = obj.externs.iter().map(|e| e.name.clone()).collect();
    let mut theirs: Vec<String> = elf
        .syms
        .iter()
        .filter(|s| {
            s.st_shndx == 0
                && matches!(s.st_bind(), sym::STB_GLOBAL | sym::STB_WEAK)
                && !name_of(s).is_empty()
        })
        .map(|s| name_of(&s))
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "{name}: externs");

    // Relocations in code, where a function owns the instruction (code no function
    // covers, an overridden weak function, is skipped by libbpf and oxbpf alike).
    let funcs: Vec<(usize, u64, u64)> = obj
        .programs
        .iter()
        .map(|p| &p.function)
        .chain(&obj.subprograms)
        .map(|f| {
            (
                f.section_index,
                f.insn_offset as u64 * 8,
                f.insns.len() as u64 * 8,
            )
        })
        .collect();
    let mut ours: Vec<(usize, u64, String)> = obj
        .programs
        .iter()
        .map(|p| &p.function)
        .chain(&obj.subprograms)
        .flat_map(|f| {
            f.relocs.iter().map(move |r| {
                (
                    f.section_index,
                    (f.insn_offset + r.insn) as u64 * 8,
                    r.symbol.clone(),
                )
            })
        })
        .collect();
    let mut theirs = Vec::new();
    for (rel_idx, relocs) in &elf.shdr_relocs {
        let target = elf.section_headers[*rel_idx].sh_info as usize;
        if !code.contains(&target) {
            continue;
        }
        for r in relocs.iter() {
            let owned = funcs
                .iter()
                .any(|&(s, off, len)| s == target && (off..off + len).contains(&r.r_offset));
            if !owned {
                continue;
            }
            let s = elf
                .syms
                .get(r.r_sym)
                .unwrap_or_else(|| panic!("{name}: reloc symbol"));
            // Section symbols are unnamed: oxbpf names them after their section.
            let sym_name = if s.st_type() == sym::STT_SECTION {
                sec_name(s.st_shndx)
            } else {
                name_of(&s)
            };
            theirs.push((target, r.r_offset, sym_name));
        }
    }
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "{name}: relocations");
    theirs.len()
}

#[test]
fn testdata_objects_read_as_goblin_reads_them() {
    let mut relocs = 0;
    for (name, data) in testdata() {
        relocs += compare(&name, &data);
    }
    assert!(relocs > 200, "{relocs} relocations compared");
}

#[test]
fn debian_tools_objects_read_as_goblin_reads_them() {
    let objects = debian_objects();
    let mut relocs = 0;
    for (name, data) in &objects {
        relocs += compare(name, data);
    }
    eprintln!("{} objects, {relocs} relocations compared", objects.len());
}
