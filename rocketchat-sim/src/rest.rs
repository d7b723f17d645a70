//! REST `/api/v1` and `/api/info` (reference section 4), with Rocket.Chat's envelopes:
//! `success:true` merged into bodies, `{"success":false,"error":"Reason [code]","errorType":code}`
//! for `Meteor.Error`s, plain `{"success":false,"error":text}` otherwise, the legacy 401 body,
//! 429 with `X-RateLimit-*` (Reset in absolute epoch ms), and ISO dates.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Map, Value};

use crate::history::{self, HistoryEndpoint::*};
use crate::hub::{Shared, State};
use crate::util::{now_ms, parse_date_ms, sha256_hex, to_rest};
use crate::world::{OpError, RoomKind, SendInput, User, UserKind};

/// The body type every simulator response uses.
pub(crate) type Body = Full<Bytes>;

/// A parsed REST request. `Debug` shows only method and route (headers carry tokens).
pub(crate) struct Req {
    pub(crate) method: Method,
    /// Path after `/api/v1/` (e.g. `chat.sendMessage`).
    pub(crate) route: String,
    pub(crate) query: HashMap<String, String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
    pub(crate) peer: SocketAddr,
}

impl std::fmt::Debug for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Req")
            .field("method", &self.method)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

/// What the router decided: a response, or drop the connection without one.
#[derive(Debug)]
pub(crate) enum Reply {
    Respond(Response<Body>),
    DropConnection,
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    h.insert(
        http::header::PRAGMA,
        http::HeaderValue::from_static("no-cache"),
    );
    resp
}

/// `API.v1.success(result)`: the result with `success:true` merged in, dates as ISO strings.
pub(crate) fn success(result: Value) -> Response<Body> {
    let mut body = match to_rest(&result) {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    body.insert("success".into(), json!(true));
    json_response(StatusCode::OK, &Value::Object(body))
}

/// `API.v1.failure(...)` for a thrown error.
pub(crate) fn failure(err: &OpError) -> Response<Body> {
    let body = match err {
        OpError::Meteor {
            code,
            reason,
            details,
        } => {
            let mut b =
                json!({"success": false, "error": format!("{reason} [{code}]"), "errorType": code});
            if let (Some(d), Some(o)) = (details, b.as_object_mut()) {
                o.insert("details".into(), d.clone());
            }
            b
        }
        OpError::Plain(text) => json!({"success": false, "error": text}),
    };
    json_response(StatusCode::BAD_REQUEST, &body)
}

pub(crate) fn failure_text(text: &str) -> Response<Body> {
    failure(&OpError::plain(text))
}

/// The 401 body: legacy (`applyBreakingChanges` off in 8.x) or the 9.0 shape.
pub(crate) fn unauthorized(legacy: bool) -> Response<Body> {
    let body = if legacy {
        json!({"success": false, "error": "You must be logged in to do this.",
            "status": "error", "message": "You must be logged in to do this."})
    } else {
        json!({"success": false, "error": "You must be logged in to do this."})
    };
    json_response(StatusCode::UNAUTHORIZED, &body)
}

pub(crate) fn forbidden() -> Response<Body> {
    json_response(
        StatusCode::FORBIDDEN,
        &json!({"success": false,
            "error": "User does not have the permissions required for this action [error-unauthorized]"}),
    )
}

fn not_found() -> Response<Body> {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"success": false, "error": "Resource not found"}),
    )
}

/// A typed-route schema failure (validated before authentication).
fn invalid_params(msg: &str) -> Response<Body> {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"success": false, "errorType": "error-invalid-params", "error": msg}),
    )
}

/// Too many requests: 429 with the limiter headers.
fn too_many(limit: u32, reset_in: Duration) -> Response<Body> {
    let secs = reset_in.as_secs().max(1);
    let mut resp = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"success": false, "error": format!(
            "Error, too many requests. Please slow down. You must wait {secs} seconds before trying this endpoint again. [error-too-many-requests]")}),
    );
    add_rate_headers(&mut resp, limit, 0, reset_in);
    resp
}

fn add_rate_headers(resp: &mut Response<Body>, limit: u32, remaining: u32, reset_in: Duration) {
    let reset = now_ms() + reset_in.as_millis() as i64;
    let h = resp.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

fn header<'a>(req: &'a Req, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn client_ip(req: &Req) -> String {
    // HTTP_FORWARDED_COUNT=1: trust one proxy, so the client is the last X-Forwarded-For entry.
    header(req, "x-forwarded-for")
        .and_then(|v| v.rsplit(',').next())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| req.peer.ip().to_string())
}

