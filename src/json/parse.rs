//! The parser: one JSONL line to the members of its top-level object.
//!
//! Two stages. The fast path is simd-json's tape, which covers every line
//! the `compact` format writes and nearly every line the reference writes.
//! simd-json rejects three things Python's `json.loads` accepts: `NaN`,
//! `Infinity`/`-Infinity`, and integers beyond 64 bits. Any line the fast
//! path rejects goes to [`Fallback`], a small recursive-descent parser that
//! accepts exactly Python's grammar and is the authority on errors: when it
//! rejects a line too, its message (what, and at which byte) is the one
//! reported. Both stages keep object members in source order; duplicate
//! keys are resolved later, last one wins, as in Python.
//!
//! Nesting is limited to [`MAX_DEPTH`] levels in both stages, so no input
//! can exhaust the stack.

use simd_json::{Buffers, Node, StaticNode, Tape};
use smol_str::SmolStr;

use crate::value::{Map, Number, Value};

/// The deepest nesting of arrays and objects a line may have.
pub const MAX_DEPTH: usize = 512;

/// The members of a top-level object, in source order, duplicates kept.
pub(crate) type Members = Vec<(SmolStr, Value)>;

/// Why a line is not a JSON object, and where (a byte offset in the line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem within the line.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Reusable state for parsing many lines: simd-json's buffers, a scratch
/// copy of the line (simd-json unescapes in place) and the tape.
pub(crate) struct LineParser {
    buffers: Buffers,
    scratch: Vec<u8>,
    tape: Option<Tape<'static>>,
}

impl Default for LineParser {
    fn default() -> Self {
        LineParser {
            buffers: Buffers::with_max_depth(1024, MAX_DEPTH),
            scratch: Vec::new(),
            tape: Some(Tape::null().reset()),
        }
    }
}

impl LineParser {
    /// Parses one line (without its line terminator).
    pub(crate) fn members(&mut self, line: &[u8]) -> Result<Members, SyntaxError> {
        match self.with_tape(line, from_tape) {
            Some(members) => Ok(members),
            None => Fallback::parse(line),
        }
    }

