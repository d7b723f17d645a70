//! Test support: a simulator with a bot and a peer user, the bot's config, and a small
//! REST client acting as the peer (real protocol, not the simulator's control handle).

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::time::Duration;

use async_trait::async_trait;
use backend_rocketchat::{RocketChatConfig, Secret};
use bytes::Bytes;
use channel_api::{
    ConnectionState, Error, Event, EventStream, MessageId, MessageRef, Result, RoomId, UserId,
};
use conformance::{Peer, PeerFile, PeerMessage, PeerReaction};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rocketchat_sim::{RoomKind, SimConfig, SimHandle, Simulator, UserKind};
use serde_json::{json, Value};

/// Only turns a hang into a failure (tests wait for outcomes, not for time).
pub const HANG: Duration = Duration::from_secs(20);

/// The next event of the channel's stream; a hang or the stream's end fails the test.
pub async fn next_event(events: &mut EventStream) -> Event {
    tokio::time::timeout(HANG, events.recv())
        .await
        .expect("no event arrived")
        .expect("the stream ended")
}

/// Reads events until the connection is active.
pub async fn wait_active(events: &mut EventStream) {
    loop {
        if let Event::ConnectionStateChanged {
            state: ConnectionState::Active,
        } = next_event(events).await
        {
            return;
        }
    }
}

/// A running simulator with a bot, a peer, a public room both are in, and their DM.
pub struct World {
    pub sim: SimHandle,
    pub bot_id: String,
    pub bot_token: String,
    pub peer_id: String,
    pub peer_token: String,
    pub room: String,
    pub room_name: String,
    pub dm: String,
}

pub async fn world() -> World {
    world_with(SimConfig::default()).await
}

pub async fn world_with(config: SimConfig) -> World {
    let sim = Simulator::start(config).await.unwrap();
    let bot_id = sim.create_user("bot", UserKind::Bot).unwrap();
    let bot_token = sim.create_pat(&bot_id, "bridge").unwrap();
    let peer_id = sim.create_user("alice", UserKind::Human).unwrap();
    let peer_token = sim.create_pat(&peer_id, "peer").unwrap();
    let room = sim
        .create_room(RoomKind::Public, "dev", &peer_id, &[&bot_id])
        .unwrap();
    let dm = sim.create_dm(&bot_id, &peer_id).unwrap();
    World {
        sim,
        bot_id,
        bot_token,
        peer_id,
        peer_token,
        room,
        room_name: "dev".into(),
        dm,
    }
}

impl World {
    /// The bot's config: plain http to the simulator (so the insecure flag), short
    /// timeouts so failures show quickly.
    pub fn config(&self) -> RocketChatConfig {
        let mut c = RocketChatConfig::new(
            self.sim.base_url(),
            self.bot_id.clone(),
            "bot",
            Secret::new(self.bot_token.clone()),
        );
        c.dangerously_allow_insecure = true;
        c.timeouts.connect = Duration::from_secs(5);
        c.timeouts.request = Duration::from_secs(5);
        c.timeouts.reconnect_min = Duration::from_millis(50);
        c.timeouts.reconnect_max = Duration::from_millis(500);
        c
    }

    pub fn peer(&self) -> RestPeer {
        RestPeer::new(
            &self.sim.base_url(),
            &self.peer_id,
            "alice",
            &self.peer_token,
        )
    }
}

/// The peer user, speaking REST to the server like any client.
#[derive(Debug, Clone)]
pub struct RestPeer {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    user_id: String,
    username: String,
    token: String,
}

