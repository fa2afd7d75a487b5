//! Keystone v3: password and application-credential authentication, project / domain /
//! system / trust scoping (bodies as keystoneauth builds them; more than one scope target is
//! refused, as keystoneauth does), the service catalog of the token (with the configured
//! interface *and* region — upstream's catalog check always used `public`), token reuse until
//! shortly before expiry, and re-authentication once on 401.

use std::sync::Arc;
use std::time::Duration;

use ceilometer_config::options::{Interface, ServiceCredentials};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::error::{ApiError, EngineError};
use crate::http::{Http, Reply, Req};

/// Tokens are refreshed this long before they expire (keystoneauth's stale duration), so a
/// request never leaves with a token that dies in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(120);

/// One endpoint of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// `region_id` (or the legacy `region`).
    pub region: Option<String>,
    /// The URL.
    pub url: String,
}

/// One service of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogService {
    /// Service type, e.g. `volumev3`.
    pub service_type: String,
    /// Service name, e.g. `cinderv3`.
    pub name: String,
    /// Its endpoints.
    pub endpoints: Vec<Endpoint>,
}

/// An issued token with its catalog. The token value is private and never logged.
#[derive(Clone)]
pub struct Token {
    value: String,
    /// `value` as the `X-Auth-Token` header, made once (marked sensitive) rather than
    /// validated and copied for every API call.
    header: HeaderValue,
    /// When to stop using it (already includes the safety margin).
    refresh_at: Option<Instant>,
    /// The catalog that came with the token.
    pub catalog: Vec<CatalogService>,
}

impl Token {
    /// The token value (for `X-Auth-Token`); never log it.
    pub(crate) fn value(&self) -> &str {
        &self.value
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"***")
            .field("catalog_services", &self.catalog.len())
            .finish()
    }
}

