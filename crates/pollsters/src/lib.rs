//! Keystone client, central discoveries and pollsters.
//!
//! Knows nothing of Redis or AMQP: it turns OpenStack API answers into samples.
//! Filled in by issue 6.
#![forbid(unsafe_code)]
