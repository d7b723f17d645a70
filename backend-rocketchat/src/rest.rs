//! The REST client: one keep-alive connection pool (hyper-util's client over hyper-rustls),
//! the auth headers, the error envelope, 401 → fatal, and 429 → wait for
//! `X-RateLimit-Reset` and retry.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::backoff::{wait_for_reset, RateLimitBudget};
use crate::config::{RocketChatConfig, Secret, ServerUrl};
use crate::error::RcError;
use crate::fatal::Fatal;
use crate::wire::{Lenient, WireMessage, WireRoom};

/// `{message}` of `chat.sendMessage` and `chat.getMessage` (null or odd: none).
#[derive(serde::Deserialize)]
struct WireLenientAnswer {
    #[serde(default)]
    message: Option<Lenient<WireMessage>>,
}

/// `{messages}` of the history endpoints (`*.history`, `chat.getThreadMessages`).
#[derive(serde::Deserialize)]
pub(crate) struct WireMessagesAnswer {
    pub(crate) messages: Vec<Lenient<WireMessage>>,
}

/// Responses larger than this are refused (a message document is a few KB).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The crate's one HTTP client: a keep-alive pool over the shared TLS config, the
/// request timeout and the answer size cap. [`Rest`] (the channel) and
/// [`crate::admin::AdminRest`] (admin tools) both send through it.
#[derive(Clone)]
pub(crate) struct Transport {
    client: HttpsClient,
    base: String,
    timeout: Duration,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Why an exchange produced no answer. Never holds anything from the request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// No connection, or the TLS handshake failed (`tls` holds rustls' reason then).
    #[error("{endpoint}: {detail}")]
    Connect {
        endpoint: String,
        /// The whole error chain, as one line.
        detail: String,
        /// The innermost cause (what the OS or rustls said).
        cause: String,
        tls: Option<String>,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The connection broke while the answer was read.
    #[error("{endpoint}: reading the body: {source}")]
    Body {
        endpoint: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{endpoint}: the answer is larger than {limit} bytes")]
    TooLarge { endpoint: String, limit: usize },
    #[error("{0} timed out")]
    Timeout(String),
}

impl From<TransportError> for RcError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::TooLarge { endpoint, limit } => {
                RcError::ResponseTooLarge { endpoint, limit }
            }
            TransportError::Timeout(endpoint) => RcError::Timeout(endpoint),
            e @ (TransportError::Connect { .. } | TransportError::Body { .. }) => {
                RcError::Transport(e.to_string())
            }
        }
    }
}

/// A request's answer, read whole.
pub(crate) type Answer = (StatusCode, http::HeaderMap, Bytes);

impl Transport {
    /// `https_only` unless the URL itself is plain http (allowed by the caller's flag).
    pub(crate) fn new(url: &ServerUrl, tls: Arc<rustls::ClientConfig>, timeout: Duration) -> Self {
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config((*tls).clone());
        let https = if url.tls {
            builder.https_only().enable_http1().build()
        } else {
            builder.https_or_http().enable_http1().build()
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Self {
            client,
            base: url.http_base(),
            timeout,
        }
    }

    /// Origin plus path prefix, without a trailing slash.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `/api/v1/<endpoint>` (or `/api/<endpoint>` when it starts with `/`), with the query.
    pub(crate) fn endpoint_uri<K: AsRef<str>, V: AsRef<str>>(
        &self,
        endpoint: &str,
        query: &[(K, V)],
    ) -> String {
        let path = match endpoint.strip_prefix('/') {
            Some(p) => format!("{}/api/{p}", self.base),
            None => format!("{}/api/v1/{endpoint}", self.base),
        };
        if query.is_empty() {
            return path;
        }
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        format!("{path}?{q}")
    }

    /// One request, its answer read whole under [`MAX_BODY_BYTES`], all within the timeout.
    pub(crate) async fn exchange(
        &self,
        req: Request<Full<Bytes>>,
        name: &str,
    ) -> Result<Answer, TransportError> {
        let fut = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| connect_error(name, e))?;
            let (parts, body) = resp.into_parts();
            let too_large = || TransportError::TooLarge {
                endpoint: name.to_owned(),
                limit: MAX_BODY_BYTES,
            };
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<usize>().ok());
            if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
            let bytes = limited
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        too_large()
                    } else {
                        TransportError::Body {
                            endpoint: name.to_owned(),
                            source: e,
                        }
                    }
                })?
                .to_bytes();
            Ok((parts.status, parts.headers, bytes))
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| TransportError::Timeout(name.to_owned()))?
    }

    /// One request whose body is left unread (the caller streams it with its own limit);
    /// the timeout covers the response head only.
    pub(crate) async fn send_unread(
        &self,
        req: Request<Full<Bytes>>,
        name: &str,
    ) -> Result<http::Response<hyper::body::Incoming>, TransportError> {
        tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| TransportError::Timeout(name.to_owned()))?
            .map_err(|e| connect_error(name, e))
    }
}

