//! Reading logs back: every shape of damage is an error item with its line
//! number, and the good lines around it are still read.

mod common;

use std::io::Read;

use agent_audit::json::{self, Format};
use agent_audit::reader::{read_slice, LineError, LineErrorKind, Reader, Record};
use agent_audit::Event;

const FIXTURE: &[u8] = include_bytes!("fixtures/reference_python.jsonl");

/// A `base` event whose metadata numbers it `i`, as a python line.
fn numbered_line(i: i64) -> String {
    format!("{{\"event_type\": \"base\", \"metadata\": {{\"i\": {i}}}}}\n")
}

/// A `Follow` run by a thread of its own, whose items (each record's
/// metadata `i`) the test waits for one at a time.
struct Followed(std::sync::mpsc::Receiver<Result<agent_audit::Value, LineError>>);

impl Followed {
    fn start(follow: agent_audit::reader::Follow) -> Followed {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for item in follow {
                if tx
                    .send(item.map(|r| r.event.metadata["i"].clone()))
                    .is_err()
                {
                    return;
                }
            }
        });
        Followed(rx)
    }

    /// The next item, within ten seconds.
    fn next_item(&self) -> Result<agent_audit::Value, LineError> {
        self.0
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("follow stalled")
    }

    /// The next item, which must be a record.
    fn next(&self) -> agent_audit::Value {
        self.next_item().unwrap()
    }
}

fn summary(r: impl IntoIterator<Item = Result<Record, LineError>>) -> (Vec<u64>, Vec<String>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for item in r {
        match item {
            Ok(Record { line, .. }) => good.push(line),
            Err(e) => bad.push(e.to_string()),
        }
    }
    (good, bad)
}

#[test]
fn reads_the_reference_fixture_completely() {
    let (good, bad) = summary(Reader::new(FIXTURE));
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(
        good.len(),
        FIXTURE
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    );
    assert_eq!(good, (1..=good.len() as u64).collect::<Vec<_>>());
}

