//! The typed `ceilometer.conf`: one struct per section, upstream option names and defaults.
//!
//! Every option the central agent reads in Ceilometer 27.0.0 (spec `ceilometer-central.md`
//! §5) is here with upstream's default, plus the Kilo/Liberty spellings Fuel 7.0 deployments
//! still carry, plus our own `[ceilometer_central]` section. Each field's doc comment gives the
//! upstream meaning; `etc/ceilometer/ceilometer.conf` is the commented example.

use std::time::Duration;

use crate::store::{Diagnostic, Opt, Severity, Store};

/// Namespaces this agent implements. Anything else is refused at start-up.
pub const SUPPORTED_NAMESPACES: &[&str] = &["central"];

/// `[DEFAULT]`: process-wide options.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultSection {
    /// `host`: this controller's name; our default coordination member id. Default: the
    /// machine's hostname.
    pub host: String,
    /// `polling_namespaces`: only `central` is implemented.
    pub polling_namespaces: Vec<String>,
    /// `pollsters_definitions_dirs` (multi): dynamic pollster directories.
    pub pollsters_definitions_dirs: Vec<String>,
    /// `reseller_prefix`: Swift account prefix (`AUTH_`).
    pub reseller_prefix: String,
    /// `sample_source`: the `source` of every sample (`openstack`).
    pub sample_source: String,
    /// `transport_url` (secret): AMQP URL used when `[oslo_messaging_notifications]` has none.
    pub transport_url: Option<String>,
    /// `control_exchange`: Ceilometer forces `ceilometer`; kept for the summary.
    pub control_exchange: String,
    /// `graceful_shutdown_timeout`: seconds SIGTERM waits for in-flight polls (60).
    pub graceful_shutdown_timeout: Duration,
    /// Kilo `http_timeout`: API request timeout in seconds (600).
    pub http_timeout: Option<Duration>,
    /// Kilo `pipeline_cfg_file`: the Kilo/Liberty pipeline definition.
    pub pipeline_cfg_file: Option<String>,
}

/// oslo.log options (all in `[DEFAULT]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingSection {
    /// `debug`: log at DEBUG instead of INFO.
    pub debug: bool,
    /// `log_file`: write to this file (relative to `log_dir` when both are set).
    pub log_file: Option<String>,
    /// `log_dir`: directory for `log_file` (default file name `ceilometer-central.log`).
    pub log_dir: Option<String>,
    /// `use_syslog`: send to the local syslog socket.
    pub use_syslog: bool,
    /// `syslog_log_facility` (`LOG_USER`).
    pub syslog_log_facility: String,
    /// `use_journal`: send to journald with structured fields.
    pub use_journal: bool,
    /// `use_json`: one JSON object per line.
    pub use_json: bool,
    /// `use_stderr`: also log to stderr (default false in oslo; we log to stderr whenever no
    /// other destination is configured).
    pub use_stderr: bool,
}

/// `[polling]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PollingSection {
    /// `cfg_file`: polling definition file (`polling.yaml`), searched like oslo's `find_file`.
    pub cfg_file: String,
    /// Whether `cfg_file` was set explicitly (decides polling.yaml vs Kilo pipeline.yaml).
    pub cfg_file_explicit: bool,
    /// `batch_size`: samples per bus message, per pollster (50; 0 = one per message).
    pub batch_size: u32,
    /// `partitioning_group_prefix` (old group `[central]`): coordination group infix.
    pub partitioning_group_prefix: Option<String>,
    /// `heartbeat_socket_dir`: per-pollster heartbeat socket directory.
    pub heartbeat_socket_dir: Option<String>,
    /// `identity_name_discovery` (old `tenant_name_discovery`): add project/user names.
    pub identity_name_discovery: bool,
    /// `ignore_disabled_projects`: tenant discovery skips disabled projects.
    pub ignore_disabled_projects: bool,
    /// `enable_notifications`: send samples on the bus.
    pub enable_notifications: bool,
    /// `enable_prometheus_exporter`: serve polled samples for Prometheus.
    pub enable_prometheus_exporter: bool,
    /// `prometheus_listen_addresses` (`127.0.0.1:9101`).
    pub prometheus_listen_addresses: Vec<String>,
    /// `prometheus_tls_enable`.
    pub prometheus_tls_enable: bool,
    /// `prometheus_tls_certfile`.
    pub prometheus_tls_certfile: Option<String>,
    /// `prometheus_tls_keyfile`.
    pub prometheus_tls_keyfile: Option<String>,
    /// `threads_to_process_pollsters` (1; 0 = one per pollster). Our pollsters are concurrent
    /// regardless; kept for compatibility.
    pub threads_to_process_pollsters: u32,
    /// `pollsters_definitions_dirs` in `[polling]`: upstream registers but ignores it; we
    /// honour it in addition to `[DEFAULT]`'s.
    pub pollsters_definitions_dirs: Vec<String>,
}

/// What to do while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutagePolicy {
    /// Keep polling with the last membership view (default): every agent does the same, so
    /// coverage stays exact unless an agent dies during the outage.
    LastView,
    /// Poll nothing, as Ceilometer does.
    None,
    /// Poll everything (duplicates, but no gaps).
    All,
}

/// `[coordination]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinationSection {
    /// `backend_url` (secret): tooz URL; unset = no partitioning, this agent polls everything.
    pub backend_url: Option<String>,
    /// `heartbeat` (Kilo; seconds, 1.0): beat and membership-read period.
    pub heartbeat: Duration,
    /// `member_id` (ours): stable member id; default `[DEFAULT] host`.
    pub member_id: Option<String>,
    /// `outage_policy` (ours).
    pub outage_policy: OutagePolicy,
}

