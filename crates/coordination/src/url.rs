//! tooz's Redis `backend_url` grammar (spec `tooz-redis.md` §2).
//!
//! `redis://[user][:password@]host[:port][/db]?option=value&…`, `redis:///path/to.sock`,
//! and Sentinel (`?sentinel=NAME&sentinel_fallback=host:port…`, the URL authority being the
//! first sentinel). `rediss://` is accepted as `redis://…?ssl=true` (tooz itself rejects it).
//!
//! Rules copied from tooz / redis-py so one `backend_url` means the same thing to both:
//! * every query option collapses to its **last** value, except `sentinel_fallback`;
//! * query values are percent-decoded (`parse_qs`), options with a blank value are dropped;
//! * the userinfo is **not** percent-decoded; only the first `:` splits user and password;
//! * `timeout` is an integer (`timeout=2.5` is an error, as in tooz), `membership_timeout`
//!   is a float defaulting to `timeout`, `socket_timeout` defaults to `timeout`;
//! * booleans follow oslo's `bool_from_string`: `1/t/true/on/y/yes` (any case) are true.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Default tooz namespace (prefix of every key).
pub const DEFAULT_NAMESPACE: &str = "_tooz";
/// tooz's default `timeout`, seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// What went wrong while parsing a backend URL. The URL in the message is masked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// No `scheme://` prefix.
    #[error(
        "backend URL {url:?} has no scheme: expected redis://host:port or redis:///path/to.sock"
    )]
    MissingScheme {
        /// The masked URL.
        url: String,
    },
    /// A scheme other than `redis`/`rediss`.
    #[error("backend URL {url:?}: scheme {scheme:?} is not supported: only redis:// (and rediss://) are")]
    UnsupportedScheme {
        /// The masked URL.
        url: String,
        /// The scheme found.
        scheme: String,
    },
    /// A part of the authority, path or a query option is malformed.
    #[error("backend URL {url:?}: {part} {value:?} is invalid: {reason}")]
    Invalid {
        /// The masked URL.
        url: String,
        /// Which part (`port`, `host`, `db`, `option timeout`, …).
        part: String,
        /// The offending text (masked when it is a secret).
        value: String,
        /// What was expected.
        reason: String,
    },
}

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for handing to the Redis client only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Where the Redis master is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A plain Redis server over TCP.
    Tcp(HostPort),
    /// A plain Redis server over a unix socket.
    Unix(PathBuf),
    /// A master found through Redis Sentinel.
    Sentinel {
        /// The monitored master's name (`sentinel=`).
        service: String,
        /// The sentinels, in the order they are asked: the URL authority, then each
        /// `sentinel_fallback`.
        sentinels: Vec<HostPort>,
    },
}

/// TLS options (`ssl=true` / `rediss://` for the master, `sentinel_ssl=true` for the
/// sentinels; both use the same `ssl_*` files, as redis-py does). The server certificate and
/// its host name are always verified; the files are read at each connect, so a renewed
/// certificate is picked up on the next reconnect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `ssl_certfile`: our client certificate chain (PEM), for servers that require one
    /// (`tls-auth-clients yes`). May also hold the key when `ssl_keyfile` is not given.
    pub certfile: Option<PathBuf>,
    /// `ssl_keyfile`: the client certificate's private key (PEM).
    pub keyfile: Option<PathBuf>,
    /// `ssl_ca_certs`: the CA bundle (PEM) the server certificate must chain to; the system
    /// roots when not given.
    pub ca_certs: Option<PathBuf>,
}

