//! `simcloud`: serve a simulated OpenStack cloud on a loopback port.
//!
//! Prints the base URL as the first line of stdout, then serves until SIGINT/SIGTERM.

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use simcloud::{FaultSpec, SimCloud, SimConfig, Sizes};

/// An OpenStack API simulator for ceilometer-central's tests, demo and benchmarks.
#[derive(Parser, Debug)]
#[command(name = "simcloud", version)]
struct Cli {
    /// Loopback address to listen on (port 0 = a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Seed of the generated cloud, the churn and the fault dice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keystone projects (besides admin and service).
    #[arg(long, default_value_t = Sizes::default().projects)]
    projects: usize,
    /// Keystone domains besides default.
    #[arg(long, default_value_t = Sizes::default().domains)]
    domains: usize,
    /// Glance images.
    #[arg(long, default_value_t = Sizes::default().images)]
    images: usize,
    /// Cinder volumes.
    #[arg(long, default_value_t = Sizes::default().volumes)]
    volumes: usize,
    /// Cinder snapshots.
    #[arg(long, default_value_t = Sizes::default().snapshots)]
    snapshots: usize,
    /// Cinder backups.
    #[arg(long, default_value_t = Sizes::default().backups)]
    backups: usize,
    /// Cinder pools.
    #[arg(long, default_value_t = Sizes::default().pools)]
    pools: usize,
    /// Cinder services.
    #[arg(long, default_value_t = Sizes::default().volume_services)]
    volume_services: usize,
    /// Neutron floating IPs.
    #[arg(long, default_value_t = Sizes::default().floating_ips)]
    floating_ips: usize,
    /// Neutron VPN services.
    #[arg(long, default_value_t = Sizes::default().vpn_services)]
    vpn_services: usize,
    /// Neutron IPsec site connections.
    #[arg(long, default_value_t = Sizes::default().ipsec_connections)]
    ipsec_connections: usize,
    /// Neutron firewall groups.
    #[arg(long, default_value_t = Sizes::default().firewall_groups)]
    firewall_groups: usize,
    /// Neutron firewall policies.
    #[arg(long, default_value_t = Sizes::default().firewall_policies)]
    firewall_policies: usize,
    /// Octavia load balancers.
    #[arg(long, default_value_t = Sizes::default().load_balancers)]
    load_balancers: usize,
    /// Manila shares.
    #[arg(long, default_value_t = Sizes::default().shares)]
    shares: usize,
    /// Designate zones.
    #[arg(long, default_value_t = Sizes::default().zones)]
    zones: usize,
    /// Mean recordsets per zone.
    #[arg(long, default_value_t = Sizes::default().recordsets_per_zone)]
    recordsets_per_zone: usize,
    /// Aodh alarms in /v2/metrics.
    #[arg(long, default_value_t = Sizes::default().alarms)]
    alarms: usize,
    /// Mean Swift containers per project.
    #[arg(long, default_value_t = Sizes::default().swift_containers_per_project)]
    swift_containers_per_project: usize,
    /// Mean RadosGW buckets per project.
    #[arg(long, default_value_t = Sizes::default().rgw_buckets_per_project)]
    rgw_buckets_per_project: usize,
    /// Zipf exponent of resources per project.
    #[arg(long, default_value_t = Sizes::default().skew)]
    skew: f64,
    /// Region of the catalog endpoints.
    #[arg(long, default_value = "RegionOne")]
    region: String,
    /// A second region with the same endpoints.
    #[arg(long)]
    second_region: Option<String>,
    /// Password of the admin user.
    #[arg(long, default_value = "secret")]
    admin_password: String,
    /// Password of agent-* and ceilometer* users.
    #[arg(long, default_value = "secret")]
    agent_password: String,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl_s: u64,
    /// Application credential USER:ID:SECRET (repeatable).
    #[arg(long = "app-credential")]
    app_credentials: Vec<String>,
    /// RadosGW admin access key.
    #[arg(long, default_value = "simcloud-access")]
    rgw_access_key: String,
    /// RadosGW admin secret key.
    #[arg(long, default_value = "simcloud-secret")]
    rgw_secret_key: String,
    /// Resources created/deleted/modified per second.
    #[arg(long, default_value_t = 0.0)]
    churn_per_sec: f64,
    /// A fault spec as JSON, e.g. '{"service":"object-store","latency_ms":10}' (repeatable).
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// Timestamps kept per resource in the accounting.
    #[arg(long, default_value_t = 64)]
    max_polls_kept: usize,
    /// MiB of rendered listing entries kept for the next agent listing them (0: none).
    #[arg(long, default_value_t = 128)]
    render_memo_mib: usize,
}

impl Cli {
    fn into_config(self) -> anyhow::Result<SimConfig> {
        let sizes = Sizes {
            projects: self.projects,
            domains: self.domains,
            images: self.images,
            volumes: self.volumes,
            snapshots: self.snapshots,
            backups: self.backups,
            pools: self.pools,
            volume_services: self.volume_services,
            floating_ips: self.floating_ips,
            vpn_services: self.vpn_services,
            ipsec_connections: self.ipsec_connections,
            firewall_groups: self.firewall_groups,
            firewall_policies: self.firewall_policies,
            load_balancers: self.load_balancers,
            shares: self.shares,
            zones: self.zones,
            recordsets_per_zone: self.recordsets_per_zone,
            alarms: self.alarms,
            swift_containers_per_project: self.swift_containers_per_project,
            rgw_buckets_per_project: self.rgw_buckets_per_project,
            skew: self.skew,
        };
        let app_credentials = self
            .app_credentials
            .iter()
            .map(|s| {
                let mut it = s.splitn(3, ':');
                match (it.next(), it.next(), it.next()) {
                    (Some(u), Some(i), Some(sec)) if !u.is_empty() && !i.is_empty() => {
                        Ok((u.to_owned(), i.to_owned(), sec.to_owned()))
                    }
                    _ => anyhow::bail!("invalid --app-credential {s:?}: expected USER:ID:SECRET"),
                }
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let faults = self
            .faults
            .iter()
            .map(|f| {
                serde_json::from_str::<FaultSpec>(f)
                    .with_context(|| format!("invalid --fault {f:?}: expected a JSON fault spec"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(SimConfig {
            listen: self.listen,
            seed: self.seed,
            sizes,
            region: self.region,
            second_region: self.second_region,
            admin_password: self.admin_password,
            agent_password: self.agent_password,
            token_ttl: Duration::from_secs(self.token_ttl_s),
            app_credentials,
            rgw_access_key: self.rgw_access_key,
            rgw_secret_key: self.rgw_secret_key,
            churn_per_sec: self.churn_per_sec,
            faults,
            max_polls_kept: self.max_polls_kept,
            render_memo_bytes: self.render_memo_mib << 20,
            ..SimConfig::default()
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cfg = Cli::parse().into_config()?;
    let sim = SimCloud::start(cfg)
        .await
        .context("failed to start simcloud")?;
    // The first line of stdout is the URL: tests and benchmarks that spawn us read it.
    println!("{}", sim.url());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to install the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("Shutting down.");
    sim.shutdown().await;
    Ok(())
}
