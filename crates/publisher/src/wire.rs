//! Encodings the non-bus publishers share: msgpack as Python's `msgpack.dumps(...,
//! use_bin_type=True)` writes it (UDP, TCP) and Python's `repr()` of a dict (file publisher).
//!
//! Both must match the Python agent byte for byte, because the receivers (a collector's UDP
//! listener, log scrapers) were written against the Python output.

use std::fmt::Write as _;

use sample::pyrepr::float_repr;
use serde_json::{Number, Value};

/// Append the msgpack form of `v`: ints in their most compact form (non-negative as
/// unsigned, as msgpack-python does), floats always float64 (msgpack-python's default
/// `use_single_float=False`), strings as msgpack `str` (`use_bin_type=True`), maps in order.
pub fn msgpack_into(out: &mut Vec<u8>, v: &Value) {
    // Writing into a Vec cannot fail; the results are ignored on purpose.
    match v {
        Value::Null => {
            let _ = rmp::encode::write_nil(out);
        }
        Value::Bool(b) => {
            let _ = rmp::encode::write_bool(out, *b);
        }
        Value::Number(n) => msgpack_number(out, n),
        Value::String(s) => {
            let _ = rmp::encode::write_str(out, s);
        }
        Value::Array(items) => {
            let _ = rmp::encode::write_array_len(out, items.len() as u32);
            for it in items {
                msgpack_into(out, it);
            }
        }
        Value::Object(map) => {
            let _ = rmp::encode::write_map_len(out, map.len() as u32);
            for (k, it) in map {
                let _ = rmp::encode::write_str(out, k);
                msgpack_into(out, it);
            }
        }
    }
}

fn msgpack_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = rmp::encode::write_sint(out, i);
    } else if let Some(u) = n.as_u64() {
        let _ = rmp::encode::write_uint(out, u);
    } else {
        let _ = rmp::encode::write_f64(out, n.as_f64().unwrap_or(f64::NAN));
    }
}

/// The msgpack form of `v` in a new buffer.
pub fn msgpack(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    msgpack_into(&mut out, v);
    out
}

/// Python 3 `repr()` of a JSON-like value: `None`/`True`/`False`, shortest-repr floats,
/// `'...'` strings with Python's quote choice and escapes, `{'k': v, ...}` dicts in key order,
/// `[a, b]` lists.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    py_repr_into(&mut out, v);
    out
}

/// [`py_repr`] appending to `out`.
pub fn py_repr_into(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => py_number(out, n),
        Value::String(s) => py_str_repr(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr_into(out, it);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, it)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_str_repr(out, k);
                out.push_str(": ");
                py_repr_into(out, it);
            }
            out.push('}');
        }
    }
}

/// Python's `str()` of a number (= its `repr()`).
pub fn py_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        out.push_str(&float_repr(n.as_f64().unwrap_or(f64::NAN)));
    }
}

/// Python 3 `repr(str)`: single quotes unless the text has `'` and no `"`; `\\`, `\t`, `\n`,
/// `\r` and the quote escaped; other non-printable characters as `\xNN`, `\uNNNN` or
/// `\UNNNNNNNN`; printable non-ASCII kept as is.
pub fn py_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if c == quote => {
                out.push('\\');
                out.push(c);
            }
            _ if is_printable(c) => out.push(c),
            _ => {
                let cp = c as u32;
                let _ = if cp < 0x100 {
                    write!(out, "\\x{cp:02x}")
                } else if cp < 0x10000 {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push(quote);
}

/// Python's `str.isprintable()` for one character, approximated without the Unicode
/// database: control characters (Cc), the format characters (Cf), separators other than the
/// ASCII space (Zs/Zl/Zp) that occur in practice, private-use characters and noncharacters
/// are not printable. Unassigned code points (Cn) are treated as printable — the one
/// known difference from CPython, which would escape them.
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    !matches!(cp,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890 | 0x891 | 0x8e2 | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0xfffe | 0xffff
        | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repr_like_python() {
        // repr({'a': None, 'b': True, 'c': 0.1 + 0.2, 'd': [1, 'x'], 'e': {'f': -2},
        //       'g': "it's", 'h': 'caf\u00e9 \u2603', 'i': 'a\nb\x00\xa0', 'j': 1e16})
        let v = json!({"a": null, "b": true, "c": 0.1 + 0.2, "d": [1, "x"], "e": {"f": -2},
            "g": "it's", "h": "caf\u{e9} \u{2603}", "i": "a\nb\u{0}\u{a0}", "j": 1e16});
        assert_eq!(
            py_repr(&v),
            "{'a': None, 'b': True, 'c': 0.30000000000000004, 'd': [1, 'x'], 'e': {'f': -2}, \
             'g': \"it's\", 'h': 'caf\u{e9} \u{2603}', 'i': 'a\\nb\\x00\\xa0', 'j': 1e+16}"
        );
        assert_eq!(py_repr(&json!("both ' and \"")), "'both \\' and \"'");
        assert_eq!(py_repr(&json!("\u{200b}\u{1f600}")), "'\\u200b\u{1f600}'");
    }

    #[test]
    fn msgpack_like_msgpack_python() {
        // msgpack.packb({'a': 1, 'b': -1, 'c': 300, 'd': 1.5, 'e': None, 'f': [True], 'g': 'é'},
        //               use_bin_type=True).hex()
        let v = json!({"a": 1, "b": -1, "c": 300, "d": 1.5, "e": null, "f": [true], "g": "é"});
        assert_eq!(
            hex(&msgpack(&v)),
            "87a16101a162ffa163cd012ca164cb3ff8000000000000a165c0a16691c3a167a2c3a9"
        );
        // Round trip through rmpv.
        let back = rmpv::decode::read_value(&mut msgpack(&v).as_slice()).unwrap();
        assert_eq!(back["c"].as_u64(), Some(300));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