fn body_str<'a>(req: &'a Req, key: &str) -> Option<&'a str> {
    req.body.get(key).and_then(Value::as_str)
}

pub(crate) fn query<'a>(req: &'a Req, key: &str) -> Option<&'a str> {
    req.query
        .get(key)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// Entry point for `/api/v1/*`.
pub(crate) async fn handle_v1(shared: &Arc<Shared>, req: Req) -> Reply {
    let latency = shared.lock().faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // Typed routes validate their schema before authentication.
    if let Some(resp) = schema_check(&req) {
        return Reply::Respond(resp);
    }
    let mut st = shared.lock();
    let user = match (header(&req, "x-user-id"), header(&req, "x-auth-token")) {
        (Some(uid), Some(token)) => st.world.authenticate(uid, token).cloned(),
        _ => None,
    };
    let limit_headers = match rate_limit(&mut st, &req, user.as_ref()) {
        Ok(h) => h,
        Err(resp) => return Reply::Respond(resp),
    };
    let public = matches!(req.route.as_str(), "login");
    let mut resp = match (&user, public) {
        (None, false) => unauthorized(shared.config.legacy_auth_bodies),
        _ => {
            if req.route == "chat.sendMessage" && st.faults.drop_next_send_response {
                if let Some(u) = &user {
                    let resp = route(shared, &mut st, &req, u);
                    if resp.status() == StatusCode::OK {
                        st.faults.drop_next_send_response = false;
                        st.flush();
                        return Reply::DropConnection;
                    }
                    st.flush();
                    return Reply::Respond(resp);
                }
            }
            match &user {
                Some(u) => route(shared, &mut st, &req, u),
                None => login(&mut st, &req),
            }
        }
    };
    st.flush();
    if let Some((limit, remaining, reset_in)) = limit_headers {
        add_rate_headers(&mut resp, limit, remaining, reset_in);
    }
    Reply::Respond(resp)
}

/// Schema checks of typed routes, before authentication (`router.ts`).
fn schema_check(req: &Req) -> Option<Response<Body>> {
    match (req.method.clone(), req.route.as_str()) {
        (Method::POST, "chat.sendMessage") => {
            let body = req.body.as_object();
            if body.is_none_or(|b| !b.contains_key("message")) {
                return Some(invalid_params("must have required property 'message'"));
            }
            if let Some(extra) =
                body.and_then(|b| b.keys().find(|k| *k != "message" && *k != "previewUrls"))
            {
                tracing::debug!(key = %extra, "chat.sendMessage additional property");
                return Some(invalid_params("must NOT have additional properties"));
            }
            None
        }
        (Method::GET, "chat.getMessage") if query(req, "msgId").is_none() => {
            Some(invalid_params("must have required property 'msgId'"))
        }
        _ => None,
    }
}

// The Err is a ready response, built at most once per request; boxing buys nothing here.
#[allow(clippy::result_large_err)]
/// The REST limiter; `Err` is the 429, `Ok(Some(..))` the headers for a checked call.
fn rate_limit(
    st: &mut State,
    req: &Req,
    user: Option<&User>,
) -> Result<Option<(u32, u32, Duration)>, Response<Body>> {
    if st.faults.inject_429 > 0 {
        st.faults.inject_429 -= 1;
        let rule = st
            .faults
            .rest_rate_limit
            .unwrap_or(crate::config::RateRule {
                limit: 10,
                window: Duration::from_secs(60),
            });
        return Err(too_many(rule.limit, rule.window));
    }
    let Some(rule) = st.faults.rest_rate_limit else {
        return Ok(None);
    };
    let bypass =
        user.is_some_and(|u| u.has_role("bot") || u.has_role("admin") || u.has_role("app"));
    if bypass && !st.faults.rest_rate_limit_bots {
        return Ok(None);
    }
    let key = (req.route.clone(), req.method.to_string(), client_ip(req));
    let now = Instant::now();
    let calls = st.rest_calls.entry(key).or_default();
    calls.retain(|t| now.duration_since(*t) < rule.window);
    let reset_in = calls
        .first()
        .map(|t| rule.window.saturating_sub(now.duration_since(*t)))
        .unwrap_or(rule.window);
    if calls.len() >= rule.limit as usize {
        return Err(too_many(rule.limit, reset_in));
    }
    calls.push(now);
    let remaining = rule.limit.saturating_sub(calls.len() as u32);
    Ok(Some((rule.limit, remaining, reset_in)))
}

