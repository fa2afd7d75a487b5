//! `gnocchi://?archive_policy=&filter_project=service&filter_domain=Default&
//! enable_filter_project=true&timeout=6.05`: samples written to Gnocchi as upstream's
//! `publisher/gnocchi.py` does (spec §6.4).
//!
//! Per batch: archive policies are created once per process (409 = already there); samples of
//! the Gnocchi service project are dropped (they would feed back on themselves) and counted;
//! meters without a resource type in [`RESOURCE_TYPES`] are dropped and counted ("metric … is
//! not handled by Gnocchi"); the rest are grouped per resource (id with `/` → `_`) into one
//! `POST /v1/batch/resources/metrics/measures?create_metrics=true`. A 400 "Unknown resources"
//! makes us create those resources (409 ignored) and post the batch once more. Afterwards a
//! resource's attributes are PATCHed only when they differ from what this process last wrote
//! (a bounded in-memory hash per resource; upstream keeps a BLAKE2 hash in a dict or
//! oslo.cache). A 401 invalidates the token and the batch is retried by the delivery worker.
//!
//! Authentication is not this crate's business: a [`TokenSource`] (the agent's Keystone
//! client) provides the token, the Gnocchi endpoint and the service project's id.
//! `resources_definition_file` is accepted but not read: the few resource types of the central
//! agent's meters are embedded in [`RESOURCE_TYPES`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::{Method, StatusCode};
use sample::Sample;
use serde_json::{json, Map, Value};

use crate::http::{classify, client, send, HttpSettings, Reply};
use crate::{Batch, BoxFuture, PublishError, Publisher};

/// What a [`TokenSource`] hands out.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken {
    /// `X-Auth-Token` value.
    pub token: String,
    /// Gnocchi's endpoint from the catalog (type `metric`), e.g. `http://host:8041`.
    pub gnocchi_url: String,
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthToken(***, {})", self.gnocchi_url)
    }
}

/// Keystone, as the Gnocchi publisher needs it. The agent implements this with its Keystone
/// client; the publisher calls `invalidate` when Gnocchi answers 401.
pub trait TokenSource: Send + Sync {
    /// A valid token (cached by the implementation) and the Gnocchi endpoint.
    fn token(&self) -> BoxFuture<'_, Result<AuthToken, PublishError>>;
    /// Forget the cached token: Gnocchi refused it.
    fn invalidate(&self);
    /// The id of project `name` in domain `domain` (`[gnocchi] filter_project`), `None` when
    /// there is no such project. Called once per publisher while it succeeds.
    fn project_id<'a>(
        &'a self,
        name: &'a str,
        domain: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PublishError>>;
}

/// A Gnocchi resource type the central meters map to, with its attributes.
#[derive(Debug)]
pub struct ResourceType {
    /// Gnocchi resource type.
    pub name: &'static str,
    /// Meters: exact names, or prefixes ending in `.`.
    pub meters: &'static [&'static str],
    /// Attribute → metadata keys tried in order (upstream's `resource_metadata.(a|b)`).
    pub attributes: &'static [(&'static str, &'static [&'static str])],
}

