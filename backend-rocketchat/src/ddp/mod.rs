//! The Realtime API: DDP over a fastwebsockets client, TLS by rustls.
//!
//! - [`frame`]: DDP frames out and in (parsed leniently; malformed ones are a logged drop).
//! - [`route`]: what a parsed frame asks of the session, without IO (the fuzz entry
//!   points run it too).
//! - [`socket`]: TCP + TLS + WebSocket upgrade, split into read and write halves.
//! - [`session`]: the per-account task: login, subscriptions, catch-up, heartbeat,
//!   reconnect with backoff, and the connection state machine.
//! - [`catch_up`]: the fetching half of a catch-up: rooms read a few at a time, each in
//!   pages from its own mark, with tries; the session maps what arrives.

pub(crate) mod catch_up;
pub(crate) mod frame;
pub(crate) mod route;
pub(crate) mod session;
pub(crate) mod socket;
