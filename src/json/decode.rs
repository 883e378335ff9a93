//! A parsed line to a typed [`Event`].
//!
//! Two sources feed the same [`Builder`]: simd-json's tape (the fast path:
//! keys are matched straight off the tape, and only values that end up in
//! the event are built) and the fallback parser's member list. Either way
//! the line's top-level keys are visited twice: once to find the last
//! `event_type` (it decides which fields are known), then in source order
//! to fill the event, so for a key given twice the last value wins, as in
//! Python. Envelope keys and the type's own fields must have their schema's
//! JSON type; a wrong type is an error naming the field. Own fields a line
//! lacks take their defaults; envelope keys a line lacks stay absent (they
//! are not written back unless given a value later). Keys the schema does
//! not know, and every field of an unknown `event_type`, go to
//! [`Event::extra`] in order of first appearance.

use simd_json::Node;
use smol_str::SmolStr;

use super::parse::{tape_value, Members};
use super::ParseError;
use crate::event::{Event, FieldType, Kind, ENVELOPE};
use crate::severity::Severity;
use crate::timestamp::Timestamp;
use crate::value::Value;

fn field_err(name: &str, message: String) -> ParseError {
    ParseError::Field {
        field: name.into(),
        message,
    }
}

fn opt_str(name: &str, v: Value) -> Result<Option<SmolStr>, ParseError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(field_err(
            name,
            format!("expected string or null, found {}", other.type_name()),
        )),
    }
}

/// The position of an envelope key in [`ENVELOPE`]; a `match` on the
/// string, which compiles to a switch on the length and one comparison.
#[inline]
fn envelope_index(key: &str) -> Option<usize> {
    match key {
        "timestamp" => Some(0),
        "agent_id" => Some(1),
        "turn_id" => Some(2),
        "session_id" => Some(3),
        "severity" => Some(4),
        "metadata" => Some(5),
        _ => None,
    }
}

/// The last agent, turn and session ids read, so that a log's ids, which
/// repeat line after line, are shared (an inline copy or a reference
/// count) rather than rebuilt from text for every event.
#[derive(Default)]
pub(crate) struct IdCache([SmolStr; 3]);

impl IdCache {
    fn id(&mut self, slot: usize, text: &str) -> SmolStr {
        let cached = &mut self.0[slot];
        if cached.as_str() != text {
            *cached = SmolStr::new(text);
        }
        cached.clone()
    }
}

/// An event being filled from a line's members, in source order.
pub(crate) struct Builder {
    ev: Event,
}

impl Builder {
    /// An event of type `tag` (which must be a string) with every own
    /// field at its default and every envelope key absent.
    fn new(tag: Value) -> Result<Builder, ParseError> {
        let tag = SmolStr::from_value(tag).map_err(|m| field_err("event_type", m))?;
        Ok(Builder::for_tag(&tag))
    }

    /// [`Builder::new`] for a tag already known to be a string.
    pub(crate) fn for_tag(tag: &str) -> Builder {
        Builder {
            ev: Event {
                absent: (1 << ENVELOPE.len()) - 1,
                ..Event::stamped(Kind::with_defaults(tag), Event::absent_timestamp())
            },
        }
    }

    pub(crate) fn finish(self) -> Event {
        self.ev
    }

    /// The kind being filled.
    pub(crate) fn kind(&self) -> &Kind {
        &self.ev.kind
    }

    /// A member whose value is a JSON string, given as its text: string
    /// fields take it without an intermediate [`Value`], and a timestamp
    /// is parsed without copying it first.
    pub(crate) fn set_text(
        &mut self,
        key: &str,
        text: &str,
        ids: &mut IdCache,
    ) -> Result<(), ParseError> {
        if key == "event_type" {
            return Ok(());
        }
        match envelope_index(key) {
            Some(i) => self.set_envelope_text(i, text, ids),
            None => self.set_own_text(key, text),
        }
    }

