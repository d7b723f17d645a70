//! REST `/api/v1` and `/api/info` (reference section 4), with Rocket.Chat's envelopes:
//! `success:true` merged into bodies, `{"success":false,"error":"Reason [code]","errorType":code}`
//! for `Meteor.Error`s, plain `{"success":false,"error":text}` otherwise, typed-route schema
//! errors (`errorType: "error-invalid-params"`, checked before authentication), the legacy 401
//! body, 403 bodies, 429 with `X-RateLimit-*` (Reset in absolute epoch ms), and ISO dates.
//!
//! Layout: this module owns the request type, envelopes, authentication, the rate limiter and
//! the route table; each endpoint group has its module: `auth` (login, me, info, PATs, 2FA),
//! `chat`, `rooms`, `channels` (channels.* and groups.*), `im`, `users`, `admin` (settings,
//! permissions), `subscriptions`, `emoji`, `history`, `uploads` (multipart and downloads)
//! and `hooks` (incoming webhooks).

mod admin;
mod auth;
mod channels;
mod chat;
mod emoji;
pub(crate) mod history;
pub(crate) mod hooks;
mod im;
mod rooms;
mod subscriptions;
pub(crate) mod uploads;
mod users;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Map, Value};

use crate::hub::{Shared, State};
use crate::util::{now_ms, to_rest};
use crate::world::{OpError, User, World};

pub(crate) use auth::info;

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

/// One authenticated call: the state (locked), the request and the caller.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) st: &'a mut State,
    pub(crate) req: &'a Req,
    pub(crate) user: User,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("req", &self.req)
            .field("user", &self.user.id)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    pub(crate) fn uid(&self) -> &str {
        &self.user.id
    }

    pub(crate) fn world(&mut self) -> &mut World {
        &mut self.st.world
    }

    pub(crate) fn w(&self) -> &World {
        &self.st.world
    }

    /// A string body parameter (empty strings count as missing).
    pub(crate) fn body_str(&self, key: &str) -> Option<&str> {
        self.req
            .body
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub(crate) fn body(&self, key: &str) -> Option<&Value> {
        self.req.body.get(key)
    }

    pub(crate) fn query(&self, key: &str) -> Option<&str> {
        query(self.req, key)
    }

    /// A request parameter from the query (GET) or the body (other methods).
    pub(crate) fn param(&self, key: &str) -> Option<&str> {
        if self.req.method == Method::GET {
            self.query(key)
        } else {
            self.body_str(key)
        }
    }

    /// `hasPermissionAsync(caller, permission, rid)`.
    pub(crate) fn can(&self, permission: &str, rid: Option<&str>) -> bool {
        self.w().has_permission(self.uid(), permission, rid)
    }
}

/// A route handler.
pub(crate) type Handler = fn(&mut Ctx<'_>) -> Response<Body>;

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

/// `API.v1.failure(...)` for a thrown error: a `Meteor.Error` gives `"<reason> [<code>]"`
/// (or `"[<code>]"` without a reason) and `errorType`; a plain error its text.
pub(crate) fn failure(err: &OpError) -> Response<Body> {
    let body = match err {
        OpError::Meteor {
            code,
            reason,
            details,
        } => {
            let text = if reason.is_empty() {
                format!("[{code}]")
            } else {
                format!("{reason} [{code}]")
            };
            let mut b = json!({"success": false, "error": text, "errorType": code});
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

/// `validateParams` (legacy routes, after authentication): `"<ajv message> [invalid-params]"`.
pub(crate) fn invalid_params(msg: &str) -> Response<Body> {
    failure(&OpError::meteor("invalid-params", msg))
}

/// A typed-route schema failure (validated before authentication, `router.ts`).
pub(crate) fn typed_invalid(msg: &str) -> Response<Body> {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"success": false, "errorType": "error-invalid-params", "error": msg}),
    )
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

/// `permissionsRequired` not met (`API.v1.forbidden()` of the router).
pub(crate) fn forbidden() -> Response<Body> {
    json_response(
        StatusCode::FORBIDDEN,
        &json!({"success": false,
            "error": "User does not have the permissions required for this action [error-unauthorized]"}),
    )
}

/// `API.v1.unauthorized()` from a handler: a 403 with `error: "unauthorized"`.
pub(crate) fn unauthorized_403() -> Response<Body> {
    json_response(
        StatusCode::FORBIDDEN,
        &json!({"success": false, "error": "unauthorized"}),
    )
}

pub(crate) fn not_found() -> Response<Body> {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"success": false, "error": "Resource not found"}),
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

pub(crate) fn header<'a>(req: &'a Req, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn client_ip(req: &Req) -> String {
    // HTTP_FORWARDED_COUNT=1: trust one proxy, so the client is the last X-Forwarded-For entry.
    header(req, "x-forwarded-for")
        .and_then(|v| v.rsplit(',').next())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| req.peer.ip().to_string())
}

