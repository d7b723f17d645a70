//! Where a reply goes: `replyToMode` (`off` | `first` | `all` | `batched`).
//!
//! - An inbound message inside a thread is always answered in that thread.
//! - A top-level message is answered at the top level with `off`; with `first` the first
//!   chunk opens a thread on the inbound message and later chunks go to the top level;
//!   with `all` every chunk goes into that thread.
//! - `batched` threads like `first`. In OpenClaw it is a single-use reply reference
//!   (`isSingleUseReplyToMode` is true for `first` and `batched`); the core's extra rule,
//!   that the implicit reference is kept only for a turn that was a debounced batch of
//!   several messages (`resolveBatchedReplyThreadingPolicy`), is one a channel opts into,
//!   and Slack's channel does not: its reply planner treats `batched` as `first`, and so
//!   does Mattermost's (documented). Here, as in Slack, each turn is one message.
//! - The mode is the room entry's `replyToMode`, else `replyToModeByChatType` for the
//!   room's kind, else the account's `replyToMode` (default `off`). Which `rooms` entry
//!   applies is the policy's call ([`crate::policy::Policy::room_entry`]); this module is
//!   handed the entry.
//!
//! ```
//! use channel_api::config::ReplyToMode;
//! use channel_api::threading::ReplyPlan;
//! # use channel_api::*;
//! # let message = Message {
//! #     id: MessageId::new("M1"),
//! #     room: RoomInfo { id: RoomId::new("R1"), kind: RoomKind::Public, name: None },
//! #     author: Author { id: UserId::new("U1"), username: "alice".into(), display_name: None, is_bot: false },
//! #     text: "hi".into(), thread_root: None, mentions: vec![], timestamp: Timestamp(0), edited: false,
//! #     reply_to_bot: false, bot_in_thread: false, quotes_bot: false, attachments: vec![],
//! # };
//! // `message` is a top-level message with id M1.
//! let plan = ReplyPlan::new(ReplyToMode::First, &message);
//! assert_eq!(plan.thread_for_chunk(0), Some(&MessageId::new("M1")));
//! assert_eq!(plan.thread_for_chunk(1), None);
//! let outbound = plan.outbound(0, "answer");
//! assert_eq!(outbound.thread, Some(MessageId::new("M1")));
//! ```

use crate::config::{ChannelConfig, ReplyToMode, RoomConfig};
use crate::ids::{MessageId, RoomId};
use crate::model::{Message, OutboundMessage, RoomKind};

/// The `replyToMode` in force in a room of `kind` whose `rooms` entry (if any) is
/// `entry`: the entry's, then the chat type's, then the account's.
pub fn resolve_reply_to_mode(
    config: &ChannelConfig,
    entry: Option<&RoomConfig>,
    kind: RoomKind,
) -> ReplyToMode {
    entry
        .and_then(|entry| entry.reply_to_mode)
        .or_else(|| config.reply_to_mode_by_chat_type.for_kind(kind))
        .unwrap_or(config.reply_to_mode)
}

/// The reply plan for an inbound message under the config's `replyToMode`; `entry` is the
/// message's room entry, if any.
pub fn plan_reply(
    config: &ChannelConfig,
    entry: Option<&RoomConfig>,
    message: &Message,
) -> ReplyPlan {
    ReplyPlan::new(
        resolve_reply_to_mode(config, entry, message.room.kind),
        message,
    )
}

/// Which thread the chunks of a reply go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyTarget {
    /// Every chunk at the top level.
    TopLevel,
    /// Every chunk into the thread rooted at this message.
    Thread(MessageId),
    /// The first chunk into the thread rooted at this message, later chunks top level.
    FirstChunkInThread(MessageId),
}

/// Where the answer to one inbound message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPlan {
    /// The room the inbound message came from (replies never move to another room).
    pub room: RoomId,
    /// The thread(s) the chunks go to.
    pub target: ReplyTarget,
}

impl ReplyPlan {
    /// The plan for answering `message` under `mode`.
    pub fn new(mode: ReplyToMode, message: &Message) -> Self {
        let target = match (&message.thread_root, mode) {
            (Some(root), _) => ReplyTarget::Thread(root.clone()),
            (None, ReplyToMode::Off) => ReplyTarget::TopLevel,
            (None, ReplyToMode::First | ReplyToMode::Batched) => {
                ReplyTarget::FirstChunkInThread(message.id.clone())
            }
            (None, ReplyToMode::All) => ReplyTarget::Thread(message.id.clone()),
        };
        Self {
            room: message.room.id.clone(),
            target,
        }
    }

    /// The same room and thread as `message`: its thread if it has one, else the top level.
    /// Command replies use this.
    pub fn in_place(message: &Message) -> Self {
        Self::new(ReplyToMode::Off, message)
    }

    /// The thread chunk number `index` (from 0) goes to, or `None` for the top level.
    pub fn thread_for_chunk(&self, index: usize) -> Option<&MessageId> {
        match &self.target {
            ReplyTarget::TopLevel => None,
            ReplyTarget::Thread(root) => Some(root),
            ReplyTarget::FirstChunkInThread(root) => (index == 0).then_some(root),
        }
    }

    /// The thread the conversation continues in, if any: a visible thread follows the
    /// reply whenever its first chunk goes into one (Slack seeds `:thread:<root>` then).
    pub fn session_thread(&self) -> Option<&MessageId> {
        self.thread_for_chunk(0)
    }

