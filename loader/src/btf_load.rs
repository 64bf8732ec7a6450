//! `BPF_BTF_LOAD` of an object's BTF, after fix-up and sanitization.
//!
//! Like libbpf, the first attempt carries no log buffer (the common case costs one
//! call); when the kernel refuses, the load is repeated with a log, grown until the
//! kernel's whole message fits, so the error can say which type it objects to.

use std::os::fd::OwnedFd;

use oxbpf_sys::SysError;
use oxbpf_sys::bpf;

use crate::btf::encode::encode;
use crate::btf::fixup::{ElfInfo, FixupError, fixup};
use crate::btf::sanitize::{SanitizeOptions, sanitize};
use crate::btf::types::{Type, decode_all};
use crate::btf::{Btf, BtfError};
use crate::object::Object;

/// The first log buffer size tried after a refusal, and the largest.
const LOG_START: usize = 64 * 1024;
const LOG_MAX: usize = 16 * 1024 * 1024;

/// Why an object's BTF did not load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BtfLoadError {
    /// The BTF could not be decoded.
    #[error("cannot decode the object's BTF")]
    Decode(#[source] BtfError),
    /// The fix-up found something it cannot place.
    #[error("cannot fix up the object's BTF")]
    Fixup(#[source] FixupError),
    /// The kernel refused it; `log` is the kernel's explanation.
    #[error("the kernel refused the BTF{}", log_tail(.log))]
    Kernel {
        /// The failed call.
        #[source]
        source: SysError,
        /// The kernel's BTF log (may be empty).
        log: String,
    },
}

/// The last lines of a kernel log, for a one-line error message.
fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(3)..];
    format!(" (kernel log: {})", tail.join(" | "))
}

/// Loads a BTF blob (native byte order). On refusal, retries with a growing log.
///
/// # Errors
/// [`BtfLoadError::Kernel`] with the kernel's log.
pub fn load_raw(bytes: &[u8]) -> Result<OwnedFd, BtfLoadError> {
    match bpf::btf_load(bytes, &mut []) {
        Ok(fd) => {
            log::debug!("BPF_BTF_LOAD: {} bytes loaded", bytes.len());
            return Ok(fd);
        }
        Err(e) if e.errno() == Some(libc::EPERM) => {
            return Err(BtfLoadError::Kernel {
                source: e,
                log: String::new(),
            });
        }
        Err(_) => {}
    }
    let mut size = LOG_START;
    loop {
        let mut log = vec![0u8; size];
        match bpf::btf_load(bytes, &mut log) {
            // Refused without a log, accepted with one: take the fd all the same.
            Ok(fd) => return Ok(fd),
            Err(e) if e.errno() == Some(libc::ENOSPC) && size < LOG_MAX => size *= 4,
            Err(e) => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let log = String::from_utf8_lossy(&log[..end]).into_owned();
                log::debug!("BPF_BTF_LOAD refused: {e}; log:\n{log}");
                return Err(BtfLoadError::Kernel { source: e, log });
            }
        }
    }
}

/// The object's BTF as the kernel should see it: decoded, fixed up from the ELF symbol
/// table, sanitized for the kernel's features.
///
/// # Errors
/// Decode and fix-up errors.
pub fn prepare(btf: &Btf, obj: &Object, opts: &SanitizeOptions) -> Result<Vec<Type>, BtfLoadError> {
    let mut types = decode_all(btf).map_err(BtfLoadError::Decode)?;
    fixup(&mut types, &ElfInfo::from_object(obj)).map_err(BtfLoadError::Fixup)?;
    sanitize(&mut types, opts);
    Ok(types)
}

/// Prepares, encodes (native byte order) and loads an object's BTF.
///
/// # Errors
/// Any stage's error; the kernel's refusal carries its log.
pub fn load_object_btf(
    btf: &Btf,
    obj: &Object,
    opts: &SanitizeOptions,
) -> Result<OwnedFd, BtfLoadError> {
    let types = prepare(btf, obj, opts)?;
    let bytes = encode(&types, oxbpf_sys::uapi::Endian::NATIVE).map_err(BtfLoadError::Decode)?;
    load_raw(&bytes)
}
