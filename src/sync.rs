//! One import path for the concurrency primitives, with or without loom.
//!
//! The lock-free code in this crate imports its atomics, cells, allocator
//! entry points and thread helpers from here rather than from `std`. Under
//! `RUSTFLAGS="--cfg loom"` these names resolve to [loom]'s instrumented
//! versions, so the model checker can see every atomic access, every
//! `UnsafeCell` access and every allocation (leaks included); in normal
//! builds they are the plain `std` items at zero cost.
//!
//! loom's `UnsafeCell` only hands out raw pointers inside a closure
//! (`with` / `with_mut`), so that it can track when an access starts and
//! ends. The `std` side gets a thin wrapper with the same closure API, so
//! the same source compiles both ways.
//!
//! [loom]: https://docs.rs/loom

#[cfg(loom)]
pub(crate) use loom::{
    alloc::{alloc, dealloc},
    cell::UnsafeCell,
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering},
    thread,
};

#[cfg(not(loom))]
pub(crate) use std::{
    alloc::{alloc, dealloc},
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering},
    thread,
};

/// `std::cell::UnsafeCell` with loom's closure-based access API.
#[cfg(not(loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    #[inline]
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }
}

#[cfg(not(loom))]
impl<T: ?Sized> UnsafeCell<T> {
    /// Calls `f` with a pointer for reading the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer for writing the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Runs a loom model with this crate's bounds: at most three preemptions
/// unless `LOOM_MAX_PREEMPTIONS` says otherwise, and room for the branches
/// of threads that poll each other with `yield_now`.
#[cfg(all(test, loom))]
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.max_branches = builder.max_branches.max(100_000);
    builder.check(f);
}
