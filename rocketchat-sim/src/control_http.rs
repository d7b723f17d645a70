//! The JSON control API: `POST /_sim/<control>` with a JSON body, loopback only, enabled by
//! `SimConfig::control_http` (the binary turns it on). Replies `{"ok":true,...}` or 400
//! `{"ok":false,"error":"..."}`. The controls mirror [`crate::SimHandle`]; see the crate docs.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::config::RateRule;
use crate::control::{PostOptions, SimHandle};
use crate::error::SimError;
use crate::faults::{MeteorError, RestFault};
use crate::server::Core;
use crate::world::{RoomKind, UserKind};

fn s<'a>(body: &'a Value, key: &str) -> Result<&'a str, SimError> {
    body.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| SimError::Rejected(format!("missing string field '{key}'")))
}

fn b(body: &Value, key: &str, default: bool) -> bool {
    body.get(key).and_then(Value::as_bool).unwrap_or(default)
}

fn strings<'a>(body: &'a Value, key: &str) -> Vec<&'a str> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn times(body: &Value) -> u32 {
    body.get("times")
        .and_then(Value::as_u64)
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(1)
}

fn meteor_error(body: &Value) -> Result<MeteorError, SimError> {
    body.get("error")
        .and_then(MeteorError::from_json)
        .ok_or_else(|| {
            SimError::Rejected("missing 'error': {error: 403 | \"name\", reason?, details?}".into())
        })
}

fn rest_fault(body: &Value) -> Result<RestFault, SimError> {
    if let Some(status) = body.get("status").and_then(Value::as_u64) {
        return u16::try_from(status)
            .map(RestFault::Status)
            .map_err(|_| SimError::Rejected("status out of range".into()));
    }
    if let Some(bytes) = body.get("hugeBody").and_then(Value::as_u64) {
        return usize::try_from(bytes)
            .map(RestFault::HugeBody)
            .map_err(|_| SimError::Rejected("hugeBody out of range".into()));
    }
    if let Some(ms) = body.get("stallMs").and_then(Value::as_u64) {
        return Ok(RestFault::Stall(Duration::from_millis(ms)));
    }
    if b(body, "drop", false) {
        return Ok(RestFault::Drop);
    }
    Err(SimError::Rejected(
        "a fault needs one of status, hugeBody, stallMs, drop".into(),
    ))
}

fn rule(body: &Value) -> Option<RateRule> {
    if b(body, "off", false) {
        return None;
    }
    Some(RateRule {
        limit: body.get("limit").and_then(Value::as_u64).unwrap_or(10) as u32,
        window: Duration::from_millis(
            body.get("windowMs")
                .and_then(Value::as_u64)
                .unwrap_or(60_000),
        ),
    })
}

/// The entry point the listener calls (see `server::ControlEntry`).
pub(crate) fn entry(
    core: Arc<Core>,
    name: String,
    body: Value,
) -> crate::server::BoxFuture<(StatusCode, Value)> {
    Box::pin(async move { handle(&core, &name, body).await })
}

/// Handles one control call.
pub(crate) async fn handle(core: &Arc<Core>, name: &str, body: Value) -> (StatusCode, Value) {
    let sim = SimHandle { core: core.clone() };
    match run(&sim, name, &body).await {
        Ok(Value::Object(mut o)) => {
            o.insert("ok".into(), json!(true));
            (StatusCode::OK, Value::Object(o))
        }
        Ok(_) => (StatusCode::OK, json!({"ok": true})),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            json!({"ok": false, "error": e.to_string()}),
        ),
    }
}

