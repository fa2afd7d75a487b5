//! `message_signature`: HMAC-SHA256 over the sorted, flattened meter dict (Ceilometer's
//! `publisher/utils.py` `compute_signature` + `recursive_keypairs` + `decode_unicode`).

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::pyrepr::{leaf_str, Flavor};

/// Sign a meter dict. An empty secret gives `""`, as upstream.
///
/// Keys are walked sorted at every level; nested dicts are flattened with `:` (an empty dict
/// contributes nothing); a key named `message_signature` is skipped; each leaf contributes its
/// key, then Python's `str()` of its value.
pub fn compute_signature(message: &Map<String, Value>, secret: &str, flavor: Flavor) -> String {
    if secret.is_empty() {
        return String::new();
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC accepts keys of any length; this cannot happen.
        return String::new();
    };
    let mut name = String::new();
    let mut text = String::new();
    walk(&mut mac, message, &mut name, &mut text, flavor);
    hex::encode(mac.finalize().into_bytes())
}

fn walk(
    mac: &mut Hmac<Sha256>,
    map: &Map<String, Value>,
    prefix: &mut String,
    text: &mut String,
    flavor: Flavor,
) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let value = &map[key.as_str()];
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(':');
        }
        prefix.push_str(key);
        match value {
            Value::Object(inner) => walk(mac, inner, prefix, text, flavor),
            _ if prefix == "message_signature" => {}
            _ => {
                text.clear();
                leaf_str(text, value, flavor);
                mac.update(prefix.as_bytes());
                mac.update(text.as_bytes());
            }
        }
        prefix.truncate(len);
    }
}
