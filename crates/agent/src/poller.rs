//! What the agent needs from the pollsters: poll one cycle for the keys it owns.
//!
//! A trait so the cycle machinery (membership per cycle, takeovers, shutdown) is tested with
//! a scripted poller on tokio's paused clock, and runs with `pollsters::Engine` for real.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sample::Timestamp;
use tokio::sync::mpsc;

/// A boxed future (the poller is a trait object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// The contract types are the engine's own.
pub use pollsters::{CycleReport, CycleRequest, SampleBatch};

/// The partition filter: does this agent poll the resource with this stable key?
pub type Owns<'a> = &'a (dyn Fn(&[u8]) -> bool + Send + Sync);

/// Polls one cycle: every source of the request, every matched pollster, only the resources
/// whose key `owns` accepts; streams batches to `out`.
pub trait Poller: Send + Sync + 'static {
    /// Poll.
    fn poll_cycle<'a>(
        &'a self,
        req: &'a CycleRequest,
        owns: Owns<'a>,
        out: &'a mpsc::Sender<SampleBatch>,
    ) -> BoxFuture<'a, CycleReport>;

    /// Readiness of the poller (e.g. whether a Keystone token could be obtained), with details.
    fn health(&self) -> (bool, serde_json::Value) {
        (true, serde_json::Value::Null)
    }
}

/// Wall-clock time, injectable so cycle timing is testable on tokio's paused clock.
pub trait Clock: Send + Sync + 'static {
    /// Now, Unix µs.
    fn now_us(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        Timestamp::now().unix_micros()
    }
}

/// A wall clock that advances with tokio's clock (paused in tests), from a chosen start.
pub struct TokioClock {
    base_us: i64,
    base: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at `start_us` now.
    pub fn starting_at(start_us: i64) -> TokioClock {
        TokioClock {
            base_us: start_us,
            base: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now_us(&self) -> i64 {
        self.base_us + self.base.elapsed().as_micros() as i64
    }
}

/// Sleep until wall-clock instant `at_us` on `clock`.
pub async fn sleep_until(clock: &dyn Clock, at_us: i64) {
    let now = clock.now_us();
    if at_us > now {
        tokio::time::sleep(Duration::from_micros((at_us - now) as u64)).await;
    }
}
