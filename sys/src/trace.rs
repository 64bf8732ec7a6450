//! A record of the `bpf()` calls this thread makes, for `oxbpf explain`: an strace for
//! BPF, with each command's main arguments decoded from its attr and the kernel's
//! answer. Off unless [`recording`] is running; then every call appends one [`Call`].
//! The other calls that attach programs are recorded the same way: `perf_event_open`
//! and its ioctls, `setsockopt(SO_ATTACH_BPF)`, and rtnetlink requests.

use std::cell::RefCell;
use std::time::Instant;

use crate::uapi::{AttachType, Cmd, MapType, ProgType};

/// One `bpf()` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The command (`BPF_PROG_LOAD`).
    pub command: &'static str,
    /// Its main arguments, decoded (`prog_type=xdp insn_cnt=13 name="xdp_pass"`).
    pub args: String,
    /// The kernel's answer: `fd 5`, `0`, or the errno (`EINVAL (Invalid argument)`).
    pub result: String,
    /// How long the kernel took, in microseconds.
    pub micros: u64,
}

thread_local! {
    static CALLS: RefCell<Option<Vec<Call>>> = const { RefCell::new(None) };
}

/// Runs `f`, recording every `bpf()` call this thread makes meanwhile; returns what `f`
/// returned and the calls in order. Recordings do not nest: an inner one takes the
/// calls made during it.
pub fn recording<R>(f: impl FnOnce() -> R) -> (R, Vec<Call>) {
    let outer = CALLS.with(|c| c.borrow_mut().replace(Vec::new()));
    let r = f();
    let calls = CALLS.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer));
    (r, calls.unwrap_or_default())
}

/// Marks the start of a stage in the running recording (a [`Call`] whose `command` is
/// empty and whose `args` is `label`), so a reader can tell what each group of calls
/// was for. Nothing happens outside a recording.
pub fn mark(label: &'static str) {
    CALLS.with(|c| {
        if let Some(v) = c.borrow_mut().as_mut() {
            v.push(Call {
                command: "",
                args: label.to_string(),
                result: String::new(),
                micros: 0,
            });
        }
    });
}

/// Appends a call other than `bpf()` (`perf_event_open`, an ioctl, a netlink request)
/// to the running recording; `args` is only called when one is running.
pub(crate) fn push_other<T, E: std::fmt::Display>(
    command: &'static str,
    args: impl FnOnce() -> String,
    started: Instant,
    result: &Result<T, E>,
    ok: impl FnOnce(&T) -> String,
) {
    if !active() {
        return;
    }
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let result = match result {
        Ok(v) => ok(v),
        Err(e) => e.to_string(),
    };
    let args = args();
    CALLS.with(|c| {
        if let Some(v) = c.borrow_mut().as_mut() {
            v.push(Call {
                command,
                args,
                result,
                micros,
            });
        }
    });
}

/// An errno the way [`push`] shows it: `EINVAL (Invalid argument)`.
pub(crate) fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{} ({e})", errno_name(n)),
        None => e.to_string(),
    }
}

/// Whether a recording is running on this thread (decoding is skipped otherwise).
pub(crate) fn active() -> bool {
    CALLS.with(|c| c.borrow().is_some())
}

/// Appends a call to the running recording.
pub(crate) fn push(
    cmd: Cmd,
    command: &'static str,
    attr: &[u8],
    started: Instant,
    result: &std::io::Result<libc::c_long>,
) {
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let result = match result {
        Ok(v) if returns_fd(cmd) => format!("fd {v}"),
        Ok(v) => v.to_string(),
        Err(e) => match e.raw_os_error() {
            Some(n) => format!("{} ({e})", errno_name(n)),
            None => e.to_string(),
        },
    };
    let args = describe(cmd, attr);
    CALLS.with(|c| {
        if let Some(v) = c.borrow_mut().as_mut() {
            v.push(Call {
                command,
                args,
                result,
                micros,
            });
        }
    });
}

fn returns_fd(cmd: Cmd) -> bool {
    matches!(
        cmd,
        Cmd::MapCreate
            | Cmd::ProgLoad
            | Cmd::BtfLoad
            | Cmd::ObjGet
            | Cmd::ProgGetFdById
            | Cmd::MapGetFdById
            | Cmd::BtfGetFdById
            | Cmd::LinkGetFdById
            | Cmd::RawTracepointOpen
            | Cmd::LinkCreate
            | Cmd::IterCreate
            | Cmd::TokenCreate
    )
}

/// The symbolic name of an errno the bpf() commands return.
pub fn errno_name(n: i32) -> String {
    match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ELOOP => "ELOOP",
        libc::ESRCH => "ESRCH",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENOBUFS => "ENOBUFS",
        crate::ENOTSUPP => "ENOTSUPP",
        _ => return format!("errno {n}"),
    }
    .to_string()
}

/// The `u32` at `off` of attr bytes `b`, as the kernel reads them: a field past the
/// size the call passed is 0, because `__sys_bpf` zeroes its `union bpf_attr` before
/// copying in the caller's `size` bytes (kernel/bpf/syscall.c). The one default that is
/// the kernel's own semantics, not an invented value.
fn u32_at(b: &[u8], off: usize) -> u32 {
    crate::uapi::bytes::Bytes::native(b).u32(off).unwrap_or(0)
}

