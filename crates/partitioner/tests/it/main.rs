//! The integration tests of `partitioner`, one module per former test file, in one binary:
//! one link and one copy of the test dependencies' code instead of 2.

mod properties;
mod vectors;
