//! A lock-free, append-only, segmented vector.
//!
//! `SegVec<T>` is the storage behind the in-memory collector. Any number of
//! threads push into it at once, readers look elements up or take snapshots
//! while pushes are going on, and nothing is moved or removed until the whole
//! vector is dropped. There is no lock anywhere: a push never waits for
//! another thread.
//!
//! # Layout
//!
//! Elements live in *buckets*, separately allocated arrays of slots. Bucket
//! `k` holds `FIRST << k` slots (`FIRST` is 32, or 2 under loom so that the
//! models cross bucket boundaries), so each bucket is twice the size of the
//! one before it and the first `k` buckets together hold `FIRST * (2^k - 1)`
//! elements. A bucket is never resized, moved or freed before the vector is
//! dropped. That is the point of the segmented layout: a `&T` handed out by
//! `get` stays valid for as long as the vector is borrowed,
//! while other threads keep pushing.
//!
//! The bucket heads are a fixed array of `AtomicPtr`s, all null at first:
//! `SegVec::new` allocates nothing, and bucket `k` is allocated by the first
//! push that needs it (or a little earlier, see below).
//!
//! To map an index to a slot, shift it by `FIRST`: with `i = index + FIRST`,
//! bucket `k` covers exactly the `i` in `FIRST << k .. FIRST << (k + 1)`, that
//! is, the `i` whose highest set bit is bit `log2(FIRST) + k`. So
//!
//! ```text
//! bucket = highest_set_bit(i) - log2(FIRST)    // from i.leading_zeros()
//! offset = i - (1 << highest_set_bit(i))       // i with its top bit cleared
//! ```
//!
//! With `FIRST = 32`: indices `0..32` are bucket 0, `32..96` bucket 1,
//! `96..224` bucket 2, and so on.
//!
//! Each slot is the value cell (a `MaybeUninit<T>`) plus a `published:
//! AtomicBool` flag saying whether the value has been written.
//!
//! # Capacity
//!
//! There are `usize::BITS - log2(FIRST) - 1` bucket heads (58 on a 64-bit
//! target), for a capacity of `FIRST * (2^58 - 1) = 2^63 - 32` elements. For
//! a large `T` the capacity is lower: only buckets whose array layout fits in
//! `isize::MAX` bytes are used (`SegVec::MAX_LEN`). A push past the capacity
//! panics with `SegVec capacity exceeded` and gives its index back, so the
//! index counter can never wrap around and hand out an index twice. Memory
//! runs out long before that, but soundness does not rely on it.
//!
//! # Publication protocol
//!
//! `push` does, in order:
//!
//! 1. **Reserve** an index with `next.fetch_add(1, Relaxed)`. Every push gets
//!    a different index, so each slot has exactly one writer, ever.
//! 2. **Find the bucket**: `Acquire`-load its head. If it is null, allocate a
//!    bucket with every flag `false` and install it with
//!    `compare_exchange(null, new, Release, Acquire)`.
//! 3. **Write** the value into the slot, with plain (non-atomic) writes.
//! 4. **Publish** the slot: `published.store(true, Release)`.
//! 5. Maybe pre-allocate the next bucket (see below).
//!
//! A reader (`get`) `Acquire`-loads the bucket head (null: `None`), then
//! `Acquire`-loads the slot's flag (`false`: `None`), and only then reads the
//! value.
//!
//! Why each ordering is what it is:
//!
//! * **The index counter is `Relaxed`.** `fetch_add` hands out distinct
//!   numbers whatever the ordering: all read-modify-writes of one atomic form
//!   a single total order and each one reads the value left by the one before
//!   it. The counter publishes no data (no reader concludes from it that a
//!   value is ready; that is the flag's job), so it needs no release/acquire.
//!   The snapshot guarantee of `reserved()` needs nothing stronger either: if
//!   a push returned before `reserved()` is called (in happens-before order),
//!   its `fetch_add` happens before the load, and write-read coherence then
//!   forbids the load from returning a value older than that `fetch_add`'s.
//! * **Bucket heads: `Release` CAS, `Acquire` loads.** The slots of a new
//!   bucket are initialized (flags set to `false`) with plain writes before
//!   the pointer is installed. A thread that sees the pointer must also see
//!   those writes, or reading a flag would race with its initialization. A
//!   thread that loses the CAS goes on to use the winner's bucket, so the
//!   failure ordering is `Acquire` too.
//! * **Slot flags: `Release` store, `Acquire` load.** The value is written
//!   before the `Release` store, so a reader whose `Acquire` load sees `true`
//!   happens after the write: reading the value is not a data race, and the
//!   reader sees all of it, including memory it owns (a `String`'s bytes).
//!   The slot is never written again before the vector is dropped, so handing
//!   out shared references is fine.
//!
//! # Snapshots
//!
//! `reserved()` is one atomic load: the number of indices handed out so far.
//! Every index below it belongs to a push that has either published already
//! or is between steps 1 and 4. Such a push waits for nobody (at worst it
//! allocates a bucket), so `get_or_wait` spins briefly, then yields, until the
//! slot is published. A snapshot is therefore `len = reserved()` in O(1), and
//! `iter_prefix(len)` yields exactly the slots `0..len` in index order. A
//! snapshot contains every push that returned before it was taken (maybe some
//! concurrent ones too), and a later snapshot extends an earlier one: same
//! elements, at the same addresses.
//!
//! `get_or_wait` is the one place that is not lock-free: if a producer is
//! descheduled between reserving and publishing, a reader of that index waits
//! until the producer runs again. A producer cannot get stuck there for good.
//! No user code runs between the two steps (the value is only moved into the
//! slot), the capacity panic happens before the index counts as reserved, and
//! allocation failure aborts the process.
//!
//! # Memory
//!
//! If two threads race to install the same bucket, the loser frees its own
//! allocation straight away and uses the winner's. No other thread can have
//! seen the losing bucket, and it holds no values, so nothing leaks and
//! nothing is freed while in use. The cost of a race is one wasted
//! allocation per losing thread.
//!
//! Races are kept rare by **pre-allocation**: the push that takes the slot
//! 7/8 of the way through bucket `k` (offset `len - len / 8 - 1`) allocates
//! bucket `k + 1` after publishing its own value, if nobody has yet. So
//! typically one producer per bucket pays for the allocation, ahead of time
//! and outside any other producer's reserve-publish window. A push that
//! reaches bucket `k + 1` before that (a burst of producers) allocates it
//! itself, using the same CAS.
//!
//! On drop (`&mut self`, so no push is in flight and every reserved index is
//! published) each value is dropped once and each bucket freed. If a
//! destructor panics, whatever was not dropped or freed yet is leaked, which
//! is safe.

