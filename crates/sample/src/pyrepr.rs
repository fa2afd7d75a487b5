//! Python's text forms of JSON-like values, as Ceilometer's signature feeds them to HMAC.
//!
//! The signature hashes `str(value)` of every leaf, so byte-for-byte compatibility with the
//! Python agents (and with the Kilo collector, which *verified* signatures) means producing
//! exactly the text CPython prints: shortest-repr floats with Python's exponent rules, `True`,
//! `None`, `b'...'` byte-string reprs with Python's escaping and quote choice, and — for the
//! Python 2 flavour — `%.12g` floats and dict reprs in CPython 2.7's hash-table order.

use std::fmt::Write as _;

use serde_json::Value;

/// Which CPython produced the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// CPython 3 (Ceilometer ≥ Stein): lists stringify their strings as `b'...'`.
    Python3,
    /// CPython 2.7 (Kilo/Liberty collectors): `'...'` strings, `%.12g` top-level floats,
    /// dicts in hash order.
    Python2,
}

/// `repr(float)` (CPython ≥ 2.7 / 3.1): shortest round-trip digits; exponent form when the
/// decimal exponent is < -4 or >= 16.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d.ddde<exp>".
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// Python 2.7's `str(float)`: `'%.12g'` plus `.0` when the result looks like an integer.
pub fn float_str_py2(f: f64) -> String {
    if !f.is_finite() {
        return float_repr(f);
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{f:.11e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if !(-4..12).contains(&exp) {
        format!(
            "{}e{}{:02}",
            trim(mant),
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        let decimals = (11 - exp).max(0) as usize;
        let s = trim(&format!("{f:.decimals$}"));
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    }
}

/// `repr(bytes)` without or with the `b` prefix: single quotes unless the text contains `'`
/// and no `"`; `\\`, `\t`, `\n`, `\r` and the chosen quote escaped; other bytes outside
/// 0x20..0x7f as `\xNN`.
fn bytes_repr(out: &mut String, data: &[u8], prefix: bool) {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    if prefix {
        out.push('b');
    }
    out.push(quote);
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if b as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote);
}

fn number_repr(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        out.push_str(&float_repr(n.as_f64().unwrap_or(f64::NAN)));
    }
}

/// `str(value)` of a top-level leaf, as `compute_signature` feeds it.
pub fn leaf_str(out: &mut String, v: &Value, flavor: Flavor) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match (flavor, n.is_f64()) {
            (Flavor::Python2, true) => out.push_str(&float_str_py2(n.as_f64().unwrap_or(f64::NAN))),
            _ => number_repr(out, n),
        },
        Value::String(s) => out.push_str(s),
        // Lists go through `decode_unicode` first, then `str(list)`.
        Value::Array(items) => list_repr(out, items, flavor),
        // Dicts are flattened by the caller; a dict reaching here is nested in a list.
        Value::Object(_) => decoded_repr(out, v, flavor),
    }
}

fn list_repr(out: &mut String, items: &[Value], flavor: Flavor) {
    out.push('[');
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        decoded_repr(out, it, flavor);
    }
    out.push(']');
}

/// `repr()` of a value after Ceilometer's `decode_unicode`: strings became (UTF-8) byte
/// strings, dicts got sorted keys (Python 3 keeps that order; Python 2 re-hashes them).
fn decoded_repr(out: &mut String, v: &Value, flavor: Flavor) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => number_repr(out, n),
        Value::String(s) => bytes_repr(out, s.as_bytes(), flavor == Flavor::Python3),
        Value::Array(items) => list_repr(out, items, flavor),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            if flavor == Flavor::Python2 {
                keys = py2_dict_order(&keys);
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                bytes_repr(out, k.as_bytes(), flavor == Flavor::Python3);
                out.push_str(": ");
                decoded_repr(out, &map[k.as_str()], flavor);
            }
            out.push('}');
        }
    }
}

