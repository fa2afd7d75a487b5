//! Against a real net-snmp `snmpd` (`testsupport::snmpd`) on a free 127.0.0.1 UDP port with a
//! generated configuration (v2c community and v3 users), killed when the test ends.
//! Needs the Debian package `snmpd`: `apt-get install -y snmpd` (a missing one fails).

// Helpers outside #[test] fns may unwrap too: a failure is a failing test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sample::{Timestamp, Volume};
use snmp::{ClientOptions, Group, HardwarePoller, SnmpClient, SnmpError, SnmpResource, METERS};
use testsupport::snmpd::Snmpd;

/// snmpd with a v2c community and three v3 users (SHA/AES, MD5/DES, auth only).
fn start() -> Snmpd {
    Snmpd::start(
        "rocommunity t3stcomm 127.0.0.1\n\
         createUser shauser SHA \"shaauthpass\" AES \"shaprivpass\"\n\
         createUser md5user MD5 \"md5authpass\" DES \"md5privpass\"\n\
         createUser authonly SHA \"authonlypass\"\n\
         rouser shauser priv\n\
         rouser md5user priv\n\
         rouser authonly auth\n\
         disk / 10000\n\
         load 12 10 5\n",
    )
}

fn all_meters() -> Vec<&'static str> {
    METERS.iter().map(|m| m.name).collect()
}

