//! `udp://host[:4952]` and `tcp://host[:4952]`: one msgpack-encoded, signed meter dict per
//! sample (`publisher/udp.py`, `publisher/tcp.py`).
//!
//! UDP: one datagram per sample; the address is resolved with IPv6 tried first, as upstream.
//! A datagram larger than 65,507 bytes cannot be sent: that sample is dropped, logged and
//! counted in [`UdpPublisher::oversize_dropped`], and the rest of the batch still goes out.
//! Send errors of single datagrams are logged and counted ([`UdpPublisher::send_errors`]), not
//! retried: retrying the batch would duplicate the datagrams already sent, and UDP promises no
//! delivery anyway. Only a failure before anything was sent (resolution, socket) is retryable.
//!
//! TCP: per sample an 8-byte little-endian length, then msgpack of the meter dict including
//! `publisher_id = [DEFAULT] host`; on a send error one reconnect and resend, then the batch
//! fails (retryable).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use sample::MeterForm;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Mutex;

use crate::wire::msgpack;
use crate::{Batch, BoxFuture, PublishError, Publisher};

/// Largest UDP payload over IPv4 (65,535 − 8 − 20).
pub const MAX_DATAGRAM: usize = 65_507;

/// Default port of the UDP and TCP publishers.
pub const DEFAULT_PORT: u16 = 4952;

/// Resolve `host:port`, IPv6 addresses first (upstream asks getaddrinfo for AF_INET6 first).
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, PublishError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| PublishError::Retryable(format!("cannot resolve {host}: {e}")))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv6())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| PublishError::Retryable(format!("{host} has no address")))
}

/// Sends samples as UDP datagrams.
pub struct UdpPublisher {
    name: String,
    host: String,
    port: u16,
    secret: String,
    form: MeterForm,
    socket: Mutex<Option<(UdpSocket, SocketAddr)>>,
    oversize: AtomicU64,
    send_errors: AtomicU64,
    sent: AtomicU64,
}

impl UdpPublisher {
    /// Create; resolves and binds on the first batch.
    pub fn new(
        host: String,
        port: u16,
        secret: String,
        form: MeterForm,
        name: String,
    ) -> UdpPublisher {
        UdpPublisher {
            name,
            host,
            port,
            secret,
            form,
            socket: Mutex::new(None),
            oversize: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    /// Samples dropped because their datagram exceeded [`MAX_DATAGRAM`].
    pub fn oversize_dropped(&self) -> u64 {
        self.oversize.load(Ordering::Relaxed)
    }

    /// Datagrams the socket refused to send (logged, not retried).
    pub fn send_errors(&self) -> u64 {
        self.send_errors.load(Ordering::Relaxed)
    }

    /// Datagrams sent.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    async fn send(&self, batch: &Batch) -> Result<(), PublishError> {
        let mut guard = self.socket.lock().await;
        if guard.is_none() {
            let addr = resolve(&self.host, self.port).await?;
            let local: SocketAddr = if addr.is_ipv6() {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            };
            let sock = UdpSocket::bind(local)
                .await
                .map_err(|e| PublishError::Retryable(format!("cannot open a UDP socket: {e}")))?;
            *guard = Some((sock, addr));
        }
        let Some((sock, addr)) = guard.as_ref() else {
            return Err(PublishError::Retryable("no UDP socket".into()));
        };
        for s in &batch.samples {
            let msg = Value::Object(s.meter_message(&self.secret, self.form, None));
            let data = msgpack(&msg);
            if data.len() > MAX_DATAGRAM {
                self.oversize.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(publisher = %self.name, bytes = data.len(), resource_id = %s.resource_id, meter = %s.name,
                    "Sample dropped: its datagram exceeds 65507 bytes.");
                continue;
            }
            match sock.send_to(&data, addr).await {
                Ok(_) => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.send_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(publisher = %self.name, error = %e, "Unable to send sample over UDP.");
                }
            }
        }
        Ok(())
    }
}

impl Publisher for UdpPublisher {
    fn name(&self) -> &str {
        &self.name
    }
    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(self.send(batch))
    }
}

/// Sends samples over one TCP connection, length-prefixed.
pub struct TcpPublisher {
    name: String,
    host: String,
    port: u16,
    secret: String,
    publisher_id: String,
    form: MeterForm,
    stream: Mutex<Option<TcpStream>>,
}

impl TcpPublisher {
    /// Create; connects on the first batch. `publisher_id` is `[DEFAULT] host`.
    pub fn new(
        host: String,
        port: u16,
        secret: String,
        publisher_id: String,
        form: MeterForm,
        name: String,
    ) -> TcpPublisher {
        TcpPublisher {
            name,
            host,
            port,
            secret,
            publisher_id,
            form,
            stream: Mutex::new(None),
        }
    }

    /// The bytes of one batch: per sample `u64` little-endian length + msgpack.
    pub fn frames(&self, batch: &Batch) -> Vec<u8> {
        let mut out = Vec::new();
        for s in &batch.samples {
            let msg =
                Value::Object(s.meter_message(&self.secret, self.form, Some(&self.publisher_id)));
            let data = msgpack(&msg);
            out.extend_from_slice(&(data.len() as u64).to_le_bytes());
            out.extend_from_slice(&data);
        }
        out
    }

    async fn connect(&self) -> Result<TcpStream, PublishError> {
        let addr = resolve(&self.host, self.port).await?;
        TcpStream::connect(addr)
            .await
            .map_err(|e| PublishError::Retryable(format!("{}:{}: {e}", self.host, self.port)))
    }

    async fn send(&self, batch: &Batch) -> Result<(), PublishError> {
        let data = self.frames(batch);
        let mut guard = self.stream.lock().await;
        for attempt in 0..2 {
            if guard.is_none() {
                *guard = Some(self.connect().await?);
            }
            let Some(stream) = guard.as_mut() else {
                continue;
            };
            match stream.write_all(&data).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    *guard = None;
                    tracing::warn!(publisher = %self.name, error = %e, attempt, "TCP send failed; reconnecting.");
                }
            }
        }
        Err(PublishError::Retryable(format!(
            "{}:{}: send failed after one reconnect",
            self.host, self.port
        )))
    }
}

impl Publisher for TcpPublisher {
    fn name(&self) -> &str {
        &self.name
    }
    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(self.send(batch))
    }
}
