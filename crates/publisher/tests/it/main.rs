//! The integration tests of `publisher`, one module per former test file, in one binary:
//! one link and one copy of the test dependencies' code instead of 3.

mod common;
mod gnocchi;
mod rabbitmq;
mod sinks;
