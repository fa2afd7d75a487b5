//! The Kilo `hardware.*` SNMP meters (spec §3.5), with upstream's UCD-SNMP / IF-MIB OIDs.
//!
//! Differences from Kilo, on purpose:
//! - Memory and disk values are read in kB (UCD-SNMP) and **published in bytes** (× 1024)
//!   with unit `B`: Kilo labelled the kB values `B` (weakness §8 #16).
//! - Disks use the 64-bit `dskTotalHigh/Low`, `dskUsedHigh/Low` columns when the agent has
//!   them (net-snmp ≥ 5.7), so disks over 2 TiB are not truncated; else `dskTotal`/`dskUsed`.
//! - `resource_url` metadata carries the URL **without credentials** (weakness §8 #12).
//! - Per-disk and per-interface samples get `resource_id` `<host>.<disk path>` /
//!   `<host>.<interface name>`, so each series has its own resource.
//! - Interface metadata: `name` (ifDescr), `mac` (ifPhysAddress, `aa:bb:…`), `speed`
//!   (ifSpeed, bit/s); Kilo's `ip` (from ipAddrTable) is not published.
//! - Interface byte counters are the 32-bit `ifInOctets`/`ifOutOctets` upstream used (they
//!   wrap at 4 GiB; consumers must handle resets as for any cumulative meter).

use std::collections::BTreeMap;
use std::sync::Arc;

use sample::{Metadata, Sample, SampleType, Timestamp, Volume};
use serde_json::Value as Json;
use tokio::sync::Semaphore;

use crate::client::{ClientOptions, OidVec, SnmpClient, SnmpError, SnmpValue};
use crate::resource::SnmpResource;

/// Which SNMP data a meter needs (fetched once per host per poll, like Kilo's inspector cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// UCD laTable.
    Load,
    /// UCD memory scalars.
    Memory,
    /// UCD dskTable.
    Disk,
    /// IF-MIB ifTable.
    Interface,
    /// IP-MIB scalars.
    Ip,
    /// UCD systemStats.
    SystemStats,
}

/// One hardware meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    /// Meter name.
    pub name: &'static str,
    /// Sample type.
    pub sample_type: SampleType,
    /// Unit.
    pub unit: &'static str,
    /// Data group.
    pub group: Group,
}

const fn m(name: &'static str, sample_type: SampleType, unit: &'static str, group: Group) -> Meter {
    Meter {
        name,
        sample_type,
        unit,
        group,
    }
}

/// Every Kilo `hardware.*` meter this agent polls.
pub const METERS: &[Meter] = &[
    m(
        "hardware.cpu.load.1min",
        SampleType::Gauge,
        "process",
        Group::Load,
    ),
    m(
        "hardware.cpu.load.5min",
        SampleType::Gauge,
        "process",
        Group::Load,
    ),
    m(
        "hardware.cpu.load.15min",
        SampleType::Gauge,
        "process",
        Group::Load,
    ),
    m(
        "hardware.memory.total",
        SampleType::Gauge,
        "B",
        Group::Memory,
    ),
    m(
        "hardware.memory.used",
        SampleType::Gauge,
        "B",
        Group::Memory,
    ),
    m(
        "hardware.memory.swap.total",
        SampleType::Gauge,
        "B",
        Group::Memory,
    ),
    m(
        "hardware.memory.swap.avail",
        SampleType::Gauge,
        "B",
        Group::Memory,
    ),
    m(
        "hardware.memory.buffer",
        SampleType::Gauge,
        "B",
        Group::Memory,
    ),
    m(
        "hardware.memory.cached",
        SampleType::Gauge,
        "B",
        Group::Memory,
    ),
    m(
        "hardware.disk.size.total",
        SampleType::Gauge,
        "B",
        Group::Disk,
    ),
    m(
        "hardware.disk.size.used",
        SampleType::Gauge,
        "B",
        Group::Disk,
    ),
    m(
        "hardware.network.incoming.bytes",
        SampleType::Cumulative,
        "B",
        Group::Interface,
    ),
    m(
        "hardware.network.outgoing.bytes",
        SampleType::Cumulative,
        "B",
        Group::Interface,
    ),
    m(
        "hardware.network.incoming.errors",
        SampleType::Cumulative,
        "packet",
        Group::Interface,
    ),
    m(
        "hardware.network.outgoing.errors",
        SampleType::Cumulative,
        "packet",
        Group::Interface,
    ),
    m(
        "hardware.network.ip.incoming.datagrams",
        SampleType::Cumulative,
        "datagrams",
        Group::Ip,
    ),
    m(
        "hardware.network.ip.outgoing.datagrams",
        SampleType::Cumulative,
        "datagrams",
        Group::Ip,
    ),
    m(
        "hardware.system_stats.cpu.idle",
        SampleType::Gauge,
        "%",
        Group::SystemStats,
    ),
    m(
        "hardware.system_stats.io.outgoing.blocks",
        SampleType::Cumulative,
        "blocks",
        Group::SystemStats,
    ),
    m(
        "hardware.system_stats.io.incoming.blocks",
        SampleType::Cumulative,
        "blocks",
        Group::SystemStats,
    ),
];

