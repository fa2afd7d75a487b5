//! Service handlers: Glance, Cinder, Neutron, Swift, Octavia, Manila, Designate, Aodh, and
//! the `/_sim` control API. Each builds its JSON from `render` and the reference samples.

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::body::{write_json, Listing, PageEnd, SimBody};
use crate::memo::RenderFn;
use crate::model::{Kind, Res, Snap};
use crate::render::{self, Ctx, Mv};
use crate::server::{
    error, json_resp, set_header, stream_resp, text_resp, unauthorized, Req, Resp, State,
};
use crate::stats::PollKind;
use crate::util::{hex32, parse_id, uuid};
use crate::{FaultSpec, Service};

/// Routes a request to its service.
pub(crate) fn dispatch(st: &State, svc: Service, r: &mut Req) -> Resp {
    match svc {
        Service::Identity => crate::keystone::handle(st, r),
        Service::Rgw => crate::rgw::handle(st, r),
        Service::Metric => crate::gnocchi::handle_gnocchi(st, r),
        Service::Sink => crate::gnocchi::handle_sink(st, r),
        Service::DynamicTest => crate::dyntest::handle(st, r),
        Service::KeyManager => crate::barbican::handle(st, r),
        _ => {
            if let Some(v) = versions(st, svc, r) {
                return v;
            }
            if r.auth.is_none() {
                r.op = "unauthenticated";
                return unauthorized(svc, &st.url);
            }
            match svc {
                Service::Image => glance(st, r),
                Service::Volume => cinder(st, r),
                Service::Network => neutron(st, r),
                Service::ObjectStore => swift(st, r),
                Service::LoadBalancer => octavia(st, r),
                Service::Share => manila(st, r),
                Service::Dns => designate(st, r),
                Service::Alarming => aodh(st, r),
                _ => error(svc, 404, "The resource could not be found."),
            }
        }
    }
}

