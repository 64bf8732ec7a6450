//! A minimal `log` backend: messages go to stderr as `level: message`. `-v` shows what
//! each stage did (debug), `-vv` every syscall (trace); `OXBPF_LOG=debug` does the same
//! without flags.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write as _;

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        // A failed write to stderr has nowhere to be reported; drop it.
        let _ = writeln!(std::io::stderr().lock(), "{level}: {}", record.args());
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger. `verbose` counts `-v` flags; `OXBPF_LOG` overrides when set.
pub fn init(verbose: u8) {
    let from_env = std::env::var("OXBPF_LOG")
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok());
    let level = from_env.unwrap_or(match verbose {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    });
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
