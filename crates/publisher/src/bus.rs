//! The default destination: oslo.messaging notifications over AMQP 0-9-1 (RabbitMQ), exactly
//! as the Python polling agent sends them, so the notification agent consumes them unchanged.
//!
//! Wire format (spec `ceilometer-central.md` §6.3): exchange `ceilometer` (topic), routing key
//! `<topic>.sample` per `[oslo_messaging_notifications] topics`, a queue of the same name
//! declared and bound as oslo.messaging does, body
//! `{"oslo.version": "2.0", "oslo.message": "<json>"}` with Python's `json.dumps` text,
//! `application/json`, `utf-8`, delivery mode 2. Unlike oslo.messaging (which swallows
//! delivery errors), a batch counts as sent only when the broker confirms it.

use std::sync::atomic::{AtomicUsize, Ordering};

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use sample::{to_python_json, MeterForm, Timestamp};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::url::{option_bool, percent_decode};
use crate::{Batch, BoxFuture, PublishError, Publisher};

/// One broker of an oslo.messaging transport URL.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpHost {
    /// Host name or address.
    pub host: String,
    /// Port (5672, or 5671 with TLS, when not given).
    pub port: u16,
    /// User (`guest` when not given, as kombu).
    pub user: String,
    /// Password (`guest` when not given).
    pub password: String,
}

impl std::fmt::Debug for AmqpHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:***@{}:{}", self.user, self.host, self.port)
    }
}

/// `rabbit://user:pass@host1:port,user:pass@host2:port/vhost?options`, parsed as
/// oslo.messaging does: every host may carry its own credentials; the virtual host is the
/// percent-decoded path (empty means `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportUrl {
    /// Brokers, tried in order (failover).
    pub hosts: Vec<AmqpHost>,
    /// Virtual host.
    pub vhost: String,
    /// TLS (`?ssl=1`, or `[oslo_messaging_rabbit] ssl`).
    pub ssl: bool,
}

impl TransportUrl {
    /// Parse; errors name the part that is wrong and never contain the password.
    pub fn parse(url: &str) -> Result<TransportUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "transport URL has no scheme (expected rabbit://...)".to_owned())?;
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "rabbit" | "amqp" | "amqps" | "kombu") {
            return Err(format!(
                "transport URL scheme {scheme:?} is not supported (expected rabbit://)"
            ));
        }
        let (before_q, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (netloc, path) = match before_q.find('/') {
            Some(i) => (&before_q[..i], &before_q[i + 1..]),
            None => (before_q, ""),
        };
        let mut ssl = scheme == "amqps";
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if k == "ssl" {
                ssl = option_bool(v);
            }
        }
        let default_port = if ssl { 5671 } else { 5672 };
        let mut hosts = Vec::new();
        for part in netloc.split(',') {
            if part.is_empty() {
                continue;
            }
            let (userinfo, hostport) = match part.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, part),
            };
            let (user, password) = match userinfo {
                Some(u) => {
                    let (a, b) = u.split_once(':').unwrap_or((u, ""));
                    (percent_decode(a), percent_decode(b))
                }
                None => ("guest".to_owned(), "guest".to_owned()),
            };
            let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
                let (h, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("unterminated IPv6 address in host {hostport:?}"))?;
                (h.to_owned(), after.strip_prefix(':'))
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (h.to_owned(), Some(p)),
                    None => (hostport.to_owned(), None),
                }
            };
            let port = match port {
                None | Some("") => default_port,
                Some(p) => p
                    .parse()
                    .map_err(|_| format!("invalid port {p:?} for host {host:?}"))?,
            };
            if host.is_empty() {
                return Err("a host of the transport URL is empty".into());
            }
            hosts.push(AmqpHost {
                host,
                port,
                user,
                password,
            });
        }
        if hosts.is_empty() {
            hosts.push(AmqpHost {
                host: "localhost".into(),
                port: default_port,
                user: "guest".into(),
                password: "guest".into(),
            });
        }
        let vhost = percent_decode(path);
        Ok(TransportUrl {
            hosts,
            vhost: if vhost.is_empty() { "/".into() } else { vhost },
            ssl,
        })
    }

    fn amqp_uri(&self, h: &AmqpHost) -> String {
        let enc = crate::url::percent_encode_strict;
        format!(
            "{}://{}:{}@{}:{}/{}",
            if self.ssl { "amqps" } else { "amqp" },
            enc(&h.user),
            enc(&h.password),
            if h.host.contains(':') {
                format!("[{}]", h.host)
            } else {
                h.host.clone()
            },
            h.port,
            enc(&self.vhost)
        )
    }
}

