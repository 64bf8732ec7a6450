//! The output, written once every input is in (libbpf's `bpf_linker__finalize`,
//! `finalize_btf`, `finalize_btf_ext`): merged DATASECs, `.BTF`, `.BTF.ext`, then the
//! ELF file.
//!
//! The layout is canonical so that linking the output again gives it back byte for
//! byte: sections in the order they were first met, relocation sections after all code
//! and data, `.BTF` and `.BTF.ext` last; one string table for section and symbol names,
//! filled in that order; `.BTF` strings for type names first, then `.BTF.ext`'s in
//! section order.

use std::collections::HashMap;

use super::c;
use oxbpf_uapi::Endian;

use super::{LinkError, Linker, Shndx};
use crate::btf::types::{Type, TypeKind};
use crate::btf::{Btf, encode, raw};

/// A byte buffer written in one byte order.
struct Buf {
    endian: Endian,
    bytes: Vec<u8>,
}

impl Buf {
    fn new(endian: Endian) -> Buf {
        Buf {
            endian,
            bytes: Vec::new(),
        }
    }
    fn u16(&mut self, v: u16) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.bytes.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.bytes.extend_from_slice(&b);
    }
    fn u64(&mut self, v: u64) {
        let b = match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        };
        self.bytes.extend_from_slice(&b);
    }
    fn align(&mut self, align: u64) {
        let align = align.max(1) as usize;
        let len = self.bytes.len().div_ceil(align) * align;
        self.bytes.resize(len, 0);
    }
}

/// A string table: each distinct string once, NUL-terminated, after a leading NUL.
#[derive(Default)]
struct Strings {
    bytes: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl Strings {
    fn from_section(section: &[u8]) -> Strings {
        let mut s = Strings {
            bytes: section.to_vec(),
            offsets: HashMap::new(),
        };
        if s.bytes.first() != Some(&0) {
            s.bytes.insert(0, 0);
        }
        let mut at = 0u32;
        for piece in s.bytes.split(|&b| b == 0) {
            if let Ok(text) = std::str::from_utf8(piece) {
                s.offsets.entry(text.to_string()).or_insert(at);
            }
            at += piece.len() as u32 + 1;
        }
        if s.bytes.last() != Some(&0) {
            s.bytes.push(0);
        }
        s
    }
    fn add(&mut self, s: &str) -> u32 {
        if let Some(&off) = self.offsets.get(s) {
            return off;
        }
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.offsets.insert(s.to_string(), off);
        off
    }
}

/// One section header to write, with its contents.
struct Header<'a> {
    name: String,
    sh_type: u32,
    flags: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
    size: u64,
    data: std::borrow::Cow<'a, [u8]>,
}

/// A header with no link, info or entry size.
fn plain<'a>(name: &str, sh_type: u32, flags: u64, align: u64, data: Vec<u8>) -> Header<'a> {
    Header {
        name: name.into(),
        sh_type,
        flags,
        link: 0,
        info: 0,
        align,
        entsize: 0,
        size: data.len() as u64,
        data: data.into(),
    }
}

/// The linked object.
pub(super) fn write(l: &Linker) -> Result<Vec<u8>, LinkError> {
    let endian = l.endian.unwrap_or(Endian::Little);
    let (btf, ext) = btf_sections(l, endian)?;
    let (mut headers, elf_index) = section_headers(l);
    for (name, bytes) in [(".BTF", btf), (".BTF.ext", ext)] {
        if let Some(bytes) = bytes {
            headers.push(plain(name, c::SHT_PROGBITS, 0, 8, bytes));
        }
    }
    if headers.len() + 1 >= usize::from(c::SHN_LORESERVE) {
        return Err(LinkError::Output(format!(
            "{} sections are more than an ELF section index holds",
            headers.len() + 1
        )));
    }
    let mut strtab = Strings::from_section(&[0]);
    let names: Vec<u32> = headers.iter().map(|h| strtab.add(&h.name)).collect();
    let symtab = symbol_table(l, endian, &elf_index, &mut strtab);
    headers[0] = plain(".strtab", c::SHT_STRTAB, c::SHF_STRINGS, 1, strtab.bytes);
    headers[1].size = symtab.len() as u64;
    headers[1].data = symtab.into();
    let out = elf_file(endian, &headers, &names);
    log::debug!(
        "link: wrote {} bytes: {} sections, {} symbols, {} BTF types",
        out.len(),
        headers.len() + 1,
        l.symbols.len(),
        l.types.len()
    );
    Ok(out)
}

