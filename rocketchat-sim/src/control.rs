//! [`SimHandle`]: drive a running simulator from tests ([`crate::Simulator`] starts one).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::config::RateRule;
use crate::error::SimError;
use crate::faults::{EndpointFault, MeteorError, MethodFault, RestFault, SubRefusal};
use crate::hub::Out;
use crate::server::Core;
use crate::world::{
    setting_id, AccountType, Presence, RoomChanges, RoomKind, SendInput, SendPath, SettingError,
    UserKind, WebhookDefaults,
};

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

/// An incoming webhook made by [`SimHandle::create_incoming_webhook`]: post JSON to
/// `path` (`/hooks/<id>/<token>`) on [`SimHandle::base_url`].
#[derive(Clone)]
pub struct Webhook {
    /// The integration id (`bot.i` of the messages it posts).
    pub id: String,
    /// The secret token.
    pub token: String,
    /// `/hooks/<id>/<token>`.
    pub path: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
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
                AccountType::from(kind),
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
            preview_urls: None,
        };
        let doc = self.with(|st| st.world.send(uid, input, SendPath::Control))?;
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
        self.core
            .shared
            .lock()
            .world
            .settings
            .init(setting_id::FILE_UPLOAD_MAX_SIZE, json!(bytes));
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
        self.core
            .shared
            .lock()
            .world
            .settings
            .init(setting_id::TWO_FACTOR_ENABLED, json!(on));
    }

    // ------------------------------------------------------------------ settings, permissions

    /// Writes a setting as an admin would (`POST /api/v1/settings/:_id`), with its type and
    /// bounds checked. The settings the simulator honours are listed in the crate docs.
    pub fn set_setting(&self, id: &str, value: Value) -> Result<(), SimError> {
        let mut st = self.core.shared.lock();
        let now = st.world.now();
        st.world.settings.set(id, value, now).map_err(|e| match e {
            SettingError::NotFound => SimError::NotFound(format!("setting {id}")),
            SettingError::InvalidValue(reason) => SimError::Rejected(reason),
        })
    }

    /// A setting's current value.
    pub fn setting(&self, id: &str) -> Option<Value> {
        self.core
            .shared
            .lock()
            .world
            .settings
            .get(id)
            .map(|s| s.value.clone())
    }

    /// Replaces a permission's roles (`permissions.update`), e.g.
    /// `set_permission("post-readonly", &["admin", "owner", "user"])`.
    pub fn set_permission(&self, id: &str, roles: &[&str]) -> Result<(), SimError> {
        let roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self.core
            .shared
            .lock()
            .world
            .set_permission_roles(id, roles)
            .map_err(|e| match e {
                crate::world::PermissionError::UnknownPermission => {
                    SimError::NotFound(format!("permission {id}"))
                }
                crate::world::PermissionError::UnknownRole(r) => {
                    SimError::Rejected(format!("unknown role {r}"))
                }
            })
    }

    // ------------------------------------------------------------------ bots, apps, presence

    /// Creates an Apps-Engine app user (`type: "app"`, role `app`, `appId`): its messages are
    /// plain messages whose `u` is the app user, and it may post in rooms it is not in.
    pub fn create_app_user(&self, username: &str, name: &str) -> Result<String, SimError> {
        self.with(|st| st.world.create_app_user(username, name))
            .map_err(SimError::from)
    }

    /// Sets a user's status (`online`, `away`, `busy`, `offline`) and optional status text;
    /// logged-in sessions subscribed to `stream-notify-logged` `user-status` hear it.
    pub fn set_user_status(
        &self,
        uid: &str,
        status: &str,
        text: Option<&str>,
    ) -> Result<(), SimError> {
        let presence = Presence::parse(status)
            .ok_or_else(|| SimError::Rejected(format!("invalid status {status}")))?;
        self.with(|st| {
            st.world
                .set_status(uid, Some(presence), text.map(str::to_owned))
        })
        .map_err(SimError::from)
    }

    /// Creates an incoming webhook posting as `uid` to `channel` (`#name`, `@username` or a
    /// room id). Its messages carry `bot: {i: <webhook id>}`.
    pub fn create_incoming_webhook(
        &self,
        name: &str,
        uid: &str,
        channel: &str,
    ) -> Result<Webhook, SimError> {
        let hook = self
            .with(|st| st.world.create_incoming_webhook(name, uid, channel))
            .map_err(SimError::from)?;
        Ok(Webhook {
            path: format!("/hooks/{}/{}", hook.id, hook.token),
            id: hook.id,
            token: hook.token,
        })
    }

    /// Posts `body` through an incoming webhook as the HTTP route would (`text`, `alias`,
    /// `attachments`, `emoji`, ...); returns the ids of the messages posted.
    pub fn post_webhook(&self, hook_id: &str, body: Value) -> Result<Vec<String>, SimError> {
        self.with(|st| {
            let hook = st
                .world
                .integrations
                .get(hook_id)
                .cloned()
                .ok_or_else(|| SimError::NotFound(format!("webhook {hook_id}")))?;
            let mut body = match body {
                Value::Object(o) => o,
                _ => Map::new(),
            };
            body.insert("bot".into(), json!({"i": hook.id}));
            let defaults = WebhookDefaults {
                channel: hook.channel.clone(),
                ..WebhookDefaults::default()
            };
            let sent = st
                .world
                .post_webhook_message(&hook.user_id, &body, &defaults)
                .map_err(SimError::from)?;
            Ok(sent
                .into_iter()
                .filter_map(|(_, m)| m.get("_id").and_then(Value::as_str).map(str::to_owned))
                .collect())
        })
    }

    /// Adds a custom emoji (`emoji-custom.list` lists it); returns its id.
    pub fn add_custom_emoji(
        &self,
        name: &str,
        aliases: &[&str],
        extension: &str,
    ) -> Result<String, SimError> {
        let aliases: Vec<String> = aliases.iter().map(|a| (*a).to_owned()).collect();
        self.with(|st| st.world.add_custom_emoji(name, &aliases, extension))
            .map_err(SimError::from)
    }

    /// Deletes a custom emoji (`emoji-custom.list` reports it under `remove`).
    pub fn remove_custom_emoji(&self, emoji_id: &str) -> Result<(), SimError> {
        self.with(|st| st.world.remove_custom_emoji(emoji_id))
            .map_err(SimError::from)
    }

    // ------------------------------------------------------------------ room events

    /// Creates (or returns) the group DM of `creator` and `others` (a random id; `t: "d"`,
    /// `uids` / `usernames` of every member).
    pub fn create_group_dm(&self, creator: &str, others: &[&str]) -> Result<String, SimError> {
        let others: Vec<String> = others.iter().map(|o| (*o).to_owned()).collect();
        self.with(|st| st.world.create_direct(creator, &others))
            .map_err(SimError::from)
    }

    /// `uid` joins a room (`channels.join`): a `uj` system message. False if already a member.
    pub fn join_room(&self, rid: &str, uid: &str) -> Result<bool, SimError> {
        self.with(|st| st.world.add_user_to_room(rid, uid, None, false))
            .map_err(SimError::from)
    }

    /// `by` adds `uid` to a room (`channels.invite`): an `au` system message.
    pub fn invite(&self, rid: &str, by: &str, uid: &str) -> Result<bool, SimError> {
        self.with(|st| st.world.add_user_to_room(rid, uid, Some(by), false))
            .map_err(SimError::from)
    }

    /// `uid` leaves a room (`channels.leave`): a `ul` system message, then the subscription
    /// goes (no last-owner check).
    pub fn leave_room(&self, rid: &str, uid: &str) -> Result<(), SimError> {
        self.with(|st| st.world.remove_user_from_room(rid, uid, None, false))
            .map_err(SimError::from)
    }

    /// `by` removes `uid` from a room (`channels.kick`): an `ru` system message, then the
    /// subscription goes.
    pub fn kick(&self, rid: &str, by: &str, uid: &str) -> Result<(), SimError> {
        self.with(|st| st.world.remove_user_from_room(rid, uid, Some(by), false))
            .map_err(SimError::from)
    }

    /// Renames a room as `by` (`channels.rename`): an `r` system message.
    pub fn rename_room(&self, rid: &str, by: &str, name: &str) -> Result<(), SimError> {
        let changes = RoomChanges {
            name: Some(name.to_owned()),
            ..RoomChanges::default()
        };
        self.with(|st| st.world.change_room(rid, by, changes))
            .map_err(SimError::from)
    }

    /// Sets a room's topic as `by` (`channels.setTopic`): a `room_changed_topic` system
    /// message.
    pub fn set_topic(&self, rid: &str, by: &str, topic: &str) -> Result<(), SimError> {
        let changes = RoomChanges {
            topic: Some(topic.to_owned()),
            ..RoomChanges::default()
        };
        self.with(|st| st.world.change_room(rid, by, changes))
            .map_err(SimError::from)
    }

    /// Makes a room read-only or not, as `by`.
    pub fn set_read_only(&self, rid: &str, by: &str, on: bool) -> Result<(), SimError> {
        let changes = RoomChanges {
            read_only: Some(on),
            ..RoomChanges::default()
        };
        self.with(|st| st.world.change_room(rid, by, changes))
            .map_err(SimError::from)
    }

    /// Gives (`on`) or takes a room role (`owner`, `moderator`, `leader`) as `by`: a
    /// `subscription-role-added` / `-removed` system message.
    pub fn set_room_role(
        &self,
        rid: &str,
        uid: &str,
        role: &str,
        on: bool,
        by: &str,
    ) -> Result<(), SimError> {
        if !matches!(role, "owner" | "moderator" | "leader") {
            return Err(SimError::Rejected(format!("not a room role: {role}")));
        }
        self.with(|st| st.world.set_room_role(rid, uid, role, on, by))
            .map_err(SimError::from)
    }

    /// Mutes (`on`) or unmutes `uid` in a room, as `by`.
    pub fn set_muted(&self, rid: &str, uid: &str, on: bool, by: &str) -> Result<(), SimError> {
        self.with(|st| st.world.set_muted(rid, uid, on, by))
            .map_err(SimError::from)
    }

    /// Deletes a room (`channels.delete`): every member's subscription is removed
    /// (`subscriptions-changed` "removed") and its streams go silently.
    pub fn delete_room(&self, rid: &str) -> Result<(), SimError> {
        self.with(|st| st.world.delete_room(rid))
            .map_err(SimError::from)
    }

    /// Unpins a message as `uid`.
    pub fn unpin(&self, uid: &str, mid: &str) -> Result<(), SimError> {
        self.with(|st| st.world.unpin(uid, mid))
            .map_err(SimError::from)
    }

    /// Stars (`on`) or unstars a message as `uid`.
    pub fn star(&self, uid: &str, mid: &str, on: bool) -> Result<(), SimError> {
        self.with(|st| st.world.star(uid, mid, on))
            .map_err(SimError::from)
    }

    // ------------------------------------------------------------------ faults (issue 12)

    /// The next `times` HTTP requests whose path starts with `path_prefix` (e.g.
    /// `"/api/v1/rooms.info"`, `"/file-upload/"`, `"/hooks/"`) get `fault`; other paths, the
    /// WebSocket upgrade and `/_sim/` controls are untouched.
    pub fn fail_endpoint(&self, path_prefix: &str, fault: RestFault, times: u32) {
        if times == 0 {
            return;
        }
        self.core
            .shared
            .lock()
            .faults
            .endpoint_faults
            .push(EndpointFault {
                prefix: path_prefix.to_owned(),
                fault,
                remaining: times,
            });
    }

    /// Disarms every REST fault.
    pub fn clear_endpoint_faults(&self) {
        self.core.shared.lock().faults.endpoint_faults.clear();
    }

    /// The next `times` calls of DDP method `method` answer `error` (after `updated`, as a
    /// thrown `Meteor.Error`), e.g. `MeteorError::status(403, "You've been logged out by the
    /// server. Please log in again.")`.
    pub fn fail_method(&self, method: &str, error: MeteorError, times: u32) {
        if times == 0 {
            return;
        }
        self.core
            .shared
            .lock()
            .faults
            .method_faults
            .push(MethodFault {
                method: method.to_owned(),
                error,
                remaining: times,
            });
    }

    /// From now on, `sub` to `stream` (e.g. `"stream-notify-user"`) whose first parameter
    /// starts with `key_prefix` (`""` for all) is refused with `nosub` carrying `error`.
    pub fn refuse_subscription(&self, stream: &str, key_prefix: &str, error: MeteorError) {
        self.core
            .shared
            .lock()
            .faults
            .sub_refusals
            .push(SubRefusal {
                stream: stream.to_owned(),
                key_prefix: key_prefix.to_owned(),
                error,
            });
    }

    /// Lifts every subscription refusal.
    pub fn clear_subscription_refusals(&self) {
        self.core.shared.lock().faults.sub_refusals.clear();
    }

    /// Ends `uid`'s live subscriptions to `stream` whose key starts with `key_prefix`, as
    /// Meteor does when a publication calls `this.error()`: each gets
    /// `{"msg":"nosub","id":<sub id>,"error":..}` and delivers nothing more. Returns how many.
    pub fn revoke_subscriptions(
        &self,
        uid: &str,
        stream: &str,
        key_prefix: &str,
        error: MeteorError,
    ) -> usize {
        let error = error.to_value();
        let mut st = self.core.shared.lock();
        let mut revoked = 0;
        for s in st.sessions.values_mut() {
            if s.user_id.as_deref() != Some(uid) {
                continue;
            }
            let ids: Vec<String> = s
                .subs
                .iter()
                .filter(|(_, sub)| sub.stream == stream && sub.key.starts_with(key_prefix))
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                s.subs.remove(&id);
                s.send(json!({"msg": "nosub", "id": id, "error": error}).to_string());
                revoked += 1;
            }
        }
        revoked
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
            let doc = self.with(|st| st.world.send(uid, input, SendPath::Control))?;
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
