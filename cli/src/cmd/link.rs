//! `oxbpf link OUT IN...`: static linking of BPF objects into one, as
//! `bpftool gen object` does, by `oxbpf_obj::link` (no libbpf).

use std::path::{Path, PathBuf};

use oxbpf_loader::link::link;

use crate::CliError;

/// Runs `link`: reads the inputs, links them, writes `out`. Nothing is written when
/// linking fails.
pub fn run(out: &Path, inputs: &[PathBuf]) -> Result<String, CliError> {
    let mut files = Vec::with_capacity(inputs.len());
    for p in inputs {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        files.push((p.display().to_string(), bytes));
    }
    let named: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let linked = link(&named)?;
    std::fs::write(out, &linked).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(format!(
        "{}: {} bytes, linked from {} objects\n",
        out.display(),
        linked.len(),
        inputs.len()
    ))
}
