//! Aodh v2: the `alarm` discovery (`GET /v2/metrics?all_projects=true`) and
//! `alarm.evaluation_result`. Unlike upstream (one resource = the whole body), each alarm's
//! entry is its own resource keyed by alarm id, so the work partitions across agents.

use sample::{Sample, Volume};
use serde_json::Value;

use crate::discovery::{KeyField, Kind, ListSpec, Next, Resource};
use crate::meter::{opt_string, SampleCtx};

/// `GET <aodh>/v2/metrics?all_projects=true`.
pub(crate) static METRICS: ListSpec = ListSpec {
    name: "alarm",
    service_type: |t| t.aodh.as_str(),
    strip: "/v2",
    path: "/v2/metrics?all_projects=true",
    headers: &[],
    list: "evaluation_results",
    next: Next::None,
    kind: Kind::AlarmResult,
    key: KeyField::Field("alarm_id"),
    keep: &["alarm_id", "project_id", "state_counters"],
};

/// One sample per (alarm, state) of `state_counters`, volume = the count.
pub(crate) fn evaluation_result(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let project = opt_string(r.get("project_id"), "project_id")?;
    let Some(counters) = r.get("state_counters").and_then(Value::as_object) else {
        return Err("state_counters is not an object".into());
    };
    let mut out = Vec::with_capacity(counters.len());
    for (state, count) in counters {
        let n = count
            .as_i64()
            .or_else(|| count.as_f64().map(|f| f as i64))
            .ok_or_else(|| format!("count of {state} is not a number"))?;
        let mut md = sample::Metadata::new();
        md.insert("alarm_state".into(), state.clone().into());
        out.push(c.gauge(
            "alarm.evaluation_result",
            "evaluation_result_count",
            Volume::Int(n),
            None,
            project.clone(),
            r.key().to_owned(),
            md,
        ));
    }
    Ok(out)
}
