//! Incoming webhooks: `POST /hooks/:integrationId/:token`.
//!
//! Source: `apps/meteor/app/integrations/server/api/api.ts` (`executeIntegrationRest`): an
//! empty body succeeds without a message; naming a channel needs
//! `overrideDestinationChannelEnabled`; the body gets `bot: {i: <integration id>}` and goes to
//! `processWebhookMessage` as the integration's user with its alias / avatar / emoji /
//! channel as defaults. Errors are `API.v1.failure(error || message)`.

use std::sync::Arc;

use http::Response;
use serde_json::{json, Map, Value};

use super::{failure_text, json_response, success, Body};
use crate::hub::Shared;
use crate::world::{OpError, WebhookDefaults};

/// Handles one webhook call; `rest_of_path` is `<id>/<token>`.
pub(crate) fn incoming(shared: &Arc<Shared>, rest_of_path: &str, body: Value) -> Response<Body> {
    let (id, token) = rest_of_path
        .trim_end_matches('/')
        .split_once('/')
        .unwrap_or((rest_of_path, ""));
    shared.with(|st| {
        let Some(hook) = st
            .world
            .integrations
            .get(id)
            .filter(|h| h.enabled && h.token == token)
            .cloned()
        else {
            return json_response(
                http::StatusCode::NOT_FOUND,
                &json!({"success": false, "error": "Invalid integration id or token provided."}),
            );
        };
        let mut body: Map<String, Value> = match body {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        if body.is_empty() {
            return success(json!({}));
        }
        if (body.contains_key("channel") || body.contains_key("roomId"))
            && !hook.override_destination
        {
            return failure_text("overriding destination channel is disabled for this integration");
        }
        body.insert("bot".into(), json!({"i": hook.id}));
        let defaults = WebhookDefaults {
            channel: hook.channel.clone(),
            alias: hook.alias.clone().unwrap_or_default(),
            avatar: hook.avatar.clone().unwrap_or_default(),
            emoji: hook.emoji.clone().unwrap_or_default(),
        };
        match st
            .world
            .post_webhook_message(&hook.user_id, &body, &defaults)
        {
            Ok(_) => success(json!({})),
            Err(OpError::Meteor { code, .. }) => failure_text(&code),
            Err(OpError::Plain(text)) => failure_text(&text),
        }
    })
}
