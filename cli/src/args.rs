//! The command line, read by hand from one table (the "low arguments").
//!
//! [`COMMANDS`] names every command with its arguments, options and help text; [`parse`]
//! walks `argv` against it and [`help`] prints from it, so what is accepted and what
//! `--help` says cannot drift apart. Parsing only checks what the user typed (known
//! options, values present, positional arguments counted); values are read into types by
//! [`Args`]' accessors when a command builds its own arguments, before it does anything.
//!
//! The conventions are the usual ones: `--opt VALUE` or `--opt=VALUE`, `-o VALUE` or
//! `-oVALUE`, flags after or between positional arguments, `--` to end options, `-v`
//! (repeatable, `-vv`) anywhere, `-h`/`--help` and `help [COMMAND]` at every level, and
//! `-V`/`--version`. Usage errors exit with status 2 and name the command's `--help`.
//!
//! oxbpf used clap (derive) until the static binary had to fit in 1200 KiB: clap took
//! about 210 KiB of it, this file and its table about 20.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// One option of a command.
pub struct Opt {
    /// Its name after `--`.
    long: &'static str,
    /// Its one-letter form, if any.
    short: Option<char>,
    /// The name of its value in help (`PATH`); empty for a flag.
    value: &'static str,
    /// Whether it may be given more than once (the values are kept in order).
    many: bool,
    help: &'static str,
}

const fn flag(long: &'static str, help: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value: "",
        many: false,
        help,
    }
}

const fn one(long: &'static str, value: &'static str, help: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value,
        many: false,
        help,
    }
}

const fn many(long: &'static str, value: &'static str, help: &'static str) -> Opt {
    Opt {
        long,
        short: None,
        value,
        many: true,
        help,
    }
}

/// A command: either a group of subcommands or one that runs, with positional
/// arguments (all required, in order) and options.
pub struct Cmd {
    name: &'static str,
    about: &'static str,
    /// `(NAME, help)`: the positional arguments.
    args: &'static [(&'static str, &'static str)],
    /// Option lists (commands share some: `run` takes all of `load`'s).
    opts: &'static [&'static [Opt]],
    /// The last positional argument takes one value or more (`IN...`).
    variadic: bool,
    /// Subcommands. A command may have both: a first word that names none of them is
    /// then its first positional argument (`oxbpf link OUT IN...` beside
    /// `oxbpf link list`).
    subs: &'static [Cmd],
}

const fn leaf(
    name: &'static str,
    about: &'static str,
    args: &'static [(&'static str, &'static str)],
    opts: &'static [&'static [Opt]],
) -> Cmd {
    Cmd {
        name,
        about,
        args,
        opts,
        variadic: false,
        subs: &[],
    }
}

/// A leaf whose last positional argument takes one value or more (`MAP...`: `id 7`,
/// `name counts`, as bpftool takes them).
const fn leaf_words(
    name: &'static str,
    about: &'static str,
    args: &'static [(&'static str, &'static str)],
    opts: &'static [&'static [Opt]],
) -> Cmd {
    let mut cmd = leaf(name, about, args, opts);
    cmd.variadic = true;
    cmd
}

const fn group(name: &'static str, about: &'static str, subs: &'static [Cmd]) -> Cmd {
    Cmd {
        name,
        about,
        args: &[],
        opts: &[],
        variadic: false,
        subs,
    }
}

/// A group whose first word may instead start its own positional arguments, the last
/// of which takes one value or more.
const fn group_with_args(
    name: &'static str,
    about: &'static str,
    args: &'static [(&'static str, &'static str)],
    subs: &'static [Cmd],
) -> Cmd {
    Cmd {
        name,
        about,
        args,
        opts: &[],
        variadic: true,
        subs,
    }
}

const VERBOSE_HELP: &str = "Say more on stderr: -v what each stage did, -vv every system call";
const JSON: &[Opt] = &[flag(
    "json",
    "Print JSON for tools instead of text for people",
)];
const JSON_SHORT: &[Opt] = &[flag("json", "Print JSON")];
const OBJECT: &[(&str, &str)] = &[("OBJECT", "The object file (`*.bpf.o`)")];
const MAP: (&str, &str) = (
    "MAP",
    "ID, id ID, name NAME, pinned PATH, or a bare name or path (several maps of one name \
     are listed, not guessed among)",
);
const MAP_PIN: (&str, &str) = ("MAP", "Id, pinned path or name");

/// `load`'s options, which `run` and `attach` take too.
const LOAD_OPTS: &[Opt] = &[
    one(
        "btf",
        "PATH",
        "Target BTF for CO-RE instead of the running kernel's: raw BTF (e.g. from btfhub) \
         or an ELF with `.BTF`",
    ),
    one(
        "token",
        "PATH",
        "Load with a BPF token from the bpffs at PATH, mounted with delegate_* options: \
         how a process in a user namespace loads (default: $LIBBPF_BPF_TOKEN_PATH, else \
         /sys/fs/bpf when it delegates; an empty PATH: none)",
    ),
    one(
        "pin-maps",
        "DIR",
        "Pin every map under DIR (a bpffs); `LIBBPF_PIN_BY_NAME` maps are pinned and \
         reused there instead of under /sys/fs/bpf",
    ),
    one(
        "pin",
        "DIR",
        "Pin every program under DIR (a bpffs), so it stays loaded after oxbpf exits",
    ),
    many(
        "set",
        "VAR=VALUE",
        "Set a global variable before load, typically a `const volatile` setting in \
         `.rodata`: an integer, bool, enumerator name or string, by its BTF type",
    ),
    many("max-entries", "MAP=N", "Set a map's max_entries"),
    many(
        "skip-map",
        "MAP",
        "Do not create MAP (a map type this kernel lacks); loads of it are poisoned, so \
         only a program that reaches one fails, naming the map",
    ),
    many(
        "value-size",
        "MAP=N",
        "Set a map's value size (e.g. stack-trace maps an object leaves at 0)",
    ),
    many(
        "type",
        "PROG=TYPE",
        "Give a program a type, for a section name no SEC() pattern knows",
    ),
    many(
        "only",
        "PROG",
        "Load only this program (repeat for several); `?`-sections load only when named",
    ),
    flag(
        "keep-going",
        "Load every program that can load and report each one that cannot",
    ),
    one(
        "log-level",
        "LEVEL",
        "Print the verifier log of each program that loads (1: basic, 2: every \
         instruction). Failures always print theirs [default: 0]",
    ),
    flag("json", "Print JSON for tools instead of text for people"),
];

