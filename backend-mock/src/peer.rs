//! [`MemoryPeer`]: another user on the in-memory server, for tests to act as.

use channel_api::{Message, MessageId, MessageRef, Result, RoomId, UserId};

use crate::world::{FileRequest, PostRequest, ReactionSummary, World};

/// Acts as one (non-bot) user of a [`World`]: posts, reacts, edits, deletes and reads.
/// Mentions are written in the text (`@bot`, `@all`, `@here`), as a person would.
#[derive(Debug, Clone)]
pub struct MemoryPeer {
    world: World,
    user: UserId,
}

impl MemoryPeer {
    pub(crate) fn new(world: World, user: UserId) -> Self {
        Self { world, user }
    }

    /// This user's id.
    pub fn id(&self) -> &UserId {
        &self.user
    }

    /// This user's username.
    pub fn username(&self) -> String {
        self.world.lock().username(&self.user).unwrap_or_default()
    }

    /// Posts at the top level of a room (a DM is a room too).
    pub fn post(&self, room: &RoomId, text: &str) -> Result<MessageRef> {
        self.post_in(room, text, None)
    }

    /// Posts in the direct conversation with `other`, opening it if needed.
    pub fn post_dm(&self, other: &UserId, text: &str) -> Result<MessageRef> {
        let dm = self.world.create_dm(&self.user, other)?;
        self.post(&dm, text)
    }

    /// Posts into the thread of `parent` (a reply to a reply lands in the root's thread).
    pub fn reply(&self, room: &RoomId, parent: &MessageId, text: &str) -> Result<MessageRef> {
        self.post_in(room, text, Some(parent))
    }

    /// Posts at the top level (`thread: None`) or into a thread.
    pub fn post_in(
        &self,
        room: &RoomId,
        text: &str,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef> {
        let sent = self.world.lock().post(PostRequest {
            author: &self.user,
            room,
            text,
            thread,
            id: None,
        })?;
        Ok(sent.message)
    }

    /// Uploads a file and posts it at the top level (`thread: None`) or into a thread,
    /// with `caption` as the message text. Over the world's upload limit is
    /// `Error::TooLarge`.
    pub fn post_file(
        &self,
        room: &RoomId,
        name: &str,
        mime_type: &str,
        data: &[u8],
        caption: Option<&str>,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef> {
        let sent = self.world.lock().post_file(FileRequest {
            author: &self.user,
            room,
            name,
            mime_type,
            data,
            caption: caption.unwrap_or(""),
            thread,
        })?;
        Ok(sent.message)
    }

    /// Adds this user's reaction (`emoji` without colons).
    pub fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.world
            .lock()
            .set_reaction(&self.user, message, emoji, true)
    }

    /// Removes this user's reaction.
    pub fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.world
            .lock()
            .set_reaction(&self.user, message, emoji, false)
    }

    /// Edits one of this user's messages.
    pub fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        self.world.lock().edit(&self.user, message, text)
    }

    /// Deletes one of this user's messages.
    pub fn delete(&self, message: &MessageRef) -> Result<()> {
        self.world.lock().delete(&self.user, message)
    }

    /// The room's live messages as this user can read them, oldest first, thread replies
    /// included.
    pub fn messages(&self, room: &RoomId) -> Result<Vec<Message>> {
        self.world.lock().visible_messages(room, None, &self.user)
    }

    /// The replies in the thread rooted at `root` (the root itself excluded), oldest first.
    pub fn thread(&self, room: &RoomId, root: &MessageId) -> Result<Vec<Message>> {
        self.world
            .lock()
            .visible_messages(room, Some(root), &self.user)
    }

    /// The reactions on a message.
    pub fn reactions(&self, message: &MessageRef) -> Result<Vec<ReactionSummary>> {
        self.world.reactions(message)
    }
}
