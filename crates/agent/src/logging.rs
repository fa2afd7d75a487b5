//! Logging with oslo.log's options: stderr by default, a file, syslog, journald, JSON.
//!
//! One line per event with structured fields. Nothing here ever formats a secret: the
//! configuration types mask them in their `Debug` output and messages.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use ceilometer_config::options::LoggingSection;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

use crate::cli::CommonArgs;

/// Where the log goes after CLI overrides are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPlan {
    /// DEBUG instead of INFO.
    pub debug: bool,
    /// Log file path, if any.
    pub file: Option<PathBuf>,
    /// Syslog facility number, if syslog is on.
    pub syslog_facility: Option<u8>,
    /// journald on.
    pub journal: bool,
    /// JSON lines.
    pub json: bool,
    /// stderr on.
    pub stderr: bool,
}

/// oslo.log's facility names.
pub fn facility(name: &str) -> Option<u8> {
    let n = name.trim().to_ascii_uppercase();
    let n = n.strip_prefix("LOG_").unwrap_or(&n);
    Some(match n {
        "KERN" => 0,
        "USER" => 1,
        "MAIL" => 2,
        "DAEMON" => 3,
        "AUTH" => 4,
        "SYSLOG" => 5,
        "LPR" => 6,
        "NEWS" => 7,
        "UUCP" => 8,
        "CRON" => 9,
        "AUTHPRIV" => 10,
        "FTP" => 11,
        "LOCAL0" => 16,
        "LOCAL1" => 17,
        "LOCAL2" => 18,
        "LOCAL3" => 19,
        "LOCAL4" => 20,
        "LOCAL5" => 21,
        "LOCAL6" => 22,
        "LOCAL7" => 23,
        _ => return None,
    })
}

impl LogPlan {
    /// Combine the config file's options with command-line overrides.
    pub fn new(conf: &LoggingSection, cli: &CommonArgs) -> anyhow::Result<LogPlan> {
        let dir = cli
            .log_dir
            .clone()
            .or_else(|| conf.log_dir.clone().map(PathBuf::from));
        let file = cli
            .log_file
            .clone()
            .or_else(|| conf.log_file.clone().map(PathBuf::from));
        let file = match (dir, file) {
            (Some(d), Some(f)) if f.is_relative() => Some(d.join(f)),
            (_, Some(f)) => Some(f),
            (Some(d), None) => Some(d.join("ceilometer-central.log")),
            (None, None) => None,
        };
        let syslog_facility = if conf.use_syslog {
            Some(facility(&conf.syslog_log_facility).with_context(|| {
                format!(
                    "[DEFAULT] syslog_log_facility = {:?}: expected LOG_USER, LOG_DAEMON, LOG_LOCAL0..7, ...",
                    conf.syslog_log_facility
                )
            })?)
        } else {
            None
        };
        let stderr =
            conf.use_stderr || (file.is_none() && syslog_facility.is_none() && !conf.use_journal);
        Ok(LogPlan {
            debug: cli.debug || conf.debug,
            file,
            syslog_facility,
            journal: conf.use_journal,
            json: conf.use_json,
            stderr,
        })
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

fn fmt_layer<W>(writer: W, json: bool, ansi: bool) -> BoxedLayer
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    if json {
        fmt::layer().json().with_writer(writer).boxed()
    } else {
        fmt::layer().with_ansi(ansi).with_writer(writer).boxed()
    }
}

/// Install the global subscriber. `RUST_LOG` refines the level when set.
pub fn init(plan: &LogPlan) -> anyhow::Result<()> {
    let level = if plan.debug { "debug" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let mut layers: Vec<BoxedLayer> = Vec::new();
    if plan.stderr {
        layers.push(fmt_layer(std::io::stderr, plan.json, false));
    }
    if let Some(path) = &plan.file {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open log file {}", path.display()))?;
        layers.push(fmt_layer(Arc::new(f), plan.json, false));
    }
    if let Some(fac) = plan.syslog_facility {
        let sock = UnixDatagram::unbound().context("cannot create a syslog socket")?;
        sock.connect("/dev/log")
            .context("cannot connect to syslog at /dev/log")?;
        layers.push(
            fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_writer(Syslog {
                    sock: Arc::new(sock),
                    facility: fac,
                })
                .boxed(),
        );
    }
    if plan.journal {
        layers.push(
            tracing_journald::layer()
                .context("cannot connect to journald")?
                .with_syslog_identifier("ceilometer-central".into())
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(layers.with_filter(filter))
        .try_init()
        .context("logging was already initialised")?;
    Ok(())
}

/// One syslog datagram per event, priority from the event's level (RFC 3164 framing, what
/// `/dev/log` expects).
#[derive(Clone)]
struct Syslog {
    sock: Arc<UnixDatagram>,
    facility: u8,
}

struct SyslogLine {
    sock: Arc<UnixDatagram>,
    pri: u8,
    buf: Mutex<Vec<u8>>,
}

impl Write for SyslogLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.buf.lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        if let Ok(b) = self.buf.lock() {
            let line = String::from_utf8_lossy(&b);
            let msg = format!(
                "<{}>ceilometer-central[{}]: {}",
                self.pri,
                std::process::id(),
                line.trim_end()
            );
            // A full or absent syslog must not stop the agent; the line is lost to syslog only.
            let _ = self.sock.send(msg.as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;
    fn make_writer(&'a self) -> SyslogLine {
        self.line(6)
    }
    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogLine {
        let sev = match *meta.level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        self.line(sev)
    }
}

impl Syslog {
    fn line(&self, severity: u8) -> SyslogLine {
        SyslogLine {
            sock: self.sock.clone(),
            pri: self.facility * 8 + severity,
            buf: Mutex::new(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> LoggingSection {
        LoggingSection {
            debug: false,
            log_file: None,
            log_dir: None,
            use_syslog: false,
            syslog_log_facility: "LOG_USER".into(),
            use_journal: false,
            use_json: false,
            use_stderr: false,
        }
    }

    #[test]
    fn stderr_by_default_and_files_like_oslo() {
        let p = LogPlan::new(&conf(), &CommonArgs::default()).expect("plan");
        assert!(p.stderr && p.file.is_none());
        let mut c = conf();
        c.log_dir = Some("/var/log/ceilometer".into());
        let p = LogPlan::new(&c, &CommonArgs::default()).expect("plan");
        assert_eq!(
            p.file,
            Some(PathBuf::from("/var/log/ceilometer/ceilometer-central.log"))
        );
        assert!(!p.stderr);
        c.log_file = Some("central.log".into());
        let cli = CommonArgs {
            debug: true,
            ..CommonArgs::default()
        };
        let p = LogPlan::new(&c, &cli).expect("plan");
        assert_eq!(
            p.file,
            Some(PathBuf::from("/var/log/ceilometer/central.log"))
        );
        assert!(p.debug);
    }

    #[test]
    fn syslog_facilities() {
        assert_eq!(facility("LOG_LOCAL0"), Some(16));
        assert_eq!(facility("daemon"), Some(3));
        let mut c = conf();
        c.use_syslog = true;
        c.syslog_log_facility = "LOG_NOPE".into();
        let e = LogPlan::new(&c, &CommonArgs::default()).expect_err("bad facility");
        assert!(e.to_string().contains("syslog_log_facility"));
    }
}
