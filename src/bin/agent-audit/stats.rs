//! `stats`: what a log says, summed up, in one streaming pass.
//!
//! Memory grows with the number of distinct types, severities, agents and
//! tools, never with the number of events: durations go into fixed-size
//! histograms (microsecond resolution, three significant digits).

use std::collections::BTreeMap;
use std::io::{self, Write};

use agent_audit::json::{self, Format};
use agent_audit::reader::{LineErrorKind, Reader};
use agent_audit::{Kind, Map, Number, Value};
use hdrhistogram::Histogram;

use crate::{open_input, printable, CmdResult, Failure, Outcome, PathArg};

#[derive(clap::Args)]
pub struct Args {
    /// The log to summarise (`-` for stdin).
    file: PathArg,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    max_line: crate::MaxLine,
}

struct Tool {
    events: u64,
    calls: u64,
    completes: u64,
    failures: u64,
    denied: u64,
    /// Durations in microseconds (to three significant digits; the range
    /// grows with the longest).
    durations: Histogram<u64>,
    /// The longest duration, exactly, in milliseconds.
    max_ms: Option<f64>,
}

impl Tool {
    fn new() -> Tool {
        Tool {
            events: 0,
            calls: 0,
            completes: 0,
            failures: 0,
            denied: 0,
            durations: Histogram::new(3).expect("valid precision"),
            max_ms: None,
        }
    }

    fn failure_rate(&self) -> Option<f64> {
        let done = self.completes + self.failures;
        (done > 0).then(|| self.failures as f64 / done as f64)
    }

    /// A duration percentile in milliseconds: the middle of its
    /// histogram bucket (within 0.1% of the value), never above the max.
    fn ms(&self, q: f64) -> Option<f64> {
        let max = self.max_ms?;
        let us = self
            .durations
            .median_equivalent(self.durations.value_at_quantile(q));
        Some((us as f64 / 1000.0).min(max))
    }
}

#[derive(Default)]
struct Summary {
    events: u64,
    invalid: u64,
    by_type: BTreeMap<String, u64>,
    by_severity: BTreeMap<String, u64>,
    by_agent: BTreeMap<String, u64>,
    /// Events whose `agent_id` is null: apart, as any text can be an id.
    without_agent: u64,
    tools: BTreeMap<String, Tool>,
    policy_decisions: u64,
    policy_denied: u64,
    loop_warnings: u64,
    loop_blocks: u64,
    turns_started: u64,
    turns_ended: u64,
    /// Exact: a sum of `i64`s cannot overflow this before the event
    /// count does.
    function_calls: i128,
    function_calls_max: Option<i64>,
}

impl Summary {
    fn add(&mut self, ev: &agent_audit::Event) {
        self.events += 1;
        *self.by_type.entry(ev.event_type().to_string()).or_default() += 1;
        *self
            .by_severity
            .entry(ev.severity.as_str().to_string())
            .or_default() += 1;
        match ev.agent_id.as_deref() {
            Some(agent) => *self.by_agent.entry(agent.to_string()).or_default() += 1,
            None => self.without_agent += 1,
        }
        if let Some(name) = ev.tool_name() {
            let tool = self.tools.entry(name.to_string()).or_insert_with(Tool::new);
            tool.events += 1;
            match &ev.kind {
                Kind::ToolCallAttempt(_) => tool.calls += 1,
                Kind::ToolCallComplete(c) => {
                    tool.completes += 1;
                    let ms = c.duration_ms.as_f64();
                    if ms.is_finite() && ms >= 0.0 {
                        // Grows the histogram's range as needed; only beyond
                        // u64 microseconds (the cast saturates) is it capped.
                        let us = (ms * 1000.0).round() as u64;
                        if tool.durations.record(us).is_err() {
                            tool.durations.saturating_record(us);
                        }
                        tool.max_ms = Some(tool.max_ms.map_or(ms, |m| m.max(ms)));
                    }
                }
                Kind::ToolCallFailure(_) => tool.failures += 1,
                Kind::ToolPolicyDecision(p) if p.action == "deny" => tool.denied += 1,
                _ => {}
            }
        }
        match &ev.kind {
            Kind::ToolPolicyDecision(p) => {
                self.policy_decisions += 1;
                self.policy_denied += u64::from(p.action == "deny");
            }
            Kind::ToolLoopWarning(_) => self.loop_warnings += 1,
            Kind::ToolLoopBlock(_) => self.loop_blocks += 1,
            Kind::TurnStart(_) => self.turns_started += 1,
            Kind::TurnEnd(t) => {
                self.turns_ended += 1;
                let n = t.function_calls_count;
                self.function_calls += i128::from(n);
                self.function_calls_max = Some(self.function_calls_max.map_or(n, |m| m.max(n)));
            }
            _ => {}
        }
    }

    fn calls_per_turn(&self) -> f64 {
        if self.turns_ended == 0 {
            0.0
        } else {
            self.function_calls as f64 / self.turns_ended as f64
        }
    }
}

