//! The sample model shared by pollsters and publishers.
//!
//! One type and one set of wire forms — the meter message dict with its `message_signature`
//! (bus, UDP), `Sample.as_dict()` (HTTP, file) — so every publisher emits exactly what
//! Ceilometer would (spec `ceilometer-central.md` §6). Pollsters build [`Sample`]s; nothing
//! here knows where they go.
#![forbid(unsafe_code)]

pub mod metadata;
pub mod pyjson;
pub mod pyrepr;
pub mod signature;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

pub use pyjson::{to_python_json, write_python_json, PythonFormatter};
pub use pyrepr::Flavor;
pub use signature::compute_signature;

pub use metadata::{MetaKey, Metadata};

/// `gauge`, `delta` or `cumulative`: the only types Ceilometer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleType {
    /// A value at a point in time.
    Gauge,
    /// A change since the previous sample.
    Delta,
    /// A running total.
    Cumulative,
}

impl SampleType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleType::Gauge => "gauge",
            SampleType::Delta => "delta",
            SampleType::Cumulative => "cumulative",
        }
    }

    /// Parse the wire spelling (dynamic pollster definitions give it as text).
    pub fn parse(s: &str) -> Option<SampleType> {
        match s {
            "gauge" => Some(SampleType::Gauge),
            "delta" => Some(SampleType::Delta),
            "cumulative" => Some(SampleType::Cumulative),
            _ => None,
        }
    }
}

/// A sample's volume. Python keeps ints and floats apart (`3` vs `3.0` differ in JSON and in
/// the signature), so do we.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Volume {
    /// An integer volume (`int(...)` upstream).
    Int(i64),
    /// A float volume.
    Float(f64),
    /// No volume (`None`); pipelines drop such samples, the Prometheus exporter skips them.
    Missing,
}

impl Volume {
    /// As a JSON value.
    pub fn to_json(self) -> Value {
        match self {
            Volume::Int(i) => Value::from(i),
            Volume::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Volume::Missing => Value::Null,
        }
    }

    /// As a float, for exporters.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Volume::Int(i) => Some(i as f64),
            Volume::Float(f) => Some(f),
            Volume::Missing => None,
        }
    }
}

