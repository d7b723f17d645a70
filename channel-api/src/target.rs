//! The target grammar: what a host may name as the place to send to.
//!
//! ```text
//! <namespace>:<account>:<chat>:<roomId>[:thread:<rootId>]   a conversation id (session)
//! <namespace>:<roomId>                                      a room id with the channel prefix
//! #<room-name>                                              a room by name
//! @<username>                                               the DM with that user
//! <roomId>                                                  a bare room id
//! ```
//!
//! One grammar, next to the conversation id it extends: the bridge parses `send.target`
//! with it, the plugin hands targets through unchanged.
//!
//! ```
//! use channel_api::session::Namespace;
//! use channel_api::target::Target;
//! use channel_api::RoomId;
//!
//! let ns = Namespace::new("acme")?;
//! assert_eq!(Target::parse(&ns, "#general")?, Target::RoomName("general".into()));
//! assert_eq!(Target::parse(&ns, "acme:GENERAL")?, Target::Room(RoomId::new("GENERAL")));
//! assert!(matches!(Target::parse(&ns, "acme:acct:channel:R1")?, Target::Conversation(_)));
//! # Ok::<(), channel_api::target::TargetError>(())
//! ```

use crate::ids::RoomId;
use crate::session::{ConversationId, Namespace, SessionError};

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A conversation id: the room, and the thread when it names one.
    Conversation(ConversationId),
    /// A room by id.
    Room(RoomId),
    /// A room by name (without `#`).
    RoomName(String),
    /// The direct conversation with a user, by login name (without `@`).
    User(String),
}

/// Why a target could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The target is empty (or only `#` / `@`).
    #[error("target is empty")]
    Empty,
    /// It starts like a conversation id but is not a valid one.
    #[error("target: {0}")]
    Conversation(#[from] SessionError),
    /// It has characters no id or name can have (white space, control characters).
    #[error("target {found:?} has white space or control characters")]
    BadCharacters {
        /// The target given.
        found: String,
    },
}

impl Target {
    /// Parses a target (surrounding white space is ignored).
    pub fn parse(namespace: &Namespace, text: &str) -> Result<Target, TargetError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TargetError::Empty);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TargetError::BadCharacters {
                found: text.to_owned(),
            });
        }
        if let Some(rest) = namespace.strip(text) {
            // `<ns>:<roomId>` has no further colon; anything longer is a conversation id.
            if !rest.is_empty() && !rest.contains(':') {
                return Ok(Target::Room(RoomId::new(rest)));
            }
            return Ok(Target::Conversation(ConversationId::parse(
                namespace, text,
            )?));
        }
        if let Some(name) = text.strip_prefix('#') {
            return non_empty(name).map(|name| Target::RoomName(name.to_owned()));
        }
        if let Some(user) = text.strip_prefix('@') {
            return non_empty(user).map(|user| Target::User(user.to_owned()));
        }
        Ok(Target::Room(RoomId::new(text)))
    }

    /// The room id, when the target shows it without a lookup.
    pub fn room_id(&self) -> Option<&RoomId> {
        match self {
            Target::Conversation(conversation) => Some(conversation.room()),
            Target::Room(room) => Some(room),
            Target::RoomName(_) | Target::User(_) => None,
        }
    }
}

fn non_empty(text: &str) -> Result<&str, TargetError> {
    if text.is_empty() {
        Err(TargetError::Empty)
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, MessageId};
    use crate::model::ChatType;

    fn ns() -> Namespace {
        Namespace::new("acme").unwrap()
    }

    #[test]
    fn every_form_parses_to_its_target() {
        let conversation = ConversationId::new(
            ns(),
            AccountId::new("ops"),
            ChatType::Channel,
            RoomId::new("R1"),
            Some(MessageId::new("T1")),
        )
        .unwrap();
        let cases = [
            (
                "acme:ops:channel:R1:thread:T1",
                Target::Conversation(conversation),
            ),
            ("acme:R1", Target::Room(RoomId::new("R1"))),
            ("  R1 ", Target::Room(RoomId::new("R1"))),
            ("#general", Target::RoomName("general".into())),
            ("@alice", Target::User("alice".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(Target::parse(&ns(), text).unwrap(), expected, "{text:?}");
        }
    }

    #[test]
    fn bad_targets_say_why() {
        assert_eq!(Target::parse(&ns(), " "), Err(TargetError::Empty));
        assert_eq!(Target::parse(&ns(), "#"), Err(TargetError::Empty));
        assert_eq!(Target::parse(&ns(), "@"), Err(TargetError::Empty));
        assert!(matches!(
            Target::parse(&ns(), "acme:ops:room:R1"),
            Err(TargetError::Conversation(SessionError::UnknownKind { .. }))
        ));
        assert!(matches!(
            Target::parse(&ns(), "acme:"),
            Err(TargetError::Conversation(_))
        ));
        assert!(matches!(
            Target::parse(&ns(), "a b"),
            Err(TargetError::BadCharacters { .. })
        ));
    }

    #[test]
    fn another_namespace_is_just_a_room_id_with_a_colon_not_a_conversation() {
        // A target is parsed in the host's namespace only; `slack:...` is not ours.
        assert_eq!(
            Target::parse(&ns(), "slack:R1").unwrap(),
            Target::Room(RoomId::new("slack:R1"))
        );
    }

    #[test]
    fn the_room_is_known_without_a_lookup_only_for_ids() {
        assert_eq!(
            Target::parse(&ns(), "R1").unwrap().room_id(),
            Some(&RoomId::new("R1"))
        );
        assert_eq!(Target::parse(&ns(), "#x").unwrap().room_id(), None);
    }
}
