//! Faults: the writer never panics and never loses an event silently; it
//! keeps what it could not write, retries, reports, and resumes in order.

mod common;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use agent_audit::json::LineParser;
use agent_audit::sink::JsonlSink;
use agent_audit::{Emitter, Error, Event};
use common::{meta_i64, numbered, scratch_dir};

/// A writer that fails with `kind` while `failing` is set, and can be
/// frozen (blocks inside `write`) to fill the queue.
#[derive(Clone, Default)]
struct Flaky {
    data: Arc<Mutex<Vec<u8>>>,
    failing: Arc<AtomicBool>,
    /// The next `flush` fails.
    fail_flush: Arc<AtomicBool>,
    frozen: Arc<(Mutex<bool>, Condvar)>,
}

impl Flaky {
    fn freeze(&self, yes: bool) {
        *self.frozen.0.lock().unwrap() = yes;
        self.frozen.1.notify_all();
    }
    fn indices(&self) -> Vec<i64> {
        let data = self.data.lock().unwrap().clone();
        let mut parser = LineParser::new();
        data.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| parser.parse(l).unwrap())
            .filter(|ev| ev.metadata.contains_key("i"))
            .map(|ev| meta_i64(&ev, "i"))
            .collect()
    }
}

impl Write for Flaky {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        // A freeze thaws by itself after 10 s: should a test fail while
        // the writer is frozen, dropping the sink (which joins the writer)
        // then ends instead of hanging the test binary.
        let frozen = self.frozen.0.lock().unwrap();
        let (mut frozen, _) = self
            .frozen
            .1
            .wait_timeout_while(frozen, Duration::from_secs(10), |f| *f)
            .unwrap();
        *frozen = false;
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected EIO"));
        }
        // Accept at most 1000 bytes per call, to exercise partial writes.
        let n = b.len().min(1000);
        self.data.lock().unwrap().extend_from_slice(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.fail_flush.swap(false, Ordering::SeqCst) {
            return Err(io::Error::other("injected flush failure"));
        }
        Ok(())
    }
}

/// Waits up to 10 s for `ready`.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_failing_writer_is_reported_then_resumes_in_order() {
    let w = Flaky::default();
    let sink = JsonlSink::to_writer(w.clone()).unwrap();
    for i in 0..100 {
        sink.emit(numbered(0, i));
    }
    sink.flush().unwrap();
    w.failing.store(true, Ordering::SeqCst);
    for i in 100..300 {
        sink.emit(numbered(0, i));
    }
    let err = sink.flush().unwrap_err();
    assert!(err.to_string().contains("injected EIO"), "{err}");
    assert!(sink.stats().faulted);
    assert!(sink.stats().errors >= 1);
    w.failing.store(false, Ordering::SeqCst);
    // Retries succeed, and the fault, reported once, is not reported again.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sink.stats().faulted && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!sink.stats().faulted, "never recovered");
    sink.flush().unwrap();
    for i in 300..400 {
        sink.emit(numbered(0, i));
    }
    sink.close().unwrap();
    common::assert_sequence(&w.indices(), 400, "after recovery");
    let stats = sink.stats();
    assert!(stats.retries >= 1);
    assert!(!stats.faulted);
    assert_eq!(stats.events_written, 400);
}

#[test]
fn dev_full_is_an_error_not_a_panic_and_close_reports_the_loss() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("no /dev/full here: skipped");
        return;
    }
    let sink = JsonlSink::builder()
        .close_timeout(Duration::from_millis(50))
        .open("/dev/full")
        .unwrap();
    for i in 0..10 {
        sink.emit(numbered(0, i));
    }
    let err = sink.flush().unwrap_err();
    let Error::Io(e) = &err else { panic!("{err}") };
    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC expected: {e}");
    let err = sink.close().unwrap_err();
    assert!(matches!(err, Error::Abandoned { events: 10, .. }), "{err}");
    assert_eq!(sink.stats().abandoned, 10);
    // Reported by close, the loss is not reported again.
    sink.flush().unwrap();
}

