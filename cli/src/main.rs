//! `oxbpf`: load, inspect and explain eBPF objects without libbpf.
//!
//! This file holds only the command line: dispatch of what `args` parsed (the "low
//! arguments") to the commands, and turning errors into an exit status. Each command lives in
//! `cmd/` and returns its output as a string, which is written here in one piece, so a
//! closed pipe (`oxbpf inspect x.o | head`) ends the program quietly instead of failing.

#![forbid(unsafe_code)]

mod args;
mod cmd;
mod json;
mod logger;
mod table;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use args::{Args, Exit, UsageError};

/// An error for the user: printed as one line, each cause after a colon.
type CliError = Box<dyn std::error::Error>;

/// What a command produced: its output, and whether it succeeded (a command may print a
/// full report and still fail, as `check` does when something does not resolve).
struct Outcome {
    output: String,
    success: bool,
}

impl From<String> for Outcome {
    fn from(output: String) -> Outcome {
        Outcome {
            output,
            success: true,
        }
    }
}

fn run(a: &Args) -> Result<Outcome, CliError> {
    let json = a.flag("json");
    match a.words.as_slice() {
        ["inspect"] => cmd::inspect::run(&a.required_path("OBJECT"), json).map(Outcome::from),
        ["disasm"] => cmd::disasm::run(
            &a.required_path("OBJECT"),
            a.string("prog")?.as_deref(),
            json,
        )
        .map(Outcome::from),
        ["explain"] => {
            let args = cmd::explain::ExplainArgs {
                object: a.required_path("OBJECT"),
                prog: a.string("prog")?,
                dry_run: a.flag("dry-run"),
                btf: a.path("btf"),
                skip_maps: a.strings("skip-map")?,
                log_level: a.number("log-level")?.unwrap_or(1),
                json,
                attach: a.flag("attach").then(|| attach_args(a)).transpose()?,
            };
            cmd::explain::run(&args).map(|(output, success)| Outcome { output, success })
        }
        ["completions"] => Ok(Outcome::from(args::completions(
            &a.required_string("SHELL")?,
        )?)),
        ["demo"] => cmd::demo::run().map(|r| Outcome {
            output: r.output,
            success: r.ok,
        }),
        ["load"] => cmd::load::run(&load_args(a)?).map(|r| Outcome {
            output: r.output,
            success: r.all_loaded,
        }),
        ["run"] => {
            cmd::run::run(&run_args(a)?).map(|(output, success)| Outcome { output, success })
        }
        ["attach"] => {
            cmd::attach::run(&run_args(a)?).map(|(output, success)| Outcome { output, success })
        }
        ["detach"] => cmd::attach::detach(&a.required_path("DIR"))
            .map(|(output, success)| Outcome { output, success }),
        ["prog", "list"] => cmd::kernel::progs(None, json).map(Outcome::from),
        ["prog", "show"] => {
            let spec = cmd::lookup::Spec::parse(&a.strings("PROG")?)?;
            cmd::kernel::progs(Some(cmd::lookup::prog_ids(&spec)?), json).map(Outcome::from)
        }
        ["link"] => cmd::link::run(&a.required_path("OUT"), &a.paths("IN")).map(Outcome::from),
        ["link", "list"] => cmd::kernel::links(None, json).map(Outcome::from),
        ["link", "show"] => cmd::kernel::links(a.number("ID")?, json).map(Outcome::from),
        ["link", "detach"] => {
            cmd::kernel::detach_link(a.number("ID")?.ok_or("give the link's ID")?)
                .map(Outcome::from)
        }
        ["map", "list"] => cmd::kernel::maps(None, json).map(Outcome::from),
        ["map", "show"] => {
            let spec = cmd::lookup::Spec::parse(&a.strings("MAP")?)?;
            cmd::kernel::maps(Some(cmd::lookup::map_ids(&spec)?), json).map(Outcome::from)
        }
        ["map", "dump"] => cmd::mapcmd::dump(&a.strings("MAP")?, json).map(Outcome::from),
        ["map", "lookup"] => cmd::mapcmd::lookup(
            &a.strings("MAP")?,
            a.string("key")?.as_deref(),
            a.string("key-hex")?.as_deref(),
            json,
        )
        .map(Outcome::from),
        ["map", "update"] => cmd::mapcmd::update(
            &a.strings("MAP")?,
            a.string("key")?.as_deref(),
            a.string("key-hex")?.as_deref(),
            a.string("value")?.as_deref(),
            a.string("value-hex")?.as_deref(),
            a.string("flags")?.as_deref().unwrap_or("any"),
        )
        .map(Outcome::from),
        ["map", "delete"] => cmd::mapcmd::delete(
            &a.strings("MAP")?,
            a.string("key")?.as_deref(),
            a.string("key-hex")?.as_deref(),
        )
        .map(Outcome::from),
        ["map", "pin"] => cmd::mapcmd::pin(&[a.required_string("MAP")?], &a.required_path("PATH"))
            .map(Outcome::from),
        ["extract"] => cmd::extract::run(
            &a.required_path("FILE"),
            &a.path("out").unwrap_or_else(|| PathBuf::from(".")),
        )
        .map(Outcome::from),
        ["net", "list"] => cmd::net::list(json).map(Outcome::from),
        ["net", "detach"] => cmd::net::detach(
            &a.required_string("IFACE")?,
            a.flag("xdp"),
            a.xdp_mode()?,
            a.string("tc")?.as_deref(),
            a.number("priority")?,
            a.string("handle")?,
            a.flag("clsact"),
        )
        .map(Outcome::from),
        ["gen", "skeleton"] => {
            let object = a.required_path("OBJECT");
            let embed = a
                .string("embed")?
                .unwrap_or_else(|| object.display().to_string());
            let mut skeleton = oxbpf_build::Skeleton::new(&object)
                .embed_path(&embed)
                .types(&a.strings("type")?);
            if let Some(name) = a.string("name")? {
                skeleton = skeleton.name(&name);
            }
            skeleton
                .generate()
                .map(Outcome::from)
                .map_err(CliError::from)
        }
        ["probes", "list"] => cmd::probes::list(json).map(Outcome::from),
        ["probes", "clean"] => cmd::probes::clean().map(Outcome::from),
        ["btf", "dump"] => {
            let format = match a.choice("format", &["raw", "c"])? {
                Some(1) => cmd::btf::Format::C,
                _ => cmd::btf::Format::Raw,
            };
            cmd::btf::dump(&a.required_string("SOURCE")?, format, json).map(Outcome::from)
        }
        ["check"] => {
            cmd::check::run(&a.required_path("OBJECT"), &a.strings("btf")?, json).map(|r| Outcome {
                output: r.output,
                success: r.all_resolved,
            })
        }
        words => Err(format!("no code for `oxbpf {}`", words.join(" ")).into()),
    }
}

