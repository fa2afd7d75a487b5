//! Exactly-once polling across a changing group: the pure part.
//!
//! * Cycles are aligned to the wall clock: cycle `k` of interval `I` starts at `k·I` (Unix
//!   time), so every agent shares the boundaries.
//! * Each member announces in its capabilities `active_from` (join time plus a settle
//!   margin longer than one membership read plus the tolerated clock skew) and, when it
//!   leaves gracefully, `active_until`. The membership of cycle `k` is every live member of
//!   ours with `active_from ≤ S_k < active_until`; because of the margin every agent computes
//!   the same set for the same cycle.
//! * A member that finishes its share of a cycle records it (with its instance token). When
//!   a member (more exactly, an incarnation: id + instance token) of a cycle's membership is
//!   gone without having finished that cycle, the survivors split its keys with the ring of
//!   the cycle's membership minus every gone member, and poll them at once: a crash costs no
//!   gap, at most a re-poll of what it had already done.
//!
//! Why the rules are safe when agents momentarily disagree: removing members from a tooz
//! ring only moves the removed members' keys, so an agent that (wrongly) left a member out
//! polls exactly the keys the takeover would have given it — disagreement about a *leaving*
//! member never creates a gap, and disagreement about a *joining* member only duplicates.

use std::collections::{BTreeMap, BTreeSet};

use coordination::{MemberId, MembershipView};
use partitioner::HashRing;

/// Capability key: first cycle start (Unix µs) this member serves.
pub const ACTIVE_FROM: &str = "active_from";
/// Capability key: cycles starting at or after this instant (Unix µs) are not served.
pub const ACTIVE_UNTIL: &str = "active_until";

/// One cycle of one polling interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CycleId {
    /// Interval in seconds.
    pub interval: u64,
    /// Cycle number: the cycle starts at `k·interval` seconds after the Unix epoch.
    pub k: u64,
}

impl CycleId {
    /// The cycle containing instant `now_us` (Unix µs).
    pub fn containing(interval: u64, now_us: i64) -> CycleId {
        let i = (interval.max(1) * 1_000_000) as i64;
        CycleId {
            interval,
            k: now_us.div_euclid(i).max(0) as u64,
        }
    }

    /// The first cycle starting strictly after `now_us`.
    pub fn next_after(interval: u64, now_us: i64) -> CycleId {
        let c = CycleId::containing(interval, now_us);
        CycleId { k: c.k + 1, ..c }
    }

    /// Start, Unix µs.
    pub fn start_us(&self) -> i64 {
        (self.k * self.interval * 1_000_000) as i64
    }

    /// End (start of the next cycle), Unix µs.
    pub fn end_us(&self) -> i64 {
        ((self.k + 1) * self.interval * 1_000_000) as i64
    }

    /// The following cycle.
    pub fn next(&self) -> CycleId {
        CycleId {
            k: self.k + 1,
            ..*self
        }
    }

    /// Name of the completion record of this cycle in the coordination backend.
    pub fn record_name(&self) -> String {
        format!("cycle:{}:{}", self.interval, self.k)
    }
}

/// A member as it takes part in a cycle: its weight and the incarnation (instance token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Ring weight.
    pub weight: u32,
    /// Instance token of the process (a restart under the same id is a new incarnation).
    pub instance: Option<String>,
}

/// The membership of one cycle.
pub type CycleMembers = BTreeMap<MemberId, Participant>;

fn cap_i64(caps: &rmpv::Value, key: &str) -> Option<i64> {
    caps.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .and_then(|(_, v)| v.as_i64())
}

/// The members of `view` serving a cycle that starts at `start_us`.
pub fn cycle_members(view: &MembershipView, start_us: i64) -> CycleMembers {
    view.members
        .iter()
        .filter(|(_, m)| {
            let from = cap_i64(&m.capabilities, ACTIVE_FROM).unwrap_or(i64::MIN);
            let until = cap_i64(&m.capabilities, ACTIVE_UNTIL).unwrap_or(i64::MAX);
            from <= start_us && start_us < until
        })
        .map(|(id, m)| {
            (
                id.clone(),
                Participant {
                    weight: m.weight,
                    instance: m.instance.clone(),
                },
            )
        })
        .collect()
}

/// tooz's ring over `members`, with [`coordination::RING_PARTITIONS`] points per weight
/// unit (not Ceilometer's 32, whose shares are too uneven for the fleet to scale).
pub fn ring_of<'a>(members: impl IntoIterator<Item = (&'a MemberId, u32)>) -> HashRing {
    #[allow(clippy::expect_used)]
    let mut ring = HashRing::new(coordination::RING_PARTITIONS)
        .expect("RING_PARTITIONS is a valid, non-zero partition count");
    for (id, w) in members {
        // Ids are unique (map keys) and weights ≥ 1, so adding cannot fail; a member that
        // somehow could not be added simply owns nothing.
        let _ = ring.add_member(id.as_bytes(), w.max(1));
    }
    ring
}

