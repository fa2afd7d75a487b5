//! Sample sinks: the oslo.messaging bus, Gnocchi, HTTP, UDP, files, Prometheus push.
//!
//! Knows nothing of OpenStack APIs beyond what a destination needs: it delivers samples
//! without loss. Each destination is a [`Publisher`]; each runs behind its own
//! [`delivery::Delivery`] worker, so polling never waits on a destination and every sample is
//! accounted for as published, queued, spooled or dropped.
#![forbid(unsafe_code)]

pub mod bus;
pub mod delivery;
pub mod factory;
pub mod file;
pub mod gnocchi;
pub mod http;
pub mod prometheus;
pub mod spool;
pub mod udp;
pub mod url;
pub mod wire;

#[cfg(test)]
pub(crate) mod testing;

use std::future::Future;
use std::pin::Pin;

use sample::Sample;

pub use delivery::{Backoff, Delivery, DeliveryConfig, DeliveryStats, Policy};
pub use factory::{build, Built, Concrete, PublisherContext, PublisherUrlError};
pub use gnocchi::{AuthToken, TokenSource};

/// A boxed future, so publishers chosen at run time by URL scheme can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Samples of one pollster of one source, at most `[polling] batch_size` of them: the unit
/// of a bus message, retried and spooled as a whole.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// The samples, in polling order.
    pub samples: Vec<Sample>,
}

/// Why a send failed, which decides whether it is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The destination is unreachable or overloaded (connection refused, timeout, 5xx, 429,
    /// unconfirmed): retry later.
    #[error("{0}")]
    Retryable(String),
    /// The destination refused this batch for good (4xx other than 408/429): retrying would
    /// fail the same way.
    #[error("{0}")]
    Permanent(String),
}

/// A destination of samples.
pub trait Publisher: Send + Sync {
    /// For logs and metrics: the URL with any password masked.
    fn name(&self) -> &str;
    /// Deliver one batch; `Ok` only once the destination has it (e.g. a broker confirm).
    fn publish<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), PublishError>>;
}
