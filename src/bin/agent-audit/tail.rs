//! `tail`: the last events of a log, filtered, optionally followed.
//!
//! On a terminal each event is one readable line; piped, the matching lines
//! are passed through byte for byte, so `tail --tool x log | jq` works.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use agent_audit::event::FieldRef;
use agent_audit::reader::{Follow, LineError, LineErrorKind, Lines, Start};
use agent_audit::{json, Event, Format, Kind};

use crate::{printable, CmdResult, Failure, Outcome, PathArg};

#[derive(clap::Args)]
pub struct Args {
    /// The log to read (`-` for stdin).
    file: PathArg,
    /// Keep reading as the log grows (survives rotation). A pipe, FIFO or
    /// stdin is read to its end, which is the end.
    #[arg(short = 'f', long)]
    follow: bool,
    /// How many events to show first.
    #[arg(short = 'n', long = "lines", default_value_t = 10, value_name = "N")]
    lines: usize,
    /// Only events of this type (e.g. tool_call_failure).
    #[arg(long = "type", value_name = "TYPE")]
    event_type: Option<String>,
    /// Only events of this agent.
    #[arg(long)]
    agent: Option<String>,
    /// Only events of this severity (info, warning, error, ...).
    #[arg(long)]
    severity: Option<String>,
    /// Only events about this tool.
    #[arg(long)]
    tool: Option<String>,
    #[command(flatten)]
    max_line: crate::MaxLine,
}

impl Args {
    fn matches(&self, ev: &Event) -> bool {
        self.event_type
            .as_deref()
            .is_none_or(|t| ev.event_type() == t)
            && self
                .agent
                .as_deref()
                .is_none_or(|a| ev.agent_id.as_deref() == Some(a))
            && self
                .severity
                .as_deref()
                .is_none_or(|s| ev.severity.as_str() == s)
            && self
                .tool
                .as_deref()
                .is_none_or(|t| ev.tool_name() == Some(t))
    }
}

struct Printer {
    pretty: bool,
    out: crate::Stdout,
}

impl Printer {
    fn show(&mut self, raw: &[u8], ev: &Event) -> io::Result<()> {
        if !self.pretty {
            self.out.write_all(raw)?;
            return self.out.write_all(b"\n");
        }
        let (color, reset) = match ev.severity.as_str() {
            "error" => ("\x1b[31m", "\x1b[0m"),
            "warning" => ("\x1b[33m", "\x1b[0m"),
            _ => ("", ""),
        };
        // Every text from the log is shown without its control characters:
        // a log must not be able to move the cursor or retitle the terminal.
        writeln!(
            self.out,
            "{} {color}{:<7}{reset} {:<12} {:<20} {}",
            printable(&ev.timestamp.to_string()),
            printable(ev.severity.as_str()),
            printable(ev.agent_id.as_deref().unwrap_or("-")),
            printable(ev.event_type()),
            printable(&details(ev))
        )
    }
}

