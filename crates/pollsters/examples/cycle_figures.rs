//! One full cycle against a large simulated cloud, for the figures in the report: wall
//! time, CPU time and peak RSS of this process (the agent side only: simcloud runs as its
//! own process), and the API requests simcloud counted.
//!
//! ```sh
//! target/release/simcloud --projects 10000 --images 50000 --volumes 50000 &   # prints URL
//! curl -XPOST $URL/_sim/faults -d '{"service":"all","latency_ms":10}'
//! cargo run --release -p pollsters --example cycle_figures -- $URL
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::Duration;

use ceilometer_config::{MeterSelector, Source};
use pollsters::{CycleRequest, Engine};

fn proc_cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; USER_HZ=100.
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: cycle_figures <simcloud URL>");
    // The tests' fixture, with the concurrency and timeout of a production agent.
    let mut cfg = common::config(&format!("{url}/identity/v3"));
    cfg.api_concurrency = std::env::var("API_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    cfg.api_timeout = Duration::from_secs(30);
    cfg.user_agent = "cycle-figures".into();
    let engine = Engine::new(cfg).unwrap();
    let http = reqwest::Client::new();
    let stats = |h: reqwest::Client, u: String| async move {
        h.get(format!("{u}/_sim/stats"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["total_requests"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = stats(http.clone(), url.clone()).await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let drain = tokio::spawn(async move {
        let mut n = 0usize;
        while let Some(b) = rx.recv().await {
            let b: pollsters::SampleBatch = b;
            n += b.samples.len();
        }
        n
    });
    let req = CycleRequest {
        sources: vec![Source {
            name: "all".into(),
            line: 1,
            interval: 300,
            meters: MeterSelector::new(vec!["*".into()]).unwrap(),
            resources: vec![],
            discovery: vec![],
            group_id_coordination_expression: None,
            sinks: vec![],
        }],
        timestamp: sample::Timestamp::now(),
        batch_size: 50,
    };
    let cpu0 = proc_cpu_secs();
    let t0 = tokio::time::Instant::now();
    let report = engine.poll_cycle(&req, &|_| true, &tx).await;
    let wall = t0.elapsed();
    let cpu = proc_cpu_secs() - cpu0;
    drop(tx);
    let received = drain.await.unwrap();
    let after = stats(http, url).await;
    println!("wall_s={:.2} cpu_s={:.2} peak_rss_mib={:.1} api_requests={} samples={} received={} resources_seen={} pollsters_run={} errors={:?} skipped={}",
        wall.as_secs_f64(), cpu, peak_rss_kib() as f64 / 1024.0, after.saturating_sub(before).saturating_sub(1),
        report.samples, received, report.resources_seen, report.pollsters_run, report.errors, report.skipped);
}
