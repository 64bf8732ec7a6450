//! Applying a computed fixup to the instruction it is for (libbpf `bpf_core_patch_insn`).
//!
//! Six instruction shapes carry CO-RE values:
//! 1. `rX = imm` and 2. `rX op= imm` (ALU/ALU64 with an immediate): the immediate;
//! 3. `rX = imm64` (ld_imm64): both halves of the immediate;
//! 4. `rX = *(T *)(rY + off)`, 5. `*(T *)(rX + off) = rY` and
//! 6. `*(T *)(rX + off) = imm` (LDX/STX/ST): the offset, and the access size T when the
//!    field's size changed and the value survives the change.
//!
//! Before writing, the current value is checked against the fixup's `orig` (when the
//! fixup says it can be): a mismatch means the instruction is not what the record
//! describes, and patching it would corrupt the program.

use oxbpf_uapi::Insn;
use oxbpf_uapi::insn::{LD_IMM64, class};

use super::calc::CoreFixup;

/// The invalid helper id a poisoned instruction calls: `0xbad2310`, "bad relo". If the
/// instruction is reachable, the verifier says `invalid func unknown#195896080`.
pub const POISON_IMM: i32 = 0x0bad_2310;

/// `BPF_JMP | BPF_CALL` to the poison helper id.
fn poison_insn() -> Insn {
    Insn::new(oxbpf_uapi::insn::CALL, 0, 0, 0, POISON_IMM)
}

/// Access size in bytes of an LDX/ST/STX opcode.
fn size_bytes(code: u8) -> u32 {
    match code & 0x18 {
        0x18 => 8,
        0x00 => 4,
        0x08 => 2,
        _ => 1,
    }
}

fn size_bits(bytes: u32) -> Option<u8> {
    Some(match bytes {
        8 => 0x18,
        4 => 0x00,
        2 => 0x08,
        1 => 0x10,
        _ => return None,
    })
}

/// Why an instruction cannot take a fixup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The record points past the function's last instruction.
    #[error("instruction #{0} is past the end of the function")]
    PastEnd(usize),
    /// `rX op= rY`: CO-RE patches immediates only.
    #[error("ALU instruction has a register operand, not an immediate")]
    AluRegister,
    /// The immediate is not the value the record was computed from.
    #[error("ALU immediate is {found}, expected {expected}")]
    AluImm {
        /// The instruction's immediate.
        found: i32,
        /// The fixup's `orig`.
        expected: u64,
    },
    /// The memory offset is not the value the record was computed from.
    #[error("memory offset is {found}, expected {expected}")]
    MemOffset {
        /// The instruction's offset.
        found: i16,
        /// The fixup's `orig`.
        expected: u64,
    },
    /// The new offset does not fit the instruction's 16 bits.
    #[error("offset {0} does not fit the 16-bit instruction offset")]
    OffsetTooLarge(u64),
    /// The access is not as wide as the field the record describes.
    #[error("accesses {access} bytes, but the field is {field} bytes")]
    AccessSize {
        /// Bytes the instruction loads or stores.
        access: u32,
        /// The field's size in the local type.
        field: u32,
    },
    /// The field's new size is no size a load or store has.
    #[error("no load or store of {0} bytes")]
    NoAccessOfSize(u32),
    /// An ld_imm64 without its second slot, or with registers or offsets set.
    #[error("ld_imm64 has an unexpected form")]
    LdImm64Form,
    /// The 64-bit immediate is not the value the record was computed from.
    #[error("ld_imm64 value is {found}, expected {expected}")]
    LdImm64Value {
        /// The instruction's 64-bit immediate.
        found: u64,
        /// The fixup's `orig`.
        expected: u64,
    },
    /// An instruction class CO-RE does not relocate (jumps, calls...).
    #[error("instruction (opcode {0:#04x}) is not one CO-RE relocates")]
    NotRelocatable(u8),
}

/// What patching changed, for the log (`off 16 -> 24, size 4 -> 8 bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patched {
    /// An ALU immediate.
    Imm {
        /// Before.
        from: i32,
        /// After (as the fixup gives it; the instruction holds its low 32 bits).
        to: u64,
    },
    /// A load or store offset, and its size when that changed too.
    Off {
        /// Offset before.
        from: i16,
        /// Offset after.
        to: u64,
        /// `(old, new)` access size in bytes, when it changed.
        size: Option<(u32, u32)>,
    },
    /// Both halves of an ld_imm64.
    Imm64 {
        /// Before.
        from: u64,
        /// After.
        to: u64,
    },
    /// Replaced by a call to the poison helper.
    Poisoned,
}

