//! One delivery worker per publisher: polling hands batches over and never waits.
//!
//! `submit` only takes a short lock: the batch goes to the memory queue, or — when the queue
//! holds `max_queue_length` batches or older batches are already on disk — to the spool.
//! The worker delivers strictly in order (memory first, then the spool, oldest first) and
//! retries a failed batch with capped, jittered exponential backoff until it is delivered,
//! the destination refuses it for good, or the policy is `drop`.
//!
//! Accounting invariant, in samples, at every instant:
//! `submitted = published + dropped + queued + spooled`
//! (a batch being sent is still counted as queued). Every drop is logged with its reason.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::spool::Spool;
use crate::{Batch, PublishError, Publisher};

/// What to do with a batch that cannot be delivered (the publisher URL's `policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Retry until delivered (upstream `default`); memory queue, then spool.
    Default,
    /// Same as `default` here: queue in memory up to `max_queue_length`, then spool.
    Queue,
    /// Drop a batch as soon as a send fails, or when the memory queue is full.
    Drop,
}

impl Policy {
    /// Parse the URL option.
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "default" => Some(Policy::Default),
            "queue" => Some(Policy::Queue),
            "drop" => Some(Policy::Drop),
            _ => None,
        }
    }
}

/// Capped exponential backoff with jitter, validated at construction.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
}

impl Backoff {
    /// `initial` ≤ `max`, both non-zero.
    pub fn new(initial: Duration, max: Duration) -> Option<Backoff> {
        (!initial.is_zero() && initial <= max).then_some(Backoff { initial, max })
    }

    /// The wait before attempt `n + 1` after `n` failures: uniform in `[d/2, d]` with
    /// `d = min(max, initial·2ⁿ)`, so a fleet does not retry in lock-step.
    pub fn delay(&self, failures: u32) -> Duration {
        let d = self
            .initial
            .saturating_mul(1u32 << failures.min(20))
            .min(self.max);
        let half = d / 2;
        half + d.saturating_sub(half).mul_f64(rand::rng().random::<f64>())
    }
}

/// Settings of one delivery worker.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Policy for failed batches.
    pub policy: Policy,
    /// Batches kept in memory before spilling to the spool (upstream `max_queue_length`).
    pub max_queue_length: usize,
    /// Spool directory; without one, a full memory queue drops its oldest batch.
    pub spool_dir: Option<PathBuf>,
    /// Bound of the spool in bytes.
    pub spool_max_bytes: u64,
    /// Retry backoff.
    pub backoff: Backoff,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            policy: Policy::Default,
            max_queue_length: 1024,
            spool_dir: None,
            spool_max_bytes: 256 << 20,
            backoff: Backoff {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
        }
    }
}

/// Counters in samples (and a few in batches), readable at any time.
#[derive(Debug, Default)]
struct Counters {
    submitted: AtomicU64,
    published: AtomicU64,
    dropped: AtomicU64,
    queued: AtomicU64,
    spooled: AtomicU64,
    spooled_total: AtomicU64,
    failed_attempts: AtomicU64,
    published_batches: AtomicU64,
}

/// A consistent-enough snapshot of a worker's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryStats {
    /// Samples handed to this publisher.
    pub submitted: u64,
    /// Samples the destination accepted.
    pub published: u64,
    /// Samples given up on (policy, permanent refusal, spool bound, shutdown without spool).
    pub dropped: u64,
    /// Samples in memory (including the batch being sent).
    pub queued: u64,
    /// Samples on disk now.
    pub spooled: u64,
    /// Samples ever written to the spool.
    pub spooled_total: u64,
    /// Failed send attempts.
    pub failed_attempts: u64,
    /// Batches the destination accepted.
    pub published_batches: u64,
}

struct State {
    memory: VecDeque<Arc<Batch>>,
    spool: Option<Spool>,
    closing: bool,
    /// Whether the front of `memory` is being sent.
    busy: bool,
}

