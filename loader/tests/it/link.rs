//! Objects linked by `oxbpf_obj::link` (what `oxbpf link` does) load, and a program
//! split over two files computes what its sources say: calls across files, a weak
//! function overridden, an extern variable and an extern map resolved, same-named
//! static functions kept apart.

use oxbpf_loader::Object;
use oxbpf_loader::link::link;
use oxbpf_loader::load::LoadOptions;
use oxbpf_loader::prelude::*;
use oxbpf_sys::gate;

/// `testdata/link/NAME.bpf.o`, read.
fn input(name: &str) -> (String, Vec<u8>) {
    let path = crate::testdata(&format!("link/{name}.bpf.o"));
    (name.to_string(), std::fs::read(&path).unwrap())
}

fn linked(names: &[&str]) -> Vec<u8> {
    let files: Vec<(String, Vec<u8>)> = names.iter().map(|n| input(n)).collect();
    let named: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    link(&named).unwrap_or_else(|e| panic!("{}", crate::chain(&e)))
}

fn global_i32(l: &oxbpf_loader::load::Loaded, name: &str) -> i32 {
    let v = l
        .global(name)
        .unwrap_or_else(|e| panic!("{name}: {}", crate::chain(&e)));
    i32::from_ne_bytes(v[..4].try_into().unwrap())
}

#[test]
fn a_program_split_over_two_linked_files_computes_across_them() {
    let _serial = crate::serial();
    if !gate::require_bpf("a_program_split_over_two_linked_files_computes_across_them") {
        return;
    }
    let bytes = linked(&["link1", "link2"]);
    let obj =
        Object::parse("link1+link2", &bytes).unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let maps: Vec<&str> = obj.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        maps.iter().filter(|m| **m == "shared_map").count(),
        1,
        "one map from two declarations: {maps:?}"
    );
    assert!(
        obj.externs.is_empty(),
        "every extern resolved: {:?}",
        obj.externs
    );
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let pkt = [0u8; 64];
    for prog in ["entry1", "entry2"] {
        let run = l.program(prog).unwrap().test_run(&pkt, &[]).unwrap();
        assert_eq!(run.retval, 2, "{prog}: XDP_PASS");
    }
    // add_in_two(5) = 2 * 5 + 7 (the map entry entry1 wrote), pick(10) = 12 (the strong
    // definition), shared_base = 100, link1's own twice(1) = 3, scale(4) = 40.
    assert_eq!(global_i32(&l, "result1"), 172);
    // pick(1) = 3, add_in_two(1) = 2 + 7.
    assert_eq!(global_i32(&l, "result2"), 12);
}

#[test]
fn linking_a_linked_object_gives_it_back_byte_for_byte() {
    let once = linked(&["link1", "link2"]);
    let twice = link(&[("once", &once)]).unwrap();
    assert!(
        once == twice,
        "relinking changed the object ({} bytes, then {})",
        once.len(),
        twice.len()
    );
}
