//! The `tenant` discovery: every project of every domain, listed domain by domain
//! (`GET /v3/domains`, then `GET /v3/projects?domain_id=<id>` each); with `[polling]
//! ignore_disabled_projects` neither disabled projects nor the projects of disabled domains
//! (Keystone still lists those as `enabled: true`; 27.0.0 dropped the domain filter).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;

use crate::common::{all, config, cycle, fast_retry, sim, small, source};
use pollsters::{Engine, SampleBatch};
use simcloud::util::hex32;
use simcloud::{Service, Sizes};

fn ids(b: &[SampleBatch]) -> BTreeSet<String> {
    b.iter()
        .flat_map(|x| x.samples.iter().map(|s| s.resource_id.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_projects_and_domains_are_left_out_on_request() {
    let sim = sim(Sizes {
        projects: 20,
        domains: 3,
        ..small()
    })
    .await;
    let m = sim.model();
    // Set the cloud up explicitly: domain-2 disabled, one enabled project in it, and one
    // disabled project in an enabled domain.
    let d2 = m.domains.update(|d| {
        let x = d.values_mut().find(|x| x.n == 2).unwrap();
        x.enabled = false;
        x.id
    });
    let d1 = m.domains.snap().values().find(|x| x.n == 1).unwrap().id;
    let (in_disabled_domain, disabled) = m.projects.update(|p| {
        for x in p.values_mut() {
            x.enabled = true;
        }
        let a = p
            .values()
            .find(|x| x.domain == d2)
            .expect("a project in domain-2")
            .id;
        let b = p
            .values_mut()
            .find(|x| x.domain == d1)
            .expect("a project in domain-1");
        b.enabled = false;
        (a, b.id)
    });
    let every: BTreeSet<String> = sim.project_ids().into_iter().collect();
    let hidden: BTreeSet<String> = m
        .projects
        .snap()
        .values()
        .filter(|x| x.domain == d2 || x.id == disabled)
        .map(|x| hex32(x.id))
        .collect();
    assert!(hidden.contains(&hex32(in_disabled_domain)) && hidden.contains(&hex32(disabled)));
    let domains = m.domains.len() as u64;

    let run = |ignore: bool| {
        let mut cfg = config(&sim.auth_url());
        cfg.ignore_disabled_projects = ignore;
        let mut src = source("s", &["storage.objects"]);
        src.discovery = vec!["tenant".into()];
        async move {
            let e = Engine::with_retry(cfg, fast_retry()).unwrap();
            let (b, r) = cycle(&e, vec![src], 50, &all).await;
            assert!(r.errors.is_empty(), "{r:?}");
            (ids(&b), r.resources_seen)
        }
    };
    let listings = || {
        sim.stats()
            .count("agent-1", Service::Identity, "GET /v3/projects")
    };

    // Default: every project once, one project listing per domain.
    let (got, seen) = run(false).await;
    assert_eq!(got, every);
    assert_eq!(seen, every.len());
    assert_eq!(listings(), domains);

    // ignore_disabled_projects: the disabled domain is not even listed.
    let (got, seen) = run(true).await;
    let expected: BTreeSet<String> = every.difference(&hidden).cloned().collect();
    assert_eq!(got, expected);
    assert_eq!(seen, expected.len());
    assert_eq!(listings(), domains + domains - 1);
    sim.shutdown().await;
}
