//! Small helpers: id formatting, deterministic hashing, timestamps and query strings.

use std::fmt::Write as _;

/// A 64-bit mixer (splitmix64 finaliser): derives stable pseudo-random attributes from ids,
/// so attributes that never change need not be stored per resource.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Mixes a 128-bit id with a salt into 64 pseudo-random bits.
pub fn h(id: u128, salt: u64) -> u64 {
    mix64((id as u64) ^ mix64(((id >> 64) as u64) ^ salt))
}

/// Derives a second 128-bit id from an id and a salt (for related objects such as ports).
pub fn derive_id(id: u128, salt: u64) -> u128 {
    ((h(id, salt) as u128) << 64) | h(id, salt ^ 0x5555) as u128
}

/// Marks a random 128-bit value as an RFC 4122 version 4 UUID.
pub fn as_uuid4(x: u128) -> u128 {
    (x & !(0xF000u128 << 64) & !(0xC000u128 << 48)) | (0x4000u128 << 64) | (0x8000u128 << 48)
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (lower-case), as Nova/Cinder/Neutron print ids.
pub fn uuid(id: u128) -> String {
    let s = format!("{id:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

/// 32 lower-case hex digits, as Keystone prints project, user and domain ids.
pub fn hex32(id: u128) -> String {
    format!("{id:032x}")
}

/// Parses a dashed or undashed hex UUID.
pub fn parse_id(s: &str) -> Option<u128> {
    let mut v: u128 = 0;
    let mut n = 0;
    for b in s.bytes() {
        if b == b'-' {
            continue;
        }
        let d = (b as char).to_digit(16)?;
        v = (v << 4) | d as u128;
        n += 1;
        if n > 32 {
            return None;
        }
    }
    (n == 32).then_some(v)
}

/// Days since 1970-01-01 to a civil (year, month, day), after H. Hinnant.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats Unix seconds and microseconds in one of the timestamp styles OpenStack APIs use.
pub fn ts(secs: i64, micros: u32, style: TsStyle) -> String {
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
    match style {
        TsStyle::Micros => {
            let _ = write!(out, ".{micros:06}");
        }
        TsStyle::MicrosZ => {
            let _ = write!(out, ".{micros:06}Z");
        }
        TsStyle::Z => out.push('Z'),
        TsStyle::Plain => {}
    }
    out
}

/// Timestamp styles found in the API references.
#[derive(Clone, Copy, Debug)]
pub enum TsStyle {
    /// `2018-11-28T06:25:15.288987` (Cinder, Manila, Designate).
    Micros,
    /// `2015-11-07T02:58:43.578887Z` (Keystone tokens).
    MicrosZ,
    /// `2014-05-05T17:15:10Z` (Glance, Neutron).
    Z,
    /// `2017-02-28T00:41:44` (Octavia).
    Plain,
}

/// The epoch of generated creation times: 2023-01-01T00:00:00Z.
pub const BASE_EPOCH: i64 = 1_672_531_200;

/// A creation timestamp in the year after [`BASE_EPOCH`], stable for an id.
pub fn created(id: u128, style: TsStyle) -> String {
    let x = h(id, 0xC0FFEE);
    ts(
        BASE_EPOCH + (x % (365 * 86_400)) as i64,
        (x >> 40) as u32 % 1_000_000,
        style,
    )
}

/// An update timestamp a little after [`created`].
pub fn updated(id: u128, style: TsStyle) -> String {
    let x = h(id, 0xC0FFEE);
    let y = h(id, 0xBEEF);
    ts(
        BASE_EPOCH + (x % (365 * 86_400)) as i64 + (y % 86_400) as i64,
        (y >> 40) as u32 % 1_000_000,
        style,
    )
}

/// Decodes `%XX` escapes and `+` (as a space) in a query component.
pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hexv = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|t| u8::from_str_radix(t, 16).ok());
                match hexv {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (the SigV4 rule).
pub fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Parsed query string: decoded pairs in order.
#[derive(Debug, Default, Clone)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (without `?`).
    pub fn parse(q: Option<&str>) -> Self {
        let Some(q) = q else { return Self::default() };
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (pct_decode(k), pct_decode(v)),
                    None => (pct_decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// First value of a key.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }

    /// A boolean flag as OpenStack services parse it (`True`, `true`, `1`, `yes`).
    pub fn flag(&self, k: &str) -> bool {
        self.get(k).is_some_and(truthy)
    }
}

/// OpenStack's `strutils.bool_from_string` for the common spellings.
pub fn truthy(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "1" | "t" | "true" | "on" | "y" | "yes"
    )
}

/// Reads the resident set size of this process in bytes (Linux `/proc/self/statm`).
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_ids() {
        assert_eq!(ts(0, 0, TsStyle::Z), "1970-01-01T00:00:00Z");
        assert_eq!(
            ts(1_446_861_523, 578_887, TsStyle::MicrosZ),
            "2015-11-07T01:58:43.578887Z"
        );
        let id = 0x0123_4567_89ab_cdef_0123_4567_89ab_cdefu128;
        assert_eq!(uuid(id), "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(parse_id(&uuid(id)), Some(id));
        assert_eq!(parse_id(&hex32(id)), Some(id));
        assert_eq!(parse_id("xyz"), None);
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("uid=a%24b&stats=true&x=1+2&flag"));
        assert_eq!(q.get("uid"), Some("a$b"));
        assert!(q.flag("stats"));
        assert_eq!(q.get("x"), Some("1 2"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(pct_encode("a$b c"), "a%24b%20c");
        assert_eq!(pct_decode("100%"), "100%");
    }
}
