//! A safe evaluator for the Python expression subset of Ceilometer's dynamic pollster YAML.
//!
//! Upstream hands operator-written strings (`value_attribute` operations, `url_path`,
//! `metadata_fields` operations, `next_sample_url_attribute`) to Python's `eval()` — spec
//! `ceilometer-central.md` §3.4 and known weakness §8 #13. This crate gives the same results
//! for the expressions operators actually write, without `eval`'s reach:
//!
//! - **Parsed once** ([`Expr::parse`]) when definitions are loaded; anything outside the subset
//!   (lambda, imports, attribute access that is not a supported method call, `__dunder__`
//!   names, assignment, walrus, f-strings, generator expressions, bitwise operators, nested
//!   comprehensions) is a [`ParseError`] naming the construct and its column.
//! - **Evaluation is pure**: no I/O, no imports, a step budget and size limits ([`Limits`]),
//!   so any input terminates; failures are [`EvalError`] values, never panics.
//!
//! Supported: literals (int, float, str with escapes, True/False/None, list, tuple, dict),
//! names from a [`Scope`], `+ - * / // % **` and unary `- +` with Python semantics (true
//! division, floor division and modulo signs, int/float mixing, `str * int`, `list + list`),
//! chained comparisons, `in`/`not in`/`is`/`is not`, short-circuit `and`/`or` returning an
//! operand, `not`, `x if c else y`, subscripts and slices, `%` formatting, list
//! comprehensions with one `for` (tuple targets allowed) and any number of `if`s, the
//! builtins `int float str bool len round abs min max sum sorted list dict tuple any all
//! range enumerate zip reversed repr`, str methods `split rsplit replace strip lstrip rstrip lower
//! upper title capitalize isdigit startswith endswith join format count find rfind index
//! zfill`, dict methods `get keys values items`, list/tuple methods `index count`.
//!
//! Deliberate differences from CPython, all documented on the items concerned: ints are 64-bit
//! (overflow is an [`EvalError::Overflow`]), `dict.keys()/values()/items()` return lists,
//! `is` is exact only for `None`/`True`/`False` (and the very same container).
#![forbid(unsafe_code)]

mod ast;
mod builtins;
mod eval;
mod format;
mod lexer;
mod value;

pub use value::{py_cmp, py_eq, Value};

/// A rejected expression: what is wrong and where (1-based character column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based character column in the expression text.
    pub column: usize,
    /// What is not supported or malformed.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(pos: usize, message: impl Into<String>) -> Self {
        ParseError {
            column: pos + 1,
            message: message.into(),
        }
    }
}

/// A runtime failure, spelled like the Python exception it stands for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// `TypeError`.
    #[error("TypeError: {0}")]
    Type(String),
    /// `ValueError`.
    #[error("ValueError: {0}")]
    Value(String),
    /// `KeyError` (message is the key's repr).
    #[error("KeyError: {0}")]
    Key(String),
    /// `IndexError`.
    #[error("IndexError: {0}")]
    Index(String),
    /// `ZeroDivisionError`.
    #[error("ZeroDivisionError: {0}")]
    ZeroDivision(String),
    /// `NameError`.
    #[error("NameError: name '{0}' is not defined")]
    Name(String),
    /// `AttributeError` (a method the value's type does not have).
    #[error("AttributeError: {0}")]
    Attribute(String),
    /// `OverflowError`, also raised where Python would grow an int past 64 bits.
    #[error("OverflowError: {0}")]
    Overflow(String),
    /// The step budget ran out.
    #[error("evaluation exceeded the limit of {0} steps")]
    StepLimit(u64),
    /// A string or list would exceed the size limit.
    #[error("evaluation would build a string or list longer than {0}")]
    SizeLimit(usize),
}

/// Bounds that make every evaluation terminate quickly whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Node evaluations plus elements iterated (default 100 000).
    pub max_steps: u64,
    /// Longest string (bytes) or list an operation may build (default 4 MiB / 4 Mi elements).
    pub max_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 100_000,
            max_len: 4 << 20,
        }
    }
}

/// The global names an expression can read (`value`, or `base_metadata` keys for `url_path`).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    vars: Vec<(String, Value)>,
}

impl Scope {
    /// An empty scope.
    pub fn new() -> Self {
        Scope::default()
    }

    /// A scope holding only `value` (what `value_attribute` operations see).
    pub fn with_value(value: Value) -> Self {
        Scope::new().with("value", value)
    }

    /// Add or replace a name.
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set(name, value);
        self
    }

    /// Add or replace a name.
    pub fn set(&mut self, name: &str, value: Value) {
        match self.vars.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_owned(), value)),
        }
    }

    /// Every key of a JSON object as a name (upstream's `eval(url_path, base_metadata)`).
    pub fn from_json_object(obj: &serde_json::Map<String, serde_json::Value>) -> Self {
        Scope {
            vars: obj
                .iter()
                .map(|(k, v)| (k.clone(), Value::from_json(v)))
                .collect(),
        }
    }

    /// Look a name up.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A parsed expression, ready to evaluate many times.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    node: ast::Node,
    names: Vec<String>,
}

impl Expr {
    /// Parse `source`; unsupported constructs are rejected here.
    pub fn parse(source: &str) -> Result<Expr, ParseError> {
        let node = ast::parse(source)?;
        let mut names = Vec::new();
        ast::free_names(&node, &mut Vec::new(), &mut names);
        Ok(Expr {
            source: source.to_owned(),
            node,
            names,
        })
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Global names the expression reads (comprehension variables excluded), e.g. to check
    /// that an operation mentions `value`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Evaluate with the default [`Limits`].
    pub fn eval(&self, scope: &Scope) -> Result<Value, EvalError> {
        self.eval_with(scope, Limits::default())
    }

    /// Evaluate with explicit limits.
    pub fn eval_with(&self, scope: &Scope, limits: Limits) -> Result<Value, EvalError> {
        eval::Ev::new(scope, limits).eval(&self.node)
    }
}

/// Parse and evaluate in one go (tests, one-off templating).
pub fn eval_str(source: &str, scope: &Scope) -> Result<Value, Error> {
    Ok(Expr::parse(source)?.eval(scope)?)
}

/// Either failure of [`eval_str`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The text is not in the supported subset.
    #[error("invalid expression: {0}")]
    Parse(#[from] ParseError),
    /// Evaluation failed.
    #[error("{0}")]
    Eval(#[from] EvalError),
}