    /// The outbound message for chunk number `index` (from 0).
    pub fn outbound(&self, index: usize, text: impl Into<String>) -> OutboundMessage {
        let message = OutboundMessage::new(self.room.clone(), text);
        match self.thread_for_chunk(index) {
            Some(root) => message.in_thread(root.clone()),
            None => message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReplyToModeByChatType;
    use crate::ids::UserId;
    use crate::model::{Author, RoomInfo, Timestamp};

    fn message(kind: RoomKind, thread_root: Option<&str>) -> Message {
        Message {
            id: MessageId::new("M1"),
            room: RoomInfo {
                id: RoomId::new("R1"),
                kind,
                name: Some("general".into()),
            },
            author: Author {
                id: UserId::new("U1"),
                username: "alice".into(),
                display_name: None,
                is_bot: false,
            },
            text: "hi".into(),
            thread_root: thread_root.map(MessageId::new),
            mentions: vec![],
            timestamp: Timestamp(0),
            edited: false,
            reply_to_bot: false,
            bot_in_thread: false,
            quotes_bot: false,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn chunks_go_where_the_mode_says() {
        let m = |s: &str| Some(MessageId::new(s));
        // (mode, inbound thread root, thread of chunk 0, chunk 1, chunk 2)
        let cases = [
            (ReplyToMode::Off, None, [None, None, None]),
            (ReplyToMode::First, None, [m("M1"), None, None]),
            (ReplyToMode::All, None, [m("M1"), m("M1"), m("M1")]),
            (ReplyToMode::Batched, None, [m("M1"), None, None]),
            // A threaded inbound message is always answered in its thread.
            (ReplyToMode::Off, Some("T"), [m("T"), m("T"), m("T")]),
            (ReplyToMode::First, Some("T"), [m("T"), m("T"), m("T")]),
            (ReplyToMode::All, Some("T"), [m("T"), m("T"), m("T")]),
            (ReplyToMode::Batched, Some("T"), [m("T"), m("T"), m("T")]),
        ];
        for (mode, root, expected) in cases {
            let plan = ReplyPlan::new(mode, &message(RoomKind::Public, root));
            assert_eq!(plan.room.as_str(), "R1");
            for (index, thread) in expected.iter().enumerate() {
                assert_eq!(
                    plan.thread_for_chunk(index),
                    thread.as_ref(),
                    "{mode:?} {root:?} #{index}"
                );
                let outbound = plan.outbound(index, "x");
                assert_eq!(&outbound.thread, thread, "{mode:?} {root:?} #{index}");
                assert_eq!(outbound.room.as_str(), "R1");
            }
            assert_eq!(plan.session_thread(), expected[0].as_ref());
        }
    }

    #[test]
    fn in_place_answers_in_the_same_room_and_thread() {
        let top = ReplyPlan::in_place(&message(RoomKind::Public, None));
        assert_eq!(top.target, ReplyTarget::TopLevel);
        let threaded = ReplyPlan::in_place(&message(RoomKind::Public, Some("T")));
        assert_eq!(threaded.target, ReplyTarget::Thread(MessageId::new("T")));
    }

    #[test]
    fn the_room_overrides_the_chat_type_which_overrides_the_account() {
        let by_type = ReplyToModeByChatType {
            direct: Some(ReplyToMode::First),
            group: None,
            channel: Some(ReplyToMode::All),
        };
        let room = |mode| {
            Some(RoomConfig {
                reply_to_mode: mode,
                ..RoomConfig::default()
            })
        };
        let config = |global, by_type: &ReplyToModeByChatType, entry: Option<RoomConfig>| {
            let config = ChannelConfig {
                reply_to_mode: global,
                reply_to_mode_by_chat_type: by_type.clone(),
                ..ChannelConfig::default()
            };
            (config, entry)
        };
        let none = ReplyToModeByChatType::default();
        let cases = [
            (
                config(ReplyToMode::Off, &none, None),
                RoomKind::Public,
                ReplyToMode::Off,
            ),
            (
                config(ReplyToMode::All, &none, None),
                RoomKind::Public,
                ReplyToMode::All,
            ),
            (
                config(ReplyToMode::Off, &by_type, None),
                RoomKind::Public,
                ReplyToMode::All,
            ),
            (
                config(ReplyToMode::Off, &by_type, None),
                RoomKind::Direct,
                ReplyToMode::First,
            ),
            // No `group` override: the account's mode.
            (
                config(ReplyToMode::All, &by_type, None),
                RoomKind::Private,
                ReplyToMode::All,
            ),
            // The room entry wins over the chat type.
            (
                config(ReplyToMode::Off, &by_type, room(Some(ReplyToMode::Off))),
                RoomKind::Public,
                ReplyToMode::Off,
            ),
            (
                config(ReplyToMode::Off, &none, room(Some(ReplyToMode::First))),
                RoomKind::Private,
                ReplyToMode::First,
            ),
            // A room entry without replyToMode falls through.
            (
                config(ReplyToMode::Off, &by_type, room(None)),
                RoomKind::Public,
                ReplyToMode::All,
            ),
        ];
        for ((config, entry), kind, expected) in cases {
            let msg = message(kind, None);
            assert_eq!(
                resolve_reply_to_mode(&config, entry.as_ref(), kind),
                expected,
                "{kind:?} {config:?} {entry:?}"
            );
            assert_eq!(
                plan_reply(&config, entry.as_ref(), &msg),
                ReplyPlan::new(expected, &msg)
            );
        }
    }
}
