//! The INI dialect of oslo.config (`oslo_config/iniparser.py`), written by hand.
//!
//! Why not the `config` crate: it reads INI through `rust-ini`, which keeps only the last
//! value of a repeated key (oslo's multi-valued options need all of them), knows nothing of
//! oslo's continuation lines and quoting, treats `[DEFAULT]` like Python's `configparser`
//! (visible in every section, which oslo does not do) and reports no line numbers. Every
//! error and warning here must name file and line, so the reader keeps them.
//!
//! Rules reproduced from oslo.config:
//! - lines are right-stripped; a blank line ends a multi-line value;
//! - a line starting with a space or tab continues the previous value (joined with `\n`);
//!   a continuation with no value before it is an error;
//! - `[name]` starts a section; a header without the closing `]` or with an empty name is an
//!   error; section names other than `DEFAULT` are case-insensitive (lower-cased);
//! - `#` and `;` start a comment only at the start of a line (a `#` after a value is part
//!   of the value, as in oslo);
//! - `key = value` or `key: value`, split at whichever of `=` / `:` comes first; key and value
//!   are stripped; a value wholly enclosed in matching single or double quotes loses them;
//! - a key outside any section, a line with neither `=` nor `:`, or an empty key is an error;
//! - a key may repeat: every value is kept, in order (multi-valued options use them all,
//!   single-valued options the last).

use std::fmt;
use std::path::{Path, PathBuf};

/// One `key = value` assignment as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written (case kept; oslo matches option names exactly).
    pub key: String,
    /// The value after unquoting; continuation lines joined with `\n`.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// A section and its assignments in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `DEFAULT` as written, every other name lower-cased (oslo's normalisation).
    pub name: String,
    /// 1-based line of the header.
    pub line: usize,
    /// Assignments in file order, repeats included.
    pub entries: Vec<Entry>,
}

/// A parsed file: its path and sections in file order (a section may appear twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniFile {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// Sections in file order.
    pub sections: Vec<Section>,
}

/// A syntax error, with the same meaning as oslo's `ParseError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// File being read.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// What is wrong (never the value: a broken line may hold a secret).
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Normalise a section name the way oslo.config does.
pub fn normalize_section(name: &str) -> String {
    if name == "DEFAULT" {
        name.to_owned()
    } else {
        name.to_lowercase()
    }
}

