//! A process killed with SIGKILL mid-stream leaves a log whose lines are
//! all whole events (but possibly a torn last one), and everything emitted
//! well before the kill (more than the flush interval) is in it; a sink
//! opened on that log afterwards starts on a line of its own.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_audit::json::LineParser;
use agent_audit::sink::JsonlSink;

const CHILD: &str = "AGENT_AUDIT_CRASH_CHILD";

/// The child: emits numbered events as fast as it can and reports its
/// progress on stdout after every 1000.
fn child(path: &str) -> ! {
    let sink = JsonlSink::builder()
        .flush_interval(Duration::from_millis(2))
        .open(path)
        .unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        sink.emit(common::numbered(0, i));
        if i % 1000 == 999 {
            writeln!(out, "{i}").unwrap();
            out.flush().unwrap();
        }
    }
    unreachable!()
}

#[test]
fn sigkill_mid_stream_leaves_whole_lines_and_recent_events() {
    if let Ok(path) = std::env::var(CHILD) {
        child(&path);
    }
    let dir = common::scratch_dir("sigkill");
    let path = dir.join("audit.jsonl");
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigkill_mid_stream_leaves_whole_lines_and_recent_events",
            "--nocapture",
        ])
        .env(CHILD, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    let mut reported = -1i64;
    let start = Instant::now();
    // Let it run a while, then note how far it had got.
    while start.elapsed() < Duration::from_millis(300) {
        match lines.next() {
            Some(Ok(l)) => {
                if let Ok(i) = l.trim().parse() {
                    reported = i;
                }
            }
            _ => break,
        }
    }
    assert!(reported > 0, "the child never reported progress");
    // Everything up to `reported` was emitted at least this long before the kill.
    std::thread::sleep(Duration::from_millis(100));
    proc.kill().unwrap();
    proc.wait().unwrap();

    let data = std::fs::read(&path).unwrap();
    let mut parser = LineParser::new();
    let mut next = 0i64;
    let mut parts = data.split_inclusive(|&b| b == b'\n').peekable();
    while let Some(line) = parts.next() {
        let last = parts.peek().is_none();
        if line.last() != Some(&b'\n') {
            assert!(last, "a torn line before the end, at event {next}");
            break;
        }
        let ev = parser.parse(&line[..line.len() - 1]).unwrap();
        assert_eq!(common::meta_i64(&ev, "i"), next, "lost or reordered");
        next += 1;
    }
    assert!(
        next > reported,
        "events up to {reported} were emitted 100 ms before the kill, the file ends at {next}"
    );

    // The agent, restarted, appends to the same log: its first event is a
    // line of its own, not glued to a torn last line (one is made if the
    // kill happened to fall between two lines).
    if data.last() == Some(&b'\n') {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(b"{\"event_type\":\"tool_ca").unwrap();
    }
    let sink = JsonlSink::open(&path).unwrap();
    sink.emit(common::numbered(1, 0));
    sink.close().unwrap();
    let data = std::fs::read(&path).unwrap();
    let last = data[..data.len() - 1]
        .rsplit(|&b| b == b'\n')
        .next()
        .unwrap();
    let ev = parser
        .parse(last)
        .expect("the restarted agent's event is whole");
    assert_eq!(common::numbers_of(&ev), (1, 0));
}
