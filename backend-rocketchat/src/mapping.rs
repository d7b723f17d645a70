//! Wire message documents → [`Event`]s. Pure: no IO, so every rule is unit-tested here.
//!
//! Rocket.Chat re-broadcasts the full document on every mutation (edit, reaction, thread
//! counter, URL preview), so the mapper keeps a bounded cache of what it has seen and
//! decides per frame whether it is new, an edit, a delete, a reaction change or nothing.
//!
//! # Thread facts (implicit mentions)
//! A thread message says whether the bot wrote its root (`reply_to_bot`) and whether the
//! bot has replied in its thread (`bot_in_thread`). The mapper learns both from documents
//! it sees, in two bounded sets: the ids of the bot's own messages (its echoes on the
//! stream and in catch-ups) and the roots of threads the bot replied in (its own replies'
//! `tmid`, and a root update whose `replies` lists the bot while someone else wrote the
//! root). A thread whose root this process has never seen (one from before a restart) is
//! looked up once: the session fetches the root (`chat.getMessage`, which carries `u` and
//! `replies`) before mapping the reply ([`Mapper::unknown_thread_root`],
//! [`Mapper::learn_root`]), and the answer, or its absence, is remembered in a bounded
//! set, so a thread costs at most one REST call per process. If that lookup fails, the
//! facts stay `false` (the safe side) until the root's next update arrives.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use channel_api::{
    Author, Event, Mention, Message, MessageId, MessageRef, Reaction, RoomEventKind, RoomId,
    RoomInfo, RoomKind, RoomUser, Timestamp, UserId,
};

use channel_api::resume::{ResumePoint, RESUME_WINDOW_MS};

use crate::bounded::BoundedMap;
use crate::marks::ReadMarks;
use crate::wire::{WireMessage, WireRoomMeta};

/// Cache sizes: enough for a busy day, small enough to stay flat.
const MESSAGE_CACHE: usize = 10_000;
const SEEN_CACHE: usize = 20_000;
const ROOM_CACHE: usize = 10_000;
/// The bot's own message ids (possible thread roots) and the threads it replied in.
const OWN_MESSAGE_CACHE: usize = 10_000;
const BOT_THREAD_CACHE: usize = 10_000;
/// Thread roots already fetched (or given up on): each is looked up once.
const LOOKED_UP_CACHE: usize = 10_000;
/// Usernames whose user id is known (authors and mentions seen, reactors looked up).
const USER_CACHE: usize = 10_000;
/// Authors whose account kind (bot or human) was looked up, and for how long an answer
/// holds before the next message of that author looks it up again (a role can change).
const AUTHOR_CACHE: usize = 10_000;
pub(crate) const AUTHOR_TTL: Duration = Duration::from_secs(600);
/// After a lookup that failed or found nobody: when to try again.
pub(crate) const AUTHOR_RETRY: Duration = Duration::from_secs(60);

/// What a `users.info` lookup said about an author.
#[derive(Debug, Clone, Copy)]
struct AuthorKind {
    is_bot: bool,
    fresh_until: Instant,
}

/// What the mapper remembers about one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoomMeta {
    pub(crate) kind: RoomKind,
    pub(crate) name: Option<String>,
}

/// A fingerprint of what the mapper reads from a version of a message (text, edit marker,
/// reactions, type), so that two versions stamped in the same millisecond differ.
fn fingerprint(doc: &WireMessage) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.msg.hash(&mut h);
    doc.edited_at.as_ref().and_then(|d| d.millis()).hash(&mut h);
    reactions_of(doc).hash(&mut h);
    doc.t.hash(&mut h);
    h.finish()
}