/// A parsed tooz Redis backend URL. `Display` prints it with every password masked.
#[derive(Clone, Debug, PartialEq)]
pub struct RedisUrl {
    masked: String,
    /// Where to connect.
    pub endpoint: Endpoint,
    /// Username from the userinfo (master connections only).
    pub username: Option<String>,
    /// Password from the userinfo, taken literally (master connections only).
    pub password: Option<Secret>,
    /// Database number (`db=` or the `/N` path).
    pub db: i64,
    /// `timeout`, whole seconds (default 30).
    pub timeout_secs: u64,
    /// `membership_timeout` (default `timeout`): the TTL of the beat key.
    pub membership_timeout: Duration,
    /// `socket_timeout` (default `timeout`): the per-command response timeout, capped at
    /// half of `membership_timeout` by the membership task.
    pub socket_timeout: Duration,
    /// `socket_connect_timeout` (default 5 s, as redis-py 8).
    pub socket_connect_timeout: Duration,
    /// `socket_keepalive` (default true, as redis-py 8).
    pub socket_keepalive: bool,
    /// `ssl=true` (or `rediss://`) on the master connections.
    pub tls: Option<TlsOptions>,
    /// `sentinel_username`.
    pub sentinel_username: Option<String>,
    /// `sentinel_password`.
    pub sentinel_password: Option<Secret>,
    /// `sentinel_ssl=true`: TLS to the sentinels, with the same `ssl_*` files.
    pub sentinel_tls: Option<TlsOptions>,
    /// `namespace` (default `_tooz`).
    pub namespace: String,
    /// Options tooz or redis-py would accept but that play no part here, and unknown
    /// options (tooz ignores those too). The caller may log them.
    pub ignored_options: Vec<String>,
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

/// Options that are read below; everything else lands in `ignored_options`.
const SECRET_OPTIONS: &[&str] = &["sentinel_password", "password"];

fn bool_from_string(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "1" | "t" | "true" | "on" | "y" | "yes"
    )
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `urllib.parse.unquote_plus`: `+` is a space, `%XX` a byte, invalid escapes kept as is.
fn unquote_plus(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `host[:port]` / `[v6][:port]`.
fn split_host_port(s: &str) -> Result<(String, Option<&str>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| "an IPv6 address must be closed by ']'".to_string())?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        if after.is_empty() {
            Ok((host.to_string(), None))
        } else if let Some(p) = after.strip_prefix(':') {
            Ok((host.to_string(), Some(p)))
        } else {
            Err("expected ':port' after ']'".to_string())
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => {
                if h.contains(':') {
                    Err("an IPv6 address must be written in brackets, e.g. [::1]:6379".to_string())
                } else {
                    Ok((h.to_string(), Some(p)))
                }
            }
            None => Ok((s.to_string(), None)),
        }
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err("expected a TCP port number 1-65535".to_string()),
        Ok(n) => Ok(n),
    }
}

struct Ctx<'a> {
    masked: &'a str,
}

