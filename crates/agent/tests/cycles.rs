//! Exactly-once polling across a changing group, on tokio's paused clock with the in-process
//! coordination backend and a scripted poller that records who polled which key in which
//! cycle. (The end-to-end version with real processes, Redis and simcloud is in e2e tests.)
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ceilometer_central::cycle::CycleId;
use ceilometer_central::metrics::Metrics;
use ceilometer_central::poller::{
    BoxFuture, Clock, CycleReport, CycleRequest, Owns, Poller, SampleBatch, TokioClock,
};
use ceilometer_central::service::{
    joining_capabilities, Membership, Service, ServiceSettings, Sink,
};
use ceilometer_config::{MeterSelector, Source};
use coordination::memory::{start_in_memory, MemoryBackend};
use coordination::{CoordinationConfig, MemberId, OutagePolicy, RedisUrl};
use tokio::sync::mpsc;

const INTERVAL: u64 = 10;
const KEYS: usize = 2000;
/// A cycle takes this long to poll (simulated API time), spread over the keys.
const POLL_TIME: Duration = Duration::from_secs(4);
const T0_US: i64 = 1_800_000_000_000_000; // aligned to 10 s

/// (cycle start µs, key index, agent) for every poll.
type Ledger = Arc<Mutex<Vec<(i64, usize, String)>>>;

struct ScriptedPoller {
    me: String,
    ledger: Ledger,
}

impl Poller for ScriptedPoller {
    fn poll_cycle<'a>(
        &'a self,
        req: &'a CycleRequest,
        owns: Owns<'a>,
        _out: &'a mpsc::Sender<SampleBatch>,
    ) -> BoxFuture<'a, CycleReport> {
        Box::pin(async move {
            let mut owned = 0;
            // Poll in 10 slices so a crash mid-cycle leaves part of the share undone.
            for slice in 0..10 {
                tokio::time::sleep(POLL_TIME / 10).await;
                for i in (slice * KEYS / 10)..((slice + 1) * KEYS / 10) {
                    if owns(format!("resource-{i:05}").as_bytes()) {
                        self.ledger.lock().unwrap().push((
                            req.timestamp.unix_micros(),
                            i,
                            self.me.clone(),
                        ));
                        owned += 1;
                    }
                }
            }
            CycleReport {
                resources_seen: KEYS,
                resources_owned: owned,
                ..CycleReport::default()
            }
        })
    }
}

struct NullSink;
impl Sink for NullSink {
    fn submit(&self, _b: SampleBatch) {}
}

fn source() -> Source {
    Source {
        name: "s".into(),
        line: 1,
        interval: INTERVAL,
        meters: MeterSelector::new(vec!["*".into()]).unwrap(),
        resources: vec![],
        discovery: vec![],
        group_id_coordination_expression: None,
        sinks: vec![],
    }
}

