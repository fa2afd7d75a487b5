//! `ceilometer-central`: boots the agent; all logic lives in the library crates.
#![forbid(unsafe_code)]

fn main() {
    println!("ceilometer-central {}", env!("CARGO_PKG_VERSION"));
}
