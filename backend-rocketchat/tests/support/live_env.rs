//! The live-run environment and the peer for runs against a real server (or the simulator
//! through the same path): [`LiveEnv`] reads the `RC_TEST_*` variables at run time, and
//! [`LivePeer`] acts as the peer user over REST (hyper + hyper-rustls, the same trust rules
//! as the bot: public roots plus `RC_TEST_CA_FILE`).
//!
//! Use it from a test file with `#[path = "support/live_env.rs"] mod live_env;`.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `RC_TEST_URL` | Server base URL (unset: live tests print one skip line) |
//! | `RC_TEST_BOT_USER_ID`, `RC_TEST_BOT_USERNAME`, `RC_TEST_BOT_TOKEN` | The bot under test (PAT) |
//! | `RC_TEST_PEER_USER_ID`, `RC_TEST_PEER_USERNAME`, `RC_TEST_PEER_TOKEN` | The other user (PAT) |
//! | `RC_TEST_ROOM_ID`, `RC_TEST_ROOM_NAME` | A group room both are in |
//! | `RC_TEST_DM_ROOM_ID` | The DM between them |
//! | `RC_TEST_ALLOW_INSECURE` | `1`: allow `http://` (a local test server only) |
//! | `RC_TEST_CA_FILE` | Extra trusted CA (PEM), e.g. for the compose `tls` profile |
//!
//! `rc-provision` prints all of them. With `CONFORMANCE_REQUIRE_LIVE=1` a missing variable
//! fails instead of skipping.
//!
//! # Cleanup
//! Every text a case posts carries the run id. When the peer is dropped (the harness is
//! dropped at the end of each case, also when the case panicked), it deletes the messages
//! of its run from the test room and the DM: the peer's own with the peer's token, the
//! bot's with the bot's token. It runs on a separate thread with its own runtime and
//! clients, so it works from any runtime; failures are printed, never panicked on.
//! `RC_TEST_KEEP_MESSAGES=1` turns the cleanup off (to look at a run's messages).

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use backend_rocketchat::{RocketChatConfig, Secret};
use bytes::Bytes;
use channel_api::{Error, MessageId, MessageRef, Result, RoomId, UserId};
use conformance::{Peer, PeerFile, PeerMessage, PeerReaction};
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// Every variable a live run needs (the optional ones are not listed).
/// The live gate: `RC_TEST_URL` turns live runs on, the rest must be set then.
pub const LIVE_VARS: conformance::live::LiveVars<'static> = conformance::live::LiveVars {
    switch: "RC_TEST_URL",
    required: REQUIRED_VARS,
};

pub const REQUIRED_VARS: &[&str] = &[
    "RC_TEST_URL",
    "RC_TEST_BOT_USER_ID",
    "RC_TEST_BOT_USERNAME",
    "RC_TEST_BOT_TOKEN",
    "RC_TEST_PEER_USER_ID",
    "RC_TEST_PEER_USERNAME",
    "RC_TEST_PEER_TOKEN",
    "RC_TEST_ROOM_ID",
    "RC_TEST_ROOM_NAME",
    "RC_TEST_DM_ROOM_ID",
];

/// How far back the peer reads room history (`chat.syncMessages?lastUpdate=`): everything
/// a case looks at is newer; the margin absorbs clock skew between test host and server.
const HISTORY_WINDOW: Duration = Duration::from_secs(3600);

/// Longest wait a 429 may ask for before the peer gives up with `RateLimited`.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(65);

