//! A sample's resource metadata: a small ordered map with mostly static keys.
//!
//! Every polled sample carries one, so it is built a few hundred thousand times per cycle.
//! As a `serde_json::Map` each key was its own `String` and each insert a SipHash and an
//! index-map insert; here pollsters' keys are `&'static str` (no allocation) and the dozen
//! entries of a sample live in one vector, searched linearly. Order is insertion order,
//! Python's dict order, which the wire forms and the signature depend on.

use std::borrow::Cow;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A metadata key: static for the pollsters' own names, owned for names from data
/// (dynamic pollster definitions, decoded spools).
pub type MetaKey = Cow<'static, str>;

/// Ordered `{key: value}` metadata. Inserting an existing key replaces its value in place,
/// as a Python dict (and `serde_json::Map` with `preserve_order`) does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    entries: Vec<(MetaKey, Value)>,
}

impl Metadata {
    /// Empty.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Empty, with room for `n` keys (a pollster knows how many it sets).
    pub fn with_capacity(n: usize) -> Metadata {
        Metadata {
            entries: Vec::with_capacity(n),
        }
    }

    /// Sets `k` to `v`, keeping `k`'s position when it is already there; returns the old
    /// value.
    pub fn insert(&mut self, k: MetaKey, v: Value) -> Option<Value> {
        match self.entries.iter_mut().find(|(n, _)| *n == k) {
            Some((_, old)) => Some(std::mem::replace(old, v)),
            None => {
                self.entries.push((k, v));
                None
            }
        }
    }

    /// The value of `k`.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }

    /// The value of `k`, to change it.
    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v)
    }

    /// Whether `k` is set.
    pub fn contains_key(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    /// Removes `k`, keeping the others' order.
    pub fn remove(&mut self, k: &str) -> Option<Value> {
        let i = self.entries.iter().position(|(n, _)| n == k)?;
        Some(self.entries.remove(i).1)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// As a JSON object (for the wire dicts, which nest it).
    pub fn to_map(&self) -> Map<String, Value> {
        self.entries
            .iter()
            .map(|(k, v)| (k.clone().into_owned(), v.clone()))
            .collect()
    }

    /// As a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.to_map())
    }
}

impl From<Map<String, Value>> for Metadata {
    fn from(m: Map<String, Value>) -> Metadata {
        Metadata {
            entries: m.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect(),
        }
    }
}

impl<K: Into<MetaKey>> FromIterator<(K, Value)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(it: I) -> Metadata {
        let mut m = Metadata::new();
        for (k, v) in it {
            m.insert(k.into(), v);
        }
        m
    }
}

impl std::ops::Index<&str> for Metadata {
    type Output = Value;
    /// `null` for a missing key, as `serde_json::Map`'s `Value` indexing gives.
    fn index(&self, k: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(k).unwrap_or(&NULL)
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            m.serialize_entry(&**k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
        Map::<String, Value>::deserialize(d).map(Metadata::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_insertion_order_and_replaces_in_place() {
        let mut m = Metadata::new();
        m.insert("b".into(), Value::from(1));
        m.insert(String::from("a").into(), Value::from(2));
        assert_eq!(m.insert("b".into(), Value::from(3)), Some(Value::from(1)));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"b":3,"a":2}"#);
        assert_eq!(m["a"], Value::from(2));
        assert_eq!(m["zz"], Value::Null);
        let back: Metadata = serde_json::from_str(r#"{"b":3,"a":2}"#).unwrap();
        assert_eq!(back, m);
        assert_eq!(m.to_value(), serde_json::json!({"b": 3, "a": 2}));
        assert_eq!(m.remove("b"), Some(Value::from(3)));
        assert_eq!((m.len(), m.contains_key("b")), (1, false));
    }
}
