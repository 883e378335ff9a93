//! The in-memory collector: a lock-free append-only log with O(1)
//! snapshots.
//!
//! Events live in a `SegVec`, an append-only segmented vector whose
//! elements never move once written. That gives the two properties the
//! collector promises:
//!
//! * **emit is lock-free**: a producer reserves an index with one
//!   `fetch_add`, moves the event into its slot and publishes the slot
//!   with a release store. No producer waits for another.
//! * **snapshots are O(1) and stable**: a [`Snapshot`] is an `Arc` of the
//!   vector plus the number of indices reserved when it was taken. Every
//!   emit that returned before the snapshot has an index below that
//!   number; later emits get higher indices, so iterating the snapshot
//!   twice yields the same events. An emit that had reserved its index but
//!   not yet written it when the snapshot was taken is waited for (a few
//!   instructions) the first time the snapshot reaches that index.
//!
//! `clear` swaps in a new, empty vector through an [`ArcSwap`]; snapshots
//! taken before keep the old one alive, so they survive the clear. An emit
//! racing with `clear` lands either before it (and is cleared) or after.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::collector::{Collector, Error};
use crate::event::Event;
use crate::segvec::SegVec;

/// Keeps every event in memory, in emit order.
///
/// ```
/// use agent_audit::{Event, MemoryCollector};
/// use agent_audit::event::{ToolCallAttempt, TurnStart};
///
/// let memory = MemoryCollector::new();
/// memory.emit(Event::new(TurnStart::default()));
/// let before = memory.snapshot();
/// memory.emit(Event::new(ToolCallAttempt::default()));
/// memory.clear();
///
/// assert_eq!(memory.len(), 0);
/// assert_eq!(before.len(), 1); // a snapshot is stable and survives clear
/// assert_eq!(before.iter().next().unwrap().event_type(), "turn_start");
/// ```
pub struct MemoryCollector {
    current: ArcSwap<SegVec<Event>>,
}

impl MemoryCollector {
    /// An empty collector; allocates nothing until the first event.
    pub fn new() -> Self {
        MemoryCollector {
            current: ArcSwap::from_pointee(SegVec::new()),
        }
    }

    /// Appends one event. Lock-free.
    #[inline]
    pub fn emit(&self, event: Event) {
        self.current.load().push(event);
    }

    /// The number of events emitted since the last clear.
    pub fn len(&self) -> usize {
        self.current.load().reserved()
    }

    /// Whether no event was emitted since the last clear.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every event. Snapshots already taken are unaffected.
    pub fn clear(&self) {
        self.current.store(Arc::new(SegVec::new()));
    }

    /// Every event emitted so far, in order, in O(1) and without blocking
    /// producers.
    pub fn snapshot(&self) -> Snapshot {
        let vec = self.current.load_full();
        let len = vec.reserved();
        Snapshot { vec, len }
    }

    /// The events of one `event_type`, in order (a copy).
    pub fn events_of_type(&self, event_type: &str) -> Vec<Event> {
        self.snapshot().of_type(event_type).cloned().collect()
    }
}

impl Default for MemoryCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCollector")
            .field("len", &self.len())
            .finish()
    }
}

impl Collector for MemoryCollector {
    #[inline]
    fn emit(&self, event: Event) {
        MemoryCollector::emit(self, event)
    }

    /// Nothing to flush: always `Ok`.
    fn flush(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// A fixed, immutable view of a [`MemoryCollector`]'s events. Cheap to
/// take and to clone.
#[derive(Clone)]
pub struct Snapshot {
    vec: Arc<SegVec<Event>>,
    len: usize,
}

impl Snapshot {
    /// The number of events in the snapshot.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the snapshot holds no event.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The event at `index`, if within the snapshot.
    pub fn get(&self, index: usize) -> Option<&Event> {
        (index < self.len).then(|| self.vec.get_or_wait(index))
    }

    /// The events, in emit order.
    pub fn iter(&self) -> impl Iterator<Item = &Event> + '_ {
        self.vec.iter_prefix(self.len)
    }

    /// The events of one `event_type`, in order.
    pub fn of_type<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.iter().filter(move |e| e.event_type() == event_type)
    }

    /// A copy of the events.
    pub fn to_vec(&self) -> Vec<Event> {
        self.iter().cloned().collect()
    }
}

impl<'a> IntoIterator for &'a Snapshot {
    type Item = &'a Event;
    type IntoIter = Box<dyn Iterator<Item = &'a Event> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
