//! The bus publisher against a real RabbitMQ broker (and the real oslo.messaging listener).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
        Notification::KiloNotifier { .. } => MeterForm::Kilo,
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
        Notification::KiloNotifier {
            host: "ctl-1".into(),
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
