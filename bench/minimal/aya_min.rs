//! The same smallest loader with aya: open, load every program aya can load without
//! further arguments, say how many, exit.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: aya-min OBJ");
        return ExitCode::from(2);
    };
    let mut ebpf = match aya::Ebpf::load_file(&path) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut n = 0;
    for (name, prog) in ebpf.programs_mut() {
        use aya::programs::Program as P;
        let r = match prog {
            P::Xdp(p) => p.load(),
            P::TracePoint(p) => p.load(),
            P::SocketFilter(p) => p.load(),
            P::KProbe(p) => p.load(),
            P::SchedClassifier(p) => p.load(),
            _ => continue,
        };
        if let Err(e) = r {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
        n += 1;
    }
    println!("{n} programs loaded");
    ExitCode::SUCCESS
}
