//! Shared pieces of the fuzz targets: an event generator driven by
//! `arbitrary::Unstructured` (through the public API only, like the
//! property tests in `tests/roundtrip_props.rs`), and the round-trip
//! checks that `parse_line` and `round_trip` both run.

use agent_audit::event::{
    AgentSwitch, Base, Error as ErrorEvent, FieldRef, HookMutation, SandboxDecision, SkillAuthored,
    SkillFeedback, SkillUsed, ToolCallAttempt, ToolCallComplete, ToolCallFailure, ToolLoopBlock,
    ToolLoopWarning, ToolPolicyDecision, TurnEnd, TurnStart, EVENT_TYPES,
};
use agent_audit::json::{self, Format, LineParser};
use agent_audit::{Event, Kind, Map, Number, Severity, SmolStr, Timestamp, Value};
use arbitrary::{Result, Unstructured};

/// 0001-01-01T00:00:00+00:00, the first instant Python's `datetime` has.
pub const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 9999-12-31T23:59:59.999999+00:00, the last one.
pub const MAX_MICROS: i64 = 253_402_300_799_999_999;

const SPECIAL_CHARS: &[char] = &[
    '"',
    '\\',
    '/',
    '\n',
    '\r',
    '\t',
    '\0',
    '\u{8}',
    '\u{c}',
    '\u{1f}',
    '\u{7f}',
    '\u{80}',
    '\u{ff}',
    '\u{7ff}',
    '\u{800}',
    '\u{2028}',
    '\u{2029}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '\u{10000}',
    '\u{1d11e}',
    '\u{1f600}',
    '\u{10ffff}',
];

const SPECIAL_FLOATS: &[f64] = &[
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -0.0,
    f64::MIN_POSITIVE,
    5e-324,
    f64::from_bits(0x000f_ffff_ffff_ffff), // largest subnormal
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
];

const KEYS: &[&str] = &[
    "a",
    "b",
    "k",
    "",
    "event_type",
    "metadata",
    "\u{e9}",
    "\u{1f600}",
];

/// One character: mostly printable ASCII, plus control characters, JSON
/// specials, and non-ASCII up to the astral planes.
pub fn char_(u: &mut Unstructured) -> Result<char> {
    Ok(match u.int_in_range(0u8..=15)? {
        0..=6 => char::from(u.int_in_range(0x20u8..=0x7e)?),
        7 | 8 => char::from(u.int_in_range(0u8..=0x1f)?),
        9 | 10 => *u.choose(SPECIAL_CHARS)?,
        11 => char::from_u32(u.int_in_range(0x80u32..=0x7ff)?).unwrap_or('?'),
        12 => char::from_u32(u.int_in_range(0x800u32..=0xffff)?).unwrap_or('\u{fffd}'),
        13 => char::from_u32(u.int_in_range(0x1f300u32..=0x1faff)?).unwrap_or('?'),
        _ => u.arbitrary::<char>()?,
    })
}

/// A string of up to 48 characters (so past SmolStr's 23 inline bytes).
pub fn string(u: &mut Unstructured) -> Result<SmolStr> {
    let max = if u.ratio(1u8, 4)? { 48 } else { 8 };
    let len = u.int_in_range(0..=max)?;
    let mut s = String::new();
    for _ in 0..len {
        s.push(char_(u)?);
    }
    Ok(s.into())
}

/// Any `f64`: every bit pattern, the edge cases, integral values, decimals.
pub fn float(u: &mut Unstructured) -> Result<f64> {
    Ok(match u.int_in_range(0u8..=5)? {
        0 | 1 => f64::from_bits(u.arbitrary()?),
        2 => *u.choose(SPECIAL_FLOATS)?,
        3 => f64::from(u.arbitrary::<i32>()?),
        4 => u.arbitrary::<i64>()? as f64 * 10f64.powi(u.int_in_range(-30..=30)?),
        _ => f64::from(u.arbitrary::<i32>()?) / 1000.0,
    })
}

/// Whether `AGENT_AUDIT_FUZZ_SKIP_KNOWN_BUGS` is set: the targets then
/// stop generating (or checking) inputs that only hit a bug already
/// reported with a reproducer in `regressions/`. `run.sh` sets it while
/// fuzzing, not while replaying the reproducers.
pub fn skip_known_bugs() -> bool {
    static SKIP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SKIP.get_or_init(|| std::env::var_os("AGENT_AUDIT_FUZZ_SKIP_KNOWN_BUGS").is_some())
}

