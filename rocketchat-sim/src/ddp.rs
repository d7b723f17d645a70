//! DDP over WebSocket at `/websocket` (reference section 1 and 2).
//!
//! One socket = three tasks: a reader (answers `ping` at once, queues everything else), a
//! processor (handles queued frames one at a time, in order, like Meteor's per-session queue),
//! and a writer (drains the session outbox; honours deaf mode and drop-after-N). A fourth small
//! task runs the server heartbeat.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fastwebsockets::{upgrade::UpgradeFut, FragmentCollectorRead, Frame, OpCode, Payload};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::faults::take_method_fault;
use crate::hub::{Out, SessionCtl, SessionEntry, Shared, StreamSub};
use crate::util::{random_id, read_ejson_date};
use crate::world::{OpError, SendInput, SendPath};

/// Streams the simulator knows. Others get `nosub` 404.
const KNOWN_STREAMS: &[&str] = &[
    "stream-room-messages",
    "stream-notify-room",
    "stream-notify-user",
    "stream-notify-logged",
    "stream-notify-all",
];

/// The Meteor-serialized form of an error (`wrapInternalException` of a `Meteor.Error`).
pub(crate) fn error_object(code: Value, reason: &str, details: Option<Value>) -> Value {
    let code_text = match &code {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut e = Map::new();
    e.insert("isClientSafe".into(), json!(true));
    e.insert("error".into(), code);
    e.insert("reason".into(), json!(reason));
    if let Some(d) = details {
        e.insert("details".into(), d);
    }
    e.insert("message".into(), json!(format!("{reason} [{code_text}]")));
    e.insert("errorType".into(), json!("Meteor.Error"));
    Value::Object(e)
}

fn op_error_object(err: &OpError) -> Value {
    match err {
        OpError::Meteor {
            code,
            reason,
            details,
        } => error_object(json!(code), reason, details.clone()),
        // Not client-safe: Meteor hides it behind a 500.
        OpError::Plain(_) => error_object(json!(500), "Internal server error", None),
    }
}

fn match_failed() -> Value {
    error_object(json!(400), "Match failed", None)
}

fn logged_out() -> Value {
    error_object(
        json!(403),
        "You've been logged out by the server. Please log in again.",
        None,
    )
}

fn too_many_requests(time_to_reset: Duration) -> Value {
    let secs = time_to_reset.as_secs().max(1);
    error_object(
        json!("too-many-requests"),
        &format!("Error, too many requests. Please slow down. You must wait {secs} seconds before trying this again."),
        Some(json!({"timeToReset": time_to_reset.as_millis() as u64})),
    )
}

/// Serves one upgraded socket until it closes.
pub(crate) async fn serve(shared: Arc<Shared>, fut: UpgradeFut) {
    let ws = match fut.await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!("websocket upgrade failed: {e}");
            return;
        }
    };
    let sid = random_id();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Out>();
    let ctl = Arc::new(SessionCtl::default());
    ctl.drop_after.store(-1, Ordering::SeqCst);
    shared.lock().sessions.insert(
        sid.clone(),
        SessionEntry {
            out: out_tx.clone(),
            ctl: ctl.clone(),
            user_id: None,
            token_hash: None,
            subs: Default::default(),
            calls: Default::default(),
        },
    );

    // Buffered writes: the writer flushes when its queue is empty, so a burst of frames
    // (a firehose) costs one system call per buffer, not one per frame.
    let (rx, tx) = ws.split(|s| {
        let (r, w) = tokio::io::split(s);
        (r, tokio::io::BufWriter::with_capacity(64 * 1024, w))
    });
    let mut rx = FragmentCollectorRead::new(rx);
    let mut writer = tokio::spawn(write_loop(tx, out_rx, ctl.clone()));
    let (in_tx, in_rx) = mpsc::unbounded_channel::<Value>();
    let connected = Arc::new(AtomicBool::new(false));
    let last_inbound = Arc::new(Mutex::new(Instant::now()));
    let processor = tokio::spawn(
        Processor {
            shared: shared.clone(),
            sid: sid.clone(),
            out: out_tx.clone(),
            connected: connected.clone(),
            ctl: ctl.clone(),
            last_inbound: last_inbound.clone(),
        }
        .run(in_rx),
    );

    loop {
        let control_out = out_tx.clone();
        let mut send_fn = move |frame: Frame<'_>| {
            let _ = control_out.send(Out::Control(frame.opcode, frame.payload.to_vec()));
            async { Ok::<(), std::io::Error>(()) }
        };
        let frame = tokio::select! {
            _ = &mut writer => break,
            frame = rx.read_frame(&mut send_fn) => frame,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(session = %sid, "socket read ended: {e}");
                break;
            }
        };
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => {}
            _ => continue,
        }
        *last_inbound.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        if ctl.deaf.load(Ordering::SeqCst) {
            continue;
        }
        let text = String::from_utf8_lossy(&frame.payload).into_owned();
        let value = match serde_json::from_str::<Value>(&text) {
            Ok(v) => v,
            // Keep the raw text so the processor answers it in order.
            Err(_) => Value::String(format!("\u{0}{text}")),
        };
        // Pings bypass the per-session queue once the session exists.
        if connected.load(Ordering::SeqCst)
            && value.get("msg").and_then(Value::as_str) == Some("ping")
        {
            let mut pong = json!({"msg": "pong"});
            if let (Some(id), Some(o)) = (value.get("id"), pong.as_object_mut()) {
                o.insert("id".into(), id.clone());
            }
            let _ = out_tx.send(Out::Text(pong.to_string()));
            continue;
        }
        if in_tx.send(value).is_err() {
            break;
        }
    }
    processor.abort();
    writer.abort();
    shared.lock().sessions.remove(&sid);
    tracing::debug!(session = %sid, "socket closed");
}

