//! The shared in-memory chat server: users, rooms, messages, reactions, and who gets which
//! event. Every [`crate::MemoryChannel`] and [`crate::MemoryPeer`] acts on one [`World`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use channel_api::{
    AccountId, Attachment, Author, Error, Event, HistoryQuery, Message, MessageId, MessageRef,
    OutboundMessage, Reaction, Result, RoomId, RoomInfo, RoomKind, SentMessage, TextLimit,
    TextUnit, Timestamp, UserId, UserQuery,
};
use tokio::sync::mpsc;

use crate::channel::MemoryChannel;
use crate::mentions::parse_mentions;
use crate::peer::MemoryPeer;

/// Longest text one message may carry. The memory world counts characters (Unicode
/// scalar values), not UTF-16 units as Rocket.Chat does: consumers must honour the unit
/// the channel reports, and the conformance cases prove they do.
pub const MAX_TEXT: TextLimit = TextLimit {
    max: 5000,
    unit: TextUnit::Chars,
};

/// Largest file an upload may carry unless [`World::set_upload_limit`] says otherwise, in
/// bytes (Rocket.Chat's default `FileUpload_MaxFileSize`, 100 MiB).
pub const DEFAULT_UPLOAD_LIMIT: u64 = 104_857_600;

/// A handle on one in-memory chat server. Cloning it shares the same world.
#[derive(Debug, Clone, Default)]
pub struct World {
    state: Arc<Mutex<WorldState>>,
}

/// Everything the server holds.
#[derive(Debug, Default)]
pub(crate) struct WorldState {
    users: HashMap<UserId, UserRecord>,
    rooms: HashMap<RoomId, RoomRecord>,
    /// Live messages by id. Deleted messages are removed.
    messages: HashMap<MessageId, StoredMessage>,
    /// Every message id ever used (deleted ones too), so an id is never reused, and what
    /// the post returned, so a repeated idempotency key posts once.
    used_ids: HashMap<MessageId, PostRecord>,
    /// Who is typing where.
    typing: BTreeSet<(RoomId, Option<MessageId>, UserId)>,
    /// Uploaded files by id. A file goes when the message carrying it is deleted.
    files: HashMap<String, StoredFile>,
    /// The upload limit in bytes; `None` is [`DEFAULT_UPLOAD_LIMIT`].
    upload_limit: Option<u64>,
    /// The event feeds of the channels, by channel number.
    subscribers: BTreeMap<u64, Subscriber>,
    /// Every message a channel sent, as it was asked to send it (broadcast and identity
    /// included, which the memory world does not otherwise represent), oldest first.
    outbox: Vec<OutboundMessage>,
    /// Counter behind generated ids, post order and channel numbers.
    next_seq: u64,
    last_timestamp: i64,
}

#[derive(Debug, Clone)]
struct UserRecord {
    username: String,
    display_name: Option<String>,
    is_bot: bool,
}

#[derive(Debug, Clone)]
struct RoomRecord {
    kind: RoomKind,
    name: Option<String>,
    members: BTreeSet<UserId>,
}

#[derive(Debug, Clone)]
struct StoredMessage {
    /// Post order across the world (ids are not ordered).
    seq: u64,
    id: MessageId,
    room: RoomId,
    author: UserId,
    text: String,
    thread_root: Option<MessageId>,
    timestamp: Timestamp,
    edited: bool,
    /// Emoji name -> usernames that reacted, in the order they reacted.
    reactions: BTreeMap<String, Vec<String>>,
    /// The files the message carries, in upload order.
    attachments: Vec<Attachment>,
}

/// One uploaded file: the bytes and the room they were posted in (which decides who may
/// download them).
#[derive(Debug, Clone)]
struct StoredFile {
    room: RoomId,
    data: Vec<u8>,
}

#[derive(Debug, Clone)]
struct PostRecord {
    author: UserId,
    room: RoomId,
    sent: SentMessage,
}

#[derive(Debug)]
struct Subscriber {
    user: UserId,
    tx: mpsc::UnboundedSender<Event>,
}

