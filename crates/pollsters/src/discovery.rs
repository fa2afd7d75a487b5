//! Discoveries (spec §3.1): what to poll. Each discovery runs at most once per cycle; its
//! result is cached by discovery URL and shared (an `Arc`, never an exhausted iterator) by
//! every pollster of every source that asks for it. A failing discovery contributes what it
//! got before failing (logged, counted per service) and never stops the others.

use std::sync::Arc;

use ceilometer_config::options::ServiceTypes;
use reqwest::Method;
use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

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
/// read (trimmed at discovery so memory stays proportional to what is published; absent for
/// a resource another agent owns, which only needs its key).
#[derive(Debug, Clone)]
pub struct Resource {
    key: Arc<str>,
    kind: Kind,
    attrs: Option<Arc<[(&'static str, Value)]>>,
}

impl Resource {
    /// A resource without attributes (endpoint URL, static scalar, another agent's resource).
    pub fn bare(kind: Kind, key: &str) -> Resource {
        Resource {
            key: Arc::from(key),
            kind,
            attrs: None,
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
        self.attrs
            .as_deref()?
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, v)| v)
    }

    /// A string attribute.
    pub fn str(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Value::as_str)
    }

    /// An attribute, `null` when absent (Python `getattr(obj, k)` of an SDK resource gives
    /// `None` for a field the API did not return).
    pub(crate) fn val(&self, field: &str) -> Value {
        self.get(field).cloned().unwrap_or(Value::Null)
    }

    /// [`val`](Self::val), moving the value out when no one else holds this resource's
    /// attributes (then later reads of `field` see `null`); a copy otherwise. A sample's
    /// metadata is most of what a listed resource carries, so this saves copying it.
    pub(crate) fn take(&mut self, field: &str) -> Value {
        match self.attrs.as_mut().and_then(Arc::get_mut) {
            Some(attrs) => attrs
                .iter_mut()
                .find(|(k, _)| *k == field)
                .map(|(_, v)| std::mem::take(v))
                .unwrap_or(Value::Null),
            None => self.val(field),
        }
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
    /// Resources on the page (this agent's share when parsed with a partition filter).
    pub resources: Vec<Resource>,
    /// Other agents' entries: only counted, not kept (at 4 agents three quarters of every
    /// listing; keeping their keys was most of a large cloud's discovery memory).
    pub foreign: usize,
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
    parse_with(spec, body, None)
}

/// Who owns a partition key this cycle (`None`: every key is ours, as for domains).
pub(crate) type Owns<'a> = Option<&'a (dyn Fn(&[u8]) -> bool + Send + Sync)>;

/// Parses a page in one pass over the body, without building a JSON tree of it: each entry
/// is scanned into borrowed (name, raw value) pairs, its key found, and only the kept
/// attributes of the entries this agent owns are parsed. Another agent's entry costs a scan
/// and its key, which is what lets a fleet split the CPU of a listing it must all read.
pub(crate) fn parse_with(spec: &ListSpec, body: &[u8], owns: Owns<'_>) -> Result<Page, String> {
    let mut page = Page::default();
    let mut found = false;
    // One UTF-8 check of the whole body, after which the parser reads it as text and
    // checks no string again (from bytes, every name and value was validated on its own,
    // and kept values twice). Invalid bytes, which no API should send, become U+FFFD.
    let text = match std::str::from_utf8(body) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(body),
    };
    let mut de = serde_json::Deserializer::from_str(&text);
    Top {
        spec,
        owns,
        page: &mut page,
        found: &mut found,
    }
    .deserialize(&mut de)
    .map_err(|e| format!("invalid JSON: {e}"))?;
    de.end().map_err(|e| format!("invalid JSON: {e}"))?;
    if !found {
        return Err(format!("no \"{}\" list in the body", spec.list));
    }
    Ok(page)
}

