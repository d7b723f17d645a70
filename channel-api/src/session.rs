//! The conversation-id grammar behind OpenClaw's `messaging.resolveSessionConversation`.
//!
//! ```text
//! <namespace>:<account>:<direct|group|channel>:<roomId>[:thread:<rootId>]
//! ```
//!
//! The namespace is the channel's name in OpenClaw (`slack` for its Slack
//! channel): the host passes it, this crate knows no backend. The chat type is OpenClaw's
//! word, as Slack's channel uses it: `direct` is a 1:1 DM, `group` a group DM, `channel`
//! any room, public or private. Ids keep their case (backends' ids are case-sensitive;
//! OpenClaw lowercases its own session keys, so the native ids must come from here, never
//! from those keys). No component may be empty or contain `:`.
//!
//! ```
//! use channel_api::session::{ConversationId, Namespace};
//! use channel_api::{AccountId, ChatType, MessageId, RoomId};
//!
//! let ns = Namespace::new("acme")?;
//! let id = ConversationId::new(
//!     ns.clone(),
//!     AccountId::new("default"),
//!     ChatType::Channel,
//!     RoomId::new("GENERAL"),
//!     Some(MessageId::new("AbC123")),
//! )?;
//! assert_eq!(id.to_string(), "acme:default:channel:GENERAL:thread:AbC123");
//! assert_eq!(ConversationId::parse(&ns, &id.to_string())?, id);
//! assert_eq!(id.room_conversation().to_string(), "acme:default:channel:GENERAL");
//! # Ok::<(), channel_api::session::SessionError>(())
//! ```

use std::fmt;

use crate::ids::{AccountId, MessageId, RoomId};
use crate::model::ChatType;

const THREAD_MARKER: &str = "thread";

/// The first segment of every conversation id: the channel's name in OpenClaw. Lowercase
/// letters, digits, `-` and `_`; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

impl Namespace {
    /// Checks and wraps a namespace.
    pub fn new(name: impl Into<String>) -> Result<Self, SessionError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if valid {
            Ok(Self(name))
        } else {
            Err(SessionError::BadNamespace { found: name })
        }
    }

    /// The namespace.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `text` without a leading `<namespace>:`, when it has one.
    pub fn strip<'a>(&self, text: &'a str) -> Option<&'a str> {
        text.strip_prefix(self.0.as_str())?.strip_prefix(':')
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One conversation: a room, or a thread in a room, of one bot account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationId {
    namespace: Namespace,
    account: AccountId,
    chat: ChatType,
    room: RoomId,
    thread: Option<MessageId>,
}