/// The one place a room's kind is decided, from its type (`c`, `p`, `d`) and, for a
/// direct room, how many members it has (`uids`, else `usernames`): more than two is a
/// group DM (core-typings `isMultipleDirectMessageRoom`: `t === 'd' && uids.length > 2`).
/// A direct room whose members are not known is 1:1 here; the mapper, which knows more,
/// decides those itself ([`Mapper::room_kind_of`]). Livechat (`l`) and unknown types are
/// not rooms the bot serves.
pub(crate) fn room_kind(t: &str, members: Option<usize>) -> Option<RoomKind> {
    match t {
        "c" => Some(RoomKind::Public),
        "p" => Some(RoomKind::Private),
        "d" if members.is_some_and(|n| n > 2) => Some(RoomKind::GroupDirect),
        "d" => Some(RoomKind::Direct),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct CachedMessage {
    author_id: String,
    text: String,
    edited_at: Option<i64>,
    deleted: bool,
    /// emoji name (without colons) → usernames.
    reactions: BTreeMap<String, BTreeSet<String>>,
    /// `_updatedAt` of the version cached (epoch ms; 0 for a delete we only heard of).
    updated_at: i64,
}

/// Turns message frames into events, dropping echoes, duplicates and noise.
#[derive(Debug)]
pub(crate) struct Mapper {
    self_id: String,
    self_username: String,
    /// Messages stamped before this (epoch ms) that we never saw are old: an update of one
    /// is not a new message.
    new_after: i64,
    /// Rooms outside this set are ignored (direct rooms always pass). `None`: all rooms.
    allowed_rooms: Option<HashSet<String>>,
    messages: BoundedMap<String, CachedMessage>,
    /// (id, `_updatedAt`, content fingerprint) of every version mapped: two changes in the
    /// same millisecond (two reactions, a post and its edit) are two versions.
    seen: BoundedMap<(String, i64, u64), ()>,
    rooms: BoundedMap<String, RoomMeta>,
    /// Ids of messages the bot wrote: a reply under one is `reply_to_bot`.
    own_messages: BoundedMap<String, ()>,
    /// Roots of threads the bot replied in: a reply there is `bot_in_thread`.
    bot_threads: BoundedMap<String, ()>,
    /// Thread roots fetched over REST already, whatever the answer.
    looked_up: BoundedMap<String, ()>,
    /// Username -> user id. Rocket.Chat keys reactions by username; the contract keys
    /// them by user id, so every reactor is resolved through this map (learned from the
    /// authors and mentions of every document, and from lookups the session makes).
    users: BoundedMap<String, String>,
    /// User id -> whether the account is a bot (`users.info`, see [`user_is_bot`]).
    authors: BoundedMap<String, AuthorKind>,
    /// How far each room was read: where its catch-up starts.
    marks: ReadMarks,
    /// Where an earlier process of this account stopped (see [`Mapper::resume_from`]):
    /// a message it handled is never `MessageCreated` again.
    resume: Option<ResumePoint>,
}

impl Mapper {
    pub(crate) fn new(self_id: &str, self_username: &str, new_after: i64) -> Self {
        Self {
            self_id: self_id.to_owned(),
            self_username: self_username.to_owned(),
            new_after,
            allowed_rooms: None,
            messages: BoundedMap::new(MESSAGE_CACHE),
            seen: BoundedMap::new(SEEN_CACHE),
            rooms: BoundedMap::new(ROOM_CACHE),
            own_messages: BoundedMap::new(OWN_MESSAGE_CACHE),
            bot_threads: BoundedMap::new(BOT_THREAD_CACHE),
            looked_up: BoundedMap::new(LOOKED_UP_CACHE),
            users: BoundedMap::new(USER_CACHE),
            authors: BoundedMap::new(AUTHOR_CACHE),
            marks: ReadMarks::new(0),
            resume: None,
        }
    }

    /// Continues where an earlier process stopped: a message is new when the point says
    /// so ([`ResumePoint::is_new`]: after its room's mark minus the window, and not
    /// handled), and the catch-up reads each room from its own mark.
    pub(crate) fn resume_from(&mut self, point: ResumePoint) {
        self.new_after = point.oldest_mark().0.saturating_sub(RESUME_WINDOW_MS);
        self.marks = ReadMarks::from_resume(&point);
        self.resume = Some(point);
    }

    /// How far each room was read.
    pub(crate) fn marks(&self) -> &ReadMarks {
        &self.marks
    }

    pub(crate) fn marks_mut(&mut self) -> &mut ReadMarks {
        &mut self.marks
    }

    /// Restricts group-room events to these room ids (direct rooms, 1:1 or group, always
    /// pass).
    pub(crate) fn set_allowed_rooms(&mut self, rooms: Option<HashSet<String>>) {
        self.allowed_rooms = rooms;
    }

    /// Remembers a room's kind and name (from `rooms.get`, `rooms-changed`, ...).
    pub(crate) fn note_room(&mut self, id: &str, meta: RoomMeta) {
        self.rooms.insert(id.to_owned(), meta);
    }

    pub(crate) fn forget_room(&mut self, id: &str) {
        self.rooms.remove(id);
    }

    pub(crate) fn room(&self, id: &str) -> Option<&RoomMeta> {
        self.rooms.get(id)
    }

    /// [`room_kind`] of room `rid`, where a direct room's members may be unknown (a
    /// message's room facts, a subscription): then the kind already known for the room
    /// stands, and a room never seen is 1:1 only if its id is the bot's and one other
    /// user's ids concatenated, as Rocket.Chat makes 1:1 DM ids; a group DM's id is random
    /// (apps/meteor/app/lib/server/functions/createDirectRoom.ts).
    pub(crate) fn room_kind_of(
        &self,
        rid: &str,
        t: &str,
        members: Option<usize>,
    ) -> Option<RoomKind> {
        if t != "d" || members.is_some() {
            return room_kind(t, members);
        }
        match self.rooms.get(rid).map(|r| r.kind) {
            Some(known @ (RoomKind::Direct | RoomKind::GroupDirect)) => Some(known),
            _ => {
                let other = rid
                    .strip_prefix(self.self_id.as_str())
                    .or_else(|| rid.strip_suffix(self.self_id.as_str()));
                Some(match other {
                    Some(other) if !other.is_empty() => RoomKind::Direct,
                    _ => RoomKind::GroupDirect,
                })
            }
        }
    }

    /// Moves the "new message" line (the start of the first active connection).
    pub(crate) fn set_new_after(&mut self, millis: i64) {
        self.new_after = millis;
    }

    /// The mapper's one input: a message document from `__my_messages__` (with its room
    /// metadata) or from a catch-up (without), read into its wire type. Returns the events
    /// it means, possibly none.
    pub(crate) fn on_wire(&mut self, doc: WireMessage, meta: Option<WireRoomMeta>) -> Vec<Event> {
        if let Some(meta) = meta {
            // Public rooms the bot never joined are delivered too; like a Slack bot, it
            // only listens where it is a member.
            if meta.room_participant == Some(false) {
                tracing::debug!(rid = %doc.rid, "dropping a message from a room the bot is not in");
                return Vec::new();
            }
            // The message's room facts say `d` for 1:1 and group DMs alike.
            let kind = meta
                .room_type
                .as_deref()
                .and_then(|t| self.room_kind_of(&doc.rid, t, None));
            if let Some(kind) = kind {
                let known = self.rooms.get(doc.rid.as_str());
                let unchanged = known.is_some_and(|r| {
                    r.kind == kind && (meta.room_name.is_none() || r.name == meta.room_name)
                });
                // Every message repeats its room's facts; store them only when they change.
                if !unchanged {
                    let name = meta
                        .room_name
                        .or_else(|| known.and_then(|r| r.name.clone()));
                    self.note_room(&doc.rid, RoomMeta { kind, name });
                }
            } else if meta.room_type.is_some() {
                tracing::debug!(rid = %doc.rid, "dropping a message from a livechat/unknown room type");
                return Vec::new();
            }
        }
        self.map_message(doc)
    }

    fn map_message(&mut self, doc: WireMessage) -> Vec<Event> {
        if doc.hidden == Some(true) || doc.imported == Some(true) || doc.ephemeral == Some(true) {
            tracing::debug!(id = %doc.id, "dropping a hidden, imported or ephemeral message");
            return Vec::new();
        }
        let updated_at = doc
            .updated_at
            .as_ref()
            .and_then(|d| d.millis())
            .or_else(|| doc.ts.as_ref().and_then(|d| d.millis()))
            .unwrap_or(0);
        // The same document twice (a catch-up overlapping the live stream): once only.
        let version = (doc.id.clone(), updated_at, fingerprint(&doc));
        if self.seen.insert(version, ()).is_some() {
            tracing::trace!(id = %doc.id, "dropping a duplicate frame");
            return Vec::new();
        }
        self.marks.read(&doc.rid, updated_at);
        // A version older than the one we hold (a live frame queued during the handshake,
        // handled after the newer catch-up), or any version of a deleted message, would
        // undo changes already delivered.
        if let Some(cached) = self.messages.get(&doc.id) {
            if cached.deleted || updated_at < cached.updated_at {
                tracing::trace!(id = %doc.id, "dropping an older version of a message");
                return Vec::new();
            }
        }

        let room = self.room_info(&doc.rid);
        if !self.room_allowed(&room) {
            tracing::debug!(rid = %doc.rid, "dropping a message from a room outside the allowlist");
            return Vec::new();
        }
        let own = doc.u.id == self.self_id;
        self.learn_thread_facts(&doc, own);
        self.learn_users(&doc);
        let previous = self.messages.get(&doc.id).cloned();

        match doc.t.as_deref() {
            None => {}
            Some("rm") => return self.tombstone(&doc, room, own, previous),
            Some(t) => {
                let t = t.to_owned();
                return self.system_message(&doc, &t, room, updated_at, previous.is_some());
            }
        }

        let text = doc.msg.clone().unwrap_or_default();
        let edited_at = doc.edited_at.as_ref().and_then(|d| d.millis());
        let ts = doc
            .ts
            .as_ref()
            .and_then(|d| d.millis())
            .unwrap_or(updated_at);
        let reactions = reactions_of(&doc);
        self.messages.insert(
            doc.id.clone(),
            CachedMessage {
                author_id: doc.u.id.clone(),
                text: text.clone(),
                edited_at,
                deleted: false,
                reactions: reactions.clone(),
                updated_at,
            },
        );

        let mut events = Vec::new();
        let facts = self.thread_facts(&doc);
        let quotes_bot = self.quotes_own_message(&doc);
        let bot_account = self.author_is_bot(&doc.u.id);
        let message = || {
            let mut message = to_message(&doc, room.clone(), text.clone(), ts, edited_at.is_some());
            (message.reply_to_bot, message.bot_in_thread) = facts;
            message.quotes_bot = quotes_bot;
            message.author.is_bot |= bot_account;
            message
        };
        match &previous {
            None => {
                // Never seen: new, unless it is an update of something older than us,
                // or an earlier process of this account was given it already.
                let handled_before = self.resume.as_ref().is_some_and(|point| {
                    !point.is_new(&room.id, &MessageId::new(doc.id.as_str()), Timestamp(ts))
                });
                if ts >= self.new_after && !handled_before {
                    if !own {
                        events.push(Event::MessageCreated { message: message() });
                    }
                    // Live, a new message has no reactions yet; one first seen with
                    // reactions comes from a catch-up, and they were added while we were
                    // away: report them after the message.
                    let none = BTreeMap::new();
                    events.extend(self.reaction_diff(&doc, &room, &none, &reactions));
                    return events;
                }
                if edited_at.is_some() && !own {
                    events.push(Event::MessageEdited { message: message() });
                }
            }
            Some(prev) => {
                // Only an edit marker with different text is an edit: thread counters and
                // URL previews also re-broadcast the document.
                if edited_at.is_some() && edited_at != prev.edited_at && text != prev.text && !own {
                    events.push(Event::MessageEdited { message: message() });
                }
            }
        }
        let before = previous.map(|p| p.reactions).unwrap_or_default();
        events.extend(self.reaction_diff(&doc, &room, &before, &reactions));
        events
    }

    /// The author of `doc` when whether it is a bot account must be looked up first
    /// (`users.info`, [`Mapper::learn_author`]): never the bot itself, nor for system or
    /// hidden documents, nor when the document already marks a bot post (`bot`); a known
    /// author only once its answer is older than [`AUTHOR_TTL`].
    pub(crate) fn unknown_author(&self, doc: &WireMessage, now: Instant) -> Option<String> {
        if doc.u.id.is_empty()
            || doc.u.id == self.self_id
            || doc.t.is_some()
            || doc.hidden == Some(true)
            || has_bot_marker(doc)
        {
            return None;
        }
        match self.authors.get(doc.u.id.as_str()) {
            Some(kind) if kind.fresh_until > now => None,
            _ => Some(doc.u.id.clone()),
        }
    }

    /// Remembers what `users.info` said about the author `id` (`None`: the lookup failed
    /// or found nobody; the last answer, if any, holds until a retry after
    /// [`AUTHOR_RETRY`]).
    pub(crate) fn learn_author(
        &mut self,
        id: &str,
        user: Option<&serde_json::Value>,
        now: Instant,
    ) {
        let kind = match user {
            Some(user) => AuthorKind {
                is_bot: user_is_bot(user),
                fresh_until: now + AUTHOR_TTL,
            },
            None => AuthorKind {
                is_bot: self.author_is_bot(id),
                fresh_until: now + AUTHOR_RETRY,
            },
        };
        self.authors.insert(id.to_owned(), kind);
    }

    /// Whether a lookup said the user `id` is a bot account.
    fn author_is_bot(&self, id: &str) -> bool {
        self.authors.get(id).is_some_and(|kind| kind.is_bot)
    }

    /// A system message (`t` set): a room event when it is one the contract names and it is
    /// new, else nothing. Never a [`Event::MessageCreated`]: its text is not a user's words.
    fn system_message(
        &mut self,
        doc: &WireMessage,
        t: &str,
        room: RoomInfo,
        updated_at: i64,
        seen_before: bool,
    ) -> Vec<Event> {
        // Remembered, so a later version (a reaction on it, a re-broadcast) is no second event.
        self.messages.insert(
            doc.id.clone(),
            CachedMessage {
                author_id: doc.u.id.clone(),
                text: String::new(),
                edited_at: None,
                deleted: false,
                reactions: BTreeMap::new(),
                updated_at,
            },
        );
        let ts = doc
            .ts
            .as_ref()
            .and_then(|d| d.millis())
            .unwrap_or(updated_at);
        // Room events are not in the host's ledger of handled messages, so after a restart
        // only those after the room's mark are new: at most once, never twice.
        let resumed_old = self
            .resume
            .as_ref()
            .is_some_and(|point| ts <= point.mark_of(&room.id).0);
        if seen_before || ts < self.new_after || resumed_old {
            tracing::trace!(id = %doc.id, t, "dropping an old system message");
            return Vec::new();
        }
        match self.room_event_kind(doc, t) {
            Some(kind) => vec![Event::RoomEvent {
                room,
                kind,
                at: Timestamp(ts),
            }],
            None => {
                tracing::debug!(id = %doc.id, t, "dropping a system message");
                Vec::new()
            }
        }
    }

    /// What a system message says happened, per Rocket.Chat 8.x's writers of each type
    /// (`Message.saveSystemMessage(type, rid, msg, user, extra)`, where `extra.u` replaces
    /// the author):
    /// - `uj`, `ujt` (team), `ut` (discussion), `ul`, `ult`: `msg` and `u` are the member
    ///   (apps/meteor/app/lib/server/functions/addUserToRoom.ts, removeUserFromRoom.ts);
    /// - `au`, `added-user-to-team`, `ru`, `removed-user-from-team`: `msg` is the member's
    ///   username, `u` who added or removed them (same files);
    /// - `r`: `msg` is the new name, `u` who renamed
    ///   (apps/meteor/app/channel-settings/server/functions/saveRoomName.ts);
    /// - `room_changed_topic`: `msg` is the topic, empty when cleared (saveRoomTopic.ts);
    /// - `message_pinned`: `msg` is empty, `attachments[0]` quotes the pinned message
    ///   (`text`, `author_name`), `u` who pinned
    ///   (apps/meteor/app/message-pin/server/pinMessage.ts).
    ///
    /// `message_pinned_e2e` quotes ciphertext, so it is not one; nor is any other type.
    fn room_event_kind(&self, doc: &WireMessage, t: &str) -> Option<RoomEventKind> {
        let msg = doc.msg.clone().unwrap_or_default();
        let actor = RoomUser {
            id: (!doc.u.id.is_empty()).then(|| UserId::new(doc.u.id.clone())),
            username: if doc.u.username.is_empty() {
                msg.clone()
            } else {
                doc.u.username.clone()
            },
        };
        // `au` and `ru` name the member by username only: its id when the mapper knows it.
        let member = || {
            (!msg.is_empty()).then(|| RoomUser {
                id: self
                    .users
                    .get(msg.as_str())
                    .map(|id| UserId::new(id.clone())),
                username: msg.clone(),
            })
        };
        let kind = match t {
            "uj" | "ujt" | "ut" => RoomEventKind::Joined { user: actor },
            "ul" | "ult" => RoomEventKind::Left { user: actor },
            "au" | "added-user-to-team" => RoomEventKind::Added {
                user: member()?,
                by: actor,
            },
            "ru" | "removed-user-from-team" => RoomEventKind::Removed {
                user: member()?,
                by: actor,
            },
            "r" if !msg.is_empty() => RoomEventKind::Renamed {
                name: msg,
                by: actor,
            },
            "room_changed_topic" => RoomEventKind::TopicChanged {
                topic: msg,
                by: actor,
            },
            "message_pinned" => {
                let quote = doc
                    .attachments
                    .as_ref()
                    .and_then(serde_json::Value::as_array)
                    .and_then(|a| a.first());
                let field = |key: &str| {
                    quote
                        .and_then(|q| q.get(key))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                };
                RoomEventKind::Pinned {
                    text: field("text").unwrap_or_default(),
                    author: field("author_name").filter(|a| !a.is_empty()),
                    by: actor,
                }
            }
            _ => return None,
        };
        (!kind.actor().username.is_empty()).then_some(kind)
    }

    /// Remembers the user ids a document names: its author and its user mentions.
    fn learn_users(&mut self, doc: &WireMessage) {
        if !doc.u.username.is_empty() && self.users.get(doc.u.username.as_str()).is_none() {
            self.users.insert(doc.u.username.clone(), doc.u.id.clone());
        }
        for mention in doc.mentions.iter().flatten() {
            if let (Some(id), Some(name), Some("user") | None) =
                (&mention.id, &mention.username, mention.kind.as_deref())
            {
                if id != "all" && id != "here" && self.users.get(name.as_str()).is_none() {
                    self.users.insert(name.clone(), id.clone());
                }
            }
        }
    }

    /// The usernames reacting on a document whose user id is not known yet (the session
    /// looks them up before mapping it, see [`Mapper::learn_user`]). The bot is known.
    pub(crate) fn unknown_reactors(&self, doc: &WireMessage) -> Vec<String> {
        let mut unknown: Vec<String> = doc
            .reactions
            .iter()
            .flatten()
            .flat_map(|(_, r)| r.usernames.iter())
            .filter(|name| **name != self.self_username && self.users.get(name.as_str()).is_none())
            .cloned()
            .collect();
        unknown.sort();
        unknown.dedup();
        unknown
    }

    /// Learns a user id the session looked up.
    pub(crate) fn learn_user(&mut self, username: &str, id: &str) {
        self.users.insert(username.to_owned(), id.to_owned());
    }

    /// Remembers what a document says about the bot's messages and threads.
    fn learn_thread_facts(&mut self, doc: &WireMessage, own: bool) {
        if own {
            self.own_messages.insert(doc.id.clone(), ());
            if let Some(root) = &doc.tmid {
                self.bot_threads.insert(root.clone(), ());
            }
        } else if doc.tmid.is_none() && doc.replies.iter().flatten().any(|id| *id == self.self_id) {
            // `replies` also lists the root's author, so only someone else's root proves
            // that the bot replied.
            self.bot_threads.insert(doc.id.clone(), ());
        }
    }

    /// The root id of a thread message (a document and its room metadata) whose thread
    /// facts this process cannot know from what it has seen: the root was never seen, is
    /// not the bot's, is not a thread the bot replied in, and was not looked up yet.
    /// `None` for the bot's own messages, DMs (no mention gating there) and rooms whose
    /// messages are dropped anyway.
    pub(crate) fn unknown_thread_root(
        &self,
        doc: &WireMessage,
        meta: Option<&WireRoomMeta>,
    ) -> Option<String> {
        let root = doc.tmid.as_deref()?;
        self.unknown_root_of(
            root,
            &doc.u.id,
            &doc.rid,
            meta.and_then(|m| m.room_participant),
            meta.and_then(|m| m.room_type.as_deref()),
        )
    }

    fn unknown_root_of(
        &self,
        root: &str,
        author: &str,
        rid: &str,
        participant: Option<bool>,
        room_type: Option<&str>,
    ) -> Option<String> {
        if author == self.self_id || participant == Some(false) {
            return None;
        }
        let mut room = self.room_info(rid);
        if let Some(kind) = room_type.and_then(|t| self.room_kind_of(rid, t, None)) {
            room.kind = kind;
        }
        // 1:1 DMs need no mention, so no thread facts; group DMs do.
        if room.kind.is_direct() || !self.room_allowed(&room) {
            return None;
        }
        let known = self.messages.get(root).is_some()
            || self.own_messages.get(root).is_some()
            || self.bot_threads.get(root).is_some()
            || self.looked_up.get(root).is_some();
        (!known).then(|| root.to_owned())
    }

    /// Learns the thread facts of a root fetched over REST (`None`: not found or the
    /// lookup failed). Emits no event; the root is not looked up again.
    pub(crate) fn learn_root(&mut self, root: &str, fetched: Option<&WireMessage>) {
        self.looked_up.insert(root.to_owned(), ());
        let Some(doc) = fetched else {
            return;
        };
        if doc.id == root && doc.tmid.is_none() {
            let own = doc.u.id == self.self_id;
            self.learn_thread_facts(doc, own);
        }
    }

    /// Whether a document quotes a message the bot wrote (`quotes_bot`). Rocket.Chat
    /// builds a quote attachment from a link to a message of the server (`jumpToMessage`,
    /// apps/meteor/server/lib/..., `createQuoteAttachment`: `message_link` is the link).
    /// Only the id in the link counts, checked against the bot's own messages this
    /// process saw: the attachment's `author_name` is the quoted alias, and a sender can
    /// post attachments of his own, so neither says who wrote the quoted message. A
    /// quote of a bot message older than this process is not recognised (`false`).
    fn quotes_own_message(&self, doc: &WireMessage) -> bool {
        let Some(serde_json::Value::Array(attachments)) = &doc.attachments else {
            return false;
        };
        attachments
            .iter()
            .filter_map(|a| a.get("message_link").and_then(serde_json::Value::as_str))
            .filter_map(quoted_message_id)
            .any(|id| self.own_messages.get(id).is_some())
    }

    /// `(reply_to_bot, bot_in_thread)` for a document; both `false` outside threads.
    fn thread_facts(&self, doc: &WireMessage) -> (bool, bool) {
        match &doc.tmid {
            Some(root) => (
                self.own_messages.get(root).is_some(),
                self.bot_threads.get(root).is_some(),
            ),
            None => (false, false),
        }
    }

    fn tombstone(
        &mut self,
        doc: &WireMessage,
        room: RoomInfo,
        own: bool,
        previous: Option<CachedMessage>,
    ) -> Vec<Event> {
        let already = previous.as_ref().is_some_and(|p| p.deleted);
        self.messages.insert(
            doc.id.clone(),
            CachedMessage {
                author_id: doc.u.id.clone(),
                text: String::new(),
                edited_at: None,
                deleted: true,
                reactions: BTreeMap::new(),
                updated_at: 0,
            },
        );
        if already || own {
            return Vec::new();
        }
        vec![Event::MessageDeleted {
            room: room.id,
            room_kind: Some(room.kind),
            message: MessageId::new(doc.id.clone()),
        }]
    }

    /// A `<rid>/deleteMessage` notification (hard delete).
    pub(crate) fn on_delete(&mut self, rid: &str, message_id: &str) -> Option<Event> {
        let key = message_id.to_owned();
        let own = match self.messages.get_mut(&key) {
            Some(cached) if cached.deleted => return None,
            Some(cached) => {
                cached.deleted = true;
                cached.author_id == self.self_id
            }
            None => {
                self.messages.insert(
                    key,
                    CachedMessage {
                        author_id: String::new(),
                        text: String::new(),
                        edited_at: None,
                        deleted: true,
                        reactions: BTreeMap::new(),
                        updated_at: 0,
                    },
                );
                false
            }
        };
        let room = self.room_info(rid);
        if own || !self.room_allowed(&room) {
            return None;
        }
        Some(Event::MessageDeleted {
            room: room.id,
            room_kind: self.rooms.get(rid).map(|r| r.kind),
            message: MessageId::new(message_id),
        })
    }

    fn reaction_diff(
        &self,
        doc: &WireMessage,
        room: &RoomInfo,
        before: &BTreeMap<String, BTreeSet<String>>,
        after: &BTreeMap<String, BTreeSet<String>>,
    ) -> Vec<Event> {
        let empty = BTreeSet::new();
        let emojis: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        let mut events = Vec::new();
        for emoji in emojis {
            let old = before.get(emoji).unwrap_or(&empty);
            let new = after.get(emoji).unwrap_or(&empty);
            // A reactor whose id could not be resolved is left out: policy matches user
            // ids, and a username is not one.
            let reaction = |username: &String| {
                let Some(id) = self.users.get(username.as_str()) else {
                    tracing::debug!(message = %doc.id, "dropping a reaction by a user whose id is unknown");
                    return None;
                };
                Some(Reaction {
                    message: MessageRef {
                        room: room.id.clone(),
                        id: MessageId::new(doc.id.clone()),
                    },
                    room: room.clone(),
                    message_author: Some(UserId::new(doc.u.id.clone())),
                    emoji: emoji.clone(),
                    user: UserId::new(id.clone()),
                    username: Some(username.clone()),
                })
            };
            for user in new.difference(old).filter(|u| **u != self.self_username) {
                if let Some(reaction) = reaction(user) {
                    events.push(Event::ReactionAdded { reaction });
                }
            }
            for user in old.difference(new).filter(|u| **u != self.self_username) {
                if let Some(reaction) = reaction(user) {
                    events.push(Event::ReactionRemoved { reaction });
                }
            }
        }
        events
    }

    fn room_info(&self, rid: &str) -> RoomInfo {
        match self.rooms.get(rid) {
            Some(meta) => RoomInfo {
                id: RoomId::new(rid),
                kind: meta.kind,
                name: meta.name.clone(),
            },
            // Unknown rooms are treated as groups: they then need a mention, the safe side.
            None => RoomInfo {
                id: RoomId::new(rid),
                kind: RoomKind::Private,
                name: None,
            },
        }
    }

    /// The room allowlist is for rooms; direct conversations, 1:1 or group, always pass
    /// (the host's policy has its own rules for them).
    fn room_allowed(&self, room: &RoomInfo) -> bool {
        matches!(room.kind, RoomKind::Direct | RoomKind::GroupDirect)
            || self
                .allowed_rooms
                .as_ref()
                .is_none_or(|set| set.contains(room.id.as_str()))
    }
}

/// `reactions` as emoji name (colons stripped) → usernames.
fn reactions_of(doc: &WireMessage) -> BTreeMap<String, BTreeSet<String>> {
    doc.reactions
        .iter()
        .flatten()
        .filter(|(_, r)| !r.usernames.is_empty())
        .map(|(emoji, r)| {
            (
                emoji.trim_matches(':').to_owned(),
                r.usernames.iter().cloned().collect(),
            )
        })
        .collect()
}

/// A document from a history endpoint (`*.history`, `chat.getThreadMessages`,
/// `chat.getMessage`) as a [`Message`] of `room`, or `None` for what history leaves out:
/// hidden documents (`_hidden`: kept deletions, edit-history copies, which
/// `chat.getThreadMessages` does not filter), system messages (any `t`, deletion
/// tombstones `rm` included), documents of another room and documents that do not parse.
/// Thread facts are left `false` (the caller knows more, or nothing).
pub(crate) fn history_message(doc: &WireMessage, room: &RoomInfo) -> Option<Message> {
    if doc.hidden == Some(true) || doc.t.is_some() || doc.rid != room.id.as_str() {
        return None;
    }
    let ts = doc
        .ts
        .as_ref()
        .and_then(|d| d.millis())
        .or_else(|| doc.updated_at.as_ref().and_then(|d| d.millis()))?;
    let text = doc.msg.clone().unwrap_or_default();
    let edited = doc.edited_at.is_some();
    Some(to_message(doc, room.clone(), text, ts, edited))
}

fn to_message(doc: &WireMessage, room: RoomInfo, text: String, ts: i64, edited: bool) -> Message {
    let mentions = doc
        .mentions
        .iter()
        .flatten()
        .filter_map(|m| match (m.id.as_deref(), m.kind.as_deref()) {
            (Some("all"), None) => Some(Mention::All),
            (Some("here"), None) => Some(Mention::Here),
            (Some(id), Some("user") | None) => Some(Mention::User {
                id: UserId::new(id),
                username: m.username.clone().unwrap_or_default(),
            }),
            _ => None, // teams and anything unknown
        })
        .collect();
    Message {
        id: MessageId::new(doc.id.clone()),
        room,
        author: Author {
            id: UserId::new(doc.u.id.clone()),
            username: doc.u.username.clone(),
            display_name: doc.u.name.clone(),
            // The document's own mark of an automated post; the author's account kind is
            // added by the mapper, which looked it up ([`user_is_bot`]).
            is_bot: has_bot_marker(doc),
        },
        text,
        thread_root: doc.tmid.clone().map(MessageId::new),
        mentions,
        timestamp: Timestamp(ts),
        edited,
        reply_to_bot: false,
        bot_in_thread: false,
        quotes_bot: false,
        attachments: attachments_of(doc),
    }
}

/// The message id a quote link names: its `msg` query parameter
/// (`<Site_Url>/channel/general?msg=<id>`).
fn quoted_message_id(link: &str) -> Option<&str> {
    let query = link.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("msg="))
        .filter(|id| !id.is_empty())
}

/// Whether a document marks an automated post: `bot` is set, as Rocket.Chat sets it (a
/// truthy value: webhooks stamp `{ i: <integrationId> }`, the JS SDK `{ i: 'js.SDK' }`;
/// see [`WireMessage::bot`]). Only this field counts: `alias`, `avatar`, `emoji` and
/// `customFields` are the sender's to set (`message-impersonate`, webhook payloads) and
/// say nothing about who sent it. A human can set `bot` himself, over DDP or REST; that
/// only subjects him to the bot rules (`allowBots`, the loop budget), it admits nothing.
pub(crate) fn has_bot_marker(doc: &WireMessage) -> bool {
    use serde_json::Value;
    match &doc.bot {
        None | Some(Value::Null | Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::Bool(true) | Value::Array(_) | Value::Object(_)) => true,
    }
}

/// Whether a `users.info` user document is a bot account: the `bot` role (listed in
/// `roles` when the bot may see it: Rocket.Chat returns `roles` only to callers with
/// `view-full-other-user-info`, apps/meteor/app/lib/server/functions/getFullUserData.ts),
/// or `type` `bot` (bot accounts: Rocket.Chat's bot manager turns a bot back into a user
/// by setting `type: 'user'` and `roles: ['user']`, packages/rocketchat-bot-manager/server/
/// methods/turnBotIntoUser.js) or `app` (the users the apps engine posts as). `type` is in
/// users.info's default fields, so it is what a plain bot account can always see. None of
/// these is a field a room member sets on a message.
pub(crate) fn user_is_bot(user: &serde_json::Value) -> bool {
    use serde_json::Value;
    let roles = user.get("roles").and_then(Value::as_array);
    roles.is_some_and(|r| r.iter().any(|role| role == "bot"))
        || matches!(
            user.get("type").and_then(Value::as_str),
            Some("bot" | "app")
        )
}

/// The files a message carries, from its own upload records: `files[]` (else `file`, on
/// older documents), per Rocket.Chat 8.x `parseFileIntoMessageAttachments`
/// (apps/meteor/app/file-upload/server/methods/sendFileMessage.ts): each entry has `_id`,
/// `name`, `type`, `size`. The URL is never read from the message: it is
/// [`crate::media::file_path`] of the record's id and name (see `media` for why); a record
/// that cannot make a safe path is left out (logged). The file cards in `attachments[]`
/// only say which records are shown: an image's thumbnail is a second `files` entry that no
/// card names with `fileId` (only `image_url`), so when cards name some files, only those
/// are kept.
fn attachments_of(doc: &WireMessage) -> Vec<channel_api::Attachment> {
    use serde_json::Value;
    let mut files: Vec<&Value> = doc
        .files
        .as_ref()
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|f| f.is_object()).collect())
        .unwrap_or_default();
    if files.is_empty() {
        files.extend(doc.file.as_ref().filter(|f| f.is_object()));
    }
    let str_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let named: Vec<String> = doc
        .attachments
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|card| str_of(card, "fileId"))
        .collect();
    let all: Vec<(channel_api::Attachment, bool)> = files
        .into_iter()
        .filter_map(|f| {
            let id = str_of(f, "_id").filter(|id| !id.is_empty())?;
            let name = str_of(f, "name").unwrap_or_default();
            let Some(url) = crate::media::file_path(&id, &name) else {
                tracing::debug!(message = %doc.id, "dropping a file record that makes no safe download path");
                return None;
            };
            let size = f
                .get("size")
                .and_then(|s| s.as_u64().or_else(|| s.as_f64().map(|x| x as u64)));
            let shown = named.contains(&id);
            let attachment = channel_api::Attachment {
                id,
                name,
                mime_type: str_of(f, "type").filter(|t| !t.is_empty()),
                size,
                url,
            };
            Some((attachment, shown))
        })
        .collect();
    let any_shown = all.iter().any(|(_, shown)| *shown);
    all.into_iter()
        .filter(|(_, shown)| *shown || !any_shown)
        .map(|(attachment, _)| attachment)
        .collect()
}