struct Agent {
    service: Arc<Service>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn start_agent(
    name: &str,
    backend: &MemoryBackend,
    clock: Arc<dyn Clock>,
    ledger: &Ledger,
) -> Agent {
    let url = RedisUrl::parse("redis://in-process?membership_timeout=2").unwrap();
    let mut cfg = CoordinationConfig::new(url, name, "central-global");
    cfg.heartbeat = Duration::from_millis(250);
    let extra = joining_capabilities(clock.now_us(), Duration::from_millis(1500));
    cfg.extra_capabilities = extra.clone();
    let (coordinator, view) = start_in_memory(cfg, backend).unwrap();
    let service = Service::new(
        ServiceSettings {
            member_id: MemberId::from(name),
            batch_size: 50,
            record_ttl: Duration::from_secs(600),
            history: 4,
        },
        Arc::new(ScriptedPoller {
            me: name.into(),
            ledger: ledger.clone(),
        }),
        vec![source()],
        Arc::new(NullSink),
        Some(Membership {
            coordinator,
            view,
            policy: OutagePolicy::LastView,
            extra,
        }),
        clock,
        Arc::new(Metrics::default()),
    );
    let tasks = service.start();
    Agent { service, tasks }
}

async fn sleep_to(clock: &dyn Clock, at_us: i64) {
    let now = clock.now_us();
    if at_us > now {
        tokio::time::sleep(Duration::from_micros((at_us - now) as u64)).await;
    }
}

/// Polls per (cycle, key).
fn counts(ledger: &Ledger) -> BTreeMap<i64, Vec<u32>> {
    let mut m: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for (c, i, _) in ledger.lock().unwrap().iter() {
        m.entry(*c).or_insert_with(|| vec![0; KEYS])[*i] += 1;
    }
    m
}

#[tokio::test(start_paused = true)]
async fn join_graceful_leave_and_crash_keep_every_cycle_covered() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(T0_US + 1_000_000));
    let backend = MemoryBackend::new();
    let ledger: Ledger = Arc::default();
    let cycle = |k: u64| CycleId {
        interval: INTERVAL,
        k: (T0_US / 1_000_000) as u64 / INTERVAL + k,
    };

    let mut agents: BTreeMap<&str, Agent> = BTreeMap::new();
    for n in ["a", "b", "c"] {
        agents.insert(n, start_agent(n, &backend, clock.clone(), &ledger));
    }
    // Cycle 1 is the first one everyone serves (active_from = start + 1.5 s).
    // Cycle 3: d joins (mid-cycle); it serves from cycle 4 on.
    sleep_to(clock.as_ref(), cycle(3).start_us() + 2_000_000).await;
    agents.insert("d", start_agent("d", &backend, clock.clone(), &ledger));
    // Cycle 5: b leaves gracefully between cycles (after finishing cycle 5).
    sleep_to(clock.as_ref(), cycle(5).start_us() + 6_000_000).await;
    let b = agents.remove("b").unwrap();
    assert!(
        b.service
            .stop_gracefully(b.tasks, Duration::from_secs(60))
            .await
    );
    b.service.leave_group().await;
    drop(b.service);
    // Cycle 7: c crashes mid-cycle (after 2 of its 4 seconds of polling).
    sleep_to(clock.as_ref(), cycle(7).start_us() + 2_000_000).await;
    let c = agents.remove("c").unwrap();
    for t in &c.tasks {
        t.abort();
    }
    drop(c);
    // Let everything settle for two more cycles.
    sleep_to(clock.as_ref(), cycle(10).start_us()).await;

    let counts = counts(&ledger);
    let mut report = Vec::new();
    for k in 1..10 {
        let c = cycle(k);
        let per_key = counts
            .get(&c.start_us())
            .cloned()
            .unwrap_or_else(|| vec![0; KEYS]);
        let missed = per_key.iter().filter(|n| **n == 0).count();
        let dup = per_key.iter().filter(|n| **n > 1).count();
        report.push(format!("cycle {k}: missed {missed}, duplicated {dup}"));
        assert_eq!(missed, 0, "cycle {k}: {report:?}");
        if k != 7 {
            assert_eq!(
                dup, 0,
                "cycle {k}: only the crash cycle may duplicate: {report:?}"
            );
        }
    }
    println!("{}", report.join("\n"));
    let takeovers: u64 = agents.values().map(|a| a.service.takeovers()).sum();
    assert!(takeovers >= 1, "the crash was taken over");
}

struct SlowPoller {
    took: Duration,
    running: Arc<std::sync::atomic::AtomicUsize>,
    max_running: Arc<std::sync::atomic::AtomicUsize>,
    starts: Arc<Mutex<Vec<i64>>>,
    clock: Arc<dyn Clock>,
}

