//! The reference side: libbpf 1.7 (libbpf-sys, built from its bundled source) loading an
//! object the way a C program does — `bpf_object__open_file`, the autoload choice,
//! `bpf_object__load`, `bpf_program__fd` — and telling what happened.

use std::ffi::{CStr, CString, c_char, c_int};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use libbpf_sys as sys;

use crate::outcome::{ObjectRun, ProgRow, Verdict};
use crate::{facts, sizing};

/// libbpf's warnings since the last [`take_log`], one line each (the verifier log it
/// prints between its BEGIN/END markers left out: the kernel's words, not libbpf's).
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
static IN_VERIFIER_LOG: Mutex<bool> = Mutex::new(false);

unsafe extern "C" {
    fn vsnprintf(
        s: *mut c_char,
        n: usize,
        fmt: *const c_char,
        ap: *mut sys::__va_list_tag,
    ) -> c_int;
}

unsafe extern "C" fn capture(
    level: sys::libbpf_print_level,
    fmt: *const c_char,
    args: *mut sys::__va_list_tag,
) -> c_int {
    if level != sys::LIBBPF_WARN {
        return 0;
    }
    let mut buf = [0u8; 4096];
    // SAFETY: `buf` is writable for its length; `fmt` and `args` are what libbpf passed.
    let n = unsafe { vsnprintf(buf.as_mut_ptr().cast(), buf.len(), fmt, args) };
    if n < 0 {
        return 0;
    }
    let text = String::from_utf8_lossy(&buf[..(n as usize).min(buf.len() - 1)]).to_string();
    let mut in_log = IN_VERIFIER_LOG.lock().unwrap_or_else(|e| e.into_inner());
    let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    for line in text.lines() {
        if line.contains("-- BEGIN PROG LOAD LOG --") {
            *in_log = true;
        } else if line.contains("-- END PROG LOAD LOG --") {
            *in_log = false;
        } else if !*in_log && !line.trim().is_empty() {
            log.push(line.trim().to_string());
        }
    }
    0
}

fn take_log() -> Vec<String> {
    std::mem::take(&mut *LOG.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The stage a refusal happened at, from libbpf's own words.
fn stage_of(lines: &[String]) -> &'static str {
    let all = lines.join("\n");
    let has = |s: &str| all.contains(s);
    if has("failed to open") || has("elf:") || has("BTF is required") {
        "open"
    } else if has("failed to create map") || has("map '") && has("failed") {
        "maps"
    } else if has("extern") {
        "externs"
    } else if has("CO-RE") || has("relo") || has("failed to relocate") {
        "relocation"
    } else if has("attach") || has("failed to find kernel BTF type ID") {
        "attach target"
    } else if has("load failed") || has("failed to load") {
        "verifier"
    } else {
        "load"
    }
}

/// The message kept for a refusal: libbpf's last warnings.
fn message(lines: &[String]) -> String {
    let n = lines.len();
    lines[n.saturating_sub(3)..].join(" | ")
}

/// An opened libbpf object, closed on drop.
struct Obj(*mut sys::bpf_object);

impl Drop for Obj {
    fn drop(&mut self) {
        // SAFETY: the object was opened by bpf_object__open_file and is closed once.
        unsafe { sys::bpf_object__close(self.0) };
    }
}

impl Obj {
    fn open(path: &CStr) -> Result<Obj, String> {
        take_log();
        // SAFETY: a NUL-terminated path; null options mean the defaults.
        let obj = unsafe { sys::bpf_object__open_file(path.as_ptr(), std::ptr::null()) };
        // SAFETY: libbpf returns either a live object or null (libbpf 1.x).
        if obj.is_null() {
            let err = std::io::Error::last_os_error();
            let log = take_log();
            return Err(if log.is_empty() {
                format!("open: {err}")
            } else {
                message(&log)
            });
        }
        Ok(Obj(obj))
    }

    /// (name, section, autoload) of each program, in libbpf's order.
    fn programs(&self) -> Vec<(String, String, bool, *mut sys::bpf_program)> {
        let mut out = Vec::new();
        let mut prog = std::ptr::null_mut();
        loop {
            // SAFETY: `self.0` is live; `prog` is null or one of its programs.
            prog = unsafe { sys::bpf_object__next_program(self.0, prog) };
            if prog.is_null() {
                return out;
            }
            // SAFETY: a live program; the strings it returns live as long as it.
            let (name, section, autoload) = unsafe {
                (
                    CStr::from_ptr(sys::bpf_program__name(prog))
                        .to_string_lossy()
                        .to_string(),
                    CStr::from_ptr(sys::bpf_program__section_name(prog))
                        .to_string_lossy()
                        .to_string(),
                    sys::bpf_program__autoload(prog),
                )
            };
            out.push((name, section, autoload, prog));
        }
    }

    /// Sizes maps as their user space would ([`sizing`]).
    fn size_maps(&self) {
        let mut map = std::ptr::null_mut();
        loop {
            // SAFETY: `self.0` is live; `map` is null or one of its maps.
            map = unsafe { sys::bpf_object__next_map(self.0, map) };
            if map.is_null() {
                return;
            }
            // SAFETY: a live map of an object not loaded yet.
            unsafe {
                let ty = sys::bpf_map__type(map);
                if sys::bpf_map__max_entries(map) == 0 && sizing::needs_size(ty) {
                    sys::bpf_map__set_max_entries(map, sizing::DEFAULT_ENTRIES);
                }
                if ty == sizing::STACK_TRACE && sys::bpf_map__value_size(map) == 0 {
                    sys::bpf_map__set_value_size(map, sizing::STACK_VALUE_SIZE);
                }
            }
        }
    }

    /// The maps a load created, as the kernel describes them, sorted.
    fn created_maps(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut map = std::ptr::null_mut();
        loop {
            // SAFETY: `self.0` is live; `map` is null or one of its maps.
            map = unsafe { sys::bpf_object__next_map(self.0, map) };
            if map.is_null() {
                out.sort();
                return out;
            }
            // SAFETY: a live map; its fd (if created) is owned by the object.
            let fd = unsafe { sys::bpf_map__fd(map) };
            if fd >= 0 {
                // SAFETY: the object keeps `fd` open while it lives, past this use.
                let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                out.push(facts::map(fd).unwrap_or_else(|e| format!("?{e}")));
            }
        }
    }

    fn load(&self) -> Result<(), String> {
        take_log();
        // SAFETY: `self.0` is live and opened, not loaded yet.
        let err = unsafe { sys::bpf_object__load(self.0) };
        if err == 0 {
            return Ok(());
        }
        let log = take_log();
        Err(format!(
            "{}\t{}",
            stage_of(&log),
            if log.is_empty() {
                std::io::Error::from_raw_os_error(-err).to_string()
            } else {
                message(&log)
            }
        ))
    }
}

fn loaded_facts(prog: *mut sys::bpf_program) -> Verdict {
    // SAFETY: a live program of a loaded object.
    let fd = unsafe { sys::bpf_program__fd(prog) };
    if fd < 0 {
        return Verdict::refused("load", "libbpf loaded the object but not this program");
    }
    // SAFETY: libbpf owns `fd` for as long as the object is open, which outlives this use.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    match facts::of(fd) {
        Ok(f) => Verdict::Loaded(f),
        Err(e) => Verdict::refused("info", &e),
    }
}

