//! Designate v2: the `dns_zones` discovery (all projects) and the four `dns.zone.*`
//! pollsters; `dns.zone.recordsets` pages through each zone's recordsets (a per-resource
//! call, bounded and timed like every other).

use reqwest::Method;
use sample::{Sample, Volume};
use serde_json::Value;

use crate::discovery::{KeyField, Kind, ListSpec, Next, Resource};
use crate::engine::{Cycle, Inner};
use crate::http::join_next;
use crate::meter::{metadata, opt_string, status_code, volume_or_zero, Failure, SampleCtx};

const ALL_PROJECTS: &[(&str, &str)] = &[("x-auth-all-projects", "True")];

/// `GET <designate>/v2/zones` with `x-auth-all-projects: True`.
pub(crate) static ZONES: ListSpec = ListSpec {
    name: "dns_zones",
    service_type: |t| t.designate.as_str(),
    strip: "/v2",
    path: "/v2/zones",
    headers: ALL_PROJECTS,
    list: "zones",
    next: Next::LinksObject,
    kind: Kind::Zone,
    key: KeyField::Field("id"),
    keep: &[
        "id",
        "project_id",
        "name",
        "email",
        "ttl",
        "description",
        "type",
        "status",
        "action",
        "serial",
        "pool_id",
    ],
};

const STATUS: &[(&str, i64)] = &[("active", 1), ("pending", 2), ("error", 3), ("deleted", 4)];

/// Which zone meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZoneMeter {
    Status,
    Ttl,
    Serial,
}

fn zone_md(r: &Resource) -> sample::Metadata {
    metadata(
        r,
        &[
            ("name", "name"),
            ("email", "email"),
            ("ttl", "ttl"),
            ("description", "description"),
            ("type", "type"),
            ("status", "status"),
            ("action", "action"),
            ("serial", "serial"),
            ("pool_id", "pool_id"),
        ],
    )
}

/// `dns.zone.status` / `dns.zone.ttl` / `dns.zone.serial`.
pub(crate) fn zone(c: &SampleCtx, r: &Resource, m: ZoneMeter) -> Result<Vec<Sample>, String> {
    let (name, unit, vol) = match m {
        ZoneMeter::Status => (
            "dns.zone.status",
            "status",
            Volume::Int(status_code(
                STATUS,
                r.str("status"),
                "dns.zone.status",
                r.key(),
            )),
        ),
        ZoneMeter::Ttl => (
            "dns.zone.ttl",
            "second",
            volume_or_zero(r.get("ttl"), "ttl")?,
        ),
        ZoneMeter::Serial => (
            "dns.zone.serial",
            "serial",
            volume_or_zero(r.get("serial"), "serial")?,
        ),
    };
    Ok(vec![c.gauge(
        name,
        unit,
        vol,
        None,
        opt_string(r.get("project_id"), "project_id")?,
        r.key().to_owned(),
        zone_md(r),
    )])
}

/// Parses one recordsets page: (count on the page, next link). Public for the fuzz tests.
pub fn parse_recordsets(body: &[u8]) -> Result<(usize, Option<String>), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let n = v
        .get("recordsets")
        .and_then(Value::as_array)
        .ok_or("no recordsets list")?
        .len();
    let next = v
        .get("links")
        .and_then(|l| l.get("next"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((n, next))
}

/// `dns.zone.recordsets`: the number of recordsets of the zone, all pages.
pub(crate) async fn recordsets(
    inner: &Inner,
    cy: &Cycle<'_>,
    c: &SampleCtx,
    base: &str,
    r: &Resource,
) -> Result<Vec<Sample>, Failure> {
    let service = inner.cfg.service_types.designate.as_str();
    let mut url = format!("{base}/v2/zones/{}/recordsets?limit=1000", r.key());
    let mut total = 0usize;
    let mut seen = std::collections::HashSet::new();
    loop {
        if !seen.insert(url.clone()) {
            break;
        }
        let reply = match inner
            .api
            .call(service, Method::GET, &url, ALL_PROJECTS)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                cy.error(service);
                return Err(e.into());
            }
        };
        let (n, next) = parse_recordsets(&reply.body).map_err(Failure::BadData)?;
        total += n;
        match next {
            Some(n) => url = join_next(base, &n),
            None => break,
        }
    }
    Ok(vec![c.gauge(
        "dns.zone.recordsets",
        "recordset",
        Volume::Int(total as i64),
        None,
        opt_string(r.get("project_id"), "project_id").map_err(Failure::BadData)?,
        r.key().to_owned(),
        zone_md(r),
    )])
}
