//! The wire shapes of the bridge protocol (`docs/bridge-protocol.md`): notification params,
//! request params and results. Field names are the documented camelCase ones; these types
//! are the contract with the plugin, so they are kept apart from `channel-api`'s types.

use std::collections::BTreeMap;

use channel_api::{Capabilities, RoomInfo, RoomKind, SenderIdentity};
use serde::{Deserialize, Serialize};

/// The version of this protocol. The plugin refuses a bridge that speaks another one
/// (`bridge --version` prints it; `ready` carries it).
pub const PROTOCOL_VERSION: u32 = 2;

// ----- notifications, core -> plugin -----

/// Notification method names.
pub mod method {
    /// The first connection is active.
    pub const READY: &str = "ready";
    /// A connection state change.
    pub const CONNECTION: &str = "connection";
    /// An admitted inbound message.
    pub const MESSAGE: &str = "message";
    /// A DM from a sender who needs pairing.
    pub const PAIRING_REQUIRED: &str = "pairingRequired";
    /// A reaction added or removed.
    pub const REACTION: &str = "reaction";
    /// A user edited a message.
    pub const MESSAGE_EDITED: &str = "messageEdited";
    /// A user deleted a message.
    pub const MESSAGE_DELETED: &str = "messageDeleted";
    /// Something happened to a room (a join, leave, rename, topic change, pin).
    pub const ROOM_EVENT: &str = "roomEvent";
    /// The configuration line was rejected; the process exits with code 2.
    pub const FATAL: &str = "fatal";
}

/// A room as the plugin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomWire {
    /// Room id.
    pub id: String,
    /// `direct`, `public` or `private`.
    pub kind: RoomKind,
    /// The room name; null for DMs.
    pub name: Option<String>,
}

impl From<&RoomInfo> for RoomWire {
    fn from(room: &RoomInfo) -> Self {
        Self {
            id: room.id.to_string(),
            kind: room.kind,
            name: room.name.clone(),
        }
    }
}

/// A message author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderWire {
    /// User id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Display name, when known.
    pub display_name: Option<String>,
    /// Whether the author is a bot.
    pub is_bot: bool,
}

impl From<&channel_api::Author> for SenderWire {
    fn from(a: &channel_api::Author) -> Self {
        Self {
            id: a.id.to_string(),
            username: a.username.clone(),
            display_name: a.display_name.clone(),
            is_bot: a.is_bot,
        }
    }
}

/// `ready` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyParams {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The bridge's version.
    pub version: String,
    /// Who the bridge is logged in as.
    pub identity: IdentityWire,
    /// What the backend can do.
    pub capabilities: Capabilities,
    /// The server's version, when the bridge could read it.
    pub server_version: Option<String>,
    /// How long the bridge may take, so the plugin's own timeouts are longer.
    pub limits: LimitsWire,
}

/// `ready.limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsWire {
    /// How long a stop (`shutdown`, EOF, SIGTERM) may take: wait longer before SIGKILL.
    pub drain_ms: u64,
    /// The longest one request may run in the bridge (rate-limit waits included); past
    /// it the bridge answers `timeout` itself. The plugin's per-request timeout must be
    /// longer.
    pub send_budget_ms: u64,
}

/// The bot account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityWire {
    /// OpenClaw account id.
    pub account_id: String,
    /// The bot's user id.
    pub user_id: String,
    /// The bot's username.
    pub username: String,
}

/// `connection` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionParams {
    /// `connecting`, `active`, `reconnecting` or `fatal`.
    pub state: String,
    /// The attempt, for `connecting` and `reconnecting` (from 1 in each outage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// How far the attempt has got, for `connecting` and `reconnecting`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<channel_api::Phase>,
    /// Why it stopped, for `fatal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<channel_api::FatalCause>,
    /// Why, for `fatal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&channel_api::ConnectionState> for ConnectionParams {
    fn from(state: &channel_api::ConnectionState) -> Self {
        use channel_api::ConnectionState as S;
        let base = |state: &str| Self {
            state: state.into(),
            attempt: None,
            phase: None,
            cause: None,
            reason: None,
        };
        match state {
            S::Connecting { attempt, phase } => Self {
                attempt: Some(*attempt),
                phase: Some(*phase),
                ..base("connecting")
            },
            S::Active => base("active"),
            S::Reconnecting { attempt, phase } => Self {
                attempt: Some(*attempt),
                phase: Some(*phase),
                ..base("reconnecting")
            },
            S::FatallyClosed { cause, reason } => Self {
                cause: Some(*cause),
                reason: Some(reason.clone()),
                ..base("fatal")
            },
        }
    }
}

