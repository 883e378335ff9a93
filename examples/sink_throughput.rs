//! Sink throughput on this machine, in one process that does nothing
//! else: `THREADS` agent loops emit `EVENTS` copies of the benchmark
//! record (a `tool_call_attempt` with a 160-character arguments preview)
//! through an `Emitter` into a default `JsonlSink`, and the clock stops
//! when `flush` returns. Prints events/s, MB/s and how many batches the
//! waiting producers wrote.
//!
//! ```text
//! cargo run --release --example sink_throughput -- [EVENTS] [THREADS] [PATH] [FORMAT]
//! ```
//!
//! Defaults: 1,000,000 events, 1 thread, `/dev/shm/agent-audit-throughput.jsonl`
//! (removed at the end), `compact` (or `python`). It is the benchmark's `agent-audit` row without
//! criterion, for profiling (`perf record`, `valgrind --tool=callgrind`)
//! and for comparing two builds in alternating runs.

use std::sync::Arc;
use std::time::Instant;

use agent_audit::{Emitter, Format, JsonlSink};

/// The benchmark record's preview (`benches/common`): 160 ASCII
/// characters with the quotes a JSON argument list has.
const ARGS: &str = "{\"query\": \"acme corp quarterly revenue report 2026 q1 results versus \
analyst consensus and prior year guidance\", \"max_results\": 10, \"lang\": \"en-us\", \"fresh\": 1}";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let threads: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let path = args
        .next()
        .unwrap_or_else(|| "/dev/shm/agent-audit-throughput.jsonl".into());
    let format = match args.next().as_deref() {
        None | Some("compact") => Format::Compact,
        Some("python") => Format::Python,
        Some(other) => return Err(format!("unknown format {other:?}: compact or python").into()),
    };
    let _ = std::fs::remove_file(&path);

    let sink = Arc::new(JsonlSink::builder().format(format).open(&path)?);
    let emitter = Emitter::with_collector(sink.clone()).with_session("sess-8c1e5f0a2b7d");
    let per = events / threads.max(1);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let emitter = emitter.clone();
            s.spawn(move || {
                for _ in 0..per {
                    emitter.tool_call_attempt(
                        "web_search",
                        ARGS,
                        Some("agent-1"),
                        Some("3f2a9c01b7de"),
                    );
                }
            });
        }
    });
    sink.flush()?;
    let seconds = start.elapsed().as_secs_f64();
    let stats = sink.stats();
    sink.close()?;
    let _ = std::fs::remove_file(&path);

    let total = per * threads;
    assert_eq!(stats.events_written, total, "every event is in the file");
    println!(
        "{total} events from {threads} thread(s) in {seconds:.3} s: {:.0} events/s, {:.0} MB/s; \
         {} of ~{} batches written by waiting producers",
        total as f64 / seconds,
        stats.bytes_written as f64 / seconds / 1e6,
        stats.batches_by_producers,
        stats.bytes_written.div_ceil(64 << 10),
    );
    Ok(())
}
