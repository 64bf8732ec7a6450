//! The kernel ABI of oxbpf: the only crate that issues system calls by number.
//!
//! Where it sits: at the bottom of the pipeline in `DESIGN.md`, on `oxbpf-uapi` (the
//! constants and `#[repr(C)]` mirrors of `include/uapi/linux/bpf.h`, pure data,
//! re-exported here as [`uapi`]), which the pure stages use without this crate.
//! `loader::load`, `maps` and `prog` call the command wrappers in [`bpf`].
//!
//! Rules kept here:
//! - one small function per `bpf()` command, taking its own named attr struct and passing
//!   exactly the size of that struct (the kernel rejects non-zero bytes past what it
//!   knows, so every attr is fully zeroed and has no implicit padding);
//! - every descriptor is an [`OwnedFd`](std::os::fd::OwnedFd), close-on-exec, and never
//!   0, 1 or 2 ([`fd::ensure_high_fd`]);
//! - errors name the command and keep the errno ([`SysError`]).
//!
//! Kernel reference: <https://docs.kernel.org/bpf/> and `include/uapi/linux/bpf.h`.

#![deny(missing_docs)]

pub mod arch;
pub mod bpf;
pub mod bpffs;
pub mod caps;
pub mod cpu;
mod error;
pub mod events;
pub mod fd;
#[cfg(feature = "testing")]
pub mod gate;
pub mod mmap;
pub mod netlink;
pub mod ns;
pub mod perf;
pub mod perfbuf;
pub mod ringbuf;
pub mod rlimit;
pub mod sock;
pub mod trace;
pub mod version;

pub use error::{ENOTSUPP, SysError};
pub use oxbpf_uapi as uapi;
pub use oxbpf_uapi::hint;