async fn write_loop<S>(
    mut tx: fastwebsockets::WebSocketWrite<S>,
    mut rx: mpsc::UnboundedReceiver<Out>,
    ctl: Arc<SessionCtl>,
) where
    S: tokio::io::AsyncWrite + Unpin,
{
    loop {
        // Nothing more queued: what is buffered goes out now.
        if rx.is_empty() && tx.flush().await.is_err() {
            return;
        }
        let Some(out) = rx.recv().await else {
            let _ = tx.flush().await;
            return;
        };
        let result = match out {
            Out::Text(text) => {
                if ctl.deaf.load(Ordering::SeqCst) {
                    continue;
                }
                let left = ctl.drop_after.load(Ordering::SeqCst);
                if left == 0 {
                    let _ = tx.flush().await;
                    return;
                }
                let r = tx
                    .write_frame(Frame::text(Payload::Owned(text.into_bytes())))
                    .await;
                if left > 0 && ctl.drop_after.fetch_sub(1, Ordering::SeqCst) == 1 {
                    let _ = tx.flush().await;
                    return;
                }
                r
            }
            Out::Control(opcode, payload) => {
                tx.write_frame(Frame::new(true, opcode, None, Payload::Owned(payload)))
                    .await
            }
            Out::Close => {
                let _ = tx.write_frame(Frame::close(1000, b"")).await;
                let _ = tx.flush().await;
                return;
            }
            Out::Drop => {
                // Frames queued before the drop were sent before it, as without the buffer.
                let _ = tx.flush().await;
                return;
            }
        };
        if result.is_err() {
            return;
        }
    }
}

struct Processor {
    shared: Arc<Shared>,
    sid: String,
    out: mpsc::UnboundedSender<Out>,
    connected: Arc<AtomicBool>,
    ctl: Arc<SessionCtl>,
    last_inbound: Arc<Mutex<Instant>>,
}

impl Processor {
    fn send(&self, v: Value) {
        let _ = self.out.send(Out::Text(v.to_string()));
    }

    fn send_error(&self, reason: &str, offending: Option<&Value>) {
        let mut e = json!({"msg": "error", "reason": reason});
        if let (Some(off), Some(o)) = (offending, e.as_object_mut()) {
            o.insert("offendingMessage".into(), off.clone());
        }
        self.send(e);
    }

    fn close(&self) {
        let _ = self.out.send(Out::Close);
    }

    async fn run(self, mut rx: mpsc::UnboundedReceiver<Value>) {
        // A socket that never completes the handshake is closed (stream_server.js, 45 s).
        let handshake = self.shared.config.handshake_timeout;
        let connected = self.connected.clone();
        let out = self.out.clone();
        let watchdog = tokio::spawn(async move {
            tokio::time::sleep(handshake).await;
            if !connected.load(Ordering::SeqCst) {
                let _ = out.send(Out::Close);
            }
        });
        let mut heartbeat: Option<tokio::task::JoinHandle<()>> = None;
        while let Some(frame) = rx.recv().await {
            let latency = self.shared.lock().faults.latency;
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            if self.ctl.deaf.load(Ordering::SeqCst) {
                continue;
            }
            let was_connected = self.connected.load(Ordering::SeqCst);
            self.handle(frame);
            if !was_connected && self.connected.load(Ordering::SeqCst) {
                heartbeat = Some(tokio::spawn(heartbeat_loop(
                    self.shared.config.heartbeat_interval,
                    self.shared.config.heartbeat_timeout,
                    self.last_inbound.clone(),
                    self.out.clone(),
                    self.ctl.clone(),
                )));
            }
        }
        watchdog.abort();
        if let Some(h) = heartbeat {
            h.abort();
        }
    }

