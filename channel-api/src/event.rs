//! Events a channel delivers, and the connection state machine it reports.

use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, RoomId, UserId};
use crate::model::{Message, Reaction, RoomInfo, RoomKind, Timestamp};

/// The connection state of one account, reported on every change. One machine, owned by
/// the backend, the first connection included:
///
/// ```text
/// Connecting{phase, attempt} --ok--> Active --lost--> Reconnecting{phase, attempt} --ok--> Active
///        |  (retries with backoff, attempt counts up)          |
///        +------------- refused credentials / shutdown --------+--> FatallyClosed{cause}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum ConnectionState {
    /// Opening the first connection. `attempt` counts from 1; a failed attempt is retried
    /// with backoff (the phase is then `waiting`).
    Connecting {
        /// Which attempt this is, from 1.
        attempt: u32,
        /// How far the attempt has got.
        phase: Phase,
    },
    /// Connected, logged in, subscribed and caught up: events flow.
    Active,
    /// The connection was lost; getting it back. `attempt` counts from 1 per outage.
    Reconnecting {
        /// Which attempt this is, from 1.
        attempt: u32,
        /// How far the attempt has got.
        phase: Phase,
    },
    /// Stopped for good. No further events.
    FatallyClosed {
        /// Why it stopped.
        cause: FatalCause,
        /// Why, in words safe to log (never contains a secret).
        reason: String,
    },
}

/// How far one connection attempt has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Waiting before the next attempt (backoff, or a rate limit's reset).
    Waiting,
    /// Opening the transport (TCP, TLS, WebSocket).
    Opening,
    /// Presenting the credentials.
    LoggingIn,
    /// Subscribing to the event streams.
    Subscribing,
    /// Reading what was missed while no connection was up.
    CatchingUp,
}

/// Why an account stopped for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FatalCause {
    /// The credentials were refused or revoked (anywhere: login, a REST call, a
    /// subscription). Requests answer `Unauthorized`.
    Unauthorized,
    /// The host shut the channel down. Requests answer `Closed`.
    Shutdown,
    /// The configuration cannot work (for example the token belongs to another user).
    /// Requests answer `Closed`.
    Refused,
}

impl ConnectionState {
    /// The state of a channel that has just started.
    pub const STARTING: ConnectionState = ConnectionState::Connecting {
        attempt: 1,
        phase: Phase::Opening,
    };

    /// Whether no further events will ever arrive.
    pub fn is_fatal(&self) -> bool {
        matches!(self, ConnectionState::FatallyClosed { .. })
    }

    /// Whether events flow.
    pub fn is_active(&self) -> bool {
        matches!(self, ConnectionState::Active)
    }

    /// The error a request gets in this state when it needs the server, `None` when
    /// active. Fatal states give final errors, the others a retryable `Disconnected`.
    pub fn unavailable(&self) -> Option<crate::Error> {
        match self {
            ConnectionState::Active => None,
            ConnectionState::Connecting { .. } => Some(crate::Error::Disconnected {
                reason: "not connected yet".into(),
            }),
            ConnectionState::Reconnecting { .. } => Some(crate::Error::Disconnected {
                reason: "reconnecting".into(),
            }),
            ConnectionState::FatallyClosed { cause, reason } => Some(match cause {
                FatalCause::Unauthorized => crate::Error::Unauthorized {
                    reason: reason.clone(),
                },
                FatalCause::Shutdown | FatalCause::Refused => crate::Error::Closed {
                    reason: reason.clone(),
                },
            }),
        }
    }
}

/// Something that happened on the chat server, as seen by the bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Event {
    /// A new message (delivered exactly once per message id).
    MessageCreated {
        /// The message.
        message: Message,
    },
    /// An existing message's text changed.
    MessageEdited {
        /// The message, as it is now.
        message: Message,
    },
    /// A message was deleted.
    MessageDeleted {
        /// The room it was in.
        room: RoomId,
        /// The room's kind, when known.
        room_kind: Option<RoomKind>,
        /// The deleted message.
        message: MessageId,
    },
    /// A user added a reaction.
    ReactionAdded {
        /// The reaction.
        reaction: Reaction,
    },
    /// A user removed a reaction.
    ReactionRemoved {
        /// The reaction.
        reaction: Reaction,
    },
    /// Something happened to a room: a member joined or left, the room was renamed, its
    /// topic changed, a message was pinned. Chat servers post these as system messages;
    /// they are never a [`Event::MessageCreated`] (their text is not a user's words).
    RoomEvent {
        /// The room.
        room: RoomInfo,
        /// What happened.
        kind: RoomEventKind,
        /// When (the system message's timestamp).
        at: Timestamp,
    },
    /// The connection state changed.
    ConnectionStateChanged {
        /// The new state.
        state: ConnectionState,
    },
}

