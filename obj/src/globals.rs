//! Turning `NAME=VALUE` text into the bytes of a global variable, by its BTF type: what
//! `oxbpf load --set` does for the `const volatile` configuration of libbpf-style tools
//! (a skeleton user writes `skel->rodata->min_us = 100`; a CLI user writes
//! `--set min_us=100`).
//!
//! Integers (decimal, `0x` hex, negative for signed types, checked against the width),
//! `bool` (`true`/`false`/`1`/`0`), enums (an enumerator's name or a number) and `char`
//! arrays (a string, NUL-padded, room kept for the terminator) can be set from text.
//! Structs, pointers and other arrays cannot: the library takes raw bytes for those.

use crate::btf::{Btf, BtfType, Kind};
use crate::object::Object;
use oxbpf_uapi::Endian;

/// Why a value could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("global variable `{name}`: {why}")]
pub struct GlobalValueError {
    /// The variable.
    pub name: String,
    /// What is wrong.
    pub why: String,
}

/// The bytes for global variable `name` holding `text`, in the object's byte order.
///
/// # Errors
/// [`GlobalValueError`] when there is no such variable, the text does not parse as its
/// type, does not fit, or the type cannot be written as text.
pub fn encode_global(obj: &Object, name: &str, text: &str) -> Result<Vec<u8>, GlobalValueError> {
    let err = |why: String| GlobalValueError {
        name: name.to_string(),
        why,
    };
    let sym = obj
        .data
        .iter()
        .flat_map(|d| d.symbols.iter())
        .find(|s| s.name == name)
        .ok_or_else(|| err("no such global variable".into()))?;
    let size = usize::try_from(sym.size).map_err(|_| err("too large".into()))?;
    let Some(btf) = obj.btf.as_ref() else {
        // No BTF: all that is known is the size, so only integers can be written.
        return int_bytes(text, size, true, obj.endian).map_err(err);
    };
    let var = btf
        .find(name, Kind::Var)
        .ok_or_else(|| err("has no BTF VAR; give its value as raw bytes".into()))?;
    let var_type = btf
        .type_by_id(var)
        .and_then(|v| v.ref_type())
        .and_then(|t| btf.skip_mods_and_typedefs(t))
        .map_err(|e| err(e.to_string()))?;
    encode(btf, &var_type, text, size, obj.endian).map_err(err)
}

/// The bytes of `text` read as a value of type `id` (`size` bytes), by the same rules
/// as global variables: integers, bools, enumerators and strings. Without a type, an
/// integer of `size` bytes. For map keys and values given on the command line.
///
/// # Errors
/// A sentence: the text does not parse as the type or does not fit.
pub fn encode_typed(
    btf: Option<&Btf>,
    id: Option<crate::btf::TypeId>,
    text: &str,
    size: usize,
    endian: Endian,
) -> Result<Vec<u8>, String> {
    match (btf, id) {
        (Some(btf), Some(id)) if id.0 != 0 => {
            let t = btf.skip_mods_and_typedefs(id).map_err(|e| e.to_string())?;
            encode(btf, &t, text, size, endian)
        }
        // No type: any integer that fits, unsigned or negative.
        _ => int_bytes(text, size, false, endian).or_else(|_| int_bytes(text, size, true, endian)),
    }
}

fn encode(
    btf: &Btf,
    t: &BtfType<'_>,
    text: &str,
    size: usize,
    endian: Endian,
) -> Result<Vec<u8>, String> {
    let bad = |e: crate::btf::BtfError| e.to_string();
    match t.kind() {
        Kind::Int => {
            let (encoding, _, bits) = t.int().map_err(bad)?;
            if encoding & 4 != 0 {
                let v = match text {
                    "true" | "1" => 1,
                    "false" | "0" => 0,
                    _ => return Err(format!("is a bool; `{text}` is not true, false, 1 or 0")),
                };
                let mut b = vec![0u8; size];
                let at = if endian == Endian::Big {
                    size.saturating_sub(1)
                } else {
                    0
                };
                if let Some(x) = b.get_mut(at) {
                    *x = v;
                }
                return Ok(b);
            }
            if encoding & 2 != 0
                && text.chars().count() == 1
                && !text.as_bytes()[0].is_ascii_digit()
            {
                return Ok(vec![text.as_bytes()[0]]);
            }
            let width = (usize::from(bits).div_ceil(8)).min(size);
            let mut b = int_bytes(text, width, encoding & 1 != 0, endian)?;
            b.resize(size, 0);
            Ok(b)
        }
        Kind::Enum | Kind::Enum64 => {
            let by_name = t
                .enumerators()
                .map_err(bad)?
                .filter_map(Result::ok)
                .find(|e| e.name == text)
                .map(|e| e.value);
            match by_name {
                Some(v) => Ok(uint_to_bytes(v, size, endian)),
                None => {
                    let names: Vec<String> = t
                        .enumerators()
                        .map_err(bad)?
                        .filter_map(Result::ok)
                        .map(|e| e.name.to_string())
                        .collect();
                    int_bytes(text, size, t.kind_flag(), endian).map_err(|_| {
                        format!(
                            "is an enum; `{text}` is none of {} and not a number",
                            names.join(", ")
                        )
                    })
                }
            }
        }
        Kind::Array => {
            let a = t.array().map_err(bad)?;
            let elem = btf.skip_mods_and_typedefs(a.elem_type).map_err(bad)?;
            let is_char = elem.kind() == Kind::Int && elem.size() == 1;
            if !is_char {
                return Err(format!(
                    "is an array of {}; only char arrays can be set from text",
                    describe(&elem)
                ));
            }
            if text.len() >= size {
                return Err(format!(
                    "holds at most {} characters and a NUL; `{text}` has {}",
                    size.saturating_sub(1),
                    text.len()
                ));
            }
            let mut b = text.as_bytes().to_vec();
            b.resize(size, 0);
            Ok(b)
        }
        _ => Err(format!(
            "is {}; only integers, bools, enums and char arrays can be set from text",
            describe(t)
        )),
    }
}

