//! The Rocket.Chat 8.2.0 backend for the [`channel_api::Channel`] contract: realtime
//! events over DDP (fastwebsockets + rustls), actions over REST (hyper + hyper-rustls).
//!
//! ```ignore
//! let config = RocketChatConfig::from_json(json)?;          // validated; errors name the field
//! let channel = RocketChatChannel::connect(config, AccountId::new("default")).await?;
//! let mut events = channel.events()?;
//! while let Some(event) = events.recv().await { /* ... */ }
//! channel.shutdown().await;
//! ```
//!
//! # Layout
//! - [`config`]: [`RocketChatConfig`] (serde, camelCase keys), [`Secret`] (redacted),
//!   `validate()`: `https`/`wss` only unless `dangerouslyAllowInsecure`.
//! - `tls`: the rustls client config shared by REST and the socket: public roots plus an
//!   optional `caFile`, or an explicit no-verification verifier under the insecure flag.
//! - `rest`: the REST client (one keep-alive pool); any 401 trips the account's fatal
//!   switch; 429 waits until `X-RateLimit-Reset` (absolute ms) and retries; answers over
//!   8 MiB are refused (`ResponseTooLarge`); `call_as` reads a body into its wire type;
//!   failures carry their code (`error::error_code`) and are classified by status and
//!   code, never by their wording.
//! - `ddp`: the realtime session task: `frame` (DDP frames), `socket` (TCP/TLS/upgrade),
//!   `session` (login, subscriptions, catch-up after `ready`, heartbeat, reconnect with
//!   backoff + jitter, the [`ConnectionState`] machine), `catch_up` (the fetching half of
//!   a catch-up: 8 rooms at a time, each in pages of `chat.syncMessages`' cursor mode
//!   from its own mark, halved while a page is over the REST answer cap, server errors
//!   tried again, a refused room skipped; the session maps the pages as they come).
//! - `mapping`: pure wire-document → [`Event`] mapping with one input
//!   (`Mapper::on_wire`, a typed `WireMessage` from the stream or from REST): room kinds
//!   (`room_kind` / `Mapper::room_kind_of`, the one place: a `d` room of more than two
//!   members is a group DM),
//!   mentions from the payload, threads, edits, deletes, reaction diffing, echo and
//!   duplicate filtering, all with bounded caches. `wire` holds the lenient serde types
//!   it reads (REST answers included: `chat.syncMessages`, `chat.getMessage`, history).
//! - `marks`: how far each room was read (its own mark, frozen while the room is behind):
//!   where that room's catch-up starts.
//! - `media`: attachments: `file_path`, the one rule for what a download may fetch
//!   (`/file-upload/<plain id>/<one encoded segment>`, built from the message's own upload
//!   records, never from its file cards); download under a size limit (refused by
//!   `Content-Length`, else cut off while streaming), upload with `rooms.media` +
//!   `rooms.mediaConfirm`.
//! - `history`: past messages over REST (`channels`/`groups`/`im.history` by room kind,
//!   `chat.getMessage` + `chat.getThreadMessages` for threads), hidden and system messages
//!   left out, paged until the limit is filled.
//! - `fatal`: the one-way stop switch. Every auth failure trips it (a REST 401, a refused
//!   login, a DDP method answered 401/403, an account stream refused for the user); an
//!   `Unauthorized` error can only be made by tripping it. `shutdown()` trips it too.
//! - `backoff`: every wait before trying again: reconnect and retry delays (exponential
//!   with jitter), and `RateLimitBudget`, the one budget for waiting out REST 429 and DDP
//!   `too-many-requests`. `bounded`: the bounded map.
//! - `error`: the private error, the one conversion of a DDP error object
//!   (`RcError::from_ddp`), and the mapping onto [`channel_api::Error`].
//!
//! # Tasks
//! One session task per account reads the socket, maps frames and queues events; it
//! answers pings and keeps its own heartbeat even when the consumer is slow (events wait
//! in a queue; past a high cap the socket is no longer read, but pings continue). One
//! re-validation task checks `/api/v1/me` every `revalidateIntervalSeconds`. Sends are
//! serialized per account so a 429 wait keeps their order.

pub mod admin;
pub mod config;

mod backoff;
mod bounded;
mod ddp;
mod error;
mod fatal;
mod history;
mod mapping;
mod marks;
mod media;
mod rest;
mod tls;
mod wire;