#[test]
fn a_pipe_whose_reader_went_away_is_reported() {
    let (reader, writer) = io::pipe().unwrap();
    drop(reader);
    let sink = JsonlSink::builder()
        .close_timeout(Duration::from_millis(50))
        .writer(writer)
        .unwrap();
    sink.emit(Event::default());
    let err = sink.flush().unwrap_err();
    let Error::Io(e) = &err else { panic!("{err}") };
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    assert!(matches!(
        sink.close().unwrap_err(),
        Error::Abandoned { events: 1, .. }
    ));
}

#[test]
fn a_pipe_keeps_order_while_its_reader_is_slow() {
    let (mut reader, writer) = io::pipe().unwrap();
    let sink = JsonlSink::builder().capacity(16).writer(writer).unwrap();
    let consumer = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut chunk = [0u8; 512];
        loop {
            std::thread::sleep(Duration::from_micros(50));
            match io::Read::read(&mut reader, &mut chunk) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("{e}"),
            }
        }
    });
    for i in 0..5000 {
        sink.emit(numbered(0, i));
    }
    sink.close().unwrap();
    drop(sink); // drops the write end
    let data = consumer.join().unwrap();
    let mut parser = LineParser::new();
    let got: Vec<i64> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| meta_i64(&parser.parse(l).unwrap(), "i"))
        .collect();
    common::assert_sequence(&got, 5000, "through a slow pipe");
}

#[test]
fn a_deleted_file_is_reported_and_a_new_one_started() {
    let dir = scratch_dir("deleted");
    let path = dir.join("audit.jsonl");
    let sink = JsonlSink::open(&path).unwrap();
    sink.emit(numbered(0, 0));
    sink.flush().unwrap();
    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    for i in 1..11 {
        sink.emit(numbered(0, i));
    }
    let err = sink.flush().unwrap_err();
    assert!(err.to_string().contains("deleted"), "{err}");
    sink.close().unwrap();
    let got = common::read_numbered(&[path]);
    assert_eq!(got[&0], (1..11).collect::<Vec<_>>());
}

#[test]
fn lossy_mode_counts_drops_and_the_log_shows_the_gap() {
    let w = Flaky::default();
    // A batch of one byte: the writer writes (and so freezes) after its
    // first event, whatever the producer's pace, instead of buffering
    // up to a whole batch of what follows.
    let sink = JsonlSink::builder()
        .capacity(8)
        .batch_bytes(1)
        .lossy(true)
        .writer(w.clone())
        .unwrap();
    sink.emit(numbered(0, 0));
    sink.flush().unwrap();
    w.freeze(true);
    // Owned events and the emitter's packed copies, alternately.
    let sink = Arc::new(sink);
    let emitter = Emitter::with_collector(sink.clone());
    for i in 1..1001 {
        match i % 2 {
            0 => sink.emit(numbered(0, i)),
            _ => common::emit_numbered(&emitter, "p0", i),
        }
    }
    let dropped = sink.stats().dropped;
    assert!(dropped >= 900, "only {dropped} dropped");
    w.freeze(false);
    sink.flush().unwrap();
    sink.close().unwrap();
    let data = String::from_utf8(w.data.lock().unwrap().clone()).unwrap();
    let mut parser = LineParser::new();
    let events: Vec<Event> = data
        .lines()
        .map(|l| parser.parse(l.as_bytes()).unwrap())
        .collect();
    let records: Vec<&Event> = events
        .iter()
        .filter(|e| {
            matches!(&e.kind, agent_audit::Kind::Error(k) if k.error_type == "AuditEventsDropped")
        })
        .collect();
    assert!(!records.is_empty(), "no drop record in the log");
    let reported: i64 = records.iter().map(|e| meta_i64(e, "count")).sum();
    assert_eq!(reported as u64, dropped);
    assert_eq!(events.len() as u64 - records.len() as u64 + dropped, 1001);
    // The kept events are still in order.
    let kept: Vec<i64> = events
        .iter()
        .filter(|e| !matches!(e.kind, agent_audit::Kind::Error(_)))
        .map(|e| common::numbers_of(e).1)
        .collect();
    assert!(kept.windows(2).all(|w| w[0] < w[1]));
    assert!(kept.iter().any(|i| i % 2 == 1) && kept.iter().any(|i| i % 2 == 0));
}