pub(crate) fn query<'a>(req: &'a Req, key: &str) -> Option<&'a str> {
    req.query
        .get(key)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// A route that needs no login.
type PublicHandler = fn(&Arc<Shared>, &mut State, &Req) -> Response<Body>;

/// Routes that need no login.
fn public_route(method: &Method, route: &str) -> Option<PublicHandler> {
    match (method, route) {
        (&Method::POST, "login") => Some(auth::login),
        (&Method::GET, "settings.public") => Some(admin::settings_public),
        _ => None,
    }
}

/// The authenticated route table.
fn handler(method: &Method, route: &str) -> Option<Handler> {
    auth::route(method, route)
        .or_else(|| chat::route(method, route))
        .or_else(|| rooms::route(method, route))
        .or_else(|| channels::route(method, route))
        .or_else(|| im::route(method, route))
        .or_else(|| users::route(method, route))
        .or_else(|| admin::route(method, route))
        .or_else(|| subscriptions::route(method, route))
        .or_else(|| emoji::route(method, route))
        .or_else(|| history::route(method, route))
        .or_else(|| uploads::route(method, route))
}

/// Entry point for `/api/v1/*`.
pub(crate) async fn handle_v1(shared: &Arc<Shared>, req: Req) -> Reply {
    let latency = shared.lock().faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // Typed routes validate their schema before authentication.
    if let Some(resp) = chat::schema_check(&req).or_else(|| im::schema_check(&req)) {
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
    let public = public_route(&req.method, &req.route);
    let mut resp = match (user, public) {
        (_, Some(f)) => f(shared, &mut st, &req),
        (None, None) => {
            if handler(&req.method, &req.route).is_some() {
                unauthorized(shared.config.legacy_auth_bodies)
            } else {
                // Unknown routes are 404 whether logged in or not.
                not_found()
            }
        }
        (Some(user), None) => {
            let Some(h) = handler(&req.method, &req.route) else {
                return Reply::Respond(not_found());
            };
            let drop_response =
                req.route == "chat.sendMessage" && st.faults.drop_next_send_response;
            let mut ctx = Ctx {
                shared,
                st: &mut st,
                req: &req,
                user,
            };
            let resp = h(&mut ctx);
            if drop_response && resp.status() == StatusCode::OK {
                st.faults.drop_next_send_response = false;
                st.flush();
                return Reply::DropConnection;
            }
            resp
        }
    };
    st.flush();
    if let Some((limit, remaining, reset_in)) = limit_headers {
        add_rate_headers(&mut resp, limit, remaining, reset_in);
    }
    Reply::Respond(resp)
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
    let bypass = user.is_some_and(|u| {
        st.world
            .has_permission(&u.id, "api-bypass-rate-limit", None)
    });
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

/// `getPaginationItems`: `count` (default 50, at most 100, 0 = all) and `offset`.
pub(crate) fn pagination(ctx: &Ctx<'_>) -> (usize, Option<usize>) {
    let offset = ctx
        .query("offset")
        .and_then(|o| o.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let count = match ctx.query("count").map(|c| c.trim().parse::<i64>()) {
        None => Some(50),
        Some(Ok(0)) => None,
        Some(Ok(n)) if n > 0 => Some(usize::try_from(n).unwrap_or(100).min(100)),
        Some(_) => Some(50),
    };
    (offset, count)
}

/// Applies offset and count to a list; returns the page and the total.
pub(crate) fn paginate(
    items: Vec<Value>,
    offset: usize,
    count: Option<usize>,
) -> (Vec<Value>, usize) {
    let total = items.len();
    let rest = items.into_iter().skip(offset);
    let page = match count {
        Some(c) => rest.take(c).collect(),
        None => rest.collect(),
    };
    (page, total)
}
