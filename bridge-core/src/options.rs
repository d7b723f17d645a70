//! [`BridgeOptions`]: the knobs a host sets for one bridge run.

use std::sync::Arc;
use std::time::Duration;

use crate::config::keys::BackendKeys;

/// Knobs of one bridge run.
#[derive(Debug, Clone)]
pub struct BridgeOptions {
    /// The conversation-id namespace (the channel's name in OpenClaw, e.g. `rocketchat`):
    /// the host names it, the core knows no backend.
    pub namespace: channel_api::Namespace,
    /// How long a shutdown waits for requests still running.
    pub drain_timeout: Duration,
    /// The longest one request may run; past it the bridge answers `timeout` and stops
    /// the request (a send with an idempotency key is then safe to retry).
    pub request_budget: Duration,
    /// The bridge's version, for `ready` (the host's crate version).
    pub version: String,
    /// A signal to stop as if the input had ended (the binary fires it on SIGTERM).
    pub stop: Option<Arc<tokio::sync::Notify>>,
    /// The backend's keys: a `reconfigure` is checked against them like the first line.
    pub backend: BackendKeys,
}

impl BridgeOptions {
    /// The defaults (a 10 s drain, no stop signal) for a channel under `namespace`.
    pub fn new(namespace: channel_api::Namespace) -> Self {
        Self {
            namespace,
            drain_timeout: Duration::from_secs(10),
            request_budget: Duration::from_secs(120),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            stop: None,
            backend: BackendKeys::any(),
        }
    }
}