/// Generation of the meter dicts the agent publishes (`[ceilometer_central] meter_form`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterDictForm {
    /// Ceilometer ≥ Stein on Python 3: every key, Python 3 signature.
    Modern,
    /// Kilo/Liberty collectors on Python 2: no `user_name`/`project_name`/`monotonic_time`,
    /// the Python 2 signature they verify.
    Kilo,
}

/// `[publisher]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherSection {
    /// `telemetry_secret` (secret; old `metering_secret`): HMAC key of `message_signature`.
    pub telemetry_secret: String,
}

/// `[publisher_notifier]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherNotifierSection {
    /// `telemetry_driver` (old `metering_driver`): `messagingv2` (or `noop`).
    pub telemetry_driver: String,
    /// `metering_topic`: topic of the Kilo-style `notifier://` publisher.
    pub metering_topic: String,
    /// `event_topic`.
    pub event_topic: String,
}

/// `[oslo_messaging_notifications]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationsSection {
    /// `transport_url` (secret): falls back to `[DEFAULT] transport_url`.
    pub transport_url: Option<String>,
    /// `topics`: routing-key prefixes (`notifications`).
    pub topics: Vec<String>,
    /// `driver` (multi).
    pub driver: Vec<String>,
    /// `retry` (-1 = forever).
    pub retry: i64,
}

/// `[oslo_messaging_rabbit]`: the basics needed to reach the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct RabbitSection {
    /// `ssl` (old `rabbit_use_ssl`).
    pub ssl: bool,
    /// `ssl_ca_file`.
    pub ssl_ca_file: Option<String>,
    /// `ssl_cert_file`.
    pub ssl_cert_file: Option<String>,
    /// `ssl_key_file`.
    pub ssl_key_file: Option<String>,
    /// `amqp_durable_queues`.
    pub amqp_durable_queues: bool,
    /// `heartbeat_timeout_threshold` seconds (60).
    pub heartbeat_timeout_threshold: u32,
    /// `rabbit_retry_interval` seconds (1).
    pub rabbit_retry_interval: f64,
    /// `rabbit_retry_backoff` seconds (2).
    pub rabbit_retry_backoff: f64,
    /// `rabbit_interval_max` seconds (30).
    pub rabbit_interval_max: f64,
    /// `kombu_failover_strategy`: `round-robin` or `shuffle`.
    pub kombu_failover_strategy: String,
    /// Kilo `rabbit_hosts` (`host:port` list), used only without a transport URL.
    pub rabbit_hosts: Vec<String>,
    /// Kilo `rabbit_userid`.
    pub rabbit_userid: Option<String>,
    /// Kilo `rabbit_password` (secret).
    pub rabbit_password: Option<String>,
    /// Kilo `rabbit_virtual_host`.
    pub rabbit_virtual_host: Option<String>,
}

/// Which endpoint of the catalog to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// `public` / `publicURL`.
    Public,
    /// `internal` / `internalURL`.
    Internal,
    /// `admin` / `adminURL`.
    Admin,
}

impl Interface {
    /// The catalog's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

/// `[service_credentials]`: keystoneauth options, with Kilo `os-*` / `tenant_*` aliases.
#[derive(Clone, PartialEq)]
pub struct ServiceCredentials {
    /// `auth_type` (`password`, `v3password`, `v3applicationcredential`, ...).
    pub auth_type: String,
    /// `auth_section`: when set, auth options are read from that section instead.
    pub auth_section: Option<String>,
    /// `auth_url` (Kilo `os-auth-url`).
    pub auth_url: Option<String>,
    /// `username` (Kilo `os-username`).
    pub username: Option<String>,
    /// `user_id`.
    pub user_id: Option<String>,
    /// `user_domain_name`.
    pub user_domain_name: Option<String>,
    /// `user_domain_id`.
    pub user_domain_id: Option<String>,
    /// `password` (secret; Kilo `os-password`).
    pub password: Option<String>,
    /// `project_name` (`tenant_name`, Kilo `os-tenant-name`).
    pub project_name: Option<String>,
    /// `project_id` (`tenant_id`, Kilo `os-tenant-id`).
    pub project_id: Option<String>,
    /// `project_domain_name`.
    pub project_domain_name: Option<String>,
    /// `project_domain_id`.
    pub project_domain_id: Option<String>,
    /// `domain_name` (domain scope).
    pub domain_name: Option<String>,
    /// `domain_id` (domain scope).
    pub domain_id: Option<String>,
    /// `default_domain_name`: fills user/project domain names when unset.
    pub default_domain_name: Option<String>,
    /// `default_domain_id`: fills user/project domain ids when unset.
    pub default_domain_id: Option<String>,
    /// `trust_id`.
    pub trust_id: Option<String>,
    /// `system_scope`.
    pub system_scope: Option<String>,
    /// `application_credential_id`.
    pub application_credential_id: Option<String>,
    /// `application_credential_name`.
    pub application_credential_name: Option<String>,
    /// `application_credential_secret` (secret).
    pub application_credential_secret: Option<String>,
    /// `cafile` (Kilo `os-cacert`).
    pub cafile: Option<String>,
    /// `certfile`.
    pub certfile: Option<String>,
    /// `keyfile`.
    pub keyfile: Option<String>,
    /// `insecure`: skip TLS verification (false).
    pub insecure: bool,
    /// `timeout` seconds (none = our default request timeout).
    pub timeout: Option<Duration>,
    /// `region_name` (env `OS_REGION_NAME`, Kilo `os-region-name`).
    pub region_name: Option<String>,
    /// `interface` (env `OS_INTERFACE`, Kilo `os-endpoint-type`; default public).
    pub interface: Interface,
}

impl std::fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are never printed, not even in debug output.
        f.debug_struct("ServiceCredentials")
            .field("auth_type", &self.auth_type)
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("user_domain_name", &self.user_domain_name)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("project_name", &self.project_name)
            .field("project_id", &self.project_id)
            .field("application_credential_id", &self.application_credential_id)
            .field(
                "application_credential_secret",
                &self.application_credential_secret.as_ref().map(|_| "***"),
            )
            .field("region_name", &self.region_name)
            .field("interface", &self.interface)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// `[service_types]`: catalog types of the services polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTypes {
    /// `aodh` (`alarming`).
    pub aodh: String,
    /// `cinder` (`volumev3`).
    pub cinder: String,
    /// `designate` (`dns`).
    pub designate: String,
    /// `glance` (`image`; Kilo option, no longer in latest).
    pub glance: String,
    /// `manila` (`sharev2`).
    pub manila: String,
    /// `neutron` (`network`).
    pub neutron: String,
    /// `nova` (`compute`).
    pub nova: String,
    /// `octavia` (`load-balancer`).
    pub octavia: String,
    /// `radosgw` (unset).
    pub radosgw: Option<String>,
    /// `swift` (`object-store`).
    pub swift: String,
}