/// A reader that hands out one byte per call: chunk boundaries everywhere.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), out.first_mut()) {
            (Some((b, rest)), Some(o)) => {
                *o = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn chunk_boundaries_do_not_matter() {
    let whole: Vec<Event> = Reader::new(FIXTURE).map(|r| r.unwrap().event).collect();
    let trickled: Vec<Event> = Reader::new(Trickle(FIXTURE))
        .map(|r| r.unwrap().event)
        .collect();
    assert_eq!(whole, trickled);
}

#[test]
fn crlf_bom_and_blank_lines_are_accepted() {
    let mut log = b"\xEF\xBB\xBF".to_vec();
    log.extend_from_slice(
        b"{\"event_type\": \"base\"}\r\n\r\n   \n{\"event_type\": \"error\"}\r\n\n",
    );
    let (good, bad) = summary(Reader::new(&log[..]));
    assert_eq!(good, [1, 4]);
    assert!(bad.is_empty(), "{bad:?}");
    let (good, bad) = summary(Reader::new(Trickle(&log)));
    assert_eq!(good, [1, 4]);
    assert!(bad.is_empty(), "{bad:?}");
    let (good, bad) = summary(read_slice(&log));
    assert_eq!(good, [1, 4]);
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn damage_is_reported_by_line_and_reading_continues() {
    let mut log = Vec::new();
    log.extend_from_slice(b"{\"event_type\": \"base\"}\n"); // 1
    log.extend_from_slice(b"garbage\n"); // 2
    log.extend_from_slice(b"[1, 2]\n"); // 3
    log.extend_from_slice(b"{\"event_type\": \"tool_loop_block\", \"call_count\": \"x\"}\n"); // 4
    log.extend_from_slice(b"{\"event_type\": \"base\", \"agent_id\": \"\xff\"}\n"); // 5
    log.extend_from_slice(b"{\"event_type\": \"base\"}\n"); // 6
    let want_bad = [
        "line 2: not a JSON object at byte 0",
        "line 3: not a JSON object at byte 0",
        "line 4: field `call_count`: expected integer, found string",
        "line 5: invalid UTF-8 at byte 36",
    ];
    let (good, bad) = summary(Reader::new(&log[..]));
    assert_eq!(good, [1, 6]);
    assert_eq!(bad, want_bad);
    let (good, bad) = summary(read_slice(&log));
    assert_eq!(good, [1, 6]);
    assert_eq!(bad, want_bad);
}

/// Every item, in a form that can be compared.
fn items(r: impl IntoIterator<Item = Result<Record, LineError>>) -> Vec<Result<Record, String>> {
    r.into_iter()
        .map(|i| i.map_err(|e| e.to_string()))
        .collect()
}

#[test]
fn the_slice_reader_yields_what_the_stream_reader_does() {
    let mut log = b"\xEF\xBB\xBF".to_vec();
    log.extend_from_slice(FIXTURE);
    log.extend_from_slice(b"\r\n  \t\r\n\n"); // blank lines
    log.extend_from_slice(b"{\"event_type\": \"base\", \"metadata\": []}\r\n");
    log.extend_from_slice(&[b' '; 300]); // a blank line over a small limit
    log.extend_from_slice(b"\n{\"event_type\": \"turn_end\"}\n");
    log.extend_from_slice(b"{\"event_type\": \"tool_ca"); // torn
    for limit in [usize::MAX, 200, 1] {
        for strict in [false, true] {
            let stream = items(Reader::new(&log[..]).max_line(limit).strict(strict));
            let slice = items(read_slice(&log).max_line(limit).strict(strict));
            assert_eq!(slice, stream, "max_line {limit}, strict {strict}");
        }
    }
    let all = items(read_slice(&log));
    assert!(all.len() > 10);
    assert!(all.last().unwrap().as_ref().unwrap_err().contains("torn"));
}

#[test]
fn a_torn_last_line_is_reported_but_a_whole_one_is_kept() {
    let (good, bad) = summary(Reader::new(
        &b"{\"event_type\": \"base\"}\n{\"event_type\": \"ba"[..],
    ));
    assert_eq!(good, [1]);
    assert_eq!(
        bad,
        ["line 2: torn last line (no newline at the end of the input)"]
    );
    let (good, bad) = summary(Reader::new(
        &b"{\"event_type\": \"base\"}\n{\"event_type\": \"base\"}"[..],
    ));
    assert_eq!(good, [1, 2]);
    assert!(bad.is_empty());
    let (good, bad) = summary(read_slice(
        b"{\"event_type\": \"base\"}\n{\"event_type\": \"ba",
    ));
    assert_eq!(good, [1]);
    assert_eq!(
        bad,
        ["line 2: torn last line (no newline at the end of the input)"]
    );
}

#[test]
fn strict_mode_stops_at_the_first_error() {
    let log = b"{\"event_type\": \"base\"}\nbad\n{\"event_type\": \"base\"}\n";
    let (good, bad) = summary(Reader::new(&log[..]).strict(true));
    assert_eq!((good, bad.len()), (vec![1], 1));
    let (good, bad) = summary(read_slice(log).strict(true));
    assert_eq!((good, bad.len()), (vec![1], 1));
}

#[test]
fn a_line_of_100_mb_is_skipped_in_bounded_memory() {
    // Generated lazily: the reader never sees the line whole.
    struct Huge {
        left: usize,
        tail: &'static [u8],
    }
    impl Read for Huge {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.left > 0 {
                let n = out.len().min(self.left);
                out[..n].fill(b'x');
                if self.left == 100 << 20 {
                    out[0] = b'{';
                }
                self.left -= n;
                return Ok(n);
            }
            let n = out.len().min(self.tail.len());
            out[..n].copy_from_slice(&self.tail[..n]);
            self.tail = &self.tail[n..];
            Ok(n)
        }
    }
    let src = Huge {
        left: 100 << 20,
        tail: b"\n{\"event_type\": \"base\"}\n",
    };
    let mut reader = Reader::new(src).max_line(1 << 20);
    let first = reader.next().unwrap().unwrap_err();
    assert!(matches!(first.kind, LineErrorKind::TooLong { limit } if limit == 1 << 20));
    assert_eq!(first.line, 1);
    let second = reader.next().unwrap().unwrap();
    assert_eq!(second.line, 2);
    assert!(reader.next().is_none());
}

#[test]
fn deep_nesting_is_an_error_item() {
    let deep = format!(
        "{{\"event_type\": \"base\", \"metadata\": {{\"a\": {}{}}}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let log = format!("{deep}{{\"event_type\": \"base\"}}\n");
    let (good, bad) = summary(Reader::new(log.as_bytes()));
    assert_eq!(good, [2]);
    assert_eq!(bad.len(), 1);
    assert!(bad[0].contains("nesting too deep"), "{}", bad[0]);
}

#[test]
fn read_then_write_is_lossless_for_unknown_types_and_extra_keys() {
    let log = b"{\"event_type\": \"custom\", \"z\": 1, \"a\": [true, null]}\n\
                {\"event_type\": \"turn_start\", \"timestamp\": \"2026-01-01T00:00:00+00:00\", \"agent_id\": null, \"turn_id\": null, \"session_id\": null, \"severity\": \"info\", \"metadata\": {}, \"prompt_preview\": \"\", \"extra\": {\"k\": 1e+16}}\n";
    let mut out = Vec::new();
    for r in Reader::new(&log[..]) {
        json::write_event(&mut out, &r.unwrap().event, Format::Python);
    }
    assert_eq!(out, log);
}

#[test]
fn follow_sees_appends_and_survives_rotation() {
    use agent_audit::reader::{Follow, Start};
    use std::io::Write;
    use std::time::Duration;

    let dir = common::scratch_dir("follow");
    let path = dir.join("audit.jsonl");
    let line = numbered_line;
    std::fs::write(&path, line(0)).unwrap();

    let followed = Followed::start(
        Follow::open(&path, Start::Beginning)
            .unwrap()
            .poll(Duration::from_millis(5)),
    );
    let next_item = || followed.next_item();
    let next = || followed.next();
    assert_eq!(next(), agent_audit::Value::from(0i64));

    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    // A line written in two parts is reported once, whole.
    let l1 = line(1);
    f.write_all(&l1.as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    f.write_all(&l1.as_bytes()[10..]).unwrap();
    assert_eq!(next(), agent_audit::Value::from(1i64));

    // Rotation: the old file gets one more line after the move, then a new
    // file appears at the path.
    std::fs::rename(&path, dir.join("audit.jsonl.1")).unwrap();
    f.write_all(line(2).as_bytes()).unwrap();
    std::fs::write(&path, line(3)).unwrap();
    assert_eq!(next(), agent_audit::Value::from(2i64));
    assert_eq!(next(), agent_audit::Value::from(3i64));

    // A file rotated away with its last line unfinished: that line is
    // reported torn (it was dropped silently once), then the new file's.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&line(4).as_bytes()[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    std::fs::rename(&path, dir.join("audit.jsonl.2")).unwrap();
    std::fs::write(&path, line(5)).unwrap();
    let torn = next_item().expect_err("the unfinished line");
    assert!(matches!(torn.kind, LineErrorKind::Torn), "{torn}");
    assert_eq!(torn.line, 2);
    assert_eq!(next(), agent_audit::Value::from(5i64));
}

/// Found by fuzzing (fuzz/regressions/read_stream/bom-split-max-line-1):
/// a byte-order mark arriving a byte at a time was counted as part of an
/// overlong line.
#[test]
fn a_split_bom_is_not_part_of_a_line() {
    let log = b"\xEF\xBB\xBF\n\n\n\xEE";
    let got: Vec<String> = Reader::new(Trickle(log))
        .max_line(1)
        .map(|r| {
            r.map(|r| r.line.to_string())
                .unwrap_or_else(|e| e.to_string())
        })
        .collect();
    assert_eq!(
        got,
        ["line 4: torn last line (no newline at the end of the input)"]
    );
}

/// Following a file already open: if the path was rotated since it was
/// opened, the rest of that file comes first, then the new one.
#[test]
fn follow_with_an_open_file_reads_it_before_the_path_s_new_file() {
    use agent_audit::reader::{Follow, Start};
    use std::time::Duration;

    let dir = common::scratch_dir("follow-open");
    let path = dir.join("audit.jsonl");
    let line = numbered_line;
    std::fs::write(&path, line(0)).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let scanned = line(0).len() as u64;
    // Appended after the first pass, then rotated away before following.
    std::fs::write(&path, line(0) + &line(1)).unwrap();
    std::fs::rename(&path, dir.join("audit.jsonl.1")).unwrap();
    std::fs::write(&path, line(2)).unwrap();
    let start = Start::At {
        offset: scanned,
        line: 1,
    };
    let got: Vec<(u64, agent_audit::Value)> = Follow::with_file(&path, file, start)
        .unwrap()
        .poll(Duration::from_millis(5))
        .take(2)
        .map(|r| {
            let r = r.unwrap();
            (r.line, r.event.metadata["i"].clone())
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, agent_audit::Value::from(1i64)),
            (1, agent_audit::Value::from(2i64))
        ]
    );
}

/// `Follow` treats a file as `Lines` does: a byte-order mark opening it is
/// not part of the first line, and a line of spaces, tabs and carriage
/// returns is blank.
#[test]
fn follow_skips_a_bom_and_blank_lines_as_lines_does() {
    use agent_audit::reader::{Follow, Start};

    let path = std::env::temp_dir().join(format!("agent-audit-follow-bom-{}", std::process::id()));
    std::fs::write(
        &path,
        "\u{feff}{\"event_type\": \"base\"}\n \r \r\n{\"event_type\": \"error\"}\n",
    )
    .unwrap();
    let got: Vec<(u64, String)> = Follow::open(&path, Start::Beginning)
        .unwrap()
        .take(2)
        .map(|r| {
            let r = r.unwrap();
            (r.line, r.event.event_type().to_string())
        })
        .collect();
    assert_eq!(got, [(1, "base".to_string()), (3, "error".to_string())]);
    // A mark that arrives in two writes, the follower reading in between.
    std::fs::write(&path, b"\xEF").unwrap();
    let mut follow = Follow::open(&path, Start::Beginning)
        .unwrap()
        .poll(std::time::Duration::from_millis(5));
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            std::thread::sleep(std::time::Duration::from_millis(50));
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            f.write_all(b"\xBB\xBF{\"event_type\": \"base\"}\n")
                .unwrap();
        })
    };
    let first = follow.next().unwrap().unwrap();
    writer.join().unwrap();
    assert_eq!((first.line, first.event.event_type()), (1, "base"));
    std::fs::remove_file(&path).unwrap();
}

