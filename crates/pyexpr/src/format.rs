//! `str % args` and `str.format(...)`: the printf-style and brace formatting operators use
//! to build URLs and metadata strings.

use crate::value::Value;
use crate::EvalError;

/// One parsed conversion spec.
#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
    conv: char,
    fill: Option<char>,
    align: Option<char>,
}

/// `fmt % args`.
pub(crate) fn percent(fmt: &str, args: &Value, max_len: usize) -> Result<String, EvalError> {
    let (positional, mapping): (Vec<Value>, Option<&Value>) = match args {
        Value::Tuple(t) => (t.to_vec(), None),
        Value::Dict(_) => (vec![args.clone()], Some(args)),
        other => (vec![other.clone()], None),
    };
    let mut next = 0usize;
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut used_mapping = false;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            let mut depth = 1;
            let start = i + 1;
            let mut j = start;
            while j < chars.len() {
                match chars[j] {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j >= chars.len() {
                return Err(EvalError::Value("incomplete format key".into()));
            }
            key = Some(chars[start..j].iter().collect::<String>());
            i = j + 1;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        let mut take_arg = |what: &str| -> Result<Value, EvalError> {
            if let Some(k) = &key {
                let Some(m) = mapping else {
                    return Err(EvalError::Type("format requires a mapping".into()));
                };
                used_mapping = true;
                return m
                    .get(k)
                    .cloned()
                    .ok_or_else(|| EvalError::Key(Value::str(k.as_str()).py_repr()));
            }
            let v = positional.get(next).cloned().ok_or_else(|| {
                EvalError::Type(format!("not enough arguments for format string{what}"))
            })?;
            next += 1;
            Ok(v)
        };
        if chars.get(i) == Some(&'*') {
            i += 1;
            let w = take_arg("")?;
            spec.width = usize::try_from(
                w.as_int()
                    .ok_or_else(|| EvalError::Type("* wants int".into()))?
                    .max(0),
            )
            .unwrap_or(0);
        } else {
            spec.width = digits(&chars, &mut i);
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            if chars.get(i) == Some(&'*') {
                i += 1;
                let p = take_arg("")?;
                spec.precision = Some(
                    usize::try_from(
                        p.as_int()
                            .ok_or_else(|| EvalError::Type("* wants int".into()))?
                            .max(0),
                    )
                    .unwrap_or(0),
                );
            } else {
                spec.precision = Some(digits(&chars, &mut i));
            }
        }
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            return Err(EvalError::Value("incomplete format".into()));
        };
        i += 1;
        if spec.width > max_len || spec.precision.unwrap_or(0) > max_len {
            return Err(EvalError::SizeLimit(max_len));
        }
        if conv == '%' {
            out.push('%');
            continue;
        }
        spec.conv = conv;
        let arg = take_arg("")?;
        out.push_str(&convert(&arg, &spec)?);
        if out.len() > max_len {
            return Err(EvalError::SizeLimit(max_len));
        }
    }
    if mapping.is_none() && next < positional.len() {
        return Err(EvalError::Type(
            "not all arguments converted during string formatting".into(),
        ));
    }
    let _ = used_mapping;
    Ok(out)
}

fn digits(chars: &[char], i: &mut usize) -> usize {
    let mut n: usize = 0;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        n = n.saturating_mul(10).saturating_add(d as usize);
        *i += 1;
    }
    n
}

fn number_arg(v: &Value, conv: char) -> Result<f64, EvalError> {
    v.as_f64().ok_or_else(|| {
        EvalError::Type(format!(
            "%{conv} format: a real number is required, not {}",
            v.type_name()
        ))
    })
}

fn int_arg(v: &Value, conv: char) -> Result<i64, EvalError> {
    match v {
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(EvalError::Overflow(
                    "cannot convert float infinity or nan to integer".into(),
                ));
            }
            Ok(f.trunc() as i64)
        }
        other => other.as_int().ok_or_else(|| {
            EvalError::Type(format!(
                "%{conv} format: a real number is required, not {}",
                other.type_name()
            ))
        }),
    }
}

