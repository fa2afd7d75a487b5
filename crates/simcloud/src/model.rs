//! The live cloud: compact resource records, generated from a seed, changed by churn.
//!
//! Records hold only what can change (status, size) and the ids; every other attribute is
//! derived from the id when a response is rendered (see `util::h`), which keeps a resource
//! at a few dozen bytes. Each collection is an `Arc<BTreeMap>` behind a lock: readers take
//! a snapshot (an `Arc` clone) and render pages from it without holding the lock, while
//! churn copies on write (`Arc::make_mut`) only when a reader still holds the old snapshot.
//! Ordering by id gives stable `marker` paging even while resources come and go.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Sizes;
use crate::util::{as_uuid4, h};

/// The id Keystone gives the default domain.
pub const DEFAULT_DOMAIN: u128 = 0;

/// A Keystone domain.
#[derive(Clone, Debug)]
pub struct Domain {
    /// Id (0 = `default`).
    pub id: u128,
    /// Sequence number used in the name.
    pub n: u32,
    /// `enabled`.
    pub enabled: bool,
}

/// A Keystone project with its Swift account and RadosGW buckets.
#[derive(Clone, Debug)]
pub struct Project {
    /// Id (32 hex digits on the wire).
    pub id: u128,
    /// Owning domain id.
    pub domain: u128,
    /// Name number: 0 = `admin`, 1 = `service`, else `project-<n>`.
    pub n: u32,
    /// `enabled`.
    pub enabled: bool,
    /// Swift containers (name `container-<index>`).
    pub containers: Box<[Container]>,
    /// RadosGW buckets (name `bucket-<index>`).
    pub buckets: Box<[Bucket]>,
}

impl Project {
    /// The project name as Keystone lists it.
    pub fn name(&self) -> String {
        match self.n {
            0 => "admin".into(),
            1 => "service".into(),
            n => format!("project-{n}"),
        }
    }
}

/// A Swift container.
#[derive(Clone, Copy, Debug)]
pub struct Container {
    /// Object count.
    pub count: u32,
    /// Bytes used.
    pub bytes: u64,
}

/// A RadosGW bucket.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    /// Objects.
    pub num_objects: u32,
    /// Size in KiB.
    pub size_kb: u64,
    /// Operations counted in the usage log.
    pub ops: u32,
}

/// A resource owned by a project, with a small mutable state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Res {
    /// Id.
    pub id: u128,
    /// Owning project id.
    pub project: u128,
    /// Index into the kind's status table (see `render`).
    pub status: u8,
    /// Second status (e.g. Octavia operating status).
    pub status2: u8,
    /// Size (GiB, bytes / 1 KiB for images, recordsets for zones, serial bump count, ...).
    pub size: u32,
    /// Related resource id (volume of a snapshot, vpn service of a connection, ...).
    pub parent: u128,
}

/// The kinds of project-owned resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Glance images.
    Image,
    /// Cinder volumes.
    Volume,
    /// Cinder snapshots.
    Snapshot,
    /// Cinder backups.
    Backup,
    /// Neutron floating IPs.
    FloatingIp,
    /// Neutron VPN services.
    VpnService,
    /// Neutron IPsec site connections.
    IpsecConnection,
    /// Neutron firewall groups.
    FirewallGroup,
    /// Neutron firewall policies.
    FirewallPolicy,
    /// Octavia load balancers.
    LoadBalancer,
    /// Manila shares.
    Share,
    /// Designate zones (`size` = recordset count).
    Zone,
    /// Aodh alarms.
    Alarm,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 13] = [
        Kind::Image,
        Kind::Volume,
        Kind::Snapshot,
        Kind::Backup,
        Kind::FloatingIp,
        Kind::VpnService,
        Kind::IpsecConnection,
        Kind::FirewallGroup,
        Kind::FirewallPolicy,
        Kind::LoadBalancer,
        Kind::Share,
        Kind::Zone,
        Kind::Alarm,
    ];

    /// Number of statuses in the kind's status table.
    pub fn statuses(self) -> u8 {
        crate::render::status_table(self).len() as u8
    }
}

/// A snapshot of one collection.
pub type Snap<T> = Arc<BTreeMap<u128, T>>;

