//! An in-memory tooz group on tokio's clock: unit tests drive the membership task's timing
//! (heartbeat cadence, expiry, pruning, backoff, outage policy) with a paused clock, and the
//! demo runs several agents in one process on it (see [`crate::memory`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::store::{GroupState, Store, StoreError};
use crate::view::MemberId;

/// A record hash and its expiry.
pub(crate) type Record = (BTreeMap<Vec<u8>, Vec<u8>>, Instant);

#[derive(Default)]
pub(crate) struct World {
    /// None: group hash missing.
    pub group: Option<BTreeMap<MemberId, Vec<u8>>>,
    /// Beat key expiry per member.
    pub beats: BTreeMap<MemberId, Instant>,
    /// Redis down.
    pub down: bool,
    /// Times of every beat, per member.
    pub beat_log: Vec<(MemberId, Instant)>,
    /// Connection attempts while down.
    pub failed_attempts: Vec<Instant>,
    /// Record hashes (`put_record`) with their expiry.
    pub records: BTreeMap<String, Record>,
}

/// Test logs are bounded so a long-running in-process backend does not grow.
const LOG_CAP: usize = 100_000;

impl World {
    fn log_beat(&mut self, m: MemberId, t: Instant) {
        if self.beat_log.len() < LOG_CAP {
            self.beat_log.push((m, t));
        }
    }
}

/// Lock the world; a panicked holder cannot leave it inconsistent (every change is a single
/// map operation), so keep going.
pub(crate) fn lock(w: &Shared) -> std::sync::MutexGuard<'_, World> {
    w.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) type Shared = Arc<Mutex<World>>;

pub(crate) struct FakeStore {
    pub world: Shared,
    pub me: MemberId,
    pub ttl: Duration,
    connected: bool,
}

impl FakeStore {
    pub fn new(world: &Shared, me: &str, ttl: Duration) -> Self {
        FakeStore {
            world: world.clone(),
            me: MemberId::from(me),
            ttl,
            connected: false,
        }
    }
    fn check(
        &mut self,
        doing: &'static str,
    ) -> Result<std::sync::MutexGuard<'_, World>, StoreError> {
        let w = lock(&self.world);
        if w.down || !self.connected {
            return Err(StoreError {
                doing,
                target: "fake".into(),
                message: "connection refused".into(),
            });
        }
        Ok(w)
    }
}

