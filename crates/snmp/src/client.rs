//! An async SNMP client over `snmp2` with per-request timeouts, retries and GETBULK walks.
//!
//! `snmp2`'s async session has no timeout and rejects stale replies by request id, so every
//! attempt runs under `tokio::time::timeout` and a retry opens a fresh session (new socket,
//! new v3 engine discovery): a late answer to the previous attempt can never be taken for
//! the current one.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use snmp2::{AsyncSession, Oid};

use crate::resource::{AuthProto, PrivProto, Security, SnmpResource};

/// A decoded SNMP value, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum SnmpValue {
    /// INTEGER / Integer32.
    Integer(i64),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Unsigned32(u32),
    /// Counter64.
    Counter64(u64),
    /// TimeTicks.
    Timeticks(u32),
    /// OCTET STRING.
    OctetString(Vec<u8>),
    /// OBJECT IDENTIFIER, dotted.
    ObjectIdentifier(String),
    /// IpAddress.
    IpAddress([u8; 4]),
    /// NULL.
    Null,
    /// noSuchObject.
    NoSuchObject,
    /// noSuchInstance.
    NoSuchInstance,
    /// endOfMibView.
    EndOfMibView,
    /// Anything else (opaque, nested types).
    Other,
}

impl SnmpValue {
    fn from_snmp2(v: &snmp2::Value<'_>) -> SnmpValue {
        use snmp2::Value as V;
        match v {
            V::Integer(i) => SnmpValue::Integer(*i),
            V::Counter32(c) => SnmpValue::Counter32(*c),
            V::Unsigned32(c) => SnmpValue::Unsigned32(*c),
            V::Counter64(c) => SnmpValue::Counter64(*c),
            V::Timeticks(c) => SnmpValue::Timeticks(*c),
            V::OctetString(s) => SnmpValue::OctetString(s.to_vec()),
            V::ObjectIdentifier(o) => SnmpValue::ObjectIdentifier(oid_string(o)),
            V::IpAddress(a) => SnmpValue::IpAddress(*a),
            V::Null => SnmpValue::Null,
            V::NoSuchObject => SnmpValue::NoSuchObject,
            V::NoSuchInstance => SnmpValue::NoSuchInstance,
            V::EndOfMibView => SnmpValue::EndOfMibView,
            _ => SnmpValue::Other,
        }
    }

    /// Whether the agent has no value here (noSuch*/endOfMibView/NULL).
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            SnmpValue::NoSuchObject
                | SnmpValue::NoSuchInstance
                | SnmpValue::EndOfMibView
                | SnmpValue::Null
        )
    }

    /// An integer reading; numeric text (UCD's `laLoad` is a string) is parsed too.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SnmpValue::Integer(i) => Some(*i),
            SnmpValue::Counter32(c) | SnmpValue::Unsigned32(c) | SnmpValue::Timeticks(c) => {
                Some(i64::from(*c))
            }
            SnmpValue::Counter64(c) => i64::try_from(*c).ok(),
            SnmpValue::OctetString(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// A float reading (numbers and numeric text).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SnmpValue::OctetString(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            SnmpValue::Counter64(c) => Some(*c as f64),
            other => other.as_i64().map(|i| i as f64),
        }
    }

    /// Text of an OCTET STRING (lossy UTF-8, trailing NULs removed).
    pub fn as_text(&self) -> Option<String> {
        match self {
            SnmpValue::OctetString(s) => {
                Some(String::from_utf8_lossy(s).trim_end_matches('\0').to_owned())
            }
            _ => None,
        }
    }
}

/// What went wrong talking to an agent. Never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnmpError {
    /// No answer within the timeout, after all retries.
    #[error("no answer from {target} after {attempts} attempt(s) of {timeout:?}")]
    Timeout {
        /// The public URL of the agent.
        target: String,
        /// Attempts made.
        attempts: u32,
        /// Per-attempt timeout.
        timeout: Duration,
    },
    /// Host name resolution or socket failure.
    #[error("{target}: {message}")]
    Io {
        /// The public URL of the agent.
        target: String,
        /// The I/O error.
        message: String,
    },
    /// The agent answered with an error or the exchange failed (auth, decoding, ...).
    #[error("{target}: {message}")]
    Protocol {
        /// The public URL of the agent.
        target: String,
        /// What the library or the agent reported.
        message: String,
    },
    /// A malformed OID was requested (programming error).
    #[error("invalid OID {0}")]
    BadOid(String),
}

/// Client settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Per-request timeout (default 2 s).
    pub timeout: Duration,
    /// Extra attempts after a timeout (default 2).
    pub retries: u32,
    /// GETBULK max-repetitions for walks (default 25).
    pub max_repetitions: u32,
    /// Upper bound on rows one walk returns (default 10 000), so a looping agent cannot
    /// keep a poll busy forever.
    pub max_walk_rows: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(2),
            retries: 2,
            max_repetitions: 25,
            max_walk_rows: 10_000,
        }
    }
}

