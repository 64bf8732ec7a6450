//! The USDT probes of a binary or library: its `.note.stapsdt` ELF notes (one per probe
//! site, written by `<sys/sdt.h>`), each turned into the file offset a uprobe goes on,
//! as libbpf's `collect_usdt_targets` does.
//!
//! A note holds the probe's address, the link-time address of `.stapsdt.base`, the
//! address of its semaphore (0 for none), then `provider\0name\0args\0`. The probe's
//! address is moved by however much `.stapsdt.base` moved since link time (prelink),
//! then translated to a file offset through the executable segment that holds it; a
//! semaphore's through the data segment that holds it.

use std::path::Path;

use object::Endian as _;
use object::elf;
use object::read::elf::{ElfFile64, FileHeader as _, ProgramHeader as _, SectionHeader as _};

use super::arg::Arch;

/// One probe site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSite {
    /// The provider (`DTRACE_PROBE(provider, name)`).
    pub provider: String,
    /// The probe's name.
    pub name: String,
    /// Its argument text (`-4@%edi 8@%rsi`; empty for none).
    pub args: String,
    /// Its address in the binary as linked, after the `.stapsdt.base` adjustment.
    pub address: u64,
    /// Its file offset: where the uprobe goes.
    pub file_offset: u64,
    /// Its semaphore's file offset (the kernel counts attached uprobes there), or 0.
    pub semaphore_offset: u64,
}

/// A binary's USDT probes.
#[derive(Clone, Debug)]
pub struct UsdtBinary {
    /// Its machine.
    pub arch: Arch,
    /// A shared object (`ET_DYN`: libraries and position-independent executables),
    /// whose addresses at run time differ from the file's.
    pub shared: bool,
    /// Every probe site, in note order.
    pub probes: Vec<ProbeSite>,
}

/// A loadable segment: addresses `start..end` come from the file at `offset`.
struct Segment {
    start: u64,
    end: u64,
    offset: u64,
    exec: bool,
}

/// Reads the USDT probes of the ELF file at `path`.
///
/// # Errors
/// A sentence: the file cannot be read, is not a 64-bit ELF file of a supported
/// machine, has no `.note.stapsdt`, or a note is malformed or points outside the
/// segments that should hold it.
pub fn read(path: &Path) -> Result<UsdtBinary, String> {
    let shown = path.display();
    let data = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let file = ElfFile64::<object::Endianness>::parse(&*data)
        .map_err(|e| format!("{shown}: not a 64-bit ELF file: {e}"))?;
    let endian = file.endian();
    let header = file.elf_header();
    let machine = header.e_machine(endian);
    let arch = Arch::from_elf_machine(machine).ok_or_else(|| {
        format!(
            "{shown}: USDT probes are read for x86_64 and arm64 binaries, not ELF machine {machine}"
        )
    })?;
    let sections = file.elf_section_table();
    let (_, notes) = sections
        .section_by_name(endian, b".note.stapsdt")
        .ok_or_else(|| format!("{shown} has no USDT probes (no .note.stapsdt section)"))?;
    let base = sections
        .section_by_name(endian, b".stapsdt.base")
        .map(|(_, s)| s.sh_addr(endian));
    let segments: Vec<Segment> = file
        .elf_program_headers()
        .iter()
        .filter(|p| p.p_type(endian) == elf::PT_LOAD)
        .map(|p| Segment {
            start: p.p_vaddr(endian),
            end: p.p_vaddr(endian).saturating_add(p.p_memsz(endian)),
            offset: p.p_offset(endian),
            exec: p.p_flags(endian).0 & elf::PF_X.0 != 0,
        })
        .collect();
    let mut probes = Vec::new();
    let iter = notes
        .notes(endian, &*data)
        .map_err(|e| format!("{shown}: .note.stapsdt: {e}"))?
        .ok_or_else(|| format!("{shown}: .note.stapsdt is not a note section"))?;
    for note in iter {
        let note = note.map_err(|e| format!("{shown}: .note.stapsdt: {e}"))?;
        if note.name() != b"stapsdt" || note.n_type(endian).0 != 3 {
            continue;
        }
        let site = parse_note(note.desc(), endian.is_big_endian(), base, &segments)
            .map_err(|why| format!("{shown}: USDT note #{}: {why}", probes.len()))?;
        probes.push(site);
    }
    Ok(UsdtBinary {
        arch,
        shared: header.e_type(endian) == elf::ET_DYN,
        probes,
    })
}

