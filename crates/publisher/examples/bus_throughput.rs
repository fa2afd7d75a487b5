//! Publishes samples to a private local RabbitMQ through the bus publisher and its delivery
//! worker, with publisher confirms, and reports samples/s and CPU µs per sample of this
//! process (utime + stime from `/proc/self/stat`, so the broker's CPU is not counted).
//!
//! `cargo run --release -p publisher --example bus_throughput -- [samples] [batch_size]`
//! (defaults 200000 and 100). Needs `rabbitmq-server` installed (see `testsupport`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use publisher::bus::{BusConfig, BusPublisher, Notification, TransportUrl};
use publisher::{Batch, Delivery, DeliveryConfig};
use sample::{Metadata, MeterForm, Sample, SampleType, Timestamp, Volume};
use testsupport::rabbitmq::Rabbit;
use tokio::time::Instant;

fn sample(i: usize) -> Sample {
    Sample {
        name: "storage.objects".into(),
        sample_type: SampleType::Gauge,
        unit: "object".into(),
        volume: Volume::Int(i as i64),
        user_id: None,
        user_name: None,
        project_id: Some(format!("{i:032x}")),
        project_name: None,
        resource_id: format!("{i:032x}"),
        timestamp: Timestamp::from_unix_micros(1_700_000_000_123_456),
        resource_metadata: Metadata::new(),
        source: "openstack".into(),
        id: format!("00000000-0000-0000-0000-{i:012}"),
        monotonic_time: None,
    }
}

/// (utime + stime) of this process in microseconds.
fn cpu_us() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here (0-based 11, 12).
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux unless the kernel says otherwise.
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(100);
    ticks * 1_000_000 / hz
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let batch_size: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let mut rabbit = Rabbit::start();
    let bus = Arc::new(BusPublisher::new(BusConfig {
        transport: TransportUrl::parse(&rabbit.transport_url()).unwrap(),
        exchange: "ceilometer".into(),
        topics: vec!["notifications".into()],
        durable: false,
        notification: Notification::Polling,
        secret: "secret".into(),
        meter_form: MeterForm::Modern,
        name: "bench".into(),
        tls: Default::default(),
    }));
    let batches: Vec<Arc<Batch>> = (0..total.div_ceil(batch_size))
        .map(|b| {
            Arc::new(Batch {
                samples: (b * batch_size..((b + 1) * batch_size).min(total))
                    .map(sample)
                    .collect(),
            })
        })
        .collect();
    let d = Delivery::spawn(
        bus,
        DeliveryConfig {
            max_queue_length: batches.len() + 1,
            ..DeliveryConfig::default()
        },
    )
    .unwrap();
    // Warm up: connect, declare.
    d.submit(batches[0].clone());
    assert!(d.flush(Duration::from_secs(60)).await, "warm-up failed");
    let (t0, c0) = (Instant::now(), cpu_us());
    for b in &batches {
        d.submit(b.clone());
    }
    assert!(d.flush(Duration::from_secs(600)).await, "not delivered");
    let (wall, cpu) = (t0.elapsed(), cpu_us() - c0);
    let st = d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(st.published as usize, total + batches[0].samples.len());
    let depth = rabbit.queue_depth("notifications.sample");
    rabbit.stop();
    println!(
        "bus_throughput: {total} samples in batches of {batch_size}: {:.3} s wall, {:.0} samples/s, {:.2} CPU µs/sample (agent process only), queue depth {:?}",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        cpu as f64 / total as f64,
        depth
    );
}
