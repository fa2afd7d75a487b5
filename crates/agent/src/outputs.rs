//! Publishers from the configuration: where samples go.
//!
//! polling.yaml: the oslo.messaging bus (unless `[polling] enable_notifications = false`), plus
//! `[ceilometer_central] publishers`. Kilo pipeline.yaml: each sink's publishers, `notifier://`
//! being the Kilo bus form.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ceilometer_config::{mask_url, DefinitionFormat, Loaded, MeterDictForm};
use publisher::bus::{BusConfig, BusPublisher, Notification, TransportUrl};
use publisher::{Backoff, Delivery, DeliveryConfig, Publisher};
use sample::MeterForm;

use crate::router::{Output, Router, SourceRoute};

/// The transport URL oslo.messaging would use for notifications.
pub fn notification_transport(loaded: &Loaded) -> String {
    let c = &loaded.conf;
    if let Some(u) = c
        .notifications
        .transport_url
        .clone()
        .or_else(|| c.default.transport_url.clone())
    {
        return u;
    }
    // Kilo: rabbit_hosts / rabbit_userid / rabbit_password / rabbit_virtual_host.
    if !c.rabbit.rabbit_hosts.is_empty() {
        let user =
            crate::publisher_url_encode(c.rabbit.rabbit_userid.as_deref().unwrap_or("guest"));
        let pass =
            crate::publisher_url_encode(c.rabbit.rabbit_password.as_deref().unwrap_or("guest"));
        let hosts: Vec<String> = c
            .rabbit
            .rabbit_hosts
            .iter()
            .map(|h| format!("{user}:{pass}@{h}"))
            .collect();
        let vhost = c
            .rabbit
            .rabbit_virtual_host
            .as_deref()
            .unwrap_or("/")
            .trim_start_matches('/');
        return format!(
            "rabbit://{}/{}",
            hosts.join(","),
            crate::publisher_url_encode(vhost)
        );
    }
    "rabbit://".to_owned()
}

fn delivery_config(loaded: &Loaded, name: &str) -> DeliveryConfig {
    let c = &loaded.conf;
    let spool_dir = c.central.spool_dir.as_ref().map(|root| {
        // One directory per publisher, named after a stable hash of its (masked) URL.
        let h = partitioner::key_position(name.as_bytes());
        PathBuf::from(root).join(format!("{:016x}", (h >> 64) as u64))
    });
    let r = &c.rabbit;
    let backoff = Backoff::new(
        Duration::from_secs_f64(r.rabbit_retry_interval.max(0.05)),
        Duration::from_secs_f64(r.rabbit_interval_max.max(r.rabbit_retry_interval.max(0.05))),
    )
    .unwrap_or_else(|| DeliveryConfig::default().backoff);
    DeliveryConfig {
        max_queue_length: c.central.max_queue_length,
        spool_dir,
        spool_max_bytes: c.central.spool_max_mb << 20,
        backoff,
        ..DeliveryConfig::default()
    }
}

fn spawn(loaded: &Loaded, p: Arc<dyn Publisher>) -> anyhow::Result<Output> {
    let name = p.name().to_owned();
    let cfg = delivery_config(loaded, &name);
    spawn_with(p, cfg)
}

fn spawn_with(p: Arc<dyn Publisher>, mut cfg: DeliveryConfig) -> anyhow::Result<Output> {
    let name = p.name().to_owned();
    let delivery = match Delivery::spawn(p.clone(), cfg.clone()) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(publisher = %name, spool = ?cfg.spool_dir, error = %e,
                "Cannot open the spool directory; this publisher runs with its memory queue only.");
            cfg.spool_dir = None;
            Delivery::spawn(p, cfg).with_context(|| format!("starting publisher {name}"))?
        }
    };
    Ok(Output {
        name,
        delivery: Arc::new(delivery),
    })
}

fn bus(
    loaded: &Loaded,
    transport: &str,
    notification: Notification,
    topics: Vec<String>,
    form: MeterForm,
) -> anyhow::Result<Arc<dyn Publisher>> {
    let c = &loaded.conf;
    let mut t = TransportUrl::parse(transport)
        .map_err(|e| anyhow::anyhow!("transport URL {}: {e}", mask_url(transport)))?;
    t.ssl |= c.rabbit.ssl;
    let kind = match notification {
        Notification::Polling => "bus",
        Notification::Notifier { .. } => "notifier",
    };
    Ok(Arc::new(BusPublisher::new(BusConfig {
        transport: t,
        exchange: c.default.control_exchange.clone(),
        topics,
        durable: c.rabbit.amqp_durable_queues,
        notification,
        secret: c.publisher.telemetry_secret.clone(),
        meter_form: form,
        name: format!("{kind} {}", mask_url(transport)),
        tls: amqp_tls(loaded),
    })))
}