const XDP_MODES: &[&str] = &["auto", "skb", "drv", "hw"];

/// Where `run`, `attach` and `explain --attach` attach what the section cannot say.
const ATTACH_OPTS: &[Opt] = &[
    one(
        "iface",
        "IF",
        "Interface for XDP, tc and socket filter programs",
    ),
    one(
        "xdp-mode",
        "MODE",
        "XDP mode: auto (the kernel's choice, driver when supported), skb (generic XDP), \
         drv (driver XDP) or hw (offloaded) [default: auto]",
    ),
    flag(
        "netlink",
        "Attach XDP and tc over netlink (as ip and tc do) instead of bpf_links",
    ),
    one(
        "cgroup",
        "PATH",
        "cgroup (v2 directory) for cgroup programs",
    ),
];

/// What `run` and `attach` take besides `load`'s and the attach options.
const RUN_OPTS: &[Opt] = &[
    one(
        "duration",
        "SECS",
        "Stop after this many seconds instead of waiting for Ctrl-C",
    ),
    many(
        "event-type",
        "[MAP=]STRUCT",
        "Print ring/perf buffer records as this struct of the object's BTF (for every \
         such map, or `MAP=STRUCT` for one). Without it, a single struct named `event` or \
         `*_event` is used; records shorter than the struct stay in hex",
    ),
];

const KEY_OPTS: &[Opt] = &[
    one(
        "key",
        "KEY",
        "The key, as text read by its type (or an integer)",
    ),
    one("key-hex", "HEX", "The key as hex bytes"),
];

/// `list`, for programs and links in the kernel.
const LIST: Cmd = leaf("list", "Every one in the kernel", &[], &[JSON_SHORT]);
/// `show ID`, for programs and links in the kernel.
const SHOW: Cmd = leaf(
    "show",
    "One, by kernel id",
    &[("ID", "The id (from `list`, or printed by `load`)")],
    &[JSON_SHORT],
);
/// `list` or `show PROG...`, for programs in the kernel.
const KERNEL_OBJECTS: &[Cmd] = &[
    LIST,
    leaf_words(
        "show",
        "The programs PROG names",
        &[(
            "PROG",
            "ID, id ID, name NAME, tag TAG, pinned PATH, or a bare name or path (every \
             program of that name or tag is shown)",
        )],
        &[JSON_SHORT],
    ),
];

/// The link group's commands: those of every kernel object, and `detach`.
const LINK_COMMANDS: &[Cmd] = &[
    LIST,
    SHOW,
    leaf(
        "detach",
        "Detach a link's program at once (BPF_LINK_DETACH), whoever holds the link: \
         what `net list` offers for XDP and TCX links",
        &[("ID", "The link's id (from `link list` or `net list`)")],
        &[],
    ),
];

