//! The sample model shared by pollsters and publishers.
//!
//! One type, one set of wire forms (meter dict, signature), so every publisher emits
//! exactly what Ceilometer would. Filled in by issue 7.
#![forbid(unsafe_code)]
