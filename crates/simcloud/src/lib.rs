//! An OpenStack API simulator for tests, the demo and benchmarks.
//!
//! Builds its JSON from the API reference and shares no types with the clients it
//! tests, so a misspelt field fails a test instead of hiding. One hyper server on one
//! loopback port serves every service under its own path prefix (see [`Service::prefix`]);
//! Keystone's catalog points at them. Every request is accounted by the agent (Keystone
//! user) that made it ([`stats::Stats`]), faults can be switched per service at run time
//! ([`faults::Faults`]) and the cloud can churn while it runs ([`model::Model::churn`]).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sim = simcloud::SimCloud::start(simcloud::SimConfig::default()).await?;
//! println!("Keystone at {}/identity/v3", sim.url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod barbican;
pub mod body;
pub mod client;
pub mod config;
mod dyntest;
pub mod faults;
mod gnocchi;
mod keystone;
mod memo;
pub mod model;
pub mod render;
mod rgw;
mod server;
mod services;
pub mod sigv4;
pub mod stats;
pub mod structure;
pub mod tls;
pub mod util;

pub use config::{SimConfig, Sizes};
pub use faults::{FaultSpec, Latency};
pub use gnocchi::{GnocchiStore, SinkRecord, SinkStore};
pub use keystone::{AppCredential, Scope, Trust};
pub use server::{SimCloud, SimHandle, StartError};
pub use stats::{Coverage, Interface, PollKind, Stats};
pub use tls::SimTls;

/// The services simcloud serves, each under its own path prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Service {
    /// Keystone v3 (`/identity`).
    Identity,
    /// Glance v2 (`/image`).
    Image,
    /// Cinder v3 (`/volume`).
    Volume,
    /// Neutron v2.0 (`/network`).
    Network,
    /// Swift v1 (`/object-store`).
    ObjectStore,
    /// Octavia v2 (`/load-balancer`).
    LoadBalancer,
    /// Manila v2 (`/share`).
    Share,
    /// Designate v2 (`/dns`).
    Dns,
    /// Aodh v2 (`/alarming`).
    Alarming,
    /// RadosGW admin ops (`/admin`, also `/rgw/admin`).
    Rgw,
    /// Fake Gnocchi v1 (`/gnocchi`).
    Metric,
    /// HTTP sample sink (`/sink`).
    Sink,
    /// Generic API for dynamic-pollster tests (`/dynamic-test`).
    DynamicTest,
    /// Barbican v1 secrets (`/key-manager`).
    KeyManager,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 14] = [
        Service::Identity,
        Service::Image,
        Service::Volume,
        Service::Network,
        Service::ObjectStore,
        Service::LoadBalancer,
        Service::Share,
        Service::Dns,
        Service::Alarming,
        Service::Rgw,
        Service::Metric,
        Service::Sink,
        Service::DynamicTest,
        Service::KeyManager,
    ];

    /// Name used in fault specs and stats (the catalog type for most).
    pub fn name(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Image => "image",
            Service::Volume => "volume",
            Service::Network => "network",
            Service::ObjectStore => "object-store",
            Service::LoadBalancer => "load-balancer",
            Service::Share => "share",
            Service::Dns => "dns",
            Service::Alarming => "alarming",
            Service::Rgw => "rgw",
            Service::Metric => "metric",
            Service::Sink => "sink",
            Service::DynamicTest => "dynamic-test",
            Service::KeyManager => "key-manager",
        }
    }

    /// Parses [`Service::name`] (also accepts catalog types such as `volumev3`).
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "volumev3" | "block-storage" => Some(Service::Volume),
            "sharev2" => Some(Service::Share),
            "radosgw" => Some(Service::Rgw),
            "gnocchi" => Some(Service::Metric),
            _ => Self::ALL.into_iter().find(|x| x.name() == s),
        }
    }

    /// First path segment of the service on the server.
    pub fn prefix(self) -> &'static str {
        match self {
            Service::Metric => "gnocchi",
            s => s.name(),
        }
    }

    /// (catalog type, catalog name) for services in the catalog.
    pub fn catalog(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Service::Identity => ("identity", "keystone"),
            Service::Image => ("image", "glance"),
            Service::Volume => ("volumev3", "cinderv3"),
            Service::Network => ("network", "neutron"),
            Service::ObjectStore => ("object-store", "swift"),
            Service::LoadBalancer => ("load-balancer", "octavia"),
            Service::Share => ("sharev2", "manilav2"),
            Service::Dns => ("dns", "designate"),
            Service::Alarming => ("alarming", "aodh"),
            Service::Rgw => ("radosgw", "radosgw"),
            Service::Metric => ("metric", "gnocchi"),
            Service::DynamicTest => ("dynamic-test", "dynamic-test"),
            Service::KeyManager => ("key-manager", "barbican"),
            Service::Sink => return None,
        })
    }
}
