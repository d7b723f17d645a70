//! The conformance suite against the in-memory backend.

use std::sync::Arc;

use async_trait::async_trait;
use backend_mock::{MemoryPeer, World};
use channel_api::{AccountId, Message, MessageId, MessageRef, Result, RoomId, UserId};
use conformance::{Harness, Peer, PeerFile, PeerMessage, PeerReaction, TestRooms, Timeouts};

/// [`MemoryPeer`] as the suite's [`Peer`].
#[derive(Debug)]
struct MockPeer(MemoryPeer);

fn peer_message(message: Message) -> PeerMessage {
    PeerMessage {
        id: message.id,
        text: message.text,
        thread: message.thread_root,
        author: message.author.id,
        file_names: message.attachments.into_iter().map(|a| a.name).collect(),
    }
}

#[async_trait]
impl Peer for MockPeer {
    fn user_id(&self) -> UserId {
        self.0.id().clone()
    }

    fn username(&self) -> String {
        self.0.username()
    }

    async fn post(
        &self,
        room: &RoomId,
        text: &str,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef> {
        self.0.post_in(room, text, thread)
    }

    async fn post_file(
        &self,
        room: &RoomId,
        file: PeerFile<'_>,
        thread: Option<&MessageId>,
    ) -> Result<MessageRef> {
        self.0.post_file(
            room,
            file.name,
            file.mime_type,
            file.data,
            file.caption,
            thread,
        )
    }

    async fn react(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.0.react(message, emoji)
    }

    async fn unreact(&self, message: &MessageRef, emoji: &str) -> Result<()> {
        self.0.unreact(message, emoji)
    }

    async fn edit(&self, message: &MessageRef, text: &str) -> Result<()> {
        self.0.edit(message, text)
    }

    async fn delete(&self, message: &MessageRef) -> Result<()> {
        self.0.delete(message)
    }

    async fn messages(&self, room: &RoomId) -> Result<Vec<PeerMessage>> {
        Ok(self
            .0
            .messages(room)?
            .into_iter()
            .map(peer_message)
            .collect())
    }

    async fn thread_messages(&self, room: &RoomId, root: &MessageId) -> Result<Vec<PeerMessage>> {
        Ok(self
            .0
            .thread(room, root)?
            .into_iter()
            .map(peer_message)
            .collect())
    }

    async fn reactions(&self, message: &MessageRef) -> Result<Vec<PeerReaction>> {
        Ok(self
            .0
            .reactions(message)?
            .into_iter()
            .map(|r| PeerReaction {
                emoji: r.emoji,
                usernames: r.usernames,
            })
            .collect())
    }
}

/// A fresh world per case: a bot, a peer, a public room with both, and their DM. A
/// bystander is in the room too, so nothing works only because the room has two members.
async fn mock_harness() -> Option<Harness> {
    let world = World::new();
    let bot = world.add_bot("conformance-bot");
    let alice = world.add_user("alice");
    let bystander = world.add_user("bystander");
    let room = world
        .create_public_room("conformance", &[&bot, &alice, &bystander])
        .expect("create room");
    let dm_room = world.create_dm(&bot, &alice).expect("create DM");
    let channel = world
        .channel_for(&bot, AccountId::new("default"))
        .expect("channel for the bot");
    let peer = MockPeer(world.peer(&alice).expect("peer"));
    let rooms = TestRooms {
        room,
        room_name: "conformance".into(),
        dm_room,
    };
    let harness = Harness::new(
        Arc::new(channel),
        Arc::new(peer),
        rooms,
        Timeouts::from_env(),
    )
    .expect("harness");
    Some(harness)
}

conformance::channel_conformance!(mock_harness);
