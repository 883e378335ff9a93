//! The writer thread: drain, serialise into one buffer, write, repeat.
//!
//! The loop pops messages until the queue is empty or the buffer holds a
//! batch (`batch_bytes`), serialising each event into the same reused
//! `Vec<u8>`; then it writes the buffer with as few `write` calls as the
//! kernel allows and goes back for more. It sleeps only when the queue is
//! empty (see `wake`), so under load it never parks between batches.
//!
//! Faults: a failed write leaves the unwritten tail of the buffer in place
//! (`done` marks how far the OS has taken it), records the error, and
//! retries with exponential backoff (1 ms doubling to 1 s). While faulted
//! the writer keeps draining the queue only until it holds `4 ×
//! batch_bytes`, so memory stays bounded; producers then meet a full queue
//! (and block, or drop and count in lossy mode). When a retry succeeds it
//! carries on from the exact byte where it stopped: nothing is lost or
//! written twice.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::handoff::{write_batch, Batch, MAX_PENDING};
use super::ring::Consumer;
use super::target::Target;
use super::{Completion, Msg, Shared};
use crate::collector::Error;
use crate::event::{self, Event};
use crate::json::{self, Format, View};

pub(crate) struct Config {
    pub(crate) format: Format,
    pub(crate) durable: bool,
    pub(crate) flush_interval: Duration,
    pub(crate) batch_bytes: usize,
    pub(crate) close_timeout: Duration,
}

const RETRY_MIN: Duration = Duration::from_millis(1);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// How long after its last work the writer busy-polls the queue.
const SPIN: Duration = Duration::from_micros(20);
/// How long after its last work the writer keeps polling with short
/// timed sleeps (`POLL`) before it parks for real. Meanwhile the handshake
/// state is left alone, so producers see an awake writer and never pay an
/// unpark; see DESIGN.md, "Lingering".
const LINGER: Duration = Duration::from_millis(2);
const POLL: Duration = Duration::from_micros(50);
/// How often, at most, the path is checked for having been moved/deleted.
const MOVED_CHECK: Duration = Duration::from_millis(1);