#[test]
fn lossless_mode_blocks_instead_of_dropping() {
    let w = Flaky::default();
    // batch_bytes(1): see `lossy_mode_counts_drops_and_the_log_shows_the_gap`.
    let sink = Arc::new(
        JsonlSink::builder()
            .capacity(4)
            .batch_bytes(1)
            .writer(w.clone())
            .unwrap(),
    );
    w.freeze(true);
    let producer = {
        let sink = sink.clone();
        std::thread::spawn(move || {
            for i in 0..200 {
                sink.emit(numbered(0, i));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        !producer.is_finished(),
        "a full queue should block the producer"
    );
    w.freeze(false);
    producer.join().unwrap();
    sink.close().unwrap();
    assert_eq!(sink.stats().dropped, 0);
    common::assert_sequence(&w.indices(), 200, "lossless");
}

#[test]
fn emit_with_a_timeout_gives_the_event_back() {
    let w = Flaky::default();
    let sink = JsonlSink::builder()
        .capacity(2)
        .batch_bytes(1)
        .writer(w.clone())
        .unwrap();
    w.freeze(true);
    let mut refused = None;
    for i in 0..10 {
        if let Err(ev) = sink.emit_timeout(numbered(0, i), Duration::from_millis(10)) {
            refused = Some(ev);
            break;
        }
    }
    let ev = refused.expect("a frozen writer must make the queue full");
    assert!(ev.metadata.contains_key("i"));
    w.freeze(false);
    sink.close().unwrap();
}

/// A flush that races with `close` returns only once what was emitted
/// before it is written: whether it started before `close` (its marker is
/// still queued) or after (the queue is closed), it waits for the writer.
#[test]
fn a_flush_racing_with_close_waits_for_the_writer() {
    let w = Flaky::default();
    let sink = Arc::new(JsonlSink::builder().writer(w.clone()).unwrap());
    w.freeze(true);
    for i in 0..100 {
        sink.emit(numbered(0, i));
    }
    let flusher = || {
        let sink = sink.clone();
        let w = w.clone();
        std::thread::spawn(move || {
            let result = sink.flush();
            (result.is_ok(), w.indices().len())
        })
    };
    let before = flusher();
    std::thread::sleep(Duration::from_millis(20));
    let closer = {
        let sink = sink.clone();
        std::thread::spawn(move || sink.close())
    };
    std::thread::sleep(Duration::from_millis(20));
    let after = flusher();
    std::thread::sleep(Duration::from_millis(20));
    w.freeze(false);
    closer.join().unwrap().unwrap();
    for (name, flush) in [("before close", before), ("after close", after)] {
        let (ok, written) = flush.join().unwrap();
        assert!(ok, "the flush {name} failed");
        assert_eq!(written, 100, "the flush {name} returned early");
    }
}

/// A flush that meets a closing sink during a fault returns the fault at
/// once, as it would while the sink is open, rather than wait for close
/// (here, with no close timeout, until the fault clears).
#[test]
fn a_flush_racing_with_close_returns_the_fault_at_once() {
    let w = Flaky::default();
    let sink = Arc::new(
        JsonlSink::builder()
            .close_timeout(Duration::MAX)
            .writer(w.clone())
            .unwrap(),
    );
    for i in 0..100 {
        sink.emit(numbered(0, i));
    }
    sink.flush().unwrap();
    w.failing.store(true, Ordering::SeqCst);
    for i in 100..200 {
        sink.emit(numbered(0, i));
    }
    let closer = {
        let sink = sink.clone();
        std::thread::spawn(move || sink.close())
    };
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let sink = sink.clone();
        std::thread::spawn(move || {
            let _ = tx.send(sink.flush());
        });
    }
    let flushed = rx.recv_timeout(Duration::from_secs(10));
    w.failing.store(false, Ordering::SeqCst);
    let err = flushed
        .expect("the flush waited out the fault")
        .unwrap_err();
    assert!(err.to_string().contains("injected EIO"), "{err}");
    closer.join().unwrap().unwrap();
    common::assert_sequence(&w.indices(), 200, "after the fault");
}

/// A writer whose `flush` fails once, on command.
#[derive(Clone, Default)]
struct FlushFails {
    data: Arc<Mutex<Vec<u8>>>,
    fail_next: Arc<AtomicBool>,
}

impl Write for FlushFails {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.data.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(io::Error::other("injected flush failure"));
        }
        Ok(())
    }
}

