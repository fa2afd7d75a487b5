//! Dynamic (YAML-defined) pollsters at run time, spec §3.4: one GET per resource (the
//! catalog URL of `endpoint_type` for OpenStack definitions, through the Keystone session;
//! the absolute `url_path` with the declared authentication for non-OpenStack ones), paging
//! via `next_sample_url_attribute`, extraction by the `dynamic` crate, and
//! `extra_metadata_fields` with a per-URL response cache that lives across cycles.
//!
//! Errors: a failed request costs that resource's samples (warning, counted per service);
//! a non-OpenStack answer other than 200 aborts the pollster for the cycle (upstream's
//! `raise_for_status` escaping the resource loop). Nothing here panics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dynamic::{Authentication, BarbicanSecret, Definition, Kind as DynKind, SkipReason, ValueSpec};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{Map, Value as Json};
use tokio::time::Instant;

use crate::engine::{Cycle, Inner};
use crate::error::ApiError;
use crate::http::{Reply, Req};
use crate::meter::SampleCtx;

/// Upper bound on cached extra-metadata responses (all dynamic pollsters together): the
/// oldest expiry goes first when full, so memory stays bounded whatever the TTL.
pub(crate) const EXTRA_CACHE_CAP: usize = 4096;

/// Pages followed per resource at most (a service that keeps answering `next` cannot hold a
/// cycle forever).
const MAX_PAGES: usize = 10_000;

/// One loaded dynamic pollster, ready to run.
#[derive(Debug)]
pub(crate) struct DynPollster {
    /// Interned name (what `polling.yaml` matches, `{attr}` included).
    pub name: &'static str,
    pub def: Definition,
    /// Per-service key of the concurrency bound and of `CycleReport::errors`.
    pub service: String,
    /// Non-OpenStack: the declared authentication as headers (values never logged).
    pub auth_headers: Vec<(HeaderName, HeaderValue)>,
    /// `headers:` of the definition.
    headers: Vec<(HeaderName, HeaderValue)>,
    extras: Vec<ExtraField>,
}

/// One `extra_metadata_fields` entry as a derived single-metric definition.
#[derive(Debug)]
struct ExtraField {
    def: Definition,
    /// Catalog type to resolve the URL against; `None` = absolute `url_path`.
    endpoint_type: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn header_list(name: &str, what: &str, h: &[(String, String)]) -> Vec<(HeaderName, HeaderValue)> {
    h.iter()
        .filter_map(|(k, v)| {
            match (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                (Ok(k), Ok(mut v)) => {
                    v.set_sensitive(true);
                    Some((k, v))
                }
                _ => {
                    // The value may be a secret: only the header name is shown.
                    tracing::warn!(pollster = name, header = %k, "Invalid {what} header ignored");
                    None
                }
            }
        })
        .collect()
}

/// Standard base64 (for HTTP basic authentication).
pub(crate) fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(T[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn basic(user: &str, password: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!(
        "Basic {}",
        base64(format!("{user}:{password}").as_bytes())
    ))
    .ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// Request headers of declared (or Barbican-provided) credentials; values are marked
/// sensitive, and an invalid one is dropped with a warning naming only the pollster.
pub(crate) fn auth_headers(
    name: &str,
    a: Option<&Authentication>,
) -> Vec<(HeaderName, HeaderValue)> {
    match a {
        None => Vec::new(),
        Some(Authentication::Basic { username, password }) => basic(username, password)
            .map(|v| vec![(reqwest::header::AUTHORIZATION, v)])
            .unwrap_or_else(|| {
                tracing::warn!(
                    pollster = name,
                    "Basic credentials are not a valid header; ignored"
                );
                Vec::new()
            }),
        Some(Authentication::Bearer { token }) => {
            match HeaderValue::from_str(&format!("Bearer {token}")) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    vec![(reqwest::header::AUTHORIZATION, v)]
                }
                Err(_) => {
                    tracing::warn!(
                        pollster = name,
                        "Bearer token is not a valid header; ignored"
                    );
                    Vec::new()
                }
            }
        }
        Some(Authentication::Headers(h)) => header_list(name, "authentication", h),
    }
}

impl DynPollster {
    pub(crate) fn new(def: Definition) -> DynPollster {
        let name = crate::engine::intern(&def.name);
        let (service, parent_type) = match &def.kind {
            DynKind::OpenStack { endpoint_type } => {
                (endpoint_type.clone(), Some(endpoint_type.clone()))
            }
            DynKind::NonOpenStack { .. } => (format!("dynamic:{}", def.name), None),
        };
        let auth = match &def.kind {
            DynKind::NonOpenStack { authentication, .. } => {
                auth_headers(name, authentication.as_ref())
            }
            DynKind::OpenStack { .. } => Vec::new(),
        };
        let extras = def
            .extra_metadata_fields
            .iter()
            .map(|f| {
                let mut d = def.clone();
                d.name = f.name.clone();
                d.value_attribute = ValueSpec::Single(f.value.clone());
                d.response_entries_key = f.response_entries_key.clone();
                d.skip_sample_values = f.skip_sample_values.clone();
                d.headers = f.headers.clone();
                d.url_path = f.url_path.clone();
                d.metadata_fields = Vec::new();
                d.value_mapping = Vec::new();
                d.metadata_mapping = Vec::new();
                d.extra_metadata_fields = Vec::new();
                d.next_sample_url_attribute = None;
                ExtraField {
                    headers: header_list(name, "extra_metadata_fields", &f.headers),
                    endpoint_type: f.endpoint_type.clone().or_else(|| parent_type.clone()),
                    def: d,
                }
            })
            .collect();
        DynPollster {
            name,
            headers: header_list(name, "definition", &def.headers),
            auth_headers: auth,
            service,
            extras,
            def,
        }
    }

