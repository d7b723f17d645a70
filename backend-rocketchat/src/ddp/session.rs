//! The realtime session: one task per account that owns the connection state machine. It
//! connects (the first connection included: it retries with backoff until the server is
//! up), logs in, subscribes, catches up, turns frames into events, keeps the heartbeat,
//! and reconnects until the account stops.
//!
//! Per attempt, each step reported as the state's phase:
//! `opening` (REST: whose token this is, the room allowlist; then TCP/TLS/WebSocket) →
//! `loggingIn` (`connect` → `connected` → `login {resume}`) → `subscribing` (room list over
//! REST, subscriptions, all `ready`) → `catchingUp` (only after an outage or a restart, and
//! only now, so the catch-up window overlaps the live stream) → `Active`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use channel_api::{ConnectionState, Event, Phase};
use fastwebsockets::{Frame, OpCode, Payload};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch, Mutex};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};

use super::catch_up::{CatchUp, Fetched, RoomOutcome};
use super::frame::{self, DdpError, DdpErrorKind, Inbound};
use super::route::{follow_room_change, route, Follow, Route};
use super::socket::{self, WsRead, WsWrite};
use crate::backoff::reconnect_delay;
use crate::config::{RoomEntry, Secret, ServerUrl, Timeouts};
use crate::error::RcError;
use crate::fatal::{Fatal, Stop};
use crate::mapping::{Mapper, RoomMeta};
use crate::rest::{Rest, RoomLookup};
use crate::wire::{WireDate, WireMessage, WireRoomMeta};

/// Events waiting for a slow consumer, beyond the channel's own buffer. Above this the
/// session stops reading the socket (TCP pushes back) but keeps pinging the server.
const PENDING_CAP: usize = 10_000;
/// Frames read ahead of the session loop.
const FRAME_QUEUE: usize = 256;
/// New messages are those stamped after start minus this (clock skew between us and the
/// server must not turn a new message into an "old one updated").
const NEW_MESSAGE_SLACK_MS: i64 = 5 * 60 * 1000;
/// The longest the event loop waits for a thread root it has never seen (once per thread).
const ROOT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// A request from the channel to the session (DDP method calls).
#[derive(Debug)]
pub(crate) enum Command {
    Method {
        name: String,
        params: Value,
        reply: oneshot::Sender<Result<Value, RcError>>,
    },
}

/// What the session needs to know about the account.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    pub(crate) url: ServerUrl,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) user_id: String,
    /// The configured username: the token's user must have it.
    pub(crate) username: String,
    pub(crate) token: Secret,
    pub(crate) timeouts: Timeouts,
    pub(crate) max_frame_bytes: usize,
    /// The room allowlist, resolved on every connection.
    pub(crate) rooms: Vec<RoomEntry>,
    /// Where an earlier process stopped: the first connection catches up from there.
    pub(crate) resume: Option<channel_api::ResumePoint>,
}

/// What the session learns that the channel reads: the last failure of a connection
/// attempt, and the resolved room allowlist.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Why the last connection attempt failed (cleared when a connection gets active).
    pub(crate) last_failure: std::sync::Mutex<Option<channel_api::Error>>,
    /// The allowlist as last resolved.
    pub(crate) allowlist: std::sync::Mutex<Allowlist>,
}

/// The room allowlist after resolution: ids that exist, and entries that did not resolve
/// (those are denied, never guessed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Allowlist {
    /// `None`: no allowlist, every room.
    pub(crate) allowed: Option<std::collections::HashSet<String>>,
    pub(crate) unresolved: Vec<String>,
}

/// How a connection ended.
#[derive(Debug)]
enum Outcome {
    /// Lost: reconnect after a backoff (at least `wait` when the server asked for it).
    Lost {
        reason: String,
        wait: Option<Duration>,
    },
    /// The account stopped.
    Stopped(Stop),
}

impl Outcome {
    fn lost(reason: impl Into<String>) -> Self {
        Outcome::Lost {
            reason: reason.into(),
            wait: None,
        }
    }
}

/// The session task's state across connections.
pub(crate) struct Session {
    cfg: SessionConfig,
    rest: Rest,
    fatal: Fatal,
    mapper: Mapper,
    tx: mpsc::Sender<Event>,
    pending: VecDeque<Event>,
    commands: mpsc::Receiver<Command>,
    state: watch::Sender<ConnectionState>,
    shared: Arc<Shared>,
    ever_active: bool,
    /// Whether this process resumed from an earlier one's point (then even the first
    /// connection catches up).
    resumed: bool,
    /// Whether the current attempt got active (then a loss starts a new outage).
    active_this_attempt: bool,
    /// Local clock when the session started (epoch ms).
    started_ms: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user_id", &self.cfg.user_id)
            .finish_non_exhaustive()
    }
}

