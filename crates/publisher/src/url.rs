//! Publisher URLs: `scheme://[netloc][/path][?options]`, as Ceilometer's publishers read them.
//!
//! Options a publisher understands are taken out; every other query parameter stays in the
//! target URL (an HTTP endpoint may need its own query string).

use std::collections::BTreeMap;

/// A parsed publisher URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherUrl {
    /// `notifier`, `http`, `https`, `udp`, `file`, `gnocchi`, `prometheus`, ...
    pub scheme: String,
    /// `user:pass@host:port` as written (may be empty).
    pub netloc: String,
    /// Path, starting with `/` when present.
    pub path: String,
    /// Query parameters in order, undecoded values percent-decoded.
    pub query: Vec<(String, String)>,
}

impl PublisherUrl {
    /// Parse; a string without `://` is treated as `<name>://` (upstream appends it).
    pub fn parse(raw: &str) -> PublisherUrl {
        let (scheme, rest) = raw.split_once("://").unwrap_or((raw, ""));
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (netloc, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], &before_query[i..]),
            None => (before_query, ""),
        };
        let query = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        PublisherUrl {
            scheme: scheme.to_ascii_lowercase(),
            netloc: netloc.to_owned(),
            path: path.to_owned(),
            query,
        }
    }

    /// Remove and return the options named in `known` (last value wins, as upstream's
    /// `parse_qs` + `[-1]`); other parameters stay.
    pub fn take_options(&mut self, known: &[&str]) -> BTreeMap<String, String> {
        let mut taken = BTreeMap::new();
        self.query.retain(|(k, v)| {
            if known.contains(&k.as_str()) {
                taken.insert(k.clone(), v.clone());
                false
            } else {
                true
            }
        });
        taken
    }

    /// `host` and `port` of the netloc (credentials removed); IPv6 brackets removed.
    pub fn host_port(&self) -> (String, Option<u16>) {
        let hostport = self
            .netloc
            .rsplit_once('@')
            .map_or(self.netloc.as_str(), |(_, h)| h);
        if let Some(rest) = hostport.strip_prefix('[') {
            if let Some((h, after)) = rest.split_once(']') {
                let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
                return (h.to_owned(), port);
            }
        }
        match hostport.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => {
                (h.to_owned(), p.parse().ok())
            }
            _ => (hostport.to_owned(), None),
        }
    }

    /// `user` and `password` of the netloc, percent-decoded.
    pub fn credentials(&self) -> Option<(String, String)> {
        let (userinfo, _) = self.netloc.rsplit_once('@')?;
        let (u, p) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        Some((percent_decode(u), percent_decode(p)))
    }

    /// The target URL with the remaining query, for HTTP-like publishers (`scheme` replaced).
    pub fn target(&self, scheme: &str) -> String {
        let mut s = format!("{scheme}://{}{}", self.netloc, self.path);
        if !self.query.is_empty() {
            s.push('?');
            let parts: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            s.push_str(&parts.join("&"));
        }
        s
    }
}

/// Percent-decode (invalid escapes kept as written).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encode everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encode everything but RFC 3986 unreserved characters (for userinfo and path
/// segments of generated URIs).
pub fn percent_encode_strict(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// oslo's boolean words for URL options (`1/t/true/on/y/yes`).
pub fn option_bool(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "1" | "t" | "true" | "on" | "y" | "yes"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_taken_and_the_rest_stays() {
        let mut u = PublisherUrl::parse(
            "https://u:p%40ss@127.0.0.1:8443/v1/samples?timeout=3&batch=False&tenant=x",
        );
        let o = u.take_options(&["timeout", "batch", "max_retries"]);
        assert_eq!(o.get("timeout").map(String::as_str), Some("3"));
        assert_eq!(o.get("batch").map(String::as_str), Some("False"));
        assert_eq!(
            u.target("https"),
            "https://u:p%40ss@127.0.0.1:8443/v1/samples?tenant=x"
        );
        assert_eq!(u.credentials(), Some(("u".into(), "p@ss".into())));
        assert_eq!(u.host_port(), ("127.0.0.1".into(), Some(8443)));
    }

    #[test]
    fn bare_names_and_ipv6() {
        let u = PublisherUrl::parse("notifier://");
        assert_eq!((u.scheme.as_str(), u.netloc.as_str()), ("notifier", ""));
        let u = PublisherUrl::parse("udp://[::1]:4952");
        assert_eq!(u.host_port(), ("::1".into(), Some(4952)));
        let u = PublisherUrl::parse("file:///var/log/s.log?json");
        assert_eq!(u.path, "/var/log/s.log");
        assert_eq!(u.query, vec![("json".into(), String::new())]);
    }
}
