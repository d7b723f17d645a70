//! `users.*` as an admin provisioning bots uses them: create, update, info
//! (`includeUserRooms` / `fields={"userRooms":1}`), setActiveStatus, setStatus, getStatus.
//!
//! Sources: `apps/meteor/app/api/server/v1/users.ts`,
//! `packages/rest-typings/src/v1/users/UsersUpdateParamsPOST.ts` (the `users.update` schema),
//! `apps/meteor/app/lib/server/functions/saveUser/{saveUser,validateUserData,
//! validateUserEditing,setPasswordUpdater}.ts` (`users.update`),
//! `apps/meteor/app/lib/server/functions/saveUser/saveNewUser.ts` (default roles from
//! `Accounts_Registration_Users_Default_Roles`; `insertUserDoc` joins the default channels
//! unless `joinDefaultChannels: false`), `getFullUserData.ts`; tests `users.ts` (and the
//! older `users.js` for `users.setStatus`).

use http::{Method, Response};
use serde_json::{json, Value};

use super::{
    failure, failure_text, forbidden, invalid_params, success, unauthorized_403, Body, Ctx, Handler,
};
use crate::world::{AccountType, OpError, Presence, UserUpdate, KNOWN_ROLES};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::GET, "users.info") => info,
        (&Method::POST, "users.create") => create,
        (&Method::POST, "users.update") => update,
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

/// The JSON type a `users.update` body key must have (`UsersUpdateParamsPOST`; every
/// `data.*` key is `nullable`).
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    StrArray,
    Object,
}

/// `data.*` keys of the 8.x schema (`additionalProperties: false`: `joinDefaultChannels` is
/// not one of them).
const UPDATE_DATA_KEYS: &[(&str, Kind)] = &[
    ("email", Kind::Str),
    ("name", Kind::Str),
    ("password", Kind::Str),
    ("username", Kind::Str),
    ("bio", Kind::Str),
    ("nickname", Kind::Str),
    ("statusText", Kind::Str),
    ("active", Kind::Bool),
    ("roles", Kind::StrArray),
    ("requirePasswordChange", Kind::Bool),
    ("setRandomPassword", Kind::Bool),
    ("sendWelcomeEmail", Kind::Bool),
    ("verified", Kind::Bool),
    ("customFields", Kind::Object),
    ("status", Kind::Str),
];

/// Schema keys the simulator accepts but does not simulate: a request with one of them is
/// refused (`400`, plain error) rather than half applied.
const UPDATE_NOT_SIMULATED: &[&str] = &[
    "username",
    "bio",
    "nickname",
    "setRandomPassword",
    "sendWelcomeEmail",
    "customFields",
    "status",
];

/// `isUsersUpdateParamsPOST` (legacy `validateParams`, checked after authentication): the
/// ajv message of the first failure.
fn update_schema(body: &Value) -> Result<(), &'static str> {
    let Some(top) = body.as_object() else {
        return Err("must be object");
    };
    for key in ["userId", "data"] {
        if !top.contains_key(key) {
            return Err(match key {
                "userId" => "must have required property 'userId'",
                _ => "must have required property 'data'",
            });
        }
    }
    if top
        .keys()
        .any(|k| !["userId", "data", "confirmRelinquish"].contains(&k.as_str()))
    {
        return Err("must NOT have additional properties");
    }
    match top.get("userId") {
        Some(Value::String(id)) if id.is_empty() => {
            return Err("must NOT have fewer than 1 characters")
        }
        Some(Value::String(_)) => {}
        _ => return Err("must be string"),
    }
    if top
        .get("confirmRelinquish")
        .is_some_and(|v| !v.is_boolean())
    {
        return Err("must be boolean");
    }
    let Some(data) = top.get("data").and_then(Value::as_object) else {
        return Err("must be object");
    };
    for (key, value) in data {
        let Some((_, kind)) = UPDATE_DATA_KEYS.iter().find(|(k, _)| k == key) else {
            return Err("must NOT have additional properties");
        };
        let ok = match (kind, value) {
            (_, Value::Null) => true,
            (Kind::Str, v) => v.is_string(),
            (Kind::Bool, v) => v.is_boolean(),
            (Kind::StrArray, Value::Array(items)) => items.iter().all(Value::is_string),
            (Kind::StrArray, _) => false,
            (Kind::Object, v) => v.is_object(),
        };
        if !ok {
            return Err(match kind {
                Kind::Str => "must be string",
                Kind::Bool => "must be boolean",
                Kind::StrArray => "must be array",
                Kind::Object => "must be object",
            });
        }
    }
    Ok(())
}

