//! Property tests: arbitrary events, built through the public API, written
//! in both formats and read back.
//!
//! * `python`: reading the line gives the same event, writing that event
//!   again gives the same bytes; the line is pure ASCII.
//! * `compact`: the same when the event holds no non-finite float;
//!   otherwise those become `null`, and the parsed event is a fixed point
//!   (written again it gives the same line). Every compact line is valid
//!   UTF-8 and `serde_json` accepts it.
//! * neither line has a raw newline but the last byte.
//! * a reused `LineParser` and the streaming `Reader` agree with
//!   `parse_line`.

use agent_audit::event::FieldRef;
use agent_audit::event::{
    AgentSwitch, Base, Error as ErrorEvent, HookMutation, SandboxDecision, SkillAuthored,
    SkillFeedback, SkillUsed, ToolCallAttempt, ToolCallComplete, ToolCallFailure, ToolLoopBlock,
    ToolLoopWarning, ToolPolicyDecision, TurnEnd, TurnStart, EVENT_TYPES,
};
use agent_audit::json::{self, Format, LineParser};
use agent_audit::reader::Reader;
use agent_audit::{Event, Kind, Map, Number, Severity, SmolStr, Timestamp, Value};
use proptest::prelude::*;
use proptest::sample::select;

/// 0001-01-01T00:00:00+00:00.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 9999-12-31T23:59:59.999999+00:00.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

// ---------------------------------------------------------------- strategies

fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range(' ', '~'),
        2 => proptest::char::range('\0', '\u{1f}'),
        3 => select(vec![
            '"', '\\', '/', '\u{7f}', '\u{80}', '\u{ff}', '\u{7ff}', '\u{800}', '\u{2028}',
            '\u{2029}', '\u{d7ff}', '\u{e000}', '\u{feff}', '\u{fffd}', '\u{ffff}',
            '\u{10000}', '\u{1d11e}', '\u{1f600}', '\u{10ffff}',
        ]),
        1 => proptest::char::range('\u{80}', '\u{7ff}'),
        1 => proptest::char::range('\u{800}', '\u{d7ff}'),
        1 => proptest::char::range('\u{e000}', '\u{ffff}'),
        1 => proptest::char::range('\u{1f300}', '\u{1faff}'),
        1 => any::<char>(),
    ]
}

/// Short and long (beyond SmolStr's 23 inline bytes) strings.
fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(any_char(), 0..8),
        1 => proptest::collection::vec(any_char(), 8..48),
    ]
    .prop_map(String::from_iter)
}

fn any_smol() -> impl Strategy<Value = SmolStr> {
    any_string().prop_map(SmolStr::from)
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => any::<f64>(),
        2 => any::<u64>().prop_map(f64::from_bits),
        2 => select(vec![
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::from_bits(0x000f_ffff_ffff_ffff),
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            0.1,
            1e15,
            1e16,
            1e-4,
            1e-5,
            9_007_199_254_740_993.0,
            123_456_789_012_345_680.0,
            1e300,
        ]),
        1 => -1e6..1e6f64,
        1 => any::<i32>().prop_map(f64::from),
        1 => (any::<i64>(), -30i32..30).prop_map(|(m, e)| m as f64 * 10f64.powi(e)),
    ]
}

/// Integer text beyond 64 bits (or just at the edge), sometimes with
/// leading zeros, which `from_integer_text` must drop.
fn big_integer() -> impl Strategy<Value = Number> {
    (any::<bool>(), "0{0,2}[1-9][0-9]{18,60}").prop_map(|(neg, digits)| {
        let text = if neg { format!("-{digits}") } else { digits };
        Number::from_integer_text(&text).expect("digits")
    })
}

fn any_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        3 => any::<i64>().prop_map(Number::Int),
        3 => any_f64().prop_map(Number::Float),
        1 => (i64::MAX as u64 + 1..=u64::MAX).prop_map(Number::from),
        1 => big_integer(),
    ]
}

