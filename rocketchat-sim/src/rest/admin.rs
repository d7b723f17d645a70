//! Settings and permissions over REST: `settings.public` (no login), `settings`,
//! `settings/:_id` (GET needs `view-privileged-setting`, POST `edit-privileged-setting`),
//! `permissions.listAll`, `permissions.update` (`access-permissions`),
//! `permissions.addRole`, `permissions.removeRole`.
//!
//! Sources: `apps/meteor/app/api/server/v1/settings.ts`, `permissions.ts`; tests
//! `settings.ts`, `permissions.ts`.

use std::sync::Arc;

use http::{Method, Response};
use serde_json::{json, Value};

use super::{failure, failure_text, forbidden, paginate, success, Body, Ctx, Handler, Req};
use crate::hub::{Shared, State};
use crate::util::{parse_date_ms, read_ejson_date};
use crate::world::{setting_doc, OpError, PermissionError, Permissions, SettingError};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::GET, "settings") => settings_list,
        (&Method::GET, r) if r.starts_with("settings/") => setting_get,
        (&Method::POST, r) if r.starts_with("settings/") => setting_set,
        (&Method::GET, "permissions.listAll") => permissions_list,
        (&Method::POST, "permissions.update") => permissions_update,
        (&Method::POST, "permissions.addRole") => |c| permission_role(c, true),
        (&Method::POST, "permissions.removeRole") => |c| permission_role(c, false),
        _ => return None,
    };
    Some(h)
}

/// The `_id` filter of the settings lists: one id or a comma-separated list.
fn id_filter(req: &Req) -> Option<Vec<String>> {
    super::query(req, "_id").map(|ids| ids.split(',').map(|s| s.trim().to_owned()).collect())
}