/// Every command, under `oxbpf`.
pub const COMMANDS: Cmd = group(
    "oxbpf",
    "Load, inspect and explain eBPF objects without libbpf: one static binary",
    &[
        leaf(
            "inspect",
            "Show what a BPF object contains: programs, maps, global data, externs and \
             relocations. Reads the file only; needs no privileges",
            OBJECT,
            &[JSON],
        ),
        leaf(
            "disasm",
            "Every function's instructions in the verifier's syntax, with source lines, \
             helper names, and what each relocation (maps, globals, calls, externs, kfuncs) \
             and CO-RE record does there. Reads the file only; needs no privileges",
            OBJECT,
            &[
                &[one("prog", "NAME", "Only this program or subprogram")],
                JSON,
            ],
        ),
        leaf(
            "explain",
            "Walk through loading an object, stage by stage: ELF, BTF, each CO-RE \
             relocation (before → after), the other relocations, every bpf() call with its \
             answer, and the verifier's verdict. `--dry-run` stops before the kernel (no \
             privileges)",
            OBJECT,
            &[
                &[
                    one("prog", "NAME", "Only this program (and what it uses)"),
                    flag(
                        "dry-run",
                        "Do everything but the kernel calls (no privileges needed): show what \
                     would be sent",
                    ),
                    one(
                        "btf",
                        "PATH",
                        "Resolve CO-RE against this BTF instead of the running kernel's",
                    ),
                    many(
                        "skip-map",
                        "MAP",
                        "Do not create MAP (a map type this kernel lacks); loads of it are \
                         poisoned, so only a program that reaches one fails, naming the map",
                    ),
                    one(
                        "log-level",
                        "LEVEL",
                        "Verifier log detail: 1 its verdict and statistics, 2 every \
                     instruction it checked with the register state, source lines \
                     interleaved [default: 1]",
                    ),
                    flag(
                        "attach",
                        "After the load, attach each program (as `run` does) and detach it \
                     again, recording those calls too: perf_event_open, ioctls, \
                     setsockopt, netlink",
                    ),
                    flag("json", "Print JSON for tools instead of text for people"),
                ],
                ATTACH_OPTS,
            ],
        ),
        leaf(
            "demo",
            "Load a built-in example into the kernel, run it, and say what each stage did. \
             Needs root",
            &[],
            &[],
        ),
        leaf(
            "completions",
            "Print a shell completion script: `oxbpf completions bash > \
             /etc/bash_completion.d/oxbpf`, `source <(oxbpf completions zsh)`, \
             `oxbpf completions fish > ~/.config/fish/completions/oxbpf.fish`",
            &[("SHELL", "bash, zsh or fish")],
            &[],
        ),
        leaf(
            "load",
            "Load an object into the kernel: maps, global data, externs, CO-RE, programs. \
             Prints each program's and map's kernel id. Needs CAP_BPF (root)",
            OBJECT,
            &[LOAD_OPTS],
        ),
        leaf(
            "run",
            "Load an object, attach every program that can be, print what they report \
             (ring buffers, bpf_printk) until Ctrl-C, then detach everything and show the \
             maps",
            OBJECT,
            &[LOAD_OPTS, ATTACH_OPTS, RUN_OPTS],
        ),
        leaf(
            "attach",
            "Load and attach like `run`, then pin each link (and the programs and maps) in \
             a bpffs directory (`--pin DIR`), so they stay attached after oxbpf exits",
            OBJECT,
            &[LOAD_OPTS, ATTACH_OPTS, RUN_OPTS],
        ),
        leaf(
            "detach",
            "Detach and unpin everything `attach` pinned in DIR",
            &[("DIR", "The directory given to `attach --pin`")],
            &[],
        ),
        group(
            "prog",
            "Programs loaded in the kernel (like `bpftool prog`). Needs CAP_SYS_ADMIN",
            KERNEL_OBJECTS,
        ),
        group(
            "map",
            "Maps in the kernel (like `bpftool map`): list, show, dump, lookup, update, \
             delete, pin. MAP is a kernel id, a pinned path or a map name (several maps \
             of one name are listed, not guessed among). Needs CAP_SYS_ADMIN",
            &[
                leaf("list", "Every map in the kernel", &[], &[JSON_SHORT]),
                leaf_words(
                    "show",
                    "The definitions of the maps MAP names",
                    &[MAP],
                    &[JSON_SHORT],
                ),
                leaf_words(
                    "dump",
                    "Every entry, typed by the map's BTF where it has one",
                    &[MAP],
                    &[JSON_SHORT],
                ),
                leaf_words("lookup", "One entry", &[MAP], &[KEY_OPTS, JSON_SHORT]),
                leaf_words(
                    "update",
                    "Set an entry",
                    &[MAP],
                    &[
                        KEY_OPTS,
                        &[
                            one(
                                "value",
                                "VALUE",
                                "The value, as text read by its type (or an integer)",
                            ),
                            one("value-hex", "HEX", "The value as hex bytes"),
                            one(
                                "flags",
                                "FLAGS",
                                "any, noexist (create only) or exist (replace only) \
                                 [default: any]",
                            ),
                        ],
                    ],
                ),
                leaf_words("delete", "Remove an entry", &[MAP], &[KEY_OPTS]),
                leaf(
                    "pin",
                    "Pin the map in a bpffs",
                    &[MAP_PIN, ("PATH", "Where")],
                    &[],
                ),
            ],
        ),
        leaf(
            "extract",
            "Write out the BPF objects a program embeds (libbpf skeletons), as `.bpf.o` \
             files. `inspect`, `load` and `check` also take such a program directly when it \
             embeds one object",
            &[("FILE", "The program (e.g. a libbpf-tools binary)")],
            &[&[Opt {
                long: "out",
                short: Some('o'),
                value: "DIR",
                many: false,
                help: "Where to write the objects [default: .]",
            }]],
        ),
        group(
            "net",
            "BPF programs attached to this network namespace's interfaces (XDP, tc), like \
             `bpftool net`: list them, with the command that removes each, or remove one",
            &[
                leaf(
                    "list",
                    "Every XDP program and tc filter on the interfaces, with how to remove it",
                    &[],
                    &[JSON_SHORT],
                ),
                leaf(
                    "detach",
                    "Remove an XDP program, a tc filter or an empty clsact qdisc oxbpf added \
                     from an interface (what a killed process left behind, say)",
                    &[("IFACE", "The interface")],
                    &[&[
                        flag("xdp", "The XDP program"),
                        one(
                            "xdp-mode",
                            "MODE",
                            "Its mode: auto, skb, drv or hw [default: auto]",
                        ),
                        one("tc", "DIRECTION", "A tc filter: `ingress` or `egress`"),
                        one("priority", "PRIORITY", "The tc filter's priority"),
                        one("handle", "HANDLE", "The tc filter's handle (hex)"),
                        flag(
                            "clsact",
                            "The clsact qdisc oxbpf added, when no filter is left on it",
                        ),
                    ]],
                ),
            ],
        ),
        group(
            "gen",
            "Generate code from a BPF object",
            &[leaf(
                "skeleton",
                "Write a Rust skeleton of the object to stdout (as `bpftool gen skeleton` \
                 writes a C one): its types with layout assertions, its global variables \
                 as typed fields, its maps and programs by name, the object embedded with \
                 include_bytes!. Use it with the `oxbpf` crate: `include!(\"NAME_skel.rs\")`",
                &[("OBJECT", "The BPF object (`*.bpf.o`)")],
                &[&[
                    one(
                        "name",
                        "NAME",
                        "The module's name [default: the file name up to its first `.`]",
                    ),
                    one(
                        "embed",
                        "PATH",
                        "The path include_bytes! embeds, relative to the generated file \
                         [default: OBJECT as given]",
                    ),
                    many(
                        "type",
                        "NAME",
                        "Also generate this struct, union or enum, though no global \
                         variable or map uses it (a ring buffer's record type)",
                    ),
                ]],
            )],
        ),
        group(
            "probes",
            "kprobe and uprobe events oxbpf created through tracefs: list them, or remove \
             those a killed process left behind",
            &[
                leaf(
                    "list",
                    "Every probe event of oxbpf's, and whether its process is still running",
                    &[],
                    &[JSON_SHORT],
                ),
                leaf("clean", "Remove the events whose process is gone", &[], &[]),
            ],
        ),
        group_with_args(
            "link",
            "Link BPF objects into one, as `bpftool gen object` does (libbpf's static \
             linker): `oxbpf link OUT IN...`. With `list` or `show`: the bpf_links in the \
             kernel (like `bpftool link`; needs CAP_SYS_ADMIN)",
            &[
                ("OUT", "The object to write (`*.bpf.o`)"),
                (
                    "IN",
                    "The objects to link, in order (`*.bpf.o`); a global symbol takes the \
                     first strong definition, externs resolve across them",
                ),
            ],
            LINK_COMMANDS,
        ),
        group(
            "btf",
            "Work with BTF type information",
            &[leaf(
                "dump",
                "Print BTF: every type (`raw`, like bpftool) or a C header (`c`, a vmlinux.h)",
                &[(
                    "SOURCE",
                    "`vmlinux` for the running kernel, a file of raw BTF, an object with \
                     `.BTF`, or a module's `/sys/kernel/btf/<module>`",
                )],
                &[
                    &[one(
                        "format",
                        "FORMAT",
                        "Output format: raw or c [default: raw]",
                    )],
                    &[flag(
                        "json",
                        "The raw listing as JSON (bpftool btf dump -j)",
                    )],
                ],
            )],
        ),
        leaf(
            "check",
            "Resolve every CO-RE relocation of an object against other kernels' BTF, \
             without loading: a portability report. Exit status 0 only if all resolve \
             against all",
            OBJECT,
            &[&[
                many(
                    "btf",
                    "PATH",
                    "A target BTF: raw BTF, an ELF with `.BTF`, or `vmlinux` (the running \
                     kernel, the default). Repeat for several kernels",
                ),
                flag("json", "Print JSON for tools instead of text for people"),
            ]],
        ),
    ],
);

