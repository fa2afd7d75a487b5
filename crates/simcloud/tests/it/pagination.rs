//! Paging across page boundaries, and the empty cloud.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use crate::common::{start, Env};
use hyper::Method;
use serde_json::Value;
use simcloud::model::Kind;
use simcloud::util::uuid;
use simcloud::Sizes;

fn all_ids(e: &Env, k: Kind) -> BTreeSet<String> {
    e.sim
        .model()
        .coll(k)
        .snap()
        .keys()
        .map(|i| uuid(*i))
        .collect()
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `next` links; returns (ids in order, pages fetched).
async fn follow(
    e: &mut Env,
    first: &str,
    key: &str,
    hdrs: &[(&str, &str)],
    next: impl Fn(&Value) -> Option<String>,
) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut url = Some(first.to_owned());
    let mut pages = 0;
    while let Some(u) = url {
        let mut h = vec![("x-auth-token", e.token.as_str())];
        h.extend_from_slice(hdrs);
        let r = e.c.send(Method::GET, &u, &h, None).await.unwrap();
        assert_eq!(r.status, 200, "{u}: {}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        out.extend(ids(&v, key));
        url = next(&v);
        pages += 1;
        assert!(pages < 1000, "paging does not end");
    }
    (out, pages)
}

fn assert_exact(got: &[String], want: &BTreeSet<String>) {
    let set: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(set.len(), got.len(), "duplicates across pages");
    assert_eq!(&set, want);
}

#[tokio::test]
async fn paging_every_listing() {
    let sizes = Sizes {
        images: 53,
        volumes: 40,
        floating_ips: 21,
        load_balancers: 12,
        shares: 9,
        zones: 25,
        recordsets_per_zone: 30,
        ..Sizes::default()
    };
    let mut e = start(sizes).await;
    let p = e.admin.clone();

    // Glance: default page 25; `next` on every full page (so 53 = 25 + 25 + 3 → 3 pages).
    let want = all_ids(&e, Kind::Image);
    let (got, pages) = follow(&mut e, "/image/v2/images", "images", &[], |v| {
        v["next"].as_str().map(|n| format!("/image{n}"))
    })
    .await;
    assert_exact(&got, &want);
    assert_eq!(pages, 3);
    // Exactly 2 full pages of 25 → an empty third page follows, as Glance does.
    let (got, pages) = follow(&mut e, "/image/v2/images?limit=53", "images", &[], |v| {
        v["next"].as_str().map(|n| format!("/image{n}"))
    })
    .await;
    assert_exact(&got, &want);
    assert_eq!(pages, 2);

    // Cinder volumes, with `volumes_links`.
    let want = all_ids(&e, Kind::Volume);
    let (got, pages) = follow(
        &mut e,
        &format!("/volume/v3/{p}/volumes/detail?all_tenants=True&limit=7"),
        "volumes",
        &[],
        |v| v["volumes_links"][0]["href"].as_str().map(str::to_owned),
    )
    .await;
    assert_exact(&got, &want);
    assert_eq!(pages, 6);

    // Neutron floating IPs (limit/marker, `floatingips_links`).
    let want = all_ids(&e, Kind::FloatingIp);
    let next = |v: &Value| {
        v["floatingips_links"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["rel"] == "next"))
            .and_then(|x| x["href"].as_str())
            .map(str::to_owned)
    };
    let (got, _) = follow(
        &mut e,
        "/network/v2.0/floatingips?limit=5",
        "floatingips",
        &[],
        next,
    )
    .await;
    assert_exact(&got, &want);
    // Without limit Neutron returns everything at once.
    let (got, pages) = follow(
        &mut e,
        "/network/v2.0/floatingips",
        "floatingips",
        &[],
        next,
    )
    .await;
    assert_exact(&got, &want);
    assert_eq!(pages, 1);

    // Octavia and Manila.
    let want = all_ids(&e, Kind::LoadBalancer);
    let (got, _) = follow(
        &mut e,
        "/load-balancer/v2/lbaas/loadbalancers?limit=5",
        "loadbalancers",
        &[],
        |v| {
            v["loadbalancers_links"][0]["href"]
                .as_str()
                .map(str::to_owned)
        },
    )
    .await;
    assert_exact(&got, &want);
    let want = all_ids(&e, Kind::Share);
    let (got, _) = follow(
        &mut e,
        "/share/v2/shares/detail?all_tenants=True&limit=4",
        "shares",
        &[],
        |v| v["shares_links"][0]["href"].as_str().map(str::to_owned),
    )
    .await;
    assert_exact(&got, &want);

    // Designate zones (default page 20) and recordsets of one zone.
    let want = all_ids(&e, Kind::Zone);
    let all = [("x-auth-all-projects", "True")];
    let (got, pages) = follow(&mut e, "/dns/v2/zones", "zones", &all, |v| {
        v["links"]["next"].as_str().map(str::to_owned)
    })
    .await;
    assert_exact(&got, &want);
    assert_eq!(pages, 2);
    let zone = e
        .sim
        .model()
        .coll(Kind::Zone)
        .snap()
        .values()
        .max_by_key(|z| z.size)
        .copied()
        .unwrap();
    let (got, _) = follow(
        &mut e,
        &format!("/dns/v2/zones/{}/recordsets?limit=3", uuid(zone.id)),
        "recordsets",
        &all,
        |v| v["links"]["next"].as_str().map(str::to_owned),
    )
    .await;
    assert_eq!(got.len(), zone.size.max(2) as usize);
    assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), got.len());

    // A marker that does not exist is a 400, as the services answer.
    let r =
        e.c.get(
            "/image/v2/images?marker=00000000-0000-0000-0000-000000000000",
            &e.token,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn swift_listing_pages_by_name() {
    let mut e = start(Sizes {
        projects: 3,
        swift_containers_per_project: 40,
        ..Sizes::default()
    })
    .await;
    let (pid, n) = e
        .sim
        .model()
        .projects
        .snap()
        .values()
        .map(|p| (simcloud::util::hex32(p.id), p.containers.len()))
        .max_by_key(|x| x.1)
        .unwrap();
    assert!(n > 10);
    let mut names = Vec::new();
    let mut marker = String::new();
    loop {
        let r =
            e.c.get(
                &format!("/object-store/v1/AUTH_{pid}?format=json&limit=7&marker={marker}"),
                &e.token,
            )
            .await
            .unwrap();
        let page: Vec<String> = r
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        if page.is_empty() {
            break;
        }
        marker = page.last().unwrap().clone();
        names.extend(page);
    }
    assert_eq!(names.len(), n);
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, names);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn empty_cloud() {
    let mut e = start(Sizes::empty()).await;
    let p = e.admin.clone();
    for (path, key) in [
        ("/image/v2/images".to_owned(), "images"),
        (
            format!("/volume/v3/{p}/volumes/detail?all_tenants=True"),
            "volumes",
        ),
        (
            format!("/volume/v3/{p}/snapshots/detail?all_tenants=True"),
            "snapshots",
        ),
        (
            format!("/volume/v3/{p}/backups/detail?all_tenants=True"),
            "backups",
        ),
        (
            format!("/volume/v3/{p}/scheduler-stats/get_pools?detail=True"),
            "pools",
        ),
        (format!("/volume/v3/{p}/os-services"), "services"),
        ("/network/v2.0/floatingips".to_owned(), "floatingips"),
        ("/network/v2.0/vpn/vpnservices".to_owned(), "vpnservices"),
        (
            "/network/v2.0/vpn/ipsec-site-connections".to_owned(),
            "ipsec_site_connections",
        ),
        (
            "/network/v2.0/fwaas/firewall_groups".to_owned(),
            "firewall_groups",
        ),
        (
            "/network/v2.0/fwaas/firewall_policies".to_owned(),
            "firewall_policies",
        ),
        (
            "/load-balancer/v2/lbaas/loadbalancers".to_owned(),
            "loadbalancers",
        ),
        (
            "/share/v2/shares/detail?all_tenants=True".to_owned(),
            "shares",
        ),
        ("/dns/v2/zones".to_owned(), "zones"),
        (
            "/alarming/v2/metrics?all_projects=true".to_owned(),
            "evaluation_results",
        ),
    ] {
        let r = e.c.get(&path, &e.token).await.unwrap();
        assert_eq!(r.status, 200, "{path}");
        let v = r.json();
        assert_eq!(v[key], Value::Array(vec![]), "{path}: {v}");
        assert!(
            v.get(format!("{key}_links")).is_none(),
            "{path}: no next link on an empty page"
        );
    }
    // Only `admin` and `service` exist, in the default domain; their accounts are empty.
    let r =
        e.c.get(
            "/identity/v3/projects?domain_id=default&enabled=True",
            &e.token,
        )
        .await
        .unwrap();
    let names: Vec<String> = r.json()["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"admin".to_owned()) && names.contains(&"service".to_owned()));
    let r =
        e.c.send(
            Method::HEAD,
            &format!("/object-store/v1/AUTH_{p}"),
            &[("x-auth-token", &e.token)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(r.header("x-account-container-count"), Some("0"));
    let r =
        e.c.get(&format!("/object-store/v1/AUTH_{p}?format=json"), &e.token)
            .await
            .unwrap();
    assert_eq!(r.json(), Value::Array(vec![]));
    e.sim.shutdown().await;
}

#[tokio::test]
async fn project_filters_of_tenant_discovery() {
    let mut e = start(Sizes {
        projects: 200,
        domains: 5,
        ..Sizes::default()
    })
    .await;
    let model = e.sim.model().projects.snap();
    let r = e.c.get("/identity/v3/domains", &e.token).await.unwrap();
    let domains: Vec<String> = r.json()["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(domains.len(), 6);
    let mut seen = 0;
    for d in &domains {
        let r =
            e.c.get(&format!("/identity/v3/projects?domain_id={d}"), &e.token)
                .await
                .unwrap();
        let all = r.json()["projects"].as_array().unwrap().clone();
        assert!(all.iter().all(|p| p["domain_id"] == d.as_str()));
        let r =
            e.c.get(
                &format!("/identity/v3/projects?domain_id={d}&enabled=True"),
                &e.token,
            )
            .await
            .unwrap();
        let enabled = r.json()["projects"].as_array().unwrap().clone();
        assert!(enabled.iter().all(|p| p["enabled"] == true));
        let want_enabled = model
            .values()
            .filter(|p| simcloud::render::domain_id(p.domain) == *d && p.enabled)
            .count();
        assert_eq!(enabled.len(), want_enabled);
        seen += all.len();
    }
    assert_eq!(seen, model.len());
    assert!(
        model.values().any(|p| !p.enabled),
        "the generator disables a few projects"
    );
    e.sim.shutdown().await;
}
