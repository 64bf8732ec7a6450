//! Which Linux capabilities this process holds, read from `/proc/self/status`, and which
//! ones the kernel checks for each kind of BPF object.
//!
//! Used to say *which* capability is missing when a call is refused ("needs CAP_BPF and
//! CAP_PERFMON (this process has CAP_BPF but not CAP_PERFMON)") and by the kernel test
//! gate to decide whether a privileged test can run. The per-type rules live here and
//! nowhere else ([`needed_to_load`], [`needed_to_attach`], [`needed_to_create`]); the
//! table in `docs/privileges.md` says the same in prose, with what was verified.

use std::fmt;

use crate::uapi::{MapType, ProgType};

/// A Linux capability number (`include/uapi/linux/capability.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap(pub u32);

impl Cap {
    /// `CAP_DAC_OVERRIDE`: writing files whatever their mode (tracefs `kprobe_events`).
    pub const DAC_OVERRIDE: Cap = Cap(1);
    /// `CAP_DAC_READ_SEARCH`: reading files and directories whatever their mode (a
    /// tracefs readable by root only).
    pub const DAC_READ_SEARCH: Cap = Cap(2);
    /// `CAP_NET_ADMIN`: network program types, netlink XDP/tc attach, some map types.
    pub const NET_ADMIN: Cap = Cap(12);
    /// `CAP_NET_RAW`: raw (`AF_PACKET`) sockets, where socket filters attach.
    pub const NET_RAW: Cap = Cap(13);
    /// `CAP_SYS_ADMIN`: everything BPF before 5.8, and still listing by id and mounts.
    pub const SYS_ADMIN: Cap = Cap(21);
    /// `CAP_PERFMON`: tracing programs and pointer leaks, since 5.8.
    pub const PERFMON: Cap = Cap(38);
    /// `CAP_BPF`: map creation and program loading, since 5.8.
    pub const BPF: Cap = Cap(39);

    /// The kernel's name for the capability.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "CAP_DAC_OVERRIDE",
            2 => "CAP_DAC_READ_SEARCH",
            12 => "CAP_NET_ADMIN",
            13 => "CAP_NET_RAW",
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

/// The capabilities `bpf(BPF_PROG_LOAD)` checks for a program of type `t`, as
/// `bpf_prog_load` in kernel/bpf/syscall.c does (5.8+): `CAP_BPF` for every type, plus
/// `CAP_NET_ADMIN` for the types of `is_net_admin_prog_type` and `CAP_PERFMON` for
/// those of `is_perfmon_prog_type` (`ext` is in both: it can replace any program).
///
/// Socket filters and cgroup_skb programs load without `CAP_BPF` only when
/// `kernel.unprivileged_bpf_disabled` is 0, which distributions no longer ship: where a
/// load of one is refused, `CAP_BPF` is what is missing, so it is listed.
pub fn needed_to_load(t: ProgType) -> &'static [Cap] {
    const BPF: &[Cap] = &[Cap::BPF];
    const NET: &[Cap] = &[Cap::BPF, Cap::NET_ADMIN];
    const PERF: &[Cap] = &[Cap::BPF, Cap::PERFMON];
    const BOTH: &[Cap] = &[Cap::BPF, Cap::NET_ADMIN, Cap::PERFMON];
    match t {
        ProgType::EXT => BOTH,
        ProgType::SCHED_CLS
        | ProgType::SCHED_ACT
        | ProgType::XDP
        | ProgType::LWT_IN
        | ProgType::LWT_OUT
        | ProgType::LWT_XMIT
        | ProgType::LWT_SEG6LOCAL
        | ProgType::SK_SKB
        | ProgType::SK_MSG
        | ProgType::FLOW_DISSECTOR
        | ProgType::CGROUP_DEVICE
        | ProgType::CGROUP_SOCK
        | ProgType::CGROUP_SOCK_ADDR
        | ProgType::CGROUP_SOCKOPT
        | ProgType::CGROUP_SYSCTL
        | ProgType::SOCK_OPS
        | ProgType::NETFILTER => NET,
        ProgType::KPROBE
        | ProgType::TRACEPOINT
        | ProgType::PERF_EVENT
        | ProgType::RAW_TRACEPOINT
        | ProgType::RAW_TRACEPOINT_WRITABLE
        | ProgType::TRACING
        | ProgType::LSM
        | ProgType::STRUCT_OPS => PERF,
        _ => BPF,
    }
}

