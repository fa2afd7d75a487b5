//! `ceilometer-central run`: the daemon. Boots the pieces, then waits for signals.
//!
//! SIGTERM: announce leaving, stop starting cycles, finish in-flight polls within
//! `graceful_shutdown_timeout`, flush publishers, leave the group, exit 0. SIGINT: the same
//! without waiting for polls. SIGHUP: re-read ceilometer.conf and polling.yaml in process,
//! keep the member id, apply from the next cycle; a broken configuration is reported and the
//! running one stays in force. The process never daemonises.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ceilometer_config::{LoadError, Loaded, OutagePolicy as ConfPolicy};
use coordination::{CoordinationConfig, MembershipView, OutagePolicy, RedisUrl};
use serde_json::{json, Value};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::admin::{self, Check, SdNotify, Status};
use crate::metrics::Metrics;
use crate::poller::{Clock, Poller, SystemClock};
use crate::router::Router;
use crate::service::{joining_capabilities, Membership, Service, ServiceSettings};

/// systemd hears READY=1 at the latest this long after start (`TimeoutStartSec` is 120 s in
/// the shipped unit), joined or not.
const READY_AT_THE_LATEST: Duration = Duration::from_secs(60);

/// How the daemon builds what depends on the configuration (so a reload can rebuild it).
pub struct Builders {
    /// The polling engine.
    pub poller: Box<dyn Fn(&Loaded) -> anyhow::Result<Arc<dyn Poller>> + Send + Sync>,
    /// The publishers.
    pub router: Box<dyn Fn(&Loaded) -> anyhow::Result<Router> + Send + Sync>,
    /// Reload the configuration files (SIGHUP).
    pub reload: Box<dyn Fn() -> Result<Loaded, LoadError> + Send + Sync>,
}

fn policy(p: ConfPolicy) -> OutagePolicy {
    match p {
        ConfPolicy::LastView => OutagePolicy::LastView,
        ConfPolicy::None => OutagePolicy::None,
        ConfPolicy::All => OutagePolicy::All,
    }
}

/// What `/healthz` and `/readyz` look at.
struct AgentStatus {
    metrics: Arc<Metrics>,
    router: Arc<Router>,
    poller: Arc<dyn Poller>,
    view: Option<watch::Receiver<MembershipView>>,
    clock: Arc<dyn Clock>,
}

impl AgentStatus {
    fn joined(&self) -> (bool, Value) {
        match &self.view {
            None => (
                true,
                json!("no coordination backend: this agent polls everything"),
            ),
            Some(v) => {
                let v = v.borrow();
                let me = v.members.contains_key(&v.self_id);
                (
                    v.is_connected() && me,
                    json!({"connected": v.is_connected(), "member": me, "members": v.members.len(),
                           "foreign": v.foreign_count(), "duplicate_member_id": v.duplicate_instance.is_some()}),
                )
            }
        }
    }
}

impl Status for AgentStatus {
    fn metrics(&self) -> String {
        for (name, s) in self.router.snapshots() {
            self.metrics.set_publisher(&name, s);
        }
        self.metrics.render()
    }

    fn health(&self) -> (bool, Value) {
        let beat = self
            .metrics
            .heartbeat_s
            .load(std::sync::atomic::Ordering::Relaxed);
        let age = self.clock.now_us() / 1_000_000 - beat;
        (age < 10, json!({"main_loop_age_s": age}))
    }

    fn readiness(&self) -> Vec<Check> {
        let (joined, jd) = self.joined();
        let (poller_ok, pd) = self.poller.health();
        let pubs: Vec<Value> = self
            .router
            .outputs()
            .iter()
            .map(|o| json!({"publisher": o.name, "reachable": o.delivery.is_reachable()}))
            .collect();
        let pubs_ok = self
            .router
            .outputs()
            .iter()
            .all(|o| o.delivery.is_reachable());
        vec![
            ("coordination".into(), joined, jd),
            ("keystone".into(), poller_ok, pd),
            ("publishers".into(), pubs_ok, Value::Array(pubs)),
        ]
    }
}

