//! The sink's queue: a bounded ring of slots that producers fill in place.
//!
//! Many producers, one consumer (the writer thread). A producer *claims*
//! the next position, writes its message straight into that position's
//! slot and *publishes* it; the consumer reads the message where it lies,
//! drops it there and *releases* the slot for the next lap. Nothing is
//! built on the stack and then moved in, and nothing is moved out: a
//! 400-byte message costs one write by the producer and one read by the
//! writer, instead of the three copies in and one out that a queue taking
//! and returning values by move costs (`crossbeam_queue::ArrayQueue`,
//! which this replaces; see BENCHMARKS.md).
//!
//! # Positions and stamps
//!
//! Positions count up by `STEP` (4) and wrap around `usize`; position `p`
//! lives in slot `(p / STEP) % capacity`, with `capacity` a power of two.
//! The low bits are free for flags: bit 0 of `tail` is `CLOSED`, and a
//! slot's `stamp` says what the slot holds relative to a position `p`:
//!
//! ```text
//! stamp == p            free for the producer of p
//! stamp == p + FILLED   p's message is in it, for the consumer
//! stamp == p + HOLE     p was claimed but its producer unwound: nothing to read
//! stamp == p + STEP·cap released by the consumer: free for the next lap
//! ```
//!
//! A slot's stamp only moves forward, and only its current owner moves it:
//! the claiming producer (to `FILLED` or `HOLE`), then the consumer (to the
//! next lap). Comparisons use the wrapping difference as a signed number,
//! so wrap-around is harmless while `STEP · capacity` is far below `2^63`.
//!
//! # Producer: claim, write, publish
//!
//! Read `tail` (relaxed); if it carries `CLOSED`, refuse. Load the stamp
//! of its slot with **acquire**: if it equals `tail`, the consumer's
//! release of the slot (its read and drop of the last lap's message)
//! happens-before everything this producer does next, so writing cannot
//! race with that read. Then `compare_exchange(tail → tail + STEP)`:
//! success makes this producer the slot's only owner (the CAS needs no
//! ordering of its own; the stamp carries it). A stamp *behind* `tail`
//! means the slot still holds a message from the last lap: the ring is
//! full. A stamp *ahead* means other producers moved on: reload `tail`.
//! After writing, the producer stores `stamp = p + FILLED` with
//! **release**, which publishes the message. If the writing code unwinds,
//! a guard publishes `p + HOLE` instead, so the consumer is never stuck
//! behind a slot that nobody will fill.
//!
//! # Consumer: read in place, release
//!
//! The consumer owns `head` (a position; the shared copy is only for
//! [`Ring::len`]). It loads the stamp of `head`'s slot with **acquire**:
//! `head + FILLED` means the producer's writes happen-before this read,
//! so it reads the message in place, drops it in place, and stores
//! `stamp = head + STEP·capacity` with **release**, handing the slot to
//! the producer of the next lap. `head + HOLE` is released without
//! reading. Anything else means the message at `head` is not published
//! yet; later positions may be, but they wait: the queue is FIFO.
//!
//! # Close
//!
//! [`Ring::close`] sets `CLOSED` in `tail` with one `fetch_or`. From then
//! on no claim succeeds (a producer's CAS compares the whole word), so the
//! set of claimed positions is final: the consumer drains until `head`
//! reaches `tail` and knows that every message accepted before the close
//! was read and that every later push was refused (and the producer told
//! so). No push can slip in after the last drain, which a separate
//! "closed" flag checked before pushing could not promise.
//!
//! # Progress
//!
//! Claims are lock-free. Like every array queue of this design, the
//! consumer must wait for a claimed slot to be published; a producer
//! preempted between its claim and its publication delays the consumer
//! until it runs again, and once the ring has filled behind that slot,
//! other producers find it full (they wait, or drop and count in lossy
//! mode).