/// `[rgw_admin_credentials]`.
#[derive(Clone, PartialEq, Eq)]
pub struct RgwAdminCredentials {
    /// `access_key`.
    pub access_key: Option<String>,
    /// `secret_key` (secret).
    pub secret_key: Option<String>,
}

impl std::fmt::Debug for RgwAdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgwAdminCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// `[rgw_client]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgwClient {
    /// `implicit_tenants`: uid is `<tenant>$<tenant>`.
    pub implicit_tenants: bool,
    /// `rgw_service_name`: catalog service name of RadosGW.
    pub rgw_service_name: Option<String>,
    /// `insecure`: upstream default **true** (no TLS verification) — kept for compatibility,
    /// and `validate` warns about it.
    pub insecure: bool,
    /// `cafile`.
    pub cafile: Option<String>,
    /// `tls_min_version` (`1.2`).
    pub tls_min_version: String,
    /// `tls_max_version` (`1.3`).
    pub tls_max_version: String,
}

/// `[hardware]` (Kilo SNMP pollsters).
#[derive(Clone, PartialEq, Eq)]
pub struct HardwareSection {
    /// `url_scheme` (`snmp://`).
    pub url_scheme: String,
    /// `readonly_user_name` (`ro_snmp_user`).
    pub readonly_user_name: String,
    /// `readonly_user_password` (secret).
    pub readonly_user_password: Option<String>,
}

impl std::fmt::Debug for HardwareSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HardwareSection")
            .field("url_scheme", &self.url_scheme)
            .field("readonly_user_name", &self.readonly_user_name)
            .field(
                "readonly_user_password",
                &self.readonly_user_password.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// `[cache]` (oslo.cache): the name-resolution cache of `identity_name_discovery`.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSection {
    /// `enabled` (false).
    pub enabled: bool,
    /// `backend` (`dogpile.cache.null`); only in-memory caching is implemented here.
    pub backend: String,
    /// `expiration_time` seconds (600).
    pub expiration_time: Duration,
}

/// `[ceilometer_central]`: options of this agent that Ceilometer does not have.
#[derive(Debug, Clone, PartialEq)]
pub struct CentralSection {
    /// `publishers` (multi): publisher URLs to send to directly, beside or instead of the bus.
    pub publishers: Vec<String>,
    /// `admin_listen`: address of `/metrics`, `/healthz`, `/readyz`; `None` = off.
    pub admin_listen: Option<String>,
    /// `max_clock_skew` seconds tolerated between agents (1.0).
    pub max_clock_skew: Duration,
    /// `api_concurrency`: concurrent per-resource API calls per service (16).
    pub api_concurrency: u32,
    /// `api_timeout` seconds per API request (30).
    pub api_timeout: Duration,
    /// `worker_threads` of the async runtime (1): the agent waits on APIs far more than it
    /// computes, and one thread measured less CPU and memory than one per core.
    pub worker_threads: usize,
    /// `spool_dir`: where undeliverable batches wait on disk (empty = no spool).
    pub spool_dir: Option<String>,
    /// `spool_max_mb`: bound of each publisher's spool in MiB (256).
    pub spool_max_mb: u64,
    /// `max_queue_length`: batches each publisher keeps in memory before spooling (1024).
    pub max_queue_length: usize,
    /// `meter_form` (`modern` or `kilo`): meter dicts of the bus, `notifier://`, `udp://` and
    /// `tcp://`. `None` (unset): `kilo` with a Kilo/Liberty pipeline.yaml (its collector
    /// verifies Python 2 signatures), `modern` with polling.yaml.
    pub meter_form: Option<MeterDictForm>,
}

