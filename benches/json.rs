//! Serialisation and parsing alone, no I/O.
//!
//! * `json_write/*`: the benchmark record into a reused `Vec<u8>`: ours in
//!   both formats, serde_json of an equivalent serde struct, serde_json of
//!   our `Event` through its `Serialize` impl. Also the whole 10k-line log.
//! * `json_parse/*`: a realistic 10,000-line log (ten event types from
//!   simulated agent turns, metadata on some, a few non-ASCII characters),
//!   written by our writer in both formats, parsed line by line: ours
//!   (`LineParser::parse`, to a typed `Event`), `serde_json::Value`,
//!   serde_json into a derived struct, serde_json into our `Event`; and
//!   the whole buffer read by `reader::read_slice` (in place) and by
//!   `reader::Reader` (through `io::Read`), line splitting included.
//!
//! Throughput is in bytes, so criterion prints GB/s.

mod common;

use std::hint::black_box;
use std::time::Duration;

use agent_audit::event::*;
use agent_audit::json::{self, Format, LineParser};
use agent_audit::reader::{read_slice, Reader};
use agent_audit::{Event, Timestamp};
use common::{event, SerdeRecord, ARGS, SESSION};
use criterion::{BenchmarkId, Criterion, Throughput};
use serde::Deserialize;

const LOG_LINES: usize = 10_000;

/// One simulated agent turn: ten events.
fn turn(n: usize, out: &mut Vec<Event>) {
    let agent = ["agent-1", "agent-2", "planner", "reviewer"][n % 4];
    let turn = format!(
        "{:012x}",
        0x3f2a_9c01_b7de_u64.wrapping_mul(n as u64 + 1) & 0xffff_ffff_ffff
    );
    let t0 = 1_778_750_000_000_000i64 + n as i64 * 2_500_000;
    let mut k = 0i64;
    let mut push = |ev: Event| {
        k += 1;
        out.push(
            ev.agent(agent)
                .turn(turn.as_str())
                .session(SESSION)
                .at(Timestamp::from_unix_micros(t0 + k * 173_245)),
        );
    };
    let tool = ["web_search", "file_read", "python_exec", "http_get"][n % 4];
    push(Event::new(TurnStart {
        prompt_preview: format!(
            "Task {n}: summarise the Q1 report for {agent}, list the three largest risks and \
             compare revenue with the prior year"
        )
        .into(),
    }));
    push(Event::new(ToolPolicyDecision {
        tool_name: tool.into(),
        action: (if n % 17 == 16 { "deny" } else { "allow" }).into(),
        policy_source: "policies/default.yaml".into(),
    }));
    push(Event::new(SandboxDecision {
        tool_name: tool.into(),
        context: "network".into(),
        reason: "read-only tool, no filesystem writes".into(),
        backend_type: "subprocess".into(),
    }));
    push(Event::new(ToolCallAttempt {
        tool_name: tool.into(),
        arguments_preview: ARGS.into(),
    }));
    if n % 5 == 4 {
        push(
            Event::new(ToolCallFailure {
                tool_name: tool.into(),
                error_type: "TimeoutError".into(),
                error_message: format!("no answer from {tool} within 30 s (attempt {})", n % 3 + 1)
                    .into(),
            })
            .meta("attempt", (n % 3 + 1) as i64)
            .meta("retryable", true),
        );
    } else {
        push(
            Event::new(ToolCallComplete {
                tool_name: tool.into(),
                duration_ms: (12.25 + (n % 97) as f64 * 3.5).into(),
                result_preview: format!(
                    "10 results — Q1 revenue {}.{}M, up {}% on the prior year; top hit: \
                     investors.acme.com/q1-2026.pdf",
                    40 + n % 9,
                    n % 10,
                    n % 15
                )
                .into(),
                ..Default::default()
            })
            .meta("tokens", (800 + n % 700) as i64)
            .meta("cached", [true, false, false][n % 3]),
        );
    }
    push(Event::new(HookMutation {
        hook_name: "redact_secrets".into(),
        tool_name: tool.into(),
        mutated_field: "result".into(),
    }));
    push(Event::new(SkillUsed {
        skill_name: "summarise".into(),
        version: "1.2.0".into(),
        outcome: "success".into(),
        duration_ms: (40.0 + (n % 13) as f64).into(),
        triggered_automatically: [true, false][n % 2],
    }));
    push(Event::new(ToolLoopWarning {
        tool_name: tool.into(),
        pattern: "same_args_3x".into(),
        severity_level: "warning".into(),
        call_count: 3,
    }));
    push(Event::new(AgentSwitch {
        from_agent: agent.into(),
        to_agent: "reviewer".into(),
        reason: "needs review before the answer is sent".into(),
    }));
    push(Event::new(TurnEnd {
        content_preview: format!(
            "Revenue grew {}% ✓ — risks: supply chain, FX exposure, and the pending audit of \
             the EU subsidiary; see the attached summary for details.",
            n % 15
        )
        .into(),
        function_calls_count: 1,
    }));
}

