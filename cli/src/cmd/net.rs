//! `oxbpf net list` and `oxbpf net detach`: the BPF programs attached to this network
//! namespace's interfaces (XDP and tc), like `bpftool net`, with the command that
//! removes each — what a killed process leaves behind on an interface, since netlink
//! attachments belong to the interface, not to a process.

use std::fmt::Write as _;

use oxbpf_loader::inventory;
use oxbpf_prog::netlink::{NetAttachment, NetHook, net_attachments, net_detach, not_permitted};
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

/// Runs `net list`.
pub fn list(json: bool) -> Result<String, CliError> {
    let all = net_attachments()?;
    if json {
        return Ok(Json::Array(
            all.iter()
                .map(|a| {
                    Json::object()
                        .with("ifindex", a.ifindex)
                        .with("ifname", a.ifname.as_str())
                        .with("hook", hook(&a.hook))
                        .with("prog_id", a.prog_id)
                        .with("prog_name", prog_name(a.prog_id))
                        .with("remove", remove_command(a))
                })
                .collect(),
        )
        .to_string()
            + "\n");
    }
    if all.is_empty() {
        return Ok("no BPF program is attached to an interface of this network namespace\n".into());
    }
    let mut t = Table::new(&["IFACE", "HOOK", "PROG", "NAME", "REMOVE WITH"]);
    for a in &all {
        t.row(vec![
            a.ifname.clone(),
            hook(&a.hook),
            a.prog_id.to_string(),
            prog_name(a.prog_id),
            remove_command(a),
        ]);
    }
    let mut s = t.render();
    let _ = writeln!(
        s,
        "\nXDP bpf_links show here too; they go when the process or pin holding them does."
    );
    Ok(s)
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
) -> Result<String, CliError> {
    let ifindex = oxbpf_prog::iface::ifindex(iface)
        .map_err(|e| format!("interface {iface}: {}", crate::error_chain(&e)))?;
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
        _ => return Err("say what to remove: --xdp, or --tc ingress|egress".into()),
    };
    net_detach(ifindex, &hook).map_err(|e| match not_permitted(&e) {
        Some(why) => format!("{} ({why})", crate::error_chain(&e)),
        None => crate::error_chain(&e),
    })?;
    Ok(format!("removed {} from {iface}\n", self::hook(&hook)))
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
