//! tooz-compatible group membership on Redis and Redis Sentinel.
//!
//! Knows nothing of OpenStack: it keeps this agent in a tooz group and publishes the
//! membership view the agent builds its ring from.
//!
//! * Keys, values and transactions are tooz's Redis driver's (`<ns>_groups`,
//!   `<ns>_group:<group>` with `__created__`, `<ns>_beats:<member>` via `PSETEX`), so Python
//!   tooz clients see our member, its weight and its departure as they see their own.
//! * [`start`] spawns one task that beats and reads the group every `heartbeat`, rejoins
//!   when our member was pruned or the group vanished, and publishes a [`MembershipView`]
//!   on a `watch` channel whenever membership changes.
//! * When Redis is unreachable the task never exits: it keeps the view the
//!   [`OutagePolicy`] says, logs the outage once and its end once, and retries with capped
//!   jittered backoff. Behind Sentinel it re-resolves the master on every reconnect and
//!   follows `+switch-master` at once.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod caps;
mod describe;
mod redis_store;
mod runner;
mod store;
pub mod url;
mod view;

mod fake;
pub mod memory;

use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

pub use caps::{ForeignReason, AGENT_NAME};
pub use describe::{describe_members, read_record, MemberDescription, MemberKind};
pub use redis_store::{Keys, BEAT_VALUE, CREATED_FIELD};
pub use store::{RecordFields, StoreError};
pub use url::{Endpoint, HostPort, RedisUrl, Secret, UrlError};
pub use view::{ConnectionState, ForeignMember, Member, MemberId, MembershipView, OutagePolicy};

/// The ownership scheme this build uses: which resource keys it hashes (`stable-v1`: the
/// stable partition keys) and on which ring (`p1024`: tooz's `HashRing` with 1024 points
/// per weight unit, see [`RING_PARTITIONS`]). Members announcing another scheme would
/// disagree about who owns what, so they are foreign: kept out of the ring, and each side
/// covers everything (duplicates during a rolling upgrade, never gaps).
pub const DEFAULT_KEY_SCHEME: &str = "stable-v1-p1024";

/// Points per weight unit on our agents' ring.
///
/// tooz and Ceilometer use 32, which leaves the shares uneven: with 4 members named
/// `agent-1`…`agent-4` the largest owns 33% instead of 25%, so the fleet's cycle lasts a
/// third longer than it needs to. With 1024 points the largest share of 2, 4 and 8
/// members is within 1–6% of 1/N; lookups stay a binary search over a few thousand points.
/// The algorithm is still tooz's, so `ring --partitions 1024` in Python gives the same
/// owners.
pub const RING_PARTITIONS: u32 = 1024;

/// Everything the coordinator needs; the agent's config crate fills it from
/// `ceilometer.conf`.
#[derive(Clone, Debug)]
pub struct CoordinationConfig {
    /// `[coordination] backend_url`, parsed.
    pub backend_url: RedisUrl,
    /// Our member id: `[coordination] member_id`, else `[DEFAULT] host`. Stable across
    /// restarts so a restart does not reshuffle the ring.
    pub member_id: MemberId,
    /// The tooz group id, e.g. `central-global`.
    pub group: String,
    /// `[coordination] heartbeat` (default 1 s): beat and read cadence.
    pub heartbeat: Duration,
    /// Our ring weight (default 1).
    pub weight: u32,
    /// Our resource-key scheme (default [`DEFAULT_KEY_SCHEME`]).
    pub key_scheme: String,
    /// Extra capabilities keys (e.g. `active_from`); may not use [`caps::RESERVED_KEYS`].
    pub extra_capabilities: Vec<(String, Value)>,
    /// `[coordination] outage_policy` (default `last_view`).
    pub outage_policy: OutagePolicy,
}

impl CoordinationConfig {
    /// A configuration with the defaults: heartbeat 1 s, weight 1, key scheme
    /// [`DEFAULT_KEY_SCHEME`], no extra capabilities, outage policy `last_view`.
    pub fn new(backend_url: RedisUrl, member_id: impl Into<MemberId>, group: &str) -> Self {
        CoordinationConfig {
            backend_url,
            member_id: member_id.into(),
            group: group.to_string(),
            heartbeat: Duration::from_secs(1),
            weight: 1,
            key_scheme: DEFAULT_KEY_SCHEME.to_string(),
            extra_capabilities: Vec::new(),
            outage_policy: OutagePolicy::LastView,
        }
    }

