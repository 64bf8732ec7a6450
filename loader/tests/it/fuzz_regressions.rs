//! Inputs the fuzzers found (kept under fuzz/regressions/<target>/), replayed through
//! the same steps as the fuzz targets: each must end in a value or an error, quickly
//! and in bounded memory.

use std::path::Path;

use oxbpf_loader::btf::{Btf, Kind, dump, encode, types};

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn btf_parse_regressions() {
    let _serial = crate::serial();
    let cases = inputs("btf_parse");
    assert!(!cases.is_empty());
    for data in cases {
        let Ok(btf) = Btf::parse(data) else { continue };
        let _ = btf.find("task_struct", Kind::Struct);
        for id in btf.ids() {
            let _ = btf.size_of(id);
            let _ = btf.align_of(id);
        }
        let _ = dump::raw::dump(&btf);
        if let Ok(all) = types::decode_all(&btf) {
            if let Ok(c) = dump::c::dump_types(&all) {
                // The header stays proportional to the BTF, however large the claimed
                // struct sizes and gaps.
                assert!(
                    c.len() < 64 * btf.as_bytes().len() + 4096,
                    "{} bytes of C from {} of BTF",
                    c.len(),
                    btf.as_bytes().len()
                );
            }
            let bytes = encode::encode(&all, btf.endian()).unwrap();
            assert_eq!(types::decode_all(&Btf::parse(bytes).unwrap()).unwrap(), all);
        }
    }
}

#[test]
fn elf_core_relocate_regressions() {
    use std::sync::Arc;

    use oxbpf_loader::Object;
    use oxbpf_loader::core::{CoreTargets, relocate_object};
    use oxbpf_loader::reloc::{Resolver, link_program};
    let _serial = crate::serial();
    let cases = inputs("elf_core_relocate");
    assert!(!cases.is_empty());
    let old = std::fs::read(crate::testdata("btf/old_kernel.btf")).unwrap();
    for data in cases {
        let Ok(obj) = Object::parse("fuzz.bpf.o", &data) else {
            continue;
        };
        let mut o = obj.clone();
        let _ = relocate_object(
            &mut o,
            CoreTargets::custom("old_kernel", Arc::new(Btf::parse(old.clone()).unwrap())),
        );
        let mut obj = obj;
        if let Some(own) = obj.btf.clone() {
            if relocate_object(&mut obj, CoreTargets::custom("itself", Arc::new(own))).is_err() {
                continue;
            }
        }
        let resolver = Resolver::stand_in(&obj);
        for i in 0..obj.programs.len() {
            let _ = link_program(&obj, i, &resolver, obj.ext());
        }
    }
}

#[test]
fn ringbuf_parse_regressions() {
    use oxbpf_maps::ringbuf::RingBuf;
    use oxbpf_sys::ringbuf::RingBufMemory;
    const SIZE: u32 = 4096;
    let cases = inputs("ringbuf_parse");
    assert!(!cases.is_empty());
    for data in cases {
        if data.len() < 16 {
            continue;
        }
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&data[at..at + 8]);
            u64::from_le_bytes(w) % (u64::from(SIZE) * 8)
        };
        let mem = RingBufMemory::fake(SIZE, word(0), word(8), &data[16..]).unwrap();
        let mut ring = RingBuf::from_memory("fuzz", mem);
        // A value or an error; each record fits the ring.
        let _ = ring.consume(|r| assert!(r.len() <= SIZE as usize));
    }
}