/// Entry points for fuzzing and property tests (`fuzz/`, `tests/reliability_props.rs`):
/// untrusted bytes through the DDP frame decoder, the session's routing of a frame
/// (`ddp::route`, the same function the session calls) and the message mapper. Not a
/// supported API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::ddp::frame;
    use crate::ddp::route::{follow_room_change, route, Route};
    use crate::mapping::Mapper;
    use crate::wire::WireMessage;

    /// Decodes one inbound DDP text frame. `true` if it was accepted, `false` if it is a
    /// logged drop (malformed). Must never panic.
    pub fn ddp_frame(bytes: &[u8]) -> bool {
        frame::parse(bytes).is_ok()
    }

    /// Feeds frames in order through the decoder, the session's routing and one mapper,
    /// as the session handles them (its REST lookups of unknown thread roots and reactors
    /// all fail here, the safe side); returns the number of events. Must never panic.
    pub fn map_frames<'a>(frames: impl IntoIterator<Item = &'a [u8]>) -> usize {
        let mut mapper = Mapper::new("bot-id", "bot", 0);
        let mut events = 0;
        for bytes in frames {
            let Ok(inbound) = frame::parse(bytes) else {
                continue;
            };
            match route(inbound) {
                Route::Message { doc, meta } => {
                    if let Some(root) = mapper.unknown_thread_root(&doc, meta.as_ref()) {
                        mapper.learn_root(&root, None);
                    }
                    let _ = mapper.unknown_reactors(&doc);
                    let now = std::time::Instant::now();
                    if let Some(author) = mapper.unknown_author(&doc, now) {
                        mapper.learn_author(&author, None, now);
                    }
                    events += mapper.on_wire(doc, meta).len();
                }
                Route::Deleted { rid, id } => {
                    events += usize::from(mapper.on_delete(&rid, &id).is_some());
                }
                Route::RoomChanged(change) => {
                    let _ = follow_room_change(&mut mapper, &change);
                }
                Route::Pong(_)
                | Route::Nothing
                | Route::Failed
                | Route::SubEnded { .. }
                | Route::Answer { .. } => {}
            }
        }
        events
    }

    /// Maps message documents (JSON bytes each, as a catch-up page holds them) through
    /// one mapper, read as the catch-up reads them; returns the number of events. Must
    /// never panic.
    pub fn map_documents<'a>(docs: impl IntoIterator<Item = &'a [u8]>) -> usize {
        let mut mapper = Mapper::new("bot-id", "bot", 0);
        docs.into_iter()
            .filter_map(|bytes| serde_json::from_slice::<WireMessage>(bytes).ok())
            .map(|doc| mapper.on_wire(doc, None).len())
            .sum()
    }
}

use std::collections::HashSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use channel_api::{
    AccountId, Attachment, Capabilities, Channel, ConnectionState, Error, Event, EventStream,
    HistoryQuery, Identity, Message, MessageId, MessageRef, OutboundFile, OutboundMessage, Result,
    RoomId, RoomInfo, RoomKind, RoomQuery, SentMessage, TextLimit, UserQuery,
};
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use channel_api::resume::{ResumePoint, RESUME_WINDOW_MS};
pub use config::{ConfigError, RocketChatConfig, RoomEntry, Secret, Timeouts};
pub use tls::tls_client_config;

use crate::bounded::BoundedMap;
use crate::ddp::session::{Command, Session, SessionConfig, Shared};
use crate::error::RcError;
use crate::fatal::{Fatal, Stop};
use crate::mapping::{room_kind, Mapper};
use crate::rest::{Rest, RoomLookup};

/// Rocket.Chat's default `Message_MaxAllowedSize`, in UTF-16 code units.
pub const MAX_TEXT_LEN: usize = 5000;
/// Events buffered in the channel between the session task and the consumer.
const EVENT_BUFFER: usize = 1024;
/// Attempts of one send when the connection breaks mid-request (same `_id` each time).
const SEND_ATTEMPTS: u32 = 3;

/// `validateMessage`'s error when `alias` or `avatar` is set without the
/// `message-impersonate` permission (RocketChat/Rocket.Chat
/// `apps/meteor/app/lib/server/functions/sendMessage.ts`: `throw new Error('Not enough
/// permission')`; the permission's default roles are `bot` and `app`,
/// `app/authorization/server/constant/permissions.ts`). `emoji` needs no permission.
const IMPERSONATION_REFUSED: &str = "Not enough permission";

