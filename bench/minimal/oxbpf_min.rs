//! The smallest useful static loader with oxbpf: open the object named on the command
//! line, load every program, say how many, exit (the programs go with the process).

use oxbpf_loader::prelude::*;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: oxbpf-min OBJ");
        return ExitCode::from(2);
    };
    let loaded = oxbpf_loader::Object::open(&path)
        .map_err(|e| e.to_string())
        .and_then(|o| o.load(&Default::default()).map_err(|e| e.to_string()));
    match loaded {
        Ok(l) => {
            println!("{} programs loaded", l.programs.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
