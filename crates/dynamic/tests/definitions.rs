//! Loading, validation and response processing of dynamic pollster definitions.

use std::path::Path;

use dynamic::{
    load_dirs, parse_file, Authentication, BarbicanSecret, Kind, Level, PayloadError, SecretForm,
    SkipReason, ValueSpec,
};
use serde_json::json;

const VPN: &str = r#"
---
- name: "dynamic.network.services.vpn.connection"
  sample_type: "gauge"
  unit: "ipsec_site_connection"
  value_attribute: "status"
  endpoint_type: "network"
  url_path: "v2.0/vpn/ipsec-site-connections"
  metadata_fields:
    - "name"
    - "vpnservice_id"
    - "description"
    - "status"
    - "peer_address"
  value_mapping:
    ACTIVE: "1"
  metadata_mapping:
    name: "display_name"
  default_value: 0
"#;

#[test]
fn single_metric_upstream_vpn_example() {
    let (defs, findings) = parse_file(Path::new("vpn.yaml"), VPN);
    assert!(findings.is_empty(), "{findings:?}");
    let d = &defs[0];
    assert_eq!(
        d.kind,
        Kind::OpenStack {
            endpoint_type: "network".into()
        }
    );
    assert_eq!(d.timeout.as_secs(), 30);
    assert!(d.preserve_mapped_metadata);
    assert_eq!(
        d.render_url_path(&serde_json::Map::new()),
        "v2.0/vpn/ipsec-site-connections"
    );
    let resp = json!({"ipsec_site_connections": [
        {"id": "c1", "name": "to-dc2", "status": "ACTIVE", "project_id": "p1", "vpnservice_id": "s1",
         "description": "", "peer_address": "10.0.0.1"},
        {"id": "c2", "name": "down", "status": "DOWN", "project_id": "p1", "vpnservice_id": "s1",
         "description": "x", "peer_address": "10.0.0.2", "psk": "secret"}
    ]});
    let out = d.samples_from_response(&resp).unwrap();
    let s: Vec<_> = out.into_iter().map(Result::unwrap).collect();
    assert_eq!(s[0].volume, json!("1"));
    assert_eq!(s[1].volume, json!(0)); // unmapped → default_value
    assert_eq!(s[0].resource_id.as_deref(), Some("c1"));
    assert_eq!(s[0].project_id.as_deref(), Some("p1"));
    assert_eq!(s[0].user_id, None);
    assert_eq!(s[0].metadata["display_name"], json!("to-dc2"));
    assert_eq!(s[0].metadata["name"], json!("to-dc2")); // preserved
    assert!(!s[1].metadata.contains_key("psk")); // only metadata_fields are copied
    assert_eq!(s[0].volume(), sample::Volume::Missing); // "1" is a string, as upstream published it
    let ts = sample::Timestamp::from_unix_micros(1_700_000_000_000_000);
    let smp = s[1].clone().into_sample(ts, "openstack").unwrap();
    assert_eq!(
        (smp.volume, smp.resource_id.as_str(), &*smp.source),
        (sample::Volume::Int(0), "c2", "openstack")
    );
    assert_eq!(smp.resource_metadata["display_name"], json!("down"));
}