fn name_at(b: &[u8], off: usize) -> String {
    let raw = b.get(off..off + 16).unwrap_or(&[]);
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// The main arguments of `cmd` from its attr bytes (offsets of `union bpf_attr`).
fn describe(cmd: Cmd, b: &[u8]) -> String {
    let u = |off| u32_at(b, off);
    match cmd {
        Cmd::MapCreate => {
            let mut s = format!(
                "map_type={} key_size={} value_size={} max_entries={} map_flags={:#x} name=\"{}\"",
                MapType(u(0)),
                u(4),
                u(8),
                u(12),
                u(16),
                name_at(b, 28)
            );
            if u(20) != 0 {
                s.push_str(&format!(" inner_map_fd={}", u(20)));
            }
            if u(48) != 0 {
                s.push_str(&format!(
                    " btf_fd={} btf_key_type_id={} btf_value_type_id={}",
                    u(48),
                    u(52),
                    u(56)
                ));
            }
            s
        }
        Cmd::ProgLoad => {
            let mut s = format!(
                "prog_type={} insn_cnt={} name=\"{}\" log_level={}",
                ProgType(u(0)),
                u(4),
                name_at(b, 48),
                u(24)
            );
            if u(68) != 0 {
                s.push_str(&format!(" expected_attach_type={}", AttachType(u(68))));
            }
            if u(72) != 0 {
                s.push_str(&format!(
                    " prog_btf_fd={} func_info_cnt={} line_info_cnt={}",
                    u(72),
                    u(88),
                    u(104)
                ));
            }
            if u(108) != 0 {
                s.push_str(&format!(" attach_btf_id={}", u(108)));
            }
            s
        }
        Cmd::BtfLoad => format!("btf_size={} log_level={}", u(16), u(24)),
        Cmd::MapUpdateElem
        | Cmd::MapLookupElem
        | Cmd::MapDeleteElem
        | Cmd::MapGetNextKey
        | Cmd::MapLookupAndDeleteElem => format!("map_fd={} flags={:#x}", u(0), u(24)),
        Cmd::MapFreeze => format!("map_fd={}", u(0)),
        Cmd::ObjGetInfoByFd => format!("bpf_fd={} info_len={}", u(0), u(4)),
        Cmd::ObjPin | Cmd::ObjGet => format!("bpf_fd={}", u(8)),
        Cmd::LinkCreate => format!(
            "prog_fd={} target_fd={} attach_type={} flags={:#x}",
            u(0),
            u(4),
            AttachType(u(8)),
            u(12)
        ),
        Cmd::ProgAttach | Cmd::ProgDetach => format!(
            "target_fd={} attach_bpf_fd={} attach_type={} flags={:#x}",
            u(0),
            u(4),
            AttachType(u(8)),
            u(12)
        ),
        Cmd::RawTracepointOpen => format!("prog_fd={}", u(8)),
        Cmd::ProgTestRun => format!("prog_fd={} data_size_in={}", u(0), u(8)),
        Cmd::ProgGetFdById | Cmd::MapGetFdById | Cmd::BtfGetFdById | Cmd::LinkGetFdById => {
            format!("id={}", u(0))
        }
        Cmd::MapLookupBatch
        | Cmd::MapLookupAndDeleteBatch
        | Cmd::MapUpdateBatch
        | Cmd::MapDeleteBatch => format!("map_fd={} count={}", u(36), u(32)),
        Cmd::LinkDetach | Cmd::IterCreate => format!("link_fd={}", u(0)),
        Cmd::ProgBindMap => format!("prog_fd={} map_fd={}", u(0), u(4)),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_recorded_outside_a_recording() {
        assert!(!active());
        let ((), calls) = recording(|| assert!(active()));
        assert!(calls.is_empty());
        assert!(!active());
    }

    #[test]
    fn attach_calls_other_than_bpf_are_recorded_with_their_answer() {
        use std::os::fd::AsFd as _;
        let null = std::fs::File::open("/dev/null").unwrap();
        let (sock_result, calls) = recording(|| {
            let r = crate::sock::attach_bpf(null.as_fd(), null.as_fd());
            // RTM_GETLINK of loopback (ifindex 1): one reply, no privilege needed.
            let mut msg = crate::netlink::Message::new(
                crate::netlink::RTM_GETLINK,
                0,
                &crate::netlink::ifinfomsg(1),
            );
            crate::netlink::Socket::route()
                .unwrap()
                .request("RTM_GETLINK", &mut msg)
                .unwrap();
            r
        });
        assert!(sock_result.is_err());
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[0].command, "setsockopt");
        assert!(
            calls[0].args.contains(", SOL_SOCKET, SO_ATTACH_BPF, "),
            "{}",
            calls[0].args
        );
        assert!(
            calls[0].result.starts_with("ENOTSOCK"),
            "{}",
            calls[0].result
        );
        assert_eq!(calls[1].command, "RTM_GETLINK");
        assert!(
            calls[1].args.starts_with("rtnetlink, ifindex 1, "),
            "{}",
            calls[1].args
        );
        assert_eq!(calls[1].result, "1 replies");
    }

    #[test]
    fn map_create_arguments_are_decoded() {
        let attr = crate::uapi::MapCreateAttr {
            map_type: MapType::HASH,
            key_size: 4,
            value_size: 8,
            max_entries: 16,
            map_name: *b"counts\0\0\0\0\0\0\0\0\0\0",
            ..Default::default()
        };
        // SAFETY: a plain-old-data struct viewed as its bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts((&raw const attr).cast::<u8>(), std::mem::size_of_val(&attr))
        };
        assert_eq!(
            describe(Cmd::MapCreate, bytes),
            "map_type=hash key_size=4 value_size=8 max_entries=16 map_flags=0x0 name=\"counts\""
        );
    }
}
