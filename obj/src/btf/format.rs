//! Bytes read by type: what `oxbpf map dump` shows for a map with BTF, as bpftool's
//! formatted output does. Structs by member, bitfields extracted, enums by name, char
//! arrays as strings, pointers as addresses, unions with every reading.

use std::fmt;

use oxbpf_uapi::Endian;

use super::{Btf, BtfError, BtfType, Kind, Member, TypeId};

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A signed integer.
    Int(i128),
    /// An unsigned integer.
    Uint(u128),
    /// A `bool`.
    Bool(bool),
    /// A `char` that is not part of a string.
    Char(u8),
    /// A char array, up to its NUL.
    Str(String),
    /// An enumerator by name, or the number when no enumerator has it.
    Enum(String),
    /// A float or double.
    Float(f64),
    /// A pointer, as the address.
    Ptr(u64),
    /// An array.
    Array(Vec<Value>),
    /// A struct or union: members in order (a union lists each reading).
    Struct(Vec<(String, Value)>),
    /// Bytes of a type that has no readable form (or is cut short).
    Bytes(Vec<u8>),
}

const MAX_DEPTH: usize = 32;

/// Decodes `data` as type `id` of `btf`, read in `endian` order.
///
/// # Errors
/// A malformed type; data shorter than the type is shown as bytes, not an error.
pub fn decode(btf: &Btf, id: TypeId, data: &[u8], endian: Endian) -> Result<Value, BtfError> {
    decode_at(btf, id, data, endian, 0)
}

fn uint(data: &[u8], endian: Endian) -> u128 {
    let mut b = [0u8; 16];
    let n = data.len().min(16);
    match endian {
        Endian::Little => {
            b[..n].copy_from_slice(&data[..n]);
            u128::from_le_bytes(b)
        }
        Endian::Big => {
            b[16 - n..].copy_from_slice(&data[..n]);
            u128::from_be_bytes(b)
        }
    }
}

/// The size of a value of `t`: 0 for types without one (void, functions, forward
/// declarations), whose values show as their (empty) bytes.
fn value_size(btf: &Btf, t: &BtfType<'_>) -> Result<usize, BtfError> {
    match btf.size_of(t.id()) {
        Ok(size) => usize::try_from(size).map_err(|_| BtfError::SizeOverflow(t.id())),
        Err(BtfError::NoSize { .. }) => Ok(0),
        Err(e) => Err(e),
    }
}

fn decode_at(
    btf: &Btf,
    id: TypeId,
    data: &[u8],
    endian: Endian,
    depth: usize,
) -> Result<Value, BtfError> {
    if depth > MAX_DEPTH {
        return Ok(Value::Bytes(data.to_vec()));
    }
    let t = btf.skip_mods_and_typedefs(id)?;
    let size = value_size(btf, &t)?;
    let Some(bytes) = data.get(..size) else {
        return Ok(Value::Bytes(data.to_vec()));
    };
    let d = Decoder { btf, endian, depth };
    Ok(match t.kind() {
        Kind::Int => d.int(&t, bytes)?,
        Kind::Ptr => Value::Ptr(uint(bytes, endian) as u64),
        Kind::Enum | Kind::Enum64 => d.enumeration(&t, bytes)?,
        Kind::Float => match size {
            4 => Value::Float(f64::from(f32::from_bits(uint(bytes, endian) as u32))),
            8 => Value::Float(f64::from_bits(uint(bytes, endian) as u64)),
            _ => Value::Bytes(bytes.to_vec()),
        },
        Kind::Array => d.array(&t, bytes)?,
        Kind::Struct | Kind::Union => d.composite(&t, bytes)?,
        Kind::Datasec => d.datasec(&t, data)?,
        _ => Value::Bytes(bytes.to_vec()),
    })
}

/// What every step of [`decode_at`] needs: the BTF, the byte order, the depth so far.
struct Decoder<'a> {
    btf: &'a Btf,
    endian: Endian,
    depth: usize,
}

