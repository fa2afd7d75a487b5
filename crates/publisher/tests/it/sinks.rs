//! HTTP, UDP, TCP, file and push-gateway publishers against local receivers, built through the
//! URL factory, and the delivery worker driven by HTTP statuses.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use crate::common::{sample, Recorder};
use publisher::factory::{build, Concrete, PublisherContext, PublisherUrlError};
use publisher::wire::msgpack;
use publisher::{Backoff, Batch, Delivery, DeliveryConfig, PublishError};
use sample::{Metadata, MeterForm, Sample, SampleType, Timestamp, Volume};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

fn ctx() -> PublisherContext {
    PublisherContext {
        secret: "secret".into(),
        host: "central-1".into(),
        ..PublisherContext::default()
    }
}

fn batch(range: std::ops::Range<usize>) -> Batch {
    Batch {
        samples: range.map(sample).collect(),
    }
}

const DICT_1: &str = r#"{"name": "storage.objects", "type": "gauge", "unit": "object", "volume": 1, "user_id": null, "user_name": null, "project_id": "p1", "project_name": null, "resource_id": "r1", "timestamp": "2023-11-14T22:13:20.000001", "resource_metadata": {}, "source": "openstack", "id": "00000000-0000-0000-0000-000000000001", "monotonic_time": null}"#;
const DICT_2: &str = r#"{"name": "storage.objects", "type": "gauge", "unit": "object", "volume": 2, "user_id": null, "user_name": null, "project_id": "p2", "project_name": null, "resource_id": "r2", "timestamp": "2023-11-14T22:13:20.000002", "resource_metadata": {}, "source": "openstack", "id": "00000000-0000-0000-0000-000000000002", "monotonic_time": null}"#;

#[tokio::test]
async fn http_batch_posts_one_json_list_with_basic_auth_and_options_stripped() {
    let rec = Recorder::start().await;
    let url = format!(
        "http://agent:s3cr%40t@{}/v1/in?timeout=2&max_retries=0&batch=True&verify_ssl=False&raw_only=True&ssl=1&tenant=x&policy=drop",
        rec.url()
    );
    let b = build(&url, &ctx()).unwrap();
    assert_eq!(
        b.name,
        format!(
            "http://agent:***@{}/v1/in?timeout=2&max_retries=0&batch=True&verify_ssl=False&raw_only=True&ssl=1&tenant=x&policy=drop",
            rec.url()
        )
    );
    assert_eq!(b.delivery.policy, publisher::Policy::Drop);
    b.publisher.publish(&batch(1..3)).await.unwrap();
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.uri, "/v1/in?tenant=x");
    assert_eq!(r.header("content-type"), Some("application/json"));
    // base64("agent:s3cr@t")
    assert_eq!(r.header("authorization"), Some("Basic YWdlbnQ6czNjckB0"));
    assert_eq!(r.body, format!("[{DICT_1}, {DICT_2}]"));
}

#[tokio::test]
async fn http_unbatched_posts_one_object_per_sample() {
    let rec = Recorder::start().await;
    let b = build(&format!("http://{}/s?batch=False", rec.url()), &ctx()).unwrap();
    b.publisher.publish(&batch(1..3)).await.unwrap();
    let bodies: Vec<String> = rec.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, vec![DICT_1.to_owned(), DICT_2.to_owned()]);
    assert!(rec
        .requests()
        .iter()
        .all(|r| r.uri == "/s" && r.header("authorization").is_none()));
}