/// A float field: an int or a float, as Python would hold it (plus the
/// big integers reading accepts).
fn any_float_field() -> impl Strategy<Value = Number> {
    prop_oneof![
        4 => any_f64().prop_map(Number::Float),
        2 => any::<i64>().prop_map(Number::Int),
        1 => any::<u64>().prop_map(Number::from),
        1 => big_integer(),
    ]
}

/// Keys from a small pool (so objects see repeated insertions) or any text.
fn any_key() -> impl Strategy<Value = SmolStr> {
    prop_oneof![
        2 => select(vec!["a", "b", "k", "", "event_type", "metadata", "\u{e9}", "\u{1f600}"])
            .prop_map(SmolStr::new_static),
        3 => any_smol(),
    ]
}

/// Inserts the pairs in order: a repeated key keeps its first position and
/// takes the last value, as a Python `dict` does.
fn to_map(pairs: Vec<(SmolStr, Value)>) -> Map {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(k, v);
    }
    map
}

/// A JSON value of depth at most 4.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        4 => any_number().prop_map(Value::Number),
        3 => any_smol().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((any_key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(to_map(pairs))),
        ]
    })
}

fn any_map() -> impl Strategy<Value = Map> {
    proptest::collection::vec((any_key(), any_value()), 0..6).prop_map(to_map)
}

fn any_timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        4 => (MIN_MICROS..=MAX_MICROS).prop_map(Timestamp::from_unix_micros),
        // Whole seconds: written without a fraction.
        2 => (MIN_MICROS / 1_000_000..=MAX_MICROS / 1_000_000)
            .prop_map(|s| Timestamp::from_unix_micros(s * 1_000_000)),
        1 => select(vec![MIN_MICROS, MAX_MICROS, 0, -1, 951_782_400_000_000])
            .prop_map(Timestamp::from_unix_micros),
        // Text kept from a log.
        1 => any_string().prop_map(|s| Timestamp::parse(&s)),
    ]
}

fn any_severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        2 => Just(Severity::Info),
        1 => Just(Severity::Warning),
        1 => Just(Severity::Error),
        1 => Just(Severity::from("custom")),
        1 => any_smol().prop_map(Severity::from),
    ]
}

/// Raw material for the own fields of any kind.
#[derive(Clone, Debug)]
struct Fields {
    s: [SmolStr; 6],
    int: i64,
    num: Number,
    flag: bool,
    list: Vec<SmolStr>,
}

fn any_fields() -> impl Strategy<Value = Fields> {
    (
        proptest::array::uniform6(any_smol()),
        any::<i64>(),
        any_float_field(),
        any::<bool>(),
        proptest::collection::vec(any_smol(), 0..5),
    )
        .prop_map(|(s, int, num, flag, list)| Fields {
            s,
            int,
            num,
            flag,
            list,
        })
}

/// Kind number `tag` (0..16 the schema's, 16 an unknown type) built from
/// `f` through the public structs.
fn build_kind(tag: usize, f: Fields) -> Kind {
    let Fields {
        s,
        int,
        num,
        flag,
        list,
    } = f;
    let [a, b, c, d, e, g] = s;
    match tag {
        0 => Base {}.into(),
        1 => TurnStart { prompt_preview: a }.into(),
        2 => TurnEnd {
            content_preview: a,
            function_calls_count: int,
        }
        .into(),
        3 => ToolCallAttempt {
            tool_name: a,
            arguments_preview: b,
        }
        .into(),
        4 => ToolCallComplete {
            tool_name: a,
            status: b,
            duration_ms: num,
            result_preview: c,
        }
        .into(),
        5 => ToolCallFailure {
            tool_name: a,
            error_type: b,
            error_message: c,
        }
        .into(),
        6 => ToolPolicyDecision {
            tool_name: a,
            action: b,
            policy_source: c,
        }
        .into(),
        7 => SandboxDecision {
            tool_name: a,
            context: b,
            reason: c,
            backend_type: d,
        }
        .into(),
        8 => ToolLoopWarning {
            tool_name: a,
            pattern: b,
            severity_level: c,
            call_count: int,
        }
        .into(),
        9 => ToolLoopBlock {
            tool_name: a,
            pattern: b,
            call_count: int,
        }
        .into(),
        10 => HookMutation {
            hook_name: a,
            tool_name: b,
            mutated_field: c,
        }
        .into(),
        11 => ErrorEvent {
            error_type: a,
            error_message: b,
            error_context: c,
        }
        .into(),
        12 => SkillUsed {
            skill_name: a,
            version: b,
            outcome: c,
            duration_ms: num,
            triggered_automatically: flag,
        }
        .into(),
        13 => SkillAuthored {
            skill_name: a,
            version: b,
            source_path: c,
            tool_count: int,
            unique_tools: list,
            confirmed_by_user: flag,
        }
        .into(),
        14 => SkillFeedback {
            skill_name: a,
            rating: b,
            reason: c,
            source: d,
        }
        .into(),
        15 => AgentSwitch {
            from_agent: a,
            to_agent: b,
            reason: c,
        }
        .into(),
        _ => {
            // An event type the schema does not know.
            let tag = if EVENT_TYPES.contains(&e.as_str()) {
                SmolStr::from(format!("{e}_custom{g}"))
            } else {
                e
            };
            Kind::Other(tag)
        }
    }
}