struct Shared {
    /// Set while the destination is failing (for readiness checks).
    down: std::sync::atomic::AtomicBool,
    name: String,
    cfg: DeliveryConfig,
    state: Mutex<State>,
    wake: Notify,
    idle: Notify,
    c: Counters,
}

/// A running delivery worker. Dropping it aborts the worker; call [`Delivery::shutdown`] to
/// flush first.
pub struct Delivery {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

fn add(a: &AtomicU64, n: usize) {
    a.fetch_add(n as u64, Ordering::Relaxed);
}
fn sub(a: &AtomicU64, n: usize) {
    a.fetch_sub(n as u64, Ordering::Relaxed);
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queue half-updated in a way that
        // loses samples (every mutation is a single push/pop), so keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn drop_samples(&self, n: usize, why: &str) {
        add(&self.c.dropped, n);
        tracing::error!(publisher = %self.name, samples = n, reason = why, "Samples dropped.");
    }

    /// Put `batch` on the spool, or drop it (counted) when there is no spool or it fails.
    fn spill(&self, st: &mut State, batch: &Batch) {
        let n = batch.samples.len();
        match st.spool.as_mut() {
            Some(spool) => match spool.push(batch) {
                Ok(ev) => {
                    add(&self.c.spooled, n);
                    add(&self.c.spooled_total, n);
                    if ev.samples > 0 {
                        sub(&self.c.spooled, ev.samples);
                        self.drop_samples(ev.samples, "spool full: oldest batches evicted");
                    }
                }
                Err(e) => self.drop_samples(n, &format!("cannot write to the spool: {e}")),
            },
            None => self.drop_samples(n, "no spool directory and the memory queue is full"),
        }
    }
}

