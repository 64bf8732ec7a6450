//! rtnetlink, for the attachments that predate bpf_links: XDP through `RTM_SETLINK`
//! (`IFLA_XDP`) and tc programs through a clsact qdisc and a cls_bpf filter. What
//! `ip link set dev X xdp obj ...` and `tc filter add ... bpf da` send, built by hand.
//!
//! A message is a `nlmsghdr`, a fixed family header (`ifinfomsg`, `tcmsg`) and
//! attributes (`nlattr`: length, type, payload, padded to 4 bytes; nested attributes
//! carry `NLA_F_NESTED`). Every request asks for an acknowledgement; with extended acks
//! on, a refusal carries the kernel's own sentence ("Native and generic XDP can't be
//! active at the same time."), which becomes part of the error.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::SysError;
use crate::uapi::bytes::{Bytes, ShortRead};

/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_GETLINK`.
pub const RTM_GETLINK: u16 = 18;
/// `RTM_SETLINK`.
pub const RTM_SETLINK: u16 = 19;
/// `RTM_NEWQDISC`.
pub const RTM_NEWQDISC: u16 = 36;
/// `RTM_DELQDISC`.
pub const RTM_DELQDISC: u16 = 37;
/// `RTM_GETQDISC`.
pub const RTM_GETQDISC: u16 = 38;
/// `RTM_NEWTFILTER`.
pub const RTM_NEWTFILTER: u16 = 44;
/// `RTM_DELTFILTER`.
pub const RTM_DELTFILTER: u16 = 45;
/// `RTM_GETTFILTER`.
pub const RTM_GETTFILTER: u16 = 46;

/// `NLM_F_REQUEST`.
pub const F_REQUEST: u16 = 1;
/// `NLM_F_ACK`.
pub const F_ACK: u16 = 4;
/// `NLM_F_DUMP` (`ROOT | MATCH`).
pub const F_DUMP: u16 = 0x300;
/// `NLM_F_EXCL`: fail if it exists.
pub const F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`.
pub const F_CREATE: u16 = 0x400;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLA_F_NESTED: u16 = 0x8000;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const SOL_NETLINK: i32 = 270;
const NETLINK_CAP_ACK: i32 = 10;
const NETLINK_EXT_ACK: i32 = 11;

/// A netlink message under construction.
#[derive(Debug, Clone)]
pub struct Message {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Message {
    /// A request of `msg_type` with `flags` (`F_REQUEST | F_ACK` are added) and the
    /// family header bytes `header`.
    pub fn new(msg_type: u16, flags: u16, header: &[u8]) -> Message {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&msg_type.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | F_REQUEST | F_ACK).to_ne_bytes());
        buf.extend_from_slice(header);
        pad(&mut buf);
        Message {
            buf,
            nests: Vec::new(),
        }
    }

    /// Appends attribute `kind` with `payload`.
    pub fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Message {
        let len = (4 + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        pad(&mut self.buf);
        self
    }

    /// Appends a `u32` attribute.
    pub fn attr_u32(&mut self, kind: u16, v: u32) -> &mut Message {
        self.attr(kind, &v.to_ne_bytes())
    }

    /// Appends a NUL-terminated string attribute.
    pub fn attr_str(&mut self, kind: u16, s: &str) -> &mut Message {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.attr(kind, &b)
    }

    /// Opens a nested attribute; close it with [`Message::end_nest`].
    pub fn begin_nest(&mut self, kind: u16) -> &mut Message {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    /// Closes the innermost nested attribute.
    pub fn end_nest(&mut self) -> &mut Message {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    fn finish(&mut self, seq: u32) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

fn pad(buf: &mut Vec<u8>) {
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// One attribute of a reply: its type (without flag bits) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// Type, flags masked off.
    pub kind: u16,
    /// Payload.
    pub payload: &'a [u8],
}

impl Attr<'_> {
    /// The payload as a `u32`.
    ///
    /// # Errors
    /// [`ShortRead`] when the payload is shorter than 4 bytes: a truncated attribute is
    /// not a zero.
    pub fn u32(&self) -> Result<u32, ShortRead> {
        Bytes::native(self.payload).u32(0)
    }

    /// The payload as a `u8`.
    ///
    /// # Errors
    /// [`ShortRead`] when the payload is empty.
    pub fn u8(&self) -> Result<u8, ShortRead> {
        Bytes::native(self.payload).u8(0)
    }

    /// The payload as a string, up to its NUL.
    pub fn str(&self) -> String {
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.payload.len());
        String::from_utf8_lossy(&self.payload[..end]).into_owned()
    }
}

/// The attributes in `data`, stopping at the first malformed one.
pub fn attrs(data: &[u8]) -> Vec<Attr<'_>> {
    let b = Bytes::native(data);
    let mut out = Vec::new();
    let mut at = 0;
    // `struct nlattr`: nla_len (header included), nla_type; a header cut off ends it.
    while let (Ok(len), Ok(kind)) = (b.u16(at), b.u16(at + 2)) {
        let len = usize::from(len);
        let Some(payload) = len.checked_sub(4).and_then(|n| b.slice(at + 4, n).ok()) else {
            break;
        };
        out.push(Attr {
            kind: kind & 0x3fff,
            payload,
        });
        at += (len + 3) & !3;
    }
    out
}

