//! A private RabbitMQ broker for one test: its own node name, data directory, AMQP,
//! distribution and `epmd` ports on 127.0.0.1; stopped on drop, together with its `epmd`.
//!
//! Each broker has its own `epmd` (`ERL_EPMD_PORT`): with one shared daemon, the first
//! broker of the process to stop killed it under a broker another test was still starting.
//!
//! `stop` and `start_again` on the same guard simulate an outage or a broker restart (data
//! directory kept).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::free_port;

/// How to get the broker.
pub const INSTALL: &str = "apt-get install -y rabbitmq-server";

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/lib/rabbitmq/bin", "/usr/sbin", "/usr/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not found: install RabbitMQ with `{INSTALL}`");
}

fn tls_conf(tls_port: u16, ca: &Path, cert: &Path, key: &Path, client_cert: bool) -> String {
    let (verify, fail) = if client_cert {
        ("verify_peer", "true")
    } else {
        ("verify_none", "false")
    };
    format!(
        "listeners.ssl.default = 127.0.0.1:{tls_port}\nssl_options.cacertfile = {}\nssl_options.certfile = {}\nssl_options.keyfile = {}\nssl_options.verify = {verify}\nssl_options.fail_if_no_peer_cert = {fail}\n",
        ca.display(),
        cert.display(),
        key.display()
    )
}

/// A running (or stopped) private broker.
pub struct Rabbit {
    /// AMQP port on 127.0.0.1.
    pub port: u16,
    node: String,
    dist_port: u16,
    /// This broker's own `epmd` (started by the Erlang VM on first use).
    epmd_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Rabbit {
    /// Start a broker and wait until it accepts AMQP connections (fails the test after 60 s).
    pub fn start() -> Rabbit {
        Self::start_with(None)
    }

    /// Start a broker that also listens for AMQPS on `tls_port` with this CA, certificate and
    /// key (PEM files).
    pub fn start_tls(tls_port: u16, ca: &Path, cert: &Path, key: &Path) -> Rabbit {
        Self::start_with(Some(tls_conf(tls_port, ca, cert, key, false)))
    }

    /// Like [`Rabbit::start_tls`], but the AMQPS listener demands a client certificate that
    /// chains to `ca` (`verify_peer` + `fail_if_no_peer_cert`): a client without one is
    /// refused during the handshake.
    pub fn start_mutual_tls(tls_port: u16, ca: &Path, cert: &Path, key: &Path) -> Rabbit {
        Self::start_with(Some(tls_conf(tls_port, ca, cert, key, true)))
    }

    fn start_with(extra_conf: Option<String>) -> Rabbit {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let node = format!("ct{port}@localhost");
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n").expect("write plugins");
        std::fs::write(
            dir.path().join("rabbitmq.conf"),
            format!(
                "loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{port}\n{}",
                extra_conf.unwrap_or_default()
            ),
        )
        .expect("write rabbitmq.conf");
        let mut r = Rabbit {
            port,
            node,
            dist_port: free_port(),
            epmd_port: free_port(),
            dir,
            child: None,
        };
        r.start_again();
        r
    }

    fn env(&self, c: &mut Command) {
        let d = self.dir.path();
        c.env("HOME", d)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            );
    }

    /// Start the (stopped) broker again, keeping its data directory.
    pub fn start_again(&mut self) {
        let mut c = Command::new(tool("rabbitmq-server"));
        self.env(&mut c);
        let log = std::fs::File::create(self.dir.path().join("server.out")).expect("log file");
        let child = c
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start rabbitmq-server: {e}; install with `{INSTALL}`")
            });
        self.child = Some(child);
        // `await_startup` fails at once while the node is not yet registered with epmd, so
        // ask again until the broker answers or 60 s have passed.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let ok = loop {
            let mut ctl = Command::new(tool("rabbitmqctl"));
            self.env(&mut ctl);
            let up = ctl
                .args(["-n", &self.node, "await_startup", "--timeout", "2"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if up || tokio::time::Instant::now() > deadline {
                break up;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "rabbitmq-server exited with {status} while starting: see {}",
                    self.dir.path().join("server.out").display()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        };
        if !ok {
            let out =
                std::fs::read_to_string(self.dir.path().join("server.out")).unwrap_or_default();
            panic!("RabbitMQ on 127.0.0.1:{} did not start:\n{out}", self.port);
        }
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/`.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// oslo.messaging's form: `rabbit://guest:guest@127.0.0.1:<port>/`.
    pub fn transport_url(&self) -> String {
        format!("rabbit://guest:guest@127.0.0.1:{}/", self.port)
    }

    /// Stop the broker (an outage) and wait until its VM has exited. Connections are closed
    /// by the broker.
    pub fn stop(&mut self) {
        let mut ctl = Command::new(tool("rabbitmqctl"));
        self.env(&mut ctl);
        // With the pid file, `stop` returns once that process (the VM, not the
        // `rabbitmq-server` script that is our child) has terminated.
        let pid_file = self.dir.path().join("pid");
        let _ = ctl
            .args(["-n", &self.node, "stop"])
            .arg(&pid_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Add a user with full permissions on `/` (tests that check a password never shows).
    pub fn add_user(&self, user: &str, password: &str) {
        for args in [
            vec!["add_user", user, password],
            vec!["set_permissions", "-p", "/", user, ".*", ".*", ".*"],
        ] {
            let mut ctl = Command::new(tool("rabbitmqctl"));
            self.env(&mut ctl);
            let out = ctl
                .args(["-n", &self.node])
                .args(&args)
                .output()
                .expect("rabbitmqctl");
            assert!(
                out.status.success(),
                "rabbitmqctl {}: {}",
                args[0],
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// The number of messages ready in `queue` (via `rabbitmqctl list_queues`).
    pub fn queue_depth(&self, queue: &str) -> Option<u64> {
        let mut ctl = Command::new(tool("rabbitmqctl"));
        self.env(&mut ctl);
        let out = ctl
            .args(["-n", &self.node, "-q", "list_queues", "name", "messages"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == queue).then(|| it.next()?.parse().ok())?
        })
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.stop();
        // epmd refuses `-kill` while a node is registered, which it still is when `stop`
        // failed and the VM is on its way down: ask again, bounded. epmd prints "Cannot
        // connect" (on stdout, exit 1) when it is already gone.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let mut kill = Command::new("epmd");
            self.env(&mut kill);
            let gone = kill.arg("-kill").output().map_or(true, |o| {
                o.status.success() || String::from_utf8_lossy(&o.stdout).contains("Cannot connect")
            });
            if gone || tokio::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