impl std::fmt::Display for Patched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Patched::Imm { from, to } => write!(f, "imm {from} -> {to}"),
            Patched::Off { from, to, size } => {
                write!(f, "off {from} -> {to}")?;
                if let Some((old, new)) = size {
                    write!(f, ", size {old} -> {new} bytes")?;
                }
                Ok(())
            }
            Patched::Imm64 { from, to } => write!(f, "imm64 {from} -> {to}"),
            Patched::Poisoned => f.write_str("poisoned (call 0xbad2310)"),
        }
    }
}

/// Patches `insns[idx]` (and `idx + 1` for ld_imm64). Returns what changed, for the log.
///
/// # Errors
/// A [`PatchError`] saying why the instruction cannot take this fixup: an unexpected
/// current value, an instruction shape CO-RE does not patch, a value that does not fit.
pub fn patch_insn(insns: &mut [Insn], idx: usize, fix: &CoreFixup) -> Result<Patched, PatchError> {
    let insn = *insns.get(idx).ok_or(PatchError::PastEnd(idx))?;
    if !fix.poison {
        let patched = match insn.class() {
            class::ALU | class::ALU64 => Some(patch_alu(&mut insns[idx], fix)?),
            class::LDX | class::ST | class::STX => patch_mem(&mut insns[idx], fix)?,
            class::LD => Some(patch_ld_imm64(insns, idx, fix)?),
            _ => return Err(PatchError::NotRelocatable(insn.code)),
        };
        if let Some(p) = patched {
            return Ok(p);
        }
        // `None`: the field changed size in a way that changes its value; poison.
    }
    // The second slot of an ld_imm64 is poisoned too, or the verifier would complain
    // about "unknown opcode 00" instead of the poisoned call.
    if insn.code == LD_IMM64 && idx + 1 < insns.len() {
        insns[idx + 1] = poison_insn();
    }
    insns[idx] = poison_insn();
    Ok(Patched::Poisoned)
}

/// Shapes 1 and 2: the immediate of `rX = imm` / `rX op= imm`.
fn patch_alu(insn: &mut Insn, fix: &CoreFixup) -> Result<Patched, PatchError> {
    if insn.code & 0x08 != 0 {
        return Err(PatchError::AluRegister);
    }
    // Compared as libbpf compares them: the `__s32` immediate widened with its sign to
    // the 64-bit value.
    if fix.validate && i64::from(insn.imm) as u64 != fix.orig {
        return Err(PatchError::AluImm {
            found: insn.imm,
            expected: fix.orig,
        });
    }
    let from = insn.imm;
    insn.imm = fix.new as i32;
    Ok(Patched::Imm { from, to: fix.new })
}

/// Shapes 4 to 6: the offset of a load or store, and its size when the field's size
/// changed and the value survives it. `None` when it does not survive (poison).
fn patch_mem(insn: &mut Insn, fix: &CoreFixup) -> Result<Option<Patched>, PatchError> {
    if fix.validate && i64::from(insn.off) as u64 != fix.orig {
        return Err(PatchError::MemOffset {
            found: insn.off,
            expected: fix.orig,
        });
    }
    if fix.new > i16::MAX as u64 {
        return Err(PatchError::OffsetTooLarge(fix.new));
    }
    if fix.fail_memsz_adjust {
        return Ok(None);
    }
    let from = insn.off;
    insn.off = fix.new as i16;
    let mut size = None;
    if fix.new_sz != fix.orig_sz {
        let access = size_bytes(insn.code);
        if access != fix.orig_sz {
            return Err(PatchError::AccessSize {
                access,
                field: fix.orig_sz,
            });
        }
        let bits = size_bits(fix.new_sz).ok_or(PatchError::NoAccessOfSize(fix.new_sz))?;
        insn.code = (insn.code & !0x18) | bits;
        size = Some((fix.orig_sz, fix.new_sz));
    }
    Ok(Some(Patched::Off {
        from,
        to: fix.new,
        size,
    }))
}

