//! Sentinel failover: one master, two replicas, three sentinels, all real processes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::common;

use std::time::Duration;

use crate::common::{init_tracing, wait_for, Proc};
use coordination::{start, CoordinationConfig, MemberId, RedisUrl};
use tokio::time::Instant;

const DOWN_AFTER_MS: u64 = 1000;
const HB: Duration = Duration::from_millis(250);

async fn master_port(sentinel: &Proc) -> Option<u16> {
    let c = redis::Client::open(sentinel.url()).ok()?;
    let mut conn =
        tokio::time::timeout(Duration::from_secs(1), c.get_multiplexed_async_connection())
            .await
            .ok()?
            .ok()?;
    let r: Vec<String> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg("mymaster")
        .query_async(&mut conn)
        .await
        .ok()?;
    r.get(1)?.parse().ok()
}

async fn sentinel_count(sentinel: &Proc, what: &str) -> usize {
    let mut conn = sentinel.conn().await;
    let r: Result<Vec<redis::Value>, _> = redis::cmd("SENTINEL")
        .arg(what)
        .arg("mymaster")
        .query_async(&mut conn)
        .await;
    r.map(|v| v.len()).unwrap_or(0)
}

async fn pttl_on(port: u16, key: &str) -> Option<i64> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut conn =
        tokio::time::timeout(Duration::from_secs(1), c.get_multiplexed_async_connection())
            .await
            .ok()?
            .ok()?;
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .ok()
}

async fn hexists_on(port: u16, key: &str, field: &str) -> bool {
    let Ok(c) = redis::Client::open(format!("redis://127.0.0.1:{port}")) else {
        return false;
    };
    let Ok(mut conn) = c.get_multiplexed_async_connection().await else {
        return false;
    };
    redis::cmd("HEXISTS")
        .arg(key)
        .arg(field)
        .query_async::<i64>(&mut conn)
        .await
        .unwrap_or(0)
        == 1
}

/// Waits until the master named by the sentinels is not `old` and our beat key there has
/// been rewritten (its PTTL went up: only a new PSETEX raises it). Returns (new port, time).
async fn wait_fresh_beat_on_new_master(
    sentinel: &Proc,
    old: u16,
    limit: Duration,
) -> (u16, Duration) {
    let start = Instant::now();
    let mut last: Option<(u16, i64)> = None;
    loop {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for: our beat on a new master (last seen {last:?})"
        );
        if let Some(port) = master_port(sentinel).await.filter(|p| *p != old) {
            if let Some(ttl) = pttl_on(port, "_tooz_beats:node-a").await {
                if let Some((p, prev)) = last {
                    if p == port && ttl > prev {
                        return (port, start.elapsed());
                    }
                }
                last = Some((port, ttl));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_planned_failover_master_kill_and_empty_restart() {
    init_tracing();
    let master = Proc::redis(&[]).await;
    let mport = master.port.to_string();
    let _r1 = Proc::redis(&["--replicaof", "127.0.0.1", &mport]).await;
    let _r2 = Proc::redis(&["--replicaof", "127.0.0.1", &mport]).await;
    let s1 = Proc::sentinel(master.port, DOWN_AFTER_MS).await;
    let s2 = Proc::sentinel(master.port, DOWN_AFTER_MS).await;
    let s3 = Proc::sentinel(master.port, DOWN_AFTER_MS).await;
    for s in [&s1, &s2, &s3] {
        wait_for(
            "each sentinel knows 2 replicas and 2 other sentinels",
            Duration::from_secs(30),
            || async {
                sentinel_count(s, "replicas").await == 2
                    && sentinel_count(s, "sentinels").await == 2
            },
        )
        .await;
    }
    let mut procs = [master, _r1, _r2];

    // The first sentinel in the URL is a dead port: asked in turn, the next one answers.
    let dead = common::free_port();
    let url = RedisUrl::parse(&format!(
        "redis://127.0.0.1:{dead}?sentinel=mymaster&sentinel_fallback=127.0.0.1:{}&sentinel_fallback=127.0.0.1:{}&sentinel_fallback=127.0.0.1:{}&timeout=2&membership_timeout=5",
        s1.port, s2.port, s3.port
    ))
    .unwrap();
    let mut cfg = CoordinationConfig::new(url, "node-a", "central-global");
    cfg.heartbeat = HB;
    let (a, ra) = start(cfg).unwrap();
    let me = MemberId::from("node-a");
    wait_for(
        "node-a joined through sentinel",
        Duration::from_secs(10),
        || async { ra.borrow().is_connected() && ra.borrow().members.contains_key(&me) },
    )
    .await;
    let first = master_port(&s1).await.unwrap();
    assert!(hexists_on(first, "_tooz_group:central-global", "node-a").await);
    for r in procs.iter().filter(|p| p.port != first) {
        wait_for(
            "the group replicated to every replica",
            Duration::from_secs(10),
            || async { hexists_on(r.port, "_tooz_group:central-global", "node-a").await },
        )
        .await;
    }

    // Planned failover: followed through +switch-master, not after the old master's demotion.
    let mut conn = s1.conn().await;
    let _: () = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg("mymaster")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (second, took) = wait_fresh_beat_on_new_master(&s1, first, Duration::from_secs(20)).await;
    eprintln!(
        "FIGURE planned SENTINEL FAILOVER -> beats on the new master: {took:?} (heartbeat {HB:?})"
    );
    assert!(hexists_on(second, "_tooz_group:central-global", "node-a").await);
    assert!(ra.borrow().members.contains_key(&me));
    assert!(
        took < Duration::from_secs(3),
        "followed +switch-master, not the old master's demotion: {took:?}"
    );
    for r in procs.iter().filter(|p| p.port != second) {
        wait_for(
            "the group replicated from the new master",
            Duration::from_secs(15),
            || async { hexists_on(r.port, "_tooz_group:central-global", "node-a").await },
        )
        .await;
    }

    // SIGKILL the current master.
    let t = Instant::now();
    procs
        .iter_mut()
        .find(|p| p.port == second)
        .expect("new master is one of ours")
        .kill();
    let (third, took) = wait_fresh_beat_on_new_master(&s1, second, Duration::from_secs(30)).await;
    eprintln!(
        "FIGURE master SIGKILL -> beats on the new master: {took:?} (down-after {DOWN_AFTER_MS} ms, heartbeat {HB:?}, membership_timeout 5 s)"
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "member must not expire: {:?}",
        t.elapsed()
    );
    assert!(
        hexists_on(third, "_tooz_group:central-global", "node-a").await,
        "membership kept"
    );
    wait_for(
        "view connected again with node-a",
        Duration::from_secs(5),
        || async { ra.borrow().is_connected() && ra.borrow().members.contains_key(&me) },
    )
    .await;

    // The master loses everything (restarted empty): group and member come back.
    let c = redis::Client::open(format!("redis://127.0.0.1:{third}")).unwrap();
    let mut mconn = c.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut mconn)
        .await
        .unwrap();
    let took = wait_for(
        "group and member recreated on the master",
        Duration::from_secs(5),
        || async {
            hexists_on(third, "_tooz_group:central-global", "node-a").await
                && hexists_on(third, "_tooz_group:central-global", "__created__").await
        },
    )
    .await;
    eprintln!("FIGURE master emptied -> group and member back: {took:?}");

    a.leave().await.unwrap();
    assert!(!hexists_on(third, "_tooz_group:central-global", "node-a").await);
}