/// Test helpers: documents written as JSON, read into their wire types as the session
/// reads them (a document that does not parse is a logged drop there, no events here).
#[cfg(test)]
pub(crate) mod json_input {
    use super::*;
    use serde_json::Value;

    pub(crate) fn wire(doc: &Value) -> Option<WireMessage> {
        serde_json::from_value(doc.clone()).ok()
    }

    fn meta_of(meta: Option<&Value>) -> Option<WireRoomMeta> {
        meta.and_then(|m| serde_json::from_value(m.clone()).ok())
    }

    /// [`Mapper::on_wire`] of a JSON document.
    pub(crate) fn on_json(m: &mut Mapper, doc: &Value, meta: Option<&Value>) -> Vec<Event> {
        match wire(doc) {
            Some(doc) => m.on_wire(doc, meta_of(meta)),
            None => Vec::new(),
        }
    }

    /// [`Mapper::unknown_thread_root`] of a JSON document.
    pub(crate) fn unknown_root(m: &Mapper, doc: &Value, meta: Option<&Value>) -> Option<String> {
        m.unknown_thread_root(&wire(doc)?, meta_of(meta).as_ref())
    }

    /// [`Mapper::learn_root`] of a JSON document.
    pub(crate) fn learn_root(m: &mut Mapper, root: &str, fetched: Option<&Value>) {
        let doc = fetched.and_then(wire);
        m.learn_root(root, doc.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::json_input::{learn_root, on_json, unknown_root};
    use super::*;
    use serde_json::{json, Value};

    const BOT: &str = "botid";

    fn mapper() -> Mapper {
        let mut m = Mapper::new(BOT, "bot", 1_000);
        // Reactors the session would have looked up.
        m.learn_user("carol", "carol_id");
        m.learn_user("dave", "dave_id");
        m
    }

    #[test]
    fn reactors_are_keyed_by_user_id_and_unknown_ones_are_left_out() {
        let mut m = Mapper::new(BOT, "bot", 1_000);
        on_json(&mut m, &doc("m1", 2_000, "x"), Some(&meta("c")));
        let mut r = doc("m1", 2_100, "x");
        r["reactions"] = json!({":eyes:": {"usernames": ["alice", "erin", "bot"]}});
        // alice wrote a message the mapper saw: known. erin is not; the bot never counts.
        let wire: WireMessage = serde_json::from_value(r.clone()).unwrap();
        assert_eq!(m.unknown_reactors(&wire), ["erin"]);
        let events = on_json(&mut m, &r, Some(&meta("c")));
        match events.as_slice() {
            [Event::ReactionAdded { reaction }] => {
                assert_eq!(reaction.user, UserId::new("alice_id"));
                assert_eq!(reaction.username.as_deref(), Some("alice"));
            }
            other => panic!("{other:?}"),
        }
        // Once looked up, erin's next reaction is reported with her id.
        m.learn_user("erin", "erin_id");
        let mut r2 = doc("m1", 2_200, "x");
        r2["reactions"] =
            json!({":eyes:": {"usernames": ["alice", "erin"]}, ":+1:": {"usernames": ["erin"]}});
        let events = on_json(&mut m, &r2, Some(&meta("c")));
        assert!(
            matches!(events.as_slice(), [Event::ReactionAdded { reaction }] if reaction.user == UserId::new("erin_id") && reaction.emoji == "+1"),
            "{events:?}"
        );
    }

    fn doc(id: &str, updated: i64, text: &str) -> Value {
        json!({"_id": id, "rid": "R1", "msg": text, "ts": {"$date": 2_000},
               "u": {"_id": "alice_id", "username": "alice", "name": "Alice"},
               "_updatedAt": {"$date": updated}})
    }

    fn meta(t: &str) -> Value {
        json!({"roomParticipant": true, "roomType": t, "roomName": "general"})
    }

    fn created(events: &[Event]) -> &Message {
        match events {
            [Event::MessageCreated { message }] => message,
            other => panic!("expected one MessageCreated, got {other:?}"),
        }
    }

    #[test]
    fn new_message_maps_room_kind_author_thread_and_mentions() {
        let mut m = mapper();
        let mut d = doc("m1", 2_000, "@bot hi @all");
        d["tmid"] = json!("root1");
        d["mentions"] = json!([
            {"_id": "botid", "username": "bot", "type": "user"},
            {"_id": "all", "username": "all"},
            {"_id": "here", "username": "here"},
            {"_id": "team1", "name": "devs", "type": "team"}
        ]);
        let events = on_json(&mut m, &d, Some(&meta("c")));
        let msg = created(&events);
        assert_eq!(msg.room.kind, RoomKind::Public);
        assert_eq!(msg.room.name.as_deref(), Some("general"));
        assert_eq!(msg.author.username, "alice");
        assert_eq!(msg.thread_root, Some(MessageId::new("root1")));
        assert_eq!(
            msg.mentions,
            vec![
                Mention::User {
                    id: UserId::new("botid"),
                    username: "bot".into()
                },
                Mention::All,
                Mention::Here
            ]
        );
        assert!(msg.mentions_user(&UserId::new(BOT)));
        assert_eq!(msg.timestamp, Timestamp(2_000));
    }

    #[test]
    fn mentions_come_from_the_payload_not_the_text() {
        let mut m = mapper();
        let events = on_json(&mut m, &doc("m1", 2_000, "@bot look"), Some(&meta("p")));
        assert!(created(&events).mentions.is_empty());
    }

    #[test]
    fn rooms_the_bot_is_not_in_are_ignored() {
        let mut m = mapper();
        let outsider = json!({"roomParticipant": false, "roomType": "c", "roomName": "random"});
        assert!(on_json(&mut m, &doc("m1", 2_000, "x"), Some(&outsider)).is_empty());
    }

    #[test]
    fn a_direct_room_of_more_than_two_is_a_group_dm() {
        assert_eq!(room_kind("d", Some(3)), Some(RoomKind::GroupDirect));
        assert_eq!(room_kind("d", Some(2)), Some(RoomKind::Direct));
        assert_eq!(room_kind("d", Some(1)), Some(RoomKind::Direct));
        assert_eq!(room_kind("d", None), Some(RoomKind::Direct));
        assert_eq!(room_kind("c", Some(9)), Some(RoomKind::Public));
        assert_eq!(room_kind("p", None), Some(RoomKind::Private));
        assert_eq!(room_kind("l", None), None);
    }

    #[test]
    fn a_group_dm_stays_one_whatever_its_messages_say() {
        let mut m = mapper();
        // Known from the room list: the messages' `roomType: "d"` does not make it 1:1.
        m.note_room(
            "G1",
            RoomMeta {
                kind: RoomKind::GroupDirect,
                name: None,
            },
        );
        let mut d = doc("m1", 2_000, "x");
        d["rid"] = json!("G1");
        let e = on_json(&mut m, &d, Some(&meta("d")));
        assert_eq!(created(&e).room.kind, RoomKind::GroupDirect);
        // Never seen: a random id is a group DM, the bot's and a user's ids a 1:1 DM.
        let mut d = doc("m2", 2_000, "x");
        d["rid"] = json!("Xk2mRandomRoomId9");
        let e = on_json(&mut m, &d, Some(&meta("d")));
        assert_eq!(created(&e).room.kind, RoomKind::GroupDirect);
        let mut d = doc("m3", 2_000, "x");
        d["rid"] = json!(format!("alice_id{BOT}"));
        let e = on_json(&mut m, &d, Some(&meta("d")));
        assert_eq!(created(&e).room.kind, RoomKind::Direct);
        let mut d = doc("m4", 2_000, "x");
        d["rid"] = json!(format!("{BOT}zed_id"));
        let e = on_json(&mut m, &d, Some(&meta("d")));
        assert_eq!(created(&e).room.kind, RoomKind::Direct);
        // Members, when given, decide.
        assert_eq!(m.room_kind_of("G1", "d", Some(2)), Some(RoomKind::Direct));
        assert_eq!(
            m.room_kind_of(&format!("alice_id{BOT}"), "d", Some(3)),
            Some(RoomKind::GroupDirect)
        );
    }

    #[test]
    fn group_dms_pass_the_room_allowlist_and_get_thread_facts() {
        let mut m = mapper();
        m.set_allowed_rooms(Some(HashSet::from(["R9".to_owned()])));
        m.note_room(
            "G1",
            RoomMeta {
                kind: RoomKind::GroupDirect,
                name: None,
            },
        );
        let mut reply = by("alice", "r1", 2_000, Some("old"));
        reply["rid"] = json!("G1");
        // Mention-gated like a room, so an unseen root is looked up.
        assert_eq!(
            unknown_root(&m, &reply, Some(&meta("d"))),
            Some("old".to_owned())
        );
        let e = on_json(&mut m, &reply, Some(&meta("d")));
        assert_eq!(created(&e).room.kind, RoomKind::GroupDirect);
    }

    #[test]
    fn dm_and_private_kinds() {
        let mut m = mapper();
        // A 1:1 DM's id is the two user ids.
        let mut d = doc("m1", 2_000, "x");
        d["rid"] = json!(format!("alice_id{BOT}"));
        let e = on_json(&mut m, &d, Some(&meta("d")));
        assert_eq!(created(&e).room.kind, RoomKind::Direct);
        let mut d = doc("m2", 2_000, "x");
        d["rid"] = json!("R2");
        let e = on_json(&mut m, &d, Some(&meta("p")));
        assert_eq!(created(&e).room.kind, RoomKind::Private);
        let mut d = doc("m3", 2_000, "x");
        d["rid"] = json!("R3");
        assert!(on_json(&mut m, &d, Some(&meta("l"))).is_empty());
    }

    #[test]
    fn own_echo_hidden_and_system_messages_are_dropped() {
        let mut m = mapper();
        let mut own = doc("m1", 2_000, "mine");
        own["u"] = json!({"_id": BOT, "username": "bot"});
        assert!(on_json(&mut m, &own, Some(&meta("c"))).is_empty());
        let mut hidden = doc("m2", 2_000, "x");
        hidden["_hidden"] = json!(true);
        assert!(on_json(&mut m, &hidden, Some(&meta("c"))).is_empty());
        // A system message that is no room event: nothing, and never a chat message.
        let mut role = doc("m3", 2_000, "carol");
        role["t"] = json!("subscription-role-added");
        assert!(on_json(&mut m, &role, Some(&meta("c"))).is_empty());
    }

    #[test]
    fn duplicates_are_delivered_once() {
        let mut m = mapper();
        assert_eq!(
            on_json(&mut m, &doc("m1", 2_000, "x"), Some(&meta("c"))).len(),
            1
        );
        // The same document again, from the live stream or a catch-up (no meta).
        assert!(on_json(&mut m, &doc("m1", 2_000, "x"), Some(&meta("c"))).is_empty());
        assert!(on_json(&mut m, &doc("m1", 2_000, "x"), None).is_empty());
        assert_eq!(m.marks().mark_of("R1"), 2_000);
    }

    #[test]
    fn edit_needs_edited_at_and_new_text() {
        let mut m = mapper();
        on_json(&mut m, &doc("m1", 2_000, "hello"), Some(&meta("c")));
        // Thread counter update: new _updatedAt, no edit marker.
        let mut counters = doc("m1", 2_100, "hello");
        counters["tcount"] = json!(1);
        assert!(on_json(&mut m, &counters, Some(&meta("c"))).is_empty());
        // URL preview enrichment.
        let mut urls = doc("m1", 2_200, "hello");
        urls["urls"] = json!([{"url": "https://x"}]);
        assert!(on_json(&mut m, &urls, Some(&meta("c"))).is_empty());
        // A real edit.
        let mut edited = doc("m1", 2_300, "hello again");
        edited["editedAt"] = json!({"$date": 2_300});
        let events = on_json(&mut m, &edited, Some(&meta("c")));
        match events.as_slice() {
            [Event::MessageEdited { message }] => {
                assert_eq!(message.text, "hello again");
                assert!(message.edited);
            }
            other => panic!("{other:?}"),
        }
        // Re-broadcast of the edited document for a reaction: no second edit.
        let mut again = edited.clone();
        again["_updatedAt"] = json!({"$date": 2_400});
        assert!(on_json(&mut m, &again, Some(&meta("c"))).is_empty());
    }

    #[test]
    fn reactions_are_diffed_per_user() {
        let mut m = mapper();
        on_json(&mut m, &doc("m1", 2_000, "x"), Some(&meta("c")));
        let mut r1 = doc("m1", 2_100, "x");
        r1["reactions"] = json!({":thumbsup:": {"usernames": ["carol", "bot"]}});
        let events = on_json(&mut m, &r1, Some(&meta("c")));
        match events.as_slice() {
            [Event::ReactionAdded { reaction }] => {
                assert_eq!(reaction.emoji, "thumbsup");
                assert_eq!(reaction.user, UserId::new("carol_id"));
                assert_eq!(reaction.username.as_deref(), Some("carol"));
                assert_eq!(reaction.message_author, Some(UserId::new("alice_id")));
                assert_eq!(reaction.message.id, MessageId::new("m1"));
            }
            other => panic!("{other:?}"),
        }
        // carol removes hers, dave adds a heart; the bot's own removal is silent.
        let mut r2 = doc("m1", 2_200, "x");
        r2["reactions"] = json!({":heart:": {"usernames": ["dave"]}});
        let events = on_json(&mut m, &r2, Some(&meta("c")));
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events.iter().any(|e| matches!(e, Event::ReactionAdded { reaction } if reaction.user == UserId::new("dave_id") && reaction.emoji == "heart")));
        assert!(events.iter().any(|e| matches!(e, Event::ReactionRemoved { reaction } if reaction.user == UserId::new("carol_id") && reaction.emoji == "thumbsup")));
        // The key disappears when the last user un-reacts.
        let r3 = doc("m1", 2_300, "x");
        let events = on_json(&mut m, &r3, Some(&meta("c")));
        assert!(
            matches!(events.as_slice(), [Event::ReactionRemoved { reaction }] if reaction.user == UserId::new("dave_id"))
        );
    }

    #[test]
    fn reactions_on_own_messages_are_reported() {
        let mut m = mapper();
        let mut own = doc("m1", 2_000, "mine");
        own["u"] = json!({"_id": BOT, "username": "bot"});
        assert!(on_json(&mut m, &own, Some(&meta("c"))).is_empty());
        own["_updatedAt"] = json!({"$date": 2_100});
        own["reactions"] = json!({":tada:": {"usernames": ["carol"]}});
        let events = on_json(&mut m, &own, Some(&meta("c")));
        assert!(
            matches!(events.as_slice(), [Event::ReactionAdded { reaction }] if reaction.message_author == Some(UserId::new(BOT)))
        );
    }

    /// A quote of the bot's own message is `quotes_bot`; a quote of someone else's, a
    /// forged card naming the bot as author, or a link to an unknown id is not.
    #[test]
    fn a_quote_of_the_bots_message_is_quotes_bot_and_a_forged_card_is_not() {
        let mut m = mapper();
        let mut own = doc("b1", 2_000, "the bot said");
        own["u"] = json!({"_id": BOT, "username": "bot"});
        on_json(&mut m, &own, Some(&meta("c")));
        on_json(&mut m, &doc("h1", 2_010, "carol said"), Some(&meta("c")));
        let quoting = |id: &str, mid: &str, link: &str, author: &str| {
            let mut d = doc(id, 2_100, "see this");
            d["attachments"] = json!([{"text": "..", "author_name": author,
                "message_link": format!("https://chat.example/channel/general?{link}{mid}")}]);
            d
        };
        let cases = [
            (quoting("q1", "b1", "msg=", "carol"), true),
            (quoting("q2", "b1", "x=1&msg=", "carol"), true),
            (quoting("q3", "h1", "msg=", "bot"), false),
            (quoting("q4", "nope", "msg=", "bot"), false),
            (quoting("q5", "b1", "mid=", "bot"), false),
        ];
        for (d, expected) in cases {
            let events = on_json(&mut m, &d, Some(&meta("c")));
            let [Event::MessageCreated { message }] = events.as_slice() else {
                panic!("one message expected: {events:?}");
            };
            assert_eq!(message.quotes_bot, expected, "{d}");
            assert!(!message.reply_to_bot && !message.bot_in_thread);
        }
        let mut odd = doc("q6", 2_200, "x");
        odd["attachments"] = json!("not a list");
        assert!(!m.quotes_own_message(&serde_json::from_value(odd).unwrap()));
    }

    #[test]
    fn deletes_from_notify_room_and_tombstones_once() {
        let mut m = mapper();
        on_json(&mut m, &doc("m1", 2_000, "x"), Some(&meta("c")));
        let e = m.on_delete("R1", "m1");
        assert!(
            matches!(e, Some(Event::MessageDeleted { ref message, room_kind: Some(RoomKind::Public), .. }) if message.as_str() == "m1")
        );
        assert!(m.on_delete("R1", "m1").is_none());

        on_json(&mut m, &doc("m2", 2_000, "x"), Some(&meta("c")));
        let mut tomb = doc("m2", 2_500, "");
        tomb["t"] = json!("rm");
        tomb["editedAt"] = json!({"$date": 2_500});
        let events = on_json(&mut m, &tomb, Some(&meta("c")));
        assert!(
            matches!(events.as_slice(), [Event::MessageDeleted { message, .. }] if message.as_str() == "m2")
        );
        tomb["_updatedAt"] = json!({"$date": 2_600});
        assert!(on_json(&mut m, &tomb, Some(&meta("c"))).is_empty());
    }

    #[test]
    fn own_deletes_are_silent() {
        let mut m = mapper();
        let mut own = doc("m1", 2_000, "mine");
        own["u"] = json!({"_id": BOT, "username": "bot"});
        on_json(&mut m, &own, Some(&meta("c")));
        assert!(m.on_delete("R1", "m1").is_none());
    }

    #[test]
    fn catch_up_documents_with_iso_dates_map_too() {
        let mut m = mapper();
        m.note_room(
            "R1",
            RoomMeta {
                kind: RoomKind::Direct,
                name: None,
            },
        );
        let d = json!({"_id": "m9", "rid": "R1", "msg": "while you were away",
            "ts": "2026-01-02T03:04:05.678Z", "_updatedAt": "2026-01-02T03:04:05.678Z",
            "u": {"_id": "alice_id", "username": "alice"}});
        let events = on_json(&mut m, &d, None);
        let msg = created(&events);
        assert_eq!(msg.room.kind, RoomKind::Direct);
        assert_eq!(msg.timestamp, Timestamp(1_767_323_045_678));
    }

    #[test]
    fn old_messages_updated_are_not_new() {
        let mut m = Mapper::new(BOT, "bot", 10_000);
        // A reaction on a message from before we started: no MessageCreated.
        let mut d = doc("old", 20_000, "x");
        d["reactions"] = json!({":eyes:": {"usernames": ["alice"]}});
        let events = on_json(&mut m, &d, Some(&meta("c")));
        assert!(
            matches!(events.as_slice(), [Event::ReactionAdded { .. }]),
            "{events:?}"
        );
    }

    #[test]
    fn allowlist_filters_group_rooms_but_not_dms() {
        let mut m = mapper();
        m.set_allowed_rooms(Some(["R1".to_owned()].into_iter().collect()));
        let mut other = doc("m1", 2_000, "x");
        other["rid"] = json!("R2");
        assert!(on_json(&mut m, &other, Some(&meta("c"))).is_empty());
        let mut dm = doc("m2", 2_000, "x");
        dm["rid"] = json!("D1");
        assert_eq!(on_json(&mut m, &dm, Some(&meta("d"))).len(), 1);
        assert_eq!(
            on_json(&mut m, &doc("m3", 2_000, "x"), Some(&meta("c"))).len(),
            1
        );
    }

    #[test]
    fn malformed_documents_are_dropped_not_panicked() {
        let mut m = mapper();
        for bad in [
            json!(null),
            json!({"_id": 5}),
            json!({"_id": "x", "rid": "R"}),
            json!([1, 2]),
        ] {
            assert!(on_json(&mut m, &bad, Some(&meta("c"))).is_empty());
        }
        assert!(on_json(&mut m, &doc("m1", 2_000, "x"), Some(&json!("nonsense"))).len() == 1);
    }

    #[test]
    fn caches_stay_bounded() {
        let mut m = mapper();
        for i in 0..(SEEN_CACHE + 500) {
            on_json(&mut m, &doc(&format!("m{i}"), 2_000, "x"), Some(&meta("c")));
        }
        assert!(m.messages.len() <= MESSAGE_CACHE);
        assert!(m.seen.len() <= SEEN_CACHE);
    }

    /// A document by `author` (`BOT` or alice), optionally in thread `tmid`.
    #[test]
    fn reactions_a_new_message_arrives_with_are_reported() {
        // First seen in a catch-up, reacted to while we were away.
        let mut m = mapper();
        let mut d = doc("m1", 2_500, "x");
        d["reactions"] = json!({":eyes:": {"usernames": ["carol"]}});
        let events = on_json(&mut m, &d, None);
        match events.as_slice() {
            [Event::MessageCreated { .. }, Event::ReactionAdded { reaction }] => {
                assert_eq!(reaction.user, UserId::new("carol_id"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_versions_in_the_same_millisecond_are_both_mapped() {
        let mut m = mapper();
        on_json(&mut m, &doc("m1", 2_000, "x"), Some(&meta("c")));
        let mut r = doc("m1", 2_000, "x");
        r["reactions"] = json!({":eyes:": {"usernames": ["carol"]}});
        let events = on_json(&mut m, &r, Some(&meta("c")));
        assert!(
            matches!(events.as_slice(), [Event::ReactionAdded { .. }]),
            "{events:?}"
        );
        assert!(
            on_json(&mut m, &r, Some(&meta("c"))).is_empty(),
            "a true duplicate"
        );
    }

    #[test]
    fn an_older_version_after_a_newer_one_changes_nothing() {
        let mut m = mapper();
        on_json(&mut m, &doc("m1", 2_000, "x"), Some(&meta("c")));
        let mut newer = doc("m1", 2_200, "x");
        newer["reactions"] = json!({":eyes:": {"usernames": ["carol"]}});
        assert_eq!(on_json(&mut m, &newer, None).len(), 1);
        // A live frame from before the catch-up, handled after it.
        let older = doc("m1", 2_100, "x");
        assert!(on_json(&mut m, &older, Some(&meta("c"))).is_empty());
        // And a deleted message stays deleted.
        assert!(m.on_delete("R1", "m1").is_some());
        assert!(on_json(&mut m, &doc("m1", 2_300, "y"), Some(&meta("c"))).is_empty());
    }

    fn by(author: &str, id: &str, updated: i64, tmid: Option<&str>) -> Value {
        let mut d = doc(id, updated, "text");
        if author == BOT {
            d["u"] = json!({"_id": BOT, "username": "bot"});
        }
        if let Some(root) = tmid {
            d["tmid"] = json!(root);
        }
        d
    }

    fn facts(events: &[Event]) -> (bool, bool) {
        let message = created(events);
        (message.reply_to_bot, message.bot_in_thread)
    }

    #[test]
    fn a_reply_under_the_bots_own_message_is_reply_to_bot() {
        let mut m = mapper();
        // The bot's root comes back as its own echo (no event), and is remembered.
        assert!(on_json(&mut m, &by(BOT, "root", 2_000, None), Some(&meta("c"))).is_empty());
        let e = on_json(
            &mut m,
            &by("alice", "r1", 2_001, Some("root")),
            Some(&meta("c")),
        );
        assert_eq!(facts(&e), (true, false));
        // The root's counter update (replies lists the bot as the root's author) does not
        // make the bot a participant.
        let mut root = by(BOT, "root", 2_002, None);
        root["tcount"] = json!(1);
        root["replies"] = json!([BOT, "alice_id"]);
        on_json(&mut m, &root, Some(&meta("c")));
        let e = on_json(
            &mut m,
            &by("alice", "r2", 2_003, Some("root")),
            Some(&meta("c")),
        );
        assert_eq!(facts(&e), (true, false));
        // Someone else's thread, and a top-level message: neither fact.
        let e = on_json(
            &mut m,
            &by("alice", "r3", 2_004, Some("other")),
            Some(&meta("c")),
        );
        assert_eq!(facts(&e), (false, false));
        let e = on_json(&mut m, &by("alice", "top", 2_005, None), Some(&meta("c")));
        assert_eq!(facts(&e), (false, false));
    }

    #[test]
    fn a_follow_up_after_the_bots_reply_is_bot_in_thread() {
        let mut m = mapper();
        let e = on_json(&mut m, &by("alice", "root", 2_000, None), Some(&meta("c")));
        assert_eq!(facts(&e), (false, false));
        let e = on_json(
            &mut m,
            &by("alice", "r1", 2_001, Some("root")),
            Some(&meta("c")),
        );
        assert_eq!(facts(&e), (false, false));
        // The bot's reply comes back as its echo.
        assert!(on_json(
            &mut m,
            &by(BOT, "b1", 2_002, Some("root")),
            Some(&meta("c"))
        )
        .is_empty());
        let e = on_json(
            &mut m,
            &by("alice", "r2", 2_003, Some("root")),
            Some(&meta("c")),
        );
        assert_eq!(facts(&e), (false, true));
        // An edit in that thread carries the facts too.
        let mut edited = by("alice", "r2", 2_010, Some("root"));
        edited["msg"] = json!("changed");
        edited["editedAt"] = json!({"$date": 2_010});
        match on_json(&mut m, &edited, Some(&meta("c"))).as_slice() {
            [Event::MessageEdited { message }] => assert!(message.bot_in_thread),
            other => panic!("expected one edit, got {other:?}"),
        }
    }

    #[test]
    fn a_root_update_listing_the_bot_teaches_an_old_thread() {
        // An old thread (from before a restart): alice's root, the bot replied back then.
        let mut m = mapper();
        let e = on_json(
            &mut m,
            &by("alice", "r1", 2_000, Some("old")),
            Some(&meta("c")),
        );
        assert_eq!(facts(&e), (false, false)); // not known yet: the safe side
        let mut root = by("alice", "old", 2_001, None);
        root["ts"] = json!({"$date": 500}); // older than the mapper: an update, not new
        root["tcount"] = json!(5);
        root["replies"] = json!(["alice_id", BOT]);
        assert!(on_json(&mut m, &root, Some(&meta("c"))).is_empty());
        let e = on_json(
            &mut m,
            &by("alice", "r2", 2_002, Some("old")),
            Some(&meta("c")),
        );
        assert_eq!(facts(&e), (false, true));
    }

    #[test]
    fn an_unseen_root_is_looked_up_once_and_teaches_the_facts() {
        let mut m = mapper();
        let reply = by("alice", "r1", 2_000, Some("old"));
        assert_eq!(
            unknown_root(&m, &reply, Some(&meta("c"))),
            Some("old".to_owned())
        );
        // The fetched root: alice's, and the bot replied in it before the restart.
        let mut root = by("alice", "old", 2_000, None);
        root["replies"] = json!(["alice_id", BOT]);
        learn_root(&mut m, "old", Some(&root));
        assert_eq!(unknown_root(&m, &reply, Some(&meta("c"))), None);
        let e = on_json(&mut m, &reply, Some(&meta("c")));
        assert_eq!(facts(&e), (false, true));

        // A bot's root from before the restart.
        let reply = by("alice", "r2", 2_001, Some("botroot"));
        assert!(unknown_root(&m, &reply, Some(&meta("c"))).is_some());
        learn_root(&mut m, "botroot", Some(&by(BOT, "botroot", 1_000, None)));
        let e = on_json(&mut m, &reply, Some(&meta("c")));
        assert_eq!(facts(&e), (true, false));

        // A failed lookup is not retried, and the facts stay false.
        let reply = by("alice", "r3", 2_002, Some("gone"));
        assert!(unknown_root(&m, &reply, Some(&meta("c"))).is_some());
        learn_root(&mut m, "gone", None);
        assert_eq!(unknown_root(&m, &reply, Some(&meta("c"))), None);
        let e = on_json(&mut m, &reply, Some(&meta("c")));
        assert_eq!(facts(&e), (false, false));
    }

    #[test]
    fn no_lookup_for_seen_roots_own_messages_dms_or_other_rooms() {
        let mut m = mapper();
        on_json(&mut m, &by("alice", "seen", 2_000, None), Some(&meta("c")));
        let in_seen = by("alice", "r1", 2_001, Some("seen"));
        assert_eq!(unknown_root(&m, &in_seen, Some(&meta("c"))), None);
        let own = by(BOT, "b1", 2_002, Some("x"));
        assert_eq!(unknown_root(&m, &own, Some(&meta("c"))), None);
        let outsider = json!({"roomParticipant": false, "roomType": "c"});
        let r = by("alice", "r2", 2_003, Some("x"));
        assert_eq!(unknown_root(&m, &r, Some(&outsider)), None);
        let mut dm = by("alice", "r3", 2_004, Some("x"));
        dm["rid"] = json!("D1");
        m.note_room(
            "D1",
            RoomMeta {
                kind: RoomKind::Direct,
                name: None,
            },
        );
        assert_eq!(unknown_root(&m, &dm, Some(&meta("d"))), None);
        m.set_allowed_rooms(Some(HashSet::from(["R9".to_owned()])));
        assert_eq!(unknown_root(&m, &r, Some(&meta("c"))), None);
    }

    #[test]
    fn thread_fact_caches_stay_bounded() {
        let mut m = mapper();
        for i in 0..(OWN_MESSAGE_CACHE + 500) {
            let id = format!("b{i}");
            on_json(
                &mut m,
                &by(BOT, &id, 2_000, Some(&format!("t{i}"))),
                Some(&meta("c")),
            );
        }
        assert!(m.own_messages.len() <= OWN_MESSAGE_CACHE);
        assert!(m.bot_threads.len() <= BOT_THREAD_CACHE);
        for i in 0..(LOOKED_UP_CACHE + 500) {
            learn_root(&mut m, &format!("old{i}"), None);
        }
        assert!(m.looked_up.len() <= LOOKED_UP_CACHE);
        // The newest are still known.
        let last = OWN_MESSAGE_CACHE + 499;
        let e = on_json(
            &mut m,
            &by("alice", "x", 2_001, Some(&format!("b{last}"))),
            Some(&meta("c")),
        );
        assert_eq!(facts(&e), (true, false));
    }
}

#[cfg(test)]
mod attachment_tests {
    use super::json_input::on_json;
    use super::*;
    use channel_api::Attachment;
    use serde_json::{json, Value};

    /// The message `Mapper::on_message` makes of a file message document.
    fn mapped(extra: Value) -> Message {
        let mut doc = json!({"_id": "m1", "rid": "R1", "msg": "caption", "ts": {"$date": 2_000},
            "u": {"_id": "alice_id", "username": "alice"}, "_updatedAt": {"$date": 2_000}});
        if let (Some(d), Value::Object(more)) = (doc.as_object_mut(), extra) {
            d.extend(more);
        }
        let mut mapper = Mapper::new("botid", "bot", 1_000);
        let events = on_json(
            &mut mapper,
            &doc,
            Some(&json!({"roomType": "c", "roomName": "dev"})),
        );
        match events.as_slice() {
            [Event::MessageCreated { message }] => message.clone(),
            other => panic!("expected one MessageCreated, got {other:?}"),
        }
    }

    #[test]
    fn files_become_attachments_with_their_own_path() {
        // sendFileMessage's shape for a document: files[0] and one card with fileId.
        let m = mapped(json!({
            "file": {"_id": "F1", "name": "notes v1.txt", "type": "text/plain", "size": 12},
            "files": [{"_id": "F1", "name": "notes v1.txt", "type": "text/plain", "size": 12,
                "format": "", "typeGroup": "text"}],
            "attachments": [{"title": "notes v1.txt", "type": "file", "fileId": "F1",
                "title_link": "/file-upload/F1/notes%20v1.txt", "title_link_download": true,
                "format": "txt", "size": 12}],
        }));
        assert_eq!(
            m.attachments,
            vec![Attachment {
                id: "F1".into(),
                name: "notes v1.txt".into(),
                mime_type: Some("text/plain".into()),
                size: Some(12),
                url: "/file-upload/F1/notes%20v1.txt".into(),
            }]
        );
        assert_eq!(m.text, "caption");
    }

    #[test]
    fn an_image_thumbnail_is_not_a_second_attachment() {
        let m = mapped(json!({
            "files": [
                {"_id": "F1", "name": "cat.png", "type": "image/png", "size": 5000},
                {"_id": "T1", "name": "thumb-cat.png", "type": "image/png", "size": 300},
            ],
            "attachments": [{"title": "cat.png", "type": "file", "fileId": "F1",
                "title_link": "/file-upload/F1/cat.png", "image_url": "/file-upload/T1/cat.png",
                "image_type": "image/png", "image_size": 5000}],
        }));
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].id, "F1");
        assert_eq!(m.attachments[0].url, "/file-upload/F1/cat.png");
    }

    #[test]
    fn without_files_the_single_file_is_used_and_the_path_is_built() {
        let m =
            mapped(json!({"file": {"_id": "F2", "name": "a b.pdf", "type": "application/pdf"}}));
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].url, "/file-upload/F2/a%20b.pdf");
        assert_eq!(m.attachments[0].size, None);
    }

    #[test]
    fn odd_entries_are_skipped_and_never_drop_the_message() {
        let m = mapped(json!({
            "files": [42, {"name": "no id"}, {"_id": "", "name": "empty id"},
                {"_id": "F3", "name": "ok.bin", "type": "", "size": 1.0}],
            "attachments": "not a list",
        }));
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].id, "F3");
        assert_eq!(m.attachments[0].mime_type, None);
        assert_eq!(m.attachments[0].size, Some(1));
        // Plain text messages carry none.
        assert!(mapped(json!({})).attachments.is_empty());
        // A link-preview card without files adds nothing.
        let m = mapped(
            json!({"attachments": [{"title": "a page", "title_link": "https://x.example"}]}),
        );
        assert!(m.attachments.is_empty());
    }
}