impl Poller for SlowPoller {
    fn poll_cycle<'a>(
        &'a self,
        req: &'a CycleRequest,
        _owns: Owns<'a>,
        _out: &'a mpsc::Sender<SampleBatch>,
    ) -> BoxFuture<'a, CycleReport> {
        use std::sync::atomic::Ordering;
        Box::pin(async move {
            self.starts
                .lock()
                .unwrap()
                .push(self.clock.now_us() - req.timestamp.unix_micros());
            let n = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(self.took).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            CycleReport::default()
        })
    }
}

#[tokio::test(start_paused = true)]
async fn overruns_are_counted_and_cycles_never_overlap() {
    use std::sync::atomic::Ordering;
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(T0_US + 1_000_000));
    let poller = Arc::new(SlowPoller {
        // 1.5 intervals: every cycle overruns, and every other cycle start is missed.
        took: Duration::from_secs(15),
        running: Arc::default(),
        max_running: Arc::default(),
        starts: Arc::default(),
        clock: clock.clone(),
    });
    let metrics = Arc::new(Metrics::default());
    let service = Service::new(
        ServiceSettings {
            member_id: MemberId::from("solo"),
            batch_size: 50,
            record_ttl: Duration::from_secs(600),
            history: 4,
        },
        poller.clone(),
        vec![source()],
        Arc::new(NullSink),
        None,
        clock.clone(),
        metrics.clone(),
    );
    let tasks = service.start();
    tokio::time::sleep(Duration::from_secs(100)).await;
    for t in tasks {
        t.abort();
    }
    assert_eq!(
        poller.max_running.load(Ordering::SeqCst),
        1,
        "a cycle never overlaps the previous one"
    );
    let starts = poller.starts.lock().unwrap().clone();
    // Late starts: every cycle after the first begins after its nominal start.
    assert!(starts.len() >= 5, "{starts:?}");
    assert!(starts[1..].iter().all(|late| *late > 0), "{starts:?}");
    let text = metrics.render();
    let get = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(
        get("ceilometer_central_cycle_overruns_total") >= 4.0,
        "{text}"
    );
    assert!(
        get("ceilometer_central_cycles_skipped_total") >= 1.0,
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn joins_and_leaves_every_two_cycles_stay_exactly_once() {
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::starting_at(T0_US + 1_000_000));
    let backend = MemoryBackend::new();
    let ledger: Ledger = Arc::default();
    let cycle = |k: u64| CycleId {
        interval: INTERVAL,
        k: (T0_US / 1_000_000) as u64 / INTERVAL + k,
    };
    let mut agents: BTreeMap<String, Agent> = BTreeMap::new();
    for n in ["a", "b", "c"] {
        agents.insert(n.into(), start_agent(n, &backend, clock.clone(), &ledger));
    }
    // Every two cycles, alternately a graceful leave and a join, mid-cycle.
    let mut next_id = 0;
    let mut events = Vec::new();
    for k in (2..12).step_by(2) {
        sleep_to(clock.as_ref(), cycle(k).start_us() + 6_000_000).await;
        if (k / 2) % 2 == 1 {
            let name = agents.keys().next().cloned().unwrap();
            let a = agents.remove(&name).unwrap();
            assert!(
                a.service
                    .stop_gracefully(a.tasks, Duration::from_secs(60))
                    .await
            );
            a.service.leave_group().await;
            events.push(format!("cycle {k}: {name} left"));
        } else {
            let name = format!("n{next_id}");
            next_id += 1;
            agents.insert(
                name.clone(),
                start_agent(&name, &backend, clock.clone(), &ledger),
            );
            events.push(format!("cycle {k}: {name} joined"));
        }
    }
    sleep_to(clock.as_ref(), cycle(14).start_us()).await;
    let counts = counts(&ledger);
    for k in 1..14 {
        let per_key = counts
            .get(&cycle(k).start_us())
            .cloned()
            .unwrap_or_else(|| vec![0; KEYS]);
        let bad = per_key.iter().filter(|n| **n != 1).count();
        assert_eq!(
            bad, 0,
            "cycle {k}: {bad} keys not polled exactly once; events {events:?}"
        );
    }
}