/// Mention facts of an admitted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MentionsWire {
    /// The message counts as addressed to the bot.
    pub was_mentioned: bool,
    /// The payload mentions the bot by user.
    pub explicit: bool,
    /// A configured mention pattern matched.
    pub pattern: bool,
    /// An `implicitMentions` switch matched (a reply in the bot's thread, or a follow-up
    /// in a thread the bot replied in).
    #[serde(default)]
    pub implicit: bool,
    /// `@all` / `@here`.
    pub everyone: bool,
    /// Whether the room requires a mention.
    pub require_mention: bool,
}

/// A `!` command the sender may run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandWire {
    /// `status`, `model` or `stop`.
    pub name: String,
    /// The argument (`!model gpt-x` -> `gpt-x`).
    pub arg: Option<String>,
    /// The OpenClaw slash form, e.g. `/model gpt-x`.
    pub slash: String,
}

/// Where a reply goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyThreadWire {
    /// The thread root id.
    pub id: String,
    /// `all` (every chunk in the thread) or `first` (only the first chunk).
    pub scope: ReplyScope,
}

/// How much of a reply goes into the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReplyScope {
    /// Every chunk.
    All,
    /// Only the first chunk; the rest go to the top level.
    First,
}

/// `message` params: an admitted inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageParams {
    /// The session's conversation id.
    pub conversation_id: String,
    /// Message id.
    pub message_id: String,
    /// Server time, ms since the epoch.
    pub timestamp: i64,
    /// The room.
    pub room: RoomWire,
    /// The thread the message is in; null at top level.
    pub thread_id: Option<String>,
    /// The author.
    pub sender: SenderWire,
    /// The text as posted.
    pub text: String,
    /// The text with the bot mention stripped.
    pub text_for_agent: String,
    /// Mention facts.
    pub mentions: MentionsWire,
    /// The parsed command, when the sender may run it.
    pub command: Option<CommandWire>,
    /// Where the reply goes; null = top level.
    pub reply_thread: Option<ReplyThreadWire>,
    /// The message's files, downloaded into `mediaDir` (always present, often empty).
    #[serde(default)]
    pub attachments: Vec<AttachmentWire>,
    /// Room messages the agent has not seen, oldest first (room conversations only).
    #[serde(default)]
    pub history: Vec<HistoryEntryWire>,
    /// The start of the thread, the first time the core dispatches from it.
    #[serde(default)]
    pub thread_history: Vec<HistoryEntryWire>,
}

/// Why an attachment has no `path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttachmentError {
    /// Over `mediaMaxMb`; the core posted a notice in the room.
    TooLarge,
    /// Anything else (logged).
    Failed,
}

/// One file of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentWire {
    /// The backend's file id.
    pub id: String,
    /// The file name as uploaded.
    pub name: String,
    /// The MIME type (the server's, else guessed from the name).
    pub mime_type: Option<String>,
    /// Size in bytes: what was downloaded, else what the server said.
    pub size: Option<u64>,
    /// The downloaded file (the plugin owns it); null when `error` is set.
    pub path: Option<String>,
    /// Why there is no file.
    pub error: Option<AttachmentError>,
}

/// One past message given as context (`history`, `threadHistory`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntryWire {
    /// Message id.
    pub message_id: String,
    /// Server time, ms since the epoch.
    pub timestamp: i64,
    /// The author.
    pub sender: SenderWire,
    /// The text as posted.
    pub text: String,
    /// The thread the message is in; null at top level.
    pub thread_id: Option<String>,
    /// The bot wrote it.
    pub from_self: bool,
}

/// The sender of a DM that needs pairing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairingSenderWire {
    /// User id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Display name, when known.
    pub display_name: Option<String>,
}

/// The DM room of a pairing request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairingRoomWire {
    /// Room id.
    pub id: String,
    /// Always `direct` today.
    pub kind: RoomKind,
}

/// `pairingRequired` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairingRequiredParams {
    /// Who wrote.
    pub sender: PairingSenderWire,
    /// Where.
    pub room: PairingRoomWire,
}

/// The user who reacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionUserWire {
    /// User id.
    pub id: String,
    /// Username, when the backend has it.
    pub username: Option<String>,
}

/// `reaction` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionParams {
    /// `added` or `removed`.
    pub action: String,
    /// The conversation of the room (top level).
    pub conversation_id: String,
    /// The room.
    pub room: RoomWire,
    /// The message reacted to.
    pub message_id: String,
    /// Emoji name without colons.
    pub emoji: String,
    /// Who reacted.
    pub user: ReactionUserWire,
    /// Author of the message reacted to, when known.
    pub message_author_id: Option<String>,
}

