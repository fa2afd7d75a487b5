//! `prometheus://gateway[:port]/metrics/job/<job>[/label/value…]`: samples pushed to a
//! Prometheus push gateway in the text exposition format (`publisher/prometheus.py`).
//!
//! Body, per sample: `<name>{resource_id="<id>", user_id="<user>", project_id="<project>"}
//! <volume>` with the name's `.` and `-` turned into `_`, Python's `None` for a missing id and
//! Python's `str()` of the volume; a `# TYPE <name> gauge|counter` line before the first
//! sample of each name in a push (none for delta, which has no Prometheus type). Header
//! `Content-type: plain/text`, as upstream sends it. When the URL has no grouping labels after
//! the job, every resource is pushed on its own to `…/resource_id/<quoted id>`, so that one
//! resource's push does not replace the others' (the gateway replaces a whole group per PUT/
//! POST of the same metric names).

use std::fmt::Write as _;

use reqwest::Method;
use sample::{Sample, SampleType, Volume};

use crate::http::{classify, client, send, HttpSettings};
use crate::{Batch, BoxFuture, PublishError, Publisher};

/// Pushes samples to a Prometheus push gateway.
pub struct PrometheusPublisher {
    name: String,
    /// `http://gateway:port/metrics/job/<job>[/label/value…]` (no trailing slash).
    target: String,
    grouped: bool,
    max_retries: u32,
    client: reqwest::Client,
}

/// The metric name Prometheus accepts for a meter.
pub fn metric_name(meter: &str) -> String {
    meter.replace(['.', '-'], "_")
}

fn volume_str(v: Volume) -> String {
    let mut out = String::new();
    if let serde_json::Value::Number(n) = v.to_json() {
        crate::wire::py_number(&mut out, &n);
    } else {
        out.push_str("None");
    }
    out
}

/// The exposition text of `samples`, in order.
pub fn exposition<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> String {
    let mut done = std::collections::HashSet::new();
    let mut out = String::new();
    for s in samples {
        let name = metric_name(&s.name);
        let ty = match s.sample_type {
            SampleType::Cumulative => Some("counter"),
            SampleType::Gauge => Some("gauge"),
            SampleType::Delta => None,
        };
        if let Some(ty) = ty {
            if done.insert(name.clone()) {
                let _ = writeln!(out, "# TYPE {name} {ty}");
            }
        }
        let _ = writeln!(
            out,
            "{name}{{resource_id=\"{}\", user_id=\"{}\", project_id=\"{}\"}} {}",
            s.resource_id,
            s.user_id.as_deref().unwrap_or("None"),
            s.project_id.as_deref().unwrap_or("None"),
            volume_str(s.volume),
        );
    }
    out
}

/// Python's `urllib.parse.quote` with its default `safe='/'`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl PrometheusPublisher {
    /// `target` is the `http(s)://` URL of the job (grouping labels included).
    pub fn new(
        target: String,
        http: &HttpSettings,
        name: String,
    ) -> Result<PrometheusPublisher, String> {
        let target = target.trim_end_matches('/').to_owned();
        let path = target
            .split_once("://")
            .map_or("", |(_, r)| r.find('/').map_or("", |i| &r[i..]));
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        // metrics / job / <job> [/ label / value]...
        let grouped = segs.len() > 3;
        Ok(PrometheusPublisher {
            name,
            target,
            grouped,
            max_retries: http.max_retries,
            client: client(http)?,
        })
    }

    /// (URL, body) of each push for a batch.
    pub fn pushes(&self, batch: &Batch) -> Vec<(String, String)> {
        if self.grouped {
            return vec![(self.target.clone(), exposition(&batch.samples))];
        }
        // One push per resource, resources in order of first appearance.
        let mut order: Vec<&str> = Vec::new();
        let mut by: std::collections::HashMap<&str, Vec<&Sample>> = Default::default();
        for s in &batch.samples {
            by.entry(&s.resource_id)
                .or_insert_with(|| {
                    order.push(&s.resource_id);
                    Vec::new()
                })
                .push(s);
        }
        order
            .into_iter()
            .map(|rid| {
                let url = format!("{}/resource_id/{}", self.target, quote(rid));
                (url, exposition(by[rid].iter().copied()))
            })
            .collect()
    }
}

impl Publisher for PrometheusPublisher {
    fn name(&self) -> &str {
        &self.name
    }

    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            for (url, body) in self.pushes(batch) {
                let r = send(self.max_retries, &self.name, || {
                    self.client
                        .request(Method::POST, &url)
                        .header("Content-type", "plain/text")
                        .body(body.clone())
                })
                .await?;
                if !r.status.is_success() {
                    return Err(classify(r.status, &self.name, &r.body));
                }
            }
            Ok(())
        })
    }
}
