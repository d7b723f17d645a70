//! The other user in a conformance run.

use std::fmt::Debug;

use async_trait::async_trait;
use channel_api::{MessageId, MessageRef, Result, RoomId, UserId};

/// Another user on the same server as the channel under test. On simulator and live runs
/// this should be the backend's own client logged in as a second user, so that the only
/// difference between runs is the server.
///
/// Errors use the channel vocabulary ([`channel_api::Error`]); anything without a better
/// variant is `Error::Backend`.
#[async_trait]
pub trait Peer: Send + Sync + Debug {
    /// The peer's user id.
    fn user_id(&self) -> UserId;

    /// The peer's username (what reactions and `@mentions` use).
    fn username(&self) -> String;

    /// How this server spells a mention of `username` inside message text. The server
    /// turns it into a mention in the payload.
    fn mention(&self, username: &str) -> String {
        format!("@{username}")
    }

    /// How this server spells `@all` (everyone in the room) in message text.
    fn mention_all(&self) -> String {
        "@all".to_owned()
    }

    /// How this server spells `@here` (everyone active in the room) in message text.
    fn mention_here(&self) -> String {
        "@here".to_owned()
    }

    /// Posts `text` at the top level of `room` (`thread: None`) or into the thread rooted
    /// at `thread`. Returns the posted message.
    async fn post(
        &self,
        room: &RoomId,
        text: &str,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef>;

    /// Uploads a file and posts it at the top level of `room` (`thread: None`) or into the
    /// thread rooted at `thread`, with `caption` as the message text. Returns the posted
    /// message. A backend without files returns `Error::Unsupported`.
    async fn post_file(
        &self,
        room: &RoomId,
        file: PeerFile<'_>,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef>;

    /// Adds the peer's reaction (`emoji` without colons, e.g. `thumbsup`).
    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()>;

    /// Removes the peer's reaction.
    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()>;

    /// Edits one of the peer's own messages.
    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()>;

    /// Deletes one of the peer's own messages.
    async fn delete(&self, message: &MessageRef) -> Result<()>;

    /// What the server holds in `room`: its recent live messages (at least the last 50),
    /// oldest first, thread replies included with `thread` set. Deleted messages are absent.
    async fn messages(&self, room: &RoomId) -> Result<Vec<PeerMessage>>;

    /// The replies in the thread rooted at `root` (the root itself excluded), oldest first.
    async fn thread_messages(&self, room: &RoomId, root: &MessageId) -> Result<Vec<PeerMessage>>;

    /// The reactions on a message, one entry per emoji that has at least one user.
    async fn reactions(&self, message: &MessageRef) -> Result<Vec<PeerReaction>>;
}

/// A message as the peer reads it from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerMessage {
    /// Message id.
    pub id: MessageId,
    /// Current text.
    pub text: String,
    /// The thread root, for thread replies.
    pub thread: Option<MessageId>,
    /// The author's user id.
    pub author: UserId,
    /// The names of the files the message carries, in payload order (empty for text).
    pub file_names: Vec<String>,
}

/// A file the peer uploads with [`Peer::post_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerFile<'a> {
    /// File name.
    pub name: &'a str,
    /// MIME type, e.g. `text/plain`.
    pub mime_type: &'a str,
    /// The bytes.
    pub data: &'a [u8],
    /// Text posted with the file, if any.
    pub caption: Option<&'a str>,
}

/// One emoji on a message, as the peer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReaction {
    /// Emoji name without colons, e.g. `thumbsup`.
    pub emoji: String,
    /// Usernames of the users who reacted with it.
    pub usernames: Vec<String>,
}
