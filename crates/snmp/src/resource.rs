//! Static SNMP resources from polling.yaml: `snmp://[user[:password]@]host[:port][?options]`.
//!
//! Forms (documented for operators):
//!
//! | URL | Meaning |
//! |---|---|
//! | `snmp://host` | SNMPv2c, community `public`, port 161 |
//! | `snmp://community@host:1161` | SNMPv2c with that community |
//! | `snmp://user:authpass@host` | SNMPv3 authNoPriv, MD5 (Kilo's pysnmp `UsmUserData` default) |
//! | `snmp://user:authpass@host?auth_proto=sha&priv_proto=aes&priv_password=p` | SNMPv3 authPriv |
//! | `snmp://user@host?version=3` | SNMPv3 noAuthNoPriv |
//!
//! Options: `version` (`2c` or `3`; default 3 when a password or any v3 option is given, else
//! 2c), `auth_proto` (`md5` default, `sha`, `sha224`, `sha256`, `sha384`, `sha512`),
//! `auth_password` (instead of the URL password), `priv_proto` (`des` default, `aes` =
//! `aes128`, `aes192`, `aes256`), `priv_password`, `context_name`. Unknown options are errors.
//! User and passwords may be percent-encoded.
//!
//! Credentials never leave this module in text form: [`SnmpResource::public_url`] (what goes
//! into `resource_url` metadata and logs) has no user info and no password options, and
//! `Debug` redacts them — Kilo published the URL with credentials (weakness §8 #12).

use std::fmt;

/// SNMPv3 authentication protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProto {
    /// HMAC-MD5-96.
    Md5,
    /// HMAC-SHA-96.
    Sha1,
    /// HMAC-SHA-224.
    Sha224,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-384.
    Sha384,
    /// HMAC-SHA-512.
    Sha512,
}

/// SNMPv3 privacy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProto {
    /// CBC-DES.
    Des,
    /// CFB-AES-128.
    Aes128,
    /// CFB-AES-192 (Blumenthal key extension).
    Aes192,
    /// CFB-AES-256 (Blumenthal key extension).
    Aes256,
}

/// How to talk to the agent.
#[derive(Clone, PartialEq, Eq)]
pub enum Security {
    /// SNMPv2c with a community string.
    V2c {
        /// The community (a credential: never printed).
        community: String,
    },
    /// SNMPv3 USM.
    V3 {
        /// USM user name.
        user: String,
        /// Authentication protocol and password, if authenticated.
        auth: Option<(AuthProto, String)>,
        /// Privacy protocol and password, if encrypted (requires `auth`).
        privacy: Option<(PrivProto, String)>,
        /// SNMPv3 context name.
        context_name: Option<String>,
    },
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Security::V2c { .. } => f.write_str("V2c { community: <redacted> }"),
            Security::V3 { user, auth, privacy, context_name } => write!(
                f,
                "V3 {{ user: {user:?}, auth: {:?}, privacy: {:?}, context_name: {context_name:?} }}",
                auth.as_ref().map(|(p, _)| p),
                privacy.as_ref().map(|(p, _)| p)
            ),
        }
    }
}

/// A parsed `snmp://` resource.
#[derive(Clone, PartialEq, Eq)]
pub struct SnmpResource {
    /// Host name or address (IPv6 without brackets); the samples' `resource_id`.
    pub host: String,
    /// UDP port (default 161).
    pub port: u16,
    /// Credentials and version.
    pub security: Security,
    public: String,
}

impl fmt::Debug for SnmpResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnmpResource")
            .field("url", &self.public)
            .field("security", &self.security)
            .finish()
    }
}

impl fmt::Display for SnmpResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.public)
    }
}

/// Why a resource URL was rejected; never contains a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SNMP resource {url}: {reason}")]
pub struct ResourceError {
    /// The URL without credentials.
    pub url: String,
    /// What is wrong.
    pub reason: String,
}

fn pct_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

const SECRET_OPTIONS: &[&str] = &["auth_password", "priv_password"];