    fn handle(&self, frame: Value) {
        if let Some(raw) = frame.as_str().and_then(|s| s.strip_prefix('\u{0}')) {
            tracing::debug!(len = raw.len(), "unparseable DDP frame");
            match self.shared.config.invalid_json_reply {
                crate::config::InvalidJsonReply::ParseError => self.send_error("Parse error", None),
                crate::config::InvalidJsonReply::BadRequest => self.send_error("Bad request", None),
            }
            return;
        }
        if !frame.is_object() && !frame.is_array() {
            // parseDDP discards non-objects and the server answers "Bad request" without them.
            self.send_error("Bad request", None);
            return;
        }
        let msg = frame.get("msg").cloned().unwrap_or(Value::Null);
        let truthy = match &msg {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        };
        if !truthy {
            self.send_error("Bad request", Some(&frame));
            return;
        }
        let connected = self.connected.load(Ordering::SeqCst);
        if msg == "connect" {
            if connected {
                self.send_error("Already connected", Some(&frame));
            } else {
                self.connect(&frame);
            }
            return;
        }
        if !connected {
            self.send_error("Must connect first", Some(&frame));
            return;
        }
        match msg.as_str() {
            Some("ping") => {
                let mut pong = json!({"msg": "pong"});
                if let (Some(id), Some(o)) = (frame.get("id"), pong.as_object_mut()) {
                    o.insert("id".into(), id.clone());
                }
                self.send(pong);
            }
            Some("pong") => {}
            Some("method") => self.method(&frame),
            Some("sub") => self.sub(&frame),
            Some("unsub") => self.unsub(&frame),
            _ => self.send_error("Bad request", Some(&frame)),
        }
    }

