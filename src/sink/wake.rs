//! Waking the writer thread only when it sleeps.
//!
//! The writer drains the queue and, when it finds it empty, goes to sleep;
//! a producer that has just pushed must wake it, but only then: an unpark
//! is a system call, and doing one per event would cost more than the rest
//! of the emit. One atomic `state` carries the handshake:
//!
//! ```text
//! IDLE ──(producer pushed)──► NOTIFIED
//!  ▲  ╲                          │
//!  │   ╲(writer found no work)   │ (writer starts a drain)
//!  │    ▼                        ▼
//!  └─ SLEEPING ◄────────────── IDLE
//! ```
//!
//! * **Producer**, after its push: `swap(NOTIFIED)`; if the old value was
//!   `SLEEPING`, unpark the writer.
//! * **Writer**, when a drain finds the queue empty: `swap(IDLE)` (acquire:
//!   every push whose notification it read is now visible), look at the
//!   queue once more, and if it is still empty `compare_exchange(IDLE →
//!   SLEEPING)` and park only if that succeeds; a failure means a producer
//!   notified since the reset.
//!
//! No lost wake-up: all these are read-modify-writes of one location, so
//! they are totally ordered. A push whose `swap(NOTIFIED)` comes before the
//! writer's `swap(IDLE)` is seen by the second look; one that comes between
//! the `swap(IDLE)` and the `compare_exchange` makes the latter fail (no
//! sleep); one that comes after it reads `SLEEPING` and unparks. The writer
//! touches `state` only on its way to sleep, so while it has work the line
//! stays with the producers. An unpark
//! that lands before the writer actually parks is not lost either: the
//! thread's park token makes the next `park` return at once.
//!
//! Why not a flag plus `SeqCst` fences (a producer loads the flag, a fence
//! orders it after the push)? It saves the read-modify-write on x86 only
//! when the flag's cache line stays shared, and the fence itself costs
//! about as much as an uncontended `xchg`. The single-location version is
//! also one that loom checks exhaustively (the model below); loom's
//! handling of fences is weaker than its handling of read-modify-writes.

use crate::sync::{AtomicUsize, Ordering};

const IDLE: usize = 0;
const NOTIFIED: usize = 1;
const SLEEPING: usize = 2;

/// A handle that can wake a parked thread: `std`'s, or loom's in models.
pub(crate) trait Unpark {
    fn unpark(&self);
}

impl Unpark for std::thread::Thread {
    fn unpark(&self) {
        std::thread::Thread::unpark(self)
    }
}

#[cfg(loom)]
impl Unpark for loom::thread::Thread {
    fn unpark(&self) {
        loom::thread::Thread::unpark(self)
    }
}

/// The writer's sleep state and its thread handle.
pub(crate) struct Wake<T = std::thread::Thread> {
    state: AtomicUsize,
    writer: std::sync::OnceLock<T>,
}

