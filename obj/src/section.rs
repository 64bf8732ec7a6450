//! The `SEC()` table: from an ELF section name to a program type, an expected attach
//! type, flags and an attach target, with libbpf's exact rules.
//!
//! The table is libbpf's `section_defs[]` (src/libbpf.c @ f7081a6), entry for entry and
//! in the same order, because the first match wins and objects built for libbpf rely on
//! that order. Matching follows libbpf's `sec_def_matches`:
//! - a pattern ending in `/` matches any name that starts with it (`kprobe/` needs a
//!   target after the slash);
//! - a pattern ending in `+` matches the bare word or the word, a `/` and a target
//!   (`tp+` matches `tp` and `tp/syscalls/sys_enter_write`, not `tpx`);
//! - any other pattern must match exactly.
//!
//! A leading `?` means "do not load unless asked" (libbpf's autoload = false).
//!
//! Beyond libbpf 1.x: a name no pattern matches is tried once more with the looser
//! prefix rules of libbpf 0.x (`SEC_SLOPPY_PFX`), so older objects with `SEC("socket1")`
//! or `SEC("xdp_prog")` still get a type; the match is marked [`SectionMatch::legacy`].
//! A name that matches nothing at all is not an error: the program keeps an unspecified
//! type the user can set.

use oxbpf_uapi::{AttachType, ProgType};

/// Flags of a table entry (libbpf's `SEC_*`).
pub mod flags {
    /// No flags.
    pub const NONE: u32 = 0;
    /// The expected attach type may be dropped on kernels that reject it (pre-4.17).
    pub const EXP_ATTACH_OPT: u32 = 1 << 0;
    /// Attached with `BPF_PROG_ATTACH` (cgroups, sockmaps, ...).
    pub const ATTACHABLE: u32 = 1 << 1;
    /// Both of the above.
    pub const ATTACHABLE_OPT: u32 = ATTACHABLE | EXP_ATTACH_OPT;
    /// The target is a BTF id (fentry, fexit, lsm, tp_btf, iter, freplace).
    pub const ATTACH_BTF: u32 = 1 << 2;
    /// Load with `BPF_F_SLEEPABLE`.
    pub const SLEEPABLE: u32 = 1 << 3;
    /// Load with `BPF_F_XDP_HAS_FRAGS`.
    pub const XDP_FRAGS: u32 = 1 << 4;
    /// A USDT probe (attached as uprobes by user space).
    pub const USDT: u32 = 1 << 5;
    /// libbpf 0.x matched this entry by plain prefix (`SEC_SLOPPY_PFX`).
    pub const SLOPPY: u32 = 1 << 6;
}

use flags::*;

/// One entry of the `SEC()` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionDef {
    /// The pattern, with libbpf's `+` and `/` suffix rules.
    pub pattern: &'static str,
    /// Program type.
    pub prog_type: ProgType,
    /// Expected attach type given to `BPF_PROG_LOAD`, if any.
    pub attach_type: Option<AttachType>,
    /// `flags::*` bits.
    pub flags: u32,
}

const fn def(
    pattern: &'static str,
    prog_type: ProgType,
    attach_type: Option<AttachType>,
    flags: u32,
) -> SectionDef {
    SectionDef {
        pattern,
        prog_type,
        attach_type,
        flags,
    }
}

