use std::io;

/// A system call failed. Shows as "`BPF_MAP_CREATE` failed"; the errno is the source.
#[derive(Debug, thiserror::Error)]
#[error("{call} failed")]
pub struct SysError {
    /// The call, by its kernel name (`BPF_PROG_LOAD`, `perf_event_open`, ...).
    pub call: &'static str,
    /// What the kernel answered.
    #[source]
    pub source: io::Error,
}

impl SysError {
    /// Wraps the errno of a failed call.
    pub fn new(call: &'static str, source: io::Error) -> Self {
        Self { call, source }
    }

    /// The errno, if the failure came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}
