//! The data that crosses the `Channel` boundary: rooms, authors, messages, reactions and
//! outbound requests.

use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, RoomId, UserId};

/// What kind of room a message lives in. Decides which policy applies: DM, group DM or
/// room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoomKind {
    /// A one-to-one direct conversation.
    Direct,
    /// A direct conversation with more than one other user (Slack's MPIM). It has its own
    /// policy: off unless enabled, mention-gated, its own allowlist.
    GroupDirect,
    /// A public channel anyone on the server can read.
    Public,
    /// A private group, readable by members only.
    Private,
}

impl RoomKind {
    /// Only one-to-one conversations are DMs: they never need a mention and follow
    /// `dmPolicy`. Group DMs are not DMs.
    pub fn is_direct(self) -> bool {
        matches!(self, RoomKind::Direct)
    }

    /// Public channels and private groups: the rooms `groupPolicy` and `rooms` govern.
    pub fn is_room(self) -> bool {
        matches!(self, RoomKind::Public | RoomKind::Private)
    }

    /// The chat type OpenClaw sees.
    pub fn chat_type(self) -> ChatType {
        match self {
            RoomKind::Direct => ChatType::Direct,
            RoomKind::GroupDirect => ChatType::Group,
            RoomKind::Public | RoomKind::Private => ChatType::Channel,
        }
    }
}

/// OpenClaw's chat types, as Slack's channel uses them: `direct` for a 1:1 DM, `group` for
/// a group DM (Slack's MPIM), `channel` for every room, public or private. Session keys
/// and `replyToModeByChatType` use these words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatType {
    /// A one-to-one DM.
    Direct,
    /// A group DM.
    Group,
    /// A room (public or private).
    Channel,
}

impl ChatType {
    /// Every chat type.
    pub const ALL: [ChatType; 3] = [ChatType::Direct, ChatType::Group, ChatType::Channel];

    /// The word in session keys and conversation ids.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatType::Direct => "direct",
            ChatType::Group => "group",
            ChatType::Channel => "channel",
        }
    }
}

impl std::fmt::Display for ChatType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Milliseconds since the Unix epoch, as the server stamped them.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Author {
    /// Stable user id. Policy matches on this.
    pub id: UserId,
    /// Login name (`@username`). Matched by policy only with `dangerouslyAllowNameMatching`.
    pub username: String,
    /// Display name, when the server gives one.
    pub display_name: Option<String>,
    /// Whether the author is a bot account (as far as the backend can tell).
    pub is_bot: bool,
}

/// One mention as the message payload gives it (never found by scanning text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Mention {
    /// A user mention (`@alice`).
    User {
        /// The mentioned user's id.
        id: UserId,
        /// The mentioned user's username.
        username: String,
    },
    /// `@all`: everyone in the room.
    All,
    /// `@here`: everyone active in the room.
    Here,
}

/// The room a message or reaction lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    /// Room id.
    pub id: RoomId,
    /// Direct, public or private.
    pub kind: RoomKind,
    /// The room's name (`general`); `None` for direct conversations.
    pub name: Option<String>,
}

/// An inbound chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Message id.
    pub id: MessageId,
    /// Where it was posted.
    pub room: RoomInfo,
    /// Who posted it.
    pub author: Author,
    /// The text as posted (mentions included).
    pub text: String,
    /// The thread root, when the message is a thread reply.
    pub thread_root: Option<MessageId>,
    /// Mentions as the payload gives them, in payload order.
    pub mentions: Vec<Mention>,
    /// When the server accepted it.
    pub timestamp: Timestamp,
    /// Whether the message has been edited.
    pub edited: bool,
    /// A fact about the receiving bot that the payload alone does not give: the message is
    /// a thread reply whose root the bot wrote. Backends compute it from what they have seen
    /// (or fetched); `false` when unknown. Feeds `implicitMentions.replyToBot`.
    #[serde(default)]
    pub reply_to_bot: bool,
    /// A fact about the receiving bot: the message is a thread reply in a thread where the
    /// bot has posted a reply (the root alone does not count; that is `reply_to_bot`).
    /// `false` when unknown. Feeds `implicitMentions.threadParticipation`.
    #[serde(default)]
    pub bot_in_thread: bool,
    /// A fact about the receiving bot: the message quotes one of the bot's own messages
    /// (a quote the server built from a link to it). `false` when unknown. Feeds
    /// `implicitMentions.quotedBot`.
    #[serde(default)]
    pub quotes_bot: bool,
    /// Files attached to the message (images, documents), in payload order. Fetch their
    /// bytes with [`crate::Channel::download`].
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// A file attached to an inbound message. The bytes are not carried: a consumer that wants
/// them calls [`crate::Channel::download`] with a size limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// The backend's file id.
    pub id: String,
    /// The file name as uploaded.
    pub name: String,
    /// The MIME type the server recorded, e.g. `image/png`.
    pub mime_type: Option<String>,
    /// Size in bytes, as the payload gives it (a download still enforces its own limit).
    pub size: Option<u64>,
    /// Where the backend fetches it from: opaque to callers (e.g. a
    /// server-relative path).
    pub url: String,
}

