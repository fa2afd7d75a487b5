//! `group members`: a read-only look at a group, for operators.

use std::time::Duration;

use redis::Value;

use crate::caps;
use crate::redis_store::{hash_pairs, open_master, redis_err, Keys, SentinelSet, CREATED_FIELD};
use crate::url::RedisUrl;
use crate::view::MemberId;
use crate::Error;

/// Whether a member takes part in our ring.
#[derive(Clone, Debug, PartialEq)]
pub enum MemberKind {
    /// A ceilometer-central member with our key scheme.
    Ours,
    /// Anything else, and why.
    Foreign(caps::ForeignReason),
}

/// One member of a group as `group members` prints it.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberDescription {
    /// The member id.
    pub id: MemberId,
    /// Its weight (tooz rule).
    pub weight: u32,
    /// The remaining TTL of its beat key (`PTTL`); `None` when the key is gone, i.e. the
    /// member is dead and the next reader prunes it.
    pub heartbeat_ttl: Option<Duration>,
    /// Ours or foreign.
    pub kind: MemberKind,
    /// Whether this is the given host's member id.
    pub is_this_host: bool,
    /// Its instance token, if it has one.
    pub instance: Option<String>,
}

impl MemberDescription {
    /// Whether the member's beat key is still there.
    pub fn is_alive(&self) -> bool {
        self.heartbeat_ttl.is_some()
    }
}

/// Reads `group` without changing anything (no pruning, no beat): every field of the
/// group hash with its weight, beat TTL, kind and whether it is `this_host`. Dead members
/// (beat key gone, not yet pruned) are included with `heartbeat_ttl: None`; sorted by id.
/// A missing group gives an empty list.
pub async fn describe_members(
    url: &RedisUrl,
    group: &str,
    this_host: &MemberId,
    key_scheme: &str,
) -> Result<Vec<MemberDescription>, Error> {
    url.check_supported()?;
    let keys = Keys::new(&url.namespace, group);
    let mut sentinels = SentinelSet::new(url);
    let (mut conn, addr) = open_master(url, &mut sentinels).await?;
    const DOING: &str = "reading the group";
    let all: Value = redis::cmd("HGETALL")
        .arg(&keys.group)
        .query_async(&mut conn)
        .await
        .map_err(|e| redis_err(DOING, &addr, e))?;
    let pairs = hash_pairs(all).map_err(|m| redis_err(DOING, &addr, m))?;
    let members: Vec<(MemberId, Vec<u8>)> = pairs
        .into_iter()
        .filter(|(k, _)| k != CREATED_FIELD)
        .map(|(k, v)| (MemberId::from_bytes(k), v))
        .collect();
    let mut ttls: Vec<i64> = Vec::new();
    if !members.is_empty() {
        let mut p = redis::pipe();
        for (m, _) in &members {
            p.cmd("PTTL").arg(keys.beat(m));
        }
        ttls = p
            .query_async(&mut conn)
            .await
            .map_err(|e| redis_err(DOING, &addr, e))?;
    }
    let mut out: Vec<MemberDescription> = members
        .into_iter()
        .zip(ttls)
        .map(|((id, bytes), ttl)| {
            let (value, kind) = match caps::decode(&bytes) {
                Ok(v) => {
                    let k = match caps::classify(&v, key_scheme) {
                        Ok(()) => MemberKind::Ours,
                        Err(r) => MemberKind::Foreign(r),
                    };
                    (v, k)
                }
                Err(e) => (
                    rmpv::Value::Nil,
                    MemberKind::Foreign(caps::ForeignReason::Undecodable(e)),
                ),
            };
            MemberDescription {
                is_this_host: &id == this_host,
                weight: caps::weight(&value),
                instance: caps::instance(&value).map(str::to_string),
                // -2: no key; -1: no expiry (never written by tooz, but alive).
                heartbeat_ttl: match ttl {
                    -2 => None,
                    -1 => Some(Duration::MAX),
                    n => Some(Duration::from_millis(u64::try_from(n).unwrap_or(0))),
                },
                id,
                kind,
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Reads one of our record hashes (see [`crate::Coordinator::put_record`]) without joining:
/// for `status` and other read-only tools.
pub async fn read_record(
    url: &RedisUrl,
    group: &str,
    name: &str,
) -> Result<crate::store::RecordFields, Error> {
    url.check_supported()?;
    let keys = Keys::new(&url.namespace, group);
    let mut sentinels = SentinelSet::new(url);
    let (mut conn, addr) = open_master(url, &mut sentinels).await?;
    Ok(
        crate::redis_store::read_hash(&mut conn, &keys.record(name), "reading a record", &addr)
            .await?,
    )
}
