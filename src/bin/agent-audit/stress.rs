//! `stress`: simulated agent loops emitting through the real pipeline.
//!
//! Each thread plays an agent: per turn a `turn_start`, a policy and a
//! sandbox decision, a tool attempt, its completion (or, one time in ten, a
//! failure), now and then a loop warning or block and a hook mutation, and
//! a `turn_end`. Every emit is timed on the producer, from the call to its
//! return, and recorded in a histogram.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_audit::{Emitter, JsonlSink};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{CmdResult, Failure, FormatArg, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// The log to append to [default: agent-audit-stress.jsonl in /dev/shm,
    /// or in the temporary directory]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// How many events to write in all.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    events: u64,
    /// How many agent loops (threads) emit at once (1 to 4096).
    #[arg(long, default_value_t = 2, value_name = "T", value_parser = clap::value_parser!(u16).range(1..=4096))]
    threads: u16,
    /// Line format.
    #[arg(long, value_enum, default_value = "compact")]
    format: FormatArg,
    /// Print one JSON object with the results instead of a summary.
    #[arg(long)]
    json: bool,
}

const TOOLS: [&str; 6] = [
    "web_search",
    "read_file",
    "write_file",
    "shell_exec",
    "calculator",
    "http_get",
];
const PROMPTS: [&str; 3] = [
    "Summarise the quarterly report and list the three largest cost increases, with the department responsible for each.",
    "Find the failing test in the CI log, explain the root cause, and propose a patch.",
    "Plan a three-day trip to Lisbon for two people on a moderate budget, with one museum a day.",
];
const ARGS: [&str; 3] = [
    r#"{"query": "quarterly report 2026 Q3 cost increases by department", "max_results": 10, "region": "eu-west", "safe": true, "lang": "en", "page": 1}"#,
    r#"{"path": "/srv/reports/2026/q3/finance/summary-final-v2.xlsx", "sheet": "Costs", "range": "A1:F200", "as": "csv", "encoding": "utf-8"}"#,
    r#"{"cmd": ["pytest", "-x", "tests/test_pipeline.py::test_batched_flush_after_rotation"], "timeout_s": 120, "cwd": "/srv/agent", "env": {}}"#,
];
const RESULTS: [&str; 2] = [
    "10 results: 1. Q3 report (finance.example.com) 2. Cost review 2026 3. Department budgets...",
    "exit 1: FAILED tests/test_pipeline.py::test_batched_flush_after_rotation - AssertionError: 41 != 42",
];

/// A small fast generator: the simulation's randomness, not a secret.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One agent loop: emits exactly `quota` events.
fn agent(
    id: usize,
    emitter: &Emitter,
    quota: u64,
    progress: &AtomicU64,
    abort: &AtomicBool,
) -> Histogram<u64> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let agent_name = format!("agent-{id}");
    let a = Some(agent_name.as_str());
    let mut done = 0u64;
    let mut timed = |f: &mut dyn FnMut()| -> bool {
        if done == quota || (done.is_multiple_of(1024) && abort.load(Ordering::Relaxed)) {
            return false;
        }
        let t = Instant::now();
        f();
        hist.saturating_record(t.elapsed().as_nanos() as u64);
        done += 1;
        if done.is_multiple_of(4096) {
            progress.fetch_add(4096, Ordering::Relaxed);
        }
        true
    };
    'turns: loop {
        let tool = TOOLS[rng.below(TOOLS.len() as u64) as usize];
        let k = rng.below(3) as usize;
        let mut turn = Default::default();
        if !timed(&mut || turn = emitter.turn_start(PROMPTS[k], a, None)) {
            break;
        }
        let t = Some(turn.as_str());
        let fail = rng.below(10) == 0;
        let warn = rng.below(20) == 0;
        let block = rng.below(100) == 0;
        let hook = rng.below(5) == 0;
        let duration = 5.0 + (rng.below(200_000) as f64) / 100.0;
        let steps: [(bool, &mut dyn FnMut()); 8] = [
            (true, &mut || {
                emitter.tool_policy_decision(tool, "allow", "default_policy", a, t)
            }),
            (true, &mut || {
                emitter.sandbox_decision(
                    tool,
                    "untrusted_input",
                    "network access",
                    "subprocess",
                    a,
                    t,
                )
            }),
            (true, &mut || emitter.tool_call_attempt(tool, ARGS[k], a, t)),
            (warn, &mut || {
                emitter.tool_loop_warning(tool, "same_args_3x", "warning", 3, a, t)
            }),
            (block, &mut || {
                emitter.tool_loop_block(tool, "same_args_5x", 5, a, t)
            }),
            (!fail, &mut || {
                emitter.tool_call_complete(tool, "success", duration, RESULTS[k % 2], a, t)
            }),
            (fail, &mut || {
                emitter.tool_call_failure(tool, "TimeoutError", "no response within 30 s", a, t)
            }),
            (hook, &mut || {
                emitter.hook_mutation("redact_secrets", tool, "result", a, t)
            }),
        ];
        for (on, step) in steps {
            if on && !timed(step) {
                break 'turns;
            }
        }
        if !timed(&mut || emitter.turn_end(RESULTS[k % 2], 1, a, t)) {
            break;
        }
    }
    progress.fetch_add(done % 4096, Ordering::Relaxed);
    hist
}

