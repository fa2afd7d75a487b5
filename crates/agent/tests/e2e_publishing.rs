//! Where the real agent's samples go: a Kilo pipeline.yaml's sources routed to their own
//! sinks' publishers, and the bus in the Kilo meter form through a RabbitMQ that demands a
//! client certificate.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use common::{Harness, INTERVAL};
use lapin::options::BasicGetOptions;
use serde_json::Value;
use testsupport::rabbitmq::Rabbit;
use testsupport::wait_for;

/// `(timestamp, meter, resource)` of every sample line of a `file://...?json` publisher.
fn samples_of(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        // The last line may be half written.
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            (
                v["timestamp"].as_str().unwrap().to_owned(),
                v["name"].as_str().unwrap().to_owned(),
                v["resource_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Per cycle timestamp: the `(meter, resource)` pairs, with their multiplicity.
type ByCycle = BTreeMap<String, BTreeMap<(String, String), usize>>;

fn by_cycle(samples: &[(String, String, String)]) -> ByCycle {
    let mut m = ByCycle::new();
    for (t, n, r) in samples {
        *m.entry(t.clone())
            .or_default()
            .entry((n.clone(), r.clone()))
            .or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kilo_pipeline_sends_each_source_to_its_own_sinks() {
    let _serial = common::serial().await;
    let projects = 12;
    let mut h = Harness::start(projects, String::new()).await;
    let out = h.dir.path().to_owned();
    let file = |n: &str| out.join(format!("{n}.jsonl"));
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // `objects` names two meters; `others` is everything but those two (a `!` exclusion);
    // `reference` is everything, to know what the agent polls in a cycle. It has its own
    // interval: within one interval a (meter, resource) is polled once for the first source
    // that has it, as upstream's poll history does, so it would get nothing. Its cycles
    // start with every other cycle of the two others.
    h.pipeline = Some(format!(
        "---\nsources:\n\
         \x20 - name: objects\n    interval: {INTERVAL}\n    meters: [\"storage.objects\", \"storage.objects.size\"]\n    sinks: [objects_sink]\n\
         \x20 - name: others\n    interval: {INTERVAL}\n    meters: [\"*\", \"!storage.objects\", \"!storage.objects.size\"]\n    sinks: [others_sink]\n\
         \x20 - name: reference\n    interval: {}\n    meters: [\"*\"]\n    sinks: [reference_sink]\n\
         sinks:\n\
         \x20 - name: objects_sink\n    transformers:\n    publishers: [\"file://{}?json\", \"udp://127.0.0.1:{}\"]\n\
         \x20 - name: others_sink\n    transformers:\n    publishers: [\"file://{}?json\"]\n\
         \x20 - name: reference_sink\n    transformers:\n    publishers: [\"file://{}?json\"]\n",
        2 * INTERVAL,
        file("objects").display(),
        udp.local_addr().unwrap().port(),
        file("others").display(),
        file("reference").display(),
    ));
    let mut agent = h.start_agent("agent-kilo");

    // Three cycles in every file: the first of them was finished and flushed long before the
    // third began (each publisher delivers in order).
    // A cycle of the reference that the two other files have too, with two later cycles in
    // each: each publisher delivers in order, and a cycle ends before the next begins, so
    // that cycle is complete in every file.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(INTERVAL * 10);
    let (t, objects, others, reference) = loop {
        let objects = by_cycle(&samples_of(&file("objects")));
        let others = by_cycle(&samples_of(&file("others")));
        let reference = by_cycle(&samples_of(&file("reference")));
        let later = |m: &ByCycle, t: &String| m.keys().filter(|k| *k > t).count();
        let t = reference
            .keys()
            .find(|t| {
                objects.contains_key(*t)
                    && others.contains_key(*t)
                    && later(&objects, t) >= 2
                    && later(&others, t) >= 2
            })
            .cloned();
        if let Some(t) = t {
            break (t, objects, others, reference);
        }
        if let Some(status) = agent.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
            panic!("the agent exited ({status}):\n{}", h.log_tail("agent-kilo"));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no complete common cycle: objects {:?}, others {:?}, reference {:?}\n{}",
            objects.keys(),
            others.keys(),
            reference.keys(),
            h.log_tail("agent-kilo")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(agent.child.is_some());
    let excluded = ["storage.objects", "storage.objects.size"];
    // The sink's udp:// publisher sends the Kilo meter dict (no meter_form set: a Kilo
    // pipeline means a Kilo collector, which verifies Python 2 signatures).
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(Duration::from_secs(5), udp.recv(&mut buf))
        .await
        .expect("a datagram from the objects sink")
        .unwrap();
    let dict = rmpv::decode::read_value(&mut &buf[..n]).unwrap();
    let keys: Vec<&str> = dict
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert!(excluded.contains(&dict["counter_name"].as_str().unwrap()));
    assert_eq!(
        keys,
        [
            "source",
            "counter_name",
            "counter_type",
            "counter_unit",
            "counter_volume",
            "user_id",
            "project_id",
            "resource_id",
            "timestamp",
            "resource_metadata",
            "message_id",
            "message_signature"
        ]
    );
    let want_objects: BTreeMap<_, _> = reference[&t]
        .iter()
        .filter(|((n, _), _)| excluded.contains(&n.as_str()))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let want_others: BTreeMap<_, _> = reference[&t]
        .iter()
        .filter(|((n, _), _)| !excluded.contains(&n.as_str()))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let names = |m: &BTreeMap<(String, String), usize>| -> BTreeSet<String> {
        m.keys().map(|(n, _)| n.clone()).collect()
    };
    println!(
        "cycle {t}: reference {:?}\n  objects {:?}\n  others {:?}",
        names(&reference[&t]),
        names(&objects[&t]),
        names(&others[&t])
    );
    // What each source allows: both named meters, once per project...
    assert_eq!(
        names(&objects[&t]),
        excluded.iter().map(|s| (*s).to_owned()).collect()
    );
    // (simcloud's projects: the ones asked for plus its own, e.g. `service`.)
    assert_eq!(objects[&t].len(), 2 * h.projects.len());
    assert!(h.projects.len() >= projects);
    assert_eq!(objects[&t], want_objects, "objects sink, cycle {t}");
    // ...and everything else, including the third Swift account meter.
    assert!(
        names(&others[&t]).contains("storage.objects.containers"),
        "{:?}",
        names(&others[&t])
    );
    assert_eq!(others[&t], want_others, "others sink, cycle {t}");
    // No sink ever received a meter of the other source.
    for (t, m) in &objects {
        assert!(
            names(m).iter().all(|n| excluded.contains(&n.as_str())),
            "objects sink, cycle {t}: {:?}",
            names(m)
        );
    }
    for (t, m) in &others {
        assert!(
            names(m).iter().all(|n| !excluded.contains(&n.as_str())),
            "others sink, cycle {t}: {:?}",
            names(m)
        );
    }
}

/// Every inner message waiting in `queue`.
async fn bus_messages(rabbit: &Rabbit, queue: &str) -> Vec<Value> {
    let conn =
        lapin::Connection::connect(&rabbit.amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    // Until the agent's first connection declares the queue, there is none (NOT_FOUND).
    while let Ok(Some(m)) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
    {
        let body: Value = serde_json::from_slice(&m.delivery.data).unwrap();
        out.push(serde_json::from_str(body["oslo.message"].as_str().unwrap()).unwrap());
    }
    let _ = conn.close(200, "done".into()).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kilo_meter_form_over_a_broker_that_demands_client_certificates() {
    let _serial = common::serial().await;
    let pki = tokio::task::spawn_blocking(testsupport::tls::Pki::generate)
        .await
        .unwrap();
    let tls_port = testsupport::free_port();
    let rabbit = {
        let (ca, cert, key) = (
            pki.ca.clone(),
            pki.server_cert.clone(),
            pki.server_key.clone(),
        );
        tokio::task::spawn_blocking(move || Rabbit::start_mutual_tls(tls_port, &ca, &cert, &key))
            .await
            .unwrap()
    };
    const PASSWORD: &str = "amqp-s3cret-e2e";
    rabbit.add_user("ceilometer", PASSWORD);
    let mut h = Harness::start(10, String::new()).await;
    let projects = h.projects.len();
    let extra = |cert: &str| {
        format!(
            "[oslo_messaging_notifications]\ntransport_url = rabbit://ceilometer:{PASSWORD}@127.0.0.1:{tls_port}/\n\
             [oslo_messaging_rabbit]\nssl = true\nssl_ca_file = {}\n{cert}\
             [ceilometer_central]\nmeter_form = kilo\n",
            pki.ca.display()
        )
    };
    // One agent with its client certificate, one without (the broker refuses it). No
    // coordination: each polls everything.
    h.extra = extra(&format!(
        "ssl_cert_file = {}\nssl_key_file = {}\n",
        pki.client_cert.display(),
        pki.client_key.display()
    ));
    let with_cert = h.start_agent("agent-with-cert");
    h.extra = extra("");
    let without = h.start_agent("agent-without-cert");

    // The agent with the certificate delivers every project's sample of a cycle...
    // (Polled with a deadline; the queue is drained as it goes.)
    let mut got: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(INTERVAL * 6);
    loop {
        got.extend(bus_messages(&rabbit, "notifications.sample").await);
        let mut per_cycle: BTreeMap<String, usize> = BTreeMap::new();
        for m in &got {
            for s in m["payload"]["samples"].as_array().unwrap() {
                *per_cycle
                    .entry(s["timestamp"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        if per_cycle.values().any(|n| *n >= projects) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no full cycle on notifications.sample: {per_cycle:?}\n{}",
            h.log_tail("agent-with-cert")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ...in the Kilo form: no user_name/project_name/monotonic_time, Python 2 signature.
    let kilo_keys = [
        "source",
        "counter_name",
        "counter_type",
        "counter_unit",
        "counter_volume",
        "user_id",
        "project_id",
        "resource_id",
        "timestamp",
        "resource_metadata",
        "message_id",
        "message_signature",
    ];
    for m in &got {
        assert_eq!(m["event_type"], "telemetry.polling");
        for s in m["payload"]["samples"].as_array().unwrap() {
            let d = s.as_object().unwrap();
            let keys: Vec<&str> = d.keys().map(String::as_str).collect();
            assert_eq!(keys, kilo_keys);
            let sig = sample::compute_signature(d, "e2e", sample::Flavor::Python2);
            assert_eq!(d["message_signature"], sig.as_str());
        }
    }

    // The agent without it keeps polling and queueing: alive, nothing published, a clear
    // error in its log naming the options to set, and no secret.
    wait_for(
        "without-cert queues samples it cannot deliver",
        Duration::from_secs(INTERVAL * 4),
        || {
            let q = without
                .metric("ceilometer_central_samples_queued")
                .unwrap_or(0.0)
                + without
                    .metric("ceilometer_central_samples_spooled")
                    .unwrap_or(0.0);
            async move { q >= projects as f64 }
        },
    )
    .await;
    assert_eq!(
        without.metric("ceilometer_central_samples_published_total"),
        Some(0.0)
    );
    let log = std::fs::read_to_string(h.dir.path().join("agent-without-cert.log")).unwrap();
    assert!(
        log.contains("Publisher unreachable") && log.contains("ssl_cert_file and ssl_key_file"),
        "{}",
        h.log_tail("agent-without-cert")
    );
    assert!(!log.contains(PASSWORD), "password in the log");
    assert!(
        !log.contains("panicked"),
        "{}",
        h.log_tail("agent-without-cert")
    );
    assert!(with_cert.child.is_some() && without.child.is_some());
    let with_log = std::fs::read_to_string(h.dir.path().join("agent-with-cert.log")).unwrap();
    assert!(!with_log.contains(PASSWORD), "password in the log");
}
