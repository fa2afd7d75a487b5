//! The admin listener and `status` against a running fleet.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{cycle_ahead, cycle_start, sleep_until_wall, Harness};
use testsupport::{http_get, wait_for, Proc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_status() {
    let _serial = common::serial().await;
    let redis = Proc::redis(&[]).await;
    let url = format!(
        "redis://127.0.0.1:{}?timeout=3&membership_timeout=2",
        redis.port
    );
    let mut h = Harness::start(60, url.clone()).await;
    h.extra = "[polling]\nenable_notifications = false\n".into();
    let a1 = h.start_agent("agent-1");
    let a2 = h.start_agent("agent-2");
    for a in [&a1, &a2] {
        wait_for(
            &format!("{} ready", a.name),
            Duration::from_secs(30),
            || a.ready(),
        )
        .await;
    }
    // Two full cycles so every member has recorded one.
    let k = cycle_ahead(1);
    sleep_until_wall(cycle_start(k + 2) + 1_500_000).await;

    let (code, body) = http_get(a1.admin, "/healthz").unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) = http_get(a1.admin, "/readyz").unwrap();
    assert_eq!(code, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    for check in ["coordination", "keystone", "publishers"] {
        assert_eq!(ready["checks"][check]["ok"], true, "{check}: {body}");
    }
    let (_, metrics) = http_get(a1.admin, "/metrics").unwrap();
    for family in [
        "ceilometer_central_cycle_duration_seconds{interval=\"4\"}",
        "ceilometer_central_resources_owned{interval=\"4\"}",
        "ceilometer_central_samples_polled_total",
        "ceilometer_central_members 2",
        "ceilometer_central_coordination_connected 1",
        "ceilometer_central_foreign_members 0",
        "ceilometer_central_last_successful_cycle_timestamp_seconds",
        "ceilometer_central_api_requests_total{service=\"object-store\",status=\"204\"}",
        "ceilometer_central_api_requests_total{service=\"identity\",status=\"201\"}",
    ] {
        assert!(metrics.contains(family), "{family} missing in:\n{metrics}");
    }
    assert_eq!(http_get(a1.admin, "/nope").unwrap().0, 404);

    // `status`: both members, their shares, and complete coverage of a finished cycle.
    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_ceilometer-central"))
                .args(["status", "--backend-url", &url, "--group", "central-global"])
                .env("HOME", "/nonexistent-home")
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
    for n in ["agent-1", "agent-2"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(n))
            .unwrap_or_else(|| panic!("{n} in {text}"));
        assert!(line.contains('%'), "share shown: {line}");
    }
    assert!(
        text.contains(": complete"),
        "a finished cycle is complete:\n{text}"
    );

    // An agent that cannot authenticate is alive but not ready, and says why.
    h.extra
        .push_str("[service_credentials]\npassword = wrong\n");
    let bad = h.start_agent("agent-bad");
    wait_for(
        "agent-bad reports Keystone errors on /readyz",
        Duration::from_secs(30),
        || async {
            http_get(bad.admin, "/readyz")
                .is_some_and(|(code, body)| code == 503 && body.contains("identity_errors"))
        },
    )
    .await;
    assert_eq!(
        http_get(bad.admin, "/healthz").unwrap().0,
        200,
        "alive though not ready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_notify_watchdog_and_sigint() {
    let _serial = common::serial().await;
    let mut h = Harness::start(20, "unused".into()).await;
    // No coordination: a lone agent polls everything and is ready at its first cycle.
    h.backend_url = String::new();
    h.extra = "[polling]\nenable_notifications = false\n".into();
    let sock_path = h.dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut a = h.start_agent_env(
        "agent-1",
        &[
            ("NOTIFY_SOCKET", sock_path.display().to_string()),
            ("WATCHDOG_USEC", "1000000".into()),
        ],
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !(got.iter().any(|m: &String| m.starts_with("READY=1"))
        && got.iter().any(|m| m == "WATCHDOG=1"))
    {
        let n = tokio::task::block_in_place(|| sock.recv(&mut buf))
            .expect("a notify message within 20 s");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(got[0].starts_with("READY=1"), "{got:?}");
    // SIGINT: stop at once, without waiting for a cycle.
    let t = tokio::time::Instant::now();
    a.signal("INT");
    let status = a
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGINT");
    assert!(status.success(), "{status:?}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "immediate: {:?}",
        t.elapsed()
    );
    // Everything sent before exit is queued on our socket; STOPPING=1 must be among it.
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut rest = Vec::new();
    while let Ok(n) = sock.recv(&mut buf) {
        rest.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(rest.iter().any(|m| m == "STOPPING=1"), "{rest:?}");
}

/// Series of a text-format scrape: `name{labels}` of every sample line.
fn series(body: &str) -> Vec<String> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            // name{labels} value timestamp: the labels may contain spaces, so cut at '}'.
            match l.find('}') {
                Some(i) => Some(l[..=i].to_owned()),
                None => l.split_whitespace().next().map(str::to_owned),
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_exporters_serve_each_series_exactly_once_across_the_fleet() {
    let _serial = common::serial().await;
    let redis = Proc::redis(&[]).await;
    let url = format!(
        "redis://127.0.0.1:{}?timeout=3&membership_timeout=2",
        redis.port
    );
    let h0 = Harness::start(80, url).await;
    let ports: Vec<u16> = (0..3).map(|_| testsupport::free_port()).collect();
    let mut agents = Vec::new();
    let mut h = h0;
    for (i, port) in ports.iter().enumerate() {
        h.extra = format!(
            "[polling]\nenable_notifications = false\nenable_prometheus_exporter = true\nprometheus_listen_addresses = 127.0.0.1:{port}\n"
        );
        agents.push(h.start_agent(&format!("agent-{}", i + 1)));
    }
    for a in &agents {
        wait_for(
            &format!("{} ready", a.name),
            Duration::from_secs(30),
            || a.ready(),
        )
        .await;
    }
    let expected = h.projects.len();
    let union = |ports: &[u16]| -> (usize, usize, usize) {
        let mut count: std::collections::BTreeMap<String, usize> =
            std::collections::BTreeMap::new();
        for p in ports {
            if let Some((200, body)) = http_get(*p, "/metrics") {
                for s in series(&body)
                    .into_iter()
                    .filter(|s| s.starts_with("ceilometer_storage_objects{"))
                {
                    *count.entry(s).or_default() += 1;
                }
            }
        }
        let dup = count.values().filter(|n| **n > 1).count();
        (count.len(), dup, count.values().sum())
    };
    let k = cycle_ahead(1);
    sleep_until_wall(cycle_start(k + 2) + 2_000_000).await;
    let (distinct, dup, _) = union(&ports);
    assert_eq!(
        (distinct, dup),
        (expected, 0),
        "every Swift account once across the three exporters"
    );

    // agent-3 leaves; at the next complete cycle the two others serve everything, once.
    let mut a3 = agents.pop().unwrap();
    a3.signal("TERM");
    assert!(a3
        .wait_exit(Duration::from_secs(30))
        .is_some_and(|s| s.success()));
    let k = cycle_ahead(1);
    sleep_until_wall(cycle_start(k + 1) + 2_000_000).await;
    let (distinct, dup, _) = union(&ports[..2]);
    assert_eq!(
        (distinct, dup),
        (expected, 0),
        "complete again after a leave"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnocchi_publisher_gets_its_token_from_the_agents_keystone_session() {
    let _serial = common::serial().await;
    let mut h = Harness::start(10, String::new()).await;
    h.extra = "[polling]\nenable_notifications = false\n[ceilometer_central]\npublishers = gnocchi://?archive_policy=ceilometer-low\n".into();
    let a = h.start_agent("agent-1");
    wait_for("agent-1 ready", Duration::from_secs(30), || a.ready()).await;
    let project = h.projects[0].clone();
    let g = h.sim.gnocchi();
    wait_for(
        "measures of a Swift account in Gnocchi",
        Duration::from_secs(30),
        || {
            let n = g.measures(&project, "storage.objects").len();
            async move { n > 0 }
        },
    )
    .await;
    assert!(
        g.archive_policies().iter().any(|p| p == "ceilometer-low"),
        "{:?}",
        g.archive_policies()
    );
    assert!(
        g.resource("swift_account", &project).is_some(),
        "the resource was created"
    );
}
