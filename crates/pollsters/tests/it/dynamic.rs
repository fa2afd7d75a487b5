//! Dynamic (YAML) pollsters end to end through `Engine::poll_cycle` against simcloud's
//! `dynamic-test` service: single- and multi-metric, paging, value/metadata mappings, skip
//! rules, extra metadata and its cache, the XML handler, a non-OpenStack API with basic
//! authentication, broken definitions next to good ones, partitioning.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use crate::common::*;
use pollsters::{Engine, EngineExtras, SampleBatch};
use serde_json::{json, Value};
use simcloud::{Interface, Service, SimHandle};

fn good_yaml(sim: &SimHandle) -> String {
    let ext = format!("{}/dynamic-test/ext/v1", sim.url());
    format!(
        r#"---
- name: dyn.server.disk
  sample_type: gauge
  unit: GB
  endpoint_type: dynamic-test
  url_path: v1/servers?limit=2
  response_entries_key: servers
  next_sample_url_attribute: next
  value_attribute: disk_gb
  metadata_fields: [name, flavor.id, status]
  metadata_mapping: {{name: display_name}}
  preserve_mapped_metadata: false
  skip_sample_values: [40]
  extra_metadata_fields_skip: [{{status: ERROR}}]
  extra_metadata_fields_cache_seconds: 3600
  extra_metadata_fields:
    - name: flavor_name
      url_path: "'v1/flavors/' + sample['flavor']['id']"
      value: name
- name: dyn.server.status
  sample_type: gauge
  unit: status
  endpoint_type: dynamic-test
  url_path: v1/servers
  value_attribute: status
  value_mapping: {{ACTIVE: 1, SHUTOFF: 0, ERROR: 2}}
  default_value: -1
  skip_sample_values: [DELETED]
- name: dyn.server.{{name}}
  sample_type: cumulative
  unit: unit
  endpoint_type: dynamic-test
  url_path: v1/servers
  value_attribute: "[metrics].value"
  skip_sample_values: [skipme, -1]
- name: dyn.xml.disk
  sample_type: gauge
  unit: GB
  endpoint_type: dynamic-test
  url_path: v1/servers.xml
  response_handlers: [xml]
  response_entries_key: servers.server
  value_attribute: "disk_gb | int(value)"
- name: dyn.ext.value
  sample_type: gauge
  unit: item
  url_path: "{ext}/items"
  authentication: {{type: basic, username: dynuser, password: dynpass}}
  value_attribute: value
  project_id_attribute: owner
  user_id_attribute: nobody
- name: dyn.ext.broken
  sample_type: gauge
  unit: item
  url_path: "{ext}/broken"
  authentication: {{type: basic, username: dynuser, password: dynpass}}
  value_attribute: value
- name: dyn.ext.badauth
  sample_type: gauge
  unit: item
  url_path: "{ext}/items"
  authentication: {{type: bearer, token: n0t-the-t0ken}}
  value_attribute: value
"#
    )
}

const BROKEN_DEFS: &str = r#"---
- name: dyn.nounit
  sample_type: gauge
  endpoint_type: dynamic-test
  url_path: v1/servers
  value_attribute: disk_gb
- name: dyn.badop
  sample_type: gauge
  unit: x
  endpoint_type: dynamic-test
  url_path: v1/servers
  value_attribute: "disk_gb | 1 + 1"
- name: dyn.ok.next.to.broken
  sample_type: gauge
  unit: GB
  endpoint_type: dynamic-test
  url_path: v1/servers
  value_attribute: disk_gb
"#;

/// Writes the definitions (good file, a file with broken definitions, invalid YAML).
fn defs_dir(sim: &SimHandle) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("10-good.yaml"), good_yaml(sim)).unwrap();
    std::fs::write(d.path().join("20-broken.yaml"), BROKEN_DEFS).unwrap();
    std::fs::write(
        d.path().join("30-invalid.yaml"),
        "- name: [unclosed\n  : :\n",
    )
    .unwrap();
    d
}

fn load(
    dir: &Path,
) -> (
    Vec<pollsters::DynamicDefinition>,
    Vec<pollsters::DynamicFinding>,
) {
    pollsters::load_dynamic(&pollsters::dynamic_dirs(
        &[dir.display().to_string()],
        &[dir.display().to_string()],
    ))
}

