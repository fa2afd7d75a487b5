//! JSON of each resource, written from the API references (never from client types).
//!
//! Attributes that never change are derived from the id (`util::h`), so the model stays small.

use serde_json::{json, Value};

use crate::model::{Kind, Pool, Project, Res, VolService};
use crate::util::{created, derive_id, h, hex32, updated, uuid, TsStyle};

/// Status strings per kind; `Res::status` indexes this table (index 0 = healthy).
pub fn status_table(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Image => &["active", "queued", "saving", "deactivated", "importing"],
        Kind::Volume => &[
            "available",
            "in-use",
            "creating",
            "error",
            "deleting",
            "extending",
            "maintenance",
        ],
        Kind::Snapshot => &["available", "creating", "error", "deleting"],
        Kind::Backup => &["available", "creating", "error", "restoring", "deleting"],
        Kind::FloatingIp => &["ACTIVE", "DOWN", "ERROR"],
        Kind::VpnService | Kind::IpsecConnection => &["ACTIVE", "DOWN", "PENDING_CREATE", "ERROR"],
        Kind::FirewallGroup => &["ACTIVE", "INACTIVE", "DOWN", "PENDING_CREATE", "ERROR"],
        Kind::FirewallPolicy | Kind::Alarm => &[""],
        Kind::LoadBalancer => &[
            "ACTIVE",
            "PENDING_CREATE",
            "PENDING_UPDATE",
            "ERROR",
            "PENDING_DELETE",
        ],
        Kind::Share => &[
            "available",
            "creating",
            "error",
            "deleting",
            "extending",
            "shrinking",
            "migrating",
        ],
        Kind::Zone => &["ACTIVE", "PENDING", "ERROR"],
    }
}

/// Octavia operating statuses (`Res::status2`).
const LB_OPERATING: [&str; 6] = [
    "ONLINE",
    "OFFLINE",
    "DEGRADED",
    "ERROR",
    "NO_MONITOR",
    "DRAINING",
];

fn status(kind: Kind, r: &Res) -> &'static str {
    let t = status_table(kind);
    t[r.status as usize % t.len()]
}

fn pick<'a>(r: u128, salt: u64, xs: &[&'a str]) -> &'a str {
    xs[(h(r, salt) % xs.len() as u64) as usize]
}

fn ipv4(r: u128, salt: u64, prefix: &str) -> String {
    let x = h(r, salt);
    format!("{prefix}.{}.{}", (x >> 8) % 256, x % 254 + 1)
}

/// A user id of a project (each project has one "owner" user in the simulation).
pub fn project_user(project: u128) -> u128 {
    derive_id(project, 0x05E5)
}

/// A Cinder microversion, e.g. (3, 64).
pub type Mv = (u32, u32);

/// Context for rendering: the service base URL (with the interface's path) and microversion.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// e.g. `http://127.0.0.1:1234/volume`.
    pub base: String,
    /// Requested microversion (Cinder, Manila); (0, 0) when not applicable.
    pub mv: Mv,
}

/// Glance v2 image.
pub fn image(c: &Ctx, r: &Res) -> Value {
    let _ = c;
    let id = uuid(r.id);
    let size = r.size as u64 * 1024 + h(r.id, 1) % 1024;
    json!({
        "status": status(Kind::Image, r),
        "name": format!("image-{}", &id[..8]),
        "tags": [],
        "container_format": pick(r.id, 2, &["bare", "ovf", "bare", "docker"]),
        "created_at": created(r.id, TsStyle::Z),
        "disk_format": pick(r.id, 3, &["qcow2", "raw", "qcow2", "vmdk", "iso"]),
        "updated_at": updated(r.id, TsStyle::Z),
        "visibility": pick(r.id, 4, &["public", "private", "private", "shared", "community"]),
        "self": format!("/v2/images/{id}"),
        "min_disk": h(r.id, 5) % 20,
        "protected": h(r.id, 6).is_multiple_of(10),
        "id": id,
        "file": format!("/v2/images/{id}/file"),
        "checksum": format!("{:016x}{:016x}", h(r.id, 7), h(r.id, 8)),
        "os_hash_algo": "sha512",
        "os_hash_value": format!("{:032x}{:032x}{:032x}{:032x}", derive_id(r.id, 9), derive_id(r.id, 10), derive_id(r.id, 11), derive_id(r.id, 12)),
        "os_hidden": false,
        "owner": hex32(r.project),
        "size": size,
        "min_ram": (h(r.id, 13) % 4) * 512,
        "schema": "/v2/schemas/image",
        "virtual_size": size * 2,
    })
}