fn route(shared: &Arc<Shared>, st: &mut State, req: &Req, user: &User) -> Response<Body> {
    let uid = user.id.as_str();
    match (req.method.clone(), req.route.as_str()) {
        (Method::GET, "me") => me(st, uid),
        (Method::POST, "login") => login(st, req),
        (Method::POST, "chat.sendMessage") => chat_send_message(shared, st, req, uid),
        (Method::POST, "chat.postMessage") => chat_post_message(st, req, uid),
        (Method::POST, "chat.react") => chat_react(st, req, uid),
        (Method::POST, "chat.update") => chat_update(st, req, uid),
        (Method::POST, "chat.delete") => chat_delete(st, req, uid),
        (Method::POST, "chat.pinMessage") => match body_str(req, "messageId") {
            Some(mid) => match st.world.pin(uid, mid) {
                Ok(system) => success(json!({"message": system})),
                Err(e) => failure(&e),
            },
            None => failure(&OpError::meteor(
                "error-messageid-param-not-provided",
                "The required \"messageId\" param is missing.",
            )),
        },
        (Method::GET, "chat.getMessage") => chat_get_message(st, req, uid),
        (Method::GET, "chat.syncMessages") => chat_sync(st, req, uid),
        (Method::GET, "chat.getThreadMessages") => history::thread_messages(st, req, uid),
        (Method::GET, "channels.history") => history::room_history(st, req, uid, Channels),
        (Method::GET, "groups.history") => history::room_history(st, req, uid, Groups),
        (Method::GET, "im.history") | (Method::GET, "dm.history") => {
            history::room_history(st, req, uid, Im)
        }
        (Method::POST, r) if r.starts_with("rooms.mediaConfirm/") => {
            let rest_of_route = &r["rooms.mediaConfirm/".len()..];
            crate::uploads::media_confirm(st, req, uid, rest_of_route)
        }
        (Method::GET, "rooms.info") => room_info(st, req, uid, None, "room"),
        (Method::GET, "channels.info") => {
            room_info(st, req, uid, Some(RoomKind::Public), "channel")
        }
        (Method::GET, "groups.info") => room_info(st, req, uid, Some(RoomKind::Private), "group"),
        (Method::GET, "rooms.get") => rooms_get(st, req, uid),
        (Method::POST, "im.create") | (Method::POST, "dm.create") => im_create(st, req, uid),
        (Method::GET, "subscriptions.getOne") => subscription_get_one(st, req, uid),
        (Method::GET, "users.info") => users_info(st, req),
        (Method::POST, "users.create") => users_create(st, req, user),
        (Method::POST, "users.generatePersonalAccessToken") => generate_pat(shared, st, req, user),
        (Method::POST, "users.removePersonalAccessToken") => remove_pat(shared, st, req, user),
        (Method::GET, "users.getPersonalAccessTokens") => {
            success(json!({"tokens": st.world.pat_list(uid)}))
        }
        (Method::POST, "users.setActiveStatus") => set_active_status(st, req, user),
        (Method::POST, "channels.create") => room_create(st, req, uid, RoomKind::Public),
        (Method::POST, "groups.create") => room_create(st, req, uid, RoomKind::Private),
        (Method::POST, "channels.invite") => room_invite(st, req, user, RoomKind::Public),
        (Method::POST, "groups.invite") => room_invite(st, req, user, RoomKind::Private),
        _ => not_found(),
    }
}

/// `GET /api/info` (no auth). Admins get the full version.
pub(crate) fn info(shared: &Arc<Shared>, headers: &HeaderMap) -> Response<Body> {
    let st = shared.lock();
    let admin = match (
        headers.get("x-user-id").and_then(|v| v.to_str().ok()),
        headers.get("x-auth-token").and_then(|v| v.to_str().ok()),
    ) {
        (Some(uid), Some(token)) => st
            .world
            .authenticate(uid, token)
            .is_some_and(|u| u.has_role("admin")),
        _ => false,
    };
    let mut body = json!({"version": "8.2",
        "minimumClientVersions": {"desktop": "3.9.6", "mobile": "4.39.0"}});
    if admin {
        body = json!({"version": "8.2.0",
            "info": {"version": "8.2.0", "build": {}, "commit": {}, "marketplaceApiVersion": "1.0.0"},
            "minimumClientVersions": {"desktop": "3.9.6", "mobile": "4.39.0"}});
    }
    success(body)
}

