//! Test doubles shared by this crate's unit tests.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use sample::{Metadata, Sample, SampleType, Timestamp, Volume};

use crate::{Batch, BoxFuture, PublishError, Publisher};

/// A sample whose `resource_id` is `r<i>` and volume `i`.
pub fn sample_n(i: usize) -> Sample {
    Sample {
        name: "storage.objects".into(),
        sample_type: SampleType::Gauge,
        unit: "object".into(),
        volume: Volume::Int(i as i64),
        user_id: None,
        user_name: None,
        project_id: Some(format!("p{i}")),
        project_name: None,
        resource_id: format!("r{i}"),
        timestamp: Timestamp::from_unix_micros(1_700_000_000_000_000 + i as i64),
        resource_metadata: Metadata::new(),
        source: "openstack".into(),
        id: format!("00000000-0000-0000-0000-{i:012}"),
        monotonic_time: None,
    }
}

/// A publisher that fails the next N sends (retryable) or refuses the next M (permanent).
#[derive(Default)]
pub struct Scripted {
    fail: AtomicU32,
    refuse: AtomicU32,
    delivered: Mutex<Vec<usize>>,
}

impl Scripted {
    pub fn fail_next(&self, n: u32) {
        self.fail.store(n, Ordering::SeqCst);
    }
    pub fn refuse_next(&self, n: u32) {
        self.refuse.store(n, Ordering::SeqCst);
    }
    /// Volumes of every delivered sample, in delivery order.
    pub fn delivered_ids(&self) -> Vec<usize> {
        self.delivered.lock().unwrap().clone()
    }
}

impl Publisher for Scripted {
    fn name(&self) -> &str {
        "scripted://"
    }
    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let dec = |a: &AtomicU32| {
                a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                    .is_ok()
            };
            if dec(&self.refuse) {
                return Err(PublishError::Permanent("refused".into()));
            }
            if dec(&self.fail) {
                return Err(PublishError::Retryable("down".into()));
            }
            let mut d = self.delivered.lock().unwrap();
            for s in &batch.samples {
                if let Volume::Int(i) = s.volume {
                    d.push(i as usize);
                }
            }
            Ok(())
        })
    }
}
