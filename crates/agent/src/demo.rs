//! `ceilometer-central demo`: the whole system on one machine, with nothing installed.
//!
//! simcloud (a simulated OpenStack) runs in this process; three agents run in this process
//! too, each with its own Keystone user, sharing an in-process coordination backend (or a
//! real Redis with `--backend-url`), publishing to simcloud's HTTP sample sink. One agent
//! leaves gracefully, another joins; a table per cycle shows each agent's share and the
//! coverage simcloud counted: Swift accounts polled exactly once, missed or duplicated.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ceilometer_config::{Env, LoadRequest, Loaded};
use coordination::memory::{start_in_memory, MemoryBackend};
use coordination::{CoordinationConfig, MemberId, OutagePolicy, RedisUrl};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use simcloud::{PollKind, SimCloud, SimConfig, SimHandle, Sizes};

use crate::cycle::CycleId;
use crate::metrics::Metrics;
use crate::poller::{Clock, SystemClock};
use crate::service::{joining_capabilities, Membership, Service, ServiceSettings};

/// Options of the demo.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Use this Redis (tooz URL) instead of the in-process coordination backend.
    #[arg(long = "backend-url", value_name = "URL")]
    pub backend_url: Option<String>,
    /// Polling interval in seconds.
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    /// Cycles to show.
    #[arg(long, default_value_t = 7)]
    pub cycles: u64,
    /// Projects (Swift accounts) in the simulated cloud.
    #[arg(long, default_value_t = 400)]
    pub projects: usize,
}

struct DemoAgent {
    name: String,
    service: Arc<Service>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    router: Arc<crate::router::Router>,
    metrics: Arc<Metrics>,
}

fn write_config(dir: &Path, name: &str, sim: &SimHandle, interval: u64) -> anyhow::Result<Loaded> {
    let polling = dir.join(format!("{name}-polling.yaml"));
    std::fs::write(
        &polling,
        format!(
            "---\nsources:\n  - name: demo\n    interval: {interval}\n    meters:\n      - \"storage.objects\"\n      - \"storage.objects.size\"\n      - \"image.size\"\n      - \"volume.size\"\n      - \"dns.zone.*\"\n"
        ),
    )?;
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nhost = {name}\n\n[polling]\ncfg_file = {}\nenable_notifications = false\n\n\
             [service_credentials]\nauth_url = {}\nusername = {name}\npassword = secret\nuser_domain_name = Default\n\
             project_name = service\nproject_domain_name = Default\ninterface = public\n\n\
             [publisher]\ntelemetry_secret = demo\n\n\
             [ceilometer_central]\npublishers = {}/sink/{name}\nspool_dir =\nadmin_listen = off\n",
            polling.display(),
            sim.auth_url(),
            sim.url().trim_end_matches('/'),
        ),
    )?;
    let req = LoadRequest {
        config_files: vec![conf],
        env: Env {
            hostname: name.into(),
            ..Env::default()
        },
        ..LoadRequest::default()
    };
    ceilometer_config::load(&req).map_err(|e| {
        let lines: Vec<String> = e.0.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("demo configuration: {}", lines.join("; "))
    })
}

