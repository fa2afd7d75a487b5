//! The data half of a dynamic pollster: response body → entries → samples.

use serde_json::{Map, Value as Json};

use pyexpr::{py_eq, EvalError, Scope, Value};
use sample::SampleType;

use crate::{AttrPath, Definition, ResponseHandler, UrlPath, ValueSpec};

/// One sample a dynamic pollster produces, before the engine adds timestamp and source.
#[derive(Debug, Clone, PartialEq)]
pub struct DynSample {
    /// Meter name (multi-metric: `{attr}` replaced).
    pub name: String,
    /// Sample type.
    pub sample_type: SampleType,
    /// Unit.
    pub unit: String,
    /// The published value as Python computed it (may be non-numeric: the pipeline drops
    /// such samples, as upstream's does).
    pub volume: Json,
    /// `user_id` (missing attribute → `None`).
    pub user_id: Option<String>,
    /// `project_id`.
    pub project_id: Option<String>,
    /// `resource_id`.
    pub resource_id: Option<String>,
    /// Metadata: `metadata_fields` (keyed by their path text) after `metadata_mapping`.
    pub metadata: Map<String, Json>,
}

impl DynSample {
    /// The agent's [`sample::Sample`] with the cycle's timestamp and `[DEFAULT] sample_source`.
    /// A sample without a resource id cannot be published (upstream would send `None`, which
    /// every consumer rejects), so it is a [`SkipReason::Failed`].
    pub fn into_sample(
        self,
        timestamp: sample::Timestamp,
        source: &str,
    ) -> Result<sample::Sample, SkipReason> {
        let volume = self.volume();
        let Some(resource_id) = self.resource_id else {
            return Err(SkipReason::Failed(format!(
                "sample {} has no resource_id",
                self.name
            )));
        };
        Ok(sample::Sample {
            name: self.name.into(),
            sample_type: self.sample_type,
            unit: self.unit.into(),
            volume,
            user_id: self.user_id,
            user_name: None,
            project_id: self.project_id,
            project_name: None,
            resource_id,
            timestamp,
            resource_metadata: self.metadata.into(),
            source: source.to_owned().into(),
            id: sample::new_message_id(),
            monotonic_time: None,
        })
    }

    /// The value as a sample volume: numbers keep int/float, anything else is missing.
    pub fn volume(&self) -> sample::Volume {
        match &self.volume {
            Json::Number(n) => match n.as_i64() {
                Some(i) => sample::Volume::Int(i),
                None => n
                    .as_f64()
                    .map_or(sample::Volume::Missing, sample::Volume::Float),
            },
            Json::Bool(b) => sample::Volume::Int(i64::from(*b)),
            _ => sample::Volume::Missing,
        }
    }
}

/// Why an entry (or a multi-metric element) produced no sample.
#[derive(Debug, Clone, PartialEq)]
pub enum SkipReason {
    /// The value (or sub-metric name) is in `skip_sample_values`; holds its `repr()`.
    SkippedValue(String),
    /// Extraction failed (missing key, expression error); upstream logged and skipped too.
    Failed(String),
}

/// The response as a whole could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtractError {
    /// No configured handler could parse the body.
    #[error("no response handler could parse the response ({0})")]
    Unparseable(String),
    /// The entry list could not be found.
    #[error("cannot find the response entries: {0}")]
    Entries(String),
}

fn navigate(v: &Value, keys: &[String]) -> Result<Value, EvalError> {
    let mut cur = v.clone();
    for k in keys {
        cur = match &cur {
            Value::Dict(d) => d
                .iter()
                .find(|(dk, _)| dk.as_str() == Some(k))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| EvalError::Key(Value::str(k.as_str()).py_repr()))?,
            Value::List(_) | Value::Tuple(_) | Value::Str(_) => {
                return Err(EvalError::Type(format!(
                    "{} indices must be integers or slices, not str (looking up {k:?})",
                    cur.type_name()
                )))
            }
            other => {
                return Err(EvalError::Type(format!(
                    "'{}' object is not subscriptable (looking up {k:?})",
                    other.type_name()
                )))
            }
        };
    }
    Ok(cur)
}

impl AttrPath {
    /// Follow the keys from `root`, then apply the operations (`value` = current value,
    /// `sample` = the whole entry).
    pub fn extract(&self, root: &Value, entry: &Value) -> Result<Value, EvalError> {
        let mut v = navigate(root, &self.keys)?;
        for op in &self.operations {
            let scope = Scope::with_value(v).with("sample", entry.clone());
            v = op.eval(&scope)?;
        }
        Ok(v)
    }

