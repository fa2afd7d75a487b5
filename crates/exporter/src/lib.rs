//! Prometheus exporter of the samples this agent polled (`[polling]
//! enable_prometheus_exporter`, spec §5 and §6.5; issue 11).
//!
//! Each agent serves the latest value of every sample of its own share (plus takeovers) from
//! the last completed cycle of each interval, so scraping every agent of a partitioned group
//! yields each series exactly once, and a scrape only copies text rendered when the cycle
//! ended: it never waits on polling or on OpenStack.
//!
//! Differences from upstream's `polling/prom_exporter.py`, on purpose:
//! - one label set per metric family, fixed by the meter name (absent fields are empty
//!   strings, which Prometheus treats as absent labels), so no sample is ever rejected;
//! - a cycle's series replace the previous cycle's atomically when it ends, instead of
//!   being unregistered at the start of a pollster's run (series no longer vanish between
//!   the purge and the re-collect);
//! - metric names also replace `-` and other invalid characters, not only `.`;
//! - a HELP text with the meter and its unit, and the sample's timestamp on every line.
//!
//! The agent calls [`Exporter::begin_cycle`], [`Exporter::observe`] and
//! [`Exporter::end_cycle`]; [`serve`] runs the listeners.

pub mod labels;
mod serve;
mod store;

pub use serve::{
    respond, serve, tls_config, Either, ExporterSettings, Listener, ServeError, TlsFiles,
};
pub use store::{Exporter, ExporterStats, Format, MetricsBody};
