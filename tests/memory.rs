//! The in-memory collector: order, snapshots, clear, and many producers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use agent_audit::event::{ToolCallAttempt, TurnStart};
use agent_audit::{Event, MemoryCollector};

fn numbered(i: i64) -> Event {
    Event::new(TurnStart::default()).meta("i", i)
}

fn index(ev: &Event) -> i64 {
    ev.metadata["i"].as_number().unwrap().as_i64().unwrap()
}

#[test]
fn keeps_one_hundred_events_in_order() {
    let m = MemoryCollector::new();
    for i in 0..100 {
        m.emit(numbered(i));
    }
    let got: Vec<i64> = m.snapshot().iter().map(index).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert_eq!(m.len(), 100);
}

#[test]
fn a_snapshot_is_a_stable_copy() {
    let m = MemoryCollector::new();
    m.emit(numbered(0));
    let snap = m.snapshot();
    m.emit(numbered(1));
    assert_eq!(snap.len(), 1);
    assert_eq!(snap.to_vec(), snap.to_vec());
    assert_eq!(m.snapshot().len(), 2);
}

#[test]
fn clear_empties_but_snapshots_survive() {
    let m = MemoryCollector::new();
    for i in 0..10 {
        m.emit(numbered(i));
    }
    let snap = m.snapshot();
    m.clear();
    assert!(m.is_empty());
    assert!(m.snapshot().is_empty());
    assert_eq!(snap.len(), 10);
    assert_eq!(index(snap.get(9).unwrap()), 9);
    m.emit(numbered(100));
    assert_eq!(index(m.snapshot().get(0).unwrap()), 100);
}

#[test]
fn events_of_one_type_in_order() {
    let m = MemoryCollector::new();
    for i in 0..6 {
        if i % 2 == 0 {
            m.emit(numbered(i));
        } else {
            m.emit(Event::new(ToolCallAttempt::default()).meta("i", i));
        }
    }
    let starts: Vec<i64> = m.events_of_type("turn_start").iter().map(index).collect();
    assert_eq!(starts, [0, 2, 4]);
    assert_eq!(m.snapshot().of_type("tool_call_attempt").count(), 3);
    assert!(m.events_of_type("nope").is_empty());
}

/// Many producers against the real collector while a reader checks every
/// snapshot: stable, monotonic, each producer's events in its order, and
/// containing everything emitted before it was taken.
#[test]
fn stress_many_producers_with_a_snapshot_checker() {
    let producers: i64 = if cfg!(miri) { 2 } else { 8 };
    let per: i64 = if cfg!(miri) { 50 } else { 200_000 };
    let m = Arc::new(MemoryCollector::new());
    let done = AtomicBool::new(false);
    let published: Vec<std::sync::atomic::AtomicI64> = (0..producers)
        .map(|_| std::sync::atomic::AtomicI64::new(-1))
        .collect();
    std::thread::scope(|s| {
        for p in 0..producers {
            let m = &m;
            let published = &published;
            s.spawn(move || {
                for i in 0..per {
                    m.emit(Event::default().meta("p", p).meta("i", i));
                    // Release: a reader that sees this has seen the emit return.
                    published[p as usize].store(i, Ordering::Release);
                }
            });
        }
        s.spawn(|| {
            let mut last_len = 0;
            let mut checks = 0;
            while !done.load(Ordering::Acquire) || checks < 3 {
                let floor: Vec<i64> = published
                    .iter()
                    .map(|a| a.load(Ordering::Acquire))
                    .collect();
                let snap = m.snapshot();
                assert!(snap.len() >= last_len, "snapshot shrank");
                last_len = snap.len();
                let mut next = vec![0i64; producers as usize];
                for ev in snap.iter() {
                    let p = ev.metadata["p"].as_number().unwrap().as_i64().unwrap() as usize;
                    let i = index(ev);
                    assert_eq!(i, next[p], "producer {p} out of order");
                    next[p] += 1;
                }
                for (p, f) in floor.iter().enumerate() {
                    assert!(
                        next[p] > *f,
                        "snapshot misses an emit that returned before it"
                    );
                }
                // Stable: a second pass sees the same events.
                assert_eq!(snap.iter().count(), snap.len());
                checks += 1;
            }
        });
        // Wait for producers, then let the checker finish.
        while published
            .iter()
            .any(|a| a.load(Ordering::Acquire) < per - 1)
        {
            std::thread::yield_now();
        }
        done.store(true, Ordering::Release);
    });
    assert_eq!(m.len() as i64, producers * per);
}
