//! The polling engine: one cycle of one interval = every matched (source, pollster) pair,
//! run concurrently, sharing one discovery cache and one per-resource cache, streaming
//! batches of samples to the agent as they fill.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ceilometer_config::options::{
    RgwAdminCredentials, RgwClient, ServiceCredentials, ServiceTypes,
};
use futures_util::stream::{self, StreamExt};
use sample::Sample;
use tokio::sync::mpsc::Sender;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::discovery::{discover, Found, Kind, Resource};
use crate::dynpoll::{DynFailure, DynPollster, ExtraCache};
use crate::error::EngineError;
use crate::hardware::SnmpSettings;
use crate::http::{build_client, Http, RetryPolicy, TlsSettings};
use crate::keystone::{Api, Session};
use crate::meter::{Failure, SampleCtx};
use crate::registry::{Mode, PerResource, Pollster};
use crate::swift::SwiftMeter;

/// How long a resource stays blacklisted after a permanent error (403) unless it leaves
/// discovery first: long enough not to hammer a refusing API, short enough that an
/// operator's fix is picked up without a restart (upstream: process lifetime).
const BLACKLIST_TTL: Duration = Duration::from_secs(3600);

/// Everything the engine needs from `ceilometer.conf`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `[service_credentials]`.
    pub credentials: ServiceCredentials,
    /// `[service_types]`.
    pub service_types: ServiceTypes,
    /// `[rgw_admin_credentials]`.
    pub rgw_admin: RgwAdminCredentials,
    /// `[rgw_client]`.
    pub rgw_client: RgwClient,
    /// `[DEFAULT] reseller_prefix` (Swift accounts, `AUTH_`).
    pub reseller_prefix: String,
    /// `[DEFAULT] sample_source` (`openstack`).
    pub sample_source: String,
    /// `[polling] ignore_disabled_projects`.
    pub ignore_disabled_projects: bool,
    /// `[ceilometer_central] api_concurrency`: concurrent calls per service (16).
    pub api_concurrency: usize,
    /// `[ceilometer_central] api_timeout`: per request, unless `[service_credentials]
    /// timeout` is set.
    pub api_timeout: Duration,
    /// `User-Agent` of every request.
    pub user_agent: String,
}

/// What the engine polls besides the built-in pollsters. Kept apart from [`EngineConfig`]
/// so that adding it changes no existing constructor; see [`Engine::with_extras`].
#[derive(Debug, Clone, Default)]
pub struct EngineExtras {
    /// Dynamic pollster definitions (from [`crate::load_dynamic`]); their names are what
    /// `polling.yaml` matches. A name that is also a built-in or hardware pollster is
    /// ignored (warning): the built-in one runs.
    pub dynamic: Vec<dynamic::Definition>,
    /// The SNMP `hardware.*` pollsters' client settings.
    pub snmp: SnmpSettings,
}

/// One cycle's request.
#[derive(Debug, Clone)]
pub struct CycleRequest {
    /// The sources of this interval.
    pub sources: Vec<ceilometer_config::Source>,
    /// The cycle's timestamp, stamped on every sample.
    pub timestamp: sample::Timestamp,
    /// `[polling] batch_size` (0 = one sample per batch).
    pub batch_size: usize,
}

/// Samples of one pollster of one source (never mixed: upstream sends one message per
/// pollster batch).
#[derive(Debug, Clone)]
pub struct SampleBatch {
    /// Source name.
    pub source: String,
    /// Pollster name.
    pub pollster: &'static str,
    /// At most `batch_size` samples.
    pub samples: Vec<Sample>,
}

/// What a cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// (pollster, resource) candidates after per-cycle de-duplication.
    pub resources_seen: usize,
    /// Of those, the ones `owns` accepted.
    pub resources_owned: usize,
    /// Samples sent.
    pub samples: usize,
    /// Failed API calls (after retries) and failed discoveries, per service type.
    pub errors: BTreeMap<String, usize>,
    /// Unusable API data (entries or bodies), logged and skipped.
    pub skipped: usize,
    /// (source, pollster) pairs that polled at least one resource.
    pub pollsters_run: usize,
    /// Wall time of the cycle.
    pub duration: Duration,
}

/// Every built-in pollster name: the central pollsters of the registry and the SNMP
/// `hardware.*` ones. Dynamic pollsters come on top: see [`known_meters`] and
/// [`Engine::pollster_names`].
pub fn pollster_names() -> impl Iterator<Item = &'static str> {
    Pollster::NAMES
        .iter()
        .copied()
        .chain(crate::hardware::names())
}