/// One emoji on a message and who reacted with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionSummary {
    /// Emoji name without colons.
    pub emoji: String,
    /// Usernames that reacted, in the order they reacted.
    pub usernames: Vec<String>,
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, WorldState> {
        // A panic elsewhere while holding the lock leaves consistent data (every update
        // is made under one lock), so keep going rather than poisoning every test.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a human user and returns its id.
    pub fn add_user(&self, username: &str) -> UserId {
        self.lock().add_user(username, false)
    }

    /// Adds a bot account and returns its id.
    pub fn add_bot(&self, username: &str) -> UserId {
        self.lock().add_user(username, true)
    }

    /// Creates a public channel (readable by everyone) with these members.
    pub fn create_public_room(&self, name: &str, members: &[&UserId]) -> Result<RoomId> {
        self.lock()
            .create_room(RoomKind::Public, Some(name.to_owned()), members)
    }

    /// Creates a private group (readable by members only) with these members.
    pub fn create_private_room(&self, name: &str, members: &[&UserId]) -> Result<RoomId> {
        self.lock()
            .create_room(RoomKind::Private, Some(name.to_owned()), members)
    }

    /// Creates (or finds) the direct conversation between two users.
    pub fn create_dm(&self, a: &UserId, b: &UserId) -> Result<RoomId> {
        let mut state = self.lock();
        let existing = state.rooms.iter().find(|(_, room)| {
            room.kind == RoomKind::Direct && room.members.contains(a) && room.members.contains(b)
        });
        if let Some((id, _)) = existing {
            return Ok(id.clone());
        }
        state.create_room(RoomKind::Direct, None, &[a, b])
    }

    /// Creates (or finds) the group DM between exactly these users (more than two).
    pub fn create_group_dm(&self, members: &[&UserId]) -> Result<RoomId> {
        let mut state = self.lock();
        let wanted: std::collections::BTreeSet<&UserId> = members.iter().copied().collect();
        if wanted.len() < 3 {
            return Err(Error::InvalidRequest {
                reason: "a group DM has at least three members".into(),
            });
        }
        let existing = state.rooms.iter().find(|(_, room)| {
            room.kind == RoomKind::GroupDirect
                && room.members.len() == wanted.len()
                && wanted.iter().all(|m| room.members.contains(*m))
        });
        if let Some((id, _)) = existing {
            return Ok(id.clone());
        }
        state.create_room(RoomKind::GroupDirect, None, members)
    }

    /// Adds a user to a room.
    pub fn add_member(&self, room: &RoomId, user: &UserId) -> Result<()> {
        let mut state = self.lock();
        state.require_user(user)?;
        state.room_mut(room)?.members.insert(user.clone());
        Ok(())
    }

    /// `user` joins a room by themselves: a member, and a [`Event::RoomEvent`] (`Joined`)
    /// for everyone else who can see the room, as a chat server's join system message.
    pub fn join(&self, room: &RoomId, user: &UserId) -> Result<()> {
        let mut state = self.lock();
        let username = state.username(user)?;
        state.room_mut(room)?.members.insert(user.clone());
        let info = state.room_info(room)?;
        let at = state.now();
        let event = Event::RoomEvent {
            room: info,
            kind: channel_api::RoomEventKind::Joined {
                user: channel_api::RoomUser {
                    id: Some(user.clone()),
                    username,
                },
            },
            at,
        };
        state.fan_out(user, room, &event);
        Ok(())
    }

    /// The bot's side: a [`channel_api::Channel`] logged in as `user`. Events start queueing
    /// from this moment, so nothing posted after this call is missed.
    pub fn channel_for(&self, user: &UserId, account: AccountId) -> Result<MemoryChannel> {
        let (number, rx) = {
            let mut state = self.lock();
            state.require_user(user)?;
            state.subscribe(user)
        };
        Ok(MemoryChannel::new(
            self.clone(),
            user.clone(),
            account,
            number,
            rx,
        ))
    }

    /// A handle that acts as `user` (another person on the server).
    pub fn peer(&self, user: &UserId) -> Result<MemoryPeer> {
        self.lock().require_user(user)?;
        Ok(MemoryPeer::new(self.clone(), user.clone()))
    }

    /// What the server holds in a room: every live message, oldest first, thread
    /// replies included (with `thread_root` set). Ignores visibility.
    pub fn messages(&self, room: &RoomId) -> Result<Vec<Message>> {
        let state = self.lock();
        state.room(room)?;
        Ok(state.room_messages(room, None))
    }

    /// Every message a channel of this world was asked to send, oldest first (the
    /// outbound request as given: `broadcast` and `identity` are only visible here).
    pub fn sent(&self) -> Vec<OutboundMessage> {
        self.lock().outbox.clone()
    }

    /// One live message, if it exists.
    pub fn message(&self, message: &MessageId) -> Option<Message> {
        let state = self.lock();
        state
            .messages
            .get(message)
            .and_then(|stored| state.to_message(stored).ok())
    }

    /// The reactions on a message, by emoji name.
    pub fn reactions(&self, message: &MessageRef) -> Result<Vec<ReactionSummary>> {
        let state = self.lock();
        let stored = state.message_in(message)?;
        Ok(stored
            .reactions
            .iter()
            .map(|(emoji, usernames)| ReactionSummary {
                emoji: emoji.clone(),
                usernames: usernames.clone(),
            })
            .collect())
    }

    /// Sets the largest file an upload may carry, in bytes. Larger uploads are
    /// `Error::TooLarge` and post nothing.
    pub fn set_upload_limit(&self, bytes: u64) {
        self.lock().upload_limit = Some(bytes);
    }

    /// The bytes of an uploaded file, if it still exists. Ignores visibility.
    pub fn file(&self, id: &str) -> Option<Vec<u8>> {
        self.lock().files.get(id).map(|file| file.data.clone())
    }

    /// Whether `user` currently shows a typing indicator in `room` (any thread).
    pub fn is_typing(&self, room: &RoomId, user: &UserId) -> bool {
        self.lock()
            .typing
            .iter()
            .any(|(r, _, u)| r == room && u == user)
    }
}