fn vol(v: Volume) -> f64 {
    v.as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2c_reads_every_hardware_meter() {
    let d = start();
    let res = SnmpResource::parse(&format!("snmp://t3stcomm@127.0.0.1:{}", d.port)).unwrap();
    let poller = HardwarePoller::new(ClientOptions::default(), 4);
    let meters = all_meters();
    let out = poller.poll(&res, &meters, Timestamp::now()).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let find = |name: &'static str| out.samples.iter().filter(move |s| s.name == name);
    let one = |name: &'static str| find(name).next().unwrap_or_else(|| panic!("no {name}"));

    let total = one("hardware.memory.total");
    assert!(
        vol(total.volume) > 1024.0 * 1024.0,
        "memory total {:?}",
        total.volume
    );
    assert_eq!(total.unit, "B");
    assert_eq!(total.resource_id, "127.0.0.1");
    assert_eq!(total.source, "hardware");
    let used = vol(one("hardware.memory.used").volume);
    assert!(used > 0.0 && used < vol(total.volume));
    assert!(vol(one("hardware.cpu.load.1min").volume) >= 0.0);
    assert!(matches!(
        one("hardware.cpu.load.15min").volume,
        Volume::Float(_)
    ));
    // net-snmp answers noSuchInstance for ssCpuIdle until it has about a minute of CPU
    // history: no sample then (and no error), a percentage afterwards.
    if let Some(idle) = find("hardware.system_stats.cpu.idle").next() {
        assert!((0.0..=100.0).contains(&vol(idle.volume)));
    }
    one("hardware.system_stats.io.incoming.blocks");
    one("hardware.network.ip.incoming.datagrams");

    let lo: Vec<_> = find("hardware.network.incoming.bytes")
        .filter(|s| s.resource_id == "127.0.0.1.lo")
        .collect();
    assert_eq!(
        lo.len(),
        1,
        "interfaces: {:?}",
        find("hardware.network.incoming.bytes")
            .map(|s| &s.resource_id)
            .collect::<Vec<_>>()
    );
    assert!(vol(lo[0].volume) > 0.0, "we just talked over lo");
    assert_eq!(lo[0].resource_metadata["name"], "lo");
    assert_eq!(lo[0].sample_type, sample::SampleType::Cumulative);

    let root = find("hardware.disk.size.total")
        .find(|s| s.resource_metadata["path"] == "/")
        .expect("disk /");
    assert_eq!(root.resource_id, "127.0.0.1./");
    assert!(vol(root.volume) > 0.0);

    for s in &out.samples {
        let url = s.resource_metadata["resource_url"].as_str().unwrap();
        assert_eq!(url, format!("snmp://127.0.0.1:{}", d.port));
        assert!(!serde_json::to_string(&s.resource_metadata)
            .unwrap()
            .contains("t3stcomm"));
    }
    // Every meter of the list produced at least one sample.
    for m in METERS
        .iter()
        .filter(|m| m.name != "hardware.system_stats.cpu.idle")
    {
        assert!(find(m.name).next().is_some(), "no sample for {}", m.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_auth_and_privacy() {
    let d = start();
    let p = d.port;
    for url in [
        format!("snmp://shauser:shaauthpass@127.0.0.1:{p}?auth_proto=sha&priv_proto=aes&priv_password=shaprivpass"),
        format!("snmp://md5user:md5authpass@127.0.0.1:{p}?priv_password=md5privpass"),
        format!("snmp://authonly:authonlypass@127.0.0.1:{p}?auth_proto=sha"),
    ] {
        let res = SnmpResource::parse(&url).unwrap();
        let poller = HardwarePoller::new(ClientOptions::default(), 1);
        let out = poller.poll(&res, &["hardware.memory.total", "hardware.network.outgoing.bytes"], Timestamp::now()).await;
        assert!(out.errors.is_empty(), "{}: {:?}", res, out.errors);
        assert!(out.samples.iter().any(|s| s.name == "hardware.memory.total" && vol(s.volume) > 0.0));
        assert!(out.samples.iter().any(|s| s.resource_id == "127.0.0.1.lo"));
        let md = serde_json::to_string(&out.samples[0].resource_metadata).unwrap();
        assert!(!md.contains("pass"), "{md}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_cleanly_and_quickly() {
    let d = start();
    let p = d.port;
    let opts = ClientOptions {
        timeout: Duration::from_millis(200),
        retries: 1,
        ..ClientOptions::default()
    };
    // snmpd silently drops requests with an unknown community: a timeout after 2 attempts.
    let res = SnmpResource::parse(&format!("snmp://wrongcomm@127.0.0.1:{p}")).unwrap();
    let started = tokio::time::Instant::now();
    let out = HardwarePoller::new(opts, 1)
        .poll(&res, &["hardware.memory.total"], Timestamp::now())
        .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(out.samples.is_empty());
    assert!(
        matches!(
            out.errors.as_slice(),
            [(Group::Memory, SnmpError::Timeout { attempts: 2, .. })]
        ),
        "{:?}",
        out.errors
    );
    assert!(!format!("{:?}", out.errors).contains("wrongcomm"));

    let res = SnmpResource::parse(&format!(
        "snmp://shauser:wrongpassword@127.0.0.1:{p}?auth_proto=sha"
    ))
    .unwrap();
    let out = HardwarePoller::new(opts, 1)
        .poll(&res, &["hardware.memory.total"], Timestamp::now())
        .await;
    assert!(out.samples.is_empty());
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(!format!("{:?}", out.errors).contains("wrongpassword"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_and_get_low_level() {
    let d = start();
    let res = SnmpResource::parse(&format!("snmp://t3stcomm@127.0.0.1:{}", d.port)).unwrap();
    let mut c = SnmpClient::new(
        res,
        ClientOptions {
            max_repetitions: 3,
            ..ClientOptions::default()
        },
    );
    let rows = c.walk("1.3.6.1.2.1.2.2.1.2").await.unwrap();
    assert!(
        rows.iter()
            .any(|(_, v)| v.as_text().as_deref() == Some("lo")),
        "{rows:?}"
    );
    let rows = c
        .get(&["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.99.0"])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].1.as_text().is_some());
    assert!(rows[1].1.is_missing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_blocks_nobody_and_hosts_are_bounded() {
    let d = start();
    // A UDP socket that receives and never answers: an agent that hangs.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let opts = ClientOptions {
        timeout: Duration::from_millis(400),
        retries: 1,
        ..ClientOptions::default()
    };
    let poller = HardwarePoller::new(opts, 2);
    let live = SnmpResource::parse(&format!("snmp://t3stcomm@127.0.0.1:{}", d.port)).unwrap();
    let dead = SnmpResource::parse(&format!("snmp://t3stcomm@127.0.0.1:{silent_port}")).unwrap();
    let started = tokio::time::Instant::now();
    let (p1, p2) = (poller.clone(), poller.clone());
    let dead_task = tokio::spawn(async move {
        p1.poll(&dead, &["hardware.memory.total"], Timestamp::now())
            .await
    });
    let live_out = p2
        .poll(&live, &["hardware.memory.total"], Timestamp::now())
        .await;
    let live_elapsed = started.elapsed();
    assert_eq!(live_out.samples.len(), 1);
    assert!(
        live_elapsed < Duration::from_millis(400),
        "live host waited for the dead one: {live_elapsed:?}"
    );
    let dead_out = dead_task.await.unwrap();
    assert!(matches!(
        dead_out.errors.as_slice(),
        [(Group::Memory, SnmpError::Timeout { attempts: 2, .. })]
    ));
    assert!(started.elapsed() >= Duration::from_millis(800));

    // With one permit, two hanging hosts are polled one after the other.
    let poller = HardwarePoller::new(opts, 1);
    let dead = SnmpResource::parse(&format!("snmp://c@127.0.0.1:{silent_port}")).unwrap();
    let started = tokio::time::Instant::now();
    let a = poller.poll(&dead, &["hardware.memory.total"], Timestamp::now());
    let b = poller.poll(&dead, &["hardware.memory.total"], Timestamp::now());
    let _ = tokio::join!(a, b);
    assert!(
        started.elapsed() >= Duration::from_millis(1600),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}