fn default_out() -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    dir.join("agent-audit-stress.jsonl")
}

pub fn run(args: Args) -> CmdResult {
    let out = args.out.unwrap_or_else(default_out);
    let threads = usize::from(args.threads);
    let sink = JsonlSink::builder()
        .format(args.format.into())
        .capacity(4096)
        .close_timeout(Duration::from_secs(1))
        .open(&out)
        .map_err(|e| {
            Failure::Message(format!(
                "cannot open {}: {}",
                out.display(),
                crate::plain(&e)
            ))
        })?;
    let sink = Arc::new(sink);
    let emitter = Emitter::with_collector(sink.clone()).with_session("stress-session");

    let bar = if std::io::stderr().is_terminal() && !args.json {
        let bar = ProgressBar::with_draw_target(Some(args.events), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    } else {
        ProgressBar::hidden()
    };
    let progress = AtomicU64::new(0);
    let abort = AtomicBool::new(false);
    let start = Instant::now();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds");
    let mut fault = None;
    let mut spawn_error = None;
    // Each agent says when it is done, so the clock stops as soon as the
    // last one is (not at the watcher's next look).
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let quota =
                args.events / threads as u64 + u64::from((i as u64) < args.events % threads as u64);
            let (emitter, progress, abort) = (emitter.clone(), &progress, &abort);
            let done = done_tx.clone();
            let spawned = std::thread::Builder::new().spawn_scoped(s, move || {
                let hist = agent(i, &emitter, quota, progress, abort);
                let _ = done.send(());
                hist
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    abort.store(true, Ordering::Relaxed);
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        drop(done_tx);
        // Watch for a write fault: producers would block on a full queue
        // forever, so stop them and close (which unblocks them).
        let mut running = handles.len();
        while running > 0 {
            match done_rx.recv_timeout(Duration::from_millis(20)) {
                Ok(()) => running -= 1,
                // An agent ended without saying so (a panic): join below.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            bar.set_position(progress.load(Ordering::Relaxed));
            if sink.stats().faulted {
                abort.store(true, Ordering::Relaxed);
                let err = sink.flush().err();
                let closed = sink.close().err();
                fault = err
                    .or(closed)
                    .or(Some(agent_audit::Error::Closed { count: 0 }));
                break;
            }
        }
        for h in handles {
            if let Ok(h) = h.join() {
                let _ = hist.add(&h);
            }
        }
    });
    if let Some(e) = spawn_error {
        bar.abandon();
        let _ = sink.close();
        return Err(Failure::Message(format!(
            "cannot start {threads} agent threads: {}",
            crate::plain(&e)
        )));
    }
    let closed = match fault {
        Some(e) => Err(e),
        None => sink.close(),
    };
    if let Err(e) = closed {
        bar.abandon();
        let cause = match &e {
            agent_audit::Error::Io(io) | agent_audit::Error::Abandoned { cause: io, .. } => {
                crate::plain(io)
            }
            other => other.to_string(),
        };
        return Err(Failure::Message(format!(
            "writing {}: {cause}",
            out.display()
        )));
    }
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let stats = sink.stats();
    let events = stats.events_written;
    let bytes = stats.bytes_written;
    let eps = events as f64 / seconds;
    let q = |p: f64| hist.value_at_quantile(p);
    let mut stdout = crate::stdout();
    if args.json {
        writeln!(
            stdout,
            "{{\"events\":{events},\"seconds\":{seconds:.6},\"events_per_sec\":{eps:.1},\"bytes\":{bytes},\
             \"p50_ns\":{},\"p99_ns\":{},\"p999_ns\":{},\"max_ns\":{}}}",
            q(0.5),
            q(0.99),
            q(0.999),
            hist.max()
        )?;
    } else {
        writeln!(
            stdout,
            "wrote {events} events ({:.1} MB) to {} in {seconds:.3} s with {threads} thread{}",
            bytes as f64 / 1e6,
            out.display(),
            if threads == 1 { "" } else { "s" }
        )?;
        writeln!(
            stdout,
            "  throughput    {:.2} M events/s, {:.0} MB/s",
            eps / 1e6,
            bytes as f64 / 1e6 / seconds
        )?;
        writeln!(
            stdout,
            "  emit latency  p50 {}, p99 {}, p99.9 {}, max {}",
            ns(q(0.5)),
            ns(q(0.99)),
            ns(q(0.999)),
            ns(hist.max())
        )?;
    }
    Ok(Outcome::Ok)
}

/// A duration in nanoseconds, readable.
fn ns(v: u64) -> String {
    match v {
        0..=9_999 => format!("{v} ns"),
        10_000..=9_999_999 => format!("{:.1} µs", v as f64 / 1e3),
        _ => format!("{:.1} ms", v as f64 / 1e6),
    }
}
