//! Octavia v2: the `lb_services` discovery and `loadbalancer.operating` /
//! `loadbalancer.provisioning`.

use sample::{Sample, Volume};

use crate::discovery::{KeyField, Kind, ListSpec, Next, Resource};
use crate::meter::{metadata, opt_string, status_code, SampleCtx};

/// `GET <octavia>/v2/lbaas/loadbalancers`.
pub(crate) static LOADBALANCERS: ListSpec = ListSpec {
    name: "lb_services",
    service_type: |t| t.octavia.as_str(),
    strip: "/v2",
    path: "/v2/lbaas/loadbalancers",
    headers: &[],
    list: "loadbalancers",
    next: Next::Links("loadbalancers_links"),
    kind: Kind::LoadBalancer,
    key: KeyField::Field("id"),
    keep: &[
        "id",
        "project_id",
        "name",
        "availability_zone",
        "vip_address",
        "vip_port_id",
        "provisioning_status",
        "operating_status",
        "provider",
        "flavor_id",
    ],
};

const OPERATING: &[(&str, i64)] = &[
    ("online", 1),
    ("draining", 2),
    ("offline", 3),
    ("degraded", 4),
    ("error", 5),
    ("no_monitor", 6),
];

const PROVISIONING: &[(&str, i64)] = &[
    ("active", 1),
    ("deleted", 2),
    ("error", 3),
    ("pending_create", 4),
    ("pending_update", 5),
    ("pending_delete", 6),
];

/// `loadbalancer.operating` (`operating == true`) or `loadbalancer.provisioning` (status).
pub(crate) fn loadbalancer(
    c: &SampleCtx,
    r: &Resource,
    operating: bool,
) -> Result<Vec<Sample>, String> {
    let (name, map, field) = if operating {
        ("loadbalancer.operating", OPERATING, "operating_status")
    } else {
        (
            "loadbalancer.provisioning",
            PROVISIONING,
            "provisioning_status",
        )
    };
    let md = metadata(
        r,
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
    let v = status_code(map, r.str(field), name, r.key());
    Ok(vec![c.gauge(
        name,
        "status",
        Volume::Int(v),
        None,
        opt_string(r.get("project_id"), "project_id")?,
        r.key().to_owned(),
        md,
    )])
}
