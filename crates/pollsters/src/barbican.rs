//! Credentials of non-OpenStack dynamic pollsters kept in Barbican (spec §3.1 `barbican`
//! discovery, §3.4 `barbican_secret_id`): `GET <key-manager>/v1/secrets/<id>/payload` with
//! the agent's Keystone token, once per secret per cycle (shared by every pollster using
//! it), then the definition's [`dynamic::SecretForm`] turns the payload into request
//! headers.
//!
//! Differences from upstream, on purpose:
//! - the payload path is appended to the catalog URL (upstream's `urljoin` with an absolute
//!   path dropped a path-prefixed endpoint such as devstack's `http://host/key-manager`);
//! - the payload is credentials only: it is never a partition key, a log field nor an error
//!   message (upstream used its `bytes` repr as the partition key);
//! - no `key-manager` endpoint, an unknown secret or a refused request is a warning and an
//!   error counted under `key-manager`; the pollster is skipped for the cycle.

use std::sync::Arc;

use dynamic::BarbicanSecret;
use reqwest::header::{HeaderName, HeaderValue};

use crate::engine::{Cycle, Inner};
use crate::error::ApiError;
use crate::meter::Failure;

/// Catalog type of Barbican (upstream hard-codes it too; there is no `[service_types]`
/// option for it). Also the key of its errors in `CycleReport::errors`.
pub(crate) const SERVICE: &str = "key-manager";

/// A secret's payload. Its `Debug` never shows the bytes, so it cannot reach a log line.
pub(crate) struct Payload(Vec<u8>);

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload(<{} bytes redacted>)", self.0.len())
    }
}

/// `<endpoint>/v1/secrets/<id>/payload` (a catalog URL that already ends in `/v1` keeps it
/// once).
pub(crate) fn payload_url(endpoint: &str, secret_id: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/secrets/{secret_id}/payload")
}

async fn fetch(inner: &Inner, secret_id: &str) -> Result<Payload, Failure> {
    let ep = inner.api.endpoint(SERVICE).await?.ok_or_else(|| {
        Failure::Api(ApiError::Keystone(format!(
            "no {SERVICE} (Barbican) endpoint in the catalog for the configured interface and region"
        )))
    })?;
    let url = payload_url(&ep, secret_id);
    let timeout = inner.api.http.timeout();
    // Barbican serves payloads as text/plain or application/octet-stream only (406
    // otherwise); credentials are text.
    let accept = [(
        reqwest::header::ACCEPT,
        HeaderValue::from_static("text/plain"),
    )];
    let reply = inner.api.get_with(SERVICE, &url, &accept, timeout).await?;
    Ok(Payload(reply.body.to_vec()))
}

/// The payload of `secret_id`, read once per cycle. A failure is logged and counted once
/// (by the first pollster asking) and is `None` for every pollster of the cycle.
async fn payload(inner: &Inner, cy: &Cycle<'_>, secret_id: &str) -> Option<Arc<Payload>> {
    let key: Arc<str> = Arc::from(secret_id);
    let cell = cy.secrets.cell(&key);
    let res = cell
        .get_or_init(|| async {
            let r = fetch(inner, secret_id).await.map(Arc::new);
            if let Err(e) = &r {
                let e = match e {
                    Failure::Api(e) if e.is_not_found() => {
                        format!("{e} (no such secret, or not readable by the agent's project)")
                    }
                    Failure::Api(e) => e.to_string(),
                    Failure::BadData(e) => e.clone(),
                };
                tracing::warn!(secret_id, error = %e, "Cannot read the Barbican secret holding dynamic pollster credentials; its pollsters are skipped this cycle");
                cy.error(SERVICE);
            }
            r
        })
        .await;
    res.as_ref().ok().cloned()
}

/// Request headers carrying `dp`'s credentials from Barbican, or `None` (logged, counted)
/// when the secret cannot be read or does not fit the declared form.
pub(crate) async fn auth_headers(
    inner: &Inner,
    cy: &Cycle<'_>,
    pollster: &'static str,
    secret: &BarbicanSecret,
) -> Option<Vec<(HeaderName, HeaderValue)>> {
    let p = payload(inner, cy, &secret.secret_id).await?;
    match secret.form.credentials(&p.0) {
        Ok(a) => {
            let h = crate::dynpoll::auth_headers(pollster, Some(&a));
            if h.is_empty() {
                // Logged by auth_headers (without the value).
                cy.skip(1);
                return None;
            }
            Some(h)
        }
        Err(e) => {
            tracing::warn!(pollster, secret_id = %secret.secret_id, error = %e, "Barbican secret does not hold credentials of the declared form; pollster skipped this cycle");
            cy.skip(1);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_url_appends_to_the_endpoint() {
        assert_eq!(
            payload_url("http://h:9311", "abc"),
            "http://h:9311/v1/secrets/abc/payload"
        );
        assert_eq!(
            payload_url("http://h:9311/v1/", "abc"),
            "http://h:9311/v1/secrets/abc/payload"
        );
        assert_eq!(
            payload_url("http://h/key-manager/", "abc"),
            "http://h/key-manager/v1/secrets/abc/payload"
        );
    }

    #[test]
    fn payload_debug_is_redacted() {
        let p = Payload(b"t0ps3cret".to_vec());
        let d = format!("{p:?}");
        assert!(!d.contains("t0ps3cret"), "{d}");
        assert!(d.contains("9 bytes"));
    }
}