/// A reply message: its type and body (family header and attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `nlmsg_type`.
    pub msg_type: u16,
    /// Everything after the `nlmsghdr`.
    pub body: Vec<u8>,
}

impl Reply {
    /// The u32 at byte `at` of the body (the fixed header after `nlmsghdr`:
    /// `ifinfomsg`, `tcmsg`).
    ///
    /// # Errors
    /// [`ShortRead`] when the body is shorter: a truncated message, not a 0.
    pub fn u32_at(&self, at: usize) -> Result<u32, ShortRead> {
        Bytes::native(&self.body).u32(at)
    }

    /// The attributes after the body's fixed header of `header` bytes.
    ///
    /// # Errors
    /// [`ShortRead`] when the body is shorter than its fixed header.
    pub fn attrs_after(&self, header: usize) -> Result<Vec<Attr<'_>>, ShortRead> {
        match self.body.get(header..) {
            Some(rest) => Ok(attrs(rest)),
            None => Err(ShortRead {
                offset: 0,
                wanted: header,
                what: "netlink fixed header",
                len: self.body.len(),
            }),
        }
    }
}

/// A refusal, with the kernel's extended-ack sentence when it gave one.
#[derive(Debug, thiserror::Error)]
/// Shows as "`RTM_SETLINK` failed (the kernel's sentence)"; the errno is the source.
#[error("{call} failed{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
pub struct NetlinkError {
    /// What was asked (`RTM_SETLINK`...).
    pub call: &'static str,
    /// The errno.
    #[source]
    pub source: io::Error,
    /// The kernel's extended ack message.
    pub message: Option<String>,
}

impl NetlinkError {
    /// The errno.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

/// An rtnetlink socket.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    /// Opens a `NETLINK_ROUTE` socket with extended and capped acks.
    ///
    /// # Errors
    /// The socket cannot be created.
    pub fn route() -> Result<Socket, SysError> {
        use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, socket};
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map_err(|e| SysError::new("socket(AF_NETLINK)", e.into()))?;
        for opt in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
            let one = 1i32;
            // Raw: nix has no socket option for NETLINK_EXT_ACK/NETLINK_CAP_ACK.
            // SAFETY: setsockopt reads an i32 from a live local. Failure (old kernels)
            // only loses the kernel's sentences.
            unsafe {
                libc::setsockopt(fd.as_raw_fd(), SOL_NETLINK, opt, (&raw const one).cast(), 4)
            };
        }
        Ok(Socket { fd, seq: 0 })
    }

    /// Sends `msg` and collects replies until the acknowledgement (or, for dumps,
    /// `NLMSG_DONE`).
    ///
    /// # Errors
    /// The kernel's refusal, with its extended-ack sentence.
    pub fn request(
        &mut self,
        call: &'static str,
        msg: &mut Message,
    ) -> Result<Vec<Reply>, NetlinkError> {
        let started = std::time::Instant::now();
        let result = self.exchange(call, msg);
        crate::trace::push_other(
            call,
            || {
                // ifinfomsg and tcmsg both keep the interface index at bytes 4..8.
                let b = &msg.buf;
                let ifindex = b
                    .get(20..24)
                    .and_then(|x| x.try_into().ok())
                    .map_or(0, i32::from_ne_bytes);
                format!("rtnetlink, ifindex {ifindex}, {} bytes", b.len())
            },
            started,
            &result.as_ref().map_err(|e| match &e.message {
                Some(m) => format!("{} ({m})", crate::trace::errno_text(&e.source)),
                None => crate::trace::errno_text(&e.source),
            }),
            |replies| match replies.len() {
                0 => "ack".to_string(),
                n => format!("{n} replies"),
            },
        );
        result
    }

    fn exchange(
        &mut self,
        call: &'static str,
        msg: &mut Message,
    ) -> Result<Vec<Reply>, NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = msg.finish(seq);
        let err = |source: io::Error| NetlinkError {
            call,
            source,
            message: None,
        };
        use nix::sys::socket::{MsgFlags, recv, send};
        // To the kernel, the default destination of a netlink socket.
        send(self.fd.as_raw_fd(), bytes, MsgFlags::empty()).map_err(|e| err(e.into()))?;
        log::trace!("netlink {call}: sent {} bytes", bytes.len());
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())
                .map_err(|e| err(e.into()))?;
            match parse_datagram(&buf[..n], seq, &mut replies) {
                Datagram::More => {}
                Datagram::Done => return Ok(replies),
                Datagram::Error { errno, message } => {
                    log::trace!("netlink {call}: error {errno} {message:?}");
                    return Err(NetlinkError {
                        call,
                        source: io::Error::from_raw_os_error(errno),
                        message,
                    });
                }
                Datagram::Malformed => {
                    return Err(err(io::Error::from_raw_os_error(libc::EBADMSG)));
                }
            }
        }
    }
}