fn dyn_engine(sim: &SimHandle, defs: Vec<pollsters::DynamicDefinition>) -> Engine {
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

/// pollster → samples as (name, volume, user, project, resource id, metadata).
fn by_pollster(batches: &[SampleBatch]) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for b in batches {
        for s in &b.samples {
            m.entry(b.pollster.to_owned()).or_default().push(json!([
                s.name,
                s.sample_type.as_str(),
                s.volume.to_json(),
                s.user_id,
                s.project_id,
                s.resource_id,
                s.resource_metadata.to_value(),
                s.source,
            ]));
        }
    }
    for v in m.values_mut() {
        v.sort_by_key(|x| x.to_string());
    }
    m
}

/// (resource id, volume) sorted by resource id.
fn pairs(rows: &[Value]) -> Vec<(Value, Value)> {
    let mut v: Vec<(Value, Value)> = rows.iter().map(|r| (r[5].clone(), r[2].clone())).collect();
    v.sort_by_key(|x| x.0.to_string());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_pollsters_end_to_end() {
    let sim = sim(small()).await;
    let dir = defs_dir(&sim);
    let (defs, findings) = load(dir.path());
    let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dyn.server.disk",
            "dyn.server.status",
            "dyn.server.{name}",
            "dyn.xml.disk",
            "dyn.ext.value",
            "dyn.ext.broken",
            "dyn.ext.badauth",
            "dyn.ok.next.to.broken"
        ]
    );
    // The broken definitions and the invalid file are reported, the rest loads.
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.level == dynamic::Level::Error)
        .map(|f| f.to_string())
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("dyn.nounit")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("dyn.badop")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("30-invalid.yaml")),
        "{errors:?}"
    );
    // The directory named twice ([DEFAULT] and [polling]) is read once.
    assert!(!findings
        .iter()
        .any(|f| f.message.contains("already defined")));

    // validate's view: dynamic names are known meters, {attr} literal included.
    let known = pollsters::known_meters(&defs);
    assert!(known.iter().any(|k| k == "dyn.server.{name}"));
    assert!(known.iter().any(|k| k == "hardware.cpu.load.1min"));
    assert!(known.iter().any(|k| k == "image.size"));

    let e = dyn_engine(&sim, defs);
    assert!(e.pollster_names().contains(&"dyn.server.{name}"));
    let (b, r) = cycle(&e, vec![source("s", &["dyn.*"])], 3, &all).await;
    let got = by_pollster(&b);
    assert!(b.iter().all(|x| x.samples.len() <= 3));

    // Paging (3 pages of 2), skip (40 GB), metadata mapping, extra metadata except for
    // the ERROR server (extra_metadata_fields_skip).
    assert_eq!(
        got["dyn.server.disk"],
        [
            json!(["dyn.server.disk", "gauge", 10, "user-a", "proj-a", "dyn-0", {"display_name": "server-0", "flavor.id": "f1", "status": "ACTIVE", "flavor_name": "m1.small"}, "openstack"]),
            json!(["dyn.server.disk", "gauge", 20, "user-b", "proj-a", "dyn-1", {"display_name": "server-1", "flavor.id": "f2", "status": "SHUTOFF", "flavor_name": "m1.large"}, "openstack"]),
            json!(["dyn.server.disk", "gauge", 30, "user-c", "proj-b", "dyn-2", {"display_name": "server-2", "flavor.id": "f1", "status": "ERROR"}, "openstack"]),
            json!(["dyn.server.disk", "gauge", 50, "user-d", "proj-c", "dyn-4", {"display_name": "server-4", "flavor.id": "f1", "status": "BUILD", "flavor_name": "m1.small"}, "openstack"]),
        ]
    );
    // Value mapping with default, skipped DELETED.
    let status = pairs(&got["dyn.server.status"]);
    assert_eq!(
        status,
        [
            (json!("dyn-0"), json!(1)),
            (json!("dyn-1"), json!(0)),
            (json!("dyn-2"), json!(2)),
            (json!("dyn-4"), json!(-1)),
        ]
    );
    // Multi-metric: one batch pollster name, sub-metric names from the list, skips.
    let mut multi: Vec<(Value, Value, Value)> = got["dyn.server.{name}"]
        .iter()
        .map(|v| (v[0].clone(), v[5].clone(), v[2].clone()))
        .collect();
    multi.sort_by_key(|x| format!("{x:?}"));
    assert_eq!(
        multi,
        [
            (json!("dyn.server.cpu"), json!("dyn-0"), json!(2)),
            (json!("dyn.server.cpu"), json!("dyn-1"), json!(4)),
            (json!("dyn.server.cpu"), json!("dyn-2"), json!(1)),
            (json!("dyn.server.cpu"), json!("dyn-4"), json!(8)),
            (json!("dyn.server.ram"), json!("dyn-0"), json!(512)),
            (json!("dyn.server.ram"), json!("dyn-1"), json!(1024)),
        ]
    );
    assert!(got["dyn.server.{name}"]
        .iter()
        .all(|v| v[1] == "cumulative"));
    // XML handler.
    let xml = pairs(&got["dyn.xml.disk"]);
    assert_eq!(
        xml,
        (0..5)
            .map(|i| (json!(format!("dyn-{i}")), json!((i + 1) * 10)))
            .collect::<Vec<_>>()
    );
    // Non-OpenStack with basic authentication.
    assert_eq!(
        got["dyn.ext.value"],
        [
            json!([
                "dyn.ext.value",
                "gauge",
                3,
                null,
                "team-a",
                "ext-0",
                {},
                "openstack"
            ]),
            json!([
                "dyn.ext.value",
                "gauge",
                5.5,
                null,
                "team-b",
                "ext-1",
                {},
                "openstack"
            ]),
        ]
    );
    assert_eq!(
        sim.stats()
            .count("dynuser", Service::DynamicTest, "dyn.ext"),
        1
    );
    // Non-200 from a non-OpenStack API aborts that pollster (404 and 401), nothing else.
    assert!(!got.contains_key("dyn.ext.broken"));
    assert!(!got.contains_key("dyn.ext.badauth"));
    assert_eq!(
        r.errors,
        BTreeMap::from([
            ("dynamic:dyn.ext.badauth".to_owned(), 1),
            ("dynamic:dyn.ext.broken".to_owned(), 1),
        ]),
        "{r:?}"
    );
    assert_eq!(
        sim.stats()
            .count("anonymous", Service::DynamicTest, "dyn.ext.unauthorized"),
        1
    );
    // The good definition of the file with broken ones polls.
    assert_eq!(got["dyn.ok.next.to.broken"].len(), 5);
    assert_eq!(r.skipped, 0, "{r:?}");
    assert_eq!(r.pollsters_run, 8);

    // Requests: disk pages 3, status 1, multi 1, ok.next.to.broken 1; flavors once each.
    let count = |op: &str| sim.stats().count("agent-1", Service::DynamicTest, op);
    assert_eq!(count("dyn.servers"), 6);
    assert_eq!(count("dyn.servers.xml"), 1);
    assert_eq!(count("dyn.flavor"), 2);

    // Second cycle: the extra metadata comes from the cache (TTL 3600 s), same samples.
    let (b2, r2) = cycle(&e, vec![source("s", &["dyn.server.disk"])], 100, &all).await;
    assert!(r2.errors.is_empty(), "{r2:?}");
    assert_eq!(by_pollster(&b2)["dyn.server.disk"], got["dyn.server.disk"]);
    assert_eq!(count("dyn.flavor"), 2);
    assert_eq!(count("dyn.servers"), 9);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_metadata_cache_ttl_zero_asks_every_time() {
    let sim = sim(small()).await;
    let yaml = r#"
- name: dyn.nocache
  sample_type: gauge
  unit: GB
  endpoint_type: dynamic-test
  url_path: v1/servers
  value_attribute: disk_gb
  extra_metadata_fields_cache_seconds: 0
  extra_metadata_fields:
    - name: vcpus
      url_path: "'v1/flavors/' + sample['flavor']['id']"
      value: vcpus
"#;
    let (defs, f) = dynamic::parse_file(Path::new("nocache.yaml"), yaml);
    assert!(f.is_empty(), "{f:?}");
    let e = dyn_engine(&sim, defs);
    let (b, r) = cycle(&e, vec![source("s", &["dyn.nocache"])], 100, &all).await;
    assert!(r.errors.is_empty(), "{r:?}");
    let vcpus: Vec<Value> = b
        .iter()
        .flat_map(|x| x.samples.iter())
        .map(|s| s.resource_metadata["vcpus"].clone())
        .collect();
    assert_eq!(vcpus, [json!(1), json!(4), json!(1), json!(4), json!(1)]);
    assert_eq!(
        sim.stats()
            .count("agent-1", Service::DynamicTest, "dyn.flavor"),
        5
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_by_resource_url() {
    let sim = sim(small()).await;
    let yaml = format!(
        r#"
- name: dyn.part
  sample_type: gauge
  unit: GB
  endpoint_type: dynamic-test
  url_path: v1/servers
  value_attribute: disk_gb
- name: dyn.part.ext
  sample_type: gauge
  unit: item
  url_path: "{}/dynamic-test/ext/v1/items?x=1"
  authentication: {{type: basic, username: dynuser, password: dynpass}}
  value_attribute: value
"#,
        sim.url()
    );
    let (defs, f) = dynamic::parse_file(Path::new("part.yaml"), &yaml);
    assert!(f.is_empty(), "{f:?}");
    let e = dyn_engine(&sim, defs);

    // Default discovery: the catalog URL of endpoint_type is the key; the non-OpenStack
    // pollster's key is its URL without query.
    let keys = Mutex::new(Vec::new());
    let record = |k: &[u8]| {
        keys.lock()
            .unwrap()
            .push(String::from_utf8(k.to_vec()).unwrap());
        false
    };
    let (b, r) = cycle(&e, vec![source("s", &["dyn.part*"])], 100, &record).await;
    assert!(b.is_empty());
    let mut keys = keys.into_inner().unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("{}/dynamic-test", sim.url()),
            format!("{}/dynamic-test/ext/v1/items", sim.url()),
        ]
    );
    assert_eq!(
        (r.resources_seen, r.resources_owned, r.pollsters_run),
        (2, 0, 0)
    );
    // Nothing was polled.
    assert!(sim.stats().per_interface(Service::DynamicTest).is_empty());

    // Static resources: two endpoints of the same service; this agent owns one.
    let public = format!("{}/dynamic-test", sim.url());
    let internal = format!("{}/internal/dynamic-test", sim.url());
    let mut src = source("s", &["dyn.part"]);
    src.resources = vec![public.clone(), internal.clone()];
    let internal_key = internal.clone();
    let owns = move |k: &[u8]| k == internal_key.as_bytes();
    let (b, r) = cycle(&e, vec![src], 100, &owns).await;
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!((r.resources_seen, r.resources_owned), (2, 1));
    assert_eq!(b.iter().map(|x| x.samples.len()).sum::<usize>(), 5);
    let per_iface = sim.stats().per_interface(Service::DynamicTest);
    assert_eq!(per_iface.get(&Interface::Internal), Some(&1));
    assert_eq!(per_iface.get(&Interface::Public), None);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_openstack_resource_is_skipped_and_counted() {
    let sim = sim(small()).await;
    let yaml = r#"
- name: dyn.missing
  sample_type: gauge
  unit: GB
  endpoint_type: dynamic-test
  url_path: v1/nothing-here
  value_attribute: disk_gb
- name: dyn.fine
  sample_type: gauge
  unit: GB
  endpoint_type: dynamic-test
  url_path: v1/servers
  value_attribute: disk_gb
- name: dyn.notincatalog
  sample_type: gauge
  unit: GB
  endpoint_type: no-such-service
  url_path: v1/servers
  value_attribute: disk_gb
"#;
    let (defs, f) = dynamic::parse_file(Path::new("f.yaml"), yaml);
    assert!(f.is_empty(), "{f:?}");
    let e = dyn_engine(&sim, defs);
    let (b, r) = cycle(&e, vec![source("s", &["dyn.*"])], 100, &all).await;
    let got = by_pollster(&b);
    assert_eq!(got.keys().collect::<Vec<_>>(), ["dyn.fine"]);
    assert_eq!(got["dyn.fine"].len(), 5);
    assert_eq!(
        r.errors,
        BTreeMap::from([("dynamic-test".to_owned(), 1)]),
        "{r:?}"
    );
    sim.shutdown().await;
}
