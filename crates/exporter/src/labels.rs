//! Metric names and label sets, after upstream's `polling/prom_exporter.py` (spec §6.5), but
//! with a label set that depends only on the meter name.
//!
//! Upstream derives the label names from each sample's non-empty fields and registers the
//! gauge with the first sample's names, so a later sample of the same meter with another
//! field set (a volume without a project name, a resource with no metadata) makes
//! `prometheus_client` raise and the pollster's batch is lost (spec §8 row 11). Here every
//! series of a family carries the same names; a field upstream would have left out is an
//! empty string, which Prometheus stores exactly as an absent label, so queries written for
//! upstream's series still match.

use std::fmt::Write as _;

use sample::{Flavor, Sample};
use serde_json::Value;

/// `ceilometer_<meter>` with every character Prometheus does not allow in a metric name
/// (upstream replaces only `.`; `-` and the odd characters dynamic pollsters allow would
/// make the whole exposition unparsable) replaced by `_`.
pub fn metric_name(meter: &str) -> String {
    let mut s = String::with_capacity(11 + meter.len());
    s.push_str("ceilometer_");
    for c in meter.chars() {
        s.push(if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        });
    }
    s
}

/// A label name from arbitrary text, so the exposition stays valid: invalid characters become
/// `_`, a leading digit gets an `m` prefix, the reserved `__` prefix is trimmed.
fn label_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'm');
    }
    while s.starts_with("__") {
        s.remove(0);
    }
    s
}

/// Labels every family has, after the first-segment label, in upstream's order.
const BASE: [&str; 12] = [
    "publisher",
    "type",
    "counter",
    "project",
    "project_name",
    "user",
    "user_name",
    "unit",
    "resource",
    "vm_instance",
    "resource_name",
    "server_group",
];

/// Which extra labels a meter's family carries. Upstream adds them when the metadata has
/// the field; we decide from the meter name so the set is the same for every series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extras {
    None,
    /// `alarm.*` (Aodh: `alarm_state` metadata) → `state`.
    Alarm,
    /// `loadbalancer.*` (Octavia) → `availability_zone`.
    LoadBalancer,
    /// `volume.service.health` (Cinder services) → `binary`, `zone`, `status`.
    VolumeService,
}

impl Extras {
    fn of(meter: &str) -> Extras {
        if meter == "volume.service.health" {
            Extras::VolumeService
        } else if meter.starts_with("loadbalancer.") {
            Extras::LoadBalancer
        } else if meter.starts_with("alarm.") {
            Extras::Alarm
        } else {
            Extras::None
        }
    }

    /// (label name, metadata key).
    fn labels(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Extras::None => &[],
            Extras::Alarm => &[("state", "alarm_state")],
            Extras::LoadBalancer => &[("availability_zone", "availability_zone")],
            Extras::VolumeService => {
                &[("binary", "binary"), ("zone", "zone"), ("status", "status")]
            }
        }
    }
}

/// The label names of one meter's family: fixed by the meter name alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// The first-segment label (`volume` for `volume.size`), or `None` when its name would
    /// clash with one of the fixed labels (e.g. a meter called `type.x`): upstream would have
    /// registered a gauge with duplicate label names and failed.
    plugin: Option<String>,
    extras: Extras,
}

impl Schema {
    /// The schema of `meter`.
    pub fn of(meter: &str) -> Schema {
        let first = meter.split('.').next().unwrap_or(meter);
        let extras = Extras::of(meter);
        let name = label_name(first);
        let clash =
            BASE.contains(&name.as_str()) || extras.labels().iter().any(|(l, _)| *l == name);
        Schema {
            plugin: (!clash).then_some(name),
            extras,
        }
    }

    /// The label names, in exposition order.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.plugin.iter().cloned().collect();
        v.extend(BASE.iter().map(|s| (*s).to_owned()));
        v.extend(self.extras.labels().iter().map(|(l, _)| (*l).to_owned()));
        v
    }

    /// Append `{name="value",...}` for `s` to `out` (values escaped for both text formats).
    pub fn write_labels(&self, out: &mut String, s: &Sample) {
        let segs: Vec<&str> = s.name.split('.').collect();
        let md = &s.resource_metadata;
        out.push('{');
        let mut first = true;
        let mut put = |out: &mut String, name: &str, value: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(name);
            out.push_str("=\"");
            escape_label_value(out, value);
            out.push('"');
        };
        if let Some(p) = &self.plugin {
            let v = segs.get(2).copied().unwrap_or(s.resource_id.as_str());
            put(out, p, v);
        }
        put(out, "publisher", "ceilometer");
        put(out, "type", segs.get(1).copied().unwrap_or(segs[0]));
        put(out, "counter", &s.name);
        put(out, "project", s.project_id.as_deref().unwrap_or(""));
        put(out, "project_name", s.project_name.as_deref().unwrap_or(""));
        put(out, "user", s.user_id.as_deref().unwrap_or(""));
        put(out, "user_name", s.user_name.as_deref().unwrap_or(""));
        put(out, "unit", &s.unit);
        put(out, "resource", &s.resource_id);
        put(out, "vm_instance", &md_str(md.get("host")));
        let display = md_str(md.get("display_name"));
        let name = md_str(md.get("name"));
        let resource_name = match (display.is_empty(), name.is_empty()) {
            (false, false) => format!("{display}:{name}"),
            (false, true) => display,
            _ => name,
        };
        put(out, "resource_name", &resource_name);
        // Upstream: "none" when the metadata is non-empty but has no server group; no label
        // at all (here: empty) when the metadata is empty.
        let server_group = if md.is_empty() {
            String::new()
        } else {
            let g = md_str(
                md.get("user_metadata")
                    .and_then(|u| u.as_object())
                    .and_then(|u| u.get("server_group")),
            );
            if g.is_empty() {
                "none".to_owned()
            } else {
                g
            }
        };
        put(out, "server_group", &server_group);
        for (label, key) in self.extras.labels() {
            put(out, label, &md_str(md.get(key)));
        }
        out.push('}');
    }
}

