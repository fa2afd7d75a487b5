//! Tree-walking evaluation with Python semantics, a step budget and size limits.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::ast::{BinOp, CmpOp, Node};
use crate::format;
use crate::value::{py_cmp, py_eq, Value};
use crate::{EvalError, Limits, Scope};

pub(crate) struct Ev<'a> {
    scope: &'a Scope,
    locals: Vec<(String, Value)>,
    steps: u64,
    limits: Limits,
}

fn type_err(msg: impl Into<String>) -> EvalError {
    EvalError::Type(msg.into())
}

fn operand_err(op: &str, a: &Value, b: &Value) -> EvalError {
    type_err(format!(
        "unsupported operand type(s) for {op}: '{}' and '{}'",
        a.type_name(),
        b.type_name()
    ))
}

fn overflow() -> EvalError {
    EvalError::Overflow("integer result does not fit in 64 bits".into())
}

fn is_num(v: &Value) -> bool {
    matches!(v, Value::Bool(_) | Value::Int(_) | Value::Float(_))
}

impl<'a> Ev<'a> {
    pub(crate) fn new(scope: &'a Scope, limits: Limits) -> Self {
        Ev {
            scope,
            locals: Vec::new(),
            steps: 0,
            limits,
        }
    }

    fn tick(&mut self, n: u64) -> Result<(), EvalError> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.max_steps {
            return Err(EvalError::StepLimit(self.limits.max_steps));
        }
        Ok(())
    }

    /// Charge work proportional to a size and enforce the size limit.
    fn sized(&mut self, len: usize) -> Result<(), EvalError> {
        if len > self.limits.max_len {
            return Err(EvalError::SizeLimit(self.limits.max_len));
        }
        self.tick((len / 64) as u64)
    }

    pub(crate) fn size_check(&mut self, len: usize) -> Result<(), EvalError> {
        self.sized(len)
    }

    /// Building `n` list/tuple elements costs `n` steps (and obeys the size limit), so the
    /// step budget also bounds memory: at most ~100 000 elements per evaluation by default.
    pub(crate) fn elems(&mut self, n: usize) -> Result<(), EvalError> {
        self.sized(n)?;
        self.tick(n as u64)
    }

    pub(crate) fn max_len(&self) -> usize {
        self.limits.max_len
    }

    fn s(&mut self, s: String) -> Result<Value, EvalError> {
        self.sized(s.len())?;
        Ok(Value::str(s))
    }

    fn l(&mut self, v: Vec<Value>) -> Result<Value, EvalError> {
        self.elems(v.len())?;
        Ok(Value::list(v))
    }

    pub(crate) fn eval(&mut self, node: &Node) -> Result<Value, EvalError> {
        self.tick(1)?;
        match node {
            Node::Const(v) => Ok(v.clone()),
            Node::Name(n, _) => self
                .locals
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .or_else(|| self.scope.get(n).cloned())
                .ok_or_else(|| EvalError::Name(n.clone())),
            Node::List(items) => {
                let v = items
                    .iter()
                    .map(|n| self.eval(n))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::list(v))
            }
            Node::Tuple(items) => {
                let v = items
                    .iter()
                    .map(|n| self.eval(n))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::Tuple(Arc::new(v)))
            }
            Node::Dict(items) => {
                let mut pairs = Vec::with_capacity(items.len());
                for (k, v) in items {
                    let k = self.eval(k)?;
                    hashable(&k)?;
                    pairs.push((k, self.eval(v)?));
                }
                Ok(Value::dict(pairs))
            }
            Node::Neg(a) => match self.eval(a)? {
                Value::Float(f) => Ok(Value::Float(-f)),
                v => match v.as_int() {
                    Some(i) => i.checked_neg().map(Value::Int).ok_or_else(overflow),
                    None => Err(type_err(format!(
                        "bad operand type for unary -: '{}'",
                        v.type_name()
                    ))),
                },
            },
            Node::Pos(a) => match self.eval(a)? {
                Value::Float(f) => Ok(Value::Float(f)),
                v => v.as_int().map(Value::Int).ok_or_else(|| {
                    type_err(format!("bad operand type for unary +: '{}'", v.type_name()))
                }),
            },
            Node::Not(a) => Ok(Value::Bool(!self.eval(a)?.truthy())),
            Node::And(a, b) => {
                let l = self.eval(a)?;
                if l.truthy() {
                    self.eval(b)
                } else {
                    Ok(l)
                }
            }
            Node::Or(a, b) => {
                let l = self.eval(a)?;
                if l.truthy() {
                    Ok(l)
                } else {
                    self.eval(b)
                }
            }
            Node::IfElse { body, test, orelse } => {
                if self.eval(test)?.truthy() {
                    self.eval(body)
                } else {
                    self.eval(orelse)
                }
            }
            Node::Bin(op, a, b, _) => {
                let l = self.eval(a)?;
                let r = self.eval(b)?;
                self.binop(*op, &l, &r)
            }
            Node::Cmp(first, rest, _) => {
                let mut l = self.eval(first)?;
                for (op, n) in rest {
                    let r = self.eval(n)?;
                    if !compare(*op, &l, &r)? {
                        return Ok(Value::Bool(false));
                    }
                    l = r;
                }
                Ok(Value::Bool(true))
            }
            Node::Index(o, i, _) => {
                let o = self.eval(o)?;
                let i = self.eval(i)?;
                index(&o, &i)
            }
            Node::Slice(o, parts, _) => {
                let o = self.eval(o)?;
                let mut p = [None, None, None];
                for (k, n) in parts.iter().enumerate() {
                    if let Some(n) = n {
                        p[k] = match self.eval(n)? {
                            Value::None => None,
                            v => Some(v.as_int().ok_or_else(|| {
                                type_err("slice indices must be integers or None")
                            })?),
                        };
                    }
                }
                self.slice(&o, p)
            }
            Node::Call {
                func, args, kwargs, ..
            } => {
                let args = args
                    .iter()
                    .map(|n| self.eval(n))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut kw = Vec::new();
                for (k, n) in kwargs {
                    kw.push((k.as_str(), self.eval(n)?));
                }
                self.call(func, args, &kw)
            }
            Node::Method {
                obj, name, args, ..
            } => {
                let o = self.eval(obj)?;
                let args = args
                    .iter()
                    .map(|n| self.eval(n))
                    .collect::<Result<Vec<_>, _>>()?;
                self.method(&o, name, &args)
            }
            Node::ListComp {
                elt,
                targets,
                iter,
                conds,
            } => {
                let it = self.eval(iter)?;
                let items = self.iterate(&it)?;
                let mut out = Vec::new();
                'outer: for item in items {
                    self.tick(1)?;
                    let before = self.locals.len();
                    self.bind(targets, item)?;
                    for c in conds {
                        match self.eval(c) {
                            Ok(v) if v.truthy() => {}
                            Ok(_) => {
                                self.locals.truncate(before);
                                continue 'outer;
                            }
                            Err(e) => {
                                self.locals.truncate(before);
                                return Err(e);
                            }
                        }
                    }
                    let v = self.eval(elt);
                    self.locals.truncate(before);
                    out.push(v?);
                    self.sized(out.len())?;
                }
                Ok(Value::list(out))
            }
        }
    }

    fn bind(&mut self, targets: &[String], item: Value) -> Result<(), EvalError> {
        if targets.len() == 1 {
            self.locals.push((targets[0].clone(), item));
            return Ok(());
        }
        let parts = self.iterate(&item)?;
        if parts.len() != targets.len() {
            return Err(EvalError::Value(format!(
                "cannot unpack {} values into {} variables",
                parts.len(),
                targets.len()
            )));
        }
        for (t, v) in targets.iter().zip(parts) {
            self.locals.push((t.clone(), v));
        }
        Ok(())
    }

    /// Elements of an iterable: str → characters, dict → keys.
    pub(crate) fn iterate(&mut self, v: &Value) -> Result<Vec<Value>, EvalError> {
        let out: Vec<Value> = match v {
            Value::List(l) | Value::Tuple(l) => l.to_vec(),
            Value::Dict(d) => d.iter().map(|(k, _)| k.clone()).collect(),
            Value::Str(s) => s.chars().map(|c| Value::str(c.to_string())).collect(),
            other => {
                return Err(type_err(format!(
                    "'{}' object is not iterable",
                    other.type_name()
                )))
            }
        };
        self.tick(out.len() as u64)?;
        Ok(out)
    }

    pub(crate) fn binop(&mut self, op: BinOp, a: &Value, b: &Value) -> Result<Value, EvalError> {
        match op {
            BinOp::Add => match (a, b) {
                (Value::Str(x), Value::Str(y)) => self.s(format!("{x}{y}")),
                (Value::List(x), Value::List(y)) => {
                    self.l(x.iter().chain(y.iter()).cloned().collect())
                }
                (Value::Tuple(x), Value::Tuple(y)) => {
                    self.elems(x.len() + y.len())?;
                    Ok(Value::Tuple(Arc::new(
                        x.iter().chain(y.iter()).cloned().collect(),
                    )))
                }
                (Value::Str(_), _) => Err(type_err(format!(
                    "can only concatenate str (not \"{}\") to str",
                    b.type_name()
                ))),
                (Value::List(_), _) => Err(type_err(format!(
                    "can only concatenate list (not \"{}\") to list",
                    b.type_name()
                ))),
                _ => arith(a, b, "+", i64::checked_add, |x, y| Ok(x + y)),
            },
            BinOp::Sub => arith(a, b, "-", i64::checked_sub, |x, y| Ok(x - y)),
            BinOp::Mul => match (a, b) {
                (Value::Str(s), n) | (n, Value::Str(s)) if n.as_int().is_some() => {
                    let n = usize::try_from(n.as_int().unwrap_or(0).max(0)).unwrap_or(0);
                    self.sized(s.len().saturating_mul(n))?;
                    Ok(Value::str(s.repeat(n)))
                }
                (Value::List(l), n) | (n, Value::List(l)) if n.as_int().is_some() => {
                    let n = usize::try_from(n.as_int().unwrap_or(0).max(0)).unwrap_or(0);
                    self.elems(l.len().saturating_mul(n))?;
                    Ok(Value::list(
                        l.iter().cloned().cycle().take(l.len() * n).collect(),
                    ))
                }
                (Value::Tuple(l), n) | (n, Value::Tuple(l)) if n.as_int().is_some() => {
                    let n = usize::try_from(n.as_int().unwrap_or(0).max(0)).unwrap_or(0);
                    self.elems(l.len().saturating_mul(n))?;
                    Ok(Value::Tuple(Arc::new(
                        l.iter().cloned().cycle().take(l.len() * n).collect(),
                    )))
                }
                _ => arith(a, b, "*", i64::checked_mul, |x, y| Ok(x * y)),
            },
            BinOp::Div => {
                let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                    return Err(operand_err("/", a, b));
                };
                if y == 0.0 {
                    return Err(EvalError::ZeroDivision("division by zero".into()));
                }
                if let (Some(i), Some(j)) = (a.as_int(), b.as_int()) {
                    // Python divides ints exactly-rounded; f64 division of exactly representable ints matches.
                    if i.unsigned_abs() < (1 << 53) && j.unsigned_abs() < (1 << 53) {
                        return Ok(Value::Float(x / y));
                    }
                }
                Ok(Value::Float(x / y))
            }
            BinOp::FloorDiv => {
                if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
                    if y == 0 {
                        return Err(EvalError::ZeroDivision(
                            "integer division or modulo by zero".into(),
                        ));
                    }
                    let q = x.checked_div(y).ok_or_else(overflow)?;
                    let adjust = x % y != 0 && ((x < 0) != (y < 0));
                    return Ok(Value::Int(if adjust { q - 1 } else { q }));
                }
                let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                    return Err(operand_err("//", a, b));
                };
                if y == 0.0 {
                    return Err(EvalError::ZeroDivision(
                        "float floor division by zero".into(),
                    ));
                }
                Ok(Value::Float(float_divmod(x, y).0))
            }
            BinOp::Mod => {
                if let Value::Str(f) = a {
                    let s = format::percent(f, b, self.limits.max_len)?;
                    return self.s(s);
                }
                if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
                    if y == 0 {
                        return Err(EvalError::ZeroDivision(
                            "integer division or modulo by zero".into(),
                        ));
                    }
                    let r = x.checked_rem(y).unwrap_or(0);
                    return Ok(Value::Int(if r != 0 && ((r < 0) != (y < 0)) {
                        r + y
                    } else {
                        r
                    }));
                }
                let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                    return Err(operand_err("%", a, b));
                };
                if y == 0.0 {
                    return Err(EvalError::ZeroDivision("float modulo".into()));
                }
                Ok(Value::Float(float_divmod(x, y).1))
            }
            BinOp::Pow => {
                if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
                    if y >= 0 {
                        let e = u32::try_from(y).map_err(|_| overflow())?;
                        return x.checked_pow(e).map(Value::Int).ok_or_else(overflow);
                    }
                    if x == 0 {
                        return Err(EvalError::ZeroDivision(
                            "0.0 cannot be raised to a negative power".into(),
                        ));
                    }
                    return Ok(Value::Float((x as f64).powf(y as f64)));
                }
                let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                    return Err(operand_err("** or pow()", a, b));
                };
                if x == 0.0 && y < 0.0 {
                    return Err(EvalError::ZeroDivision(
                        "0.0 cannot be raised to a negative power".into(),
                    ));
                }
                if x < 0.0 && y.fract() != 0.0 {
                    return Err(EvalError::Value(
                        "negative number cannot be raised to a fractional power (complex results are not supported)".into(),
                    ));
                }
                let r = x.powf(y);
                if r.is_infinite() && x.is_finite() && y.is_finite() {
                    return Err(EvalError::Overflow(
                        "(34, 'Numerical result out of range')".into(),
                    ));
                }
                Ok(Value::Float(r))
            }
        }
    }

    fn slice(&mut self, o: &Value, p: [Option<i64>; 3]) -> Result<Value, EvalError> {
        let step = p[2].unwrap_or(1);
        if step == 0 {
            return Err(EvalError::Value("slice step cannot be zero".into()));
        }
        let len = match o {
            Value::Str(s) => s.chars().count(),
            Value::List(l) | Value::Tuple(l) => l.len(),
            other => {
                return Err(type_err(format!(
                    "'{}' object is not subscriptable",
                    other.type_name()
                )))
            }
        };
        let idx = slice_indices(len as i64, p[0], p[1], step);
        self.tick(idx.len() as u64)?;
        Ok(match o {
            Value::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                Value::str(idx.iter().map(|&i| chars[i]).collect::<String>())
            }
            Value::List(l) => Value::list(idx.iter().map(|&i| l[i].clone()).collect()),
            Value::Tuple(l) => Value::Tuple(Arc::new(idx.iter().map(|&i| l[i].clone()).collect())),
            _ => Value::None,
        })
    }
}