#[cfg(test)]
mod file_card_tests {
    use super::json_input::on_json;
    use super::*;
    use serde_json::{json, Value};

    fn attachments(extra: Value) -> Vec<channel_api::Attachment> {
        let mut doc = json!({"_id": "m1", "rid": "R1", "msg": "look", "ts": {"$date": 2_000},
            "u": {"_id": "mallory_id", "username": "mallory"}, "_updatedAt": {"$date": 2_000}});
        if let (Some(d), Value::Object(more)) = (doc.as_object_mut(), extra) {
            d.extend(more);
        }
        let mut mapper = Mapper::new("botid", "bot", 1_000);
        match on_json(&mut mapper, &doc, Some(&json!({"roomType": "c"}))).as_slice() {
            [Event::MessageCreated { message }] => message.attachments.clone(),
            other => panic!("expected one MessageCreated, got {other:?}"),
        }
    }

    const CRAFTED: &[&str] = &[
        "/api/v1/groups.history?roomId=P1&x=/file-upload/F9/a",
        "/api/v1/me",
        "/file-upload/../api/v1/me",
        "/file-upload/F9/%2e%2e/%2e%2e/api/v1/me",
        "https://elsewhere.example/file-upload/F9/a",
    ];

    #[test]
    fn a_card_link_is_never_a_download_path() {
        for link in CRAFTED {
            // A card alone is no file.
            let card = json!({"attachments": [{"title": "a", "title_link": link,
                "title_link_download": true, "type": "file"}]});
            assert!(attachments(card).is_empty(), "{link}");
            // With a forged record, the path is the record's own, built here.
            let forged = json!({
                "files": [{"_id": "F9", "name": "a", "type": "text/plain"}],
                "attachments": [{"title": "a", "title_link": link, "fileId": "F9"}]});
            let found = attachments(forged);
            assert_eq!(found.len(), 1, "{link}");
            assert_eq!(found[0].url, "/file-upload/F9/a", "{link}");
        }
    }

