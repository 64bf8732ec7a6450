//! The examples' command line, shared: `[IFACE] [--seconds N]`. Each example includes
//! this file (`#[path = "common/args.rs"] mod args;`) rather than a copy of it.

use std::time::Duration;

/// `[IFACE] [--seconds N]`: the interface (required when `want_iface`) and how long to
/// run (5 s unless given). `usage` is the example's one-line usage, for errors.
pub fn parse(usage: &str, want_iface: bool) -> Result<(Option<String>, Duration), String> {
    let (mut iface, mut secs) = (None, Duration::from_secs(5));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--seconds" {
            let v = args.next().ok_or("--seconds needs a value")?;
            secs = v
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=1e9).contains(s))
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("--seconds {v:?}: not a number of seconds"))?;
        } else if want_iface && iface.is_none() && !a.starts_with('-') {
            iface = Some(a);
        } else {
            return Err(format!("unexpected argument {a:?}; {usage}"));
        }
    }
    if want_iface && iface.is_none() {
        return Err(usage.to_string());
    }
    Ok((iface, secs))
}

/// `IFACE [--seconds N]`: where to attach or listen, and for how long.
#[allow(dead_code, reason = "connect takes no interface")]
pub fn iface_and_seconds(usage: &str) -> Result<(String, Duration), String> {
    let (iface, secs) = parse(usage, true)?;
    Ok((iface.unwrap_or_default(), secs))
}