/// Rotations `Follow` must not lose lines across: the writer appending to
/// the moved file until it reopens (logrotate's move, then signal), and two
/// rotations of the sink's numbered scheme between two polls.
#[test]
fn follow_keeps_up_with_late_writes_and_quick_rotations() {
    use agent_audit::reader::{Follow, Start};
    use std::io::Write;
    use std::time::Duration;

    let dir = common::scratch_dir("follow-rot");
    let path = dir.join("audit.jsonl");
    let sibling = |n: u32| dir.join(format!("audit.jsonl.{n}"));
    let line = numbered_line;
    std::fs::write(&path, line(0)).unwrap();
    let followed = Followed::start(
        Follow::open(&path, Start::Beginning)
            .unwrap()
            .poll(Duration::from_millis(20)),
    );
    let next = || match followed.next() {
        agent_audit::Value::Number(n) => n.as_i64().unwrap_or(-1),
        _ => -1,
    };
    assert_eq!(next(), 0);

    // logrotate: moved, an empty file created at the path, and only then
    // the writer's last line to the old one, before it reopens and writes
    // to the new file: read in that order.
    let mut old = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::fs::rename(&path, sibling(1)).unwrap();
    std::fs::write(&path, "").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    old.write_all(line(1).as_bytes()).unwrap();
    drop(old);
    assert_eq!(next(), 1);
    std::fs::write(&path, line(2)).unwrap();
    assert_eq!(next(), 2);

    // Two rotations as the sink makes them (shift, then move), quicker
    // than a poll: the file in between is read too. Then rotations faster
    // than the grace period, with one file kept: none is skipped.
    std::thread::sleep(Duration::from_millis(50));
    std::fs::rename(sibling(1), sibling(2)).unwrap();
    std::fs::rename(&path, sibling(1)).unwrap();
    std::fs::write(&path, line(3)).unwrap();
    std::fs::rename(sibling(2), sibling(3)).unwrap();
    std::fs::rename(sibling(1), sibling(2)).unwrap();
    std::fs::rename(&path, sibling(1)).unwrap();
    std::fs::write(&path, line(4)).unwrap();
    assert_eq!(next(), 3);
    assert_eq!(next(), 4);
    for i in 5..10 {
        std::thread::sleep(Duration::from_millis(300));
        let _ = std::fs::remove_file(sibling(1));
        std::fs::rename(&path, sibling(1)).unwrap();
        std::fs::write(&path, line(i)).unwrap();
    }
    for i in 5..10 {
        assert_eq!(next(), i);
    }
    // And two such rotations quicker than a poll: the file followed is no
    // longer among the numbered ones, yet the one after it is read.
    std::thread::sleep(Duration::from_millis(100));
    for i in 10..12 {
        let _ = std::fs::remove_file(sibling(1));
        std::fs::rename(&path, sibling(1)).unwrap();
        std::fs::write(&path, line(i)).unwrap();
    }
    assert_eq!(next(), 10);
    assert_eq!(next(), 11);
}

