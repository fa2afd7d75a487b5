//! Shared helpers: samples and a tiny recording HTTP server on 127.0.0.1.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sample::{Metadata, Sample, SampleType, Timestamp, Volume};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// `storage.objects` of resource `r<i>`, volume `i`, at 2023-11-14T22:13:20.00000i.
pub fn sample(i: usize) -> Sample {
    Sample {
        name: "storage.objects".into(),
        sample_type: SampleType::Gauge,
        unit: "object".into(),
        volume: Volume::Int(i as i64),
        user_id: None,
        user_name: None,
        project_id: Some(format!("p{i}")),
        project_name: None,
        resource_id: format!("r{i}"),
        timestamp: Timestamp::from_unix_micros(1_700_000_000_000_000 + i as i64),
        resource_metadata: Metadata::new(),
        source: "openstack".into(),
        id: format!("00000000-0000-0000-0000-{i:012}"),
        monotonic_time: None,
    }
}

#[path = "../../../../sample/tests/fixtures/vector.rs"]
mod vector;
pub use vector::vector_sample;

/// `message_signature` of [`vector_sample`] with secret `secret`, Python 3 (verified, spec §6.2).
pub const MODERN_SIGNATURE: &str =
    "6eeb8f0caa1ba94b97177be075a15a6283c64a1c2989bdba46733829e38a3a6e";

/// The same in the Kilo form (Python 2 text, no user_name/project_name/monotonic_time),
/// as crates/sample/tests/wire.rs derives it.
pub const KILO_SIGNATURE: &str = "f5c2f88ca33a36df0d3dab486096222487ffaead3aa9a5c619129b31510af20f";

/// Keys of a Kilo meter dict, in order.
pub const KILO_KEYS: &[&str] = &[
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

/// One request the recorder received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A server that answers with scripted statuses (then 200) and records every request.
pub struct Recorder {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
    got: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    pub async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let got = Arc::new(Notify::new());
        let (r, s, g) = (requests.clone(), statuses.clone(), got.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (r, s, g) = (r.clone(), s.clone(), g.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (r, s, g) = (r.clone(), s.clone(), g.clone());
                        async move {
                            let method = req.method().to_string();
                            let uri = req.uri().to_string();
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.to_string(), v.to_str().unwrap_or_default().to_owned())
                                })
                                .collect();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            r.lock().unwrap().push(Recorded {
                                method,
                                uri,
                                headers,
                                body: String::from_utf8_lossy(&body).into_owned(),
                            });
                            g.notify_waiters();
                            let status = s.lock().unwrap().pop_front().unwrap_or(200);
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from_static(b"{}")))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Recorder {
            addr,
            requests,
            statuses,
            got,
            task,
        }
    }

    /// The next requests get these statuses, in order.
    pub fn script(&self, statuses: &[u16]) {
        self.statuses
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn url(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