impl Store for FakeStore {
    fn is_connected(&self) -> bool {
        self.connected
    }
    async fn connect(&mut self) -> Result<(), StoreError> {
        let mut w = lock(&self.world);
        if w.down {
            if w.failed_attempts.len() < LOG_CAP {
                w.failed_attempts.push(Instant::now());
            }
            return Err(StoreError {
                doing: "connecting",
                target: "fake".into(),
                message: "connection refused".into(),
            });
        }
        self.connected = true;
        Ok(())
    }
    fn disconnect(&mut self) {
        self.connected = false;
    }
    async fn beat_and_read(&mut self) -> Result<GroupState, StoreError> {
        let (me, ttl) = (self.me.clone(), self.ttl);
        let mut w = self.check("beat")?;
        let now = Instant::now();
        w.beats.insert(me.clone(), now + ttl);
        w.log_beat(me.clone(), now);
        let beats = w.beats.clone();
        let Some(g) = w.group.as_mut() else {
            return Ok(GroupState::Missing);
        };
        g.retain(|m, _| *m == me || beats.get(m).is_some_and(|t| *t > now));
        Ok(GroupState::Present(
            g.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    }
    async fn join(&mut self, caps: Vec<u8>) -> Result<bool, StoreError> {
        let me = self.me.clone();
        let mut w = self.check("join")?;
        let created = w.group.is_none();
        w.group.get_or_insert_with(BTreeMap::new).insert(me, caps);
        Ok(created)
    }
    async fn leave(&mut self) -> Result<(), StoreError> {
        let me = self.me.clone();
        let mut w = self.check("leave")?;
        if let Some(g) = w.group.as_mut() {
            g.remove(&me);
        }
        w.beats.remove(&me);
        Ok(())
    }
    fn member_id(&self) -> &MemberId {
        &self.me
    }
    async fn put_record(
        &mut self,
        name: &str,
        field: Vec<u8>,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut w = self.check("writing a record")?;
        let now = Instant::now();
        w.records.retain(|_, (_, exp)| *exp > now);
        let e = w
            .records
            .entry(name.to_owned())
            .or_insert_with(|| (BTreeMap::new(), now + ttl));
        e.0.insert(field, value);
        e.1 = now + ttl;
        Ok(())
    }
    async fn get_record(&mut self, name: &str) -> Result<crate::store::RecordFields, StoreError> {
        let w = self.check("reading a record")?;
        let now = Instant::now();
        Ok(w.records
            .get(name)
            .filter(|(_, exp)| *exp > now)
            .map(|(m, _)| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::redis_store::SwitchWatch;
    use crate::view::{ConnectionState, MembershipView, OutagePolicy};
    use crate::{spawn_with, CoordinationConfig, Coordinator, RedisUrl};
    use tokio::sync::{watch, Notify};

    const HB: Duration = Duration::from_secs(1);
    const TTL: Duration = Duration::from_secs(5);

    fn config(me: &str, policy: OutagePolicy) -> CoordinationConfig {
        let url = RedisUrl::parse("redis://127.0.0.1:1?membership_timeout=5").unwrap();
        let mut c = CoordinationConfig::new(url, me, "g");
        c.outage_policy = policy;
        c
    }

    fn spawn(
        world: &Shared,
        me: &str,
        policy: OutagePolicy,
    ) -> (Coordinator, watch::Receiver<MembershipView>) {
        let store = FakeStore::new(world, me, TTL);
        spawn_with(
            store,
            &config(me, policy),
            Arc::new(Notify::new()),
            SwitchWatch::none(),
        )
        .unwrap()
    }

    fn ids(v: &MembershipView) -> Vec<String> {
        v.members.keys().map(|m| m.to_string()).collect()
    }

    /// Lets the paused clock run in small steps until `cond` holds; returns the time taken.
    async fn advance_until(
        rx: &mut watch::Receiver<MembershipView>,
        limit: Duration,
        cond: impl Fn(&MembershipView) -> bool,
    ) -> Duration {
        let start = Instant::now();
        while !cond(&rx.borrow()) {
            assert!(
                start.elapsed() < limit,
                "condition not reached within {limit:?}: {:?}",
                *rx.borrow()
            );
            // Paused clock: the runtime jumps to each due timer, running the tasks between.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn beats_at_once_then_every_heartbeat() {
        let world = Shared::default();
        let (_c, mut rx) = spawn(&world, "a", OutagePolicy::LastView);
        advance_until(&mut rx, HB, |v| v.is_connected()).await;
        let t0 = world.lock().unwrap().beat_log[0].1;
        tokio::time::sleep(Duration::from_millis(10_050)).await;
        let log: Vec<Duration> = world
            .lock()
            .unwrap()
            .beat_log
            .iter()
            .map(|(_, t)| *t - t0)
            .collect();
        assert!(log.len() >= 11, "{log:?}");
        for (i, d) in log.iter().enumerate().take(11) {
            assert_eq!(*d, HB * i as u32, "beat {i} at {d:?}");
        }
        let v = rx.borrow().clone();
        assert_eq!(ids(&v), vec!["a"]);
        assert_eq!(v.epoch, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn dead_member_leaves_every_view_within_ttl_plus_heartbeat() {
        let world = Shared::default();
        let (a, mut ra) = spawn(&world, "a", OutagePolicy::LastView);
        let (b, mut rb) = spawn(&world, "b", OutagePolicy::LastView);
        let (_c, mut rc) = spawn(&world, "c", OutagePolicy::LastView);
        for rx in [&mut ra, &mut rb, &mut rc] {
            advance_until(rx, Duration::from_secs(3), |v| v.members.len() == 3).await;
        }
        // Kill b: no leave, no more beats.
        drop(b);
        let killed = Instant::now();
        let mut worst = Duration::ZERO;
        for rx in [&mut ra, &mut rc] {
            advance_until(rx, TTL * 2, |v| {
                !v.members.contains_key(&MemberId::from("b"))
            })
            .await;
            worst = worst.max(killed.elapsed());
        }
        assert!(worst <= TTL + HB, "removal took {worst:?}");
        assert!(worst >= TTL - HB, "removal took {worst:?}");
        // Graceful leave is seen within one heartbeat.
        a.leave().await.unwrap();
        let left = Instant::now();
        advance_until(&mut rc, HB * 2, |v| v.members.len() == 1).await;
        assert!(left.elapsed() <= HB, "{:?}", left.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn outage_keeps_view_backs_off_and_rejoins() {
        let world = Shared::default();
        let (_a, mut ra) = spawn(&world, "a", OutagePolicy::LastView);
        let (_b, mut rb) = spawn(&world, "b", OutagePolicy::LastView);
        advance_until(&mut ra, Duration::from_secs(3), |v| v.members.len() == 2).await;
        advance_until(&mut rb, Duration::from_secs(3), |v| v.members.len() == 2).await;
        let epoch = ra.borrow().epoch;
        world.lock().unwrap().down = true;
        advance_until(&mut ra, HB * 2, |v| {
            matches!(v.state, ConnectionState::Degraded { .. })
        })
        .await;
        // Far longer than the TTL: the view stays, attempts follow the capped backoff.
        tokio::time::sleep(TTL * 4).await;
        {
            let v = ra.borrow();
            assert_eq!(v.members.len(), 2);
            assert_eq!(v.epoch, epoch);
        }
        let attempts = world.lock().unwrap().failed_attempts.clone();
        let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|g| *g <= Duration::from_secs(1)),
            "{gaps:?}"
        );
        assert!(
            gaps.iter().any(|g| *g < Duration::from_millis(200)),
            "{gaps:?}"
        );
        // Redis returns empty (restarted without data): both recreate and rejoin.
        {
            let mut w = world.lock().unwrap();
            w.down = false;
            w.group = None;
            w.beats.clear();
        }
        advance_until(&mut ra, Duration::from_secs(3), |v| v.is_connected()).await;
        advance_until(&mut rb, Duration::from_secs(3), |v| v.is_connected()).await;
        tokio::time::sleep(TTL).await;
        assert_eq!(world.lock().unwrap().group.as_ref().unwrap().len(), 2);
        // Both rejoined within the grace: the ring never reshuffled.
        assert_eq!(ra.borrow().epoch, epoch);
        assert_eq!(rb.borrow().members.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn member_dead_during_outage_leaves_after_the_grace() {
        let world = Shared::default();
        let (_a, mut ra) = spawn(&world, "a", OutagePolicy::LastView);
        let (b, mut rb) = spawn(&world, "b", OutagePolicy::LastView);
        advance_until(&mut ra, Duration::from_secs(3), |v| v.members.len() == 2).await;
        advance_until(&mut rb, Duration::from_secs(3), |v| v.members.len() == 2).await;
        world.lock().unwrap().down = true;
        advance_until(&mut ra, HB * 2, |v| !v.is_connected()).await;
        drop(b); // dies during the outage
        tokio::time::sleep(TTL * 2).await;
        {
            let mut w = world.lock().unwrap();
            w.down = false;
            w.group = None;
        }
        let back = advance_until(&mut ra, Duration::from_secs(3), |v| v.is_connected()).await;
        assert_eq!(ra.borrow().members.len(), 2, "kept during the grace");
        let gone = advance_until(&mut ra, TTL * 2, |v| v.members.len() == 1).await;
        assert!(gone + back <= TTL + HB * 2, "{gone:?}");
        assert!(gone >= TTL - HB * 2, "{gone:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn pruned_self_rejoins_at_once() {
        let world = Shared::default();
        let (_a, mut ra) = spawn(&world, "a", OutagePolicy::LastView);
        advance_until(&mut ra, HB, |v| v.is_connected()).await;
        world
            .lock()
            .unwrap()
            .group
            .as_mut()
            .unwrap()
            .remove(&MemberId::from("a"));
        tokio::time::sleep(HB).await;
        advance_until(&mut ra, HB, |_| {
            world
                .lock()
                .unwrap()
                .group
                .as_ref()
                .unwrap()
                .contains_key(&MemberId::from("a"))
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn redis_down_at_start() {
        for (policy, expect) in [
            (OutagePolicy::LastView, 0usize),
            (OutagePolicy::None, 0),
            (OutagePolicy::All, 1),
        ] {
            let world = Shared::default();
            world.lock().unwrap().down = true;
            let (_a, mut ra) = spawn(&world, "a", policy);
            advance_until(&mut ra, HB * 2, |v| {
                matches!(v.state, ConnectionState::Degraded { .. })
            })
            .await;
            assert_eq!(ra.borrow().members.len(), expect, "{policy:?}");
            world.lock().unwrap().down = false;
            advance_until(&mut ra, HB * 2, |v| {
                v.is_connected() && v.members.len() == 1
            })
            .await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn outage_policies() {
        for (policy, expect) in [(OutagePolicy::None, 0usize), (OutagePolicy::All, 1)] {
            let world = Shared::default();
            let (_a, mut ra) = spawn(&world, "a", policy);
            let (_b, _rb) = spawn(&world, "b", policy);
            advance_until(&mut ra, Duration::from_secs(3), |v| v.members.len() == 2).await;
            world.lock().unwrap().down = true;
            advance_until(&mut ra, HB * 2, |v| !v.is_connected()).await;
            assert_eq!(ra.borrow().members.len(), expect, "{policy:?}");
            if expect == 1 {
                assert!(ra.borrow().members.contains_key(&MemberId::from("a")));
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn duplicate_instance_is_reported_and_caps_update() {
        let world = Shared::default();
        let (a1, mut r1) = spawn(&world, "a", OutagePolicy::LastView);
        advance_until(&mut r1, HB, |v| v.is_connected()).await;
        let (_a2, mut r2) = spawn(&world, "a", OutagePolicy::LastView);
        advance_until(&mut r1, HB * 3, |v| v.duplicate_instance.is_some()).await;
        advance_until(&mut r2, HB * 3, |v| v.duplicate_instance.is_some()).await;
        a1.update_capabilities(vec![("active_from".into(), rmpv::Value::from(42))])
            .await
            .unwrap();
        assert!(a1
            .update_capabilities(vec![("weight".into(), rmpv::Value::from(2))])
            .await
            .is_err());
    }
}
