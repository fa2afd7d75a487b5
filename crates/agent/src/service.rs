//! The running agent: one loop per polling interval, the membership of every cycle, the
//! completion ledger, takeovers of dead members' shares, and graceful leave.
//!
//! See [`crate::cycle`] for the rules; this module applies them in time:
//! * each interval loop runs cycle after cycle, never overlapping itself; a cycle that
//!   overruns its interval is logged and counted, the next one starts at once (late) and
//!   cycles that were entirely missed are skipped and counted;
//! * at a cycle's start the membership view is frozen for the whole cycle;
//! * when the membership view changes, every recent cycle is checked for incarnations that
//!   are gone without having recorded completion, and their keys are taken over;
//! * on shutdown the member first announces `active_until`, stops starting cycles, lets
//!   in-flight ones finish (bounded), flushes publishers, then leaves the group.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ceilometer_config::Source;
use coordination::{Coordinator, MemberId, MembershipView, OutagePolicy};
use sample::Timestamp;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::cycle::{
    cycle_members, Assignment, CycleId, CycleMembers, Participant, Takeover, ACTIVE_FROM,
    ACTIVE_UNTIL,
};
use crate::metrics::Metrics;
use crate::poller::{sleep_until, Clock, CycleReport, Owns, Poller, SampleBatch};

/// Where batches go (the publishers); implemented by the agent's router.
pub trait Sink: Send + Sync + 'static {
    /// Hand a batch over; never waits on a destination.
    fn submit(&self, batch: SampleBatch);
}

/// The agent's membership in a coordination group.
pub struct Membership {
    /// The running membership task.
    pub coordinator: Coordinator,
    /// Its view.
    pub view: watch::Receiver<MembershipView>,
    /// `[coordination] outage_policy`.
    pub policy: OutagePolicy,
    /// The extra capabilities we announced (kept to rewrite them with `active_until`).
    pub extra: Vec<(String, rmpv::Value)>,
}

/// Settings of the running agent.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Our member id.
    pub member_id: MemberId,
    /// `[polling] batch_size`.
    pub batch_size: usize,
    /// How long completion records are kept (at least a few intervals and TTLs).
    pub record_ttl: Duration,
    /// How many recent cycles per interval are remembered for takeovers.
    pub history: usize,
}

struct HistoryEntry {
    members: CycleMembers,
    /// Members whose share of this cycle we already took over.
    taken: BTreeSet<MemberId>,
}

/// Why a poll runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollKind {
    /// Our own share of a cycle.
    Own,
    /// A gone member's share.
    Takeover,
}

/// The shared state of the running agent.
pub struct Service {
    settings: ServiceSettings,
    poller: RwLock<Arc<dyn Poller>>,
    sources: RwLock<BTreeMap<u64, Vec<Source>>>,
    sink: Arc<dyn Sink>,
    membership: Option<Membership>,
    clock: Arc<dyn Clock>,
    /// Metrics exported on the admin listener.
    pub metrics: Arc<Metrics>,
    history: Mutex<BTreeMap<CycleId, HistoryEntry>>,
    stopping: watch::Sender<bool>,
    leaving: AtomicBool,
    batch_size: AtomicUsize,
    takeovers: AtomicU64,
    /// The Prometheus exporter of polled samples, when enabled.
    exporter: RwLock<Option<exporter::Exporter>>,
}

/// Lock helper: a panicked holder cannot leave these maps half-updated in a harmful way.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn group_by_interval(sources: Vec<Source>) -> BTreeMap<u64, Vec<Source>> {
    let mut m: BTreeMap<u64, Vec<Source>> = BTreeMap::new();
    for s in sources {
        m.entry(s.interval).or_default().push(s);
    }
    m
}

