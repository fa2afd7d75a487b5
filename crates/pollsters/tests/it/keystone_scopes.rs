//! Every `[service_credentials]` scope and authentication form, end to end against simcloud's
//! Keystone (which refuses bodies that stray from the API reference, with Keystone's errors):
//! project by id and by name + domain, domain by id and by name, trust, system, application
//! credentials by id and by name + user. Each run polls a cycle through the token's own
//! catalog: project-less tokens get no project-templated endpoints (Cinder, Swift), exactly as
//! Keystone's catalog backend leaves them out.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::common;

use std::collections::BTreeMap;

use crate::common::{all, config, cycle, fast_retry, sim, small, source};
use ceilometer_config::options::ServiceCredentials;
use pollsters::{Engine, EngineConfig, EngineError};
use serde_json::{json, Value};
use simcloud::{SimHandle, Sizes};

/// Credentials with no scope at all (username agent-1 in Default, password).
fn unscoped(sim: &SimHandle) -> EngineConfig {
    let mut cfg = config(&sim.auth_url());
    cfg.credentials.project_name = None;
    cfg.credentials.project_domain_name = None;
    cfg
}

fn app_cred(sim: &SimHandle, f: impl FnOnce(&mut ServiceCredentials)) -> EngineConfig {
    let mut cfg = unscoped(sim);
    let c = &mut cfg.credentials;
    c.auth_type = "v3applicationcredential".into();
    c.username = None;
    c.user_domain_name = None;
    c.password = None;
    f(c);
    cfg
}

/// A project of the model outside the default domain: (id, name, domain id, domain name).
fn foreign_project(sim: &SimHandle) -> (String, String, String, String) {
    let m = sim.model();
    let domains = m.domains.snap();
    let p = m
        .projects
        .snap()
        .values()
        .find(|p| p.domain != simcloud::model::DEFAULT_DOMAIN && p.enabled)
        .cloned()
        .expect("a project in another domain");
    let d = &domains[&p.domain];
    (
        simcloud::util::hex32(p.id),
        p.name(),
        simcloud::render::domain_id(d.id),
        simcloud::render::domain_name(d.id, d.n),
    )
}

struct Outcome {
    samples: BTreeMap<String, usize>,
    volume_endpoint: Option<String>,
    swift_endpoint: Option<String>,
}

