//! The HTTP server: one hyper listener, path-prefix routing per service, faults,
//! authentication and accounting around every request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::body::SimBody;
use crate::config::SimConfig;
use crate::faults::{self, FaultSpec, Faults};
use crate::gnocchi::{GnocchiStore, SinkStore};
use crate::keystone::{AppCredential, Keystone, TokenInfo, Trust};
use crate::model::Model;
use crate::stats::{Interface, PollKind, Stats};
use crate::util::Query;
use crate::Service;

/// Shared state of a running simulator.
pub(crate) struct State {
    pub cfg: SimConfig,
    /// `http://127.0.0.1:<port>` (`https://` with TLS).
    pub url: String,
    pub model: Model,
    pub keystone: Keystone,
    pub stats: Stats,
    pub faults: Faults,
    pub gnocchi: GnocchiStore,
    pub sink: SinkStore,
    pub secrets: crate::barbican::SecretStore,
    /// Rendered listing entries shared by the agents listing them.
    pub memo: Arc<crate::memo::RenderMemo>,
    pub shutdown: watch::Receiver<bool>,
    trans: AtomicU64,
}

impl State {
    /// A Swift-style transaction id, unique per request.
    pub fn trans_id(&self) -> String {
        let n = self.trans.fetch_add(1, Ordering::Relaxed);
        format!(
            "tx{:021x}-{:010x}",
            n,
            crate::util::mix64(n) & 0xFF_FFFF_FFFF
        )
    }

    /// Base URL of a service as reached through an interface (no trailing slash).
    pub fn base(&self, iface: Interface, svc: Service) -> String {
        format!("{}{}/{}", self.url, iface_prefix(iface), svc.prefix())
    }
}

/// Path prefix of an interface.
pub(crate) fn iface_prefix(i: Interface) -> &'static str {
    match i {
        Interface::Public => "",
        Interface::Internal => "/internal",
        Interface::Admin => "/admin-api",
    }
}

