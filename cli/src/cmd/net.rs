//! `oxbpf net list` and `oxbpf net detach`: the BPF programs attached to this network
//! namespace's interfaces (XDP and tc), like `bpftool net`, with the command that
//! removes each — what a killed process leaves behind on an interface, since netlink
//! attachments belong to the interface, not to a process.

use std::fmt::Write as _;

use oxbpf_loader::inventory;
use oxbpf_loader::uapi::AttachType;
use oxbpf_prog::netlink::{
    NetAttachment, NetHook, clsact_left, net_attachments, net_detach, not_permitted,
};
use oxbpf_prog::{TcDirection, XdpMode};

use crate::CliError;
use crate::json::Json;
use crate::table::Table;

/// The name of program `id`, or `?` when it cannot be read.
fn prog_name(id: u32) -> String {
    inventory::program(id).map_or_else(
        |_| "?".into(),
        |d| oxbpf_loader::uapi::name_str(&d.info.name).to_string(),
    )
}

/// One row of `net list`: an attachment, with the link holding it when there is one.
struct Row {
    ifname: String,
    hook: String,
    prog_id: Option<u32>,
    link_id: Option<u32>,
    remove: String,
}

/// Runs `net list`: netlink attachments (XDP, tc filters), the XDP and TCX links of this
/// namespace's interfaces, and the clsact qdiscs oxbpf added that a killed process left.
pub fn list(json: bool) -> Result<String, CliError> {
    let all = net_attachments()?;
    let ifaces = oxbpf_prog::netlink::interfaces()?;
    // Links of other namespaces carry their own ifindexes: only this one's are listed.
    // Listing links takes CAP_SYS_ADMIN; without it the rest is still shown.
    let (links, links_unlisted) = match inventory::xdp_links() {
        Ok(l) => (l, None),
        Err(e) => (Vec::new(), Some(crate::error_chain(&e))),
    };
    let mut rows = Vec::new();
    for a in &all {
        let link = matches!(a.hook, NetHook::Xdp(_))
            .then(|| {
                links
                    .iter()
                    .find(|l| l.ifindex == a.ifindex && l.prog_id == a.prog_id)
            })
            .flatten();
        rows.push(Row {
            ifname: a.ifname.clone(),
            hook: match link {
                Some(l) => format!("{} through link {}", hook(&a.hook), l.id),
                None => hook(&a.hook),
            },
            prog_id: Some(a.prog_id),
            link_id: link.map(|l| l.id),
            remove: match link {
                Some(l) => link_remove_command(l.id),
                None => remove_command(a),
            },
        });
    }
    // TCX by query of each interface of this namespace (a link's ifindex alone does not
    // say which namespace it is in).
    let mut tcx_unlisted = None;
    for (ifindex, ifname) in &ifaces {
        let found = match inventory::tcx_attachments(*ifindex) {
            Ok(f) => f,
            // Querying takes CAP_NET_ADMIN: say so once, show the rest.
            Err(e) => {
                tcx_unlisted = Some(crate::error_chain(&e));
                continue;
            }
        };
        for t in found {
            let direction = if t.attach_type == AttachType::TCX_EGRESS {
                "egress"
            } else {
                "ingress"
            };
            rows.push(Row {
                ifname: ifname.clone(),
                hook: match t.link_id {
                    0 => format!("tcx {direction}"),
                    id => format!("tcx {direction} through link {id}"),
                },
                prog_id: Some(t.prog_id),
                link_id: (t.link_id != 0).then_some(t.link_id),
                remove: match t.link_id {
                    0 => "(attached without a link: by its loader)".into(),
                    id => link_remove_command(id),
                },
            });
        }
    }
    let indexes: Vec<u32> = ifaces.iter().map(|(i, _)| *i).collect();
    for q in clsact_left(&indexes)? {
        let ifname = ifaces
            .iter()
            .find(|(i, _)| *i == q.ifindex)
            .map_or_else(|| format!("ifindex {}", q.ifindex), |(_, n)| n.clone());
        rows.push(Row {
            hook: format!(
                "clsact qdisc oxbpf added ({})",
                if q.has_filters {
                    "filters on it"
                } else {
                    "empty"
                }
            ),
            prog_id: None,
            link_id: None,
            remove: if q.has_filters {
                "goes with its last filter".into()
            } else {
                format!("oxbpf net detach {ifname} --clsact")
            },
            ifname,
        });
    }
    if json {
        return Ok(Json::Array(
            rows.iter()
                .map(|r| {
                    let ifindex = ifaces.iter().find(|(_, n)| *n == r.ifname).map(|(i, _)| *i);
                    Json::object()
                        .with("ifindex", ifindex.map_or(Json::Null, Json::from))
                        .with("ifname", r.ifname.as_str())
                        .with("hook", r.hook.as_str())
                        .with("prog_id", r.prog_id.map_or(Json::Null, Json::from))
                        .with(
                            "prog_name",
                            r.prog_id.map_or(Json::Null, |id| Json::from(prog_name(id))),
                        )
                        .with("link_id", r.link_id.map_or(Json::Null, Json::from))
                        .with("remove", r.remove.as_str())
                })
                .collect(),
        )
        .to_string()
            + "\n");
    }
    let mut unlisted = links_unlisted.map_or_else(String::new, |why| {
        format!("(XDP links not told apart: listing links failed: {why})\n")
    });
    if let Some(why) = tcx_unlisted {
        unlisted.push_str(&format!("(TCX not shown: querying it failed: {why})\n"));
    }
    if rows.is_empty() {
        return Ok(format!(
            "no BPF program is attached to an interface of this network namespace\n{unlisted}"
        ));
    }
    let mut t = Table::new(&["IFACE", "HOOK", "PROG", "NAME", "REMOVE WITH"]);
    for r in &rows {
        t.row(vec![
            r.ifname.clone(),
            r.hook.clone(),
            r.prog_id.map_or_else(|| "-".into(), |id| id.to_string()),
            r.prog_id.map_or_else(|| "-".into(), prog_name),
            r.remove.clone(),
        ]);
    }
    let mut s = t.render();
    let _ = writeln!(
        s,
        "\nA link goes when the last process or pin holding it lets go; `oxbpf link detach ID` detaches it at once."
    );
    s.push_str(&unlisted);
    Ok(s)
}

