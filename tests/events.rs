//! The event model against the reference's own test suite: defaults,
//! severities, JSON round trips, special characters, nested metadata,
//! unknown types and extra keys.

use agent_audit::event::*;
use agent_audit::json::{self, Format, ParseError};
use agent_audit::{Map, Number, Severity, Timestamp, Value};

fn both_formats() -> [Format; 2] {
    [Format::Compact, Format::Python]
}

#[test]
fn every_type_has_the_reference_defaults() {
    let at = Timestamp::from_unix_micros(0);
    let expect = [
        ("base", r#""severity": "info", "metadata": {}}"#),
        ("turn_start", r#""metadata": {}, "prompt_preview": ""}"#),
        (
            "turn_end",
            r#""content_preview": "", "function_calls_count": 0}"#,
        ),
        (
            "tool_call_attempt",
            r#""tool_name": "", "arguments_preview": ""}"#,
        ),
        (
            "tool_call_complete",
            r#""tool_name": "", "status": "success", "duration_ms": 0.0, "result_preview": ""}"#,
        ),
        (
            "tool_call_failure",
            r#""severity": "error", "metadata": {}, "tool_name": "", "error_type": "", "error_message": ""}"#,
        ),
        (
            "tool_policy_decision",
            r#""tool_name": "", "action": "", "policy_source": ""}"#,
        ),
        (
            "sandbox_decision",
            r#""tool_name": "", "context": "", "reason": "", "backend_type": ""}"#,
        ),
        (
            "tool_loop_warning",
            r#""severity": "warning", "metadata": {}, "tool_name": "", "pattern": "", "severity_level": "", "call_count": 0}"#,
        ),
        (
            "tool_loop_block",
            r#""severity": "error", "metadata": {}, "tool_name": "", "pattern": "", "call_count": 0}"#,
        ),
        (
            "hook_mutation",
            r#""hook_name": "", "tool_name": "", "mutated_field": ""}"#,
        ),
        (
            "error",
            r#""severity": "error", "metadata": {}, "error_type": "", "error_message": "", "error_context": ""}"#,
        ),
        (
            "skill_used",
            r#""skill_name": "", "version": "", "outcome": "unknown", "duration_ms": 0.0, "triggered_automatically": true}"#,
        ),
        (
            "skill_authored",
            r#""skill_name": "", "version": "", "source_path": "", "tool_count": 0, "unique_tools": [], "confirmed_by_user": false}"#,
        ),
        (
            "skill_feedback",
            r#""skill_name": "", "rating": "neutral", "reason": "", "source": "user"}"#,
        ),
        (
            "agent_switch",
            r#""from_agent": "", "to_agent": "", "reason": ""}"#,
        ),
    ];
    assert_eq!(expect.len(), EVENT_TYPES.len());
    for (tag, tail) in expect {
        let ev = Event::new(Kind::with_defaults(tag)).at(at.clone());
        let line = json::to_line(&ev, Format::Python);
        let head = format!(
            "{{\"event_type\": \"{tag}\", \"timestamp\": \"1970-01-01T00:00:00+00:00\", \
             \"agent_id\": null, \"turn_id\": null, \"session_id\": null, \"severity\": "
        );
        assert!(line.starts_with(&head), "{line}");
        assert!(line.ends_with(&format!("{tail}\n")), "{line}");
    }
}

#[test]
fn an_overridden_severity_stays_in_the_envelope_position() {
    let ev = Event::new(ToolLoopWarning::default()).with_severity("critical");
    let line = json::to_line(&ev, Format::Compact);
    let sev = line.find("\"severity\":\"critical\"").unwrap();
    assert!(sev < line.find("\"metadata\"").unwrap());
    assert!(sev < line.find("\"tool_name\"").unwrap());
    assert_eq!(
        json::parse_line(line.trim_end().as_bytes())
            .unwrap()
            .severity,
        Severity::Other("critical".into())
    );
}

#[test]
fn round_trips_in_both_formats() {
    let ev = Event::new(ToolCallComplete {
        tool_name: "web_search".into(),
        status: "success".into(),
        duration_ms: Number::Float(142.5),
        result_preview: "Found 10 results".into(),
    })
    .agent("agent-1")
    .turn("abc123")
    .session("s")
    .meta("attempt", 2i64);
    for f in both_formats() {
        let line = json::to_line(&ev, f);
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        assert_eq!(
            json::parse_line(line.trim_end().as_bytes()).unwrap(),
            ev,
            "{f:?}"
        );
    }
}

/// A float field written as `null` (what Python writes for `None`, and
/// compact for a non-finite float) reads as NaN and is written back as
/// `null` in both formats, not as `NaN`; a real NaN stays `NaN` in python.
#[test]
fn a_null_float_field_stays_null() {
    let line = |d: &str| {
        format!(
            "{{\"event_type\": \"tool_call_complete\", \"timestamp\": \"2026-01-01T00:00:00+00:00\", \
             \"agent_id\": null, \"turn_id\": null, \"session_id\": null, \"severity\": \"info\", \
             \"metadata\": {{}}, \"tool_name\": \"t\", \"status\": \"success\", \"duration_ms\": {d}, \
             \"result_preview\": \"\"}}"
        )
    };
    for (written, python) in [("null", "null"), ("NaN", "NaN")] {
        let ev = json::parse_line(line(written).as_bytes()).unwrap();
        let Kind::ToolCallComplete(t) = &ev.kind else {
            panic!("{ev:?}")
        };
        assert!(matches!(t.duration_ms, Number::Float(f) if f.is_nan()));
        assert_eq!(json::to_line(&ev, Format::Python).trim_end(), line(python));
        assert!(json::to_line(&ev, Format::Compact).contains("\"duration_ms\":null,"));
    }
}

/// An envelope key a log line lacked is not written back, until the
/// field is given a value: by a builder, by assigning the public field, or
/// by an emitter stamping its session.
#[test]
fn envelope_fields_set_after_reading_are_written() {
    let read = || json::parse_line(br#"{"event_type": "base"}"#).unwrap();
    assert_eq!(
        json::to_line(&read(), Format::Compact),
        "{\"event_type\":\"base\"}\n"
    );
    let ts = Timestamp::parse("2026-01-01T00:00:00+00:00");
    let built = read()
        .at(ts)
        .agent("a")
        .turn("t")
        .with_severity(Severity::Error)
        .meta("k", 1i64);
    // Set by a builder to what its absence reads as: written all the same.
    let defaults = read()
        .with_severity(Severity::Info)
        .at(Timestamp::from_unix_micros(0));
    assert_eq!(
        json::to_line(&defaults, Format::Compact),
        "{\"event_type\":\"base\",\"timestamp\":\"1970-01-01T00:00:00+00:00\",\"severity\":\"info\"}\n"
    );
    let mut assigned = read();
    assigned.session_id = Some("s".into());
    let want = "{\"event_type\": \"base\", \"timestamp\": \"2026-01-01T00:00:00+00:00\", \
                \"agent_id\": \"a\", \"turn_id\": \"t\", \"severity\": \"error\", \"metadata\": {\"k\": 1}}\n";
    assert_eq!(json::to_line(&built, Format::Python), want);
    assert_eq!(
        json::to_line(&assigned, Format::Compact),
        "{\"event_type\":\"base\",\"session_id\":\"s\"}\n"
    );

    let memory = std::sync::Arc::new(agent_audit::MemoryCollector::new());
    let emitter = agent_audit::Emitter::with_collector(memory.clone()).with_session("sess-42");
    emitter.emit(read());
    let stamped = memory.snapshot().get(0).unwrap().clone();
    assert!(json::to_line(&stamped, Format::Compact).contains("\"session_id\":\"sess-42\""));
}

#[test]
fn special_characters_survive() {
    let nasty = "quote \" backslash \\ slash / nl \n cr \r tab \t bs \u{8} ff \u{c} nul \0 \
                 del \u{7f} é ü 中文 عربي 😀 𝄞 \u{2028}";
    let ev = Event::new(ErrorEvent::default_with(nasty));
    for f in both_formats() {
        let line = json::to_line(&ev, f);
        let back = json::parse_line(line.trim_end().as_bytes()).unwrap();
        assert_eq!(back, ev, "{f:?}: {line}");
    }
    let py = json::to_line(&ev, Format::Python);
    assert!(py.is_ascii());
    assert!(py.contains(r#""quote \" backslash \\ slash / nl \n cr \r tab \t bs \b ff \f nul \u0000 del \u007f \u00e9"#));
    assert!(py.contains(r"\ud83d\ude00 \ud834\udd1e \u2028"));
    let compact = json::to_line(&ev, Format::Compact);
    assert!(compact.contains("é ü 中文 عربي 😀 𝄞"));
    assert!(compact.contains(r"nul \u0000 del "));
}

trait DefaultWith {
    fn default_with(msg: &str) -> Self;
}

type ErrorEvent = agent_audit::event::Error;

impl DefaultWith for ErrorEvent {
    fn default_with(msg: &str) -> Self {
        ErrorEvent {
            error_message: msg.into(),
            ..Default::default()
        }
    }
}

#[test]
fn nested_metadata_keeps_order_and_types() {
    let line = r#"{"event_type": "base", "timestamp": "2026-01-01T00:00:00+00:00", "agent_id": null, "turn_id": null, "session_id": null, "severity": "info", "metadata": {"z": 1, "a": {"nested": [1, 2.0, {"deep": true}], "none": null}, "big": 1267650600228229401496703205376, "neg": -0.0, "f": 1e+16}}"#;
    let ev = json::parse_line(line.as_bytes()).unwrap();
    let keys: Vec<&str> = ev.metadata.keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["z", "a", "big", "neg", "f"]);
    assert_eq!(
        ev.metadata["big"],
        Value::Number(Number::Big(
            agent_audit::value::BigInt::parse("1267650600228229401496703205376").unwrap()
        ))
    );
    assert_eq!(json::to_line(&ev, Format::Python), format!("{line}\n"));
    assert!(json::to_line(&ev, Format::Compact).contains(r#""neg":-0.0,"f":1e16}"#));
}

#[test]
fn duplicate_keys_last_wins_in_first_position() {
    let line = br#"{"event_type": "turn_start", "prompt_preview": "a", "metadata": {"k": 1, "j": 2, "k": 3}, "prompt_preview": "b"}"#;
    let ev = json::parse_line(line).unwrap();
    let Kind::TurnStart(t) = &ev.kind else {
        panic!()
    };
    assert_eq!(t.prompt_preview, "b");
    let meta: Vec<(&str, &Value)> = ev.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(meta, [("k", &Value::from(3i64)), ("j", &Value::from(2i64))]);
}

#[test]
fn unknown_types_and_extra_keys_are_kept_whole() {
    let lines = [
        r#"{"event_type": "custom_thing", "payload": {"x": [1, 2]}, "score": 0.5}"#,
        r#"{"event_type": "tool_call_attempt", "timestamp": "2026-01-01T00:00:00+00:00", "agent_id": "a", "turn_id": null, "session_id": null, "severity": "info", "metadata": {}, "tool_name": "t", "arguments_preview": "", "trace_id": "0af7651916cd43dd8448eb211c80319c", "span": 7}"#,
        r#"{"event_type": "x", "timestamp": "last tuesday", "severity": "loud"}"#,
    ];
    for line in lines {
        let ev = json::parse_line(line.as_bytes()).unwrap();
        assert_eq!(json::to_line(&ev, Format::Python), format!("{line}\n"));
        let compact = json::to_line(&ev, Format::Compact);
        assert_eq!(json::parse_line(compact.trim_end().as_bytes()).unwrap(), ev);
    }
    let ev = json::parse_line(lines[0].as_bytes()).unwrap();
    assert_eq!(ev.event_type(), "custom_thing");
    assert_eq!(ev.kind, Kind::Other("custom_thing".into()));
    assert_eq!(ev.extra["score"], Value::from(0.5));
}

#[test]
fn wrong_types_name_the_field() {
    let cases: [(&str, &str); 5] = [
        (
            r#"{"event_type": "tool_loop_block", "call_count": "3"}"#,
            "field `call_count`: expected integer, found string",
        ),
        (
            r#"{"event_type": "base", "agent_id": 7}"#,
            "field `agent_id`: expected string or null, found integer",
        ),
        (
            r#"{"event_type": "base", "metadata": []}"#,
            "field `metadata`: expected object, found array",
        ),
        (
            r#"{"event_type": 3}"#,
            "field `event_type`: expected string, found integer",
        ),
        (r#"{"tool_name": "x"}"#, "missing field `event_type`"),
    ];
    for (line, want) in cases {
        let err: ParseError = json::parse_line(line.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), want);
    }
    let e = json::parse_line(br#"{"event_type": "skill_authored", "unique_tools": ["a", 1]}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "field `unique_tools`: item 1: expected string, found integer"
    );
}

#[test]
fn builders_read_well_and_cannot_contradict_the_type() {
    let mut meta = Map::new();
    meta.insert("k".into(), Value::from("v"));
    let ev = Event::new(SkillAuthored {
        skill_name: "summarise".into(),
        unique_tools: vec!["read".into(), "write".into()],
        ..Default::default()
    })
    .agent("a")
    .meta("k", "v");
    assert_eq!(ev.event_type(), SkillAuthored::EVENT_TYPE);
    assert_eq!(ev.metadata, meta);
    assert_eq!(SkillAuthored::FIELDS[4], "unique_tools");
    assert_eq!(ToolCallFailure::DEFAULT_SEVERITY, Severity::Error);
}

#[test]
fn serde_gives_the_schema_shape() {
    let ev = Event::new(TurnEnd {
        content_preview: "done".into(),
        function_calls_count: 3,
    })
    .agent("a");
    let via_serde = serde_json::to_string(&ev).unwrap();
    assert_eq!(
        format!("{via_serde}\n"),
        json::to_line(&ev, Format::Compact)
    );
    let back: Event = serde_json::from_str(&via_serde).unwrap();
    assert_eq!(back, ev);
    let kind: TurnEnd = serde_json::from_str(r#"{"function_calls_count": 2}"#).unwrap();
    assert_eq!(kind.function_calls_count, 2);
}

/// Found by fuzzing (fuzz/regressions/round_trip/big-integer-leading-zero):
/// a big integer built from text with leading zeros was written as is,
/// which is not JSON. Such text is now normalised, and `BigInt` holds only
/// canonical text.
#[test]
fn big_integers_are_always_written_as_valid_json() {
    let n = Number::from_integer_text("-000123456789012345678901234").unwrap();
    let ev = Event::default().meta("n", n.clone());
    for f in both_formats() {
        let line = json::to_line(&ev, f);
        assert!(line.contains("-123456789012345678901234"), "{line}");
        assert_eq!(
            json::parse_line(line.trim_end().as_bytes())
                .unwrap()
                .metadata["n"],
            Value::Number(n.clone())
        );
    }
    assert!(agent_audit::BigInt::parse("00").is_none());
}

/// From fuzzing (fuzz/regressions/parse_line/integer-beyond-f64): an
/// integer too large even for an `f64` is valid JSON (Python reads and
/// writes it); it is kept digit for digit through reading and writing.
#[test]
fn integers_beyond_f64_survive_reading_and_writing() {
    let digits = format!("1844674{}", "7".repeat(318));
    assert!(digits.parse::<f64>().unwrap().is_infinite());
    let line =
        format!(r#"{{"event_type": "base", "metadata": {{"u": {digits}, "v": -{digits}}}}}"#);
    let ev = json::parse_line(line.as_bytes()).unwrap();
    for f in both_formats() {
        let out = json::to_line(&ev, f);
        assert!(
            out.contains(&format!(":{digits},")) || out.contains(&format!(": {digits},")),
            "{out}"
        );
        assert!(out.contains(&format!("-{digits}}}")), "{out}");
        assert_eq!(json::parse_line(out.trim_end().as_bytes()).unwrap(), ev);
    }
}

/// A key given twice counts with its last value, as Python's `json` reads
/// it, on the fast path and the fallback alike: an earlier value of the
/// wrong type does not reject the line, a later one does.
#[test]
fn a_key_given_twice_counts_its_last_value() {
    let mut parser = json::LineParser::new();
    let cases: [(&[u8], Option<&str>); 3] = [
        (
            br#"{"event_type": "base", "agent_id": 5, "agent_id": "a"}"#,
            Some("a"),
        ),
        (
            br#"{"event_type":"turn_end","function_calls_count":"x","agent_id":"b","function_calls_count":3}"#,
            Some("b"),
        ),
        (br#"{"event_type": "base", "agent_id": "a", "agent_id": 5}"#, None),
    ];
    for (line, agent) in cases {
        let fast = parser.parse(line);
        let slow = parser.parse_slow(line);
        match agent {
            Some(agent) => {
                let ev = fast.unwrap();
                assert_eq!(ev.agent_id.as_deref(), Some(agent));
                assert_eq!(slow.unwrap(), ev);
                if let Kind::TurnEnd(t) = &ev.kind {
                    assert_eq!(t.function_calls_count, 3);
                }
            }
            None => {
                assert!(fast.is_err() && slow.is_err(), "the last value is wrong");
            }
        }
    }
}