    #[test]
    fn records_that_make_no_safe_path_are_left_out() {
        let found = attachments(json!({"files": [
            {"_id": "../api/v1/me", "name": "a"},
            {"_id": "F1?x=", "name": "a"},
            {"_id": "F2", "name": "../../api/v1/me"},
            {"_id": "F3", "name": ".."},
            {"_id": "F4", "name": "a?b#c %2e.txt"},
        ]}));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].id, "F4");
        assert_eq!(found[0].url, "/file-upload/F4/a%3Fb%23c%20%252e.txt");
    }
}

#[cfg(test)]
mod author_tests {
    use super::json_input::{on_json, wire};
    use super::*;
    use serde_json::{json, Value};

    fn doc(id: &str, author: &str) -> Value {
        json!({"_id": id, "rid": "R1", "msg": "hi", "ts": {"$date": 2_000},
               "u": {"_id": author, "username": author, "name": author},
               "_updatedAt": {"$date": 2_000}})
    }

    fn meta() -> Value {
        json!({"roomParticipant": true, "roomType": "c", "roomName": "general"})
    }

    fn marked(bot: Value) -> bool {
        let mut d = doc("m1", "alice");
        d["bot"] = bot;
        has_bot_marker(&wire(&d).expect("parses"))
    }

    fn author_of(events: &[Event]) -> &Author {
        match events {
            [Event::MessageCreated { message }] => &message.author,
            other => panic!("expected one MessageCreated, got {other:?}"),
        }
    }

