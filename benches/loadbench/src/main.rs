//! Load benchmark of ceilometer-central: starts `redis-server`, `simcloud` and N
//! `ceilometer-central` processes, runs cycles, and reports per-agent CPU/RSS/wall time,
//! fleet coverage (from simcloud's accounting), scaling efficiency and recovery after churn.
//! See `benches/loadbench/README.md`.
#![allow(missing_docs)]

mod charts;
mod procs;
mod report;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Serialize;
use serde_json::Value;

use procs::Guard;

/// Options; a `--preset` fills every one not given.
#[derive(Parser, Debug, Clone, Serialize)]
#[command(name = "loadbench", about = "Load benchmark of ceilometer-central")]
pub struct Args {
    /// small (CI: fails unless coverage is exact), large, k12 (12k resources, heartbeat 1 s),
    /// latency (large at 40 ms), huge.
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// Fleet sizes to measure, e.g. 1,2,4,8.
    #[arg(long, value_delimiter = ',')]
    pub agents: Option<Vec<usize>>,
    #[arg(long)]
    pub projects: Option<usize>,
    #[arg(long)]
    pub images: Option<usize>,
    #[arg(long)]
    pub volumes: Option<usize>,
    /// Designate zones (recordsets are polled per zone).
    #[arg(long)]
    pub zones: Option<usize>,
    /// Added latency of every API call (simcloud fault `latency_ms` on `all`).
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// Polling interval (s).
    #[arg(long)]
    pub interval: Option<u64>,
    /// Measured cycles per fleet size.
    #[arg(long)]
    pub cycles: Option<usize>,
    /// `[coordination] heartbeat` of each agent (s); the membership timeout is six beats.
    /// Presets use 0.25 s so that churn settles quickly, except `k12`, which uses the agent's
    /// own default of 1 s: at 0.25 s heartbeats cost a quarter of a small fleet's CPU (every
    /// beat is two Redis round trips).
    #[arg(long)]
    pub heartbeat: Option<f64>,
    /// Churn schedule `event@cycle,...` (join, term, kill), cycles counted from the start of
    /// the churn phase; `none` skips it.
    #[arg(long)]
    pub churn: Option<String>,
    /// Agents running at the start of the churn phase (default: the largest fleet).
    #[arg(long)]
    pub churn_agents: Option<usize>,
    /// Meters polled (`polling.yaml` patterns).
    #[arg(long, value_delimiter = ',')]
    pub meters: Option<Vec<String>>,
    /// `[ceilometer_central] api_concurrency` of each agent.
    #[arg(long)]
    pub api_concurrency: Option<u32>,
    /// Extra simcloud `--fault` JSON specs, passed through (repeatable).
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where the report goes (`<out>/<preset>.md`, `.json`, `-*.svg`).
    #[arg(long, default_value = "benches/loadbench/reports")]
    pub out: PathBuf,
    /// Report file stem (default: the preset).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub agent_bin: Option<PathBuf>,
    #[arg(long)]
    pub simcloud_bin: Option<PathBuf>,
    /// Keep the work directory (configs, agent logs).
    #[arg(long)]
    pub keep_work: bool,
}

/// Resolved parameters.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub preset: String,
    pub agents: Vec<usize>,
    pub projects: usize,
    pub images: usize,
    pub volumes: usize,
    pub zones: usize,
    pub latency_ms: u64,
    pub interval: u64,
    pub cycles: usize,
    pub heartbeat: f64,
    pub churn: Vec<(String, usize)>,
    pub churn_agents: usize,
    pub meters: Vec<String>,
    pub api_concurrency: u32,
    pub faults: Vec<String>,
    pub seed: u64,
    pub assert_exact: bool,
}

impl Params {
    /// The agents' membership timeout (s): six heartbeats, as loadbench has always used.
    pub fn membership_timeout(&self) -> f64 {
        self.heartbeat * 6.0
    }
}

const DEFAULT_METERS: &[&str] = &[
    "storage.objects",
    "storage.objects.size",
    "storage.objects.containers",
    "storage.containers.objects",
    "storage.containers.objects.size",
    "image.size",
    "volume.size",
];

