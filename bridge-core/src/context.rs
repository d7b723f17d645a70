//! What the agent has already seen: the last message the core dispatched from each
//! conversation, and the last message seen in each room. From these the core decides which
//! context (`history`, `threadHistory`) an admitted message carries
//! (`docs/bridge-protocol.md`, the `message` notification).
//!
//! - A room message gets the room's messages after the previous message dispatched from
//!   its conversation. When the message seen just before it in the room *is* that previous
//!   message, nothing came between and no fetch is needed (the common case of a busy
//!   conversation with the bot; it saves a server round trip per message). Not every
//!   backend delivers the bot's own messages as events, so the bridge also marks a room
//!   when it starts posting there (`send`, `sendFile`, its own notices); a connection
//!   change forgets every room's last message, since events may have been missed. (Posts
//!   by the same bot account from another client, on a backend that does not echo them,
//!   are the one thing this misses.)
//! - A thread message gets the start of its thread when its conversation has no dispatch
//!   yet.
//!
//! Both maps are bounded: forgetting an old conversation only means it gets its context
//! fetched again.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;

use channel_api::{Message, MessageId, RoomId, Timestamp, UserId};

use crate::protocol::{HistoryEntryWire, SenderWire};

/// Conversations (and rooms) remembered.
const REMEMBERED: usize = 4096;

/// A message's place in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    /// Server time.
    pub(crate) timestamp: Timestamp,
    /// The message.
    pub(crate) id: MessageId,
}

impl Mark {
    /// Whether `message` was posted after this one. Messages of the same millisecond count
    /// as after, except this one itself.
    fn is_before(&self, message: &Message) -> bool {
        message.timestamp > self.timestamp
            || (message.timestamp == self.timestamp && message.id != self.id)
    }
}

/// A map that forgets its oldest keys beyond a capacity.
#[derive(Debug)]
struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Sets `key`, returning its previous value.
    fn insert(&mut self, key: K, value: V) -> Option<V> {
        let previous = self.map.insert(key.clone(), value);
        if previous.is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.map.remove(&oldest);
                }
            }
        }
        previous
    }

    fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}

#[derive(Debug)]
struct State {
    /// Conversation id -> the last message dispatched from it.
    dispatched: BoundedMap<String, Mark>,
    /// Room -> the last message seen in it (any author, admitted or not).
    last_seen: BoundedMap<RoomId, MessageId>,
}

/// The conversations' windows of one bridge run.
#[derive(Debug)]
pub(crate) struct Windows {
    state: Mutex<State>,
}

impl Default for Windows {
    fn default() -> Self {
        Self::with_capacity(REMEMBERED)
    }
}

/// What a dispatched message needs fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Needed {
    /// Nothing (no limit, or nothing new since the conversation's last dispatch).
    Nothing,
    /// Room messages after this mark (`None`: the conversation's first dispatch).
    Room(Option<Mark>),
    /// The start of the thread (its first dispatch).
    ThreadStart,
}

impl Windows {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                dispatched: BoundedMap::new(capacity),
                last_seen: BoundedMap::new(capacity),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new message appeared in `room` (call for every one, before the policy); returns
    /// the one seen before it, if known.
    pub(crate) fn saw(&self, room: &RoomId, id: &MessageId) -> Option<MessageId> {
        self.lock().last_seen.insert(room.clone(), id.clone())
    }

    /// The bridge is about to post in `room`: the room is no longer known to be quiet.
    pub(crate) fn posting(&self, room: &RoomId) {
        // An empty id never equals a dispatched message's id.
        self.lock()
            .last_seen
            .insert(room.clone(), MessageId::new(String::new()));
    }

    /// The connection changed: messages may have been missed, so no room is known to be
    /// quiet any more.
    pub(crate) fn forget_rooms(&self) {
        self.lock().last_seen.clear();
    }

