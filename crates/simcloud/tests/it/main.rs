//! The integration tests of `simcloud`, one module per former test file, in one binary:
//! one link and one copy of the test dependencies' code instead of 9.

mod accounting;
mod barbican;
mod binary;
mod common;
mod faults;
mod keystone_auth;
mod model;
mod pagination;
mod publisher_targets;
mod structure;
