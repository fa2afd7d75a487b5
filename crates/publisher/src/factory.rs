//! Publisher URLs → publishers: the pipeline's `publishers:` list (Kilo) or the agent's
//! configuration names destinations by URL, as upstream's stevedore lookup by scheme does.
//!
//! Every publisher here runs behind its own [`crate::Delivery`] worker, so the delivery
//! options `policy`, `max_queue_length` and `max_retry` are taken out of every URL (upstream
//! reads them for `notifier://` only); all other options are per scheme, and what is not an
//! option stays in the target URL. Errors name the URL with its password masked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sample::MeterForm;

use crate::bus::{BusConfig, BusPublisher, Notification, TransportUrl};
use crate::file::{FileConfig, FilePublisher};
use crate::gnocchi::{GnocchiConfig, GnocchiPublisher, TokenSource};
use crate::http::{HttpConfig, HttpPublisher, HttpSettings, Verify};
use crate::prometheus::PrometheusPublisher;
use crate::udp::{TcpPublisher, UdpPublisher, DEFAULT_PORT};
use crate::url::{option_bool, PublisherUrl};
use crate::{DeliveryConfig, Policy, Publisher};

/// The schemes [`build`] knows.
pub const SCHEMES: &[&str] = &[
    "notifier",
    "http",
    "https",
    "udp",
    "tcp",
    "file",
    "prometheus",
    "gnocchi",
];

/// What the agent knows that publisher URLs do not say.
#[derive(Clone)]
pub struct PublisherContext {
    /// `[publisher] telemetry_secret`.
    pub secret: String,
    /// `[DEFAULT] host` (TCP `publisher_id`, Kilo notifier publisher id).
    pub host: String,
    /// Meter dict generation of the publishers that send meter dicts (`notifier://`,
    /// `udp://`, `tcp://`) unless their URL says `meter_form=modern|kilo`: Python-2 Kilo
    /// collectors verify signatures and need [`MeterForm::Kilo`].
    pub meter_form: MeterForm,
    /// Keystone for `gnocchi://`; without one, a gnocchi URL is refused.
    pub token_source: Option<Arc<dyn TokenSource>>,
    /// Where spools live: each publisher gets `<root>/<hash of its masked URL>`.
    pub spool_root: Option<PathBuf>,
    /// `[DEFAULT] transport_url`, for a `notifier://` without host.
    pub transport_url: String,
    /// `[DEFAULT] control_exchange` (`ceilometer`).
    pub exchange: String,
    /// `[publisher_notifier] metering_topic` (`metering`), for a `notifier://` without topic.
    pub metering_topic: String,
    /// `[oslo_messaging_rabbit] amqp_durable_queues`.
    pub durable: bool,
    /// Delivery defaults (backoff, spool bound, queue length) the URL options refine.
    pub delivery: DeliveryConfig,
    /// `[oslo_messaging_rabbit]` TLS files for `notifier://` publishers.
    pub amqp_tls: crate::bus::AmqpTls,
    /// `[oslo_messaging_rabbit] ssl`: TLS for every `notifier://` transport, as oslo.messaging
    /// applies it (a transport URL's `?ssl=` can only turn it on).
    pub amqp_ssl: bool,
}

impl Default for PublisherContext {
    fn default() -> Self {
        PublisherContext {
            secret: "change this for valid signing".into(),
            host: "localhost".into(),
            meter_form: MeterForm::Modern,
            token_source: None,
            spool_root: None,
            transport_url: "rabbit://guest:guest@localhost:5672/".into(),
            exchange: "ceilometer".into(),
            metering_topic: "metering".into(),
            durable: false,
            delivery: DeliveryConfig::default(),
            amqp_tls: crate::bus::AmqpTls::default(),
            amqp_ssl: false,
        }
    }
}

/// The concrete publisher behind a [`Built`], for its own counters.
#[derive(Clone)]
pub enum Concrete {
    /// `notifier://`.
    Notifier(Arc<BusPublisher>),
    /// `http://`, `https://`.
    Http(Arc<HttpPublisher>),
    /// `udp://`.
    Udp(Arc<UdpPublisher>),
    /// `tcp://`.
    Tcp(Arc<TcpPublisher>),
    /// `file://`.
    File(Arc<FilePublisher>),
    /// `prometheus://`.
    Prometheus(Arc<PrometheusPublisher>),
    /// `gnocchi://`.
    Gnocchi(Arc<GnocchiPublisher>),
}