/// TLS files of `[oslo_messaging_rabbit]` (`ssl_ca_file`, `ssl_cert_file`, `ssl_key_file`).
/// Verification is always on: without a CA file the system roots are used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AmqpTls {
    /// CA bundle (PEM) the broker's certificate must chain to.
    pub ca_file: Option<std::path::PathBuf>,
    /// Client certificate (PEM), for brokers that require one.
    pub cert_file: Option<std::path::PathBuf>,
    /// Client key (PEM, PKCS#8).
    pub key_file: Option<std::path::PathBuf>,
}

impl AmqpTls {
    fn owned(&self) -> Result<lapin::tcp::OwnedTLSConfig, String> {
        let read = |p: &std::path::Path, what: &str| {
            std::fs::read(p).map_err(|e| format!("cannot read {what} {}: {e}", p.display()))
        };
        let cert_chain = match &self.ca_file {
            Some(p) => Some(
                String::from_utf8(read(p, "ssl_ca_file")?)
                    .map_err(|_| format!("ssl_ca_file {} is not PEM", p.display()))?,
            ),
            None => None,
        };
        let identity = match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => Some(lapin::tcp::OwnedIdentity::PKCS8 {
                pem: read(c, "ssl_cert_file")?,
                key: read(k, "ssl_key_file")?,
            }),
            (None, None) => None,
            _ => return Err("ssl_cert_file and ssl_key_file must be set together".into()),
        };
        Ok(lapin::tcp::OwnedTLSConfig {
            identity,
            cert_chain,
        })
    }
}

/// Which notification this publisher sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// The polling agent's notification (Ceilometer ≥ Mitaka): event type
    /// `telemetry.polling`, publisher id `ceilometer.polling`, payload `{"samples": [...]}`.
    Polling,
    /// A `notifier://` pipeline publisher (Kilo's central agent; the notification agent
    /// since): publisher id `telemetry.publisher.<host>`, payload a bare list of meter dicts.
    Notifier {
        /// `[DEFAULT] host`.
        host: String,
        /// The event type: `[publisher_notifier] metering_topic` (`metering`). Upstream
        /// names the event after this option whatever the URL's `topic=` says.
        event_type: String,
        /// `per_meter_topic=1`: besides the batch, one notification per meter name of the
        /// batch (sorted by name, as upstream groups them) with event type
        /// `<event_type>.<meter>`, on the same topics, so consumers can bind per meter.
        per_meter_topic: bool,
    },
}

/// Everything the bus publisher needs.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Brokers and virtual host.
    pub transport: TransportUrl,
    /// Exchange (`ceilometer`).
    pub exchange: String,
    /// Topics; each gets `<topic>.sample`.
    pub topics: Vec<String>,
    /// `[oslo_messaging_rabbit] amqp_durable_queues`.
    pub durable: bool,
    /// Which notification.
    pub notification: Notification,
    /// `[publisher] telemetry_secret`.
    pub secret: String,
    /// Meter dict generation (Kilo collectors verify Python 2 signatures).
    pub meter_form: MeterForm,
    /// Name for logs and metrics (masked).
    pub name: String,
    /// TLS files (used when the transport URL asks for TLS).
    pub tls: AmqpTls,
}

