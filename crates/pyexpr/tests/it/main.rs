//! The integration tests of `pyexpr`, one module per former test file, in one binary:
//! one link and one copy of the test dependencies' code instead of 3.

mod fuzz;
mod parse_errors;
mod python_compat;
