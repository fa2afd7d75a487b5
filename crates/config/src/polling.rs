//! `polling.yaml` (Ceilometer ≥ Mitaka) and the Kilo/Liberty `pipeline.yaml`.
//!
//! Upstream stops at the first problem and names the source by printing its whole dict; we
//! report every problem, each with file, line and source name, keeping upstream's message
//! text (spec `ceilometer-central.md` §4) so operators can search for it.

use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::meters::MeterSelector;
use crate::store::{Diagnostic, Severity};

/// Which kind of file the definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionFormat {
    /// `polling.yaml`: sources only; samples go to the bus (and `[ceilometer_central]
    /// publishers`).
    Polling,
    /// Kilo/Liberty `pipeline.yaml`: sources and sinks; samples go to each sink's publishers.
    KiloPipeline,
}

/// One polling source.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// `name`.
    pub name: String,
    /// Line of the source in the file.
    pub line: usize,
    /// `interval` in seconds.
    pub interval: u64,
    /// `meters` (Kilo alias `counters`).
    pub meters: MeterSelector,
    /// Static `resources:` as Python's `str()` of each scalar.
    pub resources: Vec<String>,
    /// `discovery:` entries (`name` or `name:param`).
    pub discovery: Vec<String>,
    /// `group_id_coordination_expression`, kept for diagnostics (we partition every resource
    /// by its stable key instead).
    pub group_id_coordination_expression: Option<String>,
    /// Kilo pipeline: sinks this source feeds.
    pub sinks: Vec<String>,
}

/// A Kilo pipeline transformer, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformer {
    /// `name`.
    pub name: String,
    /// Line in the file.
    pub line: usize,
}

/// A Kilo pipeline sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    /// `name`.
    pub name: String,
    /// Line in the file.
    pub line: usize,
    /// `publishers`, with `://` appended when missing (as upstream).
    pub publishers: Vec<String>,
    /// `transformers`.
    pub transformers: Vec<Transformer>,
}

/// A whole polling definition.
#[derive(Debug, Clone, PartialEq)]
pub struct PollingDefinition {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: DefinitionFormat,
    /// Sources in file order.
    pub sources: Vec<Source>,
    /// Sinks (Kilo pipeline only).
    pub sinks: Vec<Sink>,
}

/// Transformers Kilo/Liberty shipped. We implement none of them: publishing transformed
/// samples is the notification agent's job since Liberty.
const KNOWN_TRANSFORMERS: &[&str] = &[
    "accumulator",
    "unit_conversion",
    "rate_of_change",
    "aggregator",
    "arithmetic",
    "delta",
];

/// A YAML value with its line, independent of the parser's types.
#[derive(Debug, Clone)]
struct Node {
    line: usize,
    val: Val,
}

#[derive(Debug, Clone)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
    /// A tag we do not understand (`!foo`), with the tag text.
    Tagged(String),
    Other,
}

fn convert(y: &MarkedYaml<'_>) -> Node {
    let line = y.span.start.line();
    let val = match &y.data {
        YamlData::Value(s) => scalar(s),
        YamlData::Representation(text, _, _) => scalar(&Scalar::parse_from_cow(text.clone())),
        YamlData::Sequence(items) => Val::Seq(items.iter().map(convert).collect()),
        YamlData::Mapping(map) => Val::Map(
            map.iter()
                .map(|(k, v)| (python_str(&convert(k).val), convert(v)))
                .collect(),
        ),
        YamlData::Tagged(tag, inner) => {
            let inner = convert(inner);
            match (tag.handle.as_str(), tag.suffix.as_str(), inner.val) {
                // Core schema tags resolve to their value.
                ("tag:yaml.org,2002:", _, v) => v,
                (h, s, _) => Val::Tagged(format!("{h}{s}")),
            }
        }
        _ => Val::Other,
    };
    Node { line, val }
}

fn scalar(s: &Scalar<'_>) -> Val {
    match s {
        Scalar::Null => Val::Null,
        Scalar::Boolean(b) => Val::Bool(*b),
        Scalar::Integer(i) => Val::Int(*i),
        Scalar::FloatingPoint(f) => Val::Float(f.into_inner()),
        Scalar::String(s) => Val::Str(s.to_string()),
    }
}