use std::alloc::{handle_alloc_error, Layout};
use std::marker::PhantomData;
use std::mem::{self, MaybeUninit};
use std::ptr;

use crate::sync::{
    alloc, dealloc, spin_loop, thread, AtomicBool, AtomicPtr, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
    UnsafeCell,
};

/// Slots in bucket 0; bucket `k` holds `FIRST_BUCKET_LEN << k`.
#[cfg(not(loom))]
const FIRST_BUCKET_LEN: usize = 32;
/// Tiny under loom, so a few pushes already allocate several buckets.
#[cfg(loom)]
const FIRST_BUCKET_LEN: usize = 2;

const FIRST_BUCKET_SHIFT: u32 = FIRST_BUCKET_LEN.trailing_zeros();
const _: () = assert!(FIRST_BUCKET_LEN.is_power_of_two());

/// Number of bucket heads. One less than the `usize` index space could use,
/// which keeps the capacity below `isize::MAX` (see the module docs).
#[cfg(not(loom))]
const BUCKETS: usize = (usize::BITS - FIRST_BUCKET_SHIFT - 1) as usize;
/// Every loom atomic is a tracked object; a handful of buckets is plenty.
#[cfg(loom)]
const BUCKETS: usize = 6;

/// Busy-wait rounds in `get_or_wait` before yielding the CPU instead.
const SPINS_BEFORE_YIELD: u32 = 64;

/// A lock-free, append-only, segmented vector. See the [module docs](self).
pub(crate) struct SegVec<T> {
    /// The next index to hand out.
    next: CachePadded<AtomicUsize>,
    /// Bucket `k`: null, or `bucket_len(k)` initialized slots.
    buckets: [AtomicPtr<Slot<T>>; BUCKETS],
    /// We own `T`s (for drop check), through raw pointers.
    _owns: PhantomData<T>,
}

struct Slot<T> {
    /// Written once, by the push that reserved this slot.
    value: UnsafeCell<MaybeUninit<T>>,
    /// `true` once `value` is written; never reset.
    published: AtomicBool,
}

/// Keeps the reservation counter, which every push writes, off the cache
/// line of the bucket heads, which every read loads.
#[repr(align(128))]
struct CachePadded<T>(T);

