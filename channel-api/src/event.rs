//! Events a channel delivers, and the connection state machine it reports.

use serde::{Deserialize, Serialize};

use crate::ids::{MessageId, RoomId};
use crate::model::{Message, Reaction, RoomKind};

/// The connection state of one account, reported on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum ConnectionState {
    /// Opening the first connection.
    Connecting,
    /// Connected, logged in, subscribed and caught up: events flow.
    Active,
    /// The connection was lost; retrying. `attempt` counts from 1.
    Reconnecting {
        /// How many reconnect attempts have been made so far in this outage.
        attempt: u32,
    },
    /// Stopped for good (credentials revoked, refused, or shut down). No further events.
    FatallyClosed {
        /// Why, in words safe to log (never contains a secret).
        reason: String,
    },
}

impl ConnectionState {
    /// Whether no further events will ever arrive.
    pub fn is_fatal(&self) -> bool {
        matches!(self, ConnectionState::FatallyClosed { .. })
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
    /// The connection state changed.
    ConnectionStateChanged {
        /// The new state.
        state: ConnectionState,
    },
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