    /// The fast path alone: builds the line's tape and hands it to `f`.
    /// `None` if simd-json rejects the line or `f` declines the tape; the
    /// caller then goes to [`Fallback`].
    pub(crate) fn with_tape<R>(
        &mut self,
        line: &[u8],
        f: impl FnOnce(&[Node<'_>]) -> Option<R>,
    ) -> Option<R> {
        self.scratch.clear();
        self.scratch.extend_from_slice(line);
        let mut tape: Tape<'_> = self.tape.take().unwrap_or_else(Tape::null).reset();
        let fast = match simd_json::fill_tape(&mut self.scratch, &mut self.buffers, &mut tape) {
            Ok(()) => f(&tape.0),
            Err(_) => None,
        };
        self.tape = Some(tape.reset());
        fast
    }
}

/// Converts a tape whose root is an object; `None` for any other root (the
/// fallback then produces the error message).
fn from_tape(nodes: &[Node<'_>]) -> Option<Members> {
    let Some(Node::Object { len, .. }) = nodes.first() else {
        return None;
    };
    let mut members = Vec::with_capacity(*len);
    let mut at = 1;
    for _ in 0..*len {
        let Node::String(k) = nodes[at] else {
            return None;
        };
        let (v, next) = tape_value(nodes, at + 1);
        members.push((SmolStr::new(k), v));
        at = next;
    }
    Some(members)
}

/// The value starting at `at` and the index just after it. simd-json has
/// already enforced the depth limit, so the recursion is bounded.
pub(crate) fn tape_value(nodes: &[Node<'_>], at: usize) -> (Value, usize) {
    match nodes[at] {
        Node::String(s) => (Value::String(SmolStr::new(s)), at + 1),
        Node::Static(st) => (
            match st {
                StaticNode::Null => Value::Null,
                StaticNode::Bool(b) => Value::Bool(b),
                StaticNode::I64(i) => Value::Number(Number::Int(i)),
                StaticNode::U64(u) => Value::Number(u.into()),
                StaticNode::F64(f) => Value::Number(Number::Float(f)),
            },
            at + 1,
        ),
        Node::Array { len, .. } => {
            let mut items = Vec::with_capacity(len);
            let mut next = at + 1;
            for _ in 0..len {
                let (v, n) = tape_value(nodes, next);
                items.push(v);
                next = n;
            }
            (Value::Array(items), next)
        }
        Node::Object { len, .. } => {
            let mut map = Map::with_capacity(len);
            let mut next = at + 1;
            for _ in 0..len {
                let key = match nodes[next] {
                    Node::String(k) => SmolStr::new(k),
                    _ => SmolStr::default(),
                };
                let (v, n) = tape_value(nodes, next + 1);
                map.insert(key, v);
                next = n;
            }
            (Value::Object(map), next)
        }
    }
}

/// The character a two-byte escape `\\e` stands for (`e` not `u`).
pub(crate) fn short_escape(e: u8) -> Option<char> {
    Some(match e {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        _ => return None,
    })
}

/// The character of a UTF-16 surrogate pair; `None` unless `hi` is a high
/// and `lo` a low surrogate.
pub(crate) fn surrogate_pair(hi: u32, lo: u32) -> Option<char> {
    if !(0xd800..=0xdbff).contains(&hi) || !(0xdc00..=0xdfff).contains(&lo) {
        return None;
    }
    char::from_u32(0x1_0000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
}

/// Python's JSON grammar by recursive descent: RFC 8259 plus `NaN`,
/// `Infinity`, `-Infinity` and integers of any size.
pub(crate) struct Fallback<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

type Res<T> = Result<T, SyntaxError>;

impl<'a> Fallback<'a> {
    pub(crate) fn parse(line: &'a [u8]) -> Res<Members> {
        if let Err(e) = std::str::from_utf8(line) {
            return Err(SyntaxError {
                offset: e.valid_up_to(),
                message: "invalid UTF-8".into(),
            });
        }
        let mut p = Fallback {
            s: line,
            pos: 0,
            depth: 0,
        };
        p.ws();
        if p.peek() != Some(b'{') {
            return Err(match p.peek() {
                None => p.err("empty line, expected a JSON object"),
                Some(_) => p.err("not a JSON object"),
            });
        }
        let members = p.object_members()?;
        p.ws();
        if p.pos != p.s.len() {
            return Err(p.err("unexpected data after the object"));
        }
        Ok(members)
    }

    fn err(&self, message: &str) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    /// At `{`: the members up to and including `}`.
    fn object_members(&mut self) -> Res<Members> {
        self.enter()?;
        self.pos += 1;
        let mut members = Vec::new();
        self.ws();
        if self.eat(b"}") {
            self.depth -= 1;
            return Ok(members);
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let k = self.string()?;
            self.ws();
            if !self.eat(b":") {
                return Err(self.err("expected ':' after a key"));
            }
            self.ws();
            let v = self.value()?;
            members.push((k, v));
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"}") {
                self.depth -= 1;
                return Ok(members);
            }
            return Err(match self.peek() {
                None => self.err("unterminated object"),
                Some(_) => self.err("expected ',' or '}'"),
            });
        }
    }

    fn value(&mut self) -> Res<Value> {
        match self.peek() {
            None => Err(self.err("unexpected end of line, expected a value")),
            Some(b'{') => {
                let members = self.object_members()?;
                let mut map = Map::with_capacity(members.len());
                map.extend(members);
                Ok(Value::Object(map))
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b"]") {
                    self.depth -= 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value()?);
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"]") {
                        self.depth -= 1;
                        return Ok(Value::Array(items));
                    }
                    return Err(match self.peek() {
                        None => self.err("unterminated array"),
                        Some(_) => self.err("expected ',' or ']'"),
                    });
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') if self.eat(b"true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Value::Bool(false)),
            Some(b'n') if self.eat(b"null") => Ok(Value::Null),
            Some(b'N') if self.eat(b"NaN") => Ok(Value::Number(Number::Float(f64::NAN))),
            Some(b'I') if self.eat(b"Infinity") => Ok(Value::Number(Number::Float(f64::INFINITY))),
            Some(b'-') if self.eat(b"-Infinity") => {
                Ok(Value::Number(Number::Float(f64::NEG_INFINITY)))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character, expected a value")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Res<Value> {
        let start = self.pos;
        self.eat(b"-");
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        let mut float = false;
        if self.eat(b".") {
            float = true;
            if self.digits() == 0 {
                return Err(self.err("invalid number: no digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            float = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number: no digit in the exponent"));
            }
        }
        // The bytes are ASCII digits and signs: valid UTF-8.
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("0");
        if float {
            // Rust's parse rounds correctly; overflow gives ±inf, as in Python.
            text.parse::<f64>()
                .map(|f| Value::Number(Number::Float(f)))
                .map_err(|_| self.err("invalid number"))
        } else {
            Number::from_integer_text(text)
                .map(Value::Number)
                .ok_or_else(|| self.err("invalid number"))
        }
    }

    fn hex4(&mut self) -> Res<u32> {
        let Some(h) = self.s.get(self.pos..self.pos + 4) else {
            return Err(self.err("truncated \\u escape"));
        };
        let mut v = 0;
        for &b in h {
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.pos += 4;
        Ok(v)
    }

    /// At `"`: the unescaped string.
    fn string(&mut self) -> Res<SmolStr> {
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' => {
                    out.push_str(self.run(run));
                    self.pos += 1;
                    return Ok(SmolStr::from(out));
                }
                b'\\' => {
                    out.push_str(self.run(run));
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    let ch = match (e, short_escape(e)) {
                        (b'u', _) => self.unicode_escape()?,
                        (_, Some(ch)) => ch,
                        (_, None) => {
                            self.pos -= 1;
                            return Err(self.err("invalid escape"));
                        }
                    };
                    out.push(ch);
                    run = self.pos;
                }
                0..=0x1f => return Err(self.err("control character in string")),
                _ => self.pos += 1,
            }
        }
    }

    /// The bytes from `start` to the cursor; the line was checked to be
    /// UTF-8 and runs end at ASCII bytes, so this is a char boundary.
    fn run(&self, start: usize) -> &str {
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default()
    }

    /// After `\u`: one character, joining a surrogate pair.
    fn unicode_escape(&mut self) -> Res<char> {
        let hi = self.hex4()?;
        match hi {
            0xd800..=0xdbff => {
                if !self.eat(b"\\u") {
                    return Err(self.err("lone surrogate in \\u escape"));
                }
                let lo = self.hex4()?;
                surrogate_pair(hi, lo).ok_or_else(|| self.err("lone surrogate in \\u escape"))
            }
            0xdc00..=0xdfff => Err(self.err("lone surrogate in \\u escape")),
            cp => char::from_u32(cp).ok_or_else(|| self.err("invalid \\u escape")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Res<Members> {
        LineParser::default().members(line.as_bytes())
    }

    #[test]
    fn both_stages_agree_on_plain_json() {
        let line = r#"{"a": [1, -2, 3.5, "x\u00e9\ud83d\ude00", null, true], "b": {"c": {}}}"#;
        let fast = parse(line).unwrap();
        let slow = Fallback::parse(line.as_bytes()).unwrap();
        assert_eq!(fast, slow);
        assert_eq!(fast[0].1, {
            let items = vec![
                Value::from(1i64),
                Value::from(-2i64),
                Value::from(3.5),
                Value::from("xé😀"),
                Value::Null,
                Value::Bool(true),
            ];
            Value::Array(items)
        });
    }

    #[test]
    fn python_extensions_are_accepted() {
        let m =
            parse(r#"{"n": NaN, "i": Infinity, "j": -Infinity, "big": -1180591620717411303424}"#)
                .unwrap();
        assert!(matches!(m[0].1, Value::Number(Number::Float(f)) if f.is_nan()));
        assert_eq!(m[1].1, Value::from(f64::INFINITY));
        assert_eq!(m[2].1, Value::from(f64::NEG_INFINITY));
        assert_eq!(
            m[3].1,
            Number::from_integer_text("-1180591620717411303424")
                .map(Value::Number)
                .unwrap()
        );
    }

    #[test]
    fn errors_say_what_and_where() {
        let cases = [
            ("", "empty line, expected a JSON object", 0),
            ("[1]", "not a JSON object", 0),
            (r#"{"a": 1"#, "unterminated object", 7),
            (r#"{"a": tru}"#, "unexpected character, expected a value", 6),
            (r#"{"a": "\ud800"}"#, "lone surrogate in \\u escape", 13),
            (r#"{"a": 01}"#, "expected ',' or '}'", 7),
            ("{\"a\": \"\t\"}", "control character in string", 7),
            (r#"{"a": 1} x"#, "unexpected data after the object", 9),
        ];
        for (line, message, offset) in cases {
            let e = parse(line).unwrap_err();
            assert_eq!((e.message.as_str(), e.offset), (message, offset), "{line}");
        }
        let e = LineParser::default()
            .members(b"{\"a\": \"\xff\"}")
            .unwrap_err();
        assert_eq!(e.message, "invalid UTF-8");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 100_000;
        let line = format!("{{\"a\": {}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(parse(&line).unwrap_err().message, "nesting too deep");
        let ok = format!("{{\"a\": {}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&ok).is_ok());
    }
}