#[tokio::test]
async fn http_statuses_are_classified() {
    let rec = Recorder::start().await;
    let b = build(&format!("http://u:hunter2@{}/s", rec.url()), &ctx()).unwrap();
    for (status, retryable) in [
        (500, true),
        (503, true),
        (429, true),
        (408, true),
        (400, false),
        (404, false),
        (401, false),
    ] {
        rec.script(&[status]);
        let err = b.publisher.publish(&batch(1..2)).await.unwrap_err();
        assert_eq!(
            matches!(err, PublishError::Retryable(_)),
            retryable,
            "{status}: {err}"
        );
        assert!(err.to_string().contains(&status.to_string()), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[tokio::test]
async fn http_connection_refused_is_retryable_and_masked() {
    // A port nobody listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let b = build(
        &format!("http://u:hunter2@127.0.0.1:{port}/s?max_retries=1"),
        &ctx(),
    )
    .unwrap();
    let err = b.publisher.publish(&batch(1..2)).await.unwrap_err();
    assert!(matches!(err, PublishError::Retryable(_)), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn delivery_retries_5xx_and_429_then_delivers_everything_in_order() {
    let rec = Recorder::start().await;
    rec.script(&[503, 429, 500]);
    let b = build(&format!("http://{}/s", rec.url()), &ctx()).unwrap();
    let cfg = DeliveryConfig {
        backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(5)).unwrap(),
        ..b.delivery.clone()
    };
    let d = Delivery::spawn(b.publisher.clone(), cfg).unwrap();
    for i in 0..5 {
        d.submit(Arc::new(batch(i * 2..i * 2 + 2)));
    }
    assert!(d.flush(Duration::from_secs(20)).await);
    let st = d.stats();
    assert_eq!((st.submitted, st.published, st.dropped), (10, 10, 0));
    assert_eq!(st.failed_attempts, 3);
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 8, "3 failures then 5 batches");
    let volumes: Vec<i64> = reqs[3..]
        .iter()
        .flat_map(|r| serde_json::from_str::<Vec<Value>>(&r.body).unwrap())
        .map(|d| d["volume"].as_i64().unwrap())
        .collect();
    assert_eq!(volumes, (0..10).collect::<Vec<i64>>());
    // The failed attempts carried the first batch.
    assert!(reqs[..3].iter().all(|r| r.body == reqs[3].body));

    // A 400 is a permanent refusal: that batch is dropped, the next one goes through.
    rec.script(&[400]);
    d.submit(Arc::new(batch(10..11)));
    d.submit(Arc::new(batch(11..12)));
    assert!(d.flush(Duration::from_secs(20)).await);
    let st = d.stats();
    assert_eq!((st.submitted, st.published, st.dropped), (12, 11, 1));
    let last = rec.requests().pop().unwrap();
    assert!(
        last.body.contains("\"resource_id\": \"r11\""),
        "{}",
        last.body
    );
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn simcloud_sink_receives_the_http_publisher() {
    let sim = simcloud::SimCloud::start(simcloud::SimConfig::default())
        .await
        .unwrap();
    let url = format!("{}/sink/ceilometer?batch=True&timeout=3", sim.url());
    let b = build(&url, &ctx()).unwrap();
    b.publisher.publish(&batch(1..3)).await.unwrap();
    let recs = sim.sink().records();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].path, "/ceilometer");
    assert_eq!(recs[0].content_type.as_deref(), Some("application/json"));
    let expected: Value = serde_json::from_str(&format!("[{DICT_1}, {DICT_2}]")).unwrap();
    assert_eq!(recs[0].body, expected);
    sim.shutdown().await;
}

fn big_metadata_sample() -> Sample {
    let mut s = sample(7);
    s.resource_metadata
        .insert("blob".into(), Value::String("x".repeat(70_000)));
    s
}

#[tokio::test]
async fn udp_sends_one_signed_msgpack_datagram_per_sample_and_counts_oversize() {
    let rx = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = rx.local_addr().unwrap().port();
    let b = build(&format!("udp://127.0.0.1:{port}"), &ctx()).unwrap();
    let Concrete::Udp(udp) = &b.concrete else {
        panic!("not udp")
    };
    let mut bt = batch(1..3);
    bt.samples.insert(1, big_metadata_sample());
    b.publisher.publish(&bt).await.unwrap();
    assert_eq!(
        (udp.sent(), udp.oversize_dropped(), udp.send_errors()),
        (2, 1, 0)
    );
    let mut buf = vec![0u8; 70_000];
    for i in [1usize, 2] {
        let n = rx.recv(&mut buf).await.unwrap();
        let expected = sample(i).meter_message("secret", MeterForm::Modern, None);
        assert_eq!(
            &buf[..n],
            msgpack(&Value::Object(expected.clone())).as_slice()
        );
        let v = rmpv::decode::read_value(&mut &buf[..n]).unwrap();
        assert_eq!(v["counter_name"].as_str(), Some("storage.objects"));
        assert_eq!(v["counter_volume"].as_u64(), Some(i as u64));
        assert!(v["user_id"].is_nil());
        assert_eq!(
            v["message_signature"].as_str(),
            expected["message_signature"].as_str()
        );
        assert_eq!(v["message_signature"].as_str().unwrap().len(), 64);
    }
}

#[tokio::test]
async fn tcp_sends_length_prefixed_msgpack_with_publisher_id() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let b = build(&format!("tcp://127.0.0.1:{port}"), &ctx()).unwrap();
    let send = tokio::spawn(async move { b.publisher.publish(&batch(1..3)).await });
    let (mut conn, _) = l.accept().await.unwrap();
    for i in [1usize, 2] {
        let mut len = [0u8; 8];
        conn.read_exact(&mut len).await.unwrap();
        let mut data = vec![0u8; u64::from_le_bytes(len) as usize];
        conn.read_exact(&mut data).await.unwrap();
        let expected = sample(i).meter_message("secret", MeterForm::Modern, Some("central-1"));
        assert_eq!(data, msgpack(&Value::Object(expected)));
        let v = rmpv::decode::read_value(&mut data.as_slice()).unwrap();
        assert_eq!(v["publisher_id"].as_str(), Some("central-1"));
    }
    send.await.unwrap().unwrap();
}

