//! Sockets for socket filters: `SO_ATTACH_BPF`/`SO_DETACH_BPF`, the raw packet socket
//! the classic examples open (`open_raw_sock("lo")`), and interface names to indexes.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::SysError;

fn setsockopt_int(
    sock: BorrowedFd<'_>,
    name: &'static str,
    opt: i32,
    value: i32,
) -> Result<(), SysError> {
    let started = std::time::Instant::now();
    // Raw: nix has no socket option for SO_ATTACH_BPF/SO_DETACH_BPF.
    // SAFETY: setsockopt reads an i32 from a live local of that size.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&raw const value).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    let result = if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    };
    crate::trace::push_other(
        "setsockopt",
        || {
            // `name` is `setsockopt(SO_...)`: the option's name.
            let opt = name.trim_start_matches("setsockopt(").trim_end_matches(')');
            format!("fd {}, SOL_SOCKET, {opt}, {value}", sock.as_raw_fd())
        },
        started,
        &result.as_ref().map_err(crate::trace::errno_text),
        |()| "0".into(),
    );
    result.map_err(|e| SysError::new(name, e))
}

/// `SO_ATTACH_BPF`: runs socket filter `prog` on every packet `sock` receives (it
/// replaces any filter already there).
///
/// # Errors
/// `EINVAL` for a program that is not a socket filter; `ENOTSOCK`.
pub fn attach_bpf(sock: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), SysError> {
    setsockopt_int(
        sock,
        "setsockopt(SO_ATTACH_BPF)",
        libc::SO_ATTACH_BPF,
        prog.as_raw_fd(),
    )
}

/// `SO_DETACH_BPF`.
///
/// # Errors
/// `ENOENT` when no filter is attached.
pub fn detach_bpf(sock: BorrowedFd<'_>) -> Result<(), SysError> {
    setsockopt_int(sock, "setsockopt(SO_DETACH_BPF)", libc::SO_DETACH_BPF, 0)
}

/// The index of network interface `name`.
///
/// # Errors
/// `ENODEV` when there is no such interface.
pub fn ifindex(name: &str) -> Result<u32, SysError> {
    if name.contains('\0') {
        return Err(SysError::new(
            "if_nametoindex",
            io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    nix::net::if_::if_nametoindex(name)
        .map_err(|_| SysError::new("if_nametoindex", io::Error::from_raw_os_error(libc::ENODEV)))
}

/// Receives one packet without blocking (`MSG_DONTWAIT`) into `buf`; its length.
///
/// # Errors
/// `EAGAIN` when nothing is waiting; other socket errors.
pub fn recv_nowait(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    use nix::sys::socket::{MsgFlags, recv};
    Ok(recv(sock.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT)?)
}

/// The name of interface `ifindex` in this network namespace, for messages: `veth1`, or
/// `ifindex 7` when it has none (gone, or in another namespace).
pub fn ifname(ifindex: u32) -> String {
    match nix::net::if_::if_indextoname(ifindex) {
        Ok(name) => name.to_string_lossy().into_owned(),
        Err(_) => format!("ifindex {ifindex}"),
    }
}

/// A raw `AF_PACKET` socket receiving every protocol on interface `ifname` (samples/bpf's
/// `open_raw_sock`): what classic socket filter examples attach to.
///
/// # Errors
/// `EPERM` without `CAP_NET_RAW`; `ENODEV` for an unknown interface.
pub fn open_raw_sock(ifname: &str) -> Result<OwnedFd, SysError> {
    let index = ifindex(ifname)?;
    use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, socket};
    let proto = (libc::ETH_P_ALL as u16).to_be();
    let sock = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )
    .map_err(|e| SysError::new("socket(AF_PACKET)", e.into()))?;
    // Raw bind: nix's LinkAddr is made only from a raw sockaddr (unsafe there too).
    // SAFETY: all-zero is a valid sockaddr_ll; the fields read by bind are set below.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = proto;
    addr.sll_ifindex = index as i32;
    // SAFETY: `addr` is a live sockaddr_ll and the length is its size.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(SysError::new("bind(AF_PACKET)", io::Error::last_os_error()));
    }
    Ok(sock)
}