/// One note's description: three addresses, then three strings.
fn parse_note(
    desc: &[u8],
    big_endian: bool,
    base: Option<u64>,
    segments: &[Segment],
) -> Result<ProbeSite, String> {
    let addr = |i: usize| -> Result<u64, String> {
        desc.get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map(|b| {
                if big_endian {
                    u64::from_be_bytes(b)
                } else {
                    u64::from_le_bytes(b)
                }
            })
            .ok_or_else(|| format!("{} bytes, too short for its three addresses", desc.len()))
    };
    let (location, note_base, semaphore) = (addr(0)?, addr(1)?, addr(2)?);
    let mut strings = desc[24..].split(|&b| b == 0);
    let mut text = |what: &str| -> Result<String, String> {
        let s = strings.next().ok_or_else(|| format!("no {what}"))?;
        String::from_utf8(s.to_vec()).map_err(|_| format!("its {what} is not UTF-8"))
    };
    let provider = text("provider")?;
    let name = text("name")?;
    let args = text("argument text")?;
    if name.is_empty() {
        return Err(format!("provider {provider} names an empty probe"));
    }
    // `:` at the start marks a note without arguments in some sdt.h versions.
    let args = if args.starts_with(':') {
        String::new()
    } else {
        args
    };
    let address = match base {
        Some(b) if note_base != 0 => location.wrapping_add(b.wrapping_sub(note_base)),
        _ => location,
    };
    let seg = find(segments, address)
        .ok_or_else(|| format!("{provider}:{name} at {address:#x} is in no loadable segment"))?;
    if !seg.exec {
        return Err(format!(
            "{provider}:{name} at {address:#x} is in a segment that is not executable"
        ));
    }
    let file_offset = address - seg.start + seg.offset;
    let semaphore_offset = if semaphore == 0 {
        0
    } else {
        let seg = find(segments, semaphore).ok_or_else(|| {
            format!(
                "the semaphore of {provider}:{name} at {semaphore:#x} is in no loadable segment"
            )
        })?;
        if seg.exec {
            return Err(format!(
                "the semaphore of {provider}:{name} at {semaphore:#x} is in an executable segment"
            ));
        }
        semaphore - seg.start + seg.offset
    };
    Ok(ProbeSite {
        provider,
        name,
        args,
        address,
        file_offset,
        semaphore_offset,
    })
}

fn find(segments: &[Segment], addr: u64) -> Option<&Segment> {
    segments.iter().find(|s| s.start <= addr && addr < s.end)
}

/// The run-time address of file offset `offset` of `path` in process `pid`, from
/// `/proc/PID/maps` (for shared objects on kernels without BPF cookies, where the
/// program finds its probe by instruction address).
///
/// # Errors
/// A sentence: the maps cannot be read, or no executable mapping of the file holds it.
pub fn runtime_address(pid: i32, path: &Path, offset: u64) -> Result<u64, String> {
    let maps_path = format!("/proc/{pid}/maps");
    let maps =
        std::fs::read_to_string(&maps_path).map_err(|e| format!("cannot read {maps_path}: {e}"))?;
    let want = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    for line in maps.lines() {
        // start-end perms offset dev inode path
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(off), _, _, Some(file)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if !perms.contains('x') || Path::new(file) != want {
            continue;
        }
        let hex = |s: &str| u64::from_str_radix(s, 16).ok();
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Some(start), Some(end), Some(off)) = (hex(start), hex(end), hex(off)) else {
            continue;
        };
        if off <= offset && offset < off + (end - start) {
            return Ok(start - off + offset);
        }
    }
    Err(format!(
        "process {pid} has no executable mapping of {} holding file offset {offset:#x}",
        want.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(pc: u64, base: u64, sema: u64, strings: &[u8]) -> Vec<u8> {
        let mut d = Vec::new();
        for v in [pc, base, sema] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(strings);
        d
    }

    const SEGMENTS: [Segment; 2] = [
        Segment {
            start: 0x1000,
            end: 0x2000,
            offset: 0x1000,
            exec: true,
        },
        Segment {
            start: 0x4000,
            end: 0x5000,
            offset: 0x3000,
            exec: false,
        },
    ];

    #[test]
    fn a_note_gives_the_file_offsets_of_the_probe_and_its_semaphore() {
        let d = desc(0x1234, 0x2000, 0x4010, b"prov\0name\0-4@%edi\0");
        // .stapsdt.base moved by 0x10 since link time (prelink): so did the probe.
        let site = parse_note(&d, false, Some(0x2010), &SEGMENTS).unwrap();
        assert_eq!(
            (
                site.provider.as_str(),
                site.name.as_str(),
                site.args.as_str()
            ),
            ("prov", "name", "-4@%edi")
        );
        assert_eq!(
            (site.address, site.file_offset, site.semaphore_offset),
            (0x1244, 0x1244, 0x3010)
        );
        // No arguments: an empty (or `:`-led) text.
        let site = parse_note(&desc(0x1000, 0, 0, b"p\0n\0\0"), false, None, &SEGMENTS).unwrap();
        assert_eq!((site.args.as_str(), site.semaphore_offset), ("", 0));
    }

    #[test]
    fn malformed_notes_are_refused_with_what_is_wrong() {
        let e = |d: &[u8]| parse_note(d, false, None, &SEGMENTS).unwrap_err();
        assert!(e(&[0; 20]).contains("too short for its three addresses"));
        assert!(e(&desc(0x1000, 0, 0, b"prov\0\0args\0")).contains("empty probe"));
        assert!(e(&desc(0x1000, 0, 0, b"prov")).contains("no name"));
        assert!(e(&desc(0x9000, 0, 0, b"p\0n\0\0")).contains("is in no loadable segment"));
        assert!(e(&desc(0x4000, 0, 0, b"p\0n\0\0")).contains("not executable"));
        assert!(e(&desc(0x1000, 0, 0x1800, b"p\0n\0\0")).contains("in an executable segment"));
        // Every truncation: an answer, never a panic.
        let d = desc(0x1234, 0x2000, 0x4010, b"prov\0name\0-4@%edi\0");
        for n in 0..d.len() {
            let _ = parse_note(&d[..n], false, Some(0x2000), &SEGMENTS);
        }
    }
}