/// The top-level object: the list, the paging links, everything else skipped.
struct Top<'p, 'o> {
    spec: &'p ListSpec,
    owns: Owns<'o>,
    page: &'p mut Page,
    found: &'p mut bool,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let spec = self.spec;
        while let Some(Name(k)) = m.next_key::<Name<'de>>()? {
            if k == spec.list && !*self.found {
                *self.found = m.next_value_seed(Items {
                    spec,
                    owns: self.owns,
                    page: &mut *self.page,
                })?;
                continue;
            }
            let next = match spec.next {
                Next::Glance if k == "next" => {
                    m.next_value::<Option<Value>>()?.and_then(|v| match v {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                }
                Next::Links(lk) if k == lk => {
                    let v: Value = m.next_value()?;
                    v.as_array().and_then(|ls| {
                        ls.iter()
                            .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
                            .and_then(|l| l.get("href").and_then(Value::as_str))
                            .map(str::to_owned)
                    })
                }
                Next::LinksObject if k == "links" => {
                    let v: Value = m.next_value()?;
                    v.get("next").and_then(Value::as_str).map(str::to_owned)
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            self.page.next = next;
        }
        Ok(())
    }
    // Any other top-level value parses (so the error says what is missing) but holds no list.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// The list; `false` when the value is not a list (then it is not "the list").
struct Items<'p, 'o> {
    spec: &'p ListSpec,
    owns: Owns<'o>,
    page: &'p mut Page,
}

impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

/// One entry's attributes as borrowed raw JSON (no allocation unless a name has escapes).
type Fields<'de> = Vec<(Cow<'de, str>, &'de RawValue)>;

/// Whose an entry is, as far as the attributes scanned so far tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Owner {
    /// The key has not been read yet.
    #[default]
    Unknown,
    /// The key was read and this agent owns it: kept attributes after it are parsed as
    /// they come, without a second pass.
    Ours,
    /// Another agent's: what follows the key is skipped.
    Foreign,
}

/// One entry as it is scanned; reused across a page's entries so their vectors are
/// allocated once per page.
#[derive(Default)]
struct Scan<'de> {
    /// Attributes read before the owner was known, as raw JSON.
    fields: Fields<'de>,
    /// Kept attributes parsed once the entry was known to be ours.
    attrs: Vec<(&'static str, Value)>,
    owner: Owner,
    key: Option<Cow<'de, str>>,
    /// The key attribute came twice: which one is meant is unknowable, so the entry is
    /// skipped as one without a usable id.
    twice: bool,
}

impl Scan<'_> {
    fn clear(&mut self) {
        self.fields.clear();
        self.attrs.clear();
        self.owner = Owner::Unknown;
        self.key = None;
        self.twice = false;
    }
}

/// A name borrowed from the body when it has no escapes (serde's own `Cow<str>` always
/// copies, which was one allocation per attribute of every listed resource).
struct Name<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<bool, A::Error> {
        let mut scan = Scan::default();
        while let Some(is_obj) = s.next_element_seed(Entry {
            spec: self.spec,
            owns: self.owns,
            scan: &mut scan,
        })? {
            let r = if is_obj {
                entry(self.spec, &mut scan, self.owns).map_err(serde::de::Error::custom)?
            } else {
                None
            };
            match r {
                Some(Parsed::Ours(r)) => self.page.resources.push(r),
                Some(Parsed::Foreign) => self.page.foreign += 1,
                // Dropped by the listing's own rule (upstream's firewall status filter).
                Some(Parsed::Dropped) => {}
                None => {
                    tracing::warn!(
                        discovery = self.spec.name,
                        "Skipping a listing entry without a usable id"
                    );
                    self.page.skipped += 1;
                }
            }
        }
        Ok(true)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// One list entry: `true` and its fields when it is an object, `false` otherwise.
struct Entry<'f, 'o, 'de> {
    spec: &'f ListSpec,
    owns: Owns<'o>,
    scan: &'f mut Scan<'de>,
}

impl<'de> DeserializeSeed<'de> for Entry<'_, '_, 'de> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_, '_, 'de> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
        let (spec, sc) = (self.spec, self.scan);
        sc.clear();
        // Only a plain string key decides early; composite keys and the firewall rule
        // are decided once the whole entry is read.
        let early = match spec.key {
            KeyField::Field(f) if spec.name != "fw_services" => Some(f),
            _ => None,
        };
        while let Some(Name(k)) = m.next_key::<Name<'de>>()? {
            if sc.key.is_some() && early == Some(&*k) {
                sc.twice = true;
                m.next_value::<IgnoredAny>()?;
                continue;
            }
            match sc.owner {
                Owner::Foreign => {
                    m.next_value::<IgnoredAny>()?;
                }
                Owner::Ours => match spec.keep.iter().find(|n| **n == k) {
                    Some(n) => {
                        let v: Value = m.next_value()?;
                        match sc.attrs.iter_mut().find(|(a, _)| a == n) {
                            Some(slot) => slot.1 = v,
                            None => sc.attrs.push((n, v)),
                        }
                    }
                    None => {
                        m.next_value::<IgnoredAny>()?;
                    }
                },
                Owner::Unknown => {
                    let v: &'de RawValue = m.next_value()?;
                    if early == Some(&*k) {
                        if let Some(key) = raw_string(v).filter(|k| !k.is_empty()) {
                            sc.owner = match self.owns {
                                Some(owns) if !owns(key.as_bytes()) => Owner::Foreign,
                                _ => Owner::Ours,
                            };
                            sc.key = Some(key);
                        }
                    }
                    sc.fields.push((k, v));
                }
            }
        }
        Ok(true)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<bool, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// A raw JSON string's text (`None` when the value is not a string).
