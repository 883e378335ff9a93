//! How steady this machine's CPUs are, independent of agent-audit: a
//! check to run before reading throughput figures taken on a shared host.
//!
//! ```text
//! cargo run --release --example host_noise -- [SECONDS] [THREADS]
//! ```
//!
//! Each of `THREADS` threads (default 1) runs one loop for `SECONDS`
//! (default 4) and counts its rounds in every 50 ms window. There are
//! three loops, one after the other:
//!
//! * *latency-bound*: one chain of dependent multiplications, which needs
//!   one execution unit at a time;
//! * *throughput-bound*: eight independent chains, which keep the core's
//!   units busy;
//! * *serialise*: the sink writer's own work, the benchmark record written
//!   as a compact line into a reused buffer (`json::write_event`).
//!
//! None of them does I/O or shares data between threads. On a machine of
//! its own every loop does the same work in every window. Where the
//! hypervisor runs another guest's thread on the other half of the same
//! physical core (SMT), the latency-bound loop still does, but the other
//! two lose a share of every window in which that sibling is busy.
//!
//! The output gives each loop's windows as shares of that thread's best
//! window (p10, median and worst): `0.97 0.99 0.95` is a steady core,
//! `0.60 0.75 0.50` one shared with a busy stranger.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use agent_audit::event::ToolCallAttempt;
use agent_audit::{json, Event, Format};

const WINDOW: Duration = Duration::from_millis(50);

/// A loop's round: takes and returns a value the compiler cannot see
/// through, so no round is optimised away.
type Round = fn(u64) -> u64;
const MUL: u64 = 6_364_136_223_846_793_005;

/// One round of the latency-bound loop: 1,000 steps of one chain.
fn chained(x: u64) -> u64 {
    let mut x = x;
    for _ in 0..1000 {
        x = x.wrapping_mul(MUL).wrapping_add(1);
        x ^= x >> 17;
    }
    x
}

/// One round of the throughput-bound loop: 125 steps of eight chains,
/// the same 1,000 steps as `chained`.
fn parallel(x: u64) -> u64 {
    let mut v = [0u64; 8];
    for (k, lane) in v.iter_mut().enumerate() {
        *lane = x.wrapping_add(k as u64);
    }
    for _ in 0..125 {
        for lane in &mut v {
            *lane = lane.wrapping_mul(MUL).wrapping_add(1);
            *lane ^= *lane >> 17;
        }
    }
    v.iter().fold(0, |a, b| a ^ b)
}

/// One round of the serialising loop: the throughput bench's record
/// (`benches/common`) written as a compact line, ten times.
fn serialise(x: u64) -> u64 {
    static RECORD: OnceLock<Event> = OnceLock::new();
    let record = RECORD.get_or_init(|| {
        Event::new(ToolCallAttempt {
            tool_name: "web_search".into(),
            arguments_preview: "{\"query\": \"acme corp quarterly revenue report 2026 q1 \
                results versus analyst consensus and prior year guidance\", \
                \"max_results\": 10, \"lang\": \"en-us\", \"fresh\": 1}"
                .into(),
        })
        .agent("agent-1")
        .turn("3f2a9c01b7de")
        .session("sess-8c1e5f0a2b7d")
    });
    let mut buf = Vec::with_capacity(512);
    let mut len = x;
    for _ in 0..10 {
        buf.clear();
        json::write_event(&mut buf, black_box(record), Format::Compact);
        len = len.wrapping_add(buf.len() as u64);
    }
    len
}

/// Rounds of `round` done in each 50 ms window for `secs` seconds.
fn windows(round: Round, secs: f64) -> Vec<u64> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut counts = Vec::new();
    let mut x = 1;
    while Instant::now() < end {
        let close = Instant::now() + WINDOW;
        let mut n = 0;
        while Instant::now() < close {
            for _ in 0..16 {
                x = black_box(round(x));
            }
            n += 16;
        }
        counts.push(n);
    }
    counts
}

/// `p10 median worst` of `counts`, each as a share of the best window,
/// and the time a round took in the best window.
fn summary(mut counts: Vec<u64>) -> String {
    counts.sort_unstable();
    let best = counts.last().copied().unwrap_or(1).max(1) as f64;
    let share = |i: usize| counts[i] as f64 / best;
    let n = counts.len();
    if n == 0 {
        return "no windows".into();
    }
    let ns_per_round = WINDOW.as_nanos() as f64 / best;
    format!(
        "p10 {:.2}  median {:.2}  worst {:.2}  of the best, {:.0} ns/round ({} windows)",
        share(n / 10),
        share(n / 2),
        share(0),
        ns_per_round,
        n
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().map_or(Ok(4.0), |a| a.parse())?;
    let threads: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let loops: [(&str, Round); 3] = [
        ("latency-bound", chained),
        ("throughput-bound", parallel),
        ("serialise", serialise),
    ];
    for (name, round) in loops {
        let results: Vec<Vec<u64>> = std::thread::scope(|s| {
            let running: Vec<_> = (0..threads.max(1))
                .map(|_| s.spawn(move || windows(round, secs)))
                .collect();
            running.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (t, counts) in results.into_iter().enumerate() {
            println!("{name:>16}, thread {t}: {}", summary(counts));
        }
    }
    Ok(())
}
