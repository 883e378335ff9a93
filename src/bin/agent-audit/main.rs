//! `agent-audit`: write, convert, check and read agent audit logs.
//!
//! Every failure is one line on stderr and exit status 1; a closed stdout
//! (`agent-audit convert log | head`) ends the command quietly, with exit
//! status 1 if it had already reported a bad line and 0 otherwise.

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

/// The longest line the commands that read logs accept.
#[derive(clap::Args, Clone, Copy)]
pub struct MaxLine {
    /// Lines longer than this many bytes are reported and skipped; what a
    /// command holds in memory is bounded by it.
    #[arg(
        long = "max-line",
        value_name = "BYTES",
        default_value_t = agent_audit::reader::DEFAULT_MAX_LINE as u64,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    bytes: u64,
}

impl MaxLine {
    /// The limit, at least 1 (as the readers take it).
    pub fn bytes(self) -> usize {
        usize::try_from(self.bytes).unwrap_or(usize::MAX)
    }
}

/// Why a command stopped early.
pub enum Failure {
    /// Printed as `agent-audit: MESSAGE`; exit status 1.
    Message(String),
    /// Stdout's reader went away (`agent-audit verify log | head`): the
    /// command ends quietly, with the status of what it had seen so far.
    Closed,
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        match e.get_ref() {
            Some(inner) if inner.is::<StdoutClosed>() => Failure::Closed,
            _ => Failure::Message(e.to_string()),
        }
    }
}

impl From<agent_audit::json::ParseError> for Failure {
    fn from(e: agent_audit::json::ParseError) -> Self {
        Failure::Message(e.to_string())
    }
}

/// The mark a write to stdout puts on `EPIPE`, so that only stdout's
/// reader going away ends a command quietly: the same error from a file,
/// a FIFO named by `--out`, or the sink is a failure like any other.
#[derive(Debug)]
struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout closed by its reader")
    }
}

impl std::error::Error for StdoutClosed {}

/// Stdout, locked; its `EPIPE` is marked (see [`StdoutClosed`]).
pub struct Stdout(io::StdoutLock<'static>);

/// Stdout for a command's output.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

fn mark_closed(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

impl io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark_closed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark_closed)
    }
}

/// Set once a command has reported a problem with its input (an invalid
/// or torn line): the exit status if stdout closes before it finishes.
static SAW_PROBLEMS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes a problem with the input (see [`SAW_PROBLEMS`]).
pub fn saw_problem() {
    SAW_PROBLEMS.store(true, std::sync::atomic::Ordering::Relaxed);
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
        .map_err(|e| Failure::Message(format!("cannot open {}: {}", path.display(), plain(&e))))?;
    match f.metadata() {
        Ok(m) if m.is_dir() => Err(Failure::Message(format!(
            "cannot read {}: it is a directory",
            path.display()
        ))),
        _ => Ok(Box::new(f)),
    }
}

/// `s` on one line with no control characters (each becomes a space):
/// text from a log must not drive the terminal it is shown on.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// An I/O error's message without Rust's "(os error N)" suffix.
pub fn plain(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
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
        Err(Failure::Closed) if SAW_PROBLEMS.load(std::sync::atomic::Ordering::Relaxed) => {
            ExitCode::FAILURE
        }
        Err(Failure::Closed) => ExitCode::SUCCESS,
        Err(Failure::Message(msg)) => {
            report!("agent-audit: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// A path argument, shown in errors as given.
pub type PathArg = PathBuf;