/// The whole configuration the agent reads.
#[derive(Debug, Clone)]
pub struct CeilometerConf {
    /// `[DEFAULT]`.
    pub default: DefaultSection,
    /// oslo.log options.
    pub logging: LoggingSection,
    /// `[polling]`.
    pub polling: PollingSection,
    /// `[coordination]`.
    pub coordination: CoordinationSection,
    /// `[publisher]`.
    pub publisher: PublisherSection,
    /// `[publisher_notifier]`.
    pub publisher_notifier: PublisherNotifierSection,
    /// `[oslo_messaging_notifications]`.
    pub notifications: NotificationsSection,
    /// `[oslo_messaging_rabbit]`.
    pub rabbit: RabbitSection,
    /// `[service_credentials]`.
    pub service_credentials: ServiceCredentials,
    /// `[service_types]`.
    pub service_types: ServiceTypes,
    /// `[rgw_admin_credentials]`.
    pub rgw_admin_credentials: RgwAdminCredentials,
    /// `[rgw_client]`.
    pub rgw_client: RgwClient,
    /// `[hardware]`.
    pub hardware: HardwareSection,
    /// `[ceilometer_central]`.
    pub central: CentralSection,
    /// `[cache]`.
    pub cache: CacheSection,
}

/// Environment variables the agent reads, injected so tests need not touch the process env.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `OS_REGION_NAME`.
    pub os_region_name: Option<String>,
    /// `OS_INTERFACE`.
    pub os_interface: Option<String>,
    /// The machine's hostname (default of `[DEFAULT] host`).
    pub hostname: String,
}

impl Env {
    /// Read from the process environment.
    pub fn from_process() -> Env {
        Env {
            os_region_name: std::env::var("OS_REGION_NAME")
                .ok()
                .filter(|s| !s.is_empty()),
            os_interface: std::env::var("OS_INTERFACE").ok().filter(|s| !s.is_empty()),
            hostname: hostname(),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0))
}

const D: &str = "DEFAULT";

fn parse_interface(s: &str) -> Option<Interface> {
    match s {
        "public" | "publicURL" => Some(Interface::Public),
        "internal" | "internalURL" => Some(Interface::Internal),
        "admin" | "adminURL" => Some(Interface::Admin),
        _ => None,
    }
}

/// Sections whose every option we know: an option nobody reads there is reported as unknown.
/// `[DEFAULT]` and `[oslo_messaging_rabbit]` hold many options of other libraries; there only
/// near-misses of our names are reported.
pub const OWNED_SECTIONS: &[&str] = &[
    "polling",
    "coordination",
    "publisher",
    "publisher_notifier",
    "oslo_messaging_notifications",
    "service_credentials",
    "service_types",
    "rgw_admin_credentials",
    "rgw_client",
    "hardware",
    "ceilometer_central",
    "cache",
];

