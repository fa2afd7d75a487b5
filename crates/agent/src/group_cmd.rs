//! `group members` and the live form of `ring`: read the coordination group from Redis.

use std::collections::BTreeMap;
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

/// Read the per-member status records and the completion records of their latest cycles.
pub fn read_status(
    t: &Target,
) -> anyhow::Result<(
    Vec<MemberDescription>,
    Vec<(String, serde_json::Value)>,
    BTreeMap<(u64, u64), Vec<String>>,
)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let members = coordination::describe_members(
            &t.url,
            &t.group,
            &t.this_host,
            coordination::DEFAULT_KEY_SCHEME,
        )
        .await
        .with_context(|| format!("cannot read group {} at {}", t.group, t.url))?;
        let raw = coordination::read_record(&t.url, &t.group, "status")
            .await
            .with_context(|| {
                format!("cannot read the status records of {} at {}", t.group, t.url)
            })?;
        let status: Vec<(String, serde_json::Value)> = raw
            .into_iter()
            .filter_map(|(k, v)| {
                Some((
                    String::from_utf8_lossy(&k).into_owned(),
                    serde_json::from_slice(&v).ok()?,
                ))
            })
            .collect();
        // The latest cycle per interval, and the one before (the latest may still be running).
        let mut latest: BTreeMap<u64, u64> = BTreeMap::new();
        for (_, v) in &status {
            if let (Some(i), Some(k)) = (v["interval"].as_u64(), v["k"].as_u64()) {
                let e = latest.entry(i).or_insert(k);
                *e = (*e).max(k);
            }
        }
        let mut done = BTreeMap::new();
        for (i, k) in latest {
            for kk in [k.saturating_sub(1), k] {
                let name = crate::cycle::CycleId { interval: i, k: kk }.record_name();
                let fields = coordination::read_record(&t.url, &t.group, &name)
                    .await
                    .unwrap_or_default();
                done.insert(
                    (i, kk),
                    fields
                        .into_iter()
                        .map(|(f, _)| String::from_utf8_lossy(&f).into_owned())
                        .collect(),
                );
            }
        }
        Ok((members, status, done))
    })
}

/// Print the fleet.
pub fn print_status(
    t: &Target,
    members: &[MemberDescription],
    status: &[(String, serde_json::Value)],
    done: &BTreeMap<(u64, u64), Vec<String>>,
    mut out: impl Write,
) -> std::io::Result<()> {
    writeln!(out, "Group {} at {}", t.group, t.url)?;
    let total_owned: u64 = status.iter().filter_map(|(_, v)| v["owned"].as_u64()).sum();
    writeln!(
        out,
        "  {:<28} {:>6} {:>8} {:>7}  {:<16} {:>9} {:>9} {:>6}",
        "MEMBER", "WEIGHT", "TTL", "SHARE", "LAST CYCLE", "DURATION", "SAMPLES", "ERRORS"
    )?;
    let mut ids: Vec<String> = members.iter().map(|m| m.id.to_string()).collect();
    for (id, _) in status {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    for id in ids {
        let m = members.iter().find(|m| m.id.to_string() == id);
        let s = status.iter().find(|(k, _)| *k == id).map(|(_, v)| v);
        let weight = m.map_or_else(|| "-".to_owned(), |m| m.weight.to_string());
        let ttl = m
            .and_then(|m| m.heartbeat_ttl)
            .map_or_else(|| "gone".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()));
        let share = s
            .and_then(|v| v["owned"].as_u64())
            .filter(|_| total_owned > 0)
            .map_or_else(
                || "-".to_owned(),
                |o| format!("{:.1}%", 100.0 * o as f64 / total_owned as f64),
            );
        let cycle = s.map_or_else(
            || "-".to_owned(),
            |v| format!("{}s #{}", v["interval"], v["k"]),
        );
        let dur = s
            .and_then(|v| v["duration_ms"].as_u64())
            .map_or_else(|| "-".to_owned(), |d| format!("{:.2}s", d as f64 / 1000.0));
        let samples = s
            .and_then(|v| v["samples"].as_u64())
            .map_or_else(|| "-".to_owned(), |n| n.to_string());
        let errors = s
            .and_then(|v| v["errors"].as_u64())
            .map_or_else(|| "-".to_owned(), |n| n.to_string());
        let foreign = m.is_some_and(|m| m.kind != MemberKind::Ours);
        let name = if foreign {
            format!("{id} (foreign)")
        } else {
            id.clone()
        };
        writeln!(out, "  {name:<28} {weight:>6} {ttl:>8} {share:>7}  {cycle:<16} {dur:>9} {samples:>9} {errors:>6}")?;
    }
    for ((i, k), finished) in done {
        let expected = status
            .iter()
            .filter(|(_, v)| v["interval"].as_u64() == Some(*i))
            .filter_map(|(_, v)| v["members"].as_u64())
            .max()
            .unwrap_or(0) as usize;
        let verdict = if expected > 0 && finished.len() >= expected {
            "complete".to_owned()
        } else {
            format!(
                "incomplete or running ({} of {expected} members finished)",
                finished.len()
            )
        };
        writeln!(out, "  cycle {i}s #{k}: {verdict}")?;
    }
    Ok(())
}
