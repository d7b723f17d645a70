//! The peer user of the backend's tests, speaking REST to the server like any client: the
//! same [`Peer`] for the simulator (`support::World::peer`) and for a live server
//! (`live_env::LiveEnv::peer`). It talks through the workspace's one REST client,
//! [`backend_rocketchat::admin::AdminRest`] (its transport, TLS rules and error envelope),
//! so the peer trusts exactly what the channel under test trusts.

#![allow(dead_code, unreachable_pub)]

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backend_rocketchat::admin::{AdminOptions, AdminRest, Credentials, RestError};
use backend_rocketchat::Secret;
use channel_api::{Error, MessageId, MessageRef, Result, RoomId, UserId};
use conformance::{Peer, PeerFile, PeerMessage, PeerReaction};
use serde_json::{json, Value};

/// Longest wait a 429 may ask for before the peer gives up with `RateLimited`.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(65);

/// How often a call is tried when the server keeps answering 429.
const ATTEMPTS: usize = 3;

/// What runs when the peer is dropped (a live run's cleanup), given the peer.
type OnDrop = Box<dyn FnOnce(&RestPeer) + Send + Sync>;

/// The peer user. Cheap to clone before [`RestPeer::on_drop`] is set (clones share the
/// connection pool and the list of posted messages).
pub struct RestPeer {
    rest: AdminRest,
    who: Credentials,
    username: String,
    /// `lastUpdate` for history reads (`chat.syncMessages`).
    since: String,
    /// Every message this peer posted, oldest first.
    posted: Arc<Mutex<Vec<MessageRef>>>,
    on_drop: Option<OnDrop>,
}

impl Clone for RestPeer {
    fn clone(&self) -> Self {
        Self {
            rest: self.rest.clone(),
            who: self.who.clone(),
            username: self.username.clone(),
            since: self.since.clone(),
            posted: Arc::clone(&self.posted),
            on_drop: None,
        }
    }
}

impl fmt::Debug for RestPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestPeer")
            .field("base", &self.rest.base())
            .field("user_id", &self.who.user_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Drop for RestPeer {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop(self);
        }
    }
}

impl RestPeer {
    /// A peer logged in with `token` (a PAT or a login token). Panics (fails the test) when
    /// the URL or the CA file is unusable.
    pub fn new(options: &AdminOptions, user_id: &str, username: &str, token: &str) -> Self {
        let rest = AdminRest::new(options).unwrap_or_else(|e| panic!("peer: {e}"));
        Self {
            rest,
            who: Credentials {
                user_id: user_id.to_owned(),
                token: Secret::new(token),
            },
            username: username.to_owned(),
            since: "1970-01-01T00:00:00.000Z".to_owned(),
            posted: Arc::default(),
            on_drop: None,
        }
    }

    /// Options for a test server on plain `http://` (the simulator).
    pub fn plain_http(base: &str) -> AdminOptions {
        AdminOptions {
            server_url: base.to_owned(),
            ca_file: None,
            allow_plain_http: true,
            request_timeout: Duration::from_secs(30),
        }
    }

    /// Reads history from `since` on (ISO 8601, as `chat.syncMessages` takes it).
    pub fn reading_since(mut self, since: String) -> Self {
        self.since = since;
        self
    }

    /// Runs `f` when this peer is dropped (also when the test panicked).
    pub fn on_drop(mut self, f: impl FnOnce(&RestPeer) + Send + Sync + 'static) -> Self {
        self.on_drop = Some(Box::new(f));
        self
    }