/// libbpf's `section_defs[]`, in its order.
pub const SECTION_DEFS: &[SectionDef] = &[
    def("socket", ProgType::SOCKET_FILTER, None, SLOPPY),
    def(
        "sk_reuseport/migrate",
        ProgType::SK_REUSEPORT,
        Some(AttachType::SK_REUSEPORT_SELECT_OR_MIGRATE),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "sk_reuseport",
        ProgType::SK_REUSEPORT,
        Some(AttachType::SK_REUSEPORT_SELECT),
        ATTACHABLE | SLOPPY,
    ),
    def("kprobe+", ProgType::KPROBE, None, NONE),
    def("uprobe+", ProgType::KPROBE, None, NONE),
    def("uprobe.s+", ProgType::KPROBE, None, SLEEPABLE),
    def("kretprobe+", ProgType::KPROBE, None, NONE),
    def("uretprobe+", ProgType::KPROBE, None, NONE),
    def("uretprobe.s+", ProgType::KPROBE, None, SLEEPABLE),
    def(
        "kprobe.multi+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_KPROBE_MULTI),
        NONE,
    ),
    def(
        "kretprobe.multi+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_KPROBE_MULTI),
        NONE,
    ),
    def(
        "kprobe.session+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_KPROBE_SESSION),
        NONE,
    ),
    def(
        "uprobe.multi+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_UPROBE_MULTI),
        NONE,
    ),
    def(
        "uretprobe.multi+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_UPROBE_MULTI),
        NONE,
    ),
    def(
        "uprobe.session+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_UPROBE_SESSION),
        NONE,
    ),
    def(
        "uprobe.multi.s+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_UPROBE_MULTI),
        SLEEPABLE,
    ),
    def(
        "uretprobe.multi.s+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_UPROBE_MULTI),
        SLEEPABLE,
    ),
    def(
        "uprobe.session.s+",
        ProgType::KPROBE,
        Some(AttachType::TRACE_UPROBE_SESSION),
        SLEEPABLE,
    ),
    def("ksyscall+", ProgType::KPROBE, None, NONE),
    def("kretsyscall+", ProgType::KPROBE, None, NONE),
    def("usdt+", ProgType::KPROBE, None, USDT),
    def("usdt.s+", ProgType::KPROBE, None, USDT | SLEEPABLE),
    def(
        "tc/ingress",
        ProgType::SCHED_CLS,
        Some(AttachType::TCX_INGRESS),
        NONE,
    ),
    def(
        "tc/egress",
        ProgType::SCHED_CLS,
        Some(AttachType::TCX_EGRESS),
        NONE,
    ),
    def(
        "tcx/ingress",
        ProgType::SCHED_CLS,
        Some(AttachType::TCX_INGRESS),
        NONE,
    ),
    def(
        "tcx/egress",
        ProgType::SCHED_CLS,
        Some(AttachType::TCX_EGRESS),
        NONE,
    ),
    def("tc", ProgType::SCHED_CLS, None, NONE),
    def("classifier", ProgType::SCHED_CLS, None, SLOPPY),
    def("action", ProgType::SCHED_ACT, None, SLOPPY),
    def(
        "netkit/primary",
        ProgType::SCHED_CLS,
        Some(AttachType::NETKIT_PRIMARY),
        NONE,
    ),
    def(
        "netkit/peer",
        ProgType::SCHED_CLS,
        Some(AttachType::NETKIT_PEER),
        NONE,
    ),
    def("tracepoint+", ProgType::TRACEPOINT, None, NONE),
    def("tp+", ProgType::TRACEPOINT, None, NONE),
    def("tracepoint.s+", ProgType::TRACEPOINT, None, SLEEPABLE),
    def("tp.s+", ProgType::TRACEPOINT, None, SLEEPABLE),
    def("raw_tracepoint+", ProgType::RAW_TRACEPOINT, None, NONE),
    def("raw_tp+", ProgType::RAW_TRACEPOINT, None, NONE),
    def(
        "raw_tracepoint.s+",
        ProgType::RAW_TRACEPOINT,
        None,
        SLEEPABLE,
    ),
    def("raw_tp.s+", ProgType::RAW_TRACEPOINT, None, SLEEPABLE),
    def(
        "raw_tracepoint.w+",
        ProgType::RAW_TRACEPOINT_WRITABLE,
        None,
        NONE,
    ),
    def("raw_tp.w+", ProgType::RAW_TRACEPOINT_WRITABLE, None, NONE),
    def(
        "tp_btf+",
        ProgType::TRACING,
        Some(AttachType::TRACE_RAW_TP),
        ATTACH_BTF,
    ),
    def(
        "tp_btf.s+",
        ProgType::TRACING,
        Some(AttachType::TRACE_RAW_TP),
        ATTACH_BTF | SLEEPABLE,
    ),
    def(
        "fentry+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FENTRY),
        ATTACH_BTF,
    ),
    def(
        "fmod_ret+",
        ProgType::TRACING,
        Some(AttachType::MODIFY_RETURN),
        ATTACH_BTF,
    ),
    def(
        "fexit+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FEXIT),
        ATTACH_BTF,
    ),
    def(
        "fentry.s+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FENTRY),
        ATTACH_BTF | SLEEPABLE,
    ),
    def(
        "fmod_ret.s+",
        ProgType::TRACING,
        Some(AttachType::MODIFY_RETURN),
        ATTACH_BTF | SLEEPABLE,
    ),
    def(
        "fexit.s+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FEXIT),
        ATTACH_BTF | SLEEPABLE,
    ),
    def(
        "fsession+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FSESSION),
        ATTACH_BTF,
    ),
    def(
        "fsession.s+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FSESSION),
        ATTACH_BTF | SLEEPABLE,
    ),
    def(
        "fsession.multi+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FSESSION_MULTI),
        NONE,
    ),
    def(
        "fsession.multi.s+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FSESSION_MULTI),
        SLEEPABLE,
    ),
    def(
        "fentry.multi+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FENTRY_MULTI),
        NONE,
    ),
    def(
        "fexit.multi+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FEXIT_MULTI),
        NONE,
    ),
    def(
        "fentry.multi.s+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FENTRY_MULTI),
        SLEEPABLE,
    ),
    def(
        "fexit.multi.s+",
        ProgType::TRACING,
        Some(AttachType::TRACE_FEXIT_MULTI),
        SLEEPABLE,
    ),
    def("freplace+", ProgType::EXT, None, ATTACH_BTF),
    def("lsm+", ProgType::LSM, Some(AttachType::LSM_MAC), ATTACH_BTF),
    def(
        "lsm.s+",
        ProgType::LSM,
        Some(AttachType::LSM_MAC),
        ATTACH_BTF | SLEEPABLE,
    ),
    def(
        "lsm_cgroup+",
        ProgType::LSM,
        Some(AttachType::LSM_CGROUP),
        ATTACH_BTF,
    ),
    def(
        "iter+",
        ProgType::TRACING,
        Some(AttachType::TRACE_ITER),
        ATTACH_BTF,
    ),
    def(
        "iter.s+",
        ProgType::TRACING,
        Some(AttachType::TRACE_ITER),
        ATTACH_BTF | SLEEPABLE,
    ),
    def("syscall", ProgType::SYSCALL, None, SLEEPABLE),
    def(
        "xdp.frags/devmap",
        ProgType::XDP,
        Some(AttachType::XDP_DEVMAP),
        XDP_FRAGS,
    ),
    def(
        "xdp/devmap",
        ProgType::XDP,
        Some(AttachType::XDP_DEVMAP),
        ATTACHABLE,
    ),
    def(
        "xdp.frags/cpumap",
        ProgType::XDP,
        Some(AttachType::XDP_CPUMAP),
        XDP_FRAGS,
    ),
    def(
        "xdp/cpumap",
        ProgType::XDP,
        Some(AttachType::XDP_CPUMAP),
        ATTACHABLE,
    ),
    def("xdp.frags", ProgType::XDP, Some(AttachType::XDP), XDP_FRAGS),
    def(
        "xdp",
        ProgType::XDP,
        Some(AttachType::XDP),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def("perf_event", ProgType::PERF_EVENT, None, SLOPPY),
    def("lwt_in", ProgType::LWT_IN, None, SLOPPY),
    def("lwt_out", ProgType::LWT_OUT, None, SLOPPY),
    def("lwt_xmit", ProgType::LWT_XMIT, None, SLOPPY),
    def("lwt_seg6local", ProgType::LWT_SEG6LOCAL, None, SLOPPY),
    def(
        "sockops",
        ProgType::SOCK_OPS,
        Some(AttachType::CGROUP_SOCK_OPS),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def(
        "sk_skb/stream_parser",
        ProgType::SK_SKB,
        Some(AttachType::SK_SKB_STREAM_PARSER),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def(
        "sk_skb/stream_verdict",
        ProgType::SK_SKB,
        Some(AttachType::SK_SKB_STREAM_VERDICT),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def(
        "sk_skb/verdict",
        ProgType::SK_SKB,
        Some(AttachType::SK_SKB_VERDICT),
        ATTACHABLE_OPT,
    ),
    def("sk_skb", ProgType::SK_SKB, None, SLOPPY),
    def(
        "sk_msg",
        ProgType::SK_MSG,
        Some(AttachType::SK_MSG_VERDICT),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def(
        "lirc_mode2",
        ProgType::LIRC_MODE2,
        Some(AttachType::LIRC_MODE2),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def(
        "flow_dissector",
        ProgType::FLOW_DISSECTOR,
        Some(AttachType::FLOW_DISSECTOR),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def(
        "cgroup_skb/ingress",
        ProgType::CGROUP_SKB,
        Some(AttachType::CGROUP_INET_INGRESS),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def(
        "cgroup_skb/egress",
        ProgType::CGROUP_SKB,
        Some(AttachType::CGROUP_INET_EGRESS),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def("cgroup/skb", ProgType::CGROUP_SKB, None, SLOPPY),
    def(
        "cgroup/sock_create",
        ProgType::CGROUP_SOCK,
        Some(AttachType::CGROUP_INET_SOCK_CREATE),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/sock_release",
        ProgType::CGROUP_SOCK,
        Some(AttachType::CGROUP_INET_SOCK_RELEASE),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/sock",
        ProgType::CGROUP_SOCK,
        Some(AttachType::CGROUP_INET_SOCK_CREATE),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def(
        "cgroup/post_bind4",
        ProgType::CGROUP_SOCK,
        Some(AttachType::CGROUP_INET4_POST_BIND),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/post_bind6",
        ProgType::CGROUP_SOCK,
        Some(AttachType::CGROUP_INET6_POST_BIND),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/bind4",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_INET4_BIND),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/bind6",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_INET6_BIND),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/connect4",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_INET4_CONNECT),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/connect6",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_INET6_CONNECT),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/connect_unix",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UNIX_CONNECT),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/sendmsg4",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UDP4_SENDMSG),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/sendmsg6",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UDP6_SENDMSG),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/sendmsg_unix",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UNIX_SENDMSG),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/recvmsg4",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UDP4_RECVMSG),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/recvmsg6",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UDP6_RECVMSG),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/recvmsg_unix",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UNIX_RECVMSG),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/getpeername4",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_INET4_GETPEERNAME),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/getpeername6",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_INET6_GETPEERNAME),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/getpeername_unix",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UNIX_GETPEERNAME),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/getsockname4",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_INET4_GETSOCKNAME),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/getsockname6",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_INET6_GETSOCKNAME),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/getsockname_unix",
        ProgType::CGROUP_SOCK_ADDR,
        Some(AttachType::CGROUP_UNIX_GETSOCKNAME),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/sysctl",
        ProgType::CGROUP_SYSCTL,
        Some(AttachType::CGROUP_SYSCTL),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/getsockopt",
        ProgType::CGROUP_SOCKOPT,
        Some(AttachType::CGROUP_GETSOCKOPT),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/setsockopt",
        ProgType::CGROUP_SOCKOPT,
        Some(AttachType::CGROUP_SETSOCKOPT),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "cgroup/dev",
        ProgType::CGROUP_DEVICE,
        Some(AttachType::CGROUP_DEVICE),
        ATTACHABLE_OPT | SLOPPY,
    ),
    def("struct_ops+", ProgType::STRUCT_OPS, None, NONE),
    def("struct_ops.s+", ProgType::STRUCT_OPS, None, SLEEPABLE),
    def(
        "sk_lookup",
        ProgType::SK_LOOKUP,
        Some(AttachType::SK_LOOKUP),
        ATTACHABLE | SLOPPY,
    ),
    def(
        "netfilter",
        ProgType::NETFILTER,
        Some(AttachType::NETFILTER),
        NONE,
    ),
];

/// Names libbpf 0.x accepted that 1.x dropped; tried only when nothing else matches.
const LEGACY_DEFS: &[SectionDef] = &[
    def(
        "xdp_devmap/",
        ProgType::XDP,
        Some(AttachType::XDP_DEVMAP),
        ATTACHABLE,
    ),
    def(
        "xdp_cpumap/",
        ProgType::XDP,
        Some(AttachType::XDP_CPUMAP),
        ATTACHABLE,
    ),
];

/// What a section name says about the programs in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionMatch<'a> {
    /// The matching table entry; `None` when no pattern matches.
    pub def: Option<&'static SectionDef>,
    /// The section name without a leading `?`.
    pub name: &'a str,
    /// False when the name started with `?`.
    pub autoload: bool,
    /// What follows the pattern's `/`: a tracepoint, function, iterator, binary:symbol...
    pub target: Option<&'a str>,
    /// Matched only by the libbpf 0.x prefix rules.
    pub legacy: bool,
}

impl SectionMatch<'_> {
    /// The entry's flags, or none.
    pub fn flags(&self) -> u32 {
        self.def.map_or(NONE, |d| d.flags)
    }

    /// Whether programs here load with `BPF_F_SLEEPABLE`.
    pub fn sleepable(&self) -> bool {
        self.flags() & SLEEPABLE != 0
    }
}

