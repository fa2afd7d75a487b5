//! The admin listener: `/metrics` (Prometheus text), `/healthz` (process alive, loops turning)
//! and `/readyz` (joined, Keystone token valid, publishers reachable), with JSON details.
//!
//! Separate from the Prometheus exporter of polled samples: this one is about the agent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// One readiness check: name, ok, detail.
pub type Check = (String, bool, Value);

/// What the listener asks the agent on each request.
pub trait Status: Send + Sync + 'static {
    /// Prometheus text of the agent's metrics.
    fn metrics(&self) -> String;
    /// Liveness: `(ok, details)`.
    fn health(&self) -> (bool, Value);
    /// Readiness checks.
    fn readiness(&self) -> Vec<Check>;
}

fn respond(code: StatusCode, ctype: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    if let Ok(v) = ctype.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn handle(status: &dyn Status, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/metrics" => respond(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            status.metrics(),
        ),
        "/healthz" => {
            let (ok, details) = status.health();
            let code = if ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            respond(
                code,
                "application/json",
                json!({"ok": ok, "details": details}).to_string(),
            )
        }
        "/readyz" => {
            let checks = status.readiness();
            let ok = checks.iter().all(|(_, ok, _)| *ok);
            let details: serde_json::Map<String, Value> = checks
                .into_iter()
                .map(|(name, ok, detail)| (name, json!({"ok": ok, "detail": detail})))
                .collect();
            let code = if ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            respond(
                code,
                "application/json",
                json!({"ok": ok, "checks": details}).to_string(),
            )
        }
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /healthz, /readyz\n".into(),
        ),
    }
}

/// Bind and serve until the task is aborted. Returns the bound address (port 0 = any).
pub async fn serve(
    addr: SocketAddr,
    status: Arc<dyn Status>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let status = status.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let r = handle(status.as_ref(), &req);
                    async move { Ok::<_, Infallible>(r) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok((local, task))
}

/// systemd's notify protocol (`Type=notify`): `READY=1` once joined, `WATCHDOG=1` while
/// healthy. Does nothing when not run under systemd.
pub struct SdNotify {
    sock: Option<std::os::unix::net::UnixDatagram>,
    /// `WATCHDOG_USEC / 2`, when the unit sets `WatchdogSec`.
    pub watchdog_every: Option<std::time::Duration>,
}

impl SdNotify {
    /// From `NOTIFY_SOCKET` / `WATCHDOG_USEC`.
    pub fn from_env() -> SdNotify {
        use std::os::linux::net::SocketAddrExt;
        let sock = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let s = std::os::unix::net::UnixDatagram::unbound().ok()?;
            let p = path.to_string_lossy().into_owned();
            let r = if let Some(abs) = p.strip_prefix('@') {
                std::os::unix::net::SocketAddr::from_abstract_name(abs.as_bytes())
                    .and_then(|a| s.connect_addr(&a))
            } else {
                s.connect(&p)
            };
            r.ok().map(|_| s)
        });
        let watchdog_every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(|us| std::time::Duration::from_micros(us / 2));
        SdNotify {
            sock,
            watchdog_every,
        }
    }

    /// Send a notify message (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=...`).
    pub fn notify(&self, msg: &str) {
        if let Some(s) = &self.sock {
            let _ = s.send(msg.as_bytes());
        }
    }
}
