//! [`Simulator`] and [`SimHandle`]: start the server and drive it from tests.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::config::{RateRule, SimConfig};
use crate::error::SimError;
use crate::hub::Out;
use crate::server::Core;
use crate::world::{RoomKind, SendInput, UserKind};

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `config.bind` (default `127.0.0.1:0`) and starts serving. Needs a Tokio runtime.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        Ok(SimHandle {
            core: Core::start(config).await?,
        })
    }
}

/// Options for [`SimHandle::post_with`].
#[derive(Debug, Clone, Default)]
pub struct PostOptions {
    /// Client-chosen message `_id` (a reused one inserts nothing and returns the id).
    pub id: Option<String>,
    /// Thread root (a reply's id is flattened to its root).
    pub tmid: Option<String>,
    /// Also show the thread reply in the room.
    pub tshow: bool,
    /// Extra message fields copied as given (`attachments`, `customFields`, `alias`, ...).
    pub extra: Map<String, Value>,
}

/// Result of [`SimHandle::firehose`].
#[derive(Debug, Clone)]
pub struct FirehoseReport {
    /// Ids of the messages inserted, in send order.
    pub message_ids: Vec<String>,
}

/// A running simulator. Dropping it does not stop the server; call [`SimHandle::shutdown`].
#[derive(Debug, Clone)]
pub struct SimHandle {
    pub(crate) core: Arc<Core>,
}

impl SimHandle {
    // ------------------------------------------------------------------ addresses and lifecycle

