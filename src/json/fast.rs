//! The fast path: one pass over a line of the usual shape, straight into an
//! [`Event`].
//!
//! simd-json reads any JSON, but it reads it in two stages (find every
//! structural byte, then build a tape) whose fixed costs dominate on a
//! 300-byte line: on this crate's benchmark log the tape alone runs at
//! ~1 GB/s, before a single field is decoded. Nearly every line of an audit
//! log has one shape, though: an object whose first key is `event_type`,
//! whose keys need no escapes, and whose values are strings, integers,
//! plain floats, booleans, nulls, and small objects or arrays of those.
//!
//! [`event`] parses exactly that shape in a single pass, string by string
//! (finding the end of each with the writer's SSE2/SWAR scan). While the
//! line keeps the order our writers use (the envelope, then the kind's own
//! fields in schema order, with one format's separators), each member is
//! recognised by comparing its whole key block with the one the writer
//! would have put there, and set by position; the first member out of
//! that order switches to reading keys and matching them by name for the
//! rest of the line. Both routes call the same setters in source order.
//!
//! It gives up by returning `None` at the first thing outside that shape: a
//! key with an escape, a second `event_type`, `NaN`, an integer beyond 18
//! digits, nesting deeper than [`MAX_NESTING`], a lone surrogate, any
//! syntax error, any field of the wrong type. The caller then parses the line with simd-json and the
//! fallback parser, which stay the authority on every error: the fast path
//! never reports one. The `parse_line` fuzz target checks that whenever the
//! fast path accepts a line, the full parser produces the same event.

use smol_str::SmolStr;

use super::decode::{Builder, IdCache};
use super::parse::{short_escape, surrogate_pair};
use super::write::{first_special, KeyBlock, KeyBlocks, ENVELOPE_KEYS, OPEN};
use super::Format;
use crate::event::Event;
use crate::value::{Map, Number, Value};

/// Deeper values are left to the full parser.
const MAX_NESTING: usize = 16;

/// Parses `line` if it has the usual shape; `None` otherwise. `scratch`
/// is where strings with escapes are unescaped, reused across lines.
pub(crate) fn event(line: &[u8], scratch: &mut String, ids: &mut IdCache) -> Option<Event> {
    // Validating the whole line once makes every later cut, which is always
    // at an ASCII byte, a char boundary.
    let text = std::str::from_utf8(line).ok()?;
    let mut p = Cursor {
        text,
        pos: 0,
        scratch,
    };
    // Our writers start every line with the same bytes; which form they
    // take says which keys to expect (python's is the longer: try it first).
    let mut format = [Format::Python, Format::Compact]
        .into_iter()
        .find(|&f| line.starts_with(OPEN.of(f).as_bytes()));
    p.ws();
    p.expect(b'{')?;
    p.ws();
    if p.key()? != "event_type" {
        return None;
    }
    let mut b = Builder::for_tag(p.string()?);
    let own = b.kind().field_keys();
    // The member a writer would put next: `ENVELOPE[next]`, then `own[next - 6]`.
    let mut next = 0;
    loop {
        // Where the line keeps the writers' order, the key block (with its
        // separators) is matched whole and the member set by position.
        if let Some(f) = format {
            match expected(next, own, f) {
                Some((slot, key)) if p.rest().starts_with(key.as_bytes()) => {
                    p.pos += key.as_bytes().len();
                    p.ws();
                    next += 1;
                    set_at(&mut p, &mut b, slot, ids)?;
                    continue;
                }
                // Anything else ends the prediction for this line.
                _ => format = None,
            }
        }
        p.ws();
        match p.next_byte()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
        p.ws();
        let key = p.key()?;
        if key == "event_type" {
            return None;
        }
        let set = if p.peek()? == b'"' {
            b.set_text(key, p.string()?, ids)
        } else {
            let value = p.value(0)?;
            b.set(key, value)
        };
        set.ok()?;
    }
    p.ws();
    (p.pos == line.len()).then(|| b.finish())
}

