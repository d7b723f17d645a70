//! The `bridge` binary as a child process, for the tests that run it for real.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

pub mod serve;
