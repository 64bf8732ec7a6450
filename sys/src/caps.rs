//! Which Linux capabilities this process holds, read from `/proc/self/status`.
//!
//! Used to say *why* a `bpf()` call is refused (a one-line hint about `CAP_BPF`) and by
//! the kernel test gate to decide whether a privileged test can run.

use std::fmt;

/// A Linux capability number (`include/uapi/linux/capability.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap(pub u32);

impl Cap {
    /// `CAP_NET_ADMIN`: netlink XDP/tc attach, some map types.
    pub const NET_ADMIN: Cap = Cap(12);
    /// `CAP_SYS_ADMIN`: everything BPF before 5.8, and still some commands.
    pub const SYS_ADMIN: Cap = Cap(21);
    /// `CAP_PERFMON`: tracing programs and pointer leaks, since 5.8.
    pub const PERFMON: Cap = Cap(38);
    /// `CAP_BPF`: map creation and program loading, since 5.8.
    pub const BPF: Cap = Cap(39);

    /// The kernel's name for the capability.
    pub fn name(self) -> &'static str {
        match self.0 {
            12 => "CAP_NET_ADMIN",
            21 => "CAP_SYS_ADMIN",
            38 => "CAP_PERFMON",
            39 => "CAP_BPF",
            _ => "CAP_?",
        }
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The effective capability set of this process (`CapEff` in `/proc/self/status`), or
/// `None` if it cannot be read (no procfs).
pub fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Whether this process holds `cap` (false if procfs cannot tell).
pub fn has(cap: Cap) -> bool {
    effective().is_some_and(|set| cap.0 < 64 && set & (1 << cap.0) != 0)
}

/// Whether this process may create maps and load programs: `CAP_BPF`, or
/// `CAP_SYS_ADMIN` on kernels older than 5.8 that have no `CAP_BPF`.
pub fn can_bpf() -> bool {
    has(Cap::BPF) || has(Cap::SYS_ADMIN)
}

/// Whether this process runs in a user namespace other than the initial one (its
/// `uid_map` is not the identity over all ids): there the kernel takes `bpf()` only
/// with a BPF token, whatever capabilities the namespace gives.
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
        let fields: Vec<&str> = m.split_whitespace().collect();
        fields != ["0", "0", "4294967295"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cap_eff_line() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_ffff_ffff));
        assert_eq!(parse_cap_eff("Name: x\n"), None);
        assert_eq!(parse_cap_eff("CapEff:\tzz\n"), None);
    }
}