    #[test]
    fn falsy_bot_values_do_not_mark_a_bot_post() {
        for v in [json!(null), json!(false), json!(""), json!(0)] {
            assert!(!marked(v.clone()), "{v}");
        }
        // No field at all.
        assert!(!has_bot_marker(&wire(&doc("m1", "alice")).expect("parses")));
    }

    #[test]
    fn truthy_bot_values_mark_a_bot_post() {
        for v in [
            json!({"i": "js.SDK"}),
            json!({"i": "integ1"}),
            json!(true),
            json!("x"),
            json!(1),
        ] {
            assert!(marked(v.clone()), "{v}");
        }
    }

    #[test]
    fn user_is_bot_by_role_or_type() {
        assert!(user_is_bot(
            &json!({"_id": "b", "roles": ["user", "bot"], "type": "user"})
        ));
        assert!(user_is_bot(&json!({"_id": "b", "type": "bot"})));
        assert!(user_is_bot(&json!({"_id": "b", "type": "app"})));
        assert!(!user_is_bot(
            &json!({"_id": "u", "roles": ["user"], "type": "user"})
        ));
        assert!(!user_is_bot(&json!({"_id": "u", "roles": ["admin"]})));
        assert!(!user_is_bot(&json!({"_id": "u"})));
    }

    #[test]
    fn an_author_users_info_calls_a_bot_maps_to_a_bot_and_a_human_stays_human() {
        let mut m = Mapper::new("botid", "bot", 1_000);
        let now = Instant::now();
        let d = doc("m1", "otherbot");
        assert_eq!(
            m.unknown_author(&wire(&d).expect("parses"), now).as_deref(),
            Some("otherbot")
        );
        m.learn_author(
            "otherbot",
            Some(&json!({"_id": "otherbot", "type": "bot"})),
            now,
        );
        assert_eq!(m.unknown_author(&wire(&d).expect("parses"), now), None);
        assert!(author_of(&on_json(&mut m, &d, Some(&meta()))).is_bot);

        let h = doc("m2", "alice");
        m.learn_author(
            "alice",
            Some(&json!({"_id": "alice", "type": "user", "roles": ["user"]})),
            now,
        );
        assert!(!author_of(&on_json(&mut m, &h, Some(&meta()))).is_bot);
    }

