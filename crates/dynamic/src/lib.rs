//! Ceilometer dynamic pollster definitions (`pollsters.d/*.yaml`), spec
//! `ceilometer-central.md` §3.4.
//!
//! This crate is the half of a dynamic pollster that needs no network:
//!
//! - [`load_dirs`] / [`parse_file`] read every `*.yaml` of the configured directories,
//!   validate every key with upstream's defaults and parse every Python expression once (with
//!   [`pyexpr`], never `eval`). A broken definition becomes [`Finding`]s naming the file, the
//!   definition, the key and the line, and is skipped; the others keep working (upstream
//!   aborted the worker on invalid YAML; here only that file is lost).
//! - [`Definition::samples_from_response`] turns one parsed API response into samples:
//!   entries → value extraction → skip → mapping → metadata (+ mapping) → ids; multi-metric
//!   expansion for `name.{attr}` definitions.
//!
//! The HTTP side (endpoint lookup, `url_path` joining, paging via
//! [`Definition::next_page_url`], extra-metadata requests and their cache) belongs to the
//! pollsters engine, which calls into this crate.
//!
//! Differences from upstream, on purpose:
//! - Both `[DEFAULT]` and `[polling] pollsters_definitions_dirs` are honoured: the caller passes
//!   the union (upstream silently ignored the `[polling]` copy, weakness §8 #9).
//! - Non-OpenStack authentication is declared in YAML (`authentication:` with `type: basic`,
//!   `bearer` or `headers`) instead of naming a Python class in `module` /
//!   `authentication_object`. A definition using `requests.auth.HTTPBasicAuth` is converted
//!   (with a warning saying how to write it); any other class is reported and skipped.
//!   With `barbican_secret_id`, the fields left out of `authentication:` come from the
//!   Barbican secret's payload ([`SecretForm`]), read by the pollsters engine each cycle.
//! - `host_command` definitions are rejected: they belong to the local-node namespace.
//! - The `xml` handler follows `xmltodict.parse`'s shape (see the `xml` module) but is a
//!   small built-in converter, not xmltodict: processing instructions, DTDs and comments are
//!   ignored, namespaces are never expanded.
#![forbid(unsafe_code)]

mod extract;
mod load;
mod xml;
mod yaml;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use pyexpr::Expr;
use sample::SampleType;

pub use extract::{DynSample, ExtractError, SkipReason};
pub use load::{load_dirs, parse_file, Loaded};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Expected situation worth a log line (duplicate name, other namespace).
    Info,
    /// The definition loads, but something is off (unknown key, converted auth).
    Warning,
    /// The definition (or the whole file) is skipped.
    Error,
}

/// One problem found while loading definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Severity.
    pub level: Level,
    /// The YAML file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The definition's `name`, when known.
    pub definition: Option<String>,
    /// The offending key, when there is one.
    pub key: Option<String>,
    /// What is wrong and what to do; never holds a secret.
    pub message: String,
}

impl Finding {
    /// As a configuration [`ceilometer_config::Diagnostic`] (info becomes a warning).
    pub fn to_diagnostic(&self) -> ceilometer_config::Diagnostic {
        let mut d = if self.level == Level::Error {
            ceilometer_config::Diagnostic::error(self.message.clone())
        } else {
            ceilometer_config::Diagnostic::warning(self.message.clone())
        }
        .at(&self.file, self.line);
        let mut ctx = String::new();
        if let Some(n) = &self.definition {
            ctx = format!("dynamic pollster '{n}'");
        }
        if let Some(k) = &self.key {
            if !ctx.is_empty() {
                ctx.push_str(", ");
            }
            ctx.push_str(&format!("key '{k}'"));
        }
        if !ctx.is_empty() {
            d = d.within(ctx);
        }
        d.key = self.key.clone();
        d
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": ")?;
        if let Some(n) = &self.definition {
            write!(f, "dynamic pollster '{n}': ")?;
        }
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A nested attribute path (`a.b.c`, `.` = the whole entry) followed by ` | expr`
/// operations over `value`, applied left to right (upstream `retrieve_attribute_nested_value`).
#[derive(Debug, Clone)]
pub struct AttrPath {
    /// The text as written.
    pub source: String,
    /// Keys to follow; empty for `.`.
    pub keys: Vec<String>,
    /// Parsed operations.
    pub operations: Vec<Expr>,
}

/// What `value_attribute` selects.
#[derive(Debug, Clone)]
pub enum ValueSpec {
    /// One value per entry.
    Single(AttrPath),
    /// `[listattr].field`: one sample per element of `listattr`.
    Multi {
        /// Path (keys only) to the list inside each entry.
        list: AttrPath,
        /// Path (with operations) inside each element.
        field: AttrPath,
        /// The attribute named in the meter name's `{attr}`.
        name_attribute: String,
    },
}

/// `url_path`: tried as an expression over `base_metadata` first, else used literally.
#[derive(Debug, Clone)]
pub struct UrlPath {
    /// The text as written.
    pub raw: String,
    /// The parsed expression, when the text is one.
    pub expr: Option<Expr>,
}

/// How a response body is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseHandler {
    /// `json.loads`.
    Json,
    /// `xmltodict.parse`.
    Xml,
    /// `[{"out": body}]`.
    Text,
}