fn convert(arg: &Value, spec: &Spec) -> Result<String, EvalError> {
    let (body, numeric) = match spec.conv {
        's' => {
            let s = arg.py_str();
            (truncate(s, spec.precision), false)
        }
        'r' | 'a' => (truncate(arg.py_repr(), spec.precision), false),
        'd' | 'i' | 'u' => (sign(int_arg(arg, spec.conv)?.to_string(), spec), true),
        'x' | 'X' | 'o' => {
            let v = match arg {
                Value::Float(_) => {
                    return Err(EvalError::Type(format!(
                        "%{} format: an integer is required, not float",
                        spec.conv
                    )))
                }
                _ => int_arg(arg, spec.conv)?,
            };
            let mag = v.unsigned_abs();
            let mut s = match spec.conv {
                'x' => format!("{mag:x}"),
                'X' => format!("{mag:X}"),
                _ => format!("{mag:o}"),
            };
            if spec.alt {
                s = format!("0{}{s}", spec.conv);
            }
            if v < 0 {
                s = format!("-{s}");
            }
            (sign(s, spec), true)
        }
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
            let f = number_arg(arg, spec.conv)?;
            (
                sign(
                    float_fmt(f, spec.conv, spec.precision.unwrap_or(6), spec.alt),
                    spec,
                ),
                true,
            )
        }
        'c' => match arg {
            Value::Str(s) if s.chars().count() == 1 => (s.to_string(), false),
            Value::Int(i) => (
                u32::try_from(*i)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| EvalError::Overflow("%c arg not in range".into()))?
                    .to_string(),
                false,
            ),
            _ => return Err(EvalError::Type("%c requires int or char".into())),
        },
        other => {
            return Err(EvalError::Value(format!(
                "unsupported format character '{other}'"
            )))
        }
    };
    Ok(pad(body, spec, numeric))
}

fn truncate(s: String, p: Option<usize>) -> String {
    match p {
        Some(p) => s.chars().take(p).collect(),
        None => s,
    }
}

fn sign(s: String, spec: &Spec) -> String {
    if s.starts_with('-') {
        s
    } else if spec.plus {
        format!("+{s}")
    } else if spec.space {
        format!(" {s}")
    } else {
        s
    }
}

fn pad(body: String, spec: &Spec, numeric: bool) -> String {
    let len = body.chars().count();
    if len >= spec.width {
        return body;
    }
    let n = spec.width - len;
    let fill = spec.fill.unwrap_or(' ');
    let align = spec.align.unwrap_or(if spec.left {
        '<'
    } else if spec.zero && numeric {
        '='
    } else {
        '>'
    });
    let fillc = if align == '=' && spec.fill.is_none() {
        '0'
    } else {
        fill
    };
    let padding: String = std::iter::repeat_n(fillc, n).collect();
    match align {
        '<' => body + &padding,
        '^' => {
            let l: String = std::iter::repeat_n(fill, n / 2).collect();
            let r: String = std::iter::repeat_n(fill, n - n / 2).collect();
            l + &body + &r
        }
        '=' => {
            let (sgn, rest) = match body.chars().next() {
                Some(c @ ('-' | '+' | ' ')) => (c.to_string(), body[1..].to_string()),
                _ => (String::new(), body.clone()),
            };
            sgn + &padding + &rest
        }
        _ => padding + &body,
    }
}

/// C-style float conversion with Python's spellings (`inf`, `nan`, two-digit exponents).
pub(crate) fn float_fmt(f: f64, conv: char, prec: usize, alt: bool) -> String {
    let upper = conv.is_ascii_uppercase();
    if !f.is_finite() {
        let s = if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return if upper { s.to_uppercase() } else { s.into() };
    }
    let s = match conv.to_ascii_lowercase() {
        'f' => format!("{f:.prec$}"),
        'e' => exp_fmt(f, prec),
        _ => {
            let p = prec.max(1);
            let e = exp_fmt(f, p - 1);
            let x: i32 = e
                .rsplit_once('e')
                .and_then(|(_, x)| x.parse().ok())
                .unwrap_or(0);
            let mut s = if x >= -4 && x < p as i32 {
                let fp = usize::try_from(p as i32 - 1 - x).unwrap_or(0);
                format!("{f:.fp$}")
            } else {
                e
            };
            if !alt {
                let (mant, exp) = match s.find('e') {
                    Some(i) => (s[..i].to_string(), s[i..].to_string()),
                    None => (s.clone(), String::new()),
                };
                let mant = if mant.contains('.') {
                    mant.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    mant
                };
                s = mant + &exp;
            }
            s
        }
    };
    if upper {
        s.to_uppercase()
    } else {
        s
    }
}

