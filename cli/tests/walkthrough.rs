//! Runs `docs/walkthrough.md`: each `console` block as one shell script in a fresh
//! network and mount namespace (from `testdata/`, with this build's `oxbpf` first on the
//! PATH and `cargo run -q -p oxbpf --example NAME [-- ARGS]` meaning this build's
//! example), and checks that every output line the document shows appears, in order, in
//! what the command printed; `…` in a shown line stands for any text.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A command of a block and the lines the document shows for it.
struct Step {
    command: String,
    shown: Vec<String>,
}

/// The `console` blocks of the document, each a list of steps.
fn blocks(doc: &str) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<Step>> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```console") => current = Some(Vec::new()),
            (Some(_), "```") => out.extend(current.take()),
            (Some(steps), l) => match l.strip_prefix("$ ") {
                Some(cmd) => steps.push(Step {
                    command: cmd.to_string(),
                    shown: Vec::new(),
                }),
                None => {
                    if let Some(s) = steps.last_mut() {
                        s.shown.push(l.to_string());
                    }
                }
            },
            (None, _) => {}
        }
    }
    out
}

/// Whether `line` matches `pattern`, where `…` stands for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let Some((first, rest)) = parts.split_first() else {
        return true;
    };
    let Some(mut tail) = line.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        let last = i == rest.len() - 1;
        if last {
            return part.is_empty() || tail.ends_with(part);
        }
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.is_empty()
}

const EXAMPLE: &str = "cargo run -q -p oxbpf --example ";

/// `cargo run -q -p oxbpf --example NAME [-- ARGS]` as this build's example binary,
/// `DIR/NAME [ARGS]` (cargo passes what follows `--` to the program); other commands
/// as they are.
fn example_command(command: &str, examples: &Path) -> String {
    let Some(rest) = command.strip_prefix(EXAMPLE) else {
        return command.to_string();
    };
    let (name, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let args = args.strip_prefix("-- ").unwrap_or(args);
    format!("{}/{name} {args}", examples.display())
        .trim_end()
        .to_string()
}

/// How many more lines than the document shows a command may print (lines the
/// document leaves out, such as other processes' events) before it counts as a flood.
const FLOOD: usize = 100;

#[test]
fn every_command_of_the_walkthrough_prints_what_the_document_shows() {
    let test = "every_command_of_the_walkthrough_prints_what_the_document_shows";
    if !oxbpf_sys::gate::require_bpf(test) {
        return;
    }
    let doc = std::fs::read_to_string(repo().join("docs/walkthrough.md")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_oxbpf"));
    let bin_dir = bin.parent().unwrap();
    let examples = bin_dir.join("examples");
    let all = blocks(&doc);
    assert!(all.len() >= 10, "only {} console blocks", all.len());
    for (b, steps) in all.iter().enumerate() {
        let mut script = String::from("exec 2>&1\n");
        for (i, s) in steps.iter().enumerate() {
            let cmd = example_command(&s.command, &examples);
            if let Some(name) = s.command.strip_prefix(EXAMPLE) {
                let name = name.split(' ').next().unwrap_or("");
                assert!(
                    examples.join(name).exists(),
                    "example {name} is not built: run `cargo test -p oxbpf` (it builds the examples)"
                );
            }
            script.push_str(&format!("echo '@@@ {i}'\n{cmd}\n"));
        }
        script.push_str("wait\necho '@@@ end'\n");
        // A block that never ends (a background job left running) fails, not hangs.
        let out = Command::new("timeout")
            .args(["120", "unshare", "--net", "--mount", "sh", "-c", &script])
            .current_dir(repo().join("testdata"))
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin_dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for (i, s) in steps.iter().enumerate() {
            let start = format!("@@@ {i}\n");
            let output = text
                .split_once(&start)
                .map(|(_, rest)| rest.split("@@@ ").next().unwrap_or(""))
                .unwrap_or_else(|| panic!("block {b}: `{}` did not run:\n{text}", s.command));
            // A command that floods (a program firing on oxbpf's own output, say) fails
            // even when the lines shown are among what it printed.
            assert!(
                output.lines().count() <= s.shown.len() + FLOOD,
                "block {b}, `{}` printed {} lines where the document shows {}:\n{}",
                s.command,
                output.lines().count(),
                s.shown.len(),
                output.lines().take(40).collect::<Vec<_>>().join("\n")
            );
            let mut lines = output.lines();
            for want in &s.shown {
                assert!(
                    lines.any(|l| matches(want, l.trim_end())),
                    "block {b}, `{}`: no line `{want}` (in order) in:\n{output}",
                    s.command
                );
            }
        }
    }
}

#[test]
fn example_commands_run_the_built_example_with_its_arguments() {
    let dir = Path::new("/t/examples");
    assert_eq!(
        example_command("cargo run -q -p oxbpf --example minimal", dir),
        "/t/examples/minimal"
    );
    assert_eq!(
        example_command(
            "cargo run -q -p oxbpf --example xdp_pass -- veth1 --seconds 1",
            dir
        ),
        "/t/examples/xdp_pass veth1 --seconds 1"
    );
    assert_eq!(
        example_command("ip link set lo up", dir),
        "ip link set lo up"
    );
}

#[test]
fn the_matcher_reads_the_ellipsis_as_any_text() {
    assert!(matches(
        "pid = …, comm = \"true\"",
        "pid = 12, comm = \"true\""
    ));
    assert!(matches("a … b … c", "a x b y c"));
    assert!(matches("prog/xdp id …", "prog/xdp id 42"));
    assert!(!matches("detached 1", "detached 2"));
    assert!(!matches("a…c", "abd"));
    assert!(matches("exact", "exact"));
    assert!(!matches("exact", "exact and more"));
}
