//! End to end under infrastructure faults: Redis stopped for three cycles; a Sentinel
//! failover in the middle of a cycle, with the samples verified on a real RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{cycle_ahead, cycle_start, sleep_until_wall, Harness};
use lapin::options::BasicGetOptions;
use testsupport::rabbitmq::Rabbit;
use testsupport::{wait_for, Proc};

fn check(h: &Harness, k0: i64, steps: i64) -> Vec<String> {
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for step in 0..steps {
        let (line, missed, dup) = h.coverage(&format!("cycle {step:>2}"), k0 + step);
        if missed > 0 || dup > 0 {
            failures.push(line.clone());
        }
        table.push(line);
    }
    println!("{}", table.join("\n"));
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_of_three_cycles_keeps_polling_on_the_last_view() {
    let _serial = common::serial().await;
    let mut redis = Proc::redis(&[]).await;
    let mut h = Harness::start(
        120,
        format!(
            "redis://127.0.0.1:{}?timeout=1&membership_timeout=2",
            redis.port
        ),
    )
    .await;
    h.extra = "[polling]\nenable_notifications = false\n".into();
    let agents: Vec<_> = ["agent-1", "agent-2"]
        .iter()
        .map(|n| h.start_agent(n))
        .collect();
    for a in &agents {
        wait_for(
            &format!("{} ready", a.name),
            Duration::from_secs(30),
            || a.ready(),
        )
        .await;
    }
    let k0 = cycle_ahead(2);
    // Redis down during cycles 2, 3 and 4 (longer than membership_timeout), back for 5.
    sleep_until_wall(cycle_start(k0 + 2) - 500_000).await;
    redis.kill();
    sleep_until_wall(cycle_start(k0 + 5) - 500_000).await;
    redis.restart().await; // empty: the group and members must come back by themselves
    sleep_until_wall(cycle_start(k0 + 9)).await;
    let failures = check(&h, k0, 9);
    for a in &agents {
        assert!(a.child.is_some(), "{} still running", a.name);
        assert_eq!(
            a.metric("ceilometer_central_coordination_connected"),
            Some(1.0),
            "{} reconnected",
            a.name
        );
        assert_eq!(
            a.metric("ceilometer_central_members"),
            Some(2.0),
            "{} sees both members again",
            a.name
        );
    }
    assert!(
        failures.is_empty(),
        "coverage failures:\n{}\n{}",
        failures.join("\n"),
        h.log_tail("agent-1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_mid_cycle_and_samples_on_the_bus() {
    let _serial = common::serial().await;
    let rabbit = tokio::task::spawn_blocking(Rabbit::start).await.unwrap();
    let mut master = Proc::redis(&[]).await;
    let mport = master.port.to_string();
    let _r1 = Proc::redis(&["--replicaof", "127.0.0.1", &mport]).await;
    let _r2 = Proc::redis(&["--replicaof", "127.0.0.1", &mport]).await;
    let s: Vec<Proc> =
        futures_util::future::join_all((0..3).map(|_| Proc::sentinel(master.port, 1000))).await;
    let url = format!(
        "redis://127.0.0.1:{}?sentinel=mymaster&sentinel_fallback=127.0.0.1:{}&sentinel_fallback=127.0.0.1:{}&timeout=2&membership_timeout=5",
        s[0].port, s[1].port, s[2].port
    );
    let mut h = Harness::start(120, url).await;
    h.extra = format!(
        "[oslo_messaging_notifications]\ntransport_url = {}\n[DEFAULT]\ncontrol_exchange = ceilometer\n",
        rabbit.transport_url()
    );
    let agents: Vec<_> = ["agent-1", "agent-2"]
        .iter()
        .map(|n| h.start_agent(n))
        .collect();
    for a in &agents {
        wait_for(
            &format!("{} ready", a.name),
            Duration::from_secs(30),
            || a.ready(),
        )
        .await;
    }
    let k0 = cycle_ahead(2);
    // Kill the master 0.3 s into cycle 2: Sentinel promotes a replica during the cycle.
    sleep_until_wall(cycle_start(k0 + 2) + 300_000).await;
    master.kill();
    sleep_until_wall(cycle_start(k0 + 7)).await;
    let failures = check(&h, k0, 7);
    for a in &agents {
        assert_eq!(
            a.metric("ceilometer_central_members"),
            Some(2.0),
            "{} kept its membership",
            a.name
        );
    }
    assert!(
        failures.is_empty(),
        "coverage failures:\n{}\n{}",
        failures.join("\n"),
        h.log_tail("agent-1")
    );

    // The samples reached RabbitMQ in the bus format.
    let conn =
        lapin::Connection::connect(&rabbit.amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut samples = 0;
    let mut messages = 0;
    while let Some(m) = ch
        .basic_get(
            "notifications.sample".into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
    {
        let body: serde_json::Value = serde_json::from_slice(&m.delivery.data).unwrap();
        assert_eq!(body["oslo.version"], "2.0");
        let inner: serde_json::Value =
            serde_json::from_str(body["oslo.message"].as_str().unwrap()).unwrap();
        assert_eq!(inner["event_type"], "telemetry.polling");
        assert_eq!(inner["publisher_id"], "ceilometer.polling");
        for s in inner["payload"]["samples"].as_array().unwrap() {
            assert_eq!(s["counter_name"], "storage.objects");
            assert_eq!(s["message_signature"].as_str().unwrap().len(), 64);
            samples += 1;
        }
        messages += 1;
    }
    println!("bus: {messages} messages, {samples} samples");
    assert!(
        samples >= 120 * 5,
        "every cycle's samples are on the bus: {samples}"
    );
}
