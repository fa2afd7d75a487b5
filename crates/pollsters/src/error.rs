//! Errors at the crate boundary ([`EngineError`]) and of single API calls ([`ApiError`]).

/// Why an [`crate::Engine`] could not be built: a configuration problem the operator fixes.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `[service_credentials] auth_url` is missing.
    #[error("[service_credentials] auth_url is not set: the agent cannot reach Keystone; set it to the Keystone v3 URL")]
    NoAuthUrl,
    /// The credentials are incomplete for the chosen `auth_type`.
    #[error("[service_credentials] is incomplete for auth_type {auth_type}: {what}")]
    Credentials {
        /// `auth_type` as configured.
        auth_type: String,
        /// What is missing.
        what: String,
    },
    /// The credentials contradict each other or name something Keystone does not know.
    #[error("[service_credentials] {0}")]
    Invalid(String),
    /// A TLS file could not be read or parsed.
    #[error("failed to load {option} = {path}: {reason}")]
    TlsFile {
        /// Option name, e.g. `[service_credentials] cafile`.
        option: &'static str,
        /// Path as configured.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client: {0}")]
    Client(String),
}

/// A failed API call, after retries. Never carries a token or a password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The service answered with a non-success status.
    #[error("{method} {url} answered HTTP {status}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// URL without credentials.
        url: String,
        /// Status code.
        status: u16,
    },
    /// No answer within the request timeout.
    #[error("{method} {url} timed out")]
    Timeout {
        /// HTTP method.
        method: &'static str,
        /// URL.
        url: String,
    },
    /// Connection or protocol failure.
    #[error("{method} {url} failed: {reason}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// URL.
        url: String,
        /// reqwest's description.
        reason: String,
    },
    /// The body is not the JSON we expect.
    #[error("unexpected response from {url}: {reason}")]
    Parse {
        /// URL.
        url: String,
        /// What did not parse.
        reason: String,
    },
    /// Keystone refused or could not issue a token, or the catalog lacks a service.
    #[error("keystone: {0}")]
    Keystone(String),
}

impl ApiError {
    /// A permanent refusal for this resource (403 Forbidden): retrying next cycle will not
    /// help until an operator changes something, so the resource is blacklisted for a while.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ApiError::Status { status: 403, .. })
    }

    /// The resource does not exist on the service (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Status { status: 404, .. })
    }
}