/// Keys of a msgpack map, in order.
fn msgpack_keys(v: &rmpv::Value) -> Vec<String> {
    v.as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn kilo_meter_form_from_the_context_or_the_url_signs_the_python2_way() {
    let rx = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = rx.local_addr().unwrap().port();
    let kilo_ctx = PublisherContext {
        meter_form: MeterForm::Kilo,
        ..ctx()
    };
    let vector = Batch {
        samples: vec![common::vector_sample()],
    };
    let mut buf = vec![0u8; 65_536];
    // (URL, context) -> expected form.
    for (url, c, kilo) in [
        (
            format!("udp://127.0.0.1:{port}?meter_form=kilo"),
            ctx(),
            true,
        ),
        (format!("udp://127.0.0.1:{port}"), kilo_ctx.clone(), true),
        (
            format!("udp://127.0.0.1:{port}?meter_form=Modern"),
            kilo_ctx.clone(),
            false,
        ),
        (format!("udp://127.0.0.1:{port}"), ctx(), false),
    ] {
        let b = build(&url, &c).unwrap();
        b.publisher.publish(&vector).await.unwrap();
        let n = rx.recv(&mut buf).await.unwrap();
        let v = rmpv::decode::read_value(&mut &buf[..n]).unwrap();
        let keys = msgpack_keys(&v);
        if kilo {
            assert_eq!(keys, common::KILO_KEYS, "{url}");
            assert_eq!(
                v["message_signature"].as_str(),
                Some(common::KILO_SIGNATURE),
                "{url}"
            );
        } else {
            assert!(
                keys.iter().any(|k| k == "monotonic_time"),
                "{url}: {keys:?}"
            );
            assert_eq!(
                v["message_signature"].as_str(),
                Some(common::MODERN_SIGNATURE),
                "{url}"
            );
        }
    }

    // TCP: the Kilo form plus publisher_id, signed with it.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let b = build(&format!("tcp://127.0.0.1:{port}?meter_form=kilo"), &ctx()).unwrap();
    let send = tokio::spawn(async move {
        b.publisher
            .publish(&Batch {
                samples: vec![common::vector_sample()],
            })
            .await
    });
    let (mut conn, _) = l.accept().await.unwrap();
    let mut len = [0u8; 8];
    conn.read_exact(&mut len).await.unwrap();
    let mut data = vec![0u8; u64::from_le_bytes(len) as usize];
    conn.read_exact(&mut data).await.unwrap();
    let expected =
        common::vector_sample().meter_message("secret", MeterForm::Kilo, Some("central-1"));
    assert_eq!(data, msgpack(&Value::Object(expected)));
    let v = rmpv::decode::read_value(&mut data.as_slice()).unwrap();
    let keys = msgpack_keys(&v);
    assert!(
        !keys
            .iter()
            .any(|k| k == "user_name" || k == "monotonic_time"),
        "{keys:?}"
    );
    send.await.unwrap().unwrap();

    // A misspelt form is refused, naming the option.
    let e = match build("udp://127.0.0.1:1?meter_form=python2", &ctx()) {
        Ok(_) => panic!("meter_form=python2 accepted"),
        Err(e) => e,
    };
    assert!(
        matches!(&e, PublisherUrlError::BadOption { option, .. } if option == "meter_form"),
        "{e}"
    );
    assert!(
        e.to_string().contains("modern") && e.to_string().contains("kilo"),
        "{e}"
    );
}

fn rich_sample() -> Sample {
    let md = json!({"name": "disk", "flag": true, "none": null, "f": 0.1 + 0.2,
        "nested": {"a": [1, "b", {"c": null}], "big": 1e16}, "text": "café ☃ it's", "ctl": "a\tb\u{a0}"});
    let Value::Object(md) = md else {
        unreachable!()
    };
    Sample {
        name: "volume.size".into(),
        sample_type: SampleType::Gauge,
        unit: "GiB".into(),
        volume: Volume::Float(1.5),
        user_id: None,
        user_name: None,
        project_id: Some("p1".into()),
        project_name: Some("démo".into()),
        resource_id: "v1".into(),
        timestamp: Timestamp::from_unix_micros(1_700_000_000_000_000),
        resource_metadata: Metadata::from(md),
        source: "openstack".into(),
        id: "id-1".into(),
        monotonic_time: None,
    }
}

// Both lines printed by CPython 3 for the same dict (`repr(d)`, `json.dumps(d)`).
const REPR_LINE: &str = r#"{'name': 'volume.size', 'type': 'gauge', 'unit': 'GiB', 'volume': 1.5, 'user_id': None, 'user_name': None, 'project_id': 'p1', 'project_name': 'démo', 'resource_id': 'v1', 'timestamp': '2023-11-14T22:13:20', 'resource_metadata': {'name': 'disk', 'flag': True, 'none': None, 'f': 0.30000000000000004, 'nested': {'a': [1, 'b', {'c': None}], 'big': 1e+16}, 'text': "café ☃ it's", 'ctl': 'a\tb\xa0'}, 'source': 'openstack', 'id': 'id-1', 'monotonic_time': None}"#;
const JSON_LINE: &str = r#"{"name": "volume.size", "type": "gauge", "unit": "GiB", "volume": 1.5, "user_id": null, "user_name": null, "project_id": "p1", "project_name": "d\u00e9mo", "resource_id": "v1", "timestamp": "2023-11-14T22:13:20", "resource_metadata": {"name": "disk", "flag": true, "none": null, "f": 0.30000000000000004, "nested": {"a": [1, "b", {"c": null}], "big": 1e+16}, "text": "caf\u00e9 \u2603 it's", "ctl": "a\tb\u00a0"}, "source": "openstack", "id": "id-1", "monotonic_time": null}"#;

#[tokio::test]
async fn file_lines_are_python_repr_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("samples.log");
    let b = build(&format!("file://{}", path.display()), &ctx()).unwrap();
    b.publisher
        .publish(&Batch {
            samples: vec![rich_sample()],
        })
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{REPR_LINE}\n")
    );

    let jpath = dir.path().join("samples.json");
    let b = build(&format!("file://{}?json", jpath.display()), &ctx()).unwrap();
    b.publisher
        .publish(&Batch {
            samples: vec![rich_sample(), rich_sample()],
        })
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&jpath).unwrap(),
        format!("{JSON_LINE}\n{JSON_LINE}\n")
    );
}

