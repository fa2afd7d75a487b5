//! Membership against a real `redis-server` on a free loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use crate::common::{command_calls, init_tracing, wait_for, Proc};
use coordination::{
    describe_members, start, CoordinationConfig, MemberId, MemberKind, MembershipView, RedisUrl,
};
use tokio::sync::watch;
use tokio::time::Instant;

const HB: Duration = Duration::from_millis(200);
const TTL_MS: u64 = 1000;

fn config(port: u16, me: &str, group: &str) -> CoordinationConfig {
    let url = RedisUrl::parse(&format!(
        "redis://127.0.0.1:{port}?timeout=2&membership_timeout={}",
        TTL_MS as f64 / 1000.0
    ))
    .unwrap();
    let mut c = CoordinationConfig::new(url, me, group);
    c.heartbeat = HB;
    c
}

fn has(rx: &watch::Receiver<MembershipView>, ids: &[&str]) -> bool {
    let v = rx.borrow();
    v.is_connected()
        && v.members.len() == ids.len()
        && ids
            .iter()
            .all(|i| v.members.contains_key(&MemberId::from(*i)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_keys_expiry_leave_and_cost() {
    init_tracing();
    let redis = Proc::redis(&[]).await;
    let mut conn = redis.conn().await;
    let group = "central-global";

    let (a, ra) = start(config(redis.port, "node-a", group)).unwrap();
    let (b, rb) = start(config(redis.port, "node-b", group)).unwrap();
    let (c, rc) = start(config(redis.port, "node-c", group)).unwrap();
    let all = ["node-a", "node-b", "node-c"];
    for rx in [&ra, &rb, &rc] {
        wait_for(
            "every member sees all three",
            Duration::from_secs(5),
            || async { has(rx, &all) },
        )
        .await;
    }

    // tooz's exact layout.
    let groups: Vec<String> = redis::cmd("SMEMBERS")
        .arg("_tooz_groups")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(groups, vec![group.to_string()]);
    let created: String = redis::cmd("HGET")
        .arg("_tooz_group:central-global")
        .arg("__created__")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(created, "1");
    let caps: Vec<u8> = redis::cmd("HGET")
        .arg("_tooz_group:central-global")
        .arg("node-a")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        &caps[1..9],
        b"\xa6weight\x01",
        "weight first, tooz-readable"
    );
    let beat: String = redis::cmd("GET")
        .arg("_tooz_beats:node-a")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(beat, "Not dead!");
    let pttl: i64 = redis::cmd("PTTL")
        .arg("_tooz_beats:node-a")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= TTL_MS as i64, "{pttl}");
    let epoch = ra.borrow().epoch;

    // Cost: commands per member per second over a 3 s measurement window.
    let before = command_calls(&mut conn).await;
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await; // measurement window, not synchronisation
    let after = command_calls(&mut conn).await;
    let rate = (after - before) as f64 / t.elapsed().as_secs_f64() / 3.0;
    let per_tick = rate * HB.as_secs_f64();
    eprintln!("FIGURE commands per member per second at heartbeat {HB:?}: {rate:.2} ({per_tick:.2} per tick)");
    assert!(per_tick < 4.5, "{per_tick}");
    assert_eq!(
        ra.borrow().epoch,
        epoch,
        "view must not change without a membership change"
    );

    // Graceful leave: seen by peers within one heartbeat.
    let t = Instant::now();
    b.leave().await.unwrap();
    let leave_at = t.elapsed();
    let took = wait_for("a and c see b's leave", Duration::from_secs(5), || async {
        has(&ra, &["node-a", "node-c"]) && has(&rc, &["node-a", "node-c"])
    })
    .await;
    eprintln!(
        "FIGURE graceful leave -> every peer's view: {:?} (heartbeat {HB:?})",
        took + leave_at
    );
    assert!(took <= HB + Duration::from_millis(150), "{took:?}");
    let beat_b: Option<String> = redis::cmd("GET")
        .arg("_tooz_beats:node-b")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(beat_b, None);

    // Stop c's beats (task aborted, no leave): removed within TTL + 1 heartbeat.
    drop(c);
    let t = Instant::now();
    let took = wait_for(
        "a drops c after its beat expires",
        Duration::from_secs(5),
        || async { has(&ra, &["node-a"]) },
    )
    .await;
    let _ = t;
    eprintln!("FIGURE stopped beats -> removal from peer view: {took:?} (membership_timeout {TTL_MS} ms + heartbeat {HB:?})");
    assert!(
        took <= Duration::from_millis(TTL_MS) + HB + Duration::from_millis(200),
        "{took:?}"
    );
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg("_tooz_group:central-global")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        !fields.contains(&"node-c".to_string()),
        "pruned with HDEL: {fields:?}"
    );

    // Our member pruned by someone else (e.g. a peer during our outage): rejoin at once.
    let _: () = redis::cmd("HDEL")
        .arg("_tooz_group:central-global")
        .arg("node-a")
        .query_async(&mut conn)
        .await
        .unwrap();
    wait_for(
        "a rejoins after being pruned",
        Duration::from_secs(2),
        || async {
            let mut conn = redis.conn().await;
            redis::cmd("HEXISTS")
                .arg("_tooz_group:central-global")
                .arg("node-a")
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
                == 1
        },
    )
    .await;

    // Everything gone (Redis restarted empty / failover lost it): group and member return.
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
    wait_for(
        "group recreated with a in it",
        Duration::from_secs(2),
        || async {
            let mut conn = redis.conn().await;
            let g: Vec<String> = redis::cmd("SMEMBERS")
                .arg("_tooz_groups")
                .query_async(&mut conn)
                .await
                .unwrap();
            let f: i64 = redis::cmd("HEXISTS")
                .arg("_tooz_group:central-global")
                .arg("node-a")
                .query_async(&mut conn)
                .await
                .unwrap();
            g == vec![group.to_string()] && f == 1
        },
    )
    .await;

    // describe_members: ours, a foreign tooz member, a dead one.
    let _: () = redis::cmd("HSET")
        .arg("_tooz_group:central-global")
        .arg("py-1")
        .arg(&b"\x81\xa6weight\x02"[..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("PSETEX")
        .arg("_tooz_beats:py-1")
        .arg(30000)
        .arg("Not dead!")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("_tooz_group:central-global")
        .arg("dead-1")
        .arg(&b"\xc0"[..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let url = RedisUrl::parse(&redis.url()).unwrap();
    let d = describe_members(
        &url,
        group,
        &MemberId::from("node-a"),
        coordination::DEFAULT_KEY_SCHEME,
    )
    .await
    .unwrap();
    let mine = d.iter().find(|m| m.id == MemberId::from("node-a")).unwrap();
    assert!(mine.is_this_host && mine.kind == MemberKind::Ours && mine.is_alive());
    let py = d.iter().find(|m| m.id == MemberId::from("py-1")).unwrap();
    assert_eq!(py.weight, 2);
    assert!(matches!(py.kind, MemberKind::Foreign(_)) && !py.is_this_host);
    assert!(py.heartbeat_ttl.unwrap() > Duration::from_secs(29));
    // dead-1 may already be pruned by a's tick; if listed, it is dead.
    if let Some(dead) = d.iter().find(|m| m.id == MemberId::from("dead-1")) {
        assert!(!dead.is_alive());
    }
    wait_for(
        "a sees py-1 as foreign and keeps it out of the ring",
        Duration::from_secs(2),
        || async {
            let v = ra.borrow();
            v.foreign.contains_key(&MemberId::from("py-1"))
                && v.members.len() == 1
                && v.foreign_count() == 1
        },
    )
    .await;

    a.leave().await.unwrap();
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg("_tooz_group:central-global")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!fields.contains(&"node-a".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_keeps_the_view_and_rejoins() {
    init_tracing();
    let mut redis = Proc::redis(&[]).await;
    let (a, ra) = start(config(redis.port, "node-a", "g")).unwrap();
    let (b, rb) = start(config(redis.port, "node-b", "g")).unwrap();
    for rx in [&ra, &rb] {
        wait_for("both members seen", Duration::from_secs(5), || async {
            has(rx, &["node-a", "node-b"])
        })
        .await;
    }
    let epoch = ra.borrow().epoch;
    redis.kill();
    wait_for("a degraded", Duration::from_secs(5), || async {
        !ra.borrow().is_connected()
    })
    .await;
    // Stay down for longer than membership_timeout (an external outage we are simulating).
    tokio::time::sleep(Duration::from_millis(TTL_MS * 2)).await;
    {
        let v = ra.borrow();
        assert_eq!(v.members.len(), 2, "last view kept during the outage");
        assert_eq!(v.epoch, epoch);
    }
    let t = Instant::now();
    redis.restart().await; // empty: no persistence
    let took = wait_for(
        "both rejoined after Redis returned empty",
        Duration::from_secs(10),
        || async {
            let Ok(c) = redis::Client::open(redis.url()) else {
                return false;
            };
            let Ok(mut conn) = c.get_multiplexed_async_connection().await else {
                return false;
            };
            let n: i64 = redis::cmd("HLEN")
                .arg("_tooz_group:g")
                .query_async(&mut conn)
                .await
                .unwrap_or(0);
            n == 3 && has(&ra, &["node-a", "node-b"]) && has(&rb, &["node-a", "node-b"])
        },
    )
    .await;
    eprintln!(
        "FIGURE Redis back (empty) -> both members rejoined: {:?}",
        t.elapsed().max(took)
    );
    assert_eq!(
        ra.borrow().epoch,
        epoch,
        "no reshuffle while the group refilled"
    );
    assert_eq!(rb.borrow().members.len(), 2);
    let mut conn = redis.conn().await;
    let n: i64 = redis::cmd("HLEN")
        .arg("_tooz_group:g")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 3, "__created__ + 2 members");
    a.leave().await.unwrap();
    b.leave().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_db_unix_socket_and_duplicate_member_id() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("redis.sock");
    let sock_s = sock.display().to_string();
    let redis = Proc::redis(&[
        "--requirepass",
        "s3cr%40t",
        "--unixsocket",
        &sock_s,
        "--unixsocketperm",
        "700",
    ])
    .await;

    // Password taken literally (not percent-decoded), db from the URL, over the unix socket.
    let url = RedisUrl::parse(&format!(
        "redis://:s3cr%40t@{sock_s}?db=3&membership_timeout=1"
    ));
    // A unix socket URL has no host; the password goes in the userinfo before the empty host.
    let url = url.unwrap();
    assert!(!url.to_string().contains("s3cr"), "{url}");
    let mut cfg = CoordinationConfig::new(url, "node-a", "g");
    cfg.heartbeat = HB;
    let (a, ra) = start(cfg.clone()).unwrap();
    wait_for(
        "node-a joined over the unix socket",
        Duration::from_secs(5),
        || async { has(&ra, &["node-a"]) },
    )
    .await;
    let c = redis::Client::open(format!("redis://:s3cr%2540t@127.0.0.1:{}/3", redis.port)).unwrap(); // the redis crate percent-decodes; tooz does not.unwrap();
    let mut conn = c.get_multiplexed_async_connection().await.unwrap();
    let n: i64 = redis::cmd("HEXISTS")
        .arg("_tooz_group:g")
        .arg("node-a")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 1, "written in db 3");

    // A second live process with the same member id: both report it.
    let (a2, ra2) = start(cfg).unwrap();
    wait_for(
        "both processes report the duplicate member id",
        Duration::from_secs(5),
        || async {
            ra.borrow().duplicate_instance.as_deref() == Some(a2.instance())
                && ra2.borrow().duplicate_instance.as_deref() == Some(a.instance())
        },
    )
    .await;
    a2.leave().await.unwrap();
    a.leave().await.unwrap();
}
