//! Any bytes as a BPF object: parsing must return a value or an error, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = oxbpf_loader::Object::parse("fuzz.o", data) {
        // Whatever parses must also survive the stages that read it next.
        // (`.BTF.ext` is parsed at open.)
        if let Some(btf) = &obj.btf {
            let _ = oxbpf_loader::btf::dump::raw::dump(btf);
        }
    }
});