fn me(st: &State, uid: &str) -> Response<Body> {
    let Some(Value::Object(mut doc)) = st.world.user_doc(uid) else {
        return not_found();
    };
    if let Some(email) = st.world.user(uid).and_then(|u| u.email.clone()) {
        doc.insert("email".into(), json!(email));
    }
    doc.insert("settings".into(), json!({"profile": {}, "preferences": {}}));
    let username = st
        .world
        .user(uid)
        .map(|u| u.username.clone())
        .unwrap_or_default();
    doc.insert("avatarUrl".into(), json!(format!("/avatar/{username}")));
    success(Value::Object(doc))
}

/// `POST /api/v1/login` with a password or a resume token.
fn login(st: &mut State, req: &Req) -> Response<Body> {
    let fail = || {
        json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"status": "error", "error": "Unauthorized", "message": "Unauthorized"}),
        )
    };
    let uid = if let Some(token) = body_str(req, "resume") {
        match st.world.user_by_token(token) {
            Some(u) => u.id.clone(),
            None => return fail(),
        }
    } else {
        let who = body_str(req, "user").or_else(|| body_str(req, "username"));
        let password = body_str(req, "password");
        let (Some(who), Some(password)) = (who, password) else {
            return fail();
        };
        let found = st.world.users.values().find(|u| {
            (u.username == who || u.email.as_deref() == Some(who))
                && u.password.as_deref() == Some(password)
                && u.active
        });
        match found {
            Some(u) => u.id.clone(),
            None => return fail(),
        }
    };
    let token = match body_str(req, "resume") {
        Some(t) => t.to_owned(),
        None => match st.world.create_login_token(&uid) {
            Some(t) => t,
            None => return fail(),
        },
    };
    let me = st
        .world
        .user_doc(&uid)
        .map(|d| to_rest(&d))
        .unwrap_or(Value::Null);
    json_response(
        StatusCode::OK,
        &json!({"status": "success", "data": {"userId": uid, "authToken": token, "me": me}}),
    )
}

fn chat_send_message(shared: &Shared, st: &mut State, req: &Req, uid: &str) -> Response<Body> {
    let Some(message) = req.body.get("message").and_then(Value::as_object) else {
        return invalid_params("must have required property 'message'");
    };
    let Some(rid) = message.get("rid").and_then(Value::as_str) else {
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
        rid: rid.to_owned(),
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
    };
    match st.world.send(uid, input) {
        Ok(Some(doc)) => success(json!({"message": doc})),
        // sendMessage() returned undefined for an existing _id; normalizeMessagesForUser then
        // throws a TypeError (reference 4.3, [derived]). Nothing was inserted.
        Ok(None) => failure_text(&shared.config.duplicate_send_error),
        Err(e) => failure(&e),
    }
}

/// `MessageTypes.isSystemMessage` for the types of reference section 3.3 (`e2e` and `rm` are
/// message states rather than system events a client could forge, so they pass through).
pub(crate) fn is_system_type(t: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "uj",
        "ui",
        "uir",
        "ul",
        "ru",
        "au",
        "mute_unmute",
        "r",
        "ut",
        "wm",
        "subscription-role-added",
        "subscription-role-removed",
        "room-archived",
        "room-unarchived",
        "room_changed_privacy",
        "room_changed_description",
        "room_changed_announcement",
        "room_changed_avatar",
        "room_changed_topic",
        "room_e2e_enabled",
        "room_e2e_disabled",
        "user-muted",
        "user-unmuted",
        "user-banned",
        "user-unbanned",
        "room-removed-read-only",
        "room-set-read-only",
        "room-allowed-reacting",
        "room-disallowed-reacting",
        "command",
        "videoconf",
        "message_pinned",
        "message_pinned_e2e",
        "new-moderator",
        "moderator-removed",
        "new-owner",
        "owner-removed",
        "new-leader",
        "leader-removed",
        "discussion-created",
        "removed-user-from-team",
        "added-user-to-team",
        "ult",
        "user-converted-to-team",
        "user-converted-to-channel",
        "user-removed-room-from-team",
        "user-deleted-room-from-team",
        "user-added-room-to-team",
        "ujt",
    ];
    SYSTEM.contains(&t) || t.starts_with("livechat") || t.starts_with("omnichannel")
}

