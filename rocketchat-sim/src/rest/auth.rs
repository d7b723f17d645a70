//! Login, logout, `me`, `/api/info`, Personal Access Tokens and the REST 2FA check.
//!
//! Sources: `apps/meteor/app/api/server/v1/misc.ts` (`me`, with `settings.preferences`),
//! `apps/meteor/app/api/server/v1/users.ts` (PATs), `apps/meteor/app/api/server/api.ts`
//! (`login`, which passes its body to Meteor's login handlers: `{user, password}` with `user`
//! a username, an e-mail or `{username}` / `{email}`, `{username, password}`, `{resume}`),
//! `apps/meteor/app/2fa/server/code/index.ts`; tests `miscellaneous.ts` ("/login", "/me",
//! "/api/info").

use std::sync::Arc;

use http::{HeaderMap, Method, Response, StatusCode};
use serde_json::{json, Value};

use super::{failure, failure_text, header, json_response, success, Body, Ctx, Handler, Req};
use crate::hub::{Shared, State};
use crate::util::{now_ms, sha256_hex, to_rest};
use crate::world::{default_preferences, Emit, OpError, User};

pub(super) fn route(method: &Method, route: &str) -> Option<Handler> {
    let h: Handler = match (method, route) {
        (&Method::GET, "me") => me,
        (&Method::POST, "logout") => logout,
        (&Method::POST, "users.generatePersonalAccessToken") => generate_pat,
        (&Method::POST, "users.regeneratePersonalAccessToken") => regenerate_pat,
        (&Method::POST, "users.removePersonalAccessToken") => remove_pat,
        (&Method::GET, "users.getPersonalAccessTokens") => list_pats,
        _ => return None,
    };
    Some(h)
}