    /// The path part (before the first `|`), trimmed: the metadata key upstream uses.
    pub fn path_text(&self) -> &str {
        self.source.split('|').next().unwrap_or("").trim()
    }
}

impl UrlPath {
    /// Upstream: `eval(url_path, base_metadata)`, the literal text when that fails.
    pub fn render(&self, base_metadata: &Map<String, Json>) -> String {
        let Some(e) = &self.expr else {
            return self.raw.clone();
        };
        match e.eval(&Scope::from_json_object(base_metadata)) {
            Ok(v) => v.py_str(),
            Err(_) => self.raw.clone(),
        }
    }
}

fn id_string(v: Option<Value>) -> Option<String> {
    match v? {
        Value::None => None,
        other => Some(other.py_str()),
    }
}

fn is_subset(small: &Json, big: &Json) -> bool {
    match (small, big) {
        (Json::Object(s), Json::Object(b)) => s
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|bv| is_subset(v, bv))),
        _ => small == big,
    }
}

impl Definition {
    /// Parse a response body with the configured handlers, in order; the first that parses
    /// wins (`xml` gives xmltodict's shape, `text` gives `[{"out": body}]`).
    pub fn parse_body(&self, body: &[u8]) -> Result<Json, ExtractError> {
        let mut errors = Vec::new();
        for h in &self.response_handlers {
            match h {
                ResponseHandler::Json => match serde_json::from_slice::<Json>(body) {
                    Ok(j) => return Ok(j),
                    Err(e) => errors.push(format!("json: {e}")),
                },
                ResponseHandler::Xml => match crate::xml::parse(body) {
                    Ok(j) => return Ok(j),
                    Err(e) => errors.push(format!("xml: {e}")),
                },
                ResponseHandler::Text => {
                    let text = String::from_utf8_lossy(body).into_owned();
                    return Ok(serde_json::json!([{ "out": text }]));
                }
            }
        }
        Err(ExtractError::Unparseable(errors.join("; ")))
    }

    /// `url_path` rendered with `base_metadata` as globals.
    pub fn render_url_path(&self, base_metadata: &Map<String, Json>) -> String {
        self.url_path.render(base_metadata)
    }

    /// The entries of a response: the response itself when it is a list, else the value at
    /// `response_entries_key`, else the value of the response object's first key. A single
    /// object found there counts as one entry; `null` as none.
    pub fn entries(&self, response: &Value) -> Result<Vec<Value>, ExtractError> {
        let found = match response {
            Value::List(l) => return Ok(l.to_vec()),
            _ => match &self.response_entries_key {
                Some(p) => p
                    .extract(response, response)
                    .map_err(|e| ExtractError::Entries(format!("{}: {e}", p.source)))?,
                None => match response {
                    Value::Dict(d) => match d.first() {
                        Some((_, v)) => v.clone(),
                        None => Value::None,
                    },
                    other => {
                        return Err(ExtractError::Entries(format!(
                            "the response is {}, not an object or a list",
                            other.type_name()
                        )))
                    }
                },
            },
        };
        Ok(match found {
            Value::List(l) | Value::Tuple(l) => l.to_vec(),
            Value::None => Vec::new(),
            other => vec![other],
        })
    }

    /// Every sample of one parsed response. `Err` when the entries cannot be found at all;
    /// otherwise one result per produced-or-skipped sample.
    pub fn samples_from_response(
        &self,
        response: &Json,
    ) -> Result<Vec<Result<DynSample, SkipReason>>, ExtractError> {
        let response = Value::from_json(response);
        let entries = self.entries(&response)?;
        Ok(entries
            .iter()
            .flat_map(|e| self.samples_from_entry(e))
            .collect())
    }

    /// The next page's URL (`next_sample_url_attribute`), if any. Relative URLs are joined by
    /// the caller (to the endpoint or the url_path).
    pub fn next_page_url(&self, response: &Json) -> Option<String> {
        let p = self.next_sample_url_attribute.as_ref()?;
        let r = Value::from_json(response);
        match p.extract(&r, &r) {
            Ok(Value::None) | Err(_) => None,
            Ok(v) => Some(v.py_str()).filter(|s| !s.is_empty()),
        }
    }

