//! eBPF instructions as text, in the syntax of the kernel verifier's log
//! (`kernel/bpf/disasm.c`): `r1 = *(u32 *)(r6 +4)`, `if r1 != 0x4 goto pc+8`,
//! `call bpf_map_lookup_elem#1`. Reading oxbpf's listings beside a verifier log needs
//! no translation.
//!
//! Conventions the kernel follows and this does too: ALU immediates in decimal, jump
//! immediates in hex, memory offsets signed (`+0`, `-4`), 32-bit ALU and JMP32 operands
//! as `wN`, the byte-swap of a 32-bit-class `BPF_END` with `rN` registers.

use super::insn::{Insn, class};

const ALU_OPS: [&str; 16] = [
    "+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "end", "?",
    "?",
];
const JMP_OPS: [&str; 16] = [
    "goto", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<=",
    "may_goto", "?",
];

fn size_name(code: u8, signed: bool) -> &'static str {
    match (code & 0x18, signed) {
        (0x00, false) => "u32",
        (0x08, false) => "u16",
        (0x10, false) => "u8",
        (0x18, false) => "u64",
        (0x00, true) => "s32",
        (0x08, true) => "s16",
        (0x10, true) => "s8",
        _ => "s64",
    }
}

/// The text of the instruction at `insns[i]` (an `ld_imm64` reads its second slot from
/// `insns[i + 1]`); `None` past the end. Helper calls are named from the kernel's
/// helper list; BPF-to-BPF calls and kfunc calls show their raw form (the caller knows
/// their targets from relocations).
pub fn insn_text(insns: &[Insn], i: usize) -> Option<String> {
    let insn = insns.get(i)?;
    let (code, dst, src, off, imm) = (insn.code, insn.dst(), insn.src(), insn.off, insn.imm);
    let op = usize::from(code >> 4);
    let x = code & 0x08 != 0; // BPF_X: register source
    Some(match insn.class() {
        c @ (class::ALU | class::ALU64) => {
            let r = if c == class::ALU64 { 'r' } else { 'w' };
            match op {
                // BPF_END: byte swaps (the kernel shows `r` even in the 32-bit class).
                0xd => {
                    let how = if c == class::ALU64 {
                        "bswap"
                    } else if x {
                        "be"
                    } else {
                        "le"
                    };
                    format!("r{dst} = {how}{imm} r{dst}")
                }
                0x8 => format!("{r}{dst} = -{r}{dst}"),
                // MOVSX: sign-extending move (off is the source width).
                0xb if x && off != 0 => {
                    format!("{r}{dst} = (s{off}){r}{src}")
                }
                // SDIV/SMOD (off 1).
                0x3 | 0x9 if off == 1 => {
                    let sop = if op == 0x3 { "s/=" } else { "s%=" };
                    if x {
                        format!("{r}{dst} {sop} {r}{src}")
                    } else {
                        format!("{r}{dst} {sop} {imm}")
                    }
                }
                _ if x => format!("{r}{dst} {} {r}{src}", ALU_OPS[op]),
                _ => format!("{r}{dst} {} {imm}", ALU_OPS[op]),
            }
        }
        class::LDX => {
            let signed = code & 0xe0 == 0x80; // BPF_MEMSX
            format!("r{dst} = *({} *)(r{src} {off:+})", size_name(code, signed))
        }
        class::STX if code & 0xe0 == 0xc0 => atomic(code, dst, src, off, imm),
        class::STX => format!("*({} *)(r{dst} {off:+}) = r{src}", size_name(code, false)),
        class::ST => format!("*({} *)(r{dst} {off:+}) = {imm}", size_name(code, false)),
        class::LD => match code & 0xe0 {
            // BPF_IMM | BPF_DW: two slots.
            0x00 if code & 0x18 == 0x18 => {
                let hi = insns.get(i + 1).map_or(0, |n| n.imm as u32);
                let value = (u64::from(hi) << 32) | u64::from(imm as u32);
                match src {
                    0 => format!("r{dst} = {value:#x}"),
                    1 => format!("r{dst} = map[fd:{imm}]"),
                    2 => format!("r{dst} = map[fd:{imm}][0]+{hi}"),
                    3 => format!("r{dst} = btf_id[{imm}]"),
                    4 => format!("r{dst} = func[{imm}]"),
                    5 => format!("r{dst} = map[idx:{imm}]"),
                    6 => format!("r{dst} = map[idx:{imm}][0]+{hi}"),
                    p => format!("r{dst} = pseudo{p}[{imm}]"),
                }
            }
            // LD_ABS / LD_IND: packet loads of old socket filters.
            0x20 => format!("r0 = *({} *)skb[{imm}]", size_name(code, false)),
            0x40 => format!("r0 = *({} *)skb[r{src} + {imm}]", size_name(code, false)),
            _ => format!("(unknown ld mode {code:#04x})"),
        },
        c @ (class::JMP | class::JMP32) => {
            let r = if c == class::JMP { 'r' } else { 'w' };
            match op {
                0x0 if c == class::JMP32 => format!("gotol pc{imm:+}"),
                0x0 => format!("goto pc{off:+}"),
                0x8 => match src {
                    0 => match super::helpers::helper_name(imm) {
                        Some(name) => format!("call {name}#{imm}"),
                        None => format!("call unknown#{imm}"),
                    },
                    1 => format!("call pc{imm:+}"),
                    2 => format!("call kernel-function#{imm}"),
                    p => format!("call pseudo{p}#{imm}"),
                },
                0x9 => "exit".to_string(),
                0xe => format!("may_goto pc{off:+}"),
                0xf => format!("(unknown jmp op {code:#04x})"),
                _ if x => format!("if {r}{dst} {} {r}{src} goto pc{off:+}", JMP_OPS[op]),
                _ => format!(
                    "if {r}{dst} {} {:#x} goto pc{off:+}",
                    JMP_OPS[op], imm as u32
                ),
            }
        }
        _ => unreachable_class(code),
    })
}