/// A mistake on the command line: printed as `oxbpf: MSG; see `PATH --help``, exit
/// status 2.
#[derive(Debug)]
pub struct UsageError {
    msg: String,
    /// The command, as typed so far (`oxbpf map dump`).
    path: String,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; see `{} --help`", self.msg, self.path)
    }
}

impl std::error::Error for UsageError {}

/// Why parsing ended without a command to run.
#[derive(Debug)]
pub enum Exit {
    /// `--help`: print this on stdout, exit 0.
    Help(String),
    /// `--version`.
    Version,
    /// A group without its subcommand (`oxbpf map`): print its help on stderr, exit 2.
    MissingCommand(String),
    /// Anything else wrong.
    Usage(UsageError),
}

/// A parsed command line.
#[derive(Debug)]
pub struct Args {
    /// The command's words after `oxbpf` (`["map", "dump"]`).
    pub words: Vec<&'static str>,
    /// How many times `-v` was given.
    pub verbose: u8,
    /// Each positional argument (by its NAME) and option (by its long name) given, in
    /// order, with its value (empty for a flag).
    given: Vec<(&'static str, OsString)>,
    path: String,
}

fn usage(msg: String, path: &str) -> Exit {
    Exit::Usage(UsageError {
        msg,
        path: path.to_owned(),
    })
}

/// Parses the arguments after the program's name.
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Args, Exit> {
    let mut cmd = &COMMANDS;
    let mut args = Args {
        words: Vec::new(),
        verbose: 0,
        given: Vec::new(),
        path: String::from("oxbpf"),
    };
    let mut argv = argv.into_iter();
    let mut options_ended = false;
    while let Some(token) = argv.next() {
        let text = token.to_str().unwrap_or("");
        if !options_ended && text.len() > 1 && text.starts_with('-') {
            if text == "--" {
                options_ended = true;
                continue;
            }
            let (found, inline) = if let Some(long) = text.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((name, value)) => (name, Some(OsString::from(value))),
                    None => (long, None),
                };
                let found = match name {
                    "help" => return Err(Exit::Help(help(cmd, &args.path))),
                    "version" if args.words.is_empty() => return Err(Exit::Version),
                    "verbose" if inline.is_none() => {
                        args.verbose = args.verbose.saturating_add(1);
                        continue;
                    }
                    "verbose" => None,
                    _ => cmd
                        .opts
                        .iter()
                        .flat_map(|o| o.iter())
                        .find(|o| o.long == name),
                };
                if (name == "verbose" || found.is_some_and(|o| o.value.is_empty()))
                    && inline.is_some()
                {
                    return Err(usage(
                        format!("option --{name} of `{}` takes no value", args.path),
                        &args.path,
                    ));
                }
                let Some(found) = found else {
                    let known = cmd
                        .opts
                        .iter()
                        .flat_map(|o| o.iter())
                        .map(|o| o.long)
                        .chain(["verbose", "help"]);
                    return Err(usage(
                        format!(
                            "unknown option --{name} for `{}`{}",
                            args.path,
                            did_you_mean(name, known, "--")
                        ),
                        &args.path,
                    ));
                };
                (found, inline)
            } else {
                // One or more short options: `-vv`, `-o DIR`, `-oDIR`.
                let mut found = None;
                for (i, c) in text.char_indices().skip(1) {
                    match c {
                        'h' => return Err(Exit::Help(help(cmd, &args.path))),
                        'V' if args.words.is_empty() => return Err(Exit::Version),
                        'v' => args.verbose = args.verbose.saturating_add(1),
                        _ => {
                            let Some(o) = cmd
                                .opts
                                .iter()
                                .flat_map(|o| o.iter())
                                .find(|o| o.short == Some(c))
                            else {
                                return Err(usage(
                                    format!("unknown option -{c} for `{}`", args.path),
                                    &args.path,
                                ));
                            };
                            let rest = &text[i + c.len_utf8()..];
                            let rest = rest.strip_prefix('=').unwrap_or(rest);
                            found = Some((o, (!rest.is_empty()).then(|| OsString::from(rest))));
                            break;
                        }
                    }
                }
                let Some(found) = found else { continue };
                found
            };
            let value = if found.value.is_empty() {
                OsString::new()
            } else if let Some(v) = inline.or_else(|| argv.next()) {
                v
            } else {
                return Err(usage(
                    format!(
                        "option --{} of `{}` needs a value: --{} <{}>",
                        found.long, args.path, found.long, found.value
                    ),
                    &args.path,
                ));
            };
            if !found.many
                && !found.value.is_empty()
                && args.given.iter().any(|(k, _)| *k == found.long)
            {
                return Err(usage(
                    format!("option --{} given twice to `{}`", found.long, args.path),
                    &args.path,
                ));
            }
            args.given.push((found.long, value));
        } else if !cmd.subs.is_empty() && !starts_positionals(cmd, text, &args) {
            if text == "help" {
                // `help [COMMAND...]`: the help of the command named.
                for word in argv.by_ref() {
                    let word = word.to_string_lossy().into_owned();
                    cmd = sub(cmd, &word, &mut args)?;
                }
                return Err(Exit::Help(help(cmd, &args.path)));
            }
            cmd = sub(cmd, &token.to_string_lossy(), &mut args)?;
        } else {
            let n = args.given.iter().filter(|(k, _)| is_positional(k)).count();
            let last = cmd.args.last().filter(|_| cmd.variadic);
            let Some((name, _)) = cmd.args.get(n).or(last) else {
                return Err(usage(
                    format!(
                        "unexpected argument `{}` for `{}`",
                        token.to_string_lossy(),
                        args.path
                    ),
                    &args.path,
                ));
            };
            args.given.push((name, token));
        }
    }
    let n = args.given.iter().filter(|(k, _)| is_positional(k)).count();
    if !cmd.subs.is_empty() && n == 0 {
        return Err(Exit::MissingCommand(help(cmd, &args.path)));
    }
    let n = args.given.iter().filter(|(k, _)| is_positional(k)).count();
    if let Some(missing) = cmd.args.get(n..).filter(|m| !m.is_empty()) {
        let names: Vec<String> = missing.iter().map(|(n, _)| format!("<{n}>")).collect();
        return Err(usage(
            format!("`{}` needs {}", args.path, names.join(" ")),
            &args.path,
        ));
    }
    Ok(args)
}