/// Resolves a `chat.postMessage` target to a room id, auto-joining public channels.
fn resolve_target(st: &mut State, target: &str, uid: &str) -> Result<String, OpError> {
    let invalid = || OpError::meteor("invalid-channel", "Invalid channel");
    if let Some(username) = target.strip_prefix('@') {
        let other = st
            .world
            .user_by_username(username)
            .map(|u| u.id.clone())
            .ok_or_else(invalid)?;
        return st.world.ensure_dm(uid, &other);
    }
    let name = target.strip_prefix('#').unwrap_or(target);
    let room = st
        .world
        .room(name)
        .or_else(|| st.world.room_by_name(name))
        .cloned()
        .ok_or_else(invalid)?;
    if room.kind == RoomKind::Public && !st.world.is_member(&room.id, uid) {
        st.world.join(&room.id, uid, false);
        st.world.insert_system(&room.id, uid, uid, "uj");
    }
    Ok(room.id)
}

fn chat_post_message(st: &mut State, req: &Req, uid: &str) -> Response<Body> {
    let (target, from_room_id) =
        match (req.body.get("roomId"), body_str(req, "channel")) {
            (Some(Value::String(r)), _) => (r.clone(), true),
            (Some(Value::Array(a)), _) => match a.first().and_then(Value::as_str) {
                Some(r) => (r.to_owned(), true),
                None => return failure(&OpError::meteor("invalid-channel", "Invalid channel")),
            },
            (_, Some(c)) => (c.to_owned(), false),
            _ => return failure(&OpError::meteor(
                "error-room-not-found",
                "The required \"roomId\" or \"channel\" param provided does not match any channel",
            )),
        };
    let rid = match resolve_target(st, &target, uid) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let text = body_str(req, "text").unwrap_or("").trim().to_owned();
    let mut extra = Map::new();
    for k in ["alias", "emoji", "avatar", "attachments", "customFields"] {
        if let Some(v) = req.body.get(k) {
            extra.insert(k.to_owned(), v.clone());
        }
    }
    extra.insert("groupable".into(), json!(false));
    let tmid = if from_room_id {
        body_str(req, "tmid").map(str::to_owned)
    } else {
        None
    };
    let input = SendInput {
        id: None,
        rid,
        msg: text,
        tmid,
        tshow: None,
        ts: None,
        extra,
    };
    match st.world.send(uid, input) {
        Ok(Some(doc)) => success(json!({"ts": now_ms(), "channel": target, "message": doc})),
        Ok(None) => failure_text("unknown-error"),
        Err(e) if e.code() == "error-message-size-exceeded" => {
            failure_text("error-message-size-exceeded")
        }
        Err(e) => failure(&e),
    }
}

