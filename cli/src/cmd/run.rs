//! `oxbpf run OBJ`: load, attach every program that can be attached, stay in the
//! foreground printing what the programs report (ring buffer and perf buffer records,
//! `bpf_printk` lines from the trace pipe), and detach everything on Ctrl-C or SIGTERM (or after
//! `--duration`), then show what the maps hold. Nothing is left attached.

use std::io::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use oxbpf_loader::Object;
use oxbpf_loader::load::Loaded;
use oxbpf_loader::prelude::*;
use oxbpf_loader::uapi::{MapType, ProgType};
use oxbpf_maps::Map;
use oxbpf_maps::events::{TermSignals, poll};
use oxbpf_maps::perfbuf::{PerfBuf, PerfRecord};
use oxbpf_maps::ringbuf::RingBuf;
use oxbpf_prog::attach::usdt::UsdtTarget;
use oxbpf_prog::tracefs::TracePipe;
use oxbpf_prog::{AutoAttach, Link, Program, TcDirection, XdpMode};

use crate::CliError;
use crate::args::{seconds, seconds_text};
use crate::cmd::load::{LoadArgs, prepare};
use crate::cmd::records::RecordType;

/// What `oxbpf run` was asked.
#[derive(Debug)]
pub struct RunArgs {
    /// What to load, and how.
    pub load: LoadArgs,
    /// Where to attach what a section cannot say.
    pub attach: AttachArgs,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    pub duration: Option<Duration>,
    /// Print ring/perf buffer records as this struct of the object's BTF (for every
    /// such map, or `MAP=STRUCT` for one). Without it, a single struct named `event`
    /// or `*_event` is used; records shorter than the struct stay in hex.
    pub event_type: Vec<String>,
}

/// Where to attach what a program's section cannot say.
#[derive(Debug, Default)]
pub struct AttachArgs {
    /// Interface for XDP, tc and socket filter programs.
    pub iface: Option<String>,
    /// XDP mode.
    pub xdp_mode: XdpMode,
    /// Attach XDP and tc over netlink (as ip and tc do) instead of bpf_links.
    pub netlink: bool,
    /// cgroup (v2 directory) for cgroup programs.
    pub cgroup: Option<PathBuf>,
}

/// An attachment and what keeps it alive (the socket a filter is on, the cgroup dir).
pub(crate) struct Attached {
    pub(crate) link: Link,
    _keep: Option<OwnedFd>,
    /// For a socket filter: its raw socket, read for the packets the filter keeps.
    packets: Option<OwnedFd>,
}

fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    // A closed pipe ends output, not the cleanup: ignore write errors.
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

/// Fails at once when `--iface` names no interface, before anything is loaded.
pub(crate) fn check_iface(args: &AttachArgs) -> Result<(), CliError> {
    match &args.iface {
        Some(i) => oxbpf_prog::iface::ifindex(i)
            .map(drop)
            .map_err(|_| format!("--iface {i}: no such interface").into()),
        None => Ok(()),
    }
}

