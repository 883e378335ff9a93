//! The JSONL sink against its promises: nothing lost, nothing duplicated,
//! order per producer, flush means written, close drains.

mod common;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_audit::json::LineParser;
use agent_audit::sink::{JsonlSink, Rotation};
use agent_audit::{Collector, Emitter, Event, Format};
use common::{emit_numbered, numbered, read_numbered, scratch_dir, xorshift, SharedBuf};

#[test]
fn writes_every_event_from_many_threads() {
    let dir = scratch_dir("many-threads");
    let path = dir.join("audit.jsonl");
    let sink = Arc::new(JsonlSink::open(&path).unwrap());
    std::thread::scope(|s| {
        for p in 0..4 {
            let sink = sink.clone();
            s.spawn(move || {
                let emitter = Emitter::with_collector(sink.clone());
                let agent = format!("p{p}");
                for i in 0..5_000 {
                    match p % 2 {
                        0 => sink.emit(numbered(p, i)),
                        _ => common::emit_numbered(&emitter, &agent, i),
                    }
                }
            });
        }
    });
    sink.flush().unwrap();
    let by_producer = read_numbered(std::slice::from_ref(&path));
    for p in 0..4 {
        common::assert_sequence(&by_producer[&p], 5_000, &format!("producer {p}"));
    }
    let stats = sink.stats();
    assert_eq!(stats.events_written, 20_000);
    assert_eq!(stats.bytes_written, std::fs::metadata(&path).unwrap().len());
    sink.close().unwrap();
}

#[test]
fn both_formats_write_what_the_json_module_writes() {
    for format in [Format::Compact, Format::Python] {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = JsonlSink::builder()
            .format(format)
            .writer(SharedBuf(buf.clone()))
            .unwrap();
        let ev = Event::default().agent("é").meta("x", 1.5);
        sink.emit(ev.clone());
        sink.close().unwrap();
        let want = agent_audit::json::to_line(&ev, format);
        assert_eq!(
            String::from_utf8(buf.lock().unwrap().clone()).unwrap(),
            want
        );
    }
}

/// 4 producers × 500k events while two other threads flush at random
/// moments. Each flush records, before calling, how far every producer had
/// got, and after it returns, the file size: every event known before the
/// flush must lie within that size. Producers 0 and 1 queue owned events,
/// 2 and 3 go through the emitter (events copied into the queue slot).
#[test]
fn stress_four_producers_with_random_flushes() {
    let per: i64 = if cfg!(debug_assertions) {
        50_000
    } else {
        500_000
    };
    let dir = scratch_dir("stress");
    stress(
        JsonlSink::builder().capacity(4096),
        &dir.join("audit.jsonl"),
        per,
    );
}

/// The same with a queue and batches so small that producers are forever
/// waiting for room, and so write most batches themselves (the writer
/// hands them over): order, exactly once and the flush promise still hold,
/// including for a batch a producer is writing when the flush comes.
#[test]
fn stress_with_producers_writing_handed_over_batches() {
    let dir = scratch_dir("stress-helpers");
    let mut helped = 0;
    // Whether producers get to help depends on timing: run until some did.
    for round in 0..20 {
        let stats = stress(
            JsonlSink::builder().capacity(64).batch_bytes(4096),
            &dir.join(format!("audit-{round}.jsonl")),
            20_000,
        );
        helped += stats.batches_by_producers;
        if helped > 0 {
            break;
        }
    }
    assert!(helped > 0, "no producer ever wrote a batch");
}

/// Event `i` of producer `p`: built owned by producers 0 and 1, handed
/// by reference through `emitter` (agent `p{p}`) by the others, so that
/// both of the sink's paths share its queue.
fn emit_mixed(sink: &JsonlSink, emitter: &Emitter, agent: &str, p: i64, i: i64) {
    if p < 2 {
        sink.emit(numbered(p, i));
    } else {
        emit_numbered(emitter, agent, i);
    }
}