fn clip(s: &str, n: usize) -> String {
    let one_line = printable(s);
    match one_line.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// The few fields that say what happened, on one line.
fn details(ev: &Event) -> String {
    match &ev.kind {
        Kind::TurnStart(k) => clip(&k.prompt_preview, 80),
        Kind::TurnEnd(k) => format!(
            "{} ({} calls)",
            clip(&k.content_preview, 60),
            k.function_calls_count
        ),
        Kind::ToolCallAttempt(k) => format!("{}({})", k.tool_name, clip(&k.arguments_preview, 60)),
        Kind::ToolCallComplete(k) => {
            format!(
                "{} {} in {:.1} ms",
                k.tool_name,
                k.status,
                k.duration_ms.as_f64()
            )
        }
        Kind::ToolCallFailure(k) => format!(
            "{} {}: {}",
            k.tool_name,
            k.error_type,
            clip(&k.error_message, 60)
        ),
        Kind::ToolPolicyDecision(k) => {
            format!("{} {} by {}", k.tool_name, k.action, k.policy_source)
        }
        Kind::SandboxDecision(k) => format!(
            "{} -> {} ({})",
            k.tool_name,
            k.backend_type,
            clip(&k.reason, 40)
        ),
        Kind::ToolLoopWarning(k) => format!(
            "{} {} x{} ({})",
            k.tool_name, k.pattern, k.call_count, k.severity_level
        ),
        Kind::ToolLoopBlock(k) => format!("{} {} x{}", k.tool_name, k.pattern, k.call_count),
        Kind::HookMutation(k) => format!(
            "{} changed {}.{}",
            k.hook_name, k.tool_name, k.mutated_field
        ),
        Kind::Error(k) => format!(
            "{}: {} ({})",
            k.error_type,
            clip(&k.error_message, 60),
            k.error_context
        ),
        Kind::AgentSwitch(k) => format!(
            "{} -> {} ({})",
            k.from_agent,
            k.to_agent,
            clip(&k.reason, 40)
        ),
        kind => {
            let mut parts = Vec::new();
            kind.for_each_field(|name, v| match v {
                FieldRef::Str(s) if !s.is_empty() => parts.push(format!("{name}={}", clip(s, 30))),
                FieldRef::Int(i) => parts.push(format!("{name}={i}")),
                FieldRef::Number(n) => parts.push(format!("{name}={}", n.as_f64())),
                FieldRef::Bool(b) => parts.push(format!("{name}={b}")),
                _ => {}
            });
            for (k, v) in &ev.extra {
                let mut text = Vec::new();
                json::write_value(&mut text, v, Format::Compact);
                parts.push(format!("{k}={}", clip(&String::from_utf8_lossy(&text), 30)));
            }
            parts.join(" ")
        }
    }
}

pub fn run(args: Args) -> CmdResult {
    let path = &args.file;
    let open_err = |e: io::Error| {
        Failure::Message(format!(
            "cannot open {}: {}",
            path.display(),
            crate::plain(&e)
        ))
    };
    // The input, how much of it this first pass reads, and the file to
    // follow afterwards (from where this pass stops, in this file even if
    // the path is rotated meanwhile).
    let (input, len, rest): (Box<dyn Read>, u64, Option<File>) = if path.as_os_str() == "-" {
        (crate::open_input(path)?, u64::MAX, None)
    } else {
        let file = File::open(path).map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        if meta.is_dir() {
            return Err(Failure::Message(format!(
                "cannot read {}: it is a directory",
                path.display()
            )));
        }
        if meta.is_file() && (meta.len() > 0 || args.follow) {
            let rest = args
                .follow
                .then(|| file.try_clone())
                .transpose()
                .map_err(open_err)?;
            (Box::new(file.take(meta.len())), meta.len(), rest)
        } else {
            // No size to stop at (a FIFO, a device, `/proc`): to the end,
            // which a pipe's writer decides; nothing to follow after it.
            (Box::new(file), u64::MAX, None)
        }
    };
    let follow = rest.is_some();
    let mut printer = Printer {
        pretty: io::stdout().is_terminal(),
        out: crate::stdout(),
    };
    let mut parser = agent_audit::json::LineParser::new();
    let mut bad = 0u64;

    // The last N matching lines of what is there now; with --follow, stop
    // at the last whole line so following resumes exactly there.
    let mut lines = Lines::new(input).max_line(args.max_line.bytes());
    let mut last: VecDeque<(Vec<u8>, Event)> = VecDeque::with_capacity(args.lines.min(4096));
    let mut resume = (len, 0u64);
    // A line too long, held back in case it is the unfinished last one,
    // which following reports once it ends.
    let mut too_long: Option<LineError> = None;
    while let Some(item) = lines.next_line() {
        if let Some(e) = too_long.take() {
            bad += 1;
            crate::saw_problem();
            report!("{e}");
        }
        match item {
            Ok(raw) if !raw.terminated && follow => {
                resume = (len - raw.bytes.len() as u64, raw.number - 1);
            }
            Ok(raw) => {
                resume.1 = raw.number;
                match parser.parse(raw.bytes) {
                    Ok(ev) if args.matches(&ev) => {
                        if args.lines > 0 {
                            if last.len() == args.lines {
                                last.pop_front();
                            }
                            last.push_back((raw.bytes.to_vec(), ev));
                        }
                    }
                    Ok(_) => {}
                    // Unterminated and unreadable: what a writer killed
                    // mid-line leaves, reported as the reader does.
                    Err(_) if !raw.terminated => {
                        bad += 1;
                        crate::saw_problem();
                        let torn = LineError {
                            line: raw.number,
                            kind: LineErrorKind::Torn,
                        };
                        report!("{torn}");
                    }
                    Err(e) => {
                        bad += 1;
                        crate::saw_problem();
                        report!("line {}: {e}", raw.number);
                    }
                }
            }
            Err(e) => {
                if let LineErrorKind::Io(_) = e.kind {
                    return Err(Failure::Message(format!("reading {}: {e}", path.display())));
                }
                if let LineErrorKind::TooLong { .. } = e.kind {
                    too_long = Some(e);
                    continue;
                }
                bad += 1;
                crate::saw_problem();
                report!("{e}");
            }
        }
    }
    if resume.0 == len {
        // Everything read was whole lines: following counts on from the
        // last, blank ones included.
        resume.1 = lines.line();
    }
    if let Some(e) = too_long {
        let max = args.max_line.bytes();
        if rest
            .as_ref()
            .is_some_and(|f| unfinished_line_longer_than(f, len, max))
        {
            // Following starts inside it and reports it when it ends.
            resume = (len, e.line - 1);
        } else {
            bad += 1;
            crate::saw_problem();
            report!("{e}");
        }
    }
    for (raw, ev) in &last {
        printer.show(raw, ev)?;
    }
    printer.out.flush()?;
    let Some(rest) = rest else {
        return Ok(if bad == 0 {
            Outcome::Ok
        } else {
            Outcome::Problems
        });
    };

    let start = Start::At {
        offset: resume.0,
        line: resume.1,
    };
    let mut follow = Follow::with_file(path, rest, start)
        .map_err(open_err)?
        .max_line(args.max_line.bytes());
    while let Some(item) = follow.next() {
        match item {
            Ok(rec) if args.matches(&rec.event) => {
                // Piped, the line as it is in the file.
                printer.show(follow.last_line(), &rec.event)?;
                printer.out.flush()?;
            }
            Ok(_) => {}
            Err(e) => {
                if let LineErrorKind::Io(_) = e.kind {
                    return Err(Failure::Message(format!("reading {}: {e}", path.display())));
                }
                crate::saw_problem();
                report!("{e}");
            }
        }
    }
    Ok(Outcome::Ok)
}

/// Whether the first `len` bytes of `file` end inside a line longer than
/// `max` bytes (a byte-order mark opening the file not counted, as the
/// readers do not count it): the one a reader reports as too long at the
/// end, which following will report once it ends. A read error says no.
fn unfinished_line_longer_than(file: &File, len: u64, max: usize) -> bool {
    use std::os::unix::fs::FileExt;
    // Far enough back to tell, with room for the mark.
    let within = (max as u64).saturating_add(4);
    match agent_audit::reader::line_start(file, len, within) {
        Ok(Some(start)) => {
            let mut mark = [0u8; 3];
            let bom =
                start == 0 && file.read_exact_at(&mut mark, 0).is_ok() && mark == *b"\xEF\xBB\xBF";
            len - start - if bom { 3 } else { 0 } > max as u64
        }
        Ok(None) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escape sequences in a log (ESC, BEL, the C1 CSI) reach the terminal
    /// as spaces; other text is kept.
    #[test]
    fn log_text_reaches_the_terminal_without_control_characters() {
        assert_eq!(printable("a\x1b]0;x\x07b\u{9b}2Jc\né"), "a ]0;x b 2Jc é");
    }
}
