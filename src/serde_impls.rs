//! serde support for the public types.
//!
//! An [`Event`] serialises as the same map the JSON writer produces (keys
//! in schema order), so any serde format gets the schema's shape. Our own
//! writer remains the exact path: serde has no integer beyond 128 bits, so
//! a [`Number::Big`] that large goes through serde as an `f64`.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

use crate::event::{Event, FieldRef, ENVELOPE};
use crate::severity::Severity;
use crate::timestamp::Timestamp;
use crate::value::{Map, Number, Value};

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Number::Int(i) => s.serialize_i64(*i),
            Number::UInt(u) => s.serialize_u64(*u),
            Number::Float(f) => s.serialize_f64(*f),
            Number::Big(big) => {
                let text = big.as_str();
                if let Ok(i) = text.parse::<i128>() {
                    s.serialize_i128(i)
                } else if let Ok(u) = text.parse::<u128>() {
                    s.serialize_u128(u)
                } else {
                    s.serialize_f64(self.as_f64())
                }
            }
        }
    }
}

struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = Number;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
        Ok(Number::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
        Ok(v.into())
    }
    fn visit_i128<E>(self, v: i128) -> Result<Number, E> {
        Ok(Number::from_integer_text(&v.to_string()).unwrap_or(Number::Float(v as f64)))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Number, E> {
        Ok(Number::from_integer_text(&v.to_string()).unwrap_or(Number::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
        Ok(Number::Float(v))
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberVisitor)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(text) => s.serialize_str(text),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k.as_str(), v)?;
                }
                m.end()
            }
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        NumberVisitor.visit_i64(v).map(Value::Number)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        NumberVisitor.visit_u64(v).map(Value::Number)
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        NumberVisitor.visit_i128(v).map(Value::Number)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        NumberVisitor.visit_u128(v).map(Value::Number)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(Number::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some((k, v)) = access.next_entry::<SmolStr, Value>()? {
            map.insert(k, v);
        }
        Ok(Value::Object(map))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SmolStr::deserialize(d).map(Severity::from)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SmolStr::deserialize(d).map(|s| Timestamp::parse(&s))
    }
}

struct FieldSer<'a>(FieldRef<'a>);

impl Serialize for FieldSer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            FieldRef::Str(text) => s.serialize_str(text),
            FieldRef::Int(i) => s.serialize_i64(i),
            FieldRef::Number(n) => n.serialize(s),
            FieldRef::Bool(b) => s.serialize_bool(b),
            FieldRef::StrList(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item.as_str())?;
                }
                seq.end()
            }
        }
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("event_type", self.event_type())?;
        for (i, name) in ENVELOPE.iter().enumerate() {
            if !self.has_envelope_key(i) {
                continue;
            }
            match i {
                0 => m.serialize_entry(name, &self.timestamp)?,
                1 => m.serialize_entry(name, &self.agent_id)?,
                2 => m.serialize_entry(name, &self.turn_id)?,
                3 => m.serialize_entry(name, &self.session_id)?,
                4 => m.serialize_entry(name, &self.severity)?,
                _ => m.serialize_entry(name, &Value::Object(self.metadata.clone()))?,
            }
        }
        let mut result = Ok(());
        self.kind.for_each_field(|name, field| {
            if result.is_ok() {
                result = m.serialize_entry(name, &FieldSer(field));
            }
        });
        result?;
        for (k, v) in &self.extra {
            m.serialize_entry(k.as_str(), v)?;
        }
        m.end()
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an audit event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Event, A::Error> {
        let mut members = Vec::new();
        while let Some(entry) = access.next_entry::<SmolStr, Value>()? {
            members.push(entry);
        }
        crate::json::decode_members(members).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}
