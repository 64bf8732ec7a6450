//! Symbol lookup in the binaries and libraries uprobes attach to: the file offset of a
//! function, as the uprobe PMU wants it (libbpf `elf_find_func_offset`).
//!
//! The symbol's address is a virtual address; the kernel wants the offset in the file,
//! so the address is translated through the loadable segment that contains it.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment, ObjectSymbol};

/// Where a library named without a directory (`libc.so.6`) is looked for, after
/// this architecture's multiarch directories (`/lib/x86_64-linux-gnu`,
/// `/lib/aarch64-linux-gnu`).
const LIBRARY_DIRS: [&str; 4] = ["/lib64", "/usr/lib64", "/lib", "/usr/lib"];

/// `path` as given, or for a bare library name the first standard directory holding it.
pub fn resolve_library(path: &Path) -> PathBuf {
    if path.components().count() > 1 || path.exists() {
        return path.to_path_buf();
    }
    let multiarch = oxbpf_sys::arch::multiarch_triplet()
        .map(|t| [format!("/lib/{t}"), format!("/usr/lib/{t}")])
        .into_iter()
        .flatten();
    multiarch
        .chain(LIBRARY_DIRS.iter().map(|d| d.to_string()))
        .map(|d| Path::new(&d).join(path))
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
    segment_offset(&file, addr).ok_or_else(|| {
        format!(
            "{}: `{symbol}` is at {addr:#x}, which no loadable segment holds",
            path.display()
        )
    })
}

/// Whether `name` matches the glob `pattern` (`*` any run, `?` one character), as
/// libbpf matches `uprobe.multi` and `kprobe.multi` patterns.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Every function in the ELF file at `path` whose name matches `pattern`, with its
/// file offset, sorted by name; each name once.
///
/// # Errors
/// As [`file_offset`]; no match is an error too.
pub fn file_offsets_matching(path: &Path, pattern: &str) -> Result<Vec<(String, u64)>, String> {
    let path = resolve_library(path);
    let data = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{}: not an ELF file: {e}", path.display()))?;
    let mut found: Vec<(String, u64)> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.is_definition() && s.address() != 0 && s.kind() == object::SymbolKind::Text)
        .filter_map(|s| {
            let name = s.name().ok()?;
            let name = name.split('@').next().unwrap_or(name);
            glob_match(pattern, name).then(|| (name.to_string(), s.address()))
        })
        .collect();
    found.sort_unstable();
    found.dedup_by(|a, b| a.0 == b.0);
    if found.is_empty() {
        return Err(format!(
            "{} has no function matching `{pattern}`",
            path.display()
        ));
    }
    found
        .into_iter()
        .map(|(name, addr)| {
            segment_offset(&file, addr)
                .map(|o| (name.clone(), o))
                .ok_or_else(|| {
                    format!(
                        "{}: `{name}` is at {addr:#x}, which no loadable segment holds",
                        path.display()
                    )
                })
        })
        .collect()
}

/// The file offset of virtual address `addr`, through the segment holding it.
fn segment_offset(file: &object::File<'_>, addr: u64) -> Option<u64> {
    file.segments().find_map(|seg| {
        let (start, size) = (seg.address(), seg.size());
        (addr >= start && addr < start + size).then(|| addr - start + seg.file_range().0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_libbpf() {
        assert!(glob_match("oxbpf_*", "oxbpf_uprobe_target"));
        assert!(glob_match("*target?", "oxbpf_uprobe_target2"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("abc", "abcd"));
    }

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

/// The kernel functions whose names match the glob `pattern`, for `kprobe.multi`:
/// from tracefs `available_filter_functions` (the functions ftrace can hook), or
/// `/proc/kallsyms` text symbols when that is unreadable. Sorted, without duplicates
/// (a name that appears in several modules is hooked once, by name, as libbpf does).
///
/// # Errors
/// Neither list can be read.
pub fn kernel_functions_matching(pattern: &str) -> Result<Vec<String>, String> {
    match oxbpf_sys::perf::read_tracefs("available_filter_functions") {
        Ok(text) => Ok(match_filter_functions(
            &String::from_utf8_lossy(&text),
            pattern,
        )),
        Err(e) => {
            log::debug!("available_filter_functions unreadable ({e}); matching /proc/kallsyms");
            let text = std::fs::read_to_string("/proc/kallsyms")
                .map_err(|e| format!("cannot read /proc/kallsyms: {e}"))?;
            Ok(match_kallsyms(&text, pattern))
        }
    }
}

/// Matches lines of `available_filter_functions` (`name` or `name [module]`).
fn match_filter_functions(text: &str, pattern: &str) -> Vec<String> {
    sorted_matches(
        text.lines()
            .filter_map(|l| l.split_whitespace().next())
            // ftrace lists functions it lost track of under this name.
            .filter(|n| !n.starts_with("__ftrace_invalid_address__")),
        pattern,
    )
}

/// Matches the text symbols (`t`/`T`) of `/proc/kallsyms` (`addr type name [module]`).
fn match_kallsyms(text: &str, pattern: &str) -> Vec<String> {
    sorted_matches(
        text.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (_, kind, name) = (f.next()?, f.next()?, f.next()?);
                matches!(kind, "t" | "T").then_some(name)
            })
            // Compiler-made clones (`foo.cold`, `foo.isra.0`) are not hookable by name.
            .filter(|n| !n.contains('.')),
        pattern,
    )
}

/// The names matching `pattern`, sorted, each once.
fn sorted_matches<'a>(names: impl Iterator<Item = &'a str>, pattern: &str) -> Vec<String> {
    let mut out: Vec<String> = names
        .filter(|n| glob_match(pattern, n))
        .map(str::to_string)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod kernel_function_tests {
    use super::*;

    #[test]
    fn filter_functions_are_matched_sorted_and_once() {
        let text = "do_unlinkat\nvfs_read\nvfs_write\nvfs_readv [ext4]\n\
                    __ftrace_invalid_address___123\nvfs_read [xfs]\n";
        assert_eq!(
            match_filter_functions(text, "vfs_read*"),
            ["vfs_read", "vfs_readv"]
        );
        assert!(match_filter_functions(text, "nothing*").is_empty());
    }

    #[test]
    fn kallsyms_text_symbols_only() {
        let text = "ffffffff81000000 T _stext\n\
                    ffffffff81001000 t vfs_read_iter\n\
                    ffffffff81002000 D vfs_read_table\n\
                    ffffffff81003000 t vfs_read.cold\n\
                    ffffffff81004000 T vfs_read\n";
        assert_eq!(
            match_kallsyms(text, "vfs_read*"),
            ["vfs_read", "vfs_read_iter"]
        );
    }
}