/// Decimal text of 19 to 60 digits: a `UInt` or a `Big` (or an `Int` at
/// the edge), through `Number::from_integer_text`. Now and then with
/// leading zeros, which that function accepts (and drops).
pub fn big_integer(u: &mut Unstructured) -> Result<Number> {
    let mut text = String::new();
    if u.arbitrary()? {
        text.push('-');
    }
    // Leading zeros must be dropped (regressions/round_trip/
    // big-integer-leading-zero: they were once kept and written as is).
    if u.ratio(1u8, 8)? {
        for _ in 0..u.int_in_range(1..=2)? {
            text.push('0');
        }
    }
    text.push(char::from(b'0' + u.int_in_range(1u8..=9)?));
    for _ in 0..u.int_in_range(18..=59)? {
        text.push(char::from(b'0' + u.int_in_range(0u8..=9)?));
    }
    Ok(Number::from_integer_text(&text).unwrap_or(Number::Int(0)))
}

/// A number of any representation, in its canonical form.
pub fn number(u: &mut Unstructured) -> Result<Number> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=2 => Number::Int(u.arbitrary()?),
        3..=5 => Number::Float(float(u)?),
        6 => Number::from(u.int_in_range(i64::MAX as u64 + 1..=u64::MAX)?),
        _ => big_integer(u)?,
    })
}

/// A float field (`duration_ms`): usually a float, sometimes an int.
pub fn float_field(u: &mut Unstructured) -> Result<Number> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=4 => Number::Float(float(u)?),
        5 => Number::Int(u.arbitrary()?),
        6 => Number::from(u.arbitrary::<u64>()?),
        _ => big_integer(u)?,
    })
}

fn key(u: &mut Unstructured) -> Result<SmolStr> {
    if u.ratio(2u8, 5)? {
        Ok(SmolStr::new_static(u.choose(KEYS)?))
    } else {
        string(u)
    }
}

/// A JSON value nested at most `depth` levels.
pub fn value(u: &mut Unstructured, depth: u32) -> Result<Value> {
    let top = if depth == 0 { 3 } else { 5 };
    Ok(match u.int_in_range(0u8..=top)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Number(number(u)?),
        3 => Value::String(string(u)?),
        4 => {
            let mut items = Vec::new();
            for _ in 0..u.int_in_range(0..=5)? {
                items.push(value(u, depth - 1)?);
            }
            Value::Array(items)
        }
        _ => Value::Object(map(u, depth - 1)?),
    })
}

/// An object; keys come partly from a small pool, so a key is often
/// inserted twice (it keeps its first position, takes the last value).
pub fn map(u: &mut Unstructured, depth: u32) -> Result<Map> {
    let mut m = Map::new();
    for _ in 0..u.int_in_range(0..=5)? {
        let k = key(u)?;
        let v = value(u, depth)?;
        m.insert(k, v);
    }
    Ok(m)
}

pub fn timestamp(u: &mut Unstructured) -> Result<Timestamp> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=3 => Timestamp::from_unix_micros(u.int_in_range(MIN_MICROS..=MAX_MICROS)?),
        4 | 5 => Timestamp::from_unix_micros(
            u.int_in_range(MIN_MICROS / 1_000_000..=MAX_MICROS / 1_000_000)? * 1_000_000,
        ),
        6 => Timestamp::from_unix_micros(*u.choose(&[MIN_MICROS, MAX_MICROS, 0, -1])?),
        // Text kept verbatim from a log.
        _ => Timestamp::parse(&string(u)?),
    })
}

pub fn severity(u: &mut Unstructured) -> Result<Severity> {
    Ok(match u.int_in_range(0u8..=5)? {
        0 | 1 => Severity::Info,
        2 => Severity::Warning,
        3 => Severity::Error,
        4 => Severity::from("custom"),
        _ => Severity::from(string(u)?),
    })
}

