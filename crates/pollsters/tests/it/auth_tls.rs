//! TLS to Keystone and every catalog endpoint: `[service_credentials] cafile`, `certfile`,
//! `keyfile` and `insecure` (keystoneauth's names) against a simcloud that serves HTTPS and
//! requires client certificates signed by a throwaway CA (`testsupport::tls::Pki`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use crate::common::{all, config, cycle, fast_retry, small, source};
use pollsters::{Engine, EngineConfig, EngineError};
use simcloud::{Service, SimCloud, SimConfig, SimHandle, SimTls};
use testsupport::tls::Pki;

/// Distinctive, so a test can prove it never appears in an error.
const PASSWORD: &str = "pw-Zq9-never-logged";

/// A simcloud serving HTTPS with `cert`/`key`, requiring client certificates signed by the
/// PKI's CA when `mtls`.
async fn tls_sim(pki: &Pki, cert: &Path, key: &Path, mtls: bool) -> SimHandle {
    SimCloud::start(SimConfig {
        sizes: small(),
        seed: 7,
        agent_password: PASSWORD.into(),
        tls: Some(SimTls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            client_ca: mtls.then(|| pki.ca.clone()),
        }),
        ..SimConfig::default()
    })
    .await
    .expect("simcloud starts")
}

fn tls_config(
    sim: &SimHandle,
    cafile: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> EngineConfig {
    assert!(sim.url().starts_with("https://"), "{}", sim.url());
    let mut cfg = config(&sim.auth_url());
    cfg.credentials.password = Some(PASSWORD.into());
    cfg.credentials.cafile = cafile.map(|p| p.display().to_string());
    cfg.credentials.certfile = cert.map(|p| p.display().to_string());
    cfg.credentials.keyfile = key.map(|p| p.display().to_string());
    cfg
}

/// Authenticates with the agent's Keystone handle; the error text on failure.
async fn authenticate(cfg: EngineConfig) -> Result<String, String> {
    let e = Engine::with_retry(cfg, fast_retry()).map_err(|e| e.to_string())?;
    e.identity().token().await
}

/// The error of an authentication that must fail, checked to carry no secret.
async fn auth_error(cfg: EngineConfig) -> String {
    let err = authenticate(cfg)
        .await
        .expect_err("authentication must fail");
    assert!(!err.contains(PASSWORD), "secret in error: {err}");
    assert!(!err.contains("PRIVATE KEY"), "key material in error: {err}");
    eprintln!("refused as expected: {err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_authenticates_lists_projects_and_polls() {
    let pki = Pki::generate();
    let sim = tls_sim(&pki, &pki.server_cert, &pki.server_key, true).await;
    let cfg = tls_config(
        &sim,
        Some(&pki.ca),
        Some(&pki.client_cert),
        Some(&pki.client_key),
    );
    let e = Engine::with_retry(cfg.clone(), fast_retry()).unwrap();
    let id = e.identity();
    assert!(!id.token().await.unwrap().is_empty());
    // The catalog is https too: project lookups go through the same client identity.
    let identity = id.endpoint("identity").await.unwrap().unwrap();
    assert!(identity.starts_with("https://127.0.0.1:"), "{identity}");
    let admin = id.project_id("admin", "Default").await.unwrap();
    assert!(admin.is_some_and(|p| sim.project_ids().contains(&p)));
    // A whole cycle: tenant discovery (domains, projects) and one Swift HEAD per project.
    let (batches, report) = cycle(&e, vec![source("s", &["storage.objects"])], 50, &all).await;
    assert!(report.errors.is_empty(), "{report:?}");
    let n: usize = batches.iter().map(|b| b.samples.len()).sum();
    assert_eq!(n, sim.project_ids().len());
    let st = sim.stats();
    assert!(st.count("agent-1", Service::Identity, "GET /v3/projects") > 0);
    assert_eq!(
        st.count("agent-1", Service::ObjectStore, "HEAD /v1/{account}"),
        n as u64
    );
    // keystoneauth also takes the key inside the certfile (no keyfile).
    let both = pki.dir.path().join("client-with-key.pem");
    let mut pem = std::fs::read(&pki.client_cert).unwrap();
    pem.extend(std::fs::read(&pki.client_key).unwrap());
    std::fs::write(&both, pem).unwrap();
    let cfg = tls_config(&sim, Some(&pki.ca), Some(&both), None);
    assert!(authenticate(cfg).await.is_ok());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_other_client_certificate_is_refused() {
    let pki = Pki::generate();
    let sim = tls_sim(&pki, &pki.server_cert, &pki.server_key, true).await;
    // No client certificate: the server ends the handshake; the error says so.
    let err = auth_error(tls_config(&sim, Some(&pki.ca), None, None)).await;
    assert!(err.contains("authentication failed"), "{err}");
    assert!(err.contains("CertificateRequired"), "{err}");
    // A certificate from a CA the server does not trust is refused the same way.
    let err = auth_error(tls_config(
        &sim,
        Some(&pki.ca),
        Some(&pki.other_client_cert),
        Some(&pki.other_client_key),
    ))
    .await;
    assert!(err.contains("UnknownCA"), "{err}");
    // Nothing reached Keystone.
    assert_eq!(
        sim.stats()
            .count("agent-1", Service::Identity, "POST /v3/auth/tokens"),
        0
    );
    // A cycle without a client certificate: identity errors, no samples, no panic.
    let e = Engine::with_retry(tls_config(&sim, Some(&pki.ca), None, None), fast_retry()).unwrap();
    let (batches, report) = cycle(&e, vec![source("s", &["storage.objects"])], 50, &all).await;
    assert!(batches.is_empty());
    assert!(
        report.errors.get("identity").copied().unwrap_or(0) > 0,
        "{report:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_verification_is_on_by_default() {
    let pki = Pki::generate();
    let sim = tls_sim(&pki, &pki.server_cert, &pki.server_key, true).await;
    let client =
        |ca: Option<&Path>| tls_config(&sim, ca, Some(&pki.client_cert), Some(&pki.client_key));
    // No cafile: the system roots do not know the test CA.
    let err = auth_error(client(None)).await;
    assert!(
        err.contains("invalid peer certificate: UnknownIssuer"),
        "{err}"
    );
    // The wrong CA: verification fails.
    let err = auth_error(client(Some(&pki.other_ca))).await;
    assert!(
        err.contains("invalid peer certificate: UnknownIssuer"),
        "{err}"
    );
    // A certificate of the right CA for another host name: refused too.
    let wrong = tls_sim(&pki, &pki.wrong_name_cert, &pki.wrong_name_key, true).await;
    let cfg = tls_config(
        &wrong,
        Some(&pki.ca),
        Some(&pki.client_cert),
        Some(&pki.client_key),
    );
    let err = auth_error(cfg).await;
    assert!(err.contains("not valid for name \"127.0.0.1\""), "{err}");
    wrong.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_accepts_a_self_signed_server() {
    let pki = Pki::generate();
    let sim = tls_sim(&pki, &pki.self_signed_cert, &pki.self_signed_key, true).await;
    let mut cfg = tls_config(&sim, None, Some(&pki.client_cert), Some(&pki.client_key));
    // Verified (the default): a self-signed server is refused, with or without our CA.
    let err = auth_error(cfg.clone()).await;
    assert!(err.contains("invalid peer certificate"), "{err}");
    let mut with_ca = cfg.clone();
    with_ca.credentials.cafile = Some(pki.ca.display().to_string());
    let err = auth_error(with_ca).await;
    assert!(err.contains("invalid peer certificate"), "{err}");
    // insecure = true: accepted, and the client certificate is still sent.
    cfg.credentials.insecure = true;
    let e = Engine::with_retry(cfg, fast_retry()).unwrap();
    let (batches, report) = cycle(&e, vec![source("s", &["image.size"])], 50, &all).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(batches.iter().map(|b| b.samples.len()).sum::<usize>(), 7);
    sim.shutdown().await;
}

#[test]
fn unusable_tls_files_name_the_option() {
    let pki = Pki::generate();
    let base = config("https://127.0.0.1:1/identity/v3");
    let build = |f: &dyn Fn(&mut EngineConfig)| {
        let mut c = base.clone();
        f(&mut c);
        Engine::with_retry(c, fast_retry()).expect_err("must not build")
    };
    let missing = pki.dir.path().join("nope.pem");
    let e = build(&|c| c.credentials.cafile = Some(missing.display().to_string()));
    assert!(
        matches!(
            e,
            EngineError::TlsFile {
                option: "[service_credentials] cafile",
                ..
            }
        ),
        "{e}"
    );
    let e = build(&|c| c.credentials.certfile = Some(missing.display().to_string()));
    assert!(
        e.to_string().contains("[service_credentials] certfile"),
        "{e}"
    );
    // A certificate without its key (keyfile pointing at a certificate).
    let e = build(&|c| {
        c.credentials.certfile = Some(pki.client_cert.display().to_string());
        c.credentials.keyfile = Some(pki.ca.display().to_string());
    });
    assert!(
        e.to_string().contains("[service_credentials] certfile"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains(&pki.client_cert.display().to_string()),
        "{e}"
    );
}
