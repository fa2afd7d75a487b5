//! tooz-compatible consistent hash ring.
//!
//! Pure, no I/O: the coordination crate feeds it members and weights, the agent asks it
//! which member owns a resource key. Filled in by issue 3.
#![forbid(unsafe_code)]
