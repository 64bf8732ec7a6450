//! The static linker on the committed `testdata/link` objects: symbol resolution, its
//! errors, idempotence, and malformed input (errors, never panics).

use super::{LinkError, link};
use crate::Object;
use crate::btf::Kind;

fn read(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../testdata/link/{name}.bpf.o",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn link_files(names: &[&str]) -> Result<Vec<u8>, LinkError> {
    let files: Vec<Vec<u8>> = names.iter().map(|n| read(n)).collect();
    let named: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&files)
        .map(|(n, b)| (*n, b.as_slice()))
        .collect();
    link(&named)
}

#[test]
fn two_strong_definitions_are_an_error_naming_both_files() {
    let a = read("link2");
    let err = link(&[("a.bpf.o", &a), ("b.bpf.o", &a)]).unwrap_err();
    let LinkError::Conflict {
        symbol,
        first,
        second,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((first.as_str(), second.as_str()), ("a.bpf.o", "b.bpf.o"));
    // The first global of link2.bpf.o with a definition in both.
    assert!(
        [
            "shared_base",
            "pick",
            "add_in_two",
            "scale",
            "result2",
            "entry2",
            "LICENSE"
        ]
        .contains(&symbol.as_str()),
        "{err}"
    );
    assert!(err.to_string().contains("a.bpf.o and b.bpf.o"), "{err}");
}

#[test]
fn a_weak_definition_gives_way_to_a_strong_one_in_either_order() {
    for order in [["link1", "link2"], ["link2", "link1"]] {
        let bytes = link_files(&order).unwrap();
        let obj = Object::parse("linked", &bytes).unwrap();
        let pick: Vec<_> = obj
            .subprograms
            .iter()
            .filter(|f| f.name == "pick")
            .collect();
        assert_eq!(pick.len(), 1, "{order:?}: one `pick` function symbol");
        // link2's `pick` is `x + 2`: its body adds 2.
        let adds_two = pick[0].function_adds(2);
        assert!(
            adds_two,
            "{order:?}: `pick` is link2.bpf.c's: {:?}",
            pick[0].insns
        );
    }
}

impl crate::object::Function {
    /// Whether some instruction adds the constant `k` (`r0 += k` or `w0 += k`).
    fn function_adds(&self, k: i32) -> bool {
        self.insns
            .iter()
            .any(|i| (i.code == 0x07 || i.code == 0x04) && i.imm == k)
    }
}

#[test]
fn an_unresolved_extern_stays_an_extern_as_libbpf_leaves_it() {
    // link1 alone: add_in_two, scale, shared_base and pick's override are elsewhere.
    // libbpf's linker keeps such externs (a library is linked later); loading is what
    // refuses them.
    let bytes = link_files(&["link1"]).unwrap();
    let obj = Object::parse("link1 alone", &bytes).unwrap();
    let mut externs: Vec<&str> = obj.externs.iter().map(|e| e.name.as_str()).collect();
    externs.sort_unstable();
    assert_eq!(externs, ["add_in_two", "scale", "shared_base"]);
}

#[test]
fn an_extern_of_another_type_than_its_definition_is_an_error() {
    let err = link_files(&["link2", "mismatch"]).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, LinkError::Symbol { symbol, file, .. } if symbol == "shared_base" && file == "mismatch"),
        "{text}"
    );
    assert!(
        text.contains("link2") && text.contains("sizes 4 and 8"),
        "{text}"
    );
}

#[test]
fn an_extern_without_btf_is_an_error_naming_it() {
    // link1 with `.BTF` and `.BTF.ext` made SHT_NOBITS: no BTF to read, so its globals
    // and externs cannot be typed.
    let mut bytes = read("link1");
    for name in [".BTF", ".BTF.ext"] {
        set_section_type(&mut bytes, name, 8);
    }
    let other = read("link2");
    let err = link(&[("no-btf.bpf.o", &bytes), ("link2", &other)]).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, LinkError::Symbol { file, .. } if file == "no-btf.bpf.o"),
        "{text}"
    );
    assert!(text.contains("no .BTF"), "{text}");
}

