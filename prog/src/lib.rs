//! BPF programs after load: the [`Program`] handle, attaching to every kind of hook
//! ([`attach`]), [`Link`]s that detach on drop, pinning, and `BPF_PROG_TEST_RUN`.
//!
//! Where it sits: beside `oxbpf-maps`, on top of `oxbpf-sys`; `oxbpf-loader` loads
//! programs and hands them out as `Program`s.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attach;
pub mod iface;
pub mod link;
pub mod netlink;
pub mod symbols;

/// The raw sockets socket filters attach to, and reading what a filter keeps
/// ([`Program::attach_socket`]).
pub mod socket {
    pub use oxbpf_sys::sock::{open_raw_sock, recv_nowait};
}

/// tracefs as the tracing families use it: probe event files (what `kprobe_events`
/// and `uprobe_events` hold, for listing and removing leftovers) and the trace pipe
/// where `bpf_printk` lines arrive.
pub mod tracefs {
    pub use oxbpf_sys::events::TracePipe;
    pub use oxbpf_sys::perf::{read_tracefs, write_tracefs};
}

pub use attach::{AutoAttach, ProbeMode, ProbeTarget};
pub use iface::{TcDirection, XdpMode};
pub use link::{Link, LinkError};

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use oxbpf_sys::SysError;
use oxbpf_sys::bpf::{self, TestRunData, TestRunResult};
use oxbpf_sys::uapi::{AttachType, ProgInfo, ProgType};

/// A program operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProgramError {
    /// The kernel refused the operation.
    #[error("program `{prog}`: {op}")]
    Sys {
        /// The program.
        prog: String,
        /// What was attempted.
        op: &'static str,
        /// The kernel's answer.
        #[source]
        source: SysError,
    },
    /// Attaching failed.
    #[error("program `{prog}`: cannot attach to {what}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Attach {
        /// The program.
        prog: String,
        /// The hook.
        what: String,
        /// The step that failed.
        op: &'static str,
        /// What the errno usually means here.
        hint: Option<String>,
        /// The kernel's answer.
        #[source]
        source: SysError,
    },
    /// A netlink attachment failed.
    #[error("program `{prog}`: cannot attach to {what}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Netlink {
        /// The program.
        prog: String,
        /// The hook.
        what: String,
        /// What the refusal means here.
        hint: Option<String>,
        /// The kernel's answer, with its own message.
        source: oxbpf_sys::netlink::NetlinkError,
    },
    /// The hook does not exist on this kernel or in this file.
    #[error("program `{prog}`: cannot attach to {what}: {why}")]
    Unsupported {
        /// The program.
        prog: String,
        /// The hook.
        what: String,
        /// Why.
        why: String,
    },
    /// An object's USDT maps are not those of libbpf's `usdt.bpf.h`.
    #[error("USDT: {0}")]
    Usdt(String),
    /// The path cannot be passed to the kernel.
    #[error("program `{prog}`: path {path:?} contains a NUL byte")]
    Path {
        /// The program.
        prog: String,
        /// The path.
        path: String,
    },
}

/// A loaded BPF program the process holds open.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
    name: String,
    prog_type: ProgType,
    expected_attach_type: Option<AttachType>,
    /// The ELF section it came from (`tp/syscalls/sys_enter_write`), empty if unknown.
    section: String,
    /// The attach target its section names (`syscalls/sys_enter_write`, `do_unlinkat`,
    /// `/bin/bash:readline`), for auto-attach.
    attach_target: Option<String>,
}

impl Program {
    /// Wraps the fd of a program just loaded.
    pub fn new(
        fd: OwnedFd,
        name: &str,
        prog_type: ProgType,
        expected_attach_type: Option<AttachType>,
    ) -> Program {
        Program {
            fd,
            name: name.to_string(),
            prog_type,
            expected_attach_type,
            section: String::new(),
            attach_target: None,
        }
    }

    /// Records where the program came from: its section and the attach target the
    /// section names, which [`Program::attach_auto`] uses.
    #[must_use]
    pub fn with_section(mut self, section: &str, attach_target: Option<&str>) -> Program {
        self.section = section.to_string();
        self.attach_target = attach_target.map(str::to_string);
        self
    }

    /// The ELF section it came from.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// The attach target its section names.
    pub fn attach_target(&self) -> Option<&str> {
        self.attach_target.as_deref()
    }

    /// The name it was loaded under (the function's; the kernel keeps 15 bytes).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its type.
    pub fn prog_type(&self) -> ProgType {
        self.prog_type
    }

    /// The expected attach type it was loaded with.
    pub fn expected_attach_type(&self) -> Option<AttachType> {
        self.expected_attach_type
    }

    /// The kernel's description (id, tag, verified instruction count...).
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn info(&self) -> Result<ProgInfo, ProgramError> {
        bpf::prog_info(self.fd.as_fd()).map_err(|source| self.sys("read its info", source))
    }

    /// The kernel-wide id.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn id(&self) -> Result<u32, ProgramError> {
        Ok(self.info()?.id)
    }

    fn sys(&self, op: &'static str, source: SysError) -> ProgramError {
        ProgramError::Sys {
            prog: self.name.clone(),
            op,
            source,
        }
    }

    /// Runs the program once in the caller's context (`BPF_PROG_TEST_RUN`), with a
    /// packet (`data`, for networking programs) and/or a context (`ctx`, e.g. the
    /// arguments of a raw tracepoint).
    ///
    /// `repeat` is passed as 0, which the kernel runs once: raw tracepoint programs
    /// refuse any non-zero `repeat` with `EINVAL`.
    ///
    /// # Errors
    /// The kernel's errno: `ENOTSUPP` (524) for types it cannot test-run.
    pub fn test_run(&self, data: &[u8], ctx: &[u8]) -> Result<TestRunResult, ProgramError> {
        let run = TestRunData {
            data_in: data,
            ctx_in: ctx,
            ..Default::default()
        };
        bpf::prog_test_run(self.fd.as_fd(), run, 0, 0).map_err(|e| self.sys("test run", e))
    }

    /// Pins the program at `path` in a bpffs.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn pin(&self, path: &Path) -> Result<(), ProgramError> {
        use std::os::unix::ffi::OsStrExt as _;
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| ProgramError::Path {
            prog: self.name.clone(),
            path: path.display().to_string(),
        })?;
        bpf::obj_pin(self.fd.as_fd(), &c).map_err(|e| self.sys("pin", e))
    }
}

impl AsFd for Program {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
