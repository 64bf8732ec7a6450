//! Any bytes as raw BTF: parse, look names up, decode everything, and dump it as text
//! and as C. Each step returns a value or an error; none may panic or loop.
#![no_main]

use oxbpf_loader::btf::{Btf, Kind, dump, types};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::parse(data.to_vec()) else { return };
    let _ = btf.find("task_struct", Kind::Struct);
    let _ = btf.find("f", Kind::Func);
    let _ = btf.find_by_essential_name("a");
    for id in btf.ids() {
        if let Ok(t) = btf.type_by_id(id) {
            let _ = t.decode();
            let _ = btf.size_of(id);
            let _ = btf.align_of(id);
        }
    }
    let _ = dump::raw::dump(&btf);
    if let Ok(all) = types::decode_all(&btf) {
        let _ = dump::c::dump_types(&all);
        if let Ok(bytes) = oxbpf_loader::btf::encode::encode(&all, btf.endian()) {
            // What decodes must re-encode into BTF that parses to the same types.
            let again = Btf::parse(bytes).expect("encoder output must parse");
            assert_eq!(types::decode_all(&again).expect("re-decode"), all);
        }
    }
});
