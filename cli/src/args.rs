//! The command line, declared with clap's derive: one typed struct per command, so what
//! is accepted, what `--help` says, the completions (`clap_complete`) and what each
//! command receives come from one declaration and cannot drift apart. Values are read
//! into their types by clap (numbers, seconds, choices) before a command runs.
//!
//! The conventions are clap's: `--opt VALUE` or `--opt=VALUE`, `-o VALUE` or `-oVALUE`,
//! options between positional arguments, `--` to end options, `-v` (repeatable, `-vv`)
//! anywhere, `-h`/`--help` and `help [COMMAND]` at every level, `-V`/`--version`, typo
//! suggestions. Usage errors exit with status 2.
//!
//! oxbpf read its arguments by hand for a while to keep the static binary small; with
//! the standard library rebuilt for size (`scripts/build-static.sh --build-std`) clap fits
//! within issue 20's goal (bench/RESULTS.md).

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// Load, inspect and explain eBPF objects without libbpf: one static binary
#[derive(Debug, Parser)]
#[command(name = "oxbpf", version, term_width = 80)]
pub struct Cli {
    /// Say more on stderr: -v what each stage did, -vv every system call
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether the command was asked for JSON (errors are then JSON too).
    pub fn json(&self) -> bool {
        match &self.command {
            Command::Inspect(a) => a.json,
            Command::Disasm(a) => a.json,
            Command::Explain(a) => a.json,
            Command::Load(a) => a.json,
            Command::Run(a) | Command::Attach(a) => a.load.json,
            Command::Prog(ProgCommand::List(a)) => a.json,
            Command::Prog(ProgCommand::Show(a)) => a.json,
            Command::Map(m) => match m {
                MapCommand::List(a) => a.json,
                MapCommand::Show(a) | MapCommand::Dump(a) => a.json,
                MapCommand::Lookup(a) => a.json,
                MapCommand::Update(_) | MapCommand::Delete(_) | MapCommand::Pin(_) => false,
            },
            Command::Net(NetCommand::List(a)) => a.json,
            Command::Probes(ProbesCommand::List(a)) => a.json,
            Command::Link(LinkArgs {
                command: Some(LinkCommand::List(a)),
                ..
            }) => a.json,
            Command::Link(LinkArgs {
                command: Some(LinkCommand::Show { json, .. }),
                ..
            }) => *json,
            Command::Btf(BtfCommand::Dump { json, .. }) => *json,
            Command::Check(a) => a.json,
            _ => false,
        }
    }
}

