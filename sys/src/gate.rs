//! The gate every kernel-facing test passes first (used by oxbpf's own test suites).
//!
//! A test that needs privileges or a kernel feature calls [`require`]. Without them it
//! prints why and returns `false`, so the test can return early as skipped — except
//! under `CI=true`, where a skipped kernel test is a failure: CI runs as root on a
//! kernel that has what the tests need, so a skip there means something is broken.

use crate::caps;

/// Whether the environment says this is a CI run (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Checks that this process may make `bpf()` calls that need `CAP_BPF`.
///
/// Returns `true` when the test can go on. Otherwise prints "skipping TEST: REASON" and
/// returns `false`.
///
/// # Panics
/// When the test would be skipped and [`in_ci`] is true.
pub fn require_bpf(test: &str) -> bool {
    if caps::can_bpf() {
        return true;
    }
    skip(
        test,
        "needs CAP_BPF (or CAP_SYS_ADMIN before Linux 5.8); run the tests as root",
    )
}

/// Skips `test` with `reason`: prints it, or panics under CI.
///
/// # Panics
/// Under CI.
pub fn skip(test: &str, reason: &str) -> bool {
    assert!(
        !in_ci(),
        "{test}: would be skipped ({reason}), and under CI=true a skip is a failure"
    );
    // Written to stderr directly, not with eprintln!: the test harness captures the
    // macro's output and would hide the reason for a test that "passed".
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipping {test}: {reason}");
    false
}

/// Checks a feature probe's answer against the kernel version that introduced the
/// feature (cilium's `checkVersion`): returns whether the test can use the feature.
/// When the probe says "unsupported" on a kernel at least `since`, that is a bug in the
/// probe, and the test fails rather than skipping.
///
/// # Panics
/// On a kernel at least `since` whose probe said no; or, for an older kernel, under CI.
pub fn require_feature(
    test: &str,
    feature: &str,
    supported: bool,
    since: crate::version::KernelVersion,
) -> bool {
    if supported {
        return true;
    }
    let current = crate::version::KernelVersion::current();
    if let Some(v) = current {
        assert!(
            v < since,
            "{test}: {feature} probed as unsupported, but this kernel ({v}) is at least {since}, which has it"
        );
    }
    let on = current.map_or("an unknown kernel".to_string(), |v| format!("Linux {v}"));
    skip(
        test,
        &format!("{feature} needs Linux {since}; this is {on}"),
    )
}
