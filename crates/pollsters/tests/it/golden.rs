//! Golden tests: for a fixed simulated cloud, every pollster's samples (all fields but id
//! and timestamp) equal the ones written here from the spec tables (§3.2), computed from
//! the raw API answers fetched with simcloud's own client, never with our code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use crate::common::*;
use hyper::Method;
use serde_json::{json, Value};
use simcloud::client::Client;

struct Raw {
    c: Client,
    token: String,
    admin: String,
}

impl Raw {
    async fn new(sim: &simcloud::SimHandle) -> Raw {
        let mut c = Client::connect(sim.addr()).await.unwrap();
        let (token, reply) = c.login("agent-1", "secret").await.unwrap();
        let admin = reply.json()["token"]["project"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Raw {
            c,
            token: token.unwrap(),
            admin,
        }
    }
    async fn get(&mut self, path: &str, hdrs: &[(&str, &str)]) -> Value {
        let path = path.replace("{admin}", &self.admin);
        let mut h = vec![("x-auth-token", self.token.as_str())];
        h.extend_from_slice(hdrs);
        let r = self.c.send(Method::GET, &path, &h, None).await.unwrap();
        assert_eq!(r.status, 200, "{path}");
        r.json()
    }
}

fn list<'a>(v: &'a Value, k: &str) -> &'a Vec<Value> {
    let a = v[k].as_array().unwrap();
    assert!(
        !a.is_empty(),
        "{k} is empty: the golden test would be vacuous"
    );
    a
}

fn pick(o: &Value, keys: &[(&str, &str)]) -> Value {
    let mut m = serde_json::Map::new();
    for (out, inp) in keys {
        m.insert((*out).into(), o.get(*inp).cloned().unwrap_or(Value::Null));
    }
    Value::Object(m)
}

fn neutron_code(s: &str) -> i64 {
    match s.to_lowercase().as_str() {
        "inactive" => 0,
        "active" => 1,
        "pending_create" => 2,
        "down" => 3,
        "created" => 4,
        "pending_update" => 5,
        "pending_delete" => 6,
        "error" => 7,
        _ => -1,
    }
}

