//! Helpers shared by the pollsters: building a [`Sample`], reading volumes and metadata
//! from API JSON, and the status-code maps' lookup.

use std::borrow::Cow;
use std::sync::Arc;

use sample::{Metadata, Sample, SampleType, Timestamp, Volume};
use serde_json::Value;

use crate::discovery::Resource;

/// What every sample of a cycle shares.
#[derive(Debug, Clone)]
pub(crate) struct SampleCtx {
    pub timestamp: Timestamp,
    /// Interned (`engine::intern`): cloned into every sample without an allocation.
    pub source: &'static str,
}

impl SampleCtx {
    /// A gauge sample (every central meter is a gauge).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gauge(
        &self,
        name: impl Into<Cow<'static, str>>,
        unit: &'static str,
        volume: Volume,
        user_id: Option<String>,
        project_id: Option<String>,
        resource_id: String,
        resource_metadata: Metadata,
    ) -> Sample {
        Sample {
            name: name.into(),
            sample_type: SampleType::Gauge,
            unit: Cow::Borrowed(unit),
            volume,
            user_id,
            user_name: None,
            project_id,
            project_name: None,
            resource_id,
            timestamp: self.timestamp,
            resource_metadata,
            source: Cow::Borrowed(self.source),
            id: sample::new_message_id(),
            monotonic_time: None,
        }
    }
}

/// A JSON number as a volume (ints stay ints); `null`/absent is `Missing` (Python `None`);
/// anything else is bad data.
pub(crate) fn volume(v: Option<&Value>, what: &str) -> Result<Volume, String> {
    match v {
        None | Some(Value::Null) => Ok(Volume::Missing),
        Some(Value::Number(n)) => Ok(match n.as_i64() {
            Some(i) => Volume::Int(i),
            None => Volume::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        Some(other) => Err(format!("{what} is not a number: {other}")),
    }
}

/// `x or 0` of Python for a numeric field.
pub(crate) fn volume_or_zero(v: Option<&Value>, what: &str) -> Result<Volume, String> {
    match volume(v, what)? {
        Volume::Missing => Ok(Volume::Int(0)),
        Volume::Int(0) => Ok(Volume::Int(0)),
        Volume::Float(0.0) => Ok(Volume::Int(0)),
        x => Ok(x),
    }
}

/// An optional string attribute (non-strings are bad data, `null` is `None`).
pub(crate) fn opt_string(v: Option<&Value>, what: &str) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{what} is not a string: {other}")),
    }
}

/// Metadata `{out: r[in]}` in the given order; absent attributes are `null`.
pub(crate) fn metadata(r: &Resource, fields: &[(&'static str, &str)]) -> Metadata {
    metadata_from(fields, |f| r.val(f))
}

/// [`metadata`], moving the values out of `r` when it is the last holder of its attributes
/// ([`Resource::take`]): read anything else a sample needs from `r` before.
pub(crate) fn metadata_moved(r: &mut Resource, fields: &[(&'static str, &str)]) -> Metadata {
    metadata_from(fields, |f| r.take(f))
}

fn metadata_from(
    fields: &[(&'static str, &str)],
    mut value: impl FnMut(&str) -> Value,
) -> Metadata {
    let mut m = Metadata::with_capacity(fields.len() + 4);
    for (out, inp) in fields {
        m.insert(Cow::Borrowed(out), value(inp));
    }
    m
}

/// Looks a status up (case-insensitively) in an upstream status map; unknown or missing →
/// -1 with a warning, as upstream has done since 2024.
pub(crate) fn status_code(
    map: &[(&str, i64)],
    status: Option<&str>,
    meter: &str,
    rid: &str,
) -> i64 {
    let s = status.unwrap_or_default().to_ascii_lowercase();
    match map.iter().find(|(k, _)| *k == s) {
        Some((_, v)) => *v,
        None => {
            tracing::warn!(meter, resource_id = rid, status = %s, "Unknown status, publishing -1");
            -1
        }
    }
}

/// The samples of one per-resource poll, made as they are consumed: an account or
/// tenant with 100k containers or buckets would otherwise be held as 100k samples per
/// meter (tens of MB) next to the listing they come from.
pub(crate) type Samples<'a> = Box<dyn Iterator<Item = Sample> + Send + 'a>;

/// A poll that made its few samples at once.
pub(crate) fn now<'a>(v: Vec<Sample>) -> Samples<'a> {
    Box::new(v.into_iter())
}

/// One sample per item of a shared read (`items` picks them out of `owner`), each made
/// when the caller takes it; the read is kept alive until the last one is made.
pub(crate) fn each<'a, O, T>(
    owner: Arc<O>,
    items: fn(&O) -> &[T],
    mut f: impl FnMut(&T) -> Sample + Send + 'a,
) -> Samples<'a>
where
    O: Send + Sync + 'a,
    T: 'a,
{
    let n = items(&owner).len();
    Box::new((0..n).filter_map(move |i| items(&owner).get(i).map(&mut f)))
}

/// Why a per-resource poll produced nothing.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The API answered with data we cannot read (counted in `skipped`).
    BadData(String),
    /// The API call failed after retries (counted in `errors` where it happened).
    Api(crate::error::ApiError),
}

impl From<crate::error::ApiError> for Failure {
    fn from(e: crate::error::ApiError) -> Self {
        Failure::Api(e)
    }
}
