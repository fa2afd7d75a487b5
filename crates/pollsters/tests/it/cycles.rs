//! Cycle behaviour against simcloud: paging, empty cloud, missing services, 401 mid-cycle,
//! 429/500 storms, malformed and hung per-resource calls, partitioning, de-duplication,
//! blacklisting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use pollsters::{Engine, RetryPolicy, SampleBatch};
use simcloud::{FaultSpec, Service, Sizes};

fn count(batches: &[SampleBatch]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for b in batches {
        *m.entry(b.pollster.to_owned()).or_default() += b.samples.len();
    }
    m
}

fn fault(service: &str) -> FaultSpec {
    FaultSpec {
        service: service.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_every_page() {
    let sim = sim(Sizes {
        images: 2100,
        volumes: 1100,
        zones: 30,
        ..small()
    })
    .await;
    let e = engine(&sim);
    let (b, r) = cycle(
        &e,
        vec![source("s", &["image.size", "volume.size", "dns.zone.ttl"])],
        50,
        &all,
    )
    .await;
    assert!(r.errors.is_empty(), "{r:?}");
    let ids = |p: &str| -> BTreeSet<String> {
        b.iter()
            .filter(|x| x.pollster == p)
            .flat_map(|x| x.samples.iter().map(|s| s.resource_id.clone()))
            .collect()
    };
    assert_eq!(ids("image.size").len(), 2100);
    assert_eq!(ids("volume.size").len(), 1100);
    assert_eq!(ids("dns.zone.ttl").len(), 30); // Designate pages of 20 by default
    assert!(b.iter().all(|x| x.samples.len() <= 50));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_cloud() {
    let sim = sim(Sizes::empty()).await;
    let e = engine(&sim);
    let (b, r) = cycle(&e, vec![source("s", &["*"])], 50, &all).await;
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!(r.skipped, 0);
    let c = count(&b);
    // Only the admin and service projects exist: their account meters, nothing else.
    assert_eq!(c.get("storage.objects"), Some(&2));
    assert_eq!(c.get("image.size"), None);
    assert_eq!(c.get("volume.size"), None);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_missing_from_catalog_is_skipped() {
    let sim = sim(small()).await;
    let mut cfg = config(&sim.auth_url());
    cfg.service_types.manila = "no-such-service".into();
    cfg.service_types.swift = "no-such-store".into();
    let e = Engine::with_retry(cfg, fast_retry()).unwrap();
    let (b, r) = cycle(&e, vec![source("s", &["*"])], 50, &all).await;
    assert!(r.errors.is_empty(), "{r:?}");
    let c = count(&b);
    assert_eq!(c.get("manila.share.size"), None);
    assert_eq!(c.get("storage.objects"), None);
    assert_eq!(c.get("image.size"), Some(&7));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_interface_is_used_for_the_catalog() {
    let sim = sim(small()).await;
    let mut cfg = config(&sim.auth_url());
    cfg.credentials.interface = ceilometer_config::Interface::Internal;
    let e = Engine::with_retry(cfg, fast_retry()).unwrap();
    let (b, r) = cycle(
        &e,
        vec![source("s", &["image.size", "storage.objects"])],
        50,
        &all,
    )
    .await;
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!(count(&b).get("image.size"), Some(&7));
    let per = sim.stats().per_interface(Service::Image);
    assert!(
        per.keys().all(|i| *i == simcloud::Interface::Internal),
        "{per:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_revoked_mid_cycle_reauthenticates() {
    let sim = sim(small()).await;
    let e = engine(&sim);
    let (before, _) = cycle(&e, vec![source("s", &["*"])], 50, &all).await;
    let revoked = AtomicBool::new(false);
    let owns = |_: &[u8]| {
        // Called after discovery, before the per-resource calls: revoke once, mid-cycle.
        if !revoked.swap(true, Ordering::SeqCst) {
            assert!(sim.revoke_tokens() > 0);
        }
        true
    };
    let (after, r) = cycle(&e, vec![source("s", &["*"])], 50, &owns).await;
    assert!(revoked.load(Ordering::SeqCst));
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!(count(&after), count(&before));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_429_and_500() {
    let sim = sim(small()).await;
    let e = Engine::with_retry(
        config(&sim.auth_url()),
        RetryPolicy {
            retries: 8,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(20),
        },
    )
    .unwrap();
    let (clean, _) = cycle(&e, vec![source("s", &["*"])], 50, &all).await;
    // A partial storm is ridden out by retries (429 honours Retry-After: 0 here).
    sim.set_fault(FaultSpec {
        rate_limit_rate: 0.3,
        retry_after_s: Some(0),
        ..fault("object-store")
    })
    .unwrap();
    sim.set_fault(FaultSpec {
        error_rate: 0.3,
        ..fault("volume")
    })
    .unwrap();
    let (b, r) = cycle(&e, vec![source("s", &["*"])], 50, &all).await;
    assert!(r.errors.is_empty(), "{r:?}");
    assert_eq!(count(&b), count(&clean));
    // A total storm fails only its own service's pollsters.
    sim.set_fault(FaultSpec {
        rate_limit_rate: 1.0,
        retry_after_s: Some(0),
        ..fault("object-store")
    })
    .unwrap();
    sim.set_fault(FaultSpec {
        error_rate: 1.0,
        ..fault("image")
    })
    .unwrap();
    sim.faults().clear(Some(Service::Volume));
    let (b, r) = cycle(&e, vec![source("s", &["*"])], 50, &all).await;
    let c = count(&b);
    assert_eq!(c.get("storage.objects"), None);
    assert_eq!(c.get("image.size"), None);
    assert_eq!(c.get("volume.size"), count(&clean).get("volume.size"));
    assert_eq!(r.errors.get("image"), Some(&1));
    assert!(
        r.errors.get("object-store").copied().unwrap_or(0) >= 8,
        "{r:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answer_skips_that_resource_only() {
    let sim = sim(small()).await;
    let e = engine(&sim);
    sim.set_fault(FaultSpec {
        malformed_rate: 1.0,
        ..fault("object-store")
    })
    .unwrap();
    let (b, r) = cycle(
        &e,
        vec![source("s", &["storage.*", "image.size"])],
        50,
        &all,
    )
    .await;
    let projects = sim.project_ids().len();
    let c = count(&b);
    // The garbled listings' headers are intact: the account meters are all there.
    assert_eq!(c.get("storage.objects"), Some(&projects));
    assert_eq!(c.get("image.size"), Some(&7));
    // Every non-empty account listing was garbled (an empty `[]` cannot be): skipped and
    // counted once per account.
    assert_eq!(c.get("storage.containers.objects"), None);
    let with_containers = sim
        .model()
        .projects
        .snap()
        .values()
        .filter(|p| !p.containers.is_empty())
        .count();
    assert!(with_containers > 0);
    assert_eq!(r.skipped, with_containers, "{r:?}");
    sim.shutdown().await;
}

/// The five `storage.*` meters read each account once: the listing's headers carry the
/// totals a `HEAD` would give. With only the account meters, a `HEAD` (no listing) does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_swift_read_per_account_serves_every_storage_meter() {
    let sim = sim(small()).await;
    let e = engine(&sim);
    let projects = sim.project_ids().len();
    let (b, r) = cycle(&e, vec![source("s", &["storage.*"])], 50, &all).await;
    assert!(r.errors.is_empty(), "{r:?}");
    let c = count(&b);
    for m in [
        "storage.objects",
        "storage.objects.size",
        "storage.objects.containers",
    ] {
        assert_eq!(c.get(m), Some(&projects), "{m}");
    }
    let containers: usize = sim
        .model()
        .projects
        .snap()
        .values()
        .map(|p| p.containers.len())
        .sum();
    assert!(containers > 0);
    assert_eq!(c.get("storage.containers.objects"), Some(&containers));
    assert_eq!(c.get("storage.containers.objects.size"), Some(&containers));
    let st = sim.stats();
    let n = |api| st.count("agent-1", Service::ObjectStore, api);
    assert_eq!(n("HEAD /v1/{account}"), 0);
    assert_eq!(n("GET /v1/{account}"), projects as u64);

    let (b, _) = cycle(&e, vec![source("s", &["storage.objects*"])], 50, &all).await;
    assert_eq!(count(&b).get("storage.objects.size"), Some(&projects));
    assert_eq!(n("HEAD /v1/{account}"), projects as u64);
    assert_eq!(n("GET /v1/{account}"), projects as u64);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_swift_does_not_stall_the_cycle() {
    let sim = sim(small()).await;
    let mut cfg = config(&sim.auth_url());
    cfg.api_timeout = Duration::from_millis(500);
    let e = Engine::with_retry(cfg, fast_retry()).unwrap();
    sim.set_fault(FaultSpec {
        hang_rate: 1.0,
        ..fault("object-store")
    })
    .unwrap();
    let t0 = tokio::time::Instant::now();
    let (b, r) = cycle(&e, vec![source("s", &["*"])], 50, &all).await;
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "cycle took {took:?}");
    let c = count(&b);
    assert_eq!(c.get("storage.objects"), None);
    assert_eq!(c.get("image.size"), Some(&7));
    assert_eq!(c.get("radosgw.objects"), Some(&sim.project_ids().len()));
    assert!(r.errors.get("object-store").copied().unwrap_or(0) > 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owning_nothing_makes_no_per_resource_calls() {
    let sim = sim(small()).await;
    let e = engine(&sim);
    let (b, r) = cycle(&e, vec![source("s", &["*"])], 50, &|_| false).await;
    assert!(b.is_empty());
    assert_eq!(r.resources_owned, 0);
    assert!(r.resources_seen > 0);
    assert_eq!(r.pollsters_run, 0);
    assert_eq!(
        sim.stats()
            .count("agent-1", Service::ObjectStore, "HEAD /v1/{account}"),
        0
    );
    assert_eq!(
        sim.stats()
            .count("agent-1", Service::Dns, "GET /v2/zones/{id}/recordsets"),
        0
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_are_complementary_and_sources_deduplicated() {
    let sim = sim(small()).await;
    let e = engine(&sim);
    let two = || {
        vec![
            source("a", &["*"]),
            source("b", &["image.size", "storage.objects"]),
        ]
    };
    let (full, _) = cycle(&e, two(), 50, &all).await;
    let even = |k: &[u8]| k.iter().map(|b| *b as usize).sum::<usize>() % 2 == 0;
    let odd = |k: &[u8]| !even(k);
    let (a, _) = cycle(&e, two(), 50, &even).await;
    let (b, _) = cycle(&e, two(), 50, &odd).await;
    let key = |x: &SampleBatch| {
        x.samples
            .iter()
            .map(|s| (s.name.clone(), s.resource_id.clone()))
            .collect::<Vec<_>>()
    };
    let mut union: Vec<_> = a.iter().chain(b.iter()).flat_map(key).collect();
    let mut all_: Vec<_> = full.iter().flat_map(key).collect();
    union.sort();
    all_.sort();
    assert_eq!(union, all_);
    // No (meter, resource) twice although two sources ask for image.size.
    let n = all_.len();
    all_.dedup();
    // Container meters legitimately repeat ids across categories only for RGW rows.
    assert!(
        all_.len()
            >= n - full
                .iter()
                .filter(|x| x.pollster.starts_with("radosgw.containers"))
                .map(|x| x.samples.len())
                .sum::<usize>()
    );
    assert!(full
        .iter()
        .filter(|x| x.source == "b")
        .all(|x| x.samples.is_empty()));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_account_is_blacklisted() {
    let sim = sim(small()).await;
    let e = engine(&sim);
    sim.set_fault(FaultSpec {
        error_rate: 1.0,
        error_codes: vec![403],
        ..fault("object-store")
    })
    .unwrap();
    let (b, _) = cycle(&e, vec![source("s", &["storage.objects"])], 50, &all).await;
    assert!(b.is_empty());
    sim.faults().clear(None);
    let heads = AtomicUsize::new(0);
    let before = sim
        .stats()
        .count("agent-1", Service::ObjectStore, "HEAD /v1/{account}");
    let (b, r) = cycle(&e, vec![source("s", &["storage.objects"])], 50, &|_| {
        heads.fetch_add(1, Ordering::Relaxed);
        true
    })
    .await;
    // Still blacklisted: no call, no sample, though the service is healthy again.
    assert!(b.is_empty(), "{r:?}");
    assert_eq!(
        sim.stats()
            .count("agent-1", Service::ObjectStore, "HEAD /v1/{account}"),
        before
    );
    assert_eq!(r.resources_owned, sim.project_ids().len());
    // Another source is not affected by this source's blacklist.
    let (b, _) = cycle(&e, vec![source("other", &["storage.objects"])], 50, &all).await;
    assert_eq!(
        count(&b).get("storage.objects"),
        Some(&sim.project_ids().len())
    );
    sim.shutdown().await;
}