    /// `_handleConnect`.
    fn connect(&self, frame: &Value) {
        const SUPPORTED: [&str; 3] = ["1", "pre2", "pre1"];
        let version = frame.get("version").and_then(Value::as_str);
        let support: Option<Vec<&str>> = frame
            .get("support")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_str).collect::<Option<Vec<&str>>>());
        let (Some(version), Some(support)) = (version, support) else {
            self.send(json!({"msg": "failed", "version": SUPPORTED[0]}));
            self.close();
            return;
        };
        if !support.contains(&version) {
            self.send(json!({"msg": "failed", "version": SUPPORTED[0]}));
            self.close();
            return;
        }
        let best = support
            .iter()
            .find(|v| SUPPORTED.contains(v))
            .copied()
            .unwrap_or(SUPPORTED[0]);
        if best != version {
            self.send(json!({"msg": "failed", "version": best}));
            self.close();
            return;
        }
        self.connected.store(true, Ordering::SeqCst);
        self.send(json!({"msg": "connected", "session": self.sid}));
    }

    /// DDP rate limiter; `Some(time_to_reset)` when this call is refused.
    fn rate_limited(&self, name: &str) -> Option<Duration> {
        let mut st = self.shared.lock();
        if st.faults.ddp_too_many_requests {
            st.faults.ddp_refusals += 1;
            return Some(Duration::from_secs(10));
        }
        let rule = st.faults.ddp_rate_limit?;
        let (limit, window) = if name.starts_with("stream-") {
            (rule.limit * 4, rule.window * 4)
        } else {
            (rule.limit, rule.window)
        };
        let entry = st.sessions.get_mut(&self.sid)?;
        let now = Instant::now();
        let calls = entry.calls.entry(name.to_owned()).or_default();
        calls.retain(|t| now.duration_since(*t) < window);
        if calls.len() >= limit as usize {
            let oldest = calls.first().copied().unwrap_or(now);
            st.faults.ddp_refusals += 1;
            return Some(window.saturating_sub(now.duration_since(oldest)));
        }
        calls.push(now);
        None
    }

    /// `sendMessage`'s own rule: 5 per second unless the user has `send-many-messages`
    /// (roles admin, bot, app).
    fn send_message_limited(&self) -> Option<Duration> {
        let rule = self.shared.config.send_message_rate_limit?;
        let mut st = self.shared.lock();
        let uid = st.sessions.get(&self.sid)?.user_id.clone()?;
        let exempt = st
            .world
            .user(&uid)
            .is_some_and(|u| u.has_role("admin") || u.has_role("bot") || u.has_role("app"));
        if exempt {
            return None;
        }
        let window = rule.window;
        let entry = st.sessions.get_mut(&self.sid)?;
        let now = Instant::now();
        let calls = entry
            .calls
            .entry("sendMessage#own-rule".to_owned())
            .or_default();
        calls.retain(|t| now.duration_since(*t) < window);
        if calls.len() >= rule.limit as usize {
            let oldest = calls.first().copied().unwrap_or(now);
            return Some(window.saturating_sub(now.duration_since(oldest)));
        }
        calls.push(now);
        None
    }

    /// DDP `updateMessage`: only some keys may change, and a message cannot become a reply.
    fn update_message(&self, params: &[Value]) -> Result<Option<Value>, Value> {
        const EDITABLE: &[&str] = &[
            "tshow",
            "alias",
            "attachments",
            "avatar",
            "emoji",
            "msg",
            "customFields",
            "content",
            "e2eMentions",
        ];
        let Some(uid) = self.user_id() else {
            return Err(error_object(
                json!("error-invalid-user"),
                "Invalid user",
                Some(json!({"method": "updateMessage"})),
            ));
        };
        let Some(message) = params.first().and_then(Value::as_object) else {
            return Err(match_failed());
        };
        let (Some(mid), Some(rid)) = (
            message.get("_id").and_then(Value::as_str),
            message.get("rid").and_then(Value::as_str),
        ) else {
            return Err(match_failed());
        };
        self.shared.with(|st| {
            let Some(original) = st.world.message(mid).cloned() else {
                return Err(error_object(
                    json!("error-action-not-allowed"),
                    "Not allowed",
                    Some(json!({"method": "updateMessage"})),
                ));
            };
            if message.get("tmid").is_some_and(|t| !t.is_null()) && original.get("tmid").is_none() {
                return Err(error_object(
                    json!("error-message-change-to-thread"),
                    "Cannot update message to a thread",
                    Some(json!({"method": "updateMessage"})),
                ));
            }
            for (k, v) in message {
                if k == "_id" || k == "rid" || EDITABLE.contains(&k.as_str()) {
                    continue;
                }
                if original.get(k) != Some(v) {
                    return Err(error_object(
                        json!("error-invalid-update-key"),
                        &format!("Cannot update key {k}"),
                        Some(json!({"method": "updateMessage"})),
                    ));
                }
            }
            let text = message
                .get("msg")
                .and_then(Value::as_str)
                .or_else(|| original.get("msg").and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned();
            let custom = message.get("customFields").cloned();
            st.world
                .edit(&uid, rid, mid, &text, custom)
                .map(|_| None)
                .map_err(|e| op_error_object(&e))
        })
    }

    /// `createDirectMessage(...usernames)`: `check(usernames, [String])`, then the same
    /// `createDirectMessage` as `im.create` (the caller always joins). Result
    /// `{t: "d", rid, usernames}`.
    fn create_direct_message(&self, params: &[Value]) -> Result<Option<Value>, Value> {
        let Some(uid) = self.user_id() else {
            return Err(error_object(
                json!("error-invalid-user"),
                "Invalid user",
                Some(json!({"method": "createDirectMessage"})),
            ));
        };
        let Some(names) = params
            .iter()
            .map(|p| p.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
        else {
            return Err(match_failed());
        };
        self.shared
            .with(|st| st.world.create_direct_message(&uid, &names, false))
            .map(Some)
            .map_err(|e| op_error_object(&e))
    }

    fn user_id(&self) -> Option<String> {
        self.shared
            .lock()
            .sessions
            .get(&self.sid)
            .and_then(|s| s.user_id.clone())
    }

    fn method(&self, frame: &Value) {
        let id = frame.get("id").and_then(Value::as_str);
        let name = frame.get("method").and_then(Value::as_str);
        let params_ok = frame.get("params").is_none_or(Value::is_array);
        let seed_ok = frame.get("randomSeed").is_none_or(Value::is_string);
        let (Some(id), Some(name), true, true) = (id, name, params_ok, seed_ok) else {
            self.send_error("Malformed method invocation", Some(frame));
            return;
        };
        let params: Vec<Value> = frame
            .get("params")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // An armed method fault (control `fail_method`) answers instead of the method.
        let fault = take_method_fault(&mut self.shared.lock().faults.method_faults, name);
        if let Some(error) = fault {
            self.send(json!({"msg": "updated", "methods": [id]}));
            self.send(json!({"msg": "result", "id": id, "error": error.to_value()}));
            return;
        }
        let known = matches!(
            name,
            "login"
                | "logout"
                | "setReaction"
                | "stream-notify-room"
                | "loadMissedMessages"
                | "sendMessage"
                | "updateMessage"
                | "createDirectMessage"
        );
        if !known {
            // Unknown method: result first, then updated (the fence is armed after).
            self.send(json!({"msg": "result", "id": id,
                "error": error_object(json!(404), &format!("Method '{name}' not found"), None)}));
            self.send(json!({"msg": "updated", "methods": [id]}));
            return;
        }
        let limited = self.rate_limited(name).or_else(|| {
            (name == "sendMessage")
                .then(|| self.send_message_limited())
                .flatten()
        });
        let outcome = match limited {
            Some(reset) => Err(too_many_requests(reset)),
            None => match name {
                "login" => self.login(&params),
                "logout" => {
                    if let Some(s) = self.shared.lock().sessions.get_mut(&self.sid) {
                        s.user_id = None;
                        s.token_hash = None;
                    }
                    Ok(None)
                }
                "setReaction" => self.set_reaction(&params),
                "stream-notify-room" => self.notify_room_write(&params),
                "loadMissedMessages" => self.load_missed(&params),
                "updateMessage" => self.update_message(&params),
                "createDirectMessage" => self.create_direct_message(&params),
                _ => self.send_message(&params),
            },
        };
        self.send(json!({"msg": "updated", "methods": [id]}));
        let mut result = json!({"msg": "result", "id": id});
        if let Some(o) = result.as_object_mut() {
            match outcome {
                Ok(Some(v)) => {
                    o.insert("result".into(), v);
                }
                Ok(None) => {}
                Err(e) => {
                    o.insert("error".into(), e);
                }
            }
        }
        self.send(result);
    }

    /// `login {resume}`: Meteor's resume handler accepts PATs (no `when`, so they never expire).
    fn login(&self, params: &[Value]) -> Result<Option<Value>, Value> {
        let options = params.first();
        let (token, login_type) = match options
            .and_then(|p| p.get("resume"))
            .and_then(Value::as_str)
        {
            Some(token) => (token.to_owned(), "resume"),
            None => match options.and_then(|p| self.password_login(p)) {
                Some(Ok(token)) => (token, "password"),
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(error_object(
                        json!(400),
                        "Unrecognized options for login request",
                        None,
                    ))
                }
            },
        };
        let token = token.as_str();
        let mut st = self.shared.lock();
        let Some(user) = st.world.user_by_token(token).cloned() else {
            return Err(logged_out());
        };
        if !user.active {
            return Err(error_object(
                json!("error-user-is-not-activated"),
                "User is not activated",
                None,
            ));
        }
        let is_pat = st
            .world
            .token_of(&user.id, token)
            .is_some_and(|t| t.name.is_some());
        let created = st
            .world
            .token_of(&user.id, token)
            .map(|t| t.created_at)
            .unwrap_or_default();
        let hashed = crate::util::hash_token(token);
        let doc = st.world.user_doc(&user.id);
        if let Some(s) = st.sessions.get_mut(&self.sid) {
            s.user_id = Some(user.id.clone());
            s.token_hash = Some(hashed);
        }
        drop(st);
        // The universal publication pushes the user's own document (no sub, no ready). Its
        // projection is Meteor's defaults plus RC's `getBaseUserFields(true)` minus `status`
        // (apps/meteor/app/authentication/server/startup/index.js), so no `type`/`createdAt`.
        if let Some(Value::Object(mut fields)) = doc {
            for k in ["_id", "status", "type", "createdAt"] {
                fields.remove(k);
            }
            fields.insert("settings".into(), json!({"preferences": {}}));
            self.send(
                json!({"msg": "added", "collection": "users", "id": user.id, "fields": fields}),
            );
        }
        // A PAT has no `when`: tokenExpires is an Invalid Date, serialized as {"$date": null}.
        let expires = if is_pat {
            json!({"$date": null})
        } else {
            json!({"$date": created + 90 * 24 * 3600 * 1000})
        };
        Ok(Some(
            json!({"id": user.id, "token": token, "tokenExpires": expires, "type": login_type}),
        ))
    }

    /// Meteor `accounts-password`: `{user: {username|email}, password: {digest, algorithm:
    /// "sha-256"}}`. `None` when the options are not a password login; on success a new
    /// login token (which the resume path then logs in with).
    fn password_login(&self, options: &Value) -> Option<Result<String, Value>> {
        let who = options.get("user")?;
        let digest = options.get("password")?.get("digest")?.as_str()?;
        let wrong = || error_object(json!(403), "Incorrect password", None);
        let mut st = self.shared.lock();
        let username = who.get("username").and_then(Value::as_str);
        let email = who.get("email").and_then(Value::as_str);
        let uid = st
            .world
            .users
            .values()
            .find(|u| {
                username == Some(u.username.as_str())
                    || (email.is_some() && email == u.email.as_deref())
            })
            .filter(|u| u.active)
            .filter(|u| {
                u.password
                    .as_deref()
                    .map(crate::util::sha256_hex)
                    .as_deref()
                    == Some(digest)
            })
            .map(|u| u.id.clone());
        let Some(uid) = uid else {
            return Some(Err(wrong()));
        };
        Some(st.world.create_login_token(&uid).ok_or_else(wrong))
    }

    fn set_reaction(&self, params: &[Value]) -> Result<Option<Value>, Value> {
        let Some(uid) = self.user_id() else {
            return Err(error_object(
                json!("error-invalid-user"),
                "Invalid user",
                Some(json!({"method": "setReaction"})),
            ));
        };
        let (Some(reaction), Some(mid)) = (
            params.first().and_then(Value::as_str),
            params.get(1).and_then(Value::as_str),
        ) else {
            return Err(match_failed());
        };
        let should = match params.get(2) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(match_failed()),
        };
        self.shared
            .with(|st| st.world.react(&uid, mid, reaction, should))
            .map(|()| None)
            .map_err(|e| op_error_object(&e))
    }

    /// `stream-notify-room` write: only typing/user-activity/webrtc, username must match, and
    /// the event goes to every subscriber except this connection. Mismatches drop silently.
    fn notify_room_write(&self, params: &[Value]) -> Result<Option<Value>, Value> {
        let Some(event_name) = params.first().and_then(Value::as_str) else {
            return Err(match_failed());
        };
        let Some(uid) = self.user_id() else {
            return Ok(None);
        };
        let Some((rid, event)) = event_name.split_once('/') else {
            return Ok(None);
        };
        if !matches!(event, "typing" | "user-activity" | "webrtc") {
            return Ok(None);
        }
        let args: Vec<Value> = params[1..].to_vec();
        let sid = self.sid.clone();
        self.shared.with(|st| {
            let use_real_name = st.world.settings.use_real_name();
            let Some(user) = st.world.user(&uid).cloned() else {
                return;
            };
            if !st.world.can_access(rid, &uid) {
                return;
            }
            if event != "webrtc" {
                let expected = if use_real_name {
                    &user.name
                } else {
                    &user.username
                };
                if args.first().and_then(Value::as_str) != Some(expected.as_str()) {
                    return;
                }
            }
            st.world
                .notify_room(rid, event, args.clone(), Some(sid.clone()));
            // Writing one of typing / user-activity also emits the other (src-old).
            let name = args.first().cloned().unwrap_or(Value::Null);
            match event {
                "user-activity" => {
                    let typing = args
                        .get(1)
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|x| x == "user-typing"));
                    st.world.notify_room(
                        rid,
                        "typing",
                        vec![name, json!(typing)],
                        Some(sid.clone()),
                    );
                }
                "typing" => {
                    let on = args.get(1).and_then(Value::as_bool).unwrap_or(false);
                    let acts = if on {
                        json!(["user-typing"])
                    } else {
                        json!([])
                    };
                    st.world.notify_room(
                        rid,
                        "user-activity",
                        vec![name, acts, json!({})],
                        Some(sid.clone()),
                    );
                }
                _ => {}
            }
        });
        Ok(None)
    }

    /// `loadMissedMessages(rid, start)`: `check(rid, String)`, `check(start, Date)`; `false`
    /// without access (no login means no access); else visible messages with `ts > start`,
    /// sorted `ts: -1` (apps/meteor/server/methods/loadMissedMessages.ts, 7.x/8.x).
    fn load_missed(&self, params: &[Value]) -> Result<Option<Value>, Value> {
        let (Some(rid), Some(since)) = (
            params.first().and_then(Value::as_str),
            params.get(1).and_then(read_ejson_date),
        ) else {
            return Err(match_failed());
        };
        let uid = self.user_id().unwrap_or_default();
        let st = self.shared.lock();
        if !st.world.can_access(rid, &uid) {
            return Ok(Some(json!(false)));
        }
        Ok(Some(Value::Array(st.world.missed(rid, since))))
    }

    /// DDP `sendMessage`: errors other than `error-not-allowed` / `restricted-workspace` are
    /// swallowed into an ephemeral `<uid>/message` and the result is empty.
    fn send_message(&self, params: &[Value]) -> Result<Option<Value>, Value> {
        let Some(uid) = self.user_id() else {
            return Err(error_object(
                json!("error-invalid-user"),
                "Invalid user",
                Some(json!({"method": "sendMessage"})),
            ));
        };
        let Some(message) = params.first().and_then(Value::as_object) else {
            return Err(match_failed());
        };
        const ALLOWED: &[&str] = &[
            "_id",
            "rid",
            "msg",
            "tmid",
            "tshow",
            "ts",
            "t",
            "bot",
            "content",
            "e2e",
            "e2eMentions",
            "customFields",
            "federation",
            "groupable",
            "sentByEmail",
        ];
        if self.shared.config.strict_send_message_check
            && message.keys().any(|k| !ALLOWED.contains(&k.as_str()))
        {
            return Err(match_failed());
        }
        if !typed_fields_match(message) {
            return Err(match_failed());
        }
        let rid = match message.get("rid") {
            Some(Value::String(r)) => r.clone(),
            _ => return Err(match_failed()),
        };
        let msg = match message.get("msg") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(match_failed()),
        };
        let mut extra = message.clone();
        for k in [
            "_id",
            "rid",
            "msg",
            "tmid",
            "tshow",
            "ts",
            "u",
            "_updatedAt",
        ] {
            extra.remove(k);
        }
        let input = SendInput {
            id: message
                .get("_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            rid: rid.clone(),
            msg,
            tmid: message
                .get("tmid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            tshow: message.get("tshow").and_then(Value::as_bool),
            ts: message.get("ts").and_then(read_ejson_date),
            extra,
            preview_urls: None,
        };
        if message
            .get("t")
            .and_then(Value::as_str)
            .is_some_and(crate::world::is_system_type)
        {
            // A plain Error outside the try: not client-safe, so Meteor sends a 500.
            return Err(error_object(json!(500), "Internal server error", None));
        }
        self.shared
            .with(|st| match st.world.send(&uid, input, SendPath::Execute) {
                Ok(doc) => Ok(doc),
                // Rethrown as `Meteor.Error(error.error || error.message, error.reason, {method})`;
                // a plain Error has no reason, so the message is just `[code]`.
                Err(e) if matches!(e.code(), "error-not-allowed" | "restricted-workspace") => {
                    let mut err = json!({"isClientSafe": true, "error": e.code(),
                    "details": {"method": "sendMessage"}, "errorType": "Meteor.Error"});
                    if let Some(o) = err.as_object_mut() {
                        match &e {
                            OpError::Meteor { reason, .. } => {
                                o.insert("reason".into(), json!(reason));
                                o.insert(
                                    "message".into(),
                                    json!(format!("{reason} [{}]", e.code())),
                                );
                            }
                            OpError::Plain(_) => {
                                o.insert("message".into(), json!(format!("[{}]", e.code())));
                            }
                        }
                    }
                    Err(err)
                }
                // Everything else is swallowed: no result, no error (room-check failures already
                // produced an ephemeral message in the world).
                Err(e) => {
                    tracing::debug!(code = e.code(), "DDP sendMessage error swallowed");
                    Ok(None)
                }
            })
    }

    fn sub(&self, frame: &Value) {
        let id = frame.get("id").and_then(Value::as_str);
        let name = frame.get("name").and_then(Value::as_str);
        let params_ok = frame.get("params").is_none_or(Value::is_array);
        let (Some(id), Some(name), true) = (id, name, params_ok) else {
            self.send_error("Malformed subscription", Some(frame));
            return;
        };
        if !KNOWN_STREAMS.contains(&name) {
            self.send(json!({"msg": "nosub", "id": id,
                "error": error_object(json!(404), &format!("Subscription '{name}' not found"), None)}));
            return;
        }
        let already = self
            .shared
            .lock()
            .sessions
            .get(&self.sid)
            .is_some_and(|s| s.subs.contains_key(id));
        if already {
            // A reused live sub id is silently ignored.
            return;
        }
        if let Some(reset) = self.rate_limited(name) {
            self.send(json!({"msg": "nosub", "id": id, "error": too_many_requests(reset)}));
            return;
        }
        let params: Vec<Value> = frame
            .get("params")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let Some(key) = params.first().and_then(Value::as_str) else {
            self.send(json!({"msg": "nosub", "id": id, "error": self.not_allowed()}));
            return;
        };
        if key.is_empty() {
            // streamer.module.ts `_publish`: `throw new MeteorError('invalid-event-name')`.
            self.send(
                json!({"msg": "nosub", "id": id, "error": {"isClientSafe": true,
                "error": "invalid-event-name", "message": "[invalid-event-name]",
                "errorType": "Meteor.Error"}}),
            );
            return;
        }
        let refused = self
            .shared
            .lock()
            .faults
            .sub_refusals
            .iter()
            .find(|r| r.stream == name && key.starts_with(&r.key_prefix))
            .map(|r| r.error.to_value());
        if let Some(error) = refused {
            self.send(json!({"msg": "nosub", "id": id, "error": error}));
            return;
        }
        let use_collection = params
            .get(1)
            .and_then(|p| p.get("useCollection"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let allowed = {
            let mut st = self.shared.lock();
            let uid = st.sessions.get(&self.sid).and_then(|s| s.user_id.clone());
            let allowed = match (name, uid.as_deref()) {
                ("stream-room-messages", _) if key == "__my_messages__" => true,
                ("stream-room-messages", Some(uid)) => st.world.can_access(key, uid),
                ("stream-notify-room", Some(uid)) => key
                    .split_once('/')
                    .is_some_and(|(rid, _)| st.world.can_access(rid, uid)),
                ("stream-notify-user", Some(uid)) => {
                    key.split_once('/').is_some_and(|(owner, _)| owner == uid)
                }
                ("stream-notify-logged", Some(_)) | ("stream-notify-all", _) => true,
                _ => false,
            };
            if allowed {
                if let Some(s) = st.sessions.get_mut(&self.sid) {
                    s.subs.insert(
                        id.to_owned(),
                        StreamSub {
                            stream: name.to_owned(),
                            key: key.to_owned(),
                        },
                    );
                }
            }
            allowed
        };
        if !allowed {
            self.send(json!({"msg": "nosub", "id": id, "error": self.not_allowed()}));
            return;
        }
        if use_collection {
            self.send(json!({"msg": "added", "collection": name, "id": "id", "fields": {"eventName": key}}));
        }
        self.send(json!({"msg": "ready", "subs": [id]}));
    }

    /// `MeteorError('not-allowed')` from core-services, whose `toJSON` gives
    /// `message: "[not-allowed]"` and no `reason` (packages/core-services/src/MeteorError.ts).
    fn not_allowed(&self) -> Value {
        let message = if self.shared.config.not_allowed_message_bracketed {
            "[not-allowed]"
        } else {
            "not-allowed"
        };
        json!({"isClientSafe": true, "error": "not-allowed", "message": message, "errorType": "Meteor.Error"})
    }

    fn unsub(&self, frame: &Value) {
        let id = frame.get("id").cloned().unwrap_or(Value::Null);
        if let Some(sub_id) = id.as_str() {
            if let Some(s) = self.shared.lock().sessions.get_mut(&self.sid) {
                s.subs.remove(sub_id);
            }
        }
        let mut nosub = json!({"msg": "nosub"});
        if let (false, Some(o)) = (id.is_null(), nosub.as_object_mut()) {
            o.insert("id".into(), id);
        }
        self.send(nosub);
    }
}

/// The `Match.Maybe(...)` types of DDP `sendMessage`'s `check()`: null and absent pass.
fn typed_fields_match(message: &Map<String, Value>) -> bool {
    message.iter().all(|(k, v)| {
        if v.is_null() {
            return true;
        }
        match k.as_str() {
            "_id" | "rid" | "msg" | "tmid" | "t" | "e2e" => v.is_string(),
            "tshow" | "groupable" | "sentByEmail" => v.is_boolean(),
            "bot" | "content" | "e2eMentions" | "customFields" | "federation" => v.is_object(),
            "ts" => read_ejson_date(v).is_some(),
            _ => true,
        }
    })
}

/// Meteor heartbeat: ping after `interval` of inbound silence, close after `timeout` more.
async fn heartbeat_loop(
    interval: Duration,
    timeout: Duration,
    last_inbound: Arc<Mutex<Instant>>,
    out: mpsc::UnboundedSender<Out>,
    ctl: Arc<SessionCtl>,
) {
    let read = || *last_inbound.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let seen = read();
        tokio::time::sleep_until((seen + interval).into()).await;
        if read() != seen {
            continue;
        }
        if ctl.deaf.load(Ordering::SeqCst) {
            // Deaf sockets send no pings and are never timed out.
            tokio::time::sleep(interval).await;
            continue;
        }
        if out
            .send(Out::Text(json!({"msg": "ping"}).to_string()))
            .is_err()
        {
            return;
        }
        tokio::time::sleep(timeout).await;
        if read() == seen {
            let _ = out.send(Out::Close);
            return;
        }
    }
}