fn chat_react(st: &mut State, req: &Req, uid: &str) -> Response<Body> {
    let emoji = body_str(req, "emoji").or_else(|| body_str(req, "reaction"));
    let Some(mid) = body_str(req, "messageId") else {
        return failure(&OpError::meteor(
            "error-messageid-param-not-provided",
            "The required \"messageId\" param is missing.",
        ));
    };
    let Some(emoji) = emoji else {
        return failure(&OpError::meteor(
            "error-emoji-param-not-provided",
            "The required \"emoji\" param is missing.",
        ));
    };
    // chat.ts looks the message up itself before executeSetReaction.
    if st.world.message(mid).is_none() {
        return failure(&OpError::meteor(
            "error-message-not-found",
            "Message not found",
        ));
    }
    let should = req.body.get("shouldReact").and_then(Value::as_bool);
    match st.world.react(uid, mid, emoji, should) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn chat_update(st: &mut State, req: &Req, uid: &str) -> Response<Body> {
    let (Some(rid), Some(mid), Some(text)) = (
        body_str(req, "roomId"),
        body_str(req, "msgId"),
        body_str(req, "text"),
    ) else {
        return failure(&OpError::meteor(
            "invalid-params",
            "must have required properties roomId, msgId, text",
        ));
    };
    let custom = req.body.get("customFields").cloned();
    match st.world.edit(uid, rid, mid, text, custom) {
        Ok(doc) => success(json!({"message": doc})),
        Err(e) => failure(&e),
    }
}

fn chat_delete(st: &mut State, req: &Req, uid: &str) -> Response<Body> {
    let (Some(rid), Some(mid)) = (body_str(req, "roomId"), body_str(req, "msgId")) else {
        return failure(&OpError::meteor(
            "invalid-params",
            "must have required properties roomId, msgId",
        ));
    };
    match st.world.delete(uid, rid, mid) {
        // chat.delete returns ts as a string of epoch ms (Date.now().toString()).
        Ok(summary) => success(json!({"_id": mid, "ts": now_ms().to_string(), "message": summary})),
        Err(OpError::Meteor {
            code,
            reason,
            details,
        }) => failure(&OpError::Meteor {
            code,
            reason,
            details,
        }),
        Err(e) => failure(&e),
    }
}

fn chat_get_message(st: &State, req: &Req, uid: &str) -> Response<Body> {
    let Some(mid) = query(req, "msgId") else {
        return invalid_params("must have required property 'msgId'");
    };
    let Some(msg) = st.world.message(mid) else {
        return json_response(StatusCode::BAD_REQUEST, &json!({"success": false}));
    };
    let rid = msg.get("rid").and_then(Value::as_str).unwrap_or_default();
    if !st.world.can_access(rid, uid) {
        return failure(&OpError::meteor("error-not-allowed", "Not allowed"));
    }
    success(json!({"message": msg}))
}

/// `chat.syncMessages` (8.x chat.ts + `messages/get` `getMessageHistory`): `validateParams`,
/// then thrown `Meteor.Error`s (bodies carry `errorType`). With `lastUpdate`
/// (`handleWithoutPagination`): `_updatedAt > lastUpdate` sorted `ts: -1`, plus trash
/// `{_id, _deletedAt}`. With `type` + `next`/`previous` (+ `count`, default 20): one cursor page.
/// `type` alone falls through to channel history, whose result has neither list.
fn chat_sync(st: &State, req: &Req, uid: &str) -> Response<Body> {
    let Some(rid) = query(req, "roomId") else {
        return failure(&OpError::meteor(
            "invalid-params",
            "must have required property 'roomId'",
        ));
    };
    let last = query(req, "lastUpdate");
    let kind = query(req, "type");
    let (next, previous) = (query(req, "next"), query(req, "previous"));
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
    if !st.world.can_access(rid, uid) {
        return failure(&OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            json!({"method": "messages/get"}),
        ));
    }
    if kind.is_some_and(|t| t != "UPDATED" && t != "DELETED") {
        return failure(&OpError::meteor(
            "error-type-param-not-supported",
            "The \"type\" parameter must be either \"UPDATED\" or \"DELETED\"",
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
        let (updated, deleted) = st.world.sync(rid, since);
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
    let count = query(req, "count")
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|c| *c > 0)
        .unwrap_or(20);
    let deleted = kind == Some("DELETED");
    let (page, next_cursor, previous_cursor) =
        st.world.sync_cursor(rid, deleted, count, next, previous);
    let (updated, deleted) = if deleted {
        (vec![], page)
    } else {
        (page, vec![])
    };
    success(json!({"result": {"updated": updated, "deleted": deleted,
        "cursor": {"next": next_cursor, "previous": previous_cursor}}}))
}

fn find_room(st: &State, req: &Req) -> Option<crate::world::Room> {
    if let Some(id) = query(req, "roomId") {
        return st.world.room(id).cloned();
    }
    query(req, "roomName").and_then(|n| st.world.room_by_name(n).cloned())
}

fn room_info(
    st: &State,
    req: &Req,
    uid: &str,
    kind: Option<RoomKind>,
    key: &str,
) -> Response<Body> {
    let room = find_room(st, req);
    match kind {
        None => match room {
            // rooms.ts: `API.v1.failure('not-allowed', 'Not Allowed')` [unconfirmed body].
            Some(r) if st.world.can_access(&r.id, uid) => {
                success(json!({"room": st.world.room_doc(&r.id)}))
            }
            _ => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"success": false, "error": "not-allowed", "errorType": "Not Allowed"}),
            ),
        },
        Some(kind) => {
            let what = if kind == RoomKind::Public {
                "channel"
            } else {
                "group"
            };
            match room {
                Some(r) if r.kind == kind && st.world.can_access(&r.id, uid) => {
                    success(json!({key: st.world.room_doc(&r.id)}))
                }
                _ => failure(&OpError::meteor(
                    "error-room-not-found",
                    &format!("The required \"roomId\" or \"roomName\" param provided does not match any {what}"),
                )),
            }
        }
    }
}

