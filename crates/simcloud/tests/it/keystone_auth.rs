//! `POST /v3/auth/tokens` as Keystone judges it: the API reference's request samples are
//! accepted; misspelt or missing members get Keystone's 400, unknown or disabled targets 401,
//! a foreign trust 403, a missing trust 404 (always Keystone's `{"error": {...}}` body); each
//! scope yields its token body and catalog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{assert_like, sample, start, Env};
use hyper::Method;
use serde_json::{json, Value};
use simcloud::client::Reply;
use simcloud::Sizes;

async fn post(e: &mut Env, body: &Value) -> Reply {
    e.c.send(
        Method::POST,
        "/identity/v3/auth/tokens",
        &[],
        Some(body.to_string().into_bytes()),
    )
    .await
    .unwrap()
}

/// Keystone's error body with `code`; returns the message.
#[track_caller]
fn keystone_error(r: &Reply, code: u16) -> String {
    let v = r.json();
    assert_eq!(r.status, code, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["title"].is_string(), "{v}");
    v["error"]["message"].as_str().unwrap().to_owned()
}

fn password(scope: Value) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": "agent-1", "domain": {"name": "Default"}, "password": "secret"}}},
        "scope": scope,
    }})
}

#[tokio::test]
async fn reference_samples_are_accepted() {
    let mut e = start(Sizes::default()).await;
    let uid = e.sim.user_id("agent-1");
    for rel in [
        "keystone/auth/requests/project-id-password.json",
        "keystone/auth/requests/project-name-password.json",
    ] {
        let mut body = sample(rel);
        body["auth"]["identity"]["password"]["user"] = json!({"id": uid, "password": "secret"});
        if body["auth"]["scope"]["project"].get("id").is_some() {
            body["auth"]["scope"]["project"]["id"] = json!(e.admin);
        }
        let r = post(&mut e, &body).await;
        assert_eq!(r.status, 201, "{rel}: {}", String::from_utf8_lossy(&r.body));
        assert_like(
            "keystone/auth/responses/project-scoped-password.json",
            &r.json(),
            &[],
        );
        assert_eq!(r.json()["token"]["project"]["id"], json!(e.admin), "{rel}");
    }
    let ac = e.sim.create_app_credential("agent-1", "monitoring");
    for rel in [
        "keystone/admin/auth-application-credential-id-request.json",
        "keystone/admin/auth-application-credential-name-request.json",
    ] {
        let mut body = sample(rel);
        let a = &mut body["auth"]["identity"]["application_credential"];
        a["secret"] = json!(ac.secret);
        if a.get("id").is_some() {
            a["id"] = json!(ac.id);
        } else {
            a["user"]["id"] = json!(uid);
        }
        let r = post(&mut e, &body).await;
        assert_eq!(r.status, 201, "{rel}: {}", String::from_utf8_lossy(&r.body));
        assert_like(
            "keystone/admin/auth-application-credential-response.json",
            &r.json(),
            &[],
        );
    }
    e.sim.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_get_keystone_errors() {
    let mut e = start(Sizes::default()).await;
    let ok = password(json!({"project": {"name": "admin", "domain": {"id": "default"}}}));
    assert_eq!(post(&mut e, &ok).await.status, 201);
    // (what, body, status, words of the message)
    let mut cases: Vec<(&str, Value, u16, &str)> = Vec::new();
    let mut b = ok.clone();
    b["auth"]["identiy"] = b["auth"]["identity"].take();
    b["auth"].as_object_mut().unwrap().remove("identity");
    cases.push(("identity misspelt", b, 400, "('identiy' was unexpected)"));
    let mut b = ok.clone();
    b["auth"]["identity"]["method"] = json!(["password"]);
    b["auth"]["identity"]
        .as_object_mut()
        .unwrap()
        .remove("methods");
    cases.push((
        "methods misspelt",
        b,
        400,
        "'methods' is a required property",
    ));
    let mut b = ok.clone();
    let user = &mut b["auth"]["identity"]["password"]["user"];
    user["pasword"] = user["password"].take();
    user.as_object_mut().unwrap().remove("password");
    cases.push(("password misspelt", b, 400, "('pasword' was unexpected)"));
    let b = password(json!({"projet": {"id": e.admin}}));
    cases.push(("scope target misspelt", b, 400, "('projet' was unexpected)"));
    let b = password(json!({"project": {"nmae": "admin", "domain": {"id": "default"}}}));
    cases.push(("project name misspelt", b, 400, "'scope/project'"));
    let b = password(json!({"project": {"name": "admin", "domian": {"id": "default"}}}));
    cases.push((
        "project domain misspelt",
        b,
        400,
        "('domian' was unexpected)",
    ));
    let b = password(json!({"project": {"name": "admin"}}));
    cases.push((
        "project name without domain",
        b,
        400,
        "Expecting to find domain in project",
    ));
    let b = password(json!({"domain": {"nam": "Default"}}));
    cases.push(("domain name misspelt", b, 400, "'scope/domain'"));
    let b = password(json!({"OS-TRUST:trust": {"trust_id": "x"}}));
    cases.push(("trust id misspelt", b, 400, "('trust_id' was unexpected)"));
    let b = password(json!({"OS-TRUST:trust": {}}));
    cases.push((
        "trust without id",
        b,
        400,
        "Expecting to find trust_id in trust",
    ));
    let b = password(json!({"system": {"all": "yes"}}));
    cases.push(("system all not a boolean", b, 400, "'scope/system/all'"));
    let b = password(json!({"system": {"al": true}}));
    cases.push(("system all misspelt", b, 400, "('al' was unexpected)"));
    let b = password(json!({"project": {"id": e.admin}, "domain": {"id": "default"}}));
    cases.push((
        "two scope targets",
        b,
        400,
        "system, project, domain, OS-TRUST:trust or unscoped",
    ));
    let mut b = ok.clone();
    b["auth"]["identity"]["password"]["user"]
        .as_object_mut()
        .unwrap()
        .remove("domain");
    cases.push((
        "user name without domain",
        b,
        400,
        "Expecting to find domain in user",
    ));
    let mut b = ok.clone();
    b["auth"]["identity"]["password"]["user"]["password"] = json!(12345);
    cases.push((
        "password not a string",
        b,
        400,
        "'identity/password/user/password'",
    ));
    let mut b = ok.clone();
    b["auth"]["identity"]["methods"] = json!(["password", "token"]);
    cases.push((
        "method without payload",
        b,
        400,
        "Expecting to find token in identity",
    ));
    let b = json!({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"id": "x"}}}}});
    cases.push(("unsupported method", b, 401, "unsupported method"));
    let b = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": "x", "secret": "y"}}, "scope": {"project": {"id": e.admin}}}});
    cases.push((
        "application credential with a scope",
        b,
        401,
        "cannot request a scope",
    ));
    let b = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"name": "x", "secret": "y"}}}});
    cases.push((
        "application credential name without user",
        b,
        400,
        "Expecting to find user in application credential",
    ));
    let b = json!({"autth": {}});
    cases.push((
        "auth misspelt",
        b,
        400,
        "Expecting to find auth in request body",
    ));
    for (what, body, status, words) in cases {
        let r = post(&mut e, &body).await;
        let msg = keystone_error(&r, status);
        assert!(msg.contains(words), "{what}: {msg}");
        // Never a value from the body (it could be a secret), only member names.
        assert!(
            !msg.contains("secret") && !msg.contains("12345"),
            "{what}: {msg}"
        );
        assert!(r.header("x-subject-token").is_none(), "{what}");
    }
    let r =
        e.c.send(
            Method::POST,
            "/identity/v3/auth/tokens",
            &[],
            Some(b"{not json".to_vec()),
        )
        .await
        .unwrap();
    keystone_error(&r, 400);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn scopes_and_their_tokens() {
    let mut e = start(Sizes {
        domains: 5, // domain-5 is disabled
        projects: 30,
        ..Sizes::default()
    })
    .await;
    let m = e.sim.model();
    let domains = m.domains.snap();
    let projects = m.projects.snap();
    let dom = |n: u32| domains.values().find(|d| d.n == n).unwrap().clone();
    let d1 = simcloud::render::domain_id(dom(1).id);
    let catalog_types = |v: &Value| -> Vec<(String, usize)> {
        v["token"]["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["type"].as_str().unwrap().to_owned(),
                    s["endpoints"].as_array().unwrap().len(),
                )
            })
            .collect()
    };
    // Domain scope: the domain, roles, a catalog without project-templated endpoints.
    let r = post(&mut e, &password(json!({"domain": {"id": d1}}))).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["token"]["domain"], json!({"id": d1, "name": "domain-1"}));
    assert!(v["token"].get("project").is_none());
    assert!(v["token"]["roles"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    let cat = catalog_types(&v);
    assert!(cat.contains(&("image".into(), 3)), "{cat:?}");
    assert!(cat.contains(&("volumev3".into(), 0)), "{cat:?}");
    assert!(cat.contains(&("object-store".into(), 0)), "{cat:?}");
    let token = r.header("x-subject-token").unwrap().to_owned();
    let r = e.c.get("/identity/v3/auth/catalog", &token).await.unwrap();
    assert_eq!(r.status, 200);
    // By name too; a disabled or unknown domain is 401.
    let r = post(&mut e, &password(json!({"domain": {"name": "domain-1"}}))).await;
    assert_eq!(r.json()["token"]["domain"]["id"], json!(d1));
    for d in [
        json!({"name": "domain-5"}),
        json!({"name": "nope"}),
        json!({"id": "nope"}),
    ] {
        let r = post(&mut e, &password(json!({ "domain": d }))).await;
        keystone_error(&r, 401);
    }
    // System scope.
    let r = post(&mut e, &password(json!({"system": {"all": true}}))).await;
    assert_eq!(r.status, 201);
    let v = r.json();
    assert_eq!(v["token"]["system"], json!({"all": true}));
    assert!(catalog_types(&v).contains(&("volumev3".into(), 0)));
    // Trust scope: the trust's project and catalog, for the trustee only.
    let pid = e.sim.project_ids()[3].clone();
    let trust = e.sim.create_trust("admin", "agent-1", &pid).unwrap();
    let r = post(
        &mut e,
        &password(json!({"OS-TRUST:trust": {"id": trust.id}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["token"]["project"]["id"], json!(pid));
    assert_eq!(v["token"]["OS-TRUST:trust"]["id"], json!(trust.id));
    assert_eq!(
        v["token"]["OS-TRUST:trust"]["trustee_user"]["id"],
        json!(e.sim.user_id("agent-1"))
    );
    assert_eq!(
        v["token"]["OS-TRUST:trust"]["trustor_user"]["id"],
        json!(e.sim.user_id("admin"))
    );
    assert!(catalog_types(&v).contains(&("volumev3".into(), 3)));
    let other = e.sim.create_trust("admin", "agent-2", &pid).unwrap();
    let r = post(
        &mut e,
        &password(json!({"OS-TRUST:trust": {"id": other.id}})),
    )
    .await;
    assert!(keystone_error(&r, 403).contains("not a trustee"));
    let r = post(
        &mut e,
        &password(json!({"OS-TRUST:trust": {"id": "0badc0de"}})),
    )
    .await;
    assert!(keystone_error(&r, 404).contains("Could not find trust"));
    // Projects: disabled, in a disabled domain, unknown, or named in the wrong domain: 401.
    let disabled = projects.values().find(|p| !p.enabled).unwrap();
    let hidden = projects
        .values()
        .find(|p| p.enabled && !domains[&p.domain].enabled)
        .unwrap();
    for scope in [
        json!({"project": {"id": simcloud::util::hex32(disabled.id)}}),
        json!({"project": {"id": simcloud::util::hex32(hidden.id)}}),
        json!({"project": {"id": "0123456789abcdef0123456789abcdef"}}),
        json!({"project": {"name": "admin", "domain": {"id": d1}}}),
    ] {
        let r = post(&mut e, &password(scope.clone())).await;
        keystone_error(&r, 401);
    }
    // Unscoped: no catalog, no roles.
    let mut b = password(Value::Null);
    b["auth"].as_object_mut().unwrap().remove("scope");
    let r = post(&mut e, &b).await;
    assert_eq!(r.status, 201);
    let v = r.json();
    assert!(v["token"].get("catalog").is_none() && v["token"].get("roles").is_none());
    let r = post(&mut e, &password(json!("unscoped"))).await;
    assert_eq!(r.status, 201);
    // Wrong password: 401, whatever the scope.
    let mut b = password(json!({"system": {"all": true}}));
    b["auth"]["identity"]["password"]["user"]["password"] = json!("nope");
    keystone_error(&post(&mut e, &b).await, 401);
    e.sim.shutdown().await;
}