/// Four producers, two flushing threads; checks the file and returns the
/// sink's final counters.
fn stress(
    builder: agent_audit::sink::SinkBuilder,
    path: &std::path::Path,
    per: i64,
) -> agent_audit::sink::SinkStats {
    let sink = Arc::new(builder.open(path).unwrap());
    let progress: Vec<AtomicI64> = (0..4).map(|_| AtomicI64::new(-1)).collect();
    let checks = Mutex::new(Vec::new());
    let running = AtomicU64::new(4);
    std::thread::scope(|s| {
        for p in 0..4 {
            let (sink, progress, running) = (&sink, &progress, &running);
            s.spawn(move || {
                let emitter = Emitter::with_collector(sink.clone());
                let agent = format!("p{p}");
                for i in 0..per {
                    emit_mixed(sink, &emitter, &agent, p, i);
                    progress[p as usize].store(i, Ordering::Release);
                }
                running.fetch_sub(1, Ordering::Release);
            });
        }
        for seed in 0..2u64 {
            let (sink, progress, running, checks, path) =
                (&sink, &progress, &running, &checks, &path);
            s.spawn(move || {
                let mut x = seed + 1;
                while running.load(Ordering::Acquire) > 0 {
                    std::thread::sleep(Duration::from_micros(xorshift(&mut x) % 3000));
                    let known: Vec<i64> =
                        progress.iter().map(|a| a.load(Ordering::Acquire)).collect();
                    sink.flush().unwrap();
                    let size = std::fs::metadata(path).unwrap().len();
                    checks.lock().unwrap().push((known, size));
                }
            });
        }
    });
    sink.flush().unwrap();
    let stats = sink.stats();
    sink.close().unwrap();

    // One pass over the file: order, exactly once, and the flush promises.
    let data = std::fs::read(path).unwrap();
    let mut parser = LineParser::new();
    let mut next = [0i64; 4];
    let mut end_of: Vec<Vec<u64>> = (0..4).map(|_| Vec::with_capacity(per as usize)).collect();
    let mut offset = 0u64;
    for line in data.split_inclusive(|&b| b == b'\n') {
        assert_eq!(line.last(), Some(&b'\n'), "torn line at byte {offset}");
        let ev = parser.parse(&line[..line.len() - 1]).unwrap();
        let (p, i) = common::numbers_of(&ev);
        let p = p as usize;
        assert_eq!(i, next[p], "producer {p}: out of order or duplicated");
        next[p] += 1;
        offset += line.len() as u64;
        end_of[p].push(offset);
    }
    assert_eq!(next, [per; 4], "events lost");
    let checks = checks.into_inner().unwrap();
    assert!(!checks.is_empty());
    for (known, size) in checks {
        for (p, &k) in known.iter().enumerate() {
            if k >= 0 {
                assert!(
                    end_of[p][k as usize] <= size,
                    "flush returned before event {k} of {p} was written"
                );
            }
        }
    }
    stats
}

#[test]
fn short_lived_sinks_closed_at_random_moments_lose_nothing() {
    let dir = scratch_dir("short-lived");
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..100 {
        let n = (xorshift(&mut x) % 3000) as i64;
        let path = dir.join(format!("round-{round}.jsonl"));
        let sink = Arc::new(JsonlSink::builder().capacity(64).open(&path).unwrap());
        std::thread::scope(|s| {
            for p in 0..2 {
                let sink = sink.clone();
                s.spawn(move || {
                    for i in 0..n {
                        sink.emit(numbered(p, i));
                    }
                });
            }
        });
        if round % 2 == 0 {
            sink.close().unwrap();
        }
        drop(sink); // the last handle: drop closes and drains
        let got = read_numbered(&[path]);
        for p in 0..2 {
            assert_eq!(
                got.get(&p).map_or(0, Vec::len) as i64,
                n,
                "round {round} producer {p}"
            );
        }
    }
}

