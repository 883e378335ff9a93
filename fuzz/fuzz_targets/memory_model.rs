//! A sequence of operations on a `MemoryCollector`, checked against a plain
//! `Vec` model.
//!
//! Each emitted event carries a counter in its metadata. Snapshots (up to
//! a few alive at once, taken, cloned and dropped at arbitrary points) must
//! keep exactly the model's contents at the moment they were taken, however
//! many events are emitted and however often the collector is cleared
//! later; `len`, `is_empty`, `events_of_type`, `Snapshot::get`, `iter`,
//! `of_type` and `to_vec` must agree with the model throughout. Bulk emits
//! cross the segmented vector's bucket boundaries (32, 96, 224, ...).
#![no_main]

use agent_audit::event::{Base, ToolCallAttempt, ToolLoopWarning, TurnStart, EVENT_TYPES};
use agent_audit::{Collector, Event, Kind, MemoryCollector, Snapshot, Timestamp};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const MAX_SNAPSHOTS: usize = 4;
const MAX_EVENTS: usize = 5_000;

#[derive(Arbitrary, Debug)]
enum Op {
    /// One event of kind `k % 5`.
    Emit(u8),
    /// Through the `Collector` trait object.
    EmitDyn(u8),
    /// Many events of one kind.
    EmitMany(u8, u8),
    Snapshot,
    /// A clone of snapshot `i % n`, kept as its own.
    CloneSnapshot(u8),
    DropSnapshot(u8),
    Clear,
    Len,
    OfType(u8),
    Get(u8, u16),
    /// Compare every live snapshot with its model, element by element.
    CheckAll,
}

fn kind(k: u8) -> Kind {
    match k % 5 {
        0 => Base {}.into(),
        1 => TurnStart::default().into(),
        2 => ToolCallAttempt::default().into(),
        3 => ToolLoopWarning::default().into(),
        _ => Kind::Other("custom".into()),
    }
}

fn tag(k: u8) -> &'static str {
    match k % 5 {
        0 => "base",
        1 => "turn_start",
        2 => "tool_call_attempt",
        3 => "tool_loop_warning",
        _ => "custom",
    }
}

fn event(counter: &mut i64, k: u8) -> Event {
    *counter += 1;
    Event::new(kind(k))
        .at(Timestamp::from_unix_micros(*counter))
        .meta("n", *counter)
}

/// Every view of the snapshot equals `model`.
fn check_snapshot(snap: &Snapshot, model: &[Event]) {
    assert_eq!(snap.len(), model.len(), "snapshot length");
    assert_eq!(snap.is_empty(), model.is_empty());
    assert!(snap.iter().eq(model.iter()), "snapshot contents");
    assert!(snap.into_iter().eq(model.iter()), "snapshot IntoIterator");
    assert_eq!(snap.get(model.len()), None, "get past the end");
}

fuzz_target!(|ops: Vec<Op>| {
    let memory = MemoryCollector::new();
    let dyn_memory: &dyn Collector = &memory;
    let mut model: Vec<Event> = Vec::new();
    let mut emitted = 0usize;
    let mut counter = 0i64;
    let mut snapshots: Vec<(Snapshot, Vec<Event>)> = Vec::new();

    for op in ops {
        match op {
            Op::Emit(k) | Op::EmitDyn(k) | Op::EmitMany(k, _) if emitted >= MAX_EVENTS => {
                let _ = k;
            }
            Op::Emit(k) => {
                let ev = event(&mut counter, k);
                model.push(ev.clone());
                memory.emit(ev);
                emitted += 1;
            }
            Op::EmitDyn(k) => {
                let ev = event(&mut counter, k);
                model.push(ev.clone());
                dyn_memory.emit(ev);
                emitted += 1;
            }
            Op::EmitMany(k, n) => {
                for _ in 0..n {
                    let ev = event(&mut counter, k);
                    model.push(ev.clone());
                    memory.emit(ev);
                }
                emitted += usize::from(n);
            }
            Op::Snapshot => {
                let snap = memory.snapshot();
                check_snapshot(&snap, &model);
                if snapshots.len() == MAX_SNAPSHOTS {
                    snapshots.remove(0);
                }
                snapshots.push((snap, model.clone()));
            }
            Op::CloneSnapshot(i) => {
                if !snapshots.is_empty() {
                    let (snap, want) = &snapshots[usize::from(i) % snapshots.len()];
                    let copy = (snap.clone(), want.clone());
                    if snapshots.len() == MAX_SNAPSHOTS {
                        snapshots.remove(0);
                    }
                    snapshots.push(copy);
                }
            }
            Op::DropSnapshot(i) => {
                if !snapshots.is_empty() {
                    let at = usize::from(i) % snapshots.len();
                    snapshots.remove(at);
                }
            }
            Op::Clear => {
                memory.clear();
                model.clear();
            }
            Op::Len => {
                assert_eq!(memory.len(), model.len(), "len");
                assert_eq!(memory.is_empty(), model.is_empty(), "is_empty");
            }
            Op::OfType(k) => {
                let t = tag(k);
                let want: Vec<Event> = model
                    .iter()
                    .filter(|e| e.event_type() == t)
                    .cloned()
                    .collect();
                assert_eq!(memory.events_of_type(t), want, "events_of_type({t})");
                if let Some((snap, snap_model)) = snapshots.last() {
                    let want: Vec<&Event> =
                        snap_model.iter().filter(|e| e.event_type() == t).collect();
                    let got: Vec<&Event> = snap.of_type(t).collect();
                    assert_eq!(got, want, "snapshot of_type({t})");
                }
                // A tag no event has.
                assert!(memory.events_of_type("no_such_type").is_empty());
                assert!(EVENT_TYPES.contains(&t) || t == "custom");
            }
            Op::CheckAll => {
                for (snap, want) in &snapshots {
                    check_snapshot(snap, want);
                }
            }
            Op::Get(i, at) => {
                if !snapshots.is_empty() {
                    let (snap, want) = &snapshots[usize::from(i) % snapshots.len()];
                    let at = usize::from(at);
                    assert_eq!(snap.get(at), want.get(at), "snapshot get({at})");
                }
            }
        }
        // Every live snapshot still has its length and last event (cheap;
        // `CheckAll` and the end of the input compare everything).
        assert_eq!(memory.len(), model.len(), "len after {emitted} emits");
        for (snap, want) in &snapshots {
            assert_eq!(snap.len(), want.len(), "a snapshot changed length");
            if let Some(last) = want.len().checked_sub(1) {
                assert_eq!(snap.get(last), want.last(), "a snapshot changed");
            }
        }
    }
    for (snap, want) in &snapshots {
        check_snapshot(snap, want);
    }
    // And a final full copy.
    assert_eq!(memory.snapshot().to_vec(), model);
});