/// Shape 3: both halves of `rX = imm64`.
fn patch_ld_imm64(insns: &mut [Insn], idx: usize, fix: &CoreFixup) -> Result<Patched, PatchError> {
    let insn = insns[idx];
    let next = insns.get(idx + 1).copied();
    let Some(next) = next.filter(|n| {
        insn.code == LD_IMM64
            && insn.src() == 0
            && insn.off == 0
            && n.code == 0
            && n.dst() == 0
            && n.src() == 0
            && n.off == 0
    }) else {
        return Err(PatchError::LdImm64Form);
    };
    let imm = u64::from(insn.imm as u32) | (u64::from(next.imm as u32) << 32);
    if fix.validate && imm != fix.orig {
        return Err(PatchError::LdImm64Value {
            found: imm,
            expected: fix.orig,
        });
    }
    insns[idx].imm = fix.new as u32 as i32;
    insns[idx + 1].imm = (fix.new >> 32) as u32 as i32;
    Ok(Patched::Imm64 {
        from: imm,
        to: fix.new,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(orig: u64, new: u64) -> CoreFixup {
        CoreFixup {
            orig,
            new,
            validate: true,
            ..Default::default()
        }
    }

    #[test]
    fn patches_alu_immediates_after_checking_them() {
        let mut insns = [Insn::new(0xb7, 1, 0, 0, 4)]; // r1 = 4
        assert_eq!(
            patch_insn(&mut insns, 0, &fix(4, 8)).unwrap().to_string(),
            "imm 4 -> 8"
        );
        assert_eq!(insns[0].imm, 8);
        assert_eq!(
            patch_insn(&mut insns, 0, &fix(4, 9)).unwrap_err(),
            PatchError::AluImm {
                found: 8,
                expected: 4
            }
        );
        assert_eq!(
            patch_insn(&mut insns, 0, &fix(4, 9))
                .unwrap_err()
                .to_string(),
            "ALU immediate is 8, expected 4"
        );
        let mut reg = [Insn::new(0xbf, 1, 2, 0, 0)]; // r1 = r2
        assert_eq!(
            patch_insn(&mut reg, 0, &fix(0, 1)).unwrap_err(),
            PatchError::AluRegister
        );
    }

    #[test]
    fn patches_load_offsets_and_sizes() {
        // r0 = *(u32 *)(r1 + 16)
        let mut insns = [Insn::new(0x61, 0, 1, 16, 0)];
        let f = CoreFixup {
            orig: 16,
            new: 24,
            validate: true,
            orig_sz: 4,
            new_sz: 8,
            ..Default::default()
        };
        assert_eq!(
            patch_insn(&mut insns, 0, &f).unwrap().to_string(),
            "off 16 -> 24, size 4 -> 8 bytes"
        );
        assert_eq!((insns[0].code, insns[0].off), (0x79, 24)); // now a u64 load
        let mut insns = [Insn::new(0x61, 0, 1, 16, 0)];
        assert_eq!(
            patch_insn(&mut insns, 0, &fix(16, 40000)).unwrap_err(),
            PatchError::OffsetTooLarge(40000)
        );
        // A size change that would change the value poisons instead.
        let mut insns = [Insn::new(0x61, 0, 1, 16, 0)];
        let f = CoreFixup {
            fail_memsz_adjust: true,
            orig_sz: 4,
            new_sz: 8,
            ..fix(16, 24)
        };
        assert_eq!(patch_insn(&mut insns, 0, &f).unwrap(), Patched::Poisoned);
        assert_eq!((insns[0].code, insns[0].imm), (0x85, POISON_IMM));
    }

    #[test]
    fn patches_both_halves_of_ld_imm64() {
        let mut insns = [Insn::new(LD_IMM64, 1, 0, 0, 5), Insn::new(0, 0, 0, 0, 0)];
        patch_insn(&mut insns, 0, &fix(5, 0x1_0000_0002)).unwrap();
        assert_eq!((insns[0].imm, insns[1].imm), (2, 1));
        let mut cut = [Insn::new(LD_IMM64, 1, 0, 0, 5)];
        assert_eq!(
            patch_insn(&mut cut, 0, &fix(5, 6)).unwrap_err(),
            PatchError::LdImm64Form
        );
    }

    #[test]
    fn poison_replaces_both_slots_of_ld_imm64() {
        let mut insns = [
            Insn::new(LD_IMM64, 1, 0, 0, 5),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(0x95, 0, 0, 0, 0),
        ];
        let f = CoreFixup {
            poison: true,
            ..Default::default()
        };
        assert_eq!(patch_insn(&mut insns, 0, &f).unwrap(), Patched::Poisoned);
        assert!(
            insns[..2]
                .iter()
                .all(|i| i.code == 0x85 && i.imm == POISON_IMM)
        );
        assert_eq!(insns[2].code, 0x95);
    }
}