/// A file to upload into a room or a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundFile {
    /// Target room.
    pub room: RoomId,
    /// Post inside this thread (the root's id).
    pub thread: Option<MessageId>,
    /// File name shown in the room.
    pub name: String,
    /// MIME type, e.g. `image/png`.
    pub mime_type: String,
    /// The bytes.
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Text posted with the file, if any.
    pub caption: Option<String>,
}

/// Which past messages [`crate::Channel::history`] returns. Either way the result is oldest
/// first and never longer than `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "scope")]
pub enum HistoryQuery {
    /// The latest `limit` messages of a room (top level and thread replies, as the server
    /// lists them) posted strictly before `before` when given.
    Room {
        /// The room.
        room: RoomId,
        /// Only messages older than this.
        before: Option<Timestamp>,
        /// At most this many.
        limit: usize,
    },
    /// The start of a thread: its root, then its first replies, `limit` messages in all.
    Thread {
        /// The room the thread is in.
        room: RoomId,
        /// The thread's root message.
        root: MessageId,
        /// At most this many, root included.
        limit: usize,
    },
}

impl Message {
    /// Whether the payload mentions `user` explicitly (`@all` / `@here` do not count).
    pub fn mentions_user(&self, user: &UserId) -> bool {
        self.mentions
            .iter()
            .any(|m| matches!(m, Mention::User { id, .. } if id == user))
    }

    /// Whether the payload carries `@all` or `@here`.
    pub fn mentions_everyone(&self) -> bool {
        self.mentions
            .iter()
            .any(|m| matches!(m, Mention::All | Mention::Here))
    }

    /// A reference to this message, for reacting, editing or deleting it.
    pub fn reference(&self) -> MessageRef {
        MessageRef {
            room: self.room.id.clone(),
            id: self.id.clone(),
        }
    }
}

/// Enough to address an existing message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRef {
    /// The room the message is in.
    pub room: RoomId,
    /// The message.
    pub id: MessageId,
}

/// A reaction added to or removed from a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    /// The message reacted to.
    pub message: MessageRef,
    /// The room the message is in.
    pub room: RoomInfo,
    /// Author of the message reacted to (decides `reactionNotifications: own`).
    pub message_author: Option<UserId>,
    /// Emoji name without colons, e.g. `thumbsup`.
    pub emoji: String,
    /// The reacting user. Policy matches on this, as it does for message authors.
    pub user: UserId,
    /// The reacting user's login name, when the backend has it.
    pub username: Option<String>,
}

/// Text to post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundMessage {
    /// Target room.
    pub room: RoomId,
    /// Text; must fit the backend's `Capabilities::max_text_len` (chunk first).
    pub text: String,
    /// Post inside this thread (the root's id).
    pub thread: Option<MessageId>,
    /// Optional caller-chosen id. Sending twice with the same id posts once.
    /// When absent the backend picks one, and its own retries reuse it.
    pub idempotency_key: Option<MessageId>,
    /// A thread reply that is also shown in the room (Slack's reply broadcast). Means
    /// nothing without `thread`; a backend without it posts the reply in the thread only.
    #[serde(default)]
    pub broadcast: bool,
    /// Post under another name and picture, where the server lets the bot (the agent's
    /// identity, as Slack's channel sets `username` / `icon_url` / `icon_emoji`). A backend
    /// that may not set one posts with the bot's own and says so in its log.
    #[serde(default)]
    pub identity: Option<SenderIdentity>,
}

/// The name and picture a message is posted under instead of the bot account's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderIdentity {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Picture: an absolute `https://` URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Picture as an emoji name without colons (used when there is no `avatar_url`).
    #[serde(default)]
    pub emoji: Option<String>,
}

impl SenderIdentity {
    /// True when nothing is set (posting with it changes nothing).
    pub fn is_empty(&self) -> bool {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        blank(&self.name) && blank(&self.avatar_url) && blank(&self.emoji)
    }
}

impl OutboundMessage {
    /// A top-level message.
    pub fn new(room: impl Into<RoomId>, text: impl Into<String>) -> Self {
        Self {
            room: room.into(),
            text: text.into(),
            thread: None,
            idempotency_key: None,
            broadcast: false,
            identity: None,
        }
    }

    /// The same message, posted into the thread rooted at `root`.
    pub fn in_thread(mut self, root: impl Into<MessageId>) -> Self {
        self.thread = Some(root.into());
        self
    }

    /// The same message with a caller-chosen idempotency key.
    pub fn with_idempotency_key(mut self, key: impl Into<MessageId>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The same message, also shown in the room when it is a thread reply.
    pub fn broadcast(mut self, on: bool) -> Self {
        self.broadcast = on;
        self
    }

    /// The same message, posted under `identity` (an empty one is dropped).
    pub fn with_identity(mut self, identity: Option<SenderIdentity>) -> Self {
        self.identity = identity.filter(|i| !i.is_empty());
        self
    }
}

/// What was posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    /// The posted message.
    pub message: MessageRef,
    /// The thread it was posted in, if any (after the server flattened nested threads).
    pub thread: Option<MessageId>,
}

