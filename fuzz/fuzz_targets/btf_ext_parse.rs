//! Any bytes as `.BTF.ext`, read against a small fixed BTF whose strings serve as
//! section names and file names.
#![no_main]

use std::sync::OnceLock;

use oxbpf_loader::btf::Btf;
use oxbpf_loader::btf::ext::BtfExt;

fn btf() -> &'static Btf {
    static B: OnceLock<Btf> = OnceLock::new();
    B.get_or_init(|| {
        // One INT named "xdp": header, one 16-byte type record, strings "\0xdp\0".
        let mut b = Vec::new();
        b.extend_from_slice(&0xeb9fu16.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for v in [24u32, 0, 16, 16, 5] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for v in [1u32, 1 << 24, 4, (1 << 24) | 32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(b"\0xdp\0");
        Btf::parse(b).expect("fixed BTF")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(ext) = BtfExt::parse(data, btf()) {
        for s in &ext.line_info {
            for r in &s.records {
                let _ = btf().str_at(r.file_name_off);
            }
        }
    }
});