impl<T: Unpark> Wake<T> {
    /// A handshake whose writer thread is set later with [`Wake::set_writer`]
    /// (before any producer exists).
    pub(crate) fn new() -> Self {
        Wake {
            state: AtomicUsize::new(IDLE),
            writer: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn set_writer(&self, writer: T) {
        let _ = self.writer.set(writer);
    }

    /// Producer side, after a successful push.
    #[inline]
    pub(crate) fn notify(&self) {
        if self.state.swap(NOTIFIED, Ordering::AcqRel) == SLEEPING {
            self.unpark();
        }
    }

    /// Wakes the writer whether or not it sleeps (close, flush, reopen).
    pub(crate) fn unpark(&self) {
        if let Some(w) = self.writer.get() {
            w.unpark();
        }
    }

    /// Writer side, on finding the queue empty: reset, then look again.
    #[inline]
    pub(crate) fn begin_drain(&self) {
        self.state.swap(IDLE, Ordering::Acquire);
    }

    /// Writer side, after a second look that found no work: sleeps through
    /// `park` unless a producer notified since [`Wake::begin_drain`].
    /// Returns whether it slept.
    #[inline]
    pub(crate) fn sleep(&self, park: impl FnOnce()) -> bool {
        if self
            .state
            .compare_exchange(IDLE, SLEEPING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        park();
        true
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    use loom::thread;

    /// Two producers each publish one item; the writer must consume both
    /// without ever parking for good while an item is pending (loom reports
    /// a deadlock if it does). The "queue" is a relaxed counter: whatever
    /// ordering the drain needs must come from the handshake itself.
    #[test]
    fn no_lost_wakeup() {
        crate::sync::model(|| {
            let queued = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = loom::sync::mpsc::channel::<Arc<Wake<thread::Thread>>>();
            let q = queued.clone();
            let writer = thread::spawn(move || {
                let wake = rx.recv().unwrap();
                let mut seen = 0;
                while seen < 2 {
                    let now = q.load(Ordering::Relaxed);
                    if now > seen {
                        seen = now;
                        continue;
                    }
                    // As the sink's writer: reset, look again, then sleep.
                    wake.begin_drain();
                    if q.load(Ordering::Relaxed) > seen {
                        continue;
                    }
                    wake.sleep(thread::park);
                }
            });
            let wake = Arc::new(Wake::<thread::Thread>::new());
            wake.set_writer(writer.thread().clone());
            tx.send(wake.clone()).unwrap();
            let producers: Vec<_> = (0..2)
                .map(|_| {
                    let (q, w) = (queued.clone(), wake.clone());
                    thread::spawn(move || {
                        q.fetch_add(1, Ordering::Relaxed);
                        w.notify();
                    })
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            writer.join().unwrap();
        });
    }
}

/// The flush protocol on top of the handshake and the sink's real queue
/// (`ring`, whose atomics and slots loom sees): the writer sleeps through
/// the handshake whenever the next message is not published.
#[cfg(all(test, loom))]
mod loom_flush_model {
    use super::super::ring::Ring;
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;

    enum Msg {
        Event(u32),
        Flush(Arc<(Mutex<bool>, Condvar)>),
        Stop,
    }

    struct Shared {
        queue: Ring<Msg>,
        written: Mutex<Vec<u32>>,
        wake: Wake<thread::Thread>,
    }

    impl Shared {
        /// As the sink does: claim, write in place, publish, notify. The
        /// ring has room for every message of the model.
        fn push(&self, m: Msg) {
            self.queue.claim().expect("room").write(m);
            self.wake.notify();
        }
    }

    /// A producer emits an event and then tells another thread, which
    /// flushes: when the flush returns, the event (emitted before it, in
    /// happens-before order, by another thread) is written. A lost
    /// wake-up would show up as a deadlock.
    #[test]
    fn flush_returns_after_every_earlier_event_is_written() {
        crate::sync::model(|| {
            let (tx, rx) = loom::sync::mpsc::channel::<Arc<Shared>>();
            let writer = thread::spawn(move || {
                let shared = rx.recv().unwrap();
                let mut queue = shared.queue.consumer().unwrap();
                loop {
                    let stop = queue.pop_with(|msg| match msg {
                        Msg::Event(e) => {
                            shared.written.lock().unwrap().push(*e);
                            false
                        }
                        Msg::Flush(done) => {
                            *done.0.lock().unwrap() = true;
                            done.1.notify_all();
                            false
                        }
                        Msg::Stop => true,
                    });
                    match stop {
                        Some(true) => return,
                        Some(false) => {}
                        None => {
                            shared.wake.begin_drain();
                            if !queue.ready() {
                                shared.wake.sleep(thread::park);
                            }
                        }
                    }
                }
            });
            let shared = Arc::new(Shared {
                queue: Ring::new(4),
                written: Mutex::new(Vec::new()),
                wake: Wake::new(),
            });
            shared.wake.set_writer(writer.thread().clone());
            tx.send(shared.clone()).unwrap();

            let emitted = Arc::new(AtomicBool::new(false));
            let producer = {
                let (shared, emitted) = (shared.clone(), emitted.clone());
                thread::spawn(move || {
                    shared.push(Msg::Event(7));
                    emitted.store(true, Ordering::Release);
                })
            };
            // The flusher: once it sees the emit returned, it flushes.
            if emitted.load(Ordering::Acquire) {
                let done = Arc::new((Mutex::new(false), Condvar::new()));
                shared.push(Msg::Flush(done.clone()));
                let mut flushed = done.0.lock().unwrap();
                while !*flushed {
                    flushed = done.1.wait(flushed).unwrap();
                }
                assert_eq!(*shared.written.lock().unwrap(), [7], "flush returned early");
            }
            producer.join().unwrap();
            shared.push(Msg::Stop);
            writer.join().unwrap();
        });
    }
}