impl<T> SegVec<T> {
    /// How many buckets have an array layout that fits in `isize::MAX` bytes
    /// for this `T` (at most [`BUCKETS`]).
    const USABLE_BUCKETS: usize = {
        let max_bytes = isize::MAX as usize - (mem::align_of::<Slot<T>>() - 1);
        let max_slots = max_bytes / mem::size_of::<Slot<T>>();
        let mut n = 0;
        while n < BUCKETS && bucket_len(n) <= max_slots {
            n += 1;
        }
        n
    };

    /// The most elements a `SegVec<T>` can hold: the total size of the
    /// usable buckets. Pushing more panics.
    pub(crate) const MAX_LEN: usize = FIRST_BUCKET_LEN * ((1 << Self::USABLE_BUCKETS) - 1);

    /// Creates an empty vector. Allocates nothing.
    pub(crate) fn new() -> Self {
        Self {
            next: CachePadded(AtomicUsize::new(0)),
            buckets: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            _owns: PhantomData,
        }
    }

    /// Appends `value` and returns its index.
    ///
    /// Lock-free: it never waits for another thread. Once it returns,
    /// [`get`](Self::get) on the index, from any thread, returns the value.
    ///
    /// # Panics
    ///
    /// If the vector already holds [`MAX_LEN`](Self::MAX_LEN) elements.
    pub(crate) fn push(&self, value: T) -> usize {
        // Relaxed: this only makes indices unique; the flag publishes.
        let index = self.next.0.fetch_add(1, Relaxed);
        if index >= Self::MAX_LEN {
            // Give the index back, so that failed pushes cannot wrap the
            // counter around to indices that are already in use.
            self.next.0.fetch_sub(1, Relaxed);
            capacity_exceeded(Self::MAX_LEN);
        }

        let (bucket, offset) = locate(index);
        let slots = self.bucket_or_install(bucket);
        // SAFETY: `slots` is bucket `bucket`: `bucket_len(bucket)` initialized
        // slots that stay allocated until `drop(&mut self)`. `locate` gives
        // `offset < bucket_len(bucket)`.
        let slot = unsafe { &*slots.add(offset) };
        // SAFETY: `fetch_add` gave `index` to this push alone, so we are the
        // only writer this slot will ever have. Readers do not touch `value`
        // until they see `published == true`, which we store only below, so
        // no access overlaps this write. The slot was never written, so
        // nothing is overwritten.
        slot.value
            .with_mut(|cell| unsafe { cell.write(MaybeUninit::new(value)) });
        // Release: a reader that sees `true` also sees the write above.
        slot.published.store(true, Release);

        if offset == prealloc_offset(bucket) {
            self.preallocate(bucket + 1);
        }
        index
    }

    /// How many indices have been handed out: every push that returned
    /// before this call (in happens-before order) has an index below it.
    ///
    /// Some of those pushes may still be in flight; use
    /// [`get_or_wait`](Self::get_or_wait) or [`iter_prefix`](Self::iter_prefix)
    /// to read them.
    pub(crate) fn reserved(&self) -> usize {
        // Relaxed is enough, see "Why each ordering" in the module docs.
        // `min`: a push that hit the capacity may not have given its index
        // back yet.
        self.next.0.load(Relaxed).min(Self::MAX_LEN)
    }