    /// Records that `message` is dispatched from `conversation` and says what context it
    /// needs. `seen_before` is what [`Windows::saw`] returned for it; `room_limit` and
    /// `thread_limit` are the limits in force (0 = none).
    pub(crate) fn dispatch(
        &self,
        conversation: &str,
        message: &Message,
        seen_before: Option<&MessageId>,
        room_limit: usize,
        thread_limit: usize,
    ) -> Needed {
        let mark = Mark {
            timestamp: message.timestamp,
            id: message.id.clone(),
        };
        let previous = self.lock().dispatched.insert(conversation.to_owned(), mark);
        if message.thread_root.is_some() {
            return if previous.is_none() && thread_limit > 0 {
                Needed::ThreadStart
            } else {
                Needed::Nothing
            };
        }
        if room_limit == 0 {
            return Needed::Nothing;
        }
        match previous {
            Some(previous) if seen_before == Some(&previous.id) => Needed::Nothing,
            previous => Needed::Room(previous),
        }
    }
}

/// The room history of `message`: what the server returned, minus anything not strictly
/// between `after` and the message, oldest first.
pub(crate) fn room_window(
    fetched: Vec<Message>,
    message: &Message,
    after: Option<&Mark>,
    bot: &UserId,
) -> Vec<HistoryEntryWire> {
    fetched
        .into_iter()
        .filter(|m| m.id != message.id && m.timestamp <= message.timestamp)
        .filter(|m| after.is_none_or(|mark| mark.is_before(m)))
        .map(|m| entry(&m, bot))
        .collect()
}

/// The start of `message`'s thread, without the message itself or anything after it, at
/// most `limit` entries.
pub(crate) fn thread_start(
    fetched: Vec<Message>,
    message: &Message,
    limit: usize,
    bot: &UserId,
) -> Vec<HistoryEntryWire> {
    fetched
        .into_iter()
        .filter(|m| m.id != message.id && m.timestamp <= message.timestamp)
        .take(limit)
        .map(|m| entry(&m, bot))
        .collect()
}