impl Decoder<'_> {
    fn int(&self, t: &BtfType<'_>, bytes: &[u8]) -> Result<Value, BtfError> {
        let (enc, _, bits) = t.int()?;
        let raw = uint(bytes, self.endian);
        let mask = if bits >= 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        let v = raw & mask;
        Ok(if enc & 4 != 0 {
            Value::Bool(v != 0)
        } else if enc & 2 != 0 && bytes.len() == 1 {
            Value::Char(v as u8)
        } else if enc & 1 != 0 {
            let shift = 128 - u32::from(bits.max(1));
            Value::Int(((v << shift) as i128) >> shift)
        } else {
            Value::Uint(v)
        })
    }

    /// An enumerator by name, or the number when none has the value.
    fn enumeration(&self, t: &BtfType<'_>, bytes: &[u8]) -> Result<Value, BtfError> {
        let size = bytes.len();
        let raw = uint(bytes, self.endian) as u64;
        let signed = t.kind_flag();
        let value = if signed && size < 8 {
            let shift = 64 - 8 * size as u32;
            ((raw << shift) as i64 >> shift) as u64
        } else {
            raw
        };
        for e in t.enumerators()? {
            let e = e?;
            if e.value == value || (size < 8 && e.value & 0xffff_ffff == value & 0xffff_ffff) {
                return Ok(Value::Enum(e.name.to_string()));
            }
        }
        Ok(Value::Enum(if signed {
            (value as i64).to_string()
        } else {
            value.to_string()
        }))
    }

    /// A char array holding a C string as text, any other array element by element.
    fn array(&self, t: &BtfType<'_>, bytes: &[u8]) -> Result<Value, BtfError> {
        let a = t.array()?;
        let elem = self.btf.skip_mods_and_typedefs(a.elem_type)?;
        let esize = value_size(self.btf, &elem)?;
        if esize == 1 && is_char(&elem)? {
            if let Some(s) = c_string(bytes) {
                return Ok(Value::Str(s));
            }
        }
        if esize == 0 {
            return Ok(Value::Array(Vec::new()));
        }
        bytes
            .chunks_exact(esize)
            .take(a.nelems as usize)
            .map(|chunk| decode_at(self.btf, a.elem_type, chunk, self.endian, self.depth + 1))
            .collect::<Result<_, _>>()
            .map(Value::Array)
    }

    /// Struct or union members in order, bitfields extracted.
    fn composite(&self, t: &BtfType<'_>, bytes: &[u8]) -> Result<Value, BtfError> {
        let mut fields = Vec::new();
        for m in t.members()? {
            let m = m?;
            let byte = (m.bit_offset / 8) as usize;
            let from = &bytes[byte.min(bytes.len())..];
            let value = if m.bitfield_size != 0 {
                self.bitfield(&m, from)?
            } else {
                decode_at(self.btf, m.type_id, from, self.endian, self.depth + 1)?
            };
            fields.push((m.name.to_string(), value));
        }
        Ok(Value::Struct(fields))
    }

    /// A bitfield: the 16 bytes from its first byte (`from`), shifted and masked.
    fn bitfield(&self, m: &Member<'_>, from: &[u8]) -> Result<Value, BtfError> {
        let raw = uint(from, self.endian);
        let bits = m.bitfield_size;
        let shift = match self.endian {
            Endian::Little => m.bit_offset % 8,
            Endian::Big => {
                let avail = 8 * from.len().min(16) as u32;
                avail.saturating_sub(m.bit_offset % 8 + bits)
            }
        };
        let v = (raw >> shift) & ((1u128 << bits) - 1);
        let mt = self.btf.skip_mods_and_typedefs(m.type_id)?;
        // Bitfields of enums are read unsigned; only a signed INT sign-extends.
        let signed = mt.kind() == Kind::Int && mt.int()?.0 & 1 != 0;
        Ok(if signed {
            let s = 128 - bits;
            Value::Int(((v << s) as i128) >> s)
        } else {
            Value::Uint(v)
        })
    }

    /// A global data map's value: its variables by name. Variables the data does not
    /// reach (a value cut short) are left out, as a short value shows as bytes.
    fn datasec(&self, t: &BtfType<'_>, data: &[u8]) -> Result<Value, BtfError> {
        let mut fields = Vec::new();
        for v in t.datasec_vars()? {
            let v = v?;
            let var = self.btf.type_by_id(v.type_id)?;
            if var.kind() != Kind::Var {
                continue;
            }
            let (at, len) = (v.offset as usize, v.size as usize);
            let Some(slice) = at.checked_add(len).and_then(|end| data.get(at..end)) else {
                continue;
            };
            fields.push((
                var.name()?.to_string(),
                decode_at(
                    self.btf,
                    var.ref_type()?,
                    slice,
                    self.endian,
                    self.depth + 1,
                )?,
            ));
        }
        Ok(Value::Struct(fields))
    }
}

