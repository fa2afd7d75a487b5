//! Process guards come from the shared `testsupport` crate.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub use testsupport::*;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "coordination=info".into()),
        )
        .with_test_writer()
        .try_init();
}