/// Run until a signal says stop.
pub async fn run(loaded: Loaded, builders: Builders) -> anyhow::Result<()> {
    let conf = &loaded.conf;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let member_id =
        coordination::member_id_from(conf.coordination.member_id.as_deref(), &conf.default.host);
    let poller = (builders.poller)(&loaded).context("cannot build the polling engine")?;
    let router = Arc::new((builders.router)(&loaded).context("cannot build the publishers")?);
    let metrics = Arc::new(Metrics::default());

    let membership = match &conf.coordination.backend_url {
        None => {
            tracing::info!("No [coordination] backend_url: this agent polls every resource.");
            None
        }
        Some(url) => {
            let url = RedisUrl::parse(url)
                .map_err(|e| anyhow::anyhow!("[coordination] backend_url: {e}"))?;
            let group = crate::validate::group_name(&loaded);
            let mut cfg = CoordinationConfig::new(url, member_id.clone(), &group);
            cfg.heartbeat = conf.coordination.heartbeat;
            cfg.outage_policy = policy(conf.coordination.outage_policy);
            // Every peer must have read our join before the first cycle we serve: one
            // membership read (a heartbeat) twice over, plus the tolerated clock skew.
            let margin = conf.coordination.heartbeat * 2
                + conf.central.max_clock_skew
                + Duration::from_millis(500);
            let extra = joining_capabilities(clock.now_us(), margin);
            cfg.extra_capabilities = extra.clone();
            let (coordinator, view) =
                coordination::start(cfg).map_err(|e| anyhow::anyhow!("coordination: {e}"))?;
            tracing::info!(group = %group, member = %member_id, margin_s = margin.as_secs_f64(), "Joining the coordination group.");
            Some(Membership {
                coordinator,
                view,
                policy: policy(conf.coordination.outage_policy),
                extra,
            })
        }
    };
    let view = membership.as_ref().map(|m| m.view.clone());
    let record_ttl = loaded
        .polling
        .sources
        .iter()
        .map(|s| Duration::from_secs(s.interval * 4))
        .max()
        .unwrap_or_default()
        .max(Duration::from_secs(600));
    let service = Service::new(
        ServiceSettings {
            member_id: member_id.clone(),
            batch_size: conf.polling.batch_size as usize,
            record_ttl,
            history: 4,
        },
        poller.clone(),
        loaded.polling.sources.clone(),
        router.clone(),
        membership,
        clock.clone(),
        metrics.clone(),
    );
    let mut exporter_listeners = Vec::new();
    if let Some(settings) = exporter::ExporterSettings::from_polling(&conf.polling)
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        let ex = exporter::Exporter::new();
        exporter_listeners = exporter::serve(
            &settings.listen_addresses,
            settings.tls.as_ref(),
            ex.clone(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("Prometheus exporter: {e}"))?;
        for l in &exporter_listeners {
            tracing::info!(address = %l.addr, tls = settings.tls.is_some(), "Prometheus exporter of polled samples listening.");
        }
        service.set_exporter(Some(ex));
    }
    let mut tasks = service.start();

    let status = Arc::new(AgentStatus {
        metrics: metrics.clone(),
        router: router.clone(),
        poller,
        view: view.clone(),
        clock: clock.clone(),
    });
    let mut admin_task = None;
    if let Some(addr) = &conf.central.admin_listen {
        let addr: SocketAddr = addr.parse().with_context(|| {
            format!("[ceilometer_central] admin_listen = {addr:?}: expected HOST:PORT")
        })?;
        let (bound, task) = admin::serve(addr, status.clone())
            .await
            .with_context(|| format!("cannot listen on {addr} for /metrics, /healthz, /readyz"))?;
        tracing::info!(address = %bound, "Admin listener ready: /metrics /healthz /readyz.");
        admin_task = Some(task);
    }

    let sd = SdNotify::from_env();
    let boot = tokio::time::Instant::now();
    let mut ready_sent = false;
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_watchdog = tokio::time::Instant::now();
    let immediate = loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: leaving gracefully.");
                break false;
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: stopping now.");
                break true;
            }
            _ = hup.recv() => reload(&builders, &service, &mut tasks, &loaded),
            _ = tick.tick() => {
                metrics.heartbeat_s.store(clock.now_us() / 1_000_000, std::sync::atomic::Ordering::Relaxed);
                if !ready_sent && status.joined().0 {
                    sd.notify("READY=1\nSTATUS=Joined and polling.");
                    ready_sent = true;
                    tracing::info!(member = %member_id, "Ready: joined and polling.");
                } else if !ready_sent && boot.elapsed() >= READY_AT_THE_LATEST {
                    // A backend that is down at start is a transient fault: say started, so
                    // systemd does not kill and restart us in a loop; /readyz stays false.
                    sd.notify("READY=1\nSTATUS=Started; not joined yet (coordination backend unreachable, see /readyz).");
                    ready_sent = true;
                    tracing::warn!(member = %member_id, "Started but not joined yet; retrying the coordination backend.");
                }
                if let Some(every) = sd.watchdog_every {
                    if last_watchdog.elapsed() >= every && status.health().0 {
                        sd.notify("WATCHDOG=1");
                        last_watchdog = tokio::time::Instant::now();
                    }
                }
            }
        }
    };
    sd.notify("STOPPING=1");
    let grace = conf.default.graceful_shutdown_timeout;
    let started = tokio::time::Instant::now();
    if immediate {
        service.stop();
        for t in &tasks {
            t.abort();
        }
    } else {
        service.stop_gracefully(tasks, grace).await;
    }
    let left = if immediate {
        Duration::from_secs(2)
    } else {
        grace
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1))
    };
    let drained = router.flush(left).await;
    service.leave_group().await;
    if let Some(t) = admin_task {
        t.abort();
    }
    for l in exporter_listeners {
        l.task.abort();
    }
    tracing::info!(drained, "Stopped.");
    Ok(())
}

fn reload(
    builders: &Builders,
    service: &Arc<Service>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
    running: &Loaded,
) {
    tracing::info!("SIGHUP: reloading the configuration.");
    let new = match (builders.reload)() {
        Ok(n) => n,
        Err(e) => {
            for d in &e.0 {
                tracing::error!(finding = %d, "Configuration problem.");
            }
            tracing::error!("The new configuration has errors; the running one stays in force.");
            return;
        }
    };
    let poller = match (builders.poller)(&new) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Cannot build the polling engine from the new configuration; the running one stays in force.");
            return;
        }
    };
    if new.conf.coordination.backend_url != running.conf.coordination.backend_url
        || new.conf.central.publishers != running.conf.central.publishers
        || new.conf.default.transport_url != running.conf.default.transport_url
    {
        tracing::warn!(
            "Coordination and publisher settings changed: they take effect at the next restart."
        );
    }
    let added = service.reload(
        new.polling.sources.clone(),
        Some(poller),
        new.conf.polling.batch_size as usize,
    );
    for i in added {
        tasks.push(service.spawn_interval(i));
    }
    tracing::info!(sources = new.polling.sources.len(), intervals = ?service.intervals(), "Configuration reloaded; applies from the next cycle.");
}