#[test]
fn operations_skip_and_default_mapping() {
    let yaml = r#"
- name: dynamic.image.size_mb
  sample_type: gauge
  unit: MB
  endpoint_type: image
  url_path: v2/images
  value_attribute: "size | value / 1024 / 1024"
  metadata_fields: ["attributes.name | value.split('_')[0]", "missing.path"]
  skip_sample_values: [0]
  preserve_mapped_metadata: false
  metadata_mapping: {"attributes.name": short_name}
- name: dynamic.image.active
  sample_type: gauge
  unit: image
  endpoint_type: image
  url_path: v2/images
  response_entries_key: images
  value_attribute: "status | value == 'active' and 1 or 0"
  value_mapping: {1: 100}
"#;
    let (defs, findings) = parse_file(Path::new("ops.yaml"), yaml);
    assert!(findings.is_empty(), "{findings:?}");
    let resp = json!({"images": [
        {"id": "i1", "size": 3145728, "status": "active", "attributes": {"name": "cirros_0.6"}},
        {"id": "i2", "size": 0, "status": "queued", "attributes": {"name": "empty_x"}},
        {"id": "i3", "status": "active"}
    ]});
    let out = defs[0].samples_from_response(&resp).unwrap();
    let first = out[0].as_ref().unwrap();
    assert_eq!(first.volume, json!(3.0));
    assert_eq!(first.metadata["short_name"], json!("cirros"));
    assert!(!first.metadata.contains_key("attributes.name"));
    assert_eq!(first.metadata["missing.path"], json!(null));
    assert_eq!(out[1], Err(SkipReason::SkippedValue("0.0".into())));
    assert!(matches!(&out[2], Err(SkipReason::Failed(m)) if m.contains("KeyError: 'size'")));

    let out = defs[1].samples_from_response(&resp).unwrap();
    let vols: Vec<_> = out
        .iter()
        .map(|r| r.as_ref().unwrap().volume.clone())
        .collect();
    assert_eq!(vols, [json!(100), json!(-1), json!(100)]); // int key 1 matches True-ish 1; default −1
}

#[test]
fn multi_metric_expansion_with_converted_auth() {
    let yaml = r#"
- name: "dynamic.radosgw.api.request.{category}"
  sample_type: "gauge"
  unit: "request"
  value_attribute: "[categories].ops"
  url_path: "http://rgw.example:8080/admin/usage"
  authentication: {type: basic, username: admin, password: s3cr3t}
  user_id_attribute: "user"
  project_id_attribute: "user"
  resource_id_attribute: "user"
  response_entries_key: "summary"
  skip_sample_values: ["list_buckets"]
"#;
    let (defs, findings) = parse_file(Path::new("rgw.yaml"), yaml);
    assert!(findings.is_empty(), "{findings:?}");
    let d = &defs[0];
    assert!(
        matches!(&d.kind, Kind::NonOpenStack { authentication: Some(Authentication::Basic { username, .. }), .. } if username == "admin")
    );
    assert!(
        !format!("{d:?}").contains("s3cr3t"),
        "Debug must redact the password"
    );
    assert!(
        matches!(d.value_attribute, ValueSpec::Multi { ref name_attribute, .. } if name_attribute == "category")
    );
    let resp = json!({"entries": [], "summary": [{"user": "u1", "categories": [
        {"category": "create_bucket", "ops": 2, "successful_ops": 2},
        {"category": "put_obj", "ops": 5},
        {"category": "list_buckets", "ops": 9}
    ]}]});
    let out = d.samples_from_response(&resp).unwrap();
    let ok: Vec<_> = out.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0].name, "dynamic.radosgw.api.request.create_bucket");
    assert_eq!(ok[0].volume, json!(2));
    assert_eq!(ok[1].name, "dynamic.radosgw.api.request.put_obj");
    assert_eq!(ok[1].resource_id.as_deref(), Some("u1"));
    assert_eq!(
        out[2],
        Err(SkipReason::SkippedValue("'list_buckets'".into()))
    );
}

#[test]
fn python_auth_classes_are_converted_or_reported() {
    let yaml = r#"
- name: dynamic.basic
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  module: requests.auth
  authentication_object: HTTPBasicAuth
  authentication_parameters: "user,pa55"
- name: dynamic.s3
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://rgw.example/admin/usage"
  module: awsauth
  authentication_object: S3Auth
  authentication_parameters: "ak,sk,host"
"#;
    let (defs, findings) = parse_file(Path::new("auth.yaml"), yaml);
    assert_eq!(defs.len(), 1);
    assert!(
        matches!(&defs[0].kind, Kind::NonOpenStack { authentication: Some(Authentication::Basic { password, .. }), .. } if password == "pa55")
    );
    let warn = findings
        .iter()
        .find(|f| f.definition.as_deref() == Some("dynamic.basic"))
        .unwrap();
    assert_eq!(warn.level, Level::Warning);
    assert!(warn.message.contains("authentication: {type: basic"));
    let err = findings
        .iter()
        .find(|f| f.definition.as_deref() == Some("dynamic.s3"))
        .unwrap();
    assert_eq!(err.level, Level::Error);
    assert_eq!(err.key.as_deref(), Some("module"));
    assert!(err.message.contains("awsauth.S3Auth"), "{}", err.message);
    assert!(findings
        .iter()
        .all(|f| !f.message.contains("sk,host") && !f.message.contains("pa55")));
}

