//! The JSONL sink: a bounded lock-free queue in front of one writer thread.
//!
//! ```text
//!  producers ── claim, write in place ──► Ring<Msg> (bounded, MPSC) ──► writer thread
//!     │                                                                     │
//!     └─ wake the writer only if it sleeps                 read in place, serialise a batch
//!                                                           into one reused buffer, write(2) it
//! ```
//!
//! **Producer side** ([`JsonlSink::emit`]): claim a slot of the queue
//! (`ring`: one compare-and-swap), write the event into it, publish it;
//! then one read-modify-write decides whether the writer sleeps and needs
//! an unpark. No allocation, no formatting, no system call, no lock. The
//! emitter's path, [`JsonlSink::emit_ref`], does not even need the owned
//! event: it copies the borrowed event's bytes straight into the slot as
//! a fixed 384-byte message (`packed`), so an event that fits (372 bytes
//! of text and values) costs no allocation, and one that does not is
//! built owned and queued as before. When the queue is
//! full the sink is **lossless by default**: the producer spins briefly,
//! then waits on a condition variable until the writer makes room. In
//! lossy mode it drops the event instead and counts it; the writer then
//! writes an `error` event (`error_type` `AuditEventsDropped`, the count in
//! `metadata`) so the log itself shows the gap.
//!
//! **Writer side** (`writer`): drains the queue, serialises events into a
//! reused buffer, writes whole batches, and sleeps only when the queue is
//! empty. While the queue is busy it hands full batches over instead of
//! writing them (`handoff`), and a producer that is waiting for room in a
//! full queue anyway writes them (regular files, lossless mode): the
//! kernel's copy of the bytes then runs on the producer's idle core while
//! the writer serialises the next batch. Events reach the OS as soon as the queue runs dry, so the
//! periodic tick (`flush_interval`, default 10 ms) matters only for
//! `fdatasync` in durable mode and for a `Write` target's own buffer.
//!
//! **Flush** is a marker pushed through the same FIFO queue: when the
//! writer pops it, every event pushed before it (by any thread, in
//! happens-before order) has been serialised; the writer writes them out
//! (and syncs, if durable) and completes the marker. During a write fault a
//! flush returns the fault at once instead of waiting for the disk.
//!
//! **Close** (also on drop) closes the queue and wakes the writer, which
//! drains everything the queue accepted, flushes, and exits; `close` joins
//! it and reports. Emits after close are refused, counted, and reported.

mod handoff;
mod packed;
mod ring;
mod target;
mod wake;
mod writer;

use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

pub use target::Rotation;

use crate::collector::{Collector, Error};
use crate::event::{Event, EventRef};
use crate::json::Format;
use handoff::Output;
use packed::Packed;
use ring::{Claim, Refused, Ring};
use target::{FileOptions, FileTarget, Target};
use wake::Wake;

/// How long a producer waiting for room stays awake (yielding) to write
/// handed-over batches before it sleeps; one producer at a time, the
/// others sleep at once (see `handoff`).
const HELP_WAIT: Duration = Duration::from_micros(500);

/// The longest interval and timeout the writer adds to the clock: longer
/// ones would overflow `Instant`, and a century is never in practice.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

// An event travels by value: boxing it to shrink the slot would add an
// allocation and a cross-thread free to every emit.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    Event(Event),
    /// An event copied from an [`EventRef`] (the emitter's path).
    Packed(Packed),
    Flush(Arc<Completion>),
    Reopen(Arc<Completion>),
}

/// A one-shot result slot for flush and reopen requests (cold path).
pub(crate) struct Completion {
    state: Mutex<Answer>,
    ready: Condvar,
}

enum Answer {
    Waiting,
    /// The waiter stopped waiting (it returned the writer's fault).
    Gone,
    Done(Result<(), Error>),
}

impl Completion {
    fn new() -> Arc<Completion> {
        Arc::new(Completion::waiting())
    }

