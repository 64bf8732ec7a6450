//! The running kernel's version, from `uname(2)`.

use std::fmt;

/// A kernel version `major.minor.patch`, ordered as versions are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// Major (6 in 6.18.2).
    pub major: u32,
    /// Minor (18 in 6.18.2).
    pub minor: u32,
    /// Patch level (2 in 6.18.2), 0 when absent.
    pub patch: u32,
}

impl KernelVersion {
    /// A version.
    pub const fn new(major: u32, minor: u32, patch: u32) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch,
        }
    }

    /// Parses the start of a release string such as `6.18.44-fc-v657` or `5.10.0-31-amd64`.
    pub fn parse(release: &str) -> Option<KernelVersion> {
        let mut nums = release
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u32>());
        let major = nums.next()?.ok()?;
        let minor = nums.next()?.ok()?;
        // Only take a patch level that directly follows "major.minor.".
        let rest = release.splitn(3, '.').nth(2).unwrap_or("");
        let patch = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        Some(KernelVersion {
            major,
            minor,
            patch,
        })
    }

    /// The running kernel's version, or `None` if `uname` fails or says something odd.
    pub fn current() -> Option<KernelVersion> {
        let uts = nix::sys::utsname::uname().ok()?;
        KernelVersion::parse(&uts.release().to_string_lossy())
    }

    /// `LINUX_VERSION_CODE` encoding: `major << 16 | minor << 8 | min(patch, 255)`.
    pub fn code(&self) -> u32 {
        (self.major << 16) | (self.minor << 8) | self.patch.min(255)
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_strings() {
        assert_eq!(
            KernelVersion::parse("6.18.44-fc-v657"),
            Some(KernelVersion::new(6, 18, 44))
        );
        assert_eq!(
            KernelVersion::parse("5.10.0-31-cloud-amd64"),
            Some(KernelVersion::new(5, 10, 0))
        );
        assert_eq!(
            KernelVersion::parse("6.1-rc3"),
            Some(KernelVersion::new(6, 1, 0))
        );
        assert_eq!(KernelVersion::parse("garbage"), None);
        assert!(KernelVersion::new(5, 10, 0) < KernelVersion::new(6, 1, 0));
        assert_eq!(KernelVersion::new(6, 18, 300).code(), 0x0612ff);
        assert!(KernelVersion::current().is_some());
    }
}