/// The `barbican` part of a definition.
fn barbican(k: &Kind) -> Option<&BarbicanSecret> {
    match k {
        Kind::NonOpenStack { barbican, .. } => barbican.as_ref(),
        Kind::OpenStack { .. } => None,
    }
}

#[test]
fn barbican_secret_fills_what_the_yaml_leaves_out() {
    let yaml = r#"
- name: dyn.bearer
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  barbican_secret_id: " 6f1c0b5e-2a41-4d7e-9c1f-0d3c2b1a0e9f "
  authentication: {type: bearer}
- name: dyn.basic
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  barbican_secret_id: 11111111-2222-4333-8444-555555555555
  authentication: {type: basic}
- name: dyn.basic.user
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  barbican_secret_id: 11111111-2222-4333-8444-555555555555
  authentication: {type: basic, username: monitor}
- name: dyn.headers
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  barbican_secret_id: 11111111-2222-4333-8444-555555555555
  authentication:
    type: headers
    headers: {X-Api-Key: ~, X-Tenant: acme, X-Other: ""}
- name: dyn.upstream
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  module: requests.auth
  authentication_object: HTTPBasicAuth
  barbican_secret_id: 11111111-2222-4333-8444-555555555555
"#;
    let (defs, findings) = parse_file(Path::new("barbican.yaml"), yaml);
    let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dyn.bearer",
            "dyn.basic",
            "dyn.basic.user",
            "dyn.headers",
            "dyn.upstream"
        ]
    );
    // Only the converted upstream class is worth a warning.
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].level, Level::Warning);
    assert_eq!(findings[0].definition.as_deref(), Some("dyn.upstream"));
    assert!(
        findings[0].message.contains("Barbican"),
        "{}",
        findings[0].message
    );

    let b = barbican(&defs[0].kind).unwrap();
    assert_eq!(b.secret_id, "6f1c0b5e-2a41-4d7e-9c1f-0d3c2b1a0e9f");
    assert!(matches!(
        &defs[0].kind,
        Kind::NonOpenStack {
            authentication: None,
            ..
        }
    ));
    // Surrounding whitespace (a stored trailing newline) is not part of the token.
    assert_eq!(
        b.form.credentials(b"t0ken\n"),
        Ok(Authentication::Bearer {
            token: "t0ken".into()
        })
    );
    let basic = &barbican(&defs[1].kind).unwrap().form;
    assert_eq!(basic, &SecretForm::Basic { username: None });
    assert_eq!(
        basic.credentials(b"alice:pa:ss,word"),
        Ok(Authentication::Basic {
            username: "alice".into(),
            password: "pa:ss,word".into()
        })
    );
    assert_eq!(basic.credentials(b"no-colon"), Err(PayloadError::NoColon));
    assert_eq!(
        barbican(&defs[2].kind).unwrap().form.credentials(b"pa:ss"),
        Ok(Authentication::Basic {
            username: "monitor".into(),
            password: "pa:ss".into()
        })
    );
    let h = barbican(&defs[3].kind)
        .unwrap()
        .form
        .credentials(b"k3y")
        .unwrap();
    assert_eq!(
        h,
        Authentication::Headers(vec![
            ("X-Api-Key".into(), "k3y".into()),
            ("X-Tenant".into(), "acme".into()),
            ("X-Other".into(), "k3y".into()),
        ])
    );
    let up = &barbican(&defs[4].kind).unwrap().form;
    assert_eq!(up, &SecretForm::HttpBasicAuthArgs);
    assert_eq!(
        up.credentials(b" alice , s3cret "),
        Ok(Authentication::Basic {
            username: "alice".into(),
            password: "s3cret".into()
        })
    );
    assert_eq!(up.credentials(b"a,b,c"), Err(PayloadError::NotTwoParts(3)));
    // Unusable payloads, whatever the form; the error never quotes the payload.
    for form in [&barbican(&defs[0].kind).unwrap().form, basic, up] {
        assert_eq!(form.credentials(b" \n"), Err(PayloadError::Empty));
        assert_eq!(form.credentials(&[0xff, 0xfe]), Err(PayloadError::NotText));
    }
    let msg = up.credentials(b"s3cret-only").unwrap_err().to_string();
    assert!(!msg.contains("s3cret"), "{msg}");
}

