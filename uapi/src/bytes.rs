//! One checked reader for the fixed-size integers of on-disk and on-wire formats: BTF,
//! `.BTF.ext`, ELF section contents and netlink attributes all read through it. A read
//! past the end is a [`ShortRead`] naming the offset and what was wanted, never a zero
//! or a panic (DESIGN: "nothing from a file or the kernel is read with a silent
//! default").

use std::fmt;

use crate::Endian;

/// A read that does not fit the input: `wanted` bytes at `offset` of an input of `len`
/// bytes. Shows as "4 bytes (u32) wanted at offset 12 of a 14-byte input".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortRead {
    /// Where the read started, from the start of the input.
    pub offset: usize,
    /// How many bytes it needed.
    pub wanted: usize,
    /// What it was reading (`"u32"`, `"u16"`, `"bytes"`...).
    pub what: &'static str,
    /// The input's length.
    pub len: usize,
}

impl fmt::Display for ShortRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes ({}) wanted at offset {} of a {}-byte input",
            self.wanted, self.what, self.offset, self.len
        )
    }
}

impl std::error::Error for ShortRead {}

/// Bytes in a known byte order, read at offsets with bounds checks.
///
/// ```
/// use oxbpf_uapi::{Endian, bytes::Bytes};
/// let b = Bytes::new(&[1, 0, 0, 0, 2], Endian::Little);
/// assert_eq!(b.u32(0), Ok(1));
/// assert_eq!(b.u32(2).unwrap_err().offset, 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a> {
    data: &'a [u8],
    endian: Endian,
}

impl<'a> Bytes<'a> {
    /// Reads `data` in `endian`.
    pub fn new(data: &'a [u8], endian: Endian) -> Bytes<'a> {
        Bytes { data, endian }
    }

    /// Reads `data` in the byte order of the machine this runs on (netlink, `bpf()`
    /// attrs: what the kernel writes for its own CPU).
    pub fn native(data: &'a [u8]) -> Bytes<'a> {
        Bytes::new(data, Endian::NATIVE)
    }

    /// The whole input.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The input's length.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the input is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The byte order reads use.
    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// `len` bytes at `offset`.
    ///
    /// # Errors
    /// [`ShortRead`] when they do not all lie inside the input.
    pub fn slice(&self, offset: usize, len: usize) -> Result<&'a [u8], ShortRead> {
        self.get(offset, len, "bytes")
    }

    fn get(&self, offset: usize, len: usize, what: &'static str) -> Result<&'a [u8], ShortRead> {
        offset
            .checked_add(len)
            .and_then(|end| self.data.get(offset..end))
            .ok_or(ShortRead {
                offset,
                wanted: len,
                what,
                len: self.data.len(),
            })
    }

    fn array<const N: usize>(
        &self,
        offset: usize,
        what: &'static str,
    ) -> Result<[u8; N], ShortRead> {
        let s = self.get(offset, N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// The byte at `offset`.
    ///
    /// # Errors
    /// [`ShortRead`] past the end.
    pub fn u8(&self, offset: usize) -> Result<u8, ShortRead> {
        Ok(self.array::<1>(offset, "u8")?[0])
    }

    /// The `u16` at `offset`.
    ///
    /// # Errors
    /// [`ShortRead`] when it does not fit.
    pub fn u16(&self, offset: usize) -> Result<u16, ShortRead> {
        Ok(self.endian.u16(self.array(offset, "u16")?))
    }

    /// The `u32` at `offset`.
    ///
    /// # Errors
    /// [`ShortRead`] when it does not fit.
    pub fn u32(&self, offset: usize) -> Result<u32, ShortRead> {
        Ok(self.endian.u32(self.array(offset, "u32")?))
    }

    /// The `i32` at `offset`.
    ///
    /// # Errors
    /// [`ShortRead`] when it does not fit.
    pub fn i32(&self, offset: usize) -> Result<i32, ShortRead> {
        Ok(self.endian.u32(self.array(offset, "i32")?) as i32)
    }

    /// The `u64` at `offset`.
    ///
    /// # Errors
    /// [`ShortRead`] when it does not fit.
    pub fn u64(&self, offset: usize) -> Result<u64, ShortRead> {
        Ok(self.endian.u64(self.array(offset, "u64")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_both_byte_orders() {
        let d = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(Bytes::new(&d, Endian::Little).u32(0), Ok(0x0403_0201));
        assert_eq!(Bytes::new(&d, Endian::Big).u32(0), Ok(0x0102_0304));
        assert_eq!(Bytes::new(&d, Endian::Big).u16(6), Ok(0x0708));
        assert_eq!(
            Bytes::new(&d, Endian::Little).u64(0),
            Ok(0x0807_0605_0403_0201)
        );
        assert_eq!(Bytes::new(&d, Endian::Little).u8(7), Ok(8));
    }

    #[test]
    fn a_short_read_names_offset_and_size() {
        let b = Bytes::new(&[0; 6], Endian::Little);
        let e = b.u32(4).unwrap_err();
        assert_eq!(
            e,
            ShortRead {
                offset: 4,
                wanted: 4,
                what: "u32",
                len: 6
            }
        );
        assert_eq!(
            e.to_string(),
            "4 bytes (u32) wanted at offset 4 of a 6-byte input"
        );
        assert!(b.u8(6).is_err());
        assert!(b.u64(0).is_err());
        assert!(
            b.slice(usize::MAX, 2).is_err(),
            "no overflow on a huge offset"
        );
        assert_eq!(b.slice(6, 0), Ok(&[][..]));
    }
}
