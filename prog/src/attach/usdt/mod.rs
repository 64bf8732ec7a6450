//! USDT: a program built with libbpf's `usdt.bpf.h` on the statically defined probes
//! of a binary (`DTRACE_PROBE*` of `<sys/sdt.h>`), as libbpf's `usdt.c` attaches it.
//!
//! The program reads its arguments with `bpf_usdt_arg(ctx, n, &v)`, which looks up a
//! *spec* — where each argument is at this probe site — in the object's
//! `__bpf_usdt_specs` array by spec id. Attaching therefore:
//!
//! 1. reads the binary's probe sites (`note.rs`) and each site's argument text
//!    (`arg.rs`), for the machine the binary is built for;
//! 2. gives each distinct argument text a spec id (ids are per object, freed when the
//!    attachment is dropped) and writes the spec into `__bpf_usdt_specs`;
//! 3. tells the program which spec a firing uses: as the BPF cookie of the uprobe
//!    (kernels with `bpf_get_attach_cookie`, 5.15), else through
//!    `__bpf_usdt_ip_to_spec_id`, keyed by the instruction's run-time address — which
//!    `usdt.bpf.h` chose when the object was loaded (`LINUX_HAS_BPF_COOKIE`), so the
//!    same answer must be given here;
//! 4. puts a uprobe on every site: one uprobe_multi link when the program was loaded
//!    for one (libbpf's choice, made at load), else a perf event per site; a site with
//!    a semaphore gets its file offset as the uprobe's reference counter, so the
//!    process sees the probe enabled.
//!
//! The spec's layout is the one the object was built with: libbpf 1.7's `usdt.bpf.h`
//! grew `struct __bpf_usdt_arg_spec` from 16 to 24 bytes (scale-index-base arguments),
//! so the layout is chosen by the size of the map's value.

mod arg;
mod note;

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::AsFd as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use oxbpf_sys::bpf::{self, MapFd};
use oxbpf_sys::perf::{self, PerfEventAttr};
use oxbpf_sys::uapi::{AttachType, LinkCreateAttr};

pub use self::arg::{Arch, Arg, ArgLocation, MAX_ARGS, parse_args};
pub use self::note::{ProbeSite, UsdtBinary, read as read_probes};
use crate::link::{Held, Link, raw};
use crate::{Program, ProgramError};

/// The layout of `struct __bpf_usdt_spec` the object was built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecLayout {
    /// libbpf up to 1.6: 16-byte argument specs (`val_off`, `arg_type` as a 4-byte
    /// enum, `reg_off`, `arg_signed`, `arg_bitshift`); 208 bytes in all. No
    /// scale-index-base arguments.
    Plain,
    /// libbpf 1.7 on: 24-byte argument specs with the index register and scale as
    /// bitfields after an 8-bit `arg_type`; 304 bytes in all.
    WithSib,
}

impl SpecLayout {
    /// The layout of a `__bpf_usdt_specs` value of `value_size` bytes.
    pub fn from_value_size(value_size: u32) -> Option<SpecLayout> {
        match value_size {
            208 => Some(SpecLayout::Plain),
            304 => Some(SpecLayout::WithSib),
            _ => None,
        }
    }

    fn arg_size(self) -> usize {
        match self {
            SpecLayout::Plain => 16,
            SpecLayout::WithSib => 24,
        }
    }

    /// The spec as the object's `usdt.bpf.h` reads it.
    ///
    /// # Errors
    /// A scale-index-base argument in the [`SpecLayout::Plain`] layout, which cannot
    /// say it.
    pub fn encode(self, args: &[Arg], cookie: u64) -> Result<Vec<u8>, String> {
        let stride = self.arg_size();
        let mut v = vec![0u8; stride * MAX_ARGS + 16];
        for (i, a) in args.iter().enumerate().take(MAX_ARGS) {
            let at = &mut v[i * stride..(i + 1) * stride];
            let (kind, val_off, reg, index, shift) = match a.location {
                ArgLocation::Const(c) => (0u8, c, 0, 0, 0),
                ArgLocation::Reg(r) => (1, 0, r, 0, 0),
                ArgLocation::Deref { reg, offset } => (2, offset, reg, 0, 0),
                ArgLocation::Sib {
                    base,
                    index,
                    scale_shift,
                    offset,
                } => (3, offset, base, index, scale_shift),
            };
            at[..8].copy_from_slice(&val_off.to_ne_bytes());
            at[8] = kind;
            let rest = match self {
                SpecLayout::Plain if kind == 3 => {
                    return Err(format!(
                        "argument #{i} is scale-index-base addressed, which the object's usdt.bpf.h cannot read (it comes with libbpf 1.7); rebuild the program with a newer usdt.bpf.h"
                    ));
                }
                SpecLayout::Plain => 12,
                SpecLayout::WithSib => {
                    let packed = (index & 0xfff) | (u16::from(shift) << 12);
                    at[10..12].copy_from_slice(&packed.to_ne_bytes());
                    14
                }
            };
            at[rest..rest + 2].copy_from_slice(&reg.to_ne_bytes());
            at[rest + 2] = u8::from(a.signed);
            at[rest + 3] = 64 - a.size * 8;
        }
        let tail = stride * MAX_ARGS;
        v[tail..tail + 8].copy_from_slice(&cookie.to_ne_bytes());
        let count = args.len() as u16;
        v[tail + 8..tail + 10].copy_from_slice(&count.to_ne_bytes());
        Ok(v)
    }
}