#[test]
fn barbican_secret_misuse_is_reported() {
    let yaml = r#"
- name: dyn.inline.wins
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  barbican_secret_id: 11111111-2222-4333-8444-555555555555
  authentication: {type: bearer, token: inline-t0ken}
- name: dyn.params.win
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  module: requests.auth
  authentication_object: HTTPBasicAuth
  authentication_parameters: "u,p4ss"
  barbican_secret_id: 11111111-2222-4333-8444-555555555555
- name: dyn.no.auth.block
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  barbican_secret_id: 11111111-2222-4333-8444-555555555555
- name: dyn.auth.none
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  barbican_secret_id: 11111111-2222-4333-8444-555555555555
  authentication: {type: none}
- name: dyn.bad.id
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  barbican_secret_id: "../../v3/auth/tokens"
  authentication: {type: bearer}
- name: dyn.no.token
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  authentication: {type: bearer}
- name: dyn.empty.header
  sample_type: gauge
  unit: x
  value_attribute: count
  url_path: "https://api.example/v1/stats"
  authentication: {type: headers, headers: {X-Api-Key: ~}}
"#;
    let (defs, findings) = parse_file(Path::new("misuse.yaml"), yaml);
    let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["dyn.inline.wins", "dyn.params.win"]);
    // Complete inline credentials win over the secret, with a warning (upstream's
    // authentication_parameters override the Barbican payload too).
    for d in &defs {
        assert!(barbican(&d.kind).is_none());
        let w: Vec<_> = findings
            .iter()
            .filter(|f| f.definition.as_deref() == Some(d.name.as_str()))
            .filter(|f| f.key.as_deref() == Some("barbican_secret_id"))
            .collect();
        assert_eq!(w.len(), 1, "{findings:?}");
        assert_eq!(w[0].level, Level::Warning);
        assert!(w[0].message.contains("ignored"), "{}", w[0].message);
    }
    let err = |name: &str| {
        findings
            .iter()
            .find(|f| f.definition.as_deref() == Some(name) && f.level == Level::Error)
            .unwrap_or_else(|| panic!("no error for {name}: {findings:?}"))
    };
    let e = err("dyn.no.auth.block");
    assert_eq!(e.key.as_deref(), Some("barbican_secret_id"));
    assert!(e.message.contains("authentication:"), "{}", e.message);
    assert_eq!(e.line, Some(23), "the barbican_secret_id line");
    assert!(err("dyn.auth.none")
        .message
        .contains("bearer, basic or headers"));
    assert!(err("dyn.bad.id").message.contains("UUID"));
    assert!(err("dyn.no.token").message.contains("barbican_secret_id"));
    let e = err("dyn.empty.header");
    assert!(e.message.contains("X-Api-Key"), "{}", e.message);
    assert!(findings
        .iter()
        .all(|f| !f.message.contains("inline-t0ken") && !f.message.contains("p4ss")));
}

