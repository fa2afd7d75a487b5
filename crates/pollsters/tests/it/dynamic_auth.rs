//! Credentials of non-OpenStack dynamic pollsters end to end through `Engine::poll_cycle`
//! against simcloud: its `dynamic-test` ext API answers only to the right basic, bearer or
//! `X-Api-Key` credential, and its Barbican holds secrets for `barbican_secret_id`.
//! Each scheme is tested right (samples) and wrong (no samples, logged, counted), and no
//! credential ever reaches a log line, a sample or a report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use crate::common::*;
use pollsters::{Engine, EngineExtras, SampleBatch};
use serde_json::{json, Value};
use simcloud::{Service, SimCloud, SimConfig, SimHandle};

const PAYLOAD_OP: &str = "GET /v1/secrets/{id}/payload";

fn engine_for(sim: &SimHandle, yaml: &str) -> Engine {
    let (defs, findings) = dynamic::parse_file(Path::new("auth.yaml"), yaml);
    assert!(
        findings.iter().all(|f| f.level != dynamic::Level::Error),
        "{findings:?}"
    );
    Engine::with_extras(
        config(&sim.auth_url()),
        fast_retry(),
        EngineExtras {
            dynamic: defs,
            ..EngineExtras::default()
        },
    )
    .unwrap()
}

/// pollster → (resource id, volume, project id), sorted.
fn got(batches: &[SampleBatch]) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for b in batches {
        for s in &b.samples {
            m.entry(b.pollster.to_owned()).or_default().push(json!([
                s.resource_id,
                s.volume.to_json(),
                s.project_id
            ]));
        }
    }
    for v in m.values_mut() {
        v.sort_by_key(|x| x.to_string());
    }
    m
}

/// The two items of the ext API.
fn items() -> Vec<Value> {
    vec![
        json!(["ext-0", 3, "team-a"]),
        json!(["ext-1", 5.5, "team-b"]),
    ]
}

fn ext_def(name: &str, url: &str, extra: &str) -> String {
    format!(
        "- name: {name}\n  sample_type: gauge\n  unit: item\n  url_path: \"{url}\"\n  value_attribute: value\n  project_id_attribute: owner\n{extra}"
    )
}

fn ext_url(sim: &SimHandle) -> String {
    format!("{}/dynamic-test/ext/v1/items", sim.url())
}

/// No credential (nor its base64 form) in the logs, the batches or the report.
#[track_caller]
fn assert_no_secret(secrets: &[&str], logs: &str, batches: &[SampleBatch], report: &str) {
    let everything = format!("{batches:?}");
    for s in secrets {
        assert!(!logs.contains(s), "{s} in the logs:\n{logs}");
        assert!(!everything.contains(s), "{s} in the samples");
        assert!(!report.contains(s), "{s} in the report");
    }
}

