//! Accounting is exact under concurrent requests, per agent, API, interface and resource.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::start;
use hyper::Method;
use simcloud::client::Client;
use simcloud::{Interface, PollKind, Service, Sizes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_under_concurrency() {
    let e = start(Sizes {
        projects: 30,
        ..Sizes::default()
    })
    .await;
    let projects = e.sim.project_ids();
    let addr = e.sim.addr();
    e.sim.stats().reset();
    let agents = 8;
    let rounds = 5;
    let mut tasks = Vec::new();
    for a in 0..agents {
        let projects = projects.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await.unwrap();
            let (tok, _) = c.login(&format!("agent-{a}"), "secret").await.unwrap();
            let tok = tok.unwrap();
            // Each agent HEADs every account `rounds` times, GETs a's share once, and
            // goes through the internal interface for half of its HEADs.
            for r in 0..rounds {
                for p in &projects {
                    let path = if r % 2 == 0 {
                        format!("/object-store/v1/AUTH_{p}")
                    } else {
                        format!("/internal/object-store/v1/AUTH_{p}")
                    };
                    let rep = c
                        .send(Method::HEAD, &path, &[("x-auth-token", &tok)], None)
                        .await
                        .unwrap();
                    assert_eq!(rep.status, 204);
                }
            }
            for p in projects.iter().skip(a).step_by(agents) {
                let rep = c
                    .get(&format!("/object-store/v1/AUTH_{p}?format=json"), &tok)
                    .await
                    .unwrap();
                assert_eq!(rep.status, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let st = e.sim.stats();
    let n = projects.len();
    let per_agent = st.per_agent();
    assert_eq!(per_agent.len(), agents);
    for a in 0..agents {
        let name = format!("agent-{a}");
        let gets = projects.iter().skip(a).step_by(agents).count();
        // login + HEADs + GETs
        assert_eq!(per_agent[&name], 1 + (rounds * n + gets) as u64, "{name}");
        assert_eq!(
            st.count(&name, Service::ObjectStore, "HEAD /v1/{account}"),
            (rounds * n) as u64
        );
        assert_eq!(
            st.count(&name, Service::ObjectStore, "GET /v1/{account}"),
            gets as u64
        );
    }
    assert_eq!(
        st.total_requests(),
        (agents + agents * rounds * n + n) as u64
    );
    let ifaces = st.per_interface(Service::ObjectStore);
    assert_eq!(ifaces[&Interface::Public], (agents * 3 * n + n) as u64);
    assert_eq!(ifaces[&Interface::Internal], (agents * 2 * n) as u64);
    for p in &projects {
        assert_eq!(
            st.polls_of(PollKind::SwiftHeadAccount, p).len(),
            agents * rounds,
            "{p}"
        );
        let g = st.polls_of(PollKind::SwiftGetAccount, p);
        assert_eq!(g.len(), 1);
    }
    // Exactly-once coverage of the GETs: each project polled once, split over the agents.
    let cov = st.coverage(
        PollKind::SwiftGetAccount,
        &projects,
        Duration::ZERO,
        st.now() + Duration::from_secs(1),
    );
    assert!(cov.exactly_once(), "{cov:?}");
    assert_eq!(cov.per_agent.values().sum::<usize>(), n);
    let cov = st.coverage(
        PollKind::SwiftHeadAccount,
        &projects,
        Duration::ZERO,
        st.now() + Duration::from_secs(1),
    );
    assert_eq!(cov.duplicated.len(), n);
    assert!(cov.missed.is_empty());
    // Reset clears everything.
    st.reset();
    assert_eq!(st.total_requests(), 0);
    assert!(st.per_agent().is_empty());
    assert!(st
        .polls_of(PollKind::SwiftHeadAccount, &projects[0])
        .is_empty());
    e.sim.shutdown().await;
}

#[tokio::test]
async fn coverage_windows_and_http_endpoints() {
    let mut e = start(Sizes {
        projects: 4,
        ..Sizes::default()
    })
    .await;
    let projects = e.sim.project_ids();
    let st = e.sim.stats();
    st.reset();
    let t0 = st.now();
    // Poll all but the first project, and the second one twice.
    for p in projects
        .iter()
        .skip(1)
        .chain(projects.iter().skip(1).take(1))
    {
        e.c.send(
            Method::HEAD,
            &format!("/object-store/v1/AUTH_{p}"),
            &[("x-auth-token", &e.token)],
            None,
        )
        .await
        .unwrap();
    }
    let t1 = st.now() + Duration::from_micros(1);
    let cov = st.coverage(PollKind::SwiftHeadAccount, &projects, t0, t1);
    assert_eq!(cov.missed, vec![projects[0].clone()]);
    assert_eq!(cov.duplicated, vec![(projects[1].clone(), 2)]);
    assert_eq!(cov.polled_once.len(), projects.len() - 2);
    assert_eq!(cov.per_agent["agent-1"], projects.len());
    // Nothing before t0.
    let cov = st.coverage(PollKind::SwiftHeadAccount, &projects, Duration::ZERO, t0);
    assert_eq!(cov.missed.len(), projects.len());
    // Over HTTP.
    let r = e.c.get("/_sim/stats", "").await.unwrap();
    let v = r.json();
    assert_eq!(v["agents"]["agent-1"]["total"], projects.len() as u64);
    assert_eq!(
        v["resources"]["swift.head_account"][&projects[1]]["total"],
        2
    );
    let r =
        e.c.get("/_sim/coverage?kind=swift.head_account", "")
            .await
            .unwrap();
    assert_eq!(r.json()["missed"].as_array().unwrap().len(), 1);
    let r =
        e.c.send(Method::POST, "/_sim/reset", &[], None)
            .await
            .unwrap();
    assert_eq!(r.status, 200);
    let r = e.c.get("/_sim/stats", "").await.unwrap();
    assert_eq!(r.json()["total_requests"], 0);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn listings_and_designate_recordsets_are_recorded() {
    let mut e = start(Sizes::default()).await;
    e.sim.stats().reset();
    let h = [
        ("x-auth-token", e.token.as_str()),
        ("x-auth-all-projects", "True"),
    ];
    let zones = e.sim.zone_ids();
    e.c.send(Method::GET, "/dns/v2/zones?limit=1000", &h, None)
        .await
        .unwrap();
    for z in &zones {
        let r =
            e.c.send(
                Method::GET,
                &format!("/dns/v2/zones/{z}/recordsets"),
                &h,
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    let st = e.sim.stats();
    assert_eq!(st.listings_of(Service::Dns, "zones").len(), 1);
    let cov = st.coverage(
        PollKind::DnsRecordsets,
        &zones,
        Duration::ZERO,
        st.now() + Duration::from_secs(1),
    );
    assert!(cov.exactly_once(), "{cov:?}");
    e.sim.shutdown().await;
}

/// A listing continued with `marker` (an account with more containers than `limit`) is the
/// same poll's next page: counted as a request, not as a second poll of the account.
#[tokio::test]
async fn a_marker_page_is_not_another_poll() {
    let e = start(Sizes {
        projects: 3,
        ..Sizes::default()
    })
    .await;
    let projects = e.sim.project_ids();
    let p = &projects[0];
    let st = e.sim.stats();
    st.reset();
    let mut c = Client::connect(e.sim.addr()).await.unwrap();
    let (tok, _) = c.login("agent-0", "secret").await.unwrap();
    let tok = tok.unwrap();
    let first = c
        .get(
            &format!("/object-store/v1/AUTH_{p}?format=json&limit=1"),
            &tok,
        )
        .await
        .unwrap();
    assert_eq!(first.status, 200);
    let rep = c
        .get(
            &format!("/object-store/v1/AUTH_{p}?format=json&limit=1&marker=container-0"),
            &tok,
        )
        .await
        .unwrap();
    assert!(rep.status == 200 || rep.status == 204, "{}", rep.status);
    assert_eq!(
        st.count("agent-0", Service::ObjectStore, "GET /v1/{account}"),
        2
    );
    assert_eq!(st.polls_of(PollKind::SwiftGetAccount, p).len(), 1);
}