fn exp_fmt(f: f64, prec: usize) -> String {
    let s = format!("{f:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// `fmt.format(*args)`: `{}`, `{0}`, `{0[key]}`, `!r`/`!s` and a format spec
/// (`[[fill]align][sign][0][width][.precision][type]`).
pub(crate) fn brace(fmt: &str, args: &[Value], max_len: usize) -> Result<String, EvalError> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut auto = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c == '}' {
            if chars.get(i) == Some(&'}') {
                i += 1;
                out.push('}');
                continue;
            }
            return Err(EvalError::Value(
                "Single '}' encountered in format string".into(),
            ));
        }
        if c != '{' {
            out.push(c);
            continue;
        }
        if chars.get(i) == Some(&'{') {
            i += 1;
            out.push('{');
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i] != '}' {
            i += 1;
        }
        if i >= chars.len() {
            return Err(EvalError::Value("expected '}' before end of string".into()));
        }
        let field: String = chars[start..i].iter().collect();
        i += 1;
        let (name, spec) = field.split_once(':').unwrap_or((&field, ""));
        let (name, conv) = match name.split_once('!') {
            Some((n, c)) => (n, Some(c)),
            None => (name, None),
        };
        let (base, keys) = match name.find('[') {
            Some(p) => (&name[..p], &name[p..]),
            None => (name, ""),
        };
        let mut v = if base.is_empty() {
            let v = args.get(auto).cloned();
            auto += 1;
            v
        } else if let Ok(n) = base.parse::<usize>() {
            args.get(n).cloned()
        } else {
            return Err(EvalError::Key(format!(
                "'{base}' (keyword arguments are not supported)"
            )));
        }
        .ok_or_else(|| {
            EvalError::Index("Replacement index out of range for positional args tuple".into())
        })?;
        for k in keys.split('[').filter(|k| !k.is_empty()) {
            let k = k.trim_end_matches(']');
            v = match (&v, k.parse::<i64>()) {
                (Value::List(l) | Value::Tuple(l), Ok(n)) => usize::try_from(n)
                    .ok()
                    .and_then(|n| l.get(n).cloned())
                    .ok_or_else(|| EvalError::Index("list index out of range".into()))?,
                _ => v
                    .get(k)
                    .cloned()
                    .ok_or_else(|| EvalError::Key(format!("'{k}'")))?,
            };
        }
        let v = match conv {
            Some("r") => Value::str(v.py_repr()),
            Some("s") => Value::str(v.py_str()),
            Some(other) => {
                return Err(EvalError::Value(format!(
                    "Unknown conversion specifier {other}"
                )))
            }
            None => v,
        };
        out.push_str(&format_spec(&v, spec)?);
        if out.len() > max_len {
            return Err(EvalError::SizeLimit(max_len));
        }
    }
    Ok(out)
}

fn format_spec(v: &Value, spec: &str) -> Result<String, EvalError> {
    if spec.is_empty() {
        return Ok(v.py_str());
    }
    let chars: Vec<char> = spec.chars().collect();
    let mut s = Spec::default();
    let mut i = 0;
    if chars.len() >= 2 && matches!(chars[1], '<' | '>' | '^' | '=') {
        s.fill = Some(chars[0]);
        s.align = Some(chars[1]);
        i = 2;
    } else if matches!(chars.first(), Some('<' | '>' | '^' | '=')) {
        s.align = Some(chars[0]);
        i = 1;
    }
    match chars.get(i) {
        Some('+') => {
            s.plus = true;
            i += 1;
        }
        Some(' ') => {
            s.space = true;
            i += 1;
        }
        Some('-') => i += 1,
        _ => {}
    }
    if chars.get(i) == Some(&'0') {
        s.zero = true;
        i += 1;
    }
    s.width = digits(&chars, &mut i);
    if s.width > 100_000 {
        return Err(EvalError::SizeLimit(100_000));
    }
    if chars.get(i) == Some(&'.') {
        i += 1;
        s.precision = Some(digits(&chars, &mut i));
    }
    let ty = chars.get(i).copied();
    if i + usize::from(ty.is_some()) != chars.len() {
        return Err(EvalError::Value(format!(
            "Invalid format specifier '{spec}'"
        )));
    }
    let numeric = matches!(v, Value::Int(_) | Value::Float(_) | Value::Bool(_));
    let body = match (ty, v) {
        (None | Some('s'), Value::Str(st)) => truncate(st.to_string(), s.precision),
        (None, Value::Float(f)) if s.precision.is_some() => {
            sign(float_fmt(*f, 'g', s.precision.unwrap_or(6), false), &s)
        }
        (None, other) if numeric => sign(other.py_str(), &s),
        (None, other) => other.py_str(),
        (Some('d'), Value::Int(_) | Value::Bool(_)) => {
            sign(v.as_int().unwrap_or(0).to_string(), &s)
        }
        (Some(t @ ('x' | 'X' | 'o')), Value::Int(_) | Value::Bool(_)) => {
            s.conv = t;
            return Ok(pad(convert(v, &s)?, &s, true));
        }
        (Some(t @ ('f' | 'F' | 'e' | 'E' | 'g' | 'G')), _) if numeric => {
            let f = v.as_f64().unwrap_or(0.0);
            sign(float_fmt(f, t, s.precision.unwrap_or(6), false), &s)
        }
        (Some('%'), _) if numeric => {
            let f = v.as_f64().unwrap_or(0.0) * 100.0;
            sign(float_fmt(f, 'f', s.precision.unwrap_or(6), false) + "%", &s)
        }
        (Some(t), other) => {
            return Err(EvalError::Value(format!(
                "Unknown format code '{t}' for object of type '{}'",
                other.type_name()
            )))
        }
    };
    if s.align.is_none() && !numeric {
        s.left = true;
    }
    Ok(pad(body, &s, numeric))
}
