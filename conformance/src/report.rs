//! The summary printed at the end, the per-program results file and the Markdown report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::compare::{Category, Comparison, describe};
use crate::outcome::Verdict;

/// One corpus of a run.
#[derive(Debug)]
pub struct Section {
    /// Its name as given (`testdata`, `debian`, `selftests`, a path).
    pub corpus: String,
    /// Its objects compared.
    pub comparison: Comparison,
    /// What else the report says of it (package versions, sources skipped).
    pub notes: Vec<String>,
}

/// Counts over the whole run.
#[derive(Debug, Default)]
struct Totals {
    objects: usize,
    crashed: usize,
    programs: usize,
    libbpf_loaded: usize,
    oxbpf_loaded: usize,
    both_loaded: usize,
    same_tag: usize,
    both_refused: usize,
    differences: usize,
    unexpected: usize,
}

fn totals(c: &Comparison) -> Totals {
    let mut t = Totals {
        objects: c.objects.len(),
        ..Default::default()
    };
    for o in &c.objects {
        t.crashed += usize::from(o.crashed.is_some());
        for (_, l, x) in &o.rows {
            t.programs += 1;
            let ll = matches!(l, Some(Verdict::Loaded(_)));
            let xl = matches!(x, Some(Verdict::Loaded(_)));
            t.libbpf_loaded += usize::from(ll);
            t.oxbpf_loaded += usize::from(xl);
            t.both_loaded += usize::from(ll && xl);
            t.both_refused += usize::from(!ll && !xl);
            if let (Some(Verdict::Loaded(a)), Some(Verdict::Loaded(b))) = (l, x) {
                t.same_tag += usize::from(a.tag == b.tag);
            }
        }
        t.differences += o.differences.len();
    }
    t.unexpected = c.unexpected();
    t
}

/// The lines printed at the end of a run.
pub fn summary(sections: &[Section], elapsed: Duration) -> String {
    let mut s = String::new();
    let mut differences = 0;
    let mut unexpected = 0;
    for sec in sections {
        let c = &sec.comparison;
        let t = totals(c);
        differences += t.differences;
        unexpected += t.unexpected;
        let _ = writeln!(
            s,
            "\n{}: {} objects ({} crashed or timed out), {} programs: libbpf loads {}, oxbpf loads {}; \
             both load {} ({} with the same tag), both refuse {}",
            sec.corpus,
            t.objects,
            t.crashed,
            t.programs,
            t.libbpf_loaded,
            t.oxbpf_loaded,
            t.both_loaded,
            t.same_tag,
            t.both_refused
        );
        let mut by_cat: BTreeMap<Category, (usize, usize)> = BTreeMap::new();
        for d in c.differences() {
            let e = by_cat.entry(d.category).or_default();
            if d.expected.is_some() {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
        for (cat, (exp, unexp)) in &by_cat {
            let _ = writeln!(s, "  {:<12} {unexp} unexpected, {exp} expected", cat.name());
        }
        for d in c.differences().filter(|d| d.expected.is_none()) {
            let _ = writeln!(
                s,
                "UNEXPECTED {} {} {}\n    libbpf: {}\n    oxbpf:  {}",
                d.object,
                d.program,
                d.category.name(),
                d.libbpf,
                d.oxbpf
            );
        }
    }
    let _ = writeln!(
        s,
        "{differences} differences, {unexpected} unexpected; {:.0} s",
        elapsed.as_secs_f64()
    );
    s
}

/// One line per program: object, program, libbpf's verdict, oxbpf's, and the
/// difference (empty when they agree); then one line per object with the seconds each
/// loader's child took.
pub fn results_tsv(sections: &[Section]) -> String {
    let mut s = String::from("corpus\tobject\tprogram\tlibbpf\toxbpf\tdifference\n");
    for (corpus, o) in sections
        .iter()
        .flat_map(|sec| sec.comparison.objects.iter().map(move |o| (&sec.corpus, o)))
    {
        for (name, l, x) in &o.rows {
            let d = o
                .differences
                .iter()
                .find(|d| &d.program == name)
                .map_or(String::new(), |d| d.category.name().to_string());
            let _ = writeln!(
                s,
                "{corpus}\t{}\t{name}\t{}\t{}\t{d}",
                o.object,
                describe(l.as_ref()),
                describe(x.as_ref())
            );
        }
        let _ = writeln!(
            s,
            "{corpus}\t{}\t*\tseconds {:.2}\tseconds {:.2}\t{}",
            o.object,
            o.seconds.0,
            o.seconds.1,
            o.crashed.as_deref().unwrap_or("")
        );
    }
    s
}

/// A refusal's message with names and numbers taken out, to group like refusals.
fn reason_key(message: &str) -> String {
    let mut key = String::new();
    let mut quoted = false;
    for ch in message.chars() {
        match ch {
            '\'' | '`' | '"' => {
                quoted = !quoted;
                key.push('…');
            }
            _ if quoted => {}
            c if c.is_ascii_digit() => {
                if !key.ends_with('N') {
                    key.push('N');
                }
            }
            c => key.push(c),
        }
    }
    key.replace("……", "…").chars().take(110).collect()
}

fn cell(s: &str) -> String {
    let s = s.replace('|', "\\|");
    if s.chars().count() > 240 {
        format!("{}…", s.chars().take(240).collect::<String>())
    } else {
        s
    }
}

/// The Markdown report.
pub fn markdown(sections: &[Section], elapsed: Duration) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", intro(sections, elapsed));
    for sec in sections {
        s.push_str(&section_markdown(sec));
    }
    s
}

/// The report's head: what was compared, on what, and the totals per corpus.
fn intro(sections: &[Section], elapsed: Duration) -> String {
    let mut s = String::from(
        "# Conformance: oxbpf against libbpf\n\n\
         Written by `oxbpf-conformance` (`scripts/conformance.sh`); do not edit by hand.\n\n\
         Each object is loaded by oxbpf and by libbpf 1.7 (libbpf-sys, its bundled source), each \
         in a child process with a bpffs of its own: first every program it loads by default at \
         once, then each program that did not load that way (and each `?` program) on its own. \
         Per program, the verdict (loaded or refused) must agree and, where both load, so must \
         the program tag (the kernel's hash of the instructions it was given), the instructions \
         the kernel kept (map ids as their place in the program's map list), the maps used (name, \
         type, sizes, flags) and the func/line info counts. Maps left at 0 entries get 10240 and \
         stack trace maps without a value size 127 frames, in both loaders, as libbpf-tools' user \
         space sets them.\n\n",
    );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(
        s,
        "Kernel {}, run took {:.0} s.\n",
        kernel.trim(),
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "| corpus | objects | crashed or timed out | programs | libbpf loads | oxbpf loads | both load | same tag | both refuse | differences | unexpected |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for sec in sections {
        let t = totals(&sec.comparison);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            sec.corpus,
            t.objects,
            t.crashed,
            t.programs,
            t.libbpf_loaded,
            t.oxbpf_loaded,
            t.both_loaded,
            t.same_tag,
            t.both_refused,
            t.differences,
            t.unexpected
        );
    }
    s
}