/// The part of upstream's `gnocchi_resources.yaml` that covers the central agent's meters
/// (spec §6.4). Attributes are the ones upstream defines for these types that the central
/// pollsters put into metadata.
pub const RESOURCE_TYPES: &[ResourceType] = &[
    ResourceType {
        name: "image",
        meters: &["image.size", "image.download", "image.serve"],
        attributes: &[
            ("name", &["name"]),
            ("container_format", &["container_format"]),
            ("disk_format", &["disk_format"]),
        ],
    },
    ResourceType {
        name: "network",
        meters: &["ip.floating", "bandwidth"],
        attributes: &[],
    },
    ResourceType {
        name: "swift_account",
        meters: &["storage."],
        attributes: &[],
    },
    ResourceType {
        name: "ceph_account",
        meters: &["radosgw."],
        attributes: &[],
    },
    ResourceType {
        name: "volume",
        meters: &["volume.size", "volume.snapshot.size", "volume.backup.size"],
        attributes: &[
            ("display_name", &["display_name", "name"]),
            ("volume_type", &["volume_type"]),
        ],
    },
    ResourceType {
        name: "volume_provider_pool",
        meters: &["volume.provider.pool."],
        attributes: &[("provider", &["provider"])],
    },
    ResourceType {
        name: "volume_provider",
        meters: &["volume.provider.capacity."],
        attributes: &[],
    },
    ResourceType {
        name: "volume_service",
        meters: &["volume.service.health"],
        attributes: &[],
    },
    ResourceType {
        name: "loadbalancer",
        meters: &["loadbalancer."],
        attributes: &[("name", &["name"])],
    },
    ResourceType {
        name: "manila_share",
        meters: &["manila."],
        attributes: &[("name", &["name"]), ("status", &["status"])],
    },
    ResourceType {
        name: "dns_zone",
        meters: &["dns.zone."],
        attributes: &[("name", &["name"])],
    },
];

/// The resource type of a meter, if Gnocchi handles it.
pub fn resource_type(meter: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES.iter().find(|rt| {
        rt.meters.iter().any(|m| {
            if m.ends_with('.') {
                meter.starts_with(m)
            } else {
                meter == *m
            }
        })
    })
}

/// The archive policies of upstream's `gnocchi_resources.yaml`.
pub fn archive_policies() -> Vec<Value> {
    let low = json!([{"granularity": "5 minutes", "timespan": "30 days"}]);
    let high = json!([
        {"granularity": "1 second", "timespan": "1 hour"},
        {"granularity": "1 minute", "timespan": "1 day"},
        {"granularity": "1 hour", "timespan": "365 days"}
    ]);
    vec![
        json!({"name": "ceilometer-low", "aggregation_methods": ["mean"], "back_window": 0, "definition": low}),
        json!({"name": "ceilometer-low-rate", "aggregation_methods": ["mean", "rate:mean"], "back_window": 0, "definition": low}),
        json!({"name": "ceilometer-high", "aggregation_methods": ["mean"], "back_window": 0, "definition": high}),
        json!({"name": "ceilometer-high-rate", "aggregation_methods": ["mean", "rate:mean"], "back_window": 0, "definition": high}),
    ]
}

/// Options of the `gnocchi://` URL.
#[derive(Debug, Clone, PartialEq)]
pub struct GnocchiConfig {
    /// `archive_policy`: overrides every metric's policy (default `ceilometer-low`).
    pub archive_policy: Option<String>,
    /// `filter_project` (default `service`).
    pub filter_project: String,
    /// `filter_domain` (default `Default`).
    pub filter_domain: String,
    /// `enable_filter_project` (default true).
    pub enable_filter_project: bool,
    /// `resources_definition_file`: accepted, not read (see the module documentation).
    pub resources_definition_file: String,
    /// Request timeout (`timeout`, default 6.05 s) and TLS settings.
    pub http: HttpSettings,
}

impl Default for GnocchiConfig {
    fn default() -> Self {
        GnocchiConfig {
            archive_policy: None,
            filter_project: "service".into(),
            filter_domain: "Default".into(),
            enable_filter_project: true,
            resources_definition_file: "gnocchi_resources.yaml".into(),
            http: HttpSettings {
                timeout: Duration::from_millis(6050),
                ..HttpSettings::default()
            },
        }
    }
}

/// Counters of what the Gnocchi publisher did besides posting measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GnocchiStats {
    /// Samples of the service project dropped (counted when their batch is done).
    pub filtered: u64,
    /// Samples whose meter has no resource type, dropped.
    pub unmapped: u64,
    /// Resources created (201).
    pub resources_created: u64,
    /// Attribute PATCHes sent.
    pub patches: u64,
    /// Measures accepted by Gnocchi.
    pub measures: u64,
}