    /// [`Builder::set_text`] for envelope key `ENVELOPE[i]`.
    #[inline]
    pub(crate) fn set_envelope_text(
        &mut self,
        i: usize,
        text: &str,
        ids: &mut IdCache,
    ) -> Result<(), ParseError> {
        let ev = &mut self.ev;
        ev.absent &= !(1 << i);
        match i {
            0 => ev.timestamp = Timestamp::parse(text),
            1 => ev.agent_id = Some(ids.id(0, text)),
            2 => ev.turn_id = Some(ids.id(1, text)),
            3 => ev.session_id = Some(ids.id(2, text)),
            4 => ev.severity = Severity::from(text),
            _ => {
                return Err(field_err(
                    ENVELOPE[i],
                    "expected object, found string".into(),
                ))
            }
        }
        Ok(())
    }

    /// [`Builder::set_own_text`] for the own field at `index` in schema
    /// order, whose key is `key`.
    #[inline]
    pub(crate) fn set_own_text_at(
        &mut self,
        index: usize,
        key: &str,
        text: &str,
    ) -> Result<(), ParseError> {
        match self.ev.kind.set_text_field_at(index, text) {
            Ok(true) => Ok(()),
            Ok(false) => self.set_own_text(key, text),
            Err(m) => Err(field_err(key, m)),
        }
    }

    /// [`Builder::set_text`] for a key outside the envelope: an own field
    /// of the kind, or else an extra key.
    #[inline]
    pub(crate) fn set_own_text(&mut self, key: &str, text: &str) -> Result<(), ParseError> {
        let ev = &mut self.ev;
        match ev.kind.set_text_field(key, text) {
            Ok(true) => Ok(()),
            Ok(false) => {
                ev.extra
                    .insert(SmolStr::new(key), Value::String(SmolStr::new(text)));
                Ok(())
            }
            Err(m) => Err(field_err(key, m)),
        }
    }

    pub(crate) fn set(&mut self, key: &str, value: Value) -> Result<(), ParseError> {
        if key == "event_type" {
            return Ok(());
        }
        match envelope_index(key) {
            Some(i) => self.set_envelope(i, value),
            None => self.set_own(key, value),
        }
    }

    /// [`Builder::set`] for envelope key `ENVELOPE[i]`.
    pub(crate) fn set_envelope(&mut self, i: usize, value: Value) -> Result<(), ParseError> {
        let ev = &mut self.ev;
        let key = ENVELOPE[i];
        ev.absent &= !(1 << i);
        match i {
            0 => {
                let text = SmolStr::from_value(value).map_err(|m| field_err(key, m))?;
                ev.timestamp = Timestamp::parse(&text);
            }
            1 => ev.agent_id = opt_str(key, value)?,
            2 => ev.turn_id = opt_str(key, value)?,
            3 => ev.session_id = opt_str(key, value)?,
            4 => {
                let text = SmolStr::from_value(value).map_err(|m| field_err(key, m))?;
                ev.severity = Severity::from(text);
            }
            _ => match value {
                Value::Object(map) => ev.metadata = map,
                other => {
                    return Err(field_err(
                        key,
                        format!("expected object, found {}", other.type_name()),
                    ))
                }
            },
        }
        Ok(())
    }

    /// [`Builder::set`] for a key outside the envelope.
    pub(crate) fn set_own(&mut self, key: &str, value: Value) -> Result<(), ParseError> {
        let ev = &mut self.ev;
        match ev.kind.set_field(key, value) {
            Ok(None) => Ok(()),
            Ok(Some(value)) => {
                ev.extra.insert(SmolStr::new(key), value);
                Ok(())
            }
            Err(m) => Err(field_err(key, m)),
        }
    }
}

/// From the fallback parser's members.
pub(crate) fn event(members: Members) -> Result<Event, ParseError> {
    let tag = members
        .iter()
        .rev()
        .find(|(k, _)| k == "event_type")
        .ok_or(ParseError::MissingEventType)?;
    let mut b = Builder::new(tag.1.clone())?;
    let mut members = members;
    let mut last = None;
    for i in 0..members.len() {
        let value = std::mem::take(&mut members[i].1);
        if let Err(e) = b.set(&members[i].0, value) {
            // A key given again later: that value is the one that counts.
            let last =
                last.get_or_insert_with(|| LastIndex::new(members.iter().map(|(k, _)| k.clone())));
            if !last.again(&members[i].0, i) {
                return Err(e);
            }
        }
    }
    Ok(b.ev)
}

/// Each key's last position among an object's members; built only when a
/// value is refused, to tell whether a later one replaces it (as Python's
/// `json` keeps the last of a repeated key).
struct LastIndex<K>(std::collections::HashMap<K, usize>);

