//! tooz-compatible consistent hash ring.
//!
//! Pure, no I/O: the coordination crate feeds it members and weights, the agent asks it
//! which member owns a resource key.
//!
//! The whole point of this crate is *bit-for-bit agreement* with Python agents running
//! tooz 9.x (`tooz.hashring.HashRing` + `tooz.partitioner.Partitioner`): a Rust agent and
//! a Python agent in the same group must split resources identically, or resources get
//! polled twice or not at all. So every rule here mirrors tooz (see
//! `shared/spec/tooz-redis.md` §6–7), including its quirks, and each deliberate
//! divergence is called out where it happens.
//!
//! * [`HashRing`] is tooz's ring: `partitions × weight` md5 points per member, lookup by
//!   md5 of the key and "first point strictly greater", wrapping.
//! * [`HashRing::owners_of`] and [`Partitioner::owned_by_self`] /
//!   [`Partitioner::retain_owned_by_self`] answer for a whole page of keys at once,
//!   hashing 8 keys in lock-step with a multi-lane md5 (~2.7× the single-key rate,
//!   ~33–37× tooz's `get_nodes`; numbers in `benches/ring.rs`).
//! * [`Partitioner`] is tooz's Partitioner on top: members come with their msgpack
//!   capabilities (decoded by [`weight_from_capabilities`]) and one of them is "self".
//! * [`encode_capabilities_weight`] produces exactly the capabilities bytes tooz writes
//!   into Redis for `join_partitioned_group(group, weight=w)`.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;

use md5::{Digest, Md5};

mod md5x;

/// Points per weight unit when nobody says otherwise.
///
/// tooz's `HashRing` and `join_partitioned_group` default to 32, and Ceilometer never
/// overrides it; a Rust member must use the same value or its ring differs from its peers'.
pub const DEFAULT_PARTITIONS: u32 = 32;

/// The Redis group-hash field tooz uses to mark "group exists but may be empty".
///
/// It is not a member: tooz refuses it as a member id, so constructors fed from an
/// `HGETALL` skip it instead of turning it into a ring node.
pub const CREATED_FIELD: &[u8] = b"__created__";

/// Upper bound on the points one member may contribute (`partitions × weight`).
///
/// tooz has no limit, but a peer advertising a weight of, say, 2^31 would make us allocate
/// tens of gigabytes. Refusing with [`RingError::TooManyPoints`] keeps a single bad
/// capabilities value from taking the agent down; 2^22 points (64 MiB) is far above any
/// sane configuration (Ceilometer uses 32).
pub const MAX_POINTS_PER_MEMBER: u64 = 1 << 22;

/// Why a ring operation was refused.
///
/// Every variant is a caller mistake or a hostile/corrupt input; none is transient, so
/// none is worth retrying unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// A ring with zero partitions has no points at all, so nothing could ever be owned.
    #[error("partitions must be at least 1")]
    ZeroPartitions,
    /// A zero-weight member would have no points yet still count as a replica candidate,
    /// which makes tooz's replica walk loop forever; we refuse it up front.
    #[error("member {member:?} has weight 0; weights must be at least 1")]
    ZeroWeight {
        /// The member id (lossily decoded as UTF-8 for display).
        member: String,
    },
    /// Adding the same id twice is refused: in tooz it silently leaves stale points that
    /// `remove_node` later cannot find, so the rings of peers would drift apart.
    #[error("member {member:?} is already in the ring")]
    DuplicateMember {
        /// The member id (lossily decoded as UTF-8 for display).
        member: String,
    },
    /// Removing a member that is not there (tooz raises `UnknownNode`).
    #[error("member {member:?} is not in the ring")]
    UnknownMember {
        /// The member id (lossily decoded as UTF-8 for display).
        member: String,
    },
    /// `partitions × weight` is above [`MAX_POINTS_PER_MEMBER`].
    #[error(
        "member {member:?} would get {partitions} partitions x weight {weight} points, \
         more than the limit of {limit}"
    )]
    TooManyPoints {
        /// The member id (lossily decoded as UTF-8 for display).
        member: String,
        /// The ring's partitions per weight unit.
        partitions: u32,
        /// The requested weight.
        weight: u32,
        /// [`MAX_POINTS_PER_MEMBER`].
        limit: u64,
    },
}

fn display_id(id: &[u8]) -> String {
    String::from_utf8_lossy(id).into_owned()
}

