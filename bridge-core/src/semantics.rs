//! The one place the bridge asks `channel-api` what to do: the access policy, commands,
//! threading, conversation ids and chunking. The bridge holds no policy of its own; this
//! module only translates `channel-api`'s answers into the wire shapes of `protocol`.

use std::collections::HashSet;

use channel_api::bot_loop::BotLoopGuard;
use channel_api::chunk::chunk_text;
use channel_api::command::{CommandAccess, CommandAction, CommandRequest};
use channel_api::config::{ChannelConfig, ResolvedRooms};
use channel_api::policy::{Decision, Dispatch, KnownMessages, Policy};
use channel_api::threading::{ReplyPlan, ReplyTarget};
use channel_api::{
    Event, Identity, Message, MessageRef, Namespace, RoomEventKind, TextLimit, UserId,
};

use crate::config::{AccountConfig, ConfigError};
use crate::protocol::{
    CommandWire, MentionsWire, MessageDeletedParams, MessageEditedParams, MessageParams,
    PairingRequiredParams, PairingRoomWire, PairingSenderWire, ReactionParams, ReactionUserWire,
    ReplyScope, ReplyThreadWire, RoomEventParams, RoomEventUserWire, RoomWire, SenderWire,
};

/// The drop reason for events that arrive after the account went fatal.
pub(crate) const AFTER_FATAL: &str = "account_fatal";

/// What the bridge does with one inbound event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Send a `message` notification (admitted), once its files and context are in.
    Message(Box<Admitted>),
    /// Send a `pairingRequired` notification.
    Pairing(PairingRequiredParams),
    /// Send a `reaction` notification.
    Reaction(ReactionParams),
    /// Send a `messageEdited` notification.
    Edited(MessageEditedParams),
    /// Send a `messageDeleted` notification.
    Deleted(MessageDeletedParams),
    /// Send a `roomEvent` notification.
    RoomEvent(Box<RoomEventParams>),
    /// Answer in the room (a refused or unknown command); never forwarded.
    Answer {
        /// Where the answer goes (the message's room and thread).
        plan: ReplyPlan,
        /// The answer.
        text: String,
        /// Counted as a skip under this reason.
        reason: String,
    },
    /// Not for the bot (counted, logged).
    Skip(String),
    /// Refused (counted, logged).
    Drop(String),
}

/// An admitted message: the notification without its files and context, and what the
/// core needs to fetch them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admitted {
    /// The notification; `attachments`, `history` and `threadHistory` still empty.
    pub(crate) params: MessageParams,
    /// The message as the backend gave it.
    pub(crate) message: Message,
    /// Where the reply (and the core's own notices) go.
    pub(crate) reply: ReplyPlan,
}

/// The channel semantics of one account.
#[derive(Debug)]
pub(crate) struct Semantics {
    policy: Policy,
}

impl Semantics {
    /// The policy for `config`, deciding as the bot `identity` (under the configured
    /// account id).
    pub(crate) fn new(
        config: &AccountConfig,
        identity: &Identity,
        namespace: &Namespace,
        rooms: &ResolvedRooms,
    ) -> Result<Self, ConfigError> {
        let identity = Identity {
            account: config.account_id().clone(),
            ..identity.clone()
        };
        let mut policy = Policy::new(config.channel().clone(), identity, namespace.clone())
            .map_err(|e| ConfigError::new(e.field.clone(), e.problem.to_string()))?;
        policy.set_room_ids(rooms.clone());
        Ok(Self { policy })
    }

    /// The policy configuration.
    pub(crate) fn config(&self) -> &ChannelConfig {
        self.policy.config()
    }

