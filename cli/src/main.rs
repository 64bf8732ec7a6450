//! `oxbpf`: load, inspect and explain eBPF objects without libbpf.
//!
//! This file holds only the command line: dispatch of the typed arguments clap parsed
//! (declared in `args`) to the commands, and turning errors into an exit status. Each
//! command lives in `cmd/` and returns its output as a string, which is written here in
//! one piece, so a closed pipe (`oxbpf inspect x.o | head`) ends the program quietly
//! instead of failing.

#![forbid(unsafe_code)]

mod args;
mod cmd;
mod json;
mod logger;
mod table;

use std::io::Write as _;
use std::process::ExitCode;

use args::{Cli, Command};
use clap::Parser as _;

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

fn run(cli: Cli) -> Result<Outcome, CliError> {
    use args::{
        BtfCommand, GenCommand, LinkCommand, MapCommand, NetCommand, ProbesCommand, ProgCommand,
    };
    match cli.command {
        Command::Inspect(a) => cmd::inspect::run(&a.object, a.json).map(Outcome::from),
        Command::Disasm(a) => {
            cmd::disasm::run(&a.object, a.prog.as_deref(), a.json).map(Outcome::from)
        }
        Command::Explain(a) => {
            let args = cmd::explain::ExplainArgs {
                object: a.object,
                prog: a.prog,
                dry_run: a.dry_run,
                btf: a.btf,
                skip_maps: a.skip_maps,
                log_level: a.log_level,
                json: a.json,
                attach: a.attach.then(|| attach_args(a.target)),
            };
            cmd::explain::run(&args).map(|(output, success)| Outcome { output, success })
        }
        Command::Completions { shell } => Ok(Outcome::from(args::completions(shell))),
        Command::Demo => cmd::demo::run().map(|r| Outcome {
            output: r.output,
            success: r.ok,
        }),
        Command::Load(a) => cmd::load::run(&load_args(a)).map(|r| Outcome {
            output: r.output,
            success: r.all_loaded,
        }),
        Command::Run(a) => {
            cmd::run::run(&run_args(a)).map(|(output, success)| Outcome { output, success })
        }
        Command::Attach(a) => {
            cmd::attach::run(&run_args(a)).map(|(output, success)| Outcome { output, success })
        }
        Command::Detach { dir } => {
            cmd::attach::detach(&dir).map(|(output, success)| Outcome { output, success })
        }
        Command::Prog(ProgCommand::List(a)) => cmd::kernel::progs(None, a.json).map(Outcome::from),
        Command::Prog(ProgCommand::Show(a)) => {
            let spec = cmd::lookup::Spec::parse(&a.spec)?;
            cmd::kernel::progs(Some(cmd::lookup::prog_ids(&spec)?), a.json).map(Outcome::from)
        }
        Command::Link(l) => match l.command {
            None => cmd::link::run(&l.out.unwrap_or_default(), &l.inputs).map(Outcome::from),
            Some(LinkCommand::List(a)) => cmd::kernel::links(None, a.json).map(Outcome::from),
            Some(LinkCommand::Show { id, json }) => {
                cmd::kernel::links(Some(id), json).map(Outcome::from)
            }
            Some(LinkCommand::Detach { id }) => cmd::kernel::detach_link(id).map(Outcome::from),
        },
        Command::Map(m) => match m {
            MapCommand::List(a) => cmd::kernel::maps(None, a.json).map(Outcome::from),
            MapCommand::Show(a) => {
                let spec = cmd::lookup::Spec::parse(&a.spec)?;
                cmd::kernel::maps(Some(cmd::lookup::map_ids(&spec)?), a.json).map(Outcome::from)
            }
            MapCommand::Dump(a) => cmd::mapcmd::dump(&a.spec, a.json).map(Outcome::from),
            MapCommand::Lookup(a) => cmd::mapcmd::lookup(
                &a.map,
                a.key.key.as_deref(),
                a.key.key_hex.as_deref(),
                a.json,
            )
            .map(Outcome::from),
            MapCommand::Update(a) => cmd::mapcmd::update(
                &a.map,
                a.key.key.as_deref(),
                a.key.key_hex.as_deref(),
                a.value.as_deref(),
                a.value_hex.as_deref(),
                a.flags.word(),
            )
            .map(Outcome::from),
            MapCommand::Delete(a) => {
                cmd::mapcmd::delete(&a.map, a.key.key.as_deref(), a.key.key_hex.as_deref())
                    .map(Outcome::from)
            }
            MapCommand::Pin(a) => cmd::mapcmd::pin(&[a.map], &a.path).map(Outcome::from),
        },
        Command::Extract { file, out } => cmd::extract::run(&file, &out).map(Outcome::from),
        Command::Net(NetCommand::List(a)) => cmd::net::list(a.json).map(Outcome::from),
        Command::Net(NetCommand::Detach(a)) => cmd::net::detach(
            &a.iface,
            a.xdp,
            a.xdp_mode.into(),
            a.tc.as_deref(),
            a.priority,
            a.handle,
            a.clsact,
        )
        .map(Outcome::from),
        Command::Gen(GenCommand::Skeleton {
            object,
            name,
            embed,
            types,
        }) => {
            let embed = embed.unwrap_or_else(|| object.display().to_string());
            let mut skeleton = oxbpf_build::Skeleton::new(&object)
                .embed_path(&embed)
                .types(&types);
            if let Some(name) = name {
                skeleton = skeleton.name(&name);
            }
            skeleton
                .generate()
                .map(Outcome::from)
                .map_err(CliError::from)
        }
        Command::Probes(ProbesCommand::List(a)) => cmd::probes::list(a.json).map(Outcome::from),
        Command::Probes(ProbesCommand::Clean) => cmd::probes::clean().map(Outcome::from),
        Command::Btf(BtfCommand::Dump {
            source,
            format,
            json,
        }) => {
            let format = match format {
                args::BtfFormat::C => cmd::btf::Format::C,
                args::BtfFormat::Raw => cmd::btf::Format::Raw,
            };
            cmd::btf::dump(&source, format, json).map(Outcome::from)
        }
        Command::Check(a) => cmd::check::run(&a.object, &a.btf, a.json).map(|r| Outcome {
            output: r.output,
            success: r.all_resolved,
        }),
    }
}

