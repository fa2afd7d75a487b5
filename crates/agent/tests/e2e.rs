//! End to end with real processes: `redis-server`, three (then four) `ceilometer-central`
//! processes, and simcloud (in this test process) whose accounting says, per cycle, which
//! Swift accounts were polled zero, one or several times.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use simcloud::stats::PollKind;
use simcloud::{SimCloud, SimConfig, SimHandle, Sizes};
use testsupport::{free_port, wait_for, Proc};

const INTERVAL: u64 = 4;

struct Agent {
    name: String,
    child: Option<Child>,
    admin: u16,
}

impl Agent {
    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status();
        }
    }
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let c = self.child.as_mut()?;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                self.child = None;
                return Some(s);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn write_conf(
    dir: &Path,
    name: &str,
    sim: &SimHandle,
    redis_port: u16,
    admin: u16,
    meters: &[&str],
) -> PathBuf {
    let conf = dir.join(format!("{name}.conf"));
    let polling = dir.join(format!("{name}-polling.yaml"));
    let meters_yaml: String = meters
        .iter()
        .map(|m| format!("      - \"{m}\"\n"))
        .collect();
    std::fs::write(
        &polling,
        format!(
            "---\nsources:\n  - name: e2e\n    interval: {INTERVAL}\n    meters:\n{meters_yaml}"
        ),
    )
    .unwrap();
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nhost = {name}\n\n[polling]\ncfg_file = {}\nenable_notifications = false\nbatch_size = 50\n\n\
             [coordination]\nbackend_url = redis://127.0.0.1:{redis_port}?timeout=3&membership_timeout=1.5\nheartbeat = 0.25\n\n\
             [service_credentials]\nauth_type = password\nauth_url = {}\nusername = {name}\npassword = secret\n\
             user_domain_name = Default\nproject_name = service\nproject_domain_name = Default\ninterface = public\n\n\
             [publisher]\ntelemetry_secret = e2e\n\n\
             [ceilometer_central]\nadmin_listen = 127.0.0.1:{admin}\nspool_dir =\napi_timeout = 5\nmax_clock_skew = 0.2\napi_concurrency = 2\n",
            polling.display(),
            sim.auth_url()
        ),
    )
    .unwrap();
    conf
}