/// `users.update {userId, data, confirmRelinquish?}` (`twoFactorRequired`): `saveUser` on an
/// existing user, then `setUserActiveStatus` when `data.active` is given; answers `{user}`.
///
/// Permissions and settings, as upstream checks them: another user needs
/// `edit-other-user-info`; `roles` must be known role ids, `admin` needs `assign-admin-role`
/// and any change `assign-roles`; `verified` on oneself is refused; with
/// `Accounts_AllowUserProfileChange` off the caller needs `edit-other-user-info` or
/// `edit-other-user-password`; a changed name / e-mail / status text with
/// `Accounts_AllowRealNameChange` / `Accounts_AllowEmailChange` /
/// `Accounts_AllowUserStatusMessageChange` off needs `edit-other-user-info` on another user; a
/// password with `Accounts_AllowPasswordChange` off needs `edit-other-user-password` on
/// another user. A password is only *set* when the caller has `edit-other-user-password`
/// (without it the call still succeeds and the password stays as it was, as in `saveUser`);
/// setting it removes every login token and PAT of the user. The password policy
/// (`Accounts_Password_Policy_*`, off by default) is not simulated, and `requirePasswordChange`
/// is accepted but not stored. An unknown `userId` is
/// `Invalid user [error-invalid-user]` [derived: upstream falls through to `saveNewUser`, which
/// fails for want of a username].
fn update(ctx: &mut Ctx<'_>) -> Response<Body> {
    if let Err(msg) = update_schema(&ctx.req.body) {
        return invalid_params(msg);
    }
    if let Err(resp) = super::auth::two_factor(ctx) {
        return resp;
    }
    let uid = ctx.body_str("userId").unwrap_or_default().to_owned();
    let data = ctx.body("data").cloned().unwrap_or_else(|| json!({}));
    let given = |key: &str| data.get(key).filter(|v| !v.is_null());
    if let Some(key) = UPDATE_NOT_SIMULATED.iter().find(|k| given(k).is_some()) {
        return failure_text(&format!(
            "users.update: data.{key} is not simulated by rocketchat-sim"
        ));
    }
    let text = |key: &str| given(key).and_then(Value::as_str).map(str::to_owned);
    let flag = |key: &str| given(key).and_then(Value::as_bool);
    let roles: Option<Vec<String>> = given("roles").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect()
    });
    let (name, email, password, status_text) = (
        text("name"),
        text("email"),
        text("password"),
        text("statusText"),
    );
    let (verified, active) = (flag("verified"), flag("active"));

    let not_allowed = |reason: &str, action: &str| {
        failure(&OpError::meteor_with(
            "error-action-not-allowed",
            reason,
            json!({"method": "insertOrUpdateUser", "action": action}),
        ))
    };
    let myself = uid == ctx.uid();
    let can_info = ctx.can("edit-other-user-info", None);
    let can_password = ctx.can("edit-other-user-password", None);

    // validateUserData
    if verified == Some(true) && myself {
        return not_allowed("Editing email verification is not allowed", "Editing_user");
    }
    if !myself && !can_info {
        return not_allowed("Editing user is not allowed", "Editing_user");
    }
    if let Some(roles) = &roles {
        if roles.iter().any(|r| !KNOWN_ROLES.contains(&r.as_str())) {
            return not_allowed("The field Roles consist invalid role id", "Assign_role");
        }
        if roles.iter().any(|r| r == "admin") && !ctx.can("assign-admin-role", None) {
            return not_allowed("Assigning admin is not allowed", "Assign_admin");
        }
    }
    let Some(target) = ctx.w().user(&uid).cloned() else {
        return failure(&OpError::meteor("error-invalid-user", "Invalid user"));
    };

    // validateUserEditing
    let settings = &ctx.w().settings;
    let allowed = |id: &str| settings.bool(id);
    use crate::world::setting_id as s;
    if let Some(roles) = &roles {
        let changed = roles.iter().any(|r| !target.roles.contains(r))
            || target.roles.iter().any(|r| !roles.contains(r));
        if changed && !ctx.can("assign-roles", None) {
            return not_allowed("Assign roles is not allowed", "Assign_role");
        }
    }
    if !allowed(s::ALLOW_USER_PROFILE_CHANGE) && !can_info && !can_password {
        return not_allowed("Edit user profile is not allowed", "Update_user");
    }
    let other_info_ok = can_info && !myself;
    if status_text.is_some()
        && status_text != target.status_text
        && !allowed(s::ALLOW_STATUS_MESSAGE_CHANGE)
        && !other_info_ok
    {
        return not_allowed("Edit user status is not allowed", "Update_user");
    }
    if name.as_deref().is_some_and(|n| n != target.name)
        && !allowed(s::ALLOW_REAL_NAME_CHANGE)
        && !other_info_ok
    {
        return not_allowed("Edit user real name is not allowed", "Update_user");
    }
    if target.email.is_some()
        && email.is_some()
        && email != target.email
        && !allowed(s::ALLOW_EMAIL_CHANGE)
        && !other_info_ok
    {
        return not_allowed("Edit user email is not allowed", "Update_user");
    }
    if password.as_deref().is_some_and(|p| !p.is_empty())
        && !allowed(s::ALLOW_PASSWORD_CHANGE)
        && (!can_password || myself)
    {
        return not_allowed("Edit user password is not allowed", "Update_user");
    }

    let change = UserUpdate {
        name,
        email,
        verified,
        // saveUser: set only with edit-other-user-password, otherwise silently kept.
        password: password.filter(|_| can_password),
        roles,
        status_text,
    };
    if let Err(e) = ctx.world().update_user(&uid, change) {
        return failure(&e);
    }
    if let Some(active) = active {
        // The setUserActiveStatus method.
        if !ctx.can("edit-other-user-active-status", None) {
            return failure(&OpError::meteor_with(
                "error-not-allowed",
                "Not allowed",
                json!({"method": "setUserActiveStatus"}),
            ));
        }
        if let Err(e) = ctx.world().set_active(&uid, active) {
            return failure(&e);
        }
    }
    match ctx.w().user_doc(&uid) {
        Some(doc) => success(json!({"user": doc})),
        None => failure_text("User not found"),
    }
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
