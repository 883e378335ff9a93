//! Producer-side emit latency, not saturated: ours and the peers each write
//! the same record to a file on tmpfs, and we time what the producer pays.
//!
//! The producer emits in bursts of 64 and then spins until the next burst
//! is due (by default one burst every 400 µs: 160k events/s offered, about
//! half of what the slowest peer sustains here), so every writer keeps up
//! and no emit waits for a full queue.
//!
//! Two measurements, both run by `cargo bench --bench emit`:
//!
//! 1. Before criterion: a latency table. Each pipeline gets 10k paced
//!    emits of warm-up, then 200k paced emits each timed with `Instant`
//!    and recorded in an HDR histogram (p50, p90, p99, p99.9, max), plus
//!    a count of heap allocations per emit on the producer thread and on
//!    all threads (a counting global allocator, enabled only for that).
//!    The `clock` row times an empty region: the timer's own cost, which
//!    is included in every other row.
//! 2. Criterion (`emit_paced/*`): the mean of the same paced emits, timed
//!    per burst (so the timer cost is amortised over 64 emits).
//!
//! Knobs (environment): `EMIT_BENCH_EVENTS` (200000), `EMIT_BENCH_PERIOD_US`
//! (400), `EMIT_BENCH_ONLY=agent-audit,clock` to run only some rows of
//! the table, `EMIT_BENCH_LATENCY=0` to skip it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{open, Pipeline, Scratch, PIPELINES};
use criterion::Criterion;
use hdrhistogram::Histogram;

/// Counts allocations: always per thread (no shared cache line), and
/// across all threads only while `COUNT_ALL` is set.
struct Counting;

static COUNT_ALL: AtomicBool = AtomicBool::new(false);
static ALL_ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_ALLOCS: Cell<u64> = const { Cell::new(0) };
}