/// Every name `polling.yaml` meters can match with these dynamic definitions loaded:
/// [`pollster_names`] then the dynamic names (the literal `{attr}` of multi-metric ones
/// included, as upstream), without duplicates. For the agent's `validate`.
pub fn known_meters(dynamic: &[dynamic::Definition]) -> Vec<String> {
    let mut out: Vec<String> = pollster_names().map(str::to_owned).collect();
    let mut seen: HashSet<String> = out.iter().cloned().collect();
    for d in dynamic {
        if seen.insert(d.name.clone()) {
            out.push(d.name.clone());
        }
    }
    out
}

/// A source's static resources for the built-in and dynamic pollsters: `snmp://` URLs
/// belong to the hardware pollsters only (and carry credentials that must not reach a
/// partition key or a log line), so they are left out.
fn static_resources(src: &ceilometer_config::Source) -> Vec<Resource> {
    src.resources
        .iter()
        .filter(|r| !crate::hardware::is_snmp(r))
        .map(|r| Resource::bare(Kind::Static, r))
        .collect()
}

/// Names of dynamic pollsters live for the whole process: each distinct name is leaked once
/// (reloads with the same definitions leak nothing more), so batches can keep carrying a
/// `&'static str` pollster name.
pub(crate) fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::OnceLock<Mutex<HashSet<&'static str>>> = std::sync::OnceLock::new();
    let mut m = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(n) = m.get(name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
    m.insert(n);
    n
}

type Cell<T> = Arc<OnceCell<Result<Arc<T>, Failure>>>;

/// One discovery's shared, once-computed result.
type DiscoveryCell = Arc<OnceCell<Arc<Found>>>;

/// (source, pollster) → blacklisted key → since when.
type Blacklist = HashMap<(String, &'static str), HashMap<Arc<str>, Instant>>;

/// The keys of one (source, pollster) blacklist that `select` still skips at `now`: a
/// resource that left discovery (`lists`) or whose [`BLACKLIST_TTL`] is up is forgiven and
/// dropped from `m`, so it is polled when discovered again.
fn still_blacklisted(
    m: &mut HashMap<Arc<str>, Instant>,
    lists: &[Arc<Found>],
    now: Instant,
) -> HashSet<Arc<str>> {
    let present: HashSet<&str> = lists
        .iter()
        .flat_map(|l| l.resources.iter().map(Resource::key))
        .collect();
    m.retain(|k, since| present.contains(&**k) && now.duration_since(*since) < BLACKLIST_TTL);
    m.keys().cloned().collect()
}

/// A 128-bit digest of a partition key for the per-cycle de-duplication: two SipHash-1-3
/// passes with different prefixes (a collision, about 2^-100 for a cloud's keys, would skip
/// one resource for one cycle).
fn key_digest(key: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        key.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// Samples of a listing pollster for its selected resources (refusing resources of another
/// kind); unusable data is logged and counted, never fatal.
async fn emit_listing(
    cy: &Cycle<'_>,
    ctx: &SampleCtx,
    pollster: &'static str,
    kind: Kind,
    f: crate::registry::ListingFn,
    selected: Vec<Resource>,
    em: &mut Emitter<'_>,
) {
    // By value: a resource no one else holds any more (a streamed page's, once the page
    // is dropped) gives its attributes to the sample instead of copying them.
    for mut r in selected {
        if r.kind() != kind {
            tracing::warn!(
                pollster,
                resource = r.key(),
                "Resource of another kind given to this pollster; skipped"
            );
            cy.skip(1);
            continue;
        }
        match f(ctx, &mut r) {
            Ok(v) => {
                for s in v {
                    em.push(s).await;
                }
            }
            Err(e) => {
                tracing::warn!(pollster, resource = r.key(), error = %e, "Unusable API data; resource skipped");
                cy.skip(1);
            }
        }
    }
}

/// Per-cycle cache of per-resource results, so that pollsters sharing a call (three Swift
/// account meters, five RGW bucket meters) make it once.
/// An entry is dropped once as many readers as pollsters planned to share it have taken
/// it, so a cycle does not hold every account's listing until it ends; a reader beyond
/// the plan (not expected) makes the call again rather than miss data.
pub(crate) struct Cache<T> {
    m: Mutex<HashMap<Arc<str>, (Cell<T>, usize)>>,
    readers: AtomicUsize,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache {
            m: Mutex::new(HashMap::new()),
            readers: AtomicUsize::new(usize::MAX),
        }
    }
}

impl<T> Cache<T> {
    /// How many pollster runs of this cycle read each entry.
    pub(crate) fn set_readers(&self, n: usize) {
        self.readers.store(n.max(1), Ordering::Relaxed);
    }

    pub(crate) fn cell(&self, k: &Arc<str>) -> Cell<T> {
        let readers = self.readers.load(Ordering::Relaxed);
        let mut m = self.m.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(k.clone()).or_default();
        e.1 += 1;
        let cell = e.0.clone();
        if e.1 >= readers {
            m.remove(k);
        }
        cell
    }
}

/// State of one cycle.
#[derive(Default)]
pub(crate) struct Cycle<'a> {
    /// The cycle's partition filter, applied as listings are parsed (see
    /// `discovery::parse_with`); pollsters still filter with it when they select.
    pub(crate) owns: crate::discovery::Owns<'a>,
    discoveries: Mutex<HashMap<String, DiscoveryCell>>,
    /// Per pollster, digests of the keys already polled this cycle (a 128-bit digest, not
    /// the key: 150k keys held as strings were ~10 MB of a large cycle's peak).
    history: Mutex<HashMap<&'static str, HashSet<u128>>>,
    errors: Mutex<BTreeMap<String, usize>>,
    skipped: AtomicUsize,
    seen: AtomicUsize,
    owned: AtomicUsize,
    pub(crate) samples: AtomicUsize,
    pub(crate) run: AtomicUsize,
    /// Swift accounts read this cycle, shared by the five `storage.*` meters.
    pub(crate) swift_account: Cache<crate::swift::Account>,
    /// Whether a container meter runs this cycle, so accounts are read with `GET`.
    pub(crate) swift_list: std::sync::atomic::AtomicBool,
    pub(crate) rgw_bucket: Cache<crate::rgw::Buckets>,
    pub(crate) rgw_usage: Cache<i64>,
    /// Barbican secret payloads (credentials of dynamic pollsters), by secret id.
    pub(crate) secrets: Cache<crate::barbican::Payload>,
}

