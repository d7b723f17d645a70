//! `channels.*` and `groups.*` (one implementation, parametrised by the room type):
//! create, info, invite, kick, leave, join, delete, rename, setTopic, setDescription,
//! setAnnouncement, setPurpose, setReadOnly, setDefault, setJoinCode, setCustomFields,
//! add/remove Owner / Moderator / Leader, members, roles, moderators.
//!
//! Sources: `apps/meteor/app/api/server/v1/channels.ts`, `groups.ts` (`findChannelByIdOrName`
//! finds any `c` room; `findPrivateGroupByIdOrName` only a `p` room the caller is in, so
//! others get `error-room-not-found`), `lib/server/functions/addUserToRoom.ts`,
//! `removeUserFromRoom.ts`, `lib/server/methods/addUsersToRoom.ts`,
//! `removeUserFromRoom.ts`, `server/methods/addRoomOwner.ts` (and moderator / leader);
//! tests `channels.ts`, `groups.ts`.

use http::{Method, Response};
use serde_json::{json, Value};

use super::rooms::{erase_room, join_room, leave_room, project, target_user};
use super::{
    failure, failure_text, invalid_params, paginate, pagination, success, unauthorized_403, Body,
    Ctx, Handler,
};
use crate::world::{OpError, Presence, Room, RoomChanges, RoomKind};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let (prefix, action) = route.split_once('.')?;
    let get = method == Method::GET;
    let h: Handler = match (prefix, action, get) {
        ("channels", "create", false) => |c| create(c, RoomKind::Public),
        ("groups", "create", false) => |c| create(c, RoomKind::Private),
        ("channels", "info", true) => |c| info(c, RoomKind::Public),
        ("groups", "info", true) => |c| info(c, RoomKind::Private),
        ("channels", "invite", false) => |c| invite(c, RoomKind::Public),
        ("groups", "invite", false) => |c| invite(c, RoomKind::Private),
        ("channels", "kick", false) => |c| kick(c, RoomKind::Public),
        ("groups", "kick", false) => |c| kick(c, RoomKind::Private),
        ("channels", "leave", false) => |c| leave(c, RoomKind::Public),
        ("groups", "leave", false) => |c| leave(c, RoomKind::Private),
        ("channels", "join", false) => join,
        ("channels", "delete", false) => |c| delete(c, RoomKind::Public),
        ("groups", "delete", false) => |c| delete(c, RoomKind::Private),
        ("channels", "rename", false) => |c| rename(c, RoomKind::Public),
        ("groups", "rename", false) => |c| rename(c, RoomKind::Private),
        ("channels", "setTopic", false) => |c| set_text(c, RoomKind::Public, Text::Topic),
        ("groups", "setTopic", false) => |c| set_text(c, RoomKind::Private, Text::Topic),
        ("channels", "setDescription", false) => {
            |c| set_text(c, RoomKind::Public, Text::Description)
        }
        ("groups", "setDescription", false) => {
            |c| set_text(c, RoomKind::Private, Text::Description)
        }
        ("channels", "setAnnouncement", false) => {
            |c| set_text(c, RoomKind::Public, Text::Announcement)
        }
        ("groups", "setAnnouncement", false) => {
            |c| set_text(c, RoomKind::Private, Text::Announcement)
        }
        ("channels", "setPurpose", false) => |c| set_text(c, RoomKind::Public, Text::Purpose),
        ("groups", "setPurpose", false) => |c| set_text(c, RoomKind::Private, Text::Purpose),
        ("channels", "setReadOnly", false) => |c| set_read_only(c, RoomKind::Public),
        ("groups", "setReadOnly", false) => |c| set_read_only(c, RoomKind::Private),
        ("channels", "setDefault", false) => set_default,
        ("channels", "setJoinCode", false) => set_join_code,
        ("channels", "setCustomFields", false) => |c| set_custom_fields(c, RoomKind::Public),
        ("groups", "setCustomFields", false) => |c| set_custom_fields(c, RoomKind::Private),
        ("channels", "addOwner", false) => |c| role(c, RoomKind::Public, "owner", true),
        ("groups", "addOwner", false) => |c| role(c, RoomKind::Private, "owner", true),
        ("channels", "removeOwner", false) => |c| role(c, RoomKind::Public, "owner", false),
        ("groups", "removeOwner", false) => |c| role(c, RoomKind::Private, "owner", false),
        ("channels", "addModerator", false) => |c| role(c, RoomKind::Public, "moderator", true),
        ("groups", "addModerator", false) => |c| role(c, RoomKind::Private, "moderator", true),
        ("channels", "removeModerator", false) => |c| role(c, RoomKind::Public, "moderator", false),
        ("groups", "removeModerator", false) => |c| role(c, RoomKind::Private, "moderator", false),
        ("channels", "addLeader", false) => |c| role(c, RoomKind::Public, "leader", true),
        ("groups", "addLeader", false) => |c| role(c, RoomKind::Private, "leader", true),
        ("channels", "removeLeader", false) => |c| role(c, RoomKind::Public, "leader", false),
        ("groups", "removeLeader", false) => |c| role(c, RoomKind::Private, "leader", false),
        ("channels", "members", true) => |c| members(c, RoomKind::Public),
        ("groups", "members", true) => |c| members(c, RoomKind::Private),
        ("channels", "roles", true) => |c| roles(c, RoomKind::Public),
        ("groups", "roles", true) => |c| roles(c, RoomKind::Private),
        ("channels", "moderators", true) => |c| moderators(c, RoomKind::Public),
        ("groups", "moderators", true) => |c| moderators(c, RoomKind::Private),
        _ => return None,
    };
    Some(h)
}