fn link_remove_command(id: u32) -> String {
    format!("oxbpf link detach {id} (or remove its pin)")
}

fn hook(h: &NetHook) -> String {
    match h {
        NetHook::Xdp(m) => format!("xdp ({} mode)", m.name()),
        NetHook::Tc {
            direction,
            priority,
            handle,
        } => format!("tc {direction} priority {priority} handle {handle:#x}"),
    }
}

/// Runs `net detach`.
pub fn detach(
    iface: &str,
    xdp: bool,
    xdp_mode: XdpMode,
    tc: Option<&str>,
    priority: Option<u16>,
    handle: Option<String>,
    clsact: bool,
) -> Result<String, CliError> {
    let ifindex = oxbpf_prog::iface::ifindex(iface)
        .map_err(|e| format!("interface {iface}: {}", crate::error_chain(&e)))?;
    if clsact {
        if xdp || tc.is_some() {
            return Err("--clsact removes the qdisc alone: give it without --xdp or --tc".into());
        }
        oxbpf_prog::netlink::remove_clsact(ifindex).map_err(|e| {
            e.to_string()
                .replace(&format!("ifindex {ifindex}"), iface)
                .replace("dev IFACE", &format!("dev {iface}"))
        })?;
        return Ok(format!(
            "removed the clsact qdisc oxbpf had added to {iface}\n"
        ));
    }
    let hook = match (xdp, tc) {
        (true, None) => NetHook::Xdp(xdp_mode),
        (false, Some(dir)) => {
            let direction = match dir {
                "ingress" => TcDirection::Ingress,
                "egress" => TcDirection::Egress,
                other => return Err(format!("--tc {other}: ingress or egress").into()),
            };
            let (Some(priority), Some(handle)) = (priority, handle) else {
                return Err("--tc needs --priority and --handle (from `oxbpf net list`)".into());
            };
            let handle = u32::from_str_radix(handle.trim_start_matches("0x"), 16)
                .map_err(|_| format!("--handle {handle}: a hex number"))?;
            NetHook::Tc {
                direction,
                priority,
                handle,
            }
        }
        _ => return Err("say what to remove: --xdp, --tc ingress|egress, or --clsact".into()),
    };
    let qdisc_too = net_detach(ifindex, &hook).map_err(|e| match not_permitted(&e) {
        Some(why) => format!("{} ({why})", crate::error_chain(&e)),
        None => crate::error_chain(&e),
    })?;
    Ok(format!(
        "removed {} from {iface}{}\n",
        self::hook(&hook),
        if qdisc_too {
            ", and the clsact qdisc oxbpf had added (no filter left on it)"
        } else {
            ""
        }
    ))
}

/// The oxbpf command that removes an attachment.
fn remove_command(a: &NetAttachment) -> String {
    match &a.hook {
        NetHook::Xdp(mode) => format!(
            "oxbpf net detach {} --xdp --xdp-mode {}",
            a.ifname,
            mode.name()
        ),
        NetHook::Tc {
            direction,
            priority,
            handle,
        } => format!(
            "oxbpf net detach {} --tc {direction} --priority {priority} --handle {handle:#x}",
            a.ifname
        ),
    }
}