/// Headers of `.strtab` and `.symtab` (contents to come), then of the code and data
/// sections, then of the relocation sections; and each output section's ELF index
/// (0 for ephemeral ones, which have none).
fn section_headers(l: &Linker) -> (Vec<Header<'_>>, Vec<u32>) {
    let real = |rel: bool| {
        (0..l.sections.len()).filter(move |&i| {
            !l.sections[i].ephemeral && (l.sections[i].sh_type == c::SHT_REL) == rel
        })
    };
    let order: Vec<usize> = real(false).chain(real(true)).collect();
    let mut elf_index = vec![0u32; l.sections.len()];
    for (k, &i) in order.iter().enumerate() {
        elf_index[i] = k as u32 + 3;
    }
    let mut symtab = plain(".symtab", c::SHT_SYMTAB, 0, 8, Vec::new());
    symtab.link = 1;
    symtab.entsize = 24;
    let mut headers = vec![
        plain(".strtab", c::SHT_STRTAB, c::SHF_STRINGS, 1, Vec::new()),
        symtab,
    ];
    for &i in &order {
        let s = &l.sections[i];
        let is_rel = s.sh_type == c::SHT_REL;
        headers.push(Header {
            name: s.name.clone(),
            sh_type: s.sh_type,
            flags: s.flags,
            link: if is_rel { 2 } else { 0 },
            info: s.rel_target.filter(|_| is_rel).map_or(0, |t| elf_index[t]),
            align: s.align,
            entsize: s.entsize,
            size: s.size,
            data: std::borrow::Cow::Borrowed(&s.data),
        });
    }
    (headers, elf_index)
}

/// `.symtab`'s bytes, in the order symbols were added (libbpf's order: locals are not
/// moved first, and `sh_info` stays 0, as in `bpftool gen object`'s output).
fn symbol_table(l: &Linker, endian: Endian, elf_index: &[u32], strtab: &mut Strings) -> Vec<u8> {
    let mut symtab = Buf::new(endian);
    for s in &l.symbols {
        let name = if s.name.is_empty() {
            0
        } else {
            strtab.add(&s.name)
        };
        symtab.u32(name);
        symtab.bytes.push(s.info);
        symtab.bytes.push(s.other);
        symtab.u16(match s.shndx {
            Shndx::Section(d) => elf_index.get(d).map_or(0, |&i| i as u16),
            Shndx::Raw(r) => r,
        });
        symtab.u64(s.value);
        symtab.u64(s.size);
    }
    symtab.bytes
}

