//! SNMP `hardware.*` pollsters through `Engine::poll_cycle` against a real net-snmp `snmpd`
//! (`testsupport::snmpd`) on a free 127.0.0.1 UDP port (generated configuration, killed when
//! the test ends). Needs the Debian package `snmpd`: `apt-get install -y snmpd` (a missing
//! one fails).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;
use std::time::Duration;

use crate::common::*;
use pollsters::{Engine, EngineExtras, SnmpSettings};
use testsupport::snmpd::{free_udp_port, Snmpd};

const COMMUNITY: &str = "t3stc0mmunity";
const V3_AUTH: &str = "v3authsecret";
const V3_PRIV: &str = "v3privsecret";

fn start() -> Snmpd {
    Snmpd::start(&format!(
        "rocommunity {COMMUNITY} 127.0.0.1\n\
         createUser v3user SHA \"{V3_AUTH}\" AES \"{V3_PRIV}\"\n\
         rouser v3user priv\n\
         disk / 10000\n\
         load 12 10 5\n"
    ))
}

fn engine_with_snmp(auth_url: &str) -> Engine {
    Engine::with_extras(
        config(auth_url),
        fast_retry(),
        EngineExtras {
            dynamic: Vec::new(),
            snmp: SnmpSettings {
                concurrency: 4,
                timeout: Duration::from_millis(300),
                retries: 0,
            },
        },
    )
    .unwrap()
}

// Current-thread runtime: the log subscriber set below sees every task of the test.
#[tokio::test(flavor = "current_thread")]
async fn hardware_meters_from_snmpd_without_leaking_credentials() {
    let (logs, _guard) = Logs::capture();

    let d = start();
    let dead_port = free_udp_port();
    // The engine needs a Keystone URL but hardware polling never calls it.
    let e = engine_with_snmp("http://127.0.0.1:9/identity");
    let v2c = format!("snmp://{COMMUNITY}@127.0.0.1:{}", d.port);
    let v3 = format!(
        "snmp://v3user:{V3_AUTH}@localhost:{}?auth_proto=sha&priv_proto=aes&priv_password={V3_PRIV}",
        d.port
    );
    let dead = format!("snmp://{COMMUNITY}@127.0.0.1:{dead_port}");
    let broken = format!("snmp://{COMMUNITY}@127.0.0.1:{}?version=7", d.port);

    let mut all_hw = source("hw", &["hardware.*"]);
    all_hw.resources = vec![v2c.clone(), v3.clone(), dead.clone(), broken.clone()];
    // A second source on the same host, fewer meters: the host is still polled once.
    let mut mem = source("mem", &["hardware.memory.total", "image.size"]);
    mem.resources = vec![v2c.clone()];

    let keys = Mutex::new(Vec::new());
    let owns = |k: &[u8]| {
        keys.lock()
            .unwrap()
            .push(String::from_utf8(k.to_vec()).unwrap());
        true
    };
    let (b, r) = cycle(&e, vec![all_hw, mem], 10, &owns).await;

    // Partition keys: the URL without credentials, one per host.
    let mut keys = keys.into_inner().unwrap();
    keys.sort();
    let mut want = vec![
        format!("snmp://127.0.0.1:{}", d.port),
        format!("snmp://127.0.0.1:{dead_port}"),
        format!("snmp://localhost:{}?auth_proto=sha&priv_proto=aes", d.port),
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!((r.resources_seen, r.resources_owned), (3, 3));
    // The resource with version=7 is unusable; image.size never sees the SNMP URL.
    assert_eq!(r.skipped, 1, "{r:?}");

    // Samples: every group from the live agent over v2c and v3.
    let hw: Vec<&sample::Sample> = b
        .iter()
        .filter(|x| x.source == "hw")
        .flat_map(|x| x.samples.iter())
        .collect();
    let has = |name: &str, rid: &str| hw.iter().any(|s| s.name == name && s.resource_id == rid);
    for rid in ["127.0.0.1", "localhost"] {
        for m in [
            "hardware.memory.total",
            "hardware.memory.used",
            "hardware.cpu.load.1min",
            "hardware.network.ip.incoming.datagrams",
            "hardware.system_stats.io.incoming.blocks",
        ] {
            assert!(has(m, rid), "no {m} for {rid}");
        }
        assert!(has("hardware.network.incoming.bytes", &format!("{rid}.lo")));
        assert!(hw.iter().any(|s| s.name == "hardware.disk.size.total"
            && s.resource_id.starts_with(&format!("{rid}."))));
    }
    // Batches are per (source, meter), at most batch_size.
    assert!(b.iter().all(|x| x.samples.len() <= 10));
    assert!(b
        .iter()
        .all(|x| x.samples.iter().all(|s| s.name == x.pollster)));
    let mem: Vec<&sample::Sample> = b
        .iter()
        .filter(|x| x.source == "mem")
        .flat_map(|x| x.samples.iter())
        .collect();
    assert_eq!(mem.len(), 1);
    assert_eq!(mem[0].name, "hardware.memory.total");
    assert_eq!(mem[0].resource_id, "127.0.0.1");
    // The dead host failed (each of its groups counted), the others did not.
    assert!(r.errors.get("snmp").is_some_and(|n| *n >= 1), "{r:?}");
    assert_eq!(r.errors.len(), 1, "{r:?}");
    let dead_url = format!("snmp://127.0.0.1:{dead_port}");
    assert!(!b
        .iter()
        .flat_map(|x| x.samples.iter())
        .any(|s| s.resource_metadata["resource_url"] == dead_url.as_str()));

    // No secret anywhere: samples (metadata included), batches, keys, logs.
    let everything = format!("{:?}", b);
    let log_text = logs.text();
    assert!(log_text.contains("SNMP"), "logs captured: {log_text}");
    for secret in [COMMUNITY, V3_AUTH, V3_PRIV] {
        assert!(!everything.contains(secret), "{secret} in samples");
        assert!(!log_text.contains(secret), "{secret} in logs:\n{log_text}");
    }
    for s in b.iter().flat_map(|x| x.samples.iter()) {
        let url = s.resource_metadata["resource_url"].as_str().unwrap();
        assert!(url.starts_with("snmp://") && !url.contains('@'), "{url}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn unowned_hosts_are_not_polled_and_other_resources_are_ignored() {
    let d = start();
    let e = engine_with_snmp("http://127.0.0.1:9/identity");
    let mut s = source("hw", &["hardware.memory.*"]);
    // A tenant id next to the SNMP URL: not for the hardware pollsters.
    s.resources = vec![
        format!("snmp://{COMMUNITY}@127.0.0.1:{}", d.port),
        "0123456789abcdef".into(),
    ];
    let (b, r) = cycle(&e, vec![s.clone()], 10, &|_: &[u8]| false).await;
    assert!(b.is_empty());
    assert_eq!(
        (r.resources_seen, r.resources_owned, r.pollsters_run),
        (1, 0, 0)
    );
    assert!(r.errors.is_empty(), "{r:?}");
    let (b, r) = cycle(&e, vec![s], 10, &all).await;
    assert!(r.errors.is_empty(), "{r:?}");
    let names: std::collections::BTreeSet<&str> = b.iter().map(|x| x.pollster).collect();
    assert!(names.contains("hardware.memory.total"), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("hardware.memory.")));
    // Six memory meters matched and one host owned: six (source, pollster) pairs ran.
    assert_eq!(r.pollsters_run, 6);
}