fn ge(mv: Mv, a: u32, b: u32) -> bool {
    mv >= (a, b)
}

fn link_self(href: String) -> Value {
    json!([{"href": href, "rel": "self"}])
}

/// Cinder v3 volume, keys per microversion as the reference samples show.
pub fn volume(c: &Ctx, r: &Res) -> Value {
    let id = uuid(r.id);
    let st = status(Kind::Volume, r);
    let bootable = h(r.id, 20).is_multiple_of(3);
    let attachments = if st == "in-use" {
        let server = uuid(derive_id(r.id, 21));
        json!([{
            "server_id": server,
            "attachment_id": uuid(derive_id(r.id, 22)),
            "attached_at": updated(r.id, TsStyle::Micros),
            "host_name": format!("compute-{}", h(r.id, 23) % 64),
            "volume_id": id,
            "device": "/dev/vdb",
            "id": id,
        }])
    } else {
        json!([])
    };
    let mut v = json!({
        "attachments": attachments,
        "availability_zone": "nova",
        "bootable": if bootable { "true" } else { "false" },
        "consistencygroup_id": null,
        "created_at": created(r.id, TsStyle::Micros),
        "description": null,
        "encrypted": h(r.id, 24).is_multiple_of(5),
        "id": id,
        "links": link_self(format!("{}/v3/{}/volumes/{}", c.base, hex32(r.project), id)),
        "metadata": {},
        "migration_status": null,
        "multiattach": false,
        "name": format!("volume-{}", &id[..8]),
        "os-vol-host-attr:host": format!("cinder-volume-{}@lvm#pool{}", h(r.id, 25) % 4, h(r.id, 26) % 2),
        "os-vol-mig-status-attr:migstat": null,
        "os-vol-mig-status-attr:name_id": null,
        "os-vol-tenant-attr:tenant_id": hex32(r.project),
        "replication_status": null,
        "size": r.size,
        "snapshot_id": null,
        "source_volid": null,
        "status": st,
        "updated_at": updated(r.id, TsStyle::Micros),
        "user_id": hex32(project_user(r.project)),
        "volume_type": pick(r.id, 27, &["__DEFAULT__", "lvmdriver-1", "ceph"]),
    });
    let m = c.mv;
    if let Some(o) = v.as_object_mut() {
        if bootable {
            o.insert(
                "volume_image_metadata".into(),
                json!({"image_id": uuid(derive_id(r.id, 28)), "image_name": "cirros", "checksum": format!("{:016x}", h(r.id, 29)), "min_disk": "0", "min_ram": "0", "size": "16338944", "disk_format": "qcow2", "container_format": "bare"}),
            );
        }
        if ge(m, 3, 13) {
            o.insert("group_id".into(), Value::Null);
        }
        if ge(m, 3, 21) {
            o.insert("provider_id".into(), Value::Null);
        }
        if ge(m, 3, 48) {
            o.insert("service_uuid".into(), uuid(derive_id(r.id, 30)).into());
            o.insert(
                "shared_targets".into(),
                if ge(m, 3, 69) {
                    Value::Null
                } else {
                    true.into()
                },
            );
        }
        if ge(m, 3, 61) {
            o.insert("cluster_name".into(), Value::Null);
        }
        if ge(m, 3, 63) {
            o.insert("volume_type_id".into(), uuid(derive_id(r.id, 31)).into());
        }
        if ge(m, 3, 65) {
            o.insert("consumes_quota".into(), true.into());
        }
    }
    v
}

