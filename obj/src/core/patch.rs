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

/// Patches `insns[idx]` (and `idx + 1` for ld_imm64). Returns what changed, for the log.
///
/// # Errors
/// A description of why the instruction cannot take this fixup: an unexpected current
/// value, an instruction shape CO-RE does not patch, a value that does not fit.
pub fn patch_insn(insns: &mut [Insn], idx: usize, fix: &CoreFixup) -> Result<String, String> {
    let insn = *insns
        .get(idx)
        .ok_or_else(|| format!("instruction #{idx} is past the end of the function"))?;
    let mut poison = fix.poison;
    if !poison {
        match insn.class() {
            class::ALU | class::ALU64 => {
                if insn.code & 0x08 != 0 {
                    return Err("ALU instruction has a register operand, not an immediate".into());
                }
                // Compared as libbpf compares them: the `__s32` immediate widened
                // with its sign to the 64-bit value.
                if fix.validate && i64::from(insn.imm) as u64 != fix.orig {
                    return Err(format!(
                        "ALU immediate is {}, expected {}",
                        insn.imm, fix.orig
                    ));
                }
                insns[idx].imm = fix.new as i32;
                return Ok(format!("imm {} -> {}", insn.imm, fix.new));
            }
            class::LDX | class::ST | class::STX => {
                if fix.validate && i64::from(insn.off) as u64 != fix.orig {
                    return Err(format!(
                        "memory offset is {}, expected {}",
                        insn.off, fix.orig
                    ));
                }
                if fix.new > i16::MAX as u64 {
                    return Err(format!(
                        "offset {} does not fit the 16-bit instruction offset",
                        fix.new
                    ));
                }
                if fix.fail_memsz_adjust {
                    // The field changed size in a way that changes its value.
                    poison = true;
                } else {
                    insns[idx].off = fix.new as i16;
                    let mut what = format!("off {} -> {}", insn.off, fix.new);
                    if fix.new_sz != fix.orig_sz {
                        let have = size_bytes(insn.code);
                        if have != fix.orig_sz {
                            return Err(format!(
                                "accesses {have} bytes, but the field is {} bytes",
                                fix.orig_sz
                            ));
                        }
                        let bits = size_bits(fix.new_sz)
                            .ok_or_else(|| format!("no load or store of {} bytes", fix.new_sz))?;
                        insns[idx].code = (insn.code & !0x18) | bits;
                        what.push_str(&format!(", size {} -> {} bytes", fix.orig_sz, fix.new_sz));
                    }
                    return Ok(what);
                }
            }
            class::LD => {
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
                    return Err("ld_imm64 has an unexpected form".into());
                };
                let imm = u64::from(insn.imm as u32) | (u64::from(next.imm as u32) << 32);
                if fix.validate && imm != fix.orig {
                    return Err(format!("ld_imm64 value is {imm}, expected {}", fix.orig));
                }
                insns[idx].imm = fix.new as u32 as i32;
                insns[idx + 1].imm = (fix.new >> 32) as u32 as i32;
                return Ok(format!("imm64 {imm} -> {}", fix.new));
            }
            _ => {
                return Err(format!(
                    "instruction (opcode {:#04x}) is not one CO-RE relocates",
                    insn.code
                ));
            }
        }
    }
    debug_assert!(poison);
    // The second slot of an ld_imm64 is poisoned too, or the verifier would complain
    // about "unknown opcode 00" instead of the poisoned call.
    if insn.code == LD_IMM64 && idx + 1 < insns.len() {
        insns[idx + 1] = poison_insn();
    }
    insns[idx] = poison_insn();
    Ok("poisoned (call 0xbad2310)".into())
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
        assert_eq!(patch_insn(&mut insns, 0, &fix(4, 8)).unwrap(), "imm 4 -> 8");
        assert_eq!(insns[0].imm, 8);
        assert_eq!(
            patch_insn(&mut insns, 0, &fix(4, 9)).unwrap_err(),
            "ALU immediate is 8, expected 4"
        );
        let mut reg = [Insn::new(0xbf, 1, 2, 0, 0)]; // r1 = r2
        assert!(patch_insn(&mut reg, 0, &fix(0, 1)).is_err());
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
            patch_insn(&mut insns, 0, &f).unwrap(),
            "off 16 -> 24, size 4 -> 8 bytes"
        );
        assert_eq!((insns[0].code, insns[0].off), (0x79, 24)); // now a u64 load
        let mut insns = [Insn::new(0x61, 0, 1, 16, 0)];
        assert!(
            patch_insn(&mut insns, 0, &fix(16, 40000))
                .unwrap_err()
                .contains("does not fit")
        );
        // A size change that would change the value poisons instead.
        let mut insns = [Insn::new(0x61, 0, 1, 16, 0)];
        let f = CoreFixup {
            fail_memsz_adjust: true,
            orig_sz: 4,
            new_sz: 8,
            ..fix(16, 24)
        };
        patch_insn(&mut insns, 0, &f).unwrap();
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
            "ld_imm64 has an unexpected form"
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
        assert_eq!(
            patch_insn(&mut insns, 0, &f).unwrap(),
            "poisoned (call 0xbad2310)"
        );
        assert!(
            insns[..2]
                .iter()
                .all(|i| i.code == 0x85 && i.imm == POISON_IMM)
        );
        assert_eq!(insns[2].code, 0x95);
    }
}
