//! Tokenizer for the supported Python expression subset.
//!
//! Positions are character offsets into the source, so errors can point at the construct an
//! operator wrote (YAML values are usually one line).

use crate::ParseError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Name(String),
    /// Operators and punctuation, e.g. `+`, `//`, `==`, `(`.
    Op(&'static str),
    End,
}

/// A token and the character offset where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const OPS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "**", "//", "==", "!=", "<=", ">=", "->", ":=", "<<", ">>",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "+", "-", "*", "/", "%", "<", ">", "(",
    ")", "[", "]", "{", "}", ",", ":", ".", "=", "~", "&", "|", "^", "@", ";",
];

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            return Err(ParseError::new(i, "comments ('#') are not supported"));
        }
        if c == '\\' {
            return Err(ParseError::new(
                i,
                "line continuation ('\\') is not supported",
            ));
        }
        let start = i;
        // String literals, with optional prefixes.
        if c.is_ascii_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            if j < chars.len() && (chars[j] == '\'' || chars[j] == '"') {
                let lower = word.to_ascii_lowercase();
                match lower.as_str() {
                    "r" | "u" => {
                        let (s, next) = string_lit(&chars, j, lower == "r")?;
                        out.push(Token {
                            tok: Tok::Str(s),
                            pos: start,
                        });
                        i = next;
                        continue;
                    }
                    "f" | "rf" | "fr" => {
                        return Err(ParseError::new(
                            start,
                            "f-strings are not supported; use '%s' % value or '{}'.format(value)",
                        ))
                    }
                    "b" | "rb" | "br" => {
                        return Err(ParseError::new(start, "byte strings are not supported"))
                    }
                    _ => {}
                }
            }
            out.push(Token {
                tok: Tok::Name(word),
                pos: start,
            });
            i = j;
            continue;
        }
        if c == '\'' || c == '"' {
            let (s, next) = string_lit(&chars, i, false)?;
            out.push(Token {
                tok: Tok::Str(s),
                pos: start,
            });
            i = next;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let (t, next) = number(&chars, i)?;
            out.push(Token { tok: t, pos: start });
            i = next;
            continue;
        }
        if c.is_alphanumeric() {
            return Err(ParseError::new(i, format!("unexpected character {c:?}")));
        }
        let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
        match OPS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                out.push(Token {
                    tok: Tok::Op(op),
                    pos: start,
                });
                i += op.len();
            }
            None => return Err(ParseError::new(i, format!("unexpected character {c:?}"))),
        }
    }
    out.push(Token {
        tok: Tok::End,
        pos: chars.len(),
    });
    Ok(out)
}

fn number(chars: &[char], start: usize) -> Result<(Tok, usize), ParseError> {
    let mut i = start;
    let radix = if chars[i] == '0' {
        match chars.get(i + 1).map(char::to_ascii_lowercase) {
            Some('x') => 16,
            Some('o') => 8,
            Some('b') => 2,
            _ => 10,
        }
    } else {
        10
    };
    if radix != 10 {
        i += 2;
        let mut digits = String::new();
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            if chars[i] != '_' {
                digits.push(chars[i]);
            }
            i += 1;
        }
        return i64::from_str_radix(&digits, radix)
            .map(|v| (Tok::Int(v), i))
            .map_err(|_| ParseError::new(start, "invalid or too large integer literal"));
    }
    let mut text = String::new();
    let mut is_float = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            text.push(c);
        } else if c == '_' {
        } else if c == '.' && !is_float && !text.contains('e') {
            is_float = true;
            text.push(c);
        } else if (c == 'e' || c == 'E') && !text.contains('e') {
            is_float = true;
            text.push('e');
            if matches!(chars.get(i + 1), Some('+' | '-')) {
                i += 1;
                text.push(chars[i]);
            }
        } else if c == 'j' || c == 'J' {
            return Err(ParseError::new(start, "complex numbers are not supported"));
        } else if c.is_alphanumeric() {
            return Err(ParseError::new(i, "invalid number literal"));
        } else {
            break;
        }
        i += 1;
    }
    if is_float {
        text.parse::<f64>()
            .map(|f| (Tok::Float(f), i))
            .map_err(|_| ParseError::new(start, "invalid float literal"))
    } else {
        if text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
            return Err(ParseError::new(
                start,
                "leading zeros in decimal integer literals are not permitted",
            ));
        }
        text.parse::<i64>()
            .map(|v| (Tok::Int(v), i))
            .map_err(|_| ParseError::new(start, "integer literal does not fit in 64 bits"))
    }
}

fn string_lit(chars: &[char], start: usize, raw: bool) -> Result<(String, usize), ParseError> {
    let q = chars[start];
    let triple = chars.get(start + 1) == Some(&q) && chars.get(start + 2) == Some(&q);
    let mut i = start + if triple { 3 } else { 1 };
    let mut s = String::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(ParseError::new(start, "unterminated string literal"));
        };
        if c == q {
            if !triple {
                return Ok((s, i + 1));
            }
            if chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q) {
                return Ok((s, i + 3));
            }
        }
        if c == '\n' && !triple {
            return Err(ParseError::new(start, "unterminated string literal"));
        }
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return Err(ParseError::new(start, "unterminated string literal"));
            };
            if raw {
                s.push('\\');
                s.push(n);
                i += 2;
                continue;
            }
            i += 2;
            match n {
                '\n' => {}
                '\\' => s.push('\\'),
                '\'' => s.push('\''),
                '"' => s.push('"'),
                'n' => s.push('\n'),
                't' => s.push('\t'),
                'r' => s.push('\r'),
                'a' => s.push('\x07'),
                'b' => s.push('\x08'),
                'f' => s.push('\x0c'),
                'v' => s.push('\x0b'),
                '0'..='7' => {
                    let mut v = n.to_digit(8).unwrap_or(0);
                    let mut k = 0;
                    while k < 2 && chars.get(i).is_some_and(|c| c.is_digit(8)) {
                        v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                        i += 1;
                        k += 1;
                    }
                    s.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
                'x' | 'u' | 'U' => {
                    let len = match n {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = chars.iter().skip(i).take(len).collect();
                    let v = (hex.len() == len)
                        .then(|| u32::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32)
                        .ok_or_else(|| ParseError::new(i - 2, format!("invalid \\{n} escape")))?;
                    s.push(v);
                    i += len;
                }
                other => {
                    // Python keeps unknown escapes literally.
                    s.push('\\');
                    s.push(other);
                }
            }
            continue;
        }
        s.push(c);
        i += 1;
    }
}
