//! Why ids are `SmolStr`: the cost of putting one id on an event (clone)
//! and taking it off again (drop), for the string types a crate could use,
//! from one thread and from two threads sharing the same value.

use std::borrow::Cow;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use smol_str::SmolStr;

/// Clones and drops `v` `iters` times on each of `threads` threads.
fn clone_drop<T: Clone + Send + Sync>(v: &T, iters: u64, threads: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..iters {
                    drop(black_box(black_box(v).clone()));
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let ids = [
        ("12B", "agent-1-turn"),
        ("36B", "6f1c2a4e-9b7d-4c1e-8f3a-2d5b7c9e1a0f"),
    ];
    for (label, id) in ids {
        let mut group = c.benchmark_group(format!("id_clone_drop_{label}"));
        group
            .measurement_time(Duration::from_secs(2))
            .sample_size(20);
        for threads in [1u64, 2] {
            let smol = SmolStr::new(id);
            let arc: Arc<str> = Arc::from(id);
            let bytes = bytes::Bytes::copy_from_slice(id.as_bytes());
            let cow: Cow<'static, str> = Cow::Owned(id.to_string());
            let string = id.to_string();
            group.bench_function(BenchmarkId::new("SmolStr", threads), |b| {
                b.iter_custom(|n| clone_drop(&smol, n, threads))
            });
            group.bench_function(BenchmarkId::new("Arc<str>", threads), |b| {
                b.iter_custom(|n| clone_drop(&arc, n, threads))
            });
            group.bench_function(BenchmarkId::new("Bytes", threads), |b| {
                b.iter_custom(|n| clone_drop(&bytes, n, threads))
            });
            group.bench_function(BenchmarkId::new("Cow", threads), |b| {
                b.iter_custom(|n| clone_drop(&cow, n, threads))
            });
            group.bench_function(BenchmarkId::new("String", threads), |b| {
                b.iter_custom(|n| clone_drop(&string, n, threads))
            });
        }
        group.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
