//! `ceilometer-central`: boots the agent; all logic lives in the library crates.
//!
//! tracing → config → subcommand. Exit status: 0 success, 1 configuration problems or a
//! failed run, 2 bad command-line arguments.
#![forbid(unsafe_code)]

use ceilometer_central::{cli, engine, group_cmd, logging, outputs, ring_cmd, run, validate};

use std::process::ExitCode;

use ceilometer_config::{Env, LoadRequest};
use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command, CommonArgs, GroupCommand};

fn known_meters() -> Vec<String> {
    pollsters::CENTRAL_POLLSTERS
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn load_request(common: &CommonArgs, matches: &clap::ArgMatches) -> anyhow::Result<LoadRequest> {
    Ok(LoadRequest {
        config_files: common.ordered_config_files(matches)?,
        config_dirs: common.config_dir.clone(),
        namespaces: common.polling_namespaces.clone(),
        env: Env::from_process(),
        home: std::env::var_os("HOME").map(Into::into),
        known_meters: known_meters(),
    })
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let request = || {
        load_request(&cli.common, &matches).map_err(|e| {
            eprintln!("ceilometer-central: {e:#}");
            ExitCode::from(2)
        })
    };
    let result = match &cli.command {
        Some(Command::Ring(args))
            if args.members.is_empty() && live_ring_wanted(args, &cli.common) =>
        {
            request().map(|r| cmd_ring_live(args, &r))
        }
        Some(Command::Ring(args)) => Ok(cmd_ring(args)),
        Some(Command::Demo(args)) => Ok(cmd_demo(args.clone(), &cli.common)),
        Some(Command::Status { backend_url, group }) => {
            if backend_url.is_some()
                && cli.common.config_file.is_empty()
                && cli.common.config_dir.is_empty()
            {
                Ok(cmd_status(None, backend_url.as_deref(), group.as_deref()))
            } else {
                request().map(|r| match load_or_report(&r) {
                    Some(l) => cmd_status(Some(&l), backend_url.as_deref(), group.as_deref()),
                    None => ExitCode::from(1),
                })
            }
        }
        Some(Command::Group(GroupCommand::Members { backend_url, group })) => {
            // Only --backend-url: no configuration needed.
            if backend_url.is_some()
                && cli.common.config_file.is_empty()
                && cli.common.config_dir.is_empty()
            {
                Ok(cmd_group_members(
                    None,
                    backend_url.as_deref(),
                    group.as_deref(),
                ))
            } else {
                request().map(|r| match load_or_report(&r) {
                    Some(l) => {
                        cmd_group_members(Some(&l), backend_url.as_deref(), group.as_deref())
                    }
                    None => ExitCode::from(1),
                })
            }
        }
        Some(Command::Validate) => request().map(|r| cmd_validate(&r)),
        Some(Command::Run) | None => request().map(|r| cmd_run(&cli.common, &r)),
    };
    result.unwrap_or_else(|code| code)
}

fn live_ring_wanted(args: &ring_cmd::RingArgs, common: &CommonArgs) -> bool {
    args.group.is_some()
        || args.backend_url.is_some()
        || !common.config_file.is_empty()
        || !common.config_dir.is_empty()
}

/// Load the configuration or print every problem; `None` when it has errors.
fn load_or_report(req: &LoadRequest) -> Option<ceilometer_config::Loaded> {
    match ceilometer_config::load(req) {
        Ok(l) => Some(l),
        Err(e) => {
            let mut out = String::new();
            validate::print_diagnostics(&e.0, &mut out);
            eprint!("{out}");
            None
        }
    }
}

fn cmd_group_members(
    loaded: Option<&ceilometer_config::Loaded>,
    backend_url: Option<&str>,
    group: Option<&str>,
) -> ExitCode {
    let result = group_cmd::target(loaded, backend_url, group).and_then(|t| {
        let members = group_cmd::read_members(&t)?;
        group_cmd::print_members(&t, &members, std::io::stdout().lock())?;
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceilometer-central group members: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn cmd_status(
    loaded: Option<&ceilometer_config::Loaded>,
    backend_url: Option<&str>,
    group: Option<&str>,
) -> ExitCode {
    let result = group_cmd::target(loaded, backend_url, group).and_then(|t| {
        let (members, status, done) = group_cmd::read_status(&t)?;
        group_cmd::print_status(&t, &members, &status, &done, std::io::stdout().lock())?;
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceilometer-central status: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `ring` over the live membership: members from Redis, keys from the command line or stdin.
fn cmd_ring_live(args: &ring_cmd::RingArgs, req: &LoadRequest) -> ExitCode {
    let loaded = if req.config_files.is_empty() && args.backend_url.is_some() {
        None
    } else {
        match load_or_report(req) {
            Some(l) => Some(l),
            None => return ExitCode::from(1),
        }
    };
    let members = group_cmd::target(
        loaded.as_ref(),
        args.backend_url.as_deref(),
        args.group.as_deref(),
    )
    .and_then(|t| group_cmd::read_members(&t));
    let members = match members {
        Ok(m) => m,
        Err(e) => {
            eprintln!("ceilometer-central ring: {e:#}");
            return ExitCode::from(1);
        }
    };
    let mut live = args.clone();
    live.members = group_cmd::ring_members(&members);
    // Our agents' ring, unless asked for another.
    live.partitions.get_or_insert(coordination::RING_PARTITIONS);
    if live.members.is_empty() {
        eprintln!("ceilometer-central ring: the group has no live ceilometer-central member; every key prints an empty line");
    }
    let result = if args.keys.is_empty() {
        let stdin = std::io::stdin();
        ring_cmd::run(&live, stdin.lock(), std::io::stdout().lock())
    } else {
        let input: String = args.keys.iter().map(|k| format!("{k}\n")).collect();
        ring_cmd::run(&live, input.as_bytes(), std::io::stdout().lock())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceilometer-central ring: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

fn cmd_demo(args: ceilometer_central::demo::DemoArgs, common: &CommonArgs) -> ExitCode {
    let plan = logging::LogPlan {
        debug: common.debug,
        file: common.log_file.clone(),
        syslog_facility: None,
        journal: false,
        json: false,
        stderr: common.debug,
    };
    if plan.stderr || plan.file.is_some() {
        let _ = logging::init(&plan);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ceilometer-central demo: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(ceilometer_central::demo::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceilometer-central demo: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn cmd_ring(args: &ring_cmd::RingArgs) -> ExitCode {
    let stdout = std::io::stdout();
    let result = if args.keys.is_empty() {
        let stdin = std::io::stdin();
        ring_cmd::run(args, stdin.lock(), std::io::BufWriter::new(stdout.lock()))
    } else {
        let input: String = args.keys.iter().map(|k| format!("{k}\n")).collect();
        ring_cmd::run(
            args,
            input.as_bytes(),
            std::io::BufWriter::new(stdout.lock()),
        )
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ceilometer-central ring: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

fn cmd_validate(req: &LoadRequest) -> ExitCode {
    let mut out = String::new();
    match ceilometer_config::load(req) {
        Ok(mut loaded) => {
            let (known, more) = engine::meter_checks(&loaded);
            loaded.warnings.extend(more);
            let publishers = validate::publisher_checks(&loaded, &engine::build_publisher);
            loaded.warnings.extend(publishers);
            validate::print_diagnostics(&loaded.warnings, &mut out);
            eprint!("{out}");
            let errors = loaded
                .warnings
                .iter()
                .filter(|d| d.severity == ceilometer_config::Severity::Error)
                .count();
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            print!("{}", validate::summary(&loaded, &known));
            if errors > 0 {
                eprintln!(
                    "FAILED: {errors} error(s), {} warning(s)",
                    loaded.warnings.len() - errors
                );
                return ExitCode::from(1);
            }
            println!("OK: {} warning(s)", loaded.warnings.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            validate::print_diagnostics(&e.0, &mut out);
            eprint!("{out}");
            let errors =
                e.0.iter()
                    .filter(|d| d.severity == ceilometer_config::Severity::Error)
                    .count();
            eprintln!(
                "FAILED: {errors} error(s), {} warning(s)",
                e.0.len() - errors
            );
            ExitCode::from(1)
        }
    }
}

fn cmd_run(common: &CommonArgs, req: &LoadRequest) -> ExitCode {
    let Some(loaded) = load_or_report(req) else {
        eprintln!("ceilometer-central: the configuration has errors; not starting (see `ceilometer-central validate`)");
        return ExitCode::from(1);
    };
    let plan = match logging::LogPlan::new(&loaded.conf.logging, common) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ceilometer-central: {e:#}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = logging::init(&plan) {
        eprintln!("ceilometer-central: {e:#}");
        return ExitCode::from(1);
    }
    let (_, meter_findings) = engine::meter_checks(&loaded);
    for w in loaded.warnings.iter().chain(&meter_findings) {
        tracing::warn!(finding = %w, "Configuration warning.");
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        group = %validate::group_name(&loaded),
        sources = loaded.polling.sources.len(),
        "Starting ceilometer-central."
    );
    let reload_req = req.clone();
    let builders = run::Builders {
        poller: Box::new(engine::build_poller),
        router: Box::new(|l| outputs::build_router(l, &engine::build_publisher)),
        reload: Box::new(move || ceilometer_config::load(&reload_req)),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(loaded.conf.central.worker_threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ceilometer-central: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run::run(loaded, builders)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "ceilometer-central failed to start.");
            ExitCode::from(1)
        }
    }
}