/// Every command path under `cmd` (`["map", "dump"]`), with its command, depth first.
fn walk(cmd: &'static Cmd, path: &mut Vec<&'static str>, out: &mut Vec<(String, &'static Cmd)>) {
    out.push((path.join(" "), cmd));
    for sub in cmd.subs {
        path.push(sub.name);
        walk(sub, path, out);
        path.pop();
    }
}

/// The options of `cmd` as `--long` words, with `--help` and `--verbose`.
fn option_words(cmd: &Cmd) -> Vec<String> {
    cmd.opts
        .iter()
        .flat_map(|o| o.iter())
        .map(|o| format!("--{}", o.long))
        .chain(["--help".to_string(), "--verbose".to_string()])
        .collect()
}

/// A completion script for `shell`, made from the command table, so it never drifts
/// from what the parser accepts: subcommands where a group expects one, a command's
/// options after it, file names otherwise. zsh uses the bash script through
/// `bashcompinit`.
pub fn completions(shell: &str) -> Result<String, UsageError> {
    let mut all = Vec::new();
    walk(&COMMANDS, &mut Vec::new(), &mut all);
    // Longest paths first, so `map dump` is matched before `map`.
    all.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let bash = || {
        let mut cases = String::new();
        for (path, cmd) in &all {
            let mut words: Vec<String> = cmd.subs.iter().map(|c| c.name.to_string()).collect();
            words.extend(option_words(cmd));
            // A group matches only itself; a command with positional arguments also
            // matches the words after it.
            let pattern = match (path.is_empty(), cmd.args.is_empty()) {
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
        "bash" => Ok(bash()),
        "zsh" => Ok(format!(
            "# zsh completion for oxbpf (oxbpf completions zsh), through bash's\n\
             autoload -U +X bashcompinit && bashcompinit\n{}",
            bash()
        )),
        "fish" => {
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
                let cond = if cmd.args.is_empty() {
                    format!("test (__oxbpf_path) = '{path}'")
                } else {
                    format!("string match -q -- '{path}*' (__oxbpf_path)")
                };
                for sub in cmd.subs {
                    out.push_str(&format!(
                        "complete -c oxbpf -n \"test (__oxbpf_path) = '{path}'\" -a {} -d '{}'\n",
                        sub.name,
                        first_sentence(sub.about).replace('\'', "\\'")
                    ));
                }
                if !path.is_empty() {
                    for o in cmd.opts.iter().flat_map(|o| o.iter()) {
                        out.push_str(&format!(
                            "complete -c oxbpf -n \"{cond}\" -l {}{} -d '{}'\n",
                            o.long,
                            if o.value.is_empty() { "" } else { " -r -F" },
                            first_sentence(o.help).replace('\'', "\\'")
                        ));
                    }
                    if !cmd.args.is_empty() {
                        out.push_str(&format!("complete -c oxbpf -n \"{cond}\" -F\n"));
                    }
                }
            }
            Ok(out)
        }
        other => Err(UsageError {
            msg: format!("no completions for `{other}`: bash, zsh or fish"),
            path: "oxbpf completions".into(),
        }),
    }
}

/// The first sentence of a help text, for one-line descriptions.
fn first_sentence(text: &str) -> &str {
    text.split([':', '(', '['])
        .next()
        .unwrap_or(text)
        .trim_end_matches(['.', ' '])
}

/// ` (did you mean `X`?)` for the known word closest to `typed` (edit distance at most a
/// third of its length, and at least 1), or nothing.
fn did_you_mean<'a>(typed: &str, known: impl Iterator<Item = &'a str>, prefix: &str) -> String {
    let limit = (typed.chars().count() / 3).max(1);
    known
        .map(|k| (edit_distance(typed, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map_or_else(String::new, |(_, k)| {
            format!(" (did you mean `{prefix}{k}`?)")
        })
}

/// Levenshtein distance (insertions, deletions, substitutions), with a swap of two
/// neighbours counted as one (`lod`/`lao`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Whether `word`, met where `cmd` expects a subcommand, is rather its first positional
/// argument: `cmd` takes some, and `word` names no subcommand (or positional arguments
/// have begun).
fn starts_positionals(cmd: &Cmd, word: &str, args: &Args) -> bool {
    !cmd.args.is_empty()
        && (args.given.iter().any(|(k, _)| is_positional(k))
            || (word != "help" && !cmd.subs.iter().any(|c| c.name == word)))
}

/// The subcommand `word` of `cmd`, added to `args`' path.
fn sub(cmd: &'static Cmd, word: &str, args: &mut Args) -> Result<&'static Cmd, Exit> {
    let Some(found) = cmd.subs.iter().find(|c| c.name == word) else {
        return Err(usage(
            format!(
                "unknown command `{word}` for `{}`{}",
                args.path,
                did_you_mean(word, cmd.subs.iter().map(|c| c.name), "")
            ),
            &args.path,
        ));
    };
    args.words.push(found.name);
    args.path.push(' ');
    args.path.push_str(found.name);
    Ok(found)
}

/// Positional arguments are keyed by their upper-case NAME, options by their long name.
fn is_positional(key: &str) -> bool {
    key.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
}

impl Args {
    fn error(&self, msg: String) -> UsageError {
        UsageError {
            msg,
            path: self.path.clone(),
        }
    }

    fn raw(&self, key: &str) -> impl Iterator<Item = &OsStr> {
        self.given
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, v)| v.as_os_str())
    }

    /// How `key` is written on the command line, for messages.
    fn shown(key: &str) -> String {
        if is_positional(key) {
            format!("<{key}>")
        } else {
            format!("--{key}")
        }
    }

    /// Whether the flag `--key` was given.
    pub fn flag(&self, key: &str) -> bool {
        self.raw(key).next().is_some()
    }

    /// The value of a path argument or option.
    pub fn path(&self, key: &str) -> Option<PathBuf> {
        self.raw(key).next().map(PathBuf::from)
    }

    /// Every value of a repeated positional argument (`IN...`), as paths.
    pub fn paths(&self, key: &str) -> Vec<PathBuf> {
        self.raw(key).map(PathBuf::from).collect()
    }

    /// The value of a required positional path argument.
    pub fn required_path(&self, key: &str) -> PathBuf {
        self.path(key).unwrap_or_default()
    }

    /// Every value of `key`, as text.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, UsageError> {
        self.raw(key)
            .map(|v| {
                v.to_str().map(str::to_owned).ok_or_else(|| {
                    self.error(format!(
                        "{} {}: not valid UTF-8",
                        Self::shown(key),
                        v.to_string_lossy()
                    ))
                })
            })
            .collect()
    }

    /// The value of `key`, as text.
    pub fn string(&self, key: &str) -> Result<Option<String>, UsageError> {
        Ok(self.strings(key)?.pop())
    }

    /// The value of a required positional argument, as text.
    pub fn required_string(&self, key: &str) -> Result<String, UsageError> {
        Ok(self.string(key)?.unwrap_or_default())
    }

    /// The value of `key`, as a number.
    pub fn number<T: FromStr>(&self, key: &str) -> Result<Option<T>, UsageError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        s.parse().map(Some).map_err(|_| {
            self.error(format!(
                "invalid value `{s}` for {}: expected a number",
                Self::shown(key)
            ))
        })
    }

    /// The value of `key`, a number of seconds (see [`seconds`]).
    pub fn duration(&self, key: &str) -> Result<Option<Duration>, UsageError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        match seconds(&s) {
            Some(d) => Ok(Some(d)),
            None => Err(self.error(format!(
                "invalid value `{s}` for {}: expected seconds, such as 2 or 1.5",
                Self::shown(key)
            ))),
        }
    }

    /// The value of `key` as an index into `choices` (`None` if not given).
    pub fn choice(&self, key: &str, choices: &[&str]) -> Result<Option<usize>, UsageError> {
        let Some(s) = self.string(key)? else {
            return Ok(None);
        };
        match choices.iter().position(|c| *c == s) {
            Some(i) => Ok(Some(i)),
            None => Err(self.error(format!(
                "invalid value `{s}` for {}: expected {}",
                Self::shown(key),
                choices.join(", ")
            ))),
        }
    }

    /// `--xdp-mode`.
    pub fn xdp_mode(&self) -> Result<oxbpf_prog::XdpMode, UsageError> {
        use oxbpf_prog::XdpMode;
        Ok(
            match self.choice("xdp-mode", XDP_MODES)?.unwrap_or_default() {
                1 => XdpMode::Skb,
                2 => XdpMode::Drv,
                3 => XdpMode::Hw,
                _ => XdpMode::Auto,
            },
        )
    }
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

/// Appends `text` to `out`, wrapped at 80 columns, each line after the first indented
/// by `indent` (the first continues from column `col`).
fn wrap(out: &mut String, text: &str, mut col: usize, indent: usize) {
    let mut first = true;
    for word in text.split_whitespace() {
        let width = word.chars().count();
        if !first && col + 1 + width > 80 {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            col = indent;
        } else if !first {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += width;
        first = false;
    }
    out.push('\n');
}

/// The help of `cmd`, reached as `path`.
pub fn help(cmd: &Cmd, path: &str) -> String {
    let mut out = String::new();
    wrap(&mut out, cmd.about, 0, 0);
    out.push_str("\nUsage: ");
    out.push_str(path);
    out.push_str(" [OPTIONS]");
    if !cmd.subs.is_empty() {
        out.push_str(" <COMMAND>");
        if !cmd.args.is_empty() {
            out.push_str("\n       ");
            out.push_str(path);
        }
    }
    for (name, _) in cmd.args {
        out.push_str(&format!(" <{name}>"));
    }
    if cmd.variadic && !cmd.args.is_empty() {
        out.push_str("...");
    }
    out.push('\n');
    // (section, left column, help): one row per command, argument and option.
    let mut rows: Vec<(&str, String, &str)> = Vec::new();
    for c in cmd.subs {
        rows.push(("Commands", c.name.to_owned(), c.about));
    }
    if !cmd.subs.is_empty() {
        rows.push((
            "Commands",
            "help".to_owned(),
            "Print this message or the help of the given subcommand(s)",
        ));
    }
    for (name, text) in cmd.args {
        rows.push(("Arguments", format!("<{name}>"), text));
    }
    for o in cmd.opts.iter().flat_map(|o| o.iter()) {
        let short = o.short.map_or("    ".to_owned(), |c| format!("-{c}, "));
        let value = if o.value.is_empty() {
            String::new()
        } else {
            format!(" <{}>", o.value)
        };
        rows.push(("Options", format!("{short}--{}{value}", o.long), o.help));
    }
    rows.push(("Options", "-v, --verbose...".to_owned(), VERBOSE_HELP));
    rows.push(("Options", "-h, --help".to_owned(), "Print help"));
    if path == "oxbpf" {
        rows.push(("Options", "-V, --version".to_owned(), "Print version"));
    }
    let mut section = "";
    let mut column = 0;
    for (s, left, text) in &rows {
        if *s != section {
            section = s;
            out.push_str(&format!("\n{section}:\n"));
            // Each section's help texts start in one column, two spaces after the
            // longest name in it.
            let names = rows.iter().filter(|r| r.0 == section);
            column = names.map(|r| r.1.chars().count()).max().unwrap_or(0) + 4;
        }
        out.push_str("  ");
        out.push_str(left);
        out.extend(std::iter::repeat_n(' ', column - 2 - left.chars().count()));
        wrap(&mut out, text, column, column);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Args, Exit> {
        parse(args.iter().map(OsString::from))
    }

    fn usage_message(args: &[&str]) -> String {
        match parse_str(args) {
            Err(Exit::Usage(e)) => e.to_string(),
            other => panic!("{args:?}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn options_take_values_in_either_form_and_verbose_goes_anywhere() {
        let a = parse_str(&[
            "-v",
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
        assert_eq!(a.words, ["load"]);
        assert_eq!(a.verbose, 3);
        assert_eq!(a.required_path("OBJECT"), PathBuf::from("x.o"));
        assert_eq!(a.strings("set").unwrap(), ["a=1", "b=2"]);
        assert_eq!(a.number::<u32>("log-level").unwrap(), Some(2));
        assert!(a.flag("json"));
        assert!(!a.flag("keep-going"));
        let a = parse_str(&["extract", "-oout", "prog"]).unwrap();
        assert_eq!(a.path("out"), Some(PathBuf::from("out")));
        let a = parse_str(&["extract", "prog", "-o", "d"]).unwrap();
        assert_eq!(a.path("out"), Some(PathBuf::from("d")));
        let a = parse_str(&["inspect", "--", "-odd.o"]).unwrap();
        assert_eq!(a.required_path("OBJECT"), PathBuf::from("-odd.o"));
    }

    #[test]
    fn mistakes_name_the_command_and_its_help() {
        assert_eq!(
            usage_message(&["load", "--foo", "x.o"]),
            "unknown option --foo for `oxbpf load`; see `oxbpf load --help`"
        );
        assert_eq!(
            usage_message(&["load"]),
            "`oxbpf load` needs <OBJECT>; see `oxbpf load --help`"
        );
        assert_eq!(
            usage_message(&["map", "pin"]),
            "`oxbpf map pin` needs <MAP> <PATH>; see `oxbpf map pin --help`"
        );
        assert_eq!(
            usage_message(&["inspect", "a.o", "b.o"]),
            "unexpected argument `b.o` for `oxbpf inspect`; see `oxbpf inspect --help`"
        );
        assert_eq!(
            usage_message(&["load", "x.o", "--btf"]),
            "option --btf of `oxbpf load` needs a value: --btf <PATH>; see `oxbpf load --help`"
        );
        assert_eq!(
            usage_message(&["load", "x.o", "--btf", "a", "--btf=b"]),
            "option --btf given twice to `oxbpf load`; see `oxbpf load --help`"
        );
        assert_eq!(
            usage_message(&["inspect", "x.o", "--json=yes"]),
            "option --json of `oxbpf inspect` takes no value; see `oxbpf inspect --help`"
        );
        assert_eq!(
            usage_message(&["mpa", "list"]),
            "unknown command `mpa` for `oxbpf` (did you mean `map`?); see `oxbpf --help`"
        );
        assert_eq!(
            usage_message(&["map", "-x"]),
            "unknown option -x for `oxbpf map`; see `oxbpf map --help`"
        );
        assert_eq!(
            usage_message(&["load", "x.o", "-V"]),
            "unknown option -V for `oxbpf load`; see `oxbpf load --help`"
        );
        let a = parse_str(&["net", "detach", "eth0", "--xdp-mode", "fast"]).unwrap();
        assert_eq!(
            a.xdp_mode().unwrap_err().to_string(),
            "invalid value `fast` for --xdp-mode: expected auto, skb, drv, hw; \
             see `oxbpf net detach --help`"
        );
        let a = parse_str(&["link", "show", "seven"]).unwrap();
        assert_eq!(
            a.number::<u32>("ID").unwrap_err().to_string(),
            "invalid value `seven` for <ID>: expected a number; see `oxbpf link show --help`"
        );
    }

    #[test]
    fn typos_get_the_closest_command_or_option() {
        let msg = |words: &[&str]| match parse_str(words) {
            Err(Exit::Usage(e)) => e.to_string(),
            _ => panic!("{words:?} parsed"),
        };
        assert_eq!(
            msg(&["lod", "x.o"]),
            "unknown command `lod` for `oxbpf` (did you mean `load`?); see `oxbpf --help`"
        );
        assert_eq!(
            msg(&["load", "x.o", "--pinn", "d"]),
            "unknown option --pinn for `oxbpf load` (did you mean `--pin`?); see `oxbpf load --help`"
        );
        assert_eq!(
            msg(&["map", "dupm", "x"]),
            "unknown command `dupm` for `oxbpf map` (did you mean `dump`?); see `oxbpf map --help`"
        );
        // Nothing close: no guess.
        assert_eq!(
            msg(&["zzzz"]),
            "unknown command `zzzz` for `oxbpf`; see `oxbpf --help`"
        );
        assert_eq!(edit_distance("lod", "load"), 1);
        assert_eq!(edit_distance("dupm", "dump"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
    }

    #[test]
    fn seconds_read_and_print_like_decimal_numbers() {
        let ms = Duration::from_millis;
        assert_eq!(seconds("2"), Some(ms(2000)));
        assert_eq!(seconds("1.5"), Some(ms(1500)));
        assert_eq!(seconds(".25"), Some(ms(250)));
        assert_eq!(seconds("3."), Some(ms(3000)));
        assert_eq!(
            seconds("2526.8624821234"),
            Some(Duration::new(2526, 862_482_123))
        );
        for bad in ["", ".", "-1", "1e3", "1.2.3", " 1", "inf", "1,5"] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
        assert_eq!(seconds_text(ms(1000)), "1");
        assert_eq!(seconds_text(ms(1500)), "1.5");
        assert_eq!(seconds_text(ms(250)), "0.25");
        let a = parse_str(&["run", "x.o", "--duration", "soon"]).unwrap();
        assert_eq!(
            a.duration("duration").unwrap_err().to_string(),
            "invalid value `soon` for --duration: expected seconds, such as 2 or 1.5; \
             see `oxbpf run --help`"
        );
    }

    #[test]
    fn help_and_version() {
        let Err(Exit::Help(h)) = parse_str(&["help", "map", "dump"]) else {
            panic!("help map dump")
        };
        let Err(Exit::Help(same)) = parse_str(&["map", "dump", "--help"]) else {
            panic!("map dump --help")
        };
        assert_eq!(h, same);
        assert!(
            h.starts_with("Every entry, typed by the map's BTF where it has one\n\nUsage: oxbpf map dump [OPTIONS] <MAP>...\n"),
            "{h}"
        );
        assert!(matches!(parse_str(&["-V"]), Err(Exit::Version)));
        assert!(matches!(parse_str(&[]), Err(Exit::MissingCommand(_))));
        assert!(matches!(parse_str(&["map"]), Err(Exit::MissingCommand(_))));
        assert!(matches!(parse_str(&["map", "-h"]), Err(Exit::Help(_))));
    }

    /// Every command's help fits in 80 columns and lists every option it takes.
    #[test]
    fn every_help_fits_and_lists_every_option() {
        fn walk(cmd: &Cmd, path: &str) {
            let h = help(cmd, path);
            for line in h.lines() {
                assert!(line.chars().count() <= 80, "{path}: {line}");
            }
            for o in cmd.opts.iter().flat_map(|o| o.iter()) {
                assert!(
                    h.contains(&format!("--{} ", o.long)) || h.contains(&format!("--{}\n", o.long)),
                    "{path}: --{}",
                    o.long
                );
            }
            for c in cmd.subs {
                walk(c, &format!("{path} {}", c.name));
            }
        }
        walk(&COMMANDS, "oxbpf");
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Args, Exit> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn link_takes_an_output_and_inputs_beside_its_list_and_show_subcommands() {
        let a = parse_str(&["link", "out.o", "a.o", "b.o", "-v"]).unwrap();
        assert_eq!(a.words, ["link"]);
        assert_eq!(a.required_path("OUT"), PathBuf::from("out.o"));
        assert_eq!(a.paths("IN"), [PathBuf::from("a.o"), PathBuf::from("b.o")]);
        assert_eq!(a.verbose, 1);
        let a = parse_str(&["link", "list"]).unwrap();
        assert_eq!(a.words, ["link", "list"]);
        // An output alone is not enough: at least one input.
        assert!(matches!(parse_str(&["link", "out.o"]), Err(Exit::Usage(_))));
        assert!(matches!(parse_str(&["link"]), Err(Exit::MissingCommand(_))));
        let Err(Exit::Help(h)) = parse_str(&["link", "--help"]) else {
            panic!("no help")
        };
        assert!(h.contains("oxbpf link <OUT> <IN>..."), "{h}");
        assert!(h.contains("list") && h.contains("show"), "{h}");
    }
}