/// `load`'s arguments (also the first part of `run`'s and `attach`'s).
fn load_args(a: args::LoadArgs) -> cmd::load::LoadArgs {
    cmd::load::LoadArgs {
        object: a.object,
        btf: a.btf,
        pin_maps: a.pin_maps,
        pin: a.pin,
        token: a.token.map(std::path::PathBuf::from),
        set: a.set,
        max_entries: a.max_entries,
        skip_maps: a.skip_maps,
        value_size: a.value_size,
        prog_types: a.prog_types,
        only: a.only,
        keep_going: a.keep_going,
        log_level: a.log_level,
        json: a.json,
    }
}

/// `run`'s and `attach`'s arguments.
fn run_args(a: args::RunArgs) -> cmd::run::RunArgs {
    cmd::run::RunArgs {
        load: load_args(a.load),
        attach: attach_args(a.target),
        duration: a.duration,
        event_type: a.event_type,
    }
}

/// Where to attach what a section cannot say (`run`, `attach`, `explain --attach`).
fn attach_args(a: args::AttachTarget) -> cmd::run::AttachArgs {
    cmd::run::AttachArgs {
        iface: a.iface,
        xdp_mode: a.xdp_mode.into(),
        netlink: a.netlink,
        cgroup: a.cgroup,
    }
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
    // Usage mistakes print clap's message (with a suggestion where one is close) and
    // exit with status 2; --help and --version print on stdout and exit 0.
    let cli = Cli::parse();
    logger::init(cli.verbose);
    let json = cli.json();
    match run(cli) {
        Ok(out) => print(
            &out.output,
            if out.success {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            },
        ),
        Err(e) => {
            let message = error_chain(e.as_ref());
            if json {
                // As bpftool -j does: the error is the output, for the tool reading it.
                let error = json::Json::object().with("error", message);
                return print(&format!("{error}\n"), ExitCode::FAILURE);
            }
            let _ = writeln!(std::io::stderr(), "oxbpf: error: {message}");
            ExitCode::FAILURE
        }
    }
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
