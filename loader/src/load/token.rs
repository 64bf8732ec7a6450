//! The BPF token a load carries (6.9), as libbpf's `bpf_object_prepare_token` finds
//! it: from the bpffs at `LoadOptions::bpf_token_path`, else at `LIBBPF_BPF_TOKEN_PATH`
//! (both mandatory: a failure stops the load), else at `/sys/fs/bpf` when that bpffs
//! delegates anything (optional: any failure means no token). An empty path asks for
//! none. The token then goes with every map, program and BTF load of the load,
//! feature probes included ([`oxbpf_sys::bpf::with_token`]).

use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

use super::{LoadError, LoadOptions};

/// Where libbpf looks for a delegating bpffs when told nothing.
const DEFAULT_PATH: &str = "/sys/fs/bpf";

/// The token for a load with `opts`, if any.
pub(super) fn prepare(opts: &LoadOptions) -> Result<Option<OwnedFd>, LoadError> {
    let asked = opts
        .bpf_token_path
        .clone()
        .or_else(|| std::env::var_os("LIBBPF_BPF_TOKEN_PATH").map(PathBuf::from));
    let (path, mandatory) = match asked {
        Some(p) if p.as_os_str().is_empty() => {
            log::debug!("BPF token: none asked for");
            return Ok(None);
        }
        Some(p) => (p, true),
        None => (PathBuf::from(DEFAULT_PATH), false),
    };
    let fail = |why: String| -> Result<Option<OwnedFd>, LoadError> {
        if mandatory {
            Err(LoadError::Token {
                path: path.display().to_string(),
                why,
            })
        } else {
            log::debug!(
                "BPF token from {}: {why}; loading without one",
                path.display()
            );
            Ok(None)
        }
    };
    let dir = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&path)
    {
        Ok(d) => d,
        Err(e) => return fail(format!("cannot open the bpffs: {e}")),
    };
    match oxbpf_sys::bpf::token_create(dir.as_fd()) {
        Ok(token) => {
            log::debug!("BPF token from {}", path.display());
            Ok(Some(token))
        }
        Err(e) => {
            let why = match e.errno() {
                Some(libc::ENOENT) => {
                    "this bpffs delegates nothing (mount it with delegate_cmds, delegate_maps, delegate_progs, delegate_attachs)".to_string()
                }
                Some(libc::EINVAL) => {
                    format!("{e} (not a bpffs, or a kernel without BPF tokens: they came in 6.9)")
                }
                Some(libc::EPERM) => format!(
                    "{e} (the bpffs belongs to a user namespace where this process lacks CAP_BPF)"
                ),
                _ => e.to_string(),
            };
            fail(why)
        }
    }
}