/// Parses a `POST /v3/auth/tokens` body into the expiry (seconds since epoch) and catalog.
/// Public so the fuzz tests can reach it; unknown fields are ignored.
pub fn parse_token_body(body: &[u8]) -> Result<(Option<i64>, Vec<CatalogService>), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let t = v
        .get("token")
        .and_then(Value::as_object)
        .ok_or("no token object")?;
    let exp = t
        .get("expires_at")
        .and_then(Value::as_str)
        .and_then(crate::time::parse_iso8601);
    let mut catalog = Vec::new();
    if let Some(list) = t.get("catalog").and_then(Value::as_array) {
        for s in list {
            let Some(ty) = s.get("type").and_then(Value::as_str) else {
                continue;
            };
            let eps = s
                .get("endpoints")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            Some(Endpoint {
                                interface: e.get("interface")?.as_str()?.to_owned(),
                                region: e
                                    .get("region_id")
                                    .or_else(|| e.get("region"))
                                    .and_then(Value::as_str)
                                    .map(str::to_owned),
                                url: e.get("url")?.as_str()?.to_owned(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            catalog.push(CatalogService {
                service_type: ty.to_owned(),
                name: s
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                endpoints: eps,
            });
        }
    }
    Ok((exp, catalog))
}

/// Turns any configured `auth_url` into the v3 base: a Kilo `/v2.0` URL (Keystone v2 is
/// gone) becomes `/v3`; a bare root gets `/v3`.
pub fn v3_auth_url(auth_url: &str) -> String {
    let u = auth_url.trim_end_matches('/');
    if let Some(root) = u.strip_suffix("/v2.0") {
        return format!("{root}/v3");
    }
    if u.ends_with("/v3") {
        return u.to_owned();
    }
    format!("{u}/v3")
}

fn domain_ref(id: Option<&String>, name: Option<&String>, c: &ServiceCredentials) -> Value {
    if let Some(id) = id.or(c.default_domain_id.as_ref()) {
        json!({ "id": id })
    } else if let Some(n) = name.or(c.default_domain_name.as_ref()) {
        json!({ "name": n })
    } else {
        // Kilo configurations (v2 era) name no domain: v2 users live in `default`.
        json!({ "id": "default" })
    }
}

fn is_app_cred(c: &ServiceCredentials) -> bool {
    matches!(
        c.auth_type.as_str(),
        "v3applicationcredential" | "applicationcredential" | "application_credential"
    )
}

/// Builds the `POST /v3/auth/tokens` body as keystoneauth does for these credentials (it
/// holds the password or secret: never log it). Errors name what is missing or conflicting.
/// Public so tests can hold it against the API reference's samples.
pub fn auth_body(c: &ServiceCredentials) -> Result<Value, EngineError> {
    let missing = |what: &str| EngineError::Credentials {
        auth_type: c.auth_type.clone(),
        what: what.to_owned(),
    };
    if is_app_cred(c) {
        let secret = c
            .application_credential_secret
            .as_ref()
            .ok_or_else(|| missing("application_credential_secret is not set"))?;
        let mut ac = Map::new();
        if let Some(id) = &c.application_credential_id {
            ac.insert("id".into(), id.clone().into());
        } else if let Some(name) = &c.application_credential_name {
            ac.insert("name".into(), name.clone().into());
            let user = if let Some(uid) = &c.user_id {
                json!({ "id": uid })
            } else if let Some(un) = &c.username {
                json!({ "name": un, "domain": domain_ref(c.user_domain_id.as_ref(), c.user_domain_name.as_ref(), c) })
            } else {
                return Err(missing(
                    "application_credential_name needs user_id or username",
                ));
            };
            ac.insert("user".into(), user);
        } else {
            return Err(missing(
                "application_credential_id or application_credential_name is not set",
            ));
        }
        ac.insert("secret".into(), secret.clone().into());
        // An application credential carries its own scope: none may be sent.
        return Ok(
            json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": ac}}}),
        );
    }
    let password = c
        .password
        .as_ref()
        .ok_or_else(|| missing("password is not set"))?;
    let user = if let Some(uid) = &c.user_id {
        json!({ "id": uid, "password": password })
    } else if let Some(un) = &c.username {
        json!({ "name": un, "domain": domain_ref(c.user_domain_id.as_ref(), c.user_domain_name.as_ref(), c), "password": password })
    } else {
        return Err(missing("username or user_id is not set"));
    };
    let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": user}}});
    // keystoneauth refuses more than one scope target rather than picking one.
    let targets: Vec<&str> = [
        (
            c.project_id.is_some() || c.project_name.is_some(),
            "project_id/project_name",
        ),
        (
            c.domain_id.is_some() || c.domain_name.is_some(),
            "domain_id/domain_name",
        ),
        (c.trust_id.is_some(), "trust_id"),
        (c.system_scope.is_some(), "system_scope"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if targets.len() > 1 {
        return Err(EngineError::Invalid(format!(
            "authentication cannot be scoped to multiple targets ({}): set only one of a \
             project, a domain, trust_id or system_scope",
            targets.join(", ")
        )));
    }
    if let Some(s) = c.system_scope.as_deref().filter(|s| *s != "all") {
        return Err(EngineError::Invalid(format!(
            "system_scope = {s} is not supported: Keystone only knows system_scope = all"
        )));
    }
    let scope = if let Some(t) = &c.trust_id {
        Some(json!({ "OS-TRUST:trust": { "id": t } }))
    } else if let Some(pid) = &c.project_id {
        Some(json!({ "project": { "id": pid } }))
    } else if let Some(pn) = &c.project_name {
        Some(
            json!({ "project": { "name": pn, "domain": domain_ref(c.project_domain_id.as_ref(), c.project_domain_name.as_ref(), c) } }),
        )
    } else if let Some(d) = &c.domain_id {
        Some(json!({ "domain": { "id": d } }))
    } else if let Some(d) = &c.domain_name {
        Some(json!({ "domain": { "name": d } }))
    } else {
        c.system_scope
            .as_ref()
            .map(|_| json!({ "system": { "all": true } }))
    };
    if let (Some(s), Some(o)) = (scope, auth.as_object_mut()) {
        o.insert("scope".into(), s);
    }
    Ok(json!({ "auth": auth }))
}

/// A Keystone session: holds the current token, re-authenticates when needed.
#[derive(Debug)]
pub(crate) struct Session {
    auth_url: String,
    body: Vec<u8>,
    interface: Interface,
    region: Option<String>,
    current: tokio::sync::Mutex<Option<Arc<Token>>>,
}

impl Session {
    pub(crate) fn new(c: &ServiceCredentials) -> Result<Session, EngineError> {
        let auth_url = c.auth_url.as_deref().ok_or(EngineError::NoAuthUrl)?;
        let body =
            serde_json::to_vec(&auth_body(c)?).map_err(|e| EngineError::Client(e.to_string()))?;
        Ok(Session {
            auth_url: v3_auth_url(auth_url),
            body,
            interface: c.interface,
            region: c.region_name.clone(),
            current: tokio::sync::Mutex::new(None),
        })
    }

    /// The Keystone v3 base URL used for authentication.
    pub(crate) fn auth_url(&self) -> &str {
        &self.auth_url
    }

    /// A valid token: the cached one, or a new one.
    pub(crate) async fn token(&self, http: &Http) -> Result<Arc<Token>, ApiError> {
        let mut cur = self.current.lock().await;
        if let Some(t) = cur.as_ref() {
            if t.refresh_at.is_none_or(|r| Instant::now() < r) {
                return Ok(t.clone());
            }
        }
        let t = Arc::new(self.authenticate(http).await?);
        *cur = Some(t.clone());
        Ok(t)
    }

    /// Forgets `stale` (after a 401), unless another task already replaced it.
    pub(crate) async fn invalidate(&self, stale: &Arc<Token>) {
        let mut cur = self.current.lock().await;
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, stale)) {
            *cur = None;
        }
    }

    async fn authenticate(&self, http: &Http) -> Result<Token, ApiError> {
        let url = format!("{}/auth/tokens", self.auth_url);
        let reply: Reply = http
            .send(Req {
                service: "identity",
                method: Method::POST,
                url: &url,
                headers: vec![(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body: Some(self.body.clone()),
            })
            .await
            .map_err(|e| ApiError::Keystone(format!("authentication failed: {e}")))?;
        let value = reply
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Keystone("no X-Subject-Token in the answer".into()))?
            .to_owned();
        let (exp, catalog) = parse_token_body(&reply.body)
            .map_err(|e| ApiError::Keystone(format!("token body: {e}")))?;
        let refresh_at = exp.map(|e| {
            let left = Duration::from_secs((e - crate::time::unix_now()).max(0) as u64);
            // Short-lived tokens: refresh at 90% of their life rather than never using them.
            let margin = EXPIRY_MARGIN.min(left / 10);
            Instant::now() + left.saturating_sub(margin)
        });
        tracing::debug!(services = catalog.len(), "Authenticated with Keystone");
        let mut header = HeaderValue::from_str(&value)
            .map_err(|_| ApiError::Keystone("token is not a valid header".into()))?;
        header.set_sensitive(true);
        Ok(Token {
            value,
            header,
            refresh_at,
            catalog,
        })
    }

    /// URLs of `service_type` for the configured interface and region.
    pub(crate) fn urls(&self, t: &Token, service_type: &str) -> Vec<String> {
        self.urls_where(t, |s| s.service_type == service_type)
    }

    /// URLs of services matching `pick`, for the configured interface and region.
    pub(crate) fn urls_where(
        &self,
        t: &Token,
        pick: impl Fn(&CatalogService) -> bool,
    ) -> Vec<String> {
        let iface = self.interface.as_str();
        t.catalog
            .iter()
            .filter(|s| pick(s))
            .flat_map(|s| s.endpoints.iter())
            .filter(|e| {
                e.interface.trim_end_matches("URL") == iface
                    && self
                        .region
                        .as_ref()
                        .is_none_or(|r| e.region.as_deref() == Some(r.as_str()))
            })
            .map(|e| e.url.clone())
            .collect()
    }
}

/// Token-authenticated API access: the HTTP helper plus the session, with one
/// re-authentication on 401 (a revoked or expired token) per call.
#[derive(Debug)]
pub(crate) struct Api {
    pub http: Http,
    pub session: Session,
}

impl Api {
    /// Current token (for catalog lookups).
    pub(crate) async fn token(&self) -> Result<Arc<Token>, ApiError> {
        self.session.token(&self.http).await
    }

    /// Catalog URL of `service_type` (first match), or `None` when not registered.
    pub(crate) async fn endpoint(&self, service_type: &str) -> Result<Option<String>, ApiError> {
        let t = self.token().await?;
        Ok(self.session.urls(&t, service_type).into_iter().next())
    }

    /// `GET url` with `X-Auth-Token`, owned extra headers (dynamic pollsters' `headers`) and a
    /// per-request timeout; re-authenticates once on 401 like [`Api::call`].
    pub(crate) async fn get_with(
        &self,
        service: &str,
        url: &str,
        extra: &[(HeaderName, HeaderValue)],
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let mut reauthed = false;
        loop {
            let tok = self.token().await?;
            let mut headers = Vec::with_capacity(extra.len() + 2);
            headers.push((HeaderName::from_static("x-auth-token"), tok.header.clone()));
            if !extra.iter().any(|(k, _)| k == reqwest::header::ACCEPT) {
                headers.push((
                    reqwest::header::ACCEPT,
                    HeaderValue::from_static("application/json"),
                ));
            }
            headers.extend(extra.iter().cloned());
            let req = Req {
                service,
                method: Method::GET,
                url,
                headers,
                body: None,
            };
            match self.http.send_timeout(req, timeout).await {
                Err(ApiError::Status { status: 401, .. }) if !reauthed => {
                    tracing::info!(service, "Token refused (401): re-authenticating");
                    self.session.invalidate(&tok).await;
                    reauthed = true;
                }
                r => return r,
            }
        }
    }

    /// `method url` with `X-Auth-Token` and extra headers.
    pub(crate) async fn call(
        &self,
        service: &str,
        method: Method,
        url: &str,
        extra: &[(&'static str, &str)],
    ) -> Result<Reply, ApiError> {
        let mut reauthed = false;
        loop {
            let tok = self.token().await?;
            let mut headers = Vec::with_capacity(extra.len() + 2);
            headers.push((HeaderName::from_static("x-auth-token"), tok.header.clone()));
            headers.push((
                reqwest::header::ACCEPT,
                HeaderValue::from_static("application/json"),
            ));
            for (k, v) in extra {
                if let Ok(v) = HeaderValue::from_str(v) {
                    headers.push((HeaderName::from_static(k), v));
                }
            }
            match self
                .http
                .send(Req {
                    service,
                    method: method.clone(),
                    url,
                    headers,
                    body: None,
                })
                .await
            {
                Err(ApiError::Status { status: 401, .. }) if !reauthed => {
                    tracing::info!(service, "Token refused (401): re-authenticating");
                    self.session.invalidate(&tok).await;
                    reauthed = true;
                }
                r => return r,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_urls() {
        assert_eq!(v3_auth_url("http://k:5000/v2.0"), "http://k:5000/v3");
        assert_eq!(v3_auth_url("http://k:5000/v2.0/"), "http://k:5000/v3");
        assert_eq!(v3_auth_url("http://k:5000"), "http://k:5000/v3");
        assert_eq!(v3_auth_url("http://k/identity/v3/"), "http://k/identity/v3");
    }
}