/// md5 of `key` read as a big-endian 128-bit integer: the key's position on the ring.
///
/// Exposed so tests and diagnostics can show *where* a key lands, exactly as tooz's
/// `int(md5(data).hexdigest(), 16)`.
#[must_use]
pub fn key_position(key: &[u8]) -> u128 {
    u128::from_be_bytes(Md5::digest(key).into())
}

/// The positions of a member's points, in point order `r = 0, 1, …`.
///
/// Point `r` is md5 of the id repeated `r + 2` times. tooz gets there by seeding an md5
/// context with the id and then, per point, feeding the id once more and reading the
/// digest without finishing; we do the same with one hasher and `clone().finalize()`, so
/// building costs one md5 block-step per point rather than `r` of them.
fn member_points(id: &[u8], count: u64) -> impl Iterator<Item = u128> + '_ {
    let mut hasher = Md5::new();
    hasher.update(id);
    (0..count).map(move |_| {
        hasher.update(id);
        u128::from_be_bytes(hasher.clone().finalize().into())
    })
}

/// One ring member: its id exactly as tooz sees it (bytes) and its weight.
///
/// Ids are bytes, not strings, because tooz and Redis treat them as bytes; keeping them
/// as bytes means a peer with a non-UTF-8 id still lands on the same points as in Python.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Member {
    id: Box<[u8]>,
    weight: u32,
    utf8: bool,
}

impl Member {
    /// The member id bytes, as stored in the Redis group hash.
    #[must_use]
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The member id as text, when it is valid UTF-8 (always, for Ceilometer's uuid ids).
    ///
    /// Validity is checked once at insertion so this costs nothing on the lookup path.
    #[must_use]
    pub fn id_str(&self) -> Option<&str> {
        if self.utf8 {
            std::str::from_utf8(&self.id).ok()
        } else {
            None
        }
    }

    /// The member's weight: it owns `partitions × weight` points.
    #[must_use]
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("id", &String::from_utf8_lossy(&self.id))
            .field("weight", &self.weight)
            .finish()
    }
}

/// tooz's `HashRing`: a consistent hash ring with `partitions × weight` points per member.
///
/// Points live in two parallel sorted vectors (positions, owner index) so a lookup is one
/// md5 plus one binary search over a dense `u128` array and allocates nothing. Members are
/// interned in a small table; the ring only stores their index.
///
/// Equality ([`PartialEq`]) is semantic: same partitions, same members with the same
/// weights, same points with the same owners — insertion order does not matter, matching
/// tooz where a ring after `remove_node` equals one built without that node.
#[derive(Clone)]
pub struct HashRing {
    partitions: u32,
    members: Vec<Member>,
    index: HashMap<Box<[u8]>, u32>,
    positions: Vec<u128>,
    owners: Vec<u32>,
    /// Search accelerator: `bucket_start[b]` is the number of positions whose top
    /// `bucket_bits` bits are `< b`, so a key in bucket `b` only needs a binary search
    /// within `bucket_start[b]..bucket_start[b + 1]` (usually 0–2 points) instead of the
    /// whole ring. Derived from `positions`; rebuilt whenever they change.
    bucket_start: Vec<usize>,
    bucket_bits: u32,
}

impl HashRing {
    /// An empty ring with `partitions` points per weight unit.
    ///
    /// # Errors
    /// [`RingError::ZeroPartitions`] when `partitions` is 0.
    pub fn new(partitions: u32) -> Result<Self, RingError> {
        if partitions == 0 {
            return Err(RingError::ZeroPartitions);
        }
        Ok(Self {
            partitions,
            members: Vec::new(),
            index: HashMap::new(),
            positions: Vec::new(),
            owners: Vec::new(),
            bucket_start: Vec::new(),
            bucket_bits: 0,
        })
    }

    /// Rebuilds `bucket_start` for the current positions: about one point per bucket,
    /// between 2^4 and 2^16 buckets (at most 512 KiB; 2 KiB for Ceilometer's 8 × 32).
    fn rebuild_buckets(&mut self) {
        let n = self.positions.len();
        let bits = n.max(1).next_power_of_two().trailing_zeros().clamp(4, 16);
        let buckets = 1usize << bits;
        let shift = 128 - bits;
        self.bucket_bits = bits;
        self.bucket_start.clear();
        self.bucket_start.reserve(buckets + 1);
        let mut i = 0usize;
        for b in 0..=buckets {
            while i < n && ((self.positions[i] >> shift) as usize) < b {
                i += 1;
            }
            self.bucket_start.push(i);
        }
    }