impl CeilometerConf {
    /// Build the typed configuration, recording every problem in `store`.
    pub fn from_store(store: &mut Store, env: &Env) -> CeilometerConf {
        store.set_default(D, "host", &env.hostname);
        store.set_default(D, "state_path", "/var/lib/ceilometer");
        let s: &Store = store;

        let host = s
            .nonempty(Opt::new(D, "host"))
            .unwrap_or_else(|| env.hostname.clone());
        let default = DefaultSection {
            host: host.clone(),
            polling_namespaces: s.list(Opt::new(D, "polling_namespaces"), &["central"]),
            pollsters_definitions_dirs: s.multi(
                Opt::new(D, "pollsters_definitions_dirs"),
                &["/etc/ceilometer/pollsters.d"],
            ),
            reseller_prefix: s.string_or(Opt::new(D, "reseller_prefix"), "AUTH_"),
            sample_source: s.string_or(Opt::new(D, "sample_source"), "openstack"),
            transport_url: s.nonempty(Opt::new(D, "transport_url").secret()),
            control_exchange: s.string_or(Opt::new(D, "control_exchange"), "ceilometer"),
            graceful_shutdown_timeout: Duration::from_secs(s.int(
                Opt::new(D, "graceful_shutdown_timeout"),
                60,
                Some(0),
                None,
            ) as u64),
            http_timeout: s.get(&Opt::new(D, "http_timeout")).map(|_| {
                Duration::from_secs(s.int(Opt::new(D, "http_timeout"), 600, Some(1), None) as u64)
            }),
            pipeline_cfg_file: s.nonempty(Opt::new(D, "pipeline_cfg_file")),
        };
        // Options of old releases that no longer mean anything: read so they are not reported
        // as unknown, and say why they are ignored.
        for (section, name, why) in [
            (
                D,
                "shuffle_time_before_polling_task",
                "cycles are aligned to the wall clock instead",
            ),
            (D, "batch_polled_samples", "use [polling] batch_size"),
            (
                D,
                "glance_page_size",
                "pages follow the server's next links",
            ),
            (
                "coordination",
                "check_watchers",
                "membership is read every heartbeat",
            ),
            (
                "coordination",
                "retry_backoff",
                "reconnection uses capped jittered backoff",
            ),
            (
                "coordination",
                "max_retry_interval",
                "reconnection uses capped jittered backoff",
            ),
        ] {
            if let Some(f) = s.get(&Opt::new(section, name)) {
                s.push(
                    Diagnostic::warning(format!("ignored by ceilometer-central: {why}"))
                        .at(&f.file, Some(f.line))
                        .on(&f.section, &f.key),
                );
            }
        }

        let logging = LoggingSection {
            debug: s.bool(Opt::new(D, "debug"), false),
            log_file: s.nonempty(Opt::new(D, "log_file").aliases(&[(D, "logfile")])),
            log_dir: s.nonempty(Opt::new(D, "log_dir").aliases(&[(D, "logdir")])),
            use_syslog: s.bool(Opt::new(D, "use_syslog"), false),
            syslog_log_facility: s.string_or(Opt::new(D, "syslog_log_facility"), "LOG_USER"),
            use_journal: s.bool(Opt::new(D, "use_journal"), false),
            use_json: s.bool(Opt::new(D, "use_json"), false),
            use_stderr: s.bool(Opt::new(D, "use_stderr"), false),
        };
        // oslo.log options we accept and do not act on.
        for name in [
            "verbose",
            "log_config_append",
            "log_date_format",
            "default_log_levels",
            "logging_context_format_string",
            "logging_default_format_string",
            "logging_debug_format_suffix",
            "logging_exception_prefix",
            "log_rotation_type",
            "log_rotate_interval",
            "log_rotate_interval_type",
            "max_logfile_count",
            "max_logfile_size_mb",
            "watch_log_file",
            "publish_errors",
            "instance_format",
            "instance_uuid_format",
            "fatal_deprecations",
            "rate_limit_interval",
            "rate_limit_burst",
            "rate_limit_except_level",
            "use_eventlog",
        ] {
            let _ = s.get(&Opt::new(D, name));
        }

        let cfg_file = s.get(&Opt::new("polling", "cfg_file"));
        let polling = PollingSection {
            cfg_file_explicit: cfg_file.is_some(),
            cfg_file: cfg_file.map_or_else(|| "polling.yaml".to_owned(), |f| f.value),
            batch_size: s.int(
                Opt::new("polling", "batch_size"),
                50,
                Some(0),
                Some(u32::MAX as i64),
            ) as u32,
            partitioning_group_prefix: s.nonempty(
                Opt::new("polling", "partitioning_group_prefix")
                    .aliases(&[("central", "partitioning_group_prefix")]),
            ),
            heartbeat_socket_dir: s.nonempty(Opt::new("polling", "heartbeat_socket_dir")),
            identity_name_discovery: s.bool(
                Opt::new("polling", "identity_name_discovery")
                    .aliases(&[("polling", "tenant_name_discovery")]),
                false,
            ),
            ignore_disabled_projects: s
                .bool(Opt::new("polling", "ignore_disabled_projects"), false),
            enable_notifications: s.bool(Opt::new("polling", "enable_notifications"), true),
            enable_prometheus_exporter: s
                .bool(Opt::new("polling", "enable_prometheus_exporter"), false),
            prometheus_listen_addresses: s.list(
                Opt::new("polling", "prometheus_listen_addresses"),
                &["127.0.0.1:9101"],
            ),
            prometheus_tls_enable: s.bool(Opt::new("polling", "prometheus_tls_enable"), false),
            prometheus_tls_certfile: s.nonempty(Opt::new("polling", "prometheus_tls_certfile")),
            prometheus_tls_keyfile: s.nonempty(Opt::new("polling", "prometheus_tls_keyfile")),
            threads_to_process_pollsters: s.int(
                Opt::new("polling", "threads_to_process_pollsters"),
                1,
                Some(0),
                Some(u32::MAX as i64),
            ) as u32,
            pollsters_definitions_dirs: s
                .multi(Opt::new("polling", "pollsters_definitions_dirs"), &[]),
        };
        if polling.prometheus_tls_enable
            && (polling.prometheus_tls_certfile.is_none()
                || polling.prometheus_tls_keyfile.is_none())
        {
            s.push(
                Diagnostic::error(
                    "prometheus_tls_enable is set but prometheus_tls_certfile and prometheus_tls_keyfile are not both set",
                )
                .on("polling", "prometheus_tls_enable"),
            );
        }

        let coordination = CoordinationSection {
            backend_url: s.nonempty(Opt::new("coordination", "backend_url").secret()),
            heartbeat: secs(s.float(Opt::new("coordination", "heartbeat"), 1.0, Some(0.05))),
            member_id: s.nonempty(Opt::new("coordination", "member_id")),
            outage_policy: match s
                .choice(
                    Opt::new("coordination", "outage_policy"),
                    &["last_view", "none", "all"],
                    "last_view",
                )
                .as_str()
            {
                "none" => OutagePolicy::None,
                "all" => OutagePolicy::All,
                _ => OutagePolicy::LastView,
            },
        };

        let publisher = PublisherSection {
            telemetry_secret: s.string_or(
                Opt::new("publisher", "telemetry_secret")
                    .aliases(&[
                        ("publisher", "metering_secret"),
                        ("publisher_rpc", "metering_secret"),
                        (D, "metering_secret"),
                    ])
                    .secret(),
                "change this for valid signing",
            ),
        };
        let publisher_notifier = PublisherNotifierSection {
            telemetry_driver: s.string_or(
                Opt::new("publisher_notifier", "telemetry_driver")
                    .aliases(&[("publisher_notifier", "metering_driver")]),
                "messagingv2",
            ),
            metering_topic: s.string_or(
                Opt::new("publisher_notifier", "metering_topic")
                    .aliases(&[("publisher_rpc", "metering_topic")]),
                "metering",
            ),
            event_topic: s.string_or(Opt::new("publisher_notifier", "event_topic"), "event"),
        };
        let notifications = NotificationsSection {
            transport_url: s
                .nonempty(Opt::new("oslo_messaging_notifications", "transport_url").secret()),
            topics: s.list(
                Opt::new("oslo_messaging_notifications", "topics")
                    .aliases(&[("rpc_notifier2", "topics"), (D, "notification_topics")]),
                &["notifications"],
            ),
            driver: s.multi(
                Opt::new("oslo_messaging_notifications", "driver")
                    .aliases(&[(D, "notification_driver")]),
                &[],
            ),
            retry: s.int(
                Opt::new("oslo_messaging_notifications", "retry"),
                -1,
                Some(-1),
                None,
            ),
        };
        let rabbit = RabbitSection {
            ssl: s.bool(
                Opt::new("oslo_messaging_rabbit", "ssl")
                    .aliases(&[("oslo_messaging_rabbit", "rabbit_use_ssl")]),
                false,
            ),
            ssl_ca_file: s.nonempty(
                Opt::new("oslo_messaging_rabbit", "ssl_ca_file")
                    .aliases(&[("oslo_messaging_rabbit", "kombu_ssl_ca_certs")]),
            ),
            ssl_cert_file: s.nonempty(
                Opt::new("oslo_messaging_rabbit", "ssl_cert_file")
                    .aliases(&[("oslo_messaging_rabbit", "kombu_ssl_certfile")]),
            ),
            ssl_key_file: s.nonempty(
                Opt::new("oslo_messaging_rabbit", "ssl_key_file")
                    .aliases(&[("oslo_messaging_rabbit", "kombu_ssl_keyfile")]),
            ),
            amqp_durable_queues: s.bool(
                Opt::new("oslo_messaging_rabbit", "amqp_durable_queues"),
                false,
            ),
            heartbeat_timeout_threshold: s.int(
                Opt::new("oslo_messaging_rabbit", "heartbeat_timeout_threshold"),
                60,
                Some(0),
                Some(u32::MAX as i64),
            ) as u32,
            rabbit_retry_interval: s.float(
                Opt::new("oslo_messaging_rabbit", "rabbit_retry_interval"),
                1.0,
                Some(0.0),
            ),
            rabbit_retry_backoff: s.float(
                Opt::new("oslo_messaging_rabbit", "rabbit_retry_backoff"),
                2.0,
                Some(0.0),
            ),
            rabbit_interval_max: s.float(
                Opt::new("oslo_messaging_rabbit", "rabbit_interval_max"),
                30.0,
                Some(1.0),
            ),
            kombu_failover_strategy: s.choice(
                Opt::new("oslo_messaging_rabbit", "kombu_failover_strategy"),
                &["round-robin", "shuffle"],
                "round-robin",
            ),
            rabbit_hosts: s.list(
                Opt::new("oslo_messaging_rabbit", "rabbit_hosts").aliases(&[(D, "rabbit_hosts")]),
                &[],
            ),
            rabbit_userid: s.nonempty(
                Opt::new("oslo_messaging_rabbit", "rabbit_userid").aliases(&[(D, "rabbit_userid")]),
            ),
            rabbit_password: s.nonempty(
                Opt::new("oslo_messaging_rabbit", "rabbit_password")
                    .aliases(&[(D, "rabbit_password")])
                    .secret(),
            ),
            rabbit_virtual_host: s.nonempty(
                Opt::new("oslo_messaging_rabbit", "rabbit_virtual_host")
                    .aliases(&[(D, "rabbit_virtual_host")]),
            ),
        };

        let service_credentials = Self::service_credentials(s, env);

        let service_types = ServiceTypes {
            aodh: s.string_or(Opt::new("service_types", "aodh"), "alarming"),
            cinder: s.string_or(Opt::new("service_types", "cinder"), "volumev3"),
            designate: s.string_or(Opt::new("service_types", "designate"), "dns"),
            glance: s.string_or(Opt::new("service_types", "glance"), "image"),
            manila: s.string_or(Opt::new("service_types", "manila"), "sharev2"),
            neutron: s.string_or(Opt::new("service_types", "neutron"), "network"),
            nova: s.string_or(Opt::new("service_types", "nova"), "compute"),
            octavia: s.string_or(Opt::new("service_types", "octavia"), "load-balancer"),
            radosgw: s.nonempty(Opt::new("service_types", "radosgw")),
            swift: s.string_or(Opt::new("service_types", "swift"), "object-store"),
        };
        let _ = s.get(&Opt::new("service_types", "kwapi"));

        let rgw_admin_credentials = RgwAdminCredentials {
            access_key: s.nonempty(Opt::new("rgw_admin_credentials", "access_key")),
            secret_key: s.nonempty(Opt::new("rgw_admin_credentials", "secret_key").secret()),
        };
        let rgw_client = RgwClient {
            implicit_tenants: s.bool(Opt::new("rgw_client", "implicit_tenants"), false),
            rgw_service_name: s.nonempty(Opt::new("rgw_client", "rgw_service_name")),
            insecure: s.bool(Opt::new("rgw_client", "insecure"), true),
            cafile: s.nonempty(Opt::new("rgw_client", "cafile")),
            tls_min_version: s.choice(
                Opt::new("rgw_client", "tls_min_version"),
                &["1.2", "1.3"],
                "1.2",
            ),
            tls_max_version: s.choice(
                Opt::new("rgw_client", "tls_max_version"),
                &["1.2", "1.3"],
                "1.3",
            ),
        };
        let hardware = HardwareSection {
            url_scheme: s.string_or(Opt::new("hardware", "url_scheme"), "snmp://"),
            readonly_user_name: s
                .string_or(Opt::new("hardware", "readonly_user_name"), "ro_snmp_user"),
            readonly_user_password: s
                .nonempty(Opt::new("hardware", "readonly_user_password").secret()),
        };
        let _ = s.get(&Opt::new("hardware", "meter_definitions_file"));

        let admin_listen = s.string_or(
            Opt::new("ceilometer_central", "admin_listen"),
            "127.0.0.1:9180",
        );
        let central = CentralSection {
            publishers: s.multi(Opt::new("ceilometer_central", "publishers").secret(), &[]),
            admin_listen: match admin_listen.as_str() {
                "" | "off" | "none" => None,
                _ => Some(admin_listen),
            },
            max_clock_skew: secs(s.float(
                Opt::new("ceilometer_central", "max_clock_skew"),
                1.0,
                Some(0.0),
            )),
            api_concurrency: s.int(
                Opt::new("ceilometer_central", "api_concurrency"),
                16,
                Some(1),
                Some(4096),
            ) as u32,
            api_timeout: secs(s.float(
                Opt::new("ceilometer_central", "api_timeout"),
                30.0,
                Some(0.1),
            )),
            worker_threads: s.int(
                Opt::new("ceilometer_central", "worker_threads"),
                1,
                Some(1),
                Some(256),
            ) as usize,
            spool_dir: s
                .get(&Opt::new("ceilometer_central", "spool_dir"))
                .map_or(Some("/var/lib/ceilometer-central/spool".to_owned()), |f| {
                    Some(f.value).filter(|v| !v.is_empty())
                }),
            spool_max_mb: s.int(
                Opt::new("ceilometer_central", "spool_max_mb"),
                256,
                Some(1),
                Some(1 << 20),
            ) as u64,
            max_queue_length: s.int(
                Opt::new("ceilometer_central", "max_queue_length"),
                1024,
                Some(1),
                Some(1 << 24),
            ) as usize,
            meter_form: match s
                .choice(
                    Opt::new("ceilometer_central", "meter_form"),
                    &["modern", "kilo"],
                    "",
                )
                .as_str()
            {
                "modern" => Some(MeterDictForm::Modern),
                "kilo" => Some(MeterDictForm::Kilo),
                _ => None,
            },
        };

        let cache = CacheSection {
            enabled: s.bool(Opt::new("cache", "enabled"), false),
            backend: s.string_or(Opt::new("cache", "backend"), "dogpile.cache.null"),
            expiration_time: secs(s.float(Opt::new("cache", "expiration_time"), 600.0, Some(0.0))),
        };
        // Options of §5 read by other parts of Ceilometer (compute, notification agent,
        // privsep): accepted without effect, so they are not reported as unknown.
        for name in [
            "reserved_metadata_namespace",
            "reserved_metadata_length",
            "reserved_metadata_keys",
            "max_parallel_requests",
            "rootwrap_config",
            "log_options",
        ] {
            let _ = s.get(&Opt::new(D, name));
        }

        let conf = CeilometerConf {
            default,
            logging,
            polling,
            coordination,
            publisher,
            publisher_notifier,
            notifications,
            rabbit,
            service_credentials,
            service_types,
            rgw_admin_credentials,
            rgw_client,
            hardware,
            central,
            cache,
        };
        conf.check(s);
        report_unknown(s);
        conf
    }