fn log_events() -> Vec<Event> {
    let mut events = Vec::with_capacity(LOG_LINES);
    let mut n = 0;
    while events.len() < LOG_LINES {
        turn(n, &mut events);
        n += 1;
    }
    events.truncate(LOG_LINES);
    events
}

fn write_log(events: &[Event], format: Format) -> Vec<u8> {
    let mut buf = Vec::with_capacity(events.len() * 400);
    for ev in events {
        json::write_event(&mut buf, ev, format);
    }
    buf
}

/// A typed serde target for the log's lines: the envelope plus every own
/// field of the event types in it.
#[derive(Deserialize)]
#[allow(dead_code)] // fields are read by serde only
struct TypedLine {
    event_type: String,
    timestamp: String,
    agent_id: Option<String>,
    turn_id: Option<String>,
    session_id: Option<String>,
    severity: String,
    metadata: serde_json::Map<String, serde_json::Value>,
    prompt_preview: Option<String>,
    content_preview: Option<String>,
    function_calls_count: Option<i64>,
    tool_name: Option<String>,
    arguments_preview: Option<String>,
    status: Option<String>,
    duration_ms: Option<f64>,
    result_preview: Option<String>,
    error_type: Option<String>,
    error_message: Option<String>,
    action: Option<String>,
    policy_source: Option<String>,
    context: Option<String>,
    reason: Option<String>,
    backend_type: Option<String>,
    hook_name: Option<String>,
    mutated_field: Option<String>,
    skill_name: Option<String>,
    version: Option<String>,
    outcome: Option<String>,
    triggered_automatically: Option<bool>,
    pattern: Option<String>,
    severity_level: Option<String>,
    call_count: Option<i64>,
    from_agent: Option<String>,
    to_agent: Option<String>,
}

fn write_benches(c: &mut Criterion) {
    let ev = event();
    let record = SerdeRecord {
        timestamp: ev.timestamp.clone(),
        ..common::serde_record()
    };
    let mut buf = Vec::with_capacity(4096);

    let mut group = c.benchmark_group("json_write");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));

    for format in [Format::Compact, Format::Python] {
        let len = json::to_line(&ev, format).len() as u64;
        group.throughput(Throughput::Bytes(len));
        let name = format!("agent-audit/{format:?}").to_lowercase();
        group.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                json::write_event(&mut buf, black_box(&ev), format);
                black_box(buf.len())
            })
        });
    }

    let mut line = serde_json::to_vec(&record).unwrap();
    line.push(b'\n');
    group.throughput(Throughput::Bytes(line.len() as u64));
    group.bench_function("serde_json/struct", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&record)).unwrap();
            buf.push(b'\n');
            black_box(buf.len())
        })
    });

    let mut line = serde_json::to_vec(&ev).unwrap();
    line.push(b'\n');
    group.throughput(Throughput::Bytes(line.len() as u64));
    group.bench_function("serde_json/Event", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&ev)).unwrap();
            buf.push(b'\n');
            black_box(buf.len())
        })
    });
    group.finish();

    // The whole 10k-line log.
    let events = log_events();
    let mut group = c.benchmark_group("json_write_log");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    let mut buf = Vec::with_capacity(8 << 20);
    for format in [Format::Compact, Format::Python] {
        let len = write_log(&events, format).len() as u64;
        group.throughput(Throughput::Bytes(len));
        let name = format!("agent-audit/{format:?}").to_lowercase();
        group.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                for ev in &events {
                    json::write_event(&mut buf, ev, format);
                }
                black_box(buf.len())
            })
        });
    }
    let len = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap().len() + 1)
        .sum::<usize>();
    group.throughput(Throughput::Bytes(len as u64));
    group.bench_function("serde_json/Event", |b| {
        b.iter(|| {
            buf.clear();
            for ev in &events {
                serde_json::to_writer(&mut buf, ev).unwrap();
                buf.push(b'\n');
            }
            black_box(buf.len())
        })
    });
    group.finish();
}

