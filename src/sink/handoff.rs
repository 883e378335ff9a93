//! Full batches on their way to the target, written by whoever is free.
//!
//! Per event, the writer thread serialises and then the kernel copies the
//! bytes into the file: on tmpfs, where every page of a growing file is
//! fresh, the copy costs as much as the serialising. Meanwhile a producer
//! that finds the queue full has nothing to do until the writer makes
//! room, and on a small machine its core sits idle. So while the queue is
//! busy the writer does not write a full batch itself: it hands the batch
//! over here ([`Output::post`]) and goes on serialising the next one, and
//! a producer that is waiting for room writes it ([`Output::help`]).
//!
//! Nobody is woken for this. A producer helps only while it is already
//! waiting, and one of the waiting producers at a time (the holder of the
//! [`Duty`]) stays awake for it a little while, yielding, instead of
//! going to sleep; more would take the writer's core. If nobody helps,
//! the writer writes the oldest batch itself each time it hands one over
//! with [`MAX_PENDING`] waiting, and all of them whenever the queue runs
//! dry and before any other use of the target (flush, sync, reopen, a
//! moved file), so events reach the OS as promptly as without the
//! hand-off.
//!
//! **Order.** Only the holder of the target's lock takes a batch, the
//! oldest, and it writes the batch before letting go of the lock. So the
//! file receives batches in the order the writer handed them over, whoever
//! writes them; the writer's own buffer is newer than every pending batch,
//! and it writes the pending ones first. The lock order is target, then
//! queue; the writer's `post` takes the queue's lock alone, so it never
//! waits for a helper's write.
//!
//! **Faults.** A helper whose write fails puts the batch back in front
//! (with how much of it the OS took), keeps the error for the writer and
//! turns helping off. The writer then takes every pending batch back into
//! its own buffer, in order, and handles the fault like its own: retry
//! with backoff, report, resume at the exact byte. Helping resumes with
//! the first write that succeeds.
//!
//! Only regular files are helped: a write to a pipe, a socket or a device
//! may block for as long as the other end likes, and a producer must not
//! be held there. Any other target is the writer thread's alone, and so is
//! every target in lossy mode, where no producer ever waits. Nor does a
//! producer with a deadline (`emit_timeout`) help: a write may outlast it.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use super::target::Target;
use super::Counters;

/// Full batches the writer lets wait for a helper; with this many
/// waiting, it writes the oldest itself before handing over the next.
pub(crate) const MAX_PENDING: usize = 2;

/// Held by the one waiting producer that stays awake to help; handed
/// back when dropped.
pub(crate) struct Duty<'a>(&'a AtomicBool);

impl Drop for Duty<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Serialised events, whole lines.
pub(crate) struct Batch {
    pub(crate) buf: Vec<u8>,
    /// Bytes of `buf` the OS has taken.
    pub(crate) done: usize,
    /// Lines in `buf`.
    pub(crate) events: u64,
}

/// The target, and the batches waiting for it.
pub(crate) struct Output {
    /// Whoever holds this writes, oldest batch first.
    target: Mutex<Target>,
    queue: Mutex<Queue>,
    /// `queue.pending.len()`, to look at without the lock.
    pending: AtomicUsize,
    /// Whether waiting producers may write batches.
    helping: AtomicBool,
    /// Batches written by producers (a figure for tests and benchmarks).
    helped: AtomicU64,
    /// A waiting producer is staying awake to help ([`Duty`]).
    on_duty: AtomicBool,
    /// Producers may ever help (a regular file, lossless mode).
    helpable: bool,
}

struct Queue {
    pending: VecDeque<Batch>,
    /// Emptied buffers, kept for the writer to fill again.
    spare: Vec<Vec<u8>>,
    /// A helper's write error, for the writer to handle.
    error: Option<io::Error>,
}

