//! The Gnocchi publisher against simcloud's fake Gnocchi, authenticated with simcloud's
//! Keystone.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::sample;
use publisher::factory::{build, Concrete, PublisherContext};
use publisher::gnocchi::{AuthToken, GnocchiStats, TokenSource};
use publisher::{Batch, BoxFuture, PublishError};
use sample::{Sample, Volume};
use serde_json::{json, Value};
use simcloud::client::Client;
use simcloud::{SimCloud, SimConfig, SimHandle};

/// Logs in to simcloud's Keystone as `agent-1`, caching the token until invalidated.
struct SimKeystone {
    addr: SocketAddr,
    gnocchi_url: String,
    cached: Mutex<Option<String>>,
    logins: AtomicU32,
    invalidations: AtomicU32,
}

impl TokenSource for SimKeystone {
    fn token(&self) -> BoxFuture<'_, Result<AuthToken, PublishError>> {
        Box::pin(async move {
            if let Some(t) = self.cached.lock().unwrap().clone() {
                return Ok(AuthToken {
                    token: t,
                    gnocchi_url: self.gnocchi_url.clone(),
                });
            }
            let mut c = Client::connect(self.addr)
                .await
                .map_err(|e| PublishError::Retryable(format!("{e:?}")))?;
            let (token, reply) = c
                .login("agent-1", "secret")
                .await
                .map_err(|e| PublishError::Retryable(format!("{e:?}")))?;
            assert_eq!(reply.status, 201);
            let token = token.unwrap();
            self.logins.fetch_add(1, Ordering::SeqCst);
            *self.cached.lock().unwrap() = Some(token.clone());
            Ok(AuthToken {
                token,
                gnocchi_url: self.gnocchi_url.clone(),
            })
        })
    }
    fn invalidate(&self) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        *self.cached.lock().unwrap() = None;
    }
    fn project_id<'a>(
        &'a self,
        name: &'a str,
        domain: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PublishError>> {
        Box::pin(async move {
            assert_eq!((name, domain), ("service", "Default"));
            Ok(Some("svc-project".to_owned()))
        })
    }
}

async fn setup() -> (SimHandle, Arc<SimKeystone>, publisher::factory::Built) {
    let sim = SimCloud::start(SimConfig::default()).await.unwrap();
    let ks = Arc::new(SimKeystone {
        addr: sim.addr(),
        gnocchi_url: format!("{}/gnocchi", sim.url()),
        cached: Mutex::new(None),
        logins: AtomicU32::new(0),
        invalidations: AtomicU32::new(0),
    });
    let ctx = PublisherContext {
        token_source: Some(ks.clone()),
        ..PublisherContext::default()
    };
    let b = build(
        "gnocchi://?filter_project=service&filter_domain=Default&enable_filter_project=true&archive_policy=&resources_definition_file=gnocchi_resources.yaml&timeout=6.05",
        &ctx,
    )
    .unwrap();
    (sim, ks, b)
}

fn image(id: &str, name: &str, size: i64) -> Sample {
    let mut s = sample(1);
    s.name = "image.size".into();
    s.unit = "B".into();
    s.resource_id = id.into();
    s.project_id = Some("p-img".into());
    s.volume = Volume::Int(size);
    s.resource_metadata
        .insert("name".into(), Value::String(name.into()));
    s.resource_metadata
        .insert("disk_format".into(), Value::String("qcow2".into()));
    s.resource_metadata.insert("size".into(), Value::from(size));
    s
}

fn named(name: &str, rid: &str) -> Sample {
    let mut s = sample(2);
    s.name = name.to_owned().into();
    s.resource_id = rid.into();
    s
}

async fn archive_policy_posts(sim: &SimHandle) -> u64 {
    let mut c = Client::connect(sim.addr()).await.unwrap();
    let stats = c.get("/_sim/stats", "").await.unwrap().json();
    let mut n = 0;
    for agent in stats["agents"].as_object().unwrap().values() {
        for api in agent["by_api"].as_array().unwrap() {
            if api["api"] == "POST /v1/archive_policy" {
                n += api["count"].as_u64().unwrap();
            }
        }
    }
    n
}

fn stats(b: &publisher::factory::Built) -> GnocchiStats {
    let Concrete::Gnocchi(g) = &b.concrete else {
        panic!("not gnocchi")
    };
    g.stats()
}

