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

use crate::config::ThreadHistoryScope;
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Needed {
    /// The recent window (`history`), if any.
    pub(crate) recent: Option<Recent>,
    /// The start of the thread (`threadHistory`; the thread's first dispatch).
    pub(crate) thread_start: bool,
}

/// A recent window: the messages before the dispatched one and after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recent {
    /// The previous dispatch from the conversation (`None`: its first).
    pub(crate) after: Option<Mark>,
    /// Only this thread's messages (root included), under `threadHistoryScope: thread`;
    /// `None`: the room's.
    pub(crate) thread: Option<MessageId>,
}

impl Needed {
    /// Nothing to fetch.
    pub(crate) const NOTHING: Needed = Needed {
        recent: None,
        thread_start: false,
    };

    pub(crate) fn is_nothing(&self) -> bool {
        self.recent.is_none() && !self.thread_start
    }
}

/// The limits and scope in force for one dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The recent window's limit for this message (`historyLimit`, `dmHistoryLimit`,
    /// `dms.<userId>.historyLimit`; 0 = none).
    pub(crate) recent: usize,
    /// `threadInitialHistoryLimit` (0 = none).
    pub(crate) thread_initial: usize,
    /// `threadHistoryScope`.
    pub(crate) scope: ThreadHistoryScope,
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
    /// needs: the one place that decides, by the limits and `threadHistoryScope`, which
    /// history a message carries (see [`ThreadHistoryScope`] for Slack's rules).
    /// `seen_before` is what [`Windows::saw`] returned for it.
    pub(crate) fn dispatch(
        &self,
        conversation: &str,
        message: &Message,
        seen_before: Option<&MessageId>,
        limits: Limits,
    ) -> Needed {
        let mark = Mark {
            timestamp: message.timestamp,
            id: message.id.clone(),
        };
        let previous = self.lock().dispatched.insert(conversation.to_owned(), mark);
        // Nothing came in the room since the conversation's last dispatch: no window
        // (in the room or in one of its threads) has anything new.
        let quiet = previous
            .as_ref()
            .is_some_and(|previous| seen_before == Some(&previous.id));
        let first = previous.is_none();
        let window = |thread: Option<MessageId>| {
            (limits.recent > 0 && !quiet).then(|| Recent {
                after: previous.clone(),
                thread,
            })
        };
        let Some(root) = &message.thread_root else {
            return Needed {
                recent: window(None),
                thread_start: false,
            };
        };
        let thread_start = first && limits.thread_initial > 0;
        let recent = match limits.scope {
            // The thread's start stands for its recent window on the first dispatch.
            ThreadHistoryScope::Thread if first => None,
            ThreadHistoryScope::Thread => window(Some(root.clone())),
            ThreadHistoryScope::Channel => window(None),
        };
        Needed {
            recent,
            thread_start,
        }
    }
}

