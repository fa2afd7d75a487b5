//! The `ceilometer-central` agent: wiring of coordination, partitioner, pollsters and
//! publishers into the service operators run on every controller. `main.rs` only boots.
#![forbid(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod cycle;
pub mod demo;
pub mod engine;
pub mod group_cmd;
pub mod logging;
pub mod metrics;
pub mod outputs;
pub mod poller;
pub mod ring_cmd;
pub mod router;
pub mod run;
pub mod service;
pub mod validate;

/// Percent-encode a URL component (userinfo, vhost).
pub fn publisher_url_encode(s: &str) -> String {
    publisher::url::percent_encode_strict(s)
}
