//! Child processes (killed on drop), `/proc` readings, and tiny HTTP / RESP clients so the
//! benchmark needs no async runtime.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::now_us;

use anyhow::{bail, Context, Result};

/// A child process, SIGKILLed (and reaped) on drop.
pub struct Guard {
    pub name: String,
    pub child: Option<Child>,
}

impl Guard {
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Guard> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Guard {
            name: name.into(),
            child: Some(child),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `sig` (`TERM`, `KILL`) with kill(1).
    pub fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// Waits at most `limit` for the exit; `None` if still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let c = self.child.as_mut()?;
        let deadline = now_us() + limit.as_micros() as i64;
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                self.child = None;
                return Some(s);
            }
            if now_us() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.signal("TERM");
        let s = self.wait_exit(grace);
        if s.is_none() {
            self.kill();
        }
        s
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// utime + stime of `pid` in seconds (USER_HZ = 100).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = s.rsplit(')').next()?;
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
    Some((t(11)? + t(12)?) / 100.0)
}

/// A `/proc/<pid>/status` field in KiB (`VmHWM`, `VmRSS`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// One HTTP/1.1 request over a fresh connection: `(status, body)`.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP header end")?;
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .context("no HTTP status")?;
    let mut body = buf[head_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body)?;
    }
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            bail!("bad chunk")
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..eol])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            bail!("short chunk");
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or_default();
    }
}

/// GET returning JSON (2xx only).
pub fn get_json(addr: SocketAddr, path: &str) -> Result<serde_json::Value> {
    let (st, body) = http(addr, "GET", path, Duration::from_secs(60))?;
    if !(200..300).contains(&st) {
        bail!("GET {path}: HTTP {st}");
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Total calls from Redis `INFO commandstats`, excluding `info` itself (plain RESP).
pub fn redis_calls(port: u16) -> Result<u64> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")?;
    let mut r = BufReader::new(s);
    let mut first = String::new();
    r.read_line(&mut first)?;
    let n: usize = first
        .trim()
        .strip_prefix('$')
        .and_then(|x| x.parse().ok())
        .context("bad INFO reply")?;
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body)
        .lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
        .filter_map(|l| {
            l.split(':')
                .nth(1)?
                .split(',')
                .next()?
                .strip_prefix("calls=")?
                .parse::<u64>()
                .ok()
        })
        .sum())
}

/// Starts redis-server (no persistence) on a free port and waits for it to answer.
pub fn start_redis(dir: &Path) -> Result<(Guard, u16)> {
    let port = free_port()?;
    let g = Guard::spawn(
        "redis-server",
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .context("redis-server is needed: apt-get install -y redis-server")?;
    let deadline = now_us() + 10_000_000;
    while redis_calls(port).is_err() {
        if now_us() > deadline {
            bail!("redis-server on port {port} does not answer");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((g, port))
}

/// Starts simcloud and reads its URL from the first stdout line.
pub fn start_simcloud(bin: &Path, args: &[String], log: &Path) -> Result<(Guard, SocketAddr)> {
    let mut g = Guard::spawn(
        "simcloud",
        Command::new(bin)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?),
    )?;
    let out = g
        .child
        .as_mut()
        .and_then(|c| c.stdout.take())
        .context("no stdout")?;
    // The URL line comes once the model is generated (seconds for a million resources).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining so simcloud never blocks on a full pipe.
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(600))
        .context("simcloud printed no URL")?;
    let url = line.trim();
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .with_context(|| format!("unexpected simcloud first line {url:?}"))?
        .trim_end_matches('/')
        .parse()?;
    Ok((g, addr))
}

/// `<target>/{release,debug}/<name>`, from `$CARGO_TARGET_DIR` or `<repo>/target`.
pub fn find_bin(name: &str, given: Option<&PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        if p.is_file() {
            return Ok(p.clone());
        }
        bail!("{} does not exist", p.display());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    for profile in ["release", "debug"] {
        let p = target.join(profile).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "{name} not found under {}/{{release,debug}}: build it first with\n  cargo build --release -p ceilometer-central -p simcloud",
        target.display()
    )
}
