//! The membership task: beat and read on every tick, rejoin when needed, publish the view.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::{sleep_until, Instant};
use tracing::{debug, error, info, warn};

use crate::backoff::ExponentialBackoff;
use crate::caps;
use crate::store::{GroupState, Store, StoreError};
use crate::view::{ConnectionState, ForeignMember, Member, MemberId, MembershipView, OutagePolicy};

/// Settings the task needs (derived from [`crate::CoordinationConfig`]).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub group: String,
    pub heartbeat: Duration,
    pub weight: u32,
    pub key_scheme: String,
    pub outage_policy: OutagePolicy,
    pub target: String,
    pub membership_timeout: Duration,
}

pub(crate) enum Command {
    Update {
        extra: Vec<(String, Value)>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Leave {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    PutRecord {
        name: String,
        field: Vec<u8>,
        value: Vec<u8>,
        ttl: Duration,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    GetRecord {
        name: String,
        reply: oneshot::Sender<Result<crate::store::RecordFields, StoreError>>,
    },
}

pub(crate) struct Runner<S: Store> {
    store: S,
    settings: Settings,
    instance: String,
    extra: Vec<(String, Value)>,
    tx: watch::Sender<MembershipView>,
    backoff: ExponentialBackoff,
    state: ConnectionState,
    /// Members from the last successful read (ours and foreign), before the outage policy.
    last_good: Option<(
        BTreeMap<MemberId, Member>,
        BTreeMap<MemberId, ForeignMember>,
    )>,
    warned_foreign: HashSet<MemberId>,
    reported_duplicates: HashSet<String>,
    duplicate: Option<String>,
    joined_once: bool,
    /// Our field's bytes as last written; rewritten when the stored one differs.
    written_caps: Option<Vec<u8>>,
    /// After an outage or a recreated group, the members of the view from before it are
    /// kept until this deadline unless they reappear: every agent is reconnecting and
    /// rejoining at its own pace, and a dead one would take membership_timeout to expire
    /// anyway. Avoids reshuffling the ring while the group refills.
    grace: Option<(Instant, BTreeMap<MemberId, Member>)>,
}

/// The backoff used while Redis is unreachable: from 100 ms up to the heartbeat (at least
/// 1 s, at most 5 s), half jittered.
pub(crate) fn outage_backoff(heartbeat: Duration) -> ExponentialBackoff {
    let max = heartbeat.clamp(Duration::from_secs(1), Duration::from_secs(5));
    #[allow(clippy::expect_used)]
    ExponentialBackoff::new(Duration::from_millis(100), max, 0.5)
        .expect("min 100 ms < max >= 1 s and jitter 0.5 are valid")
}

impl<S: Store> Runner<S> {
    pub(crate) fn new(
        store: S,
        settings: Settings,
        instance: String,
        extra: Vec<(String, Value)>,
    ) -> (Self, watch::Receiver<MembershipView>) {
        let me = store.member_id().clone();
        let initial = MembershipView {
            epoch: 0,
            state: ConnectionState::Connecting,
            self_id: me,
            members: BTreeMap::new(),
            foreign: BTreeMap::new(),
            duplicate_instance: None,
        };
        let (tx, rx) = watch::channel(initial);
        let backoff = outage_backoff(settings.heartbeat);
        let mut r = Runner {
            store,
            settings,
            instance,
            extra,
            tx,
            backoff,
            state: ConnectionState::Connecting,
            last_good: None,
            warned_foreign: HashSet::new(),
            reported_duplicates: HashSet::new(),
            duplicate: None,
            joined_once: false,
            written_caps: None,
            grace: None,
        };
        // The policy view before the first read (e.g. `all` polls everything at once).
        r.publish();
        (r, rx)
    }

    fn me(&self) -> &MemberId {
        self.store.member_id()
    }

    fn our_caps(&self) -> Value {
        caps::ours(
            self.settings.weight,
            &self.settings.key_scheme,
            &self.instance,
            &self.extra,
        )
    }

    /// Runs until `leave` is asked for or every handle is dropped.
    pub(crate) async fn run(mut self, mut cmds: mpsc::Receiver<Command>, switch: Arc<Notify>) {
        let mut next = Instant::now();
        loop {
            tokio::select! {
                biased;
                cmd = cmds.recv() => match cmd {
                    None => {
                        debug!(group = %self.settings.group, "Coordinator handle dropped; stopping the membership task without leaving.");
                        return;
                    }
                    Some(Command::Leave { reply }) => {
                        let r = self.leave().await;
                        let _ = reply.send(r);
                        return;
                    }
                    Some(Command::Update { extra, reply }) => {
                        self.extra = extra;
                        let r = self.push_caps().await;
                        let _ = reply.send(r);
                        continue;
                    }
                    Some(Command::PutRecord { name, field, value, ttl, reply }) => {
                        let r = async {
                            self.store.connect().await?;
                            self.store.put_record(&name, field, value, ttl).await
                        }
                        .await;
                        if r.is_err() {
                            self.store.disconnect();
                        }
                        let _ = reply.send(r);
                        continue;
                    }
                    Some(Command::GetRecord { name, reply }) => {
                        let r = async {
                            self.store.connect().await?;
                            self.store.get_record(&name).await
                        }
                        .await;
                        if r.is_err() {
                            self.store.disconnect();
                        }
                        let _ = reply.send(r);
                        continue;
                    }
                },
                _ = switch.notified() => {
                    self.store.disconnect();
                }
                _ = sleep_until(next) => {}
            }
            let started = Instant::now();
            next = match self.tick().await {
                Ok(()) => started + self.settings.heartbeat,
                Err(e) => {
                    self.on_failure(e);
                    Instant::now() + self.backoff.next_delay()
                }
            };
        }
    }

    async fn push_caps(&mut self) -> Result<(), StoreError> {
        if !self.store.is_connected() {
            // Written by the next successful tick (it compares the stored field).
            return Ok(());
        }
        let bytes = caps::encode(&self.our_caps());
        match self.store.join(bytes.clone()).await {
            Ok(_) => {
                self.written_caps = Some(bytes);
                Ok(())
            }
            Err(e) => {
                self.on_failure(StoreError {
                    doing: e.doing,
                    target: e.target.clone(),
                    message: e.message.clone(),
                });
                Err(e)
            }
        }
    }

    async fn leave(&mut self) -> Result<(), StoreError> {
        let r = async {
            self.store.connect().await?;
            self.store.leave().await
        }
        .await;
        match &r {
            Ok(()) => info!(group = %self.settings.group, member = %self.me(), "Left the group."),
            Err(e) => {
                warn!(group = %self.settings.group, member = %self.me(), error = %e, "Could not leave the group; peers will drop us when our heartbeat expires.")
            }
        }
        self.store.disconnect();
        r
    }

    async fn tick(&mut self) -> Result<(), StoreError> {
        self.store.connect().await?;
        let group = self.store.beat_and_read().await?;
        let desired = caps::encode(&self.our_caps());
        let mut members = match &group {
            GroupState::Missing => {
                if self.joined_once {
                    warn!(group = %self.settings.group, "The group is gone from Redis (restarted empty, or a failover lost it); recreating it and rejoining.");
                }
                Vec::new()
            }
            GroupState::Present(m) => m.clone(),
        };
        let recovering = matches!(self.state, ConnectionState::Degraded { .. })
            || (self.joined_once && matches!(group, GroupState::Missing));
        if recovering && self.grace.is_none() {
            if let Some((ours, _)) = &self.last_good {
                self.grace = Some((
                    Instant::now() + self.settings.membership_timeout,
                    ours.clone(),
                ));
            }
        }
        let mine = members.iter().position(|(m, _)| m == self.me());
        let rejoin = match mine {
            None => {
                if self.joined_once {
                    warn!(group = %self.settings.group, member = %self.me(), "Our member was missing from the group (pruned after our heartbeat expired, or the group was recreated); rejoining.");
                }
                true
            }
            Some(i) => {
                let stored = &members[i].1;
                if *stored == desired {
                    false
                } else {
                    let other = caps::decode(stored)
                        .ok()
                        .and_then(|v| caps::instance(&v).map(str::to_string));
                    match other {
                        // Before our first write the field may be a previous run's.
                        Some(tok) if tok != self.instance && self.written_caps.is_some() => {
                            if self.reported_duplicates.insert(tok.clone()) {
                                error!(group = %self.settings.group, member = %self.me(), ours = %self.instance, theirs = %tok,
                                    "Another live process is using our member id: both poll the same share and the other shares may be missed. Give each agent its own [coordination] member_id or [DEFAULT] host.");
                            }
                            self.duplicate = Some(tok);
                        }
                        _ => {}
                    }
                    true
                }
            }
        };
        if rejoin {
            let created = self.store.join(desired.clone()).await?;
            if created {
                info!(group = %self.settings.group, "Created the group.");
            }
            if !self.joined_once {
                info!(group = %self.settings.group, member = %self.me(), target = %self.settings.target, "Joined the group.");
            }
            self.joined_once = true;
            self.written_caps = Some(desired.clone());
            match mine {
                Some(i) => members[i].1 = desired,
                None => members.push((self.me().clone(), desired)),
            }
        }
        if let ConnectionState::Degraded { since } = self.state {
            info!(group = %self.settings.group, outage = ?since.elapsed(), "Redis is reachable again; membership is live.");
        }
        self.state = ConnectionState::Connected;
        self.backoff.reset();
        self.absorb(members);
        self.apply_grace();
        self.publish();
        Ok(())
    }

    fn on_failure(&mut self, e: StoreError) {
        self.store.disconnect();
        match self.state {
            ConnectionState::Degraded { .. } => {
                debug!(error = %e, "Redis still unreachable.");
            }
            _ => {
                warn!(group = %self.settings.group, error = %e, policy = ?self.settings.outage_policy,
                    "Redis is unreachable; keeping the membership view the outage policy gives and retrying with backoff.");
                self.state = ConnectionState::Degraded {
                    since: Instant::now(),
                };
                self.publish();
            }
        }
    }

    /// Classifies the raw members into ours and foreign and remembers them.
    fn absorb(&mut self, raw: Vec<(MemberId, Vec<u8>)>) {
        let mut ours = BTreeMap::new();
        let mut foreign = BTreeMap::new();
        for (id, bytes) in raw {
            let decoded = caps::decode(&bytes);
            let (value, class) = match decoded {
                Ok(v) => {
                    let c = caps::classify(&v, &self.settings.key_scheme);
                    (v, c)
                }
                Err(e) => (Value::Nil, Err(caps::ForeignReason::Undecodable(e))),
            };
            let weight = caps::weight(&value);
            match class {
                Ok(()) => {
                    let instance = caps::instance(&value).map(str::to_string);
                    ours.insert(
                        id,
                        Member {
                            weight,
                            instance,
                            capabilities: value,
                        },
                    );
                }
                Err(reason) => {
                    if self.warned_foreign.insert(id.clone()) {
                        warn!(group = %self.settings.group, member = %id, %reason,
                            "A member of the group is not a ceilometer-central agent with our resource-key scheme; leaving it out of our ring (it polls its own share, which may overlap ours).");
                    }
                    foreign.insert(
                        id,
                        ForeignMember {
                            weight,
                            reason,
                            capabilities: value,
                        },
                    );
                }
            }
        }
        self.last_good = Some((ours, foreign));
    }

    /// Keeps the pre-outage members that have not reappeared while the grace lasts.
    fn apply_grace(&mut self) {
        let Some((until, before)) = &self.grace else {
            return;
        };
        if Instant::now() >= *until {
            self.grace = None;
            return;
        }
        if let Some((ours, _)) = self.last_good.as_mut() {
            let mut missing = 0;
            for (id, m) in before {
                if !ours.contains_key(id) {
                    ours.insert(id.clone(), m.clone());
                    missing += 1;
                }
            }
            if missing == 0 {
                self.grace = None;
            }
        }
    }

    /// Publishes the view for the current state and policy, if anything changed.
    fn publish(&mut self) {
        let me = self.me().clone();
        let self_only = || {
            let mut m = BTreeMap::new();
            m.insert(
                me.clone(),
                Member {
                    weight: self.settings.weight,
                    instance: Some(self.instance.clone()),
                    capabilities: self.our_caps(),
                },
            );
            m
        };
        let (members, foreign) = match (self.state, self.settings.outage_policy) {
            (ConnectionState::Connected, _) => self.last_good.clone().unwrap_or_default(),
            // Before any successful read there is no last view: no members, so an agent
            // that starts while Redis is down polls nothing rather than everything.
            (_, OutagePolicy::LastView) => self.last_good.clone().unwrap_or_default(),
            (_, OutagePolicy::None) => (BTreeMap::new(), BTreeMap::new()),
            (_, OutagePolicy::All) => (self_only(), BTreeMap::new()),
        };
        let state = self.state;
        let duplicate = self.duplicate.clone();
        let group = self.settings.group.clone();
        self.tx.send_if_modified(|view| {
            let membership_changed = view.members != members || view.foreign != foreign;
            if !membership_changed && view.state == state && view.duplicate_instance == duplicate {
                return false;
            }
            if membership_changed {
                log_diff(&group, view, &members, &foreign);
                view.epoch += 1;
                view.members = members;
                view.foreign = foreign;
            }
            view.state = state;
            view.duplicate_instance = duplicate;
            true
        });
    }
}

fn log_diff(
    group: &str,
    old: &MembershipView,
    members: &BTreeMap<MemberId, Member>,
    foreign: &BTreeMap<MemberId, ForeignMember>,
) {
    let names = |it: Vec<&MemberId>| it.iter().map(|m| m.to_string()).collect::<Vec<_>>();
    let joined = names(
        members
            .keys()
            .filter(|k| !old.members.contains_key(*k))
            .collect(),
    );
    let left = names(
        old.members
            .keys()
            .filter(|k| !members.contains_key(*k))
            .collect(),
    );
    let changed = names(
        members
            .iter()
            .filter(|(k, v)| old.members.get(*k).is_some_and(|o| o != *v))
            .map(|(k, _)| k)
            .collect(),
    );
    let foreign_joined = names(
        foreign
            .keys()
            .filter(|k| !old.foreign.contains_key(*k))
            .collect(),
    );
    let foreign_left = names(
        old.foreign
            .keys()
            .filter(|k| !foreign.contains_key(*k))
            .collect(),
    );
    let weights: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{k}={}", v.weight))
        .collect();
    info!(
        group,
        epoch = old.epoch + 1,
        ?joined,
        ?left,
        ?changed,
        members = ?weights,
        ?foreign_joined,
        ?foreign_left,
        foreign = foreign.len(),
        "Membership changed."
    );
}
