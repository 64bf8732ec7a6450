//! `/proc/config.gz`, the kernel configuration `.kconfig` externs are read from when
//! `/boot` has none: a gzip member (RFC 1952) whose DEFLATE data `miniz_oxide` (pure
//! Rust, no zlib) decodes. The header and trailer are checked here: a field cut off is
//! an error, never read as a default, and the CRC-32 and length in the trailer must
//! match what was decoded. Output is capped, so a hostile stream cannot exhaust memory.

use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_with_limit};

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

/// gzip header flags (RFC 1952 §2.3.1).
const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;

/// Decodes raw DEFLATE data (RFC 1951), producing at most `cap` bytes.
///
/// # Errors
/// Malformed or truncated data, output beyond `cap`.
pub fn inflate(data: &[u8], cap: usize) -> Result<Vec<u8>, InflateError> {
    decompress_to_vec_with_limit(data, cap).map_err(|e| match e.status {
        TINFLStatus::HasMoreOutput => InflateError::TooLarge(cap),
        TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
            InflateError::Corrupt("unexpected end of data")
        }
        _ => InflateError::Corrupt("malformed deflate stream"),
    })
}

/// Decodes a gzip file (one member), producing at most `cap` bytes.
///
/// # Errors
/// A bad or cut-off header, malformed data, a trailer that does not match, output
/// beyond `cap`.
pub fn gunzip(data: &[u8], cap: usize) -> Result<Vec<u8>, InflateError> {
    let cut = InflateError::NotGzip("header cut off");
    let header = data.get(..10).ok_or(InflateError::NotGzip("bad magic"))?;
    if header[..2] != [0x1f, 0x8b] {
        return Err(InflateError::NotGzip("bad magic"));
    }
    if header[2] != 8 {
        return Err(InflateError::NotGzip("compression method is not deflate"));
    }
    let flags = header[3];
    let mut p = 10;
    if flags & FEXTRA != 0 {
        let len = data.get(p..p + 2).ok_or(cut.clone())?;
        p += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            // A zero-terminated file name or comment.
            let end = data
                .get(p..)
                .and_then(|d| d.iter().position(|&b| b == 0))
                .ok_or(cut.clone())?;
            p += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        p += 2;
    }
    // The DEFLATE data, then CRC-32 and length of the output (little-endian).
    let body = data.get(p..).ok_or(cut)?;
    let Some(trailer_at) = body.len().checked_sub(8) else {
        return Err(InflateError::Corrupt("no room for the gzip trailer"));
    };
    let (deflate, trailer) = body.split_at(trailer_at);
    let out = inflate(deflate, cap)?;
    let word = |at: usize| {
        u32::from_le_bytes([
            trailer[at],
            trailer[at + 1],
            trailer[at + 2],
            trailer[at + 3],
        ])
    };
    if word(4) != out.len() as u32 {
        return Err(InflateError::Corrupt("length in the trailer differs"));
    }
    if word(0) != crc32(&out) {
        return Err(InflateError::Corrupt("CRC-32 in the trailer differs"));
    }
    Ok(out)
}

/// CRC-32 (IEEE 802.3, reflected, as gzip uses), bit by bit: a kernel config is tens
/// of kilobytes, read once.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & 0u32.wrapping_sub(crc & 1));
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf 'hello hello hello hello\n' | gzip -9 -n` (fixed Huffman codes).
    const HELLO: [u8; 29] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0x57, 0xc8, 0x40, 0x27, 0xb9, 0x00, 0x00, 0x88, 0x59, 0x0b, 0x18, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn inflates_gzip_and_stored_blocks() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let gz = &HELLO[..];
        assert_eq!(gunzip(gz, 1 << 20).unwrap(), b"hello hello hello hello\n");
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
    fn corrupt_cut_and_oversized_streams_are_errors() {
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
        let gz = &HELLO[..];
        // Every cut is an error, never a panic or a short result.
        for cut in 0..gz.len() {
            assert!(gunzip(&gz[..cut], 100).is_err(), "cut at {cut}");
        }
        // A wrong CRC or length in the trailer.
        let mut bad = gz.to_vec();
        bad[21] ^= 1;
        assert_eq!(
            gunzip(&bad, 100),
            Err(InflateError::Corrupt("CRC-32 in the trailer differs"))
        );
        let mut bad = gz.to_vec();
        bad[25] ^= 1;
        assert_eq!(
            gunzip(&bad, 100),
            Err(InflateError::Corrupt("length in the trailer differs"))
        );
        // FEXTRA set, its length cut off.
        let mut extra = gz[..10].to_vec();
        extra[3] = FEXTRA;
        extra.push(5);
        assert_eq!(
            gunzip(&extra, 100),
            Err(InflateError::NotGzip("header cut off"))
        );
    }
}