/// One REST request's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The `RC_TEST_*` environment. `Debug` hides the tokens.
#[derive(Clone)]
pub struct LiveEnv {
    pub url: String,
    pub bot_user_id: String,
    pub bot_username: String,
    pub bot_token: String,
    pub peer_user_id: String,
    pub peer_username: String,
    pub peer_token: String,
    pub room_id: String,
    pub room_name: String,
    pub dm_room_id: String,
    pub allow_insecure: bool,
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for LiveEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveEnv")
            .field("url", &self.url)
            .field("bot_user_id", &self.bot_user_id)
            .field("bot_username", &self.bot_username)
            .field("peer_user_id", &self.peer_user_id)
            .field("peer_username", &self.peer_username)
            .field("room_id", &self.room_id)
            .field("room_name", &self.room_name)
            .field("dm_room_id", &self.dm_room_id)
            .field("allow_insecure", &self.allow_insecure)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl LiveEnv {
    /// Reads the environment at run time. `None` (after printing one skip line) when live
    /// runs are not configured; panics (fails the test) when `CONFORMANCE_REQUIRE_LIVE=1`
    /// and something is missing.
    pub fn from_env() -> Option<Self> {
        if !conformance::live::should_run(LIVE_VARS) {
            return None;
        }
        let var = |name: &str| match conformance::live::required_var(name) {
            Ok(v) => v.trim().to_owned(),
            Err(e) => panic!("conformance: {e}"),
        };
        let optional = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Some(Self {
            url: var("RC_TEST_URL").trim_end_matches('/').to_owned(),
            bot_user_id: var("RC_TEST_BOT_USER_ID"),
            bot_username: var("RC_TEST_BOT_USERNAME"),
            bot_token: var("RC_TEST_BOT_TOKEN"),
            peer_user_id: var("RC_TEST_PEER_USER_ID"),
            peer_username: var("RC_TEST_PEER_USERNAME"),
            peer_token: var("RC_TEST_PEER_TOKEN"),
            room_id: var("RC_TEST_ROOM_ID"),
            room_name: var("RC_TEST_ROOM_NAME").trim_start_matches('#').to_owned(),
            dm_room_id: var("RC_TEST_DM_ROOM_ID"),
            allow_insecure: optional("RC_TEST_ALLOW_INSECURE")
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            ca_file: optional("RC_TEST_CA_FILE").map(PathBuf::from),
        })
    }

    /// The bot's channel config.
    pub fn bot_config(&self) -> RocketChatConfig {
        let mut config = RocketChatConfig::new(
            self.url.clone(),
            self.bot_user_id.clone(),
            self.bot_username.clone(),
            Secret::new(self.bot_token.clone()),
        );
        config.dangerously_allow_insecure = self.allow_insecure;
        config.ca_file = self.ca_file.clone();
        config
    }

    /// A REST client acting as the bot (for cleanup).
    pub fn bot_rest(&self) -> LiveRest {
        LiveRest::new(self, &self.bot_user_id, &self.bot_token)
    }

    /// The peer for one run: it deletes the run's messages when dropped.
    pub fn peer(&self, run_id: &str) -> LivePeer {
        let keep = std::env::var("RC_TEST_KEEP_MESSAGES").is_ok_and(|v| v.trim() == "1");
        LivePeer {
            rest: LiveRest::new(self, &self.peer_user_id, &self.peer_token),
            username: self.peer_username.clone(),
            since: iso_millis(SystemTime::now() - HISTORY_WINDOW),
            cleanup: (!keep).then(|| Cleanup {
                env: self.clone(),
                run_id: run_id.to_owned(),
                posted: Arc::new(Mutex::new(Vec::new())),
            }),
        }
    }
}

/// A small REST client logged in as one user (PAT).
#[derive(Clone)]
pub struct LiveRest {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    user_id: String,
    token: String,
}

impl fmt::Debug for LiveRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRest")
            .field("base", &self.base)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl LiveRest {
    fn new(env: &LiveEnv, user_id: &str, token: &str) -> Self {
        let tls = tls_config(env.ca_file.as_deref());
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        // http:// only with RC_TEST_ALLOW_INSECURE, like the bot's config.
        let connector = if env.allow_insecure {
            builder.https_or_http().enable_http1().build()
        } else {
            builder.https_only().enable_http1().build()
        };
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: env.url.clone(),
            user_id: user_id.to_owned(),
            token: token.to_owned(),
        }
    }