pub(crate) struct Writer {
    shared: Arc<Shared>,
    /// The target is an arbitrary `Write` (with a buffer of its own).
    writer_target: bool,
    cfg: Config,
    buf: Vec<u8>,
    /// Bytes of `buf` the OS has taken.
    done: usize,
    /// Events serialised into `buf`.
    buf_events: u64,
    /// The current fault, if the last write failed.
    fault: Option<Arc<io::Error>>,
    retry_at: Instant,
    retry_delay: Duration,
    /// Bytes written since the last sync (durable mode).
    dirty: bool,
    reported_drops: u64,
    last_moved_check: Instant,
    /// When the last drain found work.
    last_work: Instant,
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, cfg: Config) -> Writer {
        let now = Instant::now();
        let writer_target = matches!(*shared.output.target(), Target::Writer(_));
        Writer {
            shared,
            writer_target,
            buf: Vec::with_capacity(cfg.batch_bytes + 4096),
            cfg,
            done: 0,
            buf_events: 0,
            fault: None,
            retry_at: now,
            retry_delay: RETRY_MIN,
            dirty: false,
            reported_drops: 0,
            last_moved_check: now,
            last_work: now,
        }
    }

    /// The state it shares with the sink's handles.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Runs until the sink is closed and everything is written (or the
    /// close timeout passes during a fault). A panic here (a bug) still
    /// marks the sink closed, so producers never block on a dead writer.
    pub(crate) fn run(mut self) -> Result<(), Error> {
        let shared = self.shared.clone();
        let result = match shared.queue.consumer() {
            Some(mut rx) => catch_unwind(AssertUnwindSafe(|| self.main_loop(&mut rx)))
                .unwrap_or_else(|_| {
                    Err(Error::Panicked("the audit writer thread panicked".into()))
                }),
            None => Err(Error::Panicked(
                "the sink's queue already has a reader".into(),
            )),
        };
        shared.queue.close();
        shared.closed.store(true, Ordering::SeqCst);
        shared.space.notify();
        self.release_target();
        result
    }

    /// On the way out, whatever the exit: no more helping, the file closed
    /// now rather than with the last handle to the sink, and batches still
    /// handed over (only after a panic) counted as abandoned.
    fn release_target(&mut self) {
        let output = &self.shared.output;
        let mut target = output.target();
        output.stop_helping();
        let (left, _) = output.take_back(&mut target);
        let lost: u64 = left.iter().map(|b| lines(&b.buf[b.done..])).sum();
        self.shared
            .stats
            .abandoned
            .fetch_add(lost, Ordering::Relaxed);
        *target = Target::Writer(Box::new(io::sink()));
    }

    /// Whether bytes wait to be written: in `buf`, or handed over.
    fn held(&self) -> bool {
        self.done < self.buf.len() || self.shared.output.pending() > 0
    }

    fn main_loop(&mut self, rx: &mut Consumer<'_, Msg>) -> Result<(), Error> {
        let mut next_tick = Instant::now() + self.cfg.flush_interval;
        let mut close_deadline = None;
        loop {
            let popped = self.drain(rx);
            self.report_drops();
            let now = Instant::now();
            if self.held() && (self.fault.is_none() || now >= self.retry_at) {
                self.write_out();
            } else if self.fault.is_some() && now >= self.retry_at {
                self.retry_flush();
            }
            if now >= next_tick {
                self.tick();
                next_tick = now + self.cfg.flush_interval;
            }
            if self.shared.closed.load(Ordering::SeqCst) {
                let deadline = *close_deadline.get_or_insert(now + self.cfg.close_timeout);
                // `drained`: the ring is closed too and every message it
                // accepted has been handled; nothing can arrive any more.
                // Drops counted since this loop's report, before the close.
                self.report_drops();
                if rx.drained() && !self.held() {
                    // Wait for a producer still writing the last batch.
                    self.write_out();
                    if !self.held() {
                        return self.finish();
                    }
                }
                if self.fault.is_some() && now >= deadline {
                    return Err(self.abandon(rx));
                }
            }
            if popped > 0 && self.fault.is_none() {
                self.last_work = now;
                continue;
            }
            if self.fault.is_none() {
                // Before sleeping, wait for more work: a producer that finds
                // the writer awake pays no unpark (a futex system call of a
                // microsecond or more, and on a small machine a context
                // switch onto the producer's own CPU). First a busy poll,
                // then timed naps that leave the handshake untouched.
                if self.spin_for_work(rx) {
                    continue;
                }
                if now.duration_since(self.last_work) < LINGER {
                    std::thread::park_timeout(POLL);
                    continue;
                }
                // Reset the handshake, then look once more: a push whose
                // notification came before the reset is visible now; one
                // after it makes `sleep` return at once. Resetting only
                // here keeps the writer off the state's cache line while
                // it has work, so producers' notifications stay cheap.
                self.shared.wake.begin_drain();
                if rx.ready() {
                    continue;
                }
            } else {
                self.shared.wake.begin_drain();
            }
            let timeout = if self.fault.is_some() {
                // Closing, the backoff does not outlast `close_timeout`.
                let retry = self.retry_at.saturating_duration_since(now);
                close_deadline.map_or(retry, |d| retry.min(d.saturating_duration_since(now)))
            } else if self.dirty || self.writer_target {
                next_tick.saturating_duration_since(now)
            } else {
                Duration::from_secs(1)
            };
            self.shared
                .wake
                .sleep(|| std::thread::park_timeout(timeout.max(Duration::from_micros(50))));
        }
    }

    /// Polls the queue until `SPIN` after the last work; whether work
    /// arrived.
    fn spin_for_work(&self, rx: &Consumer<'_, Msg>) -> bool {
        loop {
            for _ in 0..64 {
                if rx.ready() || self.shared.closed.load(Ordering::Relaxed) {
                    return true;
                }
                std::hint::spin_loop();
            }
            if self.last_work.elapsed() >= SPIN {
                return false;
            }
        }
    }

    /// Pops and handles messages until the queue is empty (or, during a
    /// fault, the buffer is at its bound). Returns how many it popped.
    fn drain(&mut self, rx: &mut Consumer<'_, Msg>) -> usize {
        let mut popped = 0usize;
        let hold_limit = self.cfg.batch_bytes * 4;
        while self.fault.is_none() || self.buf.len() < hold_limit {
            // In place: the message is read where the producer wrote it
            // and dropped there.
            let handled = rx.pop_with(|msg| match msg {
                Msg::Event(ev) => self.serialise(ev),
                Msg::Packed(p) => p.unpack(|ev| self.serialise(ev)),
                Msg::Flush(done) => self.flush(done),
                Msg::Reopen(done) => {
                    // Answered as a flush: what was held and failed to be
                    // written before the switch is reported, as is a
                    // failed reopen (to the next flush if nobody waits).
                    self.write_out();
                    let reopened = self.shared.output.target().reopen();
                    if let Err(e) = reopened {
                        self.record(e);
                    }
                    self.flush(done);
                }
            });
            if handled.is_none() {
                break;
            }
            popped += 1;
            // Wake blocked producers only once half the queue is free: a
            // producer that outpaces the writer then blocks once per half
            // queue, not once per few events (each wake-up is a futex call
            // on this thread, which would slow it further). And not while
            // a producer is awake on duty (see `handoff`): that one takes
            // the room, and a producer woken from here is put on this
            // thread's CPU by the scheduler here, where it would preempt
            // the writer (sleepers look again every millisecond anyway).
            if popped.is_multiple_of(64)
                && self.shared.queue.len() <= self.shared.queue.capacity() / 2
                && !self.shared.output.on_duty()
            {
                self.shared.space.notify();
            }
        }
        if popped > 0 {
            self.shared.space.notify();
        }
        popped
    }

    #[inline]
    fn serialise<V: View + ?Sized>(&mut self, ev: &V) {
        json::write_view(&mut self.buf, ev, self.cfg.format);
        self.buf_events += 1;
        if self.buf.len() >= self.cfg.batch_bytes && self.fault.is_none() {
            self.batch_full();
        }
    }

    /// A full batch: handed over for a waiting producer to write while the
    /// queue is busy (see `handoff`), otherwise written now.
    ///
    /// While handing over, the writer's share of the writing is one batch
    /// at a time: when [`MAX_PENDING`] wait, it writes the oldest and
    /// hands its own over behind the rest, so that a producer that comes
    /// back for room finds work, and the writer soon goes back to
    /// serialising. (Writing every pending batch and its own would leave
    /// the producers with nothing to do but wait for ~100 µs.)
    fn batch_full(&mut self) {
        let shared = self.shared.clone();
        let output = &shared.output;
        let busy = shared.queue.len() * 2 >= shared.queue.capacity();
        if !busy || !output.helping() {
            self.write_out();
            return;
        }
        let moved_check = self.last_moved_check.elapsed() >= MOVED_CHECK;
        let write_oldest = output.pending() >= MAX_PENDING;
        if moved_check || write_oldest {
            // Waits for a helper's write, if one is under way.
            let mut target = output.target();
            if !output.helping() {
                // That write failed: the fault is handled by `write_out`,
                // which takes every batch back and retries with backoff.
                drop(target);
                self.write_out();
                return;
            }
            if moved_check {
                if matches!(&*target, Target::File(f) if f.moved()) {
                    // Rare: the full path, whose check (still due) takes
                    // the batches back before reopening (a helper may
                    // write one more to the old file first, in order).
                    drop(target);
                    self.write_out();
                    return;
                }
                self.last_moved_check = Instant::now();
            }
            if write_oldest && output.write_oldest(&mut target, &shared.stats) == Some(false) {
                // The error is the writer's to handle, with every batch
                // taken back.
                drop(target);
                self.write_out();
                return;
            }
            self.dirty = true;
        }
        let batch = Batch {
            buf: std::mem::take(&mut self.buf),
            // 0: `buf` is written whole or held whole, except in a
            // fault, when nothing is handed over.
            done: std::mem::take(&mut self.done),
            events: self.buf_events,
        };
        self.buf = output.post(batch, self.cfg.batch_bytes + 4096);
        self.buf_events = 0;
        self.dirty = true;
    }

    /// Completes a flush marker with the first error since the last one
    /// (reported once: the next flush starts afresh), or the fault.
    fn flush(&mut self, done: &Completion) {
        self.write_out();
        if self.fault.is_none() {
            let flushed = self.shared.output.target().flush(self.cfg.durable);
            match flushed {
                Ok(()) => self.dirty = false,
                Err(e) => {
                    self.record(e);
                }
            }
        }
        done.answer(|waiting| {
            if !waiting {
                // Its flusher left with the fault: other errors wait for
                // the next flush.
                return Ok(());
            }
            let first = self.take_first_error();
            match &self.fault {
                // Usually `first` is this fault's own error.
                Some(e) => Err(first.unwrap_or_else(|| Error::Io(e.clone()))),
                None => first.map_or(Ok(()), Err),
            }
        });
    }

    /// The first error since the last flush that no flusher was told.
    fn take_first_error(&mut self) -> Option<Error> {
        self.shared.unreported().take()
    }

    /// Writes the held bytes, handed-over batches first; on error keeps
    /// them all in `buf`, in order, and schedules a retry.
    ///
    /// Always takes the target's lock, so a producer still writing a batch
    /// it took has finished (or failed, and put the batch back) when this
    /// returns: what it wrote is written, what it could not is held.
    fn write_out(&mut self) {
        let shared = self.shared.clone();
        let mut target = shared.output.target();
        self.report_lost(&mut target);
        // (A helper's failed batch is back among the pending ones.)
        if !self.held() {
            return;
        }
        if self.fault.is_some() {
            self.shared.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
        // Batches handed over and not yet written are older than `buf`.
        // Taken back before anything can fail, so that a failure (a
        // helper's, the moved check's, or one here) leaves every unwritten
        // byte in `buf`, in order.
        let (batches, helper_error) = shared.output.take_back(&mut target);
        let mut failure = helper_error.or_else(|| self.check_moved(&mut target).err());
        let mut unwritten = Vec::new();
        for mut batch in batches {
            if failure.is_none() {
                match write_batch(&mut target, &mut batch) {
                    Ok(()) => {
                        self.dirty = true;
                        shared.stats.record_written(batch.events, batch.buf.len());
                        shared.output.recycle(batch.buf);
                        continue;
                    }
                    Err(e) => failure = Some(e),
                }
            }
            unwritten.push(batch);
        }
        if let Some(e) = failure {
            self.absorb(unwritten);
            self.fail(e);
            return;
        }
        let mut rest = Batch {
            buf: std::mem::take(&mut self.buf),
            done: self.done,
            events: self.buf_events,
        };
        let result = write_batch(&mut target, &mut rest);
        if rest.done > self.done {
            self.dirty = true;
        }
        self.buf = rest.buf;
        self.done = rest.done;
        if let Err(e) = result {
            self.fail(e);
            return;
        }
        shared.stats.record_written(self.buf_events, self.buf.len());
        self.buf.clear();
        self.done = 0;
        self.buf_events = 0;
        self.report_lost(&mut target);
        self.recovered(&target);
    }

    /// Records the rest of a cut line that its file refused (see
    /// `FileTarget::take_lost`), whoever's write found it.
    fn report_lost(&mut self, target: &mut Target) {
        if let Some(e) = target.take_lost() {
            self.record(e);
        }
    }

    /// Ends a fault, if there is one: the last write (or sync) worked.
    fn recovered(&mut self, target: &Target) {
        if self.fault.take().is_some() {
            self.retry_delay = RETRY_MIN;
            *self.shared.fault.lock().unwrap_or_else(|p| p.into_inner()) = None;
            self.shared.output.resume_helping(target);
        }
    }

    /// Retries a failed sync (or a `Write`'s failed flush) that left no
    /// bytes to write, so that no new event is needed to end the fault.
    fn retry_flush(&mut self) {
        self.shared.stats.retries.fetch_add(1, Ordering::Relaxed);
        let shared = self.shared.clone();
        let mut target = shared.output.target();
        match target.flush(self.cfg.durable) {
            Ok(()) => {
                self.dirty = false;
                self.recovered(&target);
            }
            Err(e) => self.fail(e),
        }
    }

    /// Puts handed-over batches (oldest first, all older than `buf`) back
    /// in front of `buf`'s unwritten bytes.
    /// The bytes the OS already took of each are counted as written now
    /// (their events when their last line is, as for `buf`).
    fn absorb(&mut self, batches: Vec<Batch>) {
        let mut merged = Vec::new();
        let mut taken = 0;
        for b in batches {
            merged.extend_from_slice(&b.buf[b.done..]);
            taken += b.done;
            self.buf_events += b.events;
        }
        if merged.is_empty() {
            return;
        }
        taken += self.done;
        self.shared.stats.record_written(0, taken);
        merged.extend_from_slice(&self.buf[self.done..]);
        self.buf = merged;
        self.done = 0;
    }

    /// A moved file is reopened quietly (external rotation); a deleted one
    /// too, but that is reported: bytes written since the deletion are gone
    /// with the old inode.
    fn check_moved(&mut self, target: &mut Target) -> io::Result<()> {
        let now = Instant::now();
        if now.duration_since(self.last_moved_check) < MOVED_CHECK {
            return Ok(());
        }
        self.last_moved_check = now;
        if let Target::File(f) = &*target {
            if f.moved() {
                let deleted = f.deleted();
                target.reopen()?;
                if deleted {
                    self.record(io::Error::new(
                        io::ErrorKind::NotFound,
                        "the log file was deleted while open; a new one was started",
                    ));
                }
            }
        }
        Ok(())
    }

    fn record(&mut self, e: io::Error) -> Error {
        let err = Error::Io(Arc::new(e));
        self.shared.stats.errors.fetch_add(1, Ordering::Relaxed);
        self.shared.unreported().record(err.clone());
        err
    }

    /// A write or sync failed. The error that starts a fault is the one
    /// flushers are told (once); each failed retry after it is counted, not
    /// reported again.
    fn fail(&mut self, e: io::Error) {
        if self.fault.is_some() {
            self.shared.stats.errors.fetch_add(1, Ordering::Relaxed);
            self.retry_delay = (self.retry_delay * 2).min(RETRY_MAX);
        } else {
            let Error::Io(shared) = self.record(e) else {
                unreachable!()
            };
            *self.shared.fault.lock().unwrap_or_else(|p| p.into_inner()) = Some(shared.clone());
            self.fault = Some(shared);
        }
        self.shared.output.stop_helping();
        self.retry_at = Instant::now() + self.retry_delay;
    }

    /// Periodic work: sync in durable mode, flush a `Write`'s own buffer.
    fn tick(&mut self) {
        if self.fault.is_some() {
            return;
        }
        let needs = self.dirty && (self.cfg.durable || self.writer_target);
        if needs {
            // Handed-over batches are due as well.
            self.write_out();
            if self.fault.is_some() {
                return;
            }
            let result = self.shared.output.target().flush(self.cfg.durable);
            match result {
                Ok(()) => self.dirty = false,
                Err(e) => self.fail(e),
            }
        }
    }

    /// In lossy mode, writes one `error` event for the events dropped since
    /// the last such record, so the log shows the gap where it happened.
    fn report_drops(&mut self) {
        let dropped = self.shared.stats.dropped.load(Ordering::Relaxed);
        if dropped > self.reported_drops {
            let n = dropped - self.reported_drops;
            self.reported_drops = dropped;
            let ev = Event::new(event::Error {
                error_type: "AuditEventsDropped".into(),
                error_message: format!("{n} audit events were dropped because the queue was full")
                    .into(),
                error_context: "agent-audit lossy sink".into(),
            })
            .meta("count", n)
            .meta("total", dropped);
            self.serialise(&ev);
        }
    }

    fn finish(&mut self) -> Result<(), Error> {
        let shared = self.shared.clone();
        let mut target = shared.output.target();
        let result = target.flush(self.cfg.durable);
        self.report_lost(&mut target);
        if let Err(e) = result {
            self.record(e);
        }
        self.take_first_error().map_or(Ok(()), Err)
    }

    /// Gives up after the close timeout with a fault still present: counts
    /// what could not be written and reports it.
    fn abandon(&mut self, rx: &mut Consumer<'_, Msg>) -> Error {
        // Batches still handed over (none while faulted, but make sure).
        let left = {
            let shared = self.shared.clone();
            shared.output.stop_helping();
            let mut target = shared.output.target();
            // Counted, though `close` reports the abandoned events.
            self.report_lost(&mut target);
            shared.output.take_back(&mut target).0
        };
        self.absorb(left);
        let mut lost = lines(&self.buf[self.done..]);
        // Lines wholly before `done` did reach the file.
        self.shared
            .stats
            .record_written(self.buf_events.saturating_sub(lost), self.done);
        let cause = self
            .fault
            .clone()
            .unwrap_or_else(|| Arc::new(io::Error::other("unknown fault")));
        // The ring is closed: wait out producers still writing a claimed
        // slot, so that every accepted event is counted here. A marker
        // still queued gets the fault that kept its events from the file.
        while !rx.drained() {
            let popped = rx.pop_with(|msg| match msg {
                Msg::Event(_) | Msg::Packed(_) => lost += 1,
                Msg::Flush(done) | Msg::Reopen(done) => {
                    done.complete(Err(Error::Io(cause.clone())));
                }
            });
            if popped.is_none() {
                std::thread::yield_now();
            }
        }
        self.shared
            .stats
            .abandoned
            .fetch_add(lost, Ordering::Relaxed);
        Error::Abandoned {
            events: lost,
            cause,
        }
    }
}

/// Lines that end in these serialised bytes (a line cut at `done` counts
/// with the part that holds its end).
fn lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}