fn refused(err: &str) -> Verdict {
    let (stage, msg) = err.split_once('\t').unwrap_or(("load", err));
    Verdict::refused(stage, msg)
}

/// Loads `path` with libbpf: all its autoload programs at once, then each program that
/// did not load that way on its own (and each `?` program on its own).
pub fn run(path: &Path) -> ObjectRun {
    // SAFETY: installs a callback that only formats into a local buffer and a mutex.
    unsafe { sys::libbpf_set_print(Some(capture)) };
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap_or_default();
    let mut run = ObjectRun::default();
    let obj = match Obj::open(&c) {
        Ok(o) => o,
        Err(e) => {
            run.open_error = Some(e);
            return run;
        }
    };
    let progs = obj.programs();
    obj.size_maps();
    let whole = obj.load();
    for (name, section, autoload, prog) in &progs {
        let verdict = match (&whole, autoload) {
            (Ok(()), true) => Some(loaded_facts(*prog)),
            _ => None,
        };
        run.programs.push(ProgRow {
            name: name.clone(),
            section: section.clone(),
            autoload: *autoload,
            verdict,
        });
    }
    if whole.is_ok() {
        run.maps = obj.created_maps();
    }
    run.whole = Some(whole.map_err(|e| e.replace('\t', ": ")));
    drop(obj);

    for i in 0..run.programs.len() {
        if run.programs[i].verdict.is_some() {
            continue;
        }
        let row = run.programs[i].clone();
        let verdict = match Obj::open(&c) {
            Err(e) => Verdict::refused("open", &e),
            Ok(obj) => {
                let progs = obj.programs();
                for (name, _, _, prog) in &progs {
                    // SAFETY: a live program of an object not loaded yet.
                    unsafe { sys::bpf_program__set_autoload(*prog, *name == row.name) };
                }
                obj.size_maps();
                match obj.load() {
                    Ok(()) if run.maps.is_empty() => {
                        run.maps = obj.created_maps();
                        match progs.iter().find(|p| p.0 == row.name) {
                            Some(p) => loaded_facts(p.3),
                            None => Verdict::refused("open", "the program is gone on reopening"),
                        }
                    }
                    Ok(()) => match progs.iter().find(|p| p.0 == row.name) {
                        Some(p) => loaded_facts(p.3),
                        None => Verdict::refused("open", "the program is gone on reopening"),
                    },
                    Err(e) => refused(&e),
                }
            }
        };
        run.programs[i].verdict = Some(verdict);
    }
    run
}

/// Links BPF objects into one with libbpf 1.7's static linker, as `bpftool gen object`
/// does (the corpus script uses it: Debian's bpftool 7.1 carries libbpf 1.1's linker,
/// which writes `.maps` DATASEC offsets that disagree with the map symbols when a weak
/// map is overridden).
pub fn link(out: &Path, inputs: &[PathBuf]) -> Result<(), String> {
    // SAFETY: installs a callback that only formats into a local buffer and a mutex.
    unsafe { sys::libbpf_set_print(Some(capture)) };
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| format!("{}: NUL in path", p.display()))
    };
    let out_c = c(out)?;
    // SAFETY: a NUL-terminated path; null options mean the defaults.
    let linker = unsafe { sys::bpf_linker__new(out_c.as_ptr(), std::ptr::null_mut()) };
    if linker.is_null() {
        return Err(format!("{}: {}", out.display(), message(&take_log())));
    }
    let mut result = Ok(());
    for input in inputs {
        let in_c = c(input)?;
        // SAFETY: `linker` is live; the path is NUL-terminated; null options.
        if unsafe { sys::bpf_linker__add_file(linker, in_c.as_ptr(), std::ptr::null()) } != 0 {
            result = Err(format!("{}: {}", input.display(), message(&take_log())));
            break;
        }
    }
    // SAFETY: `linker` is live.
    if result.is_ok() && unsafe { sys::bpf_linker__finalize(linker) } != 0 {
        result = Err(format!("finalize: {}", message(&take_log())));
    }
    // SAFETY: frees the linker made above, once.
    unsafe { sys::bpf_linker__free(linker) };
    result
}
