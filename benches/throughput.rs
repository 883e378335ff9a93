//! End-to-end throughput, producer to file on tmpfs: ours and the peers
//! each write `EVENTS` copies of the benchmark record from 1 and 2
//! producer threads, and the clock stops only when everything is in the
//! file (ours: `flush()` returns; tracing-appender and slog-async: their
//! guard is dropped, which drains and joins the worker; the mutex: its
//! `BufWriter` is flushed). Building the pipeline and closing it after
//! are not timed; spawning the producer threads is.
//!
//! Before criterion runs, each pipeline writes the events once and the
//! file is checked to hold exactly that many lines, which also gives the
//! bytes per line used for MB/s. After criterion, a table of events/s and
//! MB/s over every timed run (warm-up included) is printed.
//!
//! `THROUGHPUT_BENCH_EVENTS` (200000) sets the events per iteration.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{open, Pipeline, Scratch};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

const PIPELINES: &[&str] = &[
    "agent-audit",
    "agent-audit-python",
    "agent-audit-event",
    "tracing-appender",
    "tracing-appender-file",
    "slog-async",
    "mutex-serde_json",
];

fn events() -> u64 {
    std::env::var("THROUGHPUT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

/// One timed run: `n` events split over `threads` producers, until the
/// pipeline has written them all.
fn run(p: &dyn Pipeline, threads: u64, n: u64) -> Duration {
    let per = n / threads;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let _entered = p.enter();
                for _ in 0..per {
                    p.emit();
                }
            });
        }
    });
    p.finish();
    start.elapsed()
}

/// (pipeline, threads) → (events, seconds) over every timed run.
static TOTALS: Mutex<Vec<(&str, u64, u64, f64)>> = Mutex::new(Vec::new());

fn account(name: &'static str, threads: u64, events: u64, d: Duration) {
    let mut t = TOTALS.lock().unwrap();
    match t.iter_mut().find(|r| r.0 == name && r.1 == threads) {
        Some(r) => {
            r.2 += events;
            r.3 += d.as_secs_f64();
        }
        None => t.push((name, threads, events, d.as_secs_f64())),
    }
}

/// Writes `n` events through each pipeline once and checks the file;
/// returns the bytes per line of each.
fn check(scratch: &Scratch, n: u64) -> Vec<(&'static str, f64)> {
    println!("\nfiles written by {n} events, 1 producer:");
    let mut out = Vec::new();
    for &name in PIPELINES {
        let path = scratch.file(&format!("check-{name}.jsonl"));
        let p = open(name, &path);
        run(&*p, 1, n);
        drop(p);
        // tracing-appender's worker flushes its writer after the guard
        // returns; give it a moment.
        std::thread::sleep(Duration::from_millis(100));
        let data = std::fs::read(&path).expect("read the file");
        let lines = data.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(lines, n, "{name}: the file has {lines} lines, expected {n}");
        let per_line = data.len() as f64 / n as f64;
        let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
        println!(
            "  {name:<22} {:>6.1} bytes/line  {}",
            per_line,
            String::from_utf8_lossy(first)
        );
        out.push((name, per_line));
        let _ = std::fs::remove_file(&path);
    }
    out
}

fn throughput(c: &mut Criterion, scratch: &Scratch) {
    let n = events();
    let mut group = c.benchmark_group("throughput");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(n));
    for threads in [1u64, 2] {
        for &name in PIPELINES {
            let id = BenchmarkId::new(name, format!("{threads}t"));
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let path = scratch.file(&format!("run-{name}.jsonl"));
                        let p = open(name, &path);
                        let d = run(&*p, threads, n);
                        drop(p);
                        account(name, threads, n, d);
                        total += d;
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let profiling = args.iter().any(|a| a == "--profile-time");
    let benching = args.iter().any(|a| a == "--bench") && !profiling;
    let scratch = Scratch::new("throughput");
    let sizes = if benching {
        check(&scratch, events())
    } else {
        Vec::new()
    };
    let mut c = Criterion::default().configure_from_args();
    throughput(&mut c, &scratch);
    c.final_summary();

    if benching {
        println!(
            "\nthroughput over every timed run (warm-up included), producer to file on tmpfs:"
        );
        println!(
            "{:<22} {:>7} {:>14} {:>10} {:>12}",
            "pipeline", "threads", "events/s", "MB/s", "bytes/line"
        );
        for (name, threads, ev, secs) in TOTALS.lock().unwrap().iter() {
            let eps = *ev as f64 / secs;
            let per_line = sizes.iter().find(|(n, _)| n == name).map_or(0.0, |s| s.1);
            println!(
                "{:<22} {:>7} {:>14.0} {:>10.1} {:>12.1}",
                name,
                threads,
                eps,
                eps * per_line / 1e6,
                per_line
            );
        }
    }
}