    /// Calls `/api/v1/<endpoint>`; waits out a 429 (until `X-RateLimit-Reset`) and retries.
    pub async fn call(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value> {
        for _attempt in 0..3 {
            match self
                .call_once(method.clone(), endpoint, query, body)
                .await?
            {
                Answer::Done(value) => return Ok(value),
                Answer::RateLimited(wait) if wait <= MAX_RATE_LIMIT_WAIT => {
                    tokio::time::sleep(wait).await;
                }
                Answer::RateLimited(wait) => {
                    return Err(Error::RateLimited {
                        retry_after: Some(wait),
                    })
                }
            }
        }
        Err(Error::RateLimited { retry_after: None })
    }

    async fn call_once(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer> {
        let mut uri = format!("{}/api/v1/{endpoint}", self.base);
        if !query.is_empty() {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            uri = format!("{uri}?{encoded}");
        }
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("x-user-id", &self.user_id)
            .header("x-auth-token", &self.token)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(Value::to_string).unwrap_or_default(),
            )))
            .map_err(|e| Error::InvalidRequest {
                reason: format!("{endpoint}: {e}"),
            })?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Error::Disconnected {
                    reason: format!("{endpoint}: {e}"),
                })?;
            let status = response.status();
            let reset = response
                .headers()
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| Error::Disconnected {
                    reason: format!("{endpoint}: {e}"),
                })?
                .to_bytes();
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok::<_, Error>((status, reset, value))
        };
        let (status, reset, value) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| Error::Timeout {
                operation: endpoint.to_owned(),
            })??;
        if status.as_u16() == 429 {
            // X-RateLimit-Reset is an absolute time in epoch milliseconds.
            let wait = reset
                .map(|at| Duration::from_millis(at.saturating_sub(now_millis())))
                .unwrap_or(Duration::from_secs(1));
            return Ok(Answer::RateLimited(wait + Duration::from_millis(100)));
        }
        if status.is_success() && value.get("success") != Some(&json!(false)) {
            return Ok(Answer::Done(value));
        }
        Err(api_error(endpoint, status.as_u16(), &value))
    }

    /// `POST /api/v1/rooms.media/:rid` (multipart, field `file`): stores the upload and
    /// returns its id; nothing is posted until `rooms.mediaConfirm` (Rocket.Chat 8.x,
    /// apps/meteor/app/api/server/v1/rooms.ts).
    pub async fn upload(&self, room: &str, name: &str, mime: &str, data: &[u8]) -> Result<String> {
        let endpoint = format!("rooms.media/{room}");
        let boundary = format!("----live-peer-{}", now_millis());
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = http::Request::builder()
            .method(Method::POST)
            .uri(format!("{}/api/v1/{endpoint}", self.base))
            .header("x-user-id", &self.user_id)
            .header("x-auth-token", &self.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::InvalidRequest {
                reason: format!("{endpoint}: {e}"),
            })?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Error::Disconnected {
                    reason: format!("{endpoint}: {e}"),
                })?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| Error::Disconnected {
                    reason: format!("{endpoint}: {e}"),
                })?
                .to_bytes();
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            Ok::<_, Error>((status, value))
        };
        let (status, value) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| Error::Timeout {
                operation: endpoint.clone(),
            })??;
        match value.pointer("/file/_id").and_then(Value::as_str) {
            Some(id) if status.is_success() => Ok(id.to_owned()),
            _ => Err(api_error(&endpoint, status.as_u16(), &value)),
        }
    }

    /// What the server holds in `room` since `since`, oldest first, system messages left out.
    async fn room_messages(&self, room: &str, since: &str) -> Result<Vec<Value>> {
        let value = self
            .call(
                Method::GET,
                "chat.syncMessages",
                &[("roomId", room), ("lastUpdate", since)],
                None,
            )
            .await?;
        let mut docs: Vec<Value> = value
            .pointer("/result/updated")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        docs.retain(|d| {
            d.get("t").is_none() && !d.get("_hidden").is_some_and(|h| h == &json!(true))
        });
        docs.sort_by_key(|d| d.get("ts").map(date_millis).unwrap_or(0));
        Ok(docs)
    }
}

