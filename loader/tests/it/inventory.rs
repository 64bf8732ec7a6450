//! The kernel's objects by id and by pin, as `oxbpf prog|map|link list` and `detach`
//! read them.

use std::os::fd::AsFd as _;

use oxbpf_loader::Object;
use oxbpf_loader::inventory::{self, IdKind, InventoryError};
use oxbpf_loader::load::LoadOptions;
use oxbpf_loader::prelude::*;
use oxbpf_sys::gate;

#[test]
fn the_inventory_finds_what_a_load_made_by_id_and_says_when_an_id_is_gone() {
    if !gate::require_bpf("the_inventory_finds_what_a_load_made_by_id_and_says_when_an_id_is_gone")
    {
        return;
    }
    let obj = Object::open(crate::testdata("bootstrap.bpf.o")).unwrap();
    let l = obj
        .load(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let prog = l.program("handle_exec").unwrap();
    let id = prog.id().unwrap();
    assert!(inventory::ids(IdKind::Prog).unwrap().contains(&id));
    let desc = inventory::program(id).unwrap();
    assert_eq!(oxbpf_sys::uapi::name_str(&desc.info.name), "handle_exec");
    assert_eq!(desc.info.tag, prog.info().unwrap().tag);
    let mut ours: Vec<u32> = l.maps.iter().map(|m| m.id().unwrap()).collect();
    let mut used = desc.map_ids.clone();
    ours.sort_unstable();
    used.sort_unstable();
    assert!(used.iter().all(|m| ours.contains(m)), "{used:?} ⊄ {ours:?}");

    let rb = l.map("rb").unwrap();
    let info = inventory::map_info(rb.id().unwrap()).unwrap();
    assert_eq!(oxbpf_sys::uapi::name_str(&info.name), "rb");
    let again = inventory::map(rb.id().unwrap()).unwrap();
    assert_eq!(again.max_entries(), rb.max_entries());
    let btf_fd = l.btf_fd.as_ref().expect("bootstrap's BTF loads here");
    let btf_id = inventory::btf_id(btf_fd.as_fd()).unwrap();
    let btf = inventory::btf(btf_id).unwrap();
    assert!(btf.find("event", oxbpf_loader::btf::Kind::Struct).is_some());

    drop(l);
    // Freed (after the kernel's deferred work): the id is gone, and says so.
    let gone = (0..100).find_map(|_| match inventory::program(id) {
        Err(e @ InventoryError::NoSuchId { .. }) => Some(e),
        _ => {
            std::thread::sleep(std::time::Duration::from_millis(10));
            None
        }
    });
    assert_eq!(
        gone.map(|e| e.to_string()),
        Some(format!("no program with id {id}"))
    );
}