/// Attaches `p`, using the interface or cgroup given where its section cannot say.
pub(crate) fn attach(
    loaded: &Loaded,
    p: &Program,
    args: &AttachArgs,
) -> Result<Option<Attached>, String> {
    // struct_ops programs run through their struct_ops map, which is registered instead.
    if p.prog_type() == ProgType::STRUCT_OPS {
        return Ok(None);
    }
    // USDT programs need the object's USDT maps, which the loaded object has.
    let section = p.section().trim_start_matches('?');
    if section == "usdt" || section.starts_with("usdt/") || section.starts_with("usdt.s") {
        let Some(target) = p.attach_target().and_then(UsdtTarget::from_section) else {
            return Err("needs a USDT probe in its section (usdt/PATH:PROVIDER:NAME)".into());
        };
        let link = loaded
            .attach_usdt(p.name(), &target)
            .map_err(|e| crate::error_chain(&e))?;
        return Ok(Some(Attached {
            link,
            _keep: None,
            packets: None,
        }));
    }
    let need = match p.attach_auto().map_err(|e| crate::error_chain(&e))? {
        AutoAttach::Attached(link) => {
            return Ok(Some(Attached {
                link,
                _keep: None,
                packets: None,
            }));
        }
        AutoAttach::NeedsTarget(need) => need,
    };
    let err = |e: &(dyn std::error::Error + 'static)| crate::error_chain(e);
    let ifindex = || -> Result<Option<u32>, String> {
        match &args.iface {
            Some(i) => oxbpf_prog::iface::ifindex(i)
                .map(Some)
                .map_err(|e| format!("interface {i}: {}", err(&e))),
            None => Ok(None),
        }
    };
    let link = match p.prog_type() {
        ProgType::XDP => {
            let Some(ifx) = ifindex()? else {
                return Err(format!("needs {need}: give --iface"));
            };
            let mode = args.xdp_mode;
            if args.netlink {
                p.attach_xdp_netlink(ifx, mode, false)
            } else {
                p.attach_xdp(ifx, mode)
            }
            .map_err(|e| err(&e))?
        }
        ProgType::SCHED_CLS | ProgType::SCHED_ACT => {
            let Some(ifx) = ifindex()? else {
                return Err(format!("needs {need}: give --iface"));
            };
            let egress = p.section().contains("egress");
            let dir = if egress {
                TcDirection::Egress
            } else {
                TcDirection::Ingress
            };
            if args.netlink {
                p.attach_tc_netlink(ifx, dir, 1)
            } else {
                p.attach_tcx(ifx, dir).or_else(|e| {
                    log::debug!("TCX: {e}; using a cls_bpf filter over netlink");
                    p.attach_tc_netlink(ifx, dir, 1)
                })
            }
            .map_err(|e| err(&e))?
        }
        ProgType::SOCKET_FILTER => {
            let Some(iface) = &args.iface else {
                return Err(format!("needs {need}: give --iface"));
            };
            // A raw socket needs CAP_NET_RAW, whatever the program needed to load.
            let sock = oxbpf_prog::socket::open_raw_sock(iface).map_err(|e| {
                match oxbpf_loader::caps::missing(&[oxbpf_loader::caps::Cap::NET_RAW]) {
                    Some(needs) if e.errno() == Some(libc::EPERM) => {
                        format!("{}; a raw socket {needs}", err(&e))
                    }
                    _ => err(&e),
                }
            })?;
            let link = p.attach_socket(sock.as_fd()).map_err(|e| err(&e))?;
            return Ok(Some(Attached {
                link,
                _keep: None,
                packets: Some(sock),
            }));
        }
        t if t.is_cgroup() => {
            let Some(cg) = &args.cgroup else {
                return Err(format!("needs {need}: give --cgroup"));
            };
            let dir =
                std::fs::File::open(cg).map_err(|e| format!("cgroup {}: {e}", cg.display()))?;
            let Some(t) = p.expected_attach_type() else {
                return Err("its section names no attach type".into());
            };
            let link = p
                .attach_to_fd(dir.as_fd(), t, &format!("cgroup {}", cg.display()))
                .map_err(|e| err(&e))?;
            return Ok(Some(Attached {
                link,
                _keep: Some(dir.into()),
                packets: None,
            }));
        }
        _ => return Err(format!("not attached: needs {need}")),
    };
    Ok(Some(Attached {
        link,
        _keep: None,
        packets: None,
    }))
}

/// A packet a socket filter kept, in one line: for TCP or UDP over IPv4 the addresses
/// and the first line of the payload when it is text (an HTTP request line), the
/// length and leading bytes otherwise.
pub(crate) fn packet_line(p: &[u8]) -> String {
    let summary = || {
        let head = &p[..p.len().min(32)];
        format!("packet of {} bytes: {}", p.len(), hex(head))
    };
    // Ethernet, IPv4.
    if p.len() < 34 || p[12..14] != [0x08, 0x00] || p[14] >> 4 != 4 {
        return summary();
    }
    let ihl = usize::from(p[14] & 0x0f) * 4;
    let proto = p[23];
    let src = format!("{}.{}.{}.{}", p[26], p[27], p[28], p[29]);
    let dst = format!("{}.{}.{}.{}", p[30], p[31], p[32], p[33]);
    let l4 = 14 + ihl;
    let (name, payload_at) = match proto {
        6 if p.len() >= l4 + 20 => ("TCP", l4 + usize::from(p[l4 + 12] >> 4) * 4),
        17 if p.len() >= l4 + 8 => ("UDP", l4 + 8),
        _ => return summary(),
    };
    let port = |at: usize| u16::from_be_bytes([p[at], p[at + 1]]);
    let payload = p.get(payload_at..).unwrap_or_default();
    let text = payload
        .split(|&b| b == b'\n')
        .next()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty() && l.iter().all(|b| b.is_ascii_graphic() || *b == b' '))
        .map(|l| String::from_utf8_lossy(l).into_owned());
    format!(
        "{name} {src}:{} → {dst}:{}, {} bytes of {name} payload ({} with headers){}",
        port(l4),
        port(l4 + 2),
        payload.len(),
        p.len(),
        text.map_or(String::new(), |t| format!(": {t}"))
    )
}