/// What one received datagram said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram {
    /// Replies (appended), and more to come.
    More,
    /// The acknowledgement or the end of a dump.
    Done,
    /// The kernel refused: the errno and its extended-ack sentence.
    Error {
        /// The positive errno.
        errno: i32,
        /// `NLMSGERR_ATTR_MSG`.
        message: Option<String>,
    },
    /// A message header that does not fit the datagram.
    Malformed,
}

/// Splits a datagram from the kernel into messages: those answering request `seq`
/// are appended to `replies` (others, stale, are skipped) until an error, an
/// acknowledgement or the end of a dump. Reads only inside `data`, whatever it holds.
pub fn parse_datagram(data: &[u8], seq: u32, replies: &mut Vec<Reply>) -> Datagram {
    let mut at = 0;
    while at + 16 <= data.len() {
        // `at + 16 <= data.len()`: the header's reads cannot fall short.
        let header = Bytes::native(data);
        let (Ok(len), Ok(msg_type), Ok(flags), Ok(rseq)) = (
            header.u32(at),
            header.u16(at + 4),
            header.u16(at + 6),
            header.u32(at + 8),
        ) else {
            return Datagram::Malformed;
        };
        let len = len as usize;
        if len < 16 || len > data.len() - at {
            return Datagram::Malformed;
        }
        let body = &data[at + 16..at + len];
        at += (len + 3) & !3;
        if rseq != seq {
            continue; // a stale reply to an earlier request
        }
        match msg_type {
            NLMSG_ERROR => {
                // An error message without its code is no acknowledgement.
                let Ok(code) = Bytes::native(body).i32(0) else {
                    return Datagram::Malformed;
                };
                if code == 0 {
                    return Datagram::Done;
                }
                // Capped ack: the error code, the original header, then TLVs.
                let message = if flags & NLM_F_ACK_TLVS != 0 {
                    attrs(body.get(20..).unwrap_or_default())
                        .into_iter()
                        .find(|a| a.kind == NLMSGERR_ATTR_MSG)
                        .map(|a| a.str())
                } else {
                    None
                };
                return Datagram::Error {
                    errno: code.checked_neg().unwrap_or(libc::EIO),
                    message,
                };
            }
            NLMSG_DONE => return Datagram::Done,
            _ => replies.push(Reply {
                msg_type,
                body: body.to_vec(),
            }),
        }
    }
    Datagram::More
}