#[test]
fn emits_racing_with_close_are_written_or_counted() {
    // Producers keep emitting while another thread closes the sink: each
    // event is either in the file or counted as refused, never neither;
    // and since the close is one moment for every producer, what each
    // producer got into the file is a prefix of what it emitted.
    let dir = scratch_dir("close-race");
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..40 {
        let spin = xorshift(&mut x) % 200_000;
        let n = 20_000i64;
        let path = dir.join(format!("round-{round}.jsonl"));
        let sink = Arc::new(JsonlSink::builder().capacity(64).open(&path).unwrap());
        std::thread::scope(|s| {
            for p in 0..2 {
                let sink = sink.clone();
                s.spawn(move || {
                    let emitter = Emitter::with_collector(sink.clone());
                    for i in 0..n {
                        if p == 0 {
                            sink.emit(numbered(p, i));
                        } else {
                            // The emitter's path (a packed message).
                            emit_numbered(&emitter, "p1", i);
                        }
                    }
                });
            }
            for _ in 0..spin {
                std::hint::spin_loop();
            }
            let _ = sink.close(); // Err(Closed) when emits were refused
        });
        let refused = sink.stats().after_close;
        drop(sink);
        let got = read_numbered(&[path]);
        let mut written = 0;
        for p in 0..2 {
            let seq = got.get(&p).cloned().unwrap_or_default();
            assert!(
                seq.iter().copied().eq(0..seq.len() as i64),
                "round {round}: producer {p} has gaps"
            );
            written += seq.len() as u64;
        }
        assert_eq!(written + refused, 2 * n as u64, "round {round}");
    }
}

#[test]
fn emit_after_close_is_counted_and_reported() {
    let dir = scratch_dir("after-close");
    let sink = JsonlSink::open(dir.join("a.jsonl")).unwrap();
    sink.emit(Event::default());
    sink.close().unwrap();
    sink.emit(Event::default());
    sink.emit(Event::default());
    // The emitter's path (events by reference) is refused the same way.
    let sink = Arc::new(sink);
    Emitter::with_collector(sink.clone()).base(None, None);
    // `emit_timeout` gives its event back: not counted, not reported.
    assert!(sink
        .emit_timeout(Event::default(), Duration::from_millis(1))
        .is_err());
    assert_eq!(sink.stats().after_close, 3);
    let err = sink.flush().unwrap_err();
    assert!(
        matches!(err, agent_audit::Error::Closed { count: 3 }),
        "{err}"
    );
    assert!(sink.close().is_ok(), "reported once");
    assert_eq!(
        std::fs::read_to_string(dir.join("a.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

/// Events refused while `close` is failing are reported by the next
/// flush: the close's own error does not swallow their count.
#[test]
fn refusals_behind_a_failed_close_are_reported_next() {
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    let sink = Arc::new(
        JsonlSink::builder()
            .close_timeout(Duration::from_millis(300))
            .open("/dev/full")
            .unwrap(),
    );
    sink.emit(Event::default());
    let closer = {
        let sink = sink.clone();
        std::thread::spawn(move || sink.close())
    };
    while sink.stats().after_close == 0 {
        sink.emit(Event::default());
        std::thread::sleep(Duration::from_millis(1));
    }
    let closed = closer.join().unwrap();
    assert!(
        matches!(closed, Err(agent_audit::Error::Abandoned { .. })),
        "{closed:?}"
    );
    let refused = sink.stats().after_close;
    let err = sink.flush().unwrap_err();
    assert!(
        matches!(err, agent_audit::Error::Closed { count } if count == refused),
        "{err}"
    );
}

/// Sizes past what memory could hold are clamped, not a panic or an
/// overflow: the sink works as usual.
#[test]
fn huge_capacities_and_batches_are_clamped() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = JsonlSink::builder()
        .capacity(usize::MAX)
        .batch_bytes(usize::MAX)
        .writer(SharedBuf(out.clone()))
        .unwrap();
    for i in 0..100 {
        sink.emit(numbered(0, i));
    }
    sink.close().unwrap();
    let lines = out.lock().unwrap().iter().filter(|&&b| b == b'\n').count();
    assert_eq!(lines, 100);
}

#[test]
fn new_files_are_private_and_symlinks_can_be_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("perms");
    let path = dir.join("audit.jsonl");
    JsonlSink::open(&path).unwrap().close().unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let link = dir.join("link.jsonl");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let err = JsonlSink::builder()
        .no_follow(true)
        .open(&link)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_eloop()));
    assert!(
        JsonlSink::open(&link).is_ok(),
        "followed without the option"
    );
}