#[tokio::test]
async fn gnocchi_creates_resources_retries_and_patches_only_changes() {
    let (sim, ks, b) = setup().await;
    let mut svc = named("storage.objects", "svc-project");
    svc.project_id = Some("svc-project".into());
    let batch = Batch {
        samples: vec![
            image("img/1", "cirros", 100),
            named("storage.objects", "acct-1"),
            named("network.services.vpn", "vpn-1"),
            named("alarm.evaluation_result", "alarm-1"),
            svc,
            image("img/1", "cirros", 101),
        ],
    };
    b.publisher.publish(&batch).await.unwrap();

    let g = sim.gnocchi();
    assert_eq!(
        g.archive_policies(),
        vec![
            "ceilometer-high",
            "ceilometer-high-rate",
            "ceilometer-low",
            "ceilometer-low-rate"
        ]
    );
    // `/` in the resource id becomes `_`; attributes from the last sample of the resource.
    let img = g
        .resource("image", "img_1")
        .expect("image resource created");
    assert_eq!(img["name"], "cirros");
    assert_eq!(img["disk_format"], "qcow2");
    assert_eq!(img["project_id"], "p-img");
    assert!(img.get("size").is_none(), "only declared attributes: {img}");
    assert!(g.resource("swift_account", "acct-1").is_some());
    assert_eq!(
        g.resource_count(),
        2,
        "unmapped and filtered samples create nothing"
    );
    assert_eq!(
        g.measures("img_1", "image.size"),
        vec![
            json!({"timestamp": "2023-11-14T22:13:20.000001", "value": 100}),
            json!({"timestamp": "2023-11-14T22:13:20.000001", "value": 101})
        ]
    );
    assert_eq!(g.measures("acct-1", "storage.objects").len(), 1);
    assert!(g.measures("svc-project", "storage.objects").is_empty());
    // First post rejected (unknown resources), then accepted; no PATCH (just created).
    assert_eq!(g.counters(), (1, 1, 0));
    assert_eq!(
        stats(&b),
        GnocchiStats {
            filtered: 1,
            unmapped: 2,
            resources_created: 2,
            patches: 0,
            measures: 3
        }
    );
    assert_eq!(archive_policy_posts(&sim).await, 4);

    // Same attributes again: one batch, no PATCH, no archive policy requests.
    b.publisher
        .publish(&Batch {
            samples: vec![image("img/1", "cirros", 102)],
        })
        .await
        .unwrap();
    assert_eq!(g.counters(), (2, 1, 0));
    assert_eq!(archive_policy_posts(&sim).await, 4);

    // Changed attributes: one PATCH with project_id + attributes.
    b.publisher
        .publish(&Batch {
            samples: vec![image("img/1", "cirros-2", 103)],
        })
        .await
        .unwrap();
    assert_eq!(g.counters(), (3, 1, 1));
    assert_eq!(g.resource("image", "img_1").unwrap()["name"], "cirros-2");
    b.publisher
        .publish(&Batch {
            samples: vec![image("img/1", "cirros-2", 104)],
        })
        .await
        .unwrap();
    assert_eq!(g.counters(), (4, 1, 1));
    assert_eq!(stats(&b).patches, 1);
    assert_eq!(g.measures("img_1", "image.size").len(), 5);
    assert_eq!(ks.logins.load(Ordering::SeqCst), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn gnocchi_401_invalidates_the_token_and_the_retry_succeeds() {
    let (sim, ks, b) = setup().await;
    let one = Batch {
        samples: vec![named("storage.objects", "acct-1")],
    };
    b.publisher.publish(&one).await.unwrap();
    assert!(sim.revoke_tokens() > 0);
    let err = b.publisher.publish(&one).await.unwrap_err();
    assert!(matches!(err, PublishError::Retryable(_)), "{err}");
    assert!(err.to_string().contains("401"), "{err}");
    assert_eq!(ks.invalidations.load(Ordering::SeqCst), 1);
    b.publisher.publish(&one).await.unwrap();
    assert_eq!(ks.logins.load(Ordering::SeqCst), 2);
    assert_eq!(sim.gnocchi().measures("acct-1", "storage.objects").len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn gnocchi_batch_of_only_dropped_samples_sends_nothing() {
    let (sim, ks, b) = setup().await;
    b.publisher
        .publish(&Batch {
            samples: vec![
                named("network.services.vpn", "v"),
                named("alarm.evaluation_result", "a"),
            ],
        })
        .await
        .unwrap();
    assert_eq!(stats(&b).unmapped, 2);
    assert_eq!(ks.logins.load(Ordering::SeqCst), 0);
    assert_eq!(sim.gnocchi().counters(), (0, 0, 0));
    sim.shutdown().await;
}

#[test]
fn resource_types_of_the_central_meters() {
    use publisher::gnocchi::resource_type;
    for (meter, ty) in [
        ("image.size", Some("image")),
        ("ip.floating", Some("network")),
        ("storage.objects.size", Some("swift_account")),
        ("storage.containers.objects", Some("swift_account")),
        ("radosgw.objects.size", Some("ceph_account")),
        ("volume.size", Some("volume")),
        ("volume.snapshot.size", Some("volume")),
        ("volume.backup.size", Some("volume")),
        (
            "volume.provider.pool.capacity.free",
            Some("volume_provider_pool"),
        ),
        ("volume.service.health", Some("volume_service")),
        ("loadbalancer.operating", Some("loadbalancer")),
        ("manila.share.size", Some("manila_share")),
        ("dns.zone.recordsets", Some("dns_zone")),
        ("network.services.vpn", None),
        ("network.services.firewall.policy", None),
        ("alarm.evaluation_result", None),
    ] {
        assert_eq!(resource_type(meter).map(|r| r.name), ty, "{meter}");
    }
}
