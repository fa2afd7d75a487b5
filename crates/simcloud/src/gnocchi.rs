//! A fake Gnocchi v1 (archive policies, resources, batch measures) and an HTTP sample sink,
//! both keeping what they receive for the publisher tests.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};

use crate::server::{error, json_resp, text_resp, unauthorized, Req, Resp, State};
use crate::Service;

/// Records kept by the sink before the oldest are dropped.
const SINK_CAP: usize = 100_000;

/// Everything the fake Gnocchi received.
#[derive(Debug, Default)]
pub struct GnocchiStore {
    inner: Mutex<GnocchiInner>,
}

#[derive(Debug, Default)]
struct GnocchiInner {
    archive_policies: BTreeMap<String, Value>,
    /// (type, id) → resource body as created (PATCHes applied).
    resources: BTreeMap<(String, String), Value>,
    /// (resource id, metric name) → measures received.
    measures: BTreeMap<(String, String), Vec<Value>>,
    batches: u64,
    rejected_batches: u64,
    patches: u64,
}

impl GnocchiStore {
    /// Archive policy names created.
    pub fn archive_policies(&self) -> Vec<String> {
        self.inner.lock().archive_policies.keys().cloned().collect()
    }

    /// A resource as stored (type, id).
    pub fn resource(&self, ty: &str, id: &str) -> Option<Value> {
        self.inner
            .lock()
            .resources
            .get(&(ty.to_owned(), id.to_owned()))
            .cloned()
    }

    /// Number of resources.
    pub fn resource_count(&self) -> usize {
        self.inner.lock().resources.len()
    }

