//! [`Store`] on a real Redis server or a Sentinel-managed master.
//!
//! Commands per heartbeat tick (common case): one round trip `PSETEX` + `HGETALL` (plus
//! `ROLE` first when behind Sentinel, so a demoted master is noticed even with
//! `replica-read-only no`), then `MGET` of the other members' beat keys. Only when someone
//! is dead does it run tooz's transaction: `WATCH G; HGETALL G; MGET …; MULTI; HDEL …; EXEC`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo,
    ProtocolVersion, RedisConnectionInfo, TlsCertificates, Value,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::backoff::ExponentialBackoff;
use crate::store::{GroupState, Store, StoreError};
use crate::url::{Endpoint, HostPort, RedisUrl, TlsOptions};
use crate::view::MemberId;

/// The `__created__` field tooz keeps in every group hash.
pub const CREATED_FIELD: &[u8] = b"__created__";
/// The value of a beat key.
pub const BEAT_VALUE: &str = "Not dead!";
const MAX_TX_RETRIES: usize = 16;

/// The tooz key names for one namespace, group and member.
#[derive(Clone, Debug)]
pub struct Keys {
    /// `<ns>_group:<group>`
    pub group: Vec<u8>,
    /// `<ns>_groups`
    pub groups: Vec<u8>,
    /// `<ns>_beats:`
    pub beat_prefix: Vec<u8>,
    /// `<ns>_ceilometer_central:<group>:` — our own records, under a prefix no tooz client
    /// uses.
    pub record_prefix: Vec<u8>,
}

impl Keys {
    /// Keys for a namespace and group.
    pub fn new(namespace: &str, group: &str) -> Keys {
        Keys {
            group: format!("{namespace}_group:{group}").into_bytes(),
            groups: format!("{namespace}_groups").into_bytes(),
            beat_prefix: format!("{namespace}_beats:").into_bytes(),
            record_prefix: format!("{namespace}_ceilometer_central:{group}:").into_bytes(),
        }
    }
    /// `<ns>_ceilometer_central:<group>:<name>`
    pub fn record(&self, name: &str) -> Vec<u8> {
        let mut k = self.record_prefix.clone();
        k.extend_from_slice(name.as_bytes());
        k
    }
    /// `<ns>_beats:<member>`
    pub fn beat(&self, m: &MemberId) -> Vec<u8> {
        let mut k = self.beat_prefix.clone();
        k.extend_from_slice(m.as_bytes());
        k
    }
}

pub(crate) fn redis_err(
    doing: &'static str,
    target: &str,
    e: impl std::fmt::Display,
) -> StoreError {
    StoreError {
        doing,
        target: target.to_string(),
        message: e.to_string(),
    }
}

/// Turns an HGETALL reply (RESP2 flat array or RESP3 map) into pairs.
/// Field/value pairs of a hash.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

pub(crate) fn hash_pairs(v: Value) -> Result<Pairs, String> {
    fn bytes(v: Value) -> Result<Vec<u8>, String> {
        match v {
            Value::BulkString(b) => Ok(b),
            Value::SimpleString(s) => Ok(s.into_bytes()),
            other => Err(format!("unexpected {other:?} in a hash reply")),
        }
    }
    match v {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((bytes(k)?, bytes(v)?));
            }
            Ok(out)
        }
        Value::Map(m) => m
            .into_iter()
            .map(|(k, v)| Ok((bytes(k)?, bytes(v)?)))
            .collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!("unexpected HGETALL reply {other:?}")),
    }
}

fn is_alive(v: &Value) -> bool {
    match v {
        Value::Nil => false,
        Value::BulkString(b) => !b.is_empty(),
        Value::SimpleString(s) => !s.is_empty(),
        _ => true,
    }
}

fn role_of(v: &Value) -> String {
    match v {
        Value::Array(items) => match items.first() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            other => format!("{other:?}"),
        },
        other => format!("{other:?}"),
    }
}

fn tcp(hp: &HostPort) -> ConnectionAddr {
    ConnectionAddr::Tcp(hp.host.clone(), hp.port)
}