/// Resource → hash of the last attributes written, bounded: two generations of at most
/// `cap / 2` entries each, the older dropped when the newer fills (an LRU approximation that
/// needs no per-hit bookkeeping).
struct AttrCache {
    cur: HashMap<String, u64>,
    old: HashMap<String, u64>,
    cap: usize,
}

impl AttrCache {
    fn get(&mut self, k: &str) -> Option<u64> {
        if let Some(v) = self.cur.get(k) {
            return Some(*v);
        }
        let v = self.old.remove(k)?;
        self.put(k.to_owned(), v);
        Some(v)
    }
    fn put(&mut self, k: String, v: u64) {
        if self.cur.len() >= self.cap / 2 && !self.cur.contains_key(&k) {
            self.old = std::mem::take(&mut self.cur);
        }
        self.cur.insert(k, v);
    }
}

/// Entries kept in the attribute-hash cache.
pub const ATTR_CACHE_CAP: usize = 100_000;

/// A batch sorted out for Gnocchi.
struct Grouped {
    measures: Map<String, Value>,
    resources: Vec<(String, Resource)>,
    filtered: u64,
    unmapped: u64,
}

struct Resource {
    ty: &'static str,
    /// `{id, user_id, project_id, <attributes>}` as created.
    body: Map<String, Value>,
}

/// Writes samples to Gnocchi.
pub struct GnocchiPublisher {
    name: String,
    cfg: GnocchiConfig,
    source: std::sync::Arc<dyn TokenSource>,
    client: reqwest::Client,
    policies_done: AtomicBool,
    service_project: tokio::sync::Mutex<Option<Option<String>>>,
    attrs: Mutex<AttrCache>,
    unmapped_logged: Mutex<std::collections::HashSet<String>>,
    filtered: AtomicU64,
    unmapped: AtomicU64,
    created: AtomicU64,
    patches: AtomicU64,
    measures: AtomicU64,
}

