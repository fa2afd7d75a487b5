//! Barbican (key-manager) v1 secrets, as the Secrets API reference and Barbican's code
//! describe them: enough to hand credentials to non-OpenStack dynamic pollsters.
//!
//! - `POST /v1/secrets` (JSON `name`, `payload`, `payload_content_type` `text/plain` or
//!   `application/octet-stream` with `payload_content_encoding: base64`) → 201
//!   `{"secret_ref": ...}` and `Location`.
//! - `GET /v1/secrets/{id}` with `Accept: application/json` → the secret's metadata.
//! - `GET /v1/secrets/{id}/payload` → the raw payload. `Accept` must be one of Barbican's
//!   supported types (`text/plain[;charset=utf-8]`, `application/octet-stream`; none =
//!   `application/octet-stream`), else 406; the response's `Content-Type` is the `Accept`.
//!
//! Every route needs a Keystone token (keystonemiddleware's 401 otherwise). Unknown secrets
//! get Barbican's 404 (`{"code", "title", "description"}` from its `JSONErrorHook`, with its
//! "another castle" message). Secrets are not project-scoped here: any valid token reads any
//! secret (the agent's admin role would in a real cloud).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::Method;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::server::{error, json_resp, set_header, text_resp, unauthorized, Req, Resp, State};
use crate::util::{as_uuid4, derive_id, ts, uuid, TsStyle, BASE_EPOCH};
use crate::Service;

const SVC: Service = Service::KeyManager;

/// Barbican's message for a secret that does not exist (or is not the caller's).
pub const NOT_FOUND: &str = "Not Found. Sorry but your secret is in another castle.";

/// Content types Barbican serves payloads as (`barbican/plugin/util/mime_types.py`).
const PLAIN_TEXT: [&str; 3] = [
    "text/plain",
    "text/plain;charset=utf-8",
    "text/plain; charset=utf-8",
];
const BINARY: &str = "application/octet-stream";

#[derive(Debug, Clone)]
struct Secret {
    name: Option<String>,
    payload: Vec<u8>,
    /// `text/plain` or `application/octet-stream`.
    content_type: &'static str,
    created: String,
}

/// The secrets of the simulated Barbican.
#[derive(Debug, Default)]
pub struct SecretStore {
    secrets: Mutex<BTreeMap<String, Secret>>,
    counter: AtomicU64,
}

impl SecretStore {
    /// Stores a secret; returns its id (a UUID).
    pub(crate) fn store(
        &self,
        seed: u64,
        name: Option<String>,
        payload: Vec<u8>,
        content_type: &'static str,
    ) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = uuid(as_uuid4(derive_id(u128::from(n), seed ^ 0xBA2B)));
        let created = ts(BASE_EPOCH + n as i64, 0, TsStyle::Micros);
        self.secrets.lock().insert(
            id.clone(),
            Secret {
                name,
                payload,
                content_type,
                created,
            },
        );
        id
    }

    /// Deletes a secret; false when there was none.
    pub(crate) fn delete(&self, id: &str) -> bool {
        self.secrets.lock().remove(id).is_some()
    }

    fn get(&self, id: &str) -> Option<Secret> {
        self.secrets.lock().get(id).cloned()
    }
}

/// Standard base64 (RFC 4648, padding optional), for `payload_content_encoding: base64`.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn secret_ref(r: &Req, id: &str) -> String {
    format!("{}/v1/secrets/{id}", r.base)
}