/// Python's `str()` of a YAML scalar: how upstream turns static resources into keys.
fn python_str(v: &Val) -> String {
    match v {
        Val::Null => "None".into(),
        Val::Bool(true) => "True".into(),
        Val::Bool(false) => "False".into(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => python_float(*f),
        Val::Str(s) => s.clone(),
        Val::Tagged(t) => t.clone(),
        Val::Seq(_) | Val::Map(_) | Val::Other => String::new(),
    }
}

/// Python's `repr(float)` for the common cases.
pub(crate) fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Python switches to exponent form outside [1e-4, 1e16): 1e+16, 1.5e-05.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match &self.val {
            Val::Map(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

struct Ctx<'a> {
    path: &'a Path,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(&mut self, line: usize, context: &str, msg: impl Into<String>) {
        let mut d = Diagnostic::error(msg).at(self.path, Some(line));
        if !context.is_empty() {
            d = d.within(context);
        }
        self.diags.push(d);
    }
    fn warn(&mut self, line: usize, context: &str, msg: impl Into<String>) {
        let mut d = Diagnostic::warning(msg).at(self.path, Some(line));
        if !context.is_empty() {
            d = d.within(context);
        }
        self.diags.push(d);
    }
}

/// Parse `text` read from `path`. Returns the definition when it has no error, and every
/// finding (errors and warnings) either way.
pub fn parse_definition(
    path: &Path,
    text: &str,
    format: DefinitionFormat,
) -> (Option<PollingDefinition>, Vec<Diagnostic>) {
    let mut cx = Ctx {
        path,
        diags: Vec::new(),
    };
    let docs = match MarkedYaml::load_from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let m = e.marker();
            cx.err(
                m.line(),
                "",
                format!("invalid YAML: {} (column {})", e.info(), m.col() + 1),
            );
            return (None, cx.diags);
        }
    };
    let Some(root) = docs.first().map(convert) else {
        cx.err(1, "", "the file is empty: sources required");
        return (None, cx.diags);
    };
    let def = match format {
        DefinitionFormat::Polling => parse_polling(&mut cx, &root),
        DefinitionFormat::KiloPipeline => parse_pipeline(&mut cx, &root),
    };
    let ok = !cx.diags.iter().any(|d| d.severity == Severity::Error);
    let def = def.map(|(sources, sinks)| PollingDefinition {
        path: path.to_owned(),
        format,
        sources,
        sinks,
    });
    (def.filter(|_| ok), cx.diags)
}

fn parse_polling(cx: &mut Ctx<'_>, root: &Node) -> Option<(Vec<Source>, Vec<Sink>)> {
    let Some(sources) = root.get("sources") else {
        cx.err(root.line, "", "sources required");
        return None;
    };
    let Val::Seq(items) = &sources.val else {
        cx.err(sources.line, "", "sources should be a list");
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(s) = parse_source(cx, item, DefinitionFormat::Polling) {
            out.push(s);
        }
    }
    warn_duplicates(cx, out.iter().map(|s| (s.name.as_str(), s.line)), "source");
    Some((out, Vec::new()))
}

fn warn_duplicates<'a>(
    cx: &mut Ctx<'_>,
    names: impl Iterator<Item = (&'a str, usize)>,
    kind: &str,
) {
    let mut seen = std::collections::HashSet::new();
    for (name, line) in names {
        if !seen.insert(name) {
            cx.warn(
                line,
                &format!("{kind} '{name}'"),
                format!("Duplicated {kind} names: {name}"),
            );
        }
    }
}

fn string_list(cx: &mut Ctx<'_>, node: &Node, context: &str, what: &str) -> Option<Vec<String>> {
    match &node.val {
        Val::Null => Some(Vec::new()),
        Val::Seq(items) => {
            let mut out = Vec::new();
            for it in items {
                match &it.val {
                    Val::Tagged(t) => {
                        cx.err(
                            it.line,
                            context,
                            format!("{t} is read as a YAML tag; quote the pattern: \"{t}\""),
                        );
                    }
                    Val::Seq(_) | Val::Map(_) | Val::Other => {
                        cx.err(it.line, context, format!("{what} entries must be strings"));
                    }
                    v => out.push(python_str(v)),
                }
            }
            Some(out)
        }
        _ => None,
    }
}