    fn service_credentials(s: &Store, env: &Env) -> ServiceCredentials {
        const SC: &str = "service_credentials";
        let auth_section = s.nonempty(Opt::new(SC, "auth_section"));
        // keystoneauth's auth_section: auth options come from the named section. The section
        // name is dynamic, so look it up through a leaked-free path: read both and prefer the
        // auth section's value.
        let pick =
            |name: &'static str, aliases: &'static [(&'static str, &'static str)], secret: bool| {
                let mut opt = Opt::new(SC, name).aliases(aliases);
                if secret {
                    opt = opt.secret();
                }
                let own = s.nonempty(opt);
                match &auth_section {
                    Some(sec) => section_value(s, sec, name).or(own),
                    None => own,
                }
            };
        let interface_raw = s.get(
            &Opt::new(SC, "interface").aliases(&[(SC, "os-endpoint-type"), (SC, "endpoint_type")]),
        );
        let interface = match &interface_raw {
            Some(found) => match parse_interface(&found.value) {
                Some(i) => i,
                None => {
                    s.push(
                        Diagnostic::error(format!(
                            "invalid value = {:?}: expected one of public, internal, admin, publicURL, internalURL, adminURL",
                            found.value
                        ))
                        .at(&found.file, Some(found.line))
                        .on(&found.section, &found.key),
                    );
                    Interface::Public
                }
            },
            None => match env.os_interface.as_deref() {
                Some(v) => parse_interface(v).unwrap_or_else(|| {
                    s.push(Diagnostic::error(format!(
                        "environment OS_INTERFACE = {v:?}: expected one of public, internal, admin"
                    )));
                    Interface::Public
                }),
                None => Interface::Public,
            },
        };
        let timeout = s
            .get(&Opt::new(SC, "timeout"))
            .map(|_| secs(s.float(Opt::new(SC, "timeout"), 30.0, Some(0.1))));
        ServiceCredentials {
            auth_type: pick("auth_type", &[(SC, "auth_plugin")], false)
                .unwrap_or_else(|| "password".to_owned()),
            auth_section: auth_section.clone(),
            auth_url: pick("auth_url", &[(SC, "os-auth-url")], false),
            username: pick("username", &[(SC, "os-username"), (SC, "user_name")], false),
            user_id: pick("user_id", &[], false),
            user_domain_name: pick("user_domain_name", &[], false),
            user_domain_id: pick("user_domain_id", &[], false),
            password: pick("password", &[(SC, "os-password")], true),
            project_name: pick(
                "project_name",
                &[(SC, "tenant_name"), (SC, "os-tenant-name")],
                false,
            ),
            project_id: pick(
                "project_id",
                &[(SC, "tenant_id"), (SC, "os-tenant-id")],
                false,
            ),
            project_domain_name: pick("project_domain_name", &[], false),
            project_domain_id: pick("project_domain_id", &[], false),
            domain_name: pick("domain_name", &[], false),
            domain_id: pick("domain_id", &[], false),
            default_domain_name: pick("default_domain_name", &[], false),
            default_domain_id: pick("default_domain_id", &[], false),
            trust_id: pick("trust_id", &[], false),
            system_scope: pick("system_scope", &[], false),
            application_credential_id: pick("application_credential_id", &[], false),
            application_credential_name: pick("application_credential_name", &[], false),
            application_credential_secret: pick("application_credential_secret", &[], true),
            cafile: s.nonempty(Opt::new(SC, "cafile").aliases(&[(SC, "os-cacert")])),
            certfile: s.nonempty(Opt::new(SC, "certfile")),
            keyfile: s.nonempty(Opt::new(SC, "keyfile")),
            insecure: s.bool(Opt::new(SC, "insecure"), false),
            timeout,
            region_name: s
                .nonempty(Opt::new(SC, "region_name").aliases(&[(SC, "os-region-name")]))
                .or_else(|| env.os_region_name.clone()),
            interface,
        }
        .with_touch(s)
    }

