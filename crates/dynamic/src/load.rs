//! Reading and validating definition files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pyexpr::{Expr, Value};
use sample::SampleType;

use crate::yaml::{self, Node, Val};
use crate::{
    AttrPath, Authentication, BarbicanSecret, Definition, ExtraMetadataField, Finding, Kind, Level,
    ResponseHandler, SecretForm, UrlPath, ValueSpec,
};

/// What an `authentication:` block declares.
enum AuthSpec {
    /// No authentication.
    None,
    /// Complete credentials in the YAML.
    Inline(Authentication),
    /// Some parts come from the Barbican secret.
    FromSecret(SecretForm),
}

/// Every key a definition may have (upstream's plus `authentication`).
const KNOWN_KEYS: &[&str] = &[
    "name",
    "sample_type",
    "unit",
    "endpoint_type",
    "url_path",
    "value_attribute",
    "metadata_fields",
    "skip_sample_values",
    "value_mapping",
    "default_value",
    "metadata_mapping",
    "preserve_mapped_metadata",
    "response_entries_key",
    "next_sample_url_attribute",
    "user_id_attribute",
    "project_id_attribute",
    "resource_id_attribute",
    "headers",
    "timeout",
    "response_handlers",
    "extra_metadata_fields",
    "extra_metadata_fields_cache_seconds",
    "extra_metadata_fields_skip",
    "namespaces",
    "module",
    "authentication_object",
    "authentication_parameters",
    "barbican_secret_id",
    "host_command",
    "authentication",
];

/// The result of loading definition directories.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Valid definitions for the central namespace, first of each name, in load order.
    pub definitions: Vec<Definition>,
    /// Everything worth reporting, in load order.
    pub findings: Vec<Finding>,
}

/// Load every `*.yaml` of `dirs` (each directory's files sorted by path, directories in the
/// given order — pass `[DEFAULT]` then `[polling] pollsters_definitions_dirs`). The first
/// definition of a name wins; later ones get an info finding. A directory that does not
/// exist is an info finding (the default `/etc/ceilometer/pollsters.d` usually does not).
pub fn load_dirs(dirs: &[PathBuf]) -> Loaded {
    let mut out = Loaded::default();
    let mut seen_dirs: Vec<&PathBuf> = Vec::new();
    for dir in dirs {
        if seen_dirs.contains(&dir) {
            continue;
        }
        seen_dirs.push(dir);
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                out.findings.push(Finding {
                    level: if e.kind() == std::io::ErrorKind::NotFound {
                        Level::Info
                    } else {
                        Level::Error
                    },
                    file: dir.clone(),
                    line: None,
                    definition: None,
                    key: None,
                    message: format!("cannot read dynamic pollster directory: {e}"),
                });
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    out.findings
                        .push(file_finding(&file, None, format!("cannot read file: {e}")));
                    continue;
                }
            };
            let (defs, findings) = parse_file(&file, &text);
            out.findings.extend(findings);
            for d in defs {
                if let Some(first) = out.definitions.iter().find(|x| x.name == d.name) {
                    out.findings.push(Finding {
                        level: Level::Info,
                        file: d.file.clone(),
                        line: Some(d.line),
                        definition: Some(d.name.clone()),
                        key: Some("name".into()),
                        message: format!(
                            "already defined in {}:{}; this definition is ignored",
                            first.file.display(),
                            first.line
                        ),
                    });
                    continue;
                }
                out.definitions.push(d);
            }
        }
    }
    for f in &out.findings {
        match f.level {
            Level::Info => tracing::info!("{f}"),
            Level::Warning => tracing::warn!("{f}"),
            Level::Error => tracing::error!("{f}"),
        }
    }
    out
}

fn file_finding(file: &Path, line: Option<usize>, message: String) -> Finding {
    Finding {
        level: Level::Error,
        file: file.to_owned(),
        line,
        definition: None,
        key: None,
        message,
    }
}