fn key(kind: RoomKind) -> &'static str {
    if kind == RoomKind::Public {
        "channel"
    } else {
        "group"
    }
}

/// `findChannelByIdOrName` / `findPrivateGroupByIdOrName`. `member_check` off lets an admin
/// with `kick-user-from-any-p-room` find a group it is not in.
fn find(ctx: &Ctx<'_>, kind: RoomKind, member_check: bool) -> Result<Room, OpError> {
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
    let not_found = || OpError::room_not_found(kind.noun());
    let room = room
        .filter(|r| r.kind == kind)
        .cloned()
        .ok_or_else(not_found)?;
    if kind == RoomKind::Private && member_check && !ctx.w().is_member(&room.id, ctx.uid()) {
        return Err(not_found());
    }
    Ok(room)
}

/// The room document after a change, as `{channel}` / `{group}`.
fn room_reply(ctx: &Ctx<'_>, kind: RoomKind, rid: &str) -> Response<Body> {
    success(json!({key(kind): ctx.w().room_doc(rid)}))
}

fn create(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    if !ctx.can(&format!("create-{}", kind.letter()), None) {
        return unauthorized_403();
    }
    let Some(name) = ctx.body_str("name").map(str::to_owned) else {
        return failure_text("Body param \"name\" is required");
    };
    let mut members = Vec::new();
    for m in ctx
        .body("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(username) = m.as_str() else { continue };
        match ctx.w().user_by_username(username) {
            Some(u) => members.push(u.id.clone()),
            None => return failure(&OpError::meteor("error-invalid-user", "Invalid user")),
        }
    }
    let read_only = ctx
        .body("readOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let custom = ctx.body("customFields").filter(|v| v.is_object()).cloned();
    let uid = ctx.uid().to_owned();
    let world = ctx.world();
    match world.create_room(kind, &name, &uid, &members, read_only) {
        Ok(rid) => {
            if let (Some(cf), Some(room)) = (custom, world.rooms.get_mut(&rid)) {
                room.custom_fields = Some(cf);
            }
            room_reply(ctx, kind, &rid)
        }
        Err(e) => failure(&e),
    }
}

fn info(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let doc = ctx.w().room_doc(&room.id).unwrap_or(Value::Null);
    match project(doc, ctx.query("fields")) {
        Ok(doc) => success(json!({key(kind): doc})),
        Err(e) => failure(&e),
    }
}

/// User ids from `userId` / `userIds` / `username` / `usernames`.
fn targets(ctx: &Ctx<'_>) -> Result<Vec<String>, OpError> {
    let mut out = Vec::new();
    let invalid = || OpError::meteor("error-invalid-user", "Invalid user");
    let mut push_id = |id: &str| -> Result<(), OpError> {
        let id = ctx.w().user(id).map(|u| u.id.clone()).ok_or_else(invalid)?;
        if !out.contains(&id) {
            out.push(id);
        }
        Ok(())
    };
    if let Some(id) = ctx.body_str("userId") {
        push_id(id)?;
    }
    for v in ctx
        .body("userIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = v.as_str() {
            push_id(id)?;
        }
    }
    let mut names: Vec<String> = ctx
        .body_str("username")
        .map(|u| vec![u.to_owned()])
        .unwrap_or_default();
    for v in ctx
        .body("usernames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(n) = v.as_str() {
            names.push(n.to_owned());
        }
    }
    for n in names {
        let id = ctx
            .w()
            .user_by_username(&n)
            .map(|u| u.id.clone())
            .ok_or_else(invalid)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// `addUsersToRoom`: members need `add-user-to-joined-room`, others
/// `add-user-to-any-<t>-room`; each new member gets `au`.
fn invite(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let room = match find(ctx, kind, kind == RoomKind::Private) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let ids = match targets(ctx) {
        Ok(ids) if !ids.is_empty() => ids,
        Ok(_) => return failure(&OpError::meteor("error-invalid-user", "Invalid user")),
        Err(e) => return failure(&e),
    };
    let member = ctx.w().is_member(&room.id, ctx.uid());
    let allowed = (member && ctx.can("add-user-to-joined-room", Some(&room.id)))
        || ctx.can(&format!("add-user-to-any-{}-room", kind.letter()), None);
    if !allowed {
        return failure(&OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            json!({"method": "addUsersToRoom"}),
        ));
    }
    let uid = ctx.uid().to_owned();
    for id in ids {
        if let Err(e) = ctx
            .world()
            .add_user_to_room(&room.id, &id, Some(&uid), false)
        {
            return failure(&e);
        }
    }
    room_reply(ctx, kind, &room.id)
}

