//! Cinder v3: the `volumes`, `volume_snapshots`, `volume_backups`, `volume_pools` and
//! `volume_services` discoveries and their pollsters. Listings ask for microversion 3.64
//! as upstream's SDK does, with `all_tenants=True`.

use sample::{Sample, Volume};
use serde_json::Value;

use crate::discovery::{KeyField, Kind, ListSpec, Next, Resource};
use crate::meter::{metadata, metadata_moved, opt_string, volume, SampleCtx};

const MV: &[(&str, &str)] = &[("openstack-api-version", "volume 3.64")];

/// `GET <cinder>/volumes/detail?all_tenants=True`.
pub(crate) static VOLUMES: ListSpec = ListSpec {
    name: "volumes",
    service_type: |t| t.cinder.as_str(),
    strip: "",
    path: "/volumes/detail?all_tenants=True",
    headers: MV,
    list: "volumes",
    next: Next::Links("volumes_links"),
    kind: Kind::Volume,
    key: KeyField::Field("id"),
    keep: &[
        "id",
        "size",
        "user_id",
        "os-vol-tenant-attr:tenant_id",
        "name",
        "status",
        "volume_type",
        "volume_type_id",
        "availability_zone",
        "migration_status",
        "attachments",
        "snapshot_id",
        "volume_image_metadata",
        "os-vol-host-attr:host",
        "source_volid",
    ],
};

/// `GET <cinder>/snapshots/detail?all_tenants=True`.
pub(crate) static SNAPSHOTS: ListSpec = ListSpec {
    name: "volume_snapshots",
    service_type: |t| t.cinder.as_str(),
    strip: "",
    path: "/snapshots/detail?all_tenants=True",
    headers: MV,
    list: "snapshots",
    next: Next::Links("snapshots_links"),
    kind: Kind::Snapshot,
    key: KeyField::Field("id"),
    keep: &[
        "id",
        "size",
        "user_id",
        "os-extended-snapshot-attributes:project_id",
        "name",
        "volume_id",
        "status",
        "description",
        "metadata",
        "os-extended-snapshot-attributes:progress",
    ],
};

/// `GET <cinder>/backups/detail?all_tenants=True`.
pub(crate) static BACKUPS: ListSpec = ListSpec {
    name: "volume_backups",
    service_type: |t| t.cinder.as_str(),
    strip: "",
    path: "/backups/detail?all_tenants=True",
    headers: MV,
    list: "backups",
    next: Next::Links("backups_links"),
    kind: Kind::Backup,
    key: KeyField::Field("id"),
    keep: &[
        "id",
        "size",
        "user_id",
        "os-backup-project-attr:project_id",
        "name",
        "is_incremental",
        "object_count",
        "container",
        "volume_id",
        "status",
        "description",
    ],
};

/// `GET <cinder>/scheduler-stats/get_pools?detail=True`.
pub(crate) static POOLS: ListSpec = ListSpec {
    name: "volume_pools",
    service_type: |t| t.cinder.as_str(),
    strip: "",
    path: "/scheduler-stats/get_pools?detail=True",
    headers: MV,
    list: "pools",
    next: Next::None,
    kind: Kind::Pool,
    key: KeyField::Field("name"),
    keep: &["name", "capabilities"],
};

/// `GET <cinder>/os-services`.
pub(crate) static SERVICES: ListSpec = ListSpec {
    name: "volume_services",
    service_type: |t| t.cinder.as_str(),
    strip: "",
    path: "/os-services",
    headers: MV,
    list: "services",
    next: Next::None,
    kind: Kind::VolumeService,
    key: KeyField::BinaryAtHost,
    keep: &["binary", "host", "status", "state", "zone"],
};

