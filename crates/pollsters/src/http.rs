//! The one HTTP helper every service module uses: per-request timeout, a concurrency bound
//! per service, retries with capped jittered backoff on 5xx, 429 (honouring `Retry-After`)
//! and connection failures, and JSON paging.
//!
//! Authentication is layered on top by [`crate::keystone::Api`] (token, re-auth once on 401)
//! and by [`crate::rgw`] (SigV4), so this layer never sees a token it could log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use tokio::sync::Semaphore;

use crate::error::{ApiError, EngineError};

/// Retry behaviour of API calls.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `attempts = retries + 1`).
    pub retries: u32,
    /// First backoff; doubled each retry, with full jitter.
    pub base: Duration,
    /// Upper bound of one backoff, and of a honoured `Retry-After`.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // Three retries spread over a few seconds ride out a restarting API worker or a
        // short rate-limit burst without holding a cycle for long.
        RetryPolicy {
            retries: 3,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
        }
    }
}

/// TLS settings of one client.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsSettings {
    pub cafile: Option<String>,
    pub certfile: Option<String>,
    pub keyfile: Option<String>,
    pub insecure: bool,
    /// Name of the config section, for error messages.
    pub section: &'static str,
}

/// A response that passed status checks.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The 2xx status.
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as hyper collected it (no copy: a listing page is a megabyte or more).
    pub body: bytes::Bytes,
}

static RING: Once = Once::new();

