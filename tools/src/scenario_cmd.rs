//! `optix scenario FILE`: runs a script line by line, printing one JSON
//! object per event. Exit 0 on success, 2 on a line that cannot be parsed
//! (with its line number), 1 when the file cannot be read.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use optix_engine::scenario::{apply, Parser, Step};
use optix_engine::{Engine, EngineConfig, Event};
use optix_risk::StandardRisk;

pub fn run(path: &Path, levels: bool, hash: bool) -> ExitCode {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(path) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("optix: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut parser = Parser::new();
    let mut engine = Engine::new(EngineConfig::default(), StandardRisk::new());
    let mut events: Vec<Event> = Vec::with_capacity(256);
    let mut text = String::with_capacity(256);
    for line in reader.lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("optix: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        let step = match parser.parse_line(&line) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => {
                let _ = out.flush();
                eprintln!("optix: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        events.clear();
        text.clear();
        if parser.render_step(&engine, &step.step, &mut text) {
            let _ = write!(out, "{text}");
            continue;
        }
        apply(&mut engine, &step, &mut events);
        for ev in &events {
            if !levels && matches!(ev.kind, optix_engine::EventKind::LevelChanged { .. }) {
                continue;
            }
            text.clear();
            parser.render(ev, &mut text);
            let _ = writeln!(out, "{text}");
        }
        if matches!(step.step, Step::Input(optix_engine::Input::SessionEnd)) {
            // The end of the day: every account's statement.
            text.clear();
            parser.render_statement(&engine, &mut text);
            let _ = write!(out, "{text}");
        }
    }
    if hash {
        let _ = writeln!(out, "{{\"ev\":\"state_hash\",\"hash\":\"{:016x}\"}}", engine.state_hash());
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
