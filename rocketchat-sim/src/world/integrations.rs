//! Incoming webhooks (`Integrations` of type `webhook-incoming`): who they post as, where,
//! and with which alias, avatar and emoji. The HTTP side is `rest/hooks.rs`.

use super::{OpError, World};
use crate::util::{random_id, random_secret};

/// One incoming webhook.
#[derive(Debug, Clone)]
pub(crate) struct Integration {
    pub(crate) id: String,
    /// The secret path part (`/hooks/<id>/<token>`).
    pub(crate) token: String,
    /// The user it posts as (`username` of the integration, resolved at creation).
    pub(crate) user_id: String,
    /// Default target: `#channel`, `@user` or a room id.
    pub(crate) channel: String,
    pub(crate) alias: Option<String>,
    pub(crate) avatar: Option<String>,
    pub(crate) emoji: Option<String>,
    /// `overrideDestinationChannelEnabled`: the payload may name another channel.
    pub(crate) override_destination: bool,
    pub(crate) enabled: bool,
}

impl World {
    /// Creates an enabled incoming webhook posting as `user_id` to `channel` (`name` is only
    /// logged).
    pub(crate) fn create_incoming_webhook(
        &mut self,
        name: &str,
        user_id: &str,
        channel: &str,
    ) -> Result<Integration, OpError> {
        if !self.users.contains_key(user_id) {
            return Err(OpError::meteor("error-invalid-user", "Invalid user"));
        }
        tracing::debug!(%name, "incoming webhook created");
        let hook = Integration {
            id: random_id(),
            token: random_secret(),
            user_id: user_id.to_owned(),
            channel: channel.to_owned(),
            alias: None,
            avatar: None,
            emoji: None,
            override_destination: false,
            enabled: true,
        };
        self.integrations.insert(hook.id.clone(), hook.clone());
        Ok(hook)
    }
}