/// A failed flush of the target's own buffer (or a failed sync) leaves no
/// bytes to write: it is retried by itself, not only when the next event
/// comes, and the fault ends once it works.
#[test]
fn a_failed_flush_with_nothing_left_to_write_is_retried() {
    let w = FlushFails::default();
    let sink = JsonlSink::builder()
        .flush_interval(Duration::from_millis(1))
        .writer(w.clone())
        .unwrap();
    w.fail_next.store(true, Ordering::SeqCst);
    sink.emit(numbered(0, 0));
    // The tick's flush fails (a fault, counted), is retried, and works.
    let over = |s: agent_audit::SinkStats| s.errors == 1 && s.retries >= 1 && !s.faulted;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !over(sink.stats()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        over(sink.stats()),
        "the fault never ended: {:?}",
        sink.stats()
    );
    let first = sink.flush().expect_err("the failure is reported once");
    assert!(
        first.to_string().contains("injected flush failure"),
        "{first}"
    );
    sink.flush().unwrap();
    sink.close().unwrap();
    let data = w.data.lock().unwrap().clone();
    assert_eq!(data.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
}

#[test]
fn durations_too_long_for_the_clock_mean_no_limit() {
    let w = Flaky::default();
    let sink = Arc::new(
        JsonlSink::builder()
            .capacity(2)
            .batch_bytes(1)
            .flush_interval(Duration::MAX)
            .close_timeout(Duration::MAX)
            .writer(w.clone())
            .unwrap(),
    );
    w.freeze(true);
    let producer = {
        let sink = sink.clone();
        std::thread::spawn(move || {
            (0..50)
                .filter(|&i| sink.emit_timeout(numbered(0, i), Duration::MAX).is_err())
                .count()
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        !producer.is_finished(),
        "an unlimited timeout waits for room"
    );
    w.freeze(false);
    assert_eq!(producer.join().unwrap(), 0, "no event given back");
    sink.close().unwrap();
    common::assert_sequence(&w.indices(), 50, "unlimited");
}

#[test]
fn flush_reports_a_fault_even_when_the_queue_is_full() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("no /dev/full here: skipped");
        return;
    }
    let sink = Arc::new(
        JsonlSink::builder()
            .capacity(4)
            .batch_bytes(256)
            .close_timeout(Duration::from_millis(50))
            .open("/dev/full")
            .unwrap(),
    );
    let producer = {
        let sink = sink.clone();
        std::thread::spawn(move || {
            for i in 0..1000 {
                sink.emit(numbered(0, i));
            }
        })
    };
    // Wait until the writer holds its bound and the queue is full.
    while sink.stats().queue_depth < 4 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let err = sink.flush().unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.raw_os_error() == Some(28)),
        "{err}"
    );
    assert!(matches!(sink.close().unwrap_err(), Error::Abandoned { .. }));
    producer.join().unwrap(); // unblocked by close, not stuck
    let stats = sink.stats();
    assert!(stats.abandoned + stats.after_close > 0);
}

const FSIZE_CHILD: &str = "AGENT_AUDIT_FSIZE_CHILD";

/// Sets a soft limit of this process (`None`: back to the hard one).
fn set_soft_limit(resource: libc::__rlimit_resource_t, value: Option<u64>) {
    // SAFETY: plain libc calls with valid arguments.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(resource, &mut lim), 0);
        lim.rlim_cur = value.map_or(lim.rlim_max, |v| v as libc::rlim_t);
        assert_eq!(libc::setrlimit(resource, &lim), 0);
    }
}

/// Sets the soft file-size limit of this process (`None`: the hard one).
fn limit_file_size(bytes: Option<u64>) {
    // SAFETY: ignoring SIGXFSZ makes a write past the limit fail with
    // EFBIG instead of killing us.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    set_soft_limit(libc::RLIMIT_FSIZE, bytes);
}