/// The capabilities attaching a loaded program of type `t` through `bpf()` needs: those
/// of [`needed_to_load`], and `CAP_NET_ADMIN` for cgroup_skb programs, which load
/// without it and are checked when attached (`bpf_prog_attach_check_attach_type`).
///
/// Not counted here, because they are not `bpf()` checks: the perf event a tracepoint,
/// kprobe or uprobe program goes on (`perf_event_open`: `CAP_PERFMON`, which loading
/// needed already), tracefs access for tracepoint ids and probe events, the raw socket
/// of a socket filter (`CAP_NET_RAW`), and rtnetlink for netlink XDP and tc
/// (`CAP_NET_ADMIN`, which loading needed already).
pub fn needed_to_attach(t: ProgType) -> &'static [Cap] {
    match t {
        ProgType::CGROUP_SKB => &[Cap::BPF, Cap::NET_ADMIN],
        t => needed_to_load(t),
    }
}

/// The capabilities `bpf(BPF_MAP_CREATE)` checks for a map of type `t` (`map_create` in
/// kernel/bpf/syscall.c): `CAP_NET_ADMIN` for socket, device and XSK maps, `CAP_BPF`
/// for the others (the few that need none without `unprivileged_bpf_disabled` are
/// counted as needing `CAP_BPF`, as for [`needed_to_load`]).
pub fn needed_to_create(t: MapType) -> &'static [Cap] {
    match t {
        MapType::SOCKMAP
        | MapType::SOCKHASH
        | MapType::DEVMAP
        | MapType::DEVMAP_HASH
        | MapType::XSKMAP => &[Cap::NET_ADMIN],
        _ => &[Cap::BPF],
    }
}

/// Whether the capability set `eff` satisfies the kernel's check for `cap` in BPF and
/// perf calls: `bpf_token_capable` and `perfmon_capable` accept `CAP_SYS_ADMIN` in
/// place of `CAP_BPF`, `CAP_PERFMON` or `CAP_NET_ADMIN`. Other capabilities count only
/// as themselves.
fn satisfied(eff: u64, cap: Cap) -> bool {
    let bit = |c: Cap| c.0 < 64 && eff & (1 << c.0) != 0;
    bit(cap) || (matches!(cap, Cap::BPF | Cap::PERFMON | Cap::NET_ADMIN) && bit(Cap::SYS_ADMIN))
}

