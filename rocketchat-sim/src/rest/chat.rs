//! `chat.*`: send, post, react, update, delete, pin, unpin, star, unstar, get, sync, and
//! the pinned / starred lists.
//!
//! Source: `apps/meteor/app/api/server/v1/chat.ts` (stored version 00daca25; the 8.2.0 tag
//! could not be pinned): `chat.sendMessage`, `chat.getMessage`, `chat.update`,
//! `chat.pinMessage` and `chat.unPinMessage` are typed routes (schema checked before
//! authentication, `errorType: "error-invalid-params"`); the others use `validateParams`
//! (after authentication, `"<message> [invalid-params]"`). Tests: `chat.ts`.

use http::{Method, Response};
use serde_json::{json, Value};

use super::{
    failure, failure_text, invalid_params, paginate, pagination, success, typed_invalid, Body, Ctx,
    Handler, Req,
};
use crate::util::{now_ms, parse_date_ms, utf16_len};
use crate::world::{is_system_type, OpError, SendInput, SendPath, WebhookDefaults};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::POST, "chat.sendMessage") => send_message,
        (&Method::POST, "chat.postMessage") => post_message,
        (&Method::POST, "chat.react") => react,
        (&Method::POST, "chat.update") => update,
        (&Method::POST, "chat.delete") => delete,
        (&Method::POST, "chat.pinMessage") => pin,
        (&Method::POST, "chat.unPinMessage") => unpin,
        (&Method::POST, "chat.starMessage") => star,
        (&Method::POST, "chat.unStarMessage") => unstar,
        (&Method::GET, "chat.getMessage") => get_message,
        (&Method::GET, "chat.syncMessages") => sync,
        (&Method::GET, "chat.getPinnedMessages") => pinned_list,
        (&Method::GET, "chat.getStarredMessages") => starred_list,
        _ => return None,
    };
    Some(h)
}

/// ajv's first message for a body that lacks `required` or has keys outside `allowed`.
fn typed_body(
    req: &Req,
    required: &[&str],
    allowed: &[&str],
    strings: &[&str],
) -> Option<Response<Body>> {
    let Some(body) = req.body.as_object() else {
        return Some(typed_invalid(&format!(
            "must have required property '{}'",
            required.first().copied().unwrap_or("body")
        )));
    };
    if let Some(missing) = required.iter().find(|k| !body.contains_key(**k)) {
        return Some(typed_invalid(&format!(
            "must have required property '{missing}'"
        )));
    }
    if !allowed.is_empty() {
        if let Some(extra) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
            tracing::debug!(key = %extra, route = %req.route, "additional property");
            return Some(typed_invalid("must NOT have additional properties"));
        }
    }
    if let Some(bad) = strings
        .iter()
        .find(|k| body.get(**k).is_some_and(|v| !v.is_string()))
    {
        tracing::debug!(key = %bad, "not a string");
        return Some(typed_invalid("must be string"));
    }
    None
}

/// Schema checks of typed routes, before authentication (`router.ts`).
pub(super) fn schema_check(req: &Req) -> Option<Response<Body>> {
    match (&req.method, req.route.as_str()) {
        (&Method::POST, "chat.sendMessage") => {
            typed_body(req, &["message"], &["message", "previewUrls"], &[])
        }
        (&Method::GET, "chat.getMessage") if super::query(req, "msgId").is_none() => {
            Some(typed_invalid("must have required property 'msgId'"))
        }
        (&Method::POST, "chat.pinMessage") | (&Method::POST, "chat.unPinMessage") => {
            typed_body(req, &["messageId"], &["messageId"], &["messageId"]).or_else(|| {
                (req.body.get("messageId").and_then(Value::as_str) == Some(""))
                    .then(|| typed_invalid("must NOT have fewer than 1 characters"))
            })
        }
        (&Method::POST, "chat.update") => typed_body(
            req,
            &["roomId", "msgId", "text"],
            &[
                "roomId",
                "msgId",
                "text",
                "previewUrls",
                "customFields",
                "content",
                "e2eMentions",
            ],
            &["roomId", "msgId", "text"],
        )
        .or_else(|| {
            // [derived] an empty text is refused (the test expects a 400).
            (req.body.get("text").and_then(Value::as_str) == Some(""))
                .then(|| typed_invalid("must NOT have fewer than 1 characters"))
        }),
        _ => None,
    }
}

fn string_list(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    })
}

