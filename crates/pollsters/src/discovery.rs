//! Discoveries (spec §3.1): what to poll. Each discovery runs at most once per cycle; its
//! result is cached by discovery URL and shared (an `Arc`, never an exhausted iterator) by
//! every pollster of every source that asks for it. A failing discovery contributes what it
//! got before failing (logged, counted per service) and never stops the others.

use std::sync::Arc;

use ceilometer_config::options::ServiceTypes;
use reqwest::Method;
use serde_json::{Map, Value};

use crate::engine::{Cycle, Inner};
use crate::http::join_next;

/// What a discovered resource is, so a pollster can refuse resources it cannot read (a
/// `polling.yaml` may point any pollster at any discovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Keystone project (`tenant`).
    Project,
    /// Catalog URL (`endpoint:<type>`).
    Endpoint,
    /// Static `resources:` scalar of a source.
    Static,
    /// Glance image.
    Image,
    /// Cinder volume.
    Volume,
    /// Cinder snapshot.
    Snapshot,
    /// Cinder backup.
    Backup,
    /// Cinder scheduler pool.
    Pool,
    /// Cinder service.
    VolumeService,
    /// Neutron floating IP.
    FloatingIp,
    /// Neutron VPN service.
    VpnService,
    /// Neutron IPsec site connection.
    IpsecConnection,
    /// Neutron FWaaS v2 firewall group.
    Firewall,
    /// Neutron FWaaS v2 firewall policy.
    FirewallPolicy,
    /// Octavia load balancer.
    LoadBalancer,
    /// Manila share.
    Share,
    /// Designate zone.
    Zone,
    /// One alarm's entry of Aodh's `/v2/metrics`.
    AlarmResult,
    /// Keystone domain (used inside `tenant` only).
    Domain,
}

/// A discovered resource: its stable partition key, its kind and the attributes pollsters
/// read (trimmed at discovery so memory stays proportional to what is published).
#[derive(Debug, Clone)]
pub struct Resource {
    key: Arc<str>,
    kind: Kind,
    obj: Arc<Map<String, Value>>,
}

impl Resource {
    /// A resource without attributes (endpoint URL, static scalar).
    pub fn bare(kind: Kind, key: &str) -> Resource {
        Resource {
            key: Arc::from(key),
            kind,
            obj: Arc::new(Map::new()),
        }
    }

    /// The stable partition key: id, project id, URL or scalar (never a mutable attribute,
    /// so a resource keeps its owner when its status changes).
    pub fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn key_arc(&self) -> &Arc<str> {
        &self.key
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// An attribute as the API returned it.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.obj.get(field)
    }

    /// A string attribute.
    pub fn str(&self, field: &str) -> Option<&str> {
        self.obj.get(field).and_then(Value::as_str)
    }

    /// An attribute, `null` when absent (Python `getattr(obj, k)` of an SDK resource gives
    /// `None` for a field the API did not return).
    pub(crate) fn val(&self, field: &str) -> Value {
        self.obj.get(field).cloned().unwrap_or(Value::Null)
    }
}

/// How a listing says where the next page is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Next {
    /// No paging.
    None,
    /// Glance: top-level `next` string relative to the endpoint.
    Glance,
    /// `<key>_links: [{rel: next, href}]` (Cinder, Neutron, Octavia, Manila).
    Links(&'static str),
    /// `links: {next: url}` (Keystone, Designate).
    LinksObject,
}

/// How a resource's partition key is made.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyField {
    /// A string field.
    Field(&'static str),
    /// `<binary>@<host>` (Cinder services).
    BinaryAtHost,
}

/// A listing discovery, declared by its service module.
#[derive(Debug)]
pub(crate) struct ListSpec {
    /// Discovery name in `polling.yaml`.
    pub name: &'static str,
    /// Catalog type from `[service_types]`.
    pub service_type: fn(&ServiceTypes) -> &str,
    /// Version suffix the catalog URL may already carry (stripped before `path`).
    pub strip: &'static str,
    /// Path (with query) appended to the endpoint.
    pub path: &'static str,
    /// Extra request headers.
    pub headers: &'static [(&'static str, &'static str)],
    /// JSON key of the list.
    pub list: &'static str,
    /// Paging style.
    pub next: Next,
    /// Resource kind.
    pub kind: Kind,
    /// Partition key.
    pub key: KeyField,
    /// Attributes kept.
    pub keep: &'static [&'static str],
}

