//! RadosGW admin ops API (`/admin/bucket`, `/admin/usage`), SigV4-authenticated.
//!
//! Field names follow the Ceph Admin Ops docs' field lists ("Get Bucket Info", "Get
//! Usage") and the `radosgw-admin bucket stats` output; see
//! `shared/api-samples/radosgw/SOURCES.md` (the docs give no JSON sample).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::model::Project;
use crate::server::{json_resp, text_resp, Req, Resp, State};
use crate::stats::PollKind;
use crate::util::{created, derive_id, hex32, parse_id, TsStyle};

/// An S3-style error, JSON (`format=json` / `Accept: application/json`) or XML.
pub(crate) fn s3_error(status: u16, title: &str, msg: &str, json_fmt: bool) -> Resp {
    let code = match status {
        403 => "AccessDenied",
        404 => "NoSuchKey",
        _ => title,
    };
    s3_error_code(status, code, msg, json_fmt)
}

fn s3_error_code(status: u16, code: &str, _msg: &str, json_fmt: bool) -> Resp {
    if json_fmt {
        json_resp(
            status,
            &json!({"Code": code, "RequestId": "tx000000000000000000001-simcloud", "HostId": "simcloud-zone-simcloud"}),
        )
    } else {
        text_resp(
            status,
            "application/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><RequestId>tx000000000000000000001-simcloud</RequestId><HostId>simcloud-zone-simcloud</HostId></Error>"),
        )
    }
}

fn bucket_json(uid: &str, p: &Project, i: usize) -> Value {
    let b = p.buckets[i];
    let id = format!(
        "{}.{}.{}",
        "7f1a3c2e-0b4d-4c8e-9a51-3e2f1d0c9b8a",
        (crate::util::h(p.id, 300) % 100_000),
        i
    );
    let usage = if b.num_objects == 0 {
        json!({})
    } else {
        json!({"rgw.main": {
            "size": b.size_kb * 1024,
            "size_actual": b.size_kb * 1024 + (b.num_objects as u64 * 4096),
            "size_utilized": b.size_kb * 1024,
            "size_kb": b.size_kb,
            "size_kb_actual": b.size_kb + b.num_objects as u64 * 4,
            "size_kb_utilized": b.size_kb,
            "num_objects": b.num_objects,
        }})
    };
    json!({
        "bucket": format!("bucket-{i:04}"),
        "num_shards": 11,
        "tenant": "",
        "zonegroup": "3a5f7c9e-1b2d-4e6f-8a0c-2d4f6b8e0a1c",
        "placement_rule": "default-placement",
        "explicit_placement": {"data_pool": "", "data_extra_pool": "", "index_pool": ""},
        "id": id,
        "marker": id,
        "index_type": "Normal",
        "owner": uid,
        "ver": "0#1",
        "master_ver": "0#0",
        "mtime": created(derive_id(p.id, i as u64), TsStyle::MicrosZ),
        "creation_time": created(derive_id(p.id, i as u64), TsStyle::MicrosZ),
        "max_marker": "0#",
        "usage": usage,
        "bucket_quota": {"enabled": false, "check_on_raw": false, "max_size": -1, "max_size_kb": 0, "max_objects": -1},
    })
}

fn categories(ops: u64, size_kb: u64) -> Value {
    let get = ops * 3 / 4;
    let put = ops - get;
    json!([
        {"category": "get_obj", "bytes_sent": size_kb * 512, "bytes_received": 0, "ops": get, "successful_ops": get},
        {"category": "put_obj", "bytes_sent": 0, "bytes_received": size_kb * 256, "ops": put, "successful_ops": put.saturating_sub(put / 50)},
    ])
}