/// Credentials for a non-OpenStack API.
#[derive(Clone, PartialEq, Eq)]
pub enum Authentication {
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password (never printed).
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token (never printed).
        token: String,
    },
    /// Fixed request headers (values never printed).
    Headers(Vec<(String, String)>),
}

impl fmt::Debug for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authentication::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            Authentication::Bearer { .. } => f.write_str("Bearer { token: <redacted> }"),
            Authentication::Headers(h) => {
                let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
                write!(f, "Headers({names:?} = <redacted>)")
            }
        }
    }
}

/// Credentials kept in Barbican (`barbican_secret_id`, upstream's `barbican:<id>` default
/// discovery): the agent reads the secret's payload each cycle and [`SecretForm`] turns it
/// into the [`Authentication`] the YAML declared, so credentials can rotate in Barbican
/// without touching the definition files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarbicanSecret {
    /// The secret's UUID (`GET <key-manager>/v1/secrets/<id>/payload`).
    pub secret_id: String,
    /// How the payload becomes credentials.
    pub form: SecretForm,
}

/// How a Barbican payload (UTF-8 text, surrounding whitespace trimmed) fills the declared
/// authentication. The payload itself is never kept in a definition, printed nor logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretForm {
    /// `type: bearer` without `token`: the payload is the token.
    Bearer,
    /// `type: basic` without `password`: the payload is `user:password` (split at the first
    /// `:`, as HTTP basic authentication itself does), or only the password when the YAML
    /// gives `username`.
    Basic {
        /// `username` from the YAML, when given.
        username: Option<String>,
    },
    /// `type: headers` with some values left empty: those headers get the payload; the
    /// others are sent as written.
    Headers(Vec<(String, Option<String>)>),
    /// Upstream's `requests.auth.HTTPBasicAuth` without `authentication_parameters`: the
    /// payload is upstream's comma-separated `user,password` (each part stripped).
    HttpBasicAuthArgs,
}

/// Why a Barbican payload could not become credentials. Never holds the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not UTF-8 (upstream decoded it as UTF-8 too).
    #[error("the secret payload is not UTF-8 text")]
    NotText,
    /// Empty after trimming whitespace.
    #[error("the secret payload is empty")]
    Empty,
    /// Basic authentication without a `:` in the payload.
    #[error("basic authentication needs the secret payload as user:password (no ':' found), or `username` in the YAML and the password alone in the secret")]
    NoColon,
    /// Upstream's HTTPBasicAuth form without exactly one comma.
    #[error("requests.auth.HTTPBasicAuth needs the secret payload as user,password (found {0} comma-separated parts)")]
    NotTwoParts(usize),
}

impl SecretForm {
    /// The credentials a payload gives.
    pub fn credentials(&self, payload: &[u8]) -> Result<Authentication, PayloadError> {
        let text = std::str::from_utf8(payload).map_err(|_| PayloadError::NotText)?;
        let text = text.trim();
        if text.is_empty() {
            return Err(PayloadError::Empty);
        }
        Ok(match self {
            SecretForm::Bearer => Authentication::Bearer {
                token: text.to_owned(),
            },
            SecretForm::Basic { username: Some(u) } => Authentication::Basic {
                username: u.clone(),
                password: text.to_owned(),
            },
            SecretForm::Basic { username: None } => {
                let (u, p) = text.split_once(':').ok_or(PayloadError::NoColon)?;
                Authentication::Basic {
                    username: u.to_owned(),
                    password: p.to_owned(),
                }
            }
            SecretForm::Headers(h) => Authentication::Headers(
                h.iter()
                    .map(|(k, v)| (k.clone(), v.clone().unwrap_or_else(|| text.to_owned())))
                    .collect(),
            ),
            SecretForm::HttpBasicAuthArgs => {
                let parts: Vec<&str> = text.split(',').map(str::trim).collect();
                match parts.as_slice() {
                    [u, p] => Authentication::Basic {
                        username: (*u).to_owned(),
                        password: (*p).to_owned(),
                    },
                    _ => return Err(PayloadError::NotTwoParts(parts.len())),
                }
            }
        })
    }
}

