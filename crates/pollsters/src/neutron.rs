//! Neutron v2.0: floating IPs, VPNaaS and FWaaS v2 discoveries and pollsters.
//!
//! The VPN pre-shared key (`psk`) is dropped at discovery: upstream publishes it in the
//! `network.services.vpn.connections` metadata (spec §8 #12); we never keep or publish it.

use sample::{Sample, Volume};

use crate::discovery::{KeyField, Kind, ListSpec, Next, Resource};
use crate::meter::{metadata, opt_string, status_code, SampleCtx};

/// Neutron status codes (`network/services/base.py`).
const STATUS: &[(&str, i64)] = &[
    ("inactive", 0),
    ("active", 1),
    ("pending_create", 2),
    ("down", 3),
    ("created", 4),
    ("pending_update", 5),
    ("pending_delete", 6),
    ("error", 7),
];

macro_rules! neutron_list {
    ($ident:ident, $name:literal, $path:literal, $list:literal, $links:literal, $kind:expr, $keep:expr) => {
        #[doc = concat!("`GET ", $path, "`.")]
        pub(crate) static $ident: ListSpec = ListSpec {
            name: $name,
            service_type: |t| t.neutron.as_str(),
            strip: "/v2.0",
            path: $path,
            headers: &[],
            list: $list,
            next: Next::Links($links),
            kind: $kind,
            key: KeyField::Field("id"),
            keep: $keep,
        };
    };
}

neutron_list!(
    FIPS,
    "fip_services",
    "/v2.0/floatingips",
    "floatingips",
    "floatingips_links",
    Kind::FloatingIp,
    &[
        "id",
        "tenant_id",
        "project_id",
        "user_id",
        "router_id",
        "status",
        "floating_network_id",
        "fixed_ip_address",
        "port_id",
        "floating_ip_address",
    ]
);
neutron_list!(
    VPNS,
    "vpn_services",
    "/v2.0/vpn/vpnservices",
    "vpnservices",
    "vpnservices_links",
    Kind::VpnService,
    &[
        "id",
        "project_id",
        "tenant_id",
        "admin_state_up",
        "description",
        "name",
        "status",
        "subnet_id",
        "router_id",
        "flavor_id",
        "external_v4_ip",
        "external_v6_ip",
    ]
);
neutron_list!(
    IPSEC,
    "ipsec_connections",
    "/v2.0/vpn/ipsec-site-connections",
    "ipsec_site_connections",
    "ipsec_site_connections_links",
    Kind::IpsecConnection,
    // No `psk`: the pre-shared key never leaves discovery.
    &[
        "id",
        "project_id",
        "tenant_id",
        "name",
        "description",
        "peer_address",
        "peer_id",
        "peer_cidrs",
        "peer_ep_group_id",
        "initiator",
        "ikepolicy_id",
        "ipsecpolicy_id",
        "vpnservice_id",
        "mtu",
        "admin_state_up",
        "status",
    ]
);
neutron_list!(
    FIREWALLS,
    "fw_services",
    "/v2.0/fwaas/firewall_groups",
    "firewall_groups",
    "firewall_groups_links",
    Kind::Firewall,
    &[
        "id",
        "project_id",
        "tenant_id",
        "admin_state_up",
        "description",
        "name",
        "status",
        "ingress_firewall_policy_id",
        "egress_firewall_policy_id",
    ]
);
neutron_list!(
    FW_POLICIES,
    "fw_policy",
    "/v2.0/fwaas/firewall_policies",
    "firewall_policies",
    "firewall_policies_links",
    Kind::FirewallPolicy,
    &[
        "id",
        "project_id",
        "tenant_id",
        "name",
        "description",
        "firewall_rules",
        "shared",
        "audited",
    ]
);

fn project(r: &Resource) -> Result<Option<String>, String> {
    match opt_string(r.get("project_id"), "project_id")? {
        Some(p) => Ok(Some(p)),
        None => opt_string(r.get("tenant_id"), "tenant_id"),
    }
}

/// `ip.floating` (ip): status code. Project = `tenant_id` (upstream), else `project_id`.
pub(crate) fn floating_ip(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let project = match opt_string(r.get("tenant_id"), "tenant_id")? {
        Some(p) => Some(p),
        None => opt_string(r.get("project_id"), "project_id")?,
    };
    let md = metadata(
        r,
        &[
            ("router_id", "router_id"),
            ("status", "status"),
            ("floating_network_id", "floating_network_id"),
            ("fixed_ip_address", "fixed_ip_address"),
            ("port_id", "port_id"),
            ("floating_ip_address", "floating_ip_address"),
        ],
    );
    let v = status_code(STATUS, r.str("status"), "ip.floating", r.key());
    Ok(vec![c.gauge(
        "ip.floating",
        "ip",
        Volume::Int(v),
        opt_string(r.get("user_id"), "user_id")?,
        project,
        r.key().to_owned(),
        md,
    )])
}

/// `network.services.vpn` (vpnservice): status code.
pub(crate) fn vpn(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let md = metadata(
        r,
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
    let v = status_code(STATUS, r.str("status"), "network.services.vpn", r.key());
    Ok(vec![c.gauge(
        "network.services.vpn",
        "vpnservice",
        Volume::Int(v),
        None,
        project(r)?,
        r.key().to_owned(),
        md,
    )])
}

/// `network.services.vpn.connections` (ipsec_site_connection): 1. No `psk` in metadata.
pub(crate) fn vpn_connection(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let project = project(r)?;
    let mut md = metadata(
        r,
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
        ],
    );
    md.insert(
        "project_id".into(),
        project.clone().map_or(serde_json::Value::Null, Into::into),
    );
    Ok(vec![c.gauge(
        "network.services.vpn.connections",
        "ipsec_site_connection",
        Volume::Int(1),
        None,
        project,
        r.key().to_owned(),
        md,
    )])
}

/// `network.services.firewall` (firewall): status code.
pub(crate) fn firewall(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let md = metadata(
        r,
        &[
            ("admin_state_up", "admin_state_up"),
            ("description", "description"),
            ("name", "name"),
            ("status", "status"),
            ("ingress_firewall_policy_id", "ingress_firewall_policy_id"),
            ("egress_firewall_policy_id", "egress_firewall_policy_id"),
        ],
    );
    let v = status_code(
        STATUS,
        r.str("status"),
        "network.services.firewall",
        r.key(),
    );
    Ok(vec![c.gauge(
        "network.services.firewall",
        "firewall",
        Volume::Int(v),
        None,
        project(r)?,
        r.key().to_owned(),
        md,
    )])
}

/// `network.services.firewall.policy` (firewall_policy): 1.
pub(crate) fn firewall_policy(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let md = metadata(
        r,
        &[
            ("name", "name"),
            ("description", "description"),
            ("firewall_rules", "firewall_rules"),
            ("shared", "shared"),
            ("audited", "audited"),
        ],
    );
    Ok(vec![c.gauge(
        "network.services.firewall.policy",
        "firewall_policy",
        Volume::Int(1),
        None,
        project(r)?,
        r.key().to_owned(),
        md,
    )])
}
