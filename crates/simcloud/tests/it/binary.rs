//! The `simcloud` binary prints its URL first and serves until terminated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the child even when the test fails.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn prints_url_then_serves() {
    let child = Command::new(env!("CARGO_BIN_EXE_simcloud"))
        .args([
            "--projects",
            "3",
            "--seed",
            "9",
            "--fault",
            r#"{"service":"dns","error_rate":1.0}"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn simcloud");
    let mut g = Guard(child);
    let mut line = String::new();
    BufReader::new(g.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let mut c = simcloud::client::Client::connect(addr).await.unwrap();
    let (tok, r) = c.login("ceilometer", "secret").await.unwrap();
    assert_eq!(r.status, 201);
    let r = c.get("/dns/v2/zones", &tok.unwrap()).await.unwrap();
    assert!(r.status >= 500, "fault from --fault applies");
    let r = c.get("/_sim/cloud", "").await.unwrap();
    assert_eq!(r.json()["counts"]["projects"], 5);
}

#[test]
fn bad_flags_fail_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_simcloud"))
        .args(["--app-credential", "nocolons"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("USER:ID:SECRET"));
}