fn hashable(k: &Value) -> Result<(), EvalError> {
    match k {
        Value::List(_) | Value::Dict(_) => {
            Err(type_err(format!("unhashable type: '{}'", k.type_name())))
        }
        Value::Tuple(t) => t.iter().try_for_each(hashable),
        _ => Ok(()),
    }
}

fn arith(
    a: &Value,
    b: &Value,
    op: &str,
    int_op: fn(i64, i64) -> Option<i64>,
    float_op: fn(f64, f64) -> Result<f64, EvalError>,
) -> Result<Value, EvalError> {
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        return int_op(x, y).map(Value::Int).ok_or_else(overflow);
    }
    if is_num(a) && is_num(b) {
        let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
        return float_op(x, y).map(Value::Float);
    }
    Err(operand_err(op, a, b))
}

/// CPython's `float_divmod`.
fn float_divmod(vx: f64, wx: f64) -> (f64, f64) {
    let mut m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m += wx;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(wx);
    }
    let floordiv = if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0.0f64.copysign(vx / wx)
    };
    (floordiv, m)
}

pub(crate) fn slice_indices(
    len: i64,
    start: Option<i64>,
    stop: Option<i64>,
    step: i64,
) -> Vec<usize> {
    let clamp = |v: Option<i64>, dflt: i64, lo: i64, hi: i64| -> i64 {
        match v {
            None => dflt,
            Some(mut v) => {
                if v < 0 {
                    v += len;
                    if v < lo {
                        v = lo;
                    }
                } else if v > hi {
                    v = hi;
                }
                v
            }
        }
    };
    let mut out = Vec::new();
    if step > 0 {
        let s = clamp(start, 0, 0, len);
        let e = clamp(stop, len, 0, len);
        let mut i = s;
        while i < e {
            out.push(i as usize);
            i += step;
        }
    } else {
        let s = clamp(start, len - 1, -1, len - 1);
        let e = clamp(stop, -1, -1, len - 1);
        let mut i = s;
        while i > e {
            out.push(i as usize);
            i += step;
        }
    }
    out
}