/// Runs the test `name` again in a child process with `env` set to
/// `path` (the test then plays the child's part) and returns what the
/// child printed, once it has exited successfully.
fn run_child(name: &str, env: &str, path: &std::path::Path) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(env, path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The child: writes to a regular file under a file-size limit, so a write
/// fails (`EFBIG`, after a short one) while producers, waiting for room in
/// a tiny queue, are writing most batches themselves. Once the sink
/// reports the fault, the limit is lifted and everything is flushed. Then
/// the limit comes back for good, 100 more events are emitted, and close
/// gives up on them after its timeout. Prints the sink's counters and
/// whether the file is still open.
fn fsize_child(path: &str) -> ! {
    limit_file_size(Some(4 << 20));
    let sink = Arc::new(
        JsonlSink::builder()
            .capacity(64)
            .batch_bytes(4096)
            .close_timeout(Duration::from_millis(200))
            .open(path)
            .unwrap(),
    );
    std::thread::scope(|s| {
        for p in 0..3 {
            let sink = &sink;
            s.spawn(move || {
                for i in 0..20_000 {
                    sink.emit(numbered(p, i));
                }
            });
        }
        s.spawn(|| {
            while !sink.stats().faulted {
                std::thread::sleep(Duration::from_micros(200));
            }
            limit_file_size(None);
        });
    });
    // The first flush reports the fault; by the second it has cleared.
    let first = sink.flush();
    sink.flush().unwrap();
    let size = std::fs::metadata(path).unwrap().len();
    limit_file_size(Some(size));
    for i in 0..100 {
        sink.emit(numbered(9, i));
    }
    let closed = sink.close();
    let stats = sink.stats();
    let open = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .any(|target| target == std::path::Path::new(path));
    println!(
        "first-flush-error={} close={closed:?} errors={} events={} bytes={} \
         abandoned={} by-producers={} still-open={open}",
        first.is_err(),
        stats.errors,
        stats.events_written,
        stats.bytes_written,
        stats.abandoned,
        stats.batches_by_producers,
    );
    std::io::stdout().flush().unwrap();
    std::process::exit(0)
}

/// A regular file that stops taking bytes mid-batch while producers are
/// writing the batches (see the sink's `handoff`): the fault is reported,
/// nothing is lost or written twice, writing resumes in order, and the
/// counters match the file. A fault that outlasts the close timeout: the
/// events are counted as abandoned and the file is closed all the same.
#[test]
fn a_file_size_limit_hit_mid_batch_is_reported_and_resumed_in_order() {
    const NAME: &str = "a_file_size_limit_hit_mid_batch_is_reported_and_resumed_in_order";
    if let Ok(path) = std::env::var(FSIZE_CHILD) {
        fsize_child(&path);
    }
    let dir = scratch_dir("fsize");
    let path = dir.join("audit.jsonl");
    let stdout = run_child(NAME, FSIZE_CHILD, &path);
    let report = stdout
        .lines()
        .find(|l| l.starts_with("first-flush-error="))
        .unwrap_or_else(|| panic!("no report from the child: {stdout}"));
    let field = |name: &str| -> String {
        let start = report.find(&format!(" {name}=")).unwrap() + name.len() + 2;
        report[start..].split(' ').next().unwrap().to_string()
    };
    assert!(report.starts_with("first-flush-error=true"), "{report}");
    assert!(report.contains("close=Err(Abandoned"), "{report}");
    assert_ne!(field("errors"), "0", "{report}");
    assert_eq!(field("events"), "60000", "{report}");
    assert_eq!(field("abandoned"), "100", "{report}");
    assert_eq!(field("still-open"), "false", "{report}");
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(field("bytes"), size.to_string(), "{report}");
    let got = common::read_numbered(&[path]);
    for p in 0..3 {
        common::assert_sequence(&got[&p], 20_000, &format!("producer {p}"));
    }
    assert!(!got.contains_key(&9), "abandoned events reached the file");
}

/// The path moved away and replaced by a symlink (to another file) that
/// the sink refuses to follow: the reopen fails, is reported and retried,
/// and once the path is free again writing resumes (in the old file it
/// has open until the next moved check, then in a new one), with every
/// event in one of the two files exactly once, in order.
#[test]
fn a_failed_reopen_is_retried_until_the_path_is_usable() {
    let dir = scratch_dir("reopen-fails");
    let path = dir.join("audit.jsonl");
    let old = dir.join("audit.jsonl.old");
    let sink = JsonlSink::builder().no_follow(true).open(&path).unwrap();
    for i in 0..100 {
        sink.emit(numbered(0, i));
    }
    sink.flush().unwrap();
    std::fs::rename(&path, &old).unwrap();
    let elsewhere = dir.join("elsewhere");
    std::fs::write(&elsewhere, "").unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    // Asked for, the reopen fails, is counted, and changes nothing.
    let errors = sink.stats().errors;
    assert!(sink.reopen().is_err(), "reopened onto a refused symlink");
    assert_eq!(
        sink.stats().errors,
        errors + 1,
        "a failed reopen is counted"
    );
    std::thread::sleep(Duration::from_millis(5));
    for i in 100..200 {
        sink.emit(numbered(0, i));
    }
    // The failed reopen is reported. (Not `stats().faulted` at this
    // point: a retry within the moved check's 1 ms goes to the old file,
    // succeeds and clears the fault until the next check fails again.)
    let err = sink.flush().unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("os error {}", libc::ELOOP)),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
    // Retries back off from 1 ms: give them a moment.
    let mut flushed = sink.flush();
    for _ in 0..200 {
        if flushed.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        flushed = sink.flush();
    }
    flushed.unwrap();
    for i in 200..300 {
        sink.emit(numbered(0, i));
    }
    sink.close().unwrap();
    // The new file exists only if a moved check ran after the path was
    // freed; until then the writer goes on with the old file it has open.
    let files: Vec<_> = [old, path].into_iter().filter(|f| f.exists()).collect();
    let got = common::read_numbered(&files);
    common::assert_sequence(&got[&0], 300, "across the failed reopen");
}

