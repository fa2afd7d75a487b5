//! Scrapes over real listeners (127.0.0.1), parsed by prometheus_client's own parsers (the
//! Python venv in `<repo>/.venv`, created by `scripts/make-venv.sh` when missing): names,
//! labels, values and timestamps match the samples; the union of three agents' shares has
//! each series exactly once, also after one leaves; TLS; a scrape during a cycle returns the
//! previous complete cycle.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use exporter::{serve, Exporter, ExporterSettings, ServeError, TlsFiles};
use sample::{Sample, SampleType, Timestamp, Volume};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, creating the venv if needed; FAILS (never skips) when it cannot.
fn venv_python() -> PathBuf {
    let out = std::process::Command::new("bash")
        .arg(repo().join("scripts/make-venv.sh"))
        .output();
    let ok = matches!(&out, Ok(o) if o.status.success());
    assert!(
        ok,
        "cannot create the Python venv: run `bash scripts/make-venv.sh`: {:?}",
        out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
    );
    repo().join(".venv/bin/python")
}

#[derive(Debug, Clone)]
struct Parsed {
    family: String,
    help: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    timestamp: f64,
}

/// Parse with `prometheus_client` (text 0.0.4 or OpenMetrics parser).
fn parse(body: &str, format: &str) -> Vec<Parsed> {
    use std::io::Write as _;
    let mut child = std::process::Command::new(venv_python())
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/parse_metrics.py"))
        .arg(format)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejected the {format} exposition: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.into_iter()
        .map(|s| {
            assert_eq!(s["type"], "gauge");
            Parsed {
                family: s["family"].as_str().unwrap().to_owned(),
                help: s["help"].as_str().unwrap().to_owned(),
                name: s["name"].as_str().unwrap().to_owned(),
                labels: serde_json::from_value(s["labels"].clone()).unwrap(),
                value: match s["value"].as_str().unwrap() {
                    "nan" => f64::NAN,
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    v => v.parse().unwrap(),
                },
                timestamp: s["timestamp"].as_f64().expect("every line has a timestamp"),
            }
        })
        .collect()
}

fn sample(meter: &str, res: &str, volume: Volume, ts_us: i64, md: Value) -> Sample {
    Sample {
        name: meter.to_owned().into(),
        sample_type: SampleType::Gauge,
        unit: "GB".into(),
        volume,
        user_id: Some("u1".into()),
        user_name: None,
        project_id: Some("p1".into()),
        project_name: Some("demo".into()),
        resource_id: res.into(),
        timestamp: Timestamp::from_unix_micros(ts_us),
        resource_metadata: md.as_object().cloned().unwrap_or_default().into(),
        source: "openstack".into(),
        id: "x".into(),
        monotonic_time: None,
    }
}

/// Spec §6.5's labels for `s`, written out independently of the crate: empty where
/// upstream would have left the label out.
fn expected_labels(s: &Sample) -> BTreeMap<String, String> {
    let segs: Vec<&str> = s.name.split('.').collect();
    let md = &s.resource_metadata;
    let get = |k: &str| md.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut l = BTreeMap::new();
    l.insert(
        segs[0].replace('-', "_"),
        segs.get(2)
            .map_or(s.resource_id.clone(), |x| (*x).to_owned()),
    );
    l.insert("publisher".into(), "ceilometer".into());
    l.insert("type".into(), segs.get(1).unwrap_or(&segs[0]).to_string());
    l.insert("counter".into(), s.name.to_string());
    l.insert("project".into(), s.project_id.clone().unwrap_or_default());
    l.insert(
        "project_name".into(),
        s.project_name.clone().unwrap_or_default(),
    );
    l.insert("user".into(), s.user_id.clone().unwrap_or_default());
    l.insert("user_name".into(), s.user_name.clone().unwrap_or_default());
    l.insert("unit".into(), s.unit.to_string());
    l.insert("resource".into(), s.resource_id.clone());
    l.insert("vm_instance".into(), get("host"));
    let rn = match (get("display_name"), get("name")) {
        (d, n) if !d.is_empty() && !n.is_empty() => format!("{d}:{n}"),
        (d, _) if !d.is_empty() => d,
        (_, n) => n,
    };
    l.insert("resource_name".into(), rn);
    let sg = if md.is_empty() {
        String::new()
    } else {
        md.get("user_metadata")
            .and_then(|u| u["server_group"].as_str())
            .unwrap_or("none")
            .to_owned()
    };
    l.insert("server_group".into(), sg);
    if s.name.starts_with("loadbalancer.") {
        l.insert("availability_zone".into(), get("availability_zone"));
    }
    l
}