fn rooms_get(st: &State, req: &Req, uid: &str) -> Response<Body> {
    let since = query(req, "updatedSince").and_then(parse_date_ms);
    let update: Vec<Value> = st
        .world
        .rooms_of(uid)
        .into_iter()
        .filter(|r| match since {
            Some(s) => {
                r.get("_updatedAt")
                    .and_then(crate::util::read_ejson_date)
                    .unwrap_or(0)
                    > s
            }
            None => true,
        })
        .collect();
    success(json!({"update": update, "remove": []}))
}

fn im_create(st: &mut State, req: &Req, uid: &str) -> Response<Body> {
    let username = body_str(req, "username").map(str::to_owned).or_else(|| {
        body_str(req, "usernames").and_then(|u| {
            let names: Vec<&str> = u
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            (names.len() == 1).then(|| names[0].to_owned())
        })
    });
    let Some(username) = username else {
        return failure(&OpError::meteor(
            "error-invalid-params",
            "Body param \"username\" or \"usernames\" is required",
        ));
    };
    let Some(other) = st.world.user_by_username(&username).map(|u| u.id.clone()) else {
        return failure(&OpError::meteor("error-invalid-user", "Invalid user"));
    };
    match st.world.ensure_dm(uid, &other) {
        Ok(rid) => {
            let usernames = st
                .world
                .room_doc(&rid)
                .and_then(|d| d.get("usernames").cloned())
                .unwrap_or(json!([]));
            success(json!({"room": {"_id": rid, "rid": rid, "t": "d", "usernames": usernames}}))
        }
        Err(e) => failure(&e),
    }
}

fn subscription_get_one(st: &State, req: &Req, uid: &str) -> Response<Body> {
    let Some(rid) = query(req, "roomId") else {
        return failure_text("The 'roomId' param is required");
    };
    success(json!({"subscription": st.world.subscription_doc(rid, uid)}))
}

fn users_info(st: &State, req: &Req) -> Response<Body> {
    let user = match (query(req, "userId"), query(req, "username")) {
        (Some(id), _) => st.world.user(id),
        (None, Some(name)) => st.world.user_by_username(name),
        _ => None,
    };
    match user.and_then(|u| st.world.user_doc(&u.id)) {
        Some(doc) => success(json!({"user": doc})),
        None => failure_text("User not found."),
    }
}

