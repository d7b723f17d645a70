//! The conversation-id grammar behind OpenClaw's `messaging.resolveSessionConversation`.
//!
//! ```text
//! rocketchat:<account>:<direct|channel|group>:<roomId>[:thread:<rootId>]
//! ```
//!
//! `direct` is a DM, `channel` a public room, `group` a private group (OpenClaw's chat-type
//! words). Ids keep their case (Rocket.Chat ids are case-sensitive; OpenClaw lowercases its
//! own session keys, so the native ids must come from here, never from those keys). No
//! component may be empty or contain `:`.
//!
//! ```
//! use channel_api::session::ConversationId;
//! use channel_api::{AccountId, MessageId, RoomId, RoomKind};
//!
//! let id = ConversationId::new(
//!     AccountId::new("default"),
//!     RoomKind::Public,
//!     RoomId::new("GENERAL"),
//!     Some(MessageId::new("AbC123")),
//! )?;
//! assert_eq!(id.to_string(), "rocketchat:default:channel:GENERAL:thread:AbC123");
//! assert_eq!(ConversationId::parse(&id.to_string())?, id);
//! assert_eq!(id.room_conversation().to_string(), "rocketchat:default:channel:GENERAL");
//! # Ok::<(), channel_api::session::SessionError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::ids::{AccountId, MessageId, RoomId};
use crate::model::RoomKind;

/// The first segment of every conversation id.
pub const PREFIX: &str = "rocketchat";

const THREAD_MARKER: &str = "thread";

/// One conversation: a room, or a thread in a room, of one bot account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationId {
    account: AccountId,
    kind: RoomKind,
    room: RoomId,
    thread: Option<MessageId>,
}

/// Why a conversation id could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The id does not start with `rocketchat:`.
    #[error("conversation id must start with \"rocketchat:\", found {found:?}")]
    WrongPrefix {
        /// The first segment found.
        found: String,
    },
    /// A segment is missing.
    #[error("conversation id is missing the {what}")]
    Missing {
        /// Which segment.
        what: &'static str,
    },
    /// A segment is empty.
    #[error("conversation id has an empty {what}")]
    Empty {
        /// Which segment.
        what: &'static str,
    },
    /// The room kind is not `direct`, `channel` or `group`.
    #[error("unknown room kind {found:?} (expected direct, channel or group)")]
    UnknownKind {
        /// The kind found.
        found: String,
    },
    /// The fifth segment is not `thread`.
    #[error("expected \"thread\" after the room id, found {found:?}")]
    NotAThread {
        /// The segment found.
        found: String,
    },
    /// Segments after the thread root.
    #[error("conversation id has extra segments after the thread root: {rest:?}")]
    ExtraSegments {
        /// The text after the thread root.
        rest: String,
    },
    /// A component given to [`ConversationId::new`] contains `:`.
    #[error("the {what} must not contain ':' ({found:?})")]
    ColonInComponent {
        /// Which component.
        what: &'static str,
        /// The component.
        found: String,
    },
}

impl ConversationId {
    /// Builds an id. Components must be non-empty and free of `:`.
    pub fn new(
        account: AccountId,
        kind: RoomKind,
        room: RoomId,
        thread: Option<MessageId>,
    ) -> Result<Self, SessionError> {
        check_component("account id", account.as_str())?;
        check_component("room id", room.as_str())?;
        if let Some(thread) = &thread {
            check_component("thread root id", thread.as_str())?;
        }
        Ok(Self {
            account,
            kind,
            room,
            thread,
        })
    }