fn resolve(a: &Args) -> Result<Params> {
    // (agents, projects, images, volumes, zones, latency, interval, cycles, churn, heartbeat)
    let p = match a.preset.as_str() {
        "small" => (
            vec![1, 2],
            300,
            1000,
            1000,
            10,
            5,
            4,
            2,
            "join@1,term@3,kill@5",
            0.25,
        ),
        "large" => (
            vec![1, 2, 4],
            10_000,
            50_000,
            50_000,
            10,
            10,
            30,
            2,
            "join@0,term@1,kill@2",
            0.25,
        ),
        // 12,000 resources with the agent's own heartbeat: the size at which the Python agent
        // was measured (developers' guide: ~1,300 µs of CPU per sample, ~124 MiB per agent).
        "k12" => (
            vec![1, 3],
            2_000,
            5_000,
            5_000,
            10,
            10,
            30,
            3,
            "term@2",
            1.0,
        ),
        // The `large` cloud where API latency dominates (40 ms), for the scaling goal.
        "latency" => (
            vec![1, 2, 4],
            10_000,
            50_000,
            50_000,
            10,
            40,
            90,
            1,
            "none",
            0.25,
        ),
        "huge" => (
            vec![4],
            100_000,
            1_000_000,
            1_000_000,
            10,
            10,
            120,
            1,
            "none",
            0.25,
        ),
        other => bail!("unknown preset {other}: small, large, k12, latency or huge"),
    };
    let churn_s = a.churn.clone().unwrap_or_else(|| p.8.to_owned());
    let mut churn = Vec::new();
    if churn_s != "none" && !churn_s.is_empty() {
        for ev in churn_s.split(',') {
            let (what, at) = ev
                .split_once('@')
                .with_context(|| format!("churn event {ev:?}: want event@cycle"))?;
            if !["join", "term", "kill"].contains(&what) {
                bail!("churn event {what:?}: join, term or kill");
            }
            churn.push((what.to_owned(), at.parse()?));
        }
    }
    let agents = a.agents.clone().unwrap_or(p.0);
    if agents.is_empty() || agents.contains(&0) {
        bail!("--agents needs sizes >= 1");
    }
    let heartbeat = a.heartbeat.unwrap_or(p.9);
    if !(0.05..=10.0).contains(&heartbeat) {
        bail!("--heartbeat must be between 0.05 and 10 seconds");
    }
    let churn_agents = a
        .churn_agents
        .unwrap_or_else(|| agents.iter().copied().max().unwrap_or(1).max(2));
    Ok(Params {
        preset: a.preset.clone(),
        projects: a.projects.unwrap_or(p.1),
        images: a.images.unwrap_or(p.2),
        volumes: a.volumes.unwrap_or(p.3),
        zones: a.zones.unwrap_or(p.4),
        latency_ms: a.latency_ms.unwrap_or(p.5),
        interval: a.interval.unwrap_or(p.6),
        cycles: a.cycles.unwrap_or(p.7).max(1),
        heartbeat,
        agents,
        churn,
        churn_agents,
        meters: a
            .meters
            .clone()
            .unwrap_or_else(|| DEFAULT_METERS.iter().map(|s| s.to_string()).collect()),
        api_concurrency: a.api_concurrency.unwrap_or(16),
        faults: a.faults.clone(),
        seed: a.seed,
        assert_exact: a.preset == "small",
    })
}

/// Which simcloud accounting kinds the meters exercise.
fn poll_kinds(meters: &[String]) -> Vec<&'static str> {
    let m = |prefixes: &[&str]| {
        meters.iter().any(|x| {
            x == "*"
                || prefixes
                    .iter()
                    .any(|p| x == p || (x.ends_with('*') && p.starts_with(x.trim_end_matches('*'))))
        })
    };
    let mut k = Vec::new();
    // One read of each account per cycle, `HEAD` or `GET`, whichever meters are polled.
    if m(&[
        "storage.objects",
        "storage.objects.size",
        "storage.objects.containers",
        "storage.containers.objects",
        "storage.containers.objects.size",
    ]) {
        k.push("swift.account");
    }
    if m(&[
        "radosgw.objects",
        "radosgw.objects.size",
        "radosgw.objects.containers",
        "radosgw.containers.objects",
        "radosgw.containers.objects.size",
    ]) {
        k.push("rgw.bucket");
    }
    if m(&["radosgw.usage"]) {
        k.push("rgw.usage");
    }
    if m(&["dns.zone.recordsets"]) {
        k.push("dns.recordsets");
    }
    k
}

pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn sleep_until_us(t: i64) {
    let d = t - now_us();
    if d > 0 {
        std::thread::sleep(Duration::from_micros(d as u64));
    }
}

/// One agent process.
pub struct Agent {
    pub name: String,
    pub admin: SocketAddr,
    pub proc: Guard,
}

impl Agent {
    fn metrics(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        if let Ok((200, body)) = procs::http(self.admin, "GET", "/metrics", Duration::from_secs(5))
        {
            for l in String::from_utf8_lossy(&body).lines() {
                if l.starts_with('#') {
                    continue;
                }
                if let Some((k, v)) = l.rsplit_once(' ') {
                    if let Ok(v) = v.parse() {
                        m.insert(k.to_owned(), v);
                    }
                }
            }
        }
        m
    }
    fn ready(&self) -> bool {
        matches!(
            procs::http(self.admin, "GET", "/readyz", Duration::from_secs(5)),
            Ok((200, _))
        )
    }
}

/// The running bench: simcloud, redis and the work directory.
pub struct Bench {
    pub p: Params,
    pub dir: PathBuf,
    pub sim: SocketAddr,
    pub redis_port: u16,
    pub agent_bin: PathBuf,
    /// Wall clock µs minus simcloud µs.
    pub sim_offset_us: i64,
}

impl Bench {
    fn start_agent(&self, name: &str) -> Result<Agent> {
        let admin_port = procs::free_port()?;
        let p = &self.p;
        let polling = self.dir.join(format!("{name}-polling.yaml"));
        let meters: String = p
            .meters
            .iter()
            .map(|m| format!("      - \"{m}\"\n"))
            .collect();
        std::fs::write(
            &polling,
            format!(
                "---\nsources:\n  - name: loadbench\n    interval: {}\n    meters:\n{meters}",
                p.interval
            ),
        )?;
        let conf = self.dir.join(format!("{name}.conf"));
        std::fs::write(
            &conf,
            format!(
                "[DEFAULT]\nhost = {name}\n\n[polling]\ncfg_file = {}\nenable_notifications = false\nbatch_size = 50\n\n\
                 [coordination]\nbackend_url = redis://127.0.0.1:{}?timeout=3&membership_timeout={}\nheartbeat = {}\n\n\
                 [service_credentials]\nauth_type = password\nauth_url = http://{}/identity/v3\nusername = {name}\npassword = secret\n\
                 user_domain_name = Default\nproject_name = service\nproject_domain_name = Default\ninterface = public\n\n\
                 [service_types]\nradosgw = radosgw\n\n\
                 [rgw_admin_credentials]\naccess_key = {name}\nsecret_key = simcloud-secret\n\n\
                 [publisher]\ntelemetry_secret = loadbench\n\n\
                 [ceilometer_central]\nadmin_listen = 127.0.0.1:{admin_port}\nspool_dir =\napi_timeout = 30\napi_concurrency = {}\n",
                polling.display(),
                self.redis_port,
                p.membership_timeout(),
                p.heartbeat,
                self.sim,
                p.api_concurrency,
            ),
        )?;
        let log = std::fs::File::create(self.dir.join(format!("{name}.log")))?;
        let proc = Guard::spawn(
            name,
            Command::new(&self.agent_bin)
                .arg("--config-file")
                .arg(&conf)
                .env("HOME", &self.dir)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(log),
        )?;
        Ok(Agent {
            name: name.into(),
            admin: SocketAddr::from(([127, 0, 0, 1], admin_port)),
            proc,
        })
    }