/// `volume.size` (GiB).
pub(crate) fn volume_size(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    // What the sample needs besides the metadata first: `metadata_moved` empties `r`.
    let size = volume(r.get("size"), "size")?;
    let user_id = opt_string(r.get("user_id"), "user_id")?;
    let project_id = opt_string(r.get("os-vol-tenant-attr:tenant_id"), "project id")?;
    let image_id = match r.get("volume_image_metadata") {
        Some(Value::Object(m)) if !m.is_empty() => {
            m.get("image_id").cloned().unwrap_or(Value::Null)
        }
        _ => Value::Null,
    };
    let instance_id = match r.get("attachments") {
        Some(Value::Array(a)) if !a.is_empty() => {
            a[0].get("server_id").cloned().unwrap_or(Value::Null)
        }
        _ => Value::Null,
    };
    let mut md = metadata_moved(
        r,
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
    md.insert("image_id".into(), image_id);
    md.insert("instance_id".into(), instance_id);
    md.insert(
        "os-vol-host-attr:host".into(),
        r.take("os-vol-host-attr:host"),
    );
    md.insert("source_volid".into(), r.take("source_volid"));
    Ok(vec![c.gauge(
        "volume.size",
        "GiB",
        size,
        user_id,
        project_id,
        r.key().to_owned(),
        md,
    )])
}

/// `volume.snapshot.size` (GiB).
pub(crate) fn snapshot_size(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let md = metadata(
        r,
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
    Ok(vec![c.gauge(
        "volume.snapshot.size",
        "GiB",
        volume(r.get("size"), "size")?,
        opt_string(r.get("user_id"), "user_id")?,
        opt_string(
            r.get("os-extended-snapshot-attributes:project_id"),
            "project id",
        )?,
        r.key().to_owned(),
        md,
    )])
}

/// `volume.backup.size` (GiB).
pub(crate) fn backup_size(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let md = metadata(
        r,
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
    Ok(vec![c.gauge(
        "volume.backup.size",
        "GiB",
        volume(r.get("size"), "size")?,
        opt_string(r.get("user_id"), "user_id")?,
        opt_string(r.get("os-backup-project-attr:project_id"), "project id")?,
        r.key().to_owned(),
        md,
    )])
}

/// Which pool capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capacity {
    Total,
    Free,
    Provisioned,
    VirtualFree,
    Allocated,
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

fn num(v: Option<&Value>, what: &str) -> Result<f64, String> {
    match v {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("{what} is not a number")),
        // Python's float() of a numeric string (Cinder sends the ratio as a string).
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{what} is not a number: {s}")),
        _ => Err(format!("{what} is missing or not a number")),
    }
}

/// `volume.provider.pool.capacity.*` (GiB); conditions and formula as upstream.
pub(crate) fn pool_capacity(
    c: &SampleCtx,
    r: &Resource,
    which: Capacity,
) -> Result<Vec<Sample>, String> {
    let empty = serde_json::Map::new();
    let caps = r
        .get("capabilities")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let (name, vol) = match which {
        Capacity::Total => match caps.get("total_capacity_gb") {
            None | Some(Value::Null) => return Ok(vec![]),
            v => ("total", volume(v, "total_capacity_gb")?),
        },
        Capacity::Free => match caps.get("free_capacity_gb") {
            None | Some(Value::Null) => return Ok(vec![]),
            v => ("free", volume(v, "free_capacity_gb")?),
        },
        Capacity::Provisioned => {
            if !truthy(caps.get("provisioned_capacity_gb")) {
                return Ok(vec![]);
            }
            (
                "provisioned",
                volume(
                    caps.get("provisioned_capacity_gb"),
                    "provisioned_capacity_gb",
                )?,
            )
        }
        Capacity::VirtualFree => {
            if !truthy(caps.get("provisioned_capacity_gb")) {
                return Ok(vec![]);
            }
            let total = num(caps.get("total_capacity_gb"), "total_capacity_gb")?;
            let reserved_pct = match caps.get("reserved_percentage") {
                None | Some(Value::Null) => 0.0,
                v => num(v, "reserved_percentage")?,
            };
            let reserved = (reserved_pct / 100.0 * total).floor();
            let ratio = if truthy(caps.get("thin_provisioning_support")) {
                match caps.get("max_over_subscription_ratio") {
                    None => 1.0,
                    v => num(v, "max_over_subscription_ratio")?,
                }
            } else {
                1.0
            };
            let prov = num(
                caps.get("provisioned_capacity_gb"),
                "provisioned_capacity_gb",
            )?;
            (
                "virtual_free",
                Volume::Float(ratio * (total - reserved) - prov),
            )
        }
        Capacity::Allocated => match caps.get("allocated_capacity_gb") {
            None => return Err("allocated_capacity_gb is missing".into()),
            v => ("allocated", volume(v, "allocated_capacity_gb")?),
        },
    };
    let pool = r.key();
    let mut md = sample::Metadata::new();
    let pool_name = match caps.get("pool_name") {
        Some(v) if truthy(Some(v)) => v.clone(),
        _ => Value::Null,
    };
    md.insert("pool_name".into(), pool_name);
    md.insert(
        "provider".into(),
        pool.split('#').next().unwrap_or(pool).into(),
    );
    Ok(vec![c.gauge(
        format!("volume.provider.pool.capacity.{name}"),
        "GiB",
        vol,
        None,
        None,
        pool.to_owned(),
        md,
    )])
}

/// `volume.service.health` (up 1 / down 0). Another state is bad data for this service
/// only (upstream aborts the whole pollster).
pub(crate) fn service_health(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let state = r.str("state").unwrap_or_default().to_ascii_lowercase();
    let v = match state.as_str() {
        "up" => 1,
        "down" => 0,
        other => return Err(format!("unknown service state '{other}' for {}", r.key())),
    };
    let md = metadata(
        r,
        &[
            ("binary", "binary"),
            ("host", "host"),
            ("status", "status"),
            ("zone", "zone"),
        ],
    );
    Ok(vec![c.gauge(
        "volume.service.health",
        "health",
        Volume::Int(v),
        None,
        None,
        r.key().to_owned(),
        md,
    )])
}
