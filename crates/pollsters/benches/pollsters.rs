//! Parsing one listing page of 1,000 Glance images and of 1,000 Cinder volumes (JSON as
//! simcloud renders it), and one Swift `HEAD` round trip through the `storage.objects`
//! pollster (engine, HTTP client, sample) against an in-process simcloud.
//!
//! `cargo bench -p pollsters --bench pollsters`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/common/mod.rs"]
mod common;

use ceilometer_config::{MeterSelector, Source};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use pollsters::{CycleRequest, Engine};
use serde_json::json;
use simcloud::{SimCloud, SimConfig, Sizes};

fn images_page() -> Vec<u8> {
    let images: Vec<_> = (0..1000)
        .map(|i| {
            json!({
                "id": format!("{i:08x}-1c2d-4e5f-8a9b-0c1d2e3f4a5b"), "name": format!("image-{i}"),
                "status": "active", "visibility": "public", "owner": "8c3e1f2a4b5c4d6e8f9a0b1c2d3e4f5a",
                "size": 1_073_741_824u64 + i, "virtual_size": null, "container_format": "bare",
                "disk_format": "qcow2", "checksum": "d41d8cd98f00b204e9800998ecf8427e",
                "os_hash_algo": "sha512", "os_hash_value": "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
                "min_disk": 0, "min_ram": 0, "protected": false, "tags": ["a"], "os_hidden": false,
                "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z",
                "self": format!("/v2/images/{i}"), "file": format!("/v2/images/{i}/file"),
                "schema": "/v2/schemas/image"
            })
        })
        .collect();
    serde_json::to_vec(
        &json!({"images": images, "first": "/v2/images", "schema": "/v2/schemas/images",
        "next": "/v2/images?marker=x&limit=1000"}),
    )
    .unwrap()
}

fn volumes_page() -> Vec<u8> {
    let volumes: Vec<_> = (0..1000)
        .map(|i| {
            json!({
                "id": format!("{i:08x}-7b1a-4e8f-9c2d-3b4a5e6f7a8b"), "name": format!("vol-{i}"),
                "status": "in-use", "size": 20, "user_id": "5f4f6c1e7b1a4e8f9c2d3b4a5e6f7a8b",
                "os-vol-tenant-attr:tenant_id": "8c3e1f2a4b5c4d6e8f9a0b1c2d3e4f5a",
                "availability_zone": "nova", "bootable": "false", "encrypted": false,
                "multiattach": false, "volume_type": "ceph-ssd", "description": null,
                "snapshot_id": null, "source_volid": null, "replication_status": null,
                "consistencygroup_id": null, "metadata": {}, "volume_image_metadata": {"image_id": "x"},
                "created_at": "2024-01-01T00:00:00.000000", "updated_at": null,
                "attachments": [{"server_id": "0f2c8a86-8f3f-4a63-9b51-5f0b5e0c8d11", "device": "/dev/vdb",
                    "attachment_id": "a", "volume_id": "v", "host_name": null, "attached_at": "2024-01-01T00:00:00.000000"}],
                "links": [{"rel": "self", "href": "http://x/v3/p/volumes/v"}]
            })
        })
        .collect();
    serde_json::to_vec(&json!({"volumes": volumes,
        "volumes_links": [{"rel": "next", "href": "http://x/v3/p/volumes/detail?marker=x&limit=1000"}]}))
    .unwrap()
}

fn pages(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_page");
    for (name, body) in [("images", images_page()), ("volumes", volumes_page())] {
        g.throughput(Throughput::Elements(1000));
        g.bench_function(format!("{name}_1000"), |b| {
            b.iter(|| {
                let p = pollsters::discovery::parse_page(name, black_box(&body)).unwrap();
                assert_eq!(p.resources.len(), 1000);
                p
            })
        });
    }
    g.finish();
}

fn engine(url: &str) -> Engine {
    // The tests' fixture, one request at a time so a round trip is measured alone.
    let mut cfg = common::config(&format!("{url}/identity/v3"));
    cfg.api_concurrency = 1;
    cfg.user_agent = "bench".into();
    Engine::new(cfg).unwrap()
}

fn swift_head(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(SimCloud::start(SimConfig {
            sizes: Sizes {
                projects: 1,
                ..Sizes::empty()
            },
            ..SimConfig::default()
        }))
        .unwrap();
    let project = sim.project_ids().into_iter().next().unwrap();
    let engine = engine(sim.url());
    // A static resource: no discovery, exactly one HEAD per cycle (the token is cached).
    let req = CycleRequest {
        sources: vec![Source {
            name: "bench".into(),
            line: 1,
            interval: 300,
            meters: MeterSelector::new(vec!["storage.objects".into()]).unwrap(),
            resources: vec![project],
            discovery: vec![],
            group_id_coordination_expression: None,
            sinks: vec![],
        }],
        timestamp: sample::Timestamp::now(),
        batch_size: 50,
    };
    let mut g = c.benchmark_group("swift");
    g.throughput(Throughput::Elements(1));
    g.bench_function("head_round_trip_storage_objects", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(4);
                let rep = engine.poll_cycle(&req, &|_| true, &tx).await;
                drop(tx);
                let b = rx.recv().await.expect("one batch");
                assert_eq!((rep.samples, b.samples.len()), (1, 1));
            })
        })
    });
    g.finish();
    rt.block_on(sim.shutdown());
}

criterion_group!(benches, pages, swift_head);
criterion_main!(benches);