/// Every command, under `oxbpf`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what a BPF object contains: programs, maps, global data, externs and
    /// relocations. Reads the file only; needs no privileges
    Inspect(InspectArgs),
    /// Every function's instructions in the verifier's syntax, with source lines, helper
    /// names, and what each relocation (maps, globals, calls, externs, kfuncs) and CO-RE
    /// record does there. Reads the file only; needs no privileges
    Disasm(DisasmArgs),
    /// Walk through loading an object, stage by stage: ELF, BTF, each CO-RE relocation
    /// (before → after), the other relocations, every bpf() call with its answer, and the
    /// verifier's verdict. `--dry-run` stops before the kernel (no privileges)
    Explain(ExplainArgs),
    /// Load a built-in example into the kernel, run it, and say what each stage did.
    /// Needs root
    Demo,
    /// Print a shell completion script: `oxbpf completions bash >
    /// /etc/bash_completion.d/oxbpf`, `source <(oxbpf completions zsh)`, `oxbpf
    /// completions fish > ~/.config/fish/completions/oxbpf.fish`
    Completions {
        /// bash, zsh or fish
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
    /// Load an object into the kernel: maps, global data, externs, CO-RE, programs.
    /// Prints each program's and map's kernel id. Needs CAP_BPF (root)
    Load(LoadArgs),
    /// Load an object, attach every program that can be, print what they report (ring
    /// buffers, bpf_printk) until Ctrl-C, then detach everything and show the maps
    Run(RunArgs),
    /// Load and attach like `run`, then pin each link (and the programs and maps) in a
    /// bpffs directory (`--pin DIR`), so they stay attached after oxbpf exits
    Attach(RunArgs),
    /// Detach and unpin everything `attach` pinned in DIR
    Detach {
        /// The directory given to `attach --pin`
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Programs loaded in the kernel (like `bpftool prog`). Needs CAP_SYS_ADMIN
    #[command(subcommand)]
    Prog(ProgCommand),
    /// Maps in the kernel (like `bpftool map`): list, show, dump, lookup, update, delete,
    /// pin. MAP is a kernel id, a pinned path or a map name (several maps of one name are
    /// listed, not guessed among). Needs CAP_SYS_ADMIN
    #[command(subcommand)]
    Map(MapCommand),
    /// Write out the BPF objects a program embeds (libbpf skeletons), as `.bpf.o` files.
    /// `inspect`, `load` and `check` also take such a program directly when it embeds one
    /// object
    Extract {
        /// The program (e.g. a libbpf-tools binary)
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Where to write the objects
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// BPF programs attached to this network namespace's interfaces (XDP, tc), like
    /// `bpftool net`: list them, with the command that removes each, or remove one
    #[command(subcommand)]
    Net(NetCommand),
    /// Generate code from a BPF object
    #[command(subcommand)]
    Gen(GenCommand),
    /// kprobe and uprobe events oxbpf created through tracefs: list them, or remove those
    /// a killed process left behind
    #[command(subcommand)]
    Probes(ProbesCommand),
    /// Link BPF objects into one, as `bpftool gen object` does (libbpf's static linker):
    /// `oxbpf link OUT IN...`. With `list`, `show` or `detach`: the bpf_links in the
    /// kernel (like `bpftool link`; needs CAP_SYS_ADMIN)
    Link(LinkArgs),
    /// Work with BTF type information
    #[command(subcommand)]
    Btf(BtfCommand),
    /// Resolve every CO-RE relocation of an object against other kernels' BTF, without
    /// loading: a portability report. Exit status 0 only if all resolve against all
    Check(CheckArgs),
}

/// The shells `completions` writes for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    /// bash
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
}

/// `inspect OBJECT`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The object file (`*.bpf.o`)
    #[arg(value_name = "OBJECT")]
    pub object: PathBuf,
    /// Print JSON for tools instead of text for people
    #[arg(long)]
    pub json: bool,
}

/// `disasm OBJECT`.
#[derive(Debug, Args)]
pub struct DisasmArgs {
    /// The object file (`*.bpf.o`)
    #[arg(value_name = "OBJECT")]
    pub object: PathBuf,
    /// Only this program or subprogram
    #[arg(long, value_name = "NAME")]
    pub prog: Option<String>,
    /// Print JSON for tools instead of text for people
    #[arg(long)]
    pub json: bool,
}

/// `explain OBJECT`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The object file (`*.bpf.o`)
    #[arg(value_name = "OBJECT")]
    pub object: PathBuf,
    /// Only this program (and what it uses)
    #[arg(long, value_name = "NAME")]
    pub prog: Option<String>,
    /// Do everything but the kernel calls (no privileges needed): show what would be sent
    #[arg(long)]
    pub dry_run: bool,
    /// Resolve CO-RE against this BTF instead of the running kernel's
    #[arg(long, value_name = "PATH")]
    pub btf: Option<PathBuf>,
    /// Do not create MAP (a map type this kernel lacks); loads of it are poisoned, so only
    /// a program that reaches one fails, naming the map
    #[arg(long = "skip-map", value_name = "MAP")]
    pub skip_maps: Vec<String>,
    /// Verifier log detail: 1 its verdict and statistics, 2 every instruction it checked
    /// with the register state, source lines interleaved
    #[arg(long, value_name = "LEVEL", default_value_t = 1)]
    pub log_level: u32,
    /// After the load, attach each program (as `run` does) and detach it again, recording
    /// those calls too: perf_event_open, ioctls, setsockopt, netlink
    #[arg(long)]
    pub attach: bool,
    /// Print JSON for tools instead of text for people
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub target: AttachTarget,
}

