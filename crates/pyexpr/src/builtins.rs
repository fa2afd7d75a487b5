//! Builtin functions and the string/dict/list methods of the supported subset.

use std::sync::Arc;

use crate::ast::CmpOp;
use crate::eval::{compare, Ev};
use crate::format;
use crate::value::{py_cmp, py_eq, Value};
use crate::EvalError;

fn type_err(msg: impl Into<String>) -> EvalError {
    EvalError::Type(msg.into())
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), EvalError> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("exactly {min}")
        } else if args.len() < min {
            format!("at least {min}")
        } else {
            format!("at most {max}")
        };
        return Err(type_err(format!(
            "{name}() takes {want} argument{} ({} given)",
            if min == max && min == 1 { "" } else { "s" },
            args.len()
        )));
    }
    Ok(())
}

fn str_arg<'v>(name: &str, v: &'v Value) -> Result<&'v str, EvalError> {
    v.as_str().ok_or_else(|| {
        type_err(format!(
            "{name}() argument must be str, not {}",
            v.type_name()
        ))
    })
}

/// Python's `int(str)`: optional sign, digits, underscores between digits, surrounding blanks.
fn parse_int(s: &str, base: u32) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = if base == 16 {
        digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
            .unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.starts_with('+') || clean.starts_with('-') {
        return None;
    }
    let mag = i128::from_str_radix(&clean, base).ok()?;
    i64::try_from(if neg { -mag } else { mag }).ok()
}

fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        return t.parse::<f64>().ok().or(Some(if body == "nan" {
            f64::NAN
        } else if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }));
    }
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_'))
    {
        return None;
    }
    t.replace('_', "").parse::<f64>().ok()
}

fn float_to_int(f: f64) -> Result<i64, EvalError> {
    if f.is_nan() {
        return Err(EvalError::Value(
            "cannot convert float NaN to integer".into(),
        ));
    }
    if f.is_infinite() {
        return Err(EvalError::Overflow(
            "cannot convert float infinity to integer".into(),
        ));
    }
    let t = f.trunc();
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&t) {
        return Err(EvalError::Overflow(
            "integer result does not fit in 64 bits".into(),
        ));
    }
    Ok(t as i64)
}

