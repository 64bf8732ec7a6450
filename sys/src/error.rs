use std::io;

/// `ENOTSUPP`: the kernel's internal "not supported", which reaches user space from BPF
/// calls although libc has no name or text for it ("No error information").
pub const ENOTSUPP: i32 = 524;

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

/// [`ENOTSUPP`] in words, where libc has none.
#[derive(Debug, thiserror::Error)]
#[error("not supported by this kernel for this kind of object (ENOTSUPP, errno 524)")]
struct NotSupported;

impl SysError {
    /// Wraps the errno of a failed call.
    pub fn new(call: &'static str, source: io::Error) -> Self {
        let source = if source.raw_os_error() == Some(ENOTSUPP) {
            io::Error::new(io::ErrorKind::Unsupported, NotSupported)
        } else {
            source
        };
        Self { call, source }
    }

    /// The errno, if the failure came from the kernel.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error().or_else(|| {
            self.source
                .get_ref()
                .is_some_and(|e| e.is::<NotSupported>())
                .then_some(ENOTSUPP)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enotsupp_is_said_in_words_and_keeps_its_errno() {
        let e = SysError::new(
            "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
            io::Error::from_raw_os_error(ENOTSUPP),
        );
        assert_eq!(e.errno(), Some(ENOTSUPP));
        assert_eq!(
            e.source.to_string(),
            "not supported by this kernel for this kind of object (ENOTSUPP, errno 524)"
        );
        let e = SysError::new("BPF_MAP_CREATE", io::Error::from_raw_os_error(libc::EINVAL));
        assert_eq!(e.errno(), Some(libc::EINVAL));
    }
}