/// A collection: a copy-on-write map behind a lock.
#[derive(Debug, Default)]
pub struct Coll<T: Clone> {
    inner: RwLock<Snap<T>>,
}

impl<T: Clone> Coll<T> {
    fn new(m: BTreeMap<u128, T>) -> Self {
        Coll {
            inner: RwLock::new(Arc::new(m)),
        }
    }

    /// A consistent snapshot for rendering.
    pub fn snap(&self) -> Snap<T> {
        self.inner.read().clone()
    }

    /// Reads one record under the lock (no snapshot clone: the hot path).
    pub fn with<R>(&self, id: u128, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.inner.read().get(&id).map(f)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.inner.read().len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Mutates the map (copy on write if a snapshot is held elsewhere).
    pub fn update<R>(&self, f: impl FnOnce(&mut BTreeMap<u128, T>) -> R) -> R {
        let mut g = self.inner.write();
        f(Arc::make_mut(&mut g))
    }
}

/// Cinder scheduler pool (`host@backend#pool`).
#[derive(Clone, Copy, Debug)]
pub struct Pool {
    /// Index in the name.
    pub n: u32,
    /// Total GiB.
    pub total_gb: u32,
    /// Free GiB.
    pub free_gb: u32,
    /// Allocated GiB.
    pub allocated_gb: u32,
    /// Provisioned GiB.
    pub provisioned_gb: u32,
}

/// Cinder service (`os-services`).
#[derive(Clone, Copy, Debug)]
pub struct VolService {
    /// Index in the host name.
    pub n: u32,
    /// 0 scheduler, 1 volume, 2 backup.
    pub binary: u8,
    /// `state` up (true) / down.
    pub up: bool,
    /// `status` enabled (true) / disabled.
    pub enabled: bool,
}

/// The whole simulated cloud.
#[derive(Debug)]
pub struct Model {
    /// Keystone domains.
    pub domains: Coll<Domain>,
    /// Keystone projects with Swift and RGW data.
    pub projects: Coll<Project>,
    /// Cinder pools.
    pub pools: RwLock<Vec<Pool>>,
    /// Cinder services.
    pub services: RwLock<Vec<VolService>>,
    colls: Vec<Coll<Res>>,
    /// Churn RNG (separate from generation so churn does not change the initial cloud).
    churn_rng: parking_lot::Mutex<ChaCha8Rng>,
    skew: f64,
    sizes: Sizes,
}

/// Picks project indices with Zipf-like weights over a random permutation of projects.
struct Picker {
    cum: Vec<f64>,
    ids: Vec<u128>,
}

impl Picker {
    fn new(ids: Vec<u128>, skew: f64, rng: &mut ChaCha8Rng) -> Self {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let mut cum = vec![0.0; ids.len()];
        let mut acc = 0.0;
        let mut w = vec![0.0; ids.len()];
        for (rank, &idx) in order.iter().enumerate() {
            w[idx] = 1.0 / ((rank + 1) as f64).powf(skew);
        }
        for (i, x) in w.iter().enumerate() {
            acc += x;
            cum[i] = acc;
        }
        Picker { cum, ids }
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> Option<(usize, u128)> {
        let total = *self.cum.last()?;
        let x = rng.random::<f64>() * total;
        let i = self.cum.partition_point(|&c| c < x).min(self.ids.len() - 1);
        Some((i, self.ids[i]))
    }

    /// Splits `total` items over the entries by weight (each entry gets its expected share
    /// plus a Bernoulli remainder), returning counts per entry index.
    fn spread(&self, total: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let mut out = vec![0; self.ids.len()];
        for _ in 0..total {
            if let Some((i, _)) = self.pick(rng) {
                out[i] += 1;
            }
        }
        out
    }
}

fn rand_id(rng: &mut ChaCha8Rng) -> u128 {
    as_uuid4(((rng.next_u64() as u128) << 64) | rng.next_u64() as u128)
}

/// Log-uniform integer in `[lo, hi]`: many small values, a long tail.
fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

fn new_containers(n: usize, rng: &mut ChaCha8Rng) -> Box<[Container]> {
    (0..n)
        .map(|_| {
            let count = log_uniform(rng, 1.0, 100_000.0) as u32 - 1;
            let avg = log_uniform(rng, 1_000.0, 10_000_000.0) as u64;
            Container {
                count,
                bytes: count as u64 * avg,
            }
        })
        .collect()
}

fn new_buckets(n: usize, rng: &mut ChaCha8Rng) -> Box<[Bucket]> {
    (0..n)
        .map(|_| {
            let num_objects = log_uniform(rng, 1.0, 100_000.0) as u32 - 1;
            Bucket {
                num_objects,
                size_kb: num_objects as u64 * log_uniform(rng, 1.0, 10_000.0) as u64,
                ops: log_uniform(rng, 1.0, 1_000_000.0) as u32,
            }
        })
        .collect()
}

impl Model {
    /// Generates a cloud: the same seed and sizes always give the same cloud.
    pub fn generate(seed: u64, sizes: &Sizes) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut domains = BTreeMap::new();
        domains.insert(
            DEFAULT_DOMAIN,
            Domain {
                id: DEFAULT_DOMAIN,
                n: 0,
                enabled: true,
            },
        );
        let mut domain_ids = vec![DEFAULT_DOMAIN];
        for n in 1..=sizes.domains {
            let id = rand_id(&mut rng);
            domain_ids.push(id);
            domains.insert(
                id,
                Domain {
                    id,
                    n: n as u32,
                    // One in five extra domains is disabled, like a retired customer.
                    enabled: n % 5 != 0,
                },
            );
        }
        let mut project_ids = Vec::with_capacity(sizes.projects + 2);
        let mut project_meta = Vec::with_capacity(sizes.projects + 2);
        for n in 0..sizes.projects + 2 {
            let id = rand_id(&mut rng);
            let domain = if n < 2 {
                DEFAULT_DOMAIN
            } else {
                domain_ids[rng.random_range(0..domain_ids.len())]
            };
            // A few percent of projects are disabled.
            let enabled = n < 2 || rng.random_range(0..100) >= 3;
            project_ids.push(id);
            project_meta.push((id, domain, n as u32, enabled));
        }
        let picker = Picker::new(project_ids.clone(), sizes.skew, &mut rng);
        let containers = picker.spread(
            sizes.projects.max(1) * sizes.swift_containers_per_project,
            &mut rng,
        );
        let buckets = picker.spread(
            sizes.projects.max(1) * sizes.rgw_buckets_per_project,
            &mut rng,
        );
        let mut projects = BTreeMap::new();
        for (i, (id, domain, n, enabled)) in project_meta.into_iter().enumerate() {
            projects.insert(
                id,
                Project {
                    id,
                    domain,
                    n,
                    enabled,
                    containers: new_containers(containers[i], &mut rng),
                    buckets: new_buckets(buckets[i], &mut rng),
                },
            );
        }
        let counts = [
            (Kind::Image, sizes.images),
            (Kind::Volume, sizes.volumes),
            (Kind::Snapshot, sizes.snapshots),
            (Kind::Backup, sizes.backups),
            (Kind::FloatingIp, sizes.floating_ips),
            (Kind::VpnService, sizes.vpn_services),
            (Kind::IpsecConnection, sizes.ipsec_connections),
            (Kind::FirewallGroup, sizes.firewall_groups),
            (Kind::FirewallPolicy, sizes.firewall_policies),
            (Kind::LoadBalancer, sizes.load_balancers),
            (Kind::Share, sizes.shares),
            (Kind::Zone, sizes.zones),
            (Kind::Alarm, sizes.alarms),
        ];
        let mut maps: Vec<BTreeMap<u128, Res>> = Vec::new();
        for (kind, count) in counts {
            let mut m = BTreeMap::new();
            for _ in 0..count {
                let r = new_res(kind, &picker, &maps, sizes, &mut rng);
                m.insert(r.id, r);
            }
            maps.push(m);
        }
        let pools = (0..sizes.pools)
            .map(|n| {
                let total = log_uniform(&mut rng, 1_000.0, 500_000.0) as u32;
                let allocated = rng.random_range(0..=total);
                Pool {
                    n: n as u32,
                    total_gb: total,
                    free_gb: total - allocated,
                    allocated_gb: allocated,
                    provisioned_gb: allocated + rng.random_range(0..=total / 4),
                }
            })
            .collect();
        let services = (0..sizes.volume_services)
            .map(|n| VolService {
                n: (n / 3) as u32,
                binary: (n % 3) as u8,
                up: rng.random_range(0..10) > 0,
                enabled: rng.random_range(0..10) > 0,
            })
            .collect();
        Model {
            domains: Coll::new(domains),
            projects: Coll::new(projects),
            pools: RwLock::new(pools),
            services: RwLock::new(services),
            colls: maps.into_iter().map(Coll::new).collect(),
            churn_rng: parking_lot::Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0xC4_u64)),
            skew: sizes.skew,
            sizes: sizes.clone(),
        }
    }

    /// The collection of a kind.
    pub fn coll(&self, kind: Kind) -> &Coll<Res> {
        &self.colls[kind as usize]
    }

    /// Total number of resources (projects, containers and buckets included).
    pub fn resource_count(&self) -> usize {
        let p = self.projects.snap();
        let nested: usize = p
            .values()
            .map(|p| p.containers.len() + p.buckets.len())
            .sum();
        p.len()
            + nested
            + self.domains.len()
            + Kind::ALL.iter().map(|k| self.coll(*k).len()).sum::<usize>()
    }

    /// Counts per collection, for `/_sim/cloud` and reports.
    pub fn summary(&self) -> serde_json::Value {
        let p = self.projects.snap();
        let mut m = serde_json::Map::new();
        m.insert("domains".into(), self.domains.len().into());
        m.insert("projects".into(), p.len().into());
        m.insert(
            "swift_containers".into(),
            p.values().map(|p| p.containers.len()).sum::<usize>().into(),
        );
        m.insert(
            "rgw_buckets".into(),
            p.values().map(|p| p.buckets.len()).sum::<usize>().into(),
        );
        for k in Kind::ALL {
            let name = serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            m.insert(name, self.coll(k).len().into());
        }
        m.insert("pools".into(), self.pools.read().len().into());
        m.insert("volume_services".into(), self.services.read().len().into());
        serde_json::Value::Object(m)
    }

    /// Applies `n` random changes: creations, deletions and modifications of projects and
    /// resources. Deleted ids vanish from listings; modified ones keep their id.
    pub fn churn(&self, n: usize) -> ChurnReport {
        let mut rep = ChurnReport::default();
        let mut rng = self.churn_rng.lock();
        let project_ids: Vec<u128> = self.projects.snap().keys().copied().collect();
        if project_ids.is_empty() {
            return rep;
        }
        let picker = Picker::new(project_ids, self.skew, &mut rng);
        for _ in 0..n {
            // Projects change as often as one resource kind does.
            let which = rng.random_range(0..=Kind::ALL.len());
            let op = rng.random_range(0..3u8);
            if which == Kind::ALL.len() {
                self.churn_project(op, &mut rng, &mut rep);
                continue;
            }
            let kind = Kind::ALL[which];
            let coll = self.coll(kind);
            match op {
                0 => {
                    let r = new_res(kind, &picker, &[], &self.sizes, &mut rng);
                    coll.update(|m| m.insert(r.id, r));
                    rep.created += 1;
                }
                1 => {
                    let probe = rand_id(&mut rng);
                    if coll
                        .update(|m| {
                            let k = m
                                .range(probe..)
                                .next()
                                .or_else(|| m.iter().next())
                                .map(|(k, _)| *k);
                            k.and_then(|k| m.remove(&k))
                        })
                        .is_some()
                    {
                        rep.deleted += 1;
                    }
                }
                _ => {
                    let probe = rand_id(&mut rng);
                    let statuses = kind.statuses().max(1);
                    let st = rng.random_range(0..statuses);
                    let grow = rng.random_range(1..4u32);
                    if coll
                        .update(|m| {
                            let k = m
                                .range(probe..)
                                .next()
                                .or_else(|| m.iter().next())
                                .map(|(k, _)| *k);
                            k.and_then(|k| m.get_mut(&k)).map(|r| {
                                r.status = st;
                                r.size = r.size.saturating_add(grow);
                            })
                        })
                        .is_some()
                    {
                        rep.modified += 1;
                    }
                }
            }
        }
        rep
    }

    fn churn_project(&self, op: u8, rng: &mut ChaCha8Rng, rep: &mut ChurnReport) {
        match op {
            0 => {
                let id = rand_id(rng);
                let n = 1_000_000 + rng.random_range(0..1_000_000u32);
                let containers = new_containers(rng.random_range(0..4), rng);
                let buckets = new_buckets(rng.random_range(0..3), rng);
                self.projects.update(|m| {
                    m.insert(
                        id,
                        Project {
                            id,
                            domain: DEFAULT_DOMAIN,
                            n,
                            enabled: true,
                            containers,
                            buckets,
                        },
                    )
                });
                rep.created += 1;
            }
            1 => {
                let probe = rand_id(rng);
                // `admin` and `service` (n 0 and 1) are never deleted.
                let gone = self.projects.update(|m| {
                    let k = m
                        .range(probe..)
                        .chain(m.iter())
                        .find(|(_, p)| p.n > 1)
                        .map(|(k, _)| *k);
                    k.and_then(|k| m.remove(&k))
                });
                if gone.is_some() {
                    rep.deleted += 1;
                }
            }
            _ => {
                let probe = rand_id(rng);
                let more = rng.random_range(1..1000u32);
                let done = self.projects.update(|m| {
                    let k = m
                        .range(probe..)
                        .next()
                        .or_else(|| m.iter().next())
                        .map(|(k, _)| *k);
                    k.and_then(|k| m.get_mut(&k)).map(|p| {
                        if let Some(c) = p.containers.first_mut() {
                            c.count = c.count.saturating_add(more);
                            c.bytes = c.bytes.saturating_add(more as u64 * 4096);
                        }
                        if let Some(b) = p.buckets.first_mut() {
                            b.num_objects = b.num_objects.saturating_add(more);
                            b.size_kb = b.size_kb.saturating_add(more as u64 * 4);
                            b.ops = b.ops.saturating_add(more);
                        }
                    })
                });
                if done.is_some() {
                    rep.modified += 1;
                }
            }
        }
    }
}