fn unreachable_class(code: u8) -> String {
    format!("(unknown class {code:#04x})")
}

/// `BPF_STX | BPF_ATOMIC`: the operation is in `imm`.
fn atomic(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> String {
    let dw = code & 0x18 == 0x18;
    let size = size_name(code, false);
    let (r, bits) = if dw { ('r', "64") } else { ('w', "") };
    let at = format!("({size} *)(r{dst} {off:+})");
    let name = |op: i32| match op & !0x01 {
        0x00 => Some(("add", "+=")),
        0x40 => Some(("or", "|=")),
        0x50 => Some(("and", "&=")),
        0xa0 => Some(("xor", "^=")),
        _ => None,
    };
    match imm {
        0xe1 => format!("{r}{src} = atomic{bits}_xchg({at}, {r}{src})"),
        0xf1 => format!("r0 = atomic{bits}_cmpxchg({at}, r0, {r}{src})"),
        0x100 => format!("{r}{src} = load_acquire({at})"),
        0x110 => format!("store_release({at}, {r}{src})"),
        op if op & 0x01 != 0 => match name(op) {
            Some((n, _)) => format!("{r}{src} = atomic{bits}_fetch_{n}({at}, {r}{src})"),
            None => format!("(unknown atomic op {op:#x})"),
        },
        op => match name(op) {
            Some((_, sym)) => format!("lock *{at} {sym} r{src}"),
            None => format!("(unknown atomic op {op:#x})"),
        },
    }
}

/// How many slots the instruction at `insns[i]` takes (2 for `ld_imm64`).
pub fn insn_slots(insns: &[Insn], i: usize) -> usize {
    match insns.get(i) {
        Some(insn) if insn.is_ld_imm64() => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> String {
        insn_text(&[Insn::new(code, dst, src, off, imm)], 0).unwrap()
    }

    /// Every expected string here is a line this kernel's verifier printed for the
    /// same instruction (from `oxbpf load --log-level 2` on the testdata objects), or
    /// `kernel/bpf/disasm.c`'s format for kinds the objects do not use.
    #[test]
    fn instructions_read_as_the_verifier_prints_them() {
        assert_eq!(text(0x05, 0, 0, 10, 0), "goto pc+10");
        assert_eq!(text(0x07, 4, 0, 0, -16), "r4 += -16");
        assert_eq!(text(0x0f, 4, 3, 0, 0), "r4 += r3");
        assert_eq!(text(0x15, 2, 0, 23, 0), "if r2 == 0x0 goto pc+23");
        assert_eq!(text(0x1d, 1, 2, 1, 0), "if r1 == r2 goto pc+1");
        assert_eq!(text(0x2d, 1, 7, 48, 0), "if r1 > r7 goto pc+48");
        assert_eq!(text(0x30, 0, 0, 0, 23), "r0 = *(u8 *)skb[23]");
        assert_eq!(text(0x55, 2, 0, 6, 1), "if r2 != 0x1 goto pc+6");
        assert_eq!(text(0x57, 8, 0, 0, 60), "r8 &= 60");
        assert_eq!(text(0x61, 3, 2, 1268, 0), "r3 = *(u32 *)(r2 +1268)");
        assert_eq!(text(0x63, 10, 0, -4, 0), "*(u32 *)(r10 -4) = r0");
        assert_eq!(text(0x65, 3, 0, 5, 3), "if r3 s> 0x3 goto pc+5");
        assert_eq!(text(0x67, 2, 0, 0, 32), "r2 <<= 32");
        assert_eq!(text(0x69, 1, 2, 0, 0), "r1 = *(u16 *)(r2 +0)");
        assert_eq!(text(0x73, 7, 8, 167, 0), "*(u8 *)(r7 +167) = r8");
        assert_eq!(text(0x7b, 10, 4, -8, 0), "*(u64 *)(r10 -8) = r4");
        assert_eq!(text(0x85, 0, 0, 0, 1), "call bpf_map_lookup_elem#1");
        assert_eq!(text(0x95, 0, 0, 0, 0), "exit");
        assert_eq!(text(0x97, 1, 0, 0, 7), "r1 %= 7");
        assert_eq!(text(0xb7, 3, 0, 0, 1752), "r3 = 1752");
        assert_eq!(text(0xbf, 2, 1, 0, 0), "r2 = r1");
        assert_eq!(text(0xc7, 2, 0, 0, 32), "r2 s>>= 32");
        assert_eq!(text(0xdb, 2, 1, 0, 0), "lock *(u64 *)(r2 +0) += r1");
        assert_eq!(text(0xdc, 2, 0, 0, 16), "r2 = be16 r2");
        let lddw = [
            Insn::new(0x18, 4, 0, 0, 0x05c3_d000),
            Insn::new(0, 0, 0, 0, 0xffff_c900_u32 as i32),
        ];
        assert_eq!(insn_text(&lddw, 0).unwrap(), "r4 = 0xffffc90005c3d000");
        assert_eq!(insn_slots(&lddw, 0), 2);
    }

    #[test]
    fn other_kinds_follow_the_kernels_formats() {
        assert_eq!(text(0x04, 1, 0, 0, 5), "w1 += 5");
        assert_eq!(text(0xbc, 1, 2, 0, 0), "w1 = w2");
        assert_eq!(text(0x87, 3, 0, 0, 0), "r3 = -r3");
        assert_eq!(text(0xbf, 1, 2, 8, 0), "r1 = (s8)r2");
        assert_eq!(text(0x3f, 1, 2, 1, 0), "r1 s/= r2");
        assert_eq!(text(0xd7, 1, 0, 0, 32), "r1 = bswap32 r1");
        assert_eq!(text(0xd4, 1, 0, 0, 64), "r1 = le64 r1");
        assert_eq!(text(0x91, 1, 2, -2, 0), "r1 = *(s8 *)(r2 -2)");
        assert_eq!(text(0x62, 10, 0, -4, 0), "*(u32 *)(r10 -4) = 0");
        assert_eq!(text(0x50, 0, 1, 0, 14), "r0 = *(u8 *)skb[r1 + 14]");
        assert_eq!(text(0x16, 1, 0, 2, -1), "if w1 == 0xffffffff goto pc+2");
        assert_eq!(text(0x06, 0, 0, 0, 300), "gotol pc+300");
        assert_eq!(text(0x85, 0, 1, 0, -5), "call pc-5");
        assert_eq!(text(0x85, 0, 0, 0, 100_000), "call unknown#100000");
        assert_eq!(
            text(0xdb, 2, 1, 0, 0x01),
            "r1 = atomic64_fetch_add((u64 *)(r2 +0), r1)"
        );
        assert_eq!(
            text(0xc3, 2, 1, 4, 0x51),
            "w1 = atomic_fetch_and((u32 *)(r2 +4), w1)"
        );
        assert_eq!(
            text(0xdb, 2, 1, 0, 0xe1),
            "r1 = atomic64_xchg((u64 *)(r2 +0), r1)"
        );
        assert_eq!(
            text(0xdb, 2, 1, 0, 0xf1),
            "r0 = atomic64_cmpxchg((u64 *)(r2 +0), r0, r1)"
        );
        assert_eq!(text(0xc3, 2, 1, 0, 0x40), "lock *(u32 *)(r2 +0) |= r1");
        let map = [Insn::new(0x18, 1, 1, 0, 7), Insn::new(0, 0, 0, 0, 0)];
        assert_eq!(insn_text(&map, 0).unwrap(), "r1 = map[fd:7]");
    }
}
