//! Shared helpers: a simcloud in-process, an engine pointed at it, one cycle collected.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ceilometer_config::options::{
    Interface, RgwAdminCredentials, RgwClient, ServiceCredentials, ServiceTypes,
};
use ceilometer_config::{MeterSelector, Source};
use pollsters::{CycleReport, CycleRequest, Engine, EngineConfig, RetryPolicy, SampleBatch};
use serde_json::{json, Value};
use simcloud::{SimCloud, SimConfig, SimHandle, Sizes};

pub fn creds(auth_url: &str) -> ServiceCredentials {
    ServiceCredentials {
        auth_type: "password".into(),
        auth_section: None,
        auth_url: Some(auth_url.into()),
        username: Some("agent-1".into()),
        user_id: None,
        user_domain_name: Some("Default".into()),
        user_domain_id: None,
        password: Some("secret".into()),
        project_name: Some("admin".into()),
        project_id: None,
        project_domain_name: Some("Default".into()),
        project_domain_id: None,
        domain_name: None,
        domain_id: None,
        default_domain_name: None,
        default_domain_id: None,
        trust_id: None,
        system_scope: None,
        application_credential_id: None,
        application_credential_name: None,
        application_credential_secret: None,
        cafile: None,
        certfile: None,
        keyfile: None,
        insecure: false,
        timeout: None,
        region_name: Some("RegionOne".into()),
        interface: Interface::Public,
    }
}

pub fn config(auth_url: &str) -> EngineConfig {
    EngineConfig {
        credentials: creds(auth_url),
        service_types: ServiceTypes {
            aodh: "alarming".into(),
            cinder: "volumev3".into(),
            designate: "dns".into(),
            glance: "image".into(),
            manila: "sharev2".into(),
            neutron: "network".into(),
            nova: "compute".into(),
            octavia: "load-balancer".into(),
            radosgw: Some("radosgw".into()),
            swift: "object-store".into(),
        },
        rgw_admin: RgwAdminCredentials {
            access_key: Some("simcloud-access".into()),
            secret_key: Some("simcloud-secret".into()),
        },
        rgw_client: RgwClient {
            implicit_tenants: false,
            rgw_service_name: None,
            insecure: false,
            cafile: None,
            tls_min_version: "1.2".into(),
            tls_max_version: "1.3".into(),
        },
        reseller_prefix: "AUTH_".into(),
        sample_source: "openstack".into(),
        ignore_disabled_projects: false,
        api_concurrency: 8,
        api_timeout: Duration::from_secs(10),
        user_agent: "ceilometer-central-tests".into(),
    }
}

/// Fast retries for tests.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        retries: 3,
        base: Duration::from_millis(5),
        cap: Duration::from_millis(50),
    }
}

pub fn source(name: &str, meters: &[&str]) -> Source {
    Source {
        name: name.into(),
        line: 1,
        interval: 300,
        meters: MeterSelector::new(meters.iter().map(|s| s.to_string()).collect()).unwrap(),
        resources: vec![],
        discovery: vec![],
        group_id_coordination_expression: None,
        sinks: vec![],
    }
}

pub async fn sim(sizes: Sizes) -> SimHandle {
    SimCloud::start(SimConfig {
        sizes,
        seed: 7,
        ..SimConfig::default()
    })
    .await
    .expect("simcloud starts")
}

pub fn small() -> Sizes {
    Sizes {
        projects: 6,
        domains: 2,
        images: 7,
        volumes: 9,
        snapshots: 5,
        backups: 4,
        pools: 4,
        volume_services: 6,
        floating_ips: 8,
        vpn_services: 3,
        ipsec_connections: 4,
        firewall_groups: 5,
        firewall_policies: 3,
        load_balancers: 6,
        shares: 7,
        zones: 4,
        recordsets_per_zone: 30,
        alarms: 3,
        swift_containers_per_project: 3,
        rgw_buckets_per_project: 2,
        skew: 1.1,
    }
}

pub fn engine(sim: &SimHandle) -> Engine {
    Engine::with_retry(config(&sim.auth_url()), fast_retry()).unwrap()
}

/// Runs one cycle; returns the batches and the report.
pub async fn cycle(
    e: &Engine,
    sources: Vec<Source>,
    batch_size: usize,
    owns: &(dyn Fn(&[u8]) -> bool + Send + Sync),
) -> (Vec<SampleBatch>, CycleReport) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let collector = tokio::spawn(async move {
        let mut v = Vec::new();
        while let Some(b) = rx.recv().await {
            v.push(b);
        }
        v
    });
    let req = CycleRequest {
        sources,
        timestamp: sample::Timestamp::from_unix_micros(1_767_225_600_000_000),
        batch_size,
    };
    let report = e.poll_cycle(&req, owns, &tx).await;
    drop(tx);
    (collector.await.unwrap(), report)
}

pub fn all(_: &[u8]) -> bool {
    true
}

/// A sample as comparable JSON (everything but id and timestamp).
pub fn row(s: &sample::Sample) -> Value {
    json!([
        s.name,
        s.sample_type.as_str(),
        s.unit,
        s.volume.to_json(),
        s.user_id,
        s.project_id,
        s.resource_id,
        s.resource_metadata.to_value(),
        s.source,
        s.user_name,
        s.project_name,
        s.monotonic_time,
    ])
}

/// Expected row: gauge, source openstack, no names, no monotonic time.
pub fn exp(
    name: &str,
    unit: &str,
    volume: Value,
    user: Value,
    project: Value,
    rid: &str,
    md: Value,
) -> Value {
    json!([
        name,
        "gauge",
        unit,
        volume,
        user,
        project,
        rid,
        md,
        "openstack",
        null,
        null,
        null
    ])
}

pub fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

/// A tracing writer into a shared buffer: every log line of a test, to search for secrets
/// and for the warnings a failure must leave.
#[derive(Clone, Default)]
pub struct Logs(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    /// Installs a TRACE-level subscriber writing here for the current thread (use a
    /// current-thread runtime so every task of the test is seen); keep the guard alive.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(logs.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}
