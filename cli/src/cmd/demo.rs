//! `oxbpf demo`: the main job on a built-in example, with each stage said out loud.
//!
//! The example (`testdata/demo.bpf.c`, compiled and embedded in the binary) has a
//! raw_tp program that reads its own task through CO-RE and an XDP program that counts
//! and filters packets with a `.rodata` setting. The demo reads the object, sets the
//! setting, loads it, then runs both programs with `BPF_PROG_TEST_RUN` and checks what
//! they did against what user space knows: the pid and comm of this thread, the verdicts
//! and counters for three crafted packets. A mismatch fails the command.

use std::fmt::Write as _;

use oxbpf_loader::Object;
use oxbpf_loader::core::CoreReloKind;
use oxbpf_loader::globals::encode_global;
use oxbpf_loader::load::{LoadError, LoadOptions, Loaded};
use oxbpf_loader::object::DataSection;
use oxbpf_loader::prelude::*;
use oxbpf_maps::Map;

use crate::CliError;

/// The compiled example (rebuilt by `testdata/build.sh`).
const DEMO_OBJECT: &[u8] = include_bytes!("../../../testdata/demo.bpf.o");

/// The UDP port the demo blocks.
const BLOCKED_PORT: u16 = 9;

/// The demo's report, and whether every check held.
pub struct Report {
    /// What to print.
    pub output: String,
    /// Every check held.
    pub ok: bool,
}

/// Runs the demo.
pub fn run() -> Result<Report, CliError> {
    let mut out = String::new();
    let mut ok = true;
    let _ = writeln!(
        out,
        "oxbpf demo: load a built-in example into the running kernel and run it\n"
    );

    let mut obj = Object::parse("demo.bpf.o", DEMO_OBJECT)?;
    let progs: Vec<String> = obj
        .programs
        .iter()
        .map(|p| format!("{} ({})", p.name(), p.section()))
        .collect();
    let maps: Vec<&str> = obj.maps.iter().map(|m| m.name.as_str()).collect();
    let data: Vec<&str> = obj.data.iter().map(|d| d.name.as_str()).collect();
    let _ = writeln!(
        out,
        "1. read    demo.bpf.o ({} bytes, embedded in oxbpf): programs {}; map {}; global data {}",
        DEMO_OBJECT.len(),
        progs.join(", "),
        maps.join(", "),
        data.join(", ")
    );

    let port = encode_global(&obj, "blocked_udp_port", &BLOCKED_PORT.to_string())?;
    let _ = writeln!(
        out,
        "2. set     blocked_udp_port = {BLOCKED_PORT} in .rodata before load (as `oxbpf load --set blocked_udp_port={BLOCKED_PORT}` does)"
    );
    obj.set_global("blocked_udp_port", &port)?;
    let loaded = obj.load(&LoadOptions::default()).map_err(|e| match e {
        LoadError::NoPrivileges(_) => format!(
            "{}\n(the object was read; loading it into the kernel needs root)",
            crate::error_chain(&e)
        ),
        e => crate::error_chain(&e),
    })?;

    let _ = writeln!(
        out,
        "3. CO-RE   {} relocations, each resolved against this kernel's BTF:",
        loaded.core.len()
    );
    for o in &loaded.core {
        if o.kind == CoreReloKind::FieldByteOffset {
            let _ = writeln!(
                out,
                "           {:<32} offset {:>4} when compiled, {:>4} in this kernel",
                o.local, o.fixup.orig, o.fixup.new
            );
        }
    }
    let ids = |maps: &[Map]| -> Result<Vec<String>, CliError> {
        maps.iter()
            .map(|m| Ok(format!("{} {} ({})", m.id()?, m.name(), m.map_type())))
            .collect()
    };
    let prog_ids: Result<Vec<String>, CliError> = loaded
        .programs
        .iter()
        .map(|p| Ok(format!("{} {} ({})", p.id()?, p.name(), p.prog_type())))
        .collect();
    let _ = writeln!(
        out,
        "4. load    maps {}\n           programs {}: the verifier accepted both",
        ids(&loaded.maps)?.join(", "),
        prog_ids?.join(", ")
    );

    ok &= run_whoami(&loaded, &obj.data, &mut out)?;
    ok &= run_filter(&loaded, &mut out)?;

    let _ = writeln!(
        out,
        "\n{}The kernel frees all of it when oxbpf exits. Next: `oxbpf inspect testdata/demo.bpf.o`,\n`oxbpf load testdata/demo.bpf.o -v`, `oxbpf check testdata/demo.bpf.o`.",
        if ok {
            "Every check held. "
        } else {
            "SOME CHECKS FAILED (see above). "
        }
    );
    Ok(Report { output: out, ok })
}

/// The bytes of global variable `name` in the loaded .bss.
fn global(loaded: &Loaded, name: &str, layout: &[DataSection]) -> Result<Vec<u8>, CliError> {
    let sym = layout
        .iter()
        .flat_map(|d| d.symbols.iter())
        .find(|s| s.name == name)
        .ok_or_else(|| format!("demo object has no `{name}`"))?;
    let bss = loaded
        .maps
        .iter()
        .find(|m| m.name().ends_with(".bss"))
        .ok_or("demo object has no .bss map")?;
    let value = bss.lookup(&0u32.to_ne_bytes())?.ok_or(".bss is empty")?;
    let (at, size) = (sym.offset as usize, sym.size as usize);
    value
        .get(at..at + size)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format!("`{name}` lies outside .bss").into())
}

