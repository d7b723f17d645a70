//! A faithful Rocket.Chat 8.2.0 simulator for tests: DDP at `/websocket` and the REST API at
//! `/api/v1`, built from `shared/reference/rocketchat-protocol.md` and checked against Rocket.Chat's
//! own end-to-end API tests and route code (`UPSTREAM.md` lists which cases are mirrored in
//! `tests/upstream_*.rs`). An independent reading of the protocol: this crate does not use
//! `backend-rocketchat`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rocketchat_sim::SimError> {
//! use rocketchat_sim::{RoomKind, SimConfig, Simulator, UserKind};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! let bot = sim.create_user("bot", UserKind::Bot)?;
//! let pat = sim.create_pat(&bot, "test")?;
//! let alice = sim.create_user("alice", UserKind::Human)?;
//! let room = sim.create_room(RoomKind::Public, "dev", &alice, &[&bot])?;
//! sim.post(&alice, &room, "hello @bot")?;
//! // connect to sim.ws_url() / sim.base_url() with X-User-Id = bot, X-Auth-Token = pat
//! # let _ = pat; sim.shutdown().await; Ok(()) }
//! ```
//!
//! # Layout
//! - [`config`]: [`SimConfig`], every switch (defaults = stock 8.2.0; \[unconfirmed\] points of the
//!   reference are switches; settings start from it).
//! - `world/`: the state and every mutation, with no HTTP or WebSocket types: `users`
//!   (accounts, tokens stored as sha256-base64, presence), `rooms` (rooms, subscriptions,
//!   membership, DMs and group DMs, room settings, roles, mutes, deletion), `messages` (the send
//!   pipeline, webhooks, system messages, edit, delete, react, pin, star, quotes, sync, the
//!   per-message room and subscription updates), `validate` (`validateMessage`), `settings`,
//!   `permissions`, `uploads`, `emoji`, `integrations`. Mutations record broadcasts
//!   (`world::Emit`).
//! - `hub`: the world and the live DDP sessions behind one mutex; fan-out of broadcasts to
//!   session outboxes (per-event access check for `__my_messages__`); the armed faults.
//! - `ddp`: one socket = reader + serial processor + writer + heartbeat; framing, errors, login,
//!   subscriptions, methods.
//! - `rest/`: `mod` (request, envelopes, auth, rate limiter, route table) and one module per
//!   endpoint group: `auth`, `chat`, `rooms`, `channels` (channels.* and groups.*), `im`,
//!   `users`, `admin` (settings, permissions), `subscriptions`, `emoji`, `history`,
//!   `uploads`, `hooks`.
//! - `faults`: [`RestFault`], [`MeteorError`], [`ErrorCode`] and the armed-fault lists.
//! - `server`: hyper listener (+ rustls), routing, REST faults, stop / restart; the crate root
//!   hands it the JSON control entry, so the listener imports no control module.
//! - `control`: [`Simulator`] and [`SimHandle`], the Rust control API.
//! - `control_http`: the same controls as JSON over `POST /_sim/<control>`.
//! - `mentions`, `util`: parsing and small helpers.
//!
//! # Control API ([`SimHandle`])
//! Lifecycle: `base_url()`, `ws_url()`, `addr()`, `shutdown()`, `restart()` (same port, state kept).
//! Users: `create_user(username, kind)` (password = username; bots get roles bot+user),
//! `create_user_full(..)`, `create_app_user(username, name)` (`type: "app"`, role `app`),
//! `user_id(username)`, `create_pat(uid, name) -> token`, `remove_pat(uid, name)`,
//! `deactivate_user(uid)`, `activate_user(uid)`, `set_user_status(uid, status, text)`.
//! Control-created users join no room (REST `users.create` joins the default channels).
//! Rooms: `create_room(kind, name, creator, members) -> rid`, `create_dm(a, b) -> rid` (sorted ids
//! concatenated), `create_group_dm(creator, others) -> rid` (random id), `add_member(rid, uid)`
//! and `remove_member(rid, uid)` (no system message), `join_room` (`uj`), `invite` (`au`),
//! `leave_room` (`ul`), `kick` (`ru`), `rename_room` (`r`), `set_topic` (`room_changed_topic`),
//! `set_read_only`, `set_room_role(rid, uid, role, on, by)`, `set_muted`, `delete_room`.
//! `GENERAL` and user `rocket.cat` exist at start, and an admin (`admin`/`admin` by default,
//! `SimConfig::admin`).
//! Messages (as another user; `extra` fields are copied as given, `validateMessage`'s
//! permission and setting checks are skipped, the room checks are not): `post`, `post_reply`,
//! `post_with(PostOptions)` -> message id, `react`, `unreact`, `edit`, `delete`, `pin`, `unpin`,
//! `star(uid, mid, on)`, `typing(uid, rid, on)`; read back with `messages(rid)` (stored
//! documents, DDP form) and `message(mid)`. Integrations: `create_incoming_webhook(name, uid,
//! channel) -> Webhook {id, token, path}` (POST to `path`), `post_webhook(id, body)`;
//! `add_custom_emoji(name, aliases, ext)`, `remove_custom_emoji(id)`.
//! Settings and permissions: `set_setting(id, value)`, `setting(id)`, `set_permission(id,
//! roles)`, `set_file_upload_max_size(bytes)`, `set_two_factor(on)`.
//! Faults: `drop_sockets(uid)`, `drop_sockets_after(uid, n)`, `set_deaf(uid, on)`,
//! `set_latency(d)`, `inject_429(n)`, `set_rest_rate_limit(rule, include_bots)`,
//! `set_ddp_rate_limit(rule)`, `set_ddp_too_many_requests(on)`, `drop_next_send_response()`,
//! `set_silent_revocation(on)`, `session_count(uid)`, `ddp_refusals()`;
//! `fail_endpoint(path_prefix, RestFault, times)` (`Status(u16)`, `HugeBody(bytes)`,
//! `Stall(Duration)`, `Drop`) and `clear_endpoint_faults()`; `fail_method(name, MeteorError,
//! times)`; `refuse_subscription(stream, key_prefix, MeteorError)`,
//! `clear_subscription_refusals()`, `revoke_subscriptions(uid, stream, key_prefix, MeteorError)
//! -> count` (live subscriptions end with `nosub` + error).
//! Load: `firehose(uid, rids, n)`: each message carries `customFields.simSentAtNanos`, the Unix
//! time in nanoseconds as a decimal string, stamped just before the message is broadcast.
//!
//! # JSON control API (binary)
//! `POST /_sim/<control>` on the same port (loopback peers only), body JSON, reply
//! `{"ok":true,...}` or 400 `{"ok":false,"error":..}`. Controls: `info`, `createUser {username,
//! bot?, name?, password?, roles?} -> {userId}`, `createAppUser {username, name?} -> {userId}`,
//! `userId {username}`, `createPat {userId, name?} -> {token}`, `removePat {userId, name}`,
//! `setActive {userId, active}`, `setStatus {userId, status, text?}`, `createRoom {type:
//! "c"|"p", name, creator, members?:[uid]} -> {roomId}`, `createDm {a, b}`, `createGroupDm
//! {creator, members:[uid]} -> {roomId}`, `addMember {roomId, userId}`, `removeMember {roomId,
//! userId}`, `joinRoom {roomId, userId}`, `invite {roomId, by, userId}`, `leaveRoom {roomId,
//! userId}`, `kick {roomId, by, userId}`, `renameRoom {roomId, by, name}`, `setTopic {roomId, by,
//! topic}`, `setReadOnly {roomId, by, on?}`, `setRoomRole {roomId, userId, role, on?, by}`,
//! `setMuted {roomId, userId, on?, by}`, `deleteRoom {roomId}`, `post {userId, roomId, text, tmid?,
//! id?, tshow?, extra?} -> {messageId}`, `react {userId, messageId, emoji, add?}`, `edit {userId,
//! messageId, text}`, `delete {userId, messageId}`, `pin {userId, messageId}`, `unpin {userId,
//! messageId}`, `star {userId, messageId, on?}`, `typing {userId, roomId, on?}`, `messages
//! {roomId}` (REST form), `message {messageId}`, `createWebhook {userId, channel, name?} -> {id,
//! token, path}`, `postWebhook {id, body} -> {messageIds}`, `addEmoji {name, aliases?,
//! extension?} -> {emojiId}`, `removeEmoji {emojiId}`, `setSetting {id, value}`, `setting {id}
//! -> {value}`, `setPermission {id, roles}`, `sessionCount {userId}`, `dropSockets {userId,
//! afterFrames?}`, `deaf {userId, on?}`, `latency {ms}`, `inject429 {count}`, `restRateLimit
//! {limit?, windowMs?, bots?, off?}`, `ddpRateLimit {limit?, windowMs?, off?}`,
//! `ddpTooManyRequests {on?}`, `dropNextSendResponse {}`, `silentRevocation {on?}`, `twoFactor
//! {on?}`, `failEndpoint {prefix, status?|hugeBody?|stallMs?|drop?, times?}`,
//! `clearEndpointFaults {}`, `failMethod {method, error: {error, reason?, details?}, times?}`,
//! `refuseSubscription {stream, keyPrefix?, error}`, `clearSubscriptionRefusals {}`,
//! `revokeSubscriptions {userId, stream, keyPrefix?, error} -> {revoked}`, `firehose {userId,
//! roomIds?, count?} -> {messageIds}`, `restart {}`.
//!
//! # REST routes
//! `GET /api/info`; `POST /hooks/:id/:token` (incoming webhooks); `/api/v1/`: `login`
//! (`{user, password}` with a username, e-mail, `{username}` or `{email}`; `{username,
//! password}`; `{resume}`), `logout`, `me`; `chat.sendMessage`, `chat.postMessage`,
//! `chat.react`, `chat.update`, `chat.delete`, `chat.pinMessage`, `chat.unPinMessage`,
//! `chat.starMessage`, `chat.unStarMessage`, `chat.getMessage`, `chat.getPinnedMessages`,
//! `chat.getStarredMessages`, `chat.syncMessages` (`lastUpdate` and the cursor mode),
//! `chat.getThreadMessages`; `rooms.info` (`fields`), `rooms.get`, `rooms.leave`,
//! `rooms.join`, `rooms.delete`, `rooms.saveRoomSettings`, `rooms.muteUser`,
//! `rooms.unmuteUser`, `rooms.isMember`, `rooms.media/:rid`, `rooms.mediaConfirm/:rid/:fileId`;
//! `channels.*` and `groups.*`: `create`, `info`, `history`, `invite`, `kick`, `leave`,
//! `delete`, `rename`, `setTopic`, `setDescription`, `setAnnouncement`, `setPurpose`,
//! `setReadOnly`, `setCustomFields`, `addOwner`, `removeOwner`, `addModerator`,
//! `removeModerator`, `addLeader`, `removeLeader`, `members`, `roles`, `moderators`, and
//! `channels.join`, `channels.setDefault`, `channels.setJoinCode`; `im.*` / `dm.*`: `create`
//! (`username` or `usernames`, `excludeSelf`), `delete`, `open`, `close`, `setTopic`,
//! `members`, `history`; `users.info` (`includeUserRooms` / `fields={"userRooms":1}`),
//! `users.create`, `users.update` (`data.password`, `name`, `email`, `verified`, `roles`,
//! `statusText`, `active`), `users.setActiveStatus`, `users.setStatus`, `users.getStatus`,
//! `users.generatePersonalAccessToken`, `users.regeneratePersonalAccessToken`,
//! `users.removePersonalAccessToken`, `users.getPersonalAccessTokens`; `subscriptions.get`,
//! `subscriptions.getOne`, `subscriptions.read`, `subscriptions.unread`; `settings.public`
//! (no login), `settings`, `settings/:_id` (GET, POST); `permissions.listAll`,
//! `permissions.update`, `permissions.addRole`, `permissions.removeRole`;
//! `emoji-custom.list`, `emoji-custom.all`. Downloads: `GET /file-upload/:fileId/:name`.
//!
//! Settings honoured (all readable and writable): `Message_MaxAllowedSize`,
//! `Message_AllowEditing`, `Message_AllowDeleting`, `Message_AllowPinning`,
//! `Message_AllowStarring`, `Message_ShowDeletedStatus`, `Message_KeepHistory`,
//! `Message_CustomFields_Enabled`, `Message_CustomFields`, `Message_Read_Receipt_Enabled`,
//! `Threads_enabled`, `API_Embed`, `UI_Use_Real_Name`, `Unread_Count`, `Unread_Count_DM`,
//! `DirectMesssage_maxUsers`, `Accounts_AllowUserStatusMessageChange`,
//! `Accounts_AllowUserProfileChange`, `Accounts_AllowRealNameChange`,
//! `Accounts_AllowEmailChange`, `Accounts_AllowPasswordChange`,
//! `Accounts_AllowInvisibleStatusOption`, `Accounts_Default_User_Preferences_masterVolume`,
//! `Accounts_Registration_Users_Default_Roles`, `Accounts_TwoFactorAuthentication_Enabled`,
//! `FileUpload_MaxFileSize`, `FileUpload_ProtectFiles`, `Site_Url` (quote links), plus
//! `Site_Name`, `Language`, `LDAP_Enable` (stored only). Permissions enforced: see
//! `world/permissions.rs` (room roles owner / moderator / leader count for room-scoped ones).
//!
//! # DDP
//! Methods: `login` (resume or password digest), `logout`, `setReaction`, `sendMessage`,
//! `updateMessage`, `createDirectMessage(...usernames)`, `loadMissedMessages`,
//! `stream-notify-room` (typing writes). Publications: `stream-room-messages`,
//! `stream-notify-room`, `stream-notify-user`, `stream-notify-logged` (`user-status`,
//! `roles-change`), `stream-notify-all` (accepted, delivers nothing).
//!
//! Frames after one message (notifyUsersOnMessage.ts): the message on `stream-room-messages`
//! (again with `urls[].meta` when it has URLs and `API_Embed` is on); `rooms-changed` "updated"
//! with the room to every member subscribed; `subscriptions-changed` "updated" to a member only
//! when its subscription changed (first unread: `alert`/`open`; mentions; every message under
//! `Unread_Count`=`all_messages`, which is `Unread_Count_DM`'s default), and to the sender every
//! time (marked read). System messages count in `msgs` but do not change `lastMessage`.
//!
//! # Not simulated
//! The message-parser `md` AST, real URL preview metadata (the follow-up update is simulated
//! with empty `meta`), thumbnails of uploads, teams, discussions, E2EE, livechat, archiving,
//! bad-words filtering, read receipts lists, thread follow/unfollow and `tunread`,
//! `chat.search`, `Hide_System_Messages` / `sysMes` hiding, `Accounts_CustomFields`,
//! permessage-deflate (frames are uncompressed), the per-IP / per-user DDP rate rules (only per
//! connection and `sendMessage`'s own rule), real-name substitution in broadcasts, message
//! edit history, the standard emoji list (any emoji-like name is accepted), blocked DMs, and
//! user presence from connections (users are `online` unless set otherwise).

pub mod config;
mod control;
mod control_http;
mod ddp;
mod error;
mod faults;
mod hub;
mod mentions;
mod rest;
pub mod seed;
mod server;
mod util;
mod world;

pub use config::{InvalidJsonReply, RateRule, SimConfig, TlsFiles};
pub use control::{FirehoseReport, PostOptions, SimHandle, Webhook};

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds `config.bind` (default `127.0.0.1:0`) and starts serving. Needs a Tokio runtime.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        // The crate root wires the control API into the listener, so neither depends on the
        // other's module.
        let core = server::Core::start(config, Some(control_http::entry)).await?;
        Ok(SimHandle { core })
    }
}
pub use error::SimError;
pub use faults::{ErrorCode, MeteorError, RestFault};
pub use world::{RoomKind, UserKind};