/// A publisher ready to be handed to [`crate::Delivery::spawn`].
pub struct Built {
    /// The publisher.
    pub publisher: Arc<dyn Publisher>,
    /// Its delivery settings (policy, queue length, spool directory).
    pub delivery: DeliveryConfig,
    /// The URL with any password masked, for logs and metrics.
    pub name: String,
    /// The same publisher, typed.
    pub concrete: Concrete,
}

/// A publisher URL that cannot be used. Messages carry the masked URL only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublisherUrlError {
    /// No publisher for this scheme.
    #[error("publisher {url}: unknown scheme {scheme:?}; supported: {supported}")]
    UnknownScheme {
        /// Masked URL.
        url: String,
        /// The scheme.
        scheme: String,
        /// Comma-separated list of [`SCHEMES`].
        supported: String,
    },
    /// An option has a value that cannot be used.
    #[error("publisher {url}: option {option}={value:?}: {why}")]
    BadOption {
        /// Masked URL.
        url: String,
        /// Option name.
        option: String,
        /// Its value.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// Something else is wrong (missing host or path, unreadable certificate, ...).
    #[error("publisher {url}: {why}")]
    Invalid {
        /// Masked URL.
        url: String,
        /// What is wrong.
        why: String,
    },
}

/// A short stable hash of `s` (FNV-1a 64, hex): names a spool directory that must be the
/// same in the next run, so no per-process-seeded hasher.
pub fn stable_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

struct Ctx {
    url: String,
    opts: std::collections::BTreeMap<String, String>,
}

impl Ctx {
    fn get(&self, k: &str) -> Option<&str> {
        self.opts.get(k).map(String::as_str)
    }
    fn bad(&self, option: &str, why: &str) -> PublisherUrlError {
        PublisherUrlError::BadOption {
            url: self.url.clone(),
            option: option.into(),
            value: self.get(option).unwrap_or_default().into(),
            why: why.into(),
        }
    }
    fn invalid(&self, why: impl Into<String>) -> PublisherUrlError {
        PublisherUrlError::Invalid {
            url: self.url.clone(),
            why: why.into(),
        }
    }
    fn num<T: std::str::FromStr>(&self, k: &str) -> Result<Option<T>, PublisherUrlError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| self.bad(k, "not a valid number")),
        }
    }
    fn secs(&self, k: &str, default: Duration) -> Result<Duration, PublisherUrlError> {
        match self.num::<f64>(k)? {
            None => Ok(default),
            Some(v) if v.is_finite() && v > 0.0 => Ok(Duration::from_secs_f64(v)),
            Some(_) => Err(self.bad(k, "must be a positive number of seconds")),
        }
    }
    fn flag(&self, k: &str, default: bool) -> bool {
        self.get(k).map_or(default, option_bool)
    }
    /// `meter_form=modern|kilo`, else the context's.
    fn meter_form(&self, default: MeterForm) -> Result<MeterForm, PublisherUrlError> {
        match self.get("meter_form") {
            None | Some("") => Ok(default),
            Some(v) => parse_meter_form(v).ok_or_else(|| {
                self.bad(
                    "meter_form",
                    "expected modern (Ceilometer on Python 3) or kilo (Python-2 Kilo collectors)",
                )
            }),
        }
    }
    /// `per_meter_topic`: upstream reads `bool(int(v))`; words oslo accepts as booleans are
    /// taken too.
    fn per_meter_topic(&self) -> Result<bool, PublisherUrlError> {
        match self.get("per_meter_topic") {
            None | Some("") => Ok(false),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(n) => Ok(n != 0),
                Err(_) => match v.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" => Ok(true),
                    "false" | "no" | "off" => Ok(false),
                    _ => Err(self.bad("per_meter_topic", "expected 0 or 1")),
                },
            },
        }
    }
    fn http(&self, default_timeout: Duration) -> Result<HttpSettings, PublisherUrlError> {
        Ok(HttpSettings {
            timeout: self.secs("timeout", default_timeout)?,
            max_retries: self.num("max_retries")?.unwrap_or(2),
            verify: self.get("verify_ssl").map_or(Verify::System, Verify::parse),
            client_cert: self
                .get("clientcert")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            client_key: self
                .get("clientkey")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        })
    }
}