enum Answer {
    Done(Value),
    RateLimited(Duration),
}

/// Maps a REST failure onto the channel vocabulary.
fn api_error(endpoint: &str, status: u16, body: &Value) -> Error {
    let text = body
        .get("error")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let lower = text.to_ascii_lowercase();
    match status {
        401 => Error::Unauthorized { reason: text },
        403 => Error::PermissionDenied {
            what: format!("{endpoint}: {text}"),
        },
        404 => Error::NotFound {
            what: format!("{endpoint}: {text}"),
        },
        _ if lower.contains("not found")
            || lower.contains("no message found")
            || lower.contains("not-found")
            || lower.contains("error-invalid-room") =>
        {
            Error::NotFound {
                what: format!("{endpoint}: {text}"),
            }
        }
        _ => Error::Backend {
            backend: "rocketchat-peer",
            message: format!("{endpoint} (HTTP {status}): {text}"),
        },
    }
}

/// The peer user of a live run. Deletes the run's messages when dropped (see the module docs).
pub struct LivePeer {
    rest: LiveRest,
    username: String,
    /// `lastUpdate` for history reads.
    since: String,
    cleanup: Option<Cleanup>,
}

impl fmt::Debug for LivePeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LivePeer")
            .field("rest", &self.rest)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The names of the files a message document carries (`files[]`, else `file`).