    /// Parses an id produced by [`ConversationId::to_string`].
    pub fn parse(text: &str) -> Result<Self, SessionError> {
        let mut parts = text.splitn(6, ':');
        let prefix = parts.next().unwrap_or_default();
        if prefix != PREFIX {
            return Err(SessionError::WrongPrefix {
                found: prefix.to_owned(),
            });
        }
        let account = required(parts.next(), "account id")?;
        let kind = parse_kind(required(parts.next(), "room kind")?)?;
        let room = required(parts.next(), "room id")?;
        let thread = match parts.next() {
            None => None,
            Some(THREAD_MARKER) => {
                let root = required(parts.next(), "thread root id")?;
                if let Some(rest) = root.split_once(':').map(|(_, rest)| rest) {
                    return Err(SessionError::ExtraSegments {
                        rest: rest.to_owned(),
                    });
                }
                Some(MessageId::new(root))
            }
            Some(other) => {
                return Err(SessionError::NotAThread {
                    found: other.to_owned(),
                })
            }
        };
        Ok(Self {
            account: AccountId::new(account),
            kind,
            room: RoomId::new(room),
            thread,
        })
    }

    /// The bot account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The room's kind.
    pub fn kind(&self) -> RoomKind {
        self.kind
    }

    /// The room.
    pub fn room(&self) -> &RoomId {
        &self.room
    }

    /// The thread root, for a thread conversation.
    pub fn thread(&self) -> Option<&MessageId> {
        self.thread.as_ref()
    }

    /// The room's own conversation (OpenClaw's `ParentSessionKey` for a thread).
    pub fn room_conversation(&self) -> ConversationId {
        Self {
            thread: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}:{}:{}:{}",
            self.account,
            self.kind.chat_type(),
            self.room
        )?;
        if let Some(thread) = &self.thread {
            write!(f, ":{THREAD_MARKER}:{thread}")?;
        }
        Ok(())
    }
}

