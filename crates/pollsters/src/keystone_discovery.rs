//! The `tenant` discovery: every project of every domain (Keystone v3), with
//! `[polling] ignore_disabled_projects` filtering both domains and projects (27.0.0 silently
//! dropped the domain filter). The partition key of a project is its id.

use crate::discovery::{list_all, Found, KeyField, Kind, ListSpec, Next, Resource};
use crate::engine::{Cycle, Inner};
use crate::keystone::v3_auth_url;

/// `GET /v3/projects?domain_id=..`.
pub(crate) static PROJECTS: ListSpec = ListSpec {
    name: "tenant",
    service_type: |_| "identity",
    strip: "",
    path: "",
    headers: &[],
    list: "projects",
    next: Next::LinksObject,
    kind: Kind::Project,
    key: KeyField::Field("id"),
    keep: &["id", "name", "domain_id", "enabled"],
};

/// `GET /v3/domains`.
pub(crate) static DOMAINS: ListSpec = ListSpec {
    name: "_domains",
    service_type: |_| "identity",
    strip: "",
    path: "",
    headers: &[],
    list: "domains",
    next: Next::LinksObject,
    kind: Kind::Domain,
    key: KeyField::Field("id"),
    keep: &["id", "name", "enabled"],
};

fn enabled(r: &Resource) -> bool {
    r.get("enabled")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true)
}

/// Lists projects domain by domain.
pub(crate) async fn tenants(inner: &Inner, cy: &Cycle<'_>) -> Found {
    // The identity endpoint of the catalog for our interface/region; the auth URL otherwise.
    let base = match inner.api.endpoint("identity").await {
        Ok(Some(u)) => v3_auth_url(&u),
        Ok(None) => inner.api.session.auth_url().to_owned(),
        Err(e) => {
            tracing::error!(discovery = "tenant", error = %e, "Skipping discovery: keystone issue");
            cy.error("identity");
            return Found::default();
        }
    };
    let only_enabled = inner.cfg.ignore_disabled_projects;
    let q = if only_enabled { "?enabled=true" } else { "" };
    let root = base.trim_end_matches("/v3").to_owned();
    let domains = list_all(
        inner,
        cy,
        &DOMAINS,
        "identity",
        &root,
        format!("{base}/domains{q}"),
    )
    .await;
    let mut out = Found::default();
    for d in domains
        .resources
        .iter()
        .filter(|d| !only_enabled || enabled(d))
    {
        let amp = if only_enabled { "&enabled=true" } else { "" };
        let mut projects = list_all(
            inner,
            cy,
            &PROJECTS,
            "identity",
            &root,
            format!("{base}/projects?domain_id={}{amp}", d.key()),
        )
        .await;
        // Filtered in place and moved, not copied: a large cloud's list is held once.
        projects.resources.retain(|p| !only_enabled || enabled(p));
        out.append(projects);
    }
    out
}
