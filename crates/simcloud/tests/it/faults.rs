//! Every fault kind can be switched on and off at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::{start, start_with};
use hyper::Method;
use serde_json::json;
use simcloud::{FaultSpec, Latency, SimConfig, Sizes};
use tokio::time::Instant;

fn spec(service: &str) -> FaultSpec {
    FaultSpec {
        service: service.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn errors_429_malformed_truncated_on_and_off() {
    let mut e = start(Sizes::default()).await;
    let url = "/image/v2/images";
    let ok = e.c.get(url, &e.token).await.unwrap();
    assert_eq!(ok.status, 200);

    e.sim
        .set_fault(FaultSpec {
            error_rate: 1.0,
            ..spec("image")
        })
        .unwrap();
    for _ in 0..10 {
        let r = e.c.get(url, &e.token).await.unwrap();
        assert!(r.status == 500 || r.status == 503, "{}", r.status);
    }
    // Other services are unaffected.
    assert_eq!(
        e.c.get("/network/v2.0/floatingips", &e.token)
            .await
            .unwrap()
            .status,
        200
    );

    e.sim
        .set_fault(FaultSpec {
            rate_limit_rate: 1.0,
            retry_after_s: Some(7),
            ..spec("image")
        })
        .unwrap();
    let r = e.c.get(url, &e.token).await.unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));

    e.sim
        .set_fault(FaultSpec {
            malformed_rate: 1.0,
            ..spec("image")
        })
        .unwrap();
    let r = e.c.get(url, &e.token).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), ok.body.len());
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    e.sim
        .set_fault(FaultSpec {
            truncated_rate: 1.0,
            ..spec("image")
        })
        .unwrap();
    let r = e.c.get(url, &e.token).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.len() < ok.body.len());
    assert!(ok.body.starts_with(&r.body));
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    e.sim.faults().clear(None);
    let r = e.c.get(url, &e.token).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, ok.body);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn error_rate_is_reproducible_from_the_seed() {
    async fn run() -> Vec<u16> {
        let mut e = start(Sizes::default()).await;
        e.sim
            .set_fault(FaultSpec {
                error_rate: 0.5,
                ..spec("object-store")
            })
            .unwrap();
        let p = e.admin.clone();
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(
                e.c.send(
                    Method::HEAD,
                    &format!("/object-store/v1/AUTH_{p}"),
                    &[("x-auth-token", &e.token)],
                    None,
                )
                .await
                .unwrap()
                .status,
            );
        }
        e.sim.shutdown().await;
        out
    }
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&204) && a.iter().any(|s| *s >= 500), "{a:?}");
}

#[tokio::test]
async fn latency_and_hang() {
    let mut e = start(Sizes::default()).await;
    let p = e.admin.clone();
    let head = format!("/object-store/v1/AUTH_{p}");
    e.sim
        .set_fault(FaultSpec {
            latency: Some(Latency::Fixed { ms: 150 }),
            ..spec("object-store")
        })
        .unwrap();
    let t = Instant::now();
    let r =
        e.c.send(Method::HEAD, &head, &[("x-auth-token", &e.token)], None)
            .await
            .unwrap();
    assert_eq!(r.status, 204);
    // A lower bound only, as a sanity check of the injected delay.
    assert!(t.elapsed() >= Duration::from_millis(150));

    e.sim
        .set_fault(FaultSpec {
            hang_rate: 1.0,
            ..spec("object-store")
        })
        .unwrap();
    let mut c2 = simcloud::client::Client::connect(e.sim.addr())
        .await
        .unwrap();
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        c2.send(Method::HEAD, &head, &[("x-auth-token", &e.token)], None),
    )
    .await;
    assert!(hung.is_err(), "a hung request must not be answered");
    e.sim.faults().clear(None);
    let r =
        e.c.send(Method::HEAD, &head, &[("x-auth-token", &e.token)], None)
            .await
            .unwrap();
    assert_eq!(r.status, 204);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn token_revocation_expiry_and_keystone_outage() {
    let mut e = start(Sizes::default()).await;
    let p = e.admin.clone();
    let head = format!("/object-store/v1/AUTH_{p}");
    assert_eq!(
        e.c.send(Method::HEAD, &head, &[("x-auth-token", &e.token)], None)
            .await
            .unwrap()
            .status,
        204
    );
    // Revocation over HTTP.
    let r =
        e.c.send(
            Method::POST,
            "/_sim/faults",
            &[],
            Some(json!({"revoke_tokens": true}).to_string().into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.json()["revoked_tokens"].as_u64().unwrap() >= 1);
    let r =
        e.c.get(&format!("/volume/v3/{p}/volumes/detail"), &e.token)
            .await
            .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], 401);
    assert_eq!(
        e.c.send(Method::HEAD, &head, &[("x-auth-token", &e.token)], None)
            .await
            .unwrap()
            .status,
        401
    );
    // Outage of Keystone, over HTTP, then back.
    let r =
        e.c.send(
            Method::POST,
            "/_sim/faults",
            &[],
            Some(
                json!({"service": "identity", "outage": true})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (tok, r) = e.c.login("agent-1", "secret").await.unwrap();
    assert_eq!(r.status, 503);
    assert!(tok.is_none());
    let r =
        e.c.send(Method::DELETE, "/_sim/faults?service=identity", &[], None)
            .await
            .unwrap();
    assert_eq!(r.status, 200);
    let (tok, r) = e.c.login("agent-1", "secret").await.unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(
        e.c.send(
            Method::HEAD,
            &head,
            &[("x-auth-token", &tok.unwrap())],
            None
        )
        .await
        .unwrap()
        .status,
        204
    );
    // Unknown service in a spec: a 400 that names the valid ones.
    let r =
        e.c.send(
            Method::POST,
            "/_sim/faults",
            &[],
            Some(
                json!({"service": "nova", "error_rate": 1.0})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("object-store"));
    e.sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn tokens_expire() {
    let mut e = start_with(SimConfig {
        token_ttl: Duration::from_secs(60),
        ..SimConfig::default()
    })
    .await;
    let p = e.admin.clone();
    let head = format!("/object-store/v1/AUTH_{p}");
    assert_eq!(
        e.c.send(Method::HEAD, &head, &[("x-auth-token", &e.token)], None)
            .await
            .unwrap()
            .status,
        204
    );
    tokio::time::advance(Duration::from_secs(61)).await;
    let r =
        e.c.send(Method::HEAD, &head, &[("x-auth-token", &e.token)], None)
            .await
            .unwrap();
    assert_eq!(r.status, 401);
    let (tok, _) = e.c.login("agent-1", "secret").await.unwrap();
    assert_eq!(
        e.c.send(
            Method::HEAD,
            &head,
            &[("x-auth-token", &tok.unwrap())],
            None
        )
        .await
        .unwrap()
        .status,
        204
    );
    e.sim.shutdown().await;
}
