//! CPUs the kernel can use, for per-CPU map values and perf event arrays.

use std::io;

/// Parses a CPU list such as `0-3,8,10-11` into its numbers.
pub fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// How many CPUs the kernel may ever bring up (`/sys/devices/system/cpu/possible`):
/// per-CPU maps hold one value for each, numbered up to the highest.
///
/// # Errors
/// If the file cannot be read or parsed.
pub fn possible_cpus() -> io::Result<u32> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let cpus = parse_cpu_list(&text).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("bad CPU list {text:?}"))
    })?;
    Ok(cpus.iter().max().map_or(1, |m| m + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert!(possible_cpus().unwrap() >= 1);
    }
}
