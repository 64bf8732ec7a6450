//! `.BTF.ext`: what clang records per code section beside the types — func_info (the
//! BTF FUNC of each function), line_info (source line of instructions) and CO-RE
//! relocations.
//!
//! Layout (`struct btf_ext_header`, libbpf `btf.h`): magic, version, flags, hdr_len, then
//! offset/length pairs for func_info, line_info and (if the header is long enough)
//! core_relo, relative to the end of the header. Each area starts with a `u32` record
//! size and then has blocks of `{ sec_name_off, num_info, records[num_info] }`. Records
//! may be larger than this parser knows (newer compilers); the known prefix is read and
//! the rest skipped, as libbpf does. Instruction offsets are in bytes from the start of
//! the section, as clang writes them.

use oxbpf_uapi::Endian;

use oxbpf_uapi::bytes::{Bytes, ShortRead};

use super::{Btf, BtfError, TypeId, raw};

/// Why `.BTF.ext` could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BtfExtError {
    /// The object has `.BTF.ext` with CO-RE relocations but no valid `.BTF` to read
    /// them with: its relocations cannot be known, so it cannot load as compiled.
    #[error("it has CO-RE relocations but no valid .BTF to read them with")]
    NoBtf,
    /// Too short, or the magic is wrong.
    #[error("not BTF.ext: {0}")]
    NotBtfExt(&'static str),
    /// A header field points outside the section.
    #[error("{area}: offset {off} and length {len} are outside the {total}-byte section")]
    OutOfBounds {
        /// "func_info", "line_info" or "core_relo".
        area: &'static str,
        /// Start from the section start.
        off: u64,
        /// Length.
        len: u64,
        /// Section size.
        total: usize,
    },
    /// A record size is smaller than the format's.
    #[error("{area}: record size {size} is smaller than the minimum {min}")]
    RecordSize {
        /// Which area.
        area: &'static str,
        /// Declared size.
        size: u32,
        /// The smallest valid size.
        min: u32,
    },
    /// A block runs past the end of its area.
    #[error("{area}: block at offset {off} ({count} records) runs past the end of the area")]
    Truncated {
        /// Which area.
        area: &'static str,
        /// Block offset within the area.
        off: usize,
        /// Its record count.
        count: u32,
    },
    /// A header or record field lies past the end of the section.
    #[error("{area}: {short}")]
    Short {
        /// "header", or the area the field belongs to.
        area: &'static str,
        /// The read that did not fit.
        short: ShortRead,
    },
    /// A name offset is not in the BTF string table.
    #[error("{area}: section name")]
    Name {
        /// Which area.
        area: &'static str,
        /// The problem.
        #[source]
        source: BtfError,
    },
}

/// `struct bpf_func_info`: the BTF FUNC describing the function at `insn_off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset of the function's first instruction in its section.
    pub insn_off: u32,
    /// Its BTF FUNC.
    pub type_id: TypeId,
}

/// `struct bpf_line_info`: where in the source the instruction at `insn_off` comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset of the instruction in its section.
    pub insn_off: u32,
    /// BTF string offset of the file name.
    pub file_name_off: u32,
    /// BTF string offset of the source line's text.
    pub line_off: u32,
    /// `line << 10 | column`, as the kernel stores it.
    pub line_col: u32,
}

impl LineInfo {
    /// The source line number.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }

    /// The column.
    pub fn column(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// `struct bpf_core_relo`: one CO-RE relocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreReloRecord {
    /// Byte offset of the instruction to patch in its section.
    pub insn_off: u32,
    /// The local (object's) BTF type the access starts from.
    pub type_id: TypeId,
    /// BTF string offset of the access string (`0:1:2`).
    pub access_str_off: u32,
    /// `enum bpf_core_relo_kind`.
    pub kind: u32,
}

/// The records of one code section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtSection<T> {
    /// The code section's name.
    pub section: String,
    /// Its records, in file order.
    pub records: Vec<T>,
}