#[test]
fn broken_definitions_are_reported_and_good_ones_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let d1 = dir.path().join("a");
    let d2 = dir.path().join("b");
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::write(
        d1.join("20-mixed.yaml"),
        r#"- name: dynamic.good
  sample_type: gauge
  unit: B
  endpoint_type: network
  url_path: v2.0/ports
  value_attribute: size
- name: dynamic.bad_type
  sample_type: counter
  unit: B
  endpoint_type: network
  url_path: v2.0/ports
  value_attribute: size
- name: dynamic.bad_op
  sample_type: gauge
  unit: B
  endpoint_type: network
  url_path: v2.0/ports
  value_attribute: "size | 1 + 1"
- name: dynamic.lambda
  sample_type: gauge
  unit: B
  endpoint_type: network
  url_path: v2.0/ports
  value_attribute: "size | (lambda x: x)(value)"
- name: dynamic.no_endpoint
  sample_type: gauge
  unit: B
  url_path: v2.0/ports
  value_attribute: size
  timout: 5
- name: dynamic.compute_only
  namespaces: [compute]
  sample_type: gauge
  unit: B
  url_path: x
  value_attribute: y
- name: dynamic.cmd
  sample_type: gauge
  unit: B
  host_command: "cat /proc/loadavg"
  value_attribute: "."
- name: "bad name!"
  sample_type: gauge
  unit: B
  endpoint_type: network
  url_path: v2.0/ports
  value_attribute: size
"#,
    )
    .unwrap();
    std::fs::write(d1.join("10-broken.yaml"), "- name: [unclosed\n").unwrap();
    std::fs::write(d1.join("ignored.yml"), "not: loaded").unwrap();
    std::fs::write(
        d2.join("00-dup.yaml"),
        "- {name: dynamic.good, sample_type: gauge, unit: B, endpoint_type: x, url_path: y, value_attribute: z}\n",
    )
    .unwrap();
    let loaded = load_dirs(&[d1.clone(), d2.clone(), dir.path().join("missing")]);
    let names: Vec<_> = loaded.definitions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["dynamic.good"]);
    assert_eq!(loaded.definitions[0].file, d1.join("20-mixed.yaml"));

    let find = |name: Option<&str>, key: Option<&str>| {
        loaded
            .findings
            .iter()
            .find(|f| f.definition.as_deref() == name && f.key.as_deref() == key)
            .unwrap_or_else(|| panic!("no finding for {name:?}/{key:?} in {:#?}", loaded.findings))
    };
    let f = find(None, None);
    assert!(
        f.file.ends_with("10-broken.yaml") && f.message.contains("invalid YAML"),
        "{f}"
    );
    let f = find(Some("dynamic.bad_type"), Some("sample_type"));
    assert_eq!((f.level, f.line), (Level::Error, Some(8)));
    assert!(
        f.to_string()
            .contains("20-mixed.yaml:8: dynamic pollster 'dynamic.bad_type': sample_type:"),
        "{f}"
    );
    let f = find(Some("dynamic.bad_op"), Some("value_attribute"));
    assert!(f.message.contains("must use the 'value' variable"), "{f}");
    let f = find(Some("dynamic.lambda"), Some("value_attribute"));
    assert!(f.message.contains("'lambda' is not supported"), "{f}");
    let f = find(Some("dynamic.no_endpoint"), Some("endpoint_type"));
    assert!(f.message.contains("required field 'endpoint_type'"), "{f}");
    let f = find(Some("dynamic.no_endpoint"), Some("timout"));
    assert_eq!(f.level, Level::Warning);
    assert!(f.message.contains("did you mean 'timeout'"), "{f}");
    assert_eq!(
        find(Some("dynamic.compute_only"), Some("namespaces")).level,
        Level::Info
    );
    assert!(find(Some("dynamic.cmd"), Some("host_command"))
        .message
        .contains("not part of the central namespace"));
    assert!(find(Some("bad name!"), Some("name"))
        .message
        .contains("invalid pollster name"));
    let dup = find(Some("dynamic.good"), Some("name"));
    assert_eq!(dup.level, Level::Info);
    assert!(dup.file.ends_with("00-dup.yaml") && dup.message.contains("already defined"));
    let missing = loaded
        .findings
        .iter()
        .find(|f| f.file.ends_with("missing"))
        .unwrap();
    assert_eq!(missing.level, Level::Info);
    // As config diagnostics.
    let d = find(Some("dynamic.bad_type"), Some("sample_type")).to_diagnostic();
    assert_eq!(d.severity, ceilometer_config::Severity::Error);
    assert_eq!(d.line, Some(8));
}

