//! Consistent-hashing properties the agent relies on during membership churn, plus a
//! balance report for Ceilometer's default ring shape.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;

use partitioner::{HashRing, Partitioner, DEFAULT_PARTITIONS};
use proptest::prelude::*;

/// Distinct member ids with weights 1..=3, in insertion order.
///
/// All ids have the same length on purpose: ids that are repetitions of a common string
/// (`"-"` and `"--"`) share points, because point r is md5 of the id repeated r+2 times,
/// and then tooz's remove deletes the shared point for both (see
/// `repeated_ids_share_points_like_tooz`). Equal-length distinct ids can never do that,
/// and neither can Ceilometer's uuid ids.
fn members() -> impl Strategy<Value = Vec<(String, u32)>> {
    prop::collection::btree_map("[a-z0-9-]{8}", 1u32..=3, 1..8)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

fn keys() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..64)
}

fn owner<'a>(ring: &'a HashRing, key: &[u8]) -> Option<&'a [u8]> {
    ring.owner(key).map(|m| m.id())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// The batch lookups are only an optimisation: for any ring and any keys (any
    /// lengths, mixed, any batch size including ones that are not a multiple of the lane
    /// count) they must give exactly the single-key answers, in order.
    #[test]
    fn batch_lookups_equal_single_key(
        members in members(),
        partitions in 1u32..40,
        keys in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..70),
        me in any::<prop::sample::Index>(),
    ) {
        let ring = HashRing::with_members(partitions, members.iter().map(|(i, w)| (i, *w))).unwrap();
        let mut out = vec![None];
        ring.owners_of(&keys, &mut out);
        prop_assert_eq!(out.len(), keys.len() + 1, "appends, does not clear");
        let single: Vec<_> = keys.iter().map(|k| ring.owner(k)).collect();
        prop_assert_eq!(&out[1..], single.as_slice());

        let self_id = &me.get(&members).0;
        let p = Partitioner::from_weights(self_id, partitions, members.iter().map(|(i, w)| (i, *w))).unwrap();
        let mut mine = Vec::new();
        p.owned_by_self(keys.iter().map(Vec::as_slice), &mut mine);
        let single: Vec<bool> = keys.iter().map(|k| p.belongs_to_self(k)).collect();
        prop_assert_eq!(&mine, &single);
        let mut kept = keys.clone();
        p.retain_owned_by_self(&mut kept, |k| k.as_slice());
        let want: Vec<Vec<u8>> = keys.iter().filter(|k| p.belongs_to_self(k)).cloned().collect();
        prop_assert_eq!(kept, want);
    }

    /// A join must only take keys for the newcomer; every other key stays where it was,
    /// otherwise a join would make established members drop or double-poll resources.
    #[test]
    fn adding_only_moves_keys_to_the_new_member(
        members in members(),
        partitions in 1u32..40,
        newcomer in "[A-Z]{1,8}",
        weight in 1u32..=3,
        keys in keys(),
    ) {
        let before = HashRing::with_members(partitions, members.iter().map(|(i, w)| (i, *w))).unwrap();
        let mut after = before.clone();
        after.add_member(&newcomer, weight).unwrap();
        for key in &keys {
            let (b, a) = (owner(&before, key), owner(&after, key));
            prop_assert!(a == b || a == Some(newcomer.as_bytes()),
                "key {:?} moved from {:?} to {:?}", key, b, a);
        }
    }

    /// A leave must only re-home the leaver's keys.
    #[test]
    fn removing_only_moves_that_members_keys(
        members in members(),
        partitions in 1u32..40,
        pick in any::<prop::sample::Index>(),
        keys in keys(),
    ) {
        let before = HashRing::with_members(partitions, members.iter().map(|(i, w)| (i, *w))).unwrap();
        let gone = &members[pick.index(members.len())].0;
        let mut after = before.clone();
        after.remove_member(gone).unwrap();
        for key in &keys {
            let (b, a) = (owner(&before, key), owner(&after, key));
            if b != Some(gone.as_bytes()) {
                prop_assert_eq!(a, b);
            } else {
                prop_assert_ne!(a, Some(gone.as_bytes()));
            }
        }
    }

    /// Incremental changes and a fresh build must agree exactly, since every peer builds
    /// its ring from a different history of joins and leaves.
    #[test]
    fn remove_then_rebuild_equals_fresh_build(
        members in members(),
        partitions in 1u32..40,
        pick in any::<prop::sample::Index>(),
    ) {
        let i = pick.index(members.len());
        let mut incremental = HashRing::new(partitions).unwrap();
        for (id, w) in &members {
            incremental.add_member(id, *w).unwrap();
        }
        prop_assert_eq!(
            &incremental,
            &HashRing::with_members(partitions, members.iter().map(|(i, w)| (i, *w))).unwrap()
        );
        incremental.remove_member(&members[i].0).unwrap();
        let rest = members.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, (id, w))| (id, *w));
        let fresh = HashRing::with_members(partitions, rest).unwrap();
        prop_assert_eq!(&incremental, &fresh);
        // And re-adding restores the original.
        incremental.add_member(&members[i].0, members[i].1).unwrap();
        prop_assert_eq!(
            incremental,
            HashRing::with_members(partitions, members.iter().map(|(i, w)| (i, *w))).unwrap()
        );
    }
}

