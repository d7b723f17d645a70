//! `im.*` / `dm.*`: create (1:1, self and group DMs, `excludeSelf`), delete, open, close,
//! setTopic, members.
//!
//! Sources: `apps/meteor/app/api/server/v1/im.ts` (stored version 007dd57d; typed routes),
//! `apps/meteor/server/methods/createDirectMessage.ts`,
//! `apps/meteor/app/lib/server/functions/createDirectRoom.ts`; tests `direct-message.ts`.

use http::{Method, Response};
use serde_json::{json, Value};

use super::channels::member_list;
use super::rooms::erase_room;
use super::{
    failure, failure_text, success, typed_invalid, unauthorized_403, Body, Ctx, Handler, Req,
};
use crate::world::{OpError, Room, RoomChanges, RoomKind};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let action = route
        .strip_prefix("im.")
        .or_else(|| route.strip_prefix("dm."))?;
    let h: Handler = match (method, action) {
        (&Method::POST, "create") => create,
        (&Method::POST, "delete") => delete,
        (&Method::POST, "open") => open,
        (&Method::POST, "close") => close,
        (&Method::POST, "setTopic") => set_topic,
        (&Method::GET, "members") => members,
        _ => return None,
    };
    Some(h)
}

/// Typed-route checks of `im.create` (before authentication).
pub(super) fn schema_check(req: &Req) -> Option<Response<Body>> {
    let action = req
        .route
        .strip_prefix("im.")
        .or_else(|| req.route.strip_prefix("dm."))?;
    if req.method != Method::POST || action != "create" {
        return None;
    }
    let has = |k: &str| {
        req.body
            .get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    if !has("username") && !has("usernames") {
        return Some(typed_invalid(
            "Body param \"username\" or \"usernames\" is required",
        ));
    }
    if req.body.get("excludeSelf").is_some_and(|v| !v.is_boolean()) {
        return Some(typed_invalid("must be boolean"));
    }
    None
}

fn create(ctx: &mut Ctx<'_>) -> Response<Body> {
    let names: Vec<String> = match ctx.body_str("username") {
        Some(u) => vec![u.to_owned()],
        None => ctx
            .body_str("usernames")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let exclude = ctx.body("excludeSelf").and_then(Value::as_bool) == Some(true);
    let uid = ctx.uid().to_owned();
    match ctx.world().create_direct_message(&uid, &names, exclude) {
        Ok(mut room) => {
            let rid = room_id(&room);
            if let (Some(o), Some(rid)) = (room.as_object_mut(), rid) {
                o.insert("_id".into(), json!(rid));
            }
            success(json!({"room": room}))
        }
        Err(e) => failure(&e),
    }
}

fn room_id(room: &Value) -> Option<String> {
    room.get("rid").and_then(Value::as_str).map(str::to_owned)
}

/// `findDirectMessageRoom`: by `roomId` (a `d` room) or by `username` (the caller's DM with
/// that user). `None` when there is none.
fn find_dm(ctx: &Ctx<'_>) -> Result<Option<Room>, OpError> {
    if let Some(rid) = ctx.param("roomId") {
        return Ok(ctx
            .w()
            .room(rid)
            .filter(|r| r.kind == RoomKind::Direct)
            .cloned());
    }
    let Some(name) = ctx.param("username") else {
        return Err(OpError::meteor(
            "error-room-param-not-provided",
            "Body param \"roomId\" or \"username\" is required",
        ));
    };
    let Some(other) = ctx.w().user_by_username(name).map(|u| u.id.clone()) else {
        return Ok(None);
    };
    let me = ctx.uid().to_owned();
    Ok(ctx
        .w()
        .rooms
        .values()
        .find(|r| {
            r.kind == RoomKind::Direct
                && r.members.contains(&me)
                && r.members.contains(&other)
                && r.members.len() == if me == other { 1 } else { 2 }
        })
        .cloned())
}

/// The DM, when the caller may see it (`canAccessRoom`, or `view-room-administration` for
/// `im.delete`); else the ready 403 `unauthorized`.
// The Err is a ready response; boxing buys nothing here.
#[allow(clippy::result_large_err)]
fn dm_for(ctx: &Ctx<'_>, admin_ok: bool) -> Result<Room, Response<Body>> {
    let room = match find_dm(ctx) {
        Ok(r) => r,
        Err(e) => return Err(failure(&e)),
    };
    match room {
        Some(r)
            if ctx.w().can_access(&r.id, ctx.uid())
                || (admin_ok && ctx.can("view-room-administration", None)) =>
        {
            Ok(r)
        }
        Some(_) => Err(unauthorized_403()),
        None if admin_ok => Err(failure(&OpError::meteor(
            "error-room-not-found",
            "The required \"roomId\" param provided does not match any direct message",
        ))),
        None => Err(unauthorized_403()),
    }
}

fn delete(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match dm_for(ctx, true) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match erase_room(ctx, &room.id) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn open(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match dm_for(ctx, false) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let uid = ctx.uid().to_owned();
    let world = ctx.world();
    let now = world.now();
    if let Some(sub) = world.subs.get_mut(&(room.id.clone(), uid.clone())) {
        if !sub.open {
            sub.open = true;
            sub.updated_at = now;
            world.sub_changed(&room.id, &uid);
        }
    }
    success(json!({}))
}

fn close(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match dm_for(ctx, false) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let uid = ctx.uid().to_owned();
    let world = ctx.world();
    let now = world.now();
    let Some(sub) = world.subs.get_mut(&(room.id.clone(), uid.clone())) else {
        return failure_text(&format!(
            "The user is not subscribed to the room {}",
            room.id
        ));
    };
    if !sub.open {
        return failure_text(&format!(
            "The direct message room, {}, is already closed to the sender",
            room.id
        ));
    }
    sub.open = false;
    sub.updated_at = now;
    world.sub_changed(&room.id, &uid);
    success(json!({}))
}

fn set_topic(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(topic) = ctx.body("topic").and_then(Value::as_str).map(str::to_owned) else {
        return failure_text("The bodyParam \"topic\" is required");
    };
    let room = match dm_for(ctx, false) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let uid = ctx.uid().to_owned();
    let changes = RoomChanges {
        topic: Some(topic.clone()),
        ..RoomChanges::default()
    };
    match ctx.world().change_room(&room.id, &uid, changes) {
        Ok(()) => success(json!({"topic": topic})),
        Err(e) => failure(&e),
    }
}

fn members(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match dm_for(ctx, false) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    member_list(ctx, &room)
}
