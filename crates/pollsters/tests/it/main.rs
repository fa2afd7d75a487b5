//! The integration tests of `pollsters`, one module per former test file, in one binary:
//! one link and one copy of the test dependencies' code instead of 10.

mod auth_tls;
mod blacklist;
mod common;
mod cycles;
mod dynamic;
mod dynamic_auth;
mod golden;
mod hardware;
mod keystone_scopes;
mod parsers;
mod tenant_discovery;