impl Cycle<'_> {
    /// The candidates of `lists` this agent owns and `pollster` has not polled yet this
    /// cycle, counted as seen/owned. Ownership is checked first, so the history holds only
    /// this agent's share (another agent's resource listed by two sources is seen twice).
    fn take_owned_new(
        &self,
        pollster: &'static str,
        lists: &[Arc<Found>],
        owns: &(dyn Fn(&[u8]) -> bool + Send + Sync),
    ) -> Vec<Resource> {
        for l in lists {
            self.seen.fetch_add(l.foreign, Ordering::Relaxed);
        }
        let mut hist = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let done = hist.entry(pollster).or_default();
        let mut out = Vec::new();
        for r in lists.iter().flat_map(|l| l.resources.iter()) {
            if !owns(r.key().as_bytes()) {
                self.count_seen();
                continue;
            }
            if !done.insert(key_digest(r.key())) {
                continue;
            }
            self.count_seen();
            self.count_owned();
            out.push(r.clone());
        }
        out
    }

    pub(crate) fn discovery_cell(&self, url: &str) -> DiscoveryCell {
        let mut m = self.discoveries.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(url.to_owned()).or_default().clone()
    }

    /// Counts a failed call or discovery of `service`.
    pub(crate) fn error(&self, service: &str) {
        let mut m = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(service.to_owned()).or_default() += 1;
    }

    /// Counts unusable API data.
    pub(crate) fn skip(&self, n: usize) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a (pollster, resource) candidate.
    pub(crate) fn count_seen(&self) {
        self.seen.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a candidate `owns` accepted.
    pub(crate) fn count_owned(&self) {
        self.owned.fetch_add(1, Ordering::Relaxed);
    }
}

/// Shared state behind [`Engine`].
pub(crate) struct Inner {
    pub cfg: EngineConfig,
    pub api: Api,
    pub rgw_http: Http,
    /// Plain client of non-OpenStack dynamic pollsters (no Keystone token).
    pub ext_http: Http,
    /// Dynamic pollsters, in definition order.
    pub dynamic: Vec<DynPollster>,
    /// Extra-metadata responses of dynamic pollsters, across cycles.
    pub extra_cache: ExtraCache,
    /// The SNMP hardware poller (bounds hosts polled at once).
    pub hardware: snmp::HardwarePoller,
    /// (source, pollster) → blacklisted key → since when.
    blacklist: Mutex<Blacklist>,
}