fn hash_of(v: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

fn opt(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

impl GnocchiPublisher {
    /// Create; nothing is sent before the first batch.
    pub fn new(
        cfg: GnocchiConfig,
        source: std::sync::Arc<dyn TokenSource>,
        name: String,
    ) -> Result<GnocchiPublisher, String> {
        let client = client(&cfg.http)?;
        Ok(GnocchiPublisher {
            name,
            cfg,
            source,
            client,
            policies_done: AtomicBool::new(false),
            service_project: tokio::sync::Mutex::new(None),
            attrs: Mutex::new(AttrCache {
                cur: HashMap::new(),
                old: HashMap::new(),
                cap: ATTR_CACHE_CAP,
            }),
            unmapped_logged: Mutex::new(Default::default()),
            filtered: AtomicU64::new(0),
            unmapped: AtomicU64::new(0),
            created: AtomicU64::new(0),
            patches: AtomicU64::new(0),
            measures: AtomicU64::new(0),
        })
    }

    /// Counters now.
    pub fn stats(&self) -> GnocchiStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        GnocchiStats {
            filtered: g(&self.filtered),
            unmapped: g(&self.unmapped),
            resources_created: g(&self.created),
            patches: g(&self.patches),
            measures: g(&self.measures),
        }
    }

    async fn request(
        &self,
        tok: &AuthToken,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Reply, PublishError> {
        let url = format!("{}{path}", tok.gnocchi_url.trim_end_matches('/'));
        let what = format!("{} {method} {path}", self.name);
        let text = body.to_string();
        let r = send(self.cfg.http.max_retries, &what, || {
            self.client
                .request(method.clone(), &url)
                .header("X-Auth-Token", &tok.token)
                .header("Content-Type", "application/json")
                .body(text.clone())
        })
        .await?;
        if r.status == StatusCode::UNAUTHORIZED {
            self.source.invalidate();
            return Err(PublishError::Retryable(format!(
                "{what}: HTTP 401: token refused; it will be renewed"
            )));
        }
        Ok(r)
    }

    async fn ensure_policies(&self, tok: &AuthToken) -> Result<(), PublishError> {
        if self.policies_done.load(Ordering::Acquire) {
            return Ok(());
        }
        for ap in archive_policies() {
            let r = self
                .request(tok, Method::POST, "/v1/archive_policy", &ap)
                .await?;
            if !r.status.is_success() && r.status != StatusCode::CONFLICT {
                return Err(classify(r.status, "creating archive policy", &r.body));
            }
        }
        self.policies_done.store(true, Ordering::Release);
        Ok(())
    }

    async fn service_project(&self) -> Result<Option<String>, PublishError> {
        if !self.cfg.enable_filter_project {
            return Ok(None);
        }
        let mut g = self.service_project.lock().await;
        if let Some(v) = g.as_ref() {
            return Ok(v.clone());
        }
        let id = self
            .source
            .project_id(&self.cfg.filter_project, &self.cfg.filter_domain)
            .await?;
        if id.is_none() {
            tracing::warn!(publisher = %self.name, project = %self.cfg.filter_project,
                "Filtered project not found in keystone, ignoring the filter_project option.");
        }
        *g = Some(id.clone());
        Ok(id)
    }

    /// Group the samples: (measures body, resources by safe id in first-seen order).
    fn group(&self, samples: &[Sample], service: Option<&str>) -> Grouped {
        let mut filtered = 0;
        let mut unmapped = 0;
        let mut measures = Map::new();
        let mut resources: Vec<(String, Resource)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for s in samples {
            if service.is_some() && s.project_id.as_deref() == service {
                filtered += 1;
                continue;
            }
            let Some(rt) = resource_type(&s.name) else {
                unmapped += 1;
                if self.unmapped_logged.lock().insert(s.name.to_string()) {
                    tracing::warn!(publisher = %self.name, "metric {} is not handled by Gnocchi", s.name);
                }
                continue;
            };
            let rid = s.resource_id.replace('/', "_");
            let metrics = measures
                .entry(rid.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(metrics) = metrics {
                let m = metrics.entry(s.name.clone()).or_insert_with(|| {
                    json!({
                        "measures": [],
                        "archive_policy_name": self.cfg.archive_policy.as_deref().unwrap_or("ceilometer-low"),
                        "unit": s.unit,
                    })
                });
                if let Some(Value::Array(list)) = m.get_mut("measures") {
                    list.push(
                        json!({"timestamp": s.timestamp.isoformat(), "value": s.volume.to_json()}),
                    );
                }
            }
            let mut body = Map::new();
            body.insert("id".into(), Value::String(rid.clone()));
            body.insert("user_id".into(), opt(&s.user_id));
            body.insert("project_id".into(), opt(&s.project_id));
            for (attr, keys) in rt.attributes {
                if let Some(v) = keys
                    .iter()
                    .find_map(|k| s.resource_metadata.get(k).filter(|v| !v.is_null()))
                {
                    body.insert((*attr).into(), v.clone());
                }
            }
            // The last sample of a resource wins, as upstream's dict update.
            let res = Resource { ty: rt.name, body };
            match index.get(&rid) {
                Some(&i) => resources[i].1 = res,
                None => {
                    index.insert(rid.clone(), resources.len());
                    resources.push((rid, res));
                }
            }
        }
        Grouped {
            measures,
            resources,
            filtered,
            unmapped,
        }
    }

    /// The PATCH body of a resource: `project_id` and the attributes.
    fn patch_body(r: &Resource) -> Value {
        let mut m = r.body.clone();
        m.remove("id");
        m.remove("user_id");
        Value::Object(m)
    }

    async fn post_measures(
        &self,
        tok: &AuthToken,
        measures: &Value,
    ) -> Result<Reply, PublishError> {
        self.request(
            tok,
            Method::POST,
            "/v1/batch/resources/metrics/measures?create_metrics=true",
            measures,
        )
        .await
    }

    async fn create_resource(&self, tok: &AuthToken, r: &Resource) -> Result<(), PublishError> {
        let path = format!("/v1/resource/{}", r.ty);
        let reply = self
            .request(tok, Method::POST, &path, &Value::Object(r.body.clone()))
            .await?;
        if reply.status.is_success() {
            self.created.fetch_add(1, Ordering::Relaxed);
        } else if reply.status != StatusCode::CONFLICT {
            return Err(classify(reply.status, "creating a resource", &reply.body));
        }
        Ok(())
    }

    async fn publish_batch(&self, batch: &Batch) -> Result<(), PublishError> {
        let service = self.service_project().await?;
        let Grouped {
            measures,
            resources,
            filtered,
            unmapped,
        } = self.group(&batch.samples, service.as_deref());
        // Dropped samples are counted once, when the batch is done with (not per attempt).
        let count_drops = || {
            self.filtered.fetch_add(filtered, Ordering::Relaxed);
            self.unmapped.fetch_add(unmapped, Ordering::Relaxed);
        };
        if measures.is_empty() {
            count_drops();
            return Ok(());
        }
        let count: usize = measures
            .values()
            .filter_map(Value::as_object)
            .flat_map(|m| m.values())
            .filter_map(|m| m.get("measures").and_then(Value::as_array))
            .map(Vec::len)
            .sum();
        let measures = Value::Object(measures);
        let tok = self.source.token().await?;
        self.ensure_policies(&tok).await?;
        let mut created_now: Vec<&str> = Vec::new();
        let mut r = self.post_measures(&tok, &measures).await?;
        if r.status == StatusCode::BAD_REQUEST && r.body.contains("Unknown resources") {
            let unknown: Vec<String> = serde_json::from_str::<Value>(&r.body)
                .ok()
                .and_then(|v| v["description"]["detail"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|d| {
                    d.get("original_resource_id")
                        .or_else(|| d.get("resource_id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect();
            for (rid, res) in &resources {
                if unknown.iter().any(|u| u == rid) {
                    self.create_resource(&tok, res).await?;
                    created_now.push(rid);
                }
            }
            r = self.post_measures(&tok, &measures).await?;
        }
        if !r.status.is_success() {
            return Err(classify(r.status, &self.name, &r.body));
        }
        self.measures.fetch_add(count as u64, Ordering::Relaxed);
        count_drops();
        // Attributes: created resources already carry them; others are PATCHed on change.
        for (rid, res) in &resources {
            let body = Self::patch_body(res);
            let h = hash_of(&body);
            let key = format!("{}/{rid}", res.ty);
            if created_now.contains(&rid.as_str()) {
                self.attrs.lock().put(key, h);
                continue;
            }
            if self.attrs.lock().get(&key) == Some(h) {
                continue;
            }
            let path = format!(
                "/v1/resource/{}/{}",
                res.ty,
                crate::url::percent_encode_strict(rid)
            );
            // The measures are in: a failed PATCH is logged and tried again next time, never
            // a reason to resend the batch.
            match self.request(&tok, Method::PATCH, &path, &body).await {
                Ok(p) if p.status.is_success() => {
                    self.patches.fetch_add(1, Ordering::Relaxed);
                    self.attrs.lock().put(key, h);
                }
                Ok(p) => {
                    tracing::warn!(publisher = %self.name, resource = %rid, status = %p.status,
                        "Updating the resource's attributes failed.");
                }
                Err(e) => {
                    tracing::warn!(publisher = %self.name, resource = %rid, error = %e,
                        "Updating the resource's attributes failed.");
                }
            }
        }
        Ok(())
    }
}

impl Publisher for GnocchiPublisher {
    fn name(&self) -> &str {
        &self.name
    }

    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(self.publish_batch(batch))
    }
}