/// One cycle of image, volume and Swift meters with `cfg`; Keystone must not fail.
async fn run(label: &str, cfg: EngineConfig) -> Outcome {
    let e = Engine::with_retry(cfg, fast_retry()).unwrap();
    let id = e.identity();
    let volume_endpoint = id
        .endpoint("volumev3")
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let swift_endpoint = id.endpoint("object-store").await.unwrap();
    let (batches, report) = cycle(
        &e,
        vec![source(
            "s",
            &["image.size", "volume.size", "storage.objects"],
        )],
        50,
        &all,
    )
    .await;
    assert!(report.errors.is_empty(), "{label}: {report:?}");
    let mut samples = BTreeMap::new();
    for b in batches {
        *samples.entry(b.pollster.to_owned()).or_default() += b.samples.len();
    }
    Outcome {
        samples,
        volume_endpoint,
        swift_endpoint,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scope_authenticates_and_polls_through_its_catalog() {
    let sim = sim(small()).await;
    let projects = sim.project_ids().len();
    let admin = Engine::with_retry(config(&sim.auth_url()), fast_retry())
        .unwrap()
        .identity()
        .project_id("admin", "Default")
        .await
        .unwrap()
        .unwrap();
    let (other, other_name, other_domain_id, other_domain_name) = foreign_project(&sim);
    let trust = sim.create_trust("admin", "agent-1", &other).unwrap();
    let ac = sim.create_app_credential("agent-1", "ceilometer");
    let agent_id = sim.user_id("agent-1");

    // (label, credentials, the project the token acts on: None = domain/system scope)
    let mut cases: Vec<(&str, EngineConfig, Option<&str>)> = Vec::new();
    let mut c = unscoped(&sim);
    c.credentials.project_id = Some(other.clone());
    cases.push(("project_id", c, Some(&other)));
    cases.push((
        "project_name + project_domain_name",
        config(&sim.auth_url()),
        Some(&admin),
    ));
    let mut c = unscoped(&sim);
    c.credentials.project_name = Some(other_name.clone());
    c.credentials.project_domain_id = Some(other_domain_id.clone());
    cases.push(("project_name + project_domain_id", c, Some(&other)));
    // user_id instead of username + domain, project by name in the default domain's id.
    let mut c = config(&sim.auth_url());
    c.credentials.username = None;
    c.credentials.user_domain_name = None;
    c.credentials.user_id = Some(agent_id.clone());
    c.credentials.project_domain_name = None;
    c.credentials.project_domain_id = Some("default".into());
    cases.push((
        "user_id + project_name + project_domain_id",
        c,
        Some(&admin),
    ));
    let mut c = unscoped(&sim);
    c.credentials.domain_id = Some(other_domain_id.clone());
    cases.push(("domain_id", c, None));
    let mut c = unscoped(&sim);
    c.credentials.domain_name = Some("Default".into());
    cases.push(("domain_name", c, None));
    let mut c = unscoped(&sim);
    c.credentials.domain_name = Some(other_domain_name.clone());
    cases.push(("domain_name (not default)", c, None));
    let mut c = unscoped(&sim);
    c.credentials.trust_id = Some(trust.id.clone());
    cases.push(("trust_id", c, Some(&other)));
    let mut c = unscoped(&sim);
    c.credentials.system_scope = Some("all".into());
    cases.push(("system_scope = all", c, None));
    let c = app_cred(&sim, |c| {
        c.application_credential_id = Some(ac.id.clone());
        c.application_credential_secret = Some(ac.secret.clone());
    });
    cases.push(("application credential id", c, Some(&admin)));
    let c = app_cred(&sim, |c| {
        c.application_credential_name = Some(ac.name.clone());
        c.application_credential_secret = Some(ac.secret.clone());
        c.user_id = Some(agent_id.clone());
    });
    cases.push(("application credential name + user_id", c, Some(&admin)));
    let c = app_cred(&sim, |c| {
        c.application_credential_name = Some(ac.name.clone());
        c.application_credential_secret = Some(ac.secret.clone());
        c.username = Some("agent-1".into());
        c.user_domain_name = Some("Default".into());
    });
    cases.push(("application credential name + username", c, Some(&admin)));

    for (label, cfg, project) in cases {
        let o = run(label, cfg).await;
        assert_eq!(
            o.samples.get("image.size"),
            Some(&7),
            "{label}: {:?}",
            o.samples
        );
        match project {
            Some(pid) => {
                // The catalog of a token acting on `pid`: Cinder's and Swift's URLs carry it.
                let v = o.volume_endpoint.unwrap_or_default();
                assert!(v.ends_with(&format!("/v3/{pid}")), "{label}: {v}");
                let s = o.swift_endpoint.unwrap_or_default();
                assert!(s.ends_with(&format!("/v1/AUTH_{pid}")), "{label}: {s}");
                assert_eq!(o.samples.get("volume.size"), Some(&9), "{label}");
                assert_eq!(o.samples.get("storage.objects"), Some(&projects), "{label}");
            }
            None => {
                // No project: Keystone drops the project-templated endpoints, so the Cinder
                // and Swift pollsters find no endpoint and are skipped (not an error).
                assert_eq!(o.volume_endpoint, None, "{label}");
                assert_eq!(o.swift_endpoint, None, "{label}");
                assert_eq!(o.samples.get("volume.size"), None, "{label}");
                assert_eq!(o.samples.get("storage.objects"), None, "{label}");
            }
        }
    }
    sim.shutdown().await;
}

/// The bodies we send have the keys and nesting of the API reference's request samples.
#[test]
fn auth_bodies_match_the_api_reference_samples() {
    let sample = |rel: &str| -> Value {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/api-samples/keystone"
        );
        let path = format!("{dir}/{rel}");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("API sample {path} is missing ({e})"));
        serde_json::from_str(&text).unwrap()
    };
    let same = |rel: &str, ours: &Value| {
        let s = sample(rel);
        // Both ways: nothing missing, nothing extra.
        let mut d = simcloud::structure::compare(&s, ours, &[]);
        d.extend(simcloud::structure::compare(ours, &s, &[]));
        assert!(d.is_empty(), "{rel}: {d:?}\nours: {ours}");
    };
    let base = || {
        let mut c = common::creds("http://127.0.0.1:1/identity/v3");
        c.username = None;
        c.user_domain_name = None;
        c.user_id = Some("ee4dfb6e5540447cb3741905149d9b6e".into());
        c.project_name = None;
        c.project_domain_name = None;
        c
    };
    let mut c = base();
    c.project_id = Some("a6944d763bf64ee6a275f1263fae0352".into());
    same(
        "auth/requests/project-id-password.json",
        &pollsters::keystone::auth_body(&c).unwrap(),
    );
    let mut c = base();
    c.project_name = Some("admin".into());
    c.project_domain_id = Some("default".into());
    same(
        "auth/requests/project-name-password.json",
        &pollsters::keystone::auth_body(&c).unwrap(),
    );
    let mut c = base();
    c.auth_type = "v3applicationcredential".into();
    c.user_id = None;
    c.password = None;
    c.application_credential_id = Some("423f19a4ac1e4f48bbb4180756e6eb6c".into());
    c.application_credential_secret = Some("rEaqvJka48mpv".into());
    same(
        "admin/auth-application-credential-id-request.json",
        &pollsters::keystone::auth_body(&c).unwrap(),
    );
    c.application_credential_id = None;
    c.application_credential_name = Some("monitoring".into());
    c.user_id = Some("423f19a4ac1e4f48bbb4180756e6eb6c".into());
    same(
        "admin/auth-application-credential-name-request.json",
        &pollsters::keystone::auth_body(&c).unwrap(),
    );
    // The scopes the samples do not show, as the API reference describes them.
    let scope = |f: &dyn Fn(&mut ServiceCredentials)| {
        let mut c = base();
        f(&mut c);
        pollsters::keystone::auth_body(&c).unwrap()["auth"]["scope"].clone()
    };
    assert_eq!(
        scope(&|c| c.domain_id = Some("default".into())),
        json!({"domain": {"id": "default"}})
    );
    assert_eq!(
        scope(&|c| c.domain_name = Some("Default".into())),
        json!({"domain": {"name": "Default"}})
    );
    assert_eq!(
        scope(&|c| c.trust_id = Some("t1".into())),
        json!({"OS-TRUST:trust": {"id": "t1"}})
    );
    assert_eq!(
        scope(&|c| c.system_scope = Some("all".into())),
        json!({"system": {"all": true}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_mistakes_fail_clearly() {
    let sim = sim(Sizes {
        domains: 5, // domain-5 is disabled
        projects: 30,
        ..small()
    })
    .await;
    // Configuration contradictions are refused before any request, naming the options.
    let mut c = config(&sim.auth_url());
    c.credentials.domain_id = Some("default".into());
    let err = Engine::with_retry(c, fast_retry()).unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("[service_credentials]")
            && msg.contains("project_id/project_name")
            && msg.contains("domain_id/domain_name"),
        "{msg}"
    );
    let mut c = unscoped(&sim);
    c.credentials.system_scope = Some("region".into());
    let err = Engine::with_retry(c, fast_retry()).unwrap_err();
    assert!(err.to_string().contains("system_scope = region"), "{err}");

    // Keystone refusals: an error for identity, never the password.
    let refused = |cfg: EngineConfig| async move {
        let e = Engine::with_retry(cfg, fast_retry()).unwrap();
        let err = e.identity().token().await.expect_err("must be refused");
        assert!(!err.contains("\"secret\""), "{err}");
        err
    };
    // Not the trustee.
    let pid = sim.project_ids()[0].clone();
    let trust = sim.create_trust("admin", "agent-2", &pid).unwrap();
    let mut c = unscoped(&sim);
    c.credentials.trust_id = Some(trust.id);
    assert!(refused(c).await.contains("HTTP 403"));
    // No such trust.
    let mut c = unscoped(&sim);
    c.credentials.trust_id = Some("0123456789abcdef0123456789abcdef".into());
    assert!(refused(c).await.contains("HTTP 404"));
    // A disabled project, a project of a disabled domain, a name in the wrong domain.
    let m = sim.model();
    let domains = m.domains.snap();
    let snap = m.projects.snap();
    let disabled = snap
        .values()
        .find(|p| !p.enabled)
        .expect("a disabled project");
    let mut c = unscoped(&sim);
    c.credentials.project_id = Some(simcloud::util::hex32(disabled.id));
    assert!(refused(c).await.contains("HTTP 401"));
    let in_disabled_domain = snap
        .values()
        .find(|p| p.enabled && !domains[&p.domain].enabled)
        .expect("a project of a disabled domain");
    let mut c = unscoped(&sim);
    c.credentials.project_id = Some(simcloud::util::hex32(in_disabled_domain.id));
    assert!(refused(c).await.contains("HTTP 401"));
    let mut c = unscoped(&sim);
    c.credentials.project_name = Some("service".into());
    c.credentials.project_domain_name = Some("domain-1".into());
    assert!(refused(c).await.contains("HTTP 401"));
    // A disabled domain cannot be a scope either.
    let mut c = unscoped(&sim);
    c.credentials.domain_name = Some("domain-5".into());
    assert!(refused(c).await.contains("HTTP 401"));
    sim.shutdown().await;
}
