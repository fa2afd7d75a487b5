//! The simulated Barbican: the catalog entry, secrets created through the API and through
//! `SimHandle::store_secret`, payload reads with Barbican's Accept rules, its 401/404/406.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{start, start_with, Env};
use hyper::Method;
use serde_json::json;
use simcloud::{Service, SimConfig, Sizes};

async fn env() -> Env {
    start(Sizes::empty()).await
}

#[tokio::test]
async fn catalog_lists_key_manager_on_loopback() {
    let mut e = env().await;
    let (_, r) = e.c.login("agent-1", "secret").await.unwrap();
    let cat = r.json()["token"]["catalog"].as_array().unwrap().clone();
    let km = cat
        .iter()
        .find(|s| s["type"] == "key-manager")
        .expect("key-manager in the catalog");
    assert_eq!(km["name"], "barbican");
    let urls: Vec<&str> = km["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            format!("{}/key-manager", e.sim.url()),
            format!("{}/internal/key-manager", e.sim.url()),
            format!("{}/admin-api/key-manager", e.sim.url()),
        ]
    );
    assert!(urls.iter().all(|u| u.starts_with("http://127.0.0.1:")));
    e.sim.shutdown().await;

    // A cloud without Barbican in its catalog (the routes still answer).
    let mut e = start_with(SimConfig {
        sizes: Sizes::empty(),
        omit_from_catalog: vec![Service::KeyManager],
        ..SimConfig::default()
    })
    .await;
    let (_, r) = e.c.login("agent-1", "secret").await.unwrap();
    let types: Vec<String> = r.json()["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(!types.iter().any(|t| t == "key-manager"), "{types:?}");
    assert!(types.iter().any(|t| t == "identity"), "{types:?}");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn payload_reads_follow_barbican() {
    let mut e = env().await;
    let tok = e.token.clone();
    // Created through the API (text/plain) ...
    let body =
        json!({"name": "api-key", "payload": "s3cr3t-v4lue", "payload_content_type": "text/plain"});
    let r =
        e.c.send(
            Method::POST,
            "/key-manager/v1/secrets",
            &[("x-auth-token", &tok)],
            Some(body.to_string().into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let href = r.json()["secret_ref"].as_str().unwrap().to_owned();
    assert_eq!(r.header("location"), Some(href.as_str()));
    let prefix = format!("{}/key-manager/v1/secrets/", e.sim.url());
    let id = href
        .strip_prefix(&prefix)
        .expect("secret_ref under the endpoint");
    assert_eq!(id.len(), 36, "{id}");

    let payload_path = format!("/key-manager/v1/secrets/{id}/payload");
    for accept in ["text/plain", "text/plain; charset=utf-8"] {
        let r =
            e.c.send(
                Method::GET,
                &payload_path,
                &[("x-auth-token", &tok), ("accept", accept)],
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], b"s3cr3t-v4lue");
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    }
    // No Accept: application/octet-stream (Barbican's default).
    let r = e.c.get(&payload_path, &tok).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(&r.body[..], b"s3cr3t-v4lue");
    // Unsupported Accept: 406 with Barbican's JSON body.
    let r =
        e.c.send(
            Method::GET,
            &payload_path,
            &[("x-auth-token", &tok), ("accept", "application/xml")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 406);
    assert_eq!(r.json()["code"], 406);
    assert_eq!(r.json()["title"], "Not Acceptable");
    // Metadata never shows the payload.
    let r =
        e.c.send(
            Method::GET,
            &format!("/key-manager/v1/secrets/{id}"),
            &[("x-auth-token", &tok), ("accept", "application/json")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let md = r.json();
    assert_eq!(md["secret_ref"], href.as_str());
    assert_eq!(md["content_types"]["default"], "text/plain");
    assert_eq!(md["name"], "api-key");
    assert!(!String::from_utf8_lossy(&r.body).contains("s3cr3t"));

    // ... and binary with base64 encoding.
    let body = json!({"payload": "YmVlcg==", "payload_content_type": "application/octet-stream", "payload_content_encoding": "base64"});
    let r =
        e.c.send(
            Method::POST,
            "/key-manager/v1/secrets",
            &[("x-auth-token", &tok)],
            Some(body.to_string().into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    let bin = r.json()["secret_ref"].as_str().unwrap().to_owned();
    let r =
        e.c.send(
            Method::GET,
            &format!("{bin}/payload"),
            &[
                ("x-auth-token", &tok),
                ("accept", "application/octet-stream"),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(&r.body[..], b"beer");

    // Through SimHandle, then deleted: 404 afterwards.
    let id2 = e.sim.store_secret("token", "t0k3n");
    let p2 = format!("/key-manager/v1/secrets/{id2}/payload");
    let r =
        e.c.send(
            Method::GET,
            &p2,
            &[("x-auth-token", &tok), ("accept", "text/plain")],
            None,
        )
        .await
        .unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"t0k3n"[..]));
    assert!(e.sim.delete_secret(&id2));
    let r =
        e.c.send(
            Method::GET,
            &p2,
            &[("x-auth-token", &tok), ("accept", "text/plain")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"code": 404, "title": "Not Found", "description": "Not Found. Sorry but your secret is in another castle."})
    );
    assert_eq!(
        e.sim.stats().count(
            "agent-1",
            Service::KeyManager,
            "GET /v1/secrets/{id}/payload"
        ),
        7,
        "2 text/plain, default Accept, 406, binary, t0k3n, 404"
    );
    e.sim.shutdown().await;
}

#[tokio::test]
async fn no_token_no_secret() {
    let mut e = env().await;
    let id = e.sim.store_secret("token", "t0k3n");
    let path = format!("/key-manager/v1/secrets/{id}/payload");
    for token in ["", "not-a-token"] {
        let r =
            e.c.send(
                Method::GET,
                &path,
                &[("x-auth-token", token), ("accept", "text/plain")],
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error"]["code"], 401);
        assert!(r
            .header("www-authenticate")
            .unwrap()
            .starts_with("Keystone uri="));
        assert!(!String::from_utf8_lossy(&r.body).contains("t0k3n"));
    }
    let r = e.c.send(Method::GET, &path, &[], None).await.unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(
        e.sim
            .stats()
            .count("anonymous", Service::KeyManager, "unauthenticated"),
        3
    );
    e.sim.shutdown().await;
}
