//! Every parser reads the services' documented reference responses
//! (`../shared/api-samples/`) and gets the resources they list; no input makes one panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::Value;

fn sample(rel: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/api-samples");
    std::fs::read(format!("{dir}/{rel}"))
        .unwrap_or_else(|e| panic!("API sample {rel} is missing: {e}"))
}

/// (discovery, sample file, list key, id field)
const LISTINGS: &[(&str, &str, &str, &str)] = &[
    (
        "images",
        "glance/v2/samples/images-list-response.json",
        "images",
        "id",
    ),
    (
        "volumes",
        "cinder/volumes/volumes-list-detailed-response.json",
        "volumes",
        "id",
    ),
    (
        "volumes",
        "cinder/volumes/v3.65/volumes-list-detailed-response.json",
        "volumes",
        "id",
    ),
    (
        "volumes",
        "cinder/volumes/v3.69/volumes-list-detailed-response.json",
        "volumes",
        "id",
    ),
    (
        "volume_snapshots",
        "cinder/snapshots/v3.65/snapshots-list-detailed-response.json",
        "snapshots",
        "id",
    ),
    (
        "volume_snapshots",
        "cinder/snapshots/snapshots-list-detailed-response.json",
        "snapshots",
        "id",
    ),
    (
        "volume_backups",
        "cinder/backups/v3.56/backups-list-detailed-response.json",
        "backups",
        "id",
    ),
    (
        "volume_backups",
        "cinder/backups/backups-list-detailed-response.json",
        "backups",
        "id",
    ),
    (
        "volume_pools",
        "cinder/pools-list-detailed-response.json",
        "pools",
        "name",
    ),
    (
        "fip_services",
        "neutron/floatingips/floating-ips-list-response.json",
        "floatingips",
        "id",
    ),
    (
        "vpn_services",
        "neutron/vpn/vpnservices-list-response.json",
        "vpnservices",
        "id",
    ),
    (
        "ipsec_connections",
        "neutron/vpn/ipsec-site-connections-list-response.json",
        "ipsec_site_connections",
        "id",
    ),
    (
        "fw_services",
        "neutron/firewall-v2/firewall-groups-list-response.json",
        "firewall_groups",
        "id",
    ),
    (
        "fw_policy",
        "neutron/firewall-v2/firewall-policies-list-response.json",
        "firewall_policies",
        "id",
    ),
    (
        "lb_services",
        "octavia/v2/examples/loadbalancers-list-response.json",
        "loadbalancers",
        "id",
    ),
    (
        "manila_shares",
        "manila/shares-list-detailed-response.json",
        "shares",
        "id",
    ),
    (
        "dns_zones",
        "designate/zones/list-zones-response.json",
        "zones",
        "id",
    ),
    (
        "tenant",
        "keystone/admin/projects-list-response.json",
        "projects",
        "id",
    ),
    (
        "_domains",
        "keystone/admin/domains-list-response.json",
        "domains",
        "id",
    ),
];

#[test]
fn listings_from_reference_samples() {
    for (disc, file, key, id) in LISTINGS {
        let body = sample(file);
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let want: Vec<String> = raw[*key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[*id].as_str().unwrap().to_owned())
            .collect();
        assert!(!want.is_empty(), "{file}");
        let page =
            pollsters::discovery::parse_page(disc, &body).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got: Vec<String> = page.resources.iter().map(|r| r.key().to_owned()).collect();
        assert_eq!(got, want, "{file}");
        assert_eq!(page.skipped, 0, "{file}");
    }
}

#[test]
fn cinder_services_keyed_binary_at_host() {
    for file in [
        "cinder/os-services/v3.49/services-list-response.json",
        "cinder/services-list-response.json",
    ] {
        let body = sample(file);
        let raw: Value = serde_json::from_slice(&body).unwrap();
        let want: Vec<String> = raw["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}@{}",
                    s["binary"].as_str().unwrap(),
                    s["host"].as_str().unwrap()
                )
            })
            .collect();
        let page = pollsters::discovery::parse_page("volume_services", &body).unwrap();
        assert_eq!(
            page.resources
                .iter()
                .map(|r| r.key().to_owned())
                .collect::<Vec<_>>(),
            want
        );
    }
}

#[test]
fn psk_is_not_kept() {
    let page = pollsters::discovery::parse_page(
        "ipsec_connections",
        &sample("neutron/vpn/ipsec-site-connections-list-response.json"),
    )
    .unwrap();
    assert!(page.resources.iter().all(|r| r.get("psk").is_none()));
}

#[test]
fn designate_recordsets_and_next_link() {
    let body = sample("designate/recordsets/list-recordset-in-zone-response.json");
    let raw: Value = serde_json::from_slice(&body).unwrap();
    let (n, next) = pollsters::designate::parse_recordsets(&body).unwrap();
    assert_eq!(n, raw["recordsets"].as_array().unwrap().len());
    assert_eq!(next.as_deref(), raw["links"]["next"].as_str());
}