fn libc_eloop() -> i32 {
    40 // ELOOP on Linux
}

#[test]
fn appends_to_an_existing_file() {
    let dir = scratch_dir("append");
    let path = dir.join("audit.jsonl");
    std::fs::write(&path, "{\"event_type\": \"base\"}\n").unwrap();
    let sink = JsonlSink::open(&path).unwrap();
    sink.emit(Event::default());
    sink.close().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.starts_with("{\"event_type\": \"base\"}\n"));
}

#[test]
fn rotation_under_concurrent_emit_keeps_every_event_once() {
    let dir = scratch_dir("rotation");
    let path = dir.join("audit.jsonl");
    let max = 64 << 10;
    let sink = Arc::new(
        JsonlSink::builder()
            .rotation(Rotation {
                max_bytes: max,
                keep: 10_000,
            })
            .batch_bytes(16 << 10)
            .open(&path)
            .unwrap(),
    );
    std::thread::scope(|s| {
        for p in 0..2 {
            let sink = sink.clone();
            s.spawn(move || {
                for i in 0..20_000 {
                    sink.emit(numbered(p, i));
                }
            });
        }
    });
    sink.close().unwrap();
    let mut files = vec![path.clone()];
    let mut n = 1;
    loop {
        let f = dir.join(format!("audit.jsonl.{n}"));
        if !f.exists() {
            break;
        }
        assert!(
            std::fs::metadata(&f).unwrap().len() <= max,
            "{} too big",
            f.display()
        );
        files.push(f);
        n += 1;
    }
    assert!(
        files.len() > 10,
        "expected many rotations, got {}",
        files.len()
    );
    // Oldest first: PATH.N ... PATH.1, PATH.
    files.reverse();
    let got = read_numbered(&files);
    for p in 0..2 {
        common::assert_sequence(&got[&p], 20_000, &format!("producer {p}"));
    }
}

#[test]
fn rotation_keeps_only_n_files() {
    let dir = scratch_dir("rotation-keep");
    let path = dir.join("audit.jsonl");
    let sink = JsonlSink::builder()
        .rotation(Rotation {
            max_bytes: 4096,
            keep: 3,
        })
        .open(&path)
        .unwrap();
    for i in 0..2000 {
        sink.emit(numbered(0, i));
        if i % 100 == 0 {
            sink.flush().unwrap();
        }
    }
    sink.close().unwrap();
    assert!(dir.join("audit.jsonl.3").exists());
    assert!(!dir.join("audit.jsonl.4").exists());
    // What is kept is the newest events, contiguous, in order.
    let files: Vec<_> = [
        "audit.jsonl.3",
        "audit.jsonl.2",
        "audit.jsonl.1",
        "audit.jsonl",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    let got = &read_numbered(&files)[&0];
    assert_eq!(*got.last().unwrap(), 1999);
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1));
}

/// A rotation that finds no `PATH.1` (a rotation that failed after
/// shifting the older files up, now retried; or an operator removed it)
/// fills the gap instead of shifting again: the older files keep their
/// places, and none is deleted before its time.
#[test]
fn rotation_into_a_gap_keeps_the_older_files() {
    let dir = scratch_dir("rotation-gap");
    let path = dir.join("audit.jsonl");
    let older = dir.join("audit.jsonl.2");
    std::fs::write(&older, "{\"event_type\":\"base\"}\n").unwrap();
    let n = rotate_once(&path, 2, &dir.join("audit.jsonl.1"));
    assert_eq!(
        std::fs::read_to_string(&older).unwrap(),
        "{\"event_type\":\"base\"}\n",
        "the older file was deleted or overwritten"
    );
    let got = &read_numbered(&[dir.join("audit.jsonl.1"), path])[&0];
    common::assert_sequence(got, n, "producer 0");
}

