//! `convert`: any log, either format in, either format out, streaming.

use std::fs::File;
use std::io::{BufWriter, Write};

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
    /// Write here instead of stdout (created or truncated; never the input).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathArg>,
    #[command(flatten)]
    max_line: crate::MaxLine,
}

pub fn run(args: Args) -> CmdResult {
    let input = open_input(&args.input)?;
    if let Some(out) = &args.output {
        refuse_overwriting_the_input(&args.input, out)?;
    }
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(File::create(p).map_err(|e| {
            Failure::Message(format!(
                "cannot create {}: {}",
                p.display(),
                crate::plain(&e)
            ))
        })?),
        None => Box::new(crate::stdout()),
    };
    let mut out = BufWriter::with_capacity(256 << 10, out);
    let format = args.format.into();
    let mut buf = Vec::with_capacity(64 << 10);
    let mut bad = 0u64;
    for item in Reader::new(input).max_line(args.max_line.bytes()) {
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
                    // What was read before the failure is kept.
                    out.write_all(&buf)?;
                    out.flush()?;
                    return Err(Failure::Message(format!(
                        "reading {}: {e}",
                        args.input.display()
                    )));
                }
                bad += 1;
                crate::saw_problem();
                report!("{e}");
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

/// `-o` naming the input (stdin included) would truncate it before it is
/// read: refused, with the log left as it is.
fn refuse_overwriting_the_input(input: &PathArg, output: &PathArg) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    let input = if input.as_os_str() == "-" {
        std::path::Path::new("/dev/stdin")
    } else {
        input.as_path()
    };
    let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    match (id(input), id(output)) {
        (Some(a), Some(b)) if a == b => Err(Failure::Message(format!(
            "{} is the input: write to another file (then rename it)",
            output.display()
        ))),
        _ => Ok(()),
    }
}