/// One parsed page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    /// Resources on the page.
    pub resources: Vec<Resource>,
    /// Entries that were not usable objects (logged, counted in `CycleReport::skipped`).
    pub skipped: usize,
    /// The next page, as the service wrote it.
    pub next: Option<String>,
}

/// Every listing discovery (the `tenant` and `endpoint` discoveries are special).
pub(crate) fn list_specs() -> [&'static ListSpec; 17] {
    [
        &crate::glance::IMAGES,
        &crate::cinder::VOLUMES,
        &crate::cinder::SNAPSHOTS,
        &crate::cinder::BACKUPS,
        &crate::cinder::POOLS,
        &crate::cinder::SERVICES,
        &crate::neutron::FIPS,
        &crate::neutron::VPNS,
        &crate::neutron::IPSEC,
        &crate::neutron::FIREWALLS,
        &crate::neutron::FW_POLICIES,
        &crate::octavia::LOADBALANCERS,
        &crate::manila::SHARES,
        &crate::designate::ZONES,
        &crate::aodh::METRICS,
        &crate::keystone_discovery::PROJECTS,
        &crate::keystone_discovery::DOMAINS,
    ]
}

/// Names a `discovery:` entry may use.
pub const DISCOVERY_NAMES: &[&str] = &[
    "tenant",
    "endpoint",
    "images",
    "volumes",
    "volume_snapshots",
    "volume_backups",
    "volume_pools",
    "volume_services",
    "fip_services",
    "vpn_services",
    "ipsec_connections",
    "fw_services",
    "fw_policy",
    "lb_services",
    "manila_shares",
    "dns_zones",
    "alarm",
];

fn spec_by_name(name: &str) -> Option<&'static ListSpec> {
    list_specs().into_iter().find(|s| s.name == name)
}

/// Parses one page of the listing behind discovery `name` (`images`, `volumes`, ...,
/// `tenant` for `/v3/projects`, `_domains` for `/v3/domains`). Entries that are not objects
/// with a string id are skipped and counted, never silently dropped. Any bytes are accepted
/// without panicking.
pub fn parse_page(name: &str, body: &[u8]) -> Result<Page, String> {
    let spec = spec_by_name(name).ok_or_else(|| format!("unknown discovery {name}"))?;
    parse_with(spec, body)
}

pub(crate) fn parse_with(spec: &ListSpec, body: &[u8]) -> Result<Page, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let top = v.as_object().ok_or("the body is not a JSON object")?;
    let items = top
        .get(spec.list)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no \"{}\" list in the body", spec.list))?;
    let mut page = Page::default();
    for item in items {
        match trim(spec, item) {
            Some(r) => {
                if spec.name == "fw_services" && r.str("status") == Some("error") {
                    // Upstream drops firewall groups whose status is the lower-case string
                    // "error" (Neutron reports upper case, so nothing is dropped in practice).
                    continue;
                }
                page.resources.push(r)
            }
            None => {
                tracing::warn!(
                    discovery = spec.name,
                    "Skipping a listing entry without a usable id"
                );
                page.skipped += 1;
            }
        }
    }
    page.next = match spec.next {
        Next::None => None,
        Next::Glance => top.get("next").and_then(Value::as_str).map(str::to_owned),
        Next::Links(k) => top.get(k).and_then(Value::as_array).and_then(|ls| {
            ls.iter()
                .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
                .and_then(|l| l.get("href").and_then(Value::as_str))
                .map(str::to_owned)
        }),
        Next::LinksObject => top
            .get("links")
            .and_then(|l| l.get("next"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    Ok(page)
}

fn trim(spec: &ListSpec, item: &Value) -> Option<Resource> {
    let o = item.as_object()?;
    let key = match spec.key {
        KeyField::Field(f) => o.get(f)?.as_str()?.to_owned(),
        KeyField::BinaryAtHost => format!(
            "{}@{}",
            o.get("binary")?.as_str()?,
            o.get("host")?.as_str()?
        ),
    };
    if key.is_empty() {
        return None;
    }
    let mut obj = Map::with_capacity(spec.keep.len());
    for k in spec.keep {
        if let Some(v) = o.get(*k) {
            obj.insert((*k).to_owned(), v.clone());
        }
    }
    Some(Resource {
        key: Arc::from(key.as_str()),
        kind: spec.kind,
        obj: Arc::new(obj),
    })
}

fn strip_suffix<'a>(url: &'a str, suffix: &str) -> &'a str {
    let u = url.trim_end_matches('/');
    if suffix.is_empty() {
        return u;
    }
    u.strip_suffix(suffix).unwrap_or(u)
}

