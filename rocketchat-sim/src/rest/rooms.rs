//! `rooms.*`: info (with `fields`), get, leave, join, delete, saveRoomSettings, muteUser,
//! unmuteUser, isMember; and the room lookups the channels / groups / im routes share.
//!
//! Source: `apps/meteor/app/api/server/v1/rooms.ts` and `lib/server/methods/` (`leaveRoom.ts`,
//! `joinRoom.ts`, `eraseRoom.ts`, `saveRoomSettings.ts`, `muteUserInRoom.ts`); tests
//! `rooms.ts`.

use http::{Method, Response};
use serde_json::{json, Map, Value};

use super::{
    failure, failure_text, invalid_params, json_response, success, unauthorized_403, Body, Ctx,
    Handler,
};
use crate::util::parse_date_ms;
use crate::world::{OpError, Room, RoomChanges, RoomKind};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::GET, "rooms.info") => info,
        (&Method::GET, "rooms.get") => get,
        (&Method::POST, "rooms.leave") => leave,
        (&Method::POST, "rooms.join") => join,
        (&Method::POST, "rooms.delete") => delete,
        (&Method::POST, "rooms.saveRoomSettings") => save_settings,
        (&Method::POST, "rooms.muteUser") => mute,
        (&Method::POST, "rooms.unmuteUser") => unmute,
        (&Method::GET, "rooms.isMember") => is_member,
        _ => return None,
    };
    Some(h)
}

/// `findRoomByIdOrName` style lookup from `roomId` / `roomName` (query or body).
pub(super) fn find_room(ctx: &Ctx<'_>) -> Result<Room, OpError> {
    let (id, name) = (ctx.param("roomId"), ctx.param("roomName"));
    if id.is_none() && name.is_none() {
        return Err(OpError::meteor(
            "error-room-param-not-provided",
            "The parameter \"roomId\" or \"roomName\" is required",
        ));
    }
    let room = match id {
        Some(id) => ctx.w().room(id),
        None => name.and_then(|n| ctx.w().room_by_name(n)),
    };
    room.cloned()
        .ok_or_else(|| OpError::room_not_found("channel"))
}

/// `fields` projection (`parseJsonQuery`): `{"name": 1}` keeps `_id` and the named fields,
/// `{"name": 0}` drops them.
pub(super) fn project(doc: Value, fields: Option<&str>) -> Result<Value, OpError> {
    let Some(text) = fields else {
        return Ok(doc);
    };
    let spec: Map<String, Value> = serde_json::from_str(text)
        .map_err(|_| OpError::meteor("error-invalid-query", "Invalid query parameter provided"))?;
    let Value::Object(obj) = doc else {
        return Ok(doc);
    };
    let include = spec
        .values()
        .any(|v| v.as_i64() == Some(1) || v == &Value::Bool(true));
    let out: Map<String, Value> = obj
        .into_iter()
        .filter(|(k, _)| {
            let listed = spec.contains_key(k);
            if include {
                listed || k == "_id"
            } else {
                !listed
            }
        })
        .collect();
    Ok(Value::Object(out))
}

/// `rooms.info`: no room or no access is `API.v1.failure('not-allowed', 'Not Allowed')`
/// (`error: "not-allowed"`, `errorType: "Not Allowed"`).
fn info(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match find_room(ctx) {
        Ok(r) => Some(r),
        Err(e) if e.code() == "error-room-param-not-provided" => return failure(&e),
        Err(_) => None,
    };
    let Some(room) = room.filter(|r| ctx.w().can_access(&r.id, ctx.uid())) else {
        return json_response(
            http::StatusCode::BAD_REQUEST,
            &json!({"success": false, "error": "not-allowed", "errorType": "Not Allowed"}),
        );
    };
    let doc = ctx.w().room_doc(&room.id).unwrap_or(Value::Null);
    match project(doc, ctx.query("fields")) {
        Ok(doc) => success(json!({"room": doc})),
        Err(e) => failure(&e),
    }
}