/// Who owns what in one cycle, from this member's point of view.
pub struct Assignment {
    ring: HashRing,
    me: MemberId,
}

impl Assignment {
    /// The assignment of a cycle's membership.
    pub fn new(members: &CycleMembers, me: &MemberId) -> Assignment {
        Assignment {
            ring: ring_of(members.iter().map(|(id, p)| (id, p.weight))),
            me: me.clone(),
        }
    }

    /// Whether this member polls `key` in this cycle.
    pub fn owns(&self, key: &[u8]) -> bool {
        self.ring
            .owner(key)
            .is_some_and(|m| m.id() == self.me.as_bytes())
    }

    /// Whether this member is part of the cycle at all.
    pub fn is_member(&self) -> bool {
        self.ring.contains(self.me.as_bytes())
    }

    /// Number of members.
    pub fn members(&self) -> usize {
        self.ring.len()
    }
}

/// The keys this member must poll for a cycle after some of its members went away without
/// finishing it.
///
/// `gone_before` are the members whose share was already taken over (by an earlier call);
/// `gone_now` ⊇ `gone_before` is every member gone so far. A key is taken now when the
/// cycle's ring gave it to a gone member, the ring without every gone member gives it to
/// us, and the earlier takeover did not already give it to us.
pub struct Takeover {
    ring: HashRing,
    now_ring: HashRing,
    before_ring: HashRing,
    gone_now: BTreeSet<Vec<u8>>,
    gone_before: BTreeSet<Vec<u8>>,
    me: Vec<u8>,
}

impl Takeover {
    /// Build the takeover of `members`' cycle for `me`.
    pub fn new(
        members: &CycleMembers,
        gone_before: &BTreeSet<MemberId>,
        gone_now: &BTreeSet<MemberId>,
        me: &MemberId,
    ) -> Takeover {
        let all = ring_of(members.iter().map(|(id, p)| (id, p.weight)));
        let without = |gone: &BTreeSet<MemberId>| {
            ring_of(
                members
                    .iter()
                    .filter(|(id, _)| !gone.contains(*id))
                    .map(|(id, p)| (id, p.weight)),
            )
        };
        Takeover {
            now_ring: without(gone_now),
            before_ring: without(gone_before),
            ring: all,
            gone_now: gone_now.iter().map(|m| m.as_bytes().to_vec()).collect(),
            gone_before: gone_before.iter().map(|m| m.as_bytes().to_vec()).collect(),
            me: me.as_bytes().to_vec(),
        }
    }

