//! `group members` and live `ring` against a real redis-server with members that joined
//! through the coordination crate (as agents do).
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;
use std::time::Duration;

use coordination::{CoordinationConfig, RedisUrl};
use partitioner::HashRing;
use testsupport::{wait_for, Proc};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ceilometer-central"));
    c.env("HOME", "/nonexistent-home");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_members_and_live_ring_see_the_joined_agents() {
    let redis = Proc::redis(&[]).await;
    let url = format!(
        "redis://127.0.0.1:{}?timeout=5&membership_timeout=5",
        redis.port
    );
    let mut handles = Vec::new();
    let mut views = Vec::new();
    for (id, weight) in [("ctl-a", 1), ("ctl-b", 2)] {
        let mut cfg = CoordinationConfig::new(RedisUrl::parse(&url).unwrap(), id, "central-global");
        cfg.weight = weight;
        cfg.heartbeat = Duration::from_millis(200);
        let (h, v) = coordination::start(cfg).unwrap();
        handles.push(h);
        views.push(v);
    }
    let v = views[0].clone();
    wait_for(
        "both members in ctl-a's view",
        Duration::from_secs(10),
        || {
            let n = v.borrow().members.len();
            async move { n == 2 }
        },
    )
    .await;

    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            bin()
                .args(["group", "members", "--backend-url", &url])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Group central-global"), "{text}");
    for line in ["ctl-a", "ctl-b"] {
        let l = text
            .lines()
            .find(|l| l.trim_start().starts_with(line))
            .unwrap_or_else(|| panic!("{line} in {text}"));
        assert!(l.contains("ours"), "{l}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("ctl-b") && l.contains(" 2 ")),
        "weight 2 shown: {text}"
    );
    assert!(
        text.contains("2 live ceilometer-central member(s)"),
        "{text}"
    );

    // Live ring: same owners as a ring built from the same members and weights.
    let keys = [
        "5b08acc2-13a5-4f07-9a1b-195060c40eb7",
        "http://127.0.0.1:5000/v3",
        "p1",
        "snmp://127.0.0.1",
    ];
    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            bin()
                .args(["ring", "--backend-url", &url, "--group", "central-global"])
                .args(keys)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ring = HashRing::with_members(
        coordination::RING_PARTITIONS,
        [("ctl-a", 1u32), ("ctl-b", 2u32)],
    )
    .unwrap();
    let want: Vec<String> = keys
        .iter()
        .map(|k| {
            ring.owner(k.as_bytes())
                .unwrap()
                .id_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want);

    for h in handles {
        h.leave().await.unwrap();
    }
    // After both left, the group is empty.
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["group", "members", "--backend-url", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no members"));
}

#[test]
fn group_members_reports_an_unreachable_backend() {
    let port = testsupport::free_port();
    let out = bin()
        .args([
            "group",
            "members",
            "--backend-url",
            &format!("redis://:pw@127.0.0.1:{port}?timeout=1"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot read group central-global"), "{err}");
    assert!(!err.contains(":pw@"), "password masked: {err}");
}
