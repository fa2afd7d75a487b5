//! The fake Gnocchi and the HTTP sink record what they receive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::start;
use hyper::Method;
use serde_json::json;
use simcloud::Sizes;

#[tokio::test]
async fn gnocchi_flow_as_the_publisher_drives_it() {
    let mut e = start(Sizes::empty()).await;
    let t = e.token.clone();
    let post = |v: serde_json::Value| Some(v.to_string().into_bytes());
    let h = [("x-auth-token", t.as_str())];
    // Archive policies: 201 then 409.
    let ap = json!({"name": "ceilometer-low", "definition": [{"granularity": "5 minutes", "timespan": "30 days"}], "aggregation_methods": ["mean"]});
    assert_eq!(
        e.c.send(
            Method::POST,
            "/gnocchi/v1/archive_policy",
            &h,
            post(ap.clone())
        )
        .await
        .unwrap()
        .status,
        201
    );
    assert_eq!(
        e.c.send(Method::POST, "/gnocchi/v1/archive_policy", &h, post(ap))
            .await
            .unwrap()
            .status,
        409
    );
    // Batch for an unknown resource: 400 "Unknown resources" listing it.
    let batch = json!({"img-1": {"image.size": {"measures": [{"timestamp": "2024-01-01T00:00:00", "value": 42.0}], "archive_policy_name": "ceilometer-low", "unit": "B"}}});
    let url = "/gnocchi/v1/batch/resources/metrics/measures?create_metrics=true";
    let r =
        e.c.send(Method::POST, url, &h, post(batch.clone()))
            .await
            .unwrap();
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["description"]["cause"], "Unknown resources");
    assert_eq!(
        v["description"]["detail"][0]["original_resource_id"],
        "img-1"
    );
    // Create the resource (201, then 409), retry the batch (202).
    let res = json!({"id": "img-1", "user_id": null, "project_id": "p", "name": "cirros"});
    assert_eq!(
        e.c.send(
            Method::POST,
            "/gnocchi/v1/resource/image",
            &h,
            post(res.clone())
        )
        .await
        .unwrap()
        .status,
        201
    );
    let r =
        e.c.send(Method::POST, "/gnocchi/v1/resource/image", &h, post(res))
            .await
            .unwrap();
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["description"]["cause"], "Resource already exists");
    assert_eq!(
        e.c.send(Method::POST, url, &h, post(batch))
            .await
            .unwrap()
            .status,
        202
    );
    // PATCH.
    let r =
        e.c.send(
            Method::PATCH,
            "/gnocchi/v1/resource/image/img-1",
            &h,
            post(json!({"name": "cirros-2"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        e.c.send(
            Method::PATCH,
            "/gnocchi/v1/resource/image/none",
            &h,
            post(json!({}))
        )
        .await
        .unwrap()
        .status,
        404
    );
    // No token: 401.
    assert_eq!(
        e.c.send(Method::POST, url, &[], post(json!({})))
            .await
            .unwrap()
            .status,
        401
    );
    let g = e.sim.gnocchi();
    assert_eq!(g.archive_policies(), vec!["ceilometer-low".to_string()]);
    assert_eq!(g.resource("image", "img-1").unwrap()["name"], "cirros-2");
    assert_eq!(g.measures("img-1", "image.size").len(), 1);
    assert_eq!(g.counters(), (1, 1, 1));
    let r = e.c.get("/_sim/gnocchi", "").await.unwrap();
    assert_eq!(r.json()["measures"][0]["metric"], "image.size");
    e.sim.shutdown().await;
}

#[tokio::test]
async fn sink_records_bodies() {
    let mut e = start(Sizes::empty()).await;
    let body = json!([{"name": "image.size", "volume": 1}]);
    let r =
        e.c.send(
            Method::POST,
            "/sink/samples?x=1",
            &[("x-auth-token", &e.token)],
            Some(body.to_string().into_bytes()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let recs = e.sim.sink().records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].path, "/samples");
    assert_eq!(recs[0].body, body);
    assert_eq!(recs[0].agent, "agent-1");
    let r = e.c.get("/_sim/sink", "").await.unwrap();
    assert_eq!(r.json()["records"][0]["query"], "x=1");
    e.sim.shutdown().await;
}
