//! The `bridge` command line.
fn main() {}