/// The AMQP body of one notification: `{"oslo.version": "2.0", "oslo.message": "..."}`,
/// byte for byte what oslo.messaging + kombu produce.
pub fn envelope(
    message_id: &str,
    publisher_id: &str,
    event_type: &str,
    payload: Value,
    timestamp: Timestamp,
    unique_id: &str,
) -> Vec<u8> {
    let mut inner = Map::new();
    inner.insert("message_id".into(), Value::String(message_id.into()));
    inner.insert("publisher_id".into(), Value::String(publisher_id.into()));
    inner.insert("event_type".into(), Value::String(event_type.into()));
    inner.insert("priority".into(), Value::String("SAMPLE".into()));
    inner.insert("payload".into(), payload);
    inner.insert("timestamp".into(), Value::String(timestamp.python_str()));
    inner.insert("_unique_id".into(), Value::String(unique_id.into()));
    let mut outer = Map::new();
    outer.insert("oslo.version".into(), Value::String("2.0".into()));
    outer.insert("oslo.message".into(), Value::String(to_python_json(&inner)));
    to_python_json(&outer).into_bytes()
}

struct Link {
    conn: Connection,
    channel: Channel,
}

/// Publishes batches as oslo notifications, with broker confirms and host failover.
pub struct BusPublisher {
    cfg: BusConfig,
    link: Mutex<Option<Link>>,
    next_host: AtomicUsize,
}

impl BusPublisher {
    /// Create; connects lazily on the first batch (a broker down at start-up is an outage
    /// like any other, not a start-up failure).
    pub fn new(cfg: BusConfig) -> BusPublisher {
        BusPublisher {
            cfg,
            link: Mutex::new(None),
            next_host: AtomicUsize::new(0),
        }
    }

    /// The notifications of one batch: `(event type, publisher id, payload)`, in sending
    /// order.
    fn notifications(&self, batch: &Batch) -> Vec<(String, String, Value)> {
        let dicts: Vec<Value> = batch
            .samples
            .iter()
            .map(|s| Value::Object(s.meter_message(&self.cfg.secret, self.cfg.meter_form, None)))
            .collect();
        match &self.cfg.notification {
            Notification::Polling => {
                let mut p = Map::new();
                p.insert("samples".into(), Value::Array(dicts));
                vec![(
                    "telemetry.polling".into(),
                    "ceilometer.polling".into(),
                    Value::Object(p),
                )]
            }
            Notification::Notifier {
                host,
                event_type,
                per_meter_topic,
            } => {
                let publisher_id = format!("telemetry.publisher.{host}");
                let mut out = Vec::new();
                if *per_meter_topic {
                    // `itertools.groupby(sorted(meters, key=counter_name))`: a stable sort, so
                    // each group keeps the batch's order.
                    let mut by_name: Vec<(&str, &Value)> =
                        batch.samples.iter().map(|s| &*s.name).zip(&dicts).collect();
                    by_name.sort_by(|a, b| a.0.cmp(b.0));
                    let mut groups: Vec<(&str, Vec<Value>)> = Vec::new();
                    for (name, d) in by_name {
                        match groups.last_mut() {
                            Some((n, g)) if *n == name => g.push(d.clone()),
                            _ => groups.push((name, vec![d.clone()])),
                        }
                    }
                    out.reserve(groups.len() + 1);
                    out.push((
                        event_type.clone(),
                        publisher_id.clone(),
                        Value::Array(dicts),
                    ));
                    for (name, group) in groups {
                        out.push((
                            format!("{event_type}.{name}"),
                            publisher_id.clone(),
                            Value::Array(group),
                        ));
                    }
                } else {
                    out.push((event_type.clone(), publisher_id, Value::Array(dicts)));
                }
                out
            }
        }
    }

