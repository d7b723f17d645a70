//! The data that crosses the `Channel` boundary: rooms, authors, messages, reactions and
//! outbound requests.

use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, RoomId, UserId};

/// What kind of room a message lives in. Decides DM versus group policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    /// A one-to-one direct conversation.
    Direct,
    /// A public channel anyone on the server can read.
    Public,
    /// A private group, readable by members only.
    Private,
}

impl RoomKind {
    /// Direct conversations never need a mention; every other room is a group.
    pub fn is_direct(self) -> bool {
        matches!(self, RoomKind::Direct)
    }

    /// The chat-type word OpenClaw uses in session keys and `replyToModeByChatType`.
    pub fn chat_type(self) -> &'static str {
        match self {
            RoomKind::Direct => "direct",
            RoomKind::Public => "channel",
            RoomKind::Private => "group",
        }
    }
}

/// Milliseconds since the Unix epoch, as the server stamped them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// The backend's file id (Rocket.Chat: `files[]._id`).
    pub id: String,
    /// The file name as uploaded.
    pub name: String,
    /// The MIME type the server recorded, e.g. `image/png`.
    pub mime_type: Option<String>,
    /// Size in bytes, as the payload gives it (a download still enforces its own limit).
    pub size: Option<u64>,
    /// Where the backend fetches it from: opaque to callers (Rocket.Chat: the
    /// server-relative `/file-upload/<id>/<name>` path).
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
    /// Username of the reacting user. Rocket.Chat keys reactions by username.
    pub username: String,
    /// Id of the reacting user, when the backend knows it.
    pub user_id: Option<UserId>,
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
}

impl OutboundMessage {
    /// A top-level message.
    pub fn new(room: impl Into<RoomId>, text: impl Into<String>) -> Self {
        Self {
            room: room.into(),
            text: text.into(),
            thread: None,
            idempotency_key: None,
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
    /// Longest text one message may carry, in UTF-16 code units.
    pub max_text_len: usize,
    /// Files can be downloaded ([`crate::Channel::download`]) and uploaded
    /// ([`crate::Channel::send_file`]).
    pub files: bool,
    /// Past messages can be read ([`crate::Channel::history`]).
    pub history: bool,
}