    /// Measures received for (resource id, metric name).
    pub fn measures(&self, id: &str, metric: &str) -> Vec<Value> {
        self.inner
            .lock()
            .measures
            .get(&(id.to_owned(), metric.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// (accepted batches, rejected batches, patches).
    pub fn counters(&self) -> (u64, u64, u64) {
        let g = self.inner.lock();
        (g.batches, g.rejected_batches, g.patches)
    }

    /// Forgets everything.
    pub fn clear(&self) {
        *self.inner.lock() = GnocchiInner::default();
    }

    /// The `/_sim/gnocchi` document.
    pub fn to_json(&self) -> Value {
        let g = self.inner.lock();
        let resources: Vec<Value> = g
            .resources
            .iter()
            .map(|((t, _), v)| json!({"type": t, "resource": v}))
            .collect();
        let measures: Vec<Value> = g
            .measures
            .iter()
            .map(|((r, m), v)| json!({"resource_id": r, "metric": m, "measures": v}))
            .collect();
        json!({
            "archive_policies": g.archive_policies.values().collect::<Vec<_>>(),
            "resources": resources,
            "measures": measures,
            "batches": g.batches,
            "rejected_batches": g.rejected_batches,
            "patches": g.patches,
        })
    }
}

fn conflict(desc: Value) -> Resp {
    json_resp(
        409,
        &json!({"code": 409, "description": desc, "title": "Conflict"}),
    )
}

/// `/gnocchi/...` routes.
pub(crate) fn handle_gnocchi(st: &State, r: &mut Req) -> Resp {
    let p = r.path.trim_end_matches('/').to_owned();
    if r.method == hyper::Method::GET && p.is_empty() {
        r.op = "GET /";
        return json_resp(
            200,
            &json!({"build": "4.6.0", "versions": [{"id": "v1.0", "links": [{"href": format!("{}/v1/", r.base), "rel": "self"}], "status": "CURRENT", "updated": "2015-03-19"}]}),
        );
    }
    if r.auth.is_none() {
        r.op = "unauthenticated";
        return unauthorized(Service::Metric, &st.url);
    }
    let body: Value = if r.body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&r.body) {
            Ok(v) => v,
            Err(e) => {
                r.op = "bad-json";
                return error(Service::Metric, 400, &format!("Unable to decode body: {e}"));
            }
        }
    };
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    let mut g = st.gnocchi.inner.lock();
    match (r.method.as_str(), segs.as_slice()) {
        ("POST", ["v1", "archive_policy"]) => {
            r.op = "POST /v1/archive_policy";
            let Some(name) = body.get("name").and_then(Value::as_str) else {
                return error(
                    Service::Metric,
                    400,
                    "Invalid input: required key not provided @ data['name']",
                );
            };
            if g.archive_policies.contains_key(name) {
                return conflict(Value::from(format!("Archive policy {name} already exists")));
            }
            g.archive_policies.insert(name.to_owned(), body.clone());
            json_resp(201, &body)
        }
        ("GET", ["v1", "archive_policy"]) => {
            r.op = "GET /v1/archive_policy";
            json_resp(
                200,
                &Value::Array(g.archive_policies.values().cloned().collect()),
            )
        }
        ("POST", ["v1", "resource", ty]) => {
            r.op = "POST /v1/resource/{type}";
            let Some(id) = body.get("id").and_then(Value::as_str) else {
                return error(
                    Service::Metric,
                    400,
                    "Invalid input: required key not provided @ data['id']",
                );
            };
            let key = (ty.to_string(), id.to_owned());
            if g.resources.contains_key(&key) || g.resources.keys().any(|(_, i)| i == id) {
                return conflict(json!({"cause": "Resource already exists", "detail": id}));
            }
            let mut stored = body.clone();
            if let Some(o) = stored.as_object_mut() {
                o.insert("type".into(), Value::from(*ty));
                o.insert("original_resource_id".into(), Value::from(id));
                o.entry("metrics").or_insert(json!({}));
            }
            g.resources.insert(key, stored.clone());
            json_resp(201, &stored)
        }
        ("PATCH", ["v1", "resource", ty, id]) => {
            r.op = "PATCH /v1/resource/{type}/{id}";
            let key = (ty.to_string(), id.to_string());
            let Some(res) = g.resources.get_mut(&key) else {
                return error(
                    Service::Metric,
                    404,
                    &format!("Resource {id} does not exist"),
                );
            };
            if let (Some(o), Some(patch)) = (res.as_object_mut(), body.as_object()) {
                for (k, v) in patch {
                    o.insert(k.clone(), v.clone());
                }
            }
            let out = res.clone();
            g.patches += 1;
            json_resp(200, &out)
        }
        ("GET", ["v1", "resource", ty, id]) => {
            r.op = "GET /v1/resource/{type}/{id}";
            match g.resources.get(&(ty.to_string(), id.to_string())) {
                Some(v) => json_resp(200, v),
                None => error(
                    Service::Metric,
                    404,
                    &format!("Resource {id} does not exist"),
                ),
            }
        }
        ("POST", ["v1", "batch", "resources", "metrics", "measures"]) => {
            r.op = "POST /v1/batch/resources/metrics/measures";
            let Some(obj) = body.as_object() else {
                return error(Service::Metric, 400, "Invalid input: expected a dictionary");
            };
            let unknown: Vec<Value> = obj
                .keys()
                .filter(|rid| !g.resources.keys().any(|(_, i)| i == *rid))
                .map(|rid| json!({"resource_id": rid, "original_resource_id": rid}))
                .collect();
            if !unknown.is_empty() {
                g.rejected_batches += 1;
                return json_resp(
                    400,
                    &json!({"code": 400, "description": {"cause": "Unknown resources", "detail": unknown}, "title": "Bad Request"}),
                );
            }
            for (rid, metrics) in obj {
                let Some(ms) = metrics.as_object() else {
                    continue;
                };
                for (metric, m) in ms {
                    let list = m
                        .get("measures")
                        .and_then(Value::as_array)
                        .cloned()
                        .or_else(|| m.as_array().cloned())
                        .unwrap_or_default();
                    g.measures
                        .entry((rid.clone(), metric.clone()))
                        .or_default()
                        .extend(list);
                }
            }
            g.batches += 1;
            text_resp(202, "application/json", "")
        }
        _ => {
            r.op = "unknown";
            error(Service::Metric, 404, "The resource could not be found.")
        }
    }
}

/// One request received by the sink.
#[derive(Clone, Debug, Serialize)]
pub struct SinkRecord {
    /// Path below `/sink`.
    pub path: String,
    /// Query string.
    pub query: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Body as JSON if it parses, else as a string.
    pub body: Value,
    /// Agent (token user) if a token was sent.
    pub agent: String,
    /// Microseconds since the simulator started.
    pub t_us: u64,
}

/// Everything the HTTP sink received.
#[derive(Debug, Default)]
pub struct SinkStore {
    records: Mutex<std::collections::VecDeque<SinkRecord>>,
}

impl SinkStore {
    /// Records received (oldest first).
    pub fn records(&self) -> Vec<SinkRecord> {
        self.records.lock().iter().cloned().collect()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.records.lock().clear();
    }

    /// The `/_sim/sink` document.
    pub fn to_json(&self) -> Value {
        json!({"records": self.records()})
    }
}

/// `/sink/...`: accepts any POST/PUT and records it.
pub(crate) fn handle_sink(st: &State, r: &mut Req) -> Resp {
    if !matches!(r.method, hyper::Method::POST | hyper::Method::PUT) {
        r.op = "unknown";
        return error(Service::Sink, 405, "The sink accepts POST and PUT only.");
    }
    r.op = "POST /sink";
    let body = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&r.body).into_owned()));
    let rec = SinkRecord {
        path: r.path.clone(),
        query: r.raw_query.clone(),
        content_type: r.header("content-type").map(str::to_owned),
        body,
        agent: r.agent.to_string(),
        t_us: st.stats.now().as_micros() as u64,
    };
    let mut g = st.sink.records.lock();
    if g.len() >= SINK_CAP {
        g.pop_front();
    }
    g.push_back(rec);
    text_resp(200, "application/json", "")
}
