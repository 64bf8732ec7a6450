//! Putting the two runs of an object side by side, program by program.

use std::collections::BTreeSet;
use std::path::Path;

use crate::outcome::{ObjectRun, ProgRow, Verdict};
use crate::{ObjectResult, display_name};

/// How the two loaders differ on one program (or one object).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// libbpf loads it, oxbpf refuses.
    OnlyLibbpf,
    /// oxbpf loads it, libbpf refuses.
    OnlyOxbpf,
    /// Both load, with different tags: different instructions reached the kernel.
    Tag,
    /// Same tag, but the kernel kept different instructions (data offsets, which map).
    Xlated,
    /// Same instructions, but the maps used differ (name, type, sizes, flags).
    Maps,
    /// Same instructions, different func_info/line_info counts.
    Info,
    /// A program only one loader sees in the object.
    Programs,
    /// Every program agrees, but loading all of them at once does not.
    Whole,
    /// Both load (some of) the object, and create different maps (names, types, sizes,
    /// flags).
    ObjectMaps,
    /// A child process crashed, hung or printed nonsense.
    Crash,
    /// oxbpf left descriptors open.
    Leak,
}

impl Category {
    /// The name used in the expected file and the tables.
    pub fn name(self) -> &'static str {
        match self {
            Category::OnlyLibbpf => "only-libbpf",
            Category::OnlyOxbpf => "only-oxbpf",
            Category::Tag => "tag",
            Category::Xlated => "xlated",
            Category::Maps => "maps",
            Category::Info => "info",
            Category::Programs => "programs",
            Category::Whole => "whole",
            Category::ObjectMaps => "object-maps",
            Category::Crash => "crash",
            Category::Leak => "leak",
        }
    }

    fn from_name(s: &str) -> Option<Category> {
        ALL.iter().copied().find(|c| c.name() == s)
    }
}

const ALL: [Category; 11] = [
    Category::OnlyLibbpf,
    Category::OnlyOxbpf,
    Category::Tag,
    Category::Xlated,
    Category::Maps,
    Category::Info,
    Category::Programs,
    Category::Whole,
    Category::ObjectMaps,
    Category::Crash,
    Category::Leak,
];

/// One difference.
#[derive(Clone, Debug)]
pub struct Difference {
    /// The object's file name.
    pub object: String,
    /// The program (`*` for the whole object).
    pub program: String,
    /// What differs.
    pub category: Category,
    /// libbpf's side, one line.
    pub libbpf: String,
    /// oxbpf's side, one line.
    pub oxbpf: String,
    /// Why it is expected, if the expected file lists it.
    pub expected: Option<String>,
}

/// Differences known and explained: `OBJECT PROGRAM CATEGORY REASON...` per line (`*`
/// for any program; `#` starts a comment line).
#[derive(Clone, Debug, Default)]
pub struct Expected(Vec<(String, String, Category, String)>);

impl Expected {
    /// Reads the file.
    pub fn read(path: &Path) -> Result<Expected, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split_whitespace();
            let (Some(o), Some(p), Some(c)) = (f.next(), f.next(), f.next()) else {
                return Err(format!(
                    "{}:{}: OBJECT PROGRAM CATEGORY REASON",
                    path.display(),
                    n + 1
                ));
            };
            let category = Category::from_name(c)
                .ok_or_else(|| format!("{}:{}: unknown category {c}", path.display(), n + 1))?;
            let reason = f.collect::<Vec<_>>().join(" ");
            if reason.is_empty() {
                return Err(format!("{}:{}: a reason is needed", path.display(), n + 1));
            }
            rows.push((o.to_string(), p.to_string(), category, reason));
        }
        Ok(Expected(rows))
    }

    fn reason(&self, object: &str, program: &str, category: Category) -> Option<String> {
        self.0
            .iter()
            .find(|(o, p, c, _)| o == object && (p == "*" || p == program) && *c == category)
            .map(|r| r.3.clone())
    }
}

/// A verdict in one line.
pub fn describe(v: Option<&Verdict>) -> String {
    match v {
        Some(Verdict::Loaded(f)) => format!("loaded, tag {}", f.tag),
        Some(Verdict::Refused { stage, message }) => format!("refused ({stage}): {message}"),
        None => "no verdict".into(),
    }
}

/// The comparison of one object.
#[derive(Debug, Default)]
pub struct ObjectComparison {
    /// The object's file name.
    pub object: String,
    /// Programs each loader saw.
    pub programs: usize,
    /// (program, libbpf's verdict, oxbpf's verdict) for every program both saw.
    pub rows: Vec<(String, Option<Verdict>, Option<Verdict>)>,
    /// Differences.
    pub differences: Vec<Difference>,
    /// Seconds each child took (libbpf, oxbpf).
    pub seconds: (f64, f64),
    /// What ended a child abnormally.
    pub crashed: Option<String>,
}

/// Every object compared.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Per object.
    pub objects: Vec<ObjectComparison>,
}

impl Comparison {
    /// Differences no expected row explains.
    pub fn unexpected(&self) -> usize {
        self.differences().filter(|d| d.expected.is_none()).count()
    }

    /// Every difference.
    pub fn differences(&self) -> impl Iterator<Item = &Difference> {
        self.objects.iter().flat_map(|o| o.differences.iter())
    }
}

