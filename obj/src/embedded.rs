//! BPF objects embedded in other files: a libbpf skeleton (`bpftool gen skeleton`)
//! compiles the whole `.bpf.o` into the tool's binary as a byte array, so the objects of
//! libbpf-tools, bpftool itself and many daemons sit inside their executables. This finds
//! them, so they can be inspected and loaded like any object file.
//!
//! An embedded object is found by its ELF header: 64-bit, relocatable, `EM_BPF`, in
//! either byte order. Its length is where its section header table ends, which clang
//! places last.

use oxbpf_uapi::Endian;
use oxbpf_uapi::bytes::Bytes;

/// `EM_BPF`.
const EM_BPF: u16 = 247;

/// Every BPF object embedded in `data`, in file order, as `(offset, bytes)`.
pub fn find_objects(data: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(pos) = find(&data[at..], b"\x7fELF\x02") {
        let start = at + pos;
        match object_len(&data[start..]) {
            Some(len) => {
                out.push((start, &data[start..start + len]));
                at = start + len;
            }
            None => at = start + 1,
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The length of the ELF object at the start of `d`, if it is a whole 64-bit BPF
/// relocatable object.
fn object_len(d: &[u8]) -> Option<usize> {
    let endian = match d.get(5)? {
        1 => Endian::Little,
        2 => Endian::Big,
        _ => return None,
    };
    // A candidate too short for its header is simply not an object: the scan moves on.
    let b = Bytes::new(d, endian);
    let u16_at = |o: usize| b.u16(o).ok();
    // e_type ET_REL, e_machine EM_BPF, e_ehsize 64, e_shentsize 64.
    if u16_at(16)? != 1 || u16_at(18)? != EM_BPF || u16_at(52)? != 64 || u16_at(58)? != 64 {
        return None;
    }
    let shoff = usize::try_from(b.u64(40).ok()?).ok()?;
    let shnum = usize::from(u16_at(60)?);
    let end = shoff.checked_add(shnum.checked_mul(64)?)?;
    (end <= d.len() && shnum > 0).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn finds_objects_between_other_bytes_in_both_byte_orders() {
        let le = object("multi_prog.bpf.o");
        let be = object("multi_prog.bpfeb.o");
        let mut blob = b"\x7fELF\x02 not an object".to_vec();
        let le_at = blob.len();
        blob.extend_from_slice(&le);
        blob.extend_from_slice(&[0u8; 13]);
        let be_at = blob.len();
        blob.extend_from_slice(&be);
        blob.extend_from_slice(b"trailer");
        let found = find_objects(&blob);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0], (le_at, &le[..]));
        assert_eq!(found[1], (be_at, &be[..]));
        // Cut short: not an object.
        assert!(find_objects(&le[..le.len() - 1]).is_empty());
    }
}
