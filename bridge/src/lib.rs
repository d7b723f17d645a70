//! The bridge between OpenClaw and a chat backend: the process the OpenClaw plugin starts
//! (one per bot account) and the command line people use.
//!
//! `bridge serve` reads the account configuration as the first stdin line, runs a
//! [`channel_api::Channel`], applies `channel-api`'s policy to every inbound event, and
//! speaks newline-delimited JSON-RPC 2.0 on stdin/stdout (`docs/bridge-protocol.md`).
//! The bridge holds no policy of its own.
//!
//! # Layout
//! - [`server`]: [`run_bridge`], the JSON-RPC loop over any `Channel` and any byte streams
//!   (the reader, the event pump, the writer).
//! - `handlers`: the requests (`send`, `react`, `probe`, `setApprovedSenders`, ...).
//! - `semantics`: the single seam to `channel-api`'s policy, commands, threading, session
//!   ids and chunking.
//! - [`serve`]: the `serve` entry point: reads and validates the configuration line,
//!   builds the channel, runs the loop.
//! - [`rocketchat`]: the Rocket.Chat channel for `serve` (it owns its connection: the
//!   first one is retried by the backend itself).
//! - `inbound`: from an admitted message to its notification (downloads, context,
//!   per-room order); `context`: what each conversation has seen.
//! - [`media`]: the download directory, attachment files, files for `sendFile`.
//! - [`config`]: the configuration line.
//! - [`protocol`]: the wire shapes (notifications, params, results).
//! - [`rpc`]: JSON-RPC framing and the error codes.
//! - [`lines`]: bounded line reading.
//! - [`ordering`]: per-room ordering of sends.
//! - [`stats`]: admitted / skipped / dropped counters.
//! - [`rest`]: a small REST client for `doctor`.
//! - [`doctor`]: `bridge doctor`, checks a configuration against a server.
//! - [`sim`]: `bridge sim`, the simulator with a demo seed.
//! - [`demo`]: `bridge demo`, the simulator, a scripted human and an echo agent.

pub mod config;
mod context;
pub mod demo;
pub mod doctor;
mod handlers;
mod inbound;
pub mod lines;
pub mod media;
pub mod ordering;
pub mod protocol;
pub mod rest;
mod resume;
pub mod rocketchat;
pub mod rpc;
mod semantics;
pub mod serve;
pub mod server;
pub mod sim;
pub mod stats;

pub use config::{AccountConfig, ConfigError};
pub use server::{run_bridge, run_bridge_with, BridgeError, BridgeOptions};