// Current-thread runtime: the log subscriber sees every task of the test.
#[tokio::test(flavor = "current_thread")]
async fn each_scheme_right_gives_samples_wrong_gives_a_counted_error() {
    let (logs, _guard) = Logs::capture();
    let sim = sim(simcloud::Sizes::empty()).await;
    let url = ext_url(&sim);
    let yaml = [
        ext_def(
            "ext.basic.ok",
            &url,
            "  authentication: {type: basic, username: dynuser, password: dynpass}\n",
        ),
        ext_def(
            "ext.bearer.ok",
            &url,
            "  authentication: {type: bearer, token: dyn-t0ken-42}\n",
        ),
        ext_def(
            "ext.header.ok",
            &url,
            "  authentication: {type: headers, headers: {X-Api-Key: dyn-k3y-42}}\n",
        ),
        ext_def(
            "ext.basic.bad",
            &url,
            "  authentication: {type: basic, username: dynuser, password: wr0ng-pass}\n",
        ),
        ext_def(
            "ext.bearer.bad",
            &url,
            "  authentication: {type: bearer, token: wr0ng-t0ken}\n",
        ),
        ext_def(
            "ext.header.bad",
            &url,
            "  authentication: {type: headers, headers: {X-Api-Key: wr0ng-k3y}}\n",
        ),
        ext_def("ext.none", &url, "  authentication: {type: none}\n"),
    ]
    .concat();
    let e = engine_for(&sim, &yaml);
    let (b, r) = cycle(&e, vec![source("s", &["ext.*"])], 100, &all).await;
    let g = got(&b);

    // Right credentials: the API's data, and the API saw each scheme once.
    assert_eq!(
        g.keys().collect::<Vec<_>>(),
        ["ext.basic.ok", "ext.bearer.ok", "ext.header.ok"]
    );
    for p in ["ext.basic.ok", "ext.bearer.ok", "ext.header.ok"] {
        assert_eq!(g[p], items(), "{p}");
    }
    let count = |who: &str, op: &str| sim.stats().count(who, Service::DynamicTest, op);
    assert_eq!(count("dynuser", "dyn.ext"), 1);
    assert_eq!(count("dyntoken", "dyn.ext"), 1);
    assert_eq!(count("dynkey", "dyn.ext"), 1);

    // Wrong or missing credentials: 401, no samples, one error per pollster, logged.
    assert_eq!(count("anonymous", "dyn.ext.unauthorized"), 4);
    assert_eq!(
        r.errors,
        BTreeMap::from([
            ("dynamic:ext.basic.bad".to_owned(), 1),
            ("dynamic:ext.bearer.bad".to_owned(), 1),
            ("dynamic:ext.header.bad".to_owned(), 1),
            ("dynamic:ext.none".to_owned(), 1),
        ]),
        "{r:?}"
    );
    assert_eq!((r.skipped, r.pollsters_run), (0, 7), "{r:?}");
    let text = logs.text();
    for p in [
        "ext.basic.bad",
        "ext.bearer.bad",
        "ext.header.bad",
        "ext.none",
    ] {
        assert!(
            text.lines().any(|l| l.contains("ERROR")
                && l.contains(&format!("pollster=\"{p}\""))
                && l.contains("HTTP 401")),
            "no error logged for {p}:\n{text}"
        );
    }
    assert_no_secret(
        &[
            "dynpass",
            "ZHludXNlcjpkeW5wYXNz",
            "dyn-t0ken-42",
            "dyn-k3y-42",
            "wr0ng-pass",
            "wr0ng-t0ken",
            "wr0ng-k3y",
        ],
        &text,
        &b,
        &format!("{r:?}"),
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn credentials_from_barbican_end_to_end() {
    let (logs, _guard) = Logs::capture();
    let sim = sim(simcloud::Sizes::empty()).await;
    let url = ext_url(&sim);
    // A stored trailing newline is not part of the token.
    let bearer = sim.store_secret("ext-token", "dyn-t0ken-42\n");
    let basic = sim.store_secret("ext-basic", "dynuser:dynpass");
    let key = sim.store_secret("ext-key", "dyn-k3y-42");
    let upstream = sim.store_secret("ext-upstream", "dynuser, dynpass");
    let with = |secret: &str, auth: &str| format!("  barbican_secret_id: {secret}\n{auth}");
    let yaml = [
        ext_def(
            "bb.bearer",
            &url,
            &with(&bearer, "  authentication: {type: bearer}\n"),
        ),
        ext_def(
            "bb.bearer.twin",
            &url,
            &with(&bearer, "  authentication: {type: bearer}\n"),
        ),
        ext_def(
            "bb.basic",
            &url,
            &with(&basic, "  authentication: {type: basic}\n"),
        ),
        ext_def(
            "bb.basic.user",
            &url,
            &with(
                &upstream,
                "  module: requests.auth\n  authentication_object: HTTPBasicAuth\n",
            ),
        ),
        ext_def(
            "bb.header",
            &url,
            &with(
                &key,
                "  authentication: {type: headers, headers: {X-Api-Key: ~}}\n",
            ),
        ),
    ]
    .concat();
    let e = engine_for(&sim, &yaml);
    let reads = || {
        sim.stats()
            .count("agent-1", Service::KeyManager, PAYLOAD_OP)
    };

    // An agent that owns nothing reads no secret.
    let (b, r) = cycle(&e, vec![source("s", &["bb.*"])], 100, &|_: &[u8]| false).await;
    assert!(b.is_empty());
    assert_eq!((r.resources_seen, r.resources_owned), (5, 0));
    assert_eq!(reads(), 0);

    // The partition key is the URL, never the payload (upstream's key was the payload).
    let keys = Mutex::new(Vec::new());
    let owns = |k: &[u8]| {
        keys.lock()
            .unwrap()
            .push(String::from_utf8(k.to_vec()).unwrap());
        true
    };
    let (b, r) = cycle(&e, vec![source("s", &["bb.*"])], 100, &owns).await;
    assert_eq!(keys.into_inner().unwrap(), vec![url.clone(); 5]);
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!((r.skipped, r.pollsters_run), (0, 5), "{r:?}");
    let g = got(&b);
    assert_eq!(g.len(), 5, "{g:?}");
    for (p, rows) in &g {
        assert_eq!(rows, &items(), "{p}");
    }
    // One payload read per secret per cycle (the twins share theirs), with the agent's
    // token; each credential reached the API in its own scheme.
    assert_eq!(reads(), 4);
    let count = |who: &str| sim.stats().count(who, Service::DynamicTest, "dyn.ext");
    assert_eq!(
        (count("dyntoken"), count("dynuser"), count("dynkey")),
        (2, 2, 1)
    );
    assert_eq!(
        sim.stats()
            .count("anonymous", Service::KeyManager, "unauthenticated"),
        0
    );

    // Next cycle reads the secrets again (cached per cycle only, so a rotated secret is
    // picked up).
    let (b2, r2) = cycle(&e, vec![source("s", &["bb.bearer"])], 100, &all).await;
    assert!(r2.errors.is_empty(), "{r2:?}");
    assert_eq!(got(&b2)["bb.bearer"], items());
    assert_eq!(reads(), 5);

    assert_no_secret(
        &[
            "dyn-t0ken-42",
            "dynpass",
            "ZHludXNlcjpkeW5wYXNz",
            "dyn-k3y-42",
        ],
        &logs.text(),
        &[b, b2].concat(),
        &format!("{r:?}{r2:?}"),
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn barbican_failures_skip_only_their_pollsters() {
    let (logs, _guard) = Logs::capture();
    let sim = sim(simcloud::Sizes::empty()).await;
    let url = ext_url(&sim);
    let good = sim.store_secret("good", "dyn-t0ken-42");
    let not_basic = sim.store_secret("not-basic", "n0-c0l0n-here");
    let wrong = sim.store_secret("wrong", "wr0ng-t0ken");
    let deleted = sim.store_secret("deleted", "dyn-t0ken-42");
    assert!(sim.delete_secret(&deleted));
    let unknown = "00000000-0000-4000-8000-000000000000";
    let with = |secret: &str, auth: &str| format!("  barbican_secret_id: {secret}\n{auth}");
    let bearer = "  authentication: {type: bearer}\n";
    let yaml = [
        ext_def("bb.fine", &url, &with(&good, bearer)),
        ext_def("bb.unknown", &url, &with(unknown, bearer)),
        ext_def("bb.unknown.twin", &url, &with(unknown, bearer)),
        ext_def("bb.deleted", &url, &with(&deleted, bearer)),
        ext_def(
            "bb.notbasic",
            &url,
            &with(&not_basic, "  authentication: {type: basic}\n"),
        ),
        ext_def("bb.wrong", &url, &with(&wrong, bearer)),
    ]
    .concat();
    let e = engine_for(&sim, &yaml);
    let (b, r) = cycle(&e, vec![source("s", &["bb.*"])], 100, &all).await;
    let g = got(&b);
    // The good one is unaffected.
    assert_eq!(g.keys().collect::<Vec<_>>(), ["bb.fine"]);
    assert_eq!(g["bb.fine"], items());
    // Unknown and deleted secrets: 404, one error each (the twins share one read); the
    // wrong token is the ext API's 401; the payload without ':' is unusable data.
    assert_eq!(
        r.errors,
        BTreeMap::from([
            ("dynamic:bb.wrong".to_owned(), 1),
            ("key-manager".to_owned(), 2),
        ]),
        "{r:?}"
    );
    assert_eq!(r.skipped, 1, "{r:?}");
    assert_eq!(
        r.pollsters_run, 2,
        "only bb.fine and bb.wrong polled: {r:?}"
    );
    assert_eq!(
        sim.stats()
            .count("agent-1", Service::KeyManager, PAYLOAD_OP),
        5
    );
    let text = logs.text();
    for id in [unknown, deleted.as_str()] {
        assert!(
            text.lines().any(|l| l.contains("WARN")
                && l.contains("Cannot read the Barbican secret")
                && l.contains(id)
                && l.contains("HTTP 404")),
            "no warning for {id}:\n{text}"
        );
    }
    for p in ["bb.unknown", "bb.unknown.twin", "bb.deleted", "bb.notbasic"] {
        assert!(
            text.lines().any(|l| l.contains("WARN")
                && l.contains(&format!("pollster=\"{p}\""))
                && l.contains("Skipping dynamic pollster this cycle")),
            "no skip logged for {p}:\n{text}"
        );
    }
    assert!(
        text.contains("basic authentication needs the secret payload as user:password"),
        "{text}"
    );
    assert_no_secret(
        &["dyn-t0ken-42", "n0-c0l0n-here", "wr0ng-t0ken"],
        &text,
        &b,
        &format!("{r:?}"),
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn no_key_manager_in_the_catalog() {
    let (logs, _guard) = Logs::capture();
    let sim = SimCloud::start(SimConfig {
        sizes: simcloud::Sizes::empty(),
        omit_from_catalog: vec![Service::KeyManager],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let secret = sim.store_secret("good", "dyn-t0ken-42");
    let url = ext_url(&sim);
    let yaml = [
        ext_def(
            "bb.nocatalog",
            &url,
            &format!("  barbican_secret_id: {secret}\n  authentication: {{type: bearer}}\n"),
        ),
        ext_def(
            "ext.inline",
            &url,
            "  authentication: {type: bearer, token: dyn-t0ken-42}\n",
        ),
    ]
    .concat();
    let e = engine_for(&sim, &yaml);
    let (b, r) = cycle(&e, vec![source("s", &["bb.*", "ext.*"])], 100, &all).await;
    let g = got(&b);
    assert_eq!(g.keys().collect::<Vec<_>>(), ["ext.inline"]);
    assert_eq!(
        r.errors,
        BTreeMap::from([("key-manager".to_owned(), 1)]),
        "{r:?}"
    );
    assert_eq!(
        sim.stats()
            .count("agent-1", Service::KeyManager, PAYLOAD_OP),
        0
    );
    let text = logs.text();
    assert!(
        text.lines().any(|l| l.contains("WARN")
            && l.contains("no key-manager (Barbican) endpoint in the catalog")),
        "{text}"
    );
    assert_no_secret(&["dyn-t0ken-42"], &text, &b, &format!("{r:?}"));
    sim.shutdown().await;
}
