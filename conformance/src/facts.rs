//! What the kernel says about a loaded program, asked the same way whichever loader
//! loaded it: the tag (the kernel's hash of the instructions it was given, map fds and
//! data offsets zeroed), the instructions it kept after verification with map ids
//! replaced by their place in the program's map list (so data offsets and which map is
//! used count too), the maps it uses, and its func_info/line_info counts.

use std::os::fd::BorrowedFd;

use std::os::fd::AsFd as _;

use oxbpf_sys::bpf::{self, IdKind};
use oxbpf_sys::uapi::name_str;

/// One program, as the kernel describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgFacts {
    /// `bpf_prog_info.tag`, as hex.
    pub tag: String,
    /// FNV-1a of the normalized translated instructions, as hex.
    pub xlated: String,
    /// func_info records the kernel kept.
    pub func_info: u32,
    /// line_info records the kernel kept.
    pub line_info: u32,
    /// The maps it uses, in the kernel's order: `name:type:key:value:max_entries:flags`.
    pub maps: Vec<String>,
}

/// A map as the kernel describes it: `name:type:key:value:max_entries:flags`.
pub fn map(fd: BorrowedFd<'_>) -> Result<String, String> {
    let mi = bpf::map_info(fd).map_err(|e| e.to_string())?;
    Ok(format!(
        "{}:{}:{}:{}:{}:{:#x}",
        name_str(&mi.name),
        mi.map_type.0,
        mi.key_size,
        mi.value_size,
        mi.max_entries,
        mi.map_flags
    ))
}

/// `BPF_LD | BPF_IMM | BPF_DW`.
const LD_IMM64: u8 = 0x18;
/// `BPF_JMP | BPF_CALL`.
const CALL: u8 = 0x85;

/// Reads the facts of the program open at `fd`.
pub fn of(fd: BorrowedFd<'_>) -> Result<ProgFacts, String> {
    let info = bpf::prog_info(fd).map_err(|e| format!("prog info: {e}"))?;
    let ids = bpf::prog_map_ids(fd).map_err(|e| format!("map ids: {e}"))?;
    let mut maps = Vec::new();
    for id in &ids {
        let m = bpf::get_fd_by_id(IdKind::Map, *id).map_err(|e| format!("map {id}: {e}"))?;
        maps.push(map(m.as_fd()).map_err(|e| format!("map {id}: {e}"))?);
    }
    let mut xlated = bpf::prog_xlated(fd).map_err(|e| format!("xlated: {e}"))?;
    normalize(&mut xlated, &ids);
    // For looking into a difference: OXBPF_CONFORMANCE_DUMP=DIR keeps each program's
    // normalized instructions as DIR/<pid>-<name>.
    if let Some(dir) = std::env::var_os("OXBPF_CONFORMANCE_DUMP") {
        let name = oxbpf_sys::uapi::name_str(&info.name);
        let _ = std::fs::write(
            std::path::Path::new(&dir).join(format!("{}-{name}", std::process::id())),
            &xlated,
        );
    }
    Ok(ProgFacts {
        tag: info.tag.iter().map(|b| format!("{b:02x}")).collect(),
        xlated: format!("{:016x}", fnv1a(&xlated)),
        func_info: info.nr_func_info,
        line_info: info.nr_line_info,
        maps,
    })
}

/// Makes the translated instructions comparable between two loads: a map id becomes
/// its index in the program's map list; addresses of JIT images (BPF-to-BPF calls and
/// callbacks, which differ per load) become 0.
fn normalize(insns: &mut [u8], map_ids: &[u32]) {
    let mut i = 0;
    while i + 8 <= insns.len() {
        let code = insns[i];
        let src = insns[i + 1] >> 4;
        let imm = i32::from_ne_bytes([insns[i + 4], insns[i + 5], insns[i + 6], insns[i + 7]]);
        let set_imm = |insns: &mut [u8], at: usize, v: i32| {
            insns[at + 4..at + 8].copy_from_slice(&v.to_ne_bytes());
        };
        if code == LD_IMM64 && i + 16 <= insns.len() {
            match src {
                // BPF_PSEUDO_MAP_FD / MAP_VALUE: the dump gives the map's id.
                1 | 2 => {
                    let idx = map_ids
                        .iter()
                        .position(|&id| id as i32 == imm)
                        .map_or(-1, |p| p as i32);
                    set_imm(insns, i, idx);
                }
                // BPF_PSEUDO_FUNC: the callback's JIT address.
                4 => {
                    set_imm(insns, i, 0);
                    set_imm(insns, i + 8, 0);
                }
                // Kernel addresses the verifier wrote in (a callback's JIT image once
                // jited, a kfunc's hidden struct-meta argument): they differ per load.
                // The tag covers the instructions as sent, these included.
                0 => {
                    let hi = i32::from_ne_bytes([
                        insns[i + 12],
                        insns[i + 13],
                        insns[i + 14],
                        insns[i + 15],
                    ]);
                    let value = (u64::from(hi as u32) << 32) | u64::from(imm as u32);
                    if value >= 0xffff_8000_0000_0000 {
                        set_imm(insns, i, 0);
                        set_imm(insns, i + 8, 0);
                    }
                }
                _ => {}
            }
            i += 16;
            continue;
        }
        // BPF_PSEUDO_CALL: the callee's JIT address.
        if code == CALL && src == 1 {
            set_imm(insns, i, 0);
        }
        i += 8;
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