/// `load`'s arguments, which `run` and `attach` take too.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The object file (`*.bpf.o`)
    #[arg(value_name = "OBJECT")]
    pub object: PathBuf,
    /// Target BTF for CO-RE instead of the running kernel's: raw BTF (e.g. from btfhub) or
    /// an ELF with `.BTF`
    #[arg(long, value_name = "PATH")]
    pub btf: Option<PathBuf>,
    /// Load with a BPF token from the bpffs at PATH, mounted with delegate_* options: how
    /// a process in a user namespace loads (default: $LIBBPF_BPF_TOKEN_PATH, else
    /// /sys/fs/bpf when it delegates; an empty PATH: none)
    // (OsString: clap's PathBuf parser refuses the empty value that means "none".)
    #[arg(long, value_name = "PATH")]
    pub token: Option<std::ffi::OsString>,
    /// Pin every map under DIR (a bpffs); `LIBBPF_PIN_BY_NAME` maps are pinned and reused
    /// there instead of under /sys/fs/bpf
    #[arg(long, value_name = "DIR")]
    pub pin_maps: Option<PathBuf>,
    /// Pin every program under DIR (a bpffs), so it stays loaded after oxbpf exits
    #[arg(long, value_name = "DIR")]
    pub pin: Option<PathBuf>,
    /// Set a global variable before load, typically a `const volatile` setting in
    /// `.rodata`: an integer, bool, enumerator name or string, by its BTF type
    #[arg(long, value_name = "VAR=VALUE")]
    pub set: Vec<String>,
    /// Set a map's max_entries
    #[arg(long, value_name = "MAP=N")]
    pub max_entries: Vec<String>,
    /// Do not create MAP (a map type this kernel lacks); loads of it are poisoned, so only
    /// a program that reaches one fails, naming the map
    #[arg(long = "skip-map", value_name = "MAP")]
    pub skip_maps: Vec<String>,
    /// Set a map's value size (e.g. stack-trace maps an object leaves at 0)
    #[arg(long, value_name = "MAP=N")]
    pub value_size: Vec<String>,
    /// Give a program a type, for a section name no SEC() pattern knows
    #[arg(long = "type", value_name = "PROG=TYPE")]
    pub prog_types: Vec<String>,
    /// Load only this program (repeat for several); `?`-sections load only when named
    #[arg(long, value_name = "PROG")]
    pub only: Vec<String>,
    /// Load every program that can load and report each one that cannot
    #[arg(long)]
    pub keep_going: bool,
    /// Print the verifier log of each program that loads (1: basic, 2: every
    /// instruction). Failures always print theirs
    #[arg(long, value_name = "LEVEL", default_value_t = 0)]
    pub log_level: u32,
    /// Print JSON for tools instead of text for people
    #[arg(long)]
    pub json: bool,
}

/// How XDP programs attach.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum XdpModeArg {
    /// The kernel's choice: driver when supported
    #[default]
    Auto,
    /// Generic XDP
    Skb,
    /// Driver XDP
    Drv,
    /// Offloaded
    Hw,
}

impl From<XdpModeArg> for oxbpf_prog::XdpMode {
    fn from(m: XdpModeArg) -> oxbpf_prog::XdpMode {
        match m {
            XdpModeArg::Auto => oxbpf_prog::XdpMode::Auto,
            XdpModeArg::Skb => oxbpf_prog::XdpMode::Skb,
            XdpModeArg::Drv => oxbpf_prog::XdpMode::Drv,
            XdpModeArg::Hw => oxbpf_prog::XdpMode::Hw,
        }
    }
}

/// Where `run`, `attach` and `explain --attach` attach what the section cannot say.
#[derive(Debug, Args)]
pub struct AttachTarget {
    /// Interface for XDP, tc and socket filter programs
    #[arg(long, value_name = "IF")]
    pub iface: Option<String>,
    /// XDP mode: auto (the kernel's choice, driver when supported), skb (generic XDP), drv
    /// (driver XDP) or hw (offloaded)
    #[arg(long, value_name = "MODE", value_enum, default_value_t = XdpModeArg::Auto, hide_possible_values = true)]
    pub xdp_mode: XdpModeArg,
    /// Attach XDP and tc over netlink (as ip and tc do) instead of bpf_links
    #[arg(long)]
    pub netlink: bool,
    /// cgroup (v2 directory) for cgroup programs
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
}

/// `run`'s and `attach`'s arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub target: AttachTarget,
    /// Stop after this many seconds instead of waiting for Ctrl-C
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<Duration>,
    /// Print ring/perf buffer records as this struct of the object's BTF (for every such
    /// map, or `MAP=STRUCT` for one). Without it, a single struct named `event` or
    /// `*_event` is used; records shorter than the struct stay in hex
    #[arg(long, value_name = "[MAP=]STRUCT")]
    pub event_type: Vec<String>,
}

