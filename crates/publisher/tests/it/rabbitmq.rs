//! The bus publisher against a real RabbitMQ broker (and the real oslo.messaging listener).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::common;

use lapin::options::BasicGetOptions;
use lapin::{Connection, ConnectionProperties};
use publisher::bus::{BusConfig, BusPublisher, Notification, TransportUrl};
use publisher::{Batch, Delivery, DeliveryConfig, Publisher};
use sample::{Metadata, MeterForm, Sample, SampleType, Timestamp, Volume};
use serde_json::Value;
use testsupport::rabbitmq::Rabbit;

fn sample(i: usize) -> Sample {
    Sample {
        name: "storage.objects".into(),
        sample_type: SampleType::Gauge,
        unit: "object".into(),
        volume: Volume::Int(i as i64),
        user_id: None,
        user_name: None,
        project_id: Some(format!("p{i}")),
        project_name: None,
        resource_id: format!("p{i}"),
        timestamp: Timestamp::from_unix_micros(1_795_600_000_000_000),
        resource_metadata: Metadata::new(),
        source: "openstack".into(),
        id: format!("00000000-0000-0000-0000-{i:012}"),
        monotonic_time: None,
    }
}

fn batch(range: std::ops::Range<usize>) -> Arc<Batch> {
    Arc::new(Batch {
        samples: range.map(sample).collect(),
    })
}

fn bus(
    rabbit: &Rabbit,
    durable: bool,
    notification: Notification,
    topics: &[&str],
) -> Arc<BusPublisher> {
    let meter_form = match notification {
        Notification::Polling => MeterForm::Modern,
        Notification::Notifier { .. } => MeterForm::Kilo,
    };
    Arc::new(BusPublisher::new(BusConfig {
        transport: TransportUrl::parse(&rabbit.transport_url()).unwrap(),
        // An exchange's durability cannot change once declared: durable tests use their own.
        exchange: if durable {
            "ceilometer_durable".into()
        } else {
            "ceilometer".into()
        },
        topics: topics.iter().map(|s| (*s).to_owned()).collect(),
        durable,
        notification,
        secret: "secret".into(),
        meter_form,
        name: "bus".into(),
        tls: Default::default(),
    }))
}

/// Every message of `queue`: (exchange, routing key, content type, encoding, delivery mode, body).
async fn drain(rabbit: &Rabbit, queue: &str) -> Vec<(String, String, String, String, u8, Value)> {
    let conn = Connection::connect(&rabbit.amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let d = m.delivery;
        let p = &d.properties;
        out.push((
            d.exchange.to_string(),
            d.routing_key.to_string(),
            p.content_type()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            p.content_encoding()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            p.delivery_mode().unwrap_or_default(),
            serde_json::from_slice(&d.data).unwrap(),
        ));
    }
    let _ = conn.close(200, "done".into()).await;
    out
}

