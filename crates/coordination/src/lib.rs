//! tooz-compatible group membership on Redis and Redis Sentinel.
//!
//! Knows nothing of OpenStack: it keeps this agent in the group and publishes the
//! membership view the agent builds its ring from. Filled in by issue 4.
#![forbid(unsafe_code)]
