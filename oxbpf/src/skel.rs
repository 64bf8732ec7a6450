//! What generated skeletons call (`oxbpf gen skeleton`, `oxbpf_build::Skeleton`): kept
//! here so the generated code is short and holds no logic of its own. Applications use
//! the generated module, not these functions.

use oxbpf_loader::prelude::*;

use crate::{Error, LoadOptions, Loaded, Map, Object, Program};

/// The crate the generated types derive `Pod` from, so an application needs no
/// dependency of its own on it.
pub use bytemuck;

/// Parses an embedded object named `file_name` (its data maps are named after it).
///
/// # Errors
/// The bytes are not a well-formed BPF object.
pub fn open(file_name: &str, bytes: &[u8]) -> Result<Object, Error> {
    Ok(Object::parse(file_name, bytes)?)
}

/// The initial contents of data section `section` as a `T` (`.bss` is zeroes).
///
/// # Errors
/// No such section, or one whose size is not `T`'s (a skeleton generated from another
/// object).
pub fn section<T: bytemuck::Pod>(object: &Object, section: &str) -> Result<T, Error> {
    let d = object
        .data
        .iter()
        .find(|d| d.name == section)
        .ok_or_else(|| Error::Skeleton(format!("{}: no section {section}", object.name)))?;
    let size = usize::try_from(d.size).unwrap_or(usize::MAX);
    if size != size_of::<T>() || d.bytes.len() > size {
        return Err(Error::Skeleton(format!(
            "{}: section {section} is {} bytes, the skeleton's {} is {}: was the skeleton generated from this object?",
            object.name,
            d.size,
            std::any::type_name::<T>(),
            size_of::<T>()
        )));
    }
    let mut bytes = d.bytes.clone();
    bytes.resize(size, 0);
    Ok(bytemuck::pod_read_unaligned(&bytes))
}

/// Sets global variable `name` before load from its skeleton field.
///
/// # Errors
/// No such variable, or of another size.
pub fn set_global<T: bytemuck::Pod>(
    object: &mut Object,
    name: &str,
    value: &T,
) -> Result<(), Error> {
    Ok(object.set_global(name, bytemuck::bytes_of(value))?)
}

/// Loads the object.
///
/// # Errors
/// As [`oxbpf_loader::load::ObjectLoad::load`].
pub fn load(object: &Object, options: &LoadOptions) -> Result<Loaded, Error> {
    Ok(object.load(options)?)
}

/// Map `name` of the loaded object.
///
/// # Errors
/// It was not created.
pub fn map<'a>(loaded: &'a Loaded, name: &str) -> Result<&'a Map, Error> {
    loaded
        .map(name)
        .ok_or_else(|| Error::Skeleton(format!("map `{name}` was not created")))
}

/// The map of data section `section` of the object named `file_name`.
///
/// # Errors
/// It was not created.
pub fn data_map<'a>(loaded: &'a Loaded, file_name: &str, section: &str) -> Result<&'a Map, Error> {
    let name =
        oxbpf_loader::load::data_map_name(&oxbpf_loader::load::object_name(file_name), section);
    loaded.map(&name).ok_or_else(|| {
        Error::Skeleton(format!(
            "the map of section {section} (`{name}`) was not created"
        ))
    })
}

/// Program `name` of the loaded object.
///
/// # Errors
/// It was not loaded.
pub fn program<'a>(loaded: &'a Loaded, name: &str) -> Result<&'a Program, Error> {
    loaded
        .program(name)
        .ok_or_else(|| Error::Skeleton(format!("program `{name}` was not loaded")))
}

/// Attaches every loaded program whose `SEC()` names its target, adding the links to
/// `links` (libbpf's `bpf_object__attach_skeleton`: programs that need a target given,
/// such as XDP, are left alone).
///
/// # Errors
/// The first attachment that fails; the links made before it are in `links`.
pub fn attach_all(loaded: &Loaded, links: &mut Vec<crate::Link>) -> Result<(), Error> {
    for p in &loaded.programs {
        match p.attach_auto()? {
            crate::program::AutoAttach::Attached(link) => {
                log::debug!("{}: attached ({})", p.name(), link.describe());
                links.push(link);
            }
            crate::program::AutoAttach::NeedsTarget(what) => {
                log::debug!("{}: not attached, needs {what}", p.name());
            }
        }
    }
    Ok(())
}

/// Bitfield of `width` bits at bit `shift` of `bytes` (little-endian bit numbering, as
/// BTF gives offsets), sign-extended when `signed`.
pub fn bitfield(bytes: &[u8], shift: u64, width: u32, signed: bool) -> u64 {
    let mut v: u128 = 0;
    for (i, b) in bytes.iter().take(16).enumerate() {
        v |= u128::from(*b) << (8 * i);
    }
    let width = width.min(64);
    let raw = (v >> shift.min(127)) as u64 & mask(width);
    if signed && width > 0 && width < 64 && raw >> (width - 1) & 1 == 1 {
        raw | !mask(width)
    } else {
        raw
    }
}

/// Sets the bitfield of `width` bits at bit `shift` of `bytes` to the low bits of
/// `value`, leaving the other bits as they are.
pub fn set_bitfield(bytes: &mut [u8], shift: u64, width: u32, value: u64) {
    let width = width.min(64);
    let m = u128::from(mask(width)) << shift.min(127);
    let v = (u128::from(value & mask(width))) << shift.min(127);
    for (i, b) in bytes.iter_mut().take(16).enumerate() {
        let bm = (m >> (8 * i)) as u8;
        let bv = (v >> (8 * i)) as u8;
        *b = (*b & !bm) | (bv & bm);
    }
}

fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitfields_read_back_what_was_set_and_leave_their_neighbours() {
        let mut bytes = [0xffu8; 3];
        set_bitfield(&mut bytes, 3, 7, 0x15);
        assert_eq!(bitfield(&bytes, 3, 7, false), 0x15);
        assert_eq!(bitfield(&bytes, 0, 3, false), 0b111);
        assert_eq!(bitfield(&bytes, 10, 14, false), 0x3fff);
        set_bitfield(&mut bytes, 3, 7, (-3i64) as u64);
        assert_eq!(bitfield(&bytes, 3, 7, true) as i64, -3);
        assert_eq!(bitfield(&bytes, 3, 7, false), 0x7d);
    }
}
