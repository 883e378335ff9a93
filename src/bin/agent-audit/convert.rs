//! `convert`: any log, either format in, either format out, streaming.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use agent_audit::json;
use agent_audit::reader::Reader;

use crate::{open_input, CmdResult, Failure, FormatArg, Outcome, PathArg};

#[derive(clap::Args)]
pub struct Args {
    /// The log to read (`-` or nothing for stdin).
    #[arg(default_value = "-")]
    input: PathArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "compact")]
    format: FormatArg,
    /// Write here instead of stdout (created or truncated).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathArg>,
}

pub fn run(args: Args) -> CmdResult {
    let input = open_input(&args.input)?;
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(File::create(p).map_err(|e| {
            Failure(format!(
                "cannot create {}: {}",
                p.display(),
                crate::plain(&e)
            ))
        })?),
        None => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(256 << 10, out);
    let format = args.format.into();
    let mut buf = Vec::with_capacity(64 << 10);
    let mut bad = 0u64;
    for item in Reader::new(input) {
        match item {
            Ok(rec) => {
                json::write_event(&mut buf, &rec.event, format);
                if buf.len() >= 60 << 10 {
                    out.write_all(&buf)?;
                    buf.clear();
                }
            }
            Err(e) => {
                if matches!(e.kind, agent_audit::reader::LineErrorKind::Io(_)) {
                    return Err(Failure(format!("reading {}: {e}", args.input.display())));
                }
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok(if bad == 0 {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}