/// A UTC instant with microsecond precision, printed the way Python's naive
/// `datetime.utcnow().isoformat()` prints it (what every upstream sample carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// Microseconds since the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Timestamp {
        Timestamp { micros }
    }

    /// Now, from the system clock (cycle timestamps are wall-clock instants).
    pub fn now() -> Timestamp {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            micros: i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        }
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> i64 {
        self.micros
    }

    /// `YYYY-MM-DDTHH:MM:SS[.ffffff]`: no timezone suffix; microseconds omitted when zero.
    pub fn isoformat(self) -> String {
        let mut s = String::with_capacity(26);
        self.write_iso(&mut s, 'T');
        s
    }

    /// `YYYY-MM-DD HH:MM:SS[.ffffff]`: Python's `str(datetime)`, the oslo notification
    /// envelope's `timestamp` (microseconds omitted when zero, as Python does).
    pub fn python_str(self) -> String {
        self.isoformat_sep(' ')
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`: an aware ISO 8601 form (Gnocchi, logs).
    pub fn rfc3339(self) -> String {
        let mut s = self.isoformat_sep('T');
        if self.micros.rem_euclid(1_000_000) == 0 {
            s.push_str(".000000");
        }
        s.push_str("+00:00");
        s
    }

    fn isoformat_sep(self, sep: char) -> String {
        let mut s = String::with_capacity(32);
        self.write_iso(&mut s, sep);
        s
    }

    fn write_iso(self, s: &mut String, sep: char) {
        let secs = self.micros.div_euclid(1_000_000);
        let us = self.micros.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let _ = write!(
            s,
            "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        );
        if us != 0 {
            let _ = write!(s, ".{us:06}");
        }
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A new message id: `str(uuid.uuid1())` as upstream (time-based, so ids sort roughly by
/// creation time), with a random per-process node id (multicast bit set, as RFC 4122 asks
/// for a node that is not a MAC address).
pub fn new_message_id() -> String {
    static NODE: OnceLock<[u8; 6]> = OnceLock::new();
    let node = NODE.get_or_init(|| {
        let b = uuid::Uuid::new_v4().into_bytes();
        [b[0] | 0x01, b[1], b[2], b[3], b[4], b[5]]
    });
    uuid::Uuid::now_v1(node).hyphenated().to_string()
}

/// One polled measurement (Ceilometer's `sample.Sample`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Meter name, e.g. `storage.objects` (static for the built-in meters: no allocation
    /// per sample).
    pub name: Cow<'static, str>,
    /// Gauge, delta or cumulative.
    pub sample_type: SampleType,
    /// Unit, e.g. `B`, `GiB`, `object`.
    pub unit: Cow<'static, str>,
    /// The value.
    pub volume: Volume,
    /// Owning user, when the API says.
    pub user_id: Option<String>,
    /// User name (`identity_name_discovery`).
    pub user_name: Option<String>,
    /// Owning project.
    pub project_id: Option<String>,
    /// Project name (`identity_name_discovery`).
    pub project_name: Option<String>,
    /// The resource measured.
    pub resource_id: String,
    /// The cycle's timestamp.
    pub timestamp: Timestamp,
    /// Metadata in the pollster's key order.
    pub resource_metadata: Metadata,
    /// `[DEFAULT] sample_source`.
    pub source: Cow<'static, str>,
    /// `message_id`: a uuid1 string.
    pub id: String,
    /// Always `None` for central pollsters; kept for the wire form.
    pub monotonic_time: Option<f64>,
}

/// Which generation of the meter dict to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterForm {
    /// Ceilometer ≥ Stein on Python 3: every key, Python 3 signature.
    Modern,
    /// Kilo/Liberty collectors on Python 2: no `user_name`/`project_name`/`monotonic_time`,
    /// Python 2 signature (which they verify).
    Kilo,
}

fn opt(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

impl Sample {
    /// The meter message dict (`meter_message_from_counter`), keys in upstream's order,
    /// signed with `secret`. `publisher_id` is added only by the TCP publisher upstream.
    pub fn meter_message(
        &self,
        secret: &str,
        form: MeterForm,
        publisher_id: Option<&str>,
    ) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("source".into(), Value::String(self.source.to_string()));
        m.insert("counter_name".into(), Value::String(self.name.to_string()));
        m.insert(
            "counter_type".into(),
            Value::String(self.sample_type.as_str().into()),
        );
        m.insert("counter_unit".into(), Value::String(self.unit.to_string()));
        m.insert("counter_volume".into(), self.volume.to_json());
        m.insert("user_id".into(), opt(&self.user_id));
        if form == MeterForm::Modern {
            m.insert("user_name".into(), opt(&self.user_name));
        }
        m.insert("project_id".into(), opt(&self.project_id));
        if form == MeterForm::Modern {
            m.insert("project_name".into(), opt(&self.project_name));
        }
        m.insert(
            "resource_id".into(),
            Value::String(self.resource_id.clone()),
        );
        m.insert(
            "timestamp".into(),
            Value::String(self.timestamp.isoformat()),
        );
        m.insert(
            "resource_metadata".into(),
            self.resource_metadata.to_value(),
        );
        m.insert("message_id".into(), Value::String(self.id.clone()));
        if form == MeterForm::Modern {
            m.insert(
                "monotonic_time".into(),
                self.monotonic_time
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
            );
        }
        if let Some(p) = publisher_id {
            m.insert("publisher_id".into(), Value::String(p.into()));
        }
        let flavor = match form {
            MeterForm::Modern => Flavor::Python3,
            MeterForm::Kilo => Flavor::Python2,
        };
        let sig = compute_signature(&m, secret, flavor);
        m.insert("message_signature".into(), Value::String(sig));
        m
    }

    /// `Sample.as_dict()`: the attribute dict the HTTP and file publishers send (no
    /// `counter_` prefix, no signature), keys in upstream's attribute order.
    pub fn as_dict(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.to_string()));
        m.insert(
            "type".into(),
            Value::String(self.sample_type.as_str().into()),
        );
        m.insert("unit".into(), Value::String(self.unit.to_string()));
        m.insert("volume".into(), self.volume.to_json());
        m.insert("user_id".into(), opt(&self.user_id));
        m.insert("user_name".into(), opt(&self.user_name));
        m.insert("project_id".into(), opt(&self.project_id));
        m.insert("project_name".into(), opt(&self.project_name));
        m.insert(
            "resource_id".into(),
            Value::String(self.resource_id.clone()),
        );
        m.insert(
            "timestamp".into(),
            Value::String(self.timestamp.isoformat()),
        );
        m.insert(
            "resource_metadata".into(),
            self.resource_metadata.to_value(),
        );
        m.insert("source".into(), Value::String(self.source.to_string()));
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert(
            "monotonic_time".into(),
            self.monotonic_time
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isoformat_like_python() {
        // datetime(2025,1,1,0,0,0,1).isoformat()
        assert_eq!(
            Timestamp::from_unix_micros(1_735_689_600_000_001).isoformat(),
            "2025-01-01T00:00:00.000001"
        );
        assert_eq!(
            Timestamp::from_unix_micros(1_735_689_600_000_000).isoformat(),
            "2025-01-01T00:00:00"
        );
        assert_eq!(
            Timestamp::from_unix_micros(951_782_400_123_456).isoformat(),
            "2000-02-29T00:00:00.123456"
        );
        assert_eq!(
            Timestamp::from_unix_micros(0).python_str(),
            "1970-01-01 00:00:00"
        );
        assert_eq!(
            Timestamp::from_unix_micros(5).python_str(),
            "1970-01-01 00:00:00.000005"
        );
        assert_eq!(
            Timestamp::from_unix_micros(-1).isoformat(),
            "1969-12-31T23:59:59.999999"
        );
        assert_eq!(
            Timestamp::from_unix_micros(1_735_689_600_000_000).rfc3339(),
            "2025-01-01T00:00:00.000000+00:00"
        );
    }

    #[test]
    fn message_ids_are_uuid1() {
        let a = new_message_id();
        let b = new_message_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "1", "version 1: {a}");
    }
}