/// `modern` or `kilo` (any case): the spellings of `meter_form`.
pub fn parse_meter_form(v: &str) -> Option<MeterForm> {
    match v.trim().to_ascii_lowercase().as_str() {
        "modern" => Some(MeterForm::Modern),
        "kilo" => Some(MeterForm::Kilo),
        _ => None,
    }
}

const DELIVERY_OPTS: &[&str] = &["policy", "max_queue_length", "max_retry"];
const HTTP_OPTS: &[&str] = &[
    "timeout",
    "max_retries",
    "batch",
    "verify_ssl",
    "clientcert",
    "clientkey",
    "raw_only",
    "ssl",
];

/// Build the publisher a URL names.
pub fn build(url: &str, ctx: &PublisherContext) -> Result<Built, PublisherUrlError> {
    let masked = ceilometer_config::mask_url(url);
    let mut u = PublisherUrl::parse(url);
    let scheme = u.scheme.clone();
    let scheme_opts: &[&str] = match scheme.as_str() {
        "notifier" => &["topic", "per_meter_topic", "driver", "meter_form"],
        "http" | "https" | "prometheus" => HTTP_OPTS,
        "udp" | "tcp" => &["meter_form"],
        "file" => &["max_bytes", "backup_count", "json"],
        "gnocchi" => &[
            "archive_policy",
            "filter_project",
            "filter_domain",
            "enable_filter_project",
            "resources_definition_file",
            "timeout",
            "verify_ssl",
            "max_retries",
        ],
        _ => {
            return Err(PublisherUrlError::UnknownScheme {
                url: masked,
                scheme,
                supported: SCHEMES.join(", "),
            })
        }
    };
    let mut known: Vec<&str> = DELIVERY_OPTS.to_vec();
    known.extend_from_slice(scheme_opts);
    let c = Ctx {
        url: masked.clone(),
        opts: u.take_options(&known),
    };

    // Delivery.
    let mut delivery = ctx.delivery.clone();
    if let Some(p) = c.get("policy") {
        delivery.policy =
            Policy::parse(p).ok_or_else(|| c.bad("policy", "expected default, queue or drop"))?;
    }
    if let Some(n) = c.num::<usize>("max_queue_length")? {
        if n == 0 {
            return Err(c.bad("max_queue_length", "must be at least 1"));
        }
        delivery.max_queue_length = n;
    }
    // `max_retry` is accepted for compatibility: the delivery worker retries until the batch
    // is delivered, spooled or dropped by policy.
    c.num::<i64>("max_retry")?;
    delivery.spool_dir = match (delivery.policy, &ctx.spool_root) {
        (Policy::Default | Policy::Queue, Some(root)) => Some(root.join(stable_hash(&masked))),
        _ => None,
    };

    let (publisher, concrete): (Arc<dyn Publisher>, Concrete) = match scheme.as_str() {
        "notifier" => {
            let driver = c
                .get("driver")
                .filter(|d| !d.is_empty())
                .unwrap_or("rabbit");
            let transport_raw = if u.netloc.is_empty() {
                ctx.transport_url.clone()
            } else {
                format!("{driver}://{}{}", u.netloc, u.path)
            };
            let mut transport = TransportUrl::parse(&transport_raw).map_err(|e| c.invalid(e))?;
            transport.ssl |= ctx.amqp_ssl;
            let per_meter_topic = c.per_meter_topic()?;
            let topic = c
                .get("topic")
                .filter(|t| !t.is_empty())
                .unwrap_or(&ctx.metering_topic)
                .to_owned();
            let p = Arc::new(BusPublisher::new(BusConfig {
                transport,
                exchange: ctx.exchange.clone(),
                topics: vec![topic],
                durable: ctx.durable,
                notification: Notification::Notifier {
                    host: ctx.host.clone(),
                    event_type: ctx.metering_topic.clone(),
                    per_meter_topic,
                },
                secret: ctx.secret.clone(),
                meter_form: c.meter_form(ctx.meter_form)?,
                name: masked.clone(),
                tls: ctx.amqp_tls.clone(),
            }));
            (p.clone(), Concrete::Notifier(p))
        }
        "http" | "https" => {
            let (host, _) = u.host_port();
            if host.is_empty() {
                return Err(c.invalid("the URL has no host"));
            }
            let basic_auth = u.credentials();
            // Credentials go in the Authorization header, not in the target URL.
            if let Some((_, h)) = u.netloc.rsplit_once('@') {
                u.netloc = h.to_owned();
            }
            let p = Arc::new(
                HttpPublisher::new(
                    HttpConfig {
                        target: u.target(&scheme),
                        basic_auth,
                        batch: c.flag("batch", true),
                        http: c.http(Duration::from_secs(5))?,
                    },
                    masked.clone(),
                )
                .map_err(|e| c.invalid(e))?,
            );
            (p.clone(), Concrete::Http(p))
        }
        "prometheus" => {
            let (host, _) = u.host_port();
            if host.is_empty() {
                return Err(c.invalid("the URL has no push gateway host"));
            }
            if !u.path.starts_with("/metrics/job/") || u.path.len() <= "/metrics/job/".len() {
                return Err(c.invalid("the path must be /metrics/job/<job>[/<label>/<value>...]"));
            }
            let target = u.target(if c.flag("ssl", false) {
                "https"
            } else {
                "http"
            });
            let p = Arc::new(
                PrometheusPublisher::new(target, &c.http(Duration::from_secs(5))?, masked.clone())
                    .map_err(|e| c.invalid(e))?,
            );
            (p.clone(), Concrete::Prometheus(p))
        }
        "udp" | "tcp" => {
            let (host, port) = u.host_port();
            if host.is_empty() {
                return Err(c.invalid("the URL has no host"));
            }
            let port = port.unwrap_or(DEFAULT_PORT);
            let form = c.meter_form(ctx.meter_form)?;
            if scheme == "udp" {
                let p = Arc::new(UdpPublisher::new(
                    host,
                    port,
                    ctx.secret.clone(),
                    form,
                    masked.clone(),
                ));
                (p.clone(), Concrete::Udp(p))
            } else {
                let p = Arc::new(TcpPublisher::new(
                    host,
                    port,
                    ctx.secret.clone(),
                    ctx.host.clone(),
                    form,
                    masked.clone(),
                ));
                (p.clone(), Concrete::Tcp(p))
            }
        }
        "file" => {
            if u.path.is_empty() {
                return Err(c.invalid("the file publisher needs a path (file:///path/to/file)"));
            }
            let max_bytes = c.num::<u64>("max_bytes")?.unwrap_or(0);
            let backup_count = c.num::<u32>("backup_count")?.unwrap_or(0);
            let p = Arc::new(FilePublisher::new(
                FileConfig {
                    // Upstream uses the path as written (no percent-decoding).
                    path: PathBuf::from(&u.path),
                    max_bytes,
                    backup_count,
                    json: c.opts.contains_key("json")
                        && c.get("json").is_none_or(|v| v.is_empty() || option_bool(v)),
                },
                masked.clone(),
            ));
            (p.clone(), Concrete::File(p))
        }
        "gnocchi" => {
            let source = ctx.token_source.clone().ok_or_else(|| {
                c.invalid("gnocchi:// needs Keystone credentials (no token source)")
            })?;
            let d = GnocchiConfig::default();
            let cfg = GnocchiConfig {
                archive_policy: c
                    .get("archive_policy")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                filter_project: c
                    .get("filter_project")
                    .unwrap_or(&d.filter_project)
                    .to_owned(),
                filter_domain: c
                    .get("filter_domain")
                    .unwrap_or(&d.filter_domain)
                    .to_owned(),
                enable_filter_project: c.flag("enable_filter_project", true),
                resources_definition_file: c
                    .get("resources_definition_file")
                    .unwrap_or(&d.resources_definition_file)
                    .to_owned(),
                http: c.http(d.http.timeout)?,
            };
            let p = Arc::new(
                GnocchiPublisher::new(cfg, source, masked.clone()).map_err(|e| c.invalid(e))?,
            );
            (p.clone(), Concrete::Gnocchi(p))
        }
        _ => {
            return Err(PublisherUrlError::UnknownScheme {
                url: masked,
                scheme,
                supported: SCHEMES.join(", "),
            })
        }
    };
    Ok(Built {
        publisher,
        delivery,
        name: masked,
        concrete,
    })
}