impl FromStr for ConversationId {
    type Err = SessionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

fn check_component(what: &'static str, value: &str) -> Result<(), SessionError> {
    if value.is_empty() {
        return Err(SessionError::Empty { what });
    }
    if value.contains(':') {
        return Err(SessionError::ColonInComponent {
            what,
            found: value.to_owned(),
        });
    }
    Ok(())
}

fn required<'a>(part: Option<&'a str>, what: &'static str) -> Result<&'a str, SessionError> {
    match part {
        None => Err(SessionError::Missing { what }),
        Some("") => Err(SessionError::Empty { what }),
        Some(part) => Ok(part),
    }
}

fn parse_kind(word: &str) -> Result<RoomKind, SessionError> {
    [RoomKind::Direct, RoomKind::Public, RoomKind::Private]
        .into_iter()
        .find(|kind| kind.chat_type() == word)
        .ok_or_else(|| SessionError::UnknownKind {
            found: word.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(account: &str, kind: RoomKind, room: &str, thread: Option<&str>) -> ConversationId {
        ConversationId::new(
            AccountId::new(account),
            kind,
            RoomId::new(room),
            thread.map(MessageId::new),
        )
        .unwrap()
    }

    #[test]
    fn ids_render_in_the_grammar_and_parse_back() {
        let cases = [
            (
                id("default", RoomKind::Direct, "aBcD", None),
                "rocketchat:default:direct:aBcD",
            ),
            (
                id("default", RoomKind::Public, "GENERAL", None),
                "rocketchat:default:channel:GENERAL",
            ),
            (
                id("ops-bot_2", RoomKind::Private, "Grp1", None),
                "rocketchat:ops-bot_2:group:Grp1",
            ),
            (
                id("default", RoomKind::Public, "GENERAL", Some("AbCdEf123XyZ")),
                "rocketchat:default:channel:GENERAL:thread:AbCdEf123XyZ",
            ),
        ];
        for (id, text) in cases {
            assert_eq!(id.to_string(), text);
            assert_eq!(ConversationId::parse(text).unwrap(), id);
            assert_eq!(text.parse::<ConversationId>().unwrap(), id);
        }
    }

    #[test]
    fn a_thread_conversation_knows_its_room_conversation() {
        let thread = id("a", RoomKind::Public, "R", Some("T"));
        assert_eq!(
            thread.room_conversation(),
            id("a", RoomKind::Public, "R", None)
        );
        assert_eq!(thread.thread().map(MessageId::as_str), Some("T"));
        assert_eq!(thread.room().as_str(), "R");
        assert_eq!(thread.account().as_str(), "a");
        assert_eq!(thread.kind(), RoomKind::Public);
    }

    #[test]
    fn bad_input_gives_a_clear_error() {
        use SessionError::*;
        let cases: Vec<(&str, SessionError)> = vec![
            ("", WrongPrefix { found: "".into() }),
            (
                "slack:default:channel:R",
                WrongPrefix {
                    found: "slack".into(),
                },
            ),
            (
                "RocketChat:default:channel:R",
                WrongPrefix {
                    found: "RocketChat".into(),
                },
            ),
            ("rocketchat", Missing { what: "account id" }),
            ("rocketchat::channel:R", Empty { what: "account id" }),
            ("rocketchat:default", Missing { what: "room kind" }),
            (
                "rocketchat:default:room:R",
                UnknownKind {
                    found: "room".into(),
                },
            ),
            (
                "rocketchat:default:Channel:R",
                UnknownKind {
                    found: "Channel".into(),
                },
            ),
            ("rocketchat:default:channel", Missing { what: "room id" }),
            ("rocketchat:default:channel:", Empty { what: "room id" }),
            (
                "rocketchat:default:channel:R:thread",
                Missing {
                    what: "thread root id",
                },
            ),
            (
                "rocketchat:default:channel:R:thread:",
                Empty {
                    what: "thread root id",
                },
            ),
            (
                "rocketchat:default:channel:R:reply:T",
                NotAThread {
                    found: "reply".into(),
                },
            ),
            (
                "rocketchat:default:channel:R:",
                NotAThread { found: "".into() },
            ),
            (
                "rocketchat:default:channel:R:thread:T:x",
                ExtraSegments { rest: "x".into() },
            ),
            (
                "rocketchat:default:channel:R:thread:T:",
                ExtraSegments { rest: "".into() },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(ConversationId::parse(text), Err(expected), "{text:?}");
        }
        let message = ConversationId::parse("slack:x:channel:R")
            .unwrap_err()
            .to_string();
        assert!(message.contains("rocketchat:"), "{message}");
    }

    #[test]
    fn building_rejects_empty_and_colon_components() {
        let build = |account: &str, room: &str, thread: Option<&str>| {
            ConversationId::new(
                AccountId::new(account),
                RoomKind::Direct,
                RoomId::new(room),
                thread.map(MessageId::new),
            )
        };
        let cases = [
            (
                build("", "R", None),
                SessionError::Empty { what: "account id" },
            ),
            (
                build("a", "", None),
                SessionError::Empty { what: "room id" },
            ),
            (
                build("a", "R", Some("")),
                SessionError::Empty {
                    what: "thread root id",
                },
            ),
            (
                build("a:b", "R", None),
                SessionError::ColonInComponent {
                    what: "account id",
                    found: "a:b".into(),
                },
            ),
            (
                build("a", "R:1", None),
                SessionError::ColonInComponent {
                    what: "room id",
                    found: "R:1".into(),
                },
            ),
            (
                build("a", "R", Some("T:1")),
                SessionError::ColonInComponent {
                    what: "thread root id",
                    found: "T:1".into(),
                },
            ),
        ];
        for (result, expected) in cases {
            assert_eq!(result, Err(expected));
        }
    }

    fn component() -> impl Strategy<Value = String> {
        "[^:]{1,24}"
    }

    fn kind() -> impl Strategy<Value = RoomKind> {
        prop_oneof![
            Just(RoomKind::Direct),
            Just(RoomKind::Public),
            Just(RoomKind::Private)
        ]
    }

    proptest! {
        #[test]
        fn build_then_parse_round_trips(
            account in component(),
            kind in kind(),
            room in component(),
            thread in proptest::option::of(component()),
        ) {
            let id = ConversationId::new(
                AccountId::new(account),
                kind,
                RoomId::new(room),
                thread.map(MessageId::new),
            ).unwrap();
            let text = id.to_string();
            prop_assert_eq!(ConversationId::parse(&text).unwrap(), id.clone());
            prop_assert_eq!(ConversationId::parse(&text).unwrap().to_string(), text);
        }
    }
}
