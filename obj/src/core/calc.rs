//! Computing a relocation's value — the original one the compiler assumed (from the
//! local spec) and the new one for the target — without touching any instruction
//! (libbpf `bpf_core_calc_relo` and its `calc_field/type/enumval` helpers).

use oxbpf_uapi::Endian;

use super::spec::CoreSpec;
use super::{CoreError, CoreReloKind};
use crate::btf::{Btf, Kind, TypeId};

/// The result of a relocation, before it is applied (libbpf `struct bpf_core_relo_res`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreFixup {
    /// The value the instruction holds now (what the compiler computed locally).
    pub orig: u64,
    /// The value it must hold for the target.
    pub new: u64,
    /// The relocation could not be resolved: replace the instruction with an invalid
    /// call, which the verifier rejects only if it is reachable.
    pub poison: bool,
    /// Check that the instruction really holds `orig` before patching (off for
    /// bitfields and type ids, where clang and libbpf may legitimately differ).
    pub validate: bool,
    /// Size of the accessed field locally and in the target (for loads and stores).
    pub orig_sz: u32,
    /// See `orig_sz`.
    pub new_sz: u32,
    /// The field type locally and in the target (for the memory size check).
    pub orig_type: TypeId,
    /// See `orig_type`.
    pub new_type: TypeId,
    /// A load/store of this field would change size in a way that changes its value
    /// (signed integers, mixed kinds): such instructions are poisoned instead.
    pub fail_memsz_adjust: bool,
}

/// Poison rather than patch (libbpf's `-EUCLEAN`).
struct Poison;

struct FieldValue {
    val: u64,
    size: u32,
    type_id: TypeId,
    validate: bool,
}

fn field_value(
    kind: CoreReloKind,
    spec: Option<(&Btf, &CoreSpec)>,
    endian: Endian,
) -> Result<Result<FieldValue, Poison>, CoreError> {
    let plain = |val| FieldValue {
        val,
        size: 0,
        type_id: TypeId(0),
        validate: true,
    };
    if kind == CoreReloKind::FieldExists {
        return Ok(Ok(plain(u64::from(spec.is_some()))));
    }
    let Some((btf, spec)) = spec else {
        return Ok(Err(Poison));
    };
    let acc = spec
        .accessors
        .last()
        .ok_or(CoreError::BadLocal(spec.root_type_id))?;
    if acc.name.is_none() {
        return element_value(kind, btf, spec.bit_offset, acc.type_id).map(Ok);
    }
    let parent = btf.type_by_id(acc.type_id)?;
    let member = parent
        .members()?
        .nth(acc.idx as usize)
        .ok_or(CoreError::BadLocal(acc.type_id))??;
    let mt = btf.skip_mods_and_typedefs(member.type_id)?;
    let field_type = mt.id();
    let bit_off = spec.bit_offset;
    let mut bit_sz = member.bitfield_size;
    let bitfield = bit_sz > 0;
    let (byte_off, byte_sz) = if bitfield {
        bitfield_load(bit_off, bit_sz, mt.size())?
    } else {
        let sz = u32::try_from(btf.size_of(field_type)?).map_err(|_| CoreError::Overflow)?;
        bit_sz = sz.checked_mul(8).ok_or(CoreError::Overflow)?;
        (bit_off / 8, sz)
    };
    // Bitfield offsets and sizes may be computed differently by clang and the loader;
    // only signedness and the right shift are unambiguous.
    let mut validate = !bitfield;
    let val = match kind {
        CoreReloKind::FieldByteOffset => {
            let (size, type_id) = if bitfield {
                (0, TypeId(0))
            } else {
                (byte_sz, field_type)
            };
            return Ok(Ok(FieldValue {
                val: u64::from(byte_off),
                size,
                type_id,
                validate,
            }));
        }
        CoreReloKind::FieldByteSize => u64::from(byte_sz),
        CoreReloKind::FieldSigned => {
            validate = true;
            let signed = match mt.kind() {
                Kind::Enum | Kind::Enum64 => mt.kind_flag(),
                Kind::Int => mt.int()?.0 & 1 != 0,
                _ => false,
            };
            u64::from(signed)
        }
        // Shifts that extract the field from a 64-bit register after a `byte_sz` load.
        // For fields wider than 8 bytes they are meaningless; libbpf computes them in
        // u32 arithmetic anyway, and so do we (wrapping), so the values agree.
        CoreReloKind::FieldLshiftU64 => lshift_u64(endian, bit_off, bit_sz, byte_off, byte_sz),
        CoreReloKind::FieldRshiftU64 => {
            validate = true;
            u64::from(64u32.wrapping_sub(bit_sz))
        }
        k => {
            return Err(CoreError::Unsupported(format!(
                "{k} is not a field relocation"
            )));
        }
    };
    Ok(Ok(FieldValue {
        val,
        size: 0,
        type_id: TypeId(0),
        validate,
    }))
}

