//! Running the bridge over Rocket.Chat: the backend's config from the configuration line,
//! the channel (connected in the background, see [`crate::deferred`]), the probe, and DMs
//! by username (`im.create`).

use std::sync::Arc;

use async_trait::async_trait;
use backend_rocketchat::{RocketChatChannel, RocketChatConfig};
use channel_api::{Error, Identity, UserId};

use crate::config::{AccountConfig, ConfigError};
use crate::deferred::{Backoff, DeferredChannel};
use crate::direct::RestDirectRooms;
use crate::probe::{ProbeFacts, ServerProbe};
use crate::rest::{RestClient, Token};
use crate::serve::Connected;

/// The backend's configuration: the connection keys of the line, validated. Errors name
/// the field.
pub fn rocketchat_config(config: &AccountConfig) -> Result<RocketChatConfig, ConfigError> {
    let object = serde_json::Value::Object(config.connection_object());
    RocketChatConfig::from_json(&object.to_string())
        .map_err(|e| ConfigError::new(e.field, e.problem))
}

/// Builds the Rocket.Chat channel for `serve`: validates the connection keys now (a bad
/// value is a `fatal` naming the field), then connects in the background.
pub async fn connect(
    config: AccountConfig,
) -> Result<Connected<DeferredChannel<RocketChatChannel>>, ConfigError> {
    let mut rc = rocketchat_config(&config)?;
    rc.resume = config.resume_point().cloned();
    let identity = Identity {
        account: config.account_id().clone(),
        user_id: UserId::new(rc.user_id.clone()),
        username: rc.username.clone(),
    };
    let backoff = Backoff {
        min: rc.timeouts.reconnect_min,
        max: rc.timeouts.reconnect_max,
    };
    let probe = Arc::new(RocketChatProbe { config: rc.clone() });
    let rest = RestClient::new(
        &rc.server_url,
        rc.dangerously_allow_insecure,
        rc.ca_file.as_deref(),
    )
    .map_err(|e| ConfigError::new("serverUrl", e.to_string()))?
    .with_auth(rc.user_id.clone(), Token::new(rc.auth_token.expose()));
    let direct = Arc::new(RestDirectRooms::new(rest));
    let account = config.account_id().clone();
    let channel = DeferredChannel::start(identity, backoff, move || {
        RocketChatChannel::connect(rc.clone(), account.clone())
    });
    Ok(Connected {
        channel,
        probe: Some(probe),
        direct: Some(direct),
    })
}

/// `probe` over the backend's REST check (`/api/info`, `/api/v1/me`).
#[derive(Debug)]
pub struct RocketChatProbe {
    config: RocketChatConfig,
}

#[async_trait]
impl ServerProbe for RocketChatProbe {
    async fn check(&self) -> ProbeFacts {
        match backend_rocketchat::probe(&self.config).await {
            Ok(report) => ProbeFacts {
                reachable: true,
                token_valid: report.identity_matches,
                server_version: Some(report.server_version),
            },
            Err(Error::Unauthorized { .. }) => ProbeFacts {
                reachable: true,
                token_valid: false,
                server_version: None,
            },
            Err(err) => {
                tracing::warn!(error = %err, "probe failed");
                ProbeFacts::default()
            }
        }
    }
}