static RING: std::sync::Once = std::sync::Once::new();

/// Installs the ring crypto provider once per process (as the pollsters and publishers do):
/// rustls needs exactly one and this workspace never builds aws-lc-rs.
fn install_ring() {
    RING.call_once(|| {
        // An error means another part of the process installed a provider first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn read_pem(option: &str, path: &Path, what: &str) -> Result<Vec<u8>, String> {
    let b = std::fs::read(path)
        .map_err(|e| format!("TLS: cannot read {option} {}: {e}", path.display()))?;
    if !String::from_utf8_lossy(&b).contains("-----BEGIN ") {
        return Err(format!(
            "TLS: {option} {} holds no PEM {what}",
            path.display()
        ));
    }
    Ok(b)
}

/// Reads the `ssl_*` files (at every connect, so renewed files are picked up).
pub(crate) fn tls_certificates(t: &TlsOptions) -> Result<TlsCertificates, String> {
    let root_cert = t
        .ca_certs
        .as_deref()
        .map(|p| read_pem("ssl_ca_certs", p, "certificate"))
        .transpose()?;
    let client_tls = match &t.certfile {
        None => None,
        Some(c) => {
            let client_cert = read_pem("ssl_certfile", c, "certificate")?;
            // Like Python's load_cert_chain: without ssl_keyfile the key is in the certfile.
            let client_key = match &t.keyfile {
                Some(k) => read_pem("ssl_keyfile", k, "private key")?,
                None => client_cert.clone(),
            };
            Some(ClientTlsConfig {
                client_cert,
                client_key,
            })
        }
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// A client for one TCP server, over TLS (certificate and host name verified) when `tls`.
fn client_for(
    hp: &HostPort,
    redis: RedisConnectionInfo,
    tls: Option<&TlsOptions>,
) -> Result<Client, String> {
    match tls {
        None => Client::open(ConnectionInfo {
            addr: tcp(hp),
            redis,
        })
        .map_err(|e| e.to_string()),
        Some(t) => {
            install_ring();
            let certs = tls_certificates(t)?;
            let info = ConnectionInfo {
                addr: ConnectionAddr::TcpTls {
                    host: hp.host.clone(),
                    port: hp.port,
                    insecure: false,
                    tls_params: None,
                },
                redis,
            };
            Client::build_with_tls(info, certs).map_err(|e| format!("TLS: {e}"))
        }
    }
}

/// Master connection details for a URL (db, credentials), RESP2.
pub(crate) fn master_redis_info(url: &RedisUrl) -> RedisConnectionInfo {
    RedisConnectionInfo {
        db: url.db,
        username: url.username.clone(),
        password: url.password.as_ref().map(|p| p.expose().to_string()),
        protocol: ProtocolVersion::RESP2,
    }
}

/// The per-command deadline: `socket_timeout` (tooz: `timeout`, 30 s by default), but no
/// more than half the beat TTL. A reply slower than that cannot keep our member alive, and
/// waiting the full 30 s on a silent (partitioned) master would let our beat expire before
/// we even start asking the sentinels again.
pub(crate) fn response_timeout(url: &RedisUrl) -> Duration {
    url.socket_timeout
        .min((url.membership_timeout / 2).max(Duration::from_millis(100)))
}

/// Deadline for opening a connection and getting a first answer.
pub(crate) fn connect_budget(url: &RedisUrl) -> Duration {
    url.socket_connect_timeout + response_timeout(url)
}

/// Connection options: timeouts, and `SO_KEEPALIVE` only when `socket_keepalive` is true
/// (the redis crate leaves the socket option alone otherwise, so it stays off: Linux's
/// default).
fn conn_config(url: &RedisUrl) -> AsyncConnectionConfig {
    let mut cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(url.socket_connect_timeout)
        .set_response_timeout(response_timeout(url));
    if url.socket_keepalive {
        cfg = cfg.set_tcp_settings(
            redis::io::tcp::TcpSettings::default()
                .set_keepalive(redis::io::tcp::socket2::TcpKeepalive::new()),
        );
    }
    cfg
}

/// Connects `client` within the connect budget. Errors name TLS when it was asked for.
async fn connect_client(
    url: &RedisUrl,
    client: &Client,
    addr: &str,
    tls: bool,
) -> Result<MultiplexedConnection, StoreError> {
    let doing = if tls {
        "connecting over TLS"
    } else {
        "connecting"
    };
    let budget = connect_budget(url);
    let connect = async {
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&conn_config(url))
            .await?;
        if tls {
            // With TLS 1.3 a server that rejects our client certificate (or its absence)
            // says so only after the handshake: ask once so the failure is reported as a
            // TLS connect error, not as the first group operation's.
            let _: Value = redis::cmd("PING").query_async(&mut conn).await?;
        }
        Ok::<_, redis::RedisError>(conn)
    };
    tokio::time::timeout(budget, connect)
        .await
        .map_err(|_| redis_err(doing, addr, format!("no answer within {budget:?}")))?
        .map_err(|e| redis_err(doing, addr, e))
}

/// Connects to one TCP server (TLS when `tls`).
async fn connect_tcp(
    url: &RedisUrl,
    hp: &HostPort,
    redis: RedisConnectionInfo,
    tls: Option<&TlsOptions>,
) -> Result<(MultiplexedConnection, String), StoreError> {
    let addr = hp.to_string();
    let doing = if tls.is_some() {
        "connecting over TLS"
    } else {
        "connecting"
    };
    let client = client_for(hp, redis, tls).map_err(|e| redis_err(doing, &addr, e))?;
    let conn = connect_client(url, &client, &addr, tls.is_some()).await?;
    Ok((conn, addr))
}

/// Opens a connection to the master (resolving it through the sentinels in turn when
/// configured). Returns the connection and the master address it reached.
pub(crate) async fn open_master(
    url: &RedisUrl,
    sentinels: &mut SentinelSet,
) -> Result<(MultiplexedConnection, String), StoreError> {
    match &url.endpoint {
        Endpoint::Tcp(hp) => connect_tcp(url, hp, master_redis_info(url), url.tls.as_ref()).await,
        Endpoint::Unix(p) => {
            let addr = p.display().to_string();
            let client = Client::open(ConnectionInfo {
                addr: ConnectionAddr::Unix(p.clone()),
                redis: master_redis_info(url),
            })
            .map_err(|e| redis_err("connecting", &url.to_string(), e))?;
            let conn = connect_client(url, &client, &addr, false).await?;
            Ok((conn, addr))
        }
        Endpoint::Sentinel { .. } => sentinels.resolve(url).await,
    }
}

/// Whether a `SENTINEL MASTERS` entry is our service, a master, and neither s_down nor
/// o_down (redis-py's rule); its address if so.
fn valid_master(m: &HashMap<String, String>, service: &str) -> Option<HostPort> {
    if m.get("name").map(String::as_str) != Some(service) {
        return None;
    }
    let flags = m.get("flags")?;
    if !flags.split(',').any(|f| f == "master")
        || flags.contains("s_down")
        || flags.contains("o_down")
    {
        return None;
    }
    Some(HostPort {
        host: m.get("ip")?.clone(),
        port: m.get("port")?.parse().ok()?,
    })
}

/// The sentinels of a URL, asked in turn; the one that answers moves to the front. Each
/// keeps its connection (TLS with `sentinel_ssl`, `sentinel_username`/`sentinel_password`)
/// until it fails.
pub(crate) struct SentinelSet {
    sentinels: Vec<(HostPort, Option<MultiplexedConnection>)>,
}

impl SentinelSet {
    pub(crate) fn new(url: &RedisUrl) -> SentinelSet {
        let sentinels = match &url.endpoint {
            Endpoint::Sentinel { sentinels, .. } => {
                sentinels.iter().map(|s| (s.clone(), None)).collect()
            }
            _ => Vec::new(),
        };
        SentinelSet { sentinels }
    }

    /// `SENTINEL MASTERS` on sentinel `i`, reconnecting once when a kept connection broke.
    async fn masters(
        &mut self,
        i: usize,
        url: &RedisUrl,
    ) -> Result<Vec<HashMap<String, String>>, String> {
        let mut fresh = false;
        loop {
            let (hp, cached) = &mut self.sentinels[i];
            if cached.is_none() {
                let (c, _) =
                    connect_tcp(url, hp, sentinel_redis_info(url), url.sentinel_tls.as_ref())
                        .await
                        .map_err(|e| format!("{}: {}", e.doing, e.message))?;
                *cached = Some(c);
                fresh = true;
            }
            let Some(conn) = cached.as_mut() else {
                continue;
            };
            match redis::cmd("SENTINEL")
                .arg("MASTERS")
                .query_async(conn)
                .await
            {
                Ok(m) => return Ok(m),
                Err(e) => {
                    *cached = None;
                    if fresh || !(e.is_io_error() || e.is_unrecoverable_error()) {
                        return Err(e.to_string());
                    }
                }
            }
        }
    }

    /// Asks the sentinels in order for the master (`SENTINEL MASTERS`, skipping masters in
    /// s_down/o_down, as redis-py), connects to it (TLS with `ssl`) and confirms its role
    /// with `ROLE`, each sentinel within its own deadline so a silent one cannot hold up
    /// the others.
    async fn resolve(
        &mut self,
        url: &RedisUrl,
    ) -> Result<(MultiplexedConnection, String), StoreError> {
        let Endpoint::Sentinel { service, .. } = &url.endpoint else {
            return Err(redis_err(
                "resolving the master",
                &url.to_string(),
                "no sentinel configured",
            ));
        };
        let budget = connect_budget(url);
        let mut errors = Vec::new();
        for i in 0..self.sentinels.len() {
            let hp = self.sentinels[i].0.clone();
            let masters = match tokio::time::timeout(budget, self.masters(i, url)).await {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    errors.push(format!("sentinel {hp}: {e}"));
                    continue;
                }
                Err(_) => {
                    self.sentinels[i].1 = None;
                    errors.push(format!("sentinel {hp}: no answer within {budget:?}"));
                    continue;
                }
            };
            let Some(master) = masters.iter().find_map(|m| valid_master(m, service)) else {
                errors.push(format!(
                    "sentinel {hp}: no master named {service:?} that is up"
                ));
                continue;
            };
            let found = async {
                let (mut conn, addr) =
                    connect_tcp(url, &master, master_redis_info(url), url.tls.as_ref()).await?;
                let role: Value = redis::cmd("ROLE")
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| redis_err("checking the master's role", &addr, e))?;
                match role_of(&role).as_str() {
                    "master" => Ok((conn, addr)),
                    r => Err(redis_err(
                        "checking the master's role",
                        &addr,
                        format!("ROLE is {r}, not master"),
                    )),
                }
            };
            match found.await {
                Ok((conn, addr)) => {
                    debug!(sentinel = %hp, master = %addr, "Sentinel named the master.");
                    if i > 0 {
                        let s = self.sentinels.remove(i);
                        self.sentinels.insert(0, s);
                    }
                    return Ok((conn, addr));
                }
                Err(e) => errors.push(format!("sentinel {hp} named {master}: {e}")),
            }
        }
        Err(redis_err(
            "asking the sentinels for the master",
            &url.to_string(),
            format!("service {service:?}: {}", errors.join("; ")),
        ))
    }
}

pub(crate) fn sentinel_redis_info(url: &RedisUrl) -> RedisConnectionInfo {
    RedisConnectionInfo {
        db: 0,
        username: url.sentinel_username.clone(),
        password: url
            .sentinel_password
            .as_ref()
            .map(|p| p.expose().to_string()),
        protocol: ProtocolVersion::RESP2,
    }
}

/// Subscribes to `+switch-master` on every sentinel and wakes `notify` when our service
/// moves. Reconnects with backoff. The tasks are aborted when the returned guard drops.
pub(crate) struct SwitchWatch {
    tasks: Vec<JoinHandle<()>>,
}

impl SwitchWatch {
    /// No subscriptions (tests, the in-process backend).
    pub(crate) fn none() -> SwitchWatch {
        SwitchWatch { tasks: Vec::new() }
    }
}

impl Drop for SwitchWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The new master's address announced by the last `+switch-master`, taken by the next
/// connect (confirmed with `ROLE` before use).
pub(crate) type SwitchHint = Arc<std::sync::Mutex<Option<HostPort>>>;

pub(crate) fn watch_switch_master(
    url: &RedisUrl,
    notify: Arc<Notify>,
    hint: SwitchHint,
) -> SwitchWatch {
    use futures_util::StreamExt;
    let Endpoint::Sentinel { service, sentinels } = &url.endpoint else {
        return SwitchWatch { tasks: Vec::new() };
    };
    let tasks = sentinels
        .iter()
        .map(|hp| {
            let redis_info = sentinel_redis_info(url);
            let tls = url.sentinel_tls.clone();
            let hp = hp.clone();
            let service = service.clone();
            let notify = notify.clone();
            let hint = hint.clone();
            let connect_budget = connect_budget(url);
            tokio::spawn(async move {
                let mut backoff = match ExponentialBackoff::new(
                    Duration::from_millis(200),
                    Duration::from_secs(5),
                    0.5,
                ) {
                    Ok(b) => b,
                    Err(_) => return,
                };
                loop {
                    let sub = async {
                        // No keepalive knob for pub/sub connections in redis 0.32.
                        let client = client_for(&hp, redis_info.clone(), tls.as_ref())?;
                        let mut ps = client.get_async_pubsub().await.map_err(|e| e.to_string())?;
                        ps.subscribe("+switch-master").await.map_err(|e| e.to_string())?;
                        Ok::<_, String>(ps)
                    };
                    match tokio::time::timeout(connect_budget, sub).await {
                        Ok(Ok(ps)) => {
                            debug!(sentinel = %hp, "Subscribed to +switch-master.");
                            backoff.reset();
                            let mut stream = ps.into_on_message();
                            while let Some(msg) = stream.next().await {
                                let payload: String = msg.get_payload().unwrap_or_default();
                                // "<name> <old-ip> <old-port> <new-ip> <new-port>"
                                let parts: Vec<&str> = payload.split(' ').collect();
                                if parts.len() == 5 && parts[0] == service.as_str() {
                                    info!(sentinel = %hp, switch = %payload, "Sentinel announced a new master; following it.");
                                    if let (Ok(port), Ok(mut h)) = (parts[4].parse::<u16>(), hint.lock()) {
                                        *h = Some(HostPort { host: parts[3].to_string(), port });
                                    }
                                    notify.notify_one();
                                }
                            }
                            debug!(sentinel = %hp, "Sentinel subscription closed; resubscribing.");
                        }
                        Ok(Err(e)) => debug!(sentinel = %hp, error = %e, "Cannot subscribe to +switch-master."),
                        Err(_) => debug!(sentinel = %hp, "Subscribing to +switch-master timed out."),
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            })
        })
        .collect();
    SwitchWatch { tasks }
}

/// The real store.
pub struct RedisStore {
    url: RedisUrl,
    keys: Keys,
    group: String,
    me: MemberId,
    beat_me: Vec<u8>,
    membership_ms: u64,
    sentinel_mode: bool,
    sentinels: SentinelSet,
    conn: Option<(MultiplexedConnection, String)>,
    hint: SwitchHint,
}

impl RedisStore {
    /// A store for `group` and member `me` on `url` (nothing is connected yet).
    pub fn new(url: RedisUrl, group: &str, me: MemberId) -> RedisStore {
        let keys = Keys::new(&url.namespace, group);
        let beat_me = keys.beat(&me);
        RedisStore {
            membership_ms: url.membership_ms(),
            sentinel_mode: matches!(url.endpoint, Endpoint::Sentinel { .. }),
            sentinels: SentinelSet::new(&url),
            url,
            keys,
            group: group.to_string(),
            me,
            beat_me,
            conn: None,
            hint: SwitchHint::default(),
        }
    }

    /// Shares the `+switch-master` hint written by [`watch_switch_master`].
    pub(crate) fn with_switch_hint(mut self, hint: SwitchHint) -> Self {
        self.hint = hint;
        self
    }

    /// Connects to the master a `+switch-master` announced, if its `ROLE` confirms it.
    async fn connect_hinted(&mut self) -> Option<(MultiplexedConnection, String)> {
        let hp = self.hint.lock().ok()?.take()?;
        let mut url = self.url.clone();
        url.endpoint = Endpoint::Tcp(hp.clone());
        let (mut conn, addr) = open_master(&url, &mut SentinelSet::new(&url)).await.ok()?;
        let role: Value = redis::cmd("ROLE").query_async(&mut conn).await.ok()?;
        if role_of(&role) == "master" {
            Some((conn, addr))
        } else {
            debug!(master = %hp, "Announced master does not confirm its role; asking the sentinels.");
            None
        }
    }

    fn conn(&mut self, doing: &'static str) -> Result<(MultiplexedConnection, String), StoreError> {
        self.conn
            .clone()
            .ok_or_else(|| redis_err(doing, &self.url.to_string(), "not connected"))
    }

    async fn prune(
        &mut self,
        conn: &mut MultiplexedConnection,
        addr: &str,
    ) -> Result<GroupState, StoreError> {
        const DOING: &str = "pruning dead members";
        let e = |x: redis::RedisError| redis_err(DOING, addr, x);
        for _ in 0..MAX_TX_RETRIES {
            let (_, all): ((), Value) = redis::pipe()
                .cmd("WATCH")
                .arg(&self.keys.group)
                .cmd("HGETALL")
                .arg(&self.keys.group)
                .query_async(conn)
                .await
                .map_err(e)?;
            let pairs = hash_pairs(all).map_err(|m| redis_err(DOING, addr, m))?;
            if pairs.is_empty() {
                let _: () = redis::cmd("UNWATCH").query_async(conn).await.map_err(e)?;
                return Ok(GroupState::Missing);
            }
            let members: Vec<(MemberId, Vec<u8>)> = pairs
                .into_iter()
                .filter(|(k, _)| k != CREATED_FIELD)
                .map(|(k, v)| (MemberId::from_bytes(k), v))
                .collect();
            let others: Vec<&MemberId> = members
                .iter()
                .map(|(m, _)| m)
                .filter(|m| **m != self.me)
                .collect();
            let mut dead = Vec::new();
            if !others.is_empty() {
                let beats: Vec<Vec<u8>> = others.iter().map(|m| self.keys.beat(m)).collect();
                let vals: Vec<Value> = redis::cmd("MGET")
                    .arg(&beats)
                    .query_async(conn)
                    .await
                    .map_err(e)?;
                for (m, v) in others.iter().zip(vals.iter()) {
                    if !is_alive(v) {
                        dead.push((*m).clone());
                    }
                }
            }
            if dead.is_empty() {
                let _: () = redis::cmd("UNWATCH").query_async(conn).await.map_err(e)?;
                return Ok(GroupState::Present(members));
            }
            let mut hdel = redis::cmd("HDEL");
            hdel.arg(&self.keys.group);
            for d in &dead {
                hdel.arg(d.as_bytes());
            }
            let r: Value = redis::pipe()
                .atomic()
                .add_command(hdel)
                .query_async(conn)
                .await
                .map_err(e)?;
            if r != Value::Nil {
                let dead_s: Vec<String> = dead.iter().map(|d| d.to_string()).collect();
                debug!(group = %self.group, pruned = ?dead_s, "Pruned members whose heartbeat expired.");
                return Ok(GroupState::Present(
                    members
                        .into_iter()
                        .filter(|(m, _)| !dead.contains(m))
                        .collect(),
                ));
            }
        }
        Err(redis_err(
            DOING,
            addr,
            "the group kept changing under WATCH",
        ))
    }
}

/// `HGETALL` reply as byte pairs.
pub(crate) async fn read_hash(
    conn: &mut MultiplexedConnection,
    key: &[u8],
    doing: &'static str,
    addr: &str,
) -> Result<crate::store::RecordFields, StoreError> {
    let all: Value = redis::cmd("HGETALL")
        .arg(key)
        .query_async(conn)
        .await
        .map_err(|e| redis_err(doing, addr, e))?;
    hash_pairs(all).map_err(|m| redis_err(doing, addr, m))
}

impl Store for RedisStore {
    async fn put_record(
        &mut self,
        name: &str,
        field: Vec<u8>,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        const DOING: &str = "writing a record";
        let (mut conn, addr) = self.conn(DOING)?;
        let key = self.keys.record(name);
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let _: () = redis::pipe()
            .cmd("HSET")
            .arg(&key)
            .arg(field)
            .arg(value)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ms)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(|e| redis_err(DOING, &addr, e))?;
        Ok(())
    }

    async fn get_record(&mut self, name: &str) -> Result<crate::store::RecordFields, StoreError> {
        const DOING: &str = "reading a record";
        let (mut conn, addr) = self.conn(DOING)?;
        read_hash(&mut conn, &self.keys.record(name), DOING, &addr).await
    }

    fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    async fn connect(&mut self) -> Result<(), StoreError> {
        if self.conn.is_none() {
            let (conn, addr) = match self.connect_hinted().await {
                Some(c) => c,
                None => open_master(&self.url, &mut self.sentinels).await?,
            };
            debug!(master = %addr, "Connected to Redis.");
            self.conn = Some((conn, addr));
        }
        Ok(())
    }

    fn disconnect(&mut self) {
        self.conn = None;
    }

    async fn beat_and_read(&mut self) -> Result<GroupState, StoreError> {
        const DOING: &str = "heartbeat and group read";
        let (mut conn, addr) = self.conn(DOING)?;
        let e = |x: redis::RedisError| redis_err(DOING, &addr, x);
        let mut p = redis::pipe();
        if self.sentinel_mode {
            p.cmd("ROLE");
        }
        p.cmd("PSETEX")
            .arg(&self.beat_me)
            .arg(self.membership_ms)
            .arg(BEAT_VALUE)
            .ignore();
        p.cmd("HGETALL").arg(&self.keys.group);
        let mut replies: Vec<Value> = p.query_async(&mut conn).await.map_err(e)?;
        let all = replies.pop().unwrap_or(Value::Nil);
        if self.sentinel_mode {
            let role = replies.first().map(role_of).unwrap_or_default();
            if role != "master" {
                return Err(redis_err(
                    DOING,
                    &addr,
                    format!("server is no longer the master (ROLE {role})"),
                ));
            }
        }
        let pairs = hash_pairs(all).map_err(|m| redis_err(DOING, &addr, m))?;
        if pairs.is_empty() {
            return Ok(GroupState::Missing);
        }
        let members: Vec<(MemberId, Vec<u8>)> = pairs
            .into_iter()
            .filter(|(k, _)| k != CREATED_FIELD)
            .map(|(k, v)| (MemberId::from_bytes(k), v))
            .collect();
        let others: Vec<Vec<u8>> = members
            .iter()
            .filter(|(m, _)| *m != self.me)
            .map(|(m, _)| self.keys.beat(m))
            .collect();
        if others.is_empty() {
            return Ok(GroupState::Present(members));
        }
        let vals: Vec<Value> = redis::cmd("MGET")
            .arg(&others)
            .query_async(&mut conn)
            .await
            .map_err(e)?;
        if vals.iter().all(is_alive) {
            return Ok(GroupState::Present(members));
        }
        self.prune(&mut conn, &addr).await
    }

    async fn join(&mut self, caps: Vec<u8>) -> Result<bool, StoreError> {
        const DOING: &str = "joining the group";
        let (mut conn, addr) = self.conn(DOING)?;
        let e = |x: redis::RedisError| redis_err(DOING, &addr, x);
        for _ in 0..MAX_TX_RETRIES {
            let (_, exists): ((), i64) = redis::pipe()
                .cmd("WATCH")
                .arg(&self.keys.group)
                .cmd("EXISTS")
                .arg(&self.keys.group)
                .query_async(&mut conn)
                .await
                .map_err(e)?;
            let mut tx = redis::pipe();
            tx.atomic();
            if exists == 0 {
                // tooz create_group's effect, without its 1 s wait: SADD + HSET __created__.
                tx.cmd("SADD")
                    .arg(&self.keys.groups)
                    .arg(&self.group)
                    .ignore();
                tx.cmd("HSET")
                    .arg(&self.keys.group)
                    .arg(CREATED_FIELD)
                    .arg("1")
                    .ignore();
            }
            tx.cmd("HSET")
                .arg(&self.keys.group)
                .arg(self.me.as_bytes())
                .arg(&caps)
                .ignore();
            let r: Value = tx.query_async(&mut conn).await.map_err(e)?;
            if r != Value::Nil {
                return Ok(exists == 0);
            }
        }
        Err(redis_err(
            DOING,
            &addr,
            "the group kept changing under WATCH",
        ))
    }

    async fn leave(&mut self) -> Result<(), StoreError> {
        const DOING: &str = "leaving the group";
        let (mut conn, addr) = self.conn(DOING)?;
        let e = |x: redis::RedisError| redis_err(DOING, &addr, x);
        let mut left = false;
        for _ in 0..MAX_TX_RETRIES {
            let (_, exists): ((), i64) = redis::pipe()
                .cmd("WATCH")
                .arg(&self.keys.group)
                .cmd("EXISTS")
                .arg(&self.keys.group)
                .query_async(&mut conn)
                .await
                .map_err(e)?;
            if exists == 0 {
                let _: () = redis::cmd("UNWATCH")
                    .query_async(&mut conn)
                    .await
                    .map_err(e)?;
                left = true;
                break;
            }
            let r: Value = redis::pipe()
                .atomic()
                .cmd("HDEL")
                .arg(&self.keys.group)
                .arg(self.me.as_bytes())
                .ignore()
                .query_async(&mut conn)
                .await
                .map_err(e)?;
            if r != Value::Nil {
                left = true;
                break;
            }
        }
        if !left {
            warn!(group = %self.group, "The group kept changing while leaving; deleting the beat key anyway.");
        }
        let _: () = redis::cmd("DEL")
            .arg(&self.beat_me)
            .query_async(&mut conn)
            .await
            .map_err(e)?;
        Ok(())
    }

    fn member_id(&self) -> &MemberId {
        &self.me
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn response_timeout_is_capped_by_the_ttl() {
        let u = RedisUrl::parse("redis://h:1?timeout=10").unwrap();
        assert_eq!(response_timeout(&u), Duration::from_secs(5));
        let u = RedisUrl::parse("redis://h:1?timeout=10&socket_timeout=2").unwrap();
        assert_eq!(response_timeout(&u), Duration::from_secs(2));
        let u = RedisUrl::parse("redis://h:1?membership_timeout=0.1").unwrap();
        assert_eq!(response_timeout(&u), Duration::from_millis(100));
        assert_eq!(connect_budget(&u), Duration::from_millis(5100));
    }

    #[test]
    fn keys_and_replies() {
        let k = Keys::new("_tooz", "central-global");
        assert_eq!(k.group, b"_tooz_group:central-global");
        assert_eq!(k.groups, b"_tooz_groups");
        assert_eq!(k.beat(&MemberId::from("m")), b"_tooz_beats:m");
        let flat = Value::Array(vec![
            Value::BulkString(b"__created__".to_vec()),
            Value::BulkString(b"1".to_vec()),
        ]);
        assert_eq!(
            hash_pairs(flat).unwrap(),
            vec![(b"__created__".to_vec(), b"1".to_vec())]
        );
        assert!(!is_alive(&Value::BulkString(Vec::new())));
        assert!(!is_alive(&Value::Nil));
        let role = Value::Array(vec![Value::BulkString(b"slave".to_vec())]);
        assert_eq!(role_of(&role), "slave");
    }
}
