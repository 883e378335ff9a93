//! [`Map`]: an ordered JSON object that costs one pointer while empty.
//!
//! Nearly every event carries an empty `metadata` and an empty `extra`, and
//! nearly every value in a log is not an object, yet an [`IndexMap`] is
//! 72 bytes inline. Two of them made an [`Event`](crate::Event) 384 bytes,
//! of which 144 were nearly always empty maps, and made every [`Value`] 72
//! bytes. A `Map` is `Option<Box<IndexMap>>`: 8 bytes, no allocation until
//! the first insert. Events are 256 bytes and values 32, which is two cache
//! lines fewer for every event moved through the sink's queue or stored in
//! memory.
//!
//! A `Map` dereferences to the [`IndexMap`], so reading and writing use its
//! whole API (`get`, `insert`, `iter`, `map["key"]`, ...). Reading an empty
//! map borrows one shared empty `IndexMap`; the first mutable use allocates.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use indexmap::IndexMap;
use smol_str::SmolStr;

use super::Value;

/// What a [`Map`] holds once it is not empty.
pub type Entries = IndexMap<SmolStr, Value>;

/// An ordered JSON object: keys in insertion order; a duplicate key keeps
/// the first position and takes the last value. Equality, like
/// [`IndexMap`]'s, ignores order.
///
/// ```
/// use agent_audit::{Map, Value};
///
/// let mut m = Map::new();
/// assert!(m.is_empty());
/// m.insert("b".into(), Value::from(1i64));
/// m.insert("a".into(), Value::from(2i64));
/// m.insert("b".into(), Value::from(3i64));
/// let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
/// assert_eq!(keys, ["b", "a"]);
/// assert_eq!(m["b"], Value::from(3i64));
/// ```
#[derive(Clone, Default)]
pub struct Map(Option<Box<Entries>>);

fn no_entries() -> &'static Entries {
    static EMPTY: OnceLock<Entries> = OnceLock::new();
    EMPTY.get_or_init(Entries::new)
}

impl Map {
    /// An empty map; allocates nothing.
    pub const fn new() -> Map {
        Map(None)
    }

    /// An empty map with room for `n` entries (nothing is allocated for 0).
    pub fn with_capacity(n: usize) -> Map {
        match n {
            0 => Map(None),
            n => Map(Some(Box::new(Entries::with_capacity(n)))),
        }
    }

    /// The entries, by value.
    pub fn into_entries(self) -> Entries {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl Deref for Map {
    type Target = Entries;

    #[inline]
    fn deref(&self) -> &Entries {
        match &self.0 {
            Some(entries) => entries,
            None => no_entries(),
        }
    }
}

impl DerefMut for Map {
    #[inline]
    fn deref_mut(&mut self) -> &mut Entries {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl From<Entries> for Map {
    fn from(entries: Entries) -> Map {
        if entries.is_empty() && entries.capacity() == 0 {
            Map(None)
        } else {
            Map(Some(Box::new(entries)))
        }
    }
}

impl From<Map> for Entries {
    fn from(map: Map) -> Entries {
        map.into_entries()
    }
}

impl FromIterator<(SmolStr, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (SmolStr, Value)>>(iter: I) -> Map {
        Map::from(iter.into_iter().collect::<Entries>())
    }
}

impl Extend<(SmolStr, Value)> for Map {
    fn extend<I: IntoIterator<Item = (SmolStr, Value)>>(&mut self, iter: I) {
        let mut iter = iter.into_iter().peekable();
        if iter.peek().is_some() {
            (**self).extend(iter);
        }
    }
}

impl IntoIterator for Map {
    type Item = (SmolStr, Value);
    type IntoIter = indexmap::map::IntoIter<SmolStr, Value>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_entries().into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a SmolStr, &'a Value);
    type IntoIter = indexmap::map::Iter<'a, SmolStr, Value>;

    fn into_iter(self) -> Self::IntoIter {
        (**self).iter()
    }
}

impl<'a> IntoIterator for &'a mut Map {
    type Item = (&'a SmolStr, &'a mut Value);
    type IntoIter = indexmap::map::IterMut<'a, SmolStr, Value>;

    fn into_iter(self) -> Self::IntoIter {
        (**self).iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_maps_allocate_nothing_and_compare_equal() {
        assert_eq!(std::mem::size_of::<Map>(), 8);
        let a = Map::new();
        let mut b = Map::new();
        b.insert("k".into(), Value::Null);
        b.shift_remove("k");
        assert!(a.0.is_none() && b.0.is_some());
        assert_eq!(a, b);
        assert_eq!(Map::with_capacity(0).0, None);
        assert!(a.iter().next().is_none());
        let collected: Map = Vec::<(SmolStr, Value)>::new().into_iter().collect();
        assert!(collected.0.is_none());
        let mut extended = Map::new();
        extended.extend(Vec::<(SmolStr, Value)>::new());
        assert!(extended.0.is_none());
    }

    #[test]
    fn order_and_last_value_survive_every_conversion() {
        let m: Map = [("z", 1i64), ("a", 2), ("z", 3)]
            .into_iter()
            .map(|(k, v)| (SmolStr::from(k), Value::from(v)))
            .collect();
        let back: Vec<(SmolStr, Value)> = m.clone().into_iter().collect();
        assert_eq!(
            back,
            [
                ("z".into(), Value::from(3i64)),
                ("a".into(), Value::from(2i64))
            ]
        );
        let entries: Entries = m.clone().into();
        assert_eq!(Map::from(entries), m);
        let mut n = m.clone();
        for (_, v) in &mut n {
            *v = Value::Null;
        }
        assert_eq!(n["z"], Value::Null);
        assert_eq!((&m).into_iter().count(), 2);
    }
}