    /// Builds a ring from `(id, weight)` pairs in one go.
    ///
    /// Equivalent to [`HashRing::new`] followed by [`HashRing::add_member`] for each pair
    /// in order (so on a point collision the later member wins, as in tooz), but sorts
    /// the points once instead of once per member.
    ///
    /// # Errors
    /// Any error [`HashRing::new`] or [`HashRing::add_member`] would return.
    pub fn with_members<I, S>(partitions: u32, members: I) -> Result<Self, RingError>
    where
        I: IntoIterator<Item = (S, u32)>,
        S: AsRef<[u8]>,
    {
        let mut ring = Self::new(partitions)?;
        let mut points = Vec::new();
        for (id, weight) in members {
            let idx = ring.intern(id.as_ref(), weight)?;
            let count = u64::from(partitions) * u64::from(weight);
            points.extend(member_points(id.as_ref(), count).map(|p| (p, idx)));
        }
        ring.set_points(points);
        Ok(ring)
    }

    /// Validates and records a new member, returning its index. Does not touch points.
    fn intern(&mut self, id: &[u8], weight: u32) -> Result<u32, RingError> {
        if weight == 0 {
            return Err(RingError::ZeroWeight {
                member: display_id(id),
            });
        }
        let count = u64::from(self.partitions) * u64::from(weight);
        if count > MAX_POINTS_PER_MEMBER {
            return Err(RingError::TooManyPoints {
                member: display_id(id),
                partitions: self.partitions,
                weight,
                limit: MAX_POINTS_PER_MEMBER,
            });
        }
        if self.index.contains_key(id) {
            return Err(RingError::DuplicateMember {
                member: display_id(id),
            });
        }
        let idx = u32::try_from(self.members.len()).map_err(|_| RingError::TooManyPoints {
            member: display_id(id),
            partitions: self.partitions,
            weight,
            limit: MAX_POINTS_PER_MEMBER,
        })?;
        self.members.push(Member {
            id: id.into(),
            weight,
            utf8: std::str::from_utf8(id).is_ok(),
        });
        self.index.insert(id.into(), idx);
        Ok(idx)
    }

    /// Sorts `points` (given in insertion order) by position and stores them.
    ///
    /// The sort is stable and on equal positions the *last* one is kept: that is tooz's
    /// dict assignment `ring[pos] = node`, where a later `add_node` overwrites.
    fn set_points(&mut self, mut points: Vec<(u128, u32)>) {
        points.sort_by_key(|&(pos, _)| pos);
        self.positions.clear();
        self.owners.clear();
        self.positions.reserve(points.len());
        self.owners.reserve(points.len());
        for (pos, owner) in points {
            if self.positions.last() == Some(&pos) {
                if let Some(last) = self.owners.last_mut() {
                    *last = owner;
                }
            } else {
                self.positions.push(pos);
                self.owners.push(owner);
            }
        }
        self.rebuild_buckets();
    }

    /// Adds a member with `weight` (tooz `add_node(node, weight)`).
    ///
    /// # Errors
    /// [`RingError::ZeroWeight`], [`RingError::TooManyPoints`] or
    /// [`RingError::DuplicateMember`]; the ring is unchanged on error.
    pub fn add_member(&mut self, id: impl AsRef<[u8]>, weight: u32) -> Result<(), RingError> {
        let id = id.as_ref();
        let idx = self.intern(id, weight)?;
        let count = u64::from(self.partitions) * u64::from(weight);
        let mut points: Vec<(u128, u32)> = self
            .positions
            .iter()
            .copied()
            .zip(self.owners.iter().copied())
            .collect();
        points.extend(member_points(id, count).map(|p| (p, idx)));
        self.set_points(points);
        Ok(())
    }