/// What a post asks for, from a channel or a peer.
#[derive(Debug)]
pub(crate) struct PostRequest<'a> {
    pub(crate) author: &'a UserId,
    pub(crate) room: &'a RoomId,
    pub(crate) text: &'a str,
    pub(crate) thread: Option<&'a MessageId>,
    pub(crate) id: Option<&'a MessageId>,
}

/// A file to upload and post, from a channel or a peer.
#[derive(Debug)]
pub(crate) struct FileRequest<'a> {
    pub(crate) author: &'a UserId,
    pub(crate) room: &'a RoomId,
    pub(crate) name: &'a str,
    pub(crate) mime_type: &'a str,
    pub(crate) data: &'a [u8],
    /// Text posted with the file; empty is fine.
    pub(crate) caption: &'a str,
    pub(crate) thread: Option<&'a MessageId>,
}

impl WorldState {
    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Server time in milliseconds, strictly increasing so order is never ambiguous.
    fn now(&mut self) -> Timestamp {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        self.last_timestamp = wall.max(self.last_timestamp + 1);
        Timestamp(self.last_timestamp)
    }

    fn add_user(&mut self, username: &str, is_bot: bool) -> UserId {
        // Mixed-case ids, so code that lowercases ids fails against the mock too.
        let id = UserId::new(format!("uSr{}Xy", self.next_seq()));
        self.users.insert(
            id.clone(),
            UserRecord {
                username: username.to_owned(),
                display_name: Some(format!("{username} (display)")),
                is_bot,
            },
        );
        id
    }

    fn create_room(
        &mut self,
        kind: RoomKind,
        name: Option<String>,
        members: &[&UserId],
    ) -> Result<RoomId> {
        for member in members {
            self.require_user(member)?;
        }
        if let Some(name) = &name {
            if self.rooms.values().any(|r| r.name.as_ref() == Some(name)) {
                return Err(Error::InvalidRequest {
                    reason: format!("a room named {name:?} already exists"),
                });
            }
        }
        let id = RoomId::new(format!("RoOm{}Zq", self.next_seq()));
        self.rooms.insert(
            id.clone(),
            RoomRecord {
                kind,
                name,
                members: members.iter().map(|m| (*m).clone()).collect(),
            },
        );
        Ok(id)
    }