/// Adds `X-User-Id` and `X-Auth-Token` (marked sensitive, so it is never logged).
pub(crate) fn with_auth(
    req: http::request::Builder,
    user_id: &str,
    token: &Secret,
) -> Result<http::request::Builder, RcError> {
    let mut token = HeaderValue::from_str(token.expose())
        .map_err(|_| RcError::Invalid("authToken is not a valid header value".into()))?;
    token.set_sensitive(true);
    let user = HeaderValue::from_str(user_id)
        .map_err(|_| RcError::Invalid("userId is not a valid header value".into()))?;
    Ok(req.header("x-user-id", user).header("x-auth-token", token))
}

/// A REST client for one account. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub(crate) struct Rest {
    transport: Transport,
    user_id: String,
    token: Secret,
    max_rate_limit_wait: Duration,
    fatal: Fatal,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("base", &self.transport.base)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// How `users.info` finds a user.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RoomLookupUser<'a> {
    Id(&'a str),
    Username(&'a str),
}

/// Who the token belongs to (`/api/v1/me`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Me {
    pub(crate) id: String,
    pub(crate) username: String,
}

impl Rest {
    pub(crate) fn new(
        config: &RocketChatConfig,
        tls: Arc<rustls::ClientConfig>,
        fatal: Fatal,
    ) -> Result<Self, crate::config::ConfigError> {
        let url = config.parsed_url()?;
        Ok(Self {
            transport: Transport::new(&url, tls, config.timeouts.request),
            user_id: config.user_id.clone(),
            token: config.auth_token.clone(),
            max_rate_limit_wait: config.timeouts.max_rate_limit_wait,
            fatal,
        })
    }