impl Ctx<'_> {
    fn err(&self, part: &str, value: &str, reason: impl Into<String>) -> UrlError {
        UrlError::Invalid {
            url: self.masked.to_string(),
            part: part.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

fn secs_f64(ctx: &Ctx<'_>, name: &str, v: &str) -> Result<Duration, UrlError> {
    let f: f64 = v
        .trim()
        .parse()
        .map_err(|_| ctx.err(&format!("option {name}"), v, "expected a number of seconds"))?;
    if !f.is_finite() || f <= 0.0 {
        return Err(ctx.err(
            &format!("option {name}"),
            v,
            "expected a positive number of seconds",
        ));
    }
    Duration::try_from_secs_f64(f)
        .map_err(|_| ctx.err(&format!("option {name}"), v, "out of range"))
}

/// Masks the password in the userinfo and secret query options, without parsing further.
fn mask(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some(x) => x,
        None => return url.to_string(),
    };
    let (before_q, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (netloc, path) = match before_q.find('/') {
        Some(i) => (&before_q[..i], &before_q[i..]),
        None => (before_q, ""),
    };
    let netloc = match netloc.rsplit_once('@') {
        Some((userinfo, hostport)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{hostport}"),
            None => netloc.to_string(),
        },
        None => netloc.to_string(),
    };
    let mut out = format!("{scheme}://{netloc}{path}");
    if let Some(q) = query {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if SECRET_OPTIONS.contains(&unquote_plus(k).as_str()) => {
                    format!("{k}=***")
                }
                _ => kv.to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

impl RedisUrl {
    /// Parses a tooz Redis `backend_url`.
    pub fn parse(url: &str) -> Result<RedisUrl, UrlError> {
        let masked = mask(url.trim());
        let ctx = Ctx { masked: &masked };
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| UrlError::MissingScheme {
                url: masked.clone(),
            })?;
        let scheme_l = scheme.to_ascii_lowercase();
        let rediss = match scheme_l.as_str() {
            "redis" => false,
            "rediss" => true,
            _ => {
                return Err(UrlError::UnsupportedScheme {
                    url: masked.clone(),
                    scheme: scheme.to_string(),
                })
            }
        };
        // Fragment: urlsplit strips it; nothing uses it.
        let rest = rest.split_once('#').map_or(rest, |(a, _)| a);
        let (before_q, query) = match rest.split_once('?') {
            Some((a, q)) => (a, q),
            None => (rest, ""),
        };
        let (netloc, path) = match before_q.find('/') {
            Some(i) => (&before_q[..i], &before_q[i..]),
            None => (before_q, ""),
        };
        let (userinfo, hostport) = match netloc.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, netloc),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pw)) => (
                    (!user.is_empty()).then(|| user.to_string()),
                    Some(Secret::new(pw)),
                ),
                None => ((!u.is_empty()).then(|| u.to_string()), None),
            },
        };

        // Query: last value wins, except sentinel_fallback; blank values dropped.
        let mut opts: Vec<(String, String)> = Vec::new();
        let mut fallbacks: Vec<String> = Vec::new();
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = match kv.split_once('=') {
                Some((k, v)) => (unquote_plus(k), unquote_plus(v)),
                None => continue, // parse_qs drops pairs without '=' (strict_parsing off)
            };
            if v.is_empty() {
                continue;
            }
            if k == "sentinel_fallback" {
                fallbacks.push(v);
            } else {
                opts.retain(|(ok, _)| ok != &k);
                opts.push((k, v));
            }
        }
        let get = |name: &str| -> Option<&str> {
            opts.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };

        let (host, port_s) = split_host_port(hostport).map_err(|r| ctx.err("host", hostport, r))?;
        let port = port_s
            .map(|p| parse_port(p).map_err(|r| ctx.err("port", p, r)))
            .transpose()?;

        let sentinel = get("sentinel").map(str::to_string);
        let mut db: i64 = 0;
        let endpoint = if let Some(service) = sentinel {
            if host.is_empty() {
                return Err(ctx.err(
                    "host",
                    hostport,
                    "sentinel= needs the first sentinel as host:port in the URL authority",
                ));
            }
            let port = port.ok_or_else(|| {
                ctx.err(
                    "port",
                    hostport,
                    "sentinel= needs the sentinel's port in the URL (tooz requires it), e.g. redis://host:26379?sentinel=NAME",
                )
            })?;
            let mut sentinels = vec![HostPort { host, port }];
            for fb in &fallbacks {
                let (h, p) =
                    split_host_port(fb).map_err(|r| ctx.err("option sentinel_fallback", fb, r))?;
                let p =
                    p.ok_or_else(|| ctx.err("option sentinel_fallback", fb, "expected host:port"))?;
                if h.is_empty() {
                    return Err(ctx.err("option sentinel_fallback", fb, "expected host:port"));
                }
                let p = parse_port(p).map_err(|r| ctx.err("option sentinel_fallback", fb, r))?;
                sentinels.push(HostPort { host: h, port: p });
            }
            Endpoint::Sentinel { service, sentinels }
        } else if host.is_empty() {
            if port.is_some() {
                return Err(ctx.err("host", hostport, "a port was given without a host"));
            }
            if path.is_empty() || path == "/" {
                return Err(ctx.err(
                    "host",
                    hostport,
                    "expected a host (redis://host:6379) or a unix socket path (redis:///path/to.sock)",
                ));
            }
            Endpoint::Unix(PathBuf::from(path))
        } else {
            // redis-py convention: `/N` selects database N (the db option wins).
            let p = path.trim_start_matches('/');
            if !p.is_empty() {
                db = p
                    .parse()
                    .map_err(|_| ctx.err("path", path, "expected /N, a database number"))?;
            }
            Endpoint::Tcp(HostPort {
                host,
                port: port.unwrap_or(6379),
            })
        };

        if let Some(v) = get("db") {
            db = v
                .trim()
                .parse()
                .map_err(|_| ctx.err("option db", v, "expected an integer"))?;
        }
        if db < 0 {
            return Err(ctx.err("option db", &db.to_string(), "must not be negative"));
        }
        let timeout_secs = match get("timeout") {
            None => DEFAULT_TIMEOUT_SECS,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(0) => return Err(ctx.err("option timeout", v, "must be at least 1 second")),
                Ok(n) => n,
                Err(_) => {
                    return Err(ctx.err(
                        "option timeout",
                        v,
                        "expected a whole number of seconds (tooz parses it with int())",
                    ))
                }
            },
        };
        let membership_timeout = match get("membership_timeout") {
            Some(v) => secs_f64(&ctx, "membership_timeout", v)?,
            None => Duration::from_secs(timeout_secs),
        };
        if membership_timeout < Duration::from_millis(1) {
            return Err(ctx.err(
                "option membership_timeout",
                get("membership_timeout").unwrap_or_default(),
                "must be at least 0.001 s",
            ));
        }
        let socket_timeout = match get("socket_timeout") {
            Some(v) => secs_f64(&ctx, "socket_timeout", v)?,
            None => Duration::from_secs(timeout_secs),
        };
        let socket_connect_timeout = match get("socket_connect_timeout") {
            Some(v) => secs_f64(&ctx, "socket_connect_timeout", v)?,
            None => Duration::from_secs(5),
        };
        let socket_keepalive = get("socket_keepalive").is_none_or(bool_from_string);
        let ssl = rediss || get("ssl").is_some_and(bool_from_string);
        let tls_files = TlsOptions {
            certfile: get("ssl_certfile").map(PathBuf::from),
            keyfile: get("ssl_keyfile").map(PathBuf::from),
            ca_certs: get("ssl_ca_certs").map(PathBuf::from),
        };
        let tls = ssl.then(|| tls_files.clone());
        let sentinel_tls = get("sentinel_ssl")
            .is_some_and(bool_from_string)
            .then(|| tls_files.clone());
        if tls.is_some() || sentinel_tls.is_some() {
            if tls_files.keyfile.is_some() && tls_files.certfile.is_none() {
                return Err(ctx.err(
                    "option ssl_keyfile",
                    get("ssl_keyfile").unwrap_or_default(),
                    "needs ssl_certfile (the client certificate) too",
                ));
            }
            if tls.is_some() && matches!(endpoint, Endpoint::Unix(_)) {
                return Err(ctx.err(
                    "option ssl",
                    "true",
                    "TLS cannot be used over a unix socket (redis-py ignores it there); \
                     drop ssl=true or connect over TCP",
                ));
            }
        }
        if let Some(enc) = get("encoding") {
            let e = enc.to_ascii_lowercase().replace(['-', '_'], "");
            if e != "utf8" {
                return Err(ctx.err(
                    "option encoding",
                    enc,
                    "only utf8 (the tooz default) is supported",
                ));
            }
        }
        let namespace = get("namespace").unwrap_or(DEFAULT_NAMESPACE).to_string();

        const USED: &[&str] = &[
            "db",
            "timeout",
            "membership_timeout",
            "socket_timeout",
            "socket_connect_timeout",
            "socket_keepalive",
            "ssl",
            "ssl_certfile",
            "ssl_keyfile",
            "ssl_ca_certs",
            "sentinel",
            "sentinel_username",
            "sentinel_password",
            "sentinel_ssl",
            "encoding",
            "namespace",
        ];
        let mut ignored_options: Vec<String> = opts
            .iter()
            .filter(|(k, _)| !USED.contains(&k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        if !matches!(endpoint, Endpoint::Sentinel { .. }) && !fallbacks.is_empty() {
            ignored_options.push("sentinel_fallback".to_string());
        }

        Ok(RedisUrl {
            masked: masked.clone(),
            endpoint,
            username,
            password,
            db,
            timeout_secs,
            membership_timeout,
            socket_timeout,
            socket_connect_timeout,
            socket_keepalive,
            tls,
            sentinel_username: get("sentinel_username").map(str::to_string),
            sentinel_password: get("sentinel_password").map(Secret::new),
            sentinel_tls,
            namespace,
            ignored_options,
        })
    }

    /// The beat TTL in milliseconds as tooz computes it: `int(membership_timeout * 1000)`.
    pub fn membership_ms(&self) -> u64 {
        (self.membership_timeout.as_secs_f64() * 1000.0) as u64
    }

    /// Errors when the URL asks for something this build cannot do. Everything [`parse`]
    /// accepts is supported now (TLS included); kept so callers need not change.
    ///
    /// [`parse`]: RedisUrl::parse
    pub fn check_supported(&self) -> Result<(), UrlError> {
        Ok(())
    }
}