/// An I/O error ends `Follow`: it is returned once, then the iterator is
/// done (it used to return the same error again at once, forever).
#[test]
fn follow_ends_after_an_io_error() {
    use agent_audit::reader::{Follow, Start};
    // Reading this process's memory at address 0 fails with EIO.
    let Ok(mut follow) = Follow::open("/proc/self/mem", Start::Beginning) else {
        return; // no /proc here
    };
    let err = follow.next().expect("an item").expect_err("a read error");
    assert!(matches!(err.kind, LineErrorKind::Io(_)), "{err}");
    assert!(follow.next().is_none());
}

/// Following from the end, or from an offset, when the writer is midway
/// through a line: that line is read whole once finished, not as a
/// fragment; one begun more than `max_line` bytes back is reported as too
/// long, once, and the lines after it are numbered on from it.
#[test]
fn follow_started_inside_a_line_reads_that_line_whole() {
    use agent_audit::reader::{Follow, Start};

    let path = std::env::temp_dir().join(format!("agent-audit-follow-mid-{}", std::process::id()));
    let line = |t: &str| format!("{{\"event_type\": \"{t}\"}}\n");
    let first = line("base");
    let second = line("error");
    let cut = 10;
    let types = |follow: Follow, n: usize| -> Vec<String> {
        follow
            .take(n)
            .map(|r| match r {
                Ok(r) => format!("{} {}", r.line, r.event.event_type()),
                Err(e) => e.to_string(),
            })
            .collect()
    };
    let starts = [
        (Start::End, ["1 error", "2 turn_start"]),
        (
            Start::At {
                offset: (first.len() + cut) as u64,
                line: 1,
            },
            ["2 error", "3 turn_start"],
        ),
    ];
    for (start, want) in starts {
        std::fs::write(&path, first.clone() + &second[..cut]).unwrap();
        let follow = Follow::open(&path, start).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(
            &mut f,
            (second[cut..].to_string() + &line("turn_start")).as_bytes(),
        )
        .unwrap();
        assert_eq!(types(follow, 2), want, "{start:?}");
    }

    // The file's first line, after a byte-order mark, unfinished.
    std::fs::write(&path, "\u{feff}".to_string() + &second[..cut]).unwrap();
    let follow = Follow::open(&path, Start::End).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, &second.as_bytes()[cut..]).unwrap();
    assert_eq!(types(follow, 1), ["1 error"]);

    // Begun more than max_line bytes before the end.
    std::fs::write(&path, first.clone() + &"x".repeat(40)).unwrap();
    let follow = Follow::open(&path, Start::End).unwrap().max_line(30);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, format!("xx\n{}", line("error")).as_bytes()).unwrap();
    assert_eq!(
        types(follow, 2),
        ["line 1: longer than 30 bytes, skipped", "2 error"]
    );
    std::fs::remove_file(&path).unwrap();
}