fn raw_str<'a>(fields: &'a Fields<'_>, name: &str) -> Option<Cow<'a, str>> {
    let (_, raw) = fields.iter().rev().find(|(k, _)| k == name)?;
    raw_string(raw)
}

/// A raw JSON value's text when it is a string (borrowed unless it has escapes).
fn raw_string(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Name<'_>>(raw.get())
        .ok()
        .map(|n| n.0)
}

/// What became of a listing entry with a usable key.
enum Parsed {
    Ours(Resource),
    /// Another agent's: counted as seen, not kept.
    Foreign,
    /// Dropped by the listing's own rule.
    Dropped,
}

/// Builds one entry's resource: `None` when it has no usable key. Duplicate names keep the
/// last value, as a JSON object does.
fn entry(spec: &ListSpec, sc: &mut Scan<'_>, owns: Owns<'_>) -> Result<Option<Parsed>, String> {
    if sc.twice {
        return Ok(None);
    }
    let fields = &sc.fields;
    let key = match (sc.owner, sc.key.take()) {
        (Owner::Foreign, _) => return Ok(Some(Parsed::Foreign)),
        (Owner::Ours, Some(k)) => k,
        _ => {
            let key = match spec.key {
                KeyField::Field(f) => match raw_str(fields, f) {
                    Some(k) => k,
                    None => return Ok(None),
                },
                KeyField::BinaryAtHost => {
                    match (raw_str(fields, "binary"), raw_str(fields, "host")) {
                        (Some(b), Some(h)) => Cow::Owned(format!("{b}@{h}")),
                        _ => return Ok(None),
                    }
                }
            };
            if key.is_empty() {
                return Ok(None);
            }
            if spec.name == "fw_services" && raw_str(fields, "status").as_deref() == Some("error") {
                // Upstream drops firewall groups whose status is the lower-case string
                // "error" (Neutron reports upper case, so nothing is dropped in practice).
                return Ok(Some(Parsed::Dropped));
            }
            if let Some(owns) = owns {
                if !owns(key.as_bytes()) {
                    return Ok(Some(Parsed::Foreign));
                }
            }
            key
        }
    };
    // Attributes read after the key was known are in `attrs` already and are the later
    // ones, so they win over a duplicate read before it.
    let mut attrs: Vec<(&'static str, Value)> = Vec::with_capacity(spec.keep.len());
    for k in spec.keep {
        if let Some(i) = sc.attrs.iter().position(|(n, _)| n == k) {
            attrs.push((k, std::mem::take(&mut sc.attrs[i].1)));
        } else if let Some((_, raw)) = fields.iter().rev().find(|(n, _)| n == k) {
            let v: Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            attrs.push((k, v));
        }
    }
    Ok(Some(Parsed::Ours(Resource {
        key: Arc::from(&*key),
        kind: spec.kind,
        attrs: Some(Arc::from(attrs)),
    })))
}

fn strip_suffix<'a>(url: &'a str, suffix: &str) -> &'a str {
    let u = url.trim_end_matches('/');
    if suffix.is_empty() {
        return u;
    }
    u.strip_suffix(suffix).unwrap_or(u)
}

/// Runs discovery `url` (`name` or `name:param`) once per cycle; later callers share it.
pub(crate) async fn discover(inner: &Inner, cy: &Cycle<'_>, url: &str) -> Arc<Found> {
    let cell = cy.discovery_cell(url);
    cell.get_or_init(|| async { Arc::new(run(inner, cy, url).await) })
        .await
        .clone()
}

async fn run(inner: &Inner, cy: &Cycle<'_>, url: &str) -> Found {
    let (name, param) = match url.split_once(':') {
        Some((n, p)) => (n, Some(p.trim_start_matches("//"))),
        None => (url, None),
    };
    match name {
        "tenant" => crate::keystone_discovery::tenants(inner, cy).await,
        "endpoint" => endpoints(inner, cy, param.unwrap_or_default()).await,
        _ => match listing_spec(name) {
            Some(spec) => {
                let mut out = Found::default();
                if let Some(mut l) = lister(inner, cy, spec).await {
                    while let Some(page) = l.next_page(inner, cy).await {
                        out.append(page);
                    }
                }
                out
            }
            None => {
                tracing::warn!(discovery = url, "Unknown discovery extension");
                Found::default()
            }
        },
    }
}

