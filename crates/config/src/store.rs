//! Option lookup across several parsed files, with oslo.config's precedence rules.
//!
//! - Files are given in load order; for a single-valued option the **latest** file that sets
//!   it wins, and inside that file its last occurrence. A multi-valued option collects every
//!   occurrence of every file, earliest file first (oslo's `MultiStrOpt`).
//! - An option may have deprecated names (other sections or other spellings); in each file the
//!   current name is preferred over the deprecated ones, as oslo does.
//! - `-` and `_` are the same in option names (oslo normalises names the same way).
//! - `[DEFAULT]` is not visible from other sections (unlike Python's `configparser`); it only
//!   serves `$name` substitution as a fallback, as oslo's does.
//! - `$name`, `${name}` and `${section.name}` are substituted in string values, `$$` is a
//!   literal `$`. A name is looked up in the option's own section, then in `[DEFAULT]`, then in
//!   the built-in defaults the typed layer registers.
//!
//! Every typed getter records a problem instead of failing, so `validate` can report all of
//! them; every lookup is remembered, so options nobody asked for can be reported as unknown.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::ini::IniFile;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The agent runs; the operator should look (unknown option, deprecated name, ...).
    Warning,
    /// The configuration cannot be used as written.
    Error,
}

/// One finding about the configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// File the finding is about, when there is one.
    pub file: Option<PathBuf>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Section (INI) or source name (YAML), when there is one.
    pub section: Option<String>,
    /// Option or key name, when there is one.
    pub key: Option<String>,
    /// Free-form context for YAML findings, e.g. `source 'some_pollsters'`; printed instead of
    /// `[section] key`.
    pub context: Option<String>,
    /// What is wrong and what to do. Never holds a secret value.
    pub message: String,
}

impl Diagnostic {
    /// An error not tied to a file position.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: None,
            line: None,
            section: None,
            key: None,
            context: None,
            message: message.into(),
        }
    }

    /// A warning not tied to a file position.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// Attach a file and line.
    pub fn at(mut self, file: &Path, line: Option<usize>) -> Self {
        self.file = Some(file.to_owned());
        self.line = line;
        self
    }

    /// Attach a YAML context (`source 'x'`, `sink 'y'`).
    pub fn within(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Attach a section and key.
    pub fn on(mut self, section: &str, key: &str) -> Self {
        self.section = Some(section.to_owned());
        self.key = Some(key.to_owned());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{}: ", file.display(), line)?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            _ => {}
        }
        if let Some(c) = &self.context {
            write!(f, "{c}: ")?;
        } else {
            match (&self.section, &self.key) {
                (Some(s), Some(k)) => write!(f, "[{s}] {k}: ")?,
                (Some(s), None) => write!(f, "[{s}]: ")?,
                _ => {}
            }
        }
        f.write_str(&self.message)
    }
}

/// What an option is called and whether its value is secret.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// Section (oslo "group"); `DEFAULT` for top-level options.
    pub section: &'static str,
    /// Current name.
    pub name: &'static str,
    /// Older `(section, name)` spellings still honoured.
    pub deprecated: &'static [(&'static str, &'static str)],
    /// A secret's value never appears in a message.
    pub secret: bool,
}

impl Opt {
    /// A plain option.
    pub const fn new(section: &'static str, name: &'static str) -> Opt {
        Opt {
            section,
            name,
            deprecated: &[],
            secret: false,
        }
    }

    /// Add deprecated spellings.
    pub const fn aliases(mut self, deprecated: &'static [(&'static str, &'static str)]) -> Opt {
        self.deprecated = deprecated;
        self
    }

    /// Mark as secret.
    pub const fn secret(mut self) -> Opt {
        self.secret = true;
        self
    }
}

/// A value as found in a file, after substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The value.
    pub value: String,
    /// File it came from.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// Section it was found in (may be a deprecated one).
    pub section: String,
    /// Key as written (may be a deprecated spelling).
    pub key: String,
}

fn norm_key(key: &str) -> String {
    key.replace('-', "_")
}

/// The merged view of every configuration file, with typed, diagnosing getters.
pub struct Store {
    files: Vec<IniFile>,
    defaults: BTreeMap<(String, String), String>,
    queried: RefCell<BTreeSet<(String, String)>>,
    diagnostics: RefCell<Vec<Diagnostic>>,
}