/// A dotted OID as numbers.
pub type OidVec = Vec<u64>;

/// Parse `1.3.6.1...` (a leading dot is allowed).
pub fn parse_oid(s: &str) -> Result<OidVec, SnmpError> {
    s.trim_start_matches('.')
        .split('.')
        .map(|p| p.parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|v| v.len() >= 2)
        .ok_or_else(|| SnmpError::BadOid(s.to_owned()))
}

fn oid_string(o: &Oid<'_>) -> String {
    o.iter()
        .map(|it| it.map(|n| n.to_string()).collect::<Vec<_>>().join("."))
        .unwrap_or_default()
}

fn oid_vec(o: &Oid<'_>) -> OidVec {
    o.iter().map(Iterator::collect).unwrap_or_default()
}

fn to_oid(v: &[u64]) -> Result<Oid<'static>, SnmpError> {
    Oid::from(v)
        .map_err(|_| SnmpError::BadOid(v.iter().map(u64::to_string).collect::<Vec<_>>().join(".")))
}

/// An SNMP client for one agent.
pub struct SnmpClient {
    resource: SnmpResource,
    opts: ClientOptions,
    session: Option<AsyncSession>,
    next_req_id: i32,
}

impl fmt::Debug for SnmpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnmpClient")
            .field("resource", &self.resource)
            .field("opts", &self.opts)
            .finish()
    }
}

fn security_v3(
    user: &str,
    auth: &Option<(AuthProto, String)>,
    privacy: &Option<(PrivProto, String)>,
    context_name: &Option<String>,
) -> snmp2::v3::Security {
    use snmp2::v3::{Auth, AuthProtocol, Cipher, Security as S};
    let (proto, pass) = match auth {
        Some((p, pw)) => (Some(*p), pw.as_bytes()),
        None => (None, &b""[..]),
    };
    let mut s = S::new(user.as_bytes(), pass);
    if let Some(p) = proto {
        s = s.with_auth_protocol(match p {
            AuthProto::Md5 => AuthProtocol::Md5,
            AuthProto::Sha1 => AuthProtocol::Sha1,
            AuthProto::Sha224 => AuthProtocol::Sha224,
            AuthProto::Sha256 => AuthProtocol::Sha256,
            AuthProto::Sha384 => AuthProtocol::Sha384,
            AuthProto::Sha512 => AuthProtocol::Sha512,
        });
    }
    s = s.with_auth(match (proto, privacy) {
        (None, _) => Auth::NoAuthNoPriv,
        (Some(_), None) => Auth::AuthNoPriv,
        (Some(_), Some((c, pw))) => Auth::AuthPriv {
            cipher: match c {
                PrivProto::Des => Cipher::Des,
                PrivProto::Aes128 => Cipher::Aes128,
                PrivProto::Aes192 => Cipher::Aes192,
                PrivProto::Aes256 => Cipher::Aes256,
            },
            privacy_password: pw.as_bytes().to_vec(),
        },
    });
    if let Some(c) = context_name {
        s = s.with_context_name(c);
    }
    s
}

