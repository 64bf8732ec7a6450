//! `oxbpf check OBJ [--btf PATH ...]`: a portability report before shipping. Every CO-RE
//! relocation of the object is resolved against each BTF given (raw BTF as btfhub ships
//! it, an ELF with `.BTF`, or `vmlinux` for the running kernel), with no load and no
//! privileges; the report says what each resolves to or why it does not. The exit
//! status is 0 only when every relocation resolves against every BTF.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use oxbpf_loader::Object;
use oxbpf_loader::btf::Btf;
use oxbpf_loader::core::{CoreOutcome, CoreTargets, relocate_object};
use oxbpf_loader::prelude::*;

use crate::CliError;
use crate::json::Json;

/// The report, and whether everything resolved.
pub struct Report {
    /// The text or JSON to print.
    pub output: String,
    /// Every relocation resolved against every BTF.
    pub all_resolved: bool,
}

fn targets_for(source: &str) -> Result<CoreTargets, CliError> {
    if source == "vmlinux" {
        return Ok(oxbpf_loader::modules::running_kernel_targets(Arc::new(
            Btf::from_sysfs()?,
        )));
    }
    Ok(CoreTargets::custom(
        source,
        Arc::new(Btf::from_file(Path::new(source))?),
    ))
}

fn resolved(o: &CoreOutcome) -> bool {
    o.failure.is_none() && !o.fixup.poison
}

/// The relocations against one target: a line each in `text`, an item each returned.
fn report_outcomes(
    object: &str,
    source: &str,
    outcomes: &[CoreOutcome],
    text: &mut String,
) -> Vec<Json> {
    let ok = outcomes.iter().filter(|o| resolved(o)).count();
    let bad = outcomes.len() - ok;
    let _ = writeln!(
        text,
        "{object} against {source}: {} CO-RE relocations, {ok} resolved{}",
        outcomes.len(),
        if bad > 0 {
            format!(", {bad} unresolved")
        } else {
            String::new()
        }
    );
    let width = outcomes.iter().map(|o| o.local.len()).max().unwrap_or(0);
    let mut items = Vec::new();
    for o in outcomes {
        let place = format!("{}+{}", o.function, o.insn);
        let _ = writeln!(
            text,
            "  {place:<24} {:<14} {:<width$}  {}",
            o.kind.name(),
            o.local,
            result_text(o)
        );
        items.push(outcome_json(o));
    }
    items
}

/// `= VALUE  (where)` for a resolved relocation, `UNRESOLVED: why` otherwise.
fn result_text(o: &CoreOutcome) -> String {
    if !resolved(o) {
        return format!("UNRESOLVED: {}", o.failure.as_deref().unwrap_or("no match"));
    }
    match (&o.target, &o.no_match) {
        (Some(t), _) => format!(
            "= {}  ({})",
            o.fixup.new,
            t.split_once(": ").map_or(t.as_str(), |(_, s)| s)
        ),
        (None, Some(why)) => format!("= {}  ({why})", o.fixup.new),
        (None, None) => format!("= {}", o.fixup.new),
    }
}

fn outcome_json(o: &CoreOutcome) -> Json {
    Json::object()
        .with("function", o.function.as_str())
        .with("insn", o.insn)
        .with("kind", o.kind.name())
        .with("local", o.local.as_str())
        .with("access", o.access.as_str())
        .with("resolved", resolved(o))
        .with("target", o.target.clone())
        .with(
            "value",
            if o.fixup.poison {
                Json::Null
            } else {
                Json::from(o.fixup.new)
            },
        )
        .with("original", o.fixup.orig)
        .with("no_match", o.no_match.clone())
        .with("failure", o.failure.clone())
}

/// Runs `check`.
pub fn run(object: &Path, btfs: &[String], json: bool) -> Result<Report, CliError> {
    let obj = Object::open(object)?;
    let sources: Vec<String> = if btfs.is_empty() {
        vec!["vmlinux".to_string()]
    } else {
        btfs.to_vec()
    };
    let mut all_resolved = true;
    let mut text = String::new();
    let mut reports = Vec::new();
    for source in &sources {
        let mut copy = obj.clone();
        let result = targets_for(source).and_then(|t| Ok(relocate_object(&mut copy, t)?));
        match result {
            Err(e) => {
                all_resolved = false;
                let msg = crate::error_chain(e.as_ref());
                let _ = writeln!(text, "{} against {source}: error: {msg}", obj.name);
                reports.push(
                    Json::object()
                        .with("btf", source.as_str())
                        .with("error", msg),
                );
            }
            Ok(outcomes) => {
                all_resolved &= outcomes.iter().all(resolved);
                let items = report_outcomes(&obj.name, source, &outcomes, &mut text);
                reports.push(
                    Json::object()
                        .with("btf", source.as_str())
                        .with("relocations", Json::Array(items)),
                );
            }
        }
    }
    let output = if json {
        Json::object()
            .with("object", obj.name.as_str())
            .with("all_resolved", all_resolved)
            .with("reports", Json::Array(reports))
            .to_string()
            + "\n"
    } else {
        text
    };
    Ok(Report {
        output,
        all_resolved,
    })
}
