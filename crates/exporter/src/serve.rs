//! The listeners: HTTP/1.1 (hyper 1, as the admin listener), optionally TLS (rustls with
//! ring), one per `[polling] prometheus_listen_addresses` entry.
//!
//! Like `prometheus_client.start_http_server` upstream, every path serves the metrics, so
//! scrape configs written for Ceilometer keep working whatever path they use.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ceilometer_config::options::PollingSection;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::store::{Exporter, Format, MetricsBody};

/// A client that connects and never finishes the TLS handshake must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// `prometheus_tls_enable` without both files (upstream raises `ValueError`).
    #[error("prometheus_tls_enable is set but prometheus_tls_certfile and prometheus_tls_keyfile are not both set")]
    TlsFilesMissing,
    /// A certificate or key file could not be read or parsed.
    #[error("cannot load {path}: {reason}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the certificate/key pair.
    #[error("invalid TLS certificate/key: {0}")]
    Tls(#[from] rustls::Error),
    /// No address was configured.
    #[error("prometheus_listen_addresses is empty")]
    NoAddress,
    /// An address could not be resolved or bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
}

/// `prometheus_tls_certfile` / `prometheus_tls_keyfile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub certfile: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub keyfile: PathBuf,
}

/// The exporter's part of `[polling]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterSettings {
    /// `prometheus_listen_addresses`: `host:port` each (`[v6]:port` for IPv6).
    pub listen_addresses: Vec<String>,
    /// Set when `prometheus_tls_enable`.
    pub tls: Option<TlsFiles>,
}

impl ExporterSettings {
    /// From the loaded configuration: `Ok(None)` when `enable_prometheus_exporter` is off.
    pub fn from_polling(p: &PollingSection) -> Result<Option<ExporterSettings>, ServeError> {
        if !p.enable_prometheus_exporter {
            return Ok(None);
        }
        let tls = if p.prometheus_tls_enable {
            match (&p.prometheus_tls_certfile, &p.prometheus_tls_keyfile) {
                (Some(c), Some(k)) => Some(TlsFiles {
                    certfile: c.into(),
                    keyfile: k.into(),
                }),
                _ => return Err(ServeError::TlsFilesMissing),
            }
        } else {
            None
        };
        Ok(Some(ExporterSettings {
            listen_addresses: p.prometheus_listen_addresses.clone(),
            tls,
        }))
    }
}

/// A running listener.
#[derive(Debug)]
pub struct Listener {
    /// The bound address (the real port when the configured one was 0).
    pub addr: SocketAddr,
    /// The accept loop; abort it to stop listening.
    pub task: JoinHandle<()>,
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> ServeError {
    ServeError::TlsFile {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// The rustls server configuration from PEM files (ring provider; HTTP/1.1 by ALPN).
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.certfile)
        .map_err(|e| file_err(&files.certfile, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(&files.certfile, e))?;
    if certs.is_empty() {
        return Err(file_err(&files.certfile, "no certificate in the file"));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.keyfile).map_err(|e| file_err(&files.keyfile, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Bind every address (all or nothing: an error leaves no listener running) and serve
/// `exporter` on each until the returned tasks are aborted. TLS files are read once, here.
pub async fn serve(
    addrs: &[String],
    tls: Option<&TlsFiles>,
    exporter: Exporter,
) -> Result<Vec<Listener>, ServeError> {
    if addrs.is_empty() {
        return Err(ServeError::NoAddress);
    }
    let acceptor = tls
        .map(tls_config)
        .transpose()?
        .map(tokio_rustls::TlsAcceptor::from);
    let mut bound = Vec::new();
    for a in addrs {
        let bind_err = |source| ServeError::Bind {
            addr: a.clone(),
            source,
        };
        let listener = TcpListener::bind(a.as_str()).await.map_err(bind_err)?;
        let local = listener.local_addr().map_err(bind_err)?;
        bound.push((listener, local));
    }
    let mut out = Vec::new();
    for (listener, addr) in bound {
        let exporter = exporter.clone();
        let acceptor = acceptor.clone();
        let task = tokio::spawn(accept_loop(listener, acceptor, exporter));
        tracing::info!(%addr, tls = tls.is_some(), "Prometheus exporter listening.");
        out.push(Listener { addr, task });
    }
    Ok(out)
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    exporter: Exporter,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "Prometheus exporter: accept failed.");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let exporter = exporter.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(stream, exporter).await,
                Some(acc) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(stream)).await {
                        Ok(Ok(tls)) => serve_connection(tls, exporter).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "Prometheus exporter: TLS handshake failed.");
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "Prometheus exporter: TLS handshake timed out.");
                        }
                    }
                }
            }
        });
    }
}

async fn serve_connection<S>(stream: S, exporter: Exporter)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req: Request<Incoming>| {
        let r = respond(&exporter, &req);
        async move { Ok::<_, Infallible>(r) }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

/// A scrape's response: the published body in the asked format, or 405 for other methods.
pub fn respond<B>(exporter: &Exporter, req: &Request<B>) -> Response<Either> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = Response::new(Either::Static(Some(Bytes::from_static(
            b"only GET and HEAD\n",
        ))));
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return r;
    }
    let accept = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let mut r = Response::new(Either::Metrics(exporter.body(format)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(format.content_type()),
    );
    r
}

/// A response body: the metrics, or a short fixed message.
#[derive(Debug)]
pub enum Either {
    /// The scrape body.
    Metrics(MetricsBody),
    /// A message (taken when sent).
    Static(Option<Bytes>),
}

impl http_body::Body for Either {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Either::Metrics(m) => std::pin::Pin::new(m).poll_frame(cx),
            Either::Static(b) => {
                std::task::Poll::Ready(b.take().map(|b| Ok(http_body::Frame::data(b))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Either::Metrics(m) => m.is_end_stream(),
            Either::Static(b) => b.is_none(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Either::Metrics(m) => m.size_hint(),
            Either::Static(b) => {
                http_body::SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}
