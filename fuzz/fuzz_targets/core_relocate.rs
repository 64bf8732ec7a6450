//! Any bytes as the target kernel's BTF for the CO-RE relocations of a real object
//! (testdata/core.bpf.o, 25 relocations of every kind): resolving and patching must
//! give an answer or an error, never a panic or a hang.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use oxbpf_loader::Object;
use oxbpf_loader::btf::Btf;
use oxbpf_loader::core::{CoreTargets, relocate_object};

const OBJECT: &[u8] = include_bytes!("../../testdata/core.bpf.o");

fuzz_target!(|data: &[u8]| {
    let Ok(target) = Btf::parse(data.to_vec()) else {
        return;
    };
    let Ok(mut obj) = Object::parse("core.bpf.o", OBJECT) else {
        return;
    };
    let _ = relocate_object(&mut obj, CoreTargets::custom("fuzz", Arc::new(target)));
});
