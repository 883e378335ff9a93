//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agent_audit::json::LineParser;
use agent_audit::{Emitter, Event, Kind};

/// A fresh directory for one test, on tmpfs when there is one; removed
/// with everything in it when the value is dropped.
pub fn scratch_dir(name: &str) -> Scratch {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("agent-audit-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// See [`scratch_dir`].
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Event `i` of producer `p`.
pub fn numbered(p: i64, i: i64) -> Event {
    Event::default().meta("p", p).meta("i", i)
}

/// Event `i` of producer `p` as the emitter builds it, by reference: a
/// `turn_end` from agent `p{p}` with `i` calls. `agent` is `p{p}`.
pub fn emit_numbered(e: &Emitter, agent: &str, i: i64) {
    e.turn_end("numbered", i, Some(agent), None);
}

/// The producer and index of an event made by [`numbered`] or
/// [`emit_numbered`].
pub fn numbers_of(ev: &Event) -> (i64, i64) {
    match &ev.kind {
        Kind::TurnEnd(t) => {
            let agent = ev.agent_id.as_deref().unwrap();
            (agent[1..].parse().unwrap(), t.function_calls_count)
        }
        _ => (meta_i64(ev, "p"), meta_i64(ev, "i")),
    }
}

pub fn meta_i64(ev: &Event, key: &str) -> i64 {
    ev.metadata[key]
        .as_number()
        .and_then(|n| n.as_i64())
        .unwrap()
}

/// Reads files in order; returns each producer's indices in file order
/// (events from [`numbered`] or [`emit_numbered`]).
/// Every line must be a whole, valid event.
pub fn read_numbered(files: &[PathBuf]) -> BTreeMap<i64, Vec<i64>> {
    let mut parser = LineParser::new();
    let mut out: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for f in files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (n, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
            assert_eq!(
                line.last(),
                Some(&b'\n'),
                "{}: line {} is torn",
                f.display(),
                n + 1
            );
            let ev = parser
                .parse(&line[..line.len() - 1])
                .unwrap_or_else(|e| panic!("{}: line {}: {e}", f.display(), n + 1));
            let (p, i) = numbers_of(&ev);
            out.entry(p).or_default().push(i);
        }
    }
    out
}

/// `got` is exactly `0..n`; on failure, says where it first differs.
pub fn assert_sequence(got: &[i64], n: i64, what: &str) {
    if let Some(at) = got.iter().enumerate().position(|(k, &v)| v != k as i64) {
        panic!(
            "{what}: position {at} holds {} (expected {at}); {} events",
            got[at],
            got.len()
        );
    }
    assert_eq!(
        got.len() as i64,
        n,
        "{what}: {} events, expected {n}",
        got.len()
    );
}

/// A writer into a shared buffer, for sinks whose output a test reads.
pub struct SharedBuf(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The next number of a xorshift64 sequence (seed `x` must not be 0):
/// cheap, repeatable randomness for choosing sizes and moments in tests.
pub fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}
