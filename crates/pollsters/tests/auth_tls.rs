//! Keystone authentication paths: application credentials, and TLS to Keystone (`cafile`
//! honoured, verification on by default, `insecure` honoured), through a TLS front to simcloud.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{config, cycle, fast_retry, sim, small, source};
use pollsters::Engine;
use tokio::net::{TcpListener, TcpStream};

fn certs() -> PathBuf {
    // A throw-away CA and a 127.0.0.1/localhost leaf (see crates/exporter/tests/data/README.md).
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exporter/tests/data")
}

/// A TLS terminator on a free loopback port forwarding to `backend` (plain HTTP).
async fn tls_front(backend: std::net::SocketAddr) -> u16 {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(certs().join("cert.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(certs().join("key.pem")).unwrap();
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_credentials_authenticate() {
    let s = sim(small()).await;
    let ac = s.create_app_credential("agent-1", "ceilometer");
    let mut cfg = config(&s.auth_url());
    cfg.credentials.auth_type = "v3applicationcredential".into();
    cfg.credentials.username = None;
    cfg.credentials.password = None;
    cfg.credentials.project_name = None;
    cfg.credentials.application_credential_id = Some(ac.id.clone());
    cfg.credentials.application_credential_secret = Some(ac.secret.clone());
    let e = Engine::with_retry(cfg.clone(), fast_retry()).unwrap();
    let (batches, report) = cycle(&e, vec![source("s", &["image.size"])], 50, &|_| true).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(batches.iter().map(|b| b.samples.len()).sum::<usize>() > 0);
    // A wrong secret is an identity error, never a panic, and the secret is not logged.
    cfg.credentials.application_credential_secret = Some("wrong".into());
    let e = Engine::with_retry(cfg, fast_retry()).unwrap();
    let (_, report) = cycle(&e, vec![source("s", &["image.size"])], 50, &|_| true).await;
    assert!(
        report.errors.get("identity").copied().unwrap_or(0) > 0,
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_over_tls_verifies_certificates() {
    let s = sim(small()).await;
    let port = tls_front(s.addr()).await;
    let auth_url = format!("https://127.0.0.1:{port}/identity/v3");
    let run = |cafile: Option<PathBuf>, insecure: bool| {
        let mut cfg = config(&auth_url);
        cfg.credentials.cafile = cafile.map(|p| p.display().to_string());
        cfg.credentials.insecure = insecure;
        async move {
            let e = Engine::with_retry(cfg, fast_retry()).unwrap();
            let (batches, report) =
                cycle(&e, vec![source("s", &["image.size"])], 50, &|_| true).await;
            (
                batches.iter().map(|b| b.samples.len()).sum::<usize>(),
                report,
            )
        }
    };
    // Our CA: verified, works.
    let (n, report) = run(Some(certs().join("ca.pem")), false).await;
    assert!(n > 0 && report.errors.is_empty(), "cafile: {report:?}");
    // Verification is on by default: the system roots do not know this CA.
    let (n, report) = run(None, false).await;
    assert_eq!(n, 0);
    assert!(
        report.errors.get("identity").copied().unwrap_or(0) > 0,
        "no CA: {report:?}"
    );
    // insecure = true skips verification (as keystoneauth does).
    let (n, report) = run(None, true).await;
    assert!(n > 0 && report.errors.is_empty(), "insecure: {report:?}");
}