impl SnmpResource {
    /// Parse a static resource string.
    pub fn parse(url: &str) -> Result<SnmpResource, ResourceError> {
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("snmp://"))
            .map(|_| &url[7..]);
        // Only the host part may appear in errors.
        let shown = |rest: &str| {
            let hostpart = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("snmp://{}", hostpart.split('?').next().unwrap_or(""))
        };
        let Some(rest) = rest else {
            return Err(ResourceError {
                url: "<not an snmp:// URL>".into(),
                reason: "the scheme must be snmp://".into(),
            });
        };
        let err = |reason: String| ResourceError {
            url: shown(rest),
            reason,
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (a, b) = match u.split_once(':') {
                    Some((a, b)) => (a, Some(b)),
                    None => (u, None),
                };
                let a =
                    pct_decode(a).ok_or_else(|| err("bad percent-encoding in the user".into()))?;
                let b = b
                    .map(|b| {
                        pct_decode(b)
                            .ok_or_else(|| err("bad percent-encoding in the password".into()))
                    })
                    .transpose()?;
                (
                    Some(a).filter(|a| !a.is_empty()),
                    b.filter(|b| !b.is_empty()),
                )
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| err("unclosed '[' in the host".into()))?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(err("no host".into()));
        }
        let port = match port {
            None => 161,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| err(format!("invalid port {p:?}")))?,
        };
        let mut opts: Vec<(String, String)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = pct_decode(k).ok_or_else(|| err("bad percent-encoding in the query".into()))?;
            let v =
                pct_decode(v).ok_or_else(|| err(format!("bad percent-encoding in option {k}")))?;
            if !matches!(
                k.as_str(),
                "version"
                    | "auth_proto"
                    | "auth_password"
                    | "priv_proto"
                    | "priv_password"
                    | "context_name"
            ) {
                return Err(err(format!("unknown option {k:?}")));
            }
            opts.push((k, v));
        }
        let opt = |k: &str| {
            opts.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let v3_hint = password.is_some() || opts.iter().any(|(k, _)| k != "version");
        let version = match opt("version").as_deref() {
            None => if v3_hint { "3" } else { "2c" }.to_owned(),
            Some("2c" | "v2c" | "2") => "2c".into(),
            Some("3" | "v3") => "3".into(),
            Some(other) => return Err(err(format!("unsupported version {other:?} (use 2c or 3)"))),
        };
        let security = if version == "2c" {
            if password.is_some() || opts.iter().any(|(k, _)| k != "version") {
                return Err(err("SNMPv2c takes only a community (snmp://community@host); passwords and v3 options need version=3".into()));
            }
            Security::V2c {
                community: user.unwrap_or_else(|| "public".into()),
            }
        } else {
            let user =
                user.ok_or_else(|| err("SNMPv3 needs a user (snmp://user:authpass@host)".into()))?;
            let auth_pass = password.or_else(|| opt("auth_password"));
            let auth_proto = match opt("auth_proto").as_deref() {
                None | Some("md5") => AuthProto::Md5,
                Some("sha" | "sha1") => AuthProto::Sha1,
                Some("sha224") => AuthProto::Sha224,
                Some("sha256") => AuthProto::Sha256,
                Some("sha384") => AuthProto::Sha384,
                Some("sha512") => AuthProto::Sha512,
                Some(o) => return Err(err(format!("unknown auth_proto {o:?}"))),
            };
            let priv_proto = match opt("priv_proto").as_deref() {
                None | Some("des") => PrivProto::Des,
                Some("aes" | "aes128") => PrivProto::Aes128,
                Some("aes192") => PrivProto::Aes192,
                Some("aes256") => PrivProto::Aes256,
                Some(o) => return Err(err(format!("unknown priv_proto {o:?}"))),
            };
            for (what, p) in [
                ("authentication", &auth_pass),
                ("privacy", &opt("priv_password")),
            ] {
                if p.as_ref().is_some_and(|p| p.len() < 8) {
                    return Err(err(format!(
                        "the SNMPv3 {what} password must have at least 8 characters"
                    )));
                }
            }
            let privacy = opt("priv_password").map(|p| (priv_proto, p));
            if privacy.is_some() && auth_pass.is_none() {
                return Err(err(
                    "SNMPv3 privacy needs an authentication password too".into()
                ));
            }
            Security::V3 {
                user,
                auth: auth_pass.map(|p| (auth_proto, p)),
                privacy,
                context_name: opt("context_name"),
            }
        };
        let hostshown = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let mut public = format!("snmp://{hostshown}:{port}");
        let shown_opts: Vec<String> = opts
            .iter()
            .filter(|(k, _)| !SECRET_OPTIONS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !shown_opts.is_empty() {
            public.push('?');
            public.push_str(&shown_opts.join("&"));
        }
        Ok(SnmpResource {
            host,
            port,
            security,
            public,
        })
    }

    /// The URL without credentials: what `resource_url` metadata and logs show.
    pub fn public_url(&self) -> &str {
        &self.public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let r = SnmpResource::parse("snmp://10.0.0.1").unwrap();
        assert_eq!(
            r.security,
            Security::V2c {
                community: "public".into()
            }
        );
        assert_eq!(
            (r.host.as_str(), r.port, r.public_url()),
            ("10.0.0.1", 161, "snmp://10.0.0.1:161")
        );

        let r = SnmpResource::parse("snmp://s3cret-comm@node1:1161").unwrap();
        assert_eq!(
            r.security,
            Security::V2c {
                community: "s3cret-comm".into()
            }
        );
        assert_eq!(r.public_url(), "snmp://node1:1161");
        assert!(!format!("{r:?} {r}").contains("s3cret"));

        let r = SnmpResource::parse("snmp://admin:authpass1@node1").unwrap();
        assert_eq!(
            r.security,
            Security::V3 {
                user: "admin".into(),
                auth: Some((AuthProto::Md5, "authpass1".into())),
                privacy: None,
                context_name: None
            }
        );
        let r = SnmpResource::parse("SNMP://us%40er:a%3Auth123@[::1]:16100?auth_proto=sha&priv_proto=aes&priv_password=privpass9").unwrap();
        assert_eq!(
            r.security,
            Security::V3 {
                user: "us@er".into(),
                auth: Some((AuthProto::Sha1, "a:uth123".into())),
                privacy: Some((PrivProto::Aes128, "privpass9".into())),
                context_name: None
            }
        );
        assert_eq!(
            r.public_url(),
            "snmp://[::1]:16100?auth_proto=sha&priv_proto=aes"
        );
        assert!(!format!("{r:?}").contains("privpass9") && !format!("{r:?}").contains("uth123"));
        let r = SnmpResource::parse("snmp://u@h?version=3").unwrap();
        assert!(matches!(
            r.security,
            Security::V3 {
                auth: None,
                privacy: None,
                ..
            }
        ));
    }

    #[test]
    fn errors_never_show_credentials() {
        for bad in [
            "snmp://u:shortpw@h",
            "snmp://u:longpassword@h?priv_password=x",
            "snmp://c@h?version=2c&priv_password=secretsecret",
            "snmp://u:longpassword@h:99999",
            "snmp://u:longpassword@h?bogus=1",
            "snmp://u:longpassword@",
            "http://u:longpassword@h",
        ] {
            let e = SnmpResource::parse(bad).unwrap_err().to_string();
            assert!(
                !e.contains("shortpw")
                    && !e.contains("longpassword")
                    && !e.contains("secretsecret"),
                "{e}"
            );
        }
    }
}