fn parse_source(cx: &mut Ctx<'_>, node: &Node, format: DefinitionFormat) -> Option<Source> {
    if !matches!(node.val, Val::Map(_)) {
        cx.err(
            node.line,
            "",
            "each source must be a mapping with name, interval and meters",
        );
        return None;
    }
    let name = match node.get("name") {
        Some(n) => python_str(&n.val),
        None => {
            cx.err(node.line, "source", "Required field name not specified");
            return None;
        }
    };
    let context = format!("source '{name}'");
    let mut ok = true;

    let meters_node = node.get("meters").or_else(|| match format {
        DefinitionFormat::KiloPipeline => node.get("counters"),
        DefinitionFormat::Polling => None,
    });
    let meters = match meters_node {
        None => {
            cx.err(node.line, &context, "Missing meters value");
            ok = false;
            None
        }
        Some(m) => match string_list(cx, m, &context, "meters") {
            Some(list) => match MeterSelector::new(list) {
                Ok(sel) => Some(sel),
                Err(msg) => {
                    cx.err(m.line, &context, msg);
                    None
                }
            },
            None => {
                cx.err(m.line, &context, "meters should be a list");
                None
            }
        },
    };

    let interval = match node.get("interval") {
        None => match format {
            DefinitionFormat::Polling => {
                cx.err(node.line, &context, "Missing interval value");
                None
            }
            DefinitionFormat::KiloPipeline => {
                cx.warn(
                    node.line,
                    &context,
                    "interval not set; using 600 seconds as Liberty does",
                );
                Some(600)
            }
        },
        Some(iv) => {
            // Python's int(): ints, numeric strings and (truncated) floats.
            let v = match &iv.val {
                Val::Int(i) => Some(*i),
                Val::Float(f) if f.is_finite() => Some(f.trunc() as i64),
                Val::Bool(b) => Some(i64::from(*b)),
                Val::Str(s) => s.trim().replace('_', "").parse::<i64>().ok(),
                _ => None,
            };
            match v {
                None => {
                    cx.err(iv.line, &context, "Invalid interval value");
                    None
                }
                Some(i) if i <= 0 => {
                    cx.err(iv.line, &context, "Interval value should > 0");
                    None
                }
                Some(i) => Some(i as u64),
            }
        }
    };

    let resources = match node.get("resources") {
        None => Vec::new(),
        Some(r) => string_list(cx, r, &context, "resources").unwrap_or_else(|| {
            cx.err(r.line, &context, "Resources should be a list");
            ok = false;
            Vec::new()
        }),
    };
    let discovery = match node.get("discovery") {
        None => Vec::new(),
        Some(r) => string_list(cx, r, &context, "discovery").unwrap_or_else(|| {
            cx.err(r.line, &context, "Discovery should be a list");
            ok = false;
            Vec::new()
        }),
    };
    let group_id_coordination_expression = node
        .get("group_id_coordination_expression")
        .map(|n| python_str(&n.val))
        .filter(|s| !s.is_empty());
    if let Some(g) = node.get("group_id_coordination_expression") {
        cx.warn(
            g.line,
            &context,
            "group_id_coordination_expression is not evaluated: every resource is partitioned by its stable key across the agents",
        );
    }
    let sinks = match (format, node.get("sinks")) {
        (DefinitionFormat::KiloPipeline, None) => {
            cx.err(
                node.line,
                &context,
                format!("No sink defined in source {name}"),
            );
            Vec::new()
        }
        (DefinitionFormat::KiloPipeline, Some(s)) => string_list(cx, s, &context, "sinks")
            .unwrap_or_else(|| {
                cx.err(s.line, &context, "sinks should be a list");
                Vec::new()
            }),
        (DefinitionFormat::Polling, _) => Vec::new(),
    };
    if format == DefinitionFormat::KiloPipeline && sinks.is_empty() && node.get("sinks").is_some() {
        cx.err(
            node.line,
            &context,
            format!("No sink defined in source {name}"),
        );
    }

    match (meters, interval, ok) {
        (Some(meters), Some(interval), true) => Some(Source {
            name,
            line: node.line,
            interval,
            meters,
            resources,
            discovery,
            group_id_coordination_expression,
            sinks,
        }),
        _ => None,
    }
}

fn parse_pipeline(cx: &mut Ctx<'_>, root: &Node) -> Option<(Vec<Source>, Vec<Sink>)> {
    // Kilo also accepted a flat list of {name, interval, meters, resources, transformers,
    // publishers}: turn each entry into a source feeding a sink of the same name.
    if let Val::Seq(items) = &root.val {
        cx.warn(
            root.line,
            "",
            "the flat (pre-Kilo) pipeline format is deprecated; use sources and sinks",
        );
        let mut sources = Vec::new();
        let mut sinks = Vec::new();
        for item in items {
            let mut src_node = item.clone();
            if let (Val::Map(m), Some(name)) = (&mut src_node.val, item.get("name")) {
                let name_val = name.clone();
                m.push((
                    "sinks".into(),
                    Node {
                        line: item.line,
                        val: Val::Seq(vec![name_val]),
                    },
                ));
            }
            if let Some(s) = parse_source(cx, &src_node, DefinitionFormat::KiloPipeline) {
                sources.push(s);
            }
            if let Some(k) = parse_sink(cx, item) {
                sinks.push(k);
            }
        }
        return Some((sources, sinks));
    }
    let (Some(src), Some(snk)) = (root.get("sources"), root.get("sinks")) else {
        cx.err(root.line, "", "Both sources & sinks are required");
        return None;
    };
    let mut sinks = Vec::new();
    match &snk.val {
        Val::Seq(items) => {
            for item in items {
                if let Some(k) = parse_sink(cx, item) {
                    sinks.push(k);
                }
            }
        }
        _ => cx.err(snk.line, "", "sinks should be a list"),
    }
    let mut sources = Vec::new();
    match &src.val {
        Val::Seq(items) => {
            for item in items {
                if let Some(s) = parse_source(cx, item, DefinitionFormat::KiloPipeline) {
                    sources.push(s);
                }
            }
        }
        _ => cx.err(src.line, "", "sources should be a list"),
    }
    for (names, kind) in [
        (
            sources
                .iter()
                .map(|s| (s.name.clone(), s.line))
                .collect::<Vec<_>>(),
            "source",
        ),
        (
            sinks
                .iter()
                .map(|s| (s.name.clone(), s.line))
                .collect::<Vec<_>>(),
            "sink",
        ),
    ] {
        let mut seen = std::collections::HashSet::new();
        for (name, line) in &names {
            if !seen.insert(name.clone()) {
                cx.err(*line, "", format!("Duplicated {kind} names: {name}"));
            }
        }
    }
    for s in &sources {
        for sink in &s.sinks {
            if !sinks.iter().any(|k| &k.name == sink) {
                cx.err(
                    s.line,
                    &format!("source '{}'", s.name),
                    format!("Dangling sink {sink} from source {}", s.name),
                );
            }
        }
    }
    Some((sources, sinks))
}

