//! Figures, the Markdown report and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::{Agent, Params, Snap};

/// Exactly-once accounting of one cycle, summed over the accounting kinds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub expected: usize,
    pub once: usize,
    pub missed: usize,
    pub duplicated: usize,
    /// kind → [once, missed, duplicated]
    pub by_kind: BTreeMap<String, [usize; 3]>,
    pub per_agent: BTreeMap<String, u64>,
}

impl Coverage {
    pub fn exact(&self) -> bool {
        self.missed == 0 && self.duplicated == 0
    }
}

/// One agent in one cycle.
#[derive(Debug, Clone, Serialize)]
pub struct AgentCycle {
    pub agent: String,
    pub cpu_s: f64,
    pub samples: f64,
    pub cpu_us_per_sample: f64,
    pub wall_s: f64,
    pub api_requests: u64,
    pub owned: f64,
    pub members: f64,
    pub cycle_completed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CycleRow {
    pub cycle: i64,
    pub agents: Vec<AgentCycle>,
    /// Slowest agent's wall time: when the fleet's cycle is done.
    pub wall_s: f64,
    pub samples: f64,
    pub coverage: Coverage,
    pub redis_cmds_per_s: f64,
}

pub(crate) fn cycle_row(
    prev: &Snap,
    cur: &Snap,
    agents: &[Agent],
    cov: Coverage,
    k: i64,
) -> CycleRow {
    let mut rows = Vec::new();
    for a in agents {
        let d = |m: &BTreeMap<String, f64>, p: &BTreeMap<String, f64>| {
            m.get(&a.name).copied().unwrap_or(0.0) - p.get(&a.name).copied().unwrap_or(0.0)
        };
        let cpu = d(&cur.cpu, &prev.cpu);
        let samples = d(&cur.samples, &prev.samples);
        let req = cur.requests.get(&a.name).copied().unwrap_or(0)
            - prev
                .requests
                .get(&a.name)
                .copied()
                .unwrap_or(0)
                .min(cur.requests.get(&a.name).copied().unwrap_or(0));
        rows.push(AgentCycle {
            agent: a.name.clone(),
            cpu_s: cpu,
            samples,
            cpu_us_per_sample: if samples > 0.0 {
                cpu * 1e6 / samples
            } else {
                0.0
            },
            wall_s: cur.duration.get(&a.name).copied().unwrap_or(0.0),
            api_requests: req,
            owned: cur.owned.get(&a.name).copied().unwrap_or(0.0),
            members: cur.members.get(&a.name).copied().unwrap_or(0.0),
            cycle_completed: d(&cur.cycles, &prev.cycles) >= 1.0,
        });
    }
    let secs = ((cur.t_us - prev.t_us) as f64 / 1e6).max(1e-3);
    CycleRow {
        cycle: k,
        wall_s: rows.iter().map(|r| r.wall_s).fold(0.0, f64::max),
        samples: rows.iter().map(|r| r.samples).sum(),
        agents: rows,
        coverage: cov,
        redis_cmds_per_s: cur.redis.saturating_sub(prev.redis) as f64 / secs,
    }
}

/// One fleet size.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    pub n: usize,
    pub cycles: Vec<CycleRow>,
    pub peak_rss_mib: BTreeMap<String, f64>,
    /// Means over the measured cycles.
    pub wall_s: f64,
    pub cpu_s_per_agent: f64,
    pub cpu_s_fleet: f64,
    pub cpu_us_per_sample: f64,
    pub samples_per_cycle: f64,
    pub samples_per_s: f64,
    pub api_requests_per_cycle: f64,
    pub redis_cmds_per_s: f64,
    pub max_peak_rss_mib: f64,
    pub exact: bool,
    /// wall(1) / (N × wall(N)), filled once the 1-agent fleet is known.
    pub scaling_efficiency: Option<f64>,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

pub(crate) fn fleet(n: usize, cycles: Vec<CycleRow>, rss: BTreeMap<String, f64>) -> Fleet {
    let wall = mean(cycles.iter().map(|c| c.wall_s));
    let cpu_fleet = mean(
        cycles
            .iter()
            .map(|c| c.agents.iter().map(|a| a.cpu_s).sum()),
    );
    let samples = mean(cycles.iter().map(|c| c.samples));
    Fleet {
        n,
        wall_s: wall,
        cpu_s_per_agent: cpu_fleet / n as f64,
        cpu_s_fleet: cpu_fleet,
        cpu_us_per_sample: if samples > 0.0 {
            cpu_fleet * 1e6 / samples
        } else {
            0.0
        },
        samples_per_cycle: samples,
        samples_per_s: if wall > 0.0 { samples / wall } else { 0.0 },
        api_requests_per_cycle: mean(
            cycles
                .iter()
                .map(|c| c.agents.iter().map(|a| a.api_requests as f64).sum()),
        ),
        redis_cmds_per_s: mean(cycles.iter().map(|c| c.redis_cmds_per_s)),
        max_peak_rss_mib: rss.values().copied().fold(0.0, f64::max),
        exact: cycles
            .iter()
            .all(|c| c.coverage.exact() && c.agents.iter().all(|a| a.cycle_completed)),
        peak_rss_mib: rss,
        cycles,
        scaling_efficiency: None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub cycle: usize,
    pub what: String,
    pub agent: String,
    pub at_us_in_cycle: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    pub event: Event,
    /// Cycles from the event's one until coverage is exact (0: the event's cycle was exact).
    pub cycles_not_exact: usize,
    /// Seconds from the event to the start of the first exact cycle (0 when the event's own
    /// cycle was exact); resolution = the interval.
    pub time_to_exact_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Churn {
    pub coverage: Vec<Coverage>,
    pub events: Vec<Event>,
    pub recoveries: Vec<Recovery>,
    pub redis_cmds_per_s: f64,
    /// No resource missed in any cycle, duplicates only in a SIGKILL's cycle (the dead
    /// agent's unfinished share is re-polled), and the last cycle exact.
    pub ok: bool,
}

pub(crate) fn churn(interval: u64, cov: Vec<Coverage>, events: Vec<Event>, redis: f64) -> Churn {
    let mut recoveries = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let end = events
            .get(i + 1)
            .map_or(cov.len(), |n| n.cycle.max(e.cycle));
        let first_exact = (e.cycle..end).find(|&c| (c..end).all(|x| cov[x].exact()));
        recoveries.push(Recovery {
            event: e.clone(),
            cycles_not_exact: first_exact.map_or(end - e.cycle, |c| c - e.cycle),
            time_to_exact_s: first_exact.map(|c| {
                if c == e.cycle {
                    0.0
                } else {
                    ((c - e.cycle) as f64 * interval as f64) - e.at_us_in_cycle as f64 / 1e6
                }
            }),
        });
    }
    let kills: Vec<usize> = events
        .iter()
        .filter(|e| e.what == "kill")
        .map(|e| e.cycle)
        .collect();
    let ok = cov
        .iter()
        .enumerate()
        .all(|(i, c)| c.missed == 0 && (c.duplicated == 0 || kills.contains(&i)))
        && cov.last().is_none_or(Coverage::exact);
    Churn {
        coverage: cov,
        events,
        recoveries,
        redis_cmds_per_s: redis,
        ok,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub params: Params,
    pub machine: BTreeMap<String, String>,
    pub agent_bin: String,
    pub simcloud_bin: String,
    pub cloud: Value,
    pub simcloud_start_s: f64,
    pub simcloud_cpu_s: f64,
    pub simcloud_peak_rss_mib: f64,
    pub fleets: Vec<Fleet>,
    pub churn: Option<Churn>,
    pub total_s: f64,
}

impl Report {
    pub fn all_exact(&self) -> bool {
        self.fleets.iter().all(|f| f.exact) && self.churn.as_ref().is_none_or(|c| c.ok)
    }
}

pub fn machine() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    m.insert("cores".into(), cores.to_string());
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(model) = info.lines().find_map(|l| {
        l.strip_prefix("model name")?
            .split_once(':')
            .map(|x| x.1.trim().to_owned())
    }) {
        m.insert("cpu".into(), model);
    }
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(kib) = mem.lines().find_map(|l| {
        l.strip_prefix("MemTotal:")?
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
    }) {
        m.insert(
            "memory".into(),
            format!("{:.1} GiB", kib as f64 / 1048576.0),
        );
    }
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        m.insert("loadavg_at_end".into(), l.trim().to_owned());
    }
    if let Ok(k) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        m.insert("kernel".into(), k.trim().to_owned());
    }
    m
}