/// Handles every request under `/key-manager`.
pub(crate) fn handle(st: &State, r: &mut Req) -> Resp {
    if r.auth.is_none() {
        r.op = "unauthenticated";
        return unauthorized(SVC, &st.url);
    }
    let path = r.path.trim_end_matches('/').to_owned();
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    match (r.method.clone(), parts.as_slice()) {
        (Method::POST, ["v1", "secrets"]) => create(st, r),
        (Method::GET, ["v1", "secrets", id]) => {
            r.op = "GET /v1/secrets/{id}";
            let Some(s) = st.secrets.get(id) else {
                return error(SVC, 404, NOT_FOUND);
            };
            if r.header("accept")
                .is_some_and(|a| a.contains("application/json"))
            {
                return json_resp(200, &metadata(r, id, &s));
            }
            // Barbican's deprecated payload route: same rules as /payload.
            payload(r, &s)
        }
        (Method::GET, ["v1", "secrets", id, "payload"]) => {
            r.op = "GET /v1/secrets/{id}/payload";
            match st.secrets.get(id) {
                Some(s) => payload(r, &s),
                None => error(SVC, 404, NOT_FOUND),
            }
        }
        (Method::DELETE, ["v1", "secrets", id]) => {
            r.op = "DELETE /v1/secrets/{id}";
            if st.secrets.delete(id) {
                text_resp(204, "text/plain", "")
            } else {
                error(SVC, 404, NOT_FOUND)
            }
        }
        (_, ["v1", "secrets", ..]) => {
            r.op = "other";
            error(SVC, 405, "The method is not allowed for the requested URL.")
        }
        _ => {
            r.op = "other";
            error(SVC, 404, "The resource could not be found.")
        }
    }
}

fn metadata(r: &Req, id: &str, s: &Secret) -> Value {
    json!({
        "status": "ACTIVE",
        "created": s.created,
        "updated": s.created,
        "expiration": null,
        "algorithm": null,
        "bit_length": null,
        "mode": null,
        "name": s.name,
        "secret_ref": secret_ref(r, id),
        "secret_type": "opaque",
        "content_types": {"default": s.content_type},
    })
}

fn payload(r: &Req, s: &Secret) -> Resp {
    let accept = r
        .header("accept")
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or(BINARY)
        .to_owned();
    let norm = accept.to_ascii_lowercase();
    let ctype: &'static str = if PLAIN_TEXT.contains(&norm.as_str()) {
        if std::str::from_utf8(&s.payload).is_err() {
            // Barbican's denormalisation fails to decode a binary secret as text.
            return error(SVC, 400, "Problem decoding payload");
        }
        "text/plain; charset=utf-8"
    } else if norm == BINARY {
        BINARY
    } else {
        return error(SVC, 406, "Wrong payload content-type");
    };
    let mut resp = text_resp(200, ctype, s.payload.clone());
    set_header(&mut resp, "x-openstack-request-id", "req-simcloud");
    resp
}

fn create(st: &State, r: &mut Req) -> Resp {
    r.op = "POST /v1/secrets";
    let Ok(body) = serde_json::from_slice::<Value>(&r.body) else {
        return error(SVC, 400, "Malformed JSON");
    };
    let name = body.get("name").and_then(Value::as_str).map(str::to_owned);
    let Some(text) = body.get("payload").and_then(Value::as_str) else {
        return error(
            SVC,
            400,
            "Provided object does not match schema 'Secret': simcloud needs a 'payload'",
        );
    };
    let ctype = body
        .get("payload_content_type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let encoding = body.get("payload_content_encoding").and_then(Value::as_str);
    let (payload, content_type) = match (ctype.as_deref(), encoding) {
        (None, _) => {
            return error(
                SVC,
                400,
                "Provided object does not match schema 'Secret': If 'payload' is supplied, 'payload_content_type' must also be supplied.",
            )
        }
        (Some(c), None) if PLAIN_TEXT.contains(&c) => (text.as_bytes().to_vec(), "text/plain"),
        (Some(BINARY), Some("base64")) => match base64_decode(text) {
            Some(b) => (b, BINARY),
            None => return error(SVC, 400, "Problem decoding payload"),
        },
        (Some(c), _) => {
            return error(
                SVC,
                400,
                &format!("Provided object does not match schema 'Secret': payload_content_type {c} with this encoding is not supported"),
            )
        }
    };
    let id = st.secrets.store(st.cfg.seed, name, payload, content_type);
    let href = secret_ref(r, &id);
    let mut resp = json_resp(201, &json!({ "secret_ref": href }));
    set_header(&mut resp, "location", &href);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_rfc4648() {
        assert_eq!(base64_decode("YmVlcg==").unwrap(), b"beer");
        assert_eq!(base64_decode("Zm9vYg").unwrap(), b"foob");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a*b").is_none());
    }
}
