//! `subscriptions.*`: get, getOne, read, unread.
//!
//! Source: `apps/meteor/app/api/server/v1/subscriptions.ts`, `server/lib/readMessages.ts`,
//! `server/methods/unreadMessages.ts`; tests `subscriptions.ts`.

use http::{Method, Response};
use serde_json::{json, Value};

use super::{failure, failure_text, invalid_params, success, Body, Ctx, Handler};
use crate::util::{parse_date_ms, read_ejson_date};
use crate::world::OpError;

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::GET, "subscriptions.get") => get,
        (&Method::GET, "subscriptions.getOne") => get_one,
        (&Method::POST, "subscriptions.read") => read,
        (&Method::POST, "subscriptions.unread") => unread,
        _ => return None,
    };
    Some(h)
}

fn get(ctx: &mut Ctx<'_>) -> Response<Body> {
    let since = match ctx.query("updatedSince").map(parse_date_ms) {
        Some(None) => {
            return failure(&OpError::meteor(
                "error-roomId-param-invalid",
                "The \"lastUpdate\" query parameter must be a valid date.",
            ))
        }
        Some(Some(ms)) => Some(ms),
        None => None,
    };
    let update: Vec<Value> = ctx
        .w()
        .subscriptions_of(ctx.uid())
        .into_iter()
        .filter(|s| match since {
            Some(since) => s.get("_updatedAt").and_then(read_ejson_date).unwrap_or(0) > since,
            None => true,
        })
        .collect();
    success(json!({"update": update, "remove": []}))
}

fn get_one(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(rid) = ctx.query("roomId").map(str::to_owned) else {
        return invalid_params("must have required property 'roomId'");
    };
    success(json!({"subscription": ctx.w().subscription_doc(&rid, ctx.uid())}))
}

/// `rid` or `roomId` (strings; both given must agree), then `readMessages`.
fn read(ctx: &mut Ctx<'_>) -> Response<Body> {
    let (rid, room_id) = (ctx.body("rid"), ctx.body("roomId"));
    if rid.is_some_and(|v| !v.is_string()) || room_id.is_some_and(|v| !v.is_string()) {
        return invalid_params("must be string");
    }
    let rid = match (rid.and_then(Value::as_str), room_id.and_then(Value::as_str)) {
        (Some(a), Some(b)) if a != b => {
            return invalid_params("must match exactly one schema in oneOf")
        }
        (Some(a), _) | (None, Some(a)) => a.to_owned(),
        (None, None) => return invalid_params("must have required property 'rid'"),
    };
    let uid = ctx.uid().to_owned();
    if ctx.world().mark_read(&rid, &uid) {
        success(json!({}))
    } else {
        failure_text("error-invalid-subscription")
    }
}

/// `unreadMessages`: from the room's last message (`roomId`) or from `firstUnreadMessage`.
fn unread(ctx: &mut Ctx<'_>) -> Response<Body> {
    let first = ctx
        .body("firstUnreadMessage")
        .and_then(|m| m.get("_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let room_id = ctx.body("roomId");
    if room_id.is_some_and(|v| !v.is_string()) {
        return invalid_params("must be string");
    }
    let room_id = room_id.and_then(Value::as_str).map(str::to_owned);
    let details = json!({"method": "unreadMessages", "action": "Unread_messages"});
    let (rid, ts) = match (first, room_id) {
        (Some(mid), _) => match ctx.w().message(&mid) {
            Some(m) => (
                m.get("rid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                m.get("ts").and_then(read_ejson_date).unwrap_or(0),
            ),
            None => {
                return failure(&OpError::meteor_with(
                    "error-action-not-allowed",
                    "Not allowed",
                    details,
                ))
            }
        },
        (None, Some(rid)) => {
            let last = ctx
                .w()
                .messages_of(&rid)
                .into_iter()
                .filter(crate::world::is_visible)
                .filter_map(|m| m.get("ts").and_then(read_ejson_date))
                .max();
            match last {
                Some(ts) => (rid, ts),
                None => {
                    return failure(&OpError::meteor_with(
                        "error-no-message-for-unread",
                        "There are no messages to mark unread",
                        details,
                    ))
                }
            }
        }
        (None, None) => return invalid_params("must have required property 'roomId'"),
    };
    let uid = ctx.uid().to_owned();
    ctx.world().mark_unread(&rid, &uid, ts);
    success(json!({}))
}