/// A user named by a room event. The id is unknown when the server names the user only by
/// username (some servers say who was added or removed by username only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomUser {
    /// User id, when known.
    pub id: Option<UserId>,
    /// Username.
    pub username: String,
}

/// What happened to a room ([`Event::RoomEvent`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum RoomEventKind {
    /// `user` joined the room by themselves.
    Joined {
        /// Who joined.
        user: RoomUser,
    },
    /// `user` left the room by themselves.
    Left {
        /// Who left.
        user: RoomUser,
    },
    /// `by` added `user` to the room.
    Added {
        /// Who was added.
        user: RoomUser,
        /// Who added them.
        by: RoomUser,
    },
    /// `by` removed `user` from the room.
    Removed {
        /// Who was removed.
        user: RoomUser,
        /// Who removed them.
        by: RoomUser,
    },
    /// `by` renamed the room to `name`.
    Renamed {
        /// The new name.
        name: String,
        /// Who renamed it.
        by: RoomUser,
    },
    /// `by` changed the room's topic to `topic` (empty: cleared).
    TopicChanged {
        /// The new topic.
        topic: String,
        /// Who changed it.
        by: RoomUser,
    },
    /// `by` pinned a message.
    Pinned {
        /// The pinned message's text, as quoted by the server (user-written content).
        text: String,
        /// The pinned message's author's username, when the server says.
        author: Option<String>,
        /// Who pinned it.
        by: RoomUser,
    },
}

impl RoomEventKind {
    /// The user who did it: the joiner or leaver, else `by`.
    pub fn actor(&self) -> &RoomUser {
        match self {
            RoomEventKind::Joined { user } | RoomEventKind::Left { user } => user,
            RoomEventKind::Added { by, .. }
            | RoomEventKind::Removed { by, .. }
            | RoomEventKind::Renamed { by, .. }
            | RoomEventKind::TopicChanged { by, .. }
            | RoomEventKind::Pinned { by, .. } => by,
        }
    }

    /// A stable name for logs and the wire (`joined`, `left`, `added`, `removed`,
    /// `renamed`, `topicChanged`, `pinned`).
    pub fn as_str(&self) -> &'static str {
        match self {
            RoomEventKind::Joined { .. } => "joined",
            RoomEventKind::Left { .. } => "left",
            RoomEventKind::Added { .. } => "added",
            RoomEventKind::Removed { .. } => "removed",
            RoomEventKind::Renamed { .. } => "renamed",
            RoomEventKind::TopicChanged { .. } => "topicChanged",
            RoomEventKind::Pinned { .. } => "pinned",
        }
    }
}

impl Event {
    /// The room the event happened in, when it has one.
    pub fn room(&self) -> Option<&RoomId> {
        match self {
            Event::MessageCreated { message } | Event::MessageEdited { message } => {
                Some(&message.room.id)
            }
            Event::MessageDeleted { room, .. } => Some(room),
            Event::ReactionAdded { reaction } | Event::ReactionRemoved { reaction } => {
                Some(&reaction.message.room)
            }
            Event::RoomEvent { room, .. } => Some(&room.id),
            Event::ConnectionStateChanged { .. } => None,
        }
    }
}

/// The receiving end of a channel's events. Events arrive in order; `None` means the
/// channel has shut down (after a final `ConnectionStateChanged`).
#[derive(Debug)]
pub struct EventStream {
    rx: tokio::sync::mpsc::Receiver<Event>,
}

impl EventStream {
    /// Wraps the receiving half a backend created.
    pub fn new(rx: tokio::sync::mpsc::Receiver<Event>) -> Self {
        Self { rx }
    }

    /// The next event, or `None` once the channel has shut down.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is already queued.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }
}