/// One of the sixteen kinds with arbitrary fields, or (1 in 17) a type
/// the schema does not know.
pub fn kind(u: &mut Unstructured) -> Result<Kind> {
    let s = |u: &mut Unstructured| string(u);
    Ok(match u.int_in_range(0u8..=16)? {
        0 => Base {}.into(),
        1 => TurnStart {
            prompt_preview: s(u)?,
        }
        .into(),
        2 => TurnEnd {
            content_preview: s(u)?,
            function_calls_count: u.arbitrary()?,
        }
        .into(),
        3 => ToolCallAttempt {
            tool_name: s(u)?,
            arguments_preview: s(u)?,
        }
        .into(),
        4 => ToolCallComplete {
            tool_name: s(u)?,
            status: s(u)?,
            duration_ms: float_field(u)?,
            result_preview: s(u)?,
        }
        .into(),
        5 => ToolCallFailure {
            tool_name: s(u)?,
            error_type: s(u)?,
            error_message: s(u)?,
        }
        .into(),
        6 => ToolPolicyDecision {
            tool_name: s(u)?,
            action: s(u)?,
            policy_source: s(u)?,
        }
        .into(),
        7 => SandboxDecision {
            tool_name: s(u)?,
            context: s(u)?,
            reason: s(u)?,
            backend_type: s(u)?,
        }
        .into(),
        8 => ToolLoopWarning {
            tool_name: s(u)?,
            pattern: s(u)?,
            severity_level: s(u)?,
            call_count: u.arbitrary()?,
        }
        .into(),
        9 => ToolLoopBlock {
            tool_name: s(u)?,
            pattern: s(u)?,
            call_count: u.arbitrary()?,
        }
        .into(),
        10 => HookMutation {
            hook_name: s(u)?,
            tool_name: s(u)?,
            mutated_field: s(u)?,
        }
        .into(),
        11 => ErrorEvent {
            error_type: s(u)?,
            error_message: s(u)?,
            error_context: s(u)?,
        }
        .into(),
        12 => SkillUsed {
            skill_name: s(u)?,
            version: s(u)?,
            outcome: s(u)?,
            duration_ms: float_field(u)?,
            triggered_automatically: u.arbitrary()?,
        }
        .into(),
        13 => SkillAuthored {
            skill_name: s(u)?,
            version: s(u)?,
            source_path: s(u)?,
            tool_count: u.arbitrary()?,
            unique_tools: {
                let mut list = Vec::new();
                for _ in 0..u.int_in_range(0..=4)? {
                    list.push(s(u)?);
                }
                list
            },
            confirmed_by_user: u.arbitrary()?,
        }
        .into(),
        14 => SkillFeedback {
            skill_name: s(u)?,
            rating: s(u)?,
            reason: s(u)?,
            source: s(u)?,
        }
        .into(),
        15 => AgentSwitch {
            from_agent: s(u)?,
            to_agent: s(u)?,
            reason: s(u)?,
        }
        .into(),
        _ => {
            let tag = s(u)?;
            if EVENT_TYPES.contains(&tag.as_str()) {
                Kind::Other(format!("{tag}_custom").into())
            } else {
                Kind::Other(tag)
            }
        }
    })
}

/// A whole event through the public API: kind, envelope, metadata nested
/// up to 4 levels, and extra keys.
pub fn event(u: &mut Unstructured) -> Result<Event> {
    let kind = kind(u)?;
    let mut own = Vec::new();
    kind.for_each_field(|name, _| own.push(name));
    let mut ev = Event::new(kind)
        .at(timestamp(u)?)
        .with_severity(severity(u)?);
    if u.arbitrary()? {
        ev = ev.agent(string(u)?);
    }
    if u.arbitrary()? {
        ev = ev.turn(string(u)?);
    }
    if u.arbitrary()? {
        ev = ev.session(string(u)?);
    }
    for _ in 0..u.int_in_range(0..=5)? {
        ev = ev.meta(key(u)?, value(u, 4)?);
    }
    for _ in 0..u.int_in_range(0..=3)? {
        let k = key(u)?;
        let v = value(u, 4)?;
        if !is_envelope_key(&k) && !own.contains(&k.as_str()) {
            ev.extra.insert(k, v);
        }
    }
    Ok(ev)
}

/// Whether `ours` (our parser's reading of some JSON) is what serde_json
/// (correctly rounded floats, key order kept, last duplicate wins in the
/// first position) read from the same text.
pub fn same_as_serde(ours: &Value, theirs: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (ours, theirs) {
        (Value::Null, J::Null) => true,
        (Value::Bool(a), J::Bool(b)) => a == b,
        (Value::String(a), J::String(b)) => a == b,
        (Value::Number(a), J::Number(b)) => same_number(a, b),
        (Value::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_as_serde(x, y))
        }
        (Value::Object(a), J::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_as_serde(va, vb))
        }
        _ => false,
    }
}

fn same_number(ours: &Number, theirs: &serde_json::Number) -> bool {
    let float = |f: f64| theirs.is_f64() && theirs.as_f64().map(f64::to_bits) == Some(f.to_bits());
    match ours {
        // serde_json reads `-0` as the float -0.0; Python (and we) as 0.
        Number::Int(0) => theirs.as_i64() == Some(0) || float(-0.0),
        Number::Int(i) => theirs.as_i64() == Some(*i),
        Number::UInt(u) => theirs.as_u64() == Some(*u),
        // serde_json has no integers beyond 64 bits: it reads a float.
        Number::Big(big) => big.as_str().parse::<f64>().is_ok_and(float),
        Number::Float(f) => float(*f),
    }
}

fn value_has_non_finite(v: &Value) -> bool {
    match v {
        Value::Number(Number::Float(f)) => !f.is_finite(),
        Value::Array(items) => items.iter().any(value_has_non_finite),
        Value::Object(map) => map.values().any(value_has_non_finite),
        _ => false,
    }
}

/// An integer too large for an `f64`: valid JSON (Python reads and writes
/// it), but serde_json, which reads integers beyond 64 bits as floats,
/// rejects it as out of range.
fn is_beyond_f64(n: &Number) -> bool {
    matches!(n, Number::Big(_)) && n.as_f64().is_infinite()
}

