//! Configuration of a simulated cloud: sizes, seed, credentials, churn and initial faults.

use std::time::Duration;

use crate::faults::FaultSpec;

/// How many resources of each kind the generated cloud has.
///
/// Resources that belong to a project are spread over projects with a Zipf-like law
/// (exponent [`Sizes::skew`]): most projects are small and a few are huge.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Sizes {
    /// Keystone projects (besides `admin` and `service`).
    pub projects: usize,
    /// Keystone domains besides `default`.
    pub domains: usize,
    /// Glance images.
    pub images: usize,
    /// Cinder volumes.
    pub volumes: usize,
    /// Cinder snapshots.
    pub snapshots: usize,
    /// Cinder backups.
    pub backups: usize,
    /// Cinder scheduler pools.
    pub pools: usize,
    /// Cinder services (`os-services`).
    pub volume_services: usize,
    /// Neutron floating IPs.
    pub floating_ips: usize,
    /// Neutron VPN services.
    pub vpn_services: usize,
    /// Neutron IPsec site connections.
    pub ipsec_connections: usize,
    /// Neutron FWaaS v2 firewall groups.
    pub firewall_groups: usize,
    /// Neutron FWaaS v2 firewall policies.
    pub firewall_policies: usize,
    /// Octavia load balancers.
    pub load_balancers: usize,
    /// Manila shares.
    pub shares: usize,
    /// Designate zones.
    pub zones: usize,
    /// Mean number of recordsets per zone (Zipf-spread over zones).
    pub recordsets_per_zone: usize,
    /// Aodh alarms reported by `/v2/metrics`.
    pub alarms: usize,
    /// Mean Swift containers per project.
    pub swift_containers_per_project: usize,
    /// Mean RadosGW buckets per project.
    pub rgw_buckets_per_project: usize,
    /// Zipf exponent of resources per project (1.0–1.3 is realistic).
    pub skew: f64,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            projects: 20,
            domains: 2,
            images: 50,
            volumes: 100,
            snapshots: 30,
            backups: 20,
            pools: 4,
            volume_services: 6,
            floating_ips: 40,
            vpn_services: 5,
            ipsec_connections: 8,
            firewall_groups: 6,
            firewall_policies: 6,
            load_balancers: 10,
            shares: 10,
            zones: 10,
            recordsets_per_zone: 5,
            alarms: 10,
            swift_containers_per_project: 3,
            rgw_buckets_per_project: 2,
            skew: 1.1,
        }
    }
}

impl Sizes {
    /// A cloud with nothing but the `admin` and `service` projects and the default domain.
    pub fn empty() -> Self {
        Sizes {
            projects: 0,
            domains: 0,
            images: 0,
            volumes: 0,
            snapshots: 0,
            backups: 0,
            pools: 0,
            volume_services: 0,
            floating_ips: 0,
            vpn_services: 0,
            ipsec_connections: 0,
            firewall_groups: 0,
            firewall_policies: 0,
            load_balancers: 0,
            shares: 0,
            zones: 0,
            recordsets_per_zone: 0,
            alarms: 0,
            swift_containers_per_project: 0,
            rgw_buckets_per_project: 0,
            skew: 1.1,
        }
    }
}

/// Everything [`crate::SimCloud::start`] needs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address to listen on; must be loopback. Port 0 picks a free port.
    pub listen: std::net::SocketAddr,
    /// Serve HTTPS (every URL, the catalog's included), optionally requiring client
    /// certificates; `None` = plain HTTP.
    pub tls: Option<crate::tls::SimTls>,
    /// Seed of the generator, the churn and the fault dice: same seed, same cloud.
    pub seed: u64,
    /// Resource counts.
    pub sizes: Sizes,
    /// Region of every catalog endpoint.
    pub region: String,
    /// Optional second region: every service gets endpoints there too (same server).
    pub second_region: Option<String>,
    /// Password of the `admin` user.
    pub admin_password: String,
    /// Password accepted for any user named `agent-*` or `ceilometer*`.
    pub agent_password: String,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// Application credentials known from the start: (user name, id, secret).
    pub app_credentials: Vec<(String, String, String)>,
    /// RadosGW admin access key (SigV4).
    pub rgw_access_key: String,
    /// RadosGW admin secret key (SigV4).
    pub rgw_secret_key: String,
    /// Resources created, deleted or modified per second (0 = a static cloud).
    pub churn_per_sec: f64,
    /// Faults active from the start, per service (see [`crate::Service`]).
    pub faults: Vec<FaultSpec>,
    /// Timestamps kept per resource and per listing in the accounting (oldest dropped).
    pub max_polls_kept: usize,
    /// Bytes of rendered listing entries kept for the next agent listing them (0: render
    /// every time); see `memo`.
    pub render_memo_bytes: usize,
    /// How long a "hang" fault holds a request before giving up on its own.
    pub max_hang: Duration,
    /// Services left out of Keystone's catalog (their routes still answer), to test what a
    /// client does when a service is not registered.
    pub omit_from_catalog: Vec<crate::Service>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            seed: 42,
            sizes: Sizes::default(),
            region: "RegionOne".into(),
            second_region: None,
            admin_password: "secret".into(),
            agent_password: "secret".into(),
            token_ttl: Duration::from_secs(3600),
            app_credentials: Vec::new(),
            rgw_access_key: "simcloud-access".into(),
            rgw_secret_key: "simcloud-secret".into(),
            churn_per_sec: 0.0,
            faults: Vec::new(),
            max_polls_kept: 64,
            render_memo_bytes: 128 << 20,
            max_hang: Duration::from_secs(600),
            omit_from_catalog: Vec::new(),
        }
    }
}