    fn subscribe(&mut self, user: &UserId) -> (u64, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let number = self.next_seq();
        self.subscribers.insert(
            number,
            Subscriber {
                user: user.clone(),
                tx,
            },
        );
        (number, rx)
    }

    /// Sends one last event to a channel and drops its feed, which ends its stream.
    pub(crate) fn close_subscriber(&mut self, number: u64, last: Event) {
        if let Some(sub) = self.subscribers.remove(&number) {
            // A dropped stream is fine: nobody is listening any more.
            let _ = sub.tx.send(last);
        }
    }

    /// Delivers a connection-level event to one channel only.
    pub(crate) fn send_to_subscriber(&mut self, number: u64, event: Event) {
        if let Some(sub) = self.subscribers.get(&number) {
            let _ = sub.tx.send(event);
        }
    }

    /// The user a query names.
    pub(crate) fn find_user(&self, query: &UserQuery) -> Result<UserId> {
        let found = match query {
            UserQuery::Id(id) => self.users.contains_key(id).then(|| id.clone()),
            UserQuery::Username(name) => self
                .users
                .iter()
                .find(|(_, user)| user.username == *name)
                .map(|(id, _)| id.clone()),
        };
        found.ok_or_else(|| Error::NotFound {
            what: match query {
                UserQuery::Id(id) => format!("user {id}"),
                UserQuery::Username(name) => format!("user @{name}"),
            },
        })
    }

    /// A user as messages name their authors.
    pub(crate) fn author_of(&self, id: &UserId) -> Result<Author> {
        self.author(id)
    }

