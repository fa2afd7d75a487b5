//! Real servers for tests: `redis-server`, `redis-sentinel` (and RabbitMQ, net-snmp's
//! `snmpd`) on free loopback ports, killed on drop even when the test fails. A missing
//! binary FAILS the test with the install command; nothing is skipped.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod rabbitmq;
pub mod snmpd;
pub mod tls;

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::time::Instant;

pub const INSTALL: &str = "apt-get install -y redis-server redis-sentinel";

/// Finds a binary on PATH (or /usr/bin, /usr/sbin); a missing one FAILS the test.
pub fn binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in
        std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
    {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not found on PATH: install it with `{INSTALL}`");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `cond` every 20 ms until it holds; fails naming `what` after `limit`.
/// Returns how long it took.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A redis-server or redis-sentinel child, SIGKILLed on drop.
pub struct Proc {
    /// The plain (non-TLS) port: always there, for readiness checks and test inspection.
    pub port: u16,
    /// The TLS port, for servers started with TLS.
    pub tls_port: Option<u16>,
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    bin: PathBuf,
}

impl Proc {
    fn spawn_child(bin: &Path, args: &[String], dir: &Path) -> Child {
        Command::new(bin)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; install with `{INSTALL}`",
                    bin.display()
                )
            })
    }

    /// A redis-server on a free loopback port, no persistence.
    pub async fn redis(extra: &[&str]) -> Proc {
        Self::redis_on(free_port(), extra).await
    }

    pub async fn redis_on(port: u16, extra: &[&str]) -> Proc {
        let bin = binary("redis-server");
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            // Replicas sync at once (the default waits 5 s before a diskless full sync).
            "--repl-diskless-sync-delay".into(),
            "0".into(),
            "--dir".into(),
            dir.path().display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Self::spawn_child(&bin, &args, dir.path());
        let p = Proc {
            port,
            tls_port: None,
            child: Some(child),
            dir,
            args,
            bin,
        };
        p.wait_ping().await;
        p
    }

    /// A redis-server with a TLS port (certificates of `pki`) besides its plain one.
    /// Redis requires client certificates by default: pass `--tls-auth-clients no` in
    /// `extra` for server-only TLS.
    pub async fn redis_tls(pki: &tls::Pki, extra: &[&str]) -> Proc {
        let tls_port = free_port();
        let mut args: Vec<String> = vec!["--tls-port".into(), tls_port.to_string()];
        args.extend(pki.server_args());
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut p = Self::redis_on(free_port(), &args).await;
        p.tls_port = Some(tls_port);
        wait_listening(tls_port).await;
        p
    }

    /// A redis-sentinel monitoring `mymaster` at `master_port`.
    pub async fn sentinel(master_port: u16, down_after_ms: u64) -> Proc {
        Self::sentinel_conf(master_port, down_after_ms, "").await
    }

    /// A redis-sentinel with a TLS port (and its plain one) that also talks TLS to the
    /// master (`tls-replication yes`): `master_port` is the master's TLS port. `extra`
    /// lines are appended to sentinel.conf.
    pub async fn sentinel_tls(
        pki: &tls::Pki,
        master_port: u16,
        down_after_ms: u64,
        extra: &str,
    ) -> Proc {
        let tls_port = free_port();
        let mut conf = format!("tls-port {tls_port}\ntls-replication yes\n");
        for pair in pki.server_args().chunks(2) {
            conf.push_str(&format!(
                "{} {}\n",
                pair[0].trim_start_matches("--"),
                pair[1]
            ));
        }
        conf.push_str(extra);
        let mut p = Self::sentinel_conf(master_port, down_after_ms, &conf).await;
        p.tls_port = Some(tls_port);
        wait_listening(tls_port).await;
        p
    }

    /// A redis-sentinel monitoring `mymaster` at `master_port`, with `extra` lines appended
    /// to sentinel.conf (e.g. `requirepass …`, `sentinel auth-pass mymaster …`).
    pub async fn sentinel_conf(master_port: u16, down_after_ms: u64, extra: &str) -> Proc {
        let bin = binary("redis-sentinel");
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds mymaster {down_after_ms}\n\
                 sentinel failover-timeout mymaster 10000\n\
                 sentinel parallel-syncs mymaster 1\n{extra}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let args = vec![conf.display().to_string()];
        let child = Self::spawn_child(&bin, &args, dir.path());
        let p = Proc {
            port,
            tls_port: None,
            child: Some(child),
            dir,
            args,
            bin,
        };
        p.wait_ping().await;
        p
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn conn(&self) -> MultiplexedConnection {
        let c = redis::Client::open(self.url()).unwrap();
        c.get_multiplexed_async_connection().await.unwrap()
    }

    async fn try_ping(&self) -> bool {
        let Ok(c) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(Ok(mut conn)) =
            tokio::time::timeout(Duration::from_secs(1), c.get_multiplexed_async_connection())
                .await
        else {
            return false;
        };
        match redis::cmd("PING").query_async::<String>(&mut conn).await {
            Ok(s) => s == "PONG",
            // NOAUTH (requirepass): the server is up and answering.
            Err(e) => e.code() == Some("NOAUTH"),
        }
    }

    pub async fn wait_ping(&self) {
        wait_for(
            &format!("PONG from 127.0.0.1:{}", self.port),
            Duration::from_secs(10),
            || self.try_ping(),
        )
        .await;
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the same process again on the same port (empty: no persistence).
    pub async fn restart(&mut self) {
        self.kill();
        self.child = Some(Self::spawn_child(&self.bin, &self.args, self.dir.path()));
        self.wait_ping().await;
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits (10 s at most) until something accepts TCP connections on 127.0.0.1:`port`.
pub async fn wait_listening(port: u16) {
    wait_for(
        &format!("a listener on 127.0.0.1:{port}"),
        Duration::from_secs(10),
        || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        },
    )
    .await;
}

/// Total command calls from `INFO commandstats`, excluding `info` itself.
pub async fn command_calls(conn: &mut MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
        .filter_map(|l| {
            let calls = l.split(':').nth(1)?.split(',').next()?;
            calls.strip_prefix("calls=")?.parse::<u64>().ok()
        })
        .sum()
}

/// `GET http://127.0.0.1:<port><path>` over a fresh connection: `(status, body)`, or `None`
/// when nothing answers. Enough for health endpoints; no client crate needed.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}
