//! The polling engine and publisher factory from the configuration.

use std::sync::Arc;

use ceilometer_config::Loaded;

use crate::poller::Poller;

/// Build the polling engine of a configuration.
pub fn build_poller(_loaded: &Loaded) -> anyhow::Result<Arc<dyn Poller>> {
    anyhow::bail!("the polling engine is not wired in this build yet")
}

/// Build a publisher from its URL with the publisher factory.
pub fn build_publisher(loaded: &Loaded, url: &str) -> anyhow::Result<publisher::factory::Built> {
    let ctx = crate::outputs::context(loaded, None);
    publisher::factory::build(url, &ctx).map_err(|e| anyhow::anyhow!("{e}"))
}