/// Cinder v3 snapshot.
pub fn snapshot(c: &Ctx, r: &Res) -> Value {
    let id = uuid(r.id);
    let mut v = json!({
        "created_at": created(r.id, TsStyle::Micros),
        "description": "Daily backup",
        "id": id,
        "metadata": {"key": "v3"},
        "name": format!("snap-{}", &id[..8]),
        "os-extended-snapshot-attributes:progress": if r.status == 0 { "100%" } else { "0%" },
        "os-extended-snapshot-attributes:project_id": hex32(r.project),
        "size": r.size,
        "status": status(Kind::Snapshot, r),
        "updated_at": updated(r.id, TsStyle::Micros),
        "volume_id": uuid(r.parent),
    });
    if let Some(o) = v.as_object_mut() {
        if ge(c.mv, 3, 14) {
            o.insert("group_snapshot_id".into(), Value::Null);
        }
        if ge(c.mv, 3, 41) {
            o.insert("user_id".into(), hex32(project_user(r.project)).into());
        }
        if ge(c.mv, 3, 65) {
            o.insert("consumes_quota".into(), true.into());
        }
    }
    v
}

/// Cinder v3 backup.
pub fn backup(c: &Ctx, r: &Res) -> Value {
    let id = uuid(r.id);
    let mut v = json!({
        "availability_zone": "nova",
        "container": format!("volumebackups-{}", h(r.id, 40) % 8),
        "created_at": created(r.id, TsStyle::Micros),
        "data_timestamp": created(r.id, TsStyle::Micros),
        "description": "Test backup",
        "fail_reason": null,
        "has_dependent_backups": false,
        "id": id,
        "is_incremental": h(r.id, 41).is_multiple_of(2),
        "links": link_self(format!("{}/v3/{}/backups/{}", c.base, hex32(r.project), id)),
        "name": format!("backup-{}", &id[..8]),
        "object_count": r.size * 4,
        "size": r.size,
        "snapshot_id": null,
        "status": status(Kind::Backup, r),
        "updated_at": updated(r.id, TsStyle::Micros),
        "volume_id": uuid(r.parent),
    });
    if let Some(o) = v.as_object_mut() {
        if ge(c.mv, 3, 18) {
            o.insert(
                "os-backup-project-attr:project_id".into(),
                hex32(r.project).into(),
            );
        }
        if ge(c.mv, 3, 43) {
            o.insert("metadata".into(), json!({}));
        }
        if ge(c.mv, 3, 56) {
            o.insert("user_id".into(), hex32(project_user(r.project)).into());
        }
    }
    v
}

/// Cinder scheduler pool, with the capabilities the LVM driver reports.
pub fn pool(p: &Pool, detail: bool) -> Value {
    let name = format!("cinder-volume-{}@lvm#pool{}", p.n / 2, p.n % 2);
    if !detail {
        return json!({ "name": name });
    }
    json!({
        "name": name,
        "capabilities": {
            "updated": "2024-10-28T00:00:00-00:00",
            "total_capacity_gb": p.total_gb,
            "free_capacity_gb": p.free_gb,
            "allocated_capacity_gb": p.allocated_gb,
            "provisioned_capacity_gb": p.provisioned_gb,
            "max_over_subscription_ratio": "20.0",
            "thin_provisioning_support": p.n.is_multiple_of(2),
            "volume_backend_name": format!("lvm{}", p.n % 2),
            "reserved_percentage": 0,
            "driver_version": "3.0.0",
            "storage_protocol": "iSCSI",
            "QoS_support": false,
        }
    })
}

/// Cinder service entry of `os-services`.
pub fn volume_service(s: &VolService, mv: Mv) -> Value {
    let binary = ["cinder-scheduler", "cinder-volume", "cinder-backup"][s.binary as usize % 3];
    let host = if s.binary == 1 {
        format!("cinder-volume-{}@lvm", s.n)
    } else {
        format!("controller-{}", s.n)
    };
    let mut v = json!({
        "binary": binary,
        "disabled_reason": if s.enabled { Value::Null } else { "maintenance".into() },
        "host": host,
        "state": if s.up { "up" } else { "down" },
        "status": if s.enabled { "enabled" } else { "disabled" },
        "updated_at": "2024-06-29T05:50:35.000000",
        "zone": "nova",
    });
    if let Some(o) = v.as_object_mut() {
        if ge(mv, 3, 7) {
            o.insert("cluster".into(), Value::Null);
        }
        if ge(mv, 3, 49) && s.binary == 1 {
            o.insert("active_backend_id".into(), Value::Null);
            o.insert(
                "backend_state".into(),
                if s.up { "up" } else { "down" }.into(),
            );
            o.insert("frozen".into(), false.into());
            o.insert("replication_status".into(), Value::Null);
        }
    }
    v
}

