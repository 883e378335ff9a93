//! Members of a parsed line to a typed [`Event`].
//!
//! Keys are matched in source order, so for a key given twice the last
//! value wins, as in Python. Envelope keys and the type's own fields must
//! have their schema's JSON type; a wrong type is an error naming the field.
//! Own fields a line lacks take their defaults; envelope keys a line lacks
//! stay absent (they are not written back). Keys the schema does not know,
//! and every field of an unknown `event_type`, go to [`Event::extra`] in
//! order of first appearance.

use smol_str::SmolStr;

use super::parse::Members;
use super::ParseError;
use crate::event::{Event, FieldType, Kind, ENVELOPE};
use crate::severity::Severity;
use crate::timestamp::Timestamp;
use crate::value::{Map, Value};

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

pub(crate) fn event(members: Members) -> Result<Event, ParseError> {
    let tag = members
        .iter()
        .rev()
        .find(|(k, _)| k == "event_type")
        .ok_or(ParseError::MissingEventType)?;
    let tag = SmolStr::from_value(tag.1.clone()).map_err(|m| field_err("event_type", m))?;
    let kind = Kind::with_defaults(&tag);
    let mut ev = Event {
        timestamp: Timestamp::from_unix_micros(0),
        agent_id: None,
        turn_id: None,
        session_id: None,
        severity: kind.default_severity(),
        metadata: Map::new(),
        kind,
        extra: Map::new(),
        absent: (1 << ENVELOPE.len()) - 1,
    };
    for (key, value) in members {
        if key == "event_type" {
            continue;
        }
        if let Some(i) = ENVELOPE.iter().position(|e| *e == key) {
            ev.absent &= !(1 << i);
            match i {
                0 => {
                    let text = SmolStr::from_value(value).map_err(|m| field_err(&key, m))?;
                    ev.timestamp = Timestamp::parse(&text);
                }
                1 => ev.agent_id = opt_str(&key, value)?,
                2 => ev.turn_id = opt_str(&key, value)?,
                3 => ev.session_id = opt_str(&key, value)?,
                4 => {
                    let text = SmolStr::from_value(value).map_err(|m| field_err(&key, m))?;
                    ev.severity = Severity::from(text);
                }
                _ => match value {
                    Value::Object(map) => ev.metadata = map,
                    other => {
                        return Err(field_err(
                            &key,
                            format!("expected object, found {}", other.type_name()),
                        ))
                    }
                },
            }
            continue;
        }
        match ev.kind.set_field(&key, value) {
            Ok(None) => {}
            Ok(Some(value)) => {
                ev.extra.insert(key, value);
            }
            Err(m) => return Err(field_err(&key, m)),
        }
    }
    Ok(ev)
}
