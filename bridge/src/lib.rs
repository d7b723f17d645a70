//! The `bridge` command: the Rocket.Chat backend wired into the bridge core
//! (`bridge-core`), and the tools people use. It holds no policy and no JSON-RPC code of
//! its own: `serve` is `bridge_core::serve` over a [`backend_rocketchat::RocketChatChannel`].
//!
//! # Layout
//! - [`rocketchat`]: the Rocket.Chat channel for `serve` (it owns its connection: the
//!   first one is retried by the backend itself) and the channel's namespace.
//! - [`oneshot`]: `bridge probe`, `bridge resolve`, `bridge directory`: one JSON line
//!   each, REST only, for the plugin's CLI-side adapters.
//! - [`doctor`]: `bridge doctor`, checks a configuration against a server.
//! - [`openclaw`]: OpenClaw's `openclaw.json` (JSON5) as `doctor --openclaw-config` reads
//!   it: accounts merged as the plugin merges them, secret references resolved.
//! - [`diagnose`]: why a server was not reached (plain HTTP behind `https://`, an
//!   untrusted certificate), found out by behaviour.
//! - [`schema`]: `bridge schema`, the plugin manifest's channel schema from the Rust types.
//! - [`sim`]: `bridge sim`, the simulator with a demo seed.
//! - [`demo`]: `bridge demo`, the simulator, a scripted human and an echo agent.

pub mod demo;
pub mod diagnose;
pub mod doctor;
pub mod oneshot;
pub mod openclaw;
pub mod rocketchat;
pub mod schema;
pub mod sim;