impl Service {
    /// Build the service; nothing runs until [`Service::start`].
    pub fn new(
        settings: ServiceSettings,
        poller: Arc<dyn Poller>,
        sources: Vec<Source>,
        sink: Arc<dyn Sink>,
        membership: Option<Membership>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Arc<Service> {
        let (stopping, _) = watch::channel(false);
        Arc::new(Service {
            batch_size: AtomicUsize::new(settings.batch_size),
            settings,
            poller: RwLock::new(poller),
            sources: RwLock::new(group_by_interval(sources)),
            sink,
            membership,
            clock,
            metrics,
            history: Mutex::new(BTreeMap::new()),
            stopping,
            leaving: AtomicBool::new(false),
            takeovers: AtomicU64::new(0),
            exporter: RwLock::new(None),
        })
    }

    /// Serve the samples of every cycle on this exporter (`[polling]
    /// enable_prometheus_exporter`).
    pub fn set_exporter(&self, e: Option<exporter::Exporter>) {
        *self
            .exporter
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = e;
    }

    fn exporter(&self) -> Option<exporter::Exporter> {
        self.exporter
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Our member id.
    pub fn member_id(&self) -> &MemberId {
        &self.settings.member_id
    }

    /// The intervals configured now.
    pub fn intervals(&self) -> Vec<u64> {
        self.sources
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    /// Takeovers run so far.
    pub fn takeovers(&self) -> u64 {
        self.takeovers.load(Ordering::Relaxed)
    }

    /// Replace the polling definition, the poller and the batch size (SIGHUP); applied from
    /// the next cycle. Returns the intervals that are new.
    pub fn reload(
        &self,
        sources: Vec<Source>,
        poller: Option<Arc<dyn Poller>>,
        batch_size: usize,
    ) -> Vec<u64> {
        let new = group_by_interval(sources);
        let mut cur = self
            .sources
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let added: Vec<u64> = new
            .keys()
            .filter(|i| !cur.contains_key(i))
            .copied()
            .collect();
        *cur = new;
        if let Some(p) = poller {
            *self
                .poller
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = p;
        }
        self.batch_size.store(batch_size, Ordering::Relaxed);
        added
    }

    /// Start one loop per interval, plus the takeover watcher when coordinated.
    pub fn start(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let mut tasks: Vec<JoinHandle<()>> = self
            .intervals()
            .into_iter()
            .map(|i| self.spawn_interval(i))
            .collect();
        if self.membership.is_some() {
            let me = self.clone();
            tasks.push(tokio::spawn(async move { me.watch_departures().await }));
        }
        tasks
    }

    /// Spawn the loop of one interval (also used after a reload adds an interval).
    pub fn spawn_interval(self: &Arc<Self>, interval: u64) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move { me.interval_loop(interval).await })
    }

    async fn interval_loop(self: Arc<Self>, interval: u64) {
        let mut stop = self.stopping.subscribe();
        let mut prev: Option<CycleId> = None;
        loop {
            let now = self.clock.now_us();
            let current = CycleId::containing(interval, now);
            let mut next = match prev {
                // Coordinated: the current cycle already belongs to others; start at the next
                // boundary. Alone: poll at once, as Ceilometer does at start-up.
                None if self.membership.is_some() => current.next(),
                None => current,
                Some(p) => p.next(),
            };
            if next < current {
                let missed = current.k - next.k;
                self.metrics.cycles_skipped(interval, missed);
                tracing::warn!(
                    interval,
                    missed,
                    "Cycles were skipped because the previous one overran."
                );
                next = current;
            }
            tokio::select! {
                _ = sleep_until(self.clock.as_ref(), next.start_us()) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
            if !self.intervals().contains(&interval) {
                tracing::info!(
                    interval,
                    "Interval removed by a configuration reload; its loop stops."
                );
                return;
            }
            self.run_cycle(next).await;
            let end = self.clock.now_us();
            if end > next.end_us() {
                self.metrics.overrun(interval);
                tracing::warn!(
                    interval,
                    k = next.k,
                    duration_s = (end - next.start_us()) as f64 / 1e6,
                    "Cycle overran its interval; the next one starts late."
                );
            }
            prev = Some(next);
        }
    }

    /// The membership of cycle `c` from the current view.
    fn members_for(&self, c: CycleId) -> CycleMembers {
        let me = &self.settings.member_id;
        let only_me = || {
            let mut m = CycleMembers::new();
            m.insert(
                me.clone(),
                Participant {
                    weight: 1,
                    instance: None,
                },
            );
            m
        };
        match &self.membership {
            None => only_me(),
            Some(h) => {
                let v = h.view.borrow().clone();
                self.metrics.set_membership(&v);
                if !v.is_connected() && h.policy == OutagePolicy::All {
                    // Redis unreachable and the operator chose to poll everything.
                    return only_me();
                }
                cycle_members(&v, c.start_us())
            }
        }
    }

    /// Run our share of cycle `c`.
    pub async fn run_cycle(&self, c: CycleId) {
        let members = self.members_for(c);
        {
            let mut h = lock(&self.history);
            h.insert(
                c,
                HistoryEntry {
                    members: members.clone(),
                    taken: BTreeSet::new(),
                },
            );
            // Keep the most recent cycles of each interval.
            let mut per_interval: BTreeMap<u64, usize> = BTreeMap::new();
            let keep = self.settings.history.max(2);
            let all: Vec<CycleId> = h.keys().rev().copied().collect();
            for id in all {
                let n = per_interval.entry(id.interval).or_default();
                *n += 1;
                if *n > keep {
                    h.remove(&id);
                }
            }
        }
        let a = Assignment::new(&members, &self.settings.member_id);
        self.metrics.cycle_members(c.interval, members.len());
        if !a.is_member() {
            tracing::debug!(
                interval = c.interval,
                k = c.k,
                members = members.len(),
                "Not a member of this cycle."
            );
            return;
        }
        let report = self.poll(c, &|k: &[u8]| a.owns(k), PollKind::Own).await;
        self.record_done(c, &report, members.len()).await;
    }

    /// Poll cycle `c` for the keys `owns` accepts, forwarding batches to the sink.
    pub async fn poll(&self, c: CycleId, owns: Owns<'_>, kind: PollKind) -> CycleReport {
        let sources = self
            .sources
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&c.interval)
            .cloned()
            .unwrap_or_default();
        let req = crate::poller::CycleRequest {
            sources,
            timestamp: Timestamp::from_unix_micros(c.start_us()),
            batch_size: self.batch_size.load(Ordering::Relaxed),
        };
        let (tx, mut rx) = mpsc::channel::<SampleBatch>(16);
        let sink = self.sink.clone();
        let metrics = self.metrics.clone();
        let exporter = self.exporter();
        if let Some(ex) = &exporter {
            ex.begin_cycle(c.interval, c.k);
        }
        let ex = exporter.clone();
        let forward = tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                metrics.samples_polled(b.samples.len());
                if let Some(ex) = &ex {
                    ex.observe(c.interval, c.k, &b.samples);
                }
                sink.submit(b);
            }
        });
        let poller = self
            .poller
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let started = self.clock.now_us();
        let report = poller.poll_cycle(&req, owns, &tx).await;
        drop(tx);
        let _ = forward.await;
        if let Some(ex) = &exporter {
            ex.end_cycle_blocking(c.interval, c.k).await;
        }
        let took = Duration::from_micros((self.clock.now_us() - started).max(0) as u64);
        self.metrics
            .cycle_done(c, kind, &report, took, self.clock.now_us());
        tracing::info!(interval = c.interval, k = c.k, kind = ?kind, owned = report.resources_owned,
            samples = report.samples, errors = report.errors.values().sum::<usize>(),
            duration_s = took.as_secs_f64(), "Cycle polled.");
        report
    }

    async fn record_done(&self, c: CycleId, report: &CycleReport, members: usize) {
        let Some(h) = &self.membership else { return };
        let value = json!({
            "instance": h.coordinator.instance(),
            "finished_us": self.clock.now_us(),
            "owned": report.resources_owned,
            "samples": report.samples,
            "errors": report.errors.values().sum::<usize>(),
            "duration_ms": report.duration.as_millis() as u64,
            "members": members,
        });
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        if let Err(e) = h
            .coordinator
            .put_record(
                &c.record_name(),
                self.settings.member_id.as_bytes(),
                bytes.clone(),
                self.settings.record_ttl,
            )
            .await
        {
            // Without the record, survivors of our later death would re-poll this cycle:
            // duplicates, not gaps.
            tracing::warn!(interval = c.interval, k = c.k, error = %e, "Could not record the cycle's completion.");
        }
        let _ = h
            .coordinator
            .put_record(
                "status",
                self.settings.member_id.as_bytes(),
                bytes_with_cycle(&value, c),
                Duration::from_secs(86_400),
            )
            .await;
    }

    /// Watch membership changes; take over the unfinished shares of gone incarnations.
    async fn watch_departures(self: Arc<Self>) {
        let Some(h) = &self.membership else { return };
        let mut view = h.view.clone();
        let mut stop = self.stopping.subscribe();
        loop {
            tokio::select! {
                r = view.changed() => if r.is_err() { return },
                _ = stop.changed() => return,
            }
            let v = view.borrow_and_update().clone();
            self.metrics.set_membership(&v);
            if !v.is_connected() || self.leaving.load(Ordering::Relaxed) {
                // Departures are judged on fresh data only, and not while we leave ourselves.
                continue;
            }
            self.check_departures(&v).await;
        }
    }

    /// For every remembered cycle, take over the share of incarnations that are gone without
    /// having finished it. Public for tests.
    pub async fn check_departures(&self, live: &MembershipView) {
        let Some(h) = &self.membership else { return };
        let me = self.settings.member_id.clone();
        let alive = |id: &MemberId, p: &Participant| {
            live.members
                .get(id)
                .is_some_and(|m| p.instance.is_none() || m.instance == p.instance)
        };
        let candidates: Vec<(
            CycleId,
            CycleMembers,
            BTreeSet<MemberId>,
            BTreeSet<MemberId>,
        )> = {
            let hist = lock(&self.history);
            hist.iter()
                .filter_map(|(c, e)| {
                    let gone: BTreeSet<MemberId> = e
                        .members
                        .iter()
                        .filter(|(id, p)| **id != me && !alive(id, p))
                        .map(|(id, _)| id.clone())
                        .collect();
                    (!gone.is_subset(&e.taken) && e.members.contains_key(&me))
                        .then(|| (*c, e.members.clone(), e.taken.clone(), gone))
                })
                .collect()
        };
        for (c, members, taken, gone) in candidates {
            // Members that recorded this cycle as done (same incarnation) need no takeover.
            let done: BTreeMap<Vec<u8>, Option<String>> =
                match h.coordinator.get_record(&c.record_name()).await {
                    Ok(fields) => fields
                        .into_iter()
                        .map(|(k, v)| {
                            let inst = serde_json::from_slice::<serde_json::Value>(&v)
                                .ok()
                                .and_then(|j| j["instance"].as_str().map(str::to_owned));
                            (k, inst)
                        })
                        .collect(),
                    // Unknown: assume unfinished (a duplicate is better than a gap).
                    Err(_) => BTreeMap::new(),
                };
            let unfinished: BTreeSet<MemberId> = gone
                .into_iter()
                .filter(|id| {
                    let inst = members.get(id).and_then(|p| p.instance.clone());
                    done.get(id.as_bytes())
                        .is_none_or(|d| inst.is_some() && *d != inst)
                })
                .collect();
            let gone_now: BTreeSet<MemberId> = taken.union(&unfinished).cloned().collect();
            if gone_now == taken {
                continue;
            }
            {
                let mut hist = lock(&self.history);
                if let Some(e) = hist.get_mut(&c) {
                    e.taken = gone_now.clone();
                }
            }
            let t = Takeover::new(&members, &taken, &gone_now, &me);
            let names: Vec<String> = gone_now
                .difference(&taken)
                .map(ToString::to_string)
                .collect();
            tracing::warn!(interval = c.interval, k = c.k, gone = ?names,
                "Members left without finishing a cycle; polling their share now.");
            self.takeovers.fetch_add(1, Ordering::Relaxed);
            self.metrics.takeover();
            let _ = self
                .poll(c, &|k: &[u8]| t.owns(k), PollKind::Takeover)
                .await;
        }
    }

    /// Announce that cycles starting from now are not ours (graceful leave, step 1).
    pub async fn announce_leaving(&self) {
        self.leaving.store(true, Ordering::Relaxed);
        let _ = self.stopping.send(true);
        if let Some(h) = &self.membership {
            let mut extra: Vec<(String, rmpv::Value)> = h
                .extra
                .iter()
                .filter(|(k, _)| k != ACTIVE_UNTIL)
                .cloned()
                .collect();
            extra.push((
                ACTIVE_UNTIL.to_owned(),
                rmpv::Value::from(self.clock.now_us()),
            ));
            if let Err(e) = h.coordinator.update_capabilities(extra).await {
                tracing::warn!(error = %e, "Could not announce leaving; peers will take over unfinished cycles.");
            }
        }
    }

    /// Leave the coordination group (graceful leave, last step).
    pub async fn leave_group(&self) {
        if let Some(h) = &self.membership {
            if let Err(e) = h.coordinator.leave_group().await {
                tracing::warn!(error = %e, "Could not leave the group; peers drop us when our heartbeat expires.");
            }
        }
    }

    /// Graceful stop: announce `active_until`, stop starting cycles, let in-flight ones
    /// finish within `limit` (then abort them: peers take their share over). Publishers are
    /// flushed by the caller before [`Service::leave_group`].
    pub async fn stop_gracefully(&self, tasks: Vec<JoinHandle<()>>, limit: Duration) -> bool {
        self.announce_leaving().await;
        let deadline = tokio::time::Instant::now() + limit;
        let mut clean = true;
        for t in tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                abort.abort();
                clean = false;
            }
        }
        if !clean {
            tracing::warn!(
                limit_s = limit.as_secs_f64(),
                "In-flight polls did not finish in time; peers take over their share."
            );
        }
        clean
    }

    /// Stop starting cycles (without announcing: used by SIGINT).
    pub fn stop(&self) {
        self.leaving.store(true, Ordering::Relaxed);
        let _ = self.stopping.send(true);
    }
}

fn bytes_with_cycle(v: &serde_json::Value, c: CycleId) -> Vec<u8> {
    let mut v = v.clone();
    v["interval"] = json!(c.interval);
    v["k"] = json!(c.k);
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The capabilities a new member announces: `active_from` = now + `margin`.
pub fn joining_capabilities(now_us: i64, margin: Duration) -> Vec<(String, rmpv::Value)> {
    vec![(
        ACTIVE_FROM.to_owned(),
        rmpv::Value::from(now_us + margin.as_micros() as i64),
    )]
}