/// Parse one file's text: a YAML list of definitions. Returns the valid ones for the central
/// namespace and every finding. Duplicate names inside the file are left to [`load_dirs`].
pub fn parse_file(file: &Path, text: &str) -> (Vec<Definition>, Vec<Finding>) {
    let mut findings = Vec::new();
    let root = match yaml::load(text) {
        Ok(Some(r)) => r,
        Ok(None) => return (Vec::new(), findings),
        Err((line, msg)) => {
            findings.push(file_finding(file, Some(line), msg));
            return (Vec::new(), findings);
        }
    };
    let items = match &root.val {
        Val::Seq(items) => items.clone(),
        Val::Null => Vec::new(),
        _ => {
            findings.push(file_finding(
                file,
                Some(root.line),
                format!(
                    "a dynamic pollster file must be a YAML list of definitions, found {}",
                    root.kind()
                ),
            ));
            return (Vec::new(), findings);
        }
    };
    let mut defs = Vec::new();
    for item in &items {
        let mut cx = Cx {
            file,
            name: None,
            findings: Vec::new(),
        };
        let def = cx.definition(item);
        let failed = cx.findings.iter().any(|f| f.level == Level::Error);
        findings.extend(cx.findings);
        if let Some(d) = def.filter(|_| !failed) {
            defs.push(d);
        }
    }
    (defs, findings)
}

struct Cx<'a> {
    file: &'a Path,
    name: Option<String>,
    findings: Vec<Finding>,
}

/// `^([\w-]+)(\.[\w-]+)*(\.{[\w-]+})?$` with Python 3's Unicode `\w`.
fn valid_name(name: &str) -> bool {
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    };
    let parts: Vec<&str> = name.split('.').collect();
    let (last, rest) = match parts.split_last() {
        Some(x) => x,
        None => return false,
    };
    if rest.is_empty() {
        return word(last);
    }
    if !word(rest[0]) || !rest[1..].iter().all(|p| word(p)) {
        return false;
    }
    word(last)
        || last
            .strip_prefix('{')
            .and_then(|l| l.strip_suffix('}'))
            .is_some_and(word)
}

/// The `{attr}` of a multi-metric name.
fn multi_attr(name: &str) -> Option<&str> {
    let last = name.rsplit('.').next()?;
    last.strip_prefix('{')?.strip_suffix('}')
}