    /// The messages this peer posted so far.
    pub fn posted(&self) -> Vec<MessageRef> {
        self.posted.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// `GET`/`POST` of `/api/v1/<endpoint>` (a query may be part of `endpoint`); a 429 is
    /// waited out (until `X-RateLimit-Reset`, at most [`MAX_RATE_LIMIT_WAIT`]) and retried.
    pub async fn call(&self, method: &str, endpoint: &str, body: Option<Value>) -> Result<Value> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let call = match method {
                "GET" => self.rest.get(endpoint),
                _ => self
                    .rest
                    .post(endpoint, body.clone().unwrap_or_else(|| json!({}))),
            };
            match call.auth(&self.who).send().await {
                Ok(value) => return Ok(value),
                Err(e) => match e.retry_after() {
                    Some(wait) if wait <= MAX_RATE_LIMIT_WAIT => {
                        tokio::time::sleep(wait + Duration::from_millis(100)).await;
                        last = Some(wait);
                    }
                    _ => return Err(channel_error(e)),
                },
            }
        }
        Err(Error::RateLimited { retry_after: last })
    }

    /// `POST /api/v1/rooms.media/:rid` (multipart, field `file`): stores the upload and
    /// returns its id; nothing is posted until `rooms.mediaConfirm` (Rocket.Chat 8.x,
    /// apps/meteor/app/api/server/v1/rooms.ts).
    pub async fn upload(
        &self,
        room: &RoomId,
        name: &str,
        mime: &str,
        data: &[u8],
    ) -> Result<String> {
        let endpoint = format!("rooms.media/{}", room.as_str());
        let boundary = "----peer-boundary-7MA4YWxkTrZu0gW";
        let value = self
            .rest
            .post(&endpoint, Value::Null)
            .raw_body(
                format!("multipart/form-data; boundary={boundary}"),
                multipart_file(boundary, name, mime, data),
            )
            .auth(&self.who)
            .send()
            .await
            .map_err(channel_error)?;
        value
            .pointer("/file/_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad_answer(&endpoint, "no file._id"))
    }

    /// What the server holds in `room` since [`RestPeer::reading_since`], oldest first,
    /// system and hidden messages left out.
    pub async fn room_messages(&self, room: &RoomId) -> Result<Vec<Value>> {
        let endpoint = format!(
            "chat.syncMessages?roomId={}&lastUpdate={}",
            room.as_str(),
            self.since
        );
        let value = self.call("GET", &endpoint, None).await?;
        let mut docs: Vec<Value> = value
            .pointer("/result/updated")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        docs.retain(|d| d.get("t").is_none() && d.get("_hidden") != Some(&json!(true)));
        docs.sort_by_key(|d| d.get("ts").map(date_millis).unwrap_or(0));
        Ok(docs)
    }

    fn remember(&self, posted: &MessageRef) {
        if let Ok(mut list) = self.posted.lock() {
            list.push(posted.clone());
        }
    }

    /// Posts through `endpoint` and returns the new message (`message._id` of the answer).
    async fn post_message(&self, room: &RoomId, endpoint: &str, body: Value) -> Result<MessageRef> {
        let value = self.call("POST", endpoint, Some(body)).await?;
        let id = value
            .pointer("/message/_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_answer(endpoint, "no message._id"))?;
        let posted = MessageRef {
            room: room.clone(),
            id: MessageId::new(id),
        };
        self.remember(&posted);
        Ok(posted)
    }
}

/// A `multipart/form-data` body with one part, the file in field `file`.
pub fn multipart_file(boundary: &str, name: &str, mime: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// A REST failure in the channel's vocabulary, by status and error code.
fn channel_error(e: RestError) -> Error {
    let text = e.to_string();
    match (e.status(), e.code()) {
        (Some(401), _) => Error::Unauthorized { reason: text },
        (Some(403), _) => Error::PermissionDenied { what: text },
        (Some(404), _) => Error::NotFound { what: text },
        (_, Some(code)) if code.ends_with("not-found") || code == "error-invalid-room" => {
            Error::NotFound { what: text }
        }
        (Some(429), _) => Error::RateLimited {
            retry_after: e.retry_after(),
        },
        (Some(_), _) => Error::Backend {
            backend: "rest-peer",
            message: text,
        },
        (None, _) => Error::Disconnected { reason: text },
    }
}

fn bad_answer(endpoint: &str, what: &str) -> Error {
    Error::Backend {
        backend: "rest-peer",
        message: format!("{endpoint} answered with {what}"),
    }
}

/// A document's date as epoch milliseconds: `{"$date": ms}` or an ISO 8601 string.
fn date_millis(v: &Value) -> i64 {
    if let Some(ms) = v.get("$date").and_then(Value::as_i64) {
        return ms;
    }
    v.as_str()
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
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
impl Peer for RestPeer {
    fn user_id(&self) -> UserId {
        UserId::new(self.who.user_id.clone())
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
        self.post_message(room, "chat.sendMessage", json!({"message": message}))
            .await
    }

    async fn post_file(
        &self,
        room: &RoomId,
        file: PeerFile<'_>,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef> {
        let file_id = self
            .upload(room, file.name, file.mime_type, file.data)
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
        let endpoint = format!("rooms.mediaConfirm/{}/{file_id}", room.as_str());
        self.post_message(room, &endpoint, body).await
    }

    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        let body = json!({"messageId": message.id.as_str(), "emoji": emoji.trim_matches(':'), "shouldReact": true});
        self.call("POST", "chat.react", Some(body)).await.map(drop)
    }

    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        let body = json!({"messageId": message.id.as_str(), "emoji": emoji.trim_matches(':'), "shouldReact": false});
        self.call("POST", "chat.react", Some(body)).await.map(drop)
    }

    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        let body =
            json!({"roomId": message.room.as_str(), "msgId": message.id.as_str(), "text": text});
        self.call("POST", "chat.update", Some(body)).await.map(drop)
    }

    async fn delete(&self, message: &MessageRef) -> Result<()> {
        let body = json!({"roomId": message.room.as_str(), "msgId": message.id.as_str()});
        self.call("POST", "chat.delete", Some(body)).await.map(drop)
    }

    async fn messages(&self, room: &RoomId) -> Result<Vec<PeerMessage>> {
        let docs = self.room_messages(room).await?;
        Ok(docs.iter().map(peer_message).collect())
    }

    /// From the room history filtered by `tmid` (`chat.syncMessages` holds thread replies
    /// too); the simulator has no `chat.getThreadMessages`, and this reads the same server
    /// state either way.
    async fn thread_messages(&self, room: &RoomId, root: &MessageId) -> Result<Vec<PeerMessage>> {
        let docs = self.room_messages(room).await?;
        Ok(docs
            .iter()
            .filter(|d| d.get("tmid").and_then(Value::as_str) == Some(root.as_str()))
            .map(peer_message)
            .collect())
    }

    async fn reactions(&self, message: &MessageRef) -> Result<Vec<PeerReaction>> {
        let endpoint = format!("chat.getMessage?msgId={}", message.id.as_str());
        let value = self.call("GET", &endpoint, None).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_both_forms() {
        assert_eq!(
            date_millis(&json!({"$date": 1_700_000_000_123_i64})),
            1_700_000_000_123
        );
        assert_eq!(
            date_millis(&json!("2023-11-14T22:13:20.123Z")),
            1_700_000_000_123
        );
    }

    #[test]
    fn refusals_map_by_status_and_code() {
        let api = |status: u16, code: Option<&str>| RestError::Api {
            endpoint: "chat.update".into(),
            status,
            code: code.map(str::to_owned),
            message: "refused".into(),
            retry_after: (status == 429).then_some(Duration::from_secs(2)),
        };
        assert!(matches!(
            channel_error(api(401, None)),
            Error::Unauthorized { .. }
        ));
        assert!(matches!(
            channel_error(api(403, None)),
            Error::PermissionDenied { .. }
        ));
        assert!(matches!(
            channel_error(api(400, Some("error-message-not-found"))),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            channel_error(api(400, Some("error-invalid-room"))),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            channel_error(api(429, None)),
            Error::RateLimited {
                retry_after: Some(_)
            }
        ));
        assert!(matches!(
            channel_error(api(400, Some("error-action-not-allowed"))),
            Error::Backend { .. }
        ));
    }
}