/// A trace pipe line as `printk [TASK-PID]: MESSAGE`, or `None` for one written more
/// than a second before `since` (seconds since boot, the trace clock's scale).
fn printk_line(line: &str, since: Duration) -> Option<String> {
    let line = line.trim_end();
    if line.trim().is_empty() {
        return None; // the message's own newline, after the one the kernel adds
    }
    let Some((head, msg)) = line.split_once(": bpf_trace_printk: ") else {
        return Some(format!("printk: {}", line.trim()));
    };
    let mut fields = head.split_whitespace();
    let task = fields.next().unwrap_or("?");
    let ts = fields.last().and_then(seconds);
    if ts.is_some_and(|t| t + Duration::from_secs(1) < since) {
        return None;
    }
    Some(format!("printk [{task}]: {msg}"))
}

pub(crate) fn hex(data: &[u8]) -> String {
    data.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `run`: everything is printed as it happens; the returned string is empty.
pub fn run(args: &RunArgs) -> Result<(String, bool), CliError> {
    // Before anything else, so no thread misses the mask.
    let signals = TermSignals::new()?;
    check_iface(&args.attach)?;
    let mut obj = Object::open(&args.load.object)?;
    let opts = prepare(&args.load, &mut obj)?;
    // Record types are resolved before anything is loaded, so a wrong name stops here.
    let record_types = record_types(&obj, &args.event_type)?;
    let loaded = obj
        .load(&opts)
        .map_err(crate::cmd::load::load_error(&args.load.object))?;
    for f in &loaded.failures {
        out(&format!("not loaded: {}", crate::error_chain(&f.error)));
    }
    let (mut attached, mut attached_all) = attach_all(&loaded, &args.attach);
    // struct_ops maps: registered (their programs run when the kernel calls the struct).
    for v in &loaded.struct_ops {
        match loaded.register_struct_ops(&v.map) {
            Ok(link) => {
                out(&format!("attached: {}", link.describe()));
                attached.push(Attached {
                    link,
                    _keep: None,
                    packets: None,
                });
            }
            Err(e) => {
                attached_all = false;
                out(&crate::error_chain(&e));
            }
        }
    }
    if attached.is_empty() {
        // Nothing would ever report: say why (each program's reason is above) and stop.
        return Err(format!(
            "nothing attached: {} has no program that could be attached here",
            args.load.object.display()
        )
        .into());
    }
    let mut sources = Sources::open(&loaded.maps);
    for (map, t) in &record_types {
        out(&format!(
            "records of {map} printed as {}{}",
            t.name,
            if t.chosen {
                ""
            } else {
                " (guessed from its name; --event-type to choose)"
            }
        ));
    }
    out(&format!(
        "{} attached; {}",
        attached.len(),
        match args.duration {
            Some(d) => format!("running for {} s", seconds_text(d)),
            None => "Ctrl-C to stop".into(),
        }
    ));
    let show = |map: &str, r: &[u8]| {
        record_types
            .get(map)
            .and_then(|t| t.show(r))
            .unwrap_or_else(|| hex(r))
    };
    sources.watch(&signals, &attached, args.duration, &show)?;
    let detached_all = detach_all(attached);
    for m in loaded.maps.iter().filter(|m| {
        !matches!(
            m.map_type(),
            MapType::RINGBUF | MapType::PERF_EVENT_ARRAY | MapType::PROG_ARRAY
        ) && !m.name().contains(".rodata")
            && !m.name().ends_with(".kconfig")
    }) {
        summarize(m);
    }
    Ok((
        String::new(),
        loaded.failures.is_empty() && attached_all && detached_all,
    ))
}

/// How the records of each ring buffer and perf event array are printed: as the
/// struct `--event-type` names, or the one the BTF suggests (`event`, `*_event`).
fn record_types<'o>(
    obj: &'o Object,
    event_type: &[String],
) -> Result<std::collections::HashMap<String, RecordType<'o>>, CliError> {
    let mut types = std::collections::HashMap::new();
    for m in obj
        .maps
        .iter()
        .filter(|m| matches!(m.map_type, MapType::RINGBUF | MapType::PERF_EVENT_ARRAY))
    {
        match RecordType::for_map(obj.btf.as_ref(), &m.name, event_type)? {
            Some(t) => {
                types.insert(m.name.clone(), t);
            }
            None => out(&format!(
                "records of {} printed in hex: the object's BTF has no `struct event` for them (--event-type names one)",
                m.name
            )),
        }
    }
    Ok(types)
}