    /// The `rooms` keys that did not resolve to a room (denied).
    pub(crate) fn unresolved_rooms(&self) -> Vec<String> {
        self.policy
            .unresolved_rooms()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// Decides what to do with one event: `channel-api`'s decision, in wire shapes, and
    /// the message to remember as admitted (edits and deletes of it may reach the agent).
    pub(crate) fn classify(
        &self,
        event: &Event,
        approved: &HashSet<UserId>,
        known: &dyn KnownMessages,
        bot_loop: &mut BotLoopGuard,
        now_ms: u64,
    ) -> (Inbound, Option<MessageRef>) {
        let decision = self
            .policy
            .decide_at(bot_loop, now_ms, approved, known, event);
        let admitted = decision.admitted_message();
        (self.wire(decision), admitted)
    }

    fn wire(&self, decision: Decision) -> Inbound {
        match decision {
            Decision::Dispatch(Dispatch::Message(inbound)) => admitted(*inbound),
            Decision::Dispatch(Dispatch::Edited {
                message,
                conversation,
            }) => Inbound::Edited(MessageEditedParams {
                conversation_id: conversation.to_string(),
                room: RoomWire::from(&message.room),
                message_id: message.id.to_string(),
                thread_id: message.thread_root.as_ref().map(ToString::to_string),
                sender: SenderWire::from(&message.author),
                text: message.text.clone(),
            }),
            Decision::Dispatch(Dispatch::Deleted {
                room,
                kind,
                message,
                conversation,
            }) => Inbound::Deleted(MessageDeletedParams {
                conversation_id: conversation.to_string(),
                room: RoomWire {
                    id: room.to_string(),
                    kind,
                    name: None,
                },
                message_id: message.to_string(),
            }),
            Decision::Dispatch(Dispatch::Reaction {
                reaction,
                added,
                conversation,
            }) => Inbound::Reaction(ReactionParams {
                action: if added { "added" } else { "removed" }.to_owned(),
                conversation_id: conversation.to_string(),
                room: RoomWire::from(&reaction.room),
                message_id: reaction.message.id.to_string(),
                emoji: reaction.emoji.clone(),
                user: ReactionUserWire {
                    id: reaction.user.to_string(),
                    username: reaction.username.clone(),
                },
                message_author_id: reaction.message_author.as_ref().map(ToString::to_string),
            }),
            Decision::Dispatch(Dispatch::RoomEvent {
                room,
                kind,
                at,
                conversation,
            }) => Inbound::RoomEvent(Box::new(room_event_params(&room, &kind, at, &conversation))),
            // State changes are handled before the policy is asked.
            Decision::Dispatch(Dispatch::ConnectionState(_)) => {
                Inbound::Skip("connection_state".to_owned())
            }
            Decision::PairingRequired { sender, room } => Inbound::Pairing(PairingRequiredParams {
                sender: PairingSenderWire {
                    id: sender.id.to_string(),
                    username: sender.username.clone(),
                    display_name: sender.display_name.clone(),
                },
                room: PairingRoomWire {
                    id: room.to_string(),
                    kind: channel_api::RoomKind::Direct,
                },
            }),
            Decision::Skip(reason) => Inbound::Skip(reason.as_str().to_owned()),
            Decision::Drop(reason) => Inbound::Drop(reason.as_str().to_owned()),
        }
    }

    /// Splits outbound text into chunks that fit both `textChunkLimit` and the backend's
    /// limit (counted in the backend's unit; a maximum of 0 means it states none). Blank
    /// text gives no chunk.
    pub(crate) fn chunk(&self, text: &str, backend: TextLimit) -> Vec<String> {
        let configured = self.config().text_chunk_limit;
        let max = match backend.max {
            0 => configured,
            max => configured.min(max),
        };
        chunk_text(text, backend.with_max(max))
    }
}

/// The `roomEvent` notification of a dispatched room event.
fn room_event_params(
    room: &channel_api::RoomInfo,
    kind: &RoomEventKind,
    at: channel_api::Timestamp,
    conversation: &channel_api::ConversationId,
) -> RoomEventParams {
    let mut params = RoomEventParams {
        kind: kind.as_str().to_owned(),
        conversation_id: conversation.to_string(),
        room: RoomWire::from(room),
        timestamp: at.as_millis(),
        user: None,
        by: None,
        name: None,
        topic: None,
        text: None,
        author: None,
    };
    let wire = |user: &channel_api::RoomUser| Some(RoomEventUserWire::from(user));
    match kind {
        RoomEventKind::Joined { user } | RoomEventKind::Left { user } => params.user = wire(user),
        RoomEventKind::Added { user, by } | RoomEventKind::Removed { user, by } => {
            params.user = wire(user);
            params.by = wire(by);
        }
        RoomEventKind::Renamed { name, by } => {
            params.name = Some(name.clone());
            params.by = wire(by);
        }
        RoomEventKind::TopicChanged { topic, by } => {
            params.topic = Some(topic.clone());
            params.by = wire(by);
        }
        RoomEventKind::Pinned { text, author, by } => {
            params.text = Some(text.clone());
            params.author = author.clone();
            params.by = wire(by);
        }
        // A kind this bridge does not know yet: the kind name alone.
        _ => {}
    }
    params
}

/// An admitted message: a `message` notification, or, for a command the core answers
/// itself (refused, unknown, usage), that answer.
fn admitted(inbound: channel_api::policy::Inbound) -> Inbound {
    let command = match &inbound.command {
        None => None,
        Some(request) => match request.action() {
            CommandAction::Forward { slash } => Some(command_wire(request, slash)),
            CommandAction::Reply { text } => {
                return Inbound::Answer {
                    plan: inbound.reply,
                    text,
                    reason: answer_reason(request),
                }
            }
        },
    };
    let message: &Message = &inbound.message;
    let params = MessageParams {
        conversation_id: inbound.conversation.to_string(),
        message_id: message.id.to_string(),
        timestamp: message.timestamp.as_millis(),
        room: RoomWire::from(&message.room),
        thread_id: message.thread_root.as_ref().map(ToString::to_string),
        sender: SenderWire::from(&message.author),
        text: message.text.clone(),
        text_for_agent: inbound.text.clone(),
        mentions: MentionsWire {
            was_mentioned: inbound.mention.was_mentioned,
            explicit: inbound.mention.explicit,
            pattern: inbound.mention.pattern,
            implicit: inbound.mention.implicit,
            everyone: inbound.mention.everyone,
            require_mention: inbound.mention.required,
        },
        command,
        reply_thread: reply_thread(&inbound.reply),
        attachments: Vec::new(),
        history: Vec::new(),
        thread_history: Vec::new(),
    };
    Inbound::Message(Box::new(Admitted {
        params,
        message: inbound.message,
        reply: inbound.reply,
    }))
}

fn command_wire(request: &CommandRequest, slash: String) -> CommandWire {
    CommandWire {
        name: request.command.as_str().to_owned(),
        arg: request.command.argument().map(str::to_owned),
        slash,
    }
}

/// The skip reason counted for a command the core answered itself.
fn answer_reason(request: &CommandRequest) -> String {
    match request.access {
        CommandAccess::Denied(denial) => format!("command_denied_{}", denial.as_str()),
        CommandAccess::Allowed => format!("command_{}", request.command.as_str()),
    }
}

/// The reply target a `replyThread` stands for (the inverse of [`reply_thread`]).
pub(crate) fn reply_target(wire: ReplyThreadWire) -> ReplyTarget {
    let root = channel_api::MessageId::new(wire.id);
    match wire.scope {
        ReplyScope::All => ReplyTarget::Thread(root),
        ReplyScope::First => ReplyTarget::FirstChunkInThread(root),
    }
}

/// The `replyThread` the plugin passes back in `send`.
fn reply_thread(plan: &ReplyPlan) -> Option<ReplyThreadWire> {
    match &plan.target {
        ReplyTarget::TopLevel => None,
        ReplyTarget::Thread(root) => Some(ReplyThreadWire {
            id: root.to_string(),
            scope: ReplyScope::All,
        }),
        ReplyTarget::FirstChunkInThread(root) => Some(ReplyThreadWire {
            id: root.to_string(),
            scope: ReplyScope::First,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use channel_api::{ConversationId, RoomId, RoomInfo, RoomKind, RoomUser, Timestamp};
    use serde_json::json;

    fn wire(kind: RoomEventKind) -> serde_json::Value {
        let room = RoomInfo {
            id: RoomId::new("R1"),
            kind: RoomKind::Public,
            name: Some("general".into()),
        };
        let namespace = channel_api::Namespace::new("rocketchat").unwrap();
        let conversation =
            ConversationId::parse(&namespace, "rocketchat:default:channel:R1").unwrap();
        serde_json::to_value(room_event_params(&room, &kind, Timestamp(7), &conversation)).unwrap()
    }

    fn alice() -> RoomUser {
        RoomUser {
            id: Some(UserId::new("A1")),
            username: "alice".into(),
        }
    }

    #[test]
    fn each_kind_sets_its_own_fields_only() {
        let by = json!({"id": "A1", "username": "alice"});
        let added = wire(RoomEventKind::Added {
            user: RoomUser {
                id: None,
                username: "zed".into(),
            },
            by: alice(),
        });
        assert_eq!(
            added,
            json!({"kind": "added", "conversationId": "rocketchat:default:channel:R1",
                   "room": {"id": "R1", "kind": "public", "name": "general"},
                   "timestamp": 7, "user": {"id": null, "username": "zed"}, "by": by})
        );
        let topic = wire(RoomEventKind::TopicChanged {
            topic: String::new(),
            by: alice(),
        });
        assert_eq!(topic["topic"], json!(""));
        assert!(topic.get("user").is_none() && topic.get("name").is_none());
        let pinned = wire(RoomEventKind::Pinned {
            text: "ship it".into(),
            author: None,
            by: alice(),
        });
        assert_eq!(pinned["kind"], json!("pinned"));
        assert_eq!(pinned["text"], json!("ship it"));
        assert_eq!(pinned["by"], by);
        assert!(pinned.get("author").is_none(), "{pinned}");
        let renamed = wire(RoomEventKind::Renamed {
            name: "town".into(),
            by: alice(),
        });
        assert_eq!(renamed["name"], json!("town"));
    }
}