    /// Checks the settings against each other. Called by [`start`].
    pub fn validate(&self) -> Result<(), Error> {
        self.backend_url.check_supported()?;
        let bad = |what: &str, why: String| Error::Config(format!("{what}: {why}"));
        if self.member_id.as_bytes().is_empty() {
            return Err(bad("member_id", "must not be empty".into()));
        }
        if self.member_id.as_bytes() == CREATED_FIELD {
            return Err(bad(
                "member_id",
                "\"__created__\" is reserved by tooz".into(),
            ));
        }
        if self.group.is_empty() {
            return Err(bad("group", "must not be empty".into()));
        }
        if self.heartbeat.is_zero() {
            return Err(bad(
                "[coordination] heartbeat",
                "must be greater than 0".into(),
            ));
        }
        let ttl = self.backend_url.membership_timeout;
        if self.heartbeat >= ttl {
            return Err(bad(
                "[coordination] heartbeat",
                format!(
                    "{:?} is not shorter than membership_timeout {:?} from backend_url {}: \
                     our member would expire between beats",
                    self.heartbeat, ttl, self.backend_url
                ),
            ));
        }
        check_extra(&self.extra_capabilities)?;
        Ok(())
    }
}

/// Our member id as ceilometer.conf gives it: `[coordination] member_id` when set and
/// not blank, else `[DEFAULT] host`. Stable across restarts, unlike Python ceilometer's
/// random uuid4, so a restart does not reshuffle the ring.
pub fn member_id_from(member_id: Option<&str>, host: &str) -> MemberId {
    match member_id.map(str::trim) {
        Some(m) if !m.is_empty() => MemberId::from(m),
        _ => MemberId::from(host.trim()),
    }
}

fn check_extra(extra: &[(String, Value)]) -> Result<(), Error> {
    for (k, _) in extra {
        if caps::RESERVED_KEYS.contains(&k.as_str()) {
            return Err(Error::Config(format!(
                "extra capability {k:?} is reserved (reserved: {:?})",
                caps::RESERVED_KEYS
            )));
        }
    }
    Ok(())
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed or unsupported backend URL.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// Inconsistent settings.
    #[error("invalid coordination setting {0}")]
    Config(String),
    /// A Redis operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The membership task is gone (after `leave`).
    #[error("the membership task has stopped")]
    Stopped,
}

/// A handle on the running membership task.
pub struct Coordinator {
    cmds: mpsc::Sender<runner::Command>,
    task: Option<JoinHandle<()>>,
    member_id: MemberId,
    instance: String,
    _switch_watch: redis_store::SwitchWatch,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("member_id", &self.member_id)
            .field("instance", &self.instance)
            .finish()
    }
}

/// Validates `config` and starts the membership task: connect, beat at once, create the
/// group if missing, join, then beat and read every heartbeat. Never waits for Redis:
/// the first view arrives on the channel once the first tick succeeds.
///
/// Must be called inside a tokio runtime.
pub fn start(
    config: CoordinationConfig,
) -> Result<(Coordinator, watch::Receiver<MembershipView>), Error> {
    config.validate()?;
    for opt in &config.backend_url.ignored_options {
        tracing::debug!(option = %opt, url = %config.backend_url, "backend_url option has no effect here.");
    }
    let hint = redis_store::SwitchHint::default();
    let store = redis_store::RedisStore::new(
        config.backend_url.clone(),
        &config.group,
        config.member_id.clone(),
    )
    .with_switch_hint(hint.clone());
    let switch = Arc::new(Notify::new());
    let watch_guard = redis_store::watch_switch_master(&config.backend_url, switch.clone(), hint);
    spawn_with(store, &config, switch, watch_guard)
}