    /// The rooms `user` is a member of.
    pub(crate) fn rooms_of(&self, user: &UserId) -> Vec<RoomInfo> {
        let mut ids: Vec<&RoomId> = self
            .rooms
            .iter()
            .filter(|(_, room)| room.members.contains(user))
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| self.room_info(id).ok())
            .collect()
    }

    pub(crate) fn require_user(&self, id: &UserId) -> Result<()> {
        if self.users.contains_key(id) {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: format!("user {id}"),
            })
        }
    }

    fn author(&self, id: &UserId) -> Result<Author> {
        let record = self.users.get(id).ok_or_else(|| Error::NotFound {
            what: format!("user {id}"),
        })?;
        Ok(Author {
            id: id.clone(),
            username: record.username.clone(),
            display_name: record.display_name.clone(),
            is_bot: record.is_bot,
        })
    }

    pub(crate) fn username(&self, id: &UserId) -> Result<String> {
        Ok(self.author(id)?.username)
    }

    fn room(&self, id: &RoomId) -> Result<&RoomRecord> {
        self.rooms.get(id).ok_or_else(|| Error::NotFound {
            what: format!("room {id}"),
        })
    }

    fn room_mut(&mut self, id: &RoomId) -> Result<&mut RoomRecord> {
        self.rooms.get_mut(id).ok_or_else(|| Error::NotFound {
            what: format!("room {id}"),
        })
    }

    fn room_info(&self, id: &RoomId) -> Result<RoomInfo> {
        let room = self.room(id)?;
        Ok(RoomInfo {
            id: id.clone(),
            kind: room.kind,
            name: room.name.clone(),
        })
    }

    /// Public rooms are readable by everyone; private groups and DMs by members only.
    fn can_see(&self, room: &RoomId, user: &UserId) -> bool {
        self.rooms.get(room).is_some_and(|r| match r.kind {
            RoomKind::Public => true,
            RoomKind::Private | RoomKind::Direct | RoomKind::GroupDirect => {
                r.members.contains(user)
            }
        })
    }

    /// A room `user` can see; an invisible room does not exist for them.
    pub(crate) fn visible_room(&self, room: &RoomId, user: &UserId) -> Result<RoomInfo> {
        if self.can_see(room, user) {
            self.room_info(room)
        } else {
            Err(Error::NotFound {
                what: format!("room {room}"),
            })
        }
    }

    /// A room `user` can post in: they must see it and be a member.
    fn postable_room(&self, room: &RoomId, user: &UserId) -> Result<RoomInfo> {
        let info = self.visible_room(room, user)?;
        if self.room(room)?.members.contains(user) {
            Ok(info)
        } else {
            Err(Error::PermissionDenied {
                what: format!("posting in room {room} (not a member)"),
            })
        }
    }

    /// Finds a room by name among those `user` can see.
    pub(crate) fn visible_room_by_name(&self, name: &str, user: &UserId) -> Result<RoomInfo> {
        let found = self
            .rooms
            .iter()
            .find(|(id, r)| r.name.as_deref() == Some(name) && self.can_see(id, user));
        match found {
            Some((id, _)) => self.room_info(id),
            None => Err(Error::NotFound {
                what: format!("room {name:?}"),
            }),
        }
    }

    fn message_in(&self, message: &MessageRef) -> Result<&StoredMessage> {
        self.messages
            .get(&message.id)
            .filter(|m| m.room == message.room)
            .ok_or_else(|| Error::NotFound {
                what: format!("message {} in room {}", message.id, message.room),
            })
    }

    /// A message `user` can see.
    fn visible_message(&self, message: &MessageRef, user: &UserId) -> Result<&StoredMessage> {
        self.visible_room(&message.room, user)?;
        self.message_in(message)
    }

    fn to_message(&self, stored: &StoredMessage) -> Result<Message> {
        Ok(Message {
            id: stored.id.clone(),
            room: self.room_info(&stored.room)?,
            author: self.author(&stored.author)?,
            text: stored.text.clone(),
            thread_root: stored.thread_root.clone(),
            mentions: parse_mentions(&stored.text, |name| {
                self.users
                    .iter()
                    .find(|(_, u)| u.username == name)
                    .map(|(id, _)| id.clone())
            }),
            timestamp: stored.timestamp,
            edited: stored.edited,
            // Facts about a receiving bot: set per receiver in `fan_out`.
            reply_to_bot: false,
            bot_in_thread: false,
            quotes_bot: false,
            attachments: stored.attachments.clone(),
        })
    }

    /// Messages of a room (optionally one thread's replies), oldest first.
    pub(crate) fn room_messages(&self, room: &RoomId, thread: Option<&MessageId>) -> Vec<Message> {
        let mut stored: Vec<&StoredMessage> = self
            .messages
            .values()
            .filter(|m| &m.room == room)
            .filter(|m| thread.is_none() || m.thread_root.as_ref() == thread)
            .collect();
        stored.sort_by_key(|m| m.seq);
        stored
            .into_iter()
            .filter_map(|m| self.to_message(m).ok())
            .collect()
    }

    /// Messages of a room as `user` may read them.
    pub(crate) fn visible_messages(
        &self,
        room: &RoomId,
        thread: Option<&MessageId>,
        user: &UserId,
    ) -> Result<Vec<Message>> {
        self.visible_room(room, user)?;
        if let Some(root) = thread {
            self.message_in(&MessageRef {
                room: room.clone(),
                id: root.clone(),
            })?;
        }
        Ok(self.room_messages(room, thread))
    }

    /// Past messages as `user` may read them (see [`HistoryQuery`]): live messages only
    /// (a deleted one is gone, an edited one has its current text), oldest first, at most
    /// `limit`. An invisible or unknown room, or a root not in the room, is `NotFound`.
    pub(crate) fn history(&self, user: &UserId, query: &HistoryQuery) -> Result<Vec<Message>> {
        let picked: Vec<&StoredMessage> = match query {
            HistoryQuery::Room {
                room,
                before,
                limit,
            } => {
                self.visible_room(room, user)?;
                let mut stored: Vec<&StoredMessage> = self
                    .messages
                    .values()
                    .filter(|m| &m.room == room)
                    .filter(|m| before.is_none_or(|before| m.timestamp < before))
                    .collect();
                // The latest `limit`: sort newest first, cut, then turn back to oldest first.
                stored.sort_by_key(|m| std::cmp::Reverse(m.seq));
                stored.truncate(*limit);
                stored.reverse();
                stored
            }
            HistoryQuery::Thread { room, root, limit } => {
                let root_ref = MessageRef {
                    room: room.clone(),
                    id: root.clone(),
                };
                let root_message = self.visible_message(&root_ref, user)?;
                let mut replies: Vec<&StoredMessage> = self
                    .messages
                    .values()
                    .filter(|m| m.thread_root.as_ref() == Some(root))
                    .collect();
                replies.sort_by_key(|m| m.seq);
                let mut stored = vec![root_message];
                stored.extend(replies);
                stored.truncate(*limit);
                stored
            }
        };
        picked
            .into_iter()
            .map(|stored| {
                let mut message = self.to_message(stored)?;
                self.set_thread_facts(&mut message, user);
                Ok(message)
            })
            .collect()
    }

    /// Delivers an event to every channel that can see the room, except the actor's own,
    /// with the receiver's thread facts set on messages.
    fn fan_out(&mut self, actor: &UserId, room: &RoomId, event: &Event) {
        let listeners: Vec<(u64, Event)> = self
            .subscribers
            .iter()
            .filter(|(_, sub)| &sub.user != actor && self.can_see(room, &sub.user))
            .map(|(number, sub)| (*number, self.for_receiver(event, &sub.user)))
            .collect();
        for (number, event) in listeners {
            if let Some(sub) = self.subscribers.get(&number) {
                if sub.tx.send(event).is_err() {
                    // The channel was dropped; stop feeding it.
                    self.subscribers.remove(&number);
                }
            }
        }
    }

    /// The event as `receiver` sees it: a thread message carries whether `receiver` wrote
    /// the root (`reply_to_bot`) and whether `receiver` has replied in the thread
    /// (`bot_in_thread`).
    fn for_receiver(&self, event: &Event, receiver: &UserId) -> Event {
        let mut event = event.clone();
        if let Event::MessageCreated { message } | Event::MessageEdited { message } = &mut event {
            self.set_thread_facts(message, receiver);
        }
        event
    }

    /// Sets `reply_to_bot` and `bot_in_thread` on a thread message as `receiver` sees it
    /// (the message itself does not count as the receiver's participation).
    fn set_thread_facts(&self, message: &mut Message, receiver: &UserId) {
        if let Some(root) = &message.thread_root {
            message.reply_to_bot = self
                .messages
                .get(root)
                .is_some_and(|stored| &stored.author == receiver);
            message.bot_in_thread = self.messages.values().any(|stored| {
                stored.thread_root.as_ref() == Some(root)
                    && &stored.author == receiver
                    && stored.id != message.id
            });
        }
    }

    pub(crate) fn record_sent(&mut self, message: &OutboundMessage) {
        self.outbox.push(message.clone());
    }

    pub(crate) fn post(&mut self, request: PostRequest<'_>) -> Result<SentMessage> {
        check_text(request.text)?;
        self.post_with(request, Vec::new())
    }

    /// Stores a file and posts a message carrying it, with the caption as its text. Over
    /// the upload limit is `TooLarge`, and nothing is stored or posted.
    pub(crate) fn post_file(&mut self, request: FileRequest<'_>) -> Result<SentMessage> {
        let FileRequest {
            author,
            room,
            name,
            mime_type,
            data,
            caption,
            thread,
        } = request;
        if name.trim().is_empty() || name.contains('/') {
            return Err(Error::InvalidRequest {
                reason: format!("bad file name {name:?}"),
            });
        }
        if !caption.is_empty() {
            check_text(caption)?;
        }
        let limit = self.upload_limit.unwrap_or(DEFAULT_UPLOAD_LIMIT);
        let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if size > limit {
            return Err(Error::TooLarge {
                what: format!("file {name:?}"),
                size,
                limit,
            });
        }
        let id = format!("FiLe{}Qw", self.next_seq());
        let attachment = Attachment {
            id: id.clone(),
            name: name.to_owned(),
            mime_type: Some(mime_type.to_owned()).filter(|m| !m.is_empty()),
            size: Some(size),
            // Shaped like Rocket.Chat's file URL; opaque to callers either way.
            url: format!("/file-upload/{id}/{name}"),
        };
        // Posting checks the room and thread; store the bytes only once it succeeded, so
        // a refused post leaves no orphan file.
        let sent = self.post_with(
            PostRequest {
                author,
                room,
                text: caption,
                thread,
                id: None,
            },
            vec![attachment],
        )?;
        self.files.insert(
            id,
            StoredFile {
                room: room.clone(),
                data: data.to_vec(),
            },
        );
        Ok(sent)
    }

    /// The bytes of an attachment `user` can see (the file's room must be visible to
    /// them). More than `max_bytes` is `TooLarge`.
    pub(crate) fn download(
        &self,
        user: &UserId,
        attachment: &Attachment,
        max_bytes: u64,
    ) -> Result<Vec<u8>> {
        let not_found = || Error::NotFound {
            what: format!("file {:?}", attachment.id),
        };
        let file = self.files.get(&attachment.id).ok_or_else(not_found)?;
        if !self.can_see(&file.room, user) {
            return Err(not_found());
        }
        let size = u64::try_from(file.data.len()).unwrap_or(u64::MAX);
        if size > max_bytes {
            return Err(Error::TooLarge {
                what: format!("file {:?}", attachment.name),
                size,
                limit: max_bytes,
            });
        }
        Ok(file.data.clone())
    }

    /// Posts a message (its text already checked) carrying `attachments`.
    fn post_with(
        &mut self,
        request: PostRequest<'_>,
        attachments: Vec<Attachment>,
    ) -> Result<SentMessage> {
        let PostRequest {
            author,
            room,
            text,
            thread,
            id,
        } = request;
        self.postable_room(room, author)?;
        if let Some(id) = id {
            if id.as_str().is_empty() {
                return Err(Error::InvalidRequest {
                    reason: "empty message id".into(),
                });
            }
            if let Some(record) = self.used_ids.get(id) {
                // The same author retrying the same post: it already happened once.
                if &record.author == author && &record.room == room {
                    return Ok(record.sent.clone());
                }
                return Err(Error::InvalidRequest {
                    reason: format!("message id {id} is already taken"),
                });
            }
        }
        // A reply to a reply goes to the root, as on Rocket.Chat.
        let thread_root = match thread {
            None => None,
            Some(parent) => {
                let parent = self.message_in(&MessageRef {
                    room: room.clone(),
                    id: parent.clone(),
                })?;
                Some(
                    parent
                        .thread_root
                        .clone()
                        .unwrap_or_else(|| parent.id.clone()),
                )
            }
        };
        let seq = self.next_seq();
        let id = id
            .cloned()
            .unwrap_or_else(|| MessageId::new(format!("MsG{seq}aB")));
        let stored = StoredMessage {
            seq,
            id: id.clone(),
            room: room.clone(),
            author: author.clone(),
            text: text.to_owned(),
            thread_root: thread_root.clone(),
            timestamp: self.now(),
            edited: false,
            reactions: BTreeMap::new(),
            attachments,
        };
        let message = self.to_message(&stored)?;
        self.messages.insert(id.clone(), stored);
        let sent = SentMessage {
            message: MessageRef {
                room: room.clone(),
                id: id.clone(),
            },
            thread: thread_root,
        };
        self.used_ids.insert(
            id,
            PostRecord {
                author: author.clone(),
                room: room.clone(),
                sent: sent.clone(),
            },
        );
        self.fan_out(author, room, &Event::MessageCreated { message });
        Ok(sent)
    }

    /// A message `user` wrote; someone else's is `PermissionDenied`.
    fn own_message(&self, message: &MessageRef, user: &UserId) -> Result<&StoredMessage> {
        let stored = self.visible_message(message, user)?;
        if &stored.author != user {
            return Err(Error::PermissionDenied {
                what: format!("changing message {} (written by someone else)", message.id),
            });
        }
        Ok(stored)
    }

    pub(crate) fn edit(&mut self, user: &UserId, message: &MessageRef, text: &str) -> Result<()> {
        check_text(text)?;
        self.own_message(message, user)?;
        let edited = {
            let Some(stored) = self.messages.get_mut(&message.id) else {
                return Err(Error::NotFound {
                    what: format!("message {}", message.id),
                });
            };
            stored.text = text.to_owned();
            stored.edited = true;
            stored.clone()
        };
        let message_now = self.to_message(&edited)?;
        self.fan_out(
            user,
            &message.room,
            &Event::MessageEdited {
                message: message_now,
            },
        );
        Ok(())
    }

    pub(crate) fn delete(&mut self, user: &UserId, message: &MessageRef) -> Result<()> {
        self.own_message(message, user)?;
        if let Some(stored) = self.messages.remove(&message.id) {
            // Rocket.Chat deletes a message's upload with the message.
            for attachment in &stored.attachments {
                self.files.remove(&attachment.id);
            }
        }
        let room_kind = self.room(&message.room)?.kind;
        self.fan_out(
            user,
            &message.room,
            &Event::MessageDeleted {
                room: message.room.clone(),
                room_kind: Some(room_kind),
                message: message.id.clone(),
            },
        );
        Ok(())
    }

    /// Adds (`on`) or removes a reaction. Repeating either is a no-op without an event.
    pub(crate) fn set_reaction(
        &mut self,
        user: &UserId,
        message: &MessageRef,
        emoji: &str,
        on: bool,
    ) -> Result<()> {
        check_emoji(emoji)?;
        let username = self.username(user)?;
        self.visible_message(message, user)?;
        let changed = {
            let Some(stored) = self.messages.get_mut(&message.id) else {
                return Err(Error::NotFound {
                    what: format!("message {}", message.id),
                });
            };
            let users = stored.reactions.entry(emoji.to_owned()).or_default();
            let had = users.contains(&username);
            if on && !had {
                users.push(username.clone());
            } else if !on && had {
                users.retain(|u| u != &username);
            }
            if users.is_empty() {
                stored.reactions.remove(emoji);
            }
            (on != had).then(|| stored.author.clone())
        };
        let Some(message_author) = changed else {
            return Ok(());
        };
        let reaction = Reaction {
            message: message.clone(),
            room: self.room_info(&message.room)?,
            message_author: Some(message_author),
            emoji: emoji.to_owned(),
            user: user.clone(),
            username: Some(username),
        };
        let event = if on {
            Event::ReactionAdded { reaction }
        } else {
            Event::ReactionRemoved { reaction }
        };
        self.fan_out(user, &message.room, &event);
        Ok(())
    }

    pub(crate) fn set_typing(
        &mut self,
        user: &UserId,
        room: &RoomId,
        thread: Option<MessageId>,
        on: bool,
    ) -> Result<()> {
        self.postable_room(room, user)?;
        let key = (room.clone(), thread, user.clone());
        if on {
            self.typing.insert(key);
        } else {
            self.typing.remove(&key);
        }
        Ok(())
    }
}

/// Text must be non-empty and fit [`MAX_TEXT`].
fn check_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::InvalidRequest {
            reason: "empty text".into(),
        });
    }
    let len = MAX_TEXT.len_of(text);
    if len > MAX_TEXT.max {
        return Err(Error::InvalidRequest {
            reason: format!(
                "text is {len} {}, the limit is {MAX_TEXT}",
                MAX_TEXT.unit.name()
            ),
        });
    }
    Ok(())
}

/// Emoji names come without colons, e.g. `thumbsup`.
fn check_emoji(emoji: &str) -> Result<()> {
    if emoji.is_empty() || emoji.contains(':') || emoji.contains(char::is_whitespace) {
        return Err(Error::InvalidRequest {
            reason: format!("bad emoji name {emoji:?} (expected a name without colons)"),
        });
    }
    Ok(())
}