/// Classifies a program section name.
pub fn match_section(section: &str) -> SectionMatch<'_> {
    let (name, autoload) = match section.strip_prefix('?') {
        Some(rest) => (rest, false),
        None => (section, true),
    };
    if let Some((def, target)) = SECTION_DEFS
        .iter()
        .find_map(|d| strict_match(d, name).map(|t| (d, t)))
    {
        return SectionMatch {
            def: Some(def),
            name,
            autoload,
            target,
            legacy: false,
        };
    }
    let legacy = LEGACY_DEFS
        .iter()
        .find_map(|d| strict_match(d, name).map(|t| (d, t)))
        .or_else(|| {
            SECTION_DEFS
                .iter()
                .filter(|d| d.flags & SLOPPY != 0)
                .find(|d| name.starts_with(d.pattern.trim_end_matches(['+', '/'])))
                .map(|d| (d, None))
        });
    match legacy {
        Some((def, target)) => {
            log::debug!(
                "section `{section}`: no libbpf 1.x pattern matches; libbpf 0.x prefix rules give `{}`",
                def.pattern
            );
            SectionMatch {
                def: Some(def),
                name,
                autoload,
                target,
                legacy: true,
            }
        }
        None => SectionMatch {
            def: None,
            name,
            autoload,
            target: None,
            legacy: false,
        },
    }
}