/// `removeUserFromRoom` (method): `remove-user` in the room or `kick-user-from-any-<t>-room`;
/// the last owner cannot be removed; `ru`.
fn kick(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let any_room = format!("kick-user-from-any-{}-room", kind.letter());
    let bypass = ctx.can(&any_room, None);
    let room = match find(ctx, kind, !bypass) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let Some(target) = target_user(ctx) else {
        return failure(&OpError::meteor("error-invalid-user", "Invalid user"));
    };
    if !ctx.can("remove-user", Some(&room.id)) && !bypass {
        return failure(&OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            json!({"method": "removeUserFromRoom"}),
        ));
    }
    let uid = ctx.uid().to_owned();
    match ctx
        .world()
        .remove_user_from_room(&room.id, &target, Some(&uid), true)
    {
        Ok(()) => room_reply(ctx, kind, &room.id),
        Err(e) => failure(&e),
    }
}

fn leave(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    match leave_room(ctx, &room) {
        Ok(()) => room_reply(ctx, kind, &room.id),
        Err(e) => failure(&e),
    }
}

fn join(ctx: &mut Ctx<'_>) -> Response<Body> {
    let room = match find(ctx, RoomKind::Public, false) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let code = ctx.body_str("joinCode").map(str::to_owned);
    match join_room(ctx, &room, code.as_deref()) {
        Ok(()) => room_reply(ctx, RoomKind::Public, &room.id),
        Err(e) => failure(&e),
    }
}