fn parse_benches(c: &mut Criterion) {
    let events = log_events();
    let mut group = c.benchmark_group("json_parse");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_millis(500));
    for format in [Format::Compact, Format::Python] {
        let log = write_log(&events, format);
        let lines: Vec<&[u8]> = log
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), LOG_LINES);
        let fmt = format!("{format:?}").to_lowercase();
        println!(
            "json_parse: {fmt} log, {} lines, {} bytes ({:.0} bytes/line)",
            lines.len(),
            log.len(),
            log.len() as f64 / lines.len() as f64
        );
        // Every parser agrees on the log before it is timed.
        let mut parser = LineParser::new();
        for (line, ev) in lines.iter().zip(&events) {
            assert_eq!(&parser.parse(line).unwrap(), ev);
            serde_json::from_slice::<TypedLine>(line).unwrap();
        }
        group.throughput(Throughput::Bytes(log.len() as u64));

        group.bench_function(BenchmarkId::new("agent-audit/LineParser", &fmt), |b| {
            b.iter(|| {
                for line in &lines {
                    black_box(parser.parse(line).unwrap());
                }
            })
        });
        // The floor under any simd-json reader: copy the line (simd-json
        // unescapes in place) and build its tape, nothing else.
        group.bench_function(BenchmarkId::new("simd-json/tape only", &fmt), |b| {
            let mut buffers = simd_json::Buffers::default();
            let mut scratch = Vec::new();
            let mut tape: Option<simd_json::Tape<'static>> = Some(simd_json::Tape::null());
            b.iter(|| {
                for line in &lines {
                    scratch.clear();
                    scratch.extend_from_slice(line);
                    let mut t = tape.take().unwrap_or_else(simd_json::Tape::null).reset();
                    simd_json::fill_tape(&mut scratch, &mut buffers, &mut t).unwrap();
                    black_box(t.0.len());
                    tape = Some(t.reset());
                }
            })
        });
        group.bench_function(BenchmarkId::new("serde_json/Value", &fmt), |b| {
            b.iter(|| {
                for line in &lines {
                    black_box(serde_json::from_slice::<serde_json::Value>(line).unwrap());
                }
            })
        });
        group.bench_function(BenchmarkId::new("serde_json/struct", &fmt), |b| {
            b.iter(|| {
                for line in &lines {
                    black_box(serde_json::from_slice::<TypedLine>(line).unwrap());
                }
            })
        });
        group.bench_function(BenchmarkId::new("serde_json/Event", &fmt), |b| {
            b.iter(|| {
                for line in &lines {
                    black_box(serde_json::from_slice::<Event>(line).unwrap());
                }
            })
        });
        group.bench_function(BenchmarkId::new("agent-audit/read_slice", &fmt), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for record in read_slice(&log) {
                    black_box(record.unwrap());
                    n += 1;
                }
                assert_eq!(n, LOG_LINES);
            })
        });
        group.bench_function(BenchmarkId::new("agent-audit/Reader", &fmt), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for record in Reader::new(&log[..]) {
                    black_box(record.unwrap());
                    n += 1;
                }
                assert_eq!(n, LOG_LINES);
            })
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    write_benches(&mut c);
    parse_benches(&mut c);
    c.final_summary();
}
