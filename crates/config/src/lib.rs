//! Readers for the files Ceilometer operators already have: `ceilometer.conf` (oslo.config's
//! INI rules) and `polling.yaml` / Kilo `pipeline.yaml`.
//!
//! Loading never stops at the first problem: [`load`] collects every error and warning, each
//! naming file, line, section and option (or source), so `ceilometer-central validate` can
//! print them all at once. Secret values never appear in a finding.
#![forbid(unsafe_code)]

pub mod ini;
pub mod mask;
pub mod meters;
pub mod options;
pub mod polling;
pub mod store;

use std::path::{Path, PathBuf};

pub use mask::mask_url;
pub use meters::{fnmatch, MeterSelector};
pub use options::{CeilometerConf, Env, Interface, MeterDictForm, OutagePolicy};
pub use polling::{DefinitionFormat, PollingDefinition, Sink, Source};
pub use store::{Diagnostic, Severity};

/// Where oslo.config looks for `ceilometer.conf` when no `--config-file` is given, in order.
pub fn default_search_dirs(home: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(h) = home {
        dirs.push(h.join(".ceilometer"));
        dirs.push(h.to_owned());
    }
    dirs.push(PathBuf::from("/etc/ceilometer"));
    dirs.push(PathBuf::from("/etc"));
    dirs
}

/// oslo.config's default files: the first `ceilometer.conf`, then the first
/// `ceilometer-polling.conf` (the program name of the agent we replace), then the first
/// `ceilometer-central.conf`, each followed by the `*.conf` of its `.conf.d` directory.
pub fn default_config_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for name in [
        "ceilometer.conf",
        "ceilometer-polling.conf",
        "ceilometer-central.conf",
    ] {
        if let Some(f) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
            out.push(f);
        }
        if let Some(d) = dirs
            .iter()
            .map(|d| d.join(format!("{name}.d")))
            .find(|p| p.is_dir())
        {
            out.extend(conf_dir_files(&d).unwrap_or_default());
        }
    }
    out
}

/// Every `*.conf` in `dir`, sorted (oslo's `--config-dir`).
pub fn conf_dir_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadRequest {
    /// Configuration files in the order given (`--config-dir` already expanded in place).
    /// Empty means: search the default locations.
    pub config_files: Vec<PathBuf>,
    /// `--config-dir` directories, for `find_file` of relative paths.
    pub config_dirs: Vec<PathBuf>,
    /// `--polling-namespaces`, overriding `[DEFAULT] polling_namespaces`.
    pub namespaces: Option<Vec<String>>,
    /// Environment (region, interface, hostname).
    pub env: Env,
    /// Home directory for the default search path.
    pub home: Option<PathBuf>,
    /// Pollster names meters are checked against (warnings for patterns matching none).
    pub known_meters: Vec<String>,
}

/// A usable configuration and its warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// `ceilometer.conf` and friends, typed.
    pub conf: CeilometerConf,
    /// The polling definition.
    pub polling: PollingDefinition,
    /// The configuration files read, in order.
    pub files: Vec<PathBuf>,
    /// Warnings (no errors: those make [`load`] fail).
    pub warnings: Vec<Diagnostic>,
}

/// Loading failed: every finding, errors and warnings, in the order found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} problem(s) in the configuration", .0.iter().filter(|d| d.severity == Severity::Error).count())]
pub struct LoadError(pub Vec<Diagnostic>);

/// Load and check everything: config files, typed options, the polling definition.
pub fn load(req: &LoadRequest) -> Result<Loaded, LoadError> {
    let mut diags = Vec::new();
    let search = default_search_dirs(req.home.as_deref());
    let files = if req.config_files.is_empty() {
        let found = default_config_files(&search);
        if found.is_empty() {
            diags.push(Diagnostic::error(format!(
                "no configuration file given and no ceilometer.conf found in {}; pass --config-file",
                search.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
        found
    } else {
        req.config_files.clone()
    };

    let mut parsed = Vec::new();
    for f in &files {
        match std::fs::read(f) {
            Err(e) => diags.push(
                Diagnostic::error(format!("cannot read configuration file: {e}")).at(f, None),
            ),
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                match ini::IniFile::parse(f, &text) {
                    Ok(p) => parsed.push(p),
                    Err(e) => {
                        diags.push(Diagnostic::error(e.message.clone()).at(&e.path, Some(e.line)))
                    }
                }
            }
        }
    }

    let mut store = store::Store::new(parsed);
    let mut conf = CeilometerConf::from_store(&mut store, &req.env);
    diags.extend(store.take_diagnostics());
    if let Some(ns) = &req.namespaces {
        // Upstream de-duplicates; "central" alone is what we run.
        let mut ns: Vec<String> = ns.iter().flat_map(|n| store::split_list(n)).collect();
        ns.dedup();
        for n in ns
            .iter()
            .filter(|n| !options::SUPPORTED_NAMESPACES.contains(&n.as_str()))
        {
            diags.push(Diagnostic::error(format!(
                "--polling-namespaces {n}: not implemented; ceilometer-central runs the central namespace only (run ceilometer-polling for {n})"
            )));
        }
        conf.default.polling_namespaces = ns;
    }

    // Where relative definition files are looked for: oslo's find_file order.
    let mut find_dirs: Vec<PathBuf> = req.config_dirs.clone();
    find_dirs.extend(
        files
            .iter()
            .rev()
            .filter_map(|f| f.parent().map(Path::to_owned)),
    );
    find_dirs.extend(search.iter().cloned());
    let find = |name: &str| -> Option<PathBuf> {
        let p = Path::new(name);
        if p.is_absolute() || p.exists() {
            return p.exists().then(|| p.to_owned());
        }
        find_dirs.iter().map(|d| d.join(name)).find(|c| c.is_file())
    };

    let (path, format) = if conf.polling.cfg_file_explicit {
        (find(&conf.polling.cfg_file), DefinitionFormat::Polling)
    } else if let Some(p) = &conf.default.pipeline_cfg_file {
        (find(p), DefinitionFormat::KiloPipeline)
    } else if let Some(p) = find(&conf.polling.cfg_file) {
        (Some(p), DefinitionFormat::Polling)
    } else {
        (find("pipeline.yaml"), DefinitionFormat::KiloPipeline)
    };
    let mut polling = None;
    match path {
        None => {
            let wanted = match format {
                DefinitionFormat::Polling => conf.polling.cfg_file.clone(),
                DefinitionFormat::KiloPipeline => conf
                    .default
                    .pipeline_cfg_file
                    .clone()
                    .unwrap_or_else(|| "polling.yaml (or a Kilo pipeline.yaml)".into()),
            };
            diags.push(Diagnostic::error(format!(
                "polling definition {wanted} not found; looked in {}",
                find_dirs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Some(p) => match std::fs::read(&p) {
            Err(e) => diags.push(
                Diagnostic::error(format!("cannot read polling definition: {e}")).at(&p, None),
            ),
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let (def, d) = polling::parse_definition(&p, &text, format);
                diags.extend(d);
                if let Some(def) = &def {
                    let known: Vec<&str> = req.known_meters.iter().map(String::as_str).collect();
                    if !known.is_empty() {
                        diags.extend(polling::check_meters_known(def, &known));
                    }
                }
                polling = def;
            }
        },
    }

    match polling {
        Some(polling) if !options::has_errors(&diags) => Ok(Loaded {
            conf,
            polling,
            files,
            warnings: diags,
        }),
        _ => {
            if !options::has_errors(&diags) {
                diags.push(Diagnostic::error(
                    "the polling definition could not be loaded",
                ));
            }
            Err(LoadError(diags))
        }
    }
}
