//! The agent's own metrics, rendered in the Prometheus text format on the admin listener.
//!
//! A few dozen series: plain atomics and small maps, rendered on scrape. Every family is
//! documented here with its HELP text; label values are the interval, service or publisher.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use coordination::{ConnectionState, MembershipView};

use crate::cycle::CycleId;
use crate::poller::CycleReport;
use crate::service::PollKind;

#[derive(Debug, Default, Clone)]
struct IntervalStats {
    last_duration_s: f64,
    last_success_s: f64,
    owned: u64,
    members: u64,
    overruns: u64,
    skipped: u64,
    cycles: u64,
}

/// Publisher counters as the delivery workers report them.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublisherSnapshot {
    /// Samples accepted by the destination.
    pub published: u64,
    /// Samples in memory.
    pub queued: u64,
    /// Samples on disk.
    pub spooled: u64,
    /// Samples given up on.
    pub dropped: u64,
    /// Failed send attempts.
    pub failed_attempts: u64,
}

/// All metrics of one agent.
#[derive(Default)]
pub struct Metrics {
    intervals: Mutex<BTreeMap<u64, IntervalStats>>,
    api_errors: Mutex<BTreeMap<String, u64>>,
    samples_polled: AtomicU64,
    skipped_entries: AtomicU64,
    takeovers: AtomicU64,
    takeover_resources: AtomicU64,
    connected: AtomicI64,
    members: AtomicI64,
    foreign: AtomicI64,
    duplicate: AtomicI64,
    publishers: Mutex<BTreeMap<String, PublisherSnapshot>>,
    /// Samples per recent cycle (own share + takeovers), for the demo and `status`.
    per_cycle: Mutex<BTreeMap<CycleId, usize>>,
    /// Unix seconds of the last loop turn, for /healthz.
    pub heartbeat_s: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// A cycle (own share or takeover) finished.
    pub fn cycle_done(
        &self,
        c: CycleId,
        kind: PollKind,
        r: &CycleReport,
        took: Duration,
        now_us: i64,
    ) {
        {
            let mut pc = lock(&self.per_cycle);
            *pc.entry(c).or_default() += r.samples;
            while pc.len() > 64 {
                pc.pop_first();
            }
        }
        let mut m = lock(&self.intervals);
        let s = m.entry(c.interval).or_default();
        match kind {
            PollKind::Own => {
                s.last_duration_s = took.as_secs_f64();
                s.owned = r.resources_owned as u64;
                s.cycles += 1;
                if r.errors.is_empty() {
                    s.last_success_s = now_us as f64 / 1e6;
                }
            }
            PollKind::Takeover => {
                self.takeover_resources
                    .fetch_add(r.resources_owned as u64, Ordering::Relaxed);
            }
        }
        drop(m);
        self.skipped_entries
            .fetch_add(r.skipped as u64, Ordering::Relaxed);
        let mut e = lock(&self.api_errors);
        for (svc, n) in &r.errors {
            *e.entry(svc.clone()).or_default() += *n as u64;
        }
    }

    /// Samples this agent produced for cycle `c` (own share and takeovers), if remembered.
    pub fn samples_of(&self, c: CycleId) -> usize {
        lock(&self.per_cycle).get(&c).copied().unwrap_or(0)
    }

    /// Members of the cycle that just started.
    pub fn cycle_members(&self, interval: u64, n: usize) {
        lock(&self.intervals).entry(interval).or_default().members = n as u64;
    }

    /// A cycle overran its interval.
    pub fn overrun(&self, interval: u64) {
        lock(&self.intervals).entry(interval).or_default().overruns += 1;
    }

    /// Whole cycles were skipped.
    pub fn cycles_skipped(&self, interval: u64, n: u64) {
        lock(&self.intervals).entry(interval).or_default().skipped += n;
    }

