//! The `probe` request: is the server reachable, is the token still valid, which version.

use std::fmt::Debug;

use async_trait::async_trait;
use http::StatusCode;

use crate::rest::RestClient;

/// What a server check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeFacts {
    /// The server answered.
    pub reachable: bool,
    /// The token was accepted.
    pub token_valid: bool,
    /// The server's version, when it said.
    pub server_version: Option<String>,
}

/// Checks the server behind a channel.
#[async_trait]
pub trait ServerProbe: Send + Sync + Debug {
    /// Runs the check now.
    async fn check(&self) -> ProbeFacts;
}

/// Checks a Rocket.Chat server over REST: `GET /api/info` (reachable, version) and
/// `GET /api/v1/me` (token).
#[derive(Debug)]
pub struct RestProbe {
    client: RestClient,
}

impl RestProbe {
    /// A probe using an authenticated client.
    pub fn new(client: RestClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl ServerProbe for RestProbe {
    async fn check(&self) -> ProbeFacts {
        let info = self.client.get("/api/info").await;
        let reachable = info.is_ok();
        let server_version = info
            .ok()
            .and_then(|r| r.body.get("version")?.as_str().map(str::to_owned));
        let token_valid = match self.client.get("/api/v1/me").await {
            Ok(response) => response.status == StatusCode::OK,
            Err(e) => {
                tracing::warn!(error = %e, "probe: /api/v1/me failed");
                false
            }
        };
        ProbeFacts {
            reachable,
            token_valid,
            server_version,
        }
    }
}
