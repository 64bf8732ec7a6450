//! USDT argument specs: the text a probe's note carries (`-4@%edi 8@-16(%rbp)` on
//! x86_64, `-4@x1 8@[sp, 16]` on arm64), parsed into where each argument is when the
//! probe fires, as libbpf's `parse_usdt_arg` reads it. Each argument is `SIZE@LOCATION`:
//! a negative size is a signed value; the location is a constant, a register, memory
//! at a register plus an offset, or (x86) memory at base + index × scale + offset.
//! Registers become offsets into the `pt_regs` the uprobe program gets.

/// The machine a probe's binary is built for: its argument syntax and registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// x86_64 (AT&T syntax: `%rax`, `$5`, `-8(%rbp)`).
    X86_64,
    /// arm64 (`x0`, `5`, `[sp, 16]`).
    Aarch64,
}

impl Arch {
    /// The machine this process runs on, if USDT is supported there.
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// The machine of an ELF `e_machine`.
    pub fn from_elf_machine(machine: object::elf::Machine) -> Option<Arch> {
        if machine == object::elf::EM_X86_64 {
            Some(Arch::X86_64)
        } else if machine == object::elf::EM_AARCH64 {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// The offset in the kernel's `pt_regs` (x86_64 `struct pt_regs`, arm64
    /// `struct user_pt_regs`) of register `name`, sub-registers included (`eax`, `al`
    /// and `rax` are one slot; the size of the argument truncates the value).
    pub fn pt_regs_offset(self, name: &str) -> Option<u16> {
        match self {
            Arch::X86_64 => X86_REGS
                .iter()
                .find(|(names, _)| names.contains(&name))
                .map(|(_, off)| *off),
            Arch::Aarch64 => {
                if name == "sp" {
                    return Some(31 * 8);
                }
                // `x0`..`x30`; oxbpf also takes `w0`..`w30` (the same register's low
                // half, which GCC prints for 32-bit operands), where libbpf refuses them.
                let n: u16 = name
                    .strip_prefix('x')
                    .or_else(|| name.strip_prefix('w'))?
                    .parse()
                    .ok()?;
                (n < 31).then_some(n * 8)
            }
        }
    }
}

/// x86_64 register names and their offset in `struct pt_regs` (r15, r14, r13, r12,
/// bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss).
const X86_REGS: [(&[&str], u16); 17] = [
    (&["r15", "r15d", "r15w", "r15b"], 0),
    (&["r14", "r14d", "r14w", "r14b"], 8),
    (&["r13", "r13d", "r13w", "r13b"], 16),
    (&["r12", "r12d", "r12w", "r12b"], 24),
    (&["rbp", "ebp", "bp", "bpl"], 32),
    (&["rbx", "ebx", "bx", "bl"], 40),
    (&["r11", "r11d", "r11w", "r11b"], 48),
    (&["r10", "r10d", "r10w", "r10b"], 56),
    (&["r9", "r9d", "r9w", "r9b"], 64),
    (&["r8", "r8d", "r8w", "r8b"], 72),
    (&["rax", "eax", "ax", "al"], 80),
    (&["rcx", "ecx", "cx", "cl"], 88),
    (&["rdx", "edx", "dx", "dl"], 96),
    (&["rsi", "esi", "si", "sil"], 104),
    (&["rdi", "edi", "di", "dil"], 112),
    (&["rip", "eip"], 128),
    (&["rsp", "esp", "sp", "spl"], 152),
];

/// Where an argument's value is when the probe fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgLocation {
    /// A constant.
    Const(i64),
    /// A register (its `pt_regs` offset).
    Reg(u16),
    /// Memory at a register plus an offset.
    Deref {
        /// The register's `pt_regs` offset.
        reg: u16,
        /// Added to the register's value.
        offset: i64,
    },
    /// Memory at base + index << scale_shift + offset (x86 scale-index-base).
    Sib {
        /// The base register's `pt_regs` offset.
        base: u16,
        /// The index register's `pt_regs` offset.
        index: u16,
        /// log2 of the scale (1, 2, 4 or 8).
        scale_shift: u8,
        /// Added to the address.
        offset: i64,
    },
}

/// One argument of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arg {
    /// Where it is.
    pub location: ArgLocation,
    /// Its size in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// Whether it is sign-extended to 64 bits.
    pub signed: bool,
}

/// At most this many arguments (`BPF_USDT_MAX_ARG_CNT` of libbpf's `usdt.bpf.h`).
pub const MAX_ARGS: usize = 12;

