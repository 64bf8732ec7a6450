//! The summary printed at the end, the per-program results file and the Markdown report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::compare::{Category, Comparison, describe};
use crate::outcome::Verdict;

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
pub fn summary(c: &Comparison, elapsed: Duration) -> String {
    let t = totals(c);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{} objects ({} crashed or timed out), {} programs: libbpf loads {}, oxbpf loads {}; \
         both load {} ({} with the same tag), both refuse {}",
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
    let _ = writeln!(
        s,
        "{} differences, {} unexpected; {:.0} s",
        t.differences,
        t.unexpected,
        elapsed.as_secs_f64()
    );
    s
}

/// One line per program: object, program, libbpf's verdict, oxbpf's, and the
/// difference (empty when they agree); then one line per object with the seconds each
/// loader's child took.
pub fn results_tsv(c: &Comparison) -> String {
    let mut s = String::from("object\tprogram\tlibbpf\toxbpf\tdifference\n");
    for o in &c.objects {
        for (name, l, x) in &o.rows {
            let d = o
                .differences
                .iter()
                .find(|d| &d.program == name)
                .map_or(String::new(), |d| d.category.name().to_string());
            let _ = writeln!(
                s,
                "{}\t{name}\t{}\t{}\t{d}",
                o.object,
                describe(l.as_ref()),
                describe(x.as_ref())
            );
        }
        let _ = writeln!(
            s,
            "{}\t*\tseconds {:.2}\tseconds {:.2}\t{}",
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
pub fn markdown(c: &Comparison, title: &str, elapsed: Duration) -> String {
    let t = totals(c);
    let mut s = String::new();
    let _ = writeln!(s, "## {title}\n");
    let _ = writeln!(
        s,
        "| objects | crashed or timed out | programs | libbpf loads | oxbpf loads | both load | same tag | both refuse | differences | unexpected |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
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
        "Run time {:.0} s; the slowest object took {:.1} s ({}).\n",
        elapsed.as_secs_f64(),
        slowest.0,
        slowest.1.map_or("-", |o| o.as_str())
    );

    let unexpected: Vec<_> = c.differences().filter(|d| d.expected.is_none()).collect();
    let _ = writeln!(s, "### Unexpected differences ({})\n", unexpected.len());
    if unexpected.is_empty() {
        let _ = writeln!(s, "None.\n");
    } else {
        let _ = writeln!(
            s,
            "| object | program | what | libbpf | oxbpf |\n|---|---|---|---|---|"
        );
        for d in &unexpected {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                d.object,
                d.program,
                d.category.name(),
                cell(&d.libbpf),
                cell(&d.oxbpf)
            );
        }
        s.push('\n');
    }
    let expected: Vec<_> = c.differences().filter(|d| d.expected.is_some()).collect();
    let _ = writeln!(s, "### Expected differences ({})\n", expected.len());
    if expected.is_empty() {
        let _ = writeln!(s, "None.\n");
    } else {
        let _ = writeln!(
            s,
            "| object | program | what | why | libbpf | oxbpf |\n|---|---|---|---|---|---|"
        );
        for d in &expected {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                d.object,
                d.program,
                d.category.name(),
                cell(d.expected.as_deref().unwrap_or("")),
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
        t.both_refused
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