fn usage_json(uid: &str, p: &Project) -> Value {
    if p.buckets.is_empty() {
        return json!({"entries": [], "summary": []});
    }
    let buckets: Vec<Value> = p
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({
                "bucket": format!("bucket-{i:04}"),
                "time": "2024-01-01T00:00:00.000000Z",
                "epoch": 1_704_067_200u64,
                "owner": uid,
                "categories": categories(b.ops as u64, b.size_kb),
            })
        })
        .collect();
    let ops: u64 = p.buckets.iter().map(|b| b.ops as u64).sum();
    let kb: u64 = p.buckets.iter().map(|b| b.size_kb).sum();
    let cats = categories(ops, kb);
    let mut total =
        json!({"bytes_sent": 0u64, "bytes_received": 0u64, "ops": 0u64, "successful_ops": 0u64});
    if let Some(arr) = cats.as_array() {
        for c in arr {
            for k in ["bytes_sent", "bytes_received", "ops", "successful_ops"] {
                let v = total[k].as_u64().unwrap_or(0) + c[k].as_u64().unwrap_or(0);
                total[k] = v.into();
            }
        }
    }
    json!({
        "entries": [{"user": uid, "buckets": buckets}],
        "summary": [{"user": uid, "categories": cats, "total": total}],
    })
}

/// `/admin/...` routes.
pub(crate) fn handle(st: &State, r: &mut Req) -> Resp {
    let json_fmt = r.query.get("format") == Some("json")
        || r.header("accept").is_some_and(|a| a.contains("json"));
    let headers = r.headers.clone();
    let header = move |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let cfg_access = st.cfg.rgw_access_key.clone();
    let secret = st.cfg.rgw_secret_key.clone();
    // The configured key, or any agent-named key with the same secret, so that several
    // agents sharing one RGW can still be told apart in the accounting.
    let secret_for = move |a: &str| {
        (a == cfg_access || a.starts_with("agent-") || a.starts_with("ceilometer"))
            .then(|| secret.clone())
    };
    let path = r.full_path.clone();
    match crate::sigv4::verify(
        r.method.as_str(),
        &path,
        r.raw_query.as_deref(),
        &header,
        &r.body,
        "us-east-1",
        "s3",
        &secret_for,
    ) {
        Ok(access) => r.agent = Arc::from(access.as_str()),
        Err(e) => {
            r.op = "sigv4-rejected";
            let code = match e {
                crate::sigv4::SigError::Mismatch => "SignatureDoesNotMatch",
                crate::sigv4::SigError::UnknownKey(_) => "InvalidAccessKeyId",
                _ => "AccessDenied",
            };
            return s3_error_code(403, code, &e.to_string(), json_fmt);
        }
    }
    let sub = r.path.trim_end_matches('/').to_owned();
    let uid = r.query.get("uid").map(str::to_owned);
    let kind = match (r.method.as_str(), sub.as_str()) {
        ("GET", "/admin/bucket") => {
            r.op = "GET /admin/bucket";
            PollKind::RgwBucket
        }
        ("GET", "/admin/usage") => {
            r.op = "GET /admin/usage";
            PollKind::RgwUsage
        }
        _ => {
            r.op = "unknown";
            return s3_error_code(404, "NoSuchKey", "", json_fmt);
        }
    };
    let Some(uid) = uid else {
        return s3_error_code(400, "InvalidArgument", "", json_fmt);
    };
    // `<tenant>` or, with implicit tenants, `<tenant>$<tenant>`.
    let tenant = uid.split('$').next().unwrap_or("");
    let Some(pid) = parse_id(tenant) else {
        return s3_error_code(404, "NoSuchUser", "", json_fmt);
    };
    let stats = r.query.flag("stats");
    let body = st.model.projects.with(pid, |p| match kind {
        PollKind::RgwBucket if stats => Value::Array(
            (0..p.buckets.len())
                .map(|i| bucket_json(&uid, p, i))
                .collect(),
        ),
        PollKind::RgwBucket => Value::Array(
            (0..p.buckets.len())
                .map(|i| Value::from(format!("bucket-{i:04}")))
                .collect(),
        ),
        _ => usage_json(&uid, p),
    });
    match body {
        Some(b) => {
            r.polls.push((kind, hex32(pid)));
            json_resp(200, &b)
        }
        None => s3_error_code(404, "NoSuchUser", "", json_fmt),
    }
}