    async fn connect(&self) -> Result<Link, PublishError> {
        let hosts = &self.cfg.transport.hosts;
        let start = self.next_host.load(Ordering::Relaxed);
        let mut last = String::new();
        for i in 0..hosts.len() {
            let idx = (start + i) % hosts.len();
            let h = &hosts[idx];
            let uri = self.cfg.transport.amqp_uri(h);
            let connecting = async {
                if self.cfg.transport.ssl {
                    let tls = self
                        .cfg
                        .tls
                        .owned()
                        .map_err(|e| lapin::Error::from(std::io::Error::other(e)))?;
                    let rt = lapin::runtime::default_runtime()?;
                    Connection::connect_with_config(&uri, ConnectionProperties::default(), tls, rt)
                        .await
                } else {
                    Connection::connect(&uri, ConnectionProperties::default()).await
                }
            };
            let conn =
                match tokio::time::timeout(std::time::Duration::from_secs(10), connecting).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        last = format!(
                            "{}:{}: {e}{}",
                            h.host,
                            h.port,
                            self.tls_hint(&e.to_string())
                        );
                        continue;
                    }
                    Err(_) => {
                        last = format!("{}:{}: connection timed out", h.host, h.port);
                        continue;
                    }
                };
            let link = self.setup(conn).await.map_err(|e| {
                PublishError::Retryable(format!(
                    "{}:{}: setting up the channel: {e}",
                    h.host, h.port
                ))
            })?;
            self.next_host.store(idx, Ordering::Relaxed);
            tracing::info!(publisher = %self.cfg.name, broker = %format!("{}:{}", h.host, h.port), "Connected to the message bus.");
            return Ok(link);
        }
        // Next time start from the following host (failover).
        self.next_host
            .store((start + 1) % hosts.len().max(1), Ordering::Relaxed);
        Err(PublishError::Retryable(format!(
            "no broker reachable: {last}"
        )))
    }

    /// What a failed TLS connection means for the operator. "received fatal alert" is the
    /// broker refusing us, and its certificate alerts are about our client certificate. With
    /// TLS 1.3 the broker checks the client certificate after our side of the handshake is
    /// done, so its alert can also be lost in a connection reset.
    fn tls_hint(&self, err: &str) -> String {
        if !self.cfg.transport.ssl {
            return String::new();
        }
        let alert = err
            .split_once("received fatal alert: ")
            .map(|(_, a)| a.trim());
        let reset = [
            "Connection reset",
            "UnexpectedEof",
            "unexpected end of file",
            "Broken pipe",
        ]
        .iter()
        .any(|m| err.contains(m));
        let cert_alert = matches!(
            alert,
            Some(
                "CertificateRequired"
                    | "HandshakeFailure"
                    | "BadCertificate"
                    | "UnsupportedCertificate"
                    | "CertificateRevoked"
                    | "CertificateExpired"
                    | "CertificateUnknown"
                    | "UnknownCA"
                    | "AccessDenied"
            )
        );
        match (&self.cfg.tls.cert_file, cert_alert, reset) {
            (None, true, _) => " (the broker requires a client certificate: set [oslo_messaging_rabbit] ssl_cert_file and ssl_key_file)".into(),
            (Some(cert), true, _) => format!(
                " (the broker refused the client certificate {} of [oslo_messaging_rabbit] ssl_cert_file)",
                cert.display()
            ),
            (None, false, true) => " (the broker closed the TLS connection; a broker that requires client certificates does so: set [oslo_messaging_rabbit] ssl_cert_file and ssl_key_file)".into(),
            (Some(cert), false, true) => format!(
                " (the broker closed the TLS connection; a broker that requires client certificates does so when it refuses ours: check the client certificate {} of [oslo_messaging_rabbit] ssl_cert_file)",
                cert.display()
            ),
            _ => String::new(),
        }
    }

    async fn setup(&self, conn: Connection) -> Result<Link, lapin::Error> {
        let channel = conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let durable = self.cfg.durable;
        channel
            .exchange_declare(
                self.cfg.exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        for key in self.routing_keys() {
            // oslo.messaging declares a queue named after the routing key for notifications,
            // so samples wait for the notification agent even before it starts.
            channel
                .queue_declare(
                    key.as_str().into(),
                    QueueDeclareOptions {
                        durable,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_bind(
                    key.as_str().into(),
                    self.cfg.exchange.as_str().into(),
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(Link { conn, channel })
    }

    fn routing_keys(&self) -> Vec<String> {
        self.cfg
            .topics
            .iter()
            .map(|t| format!("{t}.sample"))
            .collect()
    }

    async fn send(&self, link: &Link, batch: &Batch) -> Result<(), PublishError> {
        let now = Timestamp::now();
        let mut confirms = Vec::new();
        for (event_type, publisher_id, payload) in self.notifications(batch) {
            // One oslo notification (one message id) per event, sent to every topic.
            let message_id = uuid::Uuid::new_v4().hyphenated().to_string();
            for key in self.routing_keys() {
                let unique = uuid::Uuid::new_v4().simple().to_string();
                let body = envelope(
                    &message_id,
                    &publisher_id,
                    &event_type,
                    payload.clone(),
                    now,
                    &unique,
                );
                let props = BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_content_encoding("utf-8".into())
                    .with_delivery_mode(2)
                    .with_headers(FieldTable::default());
                let confirm = link
                    .channel
                    .basic_publish(
                        self.cfg.exchange.as_str().into(),
                        key.as_str().into(),
                        BasicPublishOptions::default(),
                        &body,
                        props,
                    )
                    .await
                    .map_err(|e| PublishError::Retryable(format!("publish: {e}")))?;
                confirms.push(confirm);
            }
        }
        for c in confirms {
            let conf = c.await.map_err(|e| {
                PublishError::Retryable(format!("waiting for the broker's confirm: {e}"))
            })?;
            if !conf.is_ack() {
                return Err(PublishError::Retryable(
                    "the broker refused the message (nack)".into(),
                ));
            }
        }
        Ok(())
    }
}

impl Publisher for BusPublisher {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let mut guard = self.link.lock().await;
            if guard
                .as_ref()
                .is_some_and(|l| !l.conn.status().connected() || !l.channel.status().connected())
            {
                *guard = None;
            }
            if guard.is_none() {
                *guard = Some(self.connect().await?);
            }
            let Some(link) = guard.as_ref() else {
                return Err(PublishError::Retryable("not connected".into()));
            };
            let r = self.send(link, batch).await;
            if r.is_err() {
                // Reconnect (maybe to another broker) before the next attempt.
                if let Some(l) = guard.take() {
                    let _ = l.conn.close(200, "reconnecting".into()).await;
                }
            }
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn transport_urls_as_oslo_reads_them() {
        let t = TransportUrl::parse(
            "rabbit://nova:p%40ss@10.0.0.1:5673,nova:pw2@[fd00::2]/ceilo?ssl=1",
        )
        .unwrap();
        assert_eq!(t.hosts.len(), 2);
        assert_eq!(
            (
                t.hosts[0].host.as_str(),
                t.hosts[0].port,
                t.hosts[0].password.as_str()
            ),
            ("10.0.0.1", 5673, "p@ss")
        );
        assert_eq!(
            (t.hosts[1].host.as_str(), t.hosts[1].port),
            ("fd00::2", 5671)
        );
        assert_eq!(t.vhost, "ceilo");
        assert!(t.ssl);
        let t = TransportUrl::parse("rabbit://").unwrap();
        assert_eq!(
            (t.hosts[0].host.as_str(), t.hosts[0].port, t.vhost.as_str()),
            ("localhost", 5672, "/")
        );
        let e = TransportUrl::parse("rabbit://u:secretpw@h:notaport/").unwrap_err();
        assert!(e.contains("invalid port") && !e.contains("secretpw"), "{e}");
        assert!(TransportUrl::parse("kafka://h").is_err());
        assert!(!format!(
            "{:?}",
            TransportUrl::parse("rabbit://u:hunter2@h/").unwrap()
        )
        .contains("hunter2"));
    }

    #[test]
    fn envelope_bytes_are_what_oslo_messaging_sends() {
        // The text CPython prints for json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)})
        // with this inner dict, as oslo.messaging's serialize_msg and kombu build it.
        let body = envelope(
            "6d6972f6-0000-4000-8000-000000000001",
            "ceilometer.polling",
            "telemetry.polling",
            json!({"samples": [{"counter_name": "storage.objects", "counter_volume": 3, "user_id": null}]}),
            Timestamp::from_unix_micros(1_795_607_875_365_729),
            "0123456789abcdef0123456789abcdef",
        );
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"oslo.version": "2.0", "oslo.message": "{\"message_id\": \"6d6972f6-0000-4000-8000-000000000001\", "#,
                r#"\"publisher_id\": \"ceilometer.polling\", \"event_type\": \"telemetry.polling\", \"priority\": \"SAMPLE\", "#,
                r#"\"payload\": {\"samples\": [{\"counter_name\": \"storage.objects\", \"counter_volume\": 3, \"user_id\": null}]}, "#,
                r#"\"timestamp\": \"2026-11-25 11:57:55.365729\", \"_unique_id\": \"0123456789abcdef0123456789abcdef\"}"}"#
            )
        );
    }

    fn named(name: &str, i: i64) -> sample::Sample {
        sample::Sample {
            name: name.to_owned().into(),
            sample_type: sample::SampleType::Gauge,
            unit: "B".into(),
            volume: sample::Volume::Int(i),
            user_id: None,
            user_name: None,
            project_id: Some("p".into()),
            project_name: None,
            resource_id: format!("r{i}"),
            timestamp: Timestamp::from_unix_micros(1_700_000_000_000_000),
            resource_metadata: sample::Metadata::new(),
            source: "openstack".into(),
            id: format!("id-{i}"),
            monotonic_time: None,
        }
    }

    fn notifier(per_meter_topic: bool) -> BusPublisher {
        BusPublisher::new(BusConfig {
            transport: TransportUrl::parse("rabbit://").unwrap(),
            exchange: "ceilometer".into(),
            topics: vec!["metering".into()],
            durable: false,
            notification: Notification::Notifier {
                host: "ctl".into(),
                event_type: "metering".into(),
                per_meter_topic,
            },
            secret: "s".into(),
            meter_form: MeterForm::Kilo,
            name: "n".into(),
            tls: AmqpTls::default(),
        })
    }

    #[test]
    fn per_meter_topic_adds_one_notification_per_meter_sorted_by_name() {
        let batch = Batch {
            samples: vec![
                named("storage.objects.size", 1),
                named("storage.objects", 2),
                named("storage.objects.size", 3),
                named("image.size", 4),
            ],
        };
        let volumes = |v: &Value| -> Vec<i64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|d| d["counter_volume"].as_i64().unwrap())
                .collect()
        };
        let n = notifier(true).notifications(&batch);
        let got: Vec<(&str, &str, Vec<i64>)> = n
            .iter()
            .map(|(e, p, v)| (e.as_str(), p.as_str(), volumes(v)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("metering", "telemetry.publisher.ctl", vec![1, 2, 3, 4]),
                ("metering.image.size", "telemetry.publisher.ctl", vec![4]),
                (
                    "metering.storage.objects",
                    "telemetry.publisher.ctl",
                    vec![2]
                ),
                (
                    "metering.storage.objects.size",
                    "telemetry.publisher.ctl",
                    vec![1, 3]
                ),
            ]
        );
        // The per-meter copies are the same signed dicts.
        assert_eq!(n[3].2[1], n[0].2[2]);
        let plain = notifier(false).notifications(&batch);
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].0, "metering");
    }

    #[test]
    fn tls_refusals_name_the_option_to_check() {
        let mk = |ssl: bool, cert: Option<&str>| {
            let mut cfg = notifier(false).cfg;
            cfg.transport.ssl = ssl;
            cfg.tls.cert_file = cert.map(std::path::PathBuf::from);
            BusPublisher::new(cfg)
        };
        let alert = "IO error: received fatal alert: CertificateRequired";
        let reset = "IO error: Connection reset by peer (os error 104)";
        assert!(mk(true, None)
            .tls_hint(alert)
            .contains("requires a client certificate: set [oslo_messaging_rabbit] ssl_cert_file"));
        assert!(mk(true, None)
            .tls_hint(reset)
            .contains("ssl_cert_file and ssl_key_file"));
        assert!(mk(true, Some("/etc/c.pem"))
            .tls_hint("IO error: received fatal alert: UnknownCA")
            .contains("refused the client certificate /etc/c.pem"));
        assert!(mk(true, Some("/etc/c.pem"))
            .tls_hint(reset)
            .contains("/etc/c.pem"));
        // Not TLS, or not about certificates: nothing to add.
        assert_eq!(mk(false, None).tls_hint(reset), "");
        assert_eq!(mk(true, None).tls_hint("IO error: Connection refused"), "");
    }
}
