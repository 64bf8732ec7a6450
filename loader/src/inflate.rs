//! A small gzip/DEFLATE decoder (RFC 1952, RFC 1951), for `/proc/config.gz` — the
//! kernel configuration `.kconfig` externs are read from — without zlib, so the static
//! binary stays free of C libraries.
//!
//! It decodes Huffman codes one bit at a time from canonical code-length tables, the
//! simplest correct method; a kernel config is tens of kilobytes, so speed does not
//! matter. Output is capped, so a hostile stream cannot exhaust memory.

/// Why a stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InflateError {
    /// Not a gzip file, or an unsupported gzip variant.
    #[error("not a gzip stream: {0}")]
    NotGzip(&'static str),
    /// The compressed data is malformed or ends early.
    #[error("corrupt deflate data: {0}")]
    Corrupt(&'static str),
    /// The output would exceed the cap.
    #[error("decompressed data exceeds {0} bytes")]
    TooLarge(usize),
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    bit: u32,
    bits: u32,
}

impl Bits<'_> {
    fn need(&mut self, n: u32) -> Result<u32, InflateError> {
        while self.bits < n {
            let b = *self
                .data
                .get(self.pos)
                .ok_or(InflateError::Corrupt("unexpected end of data"))?;
            self.pos += 1;
            self.bit |= u32::from(b) << self.bits;
            self.bits += 8;
        }
        let v = self.bit & ((1u32 << n) - 1);
        self.bit >>= n;
        self.bits -= n;
        Ok(v)
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code
/// order.
struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Huffman, InflateError> {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[l as usize] += 1;
        }
        // An over-subscribed set of lengths is not a prefix code.
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return Err(InflateError::Corrupt("over-subscribed Huffman code"));
            }
        }
        let mut offs = [0u16; 16];
        for len in 1..15 {
            offs[len + 1] = offs[len] + count[len];
        }
        let mut symbol = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbol[offs[l as usize] as usize] = sym as u16;
                offs[l as usize] += 1;
            }
        }
        Ok(Huffman { count, symbol })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, InflateError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.need(1)? as i32;
            let count = i32::from(self.count[len]);
            if code - count < first {
                return self
                    .symbol
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or(InflateError::Corrupt("bad code"));
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(InflateError::Corrupt("incomplete Huffman code"))
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

fn codes(
    bits: &mut Bits<'_>,
    out: &mut Vec<u8>,
    lit: &Huffman,
    dist: &Huffman,
    cap: usize,
) -> Result<(), InflateError> {
    loop {
        let sym = lit.decode(bits)?;
        match sym {
            0..=255 => {
                if out.len() >= cap {
                    return Err(InflateError::TooLarge(cap));
                }
                out.push(sym as u8);
            }
            256 => return Ok(()),
            _ => {
                let i = usize::from(sym - 257);
                let len = usize::from(
                    *LEN_BASE
                        .get(i)
                        .ok_or(InflateError::Corrupt("bad length symbol"))?,
                ) + bits.need(u32::from(LEN_EXTRA[i]))? as usize;
                let d = usize::from(dist.decode(bits)?);
                let distance = usize::from(
                    *DIST_BASE
                        .get(d)
                        .ok_or(InflateError::Corrupt("bad distance symbol"))?,
                ) + bits.need(u32::from(DIST_EXTRA[d]))? as usize;
                if distance > out.len() {
                    return Err(InflateError::Corrupt("distance too far back"));
                }
                if out.len() + len > cap {
                    return Err(InflateError::TooLarge(cap));
                }
                let start = out.len() - distance;
                for k in 0..len {
                    out.push(out[start + k]);
                }
            }
        }
    }
}

fn fixed_tables() -> Result<(Huffman, Huffman), InflateError> {
    let mut lengths = [0u8; 288];
    lengths[..144].fill(8);
    lengths[144..256].fill(9);
    lengths[256..280].fill(7);
    lengths[280..].fill(8);
    Ok((Huffman::new(&lengths)?, Huffman::new(&[5u8; 30])?))
}

fn dynamic_tables(bits: &mut Bits<'_>) -> Result<(Huffman, Huffman), InflateError> {
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let nlen = bits.need(5)? as usize + 257;
    let ndist = bits.need(5)? as usize + 1;
    let ncode = bits.need(4)? as usize + 4;
    if nlen > 286 || ndist > 30 {
        return Err(InflateError::Corrupt("bad code counts"));
    }
    let mut lengths = [0u8; 320];
    for &o in ORDER.iter().take(ncode) {
        lengths[o] = bits.need(3)? as u8;
    }
    let lencode = Huffman::new(&lengths[..19])?;
    let mut lengths = [0u8; 320];
    let mut i = 0;
    while i < nlen + ndist {
        let sym = lencode.decode(bits)?;
        let (value, repeat) = match sym {
            0..=15 => (sym as u8, 1),
            16 => (
                *lengths
                    .get(i.wrapping_sub(1))
                    .filter(|_| i > 0)
                    .ok_or(InflateError::Corrupt("repeat with no previous length"))?,
                3 + bits.need(2)? as usize,
            ),
            17 => (0, 3 + bits.need(3)? as usize),
            _ => (0, 11 + bits.need(7)? as usize),
        };
        if i + repeat > nlen + ndist {
            return Err(InflateError::Corrupt("too many lengths"));
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        return Err(InflateError::Corrupt("no end-of-block code"));
    }
    Ok((
        Huffman::new(&lengths[..nlen])?,
        Huffman::new(&lengths[nlen..nlen + ndist])?,
    ))
}

/// Decodes a raw DEFLATE stream, producing at most `cap` bytes.
///
/// # Errors
/// Malformed data, or output beyond `cap`.
pub fn inflate(data: &[u8], cap: usize) -> Result<Vec<u8>, InflateError> {
    let mut bits = Bits {
        data,
        pos: 0,
        bit: 0,
        bits: 0,
    };
    let mut out = Vec::new();
    loop {
        let last = bits.need(1)? == 1;
        match bits.need(2)? {
            0 => {
                // Stored: byte-aligned LEN, NLEN, then LEN raw bytes.
                bits.bit = 0;
                bits.bits = 0;
                let p = bits.pos;
                let hdr = data
                    .get(p..p + 4)
                    .ok_or(InflateError::Corrupt("stored block header cut off"))?;
                let len = usize::from(u16::from_le_bytes([hdr[0], hdr[1]]));
                if u16::from_le_bytes([hdr[2], hdr[3]]) != !(len as u16) {
                    return Err(InflateError::Corrupt("stored block length check"));
                }
                let body = data
                    .get(p + 4..p + 4 + len)
                    .ok_or(InflateError::Corrupt("stored block cut off"))?;
                if out.len() + len > cap {
                    return Err(InflateError::TooLarge(cap));
                }
                out.extend_from_slice(body);
                bits.pos = p + 4 + len;
            }
            1 => {
                let (lit, dist) = fixed_tables()?;
                codes(&mut bits, &mut out, &lit, &dist, cap)?;
            }
            2 => {
                let (lit, dist) = dynamic_tables(&mut bits)?;
                codes(&mut bits, &mut out, &lit, &dist, cap)?;
            }
            _ => return Err(InflateError::Corrupt("reserved block type")),
        }
        if last {
            return Ok(out);
        }
    }
}

/// Decodes a gzip file (one member), producing at most `cap` bytes.
///
/// # Errors
/// A bad header, malformed data, output beyond `cap`.
pub fn gunzip(data: &[u8], cap: usize) -> Result<Vec<u8>, InflateError> {
    if data.len() < 18 || data[0] != 0x1f || data[1] != 0x8b {
        return Err(InflateError::NotGzip("bad magic"));
    }
    if data[2] != 8 {
        return Err(InflateError::NotGzip("compression method is not deflate"));
    }
    let flags = data[3];
    let mut p = 10;
    if flags & 4 != 0 {
        let xlen = usize::from(u16::from_le_bytes([
            *data.get(p).unwrap_or(&0),
            *data.get(p + 1).unwrap_or(&0),
        ]));
        p += 2 + xlen;
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            // Zero-terminated file name or comment.
            let end = data
                .get(p..)
                .and_then(|d| d.iter().position(|&b| b == 0))
                .ok_or(InflateError::NotGzip("header cut off"))?;
            p += end + 1;
        }
    }
    if flags & 2 != 0 {
        p += 2;
    }
    inflate(
        data.get(p..)
            .ok_or(InflateError::NotGzip("header cut off"))?,
        cap,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflates_stored_fixed_and_dynamic_blocks() {
        // `printf 'hello hello hello hello\n' | gzip -9 -n` (fixed Huffman codes).
        let fixed = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9,
            0xc9, 0x57, 0xc8, 0x40, 0x27, 0xb9, 0x00, 0x00, 0x88, 0x59, 0x0b, 0x18, 0x00, 0x00,
            0x00,
        ];
        assert_eq!(
            gunzip(&fixed, 1 << 20).unwrap(),
            b"hello hello hello hello\n"
        );
        // A stored block: BFINAL=1, BTYPE=00, LEN=3, NLEN=!3, "abc".
        let stored = [0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c'];
        assert_eq!(inflate(&stored, 100).unwrap(), b"abc");
    }

    #[test]
    fn the_running_kernels_config_gz_inflates() {
        let Ok(gz) = std::fs::read("/proc/config.gz") else {
            return;
        };
        let text = gunzip(&gz, 16 << 20).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("CONFIG_BPF=y") || text.contains("CONFIG_BPF_SYSCALL"),
            "{}",
            &text[..200.min(text.len())]
        );
    }

    #[test]
    fn corrupt_and_oversized_streams_are_errors() {
        assert_eq!(
            gunzip(b"not gzip at all, not at all", 100),
            Err(InflateError::NotGzip("bad magic"))
        );
        assert!(matches!(
            inflate(&[0x07], 100),
            Err(InflateError::Corrupt(_))
        ));
        let stored = [0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c'];
        assert_eq!(inflate(&stored, 2), Err(InflateError::TooLarge(2)));
        for cut in 0..8 {
            let _ = inflate(&stored[..cut], 100);
        }
    }
}