/// `GET /api/info` (no auth). A logged-in caller gets the full version (the test logs in
/// as an admin; `miscellaneous.ts` "/api/info").
pub(crate) fn info(shared: &Arc<Shared>, headers: &HeaderMap) -> Response<Body> {
    let st = shared.lock();
    let logged_in = match (
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
    if logged_in {
        body = json!({"version": "8.2.0",
            "info": {"version": "8.2.0", "build": {}, "commit": {}, "marketplaceApiVersion": "1.0.0"},
            "minimumClientVersions": {"desktop": "3.9.6", "mobile": "4.39.0"}});
    }
    success(body)
}

/// The `me` document: the user plus `email`, `settings.preferences`, `avatarUrl`; no
/// `services`.
fn me_doc(st: &State, uid: &str) -> Option<Value> {
    let Some(Value::Object(mut doc)) = st.world.user_doc(uid) else {
        return None;
    };
    let user = st.world.user(uid)?;
    if let Some(email) = &user.email {
        doc.insert("email".into(), json!(email));
    }
    doc.insert(
        "settings".into(),
        json!({"profile": {}, "preferences": default_preferences()}),
    );
    doc.insert(
        "avatarUrl".into(),
        json!(format!("/avatar/{}", user.username)),
    );
    Some(Value::Object(doc))
}

fn me(ctx: &mut Ctx<'_>) -> Response<Body> {
    match me_doc(ctx.st, ctx.uid()) {
        Some(doc) => success(doc),
        None => super::not_found(),
    }
}

/// The password as given: plain text, or Meteor's `{digest, algorithm: "sha-256"}`.
fn password_matches(user: &User, given: &Value) -> bool {
    let Some(stored) = user.password.as_deref() else {
        return false;
    };
    match given {
        Value::String(p) => p == stored,
        Value::Object(o) => o
            .get("digest")
            .and_then(Value::as_str)
            .is_some_and(|d| d == sha256_hex(stored)),
        _ => false,
    }
}

/// `POST /api/v1/login`.
pub(super) fn login(_shared: &Arc<Shared>, st: &mut State, req: &Req) -> Response<Body> {
    let fail = || {
        json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"status": "error", "error": "Unauthorized", "message": "Unauthorized"}),
        )
    };
    let body = &req.body;
    let (uid, token) = if let Some(token) = body.get("resume").and_then(Value::as_str) {
        match st.world.user_by_token(token) {
            Some(u) if u.active => (u.id.clone(), token.to_owned()),
            _ => return fail(),
        }
    } else {
        let who = match (body.get("user"), body.get("username"), body.get("email")) {
            (Some(Value::String(s)), _, _) => Some(s.clone()),
            (Some(Value::Object(o)), _, _) => o
                .get("username")
                .or_else(|| o.get("email"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            (_, Some(Value::String(s)), _) | (_, _, Some(Value::String(s))) => Some(s.clone()),
            _ => None,
        };
        let (Some(who), Some(password)) = (who, body.get("password")) else {
            return fail();
        };
        let Some(user) = st
            .world
            .user_by_login(&who)
            .filter(|u| u.active && password_matches(u, password))
        else {
            return fail();
        };
        let uid = user.id.clone();
        match st.world.create_login_token(&uid) {
            Some(t) => (uid, t),
            None => return fail(),
        }
    };
    let me = me_doc(st, &uid).map(|d| to_rest(&d)).unwrap_or(Value::Null);
    json_response(
        StatusCode::OK,
        &json!({"status": "success", "data": {"userId": uid, "authToken": token, "me": me}}),
    )
}

/// `POST /api/v1/logout`: the token used is removed (its sockets close).
fn logout(ctx: &mut Ctx<'_>) -> Response<Body> {
    let token = header(ctx.req, "x-auth-token")
        .unwrap_or_default()
        .to_owned();
    let uid = ctx.uid().to_owned();
    let hashed = crate::util::hash_token(&token);
    let world = ctx.world();
    if let Some(u) = world.users.get_mut(&uid) {
        u.tokens.retain(|t| t.hashed != hashed);
    }
    world.emit(Emit::CloseToken { hashed });
    json_response(
        StatusCode::OK,
        &json!({"status": "success", "data": {"message": "You've been logged out!"}}),
    )
}

#[allow(clippy::result_large_err)]
/// The REST 2FA check of `twoFactorRequired` routes (`apps/meteor/app/2fa/server/code/index.ts`).
pub(super) fn two_factor(ctx: &Ctx<'_>) -> Result<(), Response<Body>> {
    if !ctx.w().settings.two_factor_enabled() {
        return Ok(());
    }
    let user = &ctx.user;
    let token = header(ctx.req, "x-auth-token").unwrap_or_default();
    if ctx
        .w()
        .token_of(&user.id, token)
        .is_some_and(|t| t.name.is_some() && t.bypass_two_factor)
    {
        return Ok(());
    }
    let remember = ctx.shared.config.two_factor_remember.as_millis() as i64;
    if remember > 0 && now_ms() - user.created_at < remember {
        return Ok(());
    }
    let (method, code) = (
        header(ctx.req, "x-2fa-method"),
        header(ctx.req, "x-2fa-code"),
    );
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

fn generate_pat(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(name) = ctx.body_str("tokenName").map(str::to_owned) else {
        return failure_text("The 'tokenName' param is required");
    };
    if let Err(resp) = two_factor(ctx) {
        return resp;
    }
    if !ctx.can("create-personal-access-tokens", None) {
        return failure(&OpError::meteor("not-authorized", "Not Authorized"));
    }
    let bypass = ctx
        .body("bypassTwoFactor")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let uid = ctx.uid().to_owned();
    match ctx.world().create_pat(&uid, &name, bypass) {
        Ok(token) => success(json!({"token": token})),
        Err(e) => failure(&e),
    }
}

fn regenerate_pat(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(name) = ctx.body_str("tokenName").map(str::to_owned) else {
        return failure_text("The 'tokenName' param is required");
    };
    if let Err(resp) = two_factor(ctx) {
        return resp;
    }
    if !ctx.can("create-personal-access-tokens", None) {
        return failure(&OpError::meteor("not-authorized", "Not Authorized"));
    }
    let uid = ctx.uid().to_owned();
    let bypass = ctx
        .w()
        .user(&uid)
        .and_then(|u| {
            u.tokens
                .iter()
                .find(|t| t.name.as_deref() == Some(name.as_str()))
        })
        .map(|t| t.bypass_two_factor);
    let Some(bypass) = bypass else {
        return failure(&OpError::meteor("not-authorized", "Not Authorized"));
    };
    let world = ctx.world();
    if let Err(e) = world.remove_pat(&uid, &name) {
        return failure(&e);
    }
    match world.create_pat(&uid, &name, bypass) {
        Ok(token) => success(json!({"token": token})),
        Err(e) => failure(&e),
    }
}

fn remove_pat(ctx: &mut Ctx<'_>) -> Response<Body> {
    let Some(name) = ctx.body_str("tokenName").map(str::to_owned) else {
        return failure_text("The 'tokenName' param is required");
    };
    if let Err(resp) = two_factor(ctx) {
        return resp;
    }
    if !ctx.can("create-personal-access-tokens", None) {
        return failure(&OpError::meteor("not-authorized", "Not Authorized"));
    }
    let uid = ctx.uid().to_owned();
    match ctx.world().remove_pat(&uid, &name) {
        Ok(()) => success(json!({})),
        Err(e) => failure(&e),
    }
}

fn list_pats(ctx: &mut Ctx<'_>) -> Response<Body> {
    if !ctx.can("create-personal-access-tokens", None) {
        return failure(&OpError::meteor("not-authorized", "Not Authorized"));
    }
    success(json!({"tokens": ctx.w().pat_list(ctx.uid())}))
}
