//! `ceilometer-central validate`: every problem at once, or a one-screen summary.

use std::fmt::Write as _;
use std::path::PathBuf;

use ceilometer_config::store::{Opt, Store};
use ceilometer_config::{mask_url, DefinitionFormat, Diagnostic, Loaded, MeterDictForm, Severity};
use sample::MeterForm;

use crate::outputs::Factory;

/// The coordination group name, as upstream builds it: sorted namespaces joined with `-`,
/// then `-<partitioning_group_prefix>` if set, then `-global`.
pub fn group_name(loaded: &Loaded) -> String {
    let mut ns = loaded.conf.default.polling_namespaces.clone();
    ns.sort();
    ns.dedup();
    let mut g = ns.join("-");
    if let Some(p) = &loaded.conf.polling.partitioning_group_prefix {
        g.push('-');
        g.push_str(p);
    }
    g.push_str("-global");
    g
}

/// Print findings, one per line.
pub fn print_diagnostics(diags: &[Diagnostic], out: &mut String) {
    for d in diags {
        let tag = match d.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        };
        let _ = writeln!(out, "{tag}: {d}");
    }
}

/// Every publisher URL `run` would start, built by `factory` (pass the one `run` uses,
/// [`crate::engine::build_publisher`]) so that `validate` refuses exactly the URLs `run` would
/// refuse, each finding naming the file, line and option or sink. Building a publisher only
/// parses and prepares it (TLS files are read): nothing connects and no spool is opened.
pub fn publisher_checks(loaded: &Loaded, factory: &Factory) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let c = &loaded.conf;
    match loaded.polling.format {
        DefinitionFormat::Polling => {
            let at = central_publisher_locations(loaded);
            for (i, url) in c.central.publishers.iter().enumerate() {
                if let Err(e) = factory(loaded, url) {
                    let mut d =
                        Diagnostic::error(format!("{e:#}")).on("ceilometer_central", "publishers");
                    if let Some((file, line)) = at.get(i) {
                        d = d.at(file, Some(*line));
                    }
                    out.push(d);
                }
            }
        }
        DefinitionFormat::KiloPipeline => {
            if !c.central.publishers.is_empty() {
                let mut d = Diagnostic::warning(
                    "ignored with a Kilo/Liberty pipeline.yaml: samples go to the publishers of its sinks",
                )
                .on("ceilometer_central", "publishers");
                if let Some((file, line)) = central_publisher_locations(loaded).first() {
                    d = d.at(file, Some(*line));
                }
                out.push(d);
            }
            for sink in &loaded.polling.sinks {
                for url in &sink.publishers {
                    if let Err(e) = factory(loaded, url) {
                        out.push(
                            Diagnostic::error(format!("{e:#}"))
                                .at(&loaded.polling.path, Some(sink.line))
                                .within(format!("sink '{}'", sink.name)),
                        );
                    }
                }
            }
        }
    }
    out
}

/// Where each `[ceilometer_central] publishers` value was written, in the order of
/// `conf.central.publishers` (both come from the configuration store's multi-value lookup).
/// `Loaded` keeps values, not positions, so the files are read again; if they changed in
/// between and the counts differ, no positions are given rather than wrong ones.
fn central_publisher_locations(loaded: &Loaded) -> Vec<(PathBuf, usize)> {
    let mut parsed = Vec::new();
    for f in &loaded.files {
        let Ok(bytes) = std::fs::read(f) else {
            return Vec::new();
        };
        let Ok(p) = ceilometer_config::ini::IniFile::parse(f, &String::from_utf8_lossy(&bytes))
        else {
            return Vec::new();
        };
        parsed.push(p);
    }
    let found =
        Store::new(parsed).get_multi(&Opt::new("ceilometer_central", "publishers").secret());
    if found.len() != loaded.conf.central.publishers.len() {
        return Vec::new();
    }
    found.into_iter().map(|f| (f.file, f.line)).collect()
}

/// The meter dict generation `run` uses by default, and why.
fn meter_form_line(loaded: &Loaded) -> String {
    let form = match crate::outputs::meter_form(loaded) {
        MeterForm::Modern => "modern",
        MeterForm::Kilo => "kilo",
    };
    let why = match (loaded.conf.central.meter_form, loaded.polling.format) {
        (Some(MeterDictForm::Modern | MeterDictForm::Kilo), _) => "[ceilometer_central] meter_form",
        (None, DefinitionFormat::KiloPipeline) => "default with a Kilo/Liberty pipeline.yaml",
        (None, DefinitionFormat::Polling) => "default with polling.yaml",
    };
    format!("{form} ({why}; a publisher URL's ?meter_form= overrides it)")
}