    /// Removes a member and returns it (tooz `remove_node`).
    ///
    /// Like tooz, this deletes every position the member's points *would* occupy, even
    /// one another member took over in a collision; with md5 that never happens in
    /// practice, but mirroring it keeps us identical to Python peers regardless.
    ///
    /// # Errors
    /// [`RingError::UnknownMember`] when `id` is not in the ring (tooz `UnknownNode`).
    pub fn remove_member(&mut self, id: impl AsRef<[u8]>) -> Result<Member, RingError> {
        let id = id.as_ref();
        let Some(idx) = self.index.remove(id) else {
            return Err(RingError::UnknownMember {
                member: display_id(id),
            });
        };
        let slot = idx as usize;
        let weight = self.members[slot].weight;
        let mut gone: Vec<u128> =
            member_points(id, u64::from(self.partitions) * u64::from(weight)).collect();
        gone.sort_unstable();
        // Compact the member table: the last member moves into the freed slot.
        let removed = self.members.swap_remove(slot);
        let moved_from = u32::try_from(self.members.len()).unwrap_or(u32::MAX);
        if slot < self.members.len() {
            self.index.insert(self.members[slot].id.clone(), idx);
        }
        let mut positions = Vec::with_capacity(self.positions.len());
        let mut owners = Vec::with_capacity(self.owners.len());
        for (&pos, &owner) in self.positions.iter().zip(&self.owners) {
            if gone.binary_search(&pos).is_ok() {
                continue;
            }
            positions.push(pos);
            owners.push(if owner == moved_from { idx } else { owner });
        }
        self.positions = positions;
        self.owners = owners;
        self.rebuild_buckets();
        Ok(removed)
    }

    /// Points per weight unit this ring was built with.
    #[must_use]
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// Number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when the ring has no members (every lookup then returns nothing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Number of points on the ring (tooz `len(ring)`).
    #[must_use]
    pub fn point_count(&self) -> usize {
        self.positions.len()
    }

    /// True when `id` is a member.
    #[must_use]
    pub fn contains(&self, id: impl AsRef<[u8]>) -> bool {
        self.index.contains_key(id.as_ref())
    }

    /// The member with this id, if present.
    #[must_use]
    pub fn member(&self, id: impl AsRef<[u8]>) -> Option<&Member> {
        self.index
            .get(id.as_ref())
            .map(|&idx| &self.members[idx as usize])
    }