fn start_agent(dir: &Path, name: &str, sim: &SimHandle, redis_port: u16) -> Agent {
    let admin = free_port();
    let conf = write_conf(dir, name, sim, redis_port, admin, &["storage.objects"]);
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ceilometer-central"))
        .arg("--config-file")
        .arg(&conf)
        .env("HOME", dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Agent {
        name: name.into(),
        child: Some(child),
        admin,
    }
}

fn now_us() -> i64 {
    sample::Timestamp::now().unix_micros()
}

/// Wall-clock µs → simcloud accounting time.
fn sim_time(sim: &SimHandle, wall_us: i64) -> Duration {
    let offset = now_us() - sim.stats().now().as_micros() as i64;
    Duration::from_micros((wall_us - offset).max(0) as u64)
}

fn cycle_start(k: i64) -> i64 {
    k * INTERVAL as i64 * 1_000_000
}

async fn sleep_until_wall(us: i64) {
    let d = us - now_us();
    if d > 0 {
        tokio::time::sleep(Duration::from_micros(d as u64)).await;
    }
}

async fn ready(agent: &Agent) -> bool {
    let port = agent.admin;
    tokio::task::spawn_blocking(move || {
        testsupport::http_get(port, "/readyz").is_some_and(|(s, _)| s == 200)
    })
    .await
    .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_across_leave_join_crash_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Proc::redis(&[]).await;
    let cfg = SimConfig {
        sizes: Sizes {
            projects: 150,
            ..Sizes::empty()
        },
        seed: 7,
        ..SimConfig::default()
    };
    let sim = SimCloud::start(cfg).await.unwrap();
    // Per-account latency so a cycle lasts a while (a crash lands mid-cycle).
    sim.set_fault(
        serde_json::from_value(serde_json::json!({"service": "object-store", "latency_ms": 20}))
            .unwrap(),
    )
    .unwrap();
    let projects = sim.project_ids();

    let mut agents: BTreeMap<String, Agent> = BTreeMap::new();
    for n in ["agent-1", "agent-2", "agent-3"] {
        agents.insert(n.into(), start_agent(dir.path(), n, &sim, redis.port));
    }
    for a in agents.values() {
        wait_for(
            &format!("{} ready", a.name),
            Duration::from_secs(30),
            || ready(a),
        )
        .await;
    }
    let k0 = now_us() / (INTERVAL as i64 * 1_000_000) + 2;
    let mut events = Vec::new();
    // Timeline (cycle numbers relative to k0):
    //  +3: agent-2 SIGTERM (graceful leave)   +5: agent-4 joins
    //  +7: agent-3 SIGKILL mid-cycle          +9: SIGHUP agent-1 adds a meter
    for step in 0..12i64 {
        let k = k0 + step;
        // Events 0.3 s into the cycle: agents poll two accounts at a time (20 ms each), so a
        // SIGKILL then lands in the middle of the victim's share.
        sleep_until_wall(cycle_start(k) + 300_000).await;
        match step {
            3 => {
                let a = agents.get_mut("agent-2").unwrap();
                a.signal("TERM");
                let status = a
                    .wait_exit(Duration::from_secs(30))
                    .expect("agent-2 exits after SIGTERM");
                assert!(status.success(), "SIGTERM exits 0: {status:?}");
                events.push(format!("cycle {step}: agent-2 left (SIGTERM, exit 0)"));
            }
            5 => {
                agents.insert(
                    "agent-4".into(),
                    start_agent(dir.path(), "agent-4", &sim, redis.port),
                );
                events.push(format!("cycle {step}: agent-4 started"));
            }
            7 => {
                let a = agents.get_mut("agent-3").unwrap();
                a.signal("KILL");
                let _ = a.wait_exit(Duration::from_secs(5));
                events.push(format!("cycle {step}: agent-3 SIGKILLed"));
            }
            9 => {
                let a = agents.get("agent-1").unwrap();
                let admin = a.admin;
                write_conf(
                    dir.path(),
                    "agent-1",
                    &sim,
                    redis.port,
                    admin,
                    &["storage.objects", "storage.containers.objects"],
                );
                a.signal("HUP");
                events.push(format!("cycle {step}: agent-1 SIGHUP"));
            }
            _ => {}
        }
    }
    sleep_until_wall(cycle_start(k0 + 13)).await;

    let mut table = Vec::new();
    let mut failures = Vec::new();
    for step in 0..12i64 {
        let k = k0 + step;
        let from = sim_time(&sim, cycle_start(k));
        let to = sim_time(&sim, cycle_start(k + 1));
        let cov = sim
            .stats()
            .coverage(PollKind::SwiftHeadAccount, &projects, from, to);
        let line = format!(
            "cycle {step:>2}: once {:>4} missed {:>3} duplicated {:>3} per agent {:?}",
            cov.polled_once.len(),
            cov.missed.len(),
            cov.duplicated.len(),
            cov.per_agent
        );
        table.push(line.clone());
        // Exactly once, except that a SIGKILL may re-poll part of the dead agent's share.
        if !cov.missed.is_empty() || (step != 7 && !cov.duplicated.is_empty()) {
            failures.push(line);
        }
    }
    println!("{}\n{}", events.join("\n"), table.join("\n"));
    for a in agents.values() {
        if failures.is_empty() {
            break;
        }
        println!(
            "--- {} log tail ---\n{}",
            a.name,
            tail(&dir.path().join(format!("{}.log", a.name)))
        );
    }
    assert!(
        failures.is_empty(),
        "coverage failures:\n{}",
        failures.join("\n")
    );

    // The reload added storage.containers.objects: a Swift GET per account now happens.
    let last = k0 + 11;
    let gets = sim.stats().coverage(
        PollKind::SwiftGetAccount,
        &projects,
        sim_time(&sim, cycle_start(last)),
        sim_time(&sim, cycle_start(last + 1)),
    );
    assert!(
        !gets.polled_once.is_empty(),
        "the meter added by SIGHUP is polled; agent-1 log:\n{}",
        tail(&dir.path().join("agent-1.log"))
    );
    // The SIGKILL happened mid-cycle: the survivors took its unfinished share over.
    let takeovers: u64 = agents
        .values()
        .filter(|a| a.child.is_some())
        .filter_map(|a| testsupport::http_get(a.admin, "/metrics"))
        .flat_map(|(_, body)| {
            body.lines()
                .filter(|l| l.starts_with("ceilometer_central_takeovers_total "))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum();
    assert!(takeovers >= 1, "the crashed agent's share was taken over");
    for a in agents.values_mut().filter(|a| a.child.is_some()) {
        a.signal("TERM");
        assert!(
            a.wait_exit(Duration::from_secs(30))
                .is_some_and(|s| s.success()),
            "{} exits 0",
            a.name
        );
    }
    sim.shutdown().await;
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
