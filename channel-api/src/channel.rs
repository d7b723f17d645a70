//! The `Channel` trait every backend implements, and conveniences on top of it.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::error::Result;
use crate::event::ConnectionState;
use crate::event::EventStream;
use crate::ids::{MessageId, RoomId};
use crate::model::{
    Attachment, Author, Capabilities, HistoryQuery, Identity, Message, MessageRef, OutboundFile,
    OutboundMessage, ProbeReport, RoomInfo, RoomQuery, SentMessage, UserQuery,
};

/// One logged-in bot account on one chat backend.
///
/// # Contract
/// - Events arrive on the stream from [`Channel::events`] in the order the server produced
///   them per room; each new message id is delivered as `MessageCreated` at most once.
/// - The channel's own messages, edits and reactions never come back as events.
/// - An operation the backend lacks returns [`crate::Error::Unsupported`], never a silent
///   no-op. Check [`Channel::capabilities`] first to avoid the call.
/// - The channel owns its connection: it starts in [`ConnectionState::Connecting`], retries
///   the first connection itself, reconnects, and reports every state change as
///   [`crate::Event::ConnectionStateChanged`]. Calls made while it is not active fail with
///   a retryable [`crate::Error::Disconnected`].
/// - After a fatal error (revoked credentials, from any call or the socket) every call
///   returns [`crate::Error::Unauthorized`] or [`crate::Error::Closed`] and no event is
///   delivered.
///
/// Conveniences live in [`ChannelExt`], implemented for every `Channel`: keep this trait
/// small so every backend implements every method on purpose.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Channel: Send + Sync + Debug {
    /// Who this channel is logged in as.
    fn identity(&self) -> Identity;

    /// What the backend can do.
    fn capabilities(&self) -> Capabilities;

    /// The connection state now (the same machine the events report).
    fn state(&self) -> ConnectionState;

    /// Takes the event stream. There is one stream per channel: a second call returns
    /// `Error::InvalidRequest`.
    fn events(&self) -> Result<EventStream>;

    /// Posts text to a room, or into a thread. Returns what was posted.
    async fn send(&self, message: OutboundMessage) -> Result<SentMessage>;

    /// Adds the bot's reaction (`emoji` without colons, e.g. `thumbsup`). Idempotent.
    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()>;

    /// Removes the bot's reaction. Idempotent.
    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()>;

    /// Replaces the text of one of the bot's messages.
    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()>;

    /// Deletes one of the bot's messages.
    async fn delete(&self, message: &MessageRef) -> Result<()>;

    /// Shows (`on`) or clears the bot's typing indicator in a room, optionally in a thread.
    async fn set_typing(&self, room: &RoomId, thread: Option<MessageId>, on: bool) -> Result<()>;

    /// Finds a room by id or by name. Unknown rooms are `Error::NotFound`.
    async fn resolve_room(&self, query: &RoomQuery) -> Result<RoomInfo>;

    /// The direct conversation with one user, opened (created) if it does not exist yet.
    /// An unknown user is `Error::NotFound`.
    async fn open_direct(&self, user: &UserQuery) -> Result<RoomInfo>;

    /// Finds a user by id or login name, as messages name their authors. Unknown users
    /// are `Error::NotFound`. Nothing is created.
    async fn find_user(&self, user: &UserQuery) -> Result<Author>;

    /// The rooms the bot is a member of (DMs included).
    async fn rooms(&self) -> Result<Vec<RoomInfo>>;

    /// Checks the server and the credentials now, over the backend's request path (so a
    /// refusal trips the channel's stop like any other call).
    async fn probe(&self) -> Result<ProbeReport>;

    /// Fetches an attachment's bytes with the bot's credentials. Anything over `max_bytes`
    /// is `Error::TooLarge`, found without reading past the limit.
    async fn download(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>>;

    /// Uploads a file into a room or a thread, with an optional caption. Returns what was
    /// posted. A file over the server's limit is `Error::TooLarge`.
    async fn send_file(&self, file: OutboundFile) -> Result<SentMessage>;

    /// Past messages of a room or of a thread, oldest first (see [`HistoryQuery`]). The
    /// bot's own messages are included (they are part of the conversation); hidden and
    /// system messages are not.
    async fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>>;
}

/// Conveniences for every [`Channel`]. Do not implement this yourself.
#[async_trait]
pub trait ChannelExt: Channel {
    /// Posts `text` at the top level of `room`.
    async fn send_text(&self, room: &RoomId, text: &str) -> Result<SentMessage> {
        self.send(OutboundMessage::new(room.clone(), text)).await
    }

    /// Posts `text` into the thread rooted at `root`.
    async fn reply_in_thread(
        &self,
        room: &RoomId,
        root: &MessageId,
        text: &str,
    ) -> Result<SentMessage> {
        self.send(OutboundMessage::new(room.clone(), text).in_thread(root.clone()))
            .await
    }

    /// The room a configuration key names: an id first, else a name (`#` optional).
    /// `Ok(None)` when neither names a room the bot can see; other errors (the server is
    /// down) are returned. The one reading of a `rooms` key, for every host.
    async fn resolve_room_key(&self, key: &str) -> Result<Option<RoomInfo>> {
        let bare = key.trim_start_matches('#');
        match self.resolve_room(&RoomQuery::Id(RoomId::new(bare))).await {
            Ok(room) => return Ok(Some(room)),
            Err(crate::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        match self.resolve_room(&RoomQuery::Name(bare.to_owned())).await {
            Ok(room) => Ok(Some(room)),
            Err(crate::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<T: Channel + ?Sized> ChannelExt for T {}

#[async_trait]
impl<T: Channel + ?Sized> Channel for std::sync::Arc<T> {
    fn identity(&self) -> Identity {
        (**self).identity()
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    fn state(&self) -> ConnectionState {
        (**self).state()
    }
    fn events(&self) -> Result<EventStream> {
        (**self).events()
    }
    async fn send(&self, message: OutboundMessage) -> Result<SentMessage> {
        (**self).send(message).await
    }
    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        (**self).react(message, emoji).await
    }
    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        (**self).unreact(message, emoji).await
    }
    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        (**self).edit(message, text).await
    }
    async fn delete(&self, message: &MessageRef) -> Result<()> {
        (**self).delete(message).await
    }
    async fn set_typing(&self, room: &RoomId, thread: Option<MessageId>, on: bool) -> Result<()> {
        (**self).set_typing(room, thread, on).await
    }
    async fn resolve_room(&self, query: &RoomQuery) -> Result<RoomInfo> {
        (**self).resolve_room(query).await
    }
    async fn open_direct(&self, user: &UserQuery) -> Result<RoomInfo> {
        (**self).open_direct(user).await
    }
    async fn find_user(&self, user: &UserQuery) -> Result<Author> {
        (**self).find_user(user).await
    }
    async fn rooms(&self) -> Result<Vec<RoomInfo>> {
        (**self).rooms().await
    }
    async fn probe(&self) -> Result<ProbeReport> {
        (**self).probe().await
    }
    async fn download(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>> {
        (**self).download(attachment, max_bytes).await
    }
    async fn send_file(&self, file: OutboundFile) -> Result<SentMessage> {
        (**self).send_file(file).await
    }
    async fn history(&self, query: &HistoryQuery) -> Result<Vec<Message>> {
        (**self).history(query).await
    }
}
