//! The generated cloud: reproducible from the seed, skewed, and churning.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use simcloud::model::{Kind, Model};
use simcloud::util::uuid;
use simcloud::Sizes;

fn fingerprint(m: &Model) -> Vec<String> {
    let mut out = Vec::new();
    for p in m.projects.snap().values() {
        out.push(format!(
            "p {:x} {:x} {} {} {:?} {:?}",
            p.id, p.domain, p.n, p.enabled, p.containers, p.buckets
        ));
    }
    for k in Kind::ALL {
        for r in m.coll(k).snap().values() {
            out.push(format!("{k:?} {r:?}"));
        }
    }
    out
}

#[test]
fn same_seed_same_cloud() {
    let s = Sizes {
        projects: 300,
        images: 500,
        volumes: 500,
        ..Sizes::default()
    };
    let a = Model::generate(7, &s);
    let b = Model::generate(7, &s);
    let c = Model::generate(8, &s);
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_ne!(fingerprint(&a), fingerprint(&c));
    // Churn is reproducible too.
    assert_eq!(a.churn(200), b.churn(200));
    assert_eq!(fingerprint(&a), fingerprint(&b));
}

#[test]
fn most_projects_small_a_few_huge() {
    let s = Sizes {
        projects: 2000,
        volumes: 20_000,
        ..Sizes::default()
    };
    let m = Model::generate(1, &s);
    let mut per: BTreeMap<u128, usize> = BTreeMap::new();
    for v in m.coll(Kind::Volume).snap().values() {
        *per.entry(v.project).or_default() += 1;
    }
    let mut counts: Vec<usize> = m
        .projects
        .snap()
        .keys()
        .map(|p| per.get(p).copied().unwrap_or(0))
        .collect();
    counts.sort_unstable();
    let median = counts[counts.len() / 2];
    let max = *counts.last().unwrap();
    assert!(median <= 5, "median {median}");
    assert!(max >= 200 * median.max(1), "max {max}, median {median}");
}

#[test]
fn churn_creates_deletes_and_modifies() {
    let s = Sizes {
        projects: 50,
        volumes: 300,
        images: 300,
        ..Sizes::default()
    };
    let m = Model::generate(3, &s);
    let before: BTreeMap<u128, (u8, u32)> = m
        .coll(Kind::Volume)
        .snap()
        .values()
        .map(|r| (r.id, (r.status, r.size)))
        .collect();
    let rep = m.churn(2000);
    assert!(
        rep.created > 0 && rep.deleted > 0 && rep.modified > 0,
        "{rep:?}"
    );
    let after: BTreeMap<u128, (u8, u32)> = m
        .coll(Kind::Volume)
        .snap()
        .values()
        .map(|r| (r.id, (r.status, r.size)))
        .collect();
    let gone: BTreeSet<_> = before.keys().filter(|k| !after.contains_key(k)).collect();
    let new: BTreeSet<_> = after.keys().filter(|k| !before.contains_key(k)).collect();
    let changed = before
        .iter()
        .filter(|(k, v)| after.get(k).is_some_and(|a| a != *v))
        .count();
    assert!(!gone.is_empty() && !new.is_empty() && changed > 0);
}

#[tokio::test]
async fn deleted_resources_vanish_from_listings() {
    let mut e = common::start(Sizes {
        images: 100,
        ..Sizes::default()
    })
    .await;
    let listed = |v: serde_json::Value| -> BTreeSet<String> {
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r =
        e.c.get("/image/v2/images?limit=1000", &e.token)
            .await
            .unwrap();
    let before = listed(r.json());
    e.sim.churn(300);
    let now: BTreeSet<String> = e
        .sim
        .model()
        .coll(Kind::Image)
        .snap()
        .keys()
        .map(|i| uuid(*i))
        .collect();
    assert_ne!(before, now);
    let r =
        e.c.get("/image/v2/images?limit=1000", &e.token)
            .await
            .unwrap();
    assert_eq!(listed(r.json()), now);
    e.sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn churn_runs_at_the_configured_rate() {
    let cfg = simcloud::SimConfig {
        churn_per_sec: 50.0,
        sizes: Sizes {
            images: 200,
            ..Sizes::default()
        },
        ..simcloud::SimConfig::default()
    };
    let sim = simcloud::SimCloud::start(cfg).await.unwrap();
    let before = fingerprint(sim.model());
    // Let the churn task run one simulated second (10 ticks of 100 ms, 5 changes each).
    for _ in 0..10 {
        tokio::time::advance(std::time::Duration::from_millis(100)).await;
        tokio::task::yield_now().await;
    }
    let after = fingerprint(sim.model());
    let changed = before.iter().filter(|l| !after.contains(l)).count()
        + after.iter().filter(|l| !before.contains(l)).count();
    assert!(changed > 0, "churn changed nothing");
    assert!(
        changed <= 2 * 55,
        "too many changes for 50/s over ~1 s: {changed}"
    );
    sim.shutdown().await;
}