/// The field is an array element (or the root itself): only offset and size mean
/// anything.
fn element_value(
    kind: CoreReloKind,
    btf: &Btf,
    bit_offset: u32,
    type_id: TypeId,
) -> Result<FieldValue, CoreError> {
    let size = btf.size_of(type_id)?;
    let size32 = u32::try_from(size).map_err(|_| CoreError::Overflow)?;
    match kind {
        CoreReloKind::FieldByteOffset => Ok(FieldValue {
            val: u64::from(bit_offset / 8),
            size: size32,
            type_id,
            validate: true,
        }),
        CoreReloKind::FieldByteSize => Ok(FieldValue {
            val: size,
            size: 0,
            type_id: TypeId(0),
            validate: true,
        }),
        k => Err(CoreError::Unsupported(format!(
            "{k} cannot be applied to an array element"
        ))),
    }
}

/// `(byte offset, byte size)` of the smallest aligned load, starting from the field
/// type's size, that covers the whole bitfield at `bit_off`, `bit_sz` bits long.
fn bitfield_load(bit_off: u32, bit_sz: u32, type_size: u32) -> Result<(u32, u32), CoreError> {
    let mut byte_sz = type_size.max(1);
    let mut byte_off = bit_off / 8 / byte_sz * byte_sz;
    while u64::from(bit_off) + u64::from(bit_sz) - u64::from(byte_off) * 8 > u64::from(byte_sz) * 8
    {
        if byte_sz >= 8 {
            return Err(CoreError::Unsupported(
                "a bitfield that no 64-bit load covers".into(),
            ));
        }
        byte_sz *= 2;
        byte_off = bit_off / 8 / byte_sz * byte_sz;
    }
    Ok((byte_off, byte_sz))
}

/// The left shift that moves the field to the top of a 64-bit register after a
/// `byte_sz` load at `byte_off`.
fn lshift_u64(endian: Endian, bit_off: u32, bit_sz: u32, byte_off: u32, byte_sz: u32) -> u64 {
    u64::from(match endian {
        Endian::Little => 64u32.wrapping_sub(
            bit_off
                .wrapping_add(bit_sz)
                .wrapping_sub(byte_off.wrapping_mul(8)),
        ),
        Endian::Big => 8u32
            .wrapping_sub(byte_sz)
            .wrapping_mul(8)
            .wrapping_add(bit_off.wrapping_sub(byte_off.wrapping_mul(8))),
    })
}

fn type_value(
    kind: CoreReloKind,
    spec: Option<(&Btf, &CoreSpec)>,
) -> Result<(u64, bool), CoreError> {
    let Some((btf, spec)) = spec else {
        return Ok((0, true));
    };
    Ok(match kind {
        // Type ids change when objects are linked; checking them is pointless.
        CoreReloKind::TypeIdTarget => (u64::from(spec.root_type_id.0), false),
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => (1, true),
        CoreReloKind::TypeSize => (btf.size_of(spec.root_type_id)?, true),
        k => {
            return Err(CoreError::Unsupported(format!(
                "{k} is not a type relocation"
            )));
        }
    })
}