/// One request as the service handlers see it.
pub(crate) struct Req {
    pub method: Method,
    /// Path below the service prefix, e.g. `/v2/images` (always starts with `/` or is empty).
    pub path: String,
    pub query: Query,
    pub raw_query: Option<String>,
    /// Full path as received (for SigV4).
    pub full_path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub iface: Interface,
    /// Service base URL for links.
    pub base: String,
    pub auth: Option<TokenInfo>,
    /// Who made the request (token user, or what the handler found out).
    pub agent: Arc<str>,
    /// Operation label for accounting (set by the handler).
    pub op: &'static str,
    pub polls: Vec<(PollKind, String)>,
    pub listing: Option<&'static str>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A response under construction.
pub(crate) type Resp = Response<SimBody>;

/// JSON response.
pub(crate) fn json_resp(status: u16, v: &Value) -> Resp {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(SimBody::full(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Streaming JSON response.
pub(crate) fn stream_resp(status: u16, body: SimBody) -> Resp {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Plain response with a content type.
pub(crate) fn text_resp(status: u16, ctype: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(SimBody::full(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// Adds a header (ignoring invalid values, which simcloud never produces).
pub(crate) fn set_header(r: &mut Resp, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The error body each service really sends, for any status.
pub(crate) fn error(svc: Service, status: u16, msg: &str) -> Resp {
    let title = reason(status);
    match svc {
        Service::Identity => json_resp(
            status,
            &json!({"error": {"code": status, "message": msg, "title": title}}),
        ),
        Service::Image => text_resp(
            status,
            "text/html; charset=UTF-8",
            format!(
                "<html>\n <head>\n  <title>{status} {title}</title>\n </head>\n <body>\n  <h1>{status} {title}</h1>\n  {msg}<br /><br />\n\n\n\n </body>\n</html>"
            ),
        ),
        Service::Volume | Service::Share => {
            let key = match status {
                400 => "badRequest",
                401 => "unauthorized",
                403 => "forbidden",
                404 => "itemNotFound",
                405 => "badMethod",
                409 => "conflictingRequest",
                413 | 429 => "overLimit",
                501 => "notImplemented",
                503 => "serviceUnavailable",
                _ => "computeFault",
            };
            json_resp(status, &json!({ key: {"code": status, "message": msg} }))
        }
        Service::Network => {
            let ty = format!("HTTP{}", title.replace([' ', '-'], ""));
            json_resp(
                status,
                &json!({"NeutronError": {"type": ty, "message": msg, "detail": ""}}),
            )
        }
        Service::ObjectStore => text_resp(
            status,
            "text/html; charset=UTF-8",
            format!("<html><h1>{title}</h1><p>{msg}</p></html>"),
        ),
        Service::LoadBalancer => json_resp(
            status,
            &json!({"faultcode": if status < 500 { "Client" } else { "Server" }, "faultstring": msg, "debuginfo": null}),
        ),
        Service::Dns => json_resp(
            status,
            &json!({"code": status, "type": title.to_lowercase().replace(' ', "_"), "message": msg, "request_id": "req-simcloud"}),
        ),
        Service::Alarming => json_resp(
            status,
            &json!({"error_message": {"faultcode": if status < 500 { "Client" } else { "Server" }, "faultstring": msg, "debuginfo": null}}),
        ),
        Service::Rgw => crate::rgw::s3_error(status, title, msg, true),
        // Barbican's JSONErrorHook writes the same three keys.
        Service::Metric | Service::Sink | Service::DynamicTest | Service::KeyManager => json_resp(
            status,
            &json!({"code": status, "description": msg, "title": title}),
        ),
    }
}

/// The 401 that keystonemiddleware (or Swift's auth) sends for a missing or bad token.
pub(crate) fn unauthorized(svc: Service, url: &str) -> Resp {
    let mut r = match svc {
        Service::ObjectStore => text_resp(
            401,
            "text/html; charset=UTF-8",
            "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>",
        ),
        Service::Identity => error(
            svc,
            401,
            "The request you have made requires authentication.",
        ),
        _ => json_resp(
            401,
            &json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}),
        ),
    };
    set_header(
        &mut r,
        "www-authenticate",
        &format!("Keystone uri=\"{url}/identity\""),
    );
    r
}

/// Starts simulators.
pub struct SimCloud;

/// A running simulator; dropping it does not stop it, call [`SimHandle::shutdown`].
pub struct SimHandle {
    state: Arc<State>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Not a loopback address.
    #[error("refusing to listen on {0}: simcloud listens on loopback addresses only")]
    NotLoopback(SocketAddr),
    /// Bind failed.
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// A configured fault names an unknown service.
    #[error(transparent)]
    Fault(#[from] faults::UnknownService),
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

impl SimCloud {
    /// Generates the cloud, binds the listener and spawns the server (and churn) on the
    /// current Tokio runtime.
    pub async fn start(cfg: SimConfig) -> Result<SimHandle, StartError> {
        if !cfg.listen.ip().is_loopback() {
            return Err(StartError::NotLoopback(cfg.listen));
        }
        let acceptor = cfg.tls.as_ref().map(crate::tls::acceptor).transpose()?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let (stop, shutdown) = watch::channel(false);
        let start = Instant::now();
        let model = Model::generate(cfg.seed, &cfg.sizes);
        let faults = Faults::new(cfg.seed);
        for f in &cfg.faults {
            faults.set(f.clone())?;
        }
        let state = Arc::new(State {
            url: format!(
                "{}://{addr}",
                if acceptor.is_some() { "https" } else { "http" }
            ),
            keystone: Keystone::new(&cfg, &model),
            stats: Stats::new(start, cfg.max_polls_kept),
            faults,
            gnocchi: GnocchiStore::default(),
            sink: SinkStore::default(),
            secrets: Default::default(),
            memo: crate::memo::RenderMemo::new(cfg.render_memo_bytes),
            shutdown: shutdown.clone(),
            trans: AtomicU64::new(1),
            model,
            cfg,
        });
        let mut tasks = vec![tokio::spawn(accept_loop(listener, acceptor, state.clone()))];
        if state.cfg.churn_per_sec > 0.0 {
            tasks.push(tokio::spawn(churn_loop(state.clone())));
        }
        tracing::info!(url = %state.url, "Simcloud listening.");
        Ok(SimHandle {
            state,
            addr,
            stop,
            tasks,
        })
    }
}

async fn churn_loop(st: Arc<State>) {
    let mut sd = st.shutdown.clone();
    let tick = Duration::from_millis(100);
    let mut iv = tokio::time::interval(tick);
    let mut owed = 0.0f64;
    loop {
        tokio::select! {
            _ = iv.tick() => {}
            _ = sd.changed() => return,
        }
        owed += st.cfg.churn_per_sec * tick.as_secs_f64();
        let n = owed.floor() as usize;
        if n > 0 {
            owed -= n as f64;
            st.model.churn(n);
        }
    }
}

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    st: Arc<State>,
) {
    let mut sd = st.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = sd.changed() => return,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "Accept failed; continuing.");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let st = st.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(st, stream).await,
                Some(acc) => {
                    let hs = acc.accept(stream).into_fallible();
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, hs).await {
                        Ok(Ok(tls)) => serve_connection(st, tls).await,
                        // A refused client certificate ends here, the alert already sent.
                        Ok(Err((e, io))) => {
                            tracing::info!(error = %e, "TLS handshake failed.");
                            close_gently(io).await;
                        }
                        Err(_) => tracing::info!("TLS handshake timed out."),
                    }
                }
            }
        });
    }
}

/// Closes a connection after a failed handshake without a reset: FIN, then read what the
/// client had already sent (TLS 1.3 clients send their request before the server judged
/// their certificate). Closing with unread data makes the kernel answer with a RST, which can
/// destroy the alert before the client reads it, leaving it "connection reset" for a reason.
async fn close_gently(mut io: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = io.shutdown().await;
    let mut buf = [0u8; 4096];
    let drain = async { while matches!(io.read(&mut buf).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

async fn serve_connection<S>(st: Arc<State>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut sd = st.shutdown.clone();
    let svc_state = st.clone();
    let svc = hyper::service::service_fn(move |req| {
        let st = svc_state.clone();
        async move { Ok::<_, Infallible>(serve(st, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = sd.changed() => {}
    }
}

fn split_service(path: &str) -> Option<(Interface, Service, String)> {
    let (iface, rest) = if let Some(r) = path.strip_prefix("/internal/") {
        (Interface::Internal, r)
    } else if let Some(r) = path.strip_prefix("/admin-api/") {
        (Interface::Admin, r)
    } else {
        (Interface::Public, path.strip_prefix('/').unwrap_or(path))
    };
    let (first, sub) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if first == "admin" {
        // RadosGW: Ceilometer replaces the endpoint path by `/admin`.
        return Some((iface, Service::Rgw, format!("/admin{sub}")));
    }
    let svc = Service::ALL.into_iter().find(|s| s.prefix() == first)?;
    Some((iface, svc, sub.to_owned()))
}

async fn serve(st: Arc<State>, req: Request<hyper::body::Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    if let Some(sub) = path.strip_prefix("/_sim/") {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return crate::services::sim_control(&st, &parts.method, sub, parts.uri.query(), &body);
    }
    let Some((iface, svc, sub)) = split_service(&path) else {
        return text_resp(
            404,
            "text/plain; charset=utf-8",
            "404 Not Found\n\nThe resource could not be found.\n",
        );
    };
    let (parts, body) = req.into_parts();
    let body = if matches!(parts.method, Method::POST | Method::PUT | Method::PATCH) {
        body.collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default()
    } else {
        Bytes::new()
    };
    let now = st.stats.now();
    let auth = parts
        .headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| st.keystone.validate(t));
    let agent: Arc<str> = auth
        .as_ref()
        .map(|a| a.user.clone())
        .unwrap_or_else(|| Arc::from("anonymous"));
    let decision = st.faults.decide(svc);
    if let Some(d) = decision.delay {
        tokio::time::sleep(d).await;
    }
    if decision.hang {
        st.stats.request(&agent, (svc, iface, "fault:hang"), now);
        let mut sd = st.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(st.cfg.max_hang) => {}
            _ = sd.changed() => {}
        }
        return error(svc, 504, "Gateway Timeout");
    }
    if let Some(code) = decision.status {
        let label = match code {
            429 => "fault:429",
            500 => "fault:500",
            503 => "fault:503",
            _ => "fault:other",
        };
        st.stats.request(&agent, (svc, iface, label), now);
        let msg = match code {
            429 => "Rate limit exceeded. Please retry later.",
            503 if svc == Service::Identity => "Keystone is unavailable (simulated outage).",
            503 => "The server is currently unavailable. Please try again at a later time.",
            _ => "An unexpected error prevented the server from fulfilling your request.",
        };
        let mut r = error(svc, code, msg);
        if let Some(s) = decision.retry_after {
            set_header(&mut r, "retry-after", &s.to_string());
        }
        return r;
    }
    let mut r = Req {
        method: parts.method,
        path: sub,
        query: Query::parse(parts.uri.query()),
        raw_query: parts.uri.query().map(str::to_owned),
        full_path: path,
        headers: parts.headers,
        body,
        iface,
        base: st.base(iface, svc),
        auth,
        agent,
        op: "other",
        polls: Vec::new(),
        listing: None,
    };
    let mut resp = crate::services::dispatch(&st, svc, &mut r);
    st.stats.request(&r.agent, (svc, iface, r.op), now);
    for (k, id) in &r.polls {
        st.stats.poll(*k, id, &r.agent, now);
    }
    if let Some(what) = r.listing {
        st.stats.listing(svc, what, &r.agent, now);
    }
    if decision.malformed || decision.truncated {
        let (mut p, b) = resp.into_parts();
        let bytes = b.collect_now();
        let bytes = if decision.malformed {
            faults::malform(bytes)
        } else {
            faults::truncate(bytes)
        };
        p.headers
            .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        resp = Response::from_parts(p, SimBody::full(bytes));
    }
    resp
}

impl SimHandle {
    /// `http://127.0.0.1:<port>` (`https://` with TLS; no trailing slash).
    pub fn url(&self) -> &str {
        &self.state.url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Keystone's auth URL (`<url>/identity/v3`).
    pub fn auth_url(&self) -> String {
        format!("{}/identity/v3", self.state.url)
    }

    /// The live cloud.
    pub fn model(&self) -> &Model {
        &self.state.model
    }

    /// The accounting.
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// Fault control.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Sets the faults of a service (see [`FaultSpec`]).
    pub fn set_fault(&self, spec: FaultSpec) -> Result<(), faults::UnknownService> {
        self.state.faults.set(spec)
    }

    /// What the fake Gnocchi received.
    pub fn gnocchi(&self) -> &GnocchiStore {
        &self.state.gnocchi
    }

    /// What the HTTP sink received.
    pub fn sink(&self) -> &SinkStore {
        &self.state.sink
    }

    /// Stores a `text/plain` secret in the simulated Barbican (as `POST /v1/secrets` would);
    /// returns its id, for `GET /key-manager/v1/secrets/<id>/payload`.
    pub fn store_secret(&self, name: &str, payload: &str) -> String {
        self.state.secrets.store(
            self.state.cfg.seed,
            Some(name.to_owned()),
            payload.as_bytes().to_vec(),
            "text/plain",
        )
    }

    /// Deletes a Barbican secret (later reads get 404); false when there was none.
    pub fn delete_secret(&self, id: &str) -> bool {
        self.state.secrets.delete(id)
    }

    /// Revokes every issued token (clients get 401 until they authenticate again).
    pub fn revoke_tokens(&self) -> usize {
        self.state.keystone.revoke_all()
    }

    /// Creates an application credential for a user (scoped to the `admin` project).
    pub fn create_app_credential(&self, user: &str, name: &str) -> AppCredential {
        self.state.keystone.create_app_credential(user, name, None)
    }

    /// The Keystone id of user `name` (32 hex digits), e.g. for `user_id` credentials.
    pub fn user_id(&self, name: &str) -> String {
        crate::util::hex32(crate::keystone::user_id(name))
    }

    /// Creates a trust letting `trustee` act for `trustor` on project `project_id` (32 hex
    /// digits); `None` if no such project exists.
    pub fn create_trust(&self, trustor: &str, trustee: &str, project_id: &str) -> Option<Trust> {
        let pid = crate::util::parse_id(project_id)
            .filter(|p| self.state.model.projects.with(*p, |_| ()).is_some())?;
        Some(self.state.keystone.create_trust(trustor, trustee, pid))
    }

    /// Ids of every project (32 hex digits), e.g. the Swift accounts a cycle must cover.
    pub fn project_ids(&self) -> Vec<String> {
        self.state
            .model
            .projects
            .snap()
            .keys()
            .map(|id| crate::util::hex32(*id))
            .collect()
    }

    /// Ids of every Designate zone (dashed UUIDs).
    pub fn zone_ids(&self) -> Vec<String> {
        self.state
            .model
            .coll(crate::model::Kind::Zone)
            .snap()
            .keys()
            .map(|id| crate::util::uuid(*id))
            .collect()
    }

    /// Applies `n` churn steps now (deterministic given the seed).
    pub fn churn(&self, n: usize) -> crate::model::ChurnReport {
        self.state.model.churn(n)
    }

    /// Stops the server and the churn, closing every connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