fn i32_of(b: &[u8]) -> i32 {
    b.get(..4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, i32::from_ne_bytes)
}

/// Runs `whoami` in this thread and compares what it read with /proc.
fn run_whoami(loaded: &Loaded, layout: &[DataSection], out: &mut String) -> Result<bool, CliError> {
    let prog = loaded.program("whoami").ok_or("whoami did not load")?;
    // A raw_tp program's context is its tracepoint's arguments: sys_enter has two u64s.
    prog.test_run(&[], &[0u8; 16])?;
    let pid = i32_of(&global(loaded, "who_pid", layout)?);
    let tgid = i32_of(&global(loaded, "who_tgid", layout)?);
    let ppid = i32_of(&global(loaded, "who_ppid", layout)?);
    let comm_raw = global(loaded, "who_comm", layout)?;
    let comm_end = comm_raw
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(comm_raw.len());
    let comm = String::from_utf8_lossy(&comm_raw[..comm_end]).to_string();

    // What the program read is checked against /proc: without it, say so.
    let no_proc = |path: &str, e: &dyn std::fmt::Display| {
        format!(
            "the programs ran, but their results cannot be checked: {path}: {e} (is /proc mounted? `mount -t proc proc /proc`)"
        )
    };
    let tid: i32 = std::fs::read_link("/proc/thread-self")
        .map_err(|e| no_proc("/proc/thread-self", &e))?
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| no_proc("/proc/thread-self", &"not a thread id"))?;
    let my_comm = std::fs::read_to_string("/proc/thread-self/comm")
        .map_err(|e| no_proc("/proc/thread-self/comm", &e))?;
    let expected = (
        tid,
        std::process::id() as i32,
        std::os::unix::process::parent_id() as i32,
        my_comm.trim_end(),
    );
    let ok = (pid, tgid, ppid, comm.as_str()) == expected;
    let _ = writeln!(
        out,
        "5. run     whoami in this thread (BPF_PROG_TEST_RUN): it read pid {pid}, tgid {tgid}, parent {ppid}, comm \"{comm}\"\n           {}",
        if ok {
            "/proc agrees: the CO-RE offsets were right for this kernel".to_string()
        } else {
            format!(
                "MISMATCH: /proc says pid {}, tgid {}, parent {}, comm \"{}\"",
                expected.0, expected.1, expected.2, expected.3
            )
        }
    );
    Ok(ok)
}

/// An Ethernet + IPv4 frame carrying `l4` with IP protocol `proto`.
fn frame(proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 34];
    p[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    p[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    p[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    p[14] = 0x45;
    let total = u16::try_from(20 + l4.len()).unwrap_or(u16::MAX);
    p[16..18].copy_from_slice(&total.to_be_bytes());
    p[22] = 64;
    p[23] = proto;
    p[26..30].copy_from_slice(&[10, 0, 0, 1]);
    p[30..34].copy_from_slice(&[10, 0, 0, 2]);
    p.extend_from_slice(l4);
    p
}

fn udp_to(port: u16) -> Vec<u8> {
    let mut u = vec![0u8; 8 + 4];
    u[0..2].copy_from_slice(&40000u16.to_be_bytes());
    u[2..4].copy_from_slice(&port.to_be_bytes());
    u[4..6].copy_from_slice(&12u16.to_be_bytes());
    frame(17, &u)
}

/// Runs `count_and_filter` on three packets and checks verdicts and counters.
fn run_filter(loaded: &Loaded, out: &mut String) -> Result<bool, CliError> {
    const XDP_DROP: u32 = 1;
    const XDP_PASS: u32 = 2;
    let prog = loaded
        .program("count_and_filter")
        .ok_or("count_and_filter did not load")?;
    let packets = [
        ("TCP", frame(6, &[0u8; 20]), XDP_PASS),
        ("UDP to port 53", udp_to(53), XDP_PASS),
        ("UDP to port 9", udp_to(BLOCKED_PORT), XDP_DROP),
    ];
    let mut ok = true;
    let mut verdicts = Vec::new();
    for (what, pkt, want) in &packets {
        let got = prog.test_run(pkt, &[])?.retval;
        ok &= got == *want;
        let name = |v: u32| match v {
            XDP_DROP => "drop".to_string(),
            XDP_PASS => "pass".to_string(),
            v => format!("action {v}"),
        };
        verdicts.push(if got == *want {
            format!("{what} → {}", name(got))
        } else {
            format!(
                "{what} → {} (MISMATCH: expected {})",
                name(got),
                name(*want)
            )
        });
    }
    let counts = loaded
        .map("packets_per_proto")
        .ok_or("packets_per_proto was not created")?;
    let count = |proto: u8| -> Result<u64, CliError> {
        Ok(counts
            .lookup(&[proto])?
            .and_then(|v| v.get(..8).and_then(|b| b.try_into().ok()))
            .map_or(0, u64::from_ne_bytes))
    };
    let (tcp, udp) = (count(6)?, count(17)?);
    let counted = (tcp, udp) == (1, 2);
    ok &= counted;
    let _ = writeln!(
        out,
        "6. run     count_and_filter on 3 packets: {}\n           packets_per_proto now holds TCP: {tcp}, UDP: {udp}{}",
        verdicts.join(", "),
        if counted {
            ""
        } else {
            " (MISMATCH: expected 1 and 2)"
        }
    );
    Ok(ok)
}