    /// The bound address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.core.addr
    }

    /// `http://127.0.0.1:<port>` (or `https://` with TLS).
    pub fn base_url(&self) -> String {
        let scheme = if self.core.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.core.addr)
    }

    /// `ws://127.0.0.1:<port>/websocket` (or `wss://` with TLS).
    pub fn ws_url(&self) -> String {
        let scheme = if self.core.is_tls() { "wss" } else { "ws" };
        format!("{scheme}://{}/websocket", self.core.addr)
    }

    /// Stops listening and drops every connection. State is lost with the last handle.
    pub async fn shutdown(self) {
        self.core.stop();
        tokio::task::yield_now().await;
    }

    /// Drops every connection (no frames), stops listening, and listens again on the same port
    /// with the same state, like a server restart that keeps its database.
    pub async fn restart(&self) -> Result<(), SimError> {
        self.core.restart().await
    }

    fn with<R>(&self, f: impl FnOnce(&mut crate::hub::State) -> R) -> R {
        self.core.shared.with(f)
    }

    pub(crate) fn with_world<R>(&self, f: impl FnOnce(&mut crate::world::World) -> R) -> R {
        self.core.shared.with(|st| f(&mut st.world))
    }

    // ------------------------------------------------------------------ users and tokens

    /// Creates a user; returns its id. Bots get roles `["bot", "user"]` (so they may mint PATs,
    /// as the reference's provisioning recommends), humans `["user"]`. Password = username.
    pub fn create_user(&self, username: &str, kind: UserKind) -> Result<String, SimError> {
        let roles = match kind {
            UserKind::Human => vec!["user".to_owned()],
            UserKind::Bot => vec!["bot".to_owned(), "user".to_owned()],
        };
        self.create_user_full(username, username, kind, roles, Some(username))
    }

    /// Creates a user with an explicit display name, roles and password.
    pub fn create_user_full(
        &self,
        username: &str,
        name: &str,
        kind: UserKind,
        roles: Vec<String>,
        password: Option<&str>,
    ) -> Result<String, SimError> {
        self.with(|st| {
            st.world.create_user(
                username,
                name,
                kind,
                roles,
                password.map(str::to_owned),
                Some(format!("{username}@example.invalid")),
            )
        })
        .map_err(SimError::from)
    }

    /// The id of a user by username (`rocket.cat`, `admin`, ...).
    pub fn user_id(&self, username: &str) -> Option<String> {
        self.core
            .shared
            .lock()
            .world
            .user_by_username(username)
            .map(|u| u.id.clone())
    }

    /// Mints a Personal Access Token named `name` for the user; returns the token (stored hashed).
    pub fn create_pat(&self, uid: &str, name: &str) -> Result<String, SimError> {
        self.with(|st| st.world.create_pat(uid, name, false))
            .map_err(SimError::from)
    }

    /// Removes a PAT: its sockets close with no DDP frame (unless silent revocation), REST 401s.
    pub fn remove_pat(&self, uid: &str, name: &str) -> Result<(), SimError> {
        self.with(|st| st.world.remove_pat(uid, name))
            .map_err(SimError::from)
    }

    /// Deactivates a user: every token is wiped, its sockets close, DMs with it turn read-only.
    pub fn deactivate_user(&self, uid: &str) -> Result<(), SimError> {
        self.with(|st| st.world.set_active(uid, false))
            .map_err(SimError::from)
    }

    /// Reactivates a user (its tokens stay gone, as in Rocket.Chat).
    pub fn activate_user(&self, uid: &str) -> Result<(), SimError> {
        self.with(|st| st.world.set_active(uid, true))
            .map_err(SimError::from)
    }

    // ------------------------------------------------------------------ rooms

    /// Creates a public (`c`) or private (`p`) room owned by `creator` with `members`; returns its id.
    pub fn create_room(
        &self,
        kind: RoomKind,
        name: &str,
        creator: &str,
        members: &[&str],
    ) -> Result<String, SimError> {
        if kind == RoomKind::Direct {
            return Err(SimError::Rejected("use create_dm for direct rooms".into()));
        }
        let members: Vec<String> = members.iter().map(|m| (*m).to_owned()).collect();
        self.with(|st| st.world.create_room(kind, name, creator, &members, false))
            .map_err(SimError::from)
    }

    /// Creates (or returns) the DM between two users: id = both ids sorted and concatenated.
    pub fn create_dm(&self, a: &str, b: &str) -> Result<String, SimError> {
        self.with(|st| st.world.ensure_dm(a, b))
            .map_err(SimError::from)
    }

    /// Subscribes a user to a room (no system message). Returns false if already a member.
    pub fn add_member(&self, rid: &str, uid: &str) -> Result<bool, SimError> {
        self.with(|st| {
            if st.world.room(rid).is_none() {
                return Err(SimError::NotFound(format!("room {rid}")));
            }
            if st.world.user(uid).is_none() {
                return Err(SimError::NotFound(format!("user {uid}")));
            }
            Ok(st.world.join(rid, uid, false))
        })
    }

    // ------------------------------------------------------------------ messages

    /// Posts `text` in `rid` as `uid` (same path as REST `chat.sendMessage`); returns the id.
    pub fn post(&self, uid: &str, rid: &str, text: &str) -> Result<String, SimError> {
        self.post_with(uid, rid, text, PostOptions::default())
    }

    /// Posts a thread reply under `tmid`.
    pub fn post_reply(
        &self,
        uid: &str,
        rid: &str,
        tmid: &str,
        text: &str,
    ) -> Result<String, SimError> {
        self.post_with(
            uid,
            rid,
            text,
            PostOptions {
                tmid: Some(tmid.to_owned()),
                ..PostOptions::default()
            },
        )
    }

    /// Posts with options (client id, thread, extra fields).
    pub fn post_with(
        &self,
        uid: &str,
        rid: &str,
        text: &str,
        opts: PostOptions,
    ) -> Result<String, SimError> {
        let input = SendInput {
            id: opts.id.clone(),
            rid: rid.to_owned(),
            msg: text.to_owned(),
            tmid: opts.tmid,
            tshow: opts.tshow.then_some(true),
            ts: None,
            extra: opts.extra,
        };
        let doc = self.with(|st| st.world.send(uid, input))?;
        match doc {
            Some(doc) => Ok(doc
                .get("_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()),
            None => Ok(opts.id.unwrap_or_default()),
        }
    }

    /// Adds `emoji` (`":+1:"` or `"+1"`) from `uid` to a message (no-op if already there).
    pub fn react(&self, uid: &str, mid: &str, emoji: &str) -> Result<(), SimError> {
        self.with(|st| st.world.react(uid, mid, emoji, Some(true)))
            .map_err(SimError::from)
    }

    /// Removes `uid`'s `emoji` from a message (no-op if absent).
    pub fn unreact(&self, uid: &str, mid: &str, emoji: &str) -> Result<(), SimError> {
        self.with(|st| st.world.react(uid, mid, emoji, Some(false)))
            .map_err(SimError::from)
    }

    /// Edits a message as `uid` (identical text is a no-op).
    pub fn edit(&self, uid: &str, mid: &str, text: &str) -> Result<(), SimError> {
        self.with(|st| {
            let rid = message_rid(st, mid)?;
            st.world
                .edit(uid, &rid, mid, text, None)
                .map(|_| ())
                .map_err(SimError::from)
        })
    }

    /// Deletes a message as `uid` (hard delete, or tombstone per config / thread root).
    pub fn delete(&self, uid: &str, mid: &str) -> Result<(), SimError> {
        self.with(|st| {
            let rid = message_rid(st, mid)?;
            st.world
                .delete(uid, &rid, mid)
                .map(|_| ())
                .map_err(SimError::from)
        })
    }

    /// Pins a message as `uid` (update with `pinned*` plus a `message_pinned` system message).
    pub fn pin(&self, uid: &str, mid: &str) -> Result<(), SimError> {
        self.with(|st| st.world.pin(uid, mid))
            .map(|_| ())
            .map_err(SimError::from)
    }

    /// Removes a user from a room: `subscriptions-changed` "removed", and the user's `<rid>`
    /// message-stream subscriptions are dropped silently. Returns false if not a member.
    pub fn remove_member(&self, rid: &str, uid: &str) -> bool {
        self.with(|st| st.world.leave(rid, uid))
    }

    /// Sends a typing event (`<rid>/user-activity`) as `uid` to every subscriber.
    pub fn typing(&self, uid: &str, rid: &str, typing: bool) -> Result<(), SimError> {
        self.with(|st| {
            let username = st
                .world
                .user(uid)
                .map(|u| u.username.clone())
                .ok_or_else(|| SimError::NotFound(format!("user {uid}")))?;
            let acts = if typing {
                json!(["user-typing"])
            } else {
                json!([])
            };
            st.world.notify_room(
                rid,
                "user-activity",
                vec![json!(username), acts, json!({})],
                None,
            );
            Ok(())
        })
    }

    /// Stored messages of a room, oldest first, in DDP form (dates as `{"$date": ms}`).
    /// Hard-deleted messages are absent; tombstones are present with `t:"rm"`.
    pub fn messages(&self, rid: &str) -> Vec<Value> {
        self.core.shared.lock().world.messages_of(rid)
    }

    /// One stored message in DDP form (hidden ones included, with `_hidden: true`).
    pub fn message(&self, mid: &str) -> Option<Value> {
        self.core.shared.lock().world.stored_message(mid).cloned()
    }

    // ------------------------------------------------------------------ faults and load

    /// Number of open DDP sockets logged in as `uid`.
    pub fn session_count(&self, uid: &str) -> usize {
        self.core
            .shared
            .lock()
            .sessions
            .values()
            .filter(|s| s.user_id.as_deref() == Some(uid))
            .count()
    }

    /// Drops every DDP socket of `uid` now (TCP closed, no close frame, no DDP frame).
    pub fn drop_sockets(&self, uid: &str) {
        self.drop_sockets_after(uid, 0);
    }

    /// Drops every DDP socket of `uid` after it has sent `frames` more frames.
    pub fn drop_sockets_after(&self, uid: &str, frames: u32) {
        let st = self.core.shared.lock();
        for s in st.sessions.values() {
            if s.user_id.as_deref() == Some(uid) {
                s.ctl.drop_after.store(i64::from(frames), Ordering::SeqCst);
                if frames == 0 {
                    let _ = s.out.send(Out::Drop);
                }
            }
        }
    }

    /// Deaf mode for `uid`'s sockets: stop sending and stop answering (pings included), keep open.
    pub fn set_deaf(&self, uid: &str, deaf: bool) {
        let st = self.core.shared.lock();
        for s in st.sessions.values() {
            if s.user_id.as_deref() == Some(uid) {
                s.ctl.deaf.store(deaf, Ordering::SeqCst);
            }
        }
    }

    /// Adds `latency` before every REST response and every DDP frame processed.
    pub fn set_latency(&self, latency: Duration) {
        self.core.shared.lock().faults.latency = latency;
    }

    /// The next `count` REST calls answer 429 with `X-RateLimit-*` headers.
    pub fn inject_429(&self, count: u32) {
        self.core.shared.lock().faults.inject_429 = count;
    }

    /// Replaces the REST limiter rule (`None` = off); `include_bots` applies it to bot/admin too.
    pub fn set_rest_rate_limit(&self, rule: Option<RateRule>, include_bots: bool) {
        let mut st = self.core.shared.lock();
        st.faults.rest_rate_limit = rule;
        st.faults.rest_rate_limit_bots = include_bots;
        st.rest_calls.clear();
    }

    /// Replaces the DDP per-connection limiter rule (`None` = off).
    pub fn set_ddp_rate_limit(&self, rule: Option<RateRule>) {
        self.core.shared.lock().faults.ddp_rate_limit = rule;
    }

    /// How many DDP methods and subs were answered `too-many-requests` so far.
    pub fn ddp_refusals(&self) -> u64 {
        self.core.shared.lock().faults.ddp_refusals
    }

    /// Every DDP method and sub answers `too-many-requests` while on.
    pub fn set_ddp_too_many_requests(&self, on: bool) {
        self.core.shared.lock().faults.ddp_too_many_requests = on;
    }

    /// The next successful REST `chat.sendMessage` is stored but its response is dropped
    /// (the connection closes without a response).
    pub fn drop_next_send_response(&self) {
        self.core.shared.lock().faults.drop_next_send_response = true;
    }

    /// Silent revocation: PAT removal / deactivation leave sockets open (REST still 401s).
    pub fn set_silent_revocation(&self, on: bool) {
        self.core.shared.lock().faults.silent_revocation = on;
    }

    /// `FileUpload_MaxFileSize` in bytes (default 104857600): `rooms.media` refuses a larger
    /// file with `error-file-too-large`.
    pub fn set_file_upload_max_size(&self, bytes: u64) {
        self.core.shared.lock().world.uploads.max_file_size = bytes;
    }

    /// The bytes of an upload (confirmed or not), if it exists.
    pub fn upload(&self, file_id: &str) -> Option<Vec<u8>> {
        self.core
            .shared
            .lock()
            .world
            .uploads
            .files
            .get(file_id)
            .map(|f| f.data.to_vec())
    }

    /// `Accounts_TwoFactorAuthentication_Enabled` for REST PAT endpoints.
    pub fn set_two_factor(&self, on: bool) {
        self.core.shared.lock().faults.two_factor_enabled = on;
    }

    /// Posts `count` messages as `uid`, round-robin over `rids`, as fast as possible. Each
    /// message carries `customFields.simSentAtNanos`: the Unix time in nanoseconds (a decimal
    /// string, since it exceeds JavaScript's safe integers) taken just before it was stored and
    /// broadcast, so a client can compute delivery latency. Text is `firehose <i>`.
    pub async fn firehose(
        &self,
        uid: &str,
        rids: &[String],
        count: usize,
    ) -> Result<FirehoseReport, SimError> {
        if rids.is_empty() {
            return Err(SimError::Rejected(
                "firehose needs at least one room".into(),
            ));
        }
        let mut ids = Vec::with_capacity(count);
        for i in 0..count {
            let rid = &rids[i % rids.len()];
            let mut extra = Map::new();
            extra.insert(
                "customFields".into(),
                json!({"simSentAtNanos": crate::util::now_nanos().to_string()}),
            );
            let input = SendInput {
                rid: rid.clone(),
                msg: format!("firehose {i}"),
                extra,
                ..SendInput::default()
            };
            let doc = self.with(|st| st.world.send(uid, input))?;
            if let Some(id) = doc
                .as_ref()
                .and_then(|d| d.get("_id"))
                .and_then(Value::as_str)
            {
                ids.push(id.to_owned());
            }
            if i % 64 == 63 {
                tokio::task::yield_now().await;
            }
        }
        Ok(FirehoseReport { message_ids: ids })
    }
}

fn message_rid(st: &crate::hub::State, mid: &str) -> Result<String, SimError> {
    st.world
        .message(mid)
        .and_then(|m| m.get("rid"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| SimError::NotFound(format!("message {mid}")))
}