#[test]
fn swift_account_listing() {
    let body = sample("swift/account-containers-list-response.json");
    let raw: Value = serde_json::from_slice(&body).unwrap();
    let (cs, skipped) = pollsters::swift::parse_containers(&body).unwrap();
    assert_eq!(skipped, 0);
    let want: Vec<(String, i64, i64)> = raw
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
                c["bytes"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cs.iter()
            .map(|c| (c.name.clone(), c.count, c.bytes))
            .collect::<Vec<_>>(),
        want
    );
}

#[test]
fn swift_listing_entries_that_cannot_be_read_are_skipped_and_counted() {
    let body = br#"[
        {"name": "a", "count": 1, "bytes": 2, "last_modified": "x", "storage_policy": "gold"},
        {"name": "b", "count": 1.5, "bytes": 2},
        {"name": null, "count": 1, "bytes": 2},
        "c",
        {"count": 1, "bytes": 2},
        {"name": "d", "count": 3, "bytes": 4}
    ]"#;
    let (cs, skipped) = pollsters::swift::parse_containers(body).unwrap();
    assert_eq!(skipped, 4);
    let got: Vec<_> = cs
        .iter()
        .map(|c| (c.name.as_str(), c.count, c.bytes, c.storage_policy.clone()))
        .collect();
    assert_eq!(
        got,
        [("a", 1, 2, Value::from("gold")), ("d", 3, 4, Value::Null)]
    );
    let e = pollsters::swift::parse_containers(br#"{"name": "a"}"#).unwrap_err();
    assert!(e.contains("not a JSON list"), "{e}");
    let e = pollsters::swift::parse_containers(b"[{]").unwrap_err();
    assert!(e.contains("invalid JSON"), "{e}");
}

#[test]
fn keystone_token_catalogs() {
    let body = sample("keystone/admin/auth-password-project-scoped-response.json");
    let raw: Value = serde_json::from_slice(&body).unwrap();
    let (exp, cat) = pollsters::keystone::parse_token_body(&body).unwrap();
    assert!(exp.is_some());
    let want: Vec<&str> = raw["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        cat.iter()
            .map(|s| s.service_type.as_str())
            .collect::<Vec<_>>(),
        want
    );
    assert!(cat.iter().any(|s| !s.endpoints.is_empty()));
    for f in [
        "keystone/auth/responses/project-scoped-password.json",
        "keystone/admin/auth-application-credential-response.json",
    ] {
        let (_, cat) = pollsters::keystone::parse_token_body(&sample(f)).unwrap();
        assert!(cat.iter().any(|s| s.service_type == "identity"), "{f}");
    }
}

#[test]
fn radosgw_shapes() {
    // The Ceph docs give no JSON sample (see api-samples/radosgw/SOURCES.md); these are the
    // documented field lists.
    let b = br#"[{"bucket":"b1","usage":{"rgw.main":{"num_objects":3,"size_kb":10},"rgw.multimeta":{"num_objects":1,"size_kb":0}}},{"bucket":"b2","usage":{}}]"#;
    let (bk, skipped) = pollsters::rgw::parse_buckets(b).unwrap();
    assert_eq!((bk.num_buckets, bk.rows.len(), skipped), (2, 2, 0));
    let u = br#"{"entries":[],"summary":[{"user":"u","categories":[],"total":{"ops":7,"successful_ops":7}}]}"#;
    assert_eq!(pollsters::rgw::parse_usage(u).unwrap(), 7);
}

fn json_ish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[\[\]{}":,0-9a-z_ .\-]{0,200}"#).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_parser_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), s in json_ish()) {
        for input in [bytes.as_slice(), s.as_bytes()] {
            for d in pollsters::discovery::DISCOVERY_NAMES.iter().chain(["_domains"].iter()) {
                let _ = pollsters::discovery::parse_page(d, input);
            }
            let _ = pollsters::designate::parse_recordsets(input);
            let _ = pollsters::swift::parse_containers(input);
            let _ = pollsters::rgw::parse_buckets(input);
            let _ = pollsters::rgw::parse_usage(input);
            let _ = pollsters::keystone::parse_token_body(input);
        }
    }

    #[test]
    fn listing_entries_of_any_shape(entries in proptest::collection::vec(json_ish(), 0..8)) {
        // Valid outer JSON with arbitrary (often invalid-as-resource) entries: never panics,
        // every entry is either a resource or counted as skipped.
        let items: Vec<Value> = entries.iter().map(|e| serde_json::from_str(e).unwrap_or(Value::String(e.clone()))).collect();
        let body = serde_json::to_vec(&serde_json::json!({"images": items})).unwrap();
        let p = pollsters::discovery::parse_page("images", &body).unwrap();
        prop_assert_eq!(p.resources.len() + p.skipped, items.len());
    }
}