/// `messageEdited` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEditedParams {
    /// The conversation the message belongs to.
    pub conversation_id: String,
    /// The room.
    pub room: RoomWire,
    /// Message id.
    pub message_id: String,
    /// The thread it is in, if any.
    pub thread_id: Option<String>,
    /// The author.
    pub sender: SenderWire,
    /// The new text.
    pub text: String,
}

/// `messageDeleted` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeletedParams {
    /// The conversation of the room (top level).
    pub conversation_id: String,
    /// The room (`name` is null when the backend did not say).
    pub room: RoomWire,
    /// Message id.
    pub message_id: String,
}

/// A user a room event names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomEventUserWire {
    /// User id; null when the server named the user only by username.
    pub id: Option<String>,
    /// Username.
    pub username: String,
}

impl From<&channel_api::RoomUser> for RoomEventUserWire {
    fn from(user: &channel_api::RoomUser) -> Self {
        Self {
            id: user.id.as_ref().map(ToString::to_string),
            username: user.username.clone(),
        }
    }
}

/// `roomEvent` params. Which fields are set depends on `kind`:
///
/// | `kind` | fields |
/// |---|---|
/// | `joined`, `left` | `user` |
/// | `added`, `removed` | `user`, `by` |
/// | `renamed` | `name`, `by` |
/// | `topicChanged` | `topic` (empty: cleared), `by` |
/// | `pinned` | `text`, `author` (may be null), `by` |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomEventParams {
    /// `joined`, `left`, `added`, `removed`, `renamed`, `topicChanged` or `pinned`.
    pub kind: String,
    /// The conversation of the room (top level).
    pub conversation_id: String,
    /// The room.
    pub room: RoomWire,
    /// When, epoch milliseconds.
    pub timestamp: i64,
    /// Who joined, left, was added or removed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<RoomEventUserWire>,
    /// Who did it (adds, removes, renames, topic changes, pins).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub by: Option<RoomEventUserWire>,
    /// The room's new name (`renamed`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// The room's new topic (`topicChanged`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub topic: Option<String>,
    /// The pinned message's text (`pinned`; user-written).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    /// The pinned message's author's username (`pinned`), when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<String>,
}

/// `fatal` params: a configuration value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FatalParams {
    /// The (first) config key at fault (dotted for nested keys).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
    /// Every problem found, the first one included.
    pub errors: Vec<ConfigProblemWire>,
}

/// One problem of a rejected configuration line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigProblemWire {
    /// The config key (dotted for nested keys).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

// ----- requests, plugin -> core -----

/// `send` params.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendParams {
    /// A conversation id, a room id, `#room-name` or `@username`.
    pub target: String,
    /// The text, chunked by the core.
    pub text: String,
    /// Where the reply goes, as given in the `message` notification. Wins over the rest.
    #[serde(default)]
    pub reply_thread: Option<ReplyThreadWire>,
    /// Post into this thread.
    #[serde(default)]
    pub thread_id: Option<String>,
    /// Makes a retried send post once.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// A thread reply's first chunk is also shown in the room (Slack's `replyBroadcast`;
    /// Rocket.Chat's `tshow`). Default false; nothing at top level.
    #[serde(default)]
    pub reply_broadcast: bool,
    /// Post under this name and picture (the agent's identity) where the server allows it.
    #[serde(default)]
    pub identity: Option<SenderIdentity>,
}

/// `send` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    /// The posted chunks, in order.
    pub message_ids: Vec<String>,
    /// The thread of the first chunk, if any.
    pub thread_id: Option<String>,
}

/// `sendFile` params.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendFileParams {
    /// As in `send`.
    pub target: String,
    /// The file to upload (read by the core; the plugin keeps it).
    pub path: String,
    /// The name shown; default: the path's file name.
    #[serde(default)]
    pub name: Option<String>,
    /// Default: guessed from the name.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Text posted with the file.
    #[serde(default)]
    pub caption: Option<String>,
    /// As in `send`; wins over the rest.
    #[serde(default)]
    pub reply_thread: Option<ReplyThreadWire>,
    /// As in `send`.
    #[serde(default)]
    pub thread_id: Option<String>,
}

/// `react` / `unreact` params.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactParams {
    /// The room of the message: a room id, or a conversation id / target in the target
    /// grammar (`roomId` or `target`, one of them).
    #[serde(default, alias = "target")]
    pub room_id: String,
    /// The message.
    pub message_id: String,
    /// Emoji name (colons are tolerated and removed).
    pub emoji: String,
}