fn delete(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    match erase_room(ctx, &room.id) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn edit_room_check(ctx: &Ctx<'_>, rid: &str) -> Result<(), OpError> {
    if ctx.can("edit-room", Some(rid)) {
        Ok(())
    } else {
        Err(OpError::meteor_with(
            "error-action-not-allowed",
            "Editing room is not allowed",
            json!({"method": "saveRoomSettings", "action": "Editing_room"}),
        ))
    }
}

fn apply(ctx: &mut Ctx<'_>, rid: &str, changes: RoomChanges) -> Result<(), OpError> {
    let uid = ctx.uid().to_owned();
    ctx.world().change_room(rid, &uid, changes)
}

fn rename(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let Some(name) = ctx.body_str("name").map(str::to_owned) else {
        return failure_text("The bodyParam \"name\" is required");
    };
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    if room.name.as_deref() == Some(name.as_str()) {
        return failure_text(&format!(
            "The {} name is the same as what it would be renamed to.",
            key(kind)
        ));
    }
    let changes = RoomChanges {
        name: Some(name),
        ..RoomChanges::default()
    };
    match edit_room_check(ctx, &room.id).and_then(|()| apply(ctx, &room.id, changes)) {
        Ok(()) => room_reply(ctx, kind, &room.id),
        Err(e) => failure(&e),
    }
}

#[derive(Debug, Clone, Copy)]
enum Text {
    Topic,
    Description,
    Announcement,
    /// `setPurpose` saves the description.
    Purpose,
}

fn set_text(ctx: &mut Ctx<'_>, kind: RoomKind, which: Text) -> Response<Body> {
    let param = match which {
        Text::Topic => "topic",
        Text::Description => "description",
        Text::Announcement => "announcement",
        Text::Purpose => "purpose",
    };
    let Some(text) = ctx.body(param).and_then(Value::as_str).map(str::to_owned) else {
        return failure_text(&format!("The bodyParam \"{param}\" is required"));
    };
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let mut changes = RoomChanges::default();
    match which {
        Text::Topic => changes.topic = Some(text.clone()),
        Text::Description | Text::Purpose => changes.description = Some(text.clone()),
        Text::Announcement => changes.announcement = Some(text.clone()),
    }
    match edit_room_check(ctx, &room.id).and_then(|()| apply(ctx, &room.id, changes)) {
        Ok(()) => success(json!({param: text})),
        Err(e) => failure(&e),
    }
}

fn set_read_only(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let Some(ro) = ctx.body("readOnly").and_then(Value::as_bool) else {
        return failure_text("The bodyParam \"readOnly\" is required");
    };
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    if room.read_only == ro {
        return failure_text(&format!(
            "The {} read only setting is the same as what it would be changed to.",
            key(kind)
        ));
    }
    if !ctx.can("set-readonly", Some(&room.id)) {
        return failure(&OpError::meteor_with(
            "error-action-not-allowed",
            "Editing readOnly is not allowed",
            json!({"method": "saveRoomSettings", "action": "Editing_room"}),
        ));
    }
    let changes = RoomChanges {
        read_only: Some(ro),
        ..RoomChanges::default()
    };
    match apply(ctx, &room.id, changes) {
        Ok(()) => room_reply(ctx, kind, &room.id),
        Err(e) => failure(&e),
    }
}

fn set_default(ctx: &mut Ctx<'_>) -> Response<Body> {
    let value = match ctx.body("default") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => return failure_text("The bodyParam \"default\" is required"),
    };
    let room = match find(ctx, RoomKind::Public, false) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    if room.default == value {
        return failure_text(
            "The channel default setting is the same as what it would be changed to.",
        );
    }
    if !ctx.can("view-room-administration", None) {
        return failure(&OpError::meteor_with(
            "error-action-not-allowed",
            "Viewing room administration is not allowed",
            json!({"method": "saveRoomSettings", "action": "Viewing_room_administration"}),
        ));
    }
    let changes = RoomChanges {
        default: Some(value),
        ..RoomChanges::default()
    };
    match apply(ctx, &room.id, changes) {
        Ok(()) => room_reply(ctx, RoomKind::Public, &room.id),
        Err(e) => failure(&e),
    }
}

fn set_join_code(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(code) = ctx
        .body("joinCode")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return failure_text("The bodyParam \"joinCode\" is required");
    };
    let room = match find(ctx, RoomKind::Public, false) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let changes = RoomChanges {
        join_code: Some(code),
        ..RoomChanges::default()
    };
    match edit_room_check(ctx, &room.id).and_then(|()| apply(ctx, &room.id, changes)) {
        Ok(()) => room_reply(ctx, RoomKind::Public, &room.id),
        Err(e) => failure(&e),
    }
}

