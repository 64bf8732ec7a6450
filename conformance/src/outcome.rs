//! What one loader did with one object, and the line format a child process writes it
//! in (tab-separated, one record per line) for the driver to read back.

use crate::facts::ProgFacts;

/// A program's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Loaded; what the kernel says of it.
    Loaded(ProgFacts),
    /// Refused: at which stage, and the loader's message.
    Refused {
        /// open, maps, externs, relocation, attach target, verifier, load.
        stage: String,
        /// One line.
        message: String,
    },
}

impl Verdict {
    /// A refusal, its message made one line.
    pub fn refused(stage: &str, message: &str) -> Verdict {
        Verdict::Refused {
            stage: stage.to_string(),
            message: one_line(message),
        }
    }
}

/// One program of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgRow {
    /// Its name.
    pub name: String,
    /// Its section.
    pub section: String,
    /// Loaded by default (not a `?` section).
    pub autoload: bool,
    /// What happened; `None` only while the run is under way.
    pub verdict: Option<Verdict>,
}

/// One loader's run over one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectRun {
    /// The object could not be opened.
    pub open_error: Option<String>,
    /// The load of every autoload program at once.
    pub whole: Option<Result<(), String>>,
    /// Every program.
    pub programs: Vec<ProgRow>,
    /// The maps the first load that succeeded created (all programs at once, else the
    /// first that loads alone), sorted.
    pub maps: Vec<String>,
    /// Descriptors left open after everything was dropped.
    pub leaked_fds: isize,
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\t', '\r'], " ")
}

impl ObjectRun {
    /// The run as lines.
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        if let Some(e) = &self.open_error {
            out += &format!("open-error\t{}\n", one_line(e));
        }
        match &self.whole {
            Some(Ok(())) => out += "whole\tok\n",
            Some(Err(e)) => out += &format!("whole\terr\t{}\n", one_line(e)),
            None => {}
        }
        if !self.maps.is_empty() {
            out += &format!("maps\t{}\n", self.maps.join("|"));
        }
        for p in &self.programs {
            let head = format!("prog\t{}\t{}\t{}", p.name, p.section, u8::from(p.autoload));
            match &p.verdict {
                Some(Verdict::Loaded(f)) => {
                    out += &format!(
                        "{head}\tloaded\t{}\t{}\t{}\t{}\t{}\n",
                        f.tag,
                        f.xlated,
                        f.func_info,
                        f.line_info,
                        f.maps.join("|")
                    );
                }
                Some(Verdict::Refused { stage, message }) => {
                    out += &format!("{head}\trefused\t{stage}\t{message}\n");
                }
                None => out += &format!("{head}\trefused\tnone\tno verdict\n"),
            }
        }
        out += &format!("fds\t{}\n", self.leaked_fds);
        out
    }

    /// Reads the lines back; a line that does not parse is an error naming it.
    pub fn from_lines(text: &str) -> Result<ObjectRun, String> {
        let mut run = ObjectRun::default();
        let mut ended = false;
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let bad = || format!("unreadable line from the child: {line:?}");
            match f.as_slice() {
                ["open-error", e] => run.open_error = Some((*e).to_string()),
                ["whole", "ok"] => run.whole = Some(Ok(())),
                ["whole", "err", e] => run.whole = Some(Err((*e).to_string())),
                ["maps", maps] => run.maps = maps.split('|').map(str::to_string).collect(),
                ["prog", name, section, auto, "loaded", tag, x, fi, li, maps] => {
                    run.programs.push(ProgRow {
                        name: (*name).to_string(),
                        section: (*section).to_string(),
                        autoload: *auto == "1",
                        verdict: Some(Verdict::Loaded(ProgFacts {
                            tag: (*tag).to_string(),
                            xlated: (*x).to_string(),
                            func_info: fi.parse().map_err(|_| bad())?,
                            line_info: li.parse().map_err(|_| bad())?,
                            maps: maps
                                .split('|')
                                .filter(|m| !m.is_empty())
                                .map(str::to_string)
                                .collect(),
                        })),
                    });
                }
                ["prog", name, section, auto, "refused", stage, msg] => {
                    run.programs.push(ProgRow {
                        name: (*name).to_string(),
                        section: (*section).to_string(),
                        autoload: *auto == "1",
                        verdict: Some(Verdict::refused(stage, msg)),
                    });
                }
                ["fds", n] => {
                    run.leaked_fds = n.parse().map_err(|_| bad())?;
                    ended = true;
                }
                _ => return Err(bad()),
            }
        }
        if !ended {
            return Err("the child's output ends early".into());
        }
        Ok(run)
    }
}
