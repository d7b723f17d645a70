//! Shared server state: the [`World`] plus the live DDP sessions, behind one mutex, and the
//! fan-out of [`Emit`]s to session outboxes.
//!
//! The lock is never held across an await. Fan-out only pushes onto unbounded per-session
//! queues, so a slow client never blocks a mutation, and events keep mutation order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::config::SimConfig;
use crate::faults::{EndpointFault, MethodFault, SubRefusal};
use crate::world::{setting_id, Emit, Settings, Switches, World};

/// What a session writer task is asked to do.
#[derive(Debug)]
pub(crate) enum Out {
    /// A DDP frame (JSON text).
    Text(String),
    /// A WebSocket control frame owed to the peer (pong, close reply).
    Control(fastwebsockets::OpCode, Vec<u8>),
    /// Close the socket: a WebSocket close frame, no DDP frame.
    Close,
    /// Drop the TCP connection at once (fault injection).
    Drop,
}

/// Per-socket switches the writer and reader read without the lock.
#[derive(Debug, Default)]
pub(crate) struct SessionCtl {
    /// Deaf: send nothing and answer nothing, but keep the socket open.
    pub(crate) deaf: AtomicBool,
    /// Drop the socket after this many more outbound frames (-1: never).
    pub(crate) drop_after: AtomicI64,
}

/// A stream subscription of a session: `stream-<name>` with its event key (`params[0]`).
#[derive(Debug, Clone)]
pub(crate) struct StreamSub {
    pub(crate) stream: String,
    pub(crate) key: String,
}

#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub(crate) out: mpsc::UnboundedSender<Out>,
    pub(crate) ctl: Arc<SessionCtl>,
    pub(crate) user_id: Option<String>,
    pub(crate) token_hash: Option<String>,
    pub(crate) subs: HashMap<String, StreamSub>,
    /// DDP rate limiter: call instants per method/sub name.
    pub(crate) calls: HashMap<String, Vec<Instant>>,
}

impl SessionEntry {
    pub(crate) fn send(&self, frame: String) {
        // A closed outbox means the socket is gone; nothing to do.
        let _ = self.out.send(Out::Text(frame));
    }
}

/// Fault and load switches changed at run time by the control handle.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Added before every REST response and every DDP frame processed.
    pub(crate) latency: Duration,
    /// The next N REST calls answer 429.
    pub(crate) inject_429: u32,
    /// Every DDP method and sub answers too-many-requests.
    pub(crate) ddp_too_many_requests: bool,
    /// Store the next `chat.sendMessage` but drop its HTTP response.
    pub(crate) drop_next_send_response: bool,
    /// Override of the silent-revocation switch.
    pub(crate) silent_revocation: bool,
    /// Override of the REST rate limit rule.
    pub(crate) rest_rate_limit: Option<crate::config::RateRule>,
    pub(crate) rest_rate_limit_bots: bool,
    pub(crate) ddp_rate_limit: Option<crate::config::RateRule>,
    /// Armed REST faults by path prefix (`fail_endpoint`).
    pub(crate) endpoint_faults: Vec<EndpointFault>,
    /// Armed DDP method faults (`fail_method`).
    pub(crate) method_faults: Vec<MethodFault>,
    /// Refused subscriptions (`refuse_subscription`).
    pub(crate) sub_refusals: Vec<SubRefusal>,
    /// How many DDP calls were answered `too-many-requests` (for tests that check a
    /// client waited instead of hammering).
    pub(crate) ddp_refusals: u64,
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) world: World,
    pub(crate) sessions: HashMap<String, SessionEntry>,
    pub(crate) faults: Faults,
    /// REST limiter buckets: (route, method, ip) -> call instants.
    pub(crate) rest_calls: HashMap<(String, String, String), Vec<Instant>>,
}

/// The state shared by the listener, every session and the control handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    state: Mutex<State>,
}

/// A DDP `changed` frame on a stream collection, document id `"id"`.
pub(crate) fn stream_frame(stream: &str, event: &str, args: &[Value]) -> String {
    json!({"msg": "changed", "collection": stream, "id": "id",
        "fields": {"eventName": event, "args": args}})
    .to_string()
}

impl Shared {
    pub(crate) fn new(config: SimConfig) -> Arc<Self> {
        let mut settings = Settings::default();
        settings.init(
            setting_id::SHOW_DELETED_STATUS,
            json!(config.show_deleted_status),
        );
        settings.init(setting_id::KEEP_HISTORY, json!(config.keep_history));
        settings.init(setting_id::MAX_ALLOWED_SIZE, json!(config.max_message_size));
        settings.init(setting_id::API_EMBED, json!(config.url_previews));
        settings.init(setting_id::USE_REAL_NAME, json!(config.use_real_name));
        settings.init(
            setting_id::TWO_FACTOR_ENABLED,
            json!(config.two_factor_enabled),
        );
        let switches = Switches {
            pin_broadcasts_original: config.pin_broadcasts_original,
        };
        let mut world = World::new(settings, switches);
        if let Some((username, password)) = &config.admin {
            let _ = world.create_user(
                username,
                "Administrator",
                crate::world::AccountType::User,
                vec!["admin".to_owned(), "user".to_owned()],
                Some(password.clone()),
                Some(format!("{username}@example.invalid")),
            );
        }
        let faults = Faults {
            silent_revocation: config.silent_revocation,
            rest_rate_limit: config.rest_rate_limit,
            rest_rate_limit_bots: config.rest_rate_limit_bots,
            ddp_rate_limit: config.ddp_rate_limit,
            ..Faults::default()
        };
        Arc::new(Shared {
            config,
            state: Mutex::new(State {
                world,
                sessions: HashMap::new(),
                faults,
                rest_calls: HashMap::new(),
            }),
        })
    }

