//! RadosGW admin ops `radosgw.*` pollsters over the `tenant` discovery: `GET /admin/bucket`
//! (stats, shared by five meters through the cycle cache) and `GET /admin/usage`, both
//! SigV4-signed with `[rgw_admin_credentials]`, on a client with `[rgw_client]`'s TLS.

use std::sync::Arc;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use sample::Volume;
use serde_json::Value;

use crate::engine::{Cycle, Inner};
use crate::error::ApiError;
use crate::http::Req;
use crate::meter::{each, now, Failure, SampleCtx, Samples};
use crate::sigv4;

/// One bucket row (one per usage category, as upstream).
#[derive(Debug, Clone, PartialEq)]
pub struct BucketRow {
    /// Bucket name.
    pub name: String,
    /// Objects.
    pub num_objects: i64,
    /// KiB.
    pub size_kb: i64,
}

/// A tenant's bucket stats.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    /// Number of buckets (empty ones included).
    pub num_buckets: i64,
    /// Rows.
    pub rows: Vec<BucketRow>,
}

impl Buckets {
    fn rows(&self) -> &[BucketRow] {
        &self.rows
    }
}

/// Which RadosGW meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RgwMeter {
    ContainersObjects,
    ContainersObjectsSize,
    Objects,
    ObjectsSize,
    ObjectsContainers,
    Usage,
}

/// Parses `GET /admin/bucket?stats=true`. Public for the fuzz tests.
pub fn parse_buckets(body: &[u8]) -> Result<(Buckets, usize), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let arr = v.as_array().ok_or("bucket stats are not a JSON list")?;
    let mut rows = Vec::new();
    let mut skipped = 0;
    for b in arr {
        let Some(name) = b.get("bucket").and_then(Value::as_str) else {
            skipped += 1;
            continue;
        };
        let Some(usage) = b.get("usage").and_then(Value::as_object) else {
            continue;
        };
        for cat in usage.values() {
            match (
                cat.get("num_objects").and_then(Value::as_i64),
                cat.get("size_kb").and_then(Value::as_i64),
            ) {
                (Some(n), Some(kb)) => rows.push(BucketRow {
                    name: name.to_owned(),
                    num_objects: n,
                    size_kb: kb,
                }),
                _ => skipped += 1,
            }
        }
    }
    Ok((
        Buckets {
            num_buckets: arr.len() as i64,
            rows,
        },
        skipped,
    ))
}

/// Parses `GET /admin/usage`: Σ `summary[].total.ops`. Public for the fuzz tests.
pub fn parse_usage(body: &[u8]) -> Result<i64, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let summary = v
        .get("summary")
        .and_then(Value::as_array)
        .ok_or("no summary list")?;
    let mut ops = 0i64;
    for s in summary {
        ops = ops.saturating_add(
            s.get("total")
                .and_then(|t| t.get("ops"))
                .and_then(Value::as_i64)
                .ok_or("summary entry without total.ops")?,
        );
    }
    Ok(ops)
}

/// `scheme://host[:port]/admin` from a catalog URL (upstream replaces the path).
pub(crate) fn admin_url(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let authority = rest.split('/').next()?;
    if authority.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{authority}/admin"))
}

fn host_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let auth = rest.split('/').next().unwrap_or_default();
    let auth = auth.rsplit('@').next().unwrap_or(auth);
    match (scheme, auth.rsplit_once(':')) {
        ("http", Some((h, "80"))) | ("https", Some((h, "443"))) => h.to_owned(),
        _ => auth.to_owned(),
    }
}