#[test]
fn url_path_templating_paging_and_text_handler() {
    let yaml = r#"
- name: dynamic.hypervisor.vcpus
  sample_type: gauge
  unit: vcpu
  endpoint_type: compute
  url_path: "'/v2.1/os-hypervisors/%s' % resource_id"
  value_attribute: vcpus
  response_entries_key: hypervisor
  next_sample_url_attribute: "links | [l['href'] for l in value if l['rel'] == 'next'][0]"
- name: dynamic.text.lines
  sample_type: gauge
  unit: line
  endpoint_type: x
  url_path: "'/v1/' + project_id"
  value_attribute: "out | value.count('\\n')"
  response_handlers: [json, text]
"#;
    let (defs, findings) = parse_file(Path::new("t.yaml"), yaml);
    assert!(findings.is_empty(), "{findings:?}");
    let meta = json!({"resource_id": "h1", "project_id": "p9"});
    let meta = meta.as_object().unwrap();
    assert_eq!(defs[0].render_url_path(meta), "/v2.1/os-hypervisors/h1");
    assert_eq!(defs[1].render_url_path(meta), "/v1/p9");
    assert_eq!(
        defs[1].render_url_path(&serde_json::Map::new()),
        "'/v1/' + project_id"
    );
    let page = json!({"hypervisor": {"id": 1, "vcpus": 8},
        "links": [{"rel": "self", "href": "a"}, {"rel": "next", "href": "/v2.1/os-hypervisors?marker=1"}]});
    assert_eq!(
        defs[0].next_page_url(&page).as_deref(),
        Some("/v2.1/os-hypervisors?marker=1")
    );
    let last = json!({"hypervisor": {"id": 1, "vcpus": 8}, "links": []});
    assert_eq!(defs[0].next_page_url(&last), None);
    let s = defs[0].samples_from_response(&page).unwrap();
    assert_eq!(s[0].as_ref().unwrap().volume, json!(8));
    assert_eq!(s[0].as_ref().unwrap().resource_id.as_deref(), Some("1"));

    let body = defs[1].parse_body(b"a\nb\nc\n").unwrap();
    assert_eq!(body, json!([{"out": "a\nb\nc\n"}]));
    let s = defs[1].samples_from_response(&body).unwrap();
    assert_eq!(s[0].as_ref().unwrap().volume, json!(3));
    assert_eq!(defs[1].parse_body(b"[1]").unwrap(), json!([1]));
}

#[test]
fn xml_handler_and_extra_metadata() {
    let yaml = r#"
- name: dynamic.x
  sample_type: gauge
  unit: x
  endpoint_type: x
  url_path: x
  value_attribute: v
  response_handlers: [xml, json]
  response_entries_key: "servers.server"
  resource_id_attribute: "@id"
  metadata_fields: ["name"]
- name: dynamic.y
  sample_type: cumulative
  unit: x
  endpoint_type: compute
  url_path: v2.1/servers/detail
  value_attribute: v
  extra_metadata_fields_cache_seconds: 60
  extra_metadata_fields_skip: [{status: DELETED}]
  extra_metadata_fields:
    - name: flavor_name
      endpoint_type: compute
      url_path: "'/v2.1/flavors/' + sample['flavor']['id']"
      value: "flavor.name"
"#;
    let (defs, findings) = parse_file(Path::new("x.yaml"), yaml);
    assert!(findings.is_empty(), "{findings:?}");
    let x = &defs[0];
    let body = x
        .parse_body(br#"<servers><server id="a"><name>web</name><v>3</v></server><server id="b"><name>db</name><v>4</v></server></servers>"#)
        .unwrap();
    let s: Vec<_> = x
        .samples_from_response(&body)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(s.len(), 2);
    assert_eq!(
        (s[1].resource_id.as_deref(), &s[1].volume),
        (Some("b"), &json!("4"))
    );
    assert_eq!(s[0].metadata["name"], json!("web"));
    assert_eq!(x.parse_body(b"[1]").unwrap(), json!([1])); // xml fails, json parses
    assert!(x.parse_body(b"neither").is_err());
    let d = &defs[1];
    assert_eq!(d.extra_metadata_fields_cache_seconds, 60);
    assert_eq!(d.extra_metadata_fields[0].name, "flavor_name");
    assert!(d.extra_metadata_fields[0].url_path.expr.is_some());
    assert!(d.skip_extra_metadata(&json!({"status": "DELETED", "id": 1})));
    assert!(!d.skip_extra_metadata(&json!({"status": "ACTIVE"})));
}