/// The meter dict generation of this configuration: `[ceilometer_central] meter_form`, else
/// Kilo for a Kilo/Liberty pipeline.yaml (whose collector verifies Python 2 signatures) and
/// modern for polling.yaml.
pub fn meter_form(loaded: &Loaded) -> MeterForm {
    match (loaded.conf.central.meter_form, loaded.polling.format) {
        (Some(MeterDictForm::Modern), _) => MeterForm::Modern,
        (Some(MeterDictForm::Kilo), _) => MeterForm::Kilo,
        (None, DefinitionFormat::KiloPipeline) => MeterForm::Kilo,
        (None, DefinitionFormat::Polling) => MeterForm::Modern,
    }
}

/// `[oslo_messaging_rabbit]` TLS files.
fn amqp_tls(loaded: &Loaded) -> publisher::bus::AmqpTls {
    let r = &loaded.conf.rabbit;
    publisher::bus::AmqpTls {
        ca_file: r.ssl_ca_file.as_ref().map(PathBuf::from),
        cert_file: r.ssl_cert_file.as_ref().map(PathBuf::from),
        key_file: r.ssl_key_file.as_ref().map(PathBuf::from),
    }
}

/// Build a publisher from its URL (the publisher factory, with the agent's context).
pub type Factory = dyn Fn(&Loaded, &str) -> anyhow::Result<publisher::factory::Built> + Send + Sync;

/// The factory context of a configuration.
pub fn context(
    loaded: &Loaded,
    token_source: Option<Arc<dyn publisher::gnocchi::TokenSource>>,
) -> publisher::factory::PublisherContext {
    let c = &loaded.conf;
    let mut delivery = delivery_config(loaded, "");
    delivery.spool_dir = None;
    publisher::factory::PublisherContext {
        secret: c.publisher.telemetry_secret.clone(),
        host: c.default.host.clone(),
        meter_form: meter_form(loaded),
        token_source,
        spool_root: c.central.spool_dir.as_ref().map(PathBuf::from),
        transport_url: notification_transport(loaded),
        exchange: c.default.control_exchange.clone(),
        metering_topic: c.publisher_notifier.metering_topic.clone(),
        durable: c.rabbit.amqp_durable_queues,
        delivery,
        amqp_tls: amqp_tls(loaded),
        amqp_ssl: c.rabbit.ssl,
    }
}

/// The publishers of the configuration, as a router.
pub fn build_router(loaded: &Loaded, factory: &Factory) -> anyhow::Result<Router> {
    let c = &loaded.conf;
    match loaded.polling.format {
        DefinitionFormat::Polling => {
            let mut outputs = Vec::new();
            if c.polling.enable_notifications {
                let p = bus(
                    loaded,
                    &notification_transport(loaded),
                    Notification::Polling,
                    c.notifications.topics.clone(),
                    meter_form(loaded),
                )?;
                outputs.push(spawn(loaded, p)?);
            }
            for url in &c.central.publishers {
                let b = factory(loaded, url)?;
                outputs.push(spawn_with(b.publisher, b.delivery)?);
            }
            if outputs.is_empty() {
                tracing::warn!("No publisher: enable_notifications is false and [ceilometer_central] publishers is empty; samples go nowhere.");
            }
            Ok(Router::broadcast(outputs))
        }
        DefinitionFormat::KiloPipeline => {
            let mut outputs = Vec::new();
            let mut by_sink: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for sink in &loaded.polling.sinks {
                for url in &sink.publishers {
                    // notifier:// is the Kilo bus form (event type = metering_topic, bare list
                    // payload), with Kilo meter dicts unless meter_form says otherwise.
                    let b = factory(loaded, url)?;
                    by_sink
                        .entry(sink.name.clone())
                        .or_default()
                        .push(outputs.len());
                    outputs.push(spawn_with(b.publisher, b.delivery)?);
                }
            }
            let routes = loaded
                .polling
                .sources
                .iter()
                .map(|s| {
                    let outs = s
                        .sinks
                        .iter()
                        .flat_map(|k| by_sink.get(k).cloned().unwrap_or_default())
                        .collect();
                    (
                        s.name.clone(),
                        SourceRoute {
                            meters: s.meters.clone(),
                            outputs: outs,
                        },
                    )
                })
                .collect();
            Ok(Router::kilo(outputs, routes))
        }
    }
}