/// The listing spec behind a plain listing discovery name (not `tenant`, not `endpoint`).
fn listing_spec(name: &str) -> Option<&'static ListSpec> {
    spec_by_name(name).filter(|s| !s.name.starts_with('_') && s.name != "tenant")
}

/// Resolves the service endpoint of a listing discovery; `None` when it cannot (logged).
async fn lister(inner: &Inner, cy: &Cycle<'_>, spec: &'static ListSpec) -> Option<Lister<'static>> {
    let name = spec.name;
    let stype = (spec.service_type)(&inner.cfg.service_types).to_owned();
    let ep = match inner.api.endpoint(&stype).await {
        Ok(Some(ep)) => ep,
        Ok(None) => {
            tracing::warn!(discovery = name, service_type = %stype, "Skipping discovery: the service is not registered in keystone for the configured interface and region");
            return None;
        }
        Err(e) => {
            tracing::error!(discovery = name, error = %e, "Skipping discovery: keystone issue");
            cy.error("identity");
            return None;
        }
    };
    let base = strip_suffix(&ep, spec.strip).to_owned();
    let first = format!("{base}{}", spec.path);
    Some(Lister::new(spec, &stype, &base, first))
}

/// What a discovery (or one page of it) found: this agent's resources, and how many entries
/// were other agents' (counted as seen by every pollster reading them, never kept).
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) resources: Vec<Resource>,
    pub(crate) foreign: usize,
}

impl Found {
    /// Resources that are all candidates (static resources, endpoints, domains).
    pub(crate) fn all(resources: Vec<Resource>) -> Found {
        Found {
            resources,
            foreign: 0,
        }
    }

    pub(crate) fn append(&mut self, mut other: Found) {
        self.foreign += other.foreign;
        if self.resources.is_empty() {
            self.resources = other.resources;
        } else {
            self.resources.append(&mut other.resources);
        }
    }
}

/// One page of a streamed listing, shared (not copied) by every pollster reading it.
pub(crate) type SharedPage = Arc<Found>;

/// Pages of one discovery for one pollster run; ends (`None`) when the listing does.
pub(crate) type PageFeed = tokio::sync::mpsc::Receiver<SharedPage>;

/// Streamed listing discoveries of one cycle. A listing pollster whose only candidates are
/// one listing discovery gets that listing page by page: the listing is read once, each page
/// is handed to every such pollster and then dropped, so a cycle never holds a whole
/// listing of attribute maps (100k images are ~350 MB as maps; one page is ~3 MB). Any other
/// user of the same discovery (several discoveries or static resources in a source,
/// per-resource pollsters) still gets the cached whole list, built by the same single read.
///
/// Deadlock-free: a streamed pollster waits on one feed only, and a feed's producer waits
/// only on streamed pollsters (never on a cached-list user).
#[derive(Default)]
pub(crate) struct Feeds {
    subs: std::collections::HashMap<String, Vec<tokio::sync::mpsc::Sender<SharedPage>>>,
    cached: std::collections::HashSet<String>,
}

/// The discoveries a source gives a pollster (`resources:` aside).
fn discoveries<'a>(src: &'a ceilometer_config::Source, default: &'a str) -> Vec<&'a str> {
    if src.discovery.is_empty() {
        if src.resources.is_empty() {
            vec![default]
        } else {
            Vec::new()
        }
    } else {
        src.discovery.iter().map(String::as_str).collect()
    }
}

impl Feeds {
    /// Plans one (source, pollster) pair: a feed when the pair is a listing pollster whose
    /// candidates are exactly one listing discovery; otherwise marks its discoveries cached.
    pub(crate) fn plan(
        &mut self,
        src: &ceilometer_config::Source,
        default_discovery: &str,
        listing: bool,
    ) -> Option<PageFeed> {
        let ds = discoveries(src, default_discovery);
        let name = |u: &str| u.split_once(':').map_or(u, |x| x.0).to_owned();
        if listing
            && src.resources.is_empty()
            && ds.len() == 1
            && listing_spec(&name(ds[0])).is_some()
        {
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            self.subs.entry(ds[0].to_owned()).or_default().push(tx);
            return Some(rx);
        }
        for d in ds {
            self.cached.insert(d.to_owned());
        }
        None
    }