/// Why a conversation id could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The id does not start with the namespace.
    #[error("conversation id must start with \"{expected}:\", found {found:?}")]
    WrongPrefix {
        /// The namespace expected.
        expected: String,
        /// The first segment found.
        found: String,
    },
    /// A namespace that is empty or has characters other than `a-z0-9-_`.
    #[error("a namespace is lowercase letters, digits, '-' and '_', found {found:?}")]
    BadNamespace {
        /// The namespace given.
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
    /// The chat type is not `direct`, `group` or `channel`.
    #[error("unknown chat type {found:?} (expected direct, group or channel)")]
    UnknownKind {
        /// The word found.
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
        namespace: Namespace,
        account: AccountId,
        chat: ChatType,
        room: RoomId,
        thread: Option<MessageId>,
    ) -> Result<Self, SessionError> {
        check_component("account id", account.as_str())?;
        check_component("room id", room.as_str())?;
        if let Some(thread) = &thread {
            check_component("thread root id", thread.as_str())?;
        }
        Ok(Self {
            namespace,
            account,
            chat,
            room,
            thread,
        })
    }

    /// Parses an id produced by [`ConversationId`]'s `Display` in `namespace`.
    pub fn parse(namespace: &Namespace, text: &str) -> Result<Self, SessionError> {
        let mut parts = text.splitn(6, ':');
        let prefix = parts.next().unwrap_or_default();
        if prefix != namespace.as_str() {
            return Err(SessionError::WrongPrefix {
                expected: namespace.to_string(),
                found: prefix.to_owned(),
            });
        }
        let account = required(parts.next(), "account id")?;
        let chat = parse_chat_type(required(parts.next(), "chat type")?)?;
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
            namespace: namespace.clone(),
            account: AccountId::new(account),
            chat,
            room: RoomId::new(room),
            thread,
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The bot account.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The chat type.
    pub fn chat_type(&self) -> ChatType {
        self.chat
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

    /// The same room, in the thread rooted at `root`.
    pub fn in_thread(&self, root: MessageId) -> Result<ConversationId, SessionError> {
        check_component("thread root id", root.as_str())?;
        Ok(Self {
            thread: Some(root),
            ..self.clone()
        })
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.namespace, self.account, self.chat, self.room
        )?;
        if let Some(thread) = &self.thread {
            write!(f, ":{THREAD_MARKER}:{thread}")?;
        }
        Ok(())
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

fn parse_chat_type(word: &str) -> Result<ChatType, SessionError> {
    ChatType::ALL
        .into_iter()
        .find(|chat| chat.as_str() == word)
        .ok_or_else(|| SessionError::UnknownKind {
            found: word.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ns() -> Namespace {
        Namespace::new("acme").unwrap()
    }

    fn id(account: &str, kind: ChatType, room: &str, thread: Option<&str>) -> ConversationId {
        ConversationId::new(
            ns(),
            AccountId::new(account),
            kind,
            RoomId::new(room),
            thread.map(MessageId::new),
        )
        .unwrap()
    }

    #[test]
    fn the_namespace_is_the_hosts() {
        let mock = Namespace::new("mock").unwrap();
        let conversation = ConversationId::new(
            mock.clone(),
            AccountId::new("a"),
            ChatType::Direct,
            RoomId::new("D1"),
            None,
        )
        .unwrap();
        assert_eq!(conversation.to_string(), "mock:a:direct:D1");
        assert_eq!(
            ConversationId::parse(&mock, "mock:a:direct:D1").unwrap(),
            conversation
        );
        assert!(matches!(
            ConversationId::parse(&ns(), "mock:a:direct:D1"),
            Err(SessionError::WrongPrefix { .. })
        ));
        for bad in ["", "Acme", "a:b", "x y"] {
            assert!(Namespace::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(mock.strip("mock:R1"), Some("R1"));
        assert_eq!(mock.strip("mockR1"), None);
    }

    #[test]
    fn ids_render_in_the_grammar_and_parse_back() {
        let cases = [
            (
                id("default", ChatType::Direct, "aBcD", None),
                "acme:default:direct:aBcD",
            ),
            (
                id("default", ChatType::Channel, "GENERAL", None),
                "acme:default:channel:GENERAL",
            ),
            (
                id("ops-bot_2", ChatType::Group, "Grp1", None),
                "acme:ops-bot_2:group:Grp1",
            ),
            (
                id(
                    "default",
                    ChatType::Channel,
                    "GENERAL",
                    Some("AbCdEf123XyZ"),
                ),
                "acme:default:channel:GENERAL:thread:AbCdEf123XyZ",
            ),
        ];
        for (id, text) in cases {
            assert_eq!(id.to_string(), text);
            assert_eq!(ConversationId::parse(&ns(), text).unwrap(), id);
        }
    }

    #[test]
    fn a_thread_conversation_knows_its_room_conversation() {
        let thread = id("a", ChatType::Channel, "R", Some("T"));
        assert_eq!(
            thread.room_conversation(),
            id("a", ChatType::Channel, "R", None)
        );
        assert_eq!(thread.thread().map(MessageId::as_str), Some("T"));
        assert_eq!(thread.room().as_str(), "R");
        assert_eq!(thread.account().as_str(), "a");
        assert_eq!(thread.chat_type(), ChatType::Channel);
    }

    #[test]
    fn bad_input_gives_a_clear_error() {
        use SessionError::*;
        let cases: Vec<(&str, SessionError)> = vec![
            (
                "",
                WrongPrefix {
                    expected: "acme".into(),
                    found: "".into(),
                },
            ),
            (
                "slack:default:channel:R",
                WrongPrefix {
                    expected: "acme".into(),
                    found: "slack".into(),
                },
            ),
            (
                "Acme:default:channel:R",
                WrongPrefix {
                    expected: "acme".into(),
                    found: "Acme".into(),
                },
            ),
            ("acme", Missing { what: "account id" }),
            ("acme::channel:R", Empty { what: "account id" }),
            ("acme:default", Missing { what: "chat type" }),
            (
                "acme:default:room:R",
                UnknownKind {
                    found: "room".into(),
                },
            ),
            (
                "acme:default:Channel:R",
                UnknownKind {
                    found: "Channel".into(),
                },
            ),
            ("acme:default:channel", Missing { what: "room id" }),
            ("acme:default:channel:", Empty { what: "room id" }),
            (
                "acme:default:channel:R:thread",
                Missing {
                    what: "thread root id",
                },
            ),
            (
                "acme:default:channel:R:thread:",
                Empty {
                    what: "thread root id",
                },
            ),
            (
                "acme:default:channel:R:reply:T",
                NotAThread {
                    found: "reply".into(),
                },
            ),
            ("acme:default:channel:R:", NotAThread { found: "".into() }),
            (
                "acme:default:channel:R:thread:T:x",
                ExtraSegments { rest: "x".into() },
            ),
            (
                "acme:default:channel:R:thread:T:",
                ExtraSegments { rest: "".into() },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                ConversationId::parse(&ns(), text),
                Err(expected),
                "{text:?}"
            );
        }
        let message = ConversationId::parse(&ns(), "slack:x:channel:R")
            .unwrap_err()
            .to_string();
        assert!(message.contains("acme:"), "{message}");
    }

    #[test]
    fn building_rejects_empty_and_colon_components() {
        let build = |account: &str, room: &str, thread: Option<&str>| {
            ConversationId::new(
                ns(),
                AccountId::new(account),
                ChatType::Direct,
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

    fn kind() -> impl Strategy<Value = ChatType> {
        prop_oneof![
            Just(ChatType::Direct),
            Just(ChatType::Channel),
            Just(ChatType::Group)
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
                ns(),
                AccountId::new(account),
                kind,
                RoomId::new(room),
                thread.map(MessageId::new),
            ).unwrap();
            let text = id.to_string();
            prop_assert_eq!(ConversationId::parse(&ns(), &text).unwrap(), id.clone());
            prop_assert_eq!(ConversationId::parse(&ns(), &text).unwrap().to_string(), text);
        }
    }
}