fn describe(t: &BtfType<'_>) -> String {
    let kind = t.kind().name().to_ascii_lowercase();
    let Ok(name) = t.name() else {
        return format!("a {kind} with a bad name offset");
    };
    if name.is_empty() {
        format!("an anonymous {kind}")
    } else {
        format!("{kind} {name}")
    }
}

/// `text` as an integer of `size` bytes: decimal or `0x` hex, negative when `signed`.
fn int_bytes(text: &str, size: usize, signed: bool, endian: Endian) -> Result<Vec<u8>, String> {
    if size == 0 || size > 8 {
        return Err(format!(
            "is {size} bytes; only integers of 1 to 8 bytes can be set from text"
        ));
    }
    let bits = size as u32 * 8;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    }
    .map_err(|_| format!("`{text}` is not a number"))?;
    let kind = if signed { "signed" } else { "unsigned" };
    let out_of_range = || format!("`{text}` does not fit {kind} {bits}-bit integers");
    let value = if negative {
        if !signed {
            return Err(out_of_range());
        }
        let limit = 1u64 << (bits - 1);
        if magnitude > limit {
            return Err(out_of_range());
        }
        magnitude.wrapping_neg()
    } else {
        let limit = if signed {
            (1u64 << (bits - 1)) - 1
        } else if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        if magnitude > limit {
            return Err(out_of_range());
        }
        magnitude
    };
    Ok(uint_to_bytes(value, size, endian))
}

/// The low `size` bytes of `v` in `endian` order.
fn uint_to_bytes(v: u64, size: usize, endian: Endian) -> Vec<u8> {
    let size = size.min(8);
    match endian {
        Endian::Little => v.to_le_bytes()[..size].to_vec(),
        Endian::Big => v.to_be_bytes()[8 - size..].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_range_checked_by_width_and_sign() {
        let le = Endian::Little;
        assert_eq!(int_bytes("100", 4, true, le).unwrap(), 100i32.to_le_bytes());
        assert_eq!(int_bytes("-1", 2, true, le).unwrap(), [0xff, 0xff]);
        assert_eq!(int_bytes("-128", 1, true, le).unwrap(), [0x80]);
        assert!(int_bytes("-129", 1, true, le).is_err());
        assert!(int_bytes("128", 1, true, le).is_err());
        assert_eq!(int_bytes("0xff", 1, false, le).unwrap(), [0xff]);
        assert!(int_bytes("256", 1, false, le).is_err());
        assert!(int_bytes("-1", 4, false, le).is_err());
        assert_eq!(
            int_bytes("18446744073709551615", 8, false, le).unwrap(),
            [0xff; 8]
        );
        assert_eq!(int_bytes("1", 4, false, Endian::Big).unwrap(), [0, 0, 0, 1]);
        assert_eq!(
            int_bytes("ten", 4, true, le).unwrap_err(),
            "`ten` is not a number"
        );
    }

    fn object(name: &str) -> Object {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .join(name);
        Object::open(path).unwrap()
    }

    #[test]
    fn values_follow_the_variables_btf_type() {
        let multi = object("multi_prog.bpf.o");
        assert_eq!(
            encode_global(&multi, "rodata_limit", "-5").unwrap(),
            (-5i32).to_le_bytes()
        );
        let boot = object("bootstrap.bpf.o");
        assert_eq!(
            encode_global(&boot, "min_duration_ns", "0x10").unwrap(),
            16u64.to_le_bytes()
        );
        assert_eq!(
            encode_global(&boot, "min_duration_ns", "-1")
                .unwrap_err()
                .to_string(),
            "global variable `min_duration_ns`: `-1` does not fit unsigned 64-bit integers"
        );
        let core = object("core.bpf.o");
        let mut comm = b"abc".to_vec();
        comm.resize(16, 0);
        assert_eq!(encode_global(&core, "core_comm", "abc").unwrap(), comm);
        assert_eq!(
            encode_global(&core, "core_comm", "0123456789abcdef")
                .unwrap_err()
                .to_string(),
            "global variable `core_comm`: holds at most 15 characters and a NUL; `0123456789abcdef` has 16"
        );
        assert_eq!(
            encode_global(&core, "nope", "1").unwrap_err().to_string(),
            "global variable `nope`: no such global variable"
        );
    }
}