    /// The element at `index` if it has been published, else `None` (not yet
    /// written, or never reserved).
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        if index >= Self::MAX_LEN {
            return None;
        }
        let (bucket, offset) = locate(index);
        // Acquire: pairs with the installing CAS, so the slots' initial
        // state is visible.
        let slots = self.buckets[bucket].load(Acquire);
        if slots.is_null() {
            return None;
        }
        // SAFETY: a non-null head points to `bucket_len(bucket)` slots,
        // initialized before the Release CAS our Acquire load read from, and
        // freed only by `drop(&mut self)`, which cannot run while `&self` is
        // borrowed. `offset < bucket_len(bucket)`.
        let slot = unsafe { &*slots.add(offset) };
        // Acquire: pairs with the Release store in `push`.
        if !slot.published.load(Acquire) {
            return None;
        }
        // SAFETY: the flag is `true`, so the value was initialized and that
        // write happens before this read. Nobody writes or drops it again
        // until `drop(&mut self)`, so a shared borrow for as long as `&self`
        // lives is sound.
        Some(slot.value.with(|cell| unsafe { (*cell).assume_init_ref() }))
    }

    /// The element at `index`, which must be below [`reserved`](Self::reserved),
    /// waiting for its push to publish it if that push is still in flight.
    ///
    /// The wait is short: the push has nothing left to do but allocate a
    /// bucket (rarely), move the value in and set the flag. It spins, then
    /// yields the CPU in case the producer is waiting for it.
    ///
    /// # Panics
    ///
    /// If `index >= self.reserved()`: nothing will ever be published there
    /// unless some future push happens, so waiting could last forever.
    pub(crate) fn get_or_wait(&self, index: usize) -> &T {
        // Fast path, without touching the counter every push writes to. A
        // published index is always below `reserved()` (its `fetch_add`
        // happens before the flag we just read), so this skips no panic.
        if let Some(value) = self.get(index) {
            return value;
        }
        let reserved = self.reserved();
        assert!(
            index < reserved,
            "SegVec::get_or_wait: index {index} is not reserved (reserved() = {reserved})"
        );
        self.wait_for(index)
    }

    /// The elements `0..len` in index order, waiting like
    /// [`get_or_wait`](Self::get_or_wait) for any still being written. With
    /// `len = self.reserved()` this is a consistent snapshot.
    ///
    /// # Panics
    ///
    /// If `len > self.reserved()`.
    pub(crate) fn iter_prefix(&self, len: usize) -> impl Iterator<Item = &T> + '_ {
        let reserved = self.reserved();
        assert!(
            len <= reserved,
            "SegVec::iter_prefix: len {len} exceeds reserved() = {reserved}"
        );
        // Checked once above, not per element: every index below `len` has
        // been reserved, so `wait_for` will return.
        (0..len).map(move |index| self.wait_for(index))
    }

    /// Waits until `index`, which has been reserved, is published.
    fn wait_for(&self, index: usize) -> &T {
        let mut spins = 0;
        loop {
            if let Some(value) = self.get(index) {
                return value;
            }
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                spin_loop();
            } else {
                // The producer may be preempted, maybe by us: let it run.
                thread::yield_now();
            }
        }
    }

    /// Head of bucket `bucket`, installing the bucket if there is none yet.
    fn bucket_or_install(&self, bucket: usize) -> *mut Slot<T> {
        let slots = self.buckets[bucket].load(Acquire);
        if !slots.is_null() {
            return slots;
        }
        self.install(bucket)
    }

    /// Allocates bucket `bucket` and tries to install it; returns whichever
    /// bucket ended up installed.
    #[cold]
    fn install(&self, bucket: usize) -> *mut Slot<T> {
        let len = bucket_len(bucket);
        let new = alloc_bucket::<T>(len);
        // Release on success publishes the slots' initialization. Acquire on
        // failure, since we go on to use the winner's slots.
        match self.buckets[bucket].compare_exchange(ptr::null_mut(), new, Release, Acquire) {
            Ok(_) => new,
            Err(winner) => {
                // SAFETY: `new` came from `alloc_bucket(len)` and lost the
                // CAS, so no other thread ever saw it: it is ours alone, and
                // holds no published values.
                unsafe { free_bucket(new, len) };
                winner
            }
        }
    }

    /// Installs bucket `bucket` ahead of need, unless it already exists or
    /// is past the capacity.
    #[cold]
    fn preallocate(&self, bucket: usize) {
        // Relaxed: a stale null only costs a lost CAS, and a non-null
        // pointer is not dereferenced here.
        if bucket < Self::USABLE_BUCKETS && self.buckets[bucket].load(Relaxed).is_null() {
            self.install(bucket);
        }
    }
}

impl<T> Default for SegVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for SegVec<T> {
    fn drop(&mut self) {
        // With `&mut self` no push is in flight, and every push that kept its
        // index ran to completion (no user code or panic between reserving
        // and publishing), so every reserved index is published.
        debug_assert!(
            (0..self.reserved()).all(|index| self.get(index).is_some()),
            "SegVec dropped with a reserved slot that was never published"
        );
        for (bucket, head) in self.buckets.iter().enumerate() {
            // Relaxed: `&mut self` already orders us after every other access.
            let slots = head.load(Relaxed);
            if !slots.is_null() {
                // SAFETY: installed by `install` with `bucket_len(bucket)`
                // slots and not freed before (only here). `&mut self` means
                // no other thread is using it and no `&T` into it is alive.
                unsafe { free_bucket(slots, bucket_len(bucket)) };
            }
        }
    }
}

// SAFETY: a `SegVec<T>` owns its `T`s and nothing tied to a thread (buckets
// are plain heap memory), so sending it sends the `T`s, which will be dropped
// on the receiving thread: `T: Send` is what that needs.
unsafe impl<T: Send> Send for SegVec<T> {}

// SAFETY: through `&SegVec<T>` other threads can push, moving their `T` in to
// be dropped later wherever the vector is dropped (needs `T: Send`), and get,
// holding `&T` on several threads at once (needs `T: Sync`). All shared
// internal state is atomics, plus value cells that are written once before
// publication and only read after it.
unsafe impl<T: Send + Sync> Sync for SegVec<T> {}

