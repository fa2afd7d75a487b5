//! End-to-end harness: simcloud in this process, real `ceilometer-central` processes with
//! generated configurations, and per-cycle coverage from simcloud's accounting.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use simcloud::stats::PollKind;
use simcloud::{SimCloud, SimConfig, SimHandle, Sizes};

/// Cycle length of the end-to-end runs.
pub const INTERVAL: u64 = 4;

/// A running agent process (killed on drop).
pub struct Agent {
    pub name: String,
    pub child: Option<Child>,
    pub admin: u16,
}

impl Agent {
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status();
        }
    }
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
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
    /// Sum of a counter in the agent's /metrics.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = testsupport::http_get(self.admin, "/metrics")?;
        body.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .reduce(|a, b| a + b)
    }
    pub async fn ready(&self) -> bool {
        let port = self.admin;
        tokio::task::spawn_blocking(move || {
            testsupport::http_get(port, "/readyz").is_some_and(|(s, _)| s == 200)
        })
        .await
        .unwrap_or(false)
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

/// One simulated cloud and the agents' shared settings.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub sim: SimHandle,
    pub projects: Vec<String>,
    pub backend_url: String,
    /// Extra INI text appended to every agent's configuration.
    pub extra: String,
    /// A Kilo pipeline.yaml for the next agents, instead of a polling.yaml.
    pub pipeline: Option<String>,
}

impl Harness {
    pub async fn start(projects: usize, backend_url: String) -> Harness {
        let sim = SimCloud::start(SimConfig {
            sizes: Sizes {
                projects,
                ..Sizes::empty()
            },
            seed: 7,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        // Per-account latency so a cycle lasts a while (a crash can land mid-cycle).
        sim.set_fault(
            serde_json::from_value(
                serde_json::json!({"service": "object-store", "latency_ms": 20}),
            )
            .unwrap(),
        )
        .unwrap();
        let projects = sim.project_ids();
        Harness {
            dir: tempfile::tempdir().unwrap(),
            sim,
            projects,
            backend_url,
            extra: String::new(),
            pipeline: None,
        }
    }

    pub fn write_conf(&self, name: &str, admin: u16, meters: &[&str]) -> PathBuf {
        let dir = self.dir.path();
        let conf = dir.join(format!("{name}.conf"));
        let polling = dir.join(format!("{name}-polling.yaml"));
        let meters_yaml: String = meters
            .iter()
            .map(|m| format!("      - \"{m}\"\n"))
            .collect();
        let definition = match &self.pipeline {
            Some(text) => {
                let pipeline = dir.join(format!("{name}-pipeline.yaml"));
                std::fs::write(&pipeline, text).unwrap();
                format!(
                    "[DEFAULT]\npipeline_cfg_file = {}\n\n[polling]\n",
                    pipeline.display()
                )
            }
            None => {
                std::fs::write(&polling, format!("---\nsources:\n  - name: e2e\n    interval: {INTERVAL}\n    meters:\n{meters_yaml}"))
                    .unwrap();
                format!("[polling]\ncfg_file = {}\n", polling.display())
            }
        };
        std::fs::write(
            &conf,
            format!(
                "[DEFAULT]\nhost = {name}\n\n{definition}batch_size = 50\n\n\
                 [coordination]\n{}heartbeat = 0.25\n\n\
                 [service_credentials]\nauth_type = password\nauth_url = {}\nusername = {name}\npassword = secret\n\
                 user_domain_name = Default\nproject_name = service\nproject_domain_name = Default\ninterface = public\n\n\
                 [publisher]\ntelemetry_secret = e2e\n\n\
                 [ceilometer_central]\nadmin_listen = 127.0.0.1:{admin}\nspool_dir =\napi_timeout = 5\nmax_clock_skew = 0.2\napi_concurrency = 2\n\n{}",
                if self.backend_url.is_empty() { String::new() } else { format!("backend_url = {}\n", self.backend_url) },
                self.sim.auth_url(),
                self.extra,
            ),
        )
        .unwrap();
        conf
    }

    pub fn start_agent(&self, name: &str) -> Agent {
        self.start_agent_env(name, &[])
    }

    pub fn start_agent_env(&self, name: &str, env: &[(&str, String)]) -> Agent {
        let admin = testsupport::free_port();
        let conf = self.write_conf(name, admin, &["storage.objects"]);
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ceilometer-central"))
            .arg("--config-file")
            .arg(&conf)
            .env("HOME", self.dir.path())
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
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

    pub fn log_tail(&self, name: &str) -> String {
        let s = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
            .unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Wall-clock µs → simcloud accounting time.
    pub fn sim_time(&self, wall_us: i64) -> Duration {
        let offset = now_us() - self.sim.stats().now().as_micros() as i64;
        Duration::from_micros((wall_us - offset).max(0) as u64)
    }

    /// Coverage of Swift accounts in cycle `k`: (table line, missed, duplicated).
    pub fn coverage(&self, label: &str, k: i64) -> (String, usize, usize) {
        let cov = self.sim.stats().coverage(
            PollKind::SwiftAccount,
            &self.projects,
            self.sim_time(cycle_start(k)),
            self.sim_time(cycle_start(k + 1)),
        );
        (
            format!(
                "{label}: once {:>4} missed {:>3} duplicated {:>3} per agent {:?}",
                cov.polled_once.len(),
                cov.missed.len(),
                cov.duplicated.len(),
                cov.per_agent
            ),
            cov.missed.len(),
            cov.duplicated.len(),
        )
    }
}

pub fn now_us() -> i64 {
    sample::Timestamp::now().unix_micros()
}

pub fn cycle_start(k: i64) -> i64 {
    k * INTERVAL as i64 * 1_000_000
}

/// The first cycle starting at least `ahead` cycles from now.
pub fn cycle_ahead(ahead: i64) -> i64 {
    now_us() / (INTERVAL as i64 * 1_000_000) + ahead
}

pub async fn sleep_until_wall(us: i64) {
    let d = us - now_us();
    if d > 0 {
        tokio::time::sleep(Duration::from_micros(d as u64)).await;
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// End-to-end tests of one binary run one at a time: each starts servers and several agent
/// processes whose cycle timing must not be starved by a neighbour on a 2-core machine.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
        .lock()
        .await
}
