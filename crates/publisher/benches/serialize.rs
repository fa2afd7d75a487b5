//! Serialising and signing samples on one core: the meter dict, its HMAC-SHA256 signature and
//! Python `json.dumps` text (the bus path), and the other publishers' encodings.
//!
//! `cargo bench -p publisher --bench serialize`; criterion reports time per sample and
//! samples/s (goal ≥ 100,000 samples/s for the bus path).
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use publisher::wire::{msgpack, py_repr};
use sample::{to_python_json, Metadata, MeterForm, Sample, SampleType, Timestamp, Volume};
use serde_json::{json, Value};

/// A volume sample with the metadata the Cinder pollster attaches (a typical central sample).
fn volume_sample(i: usize) -> Sample {
    let Value::Object(md) = json!({
        "display_name": format!("vol-{i}"), "name": format!("vol-{i}"), "status": "in-use",
        "volume_type": "ceph-ssd", "availability_zone": "nova", "size": 20, "bootable": "false",
        "attachments": [{"server_id": "0f2c8a86-8f3f-4a63-9b51-5f0b5e0c8d11", "device": "/dev/vdb"}],
        "image_id": null, "tags": ["a", "b"]
    }) else {
        unreachable!()
    };
    Sample {
        name: "volume.size".into(),
        sample_type: SampleType::Gauge,
        unit: "GB".into(),
        volume: Volume::Int(20),
        user_id: Some("5f4f6c1e7b1a4e8f9c2d3b4a5e6f7a8b".into()),
        user_name: None,
        project_id: Some("8c3e1f2a4b5c4d6e8f9a0b1c2d3e4f5a".into()),
        project_name: None,
        resource_id: format!("b2f1c9d4-3e4f-4a5b-8c6d-{i:012}"),
        timestamp: Timestamp::from_unix_micros(1_700_000_000_123_456),
        resource_metadata: Metadata::from(md),
        source: "openstack".into(),
        id: format!("00000000-0000-0000-0000-{i:012}"),
        monotonic_time: None,
    }
}

/// A Swift account sample: no metadata (the most common central meter).
fn swift_sample(i: usize) -> Sample {
    Sample {
        name: "storage.objects".into(),
        sample_type: SampleType::Gauge,
        unit: "object".into(),
        volume: Volume::Int(i as i64),
        user_id: None,
        user_name: None,
        project_id: Some(format!("{i:032x}")),
        project_name: None,
        resource_id: format!("{i:032x}"),
        timestamp: Timestamp::from_unix_micros(1_700_000_000_123_456),
        resource_metadata: Metadata::new(),
        source: "openstack".into(),
        id: format!("00000000-0000-0000-0000-{i:012}"),
        monotonic_time: None,
    }
}

fn bench(c: &mut Criterion) {
    let vols: Vec<Sample> = (0..100).map(volume_sample).collect();
    let swift: Vec<Sample> = (0..100).map(swift_sample).collect();
    let mut g = c.benchmark_group("per_100_samples");
    g.throughput(Throughput::Elements(100));
    for (label, samples) in [("volume", &vols), ("swift", &swift)] {
        g.bench_function(format!("bus_sign_json/{label}"), |b| {
            b.iter(|| {
                let list: Vec<Value> = samples
                    .iter()
                    .map(|s| Value::Object(s.meter_message("secret", MeterForm::Modern, None)))
                    .collect();
                black_box(to_python_json(&Value::Array(list)))
            })
        });
        g.bench_function(format!("kilo_sign_json/{label}"), |b| {
            b.iter(|| {
                let list: Vec<Value> = samples
                    .iter()
                    .map(|s| Value::Object(s.meter_message("secret", MeterForm::Kilo, None)))
                    .collect();
                black_box(to_python_json(&Value::Array(list)))
            })
        });
        g.bench_function(format!("udp_sign_msgpack/{label}"), |b| {
            b.iter(|| {
                for s in samples.iter() {
                    let m = Value::Object(s.meter_message("secret", MeterForm::Modern, None));
                    black_box(msgpack(&m));
                }
            })
        });
        g.bench_function(format!("http_as_dict_json/{label}"), |b| {
            b.iter(|| {
                let list: Vec<Value> = samples.iter().map(|s| Value::Object(s.as_dict())).collect();
                black_box(to_python_json(&Value::Array(list)))
            })
        });
        g.bench_function(format!("file_repr/{label}"), |b| {
            b.iter(|| {
                for s in samples.iter() {
                    black_box(py_repr(&Value::Object(s.as_dict())));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
