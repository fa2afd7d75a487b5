//! The verified vectors of spec `ceilometer-central.md` §6, byte for byte.
#![allow(clippy::unwrap_used, missing_docs)]

use sample::{to_python_json, Metadata, MeterForm, Volume};

#[path = "fixtures/vector.rs"]
mod vector;
use vector::vector_sample;

#[test]
fn signature_vector_of_the_spec() {
    let m = vector_sample().meter_message("secret", MeterForm::Modern, None);
    assert_eq!(
        m["message_signature"],
        "6eeb8f0caa1ba94b97177be075a15a6283c64a1c2989bdba46733829e38a3a6e"
    );
    // An empty secret gives an empty signature, as upstream.
    let m = vector_sample().meter_message("", MeterForm::Modern, None);
    assert_eq!(m["message_signature"], "");
}

#[test]
fn meter_dict_keys_and_json_text() {
    let m = vector_sample().meter_message("secret", MeterForm::Modern, None);
    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "source",
            "counter_name",
            "counter_type",
            "counter_unit",
            "counter_volume",
            "user_id",
            "user_name",
            "project_id",
            "project_name",
            "resource_id",
            "timestamp",
            "resource_metadata",
            "message_id",
            "monotonic_time",
            "message_signature"
        ]
    );
    // json.dumps of the dict Python builds (same insertion order).
    assert_eq!(
        to_python_json(&m),
        concat!(
            r#"{"source": "openstack", "counter_name": "volume.size", "counter_type": "gauge", "counter_unit": "GiB", "#,
            r#""counter_volume": 1.5, "user_id": null, "user_name": null, "project_id": "p1", "project_name": null, "#,
            r#""resource_id": "r1", "timestamp": "2025-01-01T00:00:00.000001", "resource_metadata": {"name": "v", "#,
            r#""attachments": [{"server_id": "x", "device": "/dev/vdb"}], "tags": ["a", "b"], "nested": {"z": 1, "a": {"b": null}}, "#,
            r#""empty": {}, "flag": true, "f": 0.30000000000000004}, "message_id": "00000000-0000-0000-0000-000000000001", "#,
            r#""monotonic_time": null, "message_signature": "6eeb8f0caa1ba94b97177be075a15a6283c64a1c2989bdba46733829e38a3a6e"}"#
        )
    );
}

#[test]
fn kilo_form_drops_new_keys_and_signs_the_python2_way() {
    let m = vector_sample().meter_message("secret", MeterForm::Kilo, None);
    assert!(
        !m.contains_key("user_name")
            && !m.contains_key("project_name")
            && !m.contains_key("monotonic_time")
    );
    // Python 2 text: ['a', 'b'], {'device': ..., 'server_id': ...} in py2 dict order, 0.3.
    let mut expected = hmac_input_py2();
    expected.sort();
    let sig = m["message_signature"].as_str().unwrap();
    assert_eq!(sig, reference_hmac(&expected));
    // The same value, pinned: publisher tests check their Kilo output against it.
    assert_eq!(
        sig,
        "f5c2f88ca33a36df0d3dab486096222487ffaead3aa9a5c619129b31510af20f"
    );
    assert_ne!(
        sig,
        "6eeb8f0caa1ba94b97177be075a15a6283c64a1c2989bdba46733829e38a3a6e"
    );
}

/// The (key, text) pairs a CPython 2.7 Kilo collector feeds to HMAC for the vector sample.
fn hmac_input_py2() -> Vec<(String, String)> {
    [
        ("counter_name", "volume.size"),
        ("counter_type", "gauge"),
        ("counter_unit", "GiB"),
        ("counter_volume", "1.5"),
        ("message_id", "00000000-0000-0000-0000-000000000001"),
        ("project_id", "p1"),
        ("resource_id", "r1"),
        // py2: {'device': '/dev/vdb', 'server_id': 'x'} — hash order happens to be this one.
        (
            "resource_metadata:attachments",
            "[{'device': '/dev/vdb', 'server_id': 'x'}]",
        ),
        ("resource_metadata:f", "0.3"),
        ("resource_metadata:flag", "True"),
        ("resource_metadata:name", "v"),
        ("resource_metadata:nested:a:b", "None"),
        ("resource_metadata:nested:z", "1"),
        ("resource_metadata:tags", "['a', 'b']"),
        ("source", "openstack"),
        ("timestamp", "2025-01-01T00:00:00.000001"),
        ("user_id", "None"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn reference_hmac(pairs: &[(String, String)]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"secret").unwrap();
    for (k, v) in pairs {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn as_dict_keys() {
    let d = vector_sample().as_dict();
    let keys: Vec<&str> = d.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "name",
            "type",
            "unit",
            "volume",
            "user_id",
            "user_name",
            "project_id",
            "project_name",
            "resource_id",
            "timestamp",
            "resource_metadata",
            "source",
            "id",
            "monotonic_time"
        ]
    );
}

#[test]
fn int_and_float_volumes_stay_apart() {
    let mut s = vector_sample();
    s.resource_metadata = Metadata::new();
    s.volume = Volume::Int(3);
    let a = s.meter_message("k", MeterForm::Modern, None);
    s.volume = Volume::Float(3.0);
    let b = s.meter_message("k", MeterForm::Modern, None);
    assert_eq!(to_python_json(&a["counter_volume"]), "3");
    assert_eq!(to_python_json(&b["counter_volume"]), "3.0");
    assert_ne!(a["message_signature"], b["message_signature"]);
}
