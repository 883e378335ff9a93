//! `agent-audit`: write, convert, check and read agent audit logs.
//!
//! Every failure is one line on stderr and exit status 1; a closed stdout
//! (`agent-audit convert log | head`) ends the command quietly.

/// `eprintln!` without its panic when stderr cannot be written (a full
/// disk, a closed pipe): a report that cannot be shown must not cost the
/// output that can.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod convert;
mod stats;
mod stress;
mod tail;
mod verify;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agent_audit::Format;
use clap::{Parser, Subcommand, ValueEnum};

/// Typed audit logs for AI agents: generate, convert, verify, summarise and
/// follow JSONL audit logs in the Calute/Xerxes schema.
#[derive(Parser)]
#[command(name = "agent-audit", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The two line formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// One object per line, no spaces, UTF-8 as is.
    Compact,
    /// Byte for byte what the Python reference writes.
    Python,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Compact => Format::Compact,
            FormatArg::Python => Format::Python,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Simulate agent loops writing a realistic mix of events through the
    /// pipeline, and report throughput and emit latency.
    Stress(stress::Args),
    /// Rewrite a log in either format; invalid lines go to stderr.
    Convert(convert::Args),
    /// Check every line against the schema; exit 0 only if all are valid.
    Verify(verify::Args),
    /// Counts by type, severity, agent and tool; failure rates; durations.
    Stats(stats::Args),
    /// Show the last events of a log, optionally following it.
    Tail(tail::Args),
}

/// A command's failure: printed as `agent-audit: MESSAGE`.
pub struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// How a command ended when it did not fail outright.
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1 after reporting problems (invalid lines) itself.
    Problems,
}

/// What every subcommand returns.
pub type CmdResult = Result<Outcome, Failure>;

/// Opens a log for reading, with an error that names it; `-` is stdin.
pub fn open_input(path: &Path) -> Result<Box<dyn Read>, Failure> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdin().lock()));
    }
    let f = File::open(path)
        .map_err(|e| Failure(format!("cannot open {}: {}", path.display(), plain(&e))))?;
    match f.metadata() {
        Ok(m) if m.is_dir() => Err(Failure(format!(
            "cannot read {}: it is a directory",
            path.display()
        ))),
        _ => Ok(Box::new(f)),
    }
}

/// An I/O error's message without Rust's "(os error N)" suffix.
pub fn plain(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Whether an error is stdout being closed by its reader.
fn is_broken_pipe(msg: &str) -> bool {
    msg.contains("Broken pipe")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Stress(a) => stress::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Stats(a) => stats::run(a),
        Command::Tail(a) => tail::run(a),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::FAILURE,
        Err(Failure(msg)) if is_broken_pipe(&msg) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            report!("agent-audit: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// A path argument, shown in errors as given.
pub type PathArg = PathBuf;