use std::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// Distance between consecutive positions; the low bits carry flags.
const STEP: usize = 4;
/// `tail`'s flag: no more claims.
const CLOSED: usize = 1;
/// Stamp offset: the position's message is published.
const FILLED: usize = 1;
/// Stamp offset: the position was claimed, and nothing was written.
const HOLE: usize = 2;

/// Why a push was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Every slot holds a message the consumer has not read yet.
    Full,
    /// [`Ring::close`] was called.
    Closed,
}

/// A bounded multi-producer, single-consumer queue whose messages are
/// written and read in place. See the module docs for the protocol.
pub(crate) struct Ring<T> {
    tail: CachePadded<AtomicUsize>,
    /// The consumer's position, published for [`Ring::len`] only.
    head: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    mask: usize,
    /// Whether a [`Consumer`] exists.
    consumer: AtomicBool,
}

/// One message's place; aligned so that neighbours never share a line
/// (the producer of one and the consumer of the other would fight over it).
#[repr(align(64))]
struct Slot<T> {
    stamp: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: a message is written by one producer and then read and dropped
// by the consumer, never touched by two threads at once (the stamp
// protocol above), so sending `T` between threads is all that is needed.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: as for `Send`: shared access only ever moves a `T` from the
// thread that wrote it to the consumer, under the stamps' release/acquire.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of at least `capacity` slots (rounded up to a power of two).
    pub(crate) fn new(capacity: usize) -> Ring<T> {
        let capacity = capacity
            .max(1)
            .checked_next_power_of_two()
            .filter(|&c| c <= usize::MAX / STEP / 4)
            .unwrap_or_else(|| panic!("ring capacity {capacity} is too large"));
        let slots = (0..capacity)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i * STEP),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            tail: CachePadded::new(AtomicUsize::new(0)),
            head: CachePadded::new(AtomicUsize::new(0)),
            slots,
            mask: capacity - 1,
            consumer: AtomicBool::new(false),
        }
    }

    /// How many messages the ring holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    #[inline]
    fn slot(&self, pos: usize) -> &Slot<T> {
        &self.slots[(pos / STEP) & self.mask]
    }

    /// The distance from `a` to `b` in positions' units, as a signed number.
    #[inline]
    fn ahead(b: usize, a: usize) -> isize {
        b.wrapping_sub(a) as isize
    }

    /// Claims the next position, or says why not. The claim must be
    /// completed with [`Claim::write`] or [`Claim::write_then`]; dropping it
    /// unwritten leaves a hole the consumer skips.
    #[inline]
    pub(crate) fn claim(&self) -> Result<Claim<'_, T>, Refused> {
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & CLOSED != 0 {
                return Err(Refused::Closed);
            }
            let slot = self.slot(tail);
            let stamp = slot.stamp.load(Ordering::Acquire);
            match Self::ahead(stamp, tail) {
                0 => match self.tail.compare_exchange_weak(
                    tail,
                    tail.wrapping_add(STEP),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Ok(Claim { slot, pos: tail }),
                    Err(now) => tail = now,
                },
                // The slot still holds last lap's message (or its producer
                // is still writing it): every slot is taken, unless this
                // stamp is stale. The consumer stores `head` after it
                // releases a slot, so a `head` read with acquire that says
                // "room" makes the release visible to the next look.
                d if d < 0 => {
                    let head = self.head.load(Ordering::Acquire);
                    if Self::ahead(tail, head) >= (STEP * self.capacity()) as isize {
                        return Err(Refused::Full);
                    }
                    crate::sync::spin_loop();
                    tail = self.tail.load(Ordering::Relaxed);
                }
                // Other producers claimed `tail` and beyond meanwhile.
                _ => {
                    crate::sync::spin_loop();
                    tail = self.tail.load(Ordering::Relaxed);
                }
            }
        }
    }

    /// Refuses every later claim. Returns whether this call closed it.
    pub(crate) fn close(&self) -> bool {
        self.tail.fetch_or(CLOSED, Ordering::AcqRel) & CLOSED == 0
    }

    /// Messages claimed and not yet consumed (a snapshot; it may be stale).
    pub(crate) fn len(&self) -> usize {
        // `head` first: it never passes `tail`, so a later `tail` is at
        // least as far along.
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire) & !CLOSED;
        (Self::ahead(tail, head).max(0) as usize / STEP).min(self.capacity())
    }

    /// Whether every slot is claimed.
    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.capacity()
    }

    /// The consumer's handle; `None` while another one exists.
    pub(crate) fn consumer(&self) -> Option<Consumer<'_, T>> {
        if self.consumer.swap(true, Ordering::Acquire) {
            return None;
        }
        Some(Consumer {
            ring: self,
            head: self.head.load(Ordering::Relaxed),
        })
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // No producer or consumer is left (`&mut self`), and a `Claim`
        // publishes when it is dropped, so the messages are the filled
        // slots from `head` on. (A `Claim` leaked with `mem::forget` leaves
        // its slot unpublished: the walk stops there, which leaks what
        // follows but never reads a slot twice or unwritten.)
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let slot = self.slot(head);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == head.wrapping_add(FILLED) {
                slot.value.with_mut(|p| {
                    // SAFETY: `FILLED` for `head`: the message was written
                    // and never read, and nothing else can reach it now.
                    unsafe { (*p).assume_init_drop() }
                });
            } else if stamp != head.wrapping_add(HOLE) {
                break;
            }
            head = head.wrapping_add(STEP);
        }
    }
}