/// `chat.sendMessage` -> `executeSendMessage`.
fn send_message(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(message) = ctx.body("message").and_then(Value::as_object).cloned() else {
        return typed_invalid("must be object");
    };
    let Some(rid) = message
        .get("rid")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return failure_text("The 'rid' property on the message object is missing.");
    };
    if message
        .get("t")
        .and_then(Value::as_str)
        .is_some_and(is_system_type)
    {
        return failure_text("Cannot send system messages using 'chat.sendMessage'");
    }
    let mut extra = message.clone();
    for k in [
        "_id",
        "rid",
        "msg",
        "tmid",
        "tshow",
        "ts",
        "u",
        "_updatedAt",
    ] {
        extra.remove(k);
    }
    let input = SendInput {
        id: message
            .get("_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        rid,
        msg: message
            .get("msg")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        tmid: message
            .get("tmid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tshow: message.get("tshow").and_then(Value::as_bool),
        ts: None,
        extra,
        preview_urls: string_list(ctx.body("previewUrls")),
    };
    let uid = ctx.uid().to_owned();
    match ctx.world().send(&uid, input, SendPath::Execute) {
        Ok(Some(doc)) => success(json!({"message": doc})),
        // sendMessage() returned undefined for an existing _id; normalizeMessagesForUser then
        // throws a TypeError (reference 4.3, [derived]). Nothing was inserted.
        Ok(None) => failure_text(&ctx.shared.config.duplicate_send_error),
        Err(e) => failure(&e),
    }
}

/// `chat.postMessage`: the size checks, then `processWebhookMessage`; the first message
/// is returned with `ts` (epoch ms) and the `channel` as given.
fn post_message(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(body) = ctx.req.body.as_object().cloned() else {
        return invalid_params("must be object");
    };
    let max = ctx.w().settings.max_message_size();
    let too_long = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .is_some_and(|t| utf16_len(t) > max)
    };
    if too_long(body.get("text")) {
        return failure_text("error-message-size-exceeded");
    }
    if body
        .get("attachments")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| too_long(x.get("text"))))
    {
        return failure_text("error-message-size-exceeded");
    }
    if body
        .get("attachments")
        .is_some_and(|a| !a.is_array() && !a.is_null())
    {
        return invalid_params("must be array");
    }
    let uid = ctx.uid().to_owned();
    match ctx
        .world()
        .post_webhook_message(&uid, &body, &WebhookDefaults::default())
    {
        Ok(sent) => match sent.into_iter().next() {
            Some((channel, message)) => {
                success(json!({"ts": now_ms(), "channel": channel, "message": message}))
            }
            None => failure_text("unknown-error"),
        },
        Err(e) => failure(&e),
    }
}

fn message_not_found() -> OpError {
    OpError::meteor(
        "error-message-not-found",
        "The provided \"messageId\" does not match any existing message.",
    )
}

