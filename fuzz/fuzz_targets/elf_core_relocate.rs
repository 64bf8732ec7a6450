//! Any bytes as an object, through the whole offline pipeline `explain --dry-run` runs:
//! parse, CO-RE against a small older kernel's BTF and against the object's own BTF
//! (where every local type has its exact match), then linking each program (maps,
//! globals, calls, externs patched with stand-in fds). The object's bytes are fuzzed
//! here, where `core_relocate` fuzzes only the target. An answer or an error, never a
//! panic or a hang.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use oxbpf_loader::Object;
use oxbpf_loader::btf::Btf;
use oxbpf_loader::core::{CoreTargets, relocate_object};
use oxbpf_loader::reloc::{Resolver, link_program};

const OLD_KERNEL: &[u8] = include_bytes!("../../testdata/btf/old_kernel.btf");

fuzz_target!(|data: &[u8]| {
    let Ok(obj) = Object::parse("fuzz.bpf.o", data) else {
        return;
    };
    if let Ok(old) = Btf::parse(OLD_KERNEL.to_vec()) {
        let mut o = obj.clone();
        let _ = relocate_object(&mut o, CoreTargets::custom("old_kernel", Arc::new(old)));
    }
    let mut obj = obj;
    if let Some(own) = obj.btf.clone() {
        if relocate_object(&mut obj, CoreTargets::custom("itself", Arc::new(own))).is_err() {
            return;
        }
    }
    let resolver = Resolver::stand_in(&obj);
    for i in 0..obj.programs.len() {
        let _ = link_program(&obj, i, &resolver, obj.ext());
    }
});