/// "CAP_A", "CAP_A and CAP_B", "CAP_A, CAP_B and CAP_C".
fn list(caps: &[Cap]) -> String {
    match caps {
        [] => String::new(),
        [one] => one.name().to_string(),
        [init @ .., last] => format!(
            "{} and {last}",
            init.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The sentence for a refusal of something that needs `needed`, given the effective set
/// `eff`: "needs CAP_BPF and CAP_PERFMON (this process has CAP_BPF but not
/// CAP_PERFMON)". `None` when `eff` holds all of them: the refusal has another cause.
pub fn describe(needed: &[Cap], eff: u64) -> Option<String> {
    let (held, missing): (Vec<Cap>, Vec<Cap>) = needed.iter().partition(|&&c| satisfied(eff, c));
    if missing.is_empty() {
        return None;
    }
    let state = if held.is_empty() {
        format!("this process lacks {}", list(&missing))
    } else {
        format!(
            "this process has {} but not {}",
            list(&held),
            list(&missing)
        )
    };
    Some(format!("needs {} ({state})", list(needed)))
}

/// [`describe`] for this process. `None` when it holds all of `needed`, or when procfs
/// cannot tell what it holds.
pub fn missing(needed: &[Cap]) -> Option<String> {
    describe(needed, effective()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &[Cap]) -> u64 {
        caps.iter().fold(0, |s, c| s | 1 << c.0)
    }

    #[test]
    fn reads_cap_eff_line() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_ffff_ffff));
        assert_eq!(parse_cap_eff("Name: x\n"), None);
        assert_eq!(parse_cap_eff("CapEff:\tzz\n"), None);
    }

    #[test]
    fn program_types_need_what_bpf_prog_load_checks() {
        use ProgType as T;
        assert_eq!(needed_to_load(T::TRACEPOINT), [Cap::BPF, Cap::PERFMON]);
        assert_eq!(needed_to_load(T::KPROBE), [Cap::BPF, Cap::PERFMON]);
        assert_eq!(needed_to_load(T::STRUCT_OPS), [Cap::BPF, Cap::PERFMON]);
        assert_eq!(needed_to_load(T::XDP), [Cap::BPF, Cap::NET_ADMIN]);
        assert_eq!(needed_to_load(T::SCHED_CLS), [Cap::BPF, Cap::NET_ADMIN]);
        assert_eq!(needed_to_load(T::CGROUP_SOCK), [Cap::BPF, Cap::NET_ADMIN]);
        assert_eq!(needed_to_load(T::NETFILTER), [Cap::BPF, Cap::NET_ADMIN]);
        assert_eq!(
            needed_to_load(T::EXT),
            [Cap::BPF, Cap::NET_ADMIN, Cap::PERFMON]
        );
        // "always unpriv" and "equivalent to SOCKET_FILTER" in the kernel's list.
        assert_eq!(needed_to_load(T::CGROUP_SKB), [Cap::BPF]);
        assert_eq!(needed_to_load(T::SK_REUSEPORT), [Cap::BPF]);
        assert_eq!(needed_to_load(T::SOCKET_FILTER), [Cap::BPF]);
        assert_eq!(needed_to_load(T::SYSCALL), [Cap::BPF]);
        // cgroup_skb is checked when attached instead.
        assert_eq!(needed_to_attach(T::CGROUP_SKB), [Cap::BPF, Cap::NET_ADMIN]);
        assert_eq!(needed_to_attach(T::XDP), needed_to_load(T::XDP));
        assert_eq!(needed_to_create(MapType::DEVMAP), [Cap::NET_ADMIN]);
        assert_eq!(needed_to_create(MapType::RINGBUF), [Cap::BPF]);
    }

    #[test]
    fn the_sentence_names_what_is_missing() {
        let perf = needed_to_load(ProgType::TRACEPOINT);
        assert_eq!(
            describe(perf, set(&[Cap::BPF])).as_deref(),
            Some("needs CAP_BPF and CAP_PERFMON (this process has CAP_BPF but not CAP_PERFMON)")
        );
        assert_eq!(
            describe(perf, 0).as_deref(),
            Some("needs CAP_BPF and CAP_PERFMON (this process lacks CAP_BPF and CAP_PERFMON)")
        );
        assert_eq!(describe(perf, set(&[Cap::BPF, Cap::PERFMON])), None);
        // CAP_SYS_ADMIN stands in for the BPF ones, as the kernel counts.
        assert_eq!(describe(perf, set(&[Cap::SYS_ADMIN])), None);
        assert_eq!(
            describe(
                needed_to_load(ProgType::EXT),
                set(&[Cap::BPF, Cap::PERFMON])
            )
            .as_deref(),
            Some(
                "needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (this process has CAP_BPF and CAP_PERFMON but not CAP_NET_ADMIN)"
            )
        );
        // ...but not for a capability outside BPF's checks.
        assert_eq!(
            describe(&[Cap::NET_RAW], set(&[Cap::SYS_ADMIN])).as_deref(),
            Some("needs CAP_NET_RAW (this process lacks CAP_NET_RAW)")
        );
    }
}