    /// Reads every fed listing once, handing pages to their pollsters (and filling the
    /// cycle's cache when some other pollster needs the whole list). Drive it alongside the
    /// pollsters (it waits on them through bounded channels).
    pub(crate) async fn run(self, inner: &Inner, cy: &Cycle<'_>) {
        let cached = &self.cached;
        futures_util::future::join_all(
            self.subs
                .into_iter()
                .map(|(url, subs)| produce(inner, cy, url.clone(), subs, cached.contains(&url))),
        )
        .await;
    }
}

async fn send_all(subs: &[tokio::sync::mpsc::Sender<SharedPage>], page: &SharedPage) {
    for tx in subs {
        // A pollster that stopped reading (closed receiver) just misses the rest.
        let _ = tx.send(page.clone()).await;
    }
}

async fn produce(
    inner: &Inner,
    cy: &Cycle<'_>,
    url: String,
    subs: Vec<tokio::sync::mpsc::Sender<SharedPage>>,
    also_cache: bool,
) {
    let name = url.split_once(':').map_or(url.as_str(), |x| x.0);
    let Some(spec) = listing_spec(name) else {
        return;
    };
    let subs = &subs;
    if !also_cache {
        if let Some(mut l) = lister(inner, cy, spec).await {
            while let Some(page) = l.next_page(inner, cy).await {
                send_all(subs, &Arc::new(page)).await;
            }
        }
        return;
    }
    // Someone needs the whole list too: read it once, feeding pages as they come, unless a
    // cached-list user got there first (then feed from its result).
    let fed = std::sync::atomic::AtomicBool::new(false);
    let cell = cy.discovery_cell(&url);
    let all = cell
        .get_or_init(|| async {
            fed.store(true, std::sync::atomic::Ordering::Relaxed);
            let mut all = Found::default();
            if let Some(mut l) = lister(inner, cy, spec).await {
                while let Some(page) = l.next_page(inner, cy).await {
                    let page = Arc::new(page);
                    all.resources.extend(page.resources.iter().cloned());
                    all.foreign += page.foreign;
                    send_all(subs, &page).await;
                }
            }
            Arc::new(all)
        })
        .await
        .clone();
    if !fed.load(std::sync::atomic::Ordering::Relaxed) {
        for chunk in all.resources.chunks(1000) {
            send_all(subs, &Arc::new(Found::all(chunk.to_vec()))).await;
        }
        if all.foreign > 0 {
            let rest = Found {
                resources: Vec::new(),
                foreign: all.foreign,
            };
            send_all(subs, &Arc::new(rest)).await;
        }
    }
}

/// Follows every page of a listing. On failure keeps what was read so far (logged).
pub(crate) async fn list_all(
    inner: &Inner,
    cy: &Cycle<'_>,
    spec: &ListSpec,
    service: &str,
    base: &str,
    first: String,
) -> Found {
    let mut out = Found::default();
    let mut l = Lister::new(spec, service, base, first);
    while let Some(page) = l.next_page(inner, cy).await {
        out.append(page);
    }
    out
}

/// A listing read page by page (so a caller can hand each page on and drop it).
pub(crate) struct Lister<'a> {
    spec: &'a ListSpec,
    service: String,
    base: String,
    url: Option<String>,
    seen_urls: std::collections::HashSet<String>,
}

impl<'a> Lister<'a> {
    pub(crate) fn new(spec: &'a ListSpec, service: &str, base: &str, first: String) -> Self {
        Lister {
            spec,
            service: service.to_owned(),
            base: base.to_owned(),
            url: Some(first),
            seen_urls: std::collections::HashSet::new(),
        }
    }

