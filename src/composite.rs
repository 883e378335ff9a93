//! Fan-out to several collectors.
//!
//! The children live in an [`ArcSwap`]ed list: `emit` loads it without a
//! lock, and `add` publishes a new list with one more child (a
//! read-copy-update), so children can be added while other threads emit.
//! Each child runs under `catch_unwind`: a child that panics does not keep
//! the event from the children after it, and the panic is reported by the
//! next `flush`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::collector::{Collector, Error};
use crate::event::{Event, EventRef};

/// Sends every event to each of its children.
///
/// ```
/// use std::sync::Arc;
/// use agent_audit::{CompositeCollector, Event, MemoryCollector};
///
/// let a = Arc::new(MemoryCollector::new());
/// let b = Arc::new(MemoryCollector::new());
/// let both = CompositeCollector::new(vec![a.clone() as _]);
/// both.add(b.clone());
/// both.emit(Event::default());
/// assert_eq!((a.len(), b.len()), (1, 1));
/// ```
pub struct CompositeCollector {
    children: ArcSwap<Vec<Arc<dyn Collector>>>,
    /// Panics caught in `emit`, reported by the next `flush`: the first
    /// `KEPT`, then only counted in `more`, so a child that panics on every
    /// event costs bounded memory. Touched only when a child panics.
    failures: Mutex<Vec<Error>>,
    more: AtomicU64,
}

/// Panics kept with their messages between two flushes.
const KEPT: usize = 16;

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    // Dropping the payload may panic too; that one is not let out.
    catch_unwind(AssertUnwindSafe(|| match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_string(),
            Err(_) => "non-string panic payload".into(),
        },
    }))
    .unwrap_or_else(|second| {
        std::mem::forget(second);
        "a panic whose payload panicked when dropped".into()
    })
}

impl CompositeCollector {
    /// A composite of `children`.
    pub fn new(children: Vec<Arc<dyn Collector>>) -> Self {
        CompositeCollector {
            children: ArcSwap::from_pointee(children),
            failures: Mutex::new(Vec::new()),
            more: AtomicU64::new(0),
        }
    }

    /// Adds a child; events emitted after this returns reach it.
    pub fn add(&self, child: Arc<dyn Collector>) {
        self.children.rcu(|current| {
            let mut next = Vec::with_capacity(current.len() + 1);
            next.extend(current.iter().cloned());
            next.push(child.clone());
            next
        });
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        self.children.load().len()
    }

    /// Whether there is no child.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn record(&self, error: Error) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() < KEPT {
            failures.push(error);
        } else {
            self.more.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends `event` to every child: a clone to each but the last, which
    /// gets the event itself.
    pub fn emit(&self, event: Event) {
        let children = self.children.load();
        let Some((last, rest)) = children.split_last() else {
            return;
        };
        for child in rest {
            let ev = event.clone();
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| child.emit(ev))) {
                self.record(Error::Panicked(panic_message(p)));
            }
        }
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| last.emit(event))) {
            self.record(Error::Panicked(panic_message(p)));
        }
    }

    /// Sends a borrowed event to every child; each takes it its own way
    /// (copying what it needs, or building the owned event). A child that
    /// keeps the default [`Collector::emit_ref`] builds its own owned copy,
    /// where [`CompositeCollector::emit`] would have shared one event's
    /// strings among all children: fan-out to several such children costs
    /// one build per child.
    pub fn emit_ref(&self, event: &EventRef<'_>) {
        for child in self.children.load().iter() {
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| child.emit_ref(event))) {
                self.record(Error::Panicked(panic_message(p)));
            }
        }
    }

    /// Flushes every child, even after one fails, and reports every error
    /// (including panics caught in `emit` and `emit_ref` since the last
    /// flush: the first 16 with their messages, and how many more).
    pub fn flush(&self) -> Result<(), Error> {
        let mut errors = {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            let more = self.more.swap(0, Ordering::Relaxed);
            if more > 0 {
                failures.push(Error::Panicked(format!(
                    "{more} more panics in children's emit"
                )));
            }
            std::mem::take(&mut *failures)
        };
        for child in self.children.load().iter() {
            match catch_unwind(AssertUnwindSafe(|| child.flush())) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(p) => errors.push(Error::Panicked(panic_message(p))),
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Many(errors)),
        }
    }
}

impl Default for CompositeCollector {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl Collector for CompositeCollector {
    #[inline]
    fn emit(&self, event: Event) {
        CompositeCollector::emit(self, event)
    }
    fn emit_ref(&self, event: &EventRef<'_>) {
        CompositeCollector::emit_ref(self, event)
    }
    fn flush(&self) -> Result<(), Error> {
        CompositeCollector::flush(self)
    }
}