fn section_markdown(sec: &Section) -> String {
    let c = &sec.comparison;
    let mut s = String::new();
    let _ = writeln!(s, "\n## {}\n", sec.corpus);
    // Notes: a line, then its indented details as a code block.
    for n in &sec.notes {
        match n.strip_prefix("  ") {
            Some(detail) => {
                let _ = writeln!(s, "    {detail}");
            }
            None => {
                let _ = writeln!(s, "\n{n}\n");
            }
        }
    }
    let slowest = c
        .objects
        .iter()
        .map(|o| (o.seconds.0.max(o.seconds.1), &o.object))
        .fold(
            (0.0, None),
            |acc, (sec, o)| {
                if sec > acc.0 { (sec, Some(o)) } else { acc }
            },
        );
    let _ = writeln!(
        s,
        "\nThe slowest object took {:.1} s ({}).\n",
        slowest.0,
        slowest.1.map_or("-", |o| o.as_str())
    );

    for (title, expected) in [
        ("Unexpected differences", false),
        ("Expected differences", true),
    ] {
        let rows: Vec<_> = c
            .differences()
            .filter(|d| d.expected.is_some() == expected)
            .collect();
        let _ = writeln!(s, "### {title} ({})\n", rows.len());
        if rows.is_empty() {
            let _ = writeln!(s, "None.\n");
            continue;
        }
        let why = if expected { " why |" } else { "" };
        let _ = writeln!(
            s,
            "| object | program | what |{why} libbpf | oxbpf |\n|---|---|---|{}---|---|",
            if expected { "---|" } else { "" }
        );
        for d in &rows {
            let why = d
                .expected
                .as_deref()
                .map_or(String::new(), |w| format!(" {} |", cell(w)));
            let _ = writeln!(
                s,
                "| {} | {} | {} |{why} {} | {} |",
                d.object,
                d.program,
                d.category.name(),
                cell(&d.libbpf),
                cell(&d.oxbpf)
            );
        }
        s.push('\n');
    }

    // What neither loads, grouped by libbpf's reason.
    let mut groups: BTreeMap<String, (usize, String, String)> = BTreeMap::new();
    for o in &c.objects {
        for (name, l, x) in &o.rows {
            if let (Some(Verdict::Refused { stage, message }), Some(Verdict::Refused { .. })) =
                (l, x)
            {
                let key = format!("{stage}: {}", reason_key(message));
                let e = groups
                    .entry(key)
                    .or_insert((0, String::new(), String::new()));
                e.0 += 1;
                if e.1.is_empty() {
                    e.1 = format!("{}/{name}", o.object);
                    e.2 = describe(x.as_ref());
                }
            }
        }
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    let _ = writeln!(
        s,
        "### Refused by both ({}), grouped by libbpf's reason\n",
        totals(c).both_refused
    );
    if !groups.is_empty() {
        let _ = writeln!(
            s,
            "| programs | libbpf's reason | e.g. | oxbpf there |\n|---|---|---|---|"
        );
        for (key, (n, example, ox)) in &groups {
            let _ = writeln!(s, "| {n} | {} | {example} | {} |", cell(key), cell(ox));
        }
        s.push('\n');
    }
    s
}