/// Version documents (no token needed), as each reference shows them.
fn versions(_st: &State, svc: Service, r: &mut Req) -> Option<Resp> {
    if r.method != Method::GET {
        return None;
    }
    let p = r.path.trim_end_matches('/');
    let b = &r.base;
    let v = match (svc, p) {
        (Service::Image, "" | "/versions") => {
            let vs: Vec<Value> = (0..=18)
                .rev()
                .map(|m| json!({"id": format!("v2.{m}"), "links": [{"href": format!("{b}/v2/"), "rel": "self"}], "status": if m == 18 { "CURRENT" } else { "SUPPORTED" }}))
                .collect();
            (
                if p.is_empty() { 300 } else { 200 },
                json!({ "versions": vs }),
            )
        }
        (Service::Volume, "" | "/v3") => (
            if p.is_empty() { 300 } else { 200 },
            json!({"versions": [{"id": "v3.0", "links": [{"href": "https://docs.openstack.org/", "rel": "describedby", "type": "text/html"}, {"href": format!("{b}/v3/"), "rel": "self"}], "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}], "min_version": "3.0", "status": "CURRENT", "updated": "2023-08-31T00:00:00Z", "version": "3.71"}]}),
        ),
        (Service::Network, "") => (
            200,
            json!({"versions": [{"status": "CURRENT", "id": "v2.0", "links": [{"href": format!("{b}/v2.0/"), "rel": "self"}]}]}),
        ),
        (Service::Network, "/v2.0") => {
            let res: Vec<Value> = [("floatingip", "floatingips"), ("vpnservice", "vpnservices"), ("ipsec_site_connection", "ipsec-site-connections"), ("firewall_group", "firewall_groups"), ("firewall_policy", "firewall_policies")]
                .iter()
                .map(|(n, c)| json!({"links": [{"href": format!("{b}/v2.0/{c}"), "rel": "self"}], "name": n, "collection": c}))
                .collect();
            (200, json!({ "resources": res }))
        }
        (Service::LoadBalancer, "") => (
            200,
            json!({"versions": [{"status": "CURRENT", "updated": "2023-08-01T00:00:00Z", "id": "v2.0", "links": [{"href": format!("{b}/v2"), "rel": "self"}]}]}),
        ),
        (Service::Share, "" | "/v2") => {
            let doc = json!({"status": "CURRENT", "updated": "2015-08-27T11:33:21Z", "links": [{"href": "http://docs.openstack.org/", "type": "text/html", "rel": "describedby"}, {"href": format!("{b}/v2/"), "rel": "self"}], "min_version": "2.0", "version": "2.84", "media-types": [{"base": "application/json", "type": "application/vnd.openstack.share+json;version=1"}], "id": "v2.0"});
            (
                if p.is_empty() { 300 } else { 200 },
                json!({ "versions": [doc] }),
            )
        }
        (Service::Dns, "") => (
            200,
            json!({"versions": [{"id": "v2", "links": [{"href": format!("{b}/v2"), "rel": "self"}], "status": "CURRENT", "updated": "2022-06-29T00:00:00Z"}]}),
        ),
        (Service::Alarming, "") => (
            200,
            json!({"versions": {"values": [{"status": "stable", "links": [{"href": format!("{b}/v2"), "rel": "self"}], "id": "v2", "updated": "2013-02-13T00:00:00Z"}]}}),
        ),
        _ => return None,
    };
    r.op = "GET versions";
    Some(json_resp(v.0, &v.1))
}

/// Parsed `limit` and `marker` of a paged listing.
struct Page {
    limit: Option<usize>,
    marker: Option<u128>,
}

/// Reads `limit`/`marker`, applying the service's default and maximum page size. A marker
/// that is not in the collection is a 400, as the real services answer.
fn page<T>(
    svc: Service,
    r: &Req,
    snap: &Snap<T>,
    default: Option<usize>,
    max: Option<usize>,
) -> Result<Page, Box<Resp>> {
    let limit = match r.query.get("limit") {
        None => default,
        Some(l) => match l.parse::<usize>() {
            Ok(n) => Some(max.map_or(n, |m| n.min(m))),
            Err(_) => {
                return Err(Box::new(error(
                    svc,
                    400,
                    &format!("Invalid limit value: {l}"),
                )))
            }
        },
    };
    let marker = match r.query.get("marker") {
        None => None,
        Some(m) => match parse_id(m).filter(|id| snap.contains_key(id)) {
            Some(id) => Some(id),
            None => {
                return Err(Box::new(error(
                    svc,
                    400,
                    &format!("Marker {m} could not be found."),
                )))
            }
        },
    };
    Ok(Page { limit, marker })
}

/// Query string with `marker` replaced (for `next` links).
fn next_query(r: &Req, marker: &str, limit: Option<usize>) -> String {
    let mut parts: Vec<String> = r
        .query
        .0
        .iter()
        .filter(|(k, _)| k != "marker" && k != "limit")
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::util::pct_encode(k),
                crate::util::pct_encode(v)
            )
        })
        .collect();
    if let Some(l) = limit {
        parts.push(format!("limit={l}"));
    }
    parts.push(format!("marker={marker}"));
    parts.join("&")
}

/// A listing of one kind: `{"<key>": [...], <suffix from PageEnd>}`.
#[allow(clippy::too_many_arguments)]
fn list_kind(
    st: &State,
    svc: Service,
    r: &mut Req,
    kind: Kind,
    key: &'static str,
    filter_project: Option<u128>,
    ctx: Ctx,
    render_fn: RenderFn,
    pg: (Option<usize>, Option<usize>),
    suffix: impl FnOnce(PageEnd) -> String + Send + 'static,
) -> Resp {
    let snap = st.model.coll(kind).snap();
    let p = match page(svc, r, &snap, pg.0, pg.1) {
        Ok(p) => p,
        Err(e) => return *e,
    };
    if p.marker.is_none() {
        r.listing = Some(key);
    }
    let listing = Listing::new(
        snap,
        p.marker,
        p.limit,
        move |x: &Res| filter_project.is_none_or(|pid| x.project == pid),
        st.memo.writer(kind, render_fn, ctx),
        format!("{{\"{key}\":["),
        move |end| format!("]{}}}", suffix(end)).into_bytes(),
    );
    stream_resp(200, SimBody::chunks(listing))
}

fn project_filter(r: &Req, all: bool) -> Option<u128> {
    if all {
        r.query
            .get("project_id")
            .or(r.query.get("tenant_id"))
            .and_then(parse_id)
    } else {
        r.auth.as_ref().and_then(|a| a.project)
    }
}

fn glance(st: &State, r: &mut Req) -> Resp {
    let p = r.path.trim_end_matches('/').to_owned();
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    let ctx = Ctx {
        base: r.base.clone(),
        mv: (0, 0),
    };
    match (r.method.as_str(), segs.as_slice()) {
        ("GET", ["v2", "images"]) => {
            r.op = "GET /v2/images";
            let owner = r.query.get("owner").and_then(parse_id);
            let limit_given = r.query.get("limit").is_some();
            let q = r.query.clone();
            let snap = st.model.coll(Kind::Image).snap();
            let pg = match page(Service::Image, r, &snap, Some(25), Some(1000)) {
                Ok(p) => p,
                Err(e) => return *e,
            };
            if pg.marker.is_none() {
                r.listing = Some("images");
            }
            let limit = pg.limit;
            let rq = Req {
                query: q,
                ..clone_shallow(r)
            };
            let listing = Listing::new(
                snap,
                pg.marker,
                pg.limit,
                move |x: &Res| owner.is_none_or(|o| x.project == o),
                st.memo.writer(Kind::Image, render::image, ctx),
                "{\"images\":[",
                move |end: PageEnd| {
                    let mut s = String::from(
                        "],\"schema\":\"/v2/schemas/images\",\"first\":\"/v2/images\"",
                    );
                    // Glance adds `next` whenever a page is full, even if nothing follows.
                    if end.full {
                        if let Some(last) = end.last {
                            let l = if limit_given { limit } else { None };
                            s.push_str(&format!(
                                ",\"next\":\"/v2/images?{}\"",
                                next_query(&rq, &uuid(last), l)
                            ));
                        }
                    }
                    s.push('}');
                    s.into_bytes()
                },
            );
            stream_resp(200, SimBody::chunks(listing))
        }
        ("GET", ["v2", "images", id]) => {
            r.op = "GET /v2/images/{id}";
            match parse_id(id).and_then(|i| {
                st.model
                    .coll(Kind::Image)
                    .with(i, |x| render::image(&ctx, x))
            }) {
                Some(v) => json_resp(200, &v),
                None => error(Service::Image, 404, &format!("No image found with ID {id}")),
            }
        }
        _ => {
            r.op = "unknown";
            error(Service::Image, 404, "The resource could not be found.")
        }
    }
}

/// A copy of the parts of a request a `next` link needs.
fn clone_shallow(r: &Req) -> Req {
    Req {
        method: r.method.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        raw_query: r.raw_query.clone(),
        full_path: r.full_path.clone(),
        headers: hyper::HeaderMap::new(),
        body: Bytes::new(),
        iface: r.iface,
        base: r.base.clone(),
        auth: None,
        agent: r.agent.clone(),
        op: r.op,
        polls: Vec::new(),
        listing: None,
    }
}

fn microversion(r: &Req, service: &str, legacy: &str, default: Mv, max: Mv) -> Mv {
    let raw = r
        .header("openstack-api-version")
        .and_then(|v| v.strip_prefix(service).map(str::trim))
        .or_else(|| r.header(legacy))
        .map(str::trim);
    match raw {
        Some("latest") => max,
        Some(v) => v
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .map(|m: Mv| m.min(max))
            .unwrap_or(default),
        None => default,
    }
}

fn links_suffix(
    key: &'static str,
    base: String,
    path: String,
    rq: Req,
    limit: Option<usize>,
) -> impl FnOnce(PageEnd) -> String + Send {
    move |end: PageEnd| match (end.full, end.last) {
        (true, Some(last)) => {
            let href = format!("{base}{path}?{}", next_query(&rq, &uuid(last), limit));
            format!(
                ",\"{key}\":[{{\"href\":{},\"rel\":\"next\"}}]",
                Value::from(href)
            )
        }
        _ => String::new(),
    }
}

fn cinder(st: &State, r: &mut Req) -> Resp {
    let p = r.path.trim_end_matches('/').to_owned();
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    let mv = microversion(
        r,
        "volume",
        "x-openstack-volume-api-version",
        (3, 0),
        (3, 71),
    );
    let ctx = Ctx {
        base: r.base.clone(),
        mv,
    };
    let all = r.query.flag("all_tenants");
    let mut resp = match (r.method.as_str(), segs.as_slice()) {
        ("GET", ["v3", pid, coll @ ("volumes" | "snapshots" | "backups"), "detail"]) => {
            let url_pid = parse_id(pid);
            if url_pid.is_none() {
                r.op = "unknown";
                return error(Service::Volume, 404, "The resource could not be found.");
            }
            let filter = if all {
                project_filter(r, true)
            } else {
                url_pid
            };
            let (kind, key, lkey, f, op): (
                Kind,
                &'static str,
                &'static str,
                RenderFn,
                &'static str,
            ) = match *coll {
                "volumes" => (
                    Kind::Volume,
                    "volumes",
                    "volumes_links",
                    render::volume,
                    "GET /v3/{project}/volumes/detail",
                ),
                "snapshots" => (
                    Kind::Snapshot,
                    "snapshots",
                    "snapshots_links",
                    render::snapshot,
                    "GET /v3/{project}/snapshots/detail",
                ),
                _ => (
                    Kind::Backup,
                    "backups",
                    "backups_links",
                    render::backup,
                    "GET /v3/{project}/backups/detail",
                ),
            };
            r.op = op;
            let with_count = kind == Kind::Backup && mv >= (3, 45) && r.query.flag("with_count");
            let count = if with_count {
                let snap = st.model.coll(kind).snap();
                Some(
                    snap.values()
                        .filter(|x| filter.is_none_or(|p| x.project == p))
                        .count(),
                )
            } else {
                None
            };
            let limit = r
                .query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .map(|l| l.min(1000))
                .unwrap_or(1000);
            let links = links_suffix(
                lkey,
                r.base.clone(),
                format!("/v3/{pid}/{coll}/detail"),
                clone_shallow(r),
                Some(limit),
            );
            list_kind(
                st,
                Service::Volume,
                r,
                kind,
                key,
                filter,
                ctx,
                f,
                (Some(1000), Some(1000)),
                move |end| {
                    let mut s = links(end);
                    if let Some(c) = count {
                        s.push_str(&format!(",\"count\":{c}"));
                    }
                    s
                },
            )
        }
        ("GET", ["v3", _pid, "volumes", id]) => {
            r.op = "GET /v3/{project}/volumes/{id}";
            match parse_id(id).and_then(|i| {
                st.model
                    .coll(Kind::Volume)
                    .with(i, |x| render::volume(&ctx, x))
            }) {
                Some(v) => json_resp(200, &json!({ "volume": v })),
                None => error(
                    Service::Volume,
                    404,
                    &format!("Volume {id} could not be found."),
                ),
            }
        }
        ("GET", ["v3", _pid, "scheduler-stats", "get_pools"]) => {
            r.op = "GET /v3/{project}/scheduler-stats/get_pools";
            r.listing = Some("pools");
            let detail = r.query.flag("detail");
            let pools: Vec<Value> = st
                .model
                .pools
                .read()
                .iter()
                .map(|p| render::pool(p, detail))
                .collect();
            json_resp(200, &json!({ "pools": pools }))
        }
        ("GET", ["v3", _pid, "os-services"]) => {
            r.op = "GET /v3/{project}/os-services";
            r.listing = Some("os-services");
            let binary = r.query.get("binary").map(str::to_owned);
            let svcs: Vec<Value> = st
                .model
                .services
                .read()
                .iter()
                .map(|s| render::volume_service(s, mv))
                .filter(|v| binary.as_deref().is_none_or(|b| v["binary"] == b))
                .collect();
            json_resp(200, &json!({ "services": svcs }))
        }
        _ => {
            r.op = "unknown";
            error(Service::Volume, 404, "The resource could not be found.")
        }
    };
    set_header(
        &mut resp,
        "openstack-api-version",
        &format!("volume {}.{}", mv.0, mv.1),
    );
    resp
}

fn neutron(st: &State, r: &mut Req) -> Resp {
    let p = r
        .path
        .trim_end_matches('/')
        .trim_end_matches(".json")
        .to_owned();
    let ctx = Ctx {
        base: r.base.clone(),
        mv: (0, 0),
    };
    let (kind, key, f, op): (Kind, &'static str, RenderFn, &'static str) =
        match (r.method.as_str(), p.as_str()) {
            ("GET", "/v2.0/floatingips") => (
                Kind::FloatingIp,
                "floatingips",
                render::floating_ip,
                "GET /v2.0/floatingips",
            ),
            ("GET", "/v2.0/vpn/vpnservices") => (
                Kind::VpnService,
                "vpnservices",
                render::vpn_service,
                "GET /v2.0/vpn/vpnservices",
            ),
            ("GET", "/v2.0/vpn/ipsec-site-connections") => (
                Kind::IpsecConnection,
                "ipsec_site_connections",
                render::ipsec_connection,
                "GET /v2.0/vpn/ipsec-site-connections",
            ),
            ("GET", "/v2.0/fwaas/firewall_groups") => (
                Kind::FirewallGroup,
                "firewall_groups",
                render::firewall_group,
                "GET /v2.0/fwaas/firewall_groups",
            ),
            ("GET", "/v2.0/fwaas/firewall_policies") => (
                Kind::FirewallPolicy,
                "firewall_policies",
                render::firewall_policy,
                "GET /v2.0/fwaas/firewall_policies",
            ),
            _ => {
                r.op = "unknown";
                return error(Service::Network, 404, "The resource could not be found.");
            }
        };
    r.op = op;
    // Admin tokens see every project's resources; `project_id`/`tenant_id` filter.
    let filter = project_filter(r, true);
    let limit = r.query.get("limit").and_then(|l| l.parse::<usize>().ok());
    let marker = r.query.get("marker").map(str::to_owned);
    let base = r.base.clone();
    let rq = clone_shallow(r);
    let path = p.clone();
    list_kind(
        st,
        Service::Network,
        r,
        kind,
        key,
        filter,
        ctx,
        f,
        (None, None),
        move |end| {
            let mut links = Vec::new();
            if let (true, Some(last)) = (end.full, end.last) {
                links.push(json!({"href": format!("{base}{path}?{}", next_query(&rq, &uuid(last), limit)), "rel": "next"}));
            }
            if let Some(m) = marker {
                links.push(json!({"href": format!("{base}{path}?{}&page_reverse=True", next_query(&rq, &m, limit)), "rel": "previous"}));
            }
            if links.is_empty() {
                String::new()
            } else {
                format!(",\"{key}_links\":{}", Value::Array(links))
            }
        },
    )
}

fn swift(st: &State, r: &mut Req) -> Resp {
    let p = r.path.trim_end_matches('/').to_owned();
    if p == "/info" {
        r.op = "GET /info";
        return json_resp(
            200,
            &json!({"swift": {"version": "2.33.0", "account_listing_limit": 10000, "container_listing_limit": 10000}}),
        );
    }
    let Some(acct) = p.strip_prefix("/v1/AUTH_") else {
        r.op = "unknown";
        return error(
            Service::ObjectStore,
            404,
            "The resource could not be found.",
        );
    };
    if acct.contains('/') {
        r.op = "unknown";
        return error(
            Service::ObjectStore,
            404,
            "The resource could not be found.",
        );
    }
    let is_head = r.method == Method::HEAD;
    if !is_head && r.method != Method::GET {
        r.op = "unknown";
        return error(
            Service::ObjectStore,
            405,
            "The method is not allowed for this resource.",
        );
    }
    r.op = if is_head {
        "HEAD /v1/{account}"
    } else {
        "GET /v1/{account}"
    };
    let Some(pid) = parse_id(acct) else {
        return error(
            Service::ObjectStore,
            404,
            "The resource could not be found.",
        );
    };
    let totals = st.model.projects.with(pid, |p| {
        let objs: u64 = p.containers.iter().map(|c| c.count as u64).sum();
        let bytes: u64 = p.containers.iter().map(|c| c.bytes).sum();
        (p.containers.len(), objs, bytes)
    });
    let Some((ncont, objs, bytes)) = totals else {
        let mut resp = if is_head {
            text_resp(404, "text/html; charset=UTF-8", Bytes::new())
        } else {
            error(
                Service::ObjectStore,
                404,
                "The resource could not be found.",
            )
        };
        set_header(&mut resp, "x-trans-id", &st.trans_id());
        return resp;
    };
    // A listing continued with `marker` is the same poll's next page, not another poll.
    if is_head || r.query.get("marker").is_none_or(str::is_empty) {
        r.polls.push((
            if is_head {
                PollKind::SwiftHeadAccount
            } else {
                PollKind::SwiftGetAccount
            },
            hex32(pid),
        ));
        r.polls.push((PollKind::SwiftAccount, hex32(pid)));
    }
    let mut resp = if is_head {
        let mut x = text_resp(204, "text/plain; charset=utf-8", Bytes::new());
        x.headers_mut().insert(
            hyper::header::CONTENT_LENGTH,
            hyper::header::HeaderValue::from_static("0"),
        );
        x
    } else {
        let json_fmt = r.query.get("format") == Some("json")
            || r.header("accept")
                .is_some_and(|a| a.contains("application/json"));
        let limit = r
            .query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(10_000)
            .min(10_000);
        let marker = r.query.get("marker").map(str::to_owned).unwrap_or_default();
        let prefix = r.query.get("prefix").map(str::to_owned).unwrap_or_default();
        let snap = st.model.projects.snap();
        let mut i = 0usize;
        let mut written = 0usize;
        let mut started = false;
        let mut done = false;
        let chunks = std::iter::from_fn(move || {
            if done {
                return None;
            }
            let conts = snap.get(&pid).map(|p| &p.containers[..]).unwrap_or(&[]);
            let mut buf = Vec::with_capacity(16 * 1024);
            if !started {
                started = true;
                if json_fmt {
                    buf.push(b'[');
                }
            }
            let mut n = 0;
            while i < conts.len() && written < limit && n < 200 {
                let name = render::container_name(i);
                let c = conts[i];
                let idx = i;
                i += 1;
                if name.as_str() <= marker.as_str() || !name.starts_with(prefix.as_str()) {
                    continue;
                }
                if json_fmt {
                    if written > 0 {
                        buf.push(b',');
                    }
                    write_json(&render::container(pid, idx, c.count, c.bytes), &mut buf);
                } else {
                    buf.extend_from_slice(name.as_bytes());
                    buf.push(b'\n');
                }
                written += 1;
                n += 1;
            }
            if i >= conts.len() || written >= limit {
                done = true;
                if json_fmt {
                    buf.push(b']');
                }
            }
            Some(Bytes::from(buf))
        });
        let mut x = stream_resp(200, SimBody::chunks(chunks));
        if !json_fmt {
            x.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        } else {
            x.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        x
    };
    let h = resp.headers_mut();
    h.insert("x-account-container-count", ncont.into());
    h.insert("x-account-object-count", objs.into());
    h.insert("x-account-bytes-used", bytes.into());
    h.insert(
        "accept-ranges",
        hyper::header::HeaderValue::from_static("bytes"),
    );
    let ts = format!(
        "{}.{:05}",
        crate::util::BASE_EPOCH + (crate::util::h(pid, 9) % 31_536_000) as i64,
        crate::util::h(pid, 10) % 100_000
    );
    set_header(&mut resp, "x-timestamp", &ts);
    let tx = st.trans_id();
    set_header(&mut resp, "x-trans-id", &tx);
    set_header(&mut resp, "x-openstack-request-id", &tx);
    resp
}

fn octavia(st: &State, r: &mut Req) -> Resp {
    let p = r.path.trim_end_matches('/').replace("/v2.0/", "/v2/");
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    let ctx = Ctx {
        base: r.base.clone(),
        mv: (0, 0),
    };
    match (r.method.as_str(), segs.as_slice()) {
        ("GET", ["v2", "lbaas", "loadbalancers"]) => {
            r.op = "GET /v2/lbaas/loadbalancers";
            let filter = project_filter(r, true);
            let limit = r
                .query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .map(|l| l.min(1000))
                .unwrap_or(1000);
            let links = links_suffix(
                "loadbalancers_links",
                r.base.clone(),
                "/v2/lbaas/loadbalancers".into(),
                clone_shallow(r),
                Some(limit),
            );
            list_kind(
                st,
                Service::LoadBalancer,
                r,
                Kind::LoadBalancer,
                "loadbalancers",
                filter,
                ctx,
                |c, x| render::load_balancer(c, x, true),
                (Some(1000), Some(1000)),
                links,
            )
        }
        ("GET", ["v2", "lbaas", "loadbalancers", id]) => {
            r.op = "GET /v2/lbaas/loadbalancers/{id}";
            match parse_id(id).and_then(|i| {
                st.model
                    .coll(Kind::LoadBalancer)
                    .with(i, |x| render::load_balancer(&ctx, x, false))
            }) {
                Some(v) => json_resp(200, &json!({ "loadbalancer": v })),
                None => error(
                    Service::LoadBalancer,
                    404,
                    &format!("Load Balancer {id} not found."),
                ),
            }
        }
        _ => {
            r.op = "unknown";
            error(
                Service::LoadBalancer,
                404,
                "The resource could not be found.",
            )
        }
    }
}

fn manila(st: &State, r: &mut Req) -> Resp {
    let p = r.path.trim_end_matches('/').to_owned();
    let mut segs: Vec<&str> = p.split('/').skip(1).collect();
    // Both `/v2/shares/...` and the legacy `/v2/<project>/shares/...` forms.
    let mut url_pid = None;
    if segs.len() >= 2 && segs[0] == "v2" && segs[1] != "shares" {
        url_pid = parse_id(segs[1]);
        if url_pid.is_some() {
            segs.remove(1);
        }
    }
    let mv = microversion(
        r,
        "share",
        "x-openstack-manila-api-version",
        (2, 0),
        (2, 84),
    );
    let ctx = Ctx {
        base: r.base.clone(),
        mv,
    };
    let mut resp = match (r.method.as_str(), segs.as_slice()) {
        ("GET", ["v2", "shares", "detail"]) => {
            r.op = "GET /v2/shares/detail";
            let all = r.query.flag("all_tenants");
            let filter = project_filter(r, all).or(if all { None } else { url_pid });
            let with_count = r.query.flag("with_count") && mv >= (2, 42);
            let count = with_count.then(|| {
                st.model
                    .coll(Kind::Share)
                    .snap()
                    .values()
                    .filter(|x| filter.is_none_or(|p| x.project == p))
                    .count()
            });
            let limit = r
                .query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .map(|l| l.min(1000))
                .unwrap_or(1000);
            let links = links_suffix(
                "shares_links",
                r.base.clone(),
                "/v2/shares/detail".into(),
                clone_shallow(r),
                Some(limit),
            );
            list_kind(
                st,
                Service::Share,
                r,
                Kind::Share,
                "shares",
                filter,
                ctx,
                render::share,
                (Some(1000), Some(1000)),
                move |end| {
                    let mut s = links(end);
                    if let Some(c) = count {
                        s.push_str(&format!(",\"count\":{c}"));
                    }
                    s
                },
            )
        }
        ("GET", ["v2", "shares", id]) => {
            r.op = "GET /v2/shares/{id}";
            match parse_id(id).and_then(|i| {
                st.model
                    .coll(Kind::Share)
                    .with(i, |x| render::share(&ctx, x))
            }) {
                Some(v) => json_resp(200, &json!({ "share": v })),
                None => error(
                    Service::Share,
                    404,
                    &format!("Share {id} could not be found."),
                ),
            }
        }
        _ => {
            r.op = "unknown";
            error(Service::Share, 404, "The resource could not be found.")
        }
    };
    set_header(
        &mut resp,
        "x-openstack-manila-api-version",
        &format!("{}.{}", mv.0, mv.1),
    );
    resp
}

fn designate(st: &State, r: &mut Req) -> Resp {
    let p = r.path.trim_end_matches('/').to_owned();
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    let ctx = Ctx {
        base: r.base.clone(),
        mv: (0, 0),
    };
    let all = r
        .header("x-auth-all-projects")
        .is_some_and(crate::util::truthy);
    let own = r.auth.as_ref().and_then(|a| a.project);
    let visible = move |x: &Res| all || Some(x.project) == own;
    match (r.method.as_str(), segs.as_slice()) {
        ("GET", ["v2", "zones"]) => {
            r.op = "GET /v2/zones";
            let snap = st.model.coll(Kind::Zone).snap();
            let total = snap.values().filter(|x| visible(x)).count();
            let limit = r
                .query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .map(|l| l.min(1000))
                .unwrap_or(20);
            let base = r.base.clone();
            let rq = clone_shallow(r);
            let self_q = r.raw_query.clone();
            let pg = match page(Service::Dns, r, &snap, Some(20), Some(1000)) {
                Ok(p) => p,
                Err(e) => return *e,
            };
            if pg.marker.is_none() {
                r.listing = Some("zones");
            }
            let listing = Listing::new(
                snap,
                pg.marker,
                pg.limit,
                visible,
                move |x, buf| write_json(&render::zone(&ctx, x), buf),
                "{\"zones\":[",
                move |end| {
                    let mut links = serde_json::Map::new();
                    links.insert(
                        "self".into(),
                        Value::from(match self_q {
                            Some(q) => format!("{base}/v2/zones?{q}"),
                            None => format!("{base}/v2/zones"),
                        }),
                    );
                    if let (true, Some(last)) = (end.full, end.last) {
                        links.insert(
                            "next".into(),
                            Value::from(format!(
                                "{base}/v2/zones?{}",
                                next_query(&rq, &uuid(last), Some(limit))
                            )),
                        );
                    }
                    format!(
                        "],\"links\":{},\"metadata\":{{\"total_count\":{total}}}}}",
                        Value::Object(links)
                    )
                    .into_bytes()
                },
            );
            stream_resp(200, SimBody::chunks(listing))
        }
        ("GET", ["v2", "zones", id]) => {
            r.op = "GET /v2/zones/{id}";
            match parse_id(id).and_then(|i| {
                st.model
                    .coll(Kind::Zone)
                    .with(i, |x| visible(x).then(|| render::zone(&ctx, x)))
                    .flatten()
            }) {
                Some(v) => json_resp(200, &v),
                None => error(Service::Dns, 404, "Could not find Zone"),
            }
        }
        ("GET", ["v2", "zones", id, "recordsets"]) => {
            r.op = "GET /v2/zones/{id}/recordsets";
            let Some(zone) = parse_id(id)
                .and_then(|i| st.model.coll(Kind::Zone).with(i, |x| *x))
                .filter(|z| visible(z))
            else {
                return error(Service::Dns, 404, "Could not find Zone");
            };
            let count = zone.size.max(2);
            let limit = r
                .query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .map(|l| l.min(1000))
                .unwrap_or(20);
            let start = match r.query.get("marker") {
                None => 0,
                Some(m) => match parse_id(m)
                    .filter(|m| (0..count).any(|i| render::recordset_id(zone.id, i) == *m))
                {
                    Some(m) => (m as u32) + 1,
                    None => return error(Service::Dns, 400, "Invalid marker"),
                },
            };
            if start == 0 {
                r.polls.push((PollKind::DnsRecordsets, uuid(zone.id)));
            }
            let end = (start as usize + limit).min(count as usize) as u32;
            let items: Vec<Value> = (start..end)
                .map(|i| render::recordset(&ctx, &zone, i))
                .collect();
            let mut links = serde_json::Map::new();
            links.insert(
                "self".into(),
                Value::from(format!(
                    "{}/v2/zones/{id}/recordsets{}",
                    r.base,
                    r.raw_query
                        .as_ref()
                        .map(|q| format!("?{q}"))
                        .unwrap_or_default()
                )),
            );
            if end > start && (end - start) as usize == limit {
                links.insert(
                    "next".into(),
                    Value::from(format!(
                        "{}/v2/zones/{id}/recordsets?{}",
                        r.base,
                        next_query(
                            r,
                            &uuid(render::recordset_id(zone.id, end - 1)),
                            Some(limit)
                        )
                    )),
                );
            }
            json_resp(
                200,
                &json!({"recordsets": items, "links": links, "metadata": {"total_count": count}}),
            )
        }
        _ => {
            r.op = "unknown";
            error(Service::Dns, 404, "The resource could not be found.")
        }
    }
}

fn aodh(st: &State, r: &mut Req) -> Resp {
    let p = r.path.trim_end_matches('/');
    if !(r.method == Method::GET && p == "/v2/metrics") {
        r.op = "unknown";
        return error(Service::Alarming, 404, "The resource could not be found.");
    }
    r.op = "GET /v2/metrics";
    r.listing = Some("metrics");
    let all = r.query.flag("all_projects");
    let own = r.auth.as_ref().and_then(|a| a.project);
    let listing = Listing::new(
        st.model.coll(Kind::Alarm).snap(),
        None,
        None,
        move |x: &Res| all || Some(x.project) == own,
        |x, buf| write_json(&render::alarm_metrics(x), buf),
        "{\"evaluation_results\":[",
        |_| b"]}".to_vec(),
    );
    stream_resp(200, SimBody::chunks(listing))
}

/// `/_sim/...`: stats, reset, faults, gnocchi, sink, cloud, churn, coverage, revoke.
pub(crate) fn sim_control(
    st: &State,
    method: &Method,
    sub: &str,
    query: Option<&str>,
    body: &[u8],
) -> Resp {
    let q = crate::util::Query::parse(query);
    let bad = |msg: String| json_resp(400, &json!({"error": msg}));
    match (method.as_str(), sub.trim_end_matches('/')) {
        ("GET", "stats") => json_resp(
            200,
            &st.stats
                .to_json_with(q.get("resources").is_none_or(|v| v != "false")),
        ),
        ("POST", "reset") => {
            st.stats.reset();
            json_resp(200, &json!({"reset": true}))
        }
        ("GET", "faults") => json_resp(200, &json!({"faults": st.faults.list()})),
        ("POST", "faults") => {
            let v: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => return bad(format!("invalid JSON fault spec: {e}")),
            };
            let specs: Vec<Value> = match v {
                Value::Array(a) => a,
                v => vec![v],
            };
            let mut revoked = 0;
            for mut s in specs {
                // `revoke_tokens` is an action, not a standing fault; a spec holding only
                // it (and perhaps `service`) sets nothing else.
                let mut action_only = false;
                if let Some(o) = s.as_object_mut() {
                    if let Some(rv) = o.remove("revoke_tokens") {
                        if rv.as_bool() == Some(true) {
                            revoked += st.keystone.revoke_all();
                        }
                        action_only = o.keys().all(|k| k == "service");
                    }
                }
                if action_only {
                    continue;
                }
                let spec: FaultSpec = match serde_json::from_value(s) {
                    Ok(x) => x,
                    Err(e) => return bad(format!("invalid fault spec: {e}")),
                };
                if let Err(e) = st.faults.set(spec) {
                    return bad(e.to_string());
                }
            }
            json_resp(
                200,
                &json!({"faults": st.faults.list(), "revoked_tokens": revoked}),
            )
        }
        ("DELETE", "faults") => {
            let svc = q.get("service").and_then(Service::from_name);
            st.faults.clear(svc);
            json_resp(200, &json!({"faults": st.faults.list()}))
        }
        ("POST", "revoke-tokens") => {
            json_resp(200, &json!({"revoked_tokens": st.keystone.revoke_all()}))
        }
        ("GET", "gnocchi") => json_resp(200, &st.gnocchi.to_json()),
        ("GET", "sink") => json_resp(200, &st.sink.to_json()),
        ("GET", "cloud") => json_resp(
            200,
            &json!({"seed": st.cfg.seed, "counts": st.model.summary(), "resources": st.model.resource_count()}),
        ),
        ("POST", "churn") => {
            let n = q.get("n").and_then(|n| n.parse().ok()).unwrap_or(1);
            json_resp(200, &json!(st.model.churn(n)))
        }
        ("GET", "coverage") => {
            let Some(kind) = q.get("kind").and_then(PollKind::from_name) else {
                return bad("kind must be one of swift.head_account, swift.get_account, swift.account, rgw.bucket, rgw.usage, dns.recordsets".into());
            };
            let from = std::time::Duration::from_micros(
                q.get("from_us").and_then(|x| x.parse().ok()).unwrap_or(0),
            );
            let to = std::time::Duration::from_micros(
                q.get("to_us")
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(u64::MAX / 2),
            );
            let expected: Vec<String> = match kind {
                PollKind::DnsRecordsets => st
                    .model
                    .coll(Kind::Zone)
                    .snap()
                    .keys()
                    .map(|i| uuid(*i))
                    .collect(),
                _ => st.model.projects.snap().keys().map(|i| hex32(*i)).collect(),
            };
            json_resp(200, &json!(st.stats.coverage(kind, &expected, from, to)))
        }
        _ => json_resp(
            404,
            &json!({"error": format!("unknown simcloud control endpoint {method} /_sim/{sub}")}),
        ),
    }
}