/// A FIFO where `Follow` looks for the files after a rotation (the path,
/// or a numbered sibling) is not a log: it is passed over or waited out,
/// never opened in a way that blocks until someone writes to it.
#[test]
fn follow_is_not_blocked_by_a_fifo_at_the_path_or_a_sibling() {
    use agent_audit::reader::{Follow, Start};
    use std::time::Duration;

    let dir = common::scratch_dir("follow-fifo");
    let path = dir.join("audit.jsonl");
    let mkfifo = |p: &std::path::Path| {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    };
    let line = numbered_line;
    std::fs::write(&path, line(0)).unwrap();
    let followed = Followed::start(
        Follow::open(&path, Start::Beginning)
            .unwrap()
            .poll(Duration::from_millis(5)),
    );
    let next = || followed.next();
    assert_eq!(next(), agent_audit::Value::from(0i64));

    // Rotated away, with a FIFO at the path for a while, and a writer
    // waiting to open it: not let through into a pipe nobody reads.
    std::fs::rename(&path, dir.join("audit.jsonl.1")).unwrap();
    mkfifo(&path);
    let fifo_writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            f.write_all(b"lost?\n")
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    // Read only after polls that found the FIFO at the path.
    let mut moved = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("audit.jsonl.1"))
        .unwrap();
    std::io::Write::write_all(&mut moved, line(10).as_bytes()).unwrap();
    assert_eq!(next(), agent_audit::Value::from(10i64));
    std::thread::sleep(Duration::from_millis(50));
    assert!(!fifo_writer.is_finished(), "the FIFO was opened");
    // Let the writer go: open the read end ourselves.
    let reader = std::fs::File::open(&path).unwrap();
    fifo_writer.join().unwrap().unwrap();
    drop(reader);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, line(1)).unwrap();
    assert_eq!(next(), agent_audit::Value::from(1i64));

    // Rotated again, to a sibling found past a FIFO among the siblings.
    std::fs::rename(dir.join("audit.jsonl.1"), dir.join("audit.jsonl.3")).unwrap();
    mkfifo(&dir.join("audit.jsonl.1"));
    std::fs::rename(&path, dir.join("audit.jsonl.2")).unwrap();
    std::fs::write(&path, line(2)).unwrap();
    assert_eq!(next(), agent_audit::Value::from(2i64));
}