    #[test]
    fn a_bot_marker_makes_a_bot_without_a_lookup() {
        let mut m = Mapper::new("botid", "bot", 1_000);
        let mut d = doc("m1", "alice");
        d["bot"] = json!({"i": "js.SDK"});
        assert_eq!(
            m.unknown_author(&wire(&d).expect("parses"), Instant::now()),
            None
        );
        assert!(author_of(&on_json(&mut m, &d, Some(&meta()))).is_bot);
    }

    #[test]
    fn the_bot_itself_and_system_messages_are_never_looked_up() {
        let m = Mapper::new("botid", "bot", 1_000);
        let now = Instant::now();
        assert_eq!(
            m.unknown_author(&wire(&doc("m1", "botid")).expect("parses"), now),
            None
        );
        let mut sys = doc("m2", "alice");
        sys["t"] = json!("uj");
        assert_eq!(m.unknown_author(&wire(&sys).expect("parses"), now), None);
        let mut hidden = doc("m3", "alice");
        hidden["_hidden"] = json!(true);
        assert_eq!(m.unknown_author(&wire(&hidden).expect("parses"), now), None);
    }

    #[test]
    fn an_answer_is_asked_again_after_author_ttl() {
        let mut m = Mapper::new("botid", "bot", 1_000);
        let t0 = Instant::now();
        let d = wire(&doc("m1", "alice")).expect("parses");
        m.learn_author("alice", Some(&json!({"_id": "alice", "type": "user"})), t0);
        assert_eq!(
            m.unknown_author(&d, t0 + AUTHOR_TTL - Duration::from_secs(1)),
            None
        );
        assert_eq!(
            m.unknown_author(&d, t0 + AUTHOR_TTL).as_deref(),
            Some("alice")
        );
        // A role granted meanwhile is seen at the next lookup.
        m.learn_author(
            "alice",
            Some(&json!({"_id": "alice", "roles": ["bot"]})),
            t0 + AUTHOR_TTL,
        );
        assert!(author_of(&on_json(&mut m, &doc("m2", "alice"), Some(&meta()))).is_bot);
    }