impl SnmpClient {
    /// A client for `resource`; no packet is sent until the first request.
    pub fn new(resource: SnmpResource, opts: ClientOptions) -> Self {
        // Request ids only need to differ between sessions; derive a start from the clock.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        SnmpClient {
            resource,
            opts,
            session: None,
            next_req_id: (seed & 0x3fff_ffff) as i32,
        }
    }

    /// The agent this client talks to.
    pub fn resource(&self) -> &SnmpResource {
        &self.resource
    }

    fn target(&self) -> String {
        self.resource.public_url().to_owned()
    }

    async fn open(&mut self) -> Result<(), SnmpError> {
        let target = self.target();
        let addr: SocketAddr = match tokio::net::lookup_host((
            self.resource.host.as_str(),
            self.resource.port,
        ))
        .await
        {
            Ok(mut it) => it.next().ok_or_else(|| SnmpError::Io {
                target: target.clone(),
                message: "host name resolves to no address".into(),
            })?,
            Err(e) => {
                return Err(SnmpError::Io {
                    target,
                    message: format!("cannot resolve host: {e}"),
                })
            }
        };
        self.next_req_id = self.next_req_id.wrapping_add(1000) & 0x3fff_ffff;
        let io = |e: std::io::Error| SnmpError::Io {
            target: target.clone(),
            message: e.to_string(),
        };
        let session = match &self.resource.security {
            Security::V2c { community } => {
                AsyncSession::new_v2c(addr, community.as_bytes(), self.next_req_id)
                    .await
                    .map_err(io)?
            }
            Security::V3 {
                user,
                auth,
                privacy,
                context_name,
            } => {
                let sec = security_v3(user, auth, privacy, context_name);
                let mut s = AsyncSession::new_v3(addr, self.next_req_id, sec)
                    .await
                    .map_err(io)?;
                match tokio::time::timeout(self.opts.timeout, s.init()).await {
                    Err(_) => {
                        return Err(SnmpError::Timeout {
                            target,
                            attempts: 1,
                            timeout: self.opts.timeout,
                        })
                    }
                    Ok(Err(e)) => {
                        return Err(SnmpError::Protocol {
                            target,
                            message: format!("SNMPv3 engine discovery failed: {e:?}"),
                        })
                    }
                    Ok(Ok(())) => {}
                }
                s
            }
        };
        self.session = Some(session);
        Ok(())
    }

    /// One request with timeout and retries; `op` builds and decodes the exchange.
    async fn request<F>(&mut self, what: &str, op: F) -> Result<Vec<(OidVec, SnmpValue)>, SnmpError>
    where
        F: for<'s> Fn(
            &'s mut AsyncSession,
        ) -> std::pin::Pin<
            Box<
                dyn std::future::Future<Output = Result<Vec<(OidVec, SnmpValue)>, String>>
                    + Send
                    + 's,
            >,
        >,
    {
        let target = self.target();
        let attempts = self.opts.retries + 1;
        let mut last_err = None;
        for attempt in 1..=attempts {
            if self.session.is_none() {
                match self.open().await {
                    Ok(()) => {}
                    Err(e @ SnmpError::Timeout { .. }) => {
                        last_err = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(session) = self.session.as_mut() else {
                continue;
            };
            match tokio::time::timeout(self.opts.timeout, op(session)).await {
                Ok(Ok(rows)) => return Ok(rows),
                Ok(Err(message)) => {
                    self.session = None;
                    return Err(SnmpError::Protocol {
                        target,
                        message: format!("{what}: {message}"),
                    });
                }
                Err(_) => {
                    tracing::debug!(%target, attempt, "SNMP {what} timed out");
                    // A late reply to this attempt must not be read by the next one.
                    self.session = None;
                    last_err = Some(SnmpError::Timeout {
                        target: target.clone(),
                        attempts,
                        timeout: self.opts.timeout,
                    });
                }
            }
        }
        Err(last_err.unwrap_or(SnmpError::Timeout {
            target,
            attempts,
            timeout: self.opts.timeout,
        }))
    }

    /// GET several OIDs in one request; results in request order.
    pub async fn get(&mut self, oids: &[&str]) -> Result<Vec<(String, SnmpValue)>, SnmpError> {
        let parsed: Vec<Oid<'static>> = oids
            .iter()
            .map(|o| parse_oid(o).and_then(|v| to_oid(&v)))
            .collect::<Result<_, _>>()?;
        let rows = self
            .request("GET", |s| {
                let parsed = parsed.clone();
                Box::pin(async move {
                    let refs: Vec<&Oid<'_>> = parsed.iter().collect();
                    let pdu = s.get_many(&refs).await.map_err(|e| format!("{e:?}"))?;
                    if pdu.error_status != 0 {
                        return Err(format!(
                            "agent error-status {} at index {}",
                            pdu.error_status, pdu.error_index
                        ));
                    }
                    Ok(pdu
                        .varbinds
                        .map(|(o, v)| (oid_vec(&o), SnmpValue::from_snmp2(&v)))
                        .collect())
                })
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(o, v)| {
                (
                    o.iter().map(u64::to_string).collect::<Vec<_>>().join("."),
                    v,
                )
            })
            .collect())
    }

    /// Walk the subtree under `base` with GETBULK; returns `(suffix after base, value)`.
    pub async fn walk(&mut self, base: &str) -> Result<Vec<(OidVec, SnmpValue)>, SnmpError> {
        let base = parse_oid(base)?;
        let mut out = Vec::new();
        let mut current = base.clone();
        let max_rep = self.opts.max_repetitions;
        loop {
            let cur = to_oid(&current)?;
            let rows = self
                .request("GETBULK", |s| {
                    let cur = cur.clone();
                    Box::pin(async move {
                        let pdu = s
                            .getbulk(&[&cur], 0, max_rep)
                            .await
                            .map_err(|e| format!("{e:?}"))?;
                        if pdu.error_status != 0 {
                            return Err(format!(
                                "agent error-status {} at index {}",
                                pdu.error_status, pdu.error_index
                            ));
                        }
                        Ok(pdu
                            .varbinds
                            .map(|(o, v)| (oid_vec(&o), SnmpValue::from_snmp2(&v)))
                            .collect())
                    })
                })
                .await?;
            if rows.is_empty() {
                return Ok(out);
            }
            for (oid, v) in rows {
                if matches!(v, SnmpValue::EndOfMibView) || !oid.starts_with(&base) {
                    return Ok(out);
                }
                if oid <= current {
                    return Err(SnmpError::Protocol {
                        target: self.target(),
                        message: "agent returned OIDs out of order".into(),
                    });
                }
                current = oid.clone();
                out.push((oid[base.len()..].to_vec(), v));
                if out.len() >= self.opts.max_walk_rows {
                    return Ok(out);
                }
            }
        }
    }
}