async fn expected(sim: &simcloud::SimHandle) -> BTreeMap<String, Vec<Value>> {
    let mut raw = Raw::new(sim).await;
    let mut e: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut add = |v: Value| {
        e.entry(v[0].as_str().unwrap().to_owned())
            .or_default()
            .push(v);
    };
    let mv = [("openstack-api-version", "volume 3.64")];

    // image.size
    let v = raw.get("/image/v2/images?limit=1000", &[]).await;
    for i in list(&v, "images") {
        let md = pick(
            i,
            &[
                ("status", "status"),
                ("visibility", "visibility"),
                ("name", "name"),
                ("container_format", "container_format"),
                ("created_at", "created_at"),
                ("disk_format", "disk_format"),
                ("updated_at", "updated_at"),
                ("min_disk", "min_disk"),
                ("is_protected", "protected"),
                ("checksum", "checksum"),
                ("min_ram", "min_ram"),
                ("tags", "tags"),
                ("virtual_size", "virtual_size"),
            ],
        );
        add(exp(
            "image.size",
            "B",
            i["size"].clone(),
            Value::Null,
            i["owner"].clone(),
            i["id"].as_str().unwrap(),
            md,
        ));
    }
    // volume.size
    let v = raw
        .get("/volume/v3/{admin}/volumes/detail?all_tenants=True", &mv)
        .await;
    for x in list(&v, "volumes") {
        let mut md = pick(
            x,
            &[
                ("name", "name"),
                ("status", "status"),
                ("volume_type", "volume_type"),
                ("volume_type_id", "volume_type_id"),
                ("availability_zone", "availability_zone"),
                ("migration_status", "migration_status"),
                ("attachments", "attachments"),
                ("snapshot_id", "snapshot_id"),
            ],
        );
        let m = md.as_object_mut().unwrap();
        m.insert(
            "image_id".into(),
            x.get("volume_image_metadata")
                .map_or(Value::Null, |v| v["image_id"].clone()),
        );
        m.insert(
            "instance_id".into(),
            x["attachments"]
                .get(0)
                .map_or(Value::Null, |a| a["server_id"].clone()),
        );
        m.insert(
            "os-vol-host-attr:host".into(),
            x["os-vol-host-attr:host"].clone(),
        );
        m.insert("source_volid".into(), x["source_volid"].clone());
        add(exp(
            "volume.size",
            "GiB",
            x["size"].clone(),
            x["user_id"].clone(),
            x["os-vol-tenant-attr:tenant_id"].clone(),
            x["id"].as_str().unwrap(),
            md,
        ));
    }
    let v = raw
        .get("/volume/v3/{admin}/snapshots/detail?all_tenants=True", &mv)
        .await;
    for x in list(&v, "snapshots") {
        let md = pick(
            x,
            &[
                ("name", "name"),
                ("volume_id", "volume_id"),
                ("status", "status"),
                ("description", "description"),
                ("metadata", "metadata"),
                (
                    "os-extended-snapshot-attributes:progress",
                    "os-extended-snapshot-attributes:progress",
                ),
            ],
        );
        add(exp(
            "volume.snapshot.size",
            "GiB",
            x["size"].clone(),
            x["user_id"].clone(),
            x["os-extended-snapshot-attributes:project_id"].clone(),
            x["id"].as_str().unwrap(),
            md,
        ));
    }
    let v = raw
        .get("/volume/v3/{admin}/backups/detail?all_tenants=True", &mv)
        .await;
    for x in list(&v, "backups") {
        let md = pick(
            x,
            &[
                ("name", "name"),
                ("is_incremental", "is_incremental"),
                ("object_count", "object_count"),
                ("container", "container"),
                ("volume_id", "volume_id"),
                ("status", "status"),
                ("description", "description"),
            ],
        );
        add(exp(
            "volume.backup.size",
            "GiB",
            x["size"].clone(),
            x["user_id"].clone(),
            x["os-backup-project-attr:project_id"].clone(),
            x["id"].as_str().unwrap(),
            md,
        ));
    }
    let v = raw
        .get(
            "/volume/v3/{admin}/scheduler-stats/get_pools?detail=True",
            &mv,
        )
        .await;
    for x in list(&v, "pools") {
        let name = x["name"].as_str().unwrap();
        let caps = &x["capabilities"];
        let md = json!({"pool_name": null, "provider": name.split('#').next().unwrap()});
        let p = "volume.provider.pool.capacity.";
        add(exp(
            &format!("{p}total"),
            "GiB",
            caps["total_capacity_gb"].clone(),
            Value::Null,
            Value::Null,
            name,
            md.clone(),
        ));
        add(exp(
            &format!("{p}free"),
            "GiB",
            caps["free_capacity_gb"].clone(),
            Value::Null,
            Value::Null,
            name,
            md.clone(),
        ));
        add(exp(
            &format!("{p}allocated"),
            "GiB",
            caps["allocated_capacity_gb"].clone(),
            Value::Null,
            Value::Null,
            name,
            md.clone(),
        ));
        let prov = caps["provisioned_capacity_gb"].as_f64().unwrap();
        if prov != 0.0 {
            add(exp(
                &format!("{p}provisioned"),
                "GiB",
                caps["provisioned_capacity_gb"].clone(),
                Value::Null,
                Value::Null,
                name,
                md.clone(),
            ));
            let total = caps["total_capacity_gb"].as_f64().unwrap();
            let reserved = (caps["reserved_percentage"].as_f64().unwrap() / 100.0 * total).floor();
            let ratio = if caps["thin_provisioning_support"].as_bool().unwrap() {
                caps["max_over_subscription_ratio"]
                    .as_str()
                    .unwrap()
                    .parse::<f64>()
                    .unwrap()
            } else {
                1.0
            };
            add(exp(
                &format!("{p}virtual_free"),
                "GiB",
                json!(ratio * (total - reserved) - prov),
                Value::Null,
                Value::Null,
                name,
                md,
            ));
        }
    }
    let v = raw.get("/volume/v3/{admin}/os-services", &mv).await;
    for x in list(&v, "services") {
        let state = match x["state"].as_str().unwrap() {
            "up" => 1,
            "down" => 0,
            s => panic!("{s}"),
        };
        let rid = format!(
            "{}@{}",
            x["binary"].as_str().unwrap(),
            x["host"].as_str().unwrap()
        );
        let md = pick(
            x,
            &[
                ("binary", "binary"),
                ("host", "host"),
                ("status", "status"),
                ("zone", "zone"),
            ],
        );
        add(exp(
            "volume.service.health",
            "health",
            json!(state),
            Value::Null,
            Value::Null,
            &rid,
            md,
        ));
    }
    // Neutron
    let v = raw.get("/network/v2.0/floatingips", &[]).await;
    for x in list(&v, "floatingips") {
        let md = pick(
            x,
            &[
                ("router_id", "router_id"),
                ("status", "status"),
                ("floating_network_id", "floating_network_id"),
                ("fixed_ip_address", "fixed_ip_address"),
                ("port_id", "port_id"),
                ("floating_ip_address", "floating_ip_address"),
            ],
        );
        add(exp(
            "ip.floating",
            "ip",
            json!(neutron_code(x["status"].as_str().unwrap())),
            Value::Null,
            x["tenant_id"].clone(),
            x["id"].as_str().unwrap(),
            md,
        ));
    }
    let v = raw.get("/network/v2.0/vpn/vpnservices", &[]).await;
    for x in list(&v, "vpnservices") {
        let md = pick(
            x,
            &[
                ("is_admin_state_up", "admin_state_up"),
                ("description", "description"),
                ("name", "name"),
                ("status", "status"),
                ("subnet_id", "subnet_id"),
                ("router_id", "router_id"),
                ("flavor_id", "flavor_id"),
                ("external_v4_ip", "external_v4_ip"),
                ("external_v6_ip", "external_v6_ip"),
            ],
        );
        add(exp(
            "network.services.vpn",
            "vpnservice",
            json!(neutron_code(x["status"].as_str().unwrap())),
            Value::Null,
            x["project_id"].clone(),
            x["id"].as_str().unwrap(),
            md,
        ));
    }
    let v = raw
        .get("/network/v2.0/vpn/ipsec-site-connections", &[])
        .await;
    for x in list(&v, "ipsec_site_connections") {
        assert!(x.get("psk").is_some(), "the API does return a psk");
        // No psk: deliberately not published (spec §8 #12).
        let md = pick(
            x,
            &[
                ("name", "name"),
                ("description", "description"),
                ("peer_address", "peer_address"),
                ("peer_id", "peer_id"),
                ("peer_cidrs", "peer_cidrs"),
                ("peer_ep_group_id", "peer_ep_group_id"),
                ("initiator", "initiator"),
                ("ikepolicy_id", "ikepolicy_id"),
                ("ipsecpolicy_id", "ipsecpolicy_id"),
                ("vpnservice_id", "vpnservice_id"),
                ("mtu", "mtu"),
                ("is_admin_state_up", "admin_state_up"),
                ("status", "status"),
                ("project_id", "project_id"),
            ],
        );
        add(exp(
            "network.services.vpn.connections",
            "ipsec_site_connection",
            json!(1),
            Value::Null,
            x["project_id"].clone(),
            x["id"].as_str().unwrap(),
            md,
        ));
    }
    let v = raw.get("/network/v2.0/fwaas/firewall_groups", &[]).await;
    for x in list(&v, "firewall_groups") {
        let md = pick(
            x,
            &[
                ("admin_state_up", "admin_state_up"),
                ("description", "description"),
                ("name", "name"),
                ("status", "status"),
                ("ingress_firewall_policy_id", "ingress_firewall_policy_id"),
                ("egress_firewall_policy_id", "egress_firewall_policy_id"),
            ],
        );
        add(exp(
            "network.services.firewall",
            "firewall",
            json!(neutron_code(x["status"].as_str().unwrap())),
            Value::Null,
            x["project_id"].clone(),
            x["id"].as_str().unwrap(),
            md,
        ));
    }
    let v = raw.get("/network/v2.0/fwaas/firewall_policies", &[]).await;
    for x in list(&v, "firewall_policies") {
        let md = pick(
            x,
            &[
                ("name", "name"),
                ("description", "description"),
                ("firewall_rules", "firewall_rules"),
                ("shared", "shared"),
                ("audited", "audited"),
            ],
        );
        add(exp(
            "network.services.firewall.policy",
            "firewall_policy",
            json!(1),
            Value::Null,
            x["project_id"].clone(),
            x["id"].as_str().unwrap(),
            md,
        ));
    }
    // Octavia
    let v = raw.get("/load-balancer/v2/lbaas/loadbalancers", &[]).await;
    for x in list(&v, "loadbalancers") {
        let md = pick(
            x,
            &[
                ("name", "name"),
                ("availability_zone", "availability_zone"),
                ("vip_address", "vip_address"),
                ("vip_port_id", "vip_port_id"),
                ("provisioning_status", "provisioning_status"),
                ("operating_status", "operating_status"),
                ("provider", "provider"),
                ("flavor_id", "flavor_id"),
            ],
        );
        let op = match x["operating_status"].as_str().unwrap() {
            "ONLINE" => 1,
            "DRAINING" => 2,
            "OFFLINE" => 3,
            "DEGRADED" => 4,
            "ERROR" => 5,
            "NO_MONITOR" => 6,
            _ => -1,
        };
        let pr = match x["provisioning_status"].as_str().unwrap() {
            "ACTIVE" => 1,
            "DELETED" => 2,
            "ERROR" => 3,
            "PENDING_CREATE" => 4,
            "PENDING_UPDATE" => 5,
            "PENDING_DELETE" => 6,
            _ => -1,
        };
        let id = x["id"].as_str().unwrap();
        add(exp(
            "loadbalancer.operating",
            "status",
            json!(op),
            Value::Null,
            x["project_id"].clone(),
            id,
            md.clone(),
        ));
        add(exp(
            "loadbalancer.provisioning",
            "status",
            json!(pr),
            Value::Null,
            x["project_id"].clone(),
            id,
            md,
        ));
    }
    // Manila
    let v = raw
        .get("/share/v2/shares/detail?all_tenants=True", &[])
        .await;
    let manila = [
        "available",
        "creating",
        "deleting",
        "error",
        "error_deleting",
        "migrating",
        "extending",
        "shrinking",
        "reverting",
        "inactive",
        "manage_starting",
        "manage_error",
        "unmanage_starting",
        "unmanage_error",
        "unmanaged",
        "extending_error",
        "shrinking_error",
        "reverting_error",
        "awaiting_transfer",
        "backup_creating",
        "backup_restoring",
        "backup_restoring_error",
        "creating_from_snapshot",
        "shrinking_possible_data_loss_error",
        "migrating_to",
        "replication_change",
    ];
    for x in list(&v, "shares") {
        let md = pick(
            x,
            &[
                ("name", "name"),
                ("availability_zone", "availability_zone"),
                ("protocol", "share_proto"),
                ("share_type", "share_type"),
                ("share_network_id", "share_network_id"),
                ("status", "status"),
                ("host", "host"),
                ("is_public", "is_public"),
            ],
        );
        let st = manila
            .iter()
            .position(|s| *s == x["status"].as_str().unwrap())
            .map_or(-1, |i| i as i64 + 1);
        let id = x["id"].as_str().unwrap();
        let size = if x["size"].is_null() {
            json!(0)
        } else {
            x["size"].clone()
        };
        add(exp(
            "manila.share.size",
            "GiB",
            size,
            x["user_id"].clone(),
            x["project_id"].clone(),
            id,
            md.clone(),
        ));
        add(exp(
            "manila.share.status",
            "status",
            json!(st),
            x["user_id"].clone(),
            x["project_id"].clone(),
            id,
            md,
        ));
    }
    // Designate
    let v = raw
        .get(
            "/dns/v2/zones?limit=1000",
            &[("x-auth-all-projects", "True")],
        )
        .await;
    for x in list(&v, "zones") {
        let md = pick(
            x,
            &[
                ("name", "name"),
                ("email", "email"),
                ("ttl", "ttl"),
                ("description", "description"),
                ("type", "type"),
                ("status", "status"),
                ("action", "action"),
                ("serial", "serial"),
                ("pool_id", "pool_id"),
            ],
        );
        let id = x["id"].as_str().unwrap();
        let st = match x["status"].as_str().unwrap() {
            "ACTIVE" => 1,
            "PENDING" => 2,
            "ERROR" => 3,
            "DELETED" => 4,
            _ => -1,
        };
        // Follow every page (one zone of this cloud has more than 1000 recordsets).
        let mut n = 0;
        let mut path = format!("/dns/v2/zones/{id}/recordsets?limit=1000");
        loop {
            let rs = raw.get(&path, &[("x-auth-all-projects", "True")]).await;
            n += rs["recordsets"].as_array().unwrap().len();
            match rs["links"].get("next").and_then(Value::as_str) {
                Some(next) => path = next[next.find("/dns/").unwrap()..].to_owned(),
                None => break,
            }
        }
        let p = x["project_id"].clone();
        add(exp(
            "dns.zone.status",
            "status",
            json!(st),
            Value::Null,
            p.clone(),
            id,
            md.clone(),
        ));
        add(exp(
            "dns.zone.ttl",
            "second",
            x["ttl"].clone(),
            Value::Null,
            p.clone(),
            id,
            md.clone(),
        ));
        add(exp(
            "dns.zone.serial",
            "serial",
            x["serial"].clone(),
            Value::Null,
            p.clone(),
            id,
            md.clone(),
        ));
        add(exp(
            "dns.zone.recordsets",
            "recordset",
            json!(n),
            Value::Null,
            p,
            id,
            md,
        ));
    }
    // Aodh
    let v = raw.get("/alarming/v2/metrics?all_projects=true", &[]).await;
    for x in list(&v, "evaluation_results") {
        for (state, n) in x["state_counters"].as_object().unwrap() {
            add(exp(
                "alarm.evaluation_result",
                "evaluation_result_count",
                n.clone(),
                Value::Null,
                x["project_id"].clone(),
                x["alarm_id"].as_str().unwrap(),
                json!({"alarm_state": state}),
            ));
        }
    }
    // Swift and RadosGW, from the model (the tenant discovery lists every project).
    let projects = sim.model().projects.snap();
    assert!(projects.len() > 2);
    for p in projects.values() {
        let t = simcloud::util::hex32(p.id);
        let tj = json!(t);
        let objs: u64 = p.containers.iter().map(|c| c.count as u64).sum();
        let bytes: u64 = p.containers.iter().map(|c| c.bytes).sum();
        add(exp(
            "storage.objects",
            "object",
            json!(objs),
            Value::Null,
            tj.clone(),
            &t,
            json!({}),
        ));
        add(exp(
            "storage.objects.size",
            "B",
            json!(bytes),
            Value::Null,
            tj.clone(),
            &t,
            json!({}),
        ));
        add(exp(
            "storage.objects.containers",
            "container",
            json!(p.containers.len()),
            Value::Null,
            tj.clone(),
            &t,
            json!({}),
        ));
        for (i, c) in p.containers.iter().enumerate() {
            let rid = format!("{t}/{}", simcloud::render::container_name(i));
            add(exp(
                "storage.containers.objects",
                "object",
                json!(c.count),
                Value::Null,
                tj.clone(),
                &rid,
                json!({"storage_policy": null}),
            ));
            add(exp(
                "storage.containers.objects.size",
                "B",
                json!(c.bytes),
                Value::Null,
                tj.clone(),
                &rid,
                json!({"storage_policy": null}),
            ));
        }
        let mut n = 0u64;
        let mut kb = 0u64;
        let mut ops = 0u64;
        for (i, b) in p.buckets.iter().enumerate() {
            ops += b.ops as u64;
            if b.num_objects == 0 {
                continue; // empty usage: no category row
            }
            n += b.num_objects as u64;
            kb += b.size_kb;
            let rid = format!("{t}/bucket-{i:04}");
            add(exp(
                "radosgw.containers.objects",
                "object",
                json!(b.num_objects),
                Value::Null,
                tj.clone(),
                &rid,
                json!({}),
            ));
            add(exp(
                "radosgw.containers.objects.size",
                "B",
                json!(b.size_kb * 1024),
                Value::Null,
                tj.clone(),
                &rid,
                json!({}),
            ));
        }
        add(exp(
            "radosgw.objects",
            "object",
            json!(n),
            Value::Null,
            tj.clone(),
            &t,
            json!({}),
        ));
        add(exp(
            "radosgw.objects.size",
            "B",
            json!(kb * 1024),
            Value::Null,
            tj.clone(),
            &t,
            json!({}),
        ));
        add(exp(
            "radosgw.objects.containers",
            "object",
            json!(p.buckets.len()),
            Value::Null,
            tj.clone(),
            &t,
            json!({}),
        ));
        add(exp(
            "radosgw.api.request",
            "request",
            json!(ops),
            Value::Null,
            tj.clone(),
            &t,
            json!({}),
        ));
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pollster_matches_the_spec() {
    let sim = sim(small()).await;
    let want = expected(&sim).await;
    let e = engine(&sim);
    let (batches, report) = cycle(&e, vec![source("all", &["*"])], 4, &all).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.skipped, 0);
    assert_eq!(report.pollsters_run, 35, "{report:?}");
    let mut got: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for b in &batches {
        assert!(!b.samples.is_empty() && b.samples.len() <= 4);
        assert_eq!(b.source, "all");
        for s in &b.samples {
            assert_eq!(s.timestamp.unix_micros(), 1_767_225_600_000_000);
            assert!(!s.id.is_empty());
            let expected_name = if b.pollster == "radosgw.usage" {
                "radosgw.api.request"
            } else {
                b.pollster
            };
            assert_eq!(s.name, expected_name);
            got.entry(s.name.to_string()).or_default().push(row(s));
        }
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (meter, w) in want {
        let g = got.remove(&meter).unwrap_or_default();
        assert_eq!(sorted(g), sorted(w), "meter {meter}");
    }
    let total: usize = batches.iter().map(|b| b.samples.len()).sum();
    assert_eq!(report.samples, total);
    // Metadata key order is upstream's (checked on one meter; the JSON compare above is
    // order-insensitive for objects).
    let vol = batches
        .iter()
        .find(|b| b.pollster == "volume.size")
        .unwrap();
    let keys: Vec<&str> = vol.samples[0].resource_metadata.keys().collect();
    assert_eq!(
        keys,
        [
            "name",
            "status",
            "volume_type",
            "volume_type_id",
            "availability_zone",
            "migration_status",
            "attachments",
            "snapshot_id",
            "image_id",
            "instance_id",
            "os-vol-host-attr:host",
            "source_volid"
        ]
    );
    sim.shutdown().await;
}
