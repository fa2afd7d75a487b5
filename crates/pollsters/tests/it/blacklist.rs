//! The blacklist's forgiveness rule (engine `select`): a resource whose per-resource call was
//! refused for good (403) is blacklisted for its (source, pollster), with an error line;
//! it stays so while discovery keeps returning it, even once the service recovers; when it
//! leaves discovery it is forgotten, so if it comes back it is polled again. (The other way
//! out, the hour-long TTL, is not observable in a test with real sockets: the unit tests at
//! the end of `src/engine.rs` show it on tokio's paused clock.)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::common::{all, cycle, engine, sim, small, source};
use pollsters::SampleBatch;
use simcloud::{FaultSpec, Service};

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn ids(b: &[SampleBatch]) -> BTreeSet<String> {
    b.iter()
        .flat_map(|x| x.samples.iter().map(|s| s.resource_id.clone()))
        .collect()
}

// Current-thread runtime: the log subscriber set below sees every task of the test.
#[tokio::test(flavor = "current_thread")]
async fn a_blacklisted_resource_is_polled_again_after_leaving_discovery() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = sim(small()).await;
    let e = engine(&sim);
    let projects: BTreeSet<String> = sim.project_ids().into_iter().collect();
    // Swift calls: served HEADs plus the ones the fault answered (accounted apart).
    let heads = || {
        let st = sim.stats();
        st.count("agent-1", Service::ObjectStore, "HEAD /v1/{account}")
            + st.count("agent-1", Service::ObjectStore, "fault:other")
    };
    let meters = || vec![source("s", &["storage.objects"])];

    // Every Swift account refuses (403): every project is blacklisted, each with a line.
    sim.set_fault(FaultSpec {
        service: "object-store".into(),
        error_rate: 1.0,
        error_codes: vec![403],
        ..Default::default()
    })
    .unwrap();
    let (b, _) = cycle(&e, meters(), 50, &all).await;
    assert!(b.is_empty());
    let text = logs.text();
    for p in &projects {
        assert!(
            text.lines().any(|l| l.contains("ERROR")
                && l.contains("Prevent pollster from polling this resource")
                && l.contains("storage.objects")
                && l.contains(p.as_str())),
            "no blacklist line for {p}:\n{text}"
        );
    }
    assert_eq!(heads(), projects.len() as u64);

    // The service recovers; still discovered, still blacklisted: no call at all.
    sim.faults().clear(None);
    let (b, r) = cycle(&e, meters(), 50, &all).await;
    assert!(b.is_empty(), "{r:?}");
    assert_eq!(heads(), projects.len() as u64);

    // One project leaves Keystone (so discovery), then comes back.
    let gone = projects
        .iter()
        .find(|p| {
            sim.model()
                .projects
                .snap()
                .values()
                .any(|x| x.n > 1 && simcloud::util::hex32(x.id) == **p)
        })
        .unwrap()
        .clone();
    let id = simcloud::util::parse_id(&gone).unwrap();
    let record = sim
        .model()
        .projects
        .update(|m| m.remove(&id))
        .expect("project removed");
    let (b, r) = cycle(&e, meters(), 50, &all).await;
    assert!(b.is_empty(), "{r:?}");
    assert_eq!(r.resources_seen, projects.len() - 1);
    assert_eq!(heads(), projects.len() as u64);
    sim.model().projects.update(|m| m.insert(id, record));
    // Back: polled again (one HEAD, one sample); the others are still blacklisted.
    let (b, r) = cycle(&e, meters(), 50, &all).await;
    assert_eq!(ids(&b), BTreeSet::from([gone.clone()]), "{r:?}");
    assert_eq!(heads(), projects.len() as u64 + 1);
    // And it stays forgiven while the others stay blacklisted.
    let (b, _) = cycle(&e, meters(), 50, &all).await;
    assert_eq!(ids(&b), BTreeSet::from([gone]));
    sim.shutdown().await;
}
