//! `users.*` as an admin provisioning bots uses them: create, info (`includeUserRooms` /
//! `fields={"userRooms":1}`), setActiveStatus, setStatus, getStatus.
//!
//! Sources: `apps/meteor/app/api/server/v1/users.ts`,
//! `apps/meteor/app/lib/server/functions/saveUser/saveNewUser.ts` (default roles from
//! `Accounts_Registration_Users_Default_Roles`; `insertUserDoc` joins the default channels
//! unless `joinDefaultChannels: false`), `getFullUserData.ts`; tests `users.ts` (and the
//! older `users.js` for `users.setStatus`).

use http::{Method, Response};
use serde_json::{json, Value};

use super::{
    failure, failure_text, forbidden, invalid_params, success, unauthorized_403, Body, Ctx, Handler,
};
use crate::world::{AccountType, OpError, Presence};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::GET, "users.info") => info,
        (&Method::POST, "users.create") => create,
        (&Method::POST, "users.setActiveStatus") => set_active_status,
        (&Method::POST, "users.setStatus") => set_status,
        (&Method::GET, "users.getStatus") => get_status,
        _ => return None,
    };
    Some(h)
}

fn info(ctx: &mut Ctx<'_>) -> Response<Body> {
    let user = match (ctx.query("userId"), ctx.query("username")) {
        (Some(id), _) => ctx.w().user(id),
        (None, Some(name)) => ctx.w().user_by_username(name),
        _ => {
            return invalid_params("must have required property 'userId'");
        }
    };
    let Some(user) = user.cloned() else {
        return failure_text("User not found.");
    };
    let Some(Value::Object(mut doc)) = ctx.w().user_doc(&user.id) else {
        return failure_text("User not found.");
    };
    let myself = user.id == ctx.uid();
    if myself || ctx.can("view-full-other-user-info", None) {
        // getFullUserData: services without the password hash (token hashes withheld too).
        let tokens: Vec<Value> = user
            .tokens
            .iter()
            .map(|t| json!({"when": crate::util::ejson_date(t.created_at)}))
            .collect();
        doc.insert(
            "services".into(),
            json!({"password": {}, "resume": {"loginTokens": tokens}}),
        );
    }
    let fields_want_rooms = ctx
        .query("fields")
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        .and_then(|f| f.get("userRooms").and_then(Value::as_i64))
        == Some(1);
    let want_rooms = ctx.query("includeUserRooms") == Some("true") || fields_want_rooms;
    if want_rooms && (myself || ctx.can("view-other-user-channels", None)) {
        let mut rooms: Vec<Value> = ctx
            .w()
            .subscriptions_of(&user.id)
            .into_iter()
            .map(|s| {
                let mut r = serde_json::Map::new();
                for k in ["_id", "rid", "name", "unread", "ts", "t", "roles"] {
                    if let Some(v) = s.get(k) {
                        r.insert(k.into(), v.clone());
                    }
                }
                Value::Object(r)
            })
            .collect();
        rooms.sort_by(|a, b| {
            (a["t"].as_str(), a["name"].as_str()).cmp(&(b["t"].as_str(), b["name"].as_str()))
        });
        doc.insert("rooms".into(), Value::Array(rooms));
    }
    success(json!({"user": doc}))
}