/// Writes what is left of `batch`; on error, `batch.done` says how far
/// the OS got.
pub(crate) fn write_batch(target: &mut Target, batch: &mut Batch) -> io::Result<()> {
    while batch.done < batch.buf.len() {
        match target.write(&batch.buf[batch.done..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the log accepted no bytes",
                ))
            }
            Ok(n) => batch.done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Output {
    /// `lossy`: producers never wait for room, so none can help, and the
    /// writer writes every batch itself.
    pub(crate) fn new(target: Target, lossy: bool) -> Output {
        let helpable = target.is_regular_file() && !lossy;
        Output {
            target: Mutex::new(target),
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                spare: Vec::new(),
                error: None,
            }),
            pending: AtomicUsize::new(0),
            helping: AtomicBool::new(helpable),
            helped: AtomicU64::new(0),
            on_duty: AtomicBool::new(false),
            helpable,
        }
    }

    /// The target, once its lock is free (a helper may be writing).
    pub(crate) fn target(&self) -> MutexGuard<'_, Target> {
        self.target.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether producers may write batches now.
    pub(crate) fn helping(&self) -> bool {
        self.helping.load(Ordering::Relaxed)
    }

    /// Batches handed over and not yet written (or taken back).
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Whether a waiting producer is staying awake to help.
    pub(crate) fn on_duty(&self) -> bool {
        self.on_duty.load(Ordering::Relaxed)
    }

    pub(crate) fn helped(&self) -> u64 {
        self.helped.load(Ordering::Relaxed)
    }

    /// Writer: hands over a full batch; returns an empty buffer to fill
    /// next, of at least `capacity` bytes.
    pub(crate) fn post(&self, batch: Batch, capacity: usize) -> Vec<u8> {
        let mut q = self.queue();
        q.pending.push_back(batch);
        self.pending.store(q.pending.len(), Ordering::Relaxed);
        q.spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    /// The oldest pending batch; only for the holder of the target's lock
    /// (`_target` proves it), which must write it or put it back.
    fn pop(&self, _target: &mut Target) -> Option<Batch> {
        let mut q = self.queue();
        let batch = q.pending.pop_front();
        self.pending.store(q.pending.len(), Ordering::Relaxed);
        batch
    }

    /// A written batch's buffer, for the writer to reuse.
    pub(crate) fn recycle(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut q = self.queue();
        // At most one buffer per batch that can be pending or in flight.
        if q.spare.len() <= MAX_PENDING {
            q.spare.push(buf);
        }
    }

    /// Writer, holding the target's lock: takes back every pending batch
    /// (unwritten bytes only, oldest first) and a helper's error, if any.
    pub(crate) fn take_back(&self, _target: &mut Target) -> (Vec<Batch>, Option<io::Error>) {
        let mut q = self.queue();
        let batches = q.pending.drain(..).collect();
        self.pending.store(0, Ordering::Relaxed);
        (batches, q.error.take())
    }

    /// Writer: producers may help again (a write succeeded).
    pub(crate) fn resume_helping(&self, target: &Target) {
        if self.helpable && target.is_regular_file() {
            self.helping.store(true, Ordering::Relaxed);
        }
    }

    /// Writer: no more helping until [`Output::resume_helping`].
    pub(crate) fn stop_helping(&self) {
        self.helping.store(false, Ordering::Relaxed);
    }

    /// Producer waiting for room: the duty of staying awake to help,
    /// unless another producer has it. One is enough to keep up with the
    /// writer; more would only take the writer's core from it.
    pub(crate) fn duty(&self) -> Option<Duty<'_>> {
        (!self.on_duty.swap(true, Ordering::Acquire)).then_some(Duty(&self.on_duty))
    }

    /// Producer waiting for room: writes the oldest pending batch if
    /// nobody else is writing. Whether it wrote (or tried to).
    pub(crate) fn help(&self, stats: &Counters) -> bool {
        if !self.helping() || self.pending() == 0 {
            return false;
        }
        let mut target = match self.target.try_lock() {
            Ok(t) => t,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        // Helping may have stopped while this thread took the lock, and a
        // reopen may have found something else at the path.
        if !self.helping() || !target.is_regular_file() {
            return false;
        }
        let wrote = self.write_oldest(&mut target, stats);
        if wrote == Some(true) {
            self.helped.fetch_add(1, Ordering::Relaxed);
        }
        wrote.is_some()
    }

    /// Holder of the target's lock: writes the oldest pending batch.
    /// `None` if there was none; `Some(false)` if it was not written: the
    /// write failed (the batch is back in front, the error kept for the
    /// writer and helping off), or helping was already off after such a
    /// failure. Then the batches are the writer's to take back with the
    /// error ([`Output::take_back`]) and to retry with backoff.
    pub(crate) fn write_oldest(&self, target: &mut Target, stats: &Counters) -> Option<bool> {
        if !self.helping() {
            return (self.pending() > 0).then_some(false);
        }
        let mut batch = self.pop(target)?;
        match write_batch(target, &mut batch) {
            Ok(()) => {
                stats.record_written(batch.events, batch.buf.len());
                self.recycle(batch.buf);
                Some(true)
            }
            Err(e) => {
                self.stop_helping();
                let mut q = self.queue();
                q.pending.push_front(batch);
                self.pending.store(q.pending.len(), Ordering::Relaxed);
                q.error.get_or_insert(e);
                Some(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::target::{FileOptions, FileTarget};

    fn batch(text: &str) -> Batch {
        Batch {
            buf: text.as_bytes().to_vec(),
            done: 0,
            events: text.lines().count() as u64,
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "agent-audit-handoff-{}-{name}.jsonl",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// Helpers write the oldest batch first; what is left is taken back
    /// in order.
    #[test]
    fn batches_are_written_oldest_first() {
        let path = scratch("order");
        let target = FileTarget::open(path.clone(), FileOptions::default()).unwrap();
        let out = Output::new(Target::File(target), false);
        let stats = Counters::default();
        assert!(!out.help(&stats), "nothing to write yet");
        for text in ["a\n", "b\nc\n", "d\n"] {
            out.post(batch(text), 16);
        }
        assert_eq!(out.pending(), 3);
        assert!(out.help(&stats));
        assert!(out.help(&stats));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\nc\n");
        assert_eq!(stats.events_written.load(Ordering::Relaxed), 3);
        assert_eq!(out.helped(), 2);
        let (rest, error) = out.take_back(&mut out.target());
        assert!(error.is_none());
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].buf, b"d\n");
        assert_eq!(out.pending(), 0);
        // Written buffers come back, emptied, for the writer to refill.
        assert!(out.post(batch("e\n"), 16).is_empty());
        std::fs::remove_file(&path).unwrap();
    }

    /// A helper whose write fails puts the batch back in front, keeps the
    /// error for the writer and stops helping until told to resume.
    #[test]
    fn a_failed_write_puts_the_batch_back_and_stops_helping() {
        let path = scratch("fault");
        std::fs::write(&path, "").unwrap();
        let out = Output::new(
            Target::File(FileTarget::read_only(path.clone()).unwrap()),
            false,
        );
        let stats = Counters::default();
        out.post(batch("a\n"), 16);
        out.post(batch("b\n"), 16);
        assert!(out.help(&stats), "it tried");
        assert!(!out.helping());
        assert!(!out.help(&stats), "no more helping after a fault");
        assert_eq!(out.pending(), 2);
        assert_eq!(
            out.write_oldest(&mut out.target(), &stats),
            Some(false),
            "nor does the writer retry a batch before taking them back"
        );
        let (rest, error) = out.take_back(&mut out.target());
        assert!(error.is_some());
        let texts: Vec<&[u8]> = rest.iter().map(|b| &b.buf[b.done..]).collect();
        assert_eq!(texts, [&b"a\n"[..], &b"b\n"[..]]);
        assert_eq!(stats.events_written.load(Ordering::Relaxed), 0);
        // A regular file again: the writer may let producers help.
        out.resume_helping(&out.target());
        assert!(out.helping());
        std::fs::remove_file(&path).unwrap();
    }

    /// After a helper's failed write, nobody writes a pending batch until
    /// the writer has taken them back with the error, even on a target
    /// that would take it.
    #[test]
    fn after_a_failed_write_the_batches_wait_for_the_writer() {
        let path = scratch("after-fault");
        let target = FileTarget::open(path.clone(), FileOptions::default()).unwrap();
        let out = Output::new(Target::File(target), false);
        let stats = Counters::default();
        out.post(batch("a\n"), 16);
        // As a helper's failure leaves it.
        out.stop_helping();
        assert_eq!(out.write_oldest(&mut out.target(), &stats), Some(false));
        assert!(!out.help(&stats));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        assert_eq!(out.pending(), 1);
        out.resume_helping(&out.target());
        assert_eq!(out.write_oldest(&mut out.target(), &stats), Some(true));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
        assert_eq!(out.write_oldest(&mut out.target(), &stats), None);
        std::fs::remove_file(&path).unwrap();
    }

    /// One waiting producer at a time stays awake to help.
    #[test]
    fn one_producer_at_a_time_is_on_duty() {
        let out = Output::new(Target::Writer(Box::new(io::sink())), false);
        let first = out.duty();
        assert!(first.is_some());
        assert!(out.duty().is_none(), "a second producer sleeps instead");
        drop(first);
        assert!(out.duty().is_some(), "the duty is free again once dropped");
    }

    /// Only regular files are helped.
    #[test]
    fn other_targets_are_never_helped() {
        let out = Output::new(Target::Writer(Box::new(io::sink())), false);
        assert!(!out.helping());
        out.post(batch("a\n"), 16);
        assert!(!out.help(&Counters::default()));
        assert_eq!(out.pending(), 1);
    }
}
