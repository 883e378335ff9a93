//! The in-memory collector: emit from one and two threads, `snapshot()` at
//! 1k, 100k, 200k and 1M events (it must not grow with the log), and
//! `events_of_type` over 100k events.
//!
//! Emit is measured two ways: a pre-built event moved in (the collector
//! alone), and the whole agent-side call `Emitter::tool_call_attempt`
//! (building and stamping the event, copying the 160-character preview,
//! then the collector). The log is cleared (untimed) every 2^20 events so
//! memory stays bounded however many iterations criterion asks for.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_audit::event::{ToolCallAttempt, ToolCallComplete, TurnEnd, TurnStart};
use agent_audit::{Emitter, Event, MemoryCollector};
use common::{event, AGENT, ARGS, SESSION, TOOL, TURN};
use criterion::{BenchmarkId, Criterion, Throughput};

const CHUNK: u64 = 1 << 20;

/// Emits `iters` events split over `threads` threads with `emit`, clearing
/// the log between chunks; returns the time spent emitting (wall time of
/// each chunk, all threads).
fn emit_chunks(
    memory: &MemoryCollector,
    iters: u64,
    threads: u64,
    emit: &(dyn Fn(&MemoryCollector, u64) + Sync),
) -> Duration {
    let mut left = iters;
    let mut total = Duration::ZERO;
    while left > 0 {
        let chunk = left.min(CHUNK);
        let per = chunk.div_ceil(threads);
        let start = Instant::now();
        if threads == 1 {
            emit(memory, chunk);
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| emit(memory, per));
                }
            });
        }
        total += start.elapsed();
        memory.clear();
        left -= chunk;
    }
    total
}

fn emit_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory_emit");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));

    let memory = Arc::new(MemoryCollector::new());
    let prebuilt = event();

    // The collector alone: a pre-built event moved in. The clone (reference
    // counts only) is in the timed loop; its cost is measured on its own
    // below.
    group.bench_function("event_clone_only", |b| {
        b.iter(|| black_box(prebuilt.clone()))
    });
    for threads in [1u64, 2] {
        group.bench_function(
            BenchmarkId::new("emit_prebuilt", format!("{threads}t")),
            |b| {
                b.iter_custom(|iters| {
                    emit_chunks(&memory, iters, threads, &|m, n| {
                        for _ in 0..n {
                            m.emit(prebuilt.clone());
                        }
                    })
                })
            },
        );
    }

    // What an agent loop pays: the emitter builds the event and emits it.
    let emitter = Emitter::with_collector(memory.clone()).with_session(SESSION);
    for threads in [1u64, 2] {
        group.bench_function(
            BenchmarkId::new("emitter_call", format!("{threads}t")),
            |b| {
                b.iter_custom(|iters| {
                    emit_chunks(&memory, iters, threads, &|_, n| {
                        for _ in 0..n {
                            emitter.tool_call_attempt(TOOL, ARGS, Some(AGENT), Some(TURN));
                        }
                    })
                })
            },
        );
    }
    group.finish();
}

/// A mix of four event types; a quarter are `tool_call_attempt`s.
fn mixed(i: usize) -> Event {
    let ev = match i % 8 {
        0 => Event::new(TurnStart {
            prompt_preview: "Summarise the quarterly report and list the risks".into(),
        }),
        1 | 4 => Event::new(ToolCallAttempt {
            tool_name: TOOL.into(),
            arguments_preview: ARGS.into(),
        }),
        2 | 5 => Event::new(ToolCallComplete {
            tool_name: TOOL.into(),
            duration_ms: (12.5 + i as f64).into(),
            result_preview: "10 results: Q1 revenue up 12% on the prior year".into(),
            ..Default::default()
        }),
        _ => Event::new(TurnEnd {
            content_preview: "Revenue grew 12%; the main risks are supply and FX.".into(),
            function_calls_count: 2,
        }),
    };
    ev.agent(AGENT).turn(TURN).session(SESSION)
}

fn filled(n: usize) -> MemoryCollector {
    let memory = MemoryCollector::new();
    for i in 0..n {
        memory.emit(mixed(i));
    }
    memory
}

fn read_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory_snapshot");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for n in [1_000usize, 100_000, 200_000, 1_000_000] {
        let memory = filled(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &memory, |b, m| {
            b.iter(|| m.snapshot())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("memory_query");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(100_000));
    let memory = filled(100_000);
    // A copy of every 4th event (25k), as the reference's list copy does.
    group.bench_function("events_of_type/100000", |b| {
        b.iter(|| memory.events_of_type("tool_call_attempt"))
    });
    // The same query without copying: iterate a snapshot.
    group.bench_function("snapshot_of_type_count/100000", |b| {
        b.iter(|| memory.snapshot().of_type("tool_call_attempt").count())
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    emit_benches(&mut c);
    read_benches(&mut c);
    c.final_summary();
}