    #[test]
    fn a_failed_lookup_keeps_the_last_answer_and_retries_after_author_retry() {
        let mut m = Mapper::new("botid", "bot", 1_000);
        let t0 = Instant::now();
        let d = wire(&doc("m1", "otherbot")).expect("parses");
        m.learn_author(
            "otherbot",
            Some(&json!({"_id": "otherbot", "type": "bot"})),
            t0,
        );
        let t1 = t0 + AUTHOR_TTL;
        assert_eq!(m.unknown_author(&d, t1).as_deref(), Some("otherbot"));
        m.learn_author("otherbot", None, t1);
        // Still a bot: a failed lookup does not turn it into a human.
        assert_eq!(
            m.unknown_author(&d, t1 + AUTHOR_RETRY - Duration::from_secs(1)),
            None
        );
        assert!(author_of(&on_json(&mut m, &doc("m2", "otherbot"), Some(&meta()))).is_bot);
        assert_eq!(
            m.unknown_author(&d, t1 + AUTHOR_RETRY).as_deref(),
            Some("otherbot")
        );

        // Never known and the lookup failed: human for now, asked again after the retry.
        m.learn_author("erin", None, t0);
        let e = wire(&doc("m3", "erin")).expect("parses");
        assert_eq!(m.unknown_author(&e, t0), None);
        assert!(!author_of(&on_json(&mut m, &doc("m3", "erin"), Some(&meta()))).is_bot);
        assert_eq!(
            m.unknown_author(&e, t0 + AUTHOR_RETRY).as_deref(),
            Some("erin")
        );
    }
}

#[cfg(test)]
mod room_event_tests {
    use super::json_input::on_json;
    use super::*;
    use serde_json::{json, Value};

    const BOT: &str = "botid";

    fn mapper() -> Mapper {
        let mut m = Mapper::new(BOT, "bot", 1_000);
        m.learn_user("carol", "carol_id");
        m
    }

    fn meta(t: &str) -> Value {
        json!({"roomParticipant": true, "roomType": t, "roomName": "general"})
    }

    /// A system message of type `t` by `u` (id, username), as `Message.saveSystemMessage`
    /// writes it.
    fn system(id: &str, t: &str, msg: &str, u: (&str, &str), ts: i64) -> Value {
        json!({"_id": id, "rid": "R1", "t": t, "msg": msg, "ts": {"$date": ts},
               "u": {"_id": u.0, "username": u.1}, "groupable": false,
               "_updatedAt": {"$date": ts}})
    }

    fn room_events(events: &[Event]) -> Vec<RoomEventKind> {
        events
            .iter()
            .map(|e| match e {
                Event::RoomEvent { room, kind, at } => {
                    assert_eq!(room.id, RoomId::new("R1"));
                    assert_eq!(room.kind, RoomKind::Public);
                    assert_eq!(*at, Timestamp(2_000));
                    kind.clone()
                }
                other => panic!("expected only room events, got {other:?}"),
            })
            .collect()
    }

    fn known(id: &str, username: &str) -> RoomUser {
        RoomUser {
            id: Some(UserId::new(id)),
            username: username.into(),
        }
    }

    #[test]
    fn joins_and_leaves_are_room_events() {
        let mut m = mapper();
        for (t, left) in [
            ("uj", false),
            ("ujt", false),
            ("ut", false),
            ("ul", true),
            ("ult", true),
        ] {
            let d = system(&format!("s-{t}"), t, "erin", ("erin_id", "erin"), 2_000);
            let user = known("erin_id", "erin");
            let want = if left {
                RoomEventKind::Left { user }
            } else {
                RoomEventKind::Joined { user }
            };
            assert_eq!(
                room_events(&on_json(&mut m, &d, Some(&meta("c")))),
                [want],
                "{t}"
            );
        }
    }

    #[test]
    fn adds_and_removes_name_the_member_and_who_did_it() {
        let mut m = mapper();
        // `msg` names the member by username; `u` is who added or removed them.
        let d = system("s1", "au", "carol", ("alice_id", "alice"), 2_000);
        assert_eq!(
            room_events(&on_json(&mut m, &d, Some(&meta("c")))),
            [RoomEventKind::Added {
                user: known("carol_id", "carol"),
                by: known("alice_id", "alice"),
            }]
        );
        // A member the mapper never saw: the username alone.
        let d = system("s2", "ru", "zed", ("alice_id", "alice"), 2_000);
        assert_eq!(
            room_events(&on_json(&mut m, &d, Some(&meta("c")))),
            [RoomEventKind::Removed {
                user: RoomUser {
                    id: None,
                    username: "zed".into()
                },
                by: known("alice_id", "alice"),
            }]
        );
        let d = system(
            "s3",
            "added-user-to-team",
            "dave",
            ("alice_id", "alice"),
            2_000,
        );
        assert!(matches!(
            room_events(&on_json(&mut m, &d, Some(&meta("c")))).as_slice(),
            [RoomEventKind::Added { user, .. }] if user.username == "dave"
        ));
        let d = system(
            "s4",
            "removed-user-from-team",
            "dave",
            ("alice_id", "alice"),
            2_000,
        );
        assert!(matches!(
            room_events(&on_json(&mut m, &d, Some(&meta("c")))).as_slice(),
            [RoomEventKind::Removed { user, .. }] if user.username == "dave"
        ));
        // Without a member there is nothing to say.
        let d = system("s5", "au", "", ("alice_id", "alice"), 2_000);
        assert!(on_json(&mut m, &d, Some(&meta("c"))).is_empty());
    }

    #[test]
    fn renames_and_topic_changes_carry_the_new_value() {
        let mut m = mapper();
        let d = system("s1", "r", "town-square", ("alice_id", "alice"), 2_000);
        assert_eq!(
            room_events(&on_json(&mut m, &d, Some(&meta("c")))),
            [RoomEventKind::Renamed {
                name: "town-square".into(),
                by: known("alice_id", "alice"),
            }]
        );
        let d = system(
            "s2",
            "room_changed_topic",
            "Q3 planning",
            ("alice_id", "alice"),
            2_000,
        );
        assert_eq!(
            room_events(&on_json(&mut m, &d, Some(&meta("c")))),
            [RoomEventKind::TopicChanged {
                topic: "Q3 planning".into(),
                by: known("alice_id", "alice"),
            }]
        );
        // A cleared topic is an empty one.
        let d = system("s3", "room_changed_topic", "", ("alice_id", "alice"), 2_000);
        assert!(matches!(
            room_events(&on_json(&mut m, &d, Some(&meta("c")))).as_slice(),
            [RoomEventKind::TopicChanged { topic, .. }] if topic.is_empty()
        ));
    }

    #[test]
    fn a_pin_quotes_the_pinned_message() {
        let mut m = mapper();
        let mut d = system("s1", "message_pinned", "", ("alice_id", "alice"), 2_000);
        d["attachments"] = json!([{"text": "ship it friday", "author_name": "carol",
                                   "author_icon": "/avatar/carol", "ts": {"$date": 1_500},
                                   "attachments": []}]);
        assert_eq!(
            room_events(&on_json(&mut m, &d, Some(&meta("c")))),
            [RoomEventKind::Pinned {
                text: "ship it friday".into(),
                author: Some("carol".into()),
                by: known("alice_id", "alice"),
            }]
        );
        // The e2e variant quotes ciphertext: nothing.
        let mut e2e = system("s2", "message_pinned_e2e", "", ("alice_id", "alice"), 2_000);
        e2e["attachments"] =
            json!([{"text": "", "content": {"algorithm": "x", "ciphertext": "y"}}]);
        assert!(on_json(&mut m, &e2e, Some(&meta("c"))).is_empty());
    }

    #[test]
    fn a_room_event_is_delivered_once_and_only_when_new() {
        let mut m = mapper();
        let d = system("s1", "uj", "erin", ("erin_id", "erin"), 2_000);
        assert_eq!(on_json(&mut m, &d, Some(&meta("c"))).len(), 1);
        // The same document from a catch-up, then a later version of it (a reaction on the
        // system message): no second event, and never a message or a reaction.
        assert!(on_json(&mut m, &d, None).is_empty());
        let mut later = d.clone();
        later["_updatedAt"] = json!({"$date": 2_500});
        later["reactions"] = json!({":wave:": {"usernames": ["carol"]}});
        assert!(on_json(&mut m, &later, Some(&meta("c"))).is_empty());
        // Stamped before the mapper's start: old.
        let old = system("s2", "uj", "erin", ("erin_id", "erin"), 900);
        assert!(on_json(&mut m, &old, Some(&meta("c"))).is_empty());
    }

    #[test]
    fn after_a_restart_only_room_events_after_the_mark_are_new() {
        let mut m = mapper();
        m.resume_from(ResumePoint::at(Timestamp(2_000)));
        // Within the resume window (the ledger lists message ids, not room events): the
        // earlier process may have delivered it, so it is not delivered again.
        let at_mark = system("s1", "uj", "erin", ("erin_id", "erin"), 2_000);
        assert!(on_json(&mut m, &at_mark, Some(&meta("c"))).is_empty());
        let mut after = system("s2", "ul", "erin", ("erin_id", "erin"), 2_001);
        after["ts"] = json!({"$date": 2_001});
        let events = on_json(&mut m, &after, Some(&meta("c")));
        assert!(
            matches!(
                events.as_slice(),
                [Event::RoomEvent {
                    kind: RoomEventKind::Left { .. },
                    ..
                }]
            ),
            "{events:?}"
        );
    }

    #[test]
    fn room_events_follow_the_room_allowlist_and_membership() {
        let mut m = mapper();
        m.set_allowed_rooms(Some(HashSet::from(["R9".to_owned()])));
        let d = system("s1", "uj", "erin", ("erin_id", "erin"), 2_000);
        assert!(on_json(&mut m, &d, Some(&meta("c"))).is_empty());
        let mut m = mapper();
        let outsider = json!({"roomParticipant": false, "roomType": "c", "roomName": "general"});
        assert!(on_json(&mut m, &d, Some(&outsider)).is_empty());
    }
}
