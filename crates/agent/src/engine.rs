//! The polling engine and publisher factory from the configuration.

use std::sync::Arc;

use ceilometer_config::Loaded;

use crate::poller::{BoxFuture, CycleReport, CycleRequest, Owns, Poller, SampleBatch};

/// Build the polling engine of a configuration.
pub fn build_poller(loaded: &Loaded) -> anyhow::Result<Arc<dyn Poller>> {
    let c = &loaded.conf;
    let engine = pollsters::Engine::new(pollsters::EngineConfig {
        credentials: c.service_credentials.clone(),
        service_types: c.service_types.clone(),
        rgw_admin: c.rgw_admin_credentials.clone(),
        rgw_client: c.rgw_client.clone(),
        reseller_prefix: c.default.reseller_prefix.clone(),
        sample_source: c.default.sample_source.clone(),
        ignore_disabled_projects: c.polling.ignore_disabled_projects,
        api_concurrency: c.central.api_concurrency as usize,
        api_timeout: c
            .service_credentials
            .timeout
            .unwrap_or(c.central.api_timeout),
        user_agent: format!("ceilometer-central/{}", env!("CARGO_PKG_VERSION")),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(EnginePoller(engine)))
}

/// The pollsters engine behind the agent's [`Poller`] trait.
struct EnginePoller(pollsters::Engine);

impl Poller for EnginePoller {
    fn poll_cycle<'a>(
        &'a self,
        req: &'a CycleRequest,
        owns: Owns<'a>,
        out: &'a tokio::sync::mpsc::Sender<SampleBatch>,
    ) -> BoxFuture<'a, CycleReport> {
        Box::pin(self.0.poll_cycle(req, owns, out))
    }
}

/// Build a publisher from its URL with the publisher factory.
pub fn build_publisher(loaded: &Loaded, url: &str) -> anyhow::Result<publisher::factory::Built> {
    let ctx = crate::outputs::context(loaded, None);
    publisher::factory::build(url, &ctx).map_err(|e| anyhow::anyhow!("{e}"))
}
