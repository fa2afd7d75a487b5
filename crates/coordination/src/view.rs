//! The membership view published to the agent, and the ids it is keyed by.

use std::collections::BTreeMap;
use std::fmt;

use rmpv::Value;
use tokio::time::Instant;

use crate::caps::ForeignReason;

/// A tooz member id: raw bytes (tooz always hands ids back as bytes). Ours are UTF-8.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(Vec<u8>);

impl MemberId {
    /// Wraps raw id bytes.
    pub fn from_bytes(b: impl Into<Vec<u8>>) -> Self {
        MemberId(b.into())
    }
    /// The id bytes (what the hash ring hashes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for MemberId {
    fn from(s: &str) -> Self {
        MemberId(s.as_bytes().to_vec())
    }
}

impl From<String> for MemberId {
    fn from(s: String) -> Self {
        MemberId(s.into_bytes())
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// One of our members (a Rust agent with our key scheme): it takes part in the ring.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The Partitioner weight (tooz rule: integer `weight` in a map, else 1).
    pub weight: u32,
    /// The member's process instance token.
    pub instance: Option<String>,
    /// The full decoded capabilities map (for keys the agent adds, e.g. `active_from`).
    pub capabilities: Value,
}

/// A live member that is not ours: kept out of the ring.
#[derive(Clone, Debug, PartialEq)]
pub struct ForeignMember {
    /// The weight tooz would give it.
    pub weight: u32,
    /// Why it is foreign.
    pub reason: ForeignReason,
    /// Its decoded capabilities (`Nil` when undecodable).
    pub capabilities: Value,
}

/// The connection to Redis as the membership task sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not yet connected since start: the view has no data from Redis.
    Connecting,
    /// The last tick reached Redis.
    Connected,
    /// Redis is unreachable since `since`; the view follows the outage policy.
    Degraded {
        /// When the outage started (tokio clock).
        since: Instant,
    },
}

/// What the view shows while Redis cannot be reached (`[coordination] outage_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutagePolicy {
    /// Keep the last membership view (the other agents do the same, so coverage stays
    /// exact unless an agent dies during the outage). Before the first successful read:
    /// no members (wait for `state` to leave `Connecting` before the first cycle).
    #[default]
    LastView,
    /// No members at all: the agent polls nothing (Python ceilometer's behaviour).
    None,
    /// Only ourselves: the agent polls everything.
    All,
}

impl std::str::FromStr for OutagePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "last_view" => Ok(OutagePolicy::LastView),
            "none" => Ok(OutagePolicy::None),
            "all" => Ok(OutagePolicy::All),
            other => Err(format!(
                "outage_policy {other:?} is invalid: expected last_view, none or all"
            )),
        }
    }
}

/// A snapshot of the group, as published on the `watch` channel.
///
/// The channel is only written when `members`, `foreign`, `state` or `duplicate_instance`
/// change; `epoch` increases only when `members` or `foreign` change.
#[derive(Clone, Debug, PartialEq)]
pub struct MembershipView {
    /// Bumped on every change of `members` or `foreign`.
    pub epoch: u64,
    /// The connection state.
    pub state: ConnectionState,
    /// Our own member id.
    pub self_id: MemberId,
    /// The members the ring is built from: live members of ours (always including
    /// ourselves while connected), or what the outage policy says while degraded.
    pub members: BTreeMap<MemberId, Member>,
    /// Live members that are not ours (Python agents, other key schemes).
    pub foreign: BTreeMap<MemberId, ForeignMember>,
    /// Set when another live process wrote our member id with a different instance token.
    pub duplicate_instance: Option<String>,
}

impl MembershipView {
    /// Number of foreign members (the gauge the agent exports).
    pub fn foreign_count(&self) -> usize {
        self.foreign.len()
    }

    /// `(id, weight)` pairs for building the ring.
    pub fn weights(&self) -> impl Iterator<Item = (&MemberId, u32)> {
        self.members.iter().map(|(id, m)| (id, m.weight))
    }

    /// Whether Redis was reached on the last tick.
    pub fn is_connected(&self) -> bool {
        self.state == ConnectionState::Connected
    }
}
