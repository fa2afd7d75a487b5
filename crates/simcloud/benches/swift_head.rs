//! Load benchmark: Swift `HEAD` per account over keep-alive connections, and memory per
//! resource of a generated cloud.
//!
//! The server runs on its own single-threaded Tokio runtime (one core at most); the client
//! runs on another single-threaded runtime in this process. On a 2-core machine client and
//! server share the two cores (and whatever else runs), so the figure that matters is
//! requests per second of *server CPU time*, which is also printed (from
//! `/proc/thread-self/stat`).
//!
//! `SIMCLOUD_BENCH_SECS` (default 5) and `SIMCLOUD_BENCH_CONNS` (default 32) tune it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use simcloud::client::Client;
use simcloud::model::Model;
use simcloud::util::rss_bytes;
use simcloud::{SimCloud, SimConfig, Sizes};
use tokio::time::Instant;

fn bench_sizes() -> Sizes {
    Sizes {
        projects: 10_000,
        images: 50_000,
        volumes: 50_000,
        snapshots: 10_000,
        backups: 5_000,
        floating_ips: 20_000,
        load_balancers: 2_000,
        shares: 2_000,
        zones: 5_000,
        alarms: 5_000,
        ..Sizes::default()
    }
}

fn memory() {
    let sizes = bench_sizes();
    let before = rss_bytes().unwrap_or(0);
    let m = Model::generate(42, &sizes);
    let after = rss_bytes().unwrap_or(0);
    let n = m.resource_count();
    let delta = after.saturating_sub(before);
    println!(
        "memory: {n} resources (projects {}, images {}, volumes {}, swift containers + rgw buckets included), RSS +{:.1} MiB, {:.0} bytes/resource",
        sizes.projects,
        sizes.images,
        sizes.volumes,
        delta as f64 / 1048576.0,
        delta as f64 / n.max(1) as f64
    );
    drop(m);
}

fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn main() {
    memory();
    let secs: u64 = std::env::var("SIMCLOUD_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let conns: usize = std::env::var("SIMCLOUD_BENCH_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let (tx, rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (cpu_tx, cpu_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let sim = SimCloud::start(SimConfig {
                sizes: Sizes {
                    projects: 10_000,
                    ..Sizes::default()
                },
                ..SimConfig::default()
            })
            .await
            .unwrap();
            let projects = sim.project_ids();
            tx.send((sim.addr(), projects)).unwrap();
            let cpu0 = thread_cpu();
            let _ = stop_rx.await;
            let cpu1 = thread_cpu();
            let total = sim.stats().total_requests();
            cpu_tx
                .send((cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a)), total))
                .unwrap();
            sim.shutdown().await;
        });
    });
    let (addr, projects) = rx.recv().unwrap();
    let projects = Arc::new(projects);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (done, elapsed) = rt.block_on(async move {
        let mut c = Client::connect(addr).await.unwrap();
        let (tok, _) = c.login("agent-bench", "secret").await.unwrap();
        let tok = Arc::new(tok.unwrap());
        let deadline = Instant::now() + Duration::from_secs(secs);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..conns {
            let tok = tok.clone();
            let projects = projects.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = Client::connect(addr).await.unwrap();
                let mut n = 0u64;
                let mut k = i;
                while Instant::now() < deadline {
                    let p = &projects[k % projects.len()];
                    k += conns;
                    let r = c
                        .send(
                            Method::HEAD,
                            &format!("/object-store/v1/AUTH_{p}"),
                            &[("x-auth-token", &tok)],
                            None,
                        )
                        .await
                        .unwrap();
                    assert_eq!(r.status, 204);
                    n += 1;
                }
                n
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        (total, start.elapsed())
    });
    let _ = stop_tx.send(());
    let (cpu, served) = cpu_rx.recv().unwrap();
    server.join().unwrap();
    let rps = done as f64 / elapsed.as_secs_f64();
    println!("swift HEAD: {done} requests in {:.2} s over {conns} keep-alive connections: {rps:.0} req/s (client and server share the machine's cores)", elapsed.as_secs_f64());
    if let Some(cpu) = cpu {
        println!(
            "server thread CPU: {:.2} s for {served} requests → {:.0} req per server-CPU-second ({:.0}% of one core busy)",
            cpu.as_secs_f64(),
            served as f64 / cpu.as_secs_f64().max(1e-9),
            100.0 * cpu.as_secs_f64() / elapsed.as_secs_f64()
        );
    }
}