/// A parsed `.BTF.ext`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// Size of one func_info record in the file (what the kernel is told).
    pub func_info_rec_size: u32,
    /// Size of one line_info record in the file.
    pub line_info_rec_size: u32,
    /// Size of one CO-RE relocation record in the file (0 when absent).
    pub core_relo_rec_size: u32,
    /// func_info per section.
    pub func_info: Vec<ExtSection<FuncInfo>>,
    /// line_info per section.
    pub line_info: Vec<ExtSection<LineInfo>>,
    /// CO-RE relocations per section.
    pub core_relos: Vec<ExtSection<CoreReloRecord>>,
}

/// Smallest record sizes the format defines.
const FUNC_INFO_MIN: u32 = 8;
const LINE_INFO_MIN: u32 = 16;
const CORE_RELO_MIN: u32 = 16;

impl BtfExt {
    /// Whether `.BTF.ext` bytes carry any CO-RE relocation, read from the header alone
    /// (no parse): what decides whether the running kernel's BTF is needed at all, as
    /// libbpf decides it. Malformed bytes answer `true`, so the full parse reports them.
    pub fn has_core_relos(data: &[u8]) -> bool {
        let endian = match data.get(..2) {
            Some([0x9f, 0xeb]) => Endian::Little,
            Some([0xeb, 0x9f]) => Endian::Big,
            _ => return true,
        };
        let b = Bytes::new(data, endian);
        let Ok(hdr_len) = b.u32(4) else {
            return true;
        };
        if hdr_len < 32 {
            return false; // no core_relo area in headers before LLVM 12
        }
        // The area is a record size word, then blocks: more than the word means records.
        b.u32(28).map_or(true, |len| len > 4)
    }

    /// Whether any CO-RE relocation record was parsed.
    pub fn has_core_relocations(&self) -> bool {
        self.core_relos.iter().any(|s| !s.records.is_empty())
    }

    /// Parses `.BTF.ext` bytes; section names are looked up in `btf`'s strings.
    ///
    /// # Errors
    /// [`BtfExtError`] naming the area and what is wrong.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, BtfExtError> {
        if data.len() < 8 {
            return Err(BtfExtError::NotBtfExt("shorter than the header"));
        }
        let endian = match [data[0], data[1]] {
            [0x9f, 0xeb] => Endian::Little,
            [0xeb, 0x9f] => Endian::Big,
            _ => return Err(BtfExtError::NotBtfExt("bad magic (expected 0xeb9f)")),
        };
        if data[2] != raw::VERSION {
            return Err(BtfExtError::NotBtfExt("unsupported version"));
        }
        let b = Bytes::new(data, endian);
        let rd = |off: usize| {
            b.u32(off).map_err(|short| BtfExtError::Short {
                area: "header",
                short,
            })
        };
        let hdr_len = rd(4)? as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(BtfExtError::NotBtfExt("header length out of range"));
        }
        let area = |name: &'static str, at: usize| -> Result<&[u8], BtfExtError> {
            let (off, len) = (rd(at)?, rd(at + 4)?);
            let start = hdr_len as u64 + u64::from(off);
            let end = start + u64::from(len);
            if end > data.len() as u64 {
                return Err(BtfExtError::OutOfBounds {
                    area: name,
                    off: start,
                    len: u64::from(len),
                    total: data.len(),
                });
            }
            Ok(&data[start as usize..end as usize])
        };
        let mut ext = BtfExt::default();
        let func = area("func_info", 8)?;
        (ext.func_info_rec_size, ext.func_info) =
            parse_area(func, "func_info", FUNC_INFO_MIN, endian, btf, |r| {
                FuncInfo {
                    insn_off: r[0],
                    type_id: TypeId(r[1]),
                }
            })?;
        let line = area("line_info", 16)?;
        (ext.line_info_rec_size, ext.line_info) =
            parse_area(line, "line_info", LINE_INFO_MIN, endian, btf, |r| {
                LineInfo {
                    insn_off: r[0],
                    file_name_off: r[1],
                    line_off: r[2],
                    line_col: r[3],
                }
            })?;
        // core_relo_off/len exist only in headers of 32 bytes or more (LLVM 12+).
        if hdr_len >= 32 {
            let core = area("core_relo", 24)?;
            (ext.core_relo_rec_size, ext.core_relos) =
                parse_area(core, "core_relo", CORE_RELO_MIN, endian, btf, |r| {
                    CoreReloRecord {
                        insn_off: r[0],
                        type_id: TypeId(r[1]),
                        access_str_off: r[2],
                        kind: r[3],
                    }
                })?;
        }
        log::debug!(
            "BTF.ext: func_info in {} sections, line_info in {}, CO-RE relocations in {}",
            ext.func_info.len(),
            ext.line_info.len(),
            ext.core_relos.len()
        );
        Ok(ext)
    }

    /// The func_info records of `section`.
    pub fn func_info_for(&self, section: &str) -> &[FuncInfo] {
        records_for(&self.func_info, section)
    }

    /// The line_info records of `section`.
    pub fn line_info_for(&self, section: &str) -> &[LineInfo] {
        records_for(&self.line_info, section)
    }

    /// The CO-RE relocations of `section`.
    pub fn core_relos_for(&self, section: &str) -> &[CoreReloRecord] {
        records_for(&self.core_relos, section)
    }
}

