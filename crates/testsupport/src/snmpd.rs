//! A private net-snmp `snmpd` for one test: a free 127.0.0.1 UDP port, a generated
//! configuration in its own directory (persistent state included, so v3 users never touch
//! `/var/lib/snmp`), killed on drop even when the test fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How to get the agent.
pub const INSTALL: &str = "apt-get install -y snmpd";

/// What net-snmp logs once its listening sockets are open.
const BANNER: &str = "NET-SNMP version";

/// How long start-up may take before the test fails.
const START_LIMIT: Duration = Duration::from_secs(20);

/// The `snmpd` binary; a missing one FAILS the test with the install command.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain(
        ["/usr/sbin", "/usr/local/sbin"]
            .into_iter()
            .map(PathBuf::from),
    ) {
        let p = dir.join("snmpd");
        if p.is_file() {
            return p;
        }
    }
    panic!("snmpd not found: these tests need net-snmp's agent; install it with `{INSTALL}`");
}

/// A free UDP port on 127.0.0.1 (also a port where nothing answers, once returned).
pub fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
    s.local_addr().expect("local address").port()
}

/// A running `snmpd`, SIGKILLed on drop.
pub struct Snmpd {
    /// Its UDP port on 127.0.0.1.
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Snmpd {
    /// Starts `snmpd` listening on 127.0.0.1:`port` only, with `conf` (snmpd.conf lines:
    /// communities, `createUser`/`rouser`, `disk`, `load`, ...) after the `agentAddress`
    /// line, and returns once it has logged its start-up banner — which net-snmp prints
    /// after its sockets are open, so the first request is answered (no sleep, no polling).
    /// Fails the test, with snmpd's own output, if it exits or stays silent for 20 s.
    pub fn start(conf: &str) -> Snmpd {
        let bin = binary();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_udp_port();
        let conf_path = dir.path().join("snmpd.conf");
        std::fs::write(
            &conf_path,
            format!("agentAddress udp:127.0.0.1:{port}\n{conf}\n"),
        )
        .expect("write snmpd.conf");
        let mut child = spawn(&bin, &conf_path, dir.path());
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel::<Result<(), Vec<String>>>();
        // Reads snmpd's log for the whole run (a full pipe would block it).
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut seen = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = tx.as_ref() {
                    if line.contains(BANNER) {
                        let _ = t.send(Ok(()));
                        tx = None;
                    } else {
                        seen.push(line);
                    }
                }
            }
            if let Some(t) = tx {
                let _ = t.send(Err(seen));
            }
        });
        let d = Snmpd {
            port,
            child,
            _dir: dir,
        };
        match rx.recv_timeout(START_LIMIT) {
            Ok(Ok(())) => d,
            Ok(Err(log)) => panic!(
                "snmpd exited before it was ready on 127.0.0.1:{port}; its output:\n{}",
                log.join("\n")
            ),
            Err(_) => panic!("snmpd did not start: no `{BANNER}` line within {START_LIMIT:?}"),
        }
    }
}

fn spawn(bin: &Path, conf: &Path, dir: &Path) -> Child {
    Command::new(bin)
        // Foreground, log to stdout, only this configuration file.
        .args(["-f", "-Lo", "-C", "-c"])
        .arg(conf)
        .arg("-p")
        .arg(dir.join("snmpd.pid"))
        .env("SNMP_PERSISTENT_DIR", dir)
        .env("MIBS", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e}; install with `{INSTALL}`",
                bin.display()
            )
        })
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