fn set_custom_fields(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let Some(cf) = ctx.body("customFields").filter(|v| v.is_object()).cloned() else {
        return failure_text("The bodyParam \"customFields\" is required with a type like object.");
    };
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let changes = RoomChanges {
        custom_fields: Some(cf),
        ..RoomChanges::default()
    };
    match edit_room_check(ctx, &room.id).and_then(|()| apply(ctx, &room.id, changes)) {
        Ok(()) => room_reply(ctx, kind, &room.id),
        Err(e) => failure(&e),
    }
}

/// `addRoomOwner` / `removeRoomOwner` and the moderator / leader pairs.
fn role(ctx: &mut Ctx<'_>, kind: RoomKind, role: &str, on: bool) -> Response<Body> {
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let Some(target) = ctx
        .body_str("userId")
        .and_then(|id| ctx.w().user(id))
        .map(|u| u.id.clone())
    else {
        return invalid_params("must have required property 'userId'");
    };
    let permission = format!("set-{role}");
    if !ctx.can(&permission, Some(&room.id)) {
        return failure(&OpError::meteor_with(
            "error-not-allowed",
            "Not allowed",
            json!({"method": format!("{}Room{}", if on { "add" } else { "remove" }, capitalize(role))}),
        ));
    }
    if role == "owner" && !on && ctx.w().room_role_holders(&room.id, "owner") == [target.clone()] {
        return failure(&OpError::meteor(
            "error-remove-last-owner",
            "This is the last owner. Please set a new owner before removing this one.",
        ));
    }
    let uid = ctx.uid().to_owned();
    match ctx.world().set_room_role(&room.id, &target, role, on, &uid) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `channels.members` / `groups.members`: `{members, count, offset, total}`, by username,
/// with the `filter` (username or name contains) and `status[]` filters.
fn members(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    if !ctx.w().can_access(&room.id, ctx.uid()) {
        return unauthorized_403();
    }
    member_list(ctx, &room)
}

/// The member list every `*.members` route answers.
pub(super) fn member_list(ctx: &Ctx<'_>, room: &Room) -> Response<Body> {
    let filter = ctx.query("filter").map(str::to_lowercase);
    let statuses: Vec<Presence> = ctx
        .req
        .query
        .iter()
        .filter(|(k, _)| k.starts_with("status"))
        .filter_map(|(_, v)| Presence::parse(v))
        .collect();
    let mut users: Vec<&crate::world::User> = room
        .members
        .iter()
        .filter_map(|m| ctx.w().user(m))
        .filter(|u| {
            filter.as_deref().is_none_or(|f| {
                u.username.to_lowercase().contains(f) || u.name.to_lowercase().contains(f)
            })
        })
        .filter(|u| statuses.is_empty() || statuses.contains(&u.status))
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let docs: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({"_id": u.id, "username": u.username, "name": u.name,
                "status": u.status.as_str(), "_updatedAt": crate::util::ejson_date(u.updated_at)})
        })
        .collect();
    let (offset, count) = pagination(ctx);
    let (members, total) = paginate(docs, offset, count);
    let n = members.len();
    success(json!({"members": members, "count": n, "offset": offset, "total": total}))
}

fn roles(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let list: Vec<Value> = room
        .members
        .iter()
        .filter_map(|m| {
            let sub = ctx.w().subscription(&room.id, m)?;
            if sub.roles.is_empty() {
                return None;
            }
            let u = ctx.w().user(m)?;
            Some(json!({"_id": sub.id, "rid": room.id, "roles": sub.roles,
                "u": {"_id": u.id, "username": u.username, "name": u.name}}))
        })
        .collect();
    success(json!({"roles": list}))
}

fn moderators(ctx: &mut Ctx<'_>, kind: RoomKind) -> Response<Body> {
    let room = match find(ctx, kind, true) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let list: Vec<Value> = ctx
        .w()
        .room_role_holders(&room.id, "moderator")
        .iter()
        .filter_map(|m| ctx.w().user(m))
        .map(|u| json!({"_id": u.id, "username": u.username, "name": u.name}))
        .collect();
    success(json!({"moderators": list}))
}