    /// Samples handed to publishers.
    pub fn samples_polled(&self, n: usize) {
        self.samples_polled.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A takeover started.
    pub fn takeover(&self) {
        self.takeovers.fetch_add(1, Ordering::Relaxed);
    }

    /// Takeovers so far.
    pub fn takeovers(&self) -> u64 {
        self.takeovers.load(Ordering::Relaxed)
    }

    /// Coordination state.
    pub fn set_membership(&self, v: &MembershipView) {
        self.connected.store(
            i64::from(v.state == ConnectionState::Connected),
            Ordering::Relaxed,
        );
        self.members
            .store(v.members.len() as i64, Ordering::Relaxed);
        self.foreign
            .store(v.foreign_count() as i64, Ordering::Relaxed);
        self.duplicate
            .store(i64::from(v.duplicate_instance.is_some()), Ordering::Relaxed);
    }

    /// Publisher counters (refreshed on scrape by the caller).
    pub fn set_publisher(&self, name: &str, s: PublisherSnapshot) {
        lock(&self.publishers).insert(name.to_owned(), s);
    }

    /// Whether the last cycle of every interval succeeded within two intervals (for /readyz).
    pub fn last_success(&self) -> BTreeMap<u64, f64> {
        lock(&self.intervals)
            .iter()
            .map(|(i, s)| (*i, s.last_success_s))
            .collect()
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        let fam = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP ceilometer_central_{name} {help}");
            let _ = writeln!(o, "# TYPE ceilometer_central_{name} {kind}");
        };
        let intervals = lock(&self.intervals).clone();
        type Getter = fn(&IntervalStats) -> f64;
        let per_interval: [(&str, &str, &str, Getter); 7] = [
            (
                "cycle_duration_seconds",
                "gauge",
                "Wall time of the last own cycle.",
                |s| s.last_duration_s,
            ),
            (
                "cycle_overruns_total",
                "counter",
                "Cycles that overran their interval.",
                |s| s.overruns as f64,
            ),
            (
                "cycles_skipped_total",
                "counter",
                "Cycles skipped entirely after an overrun.",
                |s| s.skipped as f64,
            ),
            ("cycles_total", "counter", "Own cycles polled.", |s| {
                s.cycles as f64
            }),
            (
                "resources_owned",
                "gauge",
                "Resources this agent polled in its last cycle.",
                |s| s.owned as f64,
            ),
            (
                "cycle_members",
                "gauge",
                "Members of the last cycle's ring.",
                |s| s.members as f64,
            ),
            (
                "last_successful_cycle_timestamp_seconds",
                "gauge",
                "Unix time of the end of the last cycle without API errors.",
                |s| s.last_success_s,
            ),
        ];
        for (name, kind, help, get) in per_interval {
            fam(&mut o, name, kind, help);
            for (i, s) in &intervals {
                let _ = writeln!(
                    o,
                    "ceilometer_central_{name}{{interval=\"{i}\"}} {}",
                    get(s)
                );
            }
        }
        fam(
            &mut o,
            "samples_polled_total",
            "counter",
            "Samples produced and handed to publishers.",
        );
        let _ = writeln!(
            o,
            "ceilometer_central_samples_polled_total {}",
            self.samples_polled.load(Ordering::Relaxed)
        );
        fam(
            &mut o,
            "api_entries_skipped_total",
            "counter",
            "Bad API entries logged, counted and skipped.",
        );
        let _ = writeln!(
            o,
            "ceilometer_central_api_entries_skipped_total {}",
            self.skipped_entries.load(Ordering::Relaxed)
        );
        fam(
            &mut o,
            "api_errors_total",
            "counter",
            "API errors by service.",
        );
        for (svc, n) in lock(&self.api_errors).iter() {
            let _ = writeln!(
                o,
                "ceilometer_central_api_errors_total{{service=\"{}\"}} {n}",
                escape(svc)
            );
        }
        fam(
            &mut o,
            "api_requests_total",
            "counter",
            "OpenStack API requests by service and HTTP status (timeout/error when none came back).",
        );
        for (svc, status, n) in pollsters::api_request_counts() {
            let _ = writeln!(
                o,
                "ceilometer_central_api_requests_total{{service=\"{}\",status=\"{}\"}} {n}",
                escape(&svc),
                escape(&status)
            );
        }
        fam(
            &mut o,
            "takeovers_total",
            "counter",
            "Takeovers of a gone member's unfinished share.",
        );
        let _ = writeln!(
            o,
            "ceilometer_central_takeovers_total {}",
            self.takeovers.load(Ordering::Relaxed)
        );
        fam(
            &mut o,
            "takeover_resources_total",
            "counter",
            "Resources polled in takeovers.",
        );
        let _ = writeln!(
            o,
            "ceilometer_central_takeover_resources_total {}",
            self.takeover_resources.load(Ordering::Relaxed)
        );
        for (name, help, v) in [
            (
                "coordination_connected",
                "1 when the last membership read reached the backend.",
                &self.connected,
            ),
            (
                "members",
                "ceilometer-central members in the group view.",
                &self.members,
            ),
            (
                "foreign_members",
                "Members kept out of the ring (Python agents, other key schemes).",
                &self.foreign,
            ),
            (
                "duplicate_member_id",
                "1 when another live process uses our member id.",
                &self.duplicate,
            ),
        ] {
            fam(&mut o, name, "gauge", help);
            let _ = writeln!(o, "ceilometer_central_{name} {}", v.load(Ordering::Relaxed));
        }
        let pubs = lock(&self.publishers).clone();
        type PGet = fn(&PublisherSnapshot) -> u64;
        let per_pub: [(&str, &str, &str, PGet); 5] = [
            (
                "samples_published_total",
                "counter",
                "Samples the destination accepted.",
                |s| s.published,
            ),
            (
                "samples_queued",
                "gauge",
                "Samples waiting in memory.",
                |s| s.queued,
            ),
            (
                "samples_spooled",
                "gauge",
                "Samples waiting in the on-disk spool.",
                |s| s.spooled,
            ),
            (
                "samples_dropped_total",
                "counter",
                "Samples given up on (logged with the reason).",
                |s| s.dropped,
            ),
            (
                "publish_failures_total",
                "counter",
                "Failed send attempts.",
                |s| s.failed_attempts,
            ),
        ];
        for (name, kind, help, get) in per_pub {
            fam(&mut o, name, kind, help);
            for (p, s) in &pubs {
                let _ = writeln!(
                    o,
                    "ceilometer_central_{name}{{publisher=\"{}\"}} {}",
                    escape(p),
                    get(s)
                );
            }
        }
        o
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