pub fn run(args: Args) -> CmdResult {
    let mut sum = Summary::default();
    for item in Reader::new(open_input(&args.file)?).max_line(args.max_line.bytes()) {
        match item {
            Ok(rec) => sum.add(&rec.event),
            Err(e) => {
                if let LineErrorKind::Io(_) = e.kind {
                    return Err(Failure::Message(format!(
                        "reading {}: {e}",
                        args.file.display()
                    )));
                }
                sum.invalid += 1;
                crate::saw_problem();
                report!("{e}");
            }
        }
    }
    let mut out = io::BufWriter::new(crate::stdout());
    if args.json {
        let mut line = Vec::new();
        json::write_value(&mut line, &Value::Object(to_json(&sum)), Format::Compact);
        line.push(b'\n');
        out.write_all(&line)?;
    } else {
        print_tables(&mut out, &args.file.display().to_string(), &sum)?;
    }
    out.flush()?;
    Ok(if sum.invalid == 0 {
        Outcome::Ok
    } else {
        Outcome::Problems
    })
}

fn counts(m: &BTreeMap<String, u64>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.as_str().into(), Value::from(*v)))
            .collect(),
    )
}

/// An integer of any size as a JSON number.
fn exact(n: i128) -> Value {
    Value::Number(Number::from_integer_text(&n.to_string()).expect("decimal digits"))
}

fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

fn to_json(s: &Summary) -> Map {
    let tools: Map = s
        .tools
        .iter()
        .map(|(name, t)| {
            let d = |q| Value::from(t.ms(q));
            let max = t.max_ms;
            let v = obj([
                ("events", t.events.into()),
                ("calls", t.calls.into()),
                ("completes", t.completes.into()),
                ("failures", t.failures.into()),
                ("failure_rate", t.failure_rate().into()),
                ("denied", t.denied.into()),
                (
                    "duration_ms",
                    obj([
                        ("p50", d(0.5)),
                        ("p95", d(0.95)),
                        ("p99", d(0.99)),
                        ("max", max.into()),
                    ]),
                ),
            ]);
            (name.as_str().into(), v)
        })
        .collect();
    let Value::Object(map) = obj([
        ("events", s.events.into()),
        ("invalid_lines", s.invalid.into()),
        ("by_type", counts(&s.by_type)),
        ("by_severity", counts(&s.by_severity)),
        ("by_agent", counts(&s.by_agent)),
        ("without_agent", s.without_agent.into()),
        ("tools", Value::Object(tools)),
        (
            "policy",
            obj([
                ("decisions", s.policy_decisions.into()),
                ("denied", s.policy_denied.into()),
            ]),
        ),
        (
            "loops",
            obj([
                ("warnings", s.loop_warnings.into()),
                ("blocks", s.loop_blocks.into()),
            ]),
        ),
        (
            "turns",
            obj([
                ("started", s.turns_started.into()),
                ("ended", s.turns_ended.into()),
                ("function_calls", exact(s.function_calls)),
                ("function_calls_per_turn", s.calls_per_turn().into()),
                ("function_calls_max", s.function_calls_max.into()),
            ]),
        ),
    ]) else {
        unreachable!()
    };
    map
}

fn table(out: &mut impl Write, title: &str, m: &BTreeMap<String, u64>) -> io::Result<()> {
    writeln!(out, "\n{title}")?;
    // Names come from the log: shown without control characters.
    let mut rows: Vec<_> = m.iter().map(|(k, v)| (printable(k), v)).collect();
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(&b.0)));
    for (k, v) in rows {
        writeln!(out, "  {k:<width$}  {v:>10}")?;
    }
    Ok(())
}

fn opt(v: Option<f64>, suffix: &str) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.1}{suffix}"))
}

fn print_tables(out: &mut impl Write, name: &str, s: &Summary) -> io::Result<()> {
    write!(out, "{name}: {} events", s.events)?;
    if s.invalid > 0 {
        write!(out, " ({} invalid lines skipped)", s.invalid)?;
    }
    writeln!(out)?;
    table(out, "by type", &s.by_type)?;
    table(out, "by severity", &s.by_severity)?;
    table(out, "by agent", &s.by_agent)?;
    if s.without_agent > 0 {
        writeln!(out, "  without an agent id: {}", s.without_agent)?;
    }
    if !s.tools.is_empty() {
        let w = s
            .tools
            .keys()
            .map(|k| printable(k).chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        writeln!(out, "\ntools")?;
        writeln!(
            out,
            "  {:<w$}  {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "tool",
            "events",
            "calls",
            "failures",
            "fail%",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "denied"
        )?;
        for (name, t) in &s.tools {
            let name = printable(name);
            let max = t.max_ms;
            writeln!(
                out,
                "  {name:<w$}  {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>7}",
                t.events,
                t.calls,
                t.failures,
                opt(t.failure_rate().map(|r| r * 100.0), "%"),
                opt(t.ms(0.5), ""),
                opt(t.ms(0.95), ""),
                opt(t.ms(0.99), ""),
                opt(max, ""),
                t.denied
            )?;
        }
    }
    writeln!(
        out,
        "\npolicy decisions  {:>10}  (denied {})",
        s.policy_decisions, s.policy_denied
    )?;
    writeln!(out, "loop warnings     {:>10}", s.loop_warnings)?;
    writeln!(out, "loop blocks       {:>10}", s.loop_blocks)?;
    writeln!(
        out,
        "turns             {:>10}  started, {} ended; function calls {} ({:.2} per turn, max {})",
        s.turns_started,
        s.turns_ended,
        s.function_calls,
        s.calls_per_turn(),
        s.function_calls_max
            .map_or_else(|| "-".into(), |m| m.to_string())
    )?;
    Ok(())
}