/// `list`, for the kinds of kernel objects.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Programs named the ways bpftool names them.
#[derive(Debug, Args)]
pub struct ProgSpecArgs {
    /// ID, id ID, name NAME, tag TAG, pinned PATH, or a bare name or path (every program
    /// of that name or tag is shown)
    #[arg(value_name = "PROG", required = true, num_args = 1..)]
    pub spec: Vec<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Maps named the ways bpftool names them.
#[derive(Debug, Args)]
pub struct MapSpecArgs {
    /// ID, id ID, name NAME, pinned PATH, or a bare name or path (several maps of one
    /// name are listed, not guessed among)
    #[arg(value_name = "MAP", required = true, num_args = 1..)]
    pub spec: Vec<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// The programs in the kernel.
#[derive(Debug, Subcommand)]
pub enum ProgCommand {
    /// Every one in the kernel
    List(ListArgs),
    /// The programs PROG names
    Show(ProgSpecArgs),
}

/// A map's key, as text or hex.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The key, as text read by its type (or an integer)
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub key: Option<String>,
    /// The key as hex bytes
    #[arg(long, value_name = "HEX")]
    pub key_hex: Option<String>,
}

/// `map lookup`.
#[derive(Debug, Args)]
pub struct MapLookupArgs {
    /// ID, id ID, name NAME, pinned PATH, or a bare name or path
    #[arg(value_name = "MAP", required = true, num_args = 1..)]
    pub map: Vec<String>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// How `map update` treats an existing entry.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum UpdateFlags {
    /// Create or replace
    #[default]
    Any,
    /// Create only
    Noexist,
    /// Replace only
    Exist,
}

impl UpdateFlags {
    /// The word `mapcmd::update` reads.
    pub fn word(self) -> &'static str {
        match self {
            UpdateFlags::Any => "any",
            UpdateFlags::Noexist => "noexist",
            UpdateFlags::Exist => "exist",
        }
    }
}

/// `map update`.
#[derive(Debug, Args)]
pub struct MapUpdateArgs {
    /// ID, id ID, name NAME, pinned PATH, or a bare name or path
    #[arg(value_name = "MAP", required = true, num_args = 1..)]
    pub map: Vec<String>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// The value, as text read by its type (or an integer)
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub value: Option<String>,
    /// The value as hex bytes
    #[arg(long, value_name = "HEX")]
    pub value_hex: Option<String>,
    /// any, noexist (create only) or exist (replace only)
    #[arg(long, value_name = "FLAGS", value_enum, default_value_t = UpdateFlags::Any, hide_possible_values = true)]
    pub flags: UpdateFlags,
}