    /// All members, in no particular order (removal reorders them).
    pub fn members(&self) -> impl ExactSizeIterator<Item = &Member> + '_ {
        self.members.iter()
    }

    /// Every point in ascending position order with its owner, for diagnostics and tests
    /// (tooz's `_partitions` with `_ring[pos]`).
    pub fn points(&self) -> impl ExactSizeIterator<Item = (u128, &Member)> + '_ {
        self.positions
            .iter()
            .zip(&self.owners)
            .map(|(&pos, &owner)| (pos, &self.members[owner as usize]))
    }

    /// Index of the point that owns a key at `position`: the first point strictly
    /// greater (bisect right), wrapping to 0. `None` on an empty ring.
    ///
    /// `#[inline]` because the generic batch lookups are instantiated in the caller's
    /// crate, where this would otherwise be an out-of-line call per key.
    #[inline]
    fn index_for_position(&self, position: u128) -> Option<usize> {
        if self.positions.is_empty() {
            return None;
        }
        let b = (position >> (128 - self.bucket_bits)) as usize;
        let (lo, hi) = (self.bucket_start[b], self.bucket_start[b + 1]);
        let i = lo + self.positions[lo..hi].partition_point(|&p| p <= position);
        Some(if i == self.positions.len() { 0 } else { i })
    }

    /// Index into [`HashRing::points`] of the point owning `key` (tooz `_get_partition`),
    /// after wrapping; `None` on an empty ring. Exposed so tests can check the bisect.
    #[must_use]
    pub fn point_index(&self, key: &[u8]) -> Option<usize> {
        self.index_for_position(key_position(key))
    }

    /// The single owner of `key` (tooz `get_nodes(key)` with replicas=1).
    ///
    /// This is the hot path of partitioned polling: exactly one md5 and one binary
    /// search, no allocation. `None` only when the ring is empty.
    #[must_use]
    pub fn owner(&self, key: &[u8]) -> Option<&Member> {
        let i = self.point_index(key)?;
        Some(&self.members[self.owners[i] as usize])
    }

    /// The owners of many keys at once, appended to `out` in key order: one entry per
    /// key, each exactly what [`HashRing::owner`] would return for it.
    ///
    /// Why a batch: md5 is nearly the whole cost of a lookup and one md5 keeps a core
    /// mostly waiting on its serial dependency chain, so this hashes keys several at a
    /// time in lock-step (an interleaved multi-lane md5), which is several times faster
    /// per key than calling [`HashRing::owner`] in a loop. Use it to sort a page of
    /// discovered resources by owner.
    ///
    /// Keys can be anything byte-like (`&[u8]`, `&str`, `String`, `Vec<u8>`, …). Nothing
    /// is allocated per key: keys are pulled from the iterator a few at a time into a
    /// stack buffer, and `out` only grows (it is reserved for the iterator's lower size
    /// bound up front). `out` is not cleared, so a caller can reuse one buffer across
    /// pages by clearing it between calls. Batches of keys with the same length (e.g.
    /// uuids) are fastest; keys of very different lengths are still correct.
    pub fn owners_of<'r, I>(&'r self, keys: I, out: &mut Vec<Option<&'r Member>>)
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys = keys.into_iter();
        out.reserve(keys.size_hint().0);
        if self.positions.is_empty() {
            out.extend(keys.map(|_| None));
            return;
        }
        self.owner_indices_of(keys, |owner| {
            out.push(Some(&self.members[owner as usize]));
        });
    }

    /// Calls `f` with the owner's member index of each key, in key order, hashing keys
    /// [`md5x::LANES`] at a time. The ring must not be empty.
    fn owner_indices_of<I>(&self, mut keys: I, mut f: impl FnMut(u32))
    where
        I: Iterator,
        I::Item: AsRef<[u8]>,
    {
        const N: usize = md5x::LANES;
        loop {
            let mut chunk: [Option<I::Item>; N] = std::array::from_fn(|_| None);
            let mut n = 0;
            for slot in &mut chunk {
                match keys.next() {
                    Some(key) => {
                        *slot = Some(key);
                        n += 1;
                    }
                    None => break,
                }
            }
            let Some(first) = chunk[0].as_ref() else {
                return;
            };
            let first = first.as_ref();
            // Spare lanes of a short last chunk repeat the first key: same block count,
            // so they never break the lock-step; their results are dropped.
            let msgs: [&[u8]; N] =
                std::array::from_fn(|l| chunk[l].as_ref().map_or(first, AsRef::as_ref));
            for &position in &md5x::positions(&msgs)[..n] {
                if let Some(i) = self.index_for_position(position) {
                    f(self.owners[i]);
                }
            }
            if n < N {
                return;
            }
        }
    }

    /// True when `member` owns `key` (tooz `belongs_to_member`).
    ///
    /// Compares ids directly, so an id that is not in the ring is simply `false`.
    #[must_use]
    pub fn belongs_to(&self, member: impl AsRef<[u8]>, key: &[u8]) -> bool {
        self.owner(key).is_some_and(|m| m.id() == member.as_ref())
    }

    /// tooz `get_nodes(key, ignore_nodes, replicas)`: up to `replicas` distinct members,
    /// skipping `ignore`.
    ///
    /// Exactly tooz's rule: `replicas` is capped at the number of non-ignored members
    /// (ids in `ignore` that are not members are harmless); 0 replicas, an empty ring or
    /// everything ignored gives an empty result, not an error. The walk starts at the
    /// key's point and goes forward, wrapping, collecting each new non-ignored owner.
    ///
    /// tooz returns a set; we return the members in walk order, so the first one is the
    /// primary owner (what `replicas = 1` would give). Sort if you need set semantics.
    pub fn get_nodes<T: AsRef<[u8]>>(
        &self,
        key: &[u8],
        ignore: &[T],
        replicas: usize,
    ) -> Vec<&Member> {
        let mut skip = vec![false; self.members.len()];
        for id in ignore {
            if let Some(&idx) = self.index.get(id.as_ref()) {
                skip[idx as usize] = true;
            }
        }
        let candidates = skip.iter().filter(|&&s| !s).count();
        let wanted = replicas.min(candidates);
        let mut out = Vec::with_capacity(wanted);
        if wanted == 0 {
            return out;
        }
        let Some(start) = self.point_index(key) else {
            return out;
        };
        let n = self.positions.len();
        // Bounded walk: tooz loops until satisfied; one full turn visits every point, so
        // it always suffices unless a member lost all its points to collisions.
        for step in 0..n {
            let owner = self.owners[(start + step) % n] as usize;
            if !skip[owner] {
                skip[owner] = true;
                out.push(&self.members[owner]);
                if out.len() == wanted {
                    break;
                }
            }
        }
        out
    }
}

impl PartialEq for HashRing {
    fn eq(&self, other: &Self) -> bool {
        self.partitions == other.partitions
            && self.members.len() == other.members.len()
            && self
                .members
                .iter()
                .all(|m| other.member(&m.id).is_some_and(|o| o.weight == m.weight))
            && self.positions == other.positions
            && self
                .points()
                .zip(other.points())
                .all(|((_, a), (_, b))| a.id == b.id)
    }
}

impl Eq for HashRing {}

