//! An in-process coordination backend: several agents in one process share one tooz-like
//! group without Redis. The demo runs on it; production uses Redis.

use tokio::sync::watch;

use crate::fake::{FakeStore, Shared};
use crate::redis_store::SwitchWatch;
use crate::{spawn_with, CoordinationConfig, Coordinator, Error, MembershipView};

/// The shared group. Clone it into every agent of the process.
#[derive(Clone, Default)]
pub struct MemoryBackend(Shared);

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    /// Simulate the backend being unreachable (or back).
    pub fn set_down(&self, down: bool) {
        crate::fake::lock(&self.0).down = down;
    }
}

/// [`crate::start`] on the in-process backend. `config.backend_url` only supplies
/// `membership_timeout` (use e.g. `redis://in-process?membership_timeout=3`).
pub fn start_in_memory(
    config: CoordinationConfig,
    backend: &MemoryBackend,
) -> Result<(Coordinator, watch::Receiver<MembershipView>), Error> {
    config.validate()?;
    let me = config.member_id.to_string();
    let store = FakeStore::new(&backend.0, &me, config.backend_url.membership_timeout);
    spawn_with(
        store,
        &config,
        std::sync::Arc::new(tokio::sync::Notify::new()),
        SwitchWatch::none(),
    )
}
