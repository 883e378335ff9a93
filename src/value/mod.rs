//! Ordered JSON values for event metadata and for keys the schema does not
//! know.
//!
//! The reference is Python, whose `dict` keeps insertion order and whose
//! `int` has no size limit. [`Value`] keeps both properties so that a log
//! read and written again is unchanged:
//!
//! * objects are a [`Map`] (an `IndexMap` behind one pointer) in source order; a duplicate
//!   key replaces the earlier value *in its original position*, exactly as
//!   `json.loads` does;
//! * integers that fit neither `i64` nor `u64` are kept as their decimal
//!   text ([`Number::Big`]) and written back digit for digit;
//! * a float stays a float (`100.0` does not become `100`) and non-finite
//!   floats survive (`NaN`, `Infinity` in the python format).

use smol_str::SmolStr;

mod map;

pub use map::{Entries, Map};

/// An integer beyond 64 bits, kept as its exact decimal text.
///
/// Only canonical text can be held (an optional `-`, then digits without
/// leading zeros), so whatever is written is valid JSON and reads back the
/// same.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BigInt(Box<str>);

impl BigInt {
    /// The integer in `text`, if `text` is canonical decimal: an optional
    /// `-` and digits, no leading zero (`0` itself excepted).
    pub fn parse(text: &str) -> Option<BigInt> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        canonical.then(|| BigInt(text.into()))
    }

    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON number as Python would hold it: an integer of any size or a float.
#[derive(Clone, Debug)]
pub enum Number {
    /// An integer that fits in `i64`.
    Int(i64),
    /// A non-negative integer above `i64::MAX` that fits in `u64`.
    UInt(u64),
    /// An integer beyond 64 bits, kept exactly.
    Big(BigInt),
    /// A float (`duration_ms` and the like); may be non-finite.
    Float(f64),
}

impl Number {
    /// The value as an `f64` (big integers are rounded).
    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::UInt(u) => u as f64,
            Number::Big(ref b) => b.as_str().parse().unwrap_or(f64::NAN),
            Number::Float(f) => f,
        }
    }

    /// The value as an `i64` when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Number::Int(i) => Some(i),
            Number::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    /// Builds a number from decimal integer text of any length, in the
    /// smallest exact representation. Leading zeros are dropped (`-007`
    /// is `-7`).
    ///
    /// Returns `None` if `text` is not an optional `-` followed by ASCII
    /// digits.
    pub fn from_integer_text(text: &str) -> Option<Number> {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Some(Number::Int(0));
        }
        let canonical = if neg {
            format!("-{digits}")
        } else {
            digits.to_string()
        };
        if let Ok(i) = canonical.parse::<i64>() {
            return Some(Number::Int(i));
        }
        if let Ok(u) = canonical.parse::<u64>() {
            return Some(Number::UInt(u));
        }
        BigInt::parse(&canonical).map(Number::Big)
    }
}

/// Floats compare by bit pattern so that `NaN == NaN` and `0.0 != -0.0`:
/// the equality a round-trip test needs. NaNs are equal but for the one a
/// field read as `null` holds, which is written differently.
impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::UInt(a), Number::UInt(b)) => a == b,
            (Number::Big(a), Number::Big(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => {
                let null = |f: &f64| f.to_bits() == crate::json::float::NULL.to_bits();
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan() && null(a) == null(b))
            }
            _ => false,
        }
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        Number::Float(f)
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        Number::Int(i)
    }
}

impl From<u64> for Number {
    fn from(u: u64) -> Self {
        match i64::try_from(u) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::UInt(u),
        }
    }
}

impl Default for Number {
    /// `0.0`: the default of every float field of the schema.
    fn default() -> Self {
        Number::Float(0.0)
    }
}

/// Any JSON value, with Python's ordering and number semantics.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `null` (Python `None`).
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(SmolStr),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in order.
    Object(Map),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// A short name of the JSON type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(Number::Float(_)) => "float",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $arm:expr),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                let f: fn($t) -> Value = $arm;
                f(v)
            }
        }
    )*};
}

value_from! {
    bool => Value::Bool,
    i32 => |v| Value::Number(Number::Int(v.into())),
    i64 => |v| Value::Number(Number::Int(v)),
    u32 => |v| Value::Number(Number::Int(v.into())),
    u64 => |v| Value::Number(v.into()),
    usize => |v| Value::Number((v as u64).into()),
    f64 => |v| Value::Number(Number::Float(v)),
    Number => Value::Number,
    &str => |v| Value::String(v.into()),
    String => |v| Value::String(v.into()),
    SmolStr => Value::String,
    Map => Value::Object,
    Vec<Value> => Value::Array,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_text_picks_the_smallest_exact_representation() {
        assert_eq!(Number::from_integer_text("-12"), Some(Number::Int(-12)));
        assert_eq!(
            Number::from_integer_text("18446744073709551615"),
            Some(Number::UInt(u64::MAX))
        );
        assert_eq!(
            Number::from_integer_text("-1180591620717411303424"),
            BigInt::parse("-1180591620717411303424").map(Number::Big)
        );
        assert_eq!(
            Number::from_integer_text("-0001180591620717411303424"),
            BigInt::parse("-1180591620717411303424").map(Number::Big)
        );
        assert_eq!(Number::from_integer_text("-000"), Some(Number::Int(0)));
        assert_eq!(Number::from_integer_text("007"), Some(Number::Int(7)));
        assert_eq!(BigInt::parse("0123"), None);
        assert_eq!(BigInt::parse("12a"), None);
        assert_eq!(Number::from_integer_text("1.5"), None);
        assert_eq!(Number::from_integer_text("-"), None);
    }

    #[test]
    fn float_equality_is_by_bits() {
        assert_eq!(Number::Float(f64::NAN), Number::Float(f64::NAN));
        let null = Number::Float(crate::json::float::NULL);
        assert_ne!(null, Number::Float(f64::NAN), "written as null and NaN");
        assert_eq!(null, null.clone());
        assert_ne!(Number::Float(0.0), Number::Float(-0.0));
        assert_ne!(Number::Float(1.0), Number::Int(1));
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        let mut m = Map::new();
        m.insert("a".into(), 1i64.into());
        m.insert("b".into(), 2i64.into());
        m.insert("a".into(), 3i64.into());
        let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(m["a"], Value::from(3i64));
    }
}
