//! Keystone v3: tokens (password, application credential, token), catalog, domains, projects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::body::{write_json, Listing, SimBody};
use crate::config::SimConfig;
use crate::model::{Model, DEFAULT_DOMAIN};
use crate::render;
use crate::server::{
    error, iface_prefix, json_resp, set_header, stream_resp, unauthorized, Req, Resp, State,
};
use crate::stats::Interface;
use crate::util::{derive_id, h, hex32, parse_id, truthy, ts, TsStyle};
use crate::Service;

/// A validated token.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    /// User name (the agent identity in the accounting).
    pub user: Arc<str>,
    /// Scoped project (None = unscoped).
    pub project: Option<u128>,
    expires: Instant,
}

/// An application credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppCredential {
    /// Id (32 hex digits).
    pub id: String,
    /// Name.
    pub name: String,
    /// Secret.
    pub secret: String,
    /// Owning user name.
    pub user: String,
    /// Project the credential is scoped to.
    pub project: u128,
}

/// Token and credential store.
pub(crate) struct Keystone {
    tokens: RwLock<HashMap<String, TokenInfo>>,
    app_creds: RwLock<HashMap<String, AppCredential>>,
    counter: AtomicU64,
    seed: u64,
    admin_project: u128,
    admin_password: String,
    agent_password: String,
    ttl: std::time::Duration,
}

/// Deterministic user id of a user name.
pub fn user_id(name: &str) -> u128 {
    let mut x = 0xA5A5_u64;
    for b in name.bytes() {
        x = crate::util::mix64(x ^ b as u64);
    }
    derive_id(x as u128, 0x05E2)
}

fn unix_now() -> (i64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_micros())
}

impl Keystone {
    pub fn new(cfg: &SimConfig, model: &Model) -> Self {
        let admin_project = model
            .projects
            .snap()
            .values()
            .find(|p| p.n == 0)
            .map(|p| p.id)
            .unwrap_or(0);
        let ks = Keystone {
            tokens: RwLock::new(HashMap::new()),
            app_creds: RwLock::new(HashMap::new()),
            counter: AtomicU64::new(1),
            seed: cfg.seed,
            admin_project,
            admin_password: cfg.admin_password.clone(),
            agent_password: cfg.agent_password.clone(),
            ttl: cfg.token_ttl,
        };
        for (user, id, secret) in &cfg.app_credentials {
            ks.app_creds.write().insert(
                id.clone(),
                AppCredential {
                    id: id.clone(),
                    name: format!("{user}-appcred"),
                    secret: secret.clone(),
                    user: user.clone(),
                    project: admin_project,
                },
            );
        }
        ks
    }

    /// Which users exist: `admin`, and any `agent-*` / `ceilometer*`.
    fn user_password(&self, name: &str) -> Option<&str> {
        if name == "admin" {
            Some(&self.admin_password)
        } else if name.starts_with("agent-") || name.starts_with("ceilometer") {
            Some(&self.agent_password)
        } else {
            None
        }
    }

    pub fn validate(&self, token: &str) -> Option<TokenInfo> {
        let g = self.tokens.read();
        let t = g.get(token)?;
        (Instant::now() < t.expires).then(|| t.clone())
    }

    pub fn revoke_all(&self) -> usize {
        let mut g = self.tokens.write();
        let n = g.len();
        g.clear();
        n
    }