/// The summary of a configuration that loaded.
pub fn summary(loaded: &Loaded, known: &[&str]) -> String {
    let c = &loaded.conf;
    let mut s = String::new();
    let files: Vec<String> = loaded
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let _ = writeln!(s, "Configuration files: {}", files.join(", "));
    let kind = match loaded.polling.format {
        DefinitionFormat::Polling => "polling.yaml",
        DefinitionFormat::KiloPipeline => "Kilo/Liberty pipeline.yaml",
    };
    let _ = writeln!(
        s,
        "Polling definition:  {} ({kind})",
        loaded.polling.path.display()
    );
    let _ = writeln!(
        s,
        "Namespaces:          {}",
        c.default.polling_namespaces.join(", ")
    );
    let _ = writeln!(s, "Sources:");
    let mut total_matched = std::collections::BTreeSet::new();
    for src in &loaded.polling.sources {
        let matched: Vec<&str> = known
            .iter()
            .copied()
            .filter(|k| src.meters.matches(k))
            .collect();
        total_matched.extend(matched.iter().copied());
        let discovery = if src.discovery.is_empty() {
            "default".to_owned()
        } else {
            src.discovery.join(", ")
        };
        let _ = writeln!(
            s,
            "  {:<20} every {:>5} s  meters: {} -> {} pollster(s); resources: {}; discovery: {}",
            src.name,
            src.interval,
            src.meters.patterns().join(", "),
            matched.len(),
            src.resources.len(),
            discovery
        );
    }
    let mut intervals: Vec<u64> = loaded.polling.sources.iter().map(|s| s.interval).collect();
    intervals.sort_unstable();
    intervals.dedup();
    let _ = writeln!(
        s,
        "Intervals:           {} (one polling task each)",
        intervals
            .iter()
            .map(|i| format!("{i} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "Meters matched:      {} of {} built-in pollsters",
        total_matched.len(),
        known.len()
    );
    match &c.coordination.backend_url {
        Some(url) => {
            let _ =
                writeln!(
                s,
                "Coordination:        {} group {} member {} heartbeat {:.1} s, outage policy {:?}",
                mask_url(url),
                group_name(loaded),
                c.coordination.member_id.as_deref().unwrap_or(&c.default.host),
                c.coordination.heartbeat.as_secs_f64(),
                c.coordination.outage_policy
            );
        }
        None => {
            let _ = writeln!(
                s,
                "Coordination:        none (backend_url unset): this agent polls everything"
            );
        }
    }
    let _ = writeln!(s, "Meter form:          {}", meter_form_line(loaded));
    let _ = writeln!(s, "Publishers:");
    match loaded.polling.format {
        DefinitionFormat::Polling => {
            if c.polling.enable_notifications {
                let url = c
                    .notifications
                    .transport_url
                    .as_ref()
                    .or(c.default.transport_url.as_ref())
                    .map_or_else(|| "rabbit:// (default)".to_owned(), |u| mask_url(u));
                let keys: Vec<String> = c
                    .notifications
                    .topics
                    .iter()
                    .map(|t| format!("{t}.sample"))
                    .collect();
                let _ = writeln!(
                    s,
                    "  bus: exchange {} routing key {} via {url}, batches of {}",
                    c.default.control_exchange,
                    keys.join(", "),
                    c.polling.batch_size
                );
            }
            for p in &c.central.publishers {
                let _ = writeln!(s, "  direct: {}", mask_url(p));
            }
            if c.polling.enable_prometheus_exporter {
                let _ = writeln!(
                    s,
                    "  prometheus exporter on {}",
                    c.polling.prometheus_listen_addresses.join(", ")
                );
            }
        }
        DefinitionFormat::KiloPipeline => {
            for sink in &loaded.polling.sinks {
                let pubs: Vec<String> = sink.publishers.iter().map(|p| mask_url(p)).collect();
                let _ = writeln!(s, "  sink {}: {}", sink.name, pubs.join(", "));
            }
        }
    }
    let _ = writeln!(
        s,
        "Admin listener:      {}",
        c.central.admin_listen.as_deref().unwrap_or("off")
    );
    s
}