impl RestPeer {
    pub fn new(base: &str, user_id: &str, username: &str, token: &str) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.trim_end_matches('/').to_owned(),
            user_id: user_id.into(),
            username: username.into(),
            token: token.into(),
        }
    }

    pub async fn call(&self, method: &str, endpoint: &str, body: Option<Value>) -> Result<Value> {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}/api/v1/{endpoint}", self.base))
            .header("x-user-id", &self.user_id)
            .header("x-auth-token", &self.token)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .unwrap();
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| Error::Disconnected {
                reason: e.to_string(),
            })?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() && v["success"] != json!(false) {
            return Ok(v);
        }
        let text = v["error"].as_str().unwrap_or("").to_owned();
        Err(match status.as_u16() {
            401 => Error::Unauthorized { reason: text },
            404 => Error::NotFound { what: text },
            _ if text.contains("not found") || text.contains("No message found") => {
                Error::NotFound { what: text }
            }
            _ => Error::Backend {
                backend: "peer",
                message: format!("{endpoint}: {status}: {text}"),
            },
        })
    }

    /// `POST /api/v1/rooms.media/:rid` (multipart, field `file`): stores the upload and
    /// returns its id; nothing is posted until `rooms.mediaConfirm`.
    pub async fn upload(
        &self,
        room: &RoomId,
        name: &str,
        mime: &str,
        data: &[u8],
    ) -> Result<String> {
        let boundary = "----peer-boundary-7MA4YWxkTrZu0gW";
        let req = http::Request::builder()
            .method("POST")
            .uri(format!(
                "{}/api/v1/rooms.media/{}",
                self.base,
                room.as_str()
            ))
            .header("x-user-id", &self.user_id)
            .header("x-auth-token", &self.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Full::new(Bytes::from(multipart_file(
                boundary, name, mime, data,
            ))))
            .unwrap();
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| Error::Disconnected {
                reason: e.to_string(),
            })?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match v["file"]["_id"].as_str() {
            Some(id) if status.is_success() => Ok(id.to_owned()),
            _ => Err(Error::Backend {
                backend: "peer",
                message: format!("rooms.media: {status}: {v}"),
            }),
        }
    }

    async fn room_messages(&self, room: &RoomId) -> Result<Vec<Value>> {
        let v = self
            .call(
                "GET",
                &format!(
                    "chat.syncMessages?roomId={}&lastUpdate=1970-01-01T00:00:00.000Z",
                    room.as_str()
                ),
                None,
            )
            .await?;
        let mut docs: Vec<Value> = v["result"]["updated"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        docs.retain(|d| d.get("t").is_none());
        docs.sort_by_key(|d| d["ts"].as_str().map(str::to_owned).unwrap_or_default());
        Ok(docs)
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

/// The names of the files a message document carries (`files[]`, else `file`).
fn file_names(d: &Value) -> Vec<String> {
    let names: Vec<String> = d["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str().map(str::to_owned))
        .collect();
    if names.is_empty() {
        d["file"]["name"]
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect()
    } else {
        names
    }
}

fn peer_message(d: &Value) -> PeerMessage {
    PeerMessage {
        file_names: file_names(d),
        id: MessageId::new(d["_id"].as_str().unwrap_or_default()),
        text: d["msg"].as_str().unwrap_or_default().to_owned(),
        thread: d["tmid"].as_str().map(MessageId::new),
        author: UserId::new(d["u"]["_id"].as_str().unwrap_or_default()),
    }
}

#[async_trait]
impl Peer for RestPeer {
    fn user_id(&self) -> UserId {
        UserId::new(self.user_id.clone())
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
        if let Some(t) = thread {
            message["tmid"] = json!(t.as_str());
        }
        let v = self
            .call(
                "POST",
                "chat.sendMessage",
                Some(json!({"message": message})),
            )
            .await?;
        Ok(MessageRef {
            room: room.clone(),
            id: MessageId::new(v["message"]["_id"].as_str().unwrap_or_default()),
        })
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
        let mut body = json!({});
        if let Some(caption) = file.caption {
            body["msg"] = json!(caption);
        }
        if let Some(t) = thread {
            body["tmid"] = json!(t.as_str());
        }
        let v = self
            .call(
                "POST",
                &format!("rooms.mediaConfirm/{}/{file_id}", room.as_str()),
                Some(body),
            )
            .await?;
        Ok(MessageRef {
            room: room.clone(),
            id: MessageId::new(v["message"]["_id"].as_str().unwrap_or_default()),
        })
    }

    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.call(
            "POST",
            "chat.react",
            Some(json!({"messageId": message.id.as_str(), "emoji": emoji, "shouldReact": true})),
        )
        .await
        .map(drop)
    }

    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.call(
            "POST",
            "chat.react",
            Some(json!({"messageId": message.id.as_str(), "emoji": emoji, "shouldReact": false})),
        )
        .await
        .map(drop)
    }

    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        self.call(
            "POST",
            "chat.update",
            Some(json!({"roomId": message.room.as_str(), "msgId": message.id.as_str(), "text": text})),
        )
        .await
        .map(drop)
    }

    async fn delete(&self, message: &MessageRef) -> Result<()> {
        self.call(
            "POST",
            "chat.delete",
            Some(json!({"roomId": message.room.as_str(), "msgId": message.id.as_str()})),
        )
        .await
        .map(drop)
    }

    async fn messages(&self, room: &RoomId) -> Result<Vec<PeerMessage>> {
        Ok(self
            .room_messages(room)
            .await?
            .iter()
            .map(peer_message)
            .collect())
    }

    async fn thread_messages(&self, room: &RoomId, root: &MessageId) -> Result<Vec<PeerMessage>> {
        Ok(self
            .room_messages(room)
            .await?
            .iter()
            .filter(|d| d["tmid"].as_str() == Some(root.as_str()))
            .map(peer_message)
            .collect())
    }

    async fn reactions(&self, message: &MessageRef) -> Result<Vec<PeerReaction>> {
        let v = self
            .call(
                "GET",
                &format!("chat.getMessage?msgId={}", message.id.as_str()),
                None,
            )
            .await?;
        let mut out = Vec::new();
        if let Some(map) = v["message"]["reactions"].as_object() {
            for (emoji, r) in map {
                let usernames: Vec<String> = r["usernames"]
                    .as_array()
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
        }
        Ok(out)
    }
}

/// Call first in every test of a binary where some test captures logs with a scoped
/// subscriber (`tracing::subscriber::set_default`).
///
/// tracing caches per callsite whether anyone listens. A callsite first hit by another
/// test's thread while a scoped subscriber is being registered can be cached as "nobody"
/// and its events then never reach the capture (a race in tracing-core between callsite
/// registration and the interest rebuild). A global subscriber that answers "sometimes"
/// for every callsite, installed before any test logs, makes every event ask the current
/// thread's subscriber instead.
pub fn scoped_log_capture_safe() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(AskEveryTime);
    });
}

/// Listens to nothing itself, but never lets a callsite be cached as unwanted.
struct AskEveryTime;

impl tracing::Subscriber for AskEveryTime {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