/// CPython 2.7's `hash()` of a byte string (64-bit build, no hash randomisation).
pub fn py2_str_hash(s: &[u8]) -> i64 {
    if s.is_empty() {
        return 0;
    }
    let mut x: i64 = i64::from(s[0]) << 7;
    for &c in s {
        x = x.wrapping_mul(1_000_003) ^ i64::from(c);
    }
    x ^= s.len() as i64;
    if x == -1 {
        -2
    } else {
        x
    }
}

/// The iteration order of a CPython 2.7 dict built by inserting `keys` in the given order:
/// open addressing over a power-of-two table with `perturb` probing, resized when two thirds
/// full (to the smallest power of two above 4 × used).
pub fn py2_dict_order<'a>(keys: &[&'a String]) -> Vec<&'a String> {
    fn insert<'a>(table: &mut [Option<&'a String>], key: &'a String) {
        let mask = table.len() - 1;
        let hash = py2_str_hash(key.as_bytes()) as u64;
        let mut i = (hash as usize) & mask;
        let mut perturb = hash;
        while table[i].is_some() {
            i = (i << 2)
                .wrapping_add(i)
                .wrapping_add(perturb as usize)
                .wrapping_add(1)
                & mask;
            perturb >>= 5;
        }
        table[i] = Some(key);
    }
    let mut table: Vec<Option<&String>> = vec![None; 8];
    let mut used = 0usize;
    for k in keys {
        insert(&mut table, k);
        used += 1;
        // CPython resizes after an insertion that makes fill*3 >= (mask+1)*2.
        if used * 3 >= table.len() * 2 {
            let minused = if used > 50_000 { 2 * used } else { 4 * used };
            let mut size = 8;
            while size <= minused {
                size <<= 1;
            }
            let old = std::mem::replace(&mut table, vec![None; size]);
            for k in old.into_iter().flatten() {
                insert(&mut table, k);
            }
        }
    }
    table.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_matches_cpython() {
        let cases = [
            (0.1 + 0.2, "0.30000000000000004"),
            (1.5, "1.5"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (1e-4, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
        ];
        for (f, s) in cases {
            assert_eq!(float_repr(f), s, "{f:e}");
        }
    }

    #[test]
    fn float_str_py2_is_12_significant_digits() {
        let cases = [
            (0.1 + 0.2, "0.3"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (123456789012345.0, "1.23456789012e+14"),
            (1e16, "1e+16"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (2.0 / 3.0, "0.666666666667"),
        ];
        for (f, s) in cases {
            assert_eq!(float_str_py2(f), s, "{f:e}");
        }
    }

    #[test]
    fn list_and_dict_forms() {
        let mut s = String::new();
        leaf_str(
            &mut s,
            &json!([{"server_id": "x", "device": "/dev/vdb"}]),
            Flavor::Python3,
        );
        assert_eq!(s, "[{b'device': b'/dev/vdb', b'server_id': b'x'}]");
        let mut s = String::new();
        leaf_str(
            &mut s,
            &json!(["a", "it's", "é", 1, 2.5, null, true]),
            Flavor::Python3,
        );
        assert_eq!(s, "[b'a', b\"it's\", b'\\xc3\\xa9', 1, 2.5, None, True]");
        let mut s = String::new();
        leaf_str(&mut s, &json!(["a", "b"]), Flavor::Python2);
        assert_eq!(s, "['a', 'b']");
    }

    #[test]
    fn py2_hash_and_dict_order_match_known_cpython2_results() {
        // hash('a') on 64-bit CPython 2.7.
        assert_eq!(py2_str_hash(b"a"), 12_416_037_344);
        // CPython 2.7 prints {'a': 1, 'c': 3, 'b': 2}.
        let keys: Vec<String> = ["a", "b", "c"].iter().map(|s| (*s).to_owned()).collect();
        let refs: Vec<&String> = keys.iter().collect();
        let order: Vec<&str> = py2_dict_order(&refs)
            .into_iter()
            .map(String::as_str)
            .collect();
        assert_eq!(order, vec!["a", "c", "b"]);
    }
}