/// A claimed position: the producer's exclusive right to write its slot.
pub(crate) struct Claim<'a, T> {
    slot: &'a Slot<T>,
    pos: usize,
}

impl<T> Claim<'_, T> {
    /// Writes `value` and publishes it.
    #[inline]
    pub(crate) fn write(self, value: T) {
        self.write_then(value, |_| {})
    }

    /// Writes `value`, lets `finish` complete it in place, then publishes
    /// it. If `finish` unwinds, the message is dropped and a hole is
    /// published instead.
    #[inline]
    pub(crate) fn write_then(self, value: T, finish: impl FnOnce(&mut T)) {
        self.slot.value.with_mut(|p| {
            // SAFETY: the claim made this thread the slot's only owner
            // until its stamp moves (module docs), and `MaybeUninit`
            // allows overwriting whatever is there.
            let value = unsafe { (*p).write(value) };
            // Should `finish` unwind, drop the message and leave a hole.
            struct Unwinding<T>(*mut MaybeUninit<T>);
            impl<T> Drop for Unwinding<T> {
                fn drop(&mut self) {
                    // SAFETY: runs only while `finish` unwinds, when the
                    // slot holds the value written above and still
                    // belongs to this thread.
                    unsafe { (*self.0).assume_init_drop() }
                }
            }
            let guard = Unwinding(p);
            finish(value);
            std::mem::forget(guard);
        });
        self.publish(FILLED);
    }

    #[inline]
    fn publish(self, state: usize) {
        self.slot
            .stamp
            .store(self.pos.wrapping_add(state), Ordering::Release);
        std::mem::forget(self);
    }
}

impl<T> Drop for Claim<'_, T> {
    /// An unwritten claim (dropped by mistake, or while unwinding) becomes
    /// a hole, so the consumer moves past it.
    fn drop(&mut self) {
        self.slot
            .stamp
            .store(self.pos.wrapping_add(HOLE), Ordering::Release);
    }
}

/// The single consumer's handle (see [`Ring::consumer`]).
pub(crate) struct Consumer<'a, T> {
    ring: &'a Ring<T>,
    head: usize,
}