/// One live WebSocket connection.
struct Conn {
    writer: Arc<Mutex<WsWrite>>,
    frames: mpsc::Receiver<Result<Bytes, String>>,
    reader: JoinHandle<()>,
    next_id: u64,
    write_timeout: Duration,
    /// Method id → the method's name and who waits for its answer.
    methods: HashMap<String, (String, oneshot::Sender<Result<Value, RcError>>)>,
    /// Sub id → what the subscription is for (every live subscription).
    subs: HashMap<String, Sub>,
    /// Room id → the sub id of its `<rid>/deleteMessage` subscription.
    room_subs: HashMap<String, String>,
    last_inbound: Instant,
    ping_deadline: Option<Instant>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
        for (_, (_, reply)) in self.methods.drain() {
            let _ = reply.send(Err(RcError::Transport("connection lost".into())));
        }
    }
}

impl Conn {
    fn start(mut read: WsRead, write: WsWrite, write_timeout: Duration) -> Self {
        let writer = Arc::new(Mutex::new(write));
        let (frames_tx, frames) = mpsc::channel(FRAME_QUEUE);
        let obligated = writer.clone();
        // The reader only reads: it answers WebSocket-level pings/closes through the shared
        // writer and hands text frames over; the session does everything else.
        let reader = tokio::spawn(async move {
            loop {
                let frame = read
                    .read_frame(&mut |f: Frame<'_>| {
                        let w = obligated.clone();
                        async move { w.lock().await.write_frame(f).await }
                    })
                    .await;
                let item = match frame {
                    Ok(f) if f.opcode == OpCode::Text => Ok(Bytes::copy_from_slice(&f.payload)),
                    Ok(f) if f.opcode == OpCode::Close => Err("closed by the server".to_owned()),
                    Ok(_) => continue,
                    Err(e) => Err(format!("socket error: {e}")),
                };
                let end = item.is_err();
                if frames_tx.send(item).await.is_err() || end {
                    return;
                }
            }
        });
        Self {
            writer,
            frames,
            reader,
            next_id: 0,
            write_timeout,
            methods: HashMap::new(),
            subs: HashMap::new(),
            room_subs: HashMap::new(),
            last_inbound: Instant::now(),
            ping_deadline: None,
        }
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    async fn send(&mut self, frame: &Value) -> Result<(), Outcome> {
        let bytes = serde_json::to_vec(frame).map_err(|e| Outcome::lost(e.to_string()))?;
        let write = async {
            self.writer
                .lock()
                .await
                .write_frame(Frame::text(Payload::Owned(bytes)))
                .await
        };
        match timeout(self.write_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Outcome::lost(format!("write failed: {e}"))),
            Err(_) => Err(Outcome::lost("write timed out")),
        }
    }

    async fn close(&mut self) {
        let close = async {
            let mut w = self.writer.lock().await;
            let _ = w.write_frame(Frame::close(1000, b"")).await;
        };
        let _ = timeout(Duration::from_secs(1), close).await;
        self.reader.abort();
    }

    async fn method(&mut self, name: &str, params: Value) -> Result<String, Outcome> {
        let id = self.new_id("m");
        self.send(&frame::method(&id, name, params)).await?;
        Ok(id)
    }

    /// Subscribes to `sub`'s stream and remembers what the id is for.
    async fn sub(&mut self, sub: Sub) -> Result<String, Outcome> {
        let id = self.new_id("s");
        let (stream, key) = sub.stream_and_key();
        self.send(&frame::sub(&id, stream, &key)).await?;
        if let Sub::RoomDeletes(rid) = &sub {
            self.room_subs.insert(rid.clone(), id.clone());
        }
        self.subs.insert(id.clone(), sub);
        Ok(id)
    }

    /// Ends our subscription to a room's deletes (the bot left the room).
    async fn unsub_room(&mut self, rid: &str) -> Result<(), Outcome> {
        if let Some(id) = self.room_subs.remove(rid) {
            self.subs.remove(&id);
            self.send(&frame::unsub(&id)).await?;
        }
        Ok(())
    }

    /// Forgets a subscription the server ended; returns what it was for.
    fn sub_gone(&mut self, id: &str) -> Option<Sub> {
        let sub = self.subs.remove(id)?;
        if let Sub::RoomDeletes(rid) = &sub {
            self.room_subs.remove(rid);
        }
        Some(sub)
    }
}

/// What one subscription is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sub {
    /// `stream-room-messages` `__my_messages__`: every message the bot can read.
    Messages,
    /// `stream-notify-user` `<uid>/<event>`: the bot's own notifications.
    User(String),
    /// `stream-notify-room` `<rid>/deleteMessage`: hard deletes in one room.
    RoomDeletes(String),
}