fn get(ctx: &mut Ctx<'_>) -> Response<Body> {
    let since = match ctx.query("updatedSince").map(parse_date_ms) {
        Some(None) => {
            return failure(&OpError::meteor(
                "error-updatedSince-param-invalid",
                "The \"updatedSince\" query parameter must be a valid date.",
            ))
        }
        Some(Some(ms)) => Some(ms),
        None => None,
    };
    let update: Vec<Value> = ctx
        .w()
        .rooms_of(ctx.uid())
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

/// `leaveRoom`: not for DMs, needs `leave-<t>`, the last owner may not leave.
pub(super) fn leave_room(ctx: &mut Ctx<'_>, room: &Room) -> Result<(), OpError> {
    let details = json!({"method": "leaveRoom"});
    if room.kind == RoomKind::Direct {
        return Err(OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            details,
        ));
    }
    if !ctx.can(&format!("leave-{}", room.kind.letter()), None) {
        return Err(OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            details,
        ));
    }
    let uid = ctx.uid().to_owned();
    ctx.world()
        .remove_user_from_room(&room.id, &uid, None, true)
}

fn leave(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match find_room(ctx) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    match leave_room(ctx, &room) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

/// `joinRoom`: room access, the join code (unless `join-without-join-code`), then
/// `addUserToRoom` (`uj`).
pub(super) fn join_room(ctx: &mut Ctx<'_>, room: &Room, code: Option<&str>) -> Result<(), OpError> {
    let details = || json!({"method": "joinRoom"});
    if !ctx.w().can_access(&room.id, ctx.uid()) {
        return Err(OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            details(),
        ));
    }
    if let Some(expected) = &room.join_code {
        if !ctx.can("join-without-join-code", None) {
            match code {
                None => {
                    return Err(OpError::meteor_with(
                        "error-code-required",
                        "Code required",
                        details(),
                    ))
                }
                Some(c) if c != expected => {
                    return Err(OpError::meteor_with(
                        "error-code-invalid",
                        "Invalid Room Password",
                        details(),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    let uid = ctx.uid().to_owned();
    ctx.world()
        .add_user_to_room(&room.id, &uid, None, false)
        .map(|_| ())
}

fn join(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match find_room(ctx) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let code = ctx.body_str("joinCode").map(str::to_owned);
    match join_room(ctx, &room, code.as_deref()) {
        Ok(()) => success(json!({"room": ctx.w().room_doc(&room.id)})),
        Err(e) => failure(&e),
    }
}

/// `eraseRoom`: `delete-<t>` in the room.
pub(super) fn erase_room(ctx: &mut Ctx<'_>, rid: &str) -> Result<(), OpError> {
    let details = || json!({"method": "eraseRoom"});
    let Some(room) = ctx.w().room(rid).cloned() else {
        return Err(OpError::meteor_with(
            "error-invalid-room",
            "Invalid room",
            details(),
        ));
    };
    if !ctx.can(&format!("delete-{}", room.kind.letter()), Some(rid)) {
        return Err(OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            details(),
        ));
    }
    ctx.world().delete_room(rid)
}

fn delete(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(rid) = ctx.body_str("roomId").map(str::to_owned) else {
        return invalid_params("must have required property 'roomId'");
    };
    match erase_room(ctx, &rid) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn opt_string(ctx: &Ctx<'_>, key: &str) -> Option<String> {
    ctx.body(key).and_then(Value::as_str).map(str::to_owned)
}

/// `saveRoomSettings` (the settings the simulator keeps): `edit-room` in the room;
/// `default` and `featured` also need `view-room-administration`.
fn save_settings(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(rid) = ctx.body_str("rid").map(str::to_owned) else {
        return invalid_params("must have required property 'rid'");
    };
    let details = || json!({"method": "saveRoomSettings", "action": "Editing_room"});
    let Some(room) = ctx.w().room(&rid).cloned() else {
        return failure(&OpError::meteor_with(
            "error-invalid-room",
            "Invalid room",
            json!({"method": "saveRoomSettings"}),
        ));
    };
    if !ctx.can("edit-room", Some(&rid)) {
        return failure(&OpError::meteor_with(
            "error-action-not-allowed",
            "Editing room is not allowed",
            details(),
        ));
    }
    let admin_only = ["default", "featured"];
    if admin_only.iter().any(|k| ctx.body(k).is_some())
        && !ctx.can("view-room-administration", None)
    {
        return failure(&OpError::meteor_with(
            "error-action-not-allowed",
            "Viewing room administration is not allowed",
            details(),
        ));
    }
    let kind = match ctx.body_str("roomType") {
        Some("c") => Some(RoomKind::Public),
        Some("p") => Some(RoomKind::Private),
        Some(_) => {
            return failure(&OpError::meteor_with(
                "error-invalid-room-type",
                "Invalid room type",
                json!({"method": "saveRoomSettings"}),
            ))
        }
        None => None,
    };
    let favorite = ctx.body("favorite").and_then(|f| {
        let on = f.get("favorite").and_then(Value::as_bool)?;
        let default = f
            .get("defaultValue")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Some(on && default)
    });
    let changes = RoomChanges {
        name: opt_string(ctx, "roomName"),
        topic: opt_string(ctx, "roomTopic"),
        announcement: opt_string(ctx, "roomAnnouncement"),
        description: opt_string(ctx, "roomDescription"),
        kind,
        read_only: ctx.body("readOnly").and_then(Value::as_bool),
        react_when_read_only: ctx.body("reactWhenReadOnly").and_then(Value::as_bool),
        default: ctx.body("default").and_then(Value::as_bool),
        featured: ctx.body("featured").and_then(Value::as_bool),
        custom_fields: ctx.body("roomCustomFields").cloned(),
        join_code: opt_string(ctx, "joinCode"),
        favorite,
    };
    let _ = room;
    let uid = ctx.uid().to_owned();
    match ctx.world().change_room(&rid, &uid, changes) {
        Ok(()) => success(json!({"rid": rid})),
        Err(e) => failure(&e),
    }
}

/// The user named by `userId` or `username` in the body or query.
pub(super) fn target_user(ctx: &Ctx<'_>) -> Option<String> {
    match (ctx.param("userId"), ctx.param("username")) {
        (Some(id), _) => ctx.w().user(id).map(|u| u.id.clone()),
        (None, Some(name)) => ctx.w().user_by_username(name).map(|u| u.id.clone()),
        _ => None,
    }
}

fn mute_common(ctx: &mut Ctx<'_>, muted: bool) -> Response<Body> {
    let Some(rid) = ctx.body_str("roomId").map(str::to_owned) else {
        return invalid_params("must have required property 'roomId'");
    };
    let method = if muted {
        "muteUserInRoom"
    } else {
        "unmuteUserInRoom"
    };
    let Some(target) = target_user(ctx) else {
        return failure(&OpError::meteor_with(
            "error-invalid-user",
            "Invalid user",
            json!({"method": method}),
        ));
    };
    let Some(room) = ctx.w().room(&rid).cloned() else {
        return failure(&OpError::meteor_with(
            "error-invalid-room",
            "Invalid room",
            json!({"method": method}),
        ));
    };
    if !ctx.can("mute-user", Some(&rid)) {
        return failure(&OpError::meteor_with(
            "error-not-authorized",
            "Not authorized",
            json!({"method": method}),
        ));
    }
    if room.kind == RoomKind::Direct {
        return failure(&OpError::meteor_with(
            "error-cant-mute-direct-message",
            "Cannot mute in direct messages",
            json!({"method": method}),
        ));
    }
    let uid = ctx.uid().to_owned();
    match ctx.world().set_muted(&rid, &target, muted, &uid) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn mute(ctx: &mut Ctx<'_>) -> Response<Body> {
    mute_common(ctx, true)
}

fn unmute(ctx: &mut Ctx<'_>) -> Response<Body> {
    mute_common(ctx, false)
}

/// `rooms.isMember`: the caller must be able to see the room (else 403 `unauthorized`).
fn is_member(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match find_room(ctx) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let Some(target) = target_user(ctx) else {
        return failure_text("error-user-not-found");
    };
    if !ctx.w().can_access(&room.id, ctx.uid()) {
        return unauthorized_403();
    }
    success(json!({"isMember": ctx.w().is_member(&room.id, &target)}))
}