    /// Calls `/api/v1/<endpoint>` (or `/api/<endpoint>` when it starts with `/`).
    /// Returns the parsed body of a 2xx with `success` not false.
    pub(crate) async fn call(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, RcError> {
        self.call_as(method, endpoint, query, body).await
    }

    /// [`Rest::call`], with the body read straight into `T` (no `Value` tree in between).
    pub(crate) async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, RcError> {
        let bytes = self.call_bytes(method, endpoint, query, body).await?;
        let name = endpoint.trim_start_matches('/');
        serde_json::from_slice(&bytes).map_err(|e| RcError::BadResponse(format!("{name}: {e}")))
    }

    /// The body of a successful call, checked against the envelope but not parsed.
    async fn call_bytes(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Bytes, RcError> {
        let mut budget = RateLimitBudget::new(self.max_rate_limit_wait);
        loop {
            if let Some(stop) = self.fatal.get() {
                return Err(stop.error());
            }
            let (status, headers, bytes) =
                self.request_once(&method, endpoint, query, body).await?;
            let name = endpoint.trim_start_matches('/');
            if status == StatusCode::UNAUTHORIZED {
                // Any 401 stops the account: close the socket, no more events.
                return Err(self
                    .fatal
                    .unauthorized(format!("{name}: HTTP 401: the server rejected the token")));
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let reset = headers
                    .get("x-ratelimit-reset")
                    .and_then(|v| v.to_str().ok());
                let wait = budget.refused(wait_for_reset(reset, SystemTime::now()))?;
                tracing::info!(
                    endpoint = name,
                    wait_ms = wait.as_millis() as u64,
                    "rate limited; waiting for the reset"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            check_envelope(name, status, &bytes)?;
            return Ok(bytes);
        }
    }

    async fn request_once(
        &self,
        method: &Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, RcError> {
        let uri = self.transport.endpoint_uri(endpoint, query);
        let payload = match body {
            Some(v) => {
                Bytes::from(serde_json::to_vec(v).map_err(|e| RcError::Invalid(e.to_string()))?)
            }
            None => Bytes::new(),
        };
        let mut req = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header("accept", "application/json");
        req = with_auth(req, &self.user_id, &self.token)?;
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(payload))
            .map_err(|e| RcError::Invalid(format!("bad request for {endpoint}: {e}")))?;
        let name = endpoint.trim_start_matches('/');
        Ok(self.transport.exchange(req, name).await?)
    }

    /// How long one request may take (also the idle limit between body chunks of a
    /// streamed download).
    pub(crate) fn request_timeout(&self) -> Duration {
        self.transport.timeout()
    }

    /// Where a server-relative `path` lives. Rocket.Chat's file paths already carry the
    /// `ROOT_URL` path prefix (`FileUpload.getPath`), so a path starting with the prefix is
    /// joined to the origin; any other path to the base (origin + prefix).
    pub(crate) fn resolve(&self, path: &str) -> String {
        let base = self.transport.base();
        let after_scheme = base.find("://").map_or(0, |i| i + 3);
        let origin_end = base[after_scheme..]
            .find('/')
            .map_or(base.len(), |i| after_scheme + i);
        let (origin, prefix) = base.split_at(origin_end);
        let prefixed = !prefix.is_empty()
            && path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'));
        if prefixed {
            format!("{origin}{path}")
        } else {
            format!("{base}{path}")
        }
    }

    /// One request to a server-relative `path` (see [`Rest::resolve`]) with the auth
    /// headers. Returns the response with its body unread, so the caller can check
    /// `Content-Length` and read with its own limit. A 401 trips the fatal switch as in
    /// [`Rest::call`]; there are no 429 retries (uploads are not repeated blindly).
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<http::Response<hyper::body::Incoming>, RcError> {
        if let Some(stop) = self.fatal.get() {
            return Err(stop.error());
        }
        let mut req = Request::builder().method(method).uri(self.resolve(path));
        req = with_auth(req, &self.user_id, &self.token)?;
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type);
        }
        // The path may carry a file name; keep it out of error texts' request part.
        let name = path.split('?').next().unwrap_or(path).to_owned();
        let req = req
            .body(Full::new(body))
            .map_err(|e| RcError::Invalid(format!("bad request for {name}: {e}")))?;
        let resp = self.transport.send_unread(req, &name).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(self
                .fatal
                .unauthorized(format!("{name}: HTTP 401: the server rejected the token")));
        }
        Ok(resp)
    }

    /// `GET /api/v1/me`: checks the token and says whose it is.
    pub(crate) async fn me(&self) -> Result<Me, RcError> {
        let v = self.call(Method::GET, "me", &[], None).await?;
        let id = str_field(&v, "_id").ok_or_else(|| RcError::BadResponse("me: no _id".into()))?;
        Ok(Me {
            id,
            username: str_field(&v, "username").unwrap_or_default(),
        })
    }

    /// `GET users.info?username=`: the user id behind a username; `Ok(None)` when no such
    /// user exists.
    pub(crate) async fn user_id_of(&self, username: &str) -> Result<Option<String>, RcError> {
        match self
            .call(Method::GET, "users.info", &[("username", username)], None)
            .await
        {
            Ok(v) => Ok(v
                .pointer("/user/_id")
                .and_then(Value::as_str)
                .map(str::to_owned)),
            Err(RcError::Api {
                status: 400 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET users.info` by `userId` or `username`: the user document; `Ok(None)` when no
    /// such user exists.
    pub(crate) async fn user_info(&self, by: RoomLookupUser<'_>) -> Result<Option<Value>, RcError> {
        let query = match by {
            RoomLookupUser::Id(id) => [("userId", id)],
            RoomLookupUser::Username(name) => [("username", name)],
        };
        match self.call(Method::GET, "users.info", &query, None).await {
            Ok(v) => Ok(v.get("user").cloned().filter(Value::is_object)),
            Err(RcError::Api {
                status: 400 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET users.info?userId=`: the username behind a user id; `Ok(None)` when no such
    /// user exists.
    pub(crate) async fn username_of(&self, user_id: &str) -> Result<Option<String>, RcError> {
        match self
            .call(Method::GET, "users.info", &[("userId", user_id)], None)
            .await
        {
            Ok(v) => Ok(v
                .pointer("/user/username")
                .and_then(Value::as_str)
                .map(str::to_owned)),
            Err(RcError::Api {
                status: 400 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST im.create {username}`: the DM with that user, created if needed. `Ok(None)`
    /// when the server refuses the username (no such user).
    pub(crate) async fn create_direct(&self, username: &str) -> Result<Option<String>, RcError> {
        match self
            .call(
                Method::POST,
                "im.create",
                &[],
                Some(&json!({ "username": username })),
            )
            .await
        {
            Ok(v) => {
                let room = v.get("room");
                let id = room
                    .and_then(|r| r.get("_id").or_else(|| r.get("rid")))
                    .and_then(Value::as_str)
                    .ok_or_else(|| RcError::BadResponse("im.create: no room id".into()))?;
                Ok(Some(id.to_owned()))
            }
            Err(RcError::Api {
                status: 400 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/info` (no auth needed): the server version, as far as it tells.
    pub(crate) async fn server_version(&self) -> Result<String, RcError> {
        let v = self.call(Method::GET, "/info", &[], None).await?;
        Ok(v.pointer("/info/version")
            .and_then(Value::as_str)
            .or_else(|| v.get("version").and_then(Value::as_str))
            .unwrap_or("unknown")
            .to_owned())
    }

    /// `POST chat.sendMessage` with a client-chosen `_id`. Returns what was posted, or
    /// `None` when it was posted but the answer's document does not parse.
    /// `extra`: further fields of the message object (`tshow`, `alias`, `avatar`, `emoji`;
    /// see `outbound_fields`).
    pub(crate) async fn send_message(
        &self,
        id: &str,
        rid: &str,
        text: &str,
        tmid: Option<&str>,
        extra: &serde_json::Map<String, Value>,
    ) -> Result<Option<WireMessage>, RcError> {
        let mut message = json!({"_id": id, "rid": rid, "msg": text});
        if let Some(tmid) = tmid {
            message["tmid"] = json!(tmid);
        }
        if let Some(object) = message.as_object_mut() {
            for (k, v) in extra {
                object.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let answer: WireLenientAnswer = self
            .call_as(
                Method::POST,
                "chat.sendMessage",
                &[],
                Some(&json!({"message": message})),
            )
            .await?;
        Ok(answer.message.and_then(|m| m.0))
    }

    /// `GET chat.getMessage`; `Ok(None)` when the server says it does not exist (or sends
    /// a document that does not parse, logged).
    pub(crate) async fn get_message(&self, id: &str) -> Result<Option<WireMessage>, RcError> {
        match self
            .call_as::<WireLenientAnswer>(Method::GET, "chat.getMessage", &[("msgId", id)], None)
            .await
        {
            Ok(answer) => Ok(answer.message.and_then(|m| m.0)),
            Err(RcError::Api {
                status: 400 | 404, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST chat.react` with `shouldReact`, so repeating it changes nothing.
    pub(crate) async fn react(&self, msg_id: &str, emoji: &str, on: bool) -> Result<(), RcError> {
        let emoji = format!(":{}:", emoji.trim_matches(':'));
        self.call(
            Method::POST,
            "chat.react",
            &[],
            Some(&json!({"messageId": msg_id, "emoji": emoji, "shouldReact": on})),
        )
        .await
        .map(drop)
    }

    /// `POST chat.update`.
    pub(crate) async fn update(&self, rid: &str, msg_id: &str, text: &str) -> Result<(), RcError> {
        self.call(
            Method::POST,
            "chat.update",
            &[],
            Some(&json!({"roomId": rid, "msgId": msg_id, "text": text})),
        )
        .await
        .map(drop)
        .map_err(|e| message_not_found(e, rid, msg_id))
    }

    /// `POST chat.delete`.
    pub(crate) async fn delete(&self, rid: &str, msg_id: &str) -> Result<(), RcError> {
        self.call(
            Method::POST,
            "chat.delete",
            &[],
            Some(&json!({"roomId": rid, "msgId": msg_id})),
        )
        .await
        .map(drop)
        .map_err(|e| message_not_found(e, rid, msg_id))
    }

    /// `GET rooms.get`: every room the bot is subscribed to.
    pub(crate) async fn rooms(&self) -> Result<Vec<WireRoom>, RcError> {
        let v = self.call(Method::GET, "rooms.get", &[], None).await?;
        Ok(v.get("update")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| serde_json::from_value::<WireRoom>(r.clone()).ok())
            .collect())
    }

    /// `GET rooms.info` by id or name. `Ok(None)` when the room does not exist or is hidden.
    pub(crate) async fn room_info(&self, by: RoomLookup<'_>) -> Result<Option<WireRoom>, RcError> {
        let query = match by {
            RoomLookup::Id(id) => [("roomId", id)],
            RoomLookup::Name(name) => [("roomName", name)],
        };
        match self.call(Method::GET, "rooms.info", &query, None).await {
            Ok(v) => Ok(v
                .get("room")
                .and_then(|r| serde_json::from_value::<WireRoom>(r.clone()).ok())),
            Err(RcError::Api {
                status: 400 | 403 | 404,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of `GET chat.syncMessages` in its cursor mode (Rocket.Chat 8.x
    /// apps/meteor/server/publications/messages.ts `handleCursorPagination`): at most
    /// `count` documents of `rid` updated (or deleted, by `kind`) strictly after `after`
    /// (epoch ms), oldest first. `more` says whether the server holds more after them.
    /// (`count` arrives as text; rest-typings' ajv is built with `coerceTypes`, so the
    /// schema's `count: number` makes it a number before `limit: count + 1`.)
    pub(crate) async fn sync_page(
        &self,
        rid: &str,
        kind: SyncKind,
        after: i64,
        count: usize,
    ) -> Result<SyncPage, RcError> {
        let after = after.max(0).to_string();
        let count = count.max(1).to_string();
        let kind = match kind {
            SyncKind::Updated => "UPDATED",
            SyncKind::Deleted => "DELETED",
        };
        let answer: crate::wire::WireSyncAnswer = self
            .call_as(
                Method::GET,
                "chat.syncMessages",
                &[
                    ("roomId", rid),
                    ("type", kind),
                    ("next", after.as_str()),
                    ("count", count.as_str()),
                ],
                None,
            )
            .await?;
        let result = answer.result;
        Ok(SyncPage {
            // The server's `next` cursor is null exactly when nothing follows the page.
            more: result.cursor.and_then(|c| c.next).is_some(),
            updated: result.updated.into_iter().filter_map(|d| d.0).collect(),
            deleted: result.deleted.into_iter().filter_map(|d| d.0).collect(),
        })
    }
}

/// Which side of `chat.syncMessages`' cursor mode a page reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncKind {
    /// Documents by `_updatedAt` (new, edited, reacted to, ...).
    Updated,
    /// Deletions by `_deletedAt` (the trash: `{_id, _deletedAt}`).
    Deleted,
}

/// One page of a room's catch-up, oldest first. Documents that do not parse are left out
/// (logged).
#[derive(Debug)]
pub(crate) struct SyncPage {
    pub(crate) updated: Vec<crate::wire::WireMessage>,
    pub(crate) deleted: Vec<crate::wire::WireDeleted>,
    pub(crate) more: bool,
}

/// `chat.update` and `chat.delete` answer a message that does not exist, or is not in the
/// room named, with a code-less `API.v1.failure(...)` (apps/meteor/app/api/server/v1/
/// chat.ts: `No message found with the id of ...`, `The room id provided does not match
/// ...`); their other refusals carry a code. So a code-less 400 from them is "no such
/// message in that room".
fn message_not_found(e: RcError, rid: &str, msg_id: &str) -> RcError {
    match e {
        RcError::Api {
            status: 400,
            code: None,
            ..
        } => RcError::NotFound(format!("message {msg_id} in room {rid}")),
        other => other,
    }
}

/// How [`Rest::room_info`] looks a room up.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RoomLookup<'a> {
    Id(&'a str),
    Name(&'a str),
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A client error, classified: the whole chain as one line (nothing from the request: it
/// holds no headers), its innermost cause, and rustls' reason when the handshake failed.
fn connect_error(name: &str, e: hyper_util::client::legacy::Error) -> TransportError {
    use std::error::Error as _;
    let mut detail = e.to_string();
    let mut cause = detail.clone();
    let mut tls = None;
    let mut source = e.source();
    while let Some(s) = source {
        tls = tls.or_else(|| rustls_error(s));
        cause = s.to_string();
        detail.push_str(": ");
        detail.push_str(&cause);
        source = s.source();
    }
    TransportError::Connect {
        endpoint: name.to_owned(),
        detail,
        cause,
        tls,
        source: e,
    }
}

/// The rustls error inside `e`, looking through (nested) `io::Error` wrappers, whose
/// `source()` skips the wrapped error itself.
fn rustls_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(r) = e.downcast_ref::<rustls::Error>() {
        return Some(r.to_string());
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// The Rocket.Chat envelope, parsed into a `Value` (small answers: uploads).
pub(crate) fn parse_body(
    endpoint: &str,
    status: StatusCode,
    bytes: &[u8],
) -> Result<Value, RcError> {
    check_envelope(endpoint, status, bytes)?;
    serde_json::from_slice(bytes)
        .map_err(|_| RcError::BadResponse(format!("{endpoint}: HTTP {status}: body is not JSON")))
}

/// Only `success` of a successful body (the rest is skipped, not built).
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(default)]
    success: Option<bool>,
}

/// The Rocket.Chat envelope: `success:false` or a non-2xx is an `Api` error carrying
/// `error`/`errorType`; a 2xx body that is not JSON is a `BadResponse`.
pub(crate) fn check_envelope(
    endpoint: &str,
    status: StatusCode,
    bytes: &[u8],
) -> Result<(), RcError> {
    if status.is_success() {
        match serde_json::from_slice::<Envelope>(bytes) {
            Ok(Envelope {
                success: Some(false),
            }) => {}
            Ok(_) => return Ok(()),
            Err(_) => {
                return Err(RcError::BadResponse(format!(
                    "{endpoint}: HTTP {status}: body is not JSON"
                )))
            }
        }
    }
    // A failure: the body is small, read it whole for its `error`/`errorType`.
    let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
    let error_type = parsed.as_ref().and_then(|v| str_field(v, "errorType"));
    let error = parsed.as_ref().and_then(|v| str_field(v, "error"));
    let code = crate::error::error_code(error_type.as_deref(), error.as_deref().unwrap_or(""));
    let message = error
        .or_else(|| parsed.as_ref().and_then(|v| str_field(v, "message")))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    Err(RcError::Api {
        endpoint: endpoint.to_owned(),
        status: status.as_u16(),
        code,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_failures_become_api_errors() {
        let err = parse_body(
            "chat.update",
            StatusCode::BAD_REQUEST,
            br#"{"success":false,"error":"Message editing not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed"}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            RcError::Api {
                endpoint: "chat.update".into(),
                status: 400,
                code: Some("error-action-not-allowed".into()),
                message: "Message editing not allowed [error-action-not-allowed]".into()
            }
        );
        // success:false with 200.
        assert!(parse_body("x", StatusCode::OK, br#"{"success":false}"#).is_err());
        // Not JSON at all.
        assert!(matches!(
            parse_body("x", StatusCode::OK, b"<html>"),
            Err(RcError::BadResponse(_))
        ));
        let ok = parse_body("x", StatusCode::OK, br#"{"success":true,"a":1}"#).unwrap();
        assert_eq!(ok["a"], 1);
    }
}
