//! Attaching USDT programs: the object's `usdt.bpf.h` maps are found by name and
//! handed, with the `LINUX_HAS_BPF_COOKIE` value the object was loaded with, to
//! [`oxbpf_prog::attach::usdt`], which reads the binary and puts the uprobes on.

use oxbpf_prog::Link;
use oxbpf_prog::attach::usdt::{UsdtMaps, UsdtTarget};

use super::{LoadError, Loaded};

/// The spec array of libbpf's `usdt.bpf.h`.
pub(super) const SPECS_MAP: &str = "__bpf_usdt_specs";
/// Its address → spec id hash (kernels without BPF cookies).
const IP_MAP: &str = "__bpf_usdt_ip_to_spec_id";

impl Loaded {
    /// Attaches USDT program `program` to probe `target.provider:target.name` of the
    /// binary `target.path` (every site of it), as libbpf's `bpf_program__attach_usdt`:
    /// the program reads its arguments with `bpf_usdt_arg()` of `usdt.bpf.h`.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use oxbpf_loader::Object;
    /// use oxbpf_loader::load::LoadOptions;
    /// use oxbpf_loader::prelude::*;
    /// use oxbpf_prog::attach::usdt::UsdtTarget;
    /// let obj = Object::open("usdt.bpf.o")?;
    /// let loaded = obj.load(&LoadOptions::default())?;
    /// let target = UsdtTarget {
    ///     path: "/usr/bin/python3".as_ref(),
    ///     provider: "python",
    ///     name: "function__entry",
    ///     pid: None,
    ///     cookie: 0,
    /// };
    /// let _link = loaded.attach_usdt("on_entry", &target)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// No such program; the object was not built with `usdt.bpf.h`; what
    /// [`oxbpf_prog::Program::attach_usdt`] refuses (no such probe in the binary, an
    /// argument it cannot read, the kernel's refusal).
    #[doc(alias = "bpf_program__attach_usdt")]
    pub fn attach_usdt(&self, program: &str, target: &UsdtTarget<'_>) -> Result<Link, LoadError> {
        let prog = self
            .program(program)
            .ok_or_else(|| LoadError::AttachTarget {
                prog: program.to_string(),
                why: "no program of that name was loaded".into(),
            })?;
        let maps = match self.usdt.get() {
            Some(m) => m,
            None => {
                let (Some(specs), Some(ips)) = (self.map(SPECS_MAP), self.map(IP_MAP)) else {
                    return Err(LoadError::Usdt(Box::new(oxbpf_prog::ProgramError::Usdt(
                        format!(
                            "program `{program}`: the object has no {SPECS_MAP} and {IP_MAP} maps: was it built with libbpf's usdt.bpf.h (#include <bpf/usdt.bpf.h>)?"
                        ),
                    ))));
                };
                let made = UsdtMaps::new(specs.map_fd(), ips.map_fd(), self.has_bpf_cookie)
                    .map_err(|e| LoadError::Usdt(Box::new(e)))?;
                // Two threads racing here both made a value; the first one kept wins.
                let _ = self.usdt.set(made);
                self.usdt.get().ok_or_else(|| {
                    LoadError::Usdt(Box::new(oxbpf_prog::ProgramError::Usdt(
                        "USDT maps lost".into(),
                    )))
                })?
            }
        };
        prog.attach_usdt(maps, target)
            .map_err(|e| LoadError::Usdt(Box::new(e)))
    }
}