/// An object's USDT state (libbpf's `usdt_manager`): its two maps and the spec ids in
/// use. Made once per loaded object; attachments share it.
#[derive(Debug)]
pub struct UsdtMaps {
    specs: MapFd,
    ip_to_spec_id: MapFd,
    layout: SpecLayout,
    has_bpf_cookie: bool,
    ids: Arc<Mutex<SpecIds>>,
}

/// The spec ids of `__bpf_usdt_specs`: the next never used, and those given back.
#[derive(Debug)]
struct SpecIds {
    next: u32,
    free: Vec<u32>,
    max: u32,
}

/// Spec ids and instruction addresses an attachment holds; given back when it is
/// dropped (after its uprobes are gone).
#[derive(Debug)]
struct SpecLease {
    ids: Vec<u32>,
    ips: Vec<u64>,
    ip_map: Option<MapFd>,
    pool: Arc<Mutex<SpecIds>>,
}

impl Drop for SpecLease {
    fn drop(&mut self) {
        if let Some(map) = &self.ip_map {
            for ip in &self.ips {
                if let Err(e) = bpf::map_delete_elem(map, &ip.to_ne_bytes()) {
                    log::warn!(
                        "usdt: removing instruction {ip:#x} from __bpf_usdt_ip_to_spec_id: {e}"
                    );
                }
            }
        }
        if let Ok(mut pool) = self.pool.lock() {
            pool.free.append(&mut self.ids);
        }
    }
}

/// Where to attach a USDT program.
#[derive(Clone, Copy, Debug)]
pub struct UsdtTarget<'a> {
    /// The binary or library with the probe (a bare library name is looked up in the
    /// standard directories).
    pub path: &'a Path,
    /// The probe's provider.
    pub provider: &'a str,
    /// The probe's name.
    pub name: &'a str,
    /// Only in this process (`None`: every process running the binary).
    pub pid: Option<i32>,
    /// The value `bpf_usdt_cookie()` returns in the program.
    pub cookie: u64,
}

