//! Where on a network interface a program runs: the XDP mode and the tc direction.
//!
//! Both ways of attaching to an interface use these, the bpf_link ones
//! ([`Program::attach_xdp`](crate::Program::attach_xdp),
//! [`Program::attach_tcx`](crate::Program::attach_tcx)) and the netlink ones
//! (`netlink.rs`), as do the listings of what an interface has attached.

pub use oxbpf_sys::sock::{ifindex, ifname};

/// Where an XDP program runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// Let the kernel choose (driver mode when the driver supports it).
    #[default]
    Auto,
    /// Generic XDP, after the stack allocates an skb (any device; slowest).
    Skb,
    /// In the driver (needs driver support; veth has it).
    Drv,
    /// Offloaded to the NIC.
    Hw,
}

impl XdpMode {
    /// The mode as the command line names it (`auto`, `skb`, `drv`, `hw`).
    pub fn name(self) -> &'static str {
        match self {
            XdpMode::Auto => "auto",
            XdpMode::Skb => "skb",
            XdpMode::Drv => "drv",
            XdpMode::Hw => "hw",
        }
    }

    /// `XDP_FLAGS_*_MODE`.
    pub fn flags(self) -> u32 {
        match self {
            XdpMode::Auto => 0,
            XdpMode::Skb => 1 << 1,
            XdpMode::Drv => 1 << 2,
            XdpMode::Hw => 1 << 3,
        }
    }
}

/// Which way a TCX program sees packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcDirection {
    /// Packets the interface receives.
    Ingress,
    /// Packets the interface sends.
    Egress,
}

impl std::fmt::Display for TcDirection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TcDirection::Ingress => "ingress",
            TcDirection::Egress => "egress",
        })
    }
}