/// Header, section contents (each at its alignment), section header table.
fn elf_file(endian: Endian, headers: &[Header<'_>], names: &[u32]) -> Vec<u8> {
    let mut f = Buf::new(endian);
    f.bytes.resize(64, 0);
    let mut offsets = Vec::with_capacity(headers.len());
    for h in headers {
        f.align(h.align);
        offsets.push(f.bytes.len() as u64);
        if h.sh_type != c::SHT_NOBITS {
            f.bytes.extend_from_slice(&h.data);
        }
    }
    f.align(8);
    let shoff = f.bytes.len() as u64;
    f.bytes.resize(f.bytes.len() + 64, 0); // the null section header
    for ((h, &off), &name) in headers.iter().zip(&offsets).zip(names) {
        f.u32(name);
        f.u32(h.sh_type);
        f.u64(h.flags);
        f.u64(0); // sh_addr
        f.u64(off);
        f.u64(h.size);
        f.u32(h.link);
        f.u32(h.info);
        f.u64(h.align);
        f.u64(h.entsize);
    }
    let mut head = Buf::new(endian);
    head.bytes.extend_from_slice(&c::ELFMAG);
    head.bytes.push(c::ELFCLASS64);
    head.bytes.push(if endian == Endian::Big {
        c::ELFDATA2MSB
    } else {
        c::ELFDATA2LSB
    });
    head.bytes.push(c::EV_CURRENT);
    head.bytes.resize(16, 0); // OS ABI (SYSV), ABI version, padding
    head.u16(c::ET_REL);
    head.u16(c::EM_BPF);
    head.u32(u32::from(c::EV_CURRENT));
    head.u64(0); // e_entry
    head.u64(0); // e_phoff
    head.u64(shoff);
    head.u32(0); // e_flags
    head.u16(64); // e_ehsize
    head.u16(0); // e_phentsize
    head.u16(0); // e_phnum
    head.u16(64); // e_shentsize
    head.u16(headers.len() as u16 + 1);
    head.u16(1); // e_shstrndx: .strtab holds section names too, as in libbpf's output
    f.bytes[..64].copy_from_slice(&head.bytes);
    f.bytes
}

/// The `.BTF` and `.BTF.ext` sections' bytes, each when there is one.
type BtfSections = (Option<Vec<u8>>, Option<Vec<u8>>);

/// `.BTF` (types, then a DATASEC per section some input described: real sections in
/// order, then ephemeral ones) and `.BTF.ext`, when there is anything to put in them.
fn btf_sections(l: &Linker, endian: Endian) -> Result<BtfSections, LinkError> {
    if l.types.is_empty() {
        return Ok((None, None));
    }
    let mut types = l.types.clone();
    let real = l.sections.iter().filter(|s| !s.ephemeral);
    let ephemeral = l.sections.iter().filter(|s| s.ephemeral);
    for s in real.chain(ephemeral).filter(|s| s.has_btf) {
        let size = u32::try_from(if s.ephemeral { 0 } else { s.size })
            .map_err(|_| LinkError::Output(format!("section `{}` is larger than 4 GiB", s.name)))?;
        types.push(Type {
            name: s.name.clone(),
            kind: TypeKind::Datasec {
                size,
                vars: s.vars.clone(),
            },
        });
    }
    let out_err = |e: crate::btf::BtfError| LinkError::Output(format!(".BTF: {e}"));
    let first = encode::encode(&types, endian).map_err(out_err)?;
    let mut strings = Strings::from_section(Btf::parse(first).map_err(out_err)?.string_section());
    let ext = btf_ext(l, endian, &mut strings);
    let btf = encode::encode_with_strings(&types, endian, &strings.bytes).map_err(out_err)?;
    log::debug!(
        "link: .BTF {} types, {} bytes; .BTF.ext {} bytes",
        types.len(),
        btf.len(),
        ext.as_ref().map_or(0, Vec::len)
    );
    Ok((Some(btf), ext))
}

/// `.BTF.ext`: a 32-byte header, then func_info, line_info and CO-RE relocation areas,
/// each a record size and a block per section that has records.
fn btf_ext(l: &Linker, endian: Endian, strings: &mut Strings) -> Option<Vec<u8>> {
    let with = |f: fn(&super::ExtRecords) -> (usize, u32)| {
        l.sections
            .iter()
            .map(move |s| (s, f(&s.ext)))
            .filter(|(_, (n, _))| *n > 0)
    };
    let mut areas = Vec::new();
    for kind in 0..3 {
        let picker: fn(&super::ExtRecords) -> (usize, u32) = match kind {
            0 => |e| (e.func_info.len(), e.func_rec_size),
            1 => |e| (e.line_info.len(), e.line_rec_size),
            _ => |e| (e.core_relos.len(), e.core_rec_size),
        };
        let mut area = Buf::new(endian);
        for (s, (n, rec_size)) in with(picker) {
            if area.bytes.is_empty() {
                area.u32(rec_size);
            }
            area.u32(strings.add(&s.name));
            area.u32(n as u32);
            for i in 0..n {
                let start = area.bytes.len();
                match kind {
                    0 => {
                        let r = &s.ext.func_info[i];
                        area.u32(r.insn_off);
                        area.u32(r.type_id.0);
                    }
                    1 => {
                        let (off, file, line, col) = &s.ext.line_info[i];
                        area.u32(*off);
                        area.u32(strings.add(file));
                        area.u32(strings.add(line));
                        area.u32(*col);
                    }
                    _ => {
                        let (off, ty, access, k) = &s.ext.core_relos[i];
                        area.u32(*off);
                        area.u32(ty.0);
                        area.u32(strings.add(access));
                        area.u32(*k);
                    }
                }
                // Records longer than the format this crate knows keep their size;
                // the words it does not know are written as zero.
                area.bytes.resize(start + rec_size as usize, 0);
            }
        }
        areas.push(area.bytes);
    }
    if areas.iter().all(Vec::is_empty) {
        return None;
    }
    let mut out = Buf::new(endian);
    out.u16(raw::MAGIC);
    out.bytes.push(raw::VERSION);
    out.bytes.push(0);
    out.u32(32);
    let mut off = 0u32;
    for a in &areas {
        out.u32(off);
        out.u32(a.len() as u32);
        off += a.len() as u32;
    }
    for a in areas {
        out.bytes.extend_from_slice(&a);
    }
    Some(out.bytes)
}
