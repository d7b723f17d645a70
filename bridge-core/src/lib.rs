//! The bridge between OpenClaw and a chat backend: the core of the process the OpenClaw
//! plugin starts (one per bot account). It depends on `channel-api` only: the binary crate
//! (`bridge`) wires a backend into it.
//!
//! [`serve::serve`] reads the account configuration as the first input line, runs a
//! [`channel_api::Channel`], applies `channel-api`'s policy to every inbound event, and
//! speaks newline-delimited JSON-RPC 2.0 on its byte streams (`docs/bridge-protocol.md`).
//! The core holds no policy, threading or target grammar of its own, and knows no backend:
//! the host passes the conversation-id namespace.
//!
//! # Layout
//! - [`server`]: [`run_bridge`], the JSON-RPC loop over any `Channel` and any byte streams
//!   (the reader, the event pump, the writer).
//! - `core`: the state the reader, the handlers and the route share (the channel, the
//!   settings in force, the connection state, the ledger); it reads no other part.
//! - `handlers`: the requests (`send`, `react`, `probe`, `setApprovedSenders`, ...).
//! - `semantics`: the single seam to `channel-api`'s policy, commands, threading, session
//!   ids and chunking.
//! - [`serve`]: the `serve` entry point: reads and validates the configuration line,
//!   builds the channel through the host's constructor, runs the loop.
//! - `route`: the one route of an inbound event: receive, decide, prepare (downloads,
//!   context), hand over in room order, acknowledged; `context`: what each conversation
//!   has seen.
//! - [`media`]: the download directory, attachment files, files for `sendFile`.
//! - [`config`]: the configuration line; [`keys`]: which keys it may carry (one schema
//!   of the bridge's, the policy's and the backend's keys; unknown keys are refused).
//! - [`protocol`]: the wire shapes (notifications, params, results).
//! - [`rpc`]: JSON-RPC framing and the error codes.
//! - [`lines`]: bounded line reading.
//! - [`ordering`]: per-room ordering of sends.
//! - [`stats`]: admitted / skipped / dropped counters.
//! - `resume`: the ledger of handled and pending messages, and the resume point it writes
//!   to the state file.

pub mod config;
mod context;
mod core;
mod handlers;

pub mod lines;
pub mod media;
mod options;
pub mod ordering;
pub mod protocol;
mod resume;
mod route;
pub mod rpc;
mod semantics;
pub mod serve;
pub mod server;
pub mod stats;

pub use config::keys::{self as keys, BackendKeys};
pub use config::{AccountConfig, ConfigError};
pub use server::{run_bridge, run_bridge_with, BridgeError, BridgeOptions};
