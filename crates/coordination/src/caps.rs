//! Member capabilities: the msgpack value stored in each member's field of the group hash.
//!
//! Ours are a msgpack map whose **first** key is `weight` (so the bytes start exactly like
//! tooz's `{'weight': w}`), then `agent`, `key_scheme`, `instance`, then any extra keys the
//! agent sets. Strings are msgpack *str*, as `use_bin_type=True` writes them.

use std::fmt;

use rmpv::Value;

/// The `agent` value that marks a member as one of ours.
pub const AGENT_NAME: &str = "ceilometer-central";
/// Keys this crate owns in the capabilities map; `extra` capabilities may not use them.
pub const RESERVED_KEYS: &[&str] = &["weight", "agent", "key_scheme", "instance"];

/// Encodes a msgpack value to bytes.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

/// Decodes a stored capabilities value. Anything that is not one complete msgpack value
/// (tooz would fail on it too) is returned as `Err` with the reason.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut rd = bytes;
    let v = rmpv::decode::read_value(&mut rd).map_err(|e| e.to_string())?;
    if !rd.is_empty() {
        return Err(format!(
            "{} trailing bytes after the msgpack value",
            rd.len()
        ));
    }
    Ok(v)
}

/// Looks a string key up in a msgpack map.
pub fn get<'a>(caps: &'a Value, key: &str) -> Option<&'a Value> {
    match caps {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// tooz Partitioner's weight rule: a map with an integer `weight` gives that weight
/// (negative gives 0 points, as in tooz); anything else gives 1.
pub fn weight(caps: &Value) -> u32 {
    match get(caps, "weight") {
        Some(Value::Integer(i)) => {
            if let Some(u) = i.as_u64() {
                u32::try_from(u).unwrap_or(u32::MAX)
            } else {
                0
            }
        }
        Some(_) => 1,
        None => 1,
    }
}

/// Builds our capabilities map: `weight`, `agent`, `key_scheme`, `instance`, then `extra`
/// (keys in [`RESERVED_KEYS`] are skipped there; [`crate::Coordinator::update_capabilities`]
/// refuses them).
pub fn ours(weight: u32, key_scheme: &str, instance: &str, extra: &[(String, Value)]) -> Value {
    let mut m = vec![
        (Value::from("weight"), Value::from(weight)),
        (Value::from("agent"), Value::from(AGENT_NAME)),
        (Value::from("key_scheme"), Value::from(key_scheme)),
        (Value::from("instance"), Value::from(instance)),
    ];
    for (k, v) in extra {
        if !RESERVED_KEYS.contains(&k.as_str()) {
            m.push((Value::from(k.as_str()), v.clone()));
        }
    }
    Value::Map(m)
}

/// Why a member is not one of ours (and so kept out of the ring).
#[derive(Clone, Debug, PartialEq)]
pub enum ForeignReason {
    /// The stored bytes are not msgpack.
    Undecodable(String),
    /// The capabilities are not a map (e.g. `None`, tooz 9's default, or `b''`).
    NotAMap(String),
    /// A map without an `agent` key: e.g. a Python ceilometer agent's `{'weight': 1}`.
    NoAgent,
    /// Another `agent`.
    OtherAgent(String),
    /// Our agent, but a different resource-key scheme: it hashes different keys.
    OtherKeyScheme {
        /// The member's scheme (or `None` if absent).
        theirs: Option<String>,
        /// Ours.
        ours: String,
    },
}

impl fmt::Display for ForeignReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForeignReason::Undecodable(e) => write!(f, "capabilities are not msgpack ({e})"),
            ForeignReason::NotAMap(what) => write!(
                f,
                "capabilities are {what}, not a map (a tooz client joined with default capabilities)"
            ),
            ForeignReason::NoAgent => f.write_str(
                "capabilities have no \"agent\" key (a Python ceilometer agent, which hashes str(resource))",
            ),
            ForeignReason::OtherAgent(a) => write!(f, "agent is {a:?}, not {AGENT_NAME:?}"),
            ForeignReason::OtherKeyScheme { theirs, ours } => write!(
                f,
                "resource-key scheme is {theirs:?}, ours is {ours:?}"
            ),
        }
    }
}