impl fmt::Debug for HashRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashRing")
            .field("partitions", &self.partitions)
            .field("members", &self.members)
            .field("points", &self.positions.len())
            .finish()
    }
}

/// The weight tooz's Partitioner reads from a member's msgpack capabilities.
///
/// tooz ≥ 9 uses `caps.get("weight", 1)` when the capabilities decode to a map and 1
/// otherwise. Real groups hold many shapes — `c0` (None, tooz 9 `join_group`), `c400`
/// (empty bin, tooz ≤ 8), `80` (`{}`), double-encoded bin from tooz < 1.57.3, maps with
/// extra keys written by other agents — and all of them must parse, never fail, since a
/// member we cannot parse would otherwise be missing from our ring but present in
/// everyone else's. Rules:
///
/// * a msgpack map whose (last) `"weight"` str key has an integer value ≥ 1 → that value,
///   saturated to `u32::MAX` (the ring then refuses it with
///   [`RingError::TooManyPoints`]);
/// * anything else (undecodable bytes, non-maps, no `"weight"`, non-integer, 0 or
///   negative) → 1. For 0/negative this diverges from tooz, which would give the member
///   no points at all; tooz's own replica walk hangs on such a ring, so no working
///   Python group contains one.
///
/// Bytes after the first msgpack value are ignored.
#[must_use]
pub fn weight_from_capabilities(capabilities: &[u8]) -> u32 {
    let mut rd = capabilities;
    let Ok(value) = rmpv::decode::read_value_ref(&mut rd) else {
        return 1;
    };
    let rmpv::ValueRef::Map(entries) = value else {
        return 1;
    };
    let mut weight = 1;
    for (k, v) in entries {
        if !matches!(k, rmpv::ValueRef::String(s) if s.as_str() == Some("weight")) {
            continue;
        }
        // Python dicts keep the last duplicate key; so do we.
        weight = match v.as_u64() {
            Some(w) if w >= 1 => u32::try_from(w).unwrap_or(u32::MAX),
            _ => 1,
        };
    }
    weight
}

/// The capabilities bytes tooz writes for `join_partitioned_group(group, weight)`.
///
/// msgpack of `{"weight": weight}`: fixmap(1), fixstr "weight", then the smallest
/// unsigned integer encoding (fixint, `cc`, `cd`, `ce`) — byte-identical to Python
/// msgpack, so Python peers and Redis dumps cannot tell a Rust member apart.
#[must_use]
pub fn encode_capabilities_weight(weight: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(13);
    out.push(0x81);
    out.push(0xa6);
    out.extend_from_slice(b"weight");
    match weight {
        0..=0x7f => out.extend_from_slice(&[weight as u8]),
        0x80..=0xff => out.extend_from_slice(&[0xcc, weight as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(weight as u16).to_be_bytes());
        }
        _ => {
            out.push(0xce);
            out.extend_from_slice(&weight.to_be_bytes());
        }
    }
    out
}

/// tooz's `Partitioner`: a ring built from group members' capabilities, plus "self".
///
/// The coordination crate owns membership (joins, leaves, liveness); this type turns its
/// view into answers to the agent's one question, "is this resource mine?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partitioner {
    ring: HashRing,
    self_id: Box<[u8]>,
}