/// One history entry.
fn entry(message: &Message, bot: &UserId) -> HistoryEntryWire {
    HistoryEntryWire {
        message_id: message.id.to_string(),
        timestamp: message.timestamp.as_millis(),
        sender: SenderWire::from(&message.author),
        text: message.text.clone(),
        thread_id: message.thread_root.as_ref().map(ToString::to_string),
        from_self: &message.author.id == bot,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use channel_api::{Author, RoomInfo, RoomKind};

    use super::*;

    fn msg(id: &str, ts: i64, author: &str, thread: Option<&str>) -> Message {
        Message {
            id: MessageId::new(id),
            room: RoomInfo {
                id: RoomId::new("R1"),
                kind: RoomKind::Public,
                name: None,
            },
            author: Author {
                id: UserId::new(author),
                username: author.to_lowercase(),
                display_name: None,
                is_bot: author == "BOT",
            },
            text: format!("text {id}"),
            thread_root: thread.map(MessageId::new),
            mentions: vec![],
            timestamp: Timestamp(ts),
            edited: false,
            reply_to_bot: false,
            bot_in_thread: false,
            quotes_bot: false,
            attachments: vec![],
        }
    }

    fn ids(entries: &[HistoryEntryWire]) -> Vec<&str> {
        entries.iter().map(|e| e.message_id.as_str()).collect()
    }

    #[test]
    fn a_room_conversation_fetches_only_when_something_came_between() {
        let w = Windows::default();
        let room = RoomId::new("R1");
        let m1 = msg("M1", 10, "U1", None);
        let before = w.saw(&room, &m1.id);
        assert_eq!(
            w.dispatch("conv", &m1, before.as_ref(), 50, 20),
            Needed::Room(None)
        );
        // M2 follows M1 directly: nothing to fetch.
        let m2 = msg("M2", 20, "U1", None);
        let before = w.saw(&room, &m2.id);
        assert_eq!(
            w.dispatch("conv", &m2, before.as_ref(), 50, 20),
            Needed::Nothing
        );
        // Someone else spoke, then M3.
        w.saw(&room, &MessageId::new("X"));
        let m3 = msg("M3", 40, "U1", None);
        let before = w.saw(&room, &m3.id);
        assert_eq!(
            w.dispatch("conv", &m3, before.as_ref(), 50, 20),
            Needed::Room(Some(Mark {
                timestamp: Timestamp(20),
                id: MessageId::new("M2")
            }))
        );
        // The bridge posting in the room counts as something in between.
        let m3b = msg("M3b", 45, "U1", None);
        let before = w.saw(&room, &m3b.id);
        assert_eq!(
            w.dispatch("conv", &m3b, before.as_ref(), 50, 20),
            Needed::Nothing
        );
        w.posting(&room);
        let m3c = msg("M3c", 46, "U1", None);
        let before = w.saw(&room, &m3c.id);
        assert!(matches!(
            w.dispatch("conv", &m3c, before.as_ref(), 50, 20),
            Needed::Room(Some(_))
        ));
        // After a reconnect the room is not known to be quiet.
        w.forget_rooms();
        let m4 = msg("M4", 50, "U1", None);
        let before = w.saw(&room, &m4.id);
        assert!(matches!(
            w.dispatch("conv", &m4, before.as_ref(), 50, 20),
            Needed::Room(Some(_))
        ));
        // Limit 0: never.
        assert_eq!(w.dispatch("other", &m4, None, 0, 20), Needed::Nothing);
    }

    #[test]
    fn a_thread_gets_its_start_only_on_its_first_dispatch() {
        let w = Windows::default();
        let t1 = msg("T1", 10, "U1", Some("ROOT"));
        assert_eq!(w.dispatch("thread", &t1, None, 50, 20), Needed::ThreadStart);
        let t2 = msg("T2", 20, "U1", Some("ROOT"));
        assert_eq!(w.dispatch("thread", &t2, None, 50, 20), Needed::Nothing);
        assert_eq!(w.dispatch("other", &t2, None, 50, 0), Needed::Nothing);
    }

    #[test]
    fn old_conversations_are_forgotten() {
        let w = Windows::with_capacity(2);
        let m = msg("M", 1, "U1", Some("ROOT"));
        for conv in ["a", "b", "c"] {
            assert_eq!(w.dispatch(conv, &m, None, 1, 1), Needed::ThreadStart);
        }
        assert_eq!(w.dispatch("c", &m, None, 1, 1), Needed::Nothing);
        assert_eq!(
            w.dispatch("a", &m, None, 1, 1),
            Needed::ThreadStart,
            "a was forgotten"
        );
    }

    #[test]
    fn the_room_window_is_strictly_between() {
        let current = msg("M5", 50, "U1", None);
        let fetched = vec![
            msg("M1", 10, "U1", None),
            msg("M2", 20, "BOT", None),
            msg("M3", 30, "U2", Some("M1")),
            msg("M5", 50, "U1", None),
        ];
        let bot = UserId::new("BOT");
        let all = room_window(fetched.clone(), &current, None, &bot);
        assert_eq!(ids(&all), vec!["M1", "M2", "M3"]);
        assert!(all[1].from_self && !all[0].from_self);
        assert_eq!(all[2].thread_id.as_deref(), Some("M1"));
        assert_eq!(all[0].sender.username, "u1");
        let mark = Mark {
            timestamp: Timestamp(10),
            id: MessageId::new("M1"),
        };
        assert_eq!(
            ids(&room_window(fetched, &current, Some(&mark), &bot)),
            vec!["M2", "M3"]
        );
    }

    #[test]
    fn the_thread_start_leaves_out_the_message_and_later_ones() {
        let current = msg("T2", 30, "U1", Some("ROOT"));
        let fetched = vec![
            msg("ROOT", 10, "U1", None),
            msg("T1", 20, "U2", Some("ROOT")),
            msg("T2", 30, "U1", Some("ROOT")),
            msg("T3", 40, "U2", Some("ROOT")),
        ];
        let bot = UserId::new("BOT");
        assert_eq!(
            ids(&thread_start(fetched.clone(), &current, 5, &bot)),
            vec!["ROOT", "T1"]
        );
        assert_eq!(ids(&thread_start(fetched, &current, 1, &bot)), vec!["ROOT"]);
    }
}
