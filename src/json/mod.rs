//! JSON in both of the log's formats: writing events and parsing lines.
//!
//! * [`Format::Compact`] (the default): one object per line, keys in schema
//!   order, no spaces, UTF-8 as is, shortest round-trip floats, non-finite
//!   floats as `null`.
//! * [`Format::Python`]: byte for byte what the reference writes,
//!   `json.dumps(event.to_dict(), default=str) + "\n"`: `", "` and `": "`
//!   separators, every character outside printable ASCII as a lowercase
//!   `\uXXXX` escape (astral characters as surrogate pairs), Python float
//!   `repr`, and `NaN`/`Infinity`.
//!
//! [`parse_line`] reads either format (plus duplicate keys, last wins, and
//! integers of any size) and says what is wrong, and where, otherwise.
//!
//! ```
//! use agent_audit::event::{Event, TurnStart};
//! use agent_audit::json::{self, Format};
//! use agent_audit::Timestamp;
//!
//! let ev = Event::new(TurnStart { prompt_preview: "héllo".into() })
//!     .at(Timestamp::from_unix_micros(1_767_225_600_000_000));
//! let line = json::to_line(&ev, Format::Python);
//! assert_eq!(
//!     line,
//!     "{\"event_type\": \"turn_start\", \"timestamp\": \"2026-01-01T00:00:00+00:00\", \
//!      \"agent_id\": null, \"turn_id\": null, \"session_id\": null, \"severity\": \"info\", \
//!      \"metadata\": {}, \"prompt_preview\": \"h\\u00e9llo\"}\n"
//! );
//! assert_eq!(json::parse_line(line.as_bytes()).unwrap(), ev);
//! ```

mod decode;
mod fast;
pub(crate) mod float;
mod parse;
mod write;

use std::fmt;

use smol_str::SmolStr;

use crate::event::Event;
use crate::value::Value;

pub use parse::MAX_DEPTH;
pub(crate) use write::{copy_bytes, KeyBlocks, View};

/// One of the two line formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Format {
    /// Compact JSON, UTF-8 as is.
    #[default]
    Compact,
    /// Byte-identical to the Python reference.
    Python,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "compact" => Ok(Format::Compact),
            "python" => Ok(Format::Python),
            other => Err(format!(
                "unknown format `{other}` (expected compact or python)"
            )),
        }
    }
}

/// Appends `event` as one line (with its `\n`) to `out`.
#[inline]
pub fn write_event(out: &mut Vec<u8>, event: &Event, format: Format) {
    write_view(out, event, format)
}

/// [`write_event`] for anything the writer can walk: an [`Event`], an
/// [`EventRef`](crate::event::EventRef), the sink's packed copy.
#[inline]
pub(crate) fn write_view<V: View + ?Sized>(out: &mut Vec<u8>, event: &V, format: Format) {
    match format {
        Format::Compact => write::event::<write::Compact, V>(out, event),
        Format::Python => write::event::<write::Python, V>(out, event),
    }
}

/// `event` as one line, `\n` included.
pub fn to_line(event: &Event, format: Format) -> String {
    let mut out = Vec::with_capacity(256);
    write_event(&mut out, event, format);
    // The writer emits only UTF-8: ASCII syntax plus copies of `str` data.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends any JSON value (no newline).
pub fn write_value(out: &mut Vec<u8>, value: &Value, format: Format) {
    match format {
        Format::Compact => write::value::<write::Compact>(out, value),
        Format::Python => write::value::<write::Python>(out, value),
    }
}

/// Why a line is not a valid event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON, or not an object.
    Syntax {
        /// Byte offset within the line.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// A known field has the wrong JSON type.
    Field {
        /// The field's key.
        field: SmolStr,
        /// What is wrong.
        message: String,
    },
    /// The object has no `event_type`.
    MissingEventType,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Syntax { offset, message } => write!(f, "{message} at byte {offset}"),
            ParseError::Field { field, message } => write!(f, "field `{field}`: {message}"),
            ParseError::MissingEventType => f.write_str("missing field `event_type`"),
        }
    }
}

impl std::error::Error for ParseError {}

impl From<parse::SyntaxError> for ParseError {
    fn from(e: parse::SyntaxError) -> Self {
        ParseError::Syntax {
            offset: e.offset,
            message: e.message,
        }
    }
}

/// A reusable line parser: keeps simd-json's buffers between lines.
#[derive(Default)]
pub struct LineParser {
    inner: parse::LineParser,
    /// Where the fast path unescapes strings.
    scratch: String,
    ids: decode::IdCache,
}

impl LineParser {
    /// A parser with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one line, without its terminator (a trailing `\r` is fine).
    ///
    /// Three stages, each taking what the one before leaves: the fast path
    /// for lines of the usual shape (see DESIGN.md, "Parsing"), simd-json,
    /// and a parser of Python's grammar that also words the errors.
    pub fn parse(&mut self, line: &[u8]) -> Result<Event, ParseError> {
        match fast::event(line, &mut self.scratch, &mut self.ids) {
            Some(event) => Ok(event),
            None => self.parse_slow(line),
        }
    }

    /// [`LineParser::parse`] without the fast path: the reference the fast
    /// path is tested and fuzzed against.
    #[doc(hidden)]
    pub fn parse_slow(&mut self, line: &[u8]) -> Result<Event, ParseError> {
        let ids = &mut self.ids;
        match self
            .inner
            .with_tape(line, |nodes| decode::from_tape(nodes, ids))
        {
            Some(result) => result,
            None => decode::event(parse::Fallback::parse(line)?),
        }
    }

    /// Parses one line as a JSON object of any shape (no schema check).
    pub fn parse_object(&mut self, line: &[u8]) -> Result<crate::value::Map, ParseError> {
        let members = self.inner.members(line)?;
        Ok(members.into_iter().collect())
    }
}

pub(crate) fn decode_members(members: Vec<(SmolStr, Value)>) -> Result<Event, ParseError> {
    decode::event(members)
}

/// Parses one line into an event (see [`LineParser`] to parse many).
pub fn parse_line(line: &[u8]) -> Result<Event, ParseError> {
    LineParser::new().parse(line)
}