fn any_event() -> impl Strategy<Value = Event> {
    (
        (0usize..17, any_fields()),
        any_timestamp(),
        proptest::option::of(any_smol()),
        proptest::option::of(any_smol()),
        proptest::option::of(any_smol()),
        any_severity(),
        any_map(),
        proptest::collection::vec((any_key(), any_value()), 0..4),
    )
        .prop_map(
            |((tag, fields), ts, agent, turn, session, severity, metadata, extra)| {
                let kind = build_kind(tag, fields);
                let mut own = Vec::new();
                kind.for_each_field(|name, _| own.push(name));
                let mut ev = Event::new(kind).at(ts).with_severity(severity);
                if let Some(id) = agent {
                    ev = ev.agent(id);
                }
                if let Some(id) = turn {
                    ev = ev.turn(id);
                }
                ev.session_id = session;
                for (k, v) in metadata {
                    ev = ev.meta(k, v);
                }
                // The writer puts envelope and own fields in their places;
                // `extra` may hold any other key.
                for (k, v) in extra {
                    if !is_envelope_key(&k) && !own.contains(&k.as_str()) {
                        ev.extra.insert(k, v);
                    }
                }
                ev
            },
        )
}

// ------------------------------------------------------------------ helpers

fn value_has_non_finite(v: &Value) -> bool {
    match v {
        Value::Number(Number::Float(f)) => !f.is_finite(),
        Value::Array(items) => items.iter().any(value_has_non_finite),
        Value::Object(map) => map.values().any(value_has_non_finite),
        _ => false,
    }
}

/// Whether any float of the event is NaN or infinite (the compact format
/// writes those as `null`).
fn has_non_finite(ev: &Event) -> bool {
    let mut found = ev.metadata.values().any(value_has_non_finite)
        || ev.extra.values().any(value_has_non_finite);
    ev.kind.for_each_field(|_, field| {
        if let FieldRef::Number(Number::Float(f)) = field {
            found |= !f.is_finite();
        }
    });
    found
}

fn write(ev: &Event, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    json::write_event(&mut out, ev, format);
    out
}

/// Checks the line's framing and returns it without its `\n`.
fn body(line: &[u8]) -> Result<&[u8], TestCaseError> {
    prop_assert_eq!(line.last(), Some(&b'\n'), "no final newline");
    let body = &line[..line.len() - 1];
    prop_assert!(
        !body.contains(&b'\n'),
        "raw newline inside the line: {:?}",
        String::from_utf8_lossy(line)
    );
    Ok(body)
}

fn parse(body: &[u8]) -> Result<Event, TestCaseError> {
    json::parse_line(body).map_err(|e| {
        TestCaseError::fail(format!(
            "does not parse: {e}: {}",
            String::from_utf8_lossy(body)
        ))
    })
}