/// The polling engine. Cheap to clone; holds the Keystone session and the HTTP clients.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// Collects samples into batches of one (source, pollster) and sends full ones at once.
pub(crate) struct Emitter<'a> {
    pub out: &'a Sender<SampleBatch>,
    pub source: &'a str,
    pub pollster: &'static str,
    pub size: usize,
    pub batch: Vec<Sample>,
    pub sent: usize,
    pub closed: bool,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(
        out: &'a Sender<SampleBatch>,
        source: &'a str,
        pollster: &'static str,
        size: usize,
    ) -> Self {
        Emitter {
            out,
            source,
            pollster,
            size,
            batch: Vec::with_capacity(size.min(1024)),
            sent: 0,
            closed: false,
        }
    }

    pub(crate) async fn push(&mut self, s: Sample) {
        if self.closed {
            return;
        }
        self.batch.push(s);
        if self.batch.len() >= self.size {
            self.flush().await;
        }
    }

    pub(crate) async fn flush(&mut self) {
        if self.batch.is_empty() || self.closed {
            return;
        }
        let samples = std::mem::replace(&mut self.batch, Vec::with_capacity(self.size.min(1024)));
        let n = samples.len();
        let b = SampleBatch {
            source: self.source.to_owned(),
            pollster: self.pollster,
            samples,
        };
        if self.out.send(b).await.is_err() {
            tracing::warn!(
                pollster = self.pollster,
                "Sample receiver closed; dropping the rest of this pollster's samples"
            );
            self.closed = true;
        } else {
            self.sent += n;
        }
    }
}

impl Engine {
    /// Builds the clients (reads TLS files) and the Keystone session; makes no request.
    pub fn new(cfg: EngineConfig) -> Result<Engine, EngineError> {
        Self::with_retry(cfg, RetryPolicy::default())
    }

    /// As [`Engine::new`] with a non-default retry policy (tests use short backoffs).
    pub fn with_retry(cfg: EngineConfig, retry: RetryPolicy) -> Result<Engine, EngineError> {
        Self::with_extras(cfg, retry, EngineExtras::default())
    }