/// Neutron floating IP.
pub fn floating_ip(_c: &Ctx, r: &Res) -> Value {
    let st = status(Kind::FloatingIp, r);
    let bound = st == "ACTIVE";
    let port = uuid(derive_id(r.id, 50));
    json!({
        "router_id": if bound { Value::from(uuid(derive_id(r.project, 51))) } else { Value::Null },
        "description": "",
        "dns_domain": "",
        "dns_name": "",
        "created_at": created(r.id, TsStyle::Z),
        "updated_at": updated(r.id, TsStyle::Z),
        "revision_number": r.size,
        "project_id": hex32(r.project),
        "tenant_id": hex32(r.project),
        "floating_network_id": uuid(derive_id(0, 52)),
        "fixed_ip_address": if bound { Value::from(ipv4(r.id, 53, "10.0")) } else { Value::Null },
        "floating_ip_address": ipv4(r.id, 54, "172.24"),
        "port_id": if bound { Value::from(port.clone()) } else { Value::Null },
        "id": uuid(r.id),
        "status": st,
        "port_details": if bound { json!({
            "status": "ACTIVE",
            "name": "",
            "admin_state_up": true,
            "network_id": uuid(derive_id(r.project, 55)),
            "device_owner": "compute:nova",
            "mac_address": format!("fa:16:3e:{:02x}:{:02x}:{:02x}", h(r.id, 56) % 256, h(r.id, 57) % 256, h(r.id, 58) % 256),
            "device_id": uuid(derive_id(r.id, 59)),
        }) } else { Value::Null },
        "tags": [],
        "port_forwardings": [],
        "qos_network_policy_id": null,
        "qos_policy_id": null,
    })
}

/// Neutron VPNaaS service.
pub fn vpn_service(_c: &Ctx, r: &Res) -> Value {
    json!({
        "router_id": uuid(derive_id(r.project, 51)),
        "status": status(Kind::VpnService, r),
        "name": format!("vpn-{}", &uuid(r.id)[..8]),
        "external_v6_ip": "2001:db8::1",
        "admin_state_up": true,
        "subnet_id": null,
        "project_id": hex32(r.project),
        "tenant_id": hex32(r.project),
        "external_v4_ip": ipv4(r.id, 60, "172.32"),
        "id": uuid(r.id),
        "description": "",
        "flavor_id": null,
    })
}

/// Neutron VPNaaS IPsec site connection.
pub fn ipsec_connection(_c: &Ctx, r: &Res) -> Value {
    json!({
        "status": status(Kind::IpsecConnection, r),
        "psk": "secret",
        "initiator": "bi-directional",
        "name": format!("vpnconnection-{}", &uuid(r.id)[..8]),
        "admin_state_up": true,
        "project_id": hex32(r.project),
        "tenant_id": hex32(r.project),
        "auth_mode": "psk",
        "peer_cidrs": [],
        "mtu": 1500,
        "peer_ep_group_id": uuid(derive_id(r.id, 61)),
        "ikepolicy_id": uuid(derive_id(r.project, 62)),
        "vpnservice_id": uuid(r.parent),
        "dpd": {"action": "hold", "interval": 30, "timeout": 120},
        "route_mode": "static",
        "ipsecpolicy_id": uuid(derive_id(r.project, 63)),
        "local_ep_group_id": uuid(derive_id(r.id, 64)),
        "peer_address": ipv4(r.id, 65, "172.24"),
        "peer_id": ipv4(r.id, 65, "172.24"),
        "id": uuid(r.id),
        "description": "",
    })
}

/// Neutron FWaaS v2 firewall group.
pub fn firewall_group(_c: &Ctx, r: &Res) -> Value {
    json!({
        "admin_state_up": true,
        "description": "",
        "egress_firewall_policy_id": uuid(r.parent),
        "id": uuid(r.id),
        "ingress_firewall_policy_id": uuid(r.parent),
        "name": format!("fwg-{}", &uuid(r.id)[..8]),
        "ports": [uuid(derive_id(r.id, 70))],
        "shared": false,
        "project_id": hex32(r.project),
        "status": status(Kind::FirewallGroup, r),
        "tenant_id": hex32(r.project),
    })
}

