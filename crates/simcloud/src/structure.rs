//! Structural comparison of JSON documents: same keys, value types and nesting.
//!
//! Used by the tests to hold every response against the API reference's own sample.
//! Rules: `null` in the sample matches anything (the reference leaves the type open);
//! `null` in ours matches any sample type (a nullable field, e.g. an unattached floating
//! IP's `port_id`); an empty sample object or array is free-form (`metadata: {}`), and so
//! are objects under the user-defined map keys [`FREE_FORM`]; array
//! elements are compared with the union of the sample's elements, where keys present in
//! only some sample elements are optional.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Keys whose values are user-defined maps in every API (any keys allowed, still objects).
pub const FREE_FORM: [&str; 2] = ["metadata", "attributes"];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences between a sample and our document, one line each; empty = same structure.
/// Keys named in `allow_extra` may appear in ours without being in the sample.
pub fn compare(sample: &Value, ours: &Value, allow_extra: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    walk(sample, None, ours, "$", allow_extra, &mut out);
    out
}

fn walk(
    sample: &Value,
    optional: Option<&BTreeSet<String>>,
    ours: &Value,
    path: &str,
    allow: &[&str],
    out: &mut Vec<String>,
) {
    match (sample, ours) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(s), Value::Object(o)) => {
            if s.is_empty() {
                return;
            }
            for (k, sv) in s {
                match o.get(k) {
                    Some(ov) if FREE_FORM.contains(&k.as_str()) && sv.is_object() => {
                        if !ov.is_object() {
                            out.push(format!(
                                "type of {path}.{k}: sample object but ours {}",
                                type_name(ov)
                            ));
                        }
                    }
                    Some(ov) => walk(sv, None, ov, &format!("{path}.{k}"), allow, out),
                    None if optional.is_some_and(|opt| opt.contains(k)) => {}
                    None => out.push(format!("missing {path}.{k} ({})", type_name(sv))),
                }
            }
            for k in o.keys() {
                if !s.contains_key(k) && !allow.contains(&k.as_str()) {
                    out.push(format!("extra {path}.{k} ({})", type_name(&o[k])));
                }
            }
        }
        (Value::Array(s), Value::Array(o)) => {
            if s.is_empty() {
                return;
            }
            let (merged, opt) = merge(s);
            for (i, ov) in o.iter().enumerate() {
                walk(&merged, Some(&opt), ov, &format!("{path}[{i}]"), allow, out);
            }
        }
        (s, o) => {
            if type_name(s) != type_name(o) {
                out.push(format!(
                    "type of {path}: sample {} but ours {}",
                    type_name(s),
                    type_name(o)
                ));
            }
        }
    }
}

/// The union of array elements and the keys that are not in every element.
fn merge(elems: &[Value]) -> (Value, BTreeSet<String>) {
    if !elems.iter().all(Value::is_object) {
        return (elems[0].clone(), BTreeSet::new());
    }
    let mut merged = Map::new();
    let mut all: BTreeSet<String> = BTreeSet::new();
    let mut everywhere: Option<BTreeSet<String>> = None;
    for e in elems {
        if let Value::Object(o) = e {
            let keys: BTreeSet<String> = o.keys().cloned().collect();
            everywhere = Some(match everywhere {
                None => keys.clone(),
                Some(x) => x.intersection(&keys).cloned().collect(),
            });
            for (k, v) in o {
                all.insert(k.clone());
                let slot = merged.entry(k.clone()).or_insert(Value::Null);
                if slot.is_null() {
                    *slot = v.clone();
                }
            }
        }
    }
    let everywhere = everywhere.unwrap_or_default();
    let optional = all.difference(&everywhere).cloned().collect();
    (Value::Object(merged), optional)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_missing_extra_and_types() {
        let s = json!({"a": 1, "b": "x", "c": [{"d": true, "e": 1}, {"d": false}], "n": null});
        let ok = json!({"a": 2, "b": "y", "c": [{"d": true}], "n": [1]});
        assert!(compare(&s, &ok, &[]).is_empty());
        let bad = json!({"a": "2", "c": [{"d": 1, "z": 0}], "n": 1, "q": 0});
        let d = compare(&s, &bad, &[]);
        assert!(
            d.contains(&"type of $.a: sample number but ours string".to_string()),
            "{d:?}"
        );
        assert!(d.contains(&"missing $.b (string)".to_string()), "{d:?}");
        assert!(
            d.contains(&"type of $.c[0].d: sample bool but ours number".to_string()),
            "{d:?}"
        );
        assert!(d.contains(&"extra $.c[0].z (number)".to_string()), "{d:?}");
        assert!(d.contains(&"extra $.q (number)".to_string()), "{d:?}");
        assert!(compare(&s, &bad, &["z", "q"])
            .iter()
            .all(|l| !l.starts_with("extra")));
    }
}