/// Python's truthiness + `str()` of a metadata value: falsy values (absent, `None`, `""`, `0`,
/// `False`, empty containers) are the empty string, as upstream then omits the label.
fn md_str(v: Option<&Value>) -> String {
    let Some(v) = v else { return String::new() };
    let falsy = match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    };
    if falsy {
        return String::new();
    }
    let mut out = String::new();
    match v {
        Value::Array(_) | Value::Object(_) => {
            let _ = write!(out, "{v}");
        }
        _ => sample::pyrepr::leaf_str(&mut out, v, Flavor::Python3),
    }
    out
}

/// Label values: `\` → `\\`, `"` → `\"`, newline → `\n` (the same in both formats).
pub fn escape_label_value(out: &mut String, v: &str) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text: `\` → `\\`, newline → `\n` (the text format); OpenMetrics also escapes `"`,
/// which the text format leaves alone, so HELP never contains one (we replace it by `'`).
pub fn escape_help(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push('\''),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sample::{SampleType, Timestamp, Volume};
    use serde_json::json;

    fn sample(name: &str, md: Value) -> Sample {
        Sample {
            name: name.to_owned().into(),
            sample_type: SampleType::Gauge,
            unit: "GB".into(),
            volume: Volume::Int(1),
            user_id: None,
            user_name: None,
            project_id: Some("p1".into()),
            project_name: None,
            resource_id: "r\"1".into(),
            timestamp: Timestamp::from_unix_micros(0),
            resource_metadata: md.as_object().cloned().unwrap_or_default().into(),
            source: "openstack".into(),
            id: "x".into(),
            monotonic_time: None,
        }
    }

    #[test]
    fn names_replace_dots_dashes_and_others() {
        assert_eq!(metric_name("volume.size"), "ceilometer_volume_size");
        assert_eq!(metric_name("a-b.c/d"), "ceilometer_a_b_c_d");
        assert_eq!(label_name("9x"), "m9x");
        assert_eq!(label_name("__x"), "_x");
    }

    #[test]
    fn label_set_is_fixed_whatever_the_sample_has() {
        let s = Schema::of("volume.size");
        let mut a = String::new();
        s.write_labels(&mut a, &sample("volume.size", json!({})));
        assert_eq!(
            a,
            "{volume=\"r\\\"1\",publisher=\"ceilometer\",type=\"size\",counter=\"volume.size\",\
             project=\"p1\",project_name=\"\",user=\"\",user_name=\"\",unit=\"GB\",\
             resource=\"r\\\"1\",vm_instance=\"\",resource_name=\"\",server_group=\"\"}"
        );
        let mut b = String::new();
        s.write_labels(
            &mut b,
            &sample(
                "volume.size",
                json!({"host": "h", "display_name": "d", "name": "n", "user_metadata": {"server_group": "g"}}),
            ),
        );
        assert!(
            b.ends_with("vm_instance=\"h\",resource_name=\"d:n\",server_group=\"g\"}"),
            "{b}"
        );
        let mut c = String::new();
        s.write_labels(&mut c, &sample("volume.size", json!({"name": "n"})));
        assert!(
            c.ends_with("resource_name=\"n\",server_group=\"none\"}"),
            "{c}"
        );
        assert_eq!(a.matches('=').count(), b.matches('=').count());
    }

    #[test]
    fn extras_follow_the_meter_name() {
        let s = Schema::of("volume.service.health");
        assert_eq!(s.names().len(), 16);
        let mut a = String::new();
        s.write_labels(
            &mut a,
            &sample(
                "volume.service.health",
                json!({"binary": "cinder-volume", "zone": "nova"}),
            ),
        );
        assert!(a.contains("type=\"service\""), "{a}");
        assert!(a.contains("volume=\"health\""), "{a}");
        assert!(
            a.ends_with("binary=\"cinder-volume\",zone=\"nova\",status=\"\"}"),
            "{a}"
        );
        assert_eq!(Schema::of("type.x").names().len(), 12);
        assert_eq!(
            Schema::of("alarm.evaluation_result")
                .names()
                .last()
                .unwrap(),
            "state"
        );
    }
}