/// Sets the `sh_type` of section `name` of a little-endian ELF64 file.
fn set_section_type(f: &mut [u8], name: &str, sh_type: u32) {
    let u16_at = |f: &[u8], o: usize| usize::from(u16::from_le_bytes([f[o], f[o + 1]]));
    let u32_at = |f: &[u8], o: usize| u32::from_le_bytes(f[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |f: &[u8], o: usize| u64::from_le_bytes(f[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shnum, shstrndx) = (u64_at(f, 0x28), u16_at(f, 0x3c), u16_at(f, 0x3e));
    let names = u64_at(f, shoff + shstrndx * 64 + 0x18);
    for i in 0..shnum {
        let h = shoff + i * 64;
        let at = names + u32_at(f, h);
        let end = at + f[at..].iter().position(|&b| b == 0).unwrap();
        if &f[at..end] == name.as_bytes() {
            f[h + 4..h + 8].copy_from_slice(&sh_type.to_le_bytes());
            return;
        }
    }
    panic!("no section {name}");
}

#[test]
fn linking_is_idempotent() {
    for names in [
        &["link1", "link2"][..],
        &["link2", "link1"],
        &["link1"],
        &["link2"],
    ] {
        let once = link_files(names).unwrap();
        let twice = link(&[("once", &once)]).unwrap();
        assert!(once == twice, "{names:?}: relinking changed the object");
    }
}

#[test]
fn the_linked_btf_has_one_datasec_per_section_and_one_var_per_global() {
    let bytes = link_files(&["link1", "link2"]).unwrap();
    let obj = Object::parse("linked", &bytes).unwrap();
    let btf = obj.btf.as_ref().unwrap();
    let mut datasecs = Vec::new();
    let mut shared_base = 0;
    for id in btf.ids() {
        let t = btf.type_by_id(id).unwrap();
        match t.kind() {
            Kind::Datasec => datasecs.push(t.name().unwrap().to_string()),
            Kind::Var if t.name().unwrap() == "shared_base" => shared_base += 1,
            _ => {}
        }
    }
    let mut sorted = datasecs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), datasecs.len(), "{datasecs:?}");
    assert_eq!(shared_base, 1);
    // The map's DATASEC entry is where its symbol is.
    let ext = obj.ext().unwrap();
    assert!(
        ext.func_info_for("xdp").len() == 2,
        "entry1 and entry2 in one section"
    );
}

#[test]
fn empty_input_list_is_an_error() {
    assert_eq!(link(&[]).unwrap_err(), LinkError::NoInputs);
}

#[test]
fn malformed_inputs_are_errors_never_panics() {
    let good = read("link1");
    let other = read("link2");
    // Every truncation on an 8-byte grid, and a byte flipped at every 7th offset.
    for len in (0..good.len()).step_by(8) {
        let cut = &good[..len];
        assert!(
            link(&[("cut", cut), ("link2", &other)]).is_err(),
            "cut at {len} linked"
        );
    }
    for at in (0..good.len()).step_by(7) {
        for x in [0xff_u8, 0x01, 0x80] {
            let mut bad = good.clone();
            bad[at] ^= x;
            // May link or not; must not panic.
            let _ = link(&[("flipped", &bad), ("link2", &other)]);
        }
    }
    let not_elf = b"not an ELF file at all";
    let err = link(&[("text.o", not_elf)]).unwrap_err();
    assert!(err.to_string().starts_with("text.o: "), "{err}");
}

#[test]
fn license_sections_must_agree() {
    let a = read("link1");
    let mut b = read("link2");
    let at = b.windows(4).position(|w| w == b"GPL\0").expect("license");
    b[at..at + 3].copy_from_slice(b"MIT");
    let err = link(&[("a", &a), ("b", &b)]).unwrap_err();
    assert!(
        matches!(&err, LinkError::Section { section, file, .. } if section == "license" && file == "b"),
        "{err}"
    );
}