fn kind(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Boolean(_) => "a boolean".into(),
        Value::Integer(_) => "an integer".into(),
        Value::F32(_) | Value::F64(_) => "a float".into(),
        Value::String(_) => "a string".into(),
        Value::Binary(b) if b.is_empty() => "empty bytes".into(),
        Value::Binary(_) => "bytes".into(),
        Value::Array(_) => "an array".into(),
        Value::Map(_) => "a map".into(),
        Value::Ext(..) => "an extension value".into(),
    }
}

/// Classifies decoded capabilities: `Ok(())` if the member is ours with our key scheme.
pub fn classify(caps: &Value, key_scheme: &str) -> Result<(), ForeignReason> {
    if !caps.is_map() {
        return Err(ForeignReason::NotAMap(kind(caps)));
    }
    match get(caps, "agent") {
        None => return Err(ForeignReason::NoAgent),
        Some(a) if a.as_str() == Some(AGENT_NAME) => {}
        Some(a) => {
            return Err(ForeignReason::OtherAgent(
                a.as_str().map_or_else(|| a.to_string(), str::to_string),
            ))
        }
    }
    let theirs = get(caps, "key_scheme").and_then(Value::as_str);
    if theirs != Some(key_scheme) {
        return Err(ForeignReason::OtherKeyScheme {
            theirs: theirs.map(str::to_string),
            ours: key_scheme.to_string(),
        });
    }
    Ok(())
}

/// The `instance` token in a capabilities map.
pub fn instance(caps: &Value) -> Option<&str> {
    get(caps, "instance").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn weight_map_bytes_match_tooz() {
        for (w, h) in [
            (1u32, "81a677656967687401"),
            (2, "81a677656967687402"),
            (127, "81a67765696768747f"),
            (128, "81a6776569676874cc80"),
            (256, "81a6776569676874cd0100"),
            (70000, "81a6776569676874ce00011170"),
        ] {
            let v = Value::Map(vec![(Value::from("weight"), Value::from(w))]);
            assert_eq!(hex(&encode(&v)), h);
            assert_eq!(weight(&decode(&unhex(h)).unwrap()), w);
        }
        // Our map starts with the same bytes as tooz's {'weight': 1} minus the map header.
        let ours = encode(&ours(1, "stable-v1", "tok", &[]));
        assert_eq!(ours[0], 0x84);
        assert_eq!(hex(&ours[1..9]), "a677656967687401");
    }

    #[test]
    fn weight_rule() {
        assert_eq!(weight(&decode(&unhex("c0")).unwrap()), 1);
        assert_eq!(weight(&decode(&unhex("c400")).unwrap()), 1);
        assert_eq!(weight(&decode(&unhex("80")).unwrap()), 1);
        // double-encoded (tooz < 1.57.3): bin wrapping a map -> 1
        assert_eq!(
            weight(&decode(&unhex("c40981a677656967687403")).unwrap()),
            1
        );
        let f = Value::Map(vec![(Value::from("weight"), Value::from(2.5))]);
        assert_eq!(weight(&f), 1);
        let n = Value::Map(vec![(Value::from("weight"), Value::from(-3))]);
        assert_eq!(weight(&n), 0);
    }

    #[test]
    fn classification() {
        let ok = ours(
            3,
            "stable-v1",
            "t",
            &[("active_from".into(), Value::from(5))],
        );
        assert_eq!(classify(&ok, "stable-v1"), Ok(()));
        assert_eq!(weight(&ok), 3);
        assert_eq!(instance(&ok), Some("t"));
        assert_eq!(get(&ok, "active_from"), Some(&Value::from(5)));
        assert!(matches!(
            classify(&ok, "other"),
            Err(ForeignReason::OtherKeyScheme { .. })
        ));
        let py = decode(&unhex("81a677656967687401")).unwrap();
        assert_eq!(classify(&py, "stable-v1"), Err(ForeignReason::NoAgent));
        assert!(matches!(
            classify(&Value::Nil, "s"),
            Err(ForeignReason::NotAMap(_))
        ));
        let other = Value::Map(vec![(Value::from("agent"), Value::from("x"))]);
        assert_eq!(
            classify(&other, "s"),
            Err(ForeignReason::OtherAgent("x".into()))
        );
        assert!(decode(&unhex("81a6")).is_err());
        assert!(decode(&unhex("c0c0")).is_err());
    }
}
