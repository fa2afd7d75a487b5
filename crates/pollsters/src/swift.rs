//! Swift v1 `storage.*` pollsters over the `tenant` discovery: one `HEAD` per account
//! (shared by the three account meters through the cycle cache) and one listing per
//! account (shared by the two container meters), each bounded, timed and retried.

use std::sync::Arc;

use reqwest::Method;
use sample::{Sample, Volume};
use serde_json::Value;

use crate::engine::{Cycle, Inner};
use crate::meter::{Failure, SampleCtx};

/// Account totals from the `HEAD`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    objects: i64,
    bytes: i64,
    containers: i64,
}

/// One container of the account listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// Name.
    pub name: String,
    /// Object count.
    pub count: i64,
    /// Bytes used.
    pub bytes: i64,
    /// `storage_policy`, when listed.
    pub storage_policy: Value,
}

/// Which Swift meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwiftMeter {
    Objects,
    ObjectsSize,
    ObjectsContainers,
    ContainersObjects,
    ContainersObjectsSize,
}

/// Account base URL: the catalog URL cut at its first `/v1`, without trailing `/`
/// (upstream `_neaten_url`); the account path is appended per tenant.
pub(crate) fn account_base(endpoint: &str) -> String {
    let cut = endpoint.find("/v1").map_or(endpoint, |i| &endpoint[..i]);
    cut.trim_end_matches('/').to_owned()
}

/// Parses an account listing (`GET ?format=json`): (containers, entries skipped). Public
/// for the fuzz tests.
pub fn parse_containers(body: &[u8]) -> Result<(Vec<Container>, usize), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let arr = v
        .as_array()
        .ok_or("the account listing is not a JSON list")?;
    let mut out = Vec::with_capacity(arr.len());
    let mut skipped = 0;
    for c in arr {
        let parsed = (|| {
            Some(Container {
                name: c.get("name")?.as_str()?.to_owned(),
                count: c.get("count")?.as_i64()?,
                bytes: c.get("bytes")?.as_i64()?,
                storage_policy: c.get("storage_policy").cloned().unwrap_or(Value::Null),
            })
        })();
        match parsed {
            Some(x) => out.push(x),
            None => skipped += 1,
        }
    }
    Ok((out, skipped))
}

fn header_int(h: &reqwest::header::HeaderMap, name: &str) -> Result<i64, String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or_else(|| format!("missing or invalid {name}"))
}

async fn head(inner: &Inner, cy: &Cycle<'_>, url: &str) -> Result<Arc<Head>, Failure> {
    let service = inner.cfg.service_types.swift.as_str();
    let reply = inner
        .api
        .call(service, Method::HEAD, url, &[])
        .await
        .map_err(|e| {
            if !e.is_not_found() {
                cy.error(service);
            }
            Failure::Api(e)
        })?;
    let h = &reply.headers;
    let parse = || -> Result<Head, String> {
        Ok(Head {
            objects: header_int(h, "x-account-object-count")?,
            bytes: header_int(h, "x-account-bytes-used")?,
            containers: header_int(h, "x-account-container-count")?,
        })
    };
    parse().map(Arc::new).map_err(|e| {
        cy.skip(1);
        Failure::BadData(e)
    })
}

async fn list(inner: &Inner, cy: &Cycle<'_>, url: &str) -> Result<Arc<Vec<Container>>, Failure> {
    let service = inner.cfg.service_types.swift.as_str();
    let mut out: Vec<Container> = Vec::new();
    // Upstream reads a single page (10 000 containers at most); we follow markers.
    const LIMIT: usize = 10_000;
    let mut marker: Option<String> = None;
    loop {
        let u = match &marker {
            None => format!("{url}?format=json&limit={LIMIT}"),
            Some(m) => format!(
                "{url}?format=json&limit={LIMIT}&marker={}",
                crate::sigv4::uri_encode(m)
            ),
        };
        let reply = inner
            .api
            .call(service, Method::GET, &u, &[])
            .await
            .map_err(|e| {
                if !e.is_not_found() {
                    cy.error(service);
                }
                Failure::Api(e)
            })?;
        let (page, skipped) = parse_containers(&reply.body).map_err(|e| {
            cy.skip(1);
            Failure::BadData(e)
        })?;
        cy.skip(skipped);
        let full = page.len() + skipped >= LIMIT;
        marker = page.last().map(|c| c.name.clone());
        out.extend(page);
        if !full || marker.is_none() {
            break;
        }
    }
    Ok(Arc::new(out))
}

/// Samples of one Swift meter for one tenant.
pub(crate) async fn poll(
    inner: &Inner,
    cy: &Cycle<'_>,
    c: &SampleCtx,
    base: &str,
    tenant: &Arc<str>,
    m: SwiftMeter,
) -> Result<Vec<Sample>, Failure> {
    let url = format!("{base}/v1/{}{}", inner.cfg.reseller_prefix, tenant);
    let t = tenant.to_string();
    let s = |name: &str, unit: &str, v: i64, rid: String, md: sample::Metadata| {
        c.gauge(name, unit, Volume::Int(v), None, Some(t.clone()), rid, md)
    };
    match m {
        SwiftMeter::Objects | SwiftMeter::ObjectsSize | SwiftMeter::ObjectsContainers => {
            let cell = cy.swift_head.cell(tenant);
            let h = cell.get_or_init(|| head(inner, cy, &url)).await.clone()?;
            let md = sample::Metadata::new();
            Ok(vec![match m {
                SwiftMeter::Objects => s("storage.objects", "object", h.objects, t.clone(), md),
                SwiftMeter::ObjectsSize => s("storage.objects.size", "B", h.bytes, t.clone(), md),
                _ => s(
                    "storage.objects.containers",
                    "container",
                    h.containers,
                    t.clone(),
                    md,
                ),
            }])
        }
        SwiftMeter::ContainersObjects | SwiftMeter::ContainersObjectsSize => {
            let cell = cy.swift_get.cell(tenant);
            let list = cell.get_or_init(|| list(inner, cy, &url)).await.clone()?;
            Ok(list
                .iter()
                .map(|ct| {
                    let mut md = sample::Metadata::new();
                    md.insert("storage_policy".into(), ct.storage_policy.clone());
                    let rid = format!("{t}/{}", ct.name);
                    if m == SwiftMeter::ContainersObjects {
                        s("storage.containers.objects", "object", ct.count, rid, md)
                    } else {
                        s("storage.containers.objects.size", "B", ct.bytes, rid, md)
                    }
                })
                .collect())
        }
    }
}
