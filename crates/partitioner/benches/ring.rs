//! Criterion benchmarks for the ring (filled in by the next commit).
fn main() {}