impl std::str::FromStr for RedisUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RedisUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(s: &str) -> RedisUrl {
        RedisUrl::parse(s).unwrap()
    }

    #[test]
    fn defaults() {
        let u = p("redis://127.0.0.1:6379");
        assert_eq!(
            u.endpoint,
            Endpoint::Tcp(HostPort {
                host: "127.0.0.1".into(),
                port: 6379
            })
        );
        assert_eq!(u.timeout_secs, 30);
        assert_eq!(u.membership_timeout, Duration::from_secs(30));
        assert_eq!(u.socket_timeout, Duration::from_secs(30));
        assert_eq!(u.namespace, "_tooz");
        assert_eq!(u.db, 0);
        assert_eq!(u.membership_ms(), 30000);
        assert!(u.socket_keepalive);
        assert!(u.tls.is_none());
    }

    #[test]
    fn last_value_wins_and_membership() {
        let u = p("redis://controller:6379?timeout=10&timeout=20");
        assert_eq!(u.timeout_secs, 20);
        assert_eq!(u.membership_timeout, Duration::from_secs(20));
        let u = p("redis://controller:6379?membership_timeout=7.5&lock_timeout=60&namespace=ceilo");
        assert_eq!(u.membership_ms(), 7500);
        assert_eq!(u.socket_timeout, Duration::from_secs(30));
        assert_eq!(u.namespace, "ceilo");
        assert_eq!(u.ignored_options, vec!["lock_timeout".to_string()]);
    }

    #[test]
    fn password_literal_and_masked() {
        let u = p("redis://:s3cr%40t@controller:6379?db=2");
        assert_eq!(u.password.as_ref().unwrap().expose(), "s3cr%40t");
        assert_eq!(u.username, None);
        assert_eq!(u.db, 2);
        assert_eq!(u.to_string(), "redis://:***@controller:6379?db=2");
        assert!(!format!("{u:?}").contains("s3cr"));
        let u = p("redis://admin:pa:ss@h:1");
        assert_eq!(u.username.as_deref(), Some("admin"));
        assert_eq!(u.password.as_ref().unwrap().expose(), "pa:ss");
        assert_eq!(u.to_string(), "redis://admin:***@h:1");
    }

    #[test]
    fn ipv6_unix_path_db() {
        let u = p("redis://[::1]:6379");
        assert_eq!(
            u.endpoint,
            Endpoint::Tcp(HostPort {
                host: "::1".into(),
                port: 6379
            })
        );
        let u = p("redis:///var/run/redis/redis.sock?db=1");
        assert_eq!(
            u.endpoint,
            Endpoint::Unix(PathBuf::from("/var/run/redis/redis.sock"))
        );
        assert_eq!(u.db, 1);
        assert_eq!(p("redis://h/3").db, 3);
        assert_eq!(p("redis://h/3?db=4").db, 4);
        assert_eq!(
            p("redis://h").endpoint,
            Endpoint::Tcp(HostPort {
                host: "h".into(),
                port: 6379
            })
        );
    }

    #[test]
    fn sentinel() {
        let u = p("redis://s1:26379?sentinel=mymaster&sentinel_fallback=s2:26379&sentinel_fallback=[fd00::3]:26379&sentinel_username=su&sentinel_password=sp&timeout=10");
        match &u.endpoint {
            Endpoint::Sentinel { service, sentinels } => {
                assert_eq!(service, "mymaster");
                let s: Vec<String> = sentinels.iter().map(|s| s.to_string()).collect();
                assert_eq!(s, vec!["s1:26379", "s2:26379", "[fd00::3]:26379"]);
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(u.sentinel_username.as_deref(), Some("su"));
        assert_eq!(u.sentinel_password.as_ref().unwrap().expose(), "sp");
        assert!(u.to_string().contains("sentinel_password=***"));
        assert!(!u.to_string().contains("sp&"));
        assert_eq!(u.membership_ms(), 10000);
    }

    #[test]
    fn errors_name_the_part() {
        let e = RedisUrl::parse("redis://s1?sentinel=x").unwrap_err();
        assert!(e.to_string().contains("port"), "{e}");
        let e = RedisUrl::parse("redis://h:6379?timeout=2.5").unwrap_err();
        assert!(e.to_string().contains("option timeout"), "{e}");
        let e = RedisUrl::parse("redis://h:abc").unwrap_err();
        assert!(e.to_string().contains("port \"abc\""), "{e}");
        let e = RedisUrl::parse("memcached://h:1").unwrap_err();
        assert!(matches!(e, UrlError::UnsupportedScheme { .. }));
        let e = RedisUrl::parse("h:1").unwrap_err();
        assert!(matches!(e, UrlError::MissingScheme { .. }));
        let e = RedisUrl::parse("redis://:pw@h:1?db=x").unwrap_err();
        assert!(e.to_string().contains("option db"), "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
        let e = RedisUrl::parse("redis://h:1?membership_timeout=-1").unwrap_err();
        assert!(e.to_string().contains("membership_timeout"), "{e}");
        let e = RedisUrl::parse("redis://s:1?sentinel=m&sentinel_fallback=nohost").unwrap_err();
        assert!(e.to_string().contains("sentinel_fallback"), "{e}");
        let e = RedisUrl::parse("redis://::1:6379").unwrap_err();
        assert!(e.to_string().contains("brackets"), "{e}");
    }

    #[test]
    fn ssl_and_rediss() {
        let u = p("redis://h:6379?ssl=true&ssl_ca_certs=/etc/ca.pem");
        assert_eq!(
            u.tls.as_ref().unwrap().ca_certs.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert!(u.check_supported().is_ok());
        assert!(u.sentinel_tls.is_none());
        assert!(p("rediss://h:6379").tls.is_some());
        assert!(p("redis://h:6379?ssl=on").tls.is_some());
        assert!(p("redis://h:6379?ssl=Yes").tls.is_some());
        assert!(p("redis://h:6379?ssl=no").tls.is_none());
        assert!(p("redis://h:6379?ssl=").tls.is_none());
        assert!(p("redis://h:6379").check_supported().is_ok());
        assert!(!p("redis://h:6379?socket_keepalive=0").socket_keepalive);
        assert!(!p("redis://h:6379?socket_keepalive=false").socket_keepalive);
        assert!(p("redis://h:6379?socket_keepalive=t").socket_keepalive);
    }

    #[test]
    fn ssl_files_and_sentinel_ssl() {
        let u = p("redis://s:26379?sentinel=m&sentinel_ssl=1&ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem");
        // sentinel_ssl alone: TLS to the sentinels, plain to the master; same files.
        assert!(u.tls.is_none());
        let st = u.sentinel_tls.as_ref().unwrap();
        assert_eq!(
            st.ca_certs.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert_eq!(st.certfile.as_deref(), Some(std::path::Path::new("/c.pem")));
        assert_eq!(st.keyfile.as_deref(), Some(std::path::Path::new("/k.pem")));
        let u = p("rediss://s:26379?sentinel=m&ssl_ca_certs=/ca.pem");
        assert!(u.tls.is_some() && u.sentinel_tls.is_none());
        let e = RedisUrl::parse("redis://h:1?ssl=true&ssl_keyfile=/k.pem").unwrap_err();
        assert!(e.to_string().contains("ssl_certfile"), "{e}");
        let e = RedisUrl::parse("rediss:///run/redis.sock").unwrap_err();
        assert!(e.to_string().contains("unix socket"), "{e}");
        // Files without ssl=true play no part (as in redis-py).
        assert!(p("redis://h:1?ssl_keyfile=/k.pem").tls.is_none());
    }

    #[test]
    fn query_values_are_unquoted() {
        let u = p("redis://h:1?namespace=a%20b+c");
        assert_eq!(u.namespace, "a b c");
        assert_eq!(unquote_plus("%zz%4"), "%zz%4");
    }
}