/// libbpf's `sec_def_matches`, returning the attach target on a match.
fn strict_match<'a>(def: &SectionDef, name: &'a str) -> Option<Option<&'a str>> {
    let p = def.pattern;
    if p.ends_with('/') {
        let target = name.strip_prefix(p)?;
        Some(Some(target))
    } else if let Some(base) = p.strip_suffix('+') {
        let rest = name.strip_prefix(base)?;
        if rest.is_empty() {
            Some(None)
        } else {
            rest.strip_prefix('/').map(Some)
        }
    } else if name == p {
        Some(None)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> (Option<&'static str>, Option<&str>, bool) {
        let r = match_section(s);
        (r.def.map(|d| d.pattern), r.target, r.legacy)
    }

    #[test]
    fn table_has_libbpfs_116_entries_with_unique_patterns() {
        assert_eq!(SECTION_DEFS.len(), 116);
        let mut seen = std::collections::HashSet::new();
        for d in SECTION_DEFS {
            assert!(seen.insert(d.pattern), "duplicate pattern {}", d.pattern);
        }
    }

    #[test]
    fn plus_patterns_take_bare_word_or_slash_target() {
        assert_eq!(
            m("tp/syscalls/sys_enter_write"),
            (Some("tp+"), Some("syscalls/sys_enter_write"), false)
        );
        assert_eq!(m("tracepoint"), (Some("tracepoint+"), None, false));
        assert_eq!(
            m("kprobe/do_unlinkat"),
            (Some("kprobe+"), Some("do_unlinkat"), false)
        );
        assert_eq!(
            m("uprobe//proc/self/exe:f"),
            (Some("uprobe+"), Some("/proc/self/exe:f"), false)
        );
        // `tpx` is not `tp`, and is not a legacy prefix either.
        assert_eq!(m("tpx"), (None, None, false));
    }

    #[test]
    fn order_decides_between_overlapping_patterns() {
        assert_eq!(m("xdp.frags/devmap").0, Some("xdp.frags/devmap"));
        assert_eq!(m("xdp/devmap").0, Some("xdp/devmap"));
        assert_eq!(m("xdp.frags").0, Some("xdp.frags"));
        assert_eq!(m("xdp").0, Some("xdp"));
        assert_eq!(m("uprobe.multi.s/x:y").0, Some("uprobe.multi.s+"));
        assert_eq!(
            m("fentry.s/do_unlinkat"),
            (Some("fentry.s+"), Some("do_unlinkat"), false)
        );
        assert_eq!(m("sk_reuseport/migrate").0, Some("sk_reuseport/migrate"));
        assert_eq!(m("cgroup/sock").0, Some("cgroup/sock"));
        assert_eq!(m("cgroup/sock_create").0, Some("cgroup/sock_create"));
    }

    #[test]
    fn types_attach_types_and_flags() {
        let r = match_section("fentry.s/do_unlinkat");
        let d = r.def.unwrap();
        assert_eq!(d.prog_type, ProgType::TRACING);
        assert_eq!(d.attach_type, Some(AttachType::TRACE_FENTRY));
        assert!(r.sleepable());
        assert!(d.flags & ATTACH_BTF != 0);
        let x = match_section("xdp.frags").def.unwrap();
        assert!(x.flags & XDP_FRAGS != 0);
        assert_eq!(
            match_section("tcx/ingress").def.unwrap().attach_type,
            Some(AttachType::TCX_INGRESS)
        );
        assert_eq!(
            match_section("socket").def.unwrap().prog_type,
            ProgType::SOCKET_FILTER
        );
    }

    #[test]
    fn question_mark_turns_autoload_off() {
        let r = match_section("?tc");
        assert!(!r.autoload);
        assert_eq!(r.name, "tc");
        assert_eq!(r.def.unwrap().prog_type, ProgType::SCHED_CLS);
        assert!(match_section("tc").autoload);
    }

    #[test]
    fn unknown_names_have_no_type() {
        assert_eq!(m("mystery/unknown_kind"), (None, None, false));
        assert_eq!(m(".text"), (None, None, false));
    }

    #[test]
    fn libbpf_0x_prefixes_still_match_but_say_so() {
        assert_eq!(m("socket1"), (Some("socket"), None, true));
        assert_eq!(m("xdp_prog"), (Some("xdp"), None, true));
        assert_eq!(
            m("xdp_devmap/redirect"),
            (Some("xdp_devmap/"), Some("redirect"), true)
        );
        // Not a sloppy entry in libbpf 0.x: kprobes always needed `kprobe/`.
        assert_eq!(m("kprobe_foo"), (None, None, false));
    }
}
