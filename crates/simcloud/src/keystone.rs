//! Keystone v3: tokens (password, application credential, token) scoped to a project, a
//! domain, the system or a trust; catalog, domains, projects.
//!
//! `POST /v3/auth/tokens` checks the body the way Keystone does (`keystone/auth/schema.py`,
//! then `AuthInfo`: methods, exactly one scope target, lookups) and answers with Keystone's
//! 400/401/403/404 JSON errors. It is stricter in one way: an object member the API reference
//! does not define is refused (400, jsonschema's "Additional properties" wording), so a
//! client that misspells a field fails its tests instead of being silently unscoped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use serde_json::{json, Map, Value};
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

/// What a token is scoped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// No scope: no catalog, no roles.
    Unscoped,
    /// A project.
    Project(u128),
    /// A domain.
    Domain(u128),
    /// The whole deployment (`system: {all: true}`).
    System,
    /// A trust (id), acting on the trust's project.
    Trust(String, u128),
}

/// A validated token.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    /// User name (the agent identity in the accounting).
    pub user: Arc<str>,
    /// Project the token acts on: project- and trust-scoped tokens (services filter by it).
    pub project: Option<u128>,
    /// The scope.
    pub scope: Scope,
    expires: Instant,
}

/// A trust: `trustee` may act as `trustor` on `project` (OS-TRUST).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    /// Id (32 hex digits).
    pub id: String,
    /// The delegating user's name.
    pub trustor: String,
    /// The user allowed to use the trust.
    pub trustee: String,
    /// Project the trust is for.
    pub project: u128,
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
    trusts: RwLock<HashMap<String, Trust>>,
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
            trusts: RwLock::new(HashMap::new()),
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

    fn issue(&self, user: &str, scope: Scope) -> (String, TokenInfo) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tok = format!(
            "gAAAAAB{:016x}{:016x}{:016x}",
            crate::util::mix64(self.seed ^ n),
            crate::util::mix64(n.rotate_left(17)),
            n
        );
        let project = match &scope {
            Scope::Project(p) | Scope::Trust(_, p) => Some(*p),
            _ => None,
        };
        let info = TokenInfo {
            user: Arc::from(user),
            project,
            scope,
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

    /// Creates a trust from `trustor` to `trustee` on `project`.
    pub fn create_trust(&self, trustor: &str, trustee: &str, project: u128) -> Trust {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let id = hex32(derive_id(
            user_id(trustor) ^ user_id(trustee) ^ n as u128,
            0x7A,
        ));
        let t = Trust {
            id: id.clone(),
            trustor: trustor.into(),
            trustee: trustee.into(),
            project,
        };
        self.trusts.write().insert(id, t.clone());
        t
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

/// The service catalog of a token acting on project `pid`. Without a project (domain- and
/// system-scoped tokens) the endpoints whose URL Keystone templates with the project id
/// (Cinder's `/v3/$(project_id)s`, Swift's `AUTH_$(project_id)s`) are left out, as Keystone's
/// catalog backend does; their services stay, with no endpoints.
pub(crate) fn catalog(st: &State, pid: Option<u128>) -> Value {
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
        let templated = matches!(svc, Service::Volume | Service::ObjectStore);
        for (ri, region) in regions.iter().enumerate() {
            if templated && pid.is_none() {
                break;
            }
            for iface in [Interface::Public, Interface::Internal, Interface::Admin] {
                let suffix = match (svc, pid) {
                    (Service::Volume, Some(pid)) => format!("/v3/{}", hex32(pid)),
                    (Service::ObjectStore, Some(pid)) => format!("/v1/AUTH_{}", hex32(pid)),
                    (Service::Share, _) => "/v2".into(),
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

fn roles() -> Value {
    json!([
        {"id": hex32(derive_id(1, 0x201E)), "name": "admin"},
        {"id": hex32(derive_id(2, 0x201E)), "name": "member"},
    ])
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
    let mut o = Map::new();
    o.insert(
        "audit_ids".into(),
        json!([format!("{:022x}", h(uid, now_s as u64))[..22].to_string()]),
    );
    o.insert(
        "expires_at".into(),
        ts(exp, now_us, TsStyle::MicrosZ).into(),
    );
    o.insert(
        "issued_at".into(),
        ts(now_s, now_us, TsStyle::MicrosZ).into(),
    );
    o.insert("methods".into(), json!(methods));
    o.insert(
        "user".into(),
        json!({
            "domain": {"id": "default", "name": "Default"},
            "id": hex32(uid),
            "name": &*info.user,
            "password_expires_at": null,
        }),
    );
    let project = |o: &mut Map<String, Value>, pid: u128| {
        o.insert("catalog".into(), catalog(st, Some(pid)));
        o.insert("is_domain".into(), false.into());
        if let Some(p) = project_ref(st, pid) {
            o.insert("project".into(), p);
        }
        o.insert("roles".into(), roles());
    };
    match &info.scope {
        Scope::Unscoped => {}
        Scope::Project(pid) => project(&mut o, *pid),
        Scope::Domain(did) => {
            o.insert("catalog".into(), catalog(st, None));
            let name = st
                .model
                .domains
                .with(*did, |d| render::domain_name(d.id, d.n))
                .unwrap_or_default();
            o.insert(
                "domain".into(),
                json!({"id": render::domain_id(*did), "name": name}),
            );
            o.insert("roles".into(), roles());
        }
        Scope::System => {
            o.insert("catalog".into(), catalog(st, None));
            o.insert("roles".into(), roles());
            o.insert("system".into(), json!({"all": true}));
        }
        Scope::Trust(id, pid) => {
            project(&mut o, *pid);
            let t = st.keystone.trusts.read().get(id).cloned();
            let (trustor, trustee) = t
                .map(|t| (user_id(&t.trustor), user_id(&t.trustee)))
                .unwrap_or((uid, uid));
            o.insert(
                "OS-TRUST:trust".into(),
                json!({
                    "id": id,
                    "impersonation": false,
                    "trustee_user": {"id": hex32(trustee)},
                    "trustor_user": {"id": hex32(trustor)},
                }),
            );
        }
    }
    if let Some(a) = app {
        o.insert(
            "application_credential".into(),
            json!({"id": a.id, "name": a.name, "restricted": true}),
        );
    }
    json!({ "token": o })
}

// ---- Errors, as keystone/exception.py words them.

fn unauthorized_auth() -> Resp {
    error(
        Service::Identity,
        401,
        "The request you have made requires authentication.",
    )
}

/// `ValidationError`: 400.
fn expecting(attribute: &str, target: &str) -> Resp {
    error(
        Service::Identity,
        400,
        &format!(
            "Expecting to find {attribute} in {target}. The server could not comply with the \
             request since it is either malformed or otherwise incorrect. The client is assumed \
             to be in error."
        ),
    )
}

// ---- Body shape (`keystone/auth/schema.py`, plus no undefined members).

/// The 400 detail of a body that does not have the reference's shape. Never echoes values
/// (they may be secrets), only member names.
type Invalid = String;

fn invalid(path: &str, msg: &str) -> Invalid {
    if path.is_empty() {
        msg.to_owned()
    } else {
        format!("Invalid input for field '{path}': {msg}")
    }
}

fn object<'a>(
    v: &'a Value,
    path: &str,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, Invalid> {
    let o = v
        .as_object()
        .ok_or_else(|| invalid(path, "is not of type 'object'"))?;
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid(
            path,
            &format!("Additional properties are not allowed ('{k}' was unexpected)"),
        ));
    }
    Ok(o)
}

fn strings(o: &Map<String, Value>, path: &str, keys: &[&str]) -> Result<(), Invalid> {
    for k in keys {
        if o.get(*k).is_some_and(|v| !v.is_string()) {
            return Err(invalid(&format!("{path}/{k}"), "is not of type 'string'"));
        }
    }
    Ok(())
}

/// `{"id": ..}` or `{"name": ..}`: a domain reference.
fn domain_shape(v: &Value, path: &str) -> Result<(), Invalid> {
    let o = object(v, path, &["id", "name"])?;
    strings(o, path, &["id", "name"])?;
    if !o.contains_key("id") && !o.contains_key("name") {
        return Err(invalid(path, "id or name must be present."));
    }
    Ok(())
}

/// A user reference (`password.user`, `application_credential.user`).
fn user_shape(v: &Value, path: &str, with_password: bool) -> Result<(), Invalid> {
    let allowed: &[&str] = if with_password {
        &["id", "name", "password", "domain"]
    } else {
        &["id", "name", "domain"]
    };
    let o = object(v, path, allowed)?;
    strings(o, path, &["id", "name", "password"])?;
    if !o.contains_key("id") && !o.contains_key("name") {
        return Err(invalid(path, "id or name must be present."));
    }
    if let Some(d) = o.get("domain") {
        domain_shape(d, &format!("{path}/domain"))?;
    }
    Ok(())
}

fn scope_shape(v: &Value) -> Result<(), Invalid> {
    if v.is_string() {
        return Ok(());
    }
    let o = object(
        v,
        "scope",
        &["project", "domain", "OS-TRUST:trust", "system", "unscoped"],
    )
    .map_err(|e| {
        e.replace(
            "is not of type 'object'",
            "is not of type 'object', 'string'",
        )
    })?;
    if let Some(p) = o.get("project") {
        let po = object(p, "scope/project", &["id", "name", "domain"])?;
        strings(po, "scope/project", &["id", "name"])?;
        if !po.contains_key("id") && !po.contains_key("name") {
            return Err(invalid("scope/project", "id or name must be present."));
        }
        if let Some(d) = po.get("domain") {
            domain_shape(d, "scope/project/domain")?;
        }
    }
    if let Some(d) = o.get("domain") {
        domain_shape(d, "scope/domain")?;
    }
    if let Some(t) = o.get("OS-TRUST:trust") {
        let to = object(t, "scope/OS-TRUST:trust", &["id"])?;
        strings(to, "scope/OS-TRUST:trust", &["id"])?;
    }
    if let Some(s) = o.get("system") {
        let so = object(s, "scope/system", &["all"])?;
        if so.get("all").is_some_and(|a| !a.is_boolean()) {
            return Err(invalid("scope/system/all", "is not of type 'boolean'"));
        }
    }
    Ok(())
}

/// Checks `auth` (the member of the request body) against the reference's shape.
fn auth_shape(auth: &Value) -> Result<(), Invalid> {
    let a = object(auth, "", &["identity", "scope"])?;
    let ident = a
        .get("identity")
        .ok_or_else(|| invalid("", "'identity' is a required property"))?;
    let methods = ident
        .get("methods")
        .ok_or_else(|| invalid("identity", "'methods' is a required property"))?
        .as_array()
        .ok_or_else(|| invalid("identity/methods", "is not of type 'array'"))?;
    let mut allowed = vec!["methods"];
    for (i, m) in methods.iter().enumerate() {
        allowed.push(
            m.as_str().ok_or_else(|| {
                invalid(&format!("identity/methods/{i}"), "is not of type 'string'")
            })?,
        );
    }
    let io = object(ident, "identity", &allowed)?;
    if let Some(p) = io.get("password") {
        let po = object(p, "identity/password", &["user"])?;
        if let Some(u) = po.get("user") {
            user_shape(u, "identity/password/user", true)?;
        }
    }
    if let Some(t) = io.get("token") {
        let to = object(t, "identity/token", &["id"])?;
        if !to.contains_key("id") {
            return Err(invalid("identity/token", "'id' is a required property"));
        }
        strings(to, "identity/token", &["id"])?;
    }
    if let Some(ac) = io.get("application_credential") {
        let path = "identity/application_credential";
        let o = object(ac, path, &["id", "name", "secret", "user"])?;
        strings(o, path, &["id", "name", "secret"])?;
        if let Some(u) = o.get("user") {
            user_shape(u, &format!("{path}/user"), false)?;
        }
    }
    if let Some(s) = a.get("scope") {
        scope_shape(s)?;
    }
    Ok(())
}

// ---- Lookups (`AuthInfo` in keystone/auth/core.py): unknown or disabled → 401.

/// A refusal, boxed: responses are large.
type Refused = Box<Resp>;

fn lookup_domain(st: &State, d: &Value) -> Result<u128, Refused> {
    let found = if let Some(name) = d.get("name").and_then(Value::as_str) {
        st.model
            .domains
            .snap()
            .values()
            .find(|x| render::domain_name(x.id, x.n) == name)
            .map(|x| x.id)
    } else {
        match d.get("id").and_then(Value::as_str) {
            Some("default") => Some(DEFAULT_DOMAIN),
            Some(id) => parse_id(id).filter(|i| st.model.domains.with(*i, |_| ()).is_some()),
            None => None,
        }
    };
    match found.and_then(|id| st.model.domains.with(id, |d| (id, d.enabled))) {
        Some((id, true)) => Ok(id),
        _ => Err(Box::new(unauthorized_auth())),
    }
}

fn lookup_project(st: &State, p: &Value) -> Result<u128, Refused> {
    let pid = if let Some(name) = p.get("name").and_then(Value::as_str) {
        let Some(d) = p.get("domain") else {
            return Err(Box::new(expecting("domain", "project")));
        };
        let dom = lookup_domain(st, d)?;
        st.model
            .projects
            .snap()
            .values()
            .find(|x| x.domain == dom && x.name() == name)
            .map(|x| x.id)
    } else {
        p.get("id").and_then(Value::as_str).and_then(parse_id)
    };
    let Some((pid, domain, enabled)) =
        pid.and_then(|pid| st.model.projects.with(pid, |x| (pid, x.domain, x.enabled)))
    else {
        return Err(Box::new(unauthorized_auth()));
    };
    // The project's domain must be enabled too.
    lookup_domain(st, &json!({"id": render::domain_id(domain)}))?;
    if !enabled {
        return Err(Box::new(unauthorized_auth()));
    }
    Ok(pid)
}

/// The requested scope (`_validate_and_normalize_scope_data`).
fn lookup_scope(st: &State, scope: &Value) -> Result<Scope, Refused> {
    const TARGETS: [&str; 5] = ["project", "domain", "unscoped", "system", "OS-TRUST:trust"];
    let given = |k: &str| match scope {
        Value::String(s) => s == k,
        _ => scope.get(k).is_some(),
    };
    if TARGETS.iter().filter(|k| given(k)).count() != 1 {
        return Err(Box::new(expecting(
            "system, project, domain, OS-TRUST:trust or unscoped",
            "scope",
        )));
    }
    if given("system") {
        return Ok(Scope::System);
    }
    if given("unscoped") {
        return Ok(Scope::Unscoped);
    }
    if let Some(p) = scope.get("project") {
        return lookup_project(st, p).map(Scope::Project);
    }
    if let Some(d) = scope.get("domain") {
        return lookup_domain(st, d).map(Scope::Domain);
    }
    let Some(id) = scope
        .pointer("/OS-TRUST:trust/id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(Box::new(expecting("trust_id", "trust")));
    };
    let Some(t) = st.keystone.trusts.read().get(id).cloned() else {
        return Err(Box::new(error(
            Service::Identity,
            404,
            &format!("Could not find trust: {id}."),
        )));
    };
    let pid = lookup_project(st, &json!({"id": hex32(t.project)}))?;
    Ok(Scope::Trust(t.id, pid))
}

/// The application credential of an `application_credential` payload (`_lookup_app_cred`).
fn lookup_app_cred(st: &State, ac: &Value) -> Result<AppCredential, Refused> {
    let creds = st.keystone.app_creds.read();
    if let Some(id) = ac.get("id").and_then(Value::as_str) {
        return creds
            .get(id)
            .cloned()
            .ok_or_else(|| Box::new(unauthorized_auth()));
    }
    let Some(name) = ac.get("name").and_then(Value::as_str) else {
        return Err(Box::new(expecting("name or ID", "application credential")));
    };
    let Some(user) = ac.get("user") else {
        return Err(Box::new(expecting("user", "application credential")));
    };
    let uid = match user.get("id").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => {
            let Some(d) = user.get("domain") else {
                return Err(Box::new(expecting("domain", "user")));
            };
            if lookup_domain(st, d)? != DEFAULT_DOMAIN {
                return Err(Box::new(unauthorized_auth()));
            }
            let uname = user.get("name").and_then(Value::as_str).unwrap_or("");
            hex32(user_id(uname))
        }
    };
    creds
        .values()
        .find(|c| c.name == name && hex32(user_id(&c.user)) == uid)
        .cloned()
        .ok_or_else(|| Box::new(unauthorized_auth()))
}

/// The user name of a `password` payload, checked (the `password` plugin).
fn password_user(st: &State, r: &mut Req, pw: &Value) -> Result<String, Refused> {
    let Some(u) = pw.get("user") else {
        return Err(Box::new(expecting("user", "password")));
    };
    let name = if let Some(n) = u.get("name").and_then(Value::as_str) {
        let Some(d) = u.get("domain") else {
            return Err(Box::new(expecting("domain", "user")));
        };
        // Every simulated user lives in the default domain.
        if lookup_domain(st, d)? != DEFAULT_DOMAIN {
            return Err(Box::new(unauthorized_auth()));
        }
        n.to_owned()
    } else {
        let id = u.get("id").and_then(Value::as_str).unwrap_or_default();
        ["admin"]
            .into_iter()
            .map(str::to_owned)
            .chain((0..1000).map(|i| format!("agent-{i}")))
            .find(|n| hex32(user_id(n)) == id)
            .ok_or_else(|| Box::new(unauthorized_auth()))?
    };
    r.agent = Arc::from(name.as_str());
    let given = u.get("password").and_then(Value::as_str);
    match st.keystone.user_password(&name) {
        Some(p) if given == Some(p) => Ok(name),
        _ => Err(Box::new(unauthorized_auth())),
    }
}

fn authenticate(st: &State, r: &mut Req) -> Resp {
    r.op = "POST /v3/auth/tokens";
    let Some(auth) = serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|mut b| b.get_mut("auth").map(Value::take))
    else {
        return expecting("auth", "request body");
    };
    if let Err(detail) = auth_shape(&auth) {
        return error(Service::Identity, 400, &detail);
    }
    let ident = &auth["identity"];
    let mut methods: Vec<&str> = Vec::new();
    for m in ident["methods"].as_array().into_iter().flatten() {
        if let Some(m) = m.as_str().filter(|m| !methods.contains(m)) {
            methods.push(m);
        }
    }
    // `_validate_auth_methods`: every method's payload present (the shape check guarantees
    // it), every method supported.
    if let Some(m) = methods.iter().find(|m| ident.get(**m).is_none()) {
        return expecting(m, "identity");
    }
    if methods.is_empty()
        || methods
            .iter()
            .any(|m| !["password", "token", "application_credential"].contains(m))
    {
        return error(
            Service::Identity,
            401,
            "Attempted to authenticate with an unsupported method.",
        );
    }
    let scope = auth.get("scope");
    let app_cred = methods.contains(&"application_credential");
    // Scope first, as Keystone resolves it before running the methods.
    let (requested, app) = if app_cred {
        if scope.is_some() {
            return error(
                Service::Identity,
                401,
                "Error authenticating with application credential: Application credentials \
                 cannot request a scope.",
            );
        }
        match lookup_app_cred(st, &ident["application_credential"]) {
            Ok(c) => (Some(Scope::Project(c.project)), Some(c)),
            Err(resp) => return *resp,
        }
    } else {
        match scope.map(|s| lookup_scope(st, s)).transpose() {
            Ok(s) => (s, None),
            Err(resp) => return *resp,
        }
    };
    let (user, previous) = if let Some(c) = &app {
        r.agent = Arc::from(c.user.as_str());
        let secret = ident
            .pointer("/application_credential/secret")
            .and_then(Value::as_str);
        if secret != Some(c.secret.as_str()) {
            return unauthorized_auth();
        }
        (c.user.clone(), None)
    } else if methods.contains(&"password") {
        match password_user(st, r, &ident["password"]) {
            Ok(u) => (u, None),
            Err(resp) => return *resp,
        }
    } else {
        let Some(old) = ident
            .pointer("/token/id")
            .and_then(Value::as_str)
            .and_then(|t| st.keystone.validate(t))
        else {
            return unauthorized_auth();
        };
        r.agent = old.user.clone();
        (old.user.to_string(), Some(old.scope))
    };
    let scope = requested.or(previous).unwrap_or(Scope::Unscoped);
    if let Scope::Trust(id, _) = &scope {
        let trustee = st.keystone.trusts.read().get(id).map(|t| t.trustee.clone());
        if trustee.as_deref() != Some(user.as_str()) {
            return error(Service::Identity, 403, "User is not a trustee.");
        }
    }
    let (tok, info) = st.keystone.issue(&user, scope);
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
            if auth.scope == Scope::Unscoped {
                return error(
                    Service::Identity,
                    403,
                    "A project-scoped token is required to produce a service catalog.",
                );
            }
            json_resp(
                200,
                &json!({"catalog": catalog(st, auth.project), "links": {"self": format!("{base}/v3/auth/catalog"), "previous": null, "next": null}}),
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
