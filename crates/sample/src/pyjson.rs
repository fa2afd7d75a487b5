//! JSON text exactly as Python's `json.dumps` writes it by default (what oslo.messaging and
//! kombu put on the wire): `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`,
//! floats in `repr()` form.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};

use crate::pyrepr::float_repr;

/// A serde_json formatter reproducing `json.dumps(obj)` with default arguments.
#[derive(Debug, Default, Clone, Copy)]
pub struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        // Python writes NaN/Infinity (not valid JSON, but what it sends); repr otherwise.
        let s = if value.is_nan() {
            "NaN".to_owned()
        } else if value.is_infinite() {
            if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
        } else {
            float_repr(value)
        };
        w.write_all(s.as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // ensure_ascii=True: every non-ASCII character as \uXXXX (UTF-16, surrogate pairs).
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let s: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(b) => return write!(w, "\\u{b:04x}"),
        };
        w.write_all(s)
    }
}

/// Serialise `value` as Python's `json.dumps` would.
pub fn to_python_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(256);
    let mut ser = Serializer::with_formatter(&mut out, PythonFormatter);
    // Serialising JSON values into a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Append `value` as Python JSON to `out` (no intermediate string).
pub fn write_python_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let mut ser = Serializer::with_formatter(out, PythonFormatter);
    let _ = value.serialize(&mut ser);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        // python3 -c 'import json; print(json.dumps({"a": [1, 2.5, 0.1+0.2, None, True], "é": "x\u20ac\U0001f600\n\"\\/"}))'
        let v = json!({"a": [1, 2.5, 0.30000000000000004, null, true], "é": "x\u{20ac}\u{1f600}\n\"\\/"});
        assert_eq!(
            to_python_json(&v),
            r#"{"a": [1, 2.5, 0.30000000000000004, null, true], "\u00e9": "x\u20ac\ud83d\ude00\n\"\\/"}"#
        );
        assert_eq!(to_python_json(&json!({})), "{}");
        assert_eq!(to_python_json(&json!([])), "[]");
        assert_eq!(to_python_json(&json!(1e16)), "1e+16");
        assert_eq!(to_python_json(&json!("\u{1}")), r#""\u0001""#);
    }
}
