//! Keystone for other components: the Gnocchi publisher needs a token and the `metric`
//! endpoint, and must not carry a Keystone client of its own.

use std::sync::Arc;

use reqwest::Method;

use crate::engine::{Engine, Inner};

/// A handle on an engine's Keystone session (token cache shared with the pollsters).
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity")
    }
}

impl Engine {
    /// This engine's Keystone session, for publishers that need a token.
    pub fn identity(&self) -> Identity {
        Identity {
            inner: self.inner().clone(),
        }
    }
}

impl Identity {
    /// A valid token (cached until shortly before expiry). Errors never contain secrets.
    pub async fn token(&self) -> Result<String, String> {
        self.inner
            .api
            .token()
            .await
            .map(|t| t.value().to_owned())
            .map_err(|e| e.to_string())
    }

    /// The catalog URL of `service_type` with the configured interface and region.
    pub async fn endpoint(&self, service_type: &str) -> Result<Option<String>, String> {
        self.inner
            .api
            .endpoint(service_type)
            .await
            .map_err(|e| e.to_string())
    }

    /// Forget the cached token (a service answered 401).
    pub async fn invalidate(&self) {
        if let Ok(t) = self.inner.api.token().await {
            self.inner.api.session.invalidate(&t).await;
        }
    }

    /// The id of project `name` in domain `domain` (a name or an id), if it exists.
    pub async fn project_id(&self, name: &str, domain: &str) -> Result<Option<String>, String> {
        let base = self
            .endpoint("identity")
            .await?
            .unwrap_or_else(|| crate::keystone::v3_auth_url(self.inner.api.session.auth_url()));
        let base = base.trim_end_matches('/');
        let base = if base.ends_with("/v3") {
            base.to_owned()
        } else {
            format!("{base}/v3")
        };
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        };
        // The domain may be given by name (Default) or id (default).
        let domains = self
            .inner
            .api
            .call(
                "identity",
                Method::GET,
                &format!("{base}/domains?name={}", enc(domain)),
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_slice(&domains.body).map_err(|e| e.to_string())?;
        let domain_id = v["domains"]
            .as_array()
            .and_then(|d| d.first())
            .and_then(|d| d["id"].as_str())
            .unwrap_or(domain)
            .to_owned();
        let projects = self
            .inner
            .api
            .call(
                "identity",
                Method::GET,
                &format!(
                    "{base}/projects?name={}&domain_id={}",
                    enc(name),
                    enc(&domain_id)
                ),
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_slice(&projects.body).map_err(|e| e.to_string())?;
        Ok(v["projects"]
            .as_array()
            .and_then(|p| p.first())
            .and_then(|p| p["id"].as_str())
            .map(str::to_owned))
    }
}