fn facts_differ(a: &Verdict, b: &Verdict) -> Option<(Category, String, String)> {
    let (Verdict::Loaded(l), Verdict::Loaded(o)) = (a, b) else {
        return None;
    };
    if l.tag != o.tag {
        return Some((
            Category::Tag,
            format!("tag {}", l.tag),
            format!("tag {}", o.tag),
        ));
    }
    if l.maps != o.maps {
        return Some((Category::Maps, l.maps.join(" "), o.maps.join(" ")));
    }
    if l.xlated != o.xlated {
        return Some((
            Category::Xlated,
            format!("xlated {}", l.xlated),
            format!("xlated {}", o.xlated),
        ));
    }
    if (l.func_info, l.line_info) != (o.func_info, o.line_info) {
        return Some((
            Category::Info,
            format!("func_info {} line_info {}", l.func_info, l.line_info),
            format!("func_info {} line_info {}", o.func_info, o.line_info),
        ));
    }
    None
}

/// Compares one object's two runs.
pub fn compare(r: &ObjectResult, expected: &Expected) -> ObjectComparison {
    let object = display_name(&r.path);
    let mut c = ObjectComparison {
        object: object.clone(),
        seconds: (
            r.libbpf.elapsed.as_secs_f64(),
            r.oxbpf.elapsed.as_secs_f64(),
        ),
        ..Default::default()
    };
    let mut diff = |program: &str, category: Category, libbpf: String, oxbpf: String| {
        c.differences.push(Difference {
            object: object.clone(),
            program: program.to_string(),
            category,
            libbpf,
            oxbpf,
            expected: expected.reason(&object, program, category),
        });
    };
    let (l, o) = match (&r.libbpf.run, &r.oxbpf.run) {
        (Ok(l), Ok(o)) => (l, o),
        (l, o) => {
            let side = |x: &Result<ObjectRun, String>| match x {
                Ok(_) => "finished".to_string(),
                Err(e) => e.clone(),
            };
            let (ls, os) = (side(l), side(o));
            c.crashed = Some(format!("libbpf: {ls}; oxbpf: {os}"));
            diff("*", Category::Crash, ls, os);
            return c;
        }
    };
    if o.leaked_fds > 0 {
        diff(
            "*",
            Category::Leak,
            format!("{} fds left", l.leaked_fds),
            format!("{} fds left", o.leaked_fds),
        );
    }
    // A side that could not open the object refuses each program the other side saw.
    let unopened = |run: &ObjectRun, other: &ObjectRun| -> Vec<ProgRow> {
        match &run.open_error {
            None => run.programs.clone(),
            Some(e) => other
                .programs
                .iter()
                .map(|p| ProgRow {
                    verdict: Some(Verdict::refused("open", e)),
                    ..p.clone()
                })
                .collect(),
        }
    };
    let (lprogs, oprogs) = (unopened(l, o), unopened(o, l));
    let names: BTreeSet<&str> = lprogs
        .iter()
        .chain(&oprogs)
        .map(|p| p.name.as_str())
        .collect();
    let mut program_differences = 0;
    for name in names {
        let find = |v: &'_ [ProgRow]| v.iter().find(|p| p.name == name).cloned();
        match (find(&lprogs), find(&oprogs)) {
            (Some(lp), Some(op)) => {
                c.programs += 1;
                let (lv, ov) = (lp.verdict.as_ref(), op.verdict.as_ref());
                let cat = match (lv, ov) {
                    (Some(Verdict::Loaded(_)), Some(Verdict::Refused { .. })) => {
                        Some((Category::OnlyLibbpf, describe(lv), describe(ov)))
                    }
                    (Some(Verdict::Refused { .. }), Some(Verdict::Loaded(_))) => {
                        Some((Category::OnlyOxbpf, describe(lv), describe(ov)))
                    }
                    (Some(a), Some(b)) => facts_differ(a, b),
                    _ => None,
                };
                if let Some((cat, ls, os)) = cat {
                    program_differences += 1;
                    diff(name, cat, ls, os);
                }
                c.rows
                    .push((name.to_string(), lp.verdict.clone(), op.verdict.clone()));
            }
            (lp, op) => {
                program_differences += 1;
                let seen = |p: Option<ProgRow>| match p {
                    Some(p) => format!("program in {}", p.section),
                    None => "no such program".to_string(),
                };
                diff(name, Category::Programs, seen(lp), seen(op));
            }
        }
    }
    let ok = |w: &Option<Result<(), String>>| matches!(w, Some(Ok(())));
    let both_opened = l.open_error.is_none() && o.open_error.is_none();
    if both_opened && program_differences == 0 && ok(&l.whole) != ok(&o.whole) {
        let say = |w: &Option<Result<(), String>>| match w {
            Some(Ok(())) => "whole object loads".to_string(),
            Some(Err(e)) => e.clone(),
            None => "not opened".to_string(),
        };
        diff("*", Category::Whole, say(&l.whole), say(&o.whole));
    }
    // The maps of the first load that succeeded on each side (every map is made
    // whichever programs load).
    if !l.maps.is_empty() && !o.maps.is_empty() && l.maps != o.maps {
        let only = |a: &[String], b: &[String]| {
            a.iter()
                .filter(|m| !b.contains(m))
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        };
        diff(
            "*",
            Category::ObjectMaps,
            only(&l.maps, &o.maps),
            only(&o.maps, &l.maps),
        );
    }
    c
}

/// Compares every object.
pub fn compare_all(results: &[ObjectResult], expected: &Expected) -> Comparison {
    Comparison {
        objects: results.iter().map(|r| compare(r, expected)).collect(),
    }
}

/// A progress line for one object.
pub fn one_line_summary(r: &ObjectResult, expected: &Expected) -> String {
    let c = compare(r, expected);
    let unexpected = c
        .differences
        .iter()
        .filter(|d| d.expected.is_none())
        .count();
    let agree = c
        .programs
        .saturating_sub(c.differences.iter().filter(|d| d.program != "*").count());
    format!(
        "{} programs, {agree} agree, {} differ ({unexpected} unexpected) [{:.1}s/{:.1}s]",
        c.programs,
        c.differences.len(),
        c.seconds.0,
        c.seconds.1
    )
}