// --------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn python_round_trips_exactly(ev in any_event()) {
        let line = write(&ev, Format::Python);
        prop_assert_eq!(json::to_line(&ev, Format::Python).into_bytes(), line.clone());
        prop_assert!(line.is_ascii(), "python line is not ASCII: {:?}", String::from_utf8_lossy(&line));
        let back = parse(body(&line)?)?;
        prop_assert_eq!(&back, &ev);
        let again = write(&back, Format::Python);
        prop_assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&line)
        );
    }

    #[test]
    fn compact_round_trips_modulo_non_finite_floats(ev in any_event()) {
        let line = write(&ev, Format::Compact);
        let text = std::str::from_utf8(&line);
        prop_assert!(text.is_ok(), "compact line is not UTF-8: {:?}", text);
        prop_assert_eq!(json::to_line(&ev, Format::Compact).into_bytes(), line.clone());
        let back = parse(body(&line)?)?;
        if !has_non_finite(&ev) {
            prop_assert_eq!(&back, &ev);
        }
        // Written again, the parsed event gives the same line, and that line
        // reads back as the same event: a fixed point.
        let again = write(&back, Format::Compact);
        prop_assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&line)
        );
        prop_assert_eq!(parse(body(&again)?)?, back);
    }

    #[test]
    fn serde_json_accepts_every_compact_line(ev in any_event()) {
        let line = json::to_line(&ev, Format::Compact);
        let parsed = serde_json::from_str::<serde_json::Value>(&line);
        prop_assert!(parsed.is_ok(), "serde_json: {:?} on {}", parsed.err(), line);
        let parsed = parsed.unwrap_or_default();
        prop_assert!(parsed.is_object());
        prop_assert_eq!(
            parsed.get("event_type").and_then(|t| t.as_str()),
            Some(ev.event_type())
        );
    }

    /// One parser reused across lines of both formats (its buffers carry
    /// over) reads each line as a fresh parser does.
    #[test]
    fn reused_line_parser_agrees_with_a_fresh_one(
        events in proptest::collection::vec(any_event(), 1..6),
    ) {
        let mut parser = LineParser::new();
        for ev in &events {
            for format in [Format::Python, Format::Compact] {
                let line = write(ev, format);
                let body = body(&line)?;
                let fresh = parse(body)?;
                let reused = parser.parse(body);
                prop_assert_eq!(reused.as_ref(), Ok(&fresh));
                // The fast path (taken by most written lines) and the full
                // parser read the same event.
                let slow = parser.parse_slow(body);
                prop_assert_eq!(slow.as_ref(), Ok(&fresh));
                // parse_object sees the same top-level keys the writer wrote.
                let object = parser.parse_object(body);
                prop_assert!(object.is_ok());
                let object = object.unwrap_or_default();
                prop_assert_eq!(object.get("event_type"), Some(&Value::from(ev.event_type())));
            }
        }
    }

    /// A whole log read by the streaming reader: every line, in order,
    /// numbered from 1.
    #[test]
    fn reader_reads_a_written_log(
        events in proptest::collection::vec(any_event(), 0..8),
        python in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let format = if python { Format::Python } else { Format::Compact };
        let mut log = Vec::new();
        let mut expected = Vec::new();
        for ev in &events {
            let line = write(ev, format);
            let body = body(&line)?;
            expected.push(parse(body)?);
            log.extend_from_slice(body);
            log.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        let mut n = 0u64;
        for item in Reader::new(&log[..]) {
            let record = item.map_err(|e| TestCaseError::fail(e.to_string()))?;
            n += 1;
            prop_assert_eq!(record.line, n);
            prop_assert_eq!(Some(&record.event), expected.get(n as usize - 1));
        }
        prop_assert_eq!(n as usize, events.len());
    }
}

/// Keys an `extra` map must not hold: the writer puts them elsewhere.
fn is_envelope_key(k: &str) -> bool {
    k == "event_type" || agent_audit::event::ENVELOPE.contains(&k)
}