fn cycle(e: &Exporter, interval: u64, k: u64, samples: &[Sample]) {
    e.begin_cycle(interval, k);
    for b in samples.chunks(2) {
        e.observe(interval, k, b);
    }
    e.end_cycle(interval, k);
}

/// One HTTP/1.1 GET; returns (status line, headers, body).
async fn get_over<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    accept: Option<&str>,
) -> (String, String, String) {
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    let req =
        format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    // A TLS peer closing without close_notify is an error after the data; keep what came.
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap();
    (status.to_owned(), headers.to_lowercase(), body.to_owned())
}

async fn get(addr: SocketAddr, accept: Option<&str>) -> (String, String, String) {
    get_over(tokio::net::TcpStream::connect(addr).await.unwrap(), accept).await
}

fn tls_files() -> TlsFiles {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    TlsFiles {
        certfile: d.join("cert.pem"),
        keyfile: d.join("key.pem"),
    }
}

fn tls_connector(cert: &Path) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

async fn get_tls(addr: SocketAddr, accept: Option<&str>) -> (String, String, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let ca = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ca.pem");
    let tls = tls_connector(&ca).connect(name, tcp).await.unwrap();
    get_over(tls, accept).await
}

fn check_matches(parsed: &[Parsed], published: &[Sample], ts_tolerance: f64) {
    let with_volume: Vec<&Sample> = published
        .iter()
        .filter(|s| s.volume != Volume::Missing)
        .collect();
    assert_eq!(parsed.len(), with_volume.len(), "{parsed:?}");
    for s in with_volume {
        let name = format!("ceilometer_{}", s.name.replace(['.', '-'], "_"));
        let labels = expected_labels(s);
        let p = parsed
            .iter()
            .find(|p| p.name == name && p.labels == labels)
            .unwrap_or_else(|| panic!("no series {name}{labels:?} in {parsed:#?}"));
        assert_eq!(p.family, name);
        assert_eq!(
            p.help,
            format!("Ceilometer meter {}, unit {}", s.name, s.unit)
        );
        assert_eq!(p.value, s.volume.as_f64().unwrap(), "{name}");
        let ts = s.timestamp.unix_micros() as f64 / 1e6;
        assert!(
            (p.timestamp - ts).abs() <= ts_tolerance,
            "{name}: {} vs {ts}",
            p.timestamp
        );
    }
}