/// `max_line` holds for every line, however the reads split it, and a
/// byte-order mark opening the file is not counted; a limit of
/// `usize::MAX` is no limit, from any start.
#[test]
fn follow_max_line_holds_for_every_line() {
    use agent_audit::reader::{Follow, Start};

    let path = std::env::temp_dir().join(format!("agent-audit-follow-max-{}", std::process::id()));
    let line = |t: &str| format!("{{\"event_type\": \"{t}\"}}\n");
    let long = format!(
        "{{\"event_type\": \"base\", \"metadata\": {{\"x\": \"{}\"}}}}\n",
        "x".repeat(100)
    );
    std::fs::write(
        &path,
        "\u{feff}".to_string() + &line("error") + &long + &line("base"),
    )
    .unwrap();
    let read = |follow: Follow, n: usize| -> Vec<String> {
        follow
            .take(n)
            .map(|r| match r {
                Ok(r) => format!("{} {}", r.line, r.event.event_type()),
                Err(e) => e.to_string(),
            })
            .collect()
    };
    // The first line is exactly the limit once its mark is left out.
    let limit = line("error").len() - 1;
    let follow = Follow::open(&path, Start::Beginning)
        .unwrap()
        .max_line(limit);
    assert_eq!(
        read(follow, 3),
        [
            "1 error".to_string(),
            format!("line 2: longer than {limit} bytes, skipped"),
            "3 base".to_string()
        ]
    );
    let start = Start::At {
        offset: (3 + line("error").len()) as u64,
        line: 1,
    };
    let follow = Follow::open(&path, start).unwrap().max_line(usize::MAX);
    assert_eq!(read(follow, 2), ["2 base", "3 base"]);
    std::fs::remove_file(&path).unwrap();
}
