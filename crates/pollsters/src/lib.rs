//! Keystone client, central discoveries and pollsters.
//!
//! Knows nothing of Redis or AMQP: it turns OpenStack API answers into samples. The agent
//! drives it through [`Engine::poll_cycle`] once per interval and fans the streamed
//! [`SampleBatch`]es out to publishers.
//!
//! Besides the built-in registry the engine runs, when given them through
//! [`Engine::with_extras`]:
//! - **dynamic pollsters** (spec §3.4; definitions from [`load_dynamic`]): per resource a GET
//!   (OpenStack kind: catalog URL of `endpoint_type` + `url_path`, Keystone token, the
//!   per-service concurrency bound; non-OpenStack kind: the absolute `url_path` with the
//!   YAML-declared basic / bearer / header authentication), paging, response handlers,
//!   extraction by the `dynamic` crate, `extra_metadata_fields` with a per-URL response cache
//!   kept across cycles (TTL `extra_metadata_fields_cache_seconds`, at most 4096 responses).
//!   Partition key: the resource (endpoint URL, static resource, or the non-OpenStack URL
//!   without credentials and query). A non-OpenStack answer other than 200 stops that
//!   pollster for the cycle. With `barbican_secret_id` the credentials left out of the YAML
//!   come from the Barbican secret's payload (`key-manager` catalog endpoint, Keystone
//!   token), read once per secret per cycle by the agent that polls; an unreadable secret
//!   skips the pollster for the cycle (warning, error counted under `key-manager`).
//! - **SNMP `hardware.*` pollsters** (spec §3.5): static `snmp://` resources of the sources
//!   matching them; each host polled once per cycle for the union of its sources' meters;
//!   partition key and logs use the URL without credentials. Other pollsters never see
//!   `snmp://` resources.
//!
//! Deliberate differences from Ceilometer 27.0.0 (spec §8):
//! - the VPN pre-shared key (`psk`) is never kept nor published in
//!   `network.services.vpn.connections` metadata;
//! - catalog lookups use the configured `interface` and `region_name` (upstream's check
//!   always used `public`);
//! - discoveries are shared by every pollster of the cycle (never an exhausted generator);
//! - per-resource calls (Swift, RadosGW, Designate recordsets) are concurrent with a bound
//!   per service, timed out and retried, so one hung service cannot stall the others;
//! - partition keys are stable ids, not Python reprs of mutable objects;
//! - Glance, Designate and Swift listings ask for large pages and follow every page;
//! - the blacklist forgets a resource when it leaves discovery or after an hour.
#![forbid(unsafe_code)]

mod aodh;
mod barbican;
mod cinder;
pub use http::api_request_counts;
pub use identity::Identity;
pub mod designate;
pub mod discovery;
mod dynpoll;
mod engine;
mod error;
mod glance;
mod hardware;
mod http;
mod identity;
pub mod keystone;
mod keystone_discovery;
mod manila;
mod meter;
mod neutron;
mod octavia;
mod registry;
pub mod rgw;
mod sigv4;
pub mod swift;
mod time;

pub use engine::{
    known_meters, pollster_names, CycleReport, CycleRequest, Engine, EngineConfig, EngineExtras,
    SampleBatch,
};
pub use error::{ApiError, EngineError};
pub use hardware::SnmpSettings;
pub use http::RetryPolicy;
pub use registry::Pollster;

/// Entry-point names of the built-in central pollsters (Ceilometer 27.0.0, spec §3.2): what
/// `meters:` patterns in `polling.yaml` are matched against. Generated from the registry.
pub const CENTRAL_POLLSTERS: &[&str] = Pollster::NAMES;

/// Dynamic pollster definitions and loading findings (re-exported for the agent).
pub use dynamic::{Definition as DynamicDefinition, Finding as DynamicFinding};

/// The dynamic pollster directories in the order they are read: `[DEFAULT]
/// pollsters_definitions_dirs` first, then `[polling] pollsters_definitions_dirs` (which
/// upstream ignores; we honour it), without duplicates.
pub fn dynamic_dirs(default_dirs: &[String], polling_dirs: &[String]) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = Vec::new();
    for d in default_dirs.iter().chain(polling_dirs) {
        let p = std::path::PathBuf::from(d);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Loads every dynamic pollster definition of `dirs` (see [`dynamic_dirs`]): the valid
/// definitions of the central namespace (first of each name) and every finding (already
/// logged; give them to `validate`). A broken file or definition is skipped, the others load.
pub fn load_dynamic(
    dirs: &[std::path::PathBuf],
) -> (Vec<dynamic::Definition>, Vec<dynamic::Finding>) {
    let l = dynamic::load_dirs(dirs);
    (l.definitions, l.findings)
}