/// Parses a probe's argument text for `arch`.
///
/// # Errors
/// A sentence naming the argument (by number and text) that cannot be read, a register
/// that does not exist, a size other than 1, 2, 4 or 8, or more than [`MAX_ARGS`].
pub fn parse_args(arch: Arch, text: &str) -> Result<Vec<Arg>, String> {
    let mut args = Vec::new();
    let mut cur = Cursor { s: text, at: 0 };
    loop {
        cur.skip_ws();
        if cur.rest().is_empty() {
            return Ok(args);
        }
        let start = cur.at;
        let arg = parse_one(arch, &mut cur).map_err(|why| {
            let shown = text[start..].split_whitespace().next().unwrap_or("");
            format!("argument #{} `{shown}`: {why}", args.len())
        })?;
        if args.len() == MAX_ARGS {
            return Err(format!(
                "more than {MAX_ARGS} arguments (libbpf's usdt.bpf.h holds {MAX_ARGS})"
            ));
        }
        args.push(arg);
    }
}

fn parse_one(arch: Arch, cur: &mut Cursor<'_>) -> Result<Arg, String> {
    let size = cur.int().ok_or("no size before `@`")?;
    cur.skip_ws();
    if !cur.eat('@') {
        return Err("expected `SIZE@LOCATION`".into());
    }
    cur.skip_ws();
    let location = match arch {
        Arch::X86_64 => x86_location(cur)?,
        Arch::Aarch64 => arm64_location(cur)?,
    };
    let signed = size < 0;
    let size = match size.unsigned_abs() {
        s @ (1 | 2 | 4 | 8) => s as u8,
        s => return Err(format!("size {s} (1, 2, 4 or 8 bytes)")),
    };
    Ok(Arg {
        location,
        size,
        signed,
    })
}

/// `$N`, `%REG`, `[OFF](%REG)`, `[OFF](%BASE,%INDEX[,SCALE])`.
fn x86_location(cur: &mut Cursor<'_>) -> Result<ArgLocation, String> {
    let reg = |cur: &mut Cursor<'_>| -> Result<u16, String> {
        cur.skip_ws();
        if !cur.eat('%') {
            return Err("expected a register (`%name`)".into());
        }
        let name = cur.word();
        Arch::X86_64
            .pt_regs_offset(name)
            .ok_or_else(|| format!("unknown register `%{name}`"))
    };
    if cur.eat('$') {
        return Ok(ArgLocation::Const(
            cur.int().ok_or("expected a constant after `$`")?,
        ));
    }
    if cur.peek() == Some('%') {
        return Ok(ArgLocation::Reg(reg(cur)?));
    }
    let offset = cur.int().unwrap_or(0);
    cur.skip_ws();
    if !cur.eat('(') {
        return Err("expected `$CONST`, `%REG` or `OFFSET(%REG)`".into());
    }
    let base = reg(cur)?;
    cur.skip_ws();
    let location = if cur.eat(',') {
        let index = reg(cur)?;
        cur.skip_ws();
        let scale = if cur.eat(',') {
            cur.skip_ws();
            cur.int().ok_or("expected a scale")?
        } else {
            1
        };
        let scale_shift = match scale {
            1 => 0,
            2 => 1,
            4 => 2,
            8 => 3,
            s => return Err(format!("scale {s} (1, 2, 4 or 8)")),
        };
        ArgLocation::Sib {
            base,
            index,
            scale_shift,
            offset,
        }
    } else {
        ArgLocation::Deref { reg: base, offset }
    };
    cur.skip_ws();
    if !cur.eat(')') {
        return Err("expected `)`".into());
    }
    Ok(location)
}

/// `N`, `REG`, `[REG]`, `[REG, OFF]`.
fn arm64_location(cur: &mut Cursor<'_>) -> Result<ArgLocation, String> {
    let reg = |cur: &mut Cursor<'_>| -> Result<u16, String> {
        cur.skip_ws();
        let name = cur.word();
        Arch::Aarch64
            .pt_regs_offset(name)
            .ok_or_else(|| format!("unknown register `{name}`"))
    };
    if cur.eat('[') {
        let r = reg(cur)?;
        cur.skip_ws();
        let offset = if cur.eat(',') {
            cur.skip_ws();
            cur.int().ok_or("expected an offset after `,`")?
        } else {
            0
        };
        cur.skip_ws();
        if !cur.eat(']') {
            return Err("expected `]`".into());
        }
        return Ok(ArgLocation::Deref { reg: r, offset });
    }
    if let Some(c) = cur.int() {
        return Ok(ArgLocation::Const(c));
    }
    Ok(ArgLocation::Reg(reg(cur)?))
}