const NOFILE_CHILD: &str = "AGENT_AUDIT_NOFILE_CHILD";

/// The child: a size rotation renames the file, then cannot open a new one
/// (no file descriptor left), while flushes keep retrying; then
/// descriptors are allowed again. Prints how many events it emitted.
fn nofile_child(path: &str) -> ! {
    let sink = JsonlSink::builder()
        .rotation(agent_audit::sink::Rotation {
            max_bytes: 64 << 10,
            keep: 1,
        })
        .open(path)
        .unwrap();
    let mut i = 0;
    for _ in 0..200 {
        sink.emit(numbered(0, i));
        i += 1;
    }
    sink.flush().unwrap();
    // No descriptor can be opened from here on: the lowest free one is
    // at the limit.
    // SAFETY: `dup` and `close` of this process's own standard input.
    let lowest = unsafe {
        let fd = libc::dup(0);
        assert!(fd >= 0);
        libc::close(fd);
        fd
    };
    set_soft_limit(libc::RLIMIT_NOFILE, Some(lowest as u64));
    // Past the size limit: the rotation's rename works, its reopen fails.
    let mut failed = 0;
    while i < 800 || (failed == 0 && i < 20_000) {
        sink.emit(numbered(0, i));
        i += 1;
        if i % 50 == 0 && sink.flush().is_err() {
            failed += 1;
        }
    }
    assert!(failed > 0, "the rotation's reopen never failed");
    // Retries (a flush retries at once) while the fault lasts.
    for _ in 0..100 {
        let _ = sink.flush();
        std::thread::sleep(Duration::from_micros(300));
    }
    set_soft_limit(libc::RLIMIT_NOFILE, None);
    let mut flushed = false;
    for _ in 0..1000 {
        if sink.flush().is_ok() {
            flushed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(flushed, "the fault never cleared");
    sink.close().unwrap();
    println!("emitted={i}");
    std::io::stdout().flush().unwrap();
    std::process::exit(0)
}

/// A size rotation that renames the file but cannot open the next one
/// (here: no file descriptor left) is a fault like any other: the events
/// wait, the retries open the new file instead of rotating again (which
/// would delete the file just rotated), and in the end the rotated file
/// then the new one hold every event once, in order.
#[test]
fn a_rotation_that_cannot_open_the_next_file_loses_nothing() {
    const NAME: &str = "a_rotation_that_cannot_open_the_next_file_loses_nothing";
    if let Ok(path) = std::env::var(NOFILE_CHILD) {
        nofile_child(&path);
    }
    let dir = scratch_dir("nofile");
    let path = dir.join("audit.jsonl");
    let stdout = run_child(NAME, NOFILE_CHILD, &path);
    let emitted: i64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("emitted="))
        .unwrap_or_else(|| panic!("no report from the child: {stdout}"))
        .parse()
        .unwrap();
    let rotated = dir.join("audit.jsonl.1");
    assert!(rotated.exists(), "the rotated file is gone");
    let got = common::read_numbered(&[rotated, path]);
    common::assert_sequence(&got[&0], emitted, "producer 0");
}

/// A fault told to a flusher that could not even queue its marker (the
/// queue was full) is not reported again, and does not hide the next,
/// different error: that one reaches the next flush.
#[test]
fn an_error_after_a_fault_told_directly_reaches_the_next_flush() {
    let w = Flaky::default();
    let sink = Arc::new(
        JsonlSink::builder()
            .capacity(4)
            .batch_bytes(64)
            .flush_interval(Duration::MAX)
            .writer(w.clone())
            .unwrap(),
    );
    w.failing.store(true, Ordering::SeqCst);
    let producer = {
        let sink = sink.clone();
        std::thread::spawn(move || {
            for i in 0..100 {
                sink.emit(numbered(0, i));
            }
        })
    };
    wait_for("a fault with a full queue", || {
        let s = sink.stats();
        s.faulted && s.queue_depth >= 4
    });
    let told = sink.flush().unwrap_err();
    assert!(told.to_string().contains("injected EIO"), "{told}");
    w.failing.store(false, Ordering::SeqCst);
    producer.join().unwrap();
    wait_for("the fault to clear", || !sink.stats().faulted);
    w.fail_flush.store(true, Ordering::SeqCst);
    let next = sink.flush().unwrap_err();
    assert!(
        next.to_string().contains("injected flush failure"),
        "{next}"
    );
    sink.flush().unwrap();
    sink.close().unwrap();
    common::assert_sequence(&w.indices(), 100, "after the fault");
}

/// Two threads closing at once: neither returns before every event is
/// written.
#[test]
fn a_close_racing_with_close_waits_for_the_writer() {
    let w = Flaky::default();
    let sink = Arc::new(JsonlSink::builder().writer(w.clone()).unwrap());
    w.freeze(true);
    for i in 0..10 {
        sink.emit(numbered(0, i));
    }
    let first = {
        let sink = sink.clone();
        std::thread::spawn(move || sink.close())
    };
    // The first close holds the writer's handle (or soon will); either
    // way the second must wait for the writer.
    let second = {
        let sink = sink.clone();
        std::thread::spawn(move || sink.close())
    };
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !second.is_finished(),
        "a close returned with the writer frozen"
    );
    assert!(
        !first.is_finished(),
        "a close returned with the writer frozen"
    );
    w.freeze(false);
    first.join().unwrap().unwrap();
    second.join().unwrap().unwrap();
    common::assert_sequence(&w.indices(), 10, "closed twice");
}

/// `reopen` is answered as a flush: with events held by a fault it does
/// not report success, and the events go on, in order, once the fault
/// clears.
#[test]
fn a_reopen_during_a_fault_reports_it() {
    let w = Flaky::default();
    let sink = JsonlSink::builder()
        .flush_interval(Duration::MAX)
        .writer(w.clone())
        .unwrap();
    w.failing.store(true, Ordering::SeqCst);
    for i in 0..10 {
        sink.emit(numbered(0, i));
    }
    wait_for("a fault", || sink.stats().faulted);
    let err = sink.reopen().unwrap_err();
    assert!(err.to_string().contains("injected EIO"), "{err}");
    w.failing.store(false, Ordering::SeqCst);
    wait_for("the fault to clear", || !sink.stats().faulted);
    sink.close().unwrap();
    common::assert_sequence(&w.indices(), 10, "after the reopen");
}
