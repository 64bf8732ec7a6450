//! Symbol lookup in the binaries and libraries uprobes attach to: the file offset of a
//! function, as the uprobe PMU wants it (libbpf `elf_find_func_offset`).
//!
//! The symbol's address is a virtual address; the kernel wants the offset in the file,
//! so the address is translated through the loadable segment that contains it.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment, ObjectSymbol};

/// Where a library named without a directory (`libc.so.6`) is looked for.
const LIBRARY_DIRS: [&str; 6] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// `path` as given, or for a bare library name the first standard directory holding it.
pub fn resolve_library(path: &Path) -> PathBuf {
    if path.components().count() > 1 || path.exists() {
        return path.to_path_buf();
    }
    LIBRARY_DIRS
        .iter()
        .map(|d| Path::new(d).join(path))
        .find(|p| p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

/// The file offset of function `symbol` in the ELF file at `path`: from `.symtab`, else
/// `.dynsym` (stripped binaries keep only that). A symbol versioned in the dynamic table
/// (`malloc@@GLIBC_2.2.5`) matches by its bare name too.
///
/// # Errors
/// A sentence: the file cannot be read or parsed, the symbol is absent or not a function
/// with an address, or no segment holds it.
pub fn file_offset(path: &Path, symbol: &str) -> Result<u64, String> {
    let path = resolve_library(path);
    let data = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{}: not an ELF file: {e}", path.display()))?;
    let bare = |n: &str| n.split('@').next().unwrap_or(n).to_string();
    let found = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.is_definition() && s.address() != 0)
        .find(|s| s.name().is_ok_and(|n| n == symbol || bare(n) == symbol))
        .ok_or_else(|| {
            format!(
                "{} has no function `{symbol}` in its symbol tables",
                path.display()
            )
        })?;
    let addr = found.address();
    for seg in file.segments() {
        let (start, size) = (seg.address(), seg.size());
        if addr >= start && addr < start + size {
            let (file_start, _) = seg.file_range();
            return Ok(addr - start + file_start);
        }
    }
    Err(format!(
        "{}: `{symbol}` is at {addr:#x}, which no loadable segment holds",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_functions_in_libc_and_says_what_is_missing() {
        let libc = resolve_library(Path::new("libc.so.6"));
        if !libc.exists() {
            return; // not a glibc system
        }
        let malloc = file_offset(&libc, "malloc").unwrap();
        let free = file_offset(&libc, "free").unwrap();
        assert!(malloc > 0 && free > 0 && malloc != free);
        let err = file_offset(&libc, "oxbpf_no_such_function").unwrap_err();
        assert!(
            err.ends_with("has no function `oxbpf_no_such_function` in its symbol tables"),
            "{err}"
        );
        let err = file_offset(Path::new("/nonexistent/bin"), "main").unwrap_err();
        assert!(err.starts_with("cannot read /nonexistent/bin"), "{err}");
    }
}
