//! struct_ops: registering a struct_ops map's value with the kernel, as libbpf's
//! `bpf_map__attach_struct_ops` does. The value (the kernel's `bpf_struct_ops_<name>`
//! wrapper with the program fds at its function pointers, built at load) is written to
//! element 0; a plain `.struct_ops` map is registered by that update and unregistered
//! by deleting the element; a `.struct_ops.link` map (`BPF_F_LINK`) is registered by a
//! bpf_link (`BPF_LINK_CREATE`, `BPF_STRUCT_OPS`), which unregisters when closed and
//! stays while pinned.

use std::os::fd::AsFd as _;

use oxbpf_sys::bpf::{self, MapFd};
use oxbpf_sys::uapi::{AttachType, LinkCreateAttr};

use crate::link::{Held, Link, LinkError, raw};

impl Link {
    /// Registers struct_ops map `map` (named `name` in messages) with `value`; `link`
    /// for a `.struct_ops.link` map.
    ///
    /// # Errors
    /// The kernel's refusal of the update (`EPERM`/`ENOTSUPP` where it cannot build BPF
    /// trampolines, `EBUSY` when a struct of that name is registered already) or of the
    /// link.
    #[doc(alias = "bpf_map__attach_struct_ops")]
    pub fn register_struct_ops(
        map: &MapFd,
        value: &[u8],
        link: bool,
        name: &str,
    ) -> Result<Link, LinkError> {
        let what = format!("struct_ops map {name}");
        let sys = |op, source| LinkError::Sys {
            what: what.clone(),
            op,
            source,
        };
        bpf::map_update_elem(map, &0u32.to_ne_bytes(), value, 0)
            .map_err(|e| sys("register (update element 0)", e))?;
        let held = if link {
            let attr = LinkCreateAttr::new(raw(map.as_fd()), 0, AttachType::STRUCT_OPS);
            Held::Bpf(bpf::link_create(&attr).map_err(|e| sys("link", e))?)
        } else {
            // Its own handle: the registration lasts until the element is deleted.
            let dup = map
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| sys("dup", oxbpf_sys::SysError::new("fcntl(F_DUPFD_CLOEXEC)", e)))?;
            let (fd, _) = MapFd::from_fd(dup).map_err(|e| sys("dup", e))?;
            Held::StructOpsMap(fd)
        };
        Ok(Link::new(
            held,
            format!(
                "{what} registered{}",
                if link { " through a link" } else { "" }
            ),
        ))
    }

    /// Replaces the struct this struct_ops link registers with struct_ops map `map`
    /// (named `name` in messages) holding `value`, in one step: the kernel swaps the
    /// two without a moment where neither is registered (libbpf's
    /// `bpf_link__update_map`). `map` must be a `.struct_ops.link` map of the same
    /// struct type; a TCP congestion control must keep its name.
    ///
    /// # Errors
    /// Not a struct_ops link; the kernel's refusal of the value or of the update.
    #[doc(alias = "bpf_link__update_map")]
    pub fn update_struct_ops(
        &mut self,
        map: &MapFd,
        value: &[u8],
        name: &str,
    ) -> Result<(), LinkError> {
        let what = self.what.clone();
        let sys = |op, source| LinkError::Sys {
            what: what.clone(),
            op,
            source,
        };
        let Held::Bpf(link) = &self.held else {
            return Err(LinkError::NotUpdatable(self.what.clone()));
        };
        // A map whose value was set before (it registered or updated a link already)
        // keeps it: the kernel never changes a struct_ops value once set (EBUSY).
        match bpf::map_update_elem(map, &0u32.to_ne_bytes(), value, 0) {
            Err(e) if e.errno() != Some(libc::EBUSY) => {
                return Err(sys("set the new map's value (update element 0)", e));
            }
            _ => {}
        }
        bpf::link_update(link.as_fd(), map.as_fd(), None).map_err(|e| sys("update", e))?;
        log::debug!("{}: now struct_ops map {name}", self.what);
        self.what = format!("struct_ops map {name} registered through a link");
        Ok(())
    }
}