/// Where a member goes, known from its position.
#[derive(Clone, Copy)]
enum Slot {
    /// `ENVELOPE[i]`.
    Envelope(usize),
    /// The kind's own field at this index in schema order, and its name.
    Own(usize, &'static str),
}

/// The member a writer of `format` puts at position `next` of an event
/// whose own fields are `own`, and its key as written.
// This and `set_at` are the member loop's body: out of line they cost ~7%
// of a line's instructions (callgrind).
#[inline(always)]
fn expected(
    next: usize,
    own: &'static [(&'static str, KeyBlocks)],
    format: Format,
) -> Option<(Slot, &'static KeyBlock)> {
    match ENVELOPE_KEYS.get(next) {
        Some(k) => Some((Slot::Envelope(next), k.of(format))),
        None => {
            let j = next - ENVELOPE_KEYS.len();
            own.get(j)
                .map(|(name, k)| (Slot::Own(j, name), k.of(format)))
        }
    }
}

/// Reads the value at the cursor into `slot`; `None` when the value is
/// not of the usual shape or not of the field's type.
#[inline(always)]
fn set_at(p: &mut Cursor<'_, '_>, b: &mut Builder, slot: Slot, ids: &mut IdCache) -> Option<()> {
    let set = match (slot, p.peek()? == b'"') {
        (Slot::Envelope(i), true) => b.set_envelope_text(i, p.string()?, ids),
        (Slot::Envelope(i), false) => {
            let value = p.value(0)?;
            b.set_envelope(i, value)
        }
        (Slot::Own(j, name), true) => b.set_own_text_at(j, name, p.string()?),
        (Slot::Own(_, name), false) => {
            let value = p.value(0)?;
            b.set_own(name, value)
        }
    };
    set.ok()
}

struct Cursor<'a, 's> {
    text: &'a str,
    pos: usize,
    scratch: &'s mut String,
}

