//! The SNMP `hardware.*` pollsters (spec §3.5) inside a cycle: static `snmp://` resources of
//! the sources whose meters match `hardware.*`. Each host is polled once per cycle for the
//! union of the hardware meters its sources ask for (the `snmp` crate fetches each OID group
//! once), then every source gets the samples of its own meters.
//!
//! The partition key is the resource URL **without credentials**
//! ([`snmp::SnmpResource::public_url`]): stable, and no community or password ever reaches
//! the coordination backend or a log line. Kilo's default discovery
//! (`tripleo_overcloud_nodes`) is not provided.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use sample::Sample;
use snmp::{HardwarePoller, SnmpResource, METERS};
use tokio::sync::mpsc::Sender;

use crate::engine::{Cycle, CycleRequest, Emitter, Inner, SampleBatch};

/// SNMP settings of the hardware pollsters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpSettings {
    /// Hosts polled at the same time at most.
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Extra attempts after a timeout.
    pub retries: u32,
}

impl Default for SnmpSettings {
    fn default() -> Self {
        let c = snmp::ClientOptions::default();
        SnmpSettings {
            concurrency: 16,
            timeout: c.timeout,
            retries: c.retries,
        }
    }
}

/// Builds the poller from the settings.
pub(crate) fn poller(s: &SnmpSettings) -> HardwarePoller {
    let opts = snmp::ClientOptions {
        timeout: if s.timeout.is_zero() {
            snmp::ClientOptions::default().timeout
        } else {
            s.timeout
        },
        retries: s.retries,
        ..snmp::ClientOptions::default()
    };
    HardwarePoller::new(opts, s.concurrency.max(1))
}

/// Names of the hardware pollsters (one per meter).
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    METERS.iter().map(|m| m.name)
}

/// Whether a static resource is an SNMP URL.
pub(crate) fn is_snmp(r: &str) -> bool {
    r.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("snmp://"))
}

/// One host and who wants what from it.
struct HostJob {
    resource: SnmpResource,
    /// Union of the meters asked for.
    meters: BTreeSet<&'static str>,
    /// (source index, its meters).
    wants: Vec<(usize, Vec<&'static str>)>,
}

/// Polls every hardware meter of the cycle; batches go to `out` per (source, meter).
pub(crate) async fn run(
    inner: &Inner,
    cy: &Cycle<'_>,
    req: &CycleRequest,
    owns: &(dyn Fn(&[u8]) -> bool + Send + Sync),
    out: &Sender<SampleBatch>,
) {
    let mut hosts: BTreeMap<String, HostJob> = BTreeMap::new();
    for (si, src) in req.sources.iter().enumerate() {
        let meters: Vec<&'static str> = names().filter(|n| src.meters.matches(n)).collect();
        if meters.is_empty() {
            continue;
        }
        let mut any = false;
        for r in src.resources.iter().filter(|r| is_snmp(r)) {
            any = true;
            let res = match SnmpResource::parse(r) {
                Ok(res) => res,
                Err(e) => {
                    // The error shows the URL without credentials.
                    tracing::warn!(source = %src.name, error = %e, "Unusable SNMP resource; skipped");
                    cy.skip(1);
                    continue;
                }
            };
            let job = hosts
                .entry(res.public_url().to_owned())
                .or_insert_with(|| HostJob {
                    resource: res,
                    meters: BTreeSet::new(),
                    wants: Vec::new(),
                });
            if job.wants.iter().any(|(s, _)| *s == si) {
                continue;
            }
            job.meters.extend(meters.iter().copied());
            job.wants.push((si, meters.clone()));
        }
        if !any {
            tracing::debug!(source = %src.name, "Hardware meters matched but no snmp:// resource given; nothing to poll");
        }
    }
    // Partition on the credential-free URL.
    let mut jobs = Vec::new();
    for (key, job) in hosts {
        cy.count_seen();
        if !owns(key.as_bytes()) {
            continue;
        }
        cy.count_owned();
        jobs.push((key, job));
    }
    if jobs.is_empty() {
        return;
    }
    let run: BTreeSet<(usize, &'static str)> = jobs
        .iter()
        .flat_map(|(_, j)| j.wants.iter())
        .flat_map(|(si, ms)| ms.iter().map(move |m| (*si, *m)))
        .collect();
    cy.run.fetch_add(run.len(), Ordering::Relaxed);
    let mut per_pair: HashMap<(usize, &'static str), Vec<Sample>> = HashMap::new();
    let conc = jobs.len();
    let mut polls = stream::iter(jobs)
        .map(|(key, job)| async move {
            let meters: Vec<&str> = job.meters.iter().copied().collect();
            let hp = inner
                .hardware
                .poll(&job.resource, &meters, req.timestamp)
                .await;
            (key, job, hp)
        })
        .buffer_unordered(conc);
    while let Some((key, job, hp)) = polls.next().await {
        for (group, e) in &hp.errors {
            tracing::warn!(resource = %key, group = ?group, error = %e, "SNMP poll of a meter group failed; its samples are missing this cycle");
            cy.error("snmp");
        }
        for s in hp.samples {
            let Some(name) = names().find(|n| *n == s.name) else {
                continue;
            };
            let takers: Vec<usize> = job
                .wants
                .iter()
                .filter(|(_, ms)| ms.contains(&name))
                .map(|(si, _)| *si)
                .collect();
            for (i, si) in takers.iter().enumerate() {
                let v = per_pair.entry((*si, name)).or_default();
                if i + 1 == takers.len() {
                    v.push(s);
                    break;
                }
                let mut c = s.clone();
                c.id = sample::new_message_id();
                v.push(c);
            }
        }
    }
    let batch_size = req.batch_size.max(1);
    let mut pairs: Vec<_> = per_pair.into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    for ((si, name), samples) in pairs {
        let mut em = Emitter {
            out,
            source: &req.sources[si].name,
            pollster: name,
            size: batch_size,
            batch: Vec::with_capacity(batch_size.min(samples.len())),
            sent: 0,
            closed: false,
        };
        for s in samples {
            em.push(s).await;
        }
        em.flush().await;
        cy.samples.fetch_add(em.sent, Ordering::Relaxed);
    }
}
