//! Glance v2: the `images` discovery and `image.size`.

use sample::Sample;

use crate::discovery::{KeyField, Kind, ListSpec, Next, Resource};
use crate::meter::{metadata_moved, opt_string, volume, SampleCtx};

/// `GET /v2/images`. Upstream sends no `limit` and so gets Glance's default page of 25;
/// we ask for 1000 (Glance caps it at its `api_limit_max`), 40× fewer requests.
pub(crate) static IMAGES: ListSpec = ListSpec {
    name: "images",
    service_type: |t| t.glance.as_str(),
    strip: "/v2",
    path: "/v2/images?limit=1000",
    headers: &[],
    list: "images",
    next: Next::Glance,
    kind: Kind::Image,
    key: KeyField::Field("id"),
    keep: &[
        "id",
        "owner",
        "size",
        "status",
        "visibility",
        "name",
        "container_format",
        "created_at",
        "disk_format",
        "updated_at",
        "min_disk",
        "protected",
        "checksum",
        "min_ram",
        "tags",
        "virtual_size",
    ],
};

/// `image.size` (B): the image's size; metadata in upstream's order, `is_protected` being
/// the SDK's name of `protected`.
pub(crate) fn image_size(c: &SampleCtx, r: &mut Resource) -> Result<Vec<Sample>, String> {
    let size = volume(r.get("size"), "size")?;
    let owner = opt_string(r.get("owner"), "owner")?;
    let md = metadata_moved(
        r,
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
    Ok(vec![c.gauge(
        "image.size",
        "B",
        size,
        None,
        owner,
        r.key().to_owned(),
        md,
    )])
}
