//! YAML → a small node type with line numbers (as `ceilometer_config::polling` does), and
//! YAML → JSON for the values that are data (`skip_sample_values`, `value_mapping`, ...).

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value as Json};

/// A YAML value with its 1-based line.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub line: usize,
    pub val: Val,
}

#[derive(Debug, Clone)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries with `str()` keys, and the keys as typed scalars (same order).
    Map(Vec<(String, Node)>, Vec<Val>),
    Other,
}

pub(crate) fn load(text: &str) -> Result<Option<Node>, (usize, String)> {
    match MarkedYaml::load_from_str(text) {
        Ok(docs) => Ok(docs.first().map(convert)),
        Err(e) => {
            let m = e.marker();
            Err((
                m.line(),
                format!("invalid YAML: {} (column {})", e.info(), m.col() + 1),
            ))
        }
    }
}

fn convert(y: &MarkedYaml<'_>) -> Node {
    let line = y.span.start.line();
    let val = match &y.data {
        YamlData::Value(s) => scalar(s),
        YamlData::Representation(text, _, _) => scalar(&Scalar::parse_from_cow(text.clone())),
        YamlData::Sequence(items) => Val::Seq(items.iter().map(convert).collect()),
        YamlData::Mapping(map) => {
            let keys: Vec<Val> = map.iter().map(|(k, _)| convert(k).val).collect();
            Val::Map(
                map.iter()
                    .zip(&keys)
                    .map(|((_, v), k)| (key_str(k), convert(v)))
                    .collect(),
                keys,
            )
        }
        YamlData::Tagged(tag, inner) => {
            let inner = convert(inner);
            match (tag.handle.as_str(), inner.val) {
                ("tag:yaml.org,2002:", v) => v,
                _ => Val::Other,
            }
        }
        _ => Val::Other,
    };
    Node { line, val }
}

fn scalar(s: &Scalar<'_>) -> Val {
    match s {
        Scalar::Null => Val::Null,
        Scalar::Boolean(b) => Val::Bool(*b),
        Scalar::Integer(i) => Val::Int(*i),
        Scalar::FloatingPoint(f) => Val::Float(f.into_inner()),
        Scalar::String(s) => Val::Str(s.to_string()),
    }
}

/// Python's `str()` of a scalar mapping key (PyYAML keeps keys typed; we only need text
/// for definition keys, and JSON data goes through [`Node::to_json`]).
fn key_str(v: &Val) -> String {
    match v {
        Val::Null => "None".into(),
        Val::Bool(true) => "True".into(),
        Val::Bool(false) => "False".into(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => sample::pyrepr::float_repr(*f),
        Val::Str(s) => s.clone(),
        Val::Seq(_) | Val::Map(..) | Val::Other => String::new(),
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.val {
            Val::Map(m, _) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match &self.val {
            Val::Null => "null",
            Val::Bool(_) => "a boolean",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a float",
            Val::Str(_) => "a string",
            Val::Seq(_) => "a list",
            Val::Map(..) => "a mapping",
            Val::Other => "an unsupported YAML node",
        }
    }

    /// A scalar as text (`str()`), `None` for null/containers.
    pub fn scalar_str(&self) -> Option<String> {
        match &self.val {
            Val::Null | Val::Seq(_) | Val::Map(..) | Val::Other => None,
            v => Some(key_str(v)),
        }
    }

    /// As JSON (for data values). Mapping keys become strings.
    pub fn to_json(&self) -> Json {
        match &self.val {
            Val::Null | Val::Other => Json::Null,
            Val::Bool(b) => Json::Bool(*b),
            Val::Int(i) => Json::from(*i),
            Val::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Val::Str(s) => Json::String(s.clone()),
            Val::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Val::Map(m, _) => {
                let mut out = Map::new();
                for (k, v) in m {
                    out.insert(k.clone(), v.to_json());
                }
                Json::Object(out)
            }
        }
    }

    /// As a Python value, keeping non-string mapping keys typed (value_mapping keys may be
    /// ints: `{1: 'up'}` must match an int value, not the string "1").
    pub fn to_py(&self) -> pyexpr::Value {
        use pyexpr::Value as V;
        match &self.val {
            Val::Null | Val::Other => V::None,
            Val::Bool(b) => V::Bool(*b),
            Val::Int(i) => V::Int(*i),
            Val::Float(f) => V::Float(*f),
            Val::Str(s) => V::str(s.as_str()),
            Val::Seq(items) => V::list(items.iter().map(Node::to_py).collect()),
            Val::Map(m, keys) => V::dict(
                m.iter()
                    .zip(keys)
                    .map(|((_, v), k)| {
                        let key = Node {
                            line: 0,
                            val: k.clone(),
                        }
                        .to_py();
                        (key, v.to_py())
                    })
                    .collect(),
            ),
        }
    }
}