impl Partitioner {
    /// Builds from `(member id, msgpack capabilities)` pairs, e.g. an `HGETALL` of the
    /// group hash already filtered to live members.
    ///
    /// The `__created__` sentinel field ([`CREATED_FIELD`]) is skipped; weights come from
    /// [`weight_from_capabilities`]. `self_id` need not be a member (then
    /// [`Partitioner::belongs_to_self`] is always false, like tooz after being pruned).
    ///
    /// # Errors
    /// As [`HashRing::with_members`] (zero partitions, duplicate ids, absurd weights).
    pub fn from_capabilities<I, K, V>(
        self_id: impl AsRef<[u8]>,
        partitions: u32,
        members: I,
    ) -> Result<Self, RingError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let weighted = members.into_iter().filter_map(|(id, caps)| {
            if id.as_ref() == CREATED_FIELD {
                None
            } else {
                Some((id, weight_from_capabilities(caps.as_ref())))
            }
        });
        Self::from_weights(self_id, partitions, weighted)
    }

    /// Builds from `(member id, weight)` pairs.
    ///
    /// # Errors
    /// As [`HashRing::with_members`].
    pub fn from_weights<I, S>(
        self_id: impl AsRef<[u8]>,
        partitions: u32,
        members: I,
    ) -> Result<Self, RingError>
    where
        I: IntoIterator<Item = (S, u32)>,
        S: AsRef<[u8]>,
    {
        Ok(Self {
            ring: HashRing::with_members(partitions, members)?,
            self_id: self_id.as_ref().into(),
        })
    }

    /// A member joined (tooz's join watcher): add it with the weight from its
    /// capabilities.
    ///
    /// # Errors
    /// As [`HashRing::add_member`].
    pub fn member_joined(
        &mut self,
        id: impl AsRef<[u8]>,
        capabilities: &[u8],
    ) -> Result<(), RingError> {
        self.ring
            .add_member(id, weight_from_capabilities(capabilities))
    }

    /// A member left (tooz's leave watcher).
    ///
    /// # Errors
    /// [`RingError::UnknownMember`] when it was not in the ring.
    pub fn member_left(&mut self, id: impl AsRef<[u8]>) -> Result<Member, RingError> {
        self.ring.remove_member(id)
    }

    /// The underlying ring.
    #[must_use]
    pub fn ring(&self) -> &HashRing {
        &self.ring
    }

    /// This agent's own member id.
    #[must_use]
    pub fn self_id(&self) -> &[u8] {
        &self.self_id
    }

    /// tooz `members_for_object` on the already-computed key bytes (see
    /// [`HashRing::get_nodes`]).
    pub fn members_for_object<T: AsRef<[u8]>>(
        &self,
        key: &[u8],
        ignore: &[T],
        replicas: usize,
    ) -> Vec<&Member> {
        self.ring.get_nodes(key, ignore, replicas)
    }

    /// tooz `belongs_to_member`.
    #[must_use]
    pub fn belongs_to_member(&self, member: impl AsRef<[u8]>, key: &[u8]) -> bool {
        self.ring.belongs_to(member, key)
    }

    /// [`Partitioner::belongs_to_self`] for many keys at once, appended to `out` in key
    /// order (one `bool` per key; `out` is not cleared).
    ///
    /// Why: the agent asks this for every resource of every discovered page, and the
    /// batch form hashes keys in lock-step (see [`HashRing::owners_of`]), several times
    /// faster than one call per key, and allocates nothing per key.
    pub fn owned_by_self<I>(&self, keys: I, out: &mut Vec<bool>)
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let keys = keys.into_iter();
        out.reserve(keys.size_hint().0);
        match self.ring.index.get(&self.self_id) {
            // Not a member (or an empty ring): tooz says no for every key, no need to hash.
            None => out.extend(keys.map(|_| false)),
            Some(&me) => self
                .ring
                .owner_indices_of(keys, |owner| out.push(owner == me)),
        }
    }

    /// Keeps only the items this agent owns, in their original order: the ownership
    /// filter for a page of discovered resources, in one call.
    ///
    /// `key` gives the bytes tooz would hash for an item (for Ceilometer, the UTF-8 of
    /// the resource's string form). Keys are hashed in batches as in
    /// [`Partitioner::owned_by_self`]; the only allocation is one `bool` per item for the
    /// verdicts, made once per call.
    pub fn retain_owned_by_self<T, F>(&self, items: &mut Vec<T>, key: F)
    where
        F: Fn(&T) -> &[u8],
    {
        let mut mine = Vec::with_capacity(items.len());
        self.owned_by_self(items.iter().map(&key), &mut mine);
        let mut verdicts = mine.into_iter();
        items.retain(|_| verdicts.next().unwrap_or(false));
    }

    /// tooz `belongs_to_self`: does this agent own `key`?
    ///
    /// `key` is the bytes tooz would hash: for Ceilometer, the UTF-8 of the resource's
    /// string form.
    #[must_use]
    pub fn belongs_to_self(&self, key: &[u8]) -> bool {
        self.ring.belongs_to(&self.self_id, key)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn point_zero_is_md5_of_id_twice() {
        let first = member_points(b"abc", 2).collect::<Vec<_>>();
        assert_eq!(first[0], key_position(b"abcabc"));
        assert_eq!(first[1], key_position(b"abcabcabc"));
    }

    #[test]
    fn empty_ring_has_no_owner() {
        let ring = HashRing::new(DEFAULT_PARTITIONS).unwrap();
        assert!(ring.owner(b"x").is_none());
        assert!(ring.get_nodes::<&[u8]>(b"x", &[], 3).is_empty());
        assert!(!ring.belongs_to("a", b"x"));
    }

    #[test]
    fn errors() {
        assert_eq!(HashRing::new(0).unwrap_err(), RingError::ZeroPartitions);
        let mut ring = HashRing::new(4).unwrap();
        assert!(matches!(
            ring.add_member("a", 0),
            Err(RingError::ZeroWeight { .. })
        ));
        ring.add_member("a", 1).unwrap();
        assert!(matches!(
            ring.add_member("a", 2),
            Err(RingError::DuplicateMember { .. })
        ));
        assert!(matches!(
            ring.remove_member("b"),
            Err(RingError::UnknownMember { .. })
        ));
        assert!(matches!(
            ring.add_member("big", u32::MAX),
            Err(RingError::TooManyPoints { .. })
        ));
        // Failed adds leave the ring as it was.
        assert_eq!(ring.len(), 1);
        assert_eq!(ring.point_count(), 4);
    }

    #[test]
    fn remove_compacts_and_keeps_owners_right() {
        let mut ring = HashRing::with_members(8, [("a", 1), ("b", 2), ("c", 1)]).unwrap();
        let removed = ring.remove_member("a").unwrap();
        assert_eq!(removed.id(), b"a");
        assert_eq!(ring.point_count(), 24);
        let fresh = HashRing::with_members(8, [("b", 2), ("c", 1)]).unwrap();
        assert_eq!(ring, fresh);
        assert_eq!(ring.member("c").unwrap().weight(), 1);
    }

    #[test]
    fn later_add_wins_a_collision() {
        // The same position can only collide across members by an md5 collision, so
        // exercise the rule through set_points directly.
        let mut ring = HashRing::with_members(1, [("a", 1), ("b", 1)]).unwrap();
        ring.set_points(vec![(5, 0), (5, 1), (7, 0)]);
        assert_eq!(ring.point_count(), 2);
        assert_eq!(ring.points().next().unwrap().1.id(), b"b");
    }

    #[test]
    fn capabilities_weight() {
        assert_eq!(weight_from_capabilities(&[0xc0]), 1);
        assert_eq!(weight_from_capabilities(&[0xc4, 0x00]), 1);
        assert_eq!(weight_from_capabilities(&[0x80]), 1);
        assert_eq!(weight_from_capabilities(&[]), 1);
        assert_eq!(weight_from_capabilities(&[0xff, 0xff]), 1);
        assert_eq!(weight_from_capabilities(&encode_capabilities_weight(7)), 7);
        assert_eq!(weight_from_capabilities(&encode_capabilities_weight(0)), 1);
        // Double-encoded (bin wrapping the map) is not a map: weight 1.
        let inner = encode_capabilities_weight(3);
        let mut double = vec![0xc4, inner.len() as u8];
        double.extend_from_slice(&inner);
        assert_eq!(weight_from_capabilities(&double), 1);
        // Extra keys are ignored; weight -1 (0xff) and 2.0 (float) give 1.
        let extra = [
            0x82, 0xa4, b'h', b'o', b's', b't', 0xa1, b'x', 0xa6, b'w', b'e', b'i', b'g', b'h',
            b't', 0x05,
        ];
        assert_eq!(weight_from_capabilities(&extra), 5);
        let neg = [0x81, 0xa6, b'w', b'e', b'i', b'g', b'h', b't', 0xff];
        assert_eq!(weight_from_capabilities(&neg), 1);
        let float = [
            0x81, 0xa6, b'w', b'e', b'i', b'g', b'h', b't', 0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(weight_from_capabilities(&float), 1);
    }

    #[test]
    fn encode_matches_tooz_bytes() {
        let w1 = [0x81, 0xa6, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x01];
        assert_eq!(encode_capabilities_weight(1), w1);
        assert_eq!(encode_capabilities_weight(128)[8..], [0xcc, 0x80]);
        assert_eq!(encode_capabilities_weight(256)[8..], [0xcd, 0x01, 0x00]);
        assert_eq!(
            encode_capabilities_weight(70000)[8..],
            [0xce, 0x00, 0x01, 0x11, 0x70]
        );
    }

    #[test]
    fn partitioner_skips_created_field() {
        let p = Partitioner::from_capabilities(
            "a",
            DEFAULT_PARTITIONS,
            [
                (&b"__created__"[..], &b"1"[..]),
                (b"a", &encode_capabilities_weight(2)),
            ],
        )
        .unwrap();
        assert_eq!(p.ring().len(), 1);
        assert_eq!(p.ring().member("a").unwrap().weight(), 2);
        assert!(p.belongs_to_self(b"anything"));
    }
}
