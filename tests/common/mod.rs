//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agent_audit::json::LineParser;
use agent_audit::Event;

/// A fresh directory for one test, on tmpfs when there is one.
pub fn scratch_dir(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("agent-audit-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Event `i` of producer `p`.
pub fn numbered(p: i64, i: i64) -> Event {
    Event::default().meta("p", p).meta("i", i)
}

pub fn meta_i64(ev: &Event, key: &str) -> i64 {
    ev.metadata[key]
        .as_number()
        .and_then(|n| n.as_i64())
        .unwrap()
}

/// Reads files in order; returns each producer's indices in file order.
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
            out.entry(meta_i64(&ev, "p"))
                .or_default()
                .push(meta_i64(&ev, "i"));
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