fn file_names(doc: &Value) -> Vec<String> {
    let names: Vec<String> = doc
        .get("files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    if !names.is_empty() {
        return names;
    }
    doc.pointer("/file/name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect()
}

fn peer_message(doc: &Value) -> PeerMessage {
    let text = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or_default();
    PeerMessage {
        file_names: file_names(doc),
        id: MessageId::new(text("/_id")),
        text: text("/msg").to_owned(),
        thread: doc.get("tmid").and_then(Value::as_str).map(MessageId::new),
        author: UserId::new(text("/u/_id")),
    }
}

#[async_trait]
impl Peer for LivePeer {
    fn user_id(&self) -> UserId {
        UserId::new(self.rest.user_id.clone())
    }

    fn username(&self) -> String {
        self.username.clone()
    }

    async fn post(
        &self,
        room: &RoomId,
        text: &str,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef> {
        let mut message = json!({"rid": room.as_str(), "msg": text});
        if let Some(root) = thread {
            message["tmid"] = json!(root.as_str());
        }
        let value = self
            .rest
            .call(
                Method::POST,
                "chat.sendMessage",
                &[],
                Some(&json!({"message": message})),
            )
            .await?;
        let id = value
            .pointer("/message/_id")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Backend {
                backend: "rocketchat-peer",
                message: "chat.sendMessage answered without message._id".into(),
            })?;
        let posted = MessageRef {
            room: room.clone(),
            id: MessageId::new(id),
        };
        if let Some(cleanup) = &self.cleanup {
            if let Ok(mut list) = cleanup.posted.lock() {
                list.push(posted.clone());
            }
        }
        Ok(posted)
    }

    async fn post_file(
        &self,
        room: &RoomId,
        file: PeerFile<'_>,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef> {
        let file_id = self
            .rest
            .upload(room.as_str(), file.name, file.mime_type, file.data)
            .await?;
        // sendFileMessage checks msgData against a fixed pattern (msg, tmid, ...): send
        // only those keys.
        let mut body = json!({});
        if let Some(caption) = file.caption {
            body["msg"] = json!(caption);
        }
        if let Some(root) = thread {
            body["tmid"] = json!(root.as_str());
        }
        let value = self
            .rest
            .call(
                Method::POST,
                &format!("rooms.mediaConfirm/{}/{file_id}", room.as_str()),
                &[],
                Some(&body),
            )
            .await?;
        let id = value
            .pointer("/message/_id")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Backend {
                backend: "rocketchat-peer",
                message: "rooms.mediaConfirm answered without message._id".into(),
            })?;
        let posted = MessageRef {
            room: room.clone(),
            id: MessageId::new(id),
        };
        if let Some(cleanup) = &self.cleanup {
            if let Ok(mut list) = cleanup.posted.lock() {
                list.push(posted.clone());
            }
        }
        Ok(posted)
    }

    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        let body = json!({"messageId": message.id.as_str(), "emoji": emoji.trim_matches(':'), "shouldReact": true});
        self.rest
            .call(Method::POST, "chat.react", &[], Some(&body))
            .await
            .map(drop)
    }

    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        let body = json!({"messageId": message.id.as_str(), "emoji": emoji.trim_matches(':'), "shouldReact": false});
        self.rest
            .call(Method::POST, "chat.react", &[], Some(&body))
            .await
            .map(drop)
    }

    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        let body =
            json!({"roomId": message.room.as_str(), "msgId": message.id.as_str(), "text": text});
        self.rest
            .call(Method::POST, "chat.update", &[], Some(&body))
            .await
            .map(drop)
    }

    async fn delete(&self, message: &MessageRef) -> Result<()> {
        let body = json!({"roomId": message.room.as_str(), "msgId": message.id.as_str()});
        self.rest
            .call(Method::POST, "chat.delete", &[], Some(&body))
            .await
            .map(drop)
    }

    async fn messages(&self, room: &RoomId) -> Result<Vec<PeerMessage>> {
        let docs = self.rest.room_messages(room.as_str(), &self.since).await?;
        Ok(docs.iter().map(peer_message).collect())
    }

    /// From the room history filtered by `tmid` (`chat.syncMessages` holds thread replies
    /// too); the simulator has no `chat.getThreadMessages`, and this reads the same server
    /// state either way.
    async fn thread_messages(&self, room: &RoomId, root: &MessageId) -> Result<Vec<PeerMessage>> {
        let docs = self.rest.room_messages(room.as_str(), &self.since).await?;
        Ok(docs
            .iter()
            .filter(|d| d.get("tmid").and_then(Value::as_str) == Some(root.as_str()))
            .map(peer_message)
            .collect())
    }

    async fn reactions(&self, message: &MessageRef) -> Result<Vec<PeerReaction>> {
        let value = self
            .rest
            .call(
                Method::GET,
                "chat.getMessage",
                &[("msgId", message.id.as_str())],
                None,
            )
            .await?;
        let mut out = Vec::new();
        for (emoji, entry) in value
            .pointer("/message/reactions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let usernames: Vec<String> = entry
                .get("usernames")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect();
            if !usernames.is_empty() {
                out.push(PeerReaction {
                    emoji: emoji.trim_matches(':').to_owned(),
                    usernames,
                });
            }
        }
        Ok(out)
    }
}

impl Drop for LivePeer {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup.run_blocking(&self.since);
        }
    }
}

/// What a run must remove when it ends.
struct Cleanup {
    env: LiveEnv,
    run_id: String,
    /// Every message the peer posted (deleted even if a case changed its text).
    posted: Arc<Mutex<Vec<MessageRef>>>,
}

