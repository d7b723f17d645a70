//! A faithful Rocket.Chat 8.2.0 simulator for tests: DDP at `/websocket` and the REST API at
//! `/api/v1`, built from `shared/reference/rocketchat-protocol.md` (an independent reading of the
//! protocol: this crate does not use `backend-rocketchat`).
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
//!   reference are switches).
//! - `world`: users, tokens (stored as sha256-base64), rooms, subscriptions, messages, and every
//!   mutation (send, edit, delete, react, threads, mentions); mutations record broadcasts.
//! - `hub`: the world and the live DDP sessions behind one mutex; fan-out of broadcasts to
//!   session outboxes (per-event access check for `__my_messages__`).
//! - `ddp`: one socket = reader + serial processor + writer + heartbeat; framing, errors, login,
//!   subscriptions, methods.
//! - `rest`: `/api/v1` routes, envelopes, auth, rate limiter, 2FA.
//! - `server`: hyper listener (+ rustls), routing, stop / restart.
//! - `control`: [`Simulator`] and [`SimHandle`], the Rust control API.
//! - `control_http`: the same controls as JSON over `POST /_sim/<control>`.
//! - `mentions`, `util`: parsing and small helpers.
//!
//! # Control API ([`SimHandle`])
//! Lifecycle: `base_url()`, `ws_url()`, `addr()`, `shutdown()`, `restart()` (same port, state kept).
//! Users: `create_user(username, kind)` (password = username; bots get roles bot+user),
//! `create_user_full(..)`, `user_id(username)`, `create_pat(uid, name) -> token`,
//! `remove_pat(uid, name)`, `deactivate_user(uid)`, `activate_user(uid)`.
//! Rooms: `create_room(kind, name, creator, members) -> rid`, `create_dm(a, b) -> rid` (sorted ids
//! concatenated), `add_member(rid, uid)`. `GENERAL` and user `rocket.cat` exist at start, and
//! an admin (`admin`/`admin` by default, `SimConfig::admin`).
//! Messages (as another user): `post`, `post_reply`, `post_with(PostOptions)` -> message id,
//! `react`, `unreact`, `edit`, `delete`, `pin`, `typing(uid, rid, on)`, `remove_member(rid, uid)`; read back with
//! `messages(rid)` (stored documents, DDP form) and `message(mid)`.
//! Faults: `drop_sockets(uid)`, `drop_sockets_after(uid, n)`, `set_deaf(uid, on)`,
//! `set_latency(d)`, `inject_429(n)`, `set_rest_rate_limit(rule, include_bots)`,
//! `set_ddp_rate_limit(rule)`, `set_ddp_too_many_requests(on)`, `drop_next_send_response()`,
//! `set_silent_revocation(on)`, `set_two_factor(on)`, `session_count(uid)`.
//! Load: `firehose(uid, rids, n)`: each message carries `customFields.simSentAtNanos`, the Unix
//! time in nanoseconds as a decimal string, stamped just before the message is broadcast.
//!
//! # JSON control API (binary)
//! `POST /_sim/<control>` on the same port (loopback peers only), body JSON, reply
//! `{"ok":true,...}` or 400 `{"ok":false,"error":..}`. Controls: `info`, `createUser {username,
//! bot?, name?, password?, roles?} -> {userId}`, `userId {username}`, `createPat {userId, name?}
//! -> {token}`, `removePat {userId, name}`, `setActive {userId, active}`, `createRoom {type:
//! "c"|"p", name, creator, members?:[uid]} -> {roomId}`, `createDm {a, b}`, `addMember {roomId,
//! userId}`, `post {userId, roomId, text, tmid?, id?, tshow?, extra?} -> {messageId}`, `react
//! {userId, messageId, emoji, add?}`, `edit {userId, messageId, text}`, `delete {userId,
//! messageId}`, `typing {userId, roomId, on?}`, `pin {userId, messageId}`, `removeMember {roomId, userId}`, `messages {roomId}` (REST form), `message
//! {messageId}`, `sessionCount {userId}`, `dropSockets {userId, afterFrames?}`, `deaf {userId,
//! on?}`, `latency {ms}`, `inject429 {count}`, `restRateLimit {limit?, windowMs?, bots?, off?}`,
//! `ddpRateLimit {limit?, windowMs?, off?}`, `ddpTooManyRequests {on?}`,
//! `dropNextSendResponse {}`, `silentRevocation {on?}`, `twoFactor {on?}`, `firehose {userId,
//! roomIds?, count?} -> {messageIds}`, `restart {}`.
//!
//! # Not simulated
//! The message-parser `md` AST, real URL preview metadata (the follow-up update is simulated
//! with empty `meta`), thumbnails of uploads, stars, teams, discussions, E2EE, livechat, permessage-deflate
//! (frames are uncompressed), the per-IP / per-user DDP rate rules (only per connection and
//! `sendMessage`'s own rule), `Message_MaxAll`, real-name substitution in broadcasts,
//! message edit history, the emoji list (any emoji-like name is accepted), and permissions
//! beyond the roles named in the reference (admins create users and edit or delete anything;
//! room owners edit or delete anything in their room; authors edit and delete their own).
//!
//! # REST routes
//! `GET /api/info`; `/api/v1/`: `login`, `me`, `chat.sendMessage`, `chat.postMessage`,
//! `chat.react`, `chat.update`, `chat.delete`, `chat.pinMessage`, `chat.getMessage`,
//! `chat.syncMessages` (`lastUpdate` and the cursor mode), `rooms.info`, `rooms.get`,
//! `channels.info`, `groups.info`, `im.create` / `dm.create`, `subscriptions.getOne`,
//! `users.info`, `users.create`, `users.generatePersonalAccessToken`,
//! `users.removePersonalAccessToken`, `users.getPersonalAccessTokens`, `users.setActiveStatus`,
//! `channels.create`, `groups.create`, `channels.invite`, `groups.invite`; history (module
//! `history`): `channels.history`, `groups.history`, `im.history` / `dm.history`,
//! `chat.getThreadMessages`.
//!
//! Uploads (module `uploads`): `POST /api/v1/rooms.media/:rid` (multipart, field `file`,
//! `FileUpload_MaxFileSize`, set with `set_file_upload_max_size`), `rooms.mediaConfirm/:rid/:fileId`,
//! and `GET /file-upload/:fileId/:name` (credentials in headers, cookies or query; room access).
//!
//! # DDP
//! Methods: `login` (resume or password digest), `logout`, `setReaction`, `sendMessage`,
//! `updateMessage`, `loadMissedMessages`, `stream-notify-room` (typing writes). Publications:
//! `stream-room-messages`, `stream-notify-room`, `stream-notify-user`, `stream-notify-logged`,
//! `stream-notify-all` (the last two accept subscriptions and deliver nothing).

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
pub use control::{FirehoseReport, PostOptions, SimHandle, Simulator, Webhook};
pub use error::SimError;
pub use faults::{ErrorCode, MeteorError, RestFault};
pub use world::{RoomKind, UserKind};