impl Sub {
    fn stream_and_key(&self) -> (&'static str, String) {
        match self {
            Sub::Messages => ("stream-room-messages", "__my_messages__".to_owned()),
            Sub::User(key) => ("stream-notify-user", key.clone()),
            Sub::RoomDeletes(rid) => ("stream-notify-room", format!("{rid}/deleteMessage")),
        }
    }

    /// Whether the account is deaf without it (then it is never given up quietly).
    fn is_account_stream(&self) -> bool {
        !matches!(self, Sub::RoomDeletes(_))
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: SessionConfig,
        rest: Rest,
        fatal: Fatal,
        mapper: Mapper,
        tx: mpsc::Sender<Event>,
        commands: mpsc::Receiver<Command>,
        state: watch::Sender<ConnectionState>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            cfg,
            rest,
            fatal,
            mapper,
            tx,
            pending: VecDeque::new(),
            commands,
            state,
            shared,
            ever_active: false,
            resumed: false,
            active_this_attempt: false,
            started_ms: now_ms(),
        }
    }

    fn set_state(&mut self, state: ConnectionState) {
        tracing::info!(?state, "connection state");
        self.state.send_replace(state.clone());
        self.pending
            .push_back(Event::ConnectionStateChanged { state });
    }

    /// Hands the oldest queued event to the consumer. If the consumer is gone, nobody
    /// will ever read the queue: empty it (and keep it empty) instead of spinning.
    fn deliver(&mut self, permit: Result<mpsc::Permit<'_, Event>, mpsc::error::SendError<()>>) {
        match permit {
            Ok(permit) => {
                if let Some(event) = self.pending.pop_front() {
                    permit.send(event);
                }
            }
            Err(_) => self.pending.clear(),
        }
    }

    /// Reports how far attempt `attempt` of the current outage has got: `Connecting`
    /// until the first connection was ever active, `Reconnecting` after.
    fn set_phase(&mut self, attempt: u32, phase: Phase) {
        let state = if self.ever_active {
            ConnectionState::Reconnecting { attempt, phase }
        } else {
            ConnectionState::Connecting { attempt, phase }
        };
        if *self.state.borrow() != state {
            self.set_state(state);
        }
    }

    fn note_failure(&self, reason: &str) {
        if let Ok(mut last) = self.shared.last_failure.lock() {
            *last = Some(channel_api::Error::Disconnected {
                reason: reason.to_owned(),
            });
        }
    }

    /// Runs until the account stops. The last event is `FatallyClosed`.
    pub(crate) async fn run(mut self) {
        let mut fatal_rx = self.fatal.subscribe();
        // The host hears the starting state too (the watch already holds it).
        self.set_state(ConnectionState::STARTING);
        // Attempts count from 1 in each outage: the first connection, then every outage
        // after a connection that got active.
        let mut attempt: u32 = 1;
        let stop = loop {
            self.active_this_attempt = false;
            match self.connect_and_serve(attempt).await {
                Outcome::Stopped(stop) => break stop,
                Outcome::Lost { reason, wait } => {
                    // A connection that got active ends its outage: the next attempt is
                    // the first of a new one. Each failed attempt doubles the next wait.
                    let failures = if self.active_this_attempt {
                        attempt = 1;
                        1
                    } else {
                        attempt = attempt.saturating_add(1);
                        attempt - 1
                    };
                    tracing::warn!(%reason, attempt, "connection attempt failed or lost; retrying");
                    self.note_failure(&reason);
                    self.set_phase(attempt, Phase::Waiting);
                    let t = &self.cfg.timeouts;
                    let delay = reconnect_delay(failures, t.reconnect_min, t.reconnect_max)
                        .max(wait.unwrap_or_default());
                    let until = Instant::now() + delay;
                    // Keep delivering queued events while we wait.
                    if let Some(stop) = self.idle_until(until, &mut fatal_rx).await {
                        break stop;
                    }
                }
            }
        };
        // Nothing more is processed or delivered: only the final state.
        self.pending.clear();
        let state = ConnectionState::FatallyClosed {
            cause: stop.cause(),
            reason: stop.reason(),
        };
        self.state.send_replace(state.clone());
        let _ = self.tx.send(Event::ConnectionStateChanged { state }).await;
    }

    /// Waits until `until`, delivering queued events and failing commands; returns early
    /// with the reason if the account stops.
    async fn idle_until(
        &mut self,
        until: Instant,
        fatal_rx: &mut watch::Receiver<Option<Stop>>,
    ) -> Option<Stop> {
        loop {
            if let Some(stop) = self.fatal.get() {
                return Some(stop);
            }
            let tx = self.tx.clone();
            tokio::select! {
                biased;
                _ = fatal_rx.changed() => {}
                _ = sleep_until(until) => return None,
                Some(cmd) = self.commands.recv() => {
                    let Command::Method { reply, .. } = cmd;
                    let _ = reply.send(Err(RcError::Transport("reconnecting".into())));
                }
                permit = tx.reserve(), if !self.pending.is_empty() => self.deliver(permit),
            }
        }
    }

    async fn connect_and_serve(&mut self, attempt: u32) -> Outcome {
        let mut fatal_rx = self.fatal.subscribe();
        if let Some(stop) = self.fatal.get() {
            return Outcome::Stopped(stop);
        }
        self.set_phase(attempt, Phase::Opening);
        if let Err(outcome) = self.check_identity().await {
            return outcome;
        }
        if let Err(outcome) = self.resolve_allowlist().await {
            return outcome;
        }
        let t = self.cfg.timeouts.clone();
        let opened = tokio::select! {
            biased;
            _ = fatal_rx.changed() => return self.stopped(),
            r = timeout(t.connect, socket::open(&self.cfg.url, &self.cfg.tls, self.cfg.max_frame_bytes)) => r,
        };
        let (read, write) = match opened {
            Ok(Ok(halves)) => halves,
            Ok(Err(e)) => return Outcome::lost(e.to_string()),
            Err(_) => return Outcome::lost("connect timed out"),
        };
        let mut conn = Conn::start(read, write, t.request);
        match self.handshake(&mut conn, &mut fatal_rx, attempt).await {
            Ok(early) => {
                self.ever_active = true;
                self.active_this_attempt = true;
                if let Ok(mut last) = self.shared.last_failure.lock() {
                    *last = None;
                }
                self.set_state(ConnectionState::Active);
                for inbound in early {
                    if let Err(outcome) = self.handle(&mut conn, inbound).await {
                        return self.finish(&mut conn, outcome).await;
                    }
                }
                let outcome = self.serve(&mut conn, &mut fatal_rx).await;
                self.finish(&mut conn, outcome).await
            }
            Err(outcome) => self.finish(&mut conn, outcome).await,
        }
    }

    /// Checks over REST whose token this is (`/api/v1/me`): another user than `userId` or
    /// `username` stops the account (the configuration cannot work); a 401 stops it
    /// (the REST client trips the switch); anything else is a failed attempt.
    async fn check_identity(&mut self) -> Result<(), Outcome> {
        match self.rest.me().await {
            Ok(me) if me.id != self.cfg.user_id => {
                self.fatal.trip(Stop::Refused(
                    "the token belongs to a different user than userId".into(),
                ));
                Err(self.stopped())
            }
            Ok(me) if me.username != self.cfg.username => {
                self.fatal.trip(Stop::Refused(format!(
                    "username is {:?} but the token's user is {:?}",
                    self.cfg.username, me.username
                )));
                Err(self.stopped())
            }
            Ok(_) => Ok(()),
            Err(RcError::Unauthorized(_) | RcError::Closed(_)) => Err(self.stopped()),
            Err(e) => Err(Outcome::lost(format!("checking the token: {e}"))),
        }
    }

    /// Resolves the room allowlist (on every connection: rooms are created, renamed and
    /// deleted while we run): ids are checked to exist, names are looked up; anything that
    /// does not resolve is reported and left out (denied), never guessed.
    async fn resolve_allowlist(&mut self) -> Result<(), Outcome> {
        if self.cfg.rooms.is_empty() {
            return Ok(());
        }
        let mut resolved = Allowlist {
            allowed: Some(std::collections::HashSet::new()),
            unresolved: Vec::new(),
        };
        for entry in self.cfg.rooms.clone() {
            let (lookup, label) = match &entry {
                RoomEntry::Id(id) => (RoomLookup::Id(id), id.clone()),
                RoomEntry::Name(name) => (RoomLookup::Name(name), format!("#{name}")),
            };
            match self.rest.room_info(lookup).await {
                Ok(Some(room)) => {
                    if let Some(allowed) = resolved.allowed.as_mut() {
                        allowed.insert(room.id);
                    }
                }
                Ok(None) => {
                    tracing::warn!(room = %label, "allowlisted room not found; it is denied");
                    resolved.unresolved.push(label);
                }
                Err(RcError::Unauthorized(_) | RcError::Closed(_)) => return Err(self.stopped()),
                Err(e) => return Err(Outcome::lost(format!("resolving room {label}: {e}"))),
            }
        }
        self.mapper.set_allowed_rooms(resolved.allowed.clone());
        if let Ok(mut shared) = self.shared.allowlist.lock() {
            *shared = resolved;
        }
        Ok(())
    }

    fn stopped(&self) -> Outcome {
        match self.fatal.get() {
            Some(stop) => Outcome::Stopped(stop),
            None => Outcome::lost("stop signal without a reason"),
        }
    }

    async fn finish(&mut self, conn: &mut Conn, outcome: Outcome) -> Outcome {
        // On a stop, close the socket at once; on a loss it is already gone or deaf.
        conn.close().await;
        outcome
    }

    /// Waits for the next frame, answering DDP pings on the way.
    async fn next_frame(
        &mut self,
        conn: &mut Conn,
        deadline: Instant,
        fatal_rx: &mut watch::Receiver<Option<Stop>>,
        what: &str,
    ) -> Result<Inbound, Outcome> {
        loop {
            let item = tokio::select! {
                biased;
                _ = fatal_rx.changed() => return Err(self.stopped()),
                item = conn.frames.recv() => item,
                _ = sleep_until(deadline) => return Err(Outcome::lost(format!("{what} timed out"))),
            };
            let bytes = match item {
                Some(Ok(bytes)) => bytes,
                Some(Err(reason)) => return Err(Outcome::lost(reason)),
                None => return Err(Outcome::lost("socket reader ended")),
            };
            conn.last_inbound = Instant::now();
            conn.ping_deadline = None;
            match frame::parse(&bytes) {
                Ok(Inbound::Ping { id }) => conn.send(&frame::pong(id)).await?,
                Ok(inbound) => return Ok(inbound),
                Err(e) => tracing::debug!(reason = e.0, "dropping a malformed frame"),
            }
        }
    }

    /// connect → login → rooms → subscriptions ready → catch-up. Returns the live frames
    /// that arrived meanwhile, to handle after the catch-up.
    async fn handshake(
        &mut self,
        conn: &mut Conn,
        fatal_rx: &mut watch::Receiver<Option<Stop>>,
        attempt: u32,
    ) -> Result<Vec<Inbound>, Outcome> {
        let t = self.cfg.timeouts.clone();
        self.set_phase(attempt, Phase::LoggingIn);
        conn.send(&frame::connect()).await?;
        let deadline = Instant::now() + t.connect;
        loop {
            match self
                .next_frame(conn, deadline, fatal_rx, "DDP connect")
                .await?
            {
                Inbound::Connected => break,
                Inbound::Failed => return Err(Outcome::lost("server refused DDP version 1")),
                other => tracing::debug!(frame = ?kind_of(&other), "ignored before connected"),
            }
        }

        // The login frame carries the token: it is never logged.
        let login = conn
            .method("login", json!([{"resume": self.cfg.token.expose()}]))
            .await?;
        let deadline = Instant::now() + t.request;
        loop {
            match self.next_frame(conn, deadline, fatal_rx, "login").await? {
                Inbound::Result { id, result, error } if id == login => {
                    if let Some(e) = error {
                        return Err(self.login_refused(e));
                    }
                    let uid = result
                        .as_ref()
                        .and_then(|r| r.get("id"))
                        .and_then(Value::as_str);
                    if uid != Some(self.cfg.user_id.as_str()) {
                        let reason =
                            "login: the token belongs to a different user than userId".to_owned();
                        self.fatal.trip(Stop::Refused(reason));
                        return Err(self.stopped());
                    }
                    break;
                }
                other => tracing::trace!(frame = ?kind_of(&other), "ignored during login"),
            }
        }

        self.set_phase(attempt, Phase::Subscribing);
        let rooms = self.refresh_rooms().await?;

        let uid = self.cfg.user_id.clone();
        let mut waiting: std::collections::HashSet<String> = std::collections::HashSet::new();
        waiting.insert(conn.sub(Sub::Messages).await?);
        for event in ["rooms-changed", "subscriptions-changed", "message"] {
            waiting.insert(conn.sub(Sub::User(format!("{uid}/{event}"))).await?);
        }
        for rid in &rooms {
            waiting.insert(conn.sub(Sub::RoomDeletes(rid.clone())).await?);
        }

        let mut early = Vec::new();
        let deadline = Instant::now() + t.request;
        while !waiting.is_empty() {
            match self
                .next_frame(conn, deadline, fatal_rx, "subscriptions")
                .await?
            {
                Inbound::Ready { subs } => {
                    for s in subs {
                        waiting.remove(&s);
                    }
                }
                Inbound::NoSub { id, error } if waiting.contains(&id) => {
                    waiting.remove(&id);
                    if let Some(sub) = conn.sub_gone(&id) {
                        self.sub_ended(&sub, error)?;
                    }
                }
                other => early.push(other),
            }
        }

        if let Some(resume) = self.cfg.resume.take() {
            // A restarted process: catch up on what was posted while nobody was reading,
            // without repeating what the earlier process handled.
            self.mapper.resume_from(resume);
            self.resumed = true;
        }
        if self.ever_active || self.resumed {
            self.set_phase(attempt, Phase::CatchingUp);
            self.catch_up(conn, &rooms, fatal_rx).await?;
        } else {
            self.mapper
                .set_new_after(self.started_ms - NEW_MESSAGE_SLACK_MS);
            self.mapper.marks_mut().set_floor(self.started_ms);
        }
        Ok(early)
    }

    fn login_refused(&mut self, e: DdpError) -> Outcome {
        if e.is_rate_limit() {
            return Outcome::Lost {
                reason: "login rate limited".into(),
                wait: e.time_to_reset,
            };
        }
        // Any other login error is an auth failure: stop, no retry loop.
        let reason = format!("login refused: {} {}", e.error, e.reason);
        self.fatal.unauthorized(reason.trim_end());
        self.stopped()
    }

    /// A subscription the server ended (`nosub`), during the handshake or live.
    ///
    /// - An account stream (`__my_messages__`, the bot's notifications) is what keeps the
    ///   account from being deaf, so it is never given up: refused for the user
    ///   (`not-allowed`, 401/403, ...) the login is not honoured and the account stops;
    ///   rate limited, the attempt waits for the reset; refused otherwise, or ended
    ///   without an error, the connection is replaced (backoff, resubscribe, catch up).
    /// - A room's delete stream: a logged-out answer stops the account; a rate limit
    ///   replaces the connection after the reset; a refusal means the bot lost the room
    ///   (logged, dropped); no error is the answer to our `unsub`.
    fn sub_ended(&self, sub: &Sub, error: Option<DdpError>) -> Result<(), Outcome> {
        let (stream, key) = sub.stream_and_key();
        let Some(e) = error else {
            if sub.is_account_stream() {
                return Err(Outcome::lost(format!(
                    "the server ended the subscription {stream} {key}"
                )));
            }
            return Ok(());
        };
        let refused = format!(
            "subscription {stream} {key} refused: {} {}",
            e.error, e.reason
        );
        let auth = match e.kind() {
            DdpErrorKind::RateLimited => {
                return Err(Outcome::Lost {
                    reason: format!("subscription {key} rate limited"),
                    wait: e.time_to_reset,
                })
            }
            DdpErrorKind::LoggedOut => true,
            DdpErrorKind::Forbidden => sub.is_account_stream(),
            DdpErrorKind::Other => false,
        };
        if auth {
            self.fatal.unauthorized(refused.trim_end());
            Err(self.stopped())
        } else if sub.is_account_stream() {
            Err(Outcome::lost(refused))
        } else {
            tracing::warn!(%key, error = %e.error, "room subscription refused; that room's deletes are not heard");
            Ok(())
        }
    }

    /// Reloads the bot's rooms (kinds, names) over REST; returns their ids.
    async fn refresh_rooms(&mut self) -> Result<Vec<String>, Outcome> {
        match self.rest.rooms().await {
            Ok(rooms) => {
                let mut ids = Vec::with_capacity(rooms.len());
                for room in rooms {
                    let kind = room
                        .t
                        .as_deref()
                        .and_then(|t| self.mapper.room_kind_of(&room.id, t, room.members()));
                    if let Some(kind) = kind {
                        self.mapper.note_room(
                            &room.id,
                            RoomMeta {
                                kind,
                                name: room.name.clone(),
                            },
                        );
                        ids.push(room.id);
                    }
                }
                Ok(ids)
            }
            Err(RcError::Unauthorized(_)) => Err(self.stopped()),
            Err(e) => Err(Outcome::lost(format!("loading rooms: {e}"))),
        }
    }

    /// Fetches what changed while we were away, each room from its own mark (see
    /// [`super::catch_up`] for the paging and the tries), several rooms at a time, and maps
    /// it as it arrives: each room's pages in order. Runs only after every subscription is
    /// ready, so nothing falls between the two. The socket is kept alive meanwhile with
    /// our own pings (the server closes a connection that sends nothing for 30 s).
    ///
    /// A room the server refuses (4xx) is skipped loudly and stays behind (its mark is
    /// kept for the next catch-up). A room the server keeps failing for fails the attempt
    /// once the other rooms are done, so the next connection reads that room again from
    /// its mark (and the others from theirs, not from the oldest).
    async fn catch_up(
        &mut self,
        conn: &mut Conn,
        rooms: &[String],
        fatal_rx: &mut watch::Receiver<Option<Stop>>,
    ) -> Result<(), Outcome> {
        let plan = rooms
            .iter()
            .map(|rid| (rid.clone(), self.mapper.marks().read_from(rid)))
            .collect();
        let t = self.cfg.timeouts.clone();
        let mut fetched =
            CatchUp::start(self.rest.clone(), t.clone(), self.fatal.subscribe(), plan);
        let mut newest: HashMap<String, i64> = HashMap::new();
        let mut failed = None;
        // Well inside the server's 15 s + 15 s of client silence, whatever the config.
        let mut keepalive =
            tokio::time::interval(t.ping_after_silence.min(Duration::from_secs(10)));
        keepalive.reset();
        loop {
            let item = tokio::select! {
                biased;
                _ = fatal_rx.changed() => return Err(self.stopped()),
                item = fetched.next() => item,
                _ = keepalive.tick() => {
                    let id = conn.new_id("hb");
                    conn.send(&frame::ping(&id)).await?;
                    continue;
                }
            };
            let Some(item) = item else { break };
            match item {
                Fetched::Page { rid, page } => {
                    for gone in page.deleted {
                        if let Some(ev) = self.mapper.on_delete(&rid, &gone.id) {
                            self.pending.push_back(ev);
                        }
                    }
                    for doc in page.updated {
                        if let Some(at) = doc.updated_at.as_ref().and_then(WireDate::millis) {
                            let room_newest = newest.entry(rid.clone()).or_insert(at);
                            *room_newest = (*room_newest).max(at);
                        }
                        self.map_wire(doc, None).await;
                    }
                }
                Fetched::Done { rid, outcome } => match outcome {
                    RoomOutcome::Complete => {
                        let up_to = newest.remove(&rid);
                        self.mapper.marks_mut().caught_up(&rid, up_to);
                    }
                    RoomOutcome::Stopped => return Err(self.stopped()),
                    RoomOutcome::Refused(e) => {
                        tracing::warn!(%rid, error = %e, "catch-up refused for a room; skipped");
                        self.mapper.marks_mut().fell_behind(&rid);
                    }
                    RoomOutcome::Failed { reason, wait } => {
                        self.mapper.marks_mut().fell_behind(&rid);
                        failed.get_or_insert(Outcome::Lost { reason, wait });
                    }
                },
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// The live loop of one connection.
    async fn serve(
        &mut self,
        conn: &mut Conn,
        fatal_rx: &mut watch::Receiver<Option<Stop>>,
    ) -> Outcome {
        let t = self.cfg.timeouts.clone();
        loop {
            if let Some(stop) = self.fatal.get() {
                return Outcome::Stopped(stop);
            }
            let backlogged = self.pending.len() >= PENDING_CAP;
            let wake = match conn.ping_deadline {
                Some(deadline) => deadline,
                None => conn.last_inbound + t.ping_after_silence,
            };
            let tx = self.tx.clone();
            let result: Result<(), Outcome> = tokio::select! {
                biased;
                _ = fatal_rx.changed() => Err(self.stopped()),
                item = conn.frames.recv(), if !backlogged => match item {
                    Some(Ok(bytes)) => {
                        conn.last_inbound = Instant::now();
                        conn.ping_deadline = None;
                        match frame::parse(&bytes) {
                            Ok(inbound) => self.handle(conn, inbound).await,
                            Err(e) => {
                                tracing::debug!(reason = e.0, "dropping a malformed frame");
                                Ok(())
                            }
                        }
                    }
                    Some(Err(reason)) => Err(Outcome::lost(reason)),
                    None => Err(Outcome::lost("socket reader ended")),
                },
                permit = tx.reserve(), if !self.pending.is_empty() => {
                    self.deliver(permit);
                    Ok(())
                }
                Some(cmd) = self.commands.recv() => self.command(conn, cmd).await,
                _ = sleep_until(wake) => self.heartbeat(conn, backlogged).await,
            };
            if let Err(outcome) = result {
                return outcome;
            }
        }
    }

    async fn heartbeat(&mut self, conn: &mut Conn, backlogged: bool) -> Result<(), Outcome> {
        let t = &self.cfg.timeouts;
        // Open but deaf: no frame at all since our ping. (When we stopped reading
        // ourselves for a slow consumer, the silence is ours: ping again instead.)
        if conn.ping_deadline.is_some() && !backlogged {
            return Err(Outcome::lost("no answer to ping; the socket is deaf"));
        }
        let id = conn.new_id("hb");
        conn.send(&frame::ping(&id)).await?;
        let now = Instant::now();
        conn.ping_deadline = Some(now + t.pong);
        if backlogged {
            conn.last_inbound = now;
        }
        Ok(())
    }

    async fn command(&mut self, conn: &mut Conn, cmd: Command) -> Result<(), Outcome> {
        let Command::Method {
            name,
            params,
            reply,
        } = cmd;
        let id = conn.method(&name, params).await?;
        conn.methods.insert(id, (name, reply));
        Ok(())
    }

    /// Carries out what a frame asks for (see [`route`]).
    async fn handle(&mut self, conn: &mut Conn, inbound: Inbound) -> Result<(), Outcome> {
        match route(inbound) {
            Route::Pong(id) => conn.send(&frame::pong(id)).await?,
            Route::Nothing => {}
            Route::Failed => return Err(Outcome::lost("server sent failed")),
            Route::SubEnded { id, error } => {
                if let Some(sub) = conn.sub_gone(&id) {
                    self.sub_ended(&sub, error)?;
                }
            }
            Route::Answer { id, result, error } => {
                if let Some((name, reply)) = conn.methods.remove(&id) {
                    let outcome = match error {
                        None => Ok(result.unwrap_or(Value::Null)),
                        Some(e) => Err(RcError::from_ddp(&name, e, &self.fatal)),
                    };
                    // A logged-out answer tripped the switch: the loop closes the socket.
                    let _ = reply.send(outcome);
                }
            }
            Route::Message { doc, meta } => self.map_wire(doc, meta).await,
            Route::Deleted { rid, id } => {
                if let Some(ev) = self.mapper.on_delete(&rid, &id) {
                    self.pending.push_back(ev);
                }
            }
            Route::RoomChanged(change) => {
                // Keeps the per-room delete subscriptions in step with the bot's rooms.
                match follow_room_change(&mut self.mapper, &change) {
                    Follow::Unsubscribe => conn.unsub_room(&change.rid).await?,
                    Follow::Subscribe if !conn.room_subs.contains_key(&change.rid) => {
                        conn.sub(Sub::RoomDeletes(change.rid)).await?;
                    }
                    Follow::Subscribe | Follow::Nothing => {}
                }
            }
        }
        Ok(())
    }

    /// Fetches a thread root this process never saw (a thread from before a restart), so a
    /// reply there still says whether the bot wrote the root or replied in the thread. The
    /// mapper asks once per thread; a failure or timeout only leaves those facts `false`.
    async fn look_up_root(&mut self, root: &str) {
        let fetched = match timeout(ROOT_LOOKUP_TIMEOUT, self.rest.get_message(root)).await {
            Ok(Ok(doc)) => doc,
            Ok(Err(e)) => {
                tracing::debug!(%root, error = %e, "thread root lookup failed; its thread facts stay unknown");
                None
            }
            Err(_) => {
                tracing::debug!(%root, "thread root lookup timed out; its thread facts stay unknown");
                None
            }
        };
        self.mapper.learn_root(root, fetched.as_ref());
    }

    /// Looks up the user ids of reactors the mapper does not know yet (Rocket.Chat keys
    /// reactions by username). Each username is looked up once; one that cannot be
    /// resolved leaves its reaction out (logged by the mapper).
    async fn look_up_reactors(&mut self, doc: &WireMessage) {
        for username in self.mapper.unknown_reactors(doc) {
            match timeout(ROOT_LOOKUP_TIMEOUT, self.rest.user_id_of(&username)).await {
                Ok(Ok(Some(id))) => self.mapper.learn_user(&username, &id),
                Ok(Ok(None)) => tracing::debug!(%username, "reactor not found"),
                Ok(Err(e)) => tracing::debug!(%username, error = %e, "reactor lookup failed"),
                Err(_) => tracing::debug!(%username, "reactor lookup timed out"),
            }
        }
    }

    /// Looks up whether an author is a bot account (`users.info`: `type`, `roles`), once
    /// per author per [`crate::mapping::AUTHOR_TTL`]. A failure leaves the author as last
    /// known (human if never known) until a retry; the message's own `bot` mark still
    /// counts.
    async fn look_up_author(&mut self, author: &str) {
        let by = crate::rest::RoomLookupUser::Id(author);
        let user = match timeout(ROOT_LOOKUP_TIMEOUT, self.rest.user_info(by)).await {
            Ok(Ok(user)) => user,
            Ok(Err(e)) => {
                tracing::warn!(%author, error = %e, "author lookup failed; treated as last known");
                None
            }
            Err(_) => {
                tracing::warn!(%author, "author lookup timed out; treated as last known");
                None
            }
        };
        self.mapper
            .learn_author(author, user.as_ref(), std::time::Instant::now());
    }

    /// Maps one document, after the lookups it needs (an unknown thread root, unknown
    /// reactors, an author whose account kind is not known).
    async fn map_wire(&mut self, doc: WireMessage, meta: Option<WireRoomMeta>) {
        if let Some(author) = self.mapper.unknown_author(&doc, std::time::Instant::now()) {
            self.look_up_author(&author).await;
        }
        if let Some(root) = self.mapper.unknown_thread_root(&doc, meta.as_ref()) {
            self.look_up_root(&root).await;
        }
        if doc.reactions.as_ref().is_some_and(|r| !r.is_empty()) {
            self.look_up_reactors(&doc).await;
        }
        let events = self.mapper.on_wire(doc, meta);
        self.pending.extend(events);
    }
}

/// A frame's kind, for logs (never its content).
fn kind_of(inbound: &Inbound) -> &'static str {
    match inbound {
        Inbound::Connected => "connected",
        Inbound::Failed => "failed",
        Inbound::Ping { .. } => "ping",
        Inbound::Pong => "pong",
        Inbound::Ready { .. } => "ready",
        Inbound::NoSub { .. } => "nosub",
        Inbound::Result { .. } => "result",
        Inbound::RoomMessage { .. } | Inbound::RoomChange { .. } | Inbound::Stream { .. } => {
            "stream"
        }
        Inbound::Ignored(_) => "ignored",
        Inbound::Error { .. } => "error",
    }
}
