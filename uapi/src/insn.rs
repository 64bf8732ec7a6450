//! `struct bpf_insn`: one 8-byte eBPF instruction, and the opcode fields the loader
//! needs to recognise relocatable instructions.

use std::fmt;

/// The byte order of a BPF object. `bpfel` objects are what x86-64 and arm64 kernels
/// run; `bpfeb` objects exist for s390x and other big-endian machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// `--target=bpfel`
    Little,
    /// `--target=bpfeb`
    Big,
}

impl Endian {
    /// The byte order of the machine this code runs on, which is what the kernel expects.
    pub const NATIVE: Endian = if cfg!(target_endian = "big") {
        Endian::Big
    } else {
        Endian::Little
    };

    /// Reads a `u16` in this byte order.
    pub fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }

    /// Reads a `u32` in this byte order.
    pub fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }

    /// Reads a `u64` in this byte order.
    pub fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        }
    }
}

impl fmt::Display for Endian {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        })
    }
}

/// Instruction classes (the low 3 bits of `code`).
pub mod class {
    /// Legacy loads (LD_ABS/LD_IND) and 64-bit immediate loads.
    pub const LD: u8 = 0x00;
    /// Load from memory into a register.
    pub const LDX: u8 = 0x01;
    /// Store an immediate to memory.
    pub const ST: u8 = 0x02;
    /// Store a register to memory.
    pub const STX: u8 = 0x03;
    /// 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// 64-bit jumps, calls and exit.
    pub const JMP: u8 = 0x05;
    /// 32-bit jumps.
    pub const JMP32: u8 = 0x06;
    /// 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;
}

/// `BPF_LD | BPF_IMM | BPF_DW`: the 16-byte load of a 64-bit immediate (two slots).
pub const LD_IMM64: u8 = 0x18;
/// `BPF_JMP | BPF_CALL`: helper, BPF-to-BPF or kfunc call.
pub const CALL: u8 = 0x85;
/// `BPF_JMP | BPF_EXIT`.
pub const EXIT: u8 = 0x95;

/// `struct bpf_insn`, in the running machine's layout: what `BPF_PROG_LOAD` takes.
///
/// `regs` packs `dst_reg:4` and `src_reg:4` as C bitfields do, so their nibble order
/// follows the machine's byte order; use [`Insn::dst`] and [`Insn::src`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Insn {
    /// Opcode: class, size/source and operation.
    pub code: u8,
    regs: u8,
    /// Signed offset (jumps, memory accesses).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

const _: () = assert!(std::mem::size_of::<Insn>() == 8);

impl Insn {
    /// Size of one instruction slot in bytes.
    pub const SIZE: usize = 8;

    /// Builds an instruction from its fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: pack_regs(Endian::NATIVE, dst, src),
            off,
            imm,
        }
    }

    /// Decodes one instruction stored in `endian` byte order (an object's own order).
    pub fn decode(b: [u8; 8], endian: Endian) -> Insn {
        let (dst, src) = match endian {
            Endian::Little => (b[1] & 0x0f, b[1] >> 4),
            Endian::Big => (b[1] >> 4, b[1] & 0x0f),
        };
        Insn::new(
            b[0],
            dst,
            src,
            endian.u16([b[2], b[3]]) as i16,
            endian.u32([b[4], b[5], b[6], b[7]]) as i32,
        )
    }

    /// Encodes the instruction in `endian` byte order.
    pub fn encode(&self, endian: Endian) -> [u8; 8] {
        let regs = pack_regs(endian, self.dst(), self.src());
        let (off, imm) = match endian {
            Endian::Little => (self.off.to_le_bytes(), self.imm.to_le_bytes()),
            Endian::Big => (self.off.to_be_bytes(), self.imm.to_be_bytes()),
        };
        [
            self.code, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }

    /// Destination register.
    pub const fn dst(&self) -> u8 {
        match Endian::NATIVE {
            Endian::Little => self.regs & 0x0f,
            Endian::Big => self.regs >> 4,
        }
    }

    /// Source register (or a `BPF_PSEUDO_*` marker on ld_imm64 and calls).
    pub const fn src(&self) -> u8 {
        match Endian::NATIVE {
            Endian::Little => self.regs >> 4,
            Endian::Big => self.regs & 0x0f,
        }
    }

    /// Sets the source register / pseudo marker.
    pub fn set_src(&mut self, src: u8) {
        self.regs = pack_regs(Endian::NATIVE, self.dst(), src);
    }

    /// The instruction class (`BPF_LD`, `BPF_JMP`, ...).
    pub const fn class(&self) -> u8 {
        self.code & 0x07
    }

    /// Whether this is the first slot of a 16-byte `ld_imm64`.
    pub const fn is_ld_imm64(&self) -> bool {
        self.code == LD_IMM64
    }

    /// Whether this is a `call` (helper, subprogram or kfunc).
    pub const fn is_call(&self) -> bool {
        self.code == CALL
    }
}

const fn pack_regs(endian: Endian, dst: u8, src: u8) -> u8 {
    match endian {
        Endian::Little => (src << 4) | (dst & 0x0f),
        Endian::Big => (dst << 4) | (src & 0x0f),
    }
}

impl fmt::Debug for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Insn {{ code: {:#04x}, dst: r{}, src: r{}, off: {}, imm: {} }}",
            self.code,
            self.dst(),
            self.src(),
            self.off,
            self.imm
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_byte_orders_to_the_same_instruction() {
        // r2 = *(u32 *)(r1 + 4), as bpfel and bpfeb encode it.
        let le = [0x61, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00];
        let be = [0x61, 0x21, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00];
        let a = Insn::decode(le, Endian::Little);
        let b = Insn::decode(be, Endian::Big);
        assert_eq!(a, b);
        assert_eq!((a.dst(), a.src(), a.off), (2, 1, 4));
        assert_eq!(a.encode(Endian::Little), le);
        assert_eq!(a.encode(Endian::Big), be);
    }

    #[test]
    fn call_with_pseudo_src_and_negative_imm() {
        let i = Insn::decode([0x85, 0x10, 0, 0, 0xff, 0xff, 0xff, 0xff], Endian::Little);
        assert!(i.is_call());
        assert_eq!((i.src(), i.imm), (1, -1));
    }
}
