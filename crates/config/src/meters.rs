//! Meter selection exactly as Ceilometer's `Source.is_supported` does it.
//!
//! Patterns are Python `fnmatch` shell globs (`*`, `?`, `[seq]`, `[!seq]`, case-sensitive on
//! Linux); a pattern starting with `!` excludes. Decision: any matching exclusion rejects; else
//! any matching inclusion accepts; else accept only if every pattern is an exclusion.
//! `fnmatch` is not `glob`: braces are literal, so `globset` would get `{a,b}` wrong and this
//! is written by hand (it is a few lines).

/// Python `fnmatch.fnmatchcase(name, pattern)`.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    match_from(&n, &p)
}

fn match_from(n: &[char], p: &[char]) -> bool {
    // Iterative matcher with single-star backtracking: linear-ish, never exponential.
    let (mut ni, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    ni += 1;
                    pi += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p[pi..], n[ni]) {
                        if matched {
                            ni += 1;
                            pi += next;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unterminated `[` is a literal, as in Python.
                        ni += 1;
                        pi += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    ni += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Match `c` against the class at the start of `p` (`[...]`). Returns (matched, length of the
/// class in pattern chars), or `None` when the `[` is not closed (then it is a literal).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = p.get(i) == Some(&'!');
    if negate {
        i += 1;
    }
    let start = i;
    let mut matched = false;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && i > start {
            break;
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|x| *x != ']') {
            let hi = p[i + 2];
            if ch <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if ch == c {
                matched = true;
            }
            i += 1;
        }
    }
    Some((matched != negate, i + 1))
}

/// A source's `meters:` list, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterSelector {
    patterns: Vec<String>,
}

impl MeterSelector {
    /// Check the list with Ceilometer's rules (`check_source_filtering`) and upstream's
    /// messages: "No meters specified", "Both included and excluded meters specified",
    /// "Included meters specified with wildcard"; an empty pattern (which crashes upstream)
    /// is refused too.
    pub fn new(patterns: Vec<String>) -> Result<MeterSelector, String> {
        if patterns.is_empty() {
            return Err("No meters specified".into());
        }
        if patterns.iter().any(String::is_empty) {
            return Err("Empty meter name in meters".into());
        }
        let first = |x: &String| x.chars().next().unwrap_or(' ');
        if patterns.iter().any(|x| first(x) == '!')
            && patterns.iter().any(|x| first(x) != '!' && x != "*")
        {
            return Err("Both included and excluded meters specified".into());
        }
        if patterns.iter().any(|x| x == "*")
            && patterns.iter().any(|x| first(x) != '!' && first(x) != '*')
        {
            return Err("Included meters specified with wildcard".into());
        }
        Ok(MeterSelector { patterns })
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether `name` (a pollster's entry name) is selected.
    pub fn matches(&self, name: &str) -> bool {
        if self
            .patterns
            .iter()
            .filter_map(|p| p.strip_prefix('!'))
            .any(|p| fnmatch(name, p))
        {
            return false;
        }
        if self
            .patterns
            .iter()
            .filter(|p| !p.starts_with('!'))
            .any(|p| fnmatch(name, p))
        {
            return true;
        }
        self.patterns.iter().all(|p| p.starts_with('!'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_like_python() {
        let yes = [
            ("storage.objects", "storage.*"),
            ("storage.objects", "*"),
            ("image.size", "image.siz?"),
            ("a", "[abc]"),
            ("d", "[!abc]"),
            ("b", "[a-c]"),
            ("x{a,b}", "x{a,b}"),
            ("[", "["),
            ("a]", "[a]]"),
            ("", "*"),
            ("volume.provider.pool.capacity.total", "volume.*.total"),
        ];
        for (n, p) in yes {
            assert!(fnmatch(n, p), "{n} ~ {p}");
        }
        let no = [
            ("Storage.objects", "storage.*"),
            ("image.size", "image.si?"),
            ("a", "[!abc]"),
            ("xa", "x{a,b}"),
            ("a", ""),
        ];
        for (n, p) in no {
            assert!(!fnmatch(n, p), "{n} !~ {p}");
        }
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let name = "a".repeat(200);
        let pat = format!("{}b", "*a".repeat(50));
        assert!(!fnmatch(&name, &pat));
    }

    #[test]
    fn selector_rules_and_messages() {
        let s = |v: &[&str]| MeterSelector::new(v.iter().map(|x| (*x).to_owned()).collect());
        assert_eq!(s(&[]).unwrap_err(), "No meters specified");
        assert_eq!(
            s(&["a", "!b"]).unwrap_err(),
            "Both included and excluded meters specified"
        );
        assert_eq!(
            s(&["*", "a"]).unwrap_err(),
            "Included meters specified with wildcard"
        );
        assert!(s(&["*", "!a"]).is_ok());
        assert!(
            s(&["*", "*.size"]).is_ok(),
            "upstream accepts patterns starting with *"
        );
        let sel = s(&["*", "!storage.*"]).expect("valid");
        assert!(sel.matches("image.size"));
        assert!(!sel.matches("storage.objects"));
        let sel = s(&["!storage.*"]).expect("valid");
        assert!(sel.matches("image.size"));
        let sel = s(&["image.size", "volume.*"]).expect("valid");
        assert!(sel.matches("volume.size"));
        assert!(!sel.matches("ip.floating"));
    }
}