    fn waiting() -> Completion {
        Completion {
            state: Mutex::new(Answer::Waiting),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Answer> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn complete(&self, r: Result<(), Error>) {
        self.answer(|_| r);
    }

    /// Completes with what `answer` returns, told whether anyone still
    /// waits; decided under the lock, so a waiter that leaves either gets
    /// this answer or was gone before it was made.
    pub(crate) fn answer(&self, answer: impl FnOnce(bool) -> Result<(), Error>) {
        let mut state = self.lock();
        let waiting = matches!(*state, Answer::Waiting);
        let r = answer(waiting);
        if waiting {
            *state = Answer::Done(r);
            self.ready.notify_all();
        }
    }

    fn wait_timeout(&self, t: Duration) -> Option<Result<(), Error>> {
        let (mut state, _) = self
            .ready
            .wait_timeout_while(self.lock(), t, |s| matches!(s, Answer::Waiting))
            .unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *state, Answer::Gone) {
            Answer::Done(r) => Some(r),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Stops waiting; the answer, if it came meanwhile.
    fn leave(&self) -> Option<Result<(), Error>> {
        match std::mem::replace(&mut *self.lock(), Answer::Gone) {
            Answer::Done(r) => Some(r),
            _ => None,
        }
    }

    /// Waits for the answer (`Ok` if none will come) and leaves it for
    /// other waiters.
    fn wait_shared(&self, t: Duration) -> Option<Result<(), Error>> {
        let (state, _) = self
            .ready
            .wait_timeout_while(self.lock(), t, |s| matches!(s, Answer::Waiting))
            .unwrap_or_else(|p| p.into_inner());
        match &*state {
            Answer::Done(r) => Some(r.clone()),
            Answer::Gone => Some(Ok(())),
            Answer::Waiting => None,
        }
    }

    fn is_complete(&self) -> bool {
        !matches!(*self.lock(), Answer::Waiting)
    }
}

impl Shared {
    pub(crate) fn unreported(&self) -> std::sync::MutexGuard<'_, Unreported> {
        self.unreported.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The errors recorded since the last flush and not yet told to anyone:
/// the first is what the next flush (or close) reports; later ones are
/// counted in the stats only. Two are kept, not one, so that an error
/// recorded just before a flusher is told the fault ahead of it is
/// reported by the next flush instead of vanishing behind the fault.
#[derive(Default)]
pub(crate) struct Unreported {
    errors: Vec<Error>,
}

impl Unreported {
    pub(crate) fn record(&mut self, e: Error) {
        if self.errors.len() < 2 {
            self.errors.push(e);
        }
    }

    /// The first error since the last take; the rest are dropped.
    pub(crate) fn take(&mut self) -> Option<Error> {
        let first = (!self.errors.is_empty()).then(|| self.errors.remove(0));
        self.errors.clear();
        first
    }

    /// A fault told to a flusher directly is not reported again.
    fn forget(&mut self, told: &Arc<io::Error>) {
        self.errors
            .retain(|e| !matches!(e, Error::Io(e) if Arc::ptr_eq(e, told)));
    }
}

/// Producers waiting for room in a full queue (lossless mode).
pub(crate) struct Space {
    waiters: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
}

impl Space {
    /// Writer side: wake waiting producers, if any.
    ///
    /// The fence pairs with the one a producer makes after counting itself
    /// a waiter: either the writer sees the waiter, or the waiter sees the
    /// room the writer's pops made (a store then a load on each side, so
    /// without fences both could miss, and the producer would sleep out
    /// its timeout on an emptied queue).
    pub(crate) fn notify(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.room.notify_all();
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    events_written: AtomicU64,
    bytes_written: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
    retries: AtomicU64,
    after_close: AtomicU64,
    abandoned: AtomicU64,
}

impl Counters {
    /// A batch the OS has taken.
    pub(crate) fn record_written(&self, events: u64, bytes: usize) {
        self.events_written.fetch_add(events, Ordering::Relaxed);
        self.bytes_written
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

pub(crate) struct Shared {
    queue: Ring<Msg>,
    /// The target, and full batches on their way to it.
    output: Output,
    wake: Wake,
    space: Space,
    closed: AtomicBool,
    lossy: bool,
    /// The write error the writer is currently retrying, if any.
    fault: Mutex<Option<Arc<io::Error>>>,
    stats: Counters,
    /// `after_close` already reported by a flush or close.
    after_close_reported: AtomicU64,
    /// Completed with the writer's result when its thread ends, however
    /// it ends: a flush racing with `close` waits for it.
    exited: Completion,
    /// Errors since the last flush that no flusher has been told (see
    /// [`Unreported`]).
    unreported: Mutex<Unreported>,
    /// `close` has returned the writer's result: later flushes do not
    /// report it again.
    close_returned: AtomicBool,
}

/// A snapshot of the sink's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Events the OS has taken.
    pub events_written: u64,
    /// Bytes the OS has taken.
    pub bytes_written: u64,
    /// Events dropped in lossy mode because the queue was full.
    pub dropped: u64,
    /// Failed writes, syncs and reopens.
    pub errors: u64,
    /// Write attempts after a failure.
    pub retries: u64,
    /// Events refused because the sink was closed.
    pub after_close: u64,
    /// Events given up at close because a fault outlasted the close timeout.
    pub abandoned: u64,
    /// Messages in the queue now.
    pub queue_depth: usize,
    /// Whether a write fault is being retried now.
    pub faulted: bool,
    /// Batches written by producers while they waited for room in a full
    /// queue, instead of by the writer thread (regular files only; see
    /// the module docs).
    pub batches_by_producers: u64,
}

/// Options for a [`JsonlSink`].
///
/// ```
/// use std::time::Duration;
/// use agent_audit::sink::{JsonlSink, Rotation};
/// use agent_audit::Format;
///
/// let dir = std::env::temp_dir().join(format!("agent-audit-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let sink = JsonlSink::builder()
///     .format(Format::Python)
///     .capacity(4096)
///     .flush_interval(Duration::from_millis(5))
///     .rotation(Rotation { max_bytes: 64 << 20, keep: 5 })
///     .open(dir.join("audit.jsonl"))
///     .unwrap();
/// sink.close().unwrap();
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct SinkBuilder {
    format: Format,
    capacity: usize,
    durable: bool,
    lossy: bool,
    flush_interval: Duration,
    batch_bytes: usize,
    close_timeout: Duration,
    files: FileOptions,
}

impl Default for SinkBuilder {
    fn default() -> Self {
        SinkBuilder {
            format: Format::Compact,
            capacity: 1024,
            durable: false,
            lossy: false,
            flush_interval: Duration::from_millis(10),
            batch_bytes: 64 << 10,
            close_timeout: Duration::from_secs(5),
            files: FileOptions::default(),
        }
    }
}

/// The largest queue a builder makes (24 MiB of slots; a queue larger
/// than the caches only slows the pipeline).
const MAX_CAPACITY: usize = 1 << 16;
/// The largest batch a builder takes.
const MAX_BATCH_BYTES: usize = 256 << 20;

impl SinkBuilder {
    /// Line format (default [`Format::Compact`]).
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Queue capacity in events, rounded up to a power of two (default
    /// 1024; memory is bounded by it, at 384 bytes an event), at most
    /// 2^16.
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events.clamp(1, MAX_CAPACITY);
        self
    }

    /// `fdatasync` on every flush and at every tick with new data, and of
    /// a file left behind by a rotation or a reopen before the next is
    /// opened.
    pub fn durable(mut self, yes: bool) -> Self {
        self.durable = yes;
        self
    }

    /// Drop (and count, and record in the log) instead of blocking when
    /// the queue is full.
    pub fn lossy(mut self, yes: bool) -> Self {
        self.lossy = yes;
        self
    }

    /// The tick of periodic syncs (durable mode) and of a `Write` target's
    /// own flush (default 10 ms). Anything over a century (`Duration::MAX`)
    /// is a century: no tick.
    pub fn flush_interval(mut self, every: Duration) -> Self {
        self.flush_interval = every.min(CENTURY);
        self
    }

    /// Bytes serialised before a write (default 64 KiB). Up to four such
    /// buffers exist at once: the one being filled, two handed over to
    /// waiting producers and one being written. At most 256 MiB.
    pub fn batch_bytes(mut self, bytes: usize) -> Self {
        self.batch_bytes = bytes.clamp(1, MAX_BATCH_BYTES);
        self
    }

    /// How long `close` keeps retrying a failing write before it gives up
    /// and reports the events it could not write (default 5 s). Anything
    /// over a century (`Duration::MAX`) is a century: retry until the fault
    /// clears.
    pub fn close_timeout(mut self, t: Duration) -> Self {
        self.close_timeout = t.min(CENTURY);
        self
    }

    /// Refuse to open the path if its last component is a symlink.
    pub fn no_follow(mut self, yes: bool) -> Self {
        self.files.no_follow = yes;
        self
    }

    /// Rotate by size.
    pub fn rotation(mut self, rotation: Rotation) -> Self {
        self.files.rotation = Some(rotation);
        self
    }

    /// Opens (appending; created with mode 0600) the file at `path`.
    pub fn open(self, path: impl AsRef<Path>) -> io::Result<JsonlSink> {
        let files = FileOptions {
            durable: self.durable,
            ..self.files
        };
        let target = FileTarget::open(path.as_ref().to_path_buf(), files)?;
        self.start(Target::File(target))
    }

    /// Writes to any writer. Rotation, reopen and `durable` do not apply.
    pub fn writer(self, w: impl Write + Send + 'static) -> io::Result<JsonlSink> {
        self.start(Target::Writer(Box::new(w)))
    }

    fn start(self, target: Target) -> io::Result<JsonlSink> {
        let shared = Arc::new(Shared {
            queue: Ring::new(self.capacity),
            output: Output::new(target, self.lossy),
            wake: Wake::<std::thread::Thread>::new(),
            space: Space {
                waiters: AtomicUsize::new(0),
                lock: Mutex::new(()),
                room: Condvar::new(),
            },
            closed: AtomicBool::new(false),
            lossy: self.lossy,
            fault: Mutex::new(None),
            stats: Counters::default(),
            after_close_reported: AtomicU64::new(0),
            exited: Completion::waiting(),
            unreported: Mutex::new(Unreported::default()),
            close_returned: AtomicBool::new(false),
        });
        let cfg = writer::Config {
            format: self.format,
            durable: self.durable,
            flush_interval: self.flush_interval,
            batch_bytes: self.batch_bytes,
            close_timeout: self.close_timeout,
        };
        let w = writer::Writer::new(shared.clone(), cfg);
        let handle = std::thread::Builder::new()
            .name("agent-audit-writer".into())
            .spawn(move || {
                let shared = w.shared();
                // `run` catches the main loop's panics; this, any other.
                let result = catch_unwind(AssertUnwindSafe(|| w.run())).unwrap_or_else(|_| {
                    Err(Error::Panicked("the audit writer thread panicked".into()))
                });
                shared.exited.complete(result.clone());
                result
            })?;
        shared.wake.set_writer(handle.thread().clone());
        Ok(JsonlSink {
            shared,
            writer: Mutex::new(Some(handle)),
        })
    }
}

/// A [`Collector`] that writes JSONL through a lock-free queue and a
/// dedicated writer thread.
///
/// ```
/// use std::sync::Arc;
/// use agent_audit::{Emitter, sink::JsonlSink};
///
/// let path = std::env::temp_dir().join(format!("agent-audit-sink-doc-{}.jsonl", std::process::id()));
/// let sink = Arc::new(JsonlSink::open(&path).unwrap());
/// let emitter = Emitter::with_collector(sink.clone()).with_session("s-1");
///
/// std::thread::scope(|s| {
///     for agent in ["a", "b"] {
///         let emitter = emitter.clone();
///         s.spawn(move || {
///             for i in 0..100 {
///                 emitter.tool_call_attempt("search", &i.to_string(), Some(agent), None);
///             }
///         });
///     }
/// });
/// sink.flush().unwrap(); // all 200 events are in the file now
/// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 200);
/// sink.close().unwrap();
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub struct JsonlSink {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<Result<(), Error>>>>,
}

impl JsonlSink {
    /// A sink appending compact JSONL to `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> io::Result<JsonlSink> {
        SinkBuilder::default().open(path)
    }

    /// A sink writing compact JSONL to `w` with default options.
    pub fn to_writer(w: impl Write + Send + 'static) -> io::Result<JsonlSink> {
        SinkBuilder::default().writer(w)
    }

    /// Options.
    pub fn builder() -> SinkBuilder {
        SinkBuilder::default()
    }

    /// Queues one event. Blocks while the queue is full (lossless mode) or
    /// drops and counts it (lossy mode).
    #[inline]
    pub fn emit(&self, event: Event) {
        if let Some(slot) = self.claim(None) {
            slot.write(Msg::Event(event));
            self.shared.wake.notify();
        }
    }

    /// Notifies the writer when dropped: after the message is published,
    /// or after the hole that replaces it if building it unwound.
    #[inline]
    fn notify_on_drop(&self) -> impl Drop + '_ {
        struct Notify<'a>(&'a Wake);
        impl Drop for Notify<'_> {
            #[inline]
            fn drop(&mut self) {
                self.0.notify();
            }
        }
        Notify(&self.shared.wake)
    }

    /// Queues one event given by its parts: the text is copied straight
    /// into the queue slot when it fits (no allocation), otherwise the
    /// owned event is built and queued. Otherwise as [`JsonlSink::emit`].
    #[inline]
    pub fn emit_ref(&self, event: &EventRef<'_>) {
        if let Some(slot) = self.claim(None) {
            let _notify = self.notify_on_drop();
            slot.write_then(Msg::Packed(Packed::header(event)), |msg| {
                if let Msg::Packed(packed) = msg {
                    if !packed.fill(event) {
                        *msg = Msg::Event(event.to_event());
                    }
                }
            });
        }
    }

    /// A slot for one event, or `None` if the event is not to be queued:
    /// the sink is closed (counted), the queue is full in lossy mode
    /// (dropped and counted) or stayed full for `timeout`, if one is given
    /// (which lossy mode then waits out too).
    #[inline]
    fn claim(&self, timeout: Option<Duration>) -> Option<Claim<'_, Msg>> {
        match self.shared.queue.claim() {
            Ok(slot) => Some(slot),
            Err(Refused::Closed) => {
                // `emit_timeout` gives its event back instead.
                if timeout.is_none() {
                    self.count_after_close();
                }
                None
            }
            Err(Refused::Full) if self.shared.lossy && timeout.is_none() => {
                self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                None
            }
            // A timeout too long to add to the clock has no deadline.
            Err(Refused::Full) => {
                let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
                self.claim_slow(deadline, timeout.is_none())
            }
        }
    }

    /// Queues one event, waiting at most `timeout` for room; gives the
    /// event back if there was none (or the sink is closed: an event given
    /// back is not counted in `after_close`, which is for the events `emit`
    /// could not return). A timeout too long to add to the clock
    /// (`Duration::MAX`) waits as `emit` does.
    #[allow(clippy::result_large_err)] // the event itself is the error value
    pub fn emit_timeout(&self, event: Event, timeout: Duration) -> Result<(), Event> {
        match self.claim(Some(timeout)) {
            Some(slot) => {
                slot.write(Msg::Event(event));
                self.shared.wake.notify();
                Ok(())
            }
            None => Err(event),
        }
    }

    fn count_after_close(&self) {
        self.shared
            .stats
            .after_close
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The full-queue path: spin, then wait for the writer to make room.
    /// `None` once the sink is closed (counted as an event refused after
    /// close when `count_refused`) or the deadline has passed.
    #[cold]
    fn claim_slow(&self, deadline: Option<Instant>, count_refused: bool) -> Option<Claim<'_, Msg>> {
        let shared = &*self.shared;
        let backoff = Backoff::new();
        // While this producer is the one staying awake to help: since when.
        let mut on_duty: Option<(handoff::Duty<'_>, Instant)> = None;
        loop {
            match shared.queue.claim() {
                Ok(slot) => return Some(slot),
                Err(Refused::Closed) => {
                    if count_refused {
                        self.count_after_close();
                    }
                    return None;
                }
                Err(Refused::Full) => {}
            }
            // Waiting anyway: write a batch the writer handed over, if one
            // waits and nobody else is writing (see `handoff`). Not with a
            // deadline: a write may outlast it.
            if deadline.is_none() && shared.output.help(&shared.stats) {
                backoff.reset();
                if let Some((_, since)) = &mut on_duty {
                    *since = Instant::now();
                }
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            if deadline.is_none() && shared.output.helping() {
                if on_duty.is_none() {
                    on_duty = shared.output.duty().map(|d| (d, Instant::now()));
                }
                if on_duty
                    .as_ref()
                    .is_some_and(|(_, since)| since.elapsed() < HELP_WAIT)
                {
                    std::thread::yield_now();
                    continue;
                }
            }
            on_duty = None;
            shared.space.waiters.fetch_add(1, Ordering::SeqCst);
            // Pairs with the fence in `Space::notify`.
            std::sync::atomic::fence(Ordering::SeqCst);
            let guard = shared.space.lock.lock().unwrap_or_else(|p| p.into_inner());
            // Re-check under the lock: the writer notifies under it.
            if shared.queue.is_full() && !shared.closed.load(Ordering::Acquire) {
                let _ = shared
                    .space
                    .room
                    .wait_timeout(guard, Duration::from_millis(1));
            } else {
                drop(guard);
            }
            shared.space.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// `r`, or if it is `Ok`, the report of events refused after close
    /// (reported once).
    fn and_after_close(&self, r: Result<(), Error>) -> Result<(), Error> {
        // Taken only when it is reported: behind an error, it waits for
        // the next flush or close.
        r?;
        self.after_close_error().map_or(Ok(()), Err)
    }

    /// Reports events refused after close, once.
    fn after_close_error(&self) -> Option<Error> {
        let total = self.shared.stats.after_close.load(Ordering::Relaxed);
        let before = self
            .shared
            .after_close_reported
            .swap(total, Ordering::Relaxed);
        (total > before).then(|| Error::Closed {
            count: total - before,
        })
    }

    /// Sends a control message and waits for the writer to complete it; a
    /// write fault in the meantime is returned at once.
    fn request(&self, make: impl FnOnce(Arc<Completion>) -> Msg) -> Result<(), Error> {
        if self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
        {
            return self.after_exit();
        }
        let done = Completion::new();
        // Room for the marker may never come while the writer is stuck on
        // a fault: wait in short slices and report the fault meanwhile.
        loop {
            if let Some(slot) =
                self.claim_slow(Some(Instant::now() + Duration::from_millis(5)), false)
            {
                slot.write(make(done.clone()));
                break;
            }
            if let Some(e) = self.current_fault() {
                return Err(self.tell(e));
            }
            if self.shared.closed.load(Ordering::Acquire) {
                // Closed concurrently: the writer is writing what came
                // before (or gave up on it).
                return self.after_exit();
            }
        }
        self.shared.wake.unpark();
        let answered = loop {
            if let Some(r) = done.wait_timeout(Duration::from_millis(5)) {
                break r;
            }
            if let Some(e) = self.current_fault() {
                // The marker stays queued; its answer, should it come
                // between the check and leaving, wins.
                match done.leave() {
                    Some(r) => break r,
                    None => return Err(self.tell(e)),
                }
            }
            if self.shared.exited.is_complete() {
                // Only a panic ends the writer with a marker unanswered.
                return self.after_exit();
            }
        };
        self.and_after_close(answered)
    }

    /// Returns the fault to a flusher that does not wait for the writer's
    /// answer; told, it is no longer the writer's to report.
    fn tell(&self, e: Arc<io::Error>) -> Error {
        self.shared.unreported().forget(&e);
        Error::Io(e)
    }

    /// Once the sink is closing: waits until the writer has written (or
    /// given up on) everything the queue accepted, then reports how that
    /// ended (unless `close` already has), and any events refused after
    /// close. A fault meanwhile is returned at once, as while open.
    fn after_exit(&self) -> Result<(), Error> {
        let exit = loop {
            if self.shared.close_returned.load(Ordering::Acquire) {
                break Ok(());
            }
            if let Some(r) = self.shared.exited.wait_shared(Duration::from_millis(5)) {
                break r;
            }
            if let Some(e) = self.current_fault() {
                return Err(self.tell(e));
            }
        };
        self.and_after_close(exit)
    }

    fn current_fault(&self) -> Option<Arc<io::Error>> {
        self.shared
            .fault
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Returns once every event emitted before this call is written to the
    /// OS (and synced, when durable); reports the first error since the
    /// last flush, or the current fault. Racing with `close`, it waits
    /// until the writer has finished and reports how it finished.
    pub fn flush(&self) -> Result<(), Error> {
        self.request(Msg::Flush)
    }

    /// Flushes, then reopens the path: for external rotation (logrotate's
    /// move, then signal). No event is lost or written twice.
    pub fn reopen(&self) -> Result<(), Error> {
        self.request(Msg::Reopen)
    }

    /// Stops accepting events, writes everything queued, flushes, and joins
    /// the writer. A call racing with it waits for the same end; calls
    /// after it has returned (and drop) return at once.
    pub fn close(&self) -> Result<(), Error> {
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        // The ring first: once the writer sees `closed`, no claim can
        // succeed any more, so its last drain is really the last.
        self.shared.queue.close();
        self.shared.closed.store(true, Ordering::SeqCst);
        let result = match handle {
            Some(h) => {
                self.shared.wake.unpark();
                self.shared.space.notify();
                let result = h.join().unwrap_or_else(|_| {
                    Err(Error::Panicked("the audit writer thread panicked".into()))
                });
                self.shared.close_returned.store(true, Ordering::Release);
                result
            }
            // Another `close` is joining the writer: this one, too, returns
            // only once everything is written or given up on.
            None => loop {
                if self.shared.close_returned.load(Ordering::Acquire) {
                    break Ok(());
                }
                if let Some(r) = self.shared.exited.wait_shared(Duration::from_millis(5)) {
                    break r;
                }
            },
        };
        self.and_after_close(result)
    }

    /// The counters, now.
    pub fn stats(&self) -> SinkStats {
        let c = &self.shared.stats;
        SinkStats {
            events_written: c.events_written.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            after_close: c.after_close.load(Ordering::Relaxed),
            abandoned: c.abandoned.load(Ordering::Relaxed),
            queue_depth: self.shared.queue.len(),
            faulted: self
                .shared
                .fault
                .lock()
                .map(|f| f.is_some())
                .unwrap_or(false),
            batches_by_producers: self.shared.output.helped(),
        }
    }
}

impl Drop for JsonlSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Collector for JsonlSink {
    #[inline]
    fn emit(&self, event: Event) {
        JsonlSink::emit(self, event)
    }
    #[inline]
    fn emit_ref(&self, event: &EventRef<'_>) {
        JsonlSink::emit_ref(self, event)
    }
    fn flush(&self) -> Result<(), Error> {
        JsonlSink::flush(self)
    }
}

impl std::fmt::Debug for JsonlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlSink")
            .field("stats", &self.stats())
            .finish()
    }
}
