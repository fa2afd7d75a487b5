//! Exporter cost at 200,000 series (issue 11: a scrape under 100 ms, not blocking polling).
//!
//! `cargo bench -p exporter --bench render`:
//! - `cycle_200k`: observe 200,000 samples and end the cycle (render both formats, swap in):
//!   the work the agent does once per cycle, off the scrape path;
//! - `end_cycle_200k`: the render-and-swap part of that (the rest is `observe`);
//! - `body_200k`: what a scrape does with the published text (clone reference-counted chunks);
//! - `scrape_200k_*`: a whole HTTP scrape over loopback, client reading the full body.
//!
//! Also prints bytes per series of the served bodies.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use exporter::{Exporter, Format};
use sample::{Sample, SampleType, Timestamp, Volume};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SERIES: usize = 200_000;

/// 20 meters × 10,000 resources, with the ids and metadata central pollsters attach.
fn samples() -> Vec<Sample> {
    let md = json!({"display_name": "vol", "name": "vol", "status": "in-use",
        "availability_zone": "nova", "host": "ctl-1@ceph#ceph"});
    let md = md.as_object().cloned().unwrap();
    let meters = 20;
    (0..SERIES)
        .map(|i| Sample {
            name: format!("volume.meter{}", i % meters).into(),
            sample_type: SampleType::Gauge,
            unit: "GB".into(),
            volume: if i % 2 == 0 {
                Volume::Int(i as i64)
            } else {
                Volume::Float(i as f64 / 7.0)
            },
            user_id: Some(format!("{:032x}", i / 13)),
            user_name: None,
            project_id: Some(format!("{:032x}", i / 17)),
            project_name: Some("tenant".into()),
            resource_id: format!("{:08x}-8f3f-4a63-9b51-{:012x}", i / meters, i / meters),
            timestamp: Timestamp::from_unix_micros(1_735_689_600_000_000),
            resource_metadata: md.clone().into(),
            source: "openstack".into(),
            id: "x".into(),
            monotonic_time: None,
        })
        .collect()
}

fn cycle(e: &Exporter, k: u64, samples: &[Sample]) {
    e.begin_cycle(300, k);
    for batch in samples.chunks(50) {
        e.observe(300, k, batch);
    }
    e.end_cycle(300, k);
}

async fn scrape(addr: std::net::SocketAddr, accept: &str) -> usize {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::with_capacity(64 << 20);
    s.read_to_end(&mut buf).await.unwrap();
    buf.len()
}

fn bench(c: &mut Criterion) {
    let samples = samples();
    let e = Exporter::new();
    let mut k = 0;
    cycle(&e, k, &samples);
    let st = e.stats();
    assert_eq!(st.series, SERIES);
    eprintln!(
        "{} series: text {} B ({} B/series), OpenMetrics {} B ({} B/series)",
        st.series,
        st.text_bytes,
        st.text_bytes / st.series,
        st.openmetrics_bytes,
        st.openmetrics_bytes / st.series
    );
    let mut g = c.benchmark_group("exporter");
    g.sample_size(10);
    g.bench_function("cycle_200k", |b| {
        b.iter(|| {
            k += 1;
            cycle(&e, k, &samples);
        })
    });
    // The part of a cycle done in `end_cycle` (render + swap), the rest being `observe`.
    let next = std::cell::Cell::new(1_000_000u64);
    g.bench_function("end_cycle_200k", |b| {
        b.iter_batched(
            || {
                let k = next.get();
                next.set(k + 1);
                e.begin_cycle(300, k);
                for batch in samples.chunks(50) {
                    e.observe(300, k, batch);
                }
                k
            },
            |k| e.end_cycle(300, k),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("body_200k", |b| {
        b.iter(|| black_box(e.body(Format::OpenMetrics)))
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listeners = rt
        .block_on(exporter::serve(&["127.0.0.1:0".into()], None, e.clone()))
        .unwrap();
    let addr = listeners[0].addr;
    for (name, accept) in [
        ("scrape_200k_text", "text/plain"),
        ("scrape_200k_openmetrics", "application/openmetrics-text"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(rt.block_on(scrape(addr, accept))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