    /// The next page's resources; `None` at the end or after a failure (logged, counted).
    pub(crate) async fn next_page(&mut self, inner: &Inner, cy: &Cycle<'_>) -> Option<Found> {
        let spec = self.spec;
        let service = self.service.as_str();
        let url = self.url.take()?;
        if !self.seen_urls.insert(url.clone()) {
            tracing::warn!(
                discovery = spec.name,
                "Listing links back to a page already read; stopping"
            );
            return None;
        }
        let mut tries = 0;
        let page = loop {
            tries += 1;
            match inner
                .api
                .call(service, Method::GET, &url, spec.headers)
                .await
            {
                // Domains are not partitioned: every agent needs all of them.
                Ok(reply) => match parse_with(
                    spec,
                    &reply.body,
                    if spec.kind == Kind::Domain {
                        None
                    } else {
                        cy.owns
                    },
                ) {
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
        let page = page?;
        cy.skip(page.skipped);
        self.url = page.next.map(|n| join_next(&self.base, &n));
        Some(Found {
            resources: page.resources,
            foreign: page.foreign,
        })
    }
}

async fn endpoints(inner: &Inner, cy: &Cycle<'_>, service_type: &str) -> Found {
    match inner.api.token().await {
        Ok(t) => {
            let urls = inner.api.session.urls(&t, service_type);
            if urls.is_empty() {
                tracing::warn!(service_type, "No endpoints found for service");
            }
            Found::all(
                urls.iter()
                    .map(|u| Resource::bare(Kind::Endpoint, u))
                    .collect(),
            )
        }
        Err(e) => {
            tracing::error!(discovery = "endpoint", error = %e, "Skipping discovery: keystone issue");
            cy.error("identity");
            Found::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owned_entries_keep_attributes() {
        let body = br#"{"images": [
            {"id": "a", "size": 1, "name": "x", "extra": {"deep": [1, 2]}},
            {"id": "b", "size": 2, "name": "y"},
            {"name": "no id"},
            "not an object",
            {"id": "c", "size": 3, "si\u007ae": 9, "size": 4}
        ], "next": "/v2/images?marker=c", "schema": "/v2/schemas/images"}"#;
        let owns = |k: &[u8]| k != b"b";
        let page = parse_with(&crate::glance::IMAGES, body, Some(&owns)).unwrap();
        assert_eq!(page.skipped, 2);
        assert_eq!(page.next.as_deref(), Some("/v2/images?marker=c"));
        let keys: Vec<&str> = page.resources.iter().map(Resource::key).collect();
        assert_eq!(keys, ["a", "c"], "another agent's entry is not kept");
        assert_eq!(page.foreign, 1, "but counted");
        assert_eq!(page.resources[0].get("size"), Some(&Value::from(1)));
        assert_eq!(page.resources[0].str("name"), Some("x"));
        assert_eq!(page.resources[0].get("extra"), None, "not a kept field");
        // Duplicate names: the last one wins, as in a JSON object; escaped names decode.
        assert_eq!(page.resources[1].get("size"), Some(&Value::from(4)));
    }

    #[test]
    fn attributes_before_and_after_the_key_are_kept_alike() {
        // The key in the middle: what precedes it is parsed once ownership is known, what
        // follows it as it comes; a duplicate across the key still keeps the last value.
        let body = br#"{"images": [
            {"name": "n1", "size": 1, "id": "a", "status": "active", "size": 2},
            {"size": 5, "status": "queued", "id": "b", "name": "n2"},
            {"name": "n3", "id": "c", "size": 3},
            {"id": "d", "size": 4, "id": "e"}
        ]}"#;
        let owns = |k: &[u8]| k != b"b";
        let page = parse_with(&crate::glance::IMAGES, body, Some(&owns)).unwrap();
        let keys: Vec<&str> = page.resources.iter().map(Resource::key).collect();
        assert_eq!(keys, ["a", "c"]);
        assert_eq!(
            (page.foreign, page.skipped),
            (1, 1),
            "an id given twice is unusable"
        );
        let a = &page.resources[0];
        assert_eq!(a.get("size"), Some(&Value::from(2)));
        assert_eq!(a.str("name"), Some("n1"));
        assert_eq!(a.str("status"), Some("active"));
        assert_eq!(a.str("id"), Some("a"));
        assert_eq!(page.resources[1].get("size"), Some(&Value::from(3)));
        // Without a partition filter every entry is ours, parsed the same way.
        let all = parse_page("images", body).unwrap();
        assert_eq!(all.resources.len(), 3);
        assert_eq!(all.resources[1].str("name"), Some("n2"));
        assert_eq!(all.resources[1].get("size"), Some(&Value::from(5)));
    }

    #[test]
    fn a_body_without_the_list_is_an_error() {
        for body in [
            &b"[]"[..],
            b"{\"images\": {}}",
            b"{}",
            b"3",
            b"{\"images\": [1]} x",
        ] {
            assert!(
                parse_page("images", body).is_err(),
                "{:?}",
                std::str::from_utf8(body)
            );
        }
        let p = parse_page("images", b"{\"images\": []}").unwrap();
        assert!(p.resources.is_empty() && p.next.is_none());
    }
}
