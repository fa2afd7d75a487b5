//! The command line, a drop-in for `ceilometer-polling`'s flags.

use std::path::PathBuf;

use clap::{ArgMatches, Args, Parser, Subcommand};

/// Native drop-in for OpenStack Ceilometer's central polling agent.
///
/// Without a subcommand it runs the agent (like `ceilometer-polling --polling-namespaces
/// central`). Configuration comes from the same ceilometer.conf and polling.yaml.
#[derive(Debug, Parser)]
#[command(name = "ceilometer-central", version, propagate_version = true)]
pub struct Cli {
    /// Flags shared by every subcommand.
    #[command(flatten)]
    pub common: CommonArgs,
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// oslo.config / oslo.log flags that Ceilometer's agents accept.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// Configuration file; repeatable, later files override earlier ones. Default: the first
    /// ceilometer.conf found in ~/.ceilometer, ~, /etc/ceilometer, /etc.
    #[arg(long = "config-file", value_name = "PATH", global = true)]
    pub config_file: Vec<PathBuf>,
    /// Directory whose *.conf files are read in sorted order, after the files before it.
    #[arg(long = "config-dir", value_name = "DIR", global = true)]
    pub config_dir: Vec<PathBuf>,
    /// Polling namespaces; only `central` is implemented.
    #[arg(long = "polling-namespaces", value_name = "NS", num_args = 1.., global = true)]
    pub polling_namespaces: Option<Vec<String>>,
    /// Log at DEBUG level (overrides [DEFAULT] debug).
    #[arg(long, short = 'd', global = true)]
    pub debug: bool,
    /// Log to this file (overrides [DEFAULT] log_file).
    #[arg(long = "log-file", value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,
    /// Directory of the log file (overrides [DEFAULT] log_dir).
    #[arg(long = "log-dir", value_name = "DIR", global = true)]
    pub log_dir: Option<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the polling agent (the default).
    Run,
    /// Load every configuration file, report every problem, print a summary.
    ///
    /// Exits 1 if any error was found, 0 otherwise.
    Validate,
    /// Owners of keys (one per line on stdin) under tooz's hash ring.
    ///
    /// Prints one line per key: the owning member ids, sorted, separated by a space.
    Ring(crate::ring_cmd::RingArgs),
    /// The whole system on this machine: simulated cloud, several agents, coverage table.
    Demo(crate::demo::DemoArgs),
    /// Inspect the coordination group in Redis.
    #[command(subcommand)]
    Group(GroupCommand),
    /// The whole fleet from Redis: members, weights, shares, last cycle, durations, errors,
    /// and whether the last cycles were covered completely.
    Status {
        /// tooz URL to read instead of `[coordination] backend_url`.
        #[arg(long = "backend-url", value_name = "URL")]
        backend_url: Option<String>,
        /// Group name (default: the configuration's).
        #[arg(long, value_name = "G")]
        group: Option<String>,
    },
}

/// `group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// The members of the group: weight, heartbeat TTL left, ours or foreign, this host.
    Members {
        /// tooz URL to read instead of `[coordination] backend_url`.
        #[arg(long = "backend-url", value_name = "URL")]
        backend_url: Option<String>,
        /// Group name (default: the configuration's, `central[-<prefix>]-global`).
        #[arg(long, value_name = "G")]
        group: Option<String>,
    },
}

impl CommonArgs {
    /// Configuration files in command-line order, `--config-dir` expanded in place, as
    /// oslo.config processes them.
    pub fn ordered_config_files(&self, matches: &ArgMatches) -> std::io::Result<Vec<PathBuf>> {
        let m = matches
            .subcommand()
            .map(|(_, sub)| sub)
            .filter(|sub| sub.contains_id("config_file") || sub.contains_id("config_dir"))
            .unwrap_or(matches);
        let idx =
            |id: &str| -> Vec<usize> { m.indices_of(id).map(|i| i.collect()).unwrap_or_default() };
        let mut items: Vec<(usize, bool, PathBuf)> = idx("config_file")
            .into_iter()
            .zip(self.config_file.iter().cloned())
            .map(|(i, p)| (i, false, p))
            .chain(
                idx("config_dir")
                    .into_iter()
                    .zip(self.config_dir.iter().cloned())
                    .map(|(i, p)| (i, true, p)),
            )
            .collect();
        // Without indices (e.g. built programmatically) keep files first, then dirs.
        if items.len() != self.config_file.len() + self.config_dir.len() {
            items = self
                .config_file
                .iter()
                .cloned()
                .map(|p| (0, false, p))
                .chain(self.config_dir.iter().cloned().map(|p| (1, true, p)))
                .collect();
        }
        items.sort_by_key(|(i, _, _)| *i);
        let mut out = Vec::new();
        for (_, is_dir, p) in items {
            if is_dir {
                out.extend(ceilometer_config::conf_dir_files(&p).map_err(|e| {
                    std::io::Error::new(e.kind(), format!("--config-dir {}: {e}", p.display()))
                })?);
            } else {
                out.push(p);
            }
        }
        Ok(out)
    }
}