impl<'a> Cursor<'a, '_> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// What is left of the line.
    fn rest(&self) -> &'a [u8] {
        self.bytes().get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next_byte()? == want).then_some(())
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A key without escapes, and the `:` after it.
    fn key(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        let end = start + first_special(self.bytes().get(start..)?);
        if *self.bytes().get(end)? != b'"' {
            return None;
        }
        let key = self.text.get(start..end)?;
        self.pos = end + 1;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Some(key)
    }

    /// At `"`: the string, borrowed from the line when it has no escape,
    /// else unescaped into the scratch buffer.
    fn string(&mut self) -> Option<&str> {
        self.expect(b'"')?;
        let start = self.pos;
        let end = start + first_special(self.bytes().get(start..)?);
        match self.bytes().get(end)? {
            b'"' => {
                self.pos = end + 1;
                self.text.get(start..end)
            }
            b'\\' => {
                self.unescape(start, end)?;
                Some(self.scratch.as_str())
            }
            _ => None, // a raw control character
        }
    }

    /// Unescapes the rest of a string, from its first escape at `at`, into
    /// the scratch buffer.
    fn unescape(&mut self, start: usize, mut at: usize) -> Option<()> {
        let bytes = self.bytes();
        let text = self.text;
        let out = &mut *self.scratch;
        out.clear();
        out.push_str(text.get(start..at)?);
        loop {
            // `bytes[at]` is a backslash.
            match *bytes.get(at + 1)? {
                b'u' => {
                    let (ch, len) = unicode_escape(text, at)?;
                    out.push(ch);
                    at += len;
                }
                e => {
                    out.push(short_escape(e)?);
                    at += 2;
                }
            }
            let run = first_special(bytes.get(at..)?);
            out.push_str(text.get(at..at + run)?);
            at += run;
            match bytes.get(at)? {
                b'"' => {
                    self.pos = at + 1;
                    return Some(());
                }
                b'\\' => {}
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        let end = self.pos + word.len();
        if self.bytes().get(self.pos..end)? != word.as_bytes() {
            return None;
        }
        self.pos = end;
        Some(value)
    }

    /// Any value of the usual shape.
    fn value(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            b'"' => Some(Value::String(SmolStr::new(self.string()?))),
            b'n' => self.literal("null", Value::Null),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            b'{' if depth < MAX_NESTING => self.object(depth + 1),
            b'[' if depth < MAX_NESTING => self.array(depth + 1),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        self.expect(b'{')?;
        self.ws();
        let mut map = Map::new();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(Value::Object(map));
        }
        loop {
            self.ws();
            let key = SmolStr::new(self.key()?);
            let value = self.value(depth)?;
            // Last duplicate wins, in the first one's place, as in Python.
            map.insert(key, value);
            self.ws();
            match self.next_byte()? {
                b',' => {}
                b'}' => return Some(Value::Object(map)),
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.expect(b'[')?;
        self.ws();
        let mut items = Vec::new();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.next_byte()? {
                b',' => {}
                b']' => return Some(Value::Array(items)),
                _ => return None,
            }
        }
    }

    /// A JSON number: an integer of at most 18 digits, or a float that
    /// Rust's correctly rounded parser reads; anything else is left to the
    /// full parser (big integers, very long mantissas).
    fn number(&mut self) -> Option<Number> {
        let start = self.pos;
        let bytes = self.bytes();
        let digits_from = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = start + usize::from(bytes[start] == b'-');
        let int_start = i;
        i = digits_from(i);
        let int_digits = i - int_start;
        if int_digits == 0 || (int_digits > 1 && bytes[int_start] == b'0') {
            return None;
        }
        let mut float = false;
        if bytes.get(i) == Some(&b'.') {
            let frac = digits_from(i + 1);
            if frac == i + 1 {
                return None;
            }
            i = frac;
            float = true;
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            let exp = digits_from(i);
            if exp == i {
                return None;
            }
            i = exp;
            float = true;
        }
        let text = self.text.get(start..i)?;
        self.pos = i;
        if float {
            if text.len() > 32 {
                return None;
            }
            text.parse::<f64>().ok().map(Number::Float)
        } else if int_digits <= 18 {
            text.parse::<i64>().ok().map(Number::Int)
        } else {
            None
        }
    }
}

/// The `\uXXXX` (or surrogate pair) at `at`: the character and the
/// number of bytes it took. A lone surrogate is left to the full parser.
fn unicode_escape(text: &str, at: usize) -> Option<(char, usize)> {
    let hex = |from: usize| -> Option<u32> {
        let digits = text.get(from..from + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    let hi = hex(at + 2)?;
    match hi {
        0xd800..=0xdbff => {
            if text.as_bytes().get(at + 6..at + 8)? != b"\\u" {
                return None;
            }
            Some((surrogate_pair(hi, hex(at + 8)?)?, 12))
        }
        0xdc00..=0xdfff => None,
        cp => Some((char::from_u32(cp)?, 6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{to_line, Format};

    fn full(line: &str) -> Event {
        let mut p = super::super::LineParser::new();
        p.parse_slow(line.as_bytes()).unwrap()
    }

    #[test]
    fn usual_lines_take_the_fast_path_and_agree_with_the_full_parser() {
        let lines = [
            r#"{"event_type":"tool_call_attempt","timestamp":"2026-01-01T00:00:00.5+00:00","agent_id":"a","turn_id":null,"session_id":"s","severity":"info","metadata":{"k":[1,-2.5e3,true,null,{"x":"y"}],"n":-0},"tool_name":"web\u00e9\ud83d\ude00","arguments_preview":"{\"q\": \"a\\b\\n\"}"}"#,
            r#"{"event_type": "tool_call_complete", "timestamp": "2026-01-01T00:00:00+00:00", "agent_id": null, "turn_id": null, "session_id": null, "severity": "info", "metadata": {}, "tool_name": "t", "status": "success", "duration_ms": 5, "result_preview": ""}"#,
            r#"{"event_type":"mystery","x":{"a":1,"a":2},"y":[]}"#,
            r#" { "event_type" : "base" , "metadata" : { } } "#,
        ];
        for line in lines {
            let fast = event(line.as_bytes(), &mut String::new(), &mut IdCache::default())
                .unwrap_or_else(|| panic!("fast path refused {line}"));
            let slow = full(line);
            assert_eq!(fast, slow, "{line}");
            for format in [Format::Compact, Format::Python] {
                assert_eq!(to_line(&fast, format), to_line(&slow, format));
            }
        }
    }

    /// Lines in the writers' key order are read member by member by
    /// position; anything off that order ends the prediction, and the
    /// rest of the line is read by name. Either way the event is the one
    /// the full parser gives.
    #[test]
    fn lines_off_the_writers_key_order_read_the_same() {
        let ev = Event::new(crate::event::ToolCallComplete {
            tool_name: "web".into(),
            status: "success".into(),
            duration_ms: 1.5.into(),
            result_preview: "ok".into(),
        })
        .agent("a")
        .turn("t")
        .session("s")
        .meta("k", 1i64);
        let mut lines = Vec::new();
        for format in [Format::Compact, Format::Python] {
            let line = to_line(&ev, format);
            lines.push(line.clone());
            // A member missing, moved, repeated, or with other spacing;
            // an extra key in the middle; the other format's separators.
            lines.push(line.replacen(r#""turn_id""#, r#""turn_idx""#, 1));
            lines.push(line.replacen(r#""status""#, r#""statuz""#, 1));
            lines.push(line.replacen("}", r#","status":"failed"}"#, 1));
            lines.push(line.replacen(r#""severity""#, r#""x":1,"severity""#, 1));
            lines.push(line.replacen(r#","agent_id""#, r#" ,"agent_id""#, 1));
            lines.push(line.replacen(r#""tool_name""#, r#""tool_name":"x","tool_name""#, 1));
            lines.push(line.replacen(r#""metadata""#, r#""severity":"warning","metadata""#, 1));
            lines.push(line.replace(", \"", ",\"").replace("\": ", "\":"));
            lines.push(line.replace(",\"", ", \"").replace("\":", "\": "));
        }
        for line in &lines {
            let fast = event(line.as_bytes(), &mut String::new(), &mut IdCache::default())
                .unwrap_or_else(|| panic!("fast path refused {line}"));
            assert_eq!(fast, full(line), "{line}");
        }
        // A wrong type where the writers put a known field is left to the
        // full parser, which names it.
        let bad = to_line(&ev, Format::Compact).replacen(
            r#""duration_ms":1.5"#,
            r#""duration_ms":"1.5""#,
            1,
        );
        assert!(event(bad.as_bytes(), &mut String::new(), &mut IdCache::default()).is_none());
        assert!(super::super::LineParser::new()
            .parse(bad.as_bytes())
            .is_err());
    }

    /// Every escape, checked against the text it stands for (not only
    /// against the full parser, which shares the escape table).
    #[test]
    fn escapes_decode_to_their_characters() {
        let line = r#"{"event_type":"x","s":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00z"}"#;
        let ev = event(line.as_bytes(), &mut String::new(), &mut IdCache::default()).unwrap();
        assert_eq!(ev.extra["s"], Value::from("a\"\\/\u{8}\u{c}\n\r\té😀z"));
    }

    #[test]
    fn anything_unusual_is_left_to_the_full_parser() {
        let lines = [
            r#"{"timestamp":"x","event_type":"base"}"#,
            r#"{"event_type":"base","event_type":"error"}"#,
            r#"{"event_type":"base","n":NaN}"#,
            r#"{"event_type":"base","n":12345678901234567890}"#,
            r#"{"event_type":"base","s":"\ud800"}"#,
            r#"{"event_type":"base","k\"":1}"#,
            r#"{"event_type":"base","metadata":[]}"#,
            r#"{"event_type":"turn_end","function_calls_count":"3"}"#,
            r#"{"event_type":"base",}"#,
            r#"{"event_type":"base"} x"#,
            r#"{"event_type":"base","n":01}"#,
            r#"{"event_type":"base","n":1.}"#,
            "{\"event_type\":\"base\",\"s\":\"\t\"}",
            r#"[1]"#,
            r#"{"event_type":"base","a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}"#,
        ];
        for line in lines {
            assert!(
                event(line.as_bytes(), &mut String::new(), &mut IdCache::default()).is_none(),
                "fast path took {line}"
            );
        }
        assert!(event(
            b"{\"event_type\":\"b\xffase\"}",
            &mut String::new(),
            &mut IdCache::default()
        )
        .is_none());
    }
}
