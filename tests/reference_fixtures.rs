//! The committed fixture was written by the Python reference itself
//! (`tests/fixtures/make_fixtures.py`). These tests hold the port to it.

use std::process::{Command, Stdio};

use agent_audit::json::{self, Format, LineParser};

const FIXTURE: &str = include_str!("fixtures/reference_python.jsonl");

fn lines() -> impl Iterator<Item = (usize, &'static str)> {
    FIXTURE.lines().enumerate().map(|(i, l)| (i + 1, l))
}

#[test]
fn fixture_covers_every_event_type() {
    let mut parser = LineParser::new();
    let mut seen = std::collections::BTreeSet::new();
    for (_, line) in lines() {
        seen.insert(
            parser
                .parse(line.as_bytes())
                .unwrap()
                .event_type()
                .to_string(),
        );
    }
    for tag in agent_audit::event::EVENT_TYPES {
        assert!(seen.contains(*tag), "fixture lacks {tag}");
    }
    assert!(lines().count() >= 200);
}

#[test]
fn every_reference_line_parses() {
    let mut parser = LineParser::new();
    for (n, line) in lines() {
        if let Err(e) = parser.parse(line.as_bytes()) {
            panic!("line {n}: {e}\n{line}");
        }
    }
}

#[test]
fn python_format_reproduces_the_reference_byte_for_byte() {
    let mut parser = LineParser::new();
    let mut out = Vec::new();
    for (n, line) in lines() {
        let ev = parser.parse(line.as_bytes()).unwrap();
        out.clear();
        json::write_event(&mut out, &ev, Format::Python);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            format!("{line}\n"),
            "line {n} differs"
        );
    }
}

#[test]
fn compact_format_reads_back_to_the_same_event() {
    let mut parser = LineParser::new();
    for (n, line) in lines() {
        let ev = parser.parse(line.as_bytes()).unwrap();
        let compact = json::to_line(&ev, Format::Compact);
        let back = parser.parse(compact.trim_end().as_bytes()).unwrap();
        if has_non_finite(line) {
            // NaN and infinities become null in compact: the line still
            // reads back, but not to the same value.
            continue;
        }
        assert_eq!(back, ev, "line {n}");
    }
}

fn has_non_finite(line: &str) -> bool {
    line.contains("NaN") || line.contains("Infinity")
}

/// Python's own `json.loads` of our compact output equals its reading of
/// the reference line (non-finite floats, which compact writes as `null`,
/// compared as `None`). Skipped with a note when python3 is absent.
#[test]
fn python_reads_compact_output_as_the_reference_dicts() {
    let Ok(mut child) = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import json, math, sys
def norm(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, float):
        return ("float", v.hex())
    if isinstance(v, dict):
        return [(k, norm(x)) for k, x in v.items()]
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v
bad = 0
data = sys.stdin.read().split("\n")
half = len(data) // 2
for i, (ref, ours) in enumerate(zip(data[:half], data[half:2 * half]), 1):
    if norm(json.loads(ref)) != norm(json.loads(ours)):
        print(f"line {i} differs:\n{ref}\n{ours}")
        bad += 1
print(f"compared {half}")
sys.exit(1 if bad else 0)
"#,
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!("python3 not found: skipping the cross-check with json.loads");
        return;
    };
    let mut parser = LineParser::new();
    let mut input = String::new();
    let mut ours = String::new();
    for (_, line) in lines() {
        input.push_str(line);
        input.push('\n');
        ours.push_str(&json::to_line(
            &parser.parse(line.as_bytes()).unwrap(),
            Format::Compact,
        ));
    }
    input.push_str(&ours);
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("compared {}", lines().count())),
        "{stdout}"
    );
}