/// UCD-SNMP / IF-MIB / IP-MIB OIDs used.
pub mod oids {
    /// laLoad.{1,2,3} (text, e.g. "0.15").
    pub const LOAD: [&str; 3] = [
        "1.3.6.1.4.1.2021.10.1.3.1",
        "1.3.6.1.4.1.2021.10.1.3.2",
        "1.3.6.1.4.1.2021.10.1.3.3",
    ];
    /// memTotalReal, memAvailReal, memTotalSwap, memAvailSwap, memBuffer, memCached (kB).
    pub const MEMORY: [&str; 6] = [
        "1.3.6.1.4.1.2021.4.5.0",
        "1.3.6.1.4.1.2021.4.6.0",
        "1.3.6.1.4.1.2021.4.3.0",
        "1.3.6.1.4.1.2021.4.4.0",
        "1.3.6.1.4.1.2021.4.14.0",
        "1.3.6.1.4.1.2021.4.15.0",
    ];
    /// dskEntry: .2 path, .3 device, .6 total, .8 used, .11/.12 total low/high, .15/.16 used low/high (kB).
    pub const DISK_TABLE: &str = "1.3.6.1.4.1.2021.9.1";
    /// ifEntry: .2 descr, .5 speed, .6 phys address, .10 in octets, .14 in errors, .16 out octets, .20 out errors.
    pub const IF_TABLE: &str = "1.3.6.1.2.1.2.2.1";
    /// ipInReceives, ipOutRequests.
    pub const IP: [&str; 2] = ["1.3.6.1.2.1.4.3.0", "1.3.6.1.2.1.4.10.0"];
    /// ssCpuIdle, ssIORawSent, ssIORawReceived.
    pub const SYSTEM_STATS: [&str; 3] = [
        "1.3.6.1.4.1.2021.11.11.0",
        "1.3.6.1.4.1.2021.11.57.0",
        "1.3.6.1.4.1.2021.11.58.0",
    ];
}

/// What one host poll produced.
#[derive(Debug, Default)]
pub struct HostPoll {
    /// Samples, in [`METERS`] order per group.
    pub samples: Vec<Sample>,
    /// Groups that failed, with why (the other groups' samples are still returned).
    pub errors: Vec<(Group, SnmpError)>,
}

/// Polls hardware meters from SNMP agents, a bounded number of hosts at a time.
#[derive(Debug, Clone)]
pub struct HardwarePoller {
    opts: ClientOptions,
    permits: Arc<Semaphore>,
}

impl HardwarePoller {
    /// `max_hosts` agents are polled concurrently at most (others wait, without blocking
    /// any thread).
    pub fn new(opts: ClientOptions, max_hosts: usize) -> Self {
        HardwarePoller {
            opts,
            permits: Arc::new(Semaphore::new(max_hosts.max(1))),
        }
    }

