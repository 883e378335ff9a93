//! `verify`: every line against the schema.
//!
//! A line is valid when it parses as an event whose known fields have
//! their schema types and, for the sixteen known types, carries every key
//! of the envelope and of its type, as the reference always writes them.
//! Unknown event types and extra keys are valid (they are kept whole) and
//! counted in the summary.

use std::io::{self, Write};

use agent_audit::event::ENVELOPE;
use agent_audit::json::LineParser;
use agent_audit::reader::{LineErrorKind, Lines};
use agent_audit::Kind;

use crate::{open_input, CmdResult, Failure, Outcome, PathArg};

#[derive(clap::Args)]
pub struct Args {
    /// The log to check (`-` for stdin).
    file: PathArg,
    #[command(flatten)]
    max_line: crate::MaxLine,
}

pub fn run(args: Args) -> CmdResult {
    let mut lines = Lines::new(open_input(&args.file)?).max_line(args.max_line.bytes());
    let mut out = io::BufWriter::new(crate::stdout());
    let mut parser = LineParser::new();
    let (mut valid, mut invalid, mut unknown, mut torn, mut last) = (0u64, 0u64, 0u64, 0u64, 0u64);
    while let Some(item) = lines.next_line() {
        let raw = match item {
            Ok(raw) => raw,
            Err(e) => {
                last = e.line;
                if let LineErrorKind::Io(_) = e.kind {
                    return Err(Failure::Message(format!(
                        "reading {}: {e}",
                        args.file.display()
                    )));
                }
                invalid += 1;
                crate::saw_problem();
                writeln!(out, "{e}")?;
                continue;
            }
        };
        last = raw.number;
        let event = match parser.parse(raw.bytes) {
            Ok(ev) => ev,
            Err(_) if !raw.terminated => {
                torn += 1;
                crate::saw_problem();
                writeln!(
                    out,
                    "line {}: torn last line (no newline at the end of the input)",
                    raw.number
                )?;
                continue;
            }
            Err(e) => {
                invalid += 1;
                crate::saw_problem();
                writeln!(out, "line {}: {e}", raw.number)?;
                continue;
            }
        };
        if let Kind::Other(_) = event.kind {
            unknown += 1;
            valid += 1;
            continue;
        }
        let keys = parser.parse_object(raw.bytes)?;
        let mut missing: Vec<&str> = std::iter::once("event_type")
            .chain(ENVELOPE)
            .filter(|k| !keys.contains_key(*k))
            .collect();
        event.kind.for_each_field(|name, _| {
            if !keys.contains_key(name) {
                missing.push(name);
            }
        });
        if missing.is_empty() {
            valid += 1;
        } else {
            invalid += 1;
            crate::saw_problem();
            writeln!(
                out,
                "line {}: missing field{} {}",
                raw.number,
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", ")
            )?;
        }
    }
    writeln!(
        out,
        "{}: {last} lines, {valid} valid ({unknown} of unknown type), {invalid} invalid, {torn} torn",
        args.file.display()
    )?;
    out.flush()?;
    Ok(if invalid + torn == 0 {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}