    /// Cross-option checks that need several sections.
    fn check(&self, s: &Store) {
        for ns in &self.default.polling_namespaces {
            if !SUPPORTED_NAMESPACES.contains(&ns.as_str()) {
                s.push(
                    Diagnostic::error(format!(
                        "namespace {ns:?} is not implemented: ceilometer-central runs the central namespace only; run ceilometer-polling for {ns:?}"
                    ))
                    .on(D, "polling_namespaces"),
                );
            }
        }
        let sc = &self.service_credentials;
        let app_cred = sc.auth_type.contains("applicationcredential");
        if app_cred {
            if sc.application_credential_secret.is_none() {
                s.push(
                    Diagnostic::error("auth_type is an application credential but application_credential_secret is not set")
                        .on("service_credentials", "application_credential_secret"),
                );
            }
        } else if sc.password.is_none() {
            s.push(
                Diagnostic::warning(
                    "no password is set: the agent cannot authenticate to Keystone",
                )
                .on("service_credentials", "password"),
            );
        }
        if sc.auth_url.is_none() {
            s.push(
                Diagnostic::warning("auth_url is not set: the agent cannot reach Keystone")
                    .on("service_credentials", "auth_url"),
            );
        }
        if sc.insecure {
            s.push(
                Diagnostic::warning(
                    "TLS certificate verification of OpenStack APIs is off (insecure = true)",
                )
                .on("service_credentials", "insecure"),
            );
        }
        if self.publisher.telemetry_secret == "change this for valid signing" {
            s.push(
                Diagnostic::warning(
                    "telemetry_secret is the shipped default; set a secret of your own",
                )
                .on("publisher", "telemetry_secret"),
            );
        }
    }
}

