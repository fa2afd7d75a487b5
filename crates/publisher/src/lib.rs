//! Sample sinks: the oslo.messaging bus, Gnocchi, HTTP, UDP, files, Prometheus push.
//!
//! Knows nothing of OpenStack APIs: it delivers samples without loss. Filled in by issue 7.
#![forbid(unsafe_code)]