    /// Poll `meters` (names from [`METERS`]; unknown names are ignored) from one agent.
    pub async fn poll(
        &self,
        resource: &SnmpResource,
        meters: &[&str],
        timestamp: Timestamp,
    ) -> HostPoll {
        let _permit = self.permits.acquire().await;
        let mut groups: Vec<Group> = METERS
            .iter()
            .filter(|mt| meters.contains(&mt.name))
            .map(|mt| mt.group)
            .collect();
        groups.sort();
        groups.dedup();
        let mut client = SnmpClient::new(resource.clone(), self.opts);
        let mut out = HostPoll::default();
        let b = Builder {
            resource,
            timestamp,
            wanted: meters,
        };
        for g in groups {
            let r = match g {
                Group::Load => load(&mut client, &b).await,
                Group::Memory => memory(&mut client, &b).await,
                Group::Disk => disk(&mut client, &b).await,
                Group::Interface => interfaces(&mut client, &b).await,
                Group::Ip => ip(&mut client, &b).await,
                Group::SystemStats => system_stats(&mut client, &b).await,
            };
            match r {
                Ok(s) => out.samples.extend(s),
                Err(e) => {
                    tracing::warn!(target = %resource, group = ?g, "SNMP poll failed: {e}");
                    out.errors.push((g, e));
                }
            }
        }
        out
    }
}

struct Builder<'a> {
    resource: &'a SnmpResource,
    timestamp: Timestamp,
    wanted: &'a [&'a str],
}

impl Builder<'_> {
    fn sample(
        &self,
        name: &str,
        volume: Volume,
        suffix: Option<&str>,
        mut metadata: Metadata,
    ) -> Option<Sample> {
        if !self.wanted.contains(&name) {
            return None;
        }
        let meter = METERS.iter().find(|m| m.name == name)?;
        metadata.insert(
            "resource_url".into(),
            Json::String(self.resource.public_url().to_owned()),
        );
        let resource_id = match suffix {
            Some(s) => format!("{}.{s}", self.resource.host),
            None => self.resource.host.clone(),
        };
        Some(Sample {
            name: name.to_owned().into(),
            sample_type: meter.sample_type,
            unit: meter.unit.to_owned().into(),
            volume,
            user_id: None,
            user_name: None,
            project_id: None,
            project_name: None,
            resource_id,
            timestamp: self.timestamp,
            resource_metadata: metadata,
            source: "hardware".into(),
            id: sample::new_message_id(),
            monotonic_time: None,
        })
    }
}

fn kib(v: &SnmpValue) -> Option<Volume> {
    v.as_i64()
        .and_then(|k| k.checked_mul(1024))
        .map(Volume::Int)
}

fn int(v: &SnmpValue) -> Option<Volume> {
    v.as_i64().map(Volume::Int)
}

async fn load(c: &mut SnmpClient, b: &Builder<'_>) -> Result<Vec<Sample>, SnmpError> {
    let rows = c.get(&oids::LOAD).await?;
    let names = [
        "hardware.cpu.load.1min",
        "hardware.cpu.load.5min",
        "hardware.cpu.load.15min",
    ];
    Ok(rows
        .iter()
        .zip(names)
        .filter_map(|((_, v), n)| {
            b.sample(n, v.as_f64().map(Volume::Float)?, None, Metadata::new())
        })
        .collect())
}

async fn memory(c: &mut SnmpClient, b: &Builder<'_>) -> Result<Vec<Sample>, SnmpError> {
    let rows = c.get(&oids::MEMORY).await?;
    let v = |i: usize| {
        rows.get(i)
            .map(|(_, v)| v.clone())
            .unwrap_or(SnmpValue::Null)
    };
    let mut out = Vec::new();
    let used = match (v(0).as_i64(), v(1).as_i64()) {
        (Some(t), Some(a)) => t
            .checked_sub(a)
            .and_then(|u| u.checked_mul(1024))
            .map(Volume::Int),
        _ => None,
    };
    let vals = [
        ("hardware.memory.total", kib(&v(0))),
        ("hardware.memory.used", used),
        ("hardware.memory.swap.total", kib(&v(2))),
        ("hardware.memory.swap.avail", kib(&v(3))),
        ("hardware.memory.buffer", kib(&v(4))),
        ("hardware.memory.cached", kib(&v(5))),
    ];
    for (n, vol) in vals {
        if let Some(vol) = vol {
            out.extend(b.sample(n, vol, None, Metadata::new()));
        }
    }
    Ok(out)
}

