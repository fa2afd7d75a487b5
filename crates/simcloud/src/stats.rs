//! Accounting: every request by the agent (Keystone user) that made it, by API and by
//! resource, with timestamps relative to the simulator's start.
//!
//! Concurrency: `DashMap`s (sharded locks) so that counting never serialises the server;
//! every update happens under its shard's lock, so counts are exact under concurrency.
//! Memory is bounded: at most `cap` timestamps are kept per resource and per listing.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::Service;

/// Which endpoint interface of the catalog a request came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    /// `public` (no path prefix).
    Public,
    /// `internal` (`/internal/...`).
    Internal,
    /// `admin` (`/admin-api/...`).
    Admin,
}

impl Interface {
    /// The catalog's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

/// Per-resource calls that pollsters make (one per resource per cycle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum PollKind {
    /// Swift `HEAD /v1/AUTH_<project>` (key: project id).
    SwiftHeadAccount,
    /// Swift `GET /v1/AUTH_<project>?format=json` (key: project id).
    SwiftGetAccount,
    /// Either of the two: a read of the account's totals, whatever the method (key: project
    /// id). An agent that serves every `storage.*` meter from one `GET` polls each account
    /// once per cycle here; one that makes a `HEAD` and a `GET` polls it twice.
    SwiftAccount,
    /// RadosGW `GET /admin/bucket?uid=<uid>&stats=true` (key: project id).
    RgwBucket,
    /// RadosGW `GET /admin/usage?uid=<uid>` (key: project id).
    RgwUsage,
    /// Designate `GET /v2/zones/<zone>/recordsets` first page (key: zone id).
    DnsRecordsets,
}

impl PollKind {
    /// Every kind.
    pub const ALL: [PollKind; 6] = [
        PollKind::SwiftHeadAccount,
        PollKind::SwiftGetAccount,
        PollKind::SwiftAccount,
        PollKind::RgwBucket,
        PollKind::RgwUsage,
        PollKind::DnsRecordsets,
    ];

    /// Stable name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            PollKind::SwiftHeadAccount => "swift.head_account",
            PollKind::SwiftGetAccount => "swift.get_account",
            PollKind::SwiftAccount => "swift.account",
            PollKind::RgwBucket => "rgw.bucket",
            PollKind::RgwUsage => "rgw.usage",
            PollKind::DnsRecordsets => "dns.recordsets",
        }
    }

    /// Parses [`PollKind::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One recorded poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PollMark {
    /// Agent (Keystone user name; the RadosGW access key for RGW).
    #[serde(serialize_with = "ser_arc")]
    pub agent: Arc<str>,
    /// Time since the simulator started.
    #[serde(rename = "t_us", serialize_with = "ser_us")]
    pub t: Duration,
}

fn ser_arc<S: serde::Serializer>(a: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a)
}

fn ser_us<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_micros() as u64)
}

