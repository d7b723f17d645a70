//! `send` to `@username`: the DM with that user, created if needed.
//!
//! The `Channel` trait has no "open a DM" call, so the bridge takes it as a hook: for
//! Rocket.Chat, `POST /api/v1/im.create` over the bridge's own REST client. Without a hook
//! the bridge asks the channel to resolve the room name `@username`.

use std::fmt::Debug;

use async_trait::async_trait;
use channel_api::{Error, Result, RoomId};
use http::StatusCode;
use serde_json::json;

use crate::rest::{RestClient, RestError};

/// Opens direct conversations by username.
#[async_trait]
pub trait DirectRooms: Send + Sync + Debug {
    /// The id of the DM with `username` (without `@`), created if it does not exist.
    async fn open(&self, username: &str) -> Result<RoomId>;
}

/// [`DirectRooms`] for Rocket.Chat: `im.create` with the bot's credentials.
#[derive(Debug)]
pub struct RestDirectRooms {
    client: RestClient,
}

impl RestDirectRooms {
    /// Uses an authenticated client.
    pub fn new(client: RestClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl DirectRooms for RestDirectRooms {
    async fn open(&self, username: &str) -> Result<RoomId> {
        let response = self
            .client
            .post("/api/v1/im.create", &json!({ "username": username }))
            .await
            .map_err(|e| match e {
                RestError::Timeout(_) => Error::Timeout {
                    operation: "im.create".into(),
                },
                other => Error::Disconnected {
                    reason: other.to_string(),
                },
            })?;
        let room = &response.body["room"];
        match response.status {
            StatusCode::OK => room["_id"]
                .as_str()
                .or_else(|| room["rid"].as_str())
                .map(RoomId::new)
                .ok_or_else(|| Error::Backend {
                    backend: "rocketchat",
                    message: "im.create returned no room id".into(),
                }),
            StatusCode::UNAUTHORIZED => Err(Error::Unauthorized {
                reason: "the token was rejected (im.create answered 401)".into(),
            }),
            StatusCode::TOO_MANY_REQUESTS => Err(Error::RateLimited { retry_after: None }),
            StatusCode::FORBIDDEN => Err(Error::PermissionDenied {
                what: format!("opening a DM with @{username}"),
            }),
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => Err(Error::NotFound {
                what: format!("user @{username}"),
            }),
            status => Err(Error::Backend {
                backend: "rocketchat",
                message: format!("im.create answered HTTP {status}"),
            }),
        }
    }
}