/// `edit` params.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditParams {
    /// The room of the message: a room id, or a conversation id / target in the target
    /// grammar (`roomId` or `target`, one of them).
    #[serde(default, alias = "target")]
    pub room_id: String,
    /// The message.
    pub message_id: String,
    /// The new text.
    pub text: String,
}

/// `delete` params.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteParams {
    /// The room of the message: a room id, or a conversation id / target in the target
    /// grammar (`roomId` or `target`, one of them).
    #[serde(default, alias = "target")]
    pub room_id: String,
    /// The message.
    pub message_id: String,
}

/// `typing` params.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingParams {
    /// The room: a room id, or a conversation id / target (`roomId` or `target`).
    #[serde(default, alias = "target")]
    pub room_id: String,
    /// The thread, if any.
    #[serde(default)]
    pub thread_id: Option<String>,
    /// Start (`true`) or stop.
    pub on: bool,
}

/// Params of a request that takes none (any object is accepted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NoParams {}

/// `ack` params: messages OpenClaw accepted (or declined); see `docs/bridge-protocol.md`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckParams {
    /// The `messageId`s of `message` notifications.
    pub message_ids: Vec<String>,
}

/// `reconfigure` params.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconfigureParams {
    /// The whole account configuration object, as on the first line.
    pub config: serde_json::Value,
}

/// Every request the plugin may send: its method name and its params, typed. Parsed in
/// one place (`rpc::parse_line`); the handlers match on it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "camelCase")]
pub enum Request {
    /// Post text.
    Send(SendParams),
    /// Upload a file.
    SendFile(SendFileParams),
    /// Add a reaction.
    React(ReactParams),
    /// Remove a reaction.
    Unreact(ReactParams),
    /// Edit one of the bot's messages.
    Edit(EditParams),
    /// Delete one of the bot's messages.
    Delete(DeleteParams),
    /// Show or clear the typing indicator.
    Typing(TypingParams),
    /// Check the server and the token.
    Probe(NoParams),
    /// Replace the approved DM senders.
    SetApprovedSenders(SetApprovedSendersParams),
    /// The counters.
    Stats(NoParams),
    /// Confirm handed-over messages.
    Ack(AckParams),
    /// Apply a changed configuration without a restart.
    Reconfigure(ReconfigureParams),
    /// Stop cleanly.
    Shutdown(NoParams),
}

impl Request {
    /// Every method name, as the plugin spells it.
    pub const METHODS: &'static [&'static str] = &[
        "send",
        "sendFile",
        "react",
        "unreact",
        "edit",
        "delete",
        "typing",
        "probe",
        "setApprovedSenders",
        "stats",
        "ack",
        "reconfigure",
        "shutdown",
    ];

    /// The method name.
    pub fn method(&self) -> &'static str {
        match self {
            Request::Send(_) => "send",
            Request::SendFile(_) => "sendFile",
            Request::React(_) => "react",
            Request::Unreact(_) => "unreact",
            Request::Edit(_) => "edit",
            Request::Delete(_) => "delete",
            Request::Typing(_) => "typing",
            Request::Probe(_) => "probe",
            Request::SetApprovedSenders(_) => "setApprovedSenders",
            Request::Stats(_) => "stats",
            Request::Ack(_) => "ack",
            Request::Reconfigure(_) => "reconfigure",
            Request::Shutdown(_) => "shutdown",
        }
    }
}

/// `setApprovedSenders` params.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetApprovedSendersParams {
    /// The full set of approved DM senders (replaces the previous set).
    pub user_ids: Vec<String>,
}

/// `probe` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    /// The server answered.
    pub reachable: bool,
    /// The token was accepted.
    pub token_valid: bool,
    /// The server's version, when known.
    pub server_version: Option<String>,
    /// The connection state word (`connecting`, `active`, `reconnecting`, `fatal`).
    pub state: String,
    /// `rooms` keys that name no room the bot can see: they are denied.
    #[serde(default)]
    pub unresolved_rooms: Vec<String>,
}

/// `stats` result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsResult {
    /// Messages sent to the plugin.
    pub admitted: u64,
    /// Events not sent, by reason (normal: not addressed to the bot, ...).
    pub skipped: BTreeMap<String, u64>,
    /// Events refused, by reason (policy denial, own echo, after fatal, ...).
    pub dropped: BTreeMap<String, u64>,
    /// Admitted messages the plugin has not acknowledged yet (with `stateFile`; 0
    /// without): the resume point waits for them.
    #[serde(default)]
    pub unacked: usize,
}