fn react(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(mid) = ctx.body_str("messageId").map(str::to_owned) else {
        return invalid_params("must have required property 'messageId'");
    };
    // chat.ts looks the message up itself before executeSetReaction.
    if ctx.w().message(&mid).is_none() {
        return failure(&message_not_found());
    }
    let Some(emoji) = ctx
        .body_str("emoji")
        .or_else(|| ctx.body_str("reaction"))
        .map(str::to_owned)
    else {
        return failure(&OpError::meteor(
            "error-emoji-param-not-provided",
            "The required \"emoji\" param is missing.",
        ));
    };
    let should = ctx.body("shouldReact").and_then(Value::as_bool);
    let uid = ctx.uid().to_owned();
    match ctx.world().react(&uid, &mid, &emoji, should) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

/// `chat.update` -> `executeUpdateMessage` (only `msg` and `customFields` change here).
fn update(ctx: &mut Ctx<'_>) -> Response<Body> {
    let (Some(rid), Some(mid), Some(text)) = (
        ctx.body_str("roomId").map(str::to_owned),
        ctx.body_str("msgId").map(str::to_owned),
        ctx.body_str("text").map(str::to_owned),
    ) else {
        return typed_invalid("must have required property 'text'");
    };
    let custom = ctx.body("customFields").cloned();
    let uid = ctx.uid().to_owned();
    match ctx.world().edit(&uid, &rid, &mid, &text, custom) {
        Ok(doc) => success(json!({"message": doc})),
        Err(e) => failure(&e),
    }
}

/// `chat.delete`: `asUser` deletes as the author, which needs `force-delete-message` for a
/// message of someone else.
fn delete(ctx: &mut Ctx<'_>) -> Response<Body> {
    for key in ["msgId", "roomId"] {
        if ctx.body_str(key).is_none() {
            return invalid_params(&format!("must have required property '{key}'"));
        }
    }
    let mid = ctx.body_str("msgId").unwrap_or_default().to_owned();
    let rid = ctx.body_str("roomId").unwrap_or_default().to_owned();
    let as_user = ctx.body("asUser").and_then(Value::as_bool) == Some(true);
    let Some(msg) = ctx.w().message(&mid).cloned() else {
        return failure_text(&format!("No message found with the id of \"{mid}\"."));
    };
    if msg.get("rid").and_then(Value::as_str) != Some(rid.as_str()) {
        return failure_text("The room id provided does not match where the message is from.");
    }
    let author = msg
        .get("u")
        .and_then(|u| u.get("_id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if as_user && author != ctx.uid() && !ctx.can("force-delete-message", Some(&rid)) {
        return failure_text(
            "Unauthorized. You must have the permission \"force-delete-message\" to delete other's message as them.",
        );
    }
    let deleter = if as_user {
        author
    } else {
        ctx.uid().to_owned()
    };
    match ctx.world().delete(&deleter, &rid, &mid) {
        // chat.delete returns ts as a string of epoch ms (Date.now().toString()).
        Ok(summary) => success(json!({"_id": mid, "ts": now_ms().to_string(), "message": summary})),
        Err(e) => failure(&e),
    }
}

fn pin(ctx: &mut Ctx<'_>) -> Response<Body> {
    let mid = ctx.body_str("messageId").unwrap_or_default().to_owned();
    if ctx.w().message(&mid).is_none() {
        return failure(&message_not_found());
    }
    let uid = ctx.uid().to_owned();
    match ctx.world().pin(&uid, &mid) {
        Ok(message) => success(json!({"message": message})),
        Err(e) => failure(&e),
    }
}

fn unpin(ctx: &mut Ctx<'_>) -> Response<Body> {
    let mid = ctx.body_str("messageId").unwrap_or_default().to_owned();
    if ctx.w().message(&mid).is_none() {
        return failure(&message_not_found());
    }
    let uid = ctx.uid().to_owned();
    match ctx.world().unpin(&uid, &mid) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn star_common(ctx: &mut Ctx<'_>, on: bool) -> Response<Body> {
    let Some(mid) = ctx.body_str("messageId").map(str::to_owned) else {
        return invalid_params("must have required property 'messageId'");
    };
    if ctx.w().message(&mid).is_none() {
        return failure(&message_not_found());
    }
    let uid = ctx.uid().to_owned();
    match ctx.world().star(&uid, &mid, on) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn star(ctx: &mut Ctx<'_>) -> Response<Body> {
    star_common(ctx, true)
}

fn unstar(ctx: &mut Ctx<'_>) -> Response<Body> {
    star_common(ctx, false)
}

fn get_message(ctx: &mut Ctx<'_>) -> Response<Body> {
    let mid = ctx.query("msgId").unwrap_or_default().to_owned();
    let Some(msg) = ctx.w().message(&mid).cloned() else {
        // `API.v1.failure()` without an argument.
        return super::json_response(http::StatusCode::BAD_REQUEST, &json!({"success": false}));
    };
    let rid = msg.get("rid").and_then(Value::as_str).unwrap_or_default();
    if !ctx.w().can_access(rid, ctx.uid()) {
        return failure(&OpError::meteor("error-not-allowed", "Not allowed"));
    }
    success(json!({"message": msg}))
}

/// Messages of a room matching `keep`, newest first, paginated:
/// `{messages, count, offset, total}`.
fn room_list(ctx: &Ctx<'_>, rid: &str, keep: impl Fn(&Value) -> bool) -> Response<Body> {
    let mut docs: Vec<Value> = ctx
        .w()
        .messages_of(rid)
        .into_iter()
        .filter(crate::world::is_visible)
        .filter(|m| keep(m))
        .collect();
    docs.sort_by_key(|m| {
        std::cmp::Reverse(
            m.get("ts")
                .and_then(crate::util::read_ejson_date)
                .unwrap_or(0),
        )
    });
    let (offset, count) = pagination(ctx);
    let (messages, total) = paginate(docs, offset, count);
    let n = messages.len();
    success(json!({"messages": messages, "count": n, "offset": offset, "total": total}))
}

/// `chat.getPinnedMessages`.
fn pinned_list(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(rid) = ctx.query("roomId").map(str::to_owned) else {
        return invalid_params("must have required property 'roomId'");
    };
    if !ctx.w().can_access(&rid, ctx.uid()) {
        return failure(&OpError::meteor("error-not-allowed", "Not allowed"));
    }
    room_list(ctx, &rid, |m| {
        m.get("pinned").and_then(Value::as_bool) == Some(true)
    })
}

/// `chat.getStarredMessages`: the caller's starred messages of a room.
fn starred_list(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(rid) = ctx.query("roomId").map(str::to_owned) else {
        return invalid_params("must have required property 'roomId'");
    };
    if !ctx.w().can_access(&rid, ctx.uid()) {
        return failure_text("error-not-allowed");
    }
    let me = json!({"_id": ctx.uid()});
    room_list(ctx, &rid, |m| {
        m.get("starred")
            .and_then(Value::as_array)
            .is_some_and(|s| s.contains(&me))
    })
}

/// `chat.syncMessages` (8.x chat.ts + `messages/get` `getMessageHistory`): `validateParams`
/// (`roomId` required, `type` one of `UPDATED` / `DELETED`), then thrown `Meteor.Error`s
/// (bodies carry `errorType`). With `lastUpdate` (`handleWithoutPagination`): `_updatedAt >
/// lastUpdate` sorted `ts: -1`, plus trash `{_id, _deletedAt}`. With `type` +
/// `next`/`previous` (+ `count`, default 20): one cursor page.
fn sync(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(rid) = ctx.query("roomId").map(str::to_owned) else {
        return invalid_params("must have required property 'roomId'");
    };
    let kind = ctx.query("type").map(str::to_owned);
    if kind
        .as_deref()
        .is_some_and(|t| t != "UPDATED" && t != "DELETED")
    {
        return invalid_params("must be equal to one of the allowed values");
    }
    let last = ctx.query("lastUpdate");
    let (next, previous) = (ctx.query("next"), ctx.query("previous"));
    if last.is_none() && kind.is_none() {
        return failure(&OpError::meteor(
            "error-param-required",
            "The \"type\" or \"lastUpdate\" parameters must be provided",
        ));
    }
    let since = match last.map(parse_date_ms) {
        Some(None) => {
            return failure(&OpError::meteor(
                "error-lastUpdate-param-invalid",
                "The \"lastUpdate\" query parameter must be a valid date",
            ))
        }
        Some(Some(ms)) => Some(ms),
        None => None,
    };
    if !ctx.w().can_access(&rid, ctx.uid()) {
        return failure(&OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            json!({"method": "messages/get"}),
        ));
    }
    if (next.is_some() || previous.is_some()) && kind.is_none() {
        return failure(&OpError::meteor(
            "error-param-required",
            "The \"type\" or \"lastUpdate\" parameters must be provided",
        ));
    }
    if next.is_some() && previous.is_some() {
        return failure(&OpError::meteor(
            "error-cursor-conflict",
            "You cannot provide both \"next\" and \"previous\" parameters",
        ));
    }
    if (next.is_some() || previous.is_some()) && since.is_some() {
        return failure(&OpError::meteor(
            "error-cursor-and-lastUpdate-conflict",
            "The attributes \"next\", \"previous\" and \"lastUpdate\" cannot be used together",
        ));
    }
    if let Some(since) = since {
        let (updated, deleted) = ctx.w().sync(&rid, since);
        return success(json!({"result": {"updated": updated, "deleted": deleted}}));
    }
    if next.is_none() && previous.is_none() {
        return success(json!({"result": {"updated": [], "deleted": []}}));
    }
    // extractTimestampFromCursor throws a plain Error on a bad cursor.
    let parse = |c: Option<&str>| c.map(|c| c.parse::<i64>().ok());
    let (next, previous) = match (parse(next), parse(previous)) {
        (Some(None), _) | (_, Some(None)) => return failure_text("Invalid Date"),
        (n, p) => (n.flatten(), p.flatten()),
    };
    // `...(count && { count })`: a missing or zero count means the default 20.
    let count = ctx
        .query("count")
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|c| *c > 0)
        .unwrap_or(20);
    let deleted = kind.as_deref() == Some("DELETED");
    let (page, next_cursor, previous_cursor) =
        ctx.w().sync_cursor(&rid, deleted, count, next, previous);
    let (updated, deleted) = if deleted {
        (vec![], page)
    } else {
        (page, vec![])
    };
    success(json!({"result": {"updated": updated, "deleted": deleted,
        "cursor": {"next": next_cursor, "previous": previous_cursor}}}))
}