/// `load`'s arguments (also the first part of `run`'s and `attach`'s).
fn load_args(a: &Args) -> Result<cmd::load::LoadArgs, CliError> {
    Ok(cmd::load::LoadArgs {
        object: a.required_path("OBJECT"),
        btf: a.path("btf"),
        pin_maps: a.path("pin-maps"),
        pin: a.path("pin"),
        token: a.path("token"),
        set: a.strings("set")?,
        max_entries: a.strings("max-entries")?,
        skip_maps: a.strings("skip-map")?,
        value_size: a.strings("value-size")?,
        prog_types: a.strings("type")?,
        only: a.strings("only")?,
        keep_going: a.flag("keep-going"),
        log_level: a.number("log-level")?.unwrap_or(0),
        json: a.flag("json"),
    })
}

/// `run`'s and `attach`'s arguments.
fn run_args(a: &Args) -> Result<cmd::run::RunArgs, CliError> {
    Ok(cmd::run::RunArgs {
        load: load_args(a)?,
        attach: attach_args(a)?,
        duration: a.duration("duration")?,
        event_type: a.strings("event-type")?,
    })
}

/// Where to attach what a section cannot say (`run`, `attach`, `explain --attach`).
fn attach_args(a: &Args) -> Result<cmd::run::AttachArgs, CliError> {
    Ok(cmd::run::AttachArgs {
        iface: a.string("iface")?,
        xdp_mode: a.xdp_mode()?,
        netlink: a.flag("netlink"),
        cgroup: a.path("cgroup"),
    })
}

/// The error and its causes on one line, as `a: b: c`.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut hint = cli_hint(err);
    let mut cause = err.source();
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        hint = hint.or_else(|| cli_hint(c));
        cause = c.source();
    }
    if let Some(h) = hint {
        msg.push_str(&format!(" [with oxbpf: {h}]"));
    }
    msg
}

/// The command-line option that does what a library error says to edit: the library
/// speaks of its API (`LoadOptions::core_btf`, `MapSpec::max_entries`), the user of
/// this binary needs the flag.
fn cli_hint(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    use oxbpf_loader::load::{LoadError, Unset};
    match err.downcast_ref::<LoadError>()? {
        LoadError::NoCoreTarget(_) => Some("--btf PATH".into()),
        LoadError::NoType { prog, .. } => Some(format!("--type {prog}=TYPE, e.g. xdp")),
        LoadError::NoToken(_) => Some("--token PATH".into()),
        LoadError::StructOps { map, .. } => Some(format!("--skip-map {map} to load the rest")),
        LoadError::MapCreate {
            map,
            unset: Some(u),
            ..
        } => Some(match u {
            Unset::MaxEntries => format!("--max-entries {map}=N"),
            Unset::StackDepth => format!("--value-size {map}=1016"),
            Unset::ValueSize => format!("--value-size {map}=N"),
        }),
        _ => None,
    }
}

fn main() -> ExitCode {
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(Exit::Help(text)) => return print(&text, ExitCode::SUCCESS),
        Err(Exit::Version) => {
            return print(
                concat!("oxbpf ", env!("CARGO_PKG_VERSION"), "\n"),
                ExitCode::SUCCESS,
            );
        }
        Err(Exit::MissingCommand(help)) => {
            let _ = std::io::stderr().write_all(help.as_bytes());
            return ExitCode::from(2);
        }
        Err(Exit::Usage(e)) => return usage_error(&e),
    };
    logger::init(args.verbose);
    match run(&args) {
        Ok(out) => print(
            &out.output,
            if out.success {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            },
        ),
        Err(e) => {
            if let Some(e) = e.downcast_ref::<UsageError>() {
                return usage_error(e);
            }
            let message = error_chain(e.as_ref());
            if args.flag("json") {
                // As bpftool -j does: the error is the output, for the tool reading it.
                let error = json::Json::object().with("error", message);
                return print(&format!("{error}\n"), ExitCode::FAILURE);
            }
            let _ = writeln!(std::io::stderr(), "oxbpf: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A mistake on the command line: exit status 2, as is usual.
fn usage_error(e: &UsageError) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "oxbpf: {e}");
    ExitCode::from(2)
}

/// Writes a command's output; a closed pipe is not an error.
fn print(output: &str, status: ExitCode) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => status,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => status,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "oxbpf: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}