async fn get(
    inner: &Inner,
    cy: &Cycle<'_>,
    admin: &str,
    what: &str,
    uid: &str,
    stats: bool,
) -> Result<bytes::Bytes, Failure> {
    let (Some(access), Some(secret)) = (
        inner.cfg.rgw_admin.access_key.as_deref(),
        inner.cfg.rgw_admin.secret_key.as_deref(),
    ) else {
        return Err(Failure::Api(ApiError::Keystone(
            "[rgw_admin_credentials] access_key/secret_key are not set".into(),
        )));
    };
    let mut pairs = vec![("uid", uid), ("format", "json")];
    if stats {
        pairs.push(("stats", "true"));
    }
    let query = sigv4::canonical_query(&pairs);
    let url = format!("{admin}/{what}?{query}");
    let path = format!("/admin/{what}");
    let host = host_of(admin);
    let date = crate::time::amz_date(crate::time::unix_now());
    let auth = sigv4::authorization(
        &path,
        &query,
        &host,
        &date,
        access,
        secret,
        "us-east-1",
        "s3",
    );
    let hv =
        |s: &str| HeaderValue::from_str(s).map_err(|_| Failure::BadData("invalid header".into()));
    let headers = vec![
        (reqwest::header::AUTHORIZATION, hv(&auth)?),
        (HeaderName::from_static("x-amz-date"), hv(&date)?),
        (
            HeaderName::from_static("x-amz-content-sha256"),
            HeaderValue::from_static(sigv4::EMPTY_SHA256),
        ),
        (
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        ),
    ];
    match inner
        .rgw_http
        .send(Req {
            service: "radosgw",
            method: Method::GET,
            url: &url,
            headers,
            body: None,
        })
        .await
    {
        Ok(r) => Ok(r.body),
        Err(e) => {
            cy.error("radosgw");
            Err(Failure::Api(e))
        }
    }
}

/// Samples of one RadosGW meter for one tenant; a per-bucket meter's are made one by one
/// from the shared bucket list as the caller takes them.
pub(crate) async fn poll<'a>(
    inner: &Inner,
    cy: &Cycle<'_>,
    c: &'a SampleCtx,
    admin: &str,
    tenant: &Arc<str>,
    m: RgwMeter,
) -> Result<Samples<'a>, Failure> {
    let t = tenant.to_string();
    let uid = if inner.cfg.rgw_client.implicit_tenants {
        format!("{t}${t}")
    } else {
        t.clone()
    };
    let project = t.clone();
    let s = move |name: &'static str, unit: &'static str, v: i64, rid: String| {
        c.gauge(
            name,
            unit,
            Volume::Int(v),
            None,
            Some(project.clone()),
            rid,
            sample::Metadata::new(),
        )
    };
    if m == RgwMeter::Usage {
        let cell = cy.rgw_usage.cell(tenant);
        let ops = cell
            .get_or_init(|| async {
                let body = get(inner, cy, admin, "usage", &uid, false).await?;
                parse_usage(&body).map(Arc::new).map_err(|e| {
                    cy.skip(1);
                    Failure::BadData(e)
                })
            })
            .await
            .clone()?;
        return Ok(now(vec![s("radosgw.api.request", "request", *ops, t)]));
    }
    let cell = cy.rgw_bucket.cell(tenant);
    let b = cell
        .get_or_init(|| async {
            let body = get(inner, cy, admin, "bucket", &uid, true).await?;
            let (b, skipped) = parse_buckets(&body).map_err(|e| {
                cy.skip(1);
                Failure::BadData(e)
            })?;
            cy.skip(skipped);
            Ok(Arc::new(b))
        })
        .await
        .clone()?;
    let per_bucket = |name: &'static str, unit: &'static str, v: fn(&BucketRow) -> i64| {
        let (t, s) = (t.clone(), s.clone());
        each(b.clone(), Buckets::rows, move |r| {
            s(name, unit, v(r), format!("{t}/{}", r.name))
        })
    };
    Ok(match m {
        RgwMeter::ContainersObjects => {
            per_bucket("radosgw.containers.objects", "object", |r| r.num_objects)
        }
        RgwMeter::ContainersObjectsSize => {
            per_bucket("radosgw.containers.objects.size", "B", |r| r.size_kb * 1024)
        }
        RgwMeter::Objects => now(vec![s(
            "radosgw.objects",
            "object",
            b.rows.iter().map(|r| r.num_objects).sum(),
            t,
        )]),
        RgwMeter::ObjectsSize => now(vec![s(
            "radosgw.objects.size",
            "B",
            b.rows.iter().map(|r| r.size_kb * 1024).sum(),
            t,
        )]),
        RgwMeter::ObjectsContainers => now(vec![s(
            "radosgw.objects.containers",
            "object",
            b.num_buckets,
            t,
        )]),
        RgwMeter::Usage => now(vec![]),
    })
}