fn value_has_beyond_f64(v: &Value) -> bool {
    match v {
        Value::Number(n) => is_beyond_f64(n),
        Value::Array(items) => items.iter().any(value_has_beyond_f64),
        Value::Object(map) => map.values().any(value_has_beyond_f64),
        _ => false,
    }
}

/// Whether any integer of the event is beyond an `f64`'s range.
pub fn has_beyond_f64(ev: &Event) -> bool {
    let mut found = ev.metadata.values().any(value_has_beyond_f64)
        || ev.extra.values().any(value_has_beyond_f64);
    ev.kind.for_each_field(|_, field| {
        if let FieldRef::Number(n) = field {
            found |= is_beyond_f64(n);
        }
    });
    found
}

/// Whether any float of the event is NaN or infinite (compact writes
/// those as `null`).
pub fn has_non_finite(ev: &Event) -> bool {
    let mut found = ev.metadata.values().any(value_has_non_finite)
        || ev.extra.values().any(value_has_non_finite);
    ev.kind.for_each_field(|_, field| {
        if let FieldRef::Number(Number::Float(f)) = field {
            found |= !f.is_finite();
        }
    });
    found
}

fn value_depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(value_depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The deepest nesting of the event's JSON object.
pub fn depth(ev: &Event) -> usize {
    let inner = ev
        .metadata
        .values()
        .map(|v| 1 + value_depth(v))
        .chain(ev.extra.values().map(value_depth))
        .max()
        .unwrap_or(0);
    1 + inner
}

/// The line without its final `\n`, after checking that it has exactly one
/// newline, at the end.
fn body(line: &[u8]) -> &[u8] {
    assert_eq!(line.last(), Some(&b'\n'), "line without its newline");
    let body = &line[..line.len() - 1];
    assert!(
        !body.contains(&b'\n'),
        "raw newline inside a line: {:?}",
        String::from_utf8_lossy(line)
    );
    body
}

fn write(ev: &Event, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    json::write_event(&mut out, ev, format);
    assert_eq!(
        json::to_line(ev, format).as_bytes(),
        &out[..],
        "to_line and write_event differ"
    );
    out
}

/// Writes `ev` in both formats, reads each line back, and checks every
/// promise the formats make:
///
/// * python: pure ASCII, one line; read back it is `ev`; written again it
///   is the same bytes; a trailing `\r` (CRLF files) changes nothing;
/// * compact: UTF-8, one line, accepted by serde_json (when not nested
///   beyond serde_json's own limit and holding no integer beyond an
///   `f64`'s range, which serde_json cannot read); read back it is `ev` unless `ev`
///   holds a non-finite float (written as `null`); either way the event
///   read back is a fixed point of writing and reading.
pub fn check_both_formats(ev: &Event, parser: &mut LineParser) {
    // python
    let line = write(ev, Format::Python);
    assert!(line.is_ascii(), "python line is not ASCII");
    let b = body(&line);
    let back = parser
        .parse(b)
        .unwrap_or_else(|e| panic!("python line does not parse: {e}: {}", lossy(b)));
    assert_eq!(&back, ev, "python line read back differs: {}", lossy(b));
    let again = write(&back, Format::Python);
    assert_eq!(lossy(&again), lossy(&line), "python rewrite differs");
    let mut crlf = b.to_vec();
    crlf.push(b'\r');
    assert_eq!(parser.parse(&crlf).as_ref(), Ok(ev), "CRLF line differs");

    // compact
    let line = write(ev, Format::Compact);
    let text = std::str::from_utf8(&line).expect("compact line is not UTF-8");
    let b = body(&line);
    if depth(ev) < 100 {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(_) => {}
            // (regressions/parse_line/integer-beyond-f64: a 380-digit
            // integer, which the reader keeps exactly.)
            Err(e) if e.to_string().starts_with("number out of range") && has_beyond_f64(ev) => {}
            Err(e) => panic!("serde_json rejects a compact line: {e}: {text}"),
        }
    }
    let back = parser
        .parse(b)
        .unwrap_or_else(|e| panic!("compact line does not parse: {e}: {text}"));
    if !has_non_finite(ev) {
        assert_eq!(&back, ev, "compact line read back differs: {text}");
    }
    let again = write(&back, Format::Compact);
    assert_eq!(lossy(&again), text, "compact rewrite differs");
    let back2 = parser.parse(body(&again)).expect("compact rewrite parses");
    assert_eq!(back2, back, "compact rewrite read back differs");
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Keys an `extra` map must not hold: the writer puts them elsewhere.
pub fn is_envelope_key(k: &str) -> bool {
    k == "event_type" || agent_audit::event::ENVELOPE.contains(&k)
}