fn offset_count(req: &Req) -> (usize, Option<usize>) {
    let offset = super::query(req, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let count = match super::query(req, "count").map(|c| c.parse::<usize>()) {
        None => Some(50),
        Some(Ok(0)) => None,
        Some(Ok(n)) => Some(n.min(100)),
        Some(Err(_)) => Some(50),
    };
    (offset, count)
}

/// `GET /api/v1/settings.public` (no login): public settings, `{settings, count, offset,
/// total}`.
pub(super) fn settings_public(_: &Arc<Shared>, st: &mut State, req: &Req) -> Response<Body> {
    let ids = id_filter(req);
    let docs: Vec<Value> = st
        .world
        .settings
        .all()
        .filter(|s| s.public)
        .filter(|s| ids.as_ref().is_none_or(|ids| ids.iter().any(|i| i == s.id)))
        .map(|s| json!({"_id": s.id, "value": s.value, "enterprise": false}))
        .collect();
    let (offset, count) = offset_count(req);
    let (settings, total) = paginate(docs, offset, count);
    let n = settings.len();
    success(json!({"settings": settings, "count": n, "offset": offset, "total": total}))
}

/// `GET /api/v1/settings`: every setting for `view-privileged-setting`, the public ones
/// otherwise; `includeDefaults=true` adds `packageValue`.
fn settings_list(ctx: &mut Ctx<'_>) -> Response<Body> {
    let privileged = ctx.can("view-privileged-setting", None);
    let defaults = ctx.query("includeDefaults") == Some("true");
    let ids = id_filter(ctx.req);
    let docs: Vec<Value> = ctx
        .w()
        .settings
        .all()
        .filter(|s| privileged || s.public)
        .filter(|s| ids.as_ref().is_none_or(|ids| ids.iter().any(|i| i == s.id)))
        .map(|s| setting_doc(s, defaults))
        .collect();
    let (offset, count) = offset_count(ctx.req);
    let (settings, total) = paginate(docs, offset, count);
    let n = settings.len();
    success(json!({"settings": settings, "count": n, "offset": offset, "total": total}))
}

fn setting_id(ctx: &Ctx<'_>) -> String {
    ctx.req
        .route
        .strip_prefix("settings/")
        .unwrap_or_default()
        .to_owned()
}

fn setting_get(ctx: &mut Ctx<'_>) -> Response<Body> {
    if !ctx.can("view-privileged-setting", None) {
        return forbidden();
    }
    let id = setting_id(ctx);
    match ctx.w().settings.get(&id) {
        Some(s) => success(json!({"_id": s.id, "value": s.value})),
        None => super::not_found(),
    }
}

fn setting_set(ctx: &mut Ctx<'_>) -> Response<Body> {
    if !ctx.can("edit-privileged-setting", None) {
        return forbidden();
    }
    let id = setting_id(ctx);
    let Some(value) = ctx.body("value").cloned() else {
        return failure_text("Match error: Missing key 'value'");
    };
    let world = ctx.world();
    let now = world.now();
    match world.settings.set(&id, value, now) {
        Ok(()) => success(json!({})),
        Err(SettingError::NotFound) => failure(&OpError::meteor(
            "error-setting-not-found",
            "The setting was not found",
        )),
        Err(SettingError::InvalidValue(reason)) => {
            failure(&OpError::meteor("error-invalid-setting-value", &reason))
        }
    }
}

fn all_permissions(ctx: &Ctx<'_>, since: Option<i64>) -> Vec<Value> {
    ctx.w()
        .permissions
        .map
        .iter()
        .map(|(id, p)| Permissions::doc(id, p))
        .filter(|d| {
            since.is_none_or(|s| d.get("_updatedAt").and_then(read_ejson_date).unwrap_or(0) > s)
        })
        .collect()
}

/// `{update, remove}`; `updatedSince` must be a date.
fn permissions_list(ctx: &mut Ctx<'_>) -> Response<Body> {
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
    success(json!({"update": all_permissions(ctx, since), "remove": []}))
}

fn permission_error(e: PermissionError) -> Response<Body> {
    match e {
        PermissionError::UnknownPermission => failure(&OpError::meteor(
            "error-invalid-permission",
            "Invalid permission",
        )),
        PermissionError::UnknownRole(_) => {
            failure(&OpError::meteor("error-invalid-role", "Invalid role"))
        }
    }
}

/// `{permissions: [{_id, roles}]}`: every id and role must exist; answers every permission.
fn permissions_update(ctx: &mut Ctx<'_>) -> Response<Body> {
    if !ctx.can("access-permissions", None) {
        return forbidden();
    }
    let Some(list) = ctx.body("permissions").and_then(Value::as_array).cloned() else {
        return failure(&OpError::meteor("invalid-params", "must be array"));
    };
    let mut parsed = Vec::new();
    for p in &list {
        let id = p.get("_id").and_then(Value::as_str);
        let roles: Option<Vec<String>> = p
            .get("roles")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|r| r.as_str().map(str::to_owned)).collect());
        let (Some(id), Some(roles)) = (id, roles) else {
            return failure(&OpError::meteor(
                "invalid-params",
                "must have required property '_id'",
            ));
        };
        if !ctx.w().permissions.map.contains_key(id) {
            return permission_error(PermissionError::UnknownPermission);
        }
        if let Some(r) = roles
            .iter()
            .find(|r| !crate::world::KNOWN_ROLES.contains(&r.as_str()))
        {
            return permission_error(PermissionError::UnknownRole(r.clone()));
        }
        parsed.push((id.to_owned(), roles));
    }
    for (id, roles) in parsed {
        if let Err(e) = ctx.world().set_permission_roles(&id, roles) {
            return permission_error(e);
        }
    }
    success(json!({"permissions": all_permissions(ctx, None)}))
}

fn permission_role(ctx: &mut Ctx<'_>, add: bool) -> Response<Body> {
    if !ctx.can("access-permissions", None) {
        return forbidden();
    }
    let (Some(id), Some(role)) = (
        ctx.body_str("permissionId").map(str::to_owned),
        ctx.body_str("role").map(str::to_owned),
    ) else {
        return failure(&OpError::meteor(
            "invalid-params",
            "must have required property 'permissionId'",
        ));
    };
    let Some(mut roles) = ctx.w().permissions.map.get(&id).map(|p| p.roles.clone()) else {
        return permission_error(PermissionError::UnknownPermission);
    };
    if add {
        if !roles.contains(&role) {
            roles.push(role);
        }
    } else {
        roles.retain(|r| r != &role);
    }
    match ctx.world().set_permission_roles(&id, roles) {
        Ok(()) => success(json!({})),
        Err(e) => permission_error(e),
    }
}