/// A request's API identity: (service, interface, operation label).
pub type ApiKey = (Service, Interface, &'static str);

#[derive(Debug, Default)]
struct AgentCounts {
    total: u64,
    by_api: HashMap<ApiKey, u64>,
    first: Duration,
    last: Duration,
}

#[derive(Debug, Default)]
struct Marks {
    total: u64,
    recent: VecDeque<PollMark>,
}

/// The accounting store.
#[derive(Debug)]
pub struct Stats {
    start: Instant,
    cap: usize,
    requests: AtomicU64,
    agents: DashMap<Arc<str>, AgentCounts>,
    polls: Vec<DashMap<String, Marks>>,
    listings: DashMap<(Service, &'static str), Marks>,
}

/// Exactly-once report over an interval (see [`Stats::coverage`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Expected ids polled exactly once in the window.
    pub polled_once: Vec<String>,
    /// Expected ids not polled in the window.
    pub missed: Vec<String>,
    /// Expected ids polled more than once, with the count.
    pub duplicated: Vec<(String, usize)>,
    /// Ids polled in the window that were not expected.
    pub unexpected: Vec<String>,
    /// Polls in the window per agent.
    pub per_agent: BTreeMap<String, usize>,
}

impl Coverage {
    /// True if every expected id was polled exactly once.
    pub fn exactly_once(&self) -> bool {
        self.missed.is_empty() && self.duplicated.is_empty()
    }
}

impl Stats {
    /// Empty accounting; `cap` timestamps kept per resource.
    pub fn new(start: Instant, cap: usize) -> Self {
        Stats {
            start,
            cap: cap.max(1),
            requests: AtomicU64::new(0),
            agents: DashMap::new(),
            polls: PollKind::ALL.iter().map(|_| DashMap::new()).collect(),
            listings: DashMap::new(),
        }
    }

    /// Time since the simulator started (the clock of every timestamp here).
    pub fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }

    /// Counts one request.
    pub fn request(&self, agent: &Arc<str>, api: ApiKey, t: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut e = self
            .agents
            .entry(agent.clone())
            .or_insert_with(|| AgentCounts {
                first: t,
                ..Default::default()
            });
        e.total += 1;
        e.last = t;
        *e.by_api.entry(api).or_insert(0) += 1;
    }

    fn push(&self, m: &mut Marks, agent: &Arc<str>, t: Duration) {
        m.total += 1;
        if m.recent.len() >= self.cap {
            m.recent.pop_front();
        }
        m.recent.push_back(PollMark {
            agent: agent.clone(),
            t,
        });
    }

    /// Records a per-resource poll.
    pub fn poll(&self, kind: PollKind, id: &str, agent: &Arc<str>, t: Duration) {
        let map = &self.polls[kind as usize];
        if let Some(mut m) = map.get_mut(id) {
            self.push(&mut m, agent, t);
            return;
        }
        let mut m = map.entry(id.to_owned()).or_default();
        self.push(&mut m, agent, t);
    }

    /// Records the start of a listing (a first page, without `marker`).
    pub fn listing(&self, service: Service, what: &'static str, agent: &Arc<str>, t: Duration) {
        let mut m = self.listings.entry((service, what)).or_default();
        self.push(&mut m, agent, t);
    }

    /// Total requests seen since the last reset.
    pub fn total_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests per agent.
    pub fn per_agent(&self) -> BTreeMap<String, u64> {
        self.agents
            .iter()
            .map(|e| (e.key().to_string(), e.value().total))
            .collect()
    }

    /// Requests of one agent to one API (`op` as in `/_sim/stats`).
    pub fn count(&self, agent: &str, service: Service, op: &str) -> u64 {
        self.agents
            .get(agent)
            .map(|e| {
                e.by_api
                    .iter()
                    .filter(|((s, _, o), _)| *s == service && *o == op)
                    .map(|(_, n)| *n)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Requests per interface, over all agents, for one service.
    pub fn per_interface(&self, service: Service) -> BTreeMap<Interface, u64> {
        let mut out = BTreeMap::new();
        for e in self.agents.iter() {
            for ((s, i, _), n) in &e.by_api {
                if *s == service {
                    *out.entry(*i).or_insert(0) += n;
                }
            }
        }
        out
    }

    /// Recorded polls of one resource (most recent `cap`).
    pub fn polls_of(&self, kind: PollKind, id: &str) -> Vec<PollMark> {
        self.polls[kind as usize]
            .get(id)
            .map(|m| m.recent.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Recorded listing starts of one collection.
    pub fn listings_of(&self, service: Service, what: &str) -> Vec<PollMark> {
        self.listings
            .iter()
            .filter(|e| e.key().0 == service && e.key().1 == what)
            .flat_map(|e| e.value().recent.iter().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Which of `expected` were polled zero, one or several times in `[from, to)`.
    pub fn coverage(
        &self,
        kind: PollKind,
        expected: &[String],
        from: Duration,
        to: Duration,
    ) -> Coverage {
        let mut cov = Coverage::default();
        let map = &self.polls[kind as usize];
        let mut seen: HashMap<String, usize> = HashMap::new();
        for e in map.iter() {
            for m in e.value().recent.iter().filter(|m| m.t >= from && m.t < to) {
                *seen.entry(e.key().clone()).or_insert(0) += 1;
                *cov.per_agent.entry(m.agent.to_string()).or_insert(0) += 1;
            }
        }
        for id in expected {
            match seen.remove(id).unwrap_or(0) {
                0 => cov.missed.push(id.clone()),
                1 => cov.polled_once.push(id.clone()),
                n => cov.duplicated.push((id.clone(), n)),
            }
        }
        cov.unexpected = seen.into_keys().collect();
        cov.unexpected.sort();
        cov
    }

    /// Forgets everything.
    pub fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.agents.clear();
        for m in &self.polls {
            m.clear();
        }
        self.listings.clear();
    }

    /// The `/_sim/stats` document.
    pub fn to_json(&self) -> Value {
        self.to_json_with(true)
    }

    /// The `/_sim/stats` document; without `resources` (`?resources=false`) the per-resource
    /// marks are left out (they are large on big clouds: load benchmarks only need counts).
    pub fn to_json_with(&self, with_resources: bool) -> Value {
        let mut agents = serde_json::Map::new();
        for e in self.agents.iter() {
            let mut apis: Vec<(&ApiKey, &u64)> = e.by_api.iter().collect();
            apis.sort();
            let by_api: Vec<Value> = apis
                .into_iter()
                .map(|((s, i, op), n)| json!({"service": s.name(), "interface": i.name(), "api": op, "count": n}))
                .collect();
            agents.insert(
                e.key().to_string(),
                json!({"total": e.total, "first_us": e.first.as_micros() as u64, "last_us": e.last.as_micros() as u64, "by_api": by_api}),
            );
        }
        let mut resources = serde_json::Map::new();
        for k in PollKind::ALL.into_iter().filter(|_| with_resources) {
            let mut per = serde_json::Map::new();
            for e in self.polls[k as usize].iter() {
                per.insert(
                    e.key().clone(),
                    json!({"total": e.total, "polls": e.recent}),
                );
            }
            resources.insert(k.name().into(), Value::Object(per));
        }
        let mut listings = serde_json::Map::new();
        for e in self.listings.iter() {
            listings.insert(
                format!("{} {}", e.key().0.name(), e.key().1),
                json!({"total": e.total, "polls": e.recent}),
            );
        }
        json!({
            "now_us": self.now().as_micros() as u64,
            "total_requests": self.total_requests(),
            "agents": agents,
            "resources": resources,
            "listings": listings,
        })
    }
}