async fn start_agent(
    dir: &Path,
    name: &str,
    sim: &SimHandle,
    args: &DemoArgs,
    backend: &MemoryBackend,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<DemoAgent> {
    let loaded = write_config(dir, name, sim, args.interval)?;
    let poller = crate::engine::build_poller(&loaded)?;
    let router = Arc::new(crate::outputs::build_router(
        &loaded,
        &crate::engine::build_publisher,
    )?);
    let metrics = Arc::new(Metrics::default());
    let heartbeat = Duration::from_millis(250);
    let extra = joining_capabilities(clock.now_us(), heartbeat * 2 + Duration::from_millis(500));
    let (coordinator, view) = match &args.backend_url {
        Some(url) => {
            let mut cfg =
                CoordinationConfig::new(RedisUrl::parse(url)?, name, "central-demo-global");
            cfg.heartbeat = heartbeat;
            cfg.extra_capabilities = extra.clone();
            coordination::start(cfg)?
        }
        None => {
            let mut cfg = CoordinationConfig::new(
                RedisUrl::parse("redis://in-process?membership_timeout=2")?,
                name,
                "central-demo-global",
            );
            cfg.heartbeat = heartbeat;
            cfg.extra_capabilities = extra.clone();
            start_in_memory(cfg, backend)?
        }
    };
    let service = Service::new(
        ServiceSettings {
            member_id: MemberId::from(name),
            batch_size: 50,
            record_ttl: Duration::from_secs(600),
            history: 4,
        },
        poller,
        loaded.polling.sources.clone(),
        router.clone(),
        Some(Membership {
            coordinator,
            view,
            policy: OutagePolicy::LastView,
            extra,
        }),
        clock.clone(),
        metrics.clone(),
    );
    let tasks = service.start();
    Ok(DemoAgent {
        name: name.into(),
        service,
        tasks,
        router,
        metrics,
    })
}

fn published(a: &DemoAgent) -> u64 {
    a.router.snapshots().iter().map(|(_, s)| s.published).sum()
}

/// Run the demo; prints to stdout.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let sim = SimCloud::start(SimConfig {
        seed: 2026,
        sizes: Sizes {
            projects: args.projects,
            images: args.projects * 4,
            volumes: args.projects * 4,
            zones: args.projects / 8,
            recordsets_per_zone: 5,
            ..Sizes::empty()
        },
        ..SimConfig::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("starting simcloud: {e}"))?;
    sim.set_fault(
        serde_json::from_value(serde_json::json!({"service": "object-store", "latency_ms": 5}))
            .context("fault spec")?,
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!(
        "simcloud: {} ({} projects, {} images, {} volumes)",
        sim.url(),
        args.projects,
        args.projects * 4,
        args.projects * 4
    );
    let backend = MemoryBackend::new();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match &args.backend_url {
        Some(u) => println!("coordination: {}", ceilometer_config::mask_url(u)),
        None => {
            println!("coordination: in-process backend (use --backend-url redis://... for Redis)")
        }
    }

    let mut agents: BTreeMap<String, DemoAgent> = BTreeMap::new();
    for n in ["agent-1", "agent-2", "agent-3"] {
        agents.insert(
            n.into(),
            start_agent(dir.path(), n, &sim, &args, &backend, &clock).await?,
        );
    }
    let interval_us = (args.interval * 1_000_000) as i64;
    let first = CycleId::next_after(args.interval, clock.now_us() + 1_500_000);
    println!(
        "{} agents joined; cycles of {} s from cycle #{} (agent-2 leaves after cycle 2, agent-4 joins during cycle 4)\n",
        agents.len(),
        args.interval,
        first.k
    );

    let bars = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:>8} {bar:30} {pos:>7} samples published  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut bar_of: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let total_expected =
        (args.projects * 4 + args.projects * 4 * 2 + args.projects * 2) as u64 * args.cycles;
    let add_bar = |name: &str, bars: &MultiProgress| {
        let b = bars.add(ProgressBar::new(total_expected / 3));
        b.set_style(style.clone());
        b.set_prefix(name.to_owned());
        b
    };
    for n in agents.keys() {
        bar_of.insert(n.clone(), add_bar(n, &bars));
    }

    let mut rows: Vec<String> = Vec::new();
    let mut gone: BTreeMap<String, Arc<Metrics>> = BTreeMap::new();
    let watch = |until_us: i64,
                 c: CycleId,
                 agents: &BTreeMap<String, DemoAgent>,
                 bar_of: &BTreeMap<String, ProgressBar>| {
        for (n, a) in agents {
            if let Some(b) = bar_of.get(n) {
                b.set_position(published(a));
                b.set_message(format!("cycle #{}", c.k));
            }
        }
        until_us
    };
    for step in 0..args.cycles {
        let c = CycleId {
            k: first.k + step,
            ..first
        };
        // Events happen mid-cycle: a leaver finishes the cycle it is in, a joiner serves from
        // the first cycle that starts after its settle margin.
        while clock.now_us() < c.start_us() + interval_us / 2 {
            watch(0, c, &agents, &bar_of);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if step == 1 {
            if let Some(a) = agents.remove("agent-2") {
                a.service
                    .stop_gracefully(a.tasks, Duration::from_secs(30))
                    .await;
                a.router.flush(Duration::from_secs(10)).await;
                a.service.leave_group().await;
                if let Some(b) = bar_of.get("agent-2") {
                    b.finish_with_message("left (graceful)");
                }
                rows.push(format!(
                    "  -- agent-2 left gracefully during cycle #{} (after finishing it)",
                    c.k
                ));
                gone.insert(a.name.clone(), a.metrics.clone());
            }
        }
        if step == 3 {
            let a = start_agent(dir.path(), "agent-4", &sim, &args, &backend, &clock).await?;
            bar_of.insert("agent-4".into(), add_bar("agent-4", &bars));
            agents.insert("agent-4".into(), a);
            rows.push(format!(
                "  -- agent-4 joined during cycle #{} (serves from the next one)",
                c.k
            ));
        }
        // Let the cycle end and its polls finish (the next cycle may already be running).
        while clock.now_us() < c.end_us() + interval_us / 2 {
            watch(0, c, &agents, &bar_of);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Coverage of this cycle's window, from simcloud's accounting.
        let projects = sim.project_ids();
        let offset = clock.now_us() - sim.stats().now().as_micros() as i64;
        let to_sim = |us: i64| Duration::from_micros((us - offset).max(0) as u64);
        let cov = sim.stats().coverage(
            PollKind::SwiftAccount,
            &projects,
            to_sim(c.start_us()),
            to_sim(c.end_us()),
        );
        let shares: Vec<String> = cov
            .per_agent
            .iter()
            .map(|(a, n)| format!("{a}: {n}"))
            .collect();
        let samples: Vec<String> = agents
            .iter()
            .map(|(n, a)| (n.clone(), a.metrics.samples_of(c)))
            .chain(gone.iter().map(|(n, m)| (n.clone(), m.samples_of(c))))
            .filter(|(_, s)| *s > 0)
            .map(|(n, s)| format!("{n}: {s}"))
            .collect();
        rows.push(format!(
            "  cycle #{:<10} Swift accounts polled once {:>4} / missed {:>3} / duplicated {:>3}   accounts per agent [{}]   samples [{}]",
            c.k,
            cov.polled_once.len(),
            cov.missed.len(),
            cov.duplicated.len(),
            shares.join(", "),
            samples.join(", ")
        ));
    }
    for b in bar_of.values() {
        b.finish();
    }
    println!("\nPer cycle (Swift accounts = projects; shares = accounts each agent polled):");
    for r in &rows {
        println!("{r}");
    }
    let takeovers: u64 = agents.values().map(|a| a.metrics.takeovers()).sum();
    println!("\ntakeovers: {takeovers}; stopping the remaining agents gracefully...");
    for (_, a) in agents {
        a.service
            .stop_gracefully(a.tasks, Duration::from_secs(30))
            .await;
        a.router.flush(Duration::from_secs(10)).await;
        a.service.leave_group().await;
        let _ = a.name;
    }
    let sink = sim.sink();
    println!(
        "simcloud's HTTP sink received {} POSTs of samples",
        sink.records().len()
    );
    sim.shutdown().await;
    Ok(())
}