    /// Whether this member must poll `key` now.
    pub fn owns(&self, key: &[u8]) -> bool {
        let Some(orig) = self.ring.owner(key) else {
            return false;
        };
        let me = self.me.as_slice();
        let now = self.gone_now.contains(orig.id())
            && self.now_ring.owner(key).is_some_and(|m| m.id() == me);
        let before = self.gone_before.contains(orig.id())
            && self.before_ring.owner(key).is_some_and(|m| m.id() == me);
        now && !before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coordination::{ConnectionState, Member};

    fn member(weight: u32, instance: &str, from: Option<i64>, until: Option<i64>) -> Member {
        let mut caps = vec![(rmpv::Value::from("weight"), rmpv::Value::from(weight))];
        if let Some(f) = from {
            caps.push((ACTIVE_FROM.into(), f.into()));
        }
        if let Some(u) = until {
            caps.push((ACTIVE_UNTIL.into(), u.into()));
        }
        Member {
            weight,
            instance: Some(instance.into()),
            capabilities: rmpv::Value::Map(caps),
        }
    }

    fn view(members: Vec<(&str, Member)>) -> MembershipView {
        MembershipView {
            epoch: 1,
            state: ConnectionState::Connected,
            self_id: MemberId::from("a"),
            members: members
                .into_iter()
                .map(|(id, m)| (MemberId::from(id), m))
                .collect(),
            foreign: BTreeMap::new(),
            duplicate_instance: None,
        }
    }

    #[test]
    fn cycles_are_aligned_to_the_wall_clock() {
        let c = CycleId::containing(300, 1_000 * 1_000_000 + 5);
        assert_eq!(
            (c.k, c.start_us(), c.end_us()),
            (3, 900_000_000, 1_200_000_000)
        );
        assert_eq!(CycleId::next_after(300, 900_000_000).k, 4);
        assert_eq!(CycleId::next_after(300, 899_999_999).k, 3);
        assert_eq!(c.record_name(), "cycle:300:3");
    }

    #[test]
    fn active_window_selects_the_cycle_members() {
        let v = view(vec![
            ("a", member(1, "ia", None, None)),
            ("b", member(1, "ib", Some(100), None)),
            ("c", member(2, "ic", None, Some(100))),
        ]);
        let at = |t| {
            cycle_members(&v, t)
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(at(99), vec!["a", "c"]);
        assert_eq!(at(100), vec!["a", "b"]);
        assert_eq!(cycle_members(&v, 0)[&MemberId::from("c")].weight, 2);
    }

    fn keys() -> Vec<String> {
        (0..5000).map(|i| format!("{i:08x}-key")).collect()
    }

    fn members(ids: &[&str]) -> CycleMembers {
        ids.iter()
            .map(|id| {
                (
                    MemberId::from(*id),
                    Participant {
                        weight: 1,
                        instance: Some(format!("i{id}")),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn every_key_has_exactly_one_owner() {
        let m = members(&["a", "b", "c"]);
        let owners: Vec<Assignment> = m.keys().map(|id| Assignment::new(&m, id)).collect();
        for k in keys() {
            assert_eq!(
                owners.iter().filter(|a| a.owns(k.as_bytes())).count(),
                1,
                "{k}"
            );
        }
    }

    /// The reason for [`coordination::RING_PARTITIONS`]: no member of a fleet of 2, 4 or 8
    /// (named as operators and the load benchmark name them) owns much more than 1/N.
    #[test]
    fn shares_are_close_to_even() {
        assert!(coordination::DEFAULT_KEY_SCHEME
            .ends_with(&format!("-p{}", coordination::RING_PARTITIONS)));
        let keys: Vec<String> = (0..40_000).map(|i| format!("{i:08x}-key")).collect();
        for n in [2usize, 4, 8] {
            let ids: Vec<String> = (1..=n).map(|i| format!("agent-{i}")).collect();
            let m = members(&ids.iter().map(String::as_str).collect::<Vec<_>>());
            let ring = ring_of(m.iter().map(|(id, p)| (id, p.weight)));
            let mut counts = BTreeMap::new();
            for k in &keys {
                if let Some(o) = ring.owner(k.as_bytes()) {
                    *counts.entry(o.id().to_vec()).or_insert(0usize) += 1;
                }
            }
            let largest = counts.values().copied().max().unwrap_or(0) as f64 / keys.len() as f64;
            assert!(
                largest * (n as f64) < 1.1,
                "{n} members: the largest share is {largest:.3}, more than 10% above 1/{n}"
            );
        }
    }

    fn set(ids: &[&str]) -> BTreeSet<MemberId> {
        ids.iter().map(|s| MemberId::from(*s)).collect()
    }

    /// After members die, each key of the cycle is polled exactly once in total by the
    /// survivors (own share + takeovers), however the deaths are discovered.
    #[test]
    fn takeovers_cover_dead_shares_exactly_once_even_for_successive_deaths() {
        let m = members(&["a", "b", "c", "d", "e"]);
        // d dies first, then e: two successive takeovers on each survivor.
        let polls: Vec<Box<dyn Fn(&[u8]) -> bool>> = ["a", "b", "c"]
            .iter()
            .flat_map(|s| {
                let me = MemberId::from(*s);
                let own = Assignment::new(&m, &me);
                let t1 = Takeover::new(&m, &set(&[]), &set(&["d"]), &me);
                let t2 = Takeover::new(&m, &set(&["d"]), &set(&["d", "e"]), &me);
                let v: Vec<Box<dyn Fn(&[u8]) -> bool>> = vec![
                    Box::new(move |k| own.owns(k)),
                    Box::new(move |k| t1.owns(k)),
                    Box::new(move |k| t2.owns(k)),
                ];
                v
            })
            .collect();
        for k in keys() {
            let n = polls.iter().filter(|p| p(k.as_bytes())).count();
            assert_eq!(n, 1, "{k}");
        }
    }

    #[test]
    fn an_agent_that_missed_a_leave_and_one_that_saw_it_still_cover_everything() {
        // b left before the cycle; agent a computed the cycle with b, agent c without b.
        let with_b = members(&["a", "b", "c"]);
        let without_b = members(&["a", "c"]);
        let (a, c) = (MemberId::from("a"), MemberId::from("c"));
        let a_own = Assignment::new(&with_b, &a);
        let a_takeover = Takeover::new(&with_b, &set(&[]), &set(&["b"]), &a);
        let c_own = Assignment::new(&without_b, &c);
        for k in keys() {
            let key = k.as_bytes();
            let polls = usize::from(a_own.owns(key))
                + usize::from(a_takeover.owns(key))
                + usize::from(c_own.owns(key));
            assert_eq!(polls, 1, "{k}");
        }
    }
}