fn create(ctx: &mut Ctx<'_>) -> Response<Body> {
    if !ctx.can("create-user", None) {
        return forbidden();
    }
    for key in ["email", "name", "password", "username"] {
        if ctx.body_str(key).is_none() {
            return invalid_params(&format!("must have required property '{key}'"));
        }
    }
    let roles: Vec<String> = match ctx.body("roles").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => ctx
            .w()
            .settings
            .str(crate::world::setting_id::DEFAULT_ROLES)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let account = if roles.iter().any(|r| r == "bot") {
        AccountType::Bot
    } else {
        AccountType::User
    };
    let (username, name, password, email) = (
        ctx.body_str("username").unwrap_or_default().to_owned(),
        ctx.body_str("name").unwrap_or_default().to_owned(),
        ctx.body_str("password").unwrap_or_default().to_owned(),
        ctx.body_str("email").unwrap_or_default().to_owned(),
    );
    let join_defaults = ctx.body("joinDefaultChannels").and_then(Value::as_bool) != Some(false);
    let silenced = ctx
        .body("joinDefaultChannelsSilenced")
        .and_then(Value::as_bool)
        == Some(true);
    let active = ctx.body("active").and_then(Value::as_bool);
    let world = ctx.world();
    let uid = match world.create_user(
        &username,
        &name,
        account,
        roles,
        Some(password),
        Some(email),
    ) {
        Ok(uid) => uid,
        Err(e) => return failure(&e),
    };
    if join_defaults {
        let mut defaults: Vec<(i64, String)> = world
            .rooms
            .values()
            .filter(|r| r.default && r.kind != crate::world::RoomKind::Direct)
            .map(|r| (r.ts, r.id.clone()))
            .collect();
        defaults.sort();
        for (_, rid) in defaults {
            let _ = world.add_user_to_room(&rid, &uid, None, silenced);
        }
    }
    if active == Some(false) {
        let _ = world.set_active(&uid, false);
    }
    success(json!({"user": world.user_doc(&uid)}))
}

fn set_active_status(ctx: &mut Ctx<'_>) -> Response<Body> {
    if !ctx.can("edit-other-user-active-status", None) {
        return forbidden();
    }
    let (Some(uid), Some(active)) = (
        ctx.body_str("userId").map(str::to_owned),
        ctx.body("activeStatus").and_then(Value::as_bool),
    ) else {
        return invalid_params("must have required property 'activeStatus'");
    };
    match ctx.world().set_active(&uid, active) {
        Ok(()) => success(json!({"user": {"_id": uid, "active": active}})),
        Err(e) => failure(&e),
    }
}

/// `users.setStatus` (users.js): `Accounts_AllowUserStatusMessageChange` gates every change;
/// another user needs `edit-other-user-info`; `offline` needs
/// `Accounts_AllowInvisibleStatusOption`.
fn set_status(ctx: &mut Ctx<'_>) -> Response<Body> {
    let details = json!({"method": "users.setStatus"});
    if !ctx
        .w()
        .settings
        .bool(crate::world::setting_id::ALLOW_STATUS_MESSAGE_CHANGE)
    {
        return failure(&OpError::meteor_with(
            "error-not-allowed",
            "Change status is not allowed",
            details,
        ));
    }
    let target = match (ctx.body_str("userId"), ctx.body_str("username")) {
        (None, None) => ctx.uid().to_owned(),
        (Some(id), _) if id == ctx.uid() => id.to_owned(),
        (None, Some(name)) if name == ctx.user.username => ctx.uid().to_owned(),
        _ => {
            if !ctx.can("edit-other-user-info", None) {
                return unauthorized_403();
            }
            match super::rooms::target_user(ctx) {
                Some(id) => id,
                None => return failure(&OpError::meteor("error-invalid-user", "The required \"userId\" or \"username\" param provided does not match any users")),
            }
        }
    };
    let text = ctx
        .body("message")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let status = match ctx.body_str("status") {
        None => None,
        Some(s) => match Presence::parse(s) {
            Some(Presence::Offline)
                if !ctx
                    .w()
                    .settings
                    .bool(crate::world::setting_id::ALLOW_INVISIBLE_STATUS) =>
            {
                return failure(&OpError::meteor_with(
                    "error-status-not-allowed",
                    "Invisible status is disabled",
                    details,
                ))
            }
            Some(p) => Some(p),
            None => {
                return failure(&OpError::meteor_with(
                    "error-invalid-status",
                    "Valid status types include online, away, offline, and busy.",
                    details,
                ))
            }
        },
    };
    match ctx.world().set_status(&target, status, text) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn get_status(ctx: &mut Ctx<'_>) -> Response<Body> {
    let target = super::rooms::target_user(ctx).unwrap_or_else(|| ctx.uid().to_owned());
    let Some(user) = ctx.w().user(&target) else {
        return failure_text("User not found.");
    };
    let mut body = json!({"_id": user.id, "status": user.status.as_str(),
        "connectionStatus": "online"});
    if user.id == ctx.uid() {
        if let Some(o) = body.as_object_mut() {
            o.insert(
                "message".into(),
                json!(user.status_text.clone().unwrap_or_default()),
            );
        }
    }
    success(body)
}