pub(crate) fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool, EvalError> {
    Ok(match op {
        CmpOp::Eq => py_eq(a, b),
        CmpOp::Ne => !py_eq(a, b),
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let sym = match op {
                CmpOp::Lt => "<",
                CmpOp::Le => "<=",
                CmpOp::Gt => ">",
                _ => ">=",
            };
            let ord = py_cmp(a, b).map_err(|_| {
                type_err(format!(
                    "'{sym}' not supported between instances of '{}' and '{}'",
                    a.type_name(),
                    b.type_name()
                ))
            })?;
            match ord {
                None => false, // NaN
                Some(o) => match op {
                    CmpOp::Lt => o == Ordering::Less,
                    CmpOp::Le => o != Ordering::Greater,
                    CmpOp::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                },
            }
        }
        CmpOp::In => contains(b, a)?,
        CmpOp::NotIn => !contains(b, a)?,
        CmpOp::Is => identical(a, b),
        CmpOp::IsNot => !identical(a, b),
    })
}

/// `is`: exact for `None`, `True`, `False` (the only uses in definitions); other values are
/// never identical, except containers that are the very same object.
fn identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => Arc::ptr_eq(x, y),
        (Value::Dict(x), Value::Dict(y)) => Arc::ptr_eq(x, y),
        (Value::Str(x), Value::Str(y)) => Arc::ptr_eq(x, y),
        _ => false,
    }
}