impl IniFile {
    /// Parse `text` read from `path`. Stops at the first syntax error, as oslo does.
    pub fn parse(path: &Path, text: &str) -> Result<IniFile, ParseError> {
        let err = |line: usize, message: &str| ParseError {
            path: path.to_owned(),
            line,
            message: message.to_owned(),
        };
        let mut sections: Vec<Section> = Vec::new();
        // The assignment being accumulated: (key, value lines, line number).
        let mut pending: Option<(String, Vec<String>, usize)> = None;

        let flush = |pending: &mut Option<(String, Vec<String>, usize)>,
                     sections: &mut Vec<Section>|
         -> Result<(), ParseError> {
            if let Some((key, lines, line)) = pending.take() {
                let Some(section) = sections.last_mut() else {
                    return Err(err(
                        line,
                        "option is outside any section; add a [section] header above it",
                    ));
                };
                section.entries.push(Entry {
                    key,
                    value: lines.join("\n"),
                    line,
                });
            }
            Ok(())
        };

        for (idx, raw) in text.split('\n').enumerate() {
            let lineno = idx + 1;
            let line = raw.trim_end();
            if line.is_empty() {
                flush(&mut pending, &mut sections)?;
                continue;
            }
            if line.starts_with([' ', '\t']) {
                match pending.as_mut() {
                    Some((_, lines, _)) => lines.push(line.trim_start().to_owned()),
                    None => {
                        return Err(err(
                            lineno,
                            "unexpected continuation line (it starts with whitespace but no option precedes it)",
                        ))
                    }
                }
                continue;
            }
            flush(&mut pending, &mut sections)?;
            if let Some(rest) = line.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return Err(err(lineno, "invalid section header: missing closing ']'"));
                };
                if name.is_empty() {
                    return Err(err(lineno, "empty section name"));
                }
                sections.push(Section {
                    name: normalize_section(name),
                    line: lineno,
                    entries: Vec::new(),
                });
            } else if line.starts_with(['#', ';']) {
                // Comment.
            } else {
                let split = match (line.find('='), line.find(':')) {
                    (Some(e), Some(c)) => e.min(c),
                    (Some(e), None) => e,
                    (None, Some(c)) => c,
                    (None, None) => {
                        return Err(err(
                            lineno,
                            "line is neither a section header, a comment nor 'key = value'",
                        ))
                    }
                };
                let key = line[..split].trim();
                if key.is_empty() {
                    return Err(err(lineno, "empty option name before '='"));
                }
                let mut value = line[split + 1..].trim();
                if value.len() >= 2
                    && (value.starts_with('"') || value.starts_with('\''))
                    && value.as_bytes()[0] == value.as_bytes()[value.len() - 1]
                {
                    value = &value[1..value.len() - 1];
                }
                pending = Some((key.to_owned(), vec![value.to_owned()], lineno));
            }
        }
        flush(&mut pending, &mut sections)?;
        Ok(IniFile {
            path: path.to_owned(),
            sections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IniFile, ParseError> {
        IniFile::parse(Path::new("t.conf"), text)
    }

    fn entries(f: &IniFile, section: &str) -> Vec<(String, String, usize)> {
        f.sections
            .iter()
            .filter(|s| s.name == section)
            .flat_map(|s| {
                s.entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.clone(), e.line))
            })
            .collect()
    }

    #[test]
    fn basic_assignments_quotes_comments_and_repeats() {
        let f = parse(
            "# top comment\n[DEFAULT]\nhost = ctl-1\n; other comment\nx: 'quoted'\nurl = a=b:c\n\n[Polling]\nd = \"two words\"\nd = again # not a comment\n",
        )
        .expect("parses");
        assert_eq!(
            entries(&f, "DEFAULT"),
            vec![
                ("host".into(), "ctl-1".into(), 3),
                ("x".into(), "quoted".into(), 5),
                ("url".into(), "a=b:c".into(), 6),
            ]
        );
        assert_eq!(
            entries(&f, "polling"),
            vec![
                ("d".into(), "two words".into(), 9),
                ("d".into(), "again # not a comment".into(), 10),
            ]
        );
    }

    #[test]
    fn colon_before_equals_splits_at_colon() {
        let f = parse("[s]\nk: v=w\n").expect("parses");
        assert_eq!(entries(&f, "s"), vec![("k".into(), "v=w".into(), 2)]);
    }

    #[test]
    fn continuation_lines_join_with_newline_and_blank_line_ends_them() {
        let f = parse("[s]\nk = a\n  b\n\tc\n\nj = d\n").expect("parses");
        assert_eq!(
            entries(&f, "s"),
            vec![
                ("k".into(), "a\nb\nc".into(), 2),
                ("j".into(), "d".into(), 6)
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("k = v\n", 1, "option is outside any section"),
            ("[s\n", 1, "missing closing ']'"),
            ("[]\n", 1, "empty section name"),
            ("[s]\n  cont\n", 2, "unexpected continuation line"),
            ("[s]\njustaword\n", 2, "neither a section header"),
            ("[s]\n= v\n", 2, "empty option name"),
        ];
        for (text, line, msg) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, line, "{text:?}");
            assert!(e.message.contains(msg), "{text:?}: {}", e.message);
            assert!(e.to_string().starts_with(&format!("t.conf:{line}: ")));
        }
    }

    #[test]
    fn crlf_and_missing_final_newline() {
        let f = parse("[s]\r\nk = v\r\nj = w").expect("parses");
        assert_eq!(
            entries(&f, "s"),
            vec![("k".into(), "v".into(), 2), ("j".into(), "w".into(), 3)]
        );
    }
}