/// The room history of `message`: what the server returned, minus anything not strictly
/// between `after` and the message, oldest first.
/// With `recent.thread`, only that thread's messages (its root and replies); at most
/// `limit`, the latest.
pub(crate) fn room_window(
    fetched: Vec<Message>,
    message: &Message,
    recent: &Recent,
    limit: usize,
    bot: &UserId,
) -> Vec<HistoryEntryWire> {
    let in_scope = |m: &Message| match &recent.thread {
        None => true,
        Some(root) => &m.id == root || m.thread_root.as_ref() == Some(root),
    };
    let mut kept: Vec<HistoryEntryWire> = fetched
        .into_iter()
        .filter(|m| m.id != message.id && m.timestamp <= message.timestamp)
        .filter(|m| recent.after.as_ref().is_none_or(|mark| mark.is_before(m)))
        .filter(|m| in_scope(m))
        .map(|m| entry(&m, bot))
        .collect();
    let excess = kept.len().saturating_sub(limit);
    kept.drain(..excess);
    kept
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

    fn lim(recent: usize, thread_initial: usize) -> Limits {
        Limits {
            recent,
            thread_initial,
            scope: ThreadHistoryScope::Thread,
        }
    }

    fn recent(after: Option<Mark>, thread: Option<&str>) -> Recent {
        Recent {
            after,
            thread: thread.map(MessageId::new),
        }
    }

    fn room(after: Option<Mark>) -> Needed {
        Needed {
            recent: Some(recent(after, None)),
            thread_start: false,
        }
    }

    fn start() -> Needed {
        Needed {
            recent: None,
            thread_start: true,
        }
    }

    #[test]
    fn a_room_conversation_fetches_only_when_something_came_between() {
        let w = Windows::default();
        let room_id = RoomId::new("R1");
        let m1 = msg("M1", 10, "U1", None);
        let before = w.saw(&room_id, &m1.id);
        assert_eq!(
            w.dispatch("conv", &m1, before.as_ref(), lim(50, 20)),
            room(None)
        );
        // M2 follows M1 directly: nothing to fetch.
        let m2 = msg("M2", 20, "U1", None);
        let before = w.saw(&room_id, &m2.id);
        assert_eq!(
            w.dispatch("conv", &m2, before.as_ref(), lim(50, 20)),
            Needed::NOTHING
        );
        // Someone else spoke, then M3.
        w.saw(&room_id, &MessageId::new("X"));
        let m3 = msg("M3", 40, "U1", None);
        let before = w.saw(&room_id, &m3.id);
        assert_eq!(
            w.dispatch("conv", &m3, before.as_ref(), lim(50, 20)),
            room(Some(Mark {
                timestamp: Timestamp(20),
                id: MessageId::new("M2")
            }))
        );
        // The bridge posting in the room counts as something in between.
        let m3b = msg("M3b", 45, "U1", None);
        let before = w.saw(&room_id, &m3b.id);
        assert_eq!(
            w.dispatch("conv", &m3b, before.as_ref(), lim(50, 20)),
            Needed::NOTHING
        );
        w.posting(&room_id);
        let m3c = msg("M3c", 46, "U1", None);
        let before = w.saw(&room_id, &m3c.id);
        assert!(matches!(
            w.dispatch("conv", &m3c, before.as_ref(), lim(50, 20)),
            Needed {
                recent: Some(Recent {
                    after: Some(_),
                    thread: None
                }),
                thread_start: false
            }
        ));
        // After a reconnect the room is not known to be quiet.
        w.forget_rooms();
        let m4 = msg("M4", 50, "U1", None);
        let before = w.saw(&room_id, &m4.id);
        assert!(matches!(
            w.dispatch("conv", &m4, before.as_ref(), lim(50, 20)),
            Needed {
                recent: Some(Recent {
                    after: Some(_),
                    thread: None
                }),
                thread_start: false
            }
        ));
        // Limit 0: never.
        assert_eq!(w.dispatch("other", &m4, None, lim(0, 20)), Needed::NOTHING);
    }

    fn t1_mark() -> Mark {
        Mark {
            timestamp: Timestamp(10),
            id: MessageId::new("T1"),
        }
    }

    #[test]
    fn under_thread_scope_a_thread_gets_its_start_then_its_own_window() {
        let w = Windows::default();
        let t1 = msg("T1", 10, "U1", Some("ROOT"));
        assert_eq!(w.dispatch("thread", &t1, None, lim(50, 20)), start());
        // Later: the thread's messages since the last dispatch from it.
        let t2 = msg("T2", 20, "U1", Some("ROOT"));
        assert_eq!(
            w.dispatch("thread", &t2, None, lim(50, 20)),
            Needed {
                recent: Some(recent(Some(t1_mark()), Some("ROOT"))),
                thread_start: false,
            }
        );
        // Nothing came in the room since: nothing.
        let room_id = RoomId::new("R1");
        w.saw(&room_id, &t2.id);
        let t3 = msg("T3", 30, "U1", Some("ROOT"));
        let before = w.saw(&room_id, &t3.id);
        assert_eq!(
            w.dispatch("thread", &t3, before.as_ref(), lim(50, 20)),
            Needed::NOTHING
        );
        // No thread start with its limit 0, and no recent window on a first dispatch.
        assert_eq!(w.dispatch("other", &t2, None, lim(50, 0)), Needed::NOTHING);
        // With the recent limit 0, a later dispatch gets nothing either.
        assert_eq!(w.dispatch("thread", &t3, None, lim(0, 20)), Needed::NOTHING);
    }

    #[test]
    fn under_channel_scope_a_thread_gets_the_room_window_and_its_start() {
        let w = Windows::default();
        let channel = |recent, thread_initial| Limits {
            recent,
            thread_initial,
            scope: ThreadHistoryScope::Channel,
        };
        let t1 = msg("T1", 10, "U1", Some("ROOT"));
        assert_eq!(
            w.dispatch("thread", &t1, None, channel(50, 20)),
            Needed {
                recent: Some(recent(None, None)),
                thread_start: true,
            }
        );
        let t2 = msg("T2", 20, "U1", Some("ROOT"));
        assert_eq!(
            w.dispatch("thread", &t2, None, channel(50, 20)),
            room(Some(t1_mark()))
        );
        let t3 = msg("T3", 30, "U1", Some("ROOT"));
        assert_eq!(
            w.dispatch("fresh", &t3, None, channel(0, 20)),
            start(),
            "historyLimit 0: the thread start only"
        );
    }

    #[test]
    fn a_thread_window_keeps_its_thread_and_the_latest() {
        let current = msg("T3", 50, "U1", Some("ROOT"));
        let fetched = vec![
            msg("ROOT", 10, "U1", None),
            msg("X1", 15, "U2", None),
            msg("T1", 20, "U2", Some("ROOT")),
            msg("Y1", 25, "U2", Some("OTHER")),
            msg("T2", 30, "BOT", Some("ROOT")),
        ];
        let bot = UserId::new("BOT");
        let thread = recent(None, Some("ROOT"));
        assert_eq!(
            ids(&room_window(fetched.clone(), &current, &thread, 50, &bot)),
            vec!["ROOT", "T1", "T2"]
        );
        assert_eq!(
            ids(&room_window(fetched.clone(), &current, &thread, 2, &bot)),
            vec!["T1", "T2"],
            "the latest within the limit"
        );
        assert_eq!(
            ids(&room_window(
                fetched,
                &current,
                &recent(None, None),
                50,
                &bot
            )),
            vec!["ROOT", "X1", "T1", "Y1", "T2"]
        );
    }

    #[test]
    fn old_conversations_are_forgotten() {
        let w = Windows::with_capacity(2);
        let m = msg("M", 1, "U1", Some("ROOT"));
        for conv in ["a", "b", "c"] {
            assert_eq!(w.dispatch(conv, &m, None, lim(1, 1)), start());
        }
        assert_eq!(w.dispatch("c", &m, None, lim(0, 1)), Needed::NOTHING);
        assert_eq!(
            w.dispatch("a", &m, None, lim(0, 1)),
            start(),
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
        let all = room_window(fetched.clone(), &current, &recent(None, None), 50, &bot);
        assert_eq!(ids(&all), vec!["M1", "M2", "M3"]);
        assert!(all[1].from_self && !all[0].from_self);
        assert_eq!(all[2].thread_id.as_deref(), Some("M1"));
        assert_eq!(all[0].sender.username, "u1");
        let mark = Mark {
            timestamp: Timestamp(10),
            id: MessageId::new("M1"),
        };
        assert_eq!(
            ids(&room_window(
                fetched,
                &current,
                &recent(Some(mark), None),
                50,
                &bot
            )),
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
