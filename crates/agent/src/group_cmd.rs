//! `group members` and the live form of `ring`: read the coordination group from Redis.

use std::io::Write;

use anyhow::Context;
use ceilometer_config::{mask_url, Loaded};
use coordination::MemberId;
use coordination::RedisUrl;
use coordination::{MemberDescription, MemberKind};

/// Where the group lives and who we are, from flags or the configuration.
pub struct Target {
    /// Parsed tooz URL (its Display masks the password).
    pub url: RedisUrl,
    /// Group name.
    pub group: String,
    /// This host's member id.
    pub this_host: MemberId,
}

/// Resolve the target: `--backend-url` wins over `[coordination] backend_url`; `--group` over
/// the configuration's group name.
pub fn target(
    loaded: Option<&Loaded>,
    backend_url: Option<&str>,
    group: Option<&str>,
) -> anyhow::Result<Target> {
    let url_text = backend_url
        .map(str::to_owned)
        .or_else(|| loaded.and_then(|l| l.conf.coordination.backend_url.clone()))
        .context("no coordination backend: pass --backend-url or set [coordination] backend_url")?;
    let url = RedisUrl::parse(&url_text)
        .with_context(|| format!("invalid backend URL {}", mask_url(&url_text)))?;
    let group = group.map(str::to_owned).unwrap_or_else(|| {
        loaded.map_or_else(|| "central-global".to_owned(), crate::validate::group_name)
    });
    let this_host = match loaded {
        Some(l) => coordination::member_id_from(
            l.conf.coordination.member_id.as_deref(),
            &l.conf.default.host,
        ),
        None => {
            coordination::member_id_from(None, &ceilometer_config::Env::from_process().hostname)
        }
    };
    Ok(Target {
        url,
        group,
        this_host,
    })
}

/// Read the members of the target group.
pub fn read_members(t: &Target) -> anyhow::Result<Vec<MemberDescription>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(coordination::describe_members(
        &t.url,
        &t.group,
        &t.this_host,
        coordination::DEFAULT_KEY_SCHEME,
    ))
    .with_context(|| format!("cannot read group {} at {}", t.group, t.url))
}

/// Print the member table of `group members`.
pub fn print_members(
    t: &Target,
    members: &[MemberDescription],
    mut out: impl Write,
) -> std::io::Result<()> {
    writeln!(out, "Group {} at {}", t.group, t.url)?;
    if members.is_empty() {
        writeln!(out, "  no members")?;
        return Ok(());
    }
    writeln!(
        out,
        "  {:<40} {:>6} {:>10}  {:<8} NOTE",
        "MEMBER", "WEIGHT", "TTL LEFT", "KIND"
    )?;
    for m in members {
        let ttl = m.heartbeat_ttl.map_or_else(
            || "dead".to_owned(),
            |d| format!("{:.1} s", d.as_secs_f64()),
        );
        let (kind, why) = match &m.kind {
            MemberKind::Ours => ("ours", String::new()),
            MemberKind::Foreign(reason) => ("foreign", format!("{reason}")),
        };
        let mut note = why;
        if m.is_this_host {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str("this host");
        }
        writeln!(
            out,
            "  {:<40} {:>6} {:>10}  {:<8} {}",
            m.id.to_string(),
            m.weight,
            ttl,
            kind,
            note
        )?;
    }
    let ours = members
        .iter()
        .filter(|m| m.kind == MemberKind::Ours && m.is_alive())
        .count();
    writeln!(out, "  {ours} live ceilometer-central member(s) share the ring; foreign members are kept out of it")?;
    Ok(())
}

/// `--member ID,WEIGHT` specs of the live members that take part in our ring.
pub fn ring_members(members: &[MemberDescription]) -> Vec<String> {
    members
        .iter()
        .filter(|m| m.kind == MemberKind::Ours && m.is_alive())
        .map(|m| format!("{},{}", m.id, m.weight))
        .collect()
}