async fn run(sim: &SimHandle, name: &str, body: &Value) -> Result<Value, SimError> {
    match name {
        "info" => Ok(json!({"baseUrl": sim.base_url(), "wsUrl": sim.ws_url()})),
        "createUser" => {
            let username = s(body, "username")?;
            let kind = if b(body, "bot", false) {
                UserKind::Bot
            } else {
                UserKind::Human
            };
            let roles: Vec<String> = match body.get("roles").and_then(Value::as_array) {
                Some(r) => r
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                None if kind == UserKind::Bot => vec!["bot".into(), "user".into()],
                None => vec!["user".into()],
            };
            let name = body.get("name").and_then(Value::as_str).unwrap_or(username);
            let password = body
                .get("password")
                .and_then(Value::as_str)
                .unwrap_or(username);
            let id = sim.create_user_full(username, name, kind, roles, Some(password))?;
            Ok(json!({"userId": id}))
        }
        "userId" => {
            let username = s(body, "username")?;
            let id = sim
                .user_id(username)
                .ok_or_else(|| SimError::NotFound(format!("user {username}")))?;
            Ok(json!({"userId": id}))
        }
        "createPat" => {
            let name = body.get("name").and_then(Value::as_str).unwrap_or("sim");
            Ok(json!({"token": sim.create_pat(s(body, "userId")?, name)?}))
        }
        "removePat" => {
            sim.remove_pat(s(body, "userId")?, s(body, "name")?)?;
            Ok(json!({}))
        }
        "setActive" => {
            let uid = s(body, "userId")?;
            if b(body, "active", true) {
                sim.activate_user(uid)?;
            } else {
                sim.deactivate_user(uid)?;
            }
            Ok(json!({}))
        }
        "createRoom" => {
            let kind = match body.get("type").and_then(Value::as_str).unwrap_or("c") {
                "p" => RoomKind::Private,
                _ => RoomKind::Public,
            };
            let members: Vec<&str> = body
                .get("members")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let rid = sim.create_room(kind, s(body, "name")?, s(body, "creator")?, &members)?;
            Ok(json!({"roomId": rid}))
        }
        "createDm" => Ok(json!({"roomId": sim.create_dm(s(body, "a")?, s(body, "b")?)?})),
        "addMember" => {
            let added = sim.add_member(s(body, "roomId")?, s(body, "userId")?)?;
            Ok(json!({"added": added}))
        }
        "post" => {
            let opts = PostOptions {
                id: body.get("id").and_then(Value::as_str).map(str::to_owned),
                tmid: body.get("tmid").and_then(Value::as_str).map(str::to_owned),
                tshow: b(body, "tshow", false),
                extra: body
                    .get("extra")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_else(Map::new),
            };
            let mid = sim.post_with(
                s(body, "userId")?,
                s(body, "roomId")?,
                s(body, "text")?,
                opts,
            )?;
            Ok(json!({"messageId": mid}))
        }
        "react" => {
            let (uid, mid, emoji) = (s(body, "userId")?, s(body, "messageId")?, s(body, "emoji")?);
            if b(body, "add", true) {
                sim.react(uid, mid, emoji)?;
            } else {
                sim.unreact(uid, mid, emoji)?;
            }
            Ok(json!({}))
        }
        "edit" => {
            sim.edit(s(body, "userId")?, s(body, "messageId")?, s(body, "text")?)?;
            Ok(json!({}))
        }
        "delete" => {
            sim.delete(s(body, "userId")?, s(body, "messageId")?)?;
            Ok(json!({}))
        }
        "pin" => {
            sim.pin(s(body, "userId")?, s(body, "messageId")?)?;
            Ok(json!({}))
        }
        "removeMember" => {
            Ok(json!({"removed": sim.remove_member(s(body, "roomId")?, s(body, "userId")?)}))
        }
        "typing" => {
            sim.typing(s(body, "userId")?, s(body, "roomId")?, b(body, "on", true))?;
            Ok(json!({}))
        }
        "messages" => {
            let msgs: Vec<Value> = sim
                .messages(s(body, "roomId")?)
                .iter()
                .map(crate::util::to_rest)
                .collect();
            Ok(json!({"messages": msgs}))
        }
        "message" => Ok(
            json!({"message": sim.message(s(body, "messageId")?).map(|m| crate::util::to_rest(&m))}),
        ),
        "sessionCount" => Ok(json!({"count": sim.session_count(s(body, "userId")?)})),
        "dropSockets" => {
            let after = body.get("afterFrames").and_then(Value::as_u64).unwrap_or(0) as u32;
            sim.drop_sockets_after(s(body, "userId")?, after);
            Ok(json!({}))
        }
        "deaf" => {
            sim.set_deaf(s(body, "userId")?, b(body, "on", true));
            Ok(json!({}))
        }
        "latency" => {
            let ms = body.get("ms").and_then(Value::as_u64).unwrap_or(0);
            sim.set_latency(Duration::from_millis(ms));
            Ok(json!({}))
        }
        "inject429" => {
            sim.inject_429(body.get("count").and_then(Value::as_u64).unwrap_or(1) as u32);
            Ok(json!({}))
        }
        "restRateLimit" => {
            sim.set_rest_rate_limit(rule(body), b(body, "bots", false));
            Ok(json!({}))
        }
        "ddpRateLimit" => {
            sim.set_ddp_rate_limit(rule(body));
            Ok(json!({}))
        }
        "ddpTooManyRequests" => {
            sim.set_ddp_too_many_requests(b(body, "on", true));
            Ok(json!({}))
        }
        "dropNextSendResponse" => {
            sim.drop_next_send_response();
            Ok(json!({}))
        }
        "silentRevocation" => {
            sim.set_silent_revocation(b(body, "on", true));
            Ok(json!({}))
        }
        "twoFactor" => {
            sim.set_two_factor(b(body, "on", true));
            Ok(json!({}))
        }
        "firehose" => {
            let uid = s(body, "userId")?;
            let count = body.get("count").and_then(Value::as_u64).unwrap_or(100) as usize;
            let rids: Vec<String> = match body.get("roomIds").and_then(Value::as_array) {
                Some(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                None => vec!["GENERAL".to_owned()],
            };
            let report = sim.firehose(uid, &rids, count).await?;
            Ok(json!({"messageIds": report.message_ids}))
        }
        "setSetting" => {
            let value = body
                .get("value")
                .cloned()
                .ok_or_else(|| SimError::Rejected("missing field 'value'".into()))?;
            sim.set_setting(s(body, "id")?, value)?;
            Ok(json!({}))
        }
        "setting" => Ok(json!({"value": sim.setting(s(body, "id")?)})),
        "setPermission" => {
            sim.set_permission(s(body, "id")?, &strings(body, "roles"))?;
            Ok(json!({}))
        }
        "createAppUser" => {
            let username = s(body, "username")?;
            let name = body.get("name").and_then(Value::as_str).unwrap_or(username);
            Ok(json!({"userId": sim.create_app_user(username, name)?}))
        }
        "setStatus" => {
            let text = body.get("text").and_then(Value::as_str);
            sim.set_user_status(s(body, "userId")?, s(body, "status")?, text)?;
            Ok(json!({}))
        }
        "createWebhook" => {
            let name = body.get("name").and_then(Value::as_str).unwrap_or("sim");
            let hook =
                sim.create_incoming_webhook(name, s(body, "userId")?, s(body, "channel")?)?;
            Ok(json!({"id": hook.id, "token": hook.token, "path": hook.path}))
        }
        "postWebhook" => {
            let payload = body.get("body").cloned().unwrap_or_else(|| json!({}));
            Ok(json!({"messageIds": sim.post_webhook(s(body, "id")?, payload)?}))
        }
        "addEmoji" => {
            let extension = body
                .get("extension")
                .and_then(Value::as_str)
                .unwrap_or("png");
            let id =
                sim.add_custom_emoji(s(body, "name")?, &strings(body, "aliases"), extension)?;
            Ok(json!({"emojiId": id}))
        }
        "removeEmoji" => {
            sim.remove_custom_emoji(s(body, "emojiId")?)?;
            Ok(json!({}))
        }
        "createGroupDm" => {
            let rid = sim.create_group_dm(s(body, "creator")?, &strings(body, "members"))?;
            Ok(json!({"roomId": rid}))
        }
        "joinRoom" => Ok(json!({"joined": sim.join_room(s(body, "roomId")?, s(body, "userId")?)?})),
        "invite" => Ok(
            json!({"added": sim.invite(s(body, "roomId")?, s(body, "by")?, s(body, "userId")?)?}),
        ),
        "leaveRoom" => {
            sim.leave_room(s(body, "roomId")?, s(body, "userId")?)?;
            Ok(json!({}))
        }
        "kick" => {
            sim.kick(s(body, "roomId")?, s(body, "by")?, s(body, "userId")?)?;
            Ok(json!({}))
        }
        "renameRoom" => {
            sim.rename_room(s(body, "roomId")?, s(body, "by")?, s(body, "name")?)?;
            Ok(json!({}))
        }
        "setTopic" => {
            sim.set_topic(s(body, "roomId")?, s(body, "by")?, s(body, "topic")?)?;
            Ok(json!({}))
        }
        "setReadOnly" => {
            sim.set_read_only(s(body, "roomId")?, s(body, "by")?, b(body, "on", true))?;
            Ok(json!({}))
        }
        "setRoomRole" => {
            sim.set_room_role(
                s(body, "roomId")?,
                s(body, "userId")?,
                s(body, "role")?,
                b(body, "on", true),
                s(body, "by")?,
            )?;
            Ok(json!({}))
        }
        "setMuted" => {
            sim.set_muted(
                s(body, "roomId")?,
                s(body, "userId")?,
                b(body, "on", true),
                s(body, "by")?,
            )?;
            Ok(json!({}))
        }
        "deleteRoom" => {
            sim.delete_room(s(body, "roomId")?)?;
            Ok(json!({}))
        }
        "unpin" => {
            sim.unpin(s(body, "userId")?, s(body, "messageId")?)?;
            Ok(json!({}))
        }
        "star" => {
            sim.star(
                s(body, "userId")?,
                s(body, "messageId")?,
                b(body, "on", true),
            )?;
            Ok(json!({}))
        }
        "failEndpoint" => {
            sim.fail_endpoint(s(body, "prefix")?, rest_fault(body)?, times(body));
            Ok(json!({}))
        }
        "clearEndpointFaults" => {
            sim.clear_endpoint_faults();
            Ok(json!({}))
        }
        "failMethod" => {
            sim.fail_method(s(body, "method")?, meteor_error(body)?, times(body));
            Ok(json!({}))
        }
        "refuseSubscription" => {
            let prefix = body.get("keyPrefix").and_then(Value::as_str).unwrap_or("");
            sim.refuse_subscription(s(body, "stream")?, prefix, meteor_error(body)?);
            Ok(json!({}))
        }
        "clearSubscriptionRefusals" => {
            sim.clear_subscription_refusals();
            Ok(json!({}))
        }
        "revokeSubscriptions" => {
            let prefix = body.get("keyPrefix").and_then(Value::as_str).unwrap_or("");
            let n = sim.revoke_subscriptions(
                s(body, "userId")?,
                s(body, "stream")?,
                prefix,
                meteor_error(body)?,
            );
            Ok(json!({"revoked": n}))
        }
        "restart" => {
            // Restart after this response is written; the connection serving it is dropped.
            let sim = sim.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Err(e) = sim.restart().await {
                    tracing::error!("restart failed: {e}");
                }
            });
            Ok(json!({}))
        }
        other => Err(SimError::NotFound(format!("control '{other}'"))),
    }
}