    fn wait_ready(&self, agents: &[Agent]) -> Result<()> {
        for a in agents {
            let deadline = now_us() + 60_000_000;
            while !a.ready() {
                if now_us() > deadline {
                    bail!(
                        "{} not ready after 60 s; log: {}",
                        a.name,
                        self.dir.join(format!("{}.log", a.name)).display()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Warm-up: waits until every agent has completed a cycle whose ring had `n` members
    /// (the first cycle after a start may belong to the others), so measured cycles are
    /// settled ones.
    fn wait_settled(&self, agents: &[Agent], n: usize) -> Result<()> {
        let iv = format!("{{interval=\"{}\"}}", self.p.interval);
        let deadline = now_us() + (4 * self.p.interval as i64 + 60) * 1_000_000;
        loop {
            let settled = agents.iter().all(|a| {
                let m = a.metrics();
                let g = |k: &str| {
                    m.get(&format!("ceilometer_central_{k}{iv}"))
                        .copied()
                        .unwrap_or(0.0)
                };
                g("cycles_total") >= 1.0 && g("cycle_members") as usize == n
            });
            if settled {
                return Ok(());
            }
            if now_us() > deadline {
                bail!(
                    "agents did not complete a settled cycle in time; logs in {}",
                    self.dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn cycle_start_us(&self, k: i64) -> i64 {
        k * self.p.interval as i64 * 1_000_000
    }

    /// Simcloud per-agent request totals.
    fn requests(&self) -> BTreeMap<String, u64> {
        procs::get_json(self.sim, "/_sim/stats?resources=false")
            .ok()
            .and_then(|v| {
                v.get("agents")?.as_object().map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v["total"].as_u64().unwrap_or(0)))
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// Coverage of cycle `k` summed over the accounting kinds the meters exercise.
    fn coverage(&self, k: i64) -> Result<report::Coverage> {
        let from = self.cycle_start_us(k) - self.sim_offset_us;
        let to = self.cycle_start_us(k + 1) - self.sim_offset_us;
        let mut c = report::Coverage::default();
        for kind in poll_kinds(&self.p.meters) {
            let v = procs::get_json(
                self.sim,
                &format!(
                    "/_sim/coverage?kind={kind}&from_us={}&to_us={}",
                    from.max(0),
                    to.max(0)
                ),
            )?;
            let n = |f: &str| v[f].as_array().map_or(0, Vec::len);
            let once = n("polled_once");
            let missed = n("missed");
            let dup = n("duplicated");
            c.expected += once + missed + dup;
            c.once += once;
            c.missed += missed;
            c.duplicated += dup;
            c.by_kind.insert(kind.to_owned(), [once, missed, dup]);
            if let Some(o) = v["per_agent"].as_object() {
                for (a, n) in o {
                    *c.per_agent.entry(a.clone()).or_default() += n.as_u64().unwrap_or(0);
                }
            }
        }
        Ok(c)
    }
}

#[derive(Clone, Default)]
struct Snap {
    cpu: BTreeMap<String, f64>,
    samples: BTreeMap<String, f64>,
    cycles: BTreeMap<String, f64>,
    duration: BTreeMap<String, f64>,
    owned: BTreeMap<String, f64>,
    members: BTreeMap<String, f64>,
    requests: BTreeMap<String, u64>,
    redis: u64,
    t_us: i64,
}

fn snap(b: &Bench, agents: &[Agent]) -> Snap {
    let mut s = Snap {
        t_us: now_us(),
        requests: b.requests(),
        redis: procs::redis_calls(b.redis_port).unwrap_or(0),
        ..Snap::default()
    };
    let iv = format!("{{interval=\"{}\"}}", b.p.interval);
    for a in agents {
        if let Some(pid) = a.proc.pid() {
            s.cpu
                .insert(a.name.clone(), procs::cpu_secs(pid).unwrap_or(0.0));
        }
        let m = a.metrics();
        let g = |k: &str| {
            m.get(&format!("ceilometer_central_{k}"))
                .copied()
                .unwrap_or(0.0)
        };
        s.samples.insert(a.name.clone(), g("samples_polled_total"));
        s.cycles
            .insert(a.name.clone(), g(&format!("cycles_total{iv}")));
        s.duration
            .insert(a.name.clone(), g(&format!("cycle_duration_seconds{iv}")));
        s.owned
            .insert(a.name.clone(), g(&format!("resources_owned{iv}")));
        s.members
            .insert(a.name.clone(), g(&format!("cycle_members{iv}")));
    }
    s
}

/// The moment of cycle `k` at which it is read: its end, less a margin.
fn read_point(b: &Bench, k: i64) -> i64 {
    let margin = (b.p.interval as i64 * 1_000_000 / 20).clamp(100_000, 1_000_000);
    b.cycle_start_us(k + 1) - margin
}

/// Measures `p.cycles` cycles with `n` agents.
fn run_fleet(b: &Bench, n: usize) -> Result<report::Fleet> {
    eprintln!("loadbench: fleet of {n} agent(s)");
    let mut agents = Vec::new();
    for i in 1..=n {
        agents.push(b.start_agent(&format!("agent-{i}"))?);
    }
    b.wait_ready(&agents)?;
    b.wait_settled(&agents, n)?;
    let iv_us = b.p.interval as i64 * 1_000_000;
    // The first cycle starting ≥ 1 s from now is measured.
    let k0 = (now_us() + 1_000_000) / iv_us + 1;
    sleep_until_us(read_point(b, k0 - 1));
    let mut prev = snap(b, &agents);
    let mut cycles = Vec::new();
    for k in k0..k0 + b.p.cycles as i64 {
        sleep_until_us(read_point(b, k));
        let mut cur = snap(b, &agents);
        // A cycle that runs past the read point: wait for it (up to the next interval).
        let deadline = b.cycle_start_us(k + 2) - iv_us / 2;
        while agents
            .iter()
            .any(|a| cur.cycles.get(&a.name) <= prev.cycles.get(&a.name))
            && now_us() < deadline
        {
            std::thread::sleep(Duration::from_millis(200));
            cur = snap(b, &agents);
        }
        let cov = b.coverage(k)?;
        cycles.push(report::cycle_row(&prev, &cur, &agents, cov, k - k0));
        prev = cur;
    }
    let mut rss = BTreeMap::new();
    for a in &agents {
        if let Some(pid) = a.proc.pid() {
            rss.insert(
                a.name.clone(),
                procs::status_kib(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0,
            );
        }
    }
    for a in &mut agents {
        a.proc.stop(Duration::from_secs(30));
    }
    Ok(report::fleet(n, cycles, rss))
}

/// Churn: `churn_agents` agents, events at the given cycles (`event_at_us` into them), coverage of
/// every cycle until three cycles after the last event.
fn run_churn(b: &Bench, event_at_us: i64) -> Result<report::Churn> {
    let n = b.p.churn_agents;
    eprintln!("loadbench: churn with {n} agents: {:?}", b.p.churn);
    let mut agents: Vec<Agent> = Vec::new();
    for i in 1..=n {
        agents.push(b.start_agent(&format!("agent-{i}"))?);
    }
    b.wait_ready(&agents)?;
    b.wait_settled(&agents, n)?;
    let iv_us = b.p.interval as i64 * 1_000_000;
    let k0 = (now_us() + 1_000_000) / iv_us + 1;
    let last = b.p.churn.iter().map(|e| e.1).max().unwrap_or(0) + 3;
    let redis0 = procs::redis_calls(b.redis_port).unwrap_or(0);
    let t0 = now_us();
    let mut events = Vec::new();
    let mut next_name = n + 1;
    for step in 0..last {
        let at = b.cycle_start_us(k0 + step as i64) + event_at_us;
        sleep_until_us(at);
        for (what, _) in b.p.churn.iter().filter(|e| e.1 == step) {
            let t = now_us();
            let who = match what.as_str() {
                "join" => {
                    let name = format!("agent-{next_name}");
                    next_name += 1;
                    agents.push(b.start_agent(&name)?);
                    name
                }
                "term" | "kill" => {
                    // The oldest agent still running leaves (agent-2 first: agent-1 stays).
                    let Some(i) = agents
                        .iter()
                        .position(|a| a.proc.pid().is_some() && a.name != "agent-1")
                    else {
                        continue;
                    };
                    let a = &mut agents[i];
                    if what == "term" {
                        a.proc.signal("TERM");
                        if a.proc.wait_exit(Duration::from_secs(30)).is_none() {
                            a.proc.kill();
                        }
                    } else {
                        a.proc.signal("KILL");
                        let _ = a.proc.wait_exit(Duration::from_secs(5));
                    }
                    a.name.clone()
                }
                _ => continue,
            };
            eprintln!("loadbench: cycle {step}: {what} {who}");
            events.push(report::Event {
                cycle: step,
                what: what.clone(),
                agent: who,
                at_us_in_cycle: t - b.cycle_start_us(k0 + step as i64),
            });
        }
    }
    sleep_until_us(b.cycle_start_us(k0 + last as i64) + 500_000);
    let redis1 = procs::redis_calls(b.redis_port).unwrap_or(0);
    let t1 = now_us();
    let mut covs = Vec::new();
    for step in 0..last {
        covs.push(b.coverage(k0 + step as i64)?);
    }
    for a in &mut agents {
        a.proc.stop(Duration::from_secs(30));
    }
    Ok(report::churn(
        b.p.interval,
        covs,
        events,
        (redis1.saturating_sub(redis0)) as f64 / ((t1 - t0) as f64 / 1e6),
    ))
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(ok) => {
            if !ok {
                eprintln!("loadbench: FAILED: coverage was not exact (see the report)");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("loadbench: error: {e:#}");
            std::process::exit(2);
        }
    }
}

fn run(args: &Args) -> Result<bool> {
    let p = resolve(args)?;
    let agent_bin = procs::find_bin("ceilometer-central", args.agent_bin.as_ref())?;
    let sim_bin = procs::find_bin("simcloud", args.simcloud_bin.as_ref())?;
    let work = tempfile::Builder::new().prefix("loadbench-").tempdir()?;
    let dir = work.path().to_path_buf();
    let started = now_us();
    let (_redis, redis_port) = procs::start_redis(&dir)?;
    let mut sim_args: Vec<String> = vec![
        "--seed".into(),
        p.seed.to_string(),
        "--projects".into(),
        p.projects.to_string(),
        "--images".into(),
        p.images.to_string(),
        "--volumes".into(),
        p.volumes.to_string(),
        "--zones".into(),
        p.zones.to_string(),
        // The accounting keeps a few polls per resource: enough for any cycle window.
        "--max-polls-kept".into(),
        "16".into(),
    ];
    if p.latency_ms > 0 {
        sim_args.push("--fault".into());
        sim_args.push(format!(
            r#"{{"service":"all","latency_ms":{}}}"#,
            p.latency_ms
        ));
    }
    for f in &p.faults {
        sim_args.push("--fault".into());
        sim_args.push(f.clone());
    }
    eprintln!("loadbench: simcloud {}", sim_args.join(" "));
    let t = now_us();
    let (mut sim_proc, sim) =
        procs::start_simcloud(&sim_bin, &sim_args, &dir.join("simcloud.log"))?;
    let sim_start_s = (now_us() - t) as f64 / 1e6;
    let st = procs::get_json(sim, "/_sim/stats?resources=false")?;
    let sim_offset_us = now_us() - st["now_us"].as_i64().unwrap_or(0);
    let cloud = procs::get_json(sim, "/_sim/cloud")?;
    let bench = Bench {
        p: p.clone(),
        dir: dir.clone(),
        sim,
        redis_port,
        agent_bin: agent_bin.clone(),
        sim_offset_us,
    };
    let mut fleets = Vec::new();
    for &n in &p.agents {
        fleets.push(run_fleet(&bench, n)?);
    }
    // Events land mid-cycle: half the largest fleet's cycle wall time (at most half the
    // interval), so a SIGKILL interrupts work in progress.
    let busy = fleets.last().map_or(0.0, |f| f.wall_s);
    let event_at_us = ((busy / 2.0 * 1e6) as i64).clamp(100_000, p.interval as i64 * 500_000);
    let churn = if p.churn.is_empty() {
        None
    } else {
        Some(run_churn(&bench, event_at_us)?)
    };
    let sim_cpu = sim_proc.pid().and_then(procs::cpu_secs).unwrap_or(0.0);
    let sim_rss = sim_proc
        .pid()
        .and_then(|pid| procs::status_kib(pid, "VmHWM"))
        .unwrap_or(0) as f64
        / 1024.0;
    sim_proc.stop(Duration::from_secs(10));
    let mut rep = report::Report {
        params: p.clone(),
        machine: report::machine(),
        agent_bin: agent_bin.display().to_string(),
        simcloud_bin: sim_bin.display().to_string(),
        cloud: cloud.get("counts").cloned().unwrap_or(Value::Null),
        simcloud_start_s: sim_start_s,
        simcloud_cpu_s: sim_cpu,
        simcloud_peak_rss_mib: sim_rss,
        fleets,
        churn,
        total_s: (now_us() - started) as f64 / 1e6,
    };
    report::fill_efficiency(&mut rep);
    let stem = args.name.clone().unwrap_or_else(|| p.preset.clone());
    std::fs::create_dir_all(&args.out)?;
    let files = report::write(&rep, &args.out, &stem)?;
    for f in &files {
        eprintln!("loadbench: wrote {}", f.display());
    }
    if args.keep_work {
        let kept = work.keep();
        eprintln!("loadbench: work directory kept: {}", kept.display());
    }
    let exact = rep.all_exact();
    print!("{}", report::summary(&rep));
    Ok(!p.assert_exact || exact)
}