/// The message object's fields beyond `_id` / `rid` / `msg` / `tmid`, from
/// RocketChat/Rocket.Chat `validateMessage` (`sendMessage.ts`): `tshow: Boolean` (a thread
/// reply also shown in the room; `prepareMessageObject` drops anything but `true`, and
/// `executeSendMessage` refuses `tshow` without `tmid`), `alias: String` (the display
/// name), `avatar` (an URL, checked by `validPartialURLParam`), `emoji: String` (shown as
/// the avatar, `:name:`). `alias` / `avatar` only when `impersonate`.
fn outbound_fields(message: &OutboundMessage, impersonate: bool) -> serde_json::Map<String, Value> {
    let mut extra = serde_json::Map::new();
    if message.broadcast && message.thread.is_some() {
        extra.insert("tshow".into(), Value::Bool(true));
    }
    let Some(identity) = &message.identity else {
        return extra;
    };
    let set = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let avatar =
        set(&identity.avatar_url).filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    if impersonate {
        if let Some(name) = set(&identity.name) {
            extra.insert("alias".into(), Value::String(name));
        }
        if let Some(url) = &avatar {
            extra.insert("avatar".into(), Value::String(url.clone()));
        }
    }
    // As Slack's identity: the picture URL wins over the emoji.
    if avatar.is_none() || !impersonate {
        if let Some(emoji) = set(&identity.emoji) {
            // A name only (Rocket.Chat shows `:name:`); a raw Unicode emoji is left out.
            let name = emoji.trim_matches(':');
            let is_name = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-'));
            if !name.is_empty() && is_name {
                extra.insert("emoji".into(), Value::String(format!(":{name}:")));
            }
        }
    }
    extra
}
/// How many confirmed thread roots `send` remembers (see `check_thread_root`).
const KNOWN_ROOTS_CAPACITY: usize = 4096;

/// What [`probe`] found out about a server and a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The server version `/api/info` gives (major.minor for non-admins).
    pub server_version: String,
    /// The user the token belongs to.
    pub user_id: String,
    /// That user's username.
    pub username: String,
    /// Whether `userId` and `username` in the config match the token's user.
    pub identity_matches: bool,
}

/// Checks that the server is reachable, the token valid (`/api/v1/me`) and reads the
/// server version (`/api/info`). Connects no socket and starts no task.
pub async fn probe(config: &RocketChatConfig) -> Result<ProbeReport> {
    config.validate().map_err(config_error)?;
    let tls = tls::client_config(config).map_err(config_error)?;
    let rest = Rest::new(config, tls, Fatal::new()).map_err(config_error)?;
    let server_version = rest.server_version().await?;
    let me = rest.me().await?;
    Ok(ProbeReport {
        identity_matches: me.id == config.user_id && me.username == config.username,
        server_version,
        user_id: me.id,
        username: me.username,
    })
}

fn config_error(e: ConfigError) -> Error {
    Error::InvalidRequest {
        reason: e.to_string(),
    }
}

/// A logged-in Rocket.Chat bot account.
pub struct RocketChatChannel {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Identity,
    rest: Rest,
    fatal: Fatal,
    events: StdMutex<Option<mpsc::Receiver<Event>>>,
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<ConnectionState>,
    /// What the session learns for the channel (last failure, resolved allowlist).
    shared: Arc<Shared>,
    /// Sends go out one at a time, so a rate-limit wait keeps their order.
    send_lock: tokio::sync::Mutex<()>,
    tasks: StdMutex<Vec<JoinHandle<()>>>,
    request_timeout: Duration,
    /// Longest `too-many-requests` wait a DDP method takes before failing.
    max_rate_limit_wait: Duration,
    reconnect_min: Duration,
    /// Thread roots already confirmed to exist in a room (root id -> room id). Bounded.
    known_roots: StdMutex<BoundedMap<String, String>>,
    /// The server refused `alias` / `avatar` once (no `message-impersonate`): later sends
    /// leave them out instead of being refused first.
    impersonation_refused: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RocketChatChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocketChatChannel")
            .field("identity", &self.inner.identity)
            .field("state", &*self.inner.state.borrow())
            .finish_non_exhaustive()
    }
}

