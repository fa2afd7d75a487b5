//! SNMP for the central agent: an async v2c/v3 client (over the `snmp2` crate) and the Kilo
//! `hardware.*` meters (spec `ceilometer-central.md` §3.5).
//!
//! - [`SnmpResource`] parses static `snmp://` resources and keeps credentials out of
//!   metadata, logs and `Debug` output.
//! - [`SnmpClient`] does GET and GETBULK walks with a per-request timeout and retries; a
//!   retry uses a fresh socket so a late reply is never mistaken for a new one.
//! - [`HardwarePoller`] polls the hardware meters of one host, bounded in concurrency across
//!   hosts, fully async: a dead agent costs `timeout × (retries + 1)` per request group and
//!   blocks nothing else.
#![forbid(unsafe_code)]

mod client;
pub mod hardware;
mod resource;

pub use client::{parse_oid, ClientOptions, OidVec, SnmpClient, SnmpError, SnmpValue};
pub use hardware::{Group, HardwarePoller, HostPoll, Meter, METERS};
pub use resource::{AuthProto, PrivProto, ResourceError, Security, SnmpResource};
