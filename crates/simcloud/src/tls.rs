//! HTTPS for the simulated cloud: a server certificate and, optionally, a CA that every
//! client certificate must chain to (a Keystone behind an mTLS-terminating proxy). With TLS
//! on, every catalog URL is `https://`, so clients exercise their TLS settings on every call,
//! not only on authentication.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS files of the listener (PEM).
#[derive(Clone, Debug)]
pub struct SimTls {
    /// Server certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// When set, a client certificate signed by this CA is required on every connection.
    pub client_ca: Option<PathBuf>,
}

/// Why the TLS listener could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("TLS file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let v: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(path, e))?;
    if v.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
    }
    Ok(v)
}

/// The acceptor for [`SimTls`] (ring provider, HTTP/1.1 by ALPN).
pub(crate) fn acceptor(t: &SimTls) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let chain = certs(&t.cert)?;
    let key = PrivateKeyDer::from_pem_file(&t.key).map_err(|e| file_err(&t.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &t.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(ca)? {
                roots.add(c).map_err(|e| file_err(ca, e))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}