fn new_res(
    kind: Kind,
    picker: &Picker,
    earlier: &[BTreeMap<u128, Res>],
    sizes: &Sizes,
    rng: &mut ChaCha8Rng,
) -> Res {
    let id = rand_id(rng);
    let project = picker.pick(rng).map(|(_, p)| p).unwrap_or(0);
    let statuses = kind.statuses().max(1);
    // Mostly the first ("healthy") status, sometimes another one.
    let status = if rng.random_range(0..10) < 8 {
        0
    } else {
        rng.random_range(0..statuses)
    };
    let status2 = if rng.random_range(0..10) < 8 {
        0
    } else {
        rng.random_range(0..6)
    };
    let size = match kind {
        Kind::Image => log_uniform(rng, 10_000.0, 20_000_000.0) as u32, // KiB
        Kind::Zone => {
            let mean = sizes.recordsets_per_zone.max(1) as f64;
            if sizes.recordsets_per_zone == 0 {
                2
            } else {
                (log_uniform(rng, 1.0, mean * mean.max(2.0) * 2.0) as u32).max(2)
            }
        }
        Kind::Alarm => rng.random_range(0..1000),
        _ => log_uniform(rng, 1.0, 2_000.0) as u32,
    };
    let parent_of = |k: Kind, rng: &mut ChaCha8Rng| -> u128 {
        earlier
            .get(k as usize)
            .and_then(|m| {
                if m.is_empty() {
                    None
                } else {
                    let probe = rand_id(rng);
                    m.range(probe..)
                        .next()
                        .or_else(|| m.iter().next())
                        .map(|(k, _)| *k)
                }
            })
            .unwrap_or_else(|| h(id, 77) as u128)
    };
    let parent = match kind {
        Kind::Snapshot | Kind::Backup => parent_of(Kind::Volume, rng),
        Kind::IpsecConnection => parent_of(Kind::VpnService, rng),
        Kind::FirewallGroup => parent_of(Kind::FirewallPolicy, rng),
        _ => 0,
    };
    Res {
        id,
        project,
        status,
        status2,
        size,
        parent,
    }
}

/// What one churn step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChurnReport {
    /// Resources created.
    pub created: usize,
    /// Resources deleted.
    pub deleted: usize,
    /// Resources modified in place.
    pub modified: usize,
}