#[inline]
fn count_one() {
    let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
    if COUNT_ALL.load(Ordering::Relaxed) {
        ALL_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

fn thread_allocs() -> u64 {
    THREAD_ALLOCS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; counting touches only a thread-local cell and an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BURST: u64 = 64;
const WARMUP_EMITS: u64 = 10_000;
const ALLOC_EMITS: u64 = 10_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn period() -> Duration {
    Duration::from_micros(env_u64("EMIT_BENCH_PERIOD_US", 400))
}

fn spin_until(t: Instant) {
    while Instant::now() < t {
        std::hint::spin_loop();
    }
}

/// Runs `n` paced emits, recording each one's time in `record` if given;
/// returns the total time spent emitting.
fn paced(p: &dyn Pipeline, n: u64, mut record: Option<&mut Histogram<u64>>) -> Duration {
    let period = period();
    let mut next = Instant::now();
    let mut left = n;
    let mut busy = Duration::ZERO;
    while left > 0 {
        let burst = left.min(BURST);
        match record.as_deref_mut() {
            Some(h) => {
                for _ in 0..burst {
                    let t0 = Instant::now();
                    p.emit();
                    let ns = t0.elapsed().as_nanos() as u64;
                    h.saturating_record(ns);
                    busy += Duration::from_nanos(ns);
                }
            }
            None => {
                let t0 = Instant::now();
                for _ in 0..burst {
                    p.emit();
                }
                busy += t0.elapsed();
            }
        }
        left -= burst;
        next += period;
        spin_until(next);
    }
    busy
}

/// An empty pipeline: times the timer.
struct Clock;

impl Pipeline for Clock {
    #[inline]
    fn emit(&self) {
        black_box(());
    }
    fn finish(&self) {}
}

struct Row {
    name: &'static str,
    hist: Histogram<u64>,
    producer_allocs: f64,
    all_allocs: f64,
    bytes_per_event: f64,
}

fn latency_row(scratch: &Scratch, name: &'static str, n: u64) -> Row {
    let make = |path: &std::path::Path| -> Box<dyn Pipeline> {
        if name == "clock" {
            Box::new(Clock)
        } else {
            open(name, path)
        }
    };

    // Allocations, on a pipeline of their own (finishing a peer ends it):
    // the producer thread alone, and every thread until the pipeline has
    // written what it was given.
    let path = scratch.file(&format!("allocs-{name}.jsonl"));
    let p = make(&path);
    let entered = p.enter();
    paced(&*p, WARMUP_EMITS, None);
    std::thread::sleep(Duration::from_millis(20));
    let before_thread = thread_allocs();
    ALL_ALLOCS.store(0, Ordering::SeqCst);
    COUNT_ALL.store(true, Ordering::SeqCst);
    paced(&*p, ALLOC_EMITS, None);
    let producer = thread_allocs() - before_thread;
    p.finish();
    COUNT_ALL.store(false, Ordering::SeqCst);
    let all = ALL_ALLOCS.load(Ordering::SeqCst);
    drop(entered);
    drop(p);
    let _ = std::fs::remove_file(&path);

    // Latency.
    let path = scratch.file(&format!("latency-{name}.jsonl"));
    let p = make(&path);
    let entered = p.enter();
    paced(&*p, WARMUP_EMITS, None);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    paced(&*p, n, Some(&mut hist));
    p.finish();
    drop(entered);
    drop(p);
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    Row {
        name,
        hist,
        producer_allocs: producer as f64 / ALLOC_EMITS as f64,
        all_allocs: all as f64 / ALLOC_EMITS as f64,
        bytes_per_event: bytes as f64 / (WARMUP_EMITS + n) as f64,
    }
}

/// Prints the latency table; returns each pipeline's mean emit time.
fn latency_table() -> Vec<(&'static str, f64)> {
    let n = env_u64("EMIT_BENCH_EVENTS", 200_000);
    let scratch = Scratch::new("emit");
    let period = period();
    println!(
        "\nemit latency, not saturated: bursts of {BURST}, one every {} µs ({:.0}k events/s offered), \
         {n} timed emits per pipeline (after {WARMUP_EMITS} warm-up); ns",
        period.as_micros(),
        BURST as f64 / period.as_secs_f64() / 1e3
    );
    println!(
        "{:<20} {:>8} {:>7} {:>7} {:>7} {:>8} {:>9}  {:>14} {:>11} {:>10}",
        "pipeline",
        "mean",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "allocs/emit",
        "allocs/emit",
        "bytes/line"
    );
    println!(
        "{:<20} {:>8} {:>7} {:>7} {:>7} {:>8} {:>9}  {:>14} {:>11}",
        "", "", "", "", "", "", "", "(producer)", "(all)"
    );
    let mut means = Vec::new();
    let only = std::env::var("EMIT_BENCH_ONLY").unwrap_or_default();
    let names = std::iter::once("clock")
        .chain(PIPELINES.iter().copied())
        .filter(|n| only.is_empty() || only.split(',').any(|o| o == *n));
    for name in names {
        let row = latency_row(&scratch, name, n);
        let h = &row.hist;
        println!(
            "{:<20} {:>8.1} {:>7} {:>7} {:>7} {:>8} {:>9}  {:>14.2} {:>11.2} {:>10.1}",
            row.name,
            h.mean(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            row.producer_allocs,
            row.all_allocs,
            row.bytes_per_event
        );
        means.push((row.name, h.mean()));
    }
    println!();
    means
}

fn emit_paced(c: &mut Criterion, means: &[(&'static str, f64)]) {
    let scratch = Scratch::new("emit-criterion");
    let slot_ns = period().as_nanos() as f64 / BURST as f64;
    let mut group = c.benchmark_group("emit_paced");
    group.sample_size(30);
    for &name in PIPELINES {
        // Criterion budgets the time it is told about (the emits), not the
        // idle time between bursts: scale its budget so each pipeline takes
        // about 4 s of wall time.
        let mean = means
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(slot_ns / 20.0, |&(_, m)| m);
        let busy_share = (mean / slot_ns).min(1.0);
        let measure = Duration::from_secs_f64((4.0 * busy_share).max(0.02));
        group.measurement_time(measure);
        group.warm_up_time((measure / 4).max(Duration::from_millis(5)));

        let path = scratch.file(&format!("criterion-{name}.jsonl"));
        let p = open(name, &path);
        let entered = p.enter();
        group.bench_function(name, |b| b.iter_custom(|iters| paced(&*p, iters, None)));
        p.finish();
        drop(entered);
        drop(p);
        let _ = std::fs::remove_file(&path);
    }
    group.finish();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let benching = args.iter().any(|a| a == "--bench");
    let profiling = args.iter().any(|a| a == "--profile-time");
    let means = if benching && !profiling && env_u64("EMIT_BENCH_LATENCY", 1) != 0 {
        latency_table()
    } else {
        Vec::new()
    };
    let mut c = Criterion::default().configure_from_args();
    emit_paced(&mut c, &means);
    c.final_summary();
}
