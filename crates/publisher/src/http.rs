//! `http(s)://[user:pass@]host/path?timeout=5&max_retries=2&batch=True&verify_ssl=True&...`:
//! `Sample.as_dict()` posted as JSON (`publisher/http.py`), and the HTTP transport that the
//! Prometheus push gateway and Gnocchi publishers share.
//!
//! Unlike upstream, which logs HTTP errors and moves on, the status decides what the delivery
//! worker does: connection errors, timeouts, 5xx, 408 and 429 are retryable; any other 4xx is
//! a permanent refusal of the batch. `max_retries` keeps its upstream meaning: immediate
//! retries of a request that could not connect, before the batch counts as failed.

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sample::to_python_json;
use serde_json::Value;

use crate::{Batch, BoxFuture, PublishError, Publisher};

/// How the server certificate is checked (`verify_ssl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Against the system's trust store (`verify_ssl=True`, the default).
    System,
    /// Not at all (`verify_ssl=False`).
    Off,
    /// Against this CA bundle (`verify_ssl=/path/to/ca.pem`).
    CaFile(PathBuf),
}

impl Verify {
    /// Upstream's reading: a strict boolean word, else a CA path (empty → verify).
    pub fn parse(v: &str) -> Verify {
        match v.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => Verify::System,
            "0" | "f" | "false" | "off" | "n" | "no" => Verify::Off,
            "" => Verify::System,
            _ => Verify::CaFile(PathBuf::from(v)),
        }
    }
}

/// Connection settings shared by the HTTP-based publishers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Immediate retries of a request that could not connect.
    pub max_retries: u32,
    /// Server certificate check.
    pub verify: Verify,
    /// Client certificate (PEM), for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Client key (PEM); may be inside `client_cert` instead.
    pub client_key: Option<PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(5),
            max_retries: 2,
            verify: Verify::System,
            client_cert: None,
            client_key: None,
        }
    }
}

/// Install rustls' ring provider as the process default once: reqwest is built without a
/// bundled provider (aws-lc-rs is too heavy to build here) and takes the default one.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first; that one is used then.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An HTTP client with the settings applied.
pub fn client(s: &HttpSettings) -> Result<reqwest::Client, String> {
    install_crypto_provider();
    let mut b = reqwest::Client::builder()
        .timeout(s.timeout)
        .connect_timeout(s.timeout)
        .no_proxy()
        .user_agent(concat!("ceilometer-central/", env!("CARGO_PKG_VERSION")));
    match &s.verify {
        Verify::System => {}
        Verify::Off => b = b.tls_danger_accept_invalid_certs(true),
        Verify::CaFile(p) => {
            let pem = std::fs::read(p)
                .map_err(|e| format!("verify_ssl: cannot read CA file {}: {e}", p.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("verify_ssl: bad CA file {}: {e}", p.display()))?;
            b = b.tls_certs_only(certs);
        }
    }
    if let Some(cert) = &s.client_cert {
        let mut pem = std::fs::read(cert)
            .map_err(|e| format!("clientcert: cannot read {}: {e}", cert.display()))?;
        if let Some(key) = &s.client_key {
            pem.push(b'\n');
            pem.extend(
                std::fs::read(key)
                    .map_err(|e| format!("clientkey: cannot read {}: {e}", key.display()))?,
            );
        }
        let id = reqwest::Identity::from_pem(&pem)
            .map_err(|e| format!("clientcert/clientkey: {}", describe(&e)))?;
        b = b.identity(id);
    }
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {}", describe(&e)))
}

/// An error's text with its causes, without the URL (which may carry credentials).
pub fn describe(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let t = err.to_string();
        if !out.contains(&t) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&t);
        }
        cur = err.source();
    }
    // reqwest puts the URL in its Display as "... for url (...)"; cut it.
    match out.find(" for url (") {
        Some(i) => {
            let tail = out[i..].find(')').map_or(out.len(), |j| i + j + 1);
            format!("{}{}", &out[..i], &out[tail..])
        }
        None => out,
    }
}

/// Retryable or permanent, by status: 5xx, 408 and 429 are worth retrying.
pub fn classify(status: StatusCode, what: &str, body: &str) -> PublishError {
    let snippet: String = body.chars().take(200).collect();
    let msg = format!("{what}: HTTP {status}: {snippet}");
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        PublishError::Retryable(msg)
    } else {
        PublishError::Permanent(msg)
    }
}

/// The reply of a successful exchange (any status).
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Body text.
    pub body: String,
}

/// One request with connection-level retries; `Err` only when no reply was received.
pub async fn send(
    max_retries: u32,
    what: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Reply, PublishError> {
    let mut attempt = 0;
    loop {
        match build().send().await {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.text().await.map_err(|e| {
                    PublishError::Retryable(format!("{what}: reading the reply: {}", describe(&e)))
                })?;
                return Ok(Reply { status, body });
            }
            Err(e) if e.is_connect() && attempt < max_retries => {
                attempt += 1;
                tracing::debug!(what, attempt, error = %describe(&e), "Connection failed; retrying.");
            }
            Err(e) => {
                let kind = if e.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                return Err(PublishError::Retryable(format!(
                    "{what}: request {kind}: {}",
                    describe(&e)
                )));
            }
        }
    }
}

/// Settings of an HTTP publisher.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Target URL without credentials, with the query parameters that are not options.
    pub target: String,
    /// Basic auth from the URL's userinfo.
    pub basic_auth: Option<(String, String)>,
    /// One POST per batch (a JSON list) or per sample (a JSON object).
    pub batch: bool,
    /// Connection settings.
    pub http: HttpSettings,
}

/// Posts `Sample.as_dict()` documents.
pub struct HttpPublisher {
    cfg: HttpConfig,
    name: String,
    client: reqwest::Client,
}

impl HttpPublisher {
    /// Create; fails on unreadable certificate files.
    pub fn new(cfg: HttpConfig, name: String) -> Result<HttpPublisher, String> {
        let client = client(&cfg.http)?;
        Ok(HttpPublisher { cfg, name, client })
    }

    /// The request bodies of a batch (one, or one per sample).
    pub fn bodies(&self, batch: &Batch) -> Vec<String> {
        let dicts = batch.samples.iter().map(|s| Value::Object(s.as_dict()));
        if self.cfg.batch {
            vec![to_python_json(&Value::Array(dicts.collect()))]
        } else {
            dicts.map(|d| to_python_json(&d)).collect()
        }
    }

    async fn post(&self, body: String) -> Result<(), PublishError> {
        let r = send(self.cfg.http.max_retries, &self.name, || {
            let mut rb = self
                .client
                .request(Method::POST, &self.cfg.target)
                .header("Content-Type", "application/json")
                .body(body.clone());
            if let Some((u, p)) = &self.cfg.basic_auth {
                rb = rb.basic_auth(u, Some(p));
            }
            rb
        })
        .await?;
        if r.status.is_success() {
            Ok(())
        } else {
            Err(classify(r.status, &self.name, &r.body))
        }
    }
}

impl Publisher for HttpPublisher {
    fn name(&self) -> &str {
        &self.name
    }

    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            // Per-sample mode: a failure part-way makes the retry resend the earlier samples
            // (at-least-once), as a batch is the unit of delivery.
            for body in self.bodies(batch) {
                self.post(body).await?;
            }
            Ok(())
        })
    }
}