    /// Whether extra-metadata enrichment is skipped for this sample: some non-empty map of
    /// `extra_metadata_fields_skip` is a recursive subset of it (the default `[{}]` skips
    /// nothing).
    pub fn skip_extra_metadata(&self, sample: &Json) -> bool {
        self.extra_metadata_fields_skip
            .iter()
            .any(|s| s.as_object().is_some_and(|m| !m.is_empty()) && is_subset(s, sample))
    }

    fn metadata(&self, entry: &Value) -> Map<String, Json> {
        let mut md = Map::new();
        for f in &self.metadata_fields {
            // Upstream raised on a missing path; one absent optional attribute should not cost
            // the sample, so it is published as null.
            let v = f
                .extract(entry, entry)
                .map(|v| v.to_json())
                .unwrap_or(Json::Null);
            md.insert(f.path_text().to_owned(), v);
        }
        if !self.metadata_mapping.is_empty() && !md.is_empty() {
            let keys: Vec<String> = md.keys().cloned().collect();
            for k in keys {
                let Some((_, new)) = self.metadata_mapping.iter().find(|(old, _)| *old == k) else {
                    continue;
                };
                let v = md.get(&k).cloned().unwrap_or(Json::Null);
                md.insert(new.clone(), v);
                if !self.preserve_mapped_metadata && *new != k {
                    md.remove(&k);
                }
            }
        }
        md
    }

    fn skipped(&self, v: &Value) -> bool {
        self.skip_sample_values.iter().any(|s| py_eq(s, v))
    }

    fn build(&self, name: String, volume: Value, entry: &Value) -> DynSample {
        let id = |p: &AttrPath| id_string(p.extract(entry, entry).ok());
        DynSample {
            name,
            sample_type: self.sample_type,
            unit: self.unit.clone(),
            volume: volume.to_json(),
            user_id: id(&self.user_id_attribute),
            project_id: id(&self.project_id_attribute),
            resource_id: id(&self.resource_id_attribute),
            metadata: self.metadata(entry),
        }
    }

    /// Samples of one entry: one for single-metric definitions, one per list element for
    /// multi-metric ones.
    pub fn samples_from_entry(&self, entry: &Value) -> Vec<Result<DynSample, SkipReason>> {
        match &self.value_attribute {
            ValueSpec::Single(p) => {
                let v = match p.extract(entry, entry) {
                    Ok(v) => v,
                    Err(e) => {
                        return vec![Err(SkipReason::Failed(format!(
                            "value_attribute {:?}: {e}",
                            p.source
                        )))]
                    }
                };
                if self.skipped(&v) {
                    return vec![Err(SkipReason::SkippedValue(v.py_repr()))];
                }
                let v = if self.value_mapping.is_empty() {
                    v
                } else {
                    self.value_mapping
                        .iter()
                        .find(|(k, _)| py_eq(k, &v))
                        .map_or_else(|| self.default_value.clone(), |(_, m)| m.clone())
                };
                vec![Ok(self.build(self.name.clone(), v, entry))]
            }
            ValueSpec::Multi {
                list,
                field,
                name_attribute,
            } => {
                let items = match list.extract(entry, entry) {
                    Ok(Value::List(l)) | Ok(Value::Tuple(l)) => l,
                    Ok(Value::None) => return Vec::new(),
                    Ok(other) => {
                        return vec![Err(SkipReason::Failed(format!(
                            "value_attribute list {:?} is {}, not a list",
                            list.source,
                            other.type_name()
                        )))]
                    }
                    Err(e) => {
                        return vec![Err(SkipReason::Failed(format!(
                            "value_attribute list {:?}: {e}",
                            list.source
                        )))]
                    }
                };
                let placeholder = format!("{{{name_attribute}}}");
                items
                    .iter()
                    .map(|el| {
                        let sub = el.get(name_attribute).cloned().ok_or_else(|| {
                            SkipReason::Failed(format!(
                                "list element has no attribute {name_attribute:?}"
                            ))
                        })?;
                        if self.skipped(&sub) {
                            return Err(SkipReason::SkippedValue(sub.py_repr()));
                        }
                        let v = field.extract(el, entry).map_err(|e| {
                            SkipReason::Failed(format!(
                                "value_attribute field {:?}: {e}",
                                field.source
                            ))
                        })?;
                        if self.skipped(&v) {
                            return Err(SkipReason::SkippedValue(v.py_repr()));
                        }
                        let name = self.name.replacen(&placeholder, &sub.py_str(), 1);
                        Ok(self.build(name, v, entry))
                    })
                    .collect()
            }
        }
    }
}