/// Neutron FWaaS v2 firewall policy.
pub fn firewall_policy(_c: &Ctx, r: &Res) -> Value {
    json!({
        "audited": h(r.id, 71).is_multiple_of(2),
        "description": "",
        "firewall_rules": [uuid(derive_id(r.id, 72))],
        "id": uuid(r.id),
        "name": format!("policy-{}", &uuid(r.id)[..8]),
        "project_id": hex32(r.project),
        "shared": false,
        "tenant_id": hex32(r.project),
    })
}

/// Octavia load balancer (`with_children` adds listeners and pools, as the list shows).
pub fn load_balancer(_c: &Ctx, r: &Res, with_children: bool) -> Value {
    let mut v = json!({
        "description": "",
        "admin_state_up": true,
        "project_id": hex32(r.project),
        "provisioning_status": status(Kind::LoadBalancer, r),
        "flavor_id": "",
        "vip_subnet_id": uuid(derive_id(r.project, 80)),
        "vip_address": ipv4(r.id, 81, "203.0"),
        "vip_network_id": uuid(derive_id(r.project, 55)),
        "vip_port_id": uuid(derive_id(r.id, 82)),
        "additional_vips": [],
        "provider": "amphora",
        "created_at": created(r.id, TsStyle::Plain),
        "updated_at": updated(r.id, TsStyle::Plain),
        "id": uuid(r.id),
        "operating_status": LB_OPERATING[r.status2 as usize % LB_OPERATING.len()],
        "name": format!("lb-{}", &uuid(r.id)[..8]),
        "vip_qos_policy_id": null,
        "availability_zone": null,
        "tags": [],
        "vip_vnic_type": "normal",
    });
    if with_children {
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "listeners".into(),
                json!([{"id": uuid(derive_id(r.id, 83))}]),
            );
            o.insert("pools".into(), json!([{"id": uuid(derive_id(r.id, 84))}]));
        }
    }
    v
}

/// Manila share (`source_backup_id` from microversion 2.80).
pub fn share(c: &Ctx, r: &Res) -> Value {
    let id = uuid(r.id);
    let mut v = json!({
        "links": link_self(format!("{}/v2/{}/shares/{}", c.base, hex32(r.project), id)),
        "availability_zone": "nova",
        "share_network_id": uuid(derive_id(r.project, 90)),
        "export_locations": [],
        "share_server_id": uuid(derive_id(r.project, 91)),
        "share_group_id": null,
        "snapshot_id": null,
        "id": id,
        "size": r.size,
        "share_type": uuid(derive_id(0, 92)),
        "share_type_name": "default",
        "export_location": null,
        "project_id": hex32(r.project),
        "metadata": {},
        "status": status(Kind::Share, r),
        "progress": if r.status == 0 { Value::from("100%") } else { Value::Null },
        "access_rules_status": "active",
        "description": "",
        "host": format!("manila{}@generic1#GENERIC1", h(r.id, 93) % 4),
        "task_state": null,
        "is_public": h(r.id, 94).is_multiple_of(4),
        "snapshot_support": true,
        "user_id": hex32(project_user(r.project)),
        "name": format!("share-{}", &id[..8]),
        "has_replicas": false,
        "replication_type": null,
        "created_at": created(r.id, TsStyle::Micros),
        "share_proto": pick(r.id, 95, &["NFS", "CIFS", "CEPHFS"]),
        "volume_type": "default",
    });
    if ge(c.mv, 2, 80) {
        if let Some(o) = v.as_object_mut() {
            o.insert("source_backup_id".into(), Value::Null);
        }
    }
    v
}

/// Designate zone name.
pub fn zone_name(r: &Res) -> String {
    format!("zone-{}.example.org.", &uuid(r.id)[..8])
}

/// Designate v2 zone.
pub fn zone(c: &Ctx, r: &Res) -> Value {
    let id = uuid(r.id);
    json!({
        "id": id,
        "pool_id": uuid(derive_id(0, 100)),
        "project_id": hex32(r.project),
        "name": zone_name(r),
        "email": "hostmaster@example.org",
        "ttl": 3600 * (1 + h(r.id, 101) % 4),
        "serial": 1_700_000_000u64 + (h(r.id, 102) % 1_000_000),
        "status": status(Kind::Zone, r),
        "action": if r.status == 1 { "UPDATE" } else { "NONE" },
        "description": null,
        "masters": [],
        "type": "PRIMARY",
        "transferred_at": null,
        "version": 1 + r.status2 as u64,
        "created_at": created(r.id, TsStyle::Micros),
        "updated_at": null,
        "attributes": {"tier": "gold", "ha": "true"},
        "links": {"self": format!("{}/v2/zones/{}", c.base, id)},
    })
}

