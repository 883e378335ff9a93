//! The composite collector: fan-out, add while emitting, failures isolated.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use agent_audit::{Collector, CompositeCollector, Error, Event, MemoryCollector};

struct Failing {
    emits: AtomicUsize,
}

impl Collector for Failing {
    fn emit(&self, _: Event) {
        self.emits.fetch_add(1, Ordering::SeqCst);
        panic!("child exploded");
    }
    fn flush(&self) -> Result<(), Error> {
        Err(std::io::Error::other("disk on fire").into())
    }
}

#[test]
fn fans_out_to_every_child_in_order() {
    let a = Arc::new(MemoryCollector::new());
    let b = Arc::new(MemoryCollector::new());
    let c = CompositeCollector::new(vec![a.clone() as _, b.clone() as _]);
    for i in 0..5i64 {
        c.emit(Event::default().meta("i", i));
    }
    assert_eq!(a.snapshot().to_vec(), b.snapshot().to_vec());
    assert_eq!(a.len(), 5);
    assert!(c.flush().is_ok());
}

#[test]
fn a_failing_child_never_keeps_an_event_from_the_others() {
    let before = Arc::new(MemoryCollector::new());
    let after = Arc::new(MemoryCollector::new());
    let bad = Arc::new(Failing {
        emits: AtomicUsize::new(0),
    });
    let c = CompositeCollector::new(vec![
        before.clone() as _,
        bad.clone() as _,
        after.clone() as _,
    ]);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..3 {
        c.emit(Event::default());
    }
    std::panic::set_hook(hook);
    assert_eq!(
        (before.len(), bad.emits.load(Ordering::SeqCst), after.len()),
        (3, 3, 3)
    );
    let err = c.flush().unwrap_err();
    let Error::Many(errors) = &err else {
        panic!("{err}")
    };
    // three panics from emit, then the child's own flush error
    assert_eq!(errors.len(), 4);
    assert!(err.to_string().contains("child exploded"));
    assert!(err.to_string().contains("disk on fire"));
    // panics are reported once
    let again = c.flush().unwrap_err();
    assert!(!again.to_string().contains("child exploded"));
}

#[test]
fn children_added_while_others_emit_see_every_later_event() {
    let first = Arc::new(MemoryCollector::new());
    let c = Arc::new(CompositeCollector::new(vec![first.clone() as _]));
    let late: Vec<Arc<MemoryCollector>> =
        (0..8).map(|_| Arc::new(MemoryCollector::new())).collect();
    std::thread::scope(|s| {
        let c2 = c.clone();
        s.spawn(move || {
            for i in 0..20_000i64 {
                c2.emit(Event::default().meta("i", i));
            }
        });
        for m in &late {
            c.add(m.clone());
            std::thread::yield_now();
        }
    });
    assert_eq!(c.len(), 9);
    assert_eq!(first.len(), 20_000);
    let all = first.snapshot().to_vec();
    for m in &late {
        // A late child holds a suffix of the stream, in order.
        let got = m.snapshot().to_vec();
        assert_eq!(got[..], all[all.len() - got.len()..]);
    }
}

/// A child that panics on every event, with nobody flushing for a long
/// time: the first 16 panics are kept with their messages, the rest only
/// counted, so memory stays bounded.
#[test]
fn a_child_that_always_panics_costs_bounded_memory() {
    let bad = Arc::new(Failing {
        emits: AtomicUsize::new(0),
    });
    let good = Arc::new(MemoryCollector::new());
    let c = CompositeCollector::new(vec![bad.clone() as _, good.clone() as _]);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..1000 {
        c.emit(Event::default());
    }
    std::panic::set_hook(hook);
    assert_eq!(good.len(), 1000);
    let err = c.flush().unwrap_err();
    let Error::Many(errors) = &err else {
        panic!("{err}")
    };
    // 16 panics, one count of the rest, the child's own flush error
    assert_eq!(errors.len(), 18, "{err}");
    assert!(err.to_string().contains("984 more panics"), "{err}");
}