impl<T> Consumer<'_, T> {
    /// Calls `f` with the oldest published message, then drops it and
    /// frees its slot; `None` if the next message is not published yet.
    #[inline]
    pub(crate) fn pop_with<R>(&mut self, f: impl FnOnce(&T) -> R) -> Option<R> {
        loop {
            let ring = self.ring;
            let slot = ring.slot(self.head);
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == self.head.wrapping_add(FILLED) {
                // Frees the slot even if `f` unwinds (the writer catches
                // its own panics and still drains at close).
                let _release = Release(self);
                return Some(slot.value.with(|p| {
                    // SAFETY: `FILLED` for `head`, read with acquire: the
                    // producer's write happens-before this read, and the
                    // slot is the consumer's until `release` stores the
                    // next lap's stamp.
                    f(unsafe { (*p).assume_init_ref() })
                }));
            }
            if stamp != self.head.wrapping_add(HOLE) {
                return None;
            }
            // A hole: nothing to read or drop.
            drop(Advance(self));
        }
    }

    /// Whether the next message is published (or a hole is ready to skip).
    #[inline]
    pub(crate) fn ready(&self) -> bool {
        let stamp = self.ring.slot(self.head).stamp.load(Ordering::Acquire);
        stamp == self.head.wrapping_add(FILLED) || stamp == self.head.wrapping_add(HOLE)
    }

    /// Whether the ring is closed and every message it accepted has been
    /// consumed: nothing can arrive any more.
    #[inline]
    pub(crate) fn drained(&self) -> bool {
        let tail = self.ring.tail.load(Ordering::Acquire);
        tail & CLOSED != 0 && tail & !CLOSED == self.head
    }
}

impl<T> Drop for Consumer<'_, T> {
    fn drop(&mut self) {
        self.ring.consumer.store(false, Ordering::Release);
    }
}

/// Drops the message at the consumer's `head`, then hands the slot to the
/// next lap and advances `head`.
struct Release<'c, 'a, T>(&'c mut Consumer<'a, T>);

impl<T> Drop for Release<'_, '_, T> {
    #[inline]
    fn drop(&mut self) {
        let ring = self.0.ring;
        let slot = ring.slot(self.0.head);
        // Hands the slot on even if the message's destructor panics: the
        // message then counts as dropped, and is never dropped twice.
        let _advance = Advance(&mut *self.0);
        slot.value.with_mut(|p| {
            // SAFETY: the slot holds `head`'s published message, read by
            // the consumer and not yet dropped; no producer can claim the
            // slot before `_advance` stores the next stamp.
            unsafe { (*p).assume_init_drop() }
        });
    }
}

/// Stores the next lap's stamp in `head`'s slot, then moves `head` on.
struct Advance<'c, 'a, T>(&'c mut Consumer<'a, T>);

