//! `check-linked`: the static linkers compared. The same inputs are linked by libbpf
//! 1.7's linker and by oxbpf's (`oxbpf_obj::link`); each result is loaded by its own
//! loader in a child, as `check` does, and compared per program (verdict, tag, kept
//! instructions, maps, func/line info). libbpf's side is relinked twice, as the
//! selftests' Makefile does; oxbpf's is its first link. Relinking oxbpf's output must
//! give it back byte for byte.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::outcome::Verdict;
use crate::{ObjectResult, compare, corpus, libbpf, report, run_child};

const USAGE: &str = "usage: oxbpf-conformance check-linked [--expected FILE] NAME IN.o...";

/// Runs `check-linked`; `Ok(true)` when the two agree (up to expected differences)
/// and oxbpf's link is idempotent.
pub fn check_linked(args: &[String]) -> Result<bool, String> {
    let mut expected = compare::Expected::default();
    let mut rest = args;
    if rest.first().map(String::as_str) == Some("--expected") {
        let file = rest.get(1).ok_or(USAGE)?;
        expected = compare::Expected::read(Path::new(file))?;
        rest = &rest[2..];
    }
    let [name, inputs @ ..] = rest else {
        return Err(USAGE.into());
    };
    if inputs.is_empty() {
        return Err(USAGE.into());
    }
    let inputs: Vec<PathBuf> = inputs.iter().map(PathBuf::from).collect();
    let scratch = corpus::Scratch::new()?;
    let file = format!("{name}.linked.bpf.o");
    let dir = |d: &str| -> Result<PathBuf, String> {
        let p = scratch.path().join(d);
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p.join(&file))
    };
    let (by_libbpf, by_oxbpf) = (dir("libbpf")?, dir("oxbpf")?);
    libbpf_link_thrice(&by_libbpf, &inputs)?;
    let linked = oxbpf_link(&inputs)?;
    std::fs::write(&by_oxbpf, &linked).map_err(|e| format!("{}: {e}", by_oxbpf.display()))?;
    let again = oxbpf_link(std::slice::from_ref(&by_oxbpf))?;
    let idempotent = again == linked;
    let started = Instant::now();
    let timeout = Duration::from_secs(300);
    let result = ObjectResult {
        path: by_oxbpf.clone(),
        libbpf: run_child("libbpf", &by_libbpf, timeout),
        oxbpf: run_child("oxbpf", &by_oxbpf, timeout),
    };
    print!("{}", tags(&result));
    let section = report::Section {
        corpus: format!("{name}: libbpf-linked by libbpf vs oxbpf-linked by oxbpf"),
        comparison: compare::compare_all(std::slice::from_ref(&result), &expected),
        notes: Vec::new(),
    };
    print!(
        "{}",
        report::summary(std::slice::from_ref(&section), started.elapsed())
    );
    println!(
        "{file}: relinking oxbpf's output {}",
        if idempotent {
            "gives it back byte for byte"
        } else {
            "gives a DIFFERENT object (not idempotent)"
        }
    );
    Ok(idempotent && section.comparison.unexpected() == 0)
}

/// libbpf's link as the selftests' Makefile makes it: linked, then relinked twice.
/// The first link alone can be wrong: an extern map's DATASEC entry keeps the
/// extern's offset after another input defines it (libbpf 1.7's `linked_maps` refuses
/// to open: "map relo failed to find map for section '.maps', off 64"); relinking
/// re-reads the offsets from the symbols. oxbpf's first link is already final.
fn libbpf_link_thrice(out: &Path, inputs: &[PathBuf]) -> Result<(), String> {
    let step = |n: u32| out.with_extension(format!("{n}.o"));
    libbpf::link(&step(1), inputs).map_err(|e| format!("libbpf's linker: {e}"))?;
    libbpf::link(&step(2), &[step(1)]).map_err(|e| format!("libbpf's linker, relinking: {e}"))?;
    libbpf::link(out, &[step(2)]).map_err(|e| format!("libbpf's linker, relinking: {e}"))
}

fn oxbpf_link(inputs: &[PathBuf]) -> Result<Vec<u8>, String> {
    let mut files = Vec::new();
    for p in inputs {
        files.push((
            p.display().to_string(),
            std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
        ));
    }
    let named: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    oxbpf_loader::link::link(&named).map_err(|e| format!("oxbpf's linker: {e}"))
}

/// One line per program: each side's verdict, its tag when loaded.
fn tags(r: &ObjectResult) -> String {
    let (Ok(l), Ok(o)) = (&r.libbpf.run, &r.oxbpf.run) else {
        return "a loader's child did not finish\n".into();
    };
    let show = |v: Option<&Verdict>| match v {
        Some(Verdict::Loaded(f)) => format!("tag {}", f.tag),
        other => compare::describe(other),
    };
    let mut out = String::new();
    for p in &l.programs {
        let theirs = o.programs.iter().find(|q| q.name == p.name);
        let (a, b) = (
            show(p.verdict.as_ref()),
            show(theirs.and_then(|q| q.verdict.as_ref())),
        );
        let same = if a == b { "same" } else { "DIFFERENT" };
        out += &format!(
            "  {:<28} libbpf-linked/libbpf: {a:<28} oxbpf-linked/oxbpf: {b:<28} {same}\n",
            p.name
        );
    }
    for q in o
        .programs
        .iter()
        .filter(|q| !l.programs.iter().any(|p| p.name == q.name))
    {
        out += &format!("  {:<28} only in oxbpf's link\n", q.name);
    }
    out
}