pub fn fill_efficiency(rep: &mut Report) {
    let base = rep.fleets.iter().find(|f| f.n == 1).map(|f| f.wall_s);
    for f in &mut rep.fleets {
        f.scaling_efficiency = base
            .filter(|b| *b > 0.0 && f.wall_s > 0.0)
            .map(|b| b / (f.n as f64 * f.wall_s));
    }
}

pub fn summary(rep: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| agents | cycle wall s | CPU s/agent/cycle | CPU µs/sample | peak RSS MiB (max) | API req/cycle | samples/s | efficiency | exact |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|:-:|");
    for f in &rep.fleets {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.0} | {:.0} | {} | {} |",
            f.n,
            f.wall_s,
            f.cpu_s_per_agent,
            f.cpu_us_per_sample,
            f.max_peak_rss_mib,
            f.api_requests_per_cycle,
            f.samples_per_s,
            f.scaling_efficiency
                .map_or("–".into(), |e| format!("{e:.2}")),
            if f.exact { "yes" } else { "NO" }
        );
    }
    s
}

fn markdown(rep: &Report, stem: &str) -> String {
    let p = &rep.params;
    let mut s = String::new();
    let _ = writeln!(s, "# loadbench `{}`\n", p.preset);
    let _ = writeln!(
        s,
        "Generated by `loadbench --preset {}`; all processes on 127.0.0.1. **Timings are noisy**: \
         this machine's cores are shared with other jobs (load average at the end: {}); CPU \
         seconds come from `/proc/<pid>/stat` (utime+stime) and are less affected than wall time.\n",
        p.preset,
        rep.machine.get("loadavg_at_end").map_or("?", String::as_str)
    );
    let _ = writeln!(s, "## Machine\n");
    for (k, v) in &rep.machine {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let _ = writeln!(s, "\n## Parameters\n");
    let _ = writeln!(s, "- agents (fleet sizes): {:?}", p.agents);
    let _ = writeln!(
        s,
        "- cloud: {} projects, {} images, {} volumes, {} zones (other simcloud sizes default), seed {}",
        p.projects, p.images, p.volumes, p.zones, p.seed
    );
    let _ = writeln!(s, "- simcloud counts: `{}`", rep.cloud);
    let _ = writeln!(
        s,
        "- added API latency: {} ms on every service",
        p.latency_ms
    );
    let _ = writeln!(s, "- extra faults: {:?}", p.faults);
    let _ = writeln!(
        s,
        "- interval: {} s; measured cycles per fleet: {}",
        p.interval, p.cycles
    );
    let _ = writeln!(s, "- meters: {}", p.meters.join(", "));
    let _ = writeln!(
        s,
        "- api_concurrency: {}; batch_size 50; no publisher (samples are counted, not sent)",
        p.api_concurrency
    );
    let _ = writeln!(
        s,
        "- coordination: Redis, heartbeat {} s, membership_timeout {} s",
        p.heartbeat,
        p.membership_timeout()
    );
    let _ = writeln!(s, "- churn: {:?} with {} agents", p.churn, p.churn_agents);
    let _ = writeln!(s, "- binaries: `{}`, `{}`", rep.agent_bin, rep.simcloud_bin);
    let _ = writeln!(
        s,
        "- simcloud: started in {:.1} s, {:.1} CPU-s, peak RSS {:.0} MiB; whole run {:.0} s\n",
        rep.simcloud_start_s, rep.simcloud_cpu_s, rep.simcloud_peak_rss_mib, rep.total_s
    );
    let _ = writeln!(s, "## Fleet\n");
    let _ = writeln!(s, "Means over the measured cycles. Cycle wall = the slowest agent's `cycle_duration_seconds`. \
        Scaling efficiency = wall(1) / (N × wall(N)) (1.0 = perfect). Exact = every resource of the \
        accounted kinds ({}) polled exactly once in every cycle.\n", crate::poll_kinds(&p.meters).join(", "));
    s.push_str(&summary(rep));
    let _ = writeln!(s, "\n![scaling]({stem}-scaling.svg)\n");
    let _ = writeln!(s, "### Per agent and cycle\n");
    let _ = writeln!(s, "| N | cycle | agent | CPU s | samples | CPU µs/sample | wall s | API requests | owned | members | peak RSS MiB |");
    let _ = writeln!(s, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in &rep.fleets {
        for c in &f.cycles {
            for a in &c.agents {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.2}{} | {} | {:.0} | {:.0} | {:.1} |",
                    f.n,
                    c.cycle,
                    a.agent,
                    a.cpu_s,
                    a.samples,
                    a.cpu_us_per_sample,
                    a.wall_s,
                    if a.cycle_completed { "" } else { " (not completed)" },
                    a.api_requests,
                    a.owned,
                    a.members,
                    f.peak_rss_mib.get(&a.agent).copied().unwrap_or(0.0)
                );
            }
        }
    }
    let _ = writeln!(s, "\n### Coverage per cycle\n");
    let _ = writeln!(
        s,
        "| N | cycle | expected | once | missed | duplicated | Redis cmds/s |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    for f in &rep.fleets {
        for c in &f.cycles {
            let v = &c.coverage;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {:.0} |",
                f.n, c.cycle, v.expected, v.once, v.missed, v.duplicated, c.redis_cmds_per_s
            );
        }
    }
    if let Some(ch) = &rep.churn {
        let _ = writeln!(s, "\n## Churn\n");
        let _ = writeln!(s, "Events happen {} into their cycle. Time to exact = from the event to the start of the first \
            cycle from which coverage stays exact (0 when the event's own cycle is exact; resolution: one interval). \
            Redis: {:.0} commands/s over the churn phase. Verdict: {}.\n",
            ch.events.first().map_or("–".into(), |e| format!("{:.1} s", e.at_us_in_cycle as f64 / 1e6)),
            ch.redis_cmds_per_s, if ch.ok { "ok (no miss; duplicates only where a SIGKILL's unfinished share was re-polled)" } else { "NOT OK" });
        let _ = writeln!(
            s,
            "| event | cycle | agent | cycles not exact | time to exact s |"
        );
        let _ = writeln!(s, "|---|---:|---|---:|---:|");
        for r in &ch.recoveries {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.event.what,
                r.event.cycle,
                r.event.agent,
                r.cycles_not_exact,
                r.time_to_exact_s
                    .map_or("not within the run".into(), |t| format!("{t:.1}"))
            );
        }
        let _ = writeln!(
            s,
            "\n| cycle | expected | once | missed | duplicated | per agent |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---|");
        for (i, c) in ch.coverage.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {i} | {} | {} | {} | {} | {:?} |",
                c.expected, c.once, c.missed, c.duplicated, c.per_agent
            );
        }
        let _ = writeln!(s, "\n![coverage through churn]({stem}-churn.svg)");
    }
    s
}

pub fn write(rep: &Report, out: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let json = out.join(format!("{stem}.json"));
    std::fs::write(&json, serde_json::to_string_pretty(rep)?)?;
    files.push(json);
    let md = out.join(format!("{stem}.md"));
    std::fs::write(&md, markdown(rep, stem))?;
    files.push(md);
    files.push(crate::charts::scaling(
        rep,
        &out.join(format!("{stem}-scaling.svg")),
    )?);
    if let Some(ch) = &rep.churn {
        files.push(crate::charts::churn(
            ch,
            &out.join(format!("{stem}-churn.svg")),
        )?);
    }
    Ok(files)
}