/// `map delete`.
#[derive(Debug, Args)]
pub struct MapDeleteArgs {
    /// ID, id ID, name NAME, pinned PATH, or a bare name or path
    #[arg(value_name = "MAP", required = true, num_args = 1..)]
    pub map: Vec<String>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// `map pin`.
#[derive(Debug, Args)]
pub struct MapPinArgs {
    /// Id, pinned path or name
    #[arg(value_name = "MAP")]
    pub map: String,
    /// Where
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

/// The maps in the kernel.
#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// Every map in the kernel
    List(ListArgs),
    /// The definitions of the maps MAP names
    Show(MapSpecArgs),
    /// Every entry, typed by the map's BTF where it has one
    Dump(MapSpecArgs),
    /// One entry
    Lookup(MapLookupArgs),
    /// Set an entry
    Update(MapUpdateArgs),
    /// Remove an entry
    Delete(MapDeleteArgs),
    /// Pin the map in a bpffs
    Pin(MapPinArgs),
}

/// `net detach`.
#[derive(Debug, Args)]
pub struct NetDetachArgs {
    /// The interface
    #[arg(value_name = "IFACE")]
    pub iface: String,
    /// The XDP program
    #[arg(long)]
    pub xdp: bool,
    /// Its mode: auto, skb, drv or hw
    #[arg(long, value_name = "MODE", value_enum, default_value_t = XdpModeArg::Auto, hide_possible_values = true)]
    pub xdp_mode: XdpModeArg,
    /// A tc filter: `ingress` or `egress`
    #[arg(long, value_name = "DIRECTION")]
    pub tc: Option<String>,
    /// The tc filter's priority
    #[arg(long, value_name = "PRIORITY")]
    pub priority: Option<u16>,
    /// The tc filter's handle (hex)
    #[arg(long, value_name = "HANDLE")]
    pub handle: Option<String>,
    /// The clsact qdisc oxbpf added, when no filter is left on it
    #[arg(long)]
    pub clsact: bool,
}

/// The network namespace's attachments.
#[derive(Debug, Subcommand)]
pub enum NetCommand {
    /// Every XDP program and tc filter on the interfaces, with how to remove it
    List(ListArgs),
    /// Remove an XDP program, a tc filter or an empty clsact qdisc oxbpf added from an
    /// interface (what a killed process left behind, say)
    Detach(NetDetachArgs),
}

/// Code generation.
#[derive(Debug, Subcommand)]
pub enum GenCommand {
    /// Write a Rust skeleton of the object to stdout (as `bpftool gen skeleton` writes a
    /// C one): its types with layout assertions, its global variables as typed fields,
    /// its maps and programs by name, the object embedded with include_bytes!. Use it
    /// with the `oxbpf` crate: `include!("NAME_skel.rs")`
    Skeleton {
        /// The BPF object (`*.bpf.o`)
        #[arg(value_name = "OBJECT")]
        object: PathBuf,
        /// The module's name [default: the file name up to its first `.`]
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The path include_bytes! embeds, relative to the generated file [default:
        /// OBJECT as given]
        #[arg(long, value_name = "PATH")]
        embed: Option<String>,
        /// Also generate this struct, union or enum, though no global variable or map uses
        /// it (a ring buffer's record type)
        #[arg(long = "type", value_name = "NAME")]
        types: Vec<String>,
    },
}

/// oxbpf's tracefs probe events.
#[derive(Debug, Subcommand)]
pub enum ProbesCommand {
    /// Every probe event of oxbpf's, and whether its process is still running
    List(ListArgs),
    /// Remove the events whose process is gone
    Clean,
}

/// `link OUT IN...`, or the bpf_links in the kernel.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LinkArgs {
    #[command(subcommand)]
    pub command: Option<LinkCommand>,
    /// The object to write (`*.bpf.o`)
    #[arg(value_name = "OUT", required = true)]
    pub out: Option<PathBuf>,
    /// The objects to link, in order (`*.bpf.o`); a global symbol takes the first strong
    /// definition, externs resolve across them
    #[arg(value_name = "IN", required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
}

/// The bpf_links in the kernel.
#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Every one in the kernel
    List(ListArgs),
    /// One, by kernel id
    Show {
        /// The id (from `list`, or printed by `load`)
        #[arg(value_name = "ID")]
        id: u32,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Detach a link's program at once (BPF_LINK_DETACH), whoever holds the link: what
    /// `net list` offers for XDP and TCX links
    Detach {
        /// The link's id (from `link list` or `net list`)
        #[arg(value_name = "ID")]
        id: u32,
    },
}

/// BTF.
#[derive(Debug, Subcommand)]
pub enum BtfCommand {
    /// Print BTF: every type (`raw`, like bpftool) or a C header (`c`, a vmlinux.h)
    Dump {
        /// `vmlinux` for the running kernel, a file of raw BTF, an object with `.BTF`, or
        /// a module's `/sys/kernel/btf/<module>`
        #[arg(value_name = "SOURCE")]
        source: String,
        /// Output format: raw or c
        #[arg(long, value_name = "FORMAT", value_enum, default_value_t = BtfFormat::Raw, hide_possible_values = true)]
        format: BtfFormat,
        /// The raw listing as JSON (bpftool btf dump -j)
        #[arg(long)]
        json: bool,
    },
}

/// `btf dump --format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BtfFormat {
    /// Every type, as bpftool lists them
    Raw,
    /// A C header
    C,
}

/// `check OBJECT`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The object file (`*.bpf.o`)
    #[arg(value_name = "OBJECT")]
    pub object: PathBuf,
    /// A target BTF: raw BTF, an ELF with `.BTF`, or `vmlinux` (the running kernel, the
    /// default). Repeat for several kernels
    #[arg(long, value_name = "PATH")]
    pub btf: Vec<String>,
    /// Print JSON for tools instead of text for people
    #[arg(long)]
    pub json: bool,
}