    pub(crate) fn is_openstack(&self) -> bool {
        matches!(self.def.kind, DynKind::OpenStack { .. })
    }

    /// Default discovery: `endpoint:<type>` for OpenStack definitions, `None` for
    /// non-OpenStack ones (their one resource is the `url_path`).
    pub(crate) fn default_discovery(&self) -> Option<String> {
        match &self.def.kind {
            DynKind::OpenStack { endpoint_type } => Some(format!("endpoint:{endpoint_type}")),
            DynKind::NonOpenStack { .. } => None,
        }
    }

    /// The Barbican secret holding the credentials (`barbican_secret_id`, upstream's
    /// `barbican:<id>` default discovery), when the YAML left them out.
    pub(crate) fn barbican(&self) -> Option<&BarbicanSecret> {
        match &self.def.kind {
            DynKind::NonOpenStack { barbican, .. } => barbican.as_ref(),
            DynKind::OpenStack { .. } => None,
        }
    }

    /// The non-OpenStack pollster's own resource key: its URL without credentials or query.
    pub(crate) fn own_resource(&self) -> String {
        let (u, _) = split_userinfo(&self.def.render_url_path(&Map::new()));
        crate::http::redact(&u)
    }
}

/// Removes `user:password@` from a URL; returns the credentials apart (never logged).
pub(crate) fn split_userinfo(url: &str) -> (String, Option<(String, String)>) {
    let Some(i) = url.find("://") else {
        return (url.to_owned(), None);
    };
    let rest = &url[i + 3..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    match authority.rfind('@') {
        Some(at) => {
            let (user, pass) = authority[..at]
                .split_once(':')
                .unwrap_or((&authority[..at], ""));
            let clean = format!(
                "{}{}{}",
                &url[..i + 3],
                &authority[at + 1..],
                &rest[auth_end..]
            );
            (clean, Some((user.to_owned(), pass.to_owned())))
        }
        None => (url.to_owned(), None),
    }
}

/// Python's `urljoin(endpoint + "/", rel)` for the forms dynamic pollsters use: absolute
/// URLs as they are, `//host/..` with the endpoint's scheme, `/abs` replacing the path,
/// `?q` replacing the query, anything else appended to the endpoint's path (which always
/// ends with `/`), with `.`/`..` segments resolved.
pub(crate) fn url_join(endpoint: &str, rel: &str) -> String {
    let rel = rel.trim();
    let has_scheme = rel.find(':').is_some_and(|c| {
        c > 0
            && rel[..c]
                .chars()
                .all(|x| x.is_ascii_alphanumeric() || "+-.".contains(x))
            && rel[c..].starts_with("://")
    });
    if has_scheme {
        return rel.to_owned();
    }
    let base = endpoint.split(['?', '#']).next().unwrap_or(endpoint);
    let (scheme, after) = match base.find("://") {
        Some(i) => (&base[..i], &base[i + 3..]),
        None => ("", base),
    };
    if let Some(r) = rel.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    let path_start = after.find('/').unwrap_or(after.len());
    let origin = format!("{scheme}://{}", &after[..path_start]);
    let mut path = after[path_start..].to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    if rel.is_empty() {
        return format!("{origin}{path}");
    }
    if rel.starts_with('?') {
        return format!("{origin}{path}{rel}");
    }
    let (rel_path, rel_query) = match rel.find(['?', '#']) {
        Some(i) => (&rel[..i], &rel[i..]),
        None => (rel, ""),
    };
    let joined = if rel_path.starts_with('/') {
        rel_path.to_owned()
    } else {
        format!("{path}{rel_path}")
    };
    // Resolve dot segments.
    let mut segs: Vec<&str> = Vec::new();
    let trailing = joined.ends_with('/') || joined.ends_with("/.") || joined.ends_with("/..");
    for s in joined.split('/').skip(1) {
        match s {
            "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut p = String::from("/");
    p.push_str(&segs.join("/"));
    if trailing && !p.ends_with('/') {
        p.push('/');
    }
    // `a//b` keeps its empty segment through join; a trailing empty segment already ends
    // the path with '/'.
    format!("{origin}{p}{rel_query}")
}

/// Cached extra-metadata responses, shared by every dynamic pollster, across cycles.
#[derive(Debug, Default)]
pub(crate) struct ExtraCache {
    m: Mutex<HashMap<String, (Instant, Arc<Json>)>>,
}

impl ExtraCache {
    fn get(&self, url: &str) -> Option<Arc<Json>> {
        let mut m = self.m.lock().unwrap_or_else(|e| e.into_inner());
        match m.get(url) {
            Some((exp, v)) if Instant::now() < *exp => Some(v.clone()),
            Some(_) => {
                m.remove(url);
                None
            }
            None => None,
        }
    }

    fn put(&self, url: String, v: Arc<Json>, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut m = self.m.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= EXTRA_CACHE_CAP && !m.contains_key(&url) {
            m.retain(|_, (exp, _)| *exp > now);
            if m.len() >= EXTRA_CACHE_CAP {
                if let Some(k) = m
                    .iter()
                    .min_by_key(|(_, (exp, _))| *exp)
                    .map(|(k, _)| k.clone())
                {
                    m.remove(&k);
                }
            }
        }
        m.insert(url, (now + ttl, v));
    }

    /// Entries held (tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.m.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// Why one resource gave no samples.
pub(crate) enum DynFailure {
    /// The request failed: warning, resource skipped.
    Request(ApiError),
    /// The body could not be used: warning, resource skipped, counted as skipped.
    Data(String),
    /// Non-OpenStack answer other than 200: the pollster stops for this cycle.
    Abort(String),
}

/// A GET for `dp` (or one of its extra fields): through the Keystone session for OpenStack
/// APIs, plain with `auth` (the declared or Barbican-provided credentials) otherwise. URL
/// credentials become basic authentication (when nothing else is declared) and never reach
/// a log.
async fn get(
    inner: &Inner,
    dp: &DynPollster,
    auth: &[(HeaderName, HeaderValue)],
    openstack: bool,
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
) -> Result<Reply, ApiError> {
    let (clean, creds) = split_userinfo(url);
    let timeout = if dp.def.timeout.is_zero() {
        Duration::from_secs(30)
    } else {
        dp.def.timeout
    };
    if openstack {
        let service = match &dp.def.kind {
            DynKind::OpenStack { endpoint_type } => endpoint_type.as_str(),
            DynKind::NonOpenStack { .. } => dp.service.as_str(),
        };
        return inner.api.get_with(service, &clean, headers, timeout).await;
    }
    let mut h: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(headers.len() + 2);
    h.extend(auth.iter().cloned());
    if let (Some((u, p)), true) = (creds, auth.is_empty()) {
        if let Some(v) = basic(&u, &p) {
            h.push((reqwest::header::AUTHORIZATION, v));
        }
    }
    h.extend(headers.iter().cloned());
    inner
        .ext_http
        .send_timeout(
            Req {
                service: &dp.service,
                method: Method::GET,
                url: &clean,
                headers: h,
                body: None,
            },
            timeout,
        )
        .await
}

/// Samples of one resource (`base` = the endpoint URL for OpenStack definitions; ignored
/// for non-OpenStack ones, whose `url_path` is absolute; `auth` = their credentials as
/// headers).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn poll_resource(
    inner: &Inner,
    cy: &Cycle<'_>,
    ctx: &SampleCtx,
    dp: &DynPollster,
    auth: &[(HeaderName, HeaderValue)],
    base: &str,
    aborted: &AtomicBool,
) -> Result<Vec<sample::Sample>, DynFailure> {
    let openstack = dp.is_openstack();
    let path = dp.def.render_url_path(&Map::new());
    let first = if openstack {
        url_join(base, &path)
    } else {
        path.clone()
    };
    // Relative next-page links are joined to the endpoint (OpenStack) or the url_path.
    let page_base = if openstack { base.to_owned() } else { path };
    let mut url = first;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        if aborted.load(Ordering::Relaxed) {
            return Ok(Vec::new());
        }
        if !seen.insert(url.clone()) {
            tracing::warn!(
                pollster = dp.name,
                "Next-page link points back to a page already read; stopping"
            );
            break;
        }
        let reply = get(inner, dp, auth, openstack, &url, &dp.headers).await;
        let reply = match reply {
            Ok(r) => r,
            Err(ApiError::Status { status, url, .. }) if !openstack => {
                return Err(DynFailure::Abort(format!(
                    "GET {url} answered HTTP {status}"
                )))
            }
            Err(e) => return Err(DynFailure::Request(e)),
        };
        if !openstack && reply.status != 200 {
            return Err(DynFailure::Abort(format!(
                "GET {} answered HTTP {} (200 expected)",
                crate::http::redact(&split_userinfo(&url).0),
                reply.status
            )));
        }
        let body = dp
            .def
            .parse_body(&reply.body)
            .map_err(|e| DynFailure::Data(e.to_string()))?;
        drop(reply);
        let entries = dp
            .def
            .entries(&pyexpr::Value::from_json(&body))
            .map_err(|e| DynFailure::Data(e.to_string()))?;
        for entry in &entries {
            for r in dp.def.samples_from_entry(entry) {
                match r {
                    Ok(mut ds) => {
                        if !dp.extras.is_empty() {
                            let sample_json = sample_view(entry, &ds.volume, &ds.metadata);
                            if !dp.def.skip_extra_metadata(&sample_json) {
                                enrich(inner, cy, dp, auth, base, &sample_json, &mut ds.metadata)
                                    .await;
                            }
                        }
                        match ds.into_sample(ctx.timestamp, ctx.source) {
                            Ok(s) => out.push(s),
                            Err(SkipReason::Failed(e)) | Err(SkipReason::SkippedValue(e)) => {
                                tracing::warn!(pollster = dp.name, error = %e, "Unusable entry; skipped");
                                cy.skip(1);
                            }
                        }
                    }
                    Err(SkipReason::SkippedValue(v)) => {
                        tracing::debug!(pollster = dp.name, value = %v, "Sample skipped by skip_sample_values");
                    }
                    Err(SkipReason::Failed(e)) => {
                        tracing::warn!(pollster = dp.name, error = %e, "Unusable entry; skipped");
                        cy.skip(1);
                    }
                }
            }
        }
        match dp.def.next_page_url(&body) {
            Some(n) => url = url_join(&page_base, &n),
            None => return Ok(out),
        }
    }
    Ok(out)
}

/// What expressions of extra fields see as `sample`: the entry with `value` and `metadata`.
fn sample_view(entry: &pyexpr::Value, value: &Json, metadata: &Map<String, Json>) -> Json {
    let mut m = match entry.to_json() {
        Json::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("value".into(), value.clone());
    m.insert("metadata".into(), Json::Object(metadata.clone()));
    Json::Object(m)
}

/// Runs every extra field for one sample, in order, and merges what they captured into
/// `metadata` without overwriting existing keys.
async fn enrich(
    inner: &Inner,
    cy: &Cycle<'_>,
    dp: &DynPollster,
    auth: &[(HeaderName, HeaderValue)],
    parent_base: &str,
    sample: &Json,
    metadata: &mut Map<String, Json>,
) {
    let mut captured = Map::new();
    let mut by_name = Map::new();
    let ttl = Duration::from_secs(dp.def.extra_metadata_fields_cache_seconds);
    for ef in &dp.extras {
        let mut scope = Map::new();
        scope.insert(
            "extra_metadata_captured".into(),
            Json::Object(captured.clone()),
        );
        scope.insert(
            "extra_metadata_by_name".into(),
            Json::Object(by_name.clone()),
        );
        scope.insert("sample".into(), sample.clone());
        let path = ef.def.render_url_path(&scope);
        let (url, openstack) = match &ef.endpoint_type {
            Some(t) if dp.is_openstack() && Some(t.as_str()) == dp_type(dp) => {
                (url_join(parent_base, &path), true)
            }
            Some(t) => match inner.api.endpoint(t).await {
                Ok(Some(ep)) => (url_join(&ep, &path), true),
                Ok(None) => {
                    tracing::warn!(pollster = dp.name, field = %ef.def.name, service_type = %t, "Extra metadata service not in the catalog; field skipped");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(pollster = dp.name, field = %ef.def.name, error = %e, "Keystone issue; extra metadata field skipped");
                    cy.error("identity");
                    continue;
                }
            },
            None => (path, false),
        };
        let cache_key = split_userinfo(&url).0;
        let body = match inner.extra_cache.get(&cache_key) {
            Some(b) => b,
            None => match get(inner, dp, auth, openstack, &url, &ef.headers).await {
                Ok(reply) => match ef.def.parse_body(&reply.body) {
                    Ok(b) => {
                        let b = Arc::new(b);
                        inner.extra_cache.put(cache_key, b.clone(), ttl);
                        b
                    }
                    Err(e) => {
                        tracing::warn!(pollster = dp.name, field = %ef.def.name, error = %e, "Unusable extra metadata response; field skipped");
                        cy.skip(1);
                        continue;
                    }
                },
                Err(e) => {
                    tracing::warn!(pollster = dp.name, field = %ef.def.name, error = %e, "Extra metadata request failed; field skipped");
                    cy.error(ef.endpoint_type.as_deref().unwrap_or(&dp.service));
                    continue;
                }
            },
        };
        match ef.def.samples_from_response(&body) {
            Ok(list) => {
                for s in list.into_iter().flatten() {
                    captured.insert(s.name.clone(), s.volume.clone());
                    for (k, v) in &s.metadata {
                        if v.is_null() && captured.contains_key(k) {
                            continue;
                        }
                        captured.insert(k.clone(), v.clone());
                    }
                    by_name.insert(
                        s.name.clone(),
                        serde_json::json!({"value": s.volume, "metadata": s.metadata}),
                    );
                }
            }
            Err(e) => {
                tracing::warn!(pollster = dp.name, field = %ef.def.name, error = %e, "Unusable extra metadata response; field skipped");
                cy.skip(1);
            }
        }
    }
    for (k, v) in captured {
        if metadata.contains_key(&k) {
            tracing::warn!(pollster = dp.name, key = %k, "Extra metadata key already in the sample's metadata; the extra value is ignored");
            continue;
        }
        metadata.insert(k, v);
    }
}

fn dp_type(dp: &DynPollster) -> Option<&str> {
    match &dp.def.kind {
        DynKind::OpenStack { endpoint_type } => Some(endpoint_type),
        DynKind::NonOpenStack { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_urljoin() {
        let e = "http://h:1/svc";
        assert_eq!(url_join(e, "v1/x"), "http://h:1/svc/v1/x");
        assert_eq!(
            url_join("http://h:1/svc/", "v1/x?a=1"),
            "http://h:1/svc/v1/x?a=1"
        );
        assert_eq!(url_join(e, "/v1/x"), "http://h:1/v1/x");
        assert_eq!(url_join(e, "https://o/p"), "https://o/p");
        assert_eq!(url_join(e, "//o/p"), "http://o/p");
        assert_eq!(url_join(e, "?marker=3"), "http://h:1/svc/?marker=3");
        assert_eq!(url_join(e, "../v2/"), "http://h:1/v2/");
        assert_eq!(url_join("http://h:1", "v1"), "http://h:1/v1");
        assert_eq!(url_join(e, ""), "http://h:1/svc/");
    }

    #[test]
    fn userinfo_is_split_off() {
        assert_eq!(
            split_userinfo("https://u:p%40ss@h:8/x?y=1"),
            (
                "https://h:8/x?y=1".into(),
                Some(("u".into(), "p%40ss".into()))
            )
        );
        assert_eq!(
            split_userinfo("http://h/x@y"),
            ("http://h/x@y".into(), None)
        );
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"dynuser:dynpass"), "ZHludXNlcjpkeW5wYXNz");
    }

    #[test]
    fn extra_cache_is_bounded_and_expires() {
        let c = ExtraCache::default();
        for i in 0..EXTRA_CACHE_CAP + 10 {
            c.put(
                format!("u{i}"),
                Arc::new(Json::Null),
                Duration::from_secs(60 + i as u64),
            );
        }
        assert_eq!(c.len(), EXTRA_CACHE_CAP);
        // The earliest expiries were evicted.
        assert!(c.get("u0").is_none());
        assert!(c.get(&format!("u{}", EXTRA_CACHE_CAP + 9)).is_some());
        c.put("z".into(), Arc::new(Json::Null), Duration::ZERO);
        assert!(c.get("z").is_none());
    }
}
