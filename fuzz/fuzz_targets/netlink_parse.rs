//! Any bytes as a datagram from the kernel's rtnetlink socket: split into messages,
//! then every reply's attributes (and their nests) read as oxbpf reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxbpf_sys::netlink::{attrs, parse_datagram};

fuzz_target!(|data: &[u8]| {
    let seq = u32::from(data.first().copied().unwrap_or(0));
    let mut replies = Vec::new();
    let _ = parse_datagram(data, seq, &mut replies);
    for r in &replies {
        // ifinfomsg is 16 bytes, tcmsg 20: try both offsets.
        for skip in [16, 20] {
            for a in attrs(r.body.get(skip..).unwrap_or_default()) {
                let _ = (a.u32(), a.u8(), a.str());
                for n in attrs(a.payload) {
                    let _ = (n.u32(), n.str());
                }
            }
        }
    }
});