impl Cx<'_> {
    fn push(&mut self, level: Level, line: usize, key: Option<&str>, message: String) {
        self.findings.push(Finding {
            level,
            file: self.file.to_owned(),
            line: Some(line),
            definition: self.name.clone(),
            key: key.map(str::to_owned),
            message,
        });
    }

    fn err(&mut self, node: &Node, key: &str, message: impl Into<String>) {
        self.push(Level::Error, node.line, Some(key), message.into());
    }

    fn string(&mut self, def: &Node, key: &str, required: bool) -> Option<String> {
        match def.get(key) {
            None | Some(Node { val: Val::Null, .. }) => {
                if required {
                    self.push(
                        Level::Error,
                        def.line,
                        Some(key),
                        format!("required field '{key}' is missing"),
                    );
                }
                None
            }
            Some(n) => match &n.val {
                Val::Str(s) => Some(s.clone()),
                Val::Int(_) | Val::Float(_) | Val::Bool(_) => n.scalar_str(),
                _ => {
                    self.err(n, key, format!("must be a string, found {}", n.kind()));
                    None
                }
            },
        }
    }

    fn expr(&mut self, node: &Node, key: &str, text: &str) -> Option<Expr> {
        match Expr::parse(text) {
            Ok(e) => Some(e),
            Err(e) => {
                self.err(
                    node,
                    key,
                    format!("expression {text:?} is not supported: {e}"),
                );
                None
            }
        }
    }

    /// `a.b.c | op | op`.
    fn attr_path(&mut self, node: &Node, key: &str, text: &str) -> Option<AttrPath> {
        let mut parts = text.split('|');
        let path = parts.next().unwrap_or("").trim();
        let keys = if path == "." {
            Vec::new()
        } else {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                self.err(
                    node,
                    key,
                    format!(
                        "invalid attribute path {path:?} (use a.b.c, or '.' for the whole entry)"
                    ),
                );
                return None;
            }
            path.split('.').map(str::to_owned).collect()
        };
        let mut operations = Vec::new();
        let mut ok = true;
        for op in parts {
            let op = op.trim();
            if !op.contains("value") {
                self.err(
                    node,
                    key,
                    format!("the operation {op:?} must use the 'value' variable"),
                );
                ok = false;
                continue;
            }
            match self.expr(node, key, op) {
                Some(e) => operations.push(e),
                None => ok = false,
            }
        }
        ok.then(|| AttrPath {
            source: text.to_owned(),
            keys,
            operations,
        })
    }

    fn attr_key(&mut self, def: &Node, key: &str, default: Option<&str>) -> Option<AttrPath> {
        let text = self
            .string(def, key, false)
            .or(default.map(str::to_owned))?;
        let node = def.get(key).unwrap_or(def).clone();
        self.attr_path(&node, key, &text)
    }

    fn url_path(&mut self, node: &Node, key: &str, raw: String) -> UrlPath {
        // Upstream evals first and falls back to the literal on *any* failure, so a parse
        // failure here is not an error: `v2/servers` is simply a literal path.
        let _ = (node, key);
        UrlPath {
            expr: Expr::parse(&raw).ok(),
            raw,
        }
    }

    fn string_map(&mut self, def: &Node, key: &str) -> Vec<(String, String)> {
        let Some(n) = def.get(key) else {
            return Vec::new();
        };
        match &n.val {
            Val::Null => Vec::new(),
            Val::Map(m, _) => {
                let mut out = Vec::new();
                for (k, v) in m {
                    match v.scalar_str() {
                        Some(s) => out.push((k.clone(), s)),
                        None => self.err(
                            v,
                            key,
                            format!("value of '{k}' must be a string, found {}", v.kind()),
                        ),
                    }
                }
                out
            }
            _ => {
                self.err(n, key, format!("must be a mapping, found {}", n.kind()));
                Vec::new()
            }
        }
    }

    fn list<'n>(&mut self, def: &'n Node, key: &str) -> Option<&'n [Node]> {
        let n = def.get(key)?;
        match &n.val {
            Val::Null => None,
            Val::Seq(items) => Some(items),
            _ => {
                self.err(n, key, format!("must be a list, found {}", n.kind()));
                None
            }
        }
    }

    fn definition(&mut self, def: &Node) -> Option<Definition> {
        let Val::Map(entries, _) = &def.val else {
            self.push(
                Level::Error,
                def.line,
                None,
                format!("a definition must be a mapping, found {}", def.kind()),
            );
            return None;
        };
        self.name = None;
        let name = self.string(def, "name", true);
        self.name = name.clone();
        if let Some(n) = &name {
            if !valid_name(n) {
                self.err(def.get("name").unwrap_or(def), "name", format!(
                    "invalid pollster name {n:?}: it must match ^([\\w-]+)(\\.[\\w-]+)*(\\.{{[\\w-]+}})?$"
                ));
            }
        }
        for (k, v) in entries {
            if !KNOWN_KEYS.contains(&k.as_str()) {
                let hint = KNOWN_KEYS
                    .iter()
                    .map(|c| (strsim::jaro_winkler(k, c), c))
                    .filter(|(s, _)| *s > 0.85)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, c)| format!(" (did you mean '{c}'?)"))
                    .unwrap_or_default();
                self.push(
                    Level::Warning,
                    v.line,
                    Some(k),
                    format!("unknown key, ignored{hint}"),
                );
            }
        }

        // Namespaces first: a definition for another agent is not ours to validate.
        let namespaces = match def.get("namespaces") {
            None | Some(Node { val: Val::Null, .. }) => vec!["central".to_owned()],
            Some(n) => match &n.val {
                Val::Str(s) => vec![s.clone()],
                Val::Seq(items) => items.iter().filter_map(Node::scalar_str).collect(),
                _ => {
                    self.err(
                        n,
                        "namespaces",
                        format!("must be a string or a list, found {}", n.kind()),
                    );
                    return None;
                }
            },
        };
        if !namespaces.iter().any(|n| n == "central") {
            self.push(
                Level::Info,
                def.line,
                Some("namespaces"),
                format!(
                    "namespaces {namespaces:?} do not include 'central': not loaded by this agent"
                ),
            );
            return None;
        }
        if let Some(n) = def.get("host_command") {
            self.err(n, "host_command", "host_command pollsters run a shell command on the local node; they are not part of the central namespace and are not supported by this agent");
            return None;
        }

        let sample_type = self.string(def, "sample_type", true).and_then(|s| {
            let t = SampleType::parse(&s);
            if t.is_none() {
                let n = def.get("sample_type").unwrap_or(def).clone();
                self.err(
                    &n,
                    "sample_type",
                    format!("invalid sample type {s:?}: must be gauge, delta or cumulative"),
                );
            }
            t
        });
        let unit = self.string(def, "unit", true);
        let kind = self.kind(def);
        let url_path = self.string(def, "url_path", true).map(|raw| {
            let n = def.get("url_path").unwrap_or(def).clone();
            self.url_path(&n, "url_path", raw)
        });
        let value_attribute = self.value_spec(def, name.as_deref());

        let metadata_fields = match self.list(def, "metadata_fields") {
            Some(items) => {
                let mut out = Vec::new();
                for it in items {
                    match it.scalar_str() {
                        Some(s) => out.extend(self.attr_path(it, "metadata_fields", &s)),
                        None => self.err(
                            it,
                            "metadata_fields",
                            format!("entries must be strings, found {}", it.kind()),
                        ),
                    }
                }
                out
            }
            None => Vec::new(),
        };
        let skip_sample_values = self
            .list(def, "skip_sample_values")
            .map(|items| items.iter().map(Node::to_py).collect())
            .unwrap_or_default();
        let value_mapping = match def.get("value_mapping") {
            None => Vec::new(),
            Some(n) => match n.to_py() {
                Value::Dict(d) => d.to_vec(),
                Value::None => Vec::new(),
                _ => {
                    self.err(
                        n,
                        "value_mapping",
                        format!("must be a mapping, found {}", n.kind()),
                    );
                    Vec::new()
                }
            },
        };
        if !value_mapping.is_empty() && matches!(value_attribute, Some(ValueSpec::Multi { .. })) {
            let n = def.get("value_mapping").unwrap_or(def).clone();
            self.push(
                Level::Warning,
                n.line,
                Some("value_mapping"),
                "value_mapping is ignored by multi-metric pollsters (as upstream)".into(),
            );
        }
        let default_value = def.get("default_value").map_or(Value::Int(-1), Node::to_py);
        let metadata_mapping = self.string_map(def, "metadata_mapping");
        let preserve_mapped_metadata = match def.get("preserve_mapped_metadata") {
            None => true,
            Some(Node {
                val: Val::Bool(b), ..
            }) => *b,
            Some(n) => {
                self.err(
                    n,
                    "preserve_mapped_metadata",
                    format!("must be true or false, found {}", n.kind()),
                );
                true
            }
        };
        let response_entries_key = self.attr_key(def, "response_entries_key", None);
        let next_sample_url_attribute = self.attr_key(def, "next_sample_url_attribute", None);
        let user_id_attribute = self.attr_key(def, "user_id_attribute", Some("user_id"));
        let project_id_attribute = self.attr_key(def, "project_id_attribute", Some("project_id"));
        let resource_id_attribute = self.attr_key(def, "resource_id_attribute", Some("id"));
        let headers = self.string_map(def, "headers");
        let timeout = match def.get("timeout") {
            None => Some(Duration::from_secs(30)),
            Some(n) => match &n.val {
                Val::Int(i) if *i > 0 => Some(Duration::from_secs(i.unsigned_abs())),
                Val::Float(f) if *f > 0.0 && f.is_finite() && *f < 1e9 => {
                    Some(Duration::from_secs_f64(*f))
                }
                _ => {
                    self.err(n, "timeout", "must be a positive number of seconds");
                    None
                }
            },
        };
        let response_handlers = self.handlers(def);
        let extra_metadata_fields = self.extra_metadata(def, value_attribute.as_ref());
        let extra_metadata_fields_cache_seconds =
            match def.get("extra_metadata_fields_cache_seconds") {
                None => 3600,
                Some(Node {
                    val: Val::Int(i), ..
                }) if *i >= 0 => i.unsigned_abs(),
                Some(n) => {
                    self.err(
                        n,
                        "extra_metadata_fields_cache_seconds",
                        "must be a non-negative integer",
                    );
                    3600
                }
            };
        let extra_metadata_fields_skip = match self.list(def, "extra_metadata_fields_skip") {
            None => vec![serde_json::json!({})],
            Some(items) => {
                for it in items {
                    if !matches!(it.val, Val::Map(..)) {
                        self.err(
                            it,
                            "extra_metadata_fields_skip",
                            format!("entries must be mappings, found {}", it.kind()),
                        );
                    }
                }
                items.iter().map(Node::to_json).collect()
            }
        };

        Some(Definition {
            name: name?,
            sample_type: sample_type?,
            unit: unit?,
            kind: kind?,
            url_path: url_path?,
            value_attribute: value_attribute?,
            metadata_fields,
            skip_sample_values,
            value_mapping,
            default_value,
            metadata_mapping,
            preserve_mapped_metadata,
            response_entries_key,
            next_sample_url_attribute,
            user_id_attribute: user_id_attribute?,
            project_id_attribute: project_id_attribute?,
            resource_id_attribute: resource_id_attribute?,
            headers,
            timeout: timeout?,
            response_handlers: response_handlers?,
            extra_metadata_fields,
            extra_metadata_fields_cache_seconds,
            extra_metadata_fields_skip,
            namespaces,
            file: self.file.to_owned(),
            line: def.line,
        })
    }

    fn value_spec(&mut self, def: &Node, name: Option<&str>) -> Option<ValueSpec> {
        let text = self.string(def, "value_attribute", true)?;
        let node = def.get("value_attribute").unwrap_or(def).clone();
        let multi = name.and_then(multi_attr);
        match multi {
            None => self
                .attr_path(&node, "value_attribute", &text)
                .map(ValueSpec::Single),
            Some(attr) => {
                let t = text.trim_start();
                let parsed = t.strip_prefix('[').and_then(|r| r.split_once("]."));
                let Some((list, field)) = parsed else {
                    self.err(&node, "value_attribute", format!(
                        "multi-metric pollster (name ends with '.{{{attr}}}') needs value_attribute in the form '[list_attribute].field', found {text:?}"
                    ));
                    return None;
                };
                let list = self.attr_path(&node, "value_attribute", list.trim())?;
                let field = self.attr_path(&node, "value_attribute", field)?;
                Some(ValueSpec::Multi {
                    list,
                    field,
                    name_attribute: attr.to_owned(),
                })
            }
        }
    }

    fn handlers(&mut self, def: &Node) -> Option<Vec<ResponseHandler>> {
        let Some(items) = self.list(def, "response_handlers") else {
            return Some(vec![ResponseHandler::Json]);
        };
        let mut out = Vec::new();
        let mut ok = true;
        for it in items {
            let h = match it.scalar_str().as_deref() {
                Some("json") => ResponseHandler::Json,
                Some("text") => ResponseHandler::Text,
                Some("xml") => ResponseHandler::Xml,
                other => {
                    self.err(
                        it,
                        "response_handlers",
                        format!("unknown response handler {other:?}: must be json, xml or text"),
                    );
                    ok = false;
                    continue;
                }
            };
            if out.contains(&h) {
                self.err(it, "response_handlers", "duplicate response handler");
                ok = false;
            }
            out.push(h);
        }
        if out.is_empty() && ok {
            out.push(ResponseHandler::Json);
        }
        ok.then_some(out)
    }

    fn kind(&mut self, def: &Node) -> Option<Kind> {
        let module = def.get("module");
        let auth = def.get("authentication");
        let secret_id = self.secret_id(def)?;
        let secret_line = def.get("barbican_secret_id").map_or(def.line, |n| n.line);
        if module.is_none() && auth.is_none() {
            if def.get("authentication_object").is_some() {
                let n = def.get("authentication_object").unwrap_or(def).clone();
                self.err(&n, "authentication_object", "authentication_object without module; use the 'authentication' key instead (see below)");
                return None;
            }
            if secret_id.is_some() {
                self.push(Level::Error, secret_line, Some("barbican_secret_id"), "barbican_secret_id gives credentials to a non-OpenStack definition: add an `authentication:` block saying how the secret is used (`{type: bearer}`, `{type: basic}` or `{type: headers, headers: {Name: ~}}`, leaving out what the secret holds)".into());
                return None;
            }
            let endpoint_type = self.string(def, "endpoint_type", true)?;
            return Some(Kind::OpenStack { endpoint_type });
        }
        if let Some(a) = auth {
            return match (self.authentication(a, secret_id.is_some())?, secret_id) {
                (AuthSpec::Inline(authentication), secret) => {
                    if secret.is_some() {
                        self.push(Level::Warning, secret_line, Some("barbican_secret_id"), "`authentication:` already holds complete credentials, which win (as upstream's authentication_parameters do): barbican_secret_id is ignored; leave out the token, password or header value to read it from Barbican".into());
                    }
                    Some(Kind::NonOpenStack {
                        authentication: Some(authentication),
                        barbican: None,
                    })
                }
                (AuthSpec::FromSecret(form), Some(secret_id)) => Some(Kind::NonOpenStack {
                    authentication: None,
                    barbican: Some(BarbicanSecret { secret_id, form }),
                }),
                (AuthSpec::FromSecret(_), None) => None,
                (AuthSpec::None, Some(_)) => {
                    self.push(Level::Error, secret_line, Some("barbican_secret_id"), "barbican_secret_id needs `authentication:` of type bearer, basic or headers to say how the secret is used".into());
                    None
                }
                (AuthSpec::None, None) => Some(Kind::NonOpenStack {
                    authentication: None,
                    barbican: None,
                }),
            };
        }
        // Upstream form: a Python class. Only requests' HTTPBasicAuth with inline
        // parameters or a Barbican secret can be converted without running Python.
        let module_name = module.and_then(Node::scalar_str).unwrap_or_default();
        let class = def
            .get("authentication_object")
            .and_then(Node::scalar_str)
            .unwrap_or_default();
        let params = self
            .string(def, "authentication_parameters", false)
            .filter(|p| !p.is_empty());
        let line = module.map_or(def.line, |m| m.line);
        let how = "write `authentication: {type: basic, username: ..., password: ...}`, `{type: bearer, token: ...}` or `{type: headers, headers: {Name: value}}` instead of module/authentication_object";
        if module_name == "requests.auth" && class == "HTTPBasicAuth" {
            if let Some(p) = params {
                let parts: Vec<&str> = p.split(',').collect();
                if let [u, pw] = parts.as_slice() {
                    self.push(Level::Warning, line, Some("module"), format!(
                        "module/authentication_object (a Python class) is not supported; requests.auth.HTTPBasicAuth was converted to basic authentication — {how}"
                    ));
                    if secret_id.is_some() {
                        self.push(Level::Warning, secret_line, Some("barbican_secret_id"), "authentication_parameters override the Barbican secret (as upstream): barbican_secret_id is ignored".into());
                    }
                    return Some(Kind::NonOpenStack {
                        authentication: Some(Authentication::Basic {
                            username: u.trim().to_owned(),
                            password: pw.trim().to_owned(),
                        }),
                        barbican: None,
                    });
                }
                self.push(
                    Level::Error,
                    line,
                    Some("authentication_parameters"),
                    "HTTPBasicAuth needs 'user,password' in authentication_parameters".into(),
                );
                return None;
            }
            if let Some(secret_id) = secret_id {
                self.push(Level::Warning, line, Some("module"),
                    "module/authentication_object (a Python class) is not supported; requests.auth.HTTPBasicAuth was converted to basic authentication with upstream's `user,password` read from the Barbican secret — or write `authentication: {type: basic}` (the secret then holds `user:password`)".into()
                );
                return Some(Kind::NonOpenStack {
                    authentication: None,
                    barbican: Some(BarbicanSecret {
                        secret_id,
                        form: SecretForm::HttpBasicAuthArgs,
                    }),
                });
            }
        }
        self.push(Level::Error, line, Some("module"), format!(
            "module/authentication_object name a Python class ({module_name}.{class}) that this agent cannot run; {how}"
        ));
        None
    }

    /// `barbican_secret_id`: `Some(None)` when absent or empty, `None` when unusable.
    fn secret_id(&mut self, def: &Node) -> Option<Option<String>> {
        let Some(id) = self
            .string(def, "barbican_secret_id", false)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
        else {
            return Some(None);
        };
        // It goes into a URL path: a UUID (letters, digits, '-') and nothing else.
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            let n = def.get("barbican_secret_id").unwrap_or(def).clone();
            self.err(
                &n,
                "barbican_secret_id",
                "must be the secret's UUID (letters, digits and '-'), not a URL or path",
            );
            return None;
        }
        Some(Some(id))
    }

    /// The `authentication:` block; fields left out are read from Barbican when
    /// `has_secret` (else they are errors).
    fn authentication(&mut self, a: &Node, has_secret: bool) -> Option<AuthSpec> {
        if matches!(a.val, Val::Null) {
            return Some(AuthSpec::None);
        }
        if !matches!(a.val, Val::Map(..)) {
            self.err(
                a,
                "authentication",
                format!("must be a mapping, found {}", a.kind()),
            );
            return None;
        }
        let ty = a.get("type").and_then(Node::scalar_str).unwrap_or_default();
        let field = |k: &str| -> Option<String> {
            a.get(k)
                .and_then(Node::scalar_str)
                .filter(|v| !v.is_empty())
        };
        let or_secret = " (or set barbican_secret_id to read it from a Barbican secret)";
        match ty.as_str() {
            "basic" => match (field("username"), field("password")) {
                (Some(username), Some(password)) => Some(AuthSpec::Inline(Authentication::Basic {
                    username,
                    password,
                })),
                (username, None) if has_secret => {
                    Some(AuthSpec::FromSecret(SecretForm::Basic { username }))
                }
                (None, Some(_)) => {
                    self.err(a, "authentication", "type basic needs 'username'");
                    None
                }
                (_, None) => {
                    self.err(
                        a,
                        "authentication",
                        format!("type basic needs 'username' and 'password'{or_secret}"),
                    );
                    None
                }
            },
            "bearer" => match field("token") {
                Some(token) => Some(AuthSpec::Inline(Authentication::Bearer { token })),
                None if has_secret => Some(AuthSpec::FromSecret(SecretForm::Bearer)),
                None => {
                    self.err(
                        a,
                        "authentication",
                        format!("type bearer needs 'token'{or_secret}"),
                    );
                    None
                }
            },
            "headers" => {
                let h = self.auth_headers(a)?;
                if h.is_empty() {
                    self.err(
                        a,
                        "authentication",
                        "type headers needs a non-empty 'headers' mapping",
                    );
                    return None;
                }
                if h.iter().all(|(_, v)| v.is_some()) {
                    return Some(AuthSpec::Inline(Authentication::Headers(
                        h.into_iter()
                            .map(|(k, v)| (k, v.unwrap_or_default()))
                            .collect(),
                    )));
                }
                if has_secret {
                    return Some(AuthSpec::FromSecret(SecretForm::Headers(h)));
                }
                let empty: Vec<&str> = h
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| k.as_str())
                    .collect();
                self.err(
                    a,
                    "authentication",
                    format!("headers {empty:?} have no value{or_secret}"),
                );
                None
            }
            "none" => Some(AuthSpec::None),
            other => {
                self.err(a, "authentication", format!("unknown authentication type {other:?}: must be basic, bearer, headers or none"));
                None
            }
        }
    }

    /// `authentication.headers`: values as text; null or empty = from the secret.
    #[allow(clippy::type_complexity)]
    fn auth_headers(&mut self, a: &Node) -> Option<Vec<(String, Option<String>)>> {
        let Some(n) = a.get("headers") else {
            return Some(Vec::new());
        };
        match &n.val {
            Val::Null => Some(Vec::new()),
            Val::Map(m, _) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (k, v) in m {
                    match &v.val {
                        Val::Null => out.push((k.clone(), None)),
                        _ => match v.scalar_str() {
                            Some(s) if s.is_empty() => out.push((k.clone(), None)),
                            Some(s) => out.push((k.clone(), Some(s))),
                            None => {
                                self.err(
                                    v,
                                    "authentication",
                                    format!(
                                        "value of header '{k}' must be a string, found {}",
                                        v.kind()
                                    ),
                                );
                                ok = false;
                            }
                        },
                    }
                }
                ok.then_some(out)
            }
            _ => {
                self.err(
                    n,
                    "authentication",
                    format!("headers must be a mapping, found {}", n.kind()),
                );
                None
            }
        }
    }

    fn extra_metadata(
        &mut self,
        def: &Node,
        parent_value: Option<&ValueSpec>,
    ) -> Vec<ExtraMetadataField> {
        let Some(items) = self.list(def, "extra_metadata_fields") else {
            return Vec::new();
        };
        let key = "extra_metadata_fields";
        let mut out = Vec::new();
        for it in items {
            if !matches!(it.val, Val::Map(..)) {
                self.err(
                    it,
                    key,
                    format!("entries must be mappings, found {}", it.kind()),
                );
                continue;
            }
            let Some(name) = it.get("name").and_then(Node::scalar_str) else {
                self.err(it, key, "an extra metadata field needs a 'name'");
                continue;
            };
            let Some(url) = it.get("url_path").and_then(Node::scalar_str) else {
                self.err(
                    it,
                    key,
                    format!("extra metadata field '{name}' needs a 'url_path'"),
                );
                continue;
            };
            let url_path = self.url_path(it, key, url);
            let value_text = it
                .get("value")
                .or_else(|| it.get("value_attribute"))
                .and_then(Node::scalar_str);
            let value = match (value_text, parent_value) {
                (Some(t), _) => self.attr_path(it, key, &t),
                (None, Some(ValueSpec::Single(p))) => Some(p.clone()),
                (None, _) => {
                    self.err(
                        it,
                        key,
                        format!("extra metadata field '{name}' needs a 'value'"),
                    );
                    None
                }
            };
            let response_entries_key = it
                .get("response_entries_key")
                .and_then(Node::scalar_str)
                .and_then(|t| self.attr_path(it, key, &t));
            let headers = self.string_map(it, "headers");
            let skip_sample_values = match it.get("skip_sample_values").map(|n| &n.val) {
                Some(Val::Seq(v)) => v.iter().map(Node::to_py).collect(),
                _ => Vec::new(),
            };
            if let Some(value) = value {
                out.push(ExtraMetadataField {
                    name,
                    url_path,
                    value,
                    response_entries_key,
                    endpoint_type: it.get("endpoint_type").and_then(Node::scalar_str),
                    headers,
                    skip_sample_values,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn name_regex() {
        for ok in [
            "a",
            "dynamic.network.services.vpn.connections",
            "x-y_z.{category}",
            "é.b",
            "a.{b-c}",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", ".a", "a.", "a..b", "a b", "{x}", "a.{x}.b", "a.{}", "a/b",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
