//! `dynamic-test`: a tiny generic API for dynamic-pollster tests, with a fixed data set
//! (independent of the cloud model and of `--seed`).
//!
//! Token-authenticated (catalog type `dynamic-test`):
//! - `GET /v1/servers?limit=N&marker=ID` → `{"servers": [...], "next": "v1/servers?..."}`;
//!   `next` is relative to the endpoint and absent on the last page (op `dyn.servers`).
//! - `GET /v1/servers.xml` → the same servers as XML (op `dyn.servers.xml`).
//! - `GET /v1/flavors/<id>` → `{"flavor": {"id", "name", "vcpus"}}` (op `dyn.flavor`).
//!
//! Without a token, a "non-OpenStack" API taking any one of three credentials, each
//! accounted as its own agent: HTTP basic `dynuser:dynpass` (agent `dynuser`),
//! `Authorization: Bearer dyn-t0ken-42` (agent `dyntoken`) or `X-Api-Key: dyn-k3y-42`
//! (agent `dynkey`):
//! - `GET /ext/v1/items` → `{"items": [{"id", "value", "owner"}]}` (op `dyn.ext`; no or a
//!   wrong credential gets 401, op `dyn.ext.unauthorized`).
//! - `GET /ext/v1/broken` → 404 (op `dyn.ext.broken`).

use hyper::Method;
use serde_json::{json, Value};

use crate::server::{error, json_resp, text_resp, unauthorized, Req, Resp, State};
use crate::Service;

/// `Basic base64("dynuser:dynpass")`.
const BASIC: &str = "Basic ZHludXNlcjpkeW5wYXNz";
/// The bearer token of the non-OpenStack API.
const BEARER: &str = "Bearer dyn-t0ken-42";
/// The API key (header `X-Api-Key`) of the non-OpenStack API.
const API_KEY: &str = "dyn-k3y-42";

struct Server {
    id: &'static str,
    project: &'static str,
    user: &'static str,
    status: &'static str,
    flavor: &'static str,
    disk_gb: i64,
    metrics: &'static [(&'static str, i64)],
}

const SERVERS: &[Server] = &[
    Server {
        id: "dyn-0",
        project: "proj-a",
        user: "user-a",
        status: "ACTIVE",
        flavor: "f1",
        disk_gb: 10,
        metrics: &[("cpu", 2), ("ram", 512), ("skipme", 1)],
    },
    Server {
        id: "dyn-1",
        project: "proj-a",
        user: "user-b",
        status: "SHUTOFF",
        flavor: "f2",
        disk_gb: 20,
        metrics: &[("cpu", 4), ("ram", 1024)],
    },
    Server {
        id: "dyn-2",
        project: "proj-b",
        user: "user-c",
        status: "ERROR",
        flavor: "f1",
        disk_gb: 30,
        metrics: &[("cpu", 1), ("ram", -1)],
    },
    Server {
        id: "dyn-3",
        project: "proj-b",
        user: "user-c",
        status: "DELETED",
        flavor: "f2",
        disk_gb: 40,
        metrics: &[],
    },
    Server {
        id: "dyn-4",
        project: "proj-c",
        user: "user-d",
        status: "BUILD",
        flavor: "f1",
        disk_gb: 50,
        metrics: &[("cpu", 8)],
    },
];

fn server_json(s: &Server) -> Value {
    let metrics: Vec<Value> = s
        .metrics
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    json!({
        "id": s.id,
        "name": format!("server-{}", &s.id[4..]),
        "project_id": s.project,
        "user_id": s.user,
        "status": s.status,
        "flavor": {"id": s.flavor},
        "disk_gb": s.disk_gb,
        "metrics": metrics,
    })
}

fn server_xml(s: &Server) -> String {
    format!(
        "<server><id>{}</id><project_id>{}</project_id><user_id>{}</user_id><status>{}</status><disk_gb>{}</disk_gb></server>",
        s.id, s.project, s.user, s.status, s.disk_gb
    )
}

/// Handles every request under `/dynamic-test`.
pub(crate) fn handle(st: &State, r: &mut Req) -> Resp {
    let svc = Service::DynamicTest;
    if r.method != Method::GET {
        return error(svc, 405, "Method not allowed.");
    }
    let path = r.path.trim_end_matches('/').to_owned();
    if let Some(ext) = path.strip_prefix("/ext") {
        let who = match (r.header("authorization"), r.header("x-api-key")) {
            (Some(BASIC), _) => "dynuser",
            (Some(BEARER), _) => "dyntoken",
            (None, Some(API_KEY)) => "dynkey",
            _ => {
                r.op = "dyn.ext.unauthorized";
                return error(svc, 401, "Authentication required.");
            }
        };
        r.agent = who.into();
        return match ext {
            "/v1/items" => {
                r.op = "dyn.ext";
                json_resp(
                    200,
                    &json!({"items": [
                        {"id": "ext-0", "value": 3, "owner": "team-a"},
                        {"id": "ext-1", "value": 5.5, "owner": "team-b"},
                    ]}),
                )
            }
            _ => {
                r.op = "dyn.ext.broken";
                error(svc, 404, "The resource could not be found.")
            }
        };
    }
    if r.auth.is_none() {
        r.op = "unauthenticated";
        return unauthorized(svc, &st.url);
    }
    match path.as_str() {
        "/v1/servers" => {
            r.op = "dyn.servers";
            let limit = r
                .query
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(1000)
                .max(1);
            let start = match r.query.get("marker") {
                Some(m) => match SERVERS.iter().position(|s| s.id == m) {
                    Some(i) => i + 1,
                    None => return error(svc, 400, "Unknown marker."),
                },
                None => 0,
            };
            let page: Vec<Value> = SERVERS
                .iter()
                .skip(start)
                .take(limit)
                .map(server_json)
                .collect();
            let mut body = json!({ "servers": page });
            let end = start + limit;
            if end < SERVERS.len() {
                body["next"] = json!(format!(
                    "v1/servers?limit={limit}&marker={}",
                    SERVERS[end - 1].id
                ));
            }
            json_resp(200, &body)
        }
        "/v1/servers.xml" => {
            r.op = "dyn.servers.xml";
            let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<servers>");
            for s in SERVERS {
                x.push_str(&server_xml(s));
            }
            x.push_str("</servers>\n");
            text_resp(200, "application/xml", x)
        }
        p => match p.strip_prefix("/v1/flavors/") {
            Some(id) => {
                r.op = "dyn.flavor";
                let (name, vcpus) = match id {
                    "f1" => ("m1.small", 1),
                    "f2" => ("m1.large", 4),
                    _ => return error(svc, 404, "Flavor not found."),
                };
                json_resp(
                    200,
                    &json!({"flavor": {"id": id, "name": name, "vcpus": vcpus}}),
                )
            }
            None => error(svc, 404, "The resource could not be found."),
        },
    }
}