    /// As [`Engine::with_retry`], with dynamic pollsters and SNMP settings.
    pub fn with_extras(
        cfg: EngineConfig,
        retry: RetryPolicy,
        extras: EngineExtras,
    ) -> Result<Engine, EngineError> {
        let c = &cfg.credentials;
        let timeout = c.timeout.unwrap_or(cfg.api_timeout);
        let timeout = if timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            timeout
        };
        let conc = cfg.api_concurrency.max(1);
        let client = build_client(
            &TlsSettings {
                cafile: c.cafile.clone(),
                certfile: c.certfile.clone(),
                keyfile: c.keyfile.clone(),
                insecure: c.insecure,
                section: "service_credentials",
            },
            timeout,
            &cfg.user_agent,
            conc,
        )?;
        let rgw_client = build_client(
            &TlsSettings {
                cafile: cfg.rgw_client.cafile.clone(),
                certfile: None,
                keyfile: None,
                insecure: cfg.rgw_client.insecure,
                section: "rgw_client",
            },
            timeout,
            &cfg.user_agent,
            conc,
        )?;
        // Non-OpenStack dynamic pollsters: default TLS verification, no client certificate
        // (the service credentials' TLS files are for OpenStack endpoints).
        let ext_client = build_client(
            &TlsSettings {
                section: "dynamic pollsters",
                ..TlsSettings::default()
            },
            timeout,
            &cfg.user_agent,
            conc,
        )?;
        let session = Session::new(c)?;
        let builtin: HashSet<&str> = pollster_names().collect();
        let mut dynamic = Vec::with_capacity(extras.dynamic.len());
        for d in extras.dynamic {
            if builtin.contains(d.name.as_str()) {
                tracing::warn!(pollster = %d.name, file = %d.file.display(), "Dynamic pollster has the name of a built-in pollster; the built-in one is used");
                continue;
            }
            if dynamic.iter().any(|x: &DynPollster| x.def.name == d.name) {
                tracing::info!(pollster = %d.name, file = %d.file.display(), "Dynamic pollster already defined; this definition is ignored");
                continue;
            }
            dynamic.push(DynPollster::new(d));
        }
        Ok(Engine {
            inner: Arc::new(Inner {
                api: Api {
                    http: Http::new(client, timeout, retry.clone(), conc),
                    session,
                },
                rgw_http: Http::new(rgw_client, timeout, retry.clone(), conc),
                ext_http: Http::new(ext_client, timeout, retry, conc),
                dynamic,
                extra_cache: ExtraCache::default(),
                hardware: crate::hardware::poller(&extras.snmp),
                cfg,
                blacklist: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Polls one cycle of one interval: every source, every matched pollster, only the
    /// resources whose stable key `owns` accepts. Batches go to `out` as they fill. Never
    /// panics; a failing service only affects its own pollsters.
    pub async fn poll_cycle(
        &self,
        req: &CycleRequest,
        owns: &(dyn Fn(&[u8]) -> bool + Send + Sync),
        out: &Sender<SampleBatch>,
    ) -> CycleReport {
        let start = Instant::now();
        let cy = Cycle {
            owns: Some(owns),
            ..Cycle::default()
        };
        let ctx = SampleCtx {
            timestamp: req.timestamp,
            source: intern(&self.inner.cfg.sample_source),
        };
        let mut jobs = Vec::new();
        let mut dyn_jobs = Vec::new();
        // Streamed listings (see `discovery::Feeds`): planned before anything runs.
        let mut feeds = crate::discovery::Feeds::default();
        let (mut head_readers, mut get_readers) = (0, 0);
        for src in &req.sources {
            for p in Pollster::ALL {
                if src.meters.matches(p.name()) {
                    if let Mode::PerResource(PerResource::Swift(m)) = p.mode() {
                        match m {
                            SwiftMeter::ContainersObjects | SwiftMeter::ContainersObjectsSize => {
                                get_readers += 1
                            }
                            _ => head_readers += 1,
                        }
                    }
                }
            }
        }
        cy.swift_account.set_readers(head_readers + get_readers);
        cy.swift_list.store(get_readers > 0, Ordering::Relaxed);
        for src in &req.sources {
            for p in Pollster::ALL {
                if src.meters.matches(p.name()) {
                    let listing = matches!(p.mode(), Mode::Listing(..));
                    let feed = feeds.plan(src, p.default_discovery(), listing);
                    jobs.push(self.run_pair(
                        &cy,
                        &ctx,
                        src,
                        *p,
                        req.batch_size.max(1),
                        owns,
                        out,
                        feed,
                    ));
                }
            }
            for dp in &self.inner.dynamic {
                if src.meters.matches(dp.name) {
                    dyn_jobs.push(self.run_dynamic(
                        &cy,
                        &ctx,
                        src,
                        dp,
                        req.batch_size.max(1),
                        owns,
                        out,
                    ));
                }
            }
        }
        futures_util::future::join4(
            feeds.run(&self.inner, &cy),
            futures_util::future::join_all(jobs),
            futures_util::future::join_all(dyn_jobs),
            crate::hardware::run(&self.inner, &cy, req, owns, out),
        )
        .await;
        CycleReport {
            resources_seen: cy.seen.load(Ordering::Relaxed),
            resources_owned: cy.owned.load(Ordering::Relaxed),
            samples: cy.samples.load(Ordering::Relaxed),
            errors: cy.errors.lock().map(|m| m.clone()).unwrap_or_default(),
            skipped: cy.skipped.load(Ordering::Relaxed),
            pollsters_run: cy.run.load(Ordering::Relaxed),
            duration: start.elapsed(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_pair(
        &self,
        cy: &Cycle<'_>,
        ctx: &SampleCtx,
        src: &ceilometer_config::Source,
        p: Pollster,
        batch_size: usize,
        owns: &(dyn Fn(&[u8]) -> bool + Send + Sync),
        out: &Sender<SampleBatch>,
        feed: Option<crate::discovery::PageFeed>,
    ) {
        if let Some(feed) = feed {
            return self
                .run_streamed(cy, ctx, src, p, batch_size, owns, out, feed)
                .await;
        }
        {
            let inner = &*self.inner;
            // Candidates: static resources + the source's discoveries, else the default.
            let mut lists: Vec<Arc<Found>> = Vec::new();
            if !src.resources.is_empty() {
                lists.push(Arc::new(Found::all(static_resources(src))));
            }
            for d in &src.discovery {
                lists.push(discover(inner, cy, d).await);
            }
            if src.resources.is_empty() && src.discovery.is_empty() {
                lists.push(discover(inner, cy, p.default_discovery()).await);
            }
            let selected = self.select(cy, src, p, &lists, owns);
            if selected.is_empty() {
                tracing::debug!(pollster = p.name(), source = %src.name, "Skip pollster, no resources found this cycle");
                return;
            }
            cy.run.fetch_add(1, Ordering::Relaxed);
            let mut em = Emitter::new(out, &src.name, p.name(), batch_size);
            match p.mode() {
                Mode::Listing(kind, f) => {
                    emit_listing(cy, ctx, p.name(), kind, f, selected, &mut em).await;
                }
                Mode::PerResource(pr) => {
                    self.per_resource(cy, ctx, src, p, pr, selected, &mut em)
                        .await;
                }
            }
            em.flush().await;
            cy.samples.fetch_add(em.sent, Ordering::Relaxed);
        }
    }

    /// Dynamic pollster names (interned), in definition order.
    pub fn dynamic_names(&self) -> Vec<&'static str> {
        self.inner.dynamic.iter().map(|d| d.name).collect()
    }

    /// Every pollster name this engine can run: built-in, hardware, then dynamic.
    pub fn pollster_names(&self) -> Vec<&'static str> {
        pollster_names().chain(self.dynamic_names()).collect()
    }

    /// One dynamic pollster of one source: its resources (static, the source's discoveries,
    /// else `endpoint:<endpoint_type>` / the non-OpenStack URL itself), de-duplicated and
    /// filtered by `owns` on the resource key, polled concurrently.
    #[allow(clippy::too_many_arguments)]
    async fn run_dynamic(
        &self,
        cy: &Cycle<'_>,
        ctx: &SampleCtx,
        src: &ceilometer_config::Source,
        dp: &DynPollster,
        batch_size: usize,
        owns: &(dyn Fn(&[u8]) -> bool + Send + Sync),
        out: &Sender<SampleBatch>,
    ) {
        let inner = &*self.inner;
        let mut lists: Vec<Arc<Found>> = Vec::new();
        if !src.resources.is_empty() {
            lists.push(Arc::new(Found::all(static_resources(src))));
        }
        for d in &src.discovery {
            lists.push(discover(inner, cy, d).await);
        }
        if src.resources.is_empty() && src.discovery.is_empty() {
            // Non-OpenStack (with Barbican credentials or not): the one resource is the URL.
            match dp.default_discovery() {
                Some(d) => lists.push(discover(inner, cy, &d).await),
                None => lists.push(Arc::new(Found::all(vec![Resource::bare(
                    Kind::Static,
                    &dp.own_resource(),
                )]))),
            }
        }
        let selected = cy.take_owned_new(dp.name, &lists, owns);
        if selected.is_empty() {
            tracing::debug!(pollster = dp.name, source = %src.name, "Skip pollster, no resources found this cycle");
            return;
        }
        // Credentials kept in Barbican: read once per cycle, only by the agent that polls.
        let barbican_auth;
        let auth: &[(reqwest::header::HeaderName, reqwest::header::HeaderValue)] = match dp
            .barbican()
        {
            None => &dp.auth_headers,
            Some(secret) => match crate::barbican::auth_headers(inner, cy, dp.name, secret).await {
                Some(h) => {
                    barbican_auth = h;
                    &barbican_auth
                }
                None => {
                    tracing::warn!(pollster = dp.name, source = %src.name, secret_id = %secret.secret_id, "Skipping dynamic pollster this cycle: its credentials from Barbican are unavailable");
                    return;
                }
            },
        };
        cy.run.fetch_add(1, Ordering::Relaxed);
        let mut em = Emitter::new(out, &src.name, dp.name, batch_size);
        let aborted = std::sync::atomic::AtomicBool::new(false);
        let aborted = &aborted;
        let conc = inner.api.http.concurrency();
        let mut results = stream::iter(selected)
            .map(|r| async move {
                let res =
                    crate::dynpoll::poll_resource(inner, cy, ctx, dp, auth, r.key(), aborted).await;
                (r, res)
            })
            .buffer_unordered(conc);
        while let Some((r, res)) = results.next().await {
            match res {
                Ok(samples) => {
                    for s in samples {
                        em.push(s).await;
                    }
                }
                Err(DynFailure::Request(e)) => {
                    tracing::warn!(pollster = dp.name, resource = %crate::http::redact(r.key()), error = %e, "Dynamic pollster request failed; no samples for this resource this cycle");
                    cy.error(&dp.service);
                }
                Err(DynFailure::Data(e)) => {
                    tracing::warn!(pollster = dp.name, resource = %crate::http::redact(r.key()), error = %e, "Unusable response; no samples for this resource this cycle");
                    cy.skip(1);
                }
                Err(DynFailure::Abort(e)) => {
                    if !aborted.swap(true, Ordering::Relaxed) {
                        tracing::error!(pollster = dp.name, error = %e, "Non-OpenStack API refused the request; pollster stopped for this cycle");
                        cy.error(&dp.service);
                    }
                }
            }
        }
        em.flush().await;
        cy.samples.fetch_add(em.sent, Ordering::Relaxed);
    }

    /// Applies de-duplication, the partition filter and the blacklist.
    fn select(
        &self,
        cy: &Cycle<'_>,
        src: &ceilometer_config::Source,
        p: Pollster,
        lists: &[Arc<Found>],
        owns: &(dyn Fn(&[u8]) -> bool + Send + Sync),
    ) -> Vec<Resource> {
        let now = Instant::now();
        let blk: HashSet<Arc<str>> = {
            let mut bl = self
                .inner
                .blacklist
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match bl.get_mut(&(src.name.clone(), p.name())) {
                Some(m) if !m.is_empty() => still_blacklisted(m, lists, now),
                _ => HashSet::new(),
            }
        };
        let mut out = cy.take_owned_new(p.name(), lists, owns);
        out.retain(|r| !blk.contains(r.key()));
        out
    }

    #[allow(clippy::too_many_arguments)]
    async fn per_resource(
        &self,
        cy: &Cycle<'_>,
        ctx: &SampleCtx,
        src: &ceilometer_config::Source,
        p: Pollster,
        pr: PerResource,
        selected: Vec<Resource>,
        em: &mut Emitter<'_>,
    ) {
        let inner = &*self.inner;
        let cfg = &inner.cfg;
        // Resolve the endpoint once per pollster run.
        let base = match pr {
            PerResource::Swift(_) => inner
                .api
                .endpoint(&cfg.service_types.swift)
                .await
                .map(|e| e.map(|u| crate::swift::account_base(&u))),
            PerResource::DnsRecordsets => inner
                .api
                .endpoint(&cfg.service_types.designate)
                .await
                .map(|e| e.map(|u| u.trim_end_matches('/').trim_end_matches("/v2").to_owned())),
            PerResource::Rgw(_) => self.rgw_endpoint().await,
        };
        let base = match base {
            Ok(Some(b)) => b,
            Ok(None) => {
                tracing::warn!(pollster = p.name(), "Skipping pollster: its service is not registered in keystone for the configured interface and region");
                return;
            }
            Err(e) => {
                tracing::error!(pollster = p.name(), error = %e, "Skipping pollster: keystone issue");
                cy.error("identity");
                return;
            }
        };
        let conc = inner.api.http.concurrency();
        let base = &base;
        let mut results = stream::iter(selected)
            .map(|r| async move {
                let res = match (pr, r.kind()) {
                    (PerResource::DnsRecordsets, Kind::Zone) => {
                        crate::designate::recordsets(inner, cy, ctx, base, &r)
                            .await
                            .map(crate::meter::now)
                    }
                    (PerResource::Swift(m), Kind::Project | Kind::Static) => {
                        crate::swift::poll(inner, cy, ctx, base, r.key_arc(), m).await
                    }
                    (PerResource::Rgw(m), Kind::Project | Kind::Static) => {
                        crate::rgw::poll(inner, cy, ctx, base, r.key_arc(), m).await
                    }
                    _ => Err(Failure::BadData("resource of another kind".into())),
                };
                (r, res)
            })
            .buffer_unordered(conc);
        while let Some((r, res)) = results.next().await {
            match res {
                Ok(samples) => {
                    for s in samples {
                        em.push(s).await;
                    }
                }
                Err(Failure::BadData(e)) => {
                    tracing::warn!(pollster = p.name(), resource = r.key(), error = %e, "Unusable API data; resource skipped");
                    // Counted where it was found (shared calls count once), except kind
                    // mismatches which are found here.
                    if e == "resource of another kind" {
                        cy.skip(1);
                    }
                }
                Err(Failure::Api(e)) if e.is_permanent() => {
                    tracing::error!(pollster = p.name(), source = %src.name, resource = r.key(), error = %e, "Prevent pollster from polling this resource on this source until it leaves discovery or for an hour");
                    let mut bl = inner.blacklist.lock().unwrap_or_else(|x| x.into_inner());
                    bl.entry((src.name.clone(), p.name()))
                        .or_default()
                        .insert(r.key_arc().clone(), Instant::now());
                }
                Err(Failure::Api(e)) if e.is_not_found() => {
                    tracing::warn!(
                        pollster = p.name(),
                        resource = r.key(),
                        "Resource not found on the service; skipped"
                    );
                }
                Err(Failure::Api(e)) => {
                    tracing::warn!(pollster = p.name(), resource = r.key(), error = %e, "API call failed; resource skipped this cycle");
                }
            }
        }
    }

    /// A listing pollster fed page by page (`discovery::Feeds`): the same selection and
    /// samples as `run_pair`'s listing branch, one page at a time, nothing kept but the
    /// per-cycle de-duplication keys.
    #[allow(clippy::too_many_arguments)]
    async fn run_streamed(
        &self,
        cy: &Cycle<'_>,
        ctx: &SampleCtx,
        src: &ceilometer_config::Source,
        p: Pollster,
        batch_size: usize,
        owns: &(dyn Fn(&[u8]) -> bool + Send + Sync),
        out: &Sender<SampleBatch>,
        mut feed: crate::discovery::PageFeed,
    ) {
        let Mode::Listing(kind, f) = p.mode() else {
            return;
        };
        let mut em = Emitter::new(out, &src.name, p.name(), batch_size);
        let mut ran = false;
        while let Some(page) = feed.recv().await {
            let selected = self.select(cy, src, p, std::slice::from_ref(&page), owns);
            drop(page);
            if !selected.is_empty() && !ran {
                ran = true;
                cy.run.fetch_add(1, Ordering::Relaxed);
            }
            emit_listing(cy, ctx, p.name(), kind, f, selected, &mut em).await;
        }
        if !ran {
            tracing::debug!(pollster = p.name(), source = %src.name, "Skip pollster, no resources found this cycle");
        }
        em.flush().await;
        cy.samples.fetch_add(em.sent, Ordering::Relaxed);
    }

    async fn rgw_endpoint(&self) -> Result<Option<String>, crate::error::ApiError> {
        let inner = &*self.inner;
        let ty = inner.cfg.service_types.radosgw.clone();
        let name = inner.cfg.rgw_client.rgw_service_name.clone();
        if ty.is_none() && name.is_none() {
            tracing::error!("Skipping radosgw polling: neither [service_types] radosgw nor [rgw_client] rgw_service_name is set");
            return Ok(None);
        }
        let t = inner.api.token().await?;
        let urls = inner.api.session.urls_where(&t, |s| {
            ty.as_ref().is_none_or(|x| *x == s.service_type)
                && name.as_ref().is_none_or(|x| *x == s.name)
        });
        Ok(urls.first().and_then(|u| crate::rgw::admin_url(u)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TTL way out of the blacklist, which the integration test (real sockets, real
    /// time) cannot wait for: on tokio's paused clock, a resource still in discovery stays
    /// skipped until the hour is up and is polled again from then on.
    #[tokio::test(start_paused = true)]
    async fn a_blacklisted_resource_is_forgiven_after_the_ttl() {
        let listed = Resource::bare(Kind::Project, "p-1");
        let other = Resource::bare(Kind::Project, "p-2");
        let lists = [Arc::new(Found::all(vec![listed.clone(), other.clone()]))];
        let mut m: HashMap<Arc<str>, Instant> = HashMap::new();
        m.insert(listed.key_arc().clone(), Instant::now());

        tokio::time::advance(BLACKLIST_TTL - Duration::from_millis(1)).await;
        let blk = still_blacklisted(&mut m, &lists, Instant::now());
        assert!(blk.contains(listed.key()), "skipped just before the TTL");
        assert!(!blk.contains(other.key()));

        tokio::time::advance(Duration::from_millis(1)).await;
        let blk = still_blacklisted(&mut m, &lists, Instant::now());
        assert!(blk.is_empty(), "polled again once the TTL is up: {blk:?}");
        assert!(m.is_empty(), "and forgotten");
    }

    /// The other way out, checked on the same clock: leaving discovery forgives at once.
    #[tokio::test(start_paused = true)]
    async fn a_blacklisted_resource_is_forgiven_when_it_leaves_discovery() {
        let gone = Resource::bare(Kind::Project, "p-gone");
        let kept = Resource::bare(Kind::Project, "p-kept");
        let mut m: HashMap<Arc<str>, Instant> = HashMap::new();
        m.insert(gone.key_arc().clone(), Instant::now());
        m.insert(kept.key_arc().clone(), Instant::now());
        tokio::time::advance(Duration::from_secs(1)).await;
        let blk = still_blacklisted(
            &mut m,
            &[Arc::new(Found::all(vec![kept.clone()]))],
            Instant::now(),
        );
        assert_eq!(blk, HashSet::from([kept.key_arc().clone()]));
        // Back in discovery, `gone` is no longer skipped.
        let blk = still_blacklisted(
            &mut m,
            &[Arc::new(Found::all(vec![gone.clone(), kept.clone()]))],
            Instant::now(),
        );
        assert!(!blk.contains(gone.key()), "{blk:?}");
        assert!(blk.contains(kept.key()));
    }
}