impl ServiceCredentials {
    /// Mark the Kilo names we map elsewhere as known, so they are not reported as unknown.
    fn with_touch(self, s: &Store) -> Self {
        for name in [
            "collect_timing",
            "split_loggers",
            "tls_ciphers",
            "tls_min_version",
            "os-tenant-name",
        ] {
            let _ = s.get(&Opt::new("service_credentials", name));
        }
        self
    }
}

/// Read `section.name` for a dynamically named section (keystoneauth's `auth_section`).
fn section_value(s: &Store, section: &str, name: &'static str) -> Option<String> {
    let mut found = None;
    for file in s.files() {
        for sec in file
            .sections
            .iter()
            .filter(|x| x.name == crate::ini::normalize_section(section))
        {
            for e in sec
                .entries
                .iter()
                .filter(|e| e.key.replace('-', "_") == name)
            {
                found = Some(e.value.clone());
            }
        }
    }
    found.filter(|v| !v.is_empty())
}

/// Report options nobody reads: all of them in sections we own, near-misses elsewhere.
fn report_unknown(s: &Store) {
    for section in OWNED_SECTIONS {
        let known = s.queried_names(section);
        for (file, line, key) in s.unqueried(section) {
            let hint = suggestion(&key, &known);
            s.push(
                Diagnostic::warning(format!("unknown option, ignored{hint}"))
                    .at(&file, Some(line))
                    .on(section, &key),
            );
        }
    }
    for section in ["DEFAULT", "oslo_messaging_rabbit"] {
        let known = s.queried_names(section);
        for (file, line, key) in s.unqueried(section) {
            let hint = suggestion(&key, &known);
            if !hint.is_empty() {
                s.push(
                    Diagnostic::warning(format!("unknown option, ignored{hint}"))
                        .at(&file, Some(line))
                        .on(section, &key),
                );
            }
        }
    }
}

fn suggestion(key: &str, known: &[String]) -> String {
    let key = key.replace('-', "_");
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&key, k), k))
        .filter(|(score, _)| *score >= 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("; did you mean {k}?"))
        .unwrap_or_default()
}

/// Whether any finding is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}