/// A gap further down (a rotation whose renames stopped halfway: `.2` went
/// to `.3`, `.1` could not go to `.2`) is filled by the files below it:
/// the retry must not remove `.3`, which now holds what was `.2`.
#[test]
fn rotation_fills_a_gap_between_kept_files() {
    let dir = scratch_dir("rotation-mid-gap");
    let path = dir.join("audit.jsonl");
    std::fs::write(dir.join("audit.jsonl.1"), "one\n").unwrap();
    std::fs::write(dir.join("audit.jsonl.3"), "three\n").unwrap();
    let n = rotate_once(&path, 3, &dir.join("audit.jsonl.2"));
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(read("audit.jsonl.2"), "one\n", ".1 moved up into the gap");
    assert_eq!(read("audit.jsonl.3"), "three\n", ".3 kept");
    let got = &read_numbered(&[dir.join("audit.jsonl.1"), path])[&0];
    common::assert_sequence(got, n, "producer 0");
}

/// `keep` costs nothing for the slots that hold no file: a rotation with
/// no limit on the files kept ends, shifting only the files there are.
#[test]
fn rotation_with_no_limit_on_files_kept_shifts_only_existing_ones() {
    let dir = scratch_dir("rotation-keep-all");
    let path = dir.join("audit.jsonl");
    let done = {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.clone();
        std::thread::spawn(move || {
            let sink = JsonlSink::builder()
                .rotation(Rotation {
                    max_bytes: 1024,
                    keep: usize::MAX,
                })
                .open(&path)
                .unwrap();
            for i in 0..100 {
                sink.emit(numbered(0, i));
            }
            let _ = tx.send(sink.close());
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
    };
    done.expect("rotations did not end").unwrap();
    let mut files: Vec<_> = (1..)
        .map(|n| dir.join(format!("audit.jsonl.{n}")))
        .take_while(|f| f.exists())
        .collect();
    assert!(files.len() >= 10, "only {} rotations", files.len());
    files.reverse();
    files.push(path);
    common::assert_sequence(&read_numbered(&files)[&0], 100, "producer 0");
}

/// Emits numbered events into a sink on `path` (rotating at 4 KiB, keeping
/// `keep`) until `until` exists, then closes it; the number emitted.
fn rotate_once(path: &std::path::Path, keep: usize, until: &std::path::Path) -> i64 {
    let sink = JsonlSink::builder()
        .rotation(Rotation {
            max_bytes: 4096,
            keep,
        })
        .open(path)
        .unwrap();
    // Enough for one rotation, not two.
    let mut i = 0;
    while !until.exists() {
        sink.emit(numbered(0, i));
        i += 1;
        if i % 10 == 0 {
            sink.flush().unwrap();
        }
        assert!(i < 1000, "never rotated");
    }
    sink.close().unwrap();
    i
}

#[test]
fn reopen_after_an_external_move_loses_and_duplicates_nothing() {
    let dir = scratch_dir("reopen");
    let path = dir.join("audit.jsonl");
    let moved = dir.join("audit.jsonl.old");
    let sink = Arc::new(JsonlSink::open(&path).unwrap());
    std::thread::scope(|s| {
        let producer = sink.clone();
        s.spawn(move || {
            for i in 0..50_000 {
                producer.emit(numbered(0, i));
            }
        });
        std::thread::sleep(Duration::from_millis(5));
        std::fs::rename(&path, &moved).unwrap();
        sink.reopen().unwrap();
    });
    sink.close().unwrap();
    let got = read_numbered(&[moved, path]);
    common::assert_sequence(&got[&0], 50_000, "producer 0");
}

/// A file moved away under a busy sink, with nobody calling `reopen`:
/// the writer notices within its check interval, even while producers are
/// writing most batches, and starts a new file at the path. The old file
/// then the new one hold every event once, in each producer's order.
#[test]
fn a_file_moved_under_busy_producers_is_noticed_and_replaced() {
    let dir = scratch_dir("moved-busy");
    let path = dir.join("audit.jsonl");
    let moved = dir.join("audit.jsonl.old");
    let sink = Arc::new(
        JsonlSink::builder()
            .capacity(64)
            .batch_bytes(4096)
            .open(&path)
            .unwrap(),
    );
    let stop = AtomicU64::new(0);
    let sent: Vec<AtomicI64> = (0..4).map(|_| AtomicI64::new(0)).collect();
    std::thread::scope(|s| {
        for p in 0..4 {
            let (sink, stop, sent) = (&sink, &stop, &sent);
            s.spawn(move || {
                let emitter = Emitter::with_collector(sink.clone());
                let agent = format!("p{p}");
                let mut i = 0;
                while stop.load(Ordering::Relaxed) == 0 {
                    emit_mixed(sink, &emitter, &agent, p, i);
                    i += 1;
                }
                sent[p as usize].store(i, Ordering::Relaxed);
            });
        }
        // Some batches first, then the move.
        while std::fs::metadata(&path).map_or(0, |m| m.len()) < 1 << 20 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::fs::rename(&path, &moved).unwrap();
        let waited = std::time::Instant::now();
        while !path.exists() {
            assert!(
                waited.elapsed() < Duration::from_secs(20),
                "the moved file was never replaced"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // And some batches into the new file.
        while std::fs::metadata(&path).map_or(0, |m| m.len()) < 1 << 20 {
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.store(1, Ordering::Relaxed);
    });
    sink.close().unwrap();
    let got = read_numbered(&[moved, path]);
    for p in 0..4 {
        let n = sent[p as usize].load(Ordering::Relaxed);
        common::assert_sequence(&got[&p], n, &format!("producer {p}"));
    }
}

#[test]
fn works_as_a_collector_behind_an_emitter() {
    let dir = scratch_dir("emitter");
    let path = dir.join("audit.jsonl");
    let sink: Arc<dyn Collector> = Arc::new(
        JsonlSink::builder()
            .format(Format::Python)
            .open(&path)
            .unwrap(),
    );
    let emitter = Emitter::with_collector(sink).with_session("s");
    std::thread::scope(|s| {
        for t in 0..10 {
            let emitter = emitter.clone();
            s.spawn(move || {
                for i in 0..100 {
                    emitter.tool_call_attempt("tool", &format!("{t}:{i}"), Some("a"), None);
                }
            });
        }
    });
    emitter.flush().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1000);
    let mut parser = LineParser::new();
    for line in text.lines() {
        assert_eq!(
            parser.parse(line.as_bytes()).unwrap().session_id.as_deref(),
            Some("s")
        );
    }
}

#[test]
fn durable_mode_syncs_on_flush_and_on_the_tick() {
    let dir = scratch_dir("durable");
    let path = dir.join("audit.jsonl");
    let sink = JsonlSink::builder()
        .durable(true)
        .flush_interval(Duration::from_millis(2))
        .open(&path)
        .unwrap();
    for i in 0..1000 {
        sink.emit(numbered(0, i));
    }
    sink.flush().unwrap();
    common::assert_sequence(
        &read_numbered(std::slice::from_ref(&path))[&0],
        1000,
        "after a durable flush",
    );
    // Without a flush, the periodic tick writes (and syncs) by itself.
    sink.emit(numbered(0, 1000));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sink.stats().events_written < 1001 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(sink.stats().events_written, 1001);
    assert_eq!(sink.stats().errors, 0);
    sink.close().unwrap();
}
