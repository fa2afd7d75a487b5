//! A minimal keep-alive HTTP/1.1 client for simcloud's own tests, benchmark and demo.
//!
//! Not for the agent: the pollsters crate has its own client, which simcloud measures.
//! Plain HTTP only: a simcloud started with [`crate::SimTls`] needs an HTTPS client.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// One kept-alive connection.
pub struct Client {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// Body as JSON (panics with the body text if it is not JSON: for tests).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Client errors.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed.
    #[error("connect to {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    /// HTTP error.
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// Request building failed.
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
}

impl Client {
    /// Opens a connection.
    pub async fn connect(addr: SocketAddr) -> Result<Client, ClientError> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| ClientError::Connect(addr, e))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Client { addr, sender })
    }

    /// Sends a request to a path (or full URL on the same server) and reads the reply.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Reply, ClientError> {
        let path = match path.find("://") {
            Some(i) => {
                let rest = &path[i + 3..];
                rest.find('/').map(|j| &rest[j..]).unwrap_or("/")
            }
            None => path,
        };
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let req = b.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    /// GET with a token.
    pub async fn get(&mut self, path: &str, token: &str) -> Result<Reply, ClientError> {
        self.send(Method::GET, path, &[("x-auth-token", token)], None)
            .await
    }

    /// Password authentication scoped to the `admin` project; returns (token, body).
    pub async fn login(
        &mut self,
        user: &str,
        password: &str,
    ) -> Result<(Option<String>, Reply), ClientError> {
        let body = serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }});
        let r = self
            .send(
                Method::POST,
                "/identity/v3/auth/tokens",
                &[],
                Some(body.to_string().into_bytes()),
            )
            .await?;
        Ok((r.header("x-subject-token").map(str::to_owned), r))
    }
}
