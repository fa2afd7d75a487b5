//! Batches from the pollsters to the publishers' delivery workers.
//!
//! With `polling.yaml` every batch goes to every publisher (the bus by default, plus
//! `[ceilometer_central] publishers`). With a Kilo `pipeline.yaml` a source's batches go to the
//! publishers of its sinks, and — as Kilo did — only samples whose *sample* name matches the
//! source's meters (so `rgw.*` entry names publish `radosgw.*` samples only under a pattern
//! covering them). Filtered samples are counted, not silently lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ceilometer_config::MeterSelector;
use publisher::{Batch, Delivery};

use crate::metrics::PublisherSnapshot;
use crate::poller::SampleBatch;
use crate::service::Sink;

/// A publisher and its delivery worker.
pub struct Output {
    /// Masked URL.
    pub name: String,
    /// The worker.
    pub delivery: Arc<Delivery>,
}

/// Kilo routing of one source.
pub struct SourceRoute {
    /// The source's meters, applied to sample names.
    pub meters: MeterSelector,
    /// Indexes into the outputs.
    pub outputs: Vec<usize>,
}

/// The router.
pub struct Router {
    outputs: Vec<Output>,
    /// `None`: every batch to every output (polling.yaml).
    kilo: Option<BTreeMap<String, SourceRoute>>,
    filtered: AtomicU64,
}

impl Router {
    /// Every batch to every output.
    pub fn broadcast(outputs: Vec<Output>) -> Router {
        Router {
            outputs,
            kilo: None,
            filtered: AtomicU64::new(0),
        }
    }

    /// Kilo pipeline routing.
    pub fn kilo(outputs: Vec<Output>, routes: BTreeMap<String, SourceRoute>) -> Router {
        Router {
            outputs,
            kilo: Some(routes),
            filtered: AtomicU64::new(0),
        }
    }

    /// The outputs.
    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    /// Samples not published because their name did not match their Kilo source's meters.
    pub fn filtered(&self) -> u64 {
        self.filtered.load(Ordering::Relaxed)
    }

    /// Counters of every output.
    pub fn snapshots(&self) -> Vec<(String, PublisherSnapshot)> {
        self.outputs
            .iter()
            .map(|o| {
                let s = o.delivery.stats();
                (
                    o.name.clone(),
                    PublisherSnapshot {
                        published: s.published,
                        queued: s.queued,
                        spooled: s.spooled,
                        dropped: s.dropped,
                        failed_attempts: s.failed_attempts,
                    },
                )
            })
            .collect()
    }

    /// Flush every output within `limit` (they flush concurrently).
    pub async fn flush(&self, limit: std::time::Duration) -> bool {
        let mut all = true;
        let stats =
            futures_util::future::join_all(self.outputs.iter().map(|o| o.delivery.shutdown(limit)))
                .await;
        for (o, s) in self.outputs.iter().zip(stats) {
            if s.queued + s.spooled > 0 {
                all = false;
                tracing::warn!(publisher = %o.name, queued = s.queued, spooled = s.spooled,
                    "Publisher not drained at shutdown; spooled samples are delivered by the next run.");
            }
        }
        all
    }
}

impl Sink for Router {
    fn submit(&self, b: SampleBatch) {
        match &self.kilo {
            None => {
                let batch = Arc::new(Batch { samples: b.samples });
                for o in &self.outputs {
                    o.delivery.submit(batch.clone());
                }
            }
            Some(routes) => {
                let Some(route) = routes.get(&b.source) else {
                    self.filtered
                        .fetch_add(b.samples.len() as u64, Ordering::Relaxed);
                    return;
                };
                let before = b.samples.len();
                let samples: Vec<_> = b
                    .samples
                    .into_iter()
                    .filter(|s| route.meters.matches(&s.name))
                    .collect();
                self.filtered
                    .fetch_add((before - samples.len()) as u64, Ordering::Relaxed);
                if samples.is_empty() {
                    return;
                }
                let batch = Arc::new(Batch { samples });
                for i in &route.outputs {
                    if let Some(o) = self.outputs.get(*i) {
                        o.delivery.submit(batch.clone());
                    }
                }
            }
        }
    }
}