/// Id of recordset `i` of a zone: zone-derived high bits, index in the low 32 bits, so
/// that id order is index order (markers map back to an index).
pub fn recordset_id(zone: u128, i: u32) -> u128 {
    (derive_id(zone, 110) & !0xFFFF_FFFFu128) | i as u128
}

/// Designate v2 recordset `i` of zone `z` (0 = SOA, 1 = NS, then A records).
pub fn recordset(c: &Ctx, z: &Res, i: u32) -> Value {
    let zid = uuid(z.id);
    let rid = uuid(recordset_id(z.id, i));
    let zname = zone_name(z);
    let (ty, name, records) = match i {
        0 => (
            "SOA",
            zname.clone(),
            json!([format!(
                "ns1.example.org. hostmaster.example.org. {} 3600 600 86400 3600",
                1_700_000_000u64 + h(z.id, 102) % 1_000_000
            )]),
        ),
        1 => ("NS", zname.clone(), json!(["ns1.example.org."])),
        n => (
            "A",
            format!("host{n}.{zname}"),
            json!([ipv4(recordset_id(z.id, n), 111, "10.1")]),
        ),
    };
    json!({
        "description": null,
        "links": {"self": format!("{}/v2/zones/{}/recordsets/{}", c.base, zid, rid)},
        "updated_at": null,
        "records": records,
        "ttl": 3600,
        "id": rid,
        "name": name,
        "project_id": hex32(z.project),
        "zone_id": zid,
        "zone_name": zname,
        "created_at": created(z.id, TsStyle::Micros),
        "version": 1,
        "type": ty,
        "status": "ACTIVE",
        "action": "NONE",
    })
}

/// Aodh `/v2/metrics` evaluation result of one alarm.
pub fn alarm_metrics(r: &Res) -> Value {
    let base = r.size as u64;
    json!({
        "alarm_id": uuid(r.id),
        "project_id": hex32(r.project),
        "state_counters": {
            "insufficient data": h(r.id, 120) % 10,
            "ok": base + h(r.id, 121) % 100,
            "alarm": (base / 7) + r.status2 as u64,
        }
    })
}

/// Keystone domain name.
pub fn domain_name(id: u128, n: u32) -> String {
    if id == crate::model::DEFAULT_DOMAIN {
        "Default".into()
    } else {
        format!("domain-{n}")
    }
}

/// Keystone domain id as printed (`default` for the default domain).
pub fn domain_id(id: u128) -> String {
    if id == crate::model::DEFAULT_DOMAIN {
        "default".into()
    } else {
        hex32(id)
    }
}

/// Keystone v3 domain.
pub fn domain(base: &str, id: u128, n: u32, enabled: bool) -> Value {
    let did = domain_id(id);
    json!({
        "description": if n == 0 { "The default domain" } else { "Generated by simcloud" },
        "enabled": enabled,
        "id": did,
        "links": {"self": format!("{base}/v3/domains/{did}")},
        "name": domain_name(id, n),
    })
}

/// Keystone v3 project.
pub fn project(base: &str, p: &Project) -> Value {
    let pid = hex32(p.id);
    json!({
        "is_domain": false,
        "description": "",
        "domain_id": domain_id(p.domain),
        "enabled": p.enabled,
        "id": pid,
        "links": {"self": format!("{base}/v3/projects/{pid}")},
        "name": p.name(),
        "parent_id": domain_id(p.domain),
        "tags": [],
    })
}

/// Swift container name.
pub fn container_name(i: usize) -> String {
    format!("container-{i:06}")
}

/// Swift account listing entry.
pub fn container(project: u128, i: usize, count: u32, bytes: u64) -> Value {
    json!({
        "count": count,
        "bytes": bytes,
        "name": container_name(i),
        "last_modified": created(derive_id(project, i as u64), TsStyle::Micros),
    })
}
