//! Where the objects come from: named corpora and paths.

use std::path::{Path, PathBuf};

/// A scratch directory for objects extracted from programs, removed on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// Makes a fresh directory under the temporary directory.
    pub fn new() -> Result<Scratch, String> {
        let dir = std::env::temp_dir().join(format!("oxbpf-conformance-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Scratch(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The files a Debian package installed, from dpkg's list.
fn package_files(package: &str) -> Result<Vec<PathBuf>, String> {
    let list = format!("/var/lib/dpkg/info/{package}.list");
    let text = std::fs::read_to_string(&list).map_err(|e| {
        format!("{package} is not installed ({list}: {e}); apt-get install {package}")
    })?;
    Ok(text
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect())
}

/// The built selftests corpus (`scripts/selftests-corpus.sh`).
fn selftests_dir() -> PathBuf {
    std::env::var_os("OXBPF_SELFTESTS_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp/oxbpf-selftests"), PathBuf::from)
        .join("obj")
}

/// The objects of corpus `name`, sorted.
pub fn objects(name: &str, scratch: &Scratch) -> Result<Vec<PathBuf>, String> {
    let mut out = match name {
        "testdata" => dir_objects(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata"))?,
        "debian" => {
            let mut v = Vec::new();
            for tool in package_files("libbpf-tools")?
                .into_iter()
                .filter(|p| p.starts_with("/usr/sbin"))
            {
                v.extend(extract(&tool, scratch)?);
            }
            v.extend(
                package_files("xdp-tools")?
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "o")),
            );
            v.extend(
                package_files("golang-github-cilium-ebpf-dev")?
                    .into_iter()
                    .filter(|p| p.to_string_lossy().ends_with("-el.elf")),
            );
            v
        }
        "selftests" => {
            let dir = selftests_dir();
            if !dir.is_dir() {
                return Err(format!(
                    "{} does not exist: build the corpus first with scripts/selftests-corpus.sh",
                    dir.display()
                ));
            }
            dir_objects(&dir)?
        }
        path => {
            let p = Path::new(path);
            if p.is_dir() {
                dir_objects(p)?
            } else if is_bpf_object(p) {
                vec![p.to_path_buf()]
            } else {
                extract(p, scratch)?
            }
        }
    };
    out.sort();
    Ok(out)
}

fn is_bpf_object(p: &Path) -> bool {
    let mut head = [0u8; 20];
    use std::io::Read as _;
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head.starts_with(b"\x7fELF")
        && (u16::from_le_bytes([head[18], head[19]]) == 247
            || u16::from_be_bytes([head[18], head[19]]) == 247)
}

fn dir_objects(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(dir_objects(&p)?);
        } else if is_bpf_object(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Writes the objects embedded in program `prog` (a libbpf skeleton's) to the scratch
/// directory as `<program>.bpf.o` (`<program>.N.bpf.o` when there are several).
fn extract(prog: &Path, scratch: &Scratch) -> Result<Vec<PathBuf>, String> {
    let data = std::fs::read(prog).map_err(|e| format!("{}: {e}", prog.display()))?;
    let found = oxbpf_loader::embedded::find_objects(&data);
    let stem = prog
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, (_, bytes)) in found.iter().enumerate() {
        let name = if found.len() == 1 {
            format!("{stem}.bpf.o")
        } else {
            format!("{stem}.{i}.bpf.o")
        };
        let path = scratch.0.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        out.push(path);
    }
    Ok(out)
}

/// What the report says about a corpus besides its objects: package versions for
/// `debian`, the sources that did not compile for `selftests`.
pub fn notes(name: &str) -> Vec<String> {
    match name {
        "debian" => ["libbpf-tools", "xdp-tools", "golang-github-cilium-ebpf-dev"]
            .iter()
            .map(|p| format!("{p} {}", package_version(p)))
            .collect(),
        "selftests" => {
            let dir = selftests_dir();
            let mut out = Vec::new();
            let root = dir.parent().map(Path::to_path_buf).unwrap_or_default();
            for (file, what) in [
                (
                    "compile-failures.txt",
                    "sources that do not compile against this kernel's vmlinux.h (skipped)",
                ),
                (
                    "link-failures.txt",
                    "multi-file objects `bpftool gen object` could not link (skipped)",
                ),
            ] {
                if let Ok(text) = std::fs::read_to_string(root.join(file)) {
                    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                    out.push(format!("{} {what}:", lines.len()));
                    out.extend(lines.iter().map(|l| format!("  {l}")));
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

fn package_version(package: &str) -> String {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "(version unknown)".to_string(),
            |o| String::from_utf8_lossy(&o.stdout).to_string(),
        )
}
