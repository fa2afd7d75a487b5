//! Readers for the files Ceilometer operators already have: `ceilometer.conf`
//! (oslo.config INI rules) and `polling.yaml` / Kilo `pipeline.yaml`. Filled in by issue 2.
#![forbid(unsafe_code)]