/// Installs the ring crypto provider once per process: reqwest is built without a provider
/// (aws-lc-rs is too heavy to build here) and rustls needs exactly one.
fn install_ring() {
    RING.call_once(|| {
        // An error means another part of the process installed a provider first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn read_file(option: &'static str, path: &str) -> Result<Vec<u8>, EngineError> {
    std::fs::read(path).map_err(|e| EngineError::TlsFile {
        option,
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Builds a reqwest client with TLS verification on unless `insecure`.
pub(crate) fn build_client(
    tls: &TlsSettings,
    timeout: Duration,
    user_agent: &str,
    pool: usize,
) -> Result<reqwest::Client, EngineError> {
    install_ring();
    let mut b = reqwest::Client::builder()
        .user_agent(user_agent)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(pool.max(1));
    if let Some(ca) = &tls.cafile {
        let opt = if tls.section == "rgw_client" {
            "[rgw_client] cafile"
        } else {
            "[service_credentials] cafile"
        };
        let pem = read_file(opt, ca)?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| EngineError::TlsFile {
                option: opt,
                path: ca.clone(),
                reason: e.to_string(),
            })?;
        // keystoneauth's `verify=<cafile>`: trust exactly that bundle.
        b = b.tls_certs_only(certs);
    }
    if tls.certfile.is_none() && tls.keyfile.is_some() {
        // keystoneauth ignores a lone key as well; say so rather than fail the handshake
        // mysteriously later.
        tracing::warn!(
            section = tls.section,
            "keyfile is set without certfile: no client certificate will be sent"
        );
    }
    if let Some(cert) = &tls.certfile {
        let mut pem = read_file("[service_credentials] certfile", cert)?;
        if let Some(key) = &tls.keyfile {
            pem.push(b'\n');
            pem.extend(read_file("[service_credentials] keyfile", key)?);
        }
        let id = reqwest::Identity::from_pem(&pem).map_err(|e| EngineError::TlsFile {
            option: "[service_credentials] certfile",
            path: cert.clone(),
            reason: e.to_string(),
        })?;
        b = b.identity(id);
    }
    if tls.insecure {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| EngineError::Client(e.to_string()))
}

/// The shared HTTP client with per-service concurrency limits.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    concurrency: usize,
    /// One semaphore per service name: a slow service fills its own permits and never
    /// those of another, so it cannot stall the other pollsters.
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A request to send (rebuilt on every attempt).
pub(crate) struct Req<'a> {
    pub service: &'a str,
    pub method: Method,
    pub url: &'a str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Vec<u8>>,
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        _ => "OTHER",
    }
}

/// Drops the query string from a URL for logs (queries may carry markers, never secrets,
/// but they make logs noisy).
pub(crate) fn redact(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}

/// reqwest's error with its causes, where the useful part is (a refused certificate, the TLS
/// alert, the refused connection), without the URL the caller already names.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut out = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// Parses `Retry-After`: delta-seconds or an HTTP date.
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let t = httpdate::parse_http_date(v).ok()?;
    Some(
        t.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl Http {
    pub(crate) fn new(
        client: reqwest::Client,
        timeout: Duration,
        retry: RetryPolicy,
        concurrency: usize,
    ) -> Http {
        Http {
            client,
            timeout,
            retry,
            concurrency: concurrency.max(1),
            limits: Mutex::new(HashMap::new()),
        }
    }

    /// The default per-request timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The configured concurrency bound per service.
    pub(crate) fn concurrency(&self) -> usize {
        self.concurrency
    }

    fn limit(&self, service: &str) -> Arc<Semaphore> {
        let mut m = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(service.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.concurrency)))
            .clone()
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.retry.cap);
        let ms = exp.as_millis() as u64;
        // Full jitter: agents retrying the same storm must not synchronise.
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
    }

    fn count(service: &str, status: &str) {
        let mut m = api_counts().lock().unwrap_or_else(|e| e.into_inner());
        // A handful of (service, status) pairs: found without making the key's strings,
        // which once a cycle's 10k calls were three allocations each.
        match m.iter_mut().find(|((s, c), _)| s == service && c == status) {
            Some((_, n)) => *n += 1,
            None => {
                m.insert((service.to_owned(), status.to_owned()), 1);
            }
        }
    }

    /// Sends `req` with the service's concurrency bound, a timeout and retries. Returns the
    /// reply for 2xx; a non-2xx status (after retries for 5xx/429) is an [`ApiError::Status`].
    /// 401 is returned at once (the caller re-authenticates).
    pub(crate) async fn send(&self, req: Req<'_>) -> Result<Reply, ApiError> {
        self.send_timeout(req, self.timeout).await
    }

    /// As [`Http::send`] with a per-request timeout (dynamic pollsters' `timeout`).
    pub(crate) async fn send_timeout(
        &self,
        req: Req<'_>,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let sem = self.limit(req.service);
        // The permit is held across backoff sleeps on purpose: a storming service gets
        // fewer requests, not more.
        let _permit = sem.acquire_owned().await.map_err(|_| ApiError::Transport {
            method: method_name(&req.method),
            url: redact(req.url),
            reason: "client shut down".into(),
        })?;
        let m = method_name(&req.method);
        let mut attempt = 0u32;
        loop {
            let mut rb = self
                .client
                .request(req.method.clone(), req.url)
                .timeout(timeout);
            for (k, v) in &req.headers {
                rb = rb.header(k.clone(), v.clone());
            }
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            let err = match rb.send().await {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    Self::count(req.service, resp.status().as_str());
                    let headers = std::mem::take(resp.headers_mut());
                    let retryable = status == 429 || (500..600).contains(&status);
                    if retryable && attempt < self.retry.retries {
                        let wait = if status == 429 {
                            retry_after(&headers)
                                .map(|d| d.min(self.retry.cap))
                                .unwrap_or_else(|| self.backoff(attempt))
                        } else {
                            self.backoff(attempt)
                        };
                        tracing::debug!(service = req.service, url = %redact(req.url), status, attempt, wait_ms = wait.as_millis() as u64, "Retrying API call");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    if !(200..300).contains(&status) {
                        return Err(ApiError::Status {
                            method: m,
                            url: redact(req.url),
                            status,
                        });
                    }
                    match read_body(&mut resp).await {
                        Ok(body) => {
                            return Ok(Reply {
                                status,
                                headers,
                                body,
                            })
                        }
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            Self::count(
                req.service,
                if err.is_timeout() { "timeout" } else { "error" },
            );
            if err.is_timeout() {
                // A hung server would hang again: no retry, the caller moves on.
                return Err(ApiError::Timeout {
                    method: m,
                    url: redact(req.url),
                });
            }
            if attempt < self.retry.retries && (err.is_connect() || err.is_request()) {
                let wait = self.backoff(attempt);
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(ApiError::Transport {
                method: m,
                url: redact(req.url),
                reason: describe(err),
            });
        }
    }
}

/// Reads a body chunk by chunk into one buffer sized from its length. reqwest's `bytes()`
/// holds every chunk and then a copy of all of them, twice a listing's size at the peak (a
/// Keystone project list of a large cloud is tens of megabytes); here a chunk is dropped
/// as soon as it is copied. A body in one chunk is returned as it came, without a copy.
async fn read_body(resp: &mut reqwest::Response) -> Result<bytes::Bytes, reqwest::Error> {
    // The length is a hint, never trusted beyond 64 MiB for the reservation.
    let hint = resp.content_length().unwrap_or(0).min(64 << 20) as usize;
    let Some(first) = resp.chunk().await? else {
        return Ok(bytes::Bytes::new());
    };
    let Some(second) = resp.chunk().await? else {
        return Ok(first);
    };
    let mut buf = bytes::BytesMut::with_capacity(hint.max(first.len() + second.len()));
    buf.extend_from_slice(&first);
    drop(first);
    buf.extend_from_slice(&second);
    drop(second);
    while let Some(chunk) = resp.chunk().await? {
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Resolves a `next` link against the URL it came from: absolute URLs as they are,
/// `/path?query` against the endpoint's origin + the endpoint's path prefix (Glance gives
/// `/v2/images?marker=..` relative to its root).
pub(crate) fn join_next(endpoint: &str, next: &str) -> String {
    if next.starts_with("http://") || next.starts_with("https://") {
        return next.to_owned();
    }
    let base = endpoint.trim_end_matches('/');
    if next.starts_with('/') {
        // Endpoint may carry a path (`http://h/image`); Glance's next is relative to it.
        format!("{base}{next}")
    } else {
        format!("{base}/{next}")
    }
}

type ApiCounts = std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>>;

fn api_counts() -> &'static ApiCounts {
    static COUNTS: std::sync::OnceLock<ApiCounts> = std::sync::OnceLock::new();
    COUNTS.get_or_init(Default::default)
}

/// Every API request this process made, by catalog service type and outcome (the HTTP status,
/// or `timeout` / `error` when no status came back), retries included: the agent exports it on
/// `/metrics`. Process-wide (one agent per process in production).
pub fn api_request_counts() -> Vec<(String, String, u64)> {
    api_counts()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|((s, st), n)| (s.clone(), st.clone(), *n))
        .collect()
}