fn records_for<'a, T>(areas: &'a [ExtSection<T>], section: &str) -> &'a [T] {
    areas
        .iter()
        .find(|s| s.section == section)
        .map_or(&[], |s| &s.records)
}

type Area<T> = (u32, Vec<ExtSection<T>>);

/// Reads one area: a record size, then blocks. `make` gets the first four words of each
/// record (the minimum-size check guarantees the words `make` reads; the words after a
/// shorter record's end are given as zeros and never read).
fn parse_area<T>(
    a: &[u8],
    name: &'static str,
    min: u32,
    endian: Endian,
    btf: &Btf,
    make: impl Fn([u32; 4]) -> T,
) -> Result<Area<T>, BtfExtError> {
    if a.is_empty() {
        return Ok((0, Vec::new()));
    }
    let b = Bytes::new(a, endian);
    let rd = |off: usize| {
        b.u32(off)
            .map_err(|short| BtfExtError::Short { area: name, short })
    };
    let rec_size = rd(0)?;
    if rec_size < min {
        return Err(BtfExtError::RecordSize {
            area: name,
            size: rec_size,
            min,
        });
    }
    let mut sections = Vec::new();
    let mut off = 4usize;
    while off < a.len() {
        let (Ok(sec_name_off), Ok(count)) = (rd(off), rd(off + 4)) else {
            return Err(BtfExtError::Truncated {
                area: name,
                off,
                count: 0,
            });
        };
        let start = off + 8;
        let len = u64::from(count) * u64::from(rec_size);
        if start as u64 + len > a.len() as u64 {
            return Err(BtfExtError::Truncated {
                area: name,
                off,
                count,
            });
        }
        let section = btf
            .str_at(sec_name_off)
            .map_err(|source| BtfExtError::Name { area: name, source })?
            .to_string();
        let records = (0..count as usize)
            .map(|i| {
                let r = start + i * rec_size as usize;
                // Words past a short record (func_info has two) are not part of it:
                // `make` never looks at them, and they read as zero.
                let w = |k: usize| {
                    if (k as u32) * 4 < rec_size {
                        rd(r + k * 4)
                    } else {
                        Ok(0)
                    }
                };
                Ok(make([w(0)?, w(1)?, w(2)?, w(3)?]))
            })
            .collect::<Result<_, BtfExtError>>()?;
        sections.push(ExtSection { section, records });
        off = start + len as usize;
    }
    Ok((rec_size, sections))
}
