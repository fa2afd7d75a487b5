//! Reading and validating definition files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pyexpr::{Expr, Value};
use sample::SampleType;

use crate::yaml::{self, Node, Val};
use crate::{
    AttrPath, Authentication, Definition, ExtraMetadataField, Finding, Kind, Level,
    ResponseHandler, UrlPath, ValueSpec,
};

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
        let barbican_secret_id = self
            .string(def, "barbican_secret_id", false)
            .unwrap_or_default();
        if module.is_none() && auth.is_none() {
            if def.get("authentication_object").is_some() {
                let n = def.get("authentication_object").unwrap_or(def).clone();
                self.err(&n, "authentication_object", "authentication_object without module; use the 'authentication' key instead (see below)");
                return None;
            }
            let endpoint_type = self.string(def, "endpoint_type", true)?;
            return Some(Kind::OpenStack { endpoint_type });
        }
        if let Some(a) = auth {
            return self
                .authentication(a)
                .map(|authentication| Kind::NonOpenStack {
                    authentication,
                    barbican_secret_id,
                });
        }
        // Upstream form: a Python class. Only requests' HTTPBasicAuth with inline
        // parameters can be converted without running Python.
        let module_name = module.and_then(Node::scalar_str).unwrap_or_default();
        let class = def
            .get("authentication_object")
            .and_then(Node::scalar_str)
            .unwrap_or_default();
        let params = self.string(def, "authentication_parameters", false);
        let line = module.map_or(def.line, |m| m.line);
        let how = "write `authentication: {type: basic, username: ..., password: ...}`, `{type: bearer, token: ...}` or `{type: headers, headers: {Name: value}}` instead of module/authentication_object";
        if module_name == "requests.auth" && class == "HTTPBasicAuth" {
            if let Some(p) = params {
                let parts: Vec<&str> = p.split(',').collect();
                if let [u, pw] = parts.as_slice() {
                    self.push(Level::Warning, line, Some("module"), format!(
                        "module/authentication_object (a Python class) is not supported; requests.auth.HTTPBasicAuth was converted to basic authentication — {how}"
                    ));
                    return Some(Kind::NonOpenStack {
                        authentication: Some(Authentication::Basic {
                            username: u.trim().to_owned(),
                            password: pw.trim().to_owned(),
                        }),
                        barbican_secret_id,
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
        }
        self.push(Level::Error, line, Some("module"), format!(
            "module/authentication_object name a Python class ({module_name}.{class}) that this agent cannot run; {how}"
        ));
        None
    }

    fn authentication(&mut self, a: &Node) -> Option<Option<Authentication>> {
        if matches!(a.val, Val::Null) {
            return Some(None);
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
        let field = |cx: &mut Self, k: &str| -> Option<String> {
            let v = a.get(k).and_then(Node::scalar_str);
            if v.is_none() {
                cx.err(a, "authentication", format!("type {ty} needs '{k}'"));
            }
            v
        };
        match ty.as_str() {
            "basic" => {
                let u = field(self, "username");
                let p = field(self, "password");
                Some(Some(Authentication::Basic {
                    username: u?,
                    password: p?,
                }))
            }
            "bearer" => Some(Some(Authentication::Bearer {
                token: field(self, "token")?,
            })),
            "headers" => {
                let h = self.string_map(a, "headers");
                if h.is_empty() {
                    self.err(
                        a,
                        "authentication",
                        "type headers needs a non-empty 'headers' mapping",
                    );
                    return None;
                }
                Some(Some(Authentication::Headers(h)))
            }
            "none" => Some(None),
            other => {
                self.err(a, "authentication", format!("unknown authentication type {other:?}: must be basic, bearer, headers or none"));
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