impl Delivery {
    /// Start a worker for `publisher`. Batches left in the spool by an earlier run are
    /// delivered first.
    pub fn spawn(publisher: Arc<dyn Publisher>, cfg: DeliveryConfig) -> std::io::Result<Delivery> {
        let spool = match &cfg.spool_dir {
            Some(d) => Some(Spool::open(d, cfg.spool_max_bytes)?),
            None => None,
        };
        let c = Counters::default();
        if let Some(sp) = &spool {
            // Samples from an earlier run count as submitted now, so the invariant holds.
            add(&c.spooled, sp.samples());
            add(&c.submitted, sp.samples());
            if !sp.is_empty() {
                tracing::info!(
                    publisher = publisher.name(),
                    samples = sp.samples(),
                    batches = sp.batches(),
                    "Replaying spooled samples from an earlier run."
                );
            }
        }
        let shared = Arc::new(Shared {
            down: std::sync::atomic::AtomicBool::new(false),
            name: publisher.name().to_owned(),
            cfg,
            state: Mutex::new(State {
                memory: VecDeque::new(),
                spool,
                closing: false,
                busy: false,
            }),
            wake: Notify::new(),
            idle: Notify::new(),
            c,
        });
        let worker = tokio::spawn(run(shared.clone(), publisher));
        Ok(Delivery {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// The publisher's name (masked URL).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Hand a batch over. Never waits on the destination.
    pub fn submit(&self, batch: Arc<Batch>) {
        let sh = &self.shared;
        let n = batch.samples.len();
        if n == 0 {
            return;
        }
        add(&sh.c.submitted, n);
        let mut st = sh.lock();
        let spool_backlog = st.spool.as_ref().is_some_and(|s| !s.is_empty());
        let full = st.memory.len() >= sh.cfg.max_queue_length;
        if st.closing {
            sh.spill(&mut st, &batch);
        } else if !full && !spool_backlog {
            st.memory.push_back(batch);
            add(&sh.c.queued, n);
        } else if sh.cfg.policy == Policy::Drop {
            drop(st);
            sh.drop_samples(n, "policy=drop and the memory queue is full");
            return;
        } else if st.spool.is_some() {
            sh.spill(&mut st, &batch);
        } else {
            // No spool: keep the newest data, drop the oldest batch not being sent.
            let idx = usize::from(st.busy);
            if let Some(old) = st.memory.remove(idx) {
                sub(&sh.c.queued, old.samples.len());
                sh.drop_samples(
                    old.samples.len(),
                    "memory queue full and no spool directory: oldest batch dropped",
                );
            }
            st.memory.push_back(batch);
            add(&sh.c.queued, n);
        }
        drop(st);
        sh.wake.notify_one();
    }

    /// Whether the last send attempt succeeded (false while the destination is failing).
    pub fn is_reachable(&self) -> bool {
        !self.shared.down.load(Ordering::Relaxed)
    }

    /// Counters now.
    pub fn stats(&self) -> DeliveryStats {
        let c = &self.shared.c;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DeliveryStats {
            submitted: g(&c.submitted),
            published: g(&c.published),
            dropped: g(&c.dropped),
            queued: g(&c.queued),
            spooled: g(&c.spooled),
            spooled_total: g(&c.spooled_total),
            failed_attempts: g(&c.failed_attempts),
            published_batches: g(&c.published_batches),
        }
    }

    fn is_drained(&self) -> bool {
        let st = self.shared.lock();
        st.memory.is_empty() && st.spool.as_ref().is_none_or(Spool::is_empty)
    }

    /// Wait until everything handed over is delivered or dropped, at most `limit`.
    pub async fn flush(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let idle = self.shared.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.is_drained() {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.is_drained();
            }
        }
    }

    /// Flush for at most `limit`, then stop. What is still in memory goes to the spool (to be
    /// delivered by the next run) or, without a spool, is counted as dropped.
    pub async fn shutdown(&self, limit: Duration) -> DeliveryStats {
        let done = self.flush(limit).await;
        {
            let mut st = self.shared.lock();
            st.closing = true;
        }
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(w) = worker {
            w.abort();
            let _ = w.await;
        }
        if !done {
            // Memory holds the oldest batches: they go in front of the spool, newest first,
            // so the next run replays everything in the original order.
            let sh = &self.shared;
            let mut st = sh.lock();
            let left: Vec<Arc<Batch>> = st.memory.drain(..).collect();
            for b in left.iter().rev() {
                let n = b.samples.len();
                sub(&sh.c.queued, n);
                let saved = st.spool.as_mut().map(|sp| sp.push_front(b));
                match saved {
                    Some(Ok(())) => {
                        add(&sh.c.spooled, n);
                        add(&sh.c.spooled_total, n);
                    }
                    Some(Err(e)) => {
                        sh.drop_samples(n, &format!("shutdown: cannot write to the spool: {e}"))
                    }
                    None => sh.drop_samples(n, "shutdown before delivery and no spool directory"),
                }
            }
        }
        self.stats()
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Ok(mut w) = self.worker.lock() {
            if let Some(w) = w.take() {
                w.abort();
            }
        }
    }
}

async fn run(sh: Arc<Shared>, publisher: Arc<dyn Publisher>) {
    let mut failures: u32 = 0;
    let mut outage_since: Option<Instant> = None;
    loop {
        let next: Result<Option<Arc<Batch>>, (usize, String)> = 'pick: {
            let mut st = sh.lock();
            if st.memory.is_empty() {
                if let Some(res) = st.spool.as_mut().and_then(Spool::pop_oldest) {
                    match res {
                        Ok(b) => {
                            let n = b.samples.len();
                            sub(&sh.c.spooled, n);
                            add(&sh.c.queued, n);
                            st.memory.push_back(Arc::new(b));
                        }
                        Err(bad) => {
                            sub(&sh.c.spooled, bad.0);
                            break 'pick Err(bad);
                        }
                    }
                }
            }
            let front = st.memory.front().cloned();
            st.busy = front.is_some();
            Ok(front)
        };
        let next = match next {
            Ok(n) => n,
            Err((n, why)) => {
                sh.drop_samples(n, &format!("spooled batch unreadable: {why}"));
                continue;
            }
        };
        let Some(batch) = next else {
            sh.idle.notify_waiters();
            sh.wake.notified().await;
            continue;
        };
        let n = batch.samples.len();
        let result = publisher.publish(&batch).await;
        // Decide under the lock, act (log, sleep) after it is released.
        let retry_after_error = {
            let mut st = sh.lock();
            st.busy = false;
            match &result {
                Err(PublishError::Retryable(_)) if sh.cfg.policy != Policy::Drop => true,
                _ => {
                    st.memory.pop_front();
                    false
                }
            }
        };
        match result {
            Ok(()) => {
                sub(&sh.c.queued, n);
                add(&sh.c.published, n);
                sh.c.published_batches.fetch_add(1, Ordering::Relaxed);
                failures = 0;
                sh.down.store(false, Ordering::Relaxed);
                if let Some(since) = outage_since.take() {
                    tracing::info!(publisher = %sh.name, down_for_s = since.elapsed().as_secs_f64(),
                        "Publisher reachable again; delivering queued samples.");
                }
            }
            Err(PublishError::Permanent(why)) => {
                sub(&sh.c.queued, n);
                sh.drop_samples(n, &format!("destination refused the batch: {why}"));
            }
            Err(PublishError::Retryable(why)) => {
                sh.c.failed_attempts.fetch_add(1, Ordering::Relaxed);
                sh.down.store(true, Ordering::Relaxed);
                if !retry_after_error {
                    sub(&sh.c.queued, n);
                    sh.drop_samples(n, &format!("policy=drop and the send failed: {why}"));
                    continue;
                }
                if outage_since.is_none() {
                    outage_since = Some(Instant::now());
                    tracing::warn!(publisher = %sh.name, error = %why,
                        "Publisher unreachable; queuing samples and retrying with backoff.");
                } else {
                    tracing::debug!(publisher = %sh.name, error = %why, "Retry failed.");
                }
                let wait = sh.cfg.backoff.delay(failures);
                failures = failures.saturating_add(1);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sample_n, Scripted};

    fn batch(ids: std::ops::Range<usize>) -> Arc<Batch> {
        Arc::new(Batch {
            samples: ids.map(sample_n).collect(),
        })
    }

    fn invariant(s: &DeliveryStats) {
        assert_eq!(
            s.submitted,
            s.published + s.dropped + s.queued + s.spooled,
            "{s:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn delivers_in_order_after_an_outage_with_backoff() {
        let p = Arc::new(Scripted::default());
        p.fail_next(3);
        let d = Delivery::spawn(p.clone(), DeliveryConfig::default()).unwrap();
        for i in 0..5 {
            d.submit(batch(i * 10..i * 10 + 10));
        }
        invariant(&d.stats());
        let start = Instant::now();
        assert!(d.flush(Duration::from_secs(60)).await);
        // Three failures: waits of at least 0.25 + 0.5 + 1 s (half of 0.5, 1, 2 s).
        assert!(
            start.elapsed() >= Duration::from_millis(1750),
            "{:?}",
            start.elapsed()
        );
        let s = d.stats();
        assert_eq!((s.published, s.dropped, s.failed_attempts), (50, 0, 3));
        invariant(&s);
        assert_eq!(p.delivered_ids(), (0..50).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn full_memory_spills_to_spool_and_replays_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = Arc::new(Scripted::default());
        p.fail_next(u32::MAX);
        let cfg = DeliveryConfig {
            max_queue_length: 2,
            spool_dir: Some(dir.path().to_owned()),
            ..DeliveryConfig::default()
        };
        let d = Delivery::spawn(p.clone(), cfg.clone()).unwrap();
        for i in 0..6 {
            d.submit(batch(i * 3..i * 3 + 3));
        }
        let s = d.stats();
        assert_eq!((s.queued, s.spooled, s.published), (6, 12, 0));
        invariant(&s);
        // The destination comes back: everything arrives, in order.
        p.fail_next(0);
        assert!(d.flush(Duration::from_secs(120)).await);
        let s = d.stats();
        assert_eq!((s.published, s.queued, s.spooled, s.dropped), (18, 0, 0, 0));
        assert_eq!(p.delivered_ids(), (0..18).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn spool_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DeliveryConfig {
            max_queue_length: 1,
            spool_dir: Some(dir.path().to_owned()),
            ..DeliveryConfig::default()
        };
        let down = Arc::new(Scripted::default());
        down.fail_next(u32::MAX);
        let d = Delivery::spawn(down, cfg.clone()).unwrap();
        for i in 0..4 {
            d.submit(batch(i * 2..i * 2 + 2));
        }
        // Shutdown while the destination is down: memory goes to the spool, nothing is lost.
        let s = d.shutdown(Duration::from_secs(1)).await;
        assert_eq!(
            (s.dropped, s.published, s.queued, s.spooled),
            (0, 0, 0, 8),
            "{s:?}"
        );
        // Next run delivers it all, oldest first.
        let up = Arc::new(Scripted::default());
        let d = Delivery::spawn(up.clone(), cfg).unwrap();
        assert!(d.flush(Duration::from_secs(10)).await);
        let mut ids = up.delivered_ids();
        ids.sort_unstable();
        assert_eq!(ids, (0..8).collect::<Vec<_>>());
        assert_eq!(
            up.delivered_ids()[..2],
            [0, 1],
            "the batch that was in flight comes first"
        );
        invariant(&d.stats());
    }

    #[tokio::test(start_paused = true)]
    async fn drop_policy_counts_every_drop() {
        let p = Arc::new(Scripted::default());
        p.fail_next(2);
        let cfg = DeliveryConfig {
            policy: Policy::Drop,
            max_queue_length: 2,
            ..DeliveryConfig::default()
        };
        let d = Delivery::spawn(p.clone(), cfg).unwrap();
        for i in 0..5 {
            d.submit(batch(i..i + 1));
        }
        assert!(d.flush(Duration::from_secs(10)).await);
        let s = d.stats();
        // 3 refused at submit (queue full), 2 failed sends dropped; nothing published then.
        assert_eq!(s.dropped + s.published, 5);
        assert_eq!(s.dropped, 5 - p.delivered_ids().len() as u64);
        invariant(&s);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_refusals_are_dropped_not_retried() {
        let p = Arc::new(Scripted::default());
        p.refuse_next(1);
        let d = Delivery::spawn(p.clone(), DeliveryConfig::default()).unwrap();
        d.submit(batch(0..2));
        d.submit(batch(2..4));
        assert!(d.flush(Duration::from_secs(10)).await);
        let s = d.stats();
        assert_eq!((s.dropped, s.published, s.failed_attempts), (2, 2, 0));
        assert_eq!(p.delivered_ids(), vec![2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_spool_a_full_queue_drops_its_oldest_batch() {
        let p = Arc::new(Scripted::default());
        p.fail_next(u32::MAX);
        let cfg = DeliveryConfig {
            max_queue_length: 2,
            ..DeliveryConfig::default()
        };
        let d = Delivery::spawn(p.clone(), cfg).unwrap();
        tokio::task::yield_now().await;
        for i in 0..4 {
            d.submit(batch(i..i + 1));
        }
        let s = d.stats();
        assert_eq!((s.queued, s.dropped), (2, 2));
        invariant(&s);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).unwrap();
        for n in 0..30 {
            let d = b.delay(n);
            let cap = Duration::from_millis(100)
                .saturating_mul(1 << n.min(20))
                .min(Duration::from_secs(1));
            assert!(d >= cap / 2 && d <= cap, "{n}: {d:?}");
        }
        assert!(Backoff::new(Duration::ZERO, Duration::from_secs(1)).is_none());
        assert!(Backoff::new(Duration::from_secs(2), Duration::from_secs(1)).is_none());
    }
}