impl<T> Drop for Advance<'_, '_, T> {
    #[inline]
    fn drop(&mut self) {
        let c = &mut *self.0;
        let lap = STEP * c.ring.capacity();
        c.ring
            .slot(c.head)
            .stamp
            .store(c.head.wrapping_add(lap), Ordering::Release);
        // After the stamp: a producer that reads this `head` sees the
        // release (see `claim`).
        c.head = c.head.wrapping_add(STEP);
        c.ring.head.store(c.head, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn drain<T: Clone>(c: &mut Consumer<'_, T>) -> Vec<T> {
        std::iter::from_fn(|| c.pop_with(T::clone)).collect()
    }

    #[test]
    fn fifo_full_and_wrap_around() {
        let ring = Ring::new(3);
        assert_eq!(ring.capacity(), 4);
        let mut c = ring.consumer().unwrap();
        assert!(ring.consumer().is_none(), "one consumer at a time");
        for lap in 0..5u32 {
            for i in 0..4 {
                ring.claim().unwrap().write(lap * 10 + i);
            }
            assert_eq!(ring.claim().err(), Some(Refused::Full));
            assert!(ring.is_full());
            assert_eq!(
                drain(&mut c),
                (0..4).map(|i| lap * 10 + i).collect::<Vec<_>>()
            );
            assert_eq!(ring.len(), 0);
            assert!(!c.ready());
        }
    }

    #[test]
    fn capacity_one() {
        let ring = Ring::new(1);
        let mut c = ring.consumer().unwrap();
        for i in 0..5 {
            ring.claim().unwrap().write(i);
            assert_eq!(ring.claim().err(), Some(Refused::Full));
            assert_eq!(c.pop_with(|v| *v), Some(i));
            assert_eq!(c.pop_with(|v| *v), None);
        }
    }

    #[test]
    fn messages_are_finished_in_place() {
        let ring = Ring::new(2);
        let mut c = ring.consumer().unwrap();
        ring.claim()
            .unwrap()
            .write_then(vec![1u8], |v| v.extend_from_slice(&[2, 3]));
        assert_eq!(c.pop_with(|v| v.clone()), Some(vec![1, 2, 3]));
    }

    #[test]
    fn holes_are_skipped() {
        let ring = Ring::new(4);
        let mut c = ring.consumer().unwrap();
        ring.claim().unwrap().write(String::from("a"));
        drop(ring.claim().unwrap());
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ring.claim()
                .unwrap()
                .write_then(String::from("dropped"), |_| panic!("in finish"));
        }));
        assert!(unwound.is_err());
        ring.claim().unwrap().write(String::from("b"));
        assert!(c.ready());
        assert_eq!(drain(&mut c), ["a", "b"]);
        // The holes' slots were handed on: a whole lap fits again.
        for _ in 0..4 {
            ring.claim().unwrap().write(String::new());
        }
        assert_eq!(ring.claim().err(), Some(Refused::Full));
    }

    #[test]
    fn close_refuses_and_drains() {
        let ring = Ring::new(4);
        let mut c = ring.consumer().unwrap();
        ring.claim().unwrap().write(1);
        assert!(!c.drained(), "not closed yet");
        assert!(ring.close());
        assert!(!ring.close());
        assert_eq!(ring.claim().err(), Some(Refused::Closed));
        assert!(!c.drained(), "a message is left");
        assert_eq!(c.pop_with(|v| *v), Some(1));
        assert!(c.drained());
    }

    #[test]
    fn unread_messages_are_dropped_with_the_ring() {
        let token = Arc::new(());
        {
            let ring = Ring::new(4);
            let mut c = ring.consumer().unwrap();
            for _ in 0..3 {
                ring.claim().unwrap().write(token.clone());
            }
            drop(ring.claim().unwrap()); // a hole in between
            assert!(c.pop_with(|_| ()).is_some());
            drop(c);
            ring.claim().err();
            assert_eq!(Arc::strong_count(&token), 3);
        }
        assert_eq!(Arc::strong_count(&token), 1, "no leak, no double drop");
    }

    #[test]
    fn a_panicking_destructor_still_frees_the_slot_and_drops_once() {
        use std::sync::atomic::AtomicUsize as Count;
        static DROPS: Count = Count::new(0);
        struct Bomb(bool);
        impl Drop for Bomb {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
                if self.0 {
                    panic!("destructor");
                }
            }
        }
        {
            let ring = Ring::new(2);
            let mut c = ring.consumer().unwrap();
            ring.claim().unwrap().write(Bomb(true));
            ring.claim().unwrap().write(Bomb(false));
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                c.pop_with(|_| ());
            }));
            assert!(unwound.is_err());
            assert_eq!(DROPS.load(Ordering::SeqCst), 1);
            // The next message is the second one, not the first again.
            assert_eq!(c.pop_with(|b| b.0), Some(false));
            assert_eq!(DROPS.load(Ordering::SeqCst), 2);
            assert_eq!(ring.len(), 0);
        }
        assert_eq!(DROPS.load(Ordering::SeqCst), 2, "nothing dropped twice");
    }

    #[test]
    #[should_panic(expected = "too large")]
    fn an_impossible_capacity_is_refused() {
        let _ = Ring::<u8>::new(usize::MAX);
    }

    #[test]
    fn a_consumer_can_be_taken_again_after_the_last_one_is_gone() {
        let ring = Ring::new(2);
        ring.claim().unwrap().write(7);
        drop(ring.consumer().unwrap());
        assert_eq!(ring.consumer().unwrap().pop_with(|v| *v), Some(7));
    }

    /// Producers on real threads against one consumer: every message
    /// arrives exactly once, each producer's in its order. Small enough
    /// for Miri, which checks the accesses.
    #[test]
    fn producers_against_one_consumer() {
        let (producers, per) = if cfg!(miri) { (3, 40) } else { (4, 50_000) };
        let ring = Arc::new(Ring::new(8));
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        loop {
                            match ring.claim() {
                                Ok(c) => break c.write_then((p, 0), |m| m.1 = i),
                                Err(Refused::Full) => std::thread::yield_now(),
                                Err(Refused::Closed) => unreachable!(),
                            }
                        }
                    }
                })
            })
            .collect();
        let mut next = vec![0; producers];
        let mut c = ring.consumer().unwrap();
        let mut got = 0;
        while got < producers * per {
            match c.pop_with(|&(p, i)| (p, i)) {
                Some((p, i)) => {
                    assert_eq!(i, next[p], "producer {p} out of order");
                    next[p] += 1;
                    got += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(c.pop_with(|_| ()), None);
        assert_eq!(next, vec![per; producers]);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::model;
    use loom::sync::Arc;
    use loom::thread;

    /// Two producers race for the claims of a two-slot ring while the
    /// consumer polls: each message is read once and whole, and loom checks
    /// every slot access for a data race. (Lapping, where a claim races
    /// with the release of the last lap, is the next model.)
    #[test]
    fn producers_race_for_claims() {
        model(|| {
            let ring = Arc::new(Ring::<usize>::new(2));
            let producers: Vec<_> = [1, 2]
                .into_iter()
                .map(|value| {
                    let ring = ring.clone();
                    thread::spawn(move || ring.claim().expect("room").write(value))
                })
                .collect();
            let mut c = ring.consumer().unwrap();
            let mut seen = Vec::new();
            while seen.len() < 2 {
                match c.pop_with(|&v| v) {
                    Some(v) => seen.push(v),
                    None => thread::yield_now(),
                }
            }
            seen.sort_unstable();
            assert_eq!(seen, [1, 2]);
            for h in producers {
                h.join().unwrap();
            }
        });
    }

    /// One producer laps a ring of two slots while the consumer reads:
    /// messages arrive in order, and a slot is written again only after
    /// its last message was read.
    #[test]
    fn a_producer_laps_the_ring() {
        model(|| {
            let ring = Arc::new(Ring::<usize>::new(2));
            let producer = {
                let ring = ring.clone();
                thread::spawn(move || {
                    for i in 0..3 {
                        loop {
                            match ring.claim() {
                                Ok(c) => break c.write(i),
                                Err(_) => thread::yield_now(),
                            }
                        }
                    }
                })
            };
            let mut c = ring.consumer().unwrap();
            let mut next = 0;
            while next < 3 {
                match c.pop_with(|&v| v) {
                    Some(v) => {
                        assert_eq!(v, next);
                        next += 1;
                    }
                    None => thread::yield_now(),
                }
            }
            producer.join().unwrap();
        });
    }

    /// A push racing with close is either read by the consumer before it
    /// sees the ring drained, or refused: never accepted and then lost.
    #[test]
    fn close_races_with_push() {
        model(|| {
            let ring = Arc::new(Ring::<usize>::new(2));
            let producer = {
                let ring = ring.clone();
                thread::spawn(move || match ring.claim() {
                    Ok(c) => {
                        c.write(1);
                        true
                    }
                    Err(Refused::Closed) => false,
                    Err(Refused::Full) => unreachable!("never full"),
                })
            };
            ring.close();
            let mut c = ring.consumer().unwrap();
            let mut read = 0;
            while !c.drained() {
                match c.pop_with(|&v| v) {
                    Some(v) => read += v,
                    None => thread::yield_now(),
                }
            }
            let accepted = producer.join().unwrap();
            assert_eq!(read, usize::from(accepted));
        });
    }
}