#[tokio::test]
async fn file_rotates_like_rotating_file_handler() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.log");
    let line_len = DICT_1.len() as u64 + 1; // JSON lines of samples 1..=9 have equal length
                                            // Two lines fit (2·len < max), the third rolls over.
    let max = 2 * line_len + 1;
    let b = build(
        &format!(
            "file://{}?json&max_bytes={max}&backup_count=2",
            path.display()
        ),
        &ctx(),
    )
    .unwrap();
    for i in 1..8 {
        b.publisher.publish(&batch(i..i + 1)).await.unwrap();
    }
    let read = |p: &std::path::Path| -> Vec<i64> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["volume"]
                    .as_i64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(read(&path), vec![7]);
    assert_eq!(read(&dir.path().join("s.log.1")), vec![5, 6]);
    assert_eq!(read(&dir.path().join("s.log.2")), vec![3, 4]);
    assert!(!dir.path().join("s.log.3").exists());

    // Without backup_count there is no rotation.
    let p2 = dir.path().join("plain.log");
    let b = build(
        &format!("file://{}?json&max_bytes=10", p2.display()),
        &ctx(),
    )
    .unwrap();
    b.publisher.publish(&batch(1..4)).await.unwrap();
    assert_eq!(read(&p2), vec![1, 2, 3]);
    assert!(!dir.path().join("plain.log.1").exists());
}

