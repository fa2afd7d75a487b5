//! TLS to Redis and to sentinels, sentinel credentials and `socket_keepalive`, against real
//! `redis-server` / `redis-sentinel` processes on loopback with a throwaway PKI.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use crate::common::tls::Pki;
use crate::common::{init_tracing, wait_for, Proc};
use coordination::{
    describe_members, start, CoordinationConfig, Error, MemberId, MembershipView, RedisUrl,
};
use tokio::sync::watch;
use tokio::time::Instant;

const HB: Duration = Duration::from_millis(200);
const GROUP: &str = "central-global";

fn config(url: &str, me: &str) -> CoordinationConfig {
    let url = RedisUrl::parse(url).unwrap();
    let mut c = CoordinationConfig::new(url, me, GROUP);
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

async fn hexists(p: &Proc, auth: Option<&str>, field: &str) -> bool {
    let mut conn = p.conn().await;
    if let Some(pw) = auth {
        let _: () = redis::cmd("AUTH")
            .arg(pw)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    redis::cmd("HEXISTS")
        .arg(format!("_tooz_group:{GROUP}"))
        .arg(field)
        .query_async::<i64>(&mut conn)
        .await
        .unwrap()
        == 1
}

async fn describe_err(url: &str) -> String {
    let url = RedisUrl::parse(url).unwrap();
    match describe_members(
        &url,
        GROUP,
        &MemberId::from("x"),
        coordination::DEFAULT_KEY_SCHEME,
    )
    .await
    {
        Ok(m) => panic!("expected an error, got {m:?}"),
        Err(e) => {
            assert!(matches!(e, Error::Store(_)), "{e:?}");
            e.to_string()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_and_describe_over_tls() {
    init_tracing();
    let t = Instant::now();
    let pki = Pki::generate();
    let redis = Proc::redis_tls(&pki, &["--tls-auth-clients", "no"]).await;
    let tls = redis.tls_port.unwrap();
    let ca = pki.ca.display();
    // rediss:// (ours) and tooz's ssl=true spelling, both verifying 127.0.0.1 against the SAN.
    let url_a =
        format!("rediss://127.0.0.1:{tls}?ssl_ca_certs={ca}&timeout=2&membership_timeout=1");
    let url_b = format!(
        "redis://127.0.0.1:{tls}?ssl=True&ssl_ca_certs={ca}&timeout=2&membership_timeout=1"
    );
    let (a, ra) = start(config(&url_a, "node-a")).unwrap();
    let (b, rb) = start(config(&url_b, "node-b")).unwrap();
    for rx in [&ra, &rb] {
        wait_for("both members over TLS", Duration::from_secs(5), || async {
            has(rx, &["node-a", "node-b"])
        })
        .await;
    }
    // Written on the server (read back over its plain port), beat keys alive.
    assert!(hexists(&redis, None, "node-a").await);
    let ds = describe_members(
        &RedisUrl::parse(&url_a).unwrap(),
        GROUP,
        &MemberId::from("node-b"),
        coordination::DEFAULT_KEY_SCHEME,
    )
    .await
    .unwrap();
    let ids: Vec<String> = ds.iter().map(|d| d.id.to_string()).collect();
    assert_eq!(ids, ["node-a", "node-b"]);
    assert!(ds.iter().all(|d| d.is_alive()), "{ds:?}");
    assert!(ds[1].is_this_host);

    // Beats keep them alive past the 1 s TTL.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(has(&ra, &["node-a", "node-b"]));
    b.leave().await.unwrap();
    wait_for("node-b gone", Duration::from_secs(5), || async {
        has(&ra, &["node-a"])
    })
    .await;
    a.leave().await.unwrap();
    eprintln!("FIGURE membership_and_describe_over_tls: {:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_wrong_ca_wrong_name_and_plain_to_tls() {
    init_tracing();
    let t = Instant::now();
    let pki = Pki::generate();
    let pw = "m4ster-s3cret";
    // tls-auth-clients defaults to yes: a client certificate signed by the CA is required.
    let redis = Proc::redis_tls(&pki, &["--requirepass", pw]).await;
    let tls = redis.tls_port.unwrap();
    let ca = pki.ca.display();
    let base = format!(
        "redis://:{pw}@127.0.0.1:{tls}?ssl=yes&ssl_ca_certs={ca}&timeout=2&membership_timeout=1"
    );

    let with_cert = format!(
        "{base}&ssl_certfile={}&ssl_keyfile={}",
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let (a, ra) = start(config(&with_cert, "node-a")).unwrap();
    wait_for(
        "joined with a client certificate",
        Duration::from_secs(5),
        || async { has(&ra, &["node-a"]) },
    )
    .await;
    let ds = describe_members(
        &RedisUrl::parse(&with_cert).unwrap(),
        GROUP,
        &MemberId::from("node-a"),
        coordination::DEFAULT_KEY_SCHEME,
    )
    .await
    .unwrap();
    assert_eq!(ds.len(), 1);

    // The key inside the certfile (no ssl_keyfile), as Python's load_cert_chain allows.
    let both = pki.dir.path().join("client-both.pem");
    let mut pem = std::fs::read(&pki.client_cert).unwrap();
    pem.extend(std::fs::read(&pki.client_key).unwrap());
    std::fs::write(&both, pem).unwrap();
    let combined = format!("{base}&ssl_certfile={}", both.display());
    describe_members(
        &RedisUrl::parse(&combined).unwrap(),
        GROUP,
        &MemberId::from("x"),
        coordination::DEFAULT_KEY_SCHEME,
    )
    .await
    .unwrap();

    // No client certificate: refused, the error says TLS and never shows the password.
    let e = describe_err(&base).await;
    eprintln!("no client certificate: {e}");
    assert!(e.contains("TLS"), "{e}");
    assert!(!e.contains(pw), "{e}");
    // The view never connects.
    let (n, rn) = start(config(&base, "node-n")).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!rn.borrow().is_connected());
    drop(n);

    // A CA that did not sign the server certificate.
    let wrong_ca = with_cert.replace(&ca.to_string(), &pki.other_ca.display().to_string());
    let e = describe_err(&wrong_ca).await;
    eprintln!("wrong CA: {e}");
    assert!(e.contains("TLS") && e.contains("UnknownIssuer"), "{e}");
    assert!(!e.contains(pw), "{e}");

    // A missing CA file is named.
    let missing = with_cert.replace(&ca.to_string(), "/nonexistent/ca.pem");
    let e = describe_err(&missing).await;
    assert!(e.contains("ssl_ca_certs /nonexistent/ca.pem"), "{e}");

    // TLS client to a plain port: a TLS error, not a hang.
    let plain = with_cert.replace(&format!(":{tls}?"), &format!(":{}?", redis.port));
    let e = describe_err(&format!("{plain}&socket_connect_timeout=1")).await;
    eprintln!("TLS to a plain port: {e}");
    assert!(e.contains("TLS"), "{e}");

    // Host name verification: a certificate from the right CA but for another name.
    let other = Proc::redis_tls(
        &pki,
        &[
            "--tls-auth-clients",
            "no",
            "--tls-cert-file",
            &pki.wrong_name_cert.display().to_string(),
            "--tls-key-file",
            &pki.wrong_name_key.display().to_string(),
        ],
    )
    .await;
    let e = describe_err(&format!(
        "rediss://127.0.0.1:{}?ssl_ca_certs={ca}&timeout=2",
        other.tls_port.unwrap()
    ))
    .await;
    eprintln!("wrong name: {e}");
    assert!(e.contains("TLS") && e.contains("not valid for name"), "{e}");

    a.leave().await.unwrap();
    eprintln!(
        "FIGURE mutual_tls_wrong_ca_wrong_name_and_plain_to_tls: {:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_over_tls_resolve_a_tls_master() {
    init_tracing();
    let t = Instant::now();
    let pki = Pki::generate();
    let master = Proc::redis_tls(&pki, &["--tls-auth-clients", "no"]).await;
    let sentinel = Proc::sentinel_tls(
        &pki,
        master.tls_port.unwrap(),
        1000,
        "tls-auth-clients no\n",
    )
    .await;
    let s_tls = sentinel.tls_port.unwrap();
    let ca = pki.ca.display();
    // The sentinel's plain port is first: with sentinel_ssl it is spoken to in TLS and
    // fails; the TLS port answers.
    let url = format!(
        "redis://127.0.0.1:{}?sentinel=mymaster&sentinel_fallback=127.0.0.1:{s_tls}&sentinel_ssl=true&ssl=true&ssl_ca_certs={ca}&timeout=2&membership_timeout=1&socket_connect_timeout=1",
        sentinel.port
    );
    let (a, ra) = start(config(&url, "node-a")).unwrap();
    wait_for(
        "joined through a TLS sentinel on a TLS master",
        Duration::from_secs(10),
        || async { has(&ra, &["node-a"]) },
    )
    .await;
    assert!(hexists(&master, None, "node-a").await);
    let ds = describe_members(
        &RedisUrl::parse(&url).unwrap(),
        GROUP,
        &MemberId::from("node-a"),
        coordination::DEFAULT_KEY_SCHEME,
    )
    .await
    .unwrap();
    assert_eq!(ds.len(), 1);

    // Without sentinel_ssl the TLS sentinel port does not answer plain Redis.
    let e = describe_err(&format!(
        "redis://127.0.0.1:{s_tls}?sentinel=mymaster&ssl=true&ssl_ca_certs={ca}&timeout=1&socket_connect_timeout=1"
    ))
    .await;
    assert!(e.contains("asking the sentinels"), "{e}");
    // With sentinel_ssl but without ssl, the TLS master is spoken to in plain text.
    let e = describe_err(&format!(
        "redis://127.0.0.1:{s_tls}?sentinel=mymaster&sentinel_ssl=1&ssl_ca_certs={ca}&timeout=1&socket_connect_timeout=1"
    ))
    .await;
    assert!(e.contains("named 127.0.0.1"), "{e}");

    a.leave().await.unwrap();
    eprintln!(
        "FIGURE sentinels_over_tls_resolve_a_tls_master: {:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_and_master_passwords() {
    init_tracing();
    let t = Instant::now();
    let mpw = "m4ster-pw";
    let spw = "s3ntinel-pw";
    let wrong = "wr0ng-pw";
    let master = Proc::redis(&["--requirepass", mpw, "--masterauth", mpw]).await;
    let sentinel = Proc::sentinel_conf(
        master.port,
        1000,
        &format!("requirepass {spw}\nsentinel auth-pass mymaster {mpw}\n"),
    )
    .await;
    let s = sentinel.port;
    let url = format!("redis://:{mpw}@127.0.0.1:{s}?sentinel=mymaster&sentinel_password={spw}&timeout=2&membership_timeout=1");
    let (a, ra) = start(config(&url, "node-a")).unwrap();
    wait_for(
        "joined through a password-protected sentinel",
        Duration::from_secs(10),
        || async { has(&ra, &["node-a"]) },
    )
    .await;
    assert!(hexists(&master, Some(mpw), "node-a").await);

    let secrets = [mpw, spw, wrong];
    // Wrong sentinel password.
    let e = describe_err(&format!(
        "redis://:{mpw}@127.0.0.1:{s}?sentinel=mymaster&sentinel_password={wrong}&timeout=2"
    ))
    .await;
    eprintln!("wrong sentinel password: {e}");
    assert!(
        e.contains(&format!("sentinel 127.0.0.1:{s}: connecting"))
            && e.contains("authentication failed"),
        "{e}"
    );
    assert!(secrets.iter().all(|p| !e.contains(p)), "{e}");
    // No sentinel password: the master password is not handed to the sentinels (tooz).
    let e = describe_err(&format!(
        "redis://:{mpw}@127.0.0.1:{s}?sentinel=mymaster&timeout=2"
    ))
    .await;
    eprintln!("no sentinel password: {e}");
    assert!(
        e.contains("sentinel 127.0.0.1") && e.contains("NOAUTH"),
        "{e}"
    );
    assert!(secrets.iter().all(|p| !e.contains(p)), "{e}");
    // Right sentinel password, wrong master password.
    let e = describe_err(&format!(
        "redis://:{wrong}@127.0.0.1:{s}?sentinel=mymaster&sentinel_password={spw}&timeout=2"
    ))
    .await;
    eprintln!("wrong master password: {e}");
    assert!(
        e.contains("named 127.0.0.1") && e.contains("authentication failed"),
        "{e}"
    );
    assert!(secrets.iter().all(|p| !e.contains(p)), "{e}");

    a.leave().await.unwrap();
    eprintln!("FIGURE sentinel_and_master_passwords: {:?}", t.elapsed());
}

/// `(keepalive timer armed)` for each ESTABLISHED loopback socket whose remote port is
/// `port`, i.e. the client side of connections to that server, from /proc/net/tcp:
/// the `tr` column is 2 when the socket's keepalive timer is pending, which only
/// `SO_KEEPALIVE` arms on an idle established socket.
fn client_keepalive(port: u16) -> Vec<bool> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
    tcp.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let rem_port = u16::from_str_radix(f.get(2)?.split(':').nth(1)?, 16).ok()?;
            let timer = f.get(5)?;
            (rem_port == port && *f.get(3)? == "01").then(|| timer.starts_with("02:"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_keepalive_false_is_honoured() {
    init_tracing();
    let t = Instant::now();
    for keepalive in [false, true] {
        let redis = Proc::redis(&[]).await;
        let url = format!(
            "redis://127.0.0.1:{}?socket_keepalive={keepalive}&timeout=2&membership_timeout=1",
            redis.port
        );
        let (a, ra) = start(config(&url, "node-a")).unwrap();
        wait_for("joined", Duration::from_secs(5), || async {
            has(&ra, &["node-a"])
        })
        .await;
        let seen = wait_for(
            &format!("our connection's keepalive is {keepalive}"),
            Duration::from_secs(5),
            || async {
                let s = client_keepalive(redis.port);
                !s.is_empty() && s.iter().all(|k| *k == keepalive)
            },
        )
        .await;
        if !keepalive {
            // Still off a few beats later.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let s = client_keepalive(redis.port);
            assert!(!s.is_empty() && s.iter().all(|k| !k), "{s:?}");
        }
        eprintln!("socket_keepalive={keepalive}: confirmed after {seen:?}");
        a.leave().await.unwrap();
    }
    eprintln!(
        "FIGURE socket_keepalive_false_is_honoured: {:?}",
        t.elapsed()
    );
}