/// tooz quirk, mirrored on purpose: "-" point 2 and "--" point 0 are both md5("----").
/// The later add wins the shared point, and removing "--" deletes it outright, so "-" is
/// left with 3 of its 4 points and the ring differs from a fresh build of just "-".
/// Checked against tooz 9.1.0's HashRing (`remove_node` does `del ring[pos]`).
#[test]
fn repeated_ids_share_points_like_tooz() {
    let mut ring = HashRing::with_members(4, [("-", 1), ("--", 1)]).unwrap();
    assert_eq!(ring.point_count(), 7);
    let shared = partitioner::key_position(b"----");
    let owner_of_shared = ring.points().find(|(p, _)| *p == shared).unwrap().1;
    assert_eq!(owner_of_shared.id(), b"--");
    ring.remove_member("--").unwrap();
    assert_eq!(ring.point_count(), 3);
    assert_ne!(ring, HashRing::with_members(4, [("-", 1)]).unwrap());
}

/// Deterministic splitmix64, so the share report is reproducible without a rand dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Lowercase hyphenated uuid4-looking text, like Ceilometer member ids and resource ids.
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Reports how unevenly 32 points per member split keys (spec §6 "balance warning").
/// Only sanity is asserted: every member gets something, nobody gets everything.
#[test]
fn share_report_default_ring() {
    const KEYS: usize = 100_000;
    let mut rng = SplitMix(0x5eed);
    for n in [3usize, 8] {
        let ids: Vec<String> = (0..n).map(|_| rng.uuid()).collect();
        let ring =
            HashRing::with_members(DEFAULT_PARTITIONS, ids.iter().map(|id| (id, 1))).unwrap();
        let mut counts: BTreeMap<&str, usize> = ids.iter().map(|id| (id.as_str(), 0)).collect();
        for _ in 0..KEYS {
            let key = rng.uuid();
            let m = ring.owner(key.as_bytes()).expect("non-empty ring");
            *counts.get_mut(m.id_str().unwrap()).unwrap() += 1;
        }
        let min = counts.values().copied().min().unwrap();
        let max = counts.values().copied().max().unwrap();
        let pct = |c: usize| 100.0 * c as f64 / KEYS as f64;
        println!(
            "N={n}, 32 partitions, {KEYS} uuid keys: min share {:.2}%, max share {:.2}%, \
             ideal {:.2}% (max/min {:.2})",
            pct(min),
            pct(max),
            100.0 / n as f64,
            max as f64 / min as f64
        );
        assert_eq!(counts.values().sum::<usize>(), KEYS);
        assert!(min > 0, "a member owns nothing: {counts:?}");
        assert!(max < KEYS, "one member owns everything: {counts:?}");
    }
}