impl Cleanup {
    /// Runs [`Cleanup::run`] on its own thread and runtime (fresh clients: the test's
    /// runtime may be shutting down) and waits for it.
    fn run_blocking(self, since: &str) {
        let since = since.to_owned();
        let worker =
            std::thread::spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(self.run(&since)),
                    Err(e) => eprintln!("live cleanup: no runtime: {e}"),
                }
            });
        if worker.join().is_err() {
            eprintln!("live cleanup: the cleanup thread panicked");
        }
    }

    /// Deletes this run's messages (its run id in the text or the id, or posted by the
    /// peer) from the test room and the DM, each with its author's token.
    async fn run(self, since: &str) {
        let peer = LiveRest::new(&self.env, &self.env.peer_user_id, &self.env.peer_token);
        let bot = self.env.bot_rest();
        let posted: HashSet<String> = self
            .posted
            .lock()
            .map(|list| list.iter().map(|m| m.id.as_str().to_owned()).collect())
            .unwrap_or_default();
        let mut failures = 0usize;
        for room in [&self.env.room_id, &self.env.dm_room_id] {
            let docs = match peer.room_messages(room, since).await {
                Ok(docs) => docs,
                Err(e) => {
                    eprintln!("live cleanup: cannot read room {room}: {e}");
                    continue;
                }
            };
            let mut ours: Vec<&Value> = docs
                .iter()
                .filter(|d| {
                    let id = d.get("_id").and_then(Value::as_str).unwrap_or_default();
                    let text = d.get("msg").and_then(Value::as_str).unwrap_or_default();
                    posted.contains(id) || id.contains(&self.run_id) || text.contains(&self.run_id)
                })
                .collect();
            // Thread replies before their roots.
            ours.sort_by_key(|d| d.get("tmid").is_none());
            for doc in ours {
                let id = doc.get("_id").and_then(Value::as_str).unwrap_or_default();
                let author = doc
                    .pointer("/u/_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let client = if author == self.env.bot_user_id {
                    &bot
                } else if author == self.env.peer_user_id {
                    &peer
                } else {
                    continue;
                };
                let body = json!({"roomId": room, "msgId": id});
                match client
                    .call(Method::POST, "chat.delete", &[], Some(&body))
                    .await
                {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(e) => {
                        failures += 1;
                        eprintln!("live cleanup: could not delete {id} in {room}: {e}");
                    }
                }
            }
        }
        if failures > 0 {
            eprintln!(
                "live cleanup: run {}: {failures} message(s) left behind",
                self.run_id
            );
        }
    }
}

/// The bot's own trust rules (public roots plus the CA file), so the peer trusts exactly
/// what the channel under test trusts.
fn tls_config(ca_file: Option<&std::path::Path>) -> rustls::ClientConfig {
    match backend_rocketchat::tls_client_config(false, ca_file) {
        Ok(config) => (*config).clone(),
        Err(e) => panic!("live peer: TLS setup: {e}"),
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `2026-01-02T03:04:05.678Z` (millisecond precision, as JavaScript's `toISOString`).
fn iso_millis(at: SystemTime) -> String {
    let nanos = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i128 * 1_000_000)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

/// A REST date (`"2026-01-02T03:04:05.678Z"`) or an EJSON one (`{"$date": ms}`), in ms.
fn date_millis(value: &Value) -> i64 {
    if let Some(ms) = value.get("$date").and_then(Value::as_i64) {
        return ms;
    }
    value
        .as_str()
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_both_forms_and_format_in_millis() {
        assert_eq!(
            date_millis(&json!({"$date": 1_700_000_000_123_i64})),
            1_700_000_000_123
        );
        assert_eq!(
            date_millis(&json!("2023-11-14T22:13:20.123Z")),
            1_700_000_000_123
        );
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(iso_millis(at), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn errors_map_onto_the_channel_vocabulary() {
        let e = api_error(
            "chat.update",
            400,
            &json!({"error": "No message found with the id of \"x\"."}),
        );
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        let e = api_error(
            "chat.react",
            401,
            &json!({"error": "You must be logged in to do this."}),
        );
        assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
        let e = api_error(
            "chat.delete",
            400,
            &json!({"error": "Not allowed [error-action-not-allowed]"}),
        );
        assert!(matches!(e, Error::Backend { .. }), "{e:?}");
    }
}