/// A position in the argument text.
struct Cursor<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        let yes = self.peek() == Some(c);
        if yes {
            self.at += c.len_utf8();
        }
        yes
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    /// A register name: letters and digits.
    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let n = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        self.at += n;
        &rest[..n]
    }

    /// A decimal integer with an optional sign (as `%ld` reads it).
    fn int(&mut self) -> Option<i64> {
        let rest = self.rest();
        let sign = usize::from(rest.starts_with(['-', '+']));
        let digits = rest[sign..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - sign);
        if digits == 0 {
            return None;
        }
        let v = rest[..sign + digits].parse().ok()?;
        self.at += sign + digits;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::ArgLocation::{Const, Deref, Reg, Sib};
    use super::*;

    fn arg(location: ArgLocation, size: u8, signed: bool) -> Arg {
        Arg {
            location,
            size,
            signed,
        }
    }

    #[test]
    fn x86_64_arguments_read_as_libbpf_reads_them() {
        let args = parse_args(
            Arch::X86_64,
            "-4@%esi -4@-24(%rbp) -4@%ecx 2@%ax 8@%rdx 1@$71 8@(%rsp) -1@-96(%rbp,%rax,8) 4@(%r8,%r9)",
        )
        .unwrap();
        assert_eq!(
            args,
            [
                arg(Reg(104), 4, true),
                arg(
                    Deref {
                        reg: 32,
                        offset: -24
                    },
                    4,
                    true
                ),
                arg(Reg(88), 4, true),
                arg(Reg(80), 2, false),
                arg(Reg(96), 8, false),
                arg(Const(71), 1, false),
                arg(
                    Deref {
                        reg: 152,
                        offset: 0
                    },
                    8,
                    false
                ),
                arg(
                    Sib {
                        base: 32,
                        index: 80,
                        scale_shift: 3,
                        offset: -96
                    },
                    1,
                    true
                ),
                arg(
                    Sib {
                        base: 72,
                        index: 64,
                        scale_shift: 0,
                        offset: 0
                    },
                    4,
                    false
                ),
            ]
        );
        assert_eq!(parse_args(Arch::X86_64, "").unwrap(), []);
        assert_eq!(
            parse_args(Arch::X86_64, "  8@%rip ").unwrap(),
            [arg(Reg(128), 8, false)]
        );
    }

    #[test]
    fn arm64_arguments_read_as_libbpf_reads_them() {
        let args = parse_args(Arch::Aarch64, "-4@x1 8@[sp, 96] 8@[x29] -8@5 4@w3 8@sp").unwrap();
        assert_eq!(
            args,
            [
                arg(Reg(8), 4, true),
                arg(
                    Deref {
                        reg: 248,
                        offset: 96
                    },
                    8,
                    false
                ),
                arg(
                    Deref {
                        reg: 232,
                        offset: 0
                    },
                    8,
                    false
                ),
                arg(Const(5), 8, true),
                arg(Reg(24), 4, false),
                arg(Reg(248), 8, false),
            ]
        );
    }

    #[test]
    fn any_text_is_read_or_refused_without_a_panic() {
        // Every prefix of a mix of valid specs, separators, signs and non-ASCII text, for
        // both machines: an answer each time, never a panic.
        let text = "-4@%edi 8@-16(%rbp) 1@$7 -1@-96(%rbp,%rax,8) 8@[sp, 96] 4@x1 é@%€ 8@(%r8, 2@$-";
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for (i, _) in text.char_indices() {
                let _ = parse_args(arch, &text[..i]);
                let _ = parse_args(arch, &text[i..]);
            }
        }
    }

    #[test]
    fn arguments_that_cannot_be_read_are_refused_by_number_and_text() {
        let e = |arch, s| parse_args(arch, s).unwrap_err();
        assert_eq!(
            e(Arch::X86_64, "4@%eax -4@foo+8(%rip)"),
            "argument #1 `-4@foo+8(%rip)`: expected `$CONST`, `%REG` or `OFFSET(%REG)`"
        );
        assert_eq!(
            e(Arch::X86_64, "4@%xmm0"),
            "argument #0 `4@%xmm0`: unknown register `%xmm0`"
        );
        assert_eq!(
            e(Arch::X86_64, "3@%eax"),
            "argument #0 `3@%eax`: size 3 (1, 2, 4 or 8 bytes)"
        );
        assert_eq!(
            e(Arch::X86_64, "4@(%rax,%rbx,3)"),
            "argument #0 `4@(%rax,%rbx,3)`: scale 3 (1, 2, 4 or 8)"
        );
        assert_eq!(
            e(Arch::Aarch64, "4@x31"),
            "argument #0 `4@x31`: unknown register `x31`"
        );
        assert_eq!(
            e(Arch::Aarch64, "4@[sp, 8"),
            "argument #0 `4@[sp,`: expected `]`"
        );
        assert_eq!(
            e(Arch::X86_64, "%eax"),
            "argument #0 `%eax`: no size before `@`"
        );
        let thirteen = vec!["8@%rax"; 13].join(" ");
        assert!(e(Arch::X86_64, &thirteen).starts_with("more than 12 arguments"));
    }
}