fn contains(container: &Value, item: &Value) -> Result<bool, EvalError> {
    match container {
        Value::Str(s) => match item {
            Value::Str(i) => Ok(s.contains(&**i)),
            other => Err(type_err(format!(
                "'in <string>' requires string as left operand, not {}",
                other.type_name()
            ))),
        },
        Value::List(l) | Value::Tuple(l) => Ok(l.iter().any(|x| py_eq(x, item))),
        Value::Dict(d) => {
            hashable(item)?;
            Ok(d.iter().any(|(k, _)| py_eq(k, item)))
        }
        other => Err(type_err(format!(
            "argument of type '{}' is not iterable",
            other.type_name()
        ))),
    }
}

fn seq_index(len: usize, i: &Value, what: &str) -> Result<usize, EvalError> {
    let Some(n) = i.as_int() else {
        return Err(type_err(format!(
            "{what} indices must be integers or slices, not {}",
            i.type_name()
        )));
    };
    let idx = if n < 0 { n + len as i64 } else { n };
    if idx < 0 || idx >= len as i64 {
        return Err(EvalError::Index(format!("{what} index out of range")));
    }
    Ok(idx as usize)
}

pub(crate) fn index(o: &Value, i: &Value) -> Result<Value, EvalError> {
    match o {
        Value::List(l) => Ok(l[seq_index(l.len(), i, "list")?].clone()),
        Value::Tuple(l) => Ok(l[seq_index(l.len(), i, "tuple")?].clone()),
        Value::Str(s) => {
            let n = s.chars().count();
            let k = seq_index(n, i, "string")?;
            Ok(Value::str(
                s.chars().nth(k).map(String::from).unwrap_or_default(),
            ))
        }
        Value::Dict(d) => {
            hashable(i)?;
            d.iter()
                .find(|(k, _)| py_eq(k, i))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| EvalError::Key(i.py_repr()))
        }
        other => Err(type_err(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}