/// Group a table walk by row index: column → index → value.
fn table(rows: Vec<(OidVec, SnmpValue)>) -> BTreeMap<Vec<u64>, BTreeMap<u64, SnmpValue>> {
    let mut t: BTreeMap<Vec<u64>, BTreeMap<u64, SnmpValue>> = BTreeMap::new();
    for (suffix, v) in rows {
        if let Some((col, idx)) = suffix.split_first() {
            t.entry(idx.to_vec()).or_default().insert(*col, v);
        }
    }
    t
}

fn hi_lo(row: &BTreeMap<u64, SnmpValue>, lo: u64, hi: u64, plain: u64) -> Option<i64> {
    match (
        row.get(&lo).and_then(SnmpValue::as_i64),
        row.get(&hi).and_then(SnmpValue::as_i64),
    ) {
        (Some(l), Some(h)) => Some((h << 32) | (l & 0xffff_ffff)),
        _ => row.get(&plain).and_then(SnmpValue::as_i64),
    }
}

async fn disk(c: &mut SnmpClient, b: &Builder<'_>) -> Result<Vec<Sample>, SnmpError> {
    let t = table(c.walk(oids::DISK_TABLE).await?);
    let mut out = Vec::new();
    for row in t.values() {
        let Some(path) = row.get(&2).and_then(SnmpValue::as_text) else {
            continue;
        };
        let device = row.get(&3).and_then(SnmpValue::as_text).unwrap_or_default();
        let mut md = Metadata::new();
        md.insert("device".into(), Json::String(device));
        md.insert("path".into(), Json::String(path.clone()));
        if let Some(total) = hi_lo(row, 11, 12, 6).and_then(|k| k.checked_mul(1024)) {
            out.extend(b.sample(
                "hardware.disk.size.total",
                Volume::Int(total),
                Some(&path),
                md.clone(),
            ));
        }
        if let Some(used) = hi_lo(row, 15, 16, 8).and_then(|k| k.checked_mul(1024)) {
            out.extend(b.sample(
                "hardware.disk.size.used",
                Volume::Int(used),
                Some(&path),
                md,
            ));
        }
    }
    Ok(out)
}

async fn interfaces(c: &mut SnmpClient, b: &Builder<'_>) -> Result<Vec<Sample>, SnmpError> {
    let t = table(c.walk(oids::IF_TABLE).await?);
    let mut out = Vec::new();
    for row in t.values() {
        let Some(name) = row.get(&2).and_then(SnmpValue::as_text) else {
            continue;
        };
        let mac = match row.get(&6) {
            Some(SnmpValue::OctetString(b)) => b
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            _ => String::new(),
        };
        let mut md = Metadata::new();
        md.insert("name".into(), Json::String(name.clone()));
        md.insert("mac".into(), Json::String(mac));
        md.insert(
            "speed".into(),
            row.get(&5)
                .and_then(SnmpValue::as_i64)
                .map_or(Json::Null, Json::from),
        );
        for (col, meter) in [
            (10, "hardware.network.incoming.bytes"),
            (16, "hardware.network.outgoing.bytes"),
            (14, "hardware.network.incoming.errors"),
            (20, "hardware.network.outgoing.errors"),
        ] {
            if let Some(v) = row.get(&col).and_then(int) {
                out.extend(b.sample(meter, v, Some(&name), md.clone()));
            }
        }
    }
    Ok(out)
}

async fn ip(c: &mut SnmpClient, b: &Builder<'_>) -> Result<Vec<Sample>, SnmpError> {
    let rows = c.get(&oids::IP).await?;
    let names = [
        "hardware.network.ip.incoming.datagrams",
        "hardware.network.ip.outgoing.datagrams",
    ];
    Ok(rows
        .iter()
        .zip(names)
        .filter_map(|((_, v), n)| b.sample(n, int(v)?, None, Metadata::new()))
        .collect())
}

async fn system_stats(c: &mut SnmpClient, b: &Builder<'_>) -> Result<Vec<Sample>, SnmpError> {
    let rows = c.get(&oids::SYSTEM_STATS).await?;
    let names = [
        "hardware.system_stats.cpu.idle",
        "hardware.system_stats.io.outgoing.blocks",
        "hardware.system_stats.io.incoming.blocks",
    ];
    Ok(rows
        .iter()
        .zip(names)
        .filter_map(|((_, v), n)| b.sample(n, int(v)?, None, Metadata::new()))
        .collect())
}