/// How to find a room.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoomQuery {
    /// By id, exactly.
    Id(RoomId),
    /// By name (without `#`), exactly.
    Name(String),
}

/// How to find a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserQuery {
    /// By id, exactly.
    Id(UserId),
    /// By login name (without `@`), exactly.
    Username(String),
}

/// What [`crate::Channel::probe`] found out about the server and the credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeReport {
    /// The server's version, as far as it tells the bot.
    pub server_version: Option<String>,
    /// The user the credentials belong to.
    pub user_id: UserId,
    /// That user's login name.
    pub username: String,
    /// Whether that user is the one the channel was configured for.
    pub identity_matches: bool,
}

/// The account the channel is logged in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The configured account.
    pub account: crate::ids::AccountId,
    /// The bot's user id.
    pub user_id: UserId,
    /// The bot's username (for mention stripping).
    pub username: String,
}

/// What a backend can do. Operations it lacks return `Error::Unsupported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Messages can be posted into threads.
    pub threads: bool,
    /// Reactions can be added and removed, and are reported as events.
    pub reactions: bool,
    /// Own messages can be edited.
    pub edit: bool,
    /// Own messages can be deleted.
    pub delete: bool,
    /// A typing indicator can be shown.
    pub typing: bool,
    /// Rooms can be resolved by name.
    pub resolve_by_name: bool,
    /// Longest text one message may carry, with the unit the server counts in.
    pub max_text: TextLimit,
    /// Files can be downloaded ([`crate::Channel::download`]) and uploaded
    /// ([`crate::Channel::send_file`]).
    pub files: bool,
    /// Past messages can be read ([`crate::Channel::history`]).
    pub history: bool,
}

/// A text length limit and the unit the server counts it in (servers written in
/// JavaScript count UTF-16 code units, as `String.length` does; others count bytes or
/// characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextLimit {
    /// The most `unit`s one message may carry.
    pub max: usize,
    /// What `max` counts.
    pub unit: TextUnit,
}

/// What a [`TextLimit`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TextUnit {
    /// UTF-16 code units (JavaScript's `String.length`).
    Utf16,
    /// Unicode scalar values.
    Chars,
    /// UTF-8 bytes.
    Bytes,
}

impl TextUnit {
    /// The length of `text` in this unit.
    pub fn len_of(self, text: &str) -> usize {
        match self {
            TextUnit::Utf16 => text.encode_utf16().count(),
            TextUnit::Chars => text.chars().count(),
            TextUnit::Bytes => text.len(),
        }
    }

    /// The length of one character in this unit.
    pub fn len_of_char(self, c: char) -> usize {
        match self {
            TextUnit::Utf16 => c.len_utf16(),
            TextUnit::Chars => 1,
            TextUnit::Bytes => c.len_utf8(),
        }
    }

    /// The unit's name, for messages (`UTF-16 units`).
    pub fn name(self) -> &'static str {
        match self {
            TextUnit::Utf16 => "UTF-16 units",
            TextUnit::Chars => "characters",
            TextUnit::Bytes => "bytes",
        }
    }
}

impl TextLimit {
    /// A limit of `max` UTF-16 code units.
    pub const fn utf16(max: usize) -> Self {
        Self {
            max,
            unit: TextUnit::Utf16,
        }
    }

    /// The length of `text` in this limit's unit.
    pub fn len_of(&self, text: &str) -> usize {
        self.unit.len_of(text)
    }

    /// Whether `text` fits.
    pub fn fits(&self, text: &str) -> bool {
        self.len_of(text) <= self.max
    }

    /// The same unit with another maximum.
    pub fn with_max(self, max: usize) -> Self {
        Self { max, ..self }
    }
}

impl std::fmt::Display for TextLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.max, self.unit.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_count_in_their_unit() {
        let text = "a😀é";
        assert_eq!(TextUnit::Utf16.len_of(text), 4);
        assert_eq!(TextUnit::Chars.len_of(text), 3);
        assert_eq!(TextUnit::Bytes.len_of(text), 7);
        assert!(TextLimit::utf16(4).fits(text));
        assert!(!TextLimit::utf16(3).fits(text));
        assert_eq!(TextLimit::utf16(5000).to_string(), "5000 UTF-16 units");
    }

    #[test]
    fn group_dms_are_not_dms_and_rooms_are_channels() {
        assert!(RoomKind::Direct.is_direct());
        assert!(!RoomKind::GroupDirect.is_direct());
        assert_eq!(RoomKind::GroupDirect.chat_type(), ChatType::Group);
        assert_eq!(RoomKind::Private.chat_type(), ChatType::Channel);
        assert_eq!(RoomKind::Public.chat_type(), ChatType::Channel);
    }
}