/// Whether an INT element makes a character array (char encoding, or a name with
/// "char" in it: `unsigned char` has no char encoding in clang's BTF).
fn is_char(elem: &BtfType<'_>) -> Result<bool, BtfError> {
    if elem.kind() != Kind::Int {
        return Ok(false);
    }
    Ok(elem.int()?.0 & 2 != 0 || elem.name()?.contains("char"))
}

/// Character arrays holding a C string: text up to the NUL and only zeros after it (a
/// `u8 addr[14]` with a zero byte inside is data, shown element by element).
fn c_string(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = bytes[..end]
        .iter()
        .all(|b| b.is_ascii() && !b.is_ascii_control());
    (text && bytes[end..].iter().all(|&b| b == 0))
        .then(|| String::from_utf8_lossy(&bytes[..end]).into_owned())
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Uint(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Char(c) if c.is_ascii_graphic() || *c == b' ' => write!(f, "'{}'", *c as char),
            Value::Char(c) => write!(f, "{c}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Enum(n) => f.write_str(n),
            Value::Float(v) => write!(f, "{v}"),
            Value::Ptr(p) => write!(f, "{p:#x}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Struct(fields) => {
                f.write_str("{ ")?;
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if name.is_empty() {
                        write!(f, "{v}")?;
                    } else {
                        write!(f, "{name} = {v}")?;
                    }
                }
                f.write_str(" }")
            }
            Value::Bytes(b) => {
                let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
                write!(f, "<{}>", hex.join(" "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::builder::BtfBuilder;

    #[test]
    fn structs_bitfields_enums_strings_and_arrays() {
        let mut b = BtfBuilder::new(Endian::Little);
        let int = b.int("int", 4, true); // 1
        let uchar = b.int("unsigned char", 1, false); // 2
        let comm = b.array(uchar, int, 8); // 3
        let e = b.enumeration("state", &[("RUNNING", 0), ("SLEEPING", 1)]); // 4
        let arr = b.array(int, int, 2); // 5
        let s = b.strukt(
            "task",
            28,
            &[
                ("pid", int, 0),
                ("comm", comm, 32),
                ("st", e, 96),
                ("v", arr, 128),
                ("neg", int, 192),
            ],
        );
        let bf = b.bitfield_struct("flags", 4, &[("a", int, 0, 3), ("b", int, 3, 5)]);
        let btf = b.btf().unwrap();
        let mut data = Vec::new();
        data.extend_from_slice(&42i32.to_le_bytes());
        data.extend_from_slice(b"bash\0\0\0\0");
        data.extend_from_slice(&1u32.to_le_bytes());
        data.extend_from_slice(&7i32.to_le_bytes());
        data.extend_from_slice(&8i32.to_le_bytes());
        data.extend_from_slice(&(-3i32).to_le_bytes());
        // Bytes after the NUL: not a C string, so the elements.
        let mut not_str = data.clone();
        not_str[4..12].copy_from_slice(&[0, 1, 127, 0, 0, 1, 0, 0]);
        assert_eq!(
            decode(&btf, TypeId(s), &not_str, Endian::Little)
                .unwrap()
                .to_string(),
            "{ pid = 42, comm = [0, 1, 127, 0, 0, 1, 0, 0], st = SLEEPING, v = [7, 8], neg = -3 }"
        );
        let v = decode(&btf, TypeId(s), &data, Endian::Little).unwrap();
        assert_eq!(
            v.to_string(),
            r#"{ pid = 42, comm = "bash", st = SLEEPING, v = [7, 8], neg = -3 }"#
        );
        // a: bits 0..3 = 0b101 (-3 signed in 3 bits), b: bits 3..8 = 0b10110 (-10).
        let word: u32 = 0b1011_0101; // b = 10110, a = 101
        let v = decode(&btf, TypeId(bf), &word.to_le_bytes(), Endian::Little).unwrap();
        assert_eq!(v.to_string(), "{ a = -3, b = -10 }");
        // Short data is shown as bytes.
        let v = decode(&btf, TypeId(s), &[1, 2], Endian::Little).unwrap();
        assert_eq!(v.to_string(), "<01 02>");
    }
}