fn users_create(st: &mut State, req: &Req, caller: &User) -> Response<Body> {
    if !caller.has_role("admin") {
        return forbidden();
    }
    for key in ["email", "name", "password", "username"] {
        if body_str(req, key).is_none() {
            return failure(&OpError::meteor(
                "invalid-params",
                &format!("must have required property '{key}'"),
            ));
        }
    }
    let roles: Vec<String> = req
        .body
        .get("roles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_else(|| vec!["user".to_owned()]);
    let kind = if roles.iter().any(|r| r == "bot") {
        UserKind::Bot
    } else {
        UserKind::Human
    };
    let created = st.world.create_user(
        body_str(req, "username").unwrap_or_default(),
        body_str(req, "name").unwrap_or_default(),
        kind,
        roles,
        body_str(req, "password").map(str::to_owned),
        body_str(req, "email").map(str::to_owned),
    );
    match created {
        Ok(uid) => success(json!({"user": st.world.user_doc(&uid)})),
        Err(e) => failure(&e),
    }
}

#[allow(clippy::result_large_err)]
/// The REST 2FA check of `twoFactorRequired` routes (`apps/meteor/app/2fa/server/code/index.ts`).
fn two_factor(
    shared: &Arc<Shared>,
    st: &State,
    req: &Req,
    user: &User,
) -> Result<(), Response<Body>> {
    if !st.faults.two_factor_enabled {
        return Ok(());
    }
    let token = header(req, "x-auth-token").unwrap_or_default();
    if st
        .world
        .token_of(&user.id, token)
        .is_some_and(|t| t.name.is_some() && t.bypass_two_factor)
    {
        return Ok(());
    }
    let remember = shared.config.two_factor_remember.as_millis() as i64;
    if remember > 0 && now_ms() - user.created_at < remember {
        return Ok(());
    }
    let (method, code) = (header(req, "x-2fa-method"), header(req, "x-2fa-code"));
    match (method, code) {
        (Some("password"), Some(code))
            if user.password.as_deref().map(sha256_hex).as_deref() == Some(code) =>
        {
            Ok(())
        }
        (Some(_), Some(_)) => Err(failure(&OpError::meteor_with(
            "totp-invalid",
            "TOTP Invalid",
            json!({"method": "password"}),
        ))),
        _ => Err(failure(&OpError::meteor_with(
            "totp-required",
            "TOTP Required",
            json!({"method": "password", "codeGenerated": false, "availableMethods": []}),
        ))),
    }
}

/// `create-personal-access-tokens`: admin and user roles, not bot.
fn may_use_pats(user: &User) -> bool {
    user.has_role("admin") || user.has_role("user")
}

fn generate_pat(shared: &Arc<Shared>, st: &mut State, req: &Req, user: &User) -> Response<Body> {
    let Some(name) = body_str(req, "tokenName") else {
        return failure_text("The 'tokenName' param is required");
    };
    if let Err(resp) = two_factor(shared, st, req, user) {
        return resp;
    }
    if !may_use_pats(user) {
        return failure(&OpError::meteor("not-authorized", "Not Authorized"));
    }
    let bypass = req
        .body
        .get("bypassTwoFactor")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match st.world.create_pat(&user.id, name, bypass) {
        Ok(token) => success(json!({"token": token})),
        Err(e) => failure(&e),
    }
}

fn remove_pat(shared: &Arc<Shared>, st: &mut State, req: &Req, user: &User) -> Response<Body> {
    let Some(name) = body_str(req, "tokenName") else {
        return failure_text("The 'tokenName' param is required");
    };
    if let Err(resp) = two_factor(shared, st, req, user) {
        return resp;
    }
    if !may_use_pats(user) {
        return failure(&OpError::meteor("not-authorized", "Not Authorized"));
    }
    match st.world.remove_pat(&user.id, name) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn set_active_status(st: &mut State, req: &Req, caller: &User) -> Response<Body> {
    if !caller.has_role("admin") {
        return forbidden();
    }
    let (Some(uid), Some(active)) = (
        body_str(req, "userId"),
        req.body.get("activeStatus").and_then(Value::as_bool),
    ) else {
        return failure(&OpError::meteor(
            "invalid-params",
            "must have required properties userId, activeStatus",
        ));
    };
    match st.world.set_active(uid, active) {
        Ok(()) => success(json!({"user": {"_id": uid, "active": active}})),
        Err(e) => failure(&e),
    }
}

fn room_create(st: &mut State, req: &Req, uid: &str, kind: RoomKind) -> Response<Body> {
    let Some(name) = body_str(req, "name") else {
        return failure_text("Body param \"name\" is required");
    };
    let mut members = Vec::new();
    for m in req
        .body
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(username) = m.as_str() else { continue };
        match st.world.user_by_username(username) {
            Some(u) => members.push(u.id.clone()),
            None => return failure(&OpError::meteor("error-invalid-user", "Invalid user")),
        }
    }
    let read_only = req
        .body
        .get("readOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let key = if kind == RoomKind::Public {
        "channel"
    } else {
        "group"
    };
    match st.world.create_room(kind, name, uid, &members, read_only) {
        Ok(rid) => success(json!({key: st.world.room_doc(&rid)})),
        Err(e) => failure(&e),
    }
}

fn room_invite(st: &mut State, req: &Req, caller: &User, kind: RoomKind) -> Response<Body> {
    let what = if kind == RoomKind::Public {
        "channel"
    } else {
        "group"
    };
    let room = body_str(req, "roomId")
        .and_then(|id| st.world.room(id).cloned())
        .or_else(|| body_str(req, "roomName").and_then(|n| st.world.room_by_name(n).cloned()));
    let Some(room) = room.filter(|r| r.kind == kind) else {
        return failure(&OpError::meteor(
            "error-room-not-found",
            &format!(
                "The required \"roomId\" or \"roomName\" param provided does not match any {what}"
            ),
        ));
    };
    if !st.world.is_member(&room.id, &caller.id) && !caller.has_role("admin") {
        return failure(&OpError::meteor("error-not-allowed", "Not allowed"));
    }
    let mut ids: Vec<String> = Vec::new();
    if let Some(id) = body_str(req, "userId") {
        ids.push(id.to_owned());
    }
    for v in req
        .body
        .get("userIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = v.as_str() {
            ids.push(id.to_owned());
        }
    }
    for id in &ids {
        if st.world.user(id).is_none() {
            return failure(&OpError::meteor("error-invalid-user", "Invalid user"));
        }
        if st.world.join(&room.id, id, false) {
            st.world.insert_system(&room.id, &caller.id, id, "au");
        }
    }
    success(json!({what: st.world.room_doc(&room.id)}))
}