    /// Locks the state. A poisoned lock (a panic elsewhere) still yields the data.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a mutation and fans out what it emitted, under one lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.lock();
        let r = f(&mut st);
        st.flush();
        r
    }
}

impl State {
    /// Fans out every pending emit.
    pub(crate) fn flush(&mut self) {
        for emit in self.world.take_emits() {
            self.fan_out(emit);
        }
    }

    fn fan_out(&mut self, emit: Emit) {
        match emit {
            Emit::Message { rid, doc } => self.fan_out_message(&rid, doc),
            Emit::NotifyRoom {
                rid,
                event,
                args,
                origin,
            } => {
                let key = format!("{rid}/{event}");
                let mut frame = None;
                for (sid, s) in &self.sessions {
                    if origin.as_deref() == Some(sid.as_str()) || s.user_id.is_none() {
                        continue;
                    }
                    for sub in s.subs.values() {
                        if sub.stream == "stream-notify-room" && sub.key == key {
                            let f = frame.get_or_insert_with(|| {
                                stream_frame("stream-notify-room", &key, &args)
                            });
                            s.send(f.clone());
                        }
                    }
                }
            }
            Emit::NotifyUser { uid, event, args } => {
                self.fan_out_user(std::slice::from_ref(&uid), &event, &args)
            }
            Emit::NotifyUsers { uids, event, args } => self.fan_out_user(&uids, &event, &args),
            Emit::NotifyLogged { event, args } => {
                let mut frame = None;
                for s in self.sessions.values() {
                    if s.user_id.is_none() {
                        continue;
                    }
                    for sub in s.subs.values() {
                        if sub.stream == "stream-notify-logged" && sub.key == event {
                            let f = frame.get_or_insert_with(|| {
                                stream_frame("stream-notify-logged", &event, &args)
                            });
                            s.send(f.clone());
                        }
                    }
                }
            }
            Emit::CloseToken { hashed } => {
                if self.faults.silent_revocation {
                    return;
                }
                for s in self.sessions.values() {
                    if s.token_hash.as_deref() == Some(hashed.as_str()) {
                        let _ = s.out.send(Out::Close);
                    }
                }
            }
            Emit::Left { rid, uid } => {
                for s in self.sessions.values_mut() {
                    if s.user_id.as_deref() == Some(uid.as_str()) {
                        s.subs.retain(|_, sub| {
                            !(sub.stream == "stream-room-messages" && sub.key == rid)
                        });
                    }
                }
            }
            Emit::CloseUser { uid } => {
                if self.faults.silent_revocation {
                    return;
                }
                for s in self.sessions.values() {
                    if s.user_id.as_deref() == Some(uid.as_str()) {
                        let _ = s.out.send(Out::Close);
                    }
                }
            }
        }
    }

    /// `stream-notify-user` `<uid>/<event>` to each user's sessions subscribed to it. The
    /// arguments are serialized once; only the event name differs per user.
    fn fan_out_user(&self, uids: &[String], event: &str, args: &[Value]) {
        let mut args_json: Option<String> = None;
        for s in self.sessions.values() {
            let Some(uid) = s.user_id.as_deref() else {
                continue;
            };
            if !uids.iter().any(|u| u == uid) {
                continue;
            }
            let key_matches = |key: &str| {
                key.strip_prefix(uid)
                    .and_then(|rest| rest.strip_prefix('/'))
                    == Some(event)
            };
            for sub in s.subs.values() {
                if sub.stream == "stream-notify-user" && key_matches(&sub.key) {
                    let args =
                        args_json.get_or_insert_with(|| Value::Array(args.to_vec()).to_string());
                    let key = Value::String(sub.key.clone()).to_string();
                    s.send(format!(
                        r#"{{"msg":"changed","collection":"stream-notify-user","id":"id","fields":{{"eventName":{key},"args":{args}}}}}"#
                    ));
                }
            }
        }
    }

    /// `__my_messages__` (per-event access check, second arg) and `<rid>` (args `[msg]`).
    fn fan_out_message(&self, rid: &str, doc: Value) {
        let Some(room) = self.world.room(rid) else {
            return;
        };
        let mut extra = serde_json::Map::new();
        extra.insert("roomType".into(), json!(room.kind.letter()));
        if let Some(name) = &room.name {
            extra.insert("roomName".into(), json!(name));
        }
        let mut frames: [Option<String>; 2] = [None, None];
        let mut room_frame: Option<String> = None;
        for s in self.sessions.values() {
            let Some(uid) = s.user_id.as_deref() else {
                continue;
            };
            for sub in s.subs.values() {
                if sub.stream != "stream-room-messages" {
                    continue;
                }
                if sub.key == "__my_messages__" {
                    if !self.world.can_access(rid, uid) {
                        continue;
                    }
                    let participant = self.world.is_member(rid, uid);
                    let slot = &mut frames[usize::from(participant)];
                    let frame = slot.get_or_insert_with(|| {
                        let mut second = serde_json::Map::new();
                        second.insert("roomParticipant".into(), json!(participant));
                        second.extend(extra.clone());
                        stream_frame(
                            "stream-room-messages",
                            "__my_messages__",
                            &[doc.clone(), Value::Object(second)],
                        )
                    });
                    s.send(frame.clone());
                } else if sub.key == rid {
                    let frame = room_frame.get_or_insert_with(|| {
                        stream_frame("stream-room-messages", rid, std::slice::from_ref(&doc))
                    });
                    s.send(frame.clone());
                }
            }
        }
    }
}