/// `--duration`'s value, through [`seconds`].
fn parse_seconds(s: &str) -> Result<Duration, String> {
    seconds(s).ok_or_else(|| "expected seconds, such as 2 or 1.5".to_string())
}

/// Seconds as the command line and the kernel write them (`2`, `1.5`, `2526.862482`):
/// digits, then optionally a point and more digits (nanoseconds at most). Read by hand
/// because `f64::from_str` and its tables cost 15 KiB of the static binary.
pub fn seconds(s: &str) -> Option<Duration> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if (whole.is_empty() && frac.is_empty())
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    // ASCII digits only, so any byte index is a char boundary.
    let digits = frac.get(..9).unwrap_or(frac);
    let mut nanos: u32 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    for _ in digits.len()..9 {
        nanos *= 10;
    }
    Some(Duration::new(secs, nanos))
}

/// `d` as [`seconds`] reads it, as short as it goes: `1`, `1.5`, `0.25`.
pub fn seconds_text(d: Duration) -> String {
    let mut s = d.as_secs().to_string();
    if d.subsec_nanos() > 0 {
        let frac = format!("{:09}", d.subsec_nanos());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s
}

/// A completion script for `shell`, made by walking the same clap declaration the parser
/// uses, so it never drifts from what is accepted: subcommands where a group expects
/// one, a command's options after it, file names otherwise. zsh uses the bash script
/// through `bashcompinit`. (clap_complete writes richer scripts but costs 86 KiB of the
/// static binary, which issue 20's size goal has no room for.)
pub fn completions(shell: Shell) -> String {
    use clap::CommandFactory;
    let mut root = Cli::command();
    root.build();
    let mut all = Vec::new();
    walk(&root, &mut Vec::new(), &mut all);
    // Longest paths first, so `map dump` is matched before `map`.
    all.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let bash = || {
        let mut cases = String::new();
        for (path, cmd) in &all {
            let mut words: Vec<String> =
                subcommands(cmd).map(|c| c.get_name().to_string()).collect();
            words.extend(options(cmd).map(|o| format!("--{}", o.get_long().unwrap_or_default())));
            // A group matches only itself; a command with positional arguments also
            // matches the words after it.
            let pattern = match (path.is_empty(), cmd.get_positionals().next().is_none()) {
                (true, _) => "\"\"".to_string(),
                (false, true) => format!("\"{path}\""),
                (false, false) => format!("\"{path}\"|\"{path} \"*"),
            };
            cases.push_str(&format!(
                "        {pattern}) opts=\"{}\" ;;\n",
                words.join(" ")
            ));
        }
        format!(
            "# bash completion for oxbpf (oxbpf completions bash)\n\
             _oxbpf() {{\n\
             \x20   local cur=\"${{COMP_WORDS[COMP_CWORD]}}\" path=\"\" opts=\"\" w\n\
             \x20   for w in \"${{COMP_WORDS[@]:1:COMP_CWORD-1}}\"; do\n\
             \x20       case \"$w\" in -*) ;; *) path=\"${{path:+$path }}$w\" ;; esac\n\
             \x20   done\n\
             \x20   case \"$path\" in\n{cases}\x20   esac\n\
             \x20   COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n\
             \x20   if [ ${{#COMPREPLY[@]}} -eq 0 ]; then COMPREPLY=($(compgen -f -- \"$cur\")); fi\n\
             }}\n\
             complete -F _oxbpf oxbpf\n"
        )
    };
    match shell {
        Shell::Bash => bash(),
        Shell::Zsh => format!(
            "# zsh completion for oxbpf (oxbpf completions zsh), through bash's\n\
             autoload -U +X bashcompinit && bashcompinit\n{}",
            bash()
        ),
        Shell::Fish => {
            let mut out = String::from(
                "# fish completion for oxbpf (oxbpf completions fish)\n\
                 function __oxbpf_path\n\
                 \x20   set -l words (commandline -opc)\n\
                 \x20   set -e words[1]\n\
                 \x20   string join ' ' -- (string match -v -- '-*' $words)\n\
                 end\n\
                 complete -c oxbpf -f\n",
            );
            for (path, cmd) in &all {
                let cond = if cmd.get_positionals().next().is_none() {
                    format!("test (__oxbpf_path) = '{path}'")
                } else {
                    format!("string match -q -- '{path}*' (__oxbpf_path)")
                };
                for sub in subcommands(cmd) {
                    out.push_str(&format!(
                        "complete -c oxbpf -n \"test (__oxbpf_path) = '{path}'\" -a {} -d '{}'\n",
                        sub.get_name(),
                        first_sentence(&sub.get_about().map(|a| a.to_string()).unwrap_or_default())
                            .replace('\'', "\\'")
                    ));
                }
                if !path.is_empty() {
                    for o in options(cmd) {
                        out.push_str(&format!(
                            "complete -c oxbpf -n \"{cond}\" -l {}{} -d '{}'\n",
                            o.get_long().unwrap_or_default(),
                            if o.get_action().takes_values() {
                                " -r -F"
                            } else {
                                ""
                            },
                            first_sentence(
                                &o.get_help().map(|h| h.to_string()).unwrap_or_default()
                            )
                            .replace('\'', "\\'")
                        ));
                    }
                    if cmd.get_positionals().next().is_some() {
                        out.push_str(&format!("complete -c oxbpf -n \"{cond}\" -F\n"));
                    }
                }
            }
            out
        }
    }
}

/// Every command path under `cmd` (`"map dump"`), with its command, depth first.
fn walk<'a>(
    cmd: &'a clap::Command,
    path: &mut Vec<&'a str>,
    out: &mut Vec<(String, &'a clap::Command)>,
) {
    out.push((path.join(" "), cmd));
    for sub in subcommands(cmd) {
        path.push(sub.get_name());
        walk(sub, path, out);
        path.pop();
    }
}

/// `cmd`'s subcommands but clap's own `help`.
fn subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|c| c.get_name() != "help")
}

