//! Shared helpers of the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use simcloud::client::Client;
use simcloud::{SimCloud, SimConfig, SimHandle, Sizes};

/// A running simulator with a logged-in client.
pub struct Env {
    pub sim: SimHandle,
    pub c: Client,
    pub token: String,
    /// The `admin` project id (32 hex).
    pub admin: String,
}

pub async fn start_with(cfg: SimConfig) -> Env {
    let sim = SimCloud::start(cfg).await.expect("simcloud starts");
    let mut c = Client::connect(sim.addr()).await.expect("connect");
    let (token, reply) = c.login("agent-1", "secret").await.expect("login");
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let admin = reply.json()["token"]["project"]["id"]
        .as_str()
        .expect("project id")
        .to_owned();
    Env {
        sim,
        c,
        token: token.expect("x-subject-token"),
        admin,
    }
}

pub async fn start(sizes: Sizes) -> Env {
    start_with(SimConfig {
        sizes,
        ..SimConfig::default()
    })
    .await
}

/// Loads a sample from `shared/api-samples`.
pub fn sample(rel: &str) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/api-samples");
    let path = format!("{dir}/{rel}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("API sample {path} is missing ({e}); the structure tests need ../shared/api-samples beside the repository")
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("sample {path} is not JSON: {e}"))
}

/// Loads a sample text file (headers).
pub fn sample_text(rel: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/api-samples");
    let path = format!("{dir}/{rel}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("API sample {path} is missing ({e})"))
}

/// Asserts that `ours` has the sample's structure.
#[track_caller]
pub fn assert_like(sample_rel: &str, ours: &Value, allow_extra: &[&str]) {
    let s = sample(sample_rel);
    let diffs = simcloud::structure::compare(&s, ours, allow_extra);
    assert!(
        diffs.is_empty(),
        "response differs from {sample_rel}:\n  {}\nours: {}",
        diffs.join("\n  "),
        serde_json::to_string(ours)
            .unwrap_or_default()
            .chars()
            .take(2000)
            .collect::<String>()
    );
}

/// Asserts a listing key holds a non-empty array (so structure checks are not vacuous).
#[track_caller]
pub fn nonempty(v: &Value, key: &str) -> usize {
    let n = v[key].as_array().map_or(0, Vec::len);
    assert!(n > 0, "{key} is empty in {v}");
    n
}