impl Ev<'_> {
    pub(crate) fn call(
        &mut self,
        func: &str,
        args: Vec<Value>,
        kw: &[(&str, Value)],
    ) -> Result<Value, EvalError> {
        let kwarg = |k: &str| kw.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        match func {
            "int" => {
                let base = kwarg("base").or_else(|| args.get(1).cloned());
                arity("int", &args, 0, 2)?;
                let Some(x) = args.first() else {
                    return Ok(Value::Int(0));
                };
                if let Some(b) = base {
                    let b = b
                        .as_int()
                        .ok_or_else(|| type_err("int() base must be an int"))?;
                    let s = x.as_str().ok_or_else(|| {
                        type_err("int() can't convert non-string with explicit base")
                    })?;
                    if !(2..=36).contains(&b) {
                        return Err(EvalError::Value(
                            "int() base must be >= 2 and <= 36, or 0".into(),
                        ));
                    }
                    return parse_int(s, b as u32).map(Value::Int).ok_or_else(|| {
                        EvalError::Value(format!(
                            "invalid literal for int() with base {b}: {}",
                            x.py_repr()
                        ))
                    });
                }
                match x {
                    Value::Int(i) => Ok(Value::Int(*i)),
                    Value::Bool(b) => Ok(Value::Int(i64::from(*b))),
                    Value::Float(f) => float_to_int(*f).map(Value::Int),
                    Value::Str(s) => parse_int(s, 10).map(Value::Int).ok_or_else(|| {
                        EvalError::Value(format!("invalid literal for int() with base 10: {}", x.py_repr()))
                    }),
                    other => Err(type_err(format!(
                        "int() argument must be a string, a bytes-like object or a real number, not '{}'",
                        other.type_name()
                    ))),
                }
            }
            "float" => {
                arity("float", &args, 0, 1)?;
                let Some(x) = args.first() else {
                    return Ok(Value::Float(0.0));
                };
                match x {
                    Value::Str(s) => parse_float(s).map(Value::Float).ok_or_else(|| {
                        EvalError::Value(format!(
                            "could not convert string to float: {}",
                            x.py_repr()
                        ))
                    }),
                    other => other.as_f64().map(Value::Float).ok_or_else(|| {
                        type_err(format!(
                            "float() argument must be a string or a real number, not '{}'",
                            other.type_name()
                        ))
                    }),
                }
            }
            "str" => {
                arity("str", &args, 0, 1)?;
                let s = args.first().map(Value::py_str).unwrap_or_default();
                self.s_val(s)
            }
            "repr" => {
                arity("repr", &args, 1, 1)?;
                let s = args[0].py_repr();
                self.s_val(s)
            }
            "bool" => {
                arity("bool", &args, 0, 1)?;
                Ok(Value::Bool(args.first().is_some_and(Value::truthy)))
            }
            "len" => {
                arity("len", &args, 1, 1)?;
                Ok(Value::Int(match &args[0] {
                    Value::Str(s) => s.chars().count() as i64,
                    Value::List(l) | Value::Tuple(l) => l.len() as i64,
                    Value::Dict(d) => d.len() as i64,
                    other => {
                        return Err(type_err(format!(
                            "object of type '{}' has no len()",
                            other.type_name()
                        )))
                    }
                }))
            }
            "abs" => {
                arity("abs", &args, 1, 1)?;
                match &args[0] {
                    Value::Float(f) => Ok(Value::Float(f.abs())),
                    v => v
                        .as_int()
                        .map(|i| i.checked_abs().map(Value::Int))
                        .and_then(|x| x)
                        .ok_or_else(|| {
                            if v.as_int().is_some() {
                                EvalError::Overflow("integer result does not fit in 64 bits".into())
                            } else {
                                type_err(format!("bad operand type for abs(): '{}'", v.type_name()))
                            }
                        }),
                }
            }
            "round" => {
                let nd = kwarg("ndigits").or_else(|| args.get(1).cloned());
                arity("round", &args, 1, 2)?;
                let nd = match nd {
                    None | Some(Value::None) => None,
                    Some(v) => Some(v.as_int().ok_or_else(|| {
                        type_err(format!(
                            "'{}' object cannot be interpreted as an integer",
                            v.type_name()
                        ))
                    })?),
                };
                round(&args[0], nd)
            }
            "min" | "max" => {
                if args.is_empty() {
                    return Err(type_err(format!(
                        "{func} expected at least 1 argument, got 0"
                    )));
                }
                let items = if args.len() == 1 {
                    self.iterate(&args[0])?
                } else {
                    args
                };
                let mut best: Option<Value> = None;
                for v in items {
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let better = if func == "min" {
                                compare(CmpOp::Lt, &v, &b)?
                            } else {
                                compare(CmpOp::Gt, &v, &b)?
                            };
                            if better {
                                v
                            } else {
                                b
                            }
                        }
                    });
                }
                best.ok_or_else(|| EvalError::Value(format!("{func}() arg is an empty sequence")))
            }
            "sum" => {
                arity("sum", &args, 1, 2)?;
                let mut acc = kwarg("start")
                    .or_else(|| args.get(1).cloned())
                    .unwrap_or(Value::Int(0));
                if acc.as_str().is_some() {
                    return Err(type_err(
                        "sum() can't sum strings [use ''.join(seq) instead]",
                    ));
                }
                for v in self.iterate(&args[0])? {
                    acc = self.add(&acc, &v)?;
                }
                Ok(acc)
            }
            "sorted" => {
                arity("sorted", &args, 1, 1)?;
                let reverse = kwarg("reverse").is_some_and(|v| v.truthy());
                let mut items = self.iterate(&args[0])?;
                sort(&mut items, reverse)?;
                Ok(Value::list(items))
            }
            "list" => {
                arity("list", &args, 0, 1)?;
                match args.first() {
                    None => Ok(Value::list(Vec::new())),
                    Some(v) => Ok(Value::list(self.iterate(v)?)),
                }
            }
            "tuple" => {
                arity("tuple", &args, 0, 1)?;
                match args.first() {
                    None => Ok(Value::Tuple(Arc::new(Vec::new()))),
                    Some(v) => Ok(Value::Tuple(Arc::new(self.iterate(v)?))),
                }
            }
            "reversed" => {
                arity("reversed", &args, 1, 1)?;
                if matches!(args[0], Value::Dict(_)) {
                    return Err(type_err("'dict' object is not reversible"));
                }
                let mut items = self.iterate(&args[0])?;
                items.reverse();
                Ok(Value::list(items))
            }
            "dict" => {
                arity("dict", &args, 0, 1)?;
                match args.first() {
                    None => Ok(Value::dict(Vec::new())),
                    Some(Value::Dict(d)) => Ok(Value::Dict(d.clone())),
                    Some(v) => {
                        let mut pairs = Vec::new();
                        for (n, item) in self.iterate(v)?.into_iter().enumerate() {
                            let kv = match &item {
                                Value::List(p) | Value::Tuple(p) if p.len() == 2 => (p[0].clone(), p[1].clone()),
                                _ => {
                                    return Err(EvalError::Value(format!(
                                        "dictionary update sequence element #{n} has wrong length or type"
                                    )))
                                }
                            };
                            pairs.push(kv);
                        }
                        Ok(Value::dict(pairs))
                    }
                }
            }
            "any" => {
                arity("any", &args, 1, 1)?;
                Ok(Value::Bool(
                    self.iterate(&args[0])?.iter().any(Value::truthy),
                ))
            }
            "all" => {
                arity("all", &args, 1, 1)?;
                Ok(Value::Bool(
                    self.iterate(&args[0])?.iter().all(Value::truthy),
                ))
            }
            "range" => {
                arity("range", &args, 1, 3)?;
                let ints = args
                    .iter()
                    .map(|a| {
                        a.as_int().ok_or_else(|| {
                            type_err(format!(
                                "'{}' object cannot be interpreted as an integer",
                                a.type_name()
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let (start, stop, step) = match ints.as_slice() {
                    [stop] => (0, *stop, 1),
                    [start, stop] => (*start, *stop, 1),
                    [start, stop, step] => (*start, *stop, *step),
                    _ => (0, 0, 1),
                };
                if step == 0 {
                    return Err(EvalError::Value("range() arg 3 must not be zero".into()));
                }
                let span = if step > 0 {
                    stop.saturating_sub(start)
                } else {
                    start.saturating_sub(stop)
                };
                let count = if span <= 0 {
                    0
                } else {
                    (span - 1) / step.saturating_abs() + 1
                };
                self.elems(usize::try_from(count).unwrap_or(usize::MAX))?;
                Ok(Value::list(
                    (0..count).map(|k| Value::Int(start + k * step)).collect(),
                ))
            }
            "enumerate" => {
                arity("enumerate", &args, 1, 2)?;
                let start = args.get(1).and_then(Value::as_int).unwrap_or(0);
                let items = self.iterate(&args[0])?;
                Ok(Value::list(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(k, v)| {
                            Value::Tuple(Arc::new(vec![
                                Value::Int(start.saturating_add(k as i64)),
                                v,
                            ]))
                        })
                        .collect(),
                ))
            }
            "zip" => {
                let lists = args
                    .iter()
                    .map(|a| self.iterate(a))
                    .collect::<Result<Vec<_>, _>>()?;
                let n = lists.iter().map(Vec::len).min().unwrap_or(0);
                Ok(Value::list(
                    (0..n)
                        .map(|k| {
                            Value::Tuple(Arc::new(lists.iter().map(|l| l[k].clone()).collect()))
                        })
                        .collect(),
                ))
            }
            other => Err(EvalError::Name(other.to_owned())),
        }
    }

    fn s_val(&mut self, s: String) -> Result<Value, EvalError> {
        self.size_check(s.len())?;
        Ok(Value::str(s))
    }

    pub(crate) fn method(
        &mut self,
        o: &Value,
        name: &str,
        args: &[Value],
    ) -> Result<Value, EvalError> {
        let no_attr = || {
            EvalError::Attribute(format!(
                "'{}' object has no attribute '{name}'",
                o.type_name()
            ))
        };
        match o {
            Value::Str(s) => self
                .str_method(s, name, args)
                .transpose()
                .ok_or_else(no_attr)?,
            Value::Dict(d) => {
                let r = match name {
                    "get" => {
                        arity("get", args, 1, 2)?;
                        d.iter()
                            .find(|(k, _)| py_eq(k, &args[0]))
                            .map(|(_, v)| v.clone())
                            .unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::None))
                    }
                    "keys" => Value::list(d.iter().map(|(k, _)| k.clone()).collect()),
                    "values" => Value::list(d.iter().map(|(_, v)| v.clone()).collect()),
                    "items" => Value::list(
                        d.iter()
                            .map(|(k, v)| Value::Tuple(Arc::new(vec![k.clone(), v.clone()])))
                            .collect(),
                    ),
                    _ => return Err(no_attr()),
                };
                self.elems(d.len())?;
                Ok(r)
            }
            Value::List(l) | Value::Tuple(l) => match name {
                "index" => {
                    arity("index", args, 1, 1)?;
                    l.iter()
                        .position(|x| py_eq(x, &args[0]))
                        .map(|p| Value::Int(p as i64))
                        .ok_or_else(|| {
                            EvalError::Value(format!("{} is not in list", args[0].py_repr()))
                        })
                }
                "count" => {
                    arity("count", args, 1, 1)?;
                    Ok(Value::Int(
                        l.iter().filter(|x| py_eq(x, &args[0])).count() as i64
                    ))
                }
                _ => Err(no_attr()),
            },
            _ => Err(no_attr()),
        }
    }

    /// `Ok(None)` = no such str method.
    fn str_method(
        &mut self,
        s: &str,
        name: &str,
        args: &[Value],
    ) -> Result<Option<Value>, EvalError> {
        self.size_check(s.len())?;
        let v = match name {
            "lower" | "upper" | "title" | "capitalize" | "isdigit" => {
                arity(name, args, 0, 0)?;
                match name {
                    "lower" => Value::str(s.to_lowercase()),
                    "upper" => Value::str(s.to_uppercase()),
                    "isdigit" => Value::Bool(!s.is_empty() && s.chars().all(|c| c.is_numeric())),
                    "capitalize" => {
                        let mut c = s.chars();
                        Value::str(match c.next() {
                            Some(f) => f
                                .to_uppercase()
                                .chain(c.flat_map(char::to_lowercase))
                                .collect(),
                            None => String::new(),
                        })
                    }
                    _ => {
                        let mut out = String::new();
                        let mut prev_alpha = false;
                        for c in s.chars() {
                            if c.is_alphabetic() {
                                if prev_alpha {
                                    out.extend(c.to_lowercase());
                                } else {
                                    out.extend(c.to_uppercase());
                                }
                                prev_alpha = true;
                            } else {
                                out.push(c);
                                prev_alpha = false;
                            }
                        }
                        Value::str(out)
                    }
                }
            }
            "strip" | "lstrip" | "rstrip" => {
                arity(name, args, 0, 1)?;
                let chars: Option<Vec<char>> = match args.first() {
                    None | Some(Value::None) => None,
                    Some(v) => Some(str_arg(name, v)?.chars().collect()),
                };
                let pred = |c: char| match &chars {
                    None => c.is_whitespace(),
                    Some(set) => set.contains(&c),
                };
                Value::str(match name {
                    "strip" => s.trim_matches(pred),
                    "lstrip" => s.trim_start_matches(pred),
                    _ => s.trim_end_matches(pred),
                })
            }
            "split" | "rsplit" => {
                arity(name, args, 0, 2)?;
                let sep = match args.first() {
                    None | Some(Value::None) => None,
                    Some(v) => Some(str_arg(name, v)?),
                };
                let max = match args.get(1) {
                    None => -1,
                    Some(v) => v
                        .as_int()
                        .ok_or_else(|| type_err("maxsplit must be an integer"))?,
                };
                let parts = split(s, sep, max, name == "rsplit")?;
                self.elems(parts.len())?;
                Value::list(parts.into_iter().map(Value::str).collect())
            }
            "replace" => {
                arity(name, args, 2, 3)?;
                let old = str_arg(name, &args[0])?;
                let new = str_arg(name, &args[1])?;
                let count = match args.get(2) {
                    None => -1,
                    Some(v) => v
                        .as_int()
                        .ok_or_else(|| type_err("count must be an integer"))?,
                };
                let est = if old.is_empty() {
                    s.len() + (s.chars().count() + 1) * new.len()
                } else {
                    s.len() + s.matches(old).count() * new.len()
                };
                self.size_check(est)?;
                if count < 0 {
                    if old.is_empty() {
                        // Python inserts `new` around every character.
                        let mut out = String::from(new);
                        for c in s.chars() {
                            out.push(c);
                            out.push_str(new);
                        }
                        Value::str(out)
                    } else {
                        Value::str(s.replace(old, new))
                    }
                } else if old.is_empty() {
                    let mut out = String::new();
                    let mut n = 0;
                    for c in s.chars() {
                        if n < count {
                            out.push_str(new);
                            n += 1;
                        }
                        out.push(c);
                    }
                    if n < count {
                        out.push_str(new);
                    }
                    Value::str(out)
                } else {
                    Value::str(s.replacen(old, new, usize::try_from(count).unwrap_or(0)))
                }
            }
            "startswith" | "endswith" => {
                arity(name, args, 1, 3)?;
                let chars: Vec<char> = s.chars().collect();
                let idx = crate::eval::slice_indices(
                    chars.len() as i64,
                    args.get(1).and_then(Value::as_int),
                    args.get(2).and_then(Value::as_int),
                    1,
                );
                let sub: String = idx.iter().map(|&i| chars[i]).collect();
                let check = |p: &Value| -> Result<bool, EvalError> {
                    let p = p.as_str().ok_or_else(|| {
                        type_err(format!(
                            "{name} first arg must be str or a tuple of str, not {}",
                            p.type_name()
                        ))
                    })?;
                    Ok(if name == "startswith" {
                        sub.starts_with(p)
                    } else {
                        sub.ends_with(p)
                    })
                };
                let r = match &args[0] {
                    Value::Tuple(t) => {
                        let mut any = false;
                        for p in t.iter() {
                            any |= check(p)?;
                        }
                        any
                    }
                    p => check(p)?,
                };
                Value::Bool(r)
            }
            "join" => {
                arity(name, args, 1, 1)?;
                let items = self.iterate(&args[0])?;
                let mut parts = Vec::with_capacity(items.len());
                let mut total = 0usize;
                for (k, it) in items.iter().enumerate() {
                    let p = it.as_str().ok_or_else(|| {
                        type_err(format!(
                            "sequence item {k}: expected str instance, {} found",
                            it.type_name()
                        ))
                    })?;
                    total = total.saturating_add(p.len() + s.len());
                    self.size_check(total)?;
                    parts.push(p);
                }
                Value::str(parts.join(s))
            }
            "format" => {
                let out = format::brace(s, args, self.max_len())?;
                self.s_val(out)?
            }
            "count" | "find" | "rfind" | "index" => {
                arity(name, args, 1, 1)?;
                let sub = str_arg(name, &args[0])?;
                match name {
                    "count" => Value::Int(if sub.is_empty() {
                        s.chars().count() as i64 + 1
                    } else {
                        s.matches(sub).count() as i64
                    }),
                    _ => {
                        let pos = if name == "rfind" {
                            s.rfind(sub)
                        } else {
                            s.find(sub)
                        };
                        match pos {
                            Some(b) => Value::Int(s[..b].chars().count() as i64),
                            None if name == "index" => {
                                return Err(EvalError::Value("substring not found".into()))
                            }
                            None => Value::Int(-1),
                        }
                    }
                }
            }
            "zfill" => {
                arity(name, args, 1, 1)?;
                let w = args[0]
                    .as_int()
                    .ok_or_else(|| type_err("zfill() argument must be int"))?;
                let w = usize::try_from(w.max(0)).unwrap_or(0);
                self.size_check(w)?;
                let n = s.chars().count();
                if n >= w {
                    Value::str(s)
                } else {
                    let zeros = "0".repeat(w - n);
                    match s.chars().next() {
                        Some(c @ ('+' | '-')) => Value::str(format!("{c}{zeros}{}", &s[1..])),
                        _ => Value::str(format!("{zeros}{s}")),
                    }
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    pub(crate) fn add(&mut self, a: &Value, b: &Value) -> Result<Value, EvalError> {
        self.binop(crate::ast::BinOp::Add, a, b)
    }
}

fn split(s: &str, sep: Option<&str>, max: i64, right: bool) -> Result<Vec<String>, EvalError> {
    let max = if max < 0 {
        usize::MAX
    } else {
        usize::try_from(max).unwrap_or(usize::MAX)
    };
    match sep {
        Some("") => Err(EvalError::Value("empty separator".into())),
        Some(sep) => Ok(if right {
            let mut v: Vec<String> = s
                .rsplitn(max.saturating_add(1), sep)
                .map(String::from)
                .collect();
            v.reverse();
            v
        } else {
            s.splitn(max.saturating_add(1), sep)
                .map(String::from)
                .collect()
        }),
        None => {
            // Whitespace runs; leading/trailing whitespace ignored; the remainder after
            // `max` splits keeps its inner whitespace (but not the leading run).
            let mut out = Vec::new();
            if right {
                let mut rest = s.trim_end();
                while !rest.is_empty() {
                    if out.len() == max {
                        out.push(rest.to_string());
                        break;
                    }
                    match rest.rfind(char::is_whitespace) {
                        Some(p) => {
                            let wlen = rest[p..].chars().next().map_or(1, char::len_utf8);
                            out.push(rest[p + wlen..].to_string());
                            rest = rest[..p].trim_end();
                        }
                        None => {
                            out.push(rest.to_string());
                            break;
                        }
                    }
                }
                out.reverse();
            } else {
                let mut rest = s.trim_start();
                while !rest.is_empty() {
                    if out.len() == max {
                        out.push(rest.to_string());
                        break;
                    }
                    match rest.find(char::is_whitespace) {
                        Some(p) => {
                            out.push(rest[..p].to_string());
                            rest = rest[p..].trim_start();
                        }
                        None => {
                            out.push(rest.to_string());
                            break;
                        }
                    }
                }
            }
            Ok(out)
        }
    }
}

fn sort(items: &mut [Value], reverse: bool) -> Result<(), EvalError> {
    let mut err = None;
    items.sort_by(|a, b| {
        let (x, y) = if reverse { (b, a) } else { (a, b) };
        match py_cmp(x, y) {
            Ok(Some(o)) => o,
            Ok(None) => std::cmp::Ordering::Equal,
            Err(e) => {
                err.get_or_insert(e);
                std::cmp::Ordering::Equal
            }
        }
    });
    err.map_or(Ok(()), Err)
}

fn round(x: &Value, nd: Option<i64>) -> Result<Value, EvalError> {
    match x {
        Value::Float(f) => match nd {
            None => float_to_int(f.round_ties_even()).map(Value::Int),
            Some(n) if !f.is_finite() => {
                let _ = n;
                Ok(Value::Float(*f))
            }
            Some(n) if n >= 0 => {
                let n = usize::try_from(n.min(340)).unwrap_or(340);
                let s = format!("{f:.n$}");
                Ok(Value::Float(s.parse().unwrap_or(*f)))
            }
            Some(n) => {
                let p = 10f64.powi(i32::try_from(-n).unwrap_or(400).min(400));
                if !p.is_finite() {
                    return Ok(Value::Float(0.0f64.copysign(*f)));
                }
                Ok(Value::Float((f / p).round_ties_even() * p))
            }
        },
        v => {
            let Some(i) = v.as_int() else {
                return Err(type_err(format!(
                    "type {} doesn't define __round__ method",
                    v.type_name()
                )));
            };
            match nd {
                Some(n) if n < 0 => {
                    let Some(p) = u32::try_from(-n).ok().and_then(|e| 10i64.checked_pow(e)) else {
                        return Ok(Value::Int(0));
                    };
                    let q = i.div_euclid(p);
                    let r = i.rem_euclid(p);
                    let q = match (2 * r).cmp(&p) {
                        std::cmp::Ordering::Greater => q + 1,
                        std::cmp::Ordering::Equal if q % 2 != 0 => q + 1,
                        _ => q,
                    };
                    q.checked_mul(p).map(Value::Int).ok_or_else(|| {
                        EvalError::Overflow("integer result does not fit in 64 bits".into())
                    })
                }
                _ => Ok(Value::Int(i)),
            }
        }
    }
}