impl<K: std::hash::Hash + Eq + std::borrow::Borrow<str>> LastIndex<K> {
    fn new(keys: impl Iterator<Item = K>) -> Self {
        LastIndex(keys.enumerate().map(|(i, k)| (k, i)).collect())
    }

    /// Whether `key`, found at member `i`, comes again later.
    fn again(&self, key: &str, i: usize) -> bool {
        self.0.get(key).is_some_and(|&last| last > i)
    }
}

/// The keys of the `count` members of the object whose first key is at
/// `at`.
fn tape_keys<'a>(
    nodes: &'a [Node<'a>],
    mut at: usize,
    count: usize,
) -> impl Iterator<Item = &'a str> {
    (0..count).map(move |_| {
        let key = match nodes[at] {
            Node::String(k) => k,
            _ => "",
        };
        at = skip(nodes, at + 1);
        key
    })
}

/// The index just after the value that starts at `at`: the tape records
/// how many nodes a container spans, so this is O(1).
#[inline]
pub(crate) fn skip(nodes: &[Node<'_>], at: usize) -> usize {
    match nodes[at] {
        Node::Array { count, .. } | Node::Object { count, .. } => at + 1 + count,
        _ => at + 1,
    }
}

/// From simd-json's tape. `None` when the root is not an object (the
/// fallback parser then says what is wrong).
pub(crate) fn from_tape(
    nodes: &[Node<'_>],
    ids: &mut IdCache,
) -> Option<Result<Event, ParseError>> {
    let Some(&Node::Object { len, .. }) = nodes.first() else {
        return None;
    };
    let mut tag = None;
    let mut at = 1;
    for _ in 0..len {
        let Node::String(key) = nodes[at] else {
            return None;
        };
        if key == "event_type" {
            tag = Some(at + 1);
        }
        at = skip(nodes, at + 1);
    }
    let Some(tag) = tag else {
        return Some(Err(ParseError::MissingEventType));
    };
    let mut b = match Builder::new(tape_value(nodes, tag).0) {
        Ok(b) => b,
        Err(e) => return Some(Err(e)),
    };
    let mut at = 1;
    let mut last = None;
    for i in 0..len {
        let Node::String(key) = nodes[at] else {
            return None;
        };
        if key == "event_type" {
            at = skip(nodes, at + 1);
            continue;
        }
        let result = match nodes[at + 1] {
            Node::String(text) => {
                at += 2;
                b.set_text(key, text, ids)
            }
            _ => {
                let (value, next) = tape_value(nodes, at + 1);
                at = next;
                b.set(key, value)
            }
        };
        if let Err(e) = result {
            // A key given again later: that value is the one that counts.
            let last = last.get_or_insert_with(|| LastIndex::new(tape_keys(nodes, 1, len)));
            if !last.again(key, i) {
                return Some(Err(e));
            }
        }
    }
    Some(Ok(b.ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_index_agrees_with_the_schema() {
        for (i, key) in ENVELOPE.iter().enumerate() {
            assert_eq!(envelope_index(key), Some(i));
        }
        assert_eq!(envelope_index("event_type"), None);
        assert_eq!(envelope_index("tool_name"), None);
    }

    /// `skip` jumps exactly over nested values of every shape.
    #[test]
    fn skip_lands_on_the_next_key() {
        let line =
            br#"{"a": [1, [2, {"x": [3]}], {}], "b": {"c": {"d": [], "e": 1}}, "f": "s", "g": []}"#;
        let mut bytes = line.to_vec();
        let tape = simd_json::to_tape(&mut bytes).unwrap();
        let nodes = &tape.0;
        let Node::Object { len, .. } = nodes[0] else {
            panic!()
        };
        let mut keys = vec![];
        let mut at = 1;
        for _ in 0..len {
            let Node::String(k) = nodes[at] else {
                panic!("not a key at {at}")
            };
            keys.push(k.to_string());
            let (_, by_walk) = tape_value(nodes, at + 1);
            at = skip(nodes, at + 1);
            assert_eq!(at, by_walk, "after {k}");
        }
        assert_eq!(keys, ["a", "b", "f", "g"]);
        assert_eq!(at, nodes.len());
    }
}