impl<'a> UsdtTarget<'a> {
    /// The target a `usdt/PATH:PROVIDER:NAME` section names, as libbpf reads it (the
    /// path cannot hold a `:`); `None` for a bare `usdt` section.
    pub fn from_section(section_target: &'a str) -> Option<UsdtTarget<'a>> {
        let mut parts = section_target.split(':');
        let (Some(path), Some(provider), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(UsdtTarget {
            path: Path::new(path),
            provider,
            name,
            pid: None,
            cookie: 0,
        })
    }
}

/// Why the USDT maps cannot be used.
fn bad_maps(why: String) -> ProgramError {
    ProgramError::Usdt(why)
}

impl UsdtMaps {
    /// The state of an object whose `__bpf_usdt_specs` and `__bpf_usdt_ip_to_spec_id`
    /// maps are `specs` and `ip_to_spec_id`; `has_bpf_cookie` is the value the object's
    /// `LINUX_HAS_BPF_COOKIE` was loaded with.
    ///
    /// # Errors
    /// The maps are not those of `usdt.bpf.h` (key or value sizes), or cannot be
    /// duplicated.
    pub fn new(
        specs: &MapFd,
        ip_to_spec_id: &MapFd,
        has_bpf_cookie: bool,
    ) -> Result<UsdtMaps, ProgramError> {
        let layout = SpecLayout::from_value_size(specs.value_size()).ok_or_else(|| {
            bad_maps(format!(
                "__bpf_usdt_specs has {}-byte values; libbpf's usdt.bpf.h makes them 208 (libbpf up to 1.6) or 304 bytes (1.7 on)",
                specs.value_size()
            ))
        })?;
        if specs.key_size() != 4 || ip_to_spec_id.key_size() != 8 || ip_to_spec_id.value_size() != 4
        {
            return Err(bad_maps(
                "__bpf_usdt_specs or __bpf_usdt_ip_to_spec_id is not as usdt.bpf.h declares it (int → spec, long → u32)".into(),
            ));
        }
        Ok(UsdtMaps {
            specs: clone_map(specs).map_err(bad_maps)?,
            ip_to_spec_id: clone_map(ip_to_spec_id).map_err(bad_maps)?,
            layout,
            has_bpf_cookie,
            ids: Arc::new(Mutex::new(SpecIds {
                next: 0,
                free: Vec::new(),
                max: specs.max_entries(),
            })),
        })
    }

    /// The spec layout the object was built with.
    pub fn layout(&self) -> SpecLayout {
        self.layout
    }
}

/// An attachment being made: the resolved binary, the process, the cookie, and the
/// text that names it in messages.
struct Attaching<'a> {
    path: &'a Path,
    pid: Option<i32>,
    cookie: u64,
    what: &'a str,
}

/// One site to attach, its spec id decided.
struct Site {
    file_offset: u64,
    semaphore_offset: u64,
    spec_id: u32,
    address: u64,
}

impl Program {
    /// Attaches this USDT program (`SEC("usdt")`, built with `usdt.bpf.h`) to every site
    /// of probe `target.provider:target.name` in `target.path`, with the object's USDT
    /// maps `maps` (libbpf `bpf_program__attach_usdt`).
    ///
    /// # Errors
    /// The binary has no such probe (the error lists those it has); an argument cannot
    /// be read; more distinct specs than `__bpf_usdt_specs` holds; a shared object on a
    /// kernel without BPF cookies and no `pid`; the kernel's refusal.
    #[doc(alias = "bpf_program__attach_usdt")]
    pub fn attach_usdt(
        &self,
        maps: &UsdtMaps,
        target: &UsdtTarget<'_>,
    ) -> Result<Link, ProgramError> {
        let path = crate::symbols::resolve_library(target.path);
        let what = format!(
            "usdt {}:{}:{}",
            path.display(),
            target.provider,
            target.name
        );
        let unsupported = |why: String| ProgramError::Unsupported {
            prog: self.name.clone(),
            what: what.clone(),
            why,
        };
        let binary = note::read(&path).map_err(unsupported)?;
        if Some(binary.arch) != Arch::host() {
            return Err(unsupported(format!(
                "the binary is built for {:?}, this machine is not",
                binary.arch
            )));
        }
        let probes: Vec<&ProbeSite> = binary
            .probes
            .iter()
            .filter(|p| p.provider == target.provider && p.name == target.name)
            .collect();
        if probes.is_empty() {
            let mut have: Vec<String> = binary
                .probes
                .iter()
                .map(|p| format!("{}:{}", p.provider, p.name))
                .collect();
            have.dedup();
            return Err(unsupported(format!(
                "no such probe; the binary has: {}",
                have.join(", ")
            )));
        }
        if probes.iter().any(|p| p.semaphore_offset != 0) && !semaphores_counted() {
            return Err(unsupported(
                "the probe has a semaphore, and this kernel cannot count uprobes in one (no ref_ctr_offset in the uprobe PMU, 4.20)".into(),
            ));
        }
        let pid = target
            .pid
            .map(|p| if p == 0 { std::process::id() as i32 } else { p });
        if binary.shared && !maps.has_bpf_cookie && pid.is_none() {
            return Err(unsupported(
                "this kernel has no BPF cookies (5.15), so the program finds its probe by address, and a shared object's address is known only in one process: give a pid".into(),
            ));
        }
        let (sites, lease) = self.write_specs(
            maps,
            &binary,
            &probes,
            &Attaching {
                path: &path,
                pid,
                cookie: target.cookie,
                what: &what,
            },
        )?;
        let c = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())).map_err(
            |_| ProgramError::Path {
                prog: self.name.clone(),
                path: path.display().to_string(),
            },
        )?;
        let uprobes = if self.expected_attach_type == Some(AttachType::TRACE_UPROBE_MULTI) {
            vec![self.usdt_multi_link(&c, &sites, maps.has_bpf_cookie, pid, &what)?]
        } else {
            self.usdt_perf_events(&c, &sites, maps.has_bpf_cookie, pid, &what)?
        };
        log::debug!(
            "{}: {what}: {} sites, spec ids {:?}",
            self.name,
            sites.len(),
            lease.ids
        );
        Ok(Link::new(
            Held::Several {
                parts: uprobes,
                then: Box::new(lease),
            },
            format!("{} on {what} ({} sites)", self.name, sites.len()),
        ))
    }

    /// Gives each distinct argument text a spec id and writes the specs (and without
    /// cookies, the address → spec id entries).
    fn write_specs(
        &self,
        maps: &UsdtMaps,
        binary: &UsdtBinary,
        probes: &[&ProbeSite],
        at: &Attaching<'_>,
    ) -> Result<(Vec<Site>, SpecLease), ProgramError> {
        let unsupported = |why: String| ProgramError::Unsupported {
            prog: self.name.clone(),
            what: at.what.to_string(),
            why,
        };
        let mut lease = SpecLease {
            ids: Vec::new(),
            ips: Vec::new(),
            ip_map: None,
            pool: Arc::clone(&maps.ids),
        };
        if !maps.has_bpf_cookie {
            lease.ip_map = Some(clone_map(&maps.ip_to_spec_id).map_err(&unsupported)?);
        }
        let mut by_text: HashMap<&str, u32> = HashMap::new();
        let mut sites = Vec::with_capacity(probes.len());
        for p in probes {
            let spec_id = match by_text.get(p.args.as_str()) {
                Some(&id) => id,
                None => {
                    let args = arg::parse_args(binary.arch, &p.args)
                        .map_err(|why| unsupported(format!("at {:#x}: {why}", p.address)))?;
                    let value = maps.layout.encode(&args, at.cookie).map_err(&unsupported)?;
                    let id = take_id(&maps.ids).ok_or_else(|| {
                        unsupported("__bpf_usdt_specs is full: more distinct USDT argument specs are attached than it holds (BPF_USDT_MAX_SPEC_CNT)".into())
                    })?;
                    lease.ids.push(id);
                    bpf::map_update_elem(&maps.specs, &id.to_ne_bytes(), &value, 0)
                        .map_err(|e| self.attach_error(at.what, "BPF_MAP_UPDATE_ELEM", e))?;
                    by_text.insert(&p.args, id);
                    id
                }
            };
            let address = match (binary.shared, at.pid) {
                (true, Some(pid)) if !maps.has_bpf_cookie => {
                    note::runtime_address(pid, at.path, p.file_offset).map_err(&unsupported)?
                }
                _ => p.address,
            };
            if let Some(ip_map) = &lease.ip_map {
                bpf::map_update_elem(ip_map, &address.to_ne_bytes(), &spec_id.to_ne_bytes(), 1)
                    .map_err(|e| {
                        self.attach_error(
                            at.what,
                            "BPF_MAP_UPDATE_ELEM (__bpf_usdt_ip_to_spec_id)",
                            e,
                        )
                    })?;
                lease.ips.push(address);
            }
            sites.push(Site {
                file_offset: p.file_offset,
                semaphore_offset: p.semaphore_offset,
                spec_id,
                address,
            });
        }
        Ok((sites, lease))
    }

    fn usdt_multi_link(
        &self,
        path: &CString,
        sites: &[Site],
        cookies: bool,
        pid: Option<i32>,
        what: &str,
    ) -> Result<Held, ProgramError> {
        let offsets: Vec<u64> = sites.iter().map(|s| s.file_offset).collect();
        let semaphores: Vec<u64> = sites.iter().map(|s| s.semaphore_offset).collect();
        let ids: Vec<u64> = sites.iter().map(|s| u64::from(s.spec_id)).collect();
        let fd = bpf::link_create_uprobe_multi(
            self.fd.as_fd(),
            AttachType::TRACE_UPROBE_MULTI,
            path,
            &bpf::UprobeSites {
                offsets: &offsets,
                ref_ctr_offsets: if semaphores.iter().any(|&s| s != 0) {
                    &semaphores
                } else {
                    &[]
                },
                cookies: if cookies { &ids } else { &[] },
            },
            0,
            pid.map_or(0, |p| p as u32),
        )
        .map_err(|e| self.attach_error(what, "BPF_LINK_CREATE", e))?;
        Ok(Held::Bpf(fd))
    }

    fn usdt_perf_events(
        &self,
        path: &CString,
        sites: &[Site],
        cookies: bool,
        pid: Option<i32>,
        what: &str,
    ) -> Result<Vec<Held>, ProgramError> {
        /// `ref_ctr_offset` sits in the high half of the uprobe PMU's `config`.
        const REF_CTR_OFFSET_SHIFT: u32 = 32;
        let pmu = perf::pmu_type("uprobe").ok_or_else(|| ProgramError::Unsupported {
            prog: self.name.clone(),
            what: what.to_string(),
            why: "this kernel has no uprobe PMU (4.17; built without CONFIG_UPROBE_EVENTS?)".into(),
        })?;
        let (pid, cpu) = match pid {
            Some(p) => (p, -1),
            None => (-1, 0),
        };
        let mut held = Vec::with_capacity(sites.len());
        for s in sites {
            let mut attr = PerfEventAttr::new(pmu, s.semaphore_offset << REF_CTR_OFFSET_SHIFT);
            attr.config1 = path.as_ptr() as u64;
            attr.config2 = s.file_offset;
            let site = format!("{what} at {:#x}", s.address);
            let event = perf::perf_event_open(&attr, pid, cpu)
                .map_err(|e| self.attach_error(&site, "perf_event_open", e))?;
            if cookies {
                let attr = LinkCreateAttr::new(
                    raw(self.fd.as_fd()),
                    raw(event.as_fd()),
                    AttachType::PERF_EVENT,
                )
                .with_perf_cookie(u64::from(s.spec_id));
                let link = bpf::link_create(&attr)
                    .map_err(|e| self.attach_error(&site, "BPF_LINK_CREATE", e))?;
                held.push(Held::PerfLink { link, event });
            } else {
                held.push(self.attach_perf_event(event, &site)?.into_held());
            }
        }
        Ok(held)
    }
}

