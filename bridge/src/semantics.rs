//! The one place the bridge asks `channel-api` what to do: the access policy, commands,
//! threading, conversation ids and chunking. The bridge holds no policy of its own; this
//! module only translates `channel-api`'s answers into the wire shapes of `protocol`.

use std::collections::HashSet;

use channel_api::config::ChannelConfig;
use channel_api::session::ConversationId;
use channel_api::threading::{self, ReplyPlan};
use channel_api::{AccountId, Event, Identity, Message, MessageId, RoomId, RoomKind, UserId};

use crate::config::AccountConfig;
use crate::protocol::{
    MessageDeletedParams, MessageEditedParams, MessageParams, PairingRequiredParams,
    ReactionParams, RoomWire,
};

/// The drop reason for events that arrive after the account went fatal.
pub(crate) const AFTER_FATAL: &str = "account-fatal";

/// What the bridge does with one inbound event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Send a `message` notification (admitted).
    Message(Box<MessageParams>),
    /// Send a `pairingRequired` notification.
    Pairing(PairingRequiredParams),
    /// Send a `reaction` notification.
    Reaction(ReactionParams),
    /// Send a `messageEdited` notification.
    Edited(MessageEditedParams),
    /// Send a `messageDeleted` notification.
    Deleted(MessageDeletedParams),
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

/// The channel semantics of one account.
#[derive(Debug)]
pub(crate) struct Semantics {
    account: AccountId,
    bot: UserId,
    config: ChannelConfig,
}

impl Semantics {
    /// Parses the policy keys of the configuration line.
    pub(crate) fn new(config: &AccountConfig, identity: &Identity) -> Self {
        Self {
            account: config.account_id().clone(),
            bot: identity.user_id.clone(),
            config: config.channel().clone(),
        }
    }

    /// The account this bridge serves.
    pub(crate) fn account(&self) -> &AccountId {
        &self.account
    }

    /// The policy configuration.
    pub(crate) fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// The conversation id of a room, or of a thread in it.
    pub(crate) fn conversation_id(
        &self,
        kind: RoomKind,
        room: &RoomId,
        thread: Option<&MessageId>,
    ) -> String {
        match ConversationId::new(self.account.clone(), kind, room.clone(), thread.cloned()) {
            Ok(id) => id.to_string(),
            // Only ids with ':' fail; keep the grammar's shape so the plugin can still route.
            Err(e) => {
                tracing::warn!(error = %e, "a conversation id component is not representable");
                format!(
                    "rocketchat:{}:{}:{}",
                    self.account,
                    kind.chat_type(),
                    room.as_str().replace(':', "_")
                )
            }
        }
    }

    /// Decides what to do with one event (never called with connection state changes).
    pub(crate) fn classify(&self, event: &Event, approved: &HashSet<UserId>) -> Inbound {
        let _ = (approved, &self.bot, &event);
        // PENDING(channel-api policy): wired in when `channel_api::policy` lands.
        Inbound::Drop("policy-pending".into())
    }

    /// Splits outbound text into chunks that fit both `textChunkLimit` and the backend's
    /// limit (0 = no backend limit).
    pub(crate) fn chunk(&self, text: &str, backend_max: usize) -> Vec<String> {
        let _limit = match backend_max {
            0 => self.config.text_chunk_limit,
            max => self.config.text_chunk_limit.min(max),
        };
        // PENDING(channel-api chunk): wired in when `channel_api::chunk` lands.
        if text.trim().is_empty() {
            Vec::new()
        } else {
            vec![text.to_owned()]
        }
    }

    /// The reply plan for an admitted message.
    pub(crate) fn reply_plan(&self, message: &Message) -> ReplyPlan {
        threading::plan_reply(&self.config, message)
    }

    /// The room as the wire shows it.
    pub(crate) fn room_wire(room: &channel_api::RoomInfo) -> RoomWire {
        RoomWire::from(room)
    }
}