impl<T> Slot<T> {
    fn new() -> Self {
        Self {
            value: UnsafeCell::new(MaybeUninit::uninit()),
            published: AtomicBool::new(false),
        }
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        // Relaxed: `&mut self` already orders us after the publishing store.
        if self.published.load(Relaxed) {
            // SAFETY: published means initialized; this is the only place
            // that drops a value, and a slot is dropped once.
            self.value
                .with_mut(|cell| unsafe { (*cell).assume_init_drop() });
        }
    }
}

/// Bucket and offset of `index`, which must be below `SegVec::MAX_LEN`.
#[inline]
fn locate(index: usize) -> (usize, usize) {
    // Cannot overflow: `index < MAX_LEN <= 2^(BITS-1) - FIRST_BUCKET_LEN`.
    let shifted = index + FIRST_BUCKET_LEN;
    let top_bit = usize::BITS - 1 - shifted.leading_zeros();
    let bucket = (top_bit - FIRST_BUCKET_SHIFT) as usize;
    let offset = shifted ^ (1 << top_bit);
    (bucket, offset)
}

const fn bucket_len(bucket: usize) -> usize {
    FIRST_BUCKET_LEN << bucket
}

/// The push landing on this offset of `bucket` pre-allocates the next one.
#[inline]
fn prealloc_offset(bucket: usize) -> usize {
    let len = bucket_len(bucket);
    len - len / 8 - 1
}

/// A huge page (x86-64, most aarch64 Linux configurations).
const HUGE_PAGE: usize = 2 << 20;

/// Layout of a bucket of `len` slots. Only called for buckets below
/// `USABLE_BUCKETS`, whose layouts are valid by construction. A bucket of
/// at least a huge page is aligned to one, so that the kernel can back it
/// with huge pages (see `advise_huge_pages`).
fn bucket_layout<T>(len: usize) -> Layout {
    let layout = Layout::array::<Slot<T>>(len).expect("SegVec bucket size exceeds isize::MAX");
    if cfg!(any(loom, miri)) || layout.size() < HUGE_PAGE {
        return layout;
    }
    layout
        .align_to(HUGE_PAGE)
        .expect("SegVec bucket size exceeds isize::MAX")
}

