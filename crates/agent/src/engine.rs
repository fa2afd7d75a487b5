//! The polling engine and publisher factory from the configuration.

use std::sync::Arc;

use ceilometer_config::Loaded;

use crate::poller::{BoxFuture, CycleReport, CycleRequest, Owns, Poller, SampleBatch};

/// The engine settings of a configuration (shared by the pollers and Gnocchi's token source).
fn engine_config(loaded: &Loaded) -> pollsters::EngineConfig {
    let c = &loaded.conf;
    pollsters::EngineConfig {
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
    }
}

/// Build the polling engine of a configuration.
pub fn build_poller(loaded: &Loaded) -> anyhow::Result<Arc<dyn Poller>> {
    let c = &loaded.conf;
    // Dynamic pollsters from both [DEFAULT] and [polling] pollsters_definitions_dirs (upstream
    // reads only the former); invalid definitions are logged and skipped by the loader.
    let dirs = pollsters::dynamic_dirs(
        &c.default.pollsters_definitions_dirs,
        &c.polling.pollsters_definitions_dirs,
    );
    let (dynamic, _findings) = pollsters::load_dynamic(&dirs);
    let engine = pollsters::Engine::with_extras(
        engine_config(loaded),
        pollsters::RetryPolicy::default(),
        pollsters::EngineExtras {
            dynamic,
            snmp: pollsters::SnmpSettings::default(),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(EnginePoller {
        engine,
        keystone: std::sync::Mutex::new(None),
    }))
}

/// The pollsters engine behind the agent's [`Poller`] trait. Remembers whether the last
/// cycle could talk to Keystone, for `/readyz`.
struct EnginePoller {
    engine: pollsters::Engine,
    /// `(identity errors, Unix s)` of the last cycle; `None` before the first.
    keystone: std::sync::Mutex<Option<(usize, i64)>>,
}

impl Poller for EnginePoller {
    fn poll_cycle<'a>(
        &'a self,
        req: &'a CycleRequest,
        owns: Owns<'a>,
        out: &'a tokio::sync::mpsc::Sender<SampleBatch>,
    ) -> BoxFuture<'a, CycleReport> {
        Box::pin(async move {
            let r = self.engine.poll_cycle(req, owns, out).await;
            let errs = r.errors.get("identity").copied().unwrap_or(0);
            if let Ok(mut k) = self.keystone.lock() {
                *k = Some((errs, sample::Timestamp::now().unix_micros() / 1_000_000));
            }
            r
        })
    }

    fn health(&self) -> (bool, serde_json::Value) {
        match self.keystone.lock().ok().and_then(|k| *k) {
            None => (true, serde_json::json!("no cycle yet")),
            Some((0, at)) => (
                true,
                serde_json::json!({"last_cycle_unix_s": at, "identity_errors": 0}),
            ),
            Some((n, at)) => (
                false,
                serde_json::json!({"last_cycle_unix_s": at, "identity_errors": n}),
            ),
        }
    }
}

/// Build a publisher from its URL with the publisher factory.
pub fn build_publisher(loaded: &Loaded, url: &str) -> anyhow::Result<publisher::factory::Built> {
    let tokens = if url.trim_start().to_ascii_lowercase().starts_with("gnocchi") {
        let masked = ceilometer_config::mask_url(url);
        Some(token_source(loaded).map_err(|e| e.context(format!("publisher {masked}")))?)
    } else {
        None
    };
    let ctx = crate::outputs::context(loaded, tokens);
    publisher::factory::build(url, &ctx).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Meter names `polling.yaml` can select (built-in, hardware, and the dynamic definitions of
/// the configuration), and the findings about those definitions and about meter patterns
/// that select nothing. Dynamic names are only known after the configuration is loaded.
pub fn meter_checks(loaded: &Loaded) -> (Vec<String>, Vec<ceilometer_config::Diagnostic>) {
    let c = &loaded.conf;
    let dirs = pollsters::dynamic_dirs(
        &c.default.pollsters_definitions_dirs,
        &c.polling.pollsters_definitions_dirs,
    );
    let (defs, findings) = pollsters::load_dynamic(&dirs);
    let known = pollsters::known_meters(&defs);
    let k: Vec<&str> = known.iter().map(String::as_str).collect();
    let mut d: Vec<_> = findings.iter().map(|f| f.to_diagnostic()).collect();
    d.extend(ceilometer_config::polling::check_meters_known(
        &loaded.polling,
        &k,
    ));
    (known, d)
}

/// Keystone for the Gnocchi publisher, through the pollsters' session (`metric` endpoint).
struct GnocchiToken {
    identity: pollsters::Identity,
}

impl publisher::gnocchi::TokenSource for GnocchiToken {
    fn token(
        &self,
    ) -> publisher::BoxFuture<'_, Result<publisher::gnocchi::AuthToken, publisher::PublishError>>
    {
        Box::pin(async move {
            let token = self
                .identity
                .token()
                .await
                .map_err(publisher::PublishError::Retryable)?;
            let gnocchi_url = self
                .identity
                .endpoint("metric")
                .await
                .map_err(publisher::PublishError::Retryable)?
                .ok_or_else(|| {
                    publisher::PublishError::Retryable(
                        "no `metric` (Gnocchi) endpoint in the catalog".into(),
                    )
                })?;
            Ok(publisher::gnocchi::AuthToken { token, gnocchi_url })
        })
    }

    fn invalidate(&self) {
        let id = self.identity.clone();
        tokio::spawn(async move { id.invalidate().await });
    }

    fn project_id<'a>(
        &'a self,
        name: &'a str,
        domain: &'a str,
    ) -> publisher::BoxFuture<'a, Result<Option<String>, publisher::PublishError>> {
        Box::pin(async move {
            self.identity
                .project_id(name, domain)
                .await
                .map_err(publisher::PublishError::Retryable)
        })
    }
}

/// A Keystone token source for `gnocchi://` publishers.
pub fn token_source(loaded: &Loaded) -> anyhow::Result<Arc<dyn publisher::gnocchi::TokenSource>> {
    let engine =
        pollsters::Engine::new(engine_config(loaded)).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(GnocchiToken {
        identity: engine.identity(),
    }))
}