impl Store {
    /// Files in load order (later ones override earlier ones).
    pub fn new(files: Vec<IniFile>) -> Store {
        Store {
            files,
            defaults: BTreeMap::new(),
            queried: RefCell::new(BTreeSet::new()),
            diagnostics: RefCell::new(Vec::new()),
        }
    }

    /// Register a built-in default usable by `$name` substitution (e.g. `host`).
    pub fn set_default(&mut self, section: &str, name: &str, value: &str) {
        self.defaults
            .insert((section.to_owned(), norm_key(name)), value.to_owned());
    }

    /// The files, in load order.
    pub fn files(&self) -> &[IniFile] {
        &self.files
    }

    /// Record a finding.
    pub fn push(&self, d: Diagnostic) {
        self.diagnostics.borrow_mut().push(d);
    }

    /// Every finding so far.
    pub fn take_diagnostics(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut *self.diagnostics.borrow_mut())
    }

    fn names(opt: &Opt) -> Vec<(String, String)> {
        let mut v = vec![(opt.section.to_owned(), norm_key(opt.name))];
        v.extend(
            opt.deprecated
                .iter()
                .map(|(s, n)| ((*s).to_owned(), norm_key(n))),
        );
        v
    }

    /// All raw occurrences of `names` in one file, preferring the first name that is present.
    fn occurrences_in<'f>(
        file: &'f IniFile,
        names: &[(String, String)],
    ) -> Vec<(&'f str, &'f crate::ini::Entry)> {
        for (section, key) in names {
            let hits: Vec<_> = file
                .sections
                .iter()
                .filter(|s| &s.name == section)
                .flat_map(|s| s.entries.iter().map(move |e| (s.name.as_str(), e)))
                .filter(|(_, e)| &norm_key(&e.key) == key)
                .collect();
            if !hits.is_empty() {
                return hits;
            }
        }
        Vec::new()
    }

    fn mark(&self, opt: &Opt) {
        let mut q = self.queried.borrow_mut();
        for n in Self::names(opt) {
            q.insert(n);
        }
    }

    fn note_deprecated(&self, opt: &Opt, found: &Found) {
        if found.section != opt.section || norm_key(&found.key) != norm_key(opt.name) {
            // Kilo-era spellings are expected in drop-in use; say what the new name is.
            self.push(
                Diagnostic::warning(format!(
                    "deprecated name; use [{}] {} instead",
                    opt.section, opt.name
                ))
                .at(&found.file, Some(found.line))
                .on(&found.section, &found.key),
            );
        }
    }

    /// The raw value of a single-valued option (latest file, last occurrence), substituted.
    pub fn get(&self, opt: &Opt) -> Option<Found> {
        self.mark(opt);
        let names = Self::names(opt);
        for file in self.files.iter().rev() {
            let hits = Self::occurrences_in(file, &names);
            if let Some((section, entry)) = hits.last() {
                let found = Found {
                    value: self.substitute(&entry.value, opt, section, &file.path, entry.line),
                    file: file.path.clone(),
                    line: entry.line,
                    section: (*section).to_owned(),
                    key: entry.key.clone(),
                };
                self.note_deprecated(opt, &found);
                return Some(found);
            }
        }
        None
    }

    /// Every value of a multi-valued option, earliest file first.
    pub fn get_multi(&self, opt: &Opt) -> Vec<Found> {
        self.mark(opt);
        let names = Self::names(opt);
        let mut out = Vec::new();
        for file in &self.files {
            for (section, entry) in Self::occurrences_in(file, &names) {
                let found = Found {
                    value: self.substitute(&entry.value, opt, section, &file.path, entry.line),
                    file: file.path.clone(),
                    line: entry.line,
                    section: section.to_owned(),
                    key: entry.key.clone(),
                };
                self.note_deprecated(opt, &found);
                out.push(found);
            }
        }
        out
    }

    /// The raw, unsubstituted last value of `section.key` across files, for substitution.
    fn raw_lookup(&self, section: &str, key: &str) -> Option<String> {
        let key = norm_key(key);
        for file in self.files.iter().rev() {
            let hit = file
                .sections
                .iter()
                .filter(|s| s.name == section)
                .flat_map(|s| s.entries.iter())
                .rfind(|e| norm_key(&e.key) == key);
            if let Some(e) = hit {
                return Some(e.value.clone());
            }
        }
        self.defaults.get(&(section.to_owned(), key)).cloned()
    }

    fn substitute(
        &self,
        value: &str,
        opt: &Opt,
        section: &str,
        file: &Path,
        line: usize,
    ) -> String {
        if !value.contains('$') {
            return value.to_owned();
        }
        let mut depth = 0;
        match self.substitute_inner(value, section, &mut depth) {
            Ok(v) => v,
            Err(msg) => {
                self.push(
                    Diagnostic::error(msg)
                        .at(file, Some(line))
                        .on(section, opt.name),
                );
                value.to_owned()
            }
        }
    }

    fn substitute_inner(
        &self,
        value: &str,
        section: &str,
        depth: &mut u32,
    ) -> Result<String, String> {
        *depth += 1;
        if *depth > 16 {
            return Err("substitution nests more than 16 levels (a loop of $references?)".into());
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
                continue;
            }
            let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
                let Some(end) = braced.find('}') else {
                    return Err("unterminated '${' in value".into());
                };
                (&braced[..end], &braced[end + 1..])
            } else {
                let end = after
                    .char_indices()
                    .find(|(i, c)| {
                        !(c.is_ascii_alphanumeric() || *c == '_') || (*i == 0 && c.is_ascii_digit())
                    })
                    .map_or(after.len(), |(i, _)| i);
                (&after[..end], &after[end..])
            };
            if name.is_empty() {
                // A lone `$` is kept, as Python's safe templates do.
                out.push('$');
                rest = after;
                continue;
            }
            let resolved = match name.split_once('.') {
                Some((grp, key)) => self.raw_lookup(&crate::ini::normalize_section(grp), key),
                None => self
                    .raw_lookup(section, name)
                    .or_else(|| self.raw_lookup("DEFAULT", name)),
            };
            let Some(raw) = resolved else {
                return Err(format!("cannot substitute ${name}: no such option is set"));
            };
            let target_section = name.split_once('.').map_or(section.to_owned(), |(g, _)| {
                crate::ini::normalize_section(g)
            });
            out.push_str(&self.substitute_inner(&raw, &target_section, depth)?);
            rest = tail;
        }
        out.push_str(rest);
        *depth -= 1;
        Ok(out)
    }

    fn bad(&self, opt: &Opt, found: &Found, expected: &str) {
        let shown = if opt.secret {
            String::new()
        } else {
            format!(" = {:?}", found.value)
        };
        self.push(
            Diagnostic::error(format!("invalid value{shown}: expected {expected}"))
                .at(&found.file, Some(found.line))
                .on(&found.section, &found.key),
        );
    }

    /// A string option.
    pub fn string(&self, opt: Opt) -> Option<String> {
        self.get(&opt).map(|f| f.value)
    }

    /// A string option with a default.
    pub fn string_or(&self, opt: Opt, default: &str) -> String {
        self.string(opt).unwrap_or_else(|| default.to_owned())
    }

    /// A string option where an empty value means unset (oslo's `None`-able options written
    /// as `opt =`).
    pub fn nonempty(&self, opt: Opt) -> Option<String> {
        self.string(opt).filter(|s| !s.is_empty())
    }

    /// A boolean: `true/false/yes/no/on/off/1/0`, any case (oslo's `types.Boolean`).
    pub fn bool(&self, opt: Opt, default: bool) -> bool {
        let Some(found) = self.get(&opt) else {
            return default;
        };
        match parse_bool(&found.value) {
            Some(b) => b,
            None => {
                self.bad(&opt, &found, "a boolean (true/false, yes/no, on/off, 1/0)");
                default
            }
        }
    }

    /// An integer within `[min, max]`.
    pub fn int(&self, opt: Opt, default: i64, min: Option<i64>, max: Option<i64>) -> i64 {
        let Some(found) = self.get(&opt) else {
            return default;
        };
        match found.value.trim().parse::<i64>() {
            Ok(v) if min.is_some_and(|m| v < m) => {
                self.bad(
                    &opt,
                    &found,
                    &format!("an integer >= {}", min.unwrap_or_default()),
                );
                default
            }
            Ok(v) if max.is_some_and(|m| v > m) => {
                self.bad(
                    &opt,
                    &found,
                    &format!("an integer <= {}", max.unwrap_or_default()),
                );
                default
            }
            Ok(v) => v,
            Err(_) => {
                self.bad(&opt, &found, "an integer");
                default
            }
        }
    }

    /// A float within `[min, ..)`.
    pub fn float(&self, opt: Opt, default: f64, min: Option<f64>) -> f64 {
        let Some(found) = self.get(&opt) else {
            return default;
        };
        match found.value.trim().parse::<f64>() {
            Ok(v) if !v.is_finite() => {
                self.bad(&opt, &found, "a finite number");
                default
            }
            Ok(v) if min.is_some_and(|m| v < m) => {
                self.bad(
                    &opt,
                    &found,
                    &format!("a number >= {}", min.unwrap_or_default()),
                );
                default
            }
            Ok(v) => v,
            Err(_) => {
                self.bad(&opt, &found, "a number");
                default
            }
        }
    }

    /// One of a fixed set of strings (compared exactly, as oslo does).
    pub fn choice(&self, opt: Opt, choices: &[&str], default: &str) -> String {
        let Some(found) = self.get(&opt) else {
            return default.to_owned();
        };
        if choices.contains(&found.value.as_str()) {
            found.value
        } else {
            self.bad(&opt, &found, &format!("one of {}", choices.join(", ")));
            default.to_owned()
        }
    }

    /// A comma-separated list (oslo's `types.List`): items stripped, empty items dropped.
    pub fn list(&self, opt: Opt, default: &[&str]) -> Vec<String> {
        match self.get(&opt) {
            Some(found) => split_list(&found.value),
            None => default.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// A multi-valued option (`MultiStrOpt`): every occurrence, earliest first.
    pub fn multi(&self, opt: Opt, default: &[&str]) -> Vec<String> {
        let found = self.get_multi(&opt);
        if found.is_empty() {
            default.iter().map(|s| (*s).to_owned()).collect()
        } else {
            found.into_iter().map(|f| f.value).collect()
        }
    }

    /// Options set in `section` that no getter asked for. `DEFAULT` and other shared sections
    /// are not listed here: see [`Store::unknown_near_misses`].
    pub fn unqueried(&self, section: &str) -> Vec<(PathBuf, usize, String)> {
        let queried = self.queried.borrow();
        let mut out = Vec::new();
        for file in &self.files {
            for s in file.sections.iter().filter(|s| s.name == section) {
                for e in &s.entries {
                    if !queried.contains(&(section.to_owned(), norm_key(&e.key))) {
                        out.push((file.path.clone(), e.line, e.key.clone()));
                    }
                }
            }
        }
        out
    }

    /// The option names asked for in `section`, for "did you mean" suggestions.
    pub fn queried_names(&self, section: &str) -> Vec<String> {
        self.queried
            .borrow()
            .iter()
            .filter(|(s, _)| s == section)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

/// oslo's boolean words.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// oslo's comma list: split on commas, strip, drop empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(files: &[(&str, &str)]) -> Store {
        Store::new(
            files
                .iter()
                .map(|(p, t)| IniFile::parse(Path::new(p), t).expect("valid ini"))
                .collect(),
        )
    }

    #[test]
    fn later_file_wins_and_multi_collects_in_order() {
        let s = store(&[
            (
                "a.conf",
                "[polling]\nbatch_size = 10\n[DEFAULT]\ndirs = /a\ndirs = /b\n",
            ),
            (
                "b.conf",
                "[polling]\nbatch_size = 20\nbatch_size = 30\n[DEFAULT]\ndirs = /c\n",
            ),
        ]);
        assert_eq!(
            s.int(Opt::new("polling", "batch_size"), 50, Some(0), None),
            30
        );
        assert_eq!(
            s.multi(Opt::new("DEFAULT", "dirs"), &[]),
            vec!["/a", "/b", "/c"]
        );
        assert!(s.take_diagnostics().is_empty());
    }

    #[test]
    fn dashes_and_deprecated_names() {
        const USER: Opt = Opt::new("service_credentials", "username")
            .aliases(&[("service_credentials", "os-username")]);
        let s = store(&[(
            "k.conf",
            "[service_credentials]\nos-username = ceilometer\n",
        )]);
        assert_eq!(s.string(USER).as_deref(), Some("ceilometer"));
        let d = s.take_diagnostics();
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].to_string(),
            "k.conf:2: [service_credentials] os-username: deprecated name; use [service_credentials] username instead"
        );
        // The current name is preferred over the deprecated one within a file.
        let s = store(&[(
            "k.conf",
            "[service_credentials]\nusername = new\nos_username = old\n",
        )]);
        assert_eq!(s.string(USER).as_deref(), Some("new"));
    }

    #[test]
    fn default_section_is_not_inherited() {
        let s = store(&[("a.conf", "[DEFAULT]\nbatch_size = 7\n")]);
        assert_eq!(s.int(Opt::new("polling", "batch_size"), 50, None, None), 50);
    }

    #[test]
    fn substitution() {
        let mut s = store(&[(
            "a.conf",
            "[DEFAULT]\nhost = ctl1\nstate = /var/lib/$host\n[polling]\nx = ${DEFAULT.state}/p and $$5 and ${host}\ny = $nope\n",
        )]);
        s.set_default("DEFAULT", "pybasedir", "/usr/lib");
        assert_eq!(
            s.string(Opt::new("DEFAULT", "state")).as_deref(),
            Some("/var/lib/ctl1")
        );
        assert_eq!(
            s.string(Opt::new("polling", "x")).as_deref(),
            Some("/var/lib/ctl1/p and $5 and ctl1")
        );
        assert!(s.take_diagnostics().is_empty());
        let _ = s.string(Opt::new("polling", "y"));
        let d = s.take_diagnostics();
        assert_eq!(
            d[0].to_string(),
            "a.conf:6: [polling] y: cannot substitute $nope: no such option is set"
        );
    }

    #[test]
    fn substitution_loop_is_an_error_not_a_hang() {
        let s = store(&[("a.conf", "[DEFAULT]\na = $b\nb = $a\n")]);
        let _ = s.string(Opt::new("DEFAULT", "a"));
        let d = s.take_diagnostics();
        assert!(d[0].message.contains("more than 16 levels"), "{d:?}");
    }

    #[test]
    fn typed_errors_name_file_line_section_option_and_mask_secrets() {
        let s = store(&[(
            "/etc/ceilometer/ceilometer.conf",
            "[polling]\nbatch_size = lots\nenable_notifications = maybe\n[publisher]\ntelemetry_secret = x\n",
        )]);
        s.int(Opt::new("polling", "batch_size"), 50, Some(0), None);
        s.bool(Opt::new("polling", "enable_notifications"), true);
        s.int(
            Opt::new("publisher", "telemetry_secret").secret(),
            0,
            None,
            None,
        );
        let d: Vec<String> = s
            .take_diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            d,
            vec![
                "/etc/ceilometer/ceilometer.conf:2: [polling] batch_size: invalid value = \"lots\": expected an integer",
                "/etc/ceilometer/ceilometer.conf:3: [polling] enable_notifications: invalid value = \"maybe\": expected a boolean (true/false, yes/no, on/off, 1/0)",
                "/etc/ceilometer/ceilometer.conf:5: [publisher] telemetry_secret: invalid value: expected an integer",
            ]
        );
    }

    #[test]
    fn bools_and_lists() {
        for (t, v) in [
            ("TRUE", true),
            ("yes", true),
            ("On", true),
            ("1", true),
            ("off", false),
            ("No", false),
            ("0", false),
            ("False", false),
        ] {
            assert_eq!(parse_bool(t), Some(v), "{t}");
        }
        assert_eq!(parse_bool("y"), None);
        assert_eq!(split_list(" a, b ,,c,"), vec!["a", "b", "c"]);
    }

    #[test]
    fn unqueried_options_are_listed() {
        let s = store(&[("a.conf", "[polling]\nbatch_size = 1\nbatch_sise = 2\n")]);
        s.int(Opt::new("polling", "batch_size"), 50, None, None);
        assert_eq!(
            s.unqueried("polling"),
            vec![(PathBuf::from("a.conf"), 3, "batch_sise".to_owned())]
        );
    }
}
