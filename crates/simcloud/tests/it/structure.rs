//! Every response has the keys, value types and nesting of the API reference's sample.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use crate::common::{assert_like, nonempty, start, Env};
use hyper::Method;
use serde_json::json;
use simcloud::Sizes;

async fn env() -> Env {
    start(Sizes::default()).await
}

#[tokio::test]
async fn keystone() {
    let mut e = env().await;
    // Password, project-scoped.
    let (_, r) = e.c.login("agent-2", "secret").await.unwrap();
    assert_eq!(r.status, 201);
    let body = r.json();
    assert_like(
        "keystone/auth/responses/project-scoped-password.json",
        &body,
        &[],
    );
    // Every catalog entry has the sample's structure, and all services are there with all
    // three interfaces.
    let cat = body["token"]["catalog"].as_array().unwrap();
    let types: Vec<&str> = cat.iter().map(|s| s["type"].as_str().unwrap()).collect();
    for t in [
        "identity",
        "image",
        "volumev3",
        "network",
        "object-store",
        "load-balancer",
        "sharev2",
        "dns",
        "alarming",
        "radosgw",
        "metric",
    ] {
        assert!(types.contains(&t), "catalog lacks {t}: {types:?}");
    }
    for s in cat {
        let ifs: Vec<&str> = s["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["interface"].as_str().unwrap())
            .collect();
        assert_eq!(ifs, ["public", "internal", "admin"]);
    }
    // Application credential.
    let ac = e.sim.create_app_credential("agent-3", "monitoring");
    let req = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": ac.id, "secret": ac.secret}}}});
    let r =
        e.c.send(
            Method::POST,
            "/identity/v3/auth/tokens",
            &[],
            Some(req.to_string().into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("x-subject-token").is_some());
    assert_like(
        "keystone/admin/auth-application-credential-response.json",
        &r.json(),
        &[],
    );
    // Wrong secret.
    let req = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": ac.id, "secret": "nope"}}}});
    let r =
        e.c.send(
            Method::POST,
            "/identity/v3/auth/tokens",
            &[],
            Some(req.to_string().into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], 401);
    // Lists and versions.
    let r = e.c.get("/identity/v3/projects", &e.token).await.unwrap();
    let v = r.json();
    nonempty(&v, "projects");
    assert_like("keystone/admin/projects-list-response.json", &v, &[]);
    let r = e.c.get("/identity/v3/domains", &e.token).await.unwrap();
    let v = r.json();
    nonempty(&v, "domains");
    assert_like("keystone/admin/domains-list-response.json", &v, &[]);
    let r = e.c.get("/identity/v3", "").await.unwrap();
    assert_eq!(r.status, 200);
    assert_like(
        "keystone/admin/identity-version-response.json",
        &r.json(),
        &[],
    );
    let r = e.c.get("/identity/", "").await.unwrap();
    assert_eq!(r.status, 300);
    assert_like(
        "keystone/doc-api-curl-examples/get-root-versions-response.json",
        &r.json(),
        &[],
    );
    // Unknown path: Keystone's 404 body.
    let r = e.c.get("/identity/v3/nope", &e.token).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["title"], "Not Found");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn glance() {
    let mut e = env().await;
    let r =
        e.c.get("/image/v2/images?limit=1000", &e.token)
            .await
            .unwrap();
    let v = r.json();
    nonempty(&v, "images");
    assert_like("glance/v2/samples/images-list-response.json", &v, &[]);
    let id = v["images"][0]["id"].as_str().unwrap().to_owned();
    let r =
        e.c.get(&format!("/image/v2/images/{id}"), &e.token)
            .await
            .unwrap();
    assert_like("glance/v2/samples/image-show-response.json", &r.json(), &[]);
    let r = e.c.get("/image/versions", "").await.unwrap();
    assert_like(
        "glance/versions/samples/image-versions-response.json",
        &r.json(),
        &[],
    );
    let r = e.c.get("/image/v2/nope", &e.token).await.unwrap();
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("<h1>404 Not Found</h1>"));
    e.sim.shutdown().await;
}

#[tokio::test]
async fn cinder() {
    let mut e = env().await;
    let p = e.admin.clone();
    // Bootable volumes carry `volume_image_metadata` (optional in the reference; Ceilometer
    // reads image_id from it), which no list sample happens to show.
    let extra = ["volume_image_metadata"];
    for (mv, sample_list, sample_show) in [
        (
            None,
            "cinder/volumes/volumes-list-detailed-response.json",
            "cinder/volumes/volume-show-response.json",
        ),
        (
            Some("volume 3.65"),
            "cinder/volumes/v3.65/volumes-list-detailed-response.json",
            "cinder/volumes/v3.65/volume-show-response.json",
        ),
        (
            Some("volume 3.69"),
            "cinder/volumes/v3.69/volumes-list-detailed-response.json",
            "cinder/volumes/v3.69/volume-show-response.json",
        ),
    ] {
        let mut h = vec![("x-auth-token", e.token.as_str())];
        if let Some(m) = mv {
            h.push(("openstack-api-version", m));
        }
        let r =
            e.c.send(
                Method::GET,
                &format!("/volume/v3/{p}/volumes/detail?all_tenants=True"),
                &h,
                None,
            )
            .await
            .unwrap();
        let v = r.json();
        nonempty(&v, "volumes");
        assert_like(sample_list, &v, &extra);
        let id = v["volumes"][0]["id"].as_str().unwrap().to_owned();
        let r =
            e.c.send(
                Method::GET,
                &format!("/volume/v3/{p}/volumes/{id}"),
                &h,
                None,
            )
            .await
            .unwrap();
        assert_like(sample_show, &r.json(), &extra);
    }
    for (mv, s) in [
        (
            "volume 3.0",
            "cinder/snapshots/snapshots-list-detailed-response.json",
        ),
        (
            "volume 3.65",
            "cinder/snapshots/v3.65/snapshots-list-detailed-response.json",
        ),
    ] {
        let r =
            e.c.send(
                Method::GET,
                &format!("/volume/v3/{p}/snapshots/detail?all_tenants=True"),
                &[("x-auth-token", &e.token), ("openstack-api-version", mv)],
                None,
            )
            .await
            .unwrap();
        let v = r.json();
        nonempty(&v, "snapshots");
        assert_like(s, &v, &[]);
    }
    for (mv, q, s) in [
        (
            "volume 3.0",
            "",
            "cinder/backups/backups-list-detailed-response.json",
        ),
        (
            "volume 3.64",
            "&with_count=true",
            "cinder/backups/v3.56/backups-list-detailed-response.json",
        ),
    ] {
        let r =
            e.c.send(
                Method::GET,
                &format!("/volume/v3/{p}/backups/detail?all_tenants=True{q}"),
                &[("x-auth-token", &e.token), ("openstack-api-version", mv)],
                None,
            )
            .await
            .unwrap();
        let v = r.json();
        nonempty(&v, "backups");
        assert_like(s, &v, &[]);
    }
    // The sample pool shows a generic driver; real drivers (LVM, Ceph) also report these,
    // and Ceilometer's capacity pollsters read them.
    let r =
        e.c.get(
            &format!("/volume/v3/{p}/scheduler-stats/get_pools?detail=True"),
            &e.token,
        )
        .await
        .unwrap();
    let v = r.json();
    nonempty(&v, "pools");
    assert_like(
        "cinder/pools-list-detailed-response.json",
        &v,
        &[
            "allocated_capacity_gb",
            "provisioned_capacity_gb",
            "max_over_subscription_ratio",
            "thin_provisioning_support",
        ],
    );
    let r =
        e.c.get(&format!("/volume/v3/{p}/os-services"), &e.token)
            .await
            .unwrap();
    let v = r.json();
    nonempty(&v, "services");
    assert_like("cinder/services-list-response.json", &v, &[]);
    let r =
        e.c.send(
            Method::GET,
            &format!("/volume/v3/{p}/os-services"),
            &[
                ("x-auth-token", &e.token),
                ("openstack-api-version", "volume 3.64"),
            ],
            None,
        )
        .await
        .unwrap();
    assert_like(
        "cinder/os-services/v3.49/services-list-response.json",
        &r.json(),
        &[],
    );
    let r = e.c.get("/volume/v3/", "").await.unwrap();
    assert_like("cinder/versions/version-show-response.json", &r.json(), &[]);
    let r =
        e.c.get(&format!("/volume/v3/{p}/nope"), &e.token)
            .await
            .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["itemNotFound"]["code"], 404);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn neutron() {
    let mut e = env().await;
    for (path, key, s) in [
        (
            "/network/v2.0/floatingips",
            "floatingips",
            "neutron/floatingips/floating-ips-list-response.json",
        ),
        (
            "/network/v2.0/vpn/vpnservices",
            "vpnservices",
            "neutron/vpn/vpnservices-list-response.json",
        ),
        (
            "/network/v2.0/vpn/ipsec-site-connections",
            "ipsec_site_connections",
            "neutron/vpn/ipsec-site-connections-list-response.json",
        ),
        (
            "/network/v2.0/fwaas/firewall_groups",
            "firewall_groups",
            "neutron/firewall-v2/firewall-groups-list-response.json",
        ),
        (
            "/network/v2.0/fwaas/firewall_policies",
            "firewall_policies",
            "neutron/firewall-v2/firewall-policies-list-response.json",
        ),
    ] {
        let r = e.c.get(path, &e.token).await.unwrap();
        let v = r.json();
        nonempty(&v, key);
        assert_like(s, &v, &[]);
    }
    let r = e.c.get("/network/", "").await.unwrap();
    assert_like(
        "neutron/networks/versions-list-response.json",
        &r.json(),
        &[],
    );
    let r = e.c.get("/network/v2.0/", "").await.unwrap();
    assert_like(
        "neutron/networks/version-show-response.json",
        &r.json(),
        &[],
    );
    let r = e.c.get("/network/v2.0/nope", &e.token).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["NeutronError"]["type"], "HTTPNotFound");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn swift() {
    let mut e = start(Sizes {
        swift_containers_per_project: 20,
        ..Sizes::default()
    })
    .await;
    // Find a project with containers.
    let pid = e
        .sim
        .model()
        .projects
        .snap()
        .values()
        .find(|p| !p.containers.is_empty())
        .map(|p| simcloud::util::hex32(p.id))
        .expect("a project with containers");
    let r =
        e.c.get(
            &format!("/object-store/v1/AUTH_{pid}?format=json"),
            &e.token,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(!v.as_array().unwrap().is_empty());
    assert_like("swift/account-containers-list-response.json", &v, &[]);
    let head =
        e.c.send(
            Method::HEAD,
            &format!("/object-store/v1/AUTH_{pid}"),
            &[("x-auth-token", &e.token)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(head.status, 204);
    // Every header of the reference's HEAD example (except the account metadata the
    // example's user had set) is present.
    let text = common::sample_text("swift/account-head-http-response.txt");
    for line in text.lines().skip(1) {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        if name.starts_with("X-Account-Meta-") {
            continue;
        }
        assert!(
            head.headers
                .contains_key(name.to_ascii_lowercase().as_str()),
            "HEAD lacks {name}"
        );
    }
    // Totals agree with the listing.
    let count: u64 = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    let bytes: u64 = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(
        head.header("x-account-object-count").unwrap(),
        count.to_string()
    );
    assert_eq!(
        head.header("x-account-bytes-used").unwrap(),
        bytes.to_string()
    );
    assert_eq!(
        head.header("x-account-container-count").unwrap(),
        v.as_array().unwrap().len().to_string()
    );
    let r =
        e.c.get(
            "/object-store/v1/AUTH_00000000000000000000000000000000",
            &e.token,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("<h1>Not Found</h1>"));
    e.sim.shutdown().await;
}

#[tokio::test]
async fn octavia() {
    let mut e = env().await;
    let r =
        e.c.get("/load-balancer/v2/lbaas/loadbalancers", &e.token)
            .await
            .unwrap();
    let v = r.json();
    nonempty(&v, "loadbalancers");
    assert_like(
        "octavia/v2/examples/loadbalancers-list-response.json",
        &v,
        &[],
    );
    let id = v["loadbalancers"][0]["id"].as_str().unwrap().to_owned();
    let r =
        e.c.get(
            &format!("/load-balancer/v2/lbaas/loadbalancers/{id}"),
            &e.token,
        )
        .await
        .unwrap();
    assert_like(
        "octavia/v2/examples/loadbalancer-show-response.json",
        &r.json(),
        &[],
    );
    let r = e.c.get("/load-balancer/", "").await.unwrap();
    assert_like("octavia/examples/versions-get-resp.json", &r.json(), &[]);
    let r = e.c.get("/load-balancer/v2/nope", &e.token).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["faultcode"], "Client");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn manila() {
    let mut e = env().await;
    let h = [
        ("x-auth-token", e.token.as_str()),
        ("x-openstack-manila-api-version", "2.80"),
    ];
    let r =
        e.c.send(
            Method::GET,
            "/share/v2/shares/detail?all_tenants=True&with_count=true",
            &h,
            None,
        )
        .await
        .unwrap();
    let v = r.json();
    nonempty(&v, "shares");
    assert_like("manila/shares-list-detailed-response.json", &v, &[]);
    let id = v["shares"][0]["id"].as_str().unwrap().to_owned();
    let h = [
        ("x-auth-token", e.token.as_str()),
        ("x-openstack-manila-api-version", "2.79"),
    ];
    let r =
        e.c.send(Method::GET, &format!("/share/v2/shares/{id}"), &h, None)
            .await
            .unwrap();
    assert_like("manila/share-show-response.json", &r.json(), &[]);
    let r = e.c.get("/share/v2/", "").await.unwrap();
    assert_like("manila/versions-get-version-response.json", &r.json(), &[]);
    let r = e.c.get("/share/v2/nope", &e.token).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["itemNotFound"]["code"], 404);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn designate() {
    let mut e = env().await;
    let h = [
        ("x-auth-token", e.token.as_str()),
        ("x-auth-all-projects", "True"),
    ];
    // The sample is a full page (it has `links.next`): ask for one too.
    let r =
        e.c.send(Method::GET, "/dns/v2/zones?limit=2", &h, None)
            .await
            .unwrap();
    let v = r.json();
    nonempty(&v, "zones");
    assert_like("designate/zones/list-zones-response.json", &v, &[]);
    let id = v["zones"][0]["id"].as_str().unwrap().to_owned();
    let r =
        e.c.send(Method::GET, &format!("/dns/v2/zones/{id}"), &h, None)
            .await
            .unwrap();
    assert_like("designate/zones/zone-response.json", &r.json(), &[]);
    let r =
        e.c.send(
            Method::GET,
            &format!("/dns/v2/zones/{id}/recordsets?limit=1"),
            &h,
            None,
        )
        .await
        .unwrap();
    let v = r.json();
    nonempty(&v, "recordsets");
    assert_like(
        "designate/recordsets/list-recordset-in-zone-response.json",
        &v,
        &[],
    );
    let r = e.c.get("/dns/", "").await.unwrap();
    assert_like(
        "designate/versions/get-versions-response.json",
        &r.json(),
        &[],
    );
    // Without the all-projects header, only the token's project's zones are visible.
    let r = e.c.get("/dns/v2/zones", &e.token).await.unwrap();
    let own = e.admin.clone();
    assert!(r.json()["zones"]
        .as_array()
        .unwrap()
        .iter()
        .all(|z| z["project_id"] == own.as_str()));
    let r = e.c.get("/dns/v2/nope", &e.token).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], 404);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn aodh() {
    let mut e = env().await;
    let r =
        e.c.get("/alarming/v2/metrics?all_projects=true", &e.token)
            .await
            .unwrap();
    let v = r.json();
    nonempty(&v, "evaluation_results");
    // No api-ref sample exists (see aodh/SOURCES.md); this is the shape of
    // `MetricsOutput.sample()` and the functional test it cites.
    let shape = json!({"evaluation_results": [{"alarm_id": "b8e17f58-089a-43fc-a96b-e9bcac4d4b53", "project_id": "2dd8edd6c8c24f49bf04670534f6b357", "state_counters": {"ok": 20, "insufficient data": 5, "alarm": 10}}]});
    let d = simcloud::structure::compare(&shape, &v, &[]);
    assert!(d.is_empty(), "{d:?}");
    let all = v["evaluation_results"].as_array().unwrap().len();
    let r = e.c.get("/alarming/v2/metrics", &e.token).await.unwrap();
    assert!(r.json()["evaluation_results"].as_array().unwrap().len() < all);
    e.sim.shutdown().await;
}

#[tokio::test]
async fn radosgw_fields_ceilometer_reads() {
    let mut e = start(Sizes {
        rgw_buckets_per_project: 10,
        ..Sizes::default()
    })
    .await;
    let pid = e
        .sim
        .model()
        .projects
        .snap()
        .values()
        .find(|p| p.buckets.iter().any(|b| b.num_objects > 0))
        .map(|p| simcloud::util::hex32(p.id))
        .expect("a project with buckets");
    let r = rgw_get(
        &mut e,
        "/admin/bucket",
        &format!("uid={pid}&stats=true"),
        "simcloud-access",
        "simcloud-secret",
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    // Field list of "Get Bucket Info" (adminops.rst) plus what Ceilometer reads.
    let b = v
        .as_array()
        .unwrap()
        .iter()
        .find(|b| !b["usage"].as_object().unwrap().is_empty())
        .unwrap();
    for k in ["bucket", "id", "marker", "owner", "usage"] {
        assert!(b.get(k).is_some(), "bucket lacks {k}");
    }
    assert!(b["usage"]["rgw.main"]["num_objects"].is_u64());
    assert!(b["usage"]["rgw.main"]["size_kb"].is_u64());
    let r = rgw_get(
        &mut e,
        "/admin/usage",
        &format!("uid={pid}%24{pid}"),
        "agent-7",
        "simcloud-secret",
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let s = &v["summary"][0];
    assert_eq!(s["user"], format!("{pid}${pid}"));
    for k in ["bytes_sent", "bytes_received", "ops", "successful_ops"] {
        assert!(s["total"][k].is_u64(), "total lacks {k}");
    }
    assert!(v["entries"][0]["buckets"][0]["categories"][0]["category"].is_string());
    // A wrong secret is refused with S3's error.
    let r = rgw_get(
        &mut e,
        "/admin/bucket",
        &format!("uid={pid}"),
        "simcloud-access",
        "wrong",
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["Code"], "SignatureDoesNotMatch");
    // Accounting: by access key, per project.
    let polls = e.sim.stats().polls_of(simcloud::PollKind::RgwUsage, &pid);
    assert_eq!(polls.len(), 1);
    assert_eq!(&*polls[0].agent, "agent-7");
    e.sim.shutdown().await;
}

/// A SigV4-signed GET to the RadosGW admin API.
pub async fn rgw_get(
    e: &mut Env,
    path: &str,
    query: &str,
    access: &str,
    secret: &str,
) -> simcloud::client::Reply {
    let host = e.sim.addr().to_string();
    let date = "20240102T030405Z";
    let auth = simcloud::sigv4::sign(
        "GET",
        path,
        Some(query),
        &[("host", &host), ("x-amz-date", date)],
        b"",
        access,
        secret,
        "us-east-1",
        "s3",
    );
    e.c.send(
        Method::GET,
        &format!("{path}?{query}"),
        &[
            ("x-amz-date", date),
            ("authorization", &auth),
            ("accept", "application/json"),
        ],
        None,
    )
    .await
    .unwrap()
}
