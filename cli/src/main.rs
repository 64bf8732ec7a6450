//! `oxbpf`: load, inspect and explain eBPF objects without libbpf.
//!
//! This file holds only the command line: parsing (clap derive structs, the "low
//! arguments"), dispatch, and turning errors into an exit status. Each command lives in
//! `cmd/` and returns its output as a string, which is written here in one piece, so a
//! closed pipe (`oxbpf inspect x.o | head`) ends the program quietly instead of failing.

#![forbid(unsafe_code)]

mod cmd;
mod json;
mod logger;
mod table;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

/// Load, inspect and explain eBPF objects, with no libbpf, libelf or clang at run time.
#[derive(Debug, Parser)]
#[command(name = "oxbpf", version, about, long_about = None)]
struct Cli {
    /// Say more on stderr: -v what each stage did, -vv every system call.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a BPF object contains: programs, maps, global data, externs and
    /// relocations. Reads the file only; needs no privileges.
    Inspect {
        /// The object file (`*.bpf.o`).
        object: PathBuf,
        /// Print JSON for tools instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Every function's instructions in the verifier's syntax, with source lines, helper
    /// names, and what each relocation (maps, globals, calls, externs, kfuncs) and CO-RE
    /// record does there. Reads the file only; needs no privileges.
    Disasm {
        /// The object file (`*.bpf.o`).
        object: PathBuf,
        /// Only this program or subprogram.
        #[arg(long, value_name = "NAME")]
        prog: Option<String>,
        /// Print JSON for tools instead of text for people.
        #[arg(long)]
        json: bool,
    },
    /// Walk through loading an object, stage by stage: ELF, BTF, each CO-RE relocation
    /// (before → after), the other relocations, every bpf() call with its answer, and
    /// the verifier's verdict. `--dry-run` stops before the kernel (no privileges).
    Explain(cmd::explain::ExplainArgs),
    /// Load a built-in example into the kernel, run it, and say what each stage did.
    /// Needs root.
    Demo,
    /// Load an object into the kernel: maps, global data, externs, CO-RE, programs.
    /// Prints each program's and map's kernel id. Needs CAP_BPF (root).
    Load(cmd::load::LoadArgs),
    /// Load an object, attach every program that can be, print what they report (ring
    /// buffers, bpf_printk) until Ctrl-C, then detach everything and show the maps.
    Run(cmd::run::RunArgs),
    /// Load and attach like `run`, then pin each link (and the programs and maps) in a
    /// bpffs directory (`--pin DIR`), so they stay attached after oxbpf exits.
    Attach(cmd::run::RunArgs),
    /// Detach and unpin everything `attach` pinned in DIR.
    Detach {
        /// The directory given to `attach --pin`.
        dir: PathBuf,
    },
    /// Programs loaded in the kernel (like `bpftool prog`). Needs CAP_SYS_ADMIN.
    #[command(subcommand)]
    Prog(KernelObjects),
    /// Maps in the kernel (like `bpftool map`): list, show, dump, lookup, update,
    /// delete, pin. Needs CAP_SYS_ADMIN.
    #[command(subcommand)]
    Map(MapCommand),
    /// Write out the BPF objects a program embeds (libbpf skeletons), as `.bpf.o` files.
    /// `inspect`, `load` and `check` also take such a program directly when it embeds
    /// one object.
    Extract {
        /// The program (e.g. a libbpf-tools binary).
        file: PathBuf,
        /// Where to write the objects.
        #[arg(long, short, default_value = ".")]
        out: PathBuf,
    },
    /// BPF programs attached to this network namespace's interfaces (XDP, tc), like
    /// `bpftool net`: list them, with the command that removes each, or remove one.
    #[command(subcommand)]
    Net(NetCommand),
    /// kprobe and uprobe events oxbpf created through tracefs: list them, or remove
    /// those a killed process left behind.
    #[command(subcommand)]
    Probes(ProbesCommand),
    /// bpf_links in the kernel (like `bpftool link`). Needs CAP_SYS_ADMIN.
    #[command(subcommand)]
    Link(KernelObjects),
    /// Work with BTF type information.
    #[command(subcommand)]
    Btf(BtfCommand),
    /// Resolve every CO-RE relocation of an object against other kernels' BTF, without
    /// loading: a portability report. Exit status 0 only if all resolve against all.
    Check {
        /// The object file (`*.bpf.o`).
        object: PathBuf,
        /// A target BTF: raw BTF, an ELF with `.BTF`, or `vmlinux` (the running
        /// kernel, the default). Repeat for several kernels.
        #[arg(long = "btf", value_name = "PATH")]
        btfs: Vec<String>,
        /// Print JSON for tools instead of text for people.
        #[arg(long)]
        json: bool,
    },
}

/// `oxbpf probes ...`.
#[derive(Debug, Subcommand)]
enum ProbesCommand {
    /// Every probe event of oxbpf's, and whether its process is still running.
    List,
    /// Remove the events whose process is gone.
    Clean,
}

/// `oxbpf net ...`.
#[derive(Debug, Subcommand)]
enum NetCommand {
    /// Every XDP program and tc filter on the interfaces, with how to remove it.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an XDP program or a tc filter from an interface (one a killed process
    /// left behind, say).
    Detach {
        /// The interface.
        iface: String,
        /// The XDP program.
        #[arg(long)]
        xdp: bool,
        /// Its mode.
        #[arg(long, value_enum, default_value_t)]
        xdp_mode: cmd::run::XdpModeArg,
        /// A tc filter: `ingress` or `egress`.
        #[arg(long, value_name = "DIRECTION")]
        tc: Option<String>,
        /// The tc filter's priority.
        #[arg(long)]
        priority: Option<u16>,
        /// The tc filter's handle (hex).
        #[arg(long)]
        handle: Option<String>,
    },
}

/// `list` or `show ID`, for programs and maps in the kernel.
#[derive(Debug, Subcommand)]
enum KernelObjects {
    /// Every one in the kernel.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One, by kernel id.
    Show {
        /// The id (from `list`, or printed by `load`).
        id: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `oxbpf map ...`. MAP is a kernel id, a pinned path or a map name.
#[derive(Debug, Subcommand)]
enum MapCommand {
    /// Every map in the kernel.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One map's definition.
    Show {
        /// The map's id.
        id: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every entry, typed by the map's BTF where it has one.
    Dump {
        /// Id, pinned path or name.
        map: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One entry.
    Lookup {
        /// Id, pinned path or name.
        map: String,
        /// The key, as text read by its type (or an integer).
        #[arg(long)]
        key: Option<String>,
        /// The key as hex bytes.
        #[arg(long)]
        key_hex: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set an entry.
    Update {
        /// Id, pinned path or name.
        map: String,
        /// The key, as text read by its type (or an integer).
        #[arg(long)]
        key: Option<String>,
        /// The key as hex bytes.
        #[arg(long)]
        key_hex: Option<String>,
        /// The value, as text read by its type (or an integer).
        #[arg(long)]
        value: Option<String>,
        /// The value as hex bytes.
        #[arg(long)]
        value_hex: Option<String>,
        /// any, noexist (create only) or exist (replace only).
        #[arg(long, default_value = "any")]
        flags: String,
    },
    /// Remove an entry.
    Delete {
        /// Id, pinned path or name.
        map: String,
        /// The key, as text read by its type (or an integer).
        #[arg(long)]
        key: Option<String>,
        /// The key as hex bytes.
        #[arg(long)]
        key_hex: Option<String>,
    },
    /// Pin the map in a bpffs.
    Pin {
        /// Id, pinned path or name.
        map: String,
        /// Where.
        path: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BtfCommand {
    /// Print BTF: every type (`raw`, like bpftool) or a C header (`c`, a vmlinux.h).
    Dump {
        /// `vmlinux` for the running kernel, a file of raw BTF, an object with `.BTF`,
        /// or a module's `/sys/kernel/btf/<module>`.
        source: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: cmd::btf::Format,
    },
}

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
    match cli.command {
        Command::Inspect { object, json } => cmd::inspect::run(&object, json).map(Outcome::from),
        Command::Net(NetCommand::List { json }) => cmd::net::list(json).map(Outcome::from),
        Command::Probes(ProbesCommand::List) => cmd::probes::list().map(Outcome::from),
        Command::Probes(ProbesCommand::Clean) => cmd::probes::clean().map(Outcome::from),
        Command::Net(NetCommand::Detach {
            iface,
            xdp,
            xdp_mode,
            tc,
            priority,
            handle,
        }) => cmd::net::detach(&iface, xdp, xdp_mode, tc.as_deref(), priority, handle)
            .map(Outcome::from),
        Command::Explain(args) => {
            cmd::explain::run(&args).map(|(output, success)| Outcome { output, success })
        }
        Command::Disasm { object, prog, json } => {
            cmd::disasm::run(&object, prog.as_deref(), json).map(Outcome::from)
        }
        Command::Btf(BtfCommand::Dump { source, format }) => {
            cmd::btf::dump(&source, format).map(Outcome::from)
        }
        Command::Extract { file, out } => cmd::extract::run(&file, &out).map(Outcome::from),
        Command::Run(args) => {
            cmd::run::run(&args).map(|(output, success)| Outcome { output, success })
        }
        Command::Link(KernelObjects::List { json }) => {
            cmd::kernel::links(None, json).map(Outcome::from)
        }
        Command::Link(KernelObjects::Show { id, json }) => {
            cmd::kernel::links(Some(id), json).map(Outcome::from)
        }
        Command::Attach(args) => {
            cmd::attach::run(&args).map(|(output, success)| Outcome { output, success })
        }
        Command::Detach { dir } => {
            cmd::attach::detach(&dir).map(|(output, success)| Outcome { output, success })
        }
        Command::Demo => cmd::demo::run().map(|r| Outcome {
            output: r.output,
            success: r.ok,
        }),
        Command::Load(args) => cmd::load::run(&args).map(|r| Outcome {
            output: r.output,
            success: r.all_loaded,
        }),
        Command::Prog(KernelObjects::List { json }) => {
            cmd::kernel::progs(None, json).map(Outcome::from)
        }
        Command::Prog(KernelObjects::Show { id, json }) => {
            cmd::kernel::progs(Some(id), json).map(Outcome::from)
        }
        Command::Map(m) => match m {
            MapCommand::List { json } => cmd::kernel::maps(None, json),
            MapCommand::Show { id, json } => cmd::kernel::maps(Some(id), json),
            MapCommand::Dump { map, json } => cmd::mapcmd::dump(&map, json),
            MapCommand::Lookup {
                map,
                key,
                key_hex,
                json,
            } => cmd::mapcmd::lookup(&map, key.as_deref(), key_hex.as_deref(), json),
            MapCommand::Update {
                map,
                key,
                key_hex,
                value,
                value_hex,
                flags,
            } => cmd::mapcmd::update(
                &map,
                key.as_deref(),
                key_hex.as_deref(),
                value.as_deref(),
                value_hex.as_deref(),
                &flags,
            ),
            MapCommand::Delete { map, key, key_hex } => {
                cmd::mapcmd::delete(&map, key.as_deref(), key_hex.as_deref())
            }
            MapCommand::Pin { map, path } => cmd::mapcmd::pin(&map, &path),
        }
        .map(Outcome::from),
        Command::Check { object, btfs, json } => {
            cmd::check::run(&object, &btfs, json).map(|r| Outcome {
                output: r.output,
                success: r.all_resolved,
            })
        }
    }
}

/// The error and its causes on one line, as `a: b: c`.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    msg
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logger::init(cli.verbose);
    match run(cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            let status = if out.success {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
            match stdout
                .write_all(out.output.as_bytes())
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
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "oxbpf: error: {}",
                error_chain(e.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}
