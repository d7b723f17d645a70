//! The backend-neutral chat channel contract, and OpenClaw's channel semantics.
//!
//! This crate does no IO. Backends (`backend-mock` and the real ones) implement
//! [`Channel`]; the bridge drives a `Channel` and applies the semantics below.
//!
//! # Layout
//! - [`ids`]: typed, case-preserving ids (account, room, user, message).
//! - [`model`]: messages, authors, mentions, reactions, outbound requests, capabilities.
//! - [`event`]: the non-exhaustive [`Event`] and the [`ConnectionState`] machine.
//! - [`error`]: the semantic [`Error`], which says what is retryable and what is fatal.
//! - [`channel`]: the [`Channel`] trait and the [`ChannelExt`] conveniences.
//! - [`config`]: the OpenClaw channel configuration (Slack's keys and defaults).
//! - [`policy`]: who may talk to the bot, where, and when a mention is needed.
//! - [`command`]: the `!` commands (`!status`, `!help`, `!model <name>`, `!stop`, `!new`,
//!   `!reset`, ...) and who may run them.
//! - [`threading`]: where a reply goes (`replyToMode`).
//! - [`session`]: the conversation-id grammar behind `resolveSessionConversation`, in the
//!   namespace the host passes.
//! - [`target`]: what a host may name as the place to send to (conversation ids, room ids,
//!   `#room`, `@user`).
//! - [`resume`]: the [`ResumePoint`] a host hands a backend after a restart.
//! - [`chunk`]: splitting long replies to the server's size limit.
//!
//! # Features
//! | feature | what it adds |
//! |---|---|
//! | `mock` | `MockChannel`, a mockall mock of [`Channel`] for interaction tests |

pub mod backoff;
pub mod bot_loop;
pub mod channel;
pub mod chunk;
pub mod command;
pub mod config;
pub mod error;
pub mod event;
pub mod ids;
pub mod model;
pub mod policy;
pub mod resume;
pub mod session;
pub mod target;
pub mod threading;

#[cfg(feature = "mock")]
pub use channel::MockChannel;
pub use channel::{Channel, ChannelExt};
pub use error::{Error, Result};
pub use event::{ConnectionState, Event, EventStream, FatalCause, Phase, RoomEventKind, RoomUser};
pub use ids::{AccountId, MessageId, RoomId, UserId};
pub use model::{
    Attachment, Author, Capabilities, ChatType, HistoryQuery, Identity, Mention, Message,
    MessageRef, OutboundFile, OutboundMessage, ProbeReport, Reaction, RoomInfo, RoomKind,
    RoomQuery, SenderIdentity, SentMessage, TextLimit, TextUnit, Timestamp, UserQuery,
};
pub use resume::ResumePoint;
pub use session::{ConversationId, Namespace};
pub use target::Target;