/// Attaches every program that can be attached; says why for each that cannot.
/// Returns the attachments and whether every attempt succeeded.
fn attach_all(loaded: &Loaded, where_: &AttachArgs) -> (Vec<Attached>, bool) {
    let mut attached = Vec::new();
    let mut all_ok = true;
    for p in &loaded.programs {
        match attach(loaded, p, where_) {
            Ok(Some(a)) => {
                out(&format!("attached: {}", a.link.describe()));
                attached.push(a);
            }
            Ok(None) => {}
            Err(why) => {
                all_ok = false;
                out(&format!("{}: {why}", p.name()));
            }
        }
    }
    (attached, all_ok)
}

/// Detaches everything (what detaching cannot undo is said); whether all detached.
fn detach_all(attached: Vec<Attached>) -> bool {
    let n = attached.len();
    let mut all_ok = true;
    for a in attached {
        let what = a.link.describe().to_string();
        if let Err(e) = a.link.detach() {
            all_ok = false;
            out(&format!("detach {what}: {}", crate::error_chain(&e)));
        }
    }
    out(&format!("detached {n}"));
    all_ok
}

/// What `run` reads while the programs run: ring buffers, perf buffers (a ring per
/// CPU) and the trace pipe for `bpf_printk`.
struct Sources<'m> {
    rings: Vec<(&'m Map, RingBuf)>,
    perfs: Vec<(&'m Map, PerfBuf)>,
    trace: Option<TracePipe>,
    /// A trace pipe line read in part.
    pending: String,
    /// The trace pipe keeps lines nobody read, from before this run: those are skipped.
    started_at: Duration,
}

impl<'m> Sources<'m> {
    /// Maps the buffers of `maps` and opens the trace pipe; what cannot be opened is
    /// said, and the rest goes on.
    fn open(maps: &'m [Map]) -> Sources<'m> {
        let mut rings = Vec::new();
        for m in maps.iter().filter(|m| m.map_type() == MapType::RINGBUF) {
            match RingBuf::new(m) {
                Ok(rb) => rings.push((m, rb)),
                Err(e) => out(&format!("ring buffer {}: {e}", m.name())),
            }
        }
        let cpus = oxbpf_maps::possible_cpus().unwrap_or(1);
        let mut perfs = Vec::new();
        for m in maps
            .iter()
            .filter(|m| m.map_type() == MapType::PERF_EVENT_ARRAY)
        {
            match PerfBuf::new(m, cpus.min(m.max_entries()), 8) {
                Ok(pb) => perfs.push((m, pb)),
                Err(e) => out(&format!(
                    "perf buffer {}: {}",
                    m.name(),
                    crate::error_chain(&e)
                )),
            }
        }
        let trace = TracePipe::open()
            .map_err(|e| {
                out(&format!(
                    "bpf_printk output unavailable: cannot open the trace pipe: {e}"
                ));
            })
            .ok();
        Sources {
            rings,
            perfs,
            trace,
            pending: String::new(),
            started_at: std::fs::read_to_string("/proc/uptime")
                .ok()
                .and_then(|u| seconds(u.split_whitespace().next()?))
                .unwrap_or_default(),
        }
    }

    /// Prints what arrives until a signal, or until `duration` has passed.
    fn watch(
        &mut self,
        signals: &TermSignals,
        attached: &[Attached],
        duration: Option<Duration>,
        show: &dyn Fn(&str, &[u8]) -> String,
    ) -> Result<(), CliError> {
        let deadline = duration.map(|d| Instant::now() + d);
        loop {
            let mut fds: Vec<BorrowedFd<'_>> = vec![signals.as_fd()];
            fds.extend(self.trace.as_ref().map(AsFd::as_fd));
            fds.extend(self.rings.iter().map(|(m, _)| m.as_fd()));
            for (_, pb) in &self.perfs {
                fds.extend(pb.fds());
            }
            fds.extend(
                attached
                    .iter()
                    .filter_map(|a| a.packets.as_ref().map(AsFd::as_fd)),
            );
            let wait = deadline.map_or(500, |d| {
                d.saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(500) as i32
            });
            poll(&fds, wait)?;
            drop(fds);
            if let Some(sig) = signals.take() {
                out(&format!("signal {sig}: stopping"));
                return Ok(());
            }
            self.print_trace();
            self.print_records(show);
            print_packets(attached);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
        }
    }

    /// The `bpf_printk` lines that arrived, whole lines only.
    fn print_trace(&mut self) {
        let Some(t) = &self.trace else { return };
        self.pending.push_str(&String::from_utf8_lossy(
            &t.read_available().unwrap_or_default(),
        ));
        while let Some(nl) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=nl).collect();
            if let Some(l) = printk_line(&line, self.started_at) {
                out(&l);
            }
        }
    }

    /// The ring and perf buffer records that arrived, and the perf records lost.
    fn print_records(&mut self, show: &dyn Fn(&str, &[u8]) -> String) {
        for (m, rb) in &mut self.rings {
            let name = m.name();
            if let Err(e) = rb.consume(|r| out(&format!("ring {name}: {}", show(name, r)))) {
                out(&format!("ring {name}: {e}"));
            }
        }
        for (m, pb) in &mut self.perfs {
            let name = m.name();
            pb.consume(|r| match r {
                PerfRecord::Sample { cpu, data } => {
                    out(&format!("perf {name} (cpu {cpu}): {}", show(name, data)))
                }
                PerfRecord::Lost { cpu, count } => {
                    out(&format!(
                        "perf {name} (cpu {cpu}): {count} records lost: the consumer fell behind"
                    ));
                }
            });
        }
    }
}

