//! The integration tests of `coordination`, one module per former test file, in one binary:
//! one link and one copy of the test dependencies' code instead of 4.

mod common;
mod python_interop;
mod redis_membership;
mod redis_tls;
mod sentinel;