/// Sample volumes carried by a list of bus messages.
fn volumes(msgs: &[(String, String, String, String, u8, Value)]) -> Vec<u64> {
    let mut v = Vec::new();
    for (.., body) in msgs {
        let inner: Value = serde_json::from_str(body["oslo.message"].as_str().unwrap()).unwrap();
        for s in inner["payload"]["samples"].as_array().unwrap() {
            v.push(s["counter_volume"].as_u64().unwrap());
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_messages_outages_and_restarts_against_real_rabbitmq() {
    let mut rabbit = tokio::task::spawn_blocking(Rabbit::start).await.unwrap();

    // 1. Exchange, routing key, properties and body, for two topics.
    let p = bus(
        &rabbit,
        false,
        Notification::Polling,
        &["notifications", "audit"],
    );
    p.publish(&batch(0..3)).await.unwrap();
    let msgs = drain(&rabbit, "notifications.sample").await;
    assert_eq!(msgs.len(), 1);
    let (exchange, key, ctype, enc, mode, body) = &msgs[0];
    assert_eq!(
        (exchange.as_str(), key.as_str()),
        ("ceilometer", "notifications.sample")
    );
    assert_eq!(
        (ctype.as_str(), enc.as_str(), *mode),
        ("application/json", "utf-8", 2)
    );
    assert_eq!(body["oslo.version"], "2.0");
    let inner: Value = serde_json::from_str(body["oslo.message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["event_type"], "telemetry.polling");
    assert_eq!(inner["publisher_id"], "ceilometer.polling");
    assert_eq!(inner["priority"], "SAMPLE");
    assert_eq!(inner["payload"]["samples"].as_array().unwrap().len(), 3);
    assert_eq!(
        inner["payload"]["samples"][0]["counter_name"],
        "storage.objects"
    );
    assert_eq!(
        inner["payload"]["samples"][0]["message_signature"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(
        drain(&rabbit, "audit.sample").await.len(),
        1,
        "one message per topic"
    );

    // 2. Kilo notifier:// form: event type = topic, bare list payload, metering.sample.
    let k = bus(
        &rabbit,
        false,
        Notification::Notifier {
            host: "ctl-1".into(),
            event_type: "metering".into(),
            per_meter_topic: false,
        },
        &["metering"],
    );
    k.publish(&batch(0..2)).await.unwrap();
    let msgs = drain(&rabbit, "metering.sample").await;
    let inner: Value = serde_json::from_str(msgs[0].5["oslo.message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["event_type"], "metering");
    assert_eq!(inner["publisher_id"], "telemetry.publisher.ctl-1");
    assert!(
        inner["payload"].as_array().unwrap()[0]
            .get("user_name")
            .is_none(),
        "Kilo meter dicts"
    );

    // 3. Broker stopped: memory queue fills, then the spool; everything arrives after it
    //    returns, in order, nothing dropped. Durable queue so the restart keeps messages.
    let spool = tempfile::tempdir().unwrap();
    let durable = bus(&rabbit, true, Notification::Polling, &["durable"]);
    let d = Delivery::spawn(
        durable,
        DeliveryConfig {
            max_queue_length: 3,
            spool_dir: Some(spool.path().to_owned()),
            ..DeliveryConfig::default()
        },
    )
    .unwrap();
    d.submit(batch(0..10));
    assert!(d.flush(Duration::from_secs(20)).await);
    rabbit.stop();
    for i in 1..10 {
        d.submit(batch(i * 10..i * 10 + 10));
    }
    let s = d.stats();
    assert!(
        s.spooled > 0,
        "the memory queue overflowed to the spool: {s:?}"
    );
    assert_eq!(s.submitted, s.published + s.dropped + s.queued + s.spooled);
    rabbit.start_again();
    assert!(
        d.flush(Duration::from_secs(90)).await,
        "delivered after the broker returned: {:?}",
        d.stats()
    );
    let s = d.stats();
    assert_eq!(
        (s.published, s.dropped, s.spooled, s.queued),
        (100, 0, 0, 0),
        "{s:?}"
    );
    let got = volumes(&drain(&rabbit, "durable.sample").await);
    assert_eq!(
        got,
        (0..100).collect::<Vec<u64>>(),
        "every sample, in order, once"
    );
    println!(
        "broker outage: {} failed attempts, {} samples went through the spool",
        s.failed_attempts, s.spooled_total
    );

    // 4. Broker restarted mid-stream while batches keep coming: nothing lost.
    let mut sent = 0usize;
    for i in 0..20 {
        d.submit(batch(1000 + i * 5..1000 + i * 5 + 5));
        sent += 5;
        if i == 8 {
            rabbit.stop();
            rabbit.start_again();
        }
    }
    assert!(d.flush(Duration::from_secs(90)).await);
    let got: BTreeSet<u64> = volumes(&drain(&rabbit, "durable.sample").await)
        .into_iter()
        .collect();
    let want: BTreeSet<u64> = (1000..1000 + sent as u64).collect();
    assert!(
        want.is_subset(&got),
        "lost: {:?}",
        want.difference(&got).collect::<Vec<_>>()
    );
    assert_eq!(d.stats().dropped, 0);
}

fn venv_python() -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = repo.join(".venv/bin/python");
    let status = std::process::Command::new(repo.join("scripts/make-venv.sh")).status();
    assert!(
        status.map(|s| s.success()).unwrap_or(false) && py.is_file(),
        "the Python venv with oslo.messaging could not be made: run scripts/make-venv.sh (needs python3-venv and PyPI)"
    );
    py
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_oslo_messaging_listener_receives_our_samples() {
    let rabbit = tokio::task::spawn_blocking(Rabbit::start).await.unwrap();
    let py = venv_python();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/notification_listener.py");
    let mut child = std::process::Command::new(py)
        .arg(script)
        .arg(rabbit.transport_url())
        .arg("2")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), "READY");
    let p = bus(&rabbit, false, Notification::Polling, &["notifications"]);
    p.publish(&batch(0..2)).await.unwrap();
    p.publish(&batch(2..5)).await.unwrap();
    let mut total = 0;
    for _ in 0..2 {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["priority"], "SAMPLE");
        assert_eq!(v["event_type"], "telemetry.polling");
        assert_eq!(v["publisher_id"], "ceilometer.polling");
        let samples = v["payload"]["samples"].as_array().unwrap();
        for s in samples {
            for key in [
                "counter_name",
                "counter_type",
                "counter_unit",
                "counter_volume",
                "resource_id",
                "timestamp",
                "resource_metadata",
                "source",
                "message_id",
            ] {
                assert!(s.get(key).is_some(), "{key} missing in {s}");
            }
        }
        total += samples.len();
    }
    assert_eq!(total, 5);
    let status = child.wait().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_over_tls_verifies_the_broker() {
    // A throw-away CA and a 127.0.0.1/localhost certificate (crates/exporter/tests/data).
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exporter/tests/data");
    let tls_port = testsupport::free_port();
    let rabbit = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || {
            Rabbit::start_tls(
                tls_port,
                &data.join("ca.pem"),
                &data.join("cert.pem"),
                &data.join("key.pem"),
            )
        })
        .await
        .unwrap()
    };
    let bus_tls = |ca: Option<PathBuf>| {
        Arc::new(BusPublisher::new(BusConfig {
            transport: TransportUrl::parse(&format!(
                "rabbit://guest:guest@127.0.0.1:{tls_port}/?ssl=1"
            ))
            .unwrap(),
            exchange: "ceilometer".into(),
            topics: vec!["tlsbus".into()],
            durable: false,
            notification: Notification::Polling,
            secret: "secret".into(),
            meter_form: MeterForm::Modern,
            name: "bus-tls".into(),
            tls: publisher::bus::AmqpTls {
                ca_file: ca,
                ..Default::default()
            },
        }))
    };
    // Trusting the test CA: delivered (confirmed) over TLS.
    bus_tls(Some(data.join("ca.pem")))
        .publish(&batch(0..3))
        .await
        .unwrap();
    let msgs = drain(&rabbit, "tlsbus.sample").await;
    assert_eq!(volumes(&msgs), vec![0, 1, 2]);
    // Verification is on by default: the system roots do not know the test CA.
    let err = bus_tls(None).publish(&batch(3..4)).await.unwrap_err();
    assert!(
        matches!(err, publisher::PublishError::Retryable(_)),
        "{err:?}"
    );
    assert!(!err.to_string().contains("guest:guest"), "{err}");
    println!("without the CA: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_fails_over_to_the_next_broker_of_the_transport_url() {
    let rabbit = tokio::task::spawn_blocking(Rabbit::start).await.unwrap();
    let dead = testsupport::free_port();
    let url = format!(
        "rabbit://guest:guest@127.0.0.1:{dead},guest:guest@127.0.0.1:{}/",
        rabbit.port
    );
    let p = BusPublisher::new(BusConfig {
        transport: TransportUrl::parse(&url).unwrap(),
        exchange: "ceilometer".into(),
        topics: vec!["failover".into()],
        durable: false,
        notification: Notification::Polling,
        secret: "secret".into(),
        meter_form: MeterForm::Modern,
        name: "bus-failover".into(),
        tls: Default::default(),
    });
    // The first host refuses; the same publish attempt moves on to the second.
    p.publish(&batch(0..2)).await.unwrap();
    assert_eq!(
        volumes(&drain(&rabbit, "failover.sample").await),
        vec![0, 1]
    );
}

/// The inner oslo messages of a list of bus messages.
fn inner(msgs: &[(String, String, String, String, u8, Value)]) -> Vec<Value> {
    msgs.iter()
        .map(|(.., body)| serde_json::from_str(body["oslo.message"].as_str().unwrap()).unwrap())
        .collect()
}

fn named(name: &str, i: usize) -> Sample {
    Sample {
        name: name.to_owned().into(),
        ..sample(i)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifier_per_meter_topic_and_meter_forms_on_real_rabbitmq() {
    let rabbit = tokio::task::spawn_blocking(Rabbit::start).await.unwrap();
    let ctx = publisher::PublisherContext {
        secret: "secret".into(),
        host: "ctl-1".into(),
        metering_topic: "metering".into(),
        ..Default::default()
    };
    let url = |query: &str| format!("notifier://guest:guest@127.0.0.1:{}?{query}", rabbit.port);

    // per_meter_topic=1: the batch under event type `metering`, then one notification per
    // meter (sorted by name) under `metering.<meter>`, all on the URL's topic.
    let b = publisher::build(&url("topic=permeter&per_meter_topic=1"), &ctx).unwrap();
    let batch = Batch {
        samples: vec![
            named("storage.objects.size", 1),
            named("storage.objects", 2),
            named("storage.objects.size", 3),
            named("image.size", 4),
        ],
    };
    b.publisher.publish(&batch).await.unwrap();
    let msgs = drain(&rabbit, "permeter.sample").await;
    assert!(msgs
        .iter()
        .all(|m| m.0 == "ceilometer" && m.1 == "permeter.sample"));
    let got: Vec<(String, Vec<u64>)> = inner(&msgs)
        .iter()
        .map(|m| {
            assert_eq!(m["publisher_id"], "telemetry.publisher.ctl-1");
            assert_eq!(m["priority"], "SAMPLE");
            let vols = m["payload"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["counter_volume"].as_u64().unwrap())
                .collect();
            (m["event_type"].as_str().unwrap().to_owned(), vols)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("metering".to_owned(), vec![1, 2, 3, 4]),
            ("metering.image.size".to_owned(), vec![4]),
            ("metering.storage.objects".to_owned(), vec![2]),
            ("metering.storage.objects.size".to_owned(), vec![1, 3]),
        ]
    );
    let ids: BTreeSet<String> = inner(&msgs)
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "each notification has its own message id");
    // The per-meter payloads carry the same signed dicts as the batch.
    let all = inner(&msgs);
    assert_eq!(all[3]["payload"][1], all[0]["payload"][2]);

    // Without per_meter_topic: one notification.
    let b = publisher::build(&url("topic=single"), &ctx).unwrap();
    b.publisher.publish(&batch).await.unwrap();
    let one = inner(&drain(&rabbit, "single.sample").await);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["event_type"], "metering");

    // Meter forms: the context's (modern here), or the URL's meter_form=kilo, whose
    // signature is the Python 2 one of the spec's vector.
    let vector = Batch {
        samples: vec![common::vector_sample()],
    };
    for (query, kilo) in [
        ("topic=forms", false),
        ("topic=forms&meter_form=kilo", true),
    ] {
        let b = publisher::build(&url(query), &ctx).unwrap();
        b.publisher.publish(&vector).await.unwrap();
        let m = inner(&drain(&rabbit, "forms.sample").await);
        assert_eq!(m.len(), 1, "{query}");
        let dict = m[0]["payload"][0].as_object().unwrap();
        let keys: Vec<&str> = dict.keys().map(String::as_str).collect();
        if kilo {
            assert_eq!(keys, common::KILO_KEYS, "{query}");
            assert_eq!(dict["message_signature"], common::KILO_SIGNATURE);
        } else {
            assert!(keys.contains(&"user_name") && keys.contains(&"monotonic_time"));
            assert_eq!(dict["message_signature"], common::MODERN_SIGNATURE);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_presents_its_client_certificate_to_a_broker_that_demands_one() {
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
    let bus_tls = |cert: Option<(&PathBuf, &PathBuf)>| {
        Arc::new(BusPublisher::new(BusConfig {
            transport: TransportUrl::parse(&format!(
                "rabbit://guest:guest@127.0.0.1:{tls_port}/?ssl=1"
            ))
            .unwrap(),
            exchange: "ceilometer".into(),
            topics: vec!["mtls".into()],
            durable: false,
            notification: Notification::Polling,
            secret: "secret".into(),
            meter_form: MeterForm::Modern,
            name: "bus-mtls".into(),
            tls: publisher::bus::AmqpTls {
                ca_file: Some(pki.ca.clone()),
                cert_file: cert.map(|c| c.0.clone()),
                key_file: cert.map(|c| c.1.clone()),
            },
        }))
    };

    // With [oslo_messaging_rabbit] ssl_cert_file/ssl_key_file: connected, delivered, confirmed.
    bus_tls(Some((&pki.client_cert, &pki.client_key)))
        .publish(&batch(0..3))
        .await
        .unwrap();
    assert_eq!(volumes(&drain(&rabbit, "mtls.sample").await), vec![0, 1, 2]);

    // Without a client certificate, or with one the broker's CA did not sign: refused, with
    // an error that says so and shows no credentials.
    // (The broker's alert names the problem; with TLS 1.3 it can be lost in a connection
    // reset, and the hint still names the option to check.)
    let foreign = pki.other_client_cert.display().to_string();
    let no_cert_hints = [
        "the broker requires a client certificate: set [oslo_messaging_rabbit] ssl_cert_file and ssl_key_file".to_owned(),
        "requires client certificates does so: set [oslo_messaging_rabbit] ssl_cert_file and ssl_key_file".to_owned(),
    ];
    let foreign_hints = [
        format!("the broker refused the client certificate {foreign} of [oslo_messaging_rabbit] ssl_cert_file"),
        format!("check the client certificate {foreign} of [oslo_messaging_rabbit] ssl_cert_file"),
    ];
    for (what, cert, hints) in [
        ("no client certificate", None, &no_cert_hints),
        (
            "a client certificate of another CA",
            Some((&pki.other_client_cert, &pki.other_client_key)),
            &foreign_hints,
        ),
    ] {
        let err = bus_tls(cert).publish(&batch(3..4)).await.unwrap_err();
        let text = err.to_string();
        println!("{what}: {text}");
        assert!(
            matches!(err, publisher::PublishError::Retryable(_)),
            "{what}: {err:?}"
        );
        assert!(
            text.contains(&format!("127.0.0.1:{tls_port}")),
            "{what}: {text}"
        );
        assert!(
            hints.iter().any(|h| text.contains(h.as_str())),
            "{what}: {text}"
        );
        assert!(!text.contains("guest:guest"), "{what}: {text}");
    }

    // Behind a delivery worker the refusal is an outage like any other: every sample stays
    // queued (memory, then spool), nothing is dropped, nothing panics.
    let spool = tempfile::tempdir().unwrap();
    let d = Delivery::spawn(
        bus_tls(None),
        DeliveryConfig {
            max_queue_length: 2,
            spool_dir: Some(spool.path().to_owned()),
            ..DeliveryConfig::default()
        },
    )
    .unwrap();
    for i in 0..5 {
        d.submit(batch(10 + i * 2..12 + i * 2));
    }
    testsupport::wait_for(
        "two failed attempts against the broker",
        Duration::from_secs(30),
        || {
            let failed = d.stats().failed_attempts;
            async move { failed >= 2 }
        },
    )
    .await;
    let s = d.stats();
    assert_eq!((s.submitted, s.published, s.dropped), (10, 0, 0), "{s:?}");
    assert_eq!(s.queued + s.spooled, 10, "{s:?}");
    assert_eq!(rabbit.queue_depth("mtls.sample"), Some(0));
}