#[tokio::test]
async fn file_in_a_missing_directory_is_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/s.log");
    let b = build(&format!("file://{}", path.display()), &ctx()).unwrap();
    let err = b.publisher.publish(&batch(1..2)).await.unwrap_err();
    assert!(matches!(err, PublishError::Retryable(_)), "{err}");
}

fn prom_batch() -> Batch {
    let mut a = sample(1);
    a.name = "radosgw.objects.size".into();
    a.resource_id = "res 1/a".into();
    a.user_id = Some("u1".into());
    let mut b = sample(2);
    b.name = "storage.objects-x".into();
    b.sample_type = SampleType::Cumulative;
    b.resource_id = "res 1/a".into();
    let mut c = sample(3);
    c.name = "radosgw.objects.size".into();
    c.volume = Volume::Float(2.5);
    let mut d = sample(4);
    d.name = "ip.floating".into();
    d.sample_type = SampleType::Delta;
    d.resource_id = "r3".into();
    Batch {
        samples: vec![a, b, c, d],
    }
}

#[tokio::test]
async fn prometheus_pushes_per_resource_without_grouping_labels() {
    let rec = Recorder::start().await;
    let b = build(
        &format!(
            "prometheus://{}/metrics/job/ceilometer?timeout=3",
            rec.url()
        ),
        &ctx(),
    )
    .unwrap();
    b.publisher.publish(&prom_batch()).await.unwrap();
    let reqs = rec.requests();
    let got: Vec<(&str, &str)> = reqs
        .iter()
        .map(|r| (r.uri.as_str(), r.body.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "/metrics/job/ceilometer/resource_id/res%201/a",
                "# TYPE radosgw_objects_size gauge\n\
                 radosgw_objects_size{resource_id=\"res 1/a\", user_id=\"u1\", project_id=\"p1\"} 1\n\
                 # TYPE storage_objects_x counter\n\
                 storage_objects_x{resource_id=\"res 1/a\", user_id=\"None\", project_id=\"p2\"} 2\n"
            ),
            (
                "/metrics/job/ceilometer/resource_id/r3",
                "# TYPE radosgw_objects_size gauge\n\
                 radosgw_objects_size{resource_id=\"r3\", user_id=\"None\", project_id=\"p3\"} 2.5\n\
                 ip_floating{resource_id=\"r3\", user_id=\"None\", project_id=\"p4\"} 4\n"
            ),
        ]
    );
    assert!(reqs
        .iter()
        .all(|r| r.method == "POST" && r.header("content-type") == Some("plain/text")));
}