fn enumval_value(
    kind: CoreReloKind,
    spec: Option<(&Btf, &CoreSpec)>,
) -> Result<Result<u64, Poison>, CoreError> {
    match kind {
        CoreReloKind::EnumvalExists => Ok(Ok(u64::from(spec.is_some()))),
        CoreReloKind::EnumvalValue => {
            let Some((btf, spec)) = spec else {
                return Ok(Err(Poison));
            };
            let acc = spec
                .accessors
                .first()
                .ok_or(CoreError::BadLocal(spec.root_type_id))?;
            let t = btf.type_by_id(acc.type_id)?;
            let e = t
                .enumerators()?
                .nth(acc.idx as usize)
                .ok_or(CoreError::BadLocal(acc.type_id))??;
            // A 32-bit enumerator is read as libbpf reads it, as the `__s32` of `struct
            // btf_enum`, and widened with its sign (-101 is 0xffff_ffff_ffff_ff9b, as
            // clang writes it in an ld_imm64), whether the enum is signed or not.
            Ok(Ok(if t.kind() == Kind::Enum {
                i64::from(e.value as u32 as i32) as u64
            } else {
                e.value
            }))
        }
        k => Err(CoreError::Unsupported(format!(
            "{k} is not an enum value relocation"
        ))),
    }
}

/// Computes the fixup for one relocation from the local spec and the target spec
/// (`None` when no candidate matched).
///
/// # Errors
/// Relocations that cannot be applied at all (e.g. a bitfield offset of an array
/// element), and malformed BTF.
pub fn calc_relo(
    local: (&Btf, &CoreSpec),
    targ: Option<(&Btf, &CoreSpec)>,
    endian: Endian,
) -> Result<CoreFixup, CoreError> {
    let kind = local.1.kind;
    let mut f = CoreFixup {
        validate: true,
        ..Default::default()
    };
    if kind.is_field_based() {
        let l = match field_value(kind, Some(local), endian)? {
            Ok(v) => v,
            Err(Poison) => return Ok(CoreFixup { poison: true, ..f }),
        };
        let t = match field_value(kind, targ, endian)? {
            Ok(v) => v,
            Err(Poison) => {
                return Ok(CoreFixup {
                    poison: true,
                    orig: l.val,
                    validate: l.validate,
                    ..f
                });
            }
        };
        f = CoreFixup {
            orig: l.val,
            new: t.val,
            validate: l.validate,
            orig_sz: l.size,
            new_sz: t.size,
            orig_type: l.type_id,
            new_type: t.type_id,
            ..f
        };
        if f.orig_sz != f.new_sz {
            // A different load size only keeps the value for pointers (a 32-bit kernel
            // pointer read zero-extended) and unsigned integers.
            let (lb, tb) = (local.0, targ.map_or(local.0, |t| t.0));
            let (lt, tt) = (lb.type_by_id(f.orig_type)?, tb.type_by_id(f.new_type)?);
            let unsigned_int = |t: &crate::btf::BtfType<'_>| {
                t.kind() == Kind::Int && t.int().is_ok_and(|(e, _, _)| e & 1 == 0)
            };
            let safe = (lt.kind() == Kind::Ptr && tt.kind() == Kind::Ptr)
                || (unsigned_int(&lt) && unsigned_int(&tt));
            f.fail_memsz_adjust = !safe;
        }
    } else if kind.is_type_based() {
        let (orig, validate) = type_value(kind, Some(local))?;
        let (new, _) = type_value(kind, targ)?;
        f = CoreFixup {
            orig,
            new,
            validate,
            ..f
        };
    } else {
        let orig = match enumval_value(kind, Some(local))? {
            Ok(v) => v,
            Err(Poison) => return Ok(CoreFixup { poison: true, ..f }),
        };
        match enumval_value(kind, targ)? {
            Ok(new) => f = CoreFixup { orig, new, ..f },
            Err(Poison) => {
                f = CoreFixup {
                    orig,
                    poison: true,
                    ..f
                }
            }
        }
    }
    Ok(f)
}
