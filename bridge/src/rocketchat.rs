//! Running the bridge over Rocket.Chat: the backend's config from the configuration line,
//! and the channel, started at once (it connects, and retries the first connection, by
//! itself), or offline (REST only) for the one-shot tools.

use backend_rocketchat::{RocketChatChannel, RocketChatConfig};
use channel_api::Namespace;

use bridge_core::config::{AccountConfig, ConfigError};
use bridge_core::serve::Connected;

/// The conversation-id namespace of the Rocket.Chat channel in OpenClaw.
pub const NAMESPACE: &str = "rocketchat";

/// [`NAMESPACE`], checked.
pub fn namespace() -> Namespace {
    // A constant that is a valid namespace: checked by a unit test below.
    Namespace::new(NAMESPACE).unwrap_or_else(|_| unreachable!("NAMESPACE is valid"))
}

/// The keys of the configuration line the Rocket.Chat backend reads (its config's
/// schema), so the core refuses any other unknown key.
pub fn backend_keys() -> bridge_core::BackendKeys {
    bridge_core::BackendKeys::from_schema(RocketChatConfig::schema())
}

/// The backend's configuration: the connection keys of the line, validated. Errors name
/// the field.
pub fn rocketchat_config(config: &AccountConfig) -> Result<RocketChatConfig, ConfigError> {
    let object = serde_json::Value::Object(config.backend_object());
    RocketChatConfig::from_json(&object.to_string())
        .map_err(|e| ConfigError::new(e.field, e.problem))
}

/// Builds the Rocket.Chat channel for `serve`: validates the connection keys now (a bad
/// value is a `fatal` naming the field), then starts it; it connects in the background.
pub async fn connect(config: AccountConfig) -> Result<Connected<RocketChatChannel>, ConfigError> {
    let mut rc = rocketchat_config(&config)?;
    rc.resume = config.resume_point().cloned();
    let channel = RocketChatChannel::start(rc, config.account_id().clone())
        .map_err(|e| ConfigError::new(e.field, e.problem))?;
    Ok(Connected {
        channel,
        namespace: namespace(),
    })
}

/// The REST-only channel of the one-shot tools (`probe`, `resolve`, `directory`,
/// `doctor`): no socket, no events, no background task beyond the stop switch.
pub fn offline(config: &AccountConfig) -> Result<RocketChatChannel, ConfigError> {
    let rc = rocketchat_config(config)?;
    RocketChatChannel::offline(rc, config.account_id().clone())
        .map_err(|e| ConfigError::new(e.field, e.problem))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_namespace_is_valid() {
        assert!(channel_api::Namespace::new(super::NAMESPACE).is_ok());
    }
}