/// Runs discovery `url` (`name` or `name:param`) once per cycle; later callers share it.
pub(crate) async fn discover(inner: &Inner, cy: &Cycle, url: &str) -> Arc<Vec<Resource>> {
    let cell = cy.discovery_cell(url);
    cell.get_or_init(|| async { Arc::new(run(inner, cy, url).await) })
        .await
        .clone()
}

async fn run(inner: &Inner, cy: &Cycle, url: &str) -> Vec<Resource> {
    let (name, param) = match url.split_once(':') {
        Some((n, p)) => (n, Some(p.trim_start_matches("//"))),
        None => (url, None),
    };
    match name {
        "tenant" => crate::keystone_discovery::tenants(inner, cy).await,
        "endpoint" => endpoints(inner, cy, param.unwrap_or_default()).await,
        _ => match spec_by_name(name).filter(|s| !s.name.starts_with('_') && s.name != "tenant") {
            Some(spec) => {
                let stype = (spec.service_type)(&inner.cfg.service_types).to_owned();
                let ep = match inner.api.endpoint(&stype).await {
                    Ok(Some(ep)) => ep,
                    Ok(None) => {
                        tracing::warn!(discovery = name, service_type = %stype, "Skipping discovery: the service is not registered in keystone for the configured interface and region");
                        return Vec::new();
                    }
                    Err(e) => {
                        tracing::error!(discovery = name, error = %e, "Skipping discovery: keystone issue");
                        cy.error("identity");
                        return Vec::new();
                    }
                };
                let base = strip_suffix(&ep, spec.strip).to_owned();
                list_all(
                    inner,
                    cy,
                    spec,
                    &stype,
                    &base,
                    format!("{base}{}", spec.path),
                )
                .await
            }
            None => {
                tracing::warn!(discovery = url, "Unknown discovery extension");
                Vec::new()
            }
        },
    }
}

/// Follows every page of a listing. On failure keeps what was read so far (logged).
pub(crate) async fn list_all(
    inner: &Inner,
    cy: &Cycle,
    spec: &ListSpec,
    service: &str,
    base: &str,
    first: String,
) -> Vec<Resource> {
    let mut out = Vec::new();
    let mut url = first;
    let mut seen_urls = std::collections::HashSet::new();
    loop {
        if !seen_urls.insert(url.clone()) {
            tracing::warn!(
                discovery = spec.name,
                "Listing links back to a page already read; stopping"
            );
            break;
        }
        let mut tries = 0;
        let page = loop {
            tries += 1;
            match inner
                .api
                .call(service, Method::GET, &url, spec.headers)
                .await
            {
                Ok(reply) => match parse_with(spec, &reply.body) {
                    Ok(p) => break Some(p),
                    // A garbled page is re-read once before the listing gives up.
                    Err(e) if tries < 2 => {
                        tracing::warn!(discovery = spec.name, error = %e, "Unreadable listing page, reading it again");
                    }
                    Err(e) => {
                        tracing::error!(discovery = spec.name, error = %e, "Unreadable listing page; discovery incomplete this cycle");
                        cy.error(service);
                        cy.skip(1);
                        break None;
                    }
                },
                Err(e) => {
                    tracing::error!(discovery = spec.name, error = %e, "Unable to discover resources; discovery incomplete this cycle");
                    cy.error(service);
                    break None;
                }
            }
        };
        let Some(page) = page else { break };
        cy.skip(page.skipped);
        out.extend(page.resources);
        match page.next {
            Some(n) => url = join_next(base, &n),
            None => break,
        }
    }
    out
}

async fn endpoints(inner: &Inner, cy: &Cycle, service_type: &str) -> Vec<Resource> {
    match inner.api.token().await {
        Ok(t) => {
            let urls = inner.api.session.urls(&t, service_type);
            if urls.is_empty() {
                tracing::warn!(service_type, "No endpoints found for service");
            }
            urls.iter()
                .map(|u| Resource::bare(Kind::Endpoint, u))
                .collect()
        }
        Err(e) => {
            tracing::error!(discovery = "endpoint", error = %e, "Skipping discovery: keystone issue");
            cy.error("identity");
            Vec::new()
        }
    }
}