pub(crate) fn spawn_with<S: store::Store>(
    store: S,
    config: &CoordinationConfig,
    switch: Arc<Notify>,
    switch_watch: redis_store::SwitchWatch,
) -> Result<(Coordinator, watch::Receiver<MembershipView>), Error> {
    let instance = backoff::instance_token();
    let settings = runner::Settings {
        group: config.group.clone(),
        heartbeat: config.heartbeat,
        weight: config.weight,
        key_scheme: config.key_scheme.clone(),
        outage_policy: config.outage_policy,
        target: config.backend_url.to_string(),
        membership_timeout: config.backend_url.membership_timeout,
    };
    let member_id = store.member_id().clone();
    let (runner, rx) = runner::Runner::new(
        store,
        settings,
        instance.clone(),
        config.extra_capabilities.clone(),
    );
    let (tx, cmds) = mpsc::channel(8);
    let task = tokio::spawn(runner.run(cmds, switch));
    Ok((
        Coordinator {
            cmds: tx,
            task: Some(task),
            member_id,
            instance,
            _switch_watch: switch_watch,
        },
        rx,
    ))
}

impl Coordinator {
    /// Our member id.
    pub fn member_id(&self) -> &MemberId {
        &self.member_id
    }

    /// This process's random instance token (in our capabilities as `instance`).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Replaces the extra capabilities and rewrites our field at once (HSET under WATCH,
    /// creating the group or rejoining if needed). While Redis is unreachable it returns
    /// `Ok` and the next successful tick writes them.
    pub async fn update_capabilities(&self, extra: Vec<(String, Value)>) -> Result<(), Error> {
        check_extra(&extra)?;
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(runner::Command::Update { extra, reply })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?.map_err(Error::from)
    }

    /// Writes `field` of our record hash `name` with a TTL (e.g. a cycle-completion record).
    /// Fails while Redis is unreachable: the caller decides whether that matters.
    pub async fn put_record(
        &self,
        name: &str,
        field: &[u8],
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(runner::Command::PutRecord {
                name: name.to_owned(),
                field: field.to_vec(),
                value,
                ttl,
                reply,
            })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?.map_err(Error::from)
    }

    /// Every field of our record hash `name`.
    pub async fn get_record(&self, name: &str) -> Result<crate::store::RecordFields, Error> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(runner::Command::GetRecord {
                name: name.to_owned(),
                reply,
            })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?.map_err(Error::from)
    }

    /// Leaves the group like [`Coordinator::leave`], for a handle that is shared: the task
    /// stops; later calls on this handle fail with [`Error::Stopped`].
    pub async fn leave_group(&self) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(runner::Command::Leave { reply })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?.map_err(Error::from)
    }

    /// Leaves the group (HDEL our field under WATCH, DEL our beat key) and stops the task.
    pub async fn leave(mut self) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(runner::Command::Leave { reply })
            .await
            .map_err(|_| Error::Stopped)?;
        let r = rx.await.map_err(|_| Error::Stopped)?;
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        r.map_err(Error::from)
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        // Dropping without `leave` stops beating: peers prune us after membership_timeout.
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn member_id_and_validation() {
        assert_eq!(member_id_from(Some("x"), "h"), MemberId::from("x"));
        assert_eq!(member_id_from(Some(" "), "h"), MemberId::from("h"));
        assert_eq!(member_id_from(None, "h"), MemberId::from("h"));
        let url = RedisUrl::parse("redis://h:1?membership_timeout=1").unwrap();
        let mut c = CoordinationConfig::new(url, "m", "g");
        assert!(c.validate().is_err(), "heartbeat 1 s >= ttl 1 s");
        c.heartbeat = Duration::from_millis(500);
        assert!(c.validate().is_ok());
        c.extra_capabilities = vec![("instance".into(), Value::from(1))];
        assert!(c.validate().is_err());
        let tls = RedisUrl::parse("rediss://h:1").unwrap();
        let mut c = CoordinationConfig::new(tls, "m", "g");
        c.heartbeat = Duration::from_millis(500);
        assert!(c.validate().is_ok(), "TLS is supported");
        let url = RedisUrl::parse("redis://h:1").unwrap();
        assert!(CoordinationConfig::new(url, "__created__", "g")
            .validate()
            .is_err());
    }
}