/// Asks Linux to back a large bucket with 2 MiB pages: initialising a
/// bucket of a million events otherwise takes one page fault per 4 KiB
/// (about one per 15 events), half the cost of an in-memory emit. Only a
/// hint: where transparent huge pages are off, nothing changes.
#[cfg(all(target_os = "linux", not(loom), not(miri)))]
fn advise_huge_pages(ptr: *mut u8, layout: Layout) {
    if layout.align() == HUGE_PAGE {
        // SAFETY: `ptr .. ptr + layout.size()` is one live allocation of
        // ours, aligned to a page; `madvise` only changes how the kernel
        // backs it, never its contents, and its errors are harmless.
        unsafe { libc::madvise(ptr.cast(), layout.size(), libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(all(target_os = "linux", not(loom), not(miri))))]
fn advise_huge_pages(_ptr: *mut u8, _layout: Layout) {}

/// Allocates `len` empty (unpublished) slots.
fn alloc_bucket<T>(len: usize) -> *mut Slot<T> {
    let layout = bucket_layout::<T>(len);
    // SAFETY: the layout is not zero-sized: `len >= 1`, and a slot holds at
    // least its one-byte flag.
    let slots = unsafe { alloc(layout) }.cast::<Slot<T>>();
    if slots.is_null() {
        handle_alloc_error(layout);
    }
    advise_huge_pages(slots.cast(), layout);
    for i in 0..len {
        // SAFETY: `i < len`, so in bounds of an allocation sized and aligned
        // for `len` slots, and nothing is there yet to overwrite.
        unsafe { slots.add(i).write(Slot::new()) };
    }
    slots
}

/// Drops a bucket's published values and frees it.
///
/// # Safety
///
/// `slots` must come from `alloc_bucket::<T>(len)`, not be freed yet, and not
/// be accessed by anyone else, now or later.
unsafe fn free_bucket<T>(slots: *mut Slot<T>, len: usize) {
    // SAFETY: per the contract, `len` initialized slots that are ours alone.
    // Dropping a slot drops its value if it was published.
    unsafe { ptr::drop_in_place(ptr::slice_from_raw_parts_mut(slots, len)) };
    // SAFETY: allocated by `alloc` with this same layout, freed only here.
    unsafe { dealloc(slots.cast(), bucket_layout::<T>(len)) };
}

#[cold]
#[inline(never)]
fn capacity_exceeded(max_len: usize) -> ! {
    panic!("SegVec capacity exceeded: it holds at most {max_len} elements")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    use std::sync::Arc;

    /// Keeps Miri runs short.
    fn scaled(normal: usize, miri: usize) -> usize {
        if cfg!(miri) {
            miri
        } else {
            normal
        }
    }

    /// Index of the first slot of `bucket`.
    fn bucket_start(bucket: usize) -> usize {
        FIRST_BUCKET_LEN * ((1 << bucket) - 1)
    }

    #[test]
    fn new_allocates_nothing() {
        let v = SegVec::<String>::new();
        assert_eq!(v.reserved(), 0);
        assert!(v.buckets.iter().all(|b| b.load(Relaxed).is_null()));
        assert!(v.get(0).is_none());
    }

    #[test]
    fn push_then_get_in_order() {
        let n = scaled(3_000, 300);
        let v = SegVec::new();
        for i in 0..n {
            assert_eq!(v.push(i.to_string()), i);
            assert_eq!(v.reserved(), i + 1);
        }
        for i in 0..n {
            assert_eq!(v.get(i).map(String::as_str), Some(i.to_string().as_str()));
            assert_eq!(v.get_or_wait(i), &i.to_string());
        }
        let all: Vec<usize> = v.iter_prefix(n).map(|s| s.parse().unwrap()).collect();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn index_mapping_round_trips() {
        let n = scaled(5_000, 1_000);
        let mut expected = (0, 0);
        for index in 0..n {
            let (bucket, offset) = locate(index);
            // Slots are filled bucket by bucket, offset by offset.
            assert_eq!((bucket, offset), expected, "index {index}");
            assert!(offset < bucket_len(bucket));
            assert_eq!(bucket_start(bucket) + offset, index);
            expected.1 += 1;
            if expected.1 == bucket_len(expected.0) {
                expected = (expected.0 + 1, 0);
            }
        }
        assert_eq!(locate(FIRST_BUCKET_LEN - 1), (0, FIRST_BUCKET_LEN - 1));
        assert_eq!(locate(FIRST_BUCKET_LEN), (1, 0));
        assert_eq!(
            locate(3 * FIRST_BUCKET_LEN - 1),
            (1, 2 * FIRST_BUCKET_LEN - 1)
        );
        assert_eq!(locate(3 * FIRST_BUCKET_LEN), (2, 0));
    }

    #[test]
    fn capacity_ends_on_a_bucket_boundary() {
        // One-byte slots: every bucket is usable.
        assert_eq!(SegVec::<()>::USABLE_BUCKETS, BUCKETS);
        let max = SegVec::<()>::MAX_LEN;
        assert_eq!(max, bucket_start(BUCKETS));
        assert_eq!(locate(max - 1), (BUCKETS - 1, bucket_len(BUCKETS - 1) - 1));
        assert!(max <= isize::MAX as usize);
        // Huge elements: fewer buckets, and the largest still has a layout.
        type Huge = [u8; 1 << 40];
        let usable = SegVec::<Huge>::USABLE_BUCKETS;
        assert!(usable < BUCKETS);
        assert!(Layout::array::<Slot<Huge>>(bucket_len(usable - 1)).is_ok());
        assert!(Layout::array::<Slot<Huge>>(bucket_len(usable)).is_err());
        assert_eq!(SegVec::<Huge>::MAX_LEN, bucket_start(usable));
        assert!(SegVec::<Huge>::new().get(usize::MAX).is_none());
    }

    #[test]
    fn elements_land_in_distinct_stable_slots() {
        let n = scaled(4_000, 500);
        let v = SegVec::new();
        let mut addrs = Vec::new();
        for i in 0..n {
            v.push(i as u32);
            addrs.push(v.get(i).unwrap() as *const u32);
        }
        // Later pushes allocated more buckets; nothing moved.
        for (i, &addr) in addrs.iter().enumerate() {
            assert!(ptr::eq(v.get(i).unwrap(), addr));
        }
        assert_eq!(addrs.iter().collect::<BTreeSet<_>>().len(), n);
    }

    #[test]
    fn unwritten_indices_are_none() {
        let v = SegVec::new();
        assert!(v.get(0).is_none());
        v.push(7u8);
        assert_eq!(v.get(0), Some(&7));
        assert!(v.get(1).is_none()); // bucket exists, slot unpublished
        assert!(v.get(10 * FIRST_BUCKET_LEN).is_none()); // no bucket
        assert!(v.get(usize::MAX).is_none()); // past the capacity

        // Reserved but not yet published: what a reader sees while a
        // producer is between `fetch_add` and the flag store.
        let reserved = v.next.0.fetch_add(1, Relaxed);
        assert_eq!(v.reserved(), 2);
        assert!(v.get(reserved).is_none());
        // Finish that "push" by hand so the drop-time check holds.
        let (bucket, offset) = locate(reserved);
        // SAFETY: as in `push`: an installed bucket, and `offset` is in it.
        let slot = unsafe { &*v.bucket_or_install(bucket).add(offset) };
        // SAFETY: as in `push`: we reserved this index, so we are its only
        // writer, and nothing reads it before the flag is set.
        slot.value
            .with_mut(|c| unsafe { c.write(MaybeUninit::new(9)) });
        slot.published.store(true, Release);
        assert_eq!(v.get_or_wait(reserved), &9);
    }

    #[test]
    #[should_panic(expected = "is not reserved")]
    fn get_or_wait_past_reserved_panics() {
        let v = SegVec::new();
        v.push(1u8);
        v.get_or_wait(1);
    }

    #[test]
    #[should_panic(expected = "exceeds reserved")]
    fn iter_prefix_past_reserved_panics() {
        let v = SegVec::<u8>::new();
        let _ = v.iter_prefix(1);
    }

    #[test]
    fn push_past_capacity_panics_and_gives_the_index_back() {
        let v = SegVec::<u8>::new();
        let max = SegVec::<u8>::MAX_LEN;
        // Pretend the vector is full (no bucket gets touched).
        v.next.0.store(max, Relaxed);
        let err = catch_unwind(AssertUnwindSafe(|| v.push(1))).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("SegVec capacity exceeded"), "{msg}");
        assert_eq!(v.next.0.load(Relaxed), max);
        assert_eq!(v.reserved(), max);
        // Its slots were never published; skip the drop-time check. No
        // bucket was allocated, so this leaks nothing.
        mem::forget(v);
    }

    struct CountDrops(Arc<StdAtomicUsize>);

    impl Drop for CountDrops {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    #[test]
    fn drop_runs_each_destructor_once() {
        let drops = Arc::new(StdAtomicUsize::new(0));
        // Crosses several buckets, including a pre-allocated empty one.
        let n = scaled(1_000, 200);
        let v = SegVec::new();
        for _ in 0..n {
            v.push(CountDrops(drops.clone()));
        }
        assert_eq!(drops.load(Relaxed), 0);
        drop(v);
        assert_eq!(drops.load(Relaxed), n);
        assert_eq!(Arc::strong_count(&drops), 1);
    }

    #[test]
    fn zero_sized_types() {
        static DROPS: StdAtomicUsize = StdAtomicUsize::new(0);
        struct Zst;
        impl Drop for Zst {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Relaxed);
            }
        }

        let n = scaled(1_000, 200);
        let v = SegVec::new();
        for i in 0..n {
            assert_eq!(v.push(Zst), i);
        }
        assert!((0..n).all(|i| v.get(i).is_some()));
        assert!(v.get(n).is_none());
        assert_eq!(v.iter_prefix(n).count(), n);
        drop(v);
        assert_eq!(DROPS.load(Relaxed), n);

        let units = SegVec::new();
        units.push(());
        assert_eq!(units.get(0), Some(&()));
    }

    #[test]
    fn concurrent_pushes_with_snapshot_reader() {
        let threads = scaled(4, 2);
        let per_thread = scaled(50_000, 200);
        let v = SegVec::<(usize, usize)>::new();
        let done = std::sync::atomic::AtomicBool::new(false);
        // Start producers and reader together.
        let start = std::sync::Barrier::new(threads + 1);

        std::thread::scope(|s| {
            let producers: Vec<_> = (0..threads)
                .map(|t| {
                    let (v, start) = (&v, &start);
                    s.spawn(move || {
                        start.wait();
                        let mut last = None;
                        for seq in 0..per_thread {
                            let index = v.push((t, seq));
                            // Our own pushes get increasing indices and are
                            // readable as soon as push returns.
                            assert!(last.is_none_or(|l| l < index));
                            assert_eq!(v.get(index), Some(&(t, seq)));
                            last = Some(index);
                        }
                    })
                })
                .collect();

            let reader = s.spawn(|| {
                // Everything seen so far, by address: slots never move.
                let mut seen: Vec<*const (usize, usize)> = Vec::new();
                let mut snapshots = 0;
                start.wait();
                loop {
                    let finished = done.load(Acquire);
                    let len = v.reserved();
                    assert!(len >= seen.len(), "reserved() went backwards");
                    let old_len = seen.len();
                    if snapshots % 8 == 0 || finished {
                        // Read all of 0..len: what earlier snapshots saw is
                        // unchanged, and the rest is new.
                        for (i, value) in v.iter_prefix(len).enumerate() {
                            match seen.get(i) {
                                Some(&old) => assert!(ptr::eq(value, old)),
                                None => seen.push(value),
                            }
                        }
                    } else {
                        // Read only the new part, where pushes are in flight,
                        // so that many snapshots overlap the producers.
                        seen.extend((old_len..len).map(|i| v.get_or_wait(i) as *const _));
                    }
                    // Reading the new part again gives the same slots.
                    for (i, &old) in seen.iter().enumerate().skip(old_len) {
                        let value = v.get_or_wait(i);
                        assert!(ptr::eq(value, old));
                        assert!(value.0 < threads && value.1 < per_thread);
                    }
                    snapshots += 1;
                    if finished {
                        return (seen.len(), snapshots);
                    }
                }
            });

            for p in producers {
                p.join().unwrap();
            }
            done.store(true, Release);
            let (seen, snapshots) = reader.join().unwrap();
            assert_eq!(seen, threads * per_thread);
            assert!(snapshots >= 1);
        });

        // Every value exactly once, each thread's in push order.
        assert_eq!(v.reserved(), threads * per_thread);
        let mut next_seq = vec![0; threads];
        for &(t, seq) in v.iter_prefix(v.reserved()) {
            assert_eq!(seq, next_seq[t], "thread {t} out of order");
            next_seq[t] += 1;
        }
        assert!(next_seq.iter().all(|&n| n == per_thread));
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::model;
    use loom::sync::Arc;

    /// Two producers race for the first bucket (and one of them
    /// pre-allocates the second) while a reader snapshots.
    #[test]
    fn concurrent_pushes_and_snapshot() {
        model(|| {
            let v = Arc::new(SegVec::new());
            let producers: Vec<_> = [10, 20]
                .into_iter()
                .map(|value| {
                    let v = v.clone();
                    thread::spawn(move || {
                        let index = v.push(value);
                        assert_eq!(v.get(index), Some(&value));
                    })
                })
                .collect();
            let reader = {
                let v = v.clone();
                thread::spawn(move || {
                    let len = v.reserved();
                    let seen: Vec<u32> = v.iter_prefix(len).copied().collect();
                    assert!(seen.len() <= 2);
                    assert!(seen.iter().all(|x| *x == 10 || *x == 20));
                    if len == 2 {
                        assert_ne!(seen[0], seen[1]);
                    }
                })
            };
            for p in producers {
                p.join().unwrap();
            }
            reader.join().unwrap();
            assert_eq!(v.reserved(), 2);
            let mut all: Vec<u32> = v.iter_prefix(2).copied().collect();
            all.sort_unstable();
            assert_eq!(all, [10, 20]);
        });
    }

    /// Two threads need bucket 1 at once: one because its push landed on
    /// bucket 1, the other because its push pre-allocates bucket 1. The loser
    /// must free its allocation (loom's leak check) and both values must be
    /// readable.
    #[test]
    fn racing_bucket_installs() {
        model(|| {
            let v = Arc::new(SegVec::new());
            v.push(String::from("zero")); // bucket 0 exists already
            let handles: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|s| {
                    let v = v.clone();
                    thread::spawn(move || v.push(String::from(s)))
                })
                .collect();
            let mut indices: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            indices.sort_unstable();
            assert_eq!(indices, [1, 2]);
            assert!(!v.buckets[1].load(Relaxed).is_null());
            let mut all: Vec<&str> = v.iter_prefix(3).map(String::as_str).collect();
            all.sort_unstable();
            assert_eq!(all, ["a", "b", "zero"]);
        });
    }

    /// A value observed through `get` on another thread is fully written.
    #[test]
    fn publication_is_visible() {
        model(|| {
            let v = Arc::new(SegVec::new());
            let producer = {
                let v = v.clone();
                thread::spawn(move || {
                    v.push(vec![1, 2, 3]);
                })
            };
            // Wait (yielding, so loom moves the producer along) rather than
            // look once: loom's DPOR would not otherwise schedule the
            // producer's install before this thread's first look.
            let value = loop {
                if let Some(value) = v.get(0) {
                    break value;
                }
                thread::yield_now();
            };
            assert_eq!(value, &[1, 2, 3]);
            producer.join().unwrap();
            assert_eq!(v.get(0).map(Vec::as_slice), Some(&[1, 2, 3][..]));
        });
    }
}