fn parse_sink(cx: &mut Ctx<'_>, node: &Node) -> Option<Sink> {
    let Some(name) = node.get("name").map(|n| python_str(&n.val)) else {
        cx.err(node.line, "sink", "Required field name not specified");
        return None;
    };
    let context = format!("sink '{name}'");
    let mut transformers = Vec::new();
    match node.get("transformers").map(|t| &t.val) {
        None | Some(Val::Null) => {}
        Some(Val::Seq(items)) => {
            for t in items {
                let tname = t
                    .get("name")
                    .map(|n| python_str(&n.val))
                    .unwrap_or_default();
                if !KNOWN_TRANSFORMERS.contains(&tname.as_str()) {
                    cx.err(
                        t.line,
                        &context,
                        format!("No transformer named {tname} loaded"),
                    );
                } else {
                    cx.err(
                        t.line,
                        &context,
                        format!(
                            "transformer {tname} is not supported by ceilometer-central: remove it and let the notification agent's pipeline transform samples"
                        ),
                    );
                }
                transformers.push(Transformer {
                    name: tname,
                    line: t.line,
                });
            }
        }
        Some(_) => cx.err(node.line, &context, "transformers should be a list"),
    }
    let publishers = match node.get("publishers") {
        Some(p) => string_list(cx, p, &context, "publishers").unwrap_or_default(),
        None => Vec::new(),
    };
    if publishers.is_empty() {
        cx.err(node.line, &context, "No publisher specified");
    }
    let publishers = publishers
        .into_iter()
        .map(|p| {
            if p.contains("://") {
                p
            } else {
                format!("{p}://")
            }
        })
        .collect();
    Some(Sink {
        name,
        line: node.line,
        publishers,
        transformers,
    })
}

/// Warn about meter patterns that select no known pollster, suggesting close names.
pub fn check_meters_known(def: &PollingDefinition, known: &[&str]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in &def.sources {
        for p in s.meters.patterns() {
            let pat = p.strip_prefix('!').unwrap_or(p);
            if known.iter().any(|k| crate::meters::fnmatch(k, pat)) {
                continue;
            }
            let mut close: Vec<(f64, &str)> = known
                .iter()
                .map(|k| (strsim::jaro_winkler(pat, k), *k))
                .filter(|(score, _)| *score >= 0.8)
                .collect();
            close.sort_by(|a, b| b.0.total_cmp(&a.0));
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!(
                    "; close names: {}",
                    close
                        .iter()
                        .take(3)
                        .map(|(_, k)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            out.push(
                Diagnostic::warning(format!(
                    "meter pattern {p:?} matches no known pollster{hint}"
                ))
                .at(&def.path, Some(s.line))
                .within(format!("source '{}'", s.name)),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        for (f, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (300.5, "300.5"),
            (-2.0, "-2.0"),
        ] {
            assert_eq!(python_float(f), s);
        }
    }

    #[test]
    fn static_resources_use_python_str() {
        let (def, d) = parse_definition(
            Path::new("p.yaml"),
            "sources:\n  - name: s\n    interval: 60\n    meters: ['*']\n    resources: [snmp://10.0.0.1, 5, true, null, 1.0]\n",
            DefinitionFormat::Polling,
        );
        assert!(d.is_empty(), "{d:?}");
        let def = def.expect("valid");
        assert_eq!(
            def.sources[0].resources,
            vec!["snmp://10.0.0.1", "5", "True", "None", "1.0"]
        );
    }
}