/// Which API a definition talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Through the Keystone catalog (`endpoint_type`), authenticated with the service token.
    OpenStack {
        /// Catalog service type; default discovery `endpoint:<endpoint_type>`.
        endpoint_type: String,
    },
    /// A plain HTTP API; `url_path` is an absolute URL.
    NonOpenStack {
        /// Credentials written in the YAML, when the API needs them. Complete inline
        /// credentials win over `barbican` (as upstream's `authentication_parameters` win
        /// over the Barbican payload), so at most one of the two is set.
        authentication: Option<Authentication>,
        /// Credentials read from Barbican every cycle (`barbican_secret_id`).
        barbican: Option<BarbicanSecret>,
    },
}

/// `extra_metadata_fields` entry: a nested request whose result is merged into metadata.
/// Parsed and validated here; executed by the pollsters engine.
#[derive(Debug, Clone)]
pub struct ExtraMetadataField {
    /// Metadata key the result is stored under.
    pub name: String,
    /// Request path (expression over the sample and previously captured fields).
    pub url_path: UrlPath,
    /// Value extraction (`value` or `value_attribute`; inherits the parent's).
    pub value: AttrPath,
    /// Entries key of the nested response.
    pub response_entries_key: Option<AttrPath>,
    /// Catalog service type (inherits the parent's).
    pub endpoint_type: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Values that leave the field unset.
    pub skip_sample_values: Vec<pyexpr::Value>,
}

/// One validated dynamic pollster definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// Meter name; for multi-metric definitions it ends with `.{attr}`. Also the name
    /// polling.yaml matches.
    pub name: String,
    /// gauge / delta / cumulative.
    pub sample_type: SampleType,
    /// Unit.
    pub unit: String,
    /// API kind and its connection details.
    pub kind: Kind,
    /// Request path.
    pub url_path: UrlPath,
    /// Value selection.
    pub value_attribute: ValueSpec,
    /// Metadata paths copied under their own text.
    pub metadata_fields: Vec<AttrPath>,
    /// Values (or sub-metric names) for which no sample is produced.
    pub skip_sample_values: Vec<pyexpr::Value>,
    /// Raw → published value (single-metric only); empty = no mapping.
    pub value_mapping: Vec<(pyexpr::Value, pyexpr::Value)>,
    /// Value for unmapped raw values (default −1).
    pub default_value: pyexpr::Value,
    /// Metadata key renames.
    pub metadata_mapping: Vec<(String, String)>,
    /// Keep the old key after a rename (default true).
    pub preserve_mapped_metadata: bool,
    /// Where the entry list is (default: first key of the response object).
    pub response_entries_key: Option<AttrPath>,
    /// Next-page URL, when the API pages.
    pub next_sample_url_attribute: Option<AttrPath>,
    /// Entry attribute for `user_id` (default `user_id`).
    pub user_id_attribute: AttrPath,
    /// Entry attribute for `project_id` (default `project_id`).
    pub project_id_attribute: AttrPath,
    /// Entry attribute for `resource_id` (default `id`).
    pub resource_id_attribute: AttrPath,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Request timeout (default 30 s).
    pub timeout: Duration,
    /// Body parsers in order (default `[json]`).
    pub response_handlers: Vec<ResponseHandler>,
    /// Nested enrichment requests.
    pub extra_metadata_fields: Vec<ExtraMetadataField>,
    /// Cache TTL of extra-metadata responses (default 3600 s).
    pub extra_metadata_fields_cache_seconds: u64,
    /// Samples matching any of these (non-empty) maps are not enriched (default `[{}]`).
    pub extra_metadata_fields_skip: Vec<serde_json::Value>,
    /// Namespaces (default `["central"]`).
    pub namespaces: Vec<String>,
    /// File it came from.
    pub file: PathBuf,
    /// Line of the definition in that file.
    pub line: usize,
}