#[tokio::test]
async fn prometheus_pushes_once_with_grouping_labels() {
    let rec = Recorder::start().await;
    let b = build(
        &format!(
            "prometheus://{}/metrics/job/ceilometer/instance/central-1",
            rec.url()
        ),
        &ctx(),
    )
    .unwrap();
    b.publisher.publish(&prom_batch()).await.unwrap();
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].uri, "/metrics/job/ceilometer/instance/central-1");
    assert_eq!(
        reqs[0].body,
        "# TYPE radosgw_objects_size gauge\n\
         radosgw_objects_size{resource_id=\"res 1/a\", user_id=\"u1\", project_id=\"p1\"} 1\n\
         # TYPE storage_objects_x counter\n\
         storage_objects_x{resource_id=\"res 1/a\", user_id=\"None\", project_id=\"p2\"} 2\n\
         radosgw_objects_size{resource_id=\"r3\", user_id=\"None\", project_id=\"p3\"} 2.5\n\
         ip_floating{resource_id=\"r3\", user_id=\"None\", project_id=\"p4\"} 4\n"
    );
    rec.script(&[503]);
    let err = b.publisher.publish(&prom_batch()).await.unwrap_err();
    assert!(matches!(err, PublishError::Retryable(_)), "{err}");
}

#[test]
fn factory_knows_every_scheme_and_strips_options() {
    let c = PublisherContext {
        spool_root: Some("/var/spool/ceilo".into()),
        transport_url: "rabbit://guest:pw@default-broker:5672/".into(),
        ..ctx()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _g = rt.enter();
    let kinds: Vec<(&str, &str)> = vec![
        ("notifier://", "notifier"),
        ("notifier://?topic=metering&policy=queue&max_queue_length=5&max_retry=10&per_meter_topic=1", "notifier"),
        ("notifier://user:pw@broker2:5673?driver=rabbit&topic=m2", "notifier"),
        ("http://h/p?batch=False", "http"),
        ("https://h/p?verify_ssl=False", "http"),
        ("udp://h", "udp"),
        ("udp://[::1]:5000", "udp"),
        ("tcp://h:4000", "tcp"),
        ("file:///tmp/x.log?max_bytes=10&backup_count=2", "file"),
        ("prometheus://gw:9091/metrics/job/j?ssl=1", "prometheus"),
    ];
    for (url, kind) in kinds {
        let b = build(url, &c).unwrap_or_else(|e| panic!("{url}: {e}"));
        let got = match b.concrete {
            Concrete::Notifier(_) => "notifier",
            Concrete::Http(_) => "http",
            Concrete::Udp(_) => "udp",
            Concrete::Tcp(_) => "tcp",
            Concrete::File(_) => "file",
            Concrete::Prometheus(_) => "prometheus",
            Concrete::Gnocchi(_) => "gnocchi",
        };
        assert_eq!(got, kind, "{url}");
    }
    // Delivery options.
    let b = build(
        "notifier://?topic=metering&policy=queue&max_queue_length=5",
        &c,
    )
    .unwrap();
    assert_eq!(b.delivery.policy, publisher::Policy::Queue);
    assert_eq!(b.delivery.max_queue_length, 5);
    let dir = b.delivery.spool_dir.unwrap();
    assert_eq!(
        dir.parent().unwrap(),
        std::path::Path::new("/var/spool/ceilo")
    );
    assert_eq!(dir.file_name().unwrap().len(), 16);
    // Stable across builds, distinct across URLs; no spool for drop.
    let again = build(
        "notifier://?topic=metering&policy=queue&max_queue_length=5",
        &c,
    )
    .unwrap();
    assert_eq!(again.delivery.spool_dir.unwrap(), dir);
    let other = build("notifier://?topic=other", &c).unwrap();
    assert_ne!(other.delivery.spool_dir.unwrap(), dir);
    assert_eq!(
        build("udp://h?policy=drop", &c).unwrap().delivery.spool_dir,
        None
    );
    // Password masked in the name.
    let b = build("notifier://user:pw@broker2:5673?driver=rabbit&topic=m2", &c).unwrap();
    assert_eq!(
        b.name,
        "notifier://user:***@broker2:5673?driver=rabbit&topic=m2"
    );
    assert_eq!(b.publisher.name(), b.name);
}

#[test]
fn factory_errors_are_clear_and_never_show_passwords() {
    let c = ctx();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _g = rt.enter();
    let err = |u: &str| match build(u, &c) {
        Ok(_) => panic!("{u} should fail"),
        Err(e) => e,
    };
    let e = err("kafka://user:hunter2@k:9092/topic");
    assert!(matches!(e, PublisherUrlError::UnknownScheme { .. }));
    let t = e.to_string();
    assert!(
        t.contains("\"kafka\"") && t.contains("gnocchi") && t.contains("notifier"),
        "{t}"
    );
    assert!(!t.contains("hunter2"), "{t}");
    for (u, part) in [
        ("http://u:hunter2@h/p?timeout=soon", "timeout"),
        ("http://u:hunter2@h/p?max_retries=-1", "max_retries"),
        ("notifier://u:hunter2@h?policy=sometimes", "policy"),
        (
            "notifier://u:hunter2@h?max_queue_length=0",
            "max_queue_length",
        ),
        ("file:///x?max_bytes=lots", "max_bytes"),
        ("http://u:hunter2@/p", "no host"),
        ("udp://", "no host"),
        ("file://", "path"),
        ("prometheus://u:hunter2@gw/other", "/metrics/job/"),
        ("gnocchi://?filter_project=service", "token source"),
        (
            "https://u:hunter2@h/p?verify_ssl=/no/such/ca.pem",
            "/no/such/ca.pem",
        ),
        ("notifier://u:hunter2@h:notaport", "port"),
        (
            "notifier://u:hunter2@h?per_meter_topic=maybe",
            "per_meter_topic",
        ),
        ("notifier://u:hunter2@h?meter_form=py2", "meter_form"),
    ] {
        let t = err(u).to_string();
        assert!(t.contains(part), "{u}: {t}");
        assert!(!t.contains("hunter2"), "{u}: {t}");
    }
}

#[tokio::test]
async fn notifier_url_sends_kilo_notifications_to_its_own_broker() {
    // Unreachable broker: the publisher must fail retryably, naming the broker, not the
    // password.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let b = build(
        &format!("notifier://guest:hunter2@127.0.0.1:{port}?topic=metering"),
        &ctx(),
    )
    .unwrap();
    let err = b.publisher.publish(&batch(1..2)).await.unwrap_err();
    assert!(matches!(err, PublishError::Retryable(_)), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// A TLS terminator on a free loopback port forwarding to `backend` (plain HTTP), with the
/// throw-away test CA's 127.0.0.1 certificate (crates/exporter/tests/data).
async fn tls_front(backend: std::net::SocketAddr) -> u16 {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let data = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exporter/tests/data");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(data.join("cert.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(data.join("key.pem")).unwrap();
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn https_publisher_verifies_the_server_with_verify_ssl_as_a_ca_path() {
    let rec = Recorder::start().await;
    let port = tls_front(rec.addr).await;
    let ca =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exporter/tests/data/ca.pem");
    // verify_ssl=<CA bundle>: verified against that CA, delivered.
    let url = format!(
        "https://127.0.0.1:{port}/v1/in?verify_ssl={}&max_retries=0",
        ca.display()
    );
    let b = build(&url, &ctx()).unwrap();
    b.publisher.publish(&batch(1..3)).await.unwrap();
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].uri, "/v1/in");
    assert_eq!(reqs[0].body, format!("[{DICT_1}, {DICT_2}]"));
    // Default: verified against the system roots, which do not know the test CA: refused,
    // retryable (the operator fixes the CA; nothing is dropped).
    let url = format!("https://127.0.0.1:{port}/v1/in?max_retries=0");
    let b = build(&url, &ctx()).unwrap();
    let err = b.publisher.publish(&batch(1..2)).await.unwrap_err();
    assert!(matches!(err, PublishError::Retryable(_)), "{err:?}");
    assert_eq!(
        rec.requests().len(),
        1,
        "nothing reached the server without verification"
    );
    // verify_ssl=False: the operator turned verification off explicitly.
    let url = format!("https://127.0.0.1:{port}/v1/in?verify_ssl=False&max_retries=0");
    build(&url, &ctx())
        .unwrap()
        .publisher
        .publish(&batch(1..2))
        .await
        .unwrap();
    assert_eq!(rec.requests().len(), 2);
}
