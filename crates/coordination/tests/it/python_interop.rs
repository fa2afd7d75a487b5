//! Interop with the real Python tooz (in `<repo>/.venv`, created by `scripts/make-venv.sh`
//! when missing): each side sees the other's members, weights, expiry and leaves.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::common::{init_tracing, wait_for, Proc};
use coordination::{start, CoordinationConfig, ForeignReason, MemberId, RedisUrl};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::Instant;

const HB: Duration = Duration::from_millis(200);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, creating the venv if needed; FAILS (never skips) when it cannot.
fn venv_python() -> PathBuf {
    let script = repo().join("scripts/make-venv.sh");
    let out = std::process::Command::new("bash").arg(&script).output();
    let ok = matches!(&out, Ok(o) if o.status.success());
    assert!(
        ok,
        "cannot create the Python tooz venv: run `bash scripts/make-venv.sh` \
         (python3 -m venv .venv && .venv/bin/pip install tooz redis msgpack; \
         Debian needs `apt-get install -y python3-venv`): {:?}",
        out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
    );
    repo().join(".venv/bin/python")
}

struct PyMember {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl PyMember {
    async fn spawn(python: &PathBuf, url: &str, id: &str, group: &str, weight: u32) -> PyMember {
        let mut child = Command::new(python)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/tooz_member.py"))
            .args([url, id, group, &weight.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the python tooz member");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut m = PyMember {
            child,
            stdin,
            lines,
        };
        assert_eq!(m.read().await, "READY");
        m
    }

    async fn read(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .expect("python member answers within 20 s")
            .unwrap()
            .expect("python member still running")
    }

    async fn ask(&mut self, cmd: &str) -> serde_json::Value {
        self.stdin
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .unwrap();
        serde_json::from_str(&self.read().await).unwrap()
    }

    /// Member -> weight in the Python Partitioner's ring, after run_watchers().
    async fn ring(&mut self) -> Vec<(String, u64)> {
        let v = self.ask("ring").await;
        let mut r: Vec<(String, u64)> = v["nodes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, w)| (k.clone(), w.as_u64().unwrap()))
            .collect();
        r.sort();
        r
    }

    /// Asks for the ring every 20 ms until `pred` holds; fails naming `what` after `limit`.
    async fn wait_ring(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&[(String, u64)]) -> bool,
    ) -> Duration {
        let start = Instant::now();
        loop {
            let r = self.ring().await;
            if pred(&r) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for: {what} (ring {r:?})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(mut self) {
        self.stdin.write_all(b"stop\n").await.unwrap();
        assert_eq!(self.read().await, "OK");
        let _ = self.child.wait().await;
    }
}

fn ring_of(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = pairs.iter().map(|(k, w)| (k.to_string(), *w)).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_tooz_and_rust_members_see_each_other() {
    init_tracing();
    let python = venv_python();
    let redis = Proc::redis(&[]).await;
    let url = format!(
        "redis://127.0.0.1:{}?timeout=2&membership_timeout=1",
        redis.port
    );
    let group = "central-global";
    let rust_cfg = |id: &str, weight: u32| {
        let mut c = CoordinationConfig::new(RedisUrl::parse(&url).unwrap(), id, group);
        c.heartbeat = HB;
        c.weight = weight;
        c
    };

    let (r1, rx1) = start(rust_cfg("rust-1", 3)).unwrap();
    let (r2, _rx2) = start(rust_cfg("rust-2", 1)).unwrap();
    wait_for("rust-1 sees rust-2", Duration::from_secs(5), || async {
        rx1.borrow().members.len() == 2
    })
    .await;
    let mut py1 = PyMember::spawn(&python, &url, "py-1", group, 1).await;
    let py2 = PyMember::spawn(&python, &url, "py-2", group, 2).await;

    // Python sees our members and their weights through tooz's Partitioner.
    let want = ring_of(&[("py-1", 1), ("py-2", 2), ("rust-1", 3), ("rust-2", 1)]);
    py1.wait_ring(
        "python's Partitioner ring holds every member with its weight",
        Duration::from_secs(5),
        |r| r == want.as_slice(),
    )
    .await;
    // We see the Python members, foreign (no agent key), with their weights.
    wait_for(
        "rust-1 sees py-1 and py-2 as foreign",
        Duration::from_secs(5),
        || async {
            let v = rx1.borrow();
            v.foreign.len() == 2 && v.members.len() == 2
        },
    )
    .await;
    {
        let v = rx1.borrow();
        let p2 = &v.foreign[&MemberId::from("py-2")];
        assert_eq!(p2.weight, 2);
        assert_eq!(p2.reason, ForeignReason::NoAgent);
    }

    // Python graceful stop (leave + DEL beat) -> gone from our view within a heartbeat.
    let t = Instant::now();
    py2.stop().await;
    let stop_call = t.elapsed();
    let took = wait_for("rust-1 sees py-2 leave", Duration::from_secs(5), || async {
        !rx1.borrow().foreign.contains_key(&MemberId::from("py-2"))
    })
    .await;
    eprintln!("FIGURE python graceful leave -> Rust view: {took:?} after stop() returned ({stop_call:?} in stop)");
    assert!(took <= HB + Duration::from_millis(150), "{took:?}");

    // Rust graceful leave -> Python's next run_watchers drops it.
    let t = Instant::now();
    r2.leave().await.unwrap();
    let took = py1
        .wait_ring(
            "python ring drops rust-2 after its leave",
            Duration::from_secs(5),
            |r| !r.iter().any(|(k, _)| k == "rust-2"),
        )
        .await;
    eprintln!(
        "FIGURE Rust graceful leave -> Python Partitioner: {:?}",
        t.elapsed().max(took)
    );

    // SIGKILL a Python member -> pruned from our view after its TTL (1 s).
    let mut py3 = PyMember::spawn(&python, &url, "py-3", group, 1).await;
    wait_for("rust-1 sees py-3", Duration::from_secs(5), || async {
        rx1.borrow().foreign.contains_key(&MemberId::from("py-3"))
    })
    .await;
    py3.child.start_kill().unwrap();
    let _ = py3.child.wait().await;
    let took = wait_for(
        "rust-1 prunes the killed py-3",
        Duration::from_secs(5),
        || async { !rx1.borrow().foreign.contains_key(&MemberId::from("py-3")) },
    )
    .await;
    eprintln!("FIGURE python SIGKILL -> removed from Rust view: {took:?} (membership_timeout 1 s, heartbeat {HB:?}; python beats every ~0.5 s)");
    assert!(
        took <= Duration::from_millis(1000) + HB + Duration::from_millis(200),
        "{took:?}"
    );

    // Rust member stops beating (task aborted, no leave) -> Python prunes it after the TTL.
    let (r3, rx3) = start(rust_cfg("rust-3", 1)).unwrap();
    wait_for("rust-3 joined", Duration::from_secs(5), || async {
        rx3.borrow().is_connected()
    })
    .await;
    py1.wait_ring("python ring holds rust-3", Duration::from_secs(5), |r| {
        r.iter().any(|(k, _)| k == "rust-3")
    })
    .await;
    drop(r3);
    let took = py1
        .wait_ring(
            "python ring drops rust-3 after its beat expires",
            Duration::from_secs(5),
            |r| !r.iter().any(|(k, _)| k == "rust-3"),
        )
        .await;
    eprintln!("FIGURE Rust beats stopped -> removed from Python Partitioner: {took:?} (membership_timeout 1 s)");
    assert!(
        took <= Duration::from_millis(1000) + Duration::from_millis(400),
        "{took:?}"
    );

    // Python's get_members agrees.
    let m = py1.ask("members").await;
    assert_eq!(m["members"], serde_json::json!(["py-1", "rust-1"]));
    py1.stop().await;
    r1.leave().await.unwrap();
}