/// Whether uprobes can count attachments in a semaphore (`ref_ctr_offset`, 4.20).
fn semaphores_counted() -> bool {
    Path::new("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset").exists()
}

fn take_id(pool: &Mutex<SpecIds>) -> Option<u32> {
    let mut pool = pool.lock().ok()?;
    if let Some(id) = pool.free.pop() {
        return Some(id);
    }
    (pool.next < pool.max).then(|| {
        pool.next += 1;
        pool.next - 1
    })
}

fn clone_map(m: &MapFd) -> Result<MapFd, String> {
    let fd = m
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("duplicating a map fd: {e}"))?;
    MapFd::from_fd(fd)
        .map(|(m, _)| m)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_written_in_the_layout_of_the_objects_usdt_bpf_h() {
        let args =
            parse_args(Arch::X86_64, "-4@%edi 8@-16(%rbp) 2@$7 -1@-96(%rbp,%rax,8)").unwrap();
        let plain = SpecLayout::Plain.encode(&args[..3], 0x1122).unwrap();
        assert_eq!(plain.len(), 208);
        // val_off, arg_type (4-byte enum), reg_off, arg_signed, arg_bitshift
        assert_eq!(
            &plain[..16],
            &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 112, 0, 1, 32]
        );
        assert_eq!(
            &plain[16..32],
            &[
                240, 255, 255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 32, 0, 0, 0
            ]
        );
        assert_eq!(
            &plain[32..48],
            &[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 48]
        );
        assert_eq!(&plain[192..202], &[0x22, 0x11, 0, 0, 0, 0, 0, 0, 3, 0]);
        assert!(
            SpecLayout::Plain
                .encode(&args, 0)
                .unwrap_err()
                .contains("argument #3 is scale-index-base")
        );

        let sib = SpecLayout::WithSib.encode(&args, 0).unwrap();
        assert_eq!(sib.len(), 304);
        // val_off, arg_type:8, (pad), idx_reg_off:12 | scale_bitshift:4, __reserved,
        // (pad), reg_off, arg_signed, arg_bitshift
        assert_eq!(
            &sib[..18],
            &[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 112, 0, 1, 32]
        );
        let fourth = &sib[72..90];
        assert_eq!(fourth[..8], (-96i64).to_ne_bytes());
        assert_eq!(fourth[8], 3);
        assert_eq!(u16::from_ne_bytes([fourth[10], fourth[11]]), 80 | (3 << 12));
        assert_eq!(&fourth[14..18], &[32, 0, 1, 56]);
        assert_eq!(&sib[296..298], &[4, 0]);
        assert_eq!(SpecLayout::from_value_size(208), Some(SpecLayout::Plain));
        assert_eq!(SpecLayout::from_value_size(100), None);
    }

    #[test]
    fn section_targets_name_path_provider_and_probe() {
        let t = UsdtTarget::from_section("/usr/bin/app:myprov:start").unwrap();
        assert_eq!(
            (t.path, t.provider, t.name),
            (Path::new("/usr/bin/app"), "myprov", "start")
        );
        assert!(UsdtTarget::from_section("").is_none());
        assert!(UsdtTarget::from_section("/bin/app:prov").is_none());
        assert!(UsdtTarget::from_section("/a:b:c:d").is_none());
    }
}
