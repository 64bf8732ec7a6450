//! `oxbpf extract FILE [--out DIR]`: write out the BPF objects a program embeds. A
//! libbpf skeleton compiles the whole `.bpf.o` into its tool, so the object behind any
//! libbpf-based binary (libbpf-tools, bpftool, many daemons) can be inspected, checked
//! and loaded on its own.

use std::fmt::Write as _;
use std::path::Path;

use oxbpf_loader::Object;
use oxbpf_loader::embedded::find_objects;

use crate::CliError;

/// Runs `extract`.
pub fn run(file: &Path, out_dir: &Path) -> Result<String, CliError> {
    let data = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if !out_dir.is_dir() {
        return Err(format!(
            "--out {}: no such directory (create it first; without --out, objects go to the current directory)",
            out_dir.display()
        )
        .into());
    }
    let found = find_objects(&data);
    if found.is_empty() {
        return Err(format!("{}: embeds no BPF object", file.display()).into());
    }
    let stem = file
        .file_name()
        .map_or_else(|| "object".to_string(), |n| n.to_string_lossy().to_string());
    let stem = stem.strip_suffix(".o").unwrap_or(&stem).to_string();
    let mut out = String::new();
    for (i, (offset, bytes)) in found.iter().enumerate() {
        let name = if found.len() == 1 {
            format!("{stem}.bpf.o")
        } else {
            format!("{stem}-{}.bpf.o", i + 1)
        };
        let path = out_dir.join(&name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let programs = Object::parse(&name, bytes).map_or_else(
            |e| format!("does not parse: {e}"),
            |o| {
                let names: Vec<&str> = o.programs.iter().map(|p| p.name()).collect();
                format!("programs {}", names.join(", "))
            },
        );
        let _ = writeln!(
            out,
            "{}: {} bytes from offset {offset:#x}; {programs}",
            path.display(),
            bytes.len()
        );
    }
    Ok(out)
}
