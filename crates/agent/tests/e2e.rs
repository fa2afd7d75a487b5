//! End to end with real processes: `redis-server`, three (then four) `ceilometer-central`
//! processes, and simcloud (in this test process) whose accounting says, per cycle, which
//! Swift accounts were polled zero, one or several times.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{cycle_ahead, cycle_start, sleep_until_wall, Agent, Harness};
use simcloud::stats::PollKind;
use testsupport::{wait_for, Proc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_across_leave_join_crash_and_reload() {
    let _serial = common::serial().await;
    let redis = Proc::redis(&[]).await;
    let mut h = Harness::start(
        150,
        format!(
            "redis://127.0.0.1:{}?timeout=3&membership_timeout=1.5",
            redis.port
        ),
    )
    .await;
    h.extra = "[polling]\nenable_notifications = false\n".into();

    let mut agents: BTreeMap<String, Agent> = BTreeMap::new();
    for n in ["agent-1", "agent-2", "agent-3"] {
        agents.insert(n.into(), h.start_agent(n));
    }
    for a in agents.values() {
        wait_for(
            &format!("{} ready", a.name),
            Duration::from_secs(30),
            || a.ready(),
        )
        .await;
    }
    let k0 = cycle_ahead(2);
    let mut events = Vec::new();
    // Timeline (cycle numbers relative to k0), 0.3 s into the cycle: a graceful leave or a
    // join every two cycles, a SIGKILL mid-cycle, and two reloads.
    //  2: agent-2 SIGTERM   4: agent-4 joins   6: agent-3 SIGTERM   8: agent-5 joins
    // 10: agent-4 SIGKILL  11: SIGHUP agent-1 adds a meter  12: SIGHUP with a broken file
    const CYCLES: i64 = 14;
    const KILL_AT: i64 = 10;
    for step in 0..CYCLES {
        sleep_until_wall(cycle_start(k0 + step) + 300_000).await;
        match step {
            2 | 6 => {
                let name = if step == 2 { "agent-2" } else { "agent-3" };
                let a = agents.get_mut(name).unwrap();
                a.signal("TERM");
                let status = a
                    .wait_exit(Duration::from_secs(30))
                    .expect("exits after SIGTERM");
                assert!(status.success(), "SIGTERM exits 0: {status:?}");
                events.push(format!("cycle {step}: {name} left (SIGTERM, exit 0)"));
            }
            4 | 8 => {
                let name = if step == 4 { "agent-4" } else { "agent-5" };
                agents.insert(name.into(), h.start_agent(name));
                events.push(format!("cycle {step}: {name} started"));
            }
            KILL_AT => {
                let a = agents.get_mut("agent-4").unwrap();
                a.signal("KILL");
                let _ = a.wait_exit(Duration::from_secs(5));
                events.push(format!("cycle {step}: agent-4 SIGKILLed"));
            }
            11 => {
                let a = agents.get("agent-1").unwrap();
                h.write_conf(
                    "agent-1",
                    a.admin,
                    &["storage.objects", "storage.containers.objects"],
                );
                a.signal("HUP");
                events.push(format!(
                    "cycle {step}: agent-1 SIGHUP (adds storage.containers.objects)"
                ));
            }
            12 => {
                let a = agents.get("agent-1").unwrap();
                std::fs::write(
                    h.dir.path().join("agent-1-polling.yaml"),
                    "sources:\n  - name: broken\n    interval: 0\n",
                )
                .unwrap();
                a.signal("HUP");
                events.push(format!(
                    "cycle {step}: agent-1 SIGHUP with a broken polling.yaml"
                ));
            }
            _ => {}
        }
    }
    sleep_until_wall(cycle_start(k0 + CYCLES + 1)).await;

    let mut table = Vec::new();
    let mut failures = Vec::new();
    for step in 0..CYCLES {
        let (line, missed, dup) = h.coverage(&format!("cycle {step:>2}"), k0 + step);
        // Exactly once, except that a SIGKILL may re-poll part of the dead agent's share.
        if missed > 0 || (step != KILL_AT && dup > 0) {
            failures.push(line.clone());
        }
        table.push(line);
    }
    println!("{}\n{}", events.join("\n"), table.join("\n"));
    if !failures.is_empty() {
        for a in agents.keys() {
            println!("--- {a} log tail ---\n{}", h.log_tail(a));
        }
    }
    assert!(
        failures.is_empty(),
        "coverage failures:\n{}",
        failures.join("\n")
    );

    // The first reload added storage.containers.objects: a Swift GET per account happens; the
    // broken second reload did not remove it.
    let last = k0 + CYCLES - 1;
    let gets = h.sim.stats().coverage(
        PollKind::SwiftGetAccount,
        &h.projects,
        h.sim_time(cycle_start(last)),
        h.sim_time(cycle_start(last + 1)),
    );
    assert!(
        !gets.polled_once.is_empty(),
        "the meter added by SIGHUP is polled; log:\n{}",
        h.log_tail("agent-1")
    );
    let log = std::fs::read_to_string(h.dir.path().join("agent-1.log")).unwrap();
    assert!(
        log.contains("Interval value should > 0"),
        "the broken file's problem is reported"
    );
    assert!(log.contains("the running one stays in force"));

    // The SIGKILL happened mid-cycle: the survivors took its unfinished share over.
    let takeovers: f64 = agents
        .values()
        .filter(|a| a.child.is_some())
        .filter_map(|a| a.metric("ceilometer_central_takeovers_total"))
        .sum();
    assert!(takeovers >= 1.0, "the crashed agent's share was taken over");
    for a in agents.values_mut().filter(|a| a.child.is_some()) {
        a.signal("TERM");
        assert!(
            a.wait_exit(Duration::from_secs(30))
                .is_some_and(|s| s.success()),
            "{} exits 0",
            a.name
        );
    }
}