fn published_samples() -> Vec<Sample> {
    let t = 1_735_689_600_123_456;
    let mut none = sample("volume.size", "vol-2", Volume::Float(0.1), t + 7, json!({}));
    none.user_id = None;
    none.project_id = None;
    none.project_name = None;
    vec![
        sample(
            "volume.size",
            "vol-1",
            Volume::Int(20),
            t,
            json!({"display_name": "d\"q", "name": "n\\x", "host": "h\nl",
                   "user_metadata": {"server_group": "sg"}}),
        ),
        none,
        sample(
            "loadbalancer.operating",
            "lb-1",
            Volume::Int(1),
            t,
            json!({"availability_zone": "az1", "name": "lb"}),
        ),
        sample("image.size", "img-0", Volume::Missing, t, json!({})),
        sample(
            "storage.containers.objects",
            "acct/c1",
            Volume::Float(1e21),
            t,
            json!({"name": "c1"}),
        ),
        sample("dyn-meter.x", "r", Volume::Float(-2.5), t, json!({})),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_client_parses_both_formats_and_they_match_the_samples() {
    let e = Exporter::new();
    let samples = published_samples();
    cycle(&e, 300, 1, &samples[..3]);
    cycle(&e, 60, 9, &samples[3..]);
    let l = serve(&["127.0.0.1:0".into()], None, e.clone())
        .await
        .unwrap();

    let (status, headers, body) = get(l[0].addr, None).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    assert!(
        headers.contains(&format!("content-length: {}", body.len())),
        "{headers}"
    );
    check_matches(&parse(&body, "text"), &samples, 1e-3);

    let prom_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (_, headers, body) = get(l[0].addr, Some(prom_accept)).await;
    assert!(
        headers.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{headers}"
    );
    assert!(body.ends_with("# EOF\n"));
    check_matches(&parse(&body, "openmetrics"), &samples, 1e-6);

    // Other methods are refused; every path serves the metrics, as upstream's server does.
    let mut s = tokio::net::TcpStream::connect(l[0].addr).await.unwrap();
    s.write_all(
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 405"), "{r}");
    l[0].task.abort();
}

/// Resource `i` of cycle `k` split among `members` the way a ring would: each to one member.
fn share(samples: &[Sample], members: &[usize], me: usize) -> Vec<Sample> {
    samples
        .iter()
        .enumerate()
        .filter(|(i, _)| members[i % members.len()] == me)
        .map(|(_, s)| s.clone())
        .collect()
}

async fn union(addrs: &[SocketAddr]) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut all = Vec::new();
    for a in addrs {
        let (_, _, body) = get(*a, Some("application/openmetrics-text")).await;
        for p in parse(&body, "openmetrics") {
            all.push((p.name, p.labels, p.value));
        }
    }
    all
}

fn assert_exactly_once(
    all: &[(String, BTreeMap<String, String>, f64)],
    expected: &[Sample],
    value: f64,
) {
    let mut seen = BTreeSet::new();
    for (name, labels, v) in all {
        assert!(
            seen.insert((name.clone(), labels.clone())),
            "duplicate {name}{labels:?}"
        );
        assert_eq!(*v, value, "{name}{labels:?} is from another cycle");
    }
    let want: BTreeSet<(String, BTreeMap<String, String>)> = expected
        .iter()
        .map(|s| {
            (
                format!("ceilometer_{}", s.name.replace(['.', '-'], "_")),
                expected_labels(s),
            )
        })
        .collect();
    assert_eq!(seen, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_serve_each_series_once_and_a_departure_resplits_at_the_next_cycle() {
    let cloud = |v: i64| -> Vec<Sample> {
        (0..60)
            .flat_map(|i| {
                ["volume.size", "image.size"].map(|m| {
                    sample(
                        m,
                        &format!("res-{i}"),
                        Volume::Int(v),
                        v * 1_000_000,
                        json!({"name": format!("n{i}")}),
                    )
                })
            })
            .collect()
    };
    let agents: Vec<Exporter> = (0..3).map(|_| Exporter::new()).collect();
    let mut listeners = Vec::new();
    for a in &agents {
        listeners.push(
            serve(&["127.0.0.1:0".into()], None, a.clone())
                .await
                .unwrap()
                .remove(0),
        );
    }
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.addr).collect();

    // Cycle 1: three members.
    let c1 = cloud(1);
    for (me, a) in agents.iter().enumerate() {
        cycle(a, 300, 1, &share(&c1, &[0, 1, 2], me));
    }
    assert_exactly_once(&union(&addrs).await, &c1, 1.0);

    // Agent 2 leaves; cycle 2 is split between 0 and 1. While it is polled, 0 and 1 still
    // serve cycle 1 (2's share is missing: it is gone).
    listeners[2].task.abort();
    let c2 = cloud(2);
    for (me, a) in agents.iter().enumerate().take(2) {
        a.begin_cycle(300, 2);
        a.observe(300, 2, &share(&c2, &[0, 1], me));
    }
    let mid = union(&addrs[..2]).await;
    assert!(mid.iter().all(|(_, _, v)| *v == 1.0));
    assert_eq!(mid.len(), c1.len() - share(&c1, &[0, 1, 2], 2).len());
    for a in &agents[..2] {
        a.end_cycle(300, 2);
    }
    assert_exactly_once(&union(&addrs[..2]).await, &c2, 2.0);

    // A resource deleted between cycles disappears; a new one appears, still exactly once.
    let mut c3 = cloud(3);
    c3.retain(|s| s.resource_id != "res-7");
    c3.push(sample(
        "volume.size",
        "res-new",
        Volume::Int(3),
        3_000_000,
        json!({"name": "x"}),
    ));
    for (me, a) in agents.iter().enumerate().take(2) {
        cycle(a, 300, 3, &share(&c3, &[0, 1], me));
    }
    assert_exactly_once(&union(&addrs[..2]).await, &c3, 3.0);
    for l in &listeners[..2] {
        l.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_scrape_during_a_cycle_returns_the_previous_complete_cycle() {
    let e = Exporter::new();
    let c1 = vec![
        sample("volume.size", "a", Volume::Int(1), 1_000_000, json!({})),
        sample("volume.size", "b", Volume::Int(1), 1_000_000, json!({})),
    ];
    cycle(&e, 300, 1, &c1);
    let tls = tls_files();
    let l = serve(
        &["127.0.0.1:0".into(), "127.0.0.1:0".into()],
        Some(&tls),
        e.clone(),
    )
    .await
    .unwrap();
    assert_eq!(l.len(), 2);

    e.begin_cycle(300, 2);
    e.observe(
        300,
        2,
        &[sample(
            "volume.size",
            "a",
            Volume::Int(2),
            2_000_000,
            json!({}),
        )],
    );
    for li in &l {
        let (status, _, body) = get_tls(li.addr, None).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        check_matches(&parse(&body, "text"), &c1, 1e-3);
    }
    e.end_cycle_blocking(300, 2).await;
    let (_, _, body) = get_tls(l[1].addr, Some("application/openmetrics-text")).await;
    let p = parse(&body, "openmetrics");
    assert_eq!(p.len(), 1, "b was not seen in cycle 2: {p:?}");
    assert_eq!((p[0].labels["resource"].as_str(), p[0].value), ("a", 2.0));

    // Plain HTTP to a TLS listener gets nothing served.
    let mut s = tokio::net::TcpStream::connect(l[0].addr).await.unwrap();
    let _ = s
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut r = Vec::new();
    let _ = s.read_to_end(&mut r).await;
    assert!(!String::from_utf8_lossy(&r).contains("ceilometer_"));
    for li in l {
        li.task.abort();
    }
}

#[tokio::test]
async fn configuration_errors_are_reported() {
    use ceilometer_config::ini::IniFile;
    use ceilometer_config::options::CeilometerConf;
    use ceilometer_config::store::Store;
    use ceilometer_config::Env;
    let conf = |text: &str| {
        let f = IniFile::parse(Path::new("c.conf"), text).unwrap();
        CeilometerConf::from_store(&mut Store::new(vec![f]), &Env::default()).polling
    };
    assert_eq!(
        ExporterSettings::from_polling(&conf("[polling]\n")).unwrap(),
        None
    );
    let s = ExporterSettings::from_polling(&conf(
        "[polling]\nenable_prometheus_exporter = true\nprometheus_listen_addresses = 127.0.0.1:9101,[::1]:9102\n",
    ))
    .unwrap()
    .unwrap();
    assert_eq!(s.listen_addresses, ["127.0.0.1:9101", "[::1]:9102"]);
    assert_eq!(s.tls, None);
    let s = ExporterSettings::from_polling(&conf(
        "[polling]\nenable_prometheus_exporter = true\nprometheus_tls_enable = true\nprometheus_tls_certfile = /c\nprometheus_tls_keyfile = /k\n",
    ))
    .unwrap()
    .unwrap();
    assert_eq!(s.tls.unwrap().keyfile, PathBuf::from("/k"));
    assert!(matches!(
        ExporterSettings::from_polling(&conf(
            "[polling]\nenable_prometheus_exporter = true\nprometheus_tls_enable = true\n"
        )),
        Err(ServeError::TlsFilesMissing)
    ));

    let missing = TlsFiles {
        certfile: "/nonexistent/cert.pem".into(),
        keyfile: tls_files().keyfile,
    };
    let err = serve(&["127.0.0.1:0".into()], Some(&missing), Exporter::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    let swapped = TlsFiles {
        certfile: tls_files().keyfile,
        keyfile: tls_files().certfile,
    };
    assert!(
        serve(&["127.0.0.1:0".into()], Some(&swapped), Exporter::new())
            .await
            .is_err()
    );
    assert!(matches!(
        serve(&["256.0.0.1:1".into()], None, Exporter::new()).await,
        Err(ServeError::Bind { .. })
    ));
}
