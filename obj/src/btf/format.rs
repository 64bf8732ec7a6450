//! Bytes read by type: what `oxbpf map dump` shows for a map with BTF, as bpftool's
//! formatted output does. Structs by member, bitfields extracted, enums by name, char
//! arrays as strings, pointers as addresses, unions with every reading.

use std::fmt;

use oxbpf_uapi::Endian;

use super::{Btf, BtfError, Kind, TypeId};

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
    let size = btf.size_of(t.id()).unwrap_or(0) as usize;
    if data.len() < size {
        return Ok(Value::Bytes(data.to_vec()));
    }
    let bytes = &data[..size];
    Ok(match t.kind() {
        Kind::Int => {
            let (enc, _, bits) = t.int()?;
            let raw = uint(bytes, endian);
            let mask = if bits >= 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            };
            let v = raw & mask;
            if enc & 4 != 0 {
                Value::Bool(v != 0)
            } else if enc & 2 != 0 && size == 1 {
                Value::Char(v as u8)
            } else if enc & 1 != 0 {
                let shift = 128 - u32::from(bits.max(1));
                Value::Int(((v << shift) as i128) >> shift)
            } else {
                Value::Uint(v)
            }
        }
        Kind::Ptr => Value::Ptr(uint(bytes, endian) as u64),
        Kind::Enum | Kind::Enum64 => {
            let raw = uint(bytes, endian) as u64;
            let signed = t.kind_flag();
            let value = if signed && size < 8 {
                let shift = 64 - 8 * size as u32;
                ((raw << shift) as i64 >> shift) as u64
            } else {
                raw
            };
            let name = t
                .enumerators()?
                .filter_map(Result::ok)
                .find(|e| {
                    e.value == value || (size < 8 && e.value & 0xffff_ffff == value & 0xffff_ffff)
                })
                .map(|e| e.name.to_string());
            Value::Enum(name.unwrap_or_else(|| {
                if signed {
                    (value as i64).to_string()
                } else {
                    value.to_string()
                }
            }))
        }
        Kind::Float => match size {
            4 => Value::Float(f64::from(f32::from_bits(uint(bytes, endian) as u32))),
            8 => Value::Float(f64::from_bits(uint(bytes, endian) as u64)),
            _ => Value::Bytes(bytes.to_vec()),
        },
        Kind::Array => {
            let a = t.array()?;
            let elem = btf.skip_mods_and_typedefs(a.elem_type)?;
            let esize = btf.size_of(elem.id()).unwrap_or(0) as usize;
            // Character arrays holding a C string: text up to the NUL and only zeros
            // after it (a `u8 addr[14]` with a zero byte inside is data, shown element
            // by element).
            if elem.kind() == Kind::Int
                && esize == 1
                && elem.int().is_ok_and(|(enc, _, _)| {
                    enc & 2 != 0 || elem.name().is_ok_and(|n| n.contains("char"))
                })
            {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                if bytes[..end]
                    .iter()
                    .all(|b| b.is_ascii() && !b.is_ascii_control())
                    && bytes[end..].iter().all(|&b| b == 0)
                {
                    return Ok(Value::Str(
                        String::from_utf8_lossy(&bytes[..end]).into_owned(),
                    ));
                }
            }
            if esize == 0 {
                return Ok(Value::Array(Vec::new()));
            }
            let mut items = Vec::new();
            for i in 0..a.nelems as usize {
                let at = i * esize;
                items.push(decode_at(
                    btf,
                    a.elem_type,
                    &bytes[at..at + esize],
                    endian,
                    depth + 1,
                )?);
            }
            Value::Array(items)
        }
        Kind::Struct | Kind::Union => {
            let mut fields = Vec::new();
            for m in t.members()? {
                let m = m?;
                let byte = (m.bit_offset / 8) as usize;
                let value = if m.bitfield_size != 0 {
                    // A bitfield: read the 16 bytes from its first byte, shift and mask.
                    let raw = uint(&bytes[byte.min(bytes.len())..], endian);
                    let bits = m.bitfield_size;
                    let shift = match endian {
                        Endian::Little => m.bit_offset % 8,
                        Endian::Big => {
                            let avail = 8 * (bytes.len() - byte).min(16) as u32;
                            avail.saturating_sub(m.bit_offset % 8 + bits)
                        }
                    };
                    let v = (raw >> shift) & ((1u128 << bits) - 1);
                    let signed = btf
                        .skip_mods_and_typedefs(m.type_id)
                        .ok()
                        .and_then(|mt| mt.int().ok())
                        .is_some_and(|(enc, _, _)| enc & 1 != 0);
                    if signed {
                        let s = 128 - bits;
                        Value::Int(((v << s) as i128) >> s)
                    } else {
                        Value::Uint(v)
                    }
                } else {
                    decode_at(
                        btf,
                        m.type_id,
                        &bytes[byte.min(bytes.len())..],
                        endian,
                        depth + 1,
                    )?
                };
                fields.push((m.name.to_string(), value));
            }
            Value::Struct(fields)
        }
        Kind::Datasec => {
            // A global data map's value: its variables by name.
            let mut fields = Vec::new();
            for v in t.datasec_vars()? {
                let v = v?;
                let var = btf.type_by_id(v.type_id)?;
                if var.kind() != Kind::Var {
                    continue;
                }
                let (at, len) = (v.offset as usize, v.size as usize);
                let Some(slice) = data.get(at..at + len) else {
                    continue;
                };
                fields.push((
                    var.name()?.to_string(),
                    decode_at(btf, var.ref_type()?, slice, endian, depth + 1)?,
                ));
            }
            Value::Struct(fields)
        }
        _ => Value::Bytes(bytes.to_vec()),
    })
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