impl RocketChatChannel {
    /// Starts the account: validates the config and returns at once, with the channel in
    /// `Connecting`. The channel then owns its connection: it checks the token, resolves
    /// the room allowlist, opens the socket, logs in, subscribes and goes `Active`,
    /// retrying the first connection with backoff while the server cannot be reached, and
    /// reconnecting after every loss, until credentials are refused or it is shut down.
    /// Every step is reported as the state's phase.
    ///
    /// Errors: only a bad config, naming the field. Everything else is reported through
    /// the connection state.
    pub fn start(config: RocketChatConfig, account: AccountId) -> Result<Self, ConfigError> {
        config.validate()?;
        let url = config.parsed_url()?;
        let tls = tls::client_config(&config)?;
        let fatal = Fatal::new();
        let rest = Rest::new(&config, tls.clone(), fatal.clone())?;

        let mapper = Mapper::new(&config.user_id, &config.username, 0);
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (state_tx, state_rx) = watch::channel(ConnectionState::STARTING);
        let shared = Arc::new(Shared::default());
        let session = Session::new(
            SessionConfig {
                url,
                tls,
                user_id: config.user_id.clone(),
                username: config.username.clone(),
                token: config.auth_token.clone(),
                timeouts: config.timeouts.clone(),
                max_frame_bytes: config.max_frame_bytes,
                rooms: config.rooms.clone(),
                resume: config.resume.clone(),
            },
            rest.clone(),
            fatal.clone(),
            mapper,
            tx,
            cmd_rx,
            state_tx,
            shared.clone(),
        );
        let session_task = tokio::spawn(session.run());
        let revalidate_task = tokio::spawn(revalidate(
            rest.clone(),
            fatal.clone(),
            config.revalidate_interval,
            config.user_id.clone(),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                identity: Identity {
                    account,
                    user_id: channel_api::UserId::new(config.user_id.clone()),
                    username: config.username.clone(),
                },
                rest,
                fatal,
                events: StdMutex::new(Some(rx)),
                commands: cmd_tx,
                state: state_rx,
                shared,
                send_lock: tokio::sync::Mutex::new(()),
                tasks: StdMutex::new(vec![session_task, revalidate_task]),
                request_timeout: config.timeouts.request,
                max_rate_limit_wait: config.timeouts.max_rate_limit_wait,
                reconnect_min: config.timeouts.reconnect_min,
                known_roots: StdMutex::new(BoundedMap::new(KNOWN_ROOTS_CAPACITY)),
                impersonation_refused: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// [`RocketChatChannel::start`], then waits for the first attempt's outcome: the
    /// channel once it is `Active`, or the error that ended the first attempt (the
    /// channel is then shut down). For callers that want to fail fast (tests, one-shot
    /// tools); a long-running host uses `start` and watches the state.
    ///
    /// Errors: a bad config is `InvalidRequest` naming the field; a rejected token is
    /// `Unauthorized`; an unreachable server or a refused certificate is `Disconnected`.
    pub async fn connect(config: RocketChatConfig, account: AccountId) -> Result<Self> {
        let channel = Self::start(config, account).map_err(config_error)?;
        let mut states = channel.inner.state.clone();
        loop {
            let state = states.borrow_and_update().clone();
            match state {
                ConnectionState::Active => return Ok(channel),
                ConnectionState::FatallyClosed { .. } => {
                    return Err(state.unavailable().unwrap_or(Error::Closed {
                        reason: "closed".into(),
                    }))
                }
                ConnectionState::Connecting { attempt, .. } if attempt > 1 => {
                    let failure = channel.last_failure();
                    channel.shutdown().await;
                    return Err(failure.unwrap_or(Error::Disconnected {
                        reason: "the first connection attempt failed".into(),
                    }));
                }
                _ => {}
            }
            if states.changed().await.is_err() {
                return Err(Error::Disconnected {
                    reason: "the session ended before it was ready".into(),
                });
            }
        }
    }

    /// A channel for one-shot tools (status probes, target resolution, directory
    /// listings): requests over REST only, with no realtime session, no re-validation
    /// task and no events (the stream stays empty). Its state is `Active` (it is usable)
    /// until a call is refused (`FatallyClosed`). Typing needs the socket and fails with
    /// `Closed`.
    pub fn offline(config: RocketChatConfig, account: AccountId) -> Result<Self, ConfigError> {
        config.validate()?;
        let tls = tls::client_config(&config)?;
        let fatal = Fatal::new();
        let rest = Rest::new(&config, tls, fatal.clone())?;
        // Nobody sends on these: the stream never yields, and the session channel's
        // receiver is dropped, so a DDP method fails at once.
        let (_events_tx, rx) = mpsc::channel(1);
        let (cmd_tx, _cmd_rx) = mpsc::channel(1);
        let (state_tx, state_rx) = watch::channel(ConnectionState::Active);
        // The state follows the stop switch (a refused call makes it fatal).
        let mut stopped = fatal.subscribe();
        let watcher = tokio::spawn(async move {
            let _keep_sender = _events_tx;
            while stopped.changed().await.is_ok() {
                let stop = stopped.borrow().clone();
                if let Some(stop) = stop {
                    state_tx.send_replace(ConnectionState::FatallyClosed {
                        cause: stop.cause(),
                        reason: stop.reason(),
                    });
                    return;
                }
            }
        });
        Ok(Self {
            inner: Arc::new(Inner {
                identity: Identity {
                    account,
                    user_id: channel_api::UserId::new(config.user_id.clone()),
                    username: config.username.clone(),
                },
                rest,
                fatal,
                events: StdMutex::new(Some(rx)),
                commands: cmd_tx,
                state: state_rx,
                shared: Arc::new(Shared::default()),
                send_lock: tokio::sync::Mutex::new(()),
                tasks: StdMutex::new(vec![watcher]),
                request_timeout: config.timeouts.request,
                max_rate_limit_wait: config.timeouts.max_rate_limit_wait,
                reconnect_min: config.timeouts.reconnect_min,
                known_roots: StdMutex::new(BoundedMap::new(KNOWN_ROOTS_CAPACITY)),
                impersonation_refused: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Why the last connection attempt failed, if the last one did.
    pub fn last_failure(&self) -> Option<Error> {
        self.inner
            .shared
            .last_failure
            .lock()
            .ok()
            .and_then(|last| last.clone())
    }

    /// The current connection state.
    pub fn state(&self) -> ConnectionState {
        self.inner.state.borrow().clone()
    }

    /// Room allowlist entries that did not resolve on the last connection (they are
    /// denied).
    pub fn unresolved_rooms(&self) -> Vec<String> {
        self.inner
            .shared
            .allowlist
            .lock()
            .map(|a| a.unresolved.clone())
            .unwrap_or_default()
    }

    /// The room allowlist as resolved on the last connection (`None`: every room).
    pub fn allowed_rooms(&self) -> Option<HashSet<String>> {
        self.inner
            .shared
            .allowlist
            .lock()
            .ok()
            .and_then(|a| a.allowed.clone())
    }

    /// Stops the account: closes the socket, stops the tasks, and ends the event stream
    /// with `FatallyClosed { reason: "shut down" }`. Later calls return `Closed`.
    pub async fn shutdown(&self) {
        self.inner.fatal.trip(Stop::Shutdown);
        let tasks: Vec<JoinHandle<()>> = match self.inner.tasks.lock() {
            Ok(mut tasks) => tasks.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for task in tasks {
            // The session task ends by itself once it sees the switch; give it a moment.
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    fn check_open(&self) -> std::result::Result<(), RcError> {
        match self.inner.fatal.get() {
            Some(stop) => Err(stop.error()),
            None => Ok(()),
        }
    }

    async fn send_once_or_confirm(
        &self,
        id: &str,
        message: &OutboundMessage,
    ) -> std::result::Result<Option<wire::WireMessage>, RcError> {
        let rest = &self.inner.rest;
        let rid = message.room.as_str();
        let tmid = message.thread.as_ref().map(MessageId::as_str);
        let refused = &self.inner.impersonation_refused;
        let mut impersonate = !refused.load(std::sync::atomic::Ordering::Relaxed);
        let mut last_error = None;
        for attempt in 1..=SEND_ATTEMPTS {
            let extra = outbound_fields(message, impersonate);
            match rest
                .send_message(id, rid, &message.text, tmid, &extra)
                .await
            {
                Ok(posted) => return Ok(posted),
                Err(RcError::Api {
                    status: 400,
                    ref message,
                    ..
                }) if impersonate
                    && (extra.contains_key("alias") || extra.contains_key("avatar"))
                    && message.contains(IMPERSONATION_REFUSED) =>
                {
                    // validateMessage refused before inserting anything, so the same `_id`
                    // is free: post again under the bot's own name (Slack's channel falls
                    // back the same way when `chat:write.customize` is missing).
                    if !refused.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        tracing::warn!(
                            "the server refused the agent's name / avatar on messages (the bot \
                             lacks Rocket.Chat's `message-impersonate` permission); posting \
                             under the bot's own name from now on"
                        );
                    }
                    impersonate = false;
                }
                Err(RcError::Api { status: 400, .. })
                    if attempt > 1 || message.idempotency_key.is_some() =>
                {
                    // The `_id` may exist already (an earlier attempt whose answer got
                    // lost): the server refuses the duplicate with a 400. Confirm.
                    if let Some(existing) = self.confirm_delivered(id, rid).await? {
                        return Ok(Some(existing));
                    }
                    return Err(last_error.unwrap_or_else(|| {
                        RcError::Invalid("chat.sendMessage refused the message".into())
                    }));
                }
                Err(e @ RcError::Api { status: 400, .. }) => {
                    // First attempt with our own fresh id: a plain refusal, unless the
                    // id somehow exists (then it is ours and delivered).
                    if let Some(existing) = self.confirm_delivered(id, rid).await? {
                        return Ok(Some(existing));
                    }
                    return Err(e);
                }
                Err(e @ (RcError::Transport(_) | RcError::Timeout(_))) => {
                    tracing::info!(error = %e, attempt, "send interrupted; retrying with the same _id");
                    last_error = Some(e);
                    let delay = backoff::reconnect_delay(
                        attempt,
                        self.inner.reconnect_min,
                        Duration::from_secs(2),
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
        // Out of attempts: one last check whether an attempt landed after all.
        if let Some(existing) = self.confirm_delivered(id, rid).await.ok().flatten() {
            return Ok(Some(existing));
        }
        Err(last_error.unwrap_or_else(|| RcError::Transport("send failed".into())))
    }

    /// Whether a message with our `_id` exists in `rid`, written by the bot.
    async fn confirm_delivered(
        &self,
        id: &str,
        rid: &str,
    ) -> std::result::Result<Option<wire::WireMessage>, RcError> {
        let found = self.inner.rest.get_message(id).await?;
        Ok(found.filter(|m| m.rid == rid && m.u.id == self.inner.identity.user_id.as_str()))
    }

    /// Refuses a thread reply whose root does not exist in the target room.
    ///
    /// Rocket.Chat 8.x accepts a reply to an unknown `tmid` (and moves a reply into its
    /// parent's room): `executeSendMessage` keeps `parentMessage?.tmid || message.tmid` and
    /// `rid = parentMessage?.rid`. Without this check a reply to a deleted root would post an
    /// orphan, or land in another room. Confirmed roots are cached (bounded), so a
    /// conversation costs one `chat.getMessage` per thread, not one per reply.
    async fn check_thread_root(&self, room: &RoomId, root: &MessageId) -> Result<()> {
        let cached = self
            .inner
            .known_roots
            .lock()
            .ok()
            .and_then(|roots| roots.get(&root.as_str().to_owned()).cloned());
        if cached.as_deref() == Some(room.as_str()) {
            return Ok(());
        }
        let found = self.inner.rest.get_message(root.as_str()).await?;
        if found.as_ref().map(|m| m.rid.as_str()) != Some(room.as_str()) {
            return Err(Error::NotFound {
                what: format!("thread root {root} in room {room}"),
            });
        }
        if let Ok(mut roots) = self.inner.known_roots.lock() {
            roots.insert(root.as_str().to_owned(), room.as_str().to_owned());
        }
        Ok(())
    }

    /// Calls a DDP method; a `too-many-requests` refusal is waited out (its `timeToReset`)
    /// and retried under the same budget as a REST 429 ([`backoff::RateLimitBudget`]), so
    /// callers see `RateLimited` only when the server asks for longer than we wait.
    async fn ddp_method(&self, name: &str, params: Value) -> std::result::Result<Value, RcError> {
        let mut budget = backoff::RateLimitBudget::new(self.inner.max_rate_limit_wait);
        loop {
            match self.ddp_method_once(name, params.clone()).await {
                Err(RcError::RateLimited { retry_after }) => {
                    let wait = budget.refused(retry_after)?;
                    tracing::info!(
                        method = name,
                        wait_ms = wait.as_millis() as u64,
                        "DDP too-many-requests; waiting for the reset"
                    );
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    async fn ddp_method_once(
        &self,
        name: &str,
        params: Value,
    ) -> std::result::Result<Value, RcError> {
        if !matches!(*self.inner.state.borrow(), ConnectionState::Active) {
            return Err(RcError::Transport("not connected".into()));
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Method {
                name: name.to_owned(),
                params,
                reply,
            })
            .await
            .map_err(|_| RcError::Closed("the session has ended".into()))?;
        match tokio::time::timeout(self.inner.request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RcError::Transport("connection lost".into())),
            Err(_) => Err(RcError::Timeout(name.to_owned())),
        }
    }
}

/// Meteor's `Random.id()`: 17 characters from an alphabet without look-alikes.
fn random_id() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..17)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

fn room_info_of(room: &wire::WireRoom) -> Option<RoomInfo> {
    let kind = room
        .t
        .as_deref()
        .and_then(|t| room_kind(t, room.members()))?;
    Some(RoomInfo {
        id: RoomId::new(room.id.clone()),
        kind,
        name: if kind.is_direct() || kind == RoomKind::GroupDirect {
            None
        } else {
            room.name.clone()
        },
    })
}

/// Re-checks the token on a fixed cadence, so a silently revoked token stops the account
/// within one interval (the REST client trips the fatal switch on 401).
async fn revalidate(rest: Rest, fatal: Fatal, every: Duration, user_id: String) {
    let mut stopped = fatal.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
        if fatal.get().is_some() {
            return;
        }
        match rest.me().await {
            Ok(me) if me.id == user_id => tracing::debug!("credentials re-validated"),
            Ok(_) => {
                fatal.trip(Stop::Refused(
                    "re-validation: the token now belongs to another user".into(),
                ));
                return;
            }
            Err(RcError::Unauthorized(_)) => return,
            Err(RcError::Closed(_)) => return,
            Err(e) => tracing::warn!(error = %e, "credential re-validation failed; will retry"),
        }
    }
}

#[async_trait]
impl Channel for RocketChatChannel {
    fn identity(&self) -> Identity {
        self.inner.identity.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            threads: true,
            reactions: true,
            edit: true,
            delete: true,
            typing: true,
            resolve_by_name: true,
            max_text: TextLimit::utf16(MAX_TEXT_LEN),
            files: true,
            history: true,
        }
    }

    fn state(&self) -> ConnectionState {
        self.inner.state.borrow().clone()
    }

    fn events(&self) -> Result<EventStream> {
        let mut slot = self.inner.events.lock().map_err(|_| Error::Closed {
            reason: "event stream lock poisoned".into(),
        })?;
        match slot.take() {
            Some(rx) => Ok(EventStream::new(rx)),
            None => Err(Error::InvalidRequest {
                reason: "the event stream was already taken".into(),
            }),
        }
    }

    async fn send(&self, message: OutboundMessage) -> Result<SentMessage> {
        self.check_open()?;
        if message.text.trim().is_empty() {
            return Err(Error::InvalidRequest {
                reason: "message text is empty".into(),
            });
        }
        let len = utf16_len(&message.text);
        if len > MAX_TEXT_LEN {
            return Err(Error::InvalidRequest {
                reason: format!("message is {len} UTF-16 units; the limit is {MAX_TEXT_LEN}"),
            });
        }
        let id = match &message.idempotency_key {
            Some(key) => key.as_str().to_owned(),
            None => random_id(),
        };
        if let Some(root) = &message.thread {
            self.check_thread_root(&message.room, root).await?;
        }
        let _order = self.inner.send_lock.lock().await;
        // Posted with our `_id`; the answer, when it parses, says where it went.
        let posted = self.send_once_or_confirm(&id, &message).await?;
        let thread = posted
            .as_ref()
            .and_then(|m| m.tmid.clone())
            .map(MessageId::new)
            .or(message.thread.clone());
        let id = posted.map_or(id, |m| m.id);
        Ok(SentMessage {
            message: MessageRef {
                room: message.room.clone(),
                id: MessageId::new(id),
            },
            thread,
        })
    }

    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.check_open()?;
        Ok(self
            .inner
            .rest
            .react(message.id.as_str(), emoji, true)
            .await?)
    }

    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.check_open()?;
        Ok(self
            .inner
            .rest
            .react(message.id.as_str(), emoji, false)
            .await?)
    }

    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        self.check_open()?;
        let len = utf16_len(text);
        if text.trim().is_empty() || len > MAX_TEXT_LEN {
            return Err(Error::InvalidRequest {
                reason: format!("edited text must be 1..={MAX_TEXT_LEN} UTF-16 units"),
            });
        }
        Ok(self
            .inner
            .rest
            .update(message.room.as_str(), message.id.as_str(), text)
            .await?)
    }

    async fn delete(&self, message: &MessageRef) -> Result<()> {
        self.check_open()?;
        Ok(self
            .inner
            .rest
            .delete(message.room.as_str(), message.id.as_str())
            .await?)
    }

    async fn set_typing(&self, room: &RoomId, thread: Option<MessageId>, on: bool) -> Result<()> {
        self.check_open()?;
        let activity = if on {
            json!(["user-typing"])
        } else {
            json!([])
        };
        let extras = match &thread {
            Some(tmid) => json!({"tmid": tmid.as_str()}),
            None => json!({}),
        };
        let params = json!([
            format!("{}/user-activity", room.as_str()),
            self.inner.identity.username,
            activity,
            extras
        ]);
        self.ddp_method("stream-notify-room", params).await?;
        Ok(())
    }

    async fn resolve_room(&self, query: &RoomQuery) -> Result<RoomInfo> {
        self.check_open()?;
        let (lookup, what) = match query {
            RoomQuery::Id(id) => (RoomLookup::Id(id.as_str()), format!("room {id}")),
            RoomQuery::Name(name) => {
                let name = name.trim_start_matches('#');
                (RoomLookup::Name(name), format!("room #{name}"))
            }
        };
        let found = self.inner.rest.room_info(lookup).await?;
        found
            .as_ref()
            .and_then(room_info_of)
            .ok_or(Error::NotFound { what })
    }

    async fn open_direct(&self, user: &UserQuery) -> Result<RoomInfo> {
        self.check_open()?;
        let rest = &self.inner.rest;
        let username = match user {
            UserQuery::Username(name) => name.trim_start_matches('@').to_owned(),
            UserQuery::Id(id) => {
                rest.username_of(id.as_str())
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        what: format!("user {id}"),
                    })?
            }
        };
        let room = rest
            .create_direct(&username)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: format!("user @{username}"),
            })?;
        Ok(RoomInfo {
            id: RoomId::new(room),
            kind: RoomKind::Direct,
            name: None,
        })
    }

    async fn find_user(&self, user: &UserQuery) -> Result<channel_api::Author> {
        self.check_open()?;
        let by = match user {
            UserQuery::Id(id) => rest::RoomLookupUser::Id(id.as_str()),
            UserQuery::Username(name) => {
                rest::RoomLookupUser::Username(name.trim_start_matches('@'))
            }
        };
        let doc = self
            .inner
            .rest
            .user_info(by)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: match user {
                    UserQuery::Id(id) => format!("user {id}"),
                    UserQuery::Username(name) => format!("user @{name}"),
                },
            })?;
        let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
        let is_bot = mapping::user_is_bot(&doc);
        Ok(channel_api::Author {
            id: channel_api::UserId::new(text("_id").unwrap_or_default()),
            username: text("username").unwrap_or_default(),
            display_name: text("name"),
            is_bot,
        })
    }

    async fn rooms(&self) -> Result<Vec<RoomInfo>> {
        self.check_open()?;
        let rooms = self.inner.rest.rooms().await?;
        Ok(rooms.iter().filter_map(room_info_of).collect())
    }

    async fn probe(&self) -> Result<channel_api::ProbeReport> {
        self.check_open()?;
        let rest = &self.inner.rest;
        let server_version = rest.server_version().await?;
        let me = rest.me().await?;
        let identity = &self.inner.identity;
        Ok(channel_api::ProbeReport {
            server_version: Some(server_version),
            identity_matches: me.id == identity.user_id.as_str()
                && me.username == identity.username,
            user_id: channel_api::UserId::new(me.id),
            username: me.username,
        })
    }

    async fn download(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>> {
        self.check_open()?;
        media::download(&self.inner.rest, attachment, max_bytes).await
    }

    async fn send_file(&self, file: OutboundFile) -> Result<SentMessage> {
        self.check_open()?;
        if file.name.trim().is_empty() {
            return Err(Error::InvalidRequest {
                reason: "file name is empty".into(),
            });
        }
        if let Some(caption) = &file.caption {
            let len = utf16_len(caption);
            if len > MAX_TEXT_LEN {
                return Err(Error::InvalidRequest {
                    reason: format!("caption is {len} UTF-16 units; the limit is {MAX_TEXT_LEN}"),
                });
            }
        }
        if let Some(root) = &file.thread {
            self.check_thread_root(&file.room, root).await?;
        }
        // In order with text sends (a caption and the reply it belongs to).
        let _order = self.inner.send_lock.lock().await;
        media::send_file(&self.inner.rest, &file).await
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>> {
        self.check_open()?;
        let bot = self.inner.identity.user_id.as_str();
        history::history(&self.inner.rest, bot, query).await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the channel without shutdown() still stops its tasks.
        self.fatal.trip(Stop::Shutdown);
        if let Ok(tasks) = self.tasks.lock() {
            for task in tasks.iter() {
                task.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_look_like_meteor_ids() {
        let a = random_id();
        assert_eq!(a.len(), 17);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, random_id());
    }

    #[test]
    fn text_length_is_counted_in_utf16_units() {
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("😀"), 2);
    }

    #[test]
    fn the_channel_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<RocketChatChannel>();
    }
}