    fn issue(&self, user: &str, project: Option<u128>) -> (String, TokenInfo) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tok = format!(
            "gAAAAAB{:016x}{:016x}{:016x}",
            crate::util::mix64(self.seed ^ n),
            crate::util::mix64(n.rotate_left(17)),
            n
        );
        let info = TokenInfo {
            user: Arc::from(user),
            project,
            expires: Instant::now() + self.ttl,
        };
        let mut g = self.tokens.write();
        // Expired tokens are dropped as new ones are issued, so the map stays bounded.
        if g.len() > 10_000 {
            let now = Instant::now();
            g.retain(|_, t| t.expires > now);
        }
        g.insert(tok.clone(), info.clone());
        (tok, info)
    }

    pub fn create_app_credential(
        &self,
        user: &str,
        name: &str,
        secret: Option<&str>,
    ) -> AppCredential {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = hex32(derive_id(user_id(user) ^ n as u128, 0xAC));
        let cred = AppCredential {
            id: id.clone(),
            name: name.into(),
            secret: secret
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{:016x}", crate::util::mix64(self.seed ^ n ^ 0x5EC))),
            user: user.into(),
            project: self.admin_project,
        };
        self.app_creds.write().insert(id, cred.clone());
        cred
    }
}

fn versions_value(url: &str) -> Value {
    json!({
        "id": "v3.14",
        "links": [{"href": format!("{url}/v3/"), "rel": "self"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
    })
}

fn project_ref(st: &State, pid: u128) -> Option<Value> {
    st.model.projects.with(pid, |p| {
        json!({
            "domain": {"id": render::domain_id(p.domain), "name": st.model.domains.with(p.domain, |d| render::domain_name(d.id, d.n)).unwrap_or_default()},
            "id": hex32(p.id),
            "name": p.name(),
        })
    })
}

/// The service catalog of a token scoped to `pid`.
pub(crate) fn catalog(st: &State, pid: u128) -> Value {
    let mut regions = vec![st.cfg.region.clone()];
    if let Some(r) = &st.cfg.second_region {
        regions.push(r.clone());
    }
    let mut out = Vec::new();
    for svc in Service::ALL {
        let Some((ty, name)) = svc.catalog() else {
            continue;
        };
        if st.cfg.omit_from_catalog.contains(&svc) {
            continue;
        }
        let mut eps = Vec::new();
        for (ri, region) in regions.iter().enumerate() {
            for iface in [Interface::Public, Interface::Internal, Interface::Admin] {
                let suffix = match svc {
                    Service::Volume => format!("/v3/{}", hex32(pid)),
                    Service::ObjectStore => format!("/v1/AUTH_{}", hex32(pid)),
                    Service::Share => "/v2".into(),
                    _ => String::new(),
                };
                eps.push(json!({
                    "id": hex32(derive_id(svc as u128 * 16 + iface as u128 + 256 * ri as u128, 0xE9)),
                    "interface": iface.name(),
                    "region": region,
                    "region_id": region,
                    "url": format!("{}{}/{}{}", st.url, iface_prefix(iface), svc.prefix(), suffix),
                }));
            }
        }
        out.push(json!({
            "endpoints": eps,
            "type": ty,
            "id": hex32(derive_id(svc as u128, 0x5E)),
            "name": name,
        }));
    }
    Value::Array(out)
}

fn token_body(
    st: &State,
    info: &TokenInfo,
    methods: &[&str],
    app: Option<&AppCredential>,
) -> Value {
    let (now_s, now_us) = unix_now();
    let exp = now_s + st.cfg.token_ttl.as_secs() as i64;
    let uid = user_id(&info.user);
    let mut t = json!({
        "audit_ids": [format!("{:022x}", h(uid, now_s as u64))[..22].to_string()],
        "expires_at": ts(exp, now_us, TsStyle::MicrosZ),
        "is_domain": false,
        "issued_at": ts(now_s, now_us, TsStyle::MicrosZ),
        "methods": methods,
        "roles": [{"id": hex32(derive_id(1, 0x201E)), "name": "admin"}, {"id": hex32(derive_id(2, 0x201E)), "name": "member"}],
        "user": {
            "domain": {"id": "default", "name": "Default"},
            "id": hex32(uid),
            "name": &*info.user,
            "password_expires_at": null,
        },
    });
    if let (Some(o), Some(pid)) = (t.as_object_mut(), info.project) {
        o.insert("catalog".into(), catalog(st, pid));
        if let Some(p) = project_ref(st, pid) {
            o.insert("project".into(), p);
        }
    }
    if let (Some(o), Some(a)) = (t.as_object_mut(), app) {
        o.insert(
            "application_credential".into(),
            json!({"id": a.id, "name": a.name, "restricted": true}),
        );
    }
    json!({ "token": t })
}

fn find_domain(st: &State, d: &Value) -> Option<u128> {
    if let Some(id) = d.get("id").and_then(Value::as_str) {
        if id == "default" {
            return Some(DEFAULT_DOMAIN);
        }
        return parse_id(id).filter(|i| st.model.domains.with(*i, |_| ()).is_some());
    }
    let name = d.get("name").and_then(Value::as_str)?;
    st.model
        .domains
        .snap()
        .values()
        .find(|x| render::domain_name(x.id, x.n) == name)
        .map(|x| x.id)
}

fn resolve_scope(st: &State, scope: &Value) -> Result<Option<u128>, &'static str> {
    let Some(p) = scope.get("project") else {
        return Ok(None);
    };
    let pid = if let Some(id) = p.get("id").and_then(Value::as_str) {
        parse_id(id).ok_or("project not found")?
    } else {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or("project not found")?;
        let dom = p
            .get("domain")
            .and_then(|d| find_domain(st, d))
            .ok_or("domain not found")?;
        st.model
            .projects
            .snap()
            .values()
            .find(|x| x.domain == dom && x.name() == name)
            .map(|x| x.id)
            .ok_or("project not found")?
    };
    match st.model.projects.with(pid, |p| p.enabled) {
        Some(true) => Ok(Some(pid)),
        _ => Err("project not found or disabled"),
    }
}

fn authenticate(st: &State, r: &mut Req) -> Resp {
    r.op = "POST /v3/auth/tokens";
    let unauth = || {
        error(
            Service::Identity,
            401,
            "The request you have made requires authentication.",
        )
    };
    let Ok(body) = serde_json::from_slice::<Value>(&r.body) else {
        return error(
            Service::Identity,
            400,
            "Expecting to find auth in request body.",
        );
    };
    let Some(ident) = body.pointer("/auth/identity") else {
        return error(Service::Identity, 400, "'identity' is a required property");
    };
    let methods: Vec<&str> = ident
        .get("methods")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let scope = body.pointer("/auth/scope").cloned().unwrap_or(Value::Null);
    let ks = &st.keystone;
    let (user, app, project) = if methods.contains(&"application_credential") {
        let ac = &ident["application_credential"];
        let secret = ac.get("secret").and_then(Value::as_str).unwrap_or("");
        let creds = ks.app_creds.read();
        let found = if let Some(id) = ac.get("id").and_then(Value::as_str) {
            creds.get(id).cloned()
        } else {
            let name = ac.get("name").and_then(Value::as_str).unwrap_or("");
            let uname = ac.pointer("/user/name").and_then(Value::as_str);
            let uid = ac.pointer("/user/id").and_then(Value::as_str);
            creds
                .values()
                .find(|c| {
                    c.name == name
                        && (uname == Some(c.user.as_str())
                            || uid == Some(hex32(user_id(&c.user)).as_str()))
                })
                .cloned()
        };
        match found {
            Some(c) if c.secret == secret => {
                r.agent = Arc::from(c.user.as_str());
                (c.user.clone(), Some(c.clone()), Some(c.project))
            }
            _ => return unauth(),
        }
    } else if methods.contains(&"password") {
        let u = &ident["password"]["user"];
        let name = match (
            u.get("name").and_then(Value::as_str),
            u.get("id").and_then(Value::as_str),
        ) {
            (Some(n), _) => n.to_owned(),
            (None, Some(id)) => ["admin"]
                .into_iter()
                .map(str::to_owned)
                .chain((0..1000).map(|i| format!("agent-{i}")))
                .find(|n| hex32(user_id(n)) == id)
                .unwrap_or_default(),
            _ => return unauth(),
        };
        r.agent = Arc::from(name.as_str());
        if u.get("name").is_some() {
            let dom_ok = u.get("domain").and_then(|d| find_domain(st, d)) == Some(DEFAULT_DOMAIN);
            if !dom_ok {
                return unauth();
            }
        }
        let pw = u.get("password").and_then(Value::as_str).unwrap_or("");
        if ks.user_password(&name) != Some(pw) {
            return unauth();
        }
        let project = match resolve_scope(st, &scope) {
            Ok(p) => p,
            Err(_) => return unauth(),
        };
        (name, None, project)
    } else if methods.contains(&"token") {
        let Some(old) = ident
            .pointer("/token/id")
            .and_then(Value::as_str)
            .and_then(|t| ks.validate(t))
        else {
            return unauth();
        };
        r.agent = old.user.clone();
        let project = match resolve_scope(st, &scope) {
            Ok(p) => p.or(old.project),
            Err(_) => return unauth(),
        };
        (old.user.to_string(), None, project)
    } else {
        return unauth();
    };
    let (tok, info) = ks.issue(&user, project);
    let body = token_body(st, &info, &methods, app.as_ref());
    let mut resp = json_resp(201, &body);
    set_header(&mut resp, "x-subject-token", &tok);
    set_header(&mut resp, "vary", "X-Auth-Token");
    resp
}

/// Keystone routes (below `/identity`).
pub(crate) fn handle(st: &State, r: &mut Req) -> Resp {
    let path = r.path.trim_end_matches('/').to_owned();
    let base = r.base.clone();
    match (r.method.as_str(), path.as_str()) {
        ("GET", "") => {
            r.op = "GET /";
            return json_resp(
                300,
                &json!({"versions": {"values": [versions_value(&base)]}}),
            );
        }
        ("GET", "/v3") => {
            r.op = "GET /v3";
            return json_resp(200, &json!({"version": versions_value(&base)}));
        }
        ("POST", "/v3/auth/tokens") => return authenticate(st, r),
        _ => {}
    }
    let Some(auth) = r.auth.clone() else {
        r.op = "unauthenticated";
        return unauthorized(Service::Identity, &st.url);
    };
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    match (r.method.as_str(), segs.as_slice()) {
        ("GET", ["v3", "auth", "tokens"]) => {
            r.op = "GET /v3/auth/tokens";
            let Some(info) = r
                .header("x-subject-token")
                .and_then(|t| st.keystone.validate(t))
            else {
                return error(Service::Identity, 404, "Could not find token.");
            };
            json_resp(200, &token_body(st, &info, &["password"], None))
        }
        ("GET", ["v3", "auth", "catalog"]) => {
            r.op = "GET /v3/auth/catalog";
            let Some(pid) = auth.project else {
                return error(
                    Service::Identity,
                    403,
                    "A project-scoped token is required to produce a service catalog.",
                );
            };
            json_resp(
                200,
                &json!({"catalog": catalog(st, pid), "links": {"self": format!("{base}/v3/auth/catalog"), "previous": null, "next": null}}),
            )
        }
        ("GET", ["v3", "domains"]) => {
            r.op = "GET /v3/domains";
            r.listing = Some("domains");
            let enabled = r.query.get("enabled").map(truthy);
            let name = r.query.get("name").map(str::to_owned);
            let b2 = base.clone();
            let listing = Listing::new(
                st.model.domains.snap(),
                None,
                None,
                move |d| {
                    enabled.is_none_or(|e| d.enabled == e)
                        && name
                            .as_ref()
                            .is_none_or(|n| *n == render::domain_name(d.id, d.n))
                },
                move |d, buf| write_json(&render::domain(&b2, d.id, d.n, d.enabled), buf),
                "{\"domains\":[",
                move |_| {
                    format!("],\"links\":{{\"next\":null,\"previous\":null,\"self\":\"{base}/v3/domains\"}}}}").into_bytes()
                },
            );
            stream_resp(200, SimBody::chunks(listing))
        }
        ("GET", ["v3", "domains", id]) => {
            r.op = "GET /v3/domains/{id}";
            let did = if *id == "default" {
                Some(DEFAULT_DOMAIN)
            } else {
                parse_id(id)
            };
            match did.and_then(|d| {
                st.model
                    .domains
                    .with(d, |d| render::domain(&base, d.id, d.n, d.enabled))
            }) {
                Some(v) => json_resp(200, &json!({"domain": v})),
                None => error(
                    Service::Identity,
                    404,
                    &format!("Could not find domain: {id}."),
                ),
            }
        }
        ("GET", ["v3", "projects"]) => {
            r.op = "GET /v3/projects";
            r.listing = Some("projects");
            let dom = match r.query.get("domain_id") {
                None => None,
                Some("default") => Some(Some(DEFAULT_DOMAIN)),
                Some(d) => Some(parse_id(d)),
            };
            let enabled = r.query.get("enabled").map(truthy);
            let name = r.query.get("name").map(str::to_owned);
            let is_domain = r.query.get("is_domain").map(truthy);
            if is_domain == Some(true) {
                return json_resp(
                    200,
                    &json!({"links": {"next": null, "previous": null, "self": format!("{base}/v3/projects")}, "projects": []}),
                );
            }
            let b2 = base.clone();
            let self_link = match r.raw_query.as_deref() {
                Some(q) => format!("{base}/v3/projects?{q}"),
                None => format!("{base}/v3/projects"),
            };
            let listing = Listing::new(
                st.model.projects.snap(),
                None,
                None,
                move |p| {
                    dom.is_none_or(|d| d == Some(p.domain))
                        && enabled.is_none_or(|e| p.enabled == e)
                        && name.as_ref().is_none_or(|n| *n == p.name())
                },
                move |p, buf| write_json(&render::project(&b2, p), buf),
                "{\"projects\":[",
                move |_| {
                    format!(
                        "],\"links\":{{\"next\":null,\"previous\":null,\"self\":{}}}}}",
                        Value::from(self_link)
                    )
                    .into_bytes()
                },
            );
            stream_resp(200, SimBody::chunks(listing))
        }
        ("GET", ["v3", "projects", id]) => {
            r.op = "GET /v3/projects/{id}";
            match parse_id(id)
                .and_then(|p| st.model.projects.with(p, |p| render::project(&base, p)))
            {
                Some(v) => json_resp(200, &json!({"project": v})),
                None => error(
                    Service::Identity,
                    404,
                    &format!("Could not find project: {id}."),
                ),
            }
        }
        ("POST", ["v3", "users", uid, "application_credentials"]) => {
            r.op = "POST /v3/users/{id}/application_credentials";
            if hex32(user_id(&auth.user)) != *uid {
                return error(
                    Service::Identity,
                    403,
                    "You are not authorized to perform the requested action.",
                );
            }
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let name = body
                .pointer("/application_credential/name")
                .and_then(Value::as_str)
                .unwrap_or("ceilometer");
            let secret = body
                .pointer("/application_credential/secret")
                .and_then(Value::as_str);
            let c = st.keystone.create_app_credential(&auth.user, name, secret);
            json_resp(
                201,
                &json!({"application_credential": {
                    "id": c.id, "name": c.name, "secret": c.secret, "description": null,
                    "expires_at": null, "project_id": hex32(c.project), "unrestricted": false,
                    "user_id": uid, "roles": [{"id": hex32(derive_id(1, 0x201E)), "name": "admin", "domain_id": null}],
                    "access_rules": [], "links": {"self": format!("{base}/v3/users/{uid}/application_credentials/{}", c.id)},
                }}),
            )
        }
        _ => {
            r.op = "unknown";
            error(Service::Identity, 404, "The resource could not be found.")
        }
    }
}
