//! The writer: an [`Event`] straight to JSON bytes, no intermediate tree.
//!
//! Each format is a zero-sized [`Style`] and the event walk is generic over
//! it, so the compiler emits one specialised loop per format with the
//! separators and the escaping inlined. Strings are copied in runs: a
//! 256-entry table says which bytes need an escape, and everything between
//! two such bytes is one `extend_from_slice`.

use smol_str::SmolStr;

use super::float;
use crate::event::{Event, FieldRef, ENVELOPE};
use crate::value::{Map, Number, Value};

pub(crate) trait Style {
    /// Between a key and its value.
    const COLON: &'static [u8];
    /// Between two members or elements.
    const COMMA: &'static [u8];
    /// Escape class of each byte: 0 copies it as is.
    const ESCAPE: &'static [u8; 256];
    fn float(out: &mut Vec<u8>, f: f64);
}

pub(crate) struct Compact;
pub(crate) struct Python;

/// Short escapes; `U` means `\u00XX`, `X` (python only) a non-ASCII char.
const U: u8 = b'u';
const X: u8 = b'x';

const fn table(python: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = U;
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    if python {
        t[0x7f] = U;
        let mut i = 0x80;
        while i < 0x100 {
            t[i] = X;
            i += 1;
        }
    }
    t
}

static COMPACT_ESCAPE: [u8; 256] = table(false);
static PYTHON_ESCAPE: [u8; 256] = table(true);

impl Style for Compact {
    const COLON: &'static [u8] = b":";
    const COMMA: &'static [u8] = b",";
    const ESCAPE: &'static [u8; 256] = &COMPACT_ESCAPE;
    #[inline]
    fn float(out: &mut Vec<u8>, f: f64) {
        float::write_compact(out, f)
    }
}

impl Style for Python {
    const COLON: &'static [u8] = b": ";
    const COMMA: &'static [u8] = b", ";
    const ESCAPE: &'static [u8; 256] = &PYTHON_ESCAPE;
    #[inline]
    fn float(out: &mut Vec<u8>, f: f64) {
        float::write_python(out, f)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
fn push_u_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(unit >> 12 & 0xf) as usize],
        HEX[(unit >> 8 & 0xf) as usize],
        HEX[(unit >> 4 & 0xf) as usize],
        HEX[(unit & 0xf) as usize],
    ]);
}

/// Appends `s` as a quoted JSON string.
#[inline]
pub(crate) fn string<S: Style>(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let class = S::ESCAPE[bytes[i] as usize];
        if class == 0 {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match class {
            U => {
                push_u_escape(out, u32::from(bytes[i]));
                i += 1;
            }
            X => {
                // `s` is valid UTF-8 and `i` is on a char boundary: a
                // non-ASCII lead byte starts a whole character.
                let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                let cp = ch as u32;
                if cp >= 0x1_0000 {
                    let v = cp - 0x1_0000;
                    push_u_escape(out, 0xd800 | (v >> 10));
                    push_u_escape(out, 0xdc00 | (v & 0x3ff));
                } else {
                    push_u_escape(out, cp);
                }
                i += ch.len_utf8();
            }
            short => {
                out.extend_from_slice(&[b'\\', short]);
                i += 1;
            }
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[inline]
fn key<S: Style>(out: &mut Vec<u8>, first: bool, name: &str) {
    if !first {
        out.extend_from_slice(S::COMMA);
    }
    string::<S>(out, name);
    out.extend_from_slice(S::COLON);
}

/// Appends a number.
pub(crate) fn number<S: Style>(out: &mut Vec<u8>, n: &Number) {
    match n {
        Number::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Number::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        Number::Big(text) => out.extend_from_slice(text.as_bytes()),
        Number::Float(f) => S::float(out, *f),
    }
}

fn opt_string<S: Style>(out: &mut Vec<u8>, s: &Option<SmolStr>) {
    match s {
        Some(s) => string::<S>(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn members<S: Style>(out: &mut Vec<u8>, map: &Map, mut first: bool) {
    for (k, v) in map {
        key::<S>(out, first, k);
        value::<S>(out, v);
        first = false;
    }
}

/// Appends any JSON value.
pub(crate) fn value<S: Style>(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => number::<S>(out, n),
        Value::String(s) => string::<S>(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(S::COMMA);
                }
                value::<S>(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            members::<S>(out, map, true);
            out.push(b'}');
        }
    }
}

/// Appends one event as a JSON object followed by `\n`.
pub(crate) fn event<S: Style>(out: &mut Vec<u8>, ev: &Event) {
    out.push(b'{');
    key::<S>(out, true, "event_type");
    string::<S>(out, ev.event_type());
    for (i, name) in ENVELOPE.iter().enumerate() {
        if !ev.has_envelope_key(i) {
            continue;
        }
        key::<S>(out, false, name);
        match i {
            0 => match ev.timestamp.raw_text() {
                // Text kept from a log may need escaping.
                Some(raw) => string::<S>(out, raw),
                None => {
                    out.push(b'"');
                    ev.timestamp.write_iso(out);
                    out.push(b'"');
                }
            },
            1 => opt_string::<S>(out, &ev.agent_id),
            2 => opt_string::<S>(out, &ev.turn_id),
            3 => opt_string::<S>(out, &ev.session_id),
            4 => string::<S>(out, ev.severity.as_str()),
            _ => {
                out.push(b'{');
                members::<S>(out, &ev.metadata, true);
                out.push(b'}');
            }
        }
    }
    ev.kind.for_each_field(|name, field| {
        key::<S>(out, false, name);
        match field {
            FieldRef::Str(s) => string::<S>(out, s),
            FieldRef::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
            FieldRef::Number(n) => number::<S>(out, n),
            FieldRef::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            FieldRef::StrList(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(S::COMMA);
                    }
                    string::<S>(out, item);
                }
                out.push(b']');
            }
        }
    });
    members::<S>(out, &ev.extra, false);
    out.extend_from_slice(b"}\n");
}