/// `struct ifinfomsg` for interface `ifindex`.
pub fn ifinfomsg(ifindex: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = libc::AF_UNSPEC as u8;
    h[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    h
}

/// `struct tcmsg` for interface `ifindex`.
pub fn tcmsg(ifindex: u32, handle: u32, parent: u32, info: u32) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = libc::AF_UNSPEC as u8;
    h[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    h[8..12].copy_from_slice(&handle.to_ne_bytes());
    h[12..16].copy_from_slice(&parent.to_ne_bytes());
    h[16..20].copy_from_slice(&info.to_ne_bytes());
    h
}

#[cfg(test)]
mod tests {
    fn msg(msg_type: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&(16 + body.len() as u32).to_ne_bytes());
        m.extend_from_slice(&msg_type.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn datagrams_split_into_replies_acks_and_errors() {
        let mut replies = Vec::new();
        // A stale message, a reply, then the end of a dump.
        let mut d = msg(16, 0, 6, b"old!");
        d.extend(msg(16, 0, 7, b"new!"));
        d.extend(msg(NLMSG_DONE, 0, 7, &[]));
        assert_eq!(parse_datagram(&d, 7, &mut replies), Datagram::Done);
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].body, b"new!");
        // An error with its extended-ack sentence.
        let mut body = (-16i32).to_ne_bytes().to_vec();
        body.extend_from_slice(&[0; 16]); // the original request's header
        body.extend_from_slice(&[12, 0, 1, 0]);
        body.extend_from_slice(b"busy\0\0\0\0");
        let d = msg(NLMSG_ERROR, NLM_F_ACK_TLVS, 7, &body);
        assert_eq!(
            parse_datagram(&d, 7, &mut replies),
            Datagram::Error {
                errno: 16,
                message: Some("busy".into())
            }
        );
        // A length past the datagram, and the most negative error code.
        let mut bad = msg(16, 0, 7, b"abcd");
        bad[0] = 200;
        assert_eq!(parse_datagram(&bad, 7, &mut replies), Datagram::Malformed);
        let d = msg(NLMSG_ERROR, 0, 7, &i32::MIN.to_ne_bytes());
        assert!(matches!(
            parse_datagram(&d, 7, &mut replies),
            Datagram::Error { .. }
        ));
        // An error message cut before its code is no acknowledgement.
        let d = msg(NLMSG_ERROR, 0, 7, &[0, 0]);
        assert_eq!(parse_datagram(&d, 7, &mut replies), Datagram::Malformed);
    }

    #[test]
    fn a_reply_cut_inside_its_fixed_header_is_an_error_not_a_zero() {
        let r = Reply {
            msg_type: RTM_NEWLINK,
            body: vec![0, 0, 0, 0, 7, 0],
        };
        assert_eq!(r.u32_at(4).unwrap_err().len, 6);
        assert_eq!(r.attrs_after(16).unwrap_err().wanted, 16);
        let whole = Reply {
            msg_type: RTM_NEWLINK,
            body: [
                &[0u8; 4][..],
                &7u32.to_ne_bytes(),
                &[0; 8],
                &[8, 0, 3, 0, 1, 2, 3, 4],
            ]
            .concat(),
        };
        assert_eq!(whole.u32_at(4), Ok(7));
        assert_eq!(whole.attrs_after(16).unwrap().len(), 1);
    }

    use super::*;

    #[test]
    fn messages_nest_and_pad_like_the_kernel_expects() {
        let mut m = Message::new(RTM_SETLINK, 0, &ifinfomsg(7));
        m.begin_nest(43)
            .attr_u32(1, 5)
            .attr_str(7, "abc")
            .end_nest();
        let b = m.finish(9).to_vec();
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), RTM_SETLINK);
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), F_REQUEST | F_ACK);
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 9);
        // ifinfomsg: ifindex 7 at offset 4 of the body.
        assert_eq!(i32::from_ne_bytes(b[20..24].try_into().unwrap()), 7);
        // The nest: length covers both children (8 + 8), type has NLA_F_NESTED.
        let nest = &b[32..];
        assert_eq!(u16::from_ne_bytes([nest[0], nest[1]]), 4 + 8 + 8);
        assert_eq!(u16::from_ne_bytes([nest[2], nest[3]]), 43 | 0x8000);
        let inner = attrs(&nest[4..]);
        assert_eq!(inner.len(), 2);
        assert_eq!((inner[0].kind, inner[0].u32()), (1, Ok(5)));
        assert_eq!((inner[1].kind, inner[1].str().as_str()), (7, "abc"));
        assert_eq!(b.len() % 4, 0);
        // Truncated attributes end the walk instead of reading past the end.
        assert_eq!(attrs(&[8, 0, 1, 0, 1]).len(), 0);
    }

    #[test]
    fn a_truncated_attribute_is_an_error_not_a_zero() {
        // nla_len 6: a 2-byte payload where a u32 is expected.
        let a = attrs(&[6, 0, 1, 0, 7, 0, 0, 0]);
        assert_eq!(a.len(), 1);
        let err = a[0].u32().unwrap_err();
        assert_eq!((err.offset, err.wanted, err.len), (0, 4, 2));
        assert_eq!(
            err.to_string(),
            "4 bytes (u32) wanted at offset 0 of a 2-byte input"
        );
        // An empty payload has no u8 either.
        let empty = attrs(&[4, 0, 2, 0]);
        assert!(empty[0].u8().is_err());
    }
}
