//! The `ceilometer-central` agent: wiring of coordination, partitioner, pollsters and
//! publishers into the service operators run on every controller. `main.rs` only boots.
#![forbid(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod cycle;
pub mod group_cmd;
pub mod logging;
pub mod metrics;
pub mod poller;
pub mod ring_cmd;
pub mod router;
pub mod service;
pub mod validate;
