//! Manila v2: the `manila_shares` discovery and `manila.share.size` / `manila.share.status`.

use sample::{Sample, Volume};

use crate::discovery::{KeyField, Kind, ListSpec, Next, Resource};
use crate::meter::{metadata, opt_string, status_code, volume_or_zero, SampleCtx};

/// `GET <manila>/shares/detail?all_tenants=True`.
pub(crate) static SHARES: ListSpec = ListSpec {
    name: "manila_shares",
    service_type: |t| t.manila.as_str(),
    strip: "",
    path: "/shares/detail?all_tenants=True",
    headers: &[],
    list: "shares",
    next: Next::Links("shares_links"),
    kind: Kind::Share,
    key: KeyField::Field("id"),
    keep: &[
        "id",
        "project_id",
        "user_id",
        "size",
        "name",
        "availability_zone",
        "share_proto",
        "share_type",
        "share_network_id",
        "status",
        "host",
        "is_public",
    ],
};

const STATUS: &[(&str, i64)] = &[
    ("available", 1),
    ("creating", 2),
    ("deleting", 3),
    ("error", 4),
    ("error_deleting", 5),
    ("migrating", 6),
    ("extending", 7),
    ("shrinking", 8),
    ("reverting", 9),
    ("inactive", 10),
    ("manage_starting", 11),
    ("manage_error", 12),
    ("unmanage_starting", 13),
    ("unmanage_error", 14),
    ("unmanaged", 15),
    ("extending_error", 16),
    ("shrinking_error", 17),
    ("reverting_error", 18),
    ("awaiting_transfer", 19),
    ("backup_creating", 20),
    ("backup_restoring", 21),
    ("backup_restoring_error", 22),
    ("creating_from_snapshot", 23),
    ("shrinking_possible_data_loss_error", 24),
    ("migrating_to", 25),
    ("replication_change", 26),
];

/// `manila.share.size` (GiB, size or 0) or `manila.share.status` (status code).
pub(crate) fn share(c: &SampleCtx, r: &Resource, status: bool) -> Result<Vec<Sample>, String> {
    let md = metadata(
        r,
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
    let (name, unit, vol) = if status {
        (
            "manila.share.status",
            "status",
            Volume::Int(status_code(
                STATUS,
                r.str("status"),
                "manila.share.status",
                r.key(),
            )),
        )
    } else {
        (
            "manila.share.size",
            "GiB",
            volume_or_zero(r.get("size"), "size")?,
        )
    };
    Ok(vec![c.gauge(
        name,
        unit,
        vol,
        opt_string(r.get("user_id"), "user_id")?,
        opt_string(r.get("project_id"), "project_id")?,
        r.key().to_owned(),
        md,
    )])
}