/// `cmd`'s options with a long name (`--help`, `--verbose` and `--version` included).
fn options(cmd: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    cmd.get_arguments().filter(|a| a.get_long().is_some())
}

/// The first sentence of a help text, for one-line descriptions.
fn first_sentence(text: &str) -> &str {
    text.split([':', '(', '['])
        .next()
        .unwrap_or(text)
        .trim_end_matches(['.', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("oxbpf").chain(args.iter().copied()))
    }

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_take_values_in_either_form_and_verbose_goes_anywhere() {
        let a = parse(&[
            "load",
            "x.o",
            "--set",
            "a=1",
            "--set=b=2",
            "-vv",
            "--log-level",
            "2",
            "--json",
        ])
        .unwrap();
        assert_eq!(a.verbose, 2);
        // Before the command too (clap counts a global flag where it is given last).
        assert_eq!(parse(&["-v", "inspect", "x.o"]).unwrap().verbose, 1);
        let Command::Load(l) = &a.command else {
            panic!("{a:?}")
        };
        assert_eq!(l.object, PathBuf::from("x.o"));
        assert_eq!(l.set, ["a=1", "b=2"]);
        assert_eq!(l.log_level, 2);
        assert!(l.json && a.json());
        assert!(!l.keep_going);
        let a = parse(&["extract", "-oout", "prog"]).unwrap();
        assert!(
            matches!(a.command, Command::Extract { ref out, .. } if out == std::path::Path::new("out"))
        );
        let a = parse(&["extract", "prog"]).unwrap();
        assert!(
            matches!(a.command, Command::Extract { ref out, .. } if out == std::path::Path::new("."))
        );
        let a = parse(&["inspect", "--", "-odd.o"]).unwrap();
        assert!(
            matches!(a.command, Command::Inspect(ref i) if i.object == std::path::Path::new("-odd.o"))
        );
    }

    #[test]
    fn mistakes_are_usage_errors_with_status_2_and_suggestions() {
        let e = parse(&["load", "--foo", "x.o"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownArgument);
        assert_eq!(e.exit_code(), 2);
        let e = parse(&["lod", "x.o"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSubcommand);
        assert!(e.to_string().contains("'load'"), "{e}");
        let e = parse(&["load", "x.o", "--keep-goin"]).unwrap_err();
        assert!(e.to_string().contains("--keep-going"), "{e}");
        let e = parse(&["run", "x.o", "--duration", "soon"]).unwrap_err();
        assert!(e.to_string().contains("expected seconds"), "{e}");
        let e = parse(&["run", "x.o", "--xdp-mode", "fast"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        let e = parse(&["load"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
        // A group without its command prints its help on stderr, status 2.
        let e = parse(&["map"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn seconds_read_and_print_like_decimal_numbers() {
        let ms = Duration::from_millis;
        assert_eq!(seconds("2"), Some(ms(2000)));
        assert_eq!(seconds("1.5"), Some(ms(1500)));
        assert_eq!(seconds(".25"), Some(ms(250)));
        assert_eq!(seconds("3."), Some(ms(3000)));
        assert_eq!(
            seconds("2526.862482"),
            Some(Duration::new(2526, 862_482_000))
        );
        assert_eq!(seconds("0.0000000019"), Some(Duration::new(0, 1)));
        for bad in ["", ".", "-1", "1e3", "1.2.3", " 1", "x"] {
            assert_eq!(seconds(bad), None, "{bad:?}");
        }
        for s in ["0", "1", "1.5", "0.25", "2526.862482"] {
            assert_eq!(seconds_text(seconds(s).unwrap()), s);
        }
    }

    #[test]
    fn help_and_version() {
        let e = parse(&["help", "map", "dump"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        assert!(e.to_string().contains("Usage: oxbpf map dump"), "{e}");
        assert_eq!(
            parse(&["--version"]).unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
        assert_eq!(
            parse(&["-V"]).unwrap_err().kind(),
            ErrorKind::DisplayVersion
        );
    }

    #[test]
    fn link_takes_an_output_and_inputs_beside_its_list_and_show_subcommands() {
        let a = parse(&["link", "out.o", "a.o", "b.o", "-v"]).unwrap();
        let Command::Link(l) = &a.command else {
            panic!("{a:?}")
        };
        assert!(l.command.is_none());
        assert_eq!(l.out, Some(PathBuf::from("out.o")));
        assert_eq!(l.inputs, [PathBuf::from("a.o"), PathBuf::from("b.o")]);
        assert_eq!(a.verbose, 1);
        let a = parse(&["link", "show", "7", "--json"]).unwrap();
        assert!(matches!(
            a.command,
            Command::Link(LinkArgs {
                command: Some(LinkCommand::Show { id: 7, json: true }),
                ..
            })
        ));
        let a = parse(&["link", "list"]).unwrap();
        assert!(matches!(
            a.command,
            Command::Link(LinkArgs {
                command: Some(LinkCommand::List(_)),
                ..
            })
        ));
        assert!(parse(&["link", "out.o"]).is_err(), "no inputs");
    }

    #[test]
    fn values_may_be_negative_or_empty_where_they_mean_something() {
        let a = parse(&["map", "update", "counts", "--key", "-1", "--value", "-5"]).unwrap();
        let Command::Map(MapCommand::Update(u)) = &a.command else {
            panic!("{a:?}")
        };
        assert_eq!(
            (u.key.key.as_deref(), u.value.as_deref()),
            (Some("-1"), Some("-5"))
        );
        // `--token ''`: no token.
        let a = parse(&["load", "x.o", "--token", ""]).unwrap();
        let Command::Load(l) = &a.command else {
            panic!("{a:?}")
        };
        assert_eq!(l.token.as_deref(), Some(std::ffi::OsStr::new("")));
    }

    #[test]
    fn lookups_take_bpftool_words() {
        let a = parse(&["map", "dump", "name", "counts", "--json"]).unwrap();
        let Command::Map(MapCommand::Dump(d)) = &a.command else {
            panic!("{a:?}")
        };
        assert_eq!(d.spec, ["name", "counts"]);
        assert!(d.json);
        let a = parse(&["prog", "show", "tag", "abcd"]).unwrap();
        assert!(
            matches!(a.command, Command::Prog(ProgCommand::Show(ref s)) if s.spec == ["tag", "abcd"])
        );
    }

    #[test]
    fn completions_are_generated_for_every_shell() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = completions(shell);
            assert!(script.contains("oxbpf"), "{shell:?}");
            assert!(script.contains("skeleton"), "{shell:?}: nested commands");
        }
    }
}