/// The packets each socket filter kept, drained with MSG_DONTWAIT (the socket is not
/// ours to make non-blocking for good).
fn print_packets(attached: &[Attached]) {
    for a in attached {
        let Some(sock) = &a.packets else { continue };
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = oxbpf_prog::socket::recv_nowait(sock.as_fd(), &mut buf) {
            let name = a.link.describe().split(' ').next().unwrap_or("?");
            out(&format!("packet {name}: {}", packet_line(&buf[..n])));
        }
    }
}

/// Prints the non-zero entries of a map (up to 16), so counting programs show counts;
/// typed by the map's BTF as `map dump` shows them, in hex where it has none.
fn summarize(m: &Map) {
    let Ok(keys) = m.keys() else { return };
    let info = m.info().ok();
    let types = info.as_ref().map(crate::cmd::mapcmd::Types::of);
    let mut shown = 0;
    for k in keys {
        let Ok(Some(v)) = m.lookup(&k) else { continue };
        if v.iter().all(|&b| b == 0) {
            continue;
        }
        if shown == 0 {
            out(&format!("map {}:", m.name()));
        }
        shown += 1;
        if shown > 16 {
            out("  ...");
            break;
        }
        match (&types, &info) {
            (Some(t), Some(i)) => out(&format!(
                "  {}",
                crate::cmd::mapcmd::entry_line(t, i, &k, &v)
            )),
            _ => out(&format!("  {} => {}", hex(&k), hex(&v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_summed_up_with_their_request_line() {
        // Ethernet + IPv4 (20 bytes) + TCP (20 bytes) + "GET / HTTP/1.1\r\n".
        let mut p = vec![0u8; 12];
        p.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        p.append(&mut ip);
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&8000u16.to_be_bytes());
        tcp[12] = 5 << 4;
        p.append(&mut tcp);
        p.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            packet_line(&p),
            "TCP 127.0.0.1:40000 → 127.0.0.1:8000, 27 bytes of TCP payload (81 with headers): GET / HTTP/1.1"
        );
        assert_eq!(packet_line(&[1, 2, 3]), "packet of 3 bytes: 01 02 03");
    }

    #[test]
    fn printk_lines_are_trimmed_and_old_ones_skipped() {
        let line = "  sh-1234    [001] d..31  2526.862482: bpf_trace_printk: BPF triggered from PID 1234.\n";
        assert_eq!(
            printk_line(line, Duration::from_secs(2000)).as_deref(),
            Some("printk [sh-1234]: BPF triggered from PID 1234.")
        );
        assert_eq!(printk_line(line, Duration::from_secs(3000)), None);
        assert_eq!(
            printk_line("other\n", Duration::from_secs(3000)).as_deref(),
            Some("printk: other")
        );
    }
}
