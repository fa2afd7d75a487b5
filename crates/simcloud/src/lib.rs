//! An OpenStack API simulator for tests, the demo and benchmarks.
//!
//! Builds its JSON from the API reference and shares no types with the clients it
//! tests, so a misspelt field fails a test instead of hiding. Filled in by issue 5.
#![forbid(unsafe_code)]
